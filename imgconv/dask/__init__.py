"""The dask backend: imgconv's functions on arrays larger than memory.

A ``dask.array.Array`` input (``backend='auto'``), or a numpy one with
``backend='dask'`` and ``chunks=``, gives a lazy dask array computed chunk
by chunk by the CPU kernels (CUDA ones for CuPy-backed chunks), with halos
that make the result equal the in-memory one exactly.  See
:mod:`imgconv.dask._backend` and the user guide's "Large volumes with dask".

Importing :mod:`imgconv` never imports this package or dask.
"""
from ._backend import DaskBackend, load_backend

__all__ = ["DaskBackend", "load_backend"]

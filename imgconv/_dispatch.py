"""Where a call goes: the compiled kernel module for this CPU, and the backend
for the array type.  Later backends (CUDA through CuPy, dask) plug in at
:func:`select_backend`; nothing here imports them."""
import os

from ._compiled import NotBuiltError, load

_openmp = load("_openmp")

if _openmp.cpu_has_avx2_fma() and not os.environ.get("IMGCONV_DISABLE_AVX2"):
    try:
        kernels = load("_kernels_avx2")
    except NotBuiltError:  # built without the AVX2 variant (non-x86 or no -mavx2)
        kernels = load("_kernels_baseline")
else:
    kernels = load("_kernels_baseline")

KERNEL_VARIANT = kernels.__name__.rsplit("_", 1)[-1]

BACKENDS = ("auto", "cpu", "cuda", "dask")


def _array_library(x):
    module = type(x).__module__.split(".", 1)[0]
    return module if module in ("cupy", "dask") else "numpy"


def select_backend(x, backend):
    """Name of the backend that runs ``x``: ``'cpu'`` in this version.

    ``backend='auto'`` follows the array type (numpy -> cpu).  Backends that
    this version does not provide raise a clear error instead of silently
    falling back to the CPU.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    library = _array_library(x)
    if backend == "auto":
        backend = {"numpy": "cpu", "cupy": "cuda", "dask": "dask"}[library]
    if backend != "cpu":
        raise NotImplementedError(
            f"backend={backend!r} is not available in this version of imgconv "
            "(only the CPU backend is); pass a numpy array"
        )
    if library != "numpy":
        raise TypeError(f"backend='cpu' needs a numpy array, got a {library} array")
    return backend

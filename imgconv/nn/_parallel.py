"""Threads for imgconv.nn's matrix products and copies.

The layer's work is im2col copies (numpy) and matrix products (numpy's
BLAS), block by block.  Left to itself, numpy's BLAS threads each product
and the copies run on one core; on a busy machine BLAS's spinning threads
also lose their time slices (measured on the 2-core development machine
under load: a 2-thread BLAS made conv2d 2-5x slower than one thread).  So
the layer runs its blocks on a pool of Python threads, each calling a
single-threaded BLAS: numpy releases the GIL in both the copies and the
products, and every step of a block runs in parallel.

OpenBLAS (numpy's wheels on Linux and Windows) lets a thread set its own
BLAS thread count (``openblas_set_num_threads_local``, OpenBLAS 0.3.27 and
later), which leaves the rest of the process as it was.  Where numpy's BLAS
offers no such call (Accelerate, MKL, older OpenBLAS), the blocks run in the
calling thread and BLAS threads each product as it is configured.

Thread counts come from imgconv's one rule (:func:`imgconv._threads.resolve_threads`:
``set_num_threads``, ``IMGCONV_NUM_THREADS``, the cores).
"""
import ctypes
import glob
import itertools
import os
import threading

import numpy as np

from .._threads import KeptThreadPool, resolve_threads

_local_threads = None       # openblas_set_num_threads_local, or False where missing


def _numpy_openblas():
    """numpy's own OpenBLAS library (the copy in numpy.libs or .dylibs that
    numpy loaded), or None."""
    root = os.path.dirname(os.path.dirname(np.__file__))
    folder = os.path.dirname(np.__file__)
    for pattern in (os.path.join(root, "numpy.libs", "*openblas*"),
                    os.path.join(folder, ".dylibs", "*openblas*")):
        for path in sorted(glob.glob(pattern)):
            try:
                return ctypes.CDLL(path)
            except OSError:
                continue
    return None


def blas_thread_setter():
    """``openblas_set_num_threads_local`` of numpy's BLAS (sets the calling
    thread's BLAS threads, returns the previous count), or None."""
    global _local_threads
    if _local_threads is None:
        library = _numpy_openblas()
        setter = getattr(library, "openblas_set_num_threads_local", None) if library else None
        if setter is not None:
            setter.argtypes = [ctypes.c_int]
            setter.restype = ctypes.c_int
        _local_threads = setter or False
    return _local_threads or None


def _one_blas_thread():
    blas_thread_setter()(1)


#: the layer's threads, each running numpy's BLAS on one thread
_worker_pool = KeptThreadPool("imgconv-nn", initializer=_one_blas_thread)


def thread_count(work):
    """Threads for ``work`` multiply-adds (imgconv's rule; 1 where numpy's
    BLAS cannot be kept to one thread per worker)."""
    if blas_thread_setter() is None:
        return 1
    return resolve_threads(None, work)


def split(count, parts):
    """``range(count)`` in ``parts`` contiguous, near-equal ranges (none empty,
    but for ``count = 0``: one empty range)."""
    parts = max(1, min(parts, count))
    edges = [count * i // parts for i in range(parts + 1)]
    return [range(a, b) for a, b in zip(edges, edges[1:])]


def run(tasks):
    """Call every task (no arguments), in parallel on the pool where there
    are several, and return their results in order.  A single task runs in
    the calling thread, with its BLAS kept to one thread too (the count
    asked for was one)."""
    if len(tasks) == 1:
        setter = blas_thread_setter()
        if setter is None:
            return [tasks[0]()]
        previous = setter(1)
        try:
            return [tasks[0]()]
        finally:
            setter(previous)
    futures = [_worker_pool.get(len(tasks)).submit(task) for task in tasks]
    return [future.result() for future in futures]


def dynamic(count, threads, make_worker):
    """``[worker(i) for i in range(count)]``, shared among ``threads``
    threads: each makes its worker once (``make_worker()``, which may hold
    the thread's buffers) and takes the next index when it finishes one, so
    a thread the OS holds back (a busy machine) does not hold up the call."""
    results = [None] * count
    counter = itertools.count()
    take = threading.Lock()

    def thread():
        worker = make_worker()
        while True:
            with take:
                i = next(counter)
            if i >= count:
                return
            results[i] = worker(i)

    run([thread] * max(1, min(threads, count)))
    return results


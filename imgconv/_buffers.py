"""Where imgconv's results and intermediate arrays come from: a pool that
keeps large freed arrays for the next call (see ``pyx/_buffer_pool.pyx``).

A fresh large array costs the operating system a page fault and a page
clear per page on first touch (about 5 ms per 64 MiB); a reused block
costs nothing.  The pool holds at most a limit of bytes (by default 512 MiB,
or a sixteenth of the memory this process may use if that is less) in at
most 16 blocks; the oldest go first, and so do blocks that 32 allocations
passed by without reusing.  Beside them it keeps the kernels' per-thread
scratch blocks (64 KiB and more, at most 64 MiB of them within the same
limit): malloc's per-thread arenas gave that memory back to the system after
every call, which then faulted it in and cleared it again on the next.
"""
import os
import re
import warnings

from . import _validate
from ._compiled import load

_buffer_pool = load("_buffer_pool")

__all__ = ["set_buffer_pool_limit", "get_buffer_pool_limit", "free_buffer_pool", "empty"]

_ENV_VAR = "IMGCONV_BUFFER_POOL_LIMIT"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


_DEFAULT_LIMIT = 512 << 20
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def _usable_memory():
    """The memory this process may use: the machine's, or less where a
    container (cgroup) or an address-space limit says so; None if unknown."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        pass
    for path in _CGROUP_LIMITS:
        try:
            with open(path) as f:
                limits.append(int(f.read()))
        except (OSError, ValueError):   # absent, or "max"
            pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    except (ImportError, OSError, ValueError):
        pass
    return min(limits) if limits else None


def _parse_size(text):
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]?)(?:I?B)?\s*", text,
                         re.IGNORECASE)
    if match is None:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def _default_limit():
    env = os.environ.get(_ENV_VAR, "").strip()
    if env:
        limit = _parse_size(env)
        if limit is not None:
            return limit
        # a typo in the environment must not take every filter down with it
        warnings.warn(f"ignoring {_ENV_VAR}={env!r}: not a number of bytes such as 0, "
                      "268435456, 256M or 1.5G", RuntimeWarning, stacklevel=3)
    memory = _usable_memory()
    return _DEFAULT_LIMIT if memory is None else min(_DEFAULT_LIMIT, memory // 16)


def set_buffer_pool_limit(nbytes):
    """Set how many bytes of freed imgconv results are kept for reuse.

    Large arrays that imgconv allocates (results and intermediates) go back
    to a pool when they are freed, and the next call that needs an array of
    about the same size reuses one instead of asking the operating system
    for fresh pages, which it must fault in and clear (about 5 ms per
    256**3 float32 volume, as long as a 3x3x3 filter of it).  Blocks under
    64 KiB are not pooled; at most 16 are held, the oldest dropped first, and
    so are blocks that 32 allocations passed by.  The kernels' scratch
    (a few rows or planes per thread) is kept the same way, at most the
    lesser of the limit and 64 MiB of it.  When memory runs out, the
    pool frees what it holds before an allocation fails; call
    :func:`free_buffer_pool` to hand it back sooner.  The pool is per
    process, and it is not used while another numpy allocator (a
    ``PyDataMem_SetHandler`` of your own) is in place.  The arrays are
    ordinary numpy arrays that own their data.

    Parameters
    ----------
    nbytes : int or None
        The most bytes of arrays the pool holds (>= 0); 0 turns it off and
        frees what it holds, scratch included.  ``None`` restores the default: the
        ``IMGCONV_BUFFER_POOL_LIMIT`` environment variable (bytes, or with a
        K/M/G suffix such as ``1.5G``; a value that is neither is ignored
        with a warning), else 512 MiB, or a sixteenth of the memory the
        process may use (its container's limit included) if that is less.

    Examples
    --------
    >>> import imgconv as ic
    >>> ic.set_buffer_pool_limit(256 * 2**20)
    >>> ic.get_buffer_pool_limit()
    268435456
    >>> ic.set_buffer_pool_limit(None)
    """
    if nbytes is None:
        limit = _default_limit()
    else:
        limit = _validate.as_int(nbytes, "nbytes", "a number of bytes or None")
        if limit < 0:
            raise ValueError(f"nbytes must be >= 0, got {limit}")
    _buffer_pool.set_limit(min(limit, 2**63 - 1))


def get_buffer_pool_limit():
    """The most bytes of freed arrays the pool keeps (0: no pool).

    Examples
    --------
    >>> import imgconv as ic
    >>> ic.get_buffer_pool_limit() >= 0
    True
    """
    return _buffer_pool.get_limit()


def free_buffer_pool():
    """Free the arrays and kernel scratch the pool holds now, and the
    kernel spectra the FFT method keeps for repeated calls; returns how many
    bytes that was.

    The limit stays: later calls fill the pool again.

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> ic.box(np.ones((512, 512)), 3).shape   # a 2 MiB result, freed at once
    (512, 512)
    >>> ic.free_buffer_pool() >= 0
    True
    """
    from . import _fft   # here: the FFT path uses the pool, not the other way round
    return _buffer_pool.release_all() + _fft.forget_spectra()


#: Arrays smaller than this are never pooled: ``empty`` gives them ``np.empty``.
MIN_POOLED_BYTES = _buffer_pool.min_pooled_bytes


def empty(shape, dtype, away_from=None):
    """An uninitialised array from the pool (np.empty when it is off).  A
    large one starts half a page from where the array ``away_from`` starts
    in its page: a filter's output placed so is faster to write while its
    input is read (their rows fall into other cache sets)."""
    return _buffer_pool.empty(shape, dtype, away_from)


set_buffer_pool_limit(None)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_buffer_pool.reset_lock_after_fork)

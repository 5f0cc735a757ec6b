"""How much memory a read may use, checked from a file's header before any
pixel is decoded."""
import math
import os

from ._common import _Unreadable


def _available_memory():
    """Bytes of memory a read may use: Linux's MemAvailable, else the
    physical memory; None when neither is known."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _check_fits(path, shape, itemsize, copies=1):
    """Refuse a file whose decoded array (``shape`` of ``itemsize``-byte items,
    from its header) would not fit in memory, ``copies`` times over (a reader
    may hold several at once).  A forged header claiming 100000 x 100000
    pixels thus fails here, before anything is allocated."""
    nbytes = math.prod(int(n) for n in shape) * itemsize
    available = _available_memory()
    if available is not None and copies * nbytes > available:
        size = " x ".join(str(int(n)) for n in shape)
        needs = f"{copies} x {nbytes / 2**30:.1f}" if copies > 1 else f"{nbytes / 2**30:.1f}"
        raise _Unreadable(f"{path}: too large to read: its {size} array needs {needs} GiB "
                          f"of memory, and {available / 2**30:.1f} GiB is available")

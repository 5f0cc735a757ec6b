"""NumPy ``.npy`` files."""
import math
import os

import numpy as np

from ._common import _decoding
from ._memory import _check_fits
from ._meta import ImageMeta


#: .npy files at least this large are memory-mapped (read-only) by default
MMAP_THRESHOLD = 64 << 20


def _read_npy(path, mmap):
    if mmap is None:
        mmap = os.path.getsize(path) >= MMAP_THRESHOLD
    with _decoding(path, ".npy file"):
        shape, _, dtype, offset = npy_layout(path)
        if dtype is None:
            shape, dtype, offset = (), np.dtype(np.uint8), 0
        if not mmap:
            _check_fits(path, shape, dtype.itemsize)
        declared = math.prod(shape) * dtype.itemsize
        held = os.path.getsize(path) - offset
        if held < declared:
            raise ValueError(f"truncated: its header declares {declared} bytes of data and the "
                             f"file holds {held}")
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    return array, ImageMeta()


def npy_layout(path):
    """``(shape, fortran_order, dtype, data offset)`` from a ``.npy`` header,
    so that what the data need is known before numpy allocates it (a forged
    shape would otherwise fail as a bare MemoryError); dtype None for a
    header version numpy has no public reader of (3.0, utf-8 field names:
    numpy.load checks those)."""
    fmt = np.lib.format
    with open(path, "rb") as f:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            return None, None, None, None
        return shape, fortran, dtype, f.tell()


def _npy_encoder(array):
    def encode(target):
        with open(target, "wb") as f:
            np.save(f, array, allow_pickle=False)
    return encode

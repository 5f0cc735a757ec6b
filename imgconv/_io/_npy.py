"""NumPy ``.npy`` files."""
import os

import numpy as np

from ._common import _decoding
from ._meta import ImageMeta


#: .npy files at least this large are memory-mapped (read-only) by default
MMAP_THRESHOLD = 64 << 20


def _read_npy(path, mmap):
    if mmap is None:
        mmap = os.path.getsize(path) >= MMAP_THRESHOLD
    with _decoding(path, ".npy file"):
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{path}: holds several arrays, not one")
    return array, ImageMeta()


def _npy_encoder(array):
    def encode(target):
        with open(target, "wb") as f:
            np.save(f, array, allow_pickle=False)
    return encode

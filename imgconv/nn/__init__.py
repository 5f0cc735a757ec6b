"""imgconv.nn: deep-learning layers with ``torch.nn.functional``'s names,
arguments and results, on numpy arrays in (N, C, *spatial) layout.

Examples
--------
>>> import numpy as np
>>> from imgconv import nn
>>> x = np.random.default_rng(0).random((2, 3, 8, 8), dtype=np.float32)
>>> nn.max_pool2d(x, 2).shape
(2, 3, 4, 4)
"""
from ._fold import fold, unfold
from ._pool import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d,
                    adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d, avg_pool1d,
                    avg_pool2d, avg_pool3d, lp_pool1d, lp_pool2d, lp_pool3d, max_pool1d,
                    max_pool2d, max_pool3d)

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d",
    "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "lp_pool1d", "lp_pool2d", "lp_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "unfold", "fold",
]

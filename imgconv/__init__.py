"""imgconv: fast 2D/3D image and volume filtering (Cython + OpenMP).

Examples
--------
>>> import numpy as np, imgconv as ic
>>> img = np.random.default_rng(0).random((64, 64), dtype=np.float32)
>>> ic.correlate(img, np.ones((3, 3)) / 9).shape
(64, 64)
"""
from ._convolve import convolve, correlate
from ._filters import (box, convolve1d, correlate1d, gaussian, gradient_magnitude, laplace,
                       prewitt, scharr, sepfilter, sobel)
from ._io import read, write
from ._threads import get_num_threads, openmp_enabled, set_num_threads

__version__ = "0.1.0"

__all__ = ["correlate", "convolve", "correlate1d", "convolve1d", "sepfilter", "gaussian", "box",
           "sobel", "prewitt", "scharr", "laplace", "gradient_magnitude", "set_num_threads", "get_num_threads", "openmp_enabled",
           "read", "write", "__version__"]

"""imgconv.nn: deep-learning convolution and pooling on numpy arrays, with
``torch.nn.functional``'s names, arguments and results, on imgconv's CPU
kernels and numpy's BLAS; torch is not needed.

Layout ``(N, C, *spatial)`` (unbatched ``(C, *spatial)`` too), weights as
torch holds them.  The names are imported on first use.

Examples
--------
>>> import numpy as np
>>> from imgconv import nn
>>> x = np.random.default_rng(0).standard_normal((2, 3, 16, 16), dtype=np.float32)
>>> w = np.ones((4, 3, 3, 3), dtype=np.float32)
>>> nn.conv2d(x, w, padding=1).shape
(2, 4, 16, 16)
>>> nn.max_pool2d(x, 2).shape
(2, 3, 8, 8)
"""
from .. import _lazy_exports

# public name -> the module that defines it (imported on first access)
_EXPORTS = {
    "conv1d": "._conv", "conv2d": "._conv", "conv3d": "._conv",
    "conv_transpose1d": "._conv", "conv_transpose2d": "._conv", "conv_transpose3d": "._conv",
    "depthwise_separable": "._conv",
    "conv_output_shape": "._geometry", "conv_transpose_output_shape": "._geometry",
    "receptive_field": "._geometry", "ReceptiveField": "._geometry",
    "grad": ".grad",   # a submodule, as torch.nn.grad
    **{f"{op}_pool{rank}d": "._pool" for op in ("max", "avg", "lp") for rank in (1, 2, 3)},
    **{f"adaptive_{op}_pool{rank}d": "._pool" for op in ("avg", "max") for rank in (1, 2, 3)},
    "unfold": "._fold", "fold": "._fold",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS, globals())

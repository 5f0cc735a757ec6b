"""The CPU backend: numpy arrays through the compiled kernels.

Every function takes arguments that ``imgconv._validate`` has already
normalised.  Arrays of any rank run as (batch, depth, height, width) views:
channels become the batch axis and missing spatial axes get length 1.
"""
import numpy as np

from . import _validate as v
from ._dispatch import kernels
from ._threads import resolve_threads


def as_4d(a, inp):
    """(batch, depth, height, width) view of ``a``, laid out like ``inp.x``."""
    a = a[np.newaxis] if inp.channel_axis is None else np.moveaxis(a, inp.channel_axis, 0)
    return a.reshape(a.shape[:1] + (1,) * (3 - inp.rank) + a.shape[1:]) if inp.rank < 3 else a


def _as_3(values, fill, rank):
    return (fill,) * (3 - rank) + tuple(values)


def _merged_planes(a):
    """(B, 1, D, H*W) view of a (B, D, H, W) view, or None if it needs a copy."""
    if a.strides[2] != a.shape[3] * a.strides[3]:
        return None
    return np.lib.stride_tricks.as_strided(
        a, (a.shape[0], 1, a.shape[1], a.shape[2] * a.shape[3]),
        (a.strides[0], 0, a.strides[1], a.strides[3]))


_NO_X_KERNEL = {np.dtype(np.float32): np.zeros(0, np.float32),
                np.dtype(np.float64): np.zeros(0, np.float64)}


def correlate(inp, x, weights, pad_lo, stride, dilation, cval, out, threads, xweights=None):
    """Direct correlation of ``x`` (``inp.x`` or an intermediate of the same
    layout) with compute-typed ``weights`` into ``out``.

    ``xweights``: a 1D kernel along the last spatial axis applied in the same
    sweep (``weights`` then has length 1 on that axis): the outer product of
    the two, without an intermediate array.
    """
    rank = inp.rank
    x4, out4 = as_4d(x, inp), as_4d(out, inp)
    weights3 = weights.reshape(_as_3(weights.shape, 1, rank))
    stride3, dilation3 = _as_3(stride, 1, rank), _as_3(dilation, 1, rank)
    pad3 = _as_3(pad_lo, 0, rank)
    if (xweights is None and weights3.shape[1:] == (1, 1) and weights3.shape[0] > 1
            and stride3[1:] == (1, 1) and pad3[1:] == (0, 0)):
        # A pass along depth only: each plane is one long row, so the kernel
        # sweeps H*W-wide rows instead of many short ones.
        merged_x, merged_out = _merged_planes(x4), _merged_planes(out4)
        if merged_x is not None and merged_out is not None:
            x4, out4 = merged_x, merged_out
            weights3 = weights3.reshape(1, -1, 1)
            stride3, dilation3, pad3 = ((1, stride3[0], 1), (1, dilation3[0], 1),
                                        (0, pad3[0], 0))
    taps = np.count_nonzero(weights) + (0 if xweights is None else np.count_nonzero(xweights))
    nthreads = resolve_threads(threads, work=out.size * max(1, taps))
    xweights = _NO_X_KERNEL[weights.dtype] if xweights is None else xweights
    kernels.correlate(x4, out4, weights3, xweights, stride3, dilation3, pad3, inp.code, cval,
                      v.DTYPE_CODES[x.dtype], v.DTYPE_CODES[out.dtype], nthreads)
    return out


def box_pass(inp, x, axis, size, pad_lo, out, threads):
    """Mean over ``size`` samples along spatial axis ``axis`` by running sums."""
    x4, out4 = as_4d(x, inp), as_4d(out, inp)
    nthreads = resolve_threads(threads, work=out.size * 4)
    kernels.box_pass(x4, out4, 4 - inp.rank + axis, size, pad_lo, inp.code, inp.cval,
                     v.DTYPE_CODES[x.dtype], v.DTYPE_CODES[out.dtype], nthreads)
    return out

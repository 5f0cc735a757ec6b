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
    """(batch, depth, height, width) views of ``a``, laid out like ``inp.x``:
    the batch axes (channels, unfiltered axes) merged into one where their
    strides allow, else one view per index of the leading batch axis."""
    batch = inp.batch_axes
    a = np.moveaxis(a, batch + inp.axes, range(a.ndim))
    views = [a]
    while views[0].ndim - inp.rank > 1:
        head = views[0]
        if head.strides[0] == head.shape[1] * head.strides[1]:
            views = [np.lib.stride_tricks.as_strided(
                v, (v.shape[0] * v.shape[1],) + v.shape[2:], v.strides[1:]) for v in views]
        else:
            views = [v[i] for v in views for i in range(v.shape[0])]
    views = [v if v.ndim > inp.rank else v[np.newaxis] for v in views]
    return [v.reshape(v.shape[:1] + (1,) * (3 - inp.rank) + v.shape[1:]) for v in views]


def _pairs(x, out, inp):
    """Matching 4D views of ``x`` and ``out``; one pair per batch entry when
    their batch axes do not merge alike."""
    xs, outs = as_4d(x, inp), as_4d(out, inp)
    if len(xs) == 1 and len(outs) == 1:
        return [(xs[0], outs[0])]
    explode = lambda views: [v[i:i + 1] for v in views for i in range(v.shape[0])]
    return list(zip(explode(xs), explode(outs)))


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
    taps = np.count_nonzero(weights) + (0 if xweights is None else np.count_nonzero(xweights))
    nthreads = resolve_threads(threads, work=out.size * max(1, taps))
    xweights = _NO_X_KERNEL[weights.dtype] if xweights is None else xweights
    for x4, out4 in _pairs(x, out, inp):
        weights3 = weights.reshape(_as_3(weights.shape, 1, rank))
        stride3, dilation3 = _as_3(stride, 1, rank), _as_3(dilation, 1, rank)
        pad3 = _as_3(pad_lo, 0, rank)
        if (xweights.size == 0 and weights3.shape[1:] == (1, 1) and weights3.shape[0] > 1
                and stride3[1:] == (1, 1) and pad3[1:] == (0, 0)):
            # A pass along depth only: each plane is one long row, so the kernel
            # sweeps H*W-wide rows instead of many short ones.
            merged_x, merged_out = _merged_planes(x4), _merged_planes(out4)
            if merged_x is not None and merged_out is not None:
                x4, out4 = merged_x, merged_out
                weights3 = weights3.reshape(1, -1, 1)
                stride3, dilation3, pad3 = ((1, stride3[0], 1), (1, dilation3[0], 1),
                                            (0, pad3[0], 0))
        kernels.correlate(x4, out4, weights3, xweights, stride3, dilation3, pad3, inp.code,
                          cval, v.DTYPE_CODES[x.dtype], v.DTYPE_CODES[out.dtype], nthreads)
    return out


def box_pass(inp, x, axis, size, pad_lo, out, threads):
    """Mean over ``size`` samples along spatial axis ``axis`` by running sums."""
    nthreads = resolve_threads(threads, work=out.size * 4)
    for x4, out4 in _pairs(x, out, inp):
        kernels.box_pass(x4, out4, 4 - inp.rank + axis, size, pad_lo, inp.code, inp.cval,
                         v.DTYPE_CODES[x.dtype], v.DTYPE_CODES[out.dtype], nthreads)
    return out

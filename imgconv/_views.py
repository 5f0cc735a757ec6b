"""(batch, depth, height, width) views of arrays of any rank, shared by
every backend that runs the kernels' 4D interface (``imgconv._backend``).

The helpers only reshape, move axes and re-stride, through the array
namespace ``xp`` they are given (numpy, or cupy, which has the same
``moveaxis``, ``reshape`` and ``lib.stride_tricks.as_strided``): they never
copy, and never read the data.  ``inp`` is the call's
``_validate.FilterInput``: only its axes are used.
"""
import numpy as np

IN_ORDER = {n: tuple(range(n)) for n in (1, 2, 3)}
UNIT_AXES = {n: (1,) * (4 - n) for n in (1, 2, 3)}


def single_view(a, inp):
    """The one 4D view of ``a`` when it has no batch axis and its axes come
    in order (the common case, at a fraction of as_4d's cost), else None."""
    if a.ndim == len(inp.axes) and inp.axes == IN_ORDER[a.ndim]:
        return a.reshape(UNIT_AXES[a.ndim] + a.shape)
    return None


def as_4d(a, inp, xp=np):
    """(batch, depth, height, width) views of ``a``, laid out like ``inp.x``:
    the batch axes (channels, unfiltered axes) merged into one where their
    strides allow, else one view per index of the leading batch axis."""
    view = single_view(a, inp)
    if view is not None:
        return [view]
    order = inp.batch_axes + inp.axes
    if order != tuple(range(a.ndim)):
        a = xp.moveaxis(a, order, range(a.ndim))
    views = [a]
    while views[0].ndim - inp.rank > 1:
        head = views[0]
        if head.strides[0] == head.shape[1] * head.strides[1]:
            views = [xp.lib.stride_tricks.as_strided(
                v, (v.shape[0] * v.shape[1],) + v.shape[2:], v.strides[1:]) for v in views]
        else:
            views = [v[i] for v in views for i in range(v.shape[0])]
    views = [v if v.ndim > inp.rank else v[None] for v in views]
    return [v.reshape(v.shape[:1] + (1,) * (3 - inp.rank) + v.shape[1:]) for v in views]


def pairs(inp, *arrays, xp=np):
    """Matching 4D views of ``arrays`` (laid out like ``inp.x``); one tuple
    per batch entry when their batch axes do not merge alike."""
    single = [single_view(a, inp) for a in arrays]
    if all(view is not None for view in single):
        return [tuple(single)]
    views = [as_4d(a, inp, xp) for a in arrays]
    if all(len(v) == 1 for v in views):
        return [tuple(v[0] for v in views)]
    explode = lambda vs: [v[i:i + 1] for v in vs for i in range(v.shape[0])]
    return list(zip(*(explode(v) for v in views)))


def as_3(values, fill, rank):
    """Per-axis ``values`` of ``rank`` spatial axes as (depth, height, width)
    values, the missing leading axes filled with ``fill``."""
    return (fill,) * (3 - rank) + tuple(values)


def merged_planes(a, xp=np):
    """(B, 1, D, H*W) view of a (B, D, H, W) view, or None if it needs a copy."""
    if a.strides[2] != a.shape[3] * a.strides[3]:
        return None
    return xp.lib.stride_tricks.as_strided(
        a, (a.shape[0], 1, a.shape[1], a.shape[2] * a.shape[3]),
        (a.strides[0], 0, a.strides[1], a.strides[3]))

"""The CPU backend: numpy arrays through the compiled kernels.

Every function takes arguments that ``imgconv._validate`` has already
normalised.  Arrays of any rank run as (batch, depth, height, width) views:
channels become the batch axis and missing spatial axes get length 1.
"""
import math
from typing import NamedTuple

import numpy as np

from . import _validate as v
from ._buffers import MIN_POOLED_BYTES, empty
from ._dispatch import kernels
from ._threads import resolve_threads


_IN_ORDER = {n: tuple(range(n)) for n in (1, 2, 3)}
_UNIT_AXES = {n: (1,) * (4 - n) for n in (1, 2, 3)}


def _single_view(a, inp):
    """The one 4D view of ``a`` when it has no batch axis and its axes come
    in order (the common case, at a fraction of as_4d's cost), else None."""
    if a.ndim == len(inp.axes) and inp.axes == _IN_ORDER[a.ndim]:
        return a.reshape(_UNIT_AXES[a.ndim] + a.shape)
    return None


def as_4d(a, inp):
    """(batch, depth, height, width) views of ``a``, laid out like ``inp.x``:
    the batch axes (channels, unfiltered axes) merged into one where their
    strides allow, else one view per index of the leading batch axis."""
    view = _single_view(a, inp)
    if view is not None:
        return [view]
    order = inp.batch_axes + inp.axes
    if order != tuple(range(a.ndim)):
        a = np.moveaxis(a, order, range(a.ndim))
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


def _pairs(inp, *arrays):
    """Matching 4D views of ``arrays`` (laid out like ``inp.x``); one tuple
    per batch entry when their batch axes do not merge alike."""
    single = [_single_view(a, inp) for a in arrays]
    if all(view is not None for view in single):
        return [tuple(single)]
    views = [as_4d(a, inp) for a in arrays]
    if all(len(v) == 1 for v in views):
        return [tuple(v[0] for v in views)]
    explode = lambda vs: [v[i:i + 1] for v in vs for i in range(v.shape[0])]
    return list(zip(*(explode(v) for v in views)))


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
    weights3 = weights.reshape(_as_3(weights.shape, 1, rank))
    stride3, dilation3 = _as_3(stride, 1, rank), _as_3(dilation, 1, rank)
    pad3 = _as_3(pad_lo, 0, rank)
    depth_only = _depth_only(weights3, xweights.size > 0, stride3, pad3)
    for x4, out4 in _pairs(inp, x, out):
        if depth_only and out4.shape[2:] == x4.shape[2:]:
            # A pass along depth only, no padding across the planes: each plane
            # is one long row, so the kernel sweeps H*W-wide rows instead of
            # many short ones.
            merged_x, merged_out = _merged_planes(x4), _merged_planes(out4)
            if merged_x is not None and merged_out is not None:
                kernels.correlate(merged_x, merged_out, weights3.reshape(1, -1, 1), xweights,
                                  (1, stride3[0], 1), (1, dilation3[0], 1), (0, pad3[0], 0),
                                  inp.code, cval, v.DTYPE_CODES[x.dtype],
                                  v.DTYPE_CODES[out.dtype], nthreads)
                continue
        kernels.correlate(x4, out4, weights3, xweights, stride3, dilation3, pad3, inp.code,
                          cval, v.DTYPE_CODES[x.dtype], v.DTYPE_CODES[out.dtype], nthreads)
    return out


def _depth_only(weights3, has_x_kernel, stride3, pad3):
    """A kernel along depth only, without stride or padding across the
    planes: where the planes are contiguous, :func:`correlate` sweeps each
    plane as one long row instead of many short ones."""
    return (not has_x_kernel and weights3.shape[1:] == (1, 1) and weights3.shape[0] > 1
            and stride3[1:] == (1, 1) and pad3[1:] == (0, 0))


def _new_result(shape, dtype, pooled, away_from):
    """A new result array: from the pool when ``pooled`` (see :func:`_pooled`),
    else straight from np.empty, which is what the pool would give it."""
    return empty(shape, dtype, away_from) if pooled else np.empty(shape, dtype)


class DirectCall(NamedTuple):
    """The arguments of :func:`correlate`'s one kernel call, all but the
    arrays and the thread count, for inputs of one layout: a plan keeps it,
    so a repeated call goes straight to the kernel (:func:`run_direct`).
    At 16² the steps it skips (4D views, tap counts, per-axis tuples, dtype
    codes) cost more than the kernel itself."""

    x_shape: tuple          # the 4D view of the input
    out_shape: tuple        # ... and of the output (C-contiguous, from empty)
    weights: np.ndarray
    xweights: np.ndarray
    stride: tuple
    dilation: tuple
    pad_lo: tuple
    mode: int
    cval: float
    in_code: int
    out_code: int
    work: int
    shape: tuple            # the result's shape
    dtype: np.dtype         # ... and dtype
    pooled: bool            # whether the result may come from the pool (see _pooled)


def _pooled(shape, dtype):
    """Whether a new array of ``shape`` and ``dtype`` may come from the
    pool; else ``empty`` would hand it np.empty's, which the prepared calls
    then take directly (saving empty's checks, ~0.4 us of a 16² call)."""
    return math.prod(shape) * np.dtype(dtype).itemsize >= MIN_POOLED_BYTES


def prepare_direct(inp, weights, pad_lo, stride, dilation, cval, out_shape, out_dtype,
                   xweights=None):
    """The :class:`DirectCall` of ``correlate(inp, inp.x, weights, ...)``
    into a new C-contiguous array of ``out_shape`` and ``out_dtype``, or None
    where that call is not one kernel call on single 4D views (a batch axis,
    axes out of order, a depth-only kernel whose planes merge)."""
    rank = inp.rank
    if _single_view(inp.x, inp) is None:
        return None
    weights3 = weights.reshape(_as_3(weights.shape, 1, rank))
    stride3, dilation3 = _as_3(stride, 1, rank), _as_3(dilation, 1, rank)
    pad3 = _as_3(pad_lo, 0, rank)
    if _depth_only(weights3, xweights is not None, stride3, pad3):
        return None
    taps = np.count_nonzero(weights) + (0 if xweights is None else np.count_nonzero(xweights))
    size = math.prod(out_shape)
    return DirectCall(_UNIT_AXES[rank] + inp.x.shape, _UNIT_AXES[rank] + tuple(out_shape),
                      weights3, _NO_X_KERNEL[weights.dtype] if xweights is None else xweights,
                      stride3, dilation3, pad3, inp.code, cval, v.DTYPE_CODES[inp.x.dtype],
                      v.DTYPE_CODES[np.dtype(out_dtype)], size * max(1, int(taps)),
                      tuple(out_shape), np.dtype(out_dtype), _pooled(out_shape, out_dtype))


def run_direct(call, x, threads):
    """:func:`correlate` as ``call`` (:func:`prepare_direct`) prepared it,
    for ``x`` of the layout it was prepared for, into a new array: the same
    kernel call with the same arguments, so the same result."""
    out = _new_result(call.shape, call.dtype, call.pooled, x)
    kernels.correlate(x.reshape(call.x_shape), out.reshape(call.out_shape), call.weights,
                      call.xweights, call.stride, call.dilation, call.pad_lo, call.mode,
                      call.cval, call.in_code, call.out_code,
                      resolve_threads(threads, work=call.work))
    return out


#: A pass fused with the x pass caches, per thread, every padded source row
#: its window holds (as wide as the x window): beyond this (very long
#: kernels on both axes) the two passes run one after the other instead.
FUSED_ROWS_MAX_BYTES = 32 << 20


def fused_rows_fit(inp, geom, factors, axis):
    """Whether the pass along ``axis`` can run fused with the x pass: its
    row cache fits FUSED_ROWS_MAX_BYTES."""
    last = inp.rank - 1
    rows = len(factors[axis]) + geom.stride[axis] + 1
    width = ((geom.out_shape[last] - 1) * geom.stride[last]
             + geom.dilation[last] * (len(factors[last]) - 1) + 1)
    return rows * width * inp.compute.itemsize <= FUSED_ROWS_MAX_BYTES


#: The fused z/y/x sweep keeps one plane per thread (four for its sliding z
#: sums, when they fit in 8 MiB, and for long z kernels a ring of copied
#: source planes of at most 6 MiB); larger planes take the pass-by-pass route
#: (whose scratch is one row cache per thread).
PLANE_BUFFER_MAX_BYTES = 32 << 20


def separable_volume(inp, factors, pad_lo, stride, dilation, cval_z, cval_yx, out, threads):
    """Correlate a volume with the outer product of three 1D ``factors`` in
    one sweep over its planes (z pass, then the fused y-x pass, per plane),
    without an intermediate volume.  Returns ``out``, or None (having done
    nothing) when the layout or the padding does not allow it: the source
    planes must hold compute-type values contiguously."""
    if inp.rank != 3 or inp.x.dtype != inp.compute:
        return None
    pairs = _pairs(inp, inp.x, out)
    itemsize = inp.compute.itemsize
    for x4, _ in pairs:
        if (x4.strides[3] != itemsize or x4.strides[2] != x4.shape[3] * itemsize
                or x4.shape[2] * x4.shape[3] * itemsize > PLANE_BUFFER_MAX_BYTES):
            return None
    taps = sum(np.count_nonzero(f) for f in factors)
    nthreads = resolve_threads(threads, work=out.size * max(1, taps))
    zw, yw, xw = (np.ascontiguousarray(f, inp.compute) for f in factors)
    for x4, out4 in pairs:
        if not kernels.separable_volume(x4, out4, zw, yw, xw, stride, dilation, pad_lo, inp.code,
                                        cval_z, cval_yx, v.DTYPE_CODES[out.dtype], nthreads):
            return None
    return out


def box_pass(inp, x, axis, size, pad_lo, out, threads):
    """Mean over ``size`` samples along spatial axis ``axis`` by running sums."""
    nthreads = resolve_threads(threads, work=out.size * 4)
    for x4, out4 in _pairs(inp, x, out):
        kernels.box_pass(x4, out4, 4 - inp.rank + axis, size, pad_lo, inp.code, inp.cval,
                         v.DTYPE_CODES[x.dtype], v.DTYPE_CODES[out.dtype], nthreads)
    return out


class BoxCall(NamedTuple):
    """:func:`box_pass`'s kernel calls of a box filter (one per axis, the
    last into a new array), all but the arrays and the thread count, for
    inputs of one layout (see :class:`DirectCall`)."""

    view: tuple             # the 4D view of the input, the result and the scratch
    passes: tuple           # per pass: (4D axis, size, pad_lo)
    mode: int
    cval: float
    work: int
    shape: tuple            # the result's shape
    dtype: np.dtype         # ... and dtype


def prepare_box(inp, passes, out_dtype):
    """The :class:`BoxCall` of ``passes`` ((spatial axis, size, pad_lo)
    each) over ``inp.x`` into a new array of ``out_dtype``, or None where the
    input is not a single 4D view."""
    if _single_view(inp.x, inp) is None:
        return None
    return BoxCall(_UNIT_AXES[inp.rank] + inp.x.shape,
                   tuple((4 - inp.rank + a, k, lo) for a, k, lo in passes), inp.code, inp.cval,
                   inp.x.size * 4, inp.x.shape, np.dtype(out_dtype))


def run_box(call, inp, threads, targets):
    """:func:`box_pass` over ``passes`` as ``call`` prepared them, writing
    the arrays ``targets`` yields (the last one the result): the same kernel
    calls with the same arguments, so the same result."""
    nthreads = resolve_threads(threads, work=call.work)
    view, codes = call.view, v.DTYPE_CODES
    current = inp.x
    for (axis, size, pad_lo), target in zip(call.passes, targets):
        kernels.box_pass(current.reshape(view), target.reshape(view), axis, size, pad_lo,
                         call.mode, call.cval, codes[current.dtype], codes[target.dtype],
                         nthreads)
        current = target
    return current


#: Box depths up to this are combined directly inside the height/width sweep
#: (one pass, no intermediate volume); deeper boxes take a van Herk pass of
#: their own, whose cost does not grow with the depth.
FUSED_DEPTH_MAX = 7


def extreme_box(inp, out, size, centre, is_max, pad_value, threads):
    """Running max or min over a box of ``size`` cells whose centre cell is
    ``centre`` (per spatial axis): one sweep along height (van Herk) with the
    width pass and a short depth window fused into it; a long depth window
    first takes an O(1)-per-sample pass of its own."""
    (kz, ky, kx), (cz, cy, cx) = _box3(inp, size, centre)
    nthreads = resolve_threads(threads, work=out.size * 4)
    code = v.EXTREME_DTYPE_CODES[out.dtype]
    for x4, out4 in _pairs(inp, inp.x, out):
        source = x4
        if kz > FUSED_DEPTH_MAX:
            target = out4 if (ky, kx) == (1, 1) else empty(x4.shape, x4.dtype)
            planes_in, planes_out = _merged_planes(source), _merged_planes(target)
            if planes_in is None or planes_out is None:
                planes_in, planes_out = source.transpose(0, 2, 1, 3), target.transpose(0, 2, 1, 3)
            kernels.extreme_pass(planes_in, planes_out, kz, cz, 1, 0, 1, 0, inp.code, pad_value,
                                 is_max, code, nthreads)
            if (ky, kx) == (1, 1):
                continue
            source, kz, cz = target, 1, 0
        kernels.extreme_pass(source, out4, ky, cy, kx, cx, kz, cz, inp.code, pad_value, is_max,
                             code, nthreads)
    return out


class ExtremeCall(NamedTuple):
    """:func:`extreme_box`'s one kernel call, all but the arrays and the
    thread count, for inputs of one layout whose box needs no depth pass of
    its own (see :class:`DirectCall`)."""

    view: tuple             # the 4D view of the input and the result
    args: tuple             # the kernel's arguments between the arrays and the thread count
    work: int


def prepare_extreme_box(inp, out_dtype, size, centre, is_max, pad_value):
    """The :class:`ExtremeCall` of ``extreme_box(inp, <new array of
    out_dtype>, ...)``, or None where that is not one kernel call on a
    single 4D view."""
    if _single_view(inp.x, inp) is None:
        return None
    (kz, ky, kx), (cz, cy, cx) = _box3(inp, size, centre)
    if kz > FUSED_DEPTH_MAX:
        return None
    return ExtremeCall(_UNIT_AXES[inp.rank] + inp.x.shape,
                       (ky, cy, kx, cx, kz, cz, inp.code, pad_value, is_max,
                        v.EXTREME_DTYPE_CODES[np.dtype(out_dtype)]),
                       inp.x.size * 4)


def run_extreme_box(call, x, out, threads):
    """:func:`extreme_box` of ``x`` (of the layout ``call`` was prepared
    for) into ``out`` (a new C-contiguous array of that layout): the same
    kernel call, the same result."""
    kernels.extreme_pass(x.reshape(call.view), out.reshape(call.view), *call.args,
                         resolve_threads(threads, work=call.work))
    return out


def _box3(inp, size, centre):
    """The box's (depth, height, width) sizes and centres, clipped to the input."""
    size, centre = _clip_box(size, centre, inp.spatial_shape)
    return _as_3(size, 1, inp.rank), _as_3(centre, 0, inp.rank)


def _clip_box(size, centre, shape):
    """A box no more than 2n cells either side of its centre on an axis of n
    samples, with the same maxima and minima: in every mode, 2n padded cells
    beyond the edge repeat every value that any longer reach would (a period
    of the padding, or constant values), so a box reaching further only
    costs time (quadratic in the size, for sizes far beyond the image)."""
    clipped = [(min(c, 2 * n), min(k - 1 - c, 2 * n)) for k, c, n in zip(size, centre, shape)]
    return tuple(lo + hi + 1 for lo, hi in clipped), tuple(lo for lo, _ in clipped)


def footprint_runs(footprint):
    """A 3D boolean footprint as its nonempty rows (z, y) and the runs of
    consecutive True cells in each: (row index, first x, length), by row."""
    row_z, row_y, run_row, run_start, run_length = [], [], [], [], []
    for z, y in zip(*np.nonzero(footprint.any(axis=2))):
        edges = np.diff(np.concatenate(([0], footprint[z, y].astype(np.int8), [0])))
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        run_row += [len(row_z)] * len(starts)
        run_start += list(starts)
        run_length += list(stops - starts)
        row_z.append(z)
        row_y.append(y)
    return tuple(np.asarray(a, np.intp) for a in (row_z, row_y, run_row, run_start, run_length))


def extreme_footprint(inp, out, footprint, centre, is_max, pad_value, threads):
    """Max or min over any footprint: out[p] = op of the padded input at
    p + (cell - centre) for every True cell of ``footprint``."""
    rank = inp.rank
    fp3 = footprint.reshape((1,) * (3 - rank) + footprint.shape)
    centre3 = _as_3(centre, 0, rank)
    runs = footprint_runs(fp3)
    nthreads = resolve_threads(threads, work=out.size * max(1, len(runs[2])))
    code = v.EXTREME_DTYPE_CODES[out.dtype]
    for x4, out4 in _pairs(inp, inp.x, out):
        kernels.extreme_footprint(x4, out4, fp3.shape, centre3, *runs, inp.code, pad_value,
                                  is_max, code, nthreads)
    return out


def pool(inp, out, indices, geom, op, p, identity, scales, threads):
    """Pooling of ``inp.x`` into ``out`` (and flat argmax/argmin ``indices``)."""
    args, work = _pool_arguments(inp, geom, op, p, identity, scales, out.dtype)
    nthreads = resolve_threads(threads, work=out.size * work)
    arrays = (inp.x, out) if indices is None else (inp.x, out, indices)
    for views in _pairs(inp, *arrays):
        kernels.pool(views[0], views[1], None if indices is None else views[2], *args, nthreads)
    return out


def _pool_arguments(inp, geom, op, p, identity, scales, out_dtype):
    """The kernel's arguments between the arrays and the thread count, and
    the work per output sample."""
    rank = inp.rank
    size3 = _as_3(geom.size, 1, rank)
    inv = [np.ones(1)] * (3 - rank) + [np.ascontiguousarray(s, np.float64) for s in scales]
    return ((size3, _as_3(geom.stride, 1, rank), _as_3(geom.dilation, 1, rank),
             _as_3(geom.pad_lo, 0, rank), _as_3(geom.extent, 1, rank), op, inp.code, p,
             identity, *inv, v.EXTREME_DTYPE_CODES[inp.x.dtype],
             v.EXTREME_DTYPE_CODES[np.dtype(out_dtype)], inp.compute == np.float64),
            math.prod(size3))


class PoolCall(NamedTuple):
    """:func:`pool`'s one kernel call, all but the arrays and the thread
    count, for inputs of one layout (see :class:`DirectCall`)."""

    x_shape: tuple
    out_shape: tuple
    args: tuple
    work: int
    shape: tuple            # the result's shape
    dtype: np.dtype         # ... and dtype
    away: bool              # whether it is placed away from the input (_buffers.empty)
    pooled: bool


def prepare_pool(inp, geom, op, p, identity, scales, out_shape, out_dtype, away):
    """The :class:`PoolCall` of ``pool(inp, <new array>, None, ...)``, or
    None where that is not one kernel call on single 4D views."""
    if _single_view(inp.x, inp) is None:
        return None
    args, work = _pool_arguments(inp, geom, op, p, identity, scales, out_dtype)
    unit = _UNIT_AXES[inp.rank]
    return PoolCall(unit + inp.x.shape, unit + tuple(out_shape), args,
                    math.prod(out_shape) * work, tuple(out_shape), np.dtype(out_dtype), away,
                    _pooled(out_shape, out_dtype))


def run_pool(call, x, threads):
    """:func:`pool` of ``x`` (of the layout ``call`` was prepared for) into a
    new array, without indices: the same kernel call, the same result."""
    out = _new_result(call.shape, call.dtype, call.pooled, x if call.away else None)
    kernels.pool(x.reshape(call.x_shape), out.reshape(call.out_shape), None, *call.args,
                 resolve_threads(threads, work=call.work))
    return out

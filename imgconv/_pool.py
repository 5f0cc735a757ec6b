"""Pooling: max, min, average and Lp over windows with stride, padding and
dilation (torch's geometry, imgconv's boundary modes)."""
from typing import NamedTuple

import numpy as np

from . import _validate as v
from ._backend import mode_index, pad_by_modes
from ._convolve import _plan_cache, cache_plan, plan_key, with_input
from ._dispatch import device_boundary, select_backend
from ._docstrings import docfiller


@device_boundary
@docfiller
def pool(x, size, *, stride=None, padding=0, dilation=1, op="max", p=2, ceil_mode=False,
         count_include_pad=True, mode="zero", return_indices=False, channel_axis=None,
         axes=None, dtype=None, out=None, backend="auto", threads=None):
    """Pool windows of ``size`` samples, ``stride`` apart, into one value each.

    Parameters
    ----------
    x : ndarray
        1D, 2D or 3D input, optionally with a channel axis.  bool inputs give
        bool results for max/min, which keep every dtype exactly (int64 and
        uint64 included); avg and lp run in the compute type.
    size : int or sequence of int
        Window size per spatial axis.
    stride : int or sequence of int, optional
        Step between windows; default ``size`` (non-overlapping windows, as
        torch and ``skimage.measure.block_reduce``).  Smaller strides give
        overlapping windows.
    padding : int or sequence
        Samples added before and after each axis: an int, one int per axis or
        one ``(lo, hi)`` pair per axis; each side at most ``size // 2``
        (torch's rule, so every window holds an input sample).
    dilation : int or sequence of int
        Spacing between the samples of a window.
    op : {'max', 'min', 'avg', 'lp'}
        The reduction.  'lp' is ``(sum |v|**p) ** (1/p)``, the Lp norm of the
        window (torch's ``lp_pool`` without the sign handling, equal to it for
        non-negative inputs).
    p : float
        The exponent of ``op='lp'`` (> 0); any other op takes no ``p``.
    ceil_mode : bool
        Round the output length up instead of down (torch's rule: the last
        window must still start inside the input or the left padding).
        Window cells past the padded input are left out, and not counted.
    count_include_pad : bool
        For ``op='avg'`` with ``mode='zero'``: whether the padded cells count
        in the divisor (True, torch's default) or only input samples do.
    mode : str or sequence of str
        What padded cells hold.  ``'zero'`` (default) means torch's padding:
        -inf for max (+inf for min), so padding never wins, and 0 for avg and
        lp.  Any other mode (``'replicate'``, ``'reflect'``, ``'symmetric'``,
        ``'wrap'``) fills them with image values, which take part in every op
        and count in averages.  A sequence gives one per spatial axis (in the
        order of ``axes``): x is then padded first, one copy.
    return_indices : bool
        With ``op='max'`` or ``'min'``, also return the flat index of each
        result in its input plane (``z*H*W + y*W + x``), as torch's
        ``max_pool2d(..., return_indices=True)``: the first such sample in
        scan order, or the last NaN if the window holds one.
    %(channel_axis_axes_as_correlate)s
    dtype : dtype, optional
        Output dtype.  Default: the input's dtype for max/min, the compute
        type (float32, or float64 for 32-bit integers and float64) for avg
        and lp.  Integer outputs are rounded and saturated.
    out : ndarray, optional
        Array to write the result into.
    %(backend_threads_as_correlate)s

    Returns
    -------
    ndarray, or (ndarray, ndarray of int64) with ``return_indices``

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> x = np.arange(16, dtype=np.float32).reshape(4, 4)
    >>> ic.pool(x, 2)
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    >>> ic.pool(x, 2, op="avg")
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    >>> values, where = ic.pool(x, 3, stride=1, return_indices=True)
    >>> where
    array([[10, 11],
           [14, 15]])
    """
    # a repeated call (a loop over patches or frames) is checked once
    key = plan_key(x, ("pool", size, stride, padding, dilation, op, p, ceil_mode,
                       count_include_pad, mode, return_indices, channel_axis, axes, dtype,
                       backend), out=out)
    plan = None if key is None else _plan_cache.get(key)
    if plan is None:
        plan = _pool_plan(x, size, stride, padding, dilation, op, p, ceil_mode,
                          count_include_pad, mode, return_indices, channel_axis, axes, dtype,
                          out, backend)
        inp = plan.inp
        if inp.x is x:
            cache_plan(key, plan._replace(inp=inp._replace(x=None)))
    else:
        inp = with_input(plan, x)
    if plan.call is not None and out is None and dtype is None and not return_indices:
        # a new result of the dtype the kernel writes: one prepared call
        return plan.run(plan.call, inp.x, threads)
    op_name, op_code, p, geom, identity, scales = (plan.op_name, plan.op_code, plan.p, plan.geom,
                                                   plan.identity, plan.scales)
    extreme = op_name in ("max", "min")
    backend, xp = inp.backend, inp.backend.xp
    # the kernels' input: axes of different modes pad x first, each by its own
    # (the 'zero' axes with what mode 'zero' pads: torch's padding), and pool
    # it without padding of their own
    source, source_geom = inp, geom
    if inp.mixed:
        source = pad_by_modes(inp, geom.pad_lo, geom.pad_hi, identity)
        source_geom = geom._replace(pad_lo=(0,) * inp.rank, pad_hi=(0,) * inp.rank,
                                    extent=source.spatial_shape)
    shape = inp.full_shape(geom.out_shape)
    kept = v.extreme_dtype(x)
    is_bool = kept == bool
    native = kept if is_bool else inp.x.dtype       # what the kernel writes
    if extreme:
        if out is not None and dtype is None and getattr(out, "dtype", None) == kept:
            out = backend.extreme_output(out, shape, kept, inp.x)
        elif out is not None:
            out = backend.check_out(out, shape, None if dtype is None
                                    else v.output_dtype(dtype, inp.compute),
                                    inp.x, allow_bool=is_bool)
        # max/min of int8, float16, uint32... run widened and return the input's dtype
        wanted = (out.dtype if out is not None
                  else v.output_dtype(dtype, inp.compute) if dtype is not None else kept)
        target = (out if out is not None and out.dtype == native
                  else backend.empty(shape, native))
        kernel_out = target.view(np.uint8) if is_bool else target
    else:   # (no indices: return_indices needs max or min)
        return backend.fill_output(inp, geom.out_shape, dtype, out,
                                   lambda target: backend.pool(source, target, None, source_geom,
                                                               op_code, p, identity, scales,
                                                               threads))
    indices = backend.empty(shape, np.int64) if return_indices else None
    backend.pool(source, kernel_out, indices, source_geom, op_code, p, identity, scales, threads)
    if indices is not None and source is not inp:
        # flat indices into the padded planes: back to the samples they copy
        coords = xp.unravel_index(indices, source.spatial_shape)
        coords = [xp.asarray(mode_index(mode, n, np.arange(-lo, n + hi)))[c]
                  for c, mode, n, lo, hi in zip(coords, inp.modes, inp.spatial_shape,
                                                geom.pad_lo, geom.pad_hi)]
        indices = xp.ravel_multi_index(coords, inp.spatial_shape)
    if indices is not None and list(inp.axes) != sorted(inp.axes):
        # the kernels number a plane's samples in the order of axes; the
        # result numbers them in array order, whatever order axes gives
        ascending = sorted(range(inp.rank), key=lambda i: inp.axes[i])
        coords = xp.unravel_index(indices, inp.spatial_shape)
        indices = xp.ravel_multi_index([coords[i] for i in ascending],
                                       [inp.spatial_shape[i] for i in ascending])
    if extreme and target.dtype != wanted:
        out = backend.store(target, out if out is not None else backend.empty(shape, wanted))
    else:
        out = target
    return (out, indices) if return_indices else out


class PoolPlan(NamedTuple):
    """A pooling call's checked arguments, geometry and per-axis scales, for
    any input of one layout (``inp`` then holds no array)."""

    inp: v.FilterInput
    op_name: str
    op_code: int
    p: float
    geom: v.PoolGeometry
    identity: object
    scales: list
    call: object    # for out=None, dtype=None and no indices: the one kernel
                    # call (backend.prepare_pool, e.g. _cpu.PoolCall), where
                    # that is all it takes and the backend prepares it
    run: object     # the backend's runner of call (see _convolve.Plan)


def _pool_plan(x, size, stride, padding, dilation, op, p, ceil_mode, count_include_pad, mode,
               return_indices, channel_axis, axes, dtype, out, backend):
    backend = select_backend(x, backend)
    op_name, op_code, p = v.pool_op(op, p, count_include_pad, return_indices, mode)
    extreme = op_name in ("max", "min")
    # (maxima and minima are exact: no compute type, whatever the result's dtype)
    inp = v.filter_input(x, mode, 0.0, channel_axis, axes, exact=extreme, backend=backend,
                         dtype=None if extreme else dtype, out=None if extreme else out)
    geom = v.pool_geometry(inp.spatial_shape, size, stride, padding, dilation, ceil_mode)
    if extreme:
        kept = v.extreme_dtype(x)
        native = kept if kept == bool else inp.x.dtype       # what the kernel writes
        identity = v.morphology_pad_value(native, None, None, op_name == "max")
        scales = [np.ones(n) for n in geom.out_shape]
        # pool() writes the result directly where it keeps the input's dtype
        result, away = (native if native == kept and kept != bool else None), False
    else:
        identity = 0.0
        counts = v.window_counts(geom, inp.spatial_shape, count_include_pad)
        with np.errstate(divide="ignore"):
            scales = [np.where(c > 0, 1.0 / np.maximum(c, 1), np.nan) for c in counts]
        result, away = inp.compute, True
    # (the prepared call takes one mode: axes of different modes pad x first)
    call = None if result is None or inp.mixed else backend.prepare_pool(
        inp, geom, op_code, p, identity, scales, inp.full_shape(geom.out_shape), result, away)
    return PoolPlan(inp, op_name, op_code, p, geom, identity, scales, call, backend.run_pool)


def max_pool(x, size, **kwargs):
    """Max pooling: :func:`pool` with ``op='max'``.

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> ic.max_pool(np.array([[1, 5], [3, 2]], np.uint8), 2)
    array([[5]], dtype=uint8)
    """
    return pool(x, size, op="max", **kwargs)


def avg_pool(x, size, **kwargs):
    """Average pooling: :func:`pool` with ``op='avg'``.

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> ic.avg_pool(np.array([[1, 5], [3, 2]], np.uint8), 2)
    array([[2.75]], dtype=float32)
    """
    return pool(x, size, op="avg", **kwargs)

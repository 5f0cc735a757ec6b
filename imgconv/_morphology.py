"""Grey-scale and binary morphology with flat footprints, and grey-scale
morphology with a non-flat ``structure`` of heights.

Conventions (those of scipy.ndimage): the footprint's centre cell is
``k // 2 + origin`` along each axis.  Erosion takes the minimum over the
cells of the footprint placed on its centre; dilation the maximum over the
footprint mirrored through its centre (Minkowski addition), which makes the
two adjoint: opening <= input <= closing for any footprint.  Box footprints
(``size=``, or an all-True ``footprint``) run in O(1) per sample whatever
their size; other footprints cost one pass per run of consecutive cells.

A ``structure`` adds its height to each cell's sample before the maximum
(dilation, the structure mirrored with the footprint) and subtracts it
before the minimum (erosion), as scipy's ``grey_dilation`` and
``grey_erosion``; it costs one pass per run of cells of one height in a
footprint row.  Integer sums saturate to the dtype's range where scipy's
wrap.
"""
from typing import NamedTuple

import numpy as np

from . import _validate as v
from ._backend import clip_box, footprint_reach, run_padded
from ._convolve import _plan_cache, cache_plan, plan_key, with_input
from ._dispatch import device_boundary, select_backend
from ._docstrings import docfiller


class ExtremePlan(NamedTuple):
    """A maximum's or minimum's checked arguments, for any input of one
    layout (``inp`` then holds no array)."""

    inp: v.FilterInput
    native: np.dtype        # the result's dtype
    pad_value: object
    fp: np.ndarray          # the footprint, mirrored for a maximum
    centre: tuple
    is_box: bool            # whether every cell of fp is in it (backend.extreme_box)
    call: object            # for a new result of the input's own dtype: the one
                            # kernel call (backend.prepare_extreme_box, e.g.
                            # _cpu.ExtremeCall), where that is all it takes
    run: object             # the backend's runner of call (see _convolve.Plan)


def _extreme(x, footprint, size, structure, mode, cval, origin, channel_axis, axes, out,
             backend, threads, is_max):
    if structure is not None:
        return _extreme_structure(x, footprint, size, structure, mode, cval, origin,
                                  channel_axis, axes, out, backend, threads, is_max)
    # a repeated call (a loop over patches or frames) is checked once
    key = plan_key(x, ("extreme", footprint is None, size, mode, cval, origin, channel_axis,
                       axes, backend, is_max), footprint)
    plan = None if key is None else _plan_cache.get(key)
    if plan is None:
        plan = _extreme_plan(x, footprint, size, mode, cval, origin, channel_axis, axes, backend,
                             is_max)
        inp = plan.inp
        if inp.x is x:
            # the caller's footprint may change after the call: a copy
            fp = plan.fp if footprint is None else plan.fp.copy()
            cache_plan(key, plan._replace(inp=inp._replace(x=None), fp=fp))
    else:
        if plan.call is not None and out is None:
            # x as the plan was made for (take_input passed it as it was)
            return plan.run(plan.call, x, threads)
        inp = with_input(plan, x)
    if plan.call is not None and out is None:
        return plan.run(plan.call, inp.x, threads)
    backend = inp.backend

    def run(inp, kernel_out):
        if plan.is_box:
            backend.extreme_box(inp, kernel_out, plan.fp.shape, plan.centre, is_max,
                                plan.pad_value, threads)
        else:
            backend.extreme_footprint(inp, kernel_out, plan.fp, plan.centre, is_max,
                                      plan.pad_value, threads)

    if inp.mixed:
        # a box reaching beyond 2n samples finds nothing new (clip_box)
        reach = (footprint_reach(*clip_box(plan.fp.shape, plan.centre, inp.spatial_shape))
                 if plan.is_box else footprint_reach(plan.fp.shape, plan.centre))
        return _run_extreme(inp, plan.native, out, x, lambda kernel_out: run_padded(
            inp, *reach, plan.pad_value, kernel_out, run))
    return _run_extreme(inp, plan.native, out, x, lambda kernel_out: run(inp, kernel_out))


def _run_extreme(inp, native, out, x, run):
    """The result of a maximum or minimum whose kernels ``run(kernel_out)``
    into an array of ``inp.x``'s shape and dtype: ``out`` (checked) or a new
    array of dtype ``native``, through an intermediate where the kernels run
    the input widened."""
    backend = inp.backend
    is_bool = native == bool
    out = backend.extreme_output(out, inp.x.shape, native, x)
    if is_bool:
        kernel_out = out.view(np.uint8)
    elif native != inp.x.dtype:
        kernel_out = backend.empty(inp.x.shape, inp.x.dtype)
    else:
        kernel_out = out
    run(kernel_out)
    if kernel_out is not out and not is_bool:
        backend.store(kernel_out, out)   # exact for the input's values; padding saturates
    return out


def _extreme_plan(x, footprint, size, mode, cval, origin, channel_axis, axes, backend, is_max):
    inp = v.filter_input(x, "zero" if mode is None else mode, 0.0, channel_axis, axes,
                         exact=True, backend=select_backend(x, backend))
    # the result keeps the input's dtype; dtypes the kernels lack (int8, float16,
    # uint32, int64, ...) run widened (inp.x) and are narrowed back
    native = v.extreme_dtype(x)
    pad_value = v.morphology_pad_value(native, mode, cval, is_max)
    fp = v.as_footprint(footprint, size, inp.rank, inp.axes)
    origin = v.check_origin(origin, fp.shape)
    centre = tuple(k // 2 + o for k, o in zip(fp.shape, origin))
    if is_max:
        fp = fp[(slice(None, None, -1),) * fp.ndim]
        centre = tuple(k - 1 - c for k, c in zip(fp.shape, centre))
    is_box = footprint is None or bool(fp.all())
    # a new result that keeps the input's dtype, which the kernel writes directly
    call = (inp.backend.prepare_extreme_box(inp, native, fp.shape, centre, is_max, pad_value)
            if is_box and native == inp.x.dtype and not inp.mixed else None)
    return ExtremePlan(inp, native, pad_value, fp, centre, is_box, call,
                       inp.backend.run_extreme_box)


def _extreme_structure(x, footprint, size, structure, mode, cval, origin, channel_axis, axes,
                       out, backend, threads, is_max):
    """Non-flat dilation (``is_max``) or erosion: scipy's grey_dilation and
    grey_erosion with ``structure``, sums saturated for integers."""
    inp = v.filter_input(x, "zero" if mode is None else mode, 0.0, channel_axis, axes,
                         exact=True, backend=select_backend(x, backend))
    native = v.extreme_dtype(x)
    if native == bool:
        raise TypeError("structure= needs a numeric image; bool images take flat footprints "
                        "only (footprint= or size=)")
    pad_value = v.morphology_pad_value(native, mode, cval, is_max)
    fp, heights = v.as_structure(structure, footprint, size, inp.rank, inp.axes)
    origin = v.check_origin(origin, fp.shape)
    centre = tuple(k // 2 + o for k, o in zip(fp.shape, origin))
    if is_max:
        # dilation mirrors the structure with the footprint (Minkowski addition)
        flip = (slice(None, None, -1),) * fp.ndim
        fp, heights = fp[flip], heights[flip]
        centre = tuple(k - 1 - c for k, c in zip(fp.shape, centre))
    cell_heights = v.structure_heights(heights[fp], native, inp.x.dtype, is_max)
    backend = inp.backend

    def run(inp, kernel_out):
        backend.extreme_structure(inp, kernel_out, fp, cell_heights, centre, is_max, pad_value,
                                  mode is None, threads)

    if inp.mixed:
        return _run_extreme(inp, native, out, x, lambda kernel_out: run_padded(
            inp, *footprint_reach(fp.shape, centre), pad_value, kernel_out, run))
    return _run_extreme(inp, native, out, x, lambda kernel_out: run(inp, kernel_out))


@device_boundary
@docfiller
def dilate(x, footprint=None, *, size=None, structure=None, mode=None, cval=None,
           origin=0, channel_axis=None, axes=None, out=None, backend="auto",
           threads=None):
    """Grey-scale (or binary) dilation: the maximum over the mirrored footprint.

    Equals ``scipy.ndimage.grey_dilation(x, footprint=footprint, origin=origin)``
    (and ``binary_dilation`` for bool input) with the same padding; with
    ``structure``, ``grey_dilation(x, footprint=footprint, structure=structure,
    origin=origin)``: the maximum of each sample plus its cell's height, the
    structure mirrored with the footprint (integer sums saturate).

    Parameters
    ----------
    %(morphology_parameters)s

    Returns
    -------
    ndarray
        Same shape and dtype as ``x`` (native byte order; bool for bool input).

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> x = np.zeros((5, 5), np.uint8); x[2, 2] = 7
    >>> ic.dilate(x, size=3)[1:4, 1:4]
    array([[7, 7, 7],
           [7, 7, 7],
           [7, 7, 7]], dtype=uint8)
    >>> int(ic.dilate(x, ic.footprints.cross(2)).astype(bool).sum())
    5

    Non-flat: out[p] = max(x[p - 1] + 2, x[p] + 5, x[p + 1] + 1)

    >>> ic.dilate(np.array([0, 10, 0, 0, 20], np.float32), structure=[1, 5, 2])
    array([11., 15., 12., 21., 25.], dtype=float32)
    """
    return _extreme(x, footprint, size, structure, mode, cval, origin, channel_axis, axes, out,
                    backend, threads, True)


@device_boundary
@docfiller
def erode(x, footprint=None, *, size=None, structure=None, mode=None, cval=None,
          origin=0, channel_axis=None, axes=None, out=None, backend="auto",
          threads=None):
    """Grey-scale (or binary) erosion: the minimum over the footprint.

    Equals ``scipy.ndimage.grey_erosion(x, footprint=footprint, origin=origin)``
    (and ``binary_erosion(..., border_value=1)`` for bool input) with the same
    padding; with ``structure``, ``grey_erosion(x, footprint=footprint,
    structure=structure, origin=origin)``: the minimum of each sample minus its
    cell's height (integer sums saturate).

    Parameters
    ----------
    %(morphology_parameters)s

    Returns
    -------
    ndarray
        Same shape and dtype as ``x`` (native byte order; bool for bool input).

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> x = np.ones((5, 5), bool); x[2, 2] = False
    >>> int(ic.erode(x, size=3).sum())
    16

    Non-flat, saturating where scipy would wrap: out[p] = min(x[p] - 10)

    >>> ic.erode(np.array([3, 200], np.uint8), structure=[10])
    array([  0, 190], dtype=uint8)
    """
    return _extreme(x, footprint, size, structure, mode, cval, origin, channel_axis, axes, out,
                    backend, threads, False)


@device_boundary
@docfiller
def opening(x, footprint=None, *, size=None, structure=None, mode=None, cval=None,
            origin=0, channel_axis=None, axes=None, out=None, backend="auto",
            threads=None):
    """Opening: erosion, then dilation with the same footprint.

    Removes bright details smaller than the footprint; never exceeds the input.

    Parameters
    ----------
    %(morphology_parameters)s

    Returns
    -------
    ndarray
        Same shape and dtype as ``x`` (native byte order; bool for bool input).

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> x = np.zeros((7, 7), np.uint8); x[1:5, 1:5] = 9; x[6, 6] = 9
    >>> int(ic.opening(x, size=3).sum()) == 16 * 9   # the lone pixel is gone
    True
    """
    options = dict(size=size, structure=structure, mode=mode, cval=cval, origin=origin,
                   channel_axis=channel_axis, axes=axes, backend=backend, threads=threads)
    eroded = erode(x, footprint, **options)
    if out is not None:   # out may not be the input, as for every filter
        select_backend(x, backend).extreme_output(out, eroded.shape, eroded.dtype, x)
    return dilate(eroded, footprint, out=out, **options)


@device_boundary
@docfiller
def closing(x, footprint=None, *, size=None, structure=None, mode=None, cval=None,
            origin=0, channel_axis=None, axes=None, out=None, backend="auto",
            threads=None):
    """Closing: dilation, then erosion with the same footprint.

    Fills dark details smaller than the footprint; never falls below the input.

    Parameters
    ----------
    %(morphology_parameters)s

    Returns
    -------
    ndarray
        Same shape and dtype as ``x`` (native byte order; bool for bool input).

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> x = np.ones((5, 5), bool); x[2, 2] = False
    >>> bool(ic.closing(x, size=3).all())
    True
    """
    options = dict(size=size, structure=structure, mode=mode, cval=cval, origin=origin,
                   channel_axis=channel_axis, axes=axes, backend=backend, threads=threads)
    dilated = dilate(x, footprint, **options)
    if out is not None:   # out may not be the input, as for every filter
        select_backend(x, backend).extreme_output(out, dilated.shape, dilated.dtype, x)
    return erode(dilated, footprint, out=out, **options)


def _difference(a, b, out, x, backend):
    """a - b in a's dtype: 'and not' for bool, saturated for integers; in
    the namespace of ``backend`` (the name given), whose arrays a and b are."""
    backend = select_backend(x, backend)
    xp = backend.xp
    out = backend.extreme_output(out, a.shape, a.dtype, x)
    if a.dtype == bool:
        return xp.logical_and(a, xp.logical_not(b), out=out)
    if a.dtype.kind == "f":
        return xp.subtract(a, b, out=out)
    info = np.iinfo(a.dtype)
    if info.bits < 64:
        wide = xp.subtract(a, b, dtype=np.int64)
        xp.clip(wide, info.min, info.max, out=wide)
        xp.copyto(out, wide, casting="unsafe")
        return out
    # 64-bit integers: subtract with wraparound, then saturate where it wrapped
    # (out is a new array or the caller's, never a or b)
    xp.subtract(a, b, out=out)
    if a.dtype.kind == "u":
        out[a < b] = 0
    else:
        out[(a >= 0) & (b < 0) & (out < 0)] = info.max
        out[(a < 0) & (b >= 0) & (out >= 0)] = info.min
    return out


def _as_result_dtype(x, like, backend):
    """``x`` as an array of the namespace and dtype of ``like`` (a result of
    ``backend``, the name given)."""
    x = select_backend(x, backend).xp.asarray(x)
    return x if x.dtype == like.dtype else x.astype(like.dtype)


@device_boundary
@docfiller
def morph_gradient(x, footprint=None, *, size=None, structure=None, mode=None, cval=None,
                   origin=0, channel_axis=None, axes=None, out=None, backend="auto",
                   threads=None):
    """Morphological gradient: dilation minus erosion.

    Integer results saturate (never wrap); bool inputs give
    ``dilation & ~erosion``.

    Parameters
    ----------
    %(morphology_parameters)s

    Returns
    -------
    ndarray
        Same shape and dtype as ``x`` (native byte order; bool for bool input).

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> ic.morph_gradient(np.array([0, 0, 5, 5], np.uint8), size=3)
    array([0, 5, 5, 0], dtype=uint8)
    """
    options = dict(size=size, structure=structure, mode=mode, cval=cval, origin=origin,
                   channel_axis=channel_axis, axes=axes, backend=backend, threads=threads)
    return _difference(dilate(x, footprint, **options), erode(x, footprint, **options), out, x,
                       backend)


@device_boundary
@docfiller
def tophat(x, footprint=None, *, size=None, structure=None, mode=None, cval=None,
           origin=0, channel_axis=None, axes=None, out=None, backend="auto",
           threads=None):
    """White top-hat: the input minus its opening (small bright details).

    Integer results saturate; bool inputs give ``x & ~opening``.

    Parameters
    ----------
    %(morphology_parameters)s

    Returns
    -------
    ndarray
        Same shape and dtype as ``x`` (native byte order; bool for bool input).

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> ic.tophat(np.array([1, 1, 9, 1, 1], np.uint8), size=3)
    array([0, 0, 8, 0, 0], dtype=uint8)
    """
    opened = opening(x, footprint, size=size, structure=structure, mode=mode, cval=cval,
                     origin=origin, channel_axis=channel_axis, axes=axes, backend=backend,
                     threads=threads)
    return _difference(_as_result_dtype(x, opened, backend), opened, out, x, backend)


@device_boundary
@docfiller
def blackhat(x, footprint=None, *, size=None, structure=None, mode=None, cval=None,
             origin=0, channel_axis=None, axes=None, out=None, backend="auto",
             threads=None):
    """Black top-hat: the closing minus the input (small dark details).

    Integer results saturate; bool inputs give ``closing & ~x``.

    Parameters
    ----------
    %(morphology_parameters)s

    Returns
    -------
    ndarray
        Same shape and dtype as ``x`` (native byte order; bool for bool input).

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> ic.blackhat(np.array([9, 9, 1, 9, 9], np.uint8), size=3)
    array([0, 0, 8, 0, 0], dtype=uint8)
    """
    closed = closing(x, footprint, size=size, structure=structure, mode=mode, cval=cval,
                     origin=origin, channel_axis=channel_axis, axes=axes, backend=backend,
                     threads=threads)
    return _difference(closed, _as_result_dtype(x, closed, backend), out, x, backend)

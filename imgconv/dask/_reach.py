"""How far each public function reads around an output sample, per array
axis, worked out from its arguments alone (never from the array's data).

This is the one place that knows the public functions' footprints: the dask
backend (:mod:`imgconv.dask._backend`) asks :func:`axis_geometry` for every
call and builds its halos, chunk alignment and output chunks from the answer.

Two kinds of geometry, per filtered axis:

* ``Same`` -- the output sits on the input's grid, sampled every ``stride``
  samples from 0 (``padding='same'``): output ``i*stride`` reads input
  samples within ``reach`` of ``i*stride``.  The function handles the volume
  edges itself (its ``mode``); a chunk only needs ``reach`` neighbouring
  samples on each inner side.  ``reach`` is a bound: a wider halo gives the
  same result, a narrower one would not.
* ``Windows`` -- torch's geometry (pooling, explicit ``padding``): output
  ``o`` reads the padded samples ``o*stride - pad_lo ... o*stride - pad_lo +
  extent``.  Each chunk is run with the padding of the volume edges it
  holds and none on its inner sides.
"""
import inspect
from typing import NamedTuple

import numpy as np

from .. import _validate as v
from .._filters import gaussian_axes


class Same(NamedTuple):
    """Output on the input grid every ``stride`` samples; reads ``reach``
    samples on either side."""

    reach: int
    stride: int = 1


class Windows(NamedTuple):
    """Output ``o`` reads padded samples ``[o*stride - pad_lo, o*stride -
    pad_lo + extent]``; ``ceil_mode`` as pooling's."""

    stride: int
    extent: int
    pad_lo: int
    pad_hi: int
    ceil_mode: bool = False


def _filtered_axes(args, ndim):
    return v.spatial_axes(ndim, args.get("channel_axis"), args.get("axes"))[0]


def _shape_reach(shape, axes, dilation=1, times=1):
    """``{axis: reach}`` of a kernel or footprint of ``shape``, whose
    dimensions follow ``axes`` in ascending array order (the axes rule);
    ``dilation`` per axis in the order of ``axes``."""
    rank = len(axes)
    shape = (1,) * (rank - len(shape)) + tuple(shape)
    if len(shape) != rank:
        raise ValueError(f"the kernel has {len(shape)} dimensions for {rank} filtered axes")
    dilation = v.per_axis(dilation, rank, "dilation", minimum=1)
    ascending = sorted(axes)
    return {a: Same(times * d * (shape[ascending.index(a)] - 1)) for a, d in zip(axes, dilation)}


def _per_axis_reach(lengths, axes, times=1):
    """``{axis: reach}`` of per-axis window lengths given in the order of ``axes``."""
    return {a: Same(times * (k - 1)) for a, k in zip(axes, lengths)}


def _with_stride(geometry, stride, axes):
    strides = v.per_axis(stride, len(axes), "stride", minimum=1)
    return {a: geometry[a]._replace(stride=s) for a, s in zip(axes, strides)}


def _correlate(args, ndim):
    axes = _filtered_axes(args, ndim)
    kernel = np.asarray(args["kernel"])
    padding = args["padding"]
    if isinstance(padding, str) and padding.lower() == "same":
        return _with_stride(_shape_reach(kernel.shape, axes, args["dilation"]),
                            args["stride"], axes)
    rank = len(axes)
    kshape = v.in_axes_order(kernel.reshape((1,) * (rank - kernel.ndim) + kernel.shape),
                             axes).shape
    dilation = v.per_axis(args["dilation"], rank, "dilation", minimum=1)
    stride = v.per_axis(args["stride"], rank, "stride", minimum=1)
    lo, hi = v.padding_amounts(padding, kshape, dilation, v.per_axis(args["origin"], rank,
                                                                      "origin"))
    return {a: Windows(s, d * (k - 1), pl, ph)
            for a, s, d, k, pl, ph in zip(axes, stride, dilation, kshape, lo, hi)}


def _correlate1d(args, ndim):
    axis = v.spatial_axes(ndim, args.get("channel_axis"), args["axis"], axes_name="axis")[0]
    return {axis[0]: Same(len(np.ravel(args["weights"])) - 1)}


def _sepfilter(args, ndim):
    axes = _filtered_axes(args, ndim)
    kernels = list(args["kernels"])
    if len(kernels) != len(axes):
        raise ValueError(f"kernels needs {len(axes)} entries (one per filtered axis), "
                         f"got {len(kernels)}")
    dilation = v.per_axis(args["dilation"], len(axes), "dilation", minimum=1)
    geometry = {a: Same(0 if k is None else d * (len(np.ravel(k)) - 1))
                for a, k, d in zip(axes, kernels, dilation)}
    return _with_stride(geometry, args["stride"], axes)


def _gaussian_radius(args, ndim, times=1):
    axes = _filtered_axes(args, ndim)
    # the filter's own radii, in samples (an axis of sigma 0 is not filtered)
    sigmas, _, radii = gaussian_axes(len(axes), args["sigma"], args["truncate"],
                                     args.get("spacing"), args.get("radius"))
    return {a: Same(times * (r if s else 0)) for a, s, (r, _) in zip(axes, sigmas, radii)}


def _box(args, ndim):
    axes = _filtered_axes(args, ndim)
    return _per_axis_reach(v.per_axis(args["size"], len(axes), "size", minimum=1), axes)


def _one_sample(args, ndim):
    """The 3-tap derivative and Laplace stencils."""
    return {a: Same(1) for a in _filtered_axes(args, ndim)}


def _window(args, ndim, times=1):
    """Footprints, structures and sizes of morphology and rank filters."""
    axes = _filtered_axes(args, ndim)
    structure, footprint, size = args.get("structure"), args.get("footprint"), args.get("size")
    if structure is not None:
        return _shape_reach(np.shape(structure), axes, times=times)
    if footprint is not None:
        return _shape_reach(np.shape(footprint), axes, times=times)
    return _per_axis_reach(v.per_axis(3 if size is None else size, len(axes), "size",
                                      minimum=1), axes, times)


def _pool(args, ndim):
    axes = _filtered_axes(args, ndim)
    rank = len(axes)
    size = v.per_axis(args["size"], rank, "size", minimum=1)
    stride = size if args["stride"] is None else v.per_axis(args["stride"], rank, "stride",
                                                            minimum=1)
    dilation = v.per_axis(args["dilation"], rank, "dilation", minimum=1)
    if isinstance(args["padding"], str):
        raise TypeError(f"padding must be an int or per-axis ints / (lo, hi) pairs for "
                        f"pooling, got {args['padding']!r}")
    lo, hi = v.padding_amounts(args["padding"], size, dilation, (0,) * rank)
    ceil_mode = v.as_flag(args["ceil_mode"], "ceil_mode")
    return {a: Windows(s, d * (k - 1), pl, ph, ceil_mode)
            for a, k, s, d, pl, ph in zip(axes, size, stride, dilation, lo, hi)}


#: public function name -> its geometry from the bound arguments and the
#: input's ndim: ``{array axis: Same | Windows}`` for every filtered axis.
GEOMETRY = {
    "correlate": _correlate, "convolve": _correlate,
    "correlate1d": _correlate1d, "convolve1d": _correlate1d,
    "sepfilter": _sepfilter,
    "gaussian": _gaussian_radius, "gaussian_laplace": _gaussian_radius,
    "gaussian_gradient_magnitude": _gaussian_radius,
    "box": _box,
    "sobel": _one_sample, "prewitt": _one_sample, "scharr": _one_sample,
    "laplace": _one_sample, "gradient_magnitude": _one_sample,
    "dilate": _window, "erode": _window, "morph_gradient": _window,
    "opening": lambda args, ndim: _window(args, ndim, 2),
    "closing": lambda args, ndim: _window(args, ndim, 2),
    "tophat": lambda args, ndim: _window(args, ndim, 2),
    "blackhat": lambda args, ndim: _window(args, ndim, 2),
    "median": _window, "rank_filter": _window, "percentile_filter": _window,
    "pool": _pool,
}


def bound_arguments(function, x, args, kwargs):
    """The call's arguments by name, defaults filled in (a TypeError for
    arguments ``function`` does not take, as calling it would raise)."""
    bound = inspect.signature(function).bind(x, *args, **kwargs)
    bound.apply_defaults()
    return bound.arguments


def axis_geometry(function, arguments, ndim):
    """``{array axis: Same | Windows}`` for the filtered axes of a call of
    the public ``function``, in the order the call gives its axes (the order
    of per-axis ``mode`` values); axes not listed are neither read across
    nor resized (channels, unfiltered axes)."""
    geometry = GEOMETRY.get(function.__name__)
    if geometry is None:
        raise NotImplementedError(f"imgconv.{function.__name__} does not run on dask arrays "
                                  f"(the dask backend does not know its footprint)")
    return geometry(arguments, ndim)

"""Filters built on correlation: 1D and separable filtering, Gaussian, box,
derivative operators (Sobel, Prewitt, Scharr, Laplace), gradient magnitude,
and the Gaussian derivatives' Laplacian and gradient magnitude.

Each public function is thin: it normalises its arguments through
``imgconv._validate`` and hands 1D factors or small kernels to the runner in
``imgconv._convolve``, which picks direct or separable evaluation by cost.
"""
import functools
import math
from typing import NamedTuple

import numpy as np

from . import _validate as v
from ._convolve import (Geometry, _plan_cache, cache_plan, fold_kernel, fold_plan,
                        is_complex_call, pass_targets, plan_key, prepare_separable,
                        refuse_complex, run, run_separable, separable_cost, via_real_parts,
                        with_input)
from ._fft import direct_cost
from ._dispatch import device_boundary, select_backend
from ._docstrings import docfiller

__all__ = ["correlate1d", "convolve1d", "sepfilter", "gaussian", "box", "sobel", "prewitt",
           "scharr", "laplace", "gradient_magnitude", "gaussian_laplace",
           "gaussian_gradient_magnitude"]

#: derivative and smoothing taps of the gradient operators (unnormalised, as scipy)
OPERATORS = {
    "sobel": ([-1.0, 0.0, 1.0], [1.0, 2.0, 1.0]),
    "prewitt": ([-1.0, 0.0, 1.0], [1.0, 1.0, 1.0]),
    "scharr": ([-1.0, 0.0, 1.0], [3.0, 10.0, 3.0]),
}


def _weights_1d(w, dtype, name="weights"):
    w = np.asarray(w)
    if w.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {w.dtype}")
    if w.ndim != 1:
        raise ValueError(f"{name} must be 1D, got {w.ndim} dimensions")
    if w.size == 0:
        raise ValueError(f"{name} is empty")
    return np.ascontiguousarray(w, dtype)


def _parts_of(filter_x, x, cval, dtype, out, backend):
    """:func:`imgconv._convolve.via_real_parts` for a filter without a
    kernel argument: ``filter_x(x_part, cval_part, dtype)``."""
    return via_real_parts(lambda x_part, _, cval_part, dtype_part:
                          filter_x(x_part, cval_part, dtype_part),
                          x, cval, dtype, out, backend)


class FactorPlan(NamedTuple):
    """How _run_factors filters an input of one layout: ``inp`` (its
    arguments), the factors, the geometry, and the dense kernel (one n-D
    pass) or scipy's pass order (mode 'zero' with a cval), else None."""

    inp: v.FilterInput
    factors: list
    geom: Geometry
    dense: object
    order: object
    call: object    # the one kernel call of a new result, if that is all it takes
    run: object     # the backend's runner of call (see _convolve.Plan)


def _run_factors(inp, factors, origin, stride, dilation, dtype, out, threads, scipy_order=None,
                 key=None):
    """Correlate with the outer product of ``factors`` (None: axis untouched),
    'same' padding: as 1D passes, or as one n-D pass when that is cheaper.

    ``scipy_order``: the axes in the order scipy.ndimage's sequential filter
    runs its passes.  With mode 'zero' and a nonzero cval, scipy pads every
    pass with cval, which only the 1D passes, in that order, reproduce.
    ``key``: the plan's key (``_convolve.plan_key`` of the call, for an
    input the checks passed as it is), to plan it once.
    """
    plan = None if key is None else _plan_cache.get(key)
    if plan is None:
        plan = _factor_plan(inp, factors, origin, stride, dilation, scipy_order, dtype)
        cache_plan(key, plan._replace(inp=inp._replace(x=None)))
    return _run_factor_plan(inp, plan, dtype, out, threads)


def _factor_plan(inp, factors, origin, stride, dilation, scipy_order, dtype):
    kshape = tuple(1 if f is None else len(f) for f in factors)
    origin = v.check_origin(origin, kshape)
    geom = Geometry(inp, kshape, "same", stride, dilation, origin)
    out_dtype = v.output_dtype(dtype, inp.compute)
    if scipy_order is not None and inp.pads_cval:
        order = [a for a in scipy_order if factors[a] is not None]
        return FactorPlan(inp, factors, geom, None, order,
                          prepare_separable(inp, factors, geom, out_dtype, True, order),
                          inp.backend.run_direct)
    if any(f is not None for f in factors) and inp.rank > 1 and not inp.mixed:
        # (axes of different modes: the passes, each padding its own axis)
        # the outer product's nonzero taps, counted without building it
        taps = math.prod(int(np.count_nonzero(f)) for f in factors if f is not None)
        if direct_cost(geom.out_shape, max(1, taps)) < separable_cost(inp, factors, geom):
            dense = np.ones((), inp.compute)
            for f in factors:
                dense = np.multiply.outer(dense, np.ones(1, inp.compute) if f is None else f)
            # as run(.., 'direct', ..) calls it
            weights, folded = fold_kernel(inp, dense, geom)
            call = inp.backend.prepare_direct(inp, weights, folded.pad_lo, folded.stride,
                                              folded.dilation, inp.cval,
                                              inp.full_shape(folded.out_shape), out_dtype)
            return FactorPlan(inp, factors, geom, dense, None, call, inp.backend.run_direct)
    return FactorPlan(inp, factors, geom, None, None,
                      prepare_separable(inp, factors, geom, out_dtype), inp.backend.run_direct)


def _run_factor_plan(inp, plan, dtype, out, threads):
    if plan.call is not None and out is None:
        return plan.run(plan.call, inp.x, threads)
    if plan.order is not None:
        fill = lambda target: run_separable(inp, plan.factors, plan.geom, target, threads,
                                            scipy_cval=True, order=plan.order)
    elif plan.dense is not None:
        fill = lambda target: run(inp, plan.dense, plan.geom, "direct", target, threads)
    else:
        fill = lambda target: run_separable(inp, plan.factors, plan.geom, target, threads)
    return inp.backend.fill_output(inp, plan.geom.out_shape, dtype, out, fill)


@device_boundary
@docfiller
def correlate1d(x, weights, axis=-1, *, mode="reflect", cval=0.0, origin=0, channel_axis=None,
                dtype=None, out=None, backend="auto", threads=None):
    """Correlate along one axis with a 1D kernel (= ``scipy.ndimage.correlate1d``).

    Parameters
    ----------
    x : array_like
        Input of any rank; ``axis`` is one of its array axes (not the channel
        axis), every other axis is filtered independently.
    weights : array_like
        1D kernel, real or complex (a complex kernel is conjugated, as
        scipy.ndimage.correlate1d does); its centre tap is
        ``len(weights)//2 + origin``.
    axis : int
        Array axis to filter along.
    origin : int
        Shift of the centre tap.
    %(mode)s
    %(cval)s
    %(channel_axis)s
    %(dtype)s
    %(out)s
    %(threads)s

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> ic.correlate1d(np.arange(5.0), [1, 0, -1])
    array([ 0., -2., -2., -2.,  0.])
    >>> ic.correlate1d(np.array([0, 1j, 0]), [1j, 2, 3], mode='zero')   # conjugated
    array([0.+3.j, 0.+2.j, 1.+0.j])
    """
    if is_complex_call(x, cval, dtype, out, (weights,)):
        # conjugated complex weights, as scipy.ndimage.correlate1d (and np.correlate)
        return via_real_parts(
            lambda x_part, kernels, cval_part, dtype_part: correlate1d(
                x_part, kernels[0], axis, mode=mode, cval=cval_part, origin=origin,
                channel_axis=channel_axis, dtype=dtype_part, backend=backend,
                threads=threads),
            x, cval, dtype, out, backend, (weights,), conjugate=True)
    # one axis filtered, every other one batch-like: any rank, as scipy
    inp = v.filter_input(x, mode, cval, channel_axis, (v.as_int(axis, "axis"),),
                         axes_name="axis", backend=select_backend(x, backend), dtype=dtype,
                         out=out)
    return _run_factors(inp, [_weights_1d(weights, inp.compute)], origin, 1, 1, dtype, out,
                        threads)


@device_boundary
def convolve1d(x, weights, axis=-1, *, mode="reflect", cval=0.0, origin=0, channel_axis=None,
               dtype=None, out=None, backend="auto", threads=None):
    """Convolve along one axis with a 1D kernel (= ``scipy.ndimage.convolve1d``).

    The kernel is flipped and its centre mirrored (for even sizes the centre
    moves one tap down), as scipy does; see :func:`correlate1d` for the
    parameters.

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> ic.convolve1d(np.arange(5.0), [1, 0, -1])
    array([0., 2., 2., 2., 0.])
    """
    w = np.asarray(weights)
    if w.ndim == 1 and w.size:
        origin = -v.per_axis(origin, 1, "origin")[0] - (1 - w.size % 2)
        # conjugated here, so correlate1d's conjugation gives the weights back
        w = w[::-1].conj() if w.dtype.kind == "c" else w[::-1]
    return correlate1d(x, w, axis, mode=mode, cval=cval, origin=origin, channel_axis=channel_axis,
                       dtype=dtype, out=out, backend=backend, threads=threads)


@device_boundary
@docfiller
def sepfilter(x, kernels, *, mode="reflect", cval=0.0, origin=0, stride=1, dilation=1,
              channel_axis=None, axes=None, dtype=None, out=None, backend="auto", threads=None):
    """Separable filter: one 1D kernel per spatial axis, applied in turn.

    Equals :func:`imgconv.correlate` with the outer product of the kernels
    (padding 'same'), computed as one pass per axis.

    Parameters
    ----------
    x : array_like
        Input image or volume.
    kernels : sequence
        One 1D kernel per spatial axis (in the order of ``axes``, default array
        order); ``None`` skips an axis.  Complex kernels are conjugated, as
        :func:`imgconv.correlate` conjugates their outer product.
    origin, stride, dilation : int or tuple of int
        Per spatial axis, as :func:`imgconv.correlate`.
    %(filter_options)s

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> img = np.zeros((5, 5), np.float32); img[2, 2] = 1
    >>> ic.sepfilter(img, [[1, 2, 1], [1, 2, 1]], mode='zero')[1:4, 1:4]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]], dtype=float32)
    """
    if (isinstance(kernels, (list, tuple))
            and is_complex_call(x, cval, dtype, out, [k for k in kernels if k is not None])):
        # the outer product's conjugate is the product of the conjugates:
        # conjugated factors, as correlate conjugates a kernel
        return via_real_parts(
            lambda x_part, factors, cval_part, dtype_part: sepfilter(
                x_part, factors, mode=mode, cval=cval_part, origin=origin, stride=stride,
                dilation=dilation, channel_axis=channel_axis, axes=axes, dtype=dtype_part,
                backend=backend, threads=threads),
            x, cval, dtype, out, backend, kernels, conjugate=True)
    inp = v.filter_input(x, mode, cval, channel_axis, axes, backend=select_backend(x, backend),
                         dtype=dtype, out=out)
    if isinstance(kernels, np.ndarray) and kernels.ndim != 1 or isinstance(kernels, (str, bytes)):
        raise TypeError("kernels must be a sequence with one 1D kernel (or None) per spatial axis")
    try:
        kernels = list(kernels)
    except TypeError:
        raise TypeError("kernels must be a sequence with one 1D kernel (or None) per spatial axis") from None
    if len(kernels) != inp.rank:
        raise ValueError(f"kernels has {len(kernels)} entries but the input has {inp.rank} "
                         "spatial axes; give one 1D kernel (or None) per axis")
    factors = [None if k is None else _weights_1d(k, inp.compute, f"kernels[{i}]")
               for i, k in enumerate(kernels)]
    return _run_factors(inp, factors, origin, stride, dilation, dtype, out, threads)


#: A folded Gaussian (kernel longer than the image's padding period) whose
#: radius exceeds this, and whose fold repeats every ``step`` taps with
#: step <= EM_MAX_STEP * sigma, sums each folded tap by Euler-Maclaurin:
#: no cost or memory in proportion to sigma.  Below, the taps are summed
#: one by one, in chunks of GAUSSIAN_CHUNK.
GAUSSIAN_EXACT_TAPS = 1 << 18
EM_MAX_STEP = 0.01
GAUSSIAN_CHUNK = 1 << 16


def _hermite(u, order):
    """The probabilists' Hermite polynomial He_order at ``u``."""
    he_prev, he = np.zeros_like(u), np.ones_like(u)
    for n in range(order):
        he_prev, he = he, u * he - n * he_prev
    return he


def _gaussian_taps(offsets, sigma, order):
    """Unnormalised correlation taps of the ``order``-th Gaussian derivative
    at ``offsets``: the derivative filter is a convolution, so a tap at
    offset o holds (-1/sigma)^n He_n(-o/sigma) phi(o) = sigma^-n He_n(o/sigma) phi(o)."""
    u = offsets / sigma
    return sigma ** -order * _hermite(u, order) * np.exp(-0.5 * u * u)


_erf = np.vectorize(math.erf, otypes=[np.float64])

#: Euler-Maclaurin's B_2j / (2j)! for j = 1, 2, 3
_EM_COEFFS = (1 / 12, -1 / 720, 1 / 30240)


def _gaussian_sums(first, count, step, sigma, order):
    """sum over k < count of _gaussian_taps(first + k * step), per element
    of the int arrays ``first`` and ``count`` (>= 1), by Euler-Maclaurin: the
    integral, half the end terms and three derivative corrections, the j-th
    of relative size (step / sigma)^(2j), so with step << sigma the error is
    far below float64 rounding of the sum itself."""
    first = np.asarray(first, np.float64)
    last = first + (np.asarray(count, np.float64) - 1) * step
    a, b = first / sigma, last / sigma
    phi_a, phi_b = np.exp(-0.5 * a * a), np.exp(-0.5 * b * b)
    if order == 0:
        integral = sigma * math.sqrt(math.pi / 2) * (_erf(b / math.sqrt(2)) - _erf(a / math.sqrt(2)))
    else:
        # He_n phi = -(He_{n-1} phi)' in u
        integral = sigma ** (1 - order) * (_hermite(a, order - 1) * phi_a
                                           - _hermite(b, order - 1) * phi_b)
    total = integral / step + 0.5 * (_gaussian_taps(first, sigma, order)
                                     + _gaussian_taps(last, sigma, order))
    for j, coeff in enumerate(_EM_COEFFS, 1):
        m = 2 * j - 1
        # d^m/do^m of sigma^-n He_n(o/sigma) phi = sigma^-n (-1/sigma)^m He_{n+m} phi
        scale = coeff * step ** m * sigma ** -order * (-1.0 / sigma) ** m
        total += scale * (_hermite(b, order + m) * phi_b - _hermite(a, order + m) * phi_a)
    return total


def _folded_sums(sigma, order, radius, fold):
    """The taps at offsets -radius..radius summed into ``fold``'s taps
    (unnormalised), each folded tap by :func:`_gaussian_sums`."""
    low, length = fold.low, fold.length
    if fold.period:
        # tap i gathers the offsets = low + i (mod period) in [-radius, radius]
        i = np.arange(length, dtype=np.int64)
        first = -radius + (low + i + radius) % fold.period
        return _gaussian_sums(first, (radius - first) // fold.period + 1, fold.period, sigma,
                              order)
    if length == 1:
        return _gaussian_sums([-radius], [2 * radius + 1], 1, sigma, order)
    # the end taps gather the offsets beyond them, every other tap one offset
    offsets = np.arange(low, low + length, dtype=np.int64)
    inside = (offsets >= -radius) & (offsets <= radius)
    taps = np.where(inside, _gaussian_taps(offsets.astype(np.float64), sigma, order), 0.0)
    if -radius <= low:
        taps[0] = _gaussian_sums([-radius], [low + radius + 1], 1, sigma, order)[0]
    high = low + length - 1
    if high <= radius:
        taps[-1] = _gaussian_sums([high], [radius - high + 1], 1, sigma, order)[0]
    return taps


@functools.lru_cache(maxsize=256)
def gaussian_kernel1d(sigma, order, radius, fold=None):
    """Taps of the ``order``-th derivative of a Gaussian, for correlation,
    at offsets -radius..radius, or summed into ``fold``'s taps (a
    :class:`imgconv._convolve.Fold`) without an array of 2 * radius + 1
    taps.  Read-only: the recent ones are kept, as computing them costs more
    than filtering a small image.

    The n-th derivative of exp(-t^2 / 2 sigma^2) is (-1/sigma)^n He_n(t/sigma)
    times the Gaussian, He_n being the probabilists' Hermite polynomials; the
    Gaussian is normalised to sum 1 on the sampled taps (as scipy).
    """
    if fold is None:
        t = np.arange(-radius, radius + 1, dtype=np.float64)
        phi = np.exp(-0.5 * (t / sigma) ** 2)
        phi /= phi.sum()
        u = t / sigma
        taps = ((-1.0 / sigma) ** order * _hermite(u, order) * phi)[::-1].copy()
    elif radius > GAUSSIAN_EXACT_TAPS and max(fold.period, 1) <= EM_MAX_STEP * sigma:
        taps = _folded_sums(sigma, order, radius, fold)
        taps /= (taps.sum() if order == 0 else
                 _gaussian_sums([-radius], [2 * radius + 1], 1, sigma, 0)[0])
    else:
        taps, total = np.zeros(fold.length), 0.0
        for start in range(-radius, radius + 1, GAUSSIAN_CHUNK):
            offsets = np.arange(start, min(start + GAUSSIAN_CHUNK, radius + 1), dtype=np.int64)
            u = offsets / sigma
            total += np.exp(-0.5 * u * u).sum()
            taps += np.bincount(fold.index(offsets), _gaussian_taps(offsets, sigma, order),
                                minlength=fold.length)
        taps /= total
    taps.flags.writeable = False
    return taps


def _compute_taps(taps, compute, order):
    """float64 ``taps`` in the compute type; a smoothing kernel's float32
    taps then still sum to 1 as closely as float32 allows (its largest tap
    takes the rounding of all the others), so a filtered image keeps its mean."""
    result = taps.astype(compute)
    if order == 0 and compute != np.float64:
        centre = np.argmax(result)
        result[centre] = float(result[centre]) + (1.0 - np.sum(result, dtype=np.float64))
    return result


@functools.lru_cache(maxsize=256)
def gaussian_factor(sigma, order, radius, fold, compute, spacing=1.0):
    """:func:`gaussian_kernel1d` through :func:`_compute_taps`, kept (read-only).
    ``spacing``: the sample spacing, which turns a derivative per sample into
    one per unit of spacing (the taps divided by ``spacing ** order``, in
    float64)."""
    taps = gaussian_kernel1d(sigma, order, radius, fold)
    if order and spacing != 1.0:
        taps = taps * spacing ** -order
    taps = _compute_taps(taps, compute, order)
    taps.flags.writeable = False
    return taps


def gaussian_axes(rank, sigma, truncate, spacing, radius):
    """The Gaussian's sigma in samples, the spacing (1 without ``spacing``)
    and the kernel's (radius, what set it) in samples per spatial axis of
    ``rank``, checked: ``radius`` where given, else ``int(truncate * sigma +
    0.5)`` (scipy's rule).  Pure: the dask backend sizes its halos by it."""
    sigmas = v.per_axis_float(sigma, rank, "sigma", minimum=0.0)
    truncate = v.per_axis_float(truncate, 1, "truncate", minimum=0.0)[0]
    if spacing is None:
        spacings = (1.0,) * rank
    else:
        spacings = v.per_axis_float(spacing, rank, "spacing", minimum=0.0, strict=True)
        sigmas = tuple(s / d for s, d in zip(sigmas, spacings))
    if radius is None:
        radii = tuple(int(truncate * s + 0.5) for s in sigmas)
        why = tuple(f"sigma={s:g} with truncate={truncate:g}" for s in sigmas)
    else:
        radii = v.per_axis(radius, rank, "radius", minimum=0)
        why = tuple(f"radius={r}" for r in radii)
    return sigmas, spacings, tuple(zip(radii, why))


def _gaussian_factors(inp, sigmas, orders, spacings, radii):
    """The 1D factors (None where sigma is 0) and origins of a Gaussian of
    ``sigmas`` (samples) and derivative ``orders`` per spatial axis, the
    derivatives per unit of ``spacings``, ``radii`` (radius, why) the
    kernels' radii and what set them."""
    factors, origins = [], []
    for a, (s, n, d, (radius, why)) in enumerate(zip(sigmas, orders, spacings, radii)):
        if s == 0:
            if n:
                raise ValueError(f"order={n} on axis {inp.axes[a]} needs sigma > 0 there")
            factors.append(None)
            origins.append(0)
            continue
        size = inp.spatial_shape[a]
        # a kernel longer than the padding's period is folded as its taps
        # are made: time and memory bounded by the image, whatever sigma
        fold = fold_plan(inp.mode_of(a), size, size, 1, 2 * radius + 1)
        v.check_kernel_length(2 * radius + 1, why,
                              v.MAX_AXIS_SAMPLES if fold is None else v.MAX_FOLDED_SAMPLES)
        factors.append(gaussian_factor(s, n, radius, fold, inp.compute, d))
        # the fold's own padding, as an origin of the 'same' geometry
        origins.append(0 if fold is None else fold.pad_lo - fold.length // 2)
    return factors, origins


@device_boundary
@docfiller
def gaussian(x, sigma, *, order=0, truncate=4.0, radius=None, spacing=None, mode="reflect",
             cval=0.0, channel_axis=None, axes=None, dtype=None, out=None, backend="auto",
             threads=None):
    """Gaussian filter (= ``scipy.ndimage.gaussian_filter``), optionally a derivative.

    Parameters
    ----------
    %(x_filter)s
    sigma : float or sequence of float
        Standard deviation per spatial axis (pixels, or physical units with
        ``spacing``); 0 leaves an axis unsmoothed.
    order : int or sequence of int
        Derivative order per axis (0 = smoothing only).
    %(truncate_radius)s
    spacing : float or sequence of float, optional
        Voxel size per spatial axis (array order, e.g. from a NIfTI header);
        sigma is then in the same physical units, and a derivative is per
        unit of them: ``gaussian_filter(x, sigma / spacing, order)`` divided
        by ``spacing ** order`` on each axis.
    %(filter_options)s

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> img = np.zeros((9, 9), np.float32); img[4, 4] = 1
    >>> float(ic.gaussian(img, 1.0, mode='zero').sum().round(4))
    1.0
    >>> vol = np.random.default_rng(0).random((8, 16, 16), dtype=np.float32)
    >>> ic.gaussian(vol, 1.0, spacing=(2.5, 0.8, 0.8)).shape   # sigma 1 mm
    (8, 16, 16)
    >>> ic.gaussian(np.arange(7.0), 1.0, radius=1).round(3)    # a 3-tap kernel
    array([0.548, 1.   , 2.   , 3.   , 4.   , 5.   , 5.452])
    """
    key = plan_key(x, ("gaussian", sigma, order, truncate, radius, spacing, mode, cval,
                       channel_axis, axes, dtype, backend), out=out)
    plan = None if key is None else _plan_cache.get(key)
    if plan is not None:   # a repeated call: checked and planned already
        if plan.call is not None and out is None:
            return plan.run(plan.call, x, threads)     # x as the plan was made for
        return _run_factor_plan(with_input(plan, x), plan, dtype, out, threads)
    if is_complex_call(x, cval, dtype, out):
        return _parts_of(lambda x_part, cval_part, dtype_part: gaussian(
            x_part, sigma, order=order, truncate=truncate, radius=radius, spacing=spacing,
            mode=mode,
            cval=cval_part, channel_axis=channel_axis, axes=axes, dtype=dtype_part,
            backend=backend, threads=threads), x, cval, dtype, out, backend)
    inp = v.filter_input(x, mode, cval, channel_axis, axes, backend=select_backend(x, backend),
                         dtype=dtype, out=out)
    sigmas, spacings, radii = gaussian_axes(inp.rank, sigma, truncate, spacing, radius)
    orders = v.per_axis(order, inp.rank, "order", minimum=0)
    factors, origins = _gaussian_factors(inp, sigmas, orders, spacings, radii)
    return _run_factors(inp, factors, origins, 1, 1, dtype, out, threads,
                        scipy_order=range(inp.rank), key=key if inp.x is x else None)


@device_boundary
@docfiller
def box(x, size, *, mode="reflect", cval=0.0, origin=0, channel_axis=None, axes=None, dtype=None,
        out=None, backend="auto", threads=None):
    """Mean over a box of ``size`` samples per axis (= ``scipy.ndimage.uniform_filter``).

    Running sums along each axis: the cost per sample does not depend on the
    size.  As in scipy, a NaN or inf spreads along the rest of its line.

    Parameters
    ----------
    %(x_filter)s
    size : int or sequence of int
        Box size per spatial axis (>= 1).
    origin : int or sequence of int
        Shift of the box centre ``size//2 + origin``.
    %(filter_options)s

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> ic.box(np.arange(5.0), 3, mode='replicate').round(3)
    array([0.333, 1.   , 2.   , 3.   , 3.667])

    One mode per axis: rows wrap round, columns pad with zeros

    >>> ic.box(np.arange(6.0).reshape(2, 3), 3, mode=('wrap', 'zero')).round(3)
    array([[1.667, 3.   , 2.333],
           [1.   , 2.   , 1.667]])
    """
    key = plan_key(x, ("box", size, mode, cval, origin, channel_axis, axes, dtype, backend),
                   out=out)
    plan = None if key is None else _plan_cache.get(key)
    if plan is None:
        if is_complex_call(x, cval, dtype, out):
            return _parts_of(lambda x_part, cval_part, dtype_part: box(
                x_part, size, mode=mode, cval=cval_part, origin=origin,
                channel_axis=channel_axis, axes=axes, dtype=dtype_part,
                backend=backend, threads=threads), x, cval, dtype, out, backend)
        inp = v.filter_input(x, mode, cval, channel_axis, axes,
                             backend=select_backend(x, backend), dtype=dtype, out=out)
        key = key if inp.x is x else None
        plan = _box_plan(inp, size, origin, dtype, key)
        if type(plan) is not BoxPlan:
            # a box longer than the padding's period: a short correlation
            return _run_factors(inp, *plan, 1, 1, dtype, out, threads, key=key)
        cache_plan(key, plan._replace(inp=inp._replace(x=None)))
        if plan.call is not None and out is None:
            return plan.run(plan.call, inp.x, threads)
    else:
        if plan.call is not None and out is None:
            # a new result: the prepared kernel calls, nothing checked again
            # (a BoxPlan's or a fold's FactorPlan), on x as the plan was made for
            return plan.run(plan.call, x, threads)
        inp = with_input(plan, x)
        if type(plan) is not BoxPlan:
            return _run_factor_plan(inp, plan, dtype, out, threads)
    return inp.backend.fill_output(inp, inp.spatial_shape, dtype, out,
                                   lambda target: _box_passes(inp, plan.passes, target, threads))


def _box_passes(inp, passes, out, threads):
    """box's running-sum ``passes`` over ``inp.x`` into ``out``."""
    backend = inp.backend
    if not passes:
        return backend.store(inp.x, out)
    # the mean of a constant border is that constant, so every pass pads with cval
    current = inp.x
    targets = pass_targets(inp, out, len(passes), True, lambda: inp.x.shape)
    for (a, k, pad_lo), target in zip(passes, targets):
        backend.box_pass(inp.along(a), current, a, k, pad_lo, target, threads)
        current = target
    return out


class BoxPlan(NamedTuple):
    """How :func:`box` filters an input of one layout by running sums:
    ``inp`` (its arguments), the passes ((spatial axis, size, pad_lo) each,
    in order) and their prepared kernel calls into a new array
    (``backend.prepare_box``, e.g. ``_cpu.BoxCall``), or None."""

    inp: v.FilterInput
    passes: tuple
    call: object
    run: object     # the backend's runner of call (see _convolve.Plan)


def _box_plan(inp, size, origin, dtype, key):
    """box's :class:`BoxPlan`, or, for a box longer than the padding's
    period, the factors and origins of its fold (for _run_factors)."""
    sizes = v.per_axis(size, inp.rank, "size", minimum=1)
    origin = v.check_origin(origin, sizes)
    geom = Geometry(inp, sizes, "same", 1, 1, origin)
    folds = [fold_plan(inp.mode_of(a), n, n, 1, k)
             for a, (n, k) in enumerate(zip(inp.spatial_shape, sizes))]
    if any(folds):
        # running sums cost time in proportion to a box longer than the
        # padding's period; its fold, a short kernel, does not
        factors, origins = [], []
        for a, (k, fold) in enumerate(zip(sizes, folds)):
            if fold is None:
                factors.append(None if k == 1 else np.full(k, 1.0 / k))
                origins.append(origin[a])
            else:
                factors.append(fold.count_run(-geom.pad_lo[a], k) / k)
                origins.append(fold.pad_lo - fold.length // 2)
        factors = [None if f is None else f.astype(inp.compute) for f in factors]
        return factors, origins
    out_dtype = v.output_dtype(dtype, inp.compute)
    passes = tuple((a, sizes[a], geom.pad_lo[a])
                   for a in sorted((a for a in range(inp.rank) if sizes[a] > 1), reverse=True))
    # (the prepared calls take one mode: axes of different modes take _box_passes)
    call = inp.backend.prepare_box(inp, passes, out_dtype) if passes and not inp.mixed else None
    return BoxPlan(inp, passes, call, inp.backend.run_box)


def _derivative_first(axis, inp):
    """scipy.ndimage.sobel's pass order (spatial axes): the derivative, then
    the other axes in array order (whatever order ``axes`` gives them in),
    which matters where cval pads every pass."""
    return [axis] + sorted((a for a in range(inp.rank) if a != axis), key=lambda a: inp.axes[a])


def _derivative_factors(inp, axis, operator):
    deriv, smooth = (np.asarray(t, inp.compute) for t in OPERATORS[operator])
    return [deriv if a == axis else smooth for a in range(inp.rank)]


def _derivative_pass(inp, a, operator, dtype, out, threads, key):
    """The derivative along spatial axis ``a``, by the plan under ``key``
    where there is one (its factors are not built again)."""
    plan = None if key is None else _plan_cache.get(key)
    if plan is not None:
        return _run_factor_plan(inp, plan, dtype, out, threads)
    return _run_factors(inp, _derivative_factors(inp, a, operator), 0, 1, 1, dtype, out,
                        threads, scipy_order=_derivative_first(a, inp), key=key)


class MagnitudePlan(NamedTuple):
    """A gradient magnitude's checked arguments, for repeated calls."""

    inp: v.FilterInput
    call: object            # the fused sweep into a new array
                            # (backend.prepare_gradient_magnitude), or None
    run: object             # the backend's runner of call (see _convolve.Plan)


def _gradient(x, axis, operator, mode, cval, channel_axis, axes, dtype, out, backend, threads):
    # the plan of pass a (one per axis for the magnitude) under (key, a)
    key = plan_key(x, (operator, axis, mode, cval, channel_axis, axes, dtype, backend), out=out)
    plan = None if key is None else _plan_cache.get((key, 0))
    if plan is not None:   # a repeated call: checked already
        if out is None and type(plan) is MagnitudePlan and plan.call is not None:
            return plan.run(plan.call, x, threads)
        inp = with_input(plan, x)
    else:
        if is_complex_call(x, cval, dtype, out):
            if axis is None:    # the magnitude
                refuse_complex(x, f"the {operator} gradient magnitude (gradient_magnitude, "
                                  f"or {operator} with axis=None)")
            return _parts_of(lambda x_part, cval_part, dtype_part: _gradient(
                x_part, axis, operator, mode, cval_part, channel_axis, axes, dtype_part,
                None, backend, threads), x, cval, dtype, out, backend)
        inp = v.filter_input(x, mode, cval, channel_axis, axes,
                             backend=select_backend(x, backend), dtype=dtype, out=out)
        key = key if inp.x is x else None
    if axis is not None:
        a = v.spatial_axis(axis, inp)
        return _derivative_pass(inp, a, operator, dtype, out, threads, key and (key, 0))
    backend = inp.backend
    if backend.has_fused_gradient and not inp.pads_cval and not inp.mixed:
        # one fused sweep; mode 'zero' with a nonzero cval takes the passes
        # below, which pad every pass with cval as scipy's sequential filters
        # do, and so do axes of different modes (a pass pads its own axis)
        deriv, smooth = OPERATORS[operator]
        if plan is None and key is not None:
            call = backend.prepare_gradient_magnitude(inp, deriv, smooth,
                                                      v.output_dtype(dtype, inp.compute))
            cache_plan((key, 0), MagnitudePlan(inp._replace(x=None), call,
                                               backend.run_gradient_magnitude))
        return backend.fill_output(inp, inp.spatial_shape, dtype, out, lambda target:
                                   backend.gradient_magnitude(inp, deriv, smooth, target, threads))
    return _sum_over_axes(inp, lambda a: _derivative_pass(inp, a, operator, None, None, threads,
                                                         key and (key, a)),
                          True, dtype, out)


def _sum_over_axes(inp, derivative, magnitude, dtype, out):
    """The sum over the spatial axes ``a`` of ``derivative(a)`` (a new
    compute-typed array), or with ``magnitude`` the square root of the sum
    of their squares, into a result of ``dtype`` or ``out``.  Element-wise
    in the backend's namespace: the passes' results are its arrays."""
    backend = inp.backend
    xp = backend.xp
    total = None
    for a in range(inp.rank):
        d = derivative(a)
        # inf - inf and overflows as IEEE says, without warnings, as the kernels
        with np.errstate(invalid="ignore", over="ignore"):
            if magnitude:
                xp.square(d, out=d)
            total = d if total is None else xp.add(total, d, out=total)
    if magnitude:
        xp.sqrt(total, out=total)
    if out is None and (dtype is None or v.output_dtype(dtype, inp.compute) == total.dtype):
        return total
    result = backend.output_array(inp, inp.spatial_shape, dtype, out)
    return backend.store(total, result)


@device_boundary
@docfiller
def sobel(x, axis=None, *, mode="reflect", cval=0.0, channel_axis=None, axes=None, dtype=None,
          out=None, backend="auto", threads=None):
    """Sobel derivative along ``axis``, or the gradient magnitude.

    Along ``axis`` the kernel is ``[-1, 0, 1]`` (unnormalised, as scipy), and
    ``[1, 2, 1]`` along every other spatial axis, so it works in 1D, 2D and 3D.
    With ``axis=None`` the result is ``sqrt(sum over spatial axes a of
    sobel(x, a)**2)``.

    Parameters
    ----------
    %(x_filter)s
    %(axis_derivative)s
    %(filter_options)s

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> ramp = np.tile(np.arange(5, dtype=np.float32), (3, 1))
    >>> ic.sobel(ramp, axis=1)[1]
    array([0., 8., 8., 8., 0.], dtype=float32)
    """
    return _gradient(x, axis, "sobel", mode, cval, channel_axis, axes, dtype, out, backend,
                     threads)


@device_boundary
@docfiller
def prewitt(x, axis=None, *, mode="reflect", cval=0.0, channel_axis=None, axes=None, dtype=None,
            out=None, backend="auto", threads=None):
    """Prewitt derivative along ``axis``, or the gradient magnitude.

    Along ``axis`` the kernel is ``[-1, 0, 1]`` (unnormalised, as scipy), and
    ``[1, 1, 1]`` along every other spatial axis, so it works in 1D, 2D and 3D.
    With ``axis=None`` the result is ``sqrt(sum over spatial axes a of
    prewitt(x, a)**2)``.

    Parameters
    ----------
    %(x_filter)s
    %(axis_derivative)s
    %(filter_options)s

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> ramp = np.tile(np.arange(5, dtype=np.float32), (3, 1))
    >>> ic.prewitt(ramp, axis=1)[1]
    array([0., 6., 6., 6., 0.], dtype=float32)
    """
    return _gradient(x, axis, "prewitt", mode, cval, channel_axis, axes, dtype, out, backend,
                     threads)


@device_boundary
@docfiller
def scharr(x, axis=None, *, mode="reflect", cval=0.0, channel_axis=None, axes=None, dtype=None,
           out=None, backend="auto", threads=None):
    """Scharr derivative along ``axis``, or the gradient magnitude.

    Along ``axis`` the kernel is ``[-1, 0, 1]`` (unnormalised, as scipy), and
    ``[3, 10, 3]`` along every other spatial axis, so it works in 1D, 2D and 3D.
    With ``axis=None`` the result is ``sqrt(sum over spatial axes a of
    scharr(x, a)**2)``.

    Parameters
    ----------
    %(x_filter)s
    %(axis_derivative)s
    %(filter_options)s

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> ramp = np.tile(np.arange(5, dtype=np.float32), (3, 1))
    >>> ic.scharr(ramp, axis=1)[1]
    array([ 0., 32., 32., 32.,  0.], dtype=float32)
    """
    return _gradient(x, axis, "scharr", mode, cval, channel_axis, axes, dtype, out, backend,
                     threads)


@device_boundary
@docfiller
def gradient_magnitude(x, operator="sobel", *, mode="reflect", cval=0.0, channel_axis=None,
                       axes=None, dtype=None, out=None, backend="auto", threads=None):
    """Gradient magnitude ``sqrt(sum_a d_a(x)**2)`` with a derivative operator.

    Parameters
    ----------
    %(x_filter)s
    operator : {'sobel', 'prewitt', 'scharr'}
        Derivative operator (see :func:`sobel`).
    %(filter_options)s

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> ramp = np.tile(np.arange(5, dtype=np.float32), (3, 1))
    >>> ic.gradient_magnitude(ramp, 'prewitt')[1, 2]
    np.float32(6.0)
    """
    if not isinstance(operator, str) or operator not in OPERATORS:
        raise ValueError(f"operator must be one of {tuple(OPERATORS)}, got {operator!r}")
    return _gradient(x, None, operator, mode, cval, channel_axis, axes, dtype, out, backend,
                     threads)


@device_boundary
@docfiller
def laplace(x, *, mode="reflect", cval=0.0, channel_axis=None, axes=None, dtype=None, out=None,
            backend="auto", threads=None):
    """Discrete Laplacian: sum over spatial axes of ``[1, -2, 1]`` (= ``scipy.ndimage.laplace``).

    Computed as one pass with the (2 * rank + 1)-tap stencil.

    Parameters
    ----------
    %(x_filter)s
    %(filter_options)s

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> ic.laplace(np.array([0., 1., 4., 9., 16.]), mode='replicate')
    array([ 1.,  2.,  2.,  2., -7.])
    """
    if is_complex_call(x, cval, dtype, out):
        return _parts_of(lambda x_part, cval_part, dtype_part: laplace(
            x_part, mode=mode, cval=cval_part, channel_axis=channel_axis, axes=axes,
            dtype=dtype_part, backend=backend, threads=threads),
            x, cval, dtype, out, backend)
    inp = v.filter_input(x, mode, cval, channel_axis, axes, backend=select_backend(x, backend),
                         dtype=dtype, out=out)
    stencil = np.zeros((3,) * inp.rank, inp.compute)
    centre = (1,) * inp.rank
    stencil[centre] = -2.0 * inp.rank
    for a in range(inp.rank):
        for side in (0, 2):
            idx = list(centre)
            idx[a] = side
            stencil[tuple(idx)] = 1.0
    geom = Geometry(inp, stencil.shape, "same", 1, 1, 0)
    return inp.backend.fill_output(inp, geom.out_shape, dtype, out,
                                   lambda target: run(inp, stencil, geom, "direct", target,
                                                      threads))


def _gaussian_derivative_sum(x, sigma, order, name, truncate, radius, spacing, mode, cval,
                             channel_axis, axes, dtype, out, backend, threads):
    """The sum over the spatial axes of the Gaussian derivative of ``order``
    (2: the Laplacian of Gaussian; 1: the square root of the sum of squares,
    the gradient magnitude) along each, the others smoothed."""
    # the plan of the pass along axis a under (key, a), as _gradient's
    key = plan_key(x, (name, sigma, truncate, radius, spacing, mode, cval, channel_axis, axes,
                       dtype, backend), out=out)
    plan = None if key is None else _plan_cache.get((key, 0))
    if plan is not None:   # a repeated call: checked already
        inp = with_input(plan, x)
    else:
        if is_complex_call(x, cval, dtype, out):
            if order == 1:
                refuse_complex(x, name)
            return _parts_of(lambda x_part, cval_part, dtype_part:
                             _gaussian_derivative_sum(x_part, sigma, order, name, truncate,
                                                      radius, spacing, mode, cval_part,
                                                      channel_axis, axes, dtype_part, None,
                                                      backend, threads),
                             x, cval, dtype, out, backend)
        inp = v.filter_input(x, mode, cval, channel_axis, axes,
                             backend=select_backend(x, backend), dtype=dtype, out=out)
        key = key if inp.x is x else None
    axes_of_gaussian = functools.cache(lambda: gaussian_axes(inp.rank, sigma, truncate,
                                                             spacing, radius))
    if plan is None:
        sigmas = axes_of_gaussian()[0]
        if min(sigmas) == 0:
            # scipy skips such an axis, order and all, adding a smoothed copy
            # of the image instead of a derivative
            raise ValueError(f"{name} needs sigma > 0 on every filtered axis, got {sigma!r}")

    def derivative(a):
        pass_key = key and (key, a)
        cached = None if pass_key is None else _plan_cache.get(pass_key)
        if cached is not None:
            return _run_factor_plan(inp, cached, None, None, threads)
        sigmas, spacings, radii = axes_of_gaussian()
        orders = [order if b == a else 0 for b in range(inp.rank)]
        factors, origins = _gaussian_factors(inp, sigmas, orders, spacings, radii)
        return _run_factors(inp, factors, origins, 1, 1, None, None, threads,
                            scipy_order=range(inp.rank), key=pass_key)

    return _sum_over_axes(inp, derivative, order == 1, dtype, out)


@device_boundary
@docfiller
def gaussian_laplace(x, sigma, *, truncate=4.0, radius=None, spacing=None, mode="reflect",
                     cval=0.0, channel_axis=None, axes=None, dtype=None, out=None,
                     backend="auto", threads=None):
    """Laplacian of Gaussian (= ``scipy.ndimage.gaussian_laplace``).

    The sum over the spatial axes of the second derivative of the Gaussian
    along that axis (the other axes smoothed): one :func:`gaussian` pass per
    axis, added up.

    Parameters
    ----------
    %(x_filter)s
    sigma : float or sequence of float
        Standard deviation per spatial axis (pixels, or physical units with
        ``spacing``), > 0.
    %(truncate_radius)s
    spacing : float or sequence of float, optional
        Voxel size per spatial axis (array order); sigma is then in the same
        physical units and the second derivatives are per unit squared:
        ``sum_a gaussian(x, sigma, order=2 on a, spacing=spacing)``, each
        term ``scipy.ndimage.gaussian_filter(x, sigma / spacing, order)``
        divided by ``spacing[a] ** 2``.
    %(filter_options)s

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> img = np.zeros((15, 15)); img[7, 7] = 1
    >>> ic.gaussian_laplace(img, 1.0)[7, 5:10].round(3)    # a dip ringed by a rise
    array([ 0.043, -0.097, -0.318, -0.097,  0.043])
    >>> ic.gaussian_laplace(np.ones((6, 8, 8), np.float32), 2.0, spacing=(2.5, 1, 1)).shape
    (6, 8, 8)
    """
    return _gaussian_derivative_sum(x, sigma, 2, "gaussian_laplace", truncate, radius, spacing,
                                    mode, cval, channel_axis, axes, dtype, out, backend,
                                    threads)


@device_boundary
@docfiller
def gaussian_gradient_magnitude(x, sigma, *, truncate=4.0, radius=None, spacing=None,
                                mode="reflect", cval=0.0, channel_axis=None, axes=None,
                                dtype=None, out=None, backend="auto", threads=None):
    """Gaussian gradient magnitude (= ``scipy.ndimage.gaussian_gradient_magnitude``).

    ``sqrt(sum_a d_a**2)`` over the spatial axes, ``d_a`` the first
    derivative of the Gaussian along axis ``a`` (the other axes smoothed).

    Parameters
    ----------
    %(x_filter)s
    sigma : float or sequence of float
        Standard deviation per spatial axis (pixels, or physical units with
        ``spacing``), > 0.
    %(truncate_radius)s
    spacing : float or sequence of float, optional
        Voxel size per spatial axis (array order); sigma is then in the same
        physical units and the derivatives are per unit: ``d_a`` is
        ``scipy.ndimage.gaussian_filter(x, sigma / spacing, order)`` divided
        by ``spacing[a]``.
    %(filter_options)s

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> ramp = np.tile(np.arange(32.0), (8, 1))     # 1 per sample along the columns
    >>> float(ic.gaussian_gradient_magnitude(ramp, 1.0)[4, 16].round(2))
    1.0
    >>> float(ic.gaussian_gradient_magnitude(ramp, 1.0, spacing=0.5)[4, 16].round(2))  # per unit
    2.0
    """
    return _gaussian_derivative_sum(x, sigma, 1, "gaussian_gradient_magnitude", truncate,
                                    radius, spacing, mode, cval, channel_axis, axes, dtype, out,
                                    backend, threads)

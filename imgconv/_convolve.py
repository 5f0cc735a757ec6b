"""correlate and convolve: the image layer's n-D filtering, and the choice
between direct, separable and FFT evaluation."""
import copy
import itertools
import math
from typing import NamedTuple

import numpy as np

from . import _fft
from . import _validate as v
from ._backend import alternating_targets, pad_by_modes
from ._dispatch import device_boundary, select_backend
from ._docstrings import docfiller

__all__ = ["correlate", "convolve"]

METHODS = ("auto", "direct", "separable", "fft")

#: A kernel counts as rank-1 when its second singular value is below this
#: fraction of the first (per unfolding, for 3D), relative to the compute type.
SEPARABLE_RTOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}

#: Cost of one separable pass beyond its taps, in taps per output sample
#: (reading and writing the intermediate array).
PASS_OVERHEAD_TAPS = 4


# --------------------------------------------------------------------------
# Geometry and methods
# --------------------------------------------------------------------------
class Geometry:
    """Per-axis padding, stride and dilation of one correlation, and its output shape."""

    def __init__(self, inp, kshape, padding, stride, dilation, origin):
        self.stride = v.per_axis(stride, inp.rank, "stride", minimum=1)
        self.dilation = v.per_axis(dilation, inp.rank, "dilation", minimum=1)
        origin = v.per_axis(origin, inp.rank, "origin")
        self.pad_lo, self.pad_hi = v.padding_amounts(padding, kshape, self.dilation, origin)
        self.out_shape = tuple(
            v.output_length(n, k, d, s, lo, hi) for n, k, d, s, lo, hi in
            zip(inp.spatial_shape, kshape, self.dilation, self.stride, self.pad_lo, self.pad_hi))
        # (an empty input axis gives an empty result axis: output_length)
        if any(m < 1 for n, m in zip(inp.spatial_shape, self.out_shape) if n):
            raise ValueError(
                f"the output would be empty: input {inp.spatial_shape}, kernel {tuple(kshape)}, "
                f"dilation {self.dilation}, padding {padding!r} "
                "(a 'valid' kernel larger than the image?)")

    def unpadded(self):
        """This geometry over an input already padded by ``pad_lo`` and
        ``pad_hi``: no padding, the same output shape."""
        geom = copy.copy(self)
        geom.pad_lo = geom.pad_hi = (0,) * len(self.pad_lo)
        return geom

    def axis(self, a):
        """(pad_lo, pad_hi, stride, dilation) of spatial axis ``a``."""
        return self.pad_lo[a], self.pad_hi[a], self.stride[a], self.dilation[a]

    def folded(self, a, fold):
        """This geometry with axis ``a``'s kernel replaced by its ``fold``
        (dense, dilation 1): the same output shape."""
        geom = copy.copy(self)
        replace = lambda values, value: values[:a] + (value,) + values[a + 1:]
        geom.pad_lo = replace(self.pad_lo, fold.pad_lo)
        geom.pad_hi = replace(self.pad_hi, fold.pad_hi)
        geom.dilation = replace(self.dilation, 1)
        return geom


# --------------------------------------------------------------------------
# Kernels longer than the padding's period
# --------------------------------------------------------------------------
class Fold(NamedTuple):
    """A dense kernel of ``length`` taps (dilation 1, ``pad_lo``/``pad_hi``)
    that does on its axis what a longer one does: output j reads input
    position ``j*stride + offset`` for a tap at ``offset`` (its position in
    the padded kernel minus pad_lo), and every offset has a representative
    in ``[low, low + length)`` that reads the same sample for every output.
    ``period``: the padding's period (reflect, symmetric, wrap); 0 for
    replicate and zero, whose far taps read the edge sample (replicate) or
    cval (zero) whatever the output."""

    length: int
    pad_lo: int
    pad_hi: int
    period: int
    low: int

    def index(self, offsets):
        """Folded tap index of each tap ``offsets`` (int64 array)."""
        if self.period:
            return (offsets - self.low) % self.period
        return np.clip(offsets - self.low, 0, self.length - 1)

    def count_run(self, first, count):
        """How many of the offsets ``first .. first + count - 1`` each folded
        tap gathers (float64), without a table of them."""
        if self.period:
            counts = np.full(self.period, float(count // self.period))
            start = (first - self.low) % self.period
            counts[(start + np.arange(count % self.period)) % self.period] += 1
            return counts
        last, high = first + count - 1, self.low + self.length - 1
        offsets = np.arange(self.low, high + 1)
        counts = ((offsets >= first) & (offsets <= last)).astype(np.float64)
        if self.length == 1:
            counts[0] = count
        else:
            counts[0] = max(0, min(last, self.low) - first + 1)
            counts[-1] = max(0, last - max(first, high) + 1)
        return counts


#: Padding period of each mode on an axis of n samples (0: not periodic).
PERIODS = {"reflect": lambda n: max(2 * n - 2, 1), "symmetric": lambda n: 2 * n,
           "wrap": lambda n: n, "replicate": lambda n: 0, "zero": lambda n: 0}


def fold_plan(mode, n, m, stride, extent):
    """The :class:`Fold` of a kernel spanning ``extent`` samples on an axis
    of ``n`` samples read by ``m`` outputs ``stride`` apart, or None where
    the kernel is no longer than its fold.  The fold is at most
    ``max(2n, (m - 1) * stride + n + 2)`` taps, whatever the kernel."""
    if n == 0:
        return None     # nothing to fold onto: an empty input gives an empty result
    reach = (m - 1) * stride
    period = PERIODS[mode](n)
    if period:
        length = period
        # a centred window, but no padding below 0 on either side
        low = min(0, max(-(period // 2), n - period - reach))
    elif mode == "replicate":
        # for every output, offsets <= low read x[0] and offsets >= n - 1 x[n - 1]
        low, length = -reach, reach + n
    else:
        # zero: for every output, offsets <= low and offsets >= n read cval
        low, length = -reach - 1, reach + n + 2
    if extent <= length:
        return None
    return Fold(length, -low, reach + length + low - n, period, low)


def fold_kernel(inp, weights, geom, axes=None):
    """``weights`` (n-D, compute type) and ``geom`` folded along every axis
    (of ``axes``, default all) where the kernel spans more than its fold:
    the same result at a cost bounded by the image size, whatever the
    kernel's length or dilation.  Folded taps are summed in float64."""
    for a in range(inp.rank) if axes is None else axes:
        lo, _, stride, dilation = geom.axis(a)
        k = weights.shape[a]
        fold = fold_plan(inp.mode_of(a), inp.spatial_shape[a], geom.out_shape[a], stride,
                         dilation * (k - 1) + 1)
        if fold is None:
            continue
        index = fold.index(np.arange(k, dtype=np.int64) * dilation - lo)
        shape = weights.shape[:a] + (fold.length,) + weights.shape[a + 1:]
        if weights.size == k:      # a 1D factor: bincount is many times faster
            folded = np.bincount(index, weights.reshape(-1), minlength=fold.length)
        else:
            folded = np.zeros(shape)
            np.add.at(folded, (slice(None),) * a + (index,), weights)
        weights = np.ascontiguousarray(folded.reshape(shape), inp.compute)
        geom = geom.folded(a, fold)
    return weights, geom


def fold_factors(inp, factors, geom):
    """:func:`fold_kernel` for the 1D ``factors`` of a separable kernel."""
    factors = list(factors)
    for a, f in enumerate(factors):
        if f is not None:
            shape = [1] * inp.rank
            shape[a] = len(f)
            folded, geom = fold_kernel(inp, np.reshape(f, shape), geom, (a,))
            factors[a] = folded.reshape(-1)
    return factors, geom


#: Factors of the kernels seen last (their SVDs cost more than filtering a
#: small image), by dtype, shape and bytes; at most FACTOR_CACHE_SIZE.
FACTOR_CACHE_SIZE = 32
_factor_cache = {}
_NOT_CACHED = object()


def separable_factors(weights):
    """One 1D factor per axis if ``weights`` is rank-1 (within SEPARABLE_RTOL
    of its compute type), else None.  The outer product of the factors
    reproduces ``weights`` to that tolerance.  The factors are read-only."""
    if weights.ndim == 1:
        return [weights]
    key = (weights.dtype.str, weights.shape, weights.tobytes())
    factors = _factor_cache.get(key, _NOT_CACHED)   # one lookup: other threads evict
    if factors is not _NOT_CACHED:
        return factors
    factors = _rank1_factors(weights)
    if factors is not None:
        for f in factors:
            f.flags.writeable = False
    if len(_factor_cache) >= FACTOR_CACHE_SIZE:
        _factor_cache.pop(next(iter(_factor_cache)), None)
    _factor_cache[key] = factors
    return factors


def _rank1_factors(weights):
    """separable_factors, computed."""
    if not np.isfinite(weights).all():
        return None
    w = weights.astype(np.float64)
    scale = np.abs(w).max()
    if scale == 0:
        return [np.zeros(k, weights.dtype) for k in weights.shape]
    rtol = SEPARABLE_RTOL[weights.dtype]
    factors = []
    for axis in range(w.ndim):
        unfolded = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
        u, s, _ = np.linalg.svd(unfolded, full_matrices=False)
        if len(s) > 1 and s[1] > rtol * s[0]:
            return None
        factor = u[:, 0]
        # scaled so the largest tap is exactly 1: simple kernels (box, binomial)
        # keep exact factors
        factors.append(factor / factor[np.argmax(np.abs(factor))])
    outer = factors[0]
    for f in factors[1:]:
        outer = np.multiply.outer(outer, f)
    factors[0] = factors[0] * (np.vdot(outer, w) / np.vdot(outer, outer))
    recon = factors[0]
    for f in factors[1:]:
        recon = np.multiply.outer(recon, f)
    if np.abs(recon - w).max() > 10 * rtol * scale * np.sqrt(w.size):
        return None
    return [f.astype(weights.dtype) for f in factors]


def separable_cost(inp, factors, geom):
    """Work of the 1D passes, in taps per output sample, over the shrinking
    intermediate shapes."""
    shape = list(inp.spatial_shape)
    cost = 0.0
    for a in pass_order(factors, geom):
        shape[a] = geom.out_shape[a]
        cost += float(math.prod(shape)) * (np.count_nonzero(factors[a]) + PASS_OVERHEAD_TAPS)
    return cost


def pass_order(factors, geom):
    """Axes with a factor, strided ones first (they shrink the later passes),
    else outermost first: a volume then runs z, then y fused with x, which
    ``_cpu.separable_volume`` sweeps plane by plane."""
    axes = [a for a, f in enumerate(factors) if f is not None]
    return sorted(axes, key=lambda a: (geom.stride[a] == 1, a))


def choose_method(method, inp, weights, geom):
    """('direct' | 'separable' | 'fft', factors or None)."""
    return data_allow(method, *method_by_cost(method, inp, weights, geom), inp, weights, geom)


def data_allow(method, best, factors, inp, weights, geom):
    """``(best, factors)`` of :func:`method_by_cost`, or, where 'auto' chose
    the FFT for data or weights holding NaN or inf, the choice without it."""
    if best == "fft" and method == "auto" and not (np.isfinite(weights).all()
                                                   and inp.backend.all_finite(inp.x)):
        # a transform would spread a NaN or inf to every output: sum the taps
        return method_by_cost(method, inp, weights, geom, allow_fft=False)
    return best, factors


def method_by_cost(method, inp, weights, geom, allow_fft=True):
    """choose_method's choice from the shapes and the weights alone (the
    data are not read): the same for every input of the same layout.  The
    FFT is only offered where the backend has it."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "direct":
        return "direct", None
    if method == "fft":
        return "fft", None
    factors = separable_factors(weights)
    if method == "separable":
        if factors is None:
            raise ValueError("method='separable' needs a rank-1 (separable) kernel; this one is "
                             "not rank-1 within the tolerance: use 'direct', 'fft' or 'auto'")
        return "separable", factors
    channels = inp.channels
    costs = {"direct": channels * _fft.direct_cost(geom.out_shape,
                                                   max(1, np.count_nonzero(weights)))}
    if factors is not None and inp.rank > 1:
        costs["separable"] = channels * separable_cost(inp, factors, geom)
    if allow_fft and inp.backend.has_fft:
        # each backend costs its own transforms (the CPU's tiles, a GPU's
        # whole-array cuFFT), in the units of direct_cost
        extent = tuple(d * (k - 1) + 1 for k, d in zip(weights.shape, geom.dilation))
        cost = inp.backend.fft_cost(inp, extent, min(costs.values()), stride=geom.stride)
        if cost is not None:
            costs["fft"] = cost
    best = min(costs, key=costs.get)
    return best, factors if best == "separable" else None


# --------------------------------------------------------------------------
# Complex data: real filters over the real and imaginary parts
# --------------------------------------------------------------------------
#: The complex dtypes a result may have (``dtype=``, ``out=``).
COMPLEX_DTYPES = (np.dtype(np.complex64), np.dtype(np.complex128))


def _is_complex_dtype(dtype):
    """Whether ``dtype`` (a dtype, or anything ``dtype=`` may be) is complex;
    False for what numpy takes for no dtype (the real path refuses it)."""
    if isinstance(dtype, np.dtype):
        return dtype.kind == "c"
    try:
        return dtype is not None and np.dtype(dtype).kind == "c"
    except TypeError:
        return False


def _array_dtype(a):
    """``a``'s dtype without converting an array of any library; other
    inputs (lists, scalars) through numpy; None where numpy takes none."""
    dtype = getattr(a, "dtype", None)
    if dtype is not None and hasattr(a, "shape"):
        return dtype
    try:
        return np.asarray(a).dtype
    except Exception:   # left to the real path's checks, which name the argument
        return None


def is_complex_call(x, cval, dtype, out, kernels=()):
    """Whether a linear filter's call involves complex numbers: a complex
    input, kernel (of ``kernels``; None entries skipped), cval, ``dtype=``
    or ``out=``.  Asked before the real path's checks, which refuse them."""
    if isinstance(cval, (complex, np.complexfloating)):
        return True
    if _is_complex_dtype(_array_dtype(x)) or _is_complex_dtype(getattr(out, "dtype", None)):
        return True
    return (any(k is not None and _is_complex_dtype(_array_dtype(k)) for k in kernels)
            or _is_complex_dtype(dtype))


def refuse_complex(x, function):
    """A TypeError for a complex ``x`` given to ``function``, which has no
    complex meaning (a magnitude)."""
    dtype = _array_dtype(x)
    if _is_complex_dtype(dtype):
        raise TypeError(f"x has unsupported dtype {dtype}: {function} takes real input only "
                        "(a gradient magnitude of complex data has no single meaning; filter "
                        "x.real and x.imag, or take the derivatives of x and combine them)")


def _complex_result_dtype(x_dtype, dtype, out, complex_data):
    """The complex dtype of the result: ``dtype=``, else ``out``'s, else the
    complex type of the real parts' compute type (complex64 for complex64
    and the real dtypes computed in float32, complex128 otherwise; the
    kernel's dtype does not count, as for real kernels).  A real ``dtype``
    or ``out`` (with complex data: ``complex_data`` says which) is refused:
    it would drop the imaginary part."""
    if out is not None and not isinstance(getattr(out, "dtype", None), np.dtype):
        raise TypeError(f"out must be an array, got {type(out).__name__}")
    try:
        asked = (np.dtype(dtype) if dtype is not None else
                 None if out is None else out.dtype)
    except TypeError:
        raise TypeError(f"dtype must be a numpy dtype, got {dtype!r}") from None
    if dtype is not None and out is not None and out.dtype != asked:
        raise ValueError(f"out has dtype {out.dtype} but dtype={asked} was asked for")
    if asked is None:
        real = (x_dtype if x_dtype.kind != "c" else
                np.empty(0, x_dtype).real.dtype).newbyteorder("=")
        return np.result_type(v.compute_dtype(v.WIDENED.get(real, real)), np.complex64)
    what = f"dtype={asked}" if dtype is not None else f"out has dtype {asked}"
    if asked.kind != "c":
        raise TypeError(f"{what}, but the result is complex ({complex_data}); choose "
                        "complex64 or complex128 (a real result would drop the imaginary "
                        "part: take .real of the result)")
    if asked not in COMPLEX_DTYPES:
        raise TypeError(f"{what} is not supported: choose complex64 or complex128 (native "
                        "byte order) for a complex result")
    return asked


def _checked_complex_out(backend, out, shape, x):
    """``out`` (complex, its dtype checked) if it can take a result of
    ``shape``: the backend's checks (shape, writeable, layout, overlap),
    on its real view."""
    backend.check_out(out.real, shape, None, x)
    return out


def via_real_parts(filter_real, x, cval, dtype, out, backend, kernels=(), conjugate=False):
    """A linear filter of complex data as real filters of the real and
    imaginary parts, combined (the way scipy.ndimage filters complex data).

    Parameters
    ----------
    filter_real : callable
        ``filter_real(x_part, kernel_parts, cval_part, dtype)``: the public
        real filter of a real ``x_part`` with real ``kernel_parts`` (one per
        entry of ``kernels``, None kept), padding with the real
        ``cval_part``, into a new array of ``dtype`` (a dtype name, which
        keys the plan cache).  It runs the real path with its checks, plan
        cache, backend and threads.
    x, cval, dtype, out, backend
        The call's arguments.  A complex cval needs a complex ``x`` (its real
        part pads ``x.real``, its imaginary part ``x.imag``).
    kernels : sequence
        The call's kernels (array_like or None), complex or real.
    conjugate : bool
        Correlate with the complex conjugate of the kernels, as
        ``numpy.correlate`` and ``scipy.ndimage.correlate`` do.

    Returns
    -------
    array
        The result (``out`` if given): complex, or, for real data asked for
        a complex ``dtype``/``out``, the real result with imaginary part 0.

    Notes
    -----
    A complex kernel on a complex input is four real filters, each of the
    other combinations two; a real input into a complex result is one (the
    imaginary part is 0).  The kernels read the parts as the interleaved
    views ``x.real``, ``x.imag`` (copying them apart first measured no
    faster) and write each term into a new array (much faster than into an
    interleaved view); the terms of each part are summed in the backend's
    namespace, the last sum (or copy) writing the result's real or
    imaginary view, so this runs on any backend unchanged and holds at most
    two real planes beside the result.
    """
    selected = select_backend(x, backend)
    xp = selected.xp
    if not isinstance(getattr(x, "dtype", None), np.dtype):
        if hasattr(x, "dtype"):     # another library's array: the backend says what it takes
            selected.take_input(x)
        x = np.asarray(x)
    if x.dtype.kind not in "biufc":
        selected.take_input(x)      # refuses the dtype, naming x
    complex_x = x.dtype.kind == "c"
    if isinstance(cval, (complex, np.complexfloating)) and not complex_x:
        raise TypeError(f"cval must be a real number for a real input, got {cval!r} "
                        "(a complex cval pads a complex x)")
    cval_parts = (float(np.real(cval)), float(np.imag(cval)))
    kernel_parts, complex_kernels = [], False
    for kernel in kernels:
        k = None if kernel is None else np.asarray(kernel)
        if k is not None and k.dtype.kind == "c":
            complex_kernels = True
            imag = np.negative(k.imag) if conjugate else k.imag
            # a part of zeros adds nothing (the direct kernel skips zero
            # taps): a real-valued or imaginary kernel costs half
            parts = [(part, power) for part, power in ((k.real, 0), (imag, 1)) if part.any()]
            kernel_parts.append(parts or [(k.real, 0)])
        else:
            kernel_parts.append([(k, 0)])
    complex_data = ", ".join(what for what, is_complex in
                             (("x is " + str(x.dtype), complex_x),
                              ("the kernel is complex", complex_kernels)) if is_complex)
    result_dtype = _complex_result_dtype(x.dtype, dtype, out, complex_data)
    if out is not None and selected.may_share_memory(out, x):
        raise ValueError("out overlaps the input; imgconv filters are not in-place")
    part_dtype = np.empty(0, result_dtype).real.dtype.name
    # each part: (real array, power of i it carries)
    x_parts = [(x.real, 0), (x.imag, 1)] if complex_x else [(x, 0)]
    # the terms of each part of the result: (sign, x part, kernel parts, cval)
    terms = ([], [])
    for (x_part, x_power), *kernel_choice in itertools.product(x_parts, *kernel_parts):
        power = (x_power + sum(p for _, p in kernel_choice)) % 4
        terms[power % 2].append((1 if power < 2 else -1, x_part,
                                 [k for k, _ in kernel_choice], cval_parts[x_power]))
    result = None

    def view(part):
        return result.real if part == 0 else result.imag

    for part in (0, 1):
        items = sorted(terms[part], key=lambda t: -t[0])   # the positive terms first
        if not items:   # real data into a complex result: imaginary part 0
            view(part)[...] = 0
            continue
        total = None
        for i, (sign, x_part, kernel_part, cval_part) in enumerate(items):
            term = filter_real(x_part, kernel_part, cval_part, part_dtype)
            if result is None:  # the first term: now the result's shape is known
                result = (selected.empty(term.shape, result_dtype, x) if out is None else
                          _checked_complex_out(selected, out, term.shape, x))
            # the last operation of a part writes the result's interleaved view
            target = view(part) if i == len(items) - 1 else term if total is None else total
            if total is None:
                if sign < 0:
                    xp.negative(term, out=target)
                elif target is not term:
                    xp.copyto(target, term)
            else:
                (xp.add if sign > 0 else xp.subtract)(total, term, out=target)
            total = target
    return result


# --------------------------------------------------------------------------
# Running a correlation
# --------------------------------------------------------------------------
def pass_targets(inp, out, npasses, same_shape, scratch_shape):
    """The array each of ``npasses`` passes over ``inp.x`` writes, the last
    one ``out``.  The others alternate between ``out`` and one scratch array
    when ``out`` can hold them (compute dtype, ``same_shape`` throughout, no
    overlap with the input), so a 3-pass filter touches one new array
    instead of two; else each gets a new one of ``scratch_shape()``."""
    backend = inp.backend
    pingpong = (same_shape and out.dtype == inp.compute
                and not backend.may_share_memory(out, inp.x))
    return alternating_targets(out, npasses, pingpong,
                               lambda: backend.empty(scratch_shape(), inp.compute))


def run_separable(inp, factors, geom, out, threads, scipy_cval=False, order=None):
    """Correlate with the outer product of ``factors`` (None skips an axis) as
    one 1D pass per axis; the pass along the last axis runs fused with the
    pass before it (one sweep, no intermediate array).  A volume filtered
    along z, then y and x, runs all three passes in one sweep over its planes
    where its layout allows and the backend has that sweep
    (``backend.separable_volume``), with the same sums.

    With mode 'zero' each pass pads with cval times the sums of the earlier
    factors: that is what the previous passes made of the constant border,
    so the result equals the n-D correlation.  With ``scipy_cval`` every pass
    pads with cval itself, as scipy.ndimage's sequential filters (gaussian_filter,
    sobel, ...) do; the pass ``order`` (axes) then matters and must be scipy's.
    """
    factors, geom, passes = separable_passes(inp, factors, geom, scipy_cval, order)
    cval = inp.cval
    backend = inp.backend
    if not passes:
        return backend.store(inp.x, out)
    if passes == [[0], [1, 2]] and not inp.mixed:
        cval_yx = cval if scipy_cval else cval * float(np.sum(factors[0], dtype=np.float64))
        if backend.separable_volume(inp, factors, geom.pad_lo, geom.stride, geom.dilation, cval,
                                 cval_yx, out, threads) is not None:
            return out
    current = inp.x
    shape = list(inp.spatial_shape)
    targets = pass_targets(inp, out, len(passes), geom.out_shape == inp.spatial_shape,
                           lambda: inp.full_shape(shape))
    for axes in passes:
        for a in axes:
            shape[a] = geom.out_shape[a]
        target = next(targets)
        # a pass pads its own axes only: their mode (one, where fused)
        backend.correlate(inp.along(axes[0]), current, *pass_arguments(inp, factors, geom, axes),
                          cval, target, threads, xweights=fused_x_weights(inp, factors, axes))
        if not scipy_cval:
            for j in axes:
                cval = cval * float(np.sum(factors[j], dtype=np.float64))
        current = target
    return out


def separable_passes(inp, factors, geom, scipy_cval=False, order=None):
    """run_separable's (folded) factors and geometry, and its passes: the
    axes of each, in order; a pass of two axes runs the last axis fused."""
    factors, geom = fold_factors(inp, factors, geom)
    order = list(pass_order(factors, geom) if order is None else order)
    if not order:
        return factors, geom, []
    last = inp.rank - 1
    order_matters = scipy_cval and inp.pads_cval
    # the pass that would run fused with the last axis's: one kernel call,
    # so one mode for both
    fused = [a for a in order if a != last][-1] if len(order) > 1 else None
    if (len(order) > 1 and last in order and not order_matters
            and inp.mode_of(fused) == inp.mode_of(last)
            and inp.backend.fused_rows_fit(inp, geom, factors, fused)):
        order.remove(last)
        return factors, geom, [[a] for a in order[:-1]] + [[order[-1], last]]
    return factors, geom, [[a] for a in order]


def pass_arguments(inp, factors, geom, axes):
    """(weights, pad_lo, stride, dilation) of the pass along ``axes``."""
    a = axes[0]
    kshape = [1] * inp.rank
    kshape[a] = len(factors[a])
    return (np.ascontiguousarray(factors[a], inp.compute).reshape(kshape),
            tuple(geom.pad_lo[j] if j in axes else 0 for j in range(inp.rank)),
            tuple(geom.stride[j] if j in axes else 1 for j in range(inp.rank)),
            tuple(geom.dilation[j] if j in axes else 1 for j in range(inp.rank)))


def fused_x_weights(inp, factors, axes):
    """The x kernel a two-axis pass runs fused, else None."""
    return np.ascontiguousarray(factors[inp.rank - 1], inp.compute) if len(axes) > 1 else None


def prepare_separable(inp, factors, geom, out_dtype, scipy_cval=False, order=None):
    """The backend's prepared call (``backend.prepare_direct``, e.g.
    ``_cpu.DirectCall``) of run_separable where that is one pass (a 1D
    kernel, or two axes fused; the first pass pads with cval itself),
    writing a new array; else None."""
    factors, geom, passes = separable_passes(inp, factors, geom, scipy_cval, order)
    if len(passes) != 1 or passes == [[0], [1, 2]]:
        return None
    axes = passes[0]
    # one pass pads its own axes only: their mode (one, where fused)
    return inp.backend.prepare_direct(inp.along(axes[0]),
                                      *pass_arguments(inp, factors, geom, axes), inp.cval,
                                      inp.full_shape(geom.out_shape), out_dtype,
                                      xweights=fused_x_weights(inp, factors, axes))


def run(inp, weights, geom, method, out, threads):
    weights, geom = fold_kernel(inp, weights, geom)
    return execute_chosen(inp, weights, geom, method,
                          *method_by_cost(method, inp, weights, geom), out, threads)


def execute_chosen(inp, weights, geom, method, best, factors, out, threads):
    """Correlate into ``out`` by ``best`` (with ``factors``), what
    :func:`method_by_cost` chose for ``method``, but never the FFT that
    'auto' chose over a NaN or inf (see :func:`data_allow`).  Where the
    backend's transforms flag such data themselves (``fft_flags_nonfinite``)
    the FFT runs first and the taps are summed only if it gives up: no pass
    over the data for the finite ones (a tenth of a 4096**2 correlation with
    a 31**2 kernel went into the min and max)."""
    if best == "fft" and method == "auto" and inp.backend.fft_flags_nonfinite:
        try:
            return execute(inp, weights, geom, best, factors, out, threads, finite_only=True)
        except _fft.NonFiniteData:
            best, factors = method_by_cost(method, inp, weights, geom, allow_fft=False)
    else:
        best, factors = data_allow(method, best, factors, inp, weights, geom)
    return execute(inp, weights, geom, best, factors, out, threads)


def execute(inp, weights, geom, method, factors, out, threads, finite_only=False):
    """Correlate by ``method`` (chosen) into ``out``.  Axes of different
    modes: the separable passes each pad their own axis; the n-D methods
    run on the input padded by each axis's mode (one padded copy), with
    no padding of their own.  ``finite_only``: see ``_fft.fft_correlate``
    (only for a backend whose ``fft_flags_nonfinite``)."""
    if method == "separable":
        return run_separable(inp, factors, geom, out, threads)
    if inp.mixed:
        inp = pad_by_modes(inp, geom.pad_lo, geom.pad_hi)
        geom = geom.unpadded()
    if method == "fft":
        if finite_only:
            return inp.backend.fft_correlate(inp, weights, geom, out, threads, finite_only=True)
        return inp.backend.fft_correlate(inp, weights, geom, out, threads)
    return inp.backend.correlate(inp, inp.x, weights, geom.pad_lo, geom.stride, geom.dilation,
                                 inp.cval, out, threads)


class Plan(NamedTuple):
    """A correlation's validated arguments and method, for any input of one
    layout: ``inp`` holds no array (``x=None``)."""

    inp: v.FilterInput
    weights: np.ndarray
    geom: Geometry
    method: str             # as asked
    best: str               # method_by_cost's choice
    factors: object
    call: object            # the one kernel call of a new result, if that is all
                            # it takes and the backend prepares it
                            # (backend.prepare_direct), else None
    run: object             # backend.run_direct, which runs call: kept here, the
                            # cached path then looks up nothing more


#: Plans of recent calls by everything they depend on (see plan_key), at
#: most PLAN_CACHE_SIZE.  Loops over patches, slices or frames repeat one
#: call: checking and planning it again cost several times the filtering
#: of a 16² image (a 16² 3×3 correlation: 34 -> 12 µs a call, with the
#: other savings of issue 18).
PLAN_CACHE_SIZE = 64
_plan_cache = {}
#: Kernels up to this many taps are keyed by their bytes (larger ones are
#: planned on every call: their bytes would cost more than the plan).
PLAN_KERNEL_MAX_SIZE = 4096


def plan_key(x, args, kernel=None, out=None):
    """The key of a call's plan, or None where it has none: a numpy ``x``
    (and ``kernel``, if given), and plain ``args`` (str, int, float, bool,
    None, or tuples of ints and floats), with their types, so that 1, 1.0
    and True key apart: the plan holds what checking the first of them gave.
    ``out``: the call's, whose dtype may set the compute type (see
    ``_validate.compute_dtype``).
    A plan is only cached for an input that the checks pass as it is (see
    ``_cpu.as_input_array``); its layout is in the key.  Only numpy inputs
    are keyed: the plans' prepared calls and the skipped input checks are
    the CPU backend's."""
    if type(x) is not np.ndarray:
        return None
    types = tuple(map(type, args))
    if not _PLAIN_TYPES.issuperset(types):
        return None
    if tuple in types:
        types = tuple(tuple(map(type, a)) if t is tuple else t for a, t in zip(args, types))
        if not all(_PLAIN_NUMBERS.issuperset(t) for t in types if type(t) is tuple):
            return None
    # the dtype itself, not its .str (a new string on every call, ~1 us):
    # dtypes of other byte orders compare unequal
    key = (x.shape, x.strides, x.dtype, x.flags.aligned, args, types,
           None if out is None else getattr(out, "dtype", None))
    if kernel is None:
        return key
    if type(kernel) is not np.ndarray or kernel.size > PLAN_KERNEL_MAX_SIZE:
        return None
    return key + (kernel.shape, kernel.dtype, kernel.tobytes())


_PLAIN_NUMBERS = frozenset((int, float))
_PLAIN_TYPES = frozenset((str, int, float, type(None), bool, tuple))


def with_input(plan, x):
    """The cached plan's arguments (``plan.inp``) with the input ``x``."""
    return v.FilterInput(x, *plan.inp[1:])


def cache_plan(key, plan):
    if key is None:
        return
    if len(_plan_cache) >= PLAN_CACHE_SIZE:
        try:
            _plan_cache.pop(next(iter(_plan_cache)), None)
        except (RuntimeError, StopIteration):   # another thread changed it meanwhile
            pass
    _plan_cache[key] = plan


def _correlate(x, kernel, flip, mode, cval, padding, stride, dilation, origin,
               channel_axis, axes, dtype, out, method, backend, threads):
    # positional: 16 keywords cost ~0.3 us of a 16² call
    key = plan_key(x, (flip, mode, cval, padding, stride, dilation, origin, channel_axis, axes,
                       dtype, method, backend), kernel, out)
    plan = None if key is None else _plan_cache.get(key)
    if plan is None:
        if is_complex_call(x, cval, dtype, out, (kernel,)):
            # scipy.ndimage.correlate conjugates a complex kernel (as np.correlate)
            return via_real_parts(
                lambda x_part, kernels, cval_part, dtype_part: _correlate(
                    x_part, kernels[0], flip, mode, cval_part, padding, stride, dilation,
                    origin, channel_axis, axes, dtype_part, None, method, backend, threads),
                x, cval, dtype, out, backend, (kernel,), conjugate=not flip)
        plan = _plan(x, kernel, flip, mode, cval, padding, stride, dilation, origin,
                     channel_axis, axes, dtype, out, method, backend)
        inp = plan.inp
        if inp.x is x:  # not a converted copy: the plan holds for x's layout
            cache_plan(key, plan._replace(inp=inp._replace(x=None)))
    else:
        if plan.call is not None and out is None:   # x as it is: see below
            return plan.run(plan.call, x, threads)
        # the cached plan was made for an input of x's layout, which
        # the backend's take_input passed as it was
        inp = with_input(plan, x)
    if plan.call is not None and out is None:
        return plan.run(plan.call, inp.x, threads)
    return inp.backend.fill_output(
        inp, plan.geom.out_shape, dtype, out,
        lambda target: execute_chosen(inp, plan.weights, plan.geom, method, plan.best,
                                      plan.factors, target, threads))


def _plan(x, kernel, flip, mode, cval, padding, stride, dilation, origin, channel_axis, axes,
          dtype, out, method, backend):
    """The checked arguments of a correlation and its method by cost."""
    inp = v.filter_input(x, mode, cval, channel_axis, axes, backend=select_backend(x, backend),
                         dtype=dtype, out=out)
    weights = v.as_kernel(kernel, inp.rank, inp.compute, axes=inp.axes)
    origin = v.check_origin(origin, weights.shape)
    if flip:
        weights = np.ascontiguousarray(weights[(slice(None, None, -1),) * inp.rank])
        if isinstance(padding, str) and padding.lower() == "same":
            # scipy.ndimage.convolve mirrors the centre too, which for even
            # sizes moves it one tap down
            origin = tuple(-o - (1 - k % 2) for o, k in zip(origin, weights.shape))
    geom = Geometry(inp, weights.shape, padding, stride, dilation, origin)
    # folded here, in the plan: a fold depends only on the input's shape
    weights, geom = fold_kernel(inp, weights, geom)
    # its own read-only copy: the caller may change the kernel after the call
    weights = weights.copy()
    weights.flags.writeable = False
    best, factors = method_by_cost(method, inp, weights, geom)
    out_dtype = v.output_dtype(dtype, inp.compute)
    out_shape = inp.full_shape(geom.out_shape)
    call = None
    if best == "direct" and not inp.mixed:
        call = inp.backend.prepare_direct(inp, weights, geom.pad_lo, geom.stride, geom.dilation,
                                   inp.cval, out_shape, out_dtype)
    elif best == "separable":
        call = prepare_separable(inp, factors, geom, out_dtype)
    return Plan(inp, weights, geom, method, best, factors, call, inp.backend.run_direct)


@device_boundary
@docfiller
def correlate(x, kernel, *, mode="reflect", cval=0.0, padding="same", stride=1, dilation=1,
              origin=0, channel_axis=None, axes=None, dtype=None, out=None, method="auto",
              backend="auto", threads=None):
    """Correlate ``x`` with ``kernel`` (no flip), in 1D, 2D or 3D.

    ``out[i] = sum_k kernel[k] * x_padded[i*stride + k*dilation]``; with
    ``padding='same'`` this equals ``scipy.ndimage.correlate`` with scipy's
    name for the mode.

    Parameters
    ----------
    %(correlate_parameters)s

    Returns
    -------
    ndarray
        The filtered array (``out`` if given).

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> x = np.arange(5, dtype=np.float32)
    >>> ic.correlate(x, [1, 0, -1])
    array([ 0., -2., -2., -2.,  0.], dtype=float32)
    >>> img = np.ones((4, 5), np.uint8)
    >>> ic.correlate(img, np.ones((3, 3)) / 9, dtype=np.uint8)
    array([[1, 1, 1, 1, 1],
           [1, 1, 1, 1, 1],
           [1, 1, 1, 1, 1],
           [1, 1, 1, 1, 1]], dtype=uint8)
    >>> ic.correlate(np.ones((6, 6)), np.ones((3, 3)), padding='valid', stride=2).shape
    (2, 2)
    >>> ic.correlate(np.array([0, 1, 0], np.float32), [1j, 2, 3], mode='zero')  # conjugated
    array([3.+0.j, 2.+0.j, 0.-1.j], dtype=complex64)
    """
    return _correlate(x, kernel, False, mode, cval, padding, stride, dilation, origin,
                      channel_axis, axes, dtype, out, method, backend, threads)


@device_boundary
@docfiller
def convolve(x, kernel, *, mode="reflect", cval=0.0, padding="same", stride=1, dilation=1,
             origin=0, channel_axis=None, axes=None, dtype=None, out=None, method="auto",
             backend="auto", threads=None):
    """Convolve ``x`` with ``kernel`` (the kernel is flipped), in 1D, 2D or 3D.

    Equals ``scipy.ndimage.convolve`` with scipy's name for the mode, including
    its centre convention for even kernel sizes.

    Parameters
    ----------
    %(correlate_parameters)s

    Returns
    -------
    ndarray
        The filtered array (``out`` if given).

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> x = np.arange(5, dtype=np.float32)
    >>> ic.convolve(x, [1, 0, -1])
    array([0., 2., 2., 2., 0.], dtype=float32)
    >>> vol = np.zeros((3, 3, 3), np.float32); vol[1, 1, 1] = 1
    >>> ic.convolve(vol, np.ones((3, 3, 3)), mode='zero').sum()
    np.float32(27.0)
    """
    return _correlate(x, kernel, True, mode, cval, padding, stride, dilation, origin,
                      channel_axis, axes, dtype, out, method, backend, threads)

"""Argument checking and normalisation, once, for every function and backend.

Everything here is array-agnostic: modes, padding, stride, dilation,
origin, axes, dtypes, kernels and footprints (small numpy arrays), pooling
geometry.  It reads an input's shape, ndim and dtype only, never its data,
so it serves every backend.  The array part (taking the input, allocating
or checking the output, storing with saturation) belongs to the backend
objects (``imgconv._backend``, ``imgconv._cpu``).
"""
import math
import numbers
import operator
from typing import NamedTuple

import numpy as np

from ._dispatch import select_backend


# --------------------------------------------------------------------------
# Boundary modes
# --------------------------------------------------------------------------
MODE_CODES = {"zero": 0, "replicate": 1, "reflect": 2, "symmetric": 3, "wrap": 4}
MODE_ALIASES = {
    "zero": "zero", "constant": "zero", "zeros": "zero",
    "replicate": "replicate", "nearest": "replicate", "edge": "replicate",
    "reflect": "reflect", "mirror": "reflect", "reflect101": "reflect",
    "symmetric": "symmetric",
    "wrap": "wrap", "circular": "wrap",
}
#: scipy.ndimage's name for each imgconv mode (imgconv's 'reflect' is scipy's 'mirror').
SCIPY_MODE = {"zero": "constant", "replicate": "nearest", "reflect": "mirror",
              "symmetric": "reflect", "wrap": "wrap"}


def canonical_mode(mode, name="mode"):
    """imgconv's own name for ``mode`` or any of its aliases."""
    if not isinstance(mode, str) or mode.lower() not in MODE_ALIASES:
        valid = ", ".join(sorted(MODE_ALIASES))
        raise ValueError(f"{name} must be one of: {valid}; got {mode!r}")
    return MODE_ALIASES[mode.lower()]


def canonical_modes(mode, rank, name="mode"):
    """One canonical mode name per filtered axis (a tuple of ``rank``):
    ``mode`` is one name (every axis) or a sequence of ``rank`` names, in
    the order of the filtered axes (as ``axes`` gives them), as
    scipy.ndimage takes them."""
    if not isinstance(mode, (list, tuple)) and not (isinstance(mode, np.ndarray)
                                                    and mode.ndim == 1):
        # one name (anything else: canonical_mode's error, listing the names)
        return (canonical_mode(mode, name),) * rank
    modes = tuple(mode)
    if len(modes) != rank:
        raise ValueError(f"{name} needs {rank} names (one per filtered axis) or a single name, "
                         f"got {len(modes)}: {mode!r}")
    return tuple(canonical_mode(m, f"{name}[{i}]") for i, m in enumerate(modes))


# --------------------------------------------------------------------------
# Dtypes
# --------------------------------------------------------------------------
#: dtypes the kernels read and write natively, with the codes they use.
DTYPE_CODES = {np.dtype(t): code for code, t in enumerate(
    ["uint8", "uint16", "int16", "int32", "float32", "float64"])}
SUPPORTED_DTYPES = tuple(DTYPE_CODES)
#: The maximum and minimum kernels also take 64-bit integers as they are:
#: through float64, values beyond 2**53 would be rounded.
EXACT_DTYPES = (np.dtype("int64"), np.dtype("uint64"))
EXTREME_DTYPE_CODES = {**DTYPE_CODES, EXACT_DTYPES[0]: 6, EXACT_DTYPES[1]: 7}

# Other real dtypes are converted once to the smallest native dtype that holds them.
WIDENED = {
    np.dtype("bool"): np.dtype("uint8"),
    np.dtype("int8"): np.dtype("int16"),
    np.dtype("float16"): np.dtype("float32"),
    np.dtype("uint32"): np.dtype("float64"),
    np.dtype("int64"): np.dtype("float64"),
    np.dtype("uint64"): np.dtype("float64"),
    np.dtype("longdouble"): np.dtype("float64"),
}


def kernel_input_dtype(dtype, name="x", exact=False):
    """The dtype in which the kernels read an input of ``dtype`` (of any array
    library): native byte order, and the dtypes they lack widened
    (:data:`WIDENED`; with ``exact``, 64-bit integers kept, for the maximum
    and minimum kernels).  A TypeError for anything but real numbers and bool."""
    if dtype.kind not in "biuf":
        raise TypeError(f"{name} has unsupported dtype {dtype}; imgconv takes real numbers "
                        f"({', '.join(str(d) for d in SUPPORTED_DTYPES)}, or bool)")
    native = dtype.newbyteorder("=")
    return native if exact and native in EXACT_DTYPES else WIDENED.get(native, native)


#: Every dtype a result may have (``dtype=``, ``out=``): the kernels write
#: DTYPE_CODES' directly; the others get a compute-typed intermediate,
#: rounded and saturated into them (``KernelBackend.fill_output``).
OUTPUT_DTYPES = SUPPORTED_DTYPES + tuple(np.dtype(t) for t in
                                         ("int8", "uint32", "int64", "uint64", "float16"))


def compute_dtype(dtype, result=None):
    """float32 for float32 and integers up to 16 bits, float64 otherwise;
    float64 also for a ``result`` dtype of integers wider than float32 holds
    exactly (2**24: int32, uint32, int64, uint64), so that they are not
    rounded to float32 first."""
    dtype = np.dtype(dtype)
    if result is not None and result.kind in "iu" and result.itemsize >= 4:
        return np.dtype(np.float64)
    if dtype.kind in "biu" and dtype.itemsize <= 2 or dtype == np.float32 or dtype == np.float16:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def asked_dtype(dtype, out):
    """The result dtype that ``dtype=``, else ``out=``, asks for; None for
    neither (or for something that is no dtype: :func:`output_dtype` and the
    ``out`` checks refuse it later, with their own messages)."""
    if dtype is None:
        found = getattr(out, "dtype", None)
        return found if isinstance(found, np.dtype) else None
    try:
        return np.dtype(dtype)
    except TypeError:
        return None


def extreme_dtype(x):
    """The dtype a maximum or minimum of (checked) ``x`` keeps: x's own, in
    native byte order and bool included, even where the kernels run it
    widened (int8, float16, uint32, 64-bit integers).  Reads only the dtype
    of an array (of any library); other inputs (lists) through numpy."""
    dtype = x.dtype if hasattr(x, "dtype") and hasattr(x, "shape") else np.asarray(x).dtype
    return np.dtype(dtype).newbyteorder("=")


def output_dtype(dtype, compute, name="dtype"):
    if dtype is None:
        return compute
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be a numpy dtype, got {dtype!r}") from None
    if dtype not in OUTPUT_DTYPES:
        raise TypeError(f"{name}={dtype} is not supported; choose one of "
                        f"{', '.join(str(d) for d in OUTPUT_DTYPES)} in native byte order")
    return dtype


# --------------------------------------------------------------------------
# Axes and per-axis parameters
# --------------------------------------------------------------------------
def as_int(value, name, expected="an int"):
    """``value`` as a Python int (bool rejected), else a TypeError naming ``name``."""
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(f"{name} must be {expected}, got {value!r}")


def spatial_axes(ndim, channel_axis, axes=None, name="x", axes_name="axes"):
    """The filtered axes of an ``ndim``-dimensional input (``axes`` in the
    caller's order, default: every axis but the channel axis) and the
    normalised channel axis (None or a non-negative int).  ``axes_name``: the
    caller's name for ``axes`` (``axis``, for 1D filters), in messages."""
    if channel_axis is not None:
        channel_axis = as_int(channel_axis, "channel_axis", "an int or None")
        if not -ndim <= channel_axis < ndim:
            raise ValueError(f"channel_axis={channel_axis} is out of range for {name} "
                             f"with {ndim} dimensions")
        channel_axis %= ndim
    if axes is None:
        axes = tuple(a for a in range(ndim) if a != channel_axis)
        if not 1 <= len(axes) <= 3:
            hint = " (pass channel_axis or axes)" if len(axes) > 3 else ""
            raise ValueError(f"{name} has {len(axes)} spatial dimensions; imgconv filters "
                             f"1D, 2D and 3D data{hint}")
        return axes, channel_axis
    if isinstance(axes, (numbers.Integral, np.integer)) and not isinstance(axes, bool):
        axes = (axes,)
    given = axes[0] if axes_name == "axis" and len(axes) == 1 else axes
    try:
        axes = tuple(as_int(a, axes_name, "a sequence of ints") for a in axes)
    except TypeError:
        raise TypeError(f"{axes_name} must be an int or a sequence of ints, got {axes!r}") from None
    if any(not -ndim <= a < ndim for a in axes):
        raise ValueError(f"{axes_name}={given} is out of range for {name} with {ndim} dimensions")
    axes = tuple(a % ndim for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{axes_name}={given} repeats an axis")
    if channel_axis in axes:
        raise ValueError(f"{axes_name}={given} is the channel axis {channel_axis}"
                         if len(axes) == 1 else
                         f"{axes_name}={given} includes the channel axis {channel_axis}")
    if not 1 <= len(axes) <= 3:
        raise ValueError(f"axes must name 1 to 3 axes, got {axes}")
    return axes, channel_axis


#: The longest padded axis or dilated kernel (samples): the kernels keep
#: per-sample tables and row buffers that long.
MAX_AXIS_SAMPLES = 1 << 28


def per_axis(value, rank, name, minimum=None):
    """An int or a sequence of ``rank`` ints as a tuple of ``rank`` ints, each
    at most MAX_AXIS_SAMPLES in size."""
    # a plain int first: the ABC test of numbers.Integral costs more
    if type(value) is int or (isinstance(value, (numbers.Integral, np.integer))
                              and not isinstance(value, bool)):
        values = (int(value),) * rank
    else:
        if isinstance(value, (str, bytes)):
            raise TypeError(f"{name} must be an int or a sequence of {rank} ints, got {value!r}")
        try:
            values = tuple(value)
        except TypeError:
            raise TypeError(f"{name} must be an int or a sequence of {rank} ints, "
                            f"got {value!r}") from None
        if len(values) != rank:
            raise ValueError(f"{name} needs {rank} values (one per spatial axis), got {len(values)}")
        try:
            values = tuple(operator.index(v) for v in values)
        except TypeError:
            raise TypeError(f"{name} must contain ints, got {value!r}") from None
        if any(isinstance(v, bool) for v in value):
            raise TypeError(f"{name} must contain ints, got {value!r}")
    if minimum is not None and any(v < minimum for v in values):
        raise ValueError(f"{name} must be >= {minimum} on every axis, got {value!r}")
    if any(abs(v) > MAX_AXIS_SAMPLES for v in values):
        raise ValueError(f"{name} must be at most 2**28 on every axis, got {value!r}")
    return values


def as_flag(value, name):
    """``value`` as a bool: True, False (or 1, 0), else a TypeError."""
    if isinstance(value, (bool, np.bool_)) or (
            isinstance(value, (numbers.Integral, np.integer)) and value in (0, 1)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}")


#: The longest kernel that is folded onto the image as its taps are made
#: (Gaussians): offsets stay exact in float64.
MAX_FOLDED_SAMPLES = 1 << 52


def check_kernel_length(length, what, limit=MAX_AXIS_SAMPLES):
    """``length`` (taps along an axis) within ``limit``, else a ValueError
    saying ``what`` made it so long."""
    if length > limit:
        raise ValueError(f"{what} makes a kernel of {length} taps along an axis; imgconv "
                         f"supports at most 2**{limit.bit_length() - 1}")
    return length


def output_length(n, k, dilation, stride, pad_lo, pad_hi):
    """docs/design.md's geometry: floor((n + p_lo + p_hi - d*(k-1) - 1) / s) + 1;
    0 for an empty axis (n = 0), whatever the padding: an empty input gives
    an empty result, as in scipy.ndimage."""
    extent = dilation * (k - 1) + 1
    if extent > MAX_AXIS_SAMPLES or n + pad_lo + pad_hi > MAX_AXIS_SAMPLES:
        raise ValueError(
            f"padding and dilation are too large: an axis of {n} samples, padded by "
            f"({pad_lo}, {pad_hi}), with a kernel spanning {extent} samples (dilation "
            f"{dilation}); imgconv supports at most 2**28 samples per padded axis or kernel")
    if n == 0:
        return 0
    return (n + pad_lo + pad_hi - extent) // stride + 1


def check_origin(origin, kshape):
    """``origin`` per axis, each within scipy.ndimage's range for its kernel size."""
    origin = per_axis(origin, len(kshape), "origin")
    for k, o in zip(kshape, origin):
        if not -(k // 2) <= o <= (k - 1) // 2:
            raise ValueError(f"origin={o} puts the centre outside a kernel of size {k}; "
                             f"it must lie in [{-(k // 2)}, {(k - 1) // 2}]")
    return origin


def padding_amounts(padding, kshape, dilation, origin):
    """``(pad_lo, pad_hi)`` tuples for every spatial axis.

    ``padding`` is 'same' (the centre tap ``k//2 + origin`` lands on each
    input sample), 'valid', 'full', an int, one int per axis or one
    ``(lo, hi)`` pair per axis.  ``origin`` (checked by :func:`check_origin`)
    only means something with 'same'.
    """
    rank = len(kshape)
    if isinstance(padding, str):
        kind = padding.lower()
        if kind == "same":
            lo = tuple(d * (k // 2 + o) for k, d, o in zip(kshape, dilation, origin))
            hi = tuple(d * (k - 1) - p for k, d, p in zip(kshape, dilation, lo))
            return lo, hi
        if any(origin):
            raise ValueError("origin only applies with padding='same'; with explicit "
                             "padding the output position is given by the padding")
        if kind == "valid":
            return (0,) * rank, (0,) * rank
        if kind == "full":
            full = tuple(d * (k - 1) for k, d in zip(kshape, dilation))
            return full, full
        raise ValueError(f"padding must be 'same', 'valid', 'full', an int or per-axis "
                         f"values; got {padding!r}")
    if any(origin):
        raise ValueError("origin only applies with padding='same'; with explicit "
                         "padding the output position is given by the padding")
    if isinstance(padding, (numbers.Integral, np.integer)) and not isinstance(padding, bool):
        lo = hi = (int(padding),) * rank
    else:
        try:
            items = list(padding)
        except TypeError:
            raise TypeError(f"padding must be a string, an int or a sequence, got {padding!r}") from None
        if len(items) != rank:
            raise ValueError(f"padding needs {rank} entries (one per spatial axis), got {len(items)}")
        lo, hi = [], []
        for item in items:
            if isinstance(item, (numbers.Integral, np.integer)) and not isinstance(item, bool):
                lo.append(int(item))
                hi.append(int(item))
            else:
                pair = per_axis(item, 2, "padding (lo, hi) pair")
                lo.append(pair[0])
                hi.append(pair[1])
        lo, hi = tuple(lo), tuple(hi)
    if min(lo + hi) < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    return lo, hi


# --------------------------------------------------------------------------
# Kernels and outputs
# --------------------------------------------------------------------------
def in_axes_order(array, axes):
    """``array``, whose dimensions follow ``axes`` in ascending array order
    (scipy.ndimage's rule for kernels and footprints), transposed to follow
    ``axes`` as given: the order of per-axis values and of the backends."""
    ascending = sorted(axes)
    return array.transpose([ascending.index(a) for a in axes])


def as_kernel(kernel, rank, dtype, name="kernel", axes=None):
    """``kernel`` as a C-contiguous array of the compute dtype and ``rank`` dims,
    in the order of ``axes`` (see :func:`in_axes_order`) if given."""
    try:
        k = np.asarray(kernel)
    except Exception as exc:
        raise TypeError(f"{name} must be an array of numbers") from exc
    if k.dtype.kind not in "biuf":
        raise TypeError(f"{name} has unsupported dtype {k.dtype}; it must hold real numbers")
    if k.ndim != rank:
        raise ValueError(f"{name} has {k.ndim} dimensions but the input has {rank} spatial "
                         f"dimensions; they must match")
    if k.size == 0:
        raise ValueError(f"{name} is empty (shape {k.shape})")
    if axes is not None:
        k = in_axes_order(k, axes)
    return np.ascontiguousarray(k, dtype=dtype)


def check_cval(cval):
    if not isinstance(cval, (numbers.Real, np.number)) or isinstance(cval, (complex, np.complexfloating)):
        raise TypeError(f"cval must be a real number, got {cval!r}")
    return float(cval)


# --------------------------------------------------------------------------
# The normalised input of every filter
# --------------------------------------------------------------------------
class FilterInput(NamedTuple):
    """An input array and the arguments every filter shares, normalised.
    Only ``x``'s shape, ndim and dtype are read here: ``x`` is an array of
    the backend that runs the call (numpy for the CPU)."""

    x: object                # the backend's array (backend.take_input): a
                             # supported dtype, native byte order, element strides
    axes: tuple              # filtered axes of x, in the order kernels and
                             # per-axis arguments refer to them
    channel_axis: object     # None or a non-negative int
    compute: np.dtype        # float32 or float64
    mode: str                # canonical mode name; None where the axes' modes differ
    code: int                # the kernels' mode code; None where the axes' modes differ
    cval: float
    backend: object          # the backend object that took x and runs the call
    modes: tuple = ()        # canonical mode name per filtered axis (as ``axes``)

    @property
    def mixed(self):
        """Whether the filtered axes have different modes: the kernels take
        one mode per call, so each pass takes its axis's (:meth:`along`), or
        the input is padded first (``KernelBackend.pad_by_modes``)."""
        return self.mode is None

    @property
    def pads_cval(self):
        """Whether some axis pads with a nonzero cval (mode 'zero': the
        checks refuse a nonzero cval without it)."""
        return self.cval != 0

    def mode_of(self, a):
        """The mode of spatial axis ``a``."""
        return self.mode if self.mode is not None else self.modes[a]

    def along(self, a):
        """These arguments with spatial axis ``a``'s mode on every axis: for
        a pass that pads axis ``a`` only."""
        if self.mode is not None:
            return self
        mode = self.modes[a]
        return self._replace(mode=mode, code=MODE_CODES[mode], modes=(mode,) * self.rank)

    @property
    def rank(self):
        return len(self.axes)

    @property
    def spatial_shape(self):
        return tuple(self.x.shape[a] for a in self.axes)

    @property
    def batch_axes(self):
        """The axes filtered independently: channels and unfiltered axes."""
        return tuple(a for a in range(self.x.ndim) if a not in self.axes)

    @property
    def channels(self):
        """How many independent signals the filtered axes hold."""
        return math.prod(self.x.shape[a] for a in self.batch_axes)

    def full_shape(self, spatial_shape):
        """Array shape with the filtered axes resized to ``spatial_shape``."""
        shape = list(self.x.shape)
        for a, n in zip(self.axes, spatial_shape):
            shape[a] = n
        return tuple(shape)


def filter_input(x, mode="reflect", cval=0.0, channel_axis=None, axes=None, exact=False,
                 axes_name="axes", backend=None, dtype=None, out=None):
    """The :class:`FilterInput` of ``x`` and the shared arguments, checked.

    ``backend``: the backend object that runs the call (default: the one
    ``backend='auto'`` selects for ``x``); it takes ``x``
    (``backend.take_input``, with ``exact`` for the maximum and minimum
    kernels).  ``dtype``, ``out``: the call's, whose result dtype may widen
    the compute type (:func:`compute_dtype`); they are checked later.
    Nothing else here reads more than x's shape and dtype.
    """
    if getattr(getattr(x, "dtype", None), "kind", None) == "c":
        # the linear filters take complex data before they get here
        # (_convolve.via_real_parts): the others have no complex meaning
        raise TypeError(f"x has unsupported dtype {x.dtype}: this function takes real numbers "
                        "only (complex values have no order: no maximum, minimum or rank; "
                        "pooling takes real data only); the linear filters (correlate, "
                        "convolve, correlate1d, convolve1d, sepfilter, gaussian, box, "
                        "sobel/prewitt/scharr along an axis, laplace, gaussian_laplace) take "
                        "complex data")
    if backend is None:
        backend = select_backend(x, "auto")
    x = backend.take_input(x, exact=exact)
    axes, channel_axis = spatial_axes(x.ndim, channel_axis, axes, axes_name=axes_name)
    modes = canonical_modes(mode, len(axes))
    cval = check_cval(cval)
    if "zero" not in modes and cval != 0:
        shown = modes[0] if isinstance(mode, str) else modes
        raise ValueError(f"cval only applies with mode='zero', not mode={shown!r}")
    one = modes[0] if len(set(modes)) == 1 else None
    return FilterInput(x, axes, channel_axis, compute_dtype(x.dtype, asked_dtype(dtype, out)),
                       one, None if one is None else MODE_CODES[one], cval, backend, modes)


def spatial_axis(axis, inp, name="axis"):
    """An array axis of ``inp.x`` (negative allowed), which must be spatial;
    returned as the index among the spatial axes."""
    axis = as_int(axis, name)
    ndim = inp.x.ndim
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of range for an input with {ndim} dimensions")
    axis %= ndim
    if axis == inp.channel_axis:
        raise ValueError(f"{name}={axis} is the channel axis; filters run along spatial axes")
    if axis not in inp.axes:
        raise ValueError(f"{name}={axis} is not one of the filtered axes {inp.axes}")
    return inp.axes.index(axis)


def per_axis_float(value, rank, name, minimum=None, strict=False):
    """A real number or one per spatial axis, as a tuple of floats."""
    if isinstance(value, (numbers.Real, np.number)) and not isinstance(value, bool):
        values = (float(value),) * rank
    else:
        try:
            values = tuple(float(v) for v in value)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a number or a sequence of {rank} numbers, "
                            f"got {value!r}") from None
        if len(values) != rank:
            raise ValueError(f"{name} needs {rank} values (one per spatial axis), got {len(values)}")
    if any(not np.isfinite(v) for v in values):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if minimum is not None and any(v < minimum or (strict and v == minimum) for v in values):
        op = ">" if strict else ">="
        raise ValueError(f"{name} must be {op} {minimum} on every axis, got {value!r}")
    return values


# --------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------
#: pooling operations and the codes the kernels use
POOL_OPS = {"max": 0, "min": 1, "avg": 2, "lp": 3}


class PoolGeometry(NamedTuple):
    """Per spatial axis: window size, stride, dilation, padding, and the
    output length; ``extent`` = n + pad_lo + pad_hi (padded positions at or
    beyond it lie outside every window)."""

    size: tuple
    stride: tuple
    dilation: tuple
    pad_lo: tuple
    pad_hi: tuple
    out_shape: tuple
    extent: tuple


def pool_op(op, p, count_include_pad, return_indices, mode):
    """The op's code and its exponent, after checking which arguments apply."""
    if not isinstance(op, str) or op.lower() not in POOL_OPS:
        raise ValueError(f"op must be one of {', '.join(POOL_OPS)}; got {op!r}")
    op = op.lower()
    if op == "lp":
        if (not isinstance(p, (numbers.Real, np.number)) or isinstance(p, bool)
                or not np.isfinite(p) or p <= 0):
            raise ValueError(f"p must be a finite number > 0 for op='lp', got {p!r}")
        p = float(p)
    elif p != 2:
        raise ValueError(f"p={p!r} only applies to op='lp' (op is {op!r})")
    count_include_pad = as_flag(count_include_pad, "count_include_pad")
    if not count_include_pad:
        if op != "avg":
            raise ValueError(f"count_include_pad=False only applies to op='avg' (op is {op!r})")
        modes = canonical_modes(mode, len(mode) if np.ndim(mode) == 1 else 1)
        if set(modes) != {"zero"}:
            raise ValueError("count_include_pad=False only applies with mode='zero' (on every "
                             f"axis): with mode={mode!r} the padded cells hold image values "
                             "and count")
    return_indices = as_flag(return_indices, "return_indices")
    if return_indices and op not in ("max", "min"):
        raise ValueError(f"return_indices=True needs op='max' or 'min', not {op!r}")
    return op, POOL_OPS[op], (p if op == "lp" else 2.0)


def pool_geometry(spatial_shape, size, stride, padding, dilation, ceil_mode):
    """Window geometry of a pooling call (torch's rules).

    ``stride`` None means ``size`` (non-overlapping windows).  Each padding
    side may be at most half the window (``size // 2``), so every window
    holds an input sample.  Output length per axis:
    (n + p_lo + p_hi - d*(k-1) - 1) / s + 1, rounded down, or up with
    ``ceil_mode`` -- but the last window must start inside the input or the
    left padding.
    """
    rank = len(spatial_shape)
    size = per_axis(size, rank, "size", minimum=1)
    stride = size if stride is None else per_axis(stride, rank, "stride", minimum=1)
    dilation = per_axis(dilation, rank, "dilation", minimum=1)
    ceil_mode = as_flag(ceil_mode, "ceil_mode")
    if isinstance(padding, str):
        raise TypeError(f"padding must be an int or per-axis ints / (lo, hi) pairs for "
                        f"pooling, got {padding!r}")
    pad_lo, pad_hi = padding_amounts(padding, size, dilation, (0,) * rank)
    out_shape = []
    for n, k, s, d, lo, hi in zip(spatial_shape, size, stride, dilation, pad_lo, pad_hi):
        check_kernel_length(d * (k - 1) + 1, f"size={k} with dilation={d}")
        if max(lo, hi) > k // 2:
            raise ValueError(f"padding {(lo, hi)} is more than half the window size {k}: "
                             f"each side may pad at most size // 2 = {k // 2}")
        span = n + lo + hi - d * (k - 1) - 1
        if n == 0:   # an empty input gives an empty result
            out_shape.append(0)
            continue
        if span < 0:
            raise ValueError(f"the window (size {k}, dilation {d}) is larger than the padded "
                             f"input ({n} + {lo} + {hi} samples) along an axis")
        length = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (length - 1) * s >= n + lo:
            length -= 1
        out_shape.append(length)
    extent = tuple(n + lo + hi for n, lo, hi in zip(spatial_shape, pad_lo, pad_hi))
    return PoolGeometry(size, stride, dilation, pad_lo, pad_hi, tuple(out_shape), extent)


def window_counts(geom, spatial_shape, count_include_pad):
    """For each axis, how many cells each output's window counts: those
    inside the padded extent, or only the input samples."""
    counts = []
    for n, k, s, d, lo, extent, m in zip(spatial_shape, geom.size, geom.stride, geom.dilation,
                                         geom.pad_lo, geom.extent, geom.out_shape):
        # window j reads positions j*s + t*d, t < k: count the t landing in
        # [first, stop), without a table of them
        start = np.arange(m, dtype=np.int64) * s
        first, stop = (0, extent) if count_include_pad else (lo, lo + n)
        t_lo = np.clip(-((start - first) // d), 0, k)              # ceil((first - start) / d)
        t_hi = np.clip((stop - 1 - start) // d + 1, 0, k)
        counts.append(np.maximum(t_hi - t_lo, 0))
    return counts


# --------------------------------------------------------------------------
# Morphology
# --------------------------------------------------------------------------
def _window_array(value, name, holds, rank):
    """``value`` (a footprint or a structure) as a nonempty real array with
    at most ``rank`` dimensions, else a clear error naming ``name``."""
    try:
        a = np.asarray(value)
    except Exception as exc:
        raise TypeError(f"{name} must be an array of {holds}") from exc
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold {holds}, got dtype {a.dtype}")
    if a.ndim > rank:
        raise ValueError(f"{name} has {a.ndim} dimensions but the input has {rank} "
                         f"spatial dimensions")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    return a


def as_footprint(footprint, size, rank, axes=None):
    """A boolean footprint with ``rank`` dimensions: ``footprint`` (any real
    array of 0/1 values, with up to ``rank`` dimensions; missing leading axes
    get length 1; in the order of ``axes``, see :func:`in_axes_order`) or,
    without one, a box of ``size`` (default 3, per axis as ``axes`` orders them)."""
    if footprint is None:
        shape = per_axis(3 if size is None else size, rank, "size", minimum=1)
        for n in shape:
            check_kernel_length(n, f"size={size!r}")
        # a box costs the same whatever its size: no array of that size either
        return np.broadcast_to(np.True_, shape)
    if size is not None:
        raise ValueError("give either footprint or size, not both")
    fp = _window_array(footprint, "footprint", "booleans", rank)
    if fp.dtype != bool:
        if not np.all((fp == 0) | (fp == 1)):
            bad = fp[(fp != 0) & (fp != 1)].flat[0]
            raise ValueError(f"footprint must hold booleans (0 or 1), got the value {bad!r}")
        fp = fp != 0
    if not fp.any():
        raise ValueError("footprint has no True cell")
    fp = fp.reshape((1,) * (rank - fp.ndim) + fp.shape)
    return fp if axes is None else in_axes_order(fp, axes)


def as_structure(structure, footprint, size, rank, axes=None):
    """A non-flat structuring element: ``(footprint, heights)`` with ``rank``
    dimensions each, in the order of ``axes`` (see :func:`in_axes_order`).

    ``structure`` (real numbers, up to ``rank`` dimensions, missing leading
    axes getting length 1) gives the heights; ``footprint``, if given, must
    have its shape and selects the cells that take part (scipy.ndimage's
    rule: the heights of the others are ignored), else every cell does.
    ``heights`` keeps the structure's values exactly: float64 for bool and
    float structures, int64 or uint64 for integer ones.
    """
    if size is not None:
        raise ValueError("give either size or structure, not both (the structure's shape "
                         "is the footprint's)")
    heights = _window_array(structure, "structure", "real numbers", rank)
    if footprint is None:
        fp = np.ones(heights.shape, bool)
    else:
        fp_shape = np.shape(footprint)
        if fp_shape != heights.shape:
            raise ValueError(f"structure has shape {heights.shape} but footprint has shape "
                             f"{fp_shape}; they must have the same shape")
        fp = footprint
    fp = as_footprint(fp, None, rank, axes)
    if heights.dtype.kind in "bf":
        heights = heights.astype(np.float64)
    elif heights.dtype.kind == "i":
        heights = heights.astype(np.int64)
    heights = heights.reshape(fp.shape if axes is None else
                              (1,) * (rank - heights.ndim) + heights.shape)
    return fp, (heights if axes is None else in_axes_order(heights, axes))


def structure_heights(heights, native, kernel, is_max):
    """The heights the non-flat maximum (``is_max``) or minimum kernel adds
    (a minimum subtracts the structure, as scipy's ``grey_erosion``): a 1D
    array of ``heights`` (those of the footprint's cells, in order) for
    kernels of dtype ``kernel`` running an image of dtype ``native``.

    Float images take any heights, cast to the kernel's float dtype.
    Integer images take whole numbers (a fractional or NaN height is an
    error: the sums are exact, then saturated; +-inf saturate every sum):
    int64 for integer kernels, clipped to +-(the kernel dtype's span), past
    which every sum saturates anyway; 64-bit images need heights within
    +-(2**63 - 1).  Integer images on a float64 kernel (uint32) get their
    heights clipped to +-(the image dtype's span), exact in float64.
    """
    sign = 1 if is_max else -1
    if native.kind == "f":
        return np.ascontiguousarray(sign * heights, dtype=kernel)
    if heights.dtype.kind == "f":
        if np.isnan(heights).any():
            raise ValueError("structure holds NaN; an integer image needs whole-number heights")
        finite = heights[np.isfinite(heights)]
        if (finite != np.round(finite)).any():
            bad = finite[finite != np.round(finite)][0]
            raise ValueError(f"structure holds the fractional height {float(bad)}; an integer "
                             f"image needs whole-number heights (round them, e.g. "
                             f"np.rint(structure))")
    limits = np.iinfo(kernel if kernel.kind in "iu" else native)
    span = int(limits.max) - int(limits.min)
    values = heights.tolist()   # exact, as Python ints and floats (the structure is small)
    if limits.bits == 64:
        # the kernel's sums of 64-bit values hold heights up to 2**63 - 1
        span = 2 ** 63 - 1
        if any(not math.isfinite(h) or abs(h) > span for h in values):
            raise ValueError("structure heights on a 64-bit integer image must be finite and "
                             "lie within +-(2**63 - 1)")
    cells = [min(max(int(h) if math.isfinite(h) else (span if h > 0 else -span), -span), span)
             for h in values]
    return np.asarray([sign * h for h in cells], np.int64 if kernel.kind in "iu" else kernel)


def morphology_pad_value(dtype, mode, cval, is_max):
    """The value constant padding uses, in ``dtype``: with ``mode`` None the
    one that leaves the result unchanged (the dtype's minimum for a maximum,
    its maximum for a minimum; -inf/+inf for floats), with 'zero' ``cval``
    saturated to the dtype's range."""
    if mode is None:
        if cval is not None:
            raise ValueError("cval needs mode='zero' (the default mode pads with the "
                             "neutral value of the operation)")
        if dtype.kind == "f":
            return -np.inf if is_max else np.inf
        if dtype == bool:
            return 0 if is_max else 1
        info = np.iinfo(dtype)
        return int(info.min if is_max else info.max)
    modes = canonical_modes(mode, len(mode) if np.ndim(mode) == 1 else 1)
    if "zero" not in modes:
        if cval is not None:
            shown = modes[0] if len(modes) == 1 and np.ndim(mode) == 0 else modes
            raise ValueError(f"cval only applies with mode='zero', not mode={shown!r}")
        return 0.0 if dtype.kind == "f" else 0
    cval = 0.0 if cval is None else check_cval(cval)
    if dtype == bool:
        return int(cval != 0)
    if dtype.kind != "f":
        # an int, exact however wide the dtype (the kernels take it as is)
        info = np.iinfo(dtype)
        if np.isnan(cval):
            return 0
        if cval >= info.max:
            return int(info.max)
        if cval <= info.min:
            return int(info.min)
        return int(np.rint(cval))
    return cval


# --------------------------------------------------------------------------
# Rank filters
# --------------------------------------------------------------------------
def check_rank(rank, filter_size):
    """``rank`` (negative counts from the largest, as scipy.ndimage's) as an
    index into the ``filter_size`` sorted values of a window."""
    rank = as_int(rank, "rank")
    resolved = rank + filter_size if rank < 0 else rank
    if not 0 <= resolved < filter_size:
        raise ValueError(f"rank={rank} is outside the footprint: it has {filter_size} cells, "
                         f"so rank must lie in [{-filter_size}, {filter_size - 1}]")
    return resolved


def percentile_rank(percentile, filter_size):
    """The rank scipy.ndimage.percentile_filter takes for ``percentile`` of
    a window of ``filter_size`` values: int(size * percentile / 100), 100
    meaning the largest; a negative percentile counts from 100 (as scipy's)."""
    if (isinstance(percentile, (bool, np.bool_))
            or not isinstance(percentile, (numbers.Real, np.number))
            or isinstance(percentile, np.complexfloating)):
        raise TypeError(f"percentile must be a real number, got {percentile!r}")
    value = float(percentile)
    if not -100.0 <= value <= 100.0:      # NaN fails too
        raise ValueError(f"percentile={percentile!r} is outside [0, 100] (values down to -100 "
                         f"count back from 100, as scipy.ndimage's)")
    if value < 0:
        value += 100.0
    if value == 100.0:
        return filter_size - 1
    return int(float(filter_size) * value / 100.0)


def rank_pad_value(dtype, cval):
    """``cval`` as a value of the result's ``dtype`` for constant padding of a
    rank filter.  Integers truncate towards zero, as scipy.ndimage's cast of
    its double-valued window does (selection commutes with that monotone
    cast), and saturate to the dtype's range; NaN becomes 0."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return cval
    if dtype == bool:
        return int(cval != 0)   # scipy casts the selected double to bool
    if np.isnan(cval):
        return 0
    info = np.iinfo(dtype)
    return int(min(max(math.trunc(cval), info.min), info.max)) if np.isfinite(cval) else (
        int(info.max) if cval > 0 else int(info.min))

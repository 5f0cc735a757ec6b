"""scipy.ndimage's filter and morphology functions, implemented on imgconv.

tests/test_scipy_suite.py runs scipy's own test files (``test_filters.py``,
``test_morphology.py``) with their ``ndimage`` replaced by this module, so
scipy's cases test imgconv.  Each function takes scipy's arguments and maps
them onto imgconv's:

- modes: scipy's ``reflect`` is imgconv's ``symmetric``, ``mirror`` is
  ``reflect``, ``nearest`` is ``replicate``, ``constant``/``grid-constant``
  are ``zero`` (the two differ only for interpolation), ``wrap``/``grid-wrap``
  are ``wrap``.  scipy ignores ``cval`` outside constant mode; imgconv
  rejects it there, so it is passed only with constant mode.
- ``output=None`` keeps the input's dtype (scipy's rule; imgconv's default is
  the compute type), ``output=<dtype>`` is ``dtype=``, ``output=<array>`` is
  ``out=``.  imgconv rounds and saturates integer results where scipy
  truncates and wraps.
- ``maximum_filter`` is a dilation by the mirrored footprint (scipy's maximum
  filter does not mirror, imgconv's ``dilate`` does).

scipy features imgconv lacks raise :class:`NotInImgconv`, and scipy
behaviours imgconv deliberately does not copy raise
:class:`DeliberateDifference`, so the suite's failures say which is which.
Every other name (distance transforms, ``generic_filter``,
``binary_fill_holes``, ``generate_binary_structure``...) is scipy.ndimage's
own: those tests do not reach imgconv.  ``reached`` counts the calls that
did, so the suite can tell the tests that reach imgconv from the others.
"""
import functools
import inspect
import numbers
import operator

import numpy as np
import scipy.ndimage as _scipy_ndimage

import imgconv as ic


# Plain Exceptions: scipy's tests expect RuntimeError (NotImplementedError's
# base) and ValueError for bad arguments, which a marker must not pass for.
class NotInImgconv(Exception):
    """A scipy.ndimage argument or behaviour that imgconv lacks (the message
    names it): a missing feature."""


class DeliberateDifference(Exception):
    """A scipy.ndimage behaviour that imgconv deliberately does otherwise
    (the message says what and why)."""


#: scipy's boundary mode -> imgconv's (docs/guide/modes.md)
MODES = {
    "reflect": "symmetric", "grid-mirror": "symmetric",
    "mirror": "reflect",
    "nearest": "replicate",
    "wrap": "wrap", "grid-wrap": "wrap",
    "constant": "zero", "grid-constant": "zero",
}

#: calls that reached imgconv, for the suite's bookkeeping
reached = 0


def _reaches_imgconv(function):
    """Count the calls of an adapted function (``reached``); let its
    ``output`` be its input (``_in_place``)."""
    function = _in_place(function)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        global reached
        reached += 1
        return function(*args, **kwargs)
    return wrapper


def __getattr__(name):
    # what imgconv has no counterpart of stays scipy's
    return getattr(_scipy_ndimage, name)


# --------------------------------------------------------------------------
# argument mapping
# --------------------------------------------------------------------------
def _mode(mode):
    """imgconv's name of scipy's ``mode`` (one name or one per axis); names
    scipy does not know go through unchanged, for imgconv to refuse."""
    if isinstance(mode, str):
        return MODES.get(mode, mode)
    return [MODES.get(m, m) if isinstance(m, str) else m for m in mode]


def _is_constant(mode):
    modes = [mode] if isinstance(mode, str) else list(mode)
    return any(m in ("constant", "grid-constant") for m in modes if isinstance(m, str))


def _cval(mode, cval):
    return cval if _is_constant(mode) else 0.0


def _input(x):
    x = np.asarray(x)
    if x.dtype == object:
        raise DeliberateDifference("object arrays: imgconv takes numeric arrays only")
    return x


def _output(x, output, complex_output=False):
    """(dtype, out) for imgconv from scipy's ``output`` for input ``x``."""
    complex_output = complex_output or x.dtype.kind == "c"
    if isinstance(output, np.ndarray):
        if complex_output and output.dtype.kind != "c":
            raise DeliberateDifference("a real output array for a complex result: imgconv "
                                       "raises TypeError, scipy RuntimeError")
        return None, output
    if output is None:
        dtype = x.dtype
        if complex_output and dtype.kind != "c":
            dtype = np.result_type(dtype, np.complex64)
        return dtype, None
    dtype = np.dtype(output)
    if complex_output and dtype.kind != "c":
        raise DeliberateDifference("a real output dtype for a complex result: imgconv refuses "
                                   "it (TypeError), scipy makes it complex with a warning")
    return dtype, None


def _in_place(function):
    """scipy's ``output`` may be the input itself; imgconv never filters in
    place, so the result goes through a new array into it."""
    signature = inspect.signature(function)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        call = signature.bind(*args, **kwargs)
        input, output = call.arguments.get("input"), call.arguments.get("output")
        if (isinstance(output, np.ndarray) and isinstance(input, np.ndarray)
                and np.shares_memory(input, output)):
            call.arguments["output"] = output.dtype
            result = function(*call.args, **call.kwargs)
            if result.shape != output.shape:
                raise RuntimeError("output shape not correct")
            output[...] = result
            return output
        return function(*args, **kwargs)
    return wrapper


def _store(result, output):
    """``result`` where scipy's ``output`` wants it (for functions whose
    imgconv counterpart keeps the input's dtype)."""
    if isinstance(output, np.ndarray):
        if output.shape != result.shape:
            raise RuntimeError("output shape not correct")
        np.copyto(output, result, casting="unsafe")
        return output
    if output is not None:
        return result.astype(np.dtype(output))
    return result


def _is_complex(*arrays):
    return any(np.iscomplexobj(a) for a in arrays)


def _check_axis(axis, ndim):
    if not -ndim <= axis < ndim:
        raise ValueError(f"invalid axis {axis} for an array of {ndim} dimensions")
    return axis % ndim


# --------------------------------------------------------------------------
# linear filters
# --------------------------------------------------------------------------
@_reaches_imgconv
def correlate1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    x = _input(input)
    dtype, out = _output(x, output, _is_complex(weights))
    return ic.correlate1d(x, weights, axis, mode=_mode(mode), cval=_cval(mode, cval),
                          origin=origin, dtype=dtype, out=out)


@_reaches_imgconv
def convolve1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    x = _input(input)
    dtype, out = _output(x, output, _is_complex(weights))
    return ic.convolve1d(x, weights, axis, mode=_mode(mode), cval=_cval(mode, cval),
                         origin=origin, dtype=dtype, out=out)


@_reaches_imgconv
def correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    x = _input(input)
    dtype, out = _output(x, output, _is_complex(weights))
    return ic.correlate(x, weights, mode=_mode(mode), cval=_cval(mode, cval), origin=origin,
                        axes=axes, dtype=dtype, out=out)


@_reaches_imgconv
def convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    x = _input(input)
    dtype, out = _output(x, output, _is_complex(weights))
    return ic.convolve(x, weights, mode=_mode(mode), cval=_cval(mode, cval), origin=origin,
                       axes=axes, dtype=dtype, out=out)


@_reaches_imgconv
def uniform_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    x = _input(input)
    dtype, out = _output(x, output)
    return ic.box(x, size, mode=_mode(mode), cval=_cval(mode, cval), origin=origin,
                  axes=(_check_axis(axis, x.ndim),), dtype=dtype, out=out)


@_reaches_imgconv
def uniform_filter(input, size=3, output=None, mode="reflect", cval=0.0, origin=0, *,
                   axes=None):
    x = _input(input)
    dtype, out = _output(x, output)
    return ic.box(x, size, mode=_mode(mode), cval=_cval(mode, cval), origin=origin, axes=axes,
                  dtype=dtype, out=out)


@_reaches_imgconv
def gaussian_filter1d(input, sigma, axis=-1, order=0, output=None, mode="reflect", cval=0.0,
                      truncate=4.0, *, radius=None):
    x = _input(input)
    dtype, out = _output(x, output)
    return ic.gaussian(x, sigma, order=order, truncate=truncate, radius=radius, mode=_mode(mode),
                       cval=_cval(mode, cval), axes=(_check_axis(axis, x.ndim),), dtype=dtype,
                       out=out)


@_reaches_imgconv
def gaussian_filter(input, sigma, order=0, output=None, mode="reflect", cval=0.0, truncate=4.0,
                    *, radius=None, axes=None):
    x = _input(input)
    dtype, out = _output(x, output)
    return ic.gaussian(x, sigma, order=order, truncate=truncate, radius=radius, mode=_mode(mode),
                       cval=_cval(mode, cval), axes=axes, dtype=dtype, out=out)


def _derivative(operator, input, axis, output, mode, cval):
    x = _input(input)
    dtype, out = _output(x, output)
    return operator(x, axis, mode=_mode(mode), cval=_cval(mode, cval), dtype=dtype, out=out)


@_reaches_imgconv
def sobel(input, axis=-1, output=None, mode="reflect", cval=0.0):
    # scipy's default is one axis (the last), imgconv's the magnitude
    return _derivative(ic.sobel, input, axis, output, mode, cval)


@_reaches_imgconv
def prewitt(input, axis=-1, output=None, mode="reflect", cval=0.0):
    return _derivative(ic.prewitt, input, axis, output, mode, cval)


@_reaches_imgconv
def laplace(input, output=None, mode="reflect", cval=0.0, *, axes=None):
    x = _input(input)
    dtype, out = _output(x, output)
    return ic.laplace(x, mode=_mode(mode), cval=_cval(mode, cval), axes=axes, dtype=dtype,
                      out=out)


def _gaussian_options(kwargs):
    """imgconv's arguments for the gaussian_filter keywords scipy's
    gaussian_laplace and gaussian_gradient_magnitude pass on."""
    options = {"truncate": kwargs.pop("truncate", 4.0), "radius": kwargs.pop("radius", None)}
    if kwargs:
        raise NotInImgconv(f"gaussian_filter keywords {sorted(kwargs)}")
    return options


@_reaches_imgconv
def gaussian_laplace(input, sigma, output=None, mode="reflect", cval=0.0, *, axes=None,
                     **kwargs):
    x = _input(input)
    dtype, out = _output(x, output)
    return ic.gaussian_laplace(x, sigma, mode=_mode(mode), cval=_cval(mode, cval), axes=axes,
                               dtype=dtype, out=out, **_gaussian_options(kwargs))


@_reaches_imgconv
def gaussian_gradient_magnitude(input, sigma, output=None, mode="reflect", cval=0.0, *,
                                axes=None, **kwargs):
    x = _input(input)
    dtype, out = _output(x, output)
    return ic.gaussian_gradient_magnitude(x, sigma, mode=_mode(mode), cval=_cval(mode, cval),
                                          axes=axes, dtype=dtype, out=out,
                                          **_gaussian_options(kwargs))


# --------------------------------------------------------------------------
# minimum, maximum and rank filters
# --------------------------------------------------------------------------
def _mirrored(footprint, size, origin, ndim):
    """(footprint, origin) for imgconv's dilate, which mirrors the footprint
    through its centre, so that it takes the maximum over scipy's unmirrored
    window: the centre ``k//2 + o`` of a mirrored size-k axis is
    ``k - 1 - (k//2 + o)``, so imgconv's origin is ``-o``, one less for even k."""
    if footprint is not None:
        footprint = np.asarray(footprint)
        shape = footprint.shape
        footprint = footprint[(slice(None, None, -1),) * footprint.ndim]
    else:
        shape = ((size,) * ndim if isinstance(size, numbers.Integral)
                 else tuple(size))
    origins = ((origin,) * len(shape) if isinstance(origin, numbers.Integral)
               else tuple(origin))
    if len(origins) != len(shape):
        return footprint, origin     # imgconv reports the mismatch
    return footprint, tuple(-o - (1 - k % 2) for o, k in zip(origins, shape))


def _extreme_filter(is_max, input, size, footprint, output, mode, cval, origin, axes):
    x = _input(input)
    if footprint is not None and size is not None:
        size = None     # scipy's rule: the footprint wins (it warns)
    options = dict(mode=_mode(mode), cval=_cval(mode, cval) if _is_constant(mode) else None,
                   axes=axes)
    if is_max:
        ndim = x.ndim if axes is None else len(np.atleast_1d(axes))
        footprint, origin = _mirrored(footprint, size, origin, ndim)
        result = ic.dilate(x, footprint, size=size, origin=origin, **options)
    else:
        result = ic.erode(x, footprint, size=size, origin=origin, **options)
    return _store(result, output)


@_reaches_imgconv
def minimum_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    x = _input(input)
    return _extreme_filter(False, x, size, None, output, mode, cval, origin,
                           (_check_axis(axis, x.ndim),))


@_reaches_imgconv
def maximum_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    x = _input(input)
    return _extreme_filter(True, x, size, None, output, mode, cval, origin,
                           (_check_axis(axis, x.ndim),))


@_reaches_imgconv
def minimum_filter(input, size=None, footprint=None, output=None, mode="reflect", cval=0.0,
                   origin=0, *, axes=None):
    return _extreme_filter(False, input, size, footprint, output, mode, cval, origin, axes)


@_reaches_imgconv
def maximum_filter(input, size=None, footprint=None, output=None, mode="reflect", cval=0.0,
                   origin=0, *, axes=None):
    return _extreme_filter(True, input, size, footprint, output, mode, cval, origin, axes)


def _rank(function, input, first, size, footprint, output, mode, cval, origin, axes):
    x = _input(input)
    if footprint is not None and size is not None:
        size = None
    result = function(x, *first, size=size, footprint=footprint, mode=_mode(mode),
                      cval=_cval(mode, cval), origin=origin, axes=axes)
    return _store(result, output)


@_reaches_imgconv
def median_filter(input, size=None, footprint=None, output=None, mode="reflect", cval=0.0,
                  origin=0, *, axes=None):
    return _rank(ic.median, input, (), size, footprint, output, mode, cval, origin, axes)


@_reaches_imgconv
def rank_filter(input, rank, size=None, footprint=None, output=None, mode="reflect", cval=0.0,
                origin=0, *, axes=None):
    return _rank(ic.rank_filter, input, (rank,), size, footprint, output, mode, cval, origin,
                 axes)


@_reaches_imgconv
def percentile_filter(input, percentile, size=None, footprint=None, output=None,
                      mode="reflect", cval=0.0, origin=0, *, axes=None):
    return _rank(ic.percentile_filter, input, (percentile,), size, footprint, output, mode,
                 cval, origin, axes)


# --------------------------------------------------------------------------
# grey-scale morphology
# --------------------------------------------------------------------------
def _grey(function, input, size, footprint, structure, output, mode, cval, origin, axes):
    x = _input(input)
    if size is None and footprint is None and structure is None:
        raise RuntimeError("no footprint or filter size provided")
    if footprint is not None and size is not None:
        size = None
    result = function(x, footprint, size=size, structure=structure, mode=_mode(mode),
                      cval=_cval(mode, cval) if _is_constant(mode) else None, origin=origin,
                      axes=axes)
    return _store(result, output)


def _grey_function(function):
    @_reaches_imgconv
    def grey(input, size=None, footprint=None, structure=None, output=None, mode="reflect",
             cval=0.0, origin=0, *, axes=None):
        return _grey(function, input, size, footprint, structure, output, mode, cval, origin,
                     axes)
    return grey


grey_erosion = _grey_function(ic.erode)
grey_dilation = _grey_function(ic.dilate)
grey_opening = _grey_function(ic.opening)
grey_closing = _grey_function(ic.closing)
morphological_gradient = _grey_function(ic.morph_gradient)
white_tophat = _grey_function(ic.tophat)
black_tophat = _grey_function(ic.blackhat)
for _name in ("grey_erosion", "grey_dilation", "grey_opening", "grey_closing",
              "morphological_gradient", "white_tophat", "black_tophat"):
    globals()[_name].__name__ = globals()[_name].__qualname__ = _name


# --------------------------------------------------------------------------
# binary morphology
# --------------------------------------------------------------------------
def _binary_structure(structure, rank):
    if structure is None:
        return _scipy_ndimage.generate_binary_structure(rank, 1)
    structure = np.asarray(structure, dtype=bool)
    if structure.ndim != rank:
        raise RuntimeError("structure and input must have same dimensionality")
    if not structure.any():
        raise RuntimeError("structure must not be empty")
    return structure


def _binary(is_dilation, input, structure, iterations, mask, output, border_value, origin,
            axes):
    """scipy's binary_erosion / binary_dilation: ``iterations`` passes (until
    nothing changes for ``iterations < 1``), changing only where ``mask``."""
    x = _input(input)
    if np.iscomplexobj(x):
        raise TypeError("Complex type not supported")
    iterations = operator.index(iterations)   # scipy's TypeError for 2.0
    rank = x.ndim if axes is None else len(np.atleast_1d(axes))
    structure = _binary_structure(structure, rank)
    function = ic.dilate if is_dilation else ic.erode
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != x.shape:
            raise RuntimeError("mask and input must have equal sizes")
    current = x != 0
    step = 0
    while True:
        result = function(current, structure, mode="zero", cval=int(border_value != 0),
                          origin=origin, axes=axes)
        if mask is not None:
            result = np.where(mask, result, current)
        step += 1
        changed = not np.array_equal(result, current)
        current = result
        if not changed or (iterations >= 1 and step >= iterations):
            break
    return _store(current, output)


@_reaches_imgconv
def binary_erosion(input, structure=None, iterations=1, mask=None, output=None,
                   border_value=0, origin=0, brute_force=False, *, axes=None):
    # brute_force picks scipy's algorithm, not its result
    return _binary(False, input, structure, iterations, mask, output, border_value, origin,
                   axes)


@_reaches_imgconv
def binary_dilation(input, structure=None, iterations=1, mask=None, output=None,
                    border_value=0, origin=0, brute_force=False, *, axes=None):
    return _binary(True, input, structure, iterations, mask, output, border_value, origin, axes)


@_reaches_imgconv
def binary_opening(input, structure=None, iterations=1, output=None, origin=0, mask=None,
                   border_value=0, brute_force=False, *, axes=None):
    x = _input(input)
    rank = x.ndim if axes is None else len(np.atleast_1d(axes))
    structure = _binary_structure(structure, rank)
    eroded = _binary(False, x, structure, iterations, mask, None, border_value, origin, axes)
    return _binary(True, eroded, structure, iterations, mask, output, border_value, origin,
                   axes)


@_reaches_imgconv
def binary_closing(input, structure=None, iterations=1, output=None, origin=0, mask=None,
                   border_value=0, brute_force=False, *, axes=None):
    x = _input(input)
    rank = x.ndim if axes is None else len(np.atleast_1d(axes))
    structure = _binary_structure(structure, rank)
    dilated = _binary(True, x, structure, iterations, mask, None, border_value, origin, axes)
    return _binary(False, dilated, structure, iterations, mask, output, border_value, origin,
                   axes)


def _register_capabilities():
    """Give each function here scipy's array-API capabilities entry of its
    namesake: scipy's tests look their functions up in that table
    (``make_xp_test_case``), which exists from scipy 1.15 on."""
    try:
        from scipy._lib._array_api import xp_capabilities_table
    except ImportError:
        return
    for name, value in list(globals().items()):
        scipy_function = getattr(_scipy_ndimage, name, None)
        if (callable(value) and getattr(value, "__module__", None) == __name__
                and scipy_function in xp_capabilities_table):
            xp_capabilities_table[value] = xp_capabilities_table[scipy_function]


_register_capabilities()

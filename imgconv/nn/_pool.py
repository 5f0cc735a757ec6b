"""Pooling as ``torch.nn.functional``'s: max, average, Lp and adaptive pools
over (N, C, *spatial) arrays.

The fixed-window pools run on the image layer's pooling kernels
(:func:`imgconv.pool` with the last 1-3 axes as its ``axes``, so N and C are
batch axes); what torch does differently is settled here: its argument
checks and messages, ``divisor_override``, ``lp_pool``'s signed power
average, and adaptive windows of unequal lengths.
"""
import math
import numbers
from typing import NamedTuple

import numpy as np

from .. import _docstrings
from .. import _validate as v
from .._pool import pool

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d",
    "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "lp_pool1d", "lp_pool2d", "lp_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
]

_SPATIAL_NAMES = {1: "L", 2: "H, W", 3: "D, H, W"}

# the parameter entries the pools share, each written once (see imgconv._docstrings)
_DOCS = {name: _docstrings._entries(text) for name, text in {
    "input1": """
        input : ndarray
            ``(N, C, L)`` or unbatched ``(C, L)``; float32 or float64 (float16 is
            computed in float32 and returned as float16).
        """,
    "input2": """
        input : ndarray
            ``(N, C, H, W)`` or unbatched ``(C, H, W)``; float32 or float64
            (float16 is computed in float32 and returned as float16).
        """,
    "input3": """
        input : ndarray
            ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)``; float32 or float64
            (float16 is computed in float32 and returned as float16).
        """,
    "kernel_size2": """
        kernel_size : int or tuple of int
            Window size, one for both axes or ``(kH, kW)``.
        """,
    "kernel_size3": """
        kernel_size : int or tuple of int
            Window size, one for every axis or ``(kD, kH, kW)``.
        """,
    "stride": """
        stride : int or tuple of int, optional
            Step between windows; default ``kernel_size``.
        """,
    "dilation": """
        dilation : int or tuple of int
            Spacing between a window's samples.
        """,
    "max_padding": """
        padding : int or tuple of int
            Implicit -inf samples on both sides of each axis, at most
            ``kernel_size // 2``.
        """,
    "max_ceil_mode": """
        ceil_mode : bool
            Round the output size up; the last window must still start inside
            the input or the left padding.
        """,
    "avg_padding": """
        padding : int or tuple of int
            Implicit zeros on both sides of each axis, at most ``kernel_size // 2``.
        """,
    "avg_ceil_mode": """
        ceil_mode : bool
            Round the output size up; the last window must still start inside
            the input or the left padding, and its cells past the padding are
            not counted.
        """,
    "count_include_pad": """
        count_include_pad : bool
            Whether the padding zeros count in the divisor.
        """,
    "divisor_override": """
        divisor_override : int, optional
            Divide every window's sum by this instead.
        """,
    "norm_type": """
        norm_type : float
            The exponent ``p`` (non-zero); ``inf`` gives the largest ``|x|``
            of each window, ``-inf`` minus the largest ``-|x|``.
        """,
    "output_size1": """
        output_size : int
            The output length (at least 1; None: the input's).
        """,
    "output_size2": """
        output_size : int or tuple
            ``(outH, outW)``, or one size for both; a None keeps that axis's size.
        """,
    "output_size3": """
        output_size : int or tuple
            ``(outD, outH, outW)``, or one size for every axis; a None keeps that
            axis's size.
        """,
}.items()}


def _docfiller(function):
    function.__doc__ = _docstrings.fill(function.__doc__, _DOCS)
    return function


# --------------------------------------------------------------------------
# Arguments shared by the nn functions (pooling, unfold/fold)
# --------------------------------------------------------------------------
class NCInput(NamedTuple):
    """An nn input, checked: ``x`` is native-endian float32 or float64 with
    1 (unbatched) or 2 (batched) axes before its ``rank`` spatial axes."""

    x: np.ndarray
    rank: int
    result_dtype: np.dtype   # the input's dtype (float16 is computed in float32)

    @property
    def spatial_axes(self):
        return tuple(range(self.x.ndim - self.rank, self.x.ndim))

    @property
    def spatial_shape(self):
        return self.x.shape[self.x.ndim - self.rank:]

    def result(self, array):
        """``array`` (computed in ``x``'s dtype) in the input's dtype."""
        return array.astype(self.result_dtype, copy=False)


def nc_input(input, rank, func, leading=None):
    """``input`` as an :class:`NCInput` of ``rank`` spatial axes, else a
    clear error naming ``func`` and the argument.  ``leading``: a
    description of the axes before the spatial ones (default "C" unbatched,
    "N, C" batched)."""
    x = np.asarray(input)
    if x.dtype.newbyteorder("=") not in (np.float16, np.float32, np.float64):
        raise TypeError(f"{func}: input must be float16, float32 or float64 (float16 is "
                        f"computed in float32), got dtype {x.dtype}")
    unbatched, batched = leading or ("C", "N, C")
    spatial = _SPATIAL_NAMES[rank]
    if x.ndim not in (rank + 1, rank + 2):
        raise ValueError(f"{func}: input must have {rank + 1} dimensions ({unbatched}, {spatial}) "
                         f"or {rank + 2} ({batched}, {spatial}), got shape {x.shape}")
    # as torch: only the batch axis may be empty
    if any(n == 0 for n in x.shape[x.ndim - rank - 1:]):
        raise ValueError(f"{func}: input needs non-zero sizes on every axis but the batch axis, "
                         f"got shape {x.shape}")
    result_dtype = x.dtype.newbyteorder("=")
    compute = np.dtype(np.float32) if result_dtype == np.float16 else result_dtype
    return NCInput(x.astype(compute, copy=False), rank, result_dtype)


def torch_per_axis(value, rank, name, func, minimum):
    """An int, or one per spatial axis (a single-element sequence counts for
    every axis, as torch's), as a tuple of ``rank`` ints >= ``minimum``."""
    if (isinstance(value, (tuple, list)) and len(value) == 1
            and not isinstance(value[0], (tuple, list))):
        value = value[0]
    try:
        return v.per_axis(value, rank, name, minimum=minimum)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{func}: {exc}") from None


class Windows(NamedTuple):
    """The window geometry of a fixed-window pool, torch's, per spatial axis."""

    size: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    ceil_mode: bool
    geometry: v.PoolGeometry    # the image layer's (output shape, extent)

    @property
    def out_shape(self):
        return self.geometry.out_shape


def pool_windows(func, spatial_shape, kernel_size, stride, padding, dilation, ceil_mode):
    """Check a pool's window arguments as torch does (with its messages) and
    work out its geometry."""
    rank = len(spatial_shape)
    size = torch_per_axis(kernel_size, rank, "kernel_size", func, 1)
    # torch takes stride=None or stride=[] for "the kernel size"
    stride = (size if stride is None or (isinstance(stride, (tuple, list)) and not stride)
              else torch_per_axis(stride, rank, "stride", func, 1))
    padding = torch_per_axis(padding, rank, "padding", func, 0)
    dilation = torch_per_axis(dilation, rank, "dilation", func, 1)
    ceil_mode = v.as_flag(ceil_mode, "ceil_mode")
    # (torch's rule, for max pools too whatever the dilation: every window
    # then holds an input sample)
    if any(p > k // 2 for k, p in zip(size, padding)):
        raise ValueError(f"{func}: padding={padding} should be at most half of the kernel "
                         f"size on every axis, got kernel_size={size}")
    if any(n + 2 * p - d * (k - 1) - 1 < 0
           for n, k, p, d in zip(spatial_shape, size, padding, dilation)):
        raise ValueError(f"{func}: the output would be empty for input size "
                         f"{tuple(spatial_shape)} with kernel_size={size}, padding={padding} "
                         f"and dilation={dilation}: output size too small, each must be at "
                         "least 1 (the dilated window must fit in the padded input)")
    geometry = v.pool_geometry(spatial_shape, size, stride, padding, dilation, ceil_mode)
    return Windows(size, stride, padding, dilation, ceil_mode, geometry)


# --------------------------------------------------------------------------
# Max pooling
# --------------------------------------------------------------------------
def _max_pool(func, rank, input, kernel_size, stride, padding, dilation, ceil_mode,
              return_indices):
    inp = nc_input(input, rank, func)
    win = pool_windows(func, inp.spatial_shape, kernel_size, stride, padding, dilation,
                       ceil_mode)
    return_indices = v.as_flag(return_indices, "return_indices")
    # the image layer pads max pools with -inf and numbers indices within
    # each plane of the pooled axes, picking the first maximum or the last
    # NaN: torch's conventions
    found = pool(inp.x, win.size, stride=win.stride, padding=win.padding,
                 dilation=win.dilation, op="max", ceil_mode=win.ceil_mode,
                 axes=inp.spatial_axes, return_indices=return_indices)
    if return_indices:
        return inp.result(found[0]), found[1]
    return inp.result(found)


@_docfiller
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1D max pooling, as ``torch.nn.functional.max_pool1d``.

    Parameters
    ----------
    %(input1)s
    kernel_size : int or tuple of int
        Window length.
    %(stride)s
    padding : int or tuple of int
        Implicit -inf samples on both sides, at most ``kernel_size // 2``.
    %(dilation)s
    ceil_mode : bool
        Round the output length up; the last window must still start inside
        the input or the left padding.
    return_indices : bool
        Also return, for each output, the index of the maximum within its
        ``(n, c)`` plane (torch's convention: the first maximum in scan
        order, the last NaN if the window holds one).

    Returns
    -------
    ndarray, or (ndarray, ndarray of int64) with ``return_indices``

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.array([[[1., 3., 2., 5., 4.]]])
    >>> nn.max_pool1d(x, 2)
    array([[[3., 5.]]])
    >>> nn.max_pool1d(x, 2, ceil_mode=True, return_indices=True)
    (array([[[3., 5., 4.]]]), array([[[1, 3, 4]]]))
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


@_docfiller
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2D max pooling, as ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    %(input2)s
    %(kernel_size2)s
    %(stride)s
    %(max_padding)s
    %(dilation)s
    %(max_ceil_mode)s
    return_indices : bool
        Also return, for each output, the flat index ``h * W + w`` of the
        maximum within its ``(n, c)`` plane (torch's convention: the first
        maximum in scan order, the last NaN if the window holds one).

    Returns
    -------
    ndarray, or (ndarray, ndarray of int64) with ``return_indices``

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> nn.max_pool2d(x, 2)
    array([[[[ 5.,  7.],
             [13., 15.]]]], dtype=float32)
    >>> values, indices = nn.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    >>> indices
    array([[[[ 5,  7],
             [13, 15]]]])
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


@_docfiller
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """3D max pooling, as ``torch.nn.functional.max_pool3d``.

    Parameters
    ----------
    %(input3)s
    %(kernel_size3)s
    %(stride)s
    %(max_padding)s
    %(dilation)s
    %(max_ceil_mode)s
    return_indices : bool
        Also return, for each output, the flat index ``(d * H + h) * W + w``
        of the maximum within its ``(n, c)`` volume (torch's convention: the
        first maximum in scan order, the last NaN if the window holds one).

    Returns
    -------
    ndarray, or (ndarray, ndarray of int64) with ``return_indices``

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.arange(27, dtype=np.float32).reshape(1, 3, 3, 3)   # unbatched
    >>> nn.max_pool3d(x, 2, ceil_mode=True)
    array([[[[13., 14.],
             [16., 17.]],
    <BLANKLINE>
            [[22., 23.],
             [25., 26.]]]], dtype=float32)
    """
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


# --------------------------------------------------------------------------
# Average pooling
# --------------------------------------------------------------------------
def _avg_pool(func, rank, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    inp = nc_input(input, rank, func)
    win = pool_windows(func, inp.spatial_shape, kernel_size, stride, padding, 1, ceil_mode)
    count_include_pad = v.as_flag(count_include_pad, "count_include_pad")
    if divisor_override is not None:
        if (not isinstance(divisor_override, (numbers.Integral, np.integer))
                or isinstance(divisor_override, bool)):
            raise TypeError(f"{func}: divisor_override must be an int or None, "
                            f"got {divisor_override!r}")
        if divisor_override == 0:
            raise ValueError(f"{func}: divisor_override must be non-zero")
        # every divisor is then the same: the average over padded windows
        # (torch's count_include_pad=True divisor) times its divisor gives the sum
        count_include_pad = True
    mean = pool(inp.x, win.size, stride=win.stride, padding=win.padding, op="avg",
                ceil_mode=win.ceil_mode, count_include_pad=count_include_pad,
                axes=inp.spatial_axes)
    if divisor_override is not None:
        counts = math.prod(np.ix_(*v.window_counts(win.geometry, inp.spatial_shape, True)))
        mean = mean * (counts / float(divisor_override)).astype(mean.dtype)
    return inp.result(mean)


@_docfiller
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1D average pooling, as ``torch.nn.functional.avg_pool1d``.

    Parameters
    ----------
    %(input1)s
    kernel_size : int or tuple of int
        Window length.
    %(stride)s
    padding : int or tuple of int
        Implicit zeros on both sides, at most ``kernel_size // 2``.
    ceil_mode : bool
        Round the output length up; the last window must still start inside
        the input or the left padding, and its cells past the padding are
        not counted.
    %(count_include_pad)s

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.array([[[1., 2., 3., 4., 5.]]])
    >>> nn.avg_pool1d(x, 2)
    array([[[1.5, 3.5]]])
    >>> nn.avg_pool1d(x, 3, padding=1, count_include_pad=False)
    array([[[1.5, 4. ]]])
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


@_docfiller
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2D average pooling, as ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    %(input2)s
    %(kernel_size2)s
    %(stride)s
    %(avg_padding)s
    %(avg_ceil_mode)s
    %(count_include_pad)s
    %(divisor_override)s

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> nn.avg_pool2d(x, 2)
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]], dtype=float32)
    >>> nn.avg_pool2d(x, 2, divisor_override=1)      # window sums
    array([[[[10., 18.],
             [42., 50.]]]], dtype=float32)
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


@_docfiller
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """3D average pooling, as ``torch.nn.functional.avg_pool3d``.

    Parameters
    ----------
    %(input3)s
    %(kernel_size3)s
    %(stride)s
    %(avg_padding)s
    %(avg_ceil_mode)s
    %(count_include_pad)s
    %(divisor_override)s

    Returns
    -------
    ndarray

    Notes
    -----
    torch's CPU ``avg_pool3d`` (unlike its ``avg_pool1d``/``avg_pool2d``)
    refuses an input smaller than the window along an axis even where the
    padding makes room for it; this function pools such inputs as the 1D
    and 2D functions do.

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.ones((2, 4, 4, 4), dtype=np.float32)      # unbatched (C, D, H, W)
    >>> nn.avg_pool3d(x, 2, padding=1).shape
    (2, 3, 3, 3)
    >>> float(nn.avg_pool3d(x, 2, padding=1)[0, 0, 0, 0])   # 1 sample of 8 is input
    0.125
    """
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


# --------------------------------------------------------------------------
# Power-average (Lp) pooling
# --------------------------------------------------------------------------
def _lp_pool(func, rank, input, norm_type, kernel_size, stride, ceil_mode):
    if (not isinstance(norm_type, (numbers.Real, np.floating, np.integer))
            or isinstance(norm_type, bool)):
        raise TypeError(f"{func}: norm_type must be a real number, got {norm_type!r}")
    norm_type = float(norm_type)
    if norm_type == 0 or math.isnan(norm_type):
        raise ValueError(f"{func}: norm_type must be non-zero and not NaN (the result is the "
                         f"1/norm_type power), got {norm_type!r}")
    inp = nc_input(input, rank, func)
    win = pool_windows(func, inp.spatial_shape, kernel_size, stride, 0, 1, ceil_mode)
    axes = inp.spatial_axes
    if math.isinf(norm_type):
        # torch: the largest |x| of each window, or minus the largest -|x|
        sign = 1.0 if norm_type > 0 else -1.0
        found = pool(sign * np.abs(inp.x), win.size, stride=win.stride, op="max",
                     ceil_mode=win.ceil_mode, axes=axes)
        return inp.result(sign * found)
    # torch's formula: the average of x**p times the window size (torch's
    # sign(a) * relu(|a|) of the average a is a itself), so a negative
    # total (odd p, negative inputs) gives NaN, as torch
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        powered = np.power(inp.x, inp.x.dtype.type(norm_type))
        mean = pool(powered, win.size, stride=win.stride, op="avg", ceil_mode=win.ceil_mode,
                    axes=axes)
        total = mean * mean.dtype.type(math.prod(win.size))
        result = np.power(total, total.dtype.type(1.0 / norm_type))
    return inp.result(result)


@_docfiller
def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """1D power-average pooling, as ``torch.nn.functional.lp_pool1d``.

    Each output is ``(sum of x**p over the window) ** (1/p)``, computed as
    torch does: ``p * average`` of ``x**p``, so a window cut short by
    ``ceil_mode`` is scaled up to the full window, and negative inputs with
    an odd or non-integer ``p`` give NaN.

    Parameters
    ----------
    %(input1)s
    %(norm_type)s
    kernel_size : int
        Window length.
    stride : int, optional
        Step between windows; default ``kernel_size``.
    ceil_mode : bool
        Round the output length up.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> nn.lp_pool1d(np.array([[3., 4., 1., 0.]]), 2, 2)     # unbatched
    array([[5., 1.]])
    """
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


@_docfiller
def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """2D power-average pooling, as ``torch.nn.functional.lp_pool2d``.

    Each output is ``(sum of x**p over the window) ** (1/p)``, computed as
    torch does: ``kH * kW * average`` of ``x**p``, so a window cut short by
    ``ceil_mode`` is scaled up to the full window, and negative inputs with
    an odd or non-integer ``p`` give NaN.

    Parameters
    ----------
    %(input2)s
    %(norm_type)s
    %(kernel_size2)s
    %(stride)s
    ceil_mode : bool
        Round the output size up.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.full((1, 1, 2, 2), 2.0, dtype=np.float32)
    >>> nn.lp_pool2d(x, 2, 2)          # sqrt(4 * 2**2)
    array([[[[4.]]]], dtype=float32)
    """
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


@_docfiller
def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """3D power-average pooling, as ``torch.nn.functional.lp_pool3d``.

    Each output is ``(sum of x**p over the window) ** (1/p)``, computed as
    torch does: ``kD * kH * kW * average`` of ``x**p``, so a window cut
    short by ``ceil_mode`` is scaled up to the full window, and negative
    inputs with an odd or non-integer ``p`` give NaN.

    Parameters
    ----------
    %(input3)s
    %(norm_type)s
    %(kernel_size3)s
    %(stride)s
    ceil_mode : bool
        Round the output size up.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.ones((1, 1, 2, 2, 2))
    >>> nn.lp_pool3d(x, 1, 2)          # the window's sum
    array([[[[[8.]]]]])
    """
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)


# --------------------------------------------------------------------------
# Adaptive pooling
# --------------------------------------------------------------------------
def _adaptive_sizes(func, output_size, spatial_shape):
    """``output_size`` per axis (None: the input's size), each >= 1."""
    rank = len(spatial_shape)
    if output_size is None or isinstance(output_size, (numbers.Integral, np.integer)):
        given = (output_size,) * rank
    else:
        try:
            given = tuple(output_size)
        except TypeError:
            raise TypeError(f"{func}: output_size must be an int or a sequence of {rank} ints "
                            f"or None, got {output_size!r}") from None
        if len(given) == 1:
            given = given * rank
        if len(given) != rank:
            raise ValueError(f"{func}: output_size needs {rank} values (one per spatial axis), "
                             f"got {output_size!r}")
    sizes = []
    for m, n in zip(given, spatial_shape):
        if m is None:
            m = n
        if not isinstance(m, (numbers.Integral, np.integer)) or isinstance(m, bool):
            raise TypeError(f"{func}: output_size must hold ints or None, got {output_size!r}")
        if m <= 0:
            raise ValueError(f"{func}: output_size must be at least 1 on every axis, "
                             f"got {output_size!r}")
        if m > v.MAX_AXIS_SAMPLES:
            raise ValueError(f"{func}: output_size must be at most 2**28 on every axis, "
                             f"got {output_size!r}")
        sizes.append(int(m))
    return tuple(sizes)


def adaptive_windows(n, m):
    """torch's adaptive windows along an axis of n samples cut into m:
    window i covers [floor(i*n/m), ceil((i+1)*n/m)).  Returns (starts, lengths)."""
    i = np.arange(m, dtype=np.int64)
    start = (i * n) // m
    stop = -((-(i + 1) * n) // m)
    return start, stop - start


def _adaptive_axis(x, axis, m, op):
    """Average or maximum of each adaptive window along ``axis`` (no indices),
    by one ``reduceat``.

    Window i is [start_i, end_i), and end_i is at most start_(i+1) + 1.
    With m <= n no window but the last ends at n: ``reduceat`` over the
    indices start_0, end_0, start_1, end_1, ... reduces each window into
    the even entries (an odd entry, from end_i to start_(i+1), is at most
    one sample, dropped).  With m > n (windows of 1 or 2 samples) the
    windows' first and last samples make them.
    """
    n = x.shape[axis]
    start, length = adaptive_windows(n, m)
    ufunc = np.add if op == "avg" else np.maximum
    shape = [1] * x.ndim
    shape[axis] = m
    if m > n:
        first = np.take(x, start, axis=axis)
        last = np.take(x, start + length - 1, axis=axis)
        reduced = np.where((length > 1).reshape(shape), ufunc(first, last), first)
    else:
        bounds = np.stack([start, start + length], axis=1).ravel()[:-1]
        if axis == x.ndim - 1 and x.flags.c_contiguous:
            # (reduceat over the rows of a 2-D view runs about twice as fast)
            rows = ufunc.reduceat(x.reshape(-1, n), bounds, axis=1)
            reduced = rows[:, ::2].reshape(x.shape[:-1] + (m,))
        else:
            pick = [slice(None)] * x.ndim
            pick[axis] = slice(None, None, 2)
            reduced = ufunc.reduceat(x, bounds, axis=axis)[tuple(pick)]
    if op == "avg":
        reduced = reduced / length.reshape(shape).astype(x.dtype)
    return reduced


def _adaptive_max_with_indices(x, axes, sizes):
    """Adaptive max pooling with torch's indices, on the image layer's kernels.

    Each axis is gathered so that window i becomes block i of a fixed
    length (the longest window's), a short window repeating its last
    sample; one plain pool of those blocks then finds each maximum, and
    the gathered positions map its index back.  A repeat comes after its
    original in scan order, so the first maximum stays the first, and the
    last NaN, if a repeat, is the same sample as its original.
    """
    gathered, sources, blocks = x, [], []
    for axis, m in zip(axes, sizes):
        start, length = adaptive_windows(x.shape[axis], m)
        taps = int(length.max())
        source = np.minimum(start[:, None] + np.arange(taps), (start + length - 1)[:, None])
        gathered = np.take(gathered, source.ravel(), axis=axis)
        sources.append(source.ravel())
        blocks.append(taps)
    values, where = pool(gathered, tuple(blocks), op="max", axes=axes, return_indices=True)
    coords = np.unravel_index(where, tuple(gathered.shape[a] for a in axes))
    spatial = tuple(x.shape[a] for a in axes)
    return values, np.ravel_multi_index([source[c] for source, c in zip(sources, coords)],
                                        spatial)


def _adaptive_pool(func, rank, input, output_size, op, return_indices=False):
    inp = nc_input(input, rank, func)
    sizes = _adaptive_sizes(func, output_size, inp.spatial_shape)
    if op == "max":
        return_indices = v.as_flag(return_indices, "return_indices")
    x, axes = inp.x, inp.spatial_axes
    if all(n % m == 0 for n, m in zip(inp.spatial_shape, sizes)):
        # equal windows, side by side: a plain pool
        window = tuple(n // m for n, m in zip(inp.spatial_shape, sizes))
        found = pool(x, window, op=op, axes=axes, return_indices=return_indices)
        if return_indices:
            return inp.result(found[0]), found[1]
        return inp.result(found)
    if op == "avg" or not return_indices:
        # the last axis first: reduceat along it is the fastest, and leaves
        # the other axes less to do
        for axis, m in reversed(list(zip(axes, sizes))):
            x = _adaptive_axis(x, axis, m, op)
        return inp.result(x)
    values, indices = _adaptive_max_with_indices(x, axes, sizes)
    return inp.result(values), indices


@_docfiller
def adaptive_avg_pool1d(input, output_size):
    """1D adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool1d``.

    Output ``i`` averages input samples ``floor(i * L / out)`` to
    ``ceil((i + 1) * L / out) - 1``, so windows may differ in length by one
    and overlap.

    Parameters
    ----------
    %(input1)s
    %(output_size1)s

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> nn.adaptive_avg_pool1d(np.array([[[1., 2., 3., 4., 5.]]]), 2)
    array([[[2., 4.]]])
    """
    return _adaptive_pool("adaptive_avg_pool1d", 1, input, output_size, "avg")


@_docfiller
def adaptive_avg_pool2d(input, output_size):
    """2D adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool2d``.

    Along each axis, output ``i`` covers input samples ``floor(i * n / out)``
    to ``ceil((i + 1) * n / out) - 1``.

    Parameters
    ----------
    %(input2)s
    %(output_size2)s

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.arange(9, dtype=np.float32).reshape(1, 3, 3)   # unbatched
    >>> nn.adaptive_avg_pool2d(x, 2)
    array([[[2., 3.],
            [5., 6.]]], dtype=float32)
    >>> nn.adaptive_avg_pool2d(x, (1, None))
    array([[[3., 4., 5.]]], dtype=float32)
    """
    return _adaptive_pool("adaptive_avg_pool2d", 2, input, output_size, "avg")


@_docfiller
def adaptive_avg_pool3d(input, output_size):
    """3D adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool3d``.

    Along each axis, output ``i`` covers input samples ``floor(i * n / out)``
    to ``ceil((i + 1) * n / out) - 1``.

    Parameters
    ----------
    %(input3)s
    %(output_size3)s

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.ones((2, 3, 5, 7, 9), dtype=np.float32)
    >>> nn.adaptive_avg_pool3d(x, (2, 3, 4)).shape
    (2, 3, 2, 3, 4)
    """
    return _adaptive_pool("adaptive_avg_pool3d", 3, input, output_size, "avg")


@_docfiller
def adaptive_max_pool1d(input, output_size, return_indices=False):
    """1D adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool1d``.

    Output ``i`` is the maximum of input samples ``floor(i * L / out)`` to
    ``ceil((i + 1) * L / out) - 1``.

    Parameters
    ----------
    %(input1)s
    %(output_size1)s
    return_indices : bool
        Also return each maximum's index along L (the first maximum, the
        last NaN if the window holds one, as torch).

    Returns
    -------
    ndarray, or (ndarray, ndarray of int64) with ``return_indices``

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> nn.adaptive_max_pool1d(np.array([[[1., 5., 3., 4., 2.]]]), 2, return_indices=True)
    (array([[[5., 4.]]]), array([[[1, 3]]]))
    """
    return _adaptive_pool("adaptive_max_pool1d", 1, input, output_size, "max", return_indices)


@_docfiller
def adaptive_max_pool2d(input, output_size, return_indices=False):
    """2D adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool2d``.

    Along each axis, output ``i`` covers input samples ``floor(i * n / out)``
    to ``ceil((i + 1) * n / out) - 1``.

    Parameters
    ----------
    %(input2)s
    %(output_size2)s
    return_indices : bool
        Also return each maximum's flat index ``h * W + w`` within its
        ``(n, c)`` plane (the first maximum in scan order, the last NaN if
        the window holds one, as torch).

    Returns
    -------
    ndarray, or (ndarray, ndarray of int64) with ``return_indices``

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    >>> values, indices = nn.adaptive_max_pool2d(x, 2, return_indices=True)
    >>> values
    array([[[[4., 5.],
             [7., 8.]]]], dtype=float32)
    >>> indices
    array([[[[4, 5],
             [7, 8]]]])
    """
    return _adaptive_pool("adaptive_max_pool2d", 2, input, output_size, "max", return_indices)


@_docfiller
def adaptive_max_pool3d(input, output_size, return_indices=False):
    """3D adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool3d``.

    Along each axis, output ``i`` covers input samples ``floor(i * n / out)``
    to ``ceil((i + 1) * n / out) - 1``.

    Parameters
    ----------
    %(input3)s
    %(output_size3)s
    return_indices : bool
        Also return each maximum's flat index ``(d * H + h) * W + w`` within
        its ``(n, c)`` volume (the first maximum in scan order, the last NaN
        if the window holds one, as torch).

    Returns
    -------
    ndarray, or (ndarray, ndarray of int64) with ``return_indices``

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)   # unbatched
    >>> nn.adaptive_max_pool3d(x, 1, return_indices=True)
    (array([[[[7.]]]], dtype=float32), array([[[[7]]]]))
    """
    return _adaptive_pool("adaptive_max_pool3d", 3, input, output_size, "max", return_indices)

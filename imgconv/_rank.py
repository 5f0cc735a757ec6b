"""Rank filters: median, any rank, percentile, over flat footprints.

scipy.ndimage's conventions: the footprint's centre cell is
``k // 2 + origin`` along each axis (not mirrored), and output p is the
``rank``-th smallest of the padded input at p + (cell - centre) over the
footprint's True cells.  The result keeps the input's dtype exactly: a rank
is one of the window's values (or the padding value).  NaN sorts after every
number, as in ``numpy.sort``, so a window's NaNs only show where the rank
reaches past its numbers.  The kernels slide a sorted or histogram window
along the rows (``pyx/rank.pxi``); no window is sorted from scratch.
"""
import textwrap
from typing import NamedTuple

import numpy as np

from . import _validate as v
from ._backend import footprint_reach, run_padded
from ._convolve import _plan_cache, cache_plan, plan_key, with_input
from ._dispatch import device_boundary, select_backend
from ._docstrings import docdict, fill


class RankPlan(NamedTuple):
    """A rank filter's checked arguments, for any input of one layout
    (``inp`` then holds no array)."""

    inp: v.FilterInput
    native: np.dtype        # the result's dtype
    pad_value: object       # constant padding, a value of the result's dtype
    fp: np.ndarray          # the footprint, in the order of inp.axes
    centre: tuple
    rank: int               # index into the window's sorted values


_RANK_ENTRIES = {
    "x_rank": """
        x : array_like
            1D, 2D or 3D data, optionally with a channel axis: uint8, uint16,
            int16, int32, int64, uint64, float32, float64, or bool; other real
            dtypes keep their dtype too (int8, float16 and uint32 run widened).
            Any strides and byte order; ``x`` is never modified.
        """,
    "size_footprint_rank": """
        size : int or sequence of int, optional
            Without ``footprint``: a box of this size (default 3), one value per
            filtered axis in the order of ``axes``.
        footprint : array of bool, optional
            The window's cells, with up to as many dimensions as ``x`` has
            spatial axes (missing leading axes get length 1), for example
            :func:`imgconv.footprints.disk`; holes are fine.  With ``axes``, its
            dimensions map onto them in ascending array order (as
            scipy.ndimage).  Give ``size`` or ``footprint``, not both.
        """,
    "mode_rank": """
        mode : str or sequence of str
            Boundary handling (default ``'reflect'``, scipy's ``'mirror'``):
            ``'zero'`` pads with ``cval``; ``'replicate'``, ``'reflect'``,
            ``'symmetric'`` (scipy's ``'reflect'``), ``'wrap'`` as everywhere in
            imgconv.  A sequence gives one per filtered axis (in the order of
            ``axes``), at the cost of one padded copy of ``x``.
        cval : float
            Padding value with ``mode='zero'``, converted to the input's dtype
            as scipy's result is (integers truncate towards zero), saturated to
            its range.
        """,
    "options_rank": """
        origin : int or sequence of int
            Shifts the footprint's centre cell to ``k // 2 + origin``
            (scipy.ndimage's rule), per axis in the order of ``axes``.
        channel_axis, axes : optional
            As in :func:`imgconv.correlate`.
        out : ndarray, optional
            Array of the input's shape and dtype to write the result into.
        backend, threads : optional
            As in :func:`imgconv.correlate`.
        """,
}
_ENTRIES = {**docdict, **{name: textwrap.dedent(text).strip("\n")
                          for name, text in _RANK_ENTRIES.items()}}


def _filled(f):
    """Fill ``f``'s docstring placeholders from this module's entries and
    imgconv's shared ones."""
    if f.__doc__:   # None under python -OO
        f.__doc__ = fill(f.__doc__, _ENTRIES)
    return f


def _rank_filter(x, which, size, footprint, mode, cval, origin, channel_axis, axes, out,
                 backend, threads):
    """The filter of ``which``: ("median", None), ("rank", rank) or
    ("percentile", p)."""
    # a repeated call (a loop over patches or frames) is checked once
    key = plan_key(x, (*which, footprint is None, size, mode, cval, origin, channel_axis, axes,
                       backend), footprint)
    plan = None if key is None else _plan_cache.get(key)
    if plan is None:
        plan = _rank_plan(x, which, size, footprint, mode, cval, origin, channel_axis, axes,
                          backend)
        inp = plan.inp
        if inp.x is x:
            # the caller's footprint may change after the call: a copy
            cache_plan(key, plan._replace(inp=inp._replace(x=None), fp=plan.fp.copy()))
    else:
        inp = with_input(plan, x)
    backend = inp.backend
    native = plan.native
    out = backend.extreme_output(out, inp.x.shape, native, x)
    if native == bool:
        kernel_out = out.view(np.uint8)
    elif native != inp.x.dtype:
        kernel_out = backend.empty(inp.x.shape, inp.x.dtype)
    else:
        kernel_out = out
    if inp.mixed:
        run_padded(inp, *footprint_reach(plan.fp.shape, plan.centre), plan.pad_value,
                   kernel_out, lambda padded, padded_out: backend.rank_filter(
                       padded, padded_out, plan.fp, plan.centre, plan.rank, plan.pad_value,
                       threads))
    else:
        backend.rank_filter(inp, kernel_out, plan.fp, plan.centre, plan.rank, plan.pad_value,
                            threads)
    if kernel_out is not out and native != bool:
        backend.store(kernel_out, out)   # exact: the values are the input's (or cval's)
    return out


def _rank_plan(x, which, size, footprint, mode, cval, origin, channel_axis, axes, backend):
    inp = v.filter_input(x, mode, cval, channel_axis, axes, exact=True,
                         backend=select_backend(x, backend))
    native = v.extreme_dtype(x)
    fp = v.as_footprint(footprint, size, inp.rank, inp.axes)
    origin = v.check_origin(origin, fp.shape)
    centre = tuple(k // 2 + o for k, o in zip(fp.shape, origin))
    filter_size = int(np.count_nonzero(fp))
    if which[0] == "median":
        rank = filter_size // 2
    elif which[0] == "rank":
        rank = v.check_rank(which[1], filter_size)
    else:
        rank = v.percentile_rank(which[1], filter_size)
    # a box is a broadcast view: the backends take a real array
    fp = np.ascontiguousarray(fp)
    return RankPlan(inp, native, v.rank_pad_value(native, inp.cval), fp, centre, rank)


@device_boundary
@_filled
def median(x, size=None, footprint=None, *, mode="reflect", cval=0.0, origin=0,
           channel_axis=None, axes=None, out=None, backend="auto", threads=None):
    """Median filter: the middle value of each window.

    Equals ``scipy.ndimage.median_filter(x, size, footprint, mode=m,
    origin=origin)`` where ``m`` is scipy's name for ``mode`` (for windows
    without NaN; NaN sorts last here).  For an even number of cells it is the
    upper of the two middle values (rank ``n // 2``), as scipy's.

    Parameters
    ----------
    %(x_rank)s
    %(size_footprint_rank)s
    %(mode_rank)s
    %(options_rank)s

    Returns
    -------
    ndarray
        Same shape and dtype as ``x`` (native byte order).

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> x = np.array([[1, 2, 3], [4, 200, 6], [7, 8, 9]], np.uint8)
    >>> int(ic.median(x)[1, 1])        # the outlier is gone
    6
    >>> ic.median(np.array([3., 1., 2., 9., 5.]), size=3)   # 'reflect': 1 3 1 2 9 5 9
    array([1., 2., 2., 5., 9.])
    """
    return _rank_filter(x, ("median", None), size, footprint, mode, cval, origin, channel_axis, axes,
                        out, backend, threads)


@device_boundary
@_filled
def rank_filter(x, rank, size=None, footprint=None, *, mode="reflect", cval=0.0, origin=0,
                channel_axis=None, axes=None, out=None, backend="auto", threads=None):
    """Rank filter: the ``rank``-th smallest value of each window.

    Equals ``scipy.ndimage.rank_filter(x, rank, size, footprint, mode=m,
    origin=origin)`` where ``m`` is scipy's name for ``mode`` (for windows
    without NaN; NaN sorts last here).

    Parameters
    ----------
    %(x_rank)s
    rank : int
        0 takes the minimum, ``n - 1`` the maximum of a window of ``n`` cells;
        a negative rank counts from the maximum (-1 is the maximum).  Outside
        ``[-n, n - 1]`` it raises ValueError.
    %(size_footprint_rank)s
    %(mode_rank)s
    %(options_rank)s

    Returns
    -------
    ndarray
        Same shape and dtype as ``x`` (native byte order).

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> x = np.array([5, 1, 4, 2, 3], np.int16)
    >>> ic.rank_filter(x, 1, size=3, mode='replicate')   # the middle of 3: a median
    array([5, 4, 2, 3, 3], dtype=int16)
    >>> ic.rank_filter(x, -1, size=3)      # the maximum
    array([5, 5, 4, 4, 3], dtype=int16)
    """
    return _rank_filter(x, ("rank", rank), size, footprint, mode, cval, origin, channel_axis,
                        axes, out, backend, threads)


@device_boundary
@_filled
def percentile_filter(x, percentile, size=None, footprint=None, *, mode="reflect", cval=0.0,
                      origin=0, channel_axis=None, axes=None, out=None, backend="auto",
                      threads=None):
    """Percentile filter: the given percentile of each window, without
    interpolation.

    Equals ``scipy.ndimage.percentile_filter(x, percentile, size, footprint,
    mode=m, origin=origin)`` where ``m`` is scipy's name for ``mode`` (for
    windows without NaN; NaN sorts last here): the value of rank
    ``int(n * percentile / 100)`` of a window of ``n`` cells, 100 taking the
    maximum.

    Parameters
    ----------
    %(x_rank)s
    percentile : float
        In [0, 100]; as in scipy, a negative value down to -100 counts back
        from 100 (-10 is the 90th percentile).  Outside [-100, 100] it raises
        ValueError.
    %(size_footprint_rank)s
    %(mode_rank)s
    %(options_rank)s

    Returns
    -------
    ndarray
        Same shape and dtype as ``x`` (native byte order).

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> x = np.arange(25, dtype=np.uint16).reshape(5, 5)
    >>> int(ic.percentile_filter(x, 90, size=5)[2, 2])   # rank int(25 * 0.9) = 22
    22
    >>> int(ic.percentile_filter(x, 0, size=5)[2, 2])    # the minimum
    0
    """
    return _rank_filter(x, ("percentile", percentile), size, footprint, mode, cval, origin,
                        channel_axis, axes, out, backend, threads)

"""The CPU backend: numpy arrays through the compiled kernels.

:data:`CPU` is ``_backend.KernelBackend`` instantiated with numpy, the
compiled kernel module for this processor (``_dispatch.kernels``) and the
buffer pool (``_buffers.empty``), plus what only the CPU has: the numpy
array part (taking inputs, checking ``out=``), OpenMP thread counts, cache
fitting, the FFT, and the prepared kernel calls that the plan cache keeps
for repeated calls on small arrays.

Every function takes arguments that ``imgconv._validate`` has already
normalised.  Arrays of any rank run as (batch, depth, height, width) views
(``imgconv._views``): channels become the batch axis and missing spatial
axes get length 1.
"""
import math
from typing import NamedTuple

import numpy as np

from . import _fft
from . import _validate as v
from ._backend import (FUSED_DEPTH_MAX, NO_X_KERNEL, KernelBackend, alternating_targets, box3,
                       check_extreme_out,
                       check_out_elements, check_out_shape_dtype, depth_only_kernel,
                       gradient_magnitude_arguments, kernel_views, pool_arguments)
from ._buffers import MIN_POOLED_BYTES, empty
from ._dispatch import kernels
from ._threads import resolve_threads
from ._views import UNIT_AXES, as_3, pairs, single_view


# --------------------------------------------------------------------------
# The numpy array part: inputs and out= arrays
# --------------------------------------------------------------------------
def as_input_array(x, name="x", exact=False):
    """``x`` as an ndarray the kernels can read: a supported dtype (with
    ``exact``, also 64-bit integers, for the maximum and minimum kernels),
    native byte order, element-aligned strides.  Never copies a conforming
    array (so the caller's data are only read), copies once otherwise."""
    if not isinstance(x, np.ndarray):
        if type(x).__module__.split(".", 1)[0] in ("cupy", "dask", "torch"):
            raise TypeError(f"{name} must be a numpy array for the CPU backend, "
                            f"got {type(x).__module__}.{type(x).__name__}")
        try:
            x = np.asarray(x)
        except Exception as exc:
            raise TypeError(f"{name} must be an array, got {type(x).__name__}") from exc
    elif type(x) is not np.ndarray:
        # subclasses (np.matrix stays 2D whatever its reshape) as plain arrays
        x = x.view(np.ndarray)
    dtype = x.dtype
    target = v.kernel_input_dtype(dtype, name, exact)
    if dtype.kind == "b":
        # bool and uint8 share a layout: a view, not a copy
        return np.asarray(x).view(np.uint8)
    if target != dtype:
        return x.astype(target)
    if not x.flags.aligned or any(s % x.itemsize for s in x.strides):
        return np.array(x, order="C")
    return x


def check_out(out, shape, dtype, x, name="out", allow_bool=False):
    """``out`` if it can receive a result of ``shape``; ``dtype`` None takes
    its dtype.  ``allow_bool``: a bool ``out`` is fine (results of bool inputs)."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(out).__name__}")
    if type(out) is not np.ndarray:
        out = out.view(np.ndarray)    # the same memory, reshapeable (np.matrix is not)
    check_out_shape_dtype(out, shape, dtype, name, allow_bool)
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    check_out_elements(out, x, name, np.may_share_memory, out.flags.aligned)
    return out


def extreme_output(out, shape, dtype, x):
    """``out`` checked for a maximum or minimum of ``x`` (whose result keeps
    x's ``dtype``, whatever dtype the kernels run it in), or a new array."""
    if out is None:
        return empty(shape, dtype, x)
    if isinstance(out, np.ndarray) and type(out) is not np.ndarray:
        out = out.view(np.ndarray)
    return check_extreme_out(out, shape, dtype, np.asarray(x), check_out, np.ndarray)


# --------------------------------------------------------------------------
# Prepared kernel calls: the plan cache's fast paths
# --------------------------------------------------------------------------
def _new_result(shape, dtype, pooled, away_from):
    """A new result array: from the pool when ``pooled`` (see :func:`_pooled`),
    else straight from np.empty, which is what the pool would give it."""
    return empty(shape, dtype, away_from) if pooled else np.empty(shape, dtype)


class DirectCall(NamedTuple):
    """The arguments of ``KernelBackend.correlate``'s one kernel call, all but the
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


def _one_view(inp):
    """Whether a prepared call can run on ``inp.x``: one 4D view of it
    (``single_view``), and not empty (an empty input runs no kernel; the
    general route returns its empty result)."""
    return inp.x.size > 0 and single_view(inp.x, inp) is not None


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
    if not _one_view(inp) or out_dtype not in v.DTYPE_CODES:
        return None     # (the kernels write only those; fill_output stores the others)
    weights3 = weights.reshape(as_3(weights.shape, 1, rank))
    stride3, dilation3 = as_3(stride, 1, rank), as_3(dilation, 1, rank)
    pad3 = as_3(pad_lo, 0, rank)
    if depth_only_kernel(weights3, xweights is not None, stride3, pad3):
        return None
    taps = np.count_nonzero(weights) + (0 if xweights is None else np.count_nonzero(xweights))
    size = math.prod(out_shape)
    return DirectCall(UNIT_AXES[rank] + inp.x.shape, UNIT_AXES[rank] + tuple(out_shape),
                      weights3, NO_X_KERNEL[weights.dtype] if xweights is None else xweights,
                      stride3, dilation3, pad3, inp.code, cval, v.DTYPE_CODES[inp.x.dtype],
                      v.DTYPE_CODES[np.dtype(out_dtype)], size * max(1, int(taps)),
                      tuple(out_shape), np.dtype(out_dtype), _pooled(out_shape, out_dtype))


def run_direct(call, x, threads):
    """``KernelBackend.correlate`` as ``call`` (:func:`prepare_direct`) prepared it,
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
    views = kernel_views(inp, inp.x, out)
    itemsize = inp.compute.itemsize
    for x4, _ in views:
        if (x4.strides[3] != itemsize or x4.strides[2] != x4.shape[3] * itemsize
                or x4.shape[2] * x4.shape[3] * itemsize > PLANE_BUFFER_MAX_BYTES):
            return None
    taps = sum(np.count_nonzero(f) for f in factors)
    nthreads = resolve_threads(threads, work=out.size * max(1, taps))
    zw, yw, xw = (np.ascontiguousarray(f, inp.compute) for f in factors)
    for x4, out4 in views:
        if not kernels.separable_volume(x4, out4, zw, yw, xw, stride, dilation, pad_lo, inp.code,
                                        cval_z, cval_yx, v.DTYPE_CODES[out.dtype], nthreads):
            return None
    return out


class BoxCall(NamedTuple):
    """``KernelBackend.box_pass``'s kernel calls of a box filter (one per axis, the
    last into a new array), all but the arrays and the thread count, for
    inputs of one layout (see :class:`DirectCall`)."""

    view: tuple             # the 4D view of the input, the result and the scratch
    passes: tuple           # per pass: (4D axis, size, pad_lo)
    mode: int
    cval: float
    work: int
    shape: tuple            # the result's shape
    dtype: np.dtype         # ... and dtype
    compute: np.dtype       # the scratch's dtype


def prepare_box(inp, passes, out_dtype):
    """The :class:`BoxCall` of ``passes`` ((spatial axis, size, pad_lo)
    each) over ``inp.x`` into a new array of ``out_dtype``, or None where the
    input is not a single 4D view or the kernels do not write ``out_dtype``."""
    if not _one_view(inp) or out_dtype not in v.DTYPE_CODES:
        return None
    return BoxCall(UNIT_AXES[inp.rank] + inp.x.shape,
                   tuple((4 - inp.rank + a, k, lo) for a, k, lo in passes), inp.code, inp.cval,
                   inp.x.size * 4, inp.x.shape, np.dtype(out_dtype), inp.compute)


def run_box(call, x, threads):
    """``KernelBackend.box_pass`` over ``passes`` as ``call`` prepared them, of
    ``x`` (of the layout ``call`` was prepared for) into a new array: the
    same kernel calls with the same arguments and targets (as
    ``_convolve.pass_targets`` gives a new result), so the same result."""
    nthreads = resolve_threads(threads, work=call.work)
    view, codes = call.view, v.DTYPE_CODES
    out = empty(call.shape, call.dtype, x)
    targets = alternating_targets(out, len(call.passes), call.dtype == call.compute,
                                  lambda: empty(call.shape, call.compute))
    current = x
    for (axis, size, pad_lo), target in zip(call.passes, targets):
        kernels.box_pass(current.reshape(view), target.reshape(view), axis, size, pad_lo,
                         call.mode, call.cval, codes[current.dtype], codes[target.dtype],
                         nthreads)
        current = target
    return current


class ExtremeCall(NamedTuple):
    """``KernelBackend.extreme_box``'s one kernel call, all but the arrays and the
    thread count, for inputs of one layout whose box needs no depth pass of
    its own (see :class:`DirectCall`)."""

    view: tuple             # the 4D view of the input and the result
    args: tuple             # the kernel's arguments between the arrays and the thread count
    work: int
    dtype: np.dtype         # the result's dtype
    pooled: bool            # whether the result may come from the pool (see _pooled)


def prepare_extreme_box(inp, out_dtype, size, centre, is_max, pad_value):
    """The :class:`ExtremeCall` of ``extreme_box(inp, <new array of
    out_dtype>, ...)``, or None where that is not one kernel call on a
    single 4D view."""
    if not _one_view(inp):
        return None
    (kz, ky, kx), (cz, cy, cx) = box3(inp, size, centre)
    if kz > FUSED_DEPTH_MAX:
        return None
    return ExtremeCall(UNIT_AXES[inp.rank] + inp.x.shape,
                       (ky, cy, kx, cx, kz, cz, inp.code, pad_value, is_max,
                        v.EXTREME_DTYPE_CODES[np.dtype(out_dtype)]),
                       inp.x.size * 4, np.dtype(out_dtype), _pooled(inp.x.shape, out_dtype))


def run_extreme_box(call, x, threads):
    """``KernelBackend.extreme_box`` of ``x`` (of the layout ``call`` was
    prepared for) into a new array: the same kernel call, the same result."""
    out = _new_result(x.shape, call.dtype, call.pooled, x)
    kernels.extreme_pass(x.reshape(call.view), out.reshape(call.view), *call.args,
                         resolve_threads(threads, work=call.work))
    return out


class PoolCall(NamedTuple):
    """``KernelBackend.pool``'s one kernel call, all but the arrays and the thread
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
    if not _one_view(inp):
        return None
    args, work = pool_arguments(inp, geom, op, p, identity, scales, out_dtype)
    unit = UNIT_AXES[inp.rank]
    return PoolCall(unit + inp.x.shape, unit + tuple(out_shape), args,
                    math.prod(out_shape) * work, tuple(out_shape), np.dtype(out_dtype), away,
                    _pooled(out_shape, out_dtype))


def run_pool(call, x, threads):
    """``KernelBackend.pool`` of ``x`` (of the layout ``call`` was prepared for) into a
    new array, without indices: the same kernel call, the same result."""
    out = _new_result(call.shape, call.dtype, call.pooled, x if call.away else None)
    kernels.pool(x.reshape(call.x_shape), out.reshape(call.out_shape), None, *call.args,
                 resolve_threads(threads, work=call.work))
    return out


class MagnitudeCall(NamedTuple):
    """``KernelBackend.gradient_magnitude``'s one kernel call, all but the
    arrays and the thread count, for inputs of one layout (see :class:`DirectCall`)."""

    view: tuple             # the 4D view of the input and the result
    args: tuple
    work: int
    shape: tuple            # the result's shape
    dtype: np.dtype         # ... and dtype
    pooled: bool


def prepare_gradient_magnitude(inp, deriv, smooth, out_dtype):
    """The :class:`MagnitudeCall` of ``gradient_magnitude(inp, deriv, smooth,
    <new array of out_dtype>)``, or None where that is not one kernel call on
    a single 4D view or the kernel does not write ``out_dtype``."""
    if not _one_view(inp) or out_dtype not in v.DTYPE_CODES:
        return None
    args, work_per_sample = gradient_magnitude_arguments(inp, deriv, smooth, out_dtype)
    shape = inp.x.shape
    return MagnitudeCall(UNIT_AXES[inp.rank] + shape, args, inp.x.size * work_per_sample, shape,
                         np.dtype(out_dtype), _pooled(shape, out_dtype))


def run_gradient_magnitude(call, x, threads):
    """``KernelBackend.gradient_magnitude`` of ``x`` (of the layout ``call``
    was prepared for) into a new array: the same kernel call, the same result."""
    out = _new_result(call.shape, call.dtype, call.pooled, x)
    kernels.gradient_magnitude(x.reshape(call.view), out.reshape(call.view), *call.args,
                               resolve_threads(threads, work=call.work))
    return out


# --------------------------------------------------------------------------
# The backend object
# --------------------------------------------------------------------------
class CPUBackend(KernelBackend):
    """numpy arrays through the compiled OpenMP kernels (see the module
    docstring).  The prepared-call functions are this module's, as they
    are (a cached plan calls them with no further lookups)."""

    has_fft = True

    def __init__(self):
        super().__init__("cpu", np, kernels, ("numpy",))

    take_input = staticmethod(as_input_array)
    check_out = staticmethod(check_out)
    extreme_output = staticmethod(extreme_output)
    empty = staticmethod(empty)
    kernel_threads = staticmethod(resolve_threads)

    def fused_rows_fit(self, inp, geom, factors, axis):
        return fused_rows_fit(inp, geom, factors, axis)

    def separable_volume(self, inp, factors, pad_lo, stride, dilation, cval_z, cval_yx, out,
                         threads):
        return separable_volume(inp, factors, pad_lo, stride, dilation, cval_z, cval_yx, out,
                                threads)

    fft_flags_nonfinite = True

    def fft_correlate(self, inp, weights, geom, out, threads, finite_only=False):
        threads = resolve_threads(threads)
        if (_fft.compiled_tiles_fit(inp.rank, weights.dtype, out.dtype)
                and inp.x.size and _fft.tiles_correlate(
                    pairs(inp, inp.x, out), weights, pad_lo=geom.pad_lo, stride=geom.stride,
                    dilation=geom.dilation, modes=tuple(v.MODE_CODES[inp.mode_of(a)] for a in range(inp.rank)),
                    cval=inp.cval, threads=threads, finite_only=finite_only)):
            return out
        return _fft.fft_correlate(inp.x, weights, spatial_axes=inp.axes, pad_lo=geom.pad_lo,
                                  pad_hi=geom.pad_hi, stride=geom.stride, dilation=geom.dilation,
                                  mode=inp.mode, cval=inp.cval, out=out,
                                  threads=threads, finite_only=finite_only)

    prepare_direct = staticmethod(prepare_direct)
    run_direct = staticmethod(run_direct)
    prepare_box = staticmethod(prepare_box)
    run_box = staticmethod(run_box)
    prepare_extreme_box = staticmethod(prepare_extreme_box)
    run_extreme_box = staticmethod(run_extreme_box)
    prepare_pool = staticmethod(prepare_pool)
    run_pool = staticmethod(run_pool)
    prepare_gradient_magnitude = staticmethod(prepare_gradient_magnitude)
    run_gradient_magnitude = staticmethod(run_gradient_magnitude)


#: The CPU backend (one object: it holds no state of its own).
CPU = CPUBackend()


def load_backend():
    """The CPU backend (``_dispatch.select_backend``'s entry point)."""
    return CPU

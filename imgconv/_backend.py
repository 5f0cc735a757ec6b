"""The backend seam: what a backend object offers the public functions, and
the orchestration shared by every backend whose kernels follow the compiled
CPU module's interface.

A backend object (``imgconv._dispatch.select_backend`` returns one) owns
everything that touches the arrays of its kind: it takes the input, checks an
``out=``, allocates results and scratch arrays, runs the kernels and stores
results with rounding and saturation.  The public functions only normalise
arguments (``imgconv._validate``, array-agnostic: shapes, dtypes, modes,
small numpy kernels) and plan (geometry, method choice by cost); they never
call numpy on the caller's array, and do element-wise work through the
backend's array namespace ``xp``.

:class:`KernelBackend` is that object for a kernel module with the signatures
of the compiled kernel modules (``correlate``, ``box_pass``, ``extreme_pass``,
``extreme_footprint``, ``extreme_structure``, ``rank_filter``, ``pool``)
taking 4D views of the backend's arrays:
the CPU backend (``imgconv._cpu``) is it with numpy, the compiled kernels and
the buffer pool; a GPU backend is it with cupy, its own kernel module and
``cupy.empty``.  See docs/design.md, "Backends".
"""
import math

import numpy as np

from . import _validate as v
from ._views import as_3, merged_planes, pairs


def store(result, out, xp=np):
    """Write ``result`` (``out``'s shape, any real dtype) into ``out``; return ``out``.

    Float outputs get a plain cast (values beyond float16's or float32's
    range become +-inf).  Integer outputs of a float result are rounded to
    nearest (ties to even), saturated to the dtype's range, NaN becoming 0
    -- the same rule as the direct kernel (OpenCV's ``saturate_cast``);
    integer results (maxima and minima keep the input's) are saturated
    exactly.  ``result`` is not modified.  ``xp``: the arrays' namespace
    (numpy or cupy).
    """
    if out.dtype.kind == "f":
        with np.errstate(over="ignore"):  # saturating to +-inf is the rule
            xp.copyto(out, result, casting="unsafe")
        return out
    info = np.iinfo(out.dtype)
    if result.dtype.kind in "biu":
        source = np.iinfo(result.dtype) if result.dtype != bool else np.iinfo(np.uint8)
        if source.min < info.min or source.max > info.max:
            # bounds both dtypes hold: exact however wide (no float in between)
            result = xp.clip(result, max(source.min, info.min), min(source.max, info.max))
        xp.copyto(out, result, casting="unsafe")
        return out
    # int32 limits are not float32 numbers: saturate in float64 as the kernel does
    work = np.float64 if (info.bits >= 32 or result.dtype == np.float64) else np.float32
    tmp = xp.rint(result, dtype=work)
    xp.clip(tmp, info.min, info.max, out=tmp)  # NaN stays NaN, +-inf saturate
    xp.nan_to_num(tmp, copy=False, nan=0.0)
    if info.bits < 64:
        xp.copyto(out, tmp, casting="unsafe")
        return out
    # float(info.max) rounds up to 2**63 (2**64), one past the range: those
    # saturate explicitly
    top = tmp >= float(info.max)
    xp.copyto(out, tmp, casting="unsafe", where=~top)
    out[top] = info.max
    return out


def check_out_shape_dtype(out, shape, dtype, name="out", allow_bool=False):
    """The checks of an ``out=`` array of any library that read its shape and
    dtype: ``shape`` exactly, ``dtype`` (None: any) and a dtype the kernels
    write (``allow_bool``: bool too, for results of bool inputs)."""
    if out.shape != tuple(shape):
        raise ValueError(f"{name} has shape {out.shape}, the result has shape {tuple(shape)}")
    if dtype is not None and out.dtype != dtype:
        raise ValueError(f"{name} has dtype {out.dtype} but dtype={dtype} was asked for")
    if out.dtype not in v.OUTPUT_DTYPES and not (allow_bool and out.dtype == bool):
        raise TypeError(f"{name} has unsupported dtype {out.dtype}; choose one of "
                        f"{', '.join(str(d) for d in v.OUTPUT_DTYPES)} in native byte order")


def overlaps_itself(a):
    """Whether two elements of ``a`` (an array of any library) share memory.
    Arrays whose strides, sorted, each step past everything the smaller ones
    reach (every layout numpy makes itself) are told apart without looking
    at their elements; other ``as_strided`` layouts by comparing every
    element's address."""
    reach = a.itemsize
    for stride, n in sorted((abs(s), n) for s, n in zip(a.strides, a.shape) if n > 1):
        if stride < reach:
            break
        reach += stride * (n - 1)
    else:
        return False
    offsets = np.zeros((), np.int64)
    for stride, n in zip(a.strides, a.shape):
        offsets = np.add.outer(offsets, np.arange(n, dtype=np.int64) * stride)
    offsets = np.sort(offsets, axis=None)
    return bool(np.any(np.diff(offsets) < a.itemsize))


def check_out_elements(out, x, name, may_share_memory, aligned=True):
    """The checks of an ``out=`` array of any library that look at where its
    elements lie: element-aligned strides (and ``aligned``, where the library
    says), one place per element, none shared with the input ``x`` (None:
    not comparable) by the library's ``may_share_memory``."""
    if not aligned or any(s % out.itemsize for s in out.strides):
        raise ValueError(f"{name} must have element-aligned strides")
    if overlaps_itself(out):
        raise ValueError(f"{name} has elements that share memory (a zero stride, as from "
                         f"broadcast_to, or overlapping as_strided views): each result "
                         f"needs a place of its own")
    if x is not None and may_share_memory(out, x):
        raise ValueError(f"{name} overlaps the input; imgconv filters are not in-place")


#: an output dtype of each item size, to check ``out`` arrays of other dtypes
SAME_SIZE = {1: np.uint8, 2: np.int16, 4: np.int32, 8: np.float64}


def check_extreme_out(out, shape, dtype, x, check_out, array_type):
    """``out`` checked (by the backend's ``check_out``) for a maximum or
    minimum of ``x``, whose result keeps x's ``dtype``: a dtype no other
    result has (longdouble as float64...) is checked as a view of an output
    dtype of its item size.  ``array_type``: the backend's array class."""
    if isinstance(out, array_type) and out.shape == tuple(shape) and out.dtype != dtype:
        raise ValueError(f"out has dtype {out.dtype}, the result has dtype {dtype}")
    if (isinstance(out, array_type) and dtype != bool and dtype not in v.OUTPUT_DTYPES
            and dtype.itemsize in SAME_SIZE):
        # the same checks (shape, writeable, aligned, no overlap) on a view of it
        check_out(out.view(SAME_SIZE[dtype.itemsize]), shape, None, x)
        return out
    return check_out(out, shape, dtype, x, allow_bool=dtype == bool)


#: Box depths up to this are combined directly inside the height/width sweep
#: (one pass, no intermediate volume); deeper boxes take a van Herk pass of
#: their own, whose cost does not grow with the depth.
FUSED_DEPTH_MAX = 7


class KernelBackend:
    """A backend running the kernel interface of ``pyx/_kernels.pyx`` on
    arrays of the namespace ``xp``.

    Parameters
    ----------
    name : str
        The backend's name, as ``backend=`` takes it.
    xp : module
        The array namespace of its arrays (numpy, cupy).
    kernels : module
        The kernel functions (``correlate``, ``box_pass``, ``extreme_pass``,
        ``extreme_footprint``, ``pool``), with the compiled CPU module's
        signatures, on 4D views of ``xp`` arrays.  Small parameter arrays
        (weights, footprint runs, pooling scales) are numpy arrays.
    array_libraries : tuple of str
        The array libraries (top-level module names) whose arrays
        ``backend='<name>'`` accepts as input.

    Notes
    -----
    Subclasses provide the array part that depends on the array type:
    :meth:`take_input`, :meth:`empty`, :meth:`check_out` and
    :meth:`extreme_output`.  The ``prepare_*``/``run_*`` fast paths are
    optional: here ``prepare_*`` returns None, so the public functions take
    the general route.
    """

    #: whether :meth:`fft_correlate` exists (the cost model only offers the
    #: FFT to a backend that has it)
    has_fft = False
    #: whether :meth:`fft_correlate` takes ``finite_only=True`` (then raises
    #: ``imgconv._fft.NonFiniteData`` on a NaN or inf, found by the transform
    #: itself): 'auto' then skips its pass over the data (:meth:`all_finite`)
    fft_flags_nonfinite = False
    #: the runners of prepared calls, for a backend whose ``prepare_*`` make them
    run_direct = run_box = run_extreme_box = run_pool = run_gradient_magnitude = None

    def __init__(self, name, xp, kernels, array_libraries):
        self.name = name
        self.xp = xp
        self.kernels = kernels
        self.array_libraries = tuple(array_libraries)

    def __repr__(self):
        return f"<imgconv backend {self.name!r}>"

    def call(self, function, x, args, kwargs):
        """Run the public ``function`` on input ``x`` (``_dispatch.device_boundary``):
        a backend whose arrays live on a device sets the device up here and
        converts host inputs and results; this one calls it as it is."""
        return function(x, *args, **kwargs)

    # ----------------------------------------------------------------------
    # Arrays
    # ----------------------------------------------------------------------
    def take_input(self, x, name="x", exact=False):
        """``x`` as an array the kernels read (a supported dtype, see
        ``_validate.DTYPE_CODES``; with ``exact`` also 64-bit integers),
        never modified.  Subclasses implement it."""
        raise NotImplementedError(f"the {self.name} backend does not take inputs")

    def empty(self, shape, dtype, away_from=None):
        """A new C-contiguous array; ``away_from``: an array it may not share
        cache lines with (a hint; a backend may ignore it)."""
        return self.xp.empty(shape, dtype)

    def check_out(self, out, shape, dtype, x, name="out", allow_bool=False):
        """``out`` if it can receive a result of ``shape`` (``dtype`` None
        takes its dtype) without overlapping ``x``, else a clear error."""
        raise NotImplementedError(f"the {self.name} backend does not check out=")

    def extreme_output(self, out, shape, dtype, x):
        """``out`` checked for a maximum or minimum of ``x`` (whose result
        keeps x's ``dtype``), or a new array."""
        if out is None:
            return self.empty(shape, dtype, x)
        return check_extreme_out(out, shape, dtype, x, self.check_out, self.xp.ndarray)

    def output_array(self, inp, spatial_shape, dtype, out):
        """``out`` checked against the result's shape and dtype, or a new array."""
        shape = inp.full_shape(spatial_shape)
        if out is None:
            return self.empty(shape, v.output_dtype(dtype, inp.compute), inp.x)
        return self.check_out(out, shape,
                              None if dtype is None else v.output_dtype(dtype, inp.compute),
                              inp.x)

    def fill_output(self, inp, spatial_shape, dtype, out, fill):
        """The result of a call whose kernels ``fill(target)``: ``out``
        checked, or a new array (:meth:`output_array`).  The kernels write
        the dtypes of ``_validate.DTYPE_CODES``; for the other output dtypes
        ``target`` is a compute-typed intermediate, rounded and saturated
        into the result by :meth:`store`."""
        result = self.output_array(inp, spatial_shape, dtype, out)
        if result.size == 0:
            return result   # an empty input (or channel axis): nothing to compute
        if result.dtype in v.DTYPE_CODES:
            fill(result)
            return result
        target = self.empty(result.shape, inp.compute)
        fill(target)
        return self.store(target, result)

    def store(self, result, out):
        """:func:`store` in this backend's namespace."""
        return store(result, out, self.xp)

    def may_share_memory(self, a, b):
        return bool(self.xp.may_share_memory(a, b))

    def all_finite(self, x):
        """Whether ``x`` holds no NaN or inf (min and max say so, without a
        boolean array the size of ``x``).  The one data-dependent question
        of method choice; a backend answers it where the data are."""
        if x.dtype.kind != "f" or x.size == 0:
            return True
        xp = self.xp
        return bool(xp.isfinite(xp.min(x)) and xp.isfinite(xp.max(x)))

    def kernel_threads(self, threads, work):
        """The ``nthreads`` argument of a kernel call doing ``work`` (output
        samples times taps); ``threads`` is the caller's ``threads=``."""
        if threads is not None:
            raise ValueError(f"threads= sets CPU threads; the {self.name} backend takes none")
        return 1

    # ----------------------------------------------------------------------
    # Planning hooks (planning is pure: these read no array data)
    # ----------------------------------------------------------------------
    def fused_rows_fit(self, inp, geom, factors, axis):
        """Whether the separable pass along ``axis`` may run fused with the
        pass along the last axis (one ``correlate`` call with ``xweights``)."""
        return True

    def prepare_direct(self, inp, weights, pad_lo, stride, dilation, cval, out_shape, out_dtype,
                       xweights=None):
        """A prepared :meth:`correlate` into a new array, or None (none here).
        A backend that prepares calls also has ``run_direct(call, x,
        threads)``, which the plans keep beside the call (likewise
        ``run_box``, ``run_extreme_box``, ``run_pool``)."""
        return None

    def prepare_box(self, inp, passes, out_dtype):
        return None

    def prepare_extreme_box(self, inp, out_dtype, size, centre, is_max, pad_value):
        return None

    def prepare_pool(self, inp, geom, op, p, identity, scales, out_shape, out_dtype, away):
        return None

    def prepare_gradient_magnitude(self, inp, deriv, smooth, out_dtype):
        return None

    # ----------------------------------------------------------------------
    # Operations
    # ----------------------------------------------------------------------
    def correlate(self, inp, x, weights, pad_lo, stride, dilation, cval, out, threads,
                  xweights=None):
        """Direct correlation of ``x`` (``inp.x`` or an intermediate of the same
        layout) with compute-typed ``weights`` into ``out``.

        ``xweights``: a 1D kernel along the last spatial axis applied in the same
        sweep (``weights`` then has length 1 on that axis): the outer product of
        the two, without an intermediate array.
        """
        rank = inp.rank
        kernels = self.kernels
        taps = (np.count_nonzero(weights)
                + (0 if xweights is None else np.count_nonzero(xweights)))
        nthreads = self.kernel_threads(threads, out.size * max(1, taps))
        xweights = NO_X_KERNEL[weights.dtype] if xweights is None else xweights
        weights3 = weights.reshape(as_3(weights.shape, 1, rank))
        stride3, dilation3 = as_3(stride, 1, rank), as_3(dilation, 1, rank)
        pad3 = as_3(pad_lo, 0, rank)
        depth_only = depth_only_kernel(weights3, xweights.size > 0, stride3, pad3)
        for x4, out4 in kernel_views(inp, x, out, xp=self.xp):
            if depth_only and out4.shape[2:] == x4.shape[2:]:
                # A pass along depth only, no padding across the planes: each plane
                # is one long row, so the kernel sweeps H*W-wide rows instead of
                # many short ones.
                merged_x = merged_planes(x4, self.xp)
                merged_out = merged_planes(out4, self.xp)
                if merged_x is not None and merged_out is not None:
                    kernels.correlate(merged_x, merged_out, weights3.reshape(1, -1, 1), xweights,
                                      (1, stride3[0], 1), (1, dilation3[0], 1), (0, pad3[0], 0),
                                      inp.code, cval, v.DTYPE_CODES[x.dtype],
                                      v.DTYPE_CODES[out.dtype], nthreads)
                    continue
            kernels.correlate(x4, out4, weights3, xweights, stride3, dilation3, pad3, inp.code,
                              cval, v.DTYPE_CODES[x.dtype], v.DTYPE_CODES[out.dtype], nthreads)
        return out

    def separable_volume(self, inp, factors, pad_lo, stride, dilation, cval_z, cval_yx, out,
                         threads):
        """A volume's three separable passes in one sweep, where the backend
        has such a kernel: ``out``, or None (having done nothing)."""
        return None

    def fft_correlate(self, inp, weights, geom, out, threads):
        """Correlation through the FFT (where :attr:`has_fft`)."""
        raise NotImplementedError(f"the {self.name} backend has no FFT correlation; "
                                  "use method='direct' or 'separable'")

    def fft_cost(self, inp, extent, to_beat, stride=None):
        """The estimated cost of :meth:`fft_correlate` for ``method='auto'``
        (asked only where :attr:`has_fft`), in multiply-adds of the direct
        kernel (``_fft.direct_cost``), or None where it cannot beat
        ``to_beat``, the cheapest other method's cost.  Reads no array data.

        Parameters
        ----------
        inp : imgconv._validate.FilterInput
            The call's input: spatial shape, channels, compute dtype.
        extent : tuple of int
            The kernel's extent per spatial axis, dilation included.
        to_beat : float
            The cost of the cheapest other method.
        stride : tuple of int, optional
            The call's stride per spatial axis (None: 1).

        Returns
        -------
        float or None

        Notes
        -----
        This default is the CPU's model (``imgconv._fft``: calibrated
        overlap-save tiles, first a quick lower bound, since planning the
        tiles costs more than filtering a small image).  A backend whose
        transforms cost otherwise (a GPU's) overrides it.
        """
        from . import _fft      # here: _fft imports this module
        shape, channels = inp.spatial_shape, inp.channels
        if _fft.fft_cost_bound(shape, extent, batch=channels, stride=stride) >= to_beat:
            return None
        return _fft.fft_cost(shape, extent, batch=channels, stride=stride)

    def box_pass(self, inp, x, axis, size, pad_lo, out, threads):
        """Mean over ``size`` samples along spatial axis ``axis`` by running sums."""
        nthreads = self.kernel_threads(threads, out.size * 4)
        for x4, out4 in kernel_views(inp, x, out, xp=self.xp):
            self.kernels.box_pass(x4, out4, 4 - inp.rank + axis, size, pad_lo, inp.code,
                                  inp.cval, v.DTYPE_CODES[x.dtype], v.DTYPE_CODES[out.dtype],
                                  nthreads)
        return out

    def extreme_box(self, inp, out, size, centre, is_max, pad_value, threads):
        """Running max or min over a box of ``size`` cells whose centre cell is
        ``centre`` (per spatial axis): one sweep along height (van Herk) with the
        width pass and a short depth window fused into it; a long depth window
        first takes an O(1)-per-sample pass of its own."""
        (kz, ky, kx), (cz, cy, cx) = box3(inp, size, centre)
        nthreads = self.kernel_threads(threads, out.size * 4)
        code = v.EXTREME_DTYPE_CODES[out.dtype]
        kernels, xp = self.kernels, self.xp
        for x4, out4 in kernel_views(inp, inp.x, out, xp=xp):
            source = x4
            if kz > FUSED_DEPTH_MAX:
                target = out4 if (ky, kx) == (1, 1) else self.empty(x4.shape, x4.dtype)
                planes_in, planes_out = merged_planes(source, xp), merged_planes(target, xp)
                if planes_in is None or planes_out is None:
                    planes_in = source.transpose(0, 2, 1, 3)
                    planes_out = target.transpose(0, 2, 1, 3)
                kernels.extreme_pass(planes_in, planes_out, kz, cz, 1, 0, 1, 0, inp.code,
                                     pad_value, is_max, code, nthreads)
                if (ky, kx) == (1, 1):
                    continue
                source, kz, cz = target, 1, 0
            kernels.extreme_pass(source, out4, ky, cy, kx, cx, kz, cz, inp.code, pad_value,
                                 is_max, code, nthreads)
        return out

    def extreme_footprint(self, inp, out, footprint, centre, is_max, pad_value, threads):
        """Max or min over any footprint: out[p] = op of the padded input at
        p + (cell - centre) for every True cell of ``footprint``."""
        rank = inp.rank
        fp3 = footprint.reshape((1,) * (3 - rank) + footprint.shape)
        centre3 = as_3(centre, 0, rank)
        runs = footprint_runs(fp3)
        nthreads = self.kernel_threads(threads, out.size * max(1, len(runs[2])))
        code = v.EXTREME_DTYPE_CODES[out.dtype]
        for x4, out4 in kernel_views(inp, inp.x, out, xp=self.xp):
            self.kernels.extreme_footprint(x4, out4, fp3.shape, centre3, *runs, inp.code,
                                           pad_value, is_max, code, nthreads)
        return out

    @property
    def has_fused_gradient(self):
        """Whether the kernel module computes a gradient magnitude in one
        sweep (:meth:`gradient_magnitude`); else the public layer adds the
        squares of the derivative passes."""
        return hasattr(self.kernels, "gradient_magnitude")

    def gradient_magnitude(self, inp, deriv, smooth, out, threads):
        """``sqrt(sum over spatial axes a of d_a(inp.x)**2)`` into ``out`` in
        one sweep: d_a correlates with the 3-tap ``deriv`` along axis a and
        the 3-tap ``smooth`` along every other spatial axis, padded as one
        n-D correlation pads (mode 'zero' with ``inp.cval`` all round)."""
        args, work_per_sample = gradient_magnitude_arguments(inp, deriv, smooth, out.dtype)
        nthreads = self.kernel_threads(threads, out.size * work_per_sample)
        for x4, out4 in kernel_views(inp, inp.x, out, xp=self.xp):
            self.kernels.gradient_magnitude(x4, out4, *args, nthreads)
        return out

    def extreme_structure(self, inp, out, footprint, heights, centre, is_max, pad_value,
                          skip_outside, threads):
        """Max or min with heights (non-flat morphology): out[p] = op over
        the True cells c of ``footprint`` of (the padded input at
        p + (c - centre)) + ``heights[c]``, in the dtype of ``out`` (that of
        ``inp.x``): saturated for integers, plain for floats.

        ``heights``: the 1D kernel heights of the footprint's True cells in
        C order (``_validate.structure_heights``, negated for a minimum).
        ``skip_outside``: cells beyond the input's edges take no part
        (the neutral padding; an output with none inside gets the
        operation's identity) instead of reading the padding."""
        rank = inp.rank
        fp3 = footprint.reshape((1,) * (3 - rank) + footprint.shape)
        centre3 = as_3(centre, 0, rank)
        cell_heights = np.zeros(fp3.shape, heights.dtype)
        cell_heights[fp3] = heights
        # cells of one height in a row take a run's ladder (a flat structure
        # costs what a flat footprint does)
        runs = footprint_runs(fp3, cell_heights)
        row_z, row_y, run_row, run_start, run_length = runs
        run_heights = np.ascontiguousarray(cell_heights[row_z[run_row], row_y[run_row], run_start])
        nthreads = self.kernel_threads(threads, out.size * len(run_row))
        code = v.EXTREME_DTYPE_CODES[out.dtype]
        identity = v.morphology_pad_value(out.dtype, None, None, is_max)
        for x4, out4 in kernel_views(inp, inp.x, out, xp=self.xp):
            self.kernels.extreme_structure(x4, out4, fp3.shape, centre3, *runs, run_heights,
                                           skip_outside, inp.code,
                   pad_value, identity, is_max, code, nthreads)
        return out

    def rank_filter(self, inp, out, footprint, centre, rank, pad_value, threads):
        """The ``rank``-th smallest value (0: the minimum; NaN sorts last)
        over ``footprint``: out[p] = that rank of the padded input at
        p + (cell - centre) for every True cell."""
        rank3 = inp.rank
        fp3 = footprint.reshape((1,) * (3 - rank3) + footprint.shape)
        runs = footprint_runs(fp3)
        # a window costs a few operations per footprint run and output sample
        nthreads = self.kernel_threads(threads, out.size * 4 * max(1, len(runs[2])))
        code = v.EXTREME_DTYPE_CODES[out.dtype]
        for x4, out4 in kernel_views(inp, inp.x, out, xp=self.xp):
            self.kernels.rank_filter(x4, out4, fp3.shape, as_3(centre, 0, rank3), *runs, rank,
                                     inp.code, pad_value, code, nthreads)
        return out

    def pool(self, inp, out, indices, geom, op, p, identity, scales, threads):
        """Pooling of ``inp.x`` into ``out`` (and flat argmax/argmin ``indices``)."""
        args, work = pool_arguments(inp, geom, op, p, identity, scales, out.dtype)
        nthreads = self.kernel_threads(threads, out.size * work)
        arrays = (inp.x, out) if indices is None else (inp.x, out, indices)
        for views in kernel_views(inp, *arrays, xp=self.xp):
            self.kernels.pool(views[0], views[1], None if indices is None else views[2], *args,
                              nthreads)
        return out


def mode_index(mode, n, positions):
    """The sample of an axis of ``n`` samples that padding by ``mode`` reads
    at each of ``positions`` (int64 array, any integers: padding wider than
    the axis repeats the rule); 'zero' gives the nearest edge (its cells
    hold cval instead)."""
    if mode == "wrap":
        return positions % n
    if mode == "symmetric":
        q = positions % (2 * n)
        return np.where(q < n, q, 2 * n - 1 - q)
    if mode == "reflect" and n > 1:
        period = 2 * n - 2
        q = positions % period
        return np.where(q < n, q, period - q)
    return np.clip(positions, 0, n - 1)     # replicate, zero, reflect of one sample


def padded_dtype(inp, value):
    """The dtype of ``inp.x`` padded with ``value`` in its 'zero' axes: x's
    own, or the compute type where x's dtype cannot hold ``value`` exactly
    (a fractional cval of an integer image)."""
    dtype = inp.x.dtype
    if "zero" not in inp.modes or dtype.kind == "f" or value == 0:
        return dtype
    info = np.iinfo(dtype)
    if np.isfinite(value) and value == math.floor(value) and info.min <= value <= info.max:
        return dtype
    return inp.compute


def pad_by_modes(inp, pad_lo, pad_hi, value=None):
    """``inp`` with its array padded along each filtered axis by that axis's
    own mode (``inp.modes``), ``pad_lo``/``pad_hi`` samples per spatial axis,
    'zero' axes with ``value`` (default ``inp.cval``): filtering it without
    further padding ('valid' geometry, or any mode and the core cropped)
    gives the per-axis-mode result.  One new array in the backend's
    namespace (the caller's input is not modified); the returned arguments
    say mode 'zero' on every axis, whose padding a 'valid' run never reads.

    The padding goes axis after axis into the one array, as ``numpy.pad``
    does: an axis's borders are copied from the array already padded along
    the earlier axes, so corners follow every axis's rule in turn (a 'zero'
    axis makes its slabs ``value`` throughout)."""
    backend = inp.backend
    xp = backend.xp
    value = inp.cval if value is None else value
    x = inp.x
    shape = inp.full_shape(tuple(n + lo + hi for n, lo, hi in
                                 zip(inp.spatial_shape, pad_lo, pad_hi)))
    padded = backend.empty(shape, padded_dtype(inp, value))
    region = [slice(None)] * x.ndim
    for ax, n, lo in zip(inp.axes, inp.spatial_shape, pad_lo):
        region[ax] = slice(lo, lo + n)
    if x.size == 0:
        padded[...] = value
    else:
        padded[tuple(region)] = x
        for ax, mode, n, lo, hi in zip(inp.axes, inp.modes, inp.spatial_shape, pad_lo, pad_hi):
            for start, stop in ((0, lo), (lo + n, lo + n + hi)):
                if start == stop:
                    continue
                target = list(region)
                target[ax] = slice(start, stop)
                if mode == "zero":
                    padded[tuple(target)] = value
                else:
                    index = mode_index(mode, n, np.arange(start - lo, stop - lo)) + lo
                    source = list(region)
                    source[ax] = xp.asarray(index)
                    padded[tuple(target)] = padded[tuple(source)]
            region[ax] = slice(None)    # the later axes copy this axis's borders too
    zero = ("zero",) * inp.rank
    return inp._replace(x=padded, mode="zero", code=v.MODE_CODES["zero"], modes=zero)


def run_padded(inp, reach_lo, reach_hi, value, out, run):
    """A 'same'-shaped filter of ``inp`` (its axes' modes differing) that
    reads at most ``reach_lo``/``reach_hi`` samples below/above each output
    along each spatial axis: ``run(padded_inp, padded_out)`` over the input
    padded by :func:`pad_by_modes` (with ``value`` in 'zero' axes) into an
    array of out's dtype, whose core then goes into ``out``.  Costs the
    padded copies of the input and the result (and the work on the padding)."""
    backend = inp.backend
    padded = pad_by_modes(inp, reach_lo, reach_hi, value)
    padded_out = backend.empty(padded.x.shape, out.dtype)
    if padded_out.size:
        run(padded, padded_out)
    core = [slice(None)] * out.ndim
    for ax, n, lo in zip(inp.axes, inp.spatial_shape, reach_lo):
        core[ax] = slice(lo, lo + n)
    out[...] = padded_out[tuple(core)]
    return out


def footprint_reach(shape, centre):
    """How far a window of ``shape`` with its centre cell at ``centre``
    reaches below and above its output, per axis."""
    return tuple(centre), tuple(k - 1 - c for k, c in zip(shape, centre))


def alternating_targets(out, npasses, pingpong, new_scratch):
    """The array each of ``npasses`` passes writes, the last one ``out``;
    with ``pingpong`` the others alternate between ``out`` and one scratch
    array, else each gets its own (``new_scratch()`` makes one)."""
    scratch = None
    for i in range(npasses):
        remaining = npasses - 1 - i
        if remaining == 0 or (pingpong and remaining % 2 == 0):
            yield out
        elif pingpong and scratch is not None:
            yield scratch
        else:
            scratch = new_scratch()
            yield scratch


def gradient_magnitude_arguments(inp, deriv, smooth, out_dtype):
    """The ``gradient_magnitude`` kernel's arguments between the arrays and
    the thread count, and its work per output sample (taps)."""
    taps_per_sample = inp.rank * (np.count_nonzero(deriv) * np.count_nonzero(smooth)
                                  ** (inp.rank - 1))
    args = (tuple(map(float, deriv)), tuple(map(float, smooth)), inp.rank, inp.code, inp.cval,
            v.DTYPE_CODES[inp.x.dtype], v.DTYPE_CODES[np.dtype(out_dtype)],
            inp.compute == np.float64)
    return args, max(1, int(taps_per_sample))


def kernel_views(inp, *arrays, xp=np):
    """The matching 4D views of ``arrays`` (``_views.pairs``) that kernel
    calls run on; none where an array is empty (an empty input axis or
    channel axis): a result with no element is complete as allocated."""
    if any(a.size == 0 for a in arrays):
        return []
    return pairs(inp, *arrays, xp=xp)


NO_X_KERNEL = {np.dtype(np.float32): np.zeros(0, np.float32),
               np.dtype(np.float64): np.zeros(0, np.float64)}


def depth_only_kernel(weights3, has_x_kernel, stride3, pad3):
    """A kernel along depth only, without stride or padding across the
    planes: where the planes are contiguous, :meth:`KernelBackend.correlate`
    sweeps each plane as one long row instead of many short ones."""
    return (not has_x_kernel and weights3.shape[1:] == (1, 1) and weights3.shape[0] > 1
            and stride3[1:] == (1, 1) and pad3[1:] == (0, 0))


def box3(inp, size, centre):
    """The box's (depth, height, width) sizes and centres, clipped to the input."""
    size, centre = clip_box(size, centre, inp.spatial_shape)
    return as_3(size, 1, inp.rank), as_3(centre, 0, inp.rank)


def clip_box(size, centre, shape):
    """A box no more than 2n cells either side of its centre on an axis of n
    samples, with the same maxima and minima: in every mode, 2n padded cells
    beyond the edge repeat every value that any longer reach would (a period
    of the padding, or constant values), so a box reaching further only
    costs time (quadratic in the size, for sizes far beyond the image)."""
    clipped = [(min(c, 2 * n), min(k - 1 - c, 2 * n)) for k, c, n in zip(size, centre, shape)]
    return tuple(lo + hi + 1 for lo, hi in clipped), tuple(lo for lo, _ in clipped)


def footprint_runs(footprint, heights=None):
    """A 3D boolean footprint as its nonempty rows (z, y) and the runs of
    consecutive True cells in each: (row index, first x, length), by row.
    With ``heights`` (an array of the footprint's shape), a run also ends
    where the height changes (a NaN height is a run of its own)."""
    row_z, row_y, run_row, run_start, run_length = [], [], [], [], []
    for z, y in zip(*np.nonzero(footprint.any(axis=2))):
        row = footprint[z, y].astype(np.int8)
        edges = np.diff(np.concatenate(([0], row, [0])))
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        if heights is not None:
            changes = np.flatnonzero(row[1:] & row[:-1] & (heights[z, y, 1:] != heights[z, y, :-1]))
            starts = np.sort(np.concatenate((starts, changes + 1)))
            stops = np.sort(np.concatenate((stops, changes + 1)))
        run_row += [len(row_z)] * len(starts)
        run_start += list(starts)
        run_length += list(stops - starts)
        row_z.append(z)
        row_y.append(y)
    return tuple(np.asarray(a, np.intp) for a in (row_z, row_y, run_row, run_start, run_length))


def pool_arguments(inp, geom, op, p, identity, scales, out_dtype):
    """The pool kernel's arguments between the arrays and the thread count,
    and the work per output sample."""
    rank = inp.rank
    size3 = as_3(geom.size, 1, rank)
    inv = [np.ones(1)] * (3 - rank) + [np.ascontiguousarray(s, np.float64) for s in scales]
    return ((size3, as_3(geom.stride, 1, rank), as_3(geom.dilation, 1, rank),
             as_3(geom.pad_lo, 0, rank), as_3(geom.extent, 1, rank), op, inp.code, p,
             identity, *inv, v.EXTREME_DTYPE_CODES[inp.x.dtype],
             v.EXTREME_DTYPE_CODES[np.dtype(out_dtype)], inp.compute == np.float64),
            math.prod(size3))

"""Launch wrappers of the CUDA kernels (``kernels/*.cu``).

Each wrapper has the signature and semantics of the compiled CPU kernel
module's function of the same name (``pyx/*.pxi``), minus ``nthreads``, so a
backend can swap one for the other: ``x`` and ``out`` are 4D (batch, depth,
height, width) device arrays (CuPy, or numpy in the simulator) of any element
strides; geometry arrives as Python ints and tuples, dtypes and modes as
``imgconv._validate`` codes.  Kernels are specialised by template parameters
(input type, compute type, and for the tiled correlation the z and x extents),
never by array shape; `all_variants` lists every one the wrappers can ask for.
"""
import numpy as np

from ._runtime import get_kernel, max_shared_memory, xp

#: C++ type of each dtype code (imgconv._validate.EXTREME_DTYPE_CODES)
C_TYPES = ("unsigned char", "unsigned short", "short", "int", "float", "double",
           "long long", "unsigned long long")
NUMPY_TYPES = tuple(np.dtype(t) for t in ("uint8", "uint16", "int16", "int32", "float32",
                                          "float64", "int64", "uint64"))
#: codes of the dtypes every filter takes (imgconv._validate.DTYPE_CODES)
FILTER_CODES = range(6)
#: ... and those of the max/min kernels (exact 64-bit integers too)
EXTREME_CODES = range(8)
FLOAT32, FLOAT64 = 4, 5

# The fast correlation path: float32 compute, stride and dilation 1, depth
# extents up to TILED_MAX_DEPTH, at most TILED_MAX_TAPS weights
# (kernels/correlate.cu's IMGCONV_TILED_MAX_DEPTH and IMGCONV_TILED_MAX_TAPS);
# x extents up to TILED_MAX_UNROLLED get a variant of their own (the x loop
# unrolled), longer ones share the variant with a run-time extent.
TILED_MAX_DEPTH = 7
TILED_MAX_TAPS = 8192
TILED_MAX_UNROLLED = 7
TILED_CODES = (0, 1, 2, 4)          # uint8, uint16, int16, float32 inputs
TILED_BLOCK = (32, 8)               # output columns x rows per block
# output planes each thread slides through: up to TILED_MAX_Z_CHUNK, down to
# TILED_MIN_Z_CHUNK while the launch has fewer than TILED_MIN_BLOCKS blocks
# (an H100 runs 132 SMs x 8 blocks of 256 threads at once)
TILED_MAX_Z_CHUNK = 64
TILED_MIN_Z_CHUNK = 8
TILED_MIN_BLOCKS = 4096
PLANE_BLOCK = (32, 8)               # correlate_general's block
LINE_BLOCK = 256                    # threads per block of the 1D-grid kernels
MAX_GRID_Z = 65535
MAX_GRID_Y = 65535
# Box and running-extreme lines: threads per line are chunked so that about
# this many threads run (a chunk never shorter than LINE_MIN_CHUNK outputs).
LINE_THREADS = 1 << 16
LINE_MIN_CHUNK = 32
# Running extremes combine windows up to this long directly; longer ones
# take van Herk / Gil-Werman.
DIRECT_MAX_WINDOW = 8
DIRECT_X_CHUNK = 8
POOL_AVG, POOL_LP = 2, 3


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------
def _i32(value):
    return np.int32(value)


def element_strides(a):
    """The strides of ``a`` in elements, as int64 kernel arguments."""
    return tuple(np.int64(s // a.itemsize) for s in a.strides)


def _shape_args(a):
    return tuple(np.int32(n) for n in a.shape)


def _scalar_arg(code, value):
    """A max/min kernel's value of the dtype ``code`` as its 64-bit launch
    argument (kernels' ScalarArg: double for floats, long long for integers,
    uint64 values wrapped to their bit pattern)."""
    if code in (FLOAT32, FLOAT64):
        return np.float64(value)
    value = int(value)
    if code == 7 and value >= 2**63:
        value -= 2**64
    return np.int64(value)


def _compute_arg(weights_dtype, value):
    """``value`` as a scalar of the compute type."""
    return np.float32(value) if np.dtype(weights_dtype) == np.float32 else np.float64(value)


def _small_block(extent, preferred):
    """``preferred`` threads along an axis, or the next power of two above
    ``extent`` when that is fewer (tiny arrays launch tiny blocks: the
    simulator runs one OS thread per CUDA thread)."""
    size = 1
    while size < min(extent, preferred):
        size *= 2
    return size


def _line_grid(nitems):
    """(grid, block) of a 1D launch over ``nitems`` work items (grid-stride
    loops take what a grid cannot hold)."""
    block = _small_block(nitems, LINE_BLOCK)
    return (max(1, min(-(-nitems // block), 2**31 - 1)), 1, 1), (block, 1, 1)


def _line_chunk(shape, axis, minimum=LINE_MIN_CHUNK):
    """Outputs per thread along ``axis``: enough threads to fill the GPU."""
    n = shape[axis]
    nlines = int(np.prod(shape)) // max(n, 1)
    wanted = max(1, LINE_THREADS // max(nlines, 1))
    return max(min(n, minimum), -(-n // wanted))


def _check_same_memory(x, out, what):
    """Refuse an ``out`` that shares memory with ``x`` for kernels that read
    neighbours of what they write."""
    # the bounds test: exact overlap tests can cost more than the kernel
    if x.size and out.size and xp().may_share_memory(x, out):
        raise ValueError(f"{what}: out must not share memory with the input")


def _device(a, dtype=None):
    """A small host array (weights, runs, scales) on the device."""
    return xp().asarray(np.ascontiguousarray(a, dtype))


# --------------------------------------------------------------------------
# Direct correlation
# --------------------------------------------------------------------------
def _tiled_name(in_code, kd, kw):
    unrolled = kw if kw <= TILED_MAX_UNROLLED else 0
    return f"correlate_tiled<{C_TYPES[in_code]}, {kd}, {unrolled}>"


def _tiled_shared_bytes(block, kh, kw):
    """Dynamic shared memory of correlate_tiled: two float32 planes of the
    block's tile and halo."""
    return 2 * (block[1] + kh - 1) * (block[0] + kw - 1) * 4


def _tiled_z_chunk(out_shape, grid_xy):
    """Output planes per thread: the longest run (fewer planes re-read for
    the halo) that still leaves TILED_MIN_BLOCKS blocks to spread over the GPU."""
    z_chunk = min(TILED_MAX_Z_CHUNK, out_shape[1])
    while (z_chunk > TILED_MIN_Z_CHUNK
           and grid_xy * out_shape[0] * -(-out_shape[1] // z_chunk) < TILED_MIN_BLOCKS):
        z_chunk = -(-z_chunk // 2)
    return z_chunk


def _general_name(in_code, weights_dtype):
    compute = "float" if np.dtype(weights_dtype) == np.float32 else "double"
    return f"correlate_general<{C_TYPES[in_code]}, {compute}>"


def uses_tiled_path(weights, xweights, stride, dilation, in_dtype):
    """Whether `correlate` takes the shared-memory fast path.

    Parameters
    ----------
    weights, xweights : numpy.ndarray
        `correlate`'s kernels.
    stride, dilation : tuple of 3 ints
        Per spatial axis.
    in_dtype : int
        dtype code of the input.

    Returns
    -------
    bool
        True for float32 weights without an x kernel, a float32-computed
        input, unit stride and dilation, a depth extent up to
        ``TILED_MAX_DEPTH``, at most ``TILED_MAX_TAPS`` weights and a tile
        that fits the device's shared memory.
    """
    kd, kh, kw = weights.shape
    return (weights.dtype == np.float32 and xweights.size == 0 and in_dtype in TILED_CODES
            and tuple(stride) == (1, 1, 1) and tuple(dilation) == (1, 1, 1)
            and kd <= TILED_MAX_DEPTH and weights.size <= TILED_MAX_TAPS
            and _tiled_shared_bytes(TILED_BLOCK, kh, kw) <= max_shared_memory())


def correlate(x, out, weights, xweights, stride, dilation, pad_lo, mode, cval, in_dtype,
              out_dtype):
    """Correlate ``x`` (B, D, H, W) with ``weights`` (KD, KH, KW) into ``out``.

    With a non-empty 1D ``xweights`` (and KW == 1), the kernel is the outer
    product of the two.  As the CPU's ``correlate`` (pyx/correlate.pxi):
    output (z, y, x) sums the taps at padded positions ``z*stride -
    pad_lo + k*dilation`` per axis; ``mode`` and ``cval`` pad.

    Parameters
    ----------
    x, out : device arrays
        4D input and output (any element strides; ``out`` of dtype code
        ``out_dtype``, shaped by the geometry).
    weights, xweights : numpy.ndarray
        C-contiguous float32 or float64 kernels of one dtype (the compute
        type), 3D and 1D (empty: no x kernel).
    stride, dilation, pad_lo : tuple of 3 ints
        Per spatial axis (z, y, x).
    mode : int
        Boundary mode code.
    cval : float
        The constant of the zero mode.
    in_dtype, out_dtype : int
        dtype codes of ``x`` and ``out``.

    Notes
    -----
    float32 kernels up to 7 deep with unit stride and dilation take the
    tiled path (`uses_tiled_path`); it does not skip zero taps, so an inf under a zero weight
    gives NaN there, where the CPU and the general path skip it.
    """
    weights = np.ascontiguousarray(weights)
    xweights = np.ascontiguousarray(xweights, weights.dtype)
    if weights.dtype not in (np.float32, np.float64) or weights.ndim != 3 or xweights.ndim != 1:
        raise ValueError("weights and xweights must be float32 or float64 arrays (3D and 1D) "
                         "of one dtype")
    if xweights.size and weights.shape[2] != 1:
        raise ValueError("xweights needs weights with one column (KW == 1)")
    if out.size == 0:
        return
    _check_same_memory(x, out, "correlate")
    geometry = (*_shape_args(x), *element_strides(x), *_shape_args(out)[1:],
                *element_strides(out))
    kd, kh, kw = weights.shape
    if uses_tiled_path(weights, xweights, stride, dilation, in_dtype):
        _correlate_tiled(x, out, weights, geometry, pad_lo, mode, cval, in_dtype, out_dtype)
        return
    bx = _small_block(out.shape[3], PLANE_BLOCK[0])
    by = _small_block(out.shape[2], PLANE_BLOCK[1])
    grid = (-(-out.shape[3] // bx), -(-out.shape[2] // by),
            min(out.shape[0] * out.shape[1], MAX_GRID_Z))
    if grid[1] > MAX_GRID_Y:
        raise ValueError(f"correlate: {out.shape[2]} output rows exceed the launch grid")
    kernel = get_kernel("correlate.cu", _general_name(in_dtype, weights.dtype))
    kernel(grid, (bx, by, 1), (
        x, out, _device(weights), _device(xweights if xweights.size else np.zeros(1, weights.dtype)),
        *geometry, _i32(kd), _i32(kh), _i32(kw), _i32(xweights.size),
        *(_i32(s) for s in stride), *(_i32(d) for d in dilation), *(_i32(p) for p in pad_lo),
        _i32(mode), _compute_arg(weights.dtype, cval), _i32(out_dtype)))


def _correlate_tiled(x, out, weights, geometry, pad_lo, mode, cval, in_dtype, out_dtype):
    kd, kh, kw = weights.shape
    bx = _small_block(out.shape[3], TILED_BLOCK[0])
    by = _small_block(out.shape[2], TILED_BLOCK[1])
    grid_x, grid_y = -(-out.shape[3] // bx), -(-out.shape[2] // by)
    z_chunk = _tiled_z_chunk(out.shape, grid_x * grid_y)
    nunits = out.shape[0] * -(-out.shape[1] // z_chunk)
    grid = (grid_x, grid_y, min(nunits, MAX_GRID_Z))
    if grid[1] > MAX_GRID_Y:
        raise ValueError(f"correlate: {out.shape[2]} output rows exceed the launch grid")
    kernel = get_kernel("correlate.cu", _tiled_name(in_dtype, kd, kw))
    kernel.set_constant("tiled_weights", weights.ravel())
    kernel(grid, (bx, by, 1), (
        x, out, *geometry, _i32(kh), _i32(kw), *(_i32(p) for p in pad_lo), _i32(mode), np.float32(cval),
        _i32(out_dtype), _i32(z_chunk)), shared_mem=_tiled_shared_bytes((bx, by), kh, kw))


def correlate_axis(x, out, weights, axis, stride, dilation, pad_lo, mode, cval, in_dtype,
                   out_dtype):
    """One separable pass: correlate ``x`` with 1D ``weights`` along one axis.

    The pass is `correlate` with a (k, 1, 1), (1, k, 1) or (1, 1, k) kernel:
    one coalesced pass, on the tiled path for float32 weights (up to 7 taps
    along depth, any number along height or width).

    Parameters
    ----------
    x, out : device arrays
        4D input and output, as for `correlate`.
    weights : numpy.ndarray
        1D float32 or float64 kernel (the compute type).
    axis : int
        1 (depth), 2 (height) or 3 (width).
    stride, dilation, pad_lo : int
        Along ``axis``; the other axes are neither strided nor padded.
    mode, cval, in_dtype, out_dtype
        As for `correlate`.
    """
    if axis not in (1, 2, 3):
        raise ValueError(f"axis must be 1, 2 or 3, got {axis}")
    shape = [1, 1, 1]
    shape[axis - 1] = -1
    per_axis = lambda value, other: tuple(value if a == axis - 1 else other for a in range(3))
    correlate(x, out, np.ascontiguousarray(weights).reshape(shape),
              np.zeros(0, np.asarray(weights).dtype), per_axis(stride, 1),
              per_axis(dilation, 1), per_axis(pad_lo, 0), mode, cval, in_dtype, out_dtype)


# --------------------------------------------------------------------------
# Box means and running extremes along one axis
# --------------------------------------------------------------------------
def box_pass(x, out, axis, size, pad_lo, mode, cval, in_dtype, out_dtype):
    """Mean over ``size`` samples along ``axis`` of (B, D, H, W) ``x``.

    Window of output i: input samples i - pad_lo ... i - pad_lo + size - 1
    (padded by ``mode``, ``cval`` for the zero mode), summed in double; as
    the CPU's ``box_pass`` (pyx/running.pxi).

    Parameters
    ----------
    x, out : device arrays
        4D input and output of one shape, any element strides, not sharing
        memory.
    axis : int
        1, 2 or 3.
    size, pad_lo : int
        Window length and its offset.
    mode : int
        Boundary mode code.
    cval : float
        The constant of the zero mode.
    in_dtype, out_dtype : int
        dtype codes of ``x`` and ``out``.

    Notes
    -----
    Where the lines alone fill the GPU, each line runs on one thread, summed
    as the CPU sums it; with fewer lines, each thread restarts the running
    sum at its chunk of outputs, so a NaN or inf spreads to the end of its chunk
    rather than to the end of the line (finite inputs differ by double
    rounding only).
    """
    if axis not in (1, 2, 3):
        raise ValueError(f"axis must be 1, 2 or 3, got {axis}")
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    if out.size == 0:
        return
    _check_same_memory(x, out, "box_pass")
    chunk = _line_chunk(x.shape, axis)
    nitems = out.size // x.shape[axis] * -(-x.shape[axis] // chunk)
    grid, block = _line_grid(nitems)
    kernel = get_kernel("running.cu", f"box_pass<{C_TYPES[in_dtype]}>")
    kernel(grid, block, (x, out, *_shape_args(x), *element_strides(x), *element_strides(out),
                         _i32(axis), _i32(size), _i32(pad_lo), _i32(mode), np.float64(cval),
                         _i32(out_dtype), _i32(chunk)))


def _extreme_line(x, out, axis, window, pad_lo, mode, cval, is_max, dtype):
    """One running-extreme pass along ``axis`` (kernels/extreme.cu)."""
    direct = window <= DIRECT_MAX_WINDOW
    if direct and axis == 3:
        # neighbouring threads read neighbouring short runs of one row, and a
        # run is long enough to amortise finding its line (64-bit divisions)
        chunk = DIRECT_X_CHUNK
    elif direct:
        chunk = _line_chunk(x.shape, axis)
    else:
        # whole van Herk blocks per thread
        chunk = -(-_line_chunk(x.shape, axis, minimum=window) // window) * window
    nitems = out.size // x.shape[axis] * -(-x.shape[axis] // chunk)
    grid, block = _line_grid(nitems)
    kernel = get_kernel("extreme.cu", f"extreme_line<{C_TYPES[dtype]}>")
    kernel(grid, block, (x, out, *_shape_args(x), *element_strides(x), *element_strides(out),
                         _i32(axis), _i32(window), _i32(pad_lo), _i32(mode),
                         _scalar_arg(dtype, cval), _i32(bool(is_max)), _i32(direct),
                         _i32(chunk)))


def extreme_pass(x, out, window, pad_lo, x_window, x_pad_lo, z_window, z_pad_lo, mode, cval,
                 is_max, dtype):
    """Running max or min over a box of (B, L, N, W) ``x`` into ``out``.

    The box spans ``window`` samples along axis 2, ``x_window`` along axis
    3 and ``z_window`` along axis 1; ``out`` has x's shape and dtype.

    Output i along an axis takes padded positions i .. i + window - 1, where
    position j reads sample j - pad_lo (boundary ``mode``, ``cval`` for the
    constant mode, a value of the dtype); as the CPU's ``extreme_pass``
    (pyx/extreme.pxi).  The box is one pass per axis whose window is not a
    single unshifted sample; two or three passes go through one temporary
    array.

    Parameters
    ----------
    x, out : device arrays
        4D input and output of one shape and dtype, not sharing memory.
    window, pad_lo, x_window, x_pad_lo, z_window, z_pad_lo : int
        Window length (at least 1) and offset along axes 2, 3 and 1.
    mode : int
        Boundary mode code.
    cval : int or float
        The constant of the zero mode, a value of the dtype.
    is_max : bool
        Maximum, else minimum.
    dtype : int
        dtype code (``imgconv._validate.EXTREME_DTYPE_CODES``).
    """
    for name, value in (("window", window), ("x_window", x_window), ("z_window", z_window)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if out.size == 0:
        return
    _check_same_memory(x, out, "extreme_pass")
    passes = [(axis, w, p) for axis, w, p in ((2, window, pad_lo), (3, x_window, x_pad_lo),
                                              (1, z_window, z_pad_lo)) if w > 1 or p != 0]
    # a window of one unshifted sample is a copy: kept only when nothing else runs
    passes = passes or [(2, 1, 0)]
    # sources and targets: x -> out; x -> tmp -> out; x -> out -> tmp -> out
    temporary = xp().empty(out.shape, out.dtype) if len(passes) > 1 else None
    chains = {1: [(x, out)], 2: [(x, temporary), (temporary, out)],
              3: [(x, out), (out, temporary), (temporary, out)]}[len(passes)]
    for (axis, w, p), (source, target) in zip(passes, chains):
        _extreme_line(source, target, axis, w, p, mode, cval, is_max, dtype)


def _launch_per_output(source, name, x, out, runs, centre, mode, cval, dtype, *specific):
    """Launch ``name<T>`` of ``source``, a kernel over a footprint's runs
    with one output per thread (``footprint.cuh``), on (B, D, H, W) ``x``
    into ``out``.  Its parameters: the arrays, the runs as (plane, row,
    first column, length) rows and their count, the shape, both arrays'
    strides, the centre, the mode and cval, then its ``specific`` ones."""
    if out.size == 0:
        return
    _check_same_memory(x, out, name)
    row_z, row_y, run_row, run_start, run_length = (np.asarray(a) for a in runs)
    device_runs = _device(np.stack([row_z[run_row], row_y[run_row], run_start, run_length],
                                   axis=1), np.int32)
    grid, block = _line_grid(out.size)
    kernel = get_kernel(source, f"{name}<{C_TYPES[dtype]}>")
    kernel(grid, block, (x, out, device_runs, _i32(len(device_runs)), *_shape_args(x),
                         *element_strides(x), *element_strides(out),
                         *(_i32(c) for c in centre), _i32(mode), _scalar_arg(dtype, cval),
                         *specific))


def extreme_footprint(x, out, footprint_shape, centre, row_z, row_y, run_row, run_start,
                      run_length, mode, cval, is_max, dtype):
    """Max (``is_max``) or min of (B, D, H, W) ``x`` over a footprint, into
    ``out`` (same shape and dtype): out[b, z, y, x] = op over footprint cells
    (fz, fy, fx) of the padded input at (z + fz - cz, y + fy - cy, x + fx - cx).

    The footprint comes as its nonempty rows (``row_z``, ``row_y``) and the
    runs of consecutive cells in each (``run_row``, first cell ``run_start``,
    ``run_length``), as the CPU's ``extreme_footprint`` (pyx/extreme.pxi).

    Parameters
    ----------
    x, out : device arrays
        4D input and output of one shape and dtype, not sharing memory.
    footprint_shape, centre : tuple of 3 ints
        The footprint's (depth, height, width) and its centre cell.
    row_z, row_y, run_row, run_start, run_length : numpy.ndarray
        The footprint's runs (``imgconv._backend.footprint_runs``).
    mode, cval, is_max, dtype
        As for `extreme_pass`.
    """
    if np.asarray(run_row).size == 0:
        raise ValueError("extreme_footprint needs a footprint with at least one cell")
    _launch_per_output("extreme.cu", "extreme_footprint", x, out,
                       (row_z, row_y, run_row, run_start, run_length), centre, mode, cval,
                       dtype, _i32(bool(is_max)))


def extreme_structure(x, out, footprint_shape, centre, row_z, row_y, run_row, run_start,
                      run_length, heights, skip_outside, mode, cval, identity, is_max, dtype):
    """Max (``is_max``) or min with heights (non-flat morphology) of (B, D, H,
    W) ``x`` into ``out``, as the CPU's ``extreme_structure``
    (pyx/extreme.pxi): out[b, z, y, x] = op over the footprint's cells c of
    (the padded input at (z + fz - cz, y + fy - cy, x + fx - cx) + the
    height of c), saturated for integers, starting from ``identity``.

    Parameters
    ----------
    x, out, footprint_shape, centre, row_z, row_y, run_row, run_start, run_length
        As for `extreme_footprint`.
    heights : numpy.ndarray
        One height per run: int64 for integer dtypes (within +-(the dtype's
        span)), the dtype itself for floats.
    skip_outside : bool
        Cells beyond the input's edges take no part instead of reading the
        padding; an output with none inside gets ``identity``.
    mode, cval, identity, is_max, dtype
        The boundary mode code, the constant mode's value, the value that
        never wins, the operation and the dtype code.
    """
    del footprint_shape   # the runs hold the cells; the shape is the CPU's signature
    run_row, heights = np.asarray(run_row), np.asarray(heights)
    if run_row.size == 0:
        raise ValueError("extreme_structure needs a footprint with at least one cell")
    expected = np.dtype(np.int64) if NUMPY_TYPES[dtype].kind in "iu" else NUMPY_TYPES[dtype]
    if heights.dtype != expected or heights.shape != run_row.shape:
        raise ValueError(f"heights must hold one {expected} height per run")
    _launch_per_output("extreme.cu", "extreme_structure", x, out,
                       (row_z, row_y, run_row, run_start, run_length), centre, mode, cval,
                       dtype, _i32(bool(is_max)), _device(heights, heights.dtype),
                       _i32(bool(skip_outside)), _scalar_arg(dtype, identity))


# --------------------------------------------------------------------------
# Rank filters
# --------------------------------------------------------------------------
def rank_filter(x, out, footprint_shape, centre, row_z, row_y, run_row, run_start, run_length,
                rank, mode, cval, dtype):
    """The ``rank``-th smallest value (0: the minimum; NaN sorts last) of
    (B, D, H, W) ``x`` over a footprint, into ``out`` (same shape and dtype),
    as the CPU's ``rank_filter`` (pyx/rank.pxi): out[b, z, y, x] = that rank
    of the padded input at (z + fz - cz, y + fy - cy, x + fx - cx) over the
    footprint cells (fz, fy, fx).

    Parameters
    ----------
    x, out, footprint_shape, centre, row_z, row_y, run_row, run_start, run_length
        As for `extreme_footprint`.
    rank : int
        0 <= rank < the footprint's cell count.
    mode, cval, dtype
        Boundary mode code, the constant mode's value (of the dtype) and the
        dtype code (``imgconv._validate.EXTREME_DTYPE_CODES``).
    """
    del footprint_shape   # the runs hold the cells; the shape is the CPU's signature
    ncells = int(np.sum(run_length))
    if not 0 <= rank < ncells:
        raise ValueError(f"rank={rank} is outside a footprint of {ncells} cells")
    _launch_per_output("rank.cu", "rank_footprint", x, out,
                       (row_z, row_y, run_row, run_start, run_length), centre, mode, cval,
                       dtype, _i32(ncells), _i32(rank))


# --------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------
def pool(x, out, indices, size, stride, dilation, pad_lo, extent, op, mode, p, identity,
         inv_z, inv_y, inv_x, in_dtype, out_dtype, double_precision):
    """Pool (B, D, H, W) ``x`` into ``out`` (B, oD, oH, oW), as the CPU's
    ``pool`` (pyx/pool.pxi).

    Window of output o along an axis: padded positions o*stride + t*dilation
    (t < size) below ``extent``, position j reading sample j - pad_lo.  ``op``
    0 (max) / 1 (min) run in x's dtype (``out`` has the same dtype;
    ``identity`` is an empty window's value; ``indices``, an int64 device
    array shaped like ``out`` or None, receives flat input indices); 2 (avg)
    / 3 (Lp) run in float32 or float64 (``double_precision``) and store to
    any ``out`` dtype; averages multiply by inv_z[oz] * inv_y[oy] * inv_x[ox].

    Parameters
    ----------
    x, out : device arrays
        4D input and output.
    indices : device array or None
        int64, shaped like ``out``: the flat (D, H, W) index of each max/min.
    size, stride, dilation, pad_lo, extent : tuple of 3 ints
        Window geometry per spatial axis.
    op : int
        0 max, 1 min, 2 average, 3 Lp.
    mode : int
        Boundary mode code.
    p : float
        The Lp norm's power.
    identity : int or float
        Value of an empty max/min window, a value of x's dtype.
    inv_z, inv_y, inv_x : numpy.ndarray
        Reciprocal window counts per output position (average only).
    in_dtype, out_dtype : int
        dtype codes of ``x`` and ``out``.
    double_precision : bool
        Average and Lp in float64, else float32.
    """
    if out.size == 0:
        return
    geometry = (*_shape_args(x), *element_strides(x), *_shape_args(out)[1:],
                *element_strides(out))
    window = (*(_i32(v) for v in size), *(_i32(v) for v in stride),
              *(_i32(v) for v in dilation), *(_i32(v) for v in pad_lo),
              *(_i32(v) for v in extent), _i32(mode))
    grid, block = _line_grid(out.size)
    if op in (POOL_AVG, POOL_LP):
        if in_dtype not in FILTER_CODES:
            raise ValueError("average and Lp pooling take uint8, uint16, int16, int32, float32 "
                             f"or float64 inputs, not {NUMPY_TYPES[in_dtype]}")
        compute = "double" if double_precision else "float"
        kernel = get_kernel("pool.cu", f"pool_sum<{C_TYPES[in_dtype]}, {compute}>")
        scales = [_device(s, np.float64) for s in (inv_z, inv_y, inv_x)]
        kernel(grid, block, (x, out, *scales, *geometry, *window, _i32(op), np.float64(p),
                             _i32(out_dtype)))
        return
    if op not in (0, 1):
        raise ValueError(f"unknown pooling op {op}")
    with_indices = indices is not None
    if not with_indices:
        indices = xp().zeros((1, 1, 1, 1), np.int64)
    kernel = get_kernel("pool.cu", f"pool_extreme<{C_TYPES[in_dtype]}>")
    kernel(grid, block, (x, out, indices, _i32(with_indices), *geometry,
                         *element_strides(indices), *window, _scalar_arg(in_dtype, identity),
                         _i32(op == 0)))


# --------------------------------------------------------------------------
# Every variant, for the NVRTC compile check
# --------------------------------------------------------------------------
def all_variants():
    """Every (source, name expression, defines) the wrappers can request.

    Returns
    -------
    list of tuple
        ``(source, name, defines)``, defines always empty: the kernels are
        specialised by template parameters only.
    """
    variants = []
    for code in FILTER_CODES:
        for compute in (np.float32, np.float64):
            variants.append(("correlate.cu", _general_name(code, compute), ()))
    for code in TILED_CODES:
        for kd in range(1, TILED_MAX_DEPTH + 1):
            for kw in range(1, TILED_MAX_UNROLLED + 2):     # the last: any longer kw
                variants.append(("correlate.cu", _tiled_name(code, kd, kw), ()))
    for code in FILTER_CODES:
        variants.append(("running.cu", f"box_pass<{C_TYPES[code]}>", ()))
        for compute in ("float", "double"):
            variants.append(("pool.cu", f"pool_sum<{C_TYPES[code]}, {compute}>", ()))
    for code in EXTREME_CODES:
        variants.append(("extreme.cu", f"extreme_line<{C_TYPES[code]}>", ()))
        variants.append(("extreme.cu", f"extreme_footprint<{C_TYPES[code]}>", ()))
        variants.append(("extreme.cu", f"extreme_structure<{C_TYPES[code]}>", ()))
        variants.append(("rank.cu", f"rank_footprint<{C_TYPES[code]}>", ()))
        variants.append(("pool.cu", f"pool_extreme<{C_TYPES[code]}>", ()))
    return variants

# Direct correlation over (batch, D, H, W) arrays: 1D and 2D inputs arrive
# with unit D/H axes, channels and stacks as the batch axis. Any stride,
# dilation, padding and boundary mode; any input/output dtype and strides.
#
# How it is fast (OpenCV's recipe): each source row that a tap reads is copied
# once per thread into a padded, type-converted row buffer (a small LRU cache
# of rows, keyed by the source row), so the inner loops never test bounds.
# Every nonzero tap is then a (weight, pointer into a buffer) pair, and the
# output row accumulates four taps per pass over contiguous memory, which the
# compiler turns into vector FMAs.  Zero taps are skipped.

from cython.parallel cimport parallel, threadid
import numpy as np

cdef enum:
    TAPS_PER_PASS = 4


cdef inline void accumulate_pass(acc_t* acc, acc_t** p, const acc_t* w,
                                 Py_ssize_t n, Py_ssize_t step, bint first) noexcept nogil:
    """acc[x] (+)= sum of w[t] * p[t][x * step] over four taps."""
    cdef Py_ssize_t x
    cdef acc_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3]
    cdef const acc_t* p0 = p[0]
    cdef const acc_t* p1 = p[1]
    cdef const acc_t* p2 = p[2]
    cdef const acc_t* p3 = p[3]
    if step == 1:
        if first:
            for x in range(n):
                acc[x] = w0 * p0[x] + w1 * p1[x] + w2 * p2[x] + w3 * p3[x]
        else:
            for x in range(n):
                acc[x] += w0 * p0[x] + w1 * p1[x] + w2 * p2[x] + w3 * p3[x]
    else:
        if first:
            for x in range(n):
                acc[x] = (w0 * p0[x * step] + w1 * p1[x * step]
                          + w2 * p2[x * step] + w3 * p3[x * step])
        else:
            for x in range(n):
                acc[x] += (w0 * p0[x * step] + w1 * p1[x * step]
                           + w2 * p2[x * step] + w3 * p3[x * step])


cdef inline void accumulate_taps(acc_t* acc, acc_t** ptrs, const acc_t* w,
                                 Py_ssize_t ntaps, Py_ssize_t n,
                                 Py_ssize_t step) noexcept nogil:
    """acc[x] = sum_t w[t] * ptrs[t][x * step]; ntaps is a multiple of 4."""
    cdef Py_ssize_t t, x
    if ntaps == 0:
        for x in range(n):
            acc[x] = 0
        return
    for t in range(0, ntaps, 4):  # TAPS_PER_PASS
        accumulate_pass(acc, ptrs + t, w + t, n, step, t == 0)


cdef struct RowGeometry:
    # source geometry
    Py_ssize_t nbatch, depth, height, width
    Py_ssize_t in_strides[4]        # bytes
    int in_dtype
    # output geometry
    Py_ssize_t out_depth, out_height, out_width
    Py_ssize_t out_strides[4]       # bytes
    int out_dtype
    # per spatial axis (z, y, x)
    Py_ssize_t stride[3]
    Py_ssize_t dilation[3]
    Py_ssize_t pad_lo[3]
    int mode
    # padded row buffer
    Py_ssize_t padded_width, interior_lo, interior_hi


cdef acc_t* cached_row(Py_ssize_t key, acc_t* buffers, int64_t* keys, int64_t* stamps,
                       Py_ssize_t ncache, int64_t* clock, const char* src,
                       const RowGeometry* g, const Py_ssize_t* xtable,
                       acc_t cval) noexcept nogil:
    """The padded buffer holding source row ``key`` (loading it into the least
    recently used slot if absent)."""
    cdef Py_ssize_t i, victim = 0
    clock[0] += 1
    for i in range(ncache):
        if keys[i] == key:
            stamps[i] = clock[0]
            return buffers + i * g.padded_width
        if stamps[i] < stamps[victim]:
            victim = i
    keys[victim] = key
    stamps[victim] = clock[0]
    load_row(src, g.in_dtype, g.in_strides[3] // itemsize(g.in_dtype),
             buffers + victim * g.padded_width, g.padded_width, g.pad_lo[2],
             g.interior_lo, g.interior_hi, xtable, cval)
    return buffers + victim * g.padded_width


cdef inline Py_ssize_t itemsize(int dtype) noexcept nogil:
    if dtype == DT_UINT8:
        return 1
    if dtype == DT_UINT16 or dtype == DT_INT16:
        return 2
    if dtype == DT_INT32 or dtype == DT_FLOAT32:
        return 4
    return 8


cdef int correlate_rows(const char* src, char* dst, const RowGeometry* g,
                        Py_ssize_t row_begin, Py_ssize_t row_end,
                        const acc_t* tap_weights, const Py_ssize_t* tap_row,
                        const Py_ssize_t* tap_offset, Py_ssize_t ntaps,
                        const Py_ssize_t* row_kz, const Py_ssize_t* row_ky,
                        Py_ssize_t nrows, const Py_ssize_t* xtable, acc_t cval,
                        int acc_dtype) noexcept nogil:
    """Compute output rows [row_begin, row_end) (flat over batch, z, y).

    Returns 0, or -1 if the scratch memory could not be allocated.
    """
    cdef Py_ssize_t wp = g.padded_width
    # Twice the rows one output row reads: the rows of the next output row fit
    # beside them, so sweeping down the image loads each source row once.
    cdef Py_ssize_t ncache = 2 * nrows + 1
    cdef Py_ssize_t nbuf = ncache + 2 + 1  # cache + constant row + zero row + accumulator
    cdef Py_ssize_t r, k, t, b, oz, oy, iz, iy, mz, my, i
    cdef Py_ssize_t plane = g.out_depth * g.out_height
    cdef acc_t* buffers
    cdef acc_t* const_row
    cdef acc_t* zero_row
    cdef acc_t* acc
    cdef acc_t** row_ptr
    cdef acc_t** tap_ptr
    cdef int64_t* keys
    cdef int64_t* stamps
    cdef int64_t clock = 0
    cdef char* out_row
    cdef bint direct = g.out_dtype == acc_dtype and g.out_strides[3] == sizeof(acc_t)
    cdef Py_ssize_t out_step = g.out_strides[3] // itemsize(g.out_dtype)
    cdef void* scratch
    if row_begin >= row_end:
        return 0
    if wp < g.out_width:
        wp = g.out_width
    scratch = malloc(nbuf * wp * sizeof(acc_t)
                     + (nrows + ntaps) * sizeof(acc_t*) + 2 * ncache * sizeof(int64_t))
    if scratch == NULL:
        return -1
    buffers = <acc_t*>scratch
    const_row = buffers + ncache * wp
    zero_row = const_row + wp
    acc = zero_row + wp
    row_ptr = <acc_t**>(acc + wp)
    tap_ptr = row_ptr + nrows
    keys = <int64_t*>(tap_ptr + ntaps)
    stamps = keys + ncache
    for i in range(wp):
        const_row[i] = cval
        zero_row[i] = 0
    for i in range(ncache):
        keys[i] = -1
        stamps[i] = -1

    for r in range(row_begin, row_end):
        b = r // plane
        oz = (r % plane) // g.out_height
        oy = r % g.out_height
        for k in range(nrows):
            iz = oz * g.stride[0] - g.pad_lo[0] + row_kz[k] * g.dilation[0]
            iy = oy * g.stride[1] - g.pad_lo[1] + row_ky[k] * g.dilation[1]
            mz = map_index(iz, g.depth, g.mode)
            my = map_index(iy, g.height, g.mode)
            if mz < 0 or my < 0:
                row_ptr[k] = const_row
            else:
                row_ptr[k] = cached_row(
                    (b * g.depth + mz) * g.height + my, buffers, keys, stamps, ncache,
                    &clock,
                    src + b * g.in_strides[0] + mz * g.in_strides[1] + my * g.in_strides[2],
                    g, xtable, cval)
        for t in range(ntaps):
            tap_ptr[t] = (row_ptr[tap_row[t]] if tap_row[t] >= 0 else zero_row) + tap_offset[t]
        out_row = dst + b * g.out_strides[0] + oz * g.out_strides[1] + oy * g.out_strides[2]
        if direct:
            accumulate_taps(<acc_t*>out_row, tap_ptr, tap_weights, ntaps,
                            g.out_width, g.stride[2])
        else:
            accumulate_taps(acc, tap_ptr, tap_weights, ntaps, g.out_width, g.stride[2])
            store_row(acc, out_row, g.out_dtype, out_step, g.out_width)
    free(scratch)
    return 0


cdef int _correlate_run(const acc_t[:, :, ::1] weights, const char* src, char* dst,
                        RowGeometry* g, acc_t cval, int nthreads) except -1:
    cdef Py_ssize_t kd = weights.shape[0], kh = weights.shape[1], kw = weights.shape[2]
    cdef Py_ssize_t kz, ky, kx, nrows = 0, ntaps = 0, npadded, t, tid
    cdef Py_ssize_t nout_rows = g.nbatch * g.out_depth * g.out_height
    cdef int acc_dtype = DT_FLOAT32 if acc_t is float else DT_FLOAT64
    cdef bint row_has_taps

    # Taps: the nonzero weights, padded to a multiple of TAPS_PER_PASS with
    # zero-weight taps that read a zero row (so a NaN cannot leak in).
    npadded = (kd * kh * kw + TAPS_PER_PASS - 1) // TAPS_PER_PASS * TAPS_PER_PASS
    dtype = np.float32 if acc_t is float else np.float64
    cdef acc_t[::1] tap_weights = np.zeros(npadded, dtype)
    cdef Py_ssize_t[::1] tap_row = np.full(npadded, -1, np.intp)
    cdef Py_ssize_t[::1] tap_offset = np.zeros(npadded, np.intp)
    cdef Py_ssize_t[::1] row_kz = np.zeros(kd * kh, np.intp)
    cdef Py_ssize_t[::1] row_ky = np.zeros(kd * kh, np.intp)
    for kz in range(kd):
        for ky in range(kh):
            row_has_taps = False
            for kx in range(kw):
                if weights[kz, ky, kx] != 0:
                    tap_weights[ntaps] = weights[kz, ky, kx]
                    tap_row[ntaps] = nrows
                    tap_offset[ntaps] = kx * g.dilation[2]
                    ntaps += 1
                    row_has_taps = True
            if row_has_taps:
                row_kz[nrows] = kz
                row_ky[nrows] = ky
                nrows += 1
    ntaps = (ntaps + TAPS_PER_PASS - 1) // TAPS_PER_PASS * TAPS_PER_PASS

    g.padded_width = (g.out_width - 1) * g.stride[2] + g.dilation[2] * (kw - 1) + 1
    g.interior_lo = min(g.pad_lo[2], g.padded_width)
    g.interior_hi = max(min(g.pad_lo[2] + g.width, g.padded_width), g.interior_lo)
    cdef Py_ssize_t[::1] xtable = np.empty(g.padded_width, np.intp)
    fill_index_table(&xtable[0], g.padded_width, g.pad_lo[2], g.width, g.mode)

    nthreads = max(1, min(nthreads, nout_rows))
    cdef int[::1] status = np.zeros(nthreads, np.intc)
    with nogil, parallel(num_threads=nthreads):
        tid = threadid()
        status[tid] = correlate_rows(
            src, dst, g, nout_rows * tid // nthreads, nout_rows * (tid + 1) // nthreads,
            &tap_weights[0], &tap_row[0], &tap_offset[0], ntaps,
            &row_kz[0], &row_ky[0], nrows, &xtable[0], cval, acc_dtype)
    if np.min(np.asarray(status)) < 0:
        raise MemoryError("imgconv: could not allocate the per-thread row buffers")
    return 0


def correlate(cnp.ndarray x, cnp.ndarray out, cnp.ndarray weights, stride, dilation,
              pad_lo, int mode, double cval, int in_dtype, int out_dtype, int nthreads):
    """Correlate ``x`` (B, D, H, W) with ``weights`` (KD, KH, KW) into ``out``.

    Private: ``imgconv._validate`` has already checked and normalised every
    argument (dtype codes, native byte order, element-aligned strides, output
    shape from the geometry, compute-typed C-contiguous weights).
    """
    cdef RowGeometry g
    cdef int i
    g.nbatch = x.shape[0]
    g.depth = x.shape[1]
    g.height = x.shape[2]
    g.width = x.shape[3]
    g.out_depth = out.shape[1]
    g.out_height = out.shape[2]
    g.out_width = out.shape[3]
    for i in range(4):
        g.in_strides[i] = x.strides[i]
        g.out_strides[i] = out.strides[i]
    for i in range(3):
        g.stride[i] = stride[i]
        g.dilation[i] = dilation[i]
        g.pad_lo[i] = pad_lo[i]
    g.mode = mode
    g.in_dtype = in_dtype
    g.out_dtype = out_dtype
    cdef const char* src = <const char*>cnp.PyArray_DATA(x)
    cdef char* dst = <char*>cnp.PyArray_DATA(out)
    if weights.dtype == np.float32:
        _correlate_run[float](weights, src, dst, &g, <float>cval, nthreads)
    else:
        _correlate_run[double](weights, src, dst, &g, cval, nthreads)

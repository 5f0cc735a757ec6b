# Pooling over (batch, D, H, W) arrays: max / min in the array's own dtype
# (optionally with the flat index of the winner, as torch), average and Lp
# in the compute type.  Per output row, the window's source rows are loaded
# into padded buffers and combined element-wise over contiguous memory; one
# strided pass along x then reduces the combined row.

from libc.math cimport fabs, pow, sqrt

cdef enum:
    POOL_MAX = 0
    POOL_MIN = 1
    POOL_AVG = 2
    POOL_LP = 3


cdef struct PoolGeometry:
    Py_ssize_t nbatch, depth, height, width
    Py_ssize_t out_depth, out_height, out_width
    Py_ssize_t in_strides[4]
    Py_ssize_t out_strides[4]
    Py_ssize_t index_strides[4]
    Py_ssize_t size[3]
    Py_ssize_t stride[3]
    Py_ssize_t dilation[3]
    Py_ssize_t pad_lo[3]
    # padded positions at or beyond extent (n + pad_lo + pad_hi) lie outside
    # every window: they only occur with ceil_mode, and are never counted
    Py_ssize_t extent[3]
    Py_ssize_t padded_width
    int mode, op, in_dtype, out_dtype
    double p
    PaddedRow xrow


cdef Py_ssize_t window_rows(const PoolGeometry* g, const char* src, Py_ssize_t b,
                            Py_ssize_t oz, Py_ssize_t oy, const char** rows,
                            int64_t* bases) noexcept nogil:
    """The source rows of the windows of output row (b, oz, oy) in scan
    order, with the flat index of each row's first sample.  Rows of the
    constant padding (mode 'zero') are left out: they hold the op's identity
    (-inf for max, 0 for sums)."""
    cdef Py_ssize_t tz, ty, pz, py, mz, my, n = 0
    for tz in range(g.size[0]):
        pz = oz * g.stride[0] + tz * g.dilation[0]
        if pz >= g.extent[0]:
            break
        mz = map_index(pz - g.pad_lo[0], g.depth, g.mode)
        if mz < 0:
            continue
        for ty in range(g.size[1]):
            py = oy * g.stride[1] + ty * g.dilation[1]
            if py >= g.extent[1]:
                break
            my = map_index(py - g.pad_lo[1], g.height, g.mode)
            if my < 0:
                continue
            rows[n] = src + b * g.in_strides[0] + mz * g.in_strides[1] + my * g.in_strides[2]
            bases[n] = (mz * g.height + my) * g.width
            n += 1
    return n


cdef inline bint beats(src_t value, src_t best, bint is_max) noexcept nogil:
    """torch's rule: a larger (smaller) value or any NaN takes the lead."""
    if src_t is float or src_t is double:
        if value != value:
            return True
    return value > best if is_max else value < best


cdef int pool_extreme_units(const char* src, char* out, char* indices, const PoolGeometry* g,
                            imgconv_work* work, int tid,
                            src_t identity) noexcept nogil:
    """Max or min pooling of the output rows thread ``tid`` takes from
    ``work``, numbered (batch, plane, row); with ``indices`` also the flat input index of each
    result (the first in scan order among equals, the last NaN if any)."""
    cdef Py_ssize_t nwin = g.size[0] * g.size[1]
    cdef Py_ssize_t wp = g.padded_width, ow = g.out_width
    cdef Py_ssize_t in_step = g.in_strides[3] // sizeof(src_t)
    cdef Py_ssize_t out_step = g.out_strides[3] // sizeof(src_t)
    cdef Py_ssize_t u, b, oz, oy, r, nrows, tx, ox, j, xi, sx = g.stride[2], dx = g.dilation[2]
    cdef bint is_max = g.op == POOL_MAX
    cdef bint found
    cdef src_t best, value
    cdef int64_t best_index
    cdef src_t* rowbuf
    cdef src_t* acc
    cdef src_t* res
    cdef src_t* dst
    cdef const src_t* col
    cdef int64_t* index_row
    cdef const char** rows
    cdef int64_t* bases
    cdef char* scratch
    cdef int64_t unit_begin, unit_end
    if not imgconv_work_take(work, tid, &unit_begin, &unit_end):
        return 0
    cdef Py_ssize_t acc_len = wp * ladder_levels(g.size[2])   # room for extreme_row_x
    scratch = <char*>scratch_alloc((nwin * wp + acc_len + ow) * sizeof(src_t)
                            + nwin * (sizeof(char*) + sizeof(int64_t)))
    if scratch == NULL:
        return -1
    rowbuf = <src_t*>scratch            # nwin rows with indices, one otherwise
    acc = rowbuf + nwin * wp
    res = acc + acc_len
    rows = <const char**>(res + ow)
    bases = <int64_t*>(rows + nwin)
    while True:
        for u in range(unit_begin, unit_end):
            b = u // (g.out_depth * g.out_height)
            oz = (u // g.out_height) % g.out_depth
            oy = u % g.out_height
            nrows = window_rows(g, src, b, oz, oy, rows, bases)
            dst = <src_t*>(out + b * g.out_strides[0] + oz * g.out_strides[1] + oy * g.out_strides[2])
            if indices != NULL:
                index_row = <int64_t*>(indices + b * g.index_strides[0] + oz * g.index_strides[1]
                                       + oy * g.index_strides[2])
                for r in range(nrows):
                    load_row_typed(<const src_t*>rows[r], in_step, rowbuf + r * wp, 0, wp, &g.xrow,
                                   identity)
                for ox in range(ow):
                    found = False
                    best = identity
                    best_index = -1
                    for r in range(nrows):
                        for tx in range(g.size[2]):
                            j = ox * sx + tx * dx
                            xi = g.xrow.table[j]
                            if xi < 0:
                                continue
                            value = rowbuf[r * wp + j]
                            if not found or beats(value, best, is_max):
                                best = value
                                best_index = bases[r] + xi
                                found = True
                    dst[ox * out_step] = best
                    index_row[ox * g.index_strides[3] // 8] = best_index
                continue
            if nrows == 0:
                fill_row(acc, identity, wp)
            else:
                load_row_typed(<const src_t*>rows[0], in_step, acc, 0, wp, &g.xrow, identity)
            for r in range(1, nrows):
                load_row_typed(<const src_t*>rows[r], in_step, rowbuf, 0, wp, &g.xrow, identity)
                combine_into(acc, rowbuf, wp, is_max)
            if sx == 1 and dx == 1 and out_step == 1 and 4 <= g.size[2] <= LADDER_MAX_WINDOW:
                # long overlapping windows: log2(size) passes instead of size
                extreme_row_x(dst, acc, ow, g.size[2], is_max)
                continue
            col = acc
            for ox in range(ow):
                res[ox] = col[ox * sx]
            for tx in range(1, g.size[2]):
                col = acc + tx * dx
                if is_max:
                    for ox in range(ow):
                        res[ox] = max2(res[ox], col[ox * sx])
                else:
                    for ox in range(ow):
                        res[ox] = min2(res[ox], col[ox * sx])
            scatter_row(dst, out_step, res, ow)
        if not imgconv_work_take(work, tid, &unit_begin, &unit_end):
            break
    scratch_free(scratch)
    return 0


cdef int pool_sum_units(const char* src, char* out, const PoolGeometry* g,
                        const double* inv_z, const double* inv_y, const double* inv_x,
                        imgconv_work* work, int tid, acc_t* typed) noexcept nogil:
    """Average (sum times the reciprocal counts ``inv_*``, one per output
    position along each axis) or Lp pooling ((sum of |v|**p) ** (1/p)) of
    the output rows thread ``tid`` takes from ``work``."""
    cdef Py_ssize_t nwin = g.size[0] * g.size[1]
    cdef Py_ssize_t wp = g.padded_width, ow = g.out_width
    cdef Py_ssize_t in_step = g.in_strides[3] // itemsize(g.in_dtype)
    cdef Py_ssize_t out_step = g.out_strides[3] // itemsize(g.out_dtype)
    cdef Py_ssize_t u, b, oz, oy, r, nrows, tx, ox, i, sx = g.stride[2], dx = g.dilation[2]
    cdef bint lp = g.op == POOL_LP
    cdef acc_t p = <acc_t>g.p, root = <acc_t>(1.0 / g.p), scale
    cdef acc_t* acc
    cdef acc_t* rowbuf
    cdef acc_t* res
    cdef const acc_t* col
    cdef const char** rows
    cdef int64_t* bases
    cdef char* scratch
    cdef int64_t unit_begin, unit_end
    if not imgconv_work_take(work, tid, &unit_begin, &unit_end):
        return 0
    scratch = <char*>scratch_alloc((2 * wp + ow) * sizeof(acc_t) + nwin * (sizeof(char*) + sizeof(int64_t)))
    if scratch == NULL:
        return -1
    acc = <acc_t*>scratch
    rowbuf = acc + wp
    res = rowbuf + wp
    rows = <const char**>(res + ow)
    bases = <int64_t*>(rows + nwin)
    while True:
        for u in range(unit_begin, unit_end):
            b = u // (g.out_depth * g.out_height)
            oz = (u // g.out_height) % g.out_depth
            oy = u % g.out_height
            nrows = window_rows(g, src, b, oz, oy, rows, bases)
            for i in range(wp):
                acc[i] = 0
            for r in range(nrows):
                load_row(rows[r], g.in_dtype, in_step, rowbuf, 0, wp, &g.xrow, <acc_t>0)
                if not lp:
                    for i in range(wp):
                        acc[i] += rowbuf[i]
                elif g.p == 1:
                    for i in range(wp):
                        acc[i] += fabs(rowbuf[i])
                elif g.p == 2:
                    for i in range(wp):
                        acc[i] += rowbuf[i] * rowbuf[i]
                else:
                    for i in range(wp):
                        acc[i] += <acc_t>pow(fabs(rowbuf[i]), p)
            col = acc
            for ox in range(ow):
                res[ox] = col[ox * sx]
            for tx in range(1, g.size[2]):
                col = acc + tx * dx
                for ox in range(ow):
                    res[ox] += col[ox * sx]
            if not lp:
                scale = <acc_t>(inv_z[oz] * inv_y[oy])
                for ox in range(ow):
                    res[ox] = res[ox] * scale * <acc_t>inv_x[ox]
            elif g.p == 2:
                for ox in range(ow):
                    res[ox] = sqrt(res[ox])
            elif g.p != 1:
                for ox in range(ow):
                    res[ox] = <acc_t>pow(res[ox], root)
            store_row(res, out + b * g.out_strides[0] + oz * g.out_strides[1] + oy * g.out_strides[2],
                      g.out_dtype, out_step, ow)
        if not imgconv_work_take(work, tid, &unit_begin, &unit_end):
            break
    scratch_free(scratch)
    return 0


cdef int _pool_extreme_run(src_t* typed, const char* src, char* out, char* indices,
                           PoolGeometry* g, object identity, int nthreads) except -1:
    cdef Py_ssize_t nunits = g.nbatch * g.out_depth * g.out_height, tid
    nthreads = max(1, min(nthreads, nunits))
    cdef int* status
    cdef src_t value = identity
    cdef imgconv_work work
    work_storage = share_work(&work, nthreads, nunits, 1, &status)
    with nogil, parallel(num_threads=nthreads):
        tid = threadid()
        status[tid] = pool_extreme_units(src, out, indices, g, &work,
                                         tid, value)
    check_scratch(status, nthreads)
    return 0


cdef int _pool_sum_run(acc_t* typed, const char* src, char* out, PoolGeometry* g,
                       const double[::1] inv_z, const double[::1] inv_y,
                       const double[::1] inv_x, int nthreads) except -1:
    cdef Py_ssize_t nunits = g.nbatch * g.out_depth * g.out_height, tid
    nthreads = max(1, min(nthreads, nunits))
    cdef int* status
    cdef imgconv_work work
    work_storage = share_work(&work, nthreads, nunits, 1, &status)
    with nogil, parallel(num_threads=nthreads):
        tid = threadid()
        status[tid] = pool_sum_units(src, out, g, &inv_z[0], &inv_y[0], &inv_x[0],
                                     &work, tid, typed)
    check_scratch(status, nthreads)
    return 0


cdef enum:
    # pool()'s x tables up to this many entries live on the stack
    SMALL_XTABLE = 512


def pool(cnp.ndarray x, cnp.ndarray out, indices, size, stride, dilation, pad_lo, extent,
         int op, int mode, double p, object identity, inv_z, inv_y, inv_x, int in_dtype,
         int out_dtype, bint double_precision, int nthreads):
    """Pool (B, D, H, W) ``x`` into ``out`` (B, oD, oH, oW).

    Window of output o along an axis: padded positions o*stride + t*dilation
    (t < size) below ``extent``, position j reading sample j - pad_lo.
    ``op`` POOL_MAX / POOL_MIN run in x's dtype (``out`` has the same dtype;
    ``identity`` fills constant padding; ``indices``, an int64 array shaped
    like ``out`` or None, receives flat input indices), POOL_AVG / POOL_LP in
    float32 or float64 (``double_precision``) and store to any ``out`` dtype;
    averages multiply by inv_z[oz] * inv_y[oy] * inv_x[ox].
    """
    cdef PoolGeometry g
    cdef int i
    cdef cnp.ndarray index_array
    cdef char* index_data = NULL
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
        g.index_strides[i] = 0
    for i in range(3):
        g.size[i] = size[i]
        g.stride[i] = stride[i]
        g.dilation[i] = dilation[i]
        g.pad_lo[i] = pad_lo[i]
        g.extent[i] = extent[i]
    g.mode = mode
    g.op = op
    g.p = p
    g.in_dtype = in_dtype
    g.out_dtype = out_dtype
    g.padded_width = (g.out_width - 1) * g.stride[2] + (g.size[2] - 1) * g.dilation[2] + 1
    # the x table of a narrow image on the stack: an array and its
    # memoryview cost ~1,500 instructions, a tenth of a 16^2 call's entry
    cdef Py_ssize_t small_xtable[SMALL_XTABLE]
    cdef Py_ssize_t* xtable = small_xtable
    xtable_array = None
    if g.padded_width > SMALL_XTABLE:
        xtable_array = np.empty(g.padded_width, np.intp)
        xtable = <Py_ssize_t*>cnp.PyArray_DATA(xtable_array)
    set_padded_row(&g.xrow, xtable, g.padded_width, g.pad_lo[2], g.width, mode)
    for i in range(g.extent[2], g.padded_width):
        xtable[i] = -1
    if indices is not None:
        index_array = indices
        index_data = <char*>cnp.PyArray_DATA(index_array)
        for i in range(4):
            g.index_strides[i] = index_array.strides[i]
    cdef const char* src = <const char*>cnp.PyArray_DATA(x)
    cdef char* dst = <char*>cnp.PyArray_DATA(out)
    cdef const double[::1] scale_z, scale_y, scale_x
    if op == POOL_AVG or op == POOL_LP:
        # only here: three memoryviews cost ~4,500 instructions per call
        scale_z, scale_y, scale_x = inv_z, inv_y, inv_x
        if double_precision:
            _pool_sum_run(<double*>NULL, src, dst, &g, scale_z, scale_y, scale_x, nthreads)
        else:
            _pool_sum_run(<float*>NULL, src, dst, &g, scale_z, scale_y, scale_x, nthreads)
    elif in_dtype == DT_UINT8:
        _pool_extreme_run(<uint8_t*>NULL, src, dst, index_data, &g, identity, nthreads)
    elif in_dtype == DT_UINT16:
        _pool_extreme_run(<uint16_t*>NULL, src, dst, index_data, &g, identity, nthreads)
    elif in_dtype == DT_INT16:
        _pool_extreme_run(<int16_t*>NULL, src, dst, index_data, &g, identity, nthreads)
    elif in_dtype == DT_INT32:
        _pool_extreme_run(<int32_t*>NULL, src, dst, index_data, &g, identity, nthreads)
    elif in_dtype == DT_INT64:
        _pool_extreme_run(<int64_t*>NULL, src, dst, index_data, &g, identity, nthreads)
    elif in_dtype == DT_UINT64:
        _pool_extreme_run(<uint64_t*>NULL, src, dst, index_data, &g, identity, nthreads)
    elif in_dtype == DT_FLOAT32:
        _pool_extreme_run(<float*>NULL, src, dst, index_data, &g, identity, nthreads)
    else:
        _pool_extreme_run(<double*>NULL, src, dst, index_data, &g, identity, nthreads)

# Box (uniform) filtering by running sums along one axis of a
# (batch, D, H, W) array: the cost per sample does not depend on the window
# size.  Sums run in double so long windows do not drift; as in
# scipy.ndimage.uniform_filter, a NaN or inf entering the window spreads along
# the rest of the line.

cdef extern from "box_rows.h":
    Py_ssize_t imgconv_box_x4(const float* s0, const float* s1, const float* s2,
                              const float* s3, float* d0, float* d1, float* d2, float* d3,
                              Py_ssize_t x_lo, Py_ssize_t x_hi, Py_ssize_t size, Py_ssize_t off,
                              double* sums, double inv) noexcept nogil


cdef enum:
    BOX_COLUMN_BLOCK = 512   # columns per work unit for passes along outer axes
    BOX_MIN_BLOCK = 64       # the narrowest block when narrower ones share the work better


cdef void box_line_x(const char* src, int in_dtype, Py_ssize_t in_step, char* dst,
                     int out_dtype, Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t size,
                     const PaddedRow* row, double cval, double* padded,
                     double* line) noexcept nogil:
    """One line along the contiguous axis: pad it, then slide the window."""
    cdef Py_ssize_t x
    cdef double total = 0, inv = 1.0 / size
    load_row(src, in_dtype, in_step, padded, 0, n + size - 1, row, cval)
    for x in range(size):
        total += padded[x]
    line[0] = total * inv
    for x in range(1, n):
        total += padded[x + size - 1] - padded[x - 1]
        line[x] = total * inv
    store_row(line, dst, out_dtype, out_step, n)


cdef void box_lines_x4(const char** src, int in_dtype, Py_ssize_t in_step, char** dst,
                       int out_dtype, Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t size,
                       const PaddedRow* row, double cval, double* padded, Py_ssize_t buf_len,
                       double* line) noexcept nogil:
    """``box_line_x`` on four lines at once, with the same sums: four
    independent chains of dependent additions interleaved.  Measured on
    float32 (before box_lines_x4_f32 took those over): no faster than one
    line at a time, the loads, conversions and stores bound it; kept for
    the other dtypes, where it does no harm."""
    cdef Py_ssize_t x, j
    cdef double t0 = 0, t1 = 0, t2 = 0, t3 = 0, inv = 1.0 / size
    cdef double* p0 = padded
    cdef double* p1 = padded + buf_len
    cdef double* p2 = padded + 2 * buf_len
    cdef double* p3 = padded + 3 * buf_len
    cdef double* l0 = line
    cdef double* l1 = line + buf_len
    cdef double* l2 = line + 2 * buf_len
    cdef double* l3 = line + 3 * buf_len
    for j in range(4):
        load_row(src[j], in_dtype, in_step, padded + j * buf_len, 0, n + size - 1, row, cval)
    for x in range(size):
        t0 += p0[x]
        t1 += p1[x]
        t2 += p2[x]
        t3 += p3[x]
    l0[0] = t0 * inv
    l1[0] = t1 * inv
    l2[0] = t2 * inv
    l3[0] = t3 * inv
    for x in range(1, n):
        t0 += p0[x + size - 1] - p0[x - 1]
        t1 += p1[x + size - 1] - p1[x - 1]
        t2 += p2[x + size - 1] - p2[x - 1]
        t3 += p3[x + size - 1] - p3[x - 1]
        l0[x] = t0 * inv
        l1[x] = t1 * inv
        l2[x] = t2 * inv
        l3[x] = t3 * inv
    for j in range(4):
        store_row(line + j * buf_len, dst[j], out_dtype, out_step, n)


cdef void box_columns(const char* src, Py_ssize_t in_line_stride, int in_dtype,
                      Py_ssize_t in_step, char* dst, Py_ssize_t out_line_stride,
                      int out_dtype, Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t width,
                      Py_ssize_t size, Py_ssize_t pad_lo, int mode, double cval,
                      double* total, double* incoming, double* outgoing,
                      double* line) noexcept nogil:
    """``width`` columns at once along an outer axis of length ``n``: the
    window sum is a row of doubles, updated by whole contiguous rows."""
    cdef Py_ssize_t i, x, m
    cdef double inv = 1.0 / size
    for x in range(width):
        total[x] = 0
    for i in range(size):
        load_source_row(src, in_line_stride, in_dtype, in_step, map_index(i - pad_lo, n, mode),
                        width, cval, incoming)
        for x in range(width):
            total[x] += incoming[x]
    for i in range(n):
        if i > 0:
            load_source_row(src, in_line_stride, in_dtype, in_step,
                            map_index(i - pad_lo + size - 1, n, mode), width, cval, incoming)
            load_source_row(src, in_line_stride, in_dtype, in_step,
                            map_index(i - pad_lo - 1, n, mode), width, cval, outgoing)
            for x in range(width):
                total[x] += incoming[x] - outgoing[x]
        for x in range(width):
            line[x] = total[x] * inv
        store_row(line, dst + i * out_line_stride, out_dtype, out_step, width)


cdef inline void load_source_row(const char* src, Py_ssize_t line_stride, int dtype,
                                 Py_ssize_t step, Py_ssize_t index, Py_ssize_t width,
                                 double cval, double* buf) noexcept nogil:
    """buf = row ``index`` of a line of rows (index -1: the constant cval)."""
    cdef Py_ssize_t x
    cdef PaddedRow unpadded
    if index < 0:
        for x in range(width):
            buf[x] = cval
    else:
        unpadded.pad_lo = 0
        unpadded.interior_lo = 0
        unpadded.interior_hi = width
        unpadded.table = NULL
        load_row(src + index * line_stride, dtype, step, buf, 0, width, &unpadded, cval)


cdef inline double box_padded_at(const double* padded, const float* src, Py_ssize_t j,
                                 const PaddedRow* row) noexcept nogil:
    """Padded position j of a float32 row: the source in place inside, the
    border copies in ``padded`` outside."""
    if j < row.interior_lo or j >= row.interior_hi:
        return padded[j]
    return <double>src[j - row.pad_lo]


cdef void box_lines_x4_f32(const char** src, char** dst, Py_ssize_t n, Py_ssize_t size,
                           const PaddedRow* row, double cval, double* padded,
                           Py_ssize_t buf_len) noexcept nogil:
    """``box_lines_x4`` for contiguous float32 rows in and out, with the same
    sums: the interior is read in place and the means stored as they come
    (no double copies of the rows; only the borders are padded).  The
    interior runs four rows to a vector in AVX builds (box_rows.h).  One
    thread, CPU time, same process: the x pass of 256**2 50 -> 28 us,
    512**2 191 -> 101 us, 1024**2 727 -> 371 us (the scalar version of this
    function alone gained nothing)."""
    cdef Py_ssize_t x, j, x_lo, x_hi, x_mid, length = n + size - 1
    cdef double sums[4]
    cdef Py_ssize_t lo = row.interior_lo, hi = row.interior_hi, off = row.pad_lo
    cdef double t0 = 0, t1 = 0, t2 = 0, t3 = 0, inv = 1.0 / size
    cdef const float* s0 = <const float*>src[0]
    cdef const float* s1 = <const float*>src[1]
    cdef const float* s2 = <const float*>src[2]
    cdef const float* s3 = <const float*>src[3]
    cdef float* d0 = <float*>dst[0]
    cdef float* d1 = <float*>dst[1]
    cdef float* d2 = <float*>dst[2]
    cdef float* d3 = <float*>dst[3]
    cdef double* p0 = padded
    cdef double* p1 = padded + buf_len
    cdef double* p2 = padded + 2 * buf_len
    cdef double* p3 = padded + 3 * buf_len
    for j in range(4):
        load_row(src[j], DT_FLOAT32, 1, padded + j * buf_len, 0, lo, row, cval)
        load_row(src[j], DT_FLOAT32, 1, padded + j * buf_len + hi, hi, length, row, cval)
    for x in range(size):
        t0 += box_padded_at(p0, s0, x, row)
        t1 += box_padded_at(p1, s1, x, row)
        t2 += box_padded_at(p2, s2, x, row)
        t3 += box_padded_at(p3, s3, x, row)
    d0[0] = <float>(t0 * inv)
    d1[0] = <float>(t1 * inv)
    d2[0] = <float>(t2 * inv)
    d3[0] = <float>(t3 * inv)
    # outputs x_lo ... x_hi - 1 read positions x - 1 and x + size - 1 inside
    x_lo = min(max(1, lo + 1), n)
    x_hi = max(min(n, hi - size + 1), x_lo)
    for x in range(1, x_lo):
        t0 += box_padded_at(p0, s0, x + size - 1, row) - box_padded_at(p0, s0, x - 1, row)
        t1 += box_padded_at(p1, s1, x + size - 1, row) - box_padded_at(p1, s1, x - 1, row)
        t2 += box_padded_at(p2, s2, x + size - 1, row) - box_padded_at(p2, s2, x - 1, row)
        t3 += box_padded_at(p3, s3, x + size - 1, row) - box_padded_at(p3, s3, x - 1, row)
        d0[x] = <float>(t0 * inv)
        d1[x] = <float>(t1 * inv)
        d2[x] = <float>(t2 * inv)
        d3[x] = <float>(t3 * inv)
    sums[0], sums[1], sums[2], sums[3] = t0, t1, t2, t3
    x_mid = imgconv_box_x4(s0, s1, s2, s3, d0, d1, d2, d3, x_lo, x_hi, size, off, sums, inv)
    t0, t1, t2, t3 = sums[0], sums[1], sums[2], sums[3]
    for x in range(x_mid, x_hi):
        t0 += <double>s0[x + size - 1 - off] - <double>s0[x - 1 - off]
        t1 += <double>s1[x + size - 1 - off] - <double>s1[x - 1 - off]
        t2 += <double>s2[x + size - 1 - off] - <double>s2[x - 1 - off]
        t3 += <double>s3[x + size - 1 - off] - <double>s3[x - 1 - off]
        d0[x] = <float>(t0 * inv)
        d1[x] = <float>(t1 * inv)
        d2[x] = <float>(t2 * inv)
        d3[x] = <float>(t3 * inv)
    for x in range(x_hi, n):
        t0 += box_padded_at(p0, s0, x + size - 1, row) - box_padded_at(p0, s0, x - 1, row)
        t1 += box_padded_at(p1, s1, x + size - 1, row) - box_padded_at(p1, s1, x - 1, row)
        t2 += box_padded_at(p2, s2, x + size - 1, row) - box_padded_at(p2, s2, x - 1, row)
        t3 += box_padded_at(p3, s3, x + size - 1, row) - box_padded_at(p3, s3, x - 1, row)
        d0[x] = <float>(t0 * inv)
        d1[x] = <float>(t1 * inv)
        d2[x] = <float>(t2 * inv)
        d3[x] = <float>(t3 * inv)


cdef void box_x_units(Py_ssize_t first, Py_ssize_t end, const char* src, char* dst,
                      const Py_ssize_t* shape, const Py_ssize_t* in_strides,
                      const Py_ssize_t* out_strides, Py_ssize_t nother, int in_dtype,
                      Py_ssize_t in_step, int out_dtype, Py_ssize_t out_step, Py_ssize_t n,
                      Py_ssize_t size, const PaddedRow* row, double cval, double* scratch,
                      Py_ssize_t buf_len) noexcept nogil:
    """Lines (rows) ``first ... end - 1`` of an x pass, four at a time."""
    cdef const char* srcs[4]
    cdef char* dsts[4]
    cdef Py_ssize_t line = first, j, k
    while line < end:
        k = 4 if end - line >= 4 else 1
        for j in range(k):
            # lines are rows (b, z, y)
            srcs[j] = (src + ((line + j) // nother) * in_strides[0]
                       + (((line + j) % nother) // shape[2]) * in_strides[1]
                       + ((line + j) % shape[2]) * in_strides[2])
            dsts[j] = (dst + ((line + j) // nother) * out_strides[0]
                       + (((line + j) % nother) // shape[2]) * out_strides[1]
                       + ((line + j) % shape[2]) * out_strides[2])
        if k == 4 and in_dtype == DT_FLOAT32 and in_step == 1 and out_dtype == DT_FLOAT32 \
                and out_step == 1:
            box_lines_x4_f32(srcs, dsts, n, size, row, cval, scratch, buf_len)
        elif k == 4:
            box_lines_x4(srcs, in_dtype, in_step, dsts, out_dtype, out_step, n, size, row, cval,
                         scratch, buf_len, scratch + 4 * buf_len)
        else:
            box_line_x(srcs[0], in_dtype, in_step, dsts[0], out_dtype, out_step, n, size, row,
                       cval, scratch, scratch + buf_len)
        line += k


cdef inline const float* f32_source_row(const char* src, Py_ssize_t line_stride,
                                        Py_ssize_t index, const float* cval_row) noexcept nogil:
    """Row ``index`` of a line of float32 rows (index -1: a row of cval)."""
    return cval_row if index < 0 else <const float*>(src + index * line_stride)


cdef void box_columns_f32(const char* src, Py_ssize_t in_line_stride, char* dst,
                          Py_ssize_t out_line_stride, int out_dtype, Py_ssize_t out_step,
                          Py_ssize_t n, Py_ssize_t width, Py_ssize_t size, Py_ssize_t pad_lo,
                          int mode, const float* cval_row, double* total,
                          double* line) noexcept nogil:
    """``box_columns`` for contiguous float32 rows, with the same sums: reads
    the rows in place (no double copies of the entering and leaving rows) and,
    for a contiguous float32 output, updates the sums and stores in one loop.
    One thread, 1024**2 float32 (same process, loaded machine): 0.55-1.5 ms
    before, 0.31-0.42 ms after."""
    cdef Py_ssize_t i, x
    cdef double inv = 1.0 / size
    cdef const float* incoming
    cdef const float* outgoing
    cdef float* out_row
    cdef bint fused = out_dtype == DT_FLOAT32 and out_step == 1
    for x in range(width):
        total[x] = 0
    for i in range(size):
        incoming = f32_source_row(src, in_line_stride, map_index(i - pad_lo, n, mode), cval_row)
        for x in range(width):
            total[x] += <double>incoming[x]
    for i in range(n):
        if i > 0:
            incoming = f32_source_row(src, in_line_stride,
                                      map_index(i - pad_lo + size - 1, n, mode), cval_row)
            outgoing = f32_source_row(src, in_line_stride, map_index(i - pad_lo - 1, n, mode),
                                      cval_row)
            if fused:
                out_row = <float*>(dst + i * out_line_stride)
                for x in range(width):
                    total[x] += <double>incoming[x] - <double>outgoing[x]
                    out_row[x] = <float>(total[x] * inv)
                continue
            for x in range(width):
                total[x] += <double>incoming[x] - <double>outgoing[x]
        for x in range(width):
            line[x] = total[x] * inv
        store_row(line, dst + i * out_line_stride, out_dtype, out_step, width)


def box_pass(cnp.ndarray x, cnp.ndarray out, int axis, Py_ssize_t size, Py_ssize_t pad_lo,
             int mode, double cval, int in_dtype, int out_dtype, int nthreads):
    """Mean over ``size`` samples along ``axis`` (1, 2 or 3) of (B, D, H, W) ``x``.

    Window of output i: input samples i - pad_lo ... i - pad_lo + size - 1.
    """
    cdef Py_ssize_t shape[4]
    cdef Py_ssize_t in_strides[4]
    cdef Py_ssize_t out_strides[4]
    cdef Py_ssize_t i, n, lines, unit, nunits, nblocks, width, x0, line, tid
    cdef Py_ssize_t in_item = x.itemsize, out_item = out.itemsize
    cdef const char* src = <const char*>cnp.PyArray_DATA(x)
    cdef char* dst = <char*>cnp.PyArray_DATA(out)
    cdef double* scratch
    cdef const char* line_src
    cdef char* line_dst
    for i in range(4):
        shape[i] = x.shape[i]
        in_strides[i] = x.strides[i]
        out_strides[i] = out.strides[i]
    n = shape[axis]
    cdef Py_ssize_t[::1] table = np.empty(n + size, np.intp)
    cdef PaddedRow row
    set_padded_row(&row, &table[0], n + size - 1, pad_lo, n, mode)
    # The lines along `axis`, numbered over the other outer axes.
    cdef Py_ssize_t other = 1 if axis != 1 else 2
    cdef Py_ssize_t nother = shape[other] if axis != 3 else shape[1] * shape[2]
    lines = shape[0] * nother
    # Column blocks: BOX_COLUMN_BLOCK, or narrower (down to BOX_MIN_BLOCK) so
    # that the threads get about four blocks each: a 256**2 or 512**2 image
    # was one block, so its y pass ran on one thread.  Each column's sums are
    # the same whatever the block, so the result does not change.
    cdef Py_ssize_t block = BOX_COLUMN_BLOCK, wanted
    if axis != 3:
        wanted = (4 * nthreads + lines - 1) // lines
        if wanted > 1:
            block = min(BOX_COLUMN_BLOCK,
                        max(BOX_MIN_BLOCK, ((shape[3] + wanted - 1) // wanted + 15) // 16 * 16))
    nblocks = 1 if axis == 3 else (shape[3] + block - 1) // block
    nunits = (lines if axis == 3 else lines * nblocks)
    nthreads = max(1, min(nthreads, nunits))
    cdef int* status
    cdef Py_ssize_t buf_len = max(n + size, BOX_COLUMN_BLOCK)
    cdef float* cval_row
    # float32 rows are read in place; a zero padding whose cval float32 does
    # not hold exactly takes the double rows
    cdef bint f32_rows = (in_dtype == DT_FLOAT32 and in_strides[3] == in_item
                          and (mode != MODE_ZERO or <double><float>cval == cval))
    cdef imgconv_work work
    cdef int64_t first_unit, end_unit
    # rows of an x pass are taken four at a time (box_lines_x4)
    work_storage = share_work(&work, nthreads, nunits, 4 if axis == 3 else 1, &status)
    with nogil, parallel(num_threads=nthreads):
        tid = threadid()
        scratch = <double*>scratch_alloc(8 * buf_len * sizeof(double))
        if scratch == NULL:
            status[tid] = -1
        else:
            # assigned here, so each thread has its own
            first_unit = end_unit = 0
            while imgconv_work_take(&work, tid, &first_unit, &end_unit):
                if axis == 3:
                    box_x_units(first_unit, end_unit, src, dst, shape, in_strides, out_strides,
                                nother, in_dtype, in_strides[3] // in_item, out_dtype,
                                out_strides[3] // out_item, n, size, &row, cval, scratch, buf_len)
                    continue
                for unit in range(first_unit, end_unit):
                    line = unit // nblocks
                    x0 = (unit % nblocks) * block
                    width = min(block, shape[3] - x0)
                    line_src = (src + (line // nother) * in_strides[0]
                                + (line % nother) * in_strides[other] + x0 * in_strides[3])
                    line_dst = (dst + (line // nother) * out_strides[0]
                                + (line % nother) * out_strides[other] + x0 * out_strides[3])
                    if f32_rows:
                        cval_row = <float*>(scratch + 2 * buf_len)
                        for i in range(width):
                            cval_row[i] = <float>cval
                        box_columns_f32(line_src, in_strides[axis], line_dst, out_strides[axis],
                                        out_dtype, out_strides[3] // out_item, n, width, size,
                                        pad_lo, mode, cval_row, scratch, scratch + buf_len)
                    else:
                        box_columns(line_src, in_strides[axis], in_dtype, in_strides[3] // in_item,
                                    line_dst, out_strides[axis], out_dtype, out_strides[3] // out_item,
                                    n, width, size, pad_lo, mode, cval, scratch, scratch + buf_len,
                                    scratch + 2 * buf_len, scratch + 3 * buf_len)
            scratch_free(scratch)
    check_scratch(status, nthreads)

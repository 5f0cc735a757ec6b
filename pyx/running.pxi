# Box (uniform) filtering by running sums along one axis of a
# (batch, D, H, W) array: the cost per sample does not depend on the window
# size.  Sums run in double so long windows do not drift; as in
# scipy.ndimage.uniform_filter, a NaN or inf entering the window spreads along
# the rest of the line.

cdef enum:
    BOX_COLUMN_BLOCK = 512   # columns per work unit for passes along outer axes


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
    nblocks = 1 if axis == 3 else (shape[3] + BOX_COLUMN_BLOCK - 1) // BOX_COLUMN_BLOCK
    nunits = (lines if axis == 3 else lines * nblocks)
    nthreads = max(1, min(nthreads, nunits))
    cdef int* status
    cdef Py_ssize_t buf_len = max(n + size, BOX_COLUMN_BLOCK)
    cdef imgconv_work work
    cdef int64_t first_unit, end_unit
    work_storage = share_work(&work, nthreads, nunits, 1, &status)
    with nogil, parallel(num_threads=nthreads):
        tid = threadid()
        scratch = <double*>scratch_alloc(4 * buf_len * sizeof(double))
        if scratch == NULL:
            status[tid] = -1
        else:
            # assigned here, so each thread has its own
            first_unit = end_unit = 0
            while imgconv_work_take(&work, tid, &first_unit, &end_unit):
                for unit in range(first_unit, end_unit):
                    line = unit // nblocks
                    if axis == 3:
                        # lines are rows (b, z, y)
                        line_src = (src + (line // nother) * in_strides[0]
                                    + ((line % nother) // shape[2]) * in_strides[1]
                                    + (line % shape[2]) * in_strides[2])
                        line_dst = (dst + (line // nother) * out_strides[0]
                                    + ((line % nother) // shape[2]) * out_strides[1]
                                    + (line % shape[2]) * out_strides[2])
                        box_line_x(line_src, in_dtype, in_strides[3] // in_item, line_dst, out_dtype,
                                   out_strides[3] // out_item, n, size, &row, cval,
                                   scratch, scratch + buf_len)
                    else:
                        x0 = (unit % nblocks) * BOX_COLUMN_BLOCK
                        width = min(BOX_COLUMN_BLOCK, shape[3] - x0)
                        line_src = (src + (line // nother) * in_strides[0]
                                    + (line % nother) * in_strides[other] + x0 * in_strides[3])
                        line_dst = (dst + (line // nother) * out_strides[0]
                                    + (line % nother) * out_strides[other] + x0 * out_strides[3])
                        box_columns(line_src, in_strides[axis], in_dtype, in_strides[3] // in_item,
                                    line_dst, out_strides[axis], out_dtype, out_strides[3] // out_item,
                                    n, width, size, pad_lo, mode, cval, scratch, scratch + buf_len,
                                    scratch + 2 * buf_len, scratch + 3 * buf_len)
            scratch_free(scratch)
    check_scratch(status, nthreads)

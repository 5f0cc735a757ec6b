# Gradient magnitude sqrt(sum over axes a of d_a(x)**2) in one sweep, where
# d_a is a 3-tap derivative along axis a and a 3-tap smoothing along every
# other filtered axis (Sobel, Prewitt, Scharr).  Computed one axis at a time
# it costs a separable correlation per axis and four more passes over the
# result (square, add, square root); here every output row is computed from
# the padded source rows its 3 x 3 (x 3) window reads, held in the row cache
# of correlate.pxi, and written once.
#
# Per output row and axis a: the outer taps (the product of the z and y
# factors, zero taps skipped as the separable passes skip them) combine the
# cached rows into a staging row, whose x taps give d_a; the squares of the
# d_a are summed and their square root stored.  All inner loops run over
# contiguous rows (weighted_sum.h and one loop the compiler vectorises).


from libc.math cimport sqrt, sqrtf


cdef enum:
    # filtered axes and taps per factor
    GRADIENT_MAX_RANK = 3
    GRADIENT_TAPS = 3
    # rows an output row reads: 3 x 3 for a volume
    GRADIENT_MAX_ROWS = 9


cdef struct GradientTaps:
    Py_ssize_t rank
    # per axis a (0 = the first filtered axis, rank - 1 = x): the outer taps
    # (row index into the rows an output row reads, weight) ...
    Py_ssize_t nouter[GRADIENT_MAX_RANK]
    Py_ssize_t outer_row[GRADIENT_MAX_RANK][GRADIENT_MAX_ROWS]
    double outer_weight[GRADIENT_MAX_RANK][GRADIENT_MAX_ROWS]
    # ... and the x taps (offset along the padded row, weight)
    Py_ssize_t nx[GRADIENT_MAX_RANK]
    Py_ssize_t x_offset[GRADIENT_MAX_RANK][GRADIENT_TAPS]
    double x_weight[GRADIENT_MAX_RANK][GRADIENT_TAPS]


cdef void set_gradient_taps(GradientTaps* taps, Py_ssize_t rank, const double* deriv,
                            const double* smooth) noexcept:
    """The nonzero taps of every axis's derivative kernel: ``deriv`` along
    the axis, ``smooth`` along the others.  Rows an output row reads are
    numbered kz * 3 + ky for a volume, ky for an image, 0 for a line."""
    cdef Py_ssize_t a, kz, ky, kx, n
    cdef Py_ssize_t kd = GRADIENT_TAPS if rank == 3 else 1
    cdef Py_ssize_t kh = GRADIENT_TAPS if rank >= 2 else 1
    cdef double wz, wy, w
    taps.rank = rank
    for a in range(rank):
        n = 0
        for kz in range(kd):
            # axis a of a volume: 0 is z, 1 is y; of an image: 0 is y
            wz = 1.0 if kd == 1 else (deriv[kz] if a == 0 else smooth[kz])
            for ky in range(kh):
                wy = 1.0 if kh == 1 else (deriv[ky] if a == rank - 2 else smooth[ky])
                w = wz * wy
                if w != 0:
                    taps.outer_row[a][n] = kz * kh + ky
                    taps.outer_weight[a][n] = w
                    n += 1
        taps.nouter[a] = n
        n = 0
        for kx in range(GRADIENT_TAPS):
            w = deriv[kx] if a == rank - 1 else smooth[kx]
            if w != 0:
                taps.x_offset[a][n] = kx
                taps.x_weight[a][n] = w
                n += 1
        taps.nx[a] = n


cdef inline void sum_of_squares_root(acc_t* out, acc_t* const* terms, Py_ssize_t nterms,
                                     Py_ssize_t n) noexcept nogil:
    """out[i] = sqrt(sum over t of terms[t][i]**2): squares summed in axis
    order, as the axis-by-axis computation sums them."""
    cdef Py_ssize_t i
    cdef const acc_t* t0 = terms[0]
    cdef const acc_t* t1
    cdef const acc_t* t2
    # sqrtf for float rows: sqrt would widen every value to double
    if nterms == 1:
        for i in range(n):
            out[i] = sqrtf(t0[i] * t0[i]) if acc_t is float else sqrt(t0[i] * t0[i])
    elif nterms == 2:
        t1 = terms[1]
        for i in range(n):
            if acc_t is float:
                out[i] = sqrtf(t0[i] * t0[i] + t1[i] * t1[i])
            else:
                out[i] = sqrt(t0[i] * t0[i] + t1[i] * t1[i])
    else:
        t1 = terms[1]
        t2 = terms[2]
        for i in range(n):
            if acc_t is float:
                out[i] = sqrtf(t0[i] * t0[i] + t1[i] * t1[i] + t2[i] * t2[i])
            else:
                out[i] = sqrt(t0[i] * t0[i] + t1[i] * t1[i] + t2[i] * t2[i])


cdef int gradient_units(const char* src, char* dst, const RowGeometry* g, imgconv_work* work,
                        int tid, const GradientTaps* taps, acc_t cval,
                        int acc_dtype) noexcept nogil:
    """The output rows of the work units thread ``tid`` takes from ``work``
    (units numbered as correlate_units numbers them: batch, strip, tile,
    plane).  Returns 0, or -1 if the scratch could not be allocated."""
    cdef Py_ssize_t rank = taps.rank
    cdef Py_ssize_t kd = GRADIENT_TAPS if rank == 3 else 1
    cdef Py_ssize_t kh = GRADIENT_TAPS if rank >= 2 else 1
    cdef Py_ssize_t nrows = kd * kh
    cdef Py_ssize_t wp = max(g.strip_padded, g.strip_width)
    cdef Py_ssize_t nslots = g.cache_slots
    cdef Py_ssize_t table_size = 1
    cdef Py_ssize_t units_per_strip = g.ntiles * g.out_depth
    cdef Py_ssize_t units_per_batch = g.nstrips * units_per_strip
    cdef Py_ssize_t u, b, strip, tile, oz, oy, oy_end, x0, width, start, stop, k, a, t
    cdef Py_ssize_t iz, iy, mz, my, i
    cdef bint direct = g.out_dtype == acc_dtype and g.out_strides[3] == sizeof(acc_t)
    cdef Py_ssize_t out_step = g.out_strides[3] // itemsize(g.out_dtype)
    cdef int64_t unit_begin, unit_end
    cdef RowCache cache
    cdef char* scratch
    cdef char* out_row
    cdef acc_t* const_row
    cdef acc_t* acc
    cdef acc_t* staged      # rank staging rows of wp values
    cdef acc_t* terms       # rank rows of wp values: d_a of the output row
    cdef acc_t** row_ptr
    cdef acc_t** tap_ptr
    cdef acc_t** term_ptr
    cdef acc_t* source
    cdef acc_t outer_w[GRADIENT_MAX_RANK][GRADIENT_MAX_ROWS]
    cdef acc_t x_w[GRADIENT_MAX_RANK][GRADIENT_TAPS]
    if not imgconv_work_take(work, tid, &unit_begin, &unit_end):
        return 0
    while table_size < 4 * nslots:
        table_size *= 2
    scratch = <char*>scratch_alloc((nslots + 2 + 2 * rank) * wp * sizeof(acc_t)
                                   + (nrows + GRADIENT_MAX_ROWS + rank) * sizeof(acc_t*)
                                   + 2 * nslots * sizeof(int64_t) + table_size * sizeof(int32_t))
    if scratch == NULL:
        return -1
    cache.buffers = scratch
    const_row = <acc_t*>scratch + nslots * wp
    acc = const_row + wp
    staged = acc + wp
    terms = staged + rank * wp
    row_ptr = <acc_t**>(terms + rank * wp)
    tap_ptr = row_ptr + nrows
    term_ptr = tap_ptr + GRADIENT_MAX_ROWS
    cache.keys = <int64_t*>(term_ptr + rank)
    cache.last_used = cache.keys + nslots
    cache.table = <int32_t*>(cache.last_used + nslots)
    cache.table_mask = table_size - 1
    cache.generation = 0
    cache.hand = 0
    for i in range(wp):
        const_row[i] = cval
    for i in range(nslots):
        cache.keys[i] = -1
        cache.last_used[i] = -1
    for i in range(table_size):
        cache.table[i] = -1
    for a in range(rank):
        term_ptr[a] = terms + a * wp
        for t in range(taps.nouter[a]):
            outer_w[a][t] = <acc_t>taps.outer_weight[a][t]
        for t in range(taps.nx[a]):
            x_w[a][t] = <acc_t>taps.x_weight[a][t]

    while True:
        for u in range(unit_begin, unit_end):
            b = u // units_per_batch
            strip = (u % units_per_batch) // units_per_strip
            tile = (u % units_per_strip) // g.out_depth
            oz = u % g.out_depth
            x0 = strip * g.strip_width
            width = min(g.strip_width, g.out_width - x0)
            start = x0
            stop = start + width - 1 + g.kernel_extent
            oy_end = min((tile + 1) * g.tile_height, g.out_height)
            for oy in range(tile * g.tile_height, oy_end):
                cache.generation += 1
                for k in range(nrows):
                    iz = oz - g.pad_lo[0] + k // kh
                    iy = oy - g.pad_lo[1] + k % kh
                    mz = map_index(iz, g.depth, g.mode)
                    my = map_index(iy, g.height, g.mode)
                    if mz < 0 or my < 0:
                        row_ptr[k] = const_row
                    else:
                        row_ptr[k] = cached_row(
                            &cache, ((b * g.depth + mz) * g.height + my) * g.nstrips + strip,
                            src + b * g.in_strides[0] + mz * g.in_strides[1] + my * g.in_strides[2],
                            g, start, stop, cval)
                for a in range(rank):
                    if taps.nouter[a] == 1 and outer_w[a][0] == 1:
                        # a line: the row itself
                        source = row_ptr[taps.outer_row[a][0]]
                    else:
                        source = staged + a * wp
                        for t in range(taps.nouter[a]):
                            tap_ptr[t] = row_ptr[taps.outer_row[a][t]]
                        accumulate_taps(source, tap_ptr, outer_w[a], taps.nouter[a],
                                        stop - start, 1)
                    for t in range(taps.nx[a]):
                        tap_ptr[t] = source + taps.x_offset[a][t]
                    accumulate_taps(term_ptr[a], tap_ptr, x_w[a], taps.nx[a], width, 1)
                out_row = (dst + b * g.out_strides[0] + oz * g.out_strides[1]
                           + oy * g.out_strides[2] + x0 * g.out_strides[3])
                if direct:
                    sum_of_squares_root(<acc_t*>out_row, term_ptr, rank, width)
                else:
                    sum_of_squares_root(acc, term_ptr, rank, width)
                    store_row(acc, out_row, g.out_dtype, out_step, width)
        if not imgconv_work_take(work, tid, &unit_begin, &unit_end):
            break
    scratch_free(scratch)
    return 0


cdef int _gradient_run(const GradientTaps* taps, const char* src, char* dst, RowGeometry* g,
                       acc_t cval, int nthreads) except -1:
    """Traversal plan (correlate's, for a 3 x 3 (x 3) window), then the
    parallel sweep."""
    cdef Py_ssize_t rank = taps.rank
    cdef Py_ssize_t kd = GRADIENT_TAPS if rank == 3 else 1
    cdef Py_ssize_t kh = GRADIENT_TAPS if rank >= 2 else 1
    cdef Py_ssize_t xtable_storage[SMALL_TABLE_WORDS]
    cdef Py_ssize_t* xtable = xtable_storage
    cdef int acc_dtype = DT_FLOAT32 if acc_t is float else DT_FLOAT64
    cdef int tid
    cdef int* status
    cdef imgconv_work work
    g.kernel_extent = GRADIENT_TAPS
    g.padded_width = g.out_width - 1 + g.kernel_extent
    g.extent_z = kd
    g.extent_y = kh
    tables = None
    if g.padded_width > SMALL_TABLE_WORDS:
        tables = np.empty(g.padded_width, np.intp)
        xtable = <Py_ssize_t*>cnp.PyArray_DATA(tables)
    set_padded_row(&g.xrow, xtable, g.padded_width, g.pad_lo[2], g.width, g.mode)
    plan_traversal(g, kd, kh, kd * kh, sizeof(acc_t), CACHE_BUDGET_KIB)
    cdef Py_ssize_t nunits = g.nbatch * g.nstrips * g.ntiles * g.out_depth
    nthreads = max(1, min(nthreads, nunits))
    work_storage = share_work(&work, nthreads, nunits, 1, &status)
    with nogil, parallel(num_threads=nthreads):
        tid = threadid()
        status[tid] = gradient_units(src, dst, g, &work, tid, taps, cval, acc_dtype)
    check_scratch(status, nthreads)
    return 0


def gradient_magnitude(cnp.ndarray x, cnp.ndarray out, deriv, smooth, int rank, int mode,
                       double cval, int in_dtype, int out_dtype, bint double_compute,
                       int nthreads):
    """Gradient magnitude of (B, D, H, W) ``x`` into ``out`` (same shape):
    sqrt(sum over the last ``rank`` axes a of d_a(x)**2), d_a correlating
    with the 3-tap ``deriv`` along a and the 3-tap ``smooth`` along the
    other filtered axes, centred, padded by ``mode`` (constant ``cval``
    for MODE_ZERO, as one n-D correlation pads), summed in float64 when
    ``double_compute`` else float32.

    Private: ``imgconv._validate`` has already checked and normalised every
    argument (dtype codes, native byte order, element-aligned strides).
    """
    if not 1 <= rank <= GRADIENT_MAX_RANK:
        raise ValueError(f"rank must be 1, 2 or 3, got {rank}")
    if len(deriv) != GRADIENT_TAPS or len(smooth) != GRADIENT_TAPS:
        raise ValueError("deriv and smooth must have 3 taps each")
    if x.ndim != 4 or out.ndim != 4 or any(x.shape[i] != out.shape[i] for i in range(4)):
        raise ValueError("x and out must be 4D arrays of one shape")
    cdef double deriv_taps[GRADIENT_TAPS]
    cdef double smooth_taps[GRADIENT_TAPS]
    cdef int i
    for i in range(GRADIENT_TAPS):
        deriv_taps[i] = deriv[i]
        smooth_taps[i] = smooth[i]
    cdef GradientTaps taps
    set_gradient_taps(&taps, rank, deriv_taps, smooth_taps)
    cdef RowGeometry g
    pad_lo = (1 if rank == 3 else 0, 1 if rank >= 2 else 0, 1)
    set_geometry(&g, x, out, (1, 1, 1), (1, 1, 1), pad_lo, mode)
    g.in_dtype = in_dtype
    g.out_dtype = out_dtype
    cdef const char* src = <const char*>cnp.PyArray_DATA(x)
    cdef char* dst = <char*>cnp.PyArray_DATA(out)
    if x.size == 0:
        return
    if double_compute:
        _gradient_run[double](&taps, src, dst, &g, cval, nthreads)
    else:
        _gradient_run[float](&taps, src, dst, &g, <float>cval, nthreads)

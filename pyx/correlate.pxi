# Direct correlation over (batch, D, H, W) arrays: 1D and 2D inputs arrive
# with unit D/H axes, channels and stacks as the batch axis. Any stride,
# dilation, padding and boundary mode; any input/output dtype and strides.
#
# How it is fast:
# - Every nonzero tap is a (weight, pointer) pair; a block of outputs sums
#   all its taps in registers before one store (weighted_sum.h), so the
#   inner loop is vector FMAs on contiguous memory.  Zero taps are skipped.
# - Outputs whose windows lie inside the source, when it already holds
#   compute-type values in contiguous rows, read it in place: no copies, no
#   bounds tests, pointers stepping one row at a time.  The border columns of
#   those rows are gathered into buffers running down the rows and summed
#   with the same vectors.
# - Everything else (border rows and planes, other dtypes and layouts)
#   follows OpenCV's recipe: each source row a tap reads is copied once per
#   thread into a padded, type-converted row buffer (a small cache of rows,
#   keyed by source row), so those loops never test bounds either.
# Every path sums the taps of an output in the same order, so a result does
# not depend on the path, the layout or the thread count.


from libc.string cimport memset


cdef enum:
    TAPS_PER_PASS = 4
    # Row cache per thread.  Measured: wider strips beat L1/L2-sized ones,
    # because long contiguous source reads stream best from memory.
    CACHE_BUDGET_KIB = 2048
    # In-place reads have no copies to stream: the source rows a tile sweeps
    # should stay in L2.
    IN_PLACE_BUDGET_KIB = 512
    # border_columns' gathers: at most this many columns per side, and this
    # much buffer per thread (else the row cache serves the border too)
    MAX_BORDER_COLUMNS = 64
    BORDER_BUFFER_MAX_KIB = 8192
    # Images (one output plane) narrower than this read their rows through
    # the row cache instead of in place: border_columns costs about 1,700
    # instructions per output row for a 3x3 kernel (callgrind), more than
    # copying a narrow padded row once.  Measured, 3x3 float32, one thread,
    # kernel call alone (row cache with a strided source, so pessimistic):
    # 16^2 4.0 -> 2.9 us, 64^2 12.4 -> 7.3 us, 128^2 31 -> 22 us,
    # 256^2 78 -> 68 us, 512^2 202 vs 206 us (a tie).
    IN_PLACE_MIN_WIDTH = 256
    # _correlate_run's tap and row tables up to this many words live on the stack
    SMALL_TABLE_WORDS = 512
    # separable_planes' sliding z sums keep this many planes per thread at most
    SLIDING_PLANES_MAX_KIB = 8192
    # ... and copy the source planes they read into a ring of at most this
    # much per thread (measured: a ring that outgrows the caches is slower
    # than reading the source in place), when a window reads at least this
    # many planes (measured: with fewer, the copies cost more than the cache
    # conflicts they avoid)
    PLANE_RING_MAX_KIB = 6144
    PLANE_RING_MIN_SLOTS = 16
    # ring slots start this many bytes apart modulo 4 KiB
    PLANE_RING_SKEW = 64
    # in-place rows slide (interior_rows) for kernels at least this tall
    # (measured on a 256^3 volume: 5x5x5 20% faster; 3x3x3 20-30% slower,
    # though 15% faster on a volume that fits L2: its 6 rows x 3 planes of
    # interleaved source streams outrun the prefetchers, while one row at a
    # time reads them as one stream; prefetching the next rows by hand, or
    # plane strides off multiples of 4 KiB, did not help).  Shorter columns
    # slide along z instead (interior_planes: a 256^3 3x3x3 interior 30%
    # faster), whose output planes each stream one row at a time.
    SLIDING_MIN_COLUMN = 5


cdef extern from "weighted_sum.h":
    enum: IMGCONV_SLIDING_OUTPUTS
    void weighted_sum_float(float* out, float** rows, const float* w, Py_ssize_t ntaps,
                            Py_ssize_t n) noexcept nogil
    void weighted_sum_double(double* out, double** rows, const double* w,
                             Py_ssize_t ntaps, Py_ssize_t n) noexcept nogil
    void weighted_sum_float_sliding(float** out, float** rows, const float* w,
                                    Py_ssize_t ngroups, Py_ssize_t ntaps,
                                    Py_ssize_t n) noexcept nogil
    void weighted_sum_double_sliding(double** out, double** rows, const double* w,
                                     Py_ssize_t ngroups, Py_ssize_t ntaps,
                                     Py_ssize_t n) noexcept nogil


cdef inline void accumulate_pass4(acc_t* acc, acc_t** p, const acc_t* w,
                                  Py_ssize_t n, Py_ssize_t step, bint first) noexcept nogil:
    """acc[x] (+)= sum of w[t] * p[t][x * step] over four taps."""
    cdef Py_ssize_t x
    cdef acc_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3]
    cdef const acc_t* p0 = p[0]
    cdef const acc_t* p1 = p[1]
    cdef const acc_t* p2 = p[2]
    cdef const acc_t* p3 = p[3]
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
    """acc[x] = sum_t w[t] * ptrs[t][x * step]; for strided outputs ntaps is
    a multiple of 4.

    Unit steps keep the sum in registers (weighted_sum.h); strided outputs
    accumulate four taps per pass over the row."""
    cdef Py_ssize_t t = 0, x
    if step == 1:
        # the zero taps that pad the list to whole passes add nothing here
        while ntaps > 0 and w[ntaps - 1] == 0:
            ntaps -= 1
        if acc_t is float:
            weighted_sum_float(acc, ptrs, w, ntaps, n)
        else:
            weighted_sum_double(acc, ptrs, w, ntaps, n)
        return
    if ntaps == 0:
        for x in range(n):
            acc[x] = 0
        return
    while t < ntaps:
        accumulate_pass4(acc, ptrs + t, w + t, n, step, t == 0)
        t += 4


cdef Py_ssize_t keep_nonzero(const acc_t* kernel, Py_ssize_t length, Py_ssize_t dilation,
                             acc_t* weights, Py_ssize_t* offsets) noexcept nogil:
    """Copy the nonzero taps of the 1D ``kernel`` (weight, and offset index *
    dilation) to the front of ``weights`` and ``offsets``; returns how many."""
    cdef Py_ssize_t k, n = 0
    for k in range(length):
        if kernel[k] != 0:
            weights[n] = kernel[k]
            offsets[n] = k * dilation
            n += 1
    return n


cdef inline Py_ssize_t whole_passes(Py_ssize_t ntaps) noexcept nogil:
    """x taps padded with zero taps to whole passes (at least one): strided
    rows accumulate TAPS_PER_PASS taps at a time."""
    return max(TAPS_PER_PASS, (ntaps + TAPS_PER_PASS - 1) // TAPS_PER_PASS * TAPS_PER_PASS)


cdef inline void point_x_taps(acc_t** xptr, acc_t* staged, acc_t* zero_row, const acc_t* xw,
                              const Py_ssize_t* x_offset, Py_ssize_t nx) noexcept nogil:
    """The x taps on a staging row; the zero taps that pad them to whole
    passes read zeros, so no NaN leaks in."""
    cdef Py_ssize_t t
    for t in range(nx):
        xptr[t] = (staged if xw[t] != 0 else zero_row) + x_offset[t]


cdef inline void accumulate_sliding(acc_t** out, acc_t** rows, const acc_t* w,
                                    Py_ssize_t ngroups, Py_ssize_t ntaps,
                                    Py_ssize_t n) noexcept nogil:
    """out[i][x] = sum over groups g and taps t of w[g * ntaps + t] *
    rows[g * (ntaps + IMGCONV_SLIDING_OUTPUTS - 1) + i + t][x] for
    IMGCONV_SLIDING_OUTPUTS consecutive windows i: each row is loaded once
    for every window holding it; every window sums its taps as
    accumulate_taps would, group after group."""
    if acc_t is float:
        weighted_sum_float_sliding(out, rows, w, ngroups, ntaps, n)
    else:
        weighted_sum_double_sliding(out, rows, w, ngroups, ntaps, n)


cdef inline bint slides(const Py_ssize_t* offset, Py_ssize_t ntaps, Py_ssize_t stride,
                        Py_ssize_t dilation) noexcept nogil:
    """Whether the next output's taps are this output's moved by one row:
    unit stride and dilation, no zero tap between the first and the last."""
    return (stride == 1 and dilation == 1 and ntaps > 0
            and offset[ntaps - 1] - offset[0] == ntaps - 1)


cdef inline Py_ssize_t window_offset(const Py_ssize_t* offset, Py_ssize_t ntaps,
                                     Py_ssize_t s) noexcept nogil:
    """Offset of row s of consecutive sliding windows: the taps' own, then
    the rows that each following window adds."""
    return offset[min(s, ntaps - 1)] + max(s - ntaps + 1, 0)


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
    # padded rows: positions 0 .. padded_width - 1, mapped onto source rows by xrow
    Py_ssize_t padded_width, kernel_extent
    Py_ssize_t extent_z, extent_y   # kernel extents along z and y (with dilation)
    # interior outputs read the source in place (see correlate_units); the
    # border columns of one side read at most border_positions positions
    bint in_place
    bint in_place_staged    # the same for kernels separable in x
    Py_ssize_t border_positions
    # in-place rows go IMGCONV_SLIDING_OUTPUTS at a time through sliding sums
    # over this many tap columns (0: one at a time)
    Py_ssize_t slide_groups
    # ... or, for short kernel columns, IMGCONV_SLIDING_OUTPUTS planes at a
    # time, sliding down this many tap columns along z
    Py_ssize_t slide_plane_groups
    PaddedRow xrow
    # traversal: the output is cut into strips of strip_width columns (so the
    # cached rows of a tall kernel stay bounded); within a strip, rows go in
    # tiles of tile_height rows, each tile swept through every output plane,
    # so a source row segment is loaded about once
    Py_ssize_t strip_width, nstrips, strip_padded, tile_height, ntiles, cache_slots


cdef struct RowCache:
    char* buffers           # cache_slots rows of padded_width compute-type values
    int64_t* keys           # source row held by each slot (-1: none)
    int64_t* last_used      # output row that last used each slot
    int32_t* table          # hash of a key -> the slot that last held it
    int64_t table_mask
    int64_t generation      # output rows computed so far
    Py_ssize_t hand         # next slot to recycle (first in, first out)


cdef inline int64_t row_hash(int64_t key, int64_t mask) noexcept nogil:
    return <int64_t>((<uint64_t>key * <uint64_t>0x9E3779B97F4A7C15ULL) >> 32) & mask


cdef acc_t* cached_row(RowCache* cache, int64_t key, const char* src,
                       const RowGeometry* g, Py_ssize_t start, Py_ssize_t stop,
                       acc_t cval) noexcept nogil:
    """The buffer holding padded positions [start, stop) of source row ``key``,
    loaded on a miss.

    Slots are recycled first in, first out (the sweep order makes the oldest
    row the one least likely needed again), skipping the slots the current
    output row uses; the cache has more slots than an output row reads, so a
    free one is always found.
    """
    cdef int64_t h = row_hash(key, cache.table_mask)
    cdef Py_ssize_t slot = cache.table[h]
    cdef acc_t* buffers = <acc_t*>cache.buffers
    if slot >= 0 and cache.keys[slot] == key:
        cache.last_used[slot] = cache.generation
        return buffers + slot * g.strip_padded
    while cache.last_used[cache.hand] == cache.generation:
        cache.hand = (cache.hand + 1) % g.cache_slots
    slot = cache.hand
    cache.hand = (cache.hand + 1) % g.cache_slots
    cache.keys[slot] = key
    cache.last_used[slot] = cache.generation
    cache.table[h] = <int32_t>slot
    load_row(src, g.in_dtype, g.in_strides[3] // itemsize(g.in_dtype),
             buffers + slot * g.strip_padded, start, stop, &g.xrow, cval)
    return buffers + slot * g.strip_padded


cdef enum:
    # rows of border columns gathered at a time (bounds that scratch)
    COLUMN_CHUNK = 256


cdef inline const char* source_row(const char* src, const RowGeometry* g, Py_ssize_t b,
                                   Py_ssize_t oz, Py_ssize_t oy, Py_ssize_t kz,
                                   Py_ssize_t ky) noexcept nogil:
    """Start of the source row that kernel row (kz, ky) reads for output row
    ``oy`` of plane ``oz``, a row inside the source."""
    return (src + b * g.in_strides[0]
            + (oz * g.stride[0] - g.pad_lo[0] + kz * g.dilation[0]) * g.in_strides[1]
            + (oy * g.stride[1] - g.pad_lo[1] + ky * g.dilation[1]) * g.in_strides[2])


cdef inline void point_taps_in_place(acc_t** tap_ptr, const char* src, const RowGeometry* g,
                                     Py_ssize_t b, Py_ssize_t oz, Py_ssize_t oy,
                                     Py_ssize_t position, const Py_ssize_t* tap_row,
                                     const Py_ssize_t* tap_offset, Py_ssize_t ntaps,
                                     const Py_ssize_t* row_kz,
                                     const Py_ssize_t* row_ky) noexcept nogil:
    """tap_ptr[t] = the source sample tap t reads for padded position
    ``position`` of output row ``oy`` of plane ``oz`` (all inside the source)."""
    cdef Py_ssize_t t, k
    for t in range(ntaps):
        k = tap_row[t]
        tap_ptr[t] = (<acc_t*>source_row(src, g, b, oz, oy, row_kz[k], row_ky[k])
                      + (position - g.pad_lo[2] + tap_offset[t]))


cdef inline void point_sliding_columns(acc_t** slide_ptr, acc_t** tap_ptr, Py_ssize_t ncolumns,
                                      Py_ssize_t column_len, Py_ssize_t step) noexcept nogil:
    """The rows of IMGCONV_SLIDING_OUTPUTS consecutive windows down each
    column of taps, ``step`` values apart (a row, or a plane)."""
    cdef Py_ssize_t column, s, span = column_len + IMGCONV_SLIDING_OUTPUTS - 1
    for column in range(ncolumns):
        for s in range(span):
            slide_ptr[column * span + s] = tap_ptr[column * column_len] + s * step


cdef void interior_rows(const char* src, char* dst, const RowGeometry* g, Py_ssize_t b,
                        Py_ssize_t oz, Py_ssize_t ya, Py_ssize_t yb, Py_ssize_t x_lo,
                        Py_ssize_t x_hi, const acc_t* tap_weights, const Py_ssize_t* tap_row,
                        const Py_ssize_t* tap_offset, Py_ssize_t ntaps,
                        const Py_ssize_t* row_kz, const Py_ssize_t* row_ky,
                        acc_t** tap_ptr, acc_t** slide_ptr) noexcept nogil:
    """Output rows [ya, yb) of plane ``oz``, columns [x_lo, x_hi), whose
    windows lie inside the source: the taps read the source in place (no
    row copies, no bounds tests) and step down the rows, with
    ``g.slide_groups`` IMGCONV_SLIDING_OUTPUTS rows at a time (``slide_ptr``:
    room for every column's rows of that many windows)."""
    cdef Py_ssize_t t, oy = ya, p
    cdef Py_ssize_t row_step = g.stride[1] * (g.in_strides[2] // <Py_ssize_t>sizeof(acc_t))
    cdef char* out_plane = dst + b * g.out_strides[0] + oz * g.out_strides[1] + x_lo * g.out_strides[3]
    cdef Py_ssize_t ncolumns = g.slide_groups
    cdef Py_ssize_t column_len = ntaps // ncolumns if ncolumns else 0
    cdef acc_t* out_rows[IMGCONV_SLIDING_OUTPUTS]
    point_taps_in_place(tap_ptr, src, g, b, oz, ya, x_lo, tap_row, tap_offset, ntaps, row_kz, row_ky)
    while ncolumns and oy + IMGCONV_SLIDING_OUTPUTS <= yb:
        point_sliding_columns(slide_ptr, tap_ptr, ncolumns, column_len, row_step)
        for p in range(IMGCONV_SLIDING_OUTPUTS):
            out_rows[p] = <acc_t*>(out_plane + (oy + p) * g.out_strides[2])
        accumulate_sliding(out_rows, slide_ptr, tap_weights, ncolumns, column_len, x_hi - x_lo)
        for t in range(ntaps):
            tap_ptr[t] += IMGCONV_SLIDING_OUTPUTS * row_step
        oy += IMGCONV_SLIDING_OUTPUTS
    while oy < yb:
        accumulate_taps(<acc_t*>(out_plane + oy * g.out_strides[2]), tap_ptr, tap_weights, ntaps,
                        x_hi - x_lo, 1)
        for t in range(ntaps):
            tap_ptr[t] += row_step
        oy += 1


cdef void interior_planes(const char* src, char* dst, const RowGeometry* g, Py_ssize_t b,
                          Py_ssize_t oz, Py_ssize_t ya, Py_ssize_t yb, Py_ssize_t x_lo,
                          Py_ssize_t x_hi, const acc_t* tap_weights, const Py_ssize_t* tap_row,
                          const Py_ssize_t* tap_offset, Py_ssize_t ntaps,
                          const Py_ssize_t* row_kz, const Py_ssize_t* row_ky,
                          acc_t** tap_ptr, acc_t** slide_ptr) noexcept nogil:
    """``interior_rows`` for IMGCONV_SLIDING_OUTPUTS consecutive planes from
    ``oz`` at once: the taps go down z in ``g.slide_plane_groups`` columns,
    each source row loaded once for every output plane it feeds."""
    cdef Py_ssize_t i, p, oy
    cdef Py_ssize_t row_step = g.stride[1] * (g.in_strides[2] // <Py_ssize_t>sizeof(acc_t))
    cdef Py_ssize_t plane_step = g.in_strides[1] // <Py_ssize_t>sizeof(acc_t)
    cdef Py_ssize_t ncolumns = g.slide_plane_groups
    cdef Py_ssize_t column_len = ntaps // ncolumns
    cdef Py_ssize_t span = column_len + IMGCONV_SLIDING_OUTPUTS - 1
    cdef char* out_plane = dst + b * g.out_strides[0] + oz * g.out_strides[1] + x_lo * g.out_strides[3]
    cdef acc_t* out_rows[IMGCONV_SLIDING_OUTPUTS]
    point_taps_in_place(tap_ptr, src, g, b, oz, ya, x_lo, tap_row, tap_offset, ntaps, row_kz, row_ky)
    point_sliding_columns(slide_ptr, tap_ptr, ncolumns, column_len, plane_step)
    for oy in range(ya, yb):
        for p in range(IMGCONV_SLIDING_OUTPUTS):
            out_rows[p] = <acc_t*>(out_plane + p * g.out_strides[1] + oy * g.out_strides[2])
        accumulate_sliding(out_rows, slide_ptr, tap_weights, ncolumns, column_len, x_hi - x_lo)
        for i in range(ncolumns * span):
            slide_ptr[i] += row_step


cdef inline void gather_columns(acc_t* columns, Py_ssize_t column_len, const char* src,
                                const RowGeometry* g, Py_ssize_t b, Py_ssize_t oz, Py_ssize_t y,
                                Py_ssize_t kz, Py_ssize_t ky, Py_ssize_t count, Py_ssize_t p_lo,
                                Py_ssize_t npos, acc_t cval) noexcept nogil:
    """columns[j * column_len + r] = padded position p_lo + j of the source
    row that kernel row (kz, ky) reads for output row y + r, r < count."""
    cdef Py_ssize_t r, j, mx
    cdef Py_ssize_t in_x = g.in_strides[3] // <Py_ssize_t>sizeof(acc_t)
    cdef Py_ssize_t row_step = g.stride[1] * (g.in_strides[2] // <Py_ssize_t>sizeof(acc_t))
    cdef const acc_t* first = <const acc_t*>source_row(src, g, b, oz, y, kz, ky)
    cdef const acc_t* sample
    cdef acc_t* column
    # one column at a time: the x mapping is looked up once per column
    for j in range(npos):
        mx = g.xrow.table[p_lo + j]
        column = columns + j * column_len
        if mx < 0:
            for r in range(count):
                column[r] = cval
        else:
            sample = first + mx * in_x
            for r in range(count):
                column[r] = sample[r * row_step]


cdef void border_columns(const char* src, char* dst, const RowGeometry* g, Py_ssize_t b,
                         Py_ssize_t oz, Py_ssize_t ya, Py_ssize_t yb, Py_ssize_t x_lo,
                         Py_ssize_t x_hi, const acc_t* tap_weights, const Py_ssize_t* tap_row,
                         const Py_ssize_t* tap_offset, Py_ssize_t ntaps,
                         const Py_ssize_t* row_kz, const Py_ssize_t* row_ky, Py_ssize_t nrows,
                         acc_t cval, acc_t* columns, acc_t* column_out,
                         acc_t** tap_ptr) noexcept nogil:
    """Output columns [x_lo, x_hi) of rows [ya, yb) of plane ``oz`` (rows
    whose windows lie inside the source along z and y, columns that cross
    its x border).  The padded positions these columns read are gathered
    into column buffers running down the output rows, so the few border
    columns are summed by vectors along y, in the same tap order as
    everywhere else.

    With unit y stride the rows of one kernel plane read one column window,
    shifted by a row each: it is gathered once per kernel plane (when that
    fits the buffer) and the kernel rows point into it at their shifts.
    Otherwise each kernel row gathers its own columns."""
    cdef Py_ssize_t t, k, i, x, y0, n, group
    cdef Py_ssize_t p_lo = x_lo * g.stride[2]
    cdef Py_ssize_t npos = (x_hi - x_lo - 1) * g.stride[2] + g.kernel_extent
    cdef Py_ssize_t out_row = g.out_strides[2] // <Py_ssize_t>sizeof(acc_t)
    cdef Py_ssize_t nkz = 1
    cdef acc_t* out_col
    if x_hi <= x_lo:
        return
    for k in range(1, nrows):
        nkz += row_kz[k] != row_kz[k - 1]
    cdef bint per_plane = (g.stride[1] == 1
                           and nkz * (COLUMN_CHUNK + g.extent_y - 1) <= nrows * COLUMN_CHUNK)
    # values per gathered column, and the column row a kernel row starts at
    cdef Py_ssize_t column_len = COLUMN_CHUNK + g.extent_y - 1 if per_plane else COLUMN_CHUNK
    cdef Py_ssize_t row_shift = g.dilation[1] if per_plane else 0
    y0 = ya
    while y0 < yb:
        n = min(<Py_ssize_t>COLUMN_CHUNK, yb - y0)
        group = -1
        for k in range(nrows):
            if per_plane and k > 0 and row_kz[k] == row_kz[k - 1]:
                continue
            group += 1
            gather_columns(columns + group * npos * column_len, column_len, src, g, b, oz, y0,
                           row_kz[k], 0 if per_plane else row_ky[k],
                           n + g.extent_y - 1 if per_plane else n, p_lo, npos, cval)
        # the taps of column x_lo; each next column is stride[2] positions on.
        # Per plane, a row's buffer is its kernel plane's: the rows go in
        # (kz, ky) order, the taps in either column order.
        for t in range(ntaps):
            k = tap_row[t]
            group = k
            if per_plane:
                group = 0
                for i in range(1, k + 1):
                    group += row_kz[i] != row_kz[i - 1]
            tap_ptr[t] = (columns + (group * npos + tap_offset[t]) * column_len
                          + row_ky[k] * row_shift)
        for x in range(x_lo, x_hi):
            accumulate_taps(column_out, tap_ptr, tap_weights, ntaps, n, 1)
            out_col = <acc_t*>(dst + b * g.out_strides[0] + oz * g.out_strides[1]
                               + y0 * g.out_strides[2] + x * g.out_strides[3])
            for i in range(n):
                out_col[i * out_row] = column_out[i]
            for t in range(ntaps):
                tap_ptr[t] += g.stride[2] * column_len
        y0 += n


cdef inline void border_run(const char* src, char* dst, const RowGeometry* g, Py_ssize_t b,
                            Py_ssize_t oz, Py_ssize_t ya, Py_ssize_t yb, Py_ssize_t x0,
                            Py_ssize_t width, Py_ssize_t x_in_lo, Py_ssize_t x_in_hi,
                            const acc_t* tap_weights, const Py_ssize_t* tap_row,
                            const Py_ssize_t* tap_offset, Py_ssize_t ntaps,
                            const Py_ssize_t* row_kz, const Py_ssize_t* row_ky, Py_ssize_t nrows,
                            acc_t cval, acc_t* columns, acc_t* column_out,
                            acc_t** tap_ptr) noexcept nogil:
    """Both x borders of in-place rows [ya, yb) of a strip (``border_columns``)."""
    border_columns(src, dst, g, b, oz, ya, yb, x0, x0 + x_in_lo, tap_weights, tap_row,
                   tap_offset, ntaps, row_kz, row_ky, nrows, cval, columns, column_out, tap_ptr)
    border_columns(src, dst, g, b, oz, ya, yb, x0 + x_in_hi, x0 + width, tap_weights, tap_row,
                   tap_offset, ntaps, row_kz, row_ky, nrows, cval, columns, column_out, tap_ptr)


cdef void set_geometry(RowGeometry* g, cnp.ndarray x, cnp.ndarray out, stride, dilation,
                       pad_lo, int mode) except *:
    """The shapes, strides and per-axis geometry of (B, D, H, W) ``x`` and ``out``."""
    cdef int i
    g.nbatch, g.depth, g.height, g.width = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    g.out_depth, g.out_height, g.out_width = out.shape[1], out.shape[2], out.shape[3]
    for i in range(4):
        g.in_strides[i] = x.strides[i]
        g.out_strides[i] = out.strides[i]
    for i in range(3):
        g.stride[i] = stride[i]
        g.dilation[i] = dilation[i]
        g.pad_lo[i] = pad_lo[i]
    g.mode = mode


cdef inline void pad_staging_row(acc_t* staged, const RowGeometry* g,
                                 acc_t staged_cval) noexcept nogil:
    """Fill the padding of a staging row whose interior (the positions that
    hold source samples) is computed: copied from the interior by the
    boundary rule, or ``staged_cval`` (what the taps made of cval)."""
    cdef Py_ssize_t q
    for q in range(g.xrow.interior_lo):
        staged[q] = staged[g.xrow.table[q] + g.pad_lo[2]] if g.xrow.table[q] >= 0 else staged_cval
    for q in range(g.xrow.interior_hi, g.padded_width):
        staged[q] = staged[g.xrow.table[q] + g.pad_lo[2]] if g.xrow.table[q] >= 0 else staged_cval


cdef inline acc_t sum_of_constant(acc_t* const_row, acc_t** tap_ptr, const acc_t* w,
                                  Py_ssize_t ntaps) noexcept nogil:
    """What the taps make of rows of ``const_row[0]`` (cval), summed exactly
    as for any row (``tap_ptr`` is scratch for ``ntaps`` pointers)."""
    cdef Py_ssize_t t
    cdef acc_t total = 0
    for t in range(ntaps):
        tap_ptr[t] = const_row
    accumulate_taps(&total, tap_ptr, w, ntaps, 1, 1)
    return total


cdef inline void filter_staged_row(acc_t* staged, const RowGeometry* g, acc_t staged_cval,
                                   acc_t** xtap_ptr, const acc_t* xtap_weights,
                                   Py_ssize_t nxtaps, char* out_row, acc_t* acc,
                                   bint direct_out, Py_ssize_t out_step) noexcept nogil:
    """Pad a staging row whose interior is computed, filter it with the x
    taps, and store the output row."""
    pad_staging_row(staged, g, staged_cval)
    accumulate_taps(<acc_t*>out_row if direct_out else acc, xtap_ptr, xtap_weights, nxtaps,
                    g.out_width, g.stride[2])
    if not direct_out:
        store_row(acc, out_row, g.out_dtype, out_step, g.out_width)


cdef void interior_rows_staged(const char* src, char* dst, const RowGeometry* g, Py_ssize_t b,
                               Py_ssize_t oz, Py_ssize_t ya, Py_ssize_t yb,
                               const acc_t* tap_weights, const Py_ssize_t* tap_row,
                               const Py_ssize_t* tap_offset, Py_ssize_t ntaps,
                               const Py_ssize_t* row_kz,
                               const Py_ssize_t* row_ky, const acc_t* xtap_weights,
                               acc_t** xtap_ptr, Py_ssize_t nxtaps, acc_t staged_cval,
                               acc_t* staged, acc_t* acc, bint direct_out, Py_ssize_t out_step,
                               acc_t** tap_ptr) noexcept nogil:
    """``interior_rows`` for a kernel separable in x (one whole-row strip):
    the taps combine the source rows in place into the staging row's
    interior; its padding is then filled by the boundary rule from that
    interior (the x padding of the source commutes with combining rows; the
    constant cval becomes ``staged_cval``), and the x taps filter it."""
    cdef Py_ssize_t t, oy
    cdef Py_ssize_t q_lo = g.xrow.interior_lo, q_hi = g.xrow.interior_hi
    cdef Py_ssize_t row_step = g.stride[1] * (g.in_strides[2] // <Py_ssize_t>sizeof(acc_t))
    point_taps_in_place(tap_ptr, src, g, b, oz, ya, q_lo, tap_row, tap_offset, ntaps, row_kz,
                        row_ky)
    for oy in range(ya, yb):
        accumulate_taps(staged + q_lo, tap_ptr, tap_weights, ntaps, q_hi - q_lo, 1)
        filter_staged_row(staged, g, staged_cval, xtap_ptr, xtap_weights, nxtaps,
                          dst + b * g.out_strides[0] + oz * g.out_strides[1] + oy * g.out_strides[2],
                          acc, direct_out, out_step)
        for t in range(ntaps):
            tap_ptr[t] += row_step


cdef bint pads_from_interior(const PaddedRow* row, Py_ssize_t padded_width) noexcept nogil:
    """Whether every padded position of a staging row maps into the part of
    the row that holds source samples (so the padding can be copied from
    there, as the in-place separable paths do)."""
    cdef Py_ssize_t q
    for q in range(padded_width):
        if row.table[q] >= 0 and not (row.interior_lo <= row.table[q] + row.pad_lo < row.interior_hi):
            return False
    return True


cdef int correlate_units(const char* src, char* dst, const RowGeometry* g,
                         imgconv_work* work, int tid,
                         const acc_t* tap_weights, const Py_ssize_t* tap_row,
                         const Py_ssize_t* tap_offset, Py_ssize_t ntaps,
                         Py_ssize_t nonzero_taps,
                         const Py_ssize_t* row_kz, const Py_ssize_t* row_ky,
                         Py_ssize_t nrows, const acc_t* xtap_weights,
                         const Py_ssize_t* xtap_offset, Py_ssize_t nxtaps, acc_t cval,
                         int acc_dtype) noexcept nogil:
    """Compute the output rows of the work units thread ``tid`` takes from
    ``work``.

    A unit is one output plane of one row tile of one strip of one batch item,
    numbered (batch, strip, tile, plane) so consecutive units share most
    source rows.  With ``nxtaps`` > 0 the filter is separable in x: the taps
    (all at x offset 0) first combine whole padded rows into a staging row,
    which the x taps then filter, so no intermediate image is written.

    When source and output rows hold compute-type values contiguously and
    the x stride is 1, the outputs whose windows lie inside the source
    (nearly all of a volume) skip the row cache: ``interior_rows`` reads
    the source in place and ``border_columns`` covers the x borders of those
    rows; the cache serves the rest.
    Returns 0, or -1 if the scratch memory could not be allocated.
    """
    cdef Py_ssize_t wp = max(g.strip_padded, g.strip_width)
    cdef Py_ssize_t nslots = g.cache_slots
    cdef Py_ssize_t table_size = 1
    cdef Py_ssize_t u, r, k, t, b, strip, tile, oz, oy, oy_end, iz, iy, mz, my, i
    cdef Py_ssize_t x0, width, start, stop
    # in-place rows: [y_in_lo, y_in_hi) of a plane inside the source along
    # z, columns [x_in_lo, x_in_hi) of a strip inside it along x
    cdef Py_ssize_t y_in_lo = 0, y_in_hi = 0, x_in_lo, x_in_hi, ya, yb
    # in-place rows [run_ya, run_yb) whose x borders are still to compute
    cdef Py_ssize_t run_b = 0, run_oz = 0, run_x0 = 0, run_width = 0, run_lo = 0, run_hi = 0
    cdef Py_ssize_t run_ya = 0, run_yb = 0
    cdef bint in_place = g.in_place and nxtaps == 0 and nonzero_taps > 0
    cdef bint in_place_staged = g.in_place_staged and nxtaps > 0 and nonzero_taps > 0
    cdef acc_t staged_cval = 0
    cdef acc_t* columns = NULL
    cdef acc_t* column_out
    cdef Py_ssize_t units_per_strip = g.ntiles * g.out_depth
    cdef Py_ssize_t units_per_batch = g.nstrips * units_per_strip
    cdef acc_t* const_row
    cdef acc_t* zero_row
    cdef acc_t* acc
    cdef acc_t* staged
    cdef acc_t** row_ptr
    cdef acc_t** tap_ptr
    cdef acc_t** xtap_ptr
    cdef acc_t** slide_ptr
    cdef acc_t* row_out
    cdef RowCache cache
    cdef char* out_row
    cdef bint direct = g.out_dtype == acc_dtype and g.out_strides[3] == sizeof(acc_t)
    cdef Py_ssize_t out_step = g.out_strides[3] // itemsize(g.out_dtype)
    cdef char* scratch
    cdef int64_t unit_begin, unit_end
    # units [planes_from, planes_to) had their interior rows computed together
    cdef int64_t planes_from = 0, planes_to = 0
    if not imgconv_work_take(work, tid, &unit_begin, &unit_end):
        return 0
    while table_size < 4 * nslots:
        table_size *= 2
    scratch = <char*>scratch_alloc((nslots + 4) * wp * sizeof(acc_t)
                            + (nrows + ntaps * (1 + IMGCONV_SLIDING_OUTPUTS) + nxtaps)
                            * sizeof(acc_t*)
                            + 2 * nslots * sizeof(int64_t) + table_size * sizeof(int32_t))
    if scratch == NULL:
        return -1
    if in_place or in_place_staged:
        y_in_lo = min((g.pad_lo[1] + g.stride[1] - 1) // g.stride[1], g.out_height)
        y_in_hi = (g.height - g.extent_y + g.pad_lo[1]) // g.stride[1] + 1
        y_in_hi = max(min(y_in_hi, g.out_height), y_in_lo) if g.height >= g.extent_y else y_in_lo
    if in_place:
        columns = <acc_t*>scratch_alloc((nrows * g.border_positions + 1) * COLUMN_CHUNK * sizeof(acc_t))
        if columns == NULL:
            scratch_free(scratch)
            return -1
        column_out = columns + nrows * g.border_positions * COLUMN_CHUNK
    cache.buffers = scratch
    const_row = <acc_t*>scratch + nslots * wp
    zero_row = const_row + wp
    acc = zero_row + wp
    staged = acc + wp
    row_ptr = <acc_t**>(staged + wp)
    tap_ptr = row_ptr + nrows
    xtap_ptr = tap_ptr + ntaps
    slide_ptr = xtap_ptr + nxtaps
    cache.keys = <int64_t*>(slide_ptr + ntaps * IMGCONV_SLIDING_OUTPUTS)
    cache.last_used = cache.keys + nslots
    cache.table = <int32_t*>(cache.last_used + nslots)
    cache.table_mask = table_size - 1
    cache.generation = 0
    cache.hand = 0
    for i in range(wp):
        const_row[i] = cval
        zero_row[i] = 0
    for i in range(nslots):
        cache.keys[i] = -1
        cache.last_used[i] = -1
    for i in range(table_size):
        cache.table[i] = -1
    point_x_taps(xtap_ptr, staged, zero_row, xtap_weights, xtap_offset, nxtaps)
    if in_place_staged:
        staged_cval = sum_of_constant(const_row, tap_ptr, tap_weights, nonzero_taps)

    while True:
        for u in range(unit_begin, unit_end):
            b = u // units_per_batch
            strip = (u % units_per_batch) // units_per_strip
            tile = (u % units_per_strip) // g.out_depth
            oz = u % g.out_depth
            x0 = strip * g.strip_width
            width = min(g.strip_width, g.out_width - x0)
            start = x0 * g.stride[2]
            stop = start + (width - 1) * g.stride[2] + g.kernel_extent
            oy_end = min((tile + 1) * g.tile_height, g.out_height)
            ya = yb = oy_end
            iz = oz * g.stride[0] - g.pad_lo[0]
            if in_place and iz >= 0 and iz + g.extent_z <= g.depth:
                x_in_lo = min(max(g.pad_lo[2] - x0, 0), width)
                x_in_hi = min(max(g.pad_lo[2] + g.width - g.kernel_extent + 1 - x0, x_in_lo), width)
                ya = min(max(y_in_lo, tile * g.tile_height), oy_end)
                yb = min(max(y_in_hi, ya), oy_end)
                if x_in_hi > x_in_lo and yb > ya:
                    if planes_from <= u < planes_to:
                        pass    # computed with the plane before
                    elif (g.slide_plane_groups and u + IMGCONV_SLIDING_OUTPUTS <= unit_end
                            and oz + IMGCONV_SLIDING_OUTPUTS <= g.out_depth
                            and iz + IMGCONV_SLIDING_OUTPUTS - 1 + g.extent_z <= g.depth):
                        # this plane and the next ones of the tile, all inside along z
                        interior_planes(src, dst, g, b, oz, ya, yb, x0 + x_in_lo, x0 + x_in_hi,
                                        tap_weights, tap_row, tap_offset, nonzero_taps, row_kz,
                                        row_ky, tap_ptr, slide_ptr)
                        planes_from = u
                        planes_to = u + IMGCONV_SLIDING_OUTPUTS
                    else:
                        interior_rows(src, dst, g, b, oz, ya, yb, x0 + x_in_lo, x0 + x_in_hi,
                                      tap_weights, tap_row, tap_offset, nonzero_taps, row_kz,
                                      row_ky, tap_ptr, slide_ptr)
                    # The x borders of consecutive rows go together (an image's
                    # units are single rows: per row, the gathers and tap
                    # set-up cost as much as the row's interior).
                    if run_yb > run_ya and (b != run_b or oz != run_oz or x0 != run_x0
                                            or width != run_width or x_in_lo != run_lo
                                            or x_in_hi != run_hi or ya != run_yb):
                        border_run(src, dst, g, run_b, run_oz, run_ya, run_yb, run_x0,
                                   run_width, run_lo, run_hi, tap_weights, tap_row, tap_offset,
                                   nonzero_taps, row_kz, row_ky, nrows, cval, columns,
                                   column_out, tap_ptr)
                        run_ya = run_yb = 0
                    if run_yb > run_ya:
                        run_yb = yb
                    else:
                        run_b, run_oz, run_x0, run_width = b, oz, x0, width
                        run_lo, run_hi, run_ya, run_yb = x_in_lo, x_in_hi, ya, yb
                else:
                    ya = yb = oy_end
            elif in_place_staged and iz >= 0 and iz + g.extent_z <= g.depth:
                ya = min(max(y_in_lo, tile * g.tile_height), oy_end)
                yb = min(max(y_in_hi, ya), oy_end)
                interior_rows_staged(src, dst, g, b, oz, ya, yb, tap_weights, tap_row, tap_offset,
                                     nonzero_taps,
                                     row_kz, row_ky, xtap_weights, xtap_ptr, nxtaps, staged_cval,
                                     staged, acc, direct, out_step, tap_ptr)
            for oy in range(tile * g.tile_height, oy_end):
                if ya <= oy < yb:
                    continue
                cache.generation += 1
                for k in range(nrows):
                    iz = oz * g.stride[0] - g.pad_lo[0] + row_kz[k] * g.dilation[0]
                    iy = oy * g.stride[1] - g.pad_lo[1] + row_ky[k] * g.dilation[1]
                    mz = map_index(iz, g.depth, g.mode)
                    my = map_index(iy, g.height, g.mode)
                    if mz < 0 or my < 0:
                        row_ptr[k] = const_row
                    else:
                        row_ptr[k] = cached_row(
                            &cache, ((b * g.depth + mz) * g.height + my) * g.nstrips + strip,
                            src + b * g.in_strides[0] + mz * g.in_strides[1] + my * g.in_strides[2],
                            g, start, stop, cval)
                for t in range(ntaps):
                    tap_ptr[t] = (row_ptr[tap_row[t]] if tap_row[t] >= 0 else zero_row) + tap_offset[t]
                out_row = (dst + b * g.out_strides[0] + oz * g.out_strides[1]
                           + oy * g.out_strides[2] + x0 * g.out_strides[3])
                row_out = <acc_t*>out_row if direct else acc
                if nxtaps:
                    accumulate_taps(staged, tap_ptr, tap_weights, ntaps, stop - start, 1)
                    accumulate_taps(row_out, xtap_ptr, xtap_weights, nxtaps, width, g.stride[2])
                else:
                    accumulate_taps(row_out, tap_ptr, tap_weights, ntaps, width, g.stride[2])
                if not direct:
                    store_row(acc, out_row, g.out_dtype, out_step, width)
        if not imgconv_work_take(work, tid, &unit_begin, &unit_end):
            break
    if run_yb > run_ya:
        border_run(src, dst, g, run_b, run_oz, run_ya, run_yb, run_x0, run_width, run_lo,
                   run_hi, tap_weights, tap_row, tap_offset, nonzero_taps, row_kz, row_ky,
                   nrows, cval, columns, column_out, tap_ptr)
    scratch_free(scratch)
    scratch_free(columns)
    return 0


cdef void plan_traversal(RowGeometry* g, Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t nrows,
                         Py_ssize_t elem_size, Py_ssize_t budget_kib) noexcept:
    """Choose the strip width, the row-tile height and the cache size, so the
    cached rows of one thread stay within ``budget_kib`` (for in-place
    reads, the source rows a tile sweeps).

    Images (one output plane) sweep row by row (a unit is one row of a strip)
    and need only the rows of two consecutive output rows.  Volumes sweep a
    tile of rows through all planes: the cache then holds the tile's rows of
    kd + 1 source planes.
    """
    cdef Py_ssize_t budget = (budget_kib * 1024) // elem_size   # values
    cdef Py_ssize_t rows_per_plane, width
    cdef Py_ssize_t new_planes = min(g.stride[0], kd)
    # enough for the rows of two consecutive output rows (with unit dilation
    # they overlap in all but `stride` rows)
    cdef Py_ssize_t min_slots = (nrows + min(g.stride[1], kh) + 1 if g.dilation[1] == 1
                                 else 2 * nrows + 1)
    g.strip_width = g.out_width
    if min_slots * g.padded_width > budget:
        width = (budget // min_slots - g.kernel_extent) // g.stride[2] + 1
        g.strip_width = min(g.out_width, max(width, 256))
    g.nstrips = (g.out_width + g.strip_width - 1) // g.strip_width
    g.strip_padded = (g.strip_width - 1) * g.stride[2] + g.kernel_extent
    if g.out_depth == 1:
        g.tile_height = 1
        g.cache_slots = min_slots
    else:
        g.tile_height = 1
        while g.tile_height < g.out_height:
            rows_per_plane = min((2 * g.tile_height) * kh,
                                 (2 * g.tile_height - 1) * g.stride[1] + (kh - 1) * g.dilation[1] + 1)
            if (kd + new_planes) * rows_per_plane * g.strip_padded > budget:
                break
            g.tile_height *= 2
        rows_per_plane = min(g.tile_height * kh,
                             (g.tile_height - 1) * g.stride[1] + (kh - 1) * g.dilation[1] + 1)
        g.cache_slots = max((kd + new_planes) * rows_per_plane + 1, min_slots)
    g.ntiles = (g.out_height + g.tile_height - 1) // g.tile_height


cdef int _correlate_run(const acc_t* weights, Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
                        const acc_t* xweights, Py_ssize_t nx,
                        const char* src, char* dst, RowGeometry* g, acc_t cval,
                        int nthreads) except -1:
    """Taps and traversal plan, then the parallel sweep.  ``weights``: a
    C-contiguous (kd, kh, kw) kernel; ``xweights`` (``nx`` taps, may be 0)
    is a 1D kernel along x applied after ``weights``, which then has a
    single column."""
    cdef Py_ssize_t nxtaps = 0
    cdef Py_ssize_t kz, ky, kx, nrows = 0, ntaps = 0, npadded, t, tid
    cdef int acc_dtype = DT_FLOAT32 if acc_t is float else DT_FLOAT64
    cdef Py_ssize_t ngroups = 0, column_taps
    cdef bint columns_full = True

    # Taps: the nonzero weights, padded to a multiple of TAPS_PER_PASS with
    # zero-weight taps that read a zero row (so a NaN cannot leak in).  They
    # go down the kernel's columns, (kz, kx, ky) order, for every path: the
    # sliding sums of interior_rows take a column's taps as a group (and
    # those of interior_planes a column along z, see below).
    npadded = (kd * kh * kw + TAPS_PER_PASS - 1) // TAPS_PER_PASS * TAPS_PER_PASS
    g.kernel_extent = g.dilation[2] * ((nx if nx else kw) - 1) + 1
    g.padded_width = (g.out_width - 1) * g.stride[2] + g.kernel_extent
    # every table in one block (a numpy array each costs more than filtering
    # a small image)
    cdef Py_ssize_t nxpad = nx + TAPS_PER_PASS
    cdef size_t table_bytes = ((2 * npadded + 3 * kd * kh + nxpad + g.padded_width)
                               * sizeof(Py_ssize_t) + (npadded + nxpad) * sizeof(acc_t))
    # small tables (short kernels on narrow images) on the stack: the array
    # cost 1,300 of a 16^2 call's ~27,000 instructions
    cdef Py_ssize_t small_tables[SMALL_TABLE_WORDS]
    cdef Py_ssize_t* tap_row = small_tables
    tables = None
    if table_bytes > sizeof(small_tables):
        tables = np.zeros(table_bytes, np.uint8)
        tap_row = <Py_ssize_t*>cnp.PyArray_DATA(tables)
    else:
        memset(small_tables, 0, table_bytes)
    cdef Py_ssize_t* tap_offset = tap_row + npadded
    cdef Py_ssize_t* row_kz = tap_offset + npadded
    cdef Py_ssize_t* row_ky = row_kz + kd * kh
    cdef Py_ssize_t* row_of = row_ky + kd * kh         # [kz * kh + ky]
    cdef Py_ssize_t* xtap_offset = row_of + kd * kh
    cdef Py_ssize_t* xtable = xtap_offset + nxpad
    cdef acc_t* tap_weights = <acc_t*>(xtable + g.padded_width)
    cdef acc_t* xtap_weights = tap_weights + npadded
    for t in range(npadded):
        tap_row[t] = -1
    for t in range(kd * kh):
        row_of[t] = -1
    for kz in range(kd):
        for ky in range(kh):
            for kx in range(kw):
                if weights[(kz * kh + ky) * kw + kx] != 0:
                    row_of[kz * kh + ky] = nrows
                    row_kz[nrows] = kz
                    row_ky[nrows] = ky
                    nrows += 1
                    break
    # Short kernel columns along y slide along z instead, when every
    # nonempty (ky, kx) column is whole along z; the taps then go down the
    # z columns, (ky, kx, kz) order.
    cdef bint y_slides = (kh >= SLIDING_MIN_COLUMN and g.stride[1] == 1
                          and g.dilation[1] == 1)
    cdef bint z_slides = (not y_slides and kd >= IMGCONV_SLIDING_OUTPUTS - 1
                          and nx == 0 and g.stride[0] == 1 and g.dilation[0] == 1)
    for ky in range(kh):
        for kx in range(kw):
            column_taps = 0
            for kz in range(kd):
                column_taps += weights[(kz * kh + ky) * kw + kx] != 0
            z_slides = z_slides and column_taps in (0, kd)
    # columns: (kz, kx) of ky taps, or with z_slides (ky, kx) of kz taps
    cdef Py_ssize_t column, ncolumns = kh if z_slides else kd
    cdef Py_ssize_t column_len = kd if z_slides else kh
    for column in range(ncolumns):
        for kx in range(kw):
            column_taps = 0
            for t in range(column_len):
                kz, ky = (t, column) if z_slides else (column, t)
                if weights[(kz * kh + ky) * kw + kx] != 0:
                    tap_weights[ntaps] = weights[(kz * kh + ky) * kw + kx]
                    tap_row[ntaps] = row_of[kz * kh + ky]
                    tap_offset[ntaps] = kx * g.dilation[2]
                    ntaps += 1
                    column_taps += 1
            if column_taps:
                ngroups += 1
                columns_full = columns_full and column_taps == column_len
    # consecutive output rows (or planes) slide down the columns when each
    # column is whole (no zero tap to skip) and long enough for the sliding
    # sums to pay
    g.slide_groups = ngroups if columns_full and y_slides else 0
    g.slide_plane_groups = ngroups if z_slides else 0
    cdef Py_ssize_t nonzero_taps = ntaps
    ntaps = (ntaps + TAPS_PER_PASS - 1) // TAPS_PER_PASS * TAPS_PER_PASS
    if nx:
        nxtaps = whole_passes(keep_nonzero(xweights, nx, g.dilation[2], xtap_weights,
                                           xtap_offset))
    g.extent_z = g.dilation[0] * (kd - 1) + 1
    g.extent_y = g.dilation[1] * (kh - 1) + 1
    set_padded_row(&g.xrow, xtable, g.padded_width, g.pad_lo[2], g.width, g.mode)

    # In place: source and output rows hold compute-type values contiguously,
    # unit x stride, and borders narrow enough for border_columns.
    cdef Py_ssize_t border_cols = max(min(max(g.pad_lo[2], 0), g.out_width),
                                      g.out_width - max(g.pad_lo[2] + g.width - g.kernel_extent + 1, 0))
    g.border_positions = max(border_cols, 1) - 1 + g.kernel_extent
    g.in_place = ((g.out_depth > 1 or g.out_width >= IN_PLACE_MIN_WIDTH)
                  and g.in_dtype == acc_dtype and g.in_strides[3] == sizeof(acc_t)
                  and g.out_dtype == acc_dtype and g.out_strides[3] == sizeof(acc_t)
                  and g.stride[2] == 1 and nx == 0 and border_cols <= MAX_BORDER_COLUMNS
                  and nrows * g.border_positions * COLUMN_CHUNK * sizeof(acc_t)
                  <= BORDER_BUFFER_MAX_KIB * 1024)
    # Separable in x: rows combined in place into the staging row, whose
    # padding is then copied from its own interior, so every padded position
    # must map into the part of the row the output reads.
    cdef bint staged_ok = (nx > 0 and g.in_dtype == acc_dtype
                           and g.in_strides[3] == sizeof(acc_t)
                           and pads_from_interior(&g.xrow, g.padded_width))
    plan_traversal(g, kd, kh, nrows, sizeof(acc_t),
                   IN_PLACE_BUDGET_KIB if g.in_place or staged_ok else CACHE_BUDGET_KIB)
    g.in_place_staged = staged_ok and g.nstrips == 1
    cdef Py_ssize_t nunits = g.nbatch * g.nstrips * g.ntiles * g.out_depth
    nthreads = max(1, min(nthreads, nunits))
    cdef int* status
    cdef imgconv_work work
    # OpenMP may grant fewer threads than asked (OMP_THREAD_LIMIT, nesting):
    # the team takes over the ranges of the threads that are missing
    # a thread takes planes that slide together as one piece
    work_storage = share_work(&work, nthreads, nunits,
                              IMGCONV_SLIDING_OUTPUTS if g.slide_plane_groups else 1, &status)
    with nogil, parallel(num_threads=nthreads):
        tid = threadid()
        status[tid] = correlate_units(
            src, dst, g, &work, tid,
            tap_weights, tap_row, tap_offset, ntaps, nonzero_taps,
            row_kz, row_ky, nrows, xtap_weights, xtap_offset, nxtaps,
            cval, acc_dtype)
    check_scratch(status, nthreads)
    return 0


def correlate(cnp.ndarray x, cnp.ndarray out, cnp.ndarray weights, cnp.ndarray xweights,
              stride, dilation, pad_lo, int mode, double cval, int in_dtype, int out_dtype,
              int nthreads):
    """Correlate ``x`` (B, D, H, W) with ``weights`` (KD, KH, KW) into ``out``;
    with a non-empty 1D ``xweights`` (and KW == 1), with the outer product
    of the two.

    Private: ``imgconv._validate`` has already checked and normalised every
    argument (dtype codes, native byte order, element-aligned strides, output
    shape from the geometry, compute-typed C-contiguous weights).
    """
    cdef RowGeometry g
    set_geometry(&g, x, out, stride, dilation, pad_lo, mode)
    g.in_dtype = in_dtype
    g.out_dtype = out_dtype
    cdef const char* src = <const char*>cnp.PyArray_DATA(x)
    cdef char* dst = <char*>cnp.PyArray_DATA(out)
    # raw pointers, not typed memoryviews: acquiring two cost ~3,000 of a
    # 16^2 call's ~27,000 instructions; the checks they made are these
    cdef int wtype = cnp.PyArray_TYPE(weights)
    if (wtype not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64) or cnp.PyArray_TYPE(xweights) != wtype
            or weights.ndim != 3 or xweights.ndim != 1
            or not cnp.PyArray_IS_C_CONTIGUOUS(weights)
            or not cnp.PyArray_IS_C_CONTIGUOUS(xweights)):
        raise ValueError("weights and xweights must be C-contiguous float32 or float64 arrays "
                         "(3D and 1D) of one dtype")
    cdef Py_ssize_t kd = weights.shape[0], kh = weights.shape[1], kw = weights.shape[2]
    cdef Py_ssize_t nx = xweights.shape[0]
    if wtype == cnp.NPY_FLOAT32:
        _correlate_run[float](<const float*>cnp.PyArray_DATA(weights), kd, kh, kw,
                              <const float*>cnp.PyArray_DATA(xweights), nx,
                              src, dst, &g, <float>cval, nthreads)
    else:
        _correlate_run[double](<const double*>cnp.PyArray_DATA(weights), kd, kh, kw,
                               <const double*>cnp.PyArray_DATA(xweights), nx,
                               src, dst, &g, cval, nthreads)


cdef struct PlaneRing:
    # copies of source planes, slot i at planes + i * slot_stride; a padded
    # z position q lives in slot q mod nslots, so the consecutive positions
    # of one sliding window never evict each other
    char* planes
    const char** sources        # the source plane each slot holds (NULL: none)
    Py_ssize_t nslots, slot_stride, plane_bytes


cdef int open_plane_ring(PlaneRing* ring, Py_ssize_t nslots, Py_ssize_t plane_bytes,
                         Py_ssize_t nunits) noexcept nogil:
    """A ring of ``nslots`` planes for a thread sweeping ``nunits`` output
    planes, allocated only where it pays (else ring.planes stays NULL).
    Returns 0, or -1 if out of memory."""
    ring.planes = NULL
    ring.sources = NULL
    ring.nslots = nslots
    ring.plane_bytes = plane_bytes
    ring.slot_stride = (plane_bytes + 4095) // 4096 * 4096 + PLANE_RING_SKEW
    # a thread's first window copies nslots - 1 planes it shares with the
    # thread before; with at least 2 * nslots planes of its own those copies
    # stay a minority, and all rings together under half the input
    if (nslots < PLANE_RING_MIN_SLOTS or nunits < 2 * nslots
            or nslots * ring.slot_stride > PLANE_RING_MAX_KIB * 1024):
        return 0
    ring.planes = <char*>scratch_alloc(nslots * (ring.slot_stride + sizeof(char*)))
    if ring.planes == NULL:
        return -1
    ring.sources = <const char**>(ring.planes + nslots * ring.slot_stride)
    cdef Py_ssize_t i
    for i in range(nslots):
        ring.sources[i] = NULL
    return 0


cdef inline const char* ring_plane(PlaneRing* ring, Py_ssize_t position,
                                   const char* source) noexcept nogil:
    """The ring's copy of ``source``, the plane at padded z ``position``,
    copied there if its slot holds another."""
    cdef Py_ssize_t slot = position % ring.nslots
    if slot < 0:
        slot += ring.nslots
    cdef char* copy = ring.planes + slot * ring.slot_stride
    if ring.sources[slot] != source:
        memcpy(copy, source, ring.plane_bytes)
        ring.sources[slot] = source
    return copy


cdef int separable_planes(const char* src, char* dst, const RowGeometry* g,
                          imgconv_work* work, int tid,
                          const acc_t* zw, Py_ssize_t nz, const Py_ssize_t* z_offset,
                          const acc_t* yw, Py_ssize_t ny, const Py_ssize_t* y_offset,
                          const acc_t* xw, Py_ssize_t nx, const Py_ssize_t* x_offset,
                          const acc_t* const_plane, acc_t cval_z, acc_t cval_yx,
                          int acc_dtype) noexcept nogil:
    """The output planes (units numbered over batch, plane) thread ``tid``
    takes from ``work``, of a kernel separable in z, y and x: the z taps
    combine whole source planes (read in place) into plane buffers, whose
    rows the y taps combine into
    padded staging rows that the x taps filter.  The same sums, in the same
    order, as a z pass followed by a fused y-x pass, without the
    intermediate volume.

    Where the taps slide (``slides``), IMGCONV_SLIDING_OUTPUTS consecutive
    planes, and rows, share one sliding sum that loads each source plane or
    row once for all of them.  Source planes sit a multiple of 4 KiB apart,
    so the caches hold only a few of the same offsets at once: fewer loads
    per tap is what speeds the z taps up; so does copying each source plane
    once into a ring (PlaneRing) whose slots sit a cache line apart modulo
    4 KiB.  Returns 0, or -1 if out of memory."""
    cdef Py_ssize_t plane_size = g.height * g.width
    cdef Py_ssize_t u, b, oz, t, q, mz, p, i, position, nplanes = 1
    cdef Py_ssize_t nstaged = IMGCONV_SLIDING_OUTPUTS
    cdef Py_ssize_t wp = (nstaged + 2) * g.padded_width + g.out_width
    cdef bint sliding = (slides(z_offset, nz, g.stride[0], g.dilation[0])
                         and IMGCONV_SLIDING_OUTPUTS * plane_size * sizeof(acc_t)
                         <= SLIDING_PLANES_MAX_KIB * 1024)
    cdef acc_t staged_cval = 0
    cdef const char* source
    cdef PlaneRing ring
    cdef int64_t unit_begin, unit_end
    # units [planes_from, planes_to) had their interior rows computed together
    cdef int64_t planes_from = 0, planes_to = 0
    if not imgconv_work_take(work, tid, &unit_begin, &unit_end):
        return 0
    if sliding:
        nplanes = IMGCONV_SLIDING_OUTPUTS
    # ring slots need windows of consecutive positions: sliding ones
    if open_plane_ring(&ring, nz + nplanes - 1 if sliding else 0,
                       plane_size * sizeof(acc_t), imgconv_work_initial(work, tid)) < 0:
        return -1
    cdef acc_t* planes = <acc_t*>scratch_alloc((nplanes * plane_size + wp) * sizeof(acc_t)
                                        + (nz + nplanes - 1 + ny + nstaged - 1 + nstaged * nx
                                           + nplanes + nstaged) * sizeof(acc_t*))
    if planes == NULL:
        scratch_free(ring.planes)
        return -1
    cdef acc_t* staged = planes + nplanes * plane_size
    cdef acc_t* acc = staged + nstaged * g.padded_width
    cdef acc_t* const_row = acc + g.out_width
    cdef acc_t* zero_row = const_row + g.padded_width
    cdef acc_t** zptr = <acc_t**>(zero_row + g.padded_width)
    cdef acc_t** yptr = zptr + nz + nplanes - 1
    cdef acc_t** xptr = yptr + ny + nstaged - 1     # nx per staging row
    cdef acc_t** plane_ptr = xptr + nstaged * nx
    cdef acc_t** staged_ptr = plane_ptr + nplanes
    for i in range(nplanes):
        plane_ptr[i] = planes + i * plane_size
    for i in range(nstaged):
        staged_ptr[i] = staged + i * g.padded_width + g.xrow.interior_lo
        point_x_taps(xptr + i * nx, staged + i * g.padded_width, zero_row, xw, x_offset, nx)
    for q in range(g.padded_width):
        const_row[q] = cval_yx
        zero_row[q] = 0
    staged_cval = sum_of_constant(const_row, yptr, yw, ny)
    while True:
        u = unit_begin
        while u < unit_end:
            b = u // g.out_depth
            oz = u % g.out_depth
            p = nplanes if u + nplanes <= unit_end and oz + nplanes <= g.out_depth else 1
            for t in range(nz + p - 1):
                position = oz * g.stride[0] - g.pad_lo[0] + window_offset(z_offset, nz, t)
                mz = map_index(position, g.depth, g.mode)
                if mz < 0:
                    zptr[t] = <acc_t*>const_plane
                    continue
                source = src + b * g.in_strides[0] + mz * g.in_strides[1]
                if ring.planes != NULL:
                    source = ring_plane(&ring, position, source)
                zptr[t] = <acc_t*>source
            if p > 1:
                accumulate_sliding(plane_ptr, zptr, zw, 1, nz, plane_size)
            else:
                accumulate_taps(planes, zptr, zw, nz, plane_size, 1)
            for i in range(p):
                filter_plane_rows(plane_ptr[i], g, dst + b * g.out_strides[0]
                                  + (oz + i) * g.out_strides[1], yptr, yw, ny, y_offset,
                                  const_row, staged, staged_ptr, staged_cval, xptr, xw, nx, acc,
                                  acc_dtype)
            u += p
        if not imgconv_work_take(work, tid, &unit_begin, &unit_end):
            break
    scratch_free(ring.planes)
    scratch_free(planes)
    return 0


cdef inline void filter_plane_rows(acc_t* plane, const RowGeometry* g, char* out_plane,
                                   acc_t** yptr, const acc_t* yw, Py_ssize_t ny,
                                   const Py_ssize_t* y_offset, acc_t* const_row,
                                   acc_t* staged, acc_t** staged_ptr, acc_t staged_cval,
                                   acc_t** xptr, const acc_t* xw, Py_ssize_t nx, acc_t* acc,
                                   int acc_dtype) noexcept nogil:
    """The y and x stages of separable_planes: every output row of one plane
    from its z-combined ``plane``, IMGCONV_SLIDING_OUTPUTS rows at a time
    where the y taps slide (``staged``: that many staging rows, whose
    interiors ``staged_ptr`` points to; ``xptr``: the nx x taps on each)."""
    cdef Py_ssize_t oy = 0, t, my, i, n, row_len = g.padded_width
    cdef Py_ssize_t q_lo = g.xrow.interior_lo, q_hi = g.xrow.interior_hi
    cdef bint direct_out = g.out_dtype == acc_dtype and g.out_strides[3] == sizeof(acc_t)
    cdef Py_ssize_t out_step = g.out_strides[3] // itemsize(g.out_dtype)
    cdef bint sliding = slides(y_offset, ny, g.stride[1], g.dilation[1]) and q_hi > q_lo
    while oy < g.out_height:
        n = (IMGCONV_SLIDING_OUTPUTS if sliding and oy + IMGCONV_SLIDING_OUTPUTS <= g.out_height
             else 1)
        for t in range(ny + n - 1):
            my = map_index(oy * g.stride[1] - g.pad_lo[1] + window_offset(y_offset, ny, t),
                           g.height, g.mode)
            yptr[t] = (plane + my * g.width + (q_lo - g.pad_lo[2]) if my >= 0
                       else const_row)
        if n > 1:
            accumulate_sliding(staged_ptr, yptr, yw, 1, ny, q_hi - q_lo)
        elif q_hi > q_lo:
            accumulate_taps(staged + q_lo, yptr, yw, ny, q_hi - q_lo, 1)
        for i in range(n):
            filter_staged_row(staged + i * row_len, g, staged_cval, xptr + i * nx, xw, nx,
                              out_plane + (oy + i) * g.out_strides[2], acc, direct_out,
                              out_step)
        oy += n


cdef int _separable_run(const acc_t[::1] zw_all, const acc_t[::1] yw_all, const acc_t[::1] xw_all,
                        const char* src, char* dst, RowGeometry* g, acc_t cval_z, acc_t cval_yx,
                        int nthreads) except -1:
    """Taps of the three 1D kernels (nonzero ones; x padded to whole passes),
    then the sweep over planes."""
    dtype = np.float32 if acc_t is float else np.float64
    cdef Py_ssize_t nz, ny, nx, tid
    cdef int acc_dtype = DT_FLOAT32 if acc_t is float else DT_FLOAT64
    cdef acc_t[::1] zw = np.zeros(zw_all.shape[0], dtype)
    cdef acc_t[::1] yw = np.zeros(yw_all.shape[0], dtype)
    cdef acc_t[::1] xw = np.zeros(xw_all.shape[0] + TAPS_PER_PASS, dtype)
    cdef Py_ssize_t[::1] z_offset = np.zeros(zw_all.shape[0], np.intp)
    cdef Py_ssize_t[::1] y_offset = np.zeros(yw_all.shape[0], np.intp)
    cdef Py_ssize_t[::1] x_offset = np.zeros(xw_all.shape[0] + TAPS_PER_PASS, np.intp)
    nz = keep_nonzero(&zw_all[0], zw_all.shape[0], g.dilation[0], &zw[0], &z_offset[0])
    ny = keep_nonzero(&yw_all[0], yw_all.shape[0], g.dilation[1], &yw[0], &y_offset[0])
    nx = whole_passes(keep_nonzero(&xw_all[0], xw_all.shape[0], g.dilation[2], &xw[0],
                                   &x_offset[0]))
    cdef acc_t[::1] const_plane = np.full(g.height * g.width if g.mode == MODE_ZERO else 1,
                                          cval_z, dtype)
    cdef Py_ssize_t nunits = g.nbatch * g.out_depth
    nthreads = max(1, min(nthreads, nunits))
    cdef int* status
    cdef imgconv_work work
    # owners take a sliding window's planes at a time
    work_storage = share_work(&work, nthreads, nunits, IMGCONV_SLIDING_OUTPUTS, &status)
    with nogil, parallel(num_threads=nthreads):
        tid = threadid()
        status[tid] = separable_planes(
            src, dst, g, &work, tid,
            &zw[0], nz, &z_offset[0], &yw[0], ny, &y_offset[0], &xw[0], nx, &x_offset[0],
            &const_plane[0], cval_z, cval_yx, acc_dtype)
    check_scratch(status, nthreads)
    return 0


def separable_volume(cnp.ndarray x, cnp.ndarray out, cnp.ndarray zw, cnp.ndarray yw,
                     cnp.ndarray xw, stride, dilation, pad_lo, int mode, double cval_z,
                     double cval_yx, int out_dtype, int nthreads):
    """Correlate ``x`` (B, D, H, W), whose planes hold compute-type values
    contiguously, with the outer product of the 1D kernels ``zw``, ``yw``,
    ``xw`` (compute-typed) into ``out``: a z pass padded with ``cval_z``, then
    a y-x pass padded with ``cval_yx``, plane by plane.  Returns False
    (doing nothing) when the x padding does not allow it.

    Private: ``imgconv._validate`` has already checked and normalised every
    argument; the caller checks the plane layout.
    """
    cdef RowGeometry g
    set_geometry(&g, x, out, stride, dilation, pad_lo, mode)
    g.in_dtype = DT_FLOAT32 if x.dtype == np.float32 else DT_FLOAT64
    g.out_dtype = out_dtype
    g.kernel_extent = g.dilation[2] * (xw.shape[0] - 1) + 1
    g.padded_width = (g.out_width - 1) * g.stride[2] + g.kernel_extent
    cdef Py_ssize_t[::1] xtable = np.empty(g.padded_width, np.intp)
    set_padded_row(&g.xrow, &xtable[0], g.padded_width, g.pad_lo[2], g.width, g.mode)
    if not pads_from_interior(&g.xrow, g.padded_width):
        return False
    cdef const char* src = <const char*>cnp.PyArray_DATA(x)
    cdef char* dst = <char*>cnp.PyArray_DATA(out)
    if x.dtype == np.float32:
        _separable_run[float](zw, yw, xw, src, dst, &g, <float>cval_z, <float>cval_yx, nthreads)
    else:
        _separable_run[double](zw, yw, xw, src, dst, &g, cval_z, cval_yx, nthreads)
    return True


# Running maximum and minimum: grey-scale dilation and erosion.
#
# Values stay in the array's own dtype (a maximum is exact in any type), so a
# uint8 image runs 32 lanes to an AVX2 vector.  A NaN anywhere in a window
# makes the result NaN, as numpy.maximum does.
#
# Along the contiguous axis, a window of L samples is the extreme of two
# overlapping power-of-two windows read from a "ladder" (level m of a row
# holds the extremes over 2**m samples): about log2(L) vector passes, which
# beats a scalar recurrence for every window up to LADDER_MAX_WINDOW; longer
# windows use the van Herk / Gil-Werman recurrence (three comparisons per
# sample, whatever L).  Along outer axes the samples are whole rows, so van
# Herk / Gil-Werman runs on contiguous rows at three vector row operations per
# output row; windows of up to DIRECT_MAX_WINDOW rows are combined directly.

from libc.stdint cimport uint32_t, INT64_MIN, INT64_MAX, UINT64_MAX

cdef enum:
    LADDER_MAX_WINDOW = 64
    DIRECT_MAX_WINDOW = 3
    # row storage per thread for passes along outer axes: column blocks are
    # narrowed so their rows stay in the L2 cache
    EXTREME_BLOCK_KIB = 256
    # ladders of an arbitrary footprint's rows, per thread
    FOOTPRINT_LADDER_MIB = 8


cdef inline src_t max2(src_t a, src_t b) noexcept nogil:
    # `a > b ? a : b` is one maxps (NaN in b wins); a NaN in a is added back
    cdef src_t larger = a if a > b else b
    if src_t is float or src_t is double:
        return a if a != a else larger
    return larger


cdef inline src_t min2(src_t a, src_t b) noexcept nogil:
    cdef src_t smaller = a if a < b else b
    if src_t is float or src_t is double:
        return a if a != a else smaller
    return smaller


cdef void combine(src_t* dst, const src_t* a, const src_t* b, Py_ssize_t n,
                  bint is_max) noexcept nogil:
    """dst[i] = op(a[i], b[i]), op being max or min; dst is neither a nor b."""
    cdef Py_ssize_t i
    if is_max:
        for i in range(n):
            dst[i] = max2(a[i], b[i])
    else:
        for i in range(n):
            dst[i] = min2(a[i], b[i])


cdef void combine_into(src_t* acc, const src_t* b, Py_ssize_t n, bint is_max) noexcept nogil:
    """acc[i] = op(acc[i], b[i])."""
    cdef Py_ssize_t i
    if is_max:
        for i in range(n):
            acc[i] = max2(acc[i], b[i])
    else:
        for i in range(n):
            acc[i] = min2(acc[i], b[i])


cdef void combine3_into(src_t* acc, const src_t* a, const src_t* b, Py_ssize_t n,
                        bint is_max) noexcept nogil:
    """acc[i] = op(acc[i], a[i], b[i])."""
    cdef Py_ssize_t i
    if is_max:
        for i in range(n):
            acc[i] = max2(acc[i], max2(a[i], b[i]))
    else:
        for i in range(n):
            acc[i] = min2(acc[i], min2(a[i], b[i]))


cdef void combine3(src_t* dst, const src_t* a, const src_t* b, const src_t* c, Py_ssize_t n,
                   bint is_max) noexcept nogil:
    """dst[i] = op(a[i], b[i], c[i]) in one sweep; dst is none of a, b, c."""
    cdef Py_ssize_t i
    cdef src_t larger, smaller
    # written so that GCC vectorises it: `x > y ? x : y` is one maxps (y where
    # either is NaN), then the NaNs of c and a are put back by a compare and
    # a blend each (max2(max2(a, b), c), the same operations, stayed scalar:
    # a 256² float32 3×3 dilation took 4 times as long)
    if is_max:
        for i in range(n):
            larger = a[i] if a[i] > b[i] else b[i]
            larger = c[i] if c[i] > larger else larger
            if src_t is float or src_t is double:
                larger = c[i] if c[i] != c[i] else larger
                larger = a[i] if a[i] != a[i] else larger
            dst[i] = larger
    else:
        for i in range(n):
            smaller = a[i] if a[i] < b[i] else b[i]
            smaller = c[i] if c[i] < smaller else smaller
            if src_t is float or src_t is double:
                smaller = c[i] if c[i] != c[i] else smaller
                smaller = a[i] if a[i] != a[i] else smaller
            dst[i] = smaller


cdef inline void fill_row(src_t* dst, src_t value, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = value


cdef inline void copy_row(src_t* dst, const src_t* src, Py_ssize_t step, Py_ssize_t n) noexcept nogil:
    """dst[i] = src[i * step]; with step 1 a memcpy."""
    cdef Py_ssize_t i
    if step == 1:
        memcpy(dst, src, n * sizeof(src_t))
    else:
        for i in range(n):
            dst[i] = src[i * step]


cdef inline void scatter_row(src_t* dst, Py_ssize_t step, const src_t* src, Py_ssize_t n) noexcept nogil:
    """dst[i * step] = src[i]."""
    cdef Py_ssize_t i
    for i in range(n):
        dst[i * step] = src[i]


cdef Py_ssize_t ladder_levels(Py_ssize_t window) noexcept nogil:
    """Levels a ladder needs for windows up to ``window``: floor(log2(window)) + 1."""
    cdef Py_ssize_t levels = 1
    while (<Py_ssize_t>1 << levels) <= window:
        levels += 1
    return levels


cdef void build_ladder(src_t* ladder, Py_ssize_t width, Py_ssize_t levels,
                       bint is_max) noexcept nogil:
    """From level 0 (``width`` samples), fill levels 1 .. levels-1:
    ladder[m * width + i] = op of level-0 samples i .. i + 2**m - 1."""
    cdef Py_ssize_t m, half
    for m in range(1, levels):
        half = <Py_ssize_t>1 << (m - 1)
        if width - 2 * half + 1 > 0:
            combine(ladder + m * width, ladder + (m - 1) * width,
                    ladder + (m - 1) * width + half, width - 2 * half + 1, is_max)


cdef inline void window_from_ladder(src_t* dst, const src_t* ladder, Py_ssize_t width,
                                    Py_ssize_t start, Py_ssize_t window, Py_ssize_t n,
                                    bint first, bint is_max) noexcept nogil:
    """dst[i] = (first) or op(dst[i], ...) the op of level-0 samples
    start + i .. start + i + window - 1, for i < n."""
    cdef Py_ssize_t m = ladder_levels(window) - 1
    cdef const src_t* level = ladder + m * width + start
    cdef Py_ssize_t shift = window - (<Py_ssize_t>1 << m)
    if first:
        if shift == 0:
            memcpy(dst, level, n * sizeof(src_t))
        else:
            combine(dst, level, level + shift, n, is_max)
    elif shift == 0:
        combine_into(dst, level, n, is_max)
    else:
        combine3_into(dst, level, level + shift, n, is_max)


cdef void van_herk_row(src_t* dst, const src_t* src, Py_ssize_t n, Py_ssize_t window,
                       src_t* suffix, bint is_max) noexcept nogil:
    """dst[i] = op(src[i .. i + window - 1]) for i < n (``src`` holds
    n + window - 1 samples) by van Herk / Gil-Werman: per block of ``window``
    samples, suffix extremes of the block and prefix extremes of the next."""
    cdef Py_ssize_t t, last
    cdef src_t prefix
    cdef Py_ssize_t base = 0
    while base < n:
        suffix[window - 1] = src[base + window - 1]
        for t in range(window - 2, -1, -1):
            suffix[t] = max2(src[base + t], suffix[t + 1]) if is_max else min2(src[base + t], suffix[t + 1])
        dst[base] = suffix[0]
        last = min(window, n - base)
        prefix = src[base + window]
        for t in range(1, last):
            if t > 1:
                prefix = (max2(prefix, src[base + window + t - 1]) if is_max
                          else min2(prefix, src[base + window + t - 1]))
            dst[base + t] = max2(suffix[t], prefix) if is_max else min2(suffix[t], prefix)
        base += window


cdef void extreme_row_x(src_t* dst, src_t* ladder, Py_ssize_t n, Py_ssize_t window,
                        bint is_max) noexcept nogil:
    """dst[i] = op of ladder[i .. i + window - 1] for i < n, where ``ladder``
    holds the n + window - 1 samples of a padded row as its level 0 and has
    room for ladder_levels(window) levels (or, past LADDER_MAX_WINDOW, for
    ``window`` more samples of scratch)."""
    cdef Py_ssize_t width = n + window - 1
    if window == 1:
        memcpy(dst, ladder, n * sizeof(src_t))
    elif window == 2:
        combine(dst, ladder, ladder + 1, n, is_max)
    elif window == 3:
        # one sweep instead of a ladder level and a sweep over it
        combine3(dst, ladder, ladder + 1, ladder + 2, n, is_max)
    elif window <= LADDER_MAX_WINDOW:
        build_ladder(ladder, width, ladder_levels(window), is_max)
        window_from_ladder(dst, ladder, width, 0, window, n, True, is_max)
    else:
        van_herk_row(dst, ladder, n, window, ladder + width, is_max)


cdef Py_ssize_t row_scratch_length(Py_ssize_t n, Py_ssize_t window) noexcept nogil:
    """Samples extreme_row_x needs in ``ladder`` for rows of n outputs."""
    if window <= LADDER_MAX_WINDOW:
        return (n + window - 1) * ladder_levels(window)
    return n + 2 * window


# --------------------------------------------------------------------------
# One pass along an outer axis, with the contiguous axis optionally fused
# --------------------------------------------------------------------------
cdef struct ExtremePass:
    Py_ssize_t lines, count, height, width     # (B, L, N, W): lines = B * L
    Py_ssize_t in_strides[4]
    Py_ssize_t out_strides[4]                  # bytes
    Py_ssize_t window, pad_lo                  # along N
    Py_ssize_t x_window                        # along W (1: no fused x pass)
    Py_ssize_t z_window, z_pad_lo              # along L (1: no fused L pass)
    Py_ssize_t block, nblocks                  # column blocks
    Py_ssize_t tile, ntiles                    # row tiles (when lines are too few for the threads)
    int mode
    bint is_max
    PaddedRow xrow


cdef void combine_value_into(src_t* acc, src_t value, Py_ssize_t n, bint is_max) noexcept nogil:
    """acc[i] = op(acc[i], value)."""
    cdef Py_ssize_t i
    if is_max:
        for i in range(n):
            acc[i] = max2(acc[i], value)
    else:
        for i in range(n):
            acc[i] = min2(acc[i], value)


cdef void combine_row_into(src_t* acc, const src_t* src, Py_ssize_t step, Py_ssize_t start,
                           Py_ssize_t stop, const PaddedRow* row, src_t cval,
                           bint is_max) noexcept nogil:
    """acc[j - start] = op(acc[j - start], padded position j of a source row)
    for j in [start, stop): the interior straight from the source (unit
    step), only the borders through the table."""
    cdef Py_ssize_t j, idx
    cdef Py_ssize_t lo = min(max(row.interior_lo, start), stop)
    cdef Py_ssize_t hi = min(max(row.interior_hi, lo), stop)
    cdef src_t value
    for j in range(start, lo):
        idx = row.table[j]
        value = src[idx * step] if idx >= 0 else cval
        acc[j - start] = max2(acc[j - start], value) if is_max else min2(acc[j - start], value)
    combine_into(acc + (lo - start), src + (lo - row.pad_lo), hi - lo, is_max)
    for j in range(hi, stop):
        idx = row.table[j]
        value = src[idx * step] if idx >= 0 else cval
        acc[j - start] = max2(acc[j - start], value) if is_max else min2(acc[j - start], value)


cdef void pass_row(const ExtremePass* g, const char* item, Py_ssize_t plane, Py_ssize_t position,
                   Py_ssize_t x0, Py_ssize_t width, src_t* dst, src_t* ladder, src_t* staged,
                   src_t cval) noexcept nogil:
    """dst = padded position ``position`` along N of the line at ``plane``
    of batch item ``item`` (columns x0 .. x0 + width - 1), first combined
    over the fused window along L (directly: z_window is small), then
    reduced along W when the pass fuses x."""
    cdef Py_ssize_t index = map_index(position - g.pad_lo, g.height, g.mode)
    cdef Py_ssize_t step = g.in_strides[3] // sizeof(src_t)
    cdef Py_ssize_t length = width if g.x_window == 1 else width + g.x_window - 1
    cdef Py_ssize_t tz, source_plane
    cdef src_t* target = dst if g.x_window == 1 else ladder
    cdef const src_t* src
    for tz in range(g.z_window):
        source_plane = (plane if g.z_window == 1
                        else map_index(plane + tz - g.z_pad_lo, g.count, g.mode))
        if index < 0 or source_plane < 0:
            if tz == 0:
                fill_row(target, cval, length)
            else:
                combine_value_into(target, cval, length, g.is_max)
            continue
        src = <const src_t*>(item + source_plane * g.in_strides[1] + index * g.in_strides[2])
        if tz == 0:
            if g.x_window == 1:
                copy_row(target, src + x0 * step, step, width)
            else:
                load_row_typed(src, step, target, x0, x0 + length, &g.xrow, cval)
        elif step != 1:
            # later rows combine straight from the source when it is contiguous
            if g.x_window == 1:
                copy_row(staged, src + x0 * step, step, width)
            else:
                load_row_typed(src, step, staged, x0, x0 + length, &g.xrow, cval)
            combine_into(target, staged, length, g.is_max)
        elif g.x_window == 1:
            combine_into(target, src + x0, width, g.is_max)
        else:
            combine_row_into(target, src, 1, x0, x0 + length, &g.xrow, cval, g.is_max)
    if g.x_window > 1:
        extreme_row_x(dst, ladder, width, g.x_window, g.is_max)


cdef void combine_rows(src_t* dst, const src_t** rows, Py_ssize_t nrows, Py_ssize_t n,
                       bint has_cval, src_t cval, bint is_max) noexcept nogil:
    """dst[i] = op over rows[r][i] (r < nrows <= DIRECT_MAX_WINDOW), and cval
    with ``has_cval``, in one sweep where there are up to three rows."""
    if nrows == 0:
        fill_row(dst, cval, n)
        return
    if nrows == 1:
        memcpy(dst, rows[0], n * sizeof(src_t))
    elif nrows == 2:
        combine(dst, rows[0], rows[1], n, is_max)
    else:
        combine3(dst, rows[0], rows[1], rows[2], n, is_max)
    if has_cval:
        combine_value_into(dst, cval, n, is_max)


cdef inline src_t column_extreme(const src_t** rows, Py_ssize_t nrows, Py_ssize_t column,
                                 bint has_cval, src_t cval, bint is_max) noexcept nogil:
    """op over rows[r][column] (r < nrows), and cval with ``has_cval``; cval
    for column -1 (a position of the constant border)."""
    cdef Py_ssize_t r
    cdef src_t value
    if column < 0 or nrows == 0:
        return cval
    value = rows[0][column]
    for r in range(1, nrows):
        value = max2(value, rows[r][column]) if is_max else min2(value, rows[r][column])
    if has_cval:
        value = max2(value, cval) if is_max else min2(value, cval)
    return value


cdef void window_rows_then_x(const ExtremePass* g, const char* item, Py_ssize_t plane,
                             Py_ssize_t first, Py_ssize_t x0, Py_ssize_t width, src_t* dst,
                             src_t* ladder, src_t cval) noexcept nogil:
    """dst = the output row whose window along N starts at padded position
    ``first`` (columns x0 .. x0 + width - 1), for a pass with a short window
    along N (<= DIRECT_MAX_WINDOW), no fused L window and contiguous source
    rows: the window's rows are combined straight from the source in one
    sweep (into ``ladder``'s level 0 when x is fused, with the x padding),
    then reduced along W.  Each output row reads its k source rows again, but
    no row is copied first: two sweeps per row for a 3×3 box instead of five."""
    cdef const src_t* rows[DIRECT_MAX_WINDOW]
    cdef Py_ssize_t nrows = 0
    cdef bint has_cval = False
    cdef Py_ssize_t t, index, j, r, idx, lo, hi
    cdef Py_ssize_t length = width + g.x_window - 1
    cdef src_t* target = dst if g.x_window == 1 else ladder
    cdef src_t value, sample
    for t in range(g.window):
        index = map_index(first + t - g.pad_lo, g.height, g.mode)
        if index < 0:
            has_cval = True
        else:
            rows[nrows] = <const src_t*>(item + plane * g.in_strides[1] + index * g.in_strides[2])
            nrows += 1
    if g.x_window == 1:
        for r in range(nrows):
            rows[r] += x0
        combine_rows(target, rows, nrows, width, has_cval, cval, g.is_max)
        return
    # padded positions x0 .. x0 + length - 1 along W: the interior [lo, hi)
    # in one sweep, the few border positions through the table
    lo = min(max(g.xrow.interior_lo, x0), x0 + length)
    hi = min(max(g.xrow.interior_hi, lo), x0 + length)
    for j in range(x0, lo):
        target[j - x0] = column_extreme(rows, nrows, g.xrow.table[j], has_cval, cval, g.is_max)
    for j in range(hi, x0 + length):
        target[j - x0] = column_extreme(rows, nrows, g.xrow.table[j], has_cval, cval, g.is_max)
    for r in range(nrows):
        rows[r] += lo - g.xrow.pad_lo
    combine_rows(target + (lo - x0), rows, nrows, hi - lo, has_cval, cval, g.is_max)
    extreme_row_x(dst, ladder, width, g.x_window, g.is_max)


cdef int extreme_pass_units(const char* src, char* out, const ExtremePass* g,
                            imgconv_work* work, int tid, src_t cval) noexcept nogil:
    """The units of a pass that thread ``tid`` takes from ``work``: a unit is
    one row tile of one column block of one line.  Returns 0, or -1 if the
    scratch could not be allocated."""
    cdef Py_ssize_t k = g.window
    cdef Py_ssize_t width_max = g.block
    cdef Py_ssize_t ladder_len = row_scratch_length(width_max, g.x_window) if g.x_window > 1 else 0
    cdef Py_ssize_t u, b, x0, y0, width, count, i, t, base, j
    cdef Py_ssize_t out_step = g.out_strides[3] // sizeof(src_t)
    cdef const char* item_src
    cdef Py_ssize_t plane
    cdef char* line_out
    cdef src_t* dst
    cdef src_t* rows
    cdef src_t* suffix
    cdef src_t* following
    cdef src_t* swap
    cdef src_t* prefix
    cdef src_t* result
    cdef src_t* ladder
    cdef src_t* staged
    cdef src_t* scratch
    cdef int64_t unit_begin, unit_end
    if not imgconv_work_take(work, tid, &unit_begin, &unit_end):
        return 0
    cdef Py_ssize_t staged_len = width_max + g.x_window - 1
    scratch = <src_t*>scratch_alloc(((2 * k + 2) * width_max + ladder_len + staged_len) * sizeof(src_t))
    if scratch == NULL:
        return -1
    # direct: a ring of k rows; van Herk: k suffix rows, then the k raw rows
    # of the next block
    rows = scratch
    prefix = scratch + 2 * k * width_max
    result = prefix + width_max
    ladder = result + width_max
    staged = ladder + ladder_len
    while True:
        for u in range(unit_begin, unit_end):
            # units go (batch, column block, row tile, plane): consecutive planes
            # share the rows of a fused depth window
            b = u // (g.nblocks * g.ntiles * g.count)
            x0 = (u // (g.ntiles * g.count)) % g.nblocks * g.block
            y0 = (u // g.count) % g.ntiles * g.tile
            plane = u % g.count
            width = min(g.block, g.width - x0)
            count = min(g.tile, g.height - y0)
            item_src = src + b * g.in_strides[0]
            line_out = (out + b * g.out_strides[0] + plane * g.out_strides[1] + y0 * g.out_strides[2]
                        + x0 * g.out_strides[3])
            if k <= DIRECT_MAX_WINDOW and g.z_window == 1 and g.in_strides[3] == sizeof(src_t):
                for i in range(count):
                    dst = <src_t*>(line_out + i * g.out_strides[2]) if out_step == 1 else result
                    window_rows_then_x(g, item_src, plane, y0 + i, x0, width, dst, ladder, cval)
                    if out_step != 1:
                        scatter_row(<src_t*>(line_out + i * g.out_strides[2]), out_step, result, width)
                continue
            if k <= DIRECT_MAX_WINDOW:
                for j in range(k - 1):
                    pass_row(g, item_src, plane, y0 + j, x0, width, rows + j * width_max, ladder,
                             staged, cval)
                for i in range(count):
                    j = (i + k - 1) % k
                    pass_row(g, item_src, plane, y0 + i + k - 1, x0, width, rows + j * width_max,
                             ladder, staged, cval)
                    dst = <src_t*>(line_out + i * g.out_strides[2]) if out_step == 1 else result
                    if k == 1:
                        memcpy(dst, rows, width * sizeof(src_t))
                    else:
                        combine(dst, rows, rows + width_max, width, g.is_max)
                        for j in range(2, k):
                            combine_into(dst, rows + j * width_max, width, g.is_max)
                    if out_step != 1:
                        scatter_row(<src_t*>(line_out + i * g.out_strides[2]), out_step, result, width)
                continue
            suffix = rows
            following = rows + k * width_max
            base = 0
            while base < count:
                if base == 0:
                    for t in range(k - 1):
                        pass_row(g, item_src, plane, y0 + t, x0, width, suffix + t * width_max, ladder,
                                 staged, cval)
                else:
                    swap = suffix
                    suffix = following
                    following = swap
                pass_row(g, item_src, plane, y0 + base + k - 1, x0, width,
                         suffix + (k - 1) * width_max, ladder, staged, cval)
                for t in range(k - 2, -1, -1):
                    combine_into(suffix + t * width_max, suffix + (t + 1) * width_max, width, g.is_max)
                for t in range(min(k, count - base)):
                    dst = <src_t*>(line_out + (base + t) * g.out_strides[2]) if out_step == 1 else result
                    if t == 0:
                        memcpy(dst, suffix, width * sizeof(src_t))
                    else:
                        pass_row(g, item_src, plane, y0 + base + k + t - 1, x0, width,
                                 following + (t - 1) * width_max, ladder, staged, cval)
                        if t == 1:
                            combine(dst, suffix + width_max, following, width, g.is_max)
                        else:
                            if t == 2:
                                combine(prefix, following, following + width_max, width, g.is_max)
                            else:
                                combine_into(prefix, following + (t - 1) * width_max, width, g.is_max)
                            combine(dst, suffix + t * width_max, prefix, width, g.is_max)
                    if out_step != 1:
                        scatter_row(<src_t*>(line_out + (base + t) * g.out_strides[2]), out_step,
                                    result, width)
                base += k
        if not imgconv_work_take(work, tid, &unit_begin, &unit_end):
            break
    scratch_free(scratch)
    return 0


cdef int _extreme_pass_run(src_t* typed, const char* src, char* out, ExtremePass* g,
                           object cval, int nthreads) except -1:
    cdef Py_ssize_t nunits, tid
    cdef Py_ssize_t rows = 2 * g.window + 3 + (ladder_levels(g.x_window) if g.x_window > 1 else 0)
    cdef Py_ssize_t budget = EXTREME_BLOCK_KIB * 1024 // sizeof(src_t) // rows
    cdef Py_ssize_t[::1] xtable
    g.block = g.width
    if g.width > budget:
        # narrower blocks, but not so narrow that the x halo dominates
        g.block = min(g.width, max(256, 4 * g.x_window, budget // 64 * 64))
    g.nblocks = (g.width + g.block - 1) // g.block
    g.tile = g.height
    # few lines (a 2D image is one line): tiles are what the threads share
    cdef Py_ssize_t wanted = 4 * nthreads
    if g.lines * g.nblocks < wanted:
        g.tile = min(g.tile, max(8 * g.window, -(-g.height // (wanted // (g.lines * g.nblocks)))))
    g.ntiles = (g.height + g.tile - 1) // g.tile
    if g.x_window > 1:
        xtable = np.empty(g.width + g.x_window, np.intp)
        set_padded_row(&g.xrow, &xtable[0], g.width + g.x_window - 1, g.xrow.pad_lo, g.width,
                       g.mode)
    nunits = g.lines * g.nblocks * g.ntiles
    nthreads = max(1, min(nthreads, nunits))
    cdef int* status
    cdef src_t value = cval
    cdef imgconv_work work
    work_storage = share_work(&work, nthreads, nunits, 1, &status)
    with nogil, parallel(num_threads=nthreads):
        tid = threadid()
        status[tid] = extreme_pass_units(src, out, g, &work,
                                         tid, value)
    check_scratch(status, nthreads)
    return 0


def extreme_pass(cnp.ndarray x, cnp.ndarray out, Py_ssize_t window, Py_ssize_t pad_lo,
                 Py_ssize_t x_window, Py_ssize_t x_pad_lo, Py_ssize_t z_window,
                 Py_ssize_t z_pad_lo, int mode, object cval, bint is_max, int dtype,
                 int nthreads):
    """Running max (``is_max``) or min over ``window`` samples along axis 2 of
    (B, L, N, W) ``x`` and, fused into the same sweep, over ``x_window``
    samples along axis 3 and ``z_window`` samples along axis 1 (combined
    directly, so meant for short windows), into ``out`` of the same shape and
    dtype.

    Output i along an axis takes padded positions i .. i + window - 1, where
    position j reads sample j - pad_lo (boundary ``mode``, ``cval`` for the
    constant mode, already a value of the dtype).
    """
    cdef ExtremePass g
    cdef int i
    g.lines = x.shape[0] * x.shape[1]
    g.count = x.shape[1]
    g.height = x.shape[2]
    g.width = x.shape[3]
    for i in range(4):
        g.in_strides[i] = x.strides[i]
        g.out_strides[i] = out.strides[i]
    g.window = window
    g.pad_lo = pad_lo
    g.x_window = x_window
    g.z_window = z_window
    g.z_pad_lo = z_pad_lo
    g.xrow.pad_lo = x_pad_lo
    g.mode = mode
    g.is_max = is_max
    cdef const char* src = <const char*>cnp.PyArray_DATA(x)
    cdef char* dst = <char*>cnp.PyArray_DATA(out)
    if dtype == DT_UINT8:
        _extreme_pass_run(<uint8_t*>NULL, src, dst, &g, cval, nthreads)
    elif dtype == DT_UINT16:
        _extreme_pass_run(<uint16_t*>NULL, src, dst, &g, cval, nthreads)
    elif dtype == DT_INT16:
        _extreme_pass_run(<int16_t*>NULL, src, dst, &g, cval, nthreads)
    elif dtype == DT_INT32:
        _extreme_pass_run(<int32_t*>NULL, src, dst, &g, cval, nthreads)
    elif dtype == DT_INT64:
        _extreme_pass_run(<int64_t*>NULL, src, dst, &g, cval, nthreads)
    elif dtype == DT_UINT64:
        _extreme_pass_run(<uint64_t*>NULL, src, dst, &g, cval, nthreads)
    elif dtype == DT_FLOAT32:
        _extreme_pass_run(<float*>NULL, src, dst, &g, cval, nthreads)
    else:
        _extreme_pass_run(<double*>NULL, src, dst, &g, cval, nthreads)


# --------------------------------------------------------------------------
# Any footprint: each footprint row is a few runs of consecutive samples, and
# a run of length L is two reads of one ladder level of the source row
# --------------------------------------------------------------------------
cdef struct FootprintGeometry:
    Py_ssize_t nbatch, depth, height, width
    Py_ssize_t in_strides[4]
    Py_ssize_t out_strides[4]
    Py_ssize_t fz, fy, cz, cy            # footprint planes/rows and centre
    Py_ssize_t fx                        # footprint columns
    Py_ssize_t strip, nstrips            # output columns per strip (bounds the ladders' memory)
    Py_ssize_t padded_width, levels      # per strip
    Py_ssize_t nrows, nruns
    int mode
    bint is_max
    bint skip_outside                    # (heights only) cells beyond the edges take no part
    PaddedRow xrow


cdef inline src_t add_height(src_t value, int64_t height) noexcept nogil:
    """value + height in a 64-bit integer dtype, saturated to its range
    (heights within +-(2**63 - 1)); add_height_into runs the narrower
    dtypes in their own lanes."""
    cdef int64_t total
    cdef uint64_t magnitude
    if src_t is int64_t:
        # wrapping sum (unsigned arithmetic is defined), then saturate where it wrapped
        total = <int64_t>(<uint64_t>value + <uint64_t>height)
        if height >= 0:
            return INT64_MAX if total < value else total
        return INT64_MIN if total > value else total
    elif src_t is uint64_t:
        if height >= 0:
            magnitude = value + <uint64_t>height
            return UINT64_MAX if magnitude < value else magnitude
        magnitude = <uint64_t>(-height)
        return 0 if value < magnitude else value - magnitude
    else:
        return value   # (not called for other dtypes)


cdef void add_height_into(src_t* acc, const src_t* row, Py_ssize_t n, const void* heights,
                          Py_ssize_t cell, bint is_max) noexcept nogil:
    """acc[i] = op(acc[i], row[i] + heights[cell]) for i < n: in the dtype,
    saturated for integers (whose heights are int64), plain for floats
    (whose heights have the dtype)."""
    cdef Py_ssize_t i
    cdef src_t float_height, magnitude, value
    cdef uint16_t shifted, unsigned_height
    cdef uint32_t wide_shifted, wide_height
    cdef int64_t height
    if src_t is float or src_t is double:
        float_height = (<const src_t*>heights)[cell]
        if is_max:
            for i in range(n):
                acc[i] = max2(acc[i], row[i] + float_height)
        else:
            for i in range(n):
                acc[i] = min2(acc[i], row[i] + float_height)
    elif src_t is uint8_t or src_t is uint16_t:
        # saturating in the dtype's own lanes (32 uint8 to an AVX2 vector):
        # x + min(MAX - x, h) and x - min(x, -h), MAX - x being ~x (heights
        # are within +-MAX here)
        height = (<const int64_t*>heights)[cell]
        if height >= 0:
            magnitude = <src_t>height
            for i in range(n):
                value = <src_t>(row[i] + min(<src_t>(~row[i]), magnitude))
                acc[i] = max2(acc[i], value) if is_max else min2(acc[i], value)
        else:
            magnitude = <src_t>(-height)
            for i in range(n):
                value = <src_t>(row[i] - min(row[i], magnitude))
                acc[i] = max2(acc[i], value) if is_max else min2(acc[i], value)
    elif src_t is int16_t:
        # the same in uint16 lanes: flipping the sign bit maps int16 onto
        # uint16 in order (heights are within +-65535)
        height = (<const int64_t*>heights)[cell]
        if height >= 0:
            unsigned_height = <uint16_t>height
            for i in range(n):
                shifted = <uint16_t>row[i] ^ 0x8000
                shifted = <uint16_t>(shifted + min(<uint16_t>(~shifted), unsigned_height))
                value = <src_t>(shifted ^ 0x8000)
                acc[i] = max2(acc[i], value) if is_max else min2(acc[i], value)
        else:
            unsigned_height = <uint16_t>(-height)
            for i in range(n):
                shifted = <uint16_t>row[i] ^ 0x8000
                shifted = <uint16_t>(shifted - min(shifted, unsigned_height))
                value = <src_t>(shifted ^ 0x8000)
                acc[i] = max2(acc[i], value) if is_max else min2(acc[i], value)
    elif src_t is int32_t:
        # likewise in uint32 lanes (heights are within +-(2**32 - 1))
        height = (<const int64_t*>heights)[cell]
        if height >= 0:
            wide_height = <uint32_t>height
            for i in range(n):
                wide_shifted = <uint32_t>row[i] ^ 0x80000000u
                wide_shifted = wide_shifted + min(~wide_shifted, wide_height)
                value = <src_t>(wide_shifted ^ 0x80000000u)
                acc[i] = max2(acc[i], value) if is_max else min2(acc[i], value)
        else:
            wide_height = <uint32_t>(-height)
            for i in range(n):
                wide_shifted = <uint32_t>row[i] ^ 0x80000000u
                wide_shifted = wide_shifted - min(wide_shifted, wide_height)
                value = <src_t>(wide_shifted ^ 0x80000000u)
                acc[i] = max2(acc[i], value) if is_max else min2(acc[i], value)
    else:
        height = (<const int64_t*>heights)[cell]
        if is_max:
            for i in range(n):
                acc[i] = max2(acc[i], add_height(row[i], height))
        else:
            for i in range(n):
                acc[i] = min2(acc[i], add_height(row[i], height))


cdef void structured_row(src_t* dst, src_t* window, const FootprintGeometry* g,
                         const src_t** rows, const Py_ssize_t* run_row,
                         const Py_ssize_t* run_start, const Py_ssize_t* run_length,
                         const void* heights, Py_ssize_t x0, Py_ssize_t width,
                         src_t identity) noexcept nogil:
    """dst[i] = op over the footprint's cells of (padded sample + the cell's
    height), for the ``width`` outputs from column x0: ``rows[r]`` is the
    ladder of the padded source row of footprint row r from column x0 - cx
    (NULL: the row lies outside the input and takes no part); every run's
    cells share one height, heights[run]; ``window``: scratch for ``width``
    samples.  As op(a + h, b + h) = op(a, b) + h (the saturating sum is
    monotonic), a run costs one ladder read and one sum."""
    cdef Py_ssize_t q, s, length, lo, hi
    cdef Py_ssize_t cx = g.xrow.pad_lo
    cdef Py_ssize_t padded_width = width + g.fx - 1
    fill_row(dst, identity, width)
    for q in range(g.nruns):
        if rows[run_row[q]] == NULL:
            continue
        s, length = run_start[q], run_length[q]
        lo, hi = 0, width
        if g.skip_outside:
            # output i reads samples x0 + i + s - cx .. + length - 1: only those
            # reaching into the row (the neutral padding does the rest)
            lo = min(max(0, cx - s - length + 1 - x0), width)
            hi = max(min(width, g.width + cx - s - x0), lo)
        if length == 1:
            add_height_into(dst + lo, rows[run_row[q]] + s + lo, hi - lo, heights, q, g.is_max)
        else:
            # one height for the whole run: op(samples) + height, from the ladder
            window_from_ladder(window, rows[run_row[q]], padded_width, s + lo, length, hi - lo,
                               True, g.is_max)
            add_height_into(dst + lo, window, hi - lo, heights, q, g.is_max)


cdef int footprint_units(const char* src, char* out, const FootprintGeometry* g,
                         const Py_ssize_t* row_z, const Py_ssize_t* row_y,
                         const Py_ssize_t* run_row, const Py_ssize_t* run_start,
                         const Py_ssize_t* run_length, const void* heights,
                         imgconv_work* work, int tid, src_t cval,
                         src_t identity) noexcept nogil:
    """The output rows thread ``tid`` takes from ``work``, numbered (batch,
    strip, plane, row).

    The ladder of each source row a footprint row reads is kept in slot
    (footprint plane, source row mod footprint height), so going down a plane
    builds each ladder once.  With ``heights`` (see extreme_structure) the
    ladders are only their level 0, the padded source rows, and every cell
    adds its height; with ``g.skip_outside`` cells beyond the input's edges
    take no part (rows outside it are not even loaded).
    """
    cdef Py_ssize_t nslots = g.fz * g.fy
    cdef Py_ssize_t ladder_size = g.padded_width * g.levels
    cdef Py_ssize_t u, b, z, y, r, iz, iy, mz, my, slot, q, strip, x0, width
    cdef Py_ssize_t out_step = g.out_strides[3] // sizeof(src_t)
    cdef Py_ssize_t in_step = g.in_strides[3] // sizeof(src_t)
    cdef int64_t key
    cdef src_t* scratch
    cdef src_t* ladders
    cdef src_t* result
    cdef src_t* window
    cdef src_t* dst
    cdef int64_t* keys
    cdef src_t** row_ladder
    cdef int64_t unit_begin, unit_end
    if not imgconv_work_take(work, tid, &unit_begin, &unit_end):
        return 0
    scratch = <src_t*>scratch_alloc((nslots * ladder_size + 2 * g.strip) * sizeof(src_t)
                             + nslots * sizeof(int64_t) + g.nrows * sizeof(src_t*))
    if scratch == NULL:
        return -1
    ladders = scratch
    result = ladders + nslots * ladder_size
    window = result + g.strip
    keys = <int64_t*>(window + g.strip)
    row_ladder = <src_t**>(keys + nslots)
    for slot in range(nslots):
        keys[slot] = -3
    while True:
        for u in range(unit_begin, unit_end):
            b = u // (g.nstrips * g.depth * g.height)
            strip = (u // (g.depth * g.height)) % g.nstrips
            z = (u // g.height) % g.depth
            y = u % g.height
            x0 = strip * g.strip
            width = min(g.strip, g.width - x0)
            for r in range(g.nrows):
                iz = z + row_z[r] - g.cz
                iy = y + row_y[r] - g.cy
                mz = map_index(iz, g.depth, g.mode)
                my = map_index(iy, g.height, g.mode)
                key = -2 if (mz < 0 or my < 0) else (((b * g.nstrips + strip) * g.depth + mz)
                                                     * g.height + my)
                q = iy % g.fy
                slot = row_z[r] * g.fy + (q + g.fy if q < 0 else q)
                if g.skip_outside and not (0 <= iz < g.depth and 0 <= iy < g.height):
                    row_ladder[r] = NULL
                    continue
                row_ladder[r] = ladders + slot * ladder_size
                if keys[slot] != key:
                    keys[slot] = key
                    if key == -2:
                        fill_row(row_ladder[r], cval, width + g.fx - 1)
                    else:
                        load_row_typed(<const src_t*>(src + b * g.in_strides[0] + mz * g.in_strides[1]
                                                      + my * g.in_strides[2]),
                                       in_step, row_ladder[r], x0, x0 + width + g.fx - 1, &g.xrow,
                                       cval)
                    build_ladder(row_ladder[r], width + g.fx - 1, g.levels, g.is_max)
            dst = (<src_t*>(out + b * g.out_strides[0] + z * g.out_strides[1] + y * g.out_strides[2]
                            + x0 * g.out_strides[3]) if out_step == 1 else result)
            if heights == NULL:
                for q in range(g.nruns):
                    window_from_ladder(dst, row_ladder[run_row[q]], width + g.fx - 1,
                                       run_start[q], run_length[q], width, q == 0, g.is_max)
            else:
                structured_row(dst, window, g, <const src_t**>row_ladder, run_row, run_start,
                               run_length, heights, x0, width, identity)
            if out_step != 1:
                scatter_row(<src_t*>(out + b * g.out_strides[0] + z * g.out_strides[1]
                                     + y * g.out_strides[2] + x0 * g.out_strides[3]), out_step,
                            result, width)
        if not imgconv_work_take(work, tid, &unit_begin, &unit_end):
            break
    scratch_free(scratch)
    return 0


cdef int _extreme_footprint_run(src_t* typed, const char* src, char* out, FootprintGeometry* g,
                                const Py_ssize_t[::1] row_z, const Py_ssize_t[::1] row_y,
                                const Py_ssize_t[::1] run_row, const Py_ssize_t[::1] run_start,
                                const Py_ssize_t[::1] run_length, const void* heights,
                                object cval, object identity, int nthreads) except -1:
    # ladders of all slots within FOOTPRINT_LADDER_MIB per thread
    cdef Py_ssize_t budget = FOOTPRINT_LADDER_MIB * 1024 * 1024 // sizeof(src_t) // (
        g.fz * g.fy * g.levels)
    g.strip = g.width
    if g.width + g.fx - 1 > budget:
        g.strip = min(g.width, max(256, 4 * g.fx, budget - g.fx + 1))
    g.nstrips = (g.width + g.strip - 1) // g.strip
    g.padded_width = g.strip + g.fx - 1
    cdef Py_ssize_t nunits = g.nbatch * g.nstrips * g.depth * g.height, tid
    nthreads = max(1, min(nthreads, nunits))
    cdef int* status
    cdef src_t value = cval
    cdef src_t neutral = identity
    cdef imgconv_work work
    work_storage = share_work(&work, nthreads, nunits, 1, &status)
    with nogil, parallel(num_threads=nthreads):
        tid = threadid()
        status[tid] = footprint_units(src, out, g, &row_z[0], &row_y[0], &run_row[0],
                                      &run_start[0], &run_length[0], heights, &work,
                                      tid, value, neutral)
    check_scratch(status, nthreads)
    return 0


def extreme_footprint(cnp.ndarray x, cnp.ndarray out, footprint_shape, centre,
                      const Py_ssize_t[::1] row_z, const Py_ssize_t[::1] row_y,
                      const Py_ssize_t[::1] run_row, const Py_ssize_t[::1] run_start,
                      const Py_ssize_t[::1] run_length, int mode, object cval, bint is_max,
                      int dtype, int nthreads):
    """Max (``is_max``) or min of (B, D, H, W) ``x`` over a footprint, into
    ``out`` (same shape and dtype):
    out[b, z, y, x] = op over footprint cells (fz, fy, fx) of the padded
    input at (z + fz - cz, y + fy - cy, x + fx - cx).

    The footprint comes as its nonempty rows (``row_z``, ``row_y``) and the
    runs of consecutive cells in each (``run_row``, first cell ``run_start``,
    ``run_length``), ordered by row.
    """
    _footprint_call(x, out, footprint_shape, centre, row_z, row_y, run_row, run_start,
                    run_length, None, False, mode, cval, cval, is_max, dtype, nthreads)


def extreme_structure(cnp.ndarray x, cnp.ndarray out, footprint_shape, centre,
                      const Py_ssize_t[::1] row_z, const Py_ssize_t[::1] row_y,
                      const Py_ssize_t[::1] run_row, const Py_ssize_t[::1] run_start,
                      const Py_ssize_t[::1] run_length, cnp.ndarray heights,
                      bint skip_outside, int mode, object cval, object identity, bint is_max,
                      int dtype, int nthreads):
    """Max (``is_max``) or min with heights (non-flat, grey-scale morphology):
    as extreme_footprint, each footprint cell adding its height first,
    out[b, z, y, x] = op over cells c of (padded input at
    (z + fz - cz, y + fy - cy, x + fx - cx) + height of c),
    in the dtype: saturated for integers, plain for floats.

    The cells of a run share one height: ``heights[q]`` for run q (a
    structure whose heights vary along a row comes as runs of one cell);
    C-contiguous, int64 for integer dtypes (within +-(the dtype's span),
    +-(2**63 - 1) for 64-bit dtypes), the dtype itself for floats.  ``skip_outside``: cells beyond the input's edges take no part
    (instead of reading the padding); an output none of whose cells lies
    inside gets ``identity``, as does every output before the cells combine.
    """
    cdef cnp.dtype expected = (np.dtype(np.int64) if out.dtype.kind in "iu" else out.dtype)
    if heights.dtype != expected or not heights.flags.c_contiguous:
        raise ValueError(f"heights must be a C-contiguous {expected} array")
    if heights.ndim != 1 or heights.shape[0] != run_row.shape[0]:
        raise ValueError("heights must hold one height per run")
    _footprint_call(x, out, footprint_shape, centre, row_z, row_y, run_row, run_start,
                    run_length, heights, skip_outside, mode, cval, identity, is_max, dtype,
                    nthreads)


cdef _footprint_call(cnp.ndarray x, cnp.ndarray out, footprint_shape, centre,
                     const Py_ssize_t[::1] row_z, const Py_ssize_t[::1] row_y,
                     const Py_ssize_t[::1] run_row, const Py_ssize_t[::1] run_start,
                     const Py_ssize_t[::1] run_length, cnp.ndarray heights, bint skip_outside,
                     int mode, object cval, object identity, bint is_max, int dtype,
                     int nthreads):
    """extreme_footprint (``heights`` None) or extreme_structure."""
    cdef FootprintGeometry g
    cdef int i
    cdef Py_ssize_t longest = np.max(np.asarray(run_length))
    cdef const void* cell_heights = NULL if heights is None else cnp.PyArray_DATA(heights)
    g.nbatch = x.shape[0]
    g.depth = x.shape[1]
    g.height = x.shape[2]
    g.width = x.shape[3]
    for i in range(4):
        g.in_strides[i] = x.strides[i]
        g.out_strides[i] = out.strides[i]
    g.fz, g.fy = footprint_shape[0], footprint_shape[1]
    g.cz, g.cy = centre[0], centre[1]
    g.fx = footprint_shape[2]
    g.levels = ladder_levels(longest)
    g.nrows = row_z.shape[0]
    g.nruns = run_row.shape[0]
    g.mode = mode
    g.is_max = is_max
    g.skip_outside = skip_outside
    cdef Py_ssize_t full_width = g.width + g.fx - 1
    cdef Py_ssize_t[::1] xtable = np.empty(full_width, np.intp)
    set_padded_row(&g.xrow, &xtable[0], full_width, centre[2], g.width, mode)
    cdef const char* src = <const char*>cnp.PyArray_DATA(x)
    cdef char* dst = <char*>cnp.PyArray_DATA(out)
    if dtype == DT_UINT8:
        _extreme_footprint_run(<uint8_t*>NULL, src, dst, &g, row_z, row_y, run_row, run_start,
                               run_length, cell_heights, cval, identity, nthreads)
    elif dtype == DT_UINT16:
        _extreme_footprint_run(<uint16_t*>NULL, src, dst, &g, row_z, row_y, run_row, run_start,
                               run_length, cell_heights, cval, identity, nthreads)
    elif dtype == DT_INT16:
        _extreme_footprint_run(<int16_t*>NULL, src, dst, &g, row_z, row_y, run_row, run_start,
                               run_length, cell_heights, cval, identity, nthreads)
    elif dtype == DT_INT32:
        _extreme_footprint_run(<int32_t*>NULL, src, dst, &g, row_z, row_y, run_row, run_start,
                               run_length, cell_heights, cval, identity, nthreads)
    elif dtype == DT_INT64:
        _extreme_footprint_run(<int64_t*>NULL, src, dst, &g, row_z, row_y, run_row, run_start,
                               run_length, cell_heights, cval, identity, nthreads)
    elif dtype == DT_UINT64:
        _extreme_footprint_run(<uint64_t*>NULL, src, dst, &g, row_z, row_y, run_row, run_start,
                               run_length, cell_heights, cval, identity, nthreads)
    elif dtype == DT_FLOAT32:
        _extreme_footprint_run(<float*>NULL, src, dst, &g, row_z, row_y, run_row, run_start,
                               run_length, cell_heights, cval, identity, nthreads)
    else:
        _extreme_footprint_run(<double*>NULL, src, dst, &g, row_z, row_y, run_row, run_start,
                               run_length, cell_heights, cval, identity, nthreads)

# Rank filters (median, percentile, any rank) over any flat footprint.
#
# No sort per sample.  Each output row reads the padded source rows its
# footprint covers (the same slot cache as extreme_footprint), then one of
# three methods computes the row:
#
# - a selection network: the cells of CHUNK_BYTES worth of neighbouring
#   outputs are gathered lane-wise and a compare-exchange network, pruned to
#   the comparators the wanted rank depends on, runs over whole lanes
#   (min/max over contiguous arrays: the compiler vectorises them, 32 uint8
#   outputs to an AVX2 vector).  For a box, each column of the window (the
#   cells at one x offset) is sorted once and shared by the kx outputs that
#   read it; a merge network of the sorted columns then picks the rank (an
#   integer 3x3 median: the middle of the largest low, the middle middle and the
#   smallest high of its sorted columns, in registers; an integer 5x5
#   median the same way, in median5x5.h: sorted columns, then each output's
#   rows of sorted columns sorted as far as needed and a selection among the
#   13 cells that can hold the median, the whole network in registers);
# - a running histogram (uint8, uint16; Huang): sliding one sample along x
#   removes and adds one sample per footprint run; the rank's bin is tracked
#   from one output to the next, with a coarse level of the histogram so
#   that it moves a coarse bin at a time where it can;
# - column histograms (uint8 boxes; Perreault and Hebert): each column of
#   the strip keeps the histogram of its footprint rows, updated by one row
#   out and one row in as the output row moves down; the window's histogram
#   slides along x by adding one column's histogram and taking one away
#   (272 counts, whole vectors), so an output costs the same at any size;
# - a sliding sorted window (any dtype): each footprint run replaces one
#   value, which moves the values between its old and new place by one.
#
# Values are ordered as numpy sorts them: NaN after every number, so a rank
# past the window's numbers is NaN.

from libc.string cimport memmove, memset

cdef enum:
    RANK_AUTO = 0
    RANK_NETWORK = 1
    RANK_HISTOGRAM = 2
    RANK_SORTED = 3
    RANK_COLUMNS = 4
    RANK_MEDIAN3X3 = 5
    RANK_COLUMN_HISTOGRAMS = 6
    RANK_MEDIAN5X5 = 7
    # RANK_COLUMN_HISTOGRAMS: a column's 256 fine then 16 coarse uint16 counts
    RANK_COLUMN_BINS = 272
    # ... and the output columns of a strip, so that a thread's column
    # histograms (~272 KiB) stay in its L2 cache while the rows go down
    RANK_COLUMN_STRIP = 512
    # a network's gathered lanes: this many bytes of outputs per pass
    RANK_CHUNK_BYTES = 256
    # the widest network considered (wires, +inf padding included)
    RANK_NETWORK_MAX_WIRES = 1024
    # row slots per thread (source rows of the footprint)
    RANK_ROWS_MIB = 8


cdef extern from "median5x5.h":
    enum: IMGCONV_MEDIAN5X5_CHUNK_BYTES
    void imgconv_median5x5_uint8(uint8_t** rows, Py_ssize_t width, uint8_t* dst,
                                 uint8_t* scratch) noexcept nogil
    void imgconv_median5x5_uint16(uint16_t** rows, Py_ssize_t width, uint16_t* dst,
                                  uint16_t* scratch) noexcept nogil
    void imgconv_median5x5_int16(int16_t** rows, Py_ssize_t width, int16_t* dst,
                                 int16_t* scratch) noexcept nogil
    void imgconv_median5x5_int32(int32_t** rows, Py_ssize_t width, int32_t* dst,
                                 int32_t* scratch) noexcept nogil
    void imgconv_median5x5_int64(int64_t** rows, Py_ssize_t width, int64_t* dst,
                                 int64_t* scratch) noexcept nogil
    void imgconv_median5x5_uint64(uint64_t** rows, Py_ssize_t width, uint64_t* dst,
                                  uint64_t* scratch) noexcept nogil


cdef inline bint rank_less(src_t a, src_t b) noexcept nogil:
    """Whether a sorts before b, NaN sorting after every number."""
    if src_t is float or src_t is double:
        return a < b or (b != b and a == a)
    return a < b


cdef void compare_exchange(src_t* a, src_t* b, Py_ssize_t n, int kind) noexcept nogil:
    """Lane-wise a[i], b[i] = min, max (kind 0); only the min into a (kind 1);
    only the max into b (kind 2)."""
    cdef Py_ssize_t i
    cdef src_t p, q
    cdef bint swap
    if kind == 0:
        for i in range(n):
            p = a[i]
            q = b[i]
            if src_t is float or src_t is double:
                swap = (q < p) | (p != p)
            else:
                swap = q < p
            a[i] = q if swap else p
            b[i] = p if swap else q
    elif kind == 1:
        for i in range(n):
            p = a[i]
            q = b[i]
            if src_t is float or src_t is double:
                swap = (q < p) | (p != p)
            else:
                swap = q < p
            a[i] = q if swap else p
    else:
        for i in range(n):
            p = a[i]
            q = b[i]
            if src_t is float or src_t is double:
                swap = (q < p) | (p != p)
            else:
                swap = q < p
            b[i] = p if swap else q


cdef inline src_t lower_of(src_t a, src_t b) noexcept nogil:
    """The one of a, b that sorts first (NaN last)."""
    if src_t is float or src_t is double:
        return b if ((b < a) | (a != a)) else a
    return b if b < a else a


cdef inline src_t upper_of(src_t a, src_t b) noexcept nogil:
    """The one of a, b that sorts last (NaN last)."""
    if src_t is float or src_t is double:
        return a if ((b < a) | (a != a)) else b
    return a if b < a else b


cdef inline src_t middle_of(src_t a, src_t b, src_t c) noexcept nogil:
    return upper_of(lower_of(a, b), lower_of(upper_of(a, b), c))


cdef void median3x3_row(src_t** rows, Py_ssize_t width, src_t* dst, src_t* lanes) noexcept nogil:
    """dst[i] = the median of the 3x3 window of output i, for i < width:
    each column sorted once (low, middle, high), then the median is the
    middle of the largest low, the middle middle and the smallest high of
    the three columns.  ``lanes``: three rows of chunk + 2."""
    cdef Py_ssize_t chunk = RANK_CHUNK_BYTES // sizeof(src_t)
    cdef src_t* low = lanes
    cdef src_t* middle = lanes + chunk + 2
    cdef src_t* high = lanes + 2 * (chunk + 2)
    cdef const src_t* r0
    cdef const src_t* r1
    cdef const src_t* r2
    cdef Py_ssize_t x, i, count
    cdef src_t a, b, c
    x = 0
    while x < width:
        count = min(chunk, width - x)
        r0 = rows[0] + x
        r1 = rows[1] + x
        r2 = rows[2] + x
        # the column sort in three loops of two arrays each: loops over
        # more arrays than that are left scalar (too many overlap checks)
        for i in range(count + 2):
            a = r0[i]
            b = r1[i]
            low[i] = lower_of(a, b)
            high[i] = upper_of(a, b)
        for i in range(count + 2):
            a = low[i]
            c = r2[i]
            low[i] = lower_of(a, c)
            middle[i] = upper_of(a, c)
        for i in range(count + 2):
            b = high[i]
            c = middle[i]
            middle[i] = lower_of(b, c)
            high[i] = upper_of(b, c)
        # one or two selections per loop: gcc's if-conversion gives up on more
        for i in range(count):
            low[i] = upper_of(upper_of(low[i], low[i + 1]), low[i + 2])
        for i in range(count):
            high[i] = lower_of(lower_of(high[i], high[i + 1]), high[i + 2])
        for i in range(count):
            a = lower_of(middle[i], middle[i + 1])
            b = upper_of(middle[i], middle[i + 1])
            middle[i] = upper_of(a, lower_of(b, middle[i + 2]))
        for i in range(count):
            a = low[i]
            b = middle[i]
            low[i] = lower_of(a, b)
            middle[i] = upper_of(a, b)
        for i in range(count):
            dst[x + i] = upper_of(low[i], lower_of(middle[i], high[i]))
        x += chunk


cdef inline void median5x5_row(src_t** rows, Py_ssize_t width, src_t* dst,
                               src_t* scratch) noexcept nogil:
    """dst[i] = the median of the 5x5 window of output i, for i < width
    (integer dtypes: rank_filter refuses the others).  ``scratch``: the
    sorted columns, 5 * (IMGCONV_MEDIAN5X5_CHUNK_BYTES / itemsize + 4)."""
    if src_t is uint8_t:
        imgconv_median5x5_uint8(rows, width, dst, scratch)
    elif src_t is uint16_t:
        imgconv_median5x5_uint16(rows, width, dst, scratch)
    elif src_t is int16_t:
        imgconv_median5x5_int16(rows, width, dst, scratch)
    elif src_t is int32_t:
        imgconv_median5x5_int32(rows, width, dst, scratch)
    elif src_t is int64_t:
        imgconv_median5x5_int64(rows, width, dst, scratch)
    elif src_t is uint64_t:
        imgconv_median5x5_uint64(rows, width, dst, scratch)


cdef void float_keys(src_t* values, Py_ssize_t n, bint to_keys) noexcept nogil:
    """Float values -> signed integers of the same bits that sort alike
    (``to_keys``), or back, in place: negative floats get their magnitude
    bits flipped (which is its own inverse), and on the way in every NaN
    becomes +NaN, which sorts after +inf.  Integer exchanges are one min and one max, where NaN-aware
    float ones take five operations.  (-0.0 then sorts before 0.0: a
    selection picks a value equal to the one it would pick otherwise.)"""
    cdef Py_ssize_t i
    cdef int32_t* k32
    cdef int64_t* k64
    cdef int32_t b32
    cdef int64_t b64
    # (64-bit literals would be Python objects in Cython)
    cdef int64_t magnitude64 = (<int64_t>1 << 62) - 1 + (<int64_t>1 << 62)
    if src_t is float:
        k32 = <int32_t*>values
        for i in range(n):
            b32 = k32[i]
            if to_keys and (b32 & 0x7FFFFFFF) > 0x7F800000:
                b32 = 0x7FC00000
            k32[i] = b32 ^ ((b32 >> 31) & 0x7FFFFFFF)
    elif src_t is double:
        k64 = <int64_t*>values
        for i in range(n):
            b64 = k64[i]
            if to_keys and (b64 & magnitude64) > (<int64_t>0x7FF << 52):
                b64 = <int64_t>0x7FF8 << 48
            k64[i] = b64 ^ ((b64 >> 63) & magnitude64)


cdef inline void exchange_lanes(src_t* a, src_t* b, Py_ssize_t n, int kind) noexcept nogil:
    """compare_exchange of lanes holding keys: float lanes (float_keys) as
    the integers they are."""
    if src_t is float:
        compare_exchange(<int32_t*>a, <int32_t*>b, n, kind)
    elif src_t is double:
        compare_exchange(<int64_t*>a, <int64_t*>b, n, kind)
    else:
        compare_exchange(a, b, n, kind)


cdef inline Py_ssize_t lower_bound(const src_t* win, Py_ssize_t lo, Py_ssize_t hi,
                                   src_t value) noexcept nogil:
    """The first index in [lo, hi) whose value does not sort before ``value``
    (hi if none)."""
    cdef Py_ssize_t mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if rank_less(win[mid], value):
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline void sorted_insert(src_t* win, Py_ssize_t count, src_t value) noexcept nogil:
    """Insert ``value`` into the sorted ``count`` values of ``win``."""
    cdef Py_ssize_t q = lower_bound(win, 0, count, value)
    memmove(win + q + 1, win + q, (count - q) * sizeof(src_t))
    win[q] = value


cdef inline void sorted_replace(src_t* win, Py_ssize_t n, src_t old, src_t new) noexcept nogil:
    """Replace one value equal to ``old`` by ``new`` in the sorted window
    ``win`` of ``n`` values, keeping it sorted."""
    cdef Py_ssize_t p = lower_bound(win, 0, n, old)
    cdef Py_ssize_t q
    if rank_less(old, new):
        q = lower_bound(win, p + 1, n, new)
        memmove(win + p, win + p + 1, (q - p - 1) * sizeof(src_t))
        win[q - 1] = new
    elif rank_less(new, old):
        q = lower_bound(win, 0, p, new)
        memmove(win + q + 1, win + q, (p - q) * sizeof(src_t))
        win[q] = new
    else:
        win[p] = new    # equal in order (0.0 and -0.0)


cdef struct RankGeometry:
    Py_ssize_t nbatch, depth, height, width
    Py_ssize_t in_strides[4]
    Py_ssize_t out_strides[4]
    Py_ssize_t fz, fy, cz, cy            # footprint planes/rows and centre
    Py_ssize_t fx                        # footprint columns
    Py_ssize_t strip, nstrips            # output columns per strip
    Py_ssize_t padded_width              # per strip
    Py_ssize_t nrows, nruns, ncells, rank
    Py_ssize_t ncomparators
    Py_ssize_t ncolumn_comparators       # RANK_COLUMNS: the column sort's
    Py_ssize_t out_wire                  # the network's wire holding the rank
    int method
    int mode
    PaddedRow xrow


cdef struct RankFootprint:
    # the footprint's rows and runs (see _backend.footprint_runs), its cells
    # (row, column) for the networks, and the network's comparators
    const Py_ssize_t* row_z
    const Py_ssize_t* row_y
    const Py_ssize_t* run_row
    const Py_ssize_t* run_start
    const Py_ssize_t* run_length
    const Py_ssize_t* cell_row
    const Py_ssize_t* cell_x
    const Py_ssize_t* comparators        # (wire a, wire b, kind) triples
    const Py_ssize_t* column_comparators # RANK_COLUMNS: those sorting a column


cdef void network_row(src_t** rows, const RankFootprint* f, const RankGeometry* g,
                      Py_ssize_t width, src_t* dst, src_t* lanes) noexcept nogil:
    """dst[i] = the rank of output i's window, for i < width, by the
    selection network over lanes of neighbouring outputs."""
    cdef Py_ssize_t chunk = RANK_CHUNK_BYTES // sizeof(src_t)
    cdef Py_ssize_t x, c, k, count
    cdef const Py_ssize_t* comparator
    x = 0
    while x < width:
        count = min(chunk, width - x)
        for c in range(g.ncells):
            memcpy(lanes + c * chunk, rows[f.cell_row[c]] + x + f.cell_x[c], count * sizeof(src_t))
        # whole lanes every time (the tail lanes are ignored): loops of a fixed
        # length vectorise without a remainder
        float_keys(lanes, g.ncells * chunk, True)
        for k in range(g.ncomparators):
            comparator = f.comparators + 3 * k
            exchange_lanes(lanes + comparator[0] * chunk, lanes + comparator[1] * chunk, chunk,
                           <int>comparator[2])
        float_keys(lanes + g.out_wire * chunk, chunk, False)
        memcpy(dst + x, lanes + g.out_wire * chunk, count * sizeof(src_t))
        x += chunk


cdef void columns_row(src_t** rows, const RankFootprint* f, const RankGeometry* g,
                      Py_ssize_t width, src_t* dst, src_t* lanes) noexcept nogil:
    """dst[i] = the rank of output i's window, for i < width, over a box:
    the columns (one sample of every footprint row, at one x) are sorted
    once for all the outputs that read them, then a merge network of the
    fx sorted columns of each output picks the rank.  ``lanes``: the
    sorted columns (nrows rows of chunk + fx - 1 lanes), then the merge
    network's wires."""
    cdef Py_ssize_t chunk = RANK_CHUNK_BYTES // sizeof(src_t)
    cdef Py_ssize_t column_lanes = chunk + g.fx - 1
    cdef Py_ssize_t m = g.nrows
    cdef src_t* wires = lanes + (m * column_lanes + 63) // 64 * 64
    cdef Py_ssize_t x, r, j, k, count
    cdef const Py_ssize_t* comparator
    x = 0
    while x < width:
        count = min(chunk, width - x)
        for r in range(m):
            memcpy(lanes + r * column_lanes, rows[r] + x, (count + g.fx - 1) * sizeof(src_t))
        float_keys(lanes, m * column_lanes, True)
        for k in range(g.ncolumn_comparators):
            comparator = f.column_comparators + 3 * k
            exchange_lanes(lanes + comparator[0] * column_lanes,
                           lanes + comparator[1] * column_lanes, column_lanes,
                           <int>comparator[2])
        # wire j * m + r: sorted row r of the column at offset j
        for j in range(g.fx):
            for r in range(m):
                memcpy(wires + (j * m + r) * chunk, lanes + r * column_lanes + j,
                       chunk * sizeof(src_t))
        for k in range(g.ncomparators):
            comparator = f.comparators + 3 * k
            exchange_lanes(wires + comparator[0] * chunk, wires + comparator[1] * chunk, chunk,
                           <int>comparator[2])
        float_keys(wires + g.out_wire * chunk, chunk, False)
        memcpy(dst + x, wires + g.out_wire * chunk, count * sizeof(src_t))
        x += chunk


cdef void histogram_row(src_t** rows, const RankFootprint* f, const RankGeometry* g,
                        Py_ssize_t width, src_t* dst, int32_t* hist) noexcept nogil:
    """dst[i] = the rank of output i's window, for i < width, by a running
    histogram (uint8, uint16).  ``hist`` holds the fine bins, then the
    coarse ones, all zero; they are zero again on return."""
    cdef int shift = 4 if src_t is uint8_t else 8
    cdef Py_ssize_t nbins = 256 if src_t is uint8_t else 65536
    cdef int32_t* coarse = hist + nbins
    cdef Py_ssize_t x, q, t, start, length
    cdef Py_ssize_t value, old
    cdef Py_ssize_t rank = g.rank
    cdef Py_ssize_t bin = 0, below = 0          # below: values in bins < bin
    cdef Py_ssize_t step = (<Py_ssize_t>1) << shift
    cdef src_t* row
    if not (src_t is uint8_t or src_t is uint16_t):
        return
    for q in range(g.nruns):
        row = rows[f.run_row[q]] + f.run_start[q]
        for t in range(f.run_length[q]):
            value = row[t]
            hist[value] += 1
            coarse[value >> shift] += 1
    x = 0
    while True:
        # move ``bin`` to the rank's bin: below <= rank < below + hist[bin]
        while below > rank:
            if (bin & (step - 1)) == 0 and below - coarse[(bin >> shift) - 1] > rank:
                below -= coarse[(bin >> shift) - 1]
                bin -= step
            else:
                bin -= 1
                below -= hist[bin]
        while below + hist[bin] <= rank:
            if (bin & (step - 1)) == 0 and below + coarse[bin >> shift] <= rank:
                below += coarse[bin >> shift]
                bin += step
            else:
                below += hist[bin]
                bin += 1
        dst[x] = <src_t>bin
        x += 1
        if x == width:
            break
        for q in range(g.nruns):
            row = rows[f.run_row[q]] + f.run_start[q] + x - 1
            old = row[0]
            value = row[f.run_length[q]]
            if old != value:
                hist[old] -= 1
                coarse[old >> shift] -= 1
                hist[value] += 1
                coarse[value >> shift] += 1
                below += (value < bin) - (old < bin)
    # take the last window out again: the histogram is zero for the next row
    for q in range(g.nruns):
        row = rows[f.run_row[q]] + f.run_start[q] + width - 1
        for t in range(f.run_length[q]):
            value = row[t]
            hist[value] -= 1
            coarse[value >> shift] -= 1


cdef void column_histograms_add(src_t** rows, const RankFootprint* f, const RankGeometry* g,
                                Py_ssize_t footprint_row_y, Py_ssize_t ncolumns,
                                uint16_t* columns, int sign) noexcept nogil:
    """Add (``sign`` 1) or take away (-1) the values of the footprint rows
    at footprint row ``footprint_row_y`` (every row when it is -1) to the
    histograms of the first ``ncolumns`` columns."""
    cdef Py_ssize_t r, c
    cdef Py_ssize_t value
    cdef const src_t* row
    cdef uint16_t* column
    if not src_t is uint8_t:
        return
    for r in range(g.nrows):
        if footprint_row_y >= 0 and f.row_y[r] != footprint_row_y:
            continue
        row = rows[r]
        for c in range(ncolumns):
            value = row[c]
            column = columns + c * RANK_COLUMN_BINS
            column[value] += <uint16_t>sign
            column[256 + (value >> 4)] += <uint16_t>sign


cdef void column_histograms_row(const RankGeometry* g, Py_ssize_t width, src_t* dst,
                                const uint16_t* columns, uint16_t* window) noexcept nogil:
    """dst[i] = the rank of output i's window, for i < width, from the
    histograms of the window's columns (box footprints, uint8).  Counts are
    uint16: exact while the window holds fewer than 65536 cells."""
    cdef Py_ssize_t x, j, i, below, bin, cumulative, coarse_bin, passed
    cdef Py_ssize_t rank = g.rank
    cdef const uint16_t* entering
    cdef const uint16_t* leaving
    if not src_t is uint8_t:
        return
    memset(window, 0, RANK_COLUMN_BINS * sizeof(uint16_t))
    for j in range(g.fx):
        entering = columns + j * RANK_COLUMN_BINS
        for i in range(RANK_COLUMN_BINS):
            window[i] += entering[i]
    x = 0
    while True:
        # the coarse bin holding the rank, then its fine bin: the bins whose
        # running count stays <= rank, counted without branches (where a
        # search stops is random, and a mispredicted exit costs more than the
        # 16 steps)
        below = 0
        cumulative = 0
        coarse_bin = 0
        for i in range(16):
            cumulative += window[256 + i]
            passed = cumulative <= rank
            coarse_bin += passed
            below += passed * window[256 + i]
        cumulative = below
        bin = coarse_bin << 4
        for i in range(16):
            cumulative += window[(coarse_bin << 4) + i]
            bin += cumulative <= rank
        dst[x] = <src_t>bin
        x += 1
        if x == width:
            break
        entering = columns + (x + g.fx - 1) * RANK_COLUMN_BINS
        leaving = columns + (x - 1) * RANK_COLUMN_BINS
        for i in range(RANK_COLUMN_BINS):
            window[i] += entering[i] - leaving[i]


cdef void sorted_row(src_t** rows, const RankFootprint* f, const RankGeometry* g,
                     Py_ssize_t width, src_t* dst, src_t* win) noexcept nogil:
    """dst[i] = the rank of output i's window, for i < width, by a sorted
    window sliding along the row."""
    cdef Py_ssize_t x, q, t, count = 0
    cdef src_t* row
    for q in range(g.nruns):
        row = rows[f.run_row[q]] + f.run_start[q]
        for t in range(f.run_length[q]):
            sorted_insert(win, count, row[t])
            count += 1
    dst[0] = win[g.rank]
    for x in range(1, width):
        for q in range(g.nruns):
            row = rows[f.run_row[q]] + f.run_start[q] + x - 1
            sorted_replace(win, count, row[0], row[f.run_length[q]])
        dst[x] = win[g.rank]


cdef Py_ssize_t rank_scratch_items(const RankGeometry* g, Py_ssize_t itemsize) noexcept nogil:
    """Items of the source dtype a thread's method needs beyond the rows:
    network lanes, histogram bins (as int32) or the sorted window."""
    cdef Py_ssize_t chunk = RANK_CHUNK_BYTES // itemsize
    if g.method == RANK_NETWORK:
        return g.ncells * chunk
    if g.method == RANK_MEDIAN3X3:
        return 3 * (chunk + 2)
    if g.method == RANK_MEDIAN5X5:
        return 5 * (IMGCONV_MEDIAN5X5_CHUNK_BYTES // itemsize + 4)
    if g.method == RANK_COLUMNS:
        return (g.nrows * (chunk + g.fx - 1) + 63) // 64 * 64 + g.ncells * chunk
    if g.method == RANK_HISTOGRAM:
        return (65536 + 256) * 4 // itemsize + 1
    if g.method == RANK_COLUMN_HISTOGRAMS:
        return (g.padded_width + 1) * RANK_COLUMN_BINS * 2 // itemsize + 64
    return g.ncells


cdef int rank_units(const char* src, char* out, const RankGeometry* g, const RankFootprint* f,
                    imgconv_work* work, int tid, src_t cval) noexcept nogil:
    """The output rows thread ``tid`` takes from ``work``, numbered (batch,
    strip, plane, row).  The source row each footprint row reads is kept in
    slot (footprint plane, source row mod footprint height), so going down
    a plane loads each row once."""
    cdef Py_ssize_t nslots = g.fz * g.fy
    cdef Py_ssize_t u, b, z, y, r, iz, iy, mz, my, slot, q, strip, x0, width
    cdef Py_ssize_t out_step = g.out_strides[3] // sizeof(src_t)
    cdef Py_ssize_t in_step = g.in_strides[3] // sizeof(src_t)
    cdef Py_ssize_t extra = rank_scratch_items(g, sizeof(src_t))
    cdef int64_t key
    cdef src_t* scratch
    cdef src_t* slots
    cdef src_t* result
    cdef src_t* method_scratch
    cdef src_t* dst
    cdef int64_t* keys
    cdef src_t** row_source
    cdef int64_t unit_begin, unit_end
    # RANK_COLUMN_HISTOGRAMS: the unit the column histograms hold, and those
    cdef int64_t columns_unit = -2
    cdef uint16_t* columns
    cdef uint16_t* window
    cdef bint slide
    if not imgconv_work_take(work, tid, &unit_begin, &unit_end):
        return 0
    # 64-byte aligned pieces: the lanes and bins are read as vectors
    cdef Py_ssize_t slots_items = (nslots * g.padded_width + 63) // 64 * 64
    cdef Py_ssize_t result_items = (g.strip + 63) // 64 * 64
    cdef Py_ssize_t extra_items = (extra + 63) // 64 * 64
    scratch = <src_t*>scratch_alloc((slots_items + result_items + extra_items) * sizeof(src_t)
                                    + nslots * sizeof(int64_t) + g.nrows * sizeof(src_t*))
    if scratch == NULL:
        return -1
    slots = scratch
    result = slots + slots_items
    method_scratch = result + result_items
    keys = <int64_t*>(method_scratch + extra_items)
    row_source = <src_t**>(keys + nslots)
    if g.method == RANK_HISTOGRAM:
        memset(method_scratch, 0, (65536 + 256) * sizeof(int32_t))
    columns = <uint16_t*>method_scratch
    window = columns + g.padded_width * RANK_COLUMN_BINS
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
            # the next row down of the same strip and plane: the column
            # histograms slide by a row.  The row leaving them is taken out
            # before its slot is loaded with the row entering.
            slide = (g.method == RANK_COLUMN_HISTOGRAMS and u == columns_unit + 1 and y > 0)
            if slide:
                column_histograms_add(row_source, f, g, 0, width + g.fx - 1, columns, -1)
            for r in range(g.nrows):
                iz = z + f.row_z[r] - g.cz
                iy = y + f.row_y[r] - g.cy
                mz = map_index(iz, g.depth, g.mode)
                my = map_index(iy, g.height, g.mode)
                key = -2 if (mz < 0 or my < 0) else (((b * g.nstrips + strip) * g.depth + mz)
                                                     * g.height + my)
                q = iy % g.fy
                slot = f.row_z[r] * g.fy + (q + g.fy if q < 0 else q)
                row_source[r] = slots + slot * g.padded_width
                if keys[slot] != key:
                    keys[slot] = key
                    if key == -2:
                        # the whole slot: the key of a constant row is the
                        # same in every strip, and a thread may go on from
                        # the narrower last strip to a wider one
                        fill_row(row_source[r], cval, g.padded_width)
                    else:
                        load_row_typed(<const src_t*>(src + b * g.in_strides[0]
                                                      + mz * g.in_strides[1]
                                                      + my * g.in_strides[2]),
                                       in_step, row_source[r], x0, x0 + width + g.fx - 1,
                                       &g.xrow, cval)
            dst = (<src_t*>(out + b * g.out_strides[0] + z * g.out_strides[1]
                            + y * g.out_strides[2] + x0 * g.out_strides[3])
                   if out_step == 1 else result)
            if g.method == RANK_NETWORK:
                network_row(row_source, f, g, width, dst, method_scratch)
            elif g.method == RANK_COLUMNS:
                columns_row(row_source, f, g, width, dst, method_scratch)
            elif g.method == RANK_MEDIAN3X3:
                median3x3_row(row_source, width, dst, method_scratch)
            elif g.method == RANK_MEDIAN5X5:
                median5x5_row(row_source, width, dst, method_scratch)
            elif g.method == RANK_HISTOGRAM:
                histogram_row(row_source, f, g, width, dst, <int32_t*>method_scratch)
            elif g.method == RANK_COLUMN_HISTOGRAMS:
                if slide:
                    column_histograms_add(row_source, f, g, g.fy - 1, width + g.fx - 1, columns, 1)
                else:
                    memset(columns, 0, (width + g.fx - 1) * RANK_COLUMN_BINS * sizeof(uint16_t))
                    column_histograms_add(row_source, f, g, -1, width + g.fx - 1, columns, 1)
                columns_unit = u
                column_histograms_row(g, width, dst, columns, window)
            else:
                sorted_row(row_source, f, g, width, dst, method_scratch)
            if out_step != 1:
                scatter_row(<src_t*>(out + b * g.out_strides[0] + z * g.out_strides[1]
                                     + y * g.out_strides[2] + x0 * g.out_strides[3]), out_step,
                            result, width)
        if not imgconv_work_take(work, tid, &unit_begin, &unit_end):
            break
    scratch_free(scratch)
    return 0


cdef int _rank_filter_run(src_t* typed, const char* src, char* out, RankGeometry* g,
                          RankFootprint* f, object cval, int nthreads) except -1:
    # the row slots of a thread within RANK_ROWS_MIB
    cdef Py_ssize_t budget = RANK_ROWS_MIB * 1024 * 1024 // sizeof(src_t) // (g.fz * g.fy)
    g.strip = g.width
    if g.width + g.fx - 1 > budget:
        g.strip = min(g.width, max(256, 4 * g.fx, budget - g.fx + 1))
    if g.method == RANK_COLUMN_HISTOGRAMS:
        g.strip = min(g.strip, RANK_COLUMN_STRIP)
    g.nstrips = (g.width + g.strip - 1) // g.strip
    g.padded_width = g.strip + g.fx - 1
    cdef Py_ssize_t nunits = g.nbatch * g.nstrips * g.depth * g.height, tid
    nthreads = max(1, min(nthreads, nunits))
    cdef int* status
    cdef src_t value = cval
    cdef imgconv_work work
    work_storage = share_work(&work, nthreads, nunits, 1, &status)
    with nogil, parallel(num_threads=nthreads):
        tid = threadid()
        status[tid] = rank_units(src, out, g, f, &work, tid, value)
    check_scratch(status, nthreads)
    return 0


# --------------------------------------------------------------------------
# Selection networks: Batcher's odd-even merge sort, padded, compiled, pruned
# --------------------------------------------------------------------------
_networks = {}


def _batcher_comparators(Py_ssize_t size, Py_ssize_t presorted=1):
    """The compare-exchanges (i, j), i < j, of Batcher's odd-even merge sort
    of ``size`` wires (a power of two), in order, without the stages that
    sort blocks of up to ``presorted`` wires (a power of two): on blocks
    already sorted those exchange nothing."""
    pairs = []
    p = 1
    while p < size:
        if p >= presorted:
            k = p
            while k >= 1:
                for j in range(k % p, size - k, 2 * k):
                    for i in range(min(k, size - j - k)):
                        if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                            pairs.append((i + j, i + j + k))
                k //= 2
        p *= 2
    return pairs


def _power_of_two(Py_ssize_t n):
    size = 1
    while size < n:
        size *= 2
    return size


def _compiled(comparators, slots):
    """``comparators`` on logical wires, where wire w holds slot ``slots[w]``
    or, for -1, +inf, as exchanges of slots: an exchange with a +inf wire
    below a value moves the value (a relabelling), and others with +inf
    exchange nothing.  Returns the exchanges and the final slots."""
    slots = list(slots)
    exchanges = []
    for a, b in comparators:
        if slots[b] < 0:
            continue
        if slots[a] < 0:
            slots[a], slots[b] = slots[b], -1
            continue
        exchanges.append((slots[a], slots[b]))
    return exchanges, slots


def _pruned(exchanges, needed):
    """The exchanges whose outputs reach the ``needed`` slots, as (a, b,
    kind) rows: kind 0 keeps both outputs, 1 only the minimum (on a), 2 only
    the maximum (on b); and the slots read before the first of them."""
    needed = set(needed)
    kept = []
    for a, b in reversed(exchanges):
        wants_a, wants_b = a in needed, b in needed
        if wants_a or wants_b:
            kept.append((a, b, 0 if wants_a and wants_b else (1 if wants_a else 2)))
            needed.update((a, b))
    kept.reverse()
    return np.asarray(kept, np.intp).reshape(-1, 3), needed


def _sorting_network(Py_ssize_t n, needed):
    """The exchanges sorting n wires as far as the ``needed`` outputs go."""
    size = _power_of_two(n)
    exchanges, _ = _compiled(_batcher_comparators(size),
                             [w if w < n else -1 for w in range(size)])
    return _pruned(exchanges, needed)[0]


def selection_network(Py_ssize_t n, Py_ssize_t rank):
    """The exchanges that put the rank-th smallest of n wires on wire
    ``rank``, as (a, b, kind) rows (see _pruned)."""
    key = ("select", n, rank)
    if key not in _networks:
        _networks[key] = _sorting_network(n, {rank})
    return _networks[key]


def column_network(Py_ssize_t m, Py_ssize_t kx, Py_ssize_t rank):
    """For a box of kx columns of m cells: the exchanges sorting a column
    (as far as the merge reads it), the exchanges merging kx sorted columns
    (wire j * m + r: row r of column j) up to the rank-th smallest, and the
    wire that then holds it."""
    key = ("columns", m, kx, rank)
    if key not in _networks:
        rows, columns = _power_of_two(m), _power_of_two(kx)
        slots = [j * m + r if (r < m and j < kx) else -1
                 for j in range(columns) for r in range(rows)]
        exchanges, final = _compiled(_batcher_comparators(rows * columns, rows), slots)
        out_wire = final[rank]
        merge, read = _pruned(exchanges, {out_wire})
        column = _sorting_network(m, {w % m for w in read})
        _networks[key] = (column, merge, out_wire)
    return _networks[key]


def rank_method(Py_ssize_t ncells, int dtype, Py_ssize_t rank, bint is_box, Py_ssize_t nrows,
                Py_ssize_t fx, Py_ssize_t nruns):
    """The method that computes a window of ``ncells`` cells of ``dtype``
    fastest, by a rough count of cycles per output: a network's exchanges
    cost a few vector operations per vector of lanes; the histogram a few
    operations per run plus the moves of its rank bin (long for 16-bit
    data); the column histograms a constant (two 272-count vector sums
    and a search of the bins); the sorted window a search and a move of about n/3 values per
    run."""
    # integers only: gcc leaves the NaN-aware float selections of its
    # longer loops scalar, where the generic networks stay vectorised
    if is_box and nrows == 3 and fx == 3 and rank == 4 and dtype not in (DT_FLOAT32, DT_FLOAT64):
        return RANK_MEDIAN3X3
    if is_box and nrows == 5 and fx == 5 and rank == 12 and dtype not in (DT_FLOAT32, DT_FLOAT64):
        return RANK_MEDIAN5X5
    itemsize = 1 if dtype == DT_UINT8 else (2 if dtype in (DT_UINT16, DT_INT16) else
                                            (4 if dtype in (DT_INT32, DT_FLOAT32) else 8))
    lanes = 32.0 / itemsize
    costs = {RANK_SORTED: nruns * (ncells * itemsize / 16.0 + 40.0)}
    if dtype == DT_UINT8 or dtype == DT_UINT16:
        costs[RANK_HISTOGRAM] = 12.0 * nruns + (20.0 if dtype == DT_UINT8 else 600.0)
    if _power_of_two(ncells) <= RANK_NETWORK_MAX_WIRES:
        costs[RANK_NETWORK] = 3.0 * (len(selection_network(ncells, rank)) + ncells) / lanes
    if is_box and dtype == DT_UINT8 and ncells < 65536:
        # the same at any size (measured: between the column networks of an
        # 11x11 and a 13x13 box)
        costs[RANK_COLUMN_HISTOGRAMS] = 110.0
    if is_box and fx > 1 and _power_of_two(nrows) * _power_of_two(fx) <= RANK_NETWORK_MAX_WIRES:
        column, merge, _ = column_network(nrows, fx, rank)
        costs[RANK_COLUMNS] = 3.0 * (len(column) + len(merge) + ncells) / lanes
    return min(costs, key=costs.get)


def rank_filter(cnp.ndarray x, cnp.ndarray out, footprint_shape, centre,
                const Py_ssize_t[::1] row_z, const Py_ssize_t[::1] row_y,
                const Py_ssize_t[::1] run_row, const Py_ssize_t[::1] run_start,
                const Py_ssize_t[::1] run_length, Py_ssize_t rank, int mode, object cval,
                int dtype, int nthreads, int method=RANK_AUTO):
    """The ``rank``-th smallest value (0: the minimum) of (B, D, H, W) ``x``
    over a footprint, into ``out`` (same shape and dtype):
    out[b, z, y, x] = that rank of the padded input at
    (z + fz - cz, y + fy - cy, x + fx - cx) over the footprint cells
    (fz, fy, fx).  NaN sorts after every number.

    The footprint comes as its nonempty rows (``row_z``, ``row_y``) and the
    runs of consecutive cells in each (``run_row``, first cell ``run_start``,
    ``run_length``), ordered by row.  ``method``: 0 picks the fastest; 1
    (selection network), 2 (running histogram, uint8 and uint16 only), 3
    (sorted window), 4 (column networks, boxes only), 5 (a 3x3 box's
    median only), 6 (column histograms, uint8 boxes of fewer than 65536
    cells only) and 7 (a 5x5 box's median, integer dtypes only) force one,
    for the tests.
    """
    cdef RankGeometry g
    cdef RankFootprint f
    cdef int i
    cdef Py_ssize_t ncells = int(np.sum(np.asarray(run_length)))
    if not 0 <= rank < ncells:
        raise ValueError(f"rank={rank} is outside a footprint of {ncells} cells")
    cdef Py_ssize_t nrows = row_z.shape[0], fx = footprint_shape[2]
    # a box: every footprint row one run of fx cells
    cdef bint is_box = (run_row.shape[0] == nrows and ncells == nrows * fx
                        and nrows == footprint_shape[0] * footprint_shape[1])
    if method == RANK_AUTO:
        method = rank_method(ncells, dtype, rank, is_box, nrows, fx, run_row.shape[0])
    if method == RANK_HISTOGRAM and dtype != DT_UINT8 and dtype != DT_UINT16:
        raise ValueError("the running histogram takes uint8 and uint16 only")
    if method == RANK_COLUMNS and not is_box:
        raise ValueError("the column networks take box footprints only")
    if method == RANK_COLUMN_HISTOGRAMS and not (is_box and dtype == DT_UINT8 and ncells < 65536):
        raise ValueError("the column histograms take uint8 box footprints of fewer than 65536 "
                         "cells only")
    if method == RANK_MEDIAN3X3 and not (is_box and nrows == 3 and fx == 3 and rank == 4):
        raise ValueError("the 3x3 median takes the median of a 3x3 box only")
    if method == RANK_MEDIAN5X5 and not (is_box and nrows == 5 and fx == 5 and rank == 12
                                         and dtype != DT_FLOAT32 and dtype != DT_FLOAT64):
        raise ValueError("the 5x5 median takes the median of a 5x5 box of integers only")
    if method not in (RANK_NETWORK, RANK_HISTOGRAM, RANK_SORTED, RANK_COLUMNS, RANK_MEDIAN3X3,
                      RANK_COLUMN_HISTOGRAMS, RANK_MEDIAN5X5):
        raise ValueError(f"unknown rank filter method {method}")
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
    g.nrows = row_z.shape[0]
    g.nruns = run_row.shape[0]
    g.ncells = ncells
    g.rank = rank
    g.method = method
    g.mode = mode
    cdef const Py_ssize_t[::1] cell_row = np.repeat(np.asarray(run_row), np.asarray(run_length))
    cdef const Py_ssize_t[::1] cell_x = np.concatenate(
        [np.arange(s, s + n, dtype=np.intp)
         for s, n in zip(np.asarray(run_start), np.asarray(run_length))])
    no_network = np.zeros((0, 3), np.intp)
    network, column, g.out_wire = no_network, no_network, 0
    if method == RANK_NETWORK:
        network, g.out_wire = selection_network(ncells, rank), rank
    elif method == RANK_COLUMNS:
        column, network, g.out_wire = column_network(nrows, fx, rank)
    # one spare row: a network may have no exchanges (a window of one cell)
    cdef const Py_ssize_t[:, ::1] comparators = np.concatenate([network, np.zeros((1, 3), np.intp)])
    cdef const Py_ssize_t[:, ::1] column_comparators = np.concatenate(
        [column, np.zeros((1, 3), np.intp)])
    g.ncomparators = network.shape[0]
    g.ncolumn_comparators = column.shape[0]
    f.row_z = &row_z[0]
    f.row_y = &row_y[0]
    f.run_row = &run_row[0]
    f.run_start = &run_start[0]
    f.run_length = &run_length[0]
    f.cell_row = &cell_row[0]
    f.cell_x = &cell_x[0]
    f.comparators = &comparators[0, 0]
    f.column_comparators = &column_comparators[0, 0]
    cdef Py_ssize_t full_width = g.width + g.fx - 1
    cdef Py_ssize_t[::1] xtable = np.empty(full_width, np.intp)
    set_padded_row(&g.xrow, &xtable[0], full_width, centre[2], g.width, mode)
    cdef const char* src = <const char*>cnp.PyArray_DATA(x)
    cdef char* dst = <char*>cnp.PyArray_DATA(out)
    if dtype == DT_UINT8:
        _rank_filter_run(<uint8_t*>NULL, src, dst, &g, &f, cval, nthreads)
    elif dtype == DT_UINT16:
        _rank_filter_run(<uint16_t*>NULL, src, dst, &g, &f, cval, nthreads)
    elif dtype == DT_INT16:
        _rank_filter_run(<int16_t*>NULL, src, dst, &g, &f, cval, nthreads)
    elif dtype == DT_INT32:
        _rank_filter_run(<int32_t*>NULL, src, dst, &g, &f, cval, nthreads)
    elif dtype == DT_INT64:
        _rank_filter_run(<int64_t*>NULL, src, dst, &g, &f, cval, nthreads)
    elif dtype == DT_UINT64:
        _rank_filter_run(<uint64_t*>NULL, src, dst, &g, &f, cval, nthreads)
    elif dtype == DT_FLOAT32:
        _rank_filter_run(<float*>NULL, src, dst, &g, &f, cval, nthreads)
    else:
        _rank_filter_run(<double*>NULL, src, dst, &g, &f, cval, nthreads)

# Rank filters (median, percentile, any rank) over any flat footprint.
#
# No sort per sample.  Each output row reads the padded source rows its
# footprint covers (the same slot cache as extreme_footprint), then one of
# three methods computes the row:
#
# - a selection network (few cells): the cells of CHUNK_BYTES worth of
#   neighbouring outputs are gathered lane-wise and a compare-exchange
#   network, pruned to the comparators the wanted rank depends on, runs over
#   whole lanes (min/max over contiguous arrays: the compiler vectorises
#   them, 32 uint8 outputs to an AVX2 vector);
# - a running histogram (uint8, uint16; Huang): sliding one sample along x
#   removes and adds one sample per footprint run; the rank's bin is tracked
#   from one output to the next, with a coarse level of the histogram so
#   that it moves a coarse bin at a time where it can;
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
    # a network's gathered lanes: this many bytes of outputs per pass
    RANK_CHUNK_BYTES = 256
    # windows of up to this many cells take a selection network
    RANK_NETWORK_MAX_CELLS = 25
    # row slots per thread (source rows of the footprint)
    RANK_ROWS_MIB = 8


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
        for k in range(g.ncomparators):
            comparator = f.comparators + 3 * k
            compare_exchange(lanes + comparator[0] * chunk, lanes + comparator[1] * chunk, chunk,
                             <int>comparator[2])
        memcpy(dst + x, lanes + g.rank * chunk, count * sizeof(src_t))
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
    if g.method == RANK_NETWORK:
        return g.ncells * (RANK_CHUNK_BYTES // itemsize)
    if g.method == RANK_HISTOGRAM:
        return (65536 + 256) * 4 // itemsize + 1
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
                        fill_row(row_source[r], cval, width + g.fx - 1)
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
            elif g.method == RANK_HISTOGRAM:
                histogram_row(row_source, f, g, width, dst, <int32_t*>method_scratch)
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
# Selection networks: Batcher's odd-even merge sort, pruned
# --------------------------------------------------------------------------
_networks = {}


def _batcher_comparators(Py_ssize_t n):
    """The compare-exchanges (i, j), i < j, of Batcher's odd-even merge sort
    of 2**k >= n wires, in order, restricted to wires below n: the missing
    wires hold +inf, which no comparator moves, so the rest sorts n values."""
    size = 1
    while size < n:
        size *= 2
    pairs = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return [(a, b) for a, b in pairs if b < n]


def selection_network(Py_ssize_t n, Py_ssize_t rank):
    """The comparators that put the rank-th smallest of n wires on wire
    ``rank``, as (a, b, kind) rows: kind 0 exchanges both, 1 only keeps the
    minimum on a, 2 only the maximum on b (the other output is never read)."""
    key = (n, rank)
    network = _networks.get(key)
    if network is not None:
        return network
    needed = {rank}
    kept = []
    for a, b in reversed(_batcher_comparators(n)):
        wants_a, wants_b = a in needed, b in needed
        if wants_a or wants_b:
            kept.append((a, b, 0 if wants_a and wants_b else (1 if wants_a else 2)))
            needed.update((a, b))
    kept.reverse()
    network = np.asarray(kept, np.intp).reshape(-1, 3)
    _networks[key] = network
    return network


def rank_method(Py_ssize_t ncells, int dtype):
    """The method that computes a window of ``ncells`` cells of ``dtype``
    fastest: RANK_NETWORK, RANK_HISTOGRAM or RANK_SORTED."""
    if ncells <= RANK_NETWORK_MAX_CELLS:
        return RANK_NETWORK
    if dtype == DT_UINT8 or dtype == DT_UINT16:
        return RANK_HISTOGRAM
    return RANK_SORTED


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
    (selection network), 2 (running histogram, uint8 and uint16 only) and 3
    (sorted window) force one, for the tests.
    """
    cdef RankGeometry g
    cdef RankFootprint f
    cdef int i
    cdef Py_ssize_t ncells = int(np.sum(np.asarray(run_length)))
    if not 0 <= rank < ncells:
        raise ValueError(f"rank={rank} is outside a footprint of {ncells} cells")
    if method == RANK_AUTO:
        method = rank_method(ncells, dtype)
    if method == RANK_HISTOGRAM and dtype != DT_UINT8 and dtype != DT_UINT16:
        raise ValueError("the running histogram takes uint8 and uint16 only")
    if method not in (RANK_NETWORK, RANK_HISTOGRAM, RANK_SORTED):
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
    cdef const Py_ssize_t[:, ::1] comparators = (
        selection_network(ncells, rank) if method == RANK_NETWORK else np.zeros((1, 3), np.intp))
    g.ncomparators = comparators.shape[0] if method == RANK_NETWORK else 0
    f.row_z = &row_z[0]
    f.row_y = &row_y[0]
    f.run_row = &run_row[0]
    f.run_start = &run_start[0]
    f.run_length = &run_length[0]
    f.cell_row = &cell_row[0]
    f.cell_x = &cell_x[0]
    f.comparators = &comparators[0, 0] if comparators.shape[0] else NULL
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

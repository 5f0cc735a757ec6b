# Shared pieces of every kernel: dtype codes, fused types, boundary index
# mapping, typed row loading (source dtype -> compute type, with padding) and
# row storing (compute type -> output dtype, rounded and saturated).

cimport cython
from cython.parallel cimport parallel, threadid
cimport numpy as cnp
from libc.math cimport rint
from libc.stdint cimport uint8_t, uint16_t, int16_t, int32_t, int64_t, uint64_t
from libc.string cimport memcpy

cnp.import_array()
import numpy as np

from cpython.pycapsule cimport PyCapsule_GetPointer
from . import _buffer_pool

# Per-thread scratch comes from imgconv._buffer_pool, which keeps it between
# calls (fresh memory would be faulted in and cleared on every call).
ctypedef struct ScratchApi:
    void* (*alloc)(size_t size) noexcept nogil
    void (*free)(void* block) noexcept nogil

cdef ScratchApi* scratch_api = <ScratchApi*>PyCapsule_GetPointer(
    _buffer_pool.SCRATCH_API, b"imgconv._buffer_pool.ScratchApi")


cdef inline void* scratch_alloc(size_t size) noexcept nogil:
    """Scratch for one thread of a kernel (NULL if out of memory), 64-byte
    aligned; give it back with scratch_free."""
    return scratch_api.alloc(size)


cdef inline void scratch_free(void* block) noexcept nogil:
    scratch_api.free(block)

cdef extern from "work_share.h":
    ctypedef struct imgconv_work:
        int nshares
    size_t imgconv_work_bytes(int nthreads) nogil
    void imgconv_work_init(imgconv_work* work, void* storage, int nthreads, int64_t nunits,
                           int64_t piece) nogil
    int64_t imgconv_work_initial(const imgconv_work* work, int tid) nogil
    bint imgconv_work_take(imgconv_work* work, int tid, int64_t* begin, int64_t* end) nogil

# Boundary modes; the Python layer maps every alias onto these codes.
cdef enum:
    MODE_ZERO = 0
    MODE_REPLICATE = 1
    MODE_REFLECT = 2
    MODE_SYMMETRIC = 3
    MODE_WRAP = 4

# dtype codes shared with imgconv._validate.DTYPE_CODES
cdef enum:
    DT_UINT8 = 0
    DT_UINT16 = 1
    DT_INT16 = 2
    DT_INT32 = 3
    DT_FLOAT32 = 4
    DT_FLOAT64 = 5
    # only the maximum and minimum kernels take these (exactly: through
    # float64, values beyond 2**53 would be rounded)
    DT_INT64 = 6
    DT_UINT64 = 7

ctypedef fused src_t:
    uint8_t
    uint16_t
    int16_t
    int32_t
    int64_t
    uint64_t
    float
    double

ctypedef fused dst_t:
    uint8_t
    uint16_t
    int16_t
    int32_t
    int64_t
    uint64_t
    float
    double

ctypedef fused acc_t:
    float
    double


cdef object share_work(imgconv_work* work, int nthreads, Py_ssize_t nunits, Py_ssize_t piece,
                       int** status):
    """Split ``nunits`` work units over ``nthreads`` threads (work_share.h),
    owners taking ``piece`` units at a time; ``*status`` receives an int per
    thread, zero, for its result (see check_scratch).  Returns the storage of
    both: keep it alive while the threads run."""
    cdef size_t ranges = (imgconv_work_bytes(nthreads) + 7) // 8 * 8
    storage = np.zeros(ranges + nthreads * sizeof(int), np.uint8)
    cdef char* base = <char*>cnp.PyArray_DATA(storage)
    imgconv_work_init(work, base, nthreads, nunits, piece)
    status[0] = <int*>(base + ranges)
    return storage


def work_share_takes(int64_t nunits, int nthreads, int64_t piece, order):
    """The ranges threads take, one take per entry of ``order`` (thread ids),
    from ``nunits`` units shared as the parallel sweeps share them: a list
    of (thread, begin, end), end == begin when the thread found none.  For
    the tests: the takes of a sweep run serially in any interleaving."""
    cdef imgconv_work work
    cdef int64_t begin, end
    cdef int* status
    storage = share_work(&work, nthreads, nunits, piece, &status)
    takes = []
    for tid in order:
        if not 0 <= tid < nthreads:
            raise ValueError(f"thread id {tid} out of range for {nthreads} threads")
        if imgconv_work_take(&work, tid, &begin, &end):
            takes.append((tid, begin, end))
        else:
            takes.append((tid, 0, 0))
    return takes


cdef int check_scratch(const int* status, int nthreads) except -1:
    """After a parallel sweep: MemoryError if a thread (status -1) could not
    allocate its scratch buffers."""
    cdef int i
    for i in range(nthreads):
        if status[i] < 0:
            raise MemoryError("imgconv: could not allocate the per-thread scratch buffers")
    return 0


cdef inline Py_ssize_t map_index(Py_ssize_t i, Py_ssize_t n, int mode) noexcept nogil:
    """Index of the input sample that padding position ``i`` reads, or -1 for cval.

    Works for any distance outside [0, n): wide padding repeats the rule.
    """
    cdef Py_ssize_t period
    if 0 <= i < n:
        return i
    if mode == MODE_ZERO:
        return -1
    if mode == MODE_REPLICATE:
        return 0 if i < 0 else n - 1
    if mode == MODE_WRAP:
        i = i % n
        return i + n if i < 0 else i
    if mode == MODE_REFLECT:
        if n == 1:
            return 0
        period = 2 * n - 2
        i = i % period
        if i < 0:
            i += period
        return i if i < n else period - i
    # MODE_SYMMETRIC
    period = 2 * n
    i = i % period
    if i < 0:
        i += period
    return i if i < n else period - 1 - i


cdef void fill_index_table(Py_ssize_t* table, Py_ssize_t length, Py_ssize_t pad_lo,
                           Py_ssize_t n, int mode) noexcept nogil:
    """table[j] = source index read by padded position j (position 0 is -pad_lo)."""
    cdef Py_ssize_t j
    for j in range(length):
        table[j] = map_index(j - pad_lo, n, mode)


cdef struct PaddedRow:
    # How positions of a padded row map onto a source row: position j reads
    # source sample j - pad_lo when interior_lo <= j < interior_hi, else
    # table[j] (-1 for cval).
    Py_ssize_t pad_lo, interior_lo, interior_hi
    const Py_ssize_t* table


cdef void set_padded_row(PaddedRow* row, Py_ssize_t* table, Py_ssize_t length,
                         Py_ssize_t pad_lo, Py_ssize_t n, int mode) noexcept nogil:
    """``row``: ``length`` padded positions over a source row of ``n``
    samples that starts ``pad_lo`` positions in (``table``: length entries)."""
    fill_index_table(table, length, pad_lo, n, mode)
    row.pad_lo = pad_lo
    row.interior_lo = min(pad_lo, length)
    row.interior_hi = max(min(pad_lo + n, length), row.interior_lo)
    row.table = table


cdef inline void load_row_typed(const src_t* src, Py_ssize_t step, dst_t* buf,
                                Py_ssize_t start, Py_ssize_t stop, const PaddedRow* row,
                                dst_t cval) noexcept nogil:
    """buf[j - start] = padded position j of one source row, type-converted,
    for j in [start, stop).

    ``src`` points at the row's first sample and ``step`` is its stride in
    elements.  The interior is copied without bounds tests; only the borders
    go through the table.
    """
    cdef Py_ssize_t j, idx
    cdef Py_ssize_t lo = min(max(row.interior_lo, start), stop)
    cdef Py_ssize_t hi = min(max(row.interior_hi, lo), stop)
    cdef const src_t* inner = src + (lo - row.pad_lo) * step
    cdef dst_t* dst = buf + (lo - start)
    for j in range(start, lo):
        idx = row.table[j]
        buf[j - start] = <dst_t>src[idx * step] if idx >= 0 else cval
    if step == 1:
        for j in range(hi - lo):
            dst[j] = <dst_t>inner[j]
    else:
        for j in range(hi - lo):
            dst[j] = <dst_t>inner[j * step]
    for j in range(hi, stop):
        idx = row.table[j]
        buf[j - start] = <dst_t>src[idx * step] if idx >= 0 else cval


cdef void load_row(const char* src, int dtype, Py_ssize_t step, acc_t* buf, Py_ssize_t start,
                   Py_ssize_t stop, const PaddedRow* row, acc_t cval) noexcept nogil:
    """``load_row_typed`` for a source whose dtype is only known at run time."""
    if dtype == DT_UINT8:
        load_row_typed(<const uint8_t*>src, step, buf, start, stop, row, cval)
    elif dtype == DT_UINT16:
        load_row_typed(<const uint16_t*>src, step, buf, start, stop, row, cval)
    elif dtype == DT_INT16:
        load_row_typed(<const int16_t*>src, step, buf, start, stop, row, cval)
    elif dtype == DT_INT32:
        load_row_typed(<const int32_t*>src, step, buf, start, stop, row, cval)
    elif dtype == DT_FLOAT32:
        load_row_typed(<const float*>src, step, buf, start, stop, row, cval)
    else:
        load_row_typed(<const double*>src, step, buf, start, stop, row, cval)


cdef inline void store_row_typed(const acc_t* acc, dst_t* dst, Py_ssize_t step,
                                 Py_ssize_t n) noexcept nogil:
    """dst[i*step] = acc[i], rounded to nearest (ties to even) and saturated for
    integer outputs, as OpenCV's saturate_cast; NaN becomes 0."""
    cdef Py_ssize_t i
    cdef acc_t v, lo, hi
    cdef double d
    if dst_t is float or dst_t is double:
        for i in range(n):
            dst[i * step] = <dst_t>acc[i]
        return
    if dst_t is uint8_t:
        lo = 0
        hi = 255
    elif dst_t is uint16_t:
        lo = 0
        hi = 65535
    elif dst_t is int16_t:
        lo = -32768
        hi = 32767
    else:
        # float32 cannot hold 2**31 - 1 exactly, so int32 saturates in double
        for i in range(n):
            d = rint(<double>acc[i])
            if not (d >= -2147483648.0):
                d = -2147483648.0 if d < 0 else 0
            elif d > 2147483647.0:
                d = 2147483647.0
            dst[i * step] = <dst_t>d
        return
    for i in range(n):
        v = rint(acc[i])
        if not (v >= lo):  # also catches NaN
            v = lo if v < lo else 0
        elif v > hi:
            v = hi
        dst[i * step] = <dst_t>v


cdef void store_row(const acc_t* acc, char* dst, int dtype, Py_ssize_t step,
                    Py_ssize_t n) noexcept nogil:
    """``store_row_typed`` for an output whose dtype is only known at run time."""
    if dtype == DT_UINT8:
        store_row_typed(acc, <uint8_t*>dst, step, n)
    elif dtype == DT_UINT16:
        store_row_typed(acc, <uint16_t*>dst, step, n)
    elif dtype == DT_INT16:
        store_row_typed(acc, <int16_t*>dst, step, n)
    elif dtype == DT_INT32:
        store_row_typed(acc, <int32_t*>dst, step, n)
    elif dtype == DT_FLOAT32:
        store_row_typed(acc, <float*>dst, step, n)
    else:
        store_row_typed(acc, <double*>dst, step, n)


cdef inline Py_ssize_t itemsize(int dtype) noexcept nogil:
    if dtype == DT_UINT8:
        return 1
    if dtype == DT_UINT16 or dtype == DT_INT16:
        return 2
    if dtype == DT_INT32 or dtype == DT_FLOAT32:
        return 4
    return 8

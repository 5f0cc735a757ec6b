"""A numpy allocator that keeps large freed arrays for the next array of
about the same size.

Why: the first write to a fresh multi-megabyte array makes the operating
system fault in and clear every page of it.  For a 256^3 float32 volume
that costs 4-7 ms, as much as a 3^3 correlation of it, and it comes back on
every call.  Loops over same-sized images or volumes (the common case) reuse
a freed block instead, whose pages are already mapped.

The kernels' per-thread scratch comes from a second pool here (through
SCRATCH_API), under the same lock and limit.  Only arrays imgconv allocates
itself (results and intermediates) come from the array pool: :func:`empty`
installs this allocator as numpy's handler around one ``np.empty`` call.  numpy keeps the handler in a context variable, so other
threads and other code keep numpy's own allocator, and every array frees
through the handler that allocated it.
"""
from cpython.object cimport PyObject
from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset, strncpy

import math

import numpy as np

cimport numpy as cnp

cnp.import_array()


cdef extern from "pythread.h":
    ctypedef void* PyThread_type_lock
    PyThread_type_lock PyThread_allocate_lock()
    int PyThread_acquire_lock(PyThread_type_lock lock, int waitflag) nogil
    void PyThread_release_lock(PyThread_type_lock lock) nogil
    int WAIT_LOCK


cdef extern from *:
    """
    #if defined(__linux__)
    #include <sys/mman.h>
    #endif
    /* As numpy's own allocator does for blocks of 4 MiB and more: huge pages
       mean 512 times fewer page faults and TLB misses while kernels stream
       through the block. */
    static void imgconv_advise_huge_pages(char* data, size_t size)
    {
    #if defined(__linux__) && defined(MADV_HUGEPAGE)
        const uintptr_t page = 4096;
        uintptr_t start = ((uintptr_t)data + page - 1) & ~(page - 1);
        uintptr_t end = ((uintptr_t)data + size) & ~(page - 1);
        if (end > start)
            madvise((void*)start, end - start, MADV_HUGEPAGE);
    #else
        (void)data; (void)size;
    #endif
    }
    """
    void imgconv_advise_huge_pages(char* data, size_t size) noexcept nogil


cdef extern from "numpy/ndarraytypes.h":
    # redeclared: numpy's .pxd gives ``name`` as a pointer, but it is an array
    ctypedef struct PyDataMemAllocator:
        void* ctx
        void* (*malloc)(void* ctx, size_t size) noexcept nogil
        void* (*calloc)(void* ctx, size_t nelem, size_t elsize) noexcept nogil
        void* (*realloc)(void* ctx, void* ptr, size_t new_size) noexcept nogil
        void (*free)(void* ctx, void* ptr, size_t size) noexcept nogil

    ctypedef struct MemHandler "PyDataMem_Handler":
        char name[127]
        unsigned char version
        PyDataMemAllocator allocator


cdef extern from "numpy/arrayobject.h":
    object PyDataMem_SetHandler(object handler)
    object PyDataMem_GetHandler()
    PyObject* PyDataMem_DefaultHandler


cdef enum:
    ALIGNMENT = 64
    # room in a Pool; each pool holds at most its max_blocks of them
    MAX_BLOCKS = 64
    ARRAY_BLOCKS = 16
    # a held array block that this many pooled allocations passed by is
    # dropped: sizes have moved on (a stream of images of other sizes)
    MAX_IDLE_ALLOCATIONS = 32
    # scratch comes one block per thread per call, so its clock runs faster
    MAX_IDLE_SCRATCH = 1024

# Smaller arrays come back fast from malloc's own free lists.  Not those
# of 64 KiB and more: malloc maps them fresh (or trims them off its heap when
# two are freed), so each call faulted in and cleared its result again.
# Two 256² float32 box passes (256 KiB results) took 249 µs into fresh
# arrays, 78 µs into pooled ones (76 µs into the same arrays every call).
cdef size_t MIN_POOLED_BYTES = 64 << 10
#: the same, for imgconv._buffers, which hands smaller arrays to np.empty itself
min_pooled_bytes = MIN_POOLED_BYTES
# Kernel scratch is taken and freed by each thread of a call, in malloc's
# per-thread arenas, which hand freed memory back to the system: every call
# then faulted it in again, clearing a whole 2 MiB page per thread where
# transparent huge pages are on (measured: 7% of a 256^3 3x3x3 correlation).
cdef size_t MIN_SCRATCH_BYTES = 64 << 10
cdef size_t MAX_SCRATCH_HELD = 64 << 20
cdef size_t HUGE_PAGE_MIN_BYTES = 4 << 20
cdef size_t PAGE = 4096
# A filter's output starts half a page away from its input: where the two
# share their offset in a page, the rows a kernel reads and the rows it
# writes fall into the same cache sets (measured: a 256^3 3x3x3 correlation
# 10.2 ms at the same offset, 6.8 ms half a page apart).  -1: no preference.
cdef Py_ssize_t wanted_offset = -1
# numpy's own setting (np._core.multiarray._set_madvise_hugepage), copied by empty()
cdef bint advise_huge_pages = True


ctypedef struct ScratchApi:
    void* (*alloc)(size_t size) noexcept nogil
    void (*free)(void* block) noexcept nogil


cdef struct BlockHeader:
    # just below each block's data: numpy's free() passes a size computed
    # from the array's current shape and strides, so the block keeps its own
    void* raw
    size_t capacity


cdef inline BlockHeader* header(void* data) noexcept nogil:
    return <BlockHeader*>(<char*>data - sizeof(BlockHeader))


cdef void* new_block(size_t size) noexcept nogil:
    """Fresh memory for ``size`` bytes, ALIGNMENT-aligned, or NULL.  Pooled
    sizes get a page of slack, so that their data can start anywhere in a
    page (placed_block)."""
    cdef size_t extra = ALIGNMENT + sizeof(BlockHeader) + (PAGE if size >= MIN_POOLED_BYTES else 0)
    if size > <size_t>-1 - extra:
        return NULL
    cdef char* raw = <char*>malloc(size + extra)
    if raw == NULL:
        return NULL
    cdef char* data = <char*>((<uintptr_t>(raw + sizeof(BlockHeader)) + ALIGNMENT - 1)
                              & ~<uintptr_t>(ALIGNMENT - 1))
    header(data).raw = raw
    header(data).capacity = size
    if advise_huge_pages and size >= HUGE_PAGE_MIN_BYTES:
        imgconv_advise_huge_pages(data, size)
    return data


cdef void* placed_block(void* block, size_t offset) noexcept nogil:
    """``block`` (pooled, so with a page of slack) moved to start ``offset``
    bytes (a multiple of ALIGNMENT) into a page."""
    cdef void* raw = header(block).raw
    cdef size_t capacity = header(block).capacity
    cdef uintptr_t data = ((<uintptr_t>(<char*>raw + sizeof(BlockHeader)) + ALIGNMENT - 1)
                           & ~<uintptr_t>(ALIGNMENT - 1))
    data += (offset - data) & (PAGE - 1)
    header(<void*>data).raw = raw
    header(<void*>data).capacity = capacity
    return <void*>data


cdef struct Pool:
    # freed blocks, oldest first, and the pooled allocation count (clock)
    # when each came back
    void* blocks[MAX_BLOCKS]
    size_t freed_at[MAX_BLOCKS]
    Py_ssize_t count
    size_t held
    size_t limit
    size_t clock
    # what this pool keeps: blocks of min_bytes or more, at most max_blocks,
    # none that max_idle pooled allocations passed by
    size_t min_bytes
    Py_ssize_t max_blocks
    size_t max_idle


# numpy arrays, and the kernels' per-thread scratch
cdef Pool arrays, scratch
arrays.count = scratch.count = 0
arrays.held = scratch.held = 0
arrays.limit = scratch.limit = 0
arrays.clock = scratch.clock = 0
arrays.min_bytes = MIN_POOLED_BYTES
arrays.max_blocks = ARRAY_BLOCKS
arrays.max_idle = MAX_IDLE_ALLOCATIONS
scratch.min_bytes = MIN_SCRATCH_BYTES
scratch.max_blocks = MAX_BLOCKS
scratch.max_idle = MAX_IDLE_SCRATCH
cdef PyThread_type_lock pool_lock = PyThread_allocate_lock()
if pool_lock == NULL:
    raise MemoryError("imgconv could not create its buffer pool lock")


cdef void* take_block(Pool* pool, size_t size) noexcept nogil:
    """The smallest held block of ``size`` to ``size + size/4`` bytes (so a
    reused block wastes little), removed from the pool; or NULL."""
    cdef Py_ssize_t i, best = -1
    cdef size_t capacity
    cdef void* block = NULL
    cdef void* evicted[MAX_BLOCKS]
    cdef Py_ssize_t nevicted = 0
    PyThread_acquire_lock(pool_lock, WAIT_LOCK)
    pool.clock += 1
    for i in range(pool.count):
        capacity = header(pool.blocks[i]).capacity
        if size <= capacity <= size + size // 4:
            if best < 0 or capacity < header(pool.blocks[best]).capacity:
                best = i
    if best >= 0:
        block = pool.blocks[best]
        pool.held -= header(block).capacity
        pool.count -= 1
        for i in range(best, pool.count):
            pool.blocks[i] = pool.blocks[i + 1]
            pool.freed_at[i] = pool.freed_at[i + 1]
    trim_locked(pool, pool.limit, pool.max_blocks, evicted, &nevicted)
    PyThread_release_lock(pool_lock)
    release_blocks(evicted, nevicted)
    return block


cdef void release_blocks(void** blocks, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        free(header(blocks[i]).raw)


cdef size_t trim_locked(Pool* pool, size_t max_bytes, Py_ssize_t max_blocks, void** evicted,
                        Py_ssize_t* nevicted) noexcept nogil:
    """Drop the oldest blocks until the pool holds at most ``max_bytes`` in
    at most ``max_blocks`` blocks, none idle for its max_idle allocations;
    with the lock held.  The dropped blocks go to ``evicted`` (to be freed
    after the lock is released); returns their bytes."""
    cdef size_t dropped = 0
    cdef Py_ssize_t i, n = 0
    while n < pool.count and (pool.count - n > max_blocks or pool.held - dropped > max_bytes
                              or pool.clock - pool.freed_at[n] > pool.max_idle):
        evicted[n] = pool.blocks[n]
        dropped += header(evicted[n]).capacity
        n += 1
    pool.count -= n
    pool.held -= dropped
    for i in range(pool.count):
        pool.blocks[i] = pool.blocks[i + n]
        pool.freed_at[i] = pool.freed_at[i + n]
    nevicted[0] = n
    return dropped


cdef void give_block(Pool* pool, void* block) noexcept nogil:
    """Keep a freed block for reuse, dropping the oldest ones to stay within
    the limit; free it instead if it is small or larger than the limit."""
    cdef size_t capacity = header(block).capacity
    cdef void* evicted[MAX_BLOCKS]
    cdef Py_ssize_t nevicted = 0
    cdef bint kept = False
    if capacity >= pool.min_bytes:
        PyThread_acquire_lock(pool_lock, WAIT_LOCK)
        if capacity <= pool.limit:
            trim_locked(pool, pool.limit - capacity, pool.max_blocks - 1, evicted, &nevicted)
            pool.blocks[pool.count] = block
            pool.freed_at[pool.count] = pool.clock
            pool.count += 1
            pool.held += capacity
            kept = True
        PyThread_release_lock(pool_lock)
    release_blocks(evicted, nevicted)
    if not kept:
        free(header(block).raw)


cdef void* pooled_block(Pool* pool, size_t size) noexcept nogil:
    """A held block for ``size`` bytes, else fresh memory, else NULL."""
    cdef void* block = NULL
    size = max(size, <size_t>1)
    if size >= pool.min_bytes:
        block = take_block(pool, size)
    if block == NULL:
        block = new_block(size)
    if block == NULL and drop_all_oldest() > 0:
        # the memory the pools hold may be what this allocation lacks
        block = new_block(size)
    return block


cdef void* pool_malloc(void* ctx, size_t size) noexcept nogil:
    cdef void* block = pooled_block(&arrays, size)
    if block != NULL and wanted_offset >= 0 and size >= MIN_POOLED_BYTES:
        block = placed_block(block, wanted_offset)
    return block


cdef void* pool_calloc(void* ctx, size_t nelem, size_t elsize) noexcept nogil:
    if elsize != 0 and nelem > <size_t>-1 // elsize:
        return NULL
    cdef void* block = pool_malloc(ctx, nelem * elsize)
    if block != NULL:
        memset(block, 0, nelem * elsize)
    return block


cdef void* pool_realloc(void* ctx, void* ptr, size_t new_size) noexcept nogil:
    if ptr == NULL:
        return pool_malloc(ctx, new_size)
    cdef size_t capacity = header(ptr).capacity
    # a block shrunk to less than half keeps the rest of it from the pool
    if capacity // 2 <= new_size <= capacity:
        return ptr
    cdef void* block = pool_malloc(ctx, new_size)
    if block == NULL:
        return ptr if new_size < capacity else NULL
    memcpy(block, ptr, min(capacity, new_size))
    give_block(&arrays, ptr)
    return block


cdef void pool_free(void* ctx, void* ptr, size_t size) noexcept nogil:
    if ptr != NULL:
        give_block(&arrays, ptr)


cdef MemHandler handler
HANDLER_NAME = "imgconv_buffer_pool"
strncpy(handler.name, HANDLER_NAME.encode(), sizeof(handler.name) - 1)
handler.version = 1
handler.allocator.ctx = NULL
handler.allocator.malloc = pool_malloc
handler.allocator.calloc = pool_calloc
handler.allocator.realloc = pool_realloc
handler.allocator.free = pool_free
# the handler is static: arrays may outlive any reference to this module
cdef object handler_capsule = PyCapsule_New(&handler, b"mem_handler", NULL)


try:
    from numpy._core.multiarray import _get_madvise_hugepage
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _get_madvise_hugepage


def empty(shape, dtype, cnp.ndarray away_from=None):
    """``np.empty(shape, dtype)`` from the pool; from numpy's allocator when
    the pool's limit is 0 or another allocator than numpy's own is in use
    (the user's choice, which the pool must not override).  A large array
    starts half a page from where ``away_from``'s data starts in its page."""
    global advise_huge_pages, wanted_offset
    current = PyDataMem_GetHandler()
    if arrays.limit == 0 or <PyObject*>current != PyDataMem_DefaultHandler:
        return np.empty(shape, dtype)
    if (np.dtype(dtype).itemsize * math.prod((shape,) if isinstance(shape, int) else shape)
            < MIN_POOLED_BYTES):
        # not pooled: numpy's own allocator, without switching handlers
        return np.empty(shape, dtype)
    advise_huge_pages = _get_madvise_hugepage()
    if away_from is not None:
        wanted_offset = ((<uintptr_t>cnp.PyArray_DATA(away_from) + PAGE // 2)
                         & (PAGE - 1) & ~<uintptr_t>(ALIGNMENT - 1))
    PyDataMem_SetHandler(handler_capsule)
    try:
        return np.empty(shape, dtype)
    finally:
        PyDataMem_SetHandler(current)
        wanted_offset = -1


cdef size_t drop_oldest(Pool* pool, size_t max_bytes, Py_ssize_t max_blocks,
                        bint set_limit) noexcept nogil:
    cdef void* evicted[MAX_BLOCKS]
    cdef Py_ssize_t nevicted = 0
    PyThread_acquire_lock(pool_lock, WAIT_LOCK)
    if set_limit:
        pool.limit = max_bytes
    cdef size_t dropped = trim_locked(pool, max_bytes, max_blocks, evicted, &nevicted)
    PyThread_release_lock(pool_lock)
    release_blocks(evicted, nevicted)
    return dropped


cdef size_t drop_all_oldest() noexcept nogil:
    return drop_oldest(&arrays, 0, 0, False) + drop_oldest(&scratch, 0, 0, False)


cdef void* scratch_alloc(size_t size) noexcept nogil:
    """Scratch memory for one thread of a kernel, ALIGNMENT-aligned (NULL if
    out of memory): a block a call before gave back, when one fits."""
    return pooled_block(&scratch, size)


cdef void scratch_free(void* block) noexcept nogil:
    if block != NULL:
        give_block(&scratch, block)


cdef ScratchApi scratch_functions
scratch_functions.alloc = scratch_alloc
scratch_functions.free = scratch_free
# the kernel modules take these two functions from here, so every kernel's
# scratch shares one pool, one lock and one limit
SCRATCH_API = PyCapsule_New(&scratch_functions, b"imgconv._buffer_pool.ScratchApi", NULL)


# The lock is also taken by kernel threads, which hold no GIL: a fork from
# another Python thread can copy it held, so the child gets a new one
# (reset_lock_after_fork, registered by imgconv._buffers).

def set_limit(size_t limit):
    """Keep at most ``limit`` bytes of freed arrays (0: no pool), and at most
    the lesser of that and MAX_SCRATCH_HELD of kernel scratch; frees the
    oldest held blocks beyond them.  Returns the bytes freed."""
    return (drop_oldest(&arrays, limit, ARRAY_BLOCKS, True)
            + drop_oldest(&scratch, min(limit, MAX_SCRATCH_HELD), MAX_BLOCKS, True))


def reset_lock_after_fork():
    """A new lock for a forked child: the parent's may have been copied held."""
    global pool_lock
    cdef PyThread_type_lock fresh = PyThread_allocate_lock()
    if fresh != NULL:
        pool_lock = fresh


def get_limit():
    return arrays.limit


def held_bytes():
    """Bytes of freed arrays the pool holds now."""
    return arrays.held


def held_scratch_bytes():
    """Bytes of kernel scratch the pool holds now."""
    return scratch.held


def release_all():
    """Free every held block; returns the bytes freed."""
    return drop_all_oldest()

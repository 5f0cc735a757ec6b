/* Load balancing for the parallel sweeps.
 *
 * Why: a static split makes a call as slow as its slowest thread, and on a
 * shared or virtual machine one core is often slowed for milliseconds (a
 * neighbour's process, a core that was idle and wakes late).  OpenMP's
 * dynamic schedule would fix that but scatters small chunks over the
 * threads, and consecutive units share source rows and planes (row caches,
 * plane rings, sliding sums), so scattering costs copies.
 *
 * So each thread starts with the contiguous range a static split gives it
 * and takes pieces from its front; a thread whose range runs out takes the
 * back half of the largest range left, which becomes its own.  Ranges stay
 * contiguous and the threads still finish together.
 *
 * A range is one 64-bit word (first << 32 | end), so a take is one
 * compare-and-swap; units are counted in grains of nunits / (2^31 - 1) + 1
 * units, so that any count fits.  Relaxed ordering is enough: a range only says which
 * thread computes which outputs, and the end of the parallel region orders
 * the results.  Without atomics (an unknown compiler) nothing is taken from
 * another thread: the static split. */
#ifndef IMGCONV_WORK_SHARE_H
#define IMGCONV_WORK_SHARE_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define IMGCONV_CAN_STEAL 1
#define IMGCONV_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define IMGCONV_CAS(p, expected, desired) \
    __atomic_compare_exchange_n((p), (expected), (desired), 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)
#define IMGCONV_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#elif defined(_MSC_VER)
#include <intrin.h>
#define IMGCONV_CAN_STEAL 1
#define IMGCONV_LOAD(p) ((uint64_t)_InterlockedCompareExchange64((volatile __int64*)(p), 0, 0))
static inline int imgconv_msvc_cas(uint64_t* p, uint64_t* expected, uint64_t desired) {
    uint64_t seen = (uint64_t)_InterlockedCompareExchange64((volatile __int64*)p,
                                                            (__int64)desired, (__int64)*expected);
    if (seen == *expected)
        return 1;
    *expected = seen;
    return 0;
}
#define IMGCONV_CAS(p, expected, desired) imgconv_msvc_cas((p), (expected), (desired))
#define IMGCONV_STORE(p, v) _InterlockedExchange64((volatile __int64*)(p), (__int64)(v))
#else
#define IMGCONV_CAN_STEAL 0
#define IMGCONV_LOAD(p) (*(p))
#define IMGCONV_CAS(p, expected, desired) (*(p) = (desired), 1)
#define IMGCONV_STORE(p, v) (*(p) = (v))
#endif

/* one range per cache line, so owners taking pieces do not contend */
#define IMGCONV_SHARE_STRIDE 8

typedef struct {
    uint64_t* ranges;       /* range of thread t at ranges[t * IMGCONV_SHARE_STRIDE] */
    int nshares;
    int64_t nunits, grain;  /* grain: units per counted grain */
    int64_t ngrains;
    uint32_t piece;         /* grains an owner takes at a time */
} imgconv_work;

/* Bytes of storage imgconv_work_init needs for nthreads threads. */
static inline size_t imgconv_work_bytes(int nthreads) {
    return ((size_t)nthreads * IMGCONV_SHARE_STRIDE + 8) * sizeof(uint64_t);
}

/* Split units [0, nunits) into nthreads contiguous ranges; owners take
 * ``piece`` units at a time (rounded up to whole grains).  ``storage``: at
 * least imgconv_work_bytes(nthreads) bytes. */
static inline void imgconv_work_init(imgconv_work* work, void* storage, int nthreads,
                                     int64_t nunits, int64_t piece) {
    uintptr_t aligned = ((uintptr_t)storage + 63) & ~(uintptr_t)63;
    int t;
    work->ranges = (uint64_t*)aligned;
    work->nshares = nthreads;
    work->nunits = nunits;
    work->grain = nunits / INT32_MAX + 1;
    work->ngrains = (nunits + work->grain - 1) / work->grain;
    /* whole grains, at least one; more than all of them fits no better */
    piece = (piece + work->grain - 1) / work->grain;
    if (piece > work->ngrains)
        piece = work->ngrains;
    work->piece = (uint32_t)(piece < 1 ? 1 : piece);
    for (t = 0; t < nthreads; t++)
        work->ranges[t * IMGCONV_SHARE_STRIDE] =
            (uint64_t)(work->ngrains * t / nthreads) << 32
            | (uint64_t)(work->ngrains * (t + 1) / nthreads);
}

/* Units thread ``tid`` starts with (for sizing its scratch). */
static inline int64_t imgconv_work_initial(const imgconv_work* work, int tid) {
    return (work->ngrains * (tid + 1) / work->nshares - work->ngrains * tid / work->nshares)
           * work->grain;
}

/* The next units [*begin, *end) for thread ``tid``; 0 when none are left. */
static inline int imgconv_work_take(imgconv_work* work, int tid, int64_t* begin, int64_t* end) {
    uint64_t* own = &work->ranges[tid * IMGCONV_SHARE_STRIDE];
    uint64_t seen, first, stop, take;
    int t, victim;
    for (;;) {
        seen = IMGCONV_LOAD(own);
        while ((first = seen >> 32) < (stop = seen & 0xFFFFFFFFu)) {
            take = stop - first < work->piece ? stop - first : work->piece;
            if (IMGCONV_CAS(own, &seen, (first + take) << 32 | stop)) {
                *begin = (int64_t)first * work->grain;
                *end = (int64_t)(first + take) * work->grain;
                if (*end > work->nunits)
                    *end = work->nunits;
                return 1;
            }
        }
        if (!IMGCONV_CAN_STEAL)
            return 0;
        /* own range empty: the back half of the largest one left */
        victim = -1;
        take = 0;
        for (t = 0; t < work->nshares; t++) {
            uint64_t r = IMGCONV_LOAD(&work->ranges[t * IMGCONV_SHARE_STRIDE]);
            uint64_t left = (r >> 32) < (r & 0xFFFFFFFFu) ? (r & 0xFFFFFFFFu) - (r >> 32) : 0;
            if (left > take) {
                take = left;
                victim = t;
                seen = r;
            }
        }
        if (victim < 0)
            return 0;
        first = seen >> 32;
        stop = seen & 0xFFFFFFFFu;
        take = (stop - first + 1) / 2;
        if (IMGCONV_CAS(&work->ranges[victim * IMGCONV_SHARE_STRIDE], &seen,
                        first << 32 | (stop - take)))
            /* no thief reads an empty range, so a plain store cannot be lost */
            IMGCONV_STORE(own, (stop - take) << 32 | stop);
    }
}

#endif

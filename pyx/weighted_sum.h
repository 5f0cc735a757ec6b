/* out[x] = sum over t of w[t] * rows[t][x], for x in [0, n): the inner loop of
 * direct correlation.
 *
 * Why a C helper: the sum over taps must stay in registers.  Written as
 * passes over an accumulator row, every tap costs a load and a store of the
 * accumulator besides its own load; here a block of BLOCK_VECTORS vectors of
 * outputs is held in registers while all the taps stream through, then stored
 * once (measured 2x faster on a 3x3x3 kernel).  GCC and clang keep a small
 * array of vector-extension values in registers; plain C arrays they do not.
 *
 * Sliding sums compute IMGCONV_SLIDING_OUTPUTS consecutive windows at once,
 * window p reading rows[g * (ntaps + P - 1) + t + p] with weight
 * w[g * ntaps + t] for each group g: every loaded vector then feeds up to P
 * sums, which is what lifts a 3x3x3 kernel from load-bound (each tap a load,
 * a third of them split across cache lines) to FMA-bound.  A group is one
 * run of taps down a column of rows (one kernel z and x, all of its y).
 * Every path sums a window's taps in the same order (group, then tap), so a
 * result does not depend on which path computed it.
 *
 * The vector width follows the compile flags (32 bytes with AVX, 16 bytes
 * otherwise), so the same source serves the baseline and the AVX2 builds.
 * Compilers without vector extensions get the plain loop.
 *
 * Measured and left out (256^3 float32 volume, 3x3x3 kernel, 2-core Zen 4):
 * non-temporal stores of the whole cache lines of a row, from the blocks or
 * copied out of an L1 row buffer, made the sweep 20-25% slower (a row's
 * burst of stores stalls where ordinary stores overlap the next block's
 * FMAs); an AVX-512 build, with 512-bit or 256-bit vectors, was no faster.
 */
#ifndef IMGCONV_WEIGHTED_SUM_H
#define IMGCONV_WEIGHTED_SUM_H

#include <stddef.h>

/* how many consecutive windows a sliding weighted sum computes at once */
#define IMGCONV_SLIDING_OUTPUTS 4

#if defined(__GNUC__) || defined(__clang__)

#if defined(__AVX__)
#define IMGCONV_VECTOR_BYTES 32
#else
#define IMGCONV_VECTOR_BYTES 16
#endif
/* Scalars round like the vector code (which the compiler contracts to FMA
   where the target has it), so a result does not depend on where a sample
   falls in its row; left to itself, GCC turns the scalar loop into vector
   products summed one by one. */
#if defined(__FMA__)
#define IMGCONV_MULADD_float(a, b, c) __builtin_fmaf((a), (b), (c))
#define IMGCONV_MULADD_double(a, b, c) __builtin_fma((a), (b), (c))
#else
#define IMGCONV_MULADD_float(a, b, c) ((a) * (b) + (c))
#define IMGCONV_MULADD_double(a, b, c) ((a) * (b) + (c))
#endif
/* 8 accumulators leave half of the 16 vector registers for the loads */
#define IMGCONV_BLOCK_VECTORS 8
/* sliding sums: 4 windows of 2 vectors, again 8 accumulators */
#define IMGCONV_SLIDING_VECTORS 2

#define IMGCONV_DEFINE_WEIGHTED_SUM(T, NAME)                                         \
typedef T NAME##_vec __attribute__((vector_size(IMGCONV_VECTOR_BYTES),               \
                                    aligned(sizeof(T)), may_alias));                 \
                                                                                     \
static inline void NAME##_block(T* out, T* const* rows, const T* w, ptrdiff_t ntaps, \
                                ptrdiff_t x)                                         \
{                                                                                    \
    enum { LANES = IMGCONV_VECTOR_BYTES / sizeof(T) };                               \
    NAME##_vec acc[IMGCONV_BLOCK_VECTORS];                                           \
    ptrdiff_t t;                                                                     \
    int j;                                                                           \
    for (j = 0; j < IMGCONV_BLOCK_VECTORS; j++)                                      \
        acc[j] = (NAME##_vec){0};                                                    \
    for (t = 0; t < ntaps; t++) {                                                    \
        const NAME##_vec* p = (const NAME##_vec*)(rows[t] + x);                      \
        T weight = w[t];                                                             \
        for (j = 0; j < IMGCONV_BLOCK_VECTORS; j++)                                  \
            acc[j] += weight * p[j];                                                 \
    }                                                                                \
    for (j = 0; j < IMGCONV_BLOCK_VECTORS; j++)                                      \
        *(NAME##_vec*)(out + x + j * LANES) = acc[j];                                \
}                                                                                    \
                                                                                     \
static inline void NAME##_vector(T* out, T* const* rows, const T* w, ptrdiff_t ntaps,\
                                 ptrdiff_t x)                                        \
{                                                                                    \
    NAME##_vec acc = (NAME##_vec){0};                                                \
    ptrdiff_t t;                                                                     \
    for (t = 0; t < ntaps; t++)                                                      \
        acc += w[t] * *(const NAME##_vec*)(rows[t] + x);                             \
    *(NAME##_vec*)(out + x) = acc;                                                   \
}                                                                                    \
                                                                                     \
static inline void NAME(T* out, T* const* rows, const T* w, ptrdiff_t ntaps,         \
                        ptrdiff_t n)                                                 \
{                                                                                    \
    enum { LANES = IMGCONV_VECTOR_BYTES / sizeof(T),                                 \
           BLOCK = IMGCONV_BLOCK_VECTORS * LANES };                                  \
    ptrdiff_t x, t;                                                                  \
    T sum;                                                                           \
    /* The last block or vector overlaps the one before it instead of falling  \
       back to scalars: it stores the same values again. */                          \
    if (n >= BLOCK) {                                                                \
        for (x = 0; x + BLOCK < n; x += BLOCK)                                       \
            NAME##_block(out, rows, w, ntaps, x);                                    \
        NAME##_block(out, rows, w, ntaps, n - BLOCK);                                \
    } else if (n >= LANES) {                                                         \
        for (x = 0; x + LANES < n; x += LANES)                                       \
            NAME##_vector(out, rows, w, ntaps, x);                                   \
        NAME##_vector(out, rows, w, ntaps, n - LANES);                               \
    } else {                                                                         \
        for (x = 0; x < n; x++) {                                                    \
            sum = 0;                                                                 \
            for (t = 0; t < ntaps; t++)                                              \
                sum = IMGCONV_MULADD_##T(w[t], rows[t][x], sum);                      \
            out[x] = sum;                                                            \
        }                                                                            \
    }                                                                                \
}                                                                                    \
                                                                                     \
static inline __attribute__((always_inline)) void                                    \
NAME##_sliding_block(T* const* out, T* const* rows, const T* w,                      \
                     ptrdiff_t ngroups, ptrdiff_t ntaps, ptrdiff_t x)                \
{                                                                                    \
    enum { LANES = IMGCONV_VECTOR_BYTES / sizeof(T), P = IMGCONV_SLIDING_OUTPUTS,    \
           V = IMGCONV_SLIDING_VECTORS };                                            \
    NAME##_vec acc[IMGCONV_SLIDING_OUTPUTS][IMGCONV_SLIDING_VECTORS], v[V];          \
    T* const* r;                                                                     \
    const T* wg;                                                                     \
    ptrdiff_t g, s;                                                                  \
    int i, p, j;                                                                     \
    for (p = 0; p < P; p++)                                                          \
        for (j = 0; j < V; j++)                                                      \
            acc[p][j] = (NAME##_vec){0};                                             \
    for (g = 0; g < ngroups; g++) {                                                  \
        r = rows + g * (ntaps + P - 1);                                              \
        wg = w + g * ntaps;                                                          \
        /* row s feeds output p with tap s - p: the first and last P - 1 rows   \
           feed only some outputs (constant trip counts, so the accumulators    \
           stay in registers) */                                                     \
        for (i = 0; i < P - 1; i++) {                                                \
            for (j = 0; j < V; j++)                                                  \
                v[j] = *(const NAME##_vec*)(r[i] + x + j * LANES);                   \
            for (p = 0; p <= i; p++)                                                 \
                for (j = 0; j < V; j++)                                              \
                    acc[p][j] += wg[i - p] * v[j];                                   \
        }                                                                            \
        for (s = P - 1; s < ntaps; s++) {                                            \
            for (j = 0; j < V; j++)                                                  \
                v[j] = *(const NAME##_vec*)(r[s] + x + j * LANES);                   \
            for (p = 0; p < P; p++)                                                  \
                for (j = 0; j < V; j++)                                              \
                    acc[p][j] += wg[s - p] * v[j];                                   \
        }                                                                            \
        for (i = 0; i < P - 1; i++) {                                                \
            for (j = 0; j < V; j++)                                                  \
                v[j] = *(const NAME##_vec*)(r[ntaps + i] + x + j * LANES);           \
            for (p = i + 1; p < P; p++)                                              \
                for (j = 0; j < V; j++)                                              \
                    acc[p][j] += wg[ntaps + i - p] * v[j];                           \
        }                                                                            \
    }                                                                                \
    for (p = 0; p < P; p++)                                                          \
        for (j = 0; j < V; j++)                                                      \
            *(NAME##_vec*)(out[p] + x + j * LANES) = acc[p][j];                      \
}                                                                                    \
                                                                                     \
static inline void NAME##_sliding_vector(T* out, T* const* rows, const T* w,         \
                                         ptrdiff_t ngroups, ptrdiff_t ntaps,         \
                                         ptrdiff_t x)                                \
{                                                                                    \
    NAME##_vec acc = (NAME##_vec){0};                                                \
    ptrdiff_t g, t;                                                                  \
    for (g = 0; g < ngroups; g++)                                                    \
        for (t = 0; t < ntaps; t++)                                                  \
            acc += w[g * ntaps + t]                                                  \
                   * *(const NAME##_vec*)(rows[g * (ntaps + IMGCONV_SLIDING_OUTPUTS - 1) \
                                               + t] + x);                            \
    *(NAME##_vec*)(out + x) = acc;                                                   \
}                                                                                    \
                                                                                     \
static inline __attribute__((always_inline)) void                                    \
NAME##_sliding_chunks(T* const* out, T* const* rows, const T* w,                     \
                      ptrdiff_t ngroups, ptrdiff_t ntaps, ptrdiff_t n)               \
{                                                                                    \
    enum { CHUNK = IMGCONV_SLIDING_VECTORS * IMGCONV_VECTOR_BYTES / sizeof(T) };     \
    ptrdiff_t x;                                                                     \
    for (x = 0; x + CHUNK < n; x += CHUNK)                                           \
        NAME##_sliding_block(out, rows, w, ngroups, ntaps, x);                       \
    NAME##_sliding_block(out, rows, w, ngroups, ntaps, n - CHUNK);                   \
}                                                                                    \
                                                                                     \
/* not inlined: in a large caller the accumulators get spilled */                \
static __attribute__((noinline)) void                                                \
NAME##_sliding(T* const* out, T* const* rows, const T* w,                            \
               ptrdiff_t ngroups, ptrdiff_t ntaps, ptrdiff_t n)                      \
{                                                                                    \
    enum { LANES = IMGCONV_VECTOR_BYTES / sizeof(T),                                 \
           CHUNK = IMGCONV_SLIDING_VECTORS * LANES };                                \
    ptrdiff_t x, g, t, stride = ntaps + IMGCONV_SLIDING_OUTPUTS - 1;                 \
    int p;                                                                           \
    T sum;                                                                           \
    if (n >= CHUNK && ntaps >= IMGCONV_SLIDING_OUTPUTS - 1) {                        \
        /* short columns get their length as a constant, which unrolls the    \
           taps (measured: a 5x5x5 kernel 10% faster) */                             \
        switch (ntaps) {                                                             \
        case 3: NAME##_sliding_chunks(out, rows, w, ngroups, 3, n); return;          \
        case 5: NAME##_sliding_chunks(out, rows, w, ngroups, 5, n); return;          \
        case 7: NAME##_sliding_chunks(out, rows, w, ngroups, 7, n); return;          \
        default: NAME##_sliding_chunks(out, rows, w, ngroups, ntaps, n); return;     \
        }                                                                            \
    }                                                                                \
    /* each window on its own, summing in the same order */                          \
    if (ngroups == 1) {                                                              \
        for (p = 0; p < IMGCONV_SLIDING_OUTPUTS; p++)                                \
            NAME(out[p], rows + p, w, ntaps, n);                                     \
        return;                                                                      \
    }                                                                                \
    for (p = 0; p < IMGCONV_SLIDING_OUTPUTS; p++) {                                  \
        if (n >= LANES) {                                                            \
            for (x = 0; x + LANES < n; x += LANES)                                   \
                NAME##_sliding_vector(out[p], rows + p, w, ngroups, ntaps, x);       \
            NAME##_sliding_vector(out[p], rows + p, w, ngroups, ntaps, n - LANES);   \
            continue;                                                                \
        }                                                                            \
        for (x = 0; x < n; x++) {                                                    \
            sum = 0;                                                                 \
            for (g = 0; g < ngroups; g++)                                            \
                for (t = 0; t < ntaps; t++)                                          \
                    sum = IMGCONV_MULADD_##T(w[g * ntaps + t],                       \
                                             rows[g * stride + t + p][x], sum);      \
            out[p][x] = sum;                                                         \
        }                                                                            \
    }                                                                                \
}

#else  /* no vector extensions */

#define IMGCONV_DEFINE_WEIGHTED_SUM(T, NAME)                                         \
static inline void NAME(T* out, T* const* rows, const T* w, ptrdiff_t ntaps,         \
                        ptrdiff_t n)                                                 \
{                                                                                    \
    ptrdiff_t x, t;                                                                  \
    for (x = 0; x < n; x++)                                                          \
        out[x] = 0;                                                                  \
    for (t = 0; t < ntaps; t++)                                                      \
        for (x = 0; x < n; x++)                                                      \
            out[x] += w[t] * rows[t][x];                                             \
}                                                                                    \
                                                                                     \
static inline void NAME##_sliding(T* const* out, T* const* rows, const T* w,         \
                                  ptrdiff_t ngroups, ptrdiff_t ntaps, ptrdiff_t n)   \
{                                                                                    \
    ptrdiff_t x, g, t, stride = ntaps + IMGCONV_SLIDING_OUTPUTS - 1;                 \
    int p;                                                                           \
    for (p = 0; p < IMGCONV_SLIDING_OUTPUTS; p++) {                                  \
        for (x = 0; x < n; x++)                                                      \
            out[p][x] = 0;                                                           \
        for (g = 0; g < ngroups; g++)                                                \
            for (t = 0; t < ntaps; t++)                                              \
                for (x = 0; x < n; x++)                                              \
                    out[p][x] += w[g * ntaps + t] * rows[g * stride + t + p][x];     \
    }                                                                                \
}

#endif

IMGCONV_DEFINE_WEIGHTED_SUM(float, weighted_sum_float)
IMGCONV_DEFINE_WEIGHTED_SUM(double, weighted_sum_double)

#endif

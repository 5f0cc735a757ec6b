/* Sums of runs of products for the transposed convolutions' gather
 * (pyx/transposed.pxi):
 *
 *     dst[j] = sum over terms t of base[start[t] + j],  first[t] <= j < last[t]
 *
 * (a term takes no part in the outputs outside its run).  Over [lo, hi),
 * where every term takes part, 16 outputs at a time are summed in registers
 * (the compiler turns the fixed-length loops into vector loads and adds)
 * and stored once (a last chunk overlapping the one before where [lo, hi)
 * is not a whole number of chunks); the few outputs at the edges one by one.  The terms are
 * added in the order given everywhere, so a sum does not depend on where
 * its output lies. */
#ifndef IMGCONV_TRANSPOSED_SUM_H
#define IMGCONV_TRANSPOSED_SUM_H

#include <Python.h>

#define IMGCONV_SUM_CHUNK 16

#define IMGCONV_DEFINE_SUM_RUNS(NAME, T)                                             \
static inline void NAME(T* dst, const T* base, const Py_ssize_t* start,              \
                        const Py_ssize_t* first, const Py_ssize_t* last,             \
                        Py_ssize_t nterms, Py_ssize_t lo, Py_ssize_t hi,             \
                        Py_ssize_t n)                                                \
{                                                                                    \
    Py_ssize_t j, t, k;                                                              \
    int interior = nterms > 0 && lo < hi;                                            \
    for (j = 0; j < n; j++) {                                                        \
        if (interior && j == lo) {                                                   \
            j = hi - 1;         /* the interior, below */                            \
            continue;                                                                \
        }                                                                            \
        T sum = 0;                                                                   \
        for (t = 0; t < nterms; t++)                                                 \
            if (j >= first[t] && j < last[t])                                        \
                sum += base[start[t] + j];                                           \
        dst[j] = sum;                                                                \
    }                                                                                \
    if (!interior)                                                                   \
        return;                                                                      \
    if (hi - lo < IMGCONV_SUM_CHUNK) {                                               \
        for (j = lo; j < hi; j++) {                                                  \
            T sum = base[start[0] + j];                                              \
            for (t = 1; t < nterms; t++)                                             \
                sum += base[start[t] + j];                                           \
            dst[j] = sum;                                                            \
        }                                                                            \
        return;                                                                      \
    }                                                                                \
    /* the last chunk ends at hi, overlapping the one before: its outputs   */      \
    /* are summed again, the same terms in the same order                   */      \
    for (j = lo;; j += IMGCONV_SUM_CHUNK) {                                          \
        if (j + IMGCONV_SUM_CHUNK > hi)                                              \
            j = hi - IMGCONV_SUM_CHUNK;                                              \
        T acc[IMGCONV_SUM_CHUNK];                                                    \
        const T* p = base + start[0] + j;                                            \
        for (k = 0; k < IMGCONV_SUM_CHUNK; k++)                                      \
            acc[k] = p[k];                                                           \
        for (t = 1; t < nterms; t++) {                                               \
            p = base + start[t] + j;                                                 \
            for (k = 0; k < IMGCONV_SUM_CHUNK; k++)                                  \
                acc[k] += p[k];                                                      \
        }                                                                            \
        for (k = 0; k < IMGCONV_SUM_CHUNK; k++)                                      \
            dst[j + k] = acc[k];                                                     \
        if (j + IMGCONV_SUM_CHUNK == hi)                                             \
            break;                                                                   \
    }                                                                                \
}

IMGCONV_DEFINE_SUM_RUNS(imgconv_sum_runs_f32, float)
IMGCONV_DEFINE_SUM_RUNS(imgconv_sum_runs_f64, double)

#endif

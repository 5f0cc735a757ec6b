/* OpenMP and CPU-feature shims, so the kernels build (serially) without OpenMP. */
#ifndef IMGCONV_OPENMP_COMPAT_H
#define IMGCONV_OPENMP_COMPAT_H

#ifdef _OPENMP
#include <omp.h>
static inline int imgconv_openmp_enabled(void) { return 1; }
#else
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
static inline int imgconv_openmp_enabled(void) { return 0; }
#endif

static inline int imgconv_cpu_has_avx2_fma(void) {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

#endif

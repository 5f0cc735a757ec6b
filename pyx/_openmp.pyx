"""Build facts the Python layer needs: OpenMP availability and CPU features.

The thread-count policy itself lives in ``imgconv._threads``; this module only
reports what the compiled code can do.
"""

cdef extern from "openmp_compat.h":
    int omp_get_max_threads() nogil
    int imgconv_openmp_enabled() nogil
    int imgconv_cpu_has_avx2_fma() nogil

cdef extern from *:
    """
    #ifdef _OPENMP
    static int imgconv_thread_limit(void) { return omp_get_thread_limit(); }
    #else
    static int imgconv_thread_limit(void) { return 1; }
    #endif
    """
    int imgconv_thread_limit() nogil


def openmp_enabled():
    """True if the extensions were compiled with OpenMP."""
    return bool(imgconv_openmp_enabled())


def openmp_max_threads():
    """OpenMP's own default team size (1 when built without OpenMP)."""
    return omp_get_max_threads()


def openmp_thread_limit():
    """OpenMP's limit on the threads of the whole program (``OMP_THREAD_LIMIT``,
    else practically unlimited); 1 without OpenMP."""
    return imgconv_thread_limit()


def cpu_has_avx2_fma():
    """True if the running CPU supports AVX2 and FMA3."""
    return bool(imgconv_cpu_has_avx2_fma())

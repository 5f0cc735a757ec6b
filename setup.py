"""Build the Cython kernels.

The convolution kernels are compiled twice from one source: a baseline build
(whatever the compiler targets by default, e.g. SSE2 on x86-64) and, on x86-64,
an ``-mavx2 -mfma`` build.  ``imgconv._dispatch`` picks the AVX2 module at
import time only if the running CPU reports AVX2 and FMA, so the wheel never
executes illegal instructions on older CPUs.

OpenMP is optional: if the compiler cannot build a tiny OpenMP program, the
extensions are built without it (with a warning) and run serially.
Set ``IMGCONV_DISABLE_OPENMP=1`` to force that serial build.
"""
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OPENMP_TEST = textwrap.dedent(
    """
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return n > 0 ? 0 : 1;
    }
    """
)


def _compiler():
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return cc.split()


def _compiles(source, flags):
    """True if the C compiler builds and links ``source`` with ``flags``."""
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(source)
        cmd = _compiler() + [src, "-o", os.path.join(tmp, "probe")] + flags
        return subprocess.run(cmd, capture_output=True).returncode == 0
    except OSError:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def openmp_flags():
    if os.environ.get("IMGCONV_DISABLE_OPENMP"):
        warnings.warn("IMGCONV_DISABLE_OPENMP set: building imgconv without OpenMP (serial)")
        return [], []
    if sys.platform == "win32":
        return ["/openmp"], []
    if _compiles(OPENMP_TEST, ["-fopenmp"]):
        return ["-fopenmp"], ["-fopenmp"]
    warnings.warn(
        "The C compiler has no OpenMP support: imgconv is built without it and "
        "its kernels will run on one thread."
    )
    return [], []


def is_x86_64():
    return platform.machine().lower() in ("x86_64", "amd64")


omp_compile, omp_link = openmp_flags()
base_flags = [] if sys.platform == "win32" else ["-O3", "-fno-math-errno", "-Wno-unreachable-code"]
macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
common = dict(include_dirs=[np.get_include(), "pyx"], define_macros=macros)


def kernel_extension(name, extra_flags=()):
    return Extension(
        f"imgconv.{name}",
        [f"pyx/{name}.pyx"],
        extra_compile_args=base_flags + omp_compile + list(extra_flags),
        extra_link_args=omp_link,
        **common,
    )


extensions = [
    kernel_extension("_openmp"),
    # numpy's allocator hooks (PyDataMem_SetHandler) came with its 1.22 C API
    Extension("imgconv._buffer_pool", ["pyx/_buffer_pool.pyx"], extra_compile_args=base_flags,
              include_dirs=common["include_dirs"],
              define_macros=macros + [("NPY_TARGET_VERSION", "NPY_1_22_API_VERSION")]),
    kernel_extension("_kernels_baseline"),
]
if is_x86_64() and sys.platform != "win32" and _compiles("int main(void){return 0;}", ["-mavx2", "-mfma"]):
    extensions.append(kernel_extension("_kernels_avx2", ["-mavx2", "-mfma"]))

jobs = os.cpu_count() or 1


class ParallelBuildExt(build_ext):
    """build_ext compiling the extensions side by side unless told otherwise."""

    def finalize_options(self):
        if self.parallel is None:
            self.parallel = jobs
        super().finalize_options()


setup(
    cmdclass={"build_ext": ParallelBuildExt},
    ext_modules=cythonize(
        extensions,
        nthreads=jobs,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
)

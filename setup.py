"""Build the Cython kernels.

The CPU kernels are two modules (see ``KERNEL_UNITS``), each compiled twice
from one Cython run: a baseline build (whatever the compiler targets by
default, e.g. SSE2 on x86-64) and, on x86-64, an ``-mavx2 -mfma`` build.
``imgconv._dispatch`` picks the AVX2 modules at import time only if the
running CPU reports AVX2 and FMA, so the build never executes illegal
instructions on older CPUs.

OpenMP is optional: if the compiler cannot build a tiny OpenMP program, the
extensions are built without it (with a warning) and run serially.
Set ``IMGCONV_DISABLE_OPENMP=1`` to force that serial build.
"""
import glob
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import warnings

import numpy as np
from Cython.Build import cythonize
from Cython.Build.Dependencies import create_dependency_tree
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.modified import newer_group

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


def _compiles(source, flags, run=False):
    """True if the C compiler builds and links ``source`` with ``flags`` (and,
    with ``run``, the program then exits with status 0 on this machine)."""
    tmp = tempfile.mkdtemp()
    try:
        src, exe = os.path.join(tmp, "probe.c"), os.path.join(tmp, "probe")
        with open(src, "w") as f:
            f.write(source)
        cmd = _compiler() + [src, "-o", exe] + flags
        if subprocess.run(cmd, capture_output=True).returncode != 0:
            return False
        return not run or subprocess.run([exe], capture_output=True).returncode == 0
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
# -g0: Python's own CFLAGS ask for debug info, which made compiling the kernels
# half as slow again (31 -> 46 s of CPU per instruction set) for nothing a user runs.
base_flags = [] if sys.platform == "win32" else ["-O3", "-g0", "-fno-math-errno",
                                                 "-Wno-unreachable-code"]
macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
# C headers the compiler includes: not Cython's dependencies, but a change to
# one must rebuild the modules (build_ext compares depends with each module)
common = dict(include_dirs=[np.get_include(), "pyx"], define_macros=macros,
              depends=sorted(glob.glob("pyx/*.h")))


#: The CPU kernels' compile units.  The kernels are split in two so that the
#: two cores of a small machine share the compiling (one module took 43 s at
#: -O3; the two take 28 s and 18 s); each unit is one Cython run
#: (``pyx/<unit>_base.pyx``) whose C is compiled once per instruction set.
KERNEL_UNITS = ("_order", "_linear")
#: The instruction-set variant built beside the baseline, if any: its C is the
#: baseline's with the module renamed (the names have the same length, so the
#: renamed C is otherwise byte for byte the same).
AVX2 = ("avx2", ["-mavx2", "-mfma"])


def kernel_extension(name, sources, extra_flags=()):
    return Extension(
        f"imgconv.{name}",
        sources,
        extra_compile_args=base_flags + omp_compile + list(extra_flags),
        extra_link_args=omp_link,
        **common,
    )


def builds_avx2():
    return (is_x86_64() and sys.platform != "win32"
            and _compiles("int main(void){return 0;}", AVX2[1]))


def host_runs_avx2():
    """True if this machine's CPU has AVX2 and FMA (a probe built and run here)."""
    probe = ('int main(void){__builtin_cpu_init(); return !(__builtin_cpu_supports("avx2")'
             ' && __builtin_cpu_supports("fma"));}')
    return _compiles(probe, [], run=True)


with_avx2 = builds_avx2()
#: An editable install (the README's ``pip install -e .``) runs on the machine
#: that builds it, so where that machine runs the AVX2 build the baseline,
#: which only CPUs without AVX2 load, is not compiled: that halves the
#: install's compile time.  Set IMGCONV_PORTABLE_BUILD=1 to build it anyway
#: (CI does, to test it); wheels and ``pip install .`` always build it.
host_only = (with_avx2 and not os.environ.get("IMGCONV_PORTABLE_BUILD")
             and host_runs_avx2())
extensions = [
    kernel_extension(f"{unit}_base", [f"pyx/{unit}_base.pyx"]) for unit in KERNEL_UNITS
] + [
    kernel_extension("_openmp", ["pyx/_openmp.pyx"]),
    # numpy's allocator hooks (PyDataMem_SetHandler) came with its 1.22 C API
    Extension("imgconv._buffer_pool", ["pyx/_buffer_pool.pyx"], extra_compile_args=base_flags,
              include_dirs=common["include_dirs"],
              define_macros=macros + [("NPY_TARGET_VERSION", "NPY_1_22_API_VERSION")]),
]

jobs = os.cpu_count() or 1


def generated_c_is_current(extension, dependencies):
    """True if the C file Cython wrote for ``extension`` is newer than the
    project's Cython sources it was made from (its ``.pyx`` and the ``.pxi`` and
    ``.pxd`` files that reaches).

    Each ``pip install`` builds in a fresh isolated environment whose Cython
    include files look brand new to ``cythonize``, which would then regenerate
    every C file and so recompile every extension.  The README's second command
    (``pip install -e ".[test]"``) reuses the first one's build this way: its
    extensions are up to date, and build_ext skips them.
    """
    source = extension.sources[0]
    generated = os.path.splitext(source)[0] + ".c"
    if not os.path.exists(generated):
        return False
    own = [path for path in dependencies.all_dependencies(source)
           if os.path.abspath(path).startswith(os.path.abspath("pyx") + os.sep)]
    return os.path.getmtime(generated) > max(map(os.path.getmtime, own))


def cythonize_stale(extensions):
    """``cythonize`` the extensions whose C is missing or older than pyx/; the
    others are built from the C file they have."""
    dependencies = create_dependency_tree()
    current = [e for e in extensions if generated_c_is_current(e, dependencies)]
    for extension in current:
        extension.sources = [os.path.splitext(extension.sources[0])[0] + ".c"]
    stale = [e for e in extensions if e not in current]
    return current + (cythonize(
        stale,
        nthreads=jobs,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ) if stale else [])


class ParallelBuildExt(build_ext):
    """build_ext compiling the extensions side by side unless told otherwise.

    An editable install builds into a fresh temporary folder and then copies
    the modules into ``imgconv/``; a module already there that is newer than
    its C source is reused instead of compiled again (delete ``imgconv/*.so``
    to force a rebuild, e.g. after changing the build flags).
    """

    def finalize_options(self):
        if self.parallel is None:
            self.parallel = jobs
        super().finalize_options()
        if getattr(self, "editable_mode", False) and host_only:
            baseline = {f"imgconv.{unit}_base" for unit in KERNEL_UNITS}
            self.extensions = [e for e in self.extensions if e.name not in baseline]
            print("building the AVX2 kernels only (this machine runs them); "
                  "IMGCONV_PORTABLE_BUILD=1 builds the baseline too")

    def build_extension(self, ext):
        in_place = self.get_ext_filename(ext.name)
        if (getattr(self, "editable_mode", False) and not self.force
                and os.path.exists(in_place)
                and not newer_group(ext.sources + ext.depends, in_place)):
            target = self.get_ext_fullpath(ext.name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(in_place, target)
            print(f"reusing {in_place}: newer than its C source and headers")
            return
        super().build_extension(ext)


def renamed_variant_sources(variant):
    """Write ``pyx/<unit>_<variant>.c`` for each kernel unit from its baseline
    C (when missing or older) and return their paths."""
    paths = []
    for unit in KERNEL_UNITS:
        base, renamed = f"{unit}_base", f"{unit}_{variant}"
        assert len(base) == len(renamed)
        source, target = f"pyx/{base}.c", f"pyx/{renamed}.c"
        if not os.path.exists(target) or os.path.getmtime(target) < os.path.getmtime(source):
            with open(source) as f:
                text = f.read()
            # the module's name, not the source file's (kept for tracebacks)
            text = re.sub(rf"{base}(?!\.pyx)", renamed, text)
            with open(target, "w") as f:
                f.write(text)
        paths.append(target)
    return paths


def all_extensions():
    """Every extension, the slowest to compile first: build_ext hands them
    to its workers in this order (the AVX2 units take the longest)."""
    built = cythonize_stale(extensions)
    if with_avx2:
        variant, flags = AVX2
        built[:0] = [kernel_extension(f"{unit}_{variant}", [path], flags)
                     for unit, path in zip(KERNEL_UNITS, renamed_variant_sources(variant))]
    return built


setup(
    cmdclass={"build_ext": ParallelBuildExt},
    ext_modules=all_extensions(),
)

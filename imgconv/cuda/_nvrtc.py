"""Compile kernel sources to PTX with NVRTC: the check that needs no GPU.

`compile_ptx` runs NVRTC through ``cupy_backends.cuda.libs.nvrtc`` (CuPy's
binding; the library comes from the pip package ``nvidia-cuda-nvrtc-cu12``),
which works on a machine with no GPU and no CUDA driver, with the options
`imgconv.cuda._runtime.get_kernel` gives the GPU.  CI uses it to compile every
kernel variant the package can generate.
"""
import ctypes
from pathlib import Path

from ._runtime import (SANITIZER_RUNTIMES, CudaCompileError, CudaUnavailable, library_loaded,
                       compile_options, normalize_defines, source_code, source_path)

DEFAULT_ARCH = "compute_90"


def _load_builtins_for_sanitizers():
    # NVRTC dlopens libnvrtc-builtins beside itself by a relative search that
    # fails when a sanitizer's runtime (which intercepts dlopen) is preloaded
    # for the simulator's sanitized tests.  Loaded first, the library is found
    # by its name.
    if not any(library_loaded(library) for library in SANITIZER_RUNTIMES.values()):
        return
    try:
        import nvidia.cuda_nvrtc
    except ImportError:
        return
    for directory in nvidia.cuda_nvrtc.__path__:
        for builtins in sorted(Path(directory, "lib").glob("libnvrtc-builtins.so*")):
            ctypes.CDLL(str(builtins))


def _nvrtc():
    try:
        from cupy_backends.cuda.libs import nvrtc
        nvrtc.getVersion()
    except Exception as exc:     # ImportError, or a missing libnvrtc (RuntimeError, OSError)
        raise CudaUnavailable(f"NVRTC is not available ({exc}): pip install imgconv[cuda]"
                              ) from exc
    _load_builtins_for_sanitizers()
    return nvrtc


def compile_ptx(source, name_expressions, defines=(), arch=DEFAULT_ARCH):
    """Compile kernels of `source` to PTX with NVRTC, as a GPU would.

    Parameters
    ----------
    source : str or os.PathLike
        A file name under ``imgconv/cuda/kernels/``, or an absolute path.
    name_expressions : str or sequence of str
        The kernels to instantiate: ``extern "C"`` names or template
        instantiations such as ``"correlate<float, unsigned char, 2>"``.
    defines : tuple of (str, object) pairs, optional
        Macros, passed as ``-DNAME=value``.
    arch : str, optional
        The virtual architecture (``-arch=``), ``compute_90`` by default.

    Returns
    -------
    str
        The PTX.

    Raises
    ------
    CudaCompileError
        With NVRTC's log, when the source does not compile or a name
        expression does not name a kernel.
    CudaUnavailable
        When CuPy's NVRTC binding or the NVRTC library is missing.
    """
    nvrtc = _nvrtc()
    path = source_path(source)
    if isinstance(name_expressions, str):
        name_expressions = [name_expressions]
    defines = normalize_defines(defines)
    options = [*compile_options(path, defines), f"-arch={arch}"]
    program = nvrtc.createProgram(source_code(path), path.name, [], [])
    try:
        for name in name_expressions:
            nvrtc.addNameExpression(program, name)
        try:
            nvrtc.compileProgram(program, options)
        except nvrtc.NVRTCError as exc:
            raise CudaCompileError(
                f"NVRTC failed to compile {path.name} for {', '.join(name_expressions)} "
                f"({' '.join(options)}): {exc}\n{nvrtc.getProgramLog(program)}") from None
        for name in name_expressions:
            try:
                nvrtc.getLoweredName(program, name)
            except nvrtc.NVRTCError as exc:
                raise CudaCompileError(f"{path.name}: {name!r} is not a kernel NVRTC "
                                       f"instantiated ({exc})") from None
        ptx = nvrtc.getPTX(program)
    finally:
        nvrtc.destroyProgram(program)
    return ptx.decode() if isinstance(ptx, bytes) else ptx

"""The CUDA kernel loader: one API for the GPU (CuPy) and the simulator.

A kernel is a ``__global__`` function (or a template instantiation of one) in
a ``.cu`` file under ``imgconv/cuda/kernels/``.  `get_kernel` compiles it once
per (source, name, defines) and returns a `Kernel`, which launches it on
device arrays: ``cupy.ndarray`` on a GPU, ``numpy.ndarray`` in the simulator
(``IMGCONV_CUDA_SIMULATOR=1``; see ``_simulator.py`` and ``docs/design.md``).

The GPU compiles with NVRTC (``-std=c++17``, the kernels directory on the
include path, the defines as ``-DNAME=value``); CuPy caches the compiled code
on disk, this module caches the module in memory.
"""
import ctypes
import functools
import hashlib
import os
import re
import shutil
import sys
import threading
from pathlib import Path

KERNELS_DIR = Path(__file__).resolve().parent / "kernels"
SIMULATOR_VARIABLE = "IMGCONV_CUDA_SIMULATOR"
SANITIZE_VARIABLE = "IMGCONV_CUDA_SIM_SANITIZE"
# The GPU's options; the simulator adds its own (see _simulator.py).
NVRTC_STANDARD = "-std=c++17"
# What sm_90 (H100) allows a block with opt-in: the simulator's limit, so a
# launch that would fail on such a GPU fails in the simulator too.
SIMULATED_MAX_SHARED_MEMORY = 232448
# CUDA's launch limits (every GPU since compute capability 3.0).
MAX_THREADS_PER_BLOCK = 1024
MAX_BLOCK_SIZE = (1024, 1024, 64)
MAX_GRID_SIZE = (2**31 - 1, 65535, 65535)
# Shared memory a launch gets without opting in (cudaFuncAttribute...).
DEFAULT_DYNAMIC_SHARED_LIMIT = 48 * 1024
HEADER_SUFFIXES = (".cuh", ".h", ".hpp")
_DEFINE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class CudaUnavailable(RuntimeError):
    """The CUDA backend cannot run here; the message says what is missing."""


class CudaCompileError(RuntimeError):
    """A kernel source failed to compile; the message holds the compiler's log."""


def simulated():
    """Whether the CUDA backend runs in the simulator.

    Returns
    -------
    bool
        True when ``IMGCONV_CUDA_SIMULATOR=1`` is in the environment: kernels
        are then compiled with the host C++ compiler and run on numpy arrays.
    """
    return os.environ.get(SIMULATOR_VARIABLE, "") == "1"


_availability = {}          # _availability_key() -> None, or the message to raise
_availability_lock = threading.Lock()


def _find_gpu_problem():
    try:
        import cupy
    except ImportError as exc:
        return (f"the CUDA backend needs CuPy, which is not installed ({exc}): "
                "pip install imgconv[cuda]")
    runtime = cupy.cuda.runtime
    try:
        driver_version = runtime.driverGetVersion()
    except Exception as exc:       # CuPy raises its own error types, per version
        driver_version, driver_error = 0, exc
    else:
        driver_error = None
    if driver_version == 0:
        detail = f" ({driver_error})" if driver_error else ""
        return f"the CUDA backend needs an NVIDIA CUDA driver, and none was found{detail}"
    try:
        devices = runtime.getDeviceCount()
    except Exception as exc:
        return f"the CUDA backend needs a GPU, and the CUDA driver reports none ({exc})"
    if devices == 0:
        return "the CUDA backend needs a GPU, and the CUDA driver reports none"
    return None


def compiler_command():
    """The host C++ compiler the simulator runs, as an argument list.

    Returns
    -------
    list of str
        ``$CXX`` split as a shell would (it may be ``"ccache g++"``), or
        ``["g++"]``.
    """
    import shlex
    return shlex.split(os.environ.get("CXX", "")) or ["g++"]


def simulator_sanitizer():
    """The sanitizer the simulator builds kernels with: ``""``, ``"address"`` or ``"thread"``.

    ``IMGCONV_CUDA_SIM_SANITIZE=address`` builds kernels with AddressSanitizer,
    so that a read or write outside an array (or a ``__shared__`` array) stops
    the process with a report; ``=thread`` with ThreadSanitizer, which
    reports a data race between the threads of a block (a missing
    ``__syncthreads``) whatever the timing, and exits with status 66.  The
    sanitizer's runtime must be loaded first: ``LD_PRELOAD=$(g++
    -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0``, or
    ``LD_PRELOAD=$(g++ -print-file-name=libtsan.so)``.
    """
    return os.environ.get(SANITIZE_VARIABLE, "")


# sanitizer -> the runtime library it needs loaded before Python
SANITIZER_RUNTIMES = {"address": "libasan", "thread": "libtsan"}


def library_loaded(library):
    """Whether a shared library whose path contains `library` is loaded in this process."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return library in maps.read()
    except OSError:
        return False


def _find_simulator_problem():
    if not sys.platform.startswith("linux"):
        # The launcher and the loader use glibc's dladdr1 and ELF symbols.
        return f"{SIMULATOR_VARIABLE}=1 runs on Linux only, not on {sys.platform}"
    command = compiler_command()
    if shutil.which(command[0]) is None:
        return (f"{SIMULATOR_VARIABLE}=1 needs a C++ compiler, and {command[0]!r} was not "
                "found (install g++ or set CXX)")
    sanitizer = simulator_sanitizer()
    if sanitizer and sanitizer not in SANITIZER_RUNTIMES:
        return (f"{SANITIZE_VARIABLE}={sanitizer!r}: the simulator knows "
                f"{' and '.join(map(repr, SANITIZER_RUNTIMES))}")
    if sanitizer and not library_loaded(SANITIZER_RUNTIMES[sanitizer]):
        library = SANITIZER_RUNTIMES[sanitizer]
        return (f"{SANITIZE_VARIABLE}={sanitizer} needs the sanitizer's runtime loaded before "
                f"Python: run with LD_PRELOAD=$(g++ -print-file-name={library}.so)"
                + (" ASAN_OPTIONS=detect_leaks=0" if sanitizer == "address" else ""))
    return None


def check_available():
    """Raise `CudaUnavailable` unless CUDA kernels can run here.

    On a GPU that needs CuPy, the CUDA driver and a GPU; in the simulator
    (``IMGCONV_CUDA_SIMULATOR=1``), Linux and a C++ compiler (``g++`` or
    ``$CXX``), and the sanitizer's runtime with ``IMGCONV_CUDA_SIM_SANITIZE``
    (`simulator_sanitizer`).  The answer is cached per mode.

    Raises
    ------
    CudaUnavailable
        With one message naming what is missing.
    """
    mode = simulated()
    key = (mode, simulator_sanitizer() if mode else "")
    with _availability_lock:
        if key not in _availability:
            _availability[key] = (_find_simulator_problem if mode else _find_gpu_problem)()
        problem = _availability[key]
    if problem is not None:
        raise CudaUnavailable(problem)


def xp():
    """The array module of device arrays.

    Returns
    -------
    module
        ``cupy``, or ``numpy`` in the simulator.

    Raises
    ------
    CudaUnavailable
        When CUDA kernels cannot run here.
    """
    check_available()
    if simulated():
        import numpy
        return numpy
    import cupy
    return cupy


def max_shared_memory():
    """The most shared memory (static + dynamic) one block may use, in bytes.

    Returns
    -------
    int
        The device's opt-in limit (``MaxSharedMemoryPerBlockOptin``); in the
        simulator, an H100's (232448).  `Kernel` opts in when a launch asks
        for more dynamic shared memory than the default 48 KiB.
    """
    check_available()
    if simulated():
        return SIMULATED_MAX_SHARED_MEMORY
    import cupy
    return _device_shared_memory(cupy.cuda.runtime.getDevice())


@functools.lru_cache(maxsize=None)
def _device_shared_memory(device_id):
    import cupy
    return int(cupy.cuda.Device(device_id).attributes["MaxSharedMemoryPerBlockOptin"])


# ---- sources, options and the cache keys both worlds share ----

def source_path(source):
    """The kernel source file `source` names.

    Parameters
    ----------
    source : str or os.PathLike
        A file name under ``imgconv/cuda/kernels/`` (``"correlate.cu"``), or
        an absolute path (the tests' own kernels).

    Returns
    -------
    pathlib.Path
        The resolved file.

    Raises
    ------
    FileNotFoundError
        When there is no such file.
    """
    path = Path(source)
    if not path.is_absolute():
        path = KERNELS_DIR / path
    path = path.resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no CUDA kernel source {source!r} (looked for {path})")
    return path


def include_dirs(path):
    """The include path of a kernel source: the kernels directory, then its own."""
    dirs = [KERNELS_DIR]
    if path.parent != KERNELS_DIR:
        dirs.append(path.parent)
    return dirs


def normalize_defines(defines):
    """`defines` as a tuple of (name, text) pairs, checked.

    Parameters
    ----------
    defines : iterable of (str, object) pairs
        Macro names and values; a value is written with ``str`` (a bool as 0
        or 1), so ``("RANK", 3)`` becomes ``-DRANK=3``.

    Returns
    -------
    tuple of (str, str)

    Raises
    ------
    TypeError, ValueError
        For something that is not a pair, a name that is not a C identifier
        or a value with whitespace (it would not survive as one option).
    """
    pairs = []
    for item in defines:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(f"a define is a (NAME, value) pair, got {item!r}")
        name, value = item
        if not isinstance(name, str) or not _DEFINE_NAME.match(name):
            raise ValueError(f"define name {name!r} is not a C identifier")
        text = str(int(value)) if isinstance(value, bool) else str(value)
        if not text or any(c.isspace() for c in text):
            raise ValueError(f"define {name}={text!r}: the value must be non-empty, "
                             "without whitespace")
        pairs.append((name, text))
    return tuple(pairs)


def define_options(defines):
    """``-DNAME=value`` options for normalised `defines`."""
    return [f"-D{name}={text}" for name, text in defines]


def compile_options(path, defines):
    """The NVRTC options of a kernel source (the GPU's and the NVRTC check's).

    Parameters
    ----------
    path : pathlib.Path
        The kernel source (`source_path`).
    defines : tuple of (str, str)
        Normalised defines (`normalize_defines`).

    Returns
    -------
    tuple of str
    """
    return (NVRTC_STANDARD, *(f"-I{d}" for d in include_dirs(path)), *define_options(defines))


def headers_digest(path):
    """A hash of every header on `path`'s include path.

    NVRTC's callers (CuPy's disk cache) key compiled code by the source text
    only, so a changed header would give stale code; `source_code` puts this
    digest into the text.
    """
    digest = hashlib.sha256()
    for directory in include_dirs(path):
        for header in sorted(directory.iterdir()):
            if header.suffix in HEADER_SUFFIXES and header.is_file():
                digest.update(header.name.encode() + b"\0" + header.read_bytes() + b"\0")
    return digest.hexdigest()


def source_code(path):
    """The code handed to NVRTC: `path`'s text, stamped with its headers' hash.

    The ``#line`` directive keeps the compiler's messages at the file's own
    line numbers and name.
    """
    text = path.read_text()
    return f"// imgconv headers {headers_digest(path)}\n#line 1 \"{path}\"\n{text}"


# ---- launches ----

def _dims(value, what, limits):
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if (not isinstance(value, (tuple, list)) or not 1 <= len(value) <= 3
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise TypeError(f"{what} is a tuple of 1 to 3 ints, got {value!r}")
    dims = tuple(value) + (1,) * (3 - len(value))
    for axis, (size, limit) in enumerate(zip(dims, limits)):
        if not 1 <= size <= limit:
            raise ValueError(f"{what} {tuple(value)}: size {size} on axis {'xyz'[axis]} "
                             f"is not in 1..{limit}")
    return dims


def launch_dims(grid, block):
    """`grid` and `block` as 3-tuples, checked against CUDA's launch limits."""
    grid = _dims(grid, "grid", MAX_GRID_SIZE)
    block = _dims(block, "block", MAX_BLOCK_SIZE)
    threads = block[0] * block[1] * block[2]
    if threads > MAX_THREADS_PER_BLOCK:
        raise ValueError(f"block {block} has {threads} threads; at most "
                         f"{MAX_THREADS_PER_BLOCK}")
    return grid, block


def scalar_types():
    """The numpy scalar types a kernel argument may have (passed by value)."""
    import numpy as np
    return (np.int32, np.uint32, np.int64, np.uint64, np.float32, np.float64)


class Kernel:
    """A compiled kernel, launched with ``kernel(grid, block, args)``.

    Made by `get_kernel`; the GPU's and the simulator's kernels share this
    interface and its argument checks.

    Parameters
    ----------
    source : pathlib.Path
        Its source file.
    name : str
        Its C++ name expression.
    defines : tuple of (str, str)
        The defines it was compiled with.
    """

    #: the array type of this world's device arrays (set by subclasses)
    array_type = None
    array_hint = ""

    def __init__(self, source, name, defines):
        self.source = source
        self.name = name
        self.defines = defines

    def __repr__(self):
        options = "".join(" " + option for option in define_options(self.defines))
        return f"<{type(self).__name__} {self.name} from {self.source.name}{options}>"

    def check_args(self, args):
        """Check the types of a launch's arguments.

        Parameters
        ----------
        args : tuple
            Device arrays (passed as a pointer to their element ``[0, ..., 0]``)
            and numpy scalars of `scalar_types` (passed by value).

        Raises
        ------
        TypeError
            For anything else, naming the argument's position; a Python int
            or float is refused, its C type being ambiguous.
        """
        if not isinstance(args, tuple):
            raise TypeError(f"kernel arguments are a tuple, got {type(args).__name__}")
        allowed = scalar_types()
        for position, arg in enumerate(args):
            if isinstance(arg, self.array_type) or isinstance(arg, allowed):
                continue
            if isinstance(arg, (bool, int, float)):
                raise TypeError(
                    f"{self.name}: argument {position} is a Python {type(arg).__name__}, "
                    "whose C type is ambiguous; pass a numpy scalar such as np.int32(...), "
                    "np.int64(...) or np.float32(...)")
            raise TypeError(
                f"{self.name}: argument {position} has type {type(arg).__name__}; a kernel "
                f"takes {self.array_hint} and numpy scalars "
                f"({', '.join(t.__name__ for t in allowed)})")

    def check_launch(self, grid, block, args, shared_mem):
        """Normalise and check a launch; returns (grid, block) as 3-tuples."""
        grid, block = launch_dims(grid, block)
        self.check_args(args)
        if not isinstance(shared_mem, int) or isinstance(shared_mem, bool) or shared_mem < 0:
            raise TypeError(f"shared_mem is a byte count (int >= 0), got {shared_mem!r}")
        limit = max_shared_memory()
        if shared_mem > limit:
            raise ValueError(f"{self.name}: {shared_mem} bytes of dynamic shared memory; "
                             f"this device allows a block at most {limit}")
        return grid, block

    @staticmethod
    def constant_bytes(symbol, host_array, symbol_size):
        """`host_array` as contiguous numpy bytes that fit `symbol`."""
        import numpy as np
        if not isinstance(host_array, np.ndarray):
            raise TypeError(f"set_constant takes a numpy array, got {type(host_array).__name__}")
        data = np.ascontiguousarray(host_array)
        if data.nbytes > symbol_size:
            raise ValueError(f"{data.nbytes} bytes do not fit the __constant__ {symbol!r} "
                             f"({symbol_size} bytes)")
        return data


class _CupyKernel(Kernel):
    """A kernel compiled by CuPy's ``RawModule`` (NVRTC) for the current GPU."""

    array_hint = "cupy.ndarray device arrays (copy a numpy array with cupy.asarray)"

    @property
    def array_type(self):
        import cupy
        return cupy.ndarray

    def __init__(self, source, name, defines):
        super().__init__(source, name, defines)
        import cupy
        try:
            self._module = cupy.RawModule(code=source_code(source),
                                          options=compile_options(source, defines),
                                          name_expressions=[name])
            self._function = self._module.get_function(name)
        except cupy.cuda.compiler.CompileException as exc:
            raise CudaCompileError(f"NVRTC failed to compile {source.name} for {name!r} "
                                   f"({' '.join(define_options(defines))}):\n{exc}") from exc

    def __call__(self, grid, block, args, shared_mem=0):
        """Launch on the current stream; see `Kernel.check_args`."""
        grid, block = self.check_launch(grid, block, args, shared_mem)
        if shared_mem > DEFAULT_DYNAMIC_SHARED_LIMIT:
            # Above 48 KiB a kernel must opt in, or the launch fails.
            self._function.max_dynamic_shared_size_bytes = shared_mem
        self._function(grid, block, args, shared_mem=shared_mem)

    def set_constant(self, symbol, host_array):
        """Copy `host_array` into the module's ``__constant__`` `symbol`."""
        data = self.constant_bytes(symbol, host_array, self._symbol_size(symbol))
        self._module.get_global(symbol).copy_from_host(data.ctypes.data, data.nbytes)

    def _symbol_size(self, symbol):
        # CuPy's get_global does not keep the size cuModuleGetGlobal reports,
        # so ask the driver directly.
        address, size = ctypes.c_uint64(), ctypes.c_size_t()
        status = _cuda_driver().cuModuleGetGlobal_v2(
            ctypes.byref(address), ctypes.byref(size), ctypes.c_void_p(self._module.module.ptr),
            symbol.encode())
        if status != 0:
            raise ValueError(f"{self.source.name} compiled for {self.name!r} has no "
                             f"__constant__ {symbol!r} at global namespace scope "
                             f"(cuModuleGetGlobal: error {status})")
        return size.value


@functools.lru_cache(maxsize=None)
def _cuda_driver():
    library = ctypes.CDLL("nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1")
    library.cuModuleGetGlobal_v2.restype = ctypes.c_int
    return library


_kernels = {}
_kernels_lock = threading.Lock()


def get_kernel(source, name, defines=()):
    """The compiled kernel `name` of `source`, compiled once and cached.

    Parameters
    ----------
    source : str or os.PathLike
        A file name under ``imgconv/cuda/kernels/`` (``"correlate.cu"``), or
        an absolute path.
    name : str
        A C++ name expression: an ``extern "C"`` kernel's name, or a template
        instantiation such as ``"correlate<float, unsigned char, 2>"``.
    defines : tuple of (str, object) pairs, optional
        Macros, passed as ``-DNAME=value``.

    Returns
    -------
    Kernel
        Call it as ``kernel(grid, block, args, shared_mem=0)``; fill its
        ``__constant__`` arrays with ``kernel.set_constant(symbol, array)``.

    Raises
    ------
    CudaUnavailable
        When CUDA kernels cannot run here (`check_available`).
    CudaCompileError
        With the compiler's log, when the source does not compile.
    """
    check_available()
    path = source_path(source)
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"name is a C++ name expression (str), got {name!r}")
    defines = normalize_defines(defines)
    mode = simulated()
    key = (mode, path, name, defines)
    with _kernels_lock:
        kernel = _kernels.get(key)
        if kernel is None:
            if mode:
                from ._simulator import SimulatedKernel as kind
            else:
                kind = _CupyKernel
            kernel = _kernels[key] = kind(path, name, defines)
    return kernel

"""Where a call goes: the compiled kernel module for this CPU, and the backend
object for the array type.  Later backends (CUDA through CuPy, dask) plug in
at :data:`BACKEND_MODULES`; nothing here imports them before they are asked for."""
import importlib
import os

from ._compiled import NotBuiltError, load

_openmp = load("_openmp")

if _openmp.cpu_has_avx2_fma() and not os.environ.get("IMGCONV_DISABLE_AVX2"):
    try:
        kernels = load("_kernels_avx2")
    except NotBuiltError:  # built without the AVX2 variant (non-x86 or no -mavx2)
        kernels = load("_kernels_baseline")
else:
    kernels = load("_kernels_baseline")

KERNEL_VARIANT = kernels.__name__.rsplit("_", 1)[-1]

BACKENDS = ("auto", "cpu", "cuda", "dask")

#: The module of each backend this version provides, imported on first use
#: (so ``import imgconv`` never imports CuPy or dask).  A backend module
#: offers ``load_backend()``, which returns its backend object (see
#: ``imgconv._backend``) or raises a clear error saying what is missing.
#: Plugging in a backend is one line here, e.g. ``"cuda": "imgconv.cuda"``.
BACKEND_MODULES = {
    "cpu": "imgconv._cpu",
}

#: The backend that runs each array library's arrays under backend='auto'.
_AUTO = {"numpy": "cpu", "cupy": "cuda", "dask": "dask"}
_loaded = {}


def _array_library(x):
    module = type(x).__module__.split(".", 1)[0]
    return module if module in ("cupy", "dask") else "numpy"


def load(name):
    """The backend object called ``name`` (one of BACKEND_MODULES)."""
    backend = _loaded.get(name)
    if backend is None:
        if name not in BACKEND_MODULES:
            raise NotImplementedError(
                f"backend={name!r} is not available in this version of imgconv "
                f"(it provides {', '.join(map(repr, BACKEND_MODULES))}); pass a numpy array")
        backend = importlib.import_module(BACKEND_MODULES[name]).load_backend()
        _loaded[name] = backend
    return backend


def select_backend(x, backend):
    """The backend object that runs ``x`` (see ``imgconv._backend``).

    ``backend='auto'`` follows the array type (numpy -> cpu, CuPy -> cuda,
    dask -> dask).  Backends that this version does not provide raise a
    clear error instead of silently falling back to the CPU, and so does an
    array that the chosen backend does not take.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    library = _array_library(x)
    name = _AUTO[library] if backend == "auto" else backend
    selected = load(name)
    if library not in selected.array_libraries:
        raise TypeError(f"backend={name!r} needs a {' or '.join(selected.array_libraries)} "
                        f"array, got a {library} array")
    return selected

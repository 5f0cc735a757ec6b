"""Where a call goes: the compiled kernel module for this CPU, and the backend
object for the array type.  Backends (the CPU, CUDA through CuPy; later dask)
plug in at :data:`BACKEND_MODULES`; nothing here imports them before they
are asked for.  :func:`device_boundary` hands a public call to its backend
whole."""
import functools
import importlib
import os
import types

import numpy as np

from . import _compiled
from ._compiled import NotBuiltError, load

_openmp = load("_openmp")

#: The compiled kernel modules (see setup.py's KERNEL_UNITS), one per part.
KERNEL_UNITS = ("_linear", "_order")


def _kernel_set(variant):
    """One namespace holding every kernel of the build ``variant``, so callers
    need not know which compiled module holds which kernel."""
    kernels = types.SimpleNamespace(__name__=f"imgconv kernels ({variant})")
    for unit in KERNEL_UNITS:
        module = load(f"{unit}_{variant}")
        vars(kernels).update((name, value) for name, value in vars(module).items()
                             if not name.startswith("__"))
    return kernels


def _baseline_kernels():
    try:
        return _kernel_set("base")
    except NotBuiltError as error:
        if _compiled.is_built("_linear_avx2"):
            # an editable install on an AVX2 machine builds only what it runs
            raise NotBuiltError(
                "imgconv was built with its AVX2 kernels only (an editable install builds "
                "what the machine that built it runs), and "
                + ("IMGCONV_DISABLE_AVX2 asks for the baseline"
                   if _openmp.cpu_has_avx2_fma() else "this CPU has no AVX2/FMA")
                + ": rebuild with `IMGCONV_PORTABLE_BUILD=1 pip install -e .`") from None
        raise error from None


KERNEL_VARIANT = "base"
if _openmp.cpu_has_avx2_fma() and not os.environ.get("IMGCONV_DISABLE_AVX2"):
    try:
        kernels = _kernel_set("avx2")
        KERNEL_VARIANT = "avx2"
    except NotBuiltError:  # built without the AVX2 variant (non-x86 or no -mavx2)
        pass
if KERNEL_VARIANT == "base":
    kernels = _baseline_kernels()

BACKENDS = ("auto", "cpu", "cuda", "dask")

#: The module of each backend this version provides, imported on first use
#: (so ``import imgconv`` never imports CuPy or dask).  A backend module
#: offers ``load_backend()``, which returns its backend object (see
#: ``imgconv._backend``) or raises a clear error saying what is missing.
#: Plugging in a backend is one line here, e.g. ``"cuda": "imgconv.cuda"``.
BACKEND_MODULES = {
    "cpu": "imgconv._cpu",
    "cuda": "imgconv.cuda",
    "dask": "imgconv.dask",
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


def _named_backend(x, backend):
    """The backend object ``backend`` names for ``x`` (``'auto'``: the one
    of x's array library), whether or not it takes x's arrays."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    library = _array_library(x)
    return load(_AUTO[library] if backend == "auto" else backend), library


def select_backend(x, backend):
    """The backend object that runs ``x`` (see ``imgconv._backend``).

    ``backend='auto'`` follows the array type (numpy -> cpu, CuPy -> cuda,
    dask -> dask).  Backends that this version does not provide raise a
    clear error instead of silently falling back to the CPU, and so does an
    array that the chosen backend does not take.
    """
    selected, library = _named_backend(x, backend)
    if library not in selected.array_libraries:
        raise TypeError(f"backend={selected.name!r} needs a "
                        f"{' or '.join(selected.array_libraries)} array, got a {library} array")
    return selected


def device_boundary(function):
    """Decorate a public function whose first argument is the input and which
    takes ``backend=``: the backend it names runs the whole call
    (``backend.call``), so a backend whose arrays live on a device sets the
    input's device as the current one, and copies a host input there and
    the results back once per call, not once per kernel.

    A numpy input on the CPU (``backend`` 'auto' or 'cpu') goes straight
    to ``function``.
    """
    @functools.wraps(function)
    def call(x, *args, **kwargs):
        backend = kwargs.get("backend", "auto")
        if type(x) is np.ndarray and (backend == "auto" or backend == "cpu"):
            return function(x, *args, **kwargs)
        return _named_backend(x, backend)[0].call(function, x, args, kwargs)

    return call

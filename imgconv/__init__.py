"""imgconv: fast 2D/3D image and volume filtering (Cython + OpenMP).

The public functions are imported on first use, so ``import imgconv`` (and
the ``imgconv`` command's ``--help``) loads neither numpy nor the kernels.

Examples
--------
>>> import numpy as np, imgconv as ic
>>> img = np.random.default_rng(0).random((64, 64), dtype=np.float32)
>>> ic.correlate(img, np.ones((3, 3)) / 9).shape
(64, 64)
"""
import importlib

__version__ = "0.1.0"

# public name -> the module that defines it (imported on first access)
_EXPORTS = {
    "correlate": "._convolve", "convolve": "._convolve",
    "correlate1d": "._filters", "convolve1d": "._filters", "sepfilter": "._filters",
    "gaussian": "._filters", "box": "._filters", "sobel": "._filters", "prewitt": "._filters",
    "scharr": "._filters", "laplace": "._filters", "gradient_magnitude": "._filters",
    "gaussian_laplace": "._filters", "gaussian_gradient_magnitude": "._filters",
    "set_num_threads": "._threads", "get_num_threads": "._threads",
    "openmp_enabled": "._threads",
    "set_buffer_pool_limit": "._buffers", "get_buffer_pool_limit": "._buffers",
    "free_buffer_pool": "._buffers",
    "read": "._io", "write": "._io", "ImageMeta": "._io",
    "pool": "._pool", "max_pool": "._pool", "avg_pool": "._pool",
    "dilate": "._morphology", "erode": "._morphology", "opening": "._morphology",
    "closing": "._morphology", "morph_gradient": "._morphology", "tophat": "._morphology",
    "blackhat": "._morphology",
    "median": "._rank", "rank_filter": "._rank", "percentile_filter": "._rank",
    "footprints": ".footprints",   # a submodule
    "nn": ".nn",                   # a submodule: the deep-learning layer
}

__all__ = [*_EXPORTS, "__version__"]


def _lazy_exports(package, exports, namespace):
    """``__getattr__`` and ``__dir__`` for ``package`` (whose globals are
    ``namespace``), importing each public name of ``exports`` (name ->
    relative module) on first access; a name equal to its module's last part
    is that submodule."""
    def __getattr__(name):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = importlib.import_module(module, package)
        if not module.endswith("." + name):
            value = getattr(value, name)
        namespace[name] = value  # later lookups skip __getattr__
        return value

    def __dir__():
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__


__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS, globals())

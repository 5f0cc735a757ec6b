"""The backend seam: select_backend's objects, the errors for backends and
arrays it cannot run, and a backend plugged in by one line."""
import sys
import types

import numpy as np
import pytest

import imgconv as ic
from imgconv import _backend, _convolve, _cpu, _dispatch


def test_auto_and_cpu_select_the_cpu_backend():
    x = np.zeros((4, 5), np.float32)
    for name in ("auto", "cpu"):
        backend = _dispatch.select_backend(x, name)
        assert backend is _cpu.CPU
        assert backend.name == "cpu" and backend.xp is np and backend.kernels is _dispatch.kernels
        assert isinstance(backend, _backend.KernelBackend)


class FakeDeviceArray:
    """Stands for an array of another library (its type's module says cupy)."""

    __module__ = "cupy"
    shape, ndim, dtype = (4, 5), 2, np.dtype(np.float32)


def test_array_of_another_library(monkeypatch):
    fake = FakeDeviceArray()
    with pytest.raises(TypeError, match="backend='cpu' needs a numpy array, got a cupy array"):
        ic.correlate(fake, np.ones((3, 3)), backend="cpu")
    # auto follows the array to its (here missing) backend, never to the CPU
    monkeypatch.delitem(_dispatch.BACKEND_MODULES, "dask")
    monkeypatch.setattr(_dispatch, "_loaded", {})
    FakeDeviceArray.__module__ = "dask.array.core"
    try:
        with pytest.raises(NotImplementedError, match="backend='dask' is not available"):
            ic.gaussian(fake, 1.0)
    finally:
        FakeDeviceArray.__module__ = "cupy"


def test_a_backend_plugs_in_by_one_line(monkeypatch):
    # a module offering load_backend(), named in BACKEND_MODULES: here the
    # CPU's kernels through the generic orchestration, standing in for cuda
    calls = []

    class Recording(_backend.KernelBackend):
        take_input = staticmethod(_cpu.as_input_array)
        check_out = staticmethod(_cpu.check_out)

        def correlate(self, *args, **kwargs):
            calls.append("correlate")
            return super().correlate(*args, **kwargs)

    module = types.ModuleType("imgconv_test_backend")
    module.load_backend = lambda: Recording("cuda", np, _cpu.kernels, ("numpy",))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(_dispatch.BACKEND_MODULES, "cuda", module.__name__)
    monkeypatch.setattr(_dispatch, "_loaded", {})     # loaded afresh, forgotten after
    x = np.random.default_rng(0).random((12, 10)).astype(np.float32)
    w = np.random.default_rng(1).random((3, 3))
    got = ic.correlate(x, w, backend="cuda")
    np.testing.assert_array_equal(got, ic.correlate(x, w))
    assert calls == ["correlate"]
    assert _dispatch.select_backend(x, "cuda").name == "cuda"
    # its plans are never the CPU's: 'auto' still runs on the CPU
    assert _convolve.plan_key(x, ("cuda",)) != _convolve.plan_key(x, ("auto",))
    ic.correlate(x, w)
    assert calls == ["correlate"]


def test_a_backend_without_fft_never_chooses_it(monkeypatch):
    generic = _backend.KernelBackend("cpu", np, _cpu.kernels, ("numpy",))
    x = np.random.default_rng(2).random((96, 100))
    w = np.random.default_rng(3).random((31, 31))
    inp = ic._validate.filter_input(x)
    geom = _convolve.Geometry(inp, w.shape, "same", 1, 1, 0)
    assert _convolve.method_by_cost("auto", inp, w, geom)[0] == "fft"
    inp = inp._replace(backend=generic)
    assert _convolve.method_by_cost("auto", inp, w, geom)[0] != "fft"
    with pytest.raises(NotImplementedError, match="no FFT correlation"):
        generic.fft_correlate(inp, w, geom, np.empty(x.shape), None)


def test_base_backend_takes_no_thread_count():
    generic = _backend.KernelBackend("gpu-like", np, _cpu.kernels, ("numpy",))
    assert generic.kernel_threads(None, 1000) == 1
    with pytest.raises(ValueError, match="threads= sets CPU threads"):
        generic.kernel_threads(4, 1000)

"""The CUDA backend's wiring (imgconv.cuda._backend, _dispatch.device_boundary):
the one error when CUDA cannot run, numpy in -> numpy out, out= checks, the
fallback from the shared-memory path, threads=, the plan cache kept apart
from the CPU's; then, on a GPU only, CuPy arrays in and out, memory use
measured with CuPy's pool, and several devices.

Without a GPU the calls run in the simulator (IMGCONV_CUDA_SIMULATOR=1);
the GPU's array handling (CuPy inputs, device contexts, host round trips)
is also run against a stand-in CuPy made of numpy arrays (``FakeCupy``).
The filters' results are held to the references by tests/test_conformance.py.
"""
import contextlib
import shutil
import sys
import types

import numpy as np
import pytest

import imgconv as ic
from imgconv import _convolve, _dispatch
from imgconv.cuda import CudaUnavailable, _backend, _kernels, _runtime

HAVE_COMPILER = shutil.which(_runtime.compiler_command()[0]) is not None
#: None where CuPy finds a GPU, else what is missing
GPU_PROBLEM = _runtime._find_gpu_problem()

RNG = np.random.default_rng(19)
X = RNG.integers(0, 64, (9, 11)).astype(np.float32) / 4
W = RNG.integers(-3, 4, (3, 3)).astype(np.float64) / 4


def _fresh_cuda(monkeypatch, simulator):
    """A test's own CUDA backend: loaded afresh in the world asked for, and
    neither its plans nor its loaded object outlive the test."""
    if simulator:
        monkeypatch.setenv(_runtime.SIMULATOR_VARIABLE, "1")
    else:
        monkeypatch.delenv(_runtime.SIMULATOR_VARIABLE, raising=False)
    monkeypatch.setattr(_runtime, "_availability", {})
    monkeypatch.setattr(_dispatch, "_loaded", {})
    _convolve._plan_cache.clear()


@pytest.fixture
def sim(monkeypatch):
    """backend='cuda' through the simulator."""
    if not HAVE_COMPILER:
        pytest.skip("the CUDA simulator needs a C++ compiler")
    _fresh_cuda(monkeypatch, simulator=True)
    yield _dispatch.load("cuda")
    _convolve._plan_cache.clear()


# ---------------------------------------------------------------------------
# One clear error when CUDA cannot run
# ---------------------------------------------------------------------------
class _Runtime:
    def __init__(self, driver, devices):
        self.driver, self.devices = driver, devices

    def driverGetVersion(self):                  # noqa: N802 (CUDA's name)
        return self.driver

    def getDeviceCount(self):                    # noqa: N802
        return self.devices


def _cupy_reporting(monkeypatch, driver, devices):
    cupy = types.ModuleType("cupy")
    cupy.cuda = types.SimpleNamespace(runtime=_Runtime(driver, devices))
    monkeypatch.setitem(sys.modules, "cupy", cupy)


@pytest.mark.parametrize("world, message", [
    ("no cupy", r"needs CuPy, which is not installed .*pip install imgconv\[cuda\]"),
    ("no driver", "needs an NVIDIA CUDA driver, and none was found"),
    ("no gpu", "needs a GPU, and the CUDA driver reports none"),
])
def test_unavailable_cuda_is_one_error_saying_what_is_missing(monkeypatch, world, message):
    _fresh_cuda(monkeypatch, simulator=False)
    if world == "no cupy":
        monkeypatch.setitem(sys.modules, "cupy", None)      # import cupy raises ImportError
    else:
        _cupy_reporting(monkeypatch, 0 if world == "no driver" else 12090, 0)
    for call in (lambda: ic.correlate(X, W, backend="cuda"),
                 lambda: ic.gaussian(X, 1.0, backend="cuda"),
                 lambda: ic.max_pool(X, 2, backend="cuda"),
                 lambda: ic.opening(X, size=3, backend="cuda")):
        with pytest.raises(CudaUnavailable, match=message) as error:
            call()
        assert isinstance(error.value, RuntimeError)
        assert "\n" not in str(error.value)
    # a CuPy array under backend='auto' is sent to the CUDA backend, not the CPU
    device_like = type("ndarray", (), {"__module__": "cupy", "shape": (2, 2), "ndim": 2,
                                       "dtype": np.dtype(np.float32)})()
    with pytest.raises(CudaUnavailable, match=message):
        ic.box(device_like, 3)
    # the CPU is untouched
    np.testing.assert_array_equal(ic.correlate(X, W, backend="cpu"), ic.correlate(X, W))


def test_importing_imgconv_cuda_imports_no_cupy():
    import subprocess
    code = ("import sys, imgconv, imgconv.cuda; ic = imgconv; ic.correlate; "
            "assert 'cupy' not in sys.modules, 'cupy imported'; "
            "assert 'imgconv.cuda._kernels' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ---------------------------------------------------------------------------
# The simulator: numpy in, numpy out
# ---------------------------------------------------------------------------
def test_simulated_backend_takes_and_returns_numpy(sim):
    assert repr(sim) == "<imgconv backend 'cuda' (simulator)>"
    assert sim.xp is np and sim.has_fft and sim.array_libraries == ("numpy",)
    for function, args in ((ic.correlate, (W,)), (ic.gaussian, (1.5,)), (ic.box, (3,)),
                           (ic.dilate, ()), (ic.max_pool, (2,))):
        got = function(X, *args, backend="cuda")
        want = function(X, *args)
        assert type(got) is np.ndarray and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_float16_widens_and_complex_runs_as_on_the_cpu(sim):
    half = X.astype(np.float16)
    got = ic.correlate(half, W, backend="cuda")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ic.correlate(half, W), rtol=0, atol=1e-5)
    eroded = ic.erode(half, size=3, backend="cuda")      # max/min keep the dtype
    assert eroded.dtype == np.float16
    np.testing.assert_array_equal(eroded, ic.erode(half, size=3))
    # complex data as its real and imaginary parts, each through the kernels
    z = (X + 1j * X[::-1]).astype(np.complex64)
    got = ic.correlate(z, W + 0.5j, backend="cuda")
    assert got.dtype == np.complex64
    np.testing.assert_allclose(got, ic.correlate(z, W + 0.5j), rtol=0, atol=1e-4)


def test_out_is_checked_and_written(sim):
    want = ic.correlate(X, W)
    out = np.full(X.shape, -1.0, np.float32)
    assert ic.correlate(X, W, out=out, backend="cuda") is out
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="out has shape"):
        ic.correlate(X, W, out=np.empty((9, 10), np.float32), backend="cuda")
    with pytest.raises(ValueError, match="overlaps the input"):
        x = X.copy()
        ic.correlate(x, W, out=x, backend="cuda")
    read_only = np.zeros(X.shape, np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ic.gaussian(X, 1.0, out=read_only, backend="cuda")
    # morphology keeps the input's dtype, a dtype the kernels lack included
    half = X.astype(np.float16)
    out = np.empty(X.shape, np.float16)
    assert ic.dilate(half, size=2, out=out, backend="cuda") is out
    np.testing.assert_array_equal(out, ic.dilate(half, size=2))


def test_threads_is_refused_not_ignored(sim):
    for call in (lambda: ic.correlate(X, W, threads=2, backend="cuda"),
                 lambda: ic.box(X, 3, threads=1, backend="cuda"),
                 lambda: ic.tophat(X, size=3, threads=4, backend="cuda"),
                 lambda: ic.avg_pool(X, 2, threads=2, backend="cuda")):
        with pytest.raises(ValueError, match="threads=.*sets CPU threads; the cuda backend"):
            call()
    # even where no kernel runs (a filter of nothing along every axis)
    with pytest.raises(ValueError, match="threads="):
        ic.sepfilter(X, [None, None], threads=2, backend="cuda")


def _counting(monkeypatch, owner, method):
    """The calls of ``owner.method`` from now on (their arguments), as a list."""
    calls = []
    original = getattr(owner, method)

    def counted(*args):
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(owner, method, counted)
    return calls


def test_fft_by_the_gpus_cost_model(sim, monkeypatch):
    transforms = _counting(monkeypatch, sim, "fft_correlate")
    looks = _counting(monkeypatch, sim, "all_finite")
    # a small image stays on the direct kernel, where the CPU would transform:
    # the data are not looked at
    x = RNG.random((40, 40)).astype(np.float32)
    w = RNG.random((31, 31))
    np.testing.assert_allclose(ic.correlate(x, w, backend="cuda"),
                               ic.correlate(x, w, method="direct"), rtol=1e-5, atol=1e-3)
    assert transforms == [] and looks == []
    # method='fft' runs the transforms (scipy.fft on the simulator's arrays)
    got = ic.correlate(x, w, mode="wrap", method="fft", backend="cuda")
    np.testing.assert_allclose(got, ic.correlate(x, w, mode="wrap", method="direct"),
                               rtol=1e-5, atol=1e-3)
    assert len(transforms) == 1
    # a kernel large for its image: 'auto' transforms, after one look at the data
    big = RNG.random((1024, 1024)).astype(np.float32)
    w = RNG.random((63, 63))
    got = ic.correlate(big, w, backend="cuda")
    assert len(transforms) == 2 and len(looks) == 1
    np.testing.assert_allclose(got, ic.correlate(big, w, method="fft"), rtol=1e-4, atol=1e-2)


@pytest.mark.parametrize("call", [
    lambda x, **k: ic.median(x, 3, **k),
    lambda x, **k: ic.median(x, 5, mode=("wrap", "zero"), cval=2, **k),   # per-axis modes
    lambda x, **k: ic.rank_filter(x, -1, footprint=ic.footprints.disk(2), origin=(1, -1), **k),
    lambda x, **k: ic.percentile_filter(x, 75, 3, channel_axis=0, **k),
    lambda x, **k: ic.median(x, 13, axes=(1,), **k),
])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64, bool])
def test_rank_filters_run_on_the_gpu_as_on_the_cpu(sim, call, dtype):
    x = (X * 8).astype(dtype)
    if x.dtype.kind == "f":
        x[3, 4] = np.nan
    got = call(x, backend="cuda")
    expected = call(x)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    out = np.empty_like(expected)
    assert call(x, backend="cuda", out=out) is out
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int64, np.float32, np.float64])
@pytest.mark.parametrize("call", [
    lambda x, s, **k: ic.dilate(x, structure=s, **k),
    lambda x, s, **k: ic.erode(x, structure=s, mode="wrap", **k),
    lambda x, s, **k: ic.opening(x, structure=s, mode=("zero", "reflect"), cval=3, **k),
    lambda x, s, **k: ic.tophat(x, footprint=s > 0, structure=s, origin=(1, 0), **k),
])
def test_non_flat_morphology_runs_on_the_gpu_as_on_the_cpu(sim, call, dtype):
    x = (X * 8).astype(dtype)
    structure = RNG.integers(-40, 41, (3, 5)).astype(np.float64)
    got = call(x, structure, backend="cuda")
    expected = call(x, structure)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_kernel_too_large_for_shared_memory_falls_back(sim, monkeypatch):
    # 1 x 3700 taps: few enough for the tiled path's weights, but its tile
    # (two planes of 8 x (32 + 3699) float32) exceeds the device's shared memory
    x = RNG.integers(0, 16, (2, 3800)).astype(np.float32)
    w = RNG.integers(1, 4, (1, 3700)).astype(np.float32) / 4
    weights3 = w.reshape(1, 1, -1)
    assert not _kernels.uses_tiled_path(weights3, np.zeros(0, np.float32), (1, 1, 1),
                                        (1, 1, 1), 4)
    assert _kernels._tiled_shared_bytes(_kernels.TILED_BLOCK, 1, 3700) > \
        _runtime.max_shared_memory()
    got = ic.correlate(x, w, mode="zero", method="direct", backend="cuda")
    np.testing.assert_array_equal(got, ic.correlate(x, w, mode="zero", method="direct"))
    # a device with little shared memory: a 5 x 5 kernel takes the general path
    monkeypatch.setattr(_kernels, "max_shared_memory", lambda: 2048)
    assert not _kernels.uses_tiled_path(np.ones((1, 5, 5), np.float32),
                                        np.zeros(0, np.float32), (1, 1, 1), (1, 1, 1), 4)
    w5 = RNG.integers(-4, 5, (5, 5)) / 4
    np.testing.assert_array_equal(ic.correlate(X, w5, backend="cuda"), ic.correlate(X, w5))


def test_plan_cache_keeps_cpu_and_cuda_calls_apart(sim, monkeypatch):
    launches = _counting(monkeypatch, sim.kernels, "correlate")
    x = RNG.random((16, 16)).astype(np.float32)
    for function, args in ((ic.correlate, (W,)), (ic.gaussian, (1.0,)), (ic.sobel, (0,))):
        cpu = function(x, *args, backend="cpu")
        function(x, *args, backend="cpu")        # the CPU's plan, with its prepared call
        before = len(launches)
        got = function(x, *args, backend="cuda")
        assert len(launches) > before, "the CPU's cached plan ran a backend='cuda' call"
        np.testing.assert_allclose(got, cpu, rtol=0, atol=1e-5)
        before = len(launches)
        function(x, *args, backend="cuda")       # the CUDA backend's own cached plan
        assert len(launches) > before
        before = len(launches)
        np.testing.assert_array_equal(function(x, *args), cpu)
        assert len(launches) == before, "a CUDA plan ran a backend='auto' numpy call"


# ---------------------------------------------------------------------------
# The GPU's array handling, against a stand-in CuPy over numpy
# ---------------------------------------------------------------------------
class FakeDevice:
    """cupy.cuda.Device: an id, and a context that makes it current."""

    current = 0
    entered = []

    def __init__(self, device_id):
        self.id = device_id

    def __enter__(self):
        self.saved = FakeDevice.current
        FakeDevice.current = self.id
        FakeDevice.entered.append(self.id)
        return self

    def __exit__(self, *exc):
        FakeDevice.current = self.saved


class FakeDeviceArray(np.ndarray):
    """cupy.ndarray: a numpy array that knows its device and is not numpy's type."""

    __module__ = "cupy"

    def __array_finalize__(self, obj):
        self.device_id = getattr(obj, "device_id", FakeDevice.current)

    @property
    def device(self):
        return FakeDevice(self.device_id)

    def get(self, out=None):
        if out is None:
            return np.array(self).view(np.ndarray)
        out[...] = self
        return out


class FakeCupy(types.ModuleType):
    """The cupy functions the backend and the public functions call, over
    numpy, allocating on the current FakeDevice; the rest is numpy's."""

    ndarray = FakeDeviceArray

    def __init__(self):
        super().__init__("cupy")

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def _on_device(a):
        a = a.view(FakeDeviceArray)
        a.device_id = FakeDevice.current
        return a

    def empty(self, shape, dtype=float):
        return self._on_device(np.empty(shape, dtype))

    def zeros(self, shape, dtype=float):
        return self._on_device(np.zeros(shape, dtype))

    def asarray(self, a, dtype=None):
        if isinstance(a, FakeDeviceArray):
            return a if dtype is None else a.astype(dtype)
        return self._on_device(np.array(a, dtype))

    def ascontiguousarray(self, a):
        return self._on_device(np.ascontiguousarray(a))

    @staticmethod
    def asnumpy(a):
        return np.array(a).view(np.ndarray)


@pytest.fixture
def fake_gpu(sim, monkeypatch):
    """A CUDA backend in its GPU configuration over FakeCupy: the launch
    wrappers run the simulator's kernels on the stand-in device arrays."""
    cupy = FakeCupy()
    backend = _backend.CudaBackend(cupy, _backend.LaunchWrappers(_kernels))
    monkeypatch.setitem(_dispatch._loaded, "cuda", backend)
    monkeypatch.setattr(FakeDevice, "current", 0)
    monkeypatch.setattr(FakeDevice, "entered", [])
    return cupy


def test_gpu_numpy_input_round_trips_to_the_device(fake_gpu):
    got = ic.gaussian(X, 1.0, backend="cuda")
    assert type(got) is np.ndarray
    np.testing.assert_allclose(got, ic.gaussian(X, 1.0), rtol=0, atol=1e-5)
    values, where = ic.max_pool(X, 2, return_indices=True, backend="cuda")
    assert type(values) is np.ndarray and type(where) is np.ndarray
    want_values, want_where = ic.max_pool(X, 2, return_indices=True)
    np.testing.assert_array_equal(values, want_values)
    np.testing.assert_array_equal(where, want_where)
    # a numpy out= receives the result, contiguous or not
    out = np.zeros((11, 9), np.float32).T
    assert ic.correlate(X, W, out=out, backend="cuda") is out
    np.testing.assert_allclose(out, ic.correlate(X, W), rtol=0, atol=1e-5)
    # complex data, into a complex numpy out=
    z = (X + 1j * X[::-1]).astype(np.complex64)
    out = np.zeros(X.shape, np.complex64)
    assert ic.correlate(z, W, out=out, backend="cuda") is out
    np.testing.assert_allclose(out, ic.correlate(z, W), rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match="overlaps the input"):
        x = X.copy()
        ic.correlate(x, W, out=x, backend="cuda")
    with pytest.raises(TypeError, match="out is a cupy array but x is a numpy array"):
        ic.correlate(X, W, out=fake_gpu.zeros(X.shape, np.float32), backend="cuda")
    with pytest.raises(TypeError, match="numpy or cupy array for the cuda backend"):
        ic.correlate(type("Tensor", (), {"__module__": "torch"})(), W, backend="cuda")


#: one call of each public function that takes backend=
PUBLIC_CALLS = {
    "correlate": (W,), "convolve": (W,), "correlate1d": ([1.0, -0.5],),
    "convolve1d": ([1.0, -0.5],), "sepfilter": ([[0.5, 1.0], [1.0, 0.25, 1.0]],),
    "gaussian": (1.0,), "box": (3,), "sobel": (), "prewitt": (), "scharr": (),
    "laplace": (), "gradient_magnitude": (), "gaussian_laplace": (1.0,),
    "gaussian_gradient_magnitude": (1.0,), "pool": (2,), "max_pool": (2,),
    "avg_pool": (2,), "dilate": (), "erode": (), "opening": (), "closing": (),
    "morph_gradient": (), "tophat": (), "blackhat": (),
    "median": (3,), "rank_filter": (1, 3), "percentile_filter": (50, 3),
}


def test_every_public_function_runs_numpy_through_the_gpu(fake_gpu):
    import inspect
    taking_backend = {name for name in ic.__all__ if inspect.isfunction(getattr(ic, name))
                      and "backend" in inspect.signature(getattr(ic, name)).parameters}
    assert taking_backend <= set(PUBLIC_CALLS)
    x = fake_gpu.asarray(X)
    for name, args in PUBLIC_CALLS.items():
        function = getattr(ic, name)
        got = function(X, *args, backend="cuda")
        assert type(got) is np.ndarray, name
        np.testing.assert_allclose(got, function(X, *args), rtol=0, atol=1e-4, err_msg=name)
        on_device = function(x, *args)
        assert isinstance(on_device, FakeDeviceArray), name
        np.testing.assert_array_equal(on_device.get(), got, err_msg=name)


def test_gpu_device_array_in_device_array_out(fake_gpu):
    x = fake_gpu.asarray(X)
    for backend in ("auto", "cuda"):
        got = ic.correlate(x, W, backend=backend)
        assert isinstance(got, FakeDeviceArray)
        np.testing.assert_allclose(got.get(), ic.correlate(X, W), rtol=0, atol=1e-5)
        got = ic.morph_gradient(x.astype(np.uint8), size=3, backend=backend)
        assert isinstance(got, FakeDeviceArray) and got.dtype == np.uint8
        np.testing.assert_array_equal(got.get(), ic.morph_gradient(X.astype(np.uint8), size=3))
    with pytest.raises(TypeError, match="backend='cpu' needs a numpy array, got a cupy"):
        ic.correlate(x, W, backend="cpu")
    # widened on the device, as on the CPU; bool through uint8
    half = ic.correlate(x.astype(np.float16), W)
    assert isinstance(half, FakeDeviceArray) and half.dtype == np.float32
    opened = ic.opening(x > 4, size=2)
    assert opened.dtype == bool
    np.testing.assert_array_equal(opened.get(), ic.opening(X > 4, size=2))


def test_gpu_out_must_be_a_device_array_on_the_inputs_device(fake_gpu):
    x = fake_gpu.asarray(X)
    out = fake_gpu.empty(X.shape, np.float32)
    assert ic.correlate(x, W, out=out) is out
    with pytest.raises(TypeError, match="out must be a cupy array .* got numpy.ndarray"):
        ic.correlate(x, W, out=np.empty(X.shape, np.float32))
    with pytest.raises(ValueError, match="out overlaps the input"):
        ic.correlate(x, W, out=x)
    with pytest.raises(ValueError, match="out has elements that share memory"):
        ic.gaussian(x, 1.0, out=np.lib.stride_tricks.as_strided(out, X.shape, (0, 4),
                                                                 subok=True))
    with FakeDevice(1):
        other = fake_gpu.empty(X.shape, np.float32)
        x1 = fake_gpu.asarray(X)
    with pytest.raises(ValueError, match="out is on GPU 1 and the input on GPU 0"):
        ic.correlate(x, W, out=other)
    # an input on GPU 1 runs there: its device is current during the call
    FakeDevice.entered.clear()
    got = ic.gaussian(x1, 1.0)
    assert got.device_id == 1 and 1 in FakeDevice.entered and FakeDevice.current == 0
    assert ic.box(x1, 3, out=other) is other


# ---------------------------------------------------------------------------
# On a GPU: CuPy arrays, memory, several devices
# ---------------------------------------------------------------------------
@pytest.fixture
def gpu(monkeypatch):
    if GPU_PROBLEM is not None:
        pytest.skip(f"no GPU: {GPU_PROBLEM}")
    _fresh_cuda(monkeypatch, simulator=False)
    import cupy
    return cupy


def test_cupy_in_cupy_out_and_numpy_round_trip(gpu):
    x = gpu.asarray(X)
    got = ic.gaussian(x, 1.5)
    assert isinstance(got, gpu.ndarray)
    np.testing.assert_allclose(got.get(), ic.gaussian(X, 1.5), rtol=0, atol=1e-5)
    host = ic.gaussian(X, 1.5, backend="cuda")
    assert type(host) is np.ndarray
    np.testing.assert_allclose(host, ic.gaussian(X, 1.5), rtol=0, atol=1e-5)
    with pytest.raises(TypeError, match="out must be a cupy array"):
        ic.gaussian(x, 1.5, out=np.empty(X.shape, np.float32))


@contextlib.contextmanager
def _recorded_allocations(cupy):
    """The sizes of every device allocation made inside the block."""
    pool = cupy.get_default_memory_pool()
    sizes = []

    def allocate(size):
        sizes.append(size)
        return pool.malloc(size)

    cupy.cuda.set_allocator(allocate)
    try:
        yield sizes
    finally:
        cupy.cuda.set_allocator(pool.malloc)


def test_memory_no_padded_copy_and_one_temporary_for_separable_filters(gpu):
    volume = gpu.asarray(RNG.random((64, 64, 64), dtype=np.float32))
    nbytes = volume.nbytes
    cases = [("direct", lambda: ic.correlate(volume, np.ones((3, 3, 3)) / 27, method="direct"),
              1),
             ("separable", lambda: ic.gaussian(volume, 2.0), 2),
             ("box", lambda: ic.box(volume, 5), 2),
             ("dilation", lambda: ic.dilate(volume, size=(3, 5, 7)), 2)]
    for name, call, most in cases:
        call()          # compiled, constants placed
        gpu.cuda.Device().synchronize()
        with _recorded_allocations(gpu) as sizes:
            call()
            gpu.cuda.Device().synchronize()
        volumes = [s for s in sizes if s >= nbytes]
        assert max(sizes, default=0) <= nbytes, f"{name}: an allocation beyond the volume"
        assert len(volumes) <= most, f"{name}: {len(volumes)} volumes allocated"


def test_several_devices(gpu):
    if gpu.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("needs two GPUs")
    with gpu.cuda.Device(1):
        x1 = gpu.asarray(X)
        out1 = gpu.empty(X.shape, np.float32)
    got = ic.correlate(x1, W)
    assert got.device.id == 1
    np.testing.assert_allclose(got.get(), ic.correlate(X, W), rtol=0, atol=1e-5)
    assert ic.correlate(x1, W, out=out1) is out1
    with pytest.raises(ValueError, match="out is on GPU 0 and the input on GPU 1"):
        ic.correlate(x1, W, out=gpu.empty(X.shape, np.float32))

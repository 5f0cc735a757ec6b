"""The CUDA loader, the simulator (IMGCONV_CUDA_SIMULATOR=1) and the NVRTC check.

The kernels in tests/cuda_kernels/sim_checks.cu each exercise one thing the
real kernels rely on: a shared tile with a halo and __syncthreads around an
early return, the thread and block indices in 3D, a template, constant
memory, atomics, dynamic shared memory and defines.  The simulator's results
are compared with numpy; the same source is compiled to PTX with NVRTC.
"""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from imgconv.cuda import _runtime

CHECKS = str(Path(__file__).resolve().parent / "cuda_kernels" / "sim_checks.cu")
RNG = np.random.default_rng(19)

needs_compiler = pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler")


@pytest.fixture
def sim(monkeypatch):
    """The simulator's runtime, with a fresh availability answer."""
    monkeypatch.setenv(_runtime.SIMULATOR_VARIABLE, "1")
    monkeypatch.setattr(_runtime, "_availability", {})
    return _runtime


def box3_pairs_reference(image, tile):
    """A 3x3 box sum (edges replicated) plus the left neighbour's sum in its tile."""
    padded = np.pad(image.astype(np.float64), 1, mode="edge")
    height, width = image.shape
    sums = sum(padded[dy:dy + height, dx:dx + width] for dy in range(3) for dx in range(3))
    result = sums.copy()
    result[:, 1:] += sums[:, :-1]
    result[:, ::tile] = sums[:, ::tile]
    return result


@needs_compiler
@pytest.mark.parametrize("shape", [(13, 19), (8, 8), (1, 3), (20, 5)])
def test_shared_tile_with_halo_and_early_return(sim, shape):
    kernel = sim.get_kernel(CHECKS, "box3_pairs")
    image = RNG.random(shape, dtype=np.float32)
    out = np.full(shape, np.nan, np.float32)
    height, width = shape
    kernel(((width + 7) // 8, (height + 7) // 8), (8, 8),
           (image, out, np.int32(height), np.int32(width)))
    np.testing.assert_allclose(out, box3_pairs_reference(image, 8), rtol=1e-6)


@needs_compiler
def test_a_define_changes_the_tile(sim):
    kernel = sim.get_kernel(CHECKS, "box3_pairs", defines=(("TILE", 4),))
    image = RNG.random((9, 11), dtype=np.float32)
    out = np.zeros_like(image)
    kernel(((11 + 3) // 4, (9 + 3) // 4), (4, 4), (image, out, np.int32(9), np.int32(11)))
    np.testing.assert_allclose(out, box3_pairs_reference(image, 4), rtol=1e-6)
    assert kernel is not sim.get_kernel(CHECKS, "box3_pairs")
    assert kernel is sim.get_kernel(CHECKS, "box3_pairs", defines=(("TILE", 4),))


@needs_compiler
def test_thread_and_block_indices_in_3d(sim):
    kernel = sim.get_kernel(CHECKS, "thread_positions")
    shape, block = (5, 6, 7), (4, 3, 2)          # block is (x, y, z), shape (z, y, x)
    grid = tuple(-(-n // b) for n, b in zip(shape[::-1], block))
    out = np.full(shape, -1, np.int64)
    kernel(grid, block, (out, *(np.int32(n) for n in shape)))
    z, y, x = np.indices(shape)
    block_id = ((z // block[2]) * grid[1] + y // block[1]) * grid[0] + x // block[0]
    thread_id = ((z % block[2]) * block[1] + y % block[1]) * block[0] + x % block[0]
    np.testing.assert_array_equal(out, block_id * 1000 + thread_id)


@needs_compiler
@pytest.mark.parametrize("name, dtype, scale", [("scale_offset<float, 2>", np.float32, 2),
                                                ("scale_offset<double, 3>", np.float64, 3)])
def test_template_instantiations(sim, name, dtype, scale):
    kernel = sim.get_kernel(CHECKS, name)
    data = RNG.random(37).astype(dtype)
    out = np.zeros_like(data)
    kernel((3,), (16,), (data, out, dtype(0.5), np.int32(data.size)))
    np.testing.assert_array_equal(out, data * dtype(scale) + dtype(0.5))


@needs_compiler
def test_constant_memory(sim):
    kernel = sim.get_kernel(CHECKS, "weighted_sum")
    weights = RNG.standard_normal(5).astype(np.float32)
    data = RNG.random(40, dtype=np.float32)
    out = np.zeros(36, np.float32)
    kernel.set_constant("weights", weights)
    kernel((3,), (16,), (data, out, np.int32(out.size), np.int32(weights.size)))
    expected = np.correlate(data.astype(np.float64), weights.astype(np.float64), "valid")
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="do not fit the __constant__ 'weights' \\(64 bytes\\)"):
        kernel.set_constant("weights", np.zeros(17, np.float32))
    with pytest.raises(ValueError, match="no __constant__ 'bias'"):
        kernel.set_constant("bias", np.zeros(1, np.float32))


@needs_compiler
def test_atomics_across_blocks(sim):
    kernel = sim.get_kernel(CHECKS, "reduce")
    data = RNG.standard_normal(1000).astype(np.float32) * 10
    total, total64 = np.zeros(1, np.float32), np.zeros(1, np.float64)
    positives, largest = np.zeros(1, np.uint32), np.full(1, np.iinfo(np.int32).min, np.int32)
    kernel((4,), (256,), (data, np.int32(data.size), total, total64, positives, largest))
    exact = data.astype(np.float64).sum()
    np.testing.assert_allclose(total64[0], exact, rtol=1e-12)
    np.testing.assert_allclose(total[0], exact, rtol=1e-4, atol=1e-3)
    assert positives[0] == np.count_nonzero(data > 0)
    assert largest[0] == np.rint(data.max())


@needs_compiler
def test_dynamic_shared_memory_and_defines(sim):
    kernel = sim.get_kernel(CHECKS, "reverse_segments", defines=(("OFFSET", 5),))
    data = np.arange(64, dtype=np.int32) * 3
    out = np.zeros_like(data)
    kernel((2,), (32,), (data, out, np.int32(64)), shared_mem=32 * 4)
    np.testing.assert_array_equal(out, data.reshape(2, 32)[:, ::-1].ravel() + 5)


@needs_compiler
def test_block_votes_with_returned_threads(sim):
    kernel = sim.get_kernel(CHECKS, "votes")
    n, block = 70, 32                        # the last block has 6 threads left
    data = RNG.standard_normal(n).astype(np.float32)
    data[32:64] = np.abs(data[32:64]) + 1    # block 1: all above 0
    data[64:] = -np.abs(data[64:]) - 1       # block 2: none above 0
    counts = np.full((3, 3), -1, np.int32)
    kernel((3,), (block,), (data, np.int32(n), np.float32(0), counts))
    above = np.pad(data > 0, (0, 3 * block - n)).reshape(3, block)
    expected = [[above[b].sum(), above[b].any(), above[b, :min(block, n - b * block)].all()]
                for b in range(3)]
    np.testing.assert_array_equal(counts, expected)


@needs_compiler
def test_prelude_limits(sim):
    kernel = sim.get_kernel(CHECKS, "limits")
    floats, doubles = np.zeros(4, np.float32), np.zeros(2, np.float64)
    integers = np.zeros(14, np.int64)
    kernel((1,), (1,), (floats, doubles, integers))
    assert np.isposinf(floats[0]) and np.isnan(floats[1])
    assert floats[2] == np.finfo(np.float32).max and floats[3] == np.finfo(np.float32).eps
    assert doubles[0] == np.finfo(np.float64).max and doubles[1] == np.finfo(np.float64).eps
    bounds = [(t.min, t.max) for t in map(np.iinfo, (np.int8, np.uint8, np.int16, np.uint16,
                                                      np.int32, np.uint32, np.int64))]
    (i8, u8, i16, u16, i32, u32, i64) = bounds
    np.testing.assert_array_equal(integers, [*i8, u8[1], *i16, u16[1], *i32, u32[1], *i64,
                                             *i32, u32[1]])


@needs_compiler
def test_libraries_are_cached_on_disk(sim, monkeypatch, tmp_path):
    from imgconv.cuda import _simulator
    monkeypatch.setenv(_simulator.CACHE_VARIABLE, str(tmp_path))
    monkeypatch.setattr(_runtime, "_kernels", {})
    kernel = sim.get_kernel(CHECKS, "limits")
    assert kernel.library_path.parent == tmp_path
    assert list(tmp_path.glob("pch-*/_sim.h.gch")), "the emulation header was not precompiled"
    assert not list(tmp_path.glob("build-*")), "a build directory was left behind"
    stamp = kernel.library_path.stat().st_mtime_ns
    monkeypatch.setattr(_runtime, "_kernels", {})
    again = sim.get_kernel(CHECKS, "limits")
    assert again is not kernel and again.library_path == kernel.library_path
    assert again.library_path.stat().st_mtime_ns == stamp       # reused, not rebuilt


def _launch_positions(queue):
    """Run thread_positions on one 4x3x2 block; put whether it was right on `queue`."""
    kernel = _runtime.get_kernel(CHECKS, "thread_positions")
    out = np.full((2, 3, 4), -1, np.int64)
    kernel((1,), (4, 3, 2), (out, np.int32(2), np.int32(3), np.int32(4)))
    queue.put(bool((out.ravel() == np.arange(24)).all()))


@needs_compiler
@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
@pytest.mark.skipif(_runtime.library_loaded("libtsan"),
                    reason="ThreadSanitizer does not start threads after a threaded fork")
def test_a_forked_process_launches_on_a_team_of_its_own(sim):
    import multiprocessing
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    _launch_positions(queue)                 # the parent's team exists before the fork
    assert queue.get(timeout=60)
    child = context.Process(target=_launch_positions, args=(queue,))
    child.start()
    child.join(timeout=120)
    if child.is_alive():
        child.kill()
        pytest.fail("a launch in a forked child hung")
    assert child.exitcode == 0 and queue.get(timeout=10)


@needs_compiler
def test_launch_arguments_are_checked(sim):
    kernel = sim.get_kernel(CHECKS, "scale_offset<float, 2>")
    data = np.ones(4, np.float32)
    with pytest.raises(TypeError, match="argument 3 is a Python int"):
        kernel((1,), (4,), (data, data, np.float32(0), 4))
    with pytest.raises(TypeError, match="argument 2 is f8"):
        kernel((1,), (4,), (data, data, np.float64(0), np.int32(4)))
    with pytest.raises(TypeError, match="argument 1 is pf8"):
        kernel((1,), (4,), (data, data.astype(np.float64), np.float32(0), np.int32(4)))
    with pytest.raises(TypeError, match="takes 4 arguments"):
        kernel((1,), (4,), (data, data, np.float32(0)))
    with pytest.raises(TypeError, match="argument 0 has type list"):
        kernel((1,), (4,), ([1.0], data, np.float32(0), np.int32(4)))
    with pytest.raises(ValueError, match="2048 threads"):
        kernel((1,), (64, 32), (data, data, np.float32(0), np.int32(4)))
    with pytest.raises(ValueError, match="size 0 on axis y"):
        kernel((1, 0), (4,), (data, data, np.float32(0), np.int32(4)))
    with pytest.raises(ValueError, match="dynamic shared memory"):
        kernel((1,), (4,), (data, data, np.float32(0), np.int32(4)), shared_mem=1 << 20)


@needs_compiler
def test_compile_error_carries_the_compiler_log(sim, tmp_path):
    bad = tmp_path / "bad.cu"
    bad.write_text('#include "prelude.cuh"\n'
                   'extern "C" __global__ void broken(float* out) { out[0] = undeclared_name; }\n')
    with pytest.raises(_runtime.CudaCompileError, match="(?s)bad.cu.*undeclared_name"):
        sim.get_kernel(str(bad), "broken")


def test_missing_source_and_bad_defines(sim):
    with pytest.raises(FileNotFoundError, match="no_such_kernel.cu"):
        sim.get_kernel("no_such_kernel.cu", "f")
    with pytest.raises(ValueError, match="not a C identifier"):
        sim.get_kernel(CHECKS, "box3_pairs", defines=(("1TILE", 4),))
    with pytest.raises(TypeError, match="a define is a \\(NAME, value\\) pair"):
        sim.get_kernel(CHECKS, "box3_pairs", defines=("TILE",))


# ---- availability: each missing piece named ----

def _fresh(monkeypatch, simulator):
    if simulator:
        monkeypatch.setenv(_runtime.SIMULATOR_VARIABLE, "1")
    else:
        monkeypatch.delenv(_runtime.SIMULATOR_VARIABLE, raising=False)
    monkeypatch.setattr(_runtime, "_availability", {})


def test_unavailable_without_cupy(monkeypatch):
    _fresh(monkeypatch, simulator=False)
    monkeypatch.setitem(sys.modules, "cupy", None)        # import cupy raises ImportError
    with pytest.raises(_runtime.CudaUnavailable, match="CuPy.*pip install imgconv\\[cuda\\]"):
        _runtime.check_available()
    with pytest.raises(_runtime.CudaUnavailable, match="CuPy"):
        _runtime.xp()


class _FakeRuntime:
    def __init__(self, driver, devices):
        self.driver, self.devices = driver, devices

    def driverGetVersion(self):                  # noqa: N802 (CUDA's name)
        return self.driver

    def getDeviceCount(self):                    # noqa: N802
        if isinstance(self.devices, Exception):
            raise self.devices
        return self.devices


def _fake_cupy(monkeypatch, driver, devices):
    import types
    cupy = types.ModuleType("cupy")
    cupy.cuda = types.SimpleNamespace(runtime=_FakeRuntime(driver, devices))
    monkeypatch.setitem(sys.modules, "cupy", cupy)


@pytest.mark.parametrize("driver, devices, message", [
    (0, 0, "needs an NVIDIA CUDA driver"),
    (12090, 0, "needs a GPU"),
    (12090, RuntimeError("cudaErrorNoDevice"), "needs a GPU.*cudaErrorNoDevice"),
])
def test_unavailable_without_driver_or_gpu(monkeypatch, driver, devices, message):
    _fresh(monkeypatch, simulator=False)
    _fake_cupy(monkeypatch, driver, devices)
    with pytest.raises(_runtime.CudaUnavailable, match=message):
        _runtime.check_available()


def test_available_with_a_gpu_and_the_answer_is_cached(monkeypatch):
    _fresh(monkeypatch, simulator=False)
    _fake_cupy(monkeypatch, 12090, 1)
    _runtime.check_available()
    monkeypatch.setitem(sys.modules, "cupy", None)
    _runtime.check_available()                   # cached: CuPy is not imported again


class _FakeCompileException(Exception):
    pass


class _FakeRawModule:
    """Records what the GPU loader hands CuPy, and what it launches."""

    made = []

    def __init__(self, code=None, *, options=(), name_expressions=None):
        self.code, self.options, self.name_expressions = code, options, name_expressions
        self.module = __import__("types").SimpleNamespace(ptr=0xC0DE)
        self.launches, self.copies = [], []
        _FakeRawModule.made.append(self)

    def get_function(self, name):
        if "undeclared" in self.code:
            raise _FakeCompileException("x.cu(2): error: identifier \"undeclared\" is undefined")
        module = self

        class Function:
            max_dynamic_shared_size_bytes = 0

            def __call__(self, grid, block, args, shared_mem=0):
                module.launches.append((grid, block, args, shared_mem,
                                        self.max_dynamic_shared_size_bytes))
        return Function()

    def get_global(self, symbol):
        module = self

        class Pointer:
            def copy_from_host(self, address, size):
                module.copies.append((symbol, size))
        return Pointer()


class _FakeDriver:
    """cuModuleGetGlobal_v2 for a module whose only global is 'weights', 64 bytes."""

    def cuModuleGetGlobal_v2(self, address, size, module, name):  # noqa: N802 (CUDA's name)
        if module.value != 0xC0DE or name != b"weights":
            return 500                                          # CUDA_ERROR_NOT_FOUND
        size._obj.value = 64
        return 0


@pytest.fixture
def fake_gpu(monkeypatch):
    """A fake CuPy with one GPU, to run the GPU loader's code with no GPU."""
    import types
    _fresh(monkeypatch, simulator=False)
    _fake_cupy(monkeypatch, 12090, 1)
    cupy = sys.modules["cupy"]
    cupy.ndarray = type("ndarray", (), {})
    cupy.RawModule = _FakeRawModule
    cupy.cuda.runtime.getDevice = lambda: 0
    cupy.cuda.Device = lambda device: types.SimpleNamespace(
        attributes={"MaxSharedMemoryPerBlockOptin": 232448})
    cupy.cuda.compiler = types.SimpleNamespace(CompileException=_FakeCompileException)
    monkeypatch.setattr(_runtime, "_kernels", {})
    monkeypatch.setattr(_runtime, "_cuda_driver", _FakeDriver)
    _runtime._device_shared_memory.cache_clear()
    yield cupy
    _runtime._device_shared_memory.cache_clear()


def test_gpu_loader_hands_cupy_the_nvrtc_options(fake_gpu):
    kernel = _runtime.get_kernel(CHECKS, "scale_offset<float, 2>", defines=(("TILE", 4),))
    module = _FakeRawModule.made[-1]
    kernels_dir = Path(_runtime.__file__).parent / "kernels"
    assert module.options == ("-std=c++17", f"-I{kernels_dir}", f"-I{Path(CHECKS).parent}",
                              "-DTILE=4")
    assert module.name_expressions == ["scale_offset<float, 2>"]
    # the source itself, after a stamp of its headers and a #line that keeps its line numbers
    stamp, line, text = module.code.split("\n", 2)
    assert stamp.startswith("// imgconv headers ") and line == f'#line 1 "{CHECKS}"'
    assert text == Path(CHECKS).read_text()
    array = fake_gpu.ndarray()
    kernel((2,), (8, 4), (array, array, np.float32(1), np.int32(3)), shared_mem=64 * 1024)
    assert module.launches == [((2, 1, 1), (8, 4, 1), (array, array, np.float32(1),
                                                        np.int32(3)), 65536, 65536)]
    with pytest.raises(TypeError, match="argument 0 has type ndarray.*cupy.asarray"):
        kernel((1,), (1,), (np.zeros(3), array, np.float32(1), np.int32(3)))


def test_gpu_loader_fills_constants_within_their_size(fake_gpu):
    kernel = _runtime.get_kernel(CHECKS, "weighted_sum")
    module = _FakeRawModule.made[-1]
    kernel.set_constant("weights", np.ones(16, np.float32))
    assert module.copies == [("weights", 64)]
    with pytest.raises(ValueError, match="68 bytes do not fit the __constant__ 'weights'"):
        kernel.set_constant("weights", np.ones(17, np.float32))
    with pytest.raises(ValueError, match="no __constant__ 'bias'"):
        kernel.set_constant("bias", np.ones(1, np.float32))


def test_gpu_compile_error_carries_nvrtcs_log(fake_gpu, tmp_path):
    bad = tmp_path / "bad.cu"
    bad.write_text('#include "prelude.cuh"\nextern "C" __global__ void f(float* o) '
                   '{ o[0] = undeclared; }\n')
    with pytest.raises(_runtime.CudaCompileError, match='(?s)bad.cu.*"undeclared" is undefined'):
        _runtime.get_kernel(str(bad), "f")


def test_simulator_unavailable_without_a_compiler(monkeypatch):
    _fresh(monkeypatch, simulator=True)
    monkeypatch.setenv("CXX", "no-such-compiler-imgconv")
    with pytest.raises(_runtime.CudaUnavailable, match="needs a C\\+\\+ compiler.*"
                                                      "no-such-compiler-imgconv"):
        _runtime.get_kernel(CHECKS, "box3_pairs")


SANITIZER_CHECKS = """#include "prelude.cuh"
// Three blocks of 8 threads over n = 24 elements; each kernel goes wrong
// only when `bad` is 1.
// Reads one element past the array.
extern "C" __global__ void heap(const float* in, int n, int bad, float* out) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = in[i + (i == n - 1 ? bad : 0)];
}
// Writes one element past a __shared__ array.
extern "C" __global__ void shared(const float* in, int n, int bad, float* out) {
    __shared__ float tile[8];
    const int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    tile[t + (t == 7 ? bad : 0)] = in[i];
    __syncthreads();
    out[i] = bad ? 0.0f : tile[t];
}
// Reads a neighbour's shared value without the barrier that orders it.
extern "C" __global__ void race(const float* in, int n, int bad, float* out) {
    __shared__ float tile[8];
    const int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    tile[t] = in[i];
    if (!bad) __syncthreads();
    out[i] = tile[(t + 1) % 8];
}
"""

_SANITIZER_SCRIPT = """
import sys, numpy as np
from imgconv.cuda import _runtime
kernel = _runtime.get_kernel(sys.argv[1], sys.argv[2])
data, out = np.arange(24, dtype=np.float32), np.zeros(24, np.float32)
kernel((3,), (8,), (data, np.int32(24), np.int32(0), out))
print("correct launch done", flush=True)
kernel((3,), (8,), (data, np.int32(24), np.int32(1), out))
"""

# The line that opens each report, and the kind of report expected.
REPORT_OPENINGS = {"address": "ERROR: AddressSanitizer: ", "thread": "WARNING: ThreadSanitizer: "}
SANITIZER_CASES = [("address", "heap", "heap-buffer-overflow"),
                   ("address", "shared", "global-buffer-overflow"),
                   ("thread", "race", "data race")]


@needs_compiler
@pytest.mark.parametrize("sanitizer, kernel, report", SANITIZER_CASES)
def test_sanitizers_report_what_they_should_and_only_that(tmp_path, sanitizer, kernel,
                                                          report):
    import os
    library = _runtime.SANITIZER_RUNTIMES[sanitizer] + ".so"
    runtime = subprocess.run(["g++", f"-print-file-name={library}"], capture_output=True,
                             text=True).stdout.strip()
    if not os.path.isabs(runtime):
        pytest.skip(f"g++ has no {library}")
    source = tmp_path / "sanitizer_checks.cu"
    source.write_text(SANITIZER_CHECKS)
    env = dict(os.environ, IMGCONV_CUDA_SIMULATOR="1", IMGCONV_CUDA_SIM_SANITIZE=sanitizer,
               LD_PRELOAD=runtime, ASAN_OPTIONS="detect_leaks=0",
               PYTHONPATH=str(Path(_runtime.__file__).parents[2]))
    result = subprocess.run([sys.executable, "-c", _SANITIZER_SCRIPT, str(source), kernel],
                            env=env, capture_output=True, text=True, timeout=600)
    # The correct launch (three blocks reusing the shared tile) raises
    # nothing; the wrong one is reported, once, and fails the process.
    assert "correct launch done" in result.stdout, result.stderr[-3000:]
    opening = REPORT_OPENINGS[sanitizer]
    assert result.stderr.count(opening) == 1, result.stderr[-3000:]
    assert opening + report in result.stderr, result.stderr[-3000:]
    assert result.returncode != 0


def test_sanitizer_needs_its_runtime(monkeypatch):
    _fresh(monkeypatch, simulator=True)
    monkeypatch.setattr(_runtime, "library_loaded", lambda library: False)
    monkeypatch.setenv(_runtime.SANITIZE_VARIABLE, "address")
    with pytest.raises(_runtime.CudaUnavailable, match="runtime.*print-file-name=libasan.so"):
        _runtime.check_available()
    monkeypatch.setenv(_runtime.SANITIZE_VARIABLE, "thread")
    with pytest.raises(_runtime.CudaUnavailable, match="runtime.*print-file-name=libtsan.so"):
        _runtime.check_available()
    monkeypatch.setenv(_runtime.SANITIZE_VARIABLE, "memory")
    with pytest.raises(_runtime.CudaUnavailable, match="knows 'address' and 'thread'"):
        _runtime.check_available()


def test_simulator_needs_linux(monkeypatch):
    _fresh(monkeypatch, simulator=True)
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(_runtime.CudaUnavailable, match="runs on Linux only, not on darwin"):
        _runtime.check_available()


@needs_compiler
def test_bool_arrays_pass_as_bytes(sim, tmp_path):
    source = tmp_path / "bytes.cu"
    source.write_text('#include "prelude.cuh"\n'
                      'extern "C" __global__ void count(const unsigned char* in, int n, int* out)'
                      ' { for (int i = 0; i < n; ++i) out[0] += in[i]; }\n')
    kernel = sim.get_kernel(str(source), "count")
    mask, total = np.array([True, False, True, True]), np.zeros(1, np.int32)
    kernel((1,), (1,), (mask, np.int32(4), total))
    assert total[0] == 3
    with pytest.raises(TypeError, match="argument 0 is pi1 \\(int8 array\\)"):
        kernel((1,), (1,), (mask.view(np.int8), np.int32(4), total))


def test_simulator_is_numpy(sim):
    if shutil.which("g++") is None:
        pytest.skip("no C++ compiler")
    assert sim.xp() is np
    assert sim.simulated()


def test_importing_the_package_imports_no_cupy():
    code = ("import sys, imgconv, imgconv.cuda, imgconv.cuda._runtime; "
            "assert 'cupy' not in sys.modules, 'cupy imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- NVRTC: the same sources compile for a GPU, with no GPU here ----

NVRTC_CASES = [
    ("box3_pairs", ()), ("box3_pairs", (("TILE", 16),)), ("thread_positions", ()),
    (["scale_offset<float, 2>", "scale_offset<double, 3>"], ()), ("weighted_sum", ()),
    ("reduce", ()), ("reverse_segments", (("OFFSET", 5),)), ("votes", ()), ("limits", ()),
]


@pytest.mark.parametrize("names, defines", NVRTC_CASES)
def test_nvrtc_compiles_the_test_kernels(names, defines):
    pytest.importorskip("cupy_backends.cuda.libs.nvrtc")
    from imgconv.cuda._nvrtc import compile_ptx
    ptx = compile_ptx(CHECKS, names, defines)
    assert ".target sm_90" in ptx
    for name in [names] if isinstance(names, str) else names:
        # extern "C" kernels keep their names; templates are mangled with theirs.
        assert ".entry " + name in ptx or ".entry _Z" in ptx and name.split("<")[0] in ptx


def test_nvrtc_error_carries_its_log(tmp_path):
    pytest.importorskip("cupy_backends.cuda.libs.nvrtc")
    from imgconv.cuda._nvrtc import compile_ptx
    bad = tmp_path / "bad.cu"
    bad.write_text('#include "prelude.cuh"\n'
                   'extern "C" __global__ void broken(float* out) { out[0] = undeclared_name; }\n')
    with pytest.raises(_runtime.CudaCompileError, match='(?s)bad.cu.*"undeclared_name"'):
        compile_ptx(str(bad), "broken")
    with pytest.raises(_runtime.CudaCompileError, match="no_such<int>"):
        compile_ptx(CHECKS, "no_such<int>")

"""imgconv filter/pool/morph --backend cpu|cuda, run as users run it (a
subprocess): the CUDA backend through its simulator (IMGCONV_CUDA_SIMULATOR=1)
gives the CPU's files; unavailable CUDA and --threads with the GPU are one
line each, before any file is written."""
import os
import shutil
import subprocess

import numpy as np
import pytest

from test_cli import _command, _env, assert_error, run_python
from imgconv.cuda import _runtime

needs_simulator = pytest.mark.skipif(shutil.which(_runtime.compiler_command()[0]) is None,
                                     reason="the CUDA simulator needs a C++ compiler")


def run_cli(*args, simulator=False):
    env = _env()
    env.pop(_runtime.SIMULATOR_VARIABLE, None)
    if simulator:
        env[_runtime.SIMULATOR_VARIABLE] = "1"
    return subprocess.run([*_command(), *map(str, args)], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.abspath(__file__)), env=env, timeout=300)


@pytest.fixture
def image(tmp_path):
    rng = np.random.default_rng(5)
    path = tmp_path / "image.npy"
    np.save(path, (rng.integers(0, 64, (14, 12)) / 4).astype(np.float32))
    return path


@needs_simulator
@pytest.mark.parametrize("command", [
    ["filter", "-f", "gaussian:sigma=1.5", "-f", "sobel"],
    ["filter", "--kernel", "1,2,1;0,0,0;-1,-2,-1", "--stride", "2", "--mode", "wrap"],
    ["pool", "--size", "3", "--stride", "2", "--op", "avg"],
    ["morph", "tophat", "--size", "3"],
], ids=["filter-chain", "filter-kernel", "pool", "morph"])
def test_cuda_backend_writes_the_cpus_result(image, tmp_path, command):
    results = {}
    for backend in ("cpu", "cuda"):
        out = tmp_path / f"{backend}.npy"
        result = run_cli(*command, image, "--backend", backend, "-o", out, simulator=True)
        assert result.returncode == 0, result.stderr
        results[backend] = np.load(out)
    assert results["cuda"].dtype == results["cpu"].dtype
    np.testing.assert_allclose(results["cuda"], results["cpu"], rtol=0, atol=1e-4)


@needs_simulator
def test_verbose_names_the_backend(image, tmp_path):
    result = run_cli("filter", image, "--kernel", "1,1;1,1", "--backend", "cuda", "-v",
                     "-o", tmp_path / "k.npy", simulator=True)
    assert result.returncode == 0, result.stderr
    assert "on the cuda backend" in result.stderr and "threads" not in result.stderr


def test_unavailable_cuda_is_one_line_and_writes_nothing(image, tmp_path, monkeypatch):
    # CuPy made unimportable, so the message is the same on any machine
    code = f"""
        import sys
        sys.modules["cupy"] = None
        from imgconv.cli import main
        sys.exit(main(["filter", {str(image)!r}, "--backend", "cuda", "-o",
                       {str(tmp_path / 'out.npy')!r}]))
    """
    monkeypatch.delenv(_runtime.SIMULATOR_VARIABLE, raising=False)
    result = run_python(code, tmp_path)
    assert_error(result, 1, "--backend cuda: the CUDA backend needs CuPy",
                 "pip install imgconv[cuda]")
    assert not (tmp_path / "out.npy").exists()


def test_threads_with_the_gpu_is_a_usage_error(image, tmp_path):
    result = run_cli("filter", image, "--backend", "cuda", "--threads", "2",
                     "-o", tmp_path / "out.npy")
    assert_error(result, 2, "--threads sets CPU threads; --backend cuda takes none")
    result = run_cli("morph", "dilate", image, "--backend", "gpu")
    assert_error(result, 2, "invalid choice: 'gpu'")
    assert not (tmp_path / "out.npy").exists()

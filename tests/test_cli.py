"""The imgconv command: the README's first command, overwrite protection, errors."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import imgconv as ic

SAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "samples")


def _command():
    """The installed console script; else ``python -m imgconv``."""
    script = os.path.join(os.path.dirname(sys.executable), "imgconv")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "imgconv"]


def run_cli(*args, cwd=None):
    # never from the repository root: its unbuilt imgconv/ would shadow the installed one
    cwd = cwd or os.path.dirname(os.path.abspath(__file__))
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(ic.__file__)))
    return subprocess.run([*_command(), *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": package_root})


@pytest.fixture
def shapes(tmp_path):
    path = tmp_path / "shapes.png"
    shutil.copy(os.path.join(SAMPLES, "shapes.png"), path)
    return path


def test_default_filter_writes_gaussian_beside_input(shapes):
    result = run_cli("filter", str(shapes))
    assert result.returncode == 0, result.stderr
    written = shapes.with_name("shapes_gaussian.png")
    assert result.stdout.strip() == str(written)
    image = ic.read(shapes)
    expected = np.clip(np.rint(ic.gaussian(image, 1.0)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(ic.read(written), expected)


def test_never_overwrites_without_flag(shapes):
    out = shapes.with_name("out.png")
    out.write_bytes(b"keep me")
    result = run_cli("filter", str(shapes), "-o", str(out))
    assert result.returncode == 1
    assert "already exists" in result.stderr and "Traceback" not in result.stderr
    assert out.read_bytes() == b"keep me"
    assert run_cli("filter", str(shapes), "-o", str(out), "--overwrite").returncode == 0
    assert ic.read(out).shape == (256, 256)


def test_refuses_to_overwrite_input(shapes):
    result = run_cli("filter", str(shapes), "-o", str(shapes), "--overwrite")
    assert result.returncode == 1 and "input" in result.stderr


def test_chain_and_custom_kernel_on_volume(tmp_path):
    vol = np.random.default_rng(0).random((6, 7, 8)).astype(np.float32)
    src = tmp_path / "vol.npy"
    np.save(src, vol)
    result = run_cli("filter", str(src), "--kernel", "0,1,0;1,1,1;0,1,0/1,1,1;1,1,1;1,1,1/0,0,0;0,1,0;0,0,0",
                     "-f", "kernel", "-f", "box:size=3", "--mode", "wrap")
    assert result.returncode == 0, result.stderr
    kernel = np.array([[[0, 1, 0], [1, 1, 1], [0, 1, 0]], [[1, 1, 1]] * 3,
                       [[0, 0, 0], [0, 1, 0], [0, 0, 0]]], float)
    expected = ic.box(ic.correlate(vol, kernel, mode="wrap"), 3, mode="wrap")
    np.testing.assert_allclose(np.load(tmp_path / "vol_kernel_box.npy"), expected, rtol=1e-5)


@pytest.mark.parametrize("args,message", [
    (["filter", "missing.png"], "no such file"),
    (["filter", "{shapes}", "-f", "blur"], "unknown filter"),
    (["filter", "{shapes}", "-f", "gaussian:radius=3"], "unknown parameter"),
    (["filter", "{shapes}", "--kernel", "1,2;3"], "same length"),
    (["filter", "{shapes}", "--kernel", "1,a,1"], "not a file"),
    (["filter", "{shapes}", "--kernel", "1,1,1;1,1,1;1,1,1/1,1,1;1,1,1;1,1,1"], "dimensions"),
    (["filter", "{shapes}", "-o", "{tmp}/out.xyz"], "unsupported file type"),
])
def test_user_errors_are_one_line(shapes, tmp_path, args, message):
    args = [a.format(shapes=shapes, tmp=tmp_path) for a in args]
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["shapes.png"]


def test_usage_errors_exit_2(shapes):
    assert run_cli("filter", str(shapes), "--threads", "0").returncode == 2
    assert run_cli("bogus").returncode == 2


def test_filters_lists_every_filter():
    result = run_cli("filters")
    assert result.returncode == 0
    for name in ("gaussian", "box", "sobel", "laplace", "kernel"):
        assert name in result.stdout

"""Package-level checks: light import, doctests, kernel variant, PyTorch parity."""
import doctest
import json
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest

import imgconv as ic
from imgconv import _compiled
from reference import ref_correlate


def _run_python(code, **env):
    """Run ``code`` in a fresh interpreter that imports the same imgconv as this one
    (not, say, an unbuilt source tree that happens to be the working directory)."""
    parent = os.path.dirname(os.path.dirname(os.path.abspath(ic.__file__)))
    pythonpath = os.pathsep.join([parent] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, cwd=tempfile.gettempdir(),
                          env={**os.environ, "PYTHONPATH": pythonpath, **env})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# ---------------------------------------------------------------------------
# import
# ---------------------------------------------------------------------------
def test_import_is_light_and_fast():
    out = _run_python("""
        import json, sys, time
        t0 = time.perf_counter()
        import imgconv
        elapsed = time.perf_counter() - t0
        heavy = [m for m in ("scipy", "dask", "cupy", "torch", "numba", "cv2", "tifffile",
                             "nibabel")
                 if m in sys.modules]
        print(json.dumps({"elapsed": elapsed, "heavy": heavy}))
    """)
    info = json.loads(out.strip().splitlines()[-1])
    assert info["heavy"] == [], f"import imgconv pulled in {info['heavy']}"
    assert info["elapsed"] < 1.0, f"import imgconv took {info['elapsed']:.2f} s"


def test_public_api():
    for name in ["correlate", "convolve", "set_num_threads", "get_num_threads",
                 "openmp_enabled", "__version__"]:
        assert hasattr(ic, name)
        assert name in ic.__all__
    assert isinstance(ic.__version__, str)
    for func in (ic.correlate, ic.convolve):
        doc = func.__doc__
        for arg in ["mode", "cval", "padding", "stride", "dilation", "origin", "channel_axis",
                    "dtype", "out", "method", "backend", "threads"]:
            assert arg in doc, f"{func.__name__} docstring does not describe {arg}"


# ---------------------------------------------------------------------------
# doctests (run here: the suite's command does not use --doctest-modules)
# ---------------------------------------------------------------------------
@pytest.fixture
def restore_threads():
    yield
    ic.set_num_threads(None)


@pytest.mark.parametrize("module", ["imgconv", "imgconv._convolve", "imgconv._filters",
                                    "imgconv._threads", "imgconv._buffers", "imgconv._io",
                                    "imgconv.cli", "imgconv._pool", "imgconv._morphology",
                                    "imgconv.footprints", "imgconv._compiled"])
def test_doctests(module, restore_threads):
    import importlib
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False)
    assert result.attempted > 0, f"{module} has no doctests"
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {module}"


# ---------------------------------------------------------------------------
# a source tree that was never built
# ---------------------------------------------------------------------------
@pytest.fixture
def unbuilt_checkout(tmp_path):
    """A copy of the repository's Python sources without the compiled modules."""
    package = os.path.dirname(os.path.abspath(ic.__file__))
    for folder, _, files in os.walk(package):
        target = tmp_path / os.path.relpath(folder, os.path.dirname(package))
        target.mkdir(exist_ok=True)
        for name in files:
            if name.endswith(".py"):
                (target / name).write_bytes(open(os.path.join(folder, name), "rb").read())
    (tmp_path / "setup.py").write_text("# the repository root's marker\n")
    return tmp_path


def _run_in(folder, *args):
    """Python in ``folder``, whose ``imgconv/`` comes first on the path.

    ``-S`` leaves out site-packages' ``.pth`` files, among them the finder of an
    editable install, which would otherwise import the built repository from
    anywhere; numpy and Pillow come from their folder by PYTHONPATH instead.
    """
    site_packages = os.path.dirname(os.path.dirname(np.__file__))
    env = {**os.environ, "PYTHONPATH": site_packages}
    return subprocess.run([sys.executable, "-S", *args], capture_output=True, text=True,
                          timeout=120, cwd=folder, env=env)


def test_unbuilt_source_tree_says_what_to_run(unbuilt_checkout):
    proc = _run_in(unbuilt_checkout, "-c", "import numpy as np, imgconv as ic\n"
                   "ic.correlate(np.ones((4, 4)), np.ones((3, 3)))")
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("imgconv._compiled.NotBuiltError: imgconv's compiled kernels")
    assert "pip install -e ." in last and str(unbuilt_checkout) in last


@pytest.mark.parametrize("first", ["_threads", "_buffers", "_dispatch", "_convolve", "_filters"])
def test_every_module_that_needs_kernels_raises_the_same_error(unbuilt_checkout, first):
    proc = _run_in(unbuilt_checkout, "-c", f"import imgconv.{first}")
    assert "NotBuiltError: imgconv's compiled kernels" in proc.stderr


def test_unbuilt_source_tree_command_prints_one_line(unbuilt_checkout):
    sample = os.path.join(os.path.dirname(__file__), os.pardir, "samples", "shapes.png")
    proc = _run_in(unbuilt_checkout, "-m", "imgconv", "filter", os.path.abspath(sample),
                   "-o", str(unbuilt_checkout / "out.png"))
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("imgconv: error: imgconv's compiled kernels")
    assert "unexpected" not in proc.stderr


# ---------------------------------------------------------------------------
# compiled kernel variant
# ---------------------------------------------------------------------------
def test_kernel_variant():
    from imgconv import _dispatch, _openmp
    assert _dispatch.KERNEL_VARIANT in ("avx2", "base")
    if _dispatch.KERNEL_VARIANT == "avx2":
        assert _openmp.cpu_has_avx2_fma()


@pytest.mark.skipif(not _compiled.is_built("_linear_base"),
                    reason="an editable install on an AVX2 machine builds no baseline "
                           "(IMGCONV_PORTABLE_BUILD=1 does; CI sets it)")
def test_baseline_variant_gives_same_results():
    """IMGCONV_DISABLE_AVX2 picks the portable build; both builds agree."""
    code = """
        import json, numpy as np, imgconv as ic
        from imgconv import _dispatch
        rng = np.random.default_rng(0)
        x = rng.standard_normal((37, 41, 3)).astype(np.float32)
        w = rng.standard_normal((5, 4))
        r = ic.correlate(x, w, channel_axis=-1, mode="symmetric", stride=(1, 2), dilation=2)
        print(_dispatch.KERNEL_VARIANT)
        print(json.dumps(r.astype(float).ravel().tolist()))
    """
    base = _run_python(code, IMGCONV_DISABLE_AVX2="1").splitlines()
    assert base[0] == "base"
    default = _run_python(code).splitlines()
    from imgconv import _dispatch
    assert default[0] == _dispatch.KERNEL_VARIANT
    a = np.array(json.loads(base[1]))
    b = np.array(json.loads(default[1]))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max())


# ---------------------------------------------------------------------------
# PyTorch parity (skipped where torch is not installed)
# ---------------------------------------------------------------------------
TORCH_CASES = [
    # rank, shape, kshape, padding, stride, dilation
    (1, (50,), (5,), 0, 1, 1),
    (1, (50,), (4,), 3, 2, 3),
    (1, (17,), (3,), (2,), (3,), (2,)),
    (2, (31, 29), (3, 3), 1, 1, 1),
    (2, (31, 29), (5, 4), (2, 0), (2, 3), (1, 2)),
    (2, (20, 23), (2, 2), 0, 2, 1),
    (2, (16, 16), (7, 7), 3, 1, 2),
    (3, (11, 13, 12), (3, 3, 3), 1, 1, 1),
    (3, (11, 13, 12), (2, 3, 4), (1, 0, 2), (2, 1, 3), (2, 3, 1)),
]


def _torch_conv(torch, rank):
    F = torch.nn.functional
    return {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[rank]


@pytest.mark.parametrize("rank,shape,kshape,padding,stride,dilation", TORCH_CASES)
def test_matches_torch_conv_zero_padding(rank, shape, kshape, padding, stride, dilation):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(42)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(kshape).astype(np.float32)
    conv = _torch_conv(torch, rank)
    with torch.no_grad():
        want = conv(torch.from_numpy(x)[None, None], torch.from_numpy(w)[None, None],
                    stride=stride, padding=padding, dilation=dilation)[0, 0].numpy()
    got = ic.correlate(x, w, mode="zero", padding=padding, stride=stride, dilation=dilation)
    assert got.shape == want.shape
    assert got.dtype == np.float32
    scale = np.abs(w).sum() * np.abs(x).max()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale)


def test_matches_torch_channels_as_batch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(43)
    x = rng.standard_normal((3, 24, 25)).astype(np.float32)  # channels first
    w = rng.standard_normal((3, 5)).astype(np.float32)
    with torch.no_grad():
        want = torch.nn.functional.conv2d(torch.from_numpy(x)[:, None],
                                          torch.from_numpy(w)[None, None],
                                          stride=2, padding=(1, 2), dilation=(2, 1))[:, 0]
    got = ic.correlate(x, w, mode="zero", padding=(1, 2), stride=2, dilation=(2, 1),
                       channel_axis=0)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("mode,torch_mode", [("reflect", "reflect"), ("replicate", "replicate"),
                                             ("wrap", "circular"), ("zero", "constant")])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_matches_torch_padding_modes(mode, torch_mode, rank):
    """Asymmetric (lo, hi) padding with a boundary mode = torch F.pad + conv."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(44)
    shape = {1: (19,), 2: (12, 14), 3: (7, 8, 9)}[rank]
    kshape = {1: (4,), 2: (3, 2), 3: (2, 3, 3)}[rank]
    pads = {1: ((3, 1),), 2: ((2, 0), (1, 3)), 3: ((1, 2), (0, 2), (3, 1))}[rank]
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(kshape).astype(np.float32)
    torch_pad = [p for lo_hi in reversed(pads) for p in lo_hi]  # last axis first
    xt = torch.from_numpy(x)[None, None]
    with torch.no_grad():
        xp = F.pad(xt, torch_pad, mode=torch_mode)
        want = _torch_conv(torch, rank)(xp, torch.from_numpy(w)[None, None], stride=2)[0, 0]
    got = ic.correlate(x, w, mode=mode, padding=pads, stride=2)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-4)
    ref = ref_correlate(x, w, mode, 0.0, [p[0] for p in pads], [p[1] for p in pads], 2, 1)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)


def test_torch_tensor_input_is_rejected_clearly():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="numpy array"):
        ic.correlate(torch.ones(5, 5), np.ones((3, 3)))


@pytest.mark.parametrize("name", [n for n in ic.__all__ if callable(getattr(ic, n))])
def test_public_functions_have_docstrings_with_examples(name):
    doc = getattr(ic, name).__doc__ or ""
    assert "Examples" in doc and ">>>" in doc, f"ic.{name} lacks a docstring example"


@pytest.mark.skipif(_compiled.is_built("_linear_base") or not _compiled.is_built("_linear_avx2"),
                    reason="needs an AVX2-only build (an editable install on an AVX2 machine)")
def test_missing_baseline_is_a_clear_error():
    code = """
        try:
            import imgconv._dispatch
        except ImportError as error:
            print(error)
    """
    message = _run_python(code, IMGCONV_DISABLE_AVX2="1")
    assert "AVX2 kernels only" in message and "IMGCONV_PORTABLE_BUILD=1" in message


def test_every_subpackage_is_installed():
    """pyproject's package list names every folder of imgconv/ that is a
    package, so that `pip install .` (not only an editable install) ships it."""
    tomllib = pytest.importorskip("tomllib")
    root = os.path.dirname(os.path.dirname(os.path.abspath(ic.__file__)))
    pyproject = os.path.join(root, "pyproject.toml")
    if not os.path.exists(pyproject):
        pytest.skip("not a source checkout")
    with open(pyproject, "rb") as f:
        listed = set(tomllib.load(f)["tool"]["setuptools"]["packages"])
    found = {os.path.relpath(folder, root).replace(os.sep, ".")
             for folder, _, names in os.walk(os.path.join(root, "imgconv"))
             if "__init__.py" in names}
    assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"

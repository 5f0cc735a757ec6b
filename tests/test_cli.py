"""The imgconv command, run as users run it: the installed console script in a
subprocess.  Every subcommand, chains, batches, output types, volumes, every
error path with its exit status and message, overwrite protection, atomic
writes, the progress bar."""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import imgconv as ic

nib = pytest.importorskip("nibabel")
pytest.importorskip("tifffile")

SAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "samples")
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(ic.__file__)))


def _command():
    """The installed console script; else ``python -m imgconv``."""
    script = os.path.join(os.path.dirname(sys.executable), "imgconv")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "imgconv"]


def _env(extra_path=None):
    paths = [p for p in (extra_path, PACKAGE_ROOT) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def run_cli(*args, cwd=None, extra_path=None, **options):
    # never from the repository root: its unbuilt imgconv/ would shadow the installed one
    cwd = cwd or os.path.dirname(os.path.abspath(__file__))
    return subprocess.run([*_command(), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=_env(extra_path), timeout=120, **options)


def run_python(code, cwd):
    """Run ``code`` in a fresh interpreter (for failures injected into the CLI)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, cwd=cwd, env=_env(), timeout=120)


def assert_error(result, status, *messages):
    """A one-line error, no traceback, with the given exit status."""
    assert result.returncode == status, (result.returncode, result.stderr)
    for message in messages:
        assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    if status == 1:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def shapes(tmp_path):
    path = tmp_path / "shapes.png"
    shutil.copy(os.path.join(SAMPLES, "shapes.png"), path)
    return path


@pytest.fixture
def volume(tmp_path):
    """A small NIfTI volume with anisotropic voxels and a scanner-like header."""
    rng = np.random.default_rng(3)
    vol = (rng.normal(40, 10, (10, 12, 14)) + 500 * (rng.random((10, 12, 14)) > 0.9))
    vol = vol.astype(np.int16)
    affine = np.diag([0.8, 0.7, 2.5, 1.0])
    affine[:3, 3] = [-5, 4, 30]
    img = nib.Nifti1Image(np.ascontiguousarray(vol.T), affine)
    img.set_qform(affine, code=1)
    img.header.set_xyzt_units("mm")
    img.header["descrip"] = b"test scanner"
    img.header["cal_max"] = 400
    path = tmp_path / "head.nii.gz"
    nib.save(img, path)
    return path, vol


def save_npy(folder, name, array):
    path = folder / name
    np.save(path, array)
    return path


def assert_filtered_as(folder, image, args, expected):
    """``imgconv filter`` of ``image`` (as float32 .npy) with ``args``
    succeeds and writes ``expected(image)``."""
    image = image.astype(np.float32)
    src = save_npy(folder, "in.npy", image)
    result = run_cli("filter", src, *args, "-o", folder / "out.npy")
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.load(folder / "out.npy"), expected(image), rtol=1e-6,
                               atol=1e-6)


# ---------------------------------------------------------------------------
# start-up, help, version, filters
# ---------------------------------------------------------------------------
def test_help_loads_no_numpy_and_is_fast():
    code = """
        import sys
        from imgconv.cli import main
        try:
            main(["--help"])
        except SystemExit:
            pass
        heavy = [m for m in ("numpy", "imgconv._convolve", "imgconv._io", "PIL") if m in sys.modules]
        print("HEAVY", heavy)
    """
    result = run_python(code, cwd=os.path.dirname(__file__))
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr
    best = min(_timed(run_cli, "--help") for _ in range(3))
    assert best < 1.0, f"imgconv --help took {best:.2f} s"  # target: well under 0.5 s


def _timed(function, *args):
    start = time.perf_counter()
    assert function(*args).returncode == 0
    return time.perf_counter() - start


def test_version_and_module_entry_point():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"imgconv {ic.__version__}"
    module = subprocess.run([sys.executable, "-m", "imgconv", "--version"], capture_output=True,
                            text=True, env=_env(), cwd=os.path.dirname(__file__))
    assert module.stdout.strip() == f"imgconv {ic.__version__}"


def test_filters_lists_every_filter_with_defaults():
    from imgconv.cli._chain import FILTERS

    result = run_cli("filters")
    assert result.returncode == 0
    for name in FILTERS:
        assert f"\n{name}: " in result.stdout
    for text in ("sigma=1.0", "order=0", "truncate=4.0", "size=3", "operator=sobel",
                 "padding=same", "method=auto", "axis=none", "axis=-1"):
        assert text in result.stdout


def test_cli_knows_every_mode_alias():
    from imgconv import _validate
    from imgconv.cli import _options

    assert set(_options.MODES) == set(_validate.MODE_ALIASES)
    assert set(_options.ZERO_MODES) == {m for m, c in _validate.MODE_ALIASES.items()
                                        if c == "zero"}


# ---------------------------------------------------------------------------
# filter: defaults, chains, every filter, kernels
# ---------------------------------------------------------------------------
def test_default_filter_writes_gaussian_beside_input(shapes):
    result = run_cli("filter", shapes)
    assert result.returncode == 0, result.stderr
    written = shapes.with_name("shapes_gaussian.png")
    assert result.stdout.strip() == str(written)
    image = ic.read(shapes)
    expected = np.clip(np.rint(ic.gaussian(image, 1.0)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(ic.read(written), expected)


def test_chain_left_to_right(tmp_path):
    vol = np.random.default_rng(0).random((6, 7, 8)).astype(np.float32)
    src = save_npy(tmp_path, "vol.npy", vol)
    result = run_cli("filter", src, "-f", "gaussian:sigma=2", "-f", "sobel:axis=1", "--mode",
                     "wrap")
    assert result.returncode == 0, result.stderr
    expected = ic.sobel(ic.gaussian(vol, 2.0, mode="wrap"), 1, mode="wrap")
    got = np.load(tmp_path / "vol_gaussian_sobel.npy")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("args, expected", [
    (["--mode", "wrap,reflect", "-f", "gaussian:sigma=1.5", "-f", "sobel:axis=0"],
     lambda x: ic.sobel(ic.gaussian(x, 1.5, mode=("wrap", "reflect")), 0,
                        mode=("wrap", "reflect"))),
    (["-f", "box:size=3,mode=wrapxzero,cval=2", "-f", "median:size=3,mode=nearestxmirror"],
     lambda x: ic.median(ic.box(x, 3, mode=("wrap", "zero"), cval=2), 3,
                         mode=("replicate", "reflect"))),
    (["--mode", "zero,symmetric", "--cval", "-1", "-f", "gaussian"],
     lambda x: ic.gaussian(x, 1.0, mode=("zero", "symmetric"), cval=-1)),
])
def test_mode_per_axis(tmp_path, args, expected):
    """--mode and mode= take one mode per filtered axis, as the library does;
    --cval reaches a step where some axis pads with zero."""
    assert_filtered_as(tmp_path, np.random.default_rng(3).random((9, 11)), args, expected)


def test_mode_per_axis_bad_name_is_a_usage_error(shapes):
    result = run_cli("filter", shapes, "--mode", "wrap,reflct")
    assert result.returncode == 2
    assert "--mode" in result.stderr and "reflct" in result.stderr


def test_mode_per_axis_wrong_count_names_the_file(shapes, tmp_path):
    result = run_cli("filter", shapes, "--mode", "wrap,reflect,zero", "-o", tmp_path / "o.png")
    assert result.returncode == 1
    assert "mode" in result.stderr and not (tmp_path / "o.png").exists()


KERNEL_2D = np.array([[1, 2, 1], [0, 0, 0], [-1, -3, -1]], float)
FILTER_CASES = [
    ("gaussian:sigma=1.5x2,order=0x1,truncate=3,mode=zero,cval=2",
     lambda x: ic.gaussian(x, (1.5, 2), order=(0, 1), truncate=3, mode="zero", cval=2)),
    ("box:size=3x5,origin=1x0", lambda x: ic.box(x, (3, 5), origin=(1, 0))),
    ("sobel:axis=0", lambda x: ic.sobel(x, 0)),
    ("sobel", lambda x: ic.sobel(x)),
    ("prewitt:axis=1,mode=replicate", lambda x: ic.prewitt(x, 1, mode="replicate")),
    ("scharr", lambda x: ic.scharr(x)),
    ("laplace:mode=symmetric", lambda x: ic.laplace(x, mode="symmetric")),
    ("gradient_magnitude:operator=scharr", lambda x: ic.gradient_magnitude(x, "scharr")),
    ("correlate:padding=valid,stride=2x1,dilation=2,method=direct",
     lambda x: ic.correlate(x, KERNEL_2D, padding="valid", stride=(2, 1), dilation=2,
                            method="direct")),
    ("kernel:origin=1x-1", lambda x: ic.correlate(x, KERNEL_2D, origin=(1, -1))),
    ("convolve:padding=full", lambda x: ic.convolve(x, KERNEL_2D, padding="full")),
    ("correlate1d:axis=0,origin=-1", lambda x: ic.correlate1d(x, [1, 2, 1], 0, origin=-1)),
    ("convolve1d", lambda x: ic.convolve1d(x, [1, 2, 1], -1)),
    ("sepfilter:stride=2", lambda x: ic.sepfilter(x, [[1, 2, 1], [1, 2, 1]], stride=2)),
    ("gaussian:sigma=2,radius=1x4", lambda x: ic.gaussian(x, 2, radius=(1, 4))),
    ("gaussian_laplace:sigma=1.5,mode=wrap", lambda x: ic.gaussian_laplace(x, 1.5, mode="wrap")),
    ("gaussian_gradient_magnitude:sigma=1x2,truncate=3",
     lambda x: ic.gaussian_gradient_magnitude(x, (1, 2), truncate=3)),
    ("median:size=5x3,origin=1x0", lambda x: ic.median(x, (5, 3), origin=(1, 0))),
    ("percentile:percentile=90,size=3,mode=replicate",
     lambda x: ic.percentile_filter(x, 90, size=3, mode="replicate")),
    ("rank:rank=-2,size=4", lambda x: ic.rank_filter(x, -2, size=4)),
]


@pytest.mark.parametrize("spec,expected", FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
def test_every_filter_with_its_parameters(tmp_path, spec, expected):
    image = np.random.default_rng(1).random((23, 19)).astype(np.float32)
    src = save_npy(tmp_path, "img.npy", image)
    name = spec.split(":")[0]
    kernel = "1,2,1" if name in ("correlate1d", "convolve1d", "sepfilter") else "1,2,1;0,0,0;-1,-3,-1"
    args = ["--kernel", kernel] if name in ("correlate", "kernel", "convolve", "correlate1d",
                                            "convolve1d", "sepfilter") else []
    result = run_cli("filter", src, "-f", spec, *args, "-o", tmp_path / "out.npy")
    assert result.returncode == 0, result.stderr
    want = expected(image)
    got = np.load(tmp_path / "out.npy")
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_kernels_inline_npy_and_text_files(tmp_path):
    vol = np.random.default_rng(2).random((6, 7, 8)).astype(np.float32)
    src = save_npy(tmp_path, "vol.npy", vol)
    kernel = np.array([[[0, 1, 0], [1, 1, 1], [0, 1, 0]], [[1, 1, 1]] * 3,
                       [[0, 0, 0], [0, 1, 0], [0, 0, 0]]], float)
    expected = ic.correlate(vol, kernel)
    inline = "0,1,0;1,1,1;0,1,0/1,1,1;1,1,1;1,1,1/0,0,0;0,1,0;0,0,0"
    np.save(tmp_path / "k.npy", kernel)
    (tmp_path / "k.txt").write_text("# a 3D kernel: slices split by blank lines\n"
                                    "0 1 0\n1 1 1\n0 1 0\n\n1 1 1\n1 1 1\n1 1 1\n\n"
                                    "0 0 0\n0 1 0\n0 0 0\n")
    for i, spec in enumerate([inline, tmp_path / "k.npy", tmp_path / "k.txt"]):
        out = tmp_path / f"out{i}.npy"
        result = run_cli("filter", src, "--kernel", spec, "-o", out)  # --kernel alone: -f kernel
        assert result.returncode == 0, result.stderr
        np.testing.assert_allclose(np.load(out), expected, rtol=1e-6)
    # a kernel file named in the filter spec, per filter
    result = run_cli("filter", src, "-f", f"convolve:kernel={tmp_path / 'k.npy'}", "-o",
                     tmp_path / "conv.npy")
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.load(tmp_path / "conv.npy"), ic.convolve(vol, kernel), rtol=1e-6)


def test_kernel_text_with_spaces_inside_a_filter_spec(tmp_path):
    """',' separates -f parameters, so a kernel in -f is written with spaces;
    --kernel takes ',' with or without spaces around it."""
    image = np.random.default_rng(12).random((12, 13)).astype(np.float32)
    src = save_npy(tmp_path, "a.npy", image)
    result = run_cli("filter", src, "-f", "correlate:kernel=1 2 1;0 0 0;-1 -3 -1,method=direct",
                     "-o", tmp_path / "spec.npy")
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.load(tmp_path / "spec.npy"), ic.correlate(image, KERNEL_2D),
                               rtol=1e-6)
    result = run_cli("filter", src, "--kernel", " 1, 2, 1 ; 0 0 0; -1,-3 , -1 ",
                     "-o", tmp_path / "option.npy")
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.load(tmp_path / "option.npy"), ic.correlate(image, KERNEL_2D),
                               rtol=1e-6)


def test_normalize_divides_by_sum_but_not_zero_sum(tmp_path):
    image = np.random.default_rng(4).random((12, 13)).astype(np.float32)
    src = save_npy(tmp_path, "a.npy", image)
    assert run_cli("filter", src, "--kernel", "1,2,1;2,4,2;1,2,1", "--normalize",
                   "-o", tmp_path / "n.npy").returncode == 0
    blur = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
    np.testing.assert_allclose(np.load(tmp_path / "n.npy"), ic.correlate(image, blur), rtol=1e-6)
    # a value starting with '-' joins its option with '=' (argparse's rule)
    assert run_cli("filter", src, "--kernel=-1,0,1;-2,0,2;-1,0,1", "--normalize",
                   "-o", tmp_path / "z.npy").returncode == 0
    edge = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)
    np.testing.assert_allclose(np.load(tmp_path / "z.npy"), ic.correlate(image, edge), rtol=1e-6)


def test_lower_dimensional_kernels_get_leading_axes(tmp_path):
    vol = np.random.default_rng(11).random((5, 6, 7)).astype(np.float32)
    src = save_npy(tmp_path, "v.npy", vol)
    assert run_cli("filter", src, "--kernel=-1,0,1", "-o", tmp_path / "row.npy").returncode == 0
    np.testing.assert_allclose(np.load(tmp_path / "row.npy"),
                               ic.correlate(vol, np.array([[[-1, 0, 1]]])), rtol=1e-6)
    assert run_cli("filter", src, "--kernel", "1,2;3,4", "-f", "convolve",
                   "-o", tmp_path / "plane.npy").returncode == 0
    np.testing.assert_allclose(np.load(tmp_path / "plane.npy"),
                               ic.convolve(vol, np.array([[[1, 2], [3, 4]]])), rtol=1e-6)


def test_global_geometry_options_reach_kernel_filters(tmp_path):
    image = np.random.default_rng(5).random((20, 21)).astype(np.float32)
    src = save_npy(tmp_path, "a.npy", image)
    result = run_cli("filter", src, "--kernel", "1,1;1,1", "--padding", "1", "--stride", "2",
                     "--dilation", "2", "--mode", "zero", "--cval", "3", "-o", tmp_path / "o.npy")
    assert result.returncode == 0, result.stderr
    want = ic.correlate(image, np.ones((2, 2)), padding=1, stride=2, dilation=2, mode="zero",
                        cval=3)
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), want, rtol=1e-6)


@pytest.mark.parametrize("args,expected", [
    (["--cval", "5", "-f", "gaussian:mode=zero", "-f", "sobel"],
     lambda x: ic.sobel(ic.gaussian(x, 1.0, mode="zero", cval=5))),
    (["--mode", "zero", "--cval=-2", "-f", "box", "-f", "sobel:axis=0,mode=wrap"],
     lambda x: ic.sobel(ic.box(x, 3, mode="zero", cval=-2), 0, mode="wrap")),
    (["--cval", "3", "-f", "laplace:mode=constant", "-f", "gaussian:mode=zeros,cval=1",
      "-f", "box:mode=edge"],
     lambda x: ic.box(ic.gaussian(ic.laplace(x, mode="zero", cval=3), 1.0, mode="zero", cval=1),
                      3, mode="replicate")),
])
def test_cval_reaches_only_the_mode_zero_steps(tmp_path, args, expected):
    """One --cval serves a chain that mixes modes: it pads the steps whose mode
    (their own mode=, else --mode) is zero, and the others run without it."""
    assert_filtered_as(tmp_path, np.random.default_rng(13).random((17, 19)), args, expected)


@pytest.mark.parametrize("args,message", [
    (["filter", "--cval", "2"], "--cval applies with mode zero, and no step of the -f chain"),
    (["morph", "erode", "--cval", "2"], "--cval applies with --mode zero"),
])
def test_cval_without_mode_zero_fails_once_before_reading(shapes, tmp_path, args, message):
    # a batch gets one error line, not one per file
    other = shutil.copy(shapes, tmp_path / "other.png")
    result = run_cli(*args, shapes, other, "--outdir", tmp_path / "out")
    assert_error(result, 1, message)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------
# output types and ranges
# ---------------------------------------------------------------------------
def test_png_output_ranges(shapes, tmp_path):
    image = ic.read(shapes).astype(np.float32)

    def written(*args):
        out = tmp_path / "o.png"
        result = run_cli("filter", shapes, *args, "-o", out, "--overwrite")
        assert result.returncode == 0, result.stderr
        return ic.read(out)

    derivative = ic.sobel(image, 1)
    rescaled = written("-f", "sobel:axis=1")  # signed: rescale by default
    lo, hi = derivative.min(), derivative.max()
    np.testing.assert_array_equal(
        rescaled, np.rint((derivative - lo) * np.float32(255 / (hi - lo))).astype(np.uint8))
    assert rescaled.min() == 0 and rescaled.max() == 255
    clipped = written("-f", "sobel:axis=1", "--output-range", "clip")
    np.testing.assert_array_equal(clipped, np.clip(np.rint(derivative), 0, 255))
    absolute = written("-f", "sobel:axis=1", "--output-range", "abs")
    np.testing.assert_array_equal(absolute, np.clip(np.rint(np.abs(derivative)), 0, 255))
    magnitude = written("-f", "sobel")  # edge strength: abs by default
    np.testing.assert_array_equal(magnitude, np.clip(np.rint(ic.sobel(image)), 0, 255))
    # smoothing after a derivative keeps the result signed: rescaled
    smoothed = written("-f", "sobel:axis=0", "-f", "gaussian")
    assert smoothed.min() == 0 and smoothed.max() == 255


def test_16bit_png_stays_16bit_and_float_formats_keep_float32(tmp_path):
    image = np.random.default_rng(6).integers(0, 65535, (20, 24), endpoint=True).astype(np.uint16)
    src = tmp_path / "deep.png"
    ic.write(src, image)
    assert run_cli("filter", src, "-f", "box").returncode == 0
    out = ic.read(tmp_path / "deep_box.png")
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, np.clip(np.rint(ic.box(image, 3)), 0, 65535))
    for ext in (".tif", ".npy", ".nii.gz"):
        result = run_cli("filter", src, "-f", "box", "-o", tmp_path / f"f{ext}")
        assert result.returncode == 0, result.stderr
        got = ic.read(tmp_path / f"f{ext}")
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, ic.box(image, 3))


def test_16bit_input_to_8bit_format_maps_the_dtype_ranges(tmp_path):
    """Clipped, a uint16 image went white almost everywhere in an 8-bit
    format: its range now maps onto uint8's (65535 -> 255), and -v says so."""
    from scipy import ndimage

    ramp = np.linspace(0, 65535, 20 * 24).reshape(20, 24).round().astype(np.uint16)
    rgb = np.stack([ramp, ramp[::-1], 65535 - ramp], axis=-1)
    ic.write(tmp_path / "grey.tif", ramp)
    ic.write(tmp_path / "rgb.tif", rgb)

    def to_8bit(values):
        return np.clip(np.rint(values * (255 / 65535)), 0, 255)

    def check(got, expected):
        assert got.dtype == np.uint8
        np.testing.assert_allclose(got, expected, atol=1)  # float32 rounding at .5
        assert np.mean(got == expected) > 0.95

    box = ndimage.uniform_filter(ramp.astype(np.float64), 3, mode="mirror")
    result = run_cli("filter", tmp_path / "grey.tif", "-f", "box", "-o", tmp_path / "a.bmp", "-v")
    assert result.returncode == 0, result.stderr
    assert ("BMP holds uint8 here, not the input's uint16: values mapped by the dtype ranges "
            "(65535 -> 255)") in result.stderr
    check(ic.read(tmp_path / "a.bmp"), to_8bit(box))
    assert run_cli("filter", tmp_path / "rgb.tif", "-f", "box",
                   "-o", tmp_path / "c.png").returncode == 0
    check(ic.read(tmp_path / "c.png"),
          to_8bit(ndimage.uniform_filter(rgb.astype(np.float64), (3, 3, 1), mode="mirror")))
    assert run_cli("morph", "dilate", tmp_path / "grey.tif", "-o", tmp_path / "d.bmp").returncode == 0
    check(ic.read(tmp_path / "d.bmp"), to_8bit(ndimage.grey_dilation(ramp, size=3)))
    # --output-range still decides: clip keeps the values, which saturate
    result = run_cli("filter", tmp_path / "grey.tif", "-f", "box", "--output-range", "clip",
                     "-o", tmp_path / "clipped.bmp", "-v")
    assert result.returncode == 0 and "mapped" not in result.stderr
    np.testing.assert_array_equal(ic.read(tmp_path / "clipped.bmp"), np.clip(np.rint(box), 0, 255))


def test_depth_scale_with_each_output_range():
    from imgconv.cli import _arrays

    scale = _arrays.depth_scale(">u2", np.uint8)
    assert scale == 255 / 65535 and _arrays.depth_scale(np.uint8, np.uint16) is None
    assert _arrays.depth_scale(np.int16, np.uint8) is None  # signed: no range to map
    values = np.array([-65535.0, -257.0, 32896.0, 65535.0, 70000.0], np.float32)
    np.testing.assert_array_equal(_arrays.to_dtype(values, np.uint8, "clip", scale),
                                  [0, 0, 128, 255, 255])
    np.testing.assert_array_equal(_arrays.to_dtype(values, np.uint8, "abs", scale),
                                  [255, 1, 128, 255, 255])
    np.testing.assert_array_equal(_arrays.to_dtype(values, np.uint8, "rescale", scale),
                                  _arrays.to_dtype(values, np.uint8, "rescale"))


def test_dtype_option(tmp_path, shapes):
    vol = (np.random.default_rng(7).random((5, 6, 7)) * 1000 - 500).astype(np.float32)
    src = save_npy(tmp_path, "v.npy", vol)
    assert run_cli("filter", src, "-f", "box", "--dtype", "int16").returncode == 0
    got = np.load(tmp_path / "v_box.npy")
    assert got.dtype == np.int16  # clip by default for float formats: the library's dtype= rule
    np.testing.assert_array_equal(got, ic.box(vol, 3, dtype=np.int16))
    assert run_cli("filter", src, "-f", "box", "--dtype", "uint8", "--output-range", "rescale",
                   "-o", tmp_path / "r.npy").returncode == 0
    r = np.load(tmp_path / "r.npy")
    assert r.dtype == np.uint8 and r.min() == 0 and r.max() == 255
    assert run_cli("filter", shapes, "--dtype", "uint16", "-o", tmp_path / "u16.png").returncode == 0
    assert ic.read(tmp_path / "u16.png").dtype == np.uint16


def test_rgba_alpha_kept_unfiltered(tmp_path):
    rng = np.random.default_rng(8)
    rgba = rng.integers(0, 255, (16, 18, 4), endpoint=True).astype(np.uint8)
    src = tmp_path / "logo.png"
    ic.write(src, rgba)
    assert run_cli("filter", src, "-f", "gaussian:sigma=2").returncode == 0
    out = ic.read(tmp_path / "logo_gaussian.png")
    assert out.shape == (16, 18, 4)
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    want = np.clip(np.rint(ic.gaussian(rgba[..., :3], 2.0, channel_axis=-1)), 0, 255)
    np.testing.assert_array_equal(out[..., :3], want)
    # a stride samples the alpha where it samples the colours
    assert run_cli("filter", src, "--kernel", "1,1,1;1,1,1;1,1,1", "--normalize", "--stride", "2",
                   "-o", tmp_path / "small.png").returncode == 0
    small = ic.read(tmp_path / "small.png")
    assert small.shape == (8, 9, 4)
    np.testing.assert_array_equal(small[..., 3], rgba[::2, ::2, 3])
    grey_alpha = rgba[..., [0, 3]]
    ic.write(tmp_path / "la.png", grey_alpha)
    assert run_cli("filter", tmp_path / "la.png", "-f", "box").returncode == 0
    la = ic.read(tmp_path / "la_box.png")
    np.testing.assert_array_equal(la[..., 1], grey_alpha[..., 1])
    np.testing.assert_array_equal(la[..., 0], np.clip(np.rint(ic.box(grey_alpha[..., 0], 3)), 0, 255))


# ---------------------------------------------------------------------------
# volumes
# ---------------------------------------------------------------------------
def test_nifti_filtered_in_3d_keeps_header(volume, tmp_path):
    path, vol = volume
    result = run_cli("filter", path, "-f", "gaussian:sigma=2", "--physical")
    assert result.returncode == 0, result.stderr
    out = nib.load(tmp_path / "head_gaussian.nii.gz")
    src = nib.load(path)
    data = np.asanyarray(out.dataobj)
    assert data.dtype == np.float32 and out.get_data_dtype() == np.float32
    expected = ic.gaussian(vol, 2.0, spacing=(2.5, 0.7, 0.8))  # sigma in mm, array order
    np.testing.assert_array_equal(data.T, expected)
    np.testing.assert_allclose(out.affine, src.affine)
    assert out.header["qform_code"] == 1 and out.header["descrip"] == b"test scanner"
    assert out.header.get_xyzt_units()[0] == "mm"
    assert out.header["cal_max"] == 0  # the input's display window no longer fits


def test_slicewise_and_axes(volume, tmp_path):
    path, vol = volume
    assert run_cli("filter", path, "-f", "box:size=5", "--slicewise", "-o",
                   tmp_path / "s.npy").returncode == 0
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), ic.box(vol, 5, axes=(1, 2)))
    assert run_cli("filter", path, "-f", "box:size=5", "--axes", "0", "-o",
                   tmp_path / "a.npy").returncode == 0
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), ic.box(vol, 5, axes=(0,)))


def test_stride_on_a_volume_updates_spacing_and_affine(volume, tmp_path):
    path, vol = volume
    result = run_cli("filter", path, "--kernel", "1,1;1,1/1,1;1,1", "--padding", "valid",
                     "--stride", "2", "-o", tmp_path / "half.nii.gz")
    assert result.returncode == 0, result.stderr
    out, meta = ic.read(tmp_path / "half.nii.gz", with_meta=True)
    assert out.shape == (5, 6, 7)
    assert meta.spacing == (5.0, 1.4, 1.6)
    # output voxel 0 is the centre of input voxels 0..1 on every axis
    src = nib.load(path)
    np.testing.assert_allclose(meta.affine[:3, 3], src.affine[:3, :3] @ [0.5, 0.5, 0.5]
                               + src.affine[:3, 3])


def test_tiff_stack_is_a_volume(tmp_path):
    vol = np.random.default_rng(9).random((4, 10, 11)).astype(np.float32)
    src = tmp_path / "stack.tif"
    ic.write(src, vol, meta=ic.ImageMeta(spacing=(3.0, 1.0, 1.0), unit="um"))
    assert run_cli("filter", src, "-f", "gaussian:sigma=3", "--physical").returncode == 0
    out, meta = ic.read(tmp_path / "stack_gaussian.tif", with_meta=True)
    np.testing.assert_array_equal(out, ic.gaussian(vol, 3.0, spacing=(3.0, 1.0, 1.0)))
    assert meta.spacing == (3.0, 1.0, 1.0) and meta.unit == "um"


# ---------------------------------------------------------------------------
# batches
# ---------------------------------------------------------------------------
def _tree(tmp_path):
    data = tmp_path / "data"
    rng = np.random.default_rng(10)
    for rel in ("a/one.png", "a/two.png", "b/c/three.png"):
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        ic.write(data / rel, rng.integers(0, 255, (8, 9), endpoint=True).astype(np.uint8))
    (data / "a" / "notes.txt").write_text("not an image")
    return data


def test_batch_glob_keeps_folder_tree_under_outdir(tmp_path):
    data = _tree(tmp_path)
    result = run_cli("filter", str(data / "**" / "*.png"), "--outdir", tmp_path / "out",
                     "-f", "box", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert listing(tmp_path / "out") == ["a/one_box.png", "a/two_box.png", "b/c/three_box.png"]
    assert "3 written, 0 skipped (existing output), 0 failed" in result.stderr
    assert len(result.stdout.splitlines()) == 3
    np.testing.assert_array_equal(
        ic.read(tmp_path / "out" / "b" / "c" / "three_box.png"),
        np.clip(np.rint(ic.box(ic.read(data / "b" / "c" / "three.png"), 3)), 0, 255))
    # several plain paths: the tree below their common folder
    result = run_cli("filter", data / "a" / "one.png", data / "b" / "c" / "three.png",
                     "--outdir", tmp_path / "out2")
    assert result.returncode == 0, result.stderr
    assert listing(tmp_path / "out2") == ["a/one_gaussian.png", "b/c/three_gaussian.png"]


def test_batch_goes_on_past_failures_and_skips_existing(tmp_path):
    data = _tree(tmp_path)
    (data / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    files = [data / "a" / "one.png", data / "a" / "broken.png", data / "a" / "two.png"]
    result = run_cli("filter", *files, "-f", "box")
    assert result.returncode == 1
    assert "2 written, 0 skipped (existing output), 1 failed" in result.stderr
    assert f"imgconv: error: {data / 'a' / 'broken.png'}: cannot read image" in result.stderr
    assert (data / "a" / "one_box.png").exists() and (data / "a" / "two_box.png").exists()
    assert not (data / "a" / "broken_box.png").exists()
    again = run_cli("filter", files[0], files[2], "-f", "box")
    assert again.returncode == 0
    assert "0 written, 2 skipped (existing output), 0 failed" in again.stderr
    assert f"imgconv: skipped {data / 'a' / 'one_box.png'}: already exists" in again.stderr
    quiet = run_cli("filter", files[0], files[2], "-f", "box", "--overwrite", "-q")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""


def test_batch_skips_an_output_that_is_another_input(tmp_path):
    """A glob run twice, writing beside its inputs, finds the first run's
    results among its inputs: their outputs exist, so they are skipped, as
    any existing output, not failed."""
    data = _tree(tmp_path)
    pattern = str(data / "**" / "*.png")
    first = run_cli("filter", pattern, "-f", "box")
    assert first.returncode == 0, first.stderr
    results = {name: (data / name).read_bytes() for name in listing(data) if "_box" in name}
    assert len(results) == 3
    again = run_cli("filter", pattern, "-f", "box")
    assert again.returncode == 0, again.stderr
    assert "3 skipped (existing output), 0 failed" in again.stderr
    assert (f"imgconv: skipped {data / 'a' / 'one_box.png'}: already exists (it is "
            "also an input)") in again.stderr
    assert "error" not in again.stderr
    for name, content in results.items():
        assert (data / name).read_bytes() == content


def test_batch_outdir_inside_the_searched_tree_holds_no_inputs(tmp_path):
    """--outdir inside the folder a glob searches: what lies there is results,
    so a second run finds the same three inputs (not out/a/one_box.png as a
    fourth, giving out/out/a/one_box_box.png); a file named on its own is an
    input wherever it lies."""
    data = _tree(tmp_path)
    out = data / "out"
    first = run_cli("filter", "data/**/*.png", "--outdir", "data/out", "-f", "box", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    expected = ["a/one_box.png", "a/two_box.png", "b/c/three_box.png"]
    assert listing(out) == expected
    assert "left out" not in first.stderr
    results = {name: (out / name).read_bytes() for name in expected}
    # the same folder spelt otherwise: absolute, through a symbolic link
    (tmp_path / "link").symlink_to(out, target_is_directory=True)
    for outdir in (out, tmp_path / "link"):
        again = run_cli("filter", data / "**" / "*.png", "--outdir", outdir, "-f", "box")
        assert again.returncode == 0, again.stderr
        assert "0 written, 3 skipped (existing output), 0 failed" in again.stderr
        assert (f"imgconv: left out 3 files the patterns match in --outdir {outdir}: "
                "results, not inputs") in again.stderr
        assert listing(out) == expected
    forced = run_cli("filter", data / "**" / "*.png", "--outdir", out, "-f", "box",
                     "--overwrite", "-q")
    assert (forced.returncode, forced.stdout, forced.stderr) == (0, "", "")
    assert {name: (out / name).read_bytes() for name in listing(out)} == results
    named = run_cli("filter", data / "**" / "*.png", out / "a" / "one_box.png", "--outdir", out,
                    "-f", "box")
    assert named.returncode == 0, named.stderr
    assert named.stdout == f"{out / 'out' / 'a' / 'one_box_box.png'}\n"
    assert "left out 2 files" in named.stderr
    assert "1 written, 3 skipped (existing output), 0 failed" in named.stderr
    only_results = run_cli("filter", out / "**" / "*.png", "--outdir", out)
    assert_error(only_results, 1, f"{out / '**' / '*.png'}: matches only files in --outdir "
                                  f"{out}, which holds results, not inputs")


def test_batch_never_overwrites_another_input(tmp_path):
    data = _tree(tmp_path)
    one = data / "a" / "one.png"
    shutil.copy(one, data / "a" / "one_box.png")
    before = (data / "a" / "one_box.png").read_bytes()
    result = run_cli("filter", one, data / "a" / "one_box.png", "-f", "box", "--overwrite")
    assert result.returncode == 1 and "refusing to overwrite an input" in result.stderr
    assert (data / "a" / "one_box.png").read_bytes() == before
    assert (data / "a" / "one_box_box.png").exists()


@pytest.mark.parametrize("outdir", ["taken.png", "taken.png/sub"])
def test_outdir_that_is_a_file_is_refused_up_front(tmp_path, outdir):
    """Each input used to be filtered before makedirs failed with 'File exists'."""
    for name in ("a.png", "b.png"):
        shutil.copy(os.path.join(SAMPLES, "shapes.png"), tmp_path / name)
    (tmp_path / "taken.png").write_bytes(b"a file")
    result = run_cli("filter", tmp_path / "a.png", tmp_path / "b.png", "-v", "--outdir",
                     tmp_path / outdir)
    where = "" if outdir == "taken.png" else f" {tmp_path / 'taken.png'}"
    assert_error(result, 1, f"--outdir {tmp_path / outdir}:{where} exists and is not a folder")
    assert "read" not in result.stderr  # no input was read
    assert (tmp_path / "taken.png").read_bytes() == b"a file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "taken.png"]


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("args,message", [
    (["filter", "missing.png"], "missing.png: no such file"),
    (["filter", "{tmp}"], "is a directory"),
    (["filter", "{tmp}/notes.txt"], "unsupported file type '.txt'"),
    (["filter", "{tmp}/broken.png"], "broken.png: cannot read image"),
    (["filter", "{tmp}/*.tif"], "matches no image files"),
    (["filter", "{shapes}", "-f", "blur"], "-f blur: unknown filter 'blur'"),
    (["filter", "{shapes}", "-f", "gaussian:diameter=3"], "unknown parameter 'diameter=3'"),
    (["filter", "{shapes}", "-f", "gaussian:sigma=big"], "sigma must be float"),
    (["filter", "{shapes}", "-f", "gaussian:sigma=-1"], "sigma must be >= 0"),
    (["filter", "{shapes}", "-f", "sobel:axis=2"], "axis=2 is out of range"),
    (["filter", "{shapes}", "-f", "gradient_magnitude:operator=canny"],
     "operator must be sobel|prewitt|scharr"),
    (["filter", "{shapes}", "--kernel", "1,2;3"], "same length"),
    (["filter", "{shapes}", "--kernel", "1,a,1"], "not a file"),
    (["filter", "{shapes}", "--kernel", "{tmp}/none.npy"], "no such kernel file"),
    (["filter", "{shapes}", "--kernel", "1,1,1;1,1,1;1,1,1/1,1,1;1,1,1;1,1,1"],
     "kernel has 3 dimensions but the input has 2"),
    (["filter", "{shapes}", "-f", "correlate"], "needs a kernel"),
    (["filter", "{shapes}", "--kernel", "1,1", "-f", "box"], "--kernel applies to"),
    (["filter", "{shapes}", "--stride", "2"], "--stride applies to"),
    (["filter", "{shapes}", "--normalize"], "--normalize applies to custom kernels"),
    (["filter", "{shapes}", "-f", "box", "--physical"], "--physical applies to gaussian"),
    # cval pads mode zero only (and every step's mode defaults to reflect)
    (["filter", "{shapes}", "--cval", "2"],
     ("--cval applies with mode zero", "add --mode zero, or mode=zero to a step")),
    (["filter", "{shapes}", "--cval", "0", "-f", "sobel"], "--cval applies with mode zero"),
    (["filter", "{shapes}", "--cval", "2", "--mode", "zero", "-f", "sobel:mode=wrap"],
     "--cval applies with mode zero"),
    (["filter", "{shapes}", "-f", "sobel:cval=2"],
     "-f sobel:cval=2: cval applies with mode zero, and this step's mode is reflect"),
    (["filter", "{shapes}", "--mode", "wrap", "-f", "gaussian:mode=zero", "-f", "box:cval=1"],
     "-f box:cval=1: cval applies with mode zero, and this step's mode is wrap"),
    (["filter", "{shapes}", "--cval", "1", "--kernel", "1,1", "-f", "correlate:mode=zero",
      "-f", "convolve:cval=0,mode=mirror"], "this step's mode is mirror"),
    (["morph", "erode", "{shapes}", "--cval", "5"],
     "--cval applies with --mode zero (without --mode, morph pads with the value that never wins)"),
    (["morph", "dilate", "{shapes}", "--cval", "0", "--mode", "reflect"],
     "--cval applies with --mode zero, not --mode reflect"),
    (["filter", "{tmp}/vol.npy", "--physical"], "needs the voxel spacing"),
    (["filter", "{shapes}", "--slicewise"], "--slicewise needs a volume"),
    (["filter", "{shapes}", "--axes", "5"], "--axes: axes=(5,) is out of range"),
    (["filter", "{shapes}", "--axes", "0", "--kernel", "1,2,1", "-f", "correlate1d"],
     "--axes/--slicewise do not apply to correlate1d"),
    (["filter", "{tmp}/vol4d.npy"], "has 4 axes besides channels; filters take 1 to 3 spatial"),
    (["filter", "{shapes}", "-o", "{tmp}/out.xyz"], "unsupported file type"),
    (["filter", "{shapes}", "-o", "{tmp}/nowhere/out.png"], "does not exist"),
    (["filter", "{shapes}", "-o", "{tmp}/out.npy", "--output-range", "abs"],
     "--output-range applies to integer outputs"),
    (["filter", "{shapes}", "-o", "{tmp}/out.png", "--dtype", "float32"],
     "PNG cannot hold a float32"),
    (["filter", "{shapes}", "-o", "{tmp}/out.nii.gz", "--kernel", "1,1", "-f",
      "correlate1d:axis=3"], "axis"),
    (["filter", "{shapes}", "-f", "sepfilter", "--kernel", "1,2,1;1,1,1;1,0,1"], "3 kernel rows"),
    (["pool", "{shapes}", "--size", "2", "--p", "3"], "--p applies to --op lp only"),
    (["morph", "dilate", "{shapes}", "--footprint", "ball:2"], "a ball is 3D"),
    (["morph", "dilate", "{shapes}", "--footprint", "disk:2", "--size", "3"], "use one"),
    (["morph", "dilate", "{shapes}", "--footprint", "1,2;0,1"], "holds 0 and 1 only"),
    (["morph", "dilate", "{shapes}", "--footprint", "star:3"], "not a file"),
    (["info", "{tmp}/missing.nii.gz"], "no such file"),
    # strict specs: an empty field or a Python-only number is a typo, not a value
    (["filter", "{shapes}", "--kernel", "1,,2"], "--kernel '1,,2': empty value"),
    (["filter", "{shapes}", "--kernel", "1,2;3,4;"], "--kernel '1,2;3,4;': empty row"),
    (["filter", "{shapes}", "--kernel", "1_0,2"], "'1_0' is not a number"),
    (["morph", "dilate", "{shapes}", "--footprint", "1,,1"], "--footprint '1,,1': empty value"),
    (["morph", "dilate", "{shapes}", "--footprint", "box:1_0"], "the size must be an int"),
    (["filter", "{shapes}", "-f", "gaussian:sigma=1_0"], "sigma must be float"),
    (["filter", "{shapes}", "-f", "gaussian:sigma=2x1_0"], "sigma must be float"),
    (["filter", "{shapes}", "-f", "sobel:axis=1_0"], "axis must be int"),
    (["filter", "{shapes}", "-f", "gaussian:sigma=2,,,,truncate=3,,"],
     "-f gaussian:sigma=2,,,,truncate=3,,: empty parameter"),
    (["filter", "{shapes}", "-f", "gaussian:sigma=2,"], "empty parameter"),
    (["filter", "{shapes}", "-f", "gaussian:2"], "'2' is not k=v"),
    (["filter", "{shapes}", "-f", "correlate:kernel=1,2,1"],
     ("',' separates parameters", "--kernel", "correlate:kernel=1 2 1")),
    # an output that is a directory fails before any work, with or without --overwrite
    (["filter", "{shapes}", "-o", "{tmp}/dir.png"], "dir.png: is a directory"),
    (["filter", "{shapes}", "-o", "{tmp}/dir.png", "--overwrite", "-v"], "dir.png: is a directory"),
    # huge footprints: a quick, clear error instead of gigabytes
    (["morph", "dilate", "{shapes}", "--footprint", "disk:20000"],
     ("--footprint disk:20000: a 40001x40001 footprint", "box:N")),
    (["morph", "dilate", "{tmp}/vol.npy", "--footprint", "ball:134217728"],
     "--footprint ball:134217728:"),
    (["morph", "dilate", "{shapes}", "--footprint", "cross:134217727"],
     "--footprint cross:134217727:"),
    (["morph", "dilate", "{shapes}", "--footprint", "box:300000000"],
     "--footprint box:300000000: size must be at most 2**28"),
])
def test_user_errors_are_one_line_exit_1(shapes, tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("text")
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "broken.png").write_bytes(b"garbage")
    np.save(tmp_path / "vol.npy", np.zeros((3, 4, 5), np.float32))
    np.save(tmp_path / "vol4d.npy", np.zeros((2, 3, 4, 5), np.float32))
    before = listing(tmp_path)
    args = [a.format(shapes=shapes, tmp=tmp_path) for a in args]
    result = run_cli(*args, cwd=tmp_path)
    assert_error(result, 1, *(message if isinstance(message, tuple) else (message,)))
    assert listing(tmp_path) == before  # nothing written


@pytest.mark.parametrize("args,message", [
    (["filter", "{shapes}", "{shapes}2", "-o", "{tmp}/o.png"], "-o names one output"),
    (["filter", "{shapes}", "-o", "{tmp}/o.png", "--outdir", "{tmp}"], "not allowed with"),
    (["filter", "{shapes}", "--threads", "0"], "positive integer"),
    (["filter", "{shapes}", "--threads", "1_0"], "positive integer"),
    (["filter", "{shapes}", "--stride", "1_0"], "--stride"),
    (["filter", "{shapes}", "--mode", "bounce"], "expected one of reflect, mirror"),
    (["filter", "{shapes}", "--stride", "two"], "--stride"),
    (["filter", "{shapes}", "--axes", "1", "--slicewise"], "not allowed with"),
    (["filter"], "required"),
    (["bogus"], "invalid choice"),
    (["pool", "{shapes}"], "--size"),
    (["pool", "{shapes}", "--size", "2", "--cval", "1"], "unrecognized arguments: --cval"),
    (["morph", "shrink", "{shapes}"], "invalid choice"),
])
def test_usage_errors_exit_2(shapes, tmp_path, args, message):
    shutil.copy(shapes, f"{shapes}2.png")
    args = [a.format(shapes=shapes, tmp=tmp_path) for a in args]
    if args[:2] == ["filter", str(shapes)] and args[2] == f"{shapes}2":
        args[2] = f"{shapes}2.png"
    result = run_cli(*args)
    assert_error(result, 2, message)
    assert "usage:" in result.stderr
    assert not (tmp_path / "o.png").exists()


def test_never_overwrites_without_flag(shapes):
    out = shapes.with_name("out.png")
    out.write_bytes(b"keep me")
    result = run_cli("filter", shapes, "-o", out)
    assert_error(result, 1, "already exists (use --overwrite")
    assert out.read_bytes() == b"keep me"
    assert run_cli("filter", shapes, "-o", out, "--overwrite").returncode == 0
    assert ic.read(out).shape == (256, 256)


def test_refuses_to_overwrite_input(shapes):
    before = shapes.read_bytes()
    result = run_cli("filter", shapes, "-o", shapes, "--overwrite")
    assert_error(result, 1, "refusing to overwrite an input")
    assert shapes.read_bytes() == before


def test_missing_nibabel_names_the_extra(volume, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "nibabel.py").write_text("raise ImportError('nibabel is not installed here')\n")
    path, _ = volume
    result = run_cli("filter", path, extra_path=str(blocker))
    assert_error(result, 1, "pip install 'imgconv[medical]'")


def test_debug_shows_the_traceback(tmp_path):
    result = run_cli("filter", tmp_path / "missing.png", "--debug")
    assert result.returncode == 1 and "Traceback" in result.stderr
    assert "FileNotFoundError" in result.stderr


def _misbehaving_temp_files(behaviour):
    """Code that makes the writes to imgconv's hidden temporary outputs
    ('.NAME.HEX.tmpEXT') misbehave after a few bytes: 'full' raises ENOSPC (a
    full disk); 'stall' prints STALLED and sleeps (a long write, to be killed).
    It patches builtins.open, which Pillow and imgconv's own writers both use,
    so it holds whichever of them writes the bytes."""
    return f"""
        import builtins, errno, os, sys, time
        real_open = builtins.open

        class Misbehaving:
            def __init__(self, f):
                self.f = f
            def write(self, data):
                self.f.write(bytes(data)[:5])
                self.f.flush()
                if {behaviour!r} == "full":
                    raise OSError(errno.ENOSPC, "No space left on device")
                print("STALLED", flush=True)
                time.sleep(60)
            def __getattr__(self, name):
                return getattr(self.f, name)
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                self.f.close()

        def patched_open(file, mode="r", *args, **kwargs):
            f = real_open(file, mode, *args, **kwargs)
            name = os.path.basename(str(file)) if isinstance(file, (str, os.PathLike)) else ""
            return Misbehaving(f) if "w" in mode and ".tmp" in name else f

        builtins.open = patched_open
    """


def test_failed_write_leaves_no_partial_file(shapes, tmp_path):
    """A writer that dies half-way (disk full) leaves neither output nor temp file."""
    code = _misbehaving_temp_files("full") + f"""
        from imgconv.cli import main
        sys.exit(main(["filter", {str(shapes)!r}, "-f", "box"]))
    """
    before = listing(tmp_path)
    result = run_python(code, cwd=tmp_path)
    assert_error(result, 1, "No space left on device")
    assert listing(tmp_path) == before
    assert not any(name.startswith(".") for name in os.listdir(tmp_path))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_mid_write_leaves_no_temp_file(shapes, tmp_path):
    """kill, timeout and batch schedulers stop with SIGTERM: the same clean-up
    as Ctrl-C (the temporary output is deleted), exit status 128 + 15."""
    import signal

    code = _misbehaving_temp_files("stall") + f"""
        from imgconv.cli import main
        sys.exit(main(["filter", {str(shapes)!r}, "-f", "box", "-o", "out.png"]))
    """
    before = listing(tmp_path)
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path,
                               env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout.readline().strip() == "STALLED"
        assert any(".tmp" in name for name in os.listdir(tmp_path))  # half-written
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert stderr.strip() == "imgconv: terminated (SIGTERM)"
    assert listing(tmp_path) == before
    assert not any(name.startswith(".") for name in os.listdir(tmp_path))


# ---------------------------------------------------------------------------
# progress bar and verbose output
# ---------------------------------------------------------------------------
def _run_with_tty_stderr(args, cwd):
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    # a terminal of 24 x 80 (a fresh pty has size 0, where tqdm draws nothing)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen([*_command(), *map(str, args)], stdout=subprocess.PIPE,
                               stderr=slave, cwd=cwd, env=_env())
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    process.communicate(timeout=120)
    os.close(master)
    return process.returncode, b"".join(chunks).decode(errors="replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_progress_bar_only_on_a_terminal(tmp_path):
    vols = [save_npy(tmp_path, f"v{i}.npy", np.ones((6, 7, 8), np.float32)) for i in range(2)]
    piped = run_cli("filter", *vols, "-f", "box", "-f", "gaussian")
    assert piped.returncode == 0
    assert "step" not in piped.stderr and "\r" not in piped.stderr and "%|" not in piped.stderr
    status, terminal = _run_with_tty_stderr(["filter", *vols, "-f", "box", "-f", "gaussian",
                                             "--overwrite"], tmp_path)
    assert status == 0
    assert "%|" in terminal and "step" in terminal  # tqdm drew its bar
    status, quiet = _run_with_tty_stderr(["filter", *vols, "--overwrite", "-q"], tmp_path)
    assert status == 0 and "%|" not in quiet


def test_verbose_prints_method_and_time(tmp_path, shapes):
    result = run_cli("filter", shapes, "--kernel", "1,2,1;2,4,2;1,2,1", "-f", "kernel", "-f",
                     "box", "-v")
    assert result.returncode == 0
    assert re.search(r"kernel: method (direct|separable|fft) \(chosen by cost\)", result.stderr)
    assert "box: running sums" in result.stderr
    assert " ms" in result.stderr and "threads" in result.stderr
    forced = run_cli("filter", shapes, "--kernel", "1,2,1;2,4,2;1,2,1", "-f",
                     "kernel:method=fft", "-v", "--overwrite")
    assert "method fft" in forced.stderr


# ---------------------------------------------------------------------------
# pool, morph, info
# ---------------------------------------------------------------------------
def test_pool(shapes, volume, tmp_path):
    assert run_cli("pool", shapes, "--size", "2").returncode == 0
    np.testing.assert_array_equal(ic.read(tmp_path / "shapes_maxpool.png"),
                                  ic.pool(ic.read(shapes), 2))
    path, vol = volume
    result = run_cli("pool", path, "--size", "3", "--stride", "2", "--padding", "1", "--op",
                     "avg", "--exclude-pad", "--mode", "zero")
    assert result.returncode == 0, result.stderr
    out, meta = ic.read(tmp_path / "head_avgpool.nii.gz", with_meta=True)
    np.testing.assert_array_equal(out, ic.pool(vol, 3, stride=2, padding=1, op="avg",
                                               count_include_pad=False))
    assert meta.spacing == (5.0, 1.4, 1.6)
    assert run_cli("pool", path, "--size", "2x1x1", "--op", "lp", "--p", "3",
                   "-o", tmp_path / "lp.npy").returncode == 0
    np.testing.assert_allclose(np.load(tmp_path / "lp.npy"),
                               ic.pool(vol, (2, 1, 1), op="lp", p=3), rtol=1e-6)


@pytest.mark.parametrize("op,function", [("dilate", "dilate"), ("erode", "erode"),
                                         ("open", "opening"), ("close", "closing"),
                                         ("gradient", "morph_gradient"), ("tophat", "tophat"),
                                         ("blackhat", "blackhat")])
def test_morph_ops(shapes, tmp_path, op, function):
    result = run_cli("morph", op, shapes, "--footprint", "disk:2")
    assert result.returncode == 0, result.stderr
    want = getattr(ic, function)(ic.read(shapes), ic.footprints.disk(2))
    np.testing.assert_array_equal(ic.read(tmp_path / f"shapes_{op}.png"), want)


def test_morph_footprints(volume, shapes, tmp_path):
    path, vol = volume
    image = ic.read(shapes)
    cases = [(["--footprint", "ball:1"], path, lambda: ic.erode(vol, ic.footprints.ball(1))),
             (["--footprint", "box:3x1x5"], path, lambda: ic.erode(vol, np.ones((3, 1, 5), bool))),
             (["--footprint", "cross:1"], path, lambda: ic.erode(vol, ic.footprints.cross(3))),
             (["--size", "5"], shapes, lambda: ic.erode(image, size=5)),
             (["--footprint", "disk:1", "--slicewise"], path,
              lambda: ic.erode(vol, ic.footprints.disk(1), axes=(1, 2))),
             (["--footprint", "0,1,0;1,1,1;0,1,0", "--mode", "zero", "--cval", "7"], shapes,
              lambda: ic.erode(image, ic.footprints.cross(2), mode="zero", cval=7))]
    np.save(tmp_path / "fp.npy", ic.footprints.ball(1))
    cases.append((["--footprint", str(tmp_path / "fp.npy")], path,
                  lambda: ic.erode(vol, ic.footprints.ball(1))))
    for i, (args, src, expected) in enumerate(cases):
        out = tmp_path / f"m{i}.npy"
        result = run_cli("morph", "erode", src, *args, "-o", out)
        assert result.returncode == 0, (args, result.stderr)
        np.testing.assert_array_equal(np.load(out), expected())


def test_morph_box_footprint_builds_no_array(shapes, tmp_path):
    """box:N runs the library's O(1)-per-pixel box (size=), whatever N: no
    N x N array (box:99999 once built 10 GB)."""
    code = f"""
        import sys
        import imgconv.footprints

        def no_box(*args, **kwargs):
            raise AssertionError("a dense box footprint was built")
        imgconv.footprints.box = no_box
        from imgconv.cli import main
        sys.exit(main(["morph", "dilate", "--footprint", "box:99999", {str(shapes)!r},
                       "-o", "big.npy"]))
    """
    result = run_python(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    image = ic.read(shapes)
    np.testing.assert_array_equal(np.load(tmp_path / "big.npy"), ic.dilate(image, size=99999))
    assert run_cli("morph", "erode", shapes, "--footprint", "box:5x3", "-o",
                   tmp_path / "rect.npy").returncode == 0
    np.testing.assert_array_equal(np.load(tmp_path / "rect.npy"),
                                  ic.erode(image, np.ones((5, 3), bool)))


def test_info_goes_on_past_unreadable_files(shapes, tmp_path):
    """Each file that cannot be read is one error line naming it, whatever
    the reader raised; the others are still described; exit status 1."""
    (tmp_path / "broken.png").write_bytes(b"garbage")
    result = run_cli("info", "broken.png", "missing.png", shapes, cwd=tmp_path)
    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2 and "Traceback" not in result.stderr
    assert errors[0].startswith("imgconv: error: broken.png: ")
    assert errors[1] == "imgconv: error: missing.png: no such file"
    assert f"{shapes}:" in result.stdout and "(256, 256)" in result.stdout
    # an error type the CLI does not expect (Pillow's DecompressionBombError on a
    # huge PNG) is no different
    code = f"""
        import sys
        import imgconv
        from PIL import Image
        read = imgconv.read

        def bomb_for_big(path, **kwargs):
            if "big" in str(path):
                raise Image.DecompressionBombError("Image size (196000000 pixels) exceeds limit")
            return read(path, **kwargs)
        imgconv.read = bomb_for_big
        from imgconv.cli import main
        sys.exit(main(["info", "--json", "big.png", {str(shapes)!r}]))
    """
    result = run_python(code, cwd=tmp_path)
    assert_error(result, 1, "imgconv: error: big.png: Image size (196000000 pixels)")
    assert json.loads(result.stdout)["shape"] == [256, 256]


def test_info_json_is_strict_json(tmp_path):
    """NaN or infinite numbers (a NIfTI pixdim of NaN) are null, not bare NaN."""
    img = nib.Nifti1Image(np.ones((4, 5, 6), np.float32), np.eye(4))
    img.header["pixdim"][2] = np.nan
    nib.save(img, tmp_path / "nan.nii.gz")
    result = run_cli("info", "--json", tmp_path / "nan.nii.gz")
    assert result.returncode == 0, result.stderr

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")
    facts = json.loads(result.stdout, parse_constant=refuse)
    assert [s["size"] for s in facts["spacing"]] == [1.0, None, 1.0]
    text = run_cli("info", tmp_path / "nan.nii.gz")
    assert text.returncode == 0 and "axis 1 = j (A): nan" in text.stdout


def test_info(volume, shapes):
    path, vol = volume
    result = run_cli("info", path, shapes)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "(10, 12, 14)" in text and "int16" in text
    assert "axis 0 = k (S): 2.5 mm; axis 1 = j (A): 0.7 mm; axis 2 = i (R): 0.8 mm" in text
    assert "orientation  RAS" in text
    assert f"{vol.min()} .. {vol.max()}" in text
    assert "(256, 256)" in text and "spacing  not stored" in text
    facts = json.loads(run_cli("info", "--json", path).stdout)
    assert facts["shape"] == [10, 12, 14] and facts["dtype"] == "int16"
    assert [s["size"] for s in facts["spacing"]] == pytest.approx([2.5, 0.7, 0.8])
    assert facts["min"] == vol.min() and facts["max"] == vol.max()


def _fmri(path, dtype="<i2"):
    """A 4D NIfTI series: 3 volumes of 4 x 5 x 6 voxels (2 x 2 x 3 mm), one
    every 2000 ms, stored in ``dtype`` (its byte order too)."""
    header = nib.Nifti1Header(endianness=np.dtype(dtype).byteorder.replace("=", "<"))
    data = np.arange(4 * 5 * 6 * 3).reshape(4, 5, 6, 3).astype(dtype)
    img = nib.Nifti1Image(data, np.diag([2.0, 2.0, 3.0, 1.0]), header=header)
    img.set_data_dtype(dtype)
    img.header.set_xyzt_units("mm", "msec")
    img.header.set_zooms((2, 2, 3, 2000))
    nib.save(img, path)
    return data.T


def test_info_on_a_4d_nifti_gives_each_axis_its_unit(tmp_path):
    series = _fmri(tmp_path / "fmri.nii", ">i2")
    result = run_cli("info", tmp_path / "fmri.nii")
    assert result.returncode == 0, result.stderr
    assert ("spacing  axis 0 = t: 2000 msec; axis 1 = k (S): 3 mm; axis 2 = j (A): 2 mm; "
            "axis 3 = i (R): 2 mm") in result.stdout
    assert "dtype    int16 (big-endian)\n" in result.stdout and ">i2" not in result.stdout
    facts = json.loads(run_cli("info", "--json", tmp_path / "fmri.nii").stdout)
    assert [(s["label"], s["size"], s["unit"]) for s in facts["spacing"]] == [
        ("t", 2000.0, "msec"), ("k (S)", 3.0, "mm"), ("j (A)", 2.0, "mm"), ("i (R)", 2.0, "mm")]
    assert facts["shape"] == list(series.shape) and facts["max"] == series.max()
    # filtering it needs --axes: the time axis is not called spatial
    result = run_cli("filter", tmp_path / "fmri.nii", "-o", tmp_path / "out.nii")
    assert_error(result, 1, "fmri.nii: shape (3, 6, 5, 4) has 4 axes besides channels (t, k (S), "
                 "j (A), i (R)); filters take 1 to 3 spatial axes")
    result = run_cli("filter", tmp_path / "fmri.nii", "--axes", "1,2,3", "-v",
                     "-o", tmp_path / "out.nii")
    assert result.returncode == 0, result.stderr
    assert "read nifti int16 (big-endian) (3, 6, 5, 4)" in result.stderr
    assert "2000 msec" in run_cli("info", tmp_path / "out.nii").stdout


def test_format_error_names_the_result_and_its_conversion(tmp_path):
    """PNG's message names the uint8 array it was given; the user has a float32
    result of an int16 input, so the command says where the uint8 came from."""
    _fmri(tmp_path / "fmri.nii")
    result = run_cli("filter", tmp_path / "fmri.nii", "--axes", "1,2,3", "-o", tmp_path / "o.png")
    assert_error(result, 1, "o.png: PNG cannot hold a uint8 array of shape (3, 6, 5, 4)",
                 "the result is float32 (from the int16 input), converted to uint8 for PNG")
    assert not (tmp_path / "o.png").exists()


def test_big_endian_uint16_keeps_16_bits_in_png(tmp_path):
    image = np.random.default_rng(9).integers(0, 65536, (20, 24)).astype(">u2")
    np.save(tmp_path / "be.npy", image)
    result = run_cli("morph", "dilate", tmp_path / "be.npy", "-o", tmp_path / "d.png", "-v")
    assert result.returncode == 0, result.stderr
    assert "read npy uint16 (big-endian) (20, 24)" in result.stderr and "mapped" not in result.stderr
    from scipy import ndimage
    got = ic.read(tmp_path / "d.png")
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, ndimage.grey_dilation(image.astype(np.uint16), size=3))


# ---------------------------------------------------------------------------
# a reader that stops early (| head -1)
# ---------------------------------------------------------------------------
READER_GONE = 141  # 128 + SIGPIPE, as the shell reports for cat or yes there


def _first_line_then_close(args, cwd):
    """Run the command into a pipe, read one line and close the pipe, as
    ``| head -1`` does; (that line, exit status, stderr)."""
    process = subprocess.Popen([*_command(), *map(str, args)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=cwd, env=_env(), text=True)
    try:
        line = process.stdout.readline()
        process.stdout.close()
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    return line, process.returncode, stderr


def _into_a_pipe_nobody_reads(args, cwd):
    """Run the command with stdout a pipe whose reader has already gone (an
    output smaller than a pipe's buffer would otherwise all fit in before
    any reader could leave)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([*_command(), *map(str, args)], stdout=write_end,
                              stderr=subprocess.PIPE, cwd=cwd, env=_env(), text=True,
                              timeout=120)
    finally:
        os.close(write_end)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_info_into_head_stops_quietly(tmp_path):
    # 300 descriptions (about 60 kB) outgrow the pipe: the writer meets the closed end
    save_npy(tmp_path, "a.npy", np.arange(20, dtype=np.float32).reshape(4, 5))
    line, status, stderr = _first_line_then_close(["info", *["a.npy"] * 300], tmp_path)
    assert line == "a.npy:\n"
    assert (status, stderr) == (READER_GONE, "")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
@pytest.mark.parametrize("args", [["filters"], ["info", "shapes.png"],
                                  ["info", "--json", "shapes.png", "shapes.png"]])
def test_listings_into_a_closed_pipe_stop_quietly(shapes, args):
    result = _into_a_pipe_nobody_reads(args, shapes.parent)
    assert (result.returncode, result.stderr) == (READER_GONE, "")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_batch_into_a_closed_pipe_stops_after_the_file_written(tmp_path):
    """The batch stops as a tool killed by SIGPIPE would: the first result is
    complete (its path could not be listed), no file is counted failed, and
    no temporary file is left."""
    data = _tree(tmp_path)
    result = _into_a_pipe_nobody_reads(["filter", "data/**/*.png", "--outdir", "out",
                                        "-f", "box"], tmp_path)
    assert (result.returncode, result.stderr) == (READER_GONE, "")
    assert listing(tmp_path / "out") == ["a/one_box.png"]
    np.testing.assert_array_equal(
        ic.read(tmp_path / "out" / "a" / "one_box.png"),
        np.clip(np.rint(ic.box(ic.read(data / "a" / "one.png"), 3)), 0, 255))
    assert not any(name.startswith(".") for name in os.listdir(tmp_path / "out" / "a"))


def test_readme_first_command_from_a_copy_of_samples(tmp_path):
    """`imgconv filter samples/shapes.png`, run where samples/ is a copy."""
    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("*_gaussian*"))
    result = run_cli("filter", "samples/shapes.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "samples" / "shapes_gaussian.png").exists()

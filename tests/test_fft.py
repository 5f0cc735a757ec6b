"""The FFT method (imgconv._fft) against the direct kernel."""
import builtins
import os
import sys

import numpy as np
import pytest

import imgconv as ic
from imgconv import _fft
from imgconv import _cpu
from imgconv._backend import store
from imgconv import _validate as v
from reference import cval_for

MODES = ["zero", "replicate", "reflect", "symmetric", "wrap"]


def run_both(x, w, *, mode="reflect", cval=0.0, padding="same", stride=1, dilation=1,
             channel_axis=None, dtype=None, out_layout=None, threads=2):
    """(fft result, direct result, tolerance) for the same arguments."""
    x = _cpu.as_input_array(x)
    axes, channel_axis = v.spatial_axes(x.ndim, channel_axis)
    rank = len(axes)
    compute = v.compute_dtype(x.dtype)
    weights = v.as_kernel(w, rank, compute)
    stride_t = v.per_axis(stride, rank, "stride", minimum=1)
    dilation_t = v.per_axis(dilation, rank, "dilation", minimum=1)
    lo, hi = v.padding_amounts(padding, weights.shape, dilation_t, (0,) * rank)
    direct = ic.correlate(x, weights, mode=mode, cval=cval, padding=padding, stride=stride,
                          dilation=dilation, channel_axis=channel_axis, dtype=dtype,
                          method="direct")
    if out_layout is None:
        out = np.empty_like(direct)
    else:
        out = out_layout(direct.shape, direct.dtype)
    out.fill(0)
    res = _fft.fft_correlate(x, weights, spatial_axes=axes, pad_lo=lo, pad_hi=hi,
                             stride=stride_t, dilation=dilation_t,
                             mode=v.canonical_mode(mode), cval=float(cval), out=out,
                             threads=threads)
    assert res is out
    assert out.dtype == direct.dtype and out.shape == direct.shape
    scale = float(np.abs(weights.astype(np.float64)).sum()) * max(
        float(np.abs(x).max()), abs(float(cval)) if v.canonical_mode(mode) == "zero" else 0.0, 1.0)
    rel = 1e-4 if compute == np.float32 or out.dtype == np.float32 else 1e-10
    return out, direct, rel * scale


def assert_close(fft, direct, tol):
    if fft.dtype.kind in "iu":
        diff = np.abs(fft.astype(np.int64) - direct.astype(np.int64))
        assert diff.max() <= 1, diff.max()
        return
    err = np.abs(fft.astype(np.float64) - direct.astype(np.float64)).max()
    assert err <= tol, (err, tol)


def rand(rng, shape, dtype="float32"):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape,
                            endpoint=True).astype(dtype)
    return (rng.standard_normal(shape) * 10).astype(dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# ---------------------------------------------------------------------------
# geometry x modes
# ---------------------------------------------------------------------------
CASES = [
    # (x shape, kernel shape, channel_axis, padding, stride, dilation)
    ((37,), (5,), None, "same", 1, 1),
    ((37,), (4,), None, "valid", 3, 2),
    ((5,), (9,), None, "full", 1, 1),            # kernel larger than the signal
    ((1,), (3,), None, "same", 1, 1),            # one sample
    ((1,), (7,), None, [(9, 2)], 2, 1),           # padding far wider than the signal
    ((23, 31), (5, 4), None, "same", 1, 1),
    ((23, 31), (3, 5), None, "same", (2, 3), (2, 1)),
    ((23, 31, 3), (4, 4), -1, [(0, 5), (7, 1)], 1, 2),  # asymmetric padding, channels
    ((2, 17, 19), (3, 3), 0, "valid", 2, 1),     # channels first
    ((6, 5), (9, 11), None, "full", 1, 1),       # kernel larger than the image
    ((1, 9), (3, 3), None, "same", 1, 1),        # 1-pixel axis
    ((9, 10, 11), (3, 4, 3), None, "same", 1, 1),
    ((9, 10, 11), (3, 2, 3), None, "same", (1, 2, 3), (2, 1, 3)),
    ((8, 3, 9, 7), (3, 3, 3), 1, "valid", 1, 1),  # 3D with channels in the middle
    ((1, 1, 6), (3, 3, 3), None, "same", 1, 1),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[3]}")
def test_geometry_and_modes_float32(rng, mode, case):
    shape, kshape, channel_axis, padding, stride, dilation = case
    x = rand(rng, shape)
    w = rand(rng, kshape)
    fft, direct, scale = run_both(x, w, mode=mode, cval=cval_for(mode, 1.5), padding=padding,
                                  stride=stride, dilation=dilation, channel_axis=channel_axis)
    assert_close(fft, direct, scale)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES[::2], ids=lambda c: f"{c[0]}-{c[1]}-{c[3]}")
def test_geometry_and_modes_float64(rng, mode, case):
    shape, kshape, channel_axis, padding, stride, dilation = case
    x = rand(rng, shape, "float64")
    w = rand(rng, kshape, "float64")
    fft, direct, scale = run_both(x, w, mode=mode, cval=cval_for(mode, -2.0), padding=padding,
                                  stride=stride, dilation=dilation, channel_axis=channel_axis)
    assert fft.dtype == np.float64
    assert_close(fft, direct, scale)


def test_reflect_single_sample_is_the_sample():
    x = np.array([5.0])
    out = np.empty(1)
    _fft.fft_correlate(x, np.ones(7), spatial_axes=(0,), pad_lo=(3,), pad_hi=(3,),
                       stride=(1,), dilation=(1,), mode="reflect", cval=0.0, out=out, threads=1)
    assert out[0] == pytest.approx(35.0)


def test_output_reads_padding_only(rng):
    # stride larger than the image: the only output sample lies in the low padding
    x = rand(rng, (4,))
    for mode in MODES:
        fft, direct, scale = run_both(x, [1.0, 2.0], mode=mode, cval=cval_for(mode, 3.0),
                                      padding=[(10, 0)], stride=20)
        assert_close(fft, direct, scale)


# ---------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("in_dtype", ["uint8", "uint16", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("out_dtype", [None, "uint8", "int16", "int32", "float32", "float64"])
def test_dtypes(rng, in_dtype, out_dtype):
    x = rand(rng, (21, 18), in_dtype)
    w = rng.random((5, 5)) - 0.3
    fft, direct, scale = run_both(x, w, mode="reflect", dtype=out_dtype)
    assert_close(fft, direct, scale)


@pytest.mark.parametrize("out_dtype", ["uint8", "uint16", "int16", "int32"])
def test_integer_outputs_saturate(rng, out_dtype):
    x = rand(rng, (16, 16), "float64") * 1e8   # far outside every integer range
    fft, direct, scale = run_both(x, np.ones((3, 3)), mode="wrap", dtype=out_dtype)
    assert_close(fft, direct, scale)
    info = np.iinfo(out_dtype)
    assert fft.min() >= info.min and fft.max() <= info.max
    assert (fft == info.max).any() and ((fft == info.min).any() or info.min == 0)


def test_store_rounding_and_nan():
    res = np.array([0.5, 1.5, 2.5, -0.5, -1.5, np.nan, np.inf, -np.inf, 300.4, -7.0],
                   np.float32)
    out = np.empty(res.shape, np.uint8)
    store(res, out)
    assert out.tolist() == [0, 2, 2, 0, 0, 0, 255, 0, 255, 0]
    out = np.empty(res.shape, np.int16)
    store(res, out)
    assert out.tolist() == [0, 2, 2, 0, -2, 0, 32767, -32768, 300, -7]
    out = np.empty(res.shape, np.int32)
    store(res * np.float32(1e7), out)
    assert out.tolist()[:6] == [5000000, 15000000, 25000000, -5000000, -15000000, 0]
    assert out.tolist()[6:8] == [2**31 - 1, -2**31]
    out = np.empty(res.shape, np.float64)
    store(res, out)
    np.testing.assert_array_equal(out, res.astype(np.float64))


def test_float32_stays_single_precision(monkeypatch, rng):
    pytest.importorskip("scipy.fft")
    import scipy.fft
    seen = []
    for name in ("rfftn", "rfft"):
        real = getattr(scipy.fft, name)

        def spy(a, *args, _real=real, **kwargs):
            seen.append(np.asarray(a).dtype)
            return _real(a, *args, **kwargs)

        monkeypatch.setattr(scipy.fft, name, spy)
    fft, direct, scale = run_both(rand(rng, (20, 20), "uint8"), np.ones((3, 3)))
    assert seen and all(d == np.float32 for d in seen)
    assert_close(fft, direct, scale)


# ---------------------------------------------------------------------------
# outputs and inputs with odd layouts
# ---------------------------------------------------------------------------
def test_non_contiguous_out_and_input(rng):
    base = rand(rng, (40, 3, 50), "float32")
    x = base[::2, :, ::-2].transpose(2, 0, 1)          # (25, 20, 3), odd strides
    x_before = x.copy()

    def strided_out(shape, dtype):
        big = np.zeros((shape[0] * 2, shape[1] + 3, shape[2] * 2), dtype)
        return big[::2, 3:, ::2]

    fft, direct, scale = run_both(x, rand(rng, (4, 3)), mode="symmetric", channel_axis=2,
                                  stride=(1, 2), out_layout=strided_out)
    assert not fft.flags.c_contiguous
    assert_close(fft, direct, scale)
    np.testing.assert_array_equal(x, x_before)   # input untouched

    def fortran_out(shape, dtype):
        return np.zeros(shape, dtype, order="F")

    fft, direct, scale = run_both(x, rand(rng, (4, 3)), mode="zero", cval=2.0, channel_axis=2,
                                  dtype="int16", out_layout=fortran_out)
    assert_close(fft, direct, scale)


def test_input_never_modified(rng):
    x = rand(rng, (12, 13), "float64")
    x.flags.writeable = False
    for mode in MODES:
        for padding in ("same", "valid"):
            fft, direct, tol = run_both(x, rand(rng, (3, 3), "float64"), mode=mode,
                                        padding=padding)
            assert_close(fft, direct, tol)


def test_large_kernel_2d(rng):
    x = rand(rng, (96, 80, 2), "float32")
    fft, direct, scale = run_both(x, rand(rng, (31, 25)), mode="reflect", channel_axis=-1)
    assert_close(fft, direct, scale)


# ---------------------------------------------------------------------------
# overlap-save tiles
# ---------------------------------------------------------------------------
@pytest.fixture
def small_tiles(monkeypatch):
    """Force tiles of ``length`` samples (per axis where the kernel fits and
    the axis needs more than one): small arrays then go through the tiled
    path.  Returns a setter and the list of plans used."""
    plans = []

    def use(length, chunk_bytes=None):
        def plan(out_spatial, stride, extent, fast_len, threads=1):
            result = []
            for n_out, s, k in zip(out_spatial, stride, extent):
                tiles = _fft._axis_tiles(n_out, s, k, length)
                if tiles is None or tiles[2] == 1:
                    tiles = (fast_len((n_out - 1) * s + k), n_out, 1)
                result.append(tiles)
            plans.append(tuple(result))
            return tuple(result)

        monkeypatch.setattr(_fft, "_tile_plan", plan)
        # 2D and 3D calls would take the compiled tiles (tests/test_fft_tiles.py)
        monkeypatch.setattr(_fft, "compiled_tiles_fit", lambda *args: False)
        if chunk_bytes is not None:
            monkeypatch.setattr(_fft, "CHUNK_BYTES", chunk_bytes)

    use.plans = plans
    return use


def tiled(plans):
    return plans and all(any(count > 1 for _, _, count in plan) for plan in plans)


TILED_CASES = [
    # (x shape, kernel shape, channel_axis, padding, stride, dilation, tile length)
    ((50,), (5,), None, "same", 1, 1, 12),
    ((61,), (4,), None, [(7, 2)], 3, 2, 16),         # stride, dilation, padding past the image
    ((37, 41), (5, 4), None, "same", 1, 1, 12),      # partial last tiles
    ((37, 41), (3, 5), None, "full", (2, 3), (2, 1), 16),
    ((30, 29, 3), (4, 4), -1, [(0, 5), (7, 1)], 1, 2, 12),  # channels last, asymmetric
    ((2, 33, 27), (3, 3), 0, "valid", (1, 2), 1, 8),  # channels first
    ((40, 9), (5, 3), None, "same", 1, 1, 12),       # one axis too short to tile
    ((17, 18, 19), (3, 4, 3), None, "same", 1, 1, 8),
    ((17, 18, 19), (3, 2, 3), None, "same", (1, 2, 3), (2, 1, 3), 10),
    ((13, 2, 15, 14), (3, 3, 3), 1, "valid", 1, 1, 8),  # 3D, channels in the middle
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", TILED_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[3]}-{c[6]}")
def test_tiles_match_direct(rng, small_tiles, mode, case):
    shape, kshape, channel_axis, padding, stride, dilation, length = case
    small_tiles(length)
    x = rand(rng, shape)
    w = rand(rng, kshape)
    fft, direct, scale = run_both(x, w, mode=mode, cval=cval_for(mode, 1.5), padding=padding,
                                  stride=stride, dilation=dilation, channel_axis=channel_axis)
    assert tiled(small_tiles.plans)
    assert_close(fft, direct, scale)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("chunk_bytes", [1, 4096, 1 << 30])   # a tile, a few, all per box
def test_tiles_boxes_and_threads(rng, small_tiles, threads, chunk_bytes):
    small_tiles(12, chunk_bytes)
    x = rand(rng, (45, 38, 2), "float64")
    fft, direct, scale = run_both(x, rand(rng, (5, 3), "float64"), mode="symmetric",
                                  channel_axis=-1, stride=(1, 2), threads=threads)
    assert tiled(small_tiles.plans)
    assert_close(fft, direct, scale)


@pytest.mark.parametrize("in_dtype,out_dtype", [("uint8", None), ("uint16", "int16"),
                                                ("int32", "float64"), ("float64", "uint8")])
def test_tiles_dtypes(rng, small_tiles, in_dtype, out_dtype):
    small_tiles(16, 2048)
    x = rand(rng, (40, 35), in_dtype)
    if in_dtype == "uint16":
        x += 30000   # a large offset, taken out before the transforms
    fft, direct, scale = run_both(x, rng.random((5, 5)) - 0.3, mode="reflect", dtype=out_dtype)
    assert tiled(small_tiles.plans)
    assert_close(fft, direct, scale)


def test_tiles_strided_output(rng, small_tiles):
    small_tiles(12, 1)
    x = rand(rng, (40, 3, 50), "float32")[::2, :, ::-1].transpose(2, 0, 1)   # (50, 20, 3)

    def strided_out(shape, dtype):
        return np.zeros((shape[0] * 2, shape[1] + 3, shape[2] * 2), dtype)[::2, 3:, ::2]

    fft, direct, scale = run_both(x, rand(rng, (4, 3)), mode="wrap", channel_axis=2,
                                  dilation=(2, 1), out_layout=strided_out)
    assert tiled(small_tiles.plans) and not fft.flags.c_contiguous
    assert_close(fft, direct, scale)


def test_tiles_through_correlate(rng, small_tiles):
    small_tiles(16, 4096)
    x = rand(rng, (70, 66))
    w = rand(rng, (7, 9))
    direct = ic.correlate(x, w, mode="reflect", method="direct")
    fft = ic.correlate(x, w, mode="reflect", method="fft")
    assert tiled(small_tiles.plans)
    assert np.abs(fft - direct).max() <= 1e-4 * np.abs(w).sum() * np.abs(x).max()


def test_tiles_without_scipy(no_scipy, rng, small_tiles):
    small_tiles(12, 4096)
    fft, direct, scale = run_both(rand(rng, (30, 26, 2)), rand(rng, (5, 3)), mode="reflect",
                                  channel_axis=-1, stride=(2, 1), dilation=(1, 2))
    assert tiled(small_tiles.plans)
    assert_close(fft, direct, scale)


def test_tile_plan():
    fast = _fft._fft_len
    # a large image goes in tiles of a listed length on every axis ...
    plan = _fft._tile_plan((4096, 4096), (1, 1), (31, 31), fast)
    for length, q, count in plan:
        assert length in _fft.TILE_LENGTHS[2] and count > 1
    # ... a small one whole; so does a 1D signal shorter than a tile
    assert _fft._tile_plan((300, 400), (1, 1), (31, 31), fast) == ((fast(330), 300, 1),
                                                                  (fast(430), 400, 1))
    assert _fft._tile_plan((1000,), (1,), (15,), fast) == ((fast(1014), 1000, 1),)
    # long signals and large volumes in tiles
    assert _fft._tile_plan((10 ** 6,), (1,), (255,), fast)[0][2] > 1
    assert all(count > 1 for _, _, count in _fft._tile_plan((256,) * 3, (1,) * 3, (9,) * 3, fast))
    # the tiles cover the outputs, each within its transform, as evenly as possible
    rng = np.random.default_rng(5)
    for _ in range(300):
        rank = int(rng.integers(1, 4))
        n_out = tuple(int(n) for n in rng.integers(1, 5000 if rank < 3 else 400, rank))
        stride = tuple(int(s) for s in rng.integers(1, 4, rank))
        extent = tuple(int(k) for k in rng.integers(1, 60 if rank < 3 else 20, rank))
        for (length, q, count), n, s, k in zip(_fft._tile_plan(n_out, stride, extent, fast),
                                               n_out, stride, extent):
            assert (q - 1) * s + k <= length
            assert (count - 1) * q < n <= count * q


def test_fft_cost_bound_never_exceeds_the_cost():
    # 'auto' skips costing the transforms when this bound already exceeds
    # the direct or separable cost: that may never change its choice
    rng = np.random.default_rng(6)
    shapes = [(16, 16), (300, 400), (4096, 4096), (10 ** 6,), (7,), (256,) * 3, (40, 90, 3)]
    for _ in range(300):
        rank = int(rng.integers(1, 4))
        shapes.append(tuple(int(n) for n in rng.integers(1, 5000 if rank < 3 else 300, rank)))
    for shape in shapes:
        extent = tuple(int(k) for k in rng.integers(1, 40 if len(shape) < 3 else 16, len(shape)))
        batch = int(rng.integers(1, 4))
        bound = _fft.fft_cost_bound(shape, extent, batch=batch)
        assert 0 < bound <= _fft.fft_cost(shape, extent, batch=batch), (shape, extent)


def test_tile_boxes():
    for counts in [(1,), (7,), (3, 5), (4, 1, 6), (2, 2, 2)]:
        for tile_bytes in (1, 1000, 1 << 40):
            for threads in (1, 2, 5):
                boxes = _fft._tile_boxes(counts, tile_bytes, threads)
                seen = np.zeros(counts, int)
                for box in boxes:
                    seen[tuple(slice(first, stop) for first, stop in box)] += 1
                assert (seen == 1).all()
                first = [stop - start for start, stop in boxes[0]]
                assert all(stop - start <= size for box in boxes
                           for (start, stop), size in zip(box, first))
    # enough boxes for the threads, a tile per box at the least
    assert len(_fft._tile_boxes((4, 4), 1, 2)) >= 4
    assert len(_fft._tile_boxes((3, 3), 1 << 40, 2)) == 9


# ---------------------------------------------------------------------------
# scipy is optional
# ---------------------------------------------------------------------------
@pytest.fixture
def no_scipy(monkeypatch):
    for name in list(sys.modules):
        if name == "scipy" or name.startswith("scipy."):
            monkeypatch.delitem(sys.modules, name)
    real_import = builtins.__import__

    def guarded(name, *args, **kwargs):
        if name == "scipy" or name.startswith("scipy."):
            raise ImportError(f"No module named {name!r} (blocked by test)")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", guarded)
    monkeypatch.setitem(sys.modules, "scipy.fft", None)
    yield


@pytest.mark.parametrize("mode", MODES)
def test_without_scipy(no_scipy, rng, mode):
    assert _fft._fft_backend()[0] is np.fft
    fft, direct, scale = run_both(rand(rng, (19, 22, 2)), rand(rng, (5, 3)), mode=mode,
                                  cval=cval_for(mode, 1.0), channel_axis=-1, stride=(2, 1),
                                  dilation=(1, 3))
    assert_close(fft, direct, scale)
    fft, direct, scale = run_both(rand(rng, (9, 8, 7), "float64"), rand(rng, (3, 3, 3), "float64"),
                                  mode=mode, padding="full")
    assert_close(fft, direct, scale)


def test_module_does_not_import_scipy():
    import subprocess
    code = ("import sys, imgconv, imgconv._fft; "
            "sys.exit(any(m == 'scipy' or m.startswith('scipy.') for m in sys.modules))")
    # outside the source tree, whose unbuilt imgconv/ would shadow the installed one
    root = os.path.dirname(os.path.dirname(os.path.abspath(ic.__file__)))
    result = subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(__file__),
                            env={**os.environ, "PYTHONPATH": root})
    assert result.returncode == 0


# ---------------------------------------------------------------------------
# cost model and helpers
# ---------------------------------------------------------------------------
def test_next_regular():
    for n in range(1, 2000):
        m = _fft._next_regular(n)
        assert m >= n
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        assert r == 1
        # nothing 5-smooth in between
        for k in range(n, m):
            r = k
            for p in (2, 3, 5):
                while r % p == 0:
                    r //= p
            assert r != 1


def test_cost_model():
    assert _fft.direct_cost((10, 20, 3), 9) == 10 * 20 * 3 * 9
    small = _fft.fft_cost((512, 512), (3, 3))
    big = _fft.fft_cost((4096, 4096), (3, 3))
    assert 0 < small < big
    assert _fft.fft_cost((512, 512), (3, 3), batch=3) > small
    # large kernels on large images go to the FFT, small ones stay direct
    assert _fft.fft_cost((4096, 4096), (41, 41)) < _fft.direct_cost((4096, 4096), 41 * 41)
    assert _fft.fft_cost((1024, 1024), (3, 3)) > _fft.direct_cost((1024, 1024), 9)
    # the calibrated crossovers (compiled tiles): about 11 taps a side on
    # 1024**2, 13 on 256**2, 7 on volumes
    assert _fft.fft_cost((1024, 1024), (9, 9)) > _fft.direct_cost((1024, 1024), 9 * 9)
    assert _fft.fft_cost((1024, 1024), (13, 13)) < _fft.direct_cost((1024, 1024), 13 * 13)
    assert _fft.fft_cost((256, 256), (11, 11)) > _fft.direct_cost((256, 256), 11 * 11)
    assert _fft.fft_cost((256, 256), (15, 15)) < _fft.direct_cost((256, 256), 15 * 15)
    assert _fft.fft_cost((128,) * 3, (5,) * 3) > _fft.direct_cost((128,) * 3, 5 ** 3)
    assert _fft.fft_cost((128,) * 3, (7,) * 3) < _fft.direct_cost((128,) * 3, 7 ** 3)
    # a 31**2 kernel on 4096**2 (about 5x faster than direct), 256**3 volumes
    assert _fft.fft_cost((4096, 4096), (31, 31)) < 0.2 * _fft.direct_cost((4096, 4096), 31 * 31)
    assert _fft.fft_cost((256,) * 3, (5,) * 3) > _fft.direct_cost((256,) * 3, 5 ** 3)
    assert _fft.fft_cost((256,) * 3, (9,) * 3) < _fft.direct_cost((256,) * 3, 9 ** 3)
    # strided: the outputs taken every stride samples, each costed as above
    assert (_fft.fft_cost((1024, 1024), (9, 9), stride=(1, 2))
            > _fft.direct_cost((1024, 512), 9 * 9))
    assert (_fft.fft_cost((1024, 1024), (31, 31), stride=(2, 2))
            < _fft.direct_cost((512, 512), 31 * 31))
    # 1D: the scipy.fft tiles' model
    assert _fft.fft_cost((10 ** 6,), (1023,)) < _fft.direct_cost((10 ** 6,), 1023)
    # a long 1D signal: the tiles keep the cost linear in its length
    assert _fft.fft_cost((10 ** 7,), (255,)) < 12 * _fft.fft_cost((10 ** 6,), (255,))


def test_kernel_spectrum_cache(rng, monkeypatch):
    # a kernel's spectrum is reused for the same kernel and transform shape;
    # a changed kernel (same array, new values) or shape gets its own
    monkeypatch.setattr(_fft, "_spectra", {})
    monkeypatch.setattr(_fft, "SPECTRUM_CACHE_ENTRIES", 2)
    x = rand(rng, (60, 50))
    w = rand(rng, (9, 9))
    first = ic.correlate(x, w, method="fft")
    assert len(_fft._spectra) == 1
    assert np.array_equal(ic.correlate(x, w, method="fft", threads=1), first)
    assert len(_fft._spectra) == 1
    w[4, 4] += 1
    fft, direct, tol = run_both(x, w)
    assert_close(fft, direct, tol)
    assert not np.array_equal(fft, first)
    ic.correlate(x[:40], w, method="fft")
    assert len(_fft._spectra) == 2     # the oldest went out
    for spec in _fft._spectra.values():
        assert not spec.flags.writeable


# ---------------------------------------------------------------------------
# padded regions, plans for the threads, non-finite data
# ---------------------------------------------------------------------------
_NP_PAD = {"replicate": "edge", "reflect": "reflect", "symmetric": "symmetric", "wrap": "wrap"}


def padded_reference(x, nb, ranges, mode, cval):
    """The region by np.pad (wide enough for every range), in float64."""
    widths = [(0, 0)] * nb + [(max(0, -start), max(0, stop - n))
                              for (start, stop), n in zip(ranges, x.shape[nb:])]
    if mode == "zero":
        padded = np.pad(x.astype(np.float64), widths, constant_values=cval)
    else:
        padded = np.pad(x.astype(np.float64), widths, mode=_NP_PAD[mode])
    return padded[(slice(None),) * nb + tuple(
        slice(start + lo, stop + lo) for (start, stop), (lo, _) in zip(ranges, widths[nb:]))]


@pytest.mark.parametrize("mode", MODES)
def test_padded_region_matches_np_pad(rng, mode):
    # regions inside the input, across one or both edges, far past them (wide
    # padding repeats the rule), wholly outside; batch axes; dtype converted
    for _ in range(60):
        rank = int(rng.integers(1, 4))
        nb = int(rng.integers(0, 2))
        shape = tuple(int(n) for n in rng.integers(1, 9, nb + rank))
        dtype = rng.choice(["float32", "float64", "uint8", "int16"])
        x = rand(rng, shape, dtype)
        if rng.random() < 0.3:   # non-contiguous input
            x = np.asfortranarray(x)
        ranges = []
        for n in shape[nb:]:
            start = int(rng.integers(-2 * n - 3, n + 3))
            ranges.append((start, start + int(rng.integers(1, 3 * n + 4))))
        compute = np.dtype("float64" if dtype == "float64" else "float32")
        before = x.copy()
        region, owned = _fft._padded_region(x, nb, ranges, mode, 2.5, compute)
        assert region.dtype == compute
        assert owned == (not np.shares_memory(region, x))
        np.testing.assert_array_equal(region, padded_reference(x, nb, ranges, mode, 2.5))
        np.testing.assert_array_equal(x, before)


def test_padded_region_is_a_view_inside_the_input(rng):
    x = rand(rng, (3, 20, 30))
    region, owned = _fft._padded_region(x, 1, [(2, 12), (0, 30)], "reflect", 0.0,
                                        np.dtype("float32"))
    assert np.shares_memory(region, x) and not owned
    region, owned = _fft._padded_region(x, 1, [(-1, 12), (0, 30)], "reflect", 0.0,
                                        np.dtype("float32"))
    assert owned and not np.shares_memory(region, x)
    # converted: a new array even inside
    region, owned = _fft._padded_region(x, 1, [(2, 12), (0, 30)], "reflect", 0.0,
                                        np.dtype("float64"))
    assert owned and region.dtype == np.float64


def test_index_slice():
    for index in ([3, 2, 1], [0, 1, 2, 3], [4, 4, 4], [7], [2, 1, 0], [1, 3, 5], [0, 2, 1]):
        index = np.array(index)
        got = _fft._index_slice(index)
        data = np.arange(10) * 10
        np.testing.assert_array_equal(np.broadcast_to(data[got], index.shape), data[index])


def test_plans_for_two_threads_keep_both_busy_and_in_cache():
    fast = _fft._fft_len
    for n in (512, 1024, 2048, 4096):
        plan = _fft._tile_plan((n, n), (1, 1), (31, 31), fast, 2)
        tiles = np.prod([count for _, _, count in plan])
        size = np.prod([length for length, _, _ in plan])
        assert tiles >= 2 and size <= 600 ** 2, (n, plan)
    # small images stay whole, as do large kernels that no tile would hold
    assert _fft._tile_plan((256, 256), (1, 1), (31, 31), fast, 2) == ((288, 256, 1),) * 2
    assert _fft._tile_plan((300, 300), (1, 1), (301, 301), fast, 2)[0][2] == 1
    # a single thread never gets more tiles than two threads do
    for n in (512, 1024, 4096):
        one = _fft._tile_plan((n, n), (1, 1), (31, 31), fast, 1)
        two = _fft._tile_plan((n, n), (1, 1), (31, 31), fast, 2)
        assert _fft._plan_cost(one, 1) <= _fft._plan_cost(two, 1)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("length", [None, 12])   # whole, tiled
def test_finite_only_flags_non_finite_data(rng, small_tiles, bad, length):
    if length is not None:
        small_tiles(length)
    x = rand(rng, (40, 37, 2))
    w = rand(rng, (5, 3))
    fft, direct, scale = run_both(x, w, mode="reflect", channel_axis=-1)
    assert_close(fft, direct, scale)
    for where in [(0, 0, 0), (39, 36, 1), (20, 11, 0)]:   # corner tiles, a middle one
        y = x.copy()
        y[where] = bad
        out = np.empty(y.shape, np.float32)
        with pytest.raises(_fft.NonFiniteData):
            _fft.fft_correlate(y, w, spatial_axes=(0, 1), pad_lo=(2, 1), pad_hi=(2, 1),
                               stride=(1, 1), dilation=(1, 1), mode="reflect", cval=0.0,
                               out=out, threads=2, finite_only=True)
    wbad = w.copy()
    wbad[1, 2] = bad
    with pytest.raises(_fft.NonFiniteData):
        _fft.fft_correlate(x, wbad, spatial_axes=(0, 1), pad_lo=(2, 1), pad_hi=(2, 1),
                           stride=(1, 1), dilation=(1, 1), mode="reflect", cval=0.0,
                           out=np.empty(x.shape, np.float32), threads=1, finite_only=True)


def test_finite_only_passes_large_finite_data(rng):
    # large magnitudes (the mean is taken out first) do not count as non-finite
    x = (rand(rng, (70, 64), "float64") + 1.0) * 1e300
    w = rand(rng, (5, 5), "float64")
    out = np.empty(x.shape)
    _fft.fft_correlate(x, w, spatial_axes=(0, 1), pad_lo=(2, 2), pad_hi=(2, 2), stride=(1, 1),
                       dilation=(1, 1), mode="reflect", cval=0.0, out=out, threads=2,
                       finite_only=True)
    direct = ic.correlate(x, w, mode="reflect", method="direct")
    np.testing.assert_allclose(out, direct, rtol=1e-9)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_auto_on_tiles_falls_back_to_the_taps_without_a_data_pass(rng, monkeypatch, bad):
    # 'auto' takes the FFT for a large dense kernel and reads no data to
    # choose it; a NaN or inf in any tile sends it to the direct sums
    looks = []
    real = _cpu.CPU.all_finite
    monkeypatch.setattr(_cpu.CPU, "all_finite", lambda x: looks.append(1) or real(x))
    flagged = []
    real_fft = _fft.tiles_correlate     # (2D: the compiled tiles)
    monkeypatch.setattr(_fft, "tiles_correlate",
                        lambda *a, **k: flagged.append(k["finite_only"]) or real_fft(*a, **k))
    x = rand(rng, (700, 650))
    w = rand(rng, (31, 31))
    fft = ic.correlate(x, w, mode="reflect")
    direct = ic.correlate(x, w, mode="reflect", method="direct")
    np.testing.assert_allclose(fft, direct, rtol=0, atol=1e-4 * np.abs(w).sum())
    x[650, 20] = bad
    got = ic.correlate(x, w, mode="reflect")
    want = ic.correlate(x, w, mode="reflect", method="direct")
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
    assert 0 < np.isfinite(got).sum() < got.size
    np.testing.assert_allclose(got[:500], want[:500], rtol=0, atol=1e-4 * np.abs(w).sum())
    assert looks == [] and flagged == [True, True]


def test_concurrent_calls_share_the_pool(rng):
    from concurrent.futures import ThreadPoolExecutor
    x = [rand(rng, (600, 600)) for _ in range(4)]
    w = rand(rng, (31, 31))
    want = [ic.correlate(a, w, method="direct") for a in x]
    with ThreadPoolExecutor(4) as callers:
        got = list(callers.map(lambda a: ic.correlate(a, w, method="fft", threads=2), x))
    for g, d in zip(got, want):
        np.testing.assert_allclose(g, d, rtol=0, atol=1e-4 * np.abs(w).sum())


def test_results_do_not_depend_on_the_thread_count(rng):
    # the tiles (and so the rounding) are planned for PLAN_THREADS whatever
    # the call's threads
    x = rand(rng, (700, 520, 2))
    w = rand(rng, (31, 29))
    results = [ic.correlate(x, w, method="fft", channel_axis=-1, threads=t) for t in (1, 2, 3)]
    plan = _fft._tile_plan((700, 520), (1, 1), (31, 29), _fft._fft_len, _fft.PLAN_THREADS)
    assert np.prod([count for _, _, count in plan]) > 1
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])

"""The compiled FFT tiles (pyx/fft_tiles.pxi, imgconv._fft.tiles_correlate):
2D and 3D correlations with stride 1 and ``method='fft'``, against the
float64 reference, scipy.ndimage and the direct kernel."""
import itertools

import numpy as np
import pytest
import scipy.ndimage as ndi

import imgconv as ic
from imgconv import _fft
from imgconv._dispatch import kernels
from reference import cval_for, layouts, ref_correlate

MODES = ["zero", "replicate", "reflect", "symmetric", "wrap"]


@pytest.fixture
def rng():
    return np.random.default_rng(11)


@pytest.fixture
def tile_lengths(monkeypatch):
    """Force the compiled tiles' lengths (per axis, z y x with 1 for z in
    2D) so that small arrays take many tiles, partial last tiles and an
    odd count of them; records the plans used."""
    plans = []

    def use(lengths):
        def plan(out_spatial, extent, stride=None):
            chosen = tuple(max(n, 1 << (k - 1).bit_length()) for n, k in
                           zip(lengths[-len(extent):], extent))
            plans.append(chosen)
            return chosen
        monkeypatch.setattr(_fft, "compiled_tile_plan", plan)

    use.plans = plans
    return use


def tolerance(x, w, dtype, cval=0.0):
    scale = float(np.abs(np.asarray(w, np.float64)).sum()) * max(
        float(np.abs(x.astype(np.float64)).max()), abs(cval), 1.0)
    return scale * (2e-6 if dtype == np.float32 else 1e-12)


def permutation(n):
    """Bit-reversed order of 0 .. n-1 (n a power of two)."""
    bits = max(n.bit_length() - 1, 0)
    return np.array([int(format(i, f"0{bits}b")[::-1], 2) if bits else 0 for i in range(n)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lengths", [(1, 1, 2), (1, 4, 8), (1, 8, 32), (2, 16, 4),
                                     (1, 128, 1), (4, 32, 64), (1, 1024, 2), (8, 8, 8)])
def test_spectrum_is_the_dft_in_bit_reversed_order(rng, dtype, lengths):
    # the forward passes (radix 4, and a radix-2 stage where log2 n is odd),
    # checked on the kernel's spectrum: conj(DFT) / size, planes transposed
    extent = tuple(max(1, n // 2) for n in lengths)
    w = rng.standard_normal(extent).astype(dtype)
    kr, ki = kernels.fft_tile_spectrum(w, lengths)
    dft = np.conj(np.fft.fftn(w.astype(np.float64), s=lengths, axes=(0, 1, 2))) / np.prod(lengths)
    dft = dft[np.ix_(*(permutation(n) for n in lengths))].transpose(0, 2, 1)
    # in 3D the planes lie FFT_TILE_PLANE_PAD elements further apart
    pad = kernels.FFT_TILE_PLANE_PAD if lengths[0] > 1 else 0
    got = (kr.astype(np.float64) + 1j * ki).reshape(lengths[0], -1)
    assert got.shape[1] == lengths[1] * lengths[2] + pad
    assert not got[:, lengths[1] * lengths[2]:].any()
    got = got[:, :lengths[1] * lengths[2]].reshape(dft.shape)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got, dft, rtol=0, atol=tol * max(1.0, np.abs(w).sum()))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", [
    # (shape, kernel, tile lengths z y x)
    ((37, 41), (5, 4), (1, 8, 16)),           # partial last tiles, an odd tile count
    ((30, 29), (7, 7), (1, 16, 8)),
    ((1, 1), (3, 3), (1, 4, 4)),              # a 1-pixel image
    ((5, 3), (9, 11), (1, 16, 16)),           # a kernel larger than the image
    ((64, 1), (1, 9), (1, 16, 16)),
    ((17, 18, 19), (3, 4, 3), (8, 8, 4)),
    ((9, 14, 13), (5, 1, 7), (8, 4, 8)),
    ((2, 3, 40), (3, 3, 3), (4, 4, 8)),
])
def test_tiles_match_the_reference(rng, tile_lengths, mode, case):
    shape, kshape, lengths = case
    tile_lengths(lengths)
    x = rng.random(shape).astype(np.float32) * 10 - 3
    w = rng.standard_normal(kshape)
    cval = cval_for(mode, 2.5)
    got = ic.correlate(x, w, mode=mode, cval=cval, method="fft")
    want = ref_correlate(x, w, mode=mode, cval=cval)
    assert tile_lengths.plans
    np.testing.assert_allclose(got, want, rtol=0, atol=tolerance(x, w, got.dtype, cval))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", [
    # (shape, kernel, stride, dilation, padding, tile lengths z y x)
    ((37, 41), (5, 4), (2, 3), (1, 1), "same", (1, 8, 16)),
    ((30, 29), (7, 7), (3, 1), (2, 1), "full", (1, 16, 16)),
    ((64, 9), (1, 9), (1, 4), (1, 1), "valid", (1, 16, 16)),
    ((17, 18, 19), (3, 4, 3), (2, 2, 3), (1, 2, 1), "same", (8, 16, 4)),
    ((9, 14, 13), (5, 1, 7), (1, 3, 2), (1, 1, 1), [(0, 4), (1, 1), (7, 0)], (8, 4, 8)),
])
def test_strided_tiles_match_the_direct_kernel(rng, tile_lengths, mode, case):
    shape, kshape, stride, dilation, padding, lengths = case
    tile_lengths(lengths)
    x = rng.random(shape) * 10 - 3
    w = rng.standard_normal(kshape)
    cval = cval_for(mode, -1.5)
    kwargs = dict(mode=mode, cval=cval, stride=stride, dilation=dilation, padding=padding)
    got = ic.correlate(x, w, method="fft", **kwargs)
    want = ic.correlate(x, w, method="direct", **kwargs)
    assert tile_lengths.plans
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=tolerance(x, w, got.dtype, cval))


@pytest.mark.parametrize("seed", range(8))
def test_random_geometry(seed, tile_lengths):
    # dilation and origin against the direct kernel; without them against scipy
    rng = np.random.default_rng(seed)
    rank = 2 + seed % 2
    shape = tuple(int(n) for n in rng.integers(1, 40 if rank == 2 else 14, rank))
    kshape = tuple(int(k) for k in rng.integers(1, 9, rank))
    dilation = tuple(int(d) for d in rng.integers(1, 3, rank))
    origin = tuple(int(rng.integers(-(k // 2), (k - 1) // 2 + 1)) for k in kshape)
    lengths = (1,) * (3 - rank) + tuple(int(1 << rng.integers(2, 6)) for _ in range(rank))
    tile_lengths(lengths)
    x = rng.standard_normal(shape)
    w = rng.standard_normal(kshape)
    mode, scipy_mode = [("reflect", "mirror"), ("symmetric", "reflect"), ("wrap", "wrap"),
                        ("replicate", "nearest"), ("zero", "constant")][seed % 5]
    got = ic.correlate(x, w, mode=mode, dilation=dilation, origin=origin, method="fft")
    want = ic.correlate(x, w, mode=mode, dilation=dilation, origin=origin, method="direct")
    np.testing.assert_allclose(got, want, rtol=0, atol=tolerance(x, w, got.dtype))
    np.testing.assert_allclose(ic.correlate(x, w, mode=mode, method="fft"),
                               ndi.correlate(x, w, mode=scipy_mode), rtol=0,
                               atol=tolerance(x, w, got.dtype))


@pytest.mark.parametrize("in_dtype", ["uint8", "uint16", "int16", "int32", "float32",
                                      "float64"])
@pytest.mark.parametrize("out_dtype", [None, "uint8", "int16", "float32", "float64"])
def test_every_dtype(rng, tile_lengths, in_dtype, out_dtype):
    tile_lengths((1, 16, 16))
    x = (rng.random((33, 29)) * 200).astype(in_dtype)
    w = rng.random((5, 5)) / 8
    got = ic.correlate(x, w, method="fft", dtype=out_dtype)
    direct = ic.correlate(x, w, method="direct", dtype=out_dtype)
    assert got.dtype == direct.dtype
    if got.dtype.kind in "iu":
        # exact halves may round either way
        assert np.abs(got.astype(np.int64) - direct.astype(np.int64)).max() <= 1
    else:
        # (uint8 to int32 inputs compute in float32 whatever the output)
        np.testing.assert_allclose(got, direct, rtol=0, atol=tolerance(x, w, np.float32))


def test_layouts_and_the_input_untouched(rng, tile_lengths):
    tile_lengths((1, 16, 32))
    base = (rng.random((23, 26)) * 100).astype(np.float32)
    w = rng.random((7, 5)).astype(np.float32)
    want = ic.correlate(base, w, mode="wrap", method="direct")
    for name, x in layouts(base):
        before = np.array(x, copy=True)
        got = ic.correlate(x, w, mode="wrap", method="fft")
        np.testing.assert_allclose(got, want, rtol=0, atol=tolerance(base, w, np.float32),
                                   err_msg=name)
        np.testing.assert_array_equal(x, before)


def test_channels_and_out(rng, tile_lengths):
    tile_lengths((4, 8, 8))
    x = rng.random((3, 11, 12, 13)).astype(np.float32)      # channels first, 3D
    w = rng.random((3, 3, 3)).astype(np.float32)
    out = np.zeros((13, 12, 11, 3), np.float32).transpose(3, 2, 1, 0)   # not contiguous
    res = ic.correlate(x, w, channel_axis=0, mode="symmetric", method="fft", out=out)
    assert res is out
    for c in range(3):
        np.testing.assert_allclose(out[c], ref_correlate(x[c], w, mode="symmetric"), rtol=0,
                                   atol=tolerance(x, w, np.float32))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_do_not_change_the_result(rng, threads):
    x = rng.random((300, 277)).astype(np.float32)
    w = rng.random((31, 31)).astype(np.float32)
    one = ic.correlate(x, w, method="fft", threads=1)
    np.testing.assert_array_equal(ic.correlate(x, w, method="fft", threads=threads), one)


def test_large_offset_keeps_precision(rng):
    # uint16 CT-like data on a large offset: the mean is taken out first
    x = (30000 + rng.random((200, 190)) * 50).astype(np.uint16)
    w = rng.random((21, 21))
    w /= w.sum()
    got = ic.correlate(x, w, method="fft", dtype=np.float32)
    want = ref_correlate(x, w)
    assert np.abs(got - want).max() < 0.02


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_auto_keeps_a_nan_local(rng, bad):
    # the FFT would spread it over its tile: method='auto' sums the taps then
    x = rng.random((400, 400)).astype(np.float32)
    x[200, 200] = bad
    w = rng.random((31, 31)).astype(np.float32)
    got = ic.correlate(x, w, method="auto")
    assert np.isfinite(got[:150]).all() and not np.isfinite(got[200, 200])
    with pytest.raises(_fft.NonFiniteData):
        _fft.tiles_correlate([(x.reshape(1, 1, 400, 400), np.empty((1, 1, 400, 400),
                                                                   np.float32))],
                             w, pad_lo=(15, 15), stride=(1, 1), dilation=(1, 1), modes=(2, 2),
                             cval=0.0,
                             threads=2, finite_only=True)


def test_plans():
    # lengths are powers of two holding the kernel, within the sample limit
    for shape, k in itertools.product([(1, 1), (7, 300), (1024, 1024), (5, 60, 70)],
                                      [1, 3, 31, 200]):
        extent = (k,) * len(shape) if len(shape) == 2 or k < 200 else (k, 3, 5)
        plan = _fft.compiled_tile_plan(shape, extent)
        assert plan is not None and len(plan) == len(shape)
        assert all(n >= e and n & (n - 1) == 0 for n, e in zip(plan, extent))
        assert np.prod(plan) <= _fft.COMPILED_MAX_SAMPLES
    # a kernel longer than the longest tile: the scipy.fft tiles take it
    assert _fft.compiled_tile_plan((3000, 10), (1500, 3)) is None
    x = np.random.default_rng(0).random((1100, 3))
    w = np.random.default_rng(1).random((1050, 1))
    np.testing.assert_allclose(ic.correlate(x, w, method="fft", mode="wrap"),
                               ref_correlate(x, w, mode="wrap"), rtol=0, atol=1e-9)


def test_refuses_mismatched_arguments():
    w = np.ones((1, 3, 3), np.float32)
    kr, ki = kernels.fft_tile_spectrum(w, (1, 8, 8))
    x = np.zeros((1, 1, 8, 8), np.float32)

    def call(x=x, lengths=(1, 8, 8), offsets=np.zeros(1), in_code=4):
        kernels.fft_tiles_correlate(x, x.copy(), lengths, (1, 3, 3), (1, 1, 1), kr, ki,
                                    (0, 1, 1), (2, 2, 2), 0.0, offsets, np.zeros(1), in_code,
                                    4, 1)

    with pytest.raises(ValueError, match="tile lengths"):
        kernels.fft_tile_spectrum(w, (1, 6, 8))
    with pytest.raises(ValueError, match="spectrum"):
        call(lengths=(1, 16, 8))
    with pytest.raises(ValueError, match="one value per channel"):
        call(offsets=np.zeros(2))
    with pytest.raises(ValueError, match="4D"):
        call(x=x[0])
    with pytest.raises(ValueError, match="dtype codes"):
        call(in_code=0)


def test_auto_takes_the_tiles_for_large_kernels(rng, monkeypatch):
    used = []
    real = _fft.tiles_correlate
    monkeypatch.setattr(_fft, "tiles_correlate", lambda *a, **k: used.append(k) or real(*a, **k))
    x = rng.random((512, 512)).astype(np.float32)
    ic.correlate(x, rng.random((3, 3)))
    assert not used
    got = ic.correlate(x, rng.random((31, 31)).astype(np.float32))
    assert len(used) == 1 and used[0]["finite_only"]
    assert got.shape == x.shape
    # a strided call transforms its tiles whole: it costs no more
    assert (_fft._compiled_call_cost((512, 512), (31, 31), 1, (2, 1))
            <= _fft.fft_cost((512, 512), (31, 31), stride=None)
            == _fft._compiled_call_cost((512, 512), (31, 31), 1, None))
    assert _fft._compiled_call_cost((512,), (31,), 1, None) is None
    for shape, extent in [((512, 512), (31, 31)), ((64, 70, 80), (9, 9, 9)), ((300,), (41,))]:
        for stride in (None, (2,) * len(shape)):
            assert 0 < (_fft.fft_cost_bound(shape, extent, stride=stride)
                        <= _fft.fft_cost(shape, extent, stride=stride))

"""Kernels longer than the image: huge sigma, long or widely dilated kernels.

A kernel longer than its padding's period is folded onto it (reflect,
symmetric and wrap repeat; replicate and zero only ever read the edge sample
or cval beyond the image), so its cost is bounded by the image size.  The
results must equal a float64 reference that pads with the mode's own rule
and sums every tap.
"""
import time

import numpy as np
import pytest

import imgconv as ic
from imgconv import _filters

ndi = pytest.importorskip("scipy.ndimage")

MODES = ["zero", "replicate", "reflect", "symmetric", "wrap"]
RNG = np.random.default_rng(2026)


def source_index(i, n, mode):
    """Input sample read at (possibly far out of range) position ``i`` on an
    axis of ``n`` samples, -1 for cval: docs/design.md's padding rule, repeated."""
    i = np.asarray(i, np.int64)
    if mode == "zero":
        return np.where((i >= 0) & (i < n), i, -1)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "wrap":
        return i % n
    if mode == "symmetric":
        j = i % (2 * n)
        return np.where(j < n, j, 2 * n - 1 - j)
    if n == 1:
        return np.zeros_like(i)
    j = i % (2 * n - 2)
    return np.where(j < n, j, 2 * n - 2 - j)


def reference_1d(x, w, mode, cval=0.0, dilation=1, stride=1, origin=0):
    """float64 correlation along the last axis of ``x``, 'same' padding."""
    x = np.asarray(x, np.float64)
    n, k = x.shape[-1], len(w)
    lo = dilation * (k // 2 + origin)
    outputs = np.arange(0, n, stride)
    idx = source_index(outputs[:, None] + np.arange(k)[None, :] * dilation - lo, n, mode)
    values = np.where(idx >= 0, x[..., np.maximum(idx, 0)], cval)
    return values @ np.asarray(w, np.float64)


def reference(x, w, mode, cval=0.0, dilation=(1, 1), stride=(1, 1)):
    """float64 2D correlation, one axis after the other (the padding of
    each axis is independent of the other's)."""
    # the outer axis: every kernel row correlated along x, then summed along y
    n, k = x.shape[0], w.shape[0]
    lo = dilation[0] * (k // 2)
    per_row = np.stack([reference_1d(x, w[r], mode, cval, dilation[1], stride[1])
                        for r in range(k)])            # (k, n, m1)
    outputs = np.arange(0, n, stride[0])
    idx = source_index(outputs[:, None] + np.arange(k)[None, :] * dilation[0] - lo, n, mode)
    const = cval * np.asarray(w, np.float64).sum(axis=1)       # an all-cval row
    result = np.zeros((len(outputs), per_row.shape[2]))
    for r in range(k):
        inside = idx[:, r] >= 0
        result[inside] += per_row[r][idx[inside, r]]
        result[~inside] += const[r]
    return result


def test_reference_agrees_with_numpy_pad():
    names = {"zero": "constant", "replicate": "edge", "reflect": "reflect",
             "symmetric": "symmetric", "wrap": "wrap"}
    for mode in MODES:
        for n in (1, 2, 3, 6):
            x = RNG.random(n)
            w = RNG.standard_normal(9)
            for d in (1, 3):
                padded = np.pad(x, 4 * d, mode=names[mode])
                expected = [np.dot(w, padded[j:j + 8 * d + 1:d]) for j in range(n)]
                np.testing.assert_allclose(reference_1d(x, w, mode, dilation=d), expected,
                                           rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_correlate1d_kernel_longer_than_the_image(mode, n):
    x = RNG.random((3, n))
    cval = 0.75 if mode == "zero" else 0.0
    for k in (2 * n + 3, 4 * n + 8, 61):
        w = RNG.standard_normal(k)
        origin = int(RNG.integers(-(k // 2), (k - 1) // 2 + 1))
        got = ic.correlate1d(x, w, axis=1, mode=mode, cval=cval, origin=origin)
        np.testing.assert_allclose(got, reference_1d(x, w, mode, cval, origin=origin),
                                   rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "fft", "auto"])
def test_correlate_kernel_longer_than_the_image(mode, method):
    cval = -1.5 if mode == "zero" else 0.0
    for shape in [(1, 1), (2, 3), (5, 4), (7, 1)]:
        x = RNG.random(shape)
        w = RNG.standard_normal((2 * shape[0] + 5, 3 * shape[1] + 4))
        got = ic.correlate(x, w, mode=mode, cval=cval, method=method)
        np.testing.assert_allclose(got, reference(x, w, mode, cval), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_wide_dilation_and_stride(mode):
    cval = 2.0 if mode == "zero" else 0.0
    x = RNG.random((4, 6))
    w = RNG.standard_normal((3, 4))
    for dilation, stride in [((5, 7), (1, 1)), ((3, 11), (2, 3)), ((10 ** 6, 999), (3, 2))]:
        got = ic.correlate(x, w, mode=mode, cval=cval, dilation=dilation, stride=stride)
        np.testing.assert_allclose(got, reference(x, w, mode, cval, dilation, stride),
                                   rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_dilation_10_to_the_8_is_fast_and_exact(mode):
    x = np.arange(9.0).reshape(3, 3)
    w = RNG.standard_normal((3, 3))
    start = time.perf_counter()
    got = ic.correlate(x, w, mode=mode, dilation=10 ** 8)
    elapsed = time.perf_counter() - start
    np.testing.assert_allclose(got, reference(x, w, mode, 0.0, (10 ** 8, 10 ** 8)),
                               rtol=1e-12, atol=1e-12)
    assert elapsed < 2.0   # it built rows of 2e8 samples (5.5 GB) before the fold
    one_d = ic.correlate1d(x, [1.0, 2.0, 3.0], axis=0, mode=mode)
    np.testing.assert_allclose(
        ic.sepfilter(x, [[1.0, 2.0, 3.0], None], mode=mode, dilation=(10 ** 8 + 1, 1)),
        reference(x, np.array([[1.0], [2.0], [3.0]]), mode, 0.0, (10 ** 8 + 1, 1)),
        rtol=1e-12, atol=1e-12)
    assert one_d.shape == x.shape


def gaussian_taps(sigma, order, truncate=4.0):
    return np.asarray(_filters.gaussian_kernel1d(sigma, order, int(truncate * sigma + 0.5)))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("order", [0, 1, 2])
def test_gaussian_longer_than_the_image(mode, order):
    cval = 0.5 if mode == "zero" else 0.0
    for n in (1, 2, 3, 6):
        x = RNG.random((2, n))
        for sigma in (0.9 * n + 1, 7.3, 40.0):
            got = ic.gaussian(x, [0, sigma], order=[0, order], mode=mode, cval=cval)
            expected = reference_1d(x, gaussian_taps(sigma, order), mode, cval)
            np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_gaussian_2d_longer_than_the_image_matches_scipy(mode):
    scipy_mode = ic._validate.SCIPY_MODE[mode]
    cval = -0.5 if mode == "zero" else 0.0
    x = RNG.random((5, 3))
    got = ic.gaussian(x, (4.0, 9.5), mode=mode, cval=cval)
    np.testing.assert_allclose(got, ndi.gaussian_filter(x, (4.0, 9.5), mode=scipy_mode,
                                                        cval=cval), rtol=1e-11, atol=1e-12)
    got = ic.gaussian(x, (4.0, 9.5), order=(1, 2), mode=mode, cval=cval)
    np.testing.assert_allclose(got, ndi.gaussian_filter(x, (4.0, 9.5), order=(1, 2),
                                                        mode=scipy_mode, cval=cval),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_gaussian_summed_analytically_equals_tap_by_tap(mode, order, monkeypatch):
    """The Euler-Maclaurin sums (used for huge sigma) against the taps summed
    one by one, where both are affordable."""
    monkeypatch.setattr(_filters, "GAUSSIAN_EXACT_TAPS", 0)
    _filters.gaussian_kernel1d.cache_clear()
    _filters.gaussian_factor.cache_clear()
    sigma = 3000.0
    taps = gaussian_taps(sigma, order)
    for n in (1, 2, 5, 9):
        x = RNG.random((2, n))
        got = ic.gaussian(x, [0, sigma], order=[0, order], mode=mode)
        scale = np.abs(taps).sum() * np.abs(x).max()
        np.testing.assert_allclose(got, reference_1d(x, taps, mode), rtol=0,
                                   atol=1e-13 * scale)
    _filters.gaussian_kernel1d.cache_clear()
    _filters.gaussian_factor.cache_clear()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
def test_huge_sigma_is_fast_and_keeps_ones(dtype, mode):
    ones = np.ones((3, 3), dtype)
    for sigma in (1e6, 1e7, 3e7):
        start = time.perf_counter()
        got = ic.gaussian(ones, sigma, mode=mode)
        assert time.perf_counter() - start < 1.0
        if mode == "zero":
            # nearly every tap lands on the zero padding
            assert got.max() < 1e-5
        else:
            np.testing.assert_allclose(got, 1.0, rtol=4 * np.finfo(dtype).eps)


def test_sigma_beyond_the_old_2_to_the_28_taps():
    start = time.perf_counter()
    for sigma in (1e9, 1e12):
        got = ic.gaussian(np.ones((4, 5), np.float32), sigma)
        np.testing.assert_allclose(got, 1.0, rtol=4 * np.finfo(np.float32).eps)
    assert time.perf_counter() - start < 1.0
    # offsets beyond 2**52 are no longer exact in float64: a clear error
    with pytest.raises(ValueError, match="makes a kernel of"):
        ic.gaussian(np.ones((4, 5)), 1e17)


def test_huge_sigma_averages_a_periodic_image():
    """Wrapped, a Gaussian far wider than the image weighs every sample of a
    row alike: the result is the mean."""
    x = RNG.random((4, 7))
    got = ic.gaussian(x, [0, 3e7], mode="wrap")
    np.testing.assert_allclose(got, np.broadcast_to(x.mean(axis=1, keepdims=True), x.shape),
                               rtol=1e-9)


def test_float32_gaussian_taps_sum_to_one():
    for sigma in (0.5, 1.0, 2.0, 3.3, 10.0, 60.0):
        taps = _filters._compute_taps(gaussian_taps(sigma, 0), np.dtype(np.float32), 0)
        assert taps.dtype == np.float32
        error = abs(np.sum(taps, dtype=np.float64) - 1.0)
        assert error <= np.spacing(taps.max()) / 2, sigma


@pytest.mark.parametrize("mode", ["reflect", "symmetric", "replicate", "wrap"])
def test_float32_gaussian_keeps_the_sum_of_a_ramp(mode):
    ramp = (np.arange(100)[:, None] + np.arange(100)[None, :]).astype(np.float32)
    scipy_mode = ic._validate.SCIPY_MODE[mode]
    for sigma in (1.0, 5.0, 30.0, 300.0):
        expected = ndi.gaussian_filter(ramp.astype(np.float64), sigma, mode=scipy_mode).sum()
        got = ic.gaussian(ramp, sigma, mode=mode).sum(dtype=np.float64)
        assert abs(got - expected) < 0.25, (sigma, got - expected)


@pytest.mark.parametrize("mode", MODES)
def test_box_longer_than_the_image(mode):
    cval = 1.25 if mode == "zero" else 0.0
    scipy_mode = ic._validate.SCIPY_MODE[mode]
    for shape in [(1, 1), (2, 3), (5, 4)]:
        x = RNG.random(shape)
        for size in [(2 * shape[0] + 3, 1), (3, 4 * shape[1] + 1), (9, 12)]:
            origin = (size[0] // 2 - size[0] + 1 if size[0] > 1 else 0, (size[1] - 1) // 2)
            got = ic.box(x, size, mode=mode, cval=cval, origin=origin)
            expected = ndi.uniform_filter(x, size, mode=scipy_mode, cval=cval, origin=origin)
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_huge_box_is_fast():
    x = RNG.random((3, 4)).astype(np.float32)
    start = time.perf_counter()
    got = ic.box(x, 10 ** 8 + 1, mode="wrap")
    assert time.perf_counter() - start < 1.0    # 2.6 s for 10**7 with running sums
    # wrapped, each row and column is summed (nearly) whole, once per period
    np.testing.assert_allclose(got, x.mean(), rtol=1e-5)
    one_d = ic.correlate1d(x, np.ones(3 * 10 ** 6) / 3e6, axis=1, mode="symmetric")
    np.testing.assert_allclose(one_d, np.broadcast_to(x.mean(1, keepdims=True), x.shape),
                               rtol=1e-5)

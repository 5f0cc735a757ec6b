"""axes=: filter some axes, every other axis independently (as scipy.ndimage's axes)."""
import numpy as np
import pytest

import imgconv as ic
from reference import cval_for

ndi = pytest.importorskip("scipy.ndimage")

RNG = np.random.default_rng(11)


def per_slice(func, x, axis):
    """func applied to every slice of x along ``axis``, restacked."""
    return np.stack([func(np.take(x, i, axis=axis)) for i in range(x.shape[axis])], axis=axis)


@pytest.mark.parametrize("method", ["direct", "fft", "auto"])
@pytest.mark.parametrize("mode", ["reflect", "zero", "wrap"])
def test_stack_filtered_slice_by_slice(method, mode):
    stack = RNG.random((4, 17, 19)).astype(np.float32)
    w = RNG.standard_normal((5, 3))
    cval = cval_for(mode, 0.5)
    got = ic.correlate(stack, w, axes=(1, 2), mode=mode, cval=cval, method=method)
    expected = per_slice(lambda s: ic.correlate(s, w, mode=mode, cval=cval, method="direct"),
                         stack, 0)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_axes_order_follows_the_kernel():
    stack = RNG.random((3, 11, 13))
    w = RNG.standard_normal((5, 3))
    np.testing.assert_allclose(ic.correlate(stack, w, axes=(2, 1)),
                               ic.correlate(stack, w.T, axes=(1, 2)), rtol=1e-12)


def test_middle_axis_batch_and_four_dims():
    x = RNG.random((3, 4, 9, 10))
    w = RNG.standard_normal((3, 3, 3))
    got = ic.convolve(x, w, axes=(0, 2, 3), mode="symmetric")
    expected = per_slice(lambda s: ndi.convolve(s, w, mode="reflect"), x, 1)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_channels_and_axes_together_with_unmergeable_batch():
    vol = RNG.random((5, 12, 14, 3)).astype(np.float32)
    w = RNG.standard_normal((3, 5))
    got = ic.correlate(vol, w, axes=(1, 2), channel_axis=-1, dtype=np.float64)
    expected = per_slice(lambda s: per_slice(lambda c: ndi.correlate(c.astype(float), w,
                                                                     mode="mirror"), s, 2), vol, 0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "zero"])
def test_filters_with_axes_match_scipy(mode):
    vol = RNG.random((6, 15, 16))
    sm = ic._validate.SCIPY_MODE[mode]
    np.testing.assert_allclose(ic.gaussian(vol, [1.0, 2.0], axes=(0, 2), mode=mode),
                               ndi.gaussian_filter(vol, [1.0, 0, 2.0], mode=sm), atol=1e-12)
    np.testing.assert_allclose(ic.box(vol, [3, 4], axes=(1, 2), mode=mode),
                               per_slice(lambda s: ndi.uniform_filter(s, [3, 4], mode=sm), vol, 0),
                               atol=1e-12)
    np.testing.assert_allclose(ic.sobel(vol, axis=2, axes=(1, 2), mode=mode),
                               per_slice(lambda s: ndi.sobel(s, 1, mode=sm), vol, 0), atol=1e-12)
    np.testing.assert_allclose(ic.laplace(vol, axes=(1, 2), mode=mode),
                               per_slice(lambda s: ndi.laplace(s, mode=sm), vol, 0), atol=1e-12)
    np.testing.assert_allclose(ic.sepfilter(vol, [[1, 2, 1], None], axes=(0, 1), mode=mode),
                               ndi.correlate1d(vol, [1, 2, 1], 0, mode=sm), atol=1e-12)


@pytest.mark.parametrize("axes,match", [
    ((1, 1), "repeats"), ((0, 3), "out of range"), ((0, 1, 2, 3), "out of range"),
    ("ab", "axes must be"), ((0.5,), "axes must be"),
])
def test_bad_axes(axes, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ic.gaussian(np.zeros((4, 5, 6)), 1.0, axes=axes)


def test_axes_cannot_include_channels_and_axis_must_be_filtered():
    with pytest.raises(ValueError, match="channel axis"):
        ic.box(np.zeros((4, 5, 3)), 3, channel_axis=-1, axes=(1, 2))
    with pytest.raises(ValueError, match="not one of the filtered axes"):
        ic.sobel(np.zeros((4, 5, 6)), axis=0, axes=(1, 2))

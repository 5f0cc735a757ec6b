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


def test_kernel_dimensions_follow_ascending_axes():
    # scipy.ndimage's rule: the kernel's dimensions map onto the axes in
    # ascending array order, whatever order axes= gives them in
    stack = RNG.random((3, 11, 13))
    w = RNG.standard_normal((5, 3))
    np.testing.assert_allclose(ic.correlate(stack, w, axes=(2, 1)),
                               ic.correlate(stack, w, axes=(1, 2)), rtol=1e-12)


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


# ---------------------------------------------------------------------------
# unsorted axes: kernels and footprints map onto the axes in ascending
# array order, per-axis values follow the order given (scipy.ndimage's rule)
# ---------------------------------------------------------------------------
UNSORTED = [(1, 0), (2, 0), (2, 1, 0), (0, 2, 1), (-1, 0)]


def _random_volume():
    # 4D: with every axis named, scipy takes origins in array order instead
    shape = tuple(int(n) for n in RNG.integers(1, 8, size=4))
    return RNG.random(shape)


@pytest.mark.parametrize("axes", UNSORTED)
@pytest.mark.parametrize("mode", ["reflect", "symmetric", "replicate", "wrap", "zero"])
def test_unsorted_axes_correlate_convolve_match_scipy(axes, mode):
    sm = ic._validate.SCIPY_MODE[mode]
    x = _random_volume()
    kshape = tuple(int(k) for k in RNG.integers(1, 6, size=len(axes)))
    w = RNG.standard_normal(kshape)
    origin = [int(RNG.integers(-(k // 2), (k - 1) // 2 + 1)) for k in
              (kshape[sorted(axes, key=lambda a: a % 4).index(a)] for a in axes)]
    cval = cval_for(mode, 0.25)
    for method in ("direct", "fft"):
        np.testing.assert_allclose(
            ic.correlate(x, w, axes=axes, mode=mode, cval=cval, origin=origin, method=method),
            ndi.correlate(x, w, axes=axes, mode=sm, cval=cval, origin=origin),
            rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(
            ic.convolve(x, w, axes=axes, mode=mode, cval=cval, method=method),
            ndi.convolve(x, w, axes=axes, mode=sm, cval=cval), rtol=1e-10, atol=1e-10)


def test_unsorted_axes_issue_example():
    x = np.arange(576.).reshape(6, 8, 12)
    w = np.arange(15.).reshape(3, 5)
    np.testing.assert_allclose(ic.correlate(x, w, axes=(1, 0), mode="symmetric"),
                               ndi.correlate(x, w, axes=(1, 0), mode="reflect"), rtol=1e-12)


@pytest.mark.parametrize("axes", UNSORTED)
@pytest.mark.parametrize("mode", ["reflect", "replicate", "zero"])
def test_unsorted_axes_filters_match_scipy(axes, mode):
    sm = ic._validate.SCIPY_MODE[mode]
    x = _random_volume()
    r = len(axes)
    sigma = [0.7, 1.6, 1.1][:r]
    order = [1, 0, 2][:r]
    size = [2, 3, 4][:r]
    np.testing.assert_allclose(ic.gaussian(x, sigma, axes=axes, mode=mode),
                               ndi.gaussian_filter(x, sigma, axes=axes, mode=sm), atol=1e-12)
    np.testing.assert_allclose(ic.gaussian(x, sigma, order=order, axes=axes, mode=mode),
                               ndi.gaussian_filter(x, sigma, order=order, axes=axes, mode=sm),
                               atol=1e-12)
    np.testing.assert_allclose(ic.box(x, size, axes=axes, mode=mode, origin=[0, -1, 1][:r]),
                               ndi.uniform_filter(x, size, axes=axes, mode=sm,
                                                  origin=[0, -1, 1][:r]), atol=1e-12)
    for name, smooth in (("sobel", [1, 2, 1]), ("prewitt", [1, 1, 1])):
        for axis in axes:
            expected = ndi.correlate1d(x, [-1, 0, 1], axis, mode=sm)
            for other in axes:
                if other % x.ndim != axis % x.ndim:
                    expected = ndi.correlate1d(expected, smooth, other, mode=sm)
            np.testing.assert_allclose(getattr(ic, name)(x, axis=axis, axes=axes, mode=mode),
                                       expected, atol=1e-12)
    np.testing.assert_allclose(ic.laplace(x, axes=axes, mode=mode),
                               ndi.laplace(x, axes=axes, mode=sm), atol=1e-12)
    kernels = [RNG.standard_normal(int(k)) for k in RNG.integers(1, 5, size=r)]
    expected = x
    for a, k in zip(axes, kernels):
        expected = ndi.correlate1d(expected, k, a, mode=sm)
    np.testing.assert_allclose(ic.sepfilter(x, kernels, axes=axes, mode=mode), expected,
                               atol=1e-12)


@pytest.mark.parametrize("axes", UNSORTED)
@pytest.mark.parametrize("mode", [None, "reflect", "replicate", "wrap"])
def test_unsorted_axes_morphology_matches_scipy(axes, mode):
    x = (RNG.random((6, 7, 8, 2)) * 100).astype(np.int16)
    kshape = tuple(int(k) for k in RNG.integers(1, 5, size=len(axes)))
    fp = RNG.random(kshape) < 0.6
    fp.flat[0] = True
    if fp.size > 1:
        # scipy takes an all-True footprint's shape as per-axis sizes in the
        # order of axes, contradicting its own rule for other footprints
        fp.flat[-1] = False
    sm = "constant" if mode is None else ic._validate.SCIPY_MODE[mode]
    info = np.iinfo(x.dtype)
    # scipy's grey_dilation pairs the even-size centre shift of footprint
    # dimension i with axes[i] (not ascending): it is compared with the same
    # axes sorted, which changes nothing under the rule
    ascending = sorted(range(len(axes)), key=lambda i: axes[i] % x.ndim)
    sorted_axes = [axes[i] for i in ascending]
    size = [3, 1, 2][:len(axes)]
    for ours, theirs, neutral, their_axes, their_size in (
            (ic.erode, ndi.grey_erosion, info.max, axes, size),
            (ic.dilate, ndi.grey_dilation, info.min, sorted_axes, [size[i] for i in ascending])):
        cval = neutral if mode is None else 0
        np.testing.assert_array_equal(ours(x, fp, axes=axes, mode=mode),
                                      theirs(x, footprint=fp, axes=their_axes, mode=sm, cval=cval))
        np.testing.assert_array_equal(ours(x, size=size, axes=axes, mode=mode),
                                      theirs(x, size=their_size, axes=their_axes, mode=sm,
                                             cval=cval))


@pytest.mark.parametrize("op", ["max", "avg"])
def test_unsorted_axes_pooling_follows_the_given_order(op):
    x = RNG.random((6, 5, 9))
    got = ic.pool(x, (3, 2), stride=(2, 1), axes=(2, 0), op=op, mode="replicate")
    expected = ic.pool(x, (2, 3), stride=(1, 2), axes=(0, 2), op=op, mode="replicate")
    np.testing.assert_allclose(got, expected, rtol=1e-14)
    # against a float64 reference: windows of 2 along axis 0 (stride 1), 3 along axis 2 (stride 2)
    windows = np.lib.stride_tricks.sliding_window_view(x, (2, 3), axis=(0, 2))[:, :, ::2]
    reduce = np.max if op == "max" else np.mean
    np.testing.assert_allclose(got, reduce(windows, axis=(-2, -1)), rtol=1e-12)


def test_unsorted_axes_pooling_indices_count_in_array_order():
    x = RNG.random((5, 4, 7))
    values, where = ic.pool(x, (3, 2), axes=(2, 0), return_indices=True)
    plane = np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])      # (z*W + x, y)
    for y in range(x.shape[1]):
        np.testing.assert_array_equal(plane[where[:, y, :], y], values[:, y, :])
    _, expected = ic.pool(x, (2, 3), axes=(0, 2), return_indices=True)
    np.testing.assert_array_equal(where, expected)

"""``radius=`` of the Gaussian filters (scipy.ndimage's argument): the
kernel's radius per axis, ``truncate`` ignored."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import imgconv as ic
from imgconv._validate import SCIPY_MODE

ndi = pytest.importorskip("scipy.ndimage")

MODES = sorted(SCIPY_MODE)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 23), min_size=1, max_size=3),
       data=st.data())
def test_gaussian_radius_equals_scipy(shape, data):
    rank = len(shape)
    rng = np.random.default_rng(len(shape) * 97 + sum(shape))
    x = rng.standard_normal(shape)
    sigma = data.draw(st.lists(st.floats(0.3, 6.0), min_size=rank, max_size=rank))
    radius = data.draw(st.lists(st.integers(0, 12), min_size=rank, max_size=rank))
    order = data.draw(st.lists(st.integers(0, 2), min_size=rank, max_size=rank))
    mode = data.draw(st.sampled_from(MODES))
    got = ic.gaussian(x, sigma, order=order, radius=radius, mode=mode)
    want = ndi.gaussian_filter(x, sigma, order=order, radius=radius, mode=SCIPY_MODE[mode])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_one_radius_for_every_axis_and_truncate_ignored(mode):
    x = np.random.default_rng(1).random((19, 14)).astype(np.float32)
    got = ic.gaussian(x, 2.5, radius=3, truncate=100.0, mode=mode)
    want = ndi.gaussian_filter(x.astype(np.float64), 2.5, radius=3, mode=SCIPY_MODE[mode])
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)
    # a radius wider than truncate gives a different (longer) kernel
    assert not np.allclose(ic.gaussian(x, 2.5, radius=12, mode=mode),
                           ic.gaussian(x, 2.5, radius=3, mode=mode), atol=1e-4)


@pytest.mark.parametrize("function", ["gaussian_laplace", "gaussian_gradient_magnitude"])
@pytest.mark.parametrize("radius", [0, 2, (1, 5), 30])
def test_derivative_filters_take_radius(function, radius):
    x = np.random.default_rng(2).random((17, 21))
    got = getattr(ic, function)(x, (1.5, 2.0), radius=radius, mode="symmetric")
    want = getattr(ndi, function)(x, (1.5, 2.0), radius=radius, mode="reflect")
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_radius_is_in_pixels_with_spacing():
    x = np.random.default_rng(3).random((9, 12, 10))
    spacing = (2.5, 0.8, 1.0)
    got = ic.gaussian(x, 2.0, spacing=spacing, radius=(1, 4, 2))
    want = ndi.gaussian_filter(x, [2.0 / d for d in spacing], radius=(1, 4, 2), mode="mirror")
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_radius_follows_axes_order():
    x = np.random.default_rng(4).random((8, 9, 10))
    got = ic.gaussian(x, (1.0, 2.0), radius=(2, 5), axes=(2, 0))
    want = ndi.gaussian_filter(x, (1.0, 2.0), radius=(2, 5), axes=(2, 0), mode="mirror")
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_repeated_calls_with_other_radii_are_not_mixed_up():
    # the plan cache must key on radius
    x = np.random.default_rng(5).random((32, 32)).astype(np.float32)
    a = [ic.gaussian(x, 3.0, radius=r) for r in (1, 6, 1, 6)]
    np.testing.assert_array_equal(a[0], a[2])
    np.testing.assert_array_equal(a[1], a[3])
    assert not np.array_equal(a[0], a[1])


@pytest.mark.parametrize("radius, message", [
    (-1, "radius"), (1.5, "radius"), ((1, 2, 3), "radius"), ("3", "radius")])
def test_bad_radius_is_a_clear_error(radius, message):
    with pytest.raises((TypeError, ValueError), match=message):
        ic.gaussian(np.zeros((5, 5)), 1.0, radius=radius)

"""gaussian_laplace and gaussian_gradient_magnitude against scipy.ndimage's
(and, with ``spacing``, against scipy's Gaussian derivative passes scaled to
physical units); tests/test_conformance.py runs them on every backend."""
import numpy as np
import pytest

ndi = pytest.importorskip("scipy.ndimage")

import imgconv as ic  # noqa: E402
from imgconv._validate import SCIPY_MODE  # noqa: E402

MODES = ["zero", "replicate", "reflect", "symmetric", "wrap"]
SHAPES = {1: (37,), 2: (19, 23), 3: (9, 11, 13)}
SIGMAS = {1: 1.7, 2: (1.2, 2.1), 3: (0.8, 1.5, 1.1)}
FUNCTIONS = {"gaussian_laplace": (ic.gaussian_laplace, ndi.gaussian_laplace, 2),
             "gaussian_gradient_magnitude": (ic.gaussian_gradient_magnitude,
                                             ndi.gaussian_gradient_magnitude, 1)}
parametrize_functions = pytest.mark.parametrize("name", list(FUNCTIONS))


def scale(want):
    return max(1.0, float(np.abs(want).max()))


def assert_close(got, want, rtol):
    """``got`` within ``rtol`` of the largest magnitude of ``want``."""
    assert got.shape == want.shape
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=0,
                               atol=rtol * scale(want))


def by_passes(x, sigma, order, spacing, mode, cval=0.0, truncate=4.0, axes=None):
    """The definition, from scipy's Gaussian derivative passes: per axis the
    derivative of ``order`` (per unit of ``spacing``), summed (order 2) or
    summed in squares under a square root (order 1)."""
    axes = tuple(range(x.ndim)) if axes is None else tuple(axes)
    rank = len(axes)
    sigma = np.broadcast_to(np.asarray(sigma, np.float64), (rank,))
    spacing = np.broadcast_to(np.asarray(spacing, np.float64), (rank,))
    total = 0.0
    for i in range(rank):
        orders = [order if j == i else 0 for j in range(rank)]
        d = ndi.gaussian_filter(x, sigma / spacing, order=orders, mode=SCIPY_MODE[mode],
                                cval=cval, truncate=truncate, axes=axes) / spacing[i] ** order
        total = total + (d * d if order == 1 else d)
    return np.sqrt(total) if order == 1 else total


@parametrize_functions
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
def test_equals_scipy(name, rank, mode):
    mine, scipys, _ = FUNCTIONS[name]
    rng = np.random.default_rng(rank)
    x = rng.standard_normal(SHAPES[rank]) * 10
    cval = 1.5 if mode == "zero" else 0.0
    got = mine(x, SIGMAS[rank], mode=mode, cval=cval)
    assert got.dtype == np.float64
    want = scipys(x, SIGMAS[rank], mode=SCIPY_MODE[mode], cval=cval)
    assert_close(got, want, 1e-12)


@parametrize_functions
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32", "float32", "float64",
                                   "int8", "float16", "uint32"])
def test_input_dtypes(name, dtype):
    mine, scipys, _ = FUNCTIONS[name]
    rng = np.random.default_rng(3)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    x = (rng.integers(max(info.min, -100), min(info.max, 200), SHAPES[2]) if info
         else rng.standard_normal(SHAPES[2]) * 50).astype(dtype)
    got = mine(x, 1.3)
    compute = ic._validate.compute_dtype(x.dtype)
    assert got.dtype == compute
    # scipy keeps an integer input's dtype through its passes: compared in float64
    want = scipys(x.astype(np.float64), 1.3, mode="mirror")
    assert_close(got, want, 1e-5 if compute == np.float32 else 1e-12)


@parametrize_functions
def test_truncate_and_sigma_per_axis(name):
    mine, scipys, _ = FUNCTIONS[name]
    x = np.random.default_rng(4).standard_normal((15, 40))
    for sigma, truncate in [((0.7, 3.0), 4.0), ((2.5, 0.9), 2.2), (9.0, 4.0), (0.3, 1.0)]:
        got = mine(x, sigma, truncate=truncate, mode="wrap")
        want = scipys(x, sigma, truncate=truncate, mode="wrap")
        assert_close(got, want, 1e-12)


@parametrize_functions
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_spacing_gives_physical_derivatives(name, rank):
    mine, scipys, order = FUNCTIONS[name]
    x = np.random.default_rng(5).standard_normal(SHAPES[rank])
    spacing = (2.5, 0.8, 1.25)[:rank]
    for mode in ("reflect", "zero"):
        got = mine(x, 2.0, spacing=spacing, mode=mode)
        assert_close(got, by_passes(x, 2.0, order, spacing, mode), 1e-12)
    # a uniform spacing d: scipy's filter with sigma / d, per unit: / d**order
    got = mine(x, 3.0, spacing=1.5)
    want = scipys(x, 2.0, mode="mirror") / (1.5 ** order if order == 2 else 1.5)
    assert_close(got, want, 1e-12)
    np.testing.assert_array_equal(mine(x, 1.3, spacing=1.0), mine(x, 1.3))


def test_gaussian_order_with_spacing_is_per_physical_unit():
    x = np.random.default_rng(6).standard_normal((12, 17))
    spacing = (2.0, 0.5)
    got = ic.gaussian(x, 1.5, order=(1, 2), spacing=spacing)
    want = ndi.gaussian_filter(x, (0.75, 3.0), order=(1, 2), mode="mirror") / (2.0 * 0.25)
    assert_close(got, want, 1e-12)
    # a linear ramp of slope 3 per unit along axis 1 (0.5 units, 1.5 per
    # sample): the sampled, truncated derivative of Gaussian gives the slope
    # within 1e-3
    ramp = np.tile(np.arange(40.0) * 1.5, (6, 1))
    d = ic.gaussian(ramp, (0, 2.0), order=(0, 1), spacing=(1.0, 0.5), mode="replicate")
    np.testing.assert_allclose(d[:, 15:25], 3.0, rtol=1e-3)


@parametrize_functions
def test_channel_axis_and_axes(name):
    mine, scipys, order = FUNCTIONS[name]
    rng = np.random.default_rng(7)
    x = rng.standard_normal((10, 3, 12))
    got = mine(x, (1.1, 1.6), channel_axis=1, mode="symmetric")
    for c in range(3):
        want = scipys(x[:, c], (1.1, 1.6), mode="reflect")
        assert_close(got[:, c], want, 1e-12)
    # axes: per-axis sigma follow the order given (scipy's rule)
    vol = rng.standard_normal((7, 8, 9))
    got = mine(vol, (2.0, 0.9), axes=(2, 0), mode="wrap")
    assert_close(got, by_passes(vol, (2.0, 0.9), order, 1.0, "wrap", axes=(2, 0)), 1e-12)
    if name == "gaussian_laplace":
        # (scipy 1.17's gaussian_gradient_magnitude smooths the axes left out
        # of axes too, so only its definition is the reference there)
        assert_close(got, scipys(vol, (2.0, 0.9), axes=(2, 0), mode="wrap"), 1e-12)
    got = mine(vol, 1.2, axes=(1, 2), spacing=(0.5, 2.0))
    assert_close(got, by_passes(vol, 1.2, order, (0.5, 2.0), "reflect", axes=(1, 2)), 1e-12)


@parametrize_functions
def test_dtype_and_out(name):
    mine, scipys, _ = FUNCTIONS[name]
    x = (np.random.default_rng(8).standard_normal((14, 15)) * 400).astype(np.float32)
    want = scipys(x.astype(np.float64), 1.0, mode="mirror")
    for dtype in ("uint8", "int16", "float64"):
        got = mine(x, 1.0, dtype=dtype)
        assert got.dtype == np.dtype(dtype)
        if np.dtype(dtype).kind in "iu":
            info = np.iinfo(dtype)
            expect = np.clip(np.rint(want), info.min, info.max)
            # float32 compute: a result within its rounding of .5 may round either way
            assert np.abs(got - expect).max() <= 1
            assert (got == expect).mean() > 0.99
        else:
            assert_close(got, want, 1e-5)
    out = np.full(x.shape, 7, np.int16)
    assert mine(x, 1.0, dtype=np.int16, out=out) is out
    np.testing.assert_array_equal(out, mine(x, 1.0, dtype=np.int16))
    out32 = np.empty(x.shape, np.float32)
    assert mine(x, 1.0, out=out32) is out32
    np.testing.assert_array_equal(out32, mine(x, 1.0))
    with pytest.raises(ValueError, match="out has shape"):
        mine(x, 1.0, out=np.empty((3, 3), np.float32))


@parametrize_functions
def test_repeated_calls_use_the_plan_and_agree(name):
    mine, _, _ = FUNCTIONS[name]
    rng = np.random.default_rng(9)
    first = rng.standard_normal((16, 16)).astype(np.float32)
    second = rng.standard_normal((16, 16)).astype(np.float32)
    a = mine(first, 1.4, mode="zero", cval=0.5)
    b = mine(second, 1.4, mode="zero", cval=0.5)      # the cached plans, another input
    ic._convolve._plan_cache.clear()
    np.testing.assert_array_equal(b, mine(second, 1.4, mode="zero", cval=0.5))
    np.testing.assert_array_equal(a, mine(first, 1.4, mode="zero", cval=0.5))
    # a pass's plan evicted while the first one stays: planned again
    keys = [k for k in ic._convolve._plan_cache if isinstance(k, tuple) and len(k) == 2
            and k[1] == 1]
    for k in keys:
        del ic._convolve._plan_cache[k]
    np.testing.assert_array_equal(a, mine(first, 1.4, mode="zero", cval=0.5))


@parametrize_functions
def test_bad_arguments(name):
    mine, _, _ = FUNCTIONS[name]
    x = np.ones((6, 7))
    with pytest.raises(ValueError, match="sigma > 0 on every filtered axis"):
        mine(x, (1.0, 0.0))
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        mine(x, -1.0)
    with pytest.raises(ValueError, match="sigma needs 2 values"):
        mine(x, (1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="spacing must be > 0"):
        mine(x, 1.0, spacing=0.0)
    with pytest.raises(ValueError, match="cval only applies"):
        mine(x, 1.0, cval=1.0)
    with pytest.raises(TypeError, match="dtype must be a numpy dtype"):
        mine(x, 1.0, dtype="nonsense")

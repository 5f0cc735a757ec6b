"""The fused gradient magnitude (pyx/gradient.pxi) against scipy.ndimage.

sobel, prewitt, scharr and gradient_magnitude with ``axis=None`` compute every
axis's derivative and ``sqrt(sum of squares)`` in one sweep.  test_filters.py's
battery checks them like every other filter; this file checks what is
specific to the fused sweep: the same values as the axis-by-axis
computation (bit for bit where that computation is exact), the row cache's
strips and tiles, thread counts, NaN placement and layouts.
"""
import numpy as np
import pytest

ndi = pytest.importorskip("scipy.ndimage")

import imgconv as ic  # noqa: E402
from imgconv._validate import SCIPY_MODE  # noqa: E402
from test_filters import (COMPUTE, DTYPES, assert_close, edge_l1, edge_ref,  # noqa: E402
                          random_array)

OPERATORS = ["sobel", "prewitt", "scharr"]
MODES = ["zero", "replicate", "reflect", "symmetric", "wrap"]


def magnitude(x, op, **kw):
    return ic.gradient_magnitude(x, op, **kw)


def check_vs_scipy(x, op, mode="reflect", err_msg="", **kw):
    got = magnitude(x, op, mode=mode, **kw)
    want = edge_ref(x, op, None, SCIPY_MODE[mode])
    compute = COMPUTE[x.dtype.name]
    assert got.dtype == compute and got.shape == x.shape
    assert_close(got, want, x, edge_l1(op, x.ndim, None), compute, err_msg=err_msg)
    return got


@pytest.mark.parametrize("op", OPERATORS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_all_modes_dtypes_ranks_vs_scipy(op, mode, dtype):
    rng = np.random.default_rng(MODES.index(mode) * 10 + DTYPES.index(dtype))
    for shape in [(41,), (1, 1), (1, 7), (6, 1), (2, 2), (23, 37), (1, 1, 1), (3, 1, 4),
                  (5, 6, 7)]:
        check_vs_scipy(random_array(rng, shape, dtype), op, mode, err_msg=str(shape))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_repeated_calls_take_the_prepared_sweep_with_the_same_result(mode, dtype):
    """The second call of one layout runs the plan's prepared kernel call
    (no checks, no views): bit for bit the first call's result, for every
    dtype, mode, output dtype, rank, and layouts that take the general route
    (strided input, out=)."""
    from imgconv import _convolve
    rng = np.random.default_rng(5)
    for shape in [(1, 1), (9, 13), (4, 5, 6), (17,)]:
        x = random_array(rng, shape, dtype)
        before = x.copy()
        for kw in ({}, {"dtype": "float64"}, {"dtype": "uint8"}):
            _convolve._plan_cache.clear()
            first = ic.sobel(x, mode=mode, **kw)
            want = edge_ref(x, "sobel", None, SCIPY_MODE[mode])
            if "dtype" not in kw:
                assert_close(first, want, x, edge_l1("sobel", x.ndim, None),
                             COMPUTE[x.dtype.name])
            for _ in range(2):
                again = ic.sobel(x, mode=mode, **kw)
                assert again is not first and again.dtype == first.dtype
                np.testing.assert_array_equal(again, first)
            plans = [plan for plan in _convolve._plan_cache.values()
                     if type(plan).__name__ == "MagnitudePlan"]
            assert len(plans) == 1 and plans[0].call is not None
            strided = np.repeat(x, 2, axis=-1)[..., ::2]
            np.testing.assert_array_equal(ic.sobel(strided, mode=mode, **kw), first)
            out = np.empty(shape, first.dtype)
            assert ic.sobel(x, mode=mode, out=out, **kw) is out
            np.testing.assert_array_equal(out, first)
        np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("op", OPERATORS)
def test_uint8_equals_the_float32_axis_by_axis_result_exactly(op):
    # integer sums and their squares are exact in float32 (up to 2**24), so
    # the fused sweep and the axis-by-axis passes round at the same steps
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (61, 83), dtype=np.uint8)
    xd = x.astype(np.float64)
    d0, d1 = (edge_ref(xd, op, a, "mirror").astype(np.float32) for a in (0, 1))
    want = np.sqrt(np.square(d0) + np.square(d1))
    np.testing.assert_array_equal(magnitude(x, op), want)
    # as the derivative filters compute them one axis at a time
    by_axis = [getattr(ic, op)(x, a) for a in (0, 1)]
    np.testing.assert_array_equal(magnitude(x, op), np.sqrt(by_axis[0] ** 2 + by_axis[1] ** 2))


def test_sobel_prewitt_scharr_without_axis_are_the_magnitude():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((19, 24)).astype(np.float32)
    for op in OPERATORS:
        np.testing.assert_array_equal(getattr(ic, op)(x), magnitude(x, op))


@pytest.mark.parametrize("shape", [(3, 120_000), (2, 3, 70_000)])
def test_rows_wider_than_a_cache_strip(shape):
    # a strip of the row cache is at most 2 MiB of rows per thread: these
    # rows are cut into several strips, whose edges must join seamlessly
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, shape, dtype=np.uint8)
    for mode in ("reflect", "wrap"):
        check_vs_scipy(x, "sobel", mode, err_msg=mode)


def test_volume_in_several_row_tiles():
    # a volume sweeps tiles of rows through its planes: tall enough for
    # several tiles, and boundary planes and rows in every mode
    rng = np.random.default_rng(4)
    x = rng.standard_normal((9, 150, 260)).astype(np.float32)
    for mode in MODES:
        check_vs_scipy(x, "scharr", mode, err_msg=mode)


@pytest.mark.parametrize("shape", [(256, 300), (40, 50, 60), (3, 1000)])
@pytest.mark.parametrize("dtype", ["uint8", "float64"])
def test_thread_counts_give_identical_results(shape, dtype):
    rng = np.random.default_rng(5)
    x = random_array(rng, shape, dtype)
    one = magnitude(x, "sobel", threads=1)
    for threads in (2, 3, 7):
        np.testing.assert_array_equal(magnitude(x, "sobel", threads=threads), one,
                                      err_msg=str(threads))


def test_nan_and_inf_reach_the_outputs_they_reach_axis_by_axis():
    # zero taps are skipped (as in every imgconv correlation, where scipy
    # multiplies them): a NaN does not reach the derivative along an axis
    # at its own position, nor an inf make 0 * inf = NaN
    x = np.zeros((9, 11))
    x[4, 5] = np.nan
    x[1, 8] = np.inf
    x[7, 1] = -np.inf
    for op in OPERATORS:
        got = magnitude(x, op)
        by_axis = np.sqrt(sum(getattr(ic, op)(x, a) ** 2 for a in (0, 1)))
        np.testing.assert_array_equal(got, by_axis, err_msg=op)
        assert not np.isnan(got[4, 5]) and np.isinf(got[1, 7])


@pytest.mark.parametrize("channel_axis", [0, 1, -1])
def test_channel_axis_anywhere(channel_axis):
    rng = np.random.default_rng(6)
    x = rng.integers(0, 65536, (4, 5, 6, 7), dtype=np.uint16)
    got = magnitude(x, "prewitt", channel_axis=channel_axis)
    each = [magnitude(np.take(x, c, axis=channel_axis), "prewitt")
            for c in range(x.shape[channel_axis])]
    np.testing.assert_array_equal(got, np.stack(each, axis=channel_axis % x.ndim))


def test_axes_in_any_order_and_unfiltered_axes():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 5, 8))
    got = magnitude(x, "sobel", axes=(2, 0))
    want = np.stack([edge_ref(x[:, i], "sobel", None, "mirror") for i in range(5)], axis=1)
    assert_close(got, want, x, edge_l1("sobel", 2, None), np.float64)
    # the squares are summed in the order of ``axes``: equal to rounding
    assert_close(magnitude(x, "sobel", axes=(0, 2)), got, x, edge_l1("sobel", 2, None),
                 np.float64, eps=1e-14)


def test_non_contiguous_and_integer_output():
    rng = np.random.default_rng(8)
    base = rng.standard_normal((40, 50)).astype(np.float32) * 30
    view = base[::-2, 1::3]
    np.testing.assert_array_equal(magnitude(view, "sobel"),
                                  magnitude(np.ascontiguousarray(view), "sobel"))
    out = np.zeros((20, 34), np.uint8)[:, ::2]
    assert magnitude(view, "sobel", dtype=np.uint8, out=out) is out
    want = np.clip(np.rint(magnitude(view, "sobel").astype(np.float64)), 0, 255)
    np.testing.assert_array_equal(out, want)


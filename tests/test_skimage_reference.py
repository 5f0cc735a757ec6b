"""scikit-image as a second reference (issue 20): its footprints, edge
filters, median filter and ``block_reduce`` against imgconv's.

Each test writes out the exact relation between the two libraries'
conventions rather than loosening tolerances:

- ``skimage.filters.sobel/prewitt/scharr`` normalise the smoothing weights
  (by 4, 3 and 16 per smoothed axis), pad with scipy's ``'reflect'``
  (imgconv's ``'symmetric'``), scale integer images to [0, 1] or [-1, 1]
  first (``img_as_float``: ``x / iinfo.max``), and with ``axis=None`` return
  ``sqrt(mean over axes of the squares)`` where imgconv returns the square
  root of the sum.  With a nonzero ``cval`` they pad once for the whole
  kernel, where imgconv (as scipy.ndimage) pads each separable pass.
- ``skimage.filters.median`` is scipy's median filter with scipy's mode names,
  mode ``'nearest'`` and the full 3**ndim box by default.
- ``skimage.measure.block_reduce`` pads the input's end with ``cval`` to
  whole blocks; ``ic.pool(..., ceil_mode=True)`` keeps the partial blocks
  and leaves the missing cells out, so the padded cells are added back
  here: ``max(pool, cval)`` and ``(pool * count + cval * (B - count)) / B``
  over the partial blocks, ``count`` their input cells and ``B`` the block's.
"""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import imgconv as ic
from imgconv import footprints

skimage = pytest.importorskip("skimage")
skm = pytest.importorskip("skimage.morphology")
skf = pytest.importorskip("skimage.filters")
skmeasure = pytest.importorskip("skimage.measure")

HYPO = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

INT_DTYPES = ["uint8", "uint16", "int16", "int32"]
DTYPES = INT_DTYPES + ["float32", "float64"]
#: imgconv's mode -> scipy's name of it, which skimage takes
SCIPY_MODE_OF = {"zero": "constant", "replicate": "nearest", "reflect": "mirror",
                 "symmetric": "reflect", "wrap": "wrap"}
MODES = sorted(SCIPY_MODE_OF)


def random_image(rng, shape, dtype):
    """Values spread over the dtype's range (for integers, never its
    minimum: ``img_as_float`` clamps ``iinfo.min / iinfo.max`` to -1)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 10).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min + 1, info.max, shape, endpoint=True).astype(dtype)


def compute_dtype(dtype):
    """imgconv's compute type for ``dtype`` (docs: float32 up to 16-bit
    integers and for float32, float64 otherwise)."""
    return np.float64 if np.dtype(dtype) in (np.int32, np.float64) else np.float32


@st.composite
def shapes(draw, ndims=(1, 2, 3), lo=1, hi=13):
    ndim = draw(st.sampled_from(ndims))
    return tuple(draw(st.integers(lo, hi)) for _ in range(ndim))


# ===========================================================================
# footprints
# ===========================================================================
@pytest.mark.parametrize("strict_radius", [True, False])
def test_disk_equals_skimage(strict_radius):
    for radius in range(0, 16):
        want = skm.disk(radius, strict_radius=strict_radius)
        got = footprints.disk(radius, strict_radius=strict_radius)
        assert got.dtype == bool
        np.testing.assert_array_equal(got, want.astype(bool), err_msg=f"radius={radius}")


@pytest.mark.parametrize("strict_radius", [True, False])
def test_ball_equals_skimage(strict_radius):
    for radius in range(0, 9):
        want = skm.ball(radius, strict_radius=strict_radius)
        got = footprints.ball(radius, strict_radius=strict_radius)
        assert got.dtype == bool
        np.testing.assert_array_equal(got, want.astype(bool), err_msg=f"radius={radius}")


def test_strict_radius_is_checked():
    with pytest.raises(TypeError, match="strict_radius"):
        footprints.disk(2, strict_radius="no")


@HYPO
@given(shape=shapes(lo=1, hi=7))
def test_box_equals_footprint_rectangle(shape):
    if not hasattr(skm, "footprint_rectangle"):
        pytest.skip("skimage.morphology.footprint_rectangle needs scikit-image 0.25")
    want = skm.footprint_rectangle(shape)
    got = footprints.box(shape, len(shape))
    assert got.dtype == bool and got.shape == want.shape
    np.testing.assert_array_equal(got, want.astype(bool))


# ===========================================================================
# sobel, prewitt, scharr
# ===========================================================================
#: imgconv's operator and the sum of skimage's smoothing weights, which
#: skimage divides them by on each smoothed axis
EDGE_OPERATORS = {
    "sobel": (ic.sobel, 4),       # [1, 2, 1] / 4
    "prewitt": (ic.prewitt, 3),   # [1, 1, 1] / 3
    "scharr": (ic.scharr, 16),    # [3, 10, 3] / 16
}


def img_as_float_scale(dtype):
    """What skimage's ``img_as_float`` divides ``dtype``'s values by."""
    dtype = np.dtype(dtype)
    return 1.0 if dtype.kind == "f" else float(np.iinfo(dtype).max)


def edge_kernel(smoothing, axis, ndim):
    """The nD kernel (correlation) of an edge operator along ``axis``:
    ``[-1, 0, 1]`` there, ``smoothing`` on every other axis."""
    kernel = np.ones((1,) * ndim)
    for a in range(ndim):
        taps = [-1.0, 0.0, 1.0] if a == axis else smoothing
        kernel = kernel * np.reshape(taps, [3 if b == a else 1 for b in range(ndim)])
    return kernel


SMOOTHING = {"sobel": [1, 2, 1], "prewitt": [1, 1, 1], "scharr": [3, 10, 3]}


@HYPO
@given(shape=shapes(ndims=(2, 3), lo=1, hi=12), dtype=st.sampled_from(DTYPES),
       name=st.sampled_from(sorted(EDGE_OPERATORS)), mode=st.sampled_from(MODES),
       data=st.data())
def test_edge_filters_match_skimage(shape, dtype, name, mode, data):
    operator, smoothing_sum = EDGE_OPERATORS[name]
    ndim = len(shape)
    axis = data.draw(st.sampled_from([None, *range(ndim)]), label="axis")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    x = random_image(rng, shape, dtype)
    before = x.copy()
    scale = img_as_float_scale(dtype)
    want = getattr(skf, name)(x, axis=axis, mode=SCIPY_MODE_OF[mode])
    got = operator(x, axis, mode=mode, dtype=np.float64)
    # one smoothing factor per axis but the derivative's; the magnitude is
    # skimage's root of the mean, imgconv's root of the sum
    factor = scale * smoothing_sum ** (ndim - 1) * (math.sqrt(ndim) if axis is None else 1.0)
    eps = np.finfo(compute_dtype(dtype)).eps
    # a sum of 3**ndim taps whose weights add up to 2 per axis (after the
    # normalisation), rounded in the compute type
    largest = float(np.abs(x).max()) / scale * 2 * (ndim if axis is None else 1)
    np.testing.assert_allclose(got / factor, want, rtol=8 * eps, atol=64 * eps * largest)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("name", sorted(EDGE_OPERATORS))
def test_edge_filters_with_cval_match_skimage_through_the_full_kernel(name):
    # skimage pads the image with cval once for the whole nD kernel; imgconv's
    # operators follow scipy.ndimage instead (each separable pass pads its
    # own input with cval), so with a nonzero cval skimage's result is
    # ic.correlate with the operator's whole kernel
    operator, smoothing_sum = EDGE_OPERATORS[name]
    rng = np.random.default_rng(11)
    x = random_image(rng, (5, 7), np.uint8)
    cval = 0.75      # skimage's [0, 1] units: 0.75 * 255 in the input's
    for axis in (0, 1):
        want = getattr(skf, name)(x, axis=axis, mode="constant", cval=cval)
        kernel = edge_kernel(SMOOTHING[name], axis, 2)
        got = ic.correlate(x, kernel, mode="zero", cval=cval * 255, dtype=np.float64)
        np.testing.assert_allclose(got / (255 * smoothing_sum), want, rtol=1e-6, atol=1e-6)
        # and the operator itself is scipy's separable rule
        ndi = pytest.importorskip("scipy.ndimage")
        if name != "scharr":
            np.testing.assert_allclose(
                operator(x, axis, mode="zero", cval=cval * 255, dtype=np.float64),
                getattr(ndi, name)(x.astype(np.float64), axis, mode="constant",
                                   cval=cval * 255), rtol=1e-12, atol=1e-9)


def test_edge_filter_on_uint8_ramp_is_one_over_255_per_step():
    # a worked case of the relation: a ramp of slope 1 along axis 1, in uint8
    x = np.tile(np.arange(10, dtype=np.uint8), (6, 1))
    want = skf.sobel(x, axis=1)
    got = ic.sobel(x, 1, mode="symmetric", dtype=np.float64)
    # inside: sobel's [-1, 0, 1] over a slope 1 gives 2, smoothing sums 4
    assert np.all(got[:, 1:-1] == 8)
    np.testing.assert_allclose(want[:, 1:-1], 2 / 255)
    np.testing.assert_allclose(got / (255 * 4), want, rtol=1e-12, atol=1e-15)


# ===========================================================================
# median
# ===========================================================================
MEDIAN_FOOTPRINTS = {
    2: [None, footprints.disk(1), footprints.disk(2), footprints.box((1, 4)),
        footprints.disk(3, strict_radius=False)],
    3: [None, footprints.ball(1), footprints.box((2, 1, 3), 3)],
}


@HYPO
@given(shape=shapes(ndims=(2, 3), lo=1, hi=11), dtype=st.sampled_from(DTYPES),
       mode=st.sampled_from(MODES), data=st.data())
def test_median_matches_skimage(shape, dtype, mode, data):
    ndim = len(shape)
    footprint = data.draw(st.sampled_from(MEDIAN_FOOTPRINTS[ndim]), label="footprint")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    x = random_image(rng, shape, dtype)
    if np.dtype(dtype).kind != "f":
        x //= 1 << (8 * x.itemsize - 5)    # ties
    cval = float(rng.integers(-3, 20)) if mode == "zero" else 0.0
    if np.dtype(dtype).kind == "u":
        cval = abs(cval)
    before = x.copy()
    want = skf.median(x, footprint, mode=SCIPY_MODE_OF[mode], cval=cval)
    if footprint is None:
        # skimage's default: the full 3**ndim box
        got = ic.median(x, size=3, mode=mode, cval=cval)
    else:
        got = ic.median(x, footprint=footprint, mode=mode, cval=cval)
    assert got.dtype == want.dtype == x.dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(x, before)


def test_median_defaults_match_skimage():
    # skimage's defaults (mode 'nearest', the 3x3 box) spelled in imgconv's terms
    x = np.array([[9, 0, 0, 0], [0, 0, 0, 7], [0, 5, 5, 5], [5, 5, 9, 5]], np.uint8)
    want = skf.median(x)
    got = ic.median(x, size=3, mode="replicate")
    np.testing.assert_array_equal(got, want)
    assert got[0, 0] == 0 and got[3, 3] == 5


def test_median_on_big_endian_and_strided_input_matches_skimage():
    rng = np.random.default_rng(7)
    base = rng.integers(0, 1000, (15, 22)).astype(">i4")
    x = base[::2, ::-3]
    fp = footprints.disk(2)
    np.testing.assert_array_equal(ic.median(x, footprint=fp, mode="symmetric"),
                                  skf.median(x, fp, mode="reflect"))


# ===========================================================================
# block_reduce
# ===========================================================================
def partial_block_counts(shape, block):
    """How many input cells each block of ``block_reduce``'s output holds."""
    counts = [np.minimum(b, n - np.arange(0, n, b)) for n, b in zip(shape, block)]
    return math.prod(np.ix_(*counts))


def block_reduce_via_pool(x, block, op, cval):
    """``skimage.measure.block_reduce(x, block, func, cval=cval)`` in imgconv:
    pool with ``stride = size = block`` and ``ceil_mode`` for the partial
    blocks, the end padding put back."""
    pooled = ic.pool(x, block, op=op, ceil_mode=True, dtype=np.float64 if op == "avg" else None)
    count = partial_block_counts(x.shape, block)
    full = math.prod(block)
    partial = count < full
    if op == "max":
        return np.where(partial, np.maximum(pooled, np.asarray(cval, x.dtype)), pooled)
    if op == "min":
        return np.where(partial, np.minimum(pooled, np.asarray(cval, x.dtype)), pooled)
    return (pooled * count + cval * (full - count)) / full


POOL_FUNCTIONS = {"max": np.max, "min": np.min, "avg": np.mean}


@HYPO
@given(shape=shapes(lo=1, hi=14), dtype=st.sampled_from(DTYPES),
       op=st.sampled_from(sorted(POOL_FUNCTIONS)), data=st.data())
def test_pool_matches_block_reduce(shape, dtype, op, data):
    block = tuple(data.draw(st.integers(1, min(n, 5)), label="block") for n in shape)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    x = random_image(rng, shape, dtype)
    cval = data.draw(st.sampled_from([0, 3, 100]), label="cval")
    want = skmeasure.block_reduce(x, block, POOL_FUNCTIONS[op], cval=cval)
    got = block_reduce_via_pool(x, block, op, cval)
    assert got.shape == want.shape == tuple(-(-n // b) for n, b in zip(shape, block))
    if op == "avg":
        # imgconv averages in its compute type, skimage (np.mean) in float64
        # but for float32 input
        eps = np.finfo(compute_dtype(dtype)).eps
        np.testing.assert_allclose(got, want, rtol=4 * eps,
                                   atol=4 * eps * max(float(np.abs(x).max()), cval))
    else:
        assert got.dtype == want.dtype == x.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool_with_end_padding_is_block_reduce_mean(dtype):
    # where the end padding fits torch's rule (at most size // 2), zero
    # padding counted in the divisor is block_reduce's mean with cval=0
    rng = np.random.default_rng(3)
    x = random_image(rng, (9, 10), dtype)
    block = (4, 4)       # pads 3 and 2 cells: 3 > 4 // 2 is refused
    with pytest.raises(ValueError, match="padding"):
        ic.pool(x, block, op="avg", padding=((0, 3), (0, 2)))
    block = (5, 4)       # pads 1 and 2
    got = ic.pool(x, block, op="avg", padding=((0, 1), (0, 2)), count_include_pad=True,
                  dtype=np.float64)
    want = skmeasure.block_reduce(x, block, np.mean)
    eps = np.finfo(compute_dtype(dtype)).eps
    np.testing.assert_allclose(got, want, rtol=4 * eps, atol=4 * eps * float(np.abs(x).max()))


def test_pool_matches_block_reduce_on_one_pixel_and_per_channel():
    x = np.array([[7]], np.uint16)
    for op, func in POOL_FUNCTIONS.items():
        np.testing.assert_array_equal(block_reduce_via_pool(x, (1, 1), op, 9),
                                      skmeasure.block_reduce(x, (1, 1), func, cval=9))
    # a block larger than the input is one padded block for block_reduce,
    # but beyond pool's geometry (torch's: a window must fit the padded input)
    assert skmeasure.block_reduce(x, (3, 2), np.max, cval=9).tolist() == [[9]]
    with pytest.raises(ValueError, match="larger than the padded input"):
        block_reduce_via_pool(x, (3, 2), "max", 9)
    rgb = np.random.default_rng(1).integers(0, 255, (7, 5, 3)).astype(np.uint8)
    want = skmeasure.block_reduce(rgb, (2, 2, 1), np.max)
    got = ic.pool(rgb, 2, ceil_mode=True, channel_axis=-1)   # cval 0 <= every uint8
    np.testing.assert_array_equal(got, want)

"""Per-axis boundary modes (issue 20): ``mode=('reflect', 'wrap', ...)``, one
name per filtered axis, in the order of ``axes``.

References:
- scipy.ndimage where it takes a sequence of modes itself: gaussian_filter,
  uniform_filter, minimum/maximum_filter and grey_dilation with ``size``,
  sobel/prewitt along an axis, laplace, correlate1d;
- scipy.ndimage's gaussian_filter (per-axis modes) summed over the axes for
  gaussian_laplace and gaussian_gradient_magnitude: scipy's own versions of
  those run each axis's term with that axis's mode on *every* axis, imgconv
  pads every axis by its own mode in every term (docs/guide/modes.md);
- a plain numpy reference for the rest (n-D correlate/convolve, footprints,
  non-flat structures, rank filters, pooling): pad each axis with its own
  mode (np.pad, tests/reference.py's table), then filter without padding.
"""
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ndi = pytest.importorskip("scipy.ndimage")

import imgconv as ic  # noqa: E402
from imgconv._validate import SCIPY_MODE  # noqa: E402
from reference import crop, pad_per_axis, ref_correlate  # noqa: E402

MODES = ["zero", "replicate", "reflect", "symmetric", "wrap"]
SETTINGS = dict(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def same_as_padded(x, axes, modes, reach_lo, reach_hi, cval, filter_padded):
    """The reference of a 'same'-shaped filter reading ``reach_lo``/``reach_hi``
    samples around each output: ``filter_padded`` (any boundary rule) of x
    padded per axis, its core."""
    padded = pad_per_axis(x, axes, modes, reach_lo, reach_hi, cval)
    return crop(filter_padded(padded), axes, reach_lo, x.shape)


def in_axes_order(a, axes):
    """A kernel or footprint (dimensions in ascending axis order, as the
    filters take it) with its dimensions in the order of ``axes``."""
    return a.transpose([sorted(axes).index(ax) for ax in axes])


def ref_per_axis(x, w, axes, modes, cval, pad_lo, pad_hi, stride=1, dilation=1):
    """The correlation of ``x`` with ``w`` (dimensions in the order of
    ``axes``) over ``axes``, each padded by its own mode, in float64."""
    rank = len(axes)
    moved = np.moveaxis(x, axes, range(rank))
    batch = moved.shape[rank:]
    flat = moved.reshape(moved.shape[:rank] + (-1,))
    results = [ref_correlate(pad_per_axis(flat[..., c], range(rank), modes, pad_lo, pad_hi,
                                          cval), w, "zero", 0.0, (0,) * rank, (0,) * rank,
                             stride, dilation) for c in range(flat.shape[-1])]
    result = np.stack(results, -1).reshape(results[0].shape + batch)
    return np.moveaxis(result, range(rank), axes)


def random_image(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        return rng.integers(0, 200, shape).astype(dtype)
    if dtype.kind == "i":
        return rng.integers(-100, 100, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@st.composite
def cases(draw, max_rank=3, max_side=9, unfiltered=True):
    """(x, axes, modes, cval): a random float64 image, 1-3 filtered axes in
    a random order (with ``unfiltered``, sometimes with an unfiltered axis),
    one mode each."""
    rank = draw(st.integers(1, max_rank))
    extra = unfiltered and draw(st.booleans()) and rank < 3
    ndim = rank + extra
    shape = tuple(draw(st.lists(st.integers(1, max_side), min_size=ndim, max_size=ndim)))
    axes = tuple(draw(st.permutations(range(ndim)))[:rank])
    modes = tuple(draw(st.lists(st.sampled_from(MODES), min_size=rank, max_size=rank)))
    cval = draw(st.sampled_from([0.0, 1.5, -2.0])) if "zero" in modes else 0.0
    seed = draw(st.integers(0, 2 ** 16))
    x = np.random.default_rng(seed).standard_normal(shape)
    return x, axes, modes, cval


def scipy_modes(modes):
    return [SCIPY_MODE[m] for m in modes]


# ---------------------------------------------------------------------------
# separable filters against scipy.ndimage's sequences of modes
# ---------------------------------------------------------------------------
@settings(**SETTINGS)
@given(cases(), st.floats(0.3, 3.0), st.sampled_from([0, 1, 2]))
def test_gaussian_matches_scipy(case, sigma, order):
    x, axes, modes, cval = case
    want = ndi.gaussian_filter(x, sigma, order=order, mode=scipy_modes(modes), cval=cval,
                               axes=axes)
    got = ic.gaussian(x, sigma, order=order, mode=modes, cval=cval, axes=axes)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * max(1, np.abs(want).max()))


@settings(**SETTINGS)
@given(cases(max_side=6))
def test_gaussian_longer_than_the_image_matches_scipy(case):
    # the folded kernels: each axis folds by its own mode's period
    x, axes, modes, cval = case
    want = ndi.gaussian_filter(x, 7.0, mode=scipy_modes(modes), cval=cval, axes=axes)
    got = ic.gaussian(x, 7.0, mode=modes, cval=cval, axes=axes)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


@settings(**SETTINGS)
@given(cases(), st.data())
def test_box_matches_uniform_filter(case, data):
    x, axes, modes, cval = case
    size = data.draw(st.lists(st.integers(1, 12), min_size=len(axes), max_size=len(axes)))
    origin = [data.draw(st.integers(-(k // 2), (k - 1) // 2)) for k in size]
    want = ndi.uniform_filter(x, size, mode=scipy_modes(modes), cval=cval, origin=origin,
                              axes=axes)
    got = ic.box(x, size, mode=modes, cval=cval, origin=origin, axes=axes)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("modes", [("wrap", "zero"), ("replicate", "symmetric"),
                                   ("zero", "reflect")])
def test_box_and_gaussian_dtypes(dtype, modes):
    rng = np.random.default_rng(3)
    x = random_image(rng, (11, 13), dtype)
    out_dtype = np.float64 if dtype in ("int32", "float64") else np.float32
    tol = 1e-12 if out_dtype == np.float64 else 2e-4
    xf = x.astype(np.float64)
    scale = max(1.0, float(np.abs(xf).max()))
    cval = 2 if "zero" in modes else 0
    for got, want in [
            (ic.box(x, (3, 4), mode=modes, cval=cval), ndi.uniform_filter(
                xf, (3, 4), mode=scipy_modes(modes), cval=cval)),
            (ic.gaussian(x, (1.5, 0.7), mode=modes), ndi.gaussian_filter(
                xf, (1.5, 0.7), mode=scipy_modes(modes)))]:
        assert got.dtype == out_dtype
        np.testing.assert_allclose(got, want, rtol=0, atol=tol * scale)
    # an integer result: rounded and saturated from the same sums
    got = ic.box(x, 3, mode=modes, dtype=np.uint8)
    want = ndi.uniform_filter(xf, 3, mode=scipy_modes(modes))
    assert np.abs(got.astype(float) - np.clip(np.rint(want), 0, 255)).max() <= 1


@settings(**SETTINGS)
@given(cases(unfiltered=False), st.sampled_from(["sobel", "prewitt"]), st.data())
def test_derivative_along_an_axis_matches_scipy(case, name, data):
    # (scipy's sobel smooths every array axis: every axis is filtered here)
    x, axes, modes, cval = case
    axis = data.draw(st.sampled_from(axes))
    array_modes = [None] * x.ndim           # scipy takes them in array order
    for a, m in zip(axes, modes):
        array_modes[a] = SCIPY_MODE[m]
    want = getattr(ndi, name)(x, axis, mode=array_modes, cval=cval)
    got = getattr(ic, name)(x, axis=axis, mode=modes, cval=cval, axes=axes)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


@settings(**SETTINGS)
@given(cases(), st.sampled_from(["sobel", "prewitt", "scharr"]))
def test_gradient_magnitude_is_the_root_of_the_derivatives(case, name):
    # the fused sweep takes one mode: axes of different modes take the passes
    x, axes, modes, cval = case
    terms = [getattr(ic, name)(x, axis=a, mode=modes, cval=cval, axes=axes) for a in axes]
    want = np.sqrt(sum(t * t for t in terms))
    got = ic.gradient_magnitude(x, name, mode=modes, cval=cval, axes=axes)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@settings(**SETTINGS)
@given(cases())
def test_laplace_matches_scipy(case):
    x, axes, modes, cval = case
    want = ndi.laplace(x, mode=scipy_modes(modes), cval=cval, axes=axes)
    got = ic.laplace(x, mode=modes, cval=cval, axes=axes)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


@settings(**SETTINGS)
@given(cases(), st.floats(0.5, 2.0))
def test_gaussian_laplace_and_gradient_magnitude(case, sigma):
    # every axis padded by its own mode in every term (see the module docstring)
    x, axes, modes, cval = case
    rank = len(axes)
    terms = [ndi.gaussian_filter(x, sigma, order=[2 * (b == a) for b in range(rank)],
                                 mode=scipy_modes(modes), cval=cval, axes=axes)
             for a in range(rank)]
    np.testing.assert_allclose(ic.gaussian_laplace(x, sigma, mode=modes, cval=cval, axes=axes),
                               sum(terms), rtol=0, atol=1e-10)
    firsts = [ndi.gaussian_filter(x, sigma, order=[int(b == a) for b in range(rank)],
                                  mode=scipy_modes(modes), cval=cval, axes=axes)
              for a in range(rank)]
    np.testing.assert_allclose(
        ic.gaussian_gradient_magnitude(x, sigma, mode=modes, cval=cval, axes=axes),
        np.sqrt(sum(f * f for f in firsts)), rtol=0, atol=1e-10)


def test_gaussian_laplace_equals_scipy_where_its_terms_agree():
    # scipy pads term a by modes[a] on every axis: with one mode per term
    # the same as per-axis modes wherever the smoothing cannot see the border
    x = np.random.default_rng(0).standard_normal((30, 30))
    got = ic.gaussian_laplace(x, 1.0, mode=("wrap", "reflect"))
    want = ndi.gaussian_laplace(x, 1.0, mode=("wrap", "mirror"))
    np.testing.assert_allclose(got[5:-5, 5:-5], want[5:-5, 5:-5], atol=1e-12)
    assert np.abs(got - want).max() > 1e-3     # and they differ at the borders


@settings(**SETTINGS)
@given(cases(), st.data())
def test_correlate1d_and_sepfilter(case, data):
    x, axes, modes, cval = case
    axis = axes[0]
    w = np.random.default_rng(1).standard_normal(data.draw(st.integers(1, 6)))
    origin = data.draw(st.integers(-(len(w) // 2), (len(w) - 1) // 2))
    cval1 = cval if modes[0] == "zero" else 0.0
    np.testing.assert_allclose(
        ic.correlate1d(x, w, axis, mode=modes[:1], cval=cval1, origin=origin),
        ndi.correlate1d(x, w, axis, mode=SCIPY_MODE[modes[0]], cval=cval1, origin=origin),
        rtol=0, atol=1e-10)
    # sepfilter is correlate with the outer product: the n-D padded definition
    factors = [np.random.default_rng(i).standard_normal(3) for i in range(len(axes))]
    dense = factors[0]
    for f in factors[1:]:
        dense = np.multiply.outer(dense, f)
    order = sorted(range(len(axes)), key=lambda i: axes[i])
    dense = dense.transpose(order)      # kernels follow axes in ascending order
    want = ic.correlate(x, dense, mode=modes, cval=cval, axes=axes, method="direct")
    got = ic.sepfilter(x, factors, mode=modes, cval=cval, axes=axes)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


@settings(**SETTINGS)
@given(cases(), st.data())
def test_minimum_maximum_box_match_scipy(case, data):
    x, axes, modes, cval = case
    size = data.draw(st.lists(st.integers(1, 5), min_size=len(axes), max_size=len(axes)))
    zero = "zero" in modes
    kw = dict(mode=modes, cval=cval if zero else None, axes=axes)
    np.testing.assert_array_equal(
        ic.erode(x, size=size, **kw),
        ndi.minimum_filter(x, size, mode=scipy_modes(modes), cval=cval, axes=axes))
    # dilation mirrors the box: scipy's grey_dilation (array order)
    full_size = [1] * x.ndim
    full_modes = ["constant"] * x.ndim
    for i, a in enumerate(axes):
        full_size[a] = size[i]
        full_modes[a] = scipy_modes(modes)[i]
    want = ndi.grey_dilation(x, size=full_size, mode=full_modes, cval=cval)
    np.testing.assert_array_equal(ic.dilate(x, size=size, **kw), want)


# ---------------------------------------------------------------------------
# n-D filters against the numpy reference (pad each axis, then 'valid')
# ---------------------------------------------------------------------------
@settings(**SETTINGS)
@given(cases(), st.data())
def test_correlate_every_method(case, data):
    x, axes, modes, cval = case
    rank = len(axes)
    kshape = data.draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
    w = np.random.default_rng(2).standard_normal(kshape)
    stride = data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    dilation = data.draw(st.lists(st.integers(1, 2), min_size=rank, max_size=rank))
    w_axes = in_axes_order(w, axes)
    lo = tuple(d * (k // 2) for k, d in zip(w_axes.shape, dilation))
    hi = tuple(d * (k - 1) - p for k, d, p in zip(w_axes.shape, dilation, lo))
    want = ref_per_axis(x, w_axes, axes, modes, cval, lo, hi, stride, dilation)
    for method in ["direct", "fft", "auto"]:
        got = ic.correlate(x, w, mode=modes, cval=cval, stride=stride, dilation=dilation,
                           axes=axes, method=method)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=method)


@pytest.mark.parametrize("modes", list(itertools.product(MODES, repeat=2)))
def test_correlate_2d_every_pair(modes):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 7))
    w = rng.standard_normal((3, 4))
    cval = 0.75 if "zero" in modes else 0.0
    padded = pad_per_axis(x, (0, 1), modes, (1, 2), (1, 1), cval)
    want = ref_correlate(padded, w, "zero", 0.0, (0, 0), (0, 0))
    for method in ["direct", "fft", "auto"]:
        got = ic.correlate(x, w, mode=modes, cval=cval, method=method)
        np.testing.assert_allclose(got, want, atol=1e-10, err_msg=method)
    # a separable kernel: one pass per axis, each with its own mode
    ws = np.outer([1.0, -2.0, 0.5], [0.25, 1.0, 3.0, -1.0])
    want = ref_correlate(padded, ws, "zero", 0.0, (0, 0), (0, 0))
    for method in ["separable", "direct", "auto"]:
        got = ic.correlate(x, ws, mode=modes, cval=cval, method=method)
        np.testing.assert_allclose(got, want, atol=1e-10, err_msg=method)
    # convolve flips the kernel and mirrors its centre (scipy's rule)
    got = ic.convolve(x, w, mode=modes, cval=cval)
    flipped = w[::-1, ::-1]
    padded = pad_per_axis(x, (0, 1), modes, (1, 1), (1, 2), cval)
    np.testing.assert_allclose(got, ref_correlate(padded, flipped, "zero", 0.0, (0, 0), (0, 0)),
                               atol=1e-10)


@pytest.mark.parametrize("padding", ["valid", "full", [(2, 0), (1, 3)]])
def test_correlate_explicit_padding(padding):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 6))
    w = rng.standard_normal((3, 2))
    modes = ("symmetric", "wrap")
    if padding == "valid":
        lo = hi = (0, 0)
    elif padding == "full":
        lo = hi = (2, 1)
    else:
        lo, hi = (2, 1), (0, 3)
    want = ref_correlate(pad_per_axis(x, (0, 1), modes, lo, hi), w, "zero", 0.0, (0, 0), (0, 0))
    got = ic.correlate(x, w, mode=modes, padding=padding)
    np.testing.assert_allclose(got, want, atol=1e-10)


@pytest.mark.parametrize("modes", [("wrap", "reflect", "zero"), ("symmetric", "replicate",
                                                                  "wrap")])
def test_correlate_3d_and_separable_volume(modes):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 7, 5)).astype(np.float32)
    w = np.multiply.outer(np.multiply.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0]), [0.5, 1.0, 0.5])
    cval = 2.0 if "zero" in modes else 0.0
    want = ref_correlate(pad_per_axis(x.astype(np.float64), range(3), modes, (1, 1, 1),
                                      (1, 1, 1), cval), w, "zero", 0.0, (0,) * 3, (0,) * 3)
    for method in ["separable", "direct", "fft"]:
        got = ic.correlate(x, w, mode=modes, cval=cval, method=method)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, atol=1e-4, err_msg=method)


def test_long_kernel_folds_per_axis():
    # a kernel much longer than both axes: each axis folds by its own period
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 4))
    w = rng.standard_normal((15, 17))
    for modes in [("wrap", "reflect"), ("replicate", "symmetric"), ("zero", "wrap")]:
        cval = -1.0 if "zero" in modes else 0.0
        lo, hi = (7, 8), (7, 8)
        want = ref_correlate(pad_per_axis(x, (0, 1), modes, lo, hi, cval), w, "zero", 0.0,
                             (0, 0), (0, 0))
        for method in ["direct", "auto"]:
            got = ic.correlate(x, w, mode=modes, cval=cval, method=method)
            np.testing.assert_allclose(got, want, atol=1e-9, err_msg=str((modes, method)))


@settings(**SETTINGS)
@given(cases(max_side=7), st.data())
def test_rank_filters_with_footprints(case, data):
    x, axes, modes, cval = case
    rank = len(axes)
    shape = data.draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
    fp = np.random.default_rng(data.draw(st.integers(0, 99))).random(shape) < 0.6
    fp.flat[0] = True
    origin = [data.draw(st.integers(-(k // 2), (k - 1) // 2)) for k in in_axes_order(
        fp, axes).shape]
    # footprint dimensions follow the axes in ascending order, origins axes' order
    centre = [k // 2 + o for k, o in zip(in_axes_order(fp, axes).shape, origin)]
    reach_hi = [k - 1 - c for k, c in zip(in_axes_order(fp, axes).shape, centre)]
    full_fp = np.expand_dims(fp, [a for a in range(x.ndim) if a not in axes])
    full_origin = [0] * x.ndim
    for a, o in zip(axes, origin):
        full_origin[a] = o
    r = data.draw(st.integers(0, int(fp.sum()) - 1))
    # scipy on a leading unit axis: scipy 1.17's 1D rank filters ignore a
    # footprint's holes ([1, 1, 0, 1] takes all four cells)
    full_fp, full_origin = full_fp[None], [0] + full_origin
    for name, ours, theirs in [
            ("median", lambda: ic.median(x, footprint=fp, mode=modes, cval=cval, origin=origin,
                                         axes=axes),
             lambda p: ndi.median_filter(p[None], footprint=full_fp, origin=full_origin)[0]),
            ("rank", lambda: ic.rank_filter(x, r, footprint=fp, mode=modes, cval=cval,
                                            origin=origin, axes=axes),
             lambda p: ndi.rank_filter(p[None], r, footprint=full_fp, origin=full_origin)[0])]:
        want = same_as_padded(x, axes, modes, centre, reach_hi, cval, theirs)
        np.testing.assert_array_equal(ours(), want, err_msg=name)


@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32", "int64", "bool"])
def test_morphology_footprint_and_structure(dtype):
    rng = np.random.default_rng(10)
    x = random_image(rng, (9, 8), dtype if dtype != "bool" else "uint8")
    if dtype == "bool":
        x = x > 100
    fp = np.array([[0, 1, 1], [1, 1, 0]], bool)
    modes = ("wrap", "zero")
    cval = 3 if dtype != "bool" else 1
    centre_erode = (1, 1)
    want = same_as_padded(x, (0, 1), modes, centre_erode, (0, 1), cval,
                          lambda p: ndi.grey_erosion(p, footprint=fp))
    got = ic.erode(x, fp, mode=modes, cval=cval)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, want)
    # dilation: the mirrored footprint, centre mirrored too
    want = same_as_padded(x, (0, 1), modes, (0, 1), (1, 1), cval,
                          lambda p: ndi.grey_dilation(p, footprint=fp))
    np.testing.assert_array_equal(ic.dilate(x, fp, mode=modes, cval=cval), want)
    if dtype in ("float32", "int16"):
        heights = np.array([[0, 2, 1], [3, 0, 0]], np.float64)
        for op, scipy_op, lo, hi in [(ic.dilate, ndi.grey_dilation, (0, 1), (1, 1)),
                                     (ic.erode, ndi.grey_erosion, (1, 1), (0, 1))]:
            padded = pad_per_axis(x.astype(np.float64), (0, 1), ("symmetric", "replicate"),
                                  lo, hi)
            want = crop(scipy_op(padded, footprint=fp, structure=heights), (0, 1), lo, x.shape)
            got = op(x, fp, structure=heights, mode=("symmetric", "replicate"))
            np.testing.assert_array_equal(got, want.astype(x.dtype))


@pytest.mark.parametrize("op", ["max", "min", "avg", "lp"])
@pytest.mark.parametrize("modes", [("wrap", "zero"), ("reflect", "replicate"),
                                   ("zero", "symmetric")])
def test_pool(op, modes):
    from numpy.lib.stride_tricks import sliding_window_view
    rng = np.random.default_rng(11)
    x = rng.standard_normal((7, 8))
    fill = {"max": -np.inf, "min": np.inf, "avg": 0.0, "lp": 0.0}[op]
    size, stride, padding = (3, 2), (2, 1), [(1, 1), (1, 0)]
    padded = pad_per_axis(x, (0, 1), modes, (1, 1), (1, 0), fill)
    windows = sliding_window_view(padded, size)[::stride[0], ::stride[1]]
    want = {"max": lambda w: w.max((-2, -1)), "min": lambda w: w.min((-2, -1)),
            "avg": lambda w: w.mean((-2, -1)),
            "lp": lambda w: np.sqrt((np.abs(w) ** 2).sum((-2, -1)))}[op](windows)
    got = ic.pool(x, size, stride=stride, padding=padding, op=op, mode=modes)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    if op in ("max", "min"):
        values, where = ic.pool(x, size, stride=stride, padding=padding, op=op, mode=modes,
                                return_indices=True)
        np.testing.assert_array_equal(values, want)
        # each index names a sample that holds the result (padding copies samples)
        np.testing.assert_array_equal(x.reshape(-1)[where], want)


def test_pool_indices_follow_the_samples_padding_copies():
    x = np.zeros((3, 4))
    x[0, 3] = 5.0     # wraps round to the left of axis 1; reflects across axis 0
    values, where = ic.pool(x, 3, stride=1, padding=1, mode=("reflect", "wrap"),
                            return_indices=True)
    assert values[0, 0] == 5.0 and where[0, 0] == 3


# ---------------------------------------------------------------------------
# shared properties
# ---------------------------------------------------------------------------
FILTERS = {
    "correlate": lambda x, **kw: ic.correlate(x, np.arange(6.0).reshape(2, 3), **kw),
    "gaussian": lambda x, **kw: ic.gaussian(x, 1.0, **kw),
    "box": lambda x, **kw: ic.box(x, 3, **kw),
    "sobel": lambda x, **kw: ic.sobel(x, **kw),
    "laplace": lambda x, **kw: ic.laplace(x, **kw),
    "median": lambda x, **kw: ic.median(x, 3, **kw),
    "erode": lambda x, **kw: ic.erode(x, size=3, **kw),
    "pool": lambda x, **kw: ic.pool(x, 3, stride=1, padding=1, **kw),
}


@pytest.mark.parametrize("name", list(FILTERS))
def test_one_mode_per_axis_equals_one_mode(name):
    x = np.random.default_rng(12).standard_normal((6, 7))
    for mode in MODES:
        np.testing.assert_array_equal(FILTERS[name](x, mode=(mode, mode)),
                                      FILTERS[name](x, mode=mode))
        np.testing.assert_array_equal(FILTERS[name](x, mode=[mode, mode]),
                                      FILTERS[name](x, mode=mode))


@pytest.mark.parametrize("name", list(FILTERS))
def test_layouts_and_input_untouched(name):
    rng = np.random.default_rng(13)
    base = rng.standard_normal((9, 14))
    modes = ("wrap", "symmetric")
    want = FILTERS[name](np.ascontiguousarray(base[:, ::2]), mode=modes)
    strided = base[:, ::2]
    before = base.copy()
    np.testing.assert_array_equal(FILTERS[name](strided, mode=modes), want)
    big = strided.astype(">f8")
    np.testing.assert_array_equal(FILTERS[name](big, mode=modes), want)
    np.testing.assert_array_equal(base, before)
    # one-pixel axes
    for shape in [(1, 7), (6, 1), (1, 1)]:
        x = rng.standard_normal(shape)
        result = FILTERS[name](x, mode=modes)
        assert result.shape == x.shape
        assert np.isfinite(result).all()


def test_modes_follow_axes_and_channel_axis():
    rng = np.random.default_rng(14)
    x = rng.standard_normal((5, 6, 3))
    got = ic.gaussian(x, 1.0, mode=("wrap", "zero"), channel_axis=-1)
    want = ndi.gaussian_filter(x, (1.0, 1.0, 0), mode=["wrap", "constant", "constant"])
    np.testing.assert_allclose(got, want, atol=1e-12)
    got = ic.box(x, 3, mode=("wrap", "zero"), axes=(1, 0))
    want = ndi.uniform_filter(x, (3, 3, 1), mode=["constant", "wrap", "constant"])
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_complex_input_and_out():
    rng = np.random.default_rng(15)
    x = rng.standard_normal((6, 7)) + 1j * rng.standard_normal((6, 7))
    modes = ("wrap", "zero")
    got = ic.gaussian(x, 1.2, mode=modes, cval=1 + 2j)
    want = (ndi.gaussian_filter(x.real, 1.2, mode=scipy_modes(modes), cval=1)
            + 1j * ndi.gaussian_filter(x.imag, 1.2, mode=scipy_modes(modes), cval=2))
    np.testing.assert_allclose(got, want, atol=1e-12)
    out = np.empty((6, 7), np.int16)
    xr = rng.integers(0, 100, (6, 7)).astype(np.uint8)
    result = ic.box(xr, 3, mode=modes, out=out, dtype=np.int16)
    assert result is out
    want = np.rint(ndi.uniform_filter(xr.astype(float), 3, mode=scipy_modes(modes)))
    assert np.abs(out - want).max() <= 1


def test_empty_input():
    x = np.zeros((0, 5))
    assert ic.gaussian(x, 1.0, mode=("wrap", "zero")).shape == (0, 5)
    assert ic.correlate(x, np.ones((2, 2)), mode=("wrap", "zero")).shape == (0, 5)
    assert ic.median(x, 3, mode=("wrap", "zero")).shape == (0, 5)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------
ERROR_CALLS = {
    "correlate": lambda m, **kw: ic.correlate(np.ones((4, 5)), np.ones((2, 2)), mode=m, **kw),
    "gaussian": lambda m, **kw: ic.gaussian(np.ones((4, 5)), 1.0, mode=m, **kw),
    "correlate1d": lambda m, **kw: ic.correlate1d(np.ones((4, 5)), [1, 2], mode=m, **kw),
    "median": lambda m, **kw: ic.median(np.ones((4, 5)), 3, mode=m, **kw),
    "dilate": lambda m, **kw: ic.dilate(np.ones((4, 5)), size=3, mode=m, **kw),
    "pool": lambda m, **kw: ic.pool(np.ones((4, 5)), 2, mode=m, **kw),
}


@pytest.mark.parametrize("name", list(ERROR_CALLS))
def test_wrong_number_of_modes(name):
    call = ERROR_CALLS[name]
    wanted = 1 if name == "correlate1d" else 2
    for modes in [("wrap",) * (wanted + 1), ()]:
        with pytest.raises(ValueError, match=rf"mode needs {wanted} names \(one per filtered "
                                              r"axis\)"):
            call(modes)


@pytest.mark.parametrize("name", list(ERROR_CALLS))
def test_unknown_mode_in_a_sequence(name):
    bad = ["bogus"] if name == "correlate1d" else ["wrap", "bogus"]
    index = len(bad) - 1
    with pytest.raises(ValueError, match=rf"mode\[{index}\] must be one of"):
        ERROR_CALLS[name](bad)


def test_cval_needs_a_zero_axis():
    with pytest.raises(ValueError, match="cval only applies with mode='zero'"):
        ic.gaussian(np.ones((4, 5)), 1.0, mode=("wrap", "reflect"), cval=1.0)
    with pytest.raises(ValueError, match="cval only applies with mode='zero'"):
        ic.erode(np.ones((4, 5)), size=3, mode=("wrap", "reflect"), cval=1.0)
    # one 'zero' axis is enough
    ic.gaussian(np.ones((4, 5)), 1.0, mode=("wrap", "zero"), cval=1.0)


def test_morphology_default_is_one_rule():
    with pytest.raises(ValueError, match=r"mode\[0\] must be one of"):
        ic.dilate(np.ones((4, 5)), size=3, mode=(None, "wrap"))


def test_count_include_pad_needs_zero_on_every_axis():
    with pytest.raises(ValueError, match="count_include_pad=False only applies with "
                                         "mode='zero'"):
        ic.pool(np.ones((4, 5)), 3, padding=1, op="avg", count_include_pad=False,
                mode=("zero", "wrap"))


@pytest.mark.parametrize("name, scipy_name", [("opening", "grey_opening"),
                                              ("closing", "grey_closing"),
                                              ("tophat", "white_tophat"),
                                              ("blackhat", "black_tophat")])
def test_compound_morphology_matches_scipy(name, scipy_name):
    x = np.random.default_rng(16).random((7, 9))
    for modes, size in [(("wrap", "symmetric"), 3), (("replicate", "reflect"), (3, 2))]:
        got = getattr(ic, name)(x, size=size, mode=modes)
        want = getattr(ndi, scipy_name)(x, size=size, mode=scipy_modes(modes))
        np.testing.assert_array_equal(got, want)


def test_strided_sepfilter():
    x = np.random.default_rng(17).random((7, 9))
    w0, w1 = np.array([1.0, 2.0, -1.0]), np.array([0.5, 1.0, 0.25, 2.0])
    got = ic.sepfilter(x, [w0, w1], mode=("wrap", "zero"), cval=2, stride=(2, 3))
    want = ref_correlate(pad_per_axis(x, (0, 1), ("wrap", "zero"), (1, 2), (1, 1), 2.0),
                         np.outer(w0, w1), "zero", 0.0, (0, 0), (0, 0), (2, 3))
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_pool_indices_with_channels_and_axes_order():
    x = np.random.default_rng(18).random((6, 3, 7))
    values, where = ic.pool(x, (3, 2), stride=1, padding=((1, 1), (1, 0)),
                            mode=("wrap", "reflect"), axes=(2, 0), return_indices=True)
    for c in range(3):
        plane = x[:, c, :]
        np.testing.assert_array_equal(plane.reshape(-1)[where[:, c, :]], values[:, c, :])
    # the same windows with the axes in array order and the modes following them
    again = ic.pool(x, (2, 3), stride=1, padding=((1, 0), (1, 1)), mode=("reflect", "wrap"),
                    axes=(0, 2))
    np.testing.assert_array_equal(again, values)

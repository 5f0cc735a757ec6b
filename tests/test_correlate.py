"""ic.correlate / ic.convolve against scipy.ndimage and the numpy reference."""
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import imgconv as ic
from strategies import per_axis
from imgconv._convolve import Geometry, choose_method
from imgconv._validate import SCIPY_MODE, filter_input
from reference import (layouts, CANONICAL, cval_for, full_pads, pad_array, ref_convolve_kernel,
                       ref_correlate, same_pads)

ndi = pytest.importorskip("scipy.ndimage")

CANONICAL_MODES = ["zero", "replicate", "reflect", "symmetric", "wrap"]
ALL_MODES = sorted(CANONICAL)  # every alias too

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
COMPUTE = {
    "uint8": F32, "uint16": F32, "int16": F32, "float32": F32,
    "bool": F32, "int8": F32, "float16": F32,
    "int32": F64, "float64": F64, "int64": F64, "uint32": F64, "uint64": F64,
}
INPUT_DTYPES = ["uint8", "uint16", "int16", "int32", "float32", "float64",
                "bool", "int8", "float16", "int64", "uint32", "uint64"]
OUTPUT_DTYPES = ["uint8", "uint16", "int16", "int32", "float32", "float64"]

HYPO = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def scipy_mode(mode):
    return SCIPY_MODE[CANONICAL[mode]]


def random_array(rng, shape, dtype="float64"):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -(2 ** 40)), min(info.max, 2 ** 40)
        return rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
    if dtype == np.float16:
        return (rng.standard_normal(shape) * 10).astype(dtype)
    return (rng.standard_normal(shape) * 100).astype(dtype)


def assert_close(actual, expected, x, w, compute, cval=0.0):
    """Tolerance scaled by sum|w| * max|x| (the size of the partial sums)."""
    compute = np.dtype(compute)
    xs = np.asarray(x, dtype=np.float64)
    finite = xs[np.isfinite(xs)]
    xmax = max(float(np.abs(finite).max()) if finite.size else 0.0,
               abs(cval) if np.isfinite(cval) else 0.0, 1.0)
    scale = float(np.abs(np.asarray(w, dtype=np.float64)).sum()) * xmax
    eps = 1e-5 if compute == F32 else 1e-12
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected,
                               rtol=eps, atol=eps * scale, equal_nan=True)


# ---------------------------------------------------------------------------
# the reference itself
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", CANONICAL_MODES)
@pytest.mark.parametrize("shape,kshape", [((7,), (3,)), ((1,), (5,)), ((2,), (9,)),
                                          ((5, 4), (2, 3)), ((3, 1, 2), (3, 4, 5))])
def test_reference_matches_scipy(mode, shape, kshape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    w = rng.standard_normal(kshape)
    lo, hi = same_pads(kshape)
    got = ref_correlate(x, w, mode, 1.5, lo, hi)
    want = ndi.correlate(x, w, mode=SCIPY_MODE[mode], cval=1.5)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_reference_wide_padding_repeats_rule():
    a = np.array([1.0, 2.0])
    # reflect of a 2-pixel row by 5: c b | a b c d | c b, repeated
    np.testing.assert_array_equal(pad_array(a, "reflect", 0, (5,), (5,)),
                                  [2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1])
    np.testing.assert_array_equal(pad_array(np.array([7.0]), "reflect", 0, (3,), (2,)),
                                  [7] * 6)


# ---------------------------------------------------------------------------
# padding='same' against scipy.ndimage: modes (all aliases), ranks, kernel sizes
# ---------------------------------------------------------------------------
KERNEL_SHAPES = {
    1: [(3,), (4,), (1,), (8,)],
    2: [(3, 3), (2, 4), (5, 1), (1, 6)],
    3: [(3, 3, 3), (2, 3, 4), (1, 1, 2)],
}
IMAGE_SHAPES = {1: (11,), 2: (9, 8), 3: (5, 6, 7)}


@pytest.mark.parametrize("func", ["correlate", "convolve"])
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("mode", ALL_MODES)
def test_same_matches_scipy_all_modes(func, rank, mode):
    rng = np.random.default_rng(rank * 100 + len(mode))
    x = rng.standard_normal(IMAGE_SHAPES[rank])
    cval = cval_for(mode, -2.5)
    for kshape in KERNEL_SHAPES[rank]:
        w = rng.standard_normal(kshape)
        got = getattr(ic, func)(x, w, mode=mode, cval=cval)
        want = getattr(ndi, func)(x, w, mode=scipy_mode(mode), cval=cval)
        assert got.dtype == F64 and got.shape == x.shape
        assert_close(got, want, x, w, F64, cval=cval)


def test_default_mode_is_reflect():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 7))
    w = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(ic.correlate(x, w), ic.correlate(x, w, mode="reflect"))
    assert_close(ic.correlate(x, w), ndi.correlate(x, w, mode="mirror"), x, w, F64)


def test_mode_is_case_insensitive():
    x = np.arange(10.0)
    np.testing.assert_array_equal(ic.correlate(x, [1, 2, 3], mode="WRAP"),
                                  ic.correlate(x, [1, 2, 3], mode="wrap"))


@pytest.mark.parametrize("func", ["correlate", "convolve"])
@pytest.mark.parametrize("mode", CANONICAL_MODES)
@pytest.mark.parametrize("shape,kshape", [
    ((1,), (3,)), ((1,), (4,)), ((2,), (7,)), ((3,), (10,)),
    ((1, 1), (3, 3)), ((1, 5), (4, 3)), ((2, 2), (5, 6)), ((6, 1), (1, 8)),
    ((1, 1, 1), (2, 3, 3)), ((2, 1, 3), (5, 4, 7)),
])
def test_kernel_larger_than_image_and_one_pixel_axes(func, mode, shape, kshape):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape)
    w = rng.standard_normal(kshape)
    cval = cval_for(mode, 0.75)
    got = getattr(ic, func)(x, w, mode=mode, cval=cval)
    want = getattr(ndi, func)(x, w, mode=SCIPY_MODE[mode], cval=cval)
    assert_close(got, want, x, w, F64, cval=cval)


@pytest.mark.parametrize("func", ["correlate", "convolve"])
@pytest.mark.parametrize("mode", CANONICAL_MODES)
def test_origins_match_scipy(func, mode):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 6))
    for kshape in [(3, 3), (4, 5), (2, 6), (1, 4)]:
        w = rng.standard_normal(kshape)
        for origin in itertools.product(*(range(-(k // 2), (k - 1) // 2 + 1) for k in kshape)):
            got = getattr(ic, func)(x, w, mode=mode, origin=origin)
            want = getattr(ndi, func)(x, w, mode=SCIPY_MODE[mode], origin=origin)
            assert_close(got, want, x, w, F64)
    # a scalar origin applies to every axis
    w = rng.standard_normal((3, 4))
    got = getattr(ic, func)(x, w, mode=mode, origin=1)
    want = getattr(ndi, func)(x, w, mode=SCIPY_MODE[mode], origin=1)
    assert_close(got, want, x, w, F64)


@HYPO
@given(data=st.data())
def test_same_random_vs_scipy(data):
    rank = data.draw(st.integers(1, 3), label="rank")
    shape = tuple(data.draw(st.lists(st.integers(1, 9), min_size=rank, max_size=rank),
                            label="shape"))
    kshape = tuple(data.draw(st.lists(st.integers(1, 6 if rank < 3 else 4),
                                      min_size=rank, max_size=rank), label="kshape"))
    origin = tuple(data.draw(st.integers(-(k // 2), (k - 1) // 2), label="origin")
                   for k in kshape)
    mode = data.draw(st.sampled_from(ALL_MODES), label="mode")
    func = data.draw(st.sampled_from(["correlate", "convolve"]), label="func")
    dtype = data.draw(st.sampled_from(["float32", "float64"]), label="dtype")
    cval = cval_for(mode, data.draw(st.floats(-10, 10), label="cval"))
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    x = random_array(rng, shape, dtype)
    w = rng.standard_normal(kshape)
    w[rng.random(kshape) < 0.2] = 0  # some skipped taps
    got = getattr(ic, func)(x, w, mode=mode, cval=cval, origin=origin)
    want = getattr(ndi, func)(x.astype(np.float64), w, mode=scipy_mode(mode), cval=cval,
                              origin=origin)
    assert got.dtype == np.dtype(dtype)
    assert_close(got, want, x, w, dtype, cval=cval)


# ---------------------------------------------------------------------------
# input dtypes
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", INPUT_DTYPES)
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_input_dtypes_vs_scipy(dtype, rank):
    rng = np.random.default_rng(11)
    shape = {1: (17,), 2: (9, 10), 3: (4, 5, 6)}[rank]
    kshape = {1: (5,), 2: (3, 4), 3: (3, 2, 3)}[rank]
    x = random_array(rng, shape, dtype)
    x_before = x.copy()
    w = rng.standard_normal(kshape)
    for mode in CANONICAL_MODES:
        cval = cval_for(mode, 3)
        got = ic.correlate(x, w, mode=mode, cval=cval)
        want = ndi.correlate(x.astype(np.float64), w, mode=SCIPY_MODE[mode], cval=cval)
        assert got.dtype == COMPUTE[dtype], (dtype, got.dtype)
        assert_close(got, want, x, w, COMPUTE[dtype], cval=cval)
        got = ic.convolve(x, w, mode=mode)
        want = ndi.convolve(x.astype(np.float64), w, mode=SCIPY_MODE[mode])
        assert got.dtype == COMPUTE[dtype]
        assert_close(got, want, x, w, COMPUTE[dtype])
    np.testing.assert_array_equal(x, x_before)
    assert x.dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32"])
def test_integer_extremes_exact(dtype):
    # integer inputs at their range limits: a [1] kernel reproduces them exactly
    info = np.iinfo(dtype)
    x = np.array([info.min, info.max, 0, info.max - 1, info.min + 1], dtype=dtype)
    got = ic.correlate(x, [1.0])
    np.testing.assert_array_equal(got, x.astype(COMPUTE[dtype]))
    np.testing.assert_array_equal(ic.correlate(x, [1.0], dtype=dtype), x)


def test_list_input_and_integer_kernel():
    got = ic.correlate([[1, 2, 3], [4, 5, 6]], [[0, 1, 0], [1, 1, 1]], mode="zero")
    x = np.array([[1, 2, 3], [4, 5, 6]])
    want = ndi.correlate(x.astype(float), np.array([[0, 1, 0], [1, 1, 1]], float),
                         mode="constant")
    np.testing.assert_allclose(got, want)


@pytest.mark.parametrize("kdtype", ["bool", "int8", "int64", "float32", "float64"])
def test_kernel_dtypes(kdtype):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 9))
    w = random_array(rng, (3, 3), kdtype) if kdtype != "int64" else rng.integers(-3, 4, (3, 3))
    got = ic.correlate(x, w)
    want = ndi.correlate(x, w.astype(np.float64), mode="mirror")
    assert_close(got, want, x, w.astype(np.float64), F64)


def test_float32_kernel_rounding_follows_compute_dtype():
    # float32 input: the kernel is used in float32 too, float64 input keeps float64 weights
    x = np.ones(5)
    w = [0.1, 0.2, 0.3]
    np.testing.assert_allclose(ic.correlate(x, w), 0.6, rtol=1e-15)
    assert ic.correlate(x.astype(np.float32), w).dtype == F32


# ---------------------------------------------------------------------------
# geometry: stride, dilation, padding amounts, against the numpy reference
# ---------------------------------------------------------------------------
def _geometry_cases(rank):
    """(padding argument, (lo, hi) or None for 'same', stride, dilation)."""
    r = rank
    cases = [
        ("valid", 1, 1), ("valid", 2, 1), ("valid", 1, 2), ("valid", (2,) * r, (3,) * r),
        ("full", 1, 1), ("full", 3, 2),
        (0, 1, 1), (1, 1, 1), (2, 2, 1), (3, 1, 2), (5, 3, 1),
        (tuple(range(r)), 1, 1),
        (tuple(range(1, r + 1)), tuple(range(1, r + 1)), tuple(range(r, 0, -1))),
        (tuple((i, 2 * i + 1) for i in range(r)), 1, 1),
        (tuple((3 - i, i) for i in range(r)), 2, (1, 2, 1)[:r]),
        (tuple((0, 4) for _ in range(r)), 1, 3),
        ("same", 2, 1), ("same", 3, 2), ("same", 1, 3), ("same", (1, 2, 3)[:r], (2, 1, 1)[:r]),
    ]
    return cases


def _pads(padding, kshape, stride, dilation):
    rank = len(kshape)
    d = (dilation,) * rank if np.isscalar(dilation) else tuple(dilation)
    if padding == "same":
        return same_pads(kshape, d)
    if padding == "valid":
        return (0,) * rank, (0,) * rank
    if padding == "full":
        return full_pads(kshape, d)
    if np.isscalar(padding):
        return (padding,) * rank, (padding,) * rank
    lo, hi = [], []
    for p in padding:
        if np.isscalar(p):
            lo.append(p)
            hi.append(p)
        else:
            lo.append(p[0])
            hi.append(p[1])
    return tuple(lo), tuple(hi)


GEOM_SHAPES = {1: ((23,), [(3,), (4,), (1,)]),
               2: ((13, 11), [(3, 3), (2, 5), (4, 1)]),
               3: ((7, 8, 6), [(3, 3, 3), (2, 1, 3)])}


@pytest.mark.parametrize("mode", CANONICAL_MODES)
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_geometry_vs_reference(mode, rank):
    rng = np.random.default_rng(rank)
    shape, kshapes = GEOM_SHAPES[rank]
    x = rng.standard_normal(shape)
    cval = cval_for(mode, -1.25)
    for kshape in kshapes:
        w = rng.standard_normal(kshape)
        for padding, stride, dilation in _geometry_cases(rank):
            lo, hi = _pads(padding, kshape, stride, dilation)
            try:
                want = ref_correlate(x, w, mode, cval, lo, hi, stride, dilation)
            except ValueError:  # empty output: an error case, tested elsewhere
                continue
            got = ic.correlate(x, w, mode=mode, cval=cval, padding=padding, stride=stride,
                               dilation=dilation)
            assert got.shape == want.shape, (padding, stride, dilation, kshape)
            assert_close(got, want, x, w, F64, cval=cval)


@pytest.mark.parametrize("mode", CANONICAL_MODES)
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_geometry_float32_and_uint8(mode, rank):
    rng = np.random.default_rng(rank + 10)
    shape, kshapes = GEOM_SHAPES[rank]
    cval = cval_for(mode, 4.0)
    for dtype in ["float32", "uint8"]:
        x = random_array(rng, shape, dtype)
        w = rng.standard_normal(kshapes[0])
        for padding, stride, dilation in _geometry_cases(rank)[::3]:
            lo, hi = _pads(padding, w.shape, stride, dilation)
            try:
                want = ref_correlate(x, w, mode, cval, lo, hi, stride, dilation)
            except ValueError:
                continue
            got = ic.correlate(x, w, mode=mode, cval=cval, padding=padding, stride=stride,
                               dilation=dilation)
            assert got.dtype == F32
            assert_close(got, want, x, w, F32, cval=cval)


CONV_KSHAPES = {
    "odd": {1: [(3,), (1,), (5,)], 2: [(3, 3), (1, 5)], 3: [(3, 3, 3), (1, 1, 3)]},
    "even": {1: [(4,), (2,)], 2: [(2, 4), (3, 2)], 3: [(2, 1, 3), (3, 3, 2)]},
}


@pytest.mark.parametrize("parity", ["odd", "even"])
@pytest.mark.parametrize("mode", CANONICAL_MODES)
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_convolve_geometry_vs_reference(mode, rank, parity):
    """convolve = correlate with the flipped kernel and mirrored centre; with
    explicit padding the centre does not matter, only the flip."""
    rng = np.random.default_rng(rank + 20)
    shape, _ = GEOM_SHAPES[rank]
    x = rng.standard_normal(shape)
    cval = cval_for(mode, 0.5)
    for kshape in CONV_KSHAPES[parity][rank]:
        w = rng.standard_normal(kshape)
        wf, forigin = ref_convolve_kernel(w)
        for padding, stride, dilation in _geometry_cases(rank):
            if padding == "same":
                d = (dilation,) * rank if np.isscalar(dilation) else dilation
                lo, hi = same_pads(kshape, d, forigin)
            else:
                lo, hi = _pads(padding, kshape, stride, dilation)
            try:
                want = ref_correlate(x, wf, mode, cval, lo, hi, stride, dilation)
            except ValueError:
                continue
            got = ic.convolve(x, w, mode=mode, cval=cval, padding=padding, stride=stride,
                              dilation=dilation)
            assert got.shape == want.shape, (padding, stride, dilation, kshape)
            assert_close(got, want, x, w, F64, cval=cval)


def test_convolve_valid_even_kernel_1d_matches_numpy():
    x = np.arange(10.0)
    np.testing.assert_allclose(ic.convolve(x, [1.0, 2.0], padding="valid"),
                               np.convolve(x, [1.0, 2.0], mode="valid"))
    np.testing.assert_allclose(ic.convolve(x, [1.0, 2.0, 3.0, 4.0], padding="full", mode="zero"),
                               np.convolve(x, [1.0, 2.0, 3.0, 4.0], mode="full"))


def test_convolve_valid_odd_kernel_1d_matches_numpy():
    x = np.arange(10.0)
    np.testing.assert_allclose(ic.convolve(x, [1.0, 2.0, 5.0], padding="valid"),
                               np.convolve(x, [1.0, 2.0, 5.0], mode="valid"))
    np.testing.assert_allclose(ic.convolve(x, [1.0, 2.0, 5.0], padding="full", mode="zero"),
                               np.convolve(x, [1.0, 2.0, 5.0], mode="full"))


@pytest.mark.parametrize("func", ["correlate", "convolve"])
@pytest.mark.parametrize("mode", CANONICAL_MODES)
def test_same_with_stride_samples_stride1_result(func, mode):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((11, 10, 7))
    f = getattr(ic, func)
    for kshape in [(3, 3, 3), (2, 4, 1)]:
        w = rng.standard_normal(kshape)
        for dilation in [1, (2, 1, 3)]:
            for origin in [0, (-1, 0, 0)]:
                full = f(x, w, mode=mode, dilation=dilation, origin=origin)
                for stride in [2, 3, (1, 2, 4), (5, 1, 2)]:
                    s = (stride,) * 3 if np.isscalar(stride) else stride
                    got = f(x, w, mode=mode, dilation=dilation, origin=origin, stride=stride)
                    assert got.shape == tuple(-(-n // k) for n, k in zip(x.shape, s))
                    # same taps and sums; only the vectorised summation order may differ
                    np.testing.assert_allclose(got, full[::s[0], ::s[1], ::s[2]],
                                               rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("mode", CANONICAL_MODES)
def test_same_dilation_and_origin_vs_reference(mode):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((9, 8))
    for kshape in [(3, 3), (4, 2), (5, 1)]:
        w = rng.standard_normal(kshape)
        for dilation in [2, (3, 1), (1, 4)]:
            for origin in itertools.product(*(range(-(k // 2), (k - 1) // 2 + 1)
                                              for k in kshape)):
                lo, hi = same_pads(kshape, dilation, origin)
                want = ref_correlate(x, w, mode, 0.0, lo, hi, 1, dilation)
                got = ic.correlate(x, w, mode=mode, dilation=dilation, origin=origin)
                assert_close(got, want, x, w, F64)


def test_dilation_one_same_as_scipy_with_dilated_kernel_odd():
    # an odd kernel dilated by d equals the zero-stuffed kernel of size d*(k-1)+1
    rng = np.random.default_rng(8)
    x = rng.standard_normal((12, 13))
    w = rng.standard_normal((3, 5))
    big = np.zeros((2 * 2 + 1, 3 * 4 + 1))
    big[::2, ::3] = w
    for mode in CANONICAL_MODES:
        got = ic.correlate(x, w, mode=mode, dilation=(2, 3))
        want = ndi.correlate(x, big, mode=SCIPY_MODE[mode])
        assert_close(got, want, x, w, F64)


@pytest.mark.parametrize("mode", CANONICAL_MODES)
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_output_shape_formula(mode, rank):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((9, 7, 5)[:rank])
    w = np.ones((3, 2, 4)[:rank])
    for padding in ["valid", "full", 0, 1, 2]:
        for s in [1, 2, 3]:
            for d in [1, 2]:
                lo, hi = _pads(padding, w.shape, s, d)
                expect = tuple((n + a + b - d * (k - 1) - 1) // s + 1
                               for n, k, a, b in zip(x.shape, w.shape, lo, hi))
                if min(expect) < 1:
                    continue
                got = ic.correlate(x, w, mode=mode, padding=padding, stride=s, dilation=d)
                assert got.shape == expect


@HYPO
@given(data=st.data())
def test_geometry_random_vs_reference(data):
    rank = data.draw(st.integers(1, 3), label="rank")
    ints = lambda lo, hi: st.lists(st.integers(lo, hi), min_size=rank, max_size=rank)
    shape = tuple(data.draw(ints(1, 10), label="shape"))
    kshape = tuple(data.draw(ints(1, 4), label="kshape"))
    stride = tuple(data.draw(ints(1, 4), label="stride"))
    dilation = tuple(data.draw(ints(1, 3), label="dilation"))
    kind = data.draw(st.sampled_from(["same", "valid", "full", "int", "ints", "pairs"]),
                     label="padding kind")
    if kind == "same":
        origin = tuple(data.draw(st.integers(-(k // 2), (k - 1) // 2)) for k in kshape)
        padding = "same"
        lo, hi = same_pads(kshape, dilation, origin)
    else:
        origin = 0
        if kind == "int":
            padding = data.draw(st.integers(0, 12))
        elif kind == "ints":
            padding = tuple(data.draw(ints(0, 12)))
        elif kind == "pairs":
            padding = tuple((data.draw(st.integers(0, 12)), data.draw(st.integers(0, 12)))
                            for _ in range(rank))
        else:
            padding = kind
        lo, hi = _pads(padding, kshape, stride, dilation)
    oshape = tuple((n + a + b - d * (k - 1) - 1) // s + 1
                   for n, k, a, b, s, d in zip(shape, kshape, lo, hi, stride, dilation))
    if min(oshape) < 1:
        with pytest.raises(ValueError, match="empty"):
            ic.correlate(np.ones(shape), np.ones(kshape), padding=padding, stride=stride,
                         dilation=dilation)
        return
    mode = data.draw(st.sampled_from(ALL_MODES), label="mode")
    dtype = data.draw(st.sampled_from(["float64", "float32", "uint8", "int16", "int32"]),
                      label="dtype")
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    x = random_array(rng, shape, dtype)
    w = rng.standard_normal(kshape)
    w[rng.random(kshape) < 0.2] = 0
    cval = cval_for(mode, 2.5)
    want = ref_correlate(x, w, mode, cval, lo, hi, stride, dilation)
    got = ic.correlate(x, w, mode=mode, cval=cval, padding=padding, stride=stride,
                       dilation=dilation, origin=origin)
    assert got.shape == want.shape
    assert got.dtype == COMPUTE[dtype]
    assert_close(got, want, x, w, COMPUTE[dtype], cval=cval)


# ---------------------------------------------------------------------------
# channel axis
# ---------------------------------------------------------------------------
def _per_channel(func, x, w, channel_axis, **kw):
    parts = [func(np.take(x, i, axis=channel_axis), w, **kw)
             for i in range(x.shape[channel_axis])]
    return np.stack(parts, axis=channel_axis % x.ndim)


@pytest.mark.parametrize("func", ["correlate", "convolve"])
@pytest.mark.parametrize("shape,channel_axis,kshape", [
    ((3, 17), 0, (4,)), ((17, 3), -1, (3,)), ((17, 3), 1, (5,)),
    ((2, 9, 8), 0, (3, 3)), ((9, 8, 3), -1, (2, 3)), ((9, 4, 8), 1, (3, 4)),
    ((4, 5, 6, 2), -1, (3, 3, 2)), ((2, 5, 6, 4), 0, (3, 2, 3)),
    ((5, 3, 6, 4), 1, (3, 3, 3)), ((5, 6, 3, 4), 2, (2, 3, 3)), ((5, 6, 3, 4), -2, (1, 3, 3)),
])
def test_channel_axis(func, shape, channel_axis, kshape):
    rng = np.random.default_rng(12)
    x = rng.standard_normal(shape)
    w = rng.standard_normal(kshape)
    f = getattr(ic, func)
    sf = getattr(ndi, func)
    for mode in ["reflect", "wrap", "zero"]:
        cval = cval_for(mode, 1.0)
        got = f(x, w, mode=mode, channel_axis=channel_axis, cval=cval)
        assert got.shape == x.shape
        want = _per_channel(lambda a, b: sf(a, b, mode=SCIPY_MODE[mode], cval=cval),
                            x, w, channel_axis)
        assert_close(got, want, x, w, F64, cval=cval)
    # with a geometry: the channel axis keeps its length and position
    geom = (dict(padding=1) if func == "correlate"
            else dict(origin=tuple(-(k // 2) for k in kshape)))
    got = f(x, w, mode="symmetric", channel_axis=channel_axis, stride=2, dilation=2, **geom)
    want = _per_channel(lambda a, b: f(a, b, mode="symmetric", stride=2, dilation=2, **geom),
                        x, w, channel_axis)
    assert got.shape[channel_axis] == x.shape[channel_axis]
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    if func == "correlate":
        ref = _per_channel(lambda a, b: ref_correlate(a, b, "symmetric", 0, 1, 1, 2, 2),
                           x, w, channel_axis)
        assert_close(got, ref, x, w, F64)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_channel_axis_rgb_image_dtypes(dtype):
    rng = np.random.default_rng(13)
    x = random_array(rng, (12, 10, 3), dtype)
    w = np.ones((3, 3)) / 9
    got = ic.correlate(x, w, channel_axis=-1, dtype=dtype)
    f = ic.correlate(x, w, channel_axis=-1)
    want = _per_channel(lambda a, b: ndi.correlate(a.astype(float), b, mode="mirror"),
                        x, w, -1)
    assert_close(f, want, x, w, F32)
    assert got.dtype == np.dtype(dtype)
    if np.dtype(dtype).kind == "u":
        np.testing.assert_array_equal(got, np.clip(np.rint(f), 0, np.iinfo(dtype).max))


def test_channel_axis_non_contiguous_and_single_channel():
    rng = np.random.default_rng(14)
    base = rng.standard_normal((10, 12, 4))
    x = base[::2, ::-1, 1:4]
    w = rng.standard_normal((3, 2))
    got = ic.correlate(x, w, channel_axis=2)
    want = ic.correlate(np.ascontiguousarray(x), w, channel_axis=2)
    np.testing.assert_array_equal(got, want)
    one = ic.correlate(x[..., :1], w, channel_axis=-1)
    np.testing.assert_array_equal(one[..., 0], ic.correlate(x[..., 0], w))


# ---------------------------------------------------------------------------
# output dtype: rounding (ties to even), saturation, NaN -> 0
# ---------------------------------------------------------------------------
INT_RANGE = {d: (np.iinfo(d).min, np.iinfo(d).max) for d in ["uint8", "uint16", "int16", "int32"]}


@pytest.mark.parametrize("in_dtype", ["float32", "float64", "int16", "int32", "uint16"])
@pytest.mark.parametrize("out_dtype", OUTPUT_DTYPES)
def test_output_dtype_round_and_saturate(in_dtype, out_dtype):
    rng = np.random.default_rng(15)
    if np.dtype(in_dtype).kind == "f":
        x = (rng.standard_normal((10, 11)) * 60000).astype(in_dtype)
    else:
        x = random_array(rng, (10, 11), in_dtype)
    # dyadic weights: float32 and float64 sums are exact (for these magnitudes),
    # so ties land exactly on .5
    w = np.array([[0.5, 0.25, 0.0], [-0.5, 1.0, 0.125], [0.0, 0.75, -0.25]])
    base = ic.correlate(x, w)  # compute dtype
    got = ic.correlate(x, w, dtype=out_dtype)
    assert got.dtype == np.dtype(out_dtype)
    assert got.shape == x.shape
    if out_dtype in INT_RANGE:
        lo, hi = INT_RANGE[out_dtype]
        want = np.clip(np.rint(base.astype(np.float64)), lo, hi)
        np.testing.assert_array_equal(got.astype(np.float64), want)
        ref = ref_correlate(x, w, "reflect")
        np.testing.assert_array_equal(got.astype(np.float64),
                                      np.clip(np.rint(ref), lo, hi))
    else:
        np.testing.assert_array_equal(got, base.astype(out_dtype))


@pytest.mark.parametrize("out_dtype", ["uint8", "uint16", "int16", "int32"])
@pytest.mark.parametrize("in_dtype", ["float32", "float64"])
def test_rounding_ties_to_even_and_special_values(in_dtype, out_dtype):
    lo, hi = INT_RANGE[out_dtype]
    vals = [0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 0.49, 0.51, 254.5, 255.5, 256.0,
            -1.0, -32768.5, -32769.0, 32767.5, 65535.4, 65535.5, 70000.0, 1e30, -1e30,
            np.inf, -np.inf, np.nan, 2.0 ** 31, -(2.0 ** 31) - 1000, 2.0 ** 31 - 1]
    x = np.array(vals, dtype=in_dtype)
    got = ic.correlate(x, [1.0], dtype=out_dtype)
    xr = x.astype(np.float64)
    want = np.where(np.isnan(xr), 0, np.clip(np.rint(np.nan_to_num(xr, nan=0, posinf=1e300,
                                                                   neginf=-1e300)), lo, hi))
    np.testing.assert_array_equal(got.astype(np.float64), want)


def test_int32_output_saturates_from_float32_compute():
    # float32 cannot hold 2**31 - 1: the largest int32 is still produced, never wrapped
    x = np.array([2.0 ** 31, 2.0 ** 31 - 128, -(2.0 ** 31), -(2.0 ** 32)], np.float32)
    got = ic.correlate(x, [1.0], dtype=np.int32)
    np.testing.assert_array_equal(got, [2 ** 31 - 1, 2 ** 31 - 128, -(2 ** 31), -(2 ** 31)])


def test_nan_result_to_integer_is_zero():
    x = np.ones((5, 5), np.float32)
    x[2, 2] = np.nan
    got = ic.correlate(x, np.ones((3, 3)), dtype=np.uint8, mode="zero")
    want = ndi.correlate(np.nan_to_num(x, nan=0), np.ones((3, 3)), mode="constant")
    want[1:4, 1:4] = 0
    np.testing.assert_array_equal(got, want)


def test_uint8_box_filter_dtype_keeps_values():
    rng = np.random.default_rng(16)
    x = rng.integers(0, 256, (20, 21), dtype=np.uint8)
    got = ic.correlate(x, np.ones((3, 3)) / 9, dtype=np.uint8)
    ref = ndi.correlate(x.astype(float), np.ones((3, 3)) / 9, mode="mirror")
    # float32 compute: allow one grey level where the float64 sum sits at a .5 tie
    assert np.abs(got.astype(int) - np.rint(ref)).max() <= 1
    assert (got.astype(int) == np.rint(ref)).mean() > 0.99


# ---------------------------------------------------------------------------
# out=
# ---------------------------------------------------------------------------
def test_out_contiguous_is_returned_and_filled():
    rng = np.random.default_rng(17)
    x = rng.standard_normal((9, 10)).astype(np.float32)
    w = rng.standard_normal((3, 3))
    want = ic.correlate(x, w)
    out = np.full(x.shape, np.nan, np.float32)
    res = ic.correlate(x, w, out=out)
    assert res is out
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("out_dtype", OUTPUT_DTYPES)
def test_out_strided_views(out_dtype):
    rng = np.random.default_rng(18)
    x = (rng.standard_normal((7, 8, 3)) * 50).astype(np.float32)
    w = rng.standard_normal((3, 2))
    want = ic.correlate(x, w, channel_axis=-1, dtype=out_dtype, stride=(1, 2), mode="wrap")
    assert want.shape == (7, 4, 3)
    sentinel = 7
    views = [lambda a: a[::2, 1:13:3, ::3][:7, :4, :3],   # strided in every axis
             lambda a: a[14:0:-2, 12:4:-2, 5:2:-1],        # negative strides
             lambda a: np.moveaxis(a[:3, :7, :4], 0, -1)]  # permuted axes
    for make_view in views:
        big = np.full((16, 13, 8), sentinel, dtype=out_dtype)
        view = make_view(big)
        assert view.shape == want.shape
        res = ic.correlate(x, w, channel_axis=-1, dtype=out_dtype, stride=(1, 2), mode="wrap",
                           out=view)
        assert res is view
        np.testing.assert_array_equal(view, want)
        touched = np.zeros(big.shape, bool)
        make_view(touched)[...] = True
        assert (big[~touched] == sentinel).all(), "out= wrote outside its view"


def test_out_dtype_taken_from_out_when_dtype_none():
    x = np.array([0.4, 1.5, 2.5, 300.0, -3.0], np.float32)
    out = np.empty(5, np.uint8)
    ic.correlate(x, [1.0], out=out)
    np.testing.assert_array_equal(out, [0, 2, 2, 255, 0])
    out64 = np.empty(5, np.float64)
    ic.correlate(x, [1.0], out=out64)
    np.testing.assert_array_equal(out64, x.astype(np.float64))


def test_out_with_matching_dtype_argument():
    x = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = np.empty((3, 4), np.int16)
    res = ic.convolve(x, np.ones((1, 2)), out=out, dtype=np.int16)
    assert res is out
    np.testing.assert_array_equal(out, ndi.convolve(x.astype(float), np.ones((1, 2)),
                                                    mode="mirror"))


# ---------------------------------------------------------------------------
# input layouts: strides, byte order, Fortran order; input never modified
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32", "float32", "float64",
                                   "bool", "int8", "float16", "int64"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_layouts_give_same_result(dtype, rank):
    rng = np.random.default_rng(19)
    x = random_array(rng, (7, 6, 5)[:rank], dtype)
    w = rng.standard_normal((3, 2, 3)[:rank])
    want = ic.correlate(x, w, mode="symmetric", stride=2, padding=1)
    want_same = ic.convolve(x, w, mode="wrap")
    for name, xv in layouts(x):
        np.testing.assert_array_equal(xv, x)
        before = xv.copy()
        got = ic.correlate(xv, w, mode="symmetric", stride=2, padding=1)
        np.testing.assert_array_equal(got, want, err_msg=name)
        got = ic.convolve(xv, w, mode="wrap")
        np.testing.assert_array_equal(got, want_same, err_msg=name)
        np.testing.assert_array_equal(xv, before, err_msg=name)
        assert xv.dtype == before.dtype


def test_broadcast_input():
    row = np.arange(8.0)
    x = np.broadcast_to(row, (5, 8))
    assert x.strides[0] == 0
    w = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(ic.correlate(x, w), ic.correlate(np.array(x), w))


def test_big_endian_float64_vs_scipy():
    rng = np.random.default_rng(20)
    x = rng.standard_normal((6, 7)).astype(">f8")
    w = rng.standard_normal((3, 3))
    assert_close(ic.correlate(x, w, mode="nearest"),
                 ndi.correlate(x.astype("<f8"), w, mode="nearest"), x, w, F64)


@pytest.mark.parametrize("dtype", INPUT_DTYPES)
def test_input_never_modified(dtype):
    rng = np.random.default_rng(21)
    x = random_array(rng, (8, 9), dtype)
    keep = x.copy()
    w = rng.standard_normal((3, 3))
    for kwargs in [{}, {"dtype": "uint8"}, {"mode": "zero", "cval": 5}, {"stride": 2},
                   {"padding": "full"}, {"channel_axis": 0}]:
        ic.correlate(x, w if "channel_axis" not in kwargs else w[0], **kwargs)
        ic.convolve(x, w if "channel_axis" not in kwargs else w[0], **kwargs)
    np.testing.assert_array_equal(x, keep)
    kernel = w.copy()
    ic.convolve(x, w)
    np.testing.assert_array_equal(w, kernel)


# ---------------------------------------------------------------------------
# NaN / inf and zero weights
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", CANONICAL_MODES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_spreads_only_under_nonzero_weights(mode, dtype):
    x = np.zeros((9, 10), dtype)
    x[4, 5] = np.nan
    w = np.array([[1.0, 0.0, 2.0],
                  [0.0, 0.0, 0.0],
                  [0.0, 3.0, 0.0]])
    got = ic.correlate(x, w, mode=mode)
    # output (i, j) reads x[i + a - 1, j + b - 1] for each nonzero w[a, b]
    expect_nan = np.zeros(x.shape, bool)
    for (a, b) in zip(*np.nonzero(w)):
        i, j = 4 - (a - 1), 5 - (b - 1)
        expect_nan[i, j] = True
    np.testing.assert_array_equal(np.isnan(got), expect_nan)
    assert np.all(got[~expect_nan] == 0)
    # the reference (which also skips zero taps) agrees everywhere
    np.testing.assert_array_equal(np.isnan(ref_correlate(x, w, mode)), expect_nan)
    # convolve: the flipped pattern
    gotc = ic.convolve(x, w, mode=mode)
    np.testing.assert_array_equal(np.isnan(gotc),
                                  np.isnan(ndi.convolve(x.astype(float), w,
                                                        mode=SCIPY_MODE[mode])))


@pytest.mark.parametrize("method", ["auto", "direct"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_kernel_gives_what_ieee_says(method, bad):
    # every window holds the bad tap: a NaN weight makes every output NaN,
    # an inf one every output inf (the samples are positive).  (scipy.ndimage
    # drops a NaN weight as if it were zero; torch, like imgconv, does not.)
    x = np.random.default_rng(1).random((7, 9, 8), np.float32) + 0.5
    w = np.ones((3, 3, 3))
    w[1, 0, 2] = bad
    got = ic.correlate(x, w, mode="reflect", method=method)
    want = ref_correlate(x, w, "reflect")
    assert np.isnan(want).all() if np.isnan(bad) else np.isposinf(want).all()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    with pytest.raises(ValueError, match="method='separable' needs a rank-1"):
        ic.correlate(x, np.full((3, 3, 3), bad), method="separable")


def test_separable_factors_follow_the_kernel_not_the_array():
    # the factors of recent kernels are kept, by content: a kernel changed
    # in place is factored again, and the cache stays bounded
    from imgconv import _convolve
    rng = np.random.default_rng(8)
    x = rng.random((40, 50), np.float32)
    w = np.multiply.outer(rng.random(5), rng.random(7)).astype(np.float32)
    inp = filter_input(x)
    geom = Geometry(inp, w.shape, "same", 1, 1, 0)
    assert choose_method("separable", inp, w, geom)[0] == "separable"
    factors = _convolve.separable_factors(w)
    assert all(not f.flags.writeable for f in factors)
    assert _convolve.separable_factors(w.copy()) is factors
    w[2, 3] += 1                        # no longer rank-1
    assert _convolve.separable_factors(w) is None
    assert_close(ic.correlate(x, w), ref_correlate(x, w, "reflect"), x, w, np.float32)
    for k in range(_convolve.FACTOR_CACHE_SIZE + 5):
        _convolve.separable_factors(np.full((2, 2), k + 1.0))
    assert len(_convolve._factor_cache) <= _convolve.FACTOR_CACHE_SIZE


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_auto_never_transforms_non_finite_data(bad):
    # 'auto' takes the FFT for this kernel, but not when it would spread a
    # NaN or inf: the result then matches the direct sums
    rng = np.random.default_rng(2)
    x = rng.random((96, 100), np.float32)
    w = rng.random((31, 31))
    inp = filter_input(x)
    assert choose_method("auto", inp, w, Geometry(inp, w.shape, "same", 1, 1, 0))[0] == "fft"
    x[40, 50] = bad
    got = ic.correlate(x, w)
    want = ic.correlate(x, w, method="direct")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    assert np.isfinite(got).sum() == np.isfinite(want).sum() > 0
    w[3, 4] = bad
    np.testing.assert_array_equal(np.isnan(ic.correlate(x, w)),
                                  np.isnan(ic.correlate(x, w, method="direct")))


def test_nan_under_zero_weight_with_many_taps():
    # 5 nonzero taps (not a multiple of the kernel's tap batching) around a hole
    x = np.ones((3, 7, 8), np.float32)
    x[1, 3, 4] = np.nan
    w = np.ones((3, 3, 3))
    w[1, 1, 1] = 0
    w[0] = 0
    w[2, ::2, ::2] = 0
    got = ic.correlate(x, w, mode="reflect")
    assert not np.isnan(got[1, 3, 4])  # only a zero tap sees the NaN
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref_correlate(x, w, "reflect")))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_all_zero_kernel_gives_zeros_even_with_nan(dtype):
    x = np.full((4, 5), np.nan, dtype)
    got = ic.correlate(x, np.zeros((3, 3)))
    np.testing.assert_array_equal(got, np.zeros((4, 5)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inf_propagation(dtype):
    x = np.zeros(9, dtype)
    x[4] = np.inf
    got = ic.correlate(x, [1.0, 2.0, 0.0, -1.0], mode="zero")
    want = ndi.correlate(x.astype(float), [1.0, 2.0, 0.0, -1.0], mode="constant")
    # scipy does not skip zero taps: inf*0 = nan there; imgconv must skip it
    wantmask_nan = np.zeros(9, bool)
    np.testing.assert_array_equal(np.isnan(got), wantmask_nan)
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[finite], want[finite])
    np.testing.assert_array_equal(np.isposinf(got), [0, 0, 0, 0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(np.isneginf(got), [0, 0, 0, 1, 0, 0, 0, 0, 0])
    # +inf and -inf meeting make a NaN
    y = np.zeros(6, dtype)
    y[2], y[3] = np.inf, -np.inf
    assert np.isnan(ic.correlate(y, [1.0, 1.0], mode="zero", padding="valid")[2])


def test_nan_cval():
    x = np.ones(5)
    got = ic.correlate(x, [1.0, 1.0, 1.0], mode="zero", cval=np.nan)
    np.testing.assert_array_equal(np.isnan(got), [1, 0, 0, 0, 1])
    got = ic.correlate(x, [0.0, 1.0, 0.0], mode="zero", cval=np.nan)
    np.testing.assert_array_equal(got, x)


# ---------------------------------------------------------------------------
# method / backend choices that work
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["auto", "direct"])
@pytest.mark.parametrize("backend", ["auto", "cpu"])
def test_method_and_backend_choices(method, backend):
    rng = np.random.default_rng(23)
    x = rng.standard_normal((8, 9))
    w = rng.standard_normal((3, 3))
    got = ic.correlate(x, w, method=method, backend=backend)
    np.testing.assert_array_equal(got, ic.correlate(x, w))


def test_larger_image_vs_scipy():
    # one image big enough to exercise the kernels' row cache across many rows
    rng = np.random.default_rng(24)
    x = rng.standard_normal((130, 257)).astype(np.float32)
    w = rng.standard_normal((7, 5))
    for mode in CANONICAL_MODES:
        cval = cval_for(mode, 0.5)
        got = ic.correlate(x, w, mode=mode, cval=cval)
        want = ndi.correlate(x.astype(float), w, mode=SCIPY_MODE[mode], cval=cval)
        assert_close(got, want, x, w, F32, cval=cval)


@pytest.mark.parametrize("mode", CANONICAL_MODES)
def test_convolve_same_dilation_vs_reference(mode):
    # 'same' keeps the mirrored centre (k//2 - 1 for even k) scaled by the dilation
    rng = np.random.default_rng(25)
    x = rng.standard_normal((10, 9))
    for kshape in [(2, 4), (3, 2), (5, 3)]:
        w = rng.standard_normal(kshape)
        for origin in [(0, 0), (-(kshape[0] // 2), (kshape[1] - 1) // 2)]:
            wf, forigin = ref_convolve_kernel(w, origin)
            for dilation in [1, 2, (3, 1)]:
                lo, hi = same_pads(kshape, dilation, forigin)
                want = ref_correlate(x, wf, mode, 0.0, lo, hi, 1, dilation)
                got = ic.convolve(x, w, mode=mode, dilation=dilation, origin=origin)
                assert_close(got, want, x, w, F64)


# ---------------------------------------------------------------------------
# volumes wide enough that the kernels sweep them in several row tiles
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape,kshape,dtype,kwargs", [
    ((5, 9, 4100), (3, 3, 3), "float64", {"mode": "reflect"}),
    ((4, 11, 3000), (2, 4, 3), "float32", {"mode": "wrap", "threads": 2}),
    ((6, 40, 700), (3, 5, 3), "float32", {"mode": "symmetric"}),
    ((7, 33, 900), (5, 7, 1), "uint16", {"mode": "zero", "cval": 9.0, "threads": 2}),
    ((9, 21, 1500), (3, 3, 2), "float64", {"mode": "replicate", "stride": (2, 3, 1)}),
    ((8, 30, 800), (4, 3, 3), "int16", {"mode": "reflect", "dilation": (2, 3, 1),
                                        "threads": 2}),
])
def test_volume_row_tiles_vs_reference(shape, kshape, dtype, kwargs):
    rng = np.random.default_rng(26)
    x = random_array(rng, shape, dtype) if dtype != "int16" else \
        rng.integers(-1000, 1000, shape).astype(dtype)
    w = rng.standard_normal(kshape)
    w[rng.random(kshape) < 0.15] = 0
    kw = dict(kwargs)
    cval = kw.get("cval", 0.0)
    stride = kw.get("stride", 1)
    dilation = kw.get("dilation", 1)
    got = ic.correlate(x, w, **kw)
    lo, hi = same_pads(kshape, dilation)
    full = ref_correlate(x, w, kw["mode"], cval, lo, hi, 1, dilation)
    s = (stride,) * 3 if np.isscalar(stride) else stride
    want = full[::s[0], ::s[1], ::s[2]]
    if dilation == 1:
        np.testing.assert_allclose(
            full, ndi.correlate(x.astype(float), w, mode=scipy_mode(kw["mode"]), cval=cval),
            rtol=1e-12, atol=1e-9)
    assert got.shape == want.shape
    assert_close(got, want, x, w, COMPUTE[dtype], cval=cval)


def test_volume_channels_and_threads_vs_reference():
    rng = np.random.default_rng(27)
    x = rng.standard_normal((3, 6, 25, 1200)).astype(np.float32)  # channels first
    w = rng.standard_normal((3, 3, 5))
    for threads in (1, 2, 3):
        got = ic.correlate(x, w, channel_axis=0, mode="wrap", threads=threads, stride=(1, 2, 1))
        for c in range(3):
            want = ref_correlate(x[c], w, "wrap", 0, *same_pads(w.shape), (1, 2, 1), 1)
            assert_close(got[c], want, x[c], w, F32)


# ---------------------------------------------------------------------------
# in-place interior reads: float rows read straight from the source, border
# columns gathered down the rows; everything else goes through the row cache
# ---------------------------------------------------------------------------
def _x_strided(x):
    """The same values with a non-unit x stride, so the kernel takes the row
    cache for every output (the in-place path needs contiguous rows)."""
    wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
    wide[..., ::2] = x
    return wide[..., ::2]


def _draw_float_image(data, shape):
    """A mode, a float dtype, a seeded generator and a random image of it."""
    mode = data.draw(st.sampled_from(CANONICAL_MODES), label="mode")
    dtype = data.draw(st.sampled_from(["float32", "float64"]), label="dtype")
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed"))
    return mode, dtype, rng, random_array(rng, shape, dtype)


@HYPO
@given(data=st.data())
def test_in_place_interior_matches_row_cache_and_reference(data):
    rank = data.draw(st.integers(2, 3), label="rank")
    shape = per_axis(data, rank, 1, 40, "shape")
    kshape = per_axis(data, rank, 1, 5, "kshape")
    dilation = per_axis(data, rank, 1, 2, "dilation")
    # the x stride stays 1 (outputs along a row are then contiguous)
    stride = per_axis(data, rank - 1, 1, 3, "stride") + (1,)
    padding = tuple((data.draw(st.integers(0, 6)), data.draw(st.integers(0, 6)))
                    for _ in range(rank))
    mode, dtype, rng, x = _draw_float_image(data, shape)
    w = rng.standard_normal(kshape)
    w[rng.random(kshape) < 0.2] = 0
    lo, hi = zip(*padding)
    cval = cval_for(mode, 2.5)
    try:
        want = ref_correlate(x, w, mode, cval, lo, hi, stride, dilation)
    except ValueError:
        return  # empty output
    kwargs = dict(mode=mode, cval=cval, padding=padding, stride=stride, dilation=dilation)
    got = ic.correlate(x, w, **kwargs)
    assert_close(got, want, x, w, dtype, cval=cval)
    # the same sums in the same order, whichever path computed each output
    np.testing.assert_array_equal(got, ic.correlate(_x_strided(x), w, **kwargs))


@pytest.mark.parametrize("kshape,zero_tap", [((3, 3, 3), None), ((4, 1, 3), None),
                                             ((5, 2, 1), None), ((3, 3, 3), (1, 1, 1)),
                                             ((3, 3, 2), (0, 2, 1))])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_planes_sliding_together_match_every_other_path(kshape, zero_tap, dtype):
    # short kernel columns compute interior rows several planes at a time
    # (sliding down z); a zero tap in a z column turns that off
    rng = np.random.default_rng(sum(kshape))
    x = random_array(rng, (2, 13, 11, 37), dtype)
    w = rng.standard_normal(kshape)
    if zero_tap is not None:
        w[zero_tap] = 0
    for mode in CANONICAL_MODES:
        cval = cval_for(mode, 1.5)
        got = ic.correlate(x, w, mode=mode, cval=cval, channel_axis=0, threads=2)
        want = np.stack([ref_correlate(c, w, mode, cval, *_pads("same", kshape, 1, 1))
                         for c in x])
        assert_close(got, want, x, w, dtype, cval=cval)
        np.testing.assert_array_equal(got, ic.correlate(_x_strided(x), w, mode=mode, cval=cval,
                                                        channel_axis=0, threads=1))


@pytest.mark.parametrize("mode", CANONICAL_MODES)
@pytest.mark.parametrize("shape,padding,stride", [
    ((2, 2, 1), ((0, 0), (0, 0), (0, 1)), 1),    # found by hypothesis
    ((5, 3, 4), ((1, 1), (0, 2), (0, 0)), 1),
    ((6, 4, 3), ((2, 0), (0, 1), (0, 3)), 1),
    ((6, 4, 3), ((0, 0), (0, 0), (0, 0)), (2, 1, 1)),
])
def test_depth_only_kernels_with_padding_across_the_planes(mode, shape, padding, stride):
    # a kernel along depth alone sweeps each plane as one long row, which is
    # only right when the planes keep their shape
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((2, 1, 1))
    cval = cval_for(mode, 2.5)
    got = ic.correlate(x, w, mode=mode, cval=cval, padding=padding, stride=stride)
    lo, hi = zip(*padding)
    st3 = (stride,) * 3 if np.isscalar(stride) else stride
    want = ref_correlate(x, w, mode, cval, lo, hi, st3, (1, 1, 1))
    assert_close(got, want, x, w, F32, cval=cval)
    np.testing.assert_array_equal(got, ic.correlate(_x_strided(x), w, mode=mode, cval=cval,
                                                    padding=padding, stride=stride))


@pytest.mark.parametrize("mode", CANONICAL_MODES)
@pytest.mark.parametrize("shape,kshape,padding", [
    ((4, 300, 9), (3, 3, 3), "same"),          # border columns gathered in chunks of rows
    ((3, 5, 200), (1, 1, 9), ((0, 0), (0, 0), (70, 90))),  # wide borders: row cache
    ((4, 20, 37), (3, 1, 17), "same"),         # x borders wider than a vector
    ((6, 10, 12), (5, 5, 5), "full"),
])
def test_in_place_interior_edge_geometries(mode, shape, kshape, padding):
    rng = np.random.default_rng(len(shape) + sum(kshape))
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(kshape)
    cval = cval_for(mode, -3.0)
    got = ic.correlate(x, w, mode=mode, cval=cval, padding=padding)
    lo, hi = _pads(padding, kshape, 1, 1)
    assert_close(got, ref_correlate(x, w, mode, cval, lo, hi), x, w, F32, cval=cval)
    np.testing.assert_array_equal(
        got, ic.correlate(_x_strided(x), w, mode=mode, cval=cval, padding=padding))
    # also with rows read backwards along y and z (negative strides)
    flipped = x[::-1, ::-1]
    np.testing.assert_array_equal(
        ic.correlate(flipped, w, mode=mode, cval=cval, padding=padding),
        ic.correlate(np.ascontiguousarray(flipped), w, mode=mode, cval=cval, padding=padding))


@HYPO
@given(data=st.data())
def test_sliding_interior_rows_match_row_cache_and_reference(data):
    """Kernels whose columns are whole and at least 5 tall: interior rows go
    four at a time through sliding sums over the columns; rows left over,
    narrow rows (vector and scalar tails) and the borders do not."""
    rank = data.draw(st.integers(2, 3), label="rank")
    kh = data.draw(st.integers(5, 8), label="kernel height")
    kshape = (data.draw(st.integers(1, 3), label="kd"),) * (rank - 2) + (
        kh, data.draw(st.integers(1, 4), label="kw"))
    shape = (per_axis(data, rank - 2, 1, 6, "depth")
             + (data.draw(st.integers(kh, 30), label="height"),
                data.draw(st.integers(1, 45), label="width")))
    mode, dtype, rng, x = _draw_float_image(data, shape)
    w = rng.standard_normal(kshape)
    # whole columns of zeros are left out of the sums, not slid over
    w[..., rng.random(kshape[-1]) < 0.3] = 0
    cval = cval_for(mode, 1.5)
    lo, hi = same_pads(w.shape)
    want = ref_correlate(x, w, mode, cval, lo, hi)
    got = ic.correlate(x, w, mode=mode, cval=cval)
    assert_close(got, want, x, w, dtype, cval=cval)
    np.testing.assert_array_equal(got, ic.correlate(_x_strided(x), w, mode=mode, cval=cval))
    np.testing.assert_array_equal(got, ic.correlate(x, w, mode=mode, cval=cval, threads=1))


def test_sliding_rows_skip_zero_columns_so_nan_stays_put():
    x = np.ones((12, 40), np.float32)
    x[6, 20] = np.nan
    w = np.ones((5, 3))
    w[:, 2] = 0                         # the column that would read the NaN for x = 19
    got = ic.correlate(x, w, mode="reflect")
    nan_at = set(zip(*np.nonzero(np.isnan(got))))
    assert nan_at == {(y, c) for y in range(4, 9) for c in (20, 21)}


@HYPO
@given(data=st.data())
def test_in_place_separable_rows_match_row_cache_and_reference(data):
    rank = data.draw(st.integers(2, 3), label="rank")
    shape = per_axis(data, rank, 1, 30, "shape")
    sizes = list(per_axis(data, rank, 1, 7, "sizes"))
    dilation = per_axis(data, rank, 1, 2, "dilation")
    stride = per_axis(data, rank, 1, 2, "stride")
    mode, dtype, rng, x = _draw_float_image(data, shape)
    kernels = [rng.standard_normal(k) for k in sizes]
    w = kernels[0]
    for k in kernels[1:]:
        w = np.multiply.outer(w, k)
    lo, hi = same_pads(w.shape, dilation)
    cval = cval_for(mode, -0.5)
    want = ref_correlate(x, w, mode, cval, lo, hi, stride, dilation)
    kwargs = dict(mode=mode, cval=cval, stride=stride, dilation=dilation)
    got = ic.sepfilter(x, kernels, **kwargs)
    assert_close(got, want, x, w, dtype, cval=cval)
    np.testing.assert_array_equal(got, ic.sepfilter(_x_strided(x), kernels, **kwargs))


# ---------------------------------------------------------------------------
# Plans of repeated calls (issue 18): checked once, reused for the same layout
# ---------------------------------------------------------------------------
def test_repeated_call_follows_a_kernel_changed_in_place():
    rng = np.random.default_rng(3)
    x = rng.random((16, 16), dtype=np.float32)
    w = rng.standard_normal((3, 3)).astype(np.float32)
    for _ in range(2):
        ic.correlate(x, w)
        w[1, 1] += 1   # the caller's kernel, changed after the call
        np.testing.assert_allclose(ic.correlate(x, w), ndi.correlate(x, w, mode="mirror"),
                                   rtol=1e-5, atol=1e-5)
    assert w.flags.writeable


def test_repeated_call_checks_arguments_of_each_type():
    x = np.ones((8, 8), np.float32)
    w = np.ones((3, 3), np.float32)
    ic.correlate(x, w, stride=1)
    with pytest.raises(TypeError):
        ic.correlate(x, w, stride=True)      # equal to 1, but not an int
    ic.gaussian(x, 1.0, order=0)
    with pytest.raises(TypeError):
        ic.gaussian(x, 1.0, order=0.0)
    ic.sobel(x, axis=1)
    with pytest.raises(TypeError):
        ic.sobel(x, axis=1.0)


def test_repeated_call_on_other_layouts_and_dtypes():
    rng = np.random.default_rng(4)
    w = rng.standard_normal((3, 3))
    base = rng.random((12, 14))
    for x in (base, base.astype(np.float32), base.astype(">f8"), base.T, base[::2],
              base.astype(np.float16), base > 0.5, base.astype(">f8"), base[::2]):
        for _ in range(2):
            expected = ndi.correlate(np.asarray(x, np.float64), w, mode="mirror")
            got = ic.correlate(x, w)
            assert got.shape == x.shape
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(ic.gaussian(x, 1.0),
                                       ndi.gaussian_filter(np.asarray(x, np.float64), 1.0,
                                                               mode="mirror"),
                                       rtol=1e-5, atol=1e-5)


def test_repeated_fft_call_still_avoids_the_transform_for_nan_data():
    # the cached plan keeps the cost model's choice; the data are checked per call
    rng = np.random.default_rng(5)
    x = rng.random((128, 128))
    w = rng.standard_normal((31, 31))
    inp = filter_input(x)
    assert choose_method("auto", inp, w, Geometry(inp, w.shape, "same", 1, 1, 0))[0] == "fft"
    ic.correlate(x, w)
    x[3, 3] = np.nan
    got = ic.correlate(x, w)
    assert np.isfinite(got).sum() == (~np.isnan(ndi.correlate(x, w, mode="mirror"))).sum()

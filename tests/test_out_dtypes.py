"""Every output dtype (``dtype=`` and ``out=``) of every filter family:
int8, uint32, int64, uint64 and float16 besides the kernels' own uint8,
uint16, int16, int32, float32 and float64, all rounded and saturated by one
rule (round half to even, saturate, NaN -> 0; floats cast, beyond float16's
range to +-inf), against float64 references (scipy.ndimage, plain numpy)."""
import math

import numpy as np
import pytest

ndi = pytest.importorskip("scipy.ndimage")

import imgconv as ic  # noqa: E402
from reference import ref_dilate, ref_erode, ref_pool  # noqa: E402

NEW_DTYPES = ["int8", "uint32", "int64", "uint64", "float16"]
ALL_DTYPES = ["uint8", "uint16", "int16", "int32", "float32", "float64"] + NEW_DTYPES


def saturate(values, dtype):
    """The rule, element by element in Python numbers (exact for 64-bit
    integers): float64 ``values`` as ``dtype``."""
    dtype = np.dtype(dtype)
    values = np.asarray(values, np.float64)
    if dtype.kind == "f":
        with np.errstate(over="ignore"):
            return values.astype(dtype)
    info = np.iinfo(dtype)

    def one(v):
        if math.isnan(v):
            return 0
        if math.isinf(v):
            return info.max if v > 0 else info.min
        return min(max(int(np.rint(v)), info.min), info.max)

    return np.array([one(v) for v in values.ravel()], dtype).reshape(values.shape)


def assert_stored(got, want64, dtype, atol=0.0):
    """``got`` is ``want64`` (float64) stored by the rule, within ``atol``
    (float rounding of the computation; 0: exactly) before rounding."""
    dtype = np.dtype(dtype)
    assert got.dtype == dtype and got.shape == want64.shape
    if atol == 0.0:
        np.testing.assert_array_equal(got, saturate(want64, dtype))
        return
    lo, hi = saturate(want64 - atol, dtype), saturate(want64 + atol, dtype)
    if dtype.kind == "f":
        lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
        with np.errstate(over="ignore"):     # one step past float16's largest is inf
            lo, hi = np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)
    assert np.all((got >= lo) & (got <= hi)), (got, want64)


# ---------------------------------------------------------------------------
# The rule itself, at the edges: one-tap filters pass values through exactly
# ---------------------------------------------------------------------------
EDGES = np.array([0.0, -0.5, 0.5, 1.5, 2.5, -1.5, -2.5, 126.5, 127.5, -128.5, -129.0,
                  254.5, 255.5, 256.0, 65535.5, 2.0 ** 24 + 1, 2.0 ** 31, -2.0 ** 31 - 1,
                  2.0 ** 32 - 1, 2.0 ** 32, 2.0 ** 32 + 0.5, 2.0 ** 53, 2.0 ** 63, -2.0 ** 63,
                  2.0 ** 64, -2.0 ** 64, 1e30, -1e30, 65504.0, 65520.0, 1e5, -1e5,
                  np.nan, np.inf, -np.inf])

PASS_THROUGH = {
    "correlate": lambda x, **kw: ic.correlate(x, [1.0], **kw),
    "correlate_fft": lambda x, **kw: ic.correlate(x, [1.0], method="fft", **kw),
    "correlate1d": lambda x, **kw: ic.correlate1d(x, [0.0, 1.0, 0.0], **kw),
    "sepfilter": lambda x, **kw: ic.sepfilter(x, [[1.0]], **kw),
    "box": lambda x, **kw: ic.box(x, 1, **kw),
    "gaussian": lambda x, **kw: ic.gaussian(x, 0.0, **kw),
    "avg_pool": lambda x, **kw: ic.avg_pool(x, 1, **kw),
    "max_pool": lambda x, **kw: ic.max_pool(x, 1, **kw),
}


@pytest.mark.parametrize("how", list(PASS_THROUGH))
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_saturation_edges(how, dtype):
    f = PASS_THROUGH[how]
    x = EDGES
    if how == "correlate_fft":   # a transform spreads NaN and inf everywhere
        x = x[np.isfinite(x) & (np.abs(x) < 2.0 ** 40)]
    got = f(x, dtype=dtype)
    assert_stored(got, x, dtype, 1e-9 * 2.0 ** 40 if how == "correlate_fft" else 0.0)
    out = np.full(x.shape, 3, dtype)
    assert f(x, out=out) is out
    np.testing.assert_array_equal(out, got)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_saturation_of_float32_results(dtype):
    # a float32 computation (float32 input) rounded and saturated alike
    x = EDGES[np.abs(np.nan_to_num(EDGES)) < 1e38].astype(np.float32)
    got = ic.correlate(x, [1.0], dtype=dtype)
    assert_stored(got, x.astype(np.float64), dtype)


# ---------------------------------------------------------------------------
# Every family
# ---------------------------------------------------------------------------
W3 = np.array([[0.25, -0.5, 0.75], [1.0, 0.5, -0.25], [0.5, 0.25, 1.0]])
SEP = (np.array([0.25, 0.5, 0.25]), np.array([-1.0, 0.0, 1.0]))


def _magnitude(first, second):
    return np.sqrt(first ** 2 + second ** 2)


FAMILIES = {
    "correlate": (lambda x, **kw: ic.correlate(x, W3, **kw),
                  lambda x: ndi.correlate(x, W3, mode="mirror")),
    "convolve": (lambda x, **kw: ic.convolve(x, W3, **kw),
                 lambda x: ndi.convolve(x, W3, mode="mirror")),
    "correlate1d": (lambda x, **kw: ic.correlate1d(x, SEP[1], 0, **kw),
                    lambda x: ndi.correlate1d(x, SEP[1], 0, mode="mirror")),
    "convolve1d": (lambda x, **kw: ic.convolve1d(x, SEP[1], 1, **kw),
                   lambda x: ndi.convolve1d(x, SEP[1], 1, mode="mirror")),
    "sepfilter": (lambda x, **kw: ic.sepfilter(x, SEP, **kw),
                  lambda x: ndi.correlate(x, np.outer(*SEP), mode="mirror")),
    "gaussian": (lambda x, **kw: ic.gaussian(x, 1.2, **kw),
                 lambda x: ndi.gaussian_filter(x, 1.2, mode="mirror")),
    "box": (lambda x, **kw: ic.box(x, 3, **kw),
            lambda x: ndi.uniform_filter(x, 3, mode="mirror")),
    "sobel": (lambda x, **kw: ic.sobel(x, 0, **kw), lambda x: ndi.sobel(x, 0, mode="mirror")),
    "prewitt": (lambda x, **kw: ic.prewitt(x, **kw),
                lambda x: _magnitude(ndi.prewitt(x, 0, mode="mirror"),
                                     ndi.prewitt(x, 1, mode="mirror"))),
    "scharr": (lambda x, **kw: ic.scharr(x, 1, **kw),
               lambda x: ndi.correlate(x, np.outer([3, 10, 3], [-1, 0, 1]), mode="mirror")),
    "gradient_magnitude": (lambda x, **kw: ic.gradient_magnitude(x, **kw),
                           lambda x: _magnitude(ndi.sobel(x, 0, mode="mirror"),
                                                ndi.sobel(x, 1, mode="mirror"))),
    "laplace": (lambda x, **kw: ic.laplace(x, **kw), lambda x: ndi.laplace(x, mode="mirror")),
    "gaussian_laplace": (lambda x, **kw: ic.gaussian_laplace(x, 1.1, **kw),
                         lambda x: ndi.gaussian_laplace(x, 1.1, mode="mirror")),
    "gaussian_gradient_magnitude": (
        lambda x, **kw: ic.gaussian_gradient_magnitude(x, 1.1, **kw),
        lambda x: ndi.gaussian_gradient_magnitude(x, 1.1, mode="mirror")),
    "avg_pool": (lambda x, **kw: ic.avg_pool(x, 2, **kw),
                 lambda x: ref_pool(x, 2, op="avg")[0]),
    "lp_pool": (lambda x, **kw: ic.pool(x, 2, op="lp", p=3, **kw),
                lambda x: ref_pool(x, 2, op="lp", p=3)[0]),
    "max_pool": (lambda x, **kw: ic.max_pool(x, (2, 3), stride=1, **kw),
                 lambda x: ref_pool(x, (2, 3), stride=1, op="max")[0]),
    "min_pool": (lambda x, **kw: ic.pool(x, 2, op="min", **kw),
                 lambda x: ref_pool(x, 2, op="min")[0]),
}

#: values that reach beyond each dtype's range on both sides
SCALE = {"int8": 150.0, "uint8": 300.0, "int16": 4e4, "uint16": 8e4, "int32": 3e9,
         "uint32": 5e9, "int64": 1.5e19, "uint64": 2.5e19, "float16": 8e4, "float32": 1e3,
         "float64": 1e3}


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("dtype", NEW_DTYPES + ["uint8", "int32"])
def test_every_family(family, dtype):
    f, ref = FAMILIES[family]
    rng = np.random.default_rng(abs(hash((family, dtype))) % 2 ** 32)
    # blocks far out of range (saturated) beside values in range
    x = rng.standard_normal((14, 18)) * SCALE[dtype] * 0.1
    x[:4] *= 30
    x[-4:, :9] *= -30
    want = ref(x)
    atol = 1e-12 * float(np.abs(want).max()) + 1e-9
    got = f(x, dtype=dtype)
    assert_stored(got, want, dtype, atol)
    out = np.zeros(want.shape, dtype)
    assert f(x, out=out) is out
    np.testing.assert_array_equal(out, got)
    if family == "max_pool":
        return
    # NaN and inf: stored by the same rule wherever they reach (imgconv's own
    # float64 result: zero taps skipped, where scipy's 0 * NaN spreads NaN)
    x[7, 9], x[2, 2] = np.nan, np.inf
    own = f(x)
    assert own.dtype == np.float64
    got = f(x, dtype=dtype)
    reached = ~np.isfinite(own)
    assert reached.any()
    np.testing.assert_array_equal(got[reached], saturate(own[reached], dtype))


@pytest.mark.parametrize("dtype", ["int32", "uint32", "int64", "uint64"])
def test_wide_integer_results_are_computed_in_float64(dtype):
    # sums beyond 2**24 of a uint16 image: float32 (its compute type) would
    # round them, float64 holds them exactly
    x = np.full((6, 7), 65535, np.uint16)
    x[2, 3] = 65531
    w = np.full((3, 3), 1001.0)
    want = ndi.correlate(x.astype(np.float64), w, mode="mirror")
    assert want.max() > 2 ** 29
    for got in (ic.correlate(x, w, dtype=dtype),
                ic.correlate(x, w, out=np.empty(x.shape, dtype)),
                ic.correlate(x, w, dtype=dtype, method="separable"),
                ic.sepfilter(x, [[1001.0] * 3, [1.0] * 3], dtype=dtype),
                ic.box(x, 3, dtype=dtype) * 0 + ic.correlate(x, w, dtype=dtype)):
        np.testing.assert_array_equal(got, want.astype(dtype))
    # the same call twice (its plan cached), and with out= after dtype=
    np.testing.assert_array_equal(ic.correlate(x, w, dtype=dtype), want.astype(dtype))
    out = np.empty(x.shape, dtype)
    ic.correlate(x, w, out=out)
    np.testing.assert_array_equal(out, want.astype(dtype))
    # a float32 result by default, rounded in float32
    assert ic.correlate(x, w).dtype == np.float32


def test_extreme_pools_store_integers_exactly():
    big = np.array([[2 ** 63 - 1, -2 ** 63], [-5, 2 ** 62 + 1]], np.int64)
    np.testing.assert_array_equal(ic.max_pool(big, (1, 2), dtype=np.uint64),
                                  np.array([[2 ** 63 - 1], [2 ** 62 + 1]], np.uint64))
    np.testing.assert_array_equal(ic.pool(big, (1, 2), op="min", dtype=np.uint64),
                                  np.zeros((2, 1), np.uint64))
    np.testing.assert_array_equal(ic.pool(big, (1, 2), op="min", dtype=np.int8),
                                  np.array([[-128], [-5]], np.int8))
    huge = np.array([[2 ** 64 - 1, 2 ** 63 + 5, 3, 7]], np.uint64)
    np.testing.assert_array_equal(ic.max_pool(huge, (1, 2), dtype=np.int64),
                                  np.array([[2 ** 63 - 1, 7]], np.int64))
    np.testing.assert_array_equal(ic.max_pool(huge, (1, 2), dtype=np.uint32),
                                  np.array([[2 ** 32 - 1, 7]], np.uint32))
    u8 = np.array([[200, 100], [3, 250]], np.uint8)
    np.testing.assert_array_equal(ic.max_pool(u8, 2, dtype=np.int8), [[127]])
    np.testing.assert_array_equal(ic.max_pool(u8 > 100, 2, dtype=np.int8), [[1]])
    f16 = np.array([[np.nan, 1.0], [2.0, 3.0]], np.float16)
    np.testing.assert_array_equal(ic.max_pool(f16, 2, dtype=np.uint32), [[0]])  # NaN -> 0


@pytest.mark.parametrize("dtype", NEW_DTYPES)
@pytest.mark.parametrize("op", ["dilate", "erode", "opening", "closing", "morph_gradient",
                                "tophat", "blackhat"])
def test_morphology_keeps_and_writes_every_dtype(op, dtype):
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    rng = np.random.default_rng(7)
    if info is None:
        x = (rng.standard_normal((9, 10)) * 1e3).astype(dtype)
    else:
        # values at both ends of the range: the differences saturate
        x = rng.integers(info.min, info.max, (9, 10), dtype=dtype, endpoint=True)
        x[2:4, 3:6] = info.max
        x[6, :] = info.min
    fp = np.array([[0, 1, 1], [1, 1, 0], [0, 1, 0]], bool)
    got = getattr(ic, op)(x, fp)
    assert got.dtype == np.dtype(dtype)
    eroded, dilated = ref_erode(x, fp), ref_dilate(x, fp)
    want = {"dilate": dilated, "erode": eroded,
            "opening": ref_dilate(eroded, fp), "closing": ref_erode(dilated, fp)}
    if op in want:
        np.testing.assert_array_equal(got, want[op])
    else:
        first, second = {"morph_gradient": (dilated, eroded),
                         "tophat": (x, want["opening"]),
                         "blackhat": (want["closing"], x)}[op]
        if info is None:
            np.testing.assert_array_equal(got, first - second)
        else:
            exact = [min(max(int(a) - int(b), info.min), info.max)
                     for a, b in zip(first.ravel(), second.ravel())]
            np.testing.assert_array_equal(got, np.array(exact, dtype).reshape(x.shape))
    out = np.empty(x.shape, dtype)
    assert getattr(ic, op)(x, fp, out=out) is out
    np.testing.assert_array_equal(out, got)
    with pytest.raises(ValueError, match="out has dtype"):
        getattr(ic, op)(x, fp, out=np.empty(x.shape, np.float64))


def test_refused_output_dtypes():
    x = np.ones((5, 6), np.float32)
    for dtype in (bool, ">i8", np.longdouble, "U2"):   # complex: tests/test_complex.py
        with pytest.raises(TypeError, match="dtype=.* is not supported"):
            ic.gaussian(x, 1.0, dtype=dtype)
    with pytest.raises(TypeError, match="out has unsupported dtype"):
        ic.box(x, 3, out=np.empty((5, 6), ">u4"))
    with pytest.raises(ValueError, match="out has dtype int8 but dtype=uint32"):
        ic.box(x, 3, dtype=np.uint32, out=np.empty((5, 6), np.int8))

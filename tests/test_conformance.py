"""Every backend against the same references (scipy.ndimage, plain numpy
float64): the conformance suite that the ``backend`` fixture
(tests/conftest.py) runs once per available backend.

Small, well-chosen cases (parametrised over modes and dtypes rather than
over many shapes): a backend may run them through a slow simulator.  Inputs
are integers or multiples of 1/16 and most kernels multiples of 1/4, so that
float32 sums are exact and integer outputs (rounded, saturated) compare
exactly; Gaussians compare within float32 rounding.
"""
import inspect

import numpy as np
import pytest

ndi = pytest.importorskip("scipy.ndimage")

import imgconv as ic  # noqa: E402
from imgconv._validate import SCIPY_MODE  # noqa: E402
from reference import (crop, full_pads, pad_per_axis, ref_convolve_kernel,  # noqa: E402
                       ref_correlate, ref_op, ref_pool, same_pads)

MODES = ["zero", "replicate", "reflect", "symmetric", "wrap"]
DTYPES = ["uint8", "uint16", "int16", "float32", "float64"]
COMPUTE = {"uint8": np.float32, "uint16": np.float32, "int16": np.float32,
           "float32": np.float32, "float64": np.float64}


def sample(shape, dtype, seed=0):
    """Values every dtype holds exactly: small integers (negative ones for
    signed types), multiples of 1/16 for floats."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        return rng.integers(0, 40, shape).astype(dtype)
    if dtype.kind == "i":
        return rng.integers(-40, 40, shape).astype(dtype)
    return (rng.integers(-64, 64, shape) / 16).astype(dtype)


def quarter_kernel(shape, seed=1):
    """A kernel of multiples of 1/4 with no zero tap."""
    rng = np.random.default_rng(seed)
    w = rng.integers(1, 8, shape) * rng.choice([-1, 1], shape)
    return w / 4.0


def check(backend, got, want, dtype, rtol=0.0):
    """``got`` (a backend result) equals the float64 reference ``want`` in
    ``dtype``: rounded and saturated for integers, within ``rtol`` of the
    largest value for floats (0: exactly)."""
    got = backend.to_numpy(got)
    dtype = np.dtype(dtype)
    assert got.dtype == dtype
    assert got.shape == want.shape
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        want = np.clip(np.rint(want), info.min, info.max).astype(dtype)
        np.testing.assert_array_equal(got, want)
    elif dtype == bool:
        np.testing.assert_array_equal(got, want)
    else:
        atol = rtol * max(1.0, float(np.max(np.abs(want), initial=0.0)))
        np.testing.assert_allclose(got, want, rtol=0, atol=atol)


# ---------------------------------------------------------------------------
# correlate, convolve
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_correlate_modes_and_dtypes(backend, mode, dtype):
    x = sample((5, 7), dtype)
    w = quarter_kernel((3, 2))          # even width: scipy's centre rule
    cval = 1.5 if mode == "zero" else 0.0
    got = ic.correlate(backend.asarray(x), w, mode=mode, cval=cval, backend=backend.name)
    check(backend, got, ref_correlate(x, w, mode, cval), COMPUTE[dtype])


@pytest.mark.parametrize("mode", MODES)
def test_convolve_matches_scipy(backend, mode):
    x = sample((6, 5, 4), "float64")
    w = quarter_kernel((2, 3, 3))
    got = ic.convolve(backend.asarray(x), w, mode=mode, backend=backend.name)
    check(backend, got, ndi.convolve(x, w, mode=SCIPY_MODE[mode]), np.float64, 1e-12)


GEOMETRY = [
    # padding, stride, dilation, origin
    ("same", 1, 1, (0, 1)),
    ("same", (2, 3), 1, 0),
    ("same", 1, (2, 1), (-1, 0)),
    ("valid", 1, 1, 0),
    ("valid", 2, 2, 0),
    ("full", (1, 2), 1, 0),
    (((1, 0), (0, 2)), 1, (1, 2), 0),
    (1, 2, 1, 0),
]


def _pads(padding, kshape, dilation, origin):
    if padding == "same":
        return same_pads(kshape, dilation, origin)
    if padding == "valid":
        return (0,) * len(kshape), (0,) * len(kshape)
    if padding == "full":
        return full_pads(kshape, dilation)
    if isinstance(padding, int):
        return (padding,) * len(kshape), (padding,) * len(kshape)
    return tuple(p[0] for p in padding), tuple(p[1] for p in padding)


@pytest.mark.parametrize("padding, stride, dilation, origin", GEOMETRY)
@pytest.mark.parametrize("flip", [False, True], ids=["correlate", "convolve"])
def test_geometry(backend, padding, stride, dilation, origin, flip):
    x = sample((9, 8), "int16")
    w = quarter_kernel((3, 4))
    function = ic.convolve if flip else ic.correlate
    got = function(backend.asarray(x), w, mode="reflect", padding=padding, stride=stride,
                   dilation=dilation, origin=origin, backend=backend.name)
    ref_w, ref_origin = ref_convolve_kernel(w, origin) if flip else (w, origin)
    lo, hi = _pads(padding, w.shape, dilation, ref_origin)
    check(backend, got, ref_correlate(x, ref_w, "reflect", 0.0, lo, hi, stride, dilation),
          np.float32)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape, kshape", [((1,), (3,)), ((1, 1), (2, 3)), ((3, 4), (7, 9)),
                                           ((2, 3, 2), (5, 3, 4))],
                         ids=["1-sample", "1-pixel", "kernel-larger-2d", "kernel-larger-3d"])
def test_small_inputs_and_large_kernels(backend, mode, shape, kshape):
    x = sample(shape, "float32")
    w = quarter_kernel(kshape)
    got = ic.correlate(backend.asarray(x), w, mode=mode, backend=backend.name)
    check(backend, got, ref_correlate(x, w, mode), np.float32, 1e-6)


@pytest.mark.parametrize("method", ["direct", "separable"])
def test_methods_and_channel_axis(backend, method):
    x = sample((6, 5, 3), "uint8")
    w = np.multiply.outer([1.0, 2.0, 1.0], [0.5, -1.0, 0.25, 0.5])   # rank 1
    got = ic.correlate(backend.asarray(x), w, mode="symmetric", channel_axis=-1, method=method,
                       backend=backend.name)
    want = np.stack([ref_correlate(x[..., c], w, "symmetric") for c in range(3)], axis=-1)
    check(backend, got, want, np.float32, 1e-6)


def test_axes_filters_slices(backend):
    x = sample((3, 6, 5), "float32")
    w = quarter_kernel((3, 3))
    got = ic.correlate(backend.asarray(x), w, mode="wrap", axes=(0, 2), backend=backend.name)
    want = np.stack([ref_correlate(x[:, i, :], w, "wrap") for i in range(6)], axis=1)
    check(backend, got, want, np.float32)


@pytest.mark.parametrize("dtype", ["uint8", "int16", "float64"])
def test_dtype_and_out_round_and_saturate(backend, dtype):
    x = sample((5, 6), "float32")
    w = quarter_kernel((3, 3)) * 40                    # beyond uint8/int16's range
    want = ref_correlate(x, w, "replicate")
    got = ic.correlate(backend.asarray(x), w, mode="replicate", dtype=dtype,
                       backend=backend.name)
    check(backend, got, want, dtype)
    out = backend.asarray(np.zeros(x.shape, dtype))
    result = ic.correlate(backend.asarray(x), w, mode="replicate", out=out, backend=backend.name)
    assert result is out
    check(backend, out, want, dtype)


# ---------------------------------------------------------------------------
# 1D, separable and derived filters
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_correlate1d_and_convolve1d(backend, mode):
    x = sample((5, 7), "int16")
    w = [0.25, -1.0, 0.5, 0.75]
    got = ic.correlate1d(backend.asarray(x), w, axis=0, mode=mode, origin=-1,
                         backend=backend.name)
    check(backend, got, ndi.correlate1d(x.astype(np.float64), w, axis=0,
                                        mode=SCIPY_MODE[mode], origin=-1), np.float32)
    got = ic.convolve1d(backend.asarray(x), w, axis=1, mode=mode, backend=backend.name)
    check(backend, got, ndi.convolve1d(x.astype(np.float64), w, axis=1,
                                       mode=SCIPY_MODE[mode]), np.float32)


@pytest.mark.parametrize("stride, dilation", [(1, 1), ((2, 1, 3), (1, 2, 1))])
def test_sepfilter(backend, stride, dilation):
    x = sample((6, 5, 4), "uint16")
    factors = [[0.5, 1.0, 0.25], None, [1.0, -0.5]]
    got = ic.sepfilter(backend.asarray(x), factors, mode="reflect", stride=stride,
                       dilation=dilation, backend=backend.name)
    dense = np.multiply.outer(np.multiply.outer(factors[0], [1.0]), factors[2])
    lo, hi = same_pads(dense.shape, dilation)
    check(backend, got, ref_correlate(x, dense, "reflect", 0.0, lo, hi, stride, dilation),
          np.float32)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["uint8", "float64"])
def test_gaussian(backend, mode, dtype):
    x = sample((7, 6), dtype)
    cval = 2.0 if mode == "zero" else 0.0
    got = ic.gaussian(backend.asarray(x), (1.0, 1.5), order=(0, 1), mode=mode, cval=cval,
                      backend=backend.name)
    want = ndi.gaussian_filter(x.astype(np.float64), (1.0, 1.5), order=(0, 1),
                               mode=SCIPY_MODE[mode], cval=cval)
    check(backend, got, want, COMPUTE[dtype], 1e-5 if dtype == "uint8" else 1e-12)


def test_gaussian_spacing_in_3d(backend):
    x = sample((6, 5, 4), "float32")
    spacing = (2.0, 0.5, 1.0)
    got = ic.gaussian(backend.asarray(x), 1.0, spacing=spacing, mode="symmetric",
                      backend=backend.name)
    want = ndi.gaussian_filter(x.astype(np.float64), [1.0 / s for s in spacing],
                               mode="reflect")
    check(backend, got, want, np.float32, 1e-5)


@pytest.mark.parametrize("function", ["gaussian_laplace", "gaussian_gradient_magnitude"])
@pytest.mark.parametrize("mode", ["zero", "reflect"])
def test_gaussian_derivative_sums(backend, function, mode):
    x = sample((7, 6), "uint8")
    cval = 2.0 if mode == "zero" else 0.0
    got = getattr(ic, function)(backend.asarray(x), (1.0, 1.5), mode=mode, cval=cval,
                                backend=backend.name)
    want = getattr(ndi, function)(x.astype(np.float64), (1.0, 1.5), mode=SCIPY_MODE[mode],
                                  cval=cval)
    check(backend, got, want, np.float32, 1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_box(backend, mode):
    x = sample((6, 7), "uint8")
    got = ic.box(backend.asarray(x), (3, 4), origin=(0, 1), mode=mode, backend=backend.name)
    want = ndi.uniform_filter(x.astype(np.float64), (3, 4), origin=(0, 1),
                              mode=SCIPY_MODE[mode])
    check(backend, got, want, np.float32, 1e-6)


#: scipy.ndimage's sequential filters pad every pass with cval
DERIVATIVE_SMOOTHING = {"sobel": [1.0, 2.0, 1.0], "prewitt": [1.0, 1.0, 1.0],
                        "scharr": [3.0, 10.0, 3.0]}


def ref_derivative(x, axis, operator, mode, cval):
    """scipy's sobel/prewitt (and the same passes for scharr, which scipy lacks)."""
    result = ndi.correlate1d(x.astype(np.float64), [-1.0, 0.0, 1.0], axis, mode=mode, cval=cval)
    for other in range(x.ndim):
        if other != axis:
            result = ndi.correlate1d(result, DERIVATIVE_SMOOTHING[operator], other, mode=mode,
                                     cval=cval)
    return result


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("operator", ["sobel", "prewitt", "scharr"])
def test_derivatives_and_gradient_magnitude(backend, operator, mode):
    x = sample((5, 6, 4), "int16")
    cval = 3.0 if mode == "zero" else 0.0
    function = getattr(ic, operator)
    got = function(backend.asarray(x), 1, mode=mode, cval=cval, backend=backend.name)
    check(backend, got, ref_derivative(x, 1, operator, SCIPY_MODE[mode], cval), np.float32)
    magnitude = np.sqrt(sum(ref_derivative(x, a, operator, SCIPY_MODE[mode], cval) ** 2
                            for a in range(3)))
    got = ic.gradient_magnitude(backend.asarray(x), operator, mode=mode, cval=cval,
                                backend=backend.name)
    check(backend, got, magnitude, np.float32, 1e-6)
    got = function(backend.asarray(x), mode=mode, cval=cval, dtype=np.uint8,
                   backend=backend.name)
    check(backend, got, magnitude, np.uint8)


@pytest.mark.parametrize("mode", MODES)
def test_laplace(backend, mode):
    x = sample((6, 5), "float32")
    got = ic.laplace(backend.asarray(x), mode=mode, backend=backend.name)
    check(backend, got, ndi.laplace(x.astype(np.float64), mode=SCIPY_MODE[mode]), np.float32)


# ---------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------
POOL_CASES = [
    # op, size, stride, padding, dilation, ceil_mode, count_include_pad, mode
    ("max", 2, None, 0, 1, False, True, "zero"),
    ("max", 3, 2, 1, 1, True, True, "zero"),
    ("min", (2, 3), 1, 0, (2, 1), False, True, "reflect"),
    ("avg", 3, 2, 1, 1, False, True, "zero"),
    ("avg", 3, 2, 1, 1, True, False, "zero"),
    ("avg", 2, 1, ((1, 0), (0, 1)), 1, False, True, "wrap"),
    ("lp", 2, 2, 0, 1, True, True, "replicate"),
    ("max", 3, 1, 1, 1, False, True, "symmetric"),
]


@pytest.mark.parametrize("op, size, stride, padding, dilation, ceil_mode, count_include_pad, "
                         "mode", POOL_CASES)
def test_pool(backend, op, size, stride, padding, dilation, ceil_mode, count_include_pad, mode):
    x = sample((7, 6), "float32")
    got = ic.pool(backend.asarray(x), size, stride=stride, padding=padding, dilation=dilation,
                  op=op, ceil_mode=ceil_mode, count_include_pad=count_include_pad, mode=mode,
                  backend=backend.name)
    want, where = ref_pool(x, size, stride, padding, dilation, op, 2, ceil_mode,
                           count_include_pad, mode)
    check(backend, got, want, np.float32, 1e-6)
    if op in ("max", "min"):
        values, indices = ic.pool(backend.asarray(x), size, stride=stride, padding=padding,
                                  dilation=dilation, op=op, ceil_mode=ceil_mode, mode=mode,
                                  return_indices=True, backend=backend.name)
        check(backend, values, want, np.float32)
        np.testing.assert_array_equal(backend.to_numpy(indices), where)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pool_dtypes_and_out(backend, dtype):
    x = sample((2, 6, 4), dtype)
    want, _ = ref_pool(x, 2)
    check(backend, ic.max_pool(backend.asarray(x), 2, backend=backend.name), want, dtype)
    want, _ = ref_pool(x, 2, op="avg")
    out = backend.asarray(np.zeros(want.shape, np.float64))
    assert ic.avg_pool(backend.asarray(x), 2, out=out, backend=backend.name) is out
    check(backend, out, want, np.float64, 1e-12)


def test_pool_channels(backend):
    x = sample((5, 4, 3), "uint8")
    got = ic.max_pool(backend.asarray(x), 2, channel_axis=-1, ceil_mode=True,
                      backend=backend.name)
    want = np.stack([ref_pool(x[..., c], 2, ceil_mode=True)[0] for c in range(3)], axis=-1)
    check(backend, got, want, np.uint8)


# ---------------------------------------------------------------------------
# morphology
# ---------------------------------------------------------------------------
CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)
MORPHOLOGY_MODES = [(None, None), ("zero", 5), ("replicate", None), ("reflect", None),
                    ("symmetric", None), ("wrap", None)]


@pytest.mark.parametrize("mode, cval", MORPHOLOGY_MODES, ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", DTYPES + ["bool"])
def test_dilate_erode(backend, dtype, mode, cval):
    x = sample((6, 7), "uint8") > 20 if dtype == "bool" else sample((6, 7), dtype)
    if dtype == "bool" and cval is not None:
        cval = 1
    for name in ("dilate", "erode"):
        function = getattr(ic, name)
        got = function(backend.asarray(x), size=(3, 2), origin=(0, -1), mode=mode, cval=cval,
                       backend=backend.name)
        kw = dict(origin=(0, -1), mode=mode, cval=0.0 if cval is None else cval)
        check(backend, got, ref_op(name, x, np.ones((3, 2), bool), **kw), x.dtype)
        got = function(backend.asarray(x), CROSS, mode=mode, cval=cval, backend=backend.name)
        check(backend, got, ref_op(name, x, CROSS, mode=mode, cval=0.0 if cval is None else cval),
              x.dtype)


@pytest.mark.parametrize("name", ["opening", "closing", "morph_gradient", "tophat", "blackhat"])
@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32", "bool"])
def test_compound_morphology(backend, name, dtype):
    x = sample((5, 6, 4), "uint8") > 20 if dtype == "bool" else sample((5, 6, 4), dtype)
    footprint = np.zeros((3, 3, 3), bool)
    footprint[1] = CROSS
    footprint[:, 1, 1] = True
    function = getattr(ic, name)
    check(backend, function(backend.asarray(x), footprint, backend=backend.name),
          ref_op(name, x, footprint), x.dtype)
    out = backend.asarray(np.zeros(x.shape, x.dtype))
    assert function(backend.asarray(x), size=2, out=out, backend=backend.name) is out
    check(backend, out, ref_op(name, x, np.ones((2, 2, 2), bool)), x.dtype)


def test_morphology_large_box_and_channels(backend):
    # a box far larger than the image, and a long depth window
    x = sample((9, 3, 4, 2), "float32")
    got = ic.erode(backend.asarray(x), size=(9, 7, 1), mode="reflect", channel_axis=-1,
                   backend=backend.name)
    box = np.ones((9, 7, 1), bool)
    want = np.stack([ref_op("erode", x[..., c], box, mode="reflect") for c in range(2)], axis=-1)
    check(backend, got, want, np.float32)


# ---------------------------------------------------------------------------
# every output dtype, empty inputs
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int8", "uint32", "int64", "uint64", "float16"])
def test_other_output_dtypes(backend, dtype):
    # sums of quarters: exact, rounded (ties to even) and saturated by the rule
    x = sample((5, 7), "int16") * 8                   # beyond int8's range, and below 0
    w = quarter_kernel((3, 3))
    got = ic.correlate(backend.asarray(x), w, dtype=dtype, backend=backend.name)
    check(backend, got, ref_correlate(x.astype(np.float64), w, "reflect", 0.0), dtype, 1e-3)
    got = ic.box(backend.asarray(x), 2, dtype=dtype, backend=backend.name)
    want = ndi.uniform_filter(x.astype(np.float64), 2, mode="mirror")
    check(backend, got, want, dtype, 1e-3)
    got = ic.max_pool(backend.asarray(x), 2, dtype=dtype, backend=backend.name)
    check(backend, got, ref_pool(x.astype(np.float64), 2)[0], dtype)


@pytest.mark.parametrize("shape", [(0, 5), (4, 0, 3)])
def test_empty_inputs(backend, shape):
    x = backend.asarray(np.zeros(shape, np.uint8))
    rank = len(shape)
    calls = {
        "correlate": lambda: ic.correlate(x, quarter_kernel((3,) * rank), backend=backend.name),
        "gaussian": lambda: ic.gaussian(x, 1.0, dtype=np.int8, backend=backend.name),
        "box": lambda: ic.box(x, 3, backend=backend.name),
        "sobel": lambda: ic.sobel(x, backend=backend.name),
        "dilate": lambda: ic.dilate(x, size=3, backend=backend.name),
        "max_pool": lambda: ic.max_pool(x, 2, backend=backend.name),
        "avg_pool": lambda: ic.avg_pool(x, 2, backend=backend.name),
    }
    pooled = tuple(n // 2 for n in shape)
    for name, call in calls.items():
        got = backend.to_numpy(call())
        assert got.shape == (pooled if name.endswith("pool") else shape), name
        assert got.dtype == {"gaussian": np.int8, "dilate": np.uint8,
                             "max_pool": np.uint8}.get(name, np.float32), name
# rank filters
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_rank_filters(backend, dtype, mode):
    x = sample((7, 9), dtype)
    cval = 3.0 if mode == "zero" else 0.0
    options = dict(mode=mode, cval=cval, backend=backend.name)
    scipy_options = dict(mode=SCIPY_MODE[mode], cval=cval)
    got = ic.median(backend.asarray(x), 3, **options)
    check(backend, got, ndi.median_filter(x, 3, **scipy_options), x.dtype)
    check(backend, ic.rank_filter(backend.asarray(x), -2, footprint=CROSS, origin=(1, 0),
                                  **options),
          ndi.rank_filter(x, -2, footprint=CROSS, origin=(1, 0), **scipy_options), x.dtype)
    check(backend, ic.percentile_filter(backend.asarray(x), 70, (5, 3), **options),
          ndi.percentile_filter(x, 70, (5, 3), **scipy_options), x.dtype)


# ---------------------------------------------------------------------------
# one mode per filtered axis (issue 20)
# ---------------------------------------------------------------------------
MODE_PAIRS = [("wrap", "zero"), ("reflect", "symmetric"), ("zero", "replicate")]


def scipy_modes(modes):
    return [SCIPY_MODE[m] for m in modes]


@pytest.mark.parametrize("method", ["direct", "separable", "fft"])
@pytest.mark.parametrize("modes", MODE_PAIRS)
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_per_axis_modes_correlate(backend, dtype, modes, method):
    # the n-D methods pad the input by each axis's mode; the separable
    # passes each pad their own axis
    x = sample((6, 7), dtype)
    w = (np.multiply.outer([1.0, 2.0, -1.0], [0.25, 0.5, 1.0, -0.75]) if method == "separable"
         else quarter_kernel((3, 4)))
    cval = 1.5 if "zero" in modes else 0.0
    want = ref_correlate(pad_per_axis(x.astype(np.float64), (0, 1), modes, (1, 2), (1, 1), cval),
                         w, "zero", 0.0, (0, 0), (0, 0))
    try:
        got = ic.correlate(backend.asarray(x), w, mode=modes, cval=cval, method=method,
                           backend=backend.name)
    except NotImplementedError as exc:
        # a backend may lack the FFT, and must say so
        assert method == "fft" and "no FFT correlation" in str(exc)
        pytest.skip(str(exc))
    check(backend, got, want, COMPUTE[dtype], 1e-5 if method == "fft" else 0.0)
    got = ic.correlate(backend.asarray(x), w, mode=modes, cval=cval, stride=(2, 3),
                       padding=((2, 0), (1, 2)), method="direct" if method == "fft" else method,
                       backend=backend.name)
    want = ref_correlate(pad_per_axis(x.astype(np.float64), (0, 1), modes, (2, 1), (0, 2), cval),
                         w, "zero", 0.0, (0, 0), (0, 0), stride=(2, 3))
    check(backend, got, want, COMPUTE[dtype])


@pytest.mark.parametrize("modes", [("wrap", "zero", "reflect"), ("symmetric", "replicate",
                                                                  "wrap")])
def test_per_axis_modes_separable_filters(backend, modes):
    x = sample((5, 6, 4), "int16")
    xf = x.astype(np.float64)
    cval = 3.0 if "zero" in modes else 0.0
    sm = scipy_modes(modes)
    a = backend.asarray(x)
    options = dict(mode=modes, cval=cval, backend=backend.name)
    check(backend, ic.gaussian(a, (1.0, 0.8, 1.5), order=(0, 1, 0), **options),
          ndi.gaussian_filter(xf, (1.0, 0.8, 1.5), order=(0, 1, 0), mode=sm, cval=cval),
          np.float32, 1e-5)
    check(backend, ic.gaussian(a, 5.0, **options),        # longer than the axes: folded
          ndi.gaussian_filter(xf, 5.0, mode=sm, cval=cval), np.float32, 1e-5)
    check(backend, ic.box(a, (3, 2, 4), **options),
          ndi.uniform_filter(xf, (3, 2, 4), mode=sm, cval=cval), np.float32, 1e-6)
    check(backend, ic.sobel(a, 1, **options), ndi.sobel(xf, 1, mode=sm, cval=cval), np.float32)
    magnitude = np.sqrt(sum(ndi.prewitt(xf, d, mode=sm, cval=cval) ** 2 for d in range(3)))
    check(backend, ic.gradient_magnitude(a, "prewitt", **options), magnitude, np.float32, 1e-6)
    check(backend, ic.laplace(a, **options), ndi.laplace(xf, mode=sm, cval=cval), np.float32)
    check(backend, ic.sepfilter(a, [[1.0, 2.0], None, [0.5, -1.0, 0.25]], **options),
          ref_correlate(pad_per_axis(xf, range(3), modes, (1, 0, 1), (0, 0, 1), cval),
                        np.multiply.outer(np.multiply.outer([1.0, 2.0], [1.0]),
                                          [0.5, -1.0, 0.25]), "zero", 0.0, (0,) * 3, (0,) * 3),
          np.float32)
    terms = [ndi.gaussian_filter(xf, 1.0, order=[2 * (b == d) for b in range(3)], mode=sm,
                                 cval=cval) for d in range(3)]
    check(backend, ic.gaussian_laplace(a, 1.0, **options), sum(terms), np.float32, 1e-5)


@pytest.mark.parametrize("modes, cval", [(("wrap", "zero"), 5), (("symmetric", "reflect"),
                                                                  None)])
@pytest.mark.parametrize("dtype", ["uint8", "float32", "bool"])
def test_per_axis_modes_morphology(backend, dtype, modes, cval):
    x = sample((6, 7), "uint8") > 20 if dtype == "bool" else sample((6, 7), dtype)
    if dtype == "bool" and cval is not None:
        cval = 1
    scipy_cval = 0 if cval is None else cval
    a = backend.asarray(x)
    got = ic.erode(a, size=(3, 2), mode=modes, cval=cval, backend=backend.name)
    want = ndi.minimum_filter(x, (3, 2), mode=scipy_modes(modes), cval=scipy_cval)
    check(backend, got, want, x.dtype)
    # a footprint: x padded per axis, scipy's erosion/dilation of it, the core
    for name, scipy_op, lo, hi in [("erode", ndi.grey_erosion, (1, 1), (1, 1)),
                                   ("dilate", ndi.grey_dilation, (1, 1), (1, 1))]:
        padded = pad_per_axis(x, (0, 1), modes, lo, hi, scipy_cval)
        want = crop(scipy_op(padded, footprint=CROSS), (0, 1), lo, x.shape)
        got = getattr(ic, name)(a, CROSS, mode=modes, cval=cval, backend=backend.name)
        check(backend, got, want, x.dtype)


@pytest.mark.parametrize("op", ["max", "avg"])
def test_per_axis_modes_pool(backend, op):
    from numpy.lib.stride_tricks import sliding_window_view
    x = sample((7, 6), "float32")
    modes = ("wrap", "zero")
    fill = -np.inf if op == "max" else 0.0
    padded = pad_per_axis(x.astype(np.float64), (0, 1), modes, (1, 1), (1, 0), fill)
    windows = sliding_window_view(padded, (3, 2))[::2, ::1]
    want = windows.max((-2, -1)) if op == "max" else windows.mean((-2, -1))
    got = ic.pool(backend.asarray(x), (3, 2), stride=(2, 1), padding=((1, 1), (1, 0)), op=op,
                  mode=modes, backend=backend.name)
    check(backend, got, want, np.float32, 1e-6)
    if op == "max":
        values, where = ic.pool(backend.asarray(x), (3, 2), stride=(2, 1),
                                padding=((1, 1), (1, 0)), mode=modes, return_indices=True,
                                backend=backend.name)
        np.testing.assert_array_equal(x.reshape(-1)[backend.to_numpy(where)], want)


def test_per_axis_modes_rank(backend):
    x = sample((7, 9), "int16")
    modes = ("symmetric", "zero")
    got = ic.median(backend.asarray(x), footprint=CROSS, mode=modes, cval=4,
                    backend=backend.name)
    padded = pad_per_axis(x, (0, 1), modes, (1, 1), (1, 1), 4)
    check(backend, got, crop(ndi.median_filter(padded, footprint=CROSS), (0, 1), (1, 1),
                             x.shape), x.dtype)


def test_every_public_filter_is_covered():
    # the suite above calls each of these with backend=<name>: a new public
    # function taking backend= needs a conformance case too
    covered = {"correlate", "convolve", "correlate1d", "convolve1d", "sepfilter", "gaussian",
               "box", "sobel", "prewitt", "scharr", "laplace", "gradient_magnitude", "pool",
               "max_pool", "avg_pool", "dilate", "erode", "opening", "closing",
               "morph_gradient", "tophat", "blackhat", "gaussian_laplace",
               "gaussian_gradient_magnitude", "median", "rank_filter", "percentile_filter"}
    taking_backend = {name for name in ic.__all__ if inspect.isfunction(getattr(ic, name))
                      and "backend" in inspect.signature(getattr(ic, name)).parameters}
    # max_pool and avg_pool pass backend= on to pool through **kwargs
    assert taking_backend | {"max_pool", "avg_pool"} == covered

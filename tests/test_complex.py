"""Complex data in the linear filters: complex64/complex128 images and
complex kernels, filtered as real passes over the real and imaginary parts
(``_convolve.via_real_parts``), against scipy.ndimage's complex results and,
where scipy has no such argument (stride, dilation, padding, sepfilter), a
plain numpy complex128 reference.  The errors: tests/test_errors.py."""
import itertools

import numpy as np
import pytest

ndi = pytest.importorskip("scipy.ndimage")

import imgconv as ic  # noqa: E402
from imgconv._validate import SCIPY_MODE  # noqa: E402
from reference import CANONICAL, full_pads, layouts, pad_array, same_pads  # noqa: E402

MODES = ["zero", "replicate", "reflect", "symmetric", "wrap"]
COMPLEX = [np.complex64, np.complex128]


def rng_for(*seed):
    return np.random.default_rng([abs(hash(s)) % 2 ** 32 for s in map(str, seed)])


def random_complex(rng, shape, dtype=np.complex128):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def random_real(rng, shape, dtype=np.float64):
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0, 100, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def tolerance(x, w, dtype):
    """Float rounding of a sum of products: relative to sum|w| * max|x|."""
    eps = 2e-6 if np.dtype(dtype) in (np.complex64, np.float32) else 1e-13
    scale = float(np.abs(np.asarray(w)).sum()) * max(float(np.abs(x).max(initial=0)), 1.0)
    return eps * scale * 4


def assert_close(got, want, atol):
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=atol)


def ref_correlate(x, w, mode="reflect", cval=0.0, pad_lo=None, pad_hi=None, stride=1,
                  dilation=1):
    """out[i] = sum_k w[k] * xpad[i*s + k*d] in complex128 (no conjugation;
    padding='same' by default), for 1-3 spatial dims, no channel axis."""
    x = np.asarray(x, np.complex128)
    w = np.asarray(w, np.complex128)
    rank = x.ndim
    stride = (stride,) * rank if np.isscalar(stride) else tuple(stride)
    dilation = (dilation,) * rank if np.isscalar(dilation) else tuple(dilation)
    if pad_lo is None:
        pad_lo, pad_hi = same_pads(w.shape, dilation)
    padded = pad_array(x, mode, cval, pad_lo, pad_hi)
    oshape = tuple((n + lo + hi - d * (k - 1) - 1) // s + 1 for n, k, lo, hi, s, d in
                   zip(x.shape, w.shape, pad_lo, pad_hi, stride, dilation))
    out = np.zeros(oshape, np.complex128)
    for k in itertools.product(*(range(n) for n in w.shape)):
        sl = tuple(slice(kk * d, kk * d + (o - 1) * s + 1, s)
                   for kk, d, s, o in zip(k, dilation, stride, oshape))
        out += w[k] * padded[sl]
    return out


# ---------------------------------------------------------------------------
# correlate and convolve against scipy.ndimage
# ---------------------------------------------------------------------------
#: (image dtype, kernel dtype): complex images with complex or real kernels,
#: real images with complex kernels
COMBINATIONS = [(np.complex64, np.complex128), (np.complex128, np.complex128),
                (np.complex64, np.float64), (np.complex128, np.float32),
                (np.float32, np.complex128), (np.uint8, np.complex64),
                (np.float64, np.complex64), (np.int16, np.complex128)]


def make_image(rng, shape, dtype):
    if np.dtype(dtype).kind == "c":
        return random_complex(rng, shape, dtype)
    return random_real(rng, shape, dtype)


def make_kernel(rng, shape, dtype):
    if np.dtype(dtype).kind == "c":
        return random_complex(rng, shape, dtype)
    return random_real(rng, shape, dtype)


def expected_dtype(x_dtype):
    """scipy's and imgconv's result dtype: complex64 where the real parts
    compute in float32, complex128 otherwise (the kernel does not count)."""
    x_dtype = np.dtype(x_dtype)
    if x_dtype.kind == "c":
        return x_dtype
    return np.dtype(np.complex64 if x_dtype in (np.float32, np.uint8, np.int16, np.uint16)
                    else np.complex128)


@pytest.mark.parametrize("x_dtype,w_dtype", COMBINATIONS)
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("name", ["correlate", "convolve"])
def test_correlate_and_convolve_match_scipy(name, rank, x_dtype, w_dtype):
    rng = rng_for(name, rank, x_dtype, w_dtype)
    for trial in range(6):
        shape = tuple(int(n) for n in rng.integers(1, 12 if rank < 3 else 7, rank))
        kshape = tuple(int(k) for k in rng.integers(1, 6, rank))
        origin = tuple(int(rng.integers(-(k // 2), (k - 1) // 2 + 1)) for k in kshape)
        mode = MODES[trial % len(MODES)]
        x = make_image(rng, shape, x_dtype)
        w = make_kernel(rng, kshape, w_dtype)
        cval = 0.0
        if mode == "zero":
            cval = complex(*rng.standard_normal(2)) if x.dtype.kind == "c" else 1.5
        got = getattr(ic, name)(x, w, mode=mode, cval=cval, origin=origin)
        want = getattr(ndi, name)(x, w, mode=SCIPY_MODE[mode], cval=cval, origin=origin)
        assert got.dtype == want.dtype == expected_dtype(x_dtype)
        assert_close(got, want, tolerance(x, w, got.dtype))


def test_correlate_conjugates_a_complex_kernel_as_scipy_and_numpy():
    """scipy.ndimage.correlate and np.correlate conjugate a complex kernel;
    convolve does not (so a convolution is a correlation with the flipped,
    conjugated kernel)."""
    x = np.zeros(7, complex)
    x[3] = 1
    w = np.array([1j, 2, 3 - 1j])
    np.testing.assert_array_equal(ic.correlate(x, w, mode="zero"), np.correlate(x, w, "same"))
    np.testing.assert_array_equal(ic.correlate(x, w, mode="zero"),
                                  [0, 0, 3 + 1j, 2, -1j, 0, 0])
    np.testing.assert_array_equal(ic.convolve(x, w, mode="zero"), np.convolve(x, w, "same"))
    np.testing.assert_array_equal(ic.correlate1d(x, w, mode="zero"),
                                  ndi.correlate1d(x, w, mode="constant"))
    np.testing.assert_array_equal(ic.convolve1d(x, w, mode="zero"),
                                  ndi.convolve1d(x, w, mode="constant"))


@pytest.mark.parametrize("method", ["direct", "separable", "fft", "auto"])
@pytest.mark.parametrize("dtype", COMPLEX)
def test_gabor_bank_every_method(method, dtype):
    """A bank of axis-aligned Gabor kernels (rank-1, so 'separable' applies
    to their real and imaginary parts) on a complex image, by every method."""
    rng = rng_for("gabor", method, dtype)
    x = random_complex(rng, (40, 33), dtype)
    t = np.arange(-7, 8)
    envelope = np.exp(-t ** 2 / 18.0)
    for frequency in (0.1, 0.25):
        gabor = np.multiply.outer(envelope, envelope * np.exp(2j * np.pi * frequency * t))
        got = ic.convolve(x, gabor, method=method, mode="wrap")
        want = ndi.convolve(x, gabor, mode="wrap")
        assert got.dtype == dtype
        assert_close(got, want, tolerance(x, gabor, dtype))
        got = ic.correlate(x.real, gabor, method=method, mode="symmetric")
        assert got.dtype == np.result_type(x.real.dtype, np.complex64)
        assert_close(got, ndi.correlate(x.real, gabor, mode="reflect"),
                     tolerance(x, gabor, dtype))


# ---------------------------------------------------------------------------
# geometry scipy lacks: a numpy complex128 reference
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("x_dtype,w_dtype", COMBINATIONS[:5])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_stride_dilation_padding(rank, x_dtype, w_dtype):
    rng = rng_for("geometry", rank, x_dtype, w_dtype)
    for trial in range(6):
        shape = tuple(int(n) for n in rng.integers(6, 13 if rank < 3 else 8, rank))
        kshape = tuple(int(k) for k in rng.integers(1, 4, rank))
        stride = tuple(int(s) for s in rng.integers(1, 4, rank))
        dilation = tuple(int(d) for d in rng.integers(1, 3, rank))
        mode = MODES[trial % len(MODES)]
        x = make_image(rng, shape, x_dtype)
        w = make_kernel(rng, kshape, w_dtype)
        cval = (0.5 - 2j if x.dtype.kind == "c" else -1.0) if mode == "zero" else 0.0
        padding = ["same", "valid", "full", 2][trial % 4]
        if padding == "same":
            lo, hi = same_pads(kshape, dilation)
        elif padding == "valid":
            lo = hi = (0,) * rank
        elif padding == "full":
            lo, hi = full_pads(kshape, dilation)
        else:
            lo = hi = (padding,) * rank
        want = ref_correlate(x, np.conj(w), mode, cval, lo, hi, stride, dilation)
        got = ic.correlate(x, w, mode=mode, cval=cval, padding=padding, stride=stride,
                           dilation=dilation)
        if padding == "same":   # 'same' samples the stride-1 result
            want = ref_correlate(x, np.conj(w), mode, cval, lo, hi, 1, dilation)[
                tuple(slice(None, None, s) for s in stride)]
        assert got.dtype == expected_dtype(x_dtype)
        assert_close(got, want, tolerance(x, w, got.dtype))


@pytest.mark.parametrize("dtype", COMPLEX + [np.float32])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_sepfilter_complex_factors(rank, dtype):
    """sepfilter equals correlate with the outer product of its factors:
    conjugated, as correlate conjugates a complex kernel."""
    rng = rng_for("sepfilter", rank, dtype)
    for trial in range(5):
        shape = tuple(int(n) for n in rng.integers(5, 12 if rank < 3 else 8, rank))
        factors = [random_complex(rng, int(rng.integers(1, 6)))
                   if (trial + a) % 2 else random_real(rng, int(rng.integers(1, 6)))
                   for a in range(rank)]
        stride = tuple(int(s) for s in rng.integers(1, 3, rank))
        dilation = tuple(int(d) for d in rng.integers(1, 3, rank))
        mode = MODES[trial % len(MODES)]
        x = make_image(rng, shape, dtype)
        kernel = factors[0]
        for f in factors[1:]:
            kernel = np.multiply.outer(kernel, f)
        lo, hi = same_pads(kernel.shape, dilation)
        want = ref_correlate(x, np.conj(kernel), mode, 0.0, lo, hi, 1, dilation)[
            tuple(slice(None, None, s) for s in stride)]
        got = ic.sepfilter(x, factors, mode=mode, stride=stride, dilation=dilation)
        complex_data = x.dtype.kind == "c" or any(f.dtype.kind == "c" for f in factors)
        assert got.dtype == (expected_dtype(dtype) if complex_data else dtype)
        assert_close(got, want, tolerance(x, kernel, got.dtype))
        if rank > 1:    # a real factor skipped (None) beside complex ones
            skipped = [None] + factors[1:]
            kernel = np.ones(1)
            for f in skipped[1:]:
                kernel = np.multiply.outer(kernel, f)
            assert_close(ic.sepfilter(x, skipped, mode=mode),
                         ref_correlate(x, np.conj(kernel), mode),
                         tolerance(x, kernel, got.dtype))


# ---------------------------------------------------------------------------
# the other linear filters against scipy.ndimage
# ---------------------------------------------------------------------------
def _filters(axis, sigma, size):
    """name -> (imgconv call, scipy call), on (x, mode, cval)."""
    return {
        "correlate1d": (lambda x, w, **kw: ic.correlate1d(x, w, axis, **kw),
                        lambda x, w, **kw: ndi.correlate1d(x, w, axis, **kw)),
        "convolve1d": (lambda x, w, **kw: ic.convolve1d(x, w, axis, **kw),
                       lambda x, w, **kw: ndi.convolve1d(x, w, axis, **kw)),
        "gaussian": (lambda x, w, **kw: ic.gaussian(x, sigma, **kw),
                     lambda x, w, **kw: ndi.gaussian_filter(x, sigma, **kw)),
        "gaussian_order": (lambda x, w, **kw: ic.gaussian(x, sigma, order=1, **kw),
                           lambda x, w, **kw: ndi.gaussian_filter(x, sigma, order=1, **kw)),
        "box": (lambda x, w, **kw: ic.box(x, size, **kw),
                lambda x, w, **kw: ndi.uniform_filter(x, size, **kw)),
        "sobel": (lambda x, w, **kw: ic.sobel(x, axis, **kw),
                  lambda x, w, **kw: ndi.sobel(x, axis, **kw)),
        "prewitt": (lambda x, w, **kw: ic.prewitt(x, axis, **kw),
                    lambda x, w, **kw: ndi.prewitt(x, axis, **kw)),
        "laplace": (lambda x, w, **kw: ic.laplace(x, **kw),
                    lambda x, w, **kw: ndi.laplace(x, **kw)),
        "gaussian_laplace": (lambda x, w, **kw: ic.gaussian_laplace(x, sigma, **kw),
                             lambda x, w, **kw: ndi.gaussian_laplace(x, sigma, **kw)),
    }


FILTER_NAMES = list(_filters(0, 1.0, 3))
#: the filters whose weights a 1D kernel gives (the others take none)
WITH_WEIGHTS = {"correlate1d", "convolve1d"}


@pytest.mark.parametrize("name,dtype", [(name, dtype) for name in FILTER_NAMES
                                        for dtype in COMPLEX + [np.float32]
                                        # a real image: with a complex kernel only
                                        if dtype != np.float32 or name in WITH_WEIGHTS])
def test_filters_match_scipy(name, dtype):
    rng = rng_for("filters", name, dtype)
    for trial in range(8):
        rank = 1 + trial % 3
        shape = tuple(int(n) for n in rng.integers(3, 14 if rank < 3 else 8, rank))
        axis = int(rng.integers(-rank, rank))
        sigma = tuple(float(s) for s in rng.uniform(0.5, 2.0, rank))
        size = tuple(int(s) for s in rng.integers(1, 5, rank))
        ours, theirs = _filters(axis, sigma, size)[name]
        mode = MODES[trial % len(MODES)]
        x = make_image(rng, shape, dtype)
        w = random_complex(rng, int(rng.integers(1, 6))) if name in WITH_WEIGHTS else None
        kw = {}
        if mode == "zero" and name not in ("sobel", "prewitt", "laplace", "gaussian_laplace"):
            # (scipy pads each pass of those with cval: the same, but the
            # reference needs the same pass order; tested elsewhere for reals)
            kw["cval"] = complex(*rng.standard_normal(2)) if x.dtype.kind == "c" else 2.0
        got = ours(x, w, mode=mode, **kw)
        want = theirs(x, w, mode=SCIPY_MODE[mode], **kw)
        assert got.dtype == want.dtype == expected_dtype(dtype)
        weight = 16.0 if w is None else np.abs(w).sum()
        assert_close(got, want, tolerance(x, [weight], got.dtype))


@pytest.mark.parametrize("dtype", COMPLEX)
def test_scharr_along_an_axis(dtype):
    """No scipy scharr: the numpy reference with its outer-product kernel."""
    rng = rng_for("scharr", dtype)
    x = random_complex(rng, (9, 11), dtype)
    for axis, kernel in ((0, np.multiply.outer([-1, 0, 1], [3, 10, 3])),
                         (1, np.multiply.outer([3, 10, 3], [-1, 0, 1]))):
        got = ic.scharr(x, axis, mode="wrap")
        assert got.dtype == dtype
        assert_close(got, ref_correlate(x, kernel, "wrap"), tolerance(x, kernel, dtype))


@pytest.mark.parametrize("dtype", COMPLEX)
def test_gaussian_spacing_and_truncate(dtype):
    rng = rng_for("gaussian-spacing", dtype)
    x = random_complex(rng, (6, 10, 12), dtype)
    got = ic.gaussian(x, 2.0, spacing=(2.0, 1.0, 0.5), truncate=3.0, order=(0, 0, 2))
    want = ndi.gaussian_filter(x, (1.0, 2.0, 4.0), order=(0, 0, 2), truncate=3.0,
                               mode="mirror") / 0.25
    assert_close(got, want, tolerance(x, [4.0], dtype))


# ---------------------------------------------------------------------------
# channel_axis, axes
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", COMPLEX)
def test_channel_axis(dtype):
    rng = rng_for("channels", dtype)
    x = random_complex(rng, (10, 3, 12), dtype)
    w = random_complex(rng, (3, 4))
    got = ic.correlate(x, w, channel_axis=1, mode="replicate")
    for c in range(3):
        assert_close(got[:, c], ndi.correlate(x[:, c], w, mode="nearest"),
                     tolerance(x, w, dtype))
    got = ic.gaussian(x, 1.5, channel_axis=-2)
    for c in range(3):
        assert_close(got[:, c], ndi.gaussian_filter(x[:, c], 1.5, mode="mirror"),
                     tolerance(x, [1.0], dtype))


@pytest.mark.parametrize("dtype", COMPLEX)
def test_axes(dtype):
    rng = rng_for("axes", dtype)
    x = random_complex(rng, (5, 8, 9), dtype)
    w = random_complex(rng, (3, 2))
    for axes in [(1, 2), (0, 2), (2, 0)]:
        got = ic.correlate(x, w, axes=axes, mode="wrap")
        want = ndi.correlate(x, w, axes=sorted(axes), mode="wrap")
        assert_close(got, want, tolerance(x, w, dtype))
        got = ic.gaussian(x, (1.0, 2.0), axes=axes, mode="symmetric")
        sigma = dict(zip(axes, (1.0, 2.0)))
        want = ndi.gaussian_filter(x, [sigma[a] for a in sorted(axes)], axes=sorted(axes),
                                   mode="reflect")
        assert_close(got, want, tolerance(x, [1.0], dtype))


# ---------------------------------------------------------------------------
# dtype= and out=
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("x_dtype,w_dtype", COMBINATIONS)
def test_out_and_dtype(x_dtype, w_dtype):
    rng = rng_for("out", x_dtype, w_dtype)
    x = make_image(rng, (9, 10), x_dtype)
    w = make_kernel(rng, (3, 3), w_dtype)
    want = ndi.correlate(x, w, mode="mirror")
    for out_dtype in COMPLEX:
        out = np.full(x.shape, np.nan, out_dtype)
        assert ic.correlate(x, w, out=out) is out
        assert_close(out, want, tolerance(x, w, np.complex64))
        got = ic.correlate(x, w, dtype=out_dtype)
        assert got.dtype == out_dtype
        np.testing.assert_array_equal(got, out)
        out = np.full(x.shape, np.nan, out_dtype)
        assert ic.correlate(x, w, dtype=out_dtype, out=out) is out
        np.testing.assert_array_equal(got, out)


def test_wider_output_keeps_the_compute_type():
    """dtype=complex128 for complex64 data computes the real passes in
    float32, as dtype=float64 does for float32 data (their sums are added
    in float64)."""
    rng = rng_for("wider")
    x = random_complex(rng, (12, 13), np.complex64)
    w = random_complex(rng, (3, 3), np.complex64)
    got = ic.correlate(x, w, dtype=np.complex128)
    assert got.dtype == np.complex128
    np.testing.assert_array_equal(got.real, ic.correlate(x.real, w.real, dtype=np.float64)
                                  + ic.correlate(x.imag, w.imag, dtype=np.float64))
    assert_close(got, ic.correlate(x, w), tolerance(x, w, np.complex64))


@pytest.mark.parametrize("name", FILTER_NAMES + ["correlate", "sepfilter", "scharr",
                                                 "gradient_magnitude",
                                                 "gaussian_gradient_magnitude"])
@pytest.mark.parametrize("dtype", COMPLEX)
def test_complex_result_of_real_data(name, dtype):
    """A complex dtype= or out= for real data (numpy's casting allows a
    real result into a complex one): the real result, imaginary part 0."""
    rng = rng_for("real-into-complex", name)
    x = random_real(rng, (8, 9), np.float32)
    calls = {n: (lambda f: lambda a, **kw: f(a, np.array([1.0, -2.0, 0.5]), **kw))(pair[0])
             for n, pair in _filters(1, 1.2, 3).items()}
    calls.update(correlate=lambda a, **kw: ic.correlate(a, np.ones((3, 2)), **kw),
                 sepfilter=lambda a, **kw: ic.sepfilter(a, [[1.0, 2.0], [1.0, 0.0, -1.0]],
                                                        **kw),
                 scharr=lambda a, **kw: ic.scharr(a, 0, **kw),
                 gradient_magnitude=lambda a, **kw: ic.gradient_magnitude(a, **kw),
                 gaussian_gradient_magnitude=lambda a, **kw: ic.gaussian_gradient_magnitude(
                     a, 1.0, **kw))
    call = calls[name]
    real = call(x, dtype=np.empty(0, dtype).real.dtype)
    got = call(x, dtype=dtype)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got.imag, 0)
    np.testing.assert_array_equal(got.real, real.astype(got.real.dtype))
    out = np.full(x.shape, np.nan, dtype)
    assert call(x, out=out) is out
    np.testing.assert_array_equal(out, got)


# ---------------------------------------------------------------------------
# inputs: unmodified, any layout, empty
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", COMPLEX)
def test_input_and_kernel_unmodified_any_layout(dtype):
    rng = rng_for("layouts", dtype)
    x = random_complex(rng, (7, 9), dtype)
    w = random_complex(rng, (3, 3))
    want = ndi.correlate(x, w, mode="wrap")
    for label, view in layouts(x):
        kept, kept_w = view.copy(), w.copy()
        got = ic.correlate(view, w, mode="wrap")
        np.testing.assert_array_equal(view, kept, err_msg=label)
        np.testing.assert_array_equal(w, kept_w, err_msg=label)
        assert got.dtype == dtype, label
        assert_close(got, want, tolerance(x, w, dtype))
        got = ic.gaussian(view, 1.0, mode="wrap")
        assert_close(got, ndi.gaussian_filter(x, 1.0, mode="wrap"), tolerance(x, [1], dtype))
    # lists of Python complex numbers too
    got = ic.correlate(x.tolist(), w.tolist(), mode="wrap")
    assert got.dtype == np.complex128
    assert_close(got, ndi.correlate(x.astype(complex), w, mode="wrap"),
                 tolerance(x, w, np.complex128))


@pytest.mark.parametrize("shape", [(0,), (0, 5), (4, 0, 3)])
@pytest.mark.parametrize("dtype", COMPLEX)
def test_empty_input(shape, dtype):
    x = np.zeros(shape, dtype)
    for got in (ic.correlate(x, np.ones((2,) * len(shape)) * 1j),
                ic.gaussian(x, 1.0), ic.box(x, 3), ic.laplace(x)):
        assert got.shape == shape and got.dtype == dtype


def test_repeated_calls_agree():
    """Real passes take the plan cache: repeated complex calls, and real calls
    of the same layout in between, give the same results."""
    rng = rng_for("repeat")
    x = random_complex(rng, (16, 16), np.complex64)
    w = random_complex(rng, (3, 3), np.complex64)
    first = ic.correlate(x, w)
    real = ic.correlate(x.real.copy(), w.real)
    for _ in range(3):
        np.testing.assert_array_equal(ic.correlate(x, w), first)
        np.testing.assert_array_equal(ic.correlate(x.real.copy(), w.real), real)
    gaussian = ic.gaussian(x, 1.0)
    np.testing.assert_array_equal(ic.gaussian(x, 1.0), gaussian)


@pytest.mark.parametrize("dtype", COMPLEX)
def test_threads_do_not_change_results(dtype):
    rng = rng_for("threads", dtype)
    x = random_complex(rng, (64, 48), dtype)
    w = random_complex(rng, (5, 5))
    one = ic.correlate(x, w, threads=1)
    np.testing.assert_array_equal(ic.correlate(x, w, threads=2), one)


# ---------------------------------------------------------------------------
# every backend (tests/conftest.py)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", COMPLEX)
def test_backends(backend, dtype):
    rng = rng_for("backend", dtype)
    x = random_complex(rng, (11, 12), dtype)
    w = random_complex(rng, (3, 4))
    xb = backend.asarray(x)
    got = backend.to_numpy(ic.correlate(xb, w, mode="wrap", backend=backend.name))
    assert got.dtype == dtype
    assert_close(got, ndi.correlate(x, w, mode="wrap"), tolerance(x, w, dtype))
    got = backend.to_numpy(ic.gaussian(xb, 1.3, mode="zero", cval=1 - 1j, backend=backend.name))
    assert_close(got, ndi.gaussian_filter(x, 1.3, mode="constant", cval=1 - 1j),
                 tolerance(x, [1.0], dtype))
    got = backend.to_numpy(ic.sobel(xb, 1, backend=backend.name))
    assert_close(got, ndi.sobel(x, 1, mode="mirror"), tolerance(x, [8.0], dtype))
    assert CANONICAL["mirror"] == "reflect"


def test_kernels_with_a_part_of_zeros():
    """A complex kernel whose imaginary (or real) part is 0 takes half the
    passes, with the same result as the real (or imaginary) kernel."""
    rng = rng_for("zero-parts")
    x = random_complex(rng, (10, 11), np.complex128)
    w = random_real(rng, (3, 3))
    for kernel in (w.astype(complex), 1j * w, np.zeros((3, 3), complex)):
        got = ic.correlate(x, kernel, mode="wrap")
        assert got.dtype == np.complex128
        assert_close(got, ndi.correlate(x, kernel, mode="wrap"), tolerance(x, w, got.dtype))
    got = ic.correlate(x.real, np.zeros((3, 3), complex))
    assert got.dtype == np.complex128 and not got.any()

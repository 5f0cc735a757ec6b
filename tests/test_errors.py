"""Argument errors: the right exception type, with a message naming the argument."""
import numpy as np
import pytest

import imgconv as ic
from imgconv._validate import MODE_ALIASES

FUNCS = [ic.correlate, ic.convolve]
X = np.ones((6, 7), np.float32)
W = np.ones((3, 3))


@pytest.fixture(params=FUNCS, ids=["correlate", "convolve"])
def f(request):
    return request.param


# ---------------------------------------------------------------------------
# input and kernel
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", [np.ones(3), np.ones((3, 3, 3)), np.ones((1, 1, 1, 1)),
                                    np.float64(1.0)])
def test_kernel_rank_mismatch(f, kernel):
    with pytest.raises(ValueError, match=r"kernel has \d dimensions.*2 spatial"):
        f(X, kernel)


def test_kernel_rank_with_channel_axis(f):
    # the kernel covers the spatial axes only
    with pytest.raises(ValueError, match="kernel"):
        f(np.ones((6, 7, 3)), np.ones((3, 3, 3)), channel_axis=-1)
    assert f(np.ones((6, 7, 3)), np.ones((3, 3)), channel_axis=-1).shape == (6, 7, 3)


@pytest.mark.parametrize("kernel", [np.ones((0, 3)), np.ones((3, 0)), np.zeros((0, 0))])
def test_empty_kernel(f, kernel):
    with pytest.raises(ValueError, match="kernel is empty"):
        f(X, kernel)


# (an empty image gives an empty result: tests/test_empty.py)


# (complex inputs and kernels are filtered: tests/test_complex.py)
@pytest.mark.parametrize("dtype", [object, str, "U3", "S2", "datetime64[s]", "timedelta64[s]"])
def test_unsupported_input_dtype(f, dtype):
    x = np.ones((4, 4)).astype(dtype) if dtype not in (str, "U3", "S2") else \
        np.full((4, 4), "ab", dtype=dtype)
    with pytest.raises(TypeError, match=r"x has unsupported dtype"):
        f(x, W)


@pytest.mark.parametrize("kernel", [[[1, "a"], [2, 3]], np.ones((3, 3), object)])
def test_unsupported_kernel_dtype(f, kernel):
    with pytest.raises(TypeError, match="kernel"):
        f(X, kernel)


@pytest.mark.parametrize("x", [3.0, None, "image"])
def test_not_an_image(f, x):
    with pytest.raises((TypeError, ValueError), match="x"):
        f(x, [1.0])


def test_zero_dimensional_input(f):
    with pytest.raises(ValueError, match="x has 0 spatial dimensions"):
        f(np.ones(()), np.ones(()))


def test_four_spatial_dims(f):
    with pytest.raises(ValueError, match=r"4 spatial dimensions.*channel_axis"):
        f(np.ones((3, 3, 3, 3)), np.ones((3, 3, 3, 3)))
    # with a channel axis, 3 spatial dimensions remain
    assert f(np.ones((3, 3, 3, 2)), np.ones((3, 3, 3)), channel_axis=3).shape == (3, 3, 3, 2)
    with pytest.raises(ValueError, match="5 spatial dimensions"):
        f(np.ones((2,) * 6), np.ones((2,) * 5), channel_axis=0)


def test_only_channel_axis(f):
    with pytest.raises(ValueError, match="0 spatial dimensions"):
        f(np.ones(3), np.ones(()), channel_axis=0)


# ---------------------------------------------------------------------------
# stride, dilation, origin, channel_axis
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["stride", "dilation"])
@pytest.mark.parametrize("bad", [0, -1, (1, 0), (-2, 1)])
def test_stride_dilation_below_one(f, name, bad):
    with pytest.raises(ValueError, match=rf"{name} must be >= 1"):
        f(X, W, **{name: bad})


@pytest.mark.parametrize("name", ["stride", "dilation"])
@pytest.mark.parametrize("bad", [1.5, 2.0, np.float64(2), True, (1, True), (1, 1.5), None,
                                 (1.0, 1)])
def test_stride_dilation_not_int(f, name, bad):
    with pytest.raises(TypeError, match=name):
        f(X, W, **{name: bad})


@pytest.mark.parametrize("name", ["stride", "dilation"])
def test_stride_dilation_string(f, name):
    with pytest.raises((TypeError, ValueError), match=name):
        f(X, W, **{name: "2"})


@pytest.mark.parametrize("name", ["stride", "dilation"])
@pytest.mark.parametrize("bad", [(1,), (1, 1, 1), ()])
def test_stride_dilation_wrong_length(f, name, bad):
    with pytest.raises(ValueError, match=rf"{name} needs 2 values"):
        f(X, W, **{name: bad})


@pytest.mark.parametrize("kshape,origin", [((3, 3), 2), ((3, 3), -2), ((3, 3), (0, 2)),
                                           ((4, 4), (-3, 0)), ((4, 4), (0, 2)),
                                           ((1, 1), (1, 0)), ((2, 5), (1, 0))])
def test_origin_out_of_range(f, kshape, origin):
    with pytest.raises(ValueError, match=r"origin=-?\d+ puts the centre outside"):
        f(X, np.ones(kshape), origin=origin)


def test_origin_wrong_type(f):
    with pytest.raises(TypeError, match="origin"):
        f(X, W, origin=0.5)
    with pytest.raises(ValueError, match="origin needs 2 values"):
        f(X, W, origin=(0, 0, 0))


@pytest.mark.parametrize("padding", ["valid", "full", 1, (1, 2), ((0, 1), (2, 0))])
def test_origin_with_explicit_padding(padding):
    with pytest.raises(ValueError, match="origin only applies with padding='same'"):
        ic.correlate(X, W, padding=padding, origin=(0, 1))
    with pytest.raises(ValueError, match="origin only applies with padding='same'"):
        ic.convolve(X, W, padding=padding, origin=1)


@pytest.mark.parametrize("axis", [2, -3, 5])
def test_channel_axis_out_of_range(f, axis):
    with pytest.raises(ValueError, match=rf"channel_axis={axis} is out of range"):
        f(X, np.ones(3), channel_axis=axis)


@pytest.mark.parametrize("axis", [1.0, "0", (0,)])
def test_channel_axis_wrong_type(f, axis):
    with pytest.raises(TypeError, match="channel_axis"):
        f(X, np.ones(3), channel_axis=axis)


# ---------------------------------------------------------------------------
# mode, cval, padding
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["bogus", "reflect_101", "", None, 0, "same"])
def test_unknown_mode_lists_valid_modes(f, mode):
    with pytest.raises(ValueError, match="mode must be one of") as info:
        f(X, W, mode=mode)
    msg = str(info.value)
    for valid in ["zero", "constant", "replicate", "nearest", "edge", "reflect", "mirror",
                  "reflect101", "symmetric", "wrap", "circular"]:
        assert valid in msg


@pytest.mark.parametrize("cval", [1j, np.complex64(1), 1 + 0j, "0", None, [0]])
def test_cval_not_real(f, cval):
    with pytest.raises(TypeError, match="cval must be a real number"):
        f(X, W, mode="zero", cval=cval)


#: every filter taking ``cval``, called on an image with keyword arguments
CVAL_FILTERS = {
    "correlate": lambda x, **kw: ic.correlate(x, W, **kw),
    "convolve": lambda x, **kw: ic.convolve(x, W, **kw),
    "correlate1d": lambda x, **kw: ic.correlate1d(x, [1.0, -2.0, 0.5], **kw),
    "convolve1d": lambda x, **kw: ic.convolve1d(x, [1.0, -2.0, 0.5], axis=0, **kw),
    "sepfilter": lambda x, **kw: ic.sepfilter(x, [[1.0, 2.0], [0.5, 1.0, -1.0]], **kw),
    "gaussian": lambda x, **kw: ic.gaussian(x, 1.0, **kw),
    "box": lambda x, **kw: ic.box(x, 3, **kw),
    "sobel": ic.sobel,
    "sobel_axis0": lambda x, **kw: ic.sobel(x, axis=0, **kw),
    "prewitt": ic.prewitt,
    "scharr": ic.scharr,
    "laplace": ic.laplace,
    "gradient_magnitude": ic.gradient_magnitude,
}
NONZERO_MODES = sorted(m for m, c in MODE_ALIASES.items() if c != "zero")
ZERO_MODES = sorted(m for m, c in MODE_ALIASES.items() if c == "zero")
XR = np.random.default_rng(0).standard_normal((6, 7))


@pytest.mark.parametrize("mode", NONZERO_MODES)
@pytest.mark.parametrize("name", list(CVAL_FILTERS))
def test_nonzero_cval_needs_zero_mode(name, mode):
    # no silently ignored arguments: only mode 'zero' pads with cval
    run = CVAL_FILTERS[name]
    msg = rf"cval only applies with mode='zero', not mode='{MODE_ALIASES[mode]}'"
    for cval in [2.5, -1, np.float32(0.5), 1e-300, np.nan, np.inf]:
        with pytest.raises(ValueError, match=msg):
            run(XR, mode=mode, cval=cval)
    want = run(XR, mode=mode)
    for cval in [0, 0.0, -0.0, np.float32(0), np.int64(0)]:
        np.testing.assert_array_equal(run(XR, mode=mode, cval=cval), want)


@pytest.mark.parametrize("mode", ZERO_MODES)
@pytest.mark.parametrize("name", list(CVAL_FILTERS))
def test_nonzero_cval_with_zero_mode_pads_with_it(name, mode):
    run = CVAL_FILTERS[name]
    assert not np.array_equal(run(XR, mode=mode, cval=2.5), run(XR, mode=mode))


@pytest.mark.parametrize("padding", [-1, (1, -1), ((0, 1), (-2, 0)), ((0, -1), 1)])
def test_negative_padding(f, padding):
    with pytest.raises(ValueError, match="padding must be >= 0"):
        f(X, W, padding=padding)


@pytest.mark.parametrize("padding", ["bogus", "SAMEISH", "", "causal"])
def test_bad_padding_string(f, padding):
    with pytest.raises(ValueError, match="padding must be 'same', 'valid', 'full'"):
        f(X, W, padding=padding)


@pytest.mark.parametrize("padding,exc", [(1.5, TypeError), (None, TypeError),
                                         (True, TypeError), ((1,), ValueError),
                                         ((1, 2, 3), ValueError), (((1, 2, 3), 1), ValueError),
                                         ((1.5, 1), TypeError)])
def test_bad_padding_value(f, padding, exc):
    with pytest.raises(exc, match="padding"):
        f(X, W, padding=padding)


@pytest.mark.parametrize("kwargs", [dict(padding=10 ** 12), dict(dilation=10 ** 12),
                                    dict(padding=((0, 0), (2 ** 28, 0))),
                                    dict(dilation=(1, 2 ** 27), padding="valid")])
def test_padding_or_dilation_too_large(f, kwargs):
    # a clear error, not a MemoryError from a table of that many samples
    with pytest.raises(ValueError, match=r"(padding|dilation).*at most 2\*\*28"):
        f(X, W, **kwargs)


def test_padding_string_case_insensitive(f):
    np.testing.assert_array_equal(f(X, W, padding="VALID"), f(X, W, padding="valid"))


@pytest.mark.parametrize("shape,kshape,kwargs", [
    ((6, 7), (7, 3), {"padding": "valid"}),
    ((6, 7), (3, 9), {"padding": "valid"}),
    ((6, 7), (3, 3), {"padding": "valid", "dilation": 4}),
    ((6,), (9,), {"padding": 1}),
    ((4, 4, 4), (3, 3, 7), {"padding": ((0, 0), (0, 0), (1, 1))}),
])
def test_empty_output(f, shape, kshape, kwargs):
    with pytest.raises(ValueError, match="output would be empty"):
        f(np.ones(shape), np.ones(kshape), **kwargs)


# ---------------------------------------------------------------------------
# dtype= and out=
# ---------------------------------------------------------------------------
# (a complex dtype= or out= is taken: tests/test_complex.py)
@pytest.mark.parametrize("dtype", [bool, object, ">f4", np.longdouble])
def test_unsupported_output_dtype(f, dtype):
    with pytest.raises(TypeError, match="dtype=.* is not supported"):
        f(X, W, dtype=dtype)


def test_output_dtype_not_a_dtype(f):
    with pytest.raises(TypeError, match="dtype must be a numpy dtype"):
        f(X, W, dtype="not-a-dtype")


@pytest.mark.parametrize("shape", [(6, 6), (7, 6), (6, 7, 1), (42,), ()])
def test_out_wrong_shape(f, shape):
    with pytest.raises(ValueError, match=r"out has shape .* the result has shape \(6, 7\)"):
        f(X, W, out=np.empty(shape, np.float32))


def test_out_wrong_shape_with_stride(f):
    with pytest.raises(ValueError, match="out has shape"):
        f(X, W, stride=2, out=np.empty((6, 7), np.float32))
    assert f(X, W, stride=2, out=np.empty((3, 4), np.float32)).shape == (3, 4)


def test_out_wrong_dtype(f):
    with pytest.raises(ValueError, match="out has dtype float64 but dtype=float32"):
        f(X, W, dtype=np.float32, out=np.empty((6, 7), np.float64))


@pytest.mark.parametrize("dtype", [bool, ">f4", np.longdouble])
def test_out_unsupported_dtype(f, dtype):
    with pytest.raises(TypeError, match="out has unsupported dtype"):
        f(X, W, out=np.empty((6, 7), dtype))


def test_out_not_an_array(f):
    with pytest.raises(TypeError, match="out must be a numpy array"):
        f(X, W, out=[[0.0] * 7] * 6)


def test_out_read_only(f):
    out = np.empty((6, 7), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        f(X, W, out=out)
    with pytest.raises(ValueError, match="out is read-only"):
        f(X, W, out=np.broadcast_to(np.float32(0), (6, 7)))


def test_out_overlaps_input(f):
    x = np.random.default_rng(0).random((6, 7)).astype(np.float32)
    keep = x.copy()
    with pytest.raises(ValueError, match="out overlaps the input"):
        f(x, W, out=x)
    with pytest.raises(ValueError, match="out overlaps the input"):
        f(x, W, out=x[::-1])
    big = np.zeros((12, 7), np.float32)
    with pytest.raises(ValueError, match="out overlaps the input"):
        f(big[:6], W, out=big[3:9])
    with pytest.raises(ValueError, match="out overlaps the input"):
        f(big[::2], W, out=big[1::2][::-1])  # interleaved: may share memory
    np.testing.assert_array_equal(x, keep)


def test_out_misaligned(f):
    buf = np.zeros(6 * 7 * 4 + 1, np.uint8)
    out = buf[1:].view(np.float32).reshape(6, 7)
    with pytest.raises(ValueError, match="out must have element-aligned strides"):
        f(X, W, out=out)


# ---------------------------------------------------------------------------
# method and backend
# ---------------------------------------------------------------------------
def test_method_separable_needs_rank_one_kernel(f):
    full_rank = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [2.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="method='separable' needs a rank-1"):
        f(X, full_rank, method="separable")


@pytest.mark.parametrize("method", ["bogus", "", None, "FFT"])
def test_method_unknown(f, method):
    with pytest.raises(ValueError, match="method must be one of"):
        f(X, W, method=method)


@pytest.mark.parametrize("backend", ["dask"])   # cuda: tests/test_cuda_backend.py
def test_backend_not_implemented(f, backend, monkeypatch):
    # a backend this build does not provide (dask is provided: drop it here)
    from imgconv import _dispatch

    monkeypatch.delitem(_dispatch.BACKEND_MODULES, backend)
    monkeypatch.setattr(_dispatch, "_loaded", {})
    with pytest.raises(NotImplementedError, match=f"backend='{backend}'"):
        f(X, W, backend=backend)


@pytest.mark.parametrize("backend", ["gpu", "", None, "CPU", "numpy"])
def test_backend_unknown(f, backend):
    with pytest.raises(ValueError, match="backend must be one of"):
        f(X, W, backend=backend)


def test_errors_do_not_touch_out():
    out = np.full((6, 7), 5, np.float32)
    with pytest.raises(ValueError):
        ic.correlate(X, W, mode="bogus", out=out)
    with pytest.raises(ValueError):
        ic.correlate(X, W, stride=0, out=out)
    assert (out == 5).all()


# ---------------------------------------------------------------------------
# ndarray subclasses
# ---------------------------------------------------------------------------
SUBCLASS_CALLS = {
    "correlate": lambda a, **kw: ic.correlate(a, W, **kw),
    "sepfilter": lambda a, **kw: ic.sepfilter(a, [[1.0, 2.0, 1.0], [1.0, -1.0]], **kw),
    "correlate1d": lambda a, **kw: ic.correlate1d(a, [1.0, 3.0], axis=1, **kw),
    "box": lambda a, **kw: ic.box(a, 3, **kw),
    "sobel": lambda a, **kw: ic.sobel(a, 0, **kw),
    "laplace": lambda a, **kw: ic.laplace(a, **kw),
    "dilate": lambda a, **kw: ic.dilate(a, size=(3, 2), **kw),
    "erode": lambda a, **kw: ic.erode(a, np.array([[0, 1], [1, 1]], bool), **kw),
    "max_pool": lambda a, **kw: ic.max_pool(a, 2, **kw),
    "avg_pool": lambda a, **kw: ic.avg_pool(a, 2, **kw),
}


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize("name", list(SUBCLASS_CALLS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8])
def test_matrix_input_and_out(name, dtype):
    # np.matrix stays 2D whatever it is reshaped to: the kernels must see a
    # plain view of it (once this read and wrote out of bounds)
    call = SUBCLASS_CALLS[name]
    plain = (np.arange(42) * 7 % 23).reshape(6, 7).astype(dtype)
    want = call(plain)
    np.testing.assert_array_equal(call(np.asmatrix(plain)), want)
    out = np.asmatrix(np.zeros(want.shape, want.dtype))
    got = call(plain, out=out)
    np.testing.assert_array_equal(np.asarray(out), want)
    np.testing.assert_array_equal(got, want)
    masked = np.ma.masked_array(plain, mask=plain > 10)
    np.testing.assert_array_equal(call(masked), want)


# ---------------------------------------------------------------------------
# out whose elements share memory
# ---------------------------------------------------------------------------
OUT_CALLS = dict(SUBCLASS_CALLS, gaussian=lambda a, **kw: ic.gaussian(a, 1.0, **kw),
                 gradient_magnitude=lambda a, **kw: ic.gradient_magnitude(a, **kw),
                 opening=lambda a, **kw: ic.opening(a, size=3, **kw))


def _writable_view(base, shape, strides):
    return np.lib.stride_tricks.as_strided(base, shape, strides, writeable=True)


@pytest.mark.parametrize("name", list(OUT_CALLS))
def test_out_with_elements_sharing_memory_is_refused(name):
    """A writable zero-stride or overlapping out received garbage (several
    results written to one place); it is refused, naming out."""
    call = OUT_CALLS[name]
    x = (np.arange(42) * 7 % 23).reshape(6, 7).astype(np.float64)
    want = call(x)
    base = np.zeros(want.size * 2, want.dtype)
    step = base.itemsize
    for shape_strides in [((want.shape[0], want.shape[1]), (0, step)),
                          ((want.shape[0], want.shape[1]), (step, 0)),
                          ((want.shape[0], want.shape[1]), (0, 0)),
                          ((want.shape[0], want.shape[1]), (2 * step, step))]:
        out = _writable_view(base, *shape_strides)
        with pytest.raises(ValueError, match="out has elements that share memory"):
            call(x, out=out)
        assert not base.any()
    broadcast = np.broadcast_to(np.zeros(want.shape[1], want.dtype), want.shape)
    with pytest.raises(ValueError, match="out"):
        call(x, out=broadcast)


@pytest.mark.parametrize("name", ["correlate", "gaussian", "dilate", "max_pool"])
def test_out_with_an_unusual_but_distinct_layout_is_accepted(name):
    """Strides that interleave (each element still its own place) are fine."""
    call = OUT_CALLS[name]
    x = (np.arange(42) * 7 % 23).reshape(6, 7).astype(np.float64)
    want = call(x)
    rows, cols = want.shape
    base = np.zeros(rows * cols * 3, want.dtype)
    # rows 3 elements apart, columns 3 * rows - 1: the column steps are
    # shorter than the rows' reach, a layout numpy never makes itself
    out = _writable_view(base, want.shape, (3 * base.itemsize, (3 * rows - 1) * base.itemsize))
    offsets = {i * 3 + j * (3 * rows - 1) for i in range(rows) for j in range(cols)}
    assert len(offsets) == want.size
    got = call(x, out=out)
    np.testing.assert_array_equal(out, want)
    assert got is out or np.shares_memory(got, out)


def test_overlaps_itself_agrees_with_a_brute_force_count():
    rng = np.random.default_rng(5)
    base = np.zeros(400)
    for _ in range(300):
        shape = tuple(int(n) for n in rng.integers(1, 5, size=rng.integers(1, 4)))
        strides = tuple(int(s) * 8 for s in rng.integers(-6, 7, size=len(shape)))
        view = np.lib.stride_tricks.as_strided(base[200:], shape, strides)
        offsets = [sum(i * s for i, s in zip(index, strides)) for index in np.ndindex(shape)]
        assert ic._backend.overlaps_itself(view) == (len(set(offsets)) < len(offsets)), \
            (shape, strides)


@pytest.mark.parametrize("name", list(OUT_CALLS))
def test_out_overlapping_the_input_is_refused_and_input_kept(name):
    call = OUT_CALLS[name]
    x = (np.arange(42) * 7 % 23).reshape(6, 7).astype(np.float64)
    want = call(x)
    if want.shape != x.shape:
        buffer = np.zeros(x.size + want.size)
        x2 = buffer[:x.size].reshape(x.shape)
        x2[...] = x
        out = buffer[x.size // 2:x.size // 2 + want.size].reshape(want.shape)
    else:
        x2 = x.copy()
        out = x2
    kept = x2.copy()
    with pytest.raises(ValueError, match="out overlaps the input"):
        call(x2, out=out)
    np.testing.assert_array_equal(x2, kept)


# ---------------------------------------------------------------------------
# complex data (the results themselves: tests/test_complex.py)
# ---------------------------------------------------------------------------
XC = (XR + 1j * XR[::-1]).astype(np.complex64)
#: filters without a complex meaning: no order (maxima, minima, pooling),
#: or a magnitude
NO_COMPLEX = {
    "dilate": lambda x, **kw: ic.dilate(x, size=3, **kw),
    "erode": lambda x, **kw: ic.erode(x, size=3, **kw),
    "opening": lambda x, **kw: ic.opening(x, size=3, **kw),
    "tophat": lambda x, **kw: ic.tophat(x, size=3, **kw),
    "max_pool": lambda x, **kw: ic.max_pool(x, 2, **kw),
    "avg_pool": lambda x, **kw: ic.avg_pool(x, 2, **kw),
    "sobel_magnitude": lambda x, **kw: ic.sobel(x, **kw),
    "gradient_magnitude": lambda x, **kw: ic.gradient_magnitude(x, "scharr", **kw),
    "gaussian_gradient_magnitude": lambda x, **kw: ic.gaussian_gradient_magnitude(x, 1.0, **kw),
}


@pytest.mark.parametrize("name", list(NO_COMPLEX))
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_input_without_complex_meaning(name, dtype):
    with pytest.raises(TypeError, match=f"x has unsupported dtype {np.dtype(dtype)}: .*real"):
        NO_COMPLEX[name](XC.astype(dtype))


@pytest.mark.parametrize("name", list(CVAL_FILTERS))
def test_real_output_of_complex_data(name):
    run = CVAL_FILTERS[name]
    if name in ("sobel", "prewitt", "scharr", "gradient_magnitude"):
        return   # magnitudes: refused above
    with pytest.raises(TypeError, match="dtype=float32, but the result is complex"):
        run(XC, dtype=np.float32)
    out = np.zeros(XC.shape, np.float32)
    with pytest.raises(TypeError, match="out has dtype float32, but the result is complex"):
        run(XC, out=out)
    assert not out.any()


def test_real_output_of_a_complex_kernel(f):
    with pytest.raises(TypeError, match="the kernel is complex"):
        f(X, W * 1j, dtype=np.float64)
    with pytest.raises(TypeError, match="out has dtype uint8, but the result is complex"):
        f(X, W * 1j, out=np.zeros(X.shape, np.uint8))


@pytest.mark.parametrize("dtype", [np.clongdouble, ">c8", np.dtype(">c16")])
def test_unsupported_complex_output_dtype(f, dtype):
    with pytest.raises(TypeError, match="is not supported: choose complex64 or complex128"):
        f(XC, W, dtype=dtype)
    with pytest.raises(TypeError, match="is not supported: choose complex64 or complex128"):
        f(XC, W, out=np.zeros(XC.shape, dtype))


def test_complex_out_of_another_dtype(f):
    with pytest.raises(ValueError, match="out has dtype complex128 but dtype=complex64"):
        f(XC, W, dtype=np.complex64, out=np.zeros(XC.shape, np.complex128))
    with pytest.raises(ValueError, match="out has shape"):
        f(XC, W, out=np.zeros((7, 6), np.complex64))
    with pytest.raises(TypeError, match="out must be"):
        f(XC, W, out=[[0j] * 7] * 6)


def test_complex_cval(f):
    # a complex cval pads a complex input (its parts pad the parts), as
    # scipy; a real input takes a real cval only
    with pytest.raises(TypeError, match="cval must be a real number for a real input"):
        f(XR, W, mode="zero", cval=1 + 2j)
    with pytest.raises(ValueError, match="cval only applies with mode='zero'"):
        f(XC, W, mode="reflect", cval=2j)
    assert f(XC, W, mode="reflect", cval=0j).dtype == np.complex64


def test_complex_out_overlapping_the_input(f):
    x = XC.copy()
    with pytest.raises(ValueError, match="out overlaps the input"):
        f(x, W * 1j, out=x)
    # the imaginary part of the input alone, too
    y = XC.astype(np.complex128)
    kept = y.copy()
    with pytest.raises(ValueError, match="out overlaps the input"):
        f(y.imag, W * 1j, out=y)
    np.testing.assert_array_equal(y, kept)


@pytest.mark.parametrize("dtype", [object, "U3", "datetime64[s]"])
def test_unsupported_input_with_a_complex_kernel(f, dtype):
    x = np.ones((4, 4)).astype(dtype) if dtype != "U3" else np.full((4, 4), "ab", dtype=dtype)
    with pytest.raises(TypeError, match="x has unsupported dtype"):
        f(x, W * 1j)


def test_torch_input_with_a_complex_kernel(f):
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="numpy array"):
        f(torch.ones(5, 5), W * 1j)
    with pytest.raises(TypeError, match="numpy array"):
        f(torch.ones(5, 5), W, dtype=np.complex64)

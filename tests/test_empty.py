"""Empty inputs: an input with a zero-length axis (spatial, channel or
unfiltered) gives an empty result of the right shape and dtype in every
public function, as scipy.ndimage does, and ``out=`` is checked as for any
other input."""
import numpy as np
import pytest

ndi = pytest.importorskip("scipy.ndimage")

import imgconv as ic  # noqa: E402

SHAPES = [(0,), (0, 5), (5, 0), (4, 0, 3), (0, 0, 0)]


def ones(rank):
    return np.ones((3,) * rank) / 3 ** rank


#: name -> (imgconv call, scipy call or None), both on x alone
SAME_SHAPE = {
    "correlate": (lambda x, **kw: ic.correlate(x, ones(x.ndim if "channel_axis" not in kw
                                                         else x.ndim - 1), **kw),
                  lambda x: ndi.correlate(x, ones(x.ndim))),
    "convolve": (lambda x, **kw: ic.convolve(x, ones(x.ndim if "channel_axis" not in kw
                                                       else x.ndim - 1), **kw),
                 lambda x: ndi.convolve(x, ones(x.ndim))),
    "correlate_fft": (lambda x, **kw: ic.correlate(x, ones(x.ndim if "channel_axis" not in kw
                                                             else x.ndim - 1),
                                                   method="fft", **kw), None),
    "correlate1d": (lambda x, **kw: ic.correlate1d(x, [1.0, 2.0, 1.0], 1 if kw else -1, **kw),
                    lambda x: ndi.correlate1d(x, [1.0, 2.0, 1.0], -1)),
    "convolve1d": (lambda x, **kw: ic.convolve1d(x, [1.0, 2.0], 1 if kw else -1, **kw),
                   lambda x: ndi.convolve1d(x, [1.0, 2.0], -1)),
    "sepfilter": (lambda x, **kw: ic.sepfilter(
        x, [[1.0, 2.0, 1.0]] * (x.ndim - (1 if "channel_axis" in kw else 0)), **kw), None),
    "gaussian": (lambda x, **kw: ic.gaussian(x, 1.5, **kw),
                 lambda x: ndi.gaussian_filter(x, 1.5)),
    "gaussian_order": (lambda x, **kw: ic.gaussian(x, 1e6, order=1, **kw),
                       lambda x: ndi.gaussian_filter(x, 1.0, order=1)),
    "gaussian_laplace": (lambda x, **kw: ic.gaussian_laplace(x, 1.5, **kw),
                         lambda x: ndi.gaussian_laplace(x, 1.5)),
    "gaussian_gradient_magnitude": (lambda x, **kw: ic.gaussian_gradient_magnitude(x, 1.5, **kw),
                                    lambda x: ndi.gaussian_gradient_magnitude(x, 1.5)),
    "box": (lambda x, **kw: ic.box(x, 3, **kw), lambda x: ndi.uniform_filter(x, 3)),
    "box_long": (lambda x, **kw: ic.box(x, 1001, **kw), lambda x: ndi.uniform_filter(x, 1001)),
    "sobel": (lambda x, **kw: ic.sobel(x, 0, **kw) if "channel_axis" not in kw
              else ic.sobel(x, **kw), lambda x: ndi.sobel(x, 0)),
    "prewitt": (lambda x, **kw: ic.prewitt(x, **kw), None),
    "scharr": (lambda x, **kw: ic.scharr(x, **kw), None),
    "laplace": (lambda x, **kw: ic.laplace(x, **kw), lambda x: ndi.laplace(x)),
    "gradient_magnitude": (lambda x, **kw: ic.gradient_magnitude(x, **kw), None),
    "dilate": (lambda x, **kw: ic.dilate(x, size=3, **kw),
               lambda x: ndi.grey_dilation(x, size=(3,) * x.ndim)),
    "erode": (lambda x, **kw: ic.erode(x, [True, False, True], **kw),
              lambda x: ndi.grey_erosion(x, footprint=np.reshape([True, False, True],
                                                                 (1,) * (x.ndim - 1) + (3,)))),
    "opening": (lambda x, **kw: ic.opening(x, size=2, **kw),
                lambda x: ndi.grey_opening(x, size=(2,) * x.ndim)),
    "closing": (lambda x, **kw: ic.closing(x, size=2, **kw),
                lambda x: ndi.grey_closing(x, size=(2,) * x.ndim)),
    "morph_gradient": (lambda x, **kw: ic.morph_gradient(x, **kw), None),
    "tophat": (lambda x, **kw: ic.tophat(x, **kw), None),
    "blackhat": (lambda x, **kw: ic.blackhat(x, **kw), None),
}
MORPHOLOGY = {"dilate", "erode", "opening", "closing", "morph_gradient", "tophat", "blackhat"}


def nonempty_dtype(name, x, **kw):
    """The dtype of the same call on a nonempty input of x's dtype and rank."""
    f, _ = SAME_SHAPE[name]
    return f(np.ones((4,) * x.ndim, x.dtype), **kw).dtype


@pytest.mark.parametrize("name", list(SAME_SHAPE))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", ["float64", "uint8", "int32"])
def test_same_shape_filters(name, shape, dtype):
    f, scipys = SAME_SHAPE[name]
    x = np.zeros(shape, dtype)
    got = f(x)
    assert got.shape == shape
    assert got.dtype == nonempty_dtype(name, x)
    if scipys is not None:
        want = scipys(x)
        assert want.shape == got.shape
        if dtype == "float64" or name in MORPHOLOGY:   # scipy keeps the input's dtype
            assert want.dtype == got.dtype


@pytest.mark.parametrize("name", list(SAME_SHAPE))
@pytest.mark.parametrize("shape,channel_axis", [((0, 5, 3), -1), ((5, 6, 0), -1),
                                                ((0, 4, 3), 0), ((4, 0, 3, 2), 3)])
def test_with_channel_axis(name, shape, channel_axis):
    f, _ = SAME_SHAPE[name]
    x = np.zeros(shape, np.float32)
    got = f(x, channel_axis=channel_axis)
    assert got.shape == shape and got.dtype == nonempty_dtype(name, x, channel_axis=channel_axis)
    out = np.empty(shape, got.dtype)
    assert f(x, channel_axis=channel_axis, out=out) is out


@pytest.mark.parametrize("name", sorted(set(SAME_SHAPE) - MORPHOLOGY))
def test_dtype_and_out(name):
    f, _ = SAME_SHAPE[name]
    x = np.zeros((0, 5), np.uint16)
    for dtype in ("uint8", "int8", "uint64", "float16", "float64"):
        got = f(x, dtype=dtype)
        assert got.shape == (0, 5) and got.dtype == np.dtype(dtype)
        out = np.empty((0, 5), dtype)
        assert f(x, out=out) is out
        assert f(x, dtype=dtype, out=out) is out
    # out= is checked as for any input
    with pytest.raises(ValueError, match="out has shape"):
        f(x, out=np.empty((5, 0), np.float32))
    with pytest.raises(ValueError, match="out has dtype"):
        f(x, dtype=np.float32, out=np.empty((0, 5), np.float64))
    with pytest.raises(TypeError, match="out has unsupported dtype"):
        f(x, out=np.empty((0, 5), np.int16).view("V2"))
    with pytest.raises(TypeError, match="dtype=.* is not supported"):
        f(x, dtype=np.longdouble)
    # a complex result of real data: its imaginary part 0 (tests/test_complex.py)
    assert f(x, dtype=np.complex64).dtype == np.complex64
    out = np.empty((0, 5), np.complex128)
    assert f(x, out=out) is out


@pytest.mark.parametrize("name", sorted(MORPHOLOGY))
def test_morphology_out_and_bool(name):
    f, _ = SAME_SHAPE[name]
    for dtype in (bool, np.int64, np.float16):
        x = np.zeros((3, 0), dtype)
        got = f(x)
        assert got.shape == (3, 0) and got.dtype == np.dtype(dtype)
        out = np.empty((3, 0), dtype)
        assert f(x, out=out) is out
    with pytest.raises(ValueError, match="out has"):
        f(np.zeros((3, 0), np.uint8), out=np.empty((3, 0), np.float32))
    with pytest.raises(ValueError, match="out has shape"):
        f(np.zeros((3, 0), np.uint8), out=np.empty((0, 3), np.uint8))


@pytest.mark.parametrize("padding,stride,want", [("same", 1, (0, 9)), ("valid", 1, (0, 7)),
                                                 ("full", 1, (0, 11)), ("same", 2, (0, 5)),
                                                 (((3, 3), (0, 1)), 2, (0, 4))])
def test_correlate_geometry(padding, stride, want):
    x = np.zeros((0, 9), np.float32)
    for f in (ic.correlate, ic.convolve):
        got = f(x, np.ones((3, 3)), padding=padding, stride=stride)
        assert got.shape == want and got.dtype == np.float32
    # a kernel larger than a nonempty axis is still an error
    with pytest.raises(ValueError, match="output would be empty"):
        ic.correlate(np.zeros((0, 2)), np.ones((3, 3)), padding="valid")


@pytest.mark.parametrize("op", ["max", "min", "avg", "lp"])
@pytest.mark.parametrize("shape,size,stride,padding,want", [
    ((0,), 2, None, 0, (0,)),
    ((0, 8), 2, None, 0, (0, 4)),
    ((0, 8), 3, 2, 1, (0, 4)),
    ((7, 0, 5), 2, None, 0, (3, 0, 2)),
    ((0, 0, 0), 3, 1, 1, (0, 0, 0)),
])
def test_pool_shape_from_the_geometry(op, shape, size, stride, padding, want):
    x = np.zeros(shape, np.uint8)
    got = ic.pool(x, size, stride=stride, padding=padding, op=op)
    assert got.shape == want
    assert got.dtype == (np.uint8 if op in ("max", "min") else np.float32)
    out = np.empty(want, np.float64)
    assert ic.pool(x, size, stride=stride, padding=padding, op=op, out=out,
                   dtype=np.float64) is out
    if op in ("max", "min"):
        values, where = ic.pool(x, size, stride=stride, padding=padding, op=op,
                                return_indices=True)
        assert values.shape == where.shape == want and where.dtype == np.int64
    with pytest.raises(ValueError, match="out has shape"):
        ic.pool(x, size, stride=stride, padding=padding, op=op,
                out=np.empty(want + (1,), np.float32))


def test_pool_with_channels():
    x = np.zeros((6, 4, 0), np.float32)
    assert ic.max_pool(x, 2, channel_axis=-1).shape == (3, 2, 0)
    assert ic.avg_pool(np.zeros((0, 4, 3)), 2, channel_axis=-1).shape == (0, 2, 3)


def test_repeated_calls_and_axes():
    # an empty input through the plan cache, and through axes=
    x = np.zeros((3, 0, 4), np.float32)
    for _ in range(3):
        assert ic.gaussian(x, 1.0).shape == (3, 0, 4)
        assert ic.correlate(x, np.ones((3, 3)), axes=(0, 2)).shape == (3, 0, 4)
        assert ic.box(x, 3, axes=(2,)).shape == (3, 0, 4)
        assert ic.dilate(x, size=3).shape == (3, 0, 4)
        assert ic.max_pool(x, 2).shape == (1, 0, 2)
    # a nonempty input afterwards is filtered as ever
    y = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(ic.gaussian(y, 1.0), ndi.gaussian_filter(y, 1.0, mode="mirror"))

"""imgconv.nn.unfold / fold against loop references written from torch's
definition (im2col / col2im) and against torch.nn.functional where torch
is installed."""
import doctest
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from imgconv import nn
from strategies import per_axis

RNG = np.random.default_rng(77)


def ref_blocks(spatial, k, d, p, s):
    return tuple((n + 2 * pa - da * (ka - 1) - 1) // sa + 1
                 for n, ka, da, pa, sa in zip(spatial, k, d, p, s))


def ref_unfold(x, k, d, p, s):
    """Column (bh, bw) row (c, i, j) holds x[c, bh*s - p + i*d, bw*s - p + j*d]
    (0 outside the input), in float64."""
    n, c, h, w = x.shape
    blocks = ref_blocks((h, w), k, d, p, s)
    out = np.zeros((n, c * k[0] * k[1], blocks[0] * blocks[1]))
    for b, ch, i, j, bh, bw in itertools.product(range(n), range(c), range(k[0]), range(k[1]),
                                                 range(blocks[0]), range(blocks[1])):
        y, xx = bh * s[0] - p[0] + i * d[0], bw * s[1] - p[1] + j * d[1]
        if 0 <= y < h and 0 <= xx < w:
            out[b, (ch * k[0] + i) * k[1] + j, bh * blocks[1] + bw] = x[b, ch, y, xx]
    return out


def ref_fold(cols, output_size, k, d, p, s):
    """The adjoint of ref_unfold: every column entry added where unfold took it."""
    n, rows, length = cols.shape
    c = rows // (k[0] * k[1])
    blocks = ref_blocks(output_size, k, d, p, s)
    out = np.zeros((n, c) + tuple(output_size))
    for b, ch, i, j, bh, bw in itertools.product(range(n), range(c), range(k[0]), range(k[1]),
                                                 range(blocks[0]), range(blocks[1])):
        y, xx = bh * s[0] - p[0] + i * d[0], bw * s[1] - p[1] + j * d[1]
        if 0 <= y < output_size[0] and 0 <= xx < output_size[1]:
            out[b, ch, y, xx] += cols[b, (ch * k[0] + i) * k[1] + j, bh * blocks[1] + bw]
    return out


def _geometry(data, spatial):
    """kernel_size, dilation, padding, stride with at least one block."""
    k = per_axis(data, 2, 1, 4, "kernel_size")
    d = per_axis(data, 2, 1, 3, "dilation")
    p = per_axis(data, 2, 0, 3, "padding")
    s = per_axis(data, 2, 1, 3, "stride")
    fits = [n + 2 * pa - da * (ka - 1) - 1 >= 0 for n, ka, da, pa in zip(spatial, k, d, p)]
    k = tuple(ka if ok else min(ka, n) for ka, n, ok in zip(k, spatial, fits))
    d = tuple(da if ok else 1 for da, ok in zip(d, fits))
    return k, d, p, s


def _draw_input(data, dtype=np.float64):
    shape = (data.draw(st.integers(1, 2), label="N"), data.draw(st.integers(1, 3), label="C"))
    shape += per_axis(data, 2, 1, 9, "spatial")
    return RNG.standard_normal(shape).astype(dtype)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_unfold_and_fold_match_references(data):
    x = _draw_input(data)
    k, d, p, s = _geometry(data, x.shape[2:])
    cols = nn.unfold(x, k, d, p, s)
    np.testing.assert_array_equal(cols, ref_unfold(x, k, d, p, s))
    np.testing.assert_array_equal(nn.unfold(x[0], k, d, p, s), cols[0])   # unbatched
    y = RNG.standard_normal(cols.shape)
    folded = nn.fold(y, x.shape[2:], k, d, p, s)
    np.testing.assert_allclose(folded, ref_fold(y, x.shape[2:], k, d, p, s), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_array_equal(nn.fold(y[0], x.shape[2:], k, d, p, s), folded[0])
    # fold is unfold's adjoint: <unfold(x), y> == <x, fold(y)>
    np.testing.assert_allclose(np.vdot(cols, y), np.vdot(x, folded), rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_unfold_and_fold_match_torch(data):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = _draw_input(data, np.float32)
    k, d, p, s = _geometry(data, x.shape[2:])
    cols = nn.unfold(x, k, d, p, s)
    assert cols.dtype == np.float32
    np.testing.assert_array_equal(cols, F.unfold(torch.from_numpy(x), k, d, p, s).numpy())
    y = RNG.standard_normal(cols.shape).astype(np.float32)
    got = nn.fold(y, x.shape[2:], k, d, p, s)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, F.fold(torch.from_numpy(y), x.shape[2:], k, d, p, s).numpy(),
                               rtol=1e-5, atol=1e-5)


def test_dtypes_and_layouts():
    x = RNG.standard_normal((2, 3, 7, 8))
    copy = x.copy()
    want = nn.unfold(x, (3, 2), 1, 1, (2, 1))
    strided = np.zeros((2, 6, 14, 8))
    strided[:, ::2, ::2] = x
    np.testing.assert_array_equal(nn.unfold(strided[:, ::2, ::2], (3, 2), 1, 1, (2, 1)), want)
    np.testing.assert_array_equal(nn.unfold(x.astype(">f8"), (3, 2), 1, 1, (2, 1)), want)
    half = nn.unfold(x.astype(np.float16), (3, 2), 1, 1, (2, 1))
    assert half.dtype == np.float16
    np.testing.assert_array_equal(half, want.astype(np.float16))
    np.testing.assert_array_equal(x, copy)

    folded = nn.fold(want, (7, 8), (3, 2), 1, 1, (2, 1))
    want_copy = want.copy()
    np.testing.assert_array_equal(nn.fold(want.astype(">f8"), (7, 8), (3, 2), 1, 1, (2, 1)),
                                  folded)
    np.testing.assert_array_equal(
        nn.fold(np.asfortranarray(want), (7, 8), (3, 2), 1, 1, (2, 1)), folded)
    half = nn.fold(want.astype(np.float16), (7, 8), (3, 2), 1, 1, (2, 1))
    assert half.dtype == np.float16
    # float16 sums are made in float32
    np.testing.assert_array_equal(
        half, nn.fold(want.astype(np.float16).astype(np.float32), (7, 8), (3, 2), 1, 1,
                      (2, 1)).astype(np.float16))
    np.testing.assert_array_equal(want, want_copy)
    assert nn.unfold(np.zeros((0, 2, 4, 4), np.float32), 2).shape == (0, 8, 9)
    assert nn.fold(np.zeros((0, 8, 9), np.float32), 4, 2).shape == (0, 2, 4, 4)
    one = np.full((1, 1, 1, 1), 2.5)
    np.testing.assert_array_equal(nn.unfold(one, 1), one.reshape(1, 1, 1))
    np.testing.assert_array_equal(nn.fold(one.reshape(1, 1, 1), 1, 1), one)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_, np.complex128])
def test_other_dtypes_are_a_type_error(dtype):
    with pytest.raises(TypeError, match="unfold: input must be float16, float32 or float64"):
        nn.unfold(np.ones((1, 1, 4, 4), dtype), 2)
    with pytest.raises(TypeError, match="fold: input must be float16, float32 or float64"):
        nn.fold(np.ones((1, 4, 9), dtype), 4, 2)


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.unfold(np.zeros((1, 1, 4, 4, 4)), 2), ValueError,
     r"unfold: input must have 3 dimensions \(C, H, W\) or 4"),
    (lambda: nn.unfold(np.zeros((4, 4)), 2), ValueError, "unfold: input must have 3"),
    (lambda: nn.unfold(np.zeros((1, 1, 4, 4)), 5), ValueError, "sliding blocks.*at least 1"),
    (lambda: nn.unfold(np.zeros((1, 1, 4, 4)), 2, dilation=4), ValueError, "sliding blocks"),
    (lambda: nn.unfold(np.zeros((1, 1, 4, 4)), 0), ValueError, "kernel_size"),
    (lambda: nn.unfold(np.zeros((1, 1, 4, 4)), 2, stride=0), ValueError, "stride"),
    (lambda: nn.unfold(np.zeros((1, 1, 4, 4)), 2, padding=-1), ValueError, "padding"),
    (lambda: nn.unfold(np.zeros((1, 1, 4, 4)), 2, dilation=(1, 0)), ValueError, "dilation"),
    (lambda: nn.unfold(np.zeros((1, 1, 4, 4)), (2, 2, 2)), ValueError, "kernel_size needs 2"),
    (lambda: nn.unfold(np.zeros((1, 0, 4, 4)), 2), ValueError, "non-zero"),
    (lambda: nn.fold(np.zeros((1, 5, 9)), 4, 2), ValueError, "divisible by the product"),
    (lambda: nn.fold(np.zeros((1, 4, 8)), 4, 2), ValueError, "make 3 x 3 = 9 sliding blocks"),
    (lambda: nn.fold(np.zeros((1, 4, 9)), 1, 2), ValueError, "sliding blocks"),
    (lambda: nn.fold(np.zeros((1, 4, 9)), 0, 2), ValueError, "output_size"),
    (lambda: nn.fold(np.zeros((1, 4, 9)), (4, 4, 4), 2), ValueError, "output_size needs 2"),
    (lambda: nn.fold(np.zeros((1, 1, 4, 9)), 4, 2), ValueError,
     r"fold: input must have 2 dimensions \(C \* kH \* kW, L\) or 3"),
    (lambda: nn.fold(np.zeros((1, 4, 0)), 4, 2), ValueError, "non-zero"),
])
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_doctests():
    from imgconv.nn import _fold
    result = doctest.testmod(_fold, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0

"""imgconv.nn's convolutions, transposed convolutions and gradients against
plain numpy float64 references written here (so CI without torch checks
them), against torch.nn.functional / torch.nn.grad where torch is installed,
and the gradients against finite differences.

Cases are drawn at random (seeded): batch, channels, groups (1, 2, C_in),
kernel sizes, stride, padding ('same' with even kernels too), dilation,
output_padding, padding_mode, in 1D, 2D and 3D.
"""
import doctest
import importlib
import itertools

import numpy as np
import pytest

from imgconv import nn
from imgconv.nn import _conv

NUMPY_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
             "circular": "wrap", "symmetric": "symmetric"}
TORCH_PAD = {"reflect": "reflect", "replicate": "replicate", "circular": "circular"}


# --------------------------------------------------------------------------
# float64 references: sums over taps of shifted slices (no im2col, no BLAS
# blocking, no phases): the definitions as written in torch's docs
# --------------------------------------------------------------------------
def pads_of(padding, kernel_size, dilation, rank):
    if padding == "valid":
        return (0,) * rank, (0,) * rank
    if padding == "same":
        total = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
        return tuple(t // 2 for t in total), tuple(t - t // 2 for t in total)
    p = (padding,) * rank if np.isscalar(padding) else tuple(padding)
    return p, p


def ref_conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    rank = w.ndim - 2
    stride = (stride,) * rank if np.isscalar(stride) else tuple(stride)
    dilation = (dilation,) * rank if np.isscalar(dilation) else tuple(dilation)
    lo, hi = pads_of(padding, w.shape[2:], dilation, rank)
    xp = np.pad(x, [(0, 0), (0, 0)] + list(zip(lo, hi)), mode=NUMPY_PAD[padding_mode])
    out_shape = [(n - d * (k - 1) - 1) // s + 1
                 for n, k, d, s in zip(xp.shape[2:], w.shape[2:], dilation, stride)]
    c_out, c_in_g = w.shape[:2]
    out = np.zeros((x.shape[0], c_out, *out_shape))
    per_group = c_out // groups
    for t in itertools.product(*(range(k) for k in w.shape[2:])):
        window = xp[(slice(None), slice(None)) + tuple(
            slice(ti * d, ti * d + (o - 1) * s + 1, s)
            for ti, d, o, s in zip(t, dilation, out_shape, stride))]
        for grp in range(groups):
            xs = window[:, grp * c_in_g:(grp + 1) * c_in_g]
            ws = w[grp * per_group:(grp + 1) * per_group, :, *t]
            out[:, grp * per_group:(grp + 1) * per_group] += np.einsum("oc,nc...->no...", ws, xs)
    if b is not None:
        out += np.asarray(b, np.float64).reshape((-1,) + (1,) * rank)
    return out


def ref_conv_transpose(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                       dilation=1, out_size=None):
    """The scatter definition: input i adds x[i]*w[t] to output i*s - p + t*d."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    rank = w.ndim - 2
    per_axis = lambda value: (value,) * rank if np.isscalar(value) else tuple(value)
    stride, padding, dilation = per_axis(stride), per_axis(padding), per_axis(dilation)
    output_padding = per_axis(output_padding)
    c_in_g, c_out_g = w.shape[0] // groups, w.shape[1]
    n_in = x.shape[2:]
    if out_size is None:
        out_size = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in
                    zip(n_in, stride, padding, dilation, w.shape[2:], output_padding)]
    full = [max(o + p, (n - 1) * s + d * (k - 1) + 1) for o, p, n, s, d, k in
            zip(out_size, padding, n_in, stride, dilation, w.shape[2:])]
    buf = np.zeros((x.shape[0], c_out_g * groups, *full))
    for t in itertools.product(*(range(k) for k in w.shape[2:])):
        target = (slice(None), slice(None)) + tuple(
            slice(ti * d, ti * d + (n - 1) * s + 1, s)
            for ti, d, n, s in zip(t, dilation, n_in, stride))
        for grp in range(groups):
            xs = x[:, grp * c_in_g:(grp + 1) * c_in_g]
            ws = w[grp * c_in_g:(grp + 1) * c_in_g, :, *t]
            view = buf[target][:, grp * c_out_g:(grp + 1) * c_out_g]
            view += np.einsum("co,nc...->no...", ws, xs)     # a view: adds into buf
    out = buf[(slice(None), slice(None)) + tuple(slice(p, p + o) for p, o in
                                                  zip(padding, out_size))]
    if b is not None:
        out = out + np.asarray(b, np.float64).reshape((-1,) + (1,) * rank)
    return out


def ref_conv_weight(x, weight_shape, gy, stride=1, padding=0, dilation=1, groups=1):
    x, gy = np.asarray(x, np.float64), np.asarray(gy, np.float64)
    rank = len(weight_shape) - 2
    stride = (stride,) * rank if np.isscalar(stride) else tuple(stride)
    dilation = (dilation,) * rank if np.isscalar(dilation) else tuple(dilation)
    lo, hi = pads_of(padding, weight_shape[2:], dilation, rank)
    xp = np.pad(x, [(0, 0), (0, 0)] + list(zip(lo, hi)))
    c_out, c_in_g = weight_shape[:2]
    per_group = c_out // groups
    gw = np.zeros(weight_shape)
    for t in itertools.product(*(range(k) for k in weight_shape[2:])):
        window = xp[(slice(None), slice(None)) + tuple(
            slice(ti * d, ti * d + (o - 1) * s + 1, s)
            for ti, d, o, s in zip(t, dilation, gy.shape[2:], stride))]
        for grp in range(groups):
            rows = gy[:, grp * per_group:(grp + 1) * per_group]
            columns = window[:, grp * c_in_g:(grp + 1) * c_in_g]
            gw[grp * per_group:(grp + 1) * per_group, :, *t] = np.einsum(
                "nop,ncp->oc", rows.reshape(rows.shape[:2] + (-1,)),
                columns.reshape(columns.shape[:2] + (-1,)))
    return gw


# --------------------------------------------------------------------------
# random cases
# --------------------------------------------------------------------------
MODES = ["zeros", "reflect", "replicate", "circular", "symmetric"]


def random_conv_case(seed, rank):
    rng = np.random.default_rng(seed)
    while True:
        c_in = int(rng.integers(1, 5))
        groups = int(rng.choice([1, 2, c_in])) if c_in % 2 == 0 else int(rng.choice([1, c_in]))
        c_out = groups * int(rng.integers(1, 4))
        kernel = tuple(int(k) for k in rng.integers(1, 5 if rank < 3 else 4, rank))
        stride = tuple(int(s) for s in rng.integers(1, 4, rank))
        dilation = tuple(int(d) for d in rng.integers(1, 3, rank))
        kind = rng.integers(0, 4)
        if kind == 0 and all(s == 1 for s in stride):
            padding = "same"
        elif kind == 1:
            padding = "valid"
        elif kind == 2:
            padding = int(rng.integers(0, 3))
        else:
            padding = tuple(int(p) for p in rng.integers(0, 3, rank))
        mode = str(rng.choice(MODES))
        size = tuple(int(n) for n in rng.integers(1, 14 if rank < 3 else 8, rank))
        lo, hi = pads_of(padding, kernel, dilation, rank)
        if all(n + a + b >= d * (k - 1) + 1 for n, a, b, d, k in
               zip(size, lo, hi, dilation, kernel)):
            break
    n = int(rng.integers(1, 4))
    x = rng.standard_normal((n, c_in) + size)
    w = rng.standard_normal((c_out, c_in // groups) + kernel)
    b = rng.standard_normal(c_out) if rng.random() < 0.5 else None
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                  padding_mode=mode)
    return x, w, b, kwargs


def random_transpose_case(seed, rank):
    rng = np.random.default_rng(1000 + seed)
    while True:
        c_in = int(rng.integers(1, 5))
        groups = int(rng.choice([1, 2, c_in])) if c_in % 2 == 0 else int(rng.choice([1, c_in]))
        c_out_g = int(rng.integers(1, 4))
        kernel = tuple(int(k) for k in rng.integers(1, 5 if rank < 3 else 4, rank))
        stride = tuple(int(s) for s in rng.integers(1, 4, rank))
        dilation = tuple(int(d) for d in rng.integers(1, 3, rank))
        padding = tuple(int(p) for p in rng.integers(0, 3, rank))
        output_padding = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
        size = tuple(int(n) for n in rng.integers(1, 10 if rank < 3 else 6, rank))
        out = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in
               zip(size, stride, padding, dilation, kernel, output_padding)]
        if min(out) >= 1:
            break
    n = int(rng.integers(1, 4))
    x = rng.standard_normal((n, c_in) + size)
    w = rng.standard_normal((c_in, c_out_g) + kernel)
    b = rng.standard_normal(c_out_g * groups) if rng.random() < 0.5 else None
    return x, w, b, dict(stride=stride, padding=padding, output_padding=output_padding,
                         groups=groups, dilation=dilation)


CONV = {1: nn.conv1d, 2: nn.conv2d, 3: nn.conv3d}
TRANSPOSE = {1: nn.conv_transpose1d, 2: nn.conv_transpose2d, 3: nn.conv_transpose3d}
CASES = [(rank, seed) for rank in (1, 2, 3) for seed in range(40 if rank < 3 else 25)]


def torch_or_skip():
    return pytest.importorskip("torch")


def torch_conv(torch, x, w, b, stride, padding, dilation, groups, padding_mode):
    """torch's result, with nn.Conv*d's padding modes done as it does them
    (F.pad, then an unpadded convolution)."""
    rank = w.ndim - 2
    F = torch.nn.functional
    conv = getattr(F, f"conv{rank}d")
    xt = torch.from_numpy(x)
    if padding_mode != "zeros":
        lo, hi = pads_of(padding, w.shape[2:], dilation, rank)
        pads = [p for a in reversed(range(rank)) for p in (lo[a], hi[a])]
        xt = F.pad(xt, pads, mode=TORCH_PAD[padding_mode])
        padding = 0
    return conv(xt, torch.from_numpy(w), None if b is None else torch.from_numpy(b),
                stride, padding, dilation, groups).numpy()


# --------------------------------------------------------------------------
# forward convolutions
# --------------------------------------------------------------------------
@pytest.mark.parametrize("rank, seed", CASES)
def test_conv_matches_reference(rank, seed):
    x, w, b, kwargs = random_conv_case(seed, rank)
    x_before = x.copy()
    got = CONV[rank](x, w, b, **kwargs)
    expected = ref_conv(x, w, b, **kwargs)
    assert got.dtype == np.float64 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(x, x_before)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("rank, seed", CASES)
def test_conv_matches_torch(rank, seed):
    torch = torch_or_skip()
    x, w, b, kwargs = random_conv_case(seed, rank)
    if kwargs["padding_mode"] == "symmetric":
        pytest.skip("torch has no symmetric padding (the numpy reference covers it)")
    lo, hi = pads_of(kwargs["padding"], w.shape[2:], kwargs["dilation"], rank)
    if kwargs["padding_mode"] != "zeros" and any(
            max(a, c) >= n for a, c, n in zip(lo, hi, x.shape[2:])):
        pytest.skip("torch refuses a reflection or wrap as wide as the input")
    for dtype, tol in ((np.float64, 1e-10), (np.float32, 2e-5)):
        xd, wd = x.astype(dtype), w.astype(dtype)
        bd = None if b is None else b.astype(dtype)
        got = CONV[rank](xd, wd, bd, **kwargs)
        expected = torch_conv(torch, xd, wd, bd, **kwargs)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * 10)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("kernel", [2, 4])
def test_same_padding_with_even_kernels_puts_the_extra_sample_high(rank, kernel):
    rng = np.random.default_rng(rank * 10 + kernel)
    x = rng.standard_normal((2, 3) + (7,) * rank)
    w = rng.standard_normal((4, 3) + (kernel,) * rank)
    got = CONV[rank](x, w, padding="same", dilation=1)
    assert got.shape[2:] == x.shape[2:]
    low = (kernel - 1) // 2
    explicit = CONV[rank](np.pad(x, [(0, 0), (0, 0)] + [(low, kernel - 1 - low)] * rank), w)
    np.testing.assert_allclose(got, explicit, rtol=1e-12, atol=1e-12)
    try:
        import torch
    except ImportError:
        return
    expected = getattr(torch.nn.functional, f"conv{rank}d")(
        torch.from_numpy(x), torch.from_numpy(w), padding="same").numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("multiplier", [1, 3])
@pytest.mark.parametrize("mode", MODES)
def test_depthwise_with_channel_multiplier(multiplier, mode):
    rng = np.random.default_rng(multiplier)
    x = rng.standard_normal((3, 5, 17, 12)).astype(np.float32)
    w = rng.standard_normal((5 * multiplier, 1, 3, 5)).astype(np.float32)
    b = rng.standard_normal(5 * multiplier).astype(np.float32)
    for stride, dilation in [(1, 1), ((2, 1), (1, 2))]:
        got = nn.conv2d(x, w, b, stride=stride, padding=(1, 3), dilation=dilation, groups=5,
                        padding_mode=mode)
        expected = ref_conv(x, w, b, stride=stride, padding=(1, 3), dilation=dilation, groups=5,
                            padding_mode=mode)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("route", ["direct kernel", "tapwise"])
@pytest.mark.parametrize("seed", range(12))
def test_depthwise_routes(route, seed, monkeypatch):
    """Depthwise work runs on the direct kernel (large planes) or one numpy
    operation per tap (small ones): both give the reference's result."""
    monkeypatch.setattr(_conv, "DIRECT_KERNEL_MIN_OUTPUTS",
                        1 << 60 if route == "tapwise" else 0)
    rng = np.random.default_rng(seed)
    rank = 1 + seed % 3
    x, _, b, kwargs = random_conv_case(seed + 100, rank)
    channels = x.shape[1]
    kwargs["groups"] = channels
    w = rng.standard_normal((channels * int(rng.integers(1, 3)), 1) + (3, 2, 3)[:rank])
    try:
        nn.conv_output_shape(x.shape[2:], w.shape[2:], kwargs["stride"], kwargs["padding"],
                             kwargs["dilation"])
    except ValueError:
        pytest.skip("the kernel is larger than this padded input")
    expected = ref_conv(x, w, None, **kwargs)
    np.testing.assert_allclose(CONV[rank](x, w, **kwargs), expected, rtol=1e-10, atol=1e-10)
    wt = rng.standard_normal((channels, 2) + (3, 2, 3)[:rank])
    np.testing.assert_allclose(TRANSPOSE[rank](x, wt, stride=2, groups=channels),
                               ref_conv_transpose(x, wt, stride=2, groups=channels),
                               rtol=1e-10, atol=1e-10)


def test_volume_feature_bank():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 1, 13, 11, 9)).astype(np.float32)
    w = rng.standard_normal((8, 1, 3, 3, 3)).astype(np.float32)
    got = nn.conv3d(x, w, padding=1)
    np.testing.assert_allclose(got, ref_conv(x, w, padding=1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stride", [1, 2])
def test_pointwise_convolution_is_a_matrix_product(stride):
    rng = np.random.default_rng(stride)
    x = rng.standard_normal((2, 6, 9, 10))
    w = rng.standard_normal((4, 6, 1, 1))
    got = nn.conv2d(x, w, stride=stride)
    expected = np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x[:, :, ::stride, ::stride])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    grouped = nn.conv2d(x, w[:, :3], groups=2, padding=1, padding_mode="reflect")
    np.testing.assert_allclose(grouped, ref_conv(x, w[:, :3], groups=2, padding=1,
                                                 padding_mode="reflect"), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_small_blocks_cover_every_output(rank, monkeypatch):
    """Blocks of a few rows (and, in 3D, of parts of a plane) give the
    same result as one block."""
    rng = np.random.default_rng(rank)
    x = rng.standard_normal((2, 4) + (9, 7, 6)[:rank])
    w = rng.standard_normal((6, 2) + (3, 2, 3)[:rank])
    expected = ref_conv(x, w, stride=(2, 1, 1)[:rank], padding=1, groups=2)
    gy = rng.standard_normal(expected.shape)
    gw_expected = ref_conv_weight(x, w.shape, gy, stride=(2, 1, 1)[:rank], padding=1, groups=2)
    for budget in (1, 300, 2000):
        monkeypatch.setattr(_conv, "COLUMN_BYTES", budget)
        got = CONV[rank](x, w, stride=(2, 1, 1)[:rank], padding=1, groups=2)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        gw = getattr(nn.grad, f"conv{rank}d_weight")(x, w.shape, gy, stride=(2, 1, 1)[:rank],
                                                   padding=1, groups=2)
        np.testing.assert_allclose(gw, gw_expected, rtol=1e-10, atol=1e-10)
        # a transposed convolution's phases: blocks stored into strided views
        wt = w.transpose((1, 0) + tuple(range(2, rank + 2)))[:, :3].copy()
        wt = np.concatenate([wt, wt[::-1]])
        got = TRANSPOSE[rank](x, wt, stride=(2, 3, 2)[:rank], padding=1, groups=2)
        np.testing.assert_allclose(got, ref_conv_transpose(x, wt, stride=(2, 3, 2)[:rank],
                                                           padding=1, groups=2),
                                   rtol=1e-10, atol=1e-10)


def test_reflection_wider_than_the_input_repeats_the_rule():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    w = np.ones((1, 1, 1, 1))
    for mode in ["reflect", "symmetric", "circular", "replicate"]:
        got = nn.conv2d(x, w, padding=4, padding_mode=mode)
        np.testing.assert_array_equal(got, np.pad(x, [(0, 0), (0, 0), (4, 4), (4, 4)],
                                                  mode=NUMPY_PAD[mode]))


def test_one_pixel_and_odd_sizes():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 1, 1))
    w = rng.standard_normal((3, 2, 3, 3))
    for mode in MODES:
        got = nn.conv2d(x, w, padding=1, padding_mode=mode)
        assert got.shape == (1, 3, 1, 1)
        np.testing.assert_allclose(got, ref_conv(x, w, padding=1, padding_mode=mode),
                                   rtol=1e-12, atol=1e-12)
    x = rng.standard_normal((1, 2, 1, 31))
    w = rng.standard_normal((3, 2, 1, 7))
    np.testing.assert_allclose(nn.conv2d(x, w, stride=3), ref_conv(x, w, stride=3),
                               rtol=1e-12, atol=1e-12)


def test_unbatched_input():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 8, 8))
    w = rng.standard_normal((5, 3, 3, 3))
    b = rng.standard_normal(5)
    got = nn.conv2d(x, w, b, padding=1)
    assert got.shape == (5, 8, 8)
    np.testing.assert_allclose(got, nn.conv2d(x[None], w, b, padding=1)[0], rtol=0, atol=0)
    wt = rng.standard_normal((3, 2, 3, 3))
    assert nn.conv_transpose2d(x, wt, stride=2).shape == (2, 17, 17)
    assert nn.conv1d(x[:, 0], w[:, :, 0]).shape == (5, 6)


@pytest.mark.parametrize("layout", ["transposed", "reversed", "big-endian", "list"])
def test_any_layout_and_byte_order(layout):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 10, 9)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    expected = ref_conv(x, w, padding=1, stride=(1, 2))
    if layout == "transposed":
        given = np.asfortranarray(x)
        weight = np.asfortranarray(w)
    elif layout == "reversed":
        given = x[:, :, ::-1, ::-1].copy()[:, :, ::-1, ::-1]
        weight = w[::-1].copy()[::-1]
    elif layout == "big-endian":
        given, weight = x.astype(">f4"), w.astype(">f4")
    else:
        given, weight = x.tolist(), w.tolist()
    before = np.array(given, copy=True)
    got = nn.conv2d(given, weight, padding=1, stride=(1, 2))
    assert got.dtype == (np.float64 if layout == "list" else np.float32)
    assert got.dtype.isnative
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(given), before)


@pytest.mark.parametrize("route", ["direct kernel", "tapwise"])
def test_depthwise_of_any_layout(route, monkeypatch):
    monkeypatch.setattr(_conv, "DIRECT_KERNEL_MIN_OUTPUTS", 1 << 60 if route == "tapwise" else 0)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 11, 8)).astype(np.float32)
    w = rng.standard_normal((6, 1, 3, 3)).astype(np.float32)
    expected = ref_conv(x, w, padding=1, groups=3, padding_mode="reflect")
    for given in (x[:, :, ::-1, ::-1].copy()[:, :, ::-1, ::-1], np.asfortranarray(x),
                  x.astype(">f4"), x[:, ::-1].copy()[:, ::-1]):
        got = nn.conv2d(given, w, padding=1, groups=3, padding_mode="reflect")
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_float16_is_computed_in_float32():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 9, 9)).astype(np.float16)
    w = rng.standard_normal((3, 4, 3, 3)).astype(np.float16)
    got = nn.conv2d(x, w, padding=1)
    assert got.dtype == np.float16
    in_float32 = nn.conv2d(x.astype(np.float32), w.astype(np.float32), padding=1)
    np.testing.assert_array_equal(got, in_float32.astype(np.float16))
    wt = rng.standard_normal((4, 2, 3, 3)).astype(np.float16)
    assert nn.conv_transpose2d(x, wt, stride=2).dtype == np.float16
    # mixed dtypes promote as numpy does
    assert nn.conv2d(x.astype(np.float32), w.astype(np.float64)).dtype == np.float64
    assert nn.conv2d(x, w.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.complex64, bool])
def test_other_dtypes_are_a_type_error(dtype):
    x = np.ones((1, 2, 5, 5), dtype)
    w = np.ones((1, 2, 3, 3), np.float32)
    with pytest.raises(TypeError, match="x has dtype"):
        nn.conv2d(x, w)
    with pytest.raises(TypeError, match="weight has dtype"):
        nn.conv2d(np.ones((1, 2, 5, 5), np.float32), np.ones((1, 2, 3, 3), dtype))
    with pytest.raises(TypeError, match="bias has dtype"):
        nn.conv2d(np.ones((1, 2, 5, 5)), w, np.ones(1, dtype))


def test_empty_batch():
    got = nn.conv2d(np.ones((0, 2, 5, 5)), np.ones((3, 2, 3, 3)))
    assert got.shape == (0, 3, 3, 3)
    got = nn.conv_transpose2d(np.ones((0, 2, 5, 5)), np.ones((2, 3, 3, 3)), stride=2)
    assert got.shape == (0, 3, 11, 11)


def test_depthwise_separable():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 4, 11, 10))
    dw = rng.standard_normal((8, 1, 3, 3))
    pw = rng.standard_normal((5, 8, 1, 1))
    b = rng.standard_normal(5)
    got = nn.depthwise_separable(x, dw, pw, b, stride=2, padding=1, padding_mode="replicate")
    hidden = ref_conv(x, dw, stride=2, padding=1, groups=4, padding_mode="replicate")
    expected = ref_conv(hidden, pw, b)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(nn.depthwise_separable(x, dw, pw[:, :, 0, 0], b, stride=2,
                                                         padding=1, padding_mode="replicate"),
                                  got)
    assert nn.depthwise_separable(x[0], dw, pw).shape == (5, 9, 8)
    with pytest.raises(ValueError, match="depthwise_weight"):
        nn.depthwise_separable(x, dw[:6], pw)
    with pytest.raises(ValueError, match="pointwise_weight"):
        nn.depthwise_separable(x, dw, pw[:, :7])
    with pytest.raises(ValueError, match="pointwise_weight"):
        nn.depthwise_separable(x, dw, np.ones((5, 8, 3, 3)))
    try:
        import torch
    except ImportError:
        return
    F = torch.nn.functional
    t = F.conv2d(F.conv2d(torch.from_numpy(x), torch.from_numpy(dw), stride=2, padding=1,
                          groups=4), torch.from_numpy(pw), torch.from_numpy(b))
    np.testing.assert_allclose(nn.depthwise_separable(x, dw, pw, b, stride=2, padding=1),
                               t.numpy(), rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------
# transposed convolutions
# --------------------------------------------------------------------------
@pytest.mark.parametrize("rank, seed", CASES)
def test_conv_transpose_matches_reference(rank, seed):
    x, w, b, kwargs = random_transpose_case(seed, rank)
    x_before = x.copy()
    got = TRANSPOSE[rank](x, w, b, **kwargs)
    expected = ref_conv_transpose(x, w, b, **kwargs)
    assert got.shape == expected.shape
    assert got.shape[2:] == nn.conv_transpose_output_shape(
        x.shape[2:], w.shape[2:], kwargs["stride"], kwargs["padding"],
        kwargs["output_padding"], kwargs["dilation"])
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(x, x_before)


@pytest.mark.parametrize("rank, seed", CASES)
def test_conv_transpose_matches_torch(rank, seed):
    torch = torch_or_skip()
    x, w, b, kwargs = random_transpose_case(seed, rank)
    for dtype, tol in ((np.float64, 1e-10), (np.float32, 2e-5)):
        xd, wd = x.astype(dtype), w.astype(dtype)
        bd = None if b is None else torch.from_numpy(b.astype(dtype))
        got = TRANSPOSE[rank](xd, wd, None if b is None else b.astype(dtype), **kwargs)
        expected = getattr(torch.nn.functional, f"conv_transpose{rank}d")(
            torch.from_numpy(xd), torch.from_numpy(wd), bd, **kwargs).numpy()
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * 10)


def test_conv_transpose_is_the_adjoint_of_conv():
    """<conv(x), y> = <x, conv_transpose(y)> for the same weight."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 4, 13, 11))
    w = rng.standard_normal((6, 2, 3, 4))
    kwargs = dict(stride=(2, 3), padding=(1, 2), dilation=(2, 1), groups=2)
    y = nn.conv2d(x, w, **kwargs)
    gy = rng.standard_normal(y.shape)
    # output_padding picks the input size back
    op = tuple(n - o for n, o in zip(x.shape[2:], nn.conv_transpose_output_shape(
        y.shape[2:], w.shape[2:], kwargs["stride"], kwargs["padding"], 0, kwargs["dilation"])))
    back = nn.conv_transpose2d(gy, w, output_padding=op, **kwargs)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.vdot(y, gy), np.vdot(x, back), rtol=1e-10)


@pytest.fixture(params=["products", "phases"])
def transposed_route(request, monkeypatch):
    """Every transposed convolution of the test on one route."""
    monkeypatch.setattr(_conv, "transposed_route", lambda *args: request.param)
    return request.param


@pytest.mark.parametrize("product_bytes", [None, 64])
@pytest.mark.parametrize("rank, seed", CASES[::2])
def test_conv_transpose_routes_match_reference(rank, seed, product_bytes, transposed_route,
                                               monkeypatch):
    """Both routes on random geometries; 64-byte product blocks make every
    block a few rows, so the rows kept from block to block are exercised."""
    if product_bytes:
        monkeypatch.setattr(_conv, "PRODUCT_BYTES", product_bytes)
    x, w, b, kwargs = random_transpose_case(seed, rank)
    # a non-contiguous input of the same values
    x_strided = np.repeat(x, 2, axis=-1)[..., ::2]
    got = TRANSPOSE[rank](x_strided, w, b, **kwargs)
    np.testing.assert_allclose(got, ref_conv_transpose(x, w, b, **kwargs),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("rank, seed", CASES[1::3])
def test_input_gradient_routes_match_reference(rank, seed, transposed_route):
    x, w, gy, kwargs = grad_case(seed, rank)
    gi = getattr(nn.grad, f"conv{rank}d_input")(x.shape, w, gy, **kwargs)
    lo, _ = pads_of(kwargs["padding"], w.shape[2:], kwargs["dilation"], rank)
    expected = ref_conv_transpose(gy, w, stride=kwargs["stride"], padding=lo,
                                  dilation=kwargs["dilation"], groups=kwargs["groups"],
                                  out_size=x.shape[2:])
    np.testing.assert_allclose(gi, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("route", ["products", "phases"])
def test_conv_transpose_routes_on_wide_layers(route, monkeypatch):
    """A layer with many channels, float32, against torch, on each route
    (the default picks products here, checked below)."""
    torch = torch_or_skip()
    rng = np.random.default_rng(31)
    x = rng.standard_normal((2, 32, 13, 10)).astype(np.float32)
    w = rng.standard_normal((32, 8, 4, 4)).astype(np.float32)
    kwargs = dict(stride=2, padding=(1, 2), output_padding=1, groups=2)
    assert _conv.transposed_route(x.shape, w.shape, (2, 2), (1, 1), 2, 4) == "products"
    assert _conv.transposed_route(x.shape, (32, 1, 4, 4), (2, 2), (1, 1), 32, 4) == "phases"
    monkeypatch.setattr(_conv, "transposed_route", lambda *args: route)
    got = nn.conv_transpose2d(x, w, **kwargs)
    expected = torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w),
                                                    **kwargs).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_transposed_route_rule():
    """Products first wherever each group has 2 or more input and output
    channels, in 1D, 2D and 3D, at any stride; the phases' correlations
    for depthwise layers (1 channel per group) and rows too large for a
    block."""
    route = _conv.transposed_route
    assert route((8, 64, 64, 64), (64, 32, 4, 4), (2, 2), (1, 1), 1, 4) == "products"
    assert route((8, 64, 1 << 20), (64, 32, 4), (2,), (1,), 1, 4) == "products"
    assert route((8, 64, 64, 64), (64, 32, 3, 3), (1, 1), (1, 1), 1, 4) == "products"
    assert route((2, 16, 8, 8, 8), (16, 16, 4, 4, 4), (2, 2, 2), (1, 1, 1), 1, 4) == "products"
    assert route((8, 4, 64, 64), (4, 2, 4, 4), (2, 2), (1, 1), 2, 4) == "products"
    assert route((8, 64, 64, 64), (64, 1, 4, 4), (2, 2), (1, 1), 32, 4) == "phases"
    assert route((8, 64, 64, 64), (64, 1, 4, 4), (2, 2), (1, 1), 64, 4) == "phases"
    assert route((8, 64, 64), (64, 1, 4), (2,), (1,), 64, 4) == "phases"
    assert route((1, 64, 8, 1 << 16), (64, 32, 4, 4), (2, 2), (1, 1), 1, 4) == "phases"
    with pytest.raises(ValueError, match="route"):
        _conv.transposed_correlation(np.ones((1, 1, 3)), np.ones((1, 1, 2)), (2,), (0,),
                                     (1,), 1, np.empty((1, 1, 6)), route="scatter")



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rank, seed", [(rank, seed) for rank in (1, 2, 3) for seed in range(8)])
def test_conv_transpose_routes_on_wide_rows(rank, seed, dtype, transposed_route, monkeypatch):
    """Rows wide enough that the products' gather sums whole chunks of 16
    outputs (and a last chunk overlapping the one before), on random
    geometries: strides 1-3, dilations 1-3, padding up to wider than the
    kernel, output_padding, groups, small product blocks (a ring of input
    rows that wraps around), float32 and float64 against the float64
    reference; big-endian and reversed-stride inputs, left as they were."""
    rng = np.random.default_rng(7000 + 31 * rank + seed)
    while True:
        groups = int(rng.choice([1, 2, 3]))
        c_in, c_out_g = groups * int(rng.integers(1, 4)), int(rng.integers(1, 4))
        kernel = tuple(int(k) for k in rng.integers(1, 6, rank))
        stride = tuple(int(s) for s in rng.integers(1, 4, rank))
        dilation = tuple(int(d) for d in rng.integers(1, 4, rank))
        padding = tuple(int(rng.integers(0, d * (k - 1) + 3))
                        for k, d in zip(kernel, dilation))
        output_padding = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
        # the last axis wide (15 to 70 inputs), the others short
        size = tuple(int(n) for n in rng.integers(1, 7, rank - 1)) + (int(rng.integers(15, 71)),)
        out = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in
               zip(size, stride, padding, dilation, kernel, output_padding)]
        if min(out) >= 1:
            break
    if seed % 2:
        monkeypatch.setattr(_conv, "PRODUCT_BYTES", 64)
    x = rng.standard_normal((int(rng.integers(1, 3)), c_in) + size).astype(dtype)
    w = rng.standard_normal((c_in, c_out_g) + kernel).astype(dtype)
    kwargs = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                  dilation=dilation)
    # the same values big-endian, or through reversed strides
    given = (x.astype(x.dtype.newbyteorder(">")) if seed % 4 == 2 else
             x[..., ::-1].copy()[..., ::-1] if seed % 4 == 3 else x)
    before = given.copy()
    got = TRANSPOSE[rank](given, w, **kwargs)
    assert got.dtype == dtype and got.dtype.isnative
    np.testing.assert_array_equal(given, before)
    expected = ref_conv_transpose(x, w, **kwargs)
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


def gather_reference(products, ring, ring_origin, held, planes, out_shape, in_shape,
                     kernel_size, stride, padding, dilation):
    """transposed_gather by its definition: every held input sample's
    products added into the outputs its taps reach (float64)."""
    taps = int(np.prod(kernel_size))
    channels = products.shape[0] // taps
    out = np.zeros((channels,) + tuple(out_shape))
    columns = products.reshape(taps, channels, -1).astype(np.float64)
    for t, tap in enumerate(np.ndindex(*kernel_size)):
        for i in held:
            for h, w in np.ndindex(*in_shape[1:]):
                o = tuple(n * s - p + k * d for n, s, p, k, d in
                          zip((i, h, w), stride, padding, tap, dilation))
                if all(0 <= a < b for a, b in zip(o, out_shape)):
                    slot = (i - ring_origin) % ring
                    column = (slot * in_shape[1] + h) * in_shape[2] + w
                    out[(slice(None),) + o] += columns[t, :, column]
    return out[:, planes.start:planes.stop]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(6))
def test_transposed_gather_reads_a_ring_of_planes(seed, dtype):
    """The compiled gather on its own: a block of output planes from a ring
    of input planes that wraps around its end, the planes outside the block
    left as they were."""
    from imgconv._dispatch import kernels
    rng = np.random.default_rng(seed)
    kernel_size = tuple(int(k) for k in rng.integers(1, 4, 3))
    stride = tuple(int(s) for s in rng.integers(1, 4, 3))
    padding = tuple(int(p) for p in rng.integers(0, 3, 3))
    dilation = tuple(int(d) for d in rng.integers(1, 3, 3))
    in_shape = (20, int(rng.integers(1, 4)), int(rng.integers(1, 40)))
    out_shape = tuple(max(1, (n - 1) * s - 2 * p + d * (k - 1) + 1) for n, s, p, d, k in
                      zip(in_shape, stride, padding, dilation, kernel_size))
    middle = out_shape[0] // 2
    planes = range(middle, min(out_shape[0], middle + 2 * stride[0]))
    held = [i for i in range(in_shape[0]) if any(
        0 <= i * stride[0] - padding[0] + k * dilation[0] - planes.start < len(planes)
        for k in range(kernel_size[0]))]
    held = range(held[0], held[-1] + 1) if held else range(0)
    # a ring whose end the held planes wrap around
    ring_origin = int(rng.integers(-5, 6))
    ring = next((r for r in range(max(1, len(held)), len(held) + 8)
                 if (held.start - ring_origin) % r + len(held) > r), len(held) + 1)
    channels = int(rng.integers(1, 4))
    products = rng.standard_normal((int(np.prod(kernel_size)) * channels,
                                    ring * in_shape[1] * in_shape[2] + 3)).astype(dtype)
    out = np.full((channels,) + out_shape, np.nan, dtype)
    kernels.transposed_gather(products, out, ring, ring_origin, held.start, len(held),
                              planes.start, planes.stop, in_shape, kernel_size, stride, padding,
                              dilation)
    expected = gather_reference(products, ring, ring_origin, held, planes, out_shape, in_shape,
                                kernel_size, stride, padding, dilation)
    np.testing.assert_allclose(out[:, planes.start:planes.stop], expected,
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)
    assert np.isnan(out[:, :planes.start]).all() and np.isnan(out[:, planes.stop:]).all()


def test_transposed_gather_refuses_what_it_cannot_read():
    from imgconv._dispatch import kernels
    geometry = ((4, 1, 8), (2, 1, 3), (2, 1, 2), (0, 0, 1), (1, 1, 1))
    out = np.zeros((2, 8, 1, 17))
    products = np.zeros((6 * 2, 2 * 8))
    with pytest.raises(ValueError, match="input plane 0 .* not among"):
        kernels.transposed_gather(products, out, 2, 0, 1, 2, 0, 2, *geometry)
    with pytest.raises(ValueError, match="not taps x channels"):
        kernels.transposed_gather(products[:5], out, 2, 0, 0, 2, 0, 2, *geometry)
    with pytest.raises(ValueError, match="does not fit"):
        kernels.transposed_gather(products, out, 3, 0, 0, 2, 0, 2, *geometry)
    with pytest.raises(ValueError, match="rows .* must be contiguous"):
        kernels.transposed_gather(products, out[..., ::2], 2, 0, 0, 2, 0, 2, *geometry)
    with pytest.raises(ValueError, match="planes 0..9"):
        kernels.transposed_gather(products, out, 2, 0, 0, 2, 0, 9, *geometry)
    # the planes that an input plane held reaches: written
    kernels.transposed_gather(products + 1, out, 2, 0, 0, 2, 0, 2, *geometry)
    assert (out[:, :2] > 0).any() and (out[:, 2:] == 0).all()


# --------------------------------------------------------------------------
# gradients
# --------------------------------------------------------------------------
def grad_case(seed, rank):
    x, w, _, kwargs = random_conv_case(seed, rank)
    kwargs = {k: v for k, v in kwargs.items() if k != "padding_mode"}   # torch's have none
    y = ref_conv(x, w, **kwargs)
    gy = np.random.default_rng(seed).standard_normal(y.shape)
    return x, w, gy, kwargs


@pytest.mark.parametrize("rank, seed", CASES)
def test_gradients_match_reference(rank, seed):
    x, w, gy, kwargs = grad_case(seed, rank)
    gi = getattr(nn.grad, f"conv{rank}d_input")(x.shape, w, gy, **kwargs)
    lo, _ = pads_of(kwargs["padding"], w.shape[2:], kwargs["dilation"], rank)
    expected = ref_conv_transpose(gy, w, stride=kwargs["stride"], padding=lo,
                                  dilation=kwargs["dilation"], groups=kwargs["groups"],
                                  out_size=x.shape[2:])
    np.testing.assert_allclose(gi, expected, rtol=1e-10, atol=1e-10)
    gw = getattr(nn.grad, f"conv{rank}d_weight")(x, w.shape, gy, **kwargs)
    np.testing.assert_allclose(gw, ref_conv_weight(x, w.shape, gy, **kwargs),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("rank, seed", CASES[::3])
def test_gradients_match_finite_differences(rank, seed):
    """loss = <conv(x, w), gy>: d loss / d x and d loss / d w at a few
    entries, by central differences (the loss is linear in each: exact up
    to rounding)."""
    x, w, gy, kwargs = grad_case(seed, rank)
    conv = CONV[rank]
    loss = lambda x_, w_: float(np.vdot(conv(x_, w_, **kwargs), gy))
    gi = getattr(nn.grad, f"conv{rank}d_input")(x.shape, w, gy, **kwargs)
    gw = getattr(nn.grad, f"conv{rank}d_weight")(x, w.shape, gy, **kwargs)
    rng = np.random.default_rng(seed)
    eps = 1e-3
    for array, gradient, which in ((x, gi, 0), (w, gw, 1)):
        for flat in rng.choice(array.size, min(array.size, 6), replace=False):
            index = np.unravel_index(flat, array.shape)
            plus, minus = array.copy(), array.copy()
            plus[index] += eps
            minus[index] -= eps
            args_plus = (plus, w) if which == 0 else (x, plus)
            args_minus = (minus, w) if which == 0 else (x, minus)
            numeric = (loss(*args_plus) - loss(*args_minus)) / (2 * eps)
            assert gradient[index] == pytest.approx(numeric, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("rank, seed", CASES[::2])
def test_gradients_match_torch(rank, seed):
    torch = torch_or_skip()
    x, w, gy, kwargs = grad_case(seed, rank)
    if kwargs["padding"] == "same" and any(
            (d * (k - 1)) % 2 for k, d in zip(w.shape[2:], kwargs["dilation"])):
        pytest.skip("torch.nn.grad takes symmetric padding only")
    padding = kwargs["padding"]
    if isinstance(padding, str):
        padding = pads_of(padding, w.shape[2:], kwargs["dilation"], rank)[0]
    targs = dict(kwargs, padding=padding)
    grad = torch.nn.grad
    for dtype, tol in ((np.float64, 1e-10), (np.float32, 3e-5)):
        xd, wd, gyd = x.astype(dtype), w.astype(dtype), gy.astype(dtype)
        gi = getattr(nn.grad, f"conv{rank}d_input")(xd.shape, wd, gyd, **kwargs)
        gw = getattr(nn.grad, f"conv{rank}d_weight")(xd, wd.shape, gyd, **kwargs)
        ti = getattr(grad, f"conv{rank}d_input")(xd.shape, torch.from_numpy(wd),
                                                 torch.from_numpy(gyd), **targs).numpy()
        tw = getattr(grad, f"conv{rank}d_weight")(torch.from_numpy(xd), wd.shape,
                                                  torch.from_numpy(gyd), **targs).numpy()
        assert gi.dtype == dtype and gw.dtype == dtype
        np.testing.assert_allclose(gi, ti, rtol=tol, atol=tol * 10)
        np.testing.assert_allclose(gw, tw, rtol=tol, atol=tol * 100)


def test_gradients_of_unbatched_input():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, 8, 7))
    w = rng.standard_normal((4, 3, 3, 2))
    gy = rng.standard_normal((4, 6, 6))
    gi = nn.grad.conv2d_input(x.shape, w, gy)
    np.testing.assert_allclose(gi, nn.grad.conv2d_input((1,) + x.shape, w, gy[None])[0],
                               rtol=0, atol=0)
    gw = nn.grad.conv2d_weight(x, w.shape, gy)
    np.testing.assert_allclose(gw, nn.grad.conv2d_weight(x[None], w.shape, gy[None]),
                               rtol=0, atol=0)


# --------------------------------------------------------------------------
# bad input: clear errors naming the argument
# --------------------------------------------------------------------------
X = np.ones((2, 4, 8, 8), np.float32)


@pytest.mark.parametrize("call, error, match", [
    (lambda: nn.conv2d(X, np.ones((6, 2, 3, 3)), groups=3), ValueError, "groups=3 must divide"),
    (lambda: nn.conv2d(X, np.ones((6, 3, 3, 3))), ValueError, "weight has 3 input channels"),
    (lambda: nn.conv2d(X, np.ones((5, 2, 3, 3)), groups=2), ValueError,
     "groups=2 must divide the output channels"),
    (lambda: nn.conv2d(X, np.ones((6, 4, 3, 3)), np.ones(5)), ValueError,
     r"bias must have shape \(6,\)"),
    (lambda: nn.conv2d(X[0, 0], np.ones((6, 4, 3, 3))), ValueError, r"x must be \(N, C, H, W\)"),
    (lambda: nn.conv2d(X, np.ones((6, 4, 3))), ValueError, "weight must have 4 dimensions"),
    (lambda: nn.conv1d(X, np.ones((6, 4, 3))), ValueError, r"x must be \(N, C, L\)"),
    (lambda: nn.conv2d(X, np.ones((6, 4, 3, 3)), stride=2, padding="same"), ValueError,
     "padding='same' is not supported for strided"),
    (lambda: nn.conv2d(X, np.ones((6, 4, 3, 3)), padding="full"), ValueError, "padding must be"),
    (lambda: nn.conv2d(X, np.ones((6, 4, 3, 3)), padding=-1), ValueError, "padding must be >= 0"),
    (lambda: nn.conv2d(X, np.ones((6, 4, 3, 3)), stride=0), ValueError, "stride must be >= 1"),
    (lambda: nn.conv2d(X, np.ones((6, 4, 3, 3)), dilation=(1, 2, 3)), ValueError,
     "dilation needs 2"),
    (lambda: nn.conv2d(X, np.ones((6, 4, 3, 3)), groups=0), ValueError, "groups must be >= 1"),
    (lambda: nn.conv2d(X, np.ones((6, 4, 3, 3)), groups=1.5), TypeError, "groups must be an int"),
    (lambda: nn.conv2d(X, np.ones((6, 4, 3, 3)), padding_mode="mirrorish"), ValueError,
     "padding_mode must be one of"),
    (lambda: nn.conv2d(X, np.ones((6, 4, 9, 3))), ValueError, "larger than the padded input"),
    (lambda: nn.conv_transpose2d(X, np.ones((4, 2, 3, 3)), stride=2, output_padding=2),
     ValueError, "output_padding=.* must be smaller than either stride"),
    (lambda: nn.conv_transpose2d(X, np.ones((4, 2, 3, 3)), output_padding=1, dilation=1),
     ValueError, "output_padding"),
    (lambda: nn.conv_transpose2d(X, np.ones((3, 2, 3, 3))), ValueError,
     "weight has 3 input channels"),
    (lambda: nn.conv_transpose2d(X, np.ones((4, 2, 3, 3)), groups=3), ValueError,
     "groups=3 must divide"),
    (lambda: nn.conv_transpose2d(X, np.ones((4, 2, 3, 3)), padding="same"), ValueError,
     "transposed convolutions take ints"),
    (lambda: nn.conv_transpose2d(X, np.ones((4, 2, 3, 3)), np.ones(3)), ValueError,
     r"bias must have shape \(2,\)"),
    (lambda: nn.conv_transpose2d(X, np.ones((4, 2, 1, 1)), padding=4), ValueError,
     "leaves no output"),
    (lambda: nn.grad.conv2d_input(X.shape, np.ones((6, 4, 3, 3)), np.ones((2, 6, 5, 5))),
     ValueError, "grad_output has spatial shape"),
    (lambda: nn.grad.conv2d_input(X.shape, np.ones((6, 3, 3, 3)), np.ones((2, 6, 6, 6))),
     ValueError, "input_size has 4 channels"),
    (lambda: nn.grad.conv2d_input((2, 4, 8), np.ones((6, 4, 3, 3)), np.ones((2, 6, 6, 6))),
     ValueError, "input_size must hold 4"),
    (lambda: nn.grad.conv2d_weight(X, (6, 4, 3, 3), np.ones((2, 5, 6, 6))), ValueError,
     "grad_output has shape"),
    (lambda: nn.grad.conv2d_weight(X, (6, 3, 3, 3), np.ones((2, 6, 6, 6))), ValueError,
     "weight_size"),
    (lambda: nn.grad.conv2d_weight(X.astype(int), (6, 4, 3, 3), np.ones((2, 6, 6, 6))),
     TypeError, "input has dtype"),
])
def test_bad_input_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_other_array_libraries_are_refused_clearly():
    da = pytest.importorskip("dask.array")
    with pytest.raises(TypeError, match="x is a dask array: imgconv.nn runs numpy arrays"):
        nn.conv2d(da.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1)))


@pytest.mark.parametrize("module", ["imgconv.nn", "imgconv.nn._conv", "imgconv.nn._geometry",
                                    "imgconv.nn.grad"])
def test_doctests(module):
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False)
    assert result.attempted > 0, f"{module} has no doctests"
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {module}"


def test_odd_same_padding_equals_the_image_layers_correlation():
    import imgconv as ic
    rng = np.random.default_rng(11)
    image = rng.standard_normal((15, 12))
    kernel = rng.standard_normal((5, 3))
    got = nn.conv2d(image[None, None], kernel[None, None], padding="same")[0, 0]
    np.testing.assert_allclose(got, ic.correlate(image, kernel, mode="zero"), rtol=1e-12,
                               atol=1e-12)


# --------------------------------------------------------------------------
# threads
# --------------------------------------------------------------------------
@pytest.fixture
def restore_threads():
    import imgconv as ic
    yield ic
    ic.set_num_threads(None)


def thread_workloads():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((3, 8, 40, 33)).astype(np.float32)
    w = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    wt = rng.standard_normal((8, 3, 4, 4)).astype(np.float32)
    # channels enough for the product-first route of transposed convolutions
    x_wide = rng.standard_normal((3, 16, 23, 18)).astype(np.float32)
    wt_wide = rng.standard_normal((16, 16, 4, 3)).astype(np.float32)
    dw = rng.standard_normal((16, 1, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((3, 6, 40, 33)).astype(np.float32)
    return {
        "conv2d": lambda: nn.conv2d(x, w, padding=1, groups=2),
        "pointwise": lambda: nn.conv2d(x, w[:, :, :1, :1], groups=2),
        "depthwise": lambda: nn.conv2d(x, dw, padding=1, groups=8),
        "transpose": lambda: nn.conv_transpose2d(x, wt, stride=2, padding=1),
        "transpose products": lambda: nn.conv_transpose2d(x_wide, wt_wide, stride=(2, 3),
                                                          padding=1),
        "weight gradient": lambda: nn.grad.conv2d_weight(x, w.shape, gy, padding=1, groups=2),
        "input gradient": lambda: nn.grad.conv2d_input(x.shape, w, gy, padding=1, groups=2),
    }


@pytest.mark.parametrize("name", list(thread_workloads()))
def test_results_do_not_depend_on_threads_or_blocks(name, restore_threads, monkeypatch):
    """One thread, several threads, small blocks (more tasks than threads),
    and no way to keep BLAS to one thread per worker (the blocks then run
    in the calling thread): the same numbers."""
    ic = restore_threads
    run = thread_workloads()[name]
    monkeypatch.setattr(_conv, "DIRECT_KERNEL_MIN_OUTPUTS", 0)
    ic.set_num_threads(1)
    expected = run()
    for threads in (2, 3, 4):
        ic.set_num_threads(threads)
        np.testing.assert_array_equal(run(), expected)
    monkeypatch.setattr(_conv, "COLUMN_BYTES", 4096)
    monkeypatch.setattr(_conv, "PRODUCT_BYTES", 4096)
    small_blocks = run()
    np.testing.assert_allclose(small_blocks, expected, rtol=2e-5, atol=2e-5)
    ic.set_num_threads(4)
    np.testing.assert_array_equal(run(), small_blocks)
    from imgconv.nn import _parallel
    monkeypatch.setattr(_parallel, "_local_threads", False)
    np.testing.assert_allclose(run(), expected, rtol=2e-5, atol=2e-5)


def test_parallel_split_and_run():
    from imgconv.nn import _parallel
    assert _parallel.split(10, 3) == [range(0, 3), range(3, 6), range(6, 10)]
    assert _parallel.split(2, 5) == [range(0, 1), range(1, 2)]
    assert _parallel.split(0, 4) == [range(0, 0)]
    with pytest.raises(ZeroDivisionError):
        _parallel.run([lambda: 1, lambda: 1 / 0])
    # every index once, results in index order, one worker made per thread
    made = []

    def make_worker():
        made.append(1)
        return lambda i: i * i

    assert _parallel.dynamic(50, 3, make_worker) == [i * i for i in range(50)]
    assert len(made) == 3
    assert _parallel.dynamic(0, 3, make_worker) == []


def test_forked_child_gets_its_own_pool(restore_threads):
    """A child forked after the pool ran makes a pool of its own (the
    parent's threads do not exist there) instead of waiting forever."""
    import multiprocessing
    ic = restore_threads
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    ic.set_num_threads(2)
    x = np.random.default_rng(14).standard_normal((4, 8, 64, 64)).astype(np.float32)
    w = np.ones((8, 8, 3, 3), np.float32)
    expected = nn.conv2d(x, w, padding=1)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(_conv_in_child, (x, w)).get(timeout=120)
    np.testing.assert_array_equal(got, expected)


def _conv_in_child(x, w):
    return nn.conv2d(x, w, padding=1)

"""imgconv.pool / max_pool / avg_pool against a plain numpy reference and torch."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import imgconv as ic
from imgconv import _validate as v
from reference import layouts, ref_pool

RNG = np.random.default_rng(1234)
DTYPES = [np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64]
MODES = ["zero", "replicate", "reflect", "symmetric", "wrap"]


def _random(shape, dtype):
    if np.dtype(dtype).kind == "f":
        return RNG.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return RNG.integers(max(info.min, -1000), min(info.max, 1000), shape, endpoint=True).astype(dtype)


def _tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-4) if dtype != np.float64 else dict(rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------
# Against the reference
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["max", "min", "avg", "lp"])
@pytest.mark.parametrize("shape", [(13,), (9, 11), (5, 6, 7), (1, 1), (3, 1, 4)])
def test_pool_matches_reference_every_dtype(dtype, op, shape):
    x = _random(shape, dtype)
    size = tuple(min(n, 2) for n in shape)
    got = ic.pool(x, size, op=op)
    want, _ = ref_pool(x, size, op=op)
    if op in ("max", "min"):
        assert got.dtype == x.dtype
        np.testing.assert_array_equal(got, want.astype(dtype))
    else:
        assert got.dtype == (np.float64 if dtype in (np.int32, np.float64) else np.float32)
        np.testing.assert_allclose(got, want, **_tolerance(got.dtype))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_pool_geometry_random(data):
    rank = data.draw(st.integers(1, 3))
    shape = tuple(data.draw(st.lists(st.integers(1, 9), min_size=rank, max_size=rank)))
    size = tuple(data.draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    dilation = tuple(data.draw(st.lists(st.integers(1, 2), min_size=rank, max_size=rank)))
    stride = tuple(data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
    padding = tuple((data.draw(st.integers(0, k // 2)), data.draw(st.integers(0, k // 2)))
                    for k in size)
    ceil_mode = data.draw(st.booleans())
    op = data.draw(st.sampled_from(["max", "min", "avg", "lp"]))
    mode = data.draw(st.sampled_from(MODES))
    count_include_pad = data.draw(st.booleans()) if (op == "avg" and mode == "zero") else True
    p = data.draw(st.sampled_from([1, 2, 3, 0.5])) if op == "lp" else 2
    x = RNG.standard_normal(shape)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, op=op, ceil_mode=ceil_mode,
                  count_include_pad=count_include_pad, mode=mode, p=p)
    try:
        want, want_idx = ref_pool(x, size, **kwargs)
    except (ValueError, IndexError):
        want = None
    span_ok = all(n + lo + hi - d * (k - 1) - 1 >= 0
                  for n, k, d, (lo, hi) in zip(shape, size, dilation, padding))
    if not span_ok:
        with pytest.raises(ValueError, match="larger than the padded input"):
            ic.pool(x, size, **kwargs)
        return
    if op in ("max", "min"):
        got, idx = ic.pool(x, size, return_indices=True, **kwargs)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(idx, want_idx)
    else:
        got = ic.pool(x, size, **kwargs)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES + ["constant", "edge", "mirror", "circular"])
def test_modes_and_aliases(mode):
    x = RNG.standard_normal((7, 10)).astype(np.float32)
    for op in ("max", "avg"):
        got = ic.pool(x, 3, stride=2, padding=1, op=op, mode=mode)
        want, _ = ref_pool(x, 3, stride=2, padding=1, op=op, mode=mode)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_zero_mode_max_pads_with_minus_infinity():
    x = -np.ones((4, 4), np.float32)
    assert ic.max_pool(x, 3, stride=1, padding=1).max() == -1
    u = np.zeros((4, 4), np.uint8)
    assert ic.max_pool(u, 3, stride=1, padding=1).max() == 0
    assert ic.pool(u + 200, 3, stride=1, padding=1, op="min").min() == 200


def test_long_overlapping_windows_use_the_ladder():
    # stride-1 max over wide windows takes the log-step path: same result
    x = RNG.standard_normal((3, 200)).astype(np.float32)
    for k in (4, 7, 33, 64, 65, 120):
        want, _ = ref_pool(x, (1, k), stride=1)
        np.testing.assert_array_equal(ic.max_pool(x, (1, k), stride=1), want)
        want, _ = ref_pool(x, (1, k), stride=1, op="min")
        np.testing.assert_array_equal(ic.pool(x, (1, k), stride=1, op="min"), want)


def test_nan_propagates_and_wins_the_index():
    x = np.arange(16, dtype=np.float64).reshape(4, 4)
    x[0, 1] = np.nan
    x[1, 0] = np.nan
    values, idx = ic.max_pool(x, 2, return_indices=True)
    assert np.isnan(values[0, 0]) and idx[0, 0] == 4   # the last NaN in scan order
    assert values[1, 1] == 15 and idx[1, 1] == 15


def test_ties_take_the_first_index():
    x = np.ones((4, 4), np.int16)
    _, idx = ic.max_pool(x, 2, return_indices=True)
    np.testing.assert_array_equal(idx, [[0, 2], [8, 10]])


def test_bool_max_pool_stays_bool():
    x = RNG.random((8, 8)) > 0.8
    got = ic.max_pool(x, 2)
    assert got.dtype == bool
    np.testing.assert_array_equal(got, x.reshape(4, 2, 4, 2).any(axis=(1, 3)))
    got = ic.pool(x, 2, op="min")
    np.testing.assert_array_equal(got, x.reshape(4, 2, 4, 2).all(axis=(1, 3)))
    out = np.empty((4, 4), bool)
    assert ic.max_pool(x, 2, out=out) is out


def test_block_reduce_equivalence():
    x = RNG.standard_normal((12, 18)).astype(np.float32)
    np.testing.assert_array_equal(ic.max_pool(x, (3, 2)), x.reshape(4, 3, 9, 2).max(axis=(1, 3)))
    np.testing.assert_allclose(ic.avg_pool(x, (3, 2)), x.reshape(4, 3, 9, 2).mean(axis=(1, 3)),
                               rtol=1e-5, atol=1e-6)


def test_channels_axes_and_batches():
    x = RNG.standard_normal((6, 8, 3)).astype(np.float32)
    got = ic.max_pool(x, 2, channel_axis=-1)
    assert got.shape == (3, 4, 3)
    for c in range(3):
        np.testing.assert_array_equal(got[..., c], ic.max_pool(x[..., c], 2))
    stack = RNG.standard_normal((4, 6, 8)).astype(np.float32)
    got, idx = ic.max_pool(stack, 2, axes=(1, 2), return_indices=True)
    for i in range(4):
        v, j = ic.max_pool(stack[i], 2, return_indices=True)
        np.testing.assert_array_equal(got[i], v)
        np.testing.assert_array_equal(idx[i], j)


@pytest.mark.parametrize("op", ["max", "avg"])
def test_layouts_give_identical_results(op):
    x = RNG.standard_normal((9, 12)).astype(np.float32)
    want = ic.pool(x, 3, stride=2, padding=1, op=op)
    for name, variant in layouts(x):
        before = variant.copy()
        np.testing.assert_array_equal(ic.pool(variant, 3, stride=2, padding=1, op=op), want,
                                      err_msg=name)
        np.testing.assert_array_equal(variant, before)


def test_dtype_and_out():
    x = RNG.standard_normal((8, 8)).astype(np.float32) * 300
    got = ic.max_pool(x, 2, dtype=np.uint8)
    np.testing.assert_array_equal(got, np.clip(np.rint(ic.max_pool(x, 2)), 0, 255).astype(np.uint8))
    got = ic.avg_pool(x, 2, dtype=np.int16)
    np.testing.assert_array_equal(got, np.rint(ic.avg_pool(x, 2)).astype(np.int16))
    out = np.empty((4, 4), np.float32)
    assert ic.avg_pool(x, 2, out=out) is out
    out64 = np.empty((4, 4), np.float64)
    assert ic.max_pool(x, 2, out=out64) is out64
    np.testing.assert_array_equal(out64, ic.max_pool(x, 2))
    with pytest.raises(ValueError, match="out has shape"):
        ic.max_pool(x, 2, out=np.empty((3, 4), np.float32))
    with pytest.raises(ValueError, match="overlaps"):
        ic.max_pool(x, (1, 1), out=x)


def test_threads_do_not_change_the_result():
    x = RNG.standard_normal((40, 50, 30)).astype(np.float32)
    for op in ("max", "avg", "lp"):
        np.testing.assert_array_equal(ic.pool(x, 3, stride=2, op=op, threads=1),
                                      ic.pool(x, 3, stride=2, op=op))


# --------------------------------------------------------------------------
# Against torch
# --------------------------------------------------------------------------
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_max_pool_matches_torch(rank, ceil_mode):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    shape = (2, 3) + (9, 10, 7)[:rank]
    x = RNG.standard_normal(shape).astype(np.float32)
    fn = getattr(F, f"max_pool{rank}d")
    for k, s, pad, d in [(2, 2, 0, 1), (3, 2, 1, 1), (3, 1, 1, 2), (2, 3, 1, 1)]:
        want, widx = fn(torch.from_numpy(x), k, s, pad, d, ceil_mode=ceil_mode,
                        return_indices=True)
        got, idx = ic.max_pool(x, k, stride=s, padding=pad, dilation=d, ceil_mode=ceil_mode,
                               axes=tuple(range(2, 2 + rank)), return_indices=True)
        np.testing.assert_array_equal(got, want.numpy())
        np.testing.assert_array_equal(idx, widx.numpy())


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("count_include_pad", [False, True])
def test_avg_pool_matches_torch(rank, ceil_mode, count_include_pad):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    shape = (2, 3) + (9, 10, 7)[:rank]
    x = RNG.standard_normal(shape).astype(np.float32)
    fn = getattr(F, f"avg_pool{rank}d")
    for k, s, pad in [(2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 3, 1)]:
        want = fn(torch.from_numpy(x), k, s, pad, ceil_mode=ceil_mode,
                  count_include_pad=count_include_pad)
        got = ic.avg_pool(x, k, stride=s, padding=pad, ceil_mode=ceil_mode,
                          count_include_pad=count_include_pad, axes=tuple(range(2, 2 + rank)))
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_lp_pool_matches_torch_on_non_negative_input(p):
    torch = pytest.importorskip("torch")
    x = RNG.random((2, 3, 10, 9)).astype(np.float32)
    want = torch.nn.functional.lp_pool2d(torch.from_numpy(x), p, 3, 2)
    got = ic.pool(x, 3, stride=2, op="lp", p=p, axes=(2, 3))
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(size=0), ValueError, "size must be >= 1"),
    (dict(size=2, stride=0), ValueError, "stride must be >= 1"),
    (dict(size=2, dilation=0), ValueError, "dilation must be >= 1"),
    (dict(size=3, padding=2), ValueError, "more than half the window"),
    (dict(size=2, padding=-1), ValueError, "padding must be >= 0"),
    (dict(size=2, padding="same"), TypeError, "padding must be an int"),
    (dict(size=2, op="median"), ValueError, "op must be one of"),
    (dict(size=2, op="lp", p=0), ValueError, "p must be a finite number > 0"),
    (dict(size=2, op="lp", p=-1), ValueError, "p must be"),
    (dict(size=2, op="max", p=3), ValueError, "p=3 only applies to op='lp'"),
    (dict(size=2, op="max", count_include_pad=False), ValueError, "count_include_pad=False"),
    (dict(size=2, op="avg", count_include_pad=False, mode="reflect"), ValueError,
     "count_include_pad=False only applies with mode='zero'"),
    (dict(size=2, op="avg", return_indices=True), ValueError, "return_indices"),
    (dict(size=2, mode="bogus"), ValueError, "mode must be one of"),
    (dict(size=(2, 2, 2)), ValueError, "size needs 2 values"),
    (dict(size=9), ValueError, "larger than the padded input"),
    (dict(size=2, ceil_mode="yes"), TypeError, "ceil_mode"),
    (dict(size=2, ceil_mode=np.array([1, 1])), TypeError, "ceil_mode must be True or False"),
    (dict(size=2, op="avg", count_include_pad=np.array([0, 1])), TypeError,
     "count_include_pad must be True or False"),
    (dict(size=2, return_indices=np.array([1])), TypeError, "return_indices must be True"),
    (dict(size=2, dtype=np.complex64), TypeError, "dtype"),
    # beyond 2**28: a clear error, not an OverflowError, minutes of work or a
    # table of gigabytes
    (dict(size=2, stride=2 ** 63), ValueError, "stride must be at most 2\\*\\*28"),
    (dict(size=1, dilation=2 ** 64), ValueError, "dilation must be at most 2\\*\\*28"),
    (dict(size=(1, 2 ** 28 + 1), padding=(0, 2 ** 27)), ValueError, "size must be at most"),
    (dict(size=(1, 2 ** 27 + 1), dilation=(1, 3), padding=(0, 2 ** 26)), ValueError,
     "size=134217729 with dilation=3 makes a kernel"),
])
def test_bad_arguments(kwargs, error, match):
    x = np.zeros((5, 6), np.float32)
    size = kwargs.pop("size")
    with pytest.raises(error, match=match):
        ic.pool(x, size, **kwargs)


def test_window_counts_without_a_table():
    """count_include_pad's counts against a table of every window position."""
    rng = np.random.default_rng(5)
    for _ in range(300):
        n, k, s, d = (int(v) for v in rng.integers(1, 9, 4))
        lo, hi = (int(v) for v in rng.integers(0, k // 2 + 1, 2))
        if n + lo + hi < d * (k - 1) + 1:
            continue
        geom = v.pool_geometry((n,), k, s, ((lo, hi),), d, bool(rng.integers(2)))
        m = geom.out_shape[0]
        positions = np.arange(m)[:, None] * s + np.arange(k)[None, :] * d
        for include in (True, False):
            inside = positions < n + lo + hi
            if not include:
                inside &= (positions >= lo) & (positions < lo + n)
            got = v.window_counts(geom, (n,), include)[0]
            np.testing.assert_array_equal(got, inside.sum(axis=1), err_msg=str((n, k, s, d, lo, hi)))


def test_long_windows_on_a_small_input():
    # a window of 2**20 + 1 cells, half of it padding on each side: the
    # averages count only the input's 16 samples
    x = RNG.random((3, 16)).astype(np.float32)
    got = ic.avg_pool(x, (1, 2 ** 20 + 1), stride=1, padding=(0, 2 ** 19), count_include_pad=False)
    np.testing.assert_allclose(got, np.broadcast_to(x.mean(axis=1, keepdims=True), (3, 16)),
                               rtol=1e-5)


def test_bad_inputs():
    with pytest.raises(TypeError, match="unsupported dtype"):
        ic.max_pool(np.zeros((4, 4), np.complex64), 2)
    with pytest.raises(ValueError, match="padding"):
        ic.max_pool(np.zeros((0, 4), np.float32), 2, padding=2)   # checked on empty axes too
    x = RNG.random((4, 4)).astype(np.float32)
    try:
        import dask.array  # noqa: F401
    except ImportError:     # the dask backend says what to install
        with pytest.raises(ImportError, match="dask"):
            ic.max_pool(x, 2, backend="dask")
    else:                   # a numpy input runs chunked, lazily
        np.testing.assert_array_equal(ic.max_pool(x, 2, backend="dask", chunks=2).compute(),
                                      ic.max_pool(x, 2))


@pytest.mark.parametrize("dtype", [np.int8, np.float16, np.uint32, np.int64, ">f4", "<i2"])
def test_max_min_keep_other_dtypes(dtype):
    x = (RNG.standard_normal((6, 8)) * 100).astype(dtype)
    for op, reduce in (("max", np.max), ("min", np.min)):
        got = ic.pool(x, 2, op=op)
        assert got.dtype == np.dtype(dtype).newbyteorder("=")
        np.testing.assert_array_equal(got, reduce(x.reshape(3, 2, 4, 2), axis=(1, 3)))
        # into an out of the input's own dtype
        out = np.empty((3, 4), np.dtype(dtype).newbyteorder("="))
        assert ic.pool(x, 2, op=op, out=out) is out
        np.testing.assert_array_equal(out, got)


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_max_min_of_64_bit_integers_are_exact(dtype):
    # values float64 cannot tell apart: the kernels take 64-bit integers as
    # they are, so values and indices are exact
    info = np.iinfo(dtype)
    rng = np.random.default_rng(12)
    x = (int(info.max) - rng.permutation(5 * 7 * 4).reshape(5, 7, 4).astype(object)).astype(dtype)
    x[0, 0, 0] = info.min
    assert len(np.unique(x.astype(np.float64))) < x.size
    for op, reduce, arg in (("max", np.max, np.argmax), ("min", np.min, np.argmin)):
        got, where = ic.pool(x, (2, 3, 2), op=op, stride=(2, 2, 1), return_indices=True)
        assert got.dtype == dtype
        # windows of the flat indices, reduced exactly in the input's dtype
        flat = np.arange(x.size).reshape(x.shape)
        view = lambda a: np.lib.stride_tricks.sliding_window_view(a, (2, 3, 2))[::2, ::2, ::1]
        windows, cells = view(x), view(flat)
        want = reduce(windows, axis=(3, 4, 5))
        first = arg(windows.reshape(windows.shape[:3] + (-1,)), axis=-1)
        want_idx = np.take_along_axis(cells.reshape(cells.shape[:3] + (-1,)), first[..., None],
                                      axis=-1)[..., 0]
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(where, want_idx)

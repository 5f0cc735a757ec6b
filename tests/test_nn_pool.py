"""imgconv.nn pooling against plain numpy float64 references written from
torch's definitions (so a machine without torch still checks them), and
against torch.nn.functional where torch is installed."""
import doctest
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from imgconv import nn
from strategies import per_axis

RNG = np.random.default_rng(2024)


# --------------------------------------------------------------------------
# References: one (n, c) plane at a time, one output at a time
# --------------------------------------------------------------------------
def _planes(x, rank):
    """x as (planes, *spatial) float64, and the leading shape to restore."""
    lead = x.shape[:x.ndim - rank]
    return x.reshape((-1,) + x.shape[x.ndim - rank:]).astype(np.float64), lead


def ref_output_length(n, k, s, p, d, ceil_mode):
    """torch's docs: floor or ceil of (n + 2p - d(k-1) - 1) / s, plus one;
    in ceil mode the last window must start inside the input or left padding."""
    quotient = (n + 2 * p - d * (k - 1) - 1) / s
    m = (math.ceil(quotient) if ceil_mode else math.floor(quotient)) + 1
    if ceil_mode and (m - 1) * s >= n + p:
        m -= 1
    return m


def ref_max_pool(x, rank, k, s, p, d, ceil_mode):
    """(values, indices) as torch's CPU loop: the maximum starts at -inf with
    the window's first input sample as its index; a greater value or a NaN
    takes over.  A dilated window can miss the input altogether: -inf and
    index -1 then (torch gives an index past the plane)."""
    planes, lead = _planes(x, rank)
    spatial = planes.shape[1:]
    out_shape = tuple(ref_output_length(*a, ceil_mode) for a in zip(spatial, k, s, p, d))
    values = np.empty((len(planes),) + out_shape)
    indices = np.empty(values.shape, np.int64)
    for plane, o in itertools.product(range(len(planes)), np.ndindex(*out_shape)):
        taps = [[oa * sa - pa + t * da for t in range(ka)] for oa, sa, pa, da, ka in
                zip(o, s, p, d, k)]
        taps = [[q for q in axis_taps if 0 <= q < n] for axis_taps, n in zip(taps, spatial)]
        if not all(taps):
            values[(plane,) + o], indices[(plane,) + o] = -np.inf, -1
            continue
        best, where = -np.inf, np.ravel_multi_index([t[0] for t in taps], spatial)
        for cell in itertools.product(*taps):
            val = planes[(plane,) + cell]
            if val > best or np.isnan(val):
                best, where = val, np.ravel_multi_index(cell, spatial)
        values[(plane,) + o], indices[(plane,) + o] = best, where
    return values.reshape(lead + out_shape), indices.reshape(lead + out_shape)


def ref_avg_pool(x, rank, k, s, p, ceil_mode, count_include_pad=True, divisor_override=None):
    """torch's CPU loop: the window's end is cut at the padded input's end,
    its divisor counts the padding (count_include_pad) or not."""
    planes, lead = _planes(x, rank)
    spatial = planes.shape[1:]
    out_shape = tuple(ref_output_length(n, ka, sa, pa, 1, ceil_mode)
                      for n, ka, sa, pa in zip(spatial, k, s, p))
    values = np.empty((len(planes),) + out_shape)
    for plane, o in itertools.product(range(len(planes)), np.ndindex(*out_shape)):
        starts = [oa * sa - pa for oa, sa, pa in zip(o, s, p)]
        ends = [min(st_ + ka, n + pa) for st_, ka, n, pa in zip(starts, k, spatial, p)]
        padded_count = math.prod(e - b for b, e in zip(starts, ends))
        starts = [max(b, 0) for b in starts]
        ends = [min(e, n) for e, n in zip(ends, spatial)]
        box = tuple(slice(b, e) for b, e in zip(starts, ends))
        total = planes[(plane,) + box].sum()
        if divisor_override is not None:
            divisor = divisor_override
        elif count_include_pad:
            divisor = padded_count
        else:
            divisor = math.prod(e - b for b, e in zip(starts, ends))
        values[(plane,) + o] = total / divisor
    return values.reshape(lead + out_shape)


def ref_lp_pool(x, rank, norm_type, k, s, ceil_mode):
    """torch's formula: the average of x**p (no padding) times the window size,
    then the 1/p power; inf: max |x|, -inf: minus the max of -|x|."""
    if norm_type == np.inf:
        return ref_max_pool(np.abs(x), rank, k, s, (0,) * rank, (1,) * rank, ceil_mode)[0]
    if norm_type == -np.inf:
        return -ref_max_pool(-np.abs(x), rank, k, s, (0,) * rank, (1,) * rank, ceil_mode)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = ref_avg_pool(np.power(x.astype(np.float64), norm_type), rank, k, s, (0,) * rank,
                            ceil_mode)
        return np.power(mean * math.prod(k), 1.0 / norm_type)


def ref_adaptive(x, rank, out_shape, op):
    """(values, indices): window i of an axis of n samples cut into m covers
    [floor(i*n/m), ceil((i+1)*n/m)); max as torch's loop (first maximum,
    last NaN)."""
    planes, lead = _planes(x, rank)
    spatial = planes.shape[1:]
    values = np.empty((len(planes),) + tuple(out_shape))
    indices = np.empty(values.shape, np.int64)
    for plane, o in itertools.product(range(len(planes)), np.ndindex(*out_shape)):
        ranges = [range(math.floor(i * n / m), math.ceil((i + 1) * n / m))
                  for i, n, m in zip(o, spatial, out_shape)]
        cells = list(itertools.product(*ranges))
        if op == "avg":
            values[(plane,) + o] = sum(planes[(plane,) + c] for c in cells) / len(cells)
            continue
        best, where = -np.inf, np.ravel_multi_index(cells[0], spatial)
        for cell in cells:
            val = planes[(plane,) + cell]
            if val > best or np.isnan(val):
                best, where = val, np.ravel_multi_index(cell, spatial)
        values[(plane,) + o], indices[(plane,) + o] = best, where
    shape = lead + tuple(out_shape)
    return values.reshape(shape), indices.reshape(shape)


def torch_functional():
    torch = pytest.importorskip("torch")
    return torch, torch.nn.functional


def _input(rank, batched, data=None, dtype=np.float64, nan=False):
    if data is None:
        shape = ((2, 3) if batched else (3,)) + tuple(RNG.integers(1, 8, rank))
    else:
        lead = (data.draw(st.integers(1, 2), label="N"),) if batched else ()
        shape = lead + (data.draw(st.integers(1, 3), label="C"),) + per_axis(
            data, rank, 1, 9, "spatial")
    x = RNG.standard_normal(shape)
    if nan:
        x[RNG.random(shape) < 0.1] = np.nan
        x[RNG.random(shape) < 0.1] = -np.inf
    return x.astype(dtype)


def _draw_windows(data, rank, spatial, dilated, padded=True):
    """kernel_size, stride, padding, dilation that give at least one output
    (a window too large for its axis is shrunk to fit)."""
    k = per_axis(data, rank, 1, 4, "kernel_size")
    s = per_axis(data, rank, 1, 3, "stride")
    d = per_axis(data, rank, 1, 3, "dilation") if dilated else (1,) * rank
    p = tuple(data.draw(st.integers(0, ka // 2 if padded else 0), label="padding") for ka in k)
    fits = [n + 2 * pa - da * (ka - 1) - 1 >= 0 for n, ka, pa, da in zip(spatial, k, p, d)]
    k = tuple(ka if ok else min(ka, n) for ka, n, ok in zip(k, spatial, fits))
    d = tuple(da if ok else 1 for da, ok in zip(d, fits))
    p = tuple(min(pa, ka // 2) for pa, ka in zip(p, k))
    return k, s, p, d


MAX_POOLS = {1: nn.max_pool1d, 2: nn.max_pool2d, 3: nn.max_pool3d}
AVG_POOLS = {1: nn.avg_pool1d, 2: nn.avg_pool2d, 3: nn.avg_pool3d}
LP_POOLS = {1: nn.lp_pool1d, 2: nn.lp_pool2d, 3: nn.lp_pool3d}
ADAPTIVE_AVG = {1: nn.adaptive_avg_pool1d, 2: nn.adaptive_avg_pool2d, 3: nn.adaptive_avg_pool3d}
ADAPTIVE_MAX = {1: nn.adaptive_max_pool1d, 2: nn.adaptive_max_pool2d, 3: nn.adaptive_max_pool3d}


# --------------------------------------------------------------------------
# Max pooling
# --------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_max_pool_matches_reference(data):
    rank = data.draw(st.integers(1, 3), label="rank")
    batched = data.draw(st.booleans(), label="batched")
    x = _input(rank, batched, data, nan=data.draw(st.booleans(), label="nan"))
    k, s, p, d = _draw_windows(data, rank, x.shape[-rank:], dilated=True)
    ceil_mode = data.draw(st.booleans(), label="ceil_mode")
    values, indices = MAX_POOLS[rank](x, k, s, p, d, ceil_mode, return_indices=True)
    want_values, want_indices = ref_max_pool(x, rank, k, s, p, d, ceil_mode)
    np.testing.assert_array_equal(values, want_values)
    np.testing.assert_array_equal(indices, want_indices)
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(MAX_POOLS[rank](x, k, s, p, d, ceil_mode), want_values)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_max_pool_matches_torch(data):
    torch, F = torch_functional()
    rank = data.draw(st.integers(1, 3), label="rank")
    batched = data.draw(st.booleans(), label="batched")
    x = _input(rank, batched, data, dtype=np.float32, nan=data.draw(st.booleans(), label="nan"))
    k, s, p, d = _draw_windows(data, rank, x.shape[-rank:], dilated=True)
    ceil_mode = data.draw(st.booleans(), label="ceil_mode")
    values, indices = MAX_POOLS[rank](x, k, s, p, d, ceil_mode, return_indices=True)
    torch_pool = getattr(F, f"max_pool{rank}d")
    want_values, want_indices = torch_pool(torch.from_numpy(x), k, s, p, d, ceil_mode,
                                           return_indices=True)
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, want_values.numpy())
    # (a window that misses the input: -inf, and torch's index lies past the plane)
    missed = indices == -1
    np.testing.assert_array_equal(indices[~missed], want_indices.numpy()[~missed])
    assert np.all(values[missed] == -np.inf)


def test_max_pool_ties_and_infinities_as_torch():
    # every window -inf: the index is the window's first input sample;
    # NaN wins (the last one); equal maxima: the first in scan order
    x = np.full((1, 1, 5, 6), -np.inf)
    x[0, 0, 3, 4] = x[0, 0, 4, 5] = np.nan
    x[0, 0, 0, 4:] = 2.0
    values, indices = nn.max_pool2d(x, 3, stride=1, padding=1, return_indices=True)
    want_values, want_indices = ref_max_pool(x, 2, (3, 3), (1, 1), (1, 1), (1, 1), False)
    np.testing.assert_array_equal(values, want_values)
    np.testing.assert_array_equal(indices, want_indices)
    assert indices[0, 0, 0, 0] == 0           # all -inf: first input sample
    assert indices[0, 0, 0, 4] == 4           # 2.0 twice: the first
    assert indices[0, 0, 4, 4] == 4 * 6 + 5   # two NaNs: the last


# --------------------------------------------------------------------------
# Average pooling
# --------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_avg_pool_matches_reference(data):
    rank = data.draw(st.integers(1, 3), label="rank")
    batched = data.draw(st.booleans(), label="batched")
    x = _input(rank, batched, data)
    k, s, p, _ = _draw_windows(data, rank, x.shape[-rank:], dilated=False)
    ceil_mode = data.draw(st.booleans(), label="ceil_mode")
    count_include_pad = data.draw(st.booleans(), label="count_include_pad")
    divisor = data.draw(st.sampled_from([None, 1, 3, -2]), label="divisor") if rank > 1 else None
    kwargs = {} if divisor is None else {"divisor_override": divisor}
    got = AVG_POOLS[rank](x, k, s, p, ceil_mode, count_include_pad, **kwargs)
    want = ref_avg_pool(x, rank, k, s, p, ceil_mode, count_include_pad, divisor)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_avg_pool_matches_torch(data):
    torch, F = torch_functional()
    rank = data.draw(st.integers(1, 3), label="rank")
    batched = data.draw(st.booleans(), label="batched")
    x = _input(rank, batched, data, dtype=np.float32)
    k, s, p, _ = _draw_windows(data, rank, x.shape[-rank:], dilated=False)
    ceil_mode = data.draw(st.booleans(), label="ceil_mode")
    count_include_pad = data.draw(st.booleans(), label="count_include_pad")
    args = (k, s, p, ceil_mode, count_include_pad)
    if rank == 3 and any(n < ka for n, ka in zip(x.shape[-3:], k)):
        # torch's avg_pool3d (only) refuses inputs smaller than the window,
        # padding or not; ours pools them as avg_pool2d does (the reference
        # test covers them)
        with pytest.raises(RuntimeError, match="smaller than kernel size"):
            F.avg_pool3d(torch.from_numpy(x), *args)
        return
    if rank > 1:
        args += (data.draw(st.sampled_from([None, 1, 5]), label="divisor"),)
    got = AVG_POOLS[rank](x, *args)
    want = getattr(F, f"avg_pool{rank}d")(torch.from_numpy(x), *args).numpy()
    assert got.dtype == np.float32
    # float32 sums in another order than torch's: rounding grows with the window
    cells = int(np.prod(np.broadcast_to(k, (rank,))))
    scale = float(np.abs(x).max(initial=0.0))
    np.testing.assert_allclose(got, want, rtol=2e-6,
                               atol=4 * np.finfo(np.float32).eps * cells * max(scale, 1.0))


# --------------------------------------------------------------------------
# Lp pooling
# --------------------------------------------------------------------------
NORMS = [1, 2, 3, 1.5, 0.5, -1, np.inf, -np.inf]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_lp_pool_matches_reference(data):
    rank = data.draw(st.integers(1, 3), label="rank")
    batched = data.draw(st.booleans(), label="batched")
    x = _input(rank, batched, data)
    if data.draw(st.booleans(), label="positive"):
        x = np.abs(x)
    norm_type = data.draw(st.sampled_from(NORMS), label="norm_type")
    k, s, _, _ = _draw_windows(data, rank, x.shape[-rank:], dilated=False, padded=False)
    ceil_mode = data.draw(st.booleans(), label="ceil_mode")
    k_arg = k[0] if rank == 1 else k        # torch's lp_pool1d takes an int
    got = LP_POOLS[rank](x, norm_type, k_arg, s, ceil_mode)
    want = ref_lp_pool(x, rank, norm_type, k, s, ceil_mode)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, equal_nan=True)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_lp_pool_matches_torch(data):
    torch, F = torch_functional()
    rank = data.draw(st.integers(1, 3), label="rank")
    batched = data.draw(st.booleans(), label="batched")
    x = _input(rank, batched, data, dtype=np.float32)
    norm_type = data.draw(st.sampled_from(NORMS), label="norm_type")
    k, s, _, _ = _draw_windows(data, rank, x.shape[-rank:], dilated=False, padded=False)
    ceil_mode = data.draw(st.booleans(), label="ceil_mode")
    k_arg = k[0] if rank == 1 else k
    got = LP_POOLS[rank](x, norm_type, k_arg, s, ceil_mode)
    want = getattr(F, f"lp_pool{rank}d")(torch.from_numpy(x), norm_type, k_arg, s,
                                         ceil_mode).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    # a power average of mixed signs cancels (p = -1: 1 / sum(1/x)), so
    # float32 sums in two orders differ relative to the terms, not to the
    # result: the tolerance follows the window's largest term
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        terms = np.abs(x.astype(np.float64)) ** norm_type
    finite = terms[np.isfinite(terms)]
    spread = float(finite.max(initial=1.0)) * int(np.prod(np.broadcast_to(k, (rank,))))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        result_terms = np.abs(want.astype(np.float64)) ** norm_type
        # d(S**(1/p)) = |S**(1/p - 1) / p| dS with S = result**p
        slope = np.abs(np.where(np.isfinite(result_terms) & (result_terms > 0),
                                np.abs(want) / (np.abs(norm_type) * result_terms), 0.0))
    if np.isfinite(norm_type):
        atol = 1e-5 + 8 * np.finfo(np.float32).eps * spread * slope
    else:
        atol = 1e-5
    known = ~np.isnan(want)
    bound = np.broadcast_to(atol + 1e-5 * np.abs(want), want.shape)
    np.testing.assert_array_less(np.abs(got - want)[known], bound[known])


# --------------------------------------------------------------------------
# Adaptive pooling
# --------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_adaptive_pools_match_reference(data):
    rank = data.draw(st.integers(1, 3), label="rank")
    batched = data.draw(st.booleans(), label="batched")
    x = _input(rank, batched, data, nan=data.draw(st.booleans(), label="nan"))
    out_shape = per_axis(data, rank, 1, 10, "output_size")
    want_avg, _ = ref_adaptive(x, rank, out_shape, "avg")
    want_max, want_indices = ref_adaptive(x, rank, out_shape, "max")
    np.testing.assert_allclose(ADAPTIVE_AVG[rank](x, out_shape), want_avg, rtol=1e-12,
                               atol=1e-12, equal_nan=True)
    values, indices = ADAPTIVE_MAX[rank](x, out_shape, return_indices=True)
    np.testing.assert_array_equal(values, want_max)
    np.testing.assert_array_equal(indices, want_indices)
    np.testing.assert_array_equal(ADAPTIVE_MAX[rank](x, out_shape), want_max)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_adaptive_pools_match_torch(data):
    torch, F = torch_functional()
    rank = data.draw(st.integers(1, 3), label="rank")
    batched = data.draw(st.booleans(), label="batched")
    x = _input(rank, batched, data, dtype=np.float32, nan=data.draw(st.booleans(), label="nan"))
    out_shape = per_axis(data, rank, 1, 10, "output_size")
    t = torch.from_numpy(x)
    want = getattr(F, f"adaptive_avg_pool{rank}d")(t, out_shape).numpy()
    np.testing.assert_allclose(ADAPTIVE_AVG[rank](x, out_shape), want, rtol=2e-6, atol=1e-6,
                               equal_nan=True)
    want_values, want_indices = getattr(F, f"adaptive_max_pool{rank}d")(t, out_shape,
                                                                       return_indices=True)
    values, indices = ADAPTIVE_MAX[rank](x, out_shape, return_indices=True)
    np.testing.assert_array_equal(values, want_values.numpy())
    np.testing.assert_array_equal(indices, want_indices.numpy())


def test_adaptive_output_size_none_keeps_the_axis():
    x = _input(3, True)
    got = nn.adaptive_avg_pool3d(x, (None, 2, None))
    want, _ = ref_adaptive(x, 3, (x.shape[2], 2, x.shape[4]), "avg")
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert nn.adaptive_max_pool2d(x[0], None).shape == x[0].shape


def test_adaptive_divisible_sizes_use_equal_windows():
    # (the plain-pool path): 12 -> 4 and 12 -> 3 windows of 3 and 4
    x = RNG.standard_normal((2, 2, 12, 12))
    want_avg, _ = ref_adaptive(x, 2, (4, 3), "avg")
    want_max, want_indices = ref_adaptive(x, 2, (4, 3), "max")
    np.testing.assert_allclose(nn.adaptive_avg_pool2d(x, (4, 3)), want_avg, rtol=1e-12)
    values, indices = nn.adaptive_max_pool2d(x, (4, 3), return_indices=True)
    np.testing.assert_array_equal(values, want_max)
    np.testing.assert_array_equal(indices, want_indices)


# --------------------------------------------------------------------------
# Dtypes and layouts, for every function
# --------------------------------------------------------------------------
def _calls(rank):
    """(name, function of x) for every pool of ``rank`` spatial axes."""
    return [
        ("max", lambda x: MAX_POOLS[rank](x, 2, 1, 1, 2, True)),
        ("max_indices", lambda x: MAX_POOLS[rank](x, 3, 2, 1, return_indices=True)[1]),
        ("avg", lambda x: AVG_POOLS[rank](x, 3, 2, 1, True, False)),
        ("lp", lambda x: LP_POOLS[rank](np.abs(x), 2, 2, 1, True)),
        # (4 windows: unequal ones, on inputs of 7 or 9 samples per axis)
        ("adaptive_avg", lambda x: ADAPTIVE_AVG[rank](x, 4)),
        ("adaptive_max", lambda x: ADAPTIVE_MAX[rank](x, 4)),
        ("adaptive_max_indices", lambda x: ADAPTIVE_MAX[rank](x, 4, return_indices=True)[1]),
    ]


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_float16_is_computed_in_float32(rank):
    x = RNG.standard_normal((2, 3) + (7,) * rank).astype(np.float16)
    for name, call in _calls(rank):
        got = call(x)
        want = call(x.astype(np.float32))
        if name.endswith("indices"):
            np.testing.assert_array_equal(got, want)
            continue
        assert got.dtype == np.float16, name
        np.testing.assert_array_equal(got, want.astype(np.float16), err_msg=name)
        np.testing.assert_array_equal(call(x.astype(">f2")), got, err_msg=name)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_unbatched_big_endian_and_strided_inputs(rank):
    x = RNG.standard_normal((2, 3) + (9,) * rank)
    copy = x.copy()
    for name, call in _calls(rank):
        want = call(x)
        # unbatched (C, *spatial) gives each batch entry's result
        np.testing.assert_array_equal(call(x[1]), want[1], err_msg=name)
        np.testing.assert_array_equal(call(x.astype(">f8")), want, err_msg=name)
        strided = np.zeros((2, 6) + (18,) * rank)
        view = strided[(slice(None), slice(None, None, 2)) + (slice(None, None, 2),) * rank]
        view[...] = x
        np.testing.assert_array_equal(call(view), want, err_msg=name)
    np.testing.assert_array_equal(x, copy)     # never modified


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_empty_batch_and_one_sample(rank):
    x = np.zeros((0, 2) + (5,) * rank, np.float32)
    assert nn.max_pool1d(np.zeros((0, 2, 5)), 2).shape == (0, 2, 2)
    assert MAX_POOLS[rank](x, 2).shape == (0, 2) + (2,) * rank
    assert AVG_POOLS[rank](x, 2).shape == (0, 2) + (2,) * rank
    assert ADAPTIVE_AVG[rank](x, 3).shape == (0, 2) + (3,) * rank
    one = np.full((1, 1) + (1,) * rank, -3.5)
    for pool in (MAX_POOLS, AVG_POOLS):
        np.testing.assert_array_equal(pool[rank](one, 1), one)
    np.testing.assert_array_equal(MAX_POOLS[rank](one, 1, ceil_mode=True, return_indices=True)[1],
                                  np.zeros(one.shape, np.int64))
    np.testing.assert_array_equal(ADAPTIVE_MAX[rank](one, 1), one)
    np.testing.assert_array_equal(LP_POOLS[rank](-one, 2, 1), -one)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_, np.complex64, np.int64])
def test_other_dtypes_are_a_type_error(dtype):
    x = np.ones((1, 2, 4, 4), dtype)
    for call in (lambda: nn.max_pool2d(x, 2), lambda: nn.avg_pool2d(x, 2),
                 lambda: nn.lp_pool2d(x, 2, 2), lambda: nn.adaptive_avg_pool2d(x, 2),
                 lambda: nn.adaptive_max_pool2d(x, 3)):
        with pytest.raises(TypeError, match="float16, float32 or float64"):
            call()


# --------------------------------------------------------------------------
# Bad arguments: clear errors naming the argument
# --------------------------------------------------------------------------
X2 = np.zeros((1, 2, 6, 6), np.float32)


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.max_pool2d(X2, 2, padding=2), ValueError, "padding.*at most half of the kernel"),
    (lambda: nn.max_pool2d(X2, 2, padding=2, dilation=3), ValueError, "padding.*at most half"),
    (lambda: nn.avg_pool2d(X2, (3, 2), padding=(1, 2)), ValueError, "padding.*at most half"),
    (lambda: nn.max_pool2d(X2, 7), ValueError, "output size.*too small"),
    (lambda: nn.max_pool2d(X2, 3, dilation=3), ValueError, "output size.*too small"),
    (lambda: nn.avg_pool1d(np.zeros((1, 1, 3)), 4, padding=0), ValueError, "output size"),
    (lambda: nn.max_pool2d(X2, 0), ValueError, "kernel_size"),
    (lambda: nn.max_pool2d(X2, 2, stride=0), ValueError, "stride"),
    (lambda: nn.max_pool2d(X2, 2, padding=-1), ValueError, "padding"),
    (lambda: nn.max_pool2d(X2, 2, dilation=0), ValueError, "dilation"),
    (lambda: nn.max_pool2d(X2, (2, 2, 2)), ValueError, "kernel_size needs 2 values"),
    (lambda: nn.max_pool2d(X2, 2.5), TypeError, "kernel_size"),
    (lambda: nn.max_pool2d(X2, 2, ceil_mode="yes"), TypeError, "ceil_mode"),
    (lambda: nn.max_pool2d(X2, 2, return_indices=None), TypeError, "return_indices"),
    (lambda: nn.avg_pool2d(X2, 2, count_include_pad=2), TypeError, "count_include_pad"),
    (lambda: nn.avg_pool2d(X2, 2, divisor_override=0), ValueError, "divisor_override"),
    (lambda: nn.avg_pool3d(np.zeros((1, 2, 2, 2)), 2, divisor_override=1.5), TypeError,
     "divisor_override"),
    (lambda: nn.lp_pool2d(X2, 0, 2), ValueError, "norm_type"),
    (lambda: nn.lp_pool2d(X2, np.nan, 2), ValueError, "norm_type"),
    (lambda: nn.lp_pool2d(X2, "2", 2), TypeError, "norm_type"),
    (lambda: nn.adaptive_avg_pool2d(X2, 0), ValueError, "output_size.*at least 1"),
    (lambda: nn.adaptive_max_pool2d(X2, (3, -1)), ValueError, "output_size"),
    (lambda: nn.adaptive_avg_pool2d(X2, (3, 3, 3)), ValueError, "output_size needs 2"),
    (lambda: nn.adaptive_avg_pool2d(X2, 2.0), TypeError, "output_size"),
    (lambda: nn.max_pool2d(np.zeros((6, 6), np.float32), 2), ValueError,
     r"max_pool2d: input must have 3 dimensions \(C, H, W\) or 4"),
    (lambda: nn.avg_pool1d(np.zeros((1, 1, 2, 6)), 2), ValueError, "avg_pool1d: input must"),
    (lambda: nn.adaptive_avg_pool3d(np.zeros((1, 0, 2, 2, 2)), 1), ValueError, "non-zero"),
    (lambda: nn.max_pool2d(np.zeros((1, 2, 0, 4)), 1), ValueError, "non-zero"),
])
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_torch_rejects_what_we_reject():
    torch, F = torch_functional()
    t = torch.zeros(1, 2, 6, 6)
    for ours, theirs in [(lambda: nn.max_pool2d(X2, 2, padding=2, dilation=3),
                          lambda: F.max_pool2d(t, 2, padding=2, dilation=3)),
                         (lambda: nn.max_pool2d(X2, 7), lambda: F.max_pool2d(t, 7)),
                         (lambda: nn.avg_pool2d(X2, 2, divisor_override=0),
                          lambda: F.avg_pool2d(t, 2, divisor_override=0))]:
        with pytest.raises(ValueError):
            ours()
        with pytest.raises(RuntimeError):
            theirs()


def test_doctests():
    from imgconv.nn import _pool
    import imgconv.nn
    for module in (_pool, imgconv.nn):
        result = doctest.testmod(module,
                                 optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0

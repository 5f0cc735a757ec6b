"""The CUDA kernels (imgconv/cuda/kernels/*.cu) through their launch wrappers
(imgconv.cuda._kernels), against the compiled CPU kernels called with the
same arguments on the same 4D arrays.

They run in the simulator (IMGCONV_CUDA_SIMULATOR=1: the same .cu sources
built by the host C++ compiler), so the shapes stay small: one OS thread per
CUDA thread.  With IMGCONV_TEST_CUDA_DEVICE=1 they run on the GPU instead.
The last test compiles every kernel variant the wrappers can request to PTX
with NVRTC.
"""
import collections
import os
import shutil

import numpy as np
import pytest

from imgconv import _validate as v
from imgconv._backend import footprint_runs
from imgconv._dispatch import kernels as cpu
from imgconv.cuda import _kernels as gpu
from imgconv.cuda import _runtime

ON_DEVICE = os.environ.get("IMGCONV_TEST_CUDA_DEVICE") == "1"
RNG = np.random.default_rng(1919)
MODES = tuple(v.MODE_CODES.values())
FILTER_DTYPES = [np.dtype(t) for t in ("uint8", "uint16", "int16", "int32", "float32",
                                       "float64")]
EXTREME_DTYPES = FILTER_DTYPES + [np.dtype("int64"), np.dtype("uint64")]
CODE = v.EXTREME_DTYPE_CODES

pytestmark = pytest.mark.skipif(not ON_DEVICE and shutil.which(os.environ.get("CXX", "g++"))
                                is None, reason="the simulator needs a C++ compiler")


@pytest.fixture(autouse=True)
def cuda_world(monkeypatch):
    """The simulator (unless the tests are asked to run on the GPU), with a
    fresh availability answer."""
    if not ON_DEVICE:
        monkeypatch.setenv(_runtime.SIMULATOR_VARIABLE, "1")
    monkeypatch.setattr(_runtime, "_availability", {})


def to_device(a):
    return _runtime.xp().asarray(a)


def to_host(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def random_array(shape, dtype):
    """Random values spanning much of an integer dtype's range, or normal floats."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return (RNG.standard_normal(shape) * 20).astype(dtype)
    info = np.iinfo(dtype)
    lo, hi = max(info.min, -10**6), min(info.max, 10**6)
    if dtype.itemsize == 8:
        # the exact 64-bit kernels: values beyond float64's integers too
        lo, hi = (info.min, info.max) if dtype.kind == "i" else (2**63, info.max)
        return RNG.integers(lo, hi, size=shape, dtype=dtype, endpoint=True)
    return RNG.integers(lo, hi, size=shape, endpoint=True).astype(dtype)


def strided_view(a, kind):
    """``a`` itself, or a non-contiguous view of a bigger array with the same
    values (every other element along some axes, or x reversed)."""
    if kind == "contiguous":
        return a
    if kind == "sliced":
        big = np.zeros((a.shape[0], 2 * a.shape[1], a.shape[2], 3 * a.shape[3]), a.dtype)
        view = big[:, ::2, :, 1::3]
        view[...] = a
        return view
    big = np.zeros(a.shape[:3] + (a.shape[3] + 2,), a.dtype)
    view = big[..., 1:-1][..., ::-1]
    view[...] = a
    return view


def device_view(a, kind):
    """``strided_view`` of ``a`` on the device (the simulator's device is numpy)."""
    host = strided_view(a, kind)
    if not ON_DEVICE:
        return host
    base = to_device(host.base if host.base is not None else host)
    if host.base is None:
        return base
    if kind == "sliced":
        return base[:, ::2, :, 1::3]
    return base[..., 1:-1][..., ::-1]


def assert_matches(got, expected, dtype, compute=np.float32, scale=1.0):
    """Equal to float rounding: integer outputs may differ by one where the
    exact value sits at a rounding tie."""
    got = to_host(got)
    if np.dtype(dtype).kind in "iu":
        diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
        assert diff.max(initial=0) <= 1, diff.max()
        return
    tol = (2e-5 if compute == np.float32 else 1e-12) * max(scale, 1.0)
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def output_size(n, k, stride, dilation, pad_lo, pad_hi):
    return (n + pad_lo + pad_hi - dilation * (k - 1) - 1) // stride + 1


# --------------------------------------------------------------------------
# correlate
# --------------------------------------------------------------------------
def run_correlate(x, weights, xweights=None, stride=(1, 1, 1), dilation=(1, 1, 1),
                  pad_lo=None, pad_hi=None, mode=2, cval=0.0, out_dtype=None, layout="contiguous"):
    """The CPU's and the GPU's correlate of the same arguments, and the output dtype."""
    compute = weights.dtype
    out_dtype = np.dtype(out_dtype or compute)
    if xweights is None:
        xweights = np.zeros(0, compute)
    extents = list(weights.shape)
    if xweights.size:
        extents[2] = xweights.size
    if pad_lo is None:
        pad_lo = tuple(d * (k // 2) for k, d in zip(extents, dilation))
    if pad_hi is None:
        pad_hi = tuple(d * (k - 1) - p for k, d, p in zip(extents, dilation, pad_lo))
    out_shape = (x.shape[0],) + tuple(
        output_size(n, k, s, d, lo, hi)
        for n, k, s, d, lo, hi in zip(x.shape[1:], extents, stride, dilation, pad_lo, pad_hi))
    expected = np.full(out_shape, 7, out_dtype)
    cpu.correlate(x, expected, weights, xweights, stride, dilation, pad_lo, mode, cval,
                  CODE[x.dtype], CODE[out_dtype], 1)
    got = device_view(np.full(out_shape, 3, out_dtype), layout)
    gpu.correlate(device_view(x, layout), got, weights, xweights, stride, dilation, pad_lo,
                  mode, cval, CODE[x.dtype], CODE[out_dtype])
    scale = float(np.abs(weights).sum() * max(1.0, np.abs(x.astype(np.float64)).max(initial=0),
                                              abs(cval)))
    if xweights.size:
        scale *= float(np.abs(xweights).sum())
    return got, expected, out_dtype, scale


def weights_of(shape, compute=np.float32):
    return RNG.standard_normal(shape).astype(compute)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x_shape, k_shape", [
    ((1, 1, 1, 1), (3, 3, 3)),          # one voxel, kernel larger than the image
    ((1, 1, 3, 5), (1, 3, 3)),          # a 3x5 image
    ((2, 4, 6, 5), (3, 3, 3)),          # batch of volumes
    ((1, 4, 6, 5), (2, 4, 3)),          # even extents
    ((1, 3, 2, 3), (7, 7, 7)),          # the largest tiled kernel, larger than the image
    ((1, 1, 1, 9), (1, 1, 5)),          # 1D
    ((1, 3, 9, 20), (5, 1, 1)),         # a depth pass, tile wider than one block
    ((1, 2, 3, 4), (1, 1, 11)),         # x extent past the unrolled variants
    ((1, 2, 9, 37), (2, 9, 1)),         # taller than a block's rows
    ((1, 1, 12, 40), (1, 13, 17)),      # a large 2D kernel
    ((2, 21, 2, 3), (7, 2, 3)),         # several z chunks per (batch, tile)
])
def test_correlate_tiled_path_matches_cpu(mode, x_shape, k_shape):
    weights = weights_of(k_shape)
    assert gpu.uses_tiled_path(weights, np.zeros(0, np.float32), (1, 1, 1), (1, 1, 1),
                               CODE[np.dtype(np.float32)])
    x = random_array(x_shape, np.float32)
    got, expected, dtype, scale = run_correlate(x, weights, mode=mode, cval=1.5)
    assert_matches(got, expected, dtype, scale=scale)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x_shape, k_shape, stride, dilation", [
    ((1, 1, 1, 1), (3, 3, 3), (1, 1, 1), (2, 2, 2)),
    ((1, 1, 3, 5), (1, 3, 3), (1, 2, 2), (1, 1, 1)),
    ((2, 4, 6, 5), (3, 2, 3), (2, 1, 3), (1, 2, 1)),
    ((1, 3, 4, 5), (9, 1, 1), (1, 1, 1), (1, 1, 1)),    # extent past the tiled path
    ((1, 2, 3, 4), (1, 1, 11), (1, 1, 1), (1, 1, 2)),   # far wider than the image
])
def test_correlate_general_path_matches_cpu(mode, x_shape, k_shape, stride, dilation):
    weights = weights_of(k_shape)
    assert not gpu.uses_tiled_path(weights, np.zeros(0, np.float32), stride, dilation, 4)
    x = random_array(x_shape, np.float32)
    got, expected, dtype, scale = run_correlate(x, weights, stride=stride, dilation=dilation,
                                                mode=mode, cval=-2.0)
    assert_matches(got, expected, dtype, scale=scale)


@pytest.mark.parametrize("in_dtype", FILTER_DTYPES)
@pytest.mark.parametrize("out_dtype", ["compute", "uint8", "int16", "int32", "float64"])
def test_correlate_dtypes(in_dtype, out_dtype):
    compute = np.float64 if in_dtype in (np.int32, np.float64) else np.float32
    out_dtype = compute if out_dtype == "compute" else out_dtype
    x = random_array((1, 2, 4, 5), in_dtype)
    for k_shape, stride in (((2, 3, 3), (1, 1, 1)), ((1, 3, 2), (1, 2, 1))):
        weights = weights_of(k_shape, compute) / 8
        got, expected, dtype, scale = run_correlate(x, weights, stride=stride, mode=2,
                                                    out_dtype=out_dtype)
        assert_matches(got, expected, dtype, compute, scale)


def test_correlate_saturates_integer_outputs():
    x = np.array([[[[0.0, 100.0, 300.0, -50.0, np.nan, 2.5, 3.5]]]], np.float32)
    weights = np.ones((1, 1, 1), np.float32)
    for out_dtype in ("uint8", "int16"):
        got, expected, dtype, _ = run_correlate(x, weights, out_dtype=out_dtype)
        np.testing.assert_array_equal(to_host(got), expected)
    assert to_host(got).tolist() == [[[[0, 100, 300, -50, 0, 2, 4]]]]


@pytest.mark.parametrize("layout", ["sliced", "reversed"])
@pytest.mark.parametrize("k_shape, stride", [((3, 3, 3), (1, 1, 1)), ((3, 3, 3), (2, 1, 2))])
def test_correlate_strided_views(layout, k_shape, stride):
    x = random_array((2, 3, 4, 5), np.float32)
    got, expected, dtype, scale = run_correlate(x, weights_of(k_shape), stride=stride, mode=3,
                                                layout=layout)
    assert_matches(got, expected, dtype, scale=scale)


@pytest.mark.parametrize("pads", [((0, 0, 0), (0, 0, 0)), ((2, 2, 2), (2, 2, 2)),
                                  ((0, 3, 1), (2, 0, 4))])
@pytest.mark.parametrize("mode", [0, 2, 4])
def test_correlate_valid_full_and_asymmetric_padding(pads, mode):
    x = random_array((1, 4, 5, 6), np.float32)
    for compute in (np.float32, np.float64):
        got, expected, dtype, scale = run_correlate(x.astype(compute), weights_of((3, 3, 3), compute),
                                                    pad_lo=pads[0], pad_hi=pads[1], mode=mode,
                                                    cval=0.25)
        assert_matches(got, expected, dtype, compute, scale)


@pytest.mark.parametrize("mode", MODES)
def test_correlate_with_x_kernel(mode):
    x = random_array((2, 3, 4, 6), np.float32)
    for compute in (np.float32, np.float64):
        weights = weights_of((3, 2, 1), compute)
        xweights = np.array([0.5, 0.0, -1.0, 2.0], compute)
        got, expected, dtype, scale = run_correlate(
            x.astype(compute), weights, xweights, stride=(1, 2, 2), dilation=(1, 1, 2), mode=mode,
            cval=3.0)
        assert_matches(got, expected, dtype, compute, scale)


def test_correlate_skips_zero_taps_like_the_cpu():
    """The general path skips zero weights, so an inf they cover stays out."""
    x = random_array((1, 1, 3, 5), np.float64)
    x[0, 0, 1, 2] = np.inf
    weights = np.zeros((1, 3, 3))
    weights[0, 0, 0] = 1.0
    got, expected, dtype, scale = run_correlate(x, weights, mode=1)
    assert np.isfinite(expected).sum() > 0
    np.testing.assert_array_equal(to_host(got), expected)


@pytest.mark.parametrize("axis", [1, 2, 3])
def test_correlate_axis_is_a_one_axis_correlate(axis):
    x = random_array((1, 4, 5, 6), np.float32)
    w = weights_of(5)
    for stride, dilation in ((1, 1), (2, 1), (1, 2)):
        pad = dilation * 2
        shape = list(x.shape)
        shape[axis] = output_size(x.shape[axis], 5, stride, dilation, pad, pad)
        expected = np.zeros(shape, np.float32)
        per_axis = lambda value, other: tuple(value if a == axis - 1 else other for a in range(3))
        k_shape = per_axis(5, 1)
        cpu.correlate(x, expected, w.reshape(k_shape), np.zeros(0, np.float32),
                      per_axis(stride, 1), per_axis(dilation, 1), per_axis(pad, 0), 2, 0.0, 4, 4,
                      1)
        got = to_device(np.zeros(shape, np.float32))
        gpu.correlate_axis(to_device(x), got, w, axis, stride, dilation, pad, 2, 0.0, 4, 4)
        assert_matches(got, expected, np.float32, scale=float(np.abs(w).sum() * 80))


@pytest.mark.parametrize("seed", range(24))
def test_correlate_random_geometry(seed):
    """Random shapes, extents, strides, dilations and paddings (including
    padding wider than the image) on both paths."""
    rng = np.random.default_rng(seed)
    x_shape = (int(rng.integers(1, 3)),) + tuple(int(n) for n in rng.integers(1, 7, 3))
    k_shape = tuple(int(k) for k in rng.integers(1, 6, 3))
    stride = tuple(int(s) for s in rng.choice([1, 1, 2, 3], 3))
    dilation = tuple(int(d) for d in rng.choice([1, 1, 2], 3))
    if seed % 2:
        stride = dilation = (1, 1, 1)     # the tiled path, for float32 compute
    pad_lo = tuple(int(p) for p in rng.integers(0, 9, 3))
    pad_hi = tuple(int(p) for p in rng.integers(0, 9, 3))
    if any(output_size(n, k, s, d, lo, hi) < 1 for n, k, s, d, lo, hi in
           zip(x_shape[1:], k_shape, stride, dilation, pad_lo, pad_hi)):
        pad_hi = tuple(d * (k - 1) + 8 for k, d in zip(k_shape, dilation))
    in_dtype = FILTER_DTYPES[seed % len(FILTER_DTYPES)]
    compute = np.float64 if in_dtype in (np.int32, np.float64) else np.float32
    x = random_array(x_shape, in_dtype)
    got, expected, dtype, scale = run_correlate(
        x, weights_of(k_shape, compute), stride=stride, dilation=dilation, pad_lo=pad_lo,
        pad_hi=pad_hi, mode=MODES[seed % 5], cval=0.75, layout=("contiguous", "sliced", "reversed")[seed % 3])
    assert_matches(got, expected, dtype, compute, scale)


def test_tiled_z_chunks_split_deep_volumes():
    assert gpu._tiled_z_chunk((1, 21, 2, 3), 1) < 21
    assert gpu._tiled_z_chunk((1, 512, 512, 512), 16 * 64) == gpu.TILED_MAX_Z_CHUNK


def test_correlate_tiled_path_limits():
    none = np.zeros(0, np.float32)
    assert gpu.uses_tiled_path(np.ones((7, 3, 3), np.float32), none, (1,) * 3, (1,) * 3, 0)
    assert not gpu.uses_tiled_path(np.ones((8, 3, 3), np.float32), none, (1,) * 3, (1,) * 3, 0)
    assert not gpu.uses_tiled_path(np.ones((3, 3, 3), np.float64), none, (1,) * 3, (1,) * 3, 5)
    assert not gpu.uses_tiled_path(np.ones((3, 3, 3), np.float32), none, (1,) * 3, (1,) * 3, 3)
    assert not gpu.uses_tiled_path(np.ones((1, 91, 91), np.float32), none, (1,) * 3, (1,) * 3, 4)
    assert not gpu.uses_tiled_path(np.ones((1, 1, 1), np.float32), np.ones(3, np.float32),
                                   (1,) * 3, (1,) * 3, 4)


def test_correlate_refuses_bad_weights():
    x = to_device(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match="float32 or float64"):
        gpu.correlate(x, x, np.ones((3, 3, 3), np.int32), np.zeros(0, np.int32), (1,) * 3,
                      (1,) * 3, (1,) * 3, 2, 0.0, 4, 4)
    with pytest.raises(ValueError, match="KW == 1"):
        gpu.correlate(x, x, np.ones((1, 3, 3), np.float32), np.ones(3, np.float32), (1,) * 3,
                      (1,) * 3, (1,) * 3, 2, 0.0, 4, 4)


# --------------------------------------------------------------------------
# box_pass
# --------------------------------------------------------------------------
def run_box(x, axis, size, pad_lo, mode, cval, out_dtype, layout="contiguous"):
    expected = np.zeros(x.shape, out_dtype)
    cpu.box_pass(x, expected, axis, size, pad_lo, mode, cval, CODE[x.dtype],
                 CODE[np.dtype(out_dtype)], 1)
    got = device_view(np.zeros(x.shape, out_dtype), layout)
    gpu.box_pass(device_view(x, layout), got, axis, size, pad_lo, mode, cval, CODE[x.dtype],
                 CODE[np.dtype(out_dtype)])
    return got, expected


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("axis", [1, 2, 3])
@pytest.mark.parametrize("size, pad_lo", [(1, 0), (3, 1), (4, 1), (7, 3), (9, 0)])
def test_box_pass_matches_cpu(mode, axis, size, pad_lo):
    x = random_array((2, 3, 5, 4), np.float32)
    got, expected = run_box(x, axis, size, pad_lo, mode, 1.25, np.float32)
    assert_matches(got, expected, np.float32, np.float64, scale=1e7)


@pytest.mark.parametrize("in_dtype", FILTER_DTYPES)
@pytest.mark.parametrize("out_dtype", ["uint8", "int16", "int32", "float32", "float64"])
def test_box_pass_dtypes(in_dtype, out_dtype):
    x = random_array((1, 2, 3, 70), in_dtype)   # a line longer than a chunk
    for axis in (2, 3):
        got, expected = run_box(x, axis, 5, 2, 2, 0.0, out_dtype)
        assert_matches(got, expected, out_dtype, np.float64,
                       scale=float(np.abs(x.astype(np.float64)).max()) * 1e4)


@pytest.mark.parametrize("layout", ["sliced", "reversed"])
def test_box_pass_strided_views(layout):
    x = random_array((2, 3, 4, 5), np.float64)
    for axis in (1, 3):
        got, expected = run_box(x, axis, 3, 1, 3, 0.0, np.float64, layout)
        assert_matches(got, expected, np.float64, np.float64, scale=100)


def test_box_pass_refuses_out_on_its_input():
    x = to_device(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match="share memory"):
        gpu.box_pass(x, x, 3, 3, 1, 2, 0.0, 4, 4)


# --------------------------------------------------------------------------
# extreme_pass and extreme_footprint
# --------------------------------------------------------------------------
def pad_value(dtype, is_max):
    return v.morphology_pad_value(np.dtype(dtype), None, None, is_max)


def run_extreme_pass(x, args, mode, cval, is_max, layout="contiguous"):
    expected = np.zeros_like(x)
    cpu.extreme_pass(x, expected, *args, mode, cval, is_max, CODE[x.dtype], 1)
    got = device_view(np.zeros_like(x), layout)
    gpu.extreme_pass(device_view(x, layout), got, *args, mode, cval, is_max, CODE[x.dtype])
    return got, expected


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("is_max", [True, False])
@pytest.mark.parametrize("args", [
    (3, 1, 1, 0, 1, 0),          # one axis, direct
    (1, 0, 1, 0, 1, 0),          # a copy
    (2, 1, 3, 2, 1, 0),          # two axes, even window
    (3, 1, 5, 2, 3, 1),          # three axes
    (11, 5, 1, 0, 1, 0),         # van Herk / Gil-Werman, longer than the line
    (9, 2, 12, 6, 2, 0),         # ... on two axes
])
def test_extreme_pass_matches_cpu(mode, is_max, args):
    x = random_array((2, 3, 7, 9), np.float32)
    got, expected = run_extreme_pass(x, args, mode, np.float32(-3.5), is_max)
    np.testing.assert_array_equal(to_host(got), expected)


@pytest.mark.parametrize("dtype", EXTREME_DTYPES)
def test_extreme_pass_dtypes(dtype):
    x = random_array((1, 2, 6, 40), dtype)   # 40: van Herk blocks across chunks
    for is_max in (True, False):
        for args in ((3, 1, 3, 1, 2, 1), (13, 6, 17, 8, 1, 0)):
            for mode, cval in ((0, pad_value(dtype, is_max)), (2, 0)):
                got, expected = run_extreme_pass(x, args, mode, cval, is_max)
                np.testing.assert_array_equal(to_host(got), expected)


def test_extreme_pass_nan_wins_and_strided_views():
    x = random_array((1, 2, 7, 12), np.float64)
    x[0, 1, 3, 4] = np.nan
    for layout in ("contiguous", "sliced", "reversed"):
        for args in ((3, 1, 3, 1, 1, 0), (10, 4, 11, 5, 2, 1)):
            got, expected = run_extreme_pass(x, args, 2, 0.0, True, layout)
            assert np.isnan(expected).any()
            np.testing.assert_array_equal(to_host(got), expected)


def run_footprint(x, footprint, centre, mode, cval, is_max, layout="contiguous"):
    runs = footprint_runs(footprint)
    expected = np.zeros_like(x)
    cpu.extreme_footprint(x, expected, footprint.shape, centre, *runs, mode, cval, is_max,
                          CODE[x.dtype], 1)
    got = device_view(np.zeros_like(x), layout)
    gpu.extreme_footprint(device_view(x, layout), got, footprint.shape, centre, *runs, mode,
                          cval, is_max, CODE[x.dtype])
    return got, expected


FOOTPRINTS = [
    (np.ones((1, 1, 1), bool), (0, 0, 0)),
    (np.array([[[0, 1, 0], [1, 1, 1], [0, 1, 0]]], bool), (0, 1, 1)),
    (RNG.random((3, 4, 5)) < 0.5, (1, 2, 3)),
    (np.ones((5, 1, 9), bool), (0, 0, 8)),       # larger than the image, off-centre
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("footprint, centre", FOOTPRINTS)
def test_extreme_footprint_matches_cpu(mode, footprint, centre):
    x = random_array((2, 3, 4, 6), np.float32)
    for is_max in (True, False):
        got, expected = run_footprint(x, footprint, centre, mode, pad_value(np.float32, is_max),
                                      is_max)
        np.testing.assert_array_equal(to_host(got), expected)


@pytest.mark.parametrize("dtype", EXTREME_DTYPES)
def test_extreme_footprint_dtypes_and_views(dtype):
    x = random_array((1, 2, 5, 6), dtype)
    footprint, centre = FOOTPRINTS[2]
    for layout in ("contiguous", "sliced", "reversed"):
        got, expected = run_footprint(x, footprint, centre, 0, pad_value(dtype, True), True,
                                      layout)
        np.testing.assert_array_equal(to_host(got), expected)


def run_structure(x, footprint, centre, heights, skip_outside, mode, cval, is_max,
                  layout="contiguous"):
    """The CPU's and the GPU's extreme_structure on the same runs: cells of
    one height in a row share a run, as imgconv._backend builds them."""
    dtype = x.dtype
    cell_heights = np.zeros(footprint.shape, np.int64 if dtype.kind in "iu" else dtype)
    cell_heights[footprint] = heights
    runs = footprint_runs(footprint, cell_heights)
    row_z, row_y, run_row, run_start, _ = runs
    run_heights = np.ascontiguousarray(cell_heights[row_z[run_row], row_y[run_row], run_start])
    identity = v.morphology_pad_value(dtype, None, None, is_max)
    expected = np.zeros_like(x)
    cpu.extreme_structure(x, expected, footprint.shape, centre, *runs, run_heights, skip_outside,
                          mode, cval, identity, is_max, CODE[dtype], 1)
    got = device_view(np.zeros_like(x), layout)
    gpu.extreme_structure(device_view(x, layout), got, footprint.shape, centre, *runs,
                          run_heights, skip_outside, mode, cval, identity, is_max, CODE[dtype])
    return to_host(got), expected


@pytest.mark.parametrize("mode", MODES + ("neutral",))
@pytest.mark.parametrize("footprint, centre", FOOTPRINTS)
def test_extreme_structure_matches_cpu(mode, footprint, centre):
    """Every mode reads its padding; 'neutral' is morphology's mode=None:
    cells beyond the edges take no part (skip_outside, which the CPU kernel
    runs over padding of the value that never wins)."""
    x = random_array((2, 3, 4, 6), np.float32)
    heights = RNG.integers(-5, 6, int(footprint.sum())).astype(np.float32)
    for is_max in (True, False):
        if mode == "neutral":
            args = (True, 0, v.morphology_pad_value(x.dtype, None, None, is_max))
        else:
            args = (False, mode, np.float32(-3.5))
        got, expected = run_structure(x, footprint, centre, heights, *args, is_max)
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", EXTREME_DTYPES)
def test_extreme_structure_saturates_every_dtype(dtype):
    """Heights that push the dtype's extremes past its range saturate (the
    64-bit dtypes through their wrapping sums), on strided views too."""
    x = random_array((1, 2, 5, 6), dtype)
    footprint, centre = FOOTPRINTS[2]
    if dtype.kind == "f":
        heights = RNG.standard_normal(int(footprint.sum())).astype(dtype) * 10
    else:
        info = np.iinfo(dtype)
        x[0, 0, 1, :2] = (info.min, info.max)
        span = min(int(info.max) - int(info.min), 2**63 - 1)
        heights = RNG.integers(-span // 2, span // 2, int(footprint.sum()), dtype=np.int64)
        heights[:2] = (span, -span)
    for layout in ("contiguous", "sliced", "reversed"):
        for is_max, skip_outside, mode in ((True, True, 0), (False, False, 2)):
            cval = v.morphology_pad_value(dtype, None, None, is_max)
            got, expected = run_structure(x, footprint, centre, heights, skip_outside, mode,
                                          cval, is_max, layout)
            np.testing.assert_array_equal(got, expected)


# --------------------------------------------------------------------------
# rank_filter
# --------------------------------------------------------------------------
def run_rank(x, footprint, centre, rank, mode, cval, layout="contiguous"):
    runs = footprint_runs(footprint)
    expected = np.zeros_like(x)
    cpu.rank_filter(x, expected, footprint.shape, centre, *runs, rank, mode, cval,
                    CODE[x.dtype], 1)
    got = device_view(np.zeros_like(x), layout)
    gpu.rank_filter(device_view(x, layout), got, footprint.shape, centre, *runs, rank, mode,
                    cval, CODE[x.dtype])
    return to_host(got), expected


#: windows gathered per thread, and (more than 125 cells) selected by counting
RANK_FOOTPRINTS = FOOTPRINTS + [
    (np.ones((1, 13, 11), bool), (0, 6, 5)),
    (RNG.random((5, 6, 7)) < 0.7, (2, 1, 5)),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("footprint, centre", RANK_FOOTPRINTS)
def test_rank_filter_matches_cpu(mode, footprint, centre):
    x = random_array((2, 3, 4, 6), np.float32)
    cells = int(footprint.sum())
    for rank in sorted({0, cells // 2, cells - 1}):
        got, expected = run_rank(x, footprint, centre, rank, mode, np.float32(-3.5))
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", EXTREME_DTYPES)
@pytest.mark.parametrize("footprint, centre", [RANK_FOOTPRINTS[2], RANK_FOOTPRINTS[4]])
def test_rank_filter_dtypes_and_views(dtype, footprint, centre):
    """Every dtype's order-preserving key, both selections, the full range of
    64-bit integers, the constant pad value and strided views."""
    x = random_array((1, 2, 5, 6), dtype)
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    x[0, 0, 0, :3] = (info.min, info.max, 0)
    cval = x.dtype.type(info.max if dtype.kind != "f" else -0.0)
    cells = int(footprint.sum())
    for layout in ("contiguous", "sliced", "reversed"):
        for rank, mode in ((cells // 3, 0), (cells - 2, 2)):
            got, expected = run_rank(x, footprint, centre, rank, mode, cval, layout)
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("footprint, centre", [RANK_FOOTPRINTS[2], RANK_FOOTPRINTS[4]])
def test_rank_filter_nan_sorts_last_and_signed_zeros(dtype, footprint, centre):
    x = random_array((1, 2, 5, 6), dtype)
    x[0, 1, 2, 3] = x[0, 0, 4, 5] = np.nan
    x[0, 0, 1, :2] = (-0.0, 0.0)
    x[0, 1, 0, 1] = -np.inf
    cells = int(footprint.sum())
    for rank in (0, cells // 2, cells - 1):
        got, expected = run_rank(x, footprint, centre, rank, 4, 0.0)
        np.testing.assert_array_equal(got, expected)
        assert np.isnan(got).sum() == np.isnan(expected).sum()


def test_rank_filter_refuses_a_rank_outside_the_footprint():
    x = random_array((1, 1, 3, 3), np.float32)
    runs = footprint_runs(np.ones((1, 3, 3), bool))
    with pytest.raises(ValueError, match="rank=9"):
        gpu.rank_filter(x, np.zeros_like(x), (1, 3, 3), (0, 1, 1), *runs, 9, 0, 0.0,
                        CODE[x.dtype])


# --------------------------------------------------------------------------
# pool
# --------------------------------------------------------------------------
def pool_geometry(shape, size, stride, dilation, pad, ceil_mode):
    """Output shape, pad_lo and extent per axis, as imgconv's pool planning
    (torch's rule: with ceil_mode, a last window must start inside the input
    or its low padding)."""
    out, extent = [], []
    for n, k, s, d, p in zip(shape, size, stride, dilation, pad):
        span = n + 2 * p - d * (k - 1) - 1
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        out.append(o)
        extent.append(n + 2 * p)
    return tuple(out), tuple(pad), tuple(extent)


def count_scales(out_n, n, k, s, d, p, extent, include_pad):
    """Reciprocal window counts along one axis (avg pooling's inv_*)."""
    counts = []
    for o in range(out_n):
        positions = [o * s + t * d for t in range(k)]
        positions = [q for q in positions if q < extent]
        if not include_pad:
            positions = [q for q in positions if p <= q < p + n]
        counts.append(1.0 / max(len(positions), 1))
    return np.array(counts)


def run_pool(x, size, stride, dilation, pad, ceil_mode, op, mode, p=2.0, out_dtype=None,
             with_indices=False, include_pad=True, layout="contiguous"):
    out_shape, pad_lo, extent = pool_geometry(x.shape[1:], size, stride, dilation, pad, ceil_mode)
    shape = (x.shape[0],) + out_shape
    double = x.dtype in (np.int32, np.float64, np.int64, np.uint64)
    if op in (0, 1):
        out_dtype = x.dtype
        identity = pad_value(x.dtype, op == 0)
    else:
        out_dtype = np.dtype(out_dtype or (np.float64 if double else np.float32))
        identity = 0.0
    scales = [count_scales(o, n, k, s, d, q, e, include_pad) for o, n, k, s, d, q, e in
              zip(out_shape, x.shape[1:], size, stride, dilation, pad_lo, extent)]
    args = (size, stride, dilation, pad_lo, extent, op, mode, p, identity, *scales,
            CODE[x.dtype], CODE[out_dtype], double)
    expected = np.zeros(shape, out_dtype)
    expected_indices = np.zeros(shape, np.int64) if with_indices else None
    cpu.pool(x, expected, expected_indices, *args, 1)
    got = device_view(np.zeros(shape, out_dtype), layout)
    got_indices = to_device(np.zeros(shape, np.int64)) if with_indices else None
    gpu.pool(device_view(x, layout), got, got_indices, *args)
    return got, expected, got_indices, expected_indices, out_dtype, double


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", [0, 1, 2, 3])
@pytest.mark.parametrize("geometry", [
    ((2, 2, 2), (2, 2, 2), (1, 1, 1), (0, 0, 0), False),
    ((3, 3, 3), (2, 2, 2), (1, 1, 1), (1, 1, 1), True),
    ((1, 3, 2), (1, 1, 2), (1, 2, 1), (0, 1, 1), False),
    ((1, 5, 5), (1, 3, 3), (1, 1, 1), (0, 2, 2), True),   # window larger than the image
])
def test_pool_matches_cpu(mode, op, geometry):
    x = random_array((2, 3, 4, 5), np.float32)
    got, expected, _, _, out_dtype, double = run_pool(x, *geometry, op, mode)
    if op in (0, 1):
        np.testing.assert_array_equal(to_host(got), expected)
    else:
        assert_matches(got, expected, out_dtype, scale=float(np.abs(x).max()) ** 2)


@pytest.mark.parametrize("dtype", EXTREME_DTYPES)
def test_pool_extreme_dtypes_with_indices(dtype):
    x = random_array((2, 3, 4, 5), dtype)
    for op in (0, 1):
        for layout in ("contiguous", "sliced", "reversed"):
            got, expected, got_i, expected_i, _, _ = run_pool(
                x, (2, 3, 2), (1, 2, 2), (1, 1, 2), (1, 1, 1), True, op, 0, with_indices=True,
                layout=layout)
            np.testing.assert_array_equal(to_host(got), expected)
            np.testing.assert_array_equal(to_host(got_i), expected_i)


def test_pool_indices_follow_nan_and_ties():
    x = np.zeros((1, 1, 3, 4), np.float32)
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 2, 3] = np.nan
    for op in (0, 1):
        got, expected, got_i, expected_i, _, _ = run_pool(
            x, (1, 2, 2), (1, 1, 1), (1, 1, 1), (0, 0, 0), False, op, 2, with_indices=True)
        np.testing.assert_array_equal(to_host(got), expected)
        np.testing.assert_array_equal(to_host(got_i), expected_i)


@pytest.mark.parametrize("dtype", FILTER_DTYPES)
@pytest.mark.parametrize("op, p", [(2, 2.0), (3, 1.0), (3, 2.0), (3, 3.0)])
def test_pool_sum_dtypes(dtype, op, p):
    x = random_array((1, 2, 4, 5), dtype)
    if dtype.kind in "iu":
        x = (x % 50).astype(dtype)       # Lp sums of powers stay in range
    for out_dtype in (None, "uint8", "float64"):
        for include_pad in (True, False):
            got, expected, _, _, out_dtype_used, double = run_pool(
                x, (1, 3, 2), (1, 2, 1), (1, 1, 2), (0, 1, 1), True, op, 0, p=p,
                out_dtype=out_dtype, include_pad=include_pad)
            assert_matches(got, expected, out_dtype_used, np.float64 if double else np.float32,
                           scale=float(np.abs(x.astype(np.float64)).max()) ** 3)


def test_pool_sum_refuses_64_bit_integers():
    x = to_device(np.zeros((1, 1, 2, 2), np.int64))
    out = to_device(np.zeros((1, 1, 1, 1), np.float64))
    with pytest.raises(ValueError, match="not int64"):
        gpu.pool(x, out, None, (1, 2, 2), (1, 2, 2), (1, 1, 1), (0, 0, 0), (1, 2, 2), 2, 0, 2.0,
                 0.0, np.ones(1), np.ones(1), np.ones(1), CODE[np.dtype(np.int64)],
                 CODE[np.dtype(np.float64)], True)


# --------------------------------------------------------------------------
# Every variant compiles with NVRTC
# --------------------------------------------------------------------------
def test_every_variant_compiles_with_nvrtc():
    pytest.importorskip("cupy_backends.cuda.libs.nvrtc")
    from imgconv.cuda._nvrtc import compile_ptx
    by_source = collections.defaultdict(list)
    for source, name, defines in gpu.all_variants():
        by_source[(source, defines)].append(name)
    assert {source for source, _ in by_source} == {"correlate.cu", "running.cu", "extreme.cu",
                                                   "rank.cu", "pool.cu"}
    for (source, defines), names in by_source.items():
        ptx = compile_ptx(source, names, defines)
        assert ".entry" in ptx

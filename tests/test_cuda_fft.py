"""The FFT method for non-CPU array namespaces (imgconv._xp_fft), run on numpy
arrays: the code a GPU runs through cupyx.scipy.fft, held to the direct
kernel, scipy.ndimage and the reference, without a GPU or the simulator;
and the GPU's cost model as ``method='auto'`` uses it."""
import math
import types

import numpy as np
import pytest
import scipy.ndimage as ndi

import imgconv as ic
from imgconv import _backend, _convolve, _cpu, _dispatch, _xp_fft
from imgconv import _validate as v
from imgconv._convolve import Geometry, method_by_cost
from imgconv._fft import direct_cost
from reference import cval_for, pad_array, ref_correlate
from test_fft import CASES, MODES, assert_close, rand


@pytest.fixture
def rng():
    return np.random.default_rng(4321)


def run_both(x, w, *, mode="reflect", cval=0.0, padding="same", stride=1, dilation=1,
             origin=0, channel_axis=None, axes=None, dtype=None, out=None, xp=np):
    """(xp FFT result, direct result, tolerance) for the same arguments; the
    FFT runs :func:`_xp_fft.fft_correlate` on the CPU's FilterInput."""
    inp = v.filter_input(x, mode, cval, channel_axis, axes, backend=_cpu.CPU)
    weights = v.as_kernel(w, inp.rank, inp.compute)
    geom = Geometry(inp, weights.shape, padding, stride, dilation, origin)
    direct = ic.correlate(x, weights, mode=mode, cval=cval, padding=padding, stride=stride,
                          dilation=dilation, origin=origin, channel_axis=channel_axis,
                          axes=axes, dtype=dtype, method="direct")
    if out is None:
        out = np.empty(inp.full_shape(geom.out_shape), v.output_dtype(dtype, inp.compute))
    out[...] = 0
    assert _xp_fft.fft_correlate(xp, inp, inp.x, weights, geom, out) is out
    assert out.shape == direct.shape and out.dtype == direct.dtype
    xmax = max(float(np.abs(inp.x).max()), abs(float(cval)), 1.0)
    scale = float(np.abs(weights.astype(np.float64)).sum()) * xmax
    rel = 1e-4 if inp.compute == np.float32 or out.dtype == np.float32 else 1e-10
    return out, direct, rel * scale


def namespace_like_numpy(name, **replaced):
    """A module named ``name`` holding numpy's functions, some ``replaced``."""
    module = types.ModuleType(name)
    module.__dict__.update({k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    module.__dict__.update(replaced)
    return module


# ---------------------------------------------------------------------------
# the boundary rule
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_boundary_index_is_the_padding_rule(mode, n):
    # np.pad repeats the rule for padding many times wider than the axis
    samples = np.arange(n) + 10.0
    wide = 4 * n + 7
    padded = pad_array(samples, mode, -1.0, (wide,), (wide,))
    index = _xp_fft.boundary_index(np.arange(-wide, n + wide), n, mode)
    assert index.dtype == np.intp
    read = np.where(index >= 0, samples[np.maximum(index, 0)], -1.0)
    np.testing.assert_array_equal(read, padded)
    assert (index >= -1).all() and (index < n).all()
    assert ((index == -1) == (mode == "zero") * ~((np.arange(-wide, n + wide) >= 0)
                                                   & (np.arange(-wide, n + wide) < n))).all()


def test_boundary_index_rejects_unknown_modes():
    with pytest.raises(ValueError, match="unknown boundary mode"):
        _xp_fft.boundary_index([0, -1], 3, "mirror")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pad_lo,length", [(3, 14), (0, 4), (-2, 5), (9, 6), (-12, 4), (2, 30)])
def test_pad_into_matches_np_pad(rng, mode, pad_lo, length):
    # shorter or longer than the input plus its padding, negative padding
    # (the outputs start inside the input), and padding only
    x = rand(rng, (3, 7, 5), "int16")
    padded = np.empty((3, length, length + 1), np.float32)
    _xp_fft.pad_into(np, padded, x, (pad_lo, pad_lo + 1), mode, cval_for(mode, 2.5))
    lo = max(pad_lo, 0), max(pad_lo + 1, 0)
    hi = (max(0, length - pad_lo - 7), max(0, length + 1 - pad_lo - 1 - 5))
    want = np.stack([pad_array(c.astype(np.float64), mode, cval_for(mode, 2.5), lo, hi)
                     for c in x])
    start = (max(-pad_lo, 0), max(-pad_lo - 1, 0))
    want = want[:, start[0]:start[0] + length, start[1]:start[1] + length + 1]
    np.testing.assert_array_equal(padded, want)


# ---------------------------------------------------------------------------
# geometry x modes, against the direct kernel
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[3]}")
def test_geometry_and_modes_float32(rng, mode, case):
    shape, kshape, channel_axis, padding, stride, dilation = case
    fft, direct, tol = run_both(rand(rng, shape), rand(rng, kshape), mode=mode,
                                cval=cval_for(mode, 1.5), padding=padding, stride=stride,
                                dilation=dilation, channel_axis=channel_axis)
    assert fft.dtype == np.float32
    assert_close(fft, direct, tol)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES[1::2], ids=lambda c: f"{c[0]}-{c[1]}-{c[3]}")
def test_geometry_and_modes_float64(rng, mode, case):
    shape, kshape, channel_axis, padding, stride, dilation = case
    fft, direct, tol = run_both(rand(rng, shape, "float64"), rand(rng, kshape, "float64"),
                                mode=mode, cval=cval_for(mode, -2.0), padding=padding,
                                stride=stride, dilation=dilation, channel_axis=channel_axis)
    assert fft.dtype == np.float64
    assert_close(fft, direct, tol)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape,kshape,origin", [((40,), (9,), 2), ((17, 23), (6, 5), (-1, 2)),
                                                 ((9, 8, 11), (4, 5, 3), (1, 0, -1))])
def test_matches_scipy_ndimage(rng, mode, shape, kshape, origin):
    x = rng.standard_normal(shape)
    w = rng.standard_normal(kshape)
    cval = cval_for(mode, 0.75)
    fft, _, tol = run_both(x, w, mode=mode, cval=cval, origin=origin)
    want = ndi.correlate(x, w, mode=v.SCIPY_MODE[mode], cval=cval, origin=origin)
    np.testing.assert_allclose(fft, want, rtol=0, atol=tol)


@pytest.mark.parametrize("mode", MODES)
def test_kernel_larger_than_the_image_and_wide_padding(rng, mode):
    # 'same' with a kernel several times the image: padding wider than the
    # image repeats the rule; and padding only, where no output reads the image
    x = rand(rng, (4, 3), "float64")
    w = rand(rng, (13, 11), "float64")
    cval = cval_for(mode, 3.0)
    fft, _, tol = run_both(x, w, mode=mode, cval=cval)
    np.testing.assert_allclose(fft, ref_correlate(x, w, mode, cval), rtol=0, atol=tol)
    fft, direct, tol = run_both(x, [[1.0, 2.0]], mode=mode, cval=cval, padding=[(9, 0), (0, 0)],
                                stride=(20, 1))
    assert_close(fft, direct, tol)


def test_axes_subset_and_channels(rng):
    # 2 of 4 axes filtered, the others batch (and so transformed together)
    x = rand(rng, (5, 6, 2, 7))
    fft, direct, tol = run_both(x, rand(rng, (3, 4)), axes=(1, 3), mode="symmetric",
                                stride=(1, 2))
    assert_close(fft, direct, tol)
    fft, direct, tol = run_both(x, rand(rng, (3, 3, 3)), channel_axis=2, mode="wrap",
                                padding="full")
    assert_close(fft, direct, tol)


@pytest.mark.parametrize("mode", ["zero", "reflect"])
def test_channels_one_at_a_time(rng, monkeypatch, mode):
    # above BATCH_BYTES each channel gets its own padded buffer: the same sums
    x = rand(rng, (2, 3, 11, 9), "uint16")
    w = rand(rng, (5, 4))
    together = run_both(x, w, mode=mode, cval=cval_for(mode, 7.0), channel_axis=1, axes=(2, 3))
    monkeypatch.setattr(_xp_fft, "BATCH_BYTES", 1)
    seen = []

    def empty(shape, dtype):
        seen.append(tuple(shape))
        return np.empty(shape, dtype)

    recording = namespace_like_numpy("numpy", empty=empty)
    alone = run_both(x, w, mode=mode, cval=cval_for(mode, 7.0), channel_axis=1, axes=(2, 3),
                     xp=recording)
    # six padded channels, and the kernel's whole spectrum made once
    assert sorted(seen) == [(15, 7)] + [(15, 12)] * 6
    assert_close(alone[0], together[0], together[2])
    assert_close(alone[0], alone[1], alone[2])


@pytest.mark.parametrize("shape,kshape,channel_axis", [((50,), (7,), None),
                                                       ((21, 26), (5, 6), None),
                                                       ((3, 9, 10, 11), (3, 4, 5), 0)])
def test_kernel_spectrum_in_slabs(rng, monkeypatch, shape, kshape, channel_axis):
    # tiny slabs: every column range of the kernel's spectrum made on its own
    x, w = rand(rng, shape), rand(rng, kshape)
    whole = run_both(x, w, mode="symmetric", channel_axis=channel_axis)
    monkeypatch.setattr(_xp_fft, "KERNEL_SLAB_BYTES", 1)
    slabs = []
    real = _xp_fft.kernel_spectrum_slabs

    def recorded(*args):
        for columns, slab in real(*args):
            slabs.append(columns)
            yield columns, slab

    monkeypatch.setattr(_xp_fft, "kernel_spectrum_slabs", recorded)
    sliced = run_both(x, w, mode="symmetric", channel_axis=channel_axis)
    assert _xp_fft.KERNEL_SLABS // 2 < len(slabs) <= _xp_fft.KERNEL_SLABS
    starts = [c.start for c in slabs]
    assert starts[0] == 0 and all(a.stop == b.start for a, b in zip(slabs, slabs[1:]))
    assert_close(sliced[0], whole[0], whole[2])
    assert_close(sliced[0], sliced[1], sliced[2])


def test_two_padded_buffers_at_a_time(rng):
    # the padded input and its spectrum, then the spectrum and the kernel's
    # (made after the padded input is freed), then the spectrum and the
    # inverse (overwrite_x): never three buffers of the padded size
    import tracemalloc
    x = rand(rng, (64, 64, 64))
    w = rand(rng, (9, 9, 9))
    inp = v.filter_input(x, backend=_cpu.CPU)
    geom = Geometry(inp, w.shape, "same", 1, 1, 0)
    out = np.empty(geom.out_shape, np.float32)
    _xp_fft.fft_correlate(np, inp, inp.x, w, geom, out)       # plans made
    padded_bytes = 72 ** 3 * 4                                 # fast length of 64 + 8
    tracemalloc.start()
    try:
        _xp_fft.fft_correlate(np, inp, inp.x, w, geom, out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 2 * padded_bytes < peak < 2.5 * padded_bytes


# ---------------------------------------------------------------------------
# dtypes and layouts
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("in_dtype", ["uint8", "uint16", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("out_dtype", [None, "uint8", "int16", "int32", "float32", "float64"])
def test_dtypes(rng, in_dtype, out_dtype):
    fft, direct, tol = run_both(rand(rng, (19, 16), in_dtype), rng.random((5, 4)) - 0.3,
                                mode="replicate", dtype=out_dtype)
    assert_close(fft, direct, tol)


def test_large_offset_keeps_precision(rng):
    # uint16 CT-like data on a large offset: the mean comes out before the
    # transforms, so the float32 result is within one float32 step of the
    # exact sums (transforming the offset too was 3 steps off here, the
    # direct kernel's float32 sums 5)
    x = (30000 + rng.integers(0, 50, (40, 37))).astype(np.uint16)
    w = rng.random((9, 9)).astype(np.float32)
    fft, _, _ = run_both(x, w)
    exact = ref_correlate(x, w.astype(np.float64), "reflect")
    assert np.abs(fft - exact).max() <= np.finfo(np.float32).eps * np.abs(exact).max()


@pytest.mark.parametrize("out_dtype", ["uint8", "int16", "int32"])
def test_integer_outputs_saturate(rng, out_dtype):
    x = rand(rng, (16, 15), "float64") * 1e8
    fft, direct, tol = run_both(x, np.ones((3, 3)), mode="wrap", dtype=out_dtype)
    assert_close(fft, direct, tol)
    info = np.iinfo(out_dtype)
    assert (fft == info.max).any() and (fft == info.min).any()


@pytest.mark.parametrize("dtype,spectrum", [("uint8", np.complex64), ("float32", np.complex64),
                                            ("int32", np.complex128),
                                            ("float64", np.complex128)])
def test_transform_precision_follows_the_compute_dtype(rng, monkeypatch, dtype, spectrum):
    module, fast_len, scipy_like = _xp_fft.transforms(np)
    seen = []

    def spy(name):
        real = getattr(module, name)

        def call(a, *args, **kwargs):
            result = real(a, *args, **kwargs)
            seen.append((name, np.asarray(a).dtype, result.dtype))
            return result
        return call

    spied = types.SimpleNamespace(**{n: spy(n) for n in ("rfft", "fft", "rfftn", "irfftn")})
    monkeypatch.setattr(_xp_fft, "transforms", lambda xp: (spied, fast_len, scipy_like))
    fft, direct, tol = run_both(rand(rng, (20, 21), dtype), np.ones((3, 3)))
    assert_close(fft, direct, tol)
    real = np.float32 if spectrum == np.complex64 else np.float64
    assert {name for name, _, _ in seen} == {"rfft", "fft", "rfftn", "irfftn"}
    for name, given, made in seen:
        assert made == (real if name == "irfftn" else spectrum), (name, made)
        assert given in (real, spectrum), (name, given)


def test_odd_layouts_and_input_untouched(rng):
    base = rand(rng, (40, 3, 50))
    x = base[::2, :, ::-2].transpose(2, 0, 1)           # (25, 20, 3), odd strides
    before = x.copy()
    big = np.zeros((25, 40, 3), np.float32)
    out = big[::-1, ::2]                                 # strided, reversed
    fft, direct, tol = run_both(x, rand(rng, (4, 5)), channel_axis=-1, mode="reflect", out=out)
    assert fft is out
    assert_close(fft, direct, tol)
    np.testing.assert_array_equal(x, before)
    assert not big[:, 1::2].any()


def test_without_scipy_uses_numpy_fft(rng, monkeypatch):
    # scipy.fft missing: numpy.fft, without overwrite_x
    from imgconv import _fft
    monkeypatch.setattr(_fft, "_fft_backend", lambda: (np.fft, _fft._next_regular, False))
    assert _xp_fft.transforms(np)[0] is np.fft
    fft, direct, tol = run_both(rand(rng, (13, 12, 2)), rand(rng, (5, 3)), channel_axis=-1,
                                mode="symmetric", stride=(2, 1), dilation=(1, 2))
    assert_close(fft, direct, tol)


def test_other_namespaces_use_their_fft_module(rng):
    # a namespace that is neither numpy nor cupy: its own fft submodule, as
    # cupy.fft would be (no overwrite_x), with 5-smooth lengths
    other = namespace_like_numpy("arraylib")
    module, fast_len, scipy_like = _xp_fft.transforms(other)
    assert module is np.fft and not scipy_like and fast_len(97) == 100
    fft, direct, tol = run_both(rand(rng, (10, 9, 8), "float64"), rand(rng, (3, 2, 3), "float64"),
                                mode="wrap", padding="valid", xp=other)
    assert_close(fft, direct, tol)


def test_cupy_arrays_go_through_cufft_with_7_smooth_lengths():
    pytest.importorskip("cupyx.scipy.fft")     # importable without a GPU
    import cupyx.scipy.fft
    module, fast_len, scipy_like = _xp_fft.transforms(types.ModuleType("cupy"))
    assert module is cupyx.scipy.fft and scipy_like
    assert fast_len(542) == 560                  # 2**4 * 5 * 7: cuFFT is fast there too


def test_rank_mismatch_and_out_shape_are_errors(rng):
    x = rand(rng, (8, 9))
    inp = v.filter_input(x, backend=_cpu.CPU)
    geom = Geometry(inp, (3, 3), "same", 1, 1, 0)
    with pytest.raises(ValueError, match="dimensions for 2 spatial axes"):
        _xp_fft.fft_correlate(np, inp, inp.x, np.ones(3, np.float32), geom,
                              np.empty((8, 9), np.float32))
    with pytest.raises(ValueError, match="spatial shape"):
        _xp_fft.fft_correlate(np, inp, inp.x, np.ones((3, 3), np.float32), geom,
                              np.empty((8, 8), np.float32))


# ---------------------------------------------------------------------------
# through the public functions: a backend wired as the CUDA backend will be
# ---------------------------------------------------------------------------
class XpFFTBackend(_backend.KernelBackend):
    """The CPU's kernels through KernelBackend, with the FFT and its cost
    model exactly as a GPU backend wires them (see docs/design.md)."""

    has_fft = True
    take_input = staticmethod(_cpu.as_input_array)
    check_out = staticmethod(_cpu.check_out)

    def __init__(self):
        super().__init__("cpu", np, _cpu.kernels, ("numpy",))
        self.transformed = 0

    def fft_correlate(self, inp, weights, geom, out, threads):
        self.transformed += 1
        return _xp_fft.fft_correlate(self.xp, inp, inp.x, weights, geom, out)

    def fft_cost(self, inp, extent, to_beat, stride=None):
        return _xp_fft.gpu_fft_cost(inp.spatial_shape, extent, inp.channels, inp.compute)


@pytest.fixture
def xp_backend(monkeypatch):
    backend = XpFFTBackend()
    monkeypatch.setitem(_dispatch._loaded, "cpu", backend)
    _convolve._plan_cache.clear()
    yield backend
    _convolve._plan_cache.clear()


@pytest.mark.parametrize("mode", MODES)
def test_public_functions_with_method_fft(rng, xp_backend, mode):
    x = rand(rng, (14, 12, 3), "uint8")
    w = rand(rng, (5, 4))
    cval = cval_for(mode, 4.0)
    for function, scipy_function in ((ic.correlate, ndi.correlate), (ic.convolve, ndi.convolve)):
        got = function(x, w, mode=mode, cval=cval, channel_axis=-1, origin=(1, -1),
                       dtype=np.float64, method="fft")
        want = np.stack([scipy_function(x[..., c].astype(np.float64), w.astype(np.float32),
                                        mode=v.SCIPY_MODE[mode], cval=cval, origin=(1, -1))
                         for c in range(3)], axis=-1)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * np.abs(w).sum() * 255)
    # a kernel far longer than the image is folded onto the padding's period first
    long = rand(rng, (61, 3), "float64")
    got = ic.correlate(x[..., 0].astype(np.float64), long, mode=mode, cval=cval, method="fft")
    want = ic.correlate(x[..., 0].astype(np.float64), long, mode=mode, cval=cval,
                        method="direct")
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * np.abs(long).sum() * 255)
    assert xp_backend.transformed == 3


def test_auto_keeps_small_images_direct(rng, xp_backend):
    # the GPU model's fixed cost: a 31**2 kernel on a small image sums taps
    # (the CPU would transform it), and the result does not depend on it
    x = rand(rng, (96, 100))
    w = rand(rng, (31, 31))
    got = ic.correlate(x, w)
    assert xp_backend.transformed == 0
    assert_close(got, ic.correlate(x, w, method="direct"), 1e-4 * np.abs(w).sum() * 40)


# ---------------------------------------------------------------------------
# the cost hook
# ---------------------------------------------------------------------------
def planned(backend, shape, kshape, dtype=np.float32, channel_axis=None, dilation=1):
    """method_by_cost's choice for an input of ``shape`` (never allocated:
    the plan reads no data) and a random, non-separable kernel."""
    x = np.broadcast_to(np.zeros((), dtype), shape)
    axes, channel_axis = v.spatial_axes(len(shape), channel_axis)
    inp = v.FilterInput(x, axes, channel_axis, v.compute_dtype(dtype), "reflect",
                        v.MODE_CODES["reflect"], 0.0, backend)
    weights = np.random.default_rng(0).random(kshape).astype(inp.compute)
    geom = Geometry(inp, weights.shape, "same", 1, dilation, 0)
    return method_by_cost("auto", inp, weights, geom)[0]


def test_gpu_cost_model_decisions():
    gpu = XpFFTBackend()
    assert planned(gpu, (256,) * 3, (31,) * 3) == "fft"
    assert planned(gpu, (256,) * 3, (3,) * 3) == "direct"
    assert planned(gpu, (512,) * 3, (7,) * 3) == "direct"
    assert planned(gpu, (512,) * 3, (11,) * 3) == "fft"
    assert planned(gpu, (512,) * 3, (11,) * 3, np.float64) == "fft"
    assert planned(gpu, (4096,) * 2, (41, 41)) == "fft"
    assert planned(gpu, (4096,) * 2, (9, 9)) == "direct"
    # dilation: the extent counts for the transforms, the taps for the sums
    assert planned(gpu, (256,) * 3, (5,) * 3, dilation=8) == "direct"
    # small images stay direct where the CPU transforms (fixed cost per call)
    assert planned(gpu, (100, 96), (31, 31)) == "direct"
    assert planned(_cpu.CPU, (100, 96), (31, 31)) == "fft"
    # channels: each pays its transforms, the direct sums scale the same way
    assert planned(gpu, (4, 256, 256, 256), (31,) * 3, channel_axis=0) == "fft"


def test_gpu_cost_model_scales():
    cost = _xp_fft.gpu_fft_cost
    f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
    one = cost((256,) * 3, (31,) * 3, 1, f32)
    assert one < cost((256,) * 3, (31,) * 3, 2, f32) < 2 * one
    # the traffic grows with the padded samples: 576**3 against 288**3
    fixed = _xp_fft.gpu_overhead(3) * _xp_fft.GPU_DIRECT_FMA_PER_S
    assert cost((512,) * 3, (31,) * 3, 1, f32) - fixed == pytest.approx(8 * (one - fixed))
    # double precision moves twice the bytes at half the direct rate: the
    # traffic weighs the same against the sums, the fixed cost half as much
    assert cost((256,) * 3, (31,) * 3, 1, f64) == pytest.approx(
        one - _xp_fft.gpu_overhead(3) * _xp_fft.GPU_DIRECT_FMA_PER_S / 2)
    # a tiny call costs about the fixed overhead
    assert cost((8, 8), (3, 3), 1, f32) == pytest.approx(
        _xp_fft.gpu_overhead(2) * _xp_fft.GPU_DIRECT_FMA_PER_S, rel=1e-3)
    assert one < direct_cost((256,) * 3, 31 ** 3) / 10


def test_default_cost_hook_is_the_cpu_model():
    from imgconv import _fft
    x = np.zeros((300, 280), np.float32)
    inp = v.filter_input(x, backend=_cpu.CPU)
    assert _cpu.CPU.fft_cost(inp, (31, 31), float("inf")) == _fft.fft_cost((300, 280), (31, 31))
    # the quick bound decides first: no tile plan where the bound already loses
    bound = _fft.fft_cost_bound((300, 280), (31, 31))
    assert _cpu.CPU.fft_cost(inp, (31, 31), bound) is None
    assert _cpu.CPU.fft_cost(inp, (31, 31), bound * 1.001) is not None


# ---------------------------------------------------------------------------
# on a GPU (skipped without one): the same function on CuPy arrays, cuFFT
# ---------------------------------------------------------------------------
@pytest.fixture
def cupy():
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy
    except Exception:                       # no CuPy, no driver, no device
        pass
    pytest.skip("needs CuPy and an NVIDIA GPU")


def gpu_input(cupy, x, mode, cval, channel_axis):
    """The FilterInput of ``x`` copied to the GPU, with a backend whose
    namespace is cupy (its ``store`` rounds and saturates there)."""
    backend = _backend.KernelBackend("gpu-test", cupy, None, ("cupy",))
    axes, channel_axis = v.spatial_axes(x.ndim, channel_axis)
    return v.FilterInput(cupy.asarray(x), axes, channel_axis, v.compute_dtype(x.dtype), mode,
                         v.MODE_CODES[mode], cval, backend)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype,out_dtype", [("uint16", None), ("float32", "uint8"),
                                             ("float64", None)])
def test_on_a_gpu_equals_the_direct_kernel(cupy, rng, mode, dtype, out_dtype):
    x = rand(rng, (2, 30, 27, 33), dtype)
    w = rand(rng, (7, 6, 5))
    cval = cval_for(mode, 2.0)
    inp = gpu_input(cupy, x, mode, cval, 0)
    weights = v.as_kernel(w, 3, inp.compute)
    geom = Geometry(inp, weights.shape, "same", (1, 2, 1), (1, 1, 2), 0)
    out = cupy.empty(inp.full_shape(geom.out_shape), v.output_dtype(out_dtype, inp.compute))
    assert _xp_fft.fft_correlate(cupy, inp, inp.x, weights, geom, out) is out
    _, direct, tol = run_both(x, w, mode=mode, cval=cval, stride=(1, 2, 1), dilation=(1, 1, 2),
                              channel_axis=0, dtype=out_dtype)
    assert_close(cupy.asnumpy(out), direct, tol)


def test_on_a_gpu_two_padded_buffers_at_a_time(cupy, rng, monkeypatch):
    # the pool's peak during a call: the padded input and its spectrum, the
    # spectrum and a slab of the kernel's, the spectrum and the inverse
    # (overwrite_x: no copy); cuFFT's plans and work areas come from the
    # first call and are cached
    host = rand(rng, (90, 100, 110))
    w = rand(rng, (17, 17, 17))
    inp = gpu_input(cupy, host, "reflect", 0.0, None)
    x = inp.x
    geom = Geometry(inp, w.shape, "same", 1, 1, 0)
    fft_shape = [_xp_fft.transforms(cupy)[1](n + 16) for n in x.shape]
    padded_bytes = math.prod(fft_shape) * 4
    monkeypatch.setattr(_xp_fft, "KERNEL_SLAB_BYTES", padded_bytes // 8)
    out = cupy.empty(x.shape, np.float32)
    _xp_fft.fft_correlate(cupy, inp, x, w, geom, out)
    cupy.cuda.Device().synchronize()

    class Peak(cupy.cuda.MemoryHook):
        name = "imgconv-test-peak"

        def __init__(self):
            super().__init__()
            self.live = self.peak = 0

        def malloc_postprocess(self, **kwargs):
            self.live += kwargs["mem_size"]
            self.peak = max(self.peak, self.live)

        def free_postprocess(self, **kwargs):
            self.live -= kwargs["mem_size"]

    peak = Peak()
    with peak:
        _xp_fft.fft_correlate(cupy, inp, x, w, geom, out)
        cupy.cuda.Device().synchronize()
    assert 2 * padded_bytes < peak.peak < 2.5 * padded_bytes
    _, direct, tol = run_both(host, w)
    assert_close(out.get(), direct, tol)

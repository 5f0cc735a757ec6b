"""The image layer's filters against scipy.ndimage and tests/reference.py.

correlate1d, convolve1d, sepfilter, gaussian, box, sobel, prewitt, scharr, laplace,
gradient_magnitude, and the ``method=`` choice of correlate/convolve.

Conventions (docs/design.md "Arrays, axes, dtypes", "Boundary modes"):
- every imgconv ``mode`` equals scipy.ndimage's ``SCIPY_MODE[mode]``
  (imgconv 'reflect' is scipy 'mirror', 'symmetric' is scipy 'reflect', ...);
- compute dtype float32 for float32 and integers up to 16 bits, float64 otherwise;
  integer output dtypes are rounded to nearest and saturated.

The first part runs one battery of generic checks (dtypes, ranks, modes, 1-pixel axes,
channel axis, integer outputs, out=, input layouts, threads) over a table of filter
configurations, ``FILTERS``; the later parts test what is specific to each function.

Zero mode with a nonzero ``cval`` has two readings for filters made of several 1D
passes whose kernels do not all sum to 1: scipy's sequential filters (gaussian_filter,
sobel, prewitt) pad each intermediate result with ``cval`` -- so the order of the passes
matters, and scipy's order is the reference -- while an n-D correlation pads the image
once.  The specification picks scipy's reading for gaussian, sobel, prewitt, scharr and
gradient_magnitude (they "equal scipy.ndimage.<filter>(..., cval=cval)") and the n-D
reading for sepfilter (it "equals ic.correlate with the outer-product kernel").
``Filt.zero_cval`` records which; ``test_zero_mode_nonzero_cval`` checks it.
"""
import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

ndi = pytest.importorskip("scipy.ndimage")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import imgconv as ic  # noqa: E402
from strategies import per_axis  # noqa: E402
from imgconv._validate import SCIPY_MODE, filter_input  # noqa: E402
from reference import (CANONICAL, cval_for, layouts, full_pads, ref_convolve_kernel,  # noqa: E402
                       ref_correlate, same_pads)

CANONICAL_MODES = ["zero", "replicate", "reflect", "symmetric", "wrap"]
ALL_MODES = sorted(CANONICAL)  # every alias too
DTYPES = ["uint8", "uint16", "int16", "int32", "float32", "float64"]
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
COMPUTE = {"uint8": F32, "uint16": F32, "int16": F32, "float32": F32,
           "int32": F64, "float64": F64}
SHAPES = {1: (53,), 2: (29, 38), 3: (11, 13, 14)}
CVAL = 1.5

HYPO = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ===========================================================================
# shared helpers
# ===========================================================================
def smode(mode):
    """scipy.ndimage's name for an imgconv mode or alias."""
    return SCIPY_MODE[CANONICAL[mode]]


def random_array(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return (rng.standard_normal(shape) * 100).astype(dtype)


def value_scale(x, cval=0.0):
    """max |x| over the finite values (and |cval|), at least 1."""
    xs = np.asarray(x, dtype=np.float64)
    finite = xs[np.isfinite(xs)]
    m = float(np.abs(finite).max()) if finite.size else 0.0
    return max(m, abs(cval) if np.isfinite(cval) else 0.0, 1.0)


def assert_close(got, want, x, l1, compute, cval=0.0, eps=None, err_msg=""):
    """|got - want| <= eps * (|want| + l1 * max|x|): ``l1`` is the L1 norm of the
    filter's effective kernel, so ``l1 * max|x|`` bounds the partial sums."""
    compute = np.dtype(compute)
    if eps is None:
        eps = 1e-5 if compute == F32 else 1e-10
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want, rtol=eps,
                               atol=eps * l1 * value_scale(x, cval), equal_nan=True,
                               err_msg=err_msg)


def is_close(got, want, x, l1, compute, cval=0.0, eps=None):
    try:
        assert_close(got, want, x, l1, compute, cval, eps)
    except AssertionError:
        return False
    return True


def spatial_axes(ndim, channel_axis):
    if channel_axis is None:
        return tuple(range(ndim))
    channel_axis %= ndim
    return tuple(a for a in range(ndim) if a != channel_axis)


def per_channel(func, x, channel_axis):
    """func applied to each channel of x, restacked along the channel axis."""
    parts = [func(np.take(x, i, axis=channel_axis)) for i in range(x.shape[channel_axis])]
    return np.stack(parts, axis=channel_axis % x.ndim)


# --- reference filters (float64, spatial axes only) -------------------------
SMOOTH = {"sobel": [1.0, 2.0, 1.0], "prewitt": [1.0, 1.0, 1.0], "scharr": [3.0, 10.0, 3.0]}


def edge_ref(x, op, axis, mode, cval=0.0):
    """[-1, 0, 1] along ``axis`` then the smoothing of ``op`` along every other axis,
    in scipy.ndimage.sobel's order (so sobel/prewitt reproduce scipy exactly);
    ``axis=None``: the magnitude sqrt(sum over axes of the squares)."""
    x = np.asarray(x, dtype=np.float64)
    if axis is None:
        return np.sqrt(sum(edge_ref(x, op, a, mode, cval) ** 2 for a in range(x.ndim)))
    axis %= x.ndim
    out = ndi.correlate1d(x, [-1.0, 0.0, 1.0], axis, mode=mode, cval=cval)
    for a in range(x.ndim):
        if a != axis:
            out = ndi.correlate1d(out, SMOOTH[op], a, mode=mode, cval=cval)
    return out


def edge_l1(op, rank, axis):
    l1 = 2.0 * sum(SMOOTH[op]) ** (rank - 1)
    return l1 * np.sqrt(rank) if axis is None else l1


def sep_ref(x, kernels, mode, cval=0.0):
    """Sequential scipy correlate1d along each axis that has a kernel."""
    out = np.asarray(x, dtype=np.float64)
    for a, k in enumerate(kernels):
        if k is not None:
            out = ndi.correlate1d(out, k, a, mode=mode, cval=cval)
    return out


def outer_kernel(kernels):
    """The n-D kernel of a separable filter ([1] on axes without a kernel)."""
    out = np.ones(())
    for k in kernels:
        out = np.multiply.outer(out, np.asarray([1.0] if k is None else k, dtype=np.float64))
    return out


def gauss_l1(sigma_px, order, truncate):
    """L1 norm of scipy's 1D gaussian kernel (1 for no smoothing)."""
    if sigma_px <= 1e-15:
        return 1.0
    r = int(truncate * sigma_px + 0.5)
    delta = np.zeros(2 * r + 1)
    delta[r] = 1.0
    k = ndi.gaussian_filter1d(delta, sigma_px, order=order, truncate=truncate, mode="constant")
    return float(np.abs(k).sum())


def _per_axis(v, rank):
    return (v,) * rank if np.isscalar(v) else tuple(v)


def gauss_l1_nd(sigma, order, truncate, rank, spacing=1.0):
    sig = [s / p for s, p in zip(_per_axis(sigma, rank), _per_axis(spacing, rank))]
    return float(np.prod([gauss_l1(s, o, truncate)
                          for s, o in zip(sig, _per_axis(order, rank))]))


# ===========================================================================
# the filter table
# ===========================================================================
@dataclass(frozen=True)
class Filt:
    """One filter configuration.

    call(x, axes, **kw): runs imgconv on x whose spatial axes are ``axes`` (array axes)
    ref(x, mode, cval): float64 scipy reference for a spatial-only float64 x (scipy mode)
    l1(rank): L1 norm of the effective kernel (tolerance scale)
    zero_cval: which reading of zero mode with cval != 0 applies, 'scipy' (each pass pads
        with cval, passes in scipy's order) or 'nd' (the image is padded once); None when
        both agree (see the module docstring)
    directional: takes a spatial ``axis`` (only channel-last layouts, where a spatial
        index and an array index agree)
    """
    name: str
    call: Callable
    ref: Callable
    l1: Callable
    eps32: float = 1e-5
    eps64: float = 1e-10
    zero_cval: str = None
    directional: bool = False

    def eps(self, compute):
        return self.eps32 if np.dtype(compute) == F32 else self.eps64


W1 = np.array([0.5, -1.25, 2.0, 0.75])  # even length: centre at index 2
SEPK = {1: [[1.0, -2.0, 0.5, 0.25]],
        2: [[0.25, 0.5, 0.25], [1.0, -2.0, 0.5, 0.25]],
        3: [[1.0, 2.0, 1.0], None, [-1.0, 0.0, 1.0, 0.5]]}
GSIGMA = {1: (1.0,), 2: (1.0, 0.6), 3: (1.0, 0.6, 1.8)}
GORDER = {1: (1,), 2: (1, 2), 3: (1, 0, 2)}
GSPACING = {1: (2.0,), 2: (2.0, 0.8), 3: (2.0, 0.8, 1.25)}
BOX_SIZE = {1: (6,), 2: (3, 4), 3: (3, 4, 6)}
BOX_ORIGIN = {1: (2,), 2: (1, -2), 3: (1, -2, 2)}


def _edge_filt(op, axis):
    name = op if axis is None else f"{op}_axis{axis}"
    if axis == "last":
        call = lambda x, axes, **kw: getattr(ic, op)(x, axis=len(axes) - 1, **kw)
        ref = lambda x, m, c: edge_ref(x, op, x.ndim - 1, m, c)
    else:
        call = lambda x, axes, **kw: getattr(ic, op)(x, axis=axis, **kw)
        ref = lambda x, m, c: edge_ref(x, op, axis, m, c)
    return Filt(name, call, ref, lambda r: edge_l1(op, r, None if axis is None else 0),
                zero_cval="scipy", directional=axis is not None)


def _gradmag_filt(op):
    kw_op = {} if op is None else {"operator": op}
    return Filt(f"gradient_magnitude_{op or 'default'}",
                lambda x, axes, **kw: ic.gradient_magnitude(x, **kw_op, **kw),
                lambda x, m, c: edge_ref(x, op or "sobel", None, m, c),
                lambda r: edge_l1(op or "sobel", r, None), zero_cval="scipy")


FILTERS = [
    Filt("correlate1d",
         lambda x, axes, **kw: ic.correlate1d(x, W1, axis=axes[-1], **kw),
         lambda x, m, c: ndi.correlate1d(x, W1, axis=-1, mode=m, cval=c),
         lambda r: float(np.abs(W1).sum())),
    Filt("convolve1d",
         lambda x, axes, **kw: ic.convolve1d(x, W1, axis=axes[0], **kw),
         lambda x, m, c: ndi.convolve1d(x, W1, axis=0, mode=m, cval=c),
         lambda r: float(np.abs(W1).sum())),
    Filt("sepfilter",
         lambda x, axes, **kw: ic.sepfilter(x, SEPK[len(axes)], **kw),
         lambda x, m, c: sep_ref(x, SEPK[x.ndim], m, c),
         lambda r: float(np.abs(outer_kernel(SEPK[r])).sum()), zero_cval="nd"),
    Filt("gaussian",
         lambda x, axes, **kw: ic.gaussian(x, 1.3, **kw),
         lambda x, m, c: ndi.gaussian_filter(x, 1.3, mode=m, cval=c),
         lambda r: 1.0),
    Filt("gaussian_deriv",
         lambda x, axes, **kw: ic.gaussian(x, GSIGMA[len(axes)], order=GORDER[len(axes)],
                                           truncate=3.5, **kw),
         lambda x, m, c: ndi.gaussian_filter(x, GSIGMA[x.ndim], order=GORDER[x.ndim],
                                             truncate=3.5, mode=m, cval=c),
         lambda r: gauss_l1_nd(GSIGMA[r], GORDER[r], 3.5, r), zero_cval="scipy"),
    Filt("gaussian_spacing",
         lambda x, axes, **kw: ic.gaussian(x, 1.7, spacing=GSPACING[len(axes)], **kw),
         lambda x, m, c: ndi.gaussian_filter(x, [1.7 / s for s in GSPACING[x.ndim]],
                                             mode=m, cval=c),
         lambda r: 1.0),
    Filt("box",
         lambda x, axes, **kw: ic.box(x, 5, **kw),
         lambda x, m, c: ndi.uniform_filter(x, 5, mode=m, cval=c),
         lambda r: 1.0, eps32=1e-4, eps64=1e-9),
    Filt("box_aniso_origin",
         lambda x, axes, **kw: ic.box(x, BOX_SIZE[len(axes)], origin=BOX_ORIGIN[len(axes)],
                                      **kw),
         lambda x, m, c: ndi.uniform_filter(x, BOX_SIZE[x.ndim], origin=BOX_ORIGIN[x.ndim],
                                            mode=m, cval=c),
         lambda r: 1.0, eps32=1e-4, eps64=1e-9),
    _edge_filt("sobel", None),
    _edge_filt("sobel", 0),
    _edge_filt("prewitt", None),
    _edge_filt("prewitt", "last"),
    _edge_filt("scharr", None),
    _edge_filt("scharr", 0),
    Filt("laplace",
         lambda x, axes, **kw: ic.laplace(x, **kw),
         lambda x, m, c: ndi.laplace(x, mode=m, cval=c),
         lambda r: 4.0 * r),
    _gradmag_filt(None),
    _gradmag_filt("prewitt"),
    _gradmag_filt("scharr"),
]
FILTER_IDS = [f.name for f in FILTERS]
parametrize_filters = pytest.mark.parametrize("f", FILTERS, ids=FILTER_IDS)


def run(f, x, channel_axis=None, **kw):
    if channel_axis is not None:
        kw["channel_axis"] = channel_axis
    return f.call(x, spatial_axes(np.ndim(x), channel_axis), **kw)


def check_filter(f, x, mode="reflect", cval=0.0, pass_mode=True, err_msg=""):
    """imgconv result of ``f`` on a spatial-only ``x`` against scipy."""
    kw = {"mode": mode, "cval": cval} if pass_mode else {}
    got = run(f, x, **kw)
    compute = COMPUTE[x.dtype.name]
    assert got.dtype == compute, (got.dtype, compute)
    assert got.shape == x.shape
    want = f.ref(x.astype(np.float64), smode(mode), cval)
    assert_close(got, want, x, f.l1(x.ndim), compute, cval, f.eps(compute), err_msg=err_msg)
    return got


# ===========================================================================
# generic checks over the table
# ===========================================================================
@parametrize_filters
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dtypes_and_ranks_vs_scipy(f, rank, dtype):
    rng = np.random.default_rng(rank * 10 + DTYPES.index(dtype))
    x = random_array(rng, SHAPES[rank], dtype)
    keep = x.copy()
    check_filter(f, x, pass_mode=False)  # default mode: reflect == scipy 'mirror'
    np.testing.assert_array_equal(x, keep)  # the input is never modified
    assert x.dtype == np.dtype(dtype)


@parametrize_filters
@pytest.mark.parametrize("mode", ALL_MODES)
def test_modes_vs_scipy(f, mode):
    rng = np.random.default_rng(len(mode))
    cval = 0.0 if f.zero_cval else cval_for(mode, CVAL)  # readings: test_zero_mode_nonzero_cval
    for rank in (1, 2, 3):
        x = rng.standard_normal(SHAPES[rank])
        check_filter(f, x, mode, cval, err_msg=f"rank {rank}")


@parametrize_filters
@pytest.mark.parametrize("shape", [(1,), (2,), (1, 9), (7, 1), (1, 1), (2, 3),
                                   (1, 6, 5), (4, 1, 1), (1, 1, 1), (3, 1, 2)])
def test_tiny_and_one_pixel_axes(f, shape):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    for mode in CANONICAL_MODES:
        cval = 0.0 if f.zero_cval else cval_for(mode, CVAL)  # readings: test_zero_mode_nonzero_cval
        check_filter(f, x, mode, cval, err_msg=mode)


CHANNEL_LAYOUTS = [((29, 38, 3), -1), ((29, 38, 3), 2), ((3, 29, 38), 0), ((41, 3), -1),
                   ((2, 41), 0), ((9, 10, 11, 2), -1), ((9, 2, 10, 11), 1),
                   ((9, 10, 3, 11), -2)]


@parametrize_filters
@pytest.mark.parametrize("shape,channel_axis", CHANNEL_LAYOUTS,
                         ids=[f"{s}-ch{c}" for s, c in CHANNEL_LAYOUTS])
def test_channel_axis_is_per_channel(f, shape, channel_axis):
    if f.directional and channel_axis % len(shape) != len(shape) - 1:
        pytest.skip("a spatial axis index is only unambiguous with channels last")
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape)
    keep = x.copy()
    for mode in ["reflect", "wrap", "symmetric"]:
        got = run(f, x, channel_axis=channel_axis, mode=mode)
        assert got.shape == x.shape and got.dtype == F64
        # the same as filtering each channel on its own ...
        each = per_channel(lambda c: run(f, c, mode=mode), x, channel_axis)
        assert_close(got, each, x, f.l1(len(shape) - 1), F64, eps=1e-12, err_msg=mode)
        # ... which is scipy's result for that channel
        want = per_channel(lambda c: f.ref(c, smode(mode), 0.0), x, channel_axis)
        assert_close(got, want, x, f.l1(len(shape) - 1), F64, eps=f.eps64, err_msg=mode)
    np.testing.assert_array_equal(x, keep)


def test_channel_axis_rgb_uint8():
    # the common case: an RGB uint8 image, channels last, uint8 out
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (29, 38, 3), dtype=np.uint8)
    for f in FILTERS:
        got = run(f, x, channel_axis=-1)
        assert got.dtype == F32, f.name
        each = per_channel(lambda c: run(f, c), x, -1)
        np.testing.assert_allclose(got, each, rtol=1e-6, atol=1e-6 * 255 * f.l1(2),
                                   err_msg=f.name)


@parametrize_filters
@pytest.mark.parametrize("out_dtype", ["uint8", "int16"])
def test_integer_output_rounds_and_saturates(f, out_dtype):
    rng = np.random.default_rng(6)
    info = np.iinfo(out_dtype)
    big = 2000.0 if out_dtype == "uint8" else 2e5
    x = rng.normal(100.0, 200.0, (29, 38))
    x[:8] = big  # blocks far out of range: saturated results inside and at their edges
    x[-8:, :19] = -big
    x = x.astype(np.float32)
    got = run(f, x, dtype=out_dtype)
    assert got.dtype == np.dtype(out_dtype)
    own = run(f, x)  # the float32 result that gets rounded
    assert own.dtype == F32
    ref = f.ref(x.astype(np.float64), "mirror", 0.0)
    tol = 1.0 + f.eps32 * f.l1(2) * value_scale(x)  # rounding + float32 compute
    want = np.clip(np.rint(ref), info.min, info.max)
    diff = np.abs(got.astype(np.float64) - want)
    assert diff.max() <= tol, diff.max()  # never wrapped
    mine = np.clip(np.rint(own.astype(np.float64)), info.min, info.max)
    assert (got == mine).mean() > 0.99  # round to nearest (ties may go either way)
    # far out of range: saturated exactly
    hi, lo = ref > info.max + tol + 1, ref < info.min - tol - 1
    assert hi.any() or lo.any(), "test input does not reach the saturation range"
    assert np.all(got[hi] == info.max) and np.all(got[lo] == info.min)


@parametrize_filters
def test_out_preallocated(f):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((29, 38)) * 50).astype(np.float32)
    want = run(f, x)
    out = np.full(x.shape, np.nan, np.float32)
    res = run(f, x, out=out)
    assert res is out
    np.testing.assert_array_equal(out, want)
    # a strided view of a bigger buffer, integer dtype
    want8 = run(f, x, dtype=np.uint8)
    big = np.full((58, 76), 7, np.uint8)
    view = big[::2, 1::2]
    res = run(f, x, dtype=np.uint8, out=view)
    assert res is view
    np.testing.assert_array_equal(view, want8)
    assert np.all(big[1::2] == 7) and np.all(big[::2, ::2] == 7)
    # with channels
    xc = np.stack([x, -x, 2 * x], axis=-1)
    wantc = run(f, xc, channel_axis=-1)
    outc = np.empty(xc.shape, np.float32)
    assert run(f, xc, channel_axis=-1, out=outc) is outc
    np.testing.assert_array_equal(outc, wantc)


@parametrize_filters
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int32", "float32", "float64"])
def test_input_layouts_same_as_contiguous(f, dtype):
    rng = np.random.default_rng(8)
    for rank in (2, 3):
        x = random_array(rng, SHAPES[rank], dtype)
        want = run(f, x)
        compute = COMPUTE[dtype]
        for name, xv in layouts(x):
            before = xv.copy()
            got = run(f, xv)
            assert got.dtype == compute, name
            assert_close(got, want, x, f.l1(rank), compute,
                         eps=1e-6 if compute == F32 else 1e-13, err_msg=name)
            np.testing.assert_array_equal(xv, before, err_msg=name)
            assert xv.dtype == before.dtype


@parametrize_filters
def test_threads_same_result(f):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((11, 13, 14))
    one = run(f, x, threads=1)
    two = run(f, x, threads=2)
    assert_close(two, one, x, f.l1(3), F64, eps=1e-13)


@parametrize_filters
@pytest.mark.parametrize("mode", ["bogus", "same", None])
def test_unknown_mode(f, mode):
    with pytest.raises(ValueError, match="mode"):
        run(f, np.ones((6, 7)), mode=mode)


@parametrize_filters
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_zero_mode_nonzero_cval(f, rank):
    """Zero mode pads with cval; where the two readings differ (module docstring),
    ``f.zero_cval`` says which one the specification asks for."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal(SHAPES[rank])
    cval = 2.5
    got = run(f, x, mode="zero", cval=cval)
    scipy_like = f.ref(x, "constant", cval)  # scipy: each pass pads with cval
    pad = 25  # wider than every kernel radius in the table
    padded = np.pad(x, pad, mode="constant", constant_values=cval)
    nd = f.ref(padded, "constant", cval)[(slice(pad, -pad),) * rank]  # padded once
    l1 = f.l1(rank)
    if f.zero_cval is None or rank == 1:  # the readings agree
        np.testing.assert_allclose(scipy_like, nd, rtol=1e-9, atol=1e-9 * l1 * 3)
    want = nd if f.zero_cval == "nd" else scipy_like
    assert_close(got, want, x, l1, F64, cval, f.eps64,
                 err_msg=f"zero mode, cval={cval}: expected the {f.zero_cval or 'common'} reading")


# ===========================================================================
# correlate1d / convolve1d
# ===========================================================================
ONED = {"correlate1d": ndi.correlate1d, "convolve1d": ndi.convolve1d}


@pytest.mark.parametrize("func", list(ONED))
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("mode", CANONICAL_MODES)
def test_1d_vs_scipy_all_axes_sizes_origins(func, rank, mode):
    rng = np.random.default_rng(rank)
    x = rng.standard_normal(SHAPES[rank])
    cval = cval_for(mode, -CVAL)
    for axis in list(range(rank)) + list(range(-rank, 0)):
        for n in range(1, 7):
            w = rng.standard_normal(n)
            for origin in range(-(n // 2), (n - 1) // 2 + 1):
                got = getattr(ic, func)(x, w, axis=axis, mode=mode, cval=cval, origin=origin)
                want = ONED[func](x, w, axis=axis, mode=smode(mode), cval=cval, origin=origin)
                assert_close(got, want, x, np.abs(w).sum(), F64, cval,
                             err_msg=f"axis={axis} n={n} origin={origin}")


@pytest.mark.parametrize("func", list(ONED))
@pytest.mark.parametrize("rank", [4, 5, 6])
@pytest.mark.parametrize("mode", CANONICAL_MODES)
def test_1d_any_rank_vs_scipy(func, rank, mode):
    """A 1D filter along one axis takes any rank (every other axis is
    batch-like), as scipy.ndimage's; 4-D and 5-D inputs were refused with a
    hint to pass an ``axes`` these functions did not have."""
    rng = np.random.default_rng(40 + rank)
    x = rng.standard_normal(tuple(int(n) for n in rng.integers(1, 6, size=rank)))
    cval = cval_for(mode, -CVAL)
    for axis in list(range(rank)) + [-1, -rank]:
        n = int(rng.integers(1, 8))
        w = rng.standard_normal(n)
        origin = int(rng.integers(-(n // 2), (n - 1) // 2 + 1))
        got = getattr(ic, func)(x, w, axis=axis, mode=mode, cval=cval, origin=origin)
        want = ONED[func](x, w, axis=axis, mode=smode(mode), cval=cval, origin=origin)
        assert_close(got, want, x, np.abs(w).sum(), F64, cval, err_msg=f"axis={axis} n={n}")
    # with a channel axis too, and as float32 into a strided out
    x32 = x.astype(np.float32)
    out = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), np.float32)[..., ::2]
    got = getattr(ic, func)(x32, w, axis=1, channel_axis=0, mode=mode, cval=cval, out=out)
    assert got is out
    assert_close(out, ONED[func](x32.astype(np.float64), w, axis=1, mode=smode(mode),
                                 cval=cval), x, np.abs(w).sum(), F32, cval)


def test_too_many_spatial_dims_suggests_only_existing_parameters():
    import inspect
    x = np.ones((3,) * 5)
    calls = [(ic.gaussian, (1.0,)), (ic.box, (3,)), (ic.sobel, ()), (ic.laplace, ()),
             (ic.correlate, (np.ones((3,) * 5),)), (ic.sepfilter, ([[1.0]] * 5,)),
             (ic.dilate, ()), (ic.max_pool, (2,)), (ic.pool, (2,))]
    for func, args in calls:
        with pytest.raises(ValueError, match=r"5 spatial dimensions.*pass channel_axis or axes"):
            func(x, *args)
        params = inspect.signature(func).parameters
        if func is not ic.max_pool:     # max_pool passes its keywords on to pool
            assert "channel_axis" in params and "axes" in params, func.__name__


@pytest.mark.parametrize("func", list(ONED))
def test_1d_default_axis_is_last(func):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((7, 9))
    w = [1.0, -2.0, 3.0]
    f = getattr(ic, func)
    np.testing.assert_array_equal(f(x, w), f(x, w, axis=-1))
    np.testing.assert_array_equal(f(x, w), f(x, w, axis=1))
    assert_close(f(x, w), ONED[func](x, w, axis=-1, mode="mirror"), x, 6, F64)


@pytest.mark.parametrize("func", list(ONED))
@pytest.mark.parametrize("shape,channel_axis,axes", [
    ((29, 38, 3), -1, [0, 1, -2, -3]), ((3, 29, 38), 0, [1, 2, -1, -2]),
    ((9, 10, 2, 11), 2, [0, 1, 3, -1, -4]), ((41, 3), 1, [0, -2]),
])
def test_1d_with_channel_axis(func, shape, channel_axis, axes):
    """``axis`` is an axis of the array; channels never mix, so the result is scipy's
    1D filter of the whole array along that axis."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal(shape)
    w = rng.standard_normal(4)
    for axis in axes:
        got = getattr(ic, func)(x, w, axis=axis, channel_axis=channel_axis, mode="wrap")
        want = ONED[func](x, w, axis=axis, mode="wrap")
        assert_close(got, want, x, np.abs(w).sum(), F64, err_msg=f"axis={axis}")


@pytest.mark.parametrize("func", list(ONED))
@pytest.mark.parametrize("shape,channel_axis,axis", [
    ((29, 38, 3), -1, -1), ((29, 38, 3), -1, 2), ((29, 38, 3), 2, -1), ((3, 29, 38), 0, 0),
    ((3, 29, 38), 0, -3), ((9, 10, 2, 11), 2, -2),
])
def test_1d_axis_is_channel_axis(func, shape, channel_axis, axis):
    with pytest.raises(ValueError, match="axis"):
        getattr(ic, func)(np.ones(shape), [1.0, 2.0], axis=axis, channel_axis=channel_axis)


@pytest.mark.parametrize("func", list(ONED))
@pytest.mark.parametrize("shape,axis", [((5,), 1), ((5,), -2), ((5, 6), 2), ((5, 6), -3),
                                        ((4, 5, 6), 3), ((4, 5, 6), 7)])
def test_1d_axis_out_of_range(func, shape, axis):
    with pytest.raises(ValueError, match="axis"):
        getattr(ic, func)(np.ones(shape), [1.0, 2.0], axis=axis)


@pytest.mark.parametrize("func", list(ONED))
@pytest.mark.parametrize("weights", [np.ones((3, 3)), np.ones((1, 3)), np.ones(0), []])
def test_1d_weights_not_1d_or_empty(func, weights):
    with pytest.raises(ValueError):
        getattr(ic, func)(np.ones((6, 7)), weights, axis=0)


@pytest.mark.parametrize("func", list(ONED))
@pytest.mark.parametrize("n,origin", [(3, 2), (3, -2), (4, 2), (4, -3), (1, 1)])
def test_1d_origin_out_of_range(func, n, origin):
    with pytest.raises(ValueError, match="origin"):
        getattr(ic, func)(np.ones((6, 7)), np.ones(n), axis=0, origin=origin)


@HYPO
@given(data=st.data())
def test_1d_random_vs_scipy(data):
    rank = data.draw(st.integers(1, 3), label="rank")
    shape = tuple(data.draw(st.lists(st.integers(1, 12), min_size=rank, max_size=rank),
                            label="shape"))
    axis = data.draw(st.integers(-rank, rank - 1), label="axis")
    n = data.draw(st.integers(1, 9), label="n")
    origin = data.draw(st.integers(-(n // 2), (n - 1) // 2), label="origin")
    mode = data.draw(st.sampled_from(ALL_MODES), label="mode")
    func = data.draw(st.sampled_from(list(ONED)), label="func")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    cval = cval_for(mode, data.draw(st.floats(-10, 10), label="cval"))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed"))
    x = random_array(rng, shape, dtype)
    w = rng.standard_normal(n)
    got = getattr(ic, func)(x, w, axis=axis, mode=mode, cval=cval, origin=origin)
    want = ONED[func](x.astype(np.float64), w, axis=axis, mode=smode(mode), cval=cval,
                      origin=origin)
    assert got.dtype == COMPUTE[dtype]
    assert_close(got, want, x, np.abs(w).sum(), COMPUTE[dtype], cval)


# ===========================================================================
# sepfilter
# ===========================================================================
def sep_case(rng, rank, none_axes=()):
    kernels, origin = [], []
    for a in range(rank):
        if a in none_axes:
            kernels.append(None)
            origin.append(0)
        else:
            n = int(rng.integers(1, 6))
            kernels.append(rng.standard_normal(n))
            origin.append(int(rng.integers(-(n // 2), (n - 1) // 2 + 1)))
    return kernels, tuple(origin)


def sep_reference(x, kernels, mode, cval, origin, stride, dilation):
    w = outer_kernel(kernels)
    lo, hi = same_pads(w.shape, dilation, origin)
    return ref_correlate(x, w, mode, cval, lo, hi, stride, dilation)


SEP_GEOMETRY = [dict(), dict(stride=2), dict(dilation=2), dict(stride=3, dilation=2),
                dict(stride=(1, 2, 3), dilation=(2, 1, 3))]


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("mode", CANONICAL_MODES)
@pytest.mark.parametrize("dtype", ["float64", "float32", "uint8"])
def test_sepfilter_vs_reference(rank, mode, dtype):
    rng = np.random.default_rng(rank * 7 + len(mode))
    x = random_array(rng, SHAPES[rank], dtype)
    compute = COMPUTE[dtype]
    cval = cval_for(mode, CVAL)
    for none_axes in [(), (0,), (rank - 1,)]:
        if len(none_axes) == rank:
            continue
        kernels, origin = sep_case(rng, rank, none_axes)
        l1 = np.abs(outer_kernel(kernels)).sum()
        for geom in SEP_GEOMETRY:
            stride = geom.get("stride", 1)
            dilation = geom.get("dilation", 1)
            stride = stride if np.isscalar(stride) else stride[:rank]
            dilation = dilation if np.isscalar(dilation) else dilation[:rank]
            for org in (0, origin):
                got = ic.sepfilter(x, kernels, mode=mode, cval=cval, origin=org, stride=stride,
                                   dilation=dilation)
                want = sep_reference(x, kernels, mode, cval, org, stride, dilation)
                s = (stride,) * rank if np.isscalar(stride) else stride
                assert got.shape == tuple(-(-n // k) for n, k in zip(x.shape, s))
                assert got.dtype == compute
                assert_close(got, want, x, l1, compute, cval,
                             err_msg=f"{kernels} origin={org} {geom}")


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("mode", CANONICAL_MODES)
def test_sepfilter_equals_correlate_with_outer_kernel(rank, mode):
    rng = np.random.default_rng(13)
    x = rng.standard_normal(SHAPES[rank])
    kernels, origin = sep_case(rng, rank, (1,) if rank == 3 else ())
    w = outer_kernel(kernels)
    cval = cval_for(mode, CVAL)
    for kw in [dict(), dict(origin=origin), dict(stride=2, dilation=3),
               dict(stride=(3, 1, 2)[:rank], origin=origin)]:
        got = ic.sepfilter(x, kernels, mode=mode, cval=cval, **kw)
        want = ic.correlate(x, w, mode=mode, cval=cval, method="direct", **kw)
        assert_close(got, want, x, np.abs(w).sum(), F64, cval, err_msg=str(kw))
    # 1D kernels as lists and tuples
    got = ic.sepfilter(x, [None if k is None else list(k) for k in kernels], mode=mode)
    assert_close(got, ic.correlate(x, w, mode=mode, method="direct"), x, np.abs(w).sum(), F64)


@pytest.mark.parametrize("shape,sigma", [((20, 30), 1e4), ((6, 7, 8), (0, 4000.0, 4000.0))])
def test_gaussian_sigma_far_beyond_the_image(shape, sigma):
    # kernels of ~10^5 taps on both axes a fused pass would combine: run
    # pass by pass (the fused pass would cache rows of the whole x window for
    # every y tap, 8-25 GB here), without building the dense outer product
    from imgconv import _cpu
    from imgconv._convolve import Geometry

    inp = filter_input(np.zeros(shape))
    taps = int(8 * max(np.atleast_1d(sigma))) + 1
    factors = [np.ones(taps)] * len(shape)
    assert not _cpu.fused_rows_fit(inp, Geometry(inp, (taps,) * len(shape), "same", 1, 1, 0),
                                   factors, len(shape) - 2)
    x = np.random.default_rng(19).random(shape)
    got = ic.gaussian(x, sigma, mode="wrap")
    want = ndi.gaussian_filter(x, sigma, mode="grid-wrap")
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    got32 = ic.gaussian(x.astype(np.float32), sigma, mode="reflect")
    want32 = ndi.gaussian_filter(x, sigma, mode="mirror")
    np.testing.assert_allclose(got32, want32, rtol=0, atol=2e-3)


@pytest.mark.parametrize("shape,channel_axis", [((29, 38, 3), -1), ((3, 29, 38), 0),
                                                ((9, 10, 2, 11), 2)])
def test_sepfilter_channel_axis(shape, channel_axis):
    rng = np.random.default_rng(14)
    x = rng.standard_normal(shape)
    rank = len(shape) - 1
    kernels, origin = sep_case(rng, rank)
    got = ic.sepfilter(x, kernels, channel_axis=channel_axis, mode="symmetric", origin=origin,
                       stride=2)
    want = per_channel(lambda c: sep_reference(c, kernels, "symmetric", 0.0, origin, 2, 1),
                       x, channel_axis)
    assert_close(got, want, x, np.abs(outer_kernel(kernels)).sum(), F64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sepfilter_all_none_is_a_converted_copy(dtype):
    rng = np.random.default_rng(15)
    x = random_array(rng, (9, 10), dtype)
    got = ic.sepfilter(x, [None, None])
    assert got.dtype == COMPUTE[dtype]
    np.testing.assert_array_equal(got, x.astype(COMPUTE[dtype]))
    assert not np.shares_memory(got, x)


def test_sepfilter_all_none_integer_output_rounds_and_saturates():
    xf = np.array([[-3.0, 0.4, 0.6], [254.6, 300.0, 2.5]])
    got8 = ic.sepfilter(xf, [None, None], dtype=np.uint8)
    assert got8.dtype == np.uint8
    np.testing.assert_array_equal(got8[0], [0, 0, 1])
    assert got8[1, 0] == 255 and got8[1, 1] == 255 and got8[1, 2] in (2, 3)


@pytest.mark.parametrize("kernels", [[np.ones((3, 3)), None], [None, np.ones((1, 3))],
                                     [np.ones(3), np.float64(2.0)], [np.ones(3), [[1, 2]]]])
def test_sepfilter_kernel_not_1d(kernels):
    with pytest.raises(ValueError, match="kernels"):
        ic.sepfilter(np.ones((6, 7)), kernels)


@pytest.mark.parametrize("shape,kwargs,n", [((6, 7), {}, 1), ((6, 7), {}, 3), ((9,), {}, 2),
                                            ((4, 5, 6), {}, 2), ((6, 7, 3), {"channel_axis": -1}, 3),
                                            ((6, 7, 3), {"channel_axis": -1}, 1)])
def test_sepfilter_wrong_number_of_kernels(shape, kwargs, n):
    with pytest.raises(ValueError, match="kernels"):
        ic.sepfilter(np.ones(shape), [np.ones(3)] * n, **kwargs)


# ===========================================================================
# gaussian
# ===========================================================================
def gauss_cases(rank):
    r = rank
    return [
        dict(sigma=1.0), dict(sigma=0.4), dict(sigma=2.5, truncate=2.0),
        dict(sigma=4.0),  # radius 16: wider than the 3D axes
        dict(sigma=(1.5, 0.0, 0.7)[:r]), dict(sigma=(0.0, 2.0, 0.0)[:r]),
        dict(sigma=1.0, truncate=1.0), dict(sigma=0.9, truncate=6.0),
        dict(sigma=1.2, order=1), dict(sigma=1.2, order=2), dict(sigma=1.5, order=3),
        dict(sigma=(1.0, 1.5, 0.8)[:r], order=(0, 1, 2)[:r]),
        dict(sigma=1.0, order=(2, 0, 1)[:r], truncate=3.0),
        dict(sigma=(0.7, 1.1, 1.3)[:r], order=(3, 1, 0)[:r], truncate=5.0),
    ]


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("mode", CANONICAL_MODES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gaussian_vs_scipy(rank, mode, dtype):
    rng = np.random.default_rng(rank + 3 * len(mode))
    x = random_array(rng, SHAPES[rank], dtype)
    compute = COMPUTE[dtype]
    for case in gauss_cases(rank):
        order = case.get("order", 0)
        truncate = case.get("truncate", 4.0)
        cval = cval_for(mode, CVAL)  # zero mode: scipy's reading (the module docstring)
        got = ic.gaussian(x, case["sigma"], mode=mode, cval=cval,
                          **{k: v for k, v in case.items() if k != "sigma"})
        want = ndi.gaussian_filter(x.astype(np.float64), case["sigma"], order=order,
                                   truncate=truncate, mode=smode(mode), cval=cval)
        assert got.dtype == compute and got.shape == x.shape
        assert_close(got, want, x, gauss_l1_nd(case["sigma"], order, truncate, rank),
                     compute, cval, err_msg=str(case))


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("mode", ["reflect", "zero", "wrap"])
def test_gaussian_spacing_is_physical_units(rank, mode):
    rng = np.random.default_rng(16)
    x = rng.standard_normal(SHAPES[rank])
    r = rank
    cval = cval_for(mode, CVAL)
    for sigma, spacing, truncate in [
        (1.0, 0.5, 4.0), (1.5, (2.0, 0.5, 1.25)[:r], 4.0),
        ((1.0, 2.0, 0.5)[:r], (0.5, 2.0, 1.0)[:r], 3.0),
        (1.7, 2.0, 4.0),  # sigma_px = 0.85: radius int(4 * 0.85 + 0.5) = 3 pixels
        (3.0, (1.5, 3.0, 0.75)[:r], 2.2), (0.9, 0.3, 4.0),
    ]:
        got = ic.gaussian(x, sigma, spacing=spacing, truncate=truncate, mode=mode, cval=cval)
        sig_px = [s / p for s, p in zip(_per_axis(sigma, r), _per_axis(spacing, r))]
        want = ndi.gaussian_filter(x, sig_px, truncate=truncate, mode=smode(mode), cval=cval)
        assert_close(got, want, x, 1.0, F64, cval, err_msg=f"{sigma} {spacing}")
    # spacing 1 everywhere changes nothing
    np.testing.assert_array_equal(ic.gaussian(x, 1.3, spacing=1.0, mode=mode),
                                  ic.gaussian(x, 1.3, mode=mode))


def test_gaussian_taps_are_kept_read_only():
    # the taps of recent sigmas are kept (computing them costs more than
    # filtering a small image): shared, so nobody may change them
    from imgconv._filters import gaussian_kernel1d
    taps = gaussian_kernel1d(1.5, 1, 6)
    assert gaussian_kernel1d(1.5, 1, 6) is taps and not taps.flags.writeable
    with pytest.raises(ValueError):
        taps[0] = 1
    x = np.random.default_rng(18).random((20, 30))
    first = ic.gaussian(x, 1.5, order=(0, 1))
    np.testing.assert_array_equal(ic.gaussian(x, 1.5, order=(0, 1)), first)
    assert_close(first, ndi.gaussian_filter(x, 1.5, order=(0, 1), mode="mirror"), x, 1.0, F64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_sigma_zero_is_identity(dtype):
    rng = np.random.default_rng(17)
    x = random_array(rng, (9, 10), dtype)
    for sigma in (0, 0.0, (0, 0)):
        got = ic.gaussian(x, sigma)
        assert got.dtype == COMPUTE[dtype]
        np.testing.assert_array_equal(got, x.astype(COMPUTE[dtype]))
    # zero on one axis: a 1D gaussian along the other
    xf = x.astype(np.float64)
    assert_close(ic.gaussian(x, (0, 1.5)), ndi.gaussian_filter1d(xf, 1.5, axis=1, mode="mirror"),
                 x, 1.0, COMPUTE[dtype])


@pytest.mark.parametrize("shape,channel_axis", [((29, 38, 3), -1), ((3, 29, 38), 0),
                                                ((9, 10, 11, 2), 3), ((9, 2, 10, 11), 1)])
def test_gaussian_channel_axis_sigma_per_spatial_axis(shape, channel_axis):
    rng = np.random.default_rng(18)
    x = rng.standard_normal(shape)
    ch = channel_axis % len(shape)
    rank = len(shape) - 1
    sigma = (1.5, 0.8, 2.0)[:rank]
    spacing = (0.5, 1.0, 2.0)[:rank]
    order = (1, 0, 2)[:rank]

    def full(values, fill):  # per spatial axis -> per array axis
        values = list(values)
        values.insert(ch, fill)
        return values

    sig_px = [s / p for s, p in zip(sigma, spacing)]
    cases = [(dict(sigma=sigma), full(sigma, 0), 0),
             (dict(sigma=sigma, spacing=spacing), full(sig_px, 0), 0),
             (dict(sigma=sigma, order=order), full(sigma, 0), full(order, 0)),
             (dict(sigma=1.2), full([1.2] * rank, 0), 0)]
    for kw, sig_full, order_full in cases:
        got = ic.gaussian(x, channel_axis=channel_axis, mode="symmetric", **kw)
        want = ndi.gaussian_filter(x, sig_full, order=order_full, mode="reflect")
        l1 = gauss_l1_nd(kw["sigma"], kw.get("order", 0), 4.0, rank, kw.get("spacing", 1.0))
        assert_close(got, want, x, l1, F64, err_msg=str(kw))


@pytest.mark.parametrize("kwargs,name", [
    (dict(sigma=-1.0), "sigma"), (dict(sigma=(1.0, -0.5)), "sigma"),
    (dict(sigma=(1.0, 1.0, 1.0)), "sigma"), (dict(sigma=(1.0,)), "sigma"),
    (dict(sigma=1.0, spacing=0.0), "spacing"), (dict(sigma=1.0, spacing=-1.0), "spacing"),
    (dict(sigma=1.0, spacing=(1.0, 0.0)), "spacing"),
    (dict(sigma=1.0, spacing=(1.0, -2.0)), "spacing"),
    (dict(sigma=1.0, spacing=(1.0, 1.0, 1.0)), "spacing"),
    (dict(sigma=1.0, order=-1), "order"), (dict(sigma=1.0, order=(0, -1)), "order"),
    (dict(sigma=1.0, order=(0, 1, 0)), "order"),
    # kernels longer than the image are folded onto it as their taps are
    # made; beyond 2**52 taps (offsets inexact in float64) a clear error
    (dict(sigma=1e17), "sigma=1e\\+17 with truncate=4 makes a kernel"),
    (dict(sigma=1.0, truncate=1e17), "truncate=1e\\+17 makes a kernel"),
])
def test_gaussian_bad_arguments(kwargs, name):
    kwargs = dict(kwargs)
    sigma = kwargs.pop("sigma")
    with pytest.raises(ValueError, match=name):
        ic.gaussian(np.ones((6, 7)), sigma, **kwargs)


def test_gaussian_sigma_with_channel_axis_counts_spatial_axes_only():
    with pytest.raises(ValueError, match="sigma"):
        ic.gaussian(np.ones((6, 7, 3)), (1.0, 1.0, 1.0), channel_axis=-1)


@HYPO
@given(data=st.data())
def test_gaussian_random_vs_scipy(data):
    rank = data.draw(st.integers(1, 3), label="rank")
    shape = tuple(data.draw(st.lists(st.integers(1, 12), min_size=rank, max_size=rank),
                            label="shape"))
    order = tuple(data.draw(st.lists(st.integers(0, 3), min_size=rank, max_size=rank),
                            label="order"))
    truncate = data.draw(st.floats(1.0, 5.0), label="truncate")
    # a derivative needs a kernel radius >= 1: int(truncate * sigma + 0.5) >= 1
    sigma = tuple(data.draw(st.floats(max(0.3, 0.6 / truncate), 3.0) if o else
                            st.one_of(st.just(0.0), st.floats(0.05, 3.0)), label="sigma")
                  for o in order)
    mode = data.draw(st.sampled_from(ALL_MODES), label="mode")
    dtype = data.draw(st.sampled_from(["float32", "float64", "uint16"]), label="dtype")
    cval = cval_for(mode, data.draw(st.floats(-10, 10), label="cval"))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed"))
    x = random_array(rng, shape, dtype)
    got = ic.gaussian(x, sigma, order=order, truncate=truncate, mode=mode, cval=cval)
    want = ndi.gaussian_filter(x.astype(np.float64), sigma, order=order, truncate=truncate,
                               mode=smode(mode), cval=cval)
    assert_close(got, want, x, gauss_l1_nd(sigma, order, truncate, rank), COMPUTE[dtype], cval)


# ===========================================================================
# box (running sums)
# ===========================================================================
def box_eps(compute):
    return 1e-4 if np.dtype(compute) == F32 else 1e-9


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("mode", CANONICAL_MODES)
@pytest.mark.parametrize("dtype", ["float64", "float32", "uint16", "int32"])
def test_box_vs_scipy_sizes(rank, mode, dtype):
    rng = np.random.default_rng(rank + len(mode))
    x = random_array(rng, SHAPES[rank], dtype)
    compute = COMPUTE[dtype]
    r = rank
    cval = cval_for(mode, CVAL)
    for size in [1, 2, 3, 4, 7, 51, 100, (1, 2, 3)[:r], (51, 5, 30)[:r], (4, 100, 1)[:r]]:
        got = ic.box(x, size, mode=mode, cval=cval)
        want = ndi.uniform_filter(x.astype(np.float64), size, mode=smode(mode), cval=cval)
        assert got.dtype == compute and got.shape == x.shape
        assert_close(got, want, x, 1.0, compute, cval, box_eps(compute), err_msg=str(size))


@pytest.mark.parametrize("mode", CANONICAL_MODES)
def test_box_origins(mode):
    rng = np.random.default_rng(19)
    x = rng.standard_normal((29, 38))
    cval = cval_for(mode, CVAL)
    for size in [(4, 5), (2, 3), (6, 1)]:
        for origin in itertools.product(*(range(-(k // 2), (k - 1) // 2 + 1) for k in size)):
            got = ic.box(x, size, origin=origin, mode=mode, cval=cval)
            want = ndi.uniform_filter(x, size, origin=origin, mode=smode(mode), cval=cval)
            assert_close(got, want, x, 1.0, F64, cval, 1e-9, err_msg=f"{size} {origin}")


@pytest.mark.parametrize("dtype", ["float32", "float64", "uint16"])
def test_box_long_running_sum_precision(dtype):
    # a long axis with a large offset: the running sum must not drift
    rng = np.random.default_rng(20)
    x = (1000.0 + rng.standard_normal((5, 3000)) * 10).astype(dtype)
    compute = COMPUTE[dtype]
    for size in [(1, 51), (3, 301), (5, 2999)]:
        for mode in ["reflect", "zero", "wrap"]:
            got = ic.box(x, size, mode=mode)
            want = ndi.uniform_filter(x.astype(np.float64), size, mode=smode(mode))
            assert_close(got, want, x, 1.0, compute, 0.0, box_eps(compute),
                         err_msg=f"{size} {mode}")


def test_box_uint8_mean():
    rng = np.random.default_rng(21)
    x = rng.integers(0, 256, (29, 38), dtype=np.uint8)
    got = ic.box(x, 3, dtype=np.uint8)
    want = np.rint(ndi.uniform_filter(x.astype(np.float64), 3, mode="mirror"))
    assert np.abs(got.astype(int) - want).max() <= 1
    assert (got == want).mean() > 0.99
    # a constant image stays exactly constant, whatever the size
    c = np.full((20, 21), 77, np.uint8)
    for size in (3, 8, 51):
        np.testing.assert_array_equal(ic.box(c, size, dtype=np.uint8), c)


@pytest.mark.parametrize("size", [0, -1, -5, (3, 0), (0, 3), (2, -1)])
def test_box_size_below_one(size):
    with pytest.raises(ValueError, match="size"):
        ic.box(np.ones((6, 7)), size)


@pytest.mark.parametrize("size", [(3,), (3, 3, 3)])
def test_box_size_wrong_length(size):
    with pytest.raises(ValueError, match="size"):
        ic.box(np.ones((6, 7)), size)


# ===========================================================================
# sobel, prewitt, scharr, laplace, gradient_magnitude
# ===========================================================================
EDGE_OPS = ["sobel", "prewitt", "scharr"]


@pytest.mark.parametrize("mode", CANONICAL_MODES)
def test_edge_reference_matches_scipy(mode):
    # the reference itself, including a nonzero cval (scipy's sequential passes)
    rng = np.random.default_rng(22)
    for rank in (1, 2, 3):
        x = rng.standard_normal(SHAPES[rank])
        for axis in range(rank):
            for op in ["sobel", "prewitt"]:
                np.testing.assert_allclose(
                    edge_ref(x, op, axis, smode(mode), 2.0),
                    getattr(ndi, op)(x, axis, mode=smode(mode), cval=2.0),
                    rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(edge_ref(x, "sobel", None, "mirror"),
                               ndi.generic_gradient_magnitude(x, ndi.sobel, mode="mirror"),
                               rtol=1e-12, atol=1e-12)


SCHARR_X = np.array([[1.0, 2.0, 4.0],
                     [0.0, 3.0, 5.0],
                     [7.0, 1.0, 2.0]])


def test_scharr_reference_hand_computed():
    # centre pixel: along axis 0, rows 2 - 0 = [6, -1, -2] smoothed by [3, 10, 3] -> 2;
    # along axis 1, columns 2 - 0 = [3, 5, -5] smoothed by [3, 10, 3] -> 44
    assert edge_ref(SCHARR_X, "scharr", 0, "mirror")[1, 1] == 2.0
    assert edge_ref(SCHARR_X, "scharr", 1, "mirror")[1, 1] == 44.0
    assert edge_ref(SCHARR_X, "scharr", None, "mirror")[1, 1] == np.sqrt(2.0 ** 2 + 44.0 ** 2)
    # zero-padded corner (0, 0): axis 0: rows 1 - (-1) = [0, 0, 3] at columns -1, 0, 1
    # (column -1 is padding) -> 10*0 + 3*3 = 9
    assert edge_ref(SCHARR_X, "scharr", 0, "constant")[0, 0] == 9.0


def test_scharr_hand_computed():
    assert ic.scharr(SCHARR_X, axis=0)[1, 1] == pytest.approx(2.0)
    assert ic.scharr(SCHARR_X, axis=1)[1, 1] == pytest.approx(44.0)
    assert ic.scharr(SCHARR_X)[1, 1] == pytest.approx(np.hypot(2.0, 44.0))
    assert ic.scharr(SCHARR_X, axis=0, mode="zero")[0, 0] == pytest.approx(9.0)
    assert ic.gradient_magnitude(SCHARR_X, operator="scharr")[1, 1] == \
        pytest.approx(np.hypot(2.0, 44.0))


def test_sobel_and_laplace_1d_are_plain_differences():
    x = np.array([0.0, 1.0, 4.0, 9.0, 16.0, 25.0])
    np.testing.assert_allclose(ic.sobel(x, axis=0), [0, 4, 8, 12, 16, 0])  # mirror ends
    np.testing.assert_allclose(ic.sobel(x), [0, 4, 8, 12, 16, 0])
    np.testing.assert_allclose(ic.prewitt(x, axis=0, mode="zero"), [1, 4, 8, 12, 16, -16])
    np.testing.assert_allclose(ic.laplace(x), [2, 2, 2, 2, 2, -18])


@pytest.mark.parametrize("op", EDGE_OPS)
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("mode", CANONICAL_MODES)
def test_edge_every_axis_vs_reference(op, rank, mode):
    rng = np.random.default_rng(rank)
    x = rng.standard_normal(SHAPES[rank])
    cval = cval_for(mode, CVAL)
    for axis in [None] + list(range(rank)) + list(range(-rank, 0)):
        got = getattr(ic, op)(x, axis=axis, mode=mode, cval=cval)
        want = edge_ref(x, op, axis, smode(mode), cval)  # scipy's passes, scipy's order
        assert_close(got, want, x, edge_l1(op, rank, axis), F64, cval, err_msg=f"axis={axis}")
    # axis=None is also the default, and gradient_magnitude's result
    np.testing.assert_array_equal(getattr(ic, op)(x, mode=mode),
                                  getattr(ic, op)(x, axis=None, mode=mode))
    assert_close(ic.gradient_magnitude(x, operator=op, mode=mode, cval=cval),
                 getattr(ic, op)(x, mode=mode, cval=cval), x, edge_l1(op, rank, None), F64, cval)


def test_gradient_magnitude_default_is_sobel():
    rng = np.random.default_rng(23)
    x = rng.standard_normal((29, 38))
    np.testing.assert_array_equal(ic.gradient_magnitude(x), ic.gradient_magnitude(x, "sobel"))
    assert_close(ic.gradient_magnitude(x), ic.sobel(x), x, edge_l1("sobel", 2, None), F64)


@pytest.mark.parametrize("op", ["bogus", "gaussianx", "", "Sobel2"])
def test_gradient_magnitude_unknown_operator(op):
    with pytest.raises(ValueError, match="operator"):
        ic.gradient_magnitude(np.ones((6, 7)), operator=op)


def test_edge_uint8_step_saturates():
    x = np.zeros((10, 12), np.uint8)
    x[:, 6:] = 255
    for op, s in [("sobel", 4), ("prewitt", 3), ("scharr", 16)]:
        got = getattr(ic, op)(x, axis=1)
        assert got.dtype == F32
        np.testing.assert_array_equal(got[:, 5:7], s * 255)  # [-1,0,1] x smoothing
        got8 = getattr(ic, op)(x, axis=1, dtype=np.uint8)
        np.testing.assert_array_equal(got8[:, 5:7], 255)  # saturated, not wrapped
        np.testing.assert_array_equal(got8[:, :4], 0)
        rev = getattr(ic, op)(x[:, ::-1], axis=1, dtype=np.uint8)  # negative -> 0
        np.testing.assert_array_equal(rev, 0)
        mag = getattr(ic, op)(x, dtype=np.uint8)
        np.testing.assert_array_equal(mag[:, 5:7], 255)


@pytest.mark.parametrize("func", ["sobel", "prewitt", "scharr"])
@pytest.mark.parametrize("shape,axis", [((6, 7), 2), ((6, 7), 5), ((6, 7), -3), ((9,), 1),
                                        ((4, 5, 6), 3), ((4, 5, 6), -4)])
def test_edge_axis_out_of_range(func, shape, axis):
    with pytest.raises(ValueError, match="axis"):
        getattr(ic, func)(np.ones(shape), axis=axis)


@pytest.mark.parametrize("func", ["sobel", "prewitt", "scharr"])
def test_edge_axis_counts_spatial_axes_with_channels(func):
    # (H, W, 3) with channels last has 2 spatial axes: axis=2 is out of range
    with pytest.raises(ValueError, match="axis"):
        getattr(ic, func)(np.ones((6, 7, 3)), axis=2, channel_axis=-1)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_laplace_vs_scipy_with_cval(mode):
    rng = np.random.default_rng(24)
    cval = cval_for(mode, -3.0)
    for rank in (1, 2, 3):
        x = rng.standard_normal(SHAPES[rank])
        got = ic.laplace(x, mode=mode, cval=cval)
        assert_close(got, ndi.laplace(x, mode=smode(mode), cval=cval), x, 4.0 * rank, F64, cval)


# ===========================================================================
# correlate / convolve: method='auto' | 'direct' | 'separable' | 'fft'
# ===========================================================================
def rank1_kernel(rng, kshape):
    vecs = [rng.standard_normal(n) for n in kshape]
    if len(kshape) == 1:
        return vecs[0]
    if len(kshape) == 2:
        return np.outer(*vecs)
    return np.einsum("i,j,k->ijk", *vecs)


def method_eps(compute):
    """FFT rounding: 1e-4 of sum|w| * max|x| in float32, 1e-9 in float64."""
    return 1e-4 if np.dtype(compute) == F32 else 1e-9


def assert_method_close(got, want, x, w, compute, cval=0.0, err_msg=""):
    eps = method_eps(compute)
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=0,
                               atol=eps * np.abs(w).sum() * value_scale(x, cval),
                               equal_nan=True, err_msg=err_msg)


def ref_nd(func, x, w, mode, cval, padding="same", stride=1, dilation=1, origin=0):
    """numpy reference for ic.correlate / ic.convolve with any geometry."""
    w = np.asarray(w, np.float64)
    rank = w.ndim
    if func == "convolve":
        w, origin = ref_convolve_kernel(w, origin)
    d = (dilation,) * rank if np.isscalar(dilation) else tuple(dilation)
    if padding == "same":
        lo, hi = same_pads(w.shape, d, origin)
    elif padding == "valid":
        lo = hi = (0,) * rank
    elif padding == "full":
        lo, hi = full_pads(w.shape, d)
    else:
        lo = hi = (padding,) * rank
    return ref_correlate(x, w, mode, cval, lo, hi, stride, dilation)


METHOD_CASES = [
    # id, image shape, kernel shape, rank-1
    ("1d-15", (200,), (15,), True),
    ("2d-3x3-rank1", (30, 40), (3, 3), True),
    ("2d-3x3-full", (30, 40), (3, 3), False),
    ("2d-4x6-rank1", (30, 40), (4, 6), True),
    ("2d-31x31-rank1", (80, 90), (31, 31), True),
    ("2d-31x31-full", (80, 90), (31, 31), False),
    ("2d-31x5-rank1", (80, 90), (31, 5), True),
    ("3d-3x3x3-rank1", (12, 13, 14), (3, 3, 3), True),
    ("3d-3x4x2-full", (12, 13, 14), (3, 4, 2), False),
    ("3d-9x9x9-rank1", (40, 40, 40), (9, 9, 9), True),
    ("3d-9x9x9-full", (40, 40, 40), (9, 9, 9), False),
]


def method_variants(kshape):
    r = len(kshape)
    low_origin = tuple(-(k // 2) for k in kshape)
    variants = [dict(), dict(stride=2, dilation=2), dict(padding="valid", stride=(1, 2, 3)[:r])]
    if np.prod(kshape) <= 100:
        variants += [dict(padding="full", dilation=(2, 1, 3)[:r]), dict(padding=3, stride=3),
                     dict(origin=low_origin), dict(origin=low_origin, stride=(2, 1, 2)[:r])]
    else:
        variants += [dict(padding="full", stride=3)]
    return variants


@pytest.mark.parametrize("func", ["correlate", "convolve"])
@pytest.mark.parametrize("mode", CANONICAL_MODES)
@pytest.mark.parametrize("case", METHOD_CASES, ids=[c[0] for c in METHOD_CASES])
def test_methods_agree(case, mode, func):
    name, shape, kshape, rank1 = case
    rng = np.random.default_rng(sum(shape) + sum(kshape))
    w = rank1_kernel(rng, kshape) if rank1 else rng.standard_normal(kshape)
    x32 = (rng.standard_normal(shape) * 100).astype(np.float32)
    inputs = [x32, x32.astype(np.float64)]
    if len(shape) == 2:
        inputs.append(rng.integers(0, 256, shape, dtype=np.uint8))
    methods = ["auto", "direct", "fft"] + (["separable"] if rank1 else [])
    f = getattr(ic, func)
    cval = cval_for(mode, CVAL)
    for kw in method_variants(kshape):
        refs = {}
        for x in inputs:
            key = x.dtype == np.uint8  # float32 and float64 inputs hold the same values
            if key not in refs:
                refs[key] = ref_nd(func, x, w, mode, cval, **kw)
            want = refs[key]
            compute = COMPUTE[x.dtype.name]
            for method in methods:
                got = f(x, w, mode=mode, cval=cval, method=method, **kw)
                msg = f"method={method} {kw} {x.dtype}"
                assert got.shape == want.shape, msg
                assert got.dtype == compute, msg
                assert_method_close(got, want, x, w, compute, cval, err_msg=msg)
    if not rank1:
        with pytest.raises(ValueError, match="separable"):
            f(x32, w, method="separable")


@pytest.mark.parametrize("func", ["correlate", "convolve"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "uint8"])
@pytest.mark.parametrize("kshape,shape", [((7, 7), (30, 40)), ((2, 9), (30, 40)),
                                          ((31, 31), (80, 90)), ((5, 5, 5), (20, 21, 22))])
def test_auto_on_kernel_rank1_up_to_rounding(func, dtype, kshape, shape):
    rng = np.random.default_rng(25)
    w = rank1_kernel(rng, kshape).astype(np.float32).astype(np.float64)
    w = w * (1.0 + 1e-7 * rng.standard_normal(kshape))
    x = random_array(rng, shape, dtype)
    compute = COMPUTE[dtype]
    f = getattr(ic, func)
    sf = getattr(ndi, func)
    for mode in CANONICAL_MODES:
        cval = cval_for(mode, CVAL)
        auto = f(x, w, mode=mode, cval=cval, method="auto")
        direct = f(x, w, mode=mode, cval=cval, method="direct")
        assert_method_close(auto, direct, x, w, compute, cval, err_msg=mode)
        want = sf(x.astype(np.float64), w, mode=smode(mode), cval=cval)
        assert_method_close(auto, want, x, w, compute, cval, err_msg=mode)


@pytest.mark.parametrize("method", ["auto", "direct", "separable", "fft"])
@pytest.mark.parametrize("func", ["correlate", "convolve"])
def test_methods_with_channel_axis(method, func):
    rng = np.random.default_rng(26)
    x = rng.standard_normal((30, 40, 3))
    w = rank1_kernel(rng, (7, 5))
    got = getattr(ic, func)(x, w, channel_axis=-1, mode="wrap", method=method)
    want = per_channel(lambda c: getattr(ndi, func)(c, w, mode="wrap"), x, -1)
    assert_method_close(got, want, x, w, F64, err_msg=method)


@pytest.mark.parametrize("method", ["spectral", "FFTW", "", "sep"])
def test_unknown_method(method):
    with pytest.raises(ValueError, match="method"):
        ic.correlate(np.ones((6, 7)), np.ones((3, 3)), method=method)


@pytest.mark.parametrize("kernel", [np.eye(3), np.array([[1.0, 2.0], [3.0, 4.0]]),
                                    np.ones((3, 3, 3)) - np.eye(3)[None]])
def test_separable_on_non_rank1_kernel(kernel):
    x = np.ones((8,) * kernel.ndim)
    for func in (ic.correlate, ic.convolve):
        with pytest.raises(ValueError, match="separable"):
            func(x, kernel, method="separable")


@pytest.mark.parametrize("func", ["correlate", "convolve"])
@pytest.mark.parametrize("mode", CANONICAL_MODES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kshape,shape", [((5, 5), (30, 40)), ((31, 31), (80, 90)),
                                          ((9, 9, 9), (20, 20, 20))])
def test_nan_stays_local_with_direct(func, mode, dtype, kshape, shape):
    rng = np.random.default_rng(27)
    x = rng.standard_normal(shape).astype(dtype)
    for pos in [tuple(n // 2 for n in shape), tuple(n // 3 for n in shape),
                (0,) * len(shape), tuple(n - 1 for n in shape)]:
        x[pos] = np.nan
    w = rng.standard_normal(kshape)  # every tap nonzero
    got = getattr(ic, func)(x, w, mode=mode, method="direct")
    # NaN exactly where a tap of the kernel's support reads a NaN sample
    support = ref_nd(func, np.isnan(x).astype(np.float64), np.ones(kshape), mode, 0.0)
    expect_nan = support > 0
    assert expect_nan.mean() < 0.6
    np.testing.assert_array_equal(np.isnan(got), expect_nan)
    want = ref_nd(func, np.nan_to_num(x, nan=0.0), w, mode, 0.0)
    assert_method_close(got[~expect_nan], want[~expect_nan], np.nan_to_num(x), w,
                        COMPUTE[dtype])


@pytest.mark.parametrize("kwargs", [{"sigma": float("inf")}, {"sigma": float("nan")},
                                    {"sigma": 1.0, "truncate": float("inf")},
                                    {"sigma": 1.0, "spacing": float("nan")}])
def test_gaussian_non_finite_arguments(kwargs):
    name = [k for k, v in kwargs.items() if not np.isfinite(v)][0]
    with pytest.raises(ValueError, match=f"{name} must be finite"):
        ic.gaussian(np.ones((4, 4)), **kwargs)


# ---------------------------------------------------------------------------
# volumes filtered along z, y and x in one sweep over their planes
# ---------------------------------------------------------------------------
@pytest.fixture
def plane_sweeps(monkeypatch):
    """Records whether each call took the one-sweep route."""
    from imgconv import _cpu

    taken = []
    original = _cpu.separable_volume

    def recording(*args, **kwargs):
        result = original(*args, **kwargs)
        taken.append(result is not None)
        return result

    monkeypatch.setattr(_cpu, "separable_volume", recording)
    return taken


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_plane_sweep_matches_passes_and_reference(plane_sweeps, data):
    shape = per_axis(data, 3, 1, 14, "shape")
    sizes = list(per_axis(data, 3, 1, 6, "sizes"))
    stride = per_axis(data, 3, 1, 3, "stride")
    dilation = per_axis(data, 3, 1, 2, "dilation")
    mode = data.draw(st.sampled_from(sorted(set(CANONICAL.values()))), label="mode")
    dtype = data.draw(st.sampled_from(["float32", "float64"]), label="dtype")
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 10).astype(dtype)
    kernels = [rng.standard_normal(k) for k in sizes]
    cval = cval_for(mode, 1.5)
    kwargs = dict(mode=mode, cval=cval, stride=stride, dilation=dilation)
    plane_sweeps.clear()
    got = ic.sepfilter(x, kernels, **kwargs)
    swept = any(plane_sweeps)
    # a layout whose planes are not contiguous takes the pass-by-pass route
    passes = ic.sepfilter(np.asfortranarray(x), kernels, **kwargs)
    np.testing.assert_array_equal(got, passes)
    w = np.multiply.outer(np.multiply.outer(kernels[0], kernels[1]), kernels[2])
    want = ref_correlate(x, w, mode, cval, *same_pads(w.shape, dilation), stride, dilation)
    scale = np.abs(w).sum() * max(np.abs(x).max(), abs(cval), 1.0)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)
    if stride == (1, 1, 1) and np.prod(sizes) > sum(sizes) + 12:
        assert swept  # the cost model chose the 1D passes


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["zero", "symmetric", "wrap"])
@pytest.mark.parametrize("depth", [13, 41])
def test_plane_sweep_sliding_groups(plane_sweeps, threads, dtype, mode, depth):
    """Consecutive planes share one sliding z sum in groups of four; a group
    never crosses a thread's share or a channel, leftovers are summed one
    plane at a time, and NaN and inf stay in their own windows.  The planes
    it reads are copied into a ring of 16 slots: windows that wrap around the
    volume, and the next channel, must not read a stale copy."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, depth, 9, 21)).astype(dtype)
    x[1, 6, 4, 10] = np.inf
    x[2, 0, 0, 0] = np.nan
    x[0, depth - 1, 8, 20] = -np.inf
    kernels = [rng.standard_normal(13), rng.standard_normal(3), rng.standard_normal(4)]
    cval = cval_for(mode, 0.5)
    kwargs = dict(mode=mode, cval=cval, channel_axis=0, threads=threads)
    got = ic.sepfilter(x, kernels, **kwargs)
    assert plane_sweeps == [True]
    np.testing.assert_array_equal(got, ic.sepfilter(np.asfortranarray(x), kernels, **kwargs))
    w = np.multiply.outer(np.multiply.outer(kernels[0], kernels[1]), kernels[2])
    with np.errstate(invalid="ignore"):
        for c in range(3):
            want = ref_correlate(x[c], w, mode, cval, *same_pads(w.shape))
            np.testing.assert_allclose(got[c], want, rtol=1e-5, atol=1e-4 * np.abs(x[c][np.isfinite(x[c])]).max() * np.abs(w).sum())


@pytest.mark.parametrize("mode", ["zero", "reflect", "wrap"])
@pytest.mark.parametrize("order", [0, (1, 0, 2)])
def test_gaussian_volume_sweep_vs_scipy(plane_sweeps, mode, order):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((9, 17, 23)).astype(np.float32)
    # cval stays 0: in mode 'zero' a nonzero one takes scipy's pass-by-pass padding
    got = ic.gaussian(x, (1.0, 2.0, 1.5), order=order, mode=mode)
    assert plane_sweeps == [True]
    want = ndi.gaussian_filter(x.astype(np.float64), (1.0, 2.0, 1.5), order=order,
                               mode=SCIPY_MODE[mode])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    strided = np.zeros((9, 17, 46), np.float32)[:, :, ::2]
    strided[...] = x
    np.testing.assert_array_equal(got, ic.gaussian(strided, (1.0, 2.0, 1.5), order=order,
                                                   mode=mode))


def test_derivative_bad_dtype_and_operator():
    x = np.ones((5, 6))
    for f in (lambda **kw: ic.sobel(x, **kw), lambda **kw: ic.gradient_magnitude(x, **kw)):
        with pytest.raises(TypeError, match="dtype must be a numpy dtype"):
            f(dtype=1.5)
        with pytest.raises(TypeError, match="dtype must be a numpy dtype"):
            f(dtype="foo")
    for operator in ([], "bogus", None):
        with pytest.raises(ValueError, match="operator must be one of"):
            ic.gradient_magnitude(x, operator=operator)

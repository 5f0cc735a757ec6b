"""Non-flat (grey-scale) morphology: ``structure=`` of heights on dilate, erode,
opening, closing, morph_gradient, tophat and blackhat.

Conventions (scipy.ndimage's grey_dilation / grey_erosion, see imgconv/_morphology.py):
- ``erode(x, structure=s, origin=o)``: out[p] = min over cells c of x[p + c - centre] - s[c];
- ``dilate(x, structure=s, origin=o)``: the structure and footprint mirrored through the
  centre, out[p] = max over cells c of x[p - (c - centre)] + s[c];
- with ``footprint`` too, only its True cells take part;
- integer sums saturate to the dtype's range (scipy computes in the dtype and wraps):
  scipy is compared where nothing overflows, ``ref_nonflat`` (float64, then clipped)
  everywhere;
- the default ``mode=None`` ignores cells beyond the edges (scipy: constant padding
  with cval=-inf for a dilation, +inf for an erosion, on float images).

``ref_nonflat`` is a naive float64 reference (np.pad, then shifted slices plus the
heights, NaN-propagating like numpy.maximum); scipy is the reference for the
conventions.  scipy's mirror/reflect modes misread structures much larger than the
image (see tests/test_morphology.py), so those cases use ``ref_nonflat`` alone.
"""
import numpy as np
import pytest

ndi = pytest.importorskip("scipy.ndimage")

import imgconv as ic  # noqa: E402
from imgconv._validate import SCIPY_MODE  # noqa: E402
from reference import CANONICAL, NP_PAD_MODE, layouts, zero_pad_value  # noqa: E402

MODES = ["zero", "replicate", "reflect", "symmetric", "wrap"]
INT_DTYPES = ["uint8", "uint16", "int16", "int32"]
OPS = {"dilate": ic.dilate, "erode": ic.erode, "opening": ic.opening, "closing": ic.closing,
       "morph_gradient": ic.morph_gradient, "tophat": ic.tophat, "blackhat": ic.blackhat}
SCIPY_OPS = {"dilate": ndi.grey_dilation, "erode": ndi.grey_erosion,
             "opening": ndi.grey_opening, "closing": ndi.grey_closing,
             "morph_gradient": ndi.morphological_gradient, "tophat": ndi.white_tophat,
             "blackhat": ndi.black_tophat}


# ===========================================================================
# references and random cases
# ===========================================================================
def ref_extreme_nonflat(x, structure, footprint=None, origin=0, mode=None, cval=0.0,
                        is_max=True):
    """Dilation (``is_max``) or erosion of ``x`` (no channel axis) with heights, in
    float64: the exact sums, before any rounding to x's dtype."""
    x = np.asarray(x)
    s = np.asarray(structure, np.float64)
    fp = np.ones(s.shape, bool) if footprint is None else np.asarray(footprint, bool)
    s = s.reshape((1,) * (x.ndim - s.ndim) + s.shape)
    fp = fp.reshape(s.shape)
    origin = (origin,) * x.ndim if np.isscalar(origin) else tuple(origin)
    centre = [k // 2 + o for k, o in zip(s.shape, origin)]
    if is_max:  # dilation: structure and footprint mirrored through the centre
        flip = (slice(None, None, -1),) * s.ndim
        s, fp = s[flip], fp[flip]
        centre = [k - 1 - c for k, c in zip(s.shape, centre)]
    widths = [(c, k - 1 - c) for k, c in zip(s.shape, centre)]
    # 64-bit integers as Python ints: exact
    xf = x.astype(object if x.dtype.kind in "iu" and x.dtype.itemsize == 8 else np.float64)
    if xf.dtype == object:
        s = s.astype(np.int64).astype(object)
    if mode is None:   # cells beyond the edges take no part (below)
        xp = np.pad(xf, widths)
    elif CANONICAL[mode] == "zero":
        xp = np.pad(xf, widths, mode="constant",
                    constant_values=float(zero_pad_value(x.dtype, cval)))
    else:
        xp = np.pad(xf, widths, mode=NP_PAD_MODE[CANONICAL[mode]])
    op = np.maximum if is_max else np.minimum
    result = np.full(x.shape, -np.inf if is_max else np.inf, xf.dtype)
    inside = np.pad(np.ones(x.shape, bool), widths)
    for cell in zip(*np.nonzero(fp)):
        window = tuple(slice(c, c + n) for c, n in zip(cell, x.shape))
        view = xp[window]
        value = view + s[cell] if is_max else view - s[cell]
        if mode is None:   # (even a NaN height)
            value = np.where(inside[window], value, result)
        result = op(result, value)
    return result


def in_dtype(values, dtype):
    """float64 ``values`` as ``dtype``: saturated for integers."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return values.astype(dtype)
    info = np.iinfo(dtype)
    return np.minimum(np.maximum(values, int(info.min)), int(info.max)).astype(dtype)


def ref_nonflat(name, x, structure, **kw):
    """imgconv's result: every intermediate (opening's erosion, ...) in x's dtype."""
    dtype = x.dtype

    def dil(a):
        return in_dtype(ref_extreme_nonflat(a, structure, is_max=True, **kw), dtype)

    def ero(a):
        return in_dtype(ref_extreme_nonflat(a, structure, is_max=False, **kw), dtype)

    def diff(a, b):
        exact = object if dtype.kind in "iu" else np.float64
        return in_dtype(a.astype(exact) - b.astype(exact), dtype)

    return {"dilate": lambda: dil(x), "erode": lambda: ero(x),
            "opening": lambda: dil(ero(x)), "closing": lambda: ero(dil(x)),
            "morph_gradient": lambda: diff(dil(x), ero(x)),
            "tophat": lambda: diff(x, dil(ero(x))),
            "blackhat": lambda: diff(ero(dil(x)), x)}[name]()


def random_structure(shape, rng, integral=True):
    s = rng.integers(-6, 7, shape).astype(np.float64)
    return s if integral else s + rng.choice([0.0, 0.25, 0.5, -0.75], shape)


def random_origin(kshape, rng):
    return tuple(int(rng.integers(-(k // 2), (k - 1) // 2, endpoint=True)) for k in kshape)


def random_case(rng, rank, max_size=5):
    shape = tuple(int(n) for n in rng.integers(1, 9, rank))
    kshape = tuple(int(n) for n in rng.integers(1, max_size + 1, rank))
    return shape, kshape


def assert_same(got, want, what=""):
    assert got.dtype == want.dtype, (what, got.dtype, want.dtype)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    np.testing.assert_array_equal(got, want, err_msg=str(what), strict=True)


# ===========================================================================
# the reference, and hand-checked cases
# ===========================================================================
def test_reference_matches_scipy():
    rng = np.random.default_rng(0)
    for rank in (1, 2, 3):
        x = rng.standard_normal((6, 7, 5)[:rank])
        s = random_structure((3, 2, 4)[:rank], rng, integral=False)
        fp = rng.random(s.shape) < 0.7
        fp.flat[0] = True
        origin = random_origin(s.shape, rng)
        for mode in MODES:
            for is_max, f in ((True, ndi.grey_dilation), (False, ndi.grey_erosion)):
                want = f(x, structure=s, footprint=fp, origin=origin, mode=SCIPY_MODE[mode])
                got = ref_extreme_nonflat(x, s, fp, origin, mode, is_max=is_max)
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_hand_checked_1d():
    x = np.array([0, 10, 0, 0, 20], np.float64)
    s = np.array([1, 5, 2], np.float64)
    # dilation, mirrored: out[p] = max(x[p-1] + 2, x[p] + 5, x[p+1] + 1)
    assert ic.dilate(x, structure=s).tolist() == [11, 15, 12, 21, 25]
    # erosion: out[p] = min(x[p-1] - 1, x[p] - 5, x[p+1] - 2); the default mode ignores
    # the cells beyond the edges
    assert ic.erode(x, structure=s).tolist() == [-5, -2, -5, -5, -1]
    # an even size: the centre is k // 2 (the later of the two middle cells) for erosion,
    # mirrored for dilation
    s2 = np.array([0, 3], np.float64)
    assert ic.erode(x, structure=s2).tolist() == [-3, 0, -3, -3, 0]
    assert ic.dilate(x, structure=s2).tolist() == [10, 13, 3, 20, 23]
    np.testing.assert_array_equal(ic.dilate(x, structure=s2, mode="zero"),
                                  ndi.grey_dilation(x, structure=s2, mode="constant"))


def test_saturation_instead_of_wrapping():
    x = np.array([[250, 5], [128, 0]], np.uint8)
    up = np.full((1, 1), 10.0)
    assert ic.dilate(x, structure=up).tolist() == [[255, 15], [138, 10]]
    assert ic.erode(x, structure=up).tolist() == [[240, 0], [118, 0]]
    # scipy wraps where the sum leaves the dtype's range
    assert ndi.grey_dilation(x, structure=up)[0, 0] == 4
    y = np.array([-32760, 32760, 0], np.int16)
    assert ic.erode(y, structure=[20.0]).tolist() == [-32768, 32740, -20]
    assert ic.dilate(y, structure=[20.0]).tolist() == [-32740, 32767, 20]
    # heights beyond the dtype's whole range saturate every sum
    assert ic.dilate(y, structure=[1e6]).tolist() == [32767] * 3
    assert ic.dilate(y, structure=[-np.inf, 0.0, -np.inf]).tolist() == y.tolist()
    assert ic.erode(np.array([7, 9], np.uint8), structure=[np.inf]).tolist() == [0, 0]


@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint16", "int16", "int32", "uint32",
                                   "int64", "uint64"])
def test_heights_up_to_and_beyond_the_span(dtype):
    info = np.iinfo(dtype)
    span = int(info.max) - int(info.min)
    x = np.array([info.min, int(info.min) + 1, 0, int(info.max) - 1, info.max], dtype)
    heights = [1, -1, span // 2, -(span // 2)]
    if info.bits < 64:
        heights += [span, -span, span + 7, -span - 7, np.inf, -np.inf]
    else:
        heights += [2 ** 63 - 1, -(2 ** 63 - 1)]
    for h in heights:
        for name in ("dilate", "erode"):
            got = OPS[name](x, structure=[h], mode="wrap")
            exact = [int(v) + (1 if name == "dilate" else -1) * (
                h if np.isfinite(h) else (span + 1 if h > 0 else -span - 1)) for v in x.tolist()]
            want = [min(max(v, int(info.min)), int(info.max)) for v in exact]
            assert got.tolist() == want, (h, name)
            assert got.dtype == x.dtype


# ===========================================================================
# against scipy
# ===========================================================================
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_against_scipy(rank, dtype):
    rng = np.random.default_rng(rank)
    for trial in range(12):
        shape, kshape = random_case(rng, rank)
        # scipy's mirror/reflect misread structures beyond the image
        kshape = tuple(min(k, n) for k, n in zip(kshape, shape))
        x = (rng.standard_normal(shape) * 20).astype(dtype)
        s = random_structure(kshape, rng, integral=False)
        fp = None
        if trial % 2:
            fp = rng.random(kshape) < 0.6
            fp.flat[rng.integers(fp.size)] = True
        origin = random_origin(kshape, rng)
        for mode in MODES:
            cval = 1.5 if mode == "zero" else None
            for name in ("dilate", "erode"):
                got = OPS[name](x, fp, structure=s, origin=origin, mode=mode, cval=cval)
                want = SCIPY_OPS[name](x, footprint=fp, structure=s, origin=origin,
                                       mode=SCIPY_MODE[mode], cval=cval or 0.0)
                assert_same(got, want, (trial, mode, name))


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_default_mode_ignores_the_outside(rank):
    rng = np.random.default_rng(10 + rank)
    for trial in range(8):
        shape, kshape = random_case(rng, rank)
        x = rng.standard_normal(shape)
        s = random_structure(kshape, rng)
        origin = random_origin(kshape, rng)
        for name, cval in (("dilate", -np.inf), ("erode", np.inf)):
            want = SCIPY_OPS[name](x, structure=s, origin=origin, mode="constant", cval=cval)
            assert_same(OPS[name](x, structure=s, origin=origin), want, (trial, name))


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("rank", [2, 3])
def test_integers_against_scipy_where_nothing_overflows(dtype, rank):
    rng = np.random.default_rng(20 + rank)
    info = np.iinfo(dtype)
    for trial in range(6):
        shape, kshape = random_case(rng, rank)
        kshape = tuple(min(k, n) for k, n in zip(kshape, shape))
        # values at least 6 inside the range: sums of heights in [-6, 6] never overflow
        x = rng.integers(max(info.min, -1000) + 6, min(info.max, 1000) - 6, shape,
                         endpoint=True).astype(dtype)
        s = random_structure(kshape, rng)
        origin = random_origin(kshape, rng)
        for mode in MODES:
            # a cval inside the range too (scipy's padding plus a height would wrap)
            cval = int(x.flat[0]) if mode == "zero" else None
            for name in ("dilate", "erode"):
                got = OPS[name](x, structure=s, origin=origin, mode=mode, cval=cval)
                want = SCIPY_OPS[name](x, structure=s, origin=origin, mode=SCIPY_MODE[mode],
                                       cval=cval or 0)
                assert_same(got, want, (trial, mode, name))


@pytest.mark.parametrize("name", ["opening", "closing", "morph_gradient", "tophat",
                                  "blackhat"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_compound_against_scipy(name, rank):
    rng = np.random.default_rng(30 + rank)
    for trial in range(5):
        shape, kshape = random_case(rng, rank)
        kshape = tuple(min(k, n) for k, n in zip(kshape, shape))
        x = rng.standard_normal(shape) * 10
        s = random_structure(kshape, rng, integral=False)
        fp = rng.random(kshape) < 0.7
        fp.flat[0] = True
        origin = random_origin(kshape, rng)
        for mode in MODES:
            got = OPS[name](x, fp, structure=s, origin=origin, mode=mode)
            want = SCIPY_OPS[name](x, footprint=fp, structure=s, origin=origin,
                                   mode=SCIPY_MODE[mode])
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=str((trial, mode)))


# ===========================================================================
# against the saturating reference: every dtype, mode, size
# ===========================================================================
@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("dtype", INT_DTYPES + ["int8", "uint32", "int64", "uint64",
                                                "float16", "float32", "float64"])
def test_every_dtype_saturates(name, dtype):
    rng = np.random.default_rng(40)
    dtype = np.dtype(dtype)
    for rank in (1, 2, 3):
        shape, kshape = random_case(rng, rank, max_size=4)
        if dtype.kind == "f":
            x = (rng.standard_normal(shape) * 20).round(1).astype(dtype)
        else:
            info = np.iinfo(dtype)
            # the dtype's extremes and values near them now and then: sums overflow
            lo, hi = max(info.min, -2000), min(info.max, 2000)
            x = rng.integers(lo, hi, shape, endpoint=True).astype(dtype)
            near = rng.random(shape)
            x[near < 0.2] = int(info.min) + int(rng.integers(0, 5))
            x[near > 0.8] = int(info.max) - int(rng.integers(0, 5))
        s = random_structure(kshape, rng)
        origin = random_origin(kshape, rng)
        for mode in [None] + MODES:
            cval = 3 if mode == "zero" else None
            got = OPS[name](x, structure=s, origin=origin, mode=mode, cval=cval)
            want = ref_nonflat(name, x, s, origin=origin, mode=mode, cval=cval or 0.0)
            assert_same(got, want, (rank, mode))


@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32"])
def test_structure_larger_than_image_and_single_pixels(dtype):
    rng = np.random.default_rng(50)
    for shape in [(1,), (1, 1), (1, 1, 1), (2, 1), (1, 3), (3, 2, 1)]:
        x = (rng.integers(0, 100, shape)).astype(dtype)
        rank = len(shape)
        kshape = tuple(int(k) for k in rng.integers(3, 9, rank))
        s = random_structure(kshape, rng)
        fp = rng.random(kshape) < 0.5
        fp.flat[0] = True
        origin = random_origin(kshape, rng)
        for mode in [None] + MODES:
            for name in ("dilate", "erode", "opening", "closing"):
                got = OPS[name](x, fp, structure=s, origin=origin, mode=mode)
                want = ref_nonflat(name, x, s, footprint=fp, origin=origin, mode=mode)
                assert_same(got, want, (shape, mode, name))


def test_even_sizes_and_extreme_origins():
    rng = np.random.default_rng(60)
    x = rng.standard_normal((9, 10))
    for kshape in [(2, 2), (4, 1), (1, 6), (4, 3)]:
        s = random_structure(kshape, rng)
        for origin in [(-(kshape[0] // 2), (kshape[1] - 1) // 2),
                       ((kshape[0] - 1) // 2, -(kshape[1] // 2)), (0, 0)]:
            for name in ("dilate", "erode"):
                got = OPS[name](x, structure=s, origin=origin, mode="wrap")
                want = SCIPY_OPS[name](x, structure=s, origin=origin, mode="wrap")
                assert_same(got, want, (kshape, origin, name))


def test_footprint_selects_cells():
    rng = np.random.default_rng(61)
    x = rng.standard_normal((8, 9))
    s = random_structure((3, 3), rng)
    fp = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)
    # the heights outside the footprint are ignored, whatever they are
    wild = s.copy()
    wild[~fp] = 1e6
    for name in ("dilate", "erode"):
        got = OPS[name](x, fp, structure=wild, mode="reflect")
        assert_same(got, OPS[name](x, fp, structure=s, mode="reflect"))
        assert_same(got, SCIPY_OPS[name](x, footprint=fp, structure=s, mode="mirror"))


def test_adjunction_and_where_saturation_bends_it():
    rng = np.random.default_rng(64)
    x = rng.standard_normal((10, 12))
    for trial in range(5):
        # (the default mode: padding does not commute with erosion; up to the rounding
        # of (x - h) + h)
        s = random_structure((3, 4), rng, integral=False)
        assert (ic.opening(x, structure=s) <= x + 1e-12).all()
        assert (ic.closing(x, structure=s) >= x - 1e-12).all()
        assert (ic.opening(x, structure=s) < x - 1e-3).any()
    # an erosion clipped at the dtype's minimum dilates above the image (documented)
    zeros = np.zeros(3, np.uint8)
    assert ic.opening(zeros, structure=[10]).tolist() == [10, 10, 10]
    assert ic.tophat(zeros, structure=[10]).tolist() == [0, 0, 0]


def test_flat_structure_equals_flat_footprint():
    rng = np.random.default_rng(62)
    x = rng.integers(0, 256, (12, 13)).astype(np.uint8)
    fp = rng.random((4, 3)) < 0.6
    fp[0, 0] = True
    for name, f in OPS.items():
        for mode in [None] + MODES:
            assert_same(f(x, fp, structure=np.zeros(fp.shape), mode=mode), f(x, fp, mode=mode),
                        (name, mode))


@pytest.mark.parametrize("dtype", ["uint8", "int32", "float64"])
def test_runs_of_equal_heights(dtype):
    """Cells of one height in a row run through the flat kernel's ladders: long
    and short runs, broken by other heights and by the footprint, near edges."""
    rng = np.random.default_rng(63)
    x = rng.integers(0, 250, (11, 37)).astype(dtype)
    s = np.repeat(rng.integers(-4, 5, (3, 5)), [1, 7, 2, 19, 1], axis=1).astype(float)
    s[1, 10:13] = np.nan if dtype == "float64" else 2.0
    fp = np.ones(s.shape, bool)
    fp[0, 20:23] = False
    fp[2, :] = False
    fp[2, 4:33] = True
    for origin in [(0, 0), (1, -15), (-1, 14)]:
        for mode in [None] + MODES:
            for name in ("dilate", "erode", "closing"):
                got = OPS[name](x, fp, structure=s, origin=origin, mode=mode)
                want = ref_nonflat(name, x, s, footprint=fp, origin=origin, mode=mode)
                assert_same(got, want, (origin, mode, name))
    # 3D, rows longer than the image
    v = rng.standard_normal((4, 5, 6))
    s3 = np.repeat(rng.integers(-2, 3, (2, 3, 3)), 5, axis=2).astype(float)
    for mode in [None, "wrap", "reflect"]:
        assert_same(ic.dilate(v, structure=s3, mode=mode),
                    ref_nonflat("dilate", v, s3, mode=mode), mode)


# ===========================================================================
# NaN, channel_axis, axes, out=, threads, layouts, empty inputs
# ===========================================================================
def test_nan_propagates():
    rng = np.random.default_rng(70)
    x = rng.standard_normal((9, 10)).astype(np.float32)
    x[4, 5] = np.nan
    s = random_structure((3, 4), rng)
    for name in ("dilate", "erode", "opening", "closing"):
        for mode in [None, "reflect"]:
            got = OPS[name](x, structure=s, mode=mode)
            want = ref_nonflat(name, x, s, mode=mode)
            assert_same(got, want, (name, mode))
    # a NaN height makes NaN every output whose window holds that cell inside the image
    # (scipy's result depends on the order of its comparisons instead)
    s_nan = s.copy()
    s_nan[1, 1] = np.nan
    y = rng.standard_normal((6, 7))
    assert np.isnan(ic.dilate(y, structure=s_nan, mode="wrap")).all()
    got = ic.erode(y, structure=s_nan)
    assert_same(got, ref_nonflat("erode", y, s_nan))
    # erosion's centre is cell (1, 2): the NaN cell reads one column to the left, outside
    # the image for column 0
    assert np.isnan(got[:, 1:]).all() and not np.isnan(got[:, 0]).any()


@pytest.mark.parametrize("name", list(OPS))
def test_channel_axis_and_axes(name):
    f = OPS[name]
    rng = np.random.default_rng(71)
    x = rng.integers(0, 256, (7, 8, 3)).astype(np.uint8)
    s = random_structure((3, 2), rng)
    per = np.stack([f(x[..., c], structure=s) for c in range(3)], -1)
    assert_same(f(x, structure=s, channel_axis=-1), per)
    xc = np.ascontiguousarray(np.moveaxis(x, -1, 0))
    assert_same(f(xc, structure=s, channel_axis=0), np.moveaxis(per, -1, 0))
    v = rng.standard_normal((4, 5, 6))
    # the structure's dimensions map onto the axes in ascending order (scipy's rule)
    for axes in [(0, 2), (2, 0)]:
        want = np.stack([f(v[:, i], structure=s) for i in range(5)], 1)
        assert_same(f(v, structure=s, axes=axes), want, axes)
    if name in ("dilate", "erode"):
        assert_same(f(v, structure=s, axes=(0, 2), mode="wrap"),
                    SCIPY_OPS[name](v, structure=s, axes=(0, 2), mode="wrap"))
    # a lower-rank structure gets leading axes of length 1
    assert_same(f(v, structure=s), f(v, structure=s[None]))


@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("dtype", ["uint16", "float64", "int8"])
def test_out_threads_and_layouts(name, dtype):
    f = OPS[name]
    rng = np.random.default_rng(72)
    x = (rng.integers(0, 120, (13, 40))).astype(dtype)
    s = random_structure((3, 5), rng)
    x_before = x.copy()
    want = f(x, structure=s, mode="symmetric")
    assert_same(want, ref_nonflat(name, x, s, mode="symmetric"))
    np.testing.assert_array_equal(x, x_before)   # the input is not modified
    out = np.zeros(x.shape, dtype)
    assert f(x, structure=s, mode="symmetric", out=out) is out
    assert_same(out, want)
    big = np.zeros((13, 80), dtype)
    f(x, structure=s, mode="symmetric", out=big[:, ::2])
    assert_same(big[:, ::2], want)
    assert not big[:, 1::2].any()
    for threads in (1, 2):
        assert_same(f(x, structure=s, mode="symmetric", threads=threads), want, threads)
    for layout, view in layouts(x):
        assert_same(f(view, structure=s, mode="symmetric"), want, layout)


def test_empty_input():
    s = np.zeros((3, 3))
    for name, f in OPS.items():
        got = f(np.zeros((0, 5), np.uint8), structure=s)
        assert got.shape == (0, 5) and got.dtype == np.uint8, name


# ===========================================================================
# bad inputs and backends without the kernel
# ===========================================================================
@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(structure=np.zeros((3, 3)), footprint=np.ones((3, 2), bool)), ValueError,
     r"structure has shape \(3, 3\) but footprint has shape \(3, 2\)"),
    (dict(structure=np.zeros((3, 3)), size=3), ValueError, "either size or structure"),
    (dict(structure=np.zeros((3, 3), complex)), TypeError, "structure must hold real"),
    (dict(structure=np.zeros((3, 3, 3))), ValueError, "structure has 3 dimensions"),
    (dict(structure=np.zeros((0, 3))), ValueError, "structure is empty"),
    (dict(structure=[[0.5]]), ValueError, "fractional height 0.5"),
    (dict(structure=[[np.nan]]), ValueError, "structure holds NaN"),
    (dict(structure=[["a"]]), TypeError, "structure must hold real"),
    (dict(structure=np.zeros((5, 5)), origin=3), ValueError, "origin"),
])
def test_bad_structure(kwargs, exc, match):
    x = np.zeros((6, 6), np.uint8)
    for f in OPS.values():
        with pytest.raises(exc, match=match):
            f(x, **kwargs)


def test_bad_images():
    with pytest.raises(TypeError, match="bool images take flat footprints"):
        ic.dilate(np.zeros((4, 4), bool), structure=np.zeros((3, 3)))
    with pytest.raises(TypeError):
        ic.erode(np.zeros((4, 4), complex), structure=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="within"):
        ic.dilate(np.zeros(4, np.int64), structure=[2.0 ** 64])
    with pytest.raises(ValueError, match="within"):
        ic.dilate(np.zeros(4, np.uint64), structure=[np.inf])
    # 64-bit images keep their values and heights exactly
    x = np.array([2 ** 62, -2 ** 63 + 3, 2 ** 63 - 2], np.int64)
    assert ic.dilate(x, structure=[5]).tolist() == [2 ** 62 + 5, -2 ** 63 + 8, 2 ** 63 - 1]
    assert ic.erode(x, structure=[5]).tolist() == [2 ** 62 - 5, -2 ** 63, 2 ** 63 - 7]
    u = np.array([2 ** 64 - 3, 1], np.uint64)
    assert ic.dilate(u, structure=[2 ** 63 - 1]).tolist() == [2 ** 64 - 1, 2 ** 63]
    assert ic.erode(u, structure=[2 ** 63 - 1]).tolist() == [2 ** 63 - 2, 0]

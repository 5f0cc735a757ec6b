"""Grey-scale and binary morphology: dilate, erode, opening, closing,
morph_gradient, tophat, blackhat, and the footprints module.

Conventions (scipy.ndimage's, see imgconv/_morphology.py):
- the footprint's centre cell is ``k // 2 + origin`` along each axis;
- ``erode(x, fp, origin=o)`` == ``scipy.ndimage.grey_erosion(x, footprint=fp, origin=o)``:
  out[p] = min over True cells c of x[p + c - centre];
- ``dilate(x, fp, origin=o)`` == ``scipy.ndimage.grey_dilation(...)``: the maximum over the
  footprint mirrored through its centre, out[p] = max over cells c of x[p - (c - centre)];
- every imgconv ``mode`` is scipy's ``SCIPY_MODE[mode]``; the default ``mode=None`` pads
  with the neutral value (dtype min / -inf / False for dilation, max / +inf / True for
  erosion); ``'zero'`` pads with ``cval`` saturated to the dtype.

``reference.ref_extreme`` is a naive, independent reference (np.pad, then min/max of shifted
slices, NaN-propagating like numpy.maximum); scipy is the reference for the conventions.
scipy is avoided where footprints are much larger than the image: its mirror/reflect
modes read out of bounds there (e.g. a 65-wide footprint on a 5-sample row, mode
'reflect', returns garbage), while np.pad repeats the rule as imgconv does.
"""
import itertools

import numpy as np
import pytest

ndi = pytest.importorskip("scipy.ndimage")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import imgconv as ic  # noqa: E402
from imgconv import footprints  # noqa: E402
from imgconv._validate import SCIPY_MODE  # noqa: E402
from reference import (CANONICAL, layouts, neutral, ref_difference,  # noqa: E402
                       ref_dilate, ref_erode, ref_op)

DTYPES = ["uint8", "uint16", "int16", "int32", "float32", "float64", "bool"]
GREY_DTYPES = DTYPES[:-1]
MODES = ["zero", "replicate", "reflect", "symmetric", "wrap"]
ALL_MODES = [None] + MODES
SHAPES = {1: (23,), 2: (11, 14), 3: (6, 7, 9)}

HYPO = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

BASIC = {"dilate": ic.dilate, "erode": ic.erode}
COMPOUND = {"opening": ic.opening, "closing": ic.closing,
            "morph_gradient": ic.morph_gradient, "tophat": ic.tophat, "blackhat": ic.blackhat}
ALL_OPS = {**BASIC, **COMPOUND}


# ===========================================================================
# references
# ===========================================================================
def random_image(shape, dtype, rng):
    """Values with ties, and for integers the dtype's extremes now and then."""
    dtype = np.dtype(dtype)
    if dtype == bool:
        return rng.random(shape) < 0.5
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 50).round(1).astype(dtype)
    info = np.iinfo(dtype)
    x = rng.integers(max(info.min, -300), min(info.max, 300), shape, endpoint=True)
    x = x.astype(dtype)
    extremes = rng.random(shape)
    x[extremes < 0.05] = info.min
    x[extremes > 0.95] = info.max
    return x


def random_footprint(shape, rng, density=0.6):
    fp = rng.random(shape) < density
    fp.flat[rng.integers(fp.size)] = True
    return fp


def random_origin(kshape, rng):
    return tuple(int(rng.integers(-(k // 2), (k - 1) // 2, endpoint=True)) for k in kshape)


def extreme_origins(k):
    """0 and the two ends of scipy's range for size k."""
    return sorted({0, -(k // 2), (k - 1) // 2})


def call(f, x, fp=None, size=None, mode=None, cval=None, footprint=None, **kw):
    """f with cval passed only where the mode takes one."""
    fp = footprint if fp is None else fp
    return f(x, fp, size=size, mode=mode, cval=cval if mode in ("zero", "constant") else None,
             **kw)


def assert_same(got, want, what=""):
    assert got.dtype == want.dtype, (what, got.dtype, want.dtype)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    if np.array_equal(got, want, equal_nan=got.dtype.kind == "f"):
        return
    if got.dtype.kind == "f":
        np.testing.assert_array_equal(got, want, err_msg=str(what))
    else:
        np.testing.assert_array_equal(got, want, err_msg=str(what), strict=True)


# ===========================================================================
# the reference itself, and tiny hand-checked cases
# ===========================================================================
def test_reference_matches_scipy_conventions():
    """ref_extreme follows scipy.ndimage's origin and mirroring rules, so the
    comparisons against it below test scipy's semantics."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 9))
    for kshape, fp in itertools.chain(
            ((k, random_footprint(k, rng)) for k in [(1, 2), (2, 2), (3, 4), (4, 3), (2, 5)]),
            ((k, np.ones(k, bool)) for k in [(1, 1), (2, 3), (4, 4), (1, 7)])):
        for origin in itertools.product(*(extreme_origins(k) for k in kshape)):
            for mode in MODES:
                want = ndi.grey_erosion(x, footprint=fp, origin=origin, mode=SCIPY_MODE[mode],
                                        cval=2.0)
                np.testing.assert_array_equal(ref_erode(x, fp, origin=origin, mode=mode,
                                                        cval=2.0), want)
                want = ndi.grey_dilation(x, footprint=fp, origin=origin, mode=SCIPY_MODE[mode],
                                         cval=2.0)
                np.testing.assert_array_equal(ref_dilate(x, fp, origin=origin, mode=mode,
                                                         cval=2.0), want)


def test_hand_checked_even_and_asymmetric():
    x = np.array([5, 1, 7, 3, 9], np.float64)
    # size 2: centre cell 1; erosion reads x[p-1], x[p]; dilation x[p], x[p+1]
    np.testing.assert_array_equal(ic.erode(x, size=2), [5, 1, 1, 3, 3])
    np.testing.assert_array_equal(ic.dilate(x, size=2), [5, 7, 7, 9, 9])
    # origin -1 moves the centre to cell 0: erosion reads x[p], x[p+1]
    np.testing.assert_array_equal(ic.erode(x, size=2, origin=-1), [1, 1, 3, 3, 9])
    np.testing.assert_array_equal(ic.dilate(x, size=2, origin=-1), [5, 5, 7, 7, 9])
    # a single off-centre cell is a shift; dilation shifts the other way
    np.testing.assert_array_equal(ic.erode(x, [1, 0, 0]), [np.inf, 5, 1, 7, 3])
    np.testing.assert_array_equal(ic.dilate(x, [1, 0, 0]), [1, 7, 3, 9, -np.inf])
    np.testing.assert_array_equal(ic.erode(x, [True, True, False]), [5, 1, 1, 3, 3])
    np.testing.assert_array_equal(ic.dilate(x, [True, True, False]), [5, 7, 7, 9, 9])
    # integers: the neutral padding is the dtype's extreme
    u = np.array([5, 1, 7], np.uint8)
    np.testing.assert_array_equal(ic.erode(u, [1, 0, 0]), [255, 5, 1])
    np.testing.assert_array_equal(ic.dilate(u, [1, 0, 0]), [1, 7, 0])


def test_hand_checked_modes():
    x = np.array([4, 2, 6, 8], np.int16)
    # window [p-2, p+2]
    np.testing.assert_array_equal(ic.dilate(x, size=5), [6, 8, 8, 8])
    np.testing.assert_array_equal(ic.erode(x, size=5), [2, 2, 2, 2])
    np.testing.assert_array_equal(ic.erode(x, size=5, mode="zero"), [0, 0, 0, 0])
    np.testing.assert_array_equal(ic.dilate(x, size=5, mode="zero", cval=7), [7, 8, 8, 8])
    # wrap: ...6 8 | 4 2 6 8 | 4 2...
    np.testing.assert_array_equal(ic.erode(x, size=3, mode="wrap"), [2, 2, 2, 4])
    # reflect (numpy's): 2 | 4 2 6 8 | 6;  symmetric: 4 | 4 2 6 8 | 8
    np.testing.assert_array_equal(ic.erode(x[::-1], size=3, mode="reflect"), [6, 2, 2, 2])
    np.testing.assert_array_equal(ic.dilate(x, size=3, mode="reflect"), [4, 6, 8, 8])
    np.testing.assert_array_equal(ic.dilate(x[:2], size=3, mode="symmetric"), [4, 4])
    np.testing.assert_array_equal(ic.erode(x[:2], size=3, mode="replicate"), [2, 2])


def test_hand_checked_compound():
    x = np.array([1, 1, 9, 1, 1, 5, 5, 5, 0], np.uint8)
    np.testing.assert_array_equal(ic.opening(x, size=3), [1, 1, 1, 1, 1, 5, 5, 5, 0])
    np.testing.assert_array_equal(ic.tophat(x, size=3), [0, 0, 8, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(ic.closing(x, size=3), [1, 1, 9, 5, 5, 5, 5, 5, 5])
    np.testing.assert_array_equal(ic.morph_gradient(x, size=3), [0, 8, 8, 8, 4, 4, 0, 5, 5])
    y = np.array([9, 9, 1, 9, 9], np.uint8)
    np.testing.assert_array_equal(ic.blackhat(y, size=3), [0, 0, 8, 0, 0])


@pytest.mark.parametrize("dtype,cval,left", [
    ("uint8", 1000, 255), ("uint8", -5, 0), ("uint8", 2.5, 2), ("uint8", 3.5, 4),
    ("int16", 1e9, 32767), ("int16", -1e9, -32768), ("int32", 1e12, 2**31 - 1),
    ("float32", 2.5, 2.5), ("float64", -np.inf, -np.inf), ("bool", 1, True),
    ("bool", 0.5, True), ("bool", 0, False)])
def test_zero_mode_cval_saturates(dtype, cval, left):
    """mode='zero' pads with cval rounded and saturated to the dtype."""
    x = np.zeros(5, dtype)
    dil = ic.dilate(x, mode="zero", cval=cval)
    assert dil.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(dil, [max(left, 0), 0, 0, 0, max(left, 0)])
    ones = np.ones(5, dtype)
    ero = ic.erode(ones, mode="zero", cval=cval)
    np.testing.assert_array_equal(ero, [min(left, 1), 1, 1, 1, min(left, 1)])


# ===========================================================================
# footprints
# ===========================================================================
def test_disk_ball_match_definition_and_skimage():
    for r in range(0, 7):
        grid = np.ogrid[-r:r + 1, -r:r + 1]
        want = grid[0] ** 2 + grid[1] ** 2 <= r * r
        d = footprints.disk(r)
        assert d.dtype == bool and d.shape == (2 * r + 1,) * 2
        np.testing.assert_array_equal(d, want)
        g3 = np.ogrid[-r:r + 1, -r:r + 1, -r:r + 1]
        b = footprints.ball(r)
        assert b.dtype == bool and b.shape == (2 * r + 1,) * 3
        np.testing.assert_array_equal(b, sum(g * g for g in g3) <= r * r)
    np.testing.assert_array_equal(footprints.disk(1), [[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    assert footprints.disk(2).sum() == 13 and footprints.ball(1).sum() == 7
    skm = pytest.importorskip("skimage.morphology")
    for r in range(0, 7):
        np.testing.assert_array_equal(footprints.disk(r), skm.disk(r).astype(bool))
        np.testing.assert_array_equal(footprints.ball(r), skm.ball(r).astype(bool))


def test_cross_and_box():
    for ndim in (1, 2, 3):
        c = footprints.cross(ndim)
        assert c.dtype == bool
        np.testing.assert_array_equal(c, ndi.generate_binary_structure(ndim, 1))
    c = footprints.cross(2, radius=2)
    want = np.zeros((5, 5), bool)
    want[2, :] = want[:, 2] = True
    np.testing.assert_array_equal(c, want)
    c3 = footprints.cross(3, radius=2)
    assert c3.shape == (5, 5, 5) and c3.sum() == 13 and c3[2, 2, :].all() and c3[:, 2, 2].all()
    np.testing.assert_array_equal(footprints.cross(1, radius=2), np.ones(5, bool))
    assert footprints.box(3).shape == (3, 3) and footprints.box(3).all()
    assert footprints.box((1, 5, 3), 3).shape == (1, 5, 3)
    assert footprints.box(4, 1).shape == (4,)
    assert footprints.box(2, 3).dtype == bool


@pytest.mark.parametrize("fn,args,exc,match", [
    (footprints.disk, (-1,), ValueError, "radius"),
    (footprints.disk, (1.5,), TypeError, "radius"),
    (footprints.ball, (-2,), ValueError, "radius"),
    (footprints.cross, (4,), ValueError, "ndim"),
    (footprints.cross, (0,), ValueError, "ndim"),
    (footprints.cross, (2, -1), ValueError, "radius"),
    (footprints.box, (0,), ValueError, "size"),
    (footprints.box, ((3, 0),), ValueError, "size"),
    (footprints.box, (3, 4), ValueError, "ndim"),
    (footprints.box, ((3, 3), 3), ValueError, "size"),
    # beyond 2**28 cells a side: a clear error, not numpy's "array is too big"
    (footprints.disk, (2 ** 70,), ValueError, "radius=.* at most 2\\*\\*28"),
    (footprints.ball, (2 ** 27,), ValueError, "radius=.* at most 2\\*\\*28"),
    (footprints.cross, (2, 2 ** 40), ValueError, "radius=.* at most 2\\*\\*28"),
    (footprints.box, (2 ** 40,), ValueError, "size must be at most 2\\*\\*28"),
])
def test_footprint_helper_errors(fn, args, exc, match):
    with pytest.raises(exc, match=match):
        fn(*args)


@pytest.mark.parametrize("name,fp", [("disk", footprints.disk(2)), ("cross", footprints.cross(2)),
                                     ("box", footprints.box((3, 4)))])
def test_footprint_helpers_in_use_2d(name, fp):
    rng = np.random.default_rng(1)
    x = random_image((12, 13), "uint8", rng)
    for mode in MODES:
        assert_same(ic.dilate(x, fp, mode=mode), ndi.grey_dilation(x, footprint=fp,
                                                                   mode=SCIPY_MODE[mode]))
        assert_same(ic.erode(x, fp, mode=mode), ndi.grey_erosion(x, footprint=fp,
                                                                 mode=SCIPY_MODE[mode]))
    b = x > 128
    assert_same(ic.dilate(b, fp), ndi.binary_dilation(b, structure=fp))
    assert_same(ic.erode(b, fp), ndi.binary_erosion(b, structure=fp, border_value=1))


def test_ball_and_cross_3d():
    rng = np.random.default_rng(2)
    x = random_image((6, 7, 8), "float32", rng)
    for fp in (footprints.ball(1), footprints.ball(2), footprints.cross(3)):
        for mode in ("zero", "reflect", "wrap"):
            assert_same(ic.dilate(x, fp, mode=mode, cval=None if mode != "zero" else 1.5),
                        ndi.grey_dilation(x, footprint=fp, mode=SCIPY_MODE[mode], cval=1.5))
            assert_same(ic.erode(x, fp, mode=mode, cval=None if mode != "zero" else 1.5),
                        ndi.grey_erosion(x, footprint=fp, mode=SCIPY_MODE[mode], cval=1.5))
        b = x > 0
        assert_same(ic.dilate(b, fp), ndi.binary_dilation(b, structure=fp))
        assert_same(ic.erode(b, fp), ndi.binary_erosion(b, structure=fp, border_value=1))


# ===========================================================================
# against scipy: every dtype, rank, mode, origin, box and arbitrary footprints
# ===========================================================================
@pytest.mark.parametrize("dtype", GREY_DTYPES)
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_grey_against_scipy(dtype, rank):
    rng = np.random.default_rng(10 + rank)
    x = random_image(SHAPES[rank], dtype, rng)
    cval = 3.0
    for trial in range(5):
        kshape = tuple(int(k) for k in rng.integers(1, 6, rank))
        if trial == 0:
            kshape = (2,) * rank   # even sizes
        origin = random_origin(kshape, rng)
        fp = random_footprint(kshape, rng)
        for mode in MODES:
            smode = SCIPY_MODE[mode]
            for what, kw in (("size", dict(size=kshape)), ("footprint", dict(footprint=fp))):
                got = call(ic.erode, x, mode=mode, cval=cval, origin=origin, **kw)
                want = ndi.grey_erosion(x, origin=origin, mode=smode, cval=cval, **kw)
                assert_same(got, want, ("erode", what, kshape, origin, mode))
                got = call(ic.dilate, x, mode=mode, cval=cval, origin=origin, **kw)
                want = ndi.grey_dilation(x, origin=origin, mode=smode, cval=cval, **kw)
                assert_same(got, want, ("dilate", what, kshape, origin, mode))


@pytest.mark.parametrize("dtype", GREY_DTYPES)
def test_default_mode_is_neutral_padding(dtype):
    """mode=None == scipy's constant mode with the dtype's min (dilation) or max (erosion)."""
    rng = np.random.default_rng(11)
    for rank in (1, 2, 3):
        x = random_image(SHAPES[rank], dtype, rng)
        for trial in range(4):
            kshape = tuple(int(k) for k in rng.integers(1, 6, rank))
            origin = random_origin(kshape, rng)
            fp = random_footprint(kshape, rng)
            for kw in (dict(size=kshape), dict(footprint=fp)):
                got = ic.dilate(x, origin=origin, **kw)
                want = ndi.grey_dilation(x, origin=origin, mode="constant",
                                         cval=neutral(dtype, True), **kw)
                assert_same(got, want, ("dilate", kshape, origin))
                got = ic.erode(x, origin=origin, **kw)
                want = ndi.grey_erosion(x, origin=origin, mode="constant",
                                        cval=neutral(dtype, False), **kw)
                assert_same(got, want, ("erode", kshape, origin))
    # the border neither grows nor shrinks a flat image, whatever its value
    flat = np.full((5, 6), 7, dtype)
    for fp in (None, footprints.disk(2), np.array([[1, 0, 0, 1]], bool)):
        assert_same(ic.dilate(flat, fp), flat)
        assert_same(ic.erode(flat, fp), flat)


def test_default_size_is_3():
    rng = np.random.default_rng(12)
    for rank in (1, 2, 3):
        x = random_image(SHAPES[rank], "int16", rng)
        assert_same(ic.dilate(x), ic.dilate(x, size=3))
        assert_same(ic.erode(x), ic.erode(x, np.ones((3,) * rank, bool)))
        assert_same(ic.erode(x), ref_erode(x, np.ones((3,) * rank, bool)))


def test_full_box_footprint_equals_size():
    """An all-True footprint takes the box path: identical to size= and to the
    same box with one cell missing plus that cell (run path)."""
    rng = np.random.default_rng(13)
    x = random_image((9, 12), "float32", rng)
    for kshape in [(1, 1), (2, 3), (4, 4), (3, 7)]:
        for origin in itertools.product(*(extreme_origins(k) for k in kshape)):
            for f in BASIC.values():
                a = f(x, np.ones(kshape, bool), origin=origin)
                b = f(x, size=kshape, origin=origin)
                c = f(x, np.ones(kshape, np.uint8), origin=origin)   # 0/1 ints are fine
                assert_same(a, b)
                assert_same(a, c)


def test_mode_aliases():
    rng = np.random.default_rng(14)
    x = random_image((7, 8), "float64", rng)
    fp = random_footprint((3, 2), rng)
    for alias, mode in CANONICAL.items():
        for f in BASIC.values():
            for kw in (dict(size=(2, 3)), dict(footprint=fp)):
                cval = 2.0 if mode == "zero" else None
                assert_same(f(x, mode=alias, cval=cval, **kw), f(x, mode=mode, cval=cval, **kw))


@pytest.mark.parametrize("dtype", ["int8", "float16", "uint32", "int64", "uint64", ">i2", ">f8"])
def test_other_dtypes_keep_their_dtype(dtype):
    """Dtypes the kernels lack run widened and come back in the input's dtype
    (native byte order), exactly (int64 and uint64 run as they are), padding
    saturated to the dtype's range."""
    rng = np.random.default_rng(15)
    dtype = np.dtype(dtype)
    native = dtype.newbyteorder("=")
    if dtype.kind == "f":
        x = (rng.standard_normal((7, 9)) * 20).astype(dtype)
    else:
        info = np.iinfo(dtype)
        x = rng.integers(max(info.min, -100), min(info.max, 100), (7, 9)).astype(dtype)
        x[1, 2], x[4, 5] = info.min, info.max
    xn = x.astype(native)
    fp = np.array([[1, 0, 0], [0, 1, 1]], bool)
    for mode, cval in [(None, None), ("zero", 1e30), ("zero", -1e30), ("zero", 3), ("wrap", None)]:
        rcval = 0.0 if cval is None else cval
        for name, f in ALL_OPS.items():
            for kw in (dict(footprint=fp), dict(size=(2, 3))):
                got = f(x, mode=mode, cval=cval, **kw)
                assert got.dtype == native, (name, got.dtype)
                fpk = kw.get("footprint", np.ones((2, 3), bool))
                want = ref_op(name, xn, fpk, mode=mode, cval=rcval)
                assert_same(got, want, (name, mode, cval))
        out = np.empty(x.shape, native)
        assert ic.dilate(x, fp, mode=mode, cval=cval, out=out) is out
        assert_same(out, ref_dilate(xn, fp, mode=mode, cval=rcval))
    if dtype.kind in "iu":
        # integer extremes and a gradient that saturates
        y = np.array([info.min, info.max, 0, 1], dtype)
        assert_same(ic.dilate(y, size=2), np.array([info.max, info.max, 1, 1], native))
        assert_same(ic.erode(y, size=2), np.array([info.min, info.min, 0, 0], native))
        assert_same(ic.morph_gradient(y, size=2),
                    ref_difference(ic.dilate(y.astype(native), size=2),
                                   ic.erode(y.astype(native), size=2)))
        assert ic.morph_gradient(y, size=2)[0] == info.max


@pytest.mark.parametrize("dtype", ["int64", "uint64", ">i8"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_64_bit_integers_stay_exact(dtype, rank):
    """int64 and uint64 run as they are: values that float64 cannot tell
    apart (a few units near 2**62 or the dtype's limits) keep their order, in
    every op, mode and footprint, and cval saturates exactly."""
    rng = np.random.default_rng(16 + rank)
    dtype = np.dtype(dtype)
    native = dtype.newbyteorder("=")
    info = np.iinfo(native)
    shape = SHAPES[rank]
    levels = np.array([int(info.max) - 40, 2 ** 62, int(info.min) + 40], object)
    x = (rng.choice(levels, shape) + rng.integers(-8, 9, shape).astype(object)).astype(native)
    x.flat[0], x.flat[-1] = info.min, info.max
    x = x.astype(dtype)
    xn = x.astype(native)
    assert len(np.unique(xn)) > len(np.unique(xn.astype(np.float64)))   # float64 would merge
    kshape = (3, 2, 3)[-rank:]
    fp = random_footprint(kshape, rng)
    for mode, cval in [(None, None), ("zero", 2.0 ** 62 + 2048), ("zero", -1e30),
                       ("reflect", None), ("wrap", None)]:
        rcval = 0.0 if cval is None else cval
        for name, f in ALL_OPS.items():
            for kw in (dict(footprint=fp), dict(size=kshape)):
                got = f(x, mode=mode, cval=cval, **kw)
                assert got.dtype == native, (name, got.dtype)
                fpk = kw.get("footprint", np.ones(kshape, bool))
                assert_same(got, ref_op(name, xn, fpk, mode=mode, cval=rcval), (name, mode))
    out = np.empty(shape, native)
    assert ic.erode(x, fp, out=out) is out
    assert_same(out, ref_erode(xn, fp))


# ===========================================================================
# binary morphology
# ===========================================================================
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_binary_against_scipy(rank):
    rng = np.random.default_rng(20 + rank)
    x = random_image(SHAPES[rank], "bool", rng)
    for trial in range(8):
        kshape = tuple(int(k) for k in rng.integers(1, 5, rank))
        origin = random_origin(kshape, rng)
        for fp in (random_footprint(kshape, rng), np.ones(kshape, bool)):
            what = (fp.astype(int).tolist(), origin)
            got = ic.dilate(x, fp, origin=origin)
            assert got.dtype == bool
            assert_same(got, ndi.binary_dilation(x, structure=fp, origin=origin), what)
            got = ic.erode(x, fp, origin=origin)
            assert got.dtype == bool
            assert_same(got, ndi.binary_erosion(x, structure=fp, origin=origin,
                                                border_value=1), what)
            # scipy's default border (False) is imgconv's mode='zero'
            assert_same(ic.erode(x, fp, origin=origin, mode="zero"),
                        ndi.binary_erosion(x, structure=fp, origin=origin), what)
            for mode in MODES:
                for f, name in ((ic.erode, "erode"), (ic.dilate, "dilate")):
                    assert_same(call(f, x, fp, mode=mode, origin=origin, cval=1),
                                ref_op(name, x, fp, mode=mode, origin=origin, cval=1), what)


def test_binary_compound_ops():
    rng = np.random.default_rng(24)
    x = random_image((13, 15), "bool", rng)
    for fp in (footprints.disk(1), np.array([[1, 1, 0], [0, 1, 1]], bool), None):
        size = (2, 3) if fp is None else None
        fp_arr = np.ones((2, 3), bool) if fp is None else fp
        dil, ero = ic.dilate(x, fp, size=size), ic.erode(x, fp, size=size)
        for name, f in COMPOUND.items():
            got = f(x, fp, size=size)
            assert got.dtype == bool, name
            assert_same(got, ref_op(name, x, fp_arr), name)
        assert_same(ic.morph_gradient(x, fp, size=size), dil & ~ero)
        assert_same(ic.opening(x, fp, size=size), ic.dilate(ero, fp, size=size))
        assert_same(ic.closing(x, fp, size=size), ic.erode(dil, fp, size=size))
        assert_same(ic.tophat(x, fp, size=size), x & ~ic.opening(x, fp, size=size))
        assert_same(ic.blackhat(x, fp, size=size), ic.closing(x, fp, size=size) & ~x)
        # scipy's binary_opening/closing pad with False: imgconv's mode='zero'
        fp_s = np.ones((2, 3), bool) if fp is None else fp
        assert_same(ic.opening(x, fp_s, mode="zero"), ndi.binary_opening(x, structure=fp_s))
        assert_same(ic.closing(x, fp_s, mode="zero"), ndi.binary_closing(x, structure=fp_s))


# ===========================================================================
# compound operations
# ===========================================================================
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_compound_against_scipy_float(rank):
    rng = np.random.default_rng(30 + rank)
    x = random_image(SHAPES[rank], "float64", rng)
    pairs = [(ic.opening, ndi.grey_opening), (ic.closing, ndi.grey_closing),
             (ic.morph_gradient, ndi.morphological_gradient),
             (ic.tophat, ndi.white_tophat), (ic.blackhat, ndi.black_tophat)]
    for trial in range(3):
        kshape = tuple(int(k) for k in rng.integers(1, 5, rank))
        origin = random_origin(kshape, rng)
        fp = random_footprint(kshape, rng)
        for mode in MODES:
            for kw in (dict(size=kshape), dict(footprint=fp)):
                for f, g in pairs:
                    got = call(f, x, mode=mode, cval=-4.0, origin=origin, **kw)
                    want = g(x, mode=SCIPY_MODE[mode], cval=-4.0, origin=origin, **kw)
                    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12,
                                               err_msg=str((f.__name__, kshape, origin, mode)))
                    assert got.dtype == x.dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_compound_every_dtype(dtype):
    """Compositions of erode/dilate in the input's dtype; integer differences
    saturate instead of wrapping (an asymmetric footprint makes dilation minus
    erosion negative, a large cval makes the opening exceed the input)."""
    rng = np.random.default_rng(35)
    x = random_image((9, 11), dtype, rng)
    shift = np.array([[1, 0, 0]], bool)   # erosion and dilation shift in opposite directions
    for fp, mode, cval in [(footprints.disk(1), None, None), (shift, None, None),
                           (shift, "reflect", None), (np.ones((2, 3), bool), "zero", 1e6),
                           (np.ones((3, 1), bool), "zero", -1e6),
                           (footprints.cross(2), "wrap", None)]:
        kw = dict(mode=mode, cval=cval)
        rkw = dict(mode=mode, cval=0.0 if cval is None else cval)
        for name, f in COMPOUND.items():
            got = f(x, fp, **kw)
            assert_same(got, ref_op(name, x, fp, **rkw), (name, fp.tolist(), mode))
        dil, ero = ic.dilate(x, fp, **kw), ic.erode(x, fp, **kw)
        assert_same(ic.opening(x, fp, **kw), ic.dilate(ero, fp, **kw))
        assert_same(ic.closing(x, fp, **kw), ic.erode(dil, fp, **kw))
        assert_same(ic.morph_gradient(x, fp, **kw), ref_difference(dil, ero))
    if dtype in ("uint8", "uint16"):
        # the shift makes dilate - erode negative somewhere: saturates to 0
        g = ic.morph_gradient(x, shift)
        assert (g >= 0).all()
        assert ((ic.dilate(x, shift).astype(int) - ic.erode(x, shift).astype(int) < 0)
                <= (g == 0)).all()


def test_tophat_blackhat_non_negative_by_default():
    rng = np.random.default_rng(36)
    for dtype in GREY_DTYPES:
        x = random_image((10, 12), dtype, rng)
        fp = random_footprint((3, 4), rng)
        assert (ic.tophat(x, fp) >= 0).all()
        assert (ic.blackhat(x, fp) >= 0).all()
        assert_same(ic.tophat(x, fp), ref_difference(x, ic.opening(x, fp)))
        assert_same(ic.blackhat(x, fp), ref_difference(ic.closing(x, fp), x))


# ===========================================================================
# window sizes: the ladder (<= 64), van Herk past 64, outer-axis direct / van Herk
# ===========================================================================
X_SIZES = list(range(1, 71)) + [100, 129]


@pytest.mark.parametrize("dtype", DTYPES)
def test_box_sizes_along_contiguous_axis(dtype):
    rng = np.random.default_rng(40)
    rows = [random_image((83,), dtype, rng), random_image((3, 37), dtype, rng)]
    for k in X_SIZES:
        origins = extreme_origins(k)
        for i, x in enumerate(rows):
            size = (k,) if x.ndim == 1 else (1, k)
            fp = np.ones(size, bool)
            for origin in {origins[(k + i) % len(origins)], origins[-1]}:
                org = (origin,) if x.ndim == 1 else (0, origin)
                for mode in ALL_MODES:
                    for name, f in BASIC.items():
                        got = call(f, x, size=size, mode=mode, cval=5, origin=org)
                        want = ref_op(name, x, fp, mode=mode, cval=5, origin=org)
                        assert_same(got, want, (name, x.shape, k, origin, mode))


def test_box_sizes_along_contiguous_axis_scipy():
    """The same sweep against scipy for sizes up to the row length."""
    rng = np.random.default_rng(41)
    x = random_image((3, 150), "float32", rng)
    for k in list(range(1, 71)) + [100, 129]:
        for origin in extreme_origins(k):
            for mode in MODES:
                for f, g in ((ic.erode, ndi.grey_erosion), (ic.dilate, ndi.grey_dilation)):
                    got = call(f, x, size=(1, k), mode=mode, cval=-1.0, origin=(0, origin))
                    want = g(x, size=(1, k), mode=SCIPY_MODE[mode], cval=-1.0,
                             origin=(0, origin))
                    assert_same(got, want, (f.__name__, k, origin, mode))


def test_box_far_beyond_the_image():
    """Boxes reaching up to 3n + 2 cells past an axis of n samples on either
    side (every mode repeats its values within 2n padded cells, so the box is
    clipped there, with the same result) against scipy; and a box of 10**6
    on a tiny image is as quick as a small one."""
    from imgconv._backend import clip_box as _clip_box

    assert _clip_box((10 ** 6, 7, 5), (0, 3, 2), (4, 5, 6)) == ((9, 7, 5), (0, 3, 2))
    assert _clip_box((10 ** 6,), (10 ** 6 - 1,), (4,)) == ((9,), (8,))
    rng = np.random.default_rng(44)
    for n in (1, 2, 3, 5):
        x = random_image((n, n + 1), "float32", rng)
        for k in range(1, 6 * n + 6):
            for origin in extreme_origins(k):
                for mode in MODES:
                    for f, g in ((ic.erode, ndi.grey_erosion), (ic.dilate, ndi.grey_dilation)):
                        got = call(f, x, size=(k, k), mode=mode, cval=0.5, origin=origin)
                        want = g(x, size=(k, k), mode=SCIPY_MODE[mode], cval=0.5, origin=origin)
                        assert_same(got, want, (f.__name__, n, k, origin, mode))
    x = random_image((20, 30), "uint8", rng)
    assert (ic.dilate(x, size=10 ** 6) == x.max()).all()
    assert (ic.erode(x, size=(10 ** 6, 1), mode="wrap") == x.min(axis=0)).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_short_row_windows_combined_straight_from_the_rows(dtype):
    """Boxes up to 3 rows tall over contiguous rows take the source rows in
    one sweep per output row (the x padding from the table), other layouts
    the row ring: every mode, origin, height down to one row, a NaN, an
    out= with gaps, against the naive reference."""
    rng = np.random.default_rng(71)
    for shape in [(1, 1), (1, 9), (2, 5), (3, 1), (5, 33), (17, 70)]:
        x = random_image(shape, dtype, rng)
        if x.dtype.kind == "f":
            x[rng.integers(shape[0]), rng.integers(shape[1])] = np.nan
        before = x.copy()
        for size in [(3, 3), (2, 3), (1, 3), (3, 1), (3, 2), (2, 2), (3, 5), (3, 70)]:
            for mode in ALL_MODES:
                origin = tuple(int(o) for o in (rng.integers(-(size[0] // 2), (size[0] - 1) // 2,
                                                             endpoint=True),
                                                rng.integers(-(size[1] // 2), (size[1] - 1) // 2,
                                                             endpoint=True)))
                for name, f in BASIC.items():
                    cval = None if dtype == "bool" else 3
                    want = ref_op(name, x, np.ones(size, bool), mode=mode,
                                  cval=0 if cval is None else cval, origin=origin)
                    what = (name, shape, size, mode, origin)
                    assert_same(call(f, x, size=size, mode=mode, cval=cval, origin=origin), want,
                                what)
                    # the row ring: rows with a gap between samples
                    spread = np.zeros((shape[0], 2 * shape[1]), x.dtype)[:, ::2]
                    spread[...] = x
                    assert_same(call(f, spread, size=size, mode=mode, cval=cval, origin=origin),
                                want, what + ("strided",))
                    out = np.zeros((shape[0], 3 * shape[1]), x.dtype)[:, 1::3]
                    call(f, x, size=size, mode=mode, cval=cval, origin=origin, out=out)
                    assert_same(out, want, what + ("out",))
        np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("dtype", ["uint8", "int32", "float64", "bool"])
def test_box_sizes_along_outer_axes(dtype):
    """Windows of 1..12 along depth and height (direct up to 3, van Herk past),
    on axes shorter and longer than the window, alone and with the other axes."""
    rng = np.random.default_rng(42)
    for n in (1, 2, 3, 4, 5, 9):
        x = random_image((n, n + 1, 5), dtype, rng)
        for k in range(1, 13):
            for axis in (0, 1):
                size = [1, 1, 1]
                size[axis] = k
                origins = extreme_origins(k)
                for origin in {origins[(n + axis) % len(origins)], origins[0]}:
                    org = [0, 0, 0]
                    org[axis] = origin
                    for mode in ALL_MODES:
                        fp = np.ones(size, bool)
                        for name, f in BASIC.items():
                            got = call(f, x, size=size, mode=mode, cval=3, origin=org)
                            want = ref_op(name, x, fp, mode=mode, cval=3, origin=org)
                            assert_same(got, want, (name, n, k, axis, origin, mode))
                # all three axes at once (short depths fused into the height/width
                # sweep, long ones a pass of their own)
                for j, size3 in enumerate(((k, max(1, k - 2), 3), (k, 2, 1))):
                    fp = np.ones(size3, bool)
                    org = tuple(extreme_origins(kk)[(k + i) % len(extreme_origins(kk))]
                                for i, kk in enumerate(size3))
                    for mode in (None, ("wrap", "symmetric", "zero")[(n + k + j) % 3]):
                        for name, f in BASIC.items():
                            assert_same(f(x, size=size3, mode=mode, origin=org),
                                        ref_op(name, x, fp, mode=mode, origin=org),
                                        (name, n, size3, org, mode))


def test_box_3d_sizes_against_scipy():
    rng = np.random.default_rng(43)
    x = random_image((8, 9, 10), "int16", rng)
    for size in [(2, 2, 2), (4, 1, 1), (5, 4, 1), (1, 5, 6), (7, 2, 3), (3, 3, 3), (9, 10, 11),
                 (12, 1, 70)]:
        for origin in [(0, 0, 0), tuple(-(k // 2) for k in size),
                       tuple((k - 1) // 2 for k in size)]:
            for mode in MODES:
                for f, g in ((ic.erode, ndi.grey_erosion), (ic.dilate, ndi.grey_dilation)):
                    if max(size) > 2 * min(x.shape) and mode in ("reflect", "symmetric"):
                        want = ref_op(f.__name__, x, np.ones(size, bool), mode=mode,
                                      origin=origin, cval=9)
                    else:
                        want = g(x, size=size, origin=origin, mode=SCIPY_MODE[mode], cval=9)
                    assert_same(call(f, x, size=size, mode=mode, cval=9, origin=origin), want,
                                (f.__name__, size, origin, mode))


def test_wide_rows_are_split_in_column_blocks():
    """Passes along outer axes work in column blocks on wide rows (and on
    merged depth planes), with the x window's halo at each block's edges;
    every block must match."""
    rng = np.random.default_rng(44)
    wide = random_image((7, 6000), "float64", rng)
    vol = random_image((9, 45, 70), "float64", rng)
    for x, sizes in ((wide, [(2, 1), (3, 1), (5, 1), (7, 1), (5, 3), (4, 70), (2, 9)]),
                     (vol, [(3, 1, 1), (5, 1, 1), (6, 2, 1), (8, 1, 1), (9, 2, 3), (3, 2, 5)])):
        for size in sizes:
            fp = np.ones(size, bool)
            for mode in (None, "reflect", "zero"):
                for name, f in BASIC.items():
                    assert_same(call(f, x, size=size, mode=mode, cval=1.0),
                                ref_op(name, x, fp, mode=mode, cval=1.0), (name, size, mode))


# ===========================================================================
# arbitrary footprints: shapes, runs, sizes larger than the image
# ===========================================================================
def test_wide_rows_with_arbitrary_footprints():
    """Footprints whose row ladders would not fit a thread's memory budget on
    very wide rows (the rows are then processed in strips)."""
    rng = np.random.default_rng(45)
    x = random_image((3, 40000), "float64", rng)
    fp = random_footprint((40, 3), rng, 0.5)
    fp[:, 1] = True
    wide_fp = random_footprint((6, 75), rng, 0.7)
    wide_fp[0] = True       # a run of 75 cells: a tall ladder per row
    for f, name in ((ic.erode, "erode"), (ic.dilate, "dilate")):
        for mode in (None, "reflect", "wrap"):
            assert_same(f(x, fp, mode=mode, origin=(5, -1)),
                        ref_op(name, x, fp, mode=mode, origin=(5, -1)), (name, mode))
        for mode in ("symmetric", "wrap"):
            assert_same(f(x[:2], wide_fp, mode=mode, origin=(2, -37)),
                        ref_op(name, x[:2], wide_fp, mode=mode, origin=(2, -37)), (name, mode))


@pytest.mark.parametrize("dtype", DTYPES)
def test_footprints_larger_than_image(dtype):
    rng = np.random.default_rng(50)
    for shape in [(1,), (3,), (1, 1), (2, 3), (1, 4), (2, 1, 3), (1, 1, 1), (3, 2, 2)]:
        x = random_image(shape, dtype, rng)
        for trial in range(4):
            kshape = tuple(int(k) for k in rng.integers(1, 9, len(shape)))
            origin = random_origin(kshape, rng)
            fps = [random_footprint(kshape, rng, 0.5), np.ones(kshape, bool)]
            for fp in fps:
                for mode in ALL_MODES:
                    for name, f in BASIC.items():
                        got = call(f, x, fp, mode=mode, cval=2, origin=origin)
                        want = ref_op(name, x, fp, mode=mode, cval=2, origin=origin)
                        assert_same(got, want, (name, shape, fp.astype(int).tolist(), origin,
                                                mode))


@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32", "bool"])
def test_footprint_long_runs(dtype):
    """Runs longer than 64 cells, runs split by holes, empty rows and planes."""
    rng = np.random.default_rng(51)
    x = random_image((3, 90), dtype, rng)
    fps = []
    for length in (63, 64, 65, 100, 130):
        fp = np.ones((2, length), bool)
        fp[1, length // 3] = False
        fps.append(fp)
    fp = np.zeros((5, 71), bool)
    fp[0, :] = True
    fp[3, ::7] = True
    fps.append(fp)
    for fp in fps:
        for origin in [(0, 0), (-(fp.shape[0] // 2), (fp.shape[1] - 1) // 2)]:
            for mode in ALL_MODES:
                for name, f in BASIC.items():
                    assert_same(call(f, x, fp, mode=mode, cval=1, origin=origin),
                                ref_op(name, x, fp, mode=mode, cval=1, origin=origin),
                                (name, fp.shape, origin, mode))


def test_footprint_3d_and_lower_rank_footprints():
    rng = np.random.default_rng(52)
    x = random_image((7, 8, 9), "float32", rng)
    for kshape in [(3, 3, 3), (2, 4, 3), (5, 1, 2), (1, 3, 4), (4, 4, 1)]:
        fp = random_footprint(kshape, rng, 0.5)
        origin = random_origin(kshape, rng)
        for mode in MODES:
            for f, g in ((ic.erode, ndi.grey_erosion), (ic.dilate, ndi.grey_dilation)):
                assert_same(call(f, x, fp, mode=mode, cval=0.5, origin=origin),
                            g(x, footprint=fp, origin=origin, mode=SCIPY_MODE[mode], cval=0.5),
                            (f.__name__, kshape, origin, mode))
    # a 2D footprint on a volume gets a leading axis of length 1; 1D on 2D likewise
    fp2 = random_footprint((3, 4), rng)
    for f in BASIC.values():
        assert_same(f(x, fp2), f(x, fp2[np.newaxis]))
        assert_same(f(x, fp2, origin=(0, 1, -1)), f(x, fp2[np.newaxis], origin=(0, 1, -1)))
        assert_same(f(x[0], [1, 0, 1]), f(x[0], [[1, 0, 1]]))
    # a footprint given as nested lists of 0/1
    for f in BASIC.values():
        assert_same(f(x[0], [[0, 1], [1, 1]]), f(x[0], np.array([[0, 1], [1, 1]], bool)))
    # empty rows and columns in the footprint still count for the centre
    fp = np.zeros((5, 5), bool)
    fp[0, 4] = True
    for name, f in BASIC.items():
        assert_same(f(x[0], fp, mode="wrap"), ref_op(name, x[0], fp, mode="wrap"))
        assert_same(f(x[0], fp, mode="wrap"),
                    np.roll(x[0], (2, -2) if name == "erode" else (-2, 2), axis=(0, 1)))


# ===========================================================================
# NaN
# ===========================================================================
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_propagates(dtype):
    """Any NaN in the window makes the result NaN, for dilation and erosion,
    box and arbitrary footprints, on every path."""
    rng = np.random.default_rng(60)
    x = random_image((14, 80), dtype, rng)
    x[3, 4] = x[0, 79] = x[13, 0] = x[7, 40] = np.nan
    nan_mask = np.isnan(x)
    for size in [(3, 3), (1, 5), (5, 1), (4, 6), (1, 70), (7, 2), (2, 100), (9, 1)]:
        for mode in (None, "zero", "reflect", "wrap"):
            for name, f in BASIC.items():
                got = call(f, x, size=size, mode=mode, cval=0.0)
                want = ref_op(name, x, np.ones(size, bool), mode=mode, cval=0.0)
                assert np.array_equal(np.isnan(got), np.isnan(want)), (name, size, mode)
                np.testing.assert_array_equal(got, want, err_msg=str((name, size, mode)))
                assert np.isnan(got).sum() >= nan_mask.sum()
        # the NaN mask itself: the mask's dilation by the footprint (for erosion,
        # whose window is the mirror image: where the complement does not erode)
        fp = np.ones(size, bool)
        assert np.array_equal(np.isnan(ic.dilate(x, size=size)), ic.dilate(nan_mask, fp))
        assert np.array_equal(np.isnan(ic.erode(x, size=size)),
                              ~ic.erode(~nan_mask, fp))
    fp = random_footprint((3, 5), rng)
    for name, f in BASIC.items():
        np.testing.assert_array_equal(f(x, fp), ref_op(name, x, fp))
    # cval=nan pads with NaN in zero mode
    got = ic.dilate(np.ones(4, dtype), mode="zero", cval=np.nan)
    np.testing.assert_array_equal(np.isnan(got), [True, False, False, True])


# ===========================================================================
# channel_axis, axes, out=, threads, layouts
# ===========================================================================
@pytest.mark.parametrize("name", list(ALL_OPS))
@pytest.mark.parametrize("dtype", ["uint8", "float32", "bool"])
def test_channel_axis_per_channel(name, dtype):
    f = ALL_OPS[name]
    rng = np.random.default_rng(70)
    x = random_image((9, 10, 3), dtype, rng)
    fp = random_footprint((3, 4), rng)
    for kw in (dict(footprint=fp), dict(size=(3, 5))):
        per = np.stack([f(x[..., c], **kw) for c in range(3)], -1)
        assert_same(f(x, channel_axis=-1, **kw), per)
        assert_same(f(x, channel_axis=2, **kw), per)
        xc = np.ascontiguousarray(np.moveaxis(x, -1, 0))
        assert_same(f(xc, channel_axis=0, **kw), np.moveaxis(per, -1, 0))
        x1 = np.ascontiguousarray(np.moveaxis(x, -1, 1))
        assert_same(f(x1, channel_axis=1, **kw), np.moveaxis(per, -1, 1))
    # a 3D volume with channels
    v = random_image((4, 5, 6, 2), dtype, rng)
    fp3 = random_footprint((2, 3, 2), rng)
    per = np.stack([f(v[..., c], fp3, origin=(-1, 1, 0)) for c in range(2)], -1)
    assert_same(f(v, fp3, origin=(-1, 1, 0), channel_axis=-1), per)


@pytest.mark.parametrize("name", list(ALL_OPS))
def test_axes_slice_wise(name):
    f = ALL_OPS[name]
    rng = np.random.default_rng(71)
    x = random_image((5, 8, 9), "int16", rng)
    fp = random_footprint((3, 2), rng)
    assert_same(f(x, fp, axes=(1, 2)), np.stack([f(x[i], fp) for i in range(5)]))
    assert_same(f(x, fp, axes=(0, 2)), np.stack([f(x[:, i], fp) for i in range(8)], 1))
    # the footprint's dimensions map onto the axes in ascending order (scipy's rule)
    assert_same(f(x, fp, axes=(2, 0)), np.stack([f(x[:, i], fp) for i in range(8)], 1))
    assert_same(f(x, size=4, axes=2), np.stack([[f(r, size=4) for r in p] for p in x]))
    assert_same(f(x, size=(3, 2), axes=(0, 1)),
                np.stack([f(x[..., i], size=(3, 2)) for i in range(9)], -1))
    # axes with a channel axis
    y = random_image((4, 6, 7, 2), "float32", rng)
    want = np.stack([np.stack([f(y[i, ..., c], fp) for i in range(4)]) for c in range(2)], -1)
    assert_same(f(y, fp, axes=(1, 2), channel_axis=-1), want)


@pytest.mark.parametrize("name", list(ALL_OPS))
@pytest.mark.parametrize("dtype", ["uint16", "float64", "bool"])
def test_out(name, dtype):
    f = ALL_OPS[name]
    rng = np.random.default_rng(72)
    x = random_image((9, 11), dtype, rng)
    fp = random_footprint((3, 3), rng)
    want = f(x, fp)
    out = np.zeros(x.shape, dtype)
    got = f(x, fp, out=out)
    assert got is out
    assert_same(out, want)
    # a non-contiguous out
    big = np.zeros((9, 22), dtype)
    got = f(x, fp, out=big[:, ::2])
    assert_same(big[:, ::2], want)
    assert not big[:, 1::2].any()
    # with a channel axis
    xc = random_image((6, 7, 3), dtype, rng)
    out = np.empty((6, 7, 3), dtype)
    assert f(xc, size=(2, 3), channel_axis=-1, out=out) is out
    assert_same(out, f(xc, size=(2, 3), channel_axis=-1))
    # a wrong shape or dtype is refused, naming out
    with pytest.raises(ValueError, match="out"):
        f(x, fp, out=np.zeros((9, 10), dtype))
    other = "float32" if dtype != "float32" else "float64"
    with pytest.raises((ValueError, TypeError), match="out"):
        f(x, fp, out=np.zeros(x.shape, other))
    with pytest.raises((ValueError, TypeError), match="out"):
        f(x, fp, out=[0] * 9)
    if dtype == "bool":
        with pytest.raises((ValueError, TypeError), match="out"):
            f(x, fp, out=np.zeros(x.shape, np.uint8))
    else:
        with pytest.raises((ValueError, TypeError), match="out"):
            f(x, fp, out=np.zeros(x.shape, bool))
    ro = np.zeros(x.shape, dtype)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out.*read-only"):
        f(x, fp, out=ro)


@pytest.mark.parametrize("name", list(ALL_OPS))
def test_out_may_not_be_the_input(name):
    f = ALL_OPS[name]
    x = np.arange(30, dtype=np.float32).reshape(5, 6) % 7
    before = x.copy()
    with pytest.raises(ValueError, match="out"):
        f(x, size=3, out=x)
    with pytest.raises(ValueError, match="out"):
        f(x, size=3, out=x[:, :])
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("kind", ["box", "footprint", "3d"])
def test_threads_do_not_change_results(kind):
    rng = np.random.default_rng(73)
    if kind == "3d":
        x = random_image((12, 60, 70), "float32", rng)
        cases = [dict(size=(5, 3, 9)), dict(size=(2, 1, 1)), dict(footprint=footprints.ball(1))]
    else:
        x = random_image((3, 130, 140), "uint8", rng)
        fp = footprints.disk(3) if kind == "footprint" else None
        cases = [dict(footprint=fp, channel_axis=0, mode="wrap"),
                 dict(footprint=fp, size=(7, 1) if fp is None else None, channel_axis=0),
                 dict(footprint=fp, size=(1, 80) if fp is None else None, channel_axis=0)]
    for kw in cases:
        for f in BASIC.values():
            serial = f(x, threads=1, **kw)
            for n in (None, 2, 3, 4):
                assert_same(f(x, threads=n, **kw), serial, (f.__name__, n, kw.keys()))
    with pytest.raises(ValueError, match="threads"):
        ic.dilate(x[0], threads=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_layouts_give_identical_results_and_input_is_untouched(dtype):
    rng = np.random.default_rng(74)
    x2 = random_image((9, 12), dtype, rng)
    x3 = random_image((5, 6, 7), dtype, rng)
    fp2, fp3 = random_footprint((3, 4), rng), random_footprint((2, 3, 3), rng)
    cases = [(x2, dict(footprint=fp2)), (x2, dict(size=(4, 3), mode="symmetric")),
             (x3, dict(footprint=fp3, mode="wrap")), (x3, dict(size=(4, 2, 3))),
             (x3, dict(size=(5, 1, 1))), (x3, dict(size=(9, 1, 1))),
             (x3, dict(size=(8, 2, 1), mode="reflect")), (x3, dict(size=(3, 3), channel_axis=0))]
    for x, kw in cases:
        for name in ("dilate", "erode", "tophat"):
            f = ALL_OPS[name]
            want = f(x, **kw)
            for layout, lx in layouts(x):
                before = lx.copy()
                got = f(lx, **kw)
                assert_same(got, want, (name, layout, kw.keys()))
                np.testing.assert_array_equal(lx, before)
                assert lx.dtype == before.dtype
                # an out with another layout
                out = np.empty_like(want, order="F")
                assert_same(f(lx, out=out, **kw), want, (name, layout, "out"))


# ===========================================================================
# property tests
# ===========================================================================
@st.composite
def morph_case(draw, dtypes=DTYPES, max_side=8, with_mode=False):
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, max_side), min_size=rank, max_size=rank)))
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    if dtype == bool:
        elements = st.booleans()
    elif dtype.kind == "f":
        elements = st.floats(-1e6, 1e6, width=dtype.itemsize * 8)
    else:
        info = np.iinfo(dtype)
        elements = st.integers(int(info.min), int(info.max))
    x = draw(hnp.arrays(dtype, shape, elements=elements))
    krank = draw(st.integers(1, rank))
    kshape = tuple(draw(st.lists(st.integers(1, 5), min_size=krank, max_size=krank)))
    fp = draw(hnp.arrays(bool, kshape, elements=st.booleans()))
    if not fp.any():
        fp.flat[draw(st.integers(0, fp.size - 1))] = True
    full = (1,) * (rank - krank) + kshape
    origin = tuple(draw(st.integers(-(k // 2), (k - 1) // 2)) for k in full)
    mode = draw(st.sampled_from(ALL_MODES)) if with_mode else None
    cval = draw(st.integers(-5, 300)) if mode == "zero" else None
    return x, fp, origin, mode, cval


@HYPO
@given(morph_case(with_mode=True))
def test_property_against_reference(case):
    x, fp, origin, mode, cval = case
    for name, f in BASIC.items():
        got = f(x, fp, origin=origin, mode=mode, cval=cval)
        want = ref_op(name, x, fp, origin=origin, mode=mode, cval=0.0 if cval is None else cval)
        assert_same(got, want, name)


@HYPO
@given(morph_case())
def test_property_opening_below_closing_above(case):
    x, fp, origin, _, _ = case
    opened = ic.opening(x, fp, origin=origin)
    closed = ic.closing(x, fp, origin=origin)
    assert (opened <= x).all()
    assert (x <= closed).all()


@HYPO
@given(morph_case())
def test_property_idempotent(case):
    x, fp, origin, _, _ = case
    opened = ic.opening(x, fp, origin=origin)
    assert_same(ic.opening(opened, fp, origin=origin), opened)
    closed = ic.closing(x, fp, origin=origin)
    assert_same(ic.closing(closed, fp, origin=origin), closed)


@HYPO
@given(morph_case())
def test_property_erosion_below_dilation_above(case):
    x, fp, origin, _, _ = case
    full = fp.reshape((1,) * (x.ndim - fp.ndim) + fp.shape)
    centre = tuple(k // 2 + o for k, o in zip(full.shape, origin))
    full = full.copy()
    full[centre] = True    # the footprint contains its centre
    assert (ic.erode(x, full, origin=origin) <= x).all()
    assert (x <= ic.dilate(x, full, origin=origin)).all()
    # and the gradient/top-hats are consistent with it
    if x.dtype != bool:
        assert (ic.morph_gradient(x, full, origin=origin) >= 0).all()


@HYPO
@given(morph_case(dtypes=["bool"]))
def test_property_binary_duality(case):
    """For bool input: erosion is the complement of the dilation of the
    complement by the mirrored footprint (padding True <-> False)."""
    x, fp, origin, _, _ = case
    full = fp.reshape((1,) * (x.ndim - fp.ndim) + fp.shape)
    mirrored = full[(slice(None, None, -1),) * full.ndim]
    # the mirrored footprint's centre: k - 1 - (k // 2 + o) == k // 2 + o' for
    # o' = k - 1 - 2 * (k // 2) - o
    morigin = tuple(k - 1 - 2 * (k // 2) - o for k, o in zip(full.shape, origin))
    assert_same(ic.erode(x, full, origin=origin), ~ic.dilate(~x, mirrored, origin=morigin))


# ===========================================================================
# bad input
# ===========================================================================
X = np.arange(30, dtype=np.float64).reshape(5, 6)


@pytest.fixture(params=list(ALL_OPS))
def op(request):
    return ALL_OPS[request.param]


@pytest.mark.parametrize("size", [0, -1, (3, 0), (0, 3), 10 ** 12, (3, 2 ** 28 + 1)])
def test_bad_size(op, size):
    with pytest.raises(ValueError, match="size"):
        op(X, size=size)


@pytest.mark.parametrize("size,exc", [(2.5, TypeError), (True, TypeError), ((3, 3, 3), ValueError),
                                      ("3", TypeError)])
def test_bad_size_type(op, size, exc):
    with pytest.raises(exc, match="size"):
        op(X, size=size)


def test_footprint_rank_too_high(op):
    with pytest.raises(ValueError, match="footprint has 3 dimensions.*2 spatial"):
        op(X, np.ones((3, 3, 3), bool))
    with pytest.raises(ValueError, match="footprint"):
        op(np.ones((5, 6, 3)), np.ones((3, 3, 3), bool), channel_axis=-1)
    with pytest.raises(ValueError, match="footprint"):
        op(np.ones((5, 6, 3)), np.ones((3, 3), bool), axes=2)


@pytest.mark.parametrize("fp", [np.ones((0, 3), bool), np.ones((3, 0), bool), np.zeros(0, bool)])
def test_empty_footprint(op, fp):
    with pytest.raises(ValueError, match="footprint is empty"):
        op(X, fp)


@pytest.mark.parametrize("fp", [np.zeros((3, 3), bool), np.zeros(4, np.uint8), [[0, 0]]])
def test_all_false_footprint(op, fp):
    with pytest.raises(ValueError, match="footprint has no True"):
        op(X, fp)


@pytest.mark.parametrize("fp", [np.array([[1, 2, 1]]), np.array([0.5, 1.0]),
                                np.array([[1, -1]]), np.array([1, np.nan]), [[1, 1], [1, 3]]])
def test_non_boolean_footprint_values(op, fp):
    with pytest.raises(ValueError, match="footprint must hold booleans"):
        op(X, fp)


@pytest.mark.parametrize("fp", [np.array([1, 1j]), np.array(["a", "b"]), [[1, 1], [1]],
                                np.array([None, 1], object)])
def test_footprint_not_an_array_of_booleans(op, fp):
    with pytest.raises(TypeError, match="footprint"):
        op(X, fp)


def test_footprint_and_size(op):
    with pytest.raises(ValueError, match="footprint or size"):
        op(X, np.ones((3, 3), bool), size=3)
    with pytest.raises(ValueError, match="footprint or size"):
        op(X, footprints.disk(1), size=(3, 3))


@pytest.mark.parametrize("mode", ["replicate", "reflect", "symmetric", "wrap", "nearest",
                                  "mirror", "circular"])
def test_cval_with_other_mode(op, mode):
    with pytest.raises(ValueError, match="cval"):
        op(X, mode=mode, cval=1.0)
    with pytest.raises(ValueError, match="cval"):
        op(X, mode=mode, cval=0)


@pytest.mark.parametrize("cval", [0, 1.0, -np.inf])
def test_cval_with_default_mode(op, cval):
    with pytest.raises(ValueError, match="cval.*mode='zero'"):
        op(X, cval=cval)


@pytest.mark.parametrize("cval", ["a", 1j, None])
def test_cval_not_a_number(op, cval):
    if cval is None:
        op(X, mode="zero", cval=None)    # None: the default, 0
        return
    with pytest.raises(TypeError, match="cval"):
        op(X, mode="zero", cval=cval)


@pytest.mark.parametrize("mode", ["bogus", "", 3, "reflect-101", "Zero "])
def test_unknown_mode(op, mode):
    with pytest.raises(ValueError, match="mode"):
        op(X, mode=mode)


@pytest.mark.parametrize("kw,origin", [(dict(size=3), 2), (dict(size=3), -2), (dict(size=4), -3),
                                       (dict(size=4), 2), (dict(size=(1, 5)), (1, 0)),
                                       (dict(footprint=np.ones((2, 2), bool)), (0, 1)),
                                       (dict(footprint=[[1, 0, 1]]), (0, -2))])
def test_origin_out_of_range(op, kw, origin):
    with pytest.raises(ValueError, match="origin"):
        op(X, origin=origin, **kw)


@pytest.mark.parametrize("origin,exc", [(0.5, TypeError), ((0, 0, 0), ValueError),
                                        ("1", TypeError)])
def test_origin_bad_type(op, origin, exc):
    with pytest.raises(exc, match="origin"):
        op(X, origin=origin)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128, object, "U3"])
def test_unsupported_input_dtype(op, dtype):
    x = np.ones((4, 4)).astype(dtype) if dtype != "U3" else np.full((4, 4), "ab")
    with pytest.raises(TypeError, match="x has unsupported dtype"):
        op(x)


@pytest.mark.parametrize("x,match", [(np.zeros((2, 2, 2, 2)), "4 spatial dimensions"),
                                     (np.float64(3.0), "0 spatial dimensions")])
def test_bad_input_shape(op, x, match):
    with pytest.raises(ValueError, match=match):
        op(x)


def test_bad_channel_axis_and_axes(op):
    with pytest.raises(ValueError, match="channel_axis"):
        op(X, channel_axis=2)
    with pytest.raises(ValueError, match="axes"):
        op(X, axes=(0, 0))
    with pytest.raises(ValueError, match="axes"):
        op(np.ones((4, 5, 3)), axes=(0, 2), channel_axis=2)


def test_errors_leave_out_untouched(op):
    out = np.full(X.shape, 7.0)
    with pytest.raises(ValueError):
        op(X, size=0, out=out)
    with pytest.raises(ValueError):
        op(X, mode="reflect", cval=1, out=out)
    assert (out == 7.0).all()


@pytest.mark.parametrize("size", [(3, 3, 3), (5, 4, 1), (2, 7, 5)])
@pytest.mark.parametrize("mode", ["reflect", "wrap"])
def test_fused_depth_on_wide_rows(size, mode):
    # wide float64 rows with a short depth window fused into the height sweep:
    # later planes' rows combine straight from the source, borders via the table
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 45, 2100))
    for op, ref in ((ic.dilate, ndi.grey_dilation), (ic.erode, ndi.grey_erosion)):
        np.testing.assert_array_equal(op(x, size=size, mode=mode),
                                      ref(x, size=size, mode=SCIPY_MODE[mode]))


@pytest.mark.parametrize("size", [(3, 3), (2, 5), (9, 4), (30, 1)])
@pytest.mark.parametrize("threads", [1, 2])
def test_single_line_in_row_tiles(size, threads):
    # a 2D image is one line for the height pass: its rows are cut into tiles
    # (with halos) for the threads; direct (<= 3 rows) and van Herk windows
    rng = np.random.default_rng(8)
    x = rng.integers(0, 255, (301, 57)).astype(np.uint8)
    for mode in ("reflect", "wrap", "zero"):
        np.testing.assert_array_equal(
            ic.dilate(x, size=size, mode=mode, threads=threads),
            ndi.grey_dilation(x, size=size, mode=SCIPY_MODE[mode]))
        np.testing.assert_array_equal(
            ic.erode(x, size=size, mode=mode, threads=threads),
            ndi.grey_erosion(x, size=size, mode=SCIPY_MODE[mode]))

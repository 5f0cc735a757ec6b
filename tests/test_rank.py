"""Rank filters (median, rank_filter, percentile_filter) against
scipy.ndimage and a brute-force numpy reference (np.sort of every window)."""
import importlib.util
import math
import pathlib

import numpy as np
import pytest
import scipy.ndimage as ndi

import imgconv as ic
from imgconv import _backend, _cpu
from imgconv import _validate as v
from imgconv._dispatch import kernels
from reference import NP_PAD_MODE, layouts, readonly

MODES = ["zero", "replicate", "reflect", "symmetric", "wrap"]
KERNEL_DTYPES = [np.uint8, np.uint16, np.int16, np.int32, np.int64, np.uint64, np.float32,
                 np.float64]
# the kernel's methods (pyx/rank.pxi): selection network, running histogram, sorted window,
# column networks (boxes), 3x3 median in registers, column histograms (uint8 boxes),
# 5x5 median in registers (integers)
NETWORK, HISTOGRAM, SORTED, COLUMNS, MEDIAN3X3, COLUMN_HISTOGRAMS, MEDIAN5X5 = 1, 2, 3, 4, 5, 6, 7
INTEGER_KERNEL_DTYPES = [d for d in KERNEL_DTYPES if np.dtype(d).kind in "iu"]


def scipy_mode(mode):
    return v.SCIPY_MODE[v.canonical_mode(mode)]


def random_array(rng, shape, dtype, levels=None):
    """Random values of ``dtype``; ``levels``: that many distinct values (ties)."""
    dtype = np.dtype(dtype)
    if levels is not None:
        return rng.integers(0, levels, shape).astype(dtype)
    if dtype == bool:
        return rng.random(shape) < 0.5
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 100).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def ref_rank(x, footprint, rank, mode="reflect", cval=0.0, origin=0):
    """Brute force: pad (np.pad, the mode's rule however wide), take every
    window's footprint cells, sort them (NaN last, as np.sort) and pick
    ``rank``.  Constant padding holds ``cval`` as the result's dtype takes it
    (integers truncated towards zero and saturated, as scipy's cast)."""
    x = np.asarray(x)
    fp = np.asarray(footprint, bool)
    fp = fp.reshape((1,) * (x.ndim - fp.ndim) + fp.shape)
    origin = (origin,) * x.ndim if np.isscalar(origin) else tuple(origin)
    centre = [k // 2 + o for k, o in zip(fp.shape, origin)]
    pads = [(c, k - 1 - c) for k, c in zip(fp.shape, centre)]
    mode = v.canonical_mode(mode)
    if mode == "zero":
        padded = np.pad(x, pads, constant_values=v.rank_pad_value(x.dtype, cval))
    else:
        padded = np.pad(x, pads, mode=NP_PAD_MODE[mode])
    windows = np.lib.stride_tricks.sliding_window_view(padded, fp.shape)
    cells = windows[..., fp]
    return np.sort(cells, axis=-1)[..., rank]


def kernel_rank(x, footprint, rank, method, mode="reflect", cval=0, nthreads=2):
    """The compiled kernel forced to one method, on a C-contiguous array of
    a kernel dtype (1D to 3D, centred footprint)."""
    fp = np.asarray(footprint, bool)
    fp3 = fp.reshape((1,) * (3 - fp.ndim) + fp.shape)
    x4 = x.reshape((1,) * (4 - x.ndim) + x.shape)
    out = np.empty_like(x4)
    kernels.rank_filter(x4, out, fp3.shape, tuple(k // 2 for k in fp3.shape),
                        *_backend.footprint_runs(fp3), rank, v.MODE_CODES[mode], cval,
                        v.EXTREME_DTYPE_CODES[x.dtype], nthreads, method)
    return out.reshape(x.shape)


# --------------------------------------------------------------------------
# Against the brute-force reference
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", KERNEL_DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_against_brute_force(dtype, mode):
    rng = np.random.default_rng(abs(hash((np.dtype(dtype).str, mode))) % 2**32)
    cases = [((1,), (3,)), ((1, 1), (3, 3)), ((7,), (5,)), ((9, 11), (3, 3)),
             ((6, 13), (5, 3)), ((4, 3), (9, 7)),          # footprint larger than the image
             ((13, 17), (7, 7)), ((5, 6, 7), (3, 3, 3)), ((4, 5, 9), (3, 1, 5))]
    for shape, fshape in cases:
        x = random_array(rng, shape, dtype)
        fp = np.ones(fshape, bool)
        n = fp.sum()
        cval = float(rng.integers(-300, 300)) + 0.5
        for rank in {0, n // 2, n - 1, int(rng.integers(n))}:
            got = ic.rank_filter(x, rank, footprint=fp, mode=mode,
                                 cval=cval if mode == "zero" else 0.0)
            assert got.dtype == x.dtype
            np.testing.assert_array_equal(
                got, ref_rank(x, fp, rank, mode, cval if mode == "zero" else 0.0),
                err_msg=f"{shape} {fshape} rank {rank}")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32])
def test_footprints_with_holes_and_origins(dtype):
    rng = np.random.default_rng(3)
    x = random_array(rng, (23, 29), dtype)
    ring = ic.footprints.disk(3)
    ring[3, 3] = False                              # a hole in the middle
    sparse = rng.random((5, 7)) < 0.4
    sparse[0, 0] = True
    for fp in (ring, sparse, np.eye(5, dtype=bool), np.array([[1, 0, 0, 0, 1]], bool)):
        n = int(fp.sum())
        for origin in [(0, 0), (-(fp.shape[0] // 2), (fp.shape[1] - 1) // 2)]:
            for rank in (0, n // 2, n - 1):
                for mode in ("reflect", "zero", "wrap"):
                    got = ic.rank_filter(x, rank, footprint=fp, origin=origin, mode=mode)
                    np.testing.assert_array_equal(got, ref_rank(x, fp, rank, mode, 0.0, origin))


@pytest.mark.parametrize("mode", MODES)
def test_column_histograms_against_brute_force(mode):
    """The column histograms forced, uint8 boxes: odd and even sizes, rows of
    one pixel, windows larger than the image, 3D, several strips of
    RANK_COLUMN_STRIP outputs (the histograms rebuilt per strip), every rank
    kind, ties and one thread or two (the histograms slide down a thread's
    rows, rebuilt where it takes rows that do not follow)."""
    rng = np.random.default_rng(abs(hash(("column histograms", mode))) % 2**32)
    cases = [((1, 1), (3, 3)), ((1, 17), (3, 5)), ((17, 1), (5, 3)), ((4, 3), (9, 7)),
             ((13, 40), (5, 5)), ((23, 31), (15, 15)), ((9, 12), (4, 6)), ((20, 9), (1, 7)),
             ((20, 9), (7, 1)), ((6, 1100), (3, 9)), ((5, 6, 21), (3, 3, 3)),
             ((4, 7, 9), (2, 5, 3))]
    for shape, fshape in cases:
        for levels in (None, 3):
            x = random_array(rng, shape, np.uint8, levels)
            fp = np.ones(fshape, bool)
            n = fp.size
            cval = int(rng.integers(0, 256))
            for rank in sorted({0, n // 2, n - 1, int(rng.integers(n))}):
                expected = ref_rank(x, fp, rank, mode, cval)
                for nthreads in (1, 2):
                    np.testing.assert_array_equal(
                        kernel_rank(x, fp, rank, COLUMN_HISTOGRAMS, mode, cval, nthreads),
                        expected, err_msg=f"{shape} {fshape} rank {rank} {nthreads} threads")


def test_column_histograms_refuse_what_they_cannot_take():
    x = np.zeros((5, 5), np.uint8)
    with pytest.raises(ValueError, match="column histograms"):
        kernel_rank(x.astype(np.uint16), np.ones((3, 3), bool), 4, COLUMN_HISTOGRAMS)
    with pytest.raises(ValueError, match="column histograms"):
        kernel_rank(x, ic.footprints.disk(1), 2, COLUMN_HISTOGRAMS)


def test_column_histograms_chosen_for_large_uint8_boxes_only():
    """The cost model picks the column histograms for a 15x15 uint8 box
    (and the result is the reference's), never for other dtypes or holes."""
    assert kernels.rank_method(225, v.EXTREME_DTYPE_CODES[np.dtype(np.uint8)], 112, True, 15,
                               15, 15) == COLUMN_HISTOGRAMS
    assert kernels.rank_method(225, v.EXTREME_DTYPE_CODES[np.dtype(np.uint16)], 112, True, 15,
                               15, 15) != COLUMN_HISTOGRAMS
    assert kernels.rank_method(225, v.EXTREME_DTYPE_CODES[np.dtype(np.uint8)], 112, False, 15,
                               15, 30) != COLUMN_HISTOGRAMS
    x = random_array(np.random.default_rng(8), (40, 50), np.uint8)
    np.testing.assert_array_equal(ic.median(x, 15, mode="wrap"),
                                  ref_rank(x, np.ones((15, 15), bool), 112, "wrap"))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, np.float64])
def test_every_method_agrees(dtype):
    """The three methods of the kernel on the same windows, 2D and 3D, with
    long and short runs (the automatic choice is covered by the tests above)."""
    rng = np.random.default_rng(4)
    for shape, fp in [((19, 40), np.ones((3, 3), bool)), ((19, 40), ic.footprints.disk(2)),
                      ((9, 37), np.ones((1, 9), bool)), ((9, 37), np.ones((5, 1), bool)),
                      ((6, 7, 21), ic.footprints.ball(1)), ((70, 300), np.ones((2, 7), bool)),
                      ((5, 6, 33), np.ones((3, 3, 3), bool))]:
        x = random_array(rng, shape, dtype)
        if np.dtype(dtype).kind == "f":
            # NaN of either sign, and zeros of either sign (equal, whichever is picked)
            x[rng.random(shape) < 0.05] = np.nan
            x[rng.random(shape) < 0.02] = -np.nan
            x[rng.random(shape) < 0.05] = 0.0
            x[rng.random(shape) < 0.05] = -0.0
        n = int(fp.sum())
        methods = ([NETWORK, SORTED] + ([HISTOGRAM] if dtype in (np.uint8, np.uint16) else [])
                   + ([COLUMNS] if fp.all() else [])
                   + ([COLUMN_HISTOGRAMS] if fp.all() and dtype == np.uint8 else []))
        for rank in (0, 1, n // 2, n - 2, n - 1):
            expected = ref_rank(x, fp, rank, "reflect")
            for method in methods + ([MEDIAN3X3] if fp.shape == (3, 3) and rank == 4 else []):
                np.testing.assert_array_equal(kernel_rank(x, fp, rank, method), expected,
                                              err_msg=f"method {method} rank {rank}")


def test_histogram_moves_far_between_outputs():
    """Values that jump across the whole range from one output to the next
    (the histogram's rank bin crosses many coarse bins either way)."""
    x16 = np.tile(np.array([0, 65535, 1, 65534, 300, 40000], np.uint16), (7, 20))
    x8 = (x16 >> 8).astype(np.uint8)
    for x in (x16, x8):
        fp = np.ones((3, 5), bool)
        for rank in (0, 3, 7, 14):
            np.testing.assert_array_equal(kernel_rank(x, fp, rank, HISTOGRAM),
                                          ref_rank(x, fp, rank))


# --------------------------------------------------------------------------
# The 5x5 median in registers (pyx/median5x5.h, written by pyx/median5x5_network.py)
# --------------------------------------------------------------------------
def median5x5_generator():
    path = pathlib.Path(__file__).parent.parent / "pyx" / "median5x5_network.py"
    if not path.exists():
        pytest.skip("the source tree's pyx/ is not here (an installed imgconv)")
    spec = importlib.util.spec_from_file_location("median5x5_network", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def all_binary_windows():
    """The 25 cells of every 0/1 window (2**25 of them), bit-packed: cell k
    holds bit k of the window's number, 64 windows to a uint64 word (window
    64 * w + b in bit b of word w)."""
    nwords = 2**25 // 64
    words = np.arange(nwords, dtype=np.uint64)
    cells = []
    for k in range(25):
        if k < 6:
            # within a word: the bits b with bit k of b set
            pattern = sum(1 << b for b in range(64) if (b >> k) & 1)
            cells.append(np.full(nwords, pattern, np.uint64))
        else:
            cells.append(np.where((words >> np.uint64(k - 6)) & np.uint64(1),
                                  np.uint64(2**64 - 1), np.uint64(0)))
    return cells


def run_binary_network(wires, network):
    """A network's exchanges on bit-packed 0/1 wires: the minimum of two
    bits is their AND, the maximum their OR."""
    for a, b, kind in network:
        low, high = wires[a] & wires[b], wires[a] | wires[b]
        if kind in (0, 1):
            wires[a] = low
        if kind in (0, 2):
            wires[b] = high


def binary_medians(column, rows, out_wire):
    """The bit-packed results of the 5x5 median's steps (each column sorted
    by ``column``, then ``rows`` on wires i * 5 + j: row i of column j) on
    every 0/1 window."""
    cells = all_binary_windows()
    wires = [None] * 25
    for j in range(5):
        column_wires = [cells[i * 5 + j] for i in range(5)]
        run_binary_network(column_wires, column)
        for i in range(5):
            wires[i * 5 + j] = column_wires[i]
    run_binary_network(wires, rows)
    return np.unpackbits(wires[out_wire].view(np.uint8), bitorder="little")


def test_median5x5_network_is_a_median_of_every_binary_window():
    """The 0/1 principle: a network of compare-exchanges that finds the
    median of every window of 0s and 1s finds it for any values.  All 2**25
    0/1 windows go through the kernel's steps, and the result must be 1
    exactly where the window holds 13 or more 1s."""
    column, rows, out_wire = median5x5_generator().networks()
    majority = np.bitwise_count(np.arange(2**25, dtype=np.uint32)) >= 13
    np.testing.assert_array_equal(binary_medians(column, rows, out_wire), majority)
    # the check can fail: without the last exchange, or with the columns
    # left unsorted, some windows come out wrong
    assert not np.array_equal(binary_medians(column, rows[:-1], out_wire), majority)
    assert not np.array_equal(binary_medians([], rows, out_wire), majority)


def test_median5x5_candidates():
    """With rows and columns sorted, the 13 cells that can hold the 13th
    smallest of 25, and 6 cells below them (the rest above)."""
    cells, below = median5x5_generator().candidates()
    assert below == 6
    assert sorted(cells) == [(0, 3), (0, 4), (1, 2), (1, 3), (1, 4), (2, 1), (2, 2), (2, 3),
                             (3, 0), (3, 1), (3, 2), (4, 0), (4, 1)]


def test_median5x5_header_is_current():
    """pyx/median5x5.h is what its generator writes from today's networks."""
    generator = median5x5_generator()
    assert generator.HEADER.read_text() == generator.header_text(), (
        "run python pyx/median5x5_network.py and rebuild")


@pytest.mark.parametrize("dtype", INTEGER_KERNEL_DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_median5x5_against_brute_force(dtype, mode):
    """The 5x5 median forced: images smaller than the window, single rows
    and columns, rows longer than a pass of IMGCONV_MEDIAN5X5_CHUNK_BYTES,
    ties, the extreme values of the dtype, 0/1 images, 3D boxes of 5 rows
    of 5 (5x5x1 planes, 5x1x5), one thread or two."""
    rng = np.random.default_rng(abs(hash(("median5x5", np.dtype(dtype).str, mode))) % 2**32)
    info = np.iinfo(dtype)
    box = np.ones((5, 5), bool)
    cases = [((1, 1), box), ((1, 7), box), ((9, 1), box), ((3, 4), box), ((5, 5), box),
             ((13, 37), box), ((7, 1100), box), ((4, 6, 9), np.ones((1, 5, 5), bool)),
             ((6, 3, 11), np.ones((5, 1, 5), bool))]
    for shape, fp in cases:
        for values in ("random", "ties", "extremes", "binary"):
            if values == "ties":
                x = random_array(rng, shape, dtype, levels=3)
            elif values == "extremes":
                x = rng.choice(np.array([info.min, info.min + 1, info.max - 1, info.max], dtype),
                               shape)
            elif values == "binary":
                x = random_array(rng, shape, dtype, levels=2)
            else:
                x = random_array(rng, shape, dtype)
            cval = int(rng.integers(info.min, info.max, endpoint=True, dtype=np.int64)
                       if info.max < 2**62 else rng.integers(0, 2**62))
            expected = ref_rank(x, fp, 12, mode, cval)
            for nthreads in (1, 2):
                np.testing.assert_array_equal(
                    kernel_rank(x, fp, 12, MEDIAN5X5, mode, cval, nthreads), expected,
                    err_msg=f"{shape} {fp.shape} {values} {nthreads} threads")


def test_median5x5_in_strips():
    """Rows wider than a thread's row slots hold are cut into strips; each
    strip reads its own 4 extra columns."""
    rng = np.random.default_rng(21)
    x = random_array(rng, (6, 50_000), np.uint64)     # 8 MiB of slots: 41943 columns
    np.testing.assert_array_equal(kernel_rank(x, np.ones((5, 5), bool), 12, MEDIAN5X5, "wrap"),
                                  ref_rank(x, np.ones((5, 5), bool), 12, "wrap"))


def test_median5x5_refuses_what_it_cannot_take():
    x = np.zeros((6, 6), np.uint8)
    box = np.ones((5, 5), bool)
    for bad in [(x.astype(np.float32), box, 12), (x.astype(np.float64), box, 12),
                (x, box, 11), (x, np.ones((3, 3), bool), 4), (x, ic.footprints.disk(2), 6),
                (x, np.ones((5, 6), bool), 15)]:
        with pytest.raises(ValueError, match="5x5 median"):
            kernel_rank(*bad, MEDIAN5X5)


def test_median5x5_chosen_for_integer_5x5_medians_only():
    """The cost model picks the 5x5 median for integer 5x5 box medians (in
    any two axes of the box: 5 rows of 5), not for floats, other ranks or
    footprints with holes."""
    def method(dtype, rank=12, is_box=True, nrows=5, fx=5, ncells=25):
        return kernels.rank_method(ncells, v.EXTREME_DTYPE_CODES[np.dtype(dtype)], rank, is_box,
                                   nrows, fx, nrows)
    for dtype in INTEGER_KERNEL_DTYPES:
        assert method(dtype) == MEDIAN5X5
    for dtype in (np.float32, np.float64):
        assert method(dtype) != MEDIAN5X5
    assert method(np.uint8, rank=11) != MEDIAN5X5
    assert method(np.uint8, is_box=False, ncells=21) != MEDIAN5X5
    assert method(np.uint8, nrows=25, fx=1) != MEDIAN5X5


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int64, np.uint64])
def test_median5x5_through_median(dtype):
    """ic.median with a 5x5 box (the cost model's choice) against scipy,
    every mode, origins, every layout of the input (strided, big-endian,
    misaligned...), threads, and 3D with a 5x5 box in two of the axes."""
    def reference(x, size, mode="reflect", cval=0, origin=0):
        if np.dtype(dtype).itemsize == 8:
            # scipy's median of 64-bit integers goes through float64 (inexact)
            return ref_rank(x, np.ones(size, bool), 12, mode, cval, origin)
        return ndi.median_filter(x, size, mode=scipy_mode(mode), cval=cval, origin=origin)

    rng = np.random.default_rng(22)
    x = random_array(rng, (29, 41), dtype)
    for mode in MODES:
        cval = 3 if mode == "zero" else 0
        for origin in (0, (-2, 1), (2, -1)):
            np.testing.assert_array_equal(ic.median(x, 5, mode=mode, origin=origin, cval=cval),
                                          reference(x, (5, 5), mode, cval, origin),
                                          err_msg=f"{mode} origin {origin}")
    expected = reference(x, (5, 5))
    for name, view in layouts(x):
        before = view.copy()
        for threads in (1, 2):
            np.testing.assert_array_equal(ic.median(view, 5, threads=threads), expected,
                                          err_msg=f"{name} threads={threads}")
        np.testing.assert_array_equal(view, before, err_msg=name)
    volume = random_array(rng, (7, 12, 15), dtype)
    for size in ((5, 5, 1), (5, 1, 5), (1, 5, 5)):
        np.testing.assert_array_equal(ic.median(volume, size, mode="replicate"),
                                      reference(volume, size, "replicate"))


# --------------------------------------------------------------------------
# Against scipy.ndimage
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.float32,
                                   np.float64, bool])
@pytest.mark.parametrize("mode", MODES)
def test_against_scipy(dtype, mode):
    rng = np.random.default_rng(5)
    x = random_array(rng, (31, 37), dtype)
    cval = 7.0 if mode == "zero" else 0.0
    for size in (3, 5, (3, 7), 15):
        args = dict(size=size, mode=mode, cval=cval)
        sargs = dict(size=size, mode=scipy_mode(mode), cval=cval)
        np.testing.assert_array_equal(ic.median(x, **args), ndi.median_filter(x, **sargs))
        np.testing.assert_array_equal(ic.rank_filter(x, 2, **args), ndi.rank_filter(x, 2, **sargs))
        np.testing.assert_array_equal(ic.rank_filter(x, -3, **args),
                                      ndi.rank_filter(x, -3, **sargs))
        for p in (0, 10, 50, 90, 100, -25, 33.3):
            np.testing.assert_array_equal(ic.percentile_filter(x, p, **args),
                                          ndi.percentile_filter(x, p, **sargs))


def test_footprints_against_scipy():
    rng = np.random.default_rng(6)
    x = random_array(rng, (40, 45), np.float32)
    for fp in (ic.footprints.disk(4), rng.random((6, 4)) < 0.5, np.ones((2, 2), bool)):
        fp[0, 0] = True
        for origin in (0, (-(fp.shape[0] // 2), (fp.shape[1] - 1) // 2)):
            for mode in MODES:
                np.testing.assert_array_equal(
                    ic.median(x, footprint=fp, origin=origin, mode=mode),
                    ndi.median_filter(x, footprint=fp, origin=origin, mode=scipy_mode(mode)))
                np.testing.assert_array_equal(
                    ic.percentile_filter(x, 75, footprint=fp, origin=origin, mode=mode),
                    ndi.percentile_filter(x, 75, footprint=fp, origin=origin,
                                          mode=scipy_mode(mode)))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_3d_against_scipy(dtype):
    rng = np.random.default_rng(7)
    x = random_array(rng, (12, 14, 17), dtype)
    for kw in (dict(size=3), dict(size=5), dict(size=(3, 1, 5)),
               dict(footprint=ic.footprints.ball(2))):
        for mode in ("reflect", "zero", "replicate"):
            np.testing.assert_array_equal(ic.median(x, mode=mode, **kw),
                                          ndi.median_filter(x, mode=scipy_mode(mode), **kw))


def test_ties_against_scipy():
    rng = np.random.default_rng(8)
    for dtype in (np.uint8, np.uint16, np.int16, np.float32, np.float64):
        x = random_array(rng, (25, 33), dtype, levels=3)
        for size in (3, 5, 9):
            for rank in (0, 4, size * size // 2, size * size - 1):
                np.testing.assert_array_equal(ic.rank_filter(x, rank, size=size),
                                              ndi.rank_filter(x, rank, size=size, mode="mirror"))


def test_long_windows_against_scipy():
    """Windows past the selection networks: the histogram (uint8, uint16) and
    the sorted window (others), including a window taller than wide rows'
    column strips allow (the row is then done in strips)."""
    rng = np.random.default_rng(9)
    for dtype in (np.uint8, np.uint16, np.int16, np.float64):
        x = random_array(rng, (30, 41), dtype)
        for size in ((7, 7), (1, 31), (15, 15)):
            np.testing.assert_array_equal(ic.percentile_filter(x, 90, size=size),
                                          ndi.percentile_filter(x, 90, size=size, mode="mirror"))
    wide = random_array(rng, (3, 8300), np.float64)
    np.testing.assert_array_equal(ic.median(wide, size=(129, 3)),
                                  ndi.median_filter(wide, size=(129, 3), mode="mirror"))


# --------------------------------------------------------------------------
# NaN, dtypes, layouts, threads, out=
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_sorts_last(dtype):
    rng = np.random.default_rng(10)
    x = random_array(rng, (21, 26), dtype)
    x[rng.random(x.shape) < 0.1] = np.nan
    for size in (3, 5, 7):
        n = size * size
        nan_windows = ndi.maximum_filter(np.isnan(x), size=size, mode="mirror")
        for rank in (0, n // 2, n - 1):
            got = ic.rank_filter(x, rank, size=size)
            np.testing.assert_array_equal(got, ref_rank(x, np.ones((size, size)), rank))
            if 0 < rank < n - 1:
                # where no NaN is in reach, scipy's result (its ranks 0 and n - 1
                # are its minimum and maximum filters, whose running extremes
                # carry a NaN past the windows that hold it)
                expected = ndi.rank_filter(x, rank, size=size, mode="mirror")
                np.testing.assert_array_equal(got[~nan_windows], expected[~nan_windows])
    assert np.isnan(ic.median(np.full((4, 4), np.nan, dtype))).all()
    # one NaN in a window: the maximum is NaN, the median is not
    y = np.arange(9, dtype=dtype).reshape(3, 3)
    y[1, 1] = np.nan
    assert np.isnan(ic.rank_filter(y, -1, size=3)[1, 1])
    assert ic.median(y, size=3)[1, 1] == 5


@pytest.mark.parametrize("dtype", [np.int8, np.float16, np.uint32, np.int64, np.uint64, bool])
def test_other_dtypes_keep_their_dtype(dtype):
    rng = np.random.default_rng(11)
    x = random_array(rng, (15, 18), dtype)
    for mode in ("reflect", "zero"):
        got = ic.median(x, size=(3, 5), mode=mode)
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, ref_rank(x, np.ones((3, 5)), 7, mode))


def test_64_bit_integers_stay_exact():
    x = (np.uint64(2**63) + np.arange(12, dtype=np.uint64)[::-1]).reshape(3, 4)
    got = ic.rank_filter(x, 0, size=3, mode="replicate")
    np.testing.assert_array_equal(got, ref_rank(x, np.ones((3, 3)), 0, "replicate"))
    assert got[0, 0] == np.uint64(2**63 + 6)


@pytest.mark.parametrize("dtype, cval", [(np.uint8, 300.0), (np.uint8, -5.0), (np.int16, 2.7),
                                         (np.int16, -2.7), (np.float32, 0.1),
                                         (np.int32, np.nan), (bool, 0.5)])
def test_zero_mode_cval(dtype, cval):
    """cval as the result's dtype: truncated towards zero (scipy's cast of
    its double window), saturated to the dtype's range."""
    x = random_array(np.random.default_rng(12), (6, 7), dtype)
    got = ic.rank_filter(x, -1, size=3, mode="zero", cval=cval)
    np.testing.assert_array_equal(got, ref_rank(x, np.ones((3, 3)), 8, "zero", cval))
    if np.isfinite(cval) and (np.dtype(dtype).kind == "f" or
                              np.iinfo(np.int16).min < cval < np.iinfo(np.uint8).max):
        np.testing.assert_array_equal(got, ndi.rank_filter(x, -1, size=3, mode="constant",
                                                           cval=cval))


def test_layouts_and_input_untouched():
    rng = np.random.default_rng(13)
    for dtype in (np.uint8, np.uint16, np.float32, np.float64):
        x = random_array(rng, (17, 22), dtype)
        expected = ic.median(x, size=5)
        np.testing.assert_array_equal(expected, ndi.median_filter(x, size=5, mode="mirror"))
        for name, view in layouts(x):
            before = view.copy()
            got = ic.median(view, size=5)
            np.testing.assert_array_equal(got, expected, err_msg=name)
            np.testing.assert_array_equal(view, before, err_msg=name)
            assert got.dtype == x.dtype.newbyteorder("=")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_threads_do_not_change_results(dtype):
    rng = np.random.default_rng(14)
    x = random_array(rng, (160, 203), dtype)
    for kw in (dict(size=3), dict(size=9), dict(footprint=ic.footprints.disk(3))):
        one = ic.median(x, threads=1, **kw)
        np.testing.assert_array_equal(ic.median(x, threads=2, **kw), one)
        np.testing.assert_array_equal(ic.median(x, threads=3, **kw), one)
        np.testing.assert_array_equal(one, ndi.median_filter(x, mode="mirror", **kw))


def test_axes_and_channel_axis():
    rng = np.random.default_rng(15)
    x = random_array(rng, (9, 4, 13, 3), np.float32)
    fp = rng.random((3, 5)) < 0.6
    fp[1, 2] = True
    # footprint dimensions follow the axes in ascending order, as in scipy
    for axes in [(0, 2), (2, 0), (1, 3)]:
        np.testing.assert_array_equal(
            ic.median(x, footprint=fp, axes=axes),
            ndi.median_filter(x, footprint=fp, axes=axes, mode="mirror"))
    # size and origin follow the axes as given
    np.testing.assert_array_equal(
        ic.rank_filter(x, 4, size=(3, 5), origin=(1, -2), axes=(2, 0)),
        ndi.rank_filter(x, 4, size=(5, 3), origin=(-2, 1), axes=(0, 2), mode="mirror"))
    rgb = random_array(rng, (3, 19, 21), np.uint8)
    got = ic.median(rgb, size=5, channel_axis=0)
    for c in range(3):
        np.testing.assert_array_equal(got[c], ndi.median_filter(rgb[c], size=5, mode="mirror"))


def test_out():
    rng = np.random.default_rng(16)
    x = random_array(rng, (12, 15), np.int16)
    out = np.full_like(x, 99)
    result = ic.percentile_filter(x, 20, size=3, out=out)
    assert result is out
    np.testing.assert_array_equal(out, ndi.percentile_filter(x, 20, size=3, mode="mirror"))
    # a strided out, and dtypes the kernels run widened
    big = np.zeros((24, 30), np.int16)
    ic.median(x, size=3, out=big[::2, ::2])
    np.testing.assert_array_equal(big[::2, ::2], ic.median(x, size=3))
    x8 = random_array(rng, (12, 15), np.int8)
    out8 = np.empty_like(x8)
    ic.median(x8, size=3, out=out8)
    np.testing.assert_array_equal(out8, ref_rank(x8, np.ones((3, 3)), 4))
    with pytest.raises(ValueError, match="dtype"):
        ic.median(x, out=np.empty(x.shape, np.float32))
    with pytest.raises(ValueError, match="shape"):
        ic.median(x, out=np.empty((3, 3), np.int16))
    with pytest.raises(ValueError, match="overlaps the input"):
        ic.median(x, out=x)
    with pytest.raises(ValueError, match="read-only"):
        ic.median(x, out=readonly(np.empty_like(x)))


def test_repeated_calls_use_the_same_plan():
    """A second call with the same layout takes the cached plan; a changed
    footprint or rank is a different plan."""
    rng = np.random.default_rng(17)
    x = random_array(rng, (10, 12), np.float32)
    fp = np.ones((3, 3), bool)
    first = ic.rank_filter(x, 2, footprint=fp)
    fp[0, 0] = False        # the caller's footprint changes after the call
    np.testing.assert_array_equal(ic.rank_filter(x, 2, footprint=fp), ref_rank(x, fp, 2))
    np.testing.assert_array_equal(ic.rank_filter(x, 2, footprint=np.ones((3, 3))), first)
    np.testing.assert_array_equal(ic.rank_filter(x, 3, footprint=np.ones((3, 3))),
                                  ref_rank(x, np.ones((3, 3)), 3))
    y = random_array(rng, (10, 12), np.float32)
    np.testing.assert_array_equal(ic.rank_filter(y, 2, footprint=np.ones((3, 3))),
                                  ref_rank(y, np.ones((3, 3)), 2))


def test_selection_networks_select():
    """The pruned networks put the rank-th value on its wire for every input
    of 0s and 1s (the 0-1 principle: then for every input)."""
    for n in (2, 3, 5, 9, 12):
        for rank in range(n):
            network = kernels.selection_network(n, rank)
            bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
            wires = bits.astype(np.int8).copy()
            for a, b, kind in network:
                lo = np.minimum(wires[:, a], wires[:, b])
                hi = np.maximum(wires[:, a], wires[:, b])
                if kind in (0, 1):
                    wires[:, a] = lo
                if kind in (0, 2):
                    wires[:, b] = hi
            np.testing.assert_array_equal(wires[:, rank], np.sort(bits, axis=1)[:, rank])
    # pruning keeps fewer comparators for a median than a full sort needs
    assert len(kernels.selection_network(9, 4)) < len(kernels._batcher_comparators(9))


# --------------------------------------------------------------------------
# Bad input and backends
# --------------------------------------------------------------------------
@pytest.mark.parametrize("call, exc, match", [
    (lambda x: ic.rank_filter(x, 9, size=3), ValueError, r"rank=9 is outside the footprint"),
    (lambda x: ic.rank_filter(x, -10, size=3), ValueError, r"rank=-10 .*\[-9, 8\]"),
    (lambda x: ic.rank_filter(x, 1.5, size=3), TypeError, "rank must be an int"),
    (lambda x: ic.rank_filter(x, 5, footprint=np.eye(3)), ValueError, "rank=5 .* 3 cells"),
    (lambda x: ic.percentile_filter(x, 100.5), ValueError, r"percentile=100.5 is outside"),
    (lambda x: ic.percentile_filter(x, -101), ValueError, "percentile=-101"),
    (lambda x: ic.percentile_filter(x, np.nan), ValueError, "percentile=nan"),
    (lambda x: ic.percentile_filter(x, "50"), TypeError, "percentile must be a real number"),
    (lambda x: ic.median(x, size=3, footprint=np.ones((3, 3))), ValueError, "not both"),
    (lambda x: ic.median(x, size=0), ValueError, "size must be >= 1"),
    (lambda x: ic.median(x, footprint=np.zeros((3, 3))), ValueError, "no True cell"),
    (lambda x: ic.median(x, footprint=np.full((3, 3), 2)), ValueError, "booleans"),
    (lambda x: ic.median(x, origin=2), ValueError, "origin=2"),
    (lambda x: ic.median(x, mode="reflect", cval=1), ValueError, "cval only applies"),
    (lambda x: ic.median(x, mode="bogus"), ValueError, "mode must be one of"),
    (lambda x: ic.median(x.astype(complex)), TypeError, "unsupported dtype complex128"),
    (lambda x: ic.median(x, threads=0), ValueError, "threads"),
    (lambda x: ic.median(x, axes=(0, 0)), ValueError, "repeats an axis"),
])
def test_bad_input(call, exc, match):
    x = np.zeros((6, 6), np.float32)
    with pytest.raises(exc, match=match):
        call(x)


def test_generic_kernel_backend(backend):
    """The backend fixture's objects (the CPU's and the generic seam's)
    give the brute-force results."""
    rng = np.random.default_rng(18)
    x = random_array(rng, (14, 19), np.uint16)
    got = backend.to_numpy(ic.percentile_filter(backend.asarray(x), 60, size=(3, 5),
                                                backend=backend.name))
    np.testing.assert_array_equal(got, ref_rank(x, np.ones((3, 5)), math.floor(15 * 0.6)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_signed_zeros_and_nans_every_method(dtype):
    """Every window of 3 over 0.0, -0.0, +-NaN, +-1, by every method: the
    networks order floats as integers of their bits (NaN made +NaN, negative
    values' bits flipped and flipped back)."""
    import itertools
    values = np.array([0.0, -0.0, np.nan, -np.nan, 1.0, -1.0], dtype)
    x = np.array(list(itertools.product(values, repeat=3)), dtype)      # (216, 3)
    fp = np.ones((1, 3), bool)
    for rank in range(3):
        expected = ref_rank(x, fp, rank, "zero")[:, 1]     # the window of the middle column
        for method in (NETWORK, SORTED, COLUMNS):
            got = kernel_rank(x, fp, rank, method, mode="zero")[:, 1]
            np.testing.assert_array_equal(got, expected, err_msg=f"method {method}")
            # zeros keep a zero (of either sign), NaN stays NaN
            assert np.array_equal(np.isnan(got), np.isnan(expected))

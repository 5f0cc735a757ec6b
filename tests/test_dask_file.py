"""Filters on arrays straight from ``imgconv.read(path, chunks=...)``: each
task reads its block with the halos from the file (no ``overlap``
concatenation), and the result equals the in-memory one exactly -- every
mode, uneven chunks, chunks smaller than the halo, strides, pooling, .npy in
C and Fortran order and big-endian, multi-page TIFF."""
import os
import tempfile

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
pytest.importorskip("zarr")
tifffile = pytest.importorskip("tifffile")
from hypothesis import given, settings, strategies as st  # noqa: E402

import imgconv as ic  # noqa: E402
from imgconv._io._chunked import file_source  # noqa: E402
from imgconv.dask import _backend as dask_backend  # noqa: E402
from test_dask import MODES, _synchronous, volume  # noqa: E402,F401 (the fixture runs here too)

def saved(tmp_path, x, name="v.npy"):
    path = str(tmp_path / name)
    if name.endswith(".npy"):
        np.save(path, x)
    else:
        ic.write(path, x)
    return path


def reads_from_file(lazy):
    """The graph reads the file in its filter tasks: no overlap layers, no
    tasks of dask's own reader."""
    layers = list(lazy.dask.layers)
    assert not any("overlap" in name or "getitem" in name.split("-")[0] for name in layers)
    assert any(name.startswith("imgconv-") for name in layers)
    return lazy


def assert_file_equals_memory(path, x, function, chunks, *args, **kwargs):
    lazy = reads_from_file(function(ic.read(path, chunks=chunks), *args, **kwargs))
    expected = function(x, *args, **kwargs)
    got = lazy.compute()
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    return lazy


CALLS = [
    ("gaussian", lambda x, m: ic.gaussian(x, 1.5, mode=m)),
    ("gaussian-per-axis", lambda x, m: ic.gaussian(x, (1.0, 0.0, 2.0), mode=(m, "wrap", m))),
    ("box-origin", lambda x, m: ic.box(x, 4, origin=(-2, 1, 0), mode=m)),
    ("sobel", lambda x, m: ic.sobel(x, axis=2, mode=m)),
    ("gaussian_gradient_magnitude",
     lambda x, m: ic.gaussian_gradient_magnitude(x, (1.0, 0.8, 1.3), mode=m)),
    ("correlate1d-origin", lambda x, m: ic.correlate1d(x, [1.0, -2.0, 0.5, 3.0], axis=2,
                                                       origin=1, mode=m)),
    ("convolve-dilation", lambda x, m: ic.convolve(x, np.arange(12.0).reshape(3, 1, 4) - 5,
                                                   mode=m, origin=(1, 0, -2),
                                                   dilation=(1, 3, 2), method="direct")),
    ("sepfilter-stride", lambda x, m: ic.sepfilter(x, [[1, 2, 1], [1, 0, -1, 2], [2.0]],
                                                   mode=m, stride=(2, 1, 3))),
    ("median", lambda x, m: ic.median(x, size=(3, 2, 4), mode=m)),
    ("opening", lambda x, m: ic.opening(x, size=3, mode=m)),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name, call", CALLS, ids=[c[0] for c in CALLS])
def test_every_family_and_mode_equals_in_memory(tmp_path, name, call, mode):
    x = volume()
    path = saved(tmp_path, x)
    assert_file_equals_memory(path, x, call, (6, 8, 5), mode)


@pytest.mark.parametrize("chunks", [(19, 23, 17), (4, 5, 3), (10, 3, 16), ((7, 12), (2, 21), 9)])
@pytest.mark.parametrize("mode", ["reflect", "wrap"])
def test_uneven_chunks_and_chunks_smaller_than_the_halo(tmp_path, chunks, mode):
    x = volume()
    path = saved(tmp_path, x)
    # sigma 2: a halo of 8 samples, more than most of these chunks
    lazy = assert_file_equals_memory(path, x, ic.gaussian, chunks, 2.0, mode=mode)
    assert lazy.shape == x.shape


@pytest.mark.parametrize("options", [dict(size=2), dict(size=3, stride=2, padding=1),
                                     dict(size=(3, 2, 4), stride=(2, 1, 3), ceil_mode=True,
                                          padding=(1, 0, 2), op="avg"),
                                     dict(size=2, dilation=2, stride=3)])
def test_pooling_and_its_indices(tmp_path, options):
    x = volume((21, 26, 18))
    path = saved(tmp_path, x)
    assert_file_equals_memory(path, x, ic.pool, (6, 7, 5), **options)
    if options.get("op", "max") == "max":
        values, indices = ic.pool(ic.read(path, chunks=(6, 7, 5)), return_indices=True,
                                  **options)
        expected_values, expected_indices = ic.pool(x, return_indices=True, **options)
        reads_from_file(values)
        computed = dask.compute(values, indices)
        np.testing.assert_array_equal(computed[0], expected_values)
        np.testing.assert_array_equal(computed[1], expected_indices)


@pytest.mark.parametrize("mode", ["reflect", "wrap", "zero"])
def test_correlate_with_explicit_padding_and_stride(tmp_path, mode):
    x = volume()
    path = saved(tmp_path, x)
    kernel = np.arange(27.0).reshape(3, 3, 3) - 13
    for padding in (0, 1, ((2, 0), (1, 1), (0, 3)), "same"):
        assert_file_equals_memory(path, x, ic.correlate, (5, 6, 4), kernel, padding=padding,
                                  stride=(2, 3, 1), method="direct", mode=mode)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [">f4", "<f8", ">u2", "u1"])
def test_npy_order_and_byte_order(tmp_path, order, dtype):
    x = volume((17, 20, 22), np.dtype(dtype).newbyteorder("=")).astype(dtype)
    x = np.asfortranarray(x) if order == "F" else x
    path = saved(tmp_path, x)
    before = open(path, "rb").read()
    assert file_source(ic.read(path, chunks=6)).slab_axes == ((0,) if order == "F" else (2,))
    for mode in ("reflect", "wrap"):
        assert_file_equals_memory(path, x, ic.gaussian, (6, 7, 5), 1.2, mode=mode)
        assert_file_equals_memory(path, x, ic.dilate, (6, 7, 5), size=(3, 4, 2), mode=mode)
    assert open(path, "rb").read() == before          # the input is never modified


def test_two_and_four_dimensional_with_channels(tmp_path):
    image = volume((37, 29))
    path = saved(tmp_path, image, "i.npy")
    assert_file_equals_memory(path, image, ic.gaussian, (8, 6), 1.5, mode="wrap")
    stack = volume((5, 13, 11, 3))
    path = saved(tmp_path, stack, "s.npy")
    assert_file_equals_memory(path, stack, ic.gaussian, (2, 5, 4, 3), 1.0, channel_axis=-1)
    assert_file_equals_memory(path, stack, ic.sobel, (2, 5, 4, 2), axes=(1, 2), mode="wrap")


def test_multipage_tiff(tmp_path):
    x = volume((14, 22, 19))
    path = saved(tmp_path, x, "v.tif")
    assert file_source(ic.read(path, chunks=5)).slab_axes == (2, 1)
    for mode in ("reflect", "wrap"):
        assert_file_equals_memory(path, x, ic.gaussian, (4, 10, 7), 1.5, mode=mode)
        assert_file_equals_memory(path, x, ic.pool, (4, 10, 7), 3, stride=2, padding=1)


@pytest.mark.parametrize("limit, tasks", [(1, 45), (20_000, 45), (25_000, 27), (1 << 30, 9)])
def test_slabs_of_several_chunks(tmp_path, monkeypatch, limit, tasks):
    # from one chunk per task (a limit below any block) to whole rows
    x = volume((20, 24, 30))
    path = saved(tmp_path, x)
    monkeypatch.setattr(dask_backend, "SLAB_BYTES", limit)
    # sigma 1: halos of 4; the chunks planned are (6, 6, 8) x (7, 7, 10) x (6,) * 5, so
    # a block is 16 x 18 x (6 k + 8) float32: 16128 bytes for one chunk along
    # the rows, 23040 for two, 29952 for three
    lazy = assert_file_equals_memory(path, x, ic.gaussian, (6, 7, 6), 1.0, mode="wrap")
    assert lazy.chunks == ((6, 6, 8), (7, 7, 10), (6,) * 5)
    assert len([k for k in lazy.dask if k[0].endswith("-block")]) == tasks


def test_slab_groups_limit():
    plans = [dask_backend.AxisPlan((128,) * 8, (128,) * 8, 8, False, dask_backend.Same(8))] * 3
    # 144 x 144 x 1024 float32 is 85 MB, over 64 MiB: 6 chunks of 128 (+ halos)
    # would fit, so the 8 go as two tasks of 4
    assert 144 * 144 * (6 * 128 + 16) * 4 <= dask_backend.SLAB_BYTES
    assert 144 * 144 * (7 * 128 + 16) * 4 > dask_backend.SLAB_BYTES
    assert dask_backend._slab_groups(plans, (1024,) * 3, 4, (2,)) == [1, 1, 4]
    # the next slab axis only where the first is whole
    assert dask_backend._slab_groups(plans, (1024,) * 3, 4, (2, 1)) == [1, 1, 4]
    assert dask_backend._slab_groups(plans, (1024,) * 3, 1, (2, 1)) == [1, 3, 8]
    assert dask_backend._slab_groups(plans, (1024,) * 3, 4, ()) == [1, 1, 1]


def test_source_ranges_wrap_around():
    plan = dask_backend.AxisPlan((5, 5, 4), (5, 5, 4), 3, True, dask_backend.Same(3))
    assert dask_backend._source_ranges(plan, 0, 14) == ((11, 14), (0, 8))
    assert dask_backend._source_ranges(plan, 1, 14) == ((2, 13),)
    assert dask_backend._source_ranges(plan, 2, 14) == ((7, 14), (0, 3))
    edge = plan._replace(periodic=False)
    assert dask_backend._source_ranges(edge, 0, 14) == ((0, 8),)
    assert dask_backend._source_ranges(edge, 2, 14) == ((7, 14),)


def test_anything_in_between_takes_the_general_path(tmp_path):
    x = volume()
    path = saved(tmp_path, x)
    lazy = ic.read(path, chunks=6)
    for between in (lazy[1:], lazy + 0, ic.gaussian(lazy, 1.0)):
        assert file_source(between) is None
    np.testing.assert_array_equal(ic.gaussian(lazy[1:], 1.0).compute(), ic.gaussian(x[1:], 1.0))
    # a chained filter reads the first from the file, the second by overlap
    chained = ic.sobel(ic.gaussian(lazy, 1.0, mode="wrap"), mode="wrap")
    assert any("overlap" in name for name in chained.dask.layers)
    np.testing.assert_array_equal(chained.compute(),
                                  ic.sobel(ic.gaussian(x, 1.0, mode="wrap"), mode="wrap"))
    # dask's rechunk is something in between; the call's chunks= is not
    assert file_source(lazy.rechunk(9)) is None
    rechunked = reads_from_file(ic.gaussian(lazy, 1.0, chunks=(9, 4, 17)))
    assert rechunked.chunks == ((9, 10), (5, 5, 5, 8), (17,))     # chunks of 4 < the halo + 1
    np.testing.assert_array_equal(rechunked.compute(), ic.gaussian(x, 1.0))


def test_threaded_scheduler_and_write(tmp_path):
    x = volume((40, 33, 45))
    path = saved(tmp_path, x)
    with dask.config.set(scheduler="threads", num_workers=2):
        ic.write(str(tmp_path / "out.zarr"), ic.gaussian(ic.read(path, chunks=12), 2.0))
        ic.write(str(tmp_path / "out.npy"), ic.median(ic.read(path, chunks=(12, 40, 9)), 3,
                                                      mode="wrap"))
    np.testing.assert_array_equal(ic.read(str(tmp_path / "out.zarr")), ic.gaussian(x, 2.0))
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), ic.median(x, 3, mode="wrap"))


def test_no_read_runs_ahead_of_its_filter(tmp_path, monkeypatch):
    # with 2 threads, at most 2 blocks are ever read and not yet filtered
    x = volume((48, 40, 40))
    path = saved(tmp_path, x)
    live, peak = [0], [0]
    read = dask_backend._read_block

    def counting(blocks, ranges):
        live[0] += 1
        peak[0] = max(peak[0], live[0])
        return read(blocks, ranges)

    run = dask_backend._ChunkRunner.__call__

    def filtering(self, block, block_id=None):
        try:
            return run(self, block, block_id)
        finally:
            live[0] -= 1

    monkeypatch.setattr(dask_backend, "_read_block", counting)
    monkeypatch.setattr(dask_backend._ChunkRunner, "__call__", filtering)
    with dask.config.set(scheduler="threads", num_workers=2):
        got = ic.gaussian(ic.read(path, chunks=8), 1.0).compute()
    np.testing.assert_array_equal(got, ic.gaussian(x, 1.0))
    assert 1 <= peak[0] <= 2


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 14), min_size=1, max_size=3), data=st.data(),
       mode=st.sampled_from(MODES), sigma=st.floats(0.3, 2.5))
def test_random_shapes_and_chunks(shape, data, mode, sigma):
    x = volume(tuple(shape), seed=len(shape))
    chunks = tuple(data.draw(st.integers(1, n)) for n in shape)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "v.npy")
        np.save(path, x)
        lazy = ic.gaussian(ic.read(path, chunks=chunks), sigma, mode=mode)
        np.testing.assert_array_equal(lazy.compute(), ic.gaussian(x, sigma, mode=mode))

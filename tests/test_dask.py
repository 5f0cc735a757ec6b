"""The dask backend: chunked results equal in-memory ones exactly (every
filter family, every mode, chunk seams, volume edges, uneven chunks, chunks
smaller than the halo), lazily, on threads and on a real local cluster."""
import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

import imgconv as ic  # noqa: E402
from imgconv import _validate as v  # noqa: E402
from imgconv.dask import _backend as dask_backend  # noqa: E402

ndi = pytest.importorskip("scipy.ndimage")

MODES = ("reflect", "symmetric", "replicate", "wrap", "zero")


@pytest.fixture(autouse=True)
def _synchronous():
    # the tests compare numbers; the threaded scheduler is exercised by
    # test_threaded_scheduler and the cluster test
    with dask.config.set(scheduler="synchronous"):
        yield


def volume(shape=(19, 23, 17), dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "b":
        return rng.random(shape) > 0.6
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -1000), min(info.max, 1000), shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def chunked(x, chunks=(5, 7, 4)):
    return da.from_array(x, chunks=chunks)


def assert_same(function, x, *args, chunks=(5, 7, 4), **kwargs):
    """``function`` on the dask array of ``x`` equals it in memory, exactly."""
    expected = function(x, *args, **kwargs)
    lazy = function(chunked(x, chunks), *args, **kwargs)
    assert isinstance(lazy, da.Array)
    got = lazy.compute()
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    return lazy


# --------------------------------------------------------------------------
# Every filter family, every mode
# --------------------------------------------------------------------------
LINEAR = [
    ("gaussian", lambda x, m: ic.gaussian(x, 1.5, mode=m)),
    ("gaussian-order", lambda x, m: ic.gaussian(x, (1.0, 2.0, 0.7), order=(1, 0, 2), mode=m)),
    ("gaussian-spacing", lambda x, m: ic.gaussian(x, 2.0, spacing=(2.0, 1.0, 0.5), mode=m)),
    ("gaussian-radius", lambda x, m: ic.gaussian(x, (1.0, 0.0, 0.7), radius=(6, 2, 1), mode=m)),
    ("gaussian_laplace-radius", lambda x, m: ic.gaussian_laplace(x, 1.0, radius=(1, 5, 3),
                                                                 mode=m)),
    ("gaussian-per-axis-modes", lambda x, m: ic.gaussian(x, 1.5, mode=(m, "wrap", "zero"))),
    ("box", lambda x, m: ic.box(x, (3, 4, 5), mode=m)),
    ("box-origin", lambda x, m: ic.box(x, 4, origin=(-2, 1, 0), mode=m)),
    ("sobel", lambda x, m: ic.sobel(x, mode=m)),
    ("sobel-axis", lambda x, m: ic.sobel(x, axis=1, mode=m)),
    ("prewitt", lambda x, m: ic.prewitt(x, axis=0, mode=m)),
    ("scharr", lambda x, m: ic.scharr(x, mode=m)),
    ("laplace", lambda x, m: ic.laplace(x, mode=m)),
    ("gradient_magnitude", lambda x, m: ic.gradient_magnitude(x, "prewitt", mode=m)),
    ("gaussian_laplace", lambda x, m: ic.gaussian_laplace(x, 1.2, mode=m)),
    ("gaussian_gradient_magnitude",
     lambda x, m: ic.gaussian_gradient_magnitude(x, (1.0, 0.8, 1.3), mode=m)),
    ("correlate1d", lambda x, m: ic.correlate1d(x, [1.0, -2.0, 0.5, 3.0], axis=1, origin=1,
                                                mode=m)),
    ("convolve1d", lambda x, m: ic.convolve1d(x, [1.0, 2.0, 0.5, 3.0], axis=0, mode=m)),
    ("sepfilter", lambda x, m: ic.sepfilter(x, [[1, 2, 1], [1, 0, -1, 2], [2.0]], mode=m,
                                            dilation=(2, 1, 1))),
    ("correlate", lambda x, m: ic.correlate(x, np.arange(24.0).reshape(2, 3, 4) - 11, mode=m,
                                            method="direct")),
    ("convolve", lambda x, m: ic.convolve(x, np.arange(12.0).reshape(3, 1, 4) - 5, mode=m,
                                          origin=(1, 0, -2), dilation=(1, 3, 2),
                                          method="direct")),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name, call", LINEAR, ids=[n for n, _ in LINEAR])
def test_linear_filters_equal_in_memory(name, call, mode):
    x = volume()
    assert_same(lambda a: call(a, mode), x)


@pytest.mark.parametrize("mode", MODES)
def test_correlate_cval(mode):
    x = volume()
    cval = 2.5 if mode == "zero" else 0.0
    assert_same(ic.correlate, x, np.ones((3, 3, 3)) / 27, mode=mode, cval=cval)


MORPHOLOGY = [
    ("dilate", lambda x, m: ic.dilate(x, size=(3, 2, 4), mode=m)),
    ("erode-footprint", lambda x, m: ic.erode(x, ic.footprints.ball(2), mode=m)),
    ("opening", lambda x, m: ic.opening(x, size=3, mode=m)),
    ("closing-origin", lambda x, m: ic.closing(x, size=4, origin=(1, -1, 0), mode=m)),
    ("morph_gradient", lambda x, m: ic.morph_gradient(x, size=(1, 3, 5), mode=m)),
    ("tophat", lambda x, m: ic.tophat(x, size=3, mode=m)),
    ("blackhat", lambda x, m: ic.blackhat(x, size=(3, 3, 1), mode=m)),
    ("structure", lambda x, m: ic.dilate(x, structure=np.arange(9.0).reshape(1, 3, 3) - 4,
                                         mode=m)),
    ("median", lambda x, m: ic.median(x, 3, mode=m or "reflect")),
    ("rank_filter", lambda x, m: ic.rank_filter(x, 2, footprint=np.eye(3, dtype=bool)[None],
                                                mode=m or "reflect")),
    ("percentile_filter", lambda x, m: ic.percentile_filter(x, 70, size=(2, 3, 3),
                                                            mode=m or "wrap")),
]


@pytest.mark.parametrize("mode", (None,) + MODES)
@pytest.mark.parametrize("name, call", MORPHOLOGY, ids=[n for n, _ in MORPHOLOGY])
def test_morphology_and_rank_equal_in_memory(name, call, mode):
    x = volume(dtype=np.int16)
    assert_same(lambda a: call(a, mode), x)


def test_binary_morphology():
    x = volume(dtype=bool)
    lazy = assert_same(ic.opening, x, size=3)
    assert lazy.dtype == bool


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", ["same", "valid", "full", 2, [(0, 3), (2, 1), (1, 1)]])
def test_correlate_stride_dilation_padding(padding, mode):
    x = volume((23, 26, 21))
    kernel = np.random.default_rng(3).standard_normal((3, 4, 2))
    origin = (1, -1, 0) if padding == "same" else 0
    lazy = assert_same(ic.correlate, x, kernel, mode=mode, padding=padding, stride=(2, 3, 1),
                       dilation=(2, 1, 3), origin=origin, method="direct")
    assert all(c % s == 0 for c, s in zip(lazy.chunks[0][:-1], (1,)))


def test_strided_chunks_are_aligned_to_the_stride():
    x = volume((40, 30, 17))
    lazy = assert_same(ic.correlate, x, np.ones((3, 3, 3)), stride=3, chunks=(7, 10, 5))
    # input chunks were rounded to multiples of 3: the output's are whole
    assert sum(lazy.chunks[0]) == 14 and len(lazy.chunks[0]) > 1


POOLS = [
    dict(size=2),
    dict(size=3, stride=2, padding=1),
    dict(size=(2, 3, 3), stride=(1, 2, 2), padding=1, op="avg", count_include_pad=False),
    dict(size=3, stride=2, padding=1, ceil_mode=True),
    dict(size=2, padding=1, ceil_mode=True, op="lp", p=3),
    dict(size=3, stride=2, padding=(1, (0, 1), 1), op="min", dilation=2),
    dict(size=4, stride=3, op="avg", ceil_mode=True),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("options", POOLS, ids=str)
def test_pooling_equals_in_memory(options, mode):
    if options.get("count_include_pad") is False and mode != "zero":
        pytest.skip("count_include_pad=False only applies with mode='zero'")
    x = np.abs(volume((21, 26, 19)))
    assert_same(ic.pool, x, mode=mode, **options)


@pytest.mark.parametrize("mode", ["zero", "wrap", "reflect"])
def test_pool_indices_are_global(mode):
    x = volume((21, 26, 19))
    expected = ic.pool(x, 3, stride=2, padding=1, mode=mode, return_indices=True)
    values, indices = ic.pool(chunked(x), 3, stride=2, padding=1, mode=mode,
                              return_indices=True)
    np.testing.assert_array_equal(values.compute(), expected[0])
    np.testing.assert_array_equal(indices.compute(), expected[1])


# --------------------------------------------------------------------------
# Chunking: uneven, smaller than the halo, one sample, channels, axes
# --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("chunks", [((1, 2, 9, 3, 4), (20, 3), (1, 1, 15)), 1, 2, (19, 23, 17)])
def test_uneven_and_tiny_chunks(chunks, mode):
    x = volume()
    lazy = assert_same(ic.gaussian, x, 2.5, mode=mode, chunks=chunks)
    # chunks smaller than the halo (radius 10) were merged: each is at least that long
    assert all(min(c) >= min(11, n) for c, n in zip(lazy.chunks, x.shape))


@pytest.mark.parametrize("mode", MODES)
def test_kernel_longer_than_the_axis(mode):
    # the in-memory call folds such a kernel onto the padding's period
    x = volume((5, 40, 3))
    assert_same(ic.gaussian, x, 3.0, mode=mode, chunks=(2, 9, 1))
    assert_same(ic.correlate1d, x, np.arange(13.0), axis=1, mode=mode, chunks=(2, 9, 1))


@pytest.mark.parametrize("shape", [(1,), (1, 1), (1, 1, 1), (1, 9), (7,)])
def test_one_sample_axes(shape):
    x = volume(shape)
    assert_same(ic.gaussian, x, 1.0, chunks=1)
    assert_same(ic.median, x, 3, chunks=2)


def test_empty_input():
    x = np.zeros((0, 5), np.float32)
    got = ic.gaussian(da.from_array(x), 1.0)
    assert isinstance(got, da.Array) and got.shape == (0, 5)


def test_channels_and_axes():
    rng = np.random.default_rng(5)
    rgb = rng.random((30, 25, 3)).astype(np.float32)
    assert_same(ic.gaussian, rgb, 1.5, channel_axis=-1, chunks=(8, 7, 1))
    stack = volume((6, 30, 25))
    lazy = assert_same(ic.sobel, stack, axes=(1, 2), chunks=(1, 8, 8))
    assert lazy.chunks[0] == (1,) * 6     # the unfiltered axis keeps its chunks
    if _per_axis_modes():     # one mode per filtered axis, where this version has them
        assert_same(ic.box, stack, (3, 5), axes=(2, 1), mode=["wrap", "reflect"],
                    chunks=(2, 8, 8))


def _per_axis_modes():
    try:
        ic.box(np.zeros((4, 4)), 3, mode=["wrap", "reflect"])
    except (TypeError, ValueError):
        return False
    return True


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32", "float32", "float64"])
def test_dtypes_and_output_dtype(dtype):
    x = volume(dtype=dtype)
    assert_same(ic.gaussian, x, 1.0)
    assert_same(ic.box, x, 3, dtype=np.uint8)
    assert_same(ic.dilate, x, size=3)


def test_big_endian_and_non_contiguous_input_not_modified():
    x = volume((30, 24, 20)).astype(">f4")[::2, :, ::-1]
    before = x.copy()
    assert_same(ic.gaussian, x, 1.0, chunks=(4, 5, 6))
    np.testing.assert_array_equal(x, before)


def test_complex_input():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((20, 18)) + 1j * rng.standard_normal((20, 18))).astype(np.complex64)
    assert_same(ic.gaussian, x, 1.3, chunks=(6, 5))


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 30), min_size=1, max_size=3),
       data=st.data(), mode=st.sampled_from(MODES), sigma=st.floats(0.3, 3.0))
def test_random_shapes_and_chunks(shape, data, mode, sigma):
    x = volume(tuple(shape), seed=len(shape))
    chunks = tuple(data.draw(st.integers(1, n)) for n in shape)
    assert_same(ic.gaussian, x, sigma, mode=mode, chunks=chunks)
    size = data.draw(st.integers(1, 4))
    assert_same(ic.dilate, x, size=size, mode=mode, chunks=chunks)


def test_matches_scipy():
    x = volume(dtype=np.float64)
    for mode in MODES:
        got = ic.gaussian(chunked(x), 1.7, mode=mode).compute()
        np.testing.assert_allclose(got, ndi.gaussian_filter(x, 1.7, mode=v.SCIPY_MODE[mode]),
                                   rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------
# Laziness, chaining, numpy inputs, threads, errors
# --------------------------------------------------------------------------
class Forbidden(Exception):
    pass


def _refuse(block):
    raise Forbidden("a chunk was computed")


def test_planning_never_computes():
    x = da.from_array(volume(), chunks=6).map_blocks(_refuse, dtype=np.float32)
    lazy = ic.pool(ic.sobel(ic.gaussian(x, 2.0), mode="wrap"), 2)   # chained, all lazy
    assert lazy.shape == (9, 11, 8)
    with pytest.raises(Forbidden):
        lazy.compute()


def test_chain_composes_lazily():
    x = volume()
    lazy = ic.gaussian_laplace(ic.median(chunked(x), 3), 1.0, mode="symmetric")
    np.testing.assert_array_equal(lazy.compute(),
                                  ic.gaussian_laplace(ic.median(x, 3), 1.0, mode="symmetric"))


def test_numpy_input_with_backend_dask():
    x = volume()
    lazy = ic.gaussian(x, 1.5, backend="dask", chunks=(4, 8, 8))
    assert isinstance(lazy, da.Array)
    assert lazy.chunks[1] == (8, 8, 7)
    np.testing.assert_array_equal(lazy.compute(), ic.gaussian(x, 1.5))


def test_chunks_rechunks_a_dask_input():
    x = volume()
    lazy = ic.box(chunked(x), 3, chunks=10)
    assert lazy.chunks[0] == (10, 9)


def test_threads_default_one_per_chunk_and_overridable(monkeypatch):
    seen = []

    def box(x, size, *, threads=None, backend="auto", **kwargs):
        seen.append(threads)
        return ic.box(x, size, threads=threads, backend=backend, **kwargs)

    backend = dask_backend.load_backend()
    backend.call(box, chunked(volume()), (3,), {}).compute()
    assert set(seen) == {1}
    seen.clear()
    backend.call(box, chunked(volume()), (3,), {"threads": 2}).compute()
    assert set(seen) == {2}
    seen.clear()
    backend.call(box, da.from_array(volume(), chunks=-1), (3,), {}).compute()
    assert set(seen) == {None}       # one chunk: dask runs nothing beside it


def test_threaded_scheduler():
    x = volume((40, 40, 40))
    with dask.config.set(scheduler="threads"):
        got = ic.gaussian(chunked(x, 12), 2.0).compute()
    np.testing.assert_array_equal(got, ic.gaussian(x, 2.0))


def test_errors():
    d = chunked(volume())
    with pytest.raises(NotImplementedError, match="out="):
        ic.gaussian(d, 1.0, out=np.empty(d.shape, np.float32))
    with pytest.raises(ValueError, match="mode"):
        ic.gaussian(d, 1.0, mode="bogus")
    with pytest.raises(TypeError, match="unexpected keyword|got an unexpected"):
        ic.gaussian(d, 1.0, bogus=1)
    with pytest.raises(TypeError):
        ic.gaussian(volume(), 1.0, chunks=4)     # chunks= needs backend='dask'
    with pytest.raises(NotImplementedError, match="footprint"):
        dask_backend.load_backend().call(lambda x: x, d, (), {})


def test_import_imgconv_does_not_import_dask():
    import subprocess
    import sys

    code = ("import sys, imgconv, numpy as np; imgconv.gaussian(np.zeros((4, 4)), 1.0); "
            "print('dask' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_planning_a_wide_kernel_is_cheap():
    import time

    x = da.zeros((2000, 2000, 2000), chunks=500, dtype=np.float32)
    start = time.perf_counter()
    lazy = ic.gaussian(x, 100.0)       # a 401-sample halo; nothing of that size is made
    assert time.perf_counter() - start < 5
    assert lazy.chunks == x.chunks

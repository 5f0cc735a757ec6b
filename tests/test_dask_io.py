"""Chunked IO (read(path, chunks=), streamed writes), a real dask.distributed
cluster, a volume larger than the memory the process may use, and the
command line's --chunks/--scheduler."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
pytest.importorskip("zarr")
tifffile = pytest.importorskip("tifffile")

import imgconv as ic  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def volume(shape=(14, 22, 19), dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("ext", ["npy", "tif", "zarr"])
def test_read_chunked_is_lazy_and_exact(tmp_path, ext):
    x = volume()
    path = str(tmp_path / f"v.{ext}")
    ic.write(path, x)
    lazy = ic.read(path, chunks=(4, 10, 7))
    assert isinstance(lazy, da.Array)
    assert lazy.chunks == ((4, 4, 4, 2), (10, 10, 2), (7, 7, 5))
    np.testing.assert_array_equal(lazy.compute(), x)
    np.testing.assert_array_equal(lazy[3:9, ::5, 2].compute(), x[3:9, ::5, 2])
    again, meta = ic.read(path, chunks="auto", with_meta=True)
    assert meta.format == {"tif": "tiff"}.get(ext, ext)
    np.testing.assert_array_equal(np.asarray(again), x)


def test_read_chunked_npy_reads_only_its_chunks(tmp_path, monkeypatch):
    path = str(tmp_path / "v.npy")
    np.save(path, volume())
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("the whole file was loaded"))
    lazy = ic.read(path, chunks=5)
    assert lazy[:5, :5, :5].compute().shape == (5, 5, 5)


def test_read_chunked_big_endian_npy(tmp_path):
    x = volume().astype(">i2")
    path = str(tmp_path / "v.npy")
    np.save(path, x)
    lazy = ic.read(path, chunks=6)
    np.testing.assert_array_equal(ic.gaussian(lazy, 1.0).compute(), ic.gaussian(x, 1.0))


def test_read_chunked_other_formats_and_colour_tiff(tmp_path):
    rgb = (np.random.default_rng(1).random((20, 24, 3)) * 255).astype(np.uint8)
    png = str(tmp_path / "c.png")
    ic.write(png, rgb)
    lazy = ic.read(png, chunks=8)
    np.testing.assert_array_equal(lazy.compute(), rgb)
    stack = (np.random.default_rng(2).random((5, 20, 24, 3)) * 255).astype(np.uint8)
    tif = str(tmp_path / "s.tif")
    ic.write(tif, stack, meta=ic.ImageMeta(channel_axis=-1))
    lazy, meta = ic.read(tif, chunks=(2, 7, 7, 3), with_meta=True)
    assert meta.channel_axis == -1
    np.testing.assert_array_equal(lazy.compute(), stack)


@pytest.mark.parametrize("ext", ["npy", "tif", "zarr"])
def test_write_streams_a_dask_array(tmp_path, ext):
    x = volume()
    lazy = ic.gaussian(da.from_array(x, chunks=(5, 8, 8)), 1.5, mode="wrap")
    path = str(tmp_path / f"out.{ext}")
    ic.write(path, lazy, meta=ic.ImageMeta(spacing=(2.0, 1.0, 0.5), unit="mm"))
    np.testing.assert_array_equal(ic.read(path), ic.gaussian(x, 1.5, mode="wrap"))
    assert sorted(os.listdir(tmp_path)) == [f"out.{ext}"]      # no temporary left behind
    if ext != "npy":
        assert ic.read(path, with_meta=True)[1].spacing == (2.0, 1.0, 0.5)
    with pytest.raises(FileExistsError):
        ic.write(path, lazy, overwrite=False)
    ic.write(path, lazy[:3])                                    # replaced whole
    assert ic.read(path).shape == (3, 22, 19)


def test_zarr_irregular_chunks_and_failure_leaves_nothing(tmp_path):
    x = volume()
    irregular = da.from_array(x, chunks=((3, 5, 6), (22,), (10, 9)))
    path = str(tmp_path / "a.zarr")
    ic.write(path, irregular)
    np.testing.assert_array_equal(ic.read(path), x)

    def fail(block):
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        ic.write(str(tmp_path / "b.zarr"), irregular.map_blocks(fail, dtype=x.dtype))
    with pytest.raises(RuntimeError, match="disk on fire"):
        ic.write(str(tmp_path / "b.npy"), irregular.map_blocks(fail, dtype=x.dtype))
    assert sorted(os.listdir(tmp_path)) == ["a.zarr"]


def test_zarr_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        ic.read(str(tmp_path / "missing.zarr"))
    (tmp_path / "file.zarr").write_text("not a folder")
    with pytest.raises(ValueError, match="folder"):
        ic.read(str(tmp_path / "file.zarr"))


# --------------------------------------------------------------------------
# A real cluster
# --------------------------------------------------------------------------
def test_local_cluster_with_processes(tmp_path):
    distributed = pytest.importorskip("distributed")
    x = volume((30, 40, 36))
    source = str(tmp_path / "in.npy")
    np.save(source, x)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        lazy = ic.pool(ic.sobel(ic.gaussian(ic.read(source, chunks=12), 1.5), mode="wrap"), 2,
                       op="avg")
        np.testing.assert_array_equal(client.compute(lazy).result(),
                                      ic.pool(ic.sobel(ic.gaussian(x, 1.5), mode="wrap"), 2,
                                              op="avg"))
        ic.write(str(tmp_path / "out.zarr"), lazy)      # stored by the workers
        assert len(client.run(os.getpid)) == 2
    np.testing.assert_array_equal(ic.read(str(tmp_path / "out.zarr")),
                                  ic.pool(ic.sobel(ic.gaussian(x, 1.5), mode="wrap"), 2, op="avg"))


# --------------------------------------------------------------------------
# Out of core
# --------------------------------------------------------------------------
OUT_OF_CORE = textwrap.dedent("""
    import resource, sys
    import numpy as np, dask, imgconv as ic

    source, target, headroom = sys.argv[1], sys.argv[2], int(sys.argv[3])
    scheduler = dask.config.set(scheduler="threads", num_workers=2)
    scheduler.__enter__()
    # warm up before the limit: imports, the scheduler's threads (whose
    # stacks count as data), the kernels' scratch
    ic.write(target + ".warm.npy", ic.gaussian(ic.read(source, chunks=(32, 64, 64))[:200], 2.0))

    def data_bytes():
        for line in open("/proc/self/status"):
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024

    limit = data_bytes() + headroom
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    try:
        np.ones(4 * headroom, np.uint8)
    except MemoryError:
        pass
    else:
        sys.exit("the limit does not hold: 4x the headroom was allocated")
    ic.write(target, ic.gaussian(ic.read(source, chunks=(32, 64, 64)), 2.0))
    print("peak", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA and /proc: Linux")
def test_out_of_core_volume(tmp_path):
    # 256 MiB of float32, 4x what the process may allocate beyond its
    # libraries (RLIMIT_DATA: heap and private mappings, not the files'
    # shared ones).  A long volume of thin slabs: the halos of one slab of
    # chunks and the next are what dask holds at a time.
    shape = (4096, 128, 128)
    headroom = 64 << 20
    source, target = str(tmp_path / "big.npy"), str(tmp_path / "big_gaussian.npy")
    data = np.lib.format.open_memmap(source, mode="w+", dtype=np.float32, shape=shape)
    rng = np.random.default_rng(0)
    for z in range(0, shape[0], 256):
        data[z:z + 256] = rng.standard_normal((256,) + shape[1:], dtype=np.float32)
    data.flush()
    del data
    # few malloc arenas and one kernel thread per task: their reservations count too
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]),
           "MALLOC_ARENA_MAX": "2", "IMGCONV_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", OUT_OF_CORE, source, target, str(headroom)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = np.load(target, mmap_mode="r")
    assert result.shape == shape and result.dtype == np.float32
    source_data = np.load(source, mmap_mode="r")
    radius = 8      # int(4 * 2 + 0.5)
    # sampled blocks: a corner (the volume's real edges) and interior ones,
    # each filtered in memory with enough surroundings to be exact
    for z, y, x in [(0, 0, 0), (700, 50, 60), (4080, 112, 17), (31, 63, 64), (2000, 120, 120)]:
        lo = [max(0, c - radius) for c in (z, y, x)]
        hi = [min(n, c + 16 + radius) for c, n in zip((z, y, x), shape)]
        around = np.array(source_data[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]])
        filtered = ic.gaussian(around, 2.0)
        inner = tuple(slice(c - l, min(c + 16, n) - l) for c, l, n in zip((z, y, x), lo, shape))
        expected = filtered[inner]
        # a window that reaches an edge of its surroundings other than the
        # volume's own is not exact there: only edges of the volume count
        got = result[z:z + 16, y:y + 16, x:x + 16]
        np.testing.assert_array_equal(got[:expected.shape[0], :expected.shape[1],
                                          :expected.shape[2]], expected)


# --------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------
def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "imgconv", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)


def test_cli_chunks_to_zarr_and_npy(tmp_path):
    x = volume((30, 33, 28))
    np.save(tmp_path / "big.npy", x)
    run = _cli("filter", "big.npy", "-o", "out.zarr", "--chunks", "10", "-f", "gaussian:sigma=2",
               "-f", "sobel", "--mode", "wrap", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "out.zarr"
    np.testing.assert_array_equal(ic.read(str(tmp_path / "out.zarr")),
                                  ic.sobel(ic.gaussian(x, 2, mode="wrap"), mode="wrap"))
    run = _cli("pool", "out.zarr", "-o", "pooled.npy", "--chunks", "8x16x16", "--size", "3",
               "--stride", "2", "--padding", "1", "--scheduler", "processes", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "pooled.npy"),
                                  ic.pool(ic.read(str(tmp_path / "out.zarr")), 3, stride=2,
                                          padding=1))
    run = _cli("morph", "open", "big.npy", "-o", "opened.tif", "--chunks", "12", "--size", "3",
               cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    np.testing.assert_array_equal(ic.read(str(tmp_path / "opened.tif")), ic.opening(x, size=3))


def test_cli_chunks_errors(tmp_path):
    np.save(tmp_path / "v.npy", volume((8, 8, 8)))
    run = _cli("filter", "v.npy", "--scheduler", "processes", cwd=tmp_path)
    assert run.returncode == 2 and "--chunks" in run.stderr
    run = _cli("filter", "v.npy", "--chunks", "4", "--scheduler", "fast", cwd=tmp_path)
    assert run.returncode == 2 and "--scheduler" in run.stderr
    run = _cli("filter", "v.npy", "--chunks", "0", cwd=tmp_path)
    assert run.returncode == 2 and "--chunks" in run.stderr
    run = _cli("filter", "v.npy", "--chunks", "4", "--scheduler", "tcp://127.0.0.1:9",
               cwd=tmp_path)
    assert run.returncode == 1 and "cannot reach" in run.stderr
    assert "Traceback" not in run.stderr
    assert sorted(os.listdir(tmp_path)) == ["v.npy"]


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [(7,), (5, 6), (4, 5, 6), (3, 4, 5, 6)])
def test_npy_blocks_read_any_slice(tmp_path, shape, order):
    from imgconv._io._chunked import _NpyBlocks, _npy_layout

    x = np.random.default_rng(4).standard_normal(shape).astype(">f8")
    x = np.asfortranarray(x) if order == "F" else x
    path = str(tmp_path / "x.npy")
    np.save(path, x)
    shape_read, fortran, dtype, offset = _npy_layout(path)
    assert fortran == (order == "F" and len(shape) > 1)
    blocks = _NpyBlocks(path, shape_read, dtype, offset, fortran)
    keys = [(), (slice(1, 4),), (slice(None, None, -1),), (slice(5, 0, -2),), (2,), (-1,),
            (slice(3, 3),)]
    if len(shape) > 1:
        keys += [(slice(1, 3), slice(4, 0, -1)), (1, slice(None, None, 2)), (slice(None), 2)]
    for key in keys:
        got = blocks[key]
        assert got.shape == x[key].shape
        np.testing.assert_array_equal(got, x[key])
    np.testing.assert_array_equal(ic.read(path, chunks=2).compute(), x)


@pytest.mark.parametrize("output_range", ["rescale", "abs", "clip"])
def test_cli_chunked_integer_outputs_and_alpha_equal_in_memory(tmp_path, output_range):
    x = volume((20, 24, 18))
    np.save(tmp_path / "v.npy", x)
    rgba = (np.random.default_rng(3).random((30, 26, 4)) * 255).astype(np.uint8)
    ic.write(str(tmp_path / "rgba.png"), rgba)
    for chunks, suffix in ((["--chunks", "8"], "chunked"), ([], "memory")):
        run = _cli("filter", "v.npy", "-o", f"v_{suffix}.npy", "-f", "sobel", "--dtype", "uint16",
                   "--output-range", output_range, *chunks, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        run = _cli("filter", "rgba.png", "-o", f"rgba_{suffix}.png", "--kernel",
                   "1,2,1;2,4,2;1,2,1", "--normalize", "--stride", "2",
                   "--output-range", output_range, *chunks, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "v_chunked.npy"),
                                  np.load(tmp_path / "v_memory.npy"))
    np.testing.assert_array_equal(ic.read(str(tmp_path / "rgba_chunked.png")),
                                  ic.read(str(tmp_path / "rgba_memory.png")))

"""A volume larger than comfortable: read from ``.npy``, Gaussian, written to zarr.

imgconv's dask backend against dask-image's ``ndfilters.gaussian_filter``
(scipy.ndimage per chunk) on the same chunks, the same scheduler and the same
reads (``imgconv.read(path, chunks=...)``) and writes (zarr, one chunk per
dask chunk); each run in a fresh process of its own, so that its peak
resident memory is its own.  Prints wall time, CPU time (user + system, the
steadier number on a loaded machine), peak RSS, throughput (input
bytes per second) and the ratio of the two, with the zarr write and without
it (the result computed and discarded chunk by chunk).

Both get the array ``imgconv.read`` returns; imgconv's filter, applied to it
directly, reads each block with its halos from the file in the task that
filters it, while dask-image assembles halos from neighbouring chunks
(``dask.array.overlap``).  So the comparison is of the two libraries' whole
pipelines from the same file, not of the filter kernels alone.

Run it from the repository root::

    pip install -e .[dask,bench]
    python benchmarks/dask_volume.py                          # 1024x1024x512 float32, 2 GiB
    python benchmarks/dask_volume.py --size 256x512x512 --chunks 64
    python benchmarks/dask_volume.py --keep /big/disk        # where the files go

Both use the same boundary rule (imgconv ``'reflect'`` = scipy ``'mirror'``),
``truncate=4`` and float32 results; the two zarr outputs are compared on
sampled blocks.  The zarr arrays are written uncompressed by default
(``--compress`` for zarr's default codec), so the time is the filters' and
the disk's, not a compressor's, for both.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

RUN = r"""
import json, resource, sys, time
import dask, numpy as np, zarr
import dask.array as da
library, source, target, chunks, sigma, scheduler, workers, compress = sys.argv[1:9]


class Discard:
    # a store target that keeps nothing: the read and the filter alone

    def __setitem__(self, key, value):
        pass


chunks, sigma, workers = int(chunks), float(sigma), int(workers)
import imgconv as ic
if library == "imgconv":
    ic.gaussian(np.zeros((8, 8, 8), np.float32), sigma)     # kernels loaded
else:
    from dask_image import ndfilters
before = resource.getrusage(resource.RUSAGE_SELF)
start = time.perf_counter()
with dask.config.set(scheduler=scheduler, num_workers=workers):
    if library == "imgconv":
        volume = ic.read(source, chunks=chunks)
        result = ic.gaussian(volume, sigma)           # reflect = scipy 'mirror'
    else:
        # the same reader, so that the runs differ by the filter alone
        volume = ic.read(source, chunks=chunks)
        result = ndfilters.gaussian_filter(volume, sigma, mode="mirror", truncate=4.0)
    layout = dict(shape=result.shape, dtype=result.dtype, chunks=(chunks,) * result.ndim)
    if target == "-":
        store = Discard()
    elif compress == "1":
        store = zarr.open_array(target, mode="w", **layout)
    elif hasattr(zarr, "create_array"):          # zarr 3
        store = zarr.create_array(target, compressors=None, **layout)
    else:
        store = zarr.open_array(target, mode="w", compressor=None, **layout)
    da.store(result, store, lock=False)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
print(json.dumps({"wall": wall, "cpu": cpu,
                  "peak_rss": usage.ru_maxrss * 1024}))
"""


def make_volume(path, shape, seed=0):
    """A float32 volume of noise plus smooth structure, written slab by slab."""
    rng = np.random.default_rng(seed)
    data = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
    step = max(1, (64 << 20) // (4 * int(np.prod(shape[1:]))))
    for z in range(0, shape[0], step):
        n = min(step, shape[0] - z)
        data[z:z + n] = rng.standard_normal((n,) + shape[1:], dtype=np.float32)
    data.flush()
    del data


def run(library, source, target, args):
    command = [sys.executable, "-c", RUN, library, source, target, str(args.chunks),
               str(args.sigma), args.scheduler, str(args.workers), "1" if args.compress else "0"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
         os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"{library} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def check(source, first, second, shape, sigma, samples=4, seed=1):
    """The two results agree on sampled blocks (float32 rounding)."""
    import zarr

    a, b = zarr.open_array(first, mode="r"), zarr.open_array(second, mode="r")
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(samples):
        corner = [int(rng.integers(0, max(1, n - 32))) for n in shape]
        block = tuple(slice(c, c + 32) for c in corner)
        worst = max(worst, float(np.max(np.abs(a[block] - b[block]))))
    return worst


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1024x1024x512",
                        help="volume shape DxHxW (default 1024x1024x512: 2 GiB of float32)")
    parser.add_argument("--chunks", type=int, default=128, help="chunk edge (default 128)")
    parser.add_argument("--sigma", type=float, default=2.0)
    parser.add_argument("--scheduler", default="threads", help="threads (default) or processes")
    parser.add_argument("--workers", type=int, default=os.cpu_count(),
                        help="dask workers (default: the cores)")
    parser.add_argument("--compress", action="store_true", help="zarr's default compressor")
    parser.add_argument("--keep", metavar="DIR",
                        help="work in DIR and keep the files (default: a temporary folder)")
    parser.add_argument("--skip-peer", action="store_true", help="imgconv only")
    parser.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    shape = tuple(int(n) for n in args.size.lower().split("x"))
    folder = args.keep or tempfile.mkdtemp(prefix="imgconv-dask-")
    os.makedirs(folder, exist_ok=True)
    try:
        source = os.path.join(folder, "volume.npy")
        nbytes = 4 * int(np.prod(shape))
        if not (os.path.exists(source) and os.path.getsize(source) > nbytes):
            # in a process of its own: Linux hands a process's peak RSS down
            # through fork and exec, so writing the volume here would show as
            # every later run's peak
            subprocess.run([sys.executable, "-c",
                            "import sys; sys.path.insert(0, sys.argv[1]); import dask_volume; "
                            "dask_volume.make_volume(sys.argv[2], tuple(map(int, sys.argv[3:])))",
                            os.path.dirname(os.path.abspath(__file__)), source,
                            *map(str, shape)], check=True)
        results = {}
        libraries = ["imgconv"] + ([] if args.skip_peer else ["dask-image"])
        for library in libraries:
            target = os.path.join(folder, f"{library}.zarr")
            shutil.rmtree(target, ignore_errors=True)
            results[library] = run(library, source, target, args)
            # the same without the write: what the filter and the read cost
            results[library]["no_write"] = run(library, source, "-", args)
        print(f"volume {'x'.join(map(str, shape))} float32 ({nbytes / 2**30:.2f} GiB), chunks "
              f"{args.chunks}^3, Gaussian sigma={args.sigma}, .npy -> zarr "
              f"({'compressed' if args.compress else 'uncompressed'}), scheduler "
              f"{args.scheduler} x {args.workers}, {os.cpu_count()} cores")
        print()
        print("| library | wall (s) | CPU (s) | peak RSS (MiB) | throughput (MB/s) "
              "| without the write: wall (s) | CPU (s) | throughput (MB/s) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for library, r in results.items():
            r["throughput"] = nbytes / r["wall"] / 1e6
            r["no_write"]["throughput"] = nbytes / r["no_write"]["wall"] / 1e6
            print(f"| {library} | {r['wall']:.1f} | {r['cpu']:.1f} | "
                  f"{r['peak_rss'] / 2**20:.0f} | {r['throughput']:.0f} | "
                  f"{r['no_write']['wall']:.1f} | {r['no_write']['cpu']:.1f} | "
                  f"{r['no_write']['throughput']:.0f} |")
        if "dask-image" in results:
            ratio = results["dask-image"]["wall"] / results["imgconv"]["wall"]
            compute_ratio = results["dask-image"]["no_write"]["wall"] / \
                results["imgconv"]["no_write"]["wall"]
            worst = check(source, os.path.join(folder, "imgconv.zarr"),
                          os.path.join(folder, "dask-image.zarr"), shape, args.sigma)
            print()
            print(f"imgconv is {ratio:.1f}x faster than dask-image from .npy to zarr, "
                  f"{compute_ratio:.1f}x without the write (largest difference on sampled "
                  f"blocks: {worst:.2e})")
            results.update(ratio=ratio, ratio_no_write=compute_ratio)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"shape": shape, "chunks": args.chunks, **results}, f, indent=1)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

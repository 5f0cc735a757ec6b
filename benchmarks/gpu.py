"""GPU check and benchmark of imgconv's CUDA backend, in one command.

Meant for a machine with an NVIDIA GPU and CuPy (an H100 for the issue's
targets).  One run answers everything, in well under 8 minutes:

1. the GPU conformance tests (the same suites CI runs through the CUDA
   simulator, here on the real device: ``tests/test_cuda_kernels.py`` and
   ``tests/test_conformance.py`` with the CUDA backend),
2. first-call times (compilation through NVRTC, with CuPy's disk cache
   pointed at an empty folder) apart from steady-state times,
3. steady-state times of the issue's workloads on a float32 512³ volume,
   mode reflect, CUDA-event medians, with the peers in the same run:
   cupyx.scipy.ndimage and torch (cuDNN) where installed, and a device copy
   of the volume as the bandwidth yardstick,
4. each timed imgconv result checked against cupyx's.

It prints one Markdown table last (and writes it, with the raw numbers, to
``$OUT`` or ``--out`` when given).  Run from the repository root after
building the CPU kernels in place::

    python setup.py build_ext --inplace -j 16
    python benchmarks/gpu.py                # everything
    python benchmarks/gpu.py --size 256     # a smaller volume
    python benchmarks/gpu.py --skip-tests   # timings only
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_tests(timeout):
    """The GPU conformance suites on the real device; (passed, summary line)."""
    # the kernel-level tests run on the device with IMGCONV_TEST_CUDA_DEVICE=1;
    # the conformance suite takes the GPU backend whenever CuPy finds a GPU
    env = dict(os.environ, IMGCONV_CUDA_SIMULATOR="0", IMGCONV_TEST_CUDA_DEVICE="1",
               PYTHONPATH=REPO)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "tests/test_cuda_kernels.py", "tests/test_conformance.py",
               "tests/test_cuda_backend.py", "tests/test_cuda_fft.py"]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"tests timed out after {timeout} s"
    lines = (done.stdout + done.stderr).strip().splitlines()
    tail = "\n".join(lines[-25:])
    print(tail, flush=True)
    summary = lines[-1] if lines else "no output"
    return done.returncode == 0, f"{summary} ({time.perf_counter() - start:.0f} s)"


def gpu_median_ms(cupy, fn, repeats):
    """Median CUDA-event time of ``fn()`` in ms, after one warm-up call."""
    fn()
    cupy.cuda.Device().synchronize()
    times = []
    for _ in range(repeats):
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, stop))
    times.sort()
    return times[len(times) // 2]


def first_call_ms(cupy, fn):
    """Wall time of ``fn()``'s first call (compilation included), synchronised."""
    cupy.cuda.Device().synchronize()
    start = time.perf_counter()
    fn()
    cupy.cuda.Device().synchronize()
    return (time.perf_counter() - start) * 1e3


def relative_error(a, b):
    import cupy
    a, b = a.astype(cupy.float64), b.astype(cupy.float64)
    return float(cupy.linalg.norm(a - b) / max(float(cupy.linalg.norm(b)), 1e-300))


def workloads(cupy, ndimage, torch, ic, vol, rng):
    """(name, imgconv call, {peer: call}, reference call) per workload."""
    items = []
    for k in (3, 5, 7):
        w = cupy.asarray(rng.random((k, k, k), dtype="float32") - 0.5)
        w_host = cupy.asnumpy(w)
        peers = {"cupyx": (lambda w=w: ndimage.correlate(vol, w, mode="mirror"))}
        if torch is not None:
            tv = torch.as_tensor(vol, device="cuda")[None, None]
            tw = torch.as_tensor(w, device="cuda")[None, None]
            peers["torch cuDNN"] = (lambda tv=tv, tw=tw, k=k:
                                    torch.nn.functional.conv3d(tv, tw, padding=k // 2))
        items.append((f"correlate {k}³", lambda w_host=w_host: ic.correlate(vol, w_host),
                      peers, peers["cupyx"]))
    items.append(("gaussian σ=2", lambda: ic.gaussian(vol, 2.0),
                  {"cupyx": lambda: ndimage.gaussian_filter(vol, 2.0, mode="mirror")},
                  lambda: ndimage.gaussian_filter(vol, 2.0, mode="mirror")))
    for k in (3, 7):
        ref = (lambda k=k: ndimage.grey_dilation(vol, size=(k,) * 3, mode="mirror"))
        items.append((f"grey dilation {k}³", lambda k=k: ic.dilate(vol, size=k, mode="reflect"),
                      {"cupyx": ref}, ref))
    # 3³ is gathered per thread; 7³ (343 cells) takes the counting search
    for k in (3, 7):
        ref = (lambda k=k: ndimage.median_filter(vol, size=k, mode="mirror"))
        items.append((f"median {k}³", lambda k=k: ic.median(vol, k), {"cupyx": ref}, ref))
    return items


def torch_synchronised(torch, fn):
    def run():
        result = fn()
        torch.cuda.synchronize()
        return result
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512, help="volume edge (default 512)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--test-timeout", type=int, default=240)
    parser.add_argument("--out", default=os.environ.get("OUT"))
    args = parser.parse_args(argv)

    # first calls compile: an empty disk cache makes them honest
    os.environ["CUPY_CACHE_DIR"] = tempfile.mkdtemp(prefix="imgconv-cupy-cache-")
    os.environ.pop("IMGCONV_CUDA_SIMULATOR", None)
    sys.path.insert(0, REPO)
    import numpy as np
    import cupy
    import cupyx.scipy.ndimage as ndimage
    try:
        import torch
        if not torch.cuda.is_available():
            torch = None
    except ImportError:
        torch = None
    import imgconv as ic

    device = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    env = {"device": device["name"].decode(), "cupy": cupy.__version__,
           "cuda runtime": cupy.cuda.runtime.runtimeGetVersion(),
           "driver": cupy.cuda.runtime.driverGetVersion(), "numpy": np.__version__,
           "torch": None if torch is None else torch.__version__,
           "imgconv": ic.__version__, "python": platform.python_version()}
    print(json.dumps(env), flush=True)

    tests = ("skipped", "")
    if not args.skip_tests:
        passed, summary = run_tests(args.test_timeout)
        tests = ("passed" if passed else "FAILED", summary)

    n = args.size
    rng = np.random.default_rng(0)
    vol = cupy.asarray(rng.random((n, n, n), dtype=np.float32))
    nbytes = vol.nbytes
    copy_ms = gpu_median_ms(cupy, lambda: vol.copy(), args.repeats)
    rows = [("copy (read + write)", None, copy_ms, {}, None)]
    for name, ours, peers, reference in workloads(cupy, ndimage, torch, ic, vol, rng):
        first = first_call_ms(cupy, ours)
        steady = gpu_median_ms(cupy, ours, args.repeats)
        peer_ms = {}
        for peer, fn in peers.items():
            if peer.startswith("torch"):
                fn = torch_synchronised(torch, fn)
            try:
                peer_ms[peer] = gpu_median_ms(cupy, fn, args.repeats)
            except Exception as exc:   # a peer's failure must not hide our numbers
                print(f"{name}: {peer} failed: {exc}", flush=True)
        error = relative_error(ours(), reference())
        rows.append((name, first, steady, peer_ms, error))
        cupy.get_default_memory_pool().free_all_blocks()

    peers = sorted({p for row in rows for p in row[3]})
    header = (["workload", "first call ms", "imgconv ms", "GB/s (read+write)"]
              + [f"{p} ms" for p in peers] + [f"{p}/imgconv" for p in peers]
              + ["rel. error vs cupyx"])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, first, steady, peer_ms, error in rows:
        cells = [name, "" if first is None else f"{first:.0f}", f"{steady:.3g}",
                 f"{2 * nbytes / steady / 1e6:.0f}"]
        cells += [f"{peer_ms[p]:.3g}" if p in peer_ms else "" for p in peers]
        cells += [f"{peer_ms[p] / steady:.2f}" if p in peer_ms else "" for p in peers]
        cells.append("" if error is None else f"{error:.1e}")
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    title = (f"{env['device']}, float32 {n}³, mode reflect, CUDA-event medians of "
             f"{args.repeats}; CuPy {env['cupy']}, torch {env['torch']}; "
             f"GPU tests: {tests[0]} {tests[1]}")
    print("\n" + title + "\n\n" + table, flush=True)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "gpu_table.md"), "w") as f:
            f.write(title + "\n\n" + table + "\n")
        with open(os.path.join(args.out, "gpu_results.json"), "w") as f:
            json.dump({"environment": env, "tests": tests, "rows": rows}, f, indent=1)
    return 0 if tests[0] != "FAILED" else 1


if __name__ == "__main__":
    sys.exit(main())

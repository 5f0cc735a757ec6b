"""Benchmark imgconv against its peers (OpenCV, scipy.ndimage, PyTorch CPU).

Every workload runs all available libraries side by side in this one process
and prints a Markdown table of median wall times per call and peer/imgconv
ratios (a ratio > 1 means imgconv is faster).  Timed runs go round-robin
over the libraries; a call shorter than ``--min-run-ms`` (2 ms) is repeated
back to back within its run, as ``timeit`` does, so that short calls are
timed in the state a loop over images keeps them in, not just after another
library's call (``--min-run-ms 0`` times such single calls).

Run it from the repository root::

    pip install -e .[bench]          # scipy, opencv-python-headless, scikit-image
    pip install torch                # optional, CPU build is enough
    python benchmarks/bench.py                     # full run
    python benchmarks/bench.py --quick             # smaller inputs, fewer runs
    python benchmarks/bench.py --only 3D --repeats 9 --json results.json
    python benchmarks/bench.py --only sweep --sizes 256,512   # part of the 2D size sweep
    python benchmarks/bench.py --only small                   # 1000 calls on 16² and 64²

Missing peers are reported as ``n/a``.  All libraries use the same boundary
handling (imgconv ``'reflect'`` = OpenCV ``BORDER_REFLECT_101`` = scipy
``'mirror'`` = torch ``'reflect'``), and each peer's output is checked once
against imgconv's so that the times compare the same computation.

Adding a workload means appending one :class:`Workload` to :data:`WORKLOADS`:
a name, a ``setup`` function making the inputs and one callable per library.
"""
import argparse
import dataclasses
import json
import platform
import statistics
import sys
import time
from typing import Any, Callable, Dict, Tuple

import numpy as np

import imgconv as ic
from imgconv import _dispatch


def _optional_import(name):
    """Import and return module ``name``, or None if it cannot be imported."""
    try:
        return __import__(name, fromlist=["_"])
    except Exception:  # ImportError, or a broken binary install
        return None


cv2 = _optional_import("cv2")
ndimage = _optional_import("scipy.ndimage")
torch = _optional_import("torch")
F = _optional_import("torch.nn.functional") if torch is not None else None
skimage_measure = _optional_import("skimage.measure")

#: Column order of the table; the first entry is the reference library.
LIBRARIES = ("imgconv", "cv2", "scipy", "torch", "skimage")
REFERENCE = LIBRARIES[0]
PEERS = LIBRARIES[1:]
AVAILABLE = {
    "imgconv": True,
    "cv2": cv2 is not None,
    "scipy": ndimage is not None,
    "torch": F is not None,
    "skimage": skimage_measure is not None,
}
#: Relative max abs difference above which a peer's result is flagged.
TOLERANCE = 1e-3


# --------------------------------------------------------------------------
# Workload definitions
# --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Workload:
    """One benchmark case.

    Attributes
    ----------
    name : str
        Label template; ``{n}`` is replaced by the input size in use.
    size : int
        Input side length of the full run.
    quick_size : int
        Input side length with ``--quick``.
    setup : callable
        ``setup(rng, n) -> tuple`` making the input arrays (numpy).
    runners : dict of str to callable
        Per library in :data:`LIBRARIES`, ``fn(*inputs)`` returning the result
        as something ``np.asarray`` accepts, with imgconv's output shape.
        Libraries left out are reported as ``n/a``.
    """

    name: str
    size: int
    quick_size: int
    setup: Callable[[np.random.Generator, int], Tuple[np.ndarray, ...]]
    runners: Dict[str, Callable[..., Any]]

    def label(self, n):
        """The workload's name for input size ``n``."""
        return self.name.format(n=n)


def random_image_and_kernel(ndim, ksize):
    """Setup function: a float32 ``n**ndim`` image in [0, 1) and a dense,
    non-separable float32 ``ksize**ndim`` kernel (standard normal weights)."""
    def setup(rng, n):
        x = rng.random((n,) * ndim, dtype=np.float32)
        w = rng.standard_normal((ksize,) * ndim, dtype=np.float32)
        return x, w
    return setup


def _torch_correlate(x, w):
    """Same-size correlation with reflect borders through ``F.conv{1,2,3}d``."""
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[w.ndim]
    pad = tuple(p for k in reversed(w.shape) for p in (k // 2, k // 2))
    with torch.inference_mode():
        t = F.pad(torch.from_numpy(x)[None, None], pad, mode="reflect")
        return conv(t, torch.from_numpy(w)[None, None])[0, 0]


CORRELATE = {
    "imgconv": lambda x, w: ic.correlate(x, w, mode="reflect"),
    "scipy": lambda x, w: ndimage.correlate(x, w, mode="mirror"),
}
CORRELATE_2D = {
    **CORRELATE,
    "cv2": lambda x, w: cv2.filter2D(x, -1, w, borderType=cv2.BORDER_REFLECT_101),
}
CORRELATE_3D = {**CORRELATE, "torch": _torch_correlate}


def repeated(runners, count):
    """``runners`` called ``count`` times in a row (the last result returned):
    small inputs, where the cost of a call beyond its arithmetic shows."""
    def loop(fn):
        def run(*inputs):
            for _ in range(count - 1):
                fn(*inputs)
            return fn(*inputs)
        return run
    return {lib: loop(fn) for lib, fn in runners.items()}


def random_image(ndim, dtype=np.float32):
    """Setup function: a random ``n**ndim`` image (float in [0, 1), or an
    unsigned integer dtype's whole range)."""
    def setup(rng, n):
        if np.dtype(dtype).kind == "u":
            return (rng.integers(0, np.iinfo(dtype).max, (n,) * ndim, dtype=dtype,
                                 endpoint=True),)
        return (rng.random((n,) * ndim, dtype=dtype),)
    return setup


def _cv2_sobel_magnitude(x):
    border = cv2.BORDER_REFLECT_101
    gx = cv2.Sobel(x, cv2.CV_32F, 1, 0, ksize=3, borderType=border)
    gy = cv2.Sobel(x, cv2.CV_32F, 0, 1, ksize=3, borderType=border)
    return cv2.magnitude(gx, gy)


def _scipy_sobel_magnitude(x):
    x = x.astype(np.float32)
    return np.hypot(ndimage.sobel(x, 0, mode="mirror"), ndimage.sobel(x, 1, mode="mirror"))


def gaussian_runners(sigma, with_cv2):
    runners = {
        "imgconv": lambda x: ic.gaussian(x, sigma),
        "scipy": lambda x: ndimage.gaussian_filter(x, sigma, mode="mirror"),
    }
    if with_cv2:
        # cv2 picks a (8*sigma + 1)-tap kernel for float images: scipy's and
        # imgconv's radius int(4*sigma + 0.5) for integer sigma
        runners["cv2"] = lambda x: cv2.GaussianBlur(x, (0, 0), sigma,
                                                    borderType=cv2.BORDER_REFLECT_101)
    return runners


def dilation_runners(size):
    """Grey dilation by a ``size`` box, reflect borders (the padding matters
    only at the border; every library reads the same values there)."""
    return {
        "imgconv": lambda x: ic.dilate(x, size=size, mode="reflect"),
        "cv2": lambda x: cv2.dilate(x, np.ones((size, size), np.uint8),
                                    borderType=cv2.BORDER_REFLECT_101),
        "scipy": lambda x: ndimage.grey_dilation(x, size=(size,) * x.ndim, mode="mirror"),
    }


def median_runners(size, with_cv2):
    """Median over a ``size`` box, replicated borders (cv2.medianBlur's only
    border, scipy's 'nearest')."""
    runners = {
        "imgconv": lambda x: ic.median(x, size, mode="replicate"),
        "scipy": lambda x: ndimage.median_filter(x, size, mode="nearest"),
    }
    if with_cv2:
        runners["cv2"] = lambda x: cv2.medianBlur(x, size)
    return runners


def max_pool_runners(ndim):
    """Non-overlapping 2**ndim max pooling."""
    def torch_pool(x):
        pool = F.max_pool2d if ndim == 2 else F.max_pool3d
        with torch.inference_mode():
            return pool(torch.from_numpy(x)[None, None], 2)[0, 0]
    return {
        "imgconv": lambda x: ic.max_pool(x, 2),
        "torch": torch_pool,
        "skimage": lambda x: skimage_measure.block_reduce(x, (2,) * ndim, np.max),
    }


def max_pool_peers_2d():
    """2×2 max pooling by scipy's and OpenCV's maximum filters sampled at
    even positions (neither has a pooling call): a 2-wide window with its
    centre on its first cell, so no padded cell is read for even sizes."""
    return {
        "scipy": lambda x: ndimage.maximum_filter(x, size=2, origin=-1, mode="mirror")[::2, ::2],
        "cv2": lambda x: cv2.dilate(x, np.ones((2, 2), np.uint8), anchor=(0, 0),
                                    borderType=cv2.BORDER_REFLECT_101)[::2, ::2],
    }


def _scipy_sobel_magnitude_f32(x):
    return np.hypot(ndimage.sobel(x, 0, mode="mirror"), ndimage.sobel(x, 1, mode="mirror"))


#: The 2D columns of issue 18's table, swept over SWEEP_SIZES: most images
#: people filter are 256²-2048², where per-call costs and thread start-up
#: weigh more than at 4096².
SWEEP_SIZES = (256, 512, 1024, 2048, 4096)
SWEEP_COLUMNS = [
    ("f32 {n}² 3×3", random_image_and_kernel(2, 3), CORRELATE_2D),
    ("f32 {n}² 7×7", random_image_and_kernel(2, 7), CORRELATE_2D),
    ("f32 {n}² Gaussian σ=3", random_image(2), gaussian_runners(3, True)),
    ("f32 {n}² box 15×15", random_image(2), {
        "imgconv": lambda x: ic.box(x, 15),
        "cv2": lambda x: cv2.blur(x, (15, 15), borderType=cv2.BORDER_REFLECT_101),
        "scipy": lambda x: ndimage.uniform_filter(x, 15, mode="mirror"),
    }),
    ("u8→f32 {n}² Sobel magnitude", random_image(2, np.uint8), {
        "imgconv": lambda x: ic.sobel(x),
        "cv2": _cv2_sobel_magnitude,
        "scipy": _scipy_sobel_magnitude,
    }),
    ("u8 {n}² dilation 3×3", random_image(2, np.uint8), dilation_runners(3)),
    ("f32 {n}² 31×31 dense", random_image_and_kernel(2, 31), {
        "imgconv": CORRELATE["imgconv"],
        "cv2": CORRELATE_2D["cv2"],
    }),
]

#: Many calls on small inputs (patches, slices, video frames): here the cost
#: of a call beyond its arithmetic decides.
SMALL_CALLS = 1000
SMALL_SIZES = (16, 64)
SMALL_COLUMNS = [
    ("f32 {n}² 3×3", random_image_and_kernel(2, 3), CORRELATE_2D),
    ("f32 {n}² Gaussian σ=1", random_image(2), gaussian_runners(1, True)),
    ("f32 {n}² Sobel magnitude", random_image(2), {
        "imgconv": lambda x: ic.sobel(x),
        "cv2": _cv2_sobel_magnitude,
        "scipy": _scipy_sobel_magnitude_f32,
    }),
    ("u8 {n}² dilation 3×3", random_image(2, np.uint8), dilation_runners(3)),
    ("f32 {n}² max pool 2×2", random_image(2), {
        **max_pool_runners(2), **max_pool_peers_2d()}),
]


def sweep_workloads():
    """The size sweep (2D, one input per call) and the small-call rows."""
    workloads = [Workload("sweep " + name, n, n, setup, runners)
                 for name, setup, runners in SWEEP_COLUMNS for n in SWEEP_SIZES]
    workloads += [Workload(f"small " + name + f", {SMALL_CALLS} calls", n, n, setup,
                           repeated(runners, SMALL_CALLS))
                  for name, setup, runners in SMALL_COLUMNS for n in SMALL_SIZES]
    return workloads


WORKLOADS = [
    Workload("2D f32 {n}² 3×3", 4096, 1024, random_image_and_kernel(2, 3), CORRELATE_2D),
    Workload("2D f32 {n}² 7×7", 4096, 1024, random_image_and_kernel(2, 7), CORRELATE_2D),
    Workload("3D f32 {n}³ 3³", 256, 96, random_image_and_kernel(3, 3), CORRELATE_3D),
    Workload("3D f32 {n}³ 5³", 256, 96, random_image_and_kernel(3, 5), CORRELATE_3D),
    Workload("2D f32 {n}² Gaussian σ=3", 4096, 1024, random_image(2), gaussian_runners(3, True)),
    Workload("3D f32 {n}³ Gaussian σ=2", 256, 96, random_image(3), gaussian_runners(2, False)),
    Workload("2D u8→f32 {n}² Sobel magnitude", 4096, 1024, random_image(2, np.uint8), {
        "imgconv": lambda x: ic.sobel(x),
        "cv2": _cv2_sobel_magnitude,
        "scipy": _scipy_sobel_magnitude,
    }),
    Workload("2D f32 {n}² 31×31 dense", 4096, 1024, random_image_and_kernel(2, 31), {
        "imgconv": CORRELATE["imgconv"],
        "cv2": CORRELATE_2D["cv2"],
    }),
    Workload("2D f32 {n}² box 15×15", 4096, 1024, random_image(2), {
        "imgconv": lambda x: ic.box(x, 15),
        "cv2": lambda x: cv2.blur(x, (15, 15), borderType=cv2.BORDER_REFLECT_101),
        "scipy": lambda x: ndimage.uniform_filter(x, 15, mode="mirror"),
    }),
    Workload("2D u8 {n}² dilation 3×3", 4096, 1024, random_image(2, np.uint8), dilation_runners(3)),
    Workload("2D u8 {n}² dilation 15×15", 4096, 1024, random_image(2, np.uint8),
             dilation_runners(15)),
    Workload("3D f32 {n}³ dilation 5³", 256, 96, random_image(3), {
        "imgconv": dilation_runners(5)["imgconv"], "scipy": dilation_runners(5)["scipy"]}),
    Workload("2D u8 {n}² median 3×3", 4096, 1024, random_image(2, np.uint8),
             median_runners(3, True)),
    Workload("2D u8 {n}² median 5×5", 4096, 1024, random_image(2, np.uint8),
             median_runners(5, True)),
    # scipy takes minutes here (a selection per pixel over 225 values)
    Workload("2D u8 {n}² median 15×15", 4096, 1024, random_image(2, np.uint8), {
        lib: fn for lib, fn in median_runners(15, True).items() if lib != "scipy"}),
    Workload("2D f32 {n}² median 3×3", 4096, 1024, random_image(2), median_runners(3, True)),
    Workload("3D f32 {n}³ median 3³", 256, 96, random_image(3), median_runners(3, False)),
    Workload("3D f32 {n}³ median 5³", 256, 96, random_image(3), median_runners(5, False)),
    Workload("2D u16 {n}² percentile 90 7×7", 2048, 1024, random_image(2, np.uint16), {
        "imgconv": lambda x: ic.percentile_filter(x, 90, 7, mode="replicate"),
        "scipy": lambda x: ndimage.percentile_filter(x, 90, 7, mode="nearest"),
    }),
    Workload("3D f32 {n}³ LoG σ=2", 256, 96, random_image(3), {
        "imgconv": lambda x: ic.gaussian_laplace(x, 2.0),
        "scipy": lambda x: ndimage.gaussian_laplace(x, 2.0, mode="mirror"),
    }),
    Workload("2D f32 {n}² max pool 2×2", 4096, 1024, random_image(2), max_pool_runners(2)),
    Workload("3D f32 {n}³ max pool 2³", 256, 96, random_image(3), max_pool_runners(3)),
    Workload("2D f32 {n}² 3×3, 1000 calls", 64, 64, random_image_and_kernel(2, 3),
             repeated(CORRELATE_2D, 1000)),
    Workload("3D f32 {n}³ Gaussian σ=1, 1000 calls", 16, 16, random_image(3),
             repeated(gaussian_runners(1, False), 1000)),
] + sweep_workloads()


# --------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------

def relative_difference(result, reference):
    """Max abs difference of ``result`` and ``reference`` over max ``|reference|``.

    Returns
    -------
    float
        ``inf`` if the shapes differ.
    """
    result = np.asarray(result, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if result.shape != reference.shape:
        return float("inf")
    scale = max(float(np.max(np.abs(reference), initial=0.0)), np.finfo(np.float32).tiny)
    return float(np.max(np.abs(result - reference), initial=0.0)) / scale


def _timed(fn, inputs, calls=1):
    """Call ``fn(*inputs)`` ``calls`` times in a row; return ``(last result,
    seconds per call)``."""
    start = time.perf_counter()
    for _ in range(calls - 1):
        fn(*inputs)
    result = fn(*inputs)
    return result, (time.perf_counter() - start) / calls


#: The shortest timed run (--min-run-ms): shorter calls are looped within a
#: run until it lasts this long.  One 20 µs call timed alone between calls of
#: other libraries measures the wake-up of thread pools gone to sleep, cache
#: misses on the inputs the other library evicted and perf_counter's own
#: resolution more than the call.
MIN_RUN_SECONDS = 2e-3


def calls_per_run(fn, inputs, first_call_seconds, min_run_seconds):
    """How many back-to-back calls of ``fn`` a timed run makes: the fewest
    of 1, 2, 5, 10, 20, 50, ... lasting ``min_run_seconds`` (as
    ``timeit.Timer.autorange``, with a shorter target), judged by the
    fastest of three calls after the warm-up.  The warm-up pays one-time
    costs (imgconv's plan, loading a kernel module, a peer's lazy
    initialisation) and any call may meet a stall of the machine (a thread
    waking on another core): either would leave a fast library timed one
    call at a time.  Only a warm-up far beyond the target skips the search."""
    if min_run_seconds <= 0 or first_call_seconds >= 50 * min_run_seconds:
        return 1
    fastest = min(_timed(fn, inputs, 1)[1] for _ in range(3))
    calls, steps, step = 1, (2, 2.5, 2), 0
    while fastest * calls < min_run_seconds:
        calls = int(calls * steps[step % 3])
        step += 1
    return calls


def run_workload(workload, n, rng, repeats, budget, min_run_seconds=MIN_RUN_SECONDS):
    """Time every available library on one workload.

    Each library first makes one warm-up call, whose result is checked against
    imgconv's.  Each timed run makes as many back-to-back calls as last
    ``min_run_seconds`` (:func:`calls_per_run`, found once per library
    after the warm-up; 0 times single calls) and records the time per
    call.  Timed runs go round-robin over the libraries (so load changes on
    the machine hit all of them alike), up to ``repeats`` each; a library
    stops early once its calls, warm-up included, have taken ``budget``
    seconds, keeping at least one timed run.

    Parameters
    ----------
    workload : Workload
    n : int
        Input size passed to ``workload.setup``.
    rng : numpy.random.Generator
    repeats : int
        Maximum number of timed runs per library.
    budget : float
        Seconds per library after which it stops repeating.
    min_run_seconds : float
        Shortest timed run.

    Returns
    -------
    dict
        ``workload``, ``times_s`` (per library, the time per call of each
        timed run), ``calls_per_run`` (per library), ``median_ms``,
        ``rel_diff`` (per peer) and ``errors`` (per library).
    """
    inputs = workload.setup(rng, n)
    runners = {lib: workload.runners[lib] for lib in LIBRARIES
               if lib in workload.runners and AVAILABLE[lib]}
    record = {"workload": workload.label(n), "times_s": {}, "median_ms": {},
              "rel_diff": {}, "errors": {}}

    # Warm-up and correctness check; imgconv first, it is the reference.
    spent = {}
    reference = None
    for lib in list(runners):
        try:
            result, spent[lib] = _timed(runners[lib], inputs)
        except Exception as exc:  # a peer failing must not end the benchmark
            if lib == REFERENCE:
                raise
            record["errors"][lib] = f"{type(exc).__name__}: {exc}"
            _warn(f"{record['workload']}: {lib} failed: {record['errors'][lib]}")
            del runners[lib]
            continue
        if lib == REFERENCE:
            reference = np.asarray(result)
            continue
        diff = relative_difference(result, reference)
        record["rel_diff"][lib] = diff if np.isfinite(diff) else None  # None: shape differs
        if not diff <= TOLERANCE:
            shape = np.shape(np.asarray(result))
            _warn(f"{record['workload']}: {lib} differs from imgconv "
                  f"(rel. max abs diff {diff:.2e}, shape {shape} vs {reference.shape})")
    reference = result = None  # free the warm-up outputs before timing

    calls = {lib: calls_per_run(runners[lib], inputs, spent[lib], min_run_seconds)
             for lib in runners}
    times = {lib: [] for lib in runners}
    for _ in range(repeats):
        active = [lib for lib in runners if not times[lib] or spent[lib] < budget]
        if not active:
            break
        for lib in active:
            _, seconds = _timed(runners[lib], inputs, calls[lib])
            times[lib].append(seconds)
            spent[lib] += seconds * calls[lib]

    record["times_s"] = times
    record["calls_per_run"] = calls
    record["median_ms"] = {lib: 1e3 * statistics.median(t) for lib, t in times.items()}
    return record


# --------------------------------------------------------------------------
# Environment and reporting
# --------------------------------------------------------------------------

def _warn(message):
    print(f"WARNING: {message}", file=sys.stderr, flush=True)


def cpu_model():
    """CPU model name from /proc/cpuinfo, else :func:`platform.processor`."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def set_threads(threads):
    """Use ``threads`` threads in imgconv, OpenCV and torch (scipy is serial)."""
    ic.set_num_threads(threads)
    if cv2 is not None:
        cv2.setNumThreads(threads)
    if torch is not None:
        torch.set_num_threads(threads)


def environment(threads, quick):
    """Metadata of this run: CPU, threads, kernel variant, library versions."""
    versions = {"imgconv": ic.__version__, "numpy": np.__version__}
    for lib, module in (("cv2", cv2), ("scipy", _optional_import("scipy")), ("torch", torch)):
        versions[lib] = getattr(module, "__version__", None) if module is not None else None
    return {
        "cpu": cpu_model(),
        "threads": threads,
        "kernel_variant": _dispatch.KERNEL_VARIANT,
        "openmp": ic.openmp_enabled(),
        "buffer_pool_bytes": ic.get_buffer_pool_limit(),
        "quick": quick,
        "python": platform.python_version(),
        "versions": versions,
    }


def _format_ms(ms):
    if ms is None:
        return "n/a"
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def _format_ratio(peer_ms, ref_ms):
    if peer_ms is None or not ref_ms:
        return "n/a"
    return f"{peer_ms / ref_ms:.2f}"


def _mismatched(record, lib):
    """True if ``lib``'s result failed the check against imgconv's."""
    diff = record["rel_diff"].get(lib, 0.0)
    return diff is None or diff > TOLERANCE


def markdown_table(records):
    """Markdown table of median times and peer/imgconv ratios.

    Times of a peer whose result differs from imgconv's are marked ``(!)``.
    """
    header = (["workload"] + [f"{lib} ms" for lib in LIBRARIES]
              + [f"{peer}/{REFERENCE}" for peer in PEERS])
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for record in records:
        median = record["median_ms"]
        ref = median.get(REFERENCE)
        cells = ([record["workload"]]
                 + [_format_ms(median.get(lib)) + (" (!)" if _mismatched(record, lib) else "")
                    for lib in LIBRARIES]
                 + [_format_ratio(median.get(peer), ref) for peer in PEERS])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs per library and workload (default 5, 3 with --quick)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds per library and workload after which it stops "
                             "repeating (default 10, 2 with --quick)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for imgconv, cv2 and torch (default: all cores)")
    parser.add_argument("--quick", action="store_true",
                        help="smaller inputs and fewer runs, for a smoke test")
    parser.add_argument("--only", metavar="SUBSTRING", default=None,
                        help="run only workloads whose name contains SUBSTRING")
    parser.add_argument("--sizes", metavar="N[,N...]", default=None,
                        help="run only workloads at these input sizes (e.g. 256,512)")
    parser.add_argument("--no-buffer-pool", action="store_true",
                        help="turn imgconv's buffer pool off, so that every result pays for "
                             "fresh pages as on a first call (the peers always do)")
    parser.add_argument("--min-run-ms", type=float, default=MIN_RUN_SECONDS * 1e3,
                        help="shortest timed run in ms: shorter calls are repeated back to "
                             "back within a run, and their time per call reported (default "
                             f"{MIN_RUN_SECONDS * 1e3:g}; 0 times single calls, each "
                             "between calls of the other libraries)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="also write raw results (all run times) to PATH")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    if args.budget is None:
        args.budget = 2.0 if args.quick else 10.0
    if args.sizes is not None:
        try:
            args.sizes = {int(n) for n in args.sizes.split(",")}
        except ValueError:
            parser.error(f"--sizes must be comma-separated ints, got {args.sizes!r}")
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.min_run_ms < 0:
        parser.error("--min-run-ms must be >= 0")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    ic.set_num_threads(args.threads)  # None: imgconv's default, all available cores
    threads = ic.get_num_threads()
    set_threads(threads)
    if args.no_buffer_pool:
        ic.set_buffer_pool_limit(0)
    env = environment(threads, args.quick)
    missing = [lib for lib in PEERS if not AVAILABLE[lib]]

    print(f"imgconv {env['versions']['imgconv']} | kernel variant: {env['kernel_variant']} "
          f"| threads: {threads} (scipy: 1) | CPU: {env['cpu']}"
          + (f" | missing peers: {', '.join(missing)}" if missing else ""))
    print(f"median of up to {args.repeats} runs after a warm-up, "
          f"≤{args.budget:g} s per library and workload, "
          + (f"calls repeated back to back within runs of ≥{args.min_run_ms:g} ms"
             if args.min_run_ms > 0 else "single calls")
          + (" | quick mode (smaller inputs)" if args.quick else "")
          + f" | imgconv buffer pool: {ic.get_buffer_pool_limit() >> 20} MiB", flush=True)

    rng = np.random.default_rng(args.seed)
    records = []
    for workload in WORKLOADS:
        n = workload.quick_size if args.quick else workload.size
        name = workload.label(n)
        if args.only is not None and args.only not in name:
            continue
        if args.sizes is not None and n not in args.sizes:
            continue
        print(f"  running {name} ...", file=sys.stderr, flush=True)
        records.append(run_workload(workload, n, rng, args.repeats, args.budget,
                                    args.min_run_ms / 1e3))

    if not records:
        print(f"no workload matches --only {args.only!r}", file=sys.stderr)
        return 1
    print()
    print(markdown_table(records))
    if any(_mismatched(record, lib) for record in records for lib in PEERS):
        print(f"\n(!) result differs from imgconv's by more than {TOLERANCE:g} "
              "relative (see the warnings above)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "repeats": args.repeats, "budget_s": args.budget,
                       "min_run_s": args.min_run_ms / 1e3,
                       "results": records}, f, indent=2, ensure_ascii=False)
        print(f"\nraw results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark imgconv.nn against torch's CPU build (issue 22's targets).

Each workload runs imgconv and torch alternately in one process (interleaved
rounds, so both see the same machine load), checks once that they agree, and
prints a Markdown table of median wall times, torch/imgconv ratios (> 1:
imgconv is faster) and the target.

Run it from the repository root (torch is needed, its CPU build is enough)::

    python benchmarks/nn.py                   # every workload, 2 threads
    python benchmarks/nn.py --rounds 9 --threads 2 --only depthwise
    python benchmarks/nn.py --quick           # smaller inputs, a smoke test

``--threads`` sets torch's threads, imgconv's kernels' threads and numpy's
BLAS threads (through ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``, which
must be set before numpy is imported: this script sets them first).
"""
import argparse
import os
import statistics
import sys
import time


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default="", help="run the workloads whose name has this")
    parser.add_argument("--quick", action="store_true", help="small inputs, 3 rounds")
    return parser.parse_args(argv)


ARGS = parse_args()
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(ARGS.threads)

import numpy as np  # noqa: E402  (after the thread variables)

import imgconv as ic  # noqa: E402
from imgconv import nn  # noqa: E402

try:
    import torch  # noqa: E402
    import torch.nn.functional as F  # noqa: E402
except ImportError:
    sys.exit("benchmarks/nn.py compares with torch: pip install torch (the CPU build)")


def workloads(quick):
    """(name, target text, target ratio, make) where make() returns the two
    callables (imgconv, torch), each giving a numpy array."""
    rng = np.random.default_rng(0)
    scale = 4 if quick else 1

    def normal(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    def same_call(name, x, w, **options):
        """The function ``name`` of imgconv.nn and of torch (same names and
        arguments) on the same arrays."""
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        return (lambda: getattr(nn, name)(x, w, **options),
                lambda: getattr(F, name)(xt, wt, **options).numpy())

    def conv2d():
        return same_call("conv2d", normal(8, 32, 128 // scale, 128 // scale),
                         normal(64, 32, 3, 3), padding=1)

    def depthwise():
        return same_call("conv2d", normal(8, 64, 128 // scale, 128 // scale),
                         normal(64, 1, 3, 3), padding=1, groups=64)

    def volume_bank():
        return same_call("conv3d", normal(1, 1, *(128 // scale,) * 3), normal(8, 1, 3, 3, 3),
                         padding=1)

    def transpose():
        return same_call("conv_transpose2d", normal(8, 64, 64 // scale, 64 // scale),
                         normal(64, 32, 4, 4), stride=2, padding=1)

    def weight_grad():
        x, w = normal(8, 32, 128 // scale, 128 // scale), normal(64, 32, 3, 3)
        gy = normal(8, 64, 128 // scale, 128 // scale)
        xt = torch.from_numpy(x).requires_grad_(False)
        wt = torch.from_numpy(w).requires_grad_(True)
        gyt = torch.from_numpy(gy)

        def torch_autograd():
            wt.grad = None
            F.conv2d(xt, wt, padding=1).backward(gyt)
            return wt.grad.numpy()

        return (lambda: nn.grad.conv2d_weight(x, w.shape, gy, padding=1), torch_autograd)

    return [
        ("conv2d N=8 32->64 3x3 128²", "within 1.2x (ratio >= 0.83)", 1 / 1.2, conv2d),
        ("depthwise conv2d N=8 C=64 3x3 128²", "2x faster (ratio >= 2)", 2.0, depthwise),
        ("conv3d N=1 1->8 3³ 128³", "3x faster (ratio >= 3)", 3.0, volume_bank),
        ("conv_transpose2d N=8 64->32 4x4 s2 64²", "within 1.2x (ratio >= 0.83)", 1 / 1.2,
         transpose),
        ("conv2d_weight grad (first workload)", "within 1.5x of autograd (ratio >= 0.67)",
         1 / 1.5, weight_grad),
    ]


def measure(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main():
    torch.set_num_threads(ARGS.threads)
    ic.set_num_threads(ARGS.threads)
    rounds = 3 if ARGS.quick else ARGS.rounds
    print(f"imgconv.nn vs torch {torch.__version__} (CPU), {ARGS.threads} threads, "
          f"medians of {rounds} interleaved rounds\n")
    print("| workload | imgconv ms | torch ms | torch / imgconv | target | met |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    for name, target_text, target, make in workloads(ARGS.quick):
        if ARGS.only and ARGS.only.lower() not in name.lower():
            continue
        ours, theirs = make()
        a, b = ours(), theirs()       # warm-up, and the check that both agree
        scale = max(1.0, float(np.abs(b).max()))
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-3, atol=1e-3 * scale):
            sys.exit(f"{name}: imgconv and torch disagree (max diff "
                     f"{np.abs(a - b).max() if a.shape == b.shape else a.shape})")
        ours_times, theirs_times = [], []
        for _ in range(rounds):
            ours_times.append(measure(ours))
            theirs_times.append(measure(theirs))
        t_ours, t_theirs = statistics.median(ours_times), statistics.median(theirs_times)
        ratio = t_theirs / t_ours
        print(f"| {name} | {t_ours * 1e3:.1f} | {t_theirs * 1e3:.1f} | {ratio:.2f} | "
              f"{target_text} | {'yes' if ratio >= target else 'no'} |", flush=True)


if __name__ == "__main__":
    main()

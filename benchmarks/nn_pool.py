"""Benchmark imgconv.nn pooling against torch.nn.functional (CPU).

Each row times imgconv and torch on the same float32 input in one process,
in interleaved rounds (imgconv, torch, imgconv, torch...), and prints the
median of each and the ratio torch / imgconv (> 1: imgconv is faster).
Both use the same number of threads.  Outputs are checked against each
other once before timing.

Run from the repository root::

    python benchmarks/nn_pool.py                 # 15 rounds
    python benchmarks/nn_pool.py --rounds 31 --threads 4
"""
import argparse
import statistics
import time

import numpy as np

import imgconv as ic
from imgconv import nn

try:
    import torch
    import torch.nn.functional as F
except ImportError:   # the imgconv times are still printed
    torch = F = None

N, C, H, W = 8, 64, 128, 128

#: (row name, imgconv call, torch call) on an (N, C, H, W) float32 input
ROWS = [
    ("max_pool2d 3x3 s2 p1", lambda x: nn.max_pool2d(x, 3, 2, 1),
     lambda t: F.max_pool2d(t, 3, 2, 1)),
    ("max_pool2d 3x3 s2 p1 +indices", lambda x: nn.max_pool2d(x, 3, 2, 1, return_indices=True)[0],
     lambda t: F.max_pool2d(t, 3, 2, 1, return_indices=True)[0]),
    ("avg_pool2d 2x2", lambda x: nn.avg_pool2d(x, 2), lambda t: F.avg_pool2d(t, 2)),
    ("adaptive_avg_pool2d -> 7x7", lambda x: nn.adaptive_avg_pool2d(x, 7),
     lambda t: F.adaptive_avg_pool2d(t, 7)),
    ("adaptive_max_pool2d -> 7x7", lambda x: nn.adaptive_max_pool2d(x, 7),
     lambda t: F.adaptive_max_pool2d(t, 7)),
    ("adaptive_max_pool2d -> 7x7 +indices",
     lambda x: nn.adaptive_max_pool2d(x, 7, return_indices=True)[1],
     lambda t: F.adaptive_max_pool2d(t, 7, return_indices=True)[1]),
    ("adaptive_avg_pool2d -> 8x8 (equal windows)", lambda x: nn.adaptive_avg_pool2d(x, 8),
     lambda t: F.adaptive_avg_pool2d(t, 8)),
    ("lp_pool2d p=2 2x2", lambda x: nn.lp_pool2d(x, 2, 2), lambda t: F.lp_pool2d(t, 2, 2)),
]


def _seconds(call, arg):
    start = time.perf_counter()
    call(arg)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both libraries (default: imgconv's default)")
    args = parser.parse_args()
    if args.threads is not None:
        ic.set_num_threads(args.threads)
    threads = ic.get_num_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    x = np.random.default_rng(0).standard_normal((N, C, H, W)).astype(np.float32)
    t = torch.from_numpy(x) if torch is not None else None
    print(f"input (N, C, H, W) = {x.shape} float32, {threads} threads, "
          f"{args.rounds} interleaved rounds, median ms\n")
    print(f"| {'workload':<44} | imgconv | torch | torch/imgconv |")
    print(f"|{'-' * 46}|---------|-------|---------------|")
    for name, ours, theirs in ROWS:
        if torch is not None:
            np.testing.assert_allclose(ours(x), theirs(t).numpy(), rtol=1e-5, atol=1e-5)
        ours(x)                       # warm-up: buffers, plans
        times = {"imgconv": [], "torch": []}
        for _ in range(args.rounds):
            times["imgconv"].append(_seconds(ours, x))
            if torch is not None:
                times["torch"].append(_seconds(theirs, t))
        mine = statistics.median(times["imgconv"]) * 1e3
        if torch is None:
            print(f"| {name:<44} | {mine:7.2f} |   n/a |           n/a |")
            continue
        peer = statistics.median(times["torch"]) * 1e3
        print(f"| {name:<44} | {mine:7.2f} | {peer:5.2f} | {peer / mine:13.2f} |")


if __name__ == "__main__":
    main()

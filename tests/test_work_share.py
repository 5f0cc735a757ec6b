"""How the parallel sweeps share their work units (pyx/work_share.h): every
unit is computed exactly once whatever order the threads take in, owners
keep contiguous ranges, and idle threads take over the rest."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from imgconv._dispatch import kernels


def covered(takes, nunits):
    counts = np.zeros(nunits, np.int64)
    for _, begin, end in takes:
        counts[begin:end] += 1
    return counts


@settings(max_examples=200, deadline=None)
@given(nunits=st.integers(1, 300), nthreads=st.integers(1, 9), piece=st.integers(1, 12),
       seed=st.integers(0, 2**32 - 1))
def test_every_unit_is_taken_exactly_once(nunits, nthreads, piece, seed):
    rng = np.random.default_rng(seed)
    # a random interleaving, long enough for the threads to run out of work
    order = list(rng.integers(0, nthreads, 4 * nunits + 4 * nthreads))
    order += [t for t in range(nthreads) for _ in range(nunits + 1)]
    takes = kernels.work_share_takes(nunits, nthreads, piece, order)
    found = [(t, b, e) for t, b, e in takes if e > b]
    assert all(0 <= b < e <= nunits for _, b, e in found)
    assert (covered(found, nunits) == 1).all()
    # once a thread finds nothing, no work is left for anyone
    first_empty = next((i for i, (_, b, e) in enumerate(takes) if e == b), len(takes))
    assert all(e == b for _, b, e in takes[first_empty:])


def test_owners_take_pieces_from_the_front_of_their_static_range():
    takes = kernels.work_share_takes(100, 4, 5, [0, 1, 2, 3, 0, 1])
    assert takes == [(0, 0, 5), (1, 25, 30), (2, 50, 55), (3, 75, 80), (0, 5, 10), (1, 30, 35)]


def test_an_idle_thread_takes_the_back_half_of_the_largest_range_left():
    # thread 1 finishes its range [50, 100) while thread 0 is still at 10
    takes = kernels.work_share_takes(100, 2, 10, [0] + [1] * 5 + [1, 1])
    assert takes[:6] == [(0, 0, 10), (1, 50, 60), (1, 60, 70), (1, 70, 80), (1, 80, 90),
                         (1, 90, 100)]
    # thread 0 has [10, 50) left: thread 1 takes [30, 50), ten at a time
    assert takes[6:] == [(1, 30, 40), (1, 40, 50)]
    # and thread 0 goes on with what is left of its own range
    rest = kernels.work_share_takes(100, 2, 10, [0] + [1] * 7 + [0, 0, 0, 0])
    assert rest[-4:] == [(0, 10, 20), (0, 20, 30), (0, 0, 0), (0, 0, 0)]


def test_threads_that_never_start_have_their_ranges_taken_over():
    # OpenMP may run fewer threads than asked: thread 0 alone does it all
    takes = kernels.work_share_takes(37, 6, 3, [0] * 40)
    found = [(t, b, e) for t, b, e in takes if e > b]
    assert (covered(found, 37) == 1).all()
    assert takes[-1] == (0, 0, 0)


def test_counts_beyond_32_bits_are_counted_in_grains():
    nunits = 3 * 2**32 + 5
    grain = nunits // (2**31 - 1) + 1       # so that the grains fit in 31 bits
    ngrains = -(-nunits // grain)
    takes = kernels.work_share_takes(nunits, 2, 1, [0, 1, 1, 0])
    assert takes == [(0, 0, grain), (1, ngrains // 2 * grain, (ngrains // 2 + 1) * grain),
                     (1, (ngrains // 2 + 1) * grain, (ngrains // 2 + 2) * grain),
                     (0, grain, 2 * grain)]
    # the last grain ends at the last unit
    last = kernels.work_share_takes(nunits, 1, ngrains * grain, [0])
    assert last == [(0, 0, nunits)]


@pytest.mark.parametrize("bad", [-1, 2])
def test_thread_ids_are_checked(bad):
    with pytest.raises(ValueError, match="thread id"):
        kernels.work_share_takes(10, 2, 1, [bad])

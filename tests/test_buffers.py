"""The buffer pool: imgconv's results come from it, freed ones are reused,
it keeps to its limit, and reuse never changes a result."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import imgconv as ic
from imgconv import _buffer_pool

get_handler_name = pytest.importorskip("numpy._core.multiarray").get_handler_name

MIB = 1 << 20


@pytest.fixture(autouse=True)
def fresh_pool():
    ic.set_buffer_pool_limit(256 * MIB)
    ic.free_buffer_pool()
    yield
    ic.set_buffer_pool_limit(None)


def block(nbytes):
    return _buffer_pool.empty(nbytes // 4, np.float32)


def test_results_come_from_the_pool_and_own_their_data():
    y = ic.box(np.ones((512, 600), np.float32), 3)
    assert get_handler_name(y) == _buffer_pool.HANDLER_NAME
    assert y.flags.owndata and y.flags.writeable and y.base is None
    assert y.ctypes.data % 64 == 0


def test_a_freed_result_is_reused_and_stale_values_never_show():
    x = np.random.default_rng(0).random((64, 64, 64), dtype=np.float32)
    w = np.random.default_rng(1).random((3, 3, 3), dtype=np.float32)
    expected = ic.correlate(x, w)
    address = expected.ctypes.data
    stale = ic.correlate(x, w)
    stale[...] = np.nan
    stale_address = stale.ctypes.data
    del stale
    again = ic.correlate(x, w)
    assert again.ctypes.data == stale_address != address
    np.testing.assert_array_equal(again, expected)


def test_the_pool_holds_freed_blocks_up_to_its_limit():
    ic.set_buffer_pool_limit(5 * MIB)
    a, b, c = block(2 * MIB), block(2 * MIB), block(2 * MIB)
    del a
    assert _buffer_pool.held_bytes() == 2 * MIB
    del b
    assert _buffer_pool.held_bytes() == 4 * MIB
    del c   # the oldest goes to make room
    assert _buffer_pool.held_bytes() == 4 * MIB
    big = block(6 * MIB)
    del big   # larger than the limit: freed
    assert _buffer_pool.held_bytes() == 4 * MIB


def test_at_most_16_blocks_are_held():
    blocks = [block(MIB) for _ in range(20)]
    del blocks
    assert _buffer_pool.held_bytes() == 16 * MIB


def test_small_arrays_are_not_held():
    small = block((64 << 10) - 64)
    del small
    assert _buffer_pool.held_bytes() == 0


def test_a_block_is_reused_only_with_little_waste():
    a = block(4 * MIB)
    address = a.ctypes.data
    del a
    b = block(3 * MIB)            # 4/3 of the size: not reused
    assert b.ctypes.data != address
    c = block(7 * MIB // 2)       # 8/7 of the size: reused
    assert c.ctypes.data == address


def test_limit_zero_turns_the_pool_off_and_frees_it():
    a = block(2 * MIB)
    del a
    assert _buffer_pool.held_bytes() == 2 * MIB
    ic.set_buffer_pool_limit(0)
    assert _buffer_pool.held_bytes() == 0
    y = ic.box(np.ones((512, 600), np.float32), 3)
    assert get_handler_name(y) != _buffer_pool.HANDLER_NAME
    del y
    assert _buffer_pool.held_bytes() == 0


def test_free_buffer_pool_keeps_the_limit():
    a = block(2 * MIB)
    del a
    assert ic.free_buffer_pool() == 2 * MIB
    assert _buffer_pool.held_bytes() == 0
    assert ic.get_buffer_pool_limit() == 256 * MIB


def test_free_buffer_pool_drops_the_fft_kernel_spectra():
    from imgconv import _fft
    rng = np.random.default_rng(3)
    image, kernel = rng.random((64, 64)), rng.random((31, 31))
    first = ic.correlate(image, kernel, method="fft")
    held = sum(a.nbytes for a in _fft._spectra.values())
    assert held > 0
    ic.free_buffer_pool()   # whatever the pool held besides
    assert not _fft._spectra
    np.testing.assert_array_equal(ic.correlate(image, kernel, method="fft"), first)
    assert ic.free_buffer_pool() >= held


def _volume_and_kernel(seed):
    rng = np.random.default_rng(seed)
    return rng.random((40, 128, 160), dtype=np.float32), rng.random((3, 3, 3), dtype=np.float32)


def test_kernel_scratch_is_kept_for_the_next_call():
    x, w = _volume_and_kernel(3)
    first = ic.correlate(x, w, threads=2)
    held = _buffer_pool.held_scratch_bytes()
    assert held >= 64 << 10                      # the row caches of the threads
    # reused, not allocated anew: a thread that joined late (a loaded
    # machine) takes no work and no scratch in the first call, but in all
    # the pool holds one scratch per thread at most
    for _ in range(3):
        again = ic.correlate(x, w, threads=2)
        np.testing.assert_array_equal(again, first)
        assert held <= _buffer_pool.held_scratch_bytes() <= 2 * held
    held = _buffer_pool.held_scratch_bytes()
    other, _ = _volume_and_kernel(4)          # what the reused scratch held never shows
    np.testing.assert_array_equal(ic.correlate(other, w, threads=2),
                                  ic.correlate(other.copy(), w, threads=1))
    assert ic.free_buffer_pool() >= held
    assert _buffer_pool.held_scratch_bytes() == 0


def test_kernel_scratch_keeps_to_the_limit():
    x, w = _volume_and_kernel(5)
    expected = ic.correlate(x, w)
    ic.set_buffer_pool_limit(0)
    assert _buffer_pool.held_scratch_bytes() == 0
    for f in (lambda: ic.correlate(x, w), lambda: ic.box(x, 5), lambda: ic.dilate(x, size=3), lambda: ic.max_pool(x, 2)):
        f()
        assert _buffer_pool.held_scratch_bytes() == 0
    np.testing.assert_array_equal(ic.correlate(x, w), expected)
    ic.set_buffer_pool_limit(100 << 10)          # room for one thread's scratch at most
    ic.correlate(x, w, threads=2)
    assert _buffer_pool.held_scratch_bytes() <= 100 << 10


def test_a_large_result_starts_half_a_page_from_its_input():
    base = np.zeros((1 << 20) + 4096, np.float32)
    for shift in (0, 16, 1000, 3000):      # bytes into a page, in steps of 4
        start = (-base.ctypes.data // 4 + shift // 4) % 1024
        x = base[start:start + (1 << 20)].reshape(64, 128, 128)
        for _ in range(2):                  # a fresh block, then a reused one
            y = ic.correlate(x, np.ones((3, 3, 3), np.float32))
            assert y.ctypes.data % 64 == 0
            assert (y.ctypes.data - x.ctypes.data) % 4096 in range(2048 - 63, 2049)
            np.testing.assert_array_equal(y, 0)
            del y
        d = ic.dilate(x, size=3)
        assert (d.ctypes.data - x.ctypes.data) % 4096 in range(2048 - 63, 2049)


def test_arrays_from_the_pool_resize_like_any_other():
    a = ic.box(np.arange(512 * 600, dtype=np.float32).reshape(512, 600), 1)
    expected = a.copy()
    a.resize((700, 600), refcheck=False)
    np.testing.assert_array_equal(a[:512], expected)
    a.resize((100, 600), refcheck=False)
    np.testing.assert_array_equal(a, expected[:100])
    del a


def test_threads_sharing_the_pool_get_correct_results():
    rng = np.random.default_rng(2)
    images = [rng.random((n, 700), dtype=np.float32) for n in (400, 401, 500)]
    expected = [ic.box(im, 5) for im in images]
    errors = []

    def work(seed):
        order = np.random.default_rng(seed).permutation(30) % len(images)
        for i in order:
            if not np.array_equal(ic.box(images[i], 5), expected[i]):
                errors.append(i)

    def churn():
        for limit in (0, 3 * MIB, 64 * MIB) * 10:
            ic.set_buffer_pool_limit(limit)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    threads.append(threading.Thread(target=churn))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.parametrize("value, error", [(-1, ValueError), (1.5, TypeError), ("1G", TypeError),
                                          (True, TypeError)])
def test_bad_limits_are_refused(value, error):
    with pytest.raises(error, match="nbytes"):
        ic.set_buffer_pool_limit(value)
    assert ic.get_buffer_pool_limit() == 256 * MIB


def _run_with_env(code, value, tmp_path):
    # not from the repository root, whose unbuilt imgconv/ would shadow the installed one
    env = {**os.environ, "IMGCONV_BUFFER_POOL_LIMIT": value}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=tmp_path)


@pytest.mark.parametrize("text, limit", [("0", 0), ("268435456", 256 * MIB), ("256M", 256 * MIB),
                                         ("2g", 2 << 30), ("64 MiB", 64 * MIB),
                                         ("1.5G", 3 << 29)])
def test_the_environment_variable_sets_the_default(text, limit, tmp_path):
    run = _run_with_env("import imgconv as ic; print(ic.get_buffer_pool_limit())", text, tmp_path)
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) == limit


def test_a_bad_environment_variable_is_ignored_with_a_warning(tmp_path):
    code = ("import numpy as np, imgconv as ic; ic.box(np.ones(9), 3); "
            "print(ic.get_buffer_pool_limit())")
    run = _run_with_env(code, "lots", tmp_path)
    assert run.returncode == 0, run.stderr
    assert "ignoring IMGCONV_BUFFER_POOL_LIMIT='lots'" in run.stderr
    assert 0 < int(run.stdout) <= 512 * MIB


def test_blocks_that_32_allocations_pass_by_are_dropped():
    kept = block(2 * MIB)
    del kept
    for _ in range(40):      # a stream of other sizes
        other = block(3 * MIB)
        del other
    assert _buffer_pool.held_bytes() == 3 * MIB


def test_a_block_shrunk_below_half_moves():
    a = block(8 * MIB)
    a[:10] = np.arange(10)
    a.resize(10, refcheck=False)
    np.testing.assert_array_equal(a, np.arange(10))
    assert _buffer_pool.held_bytes() == 8 * MIB     # the big block went back at once


def _box_sum(image):
    return float(ic.box(image, 3).sum())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_uses_the_pool_it_inherits():
    import multiprocessing

    image = np.ones((700, 700), np.float32)
    held = ic.box(image, 3)
    del held                                  # the child starts with a block in the pool
    with multiprocessing.get_context("fork").Pool(1) as workers:
        assert workers.map(_box_sum, [image, image]) == [700.0 * 700] * 2

"""Threading: results independent of the thread count, the thread-count policy,
and concurrent calls from several Python threads."""
import concurrent.futures
import os
import subprocess
import sys
import tempfile
import textwrap
import types

import numpy as np
import pytest

import imgconv as ic
from imgconv import _cpu
from imgconv import _threads

ENV = "IMGCONV_NUM_THREADS"


@pytest.fixture(autouse=True)
def _restore_default_threads(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    ic.set_num_threads(None)
    yield
    ic.set_num_threads(None)


@pytest.fixture
def spy(monkeypatch):
    """Record the thread count every call hands to the compiled kernel."""
    calls = []
    real = _cpu.kernels

    def correlate(*args):
        calls.append(args[-1])
        return real.correlate(*args)

    spied = types.SimpleNamespace(correlate=correlate)
    # the prepared calls use the module's kernels, the backend object its own
    monkeypatch.setattr(_cpu, "kernels", spied)
    monkeypatch.setattr(_cpu.CPU, "kernels", spied)
    return calls


def _available():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


# ---------------------------------------------------------------------------
# same results whatever the thread count
# ---------------------------------------------------------------------------
CASES = [
    # (shape, dtype, kernel shape, kwargs)
    ((512, 512), "float32", (3, 3), {}),
    ((512, 512), "uint8", (5, 5), {"dtype": "uint8", "mode": "wrap"}),
    ((600, 257), "float64", (4, 3), {"mode": "symmetric", "stride": (2, 3), "dilation": 2}),
    ((40, 48, 56), "int16", (3, 3, 3), {"mode": "zero", "cval": 7, "padding": "full"}),
    ((256, 256, 3), "uint16", (3, 3), {"channel_axis": -1, "mode": "replicate"}),
    ((200000,), "float32", (9,), {"mode": "reflect"}),
    ((7, 97, 103), "float32", (5, 5), {"channel_axis": 0, "padding": "valid"}),
]


@pytest.mark.parametrize("shape,dtype,kshape,kwargs", CASES)
def test_thread_count_does_not_change_result(shape, dtype, kshape, kwargs, spy, monkeypatch):
    # teams larger than the cores here too: the rows each thread gets must not matter
    monkeypatch.setattr(_threads, "max_team_size", lambda: 64)
    rng = np.random.default_rng(0)
    if np.dtype(dtype).kind == "f":
        x = rng.standard_normal(shape).astype(dtype)
    else:
        x = rng.integers(0, 200, shape).astype(dtype)
    w = rng.standard_normal(kshape)
    serial = ic.correlate(x, w, threads=1, **kwargs)
    assert spy[-1] == 1
    for n in (2, 3, 4):
        got = ic.correlate(x, w, threads=n, **kwargs)
        if ic.openmp_enabled():
            assert spy[-1] == n, "a large job should use every thread it asks for"
        assert got.dtype == serial.dtype
        # every output row is computed by the same code whichever thread runs it
        np.testing.assert_allclose(got, serial, rtol=1e-6 if got.dtype == np.float32 else 1e-14,
                                   atol=0)
        np.testing.assert_array_equal(got, serial)


def test_openmp_build():
    assert isinstance(ic.openmp_enabled(), bool)
    if not ic.openmp_enabled():
        pytest.skip("built without OpenMP: everything runs on one thread")
    from imgconv import _openmp
    assert _openmp.openmp_max_threads() >= 1


def test_small_jobs_use_one_thread(spy):
    x = np.ones((8, 8), np.float32)
    ic.correlate(x, np.ones((3, 3)), threads=4)
    assert spy[-1] == 1


def test_threads_none_uses_default(spy):
    x = np.ones((512, 512), np.float32)
    ic.set_num_threads(3)
    ic.correlate(x, np.ones((3, 3)))
    assert spy[-1] == (min(3, _threads.max_team_size()) if ic.openmp_enabled() else 1)
    # the call's threads= wins over set_num_threads
    ic.correlate(x, np.ones((3, 3)), threads=2)
    assert spy[-1] == (min(2, _threads.max_team_size()) if ic.openmp_enabled() else 1)
    ic.correlate(x, np.ones((3, 3)), threads=1)
    assert spy[-1] == 1


# ---------------------------------------------------------------------------
# policy: threads= > set_num_threads > IMGCONV_NUM_THREADS > cores
# ---------------------------------------------------------------------------
def test_default_is_available_cores():
    assert ic.get_num_threads() == _available()


def test_env_var(monkeypatch):
    monkeypatch.setenv(ENV, "3")
    assert ic.get_num_threads() == 3
    monkeypatch.setenv(ENV, " 5 ")
    assert ic.get_num_threads() == 5
    monkeypatch.setenv(ENV, "")
    assert ic.get_num_threads() == _available()


@pytest.mark.parametrize("own_dict", [True, False], ids=["environ-dict", "environ-get"])
def test_env_var_changes_hold_from_the_next_call(monkeypatch, own_dict, spy):
    """The value is parsed once per change, yet every change is seen: read
    from os.environ's dict (CPython) or through os.environ.get (others)."""
    if not own_dict:
        monkeypatch.setattr(_threads, "_ENV_DATA", None)
        monkeypatch.setattr(_threads, "_ENV_KEY", ENV)
    x = np.ones((512, 512), np.float32)
    cap = _threads.max_team_size() if ic.openmp_enabled() else 1
    for value, expected in [("1", 1), ("2", 2), ("1", 1), ("  ", _available()), ("3", 3)]:
        monkeypatch.setenv(ENV, value)
        assert ic.get_num_threads() == expected
        ic.correlate(x, np.ones((3, 3)))
        assert spy[-1] == min(expected, cap)
    for _ in range(2):      # a bad value raises on every call, not just the first
        monkeypatch.setenv(ENV, "0")
        with pytest.raises(ValueError, match=ENV):
            ic.get_num_threads()
    monkeypatch.setenv(ENV, "2")
    assert ic.get_num_threads() == 2
    monkeypatch.delenv(ENV)
    assert ic.get_num_threads() == _available()


def test_set_num_threads_beats_env(monkeypatch):
    monkeypatch.setenv(ENV, "3")
    ic.set_num_threads(2)
    assert ic.get_num_threads() == 2
    ic.set_num_threads(None)
    assert ic.get_num_threads() == 3
    ic.set_num_threads(np.int64(4))
    assert ic.get_num_threads() == 4


def test_call_argument_beats_everything(monkeypatch):
    monkeypatch.setenv(ENV, "3")
    ic.set_num_threads(2)
    cap = _threads.max_team_size() if ic.openmp_enabled() else 1
    assert _threads.resolve_threads(5) == min(5, cap)
    assert _threads.resolve_threads(None) == min(2, cap)


def test_team_capped_at_the_cores_this_process_may_use(spy, monkeypatch):
    """threads=10000 used to start 10000 OS threads (seconds of start-up on
    a large image); the team is capped at the usable cores, as OpenMP's own
    OMP_THREAD_LIMIT would."""
    cap = _available() if ic.openmp_enabled() else 1
    assert _threads.max_team_size() <= _available()
    assert _threads.resolve_threads(10000) == min(cap, _threads.max_team_size())
    x = np.random.default_rng(0).random((512, 512)).astype(np.float32)
    got = ic.correlate(x, np.ones((3, 3)), threads=10000)
    assert spy[-1] <= _available()
    np.testing.assert_array_equal(got, ic.correlate(x, np.ones((3, 3)), threads=1))
    # with fewer usable cores (an affinity mask), fewer threads
    monkeypatch.setattr(_threads, "_available_cores", lambda: 1)
    assert _threads.resolve_threads(10000) == 1
    assert ic.get_num_threads() == 1


@pytest.mark.skipif(not ic.openmp_enabled(), reason="built without OpenMP")
def test_team_capped_at_openmp_thread_limit():
    code = ("from imgconv import _threads; "
            "print(_threads.resolve_threads(64), _threads.max_team_size())")
    parent = os.path.dirname(os.path.dirname(os.path.abspath(ic.__file__)))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tempfile.gettempdir(), timeout=60,
                          env={**os.environ, "PYTHONPATH": parent, "OMP_THREAD_LIMIT": "1"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "1"]


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "two"])
def test_invalid_env_var(monkeypatch, value):
    monkeypatch.setenv(ENV, value)
    with pytest.raises(ValueError, match=ENV):
        ic.get_num_threads()
    with pytest.raises(ValueError, match=ENV):
        ic.correlate(np.ones((4, 4)), np.ones((3, 3)))
    # an explicit count does not consult the environment
    ic.correlate(np.ones((4, 4)), np.ones((3, 3)), threads=1)
    ic.set_num_threads(2)
    assert ic.get_num_threads() == 2


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-1, ValueError), (-8, ValueError),
                                     (1.5, TypeError), (2.0, TypeError), (True, TypeError),
                                     (False, TypeError), ("2", TypeError), ([2], TypeError)])
def test_invalid_threads_argument(bad, exc):
    x = np.ones((6, 6), np.float32)
    with pytest.raises(exc, match="threads"):
        ic.correlate(x, np.ones((3, 3)), threads=bad)
    with pytest.raises(exc, match="threads"):
        ic.convolve(x, np.ones((3, 3)), threads=bad)


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                     (True, TypeError), ("4", TypeError)])
def test_invalid_set_num_threads(bad, exc):
    ic.set_num_threads(3)
    with pytest.raises(exc):
        ic.set_num_threads(bad)
    assert ic.get_num_threads() == 3  # a rejected value leaves the setting alone


def test_numpy_integer_threads():
    x = np.ones((64, 64), np.float32)
    np.testing.assert_array_equal(ic.correlate(x, np.ones((3, 3)), threads=np.int32(2)),
                                  ic.correlate(x, np.ones((3, 3)), threads=1))


# ---------------------------------------------------------------------------
# concurrent calls
# ---------------------------------------------------------------------------
def test_concurrent_calls_from_python_threads():
    rng = np.random.default_rng(1)
    jobs = []
    for i in range(16):
        shape = [(384, 320), (64, 70, 3), (48, 40, 36), (100000,)][i % 4]
        kw = [{}, {"channel_axis": -1, "mode": "wrap"}, {"mode": "zero", "stride": 2},
              {"dtype": "int16", "dilation": 3}][i % 4]
        x = (rng.standard_normal(shape) * 100).astype(["float32", "float64"][i % 2])
        w = rng.standard_normal([(3, 3), (3, 5), (3, 3, 3), (7,)][i % 4])
        jobs.append((x, w, kw))
    expected = [ic.correlate(x, w, threads=1, **kw) for x, w, kw in jobs]

    def run(job):
        x, w, kw = job
        return ic.correlate(x, w, threads=2, **kw)

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for rep in range(2):
            results = list(pool.map(run, jobs))
            for got, want in zip(results, expected):
                np.testing.assert_array_equal(got, want)


def test_concurrent_calls_with_out_and_default_threads():
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((256, 256)).astype(np.float32) for _ in range(8)]
    w = rng.standard_normal((5, 5))
    expected = [ic.correlate(x, w, threads=1) for x in xs]
    outs = [np.empty_like(x) for x in xs]
    ic.set_num_threads(2)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(ic.correlate, x, w, out=o) for x, o in zip(xs, outs)]
        for f, o in zip(futures, outs):
            assert f.result() is o
    for o, want in zip(outs, expected):
        np.testing.assert_array_equal(o, want)


# ---------------------------------------------------------------------------
# the OpenMP runtime may grant fewer threads than asked for
# ---------------------------------------------------------------------------
@pytest.mark.skipif(not ic.openmp_enabled(), reason="built without OpenMP")
@pytest.mark.parametrize("env", [{"OMP_THREAD_LIMIT": "1"}, {"OMP_THREAD_LIMIT": "2"}])
def test_result_correct_when_openmp_grants_fewer_threads(env):
    """OMP_THREAD_LIMIT (common on shared clusters) caps the team size below the
    requested ``threads=``; every output row must still be computed."""
    code = textwrap.dedent("""
        import numpy as np, imgconv as ic
        rng = np.random.default_rng(0)
        x = rng.standard_normal((512, 512)).astype(np.float32)
        v = rng.standard_normal((40, 48, 56)).astype(np.float32)
        calls = [  # one per parallel sweep
            lambda t: ic.correlate(x, np.ones((3, 3)), threads=t),
            lambda t: ic.gaussian(v, 1.5, threads=t),
            lambda t: ic.box(x, 5, threads=t),
            lambda t: ic.dilate(x, size=5, threads=t),
            lambda t: ic.dilate(v, footprint=np.eye(3, dtype=bool)[None], threads=t),
            lambda t: ic.max_pool(v, 2, threads=t),
            lambda t: ic.avg_pool(v, 2, threads=t),
        ]
        print(max(float(np.abs(f(4).astype(float) - f(1)).max()) for f in calls))
    """)
    parent = os.path.dirname(os.path.dirname(os.path.abspath(ic.__file__)))
    pythonpath = os.pathsep.join([parent] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tempfile.gettempdir(), timeout=60,
                          env={**os.environ, "PYTHONPATH": pythonpath, **env})
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout.strip()) == 0.0, (
        f"with {env} and threads=4, rows assigned to threads the runtime did not start "
        f"are left unwritten (max difference {proc.stdout.strip()})")


def _threads_and_result(image):
    return _threads.resolve_threads(2, work=image.size * 9), ic.correlate(image, np.ones((3, 3)),
                                                                           threads=2)


@pytest.mark.skipif(not hasattr(os, "fork") or not ic.openmp_enabled(),
                    reason="needs fork and an OpenMP build")
def test_a_child_forked_after_a_threaded_call_runs_serially_and_finishes():
    # GNU OpenMP's team does not survive fork: the child's first team would hang
    import multiprocessing

    image = np.random.default_rng(0).random((512, 512), dtype=np.float32)
    expected = ic.correlate(image, np.ones((3, 3)), threads=2)
    with multiprocessing.get_context("fork").Pool(1) as workers:
        threads, got = workers.apply_async(_threads_and_result, (image,)).get(timeout=120)
    assert threads == 1
    np.testing.assert_array_equal(got, expected)
    assert _threads.resolve_threads(2, work=image.size * 9) == 2   # the parent keeps its team


def test_kept_thread_pool_grows_is_reused_and_is_new_after_fork():
    import os
    import threading

    from imgconv._threads import KeptThreadPool

    seen = []
    pool = KeptThreadPool("imgconv-test", initializer=lambda: seen.append(1))
    first = pool.get(1)
    assert pool.get(1) is first                      # kept between calls
    assert first.submit(threading.current_thread).result().name.startswith("imgconv-test")
    grown = pool.get(2)
    assert grown is not first and pool.get(2) is grown and pool.get(1) is grown
    names = {grown.submit(lambda: threading.current_thread().name).result() for _ in range(4)}
    assert all(name.startswith("imgconv-test") for name in names) and seen
    if not hasattr(os, "fork"):
        return
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: the parent's threads do not exist here
        ok = False
        try:
            child = pool.get(2)
            ok = child is not grown and child.submit(lambda: 7).result(timeout=10) == 7
        finally:
            os.write(write, b"1" if ok else b"0")
            os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)

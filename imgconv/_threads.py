"""The one place that decides how many threads a kernel uses.

Priority: the call's ``threads=`` > :func:`set_num_threads` >
the ``IMGCONV_NUM_THREADS`` environment variable > all cores available to
this process.  Whatever is asked for, a team never has more threads than
the cores this process may run on (``os.sched_getaffinity``) or OpenMP's
thread limit (``OMP_THREAD_LIMIT``): more would only take turns on the same
cores, and starting them costs more than the work.  Builds without OpenMP
always run on one thread.
"""
import functools
import os
import threading

from ._compiled import load
from ._validate import as_int

_openmp = load("_openmp")

__all__ = ["set_num_threads", "get_num_threads", "resolve_threads", "openmp_enabled"]

_ENV_VAR = "IMGCONV_NUM_THREADS"
_default_threads = None


def openmp_enabled():
    """True if imgconv's kernels were compiled with OpenMP (else they run serially).

    Examples
    --------
    >>> import imgconv as ic
    >>> ic.openmp_enabled() in (True, False)
    True
    """
    return _OPENMP_BUILD


# both fixed for the process (OMP_THREAD_LIMIT is read when OpenMP starts):
# asked once, not on every call that may start a team (~0.5 us of two calls)
_OPENMP_BUILD = bool(_openmp.openmp_enabled())
_OPENMP_THREAD_LIMIT = _openmp.openmp_thread_limit()


@functools.lru_cache(maxsize=None)
def _available_cores():
    # read once, as OpenMP reads its default: the system call cost more than
    # the rest of a small call's thread choice
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _as_thread_count(value, name):
    n = as_int(value, name, "a positive integer or None")
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    return n


def set_num_threads(n):
    """Set the default number of threads for imgconv's kernels.

    Parameters
    ----------
    n : int or None
        Number of threads (>= 1); ``None`` restores the default (the
        ``IMGCONV_NUM_THREADS`` environment variable, else all cores).  A
        call still never starts more threads than the cores this process
        may use or OpenMP's ``OMP_THREAD_LIMIT`` (see :func:`max_team_size`).

    Examples
    --------
    >>> import imgconv as ic
    >>> ic.set_num_threads(1)
    >>> ic.get_num_threads()
    1
    >>> ic.set_num_threads(None)
    """
    global _default_threads
    _default_threads = None if n is None else _as_thread_count(n, "n")


def get_num_threads():
    """The number of threads a call with ``threads=None`` uses.

    Examples
    --------
    >>> import imgconv as ic
    >>> ic.get_num_threads() >= 1
    True
    """
    if _default_threads is not None:
        return _default_threads
    raw = _ENV_DATA.get(_ENV_KEY) if _ENV_DATA is not None else os.environ.get(_ENV_VAR)
    if raw is None:
        return _available_cores()
    global _env_parsed
    parsed = _env_parsed
    if raw != parsed[0]:
        parsed = _env_parsed = raw, _threads_from_environment(raw)
    return parsed[1] or _available_cores()


# The environment is read on every call (a change of IMGCONV_NUM_THREADS
# holds from the next call on), but from os.environ's own dict, which CPython
# keeps in step with os.environ, under the key encoded once: os.environ.get
# encodes the key on every call, which with parsing the value each time was
# ~2 us of a 16² call's ~8.  The value is parsed only when it changes.
if hasattr(os.environ, "encodekey") and type(getattr(os.environ, "_data", None)) is dict:
    _ENV_DATA, _ENV_KEY = os.environ._data, os.environ.encodekey(_ENV_VAR)
else:   # another Python: the public, slower lookup
    _ENV_DATA, _ENV_KEY = None, _ENV_VAR

#: (the value of IMGCONV_NUM_THREADS last parsed, its thread count or None
#: for a blank value); a value that does not parse is never stored
_env_parsed = (None, None)


def _threads_from_environment(raw):
    """The thread count that IMGCONV_NUM_THREADS's value ``raw`` (as
    os.environ stores it) asks for; None when blank."""
    env = (os.fsdecode(raw) if isinstance(raw, bytes) else raw).strip()
    if not env:
        return None
    try:
        return _as_thread_count(int(env), _ENV_VAR)
    except (TypeError, ValueError):
        raise ValueError(f"{_ENV_VAR} must be a positive integer, got {env!r}") from None


# GNU OpenMP's thread pool does not survive fork(): in a child forked after
# the parent ran a team (multiprocessing's default on Linux), the next team
# waits forever for threads that were not copied.  Such children run serially.
_team_started = False
_forked_after_team = False


def _after_fork_in_child():
    global _forked_after_team
    _forked_after_team = _forked_after_team or _team_started


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def max_team_size():
    """The most threads a team gets: the cores this process may use, and no
    more than OpenMP's thread limit (``OMP_THREAD_LIMIT``)."""
    return max(1, min(_available_cores(), _OPENMP_THREAD_LIMIT))


#: Work units (about one multiply-add each) per thread, at least: on a quiet
#: 2-core machine 2 threads made a 96² 3×3 correlation (83k units) slower
#: (40 vs 23 µs) and a 64² Gaussian σ=1 (73k) no faster, a 128² 3×3 (147k)
#: faster (19 vs 28 µs); on a loaded one every team start risks waiting
#: milliseconds for a descheduled thread (1000 64² Gaussians: 5 s), a risk
#: only worth a real gain.  Was 32768.
WORK_PER_THREAD = 1 << 16


def resolve_threads(threads, work=None):
    """Threads for one call: ``threads=`` or the default, capped at
    :func:`max_team_size`, and no more than ``work // WORK_PER_THREAD`` (small
    jobs are not worth waking a thread team for); one in a process forked
    after imgconv ran threads (see above)."""
    global _team_started
    n = get_num_threads() if threads is None else _as_thread_count(threads, "threads")
    if work is not None and work < 2 * WORK_PER_THREAD:
        # one thread whatever the rest says (after get_num_threads, so that
        # a bad IMGCONV_NUM_THREADS is reported by small calls too)
        return 1
    if not _OPENMP_BUILD or _forked_after_team:
        return 1
    n = min(n, max_team_size())
    if work is not None:
        n = max(1, min(n, work // WORK_PER_THREAD))
    _team_started = _team_started or n > 1
    return n


class KeptThreadPool:
    """A thread pool of Python threads kept between calls, for the work that
    imgconv spreads over threads from Python (the FFT's tiles, the nn
    layer's matrix products): starting threads took a tenth of a 256**2
    correlation.  :meth:`get` grows it on demand and makes a new one in a
    forked child, where the parent's threads do not exist.

    Parameters
    ----------
    name : str
        Prefix of its threads' names.
    initializer : callable, optional
        Run once in each new thread.
    """

    def __init__(self, name, initializer=None):
        self._name, self._initializer = name, initializer
        self._lock = threading.Lock()
        self._pool = None
        self._owner = None      # (pid, size) of the process that made _pool

    def get(self, size):
        """The pool, with at least ``size`` threads."""
        from concurrent.futures import ThreadPoolExecutor
        with self._lock:
            pid = os.getpid()
            if self._pool is None or self._owner[0] != pid or self._owner[1] < size:
                if self._pool is not None and self._owner[0] == pid:
                    self._pool.shutdown(wait=False)
                self._pool = ThreadPoolExecutor(size, thread_name_prefix=self._name,
                                                initializer=self._initializer)
                self._owner = (pid, size)
            return self._pool

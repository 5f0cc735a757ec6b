"""``--chunks`` and ``--scheduler``: where a chunked run computes, and its
progress bar (dask's tasks, on the local schedulers)."""
import contextlib
import sys

from ._options import UsageError, UserError

LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")


def check_options(args):
    """Usage errors of ``--chunks``/``--scheduler``, before any file is read."""
    chunks = getattr(args, "chunks", None)
    scheduler = getattr(args, "scheduler", None)
    if chunks is None:
        if scheduler is not None:
            raise UsageError("--scheduler applies to chunked runs: add --chunks N")
        return
    if any(n < 1 for n in (chunks if isinstance(chunks, tuple) else (chunks,))):
        raise UsageError(f"--chunks: expected positive sizes, got {chunks}")
    if args.backend != "cpu":
        raise UsageError(f"--chunks runs on dask's workers with the CPU kernels; "
                         f"--backend {args.backend} does not combine with it")
    if scheduler is not None and scheduler not in LOCAL_SCHEDULERS and "://" not in scheduler:
        raise UsageError(f"--scheduler: expected threads, processes or an address such as "
                         f"tcp://127.0.0.1:8786, got {scheduler!r}")
    try:
        import dask.array  # noqa: F401
    except ImportError:
        raise UserError("--chunks needs dask: pip install 'imgconv[dask]'") from None


@contextlib.contextmanager
def scheduler(args):
    """Run what the block computes on ``--scheduler`` (nothing to set up
    without ``--chunks``)."""
    if getattr(args, "chunks", None) is None:
        yield
        return
    import dask

    name = args.scheduler or "threads"
    if name in LOCAL_SCHEDULERS:
        with dask.config.set(scheduler=name):
            yield
        return
    try:
        from distributed import Client
    except ImportError:
        raise UserError(f"--scheduler {name}: a cluster needs dask.distributed: "
                        "pip install 'imgconv[dask]'") from None
    try:
        client = Client(name, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise UserError(f"--scheduler {name}: cannot reach the scheduler ({exc})") from None
    with client:
        yield


@contextlib.contextmanager
def progress(report, description):
    """A bar of dask's finished tasks while the block computes, where the
    report shows bars (a terminal, no --quiet) and the scheduler is local
    (a cluster shows its progress on its dashboard)."""
    if not report._bar_wanted():
        yield
        return
    try:
        from dask.callbacks import Callback
        from tqdm import tqdm
    except ImportError:
        yield
        return

    class TaskBar(Callback):
        def _start_state(self, dsk, state):
            self.bar = tqdm(total=sum(len(state[k]) for k in ("ready", "waiting", "running")),
                            desc=description, unit="task", file=sys.stderr, leave=False,
                            dynamic_ncols=True)

        def _posttask(self, key, result, dsk, state, worker_id):
            self.bar.update(1)

        def _finish(self, dsk, state, errored):
            self.bar.close()

    with TaskBar():
        yield

"""Running one command over many files: inputs and globs, output paths,
overwrite protection, progress, and the end-of-batch report."""
import glob
import os
import re
import sys
import time
from typing import NamedTuple

from ._options import UserError

_GLOB_CHARS = re.compile(r"[*?\[]")


class Input(NamedTuple):
    path: str
    root: str   # the folder its place under --outdir is relative to


# --------------------------------------------------------------------------
# Inputs and outputs
# --------------------------------------------------------------------------
def _glob_base(pattern):
    """The folder before the first wildcard: 'data/**/*.png' -> 'data'."""
    head = _GLOB_CHARS.split(pattern, 1)[0]
    return os.path.dirname(head) or "."


def expand_inputs(patterns):
    """Input paths, with wildcards expanded here (for shells that do not, or
    quoted patterns; '**' spans folders).  A pattern keeps only the files
    with an image extension it matches and must match at least one; a plain
    path is kept as given (a missing one fails when it is read)."""
    from .._io import EXTENSIONS, split_extension

    found, bases, seen = [], [], set()
    for pattern in patterns:
        if os.path.exists(pattern) or not _GLOB_CHARS.search(pattern):
            paths = [pattern]
        else:
            paths = [p for p in sorted(glob.glob(pattern, recursive=True))
                     if os.path.isfile(p) and split_extension(p)[1].lower() in EXTENSIONS]
            if not paths:
                raise UserError(f"{pattern}: matches no image files")
            bases.append(os.path.abspath(_glob_base(pattern)))
        for path in paths:
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                found.append(path)
    folders = [os.path.dirname(os.path.abspath(p)) for p in found] + bases
    root = os.path.commonpath(folders) if folders else os.getcwd()
    return [Input(p, root) for p in found]


def output_path(item, suffix, output=None, outdir=None):
    """``-o`` as given; else ``<stem>_<suffix><ext>`` beside the input or,
    with ``--outdir``, at the input's place relative to the inputs' common
    folder."""
    from .._io import split_extension

    if output:
        return output
    stem, ext = split_extension(os.path.basename(item.path))
    name = f"{stem}_{suffix}{ext}"
    if outdir is None:
        return os.path.join(os.path.dirname(item.path), name)
    relative = os.path.relpath(os.path.dirname(os.path.abspath(item.path)), item.root)
    return os.path.normpath(os.path.join(outdir, relative, name))


def same_file(a, b):
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


# --------------------------------------------------------------------------
# Messages and progress
# --------------------------------------------------------------------------
class Reporter:
    """stdout: the paths written (one a line, for scripts); stderr: errors, the
    batch summary, -v details and the progress bar.  The bar (tqdm) shows on
    batches and volumes only when stderr is a terminal and not with --quiet."""

    def __init__(self, quiet=False, verbose=False, batch=False, steps_per_file=1, files=1):
        self.quiet = quiet
        self.verbose = verbose
        self.batch = batch
        self.steps_per_file = steps_per_file
        self.total = steps_per_file * files
        self.bar = None
        self.counts = {"written": 0, "skipped": 0, "failed": 0}

    def _bar_wanted(self):
        return not self.quiet and sys.stderr.isatty()

    def start_bar(self, description):
        """Show the bar (from the first file of a batch, or the first volume)."""
        if self.bar is not None or not self._bar_wanted():
            return
        try:
            from tqdm import tqdm
        except ImportError:  # the bar is a nicety: no tqdm, no bar
            return
        self.bar = tqdm(total=self.total, desc=description, unit="step", file=sys.stderr,
                        leave=False, dynamic_ncols=True)

    def step(self, description=None):
        if self.bar is not None:
            if description:
                self.bar.set_description(description, refresh=False)
            self.bar.update(1)

    def file_done(self, index):
        """Move the bar to the end of file ``index`` (also when it failed or was skipped)."""
        if self.bar is not None:
            self.bar.update((index + 1) * self.steps_per_file - self.bar.n)

    def error(self, text):
        self._stderr(f"imgconv: error: {text}")

    def notice(self, text):
        self._stderr(f"imgconv: {text}")

    def info(self, text):
        if self.verbose:
            self._stderr(f"imgconv: {text}")

    def written(self, path):
        self.counts["written"] += 1
        if not self.quiet:
            if self.bar is not None:
                self.bar.clear()
            print(path, flush=True)

    def _stderr(self, text):
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def summary(self):
        c = self.counts
        if self.batch and not (self.quiet and not c["failed"]):
            self._stderr(f"imgconv: {c['written']} written, {c['skipped']} skipped "
                         f"(existing output), {c['failed']} failed")


class Timer:
    """Wall time of a block, in milliseconds."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.ms = (time.perf_counter() - self.start) * 1e3

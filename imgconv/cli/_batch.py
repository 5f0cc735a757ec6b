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


def expand_inputs(patterns, outdir=None):
    """The inputs, with wildcards expanded here (for shells that do not, or
    quoted patterns; '**' spans folders), and the files left out.  A pattern
    keeps the files with an image extension it matches, except those in
    ``outdir``: they are results, and a run repeated would otherwise filter
    the first run's outputs again (out/a_gaussian_gaussian.png).  A pattern
    must match at least one file it keeps; a plain path is kept as given,
    wherever it lies (a missing one fails when it is read)."""
    found, bases, seen, left_out = [], [], set(), []
    for pattern in patterns:
        if os.path.exists(pattern) or not _GLOB_CHARS.search(pattern):
            paths = [pattern]
        else:
            paths, inside = _glob_images(pattern, outdir)
            left_out += inside
            bases.append(os.path.abspath(_glob_base(pattern)))
        for path in paths:
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                found.append(path)
    folders = [os.path.dirname(os.path.abspath(p)) for p in found] + bases
    root = os.path.commonpath(folders) if folders else os.getcwd()
    # a file left out by a pattern but named on its own is an input all the same
    left_out = [p for p in left_out if os.path.realpath(p) not in seen]
    return [Input(p, root) for p in found], left_out


def _glob_images(pattern, outdir):
    """The image files ``pattern`` matches outside the folder ``outdir``, and those in it."""
    from .._io import EXTENSIONS, split_extension

    matches = [p for p in sorted(glob.glob(pattern, recursive=True))
               if os.path.isfile(p) and split_extension(p)[1].lower() in EXTENSIONS]
    if not matches:
        raise UserError(f"{pattern}: matches no image files")
    results = outdir and _spellings(outdir)
    kept, inside = [], []
    for path in matches:
        (inside if results and _lies_in(path, results) else kept).append(path)
    if not kept:
        raise UserError(f"{pattern}: matches only files in --outdir {outdir}, which holds "
                        "results, not inputs (name such a file on its own to process it)")
    return kept, inside


def _spellings(path):
    """``path`` absolute, and with its symbolic links resolved: a file lies in a
    folder when either spelling does (an outdir reached through a link, or a
    link inside it)."""
    return os.path.abspath(path), os.path.realpath(path)


def _lies_in(path, folder_spellings):
    return any(os.path.commonpath([p, f]) == f
               for p, f in zip(_spellings(path), folder_spellings))


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


def check_outdir(outdir):
    """Refuse an ``--outdir`` that is, or lies inside, something other than a
    folder before any input is read: the folders are made only when the first
    result is written, after all of its filtering ('File exists' there)."""
    path = os.path.abspath(outdir)
    while not os.path.isdir(path):
        if os.path.lexists(path):
            where = "" if path == os.path.abspath(outdir) else f" {path}"
            raise UserError(f"--outdir {outdir}:{where} exists and is not a folder")
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


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

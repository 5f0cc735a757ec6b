"""The ``imgconv`` command line (console script ``imgconv``, also ``python -m imgconv``).

    imgconv filter INPUT... [-o OUT | --outdir DIR] [-f NAME[:k=v,...]]... [--kernel SPEC|FILE]
    imgconv pool INPUT... --size K [--op max|avg|min|lp] ...
    imgconv morph OP INPUT... [--footprint box:5|disk:3|ball:2|cross:1|FILE] ...
    imgconv info FILE...
    imgconv filters

Exit status: 0 success, 1 a file or value could not be processed, 2 a usage
error (argparse), 130 interrupted (Ctrl-C), 128 + N stopped by signal N
(143 for SIGTERM), 141 (SIGPIPE's) when the reader of stdout has gone
(``imgconv info FILE | head -1``).  Errors are one line on stderr; ``--debug``
shows tracebacks.
This module imports no numpy: ``--help``, ``--version`` and ``filters``
answer at once; the commands load the library when they run.
"""
import argparse
import os
import signal
import sys

from . import _options as opt
from ._chain import DEFAULT_FILTER, describe_filters
from .._compiled import NotBuiltError
from ._options import UsageError, UserError

__all__ = ["main", "build_parser"]


def _positive_int(text):
    try:
        value = opt.integer(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _typed(parse):
    """An argparse type from an _options parser: bad text is a usage error."""
    def convert(text):
        try:
            return parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {opt.describe(parse)}, got {text!r}") from None
    convert.__name__ = parse.__name__
    return convert


# --------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------
def _common_options():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an error")
    return common


def _batch_options(common):
    """Inputs, outputs and the options every array-producing command shares."""
    batch = argparse.ArgumentParser(add_help=False, parents=[common])
    where = batch.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="OUT",
                       help="output file (one input only; its extension picks the format)")
    where.add_argument("--outdir", metavar="DIR",
                       help="write results here, keeping the inputs' folder tree below their "
                            "common folder (default: beside each input); globs leave out the "
                            "files in DIR, which are results")
    batch.add_argument("--overwrite", action="store_true",
                       help="replace existing output files (never an input)")
    batch.add_argument("--dtype", choices=opt.DTYPES, metavar="T",
                       help=f"output dtype: {', '.join(opt.DTYPES)} (default: the result's own "
                            "for TIFF/.npy/NIfTI, float32 for filters; the input's uint8/uint16 "
                            "for PNG/JPEG/BMP)")
    batch.add_argument("--output-range", choices=opt.OUTPUT_RANGES, metavar="R",
                       help="how float results become integers: clip (round and saturate), "
                            "rescale (min..max to the full range), abs (|x|, then clip); "
                            "default for PNG/JPEG/BMP by the result: clip for smoothing, "
                            "rescale for signed derivatives, abs for gradient magnitudes; "
                            "without it or --dtype, a uint16 input in an 8-bit format has "
                            "its range mapped onto 8 bits (65535 -> 255) first")
    axes = batch.add_mutually_exclusive_group()
    axes.add_argument("--axes", type=_typed(opt.integers), metavar="A,B",
                      help="array axes to filter, e.g. 1,2 (the rest are filtered "
                           "independently)")
    axes.add_argument("--slicewise", action="store_true",
                      help="filter a volume slice by slice in 2D (its last two spatial axes)")
    batch.add_argument("--mode", type=_typed(opt.modes), metavar="M",
                       help="boundary mode, or one per filtered axis (wrap,reflect): "
                            "reflect (c b | a b c d | c b, scipy's 'mirror'), "
                            "symmetric, replicate, wrap, zero (with --cval), or an alias ("
                            + ", ".join(m for m in opt.MODES if m not in (
                                "reflect", "symmetric", "replicate", "wrap", "zero"))
                            + "); default: reflect for filter, zero (torch's padding) for "
                            "pool, the value that never wins for morph")
    batch.add_argument("--threads", type=_positive_int, metavar="N",
                       help="CPU threads (default: all cores)")
    batch.add_argument("--backend", choices=("cpu", "cuda"), default="cpu",
                       help="where filters run: cpu (default) or cuda (an NVIDIA GPU through "
                            "CuPy: pip install imgconv[cuda]; files are read and written on "
                            "the host)")
    batch.add_argument("--chunks", type=_typed(opt.integers), metavar="N",
                       help="run chunked on dask (pip install imgconv[dask]): read the input "
                            "in chunks of N samples per axis (or NxMxK per axis), filter "
                            "them lazily with exact halos and write the result chunk by "
                            "chunk (.npy, .zarr or TIFF), so a volume larger than memory fits")
    batch.add_argument("--scheduler", metavar="S",
                       help="with --chunks: threads (default), processes, or the address of a "
                            "dask.distributed scheduler (tcp://HOST:PORT)")
    batch.add_argument("-q", "--quiet", action="store_true",
                       help="print nothing on success and no progress bar")
    batch.add_argument("-v", "--verbose", action="store_true",
                       help="print the method chosen and the time taken per step")
    return batch


def _add_cval(parser, help_text):
    """--cval, for filter and morph (pool pads with each op's neutral value instead)."""
    parser.add_argument("--cval", type=_typed(opt.number), metavar="C", help=help_text)


def _add_inputs(parser):
    parser.add_argument("input", nargs="+", metavar="INPUT",
                        help="image, TIFF stack, .npy or NIfTI file; several files or globs "
                             "('data/**/*.png') make a batch (a glob leaves out files in "
                             "--outdir; a file named on its own is always an input)")


def _add_filter(sub, batch):
    f = sub.add_parser(
        "filter", parents=[batch], help="filter images and volumes",
        description=f"Filter each INPUT and write <stem>_<filters><ext> beside it "
                    f"(default filter: {DEFAULT_FILTER}; 'imgconv filters' lists them).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  imgconv filter photo.png -f sobel\n"
               "  imgconv filter scan.nii.gz -f gaussian:sigma=2 --physical\n"
               "  imgconv filter 'in/**/*.png' --outdir out -f box:size=5\n"
               "  imgconv filter img.png --kernel=-1,0,1 --dtype float32 -o dx.tif")
    _add_inputs(f)
    f.add_argument("-f", "--filter", action="append", metavar="NAME[:k=v,...]",
                   help="filter and parameters; repeat to chain left to right "
                        "(-f gaussian:sigma=2 -f sobel); per-axis values as 2x1x1")
    f.add_argument("--kernel", metavar="SPEC|FILE",
                   help="custom kernel: '1,2,1;2,4,2;1,2,1' (3D slices split by '/'), .npy "
                        "or whitespace text file; alone it runs -f kernel; one starting with "
                        "'-' is written --kernel=-1,0,1")
    f.add_argument("--normalize", action="store_true",
                   help="divide kernels by their sum (a zero-sum kernel is left as it is)")
    f.add_argument("--padding", type=_typed(opt.padding), metavar="P",
                   help="same (default), valid, full or pixels, for kernel filters")
    f.add_argument("--stride", type=_typed(opt.integers), metavar="S", help="stride for kernel filters")
    f.add_argument("--dilation", type=_typed(opt.integers), metavar="D", help="dilation for kernel filters")
    _add_cval(f, "value outside the image, for the -f steps whose mode (--mode or mode=) "
                 "is zero")
    f.add_argument("--physical", action="store_true",
                   help="gaussian sigma in the file's spacing units (mm for NIfTI)")
    f.set_defaults(run=_run_filter, command_parser=f)


def _add_pool(sub, batch):
    p = sub.add_parser("pool", parents=[batch], help="max/avg/min/Lp pooling",
                       description="Pool each INPUT and write <stem>_<op>pool<ext>.")
    _add_inputs(p)
    p.add_argument("--size", type=_typed(opt.integers), required=True, metavar="K",
                   help="window size (int or per-axis AxB)")
    p.add_argument("--stride", type=_typed(opt.integers), metavar="S", help="default: the size")
    p.add_argument("--padding", type=_typed(opt.integers), metavar="P", help="pixels per side (default 0)")
    p.add_argument("--dilation", type=_typed(opt.integers), metavar="D", help="default 1")
    p.add_argument("--op", choices=("max", "avg", "min", "lp"), default="max")
    p.add_argument("--p", type=_typed(opt.number), help="exponent of --op lp (default 2)")
    p.add_argument("--ceil-mode", action="store_true",
                   help="keep a last partial window (as torch ceil_mode)")
    p.add_argument("--exclude-pad", action="store_true",
                   help="avg: divide by the pixels inside the image only")
    p.set_defaults(run=_run_pool, command_parser=p)


def _add_morph(sub, batch):
    m = sub.add_parser("morph", parents=[batch], help="grey/binary morphology",
                       description="Apply OP to each INPUT and write <stem>_<op><ext>.")
    m.add_argument("op", choices=("dilate", "erode", "open", "close", "gradient", "tophat",
                                  "blackhat"), metavar="OP",
                   help="dilate, erode, open, close, gradient, tophat or blackhat")
    _add_inputs(m)
    m.add_argument("--footprint", metavar="SHAPE|FILE",
                   help="box:5 (or box:5x3; any size, O(1) per pixel), disk:3 (2D), ball:2 "
                        "(3D), cross:1 (up to 2**24 cells), a .npy/text file or inline 0/1 text")
    m.add_argument("--size", type=_typed(opt.integers), metavar="K",
                   help="box footprint size (default 3) when no --footprint")
    _add_cval(m, "value outside the image; needs --mode zero")
    m.add_argument("--origin", type=_typed(opt.integers), metavar="O", help="shift of the footprint centre")
    m.set_defaults(run=_run_morph, command_parser=m)


def build_parser():
    """The argparse parser of the ``imgconv`` command."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="imgconv", description="Fast image and volume filtering (imgconv).")
    parser.add_argument("--version", action="version", version=f"imgconv {__version__}")
    parser.add_argument("--debug", action="store_true", default=False,
                        help="show the traceback of an error")
    common = _common_options()
    batch = _batch_options(common)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_filter(sub, batch)
    _add_pool(sub, batch)
    _add_morph(sub, batch)
    info = sub.add_parser("info", parents=[common], help="shape, dtype, range, spacing of files",
                          description="Describe each FILE: format, shape, dtype, value range, "
                                      "voxel spacing per array axis, NIfTI orientation.")
    info.add_argument("file", nargs="+", metavar="FILE")
    info.add_argument("--json", action="store_true", help="one JSON object per file")
    info.set_defaults(run=_run_info)
    filters = sub.add_parser("filters", parents=[common],
                             help="list the filters with their parameters and defaults")
    filters.set_defaults(run=_run_filters)
    return parser


# --------------------------------------------------------------------------
# Commands (the library is imported only here)
# --------------------------------------------------------------------------
def _run_filter(args):
    from ._commands import FilterChain, run_operation

    return run_operation(args, FilterChain(args))


def _run_pool(args):
    from ._commands import Pool, run_operation

    return run_operation(args, Pool(args))


def _run_morph(args):
    from ._commands import Morph, run_operation

    return run_operation(args, Morph(args))


def _run_info(args):
    from ._commands import run_info

    return run_info(args)


def _run_filters(args):
    print(describe_filters())
    return 0


class Terminated(BaseException):
    """Raised by the signal handler on SIGTERM/SIGHUP: like KeyboardInterrupt it
    unwinds through every ``except BaseException``/``finally`` (the atomic
    writer deletes its temporary file) and past the per-file ``except Exception``
    of a batch, which must not take it for a failed file."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


#: signals that stop the command through Terminated: by default Python dies on
#: them at once, leaving a half-written temporary output behind
_TERMINATING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


def _terminate(signum, frame):
    # a second signal kills at once (the default action), as a second Ctrl-C
    # would be expected to, in case the clean-up itself got stuck
    signal.signal(signum, signal.SIG_DFL)
    raise Terminated(signum)


def _handle_signals(previous):
    """Install the handlers, noting the ones they replace in ``previous`` (to
    put back).  A signal already ignored (``nohup`` ignores SIGHUP) stays
    ignored; and only the main thread may set handlers: elsewhere (main()
    called from a thread) the defaults stay."""
    for signum in _TERMINATING:
        try:
            if signal.getsignal(signum) is signal.SIG_IGN:
                continue
            previous[signum] = signal.signal(signum, _terminate)
        except (ValueError, OSError):
            break


#: exit status when the reader of stdout has gone (``imgconv info F | head -1``):
#: 128 + SIGPIPE, what the shell reports for cat, grep or yes stopped there by
#: the signal, so ``set -o pipefail`` scripts that allow it for them allow it
#: for imgconv; 0 would say every line was delivered, and 1 (the Python docs'
#: choice) that a file failed
READER_GONE = 141


def main(argv=None):
    """Run the ``imgconv`` command; returns the exit status.

    Examples
    --------
    >>> from imgconv.cli import main
    >>> main(["filters"])  # doctest: +ELLIPSIS
    Filters for 'imgconv filter ...
    0
    """
    try:
        try:
            return _main(argv)
        finally:
            # what print() still buffers goes now, where a closed pipe can be
            # caught, rather than at the interpreter's exit (a traceback there)
            if sys.stdout is not None:
                sys.stdout.flush()
    except BrokenPipeError:
        _silence_closed_streams()
        return READER_GONE


def _silence_closed_streams():
    """Point stdout and stderr, where their reader has gone, at os.devnull: the
    bytes they still buffer would raise again at the interpreter's final
    flush (the Python docs' recipe for SIGPIPE).  The command stops quietly,
    as a tool killed by SIGPIPE does; outputs written so far are complete."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except BrokenPipeError:
                os.dup2(devnull, stream.fileno())
    finally:
        os.close(devnull)


def _main(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = {}
    try:
        _handle_signals(previous)
        return _run(args, parser)
    except Terminated as stop:
        print(f"imgconv: terminated ({signal.Signals(stop.signum).name})", file=sys.stderr)
        return 128 + stop.signum
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run(args, parser):
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("imgconv: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # the reader has gone, which is no error: main() ends quietly
    except Exception as exc:
        if args.debug:
            raise
        if isinstance(exc, UsageError):
            getattr(args, "command_parser", parser).print_usage(sys.stderr)
            print(f"imgconv {args.command}: error: {exc}", file=sys.stderr)
            return 2
        text = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, (UserError, NotBuiltError)):
            text = f"{text} (unexpected {type(exc).__name__}; --debug shows the traceback)"
        print(f"imgconv: error: {text}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

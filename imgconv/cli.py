"""The ``imgconv`` command line.

    imgconv filter INPUT [-o OUT] [-f NAME[:k=v,...]]... [--kernel SPEC|FILE]
                   [--mode M] [--stride S] [--dilation D] [--threads N] [--overwrite]
    imgconv filters

With no ``-f`` the filter is ``gaussian:sigma=1`` (or ``kernel`` when
``--kernel`` is given).  The result goes beside the input as
``<stem>_<filters><ext>``; an existing file, or the input itself, is never
replaced without ``--overwrite``.  User mistakes print one line on stderr and
exit with 1 (2 for command-line usage errors); ``--debug`` shows tracebacks.
"""
import argparse
import os
import sys

DEFAULT_FILTER = "gaussian:sigma=1"


class UserError(Exception):
    """A mistake in the command or its inputs: reported in one line."""


# --------------------------------------------------------------------------
# Filters reachable from the command line
# --------------------------------------------------------------------------
def _gaussian(image, channel_axis, options, sigma=1.0, truncate=4.0):
    import imgconv as ic

    return ic.gaussian(image, sigma, truncate=truncate, channel_axis=channel_axis, **options)


def _box(image, channel_axis, options, size=3):
    import imgconv as ic

    return ic.box(image, size, channel_axis=channel_axis, **options)


def _edges(name):
    def run(image, channel_axis, options, axis=None):
        import imgconv as ic

        return getattr(ic, name)(image, axis, channel_axis=channel_axis, **options)
    return run


def _laplace(image, channel_axis, options):
    import imgconv as ic

    return ic.laplace(image, channel_axis=channel_axis, **options)


def _kernel(image, channel_axis, options, kernel=None, stride=1, dilation=1):
    import imgconv as ic

    if kernel is None:
        raise UserError("the 'kernel' filter needs --kernel SPEC|FILE")
    return ic.correlate(image, kernel, channel_axis=channel_axis, stride=stride,
                        dilation=dilation, **options)


_AXIS = {"axis": (int, None, "array axis of the derivative (default: gradient magnitude)")}
FILTERS = {
    # name: (function, {parameter: (type, default, help)}, one-line help)
    "gaussian": (_gaussian, {"sigma": (float, 1.0, "standard deviation in pixels"),
                             "truncate": (float, 4.0, "radius in sigmas")},
                 "Gaussian smoothing"),
    "box": (_box, {"size": (int, 3, "window size in pixels")}, "mean over a size^n box"),
    "sobel": (_edges("sobel"), _AXIS, "Sobel derivative or gradient magnitude"),
    "prewitt": (_edges("prewitt"), _AXIS, "Prewitt derivative or gradient magnitude"),
    "scharr": (_edges("scharr"), _AXIS, "Scharr derivative or gradient magnitude"),
    "laplace": (_laplace, {}, "discrete Laplacian"),
    "kernel": (_kernel, {}, "correlate with --kernel (honours --stride, --dilation)"),
}


def parse_filter_spec(spec):
    """'gaussian:sigma=2,truncate=3' -> ('gaussian', {'sigma': 2.0, 'truncate': 3.0})."""
    name, _, rest = spec.partition(":")
    name = name.strip().lower()
    if name not in FILTERS:
        raise UserError(f"unknown filter {name!r}; available: {', '.join(FILTERS)} "
                        "(see 'imgconv filters')")
    params = FILTERS[name][1]
    values = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or key not in params:
            known = ", ".join(params) or "none"
            raise UserError(f"filter {name!r}: unknown parameter {item!r} (parameters: {known})")
        kind = params[key][0]
        try:
            values[key] = kind(text)
        except ValueError:
            raise UserError(f"filter {name!r}: {key} must be {kind.__name__}, got {text!r}") from None
    return name, values


def parse_kernel(spec):
    """Inline text ('1,2,1;2,4,2;1,2,1', slices split by '/'), .npy or a text file."""
    import numpy as np

    if os.path.exists(spec):
        try:
            k = np.load(spec) if spec.lower().endswith(".npy") else np.loadtxt(spec, ndmin=2)
        except Exception as exc:
            raise UserError(f"--kernel {spec}: cannot read kernel file ({exc})") from None
    else:
        try:
            slices = [[[float(v) for v in row.replace(" ", "").split(",") if v]
                       for row in s.split(";") if row.strip()] for s in spec.split("/")]
        except ValueError:
            raise UserError(f"--kernel {spec!r}: not a file, and not kernel text like "
                            "'1,2,1;2,4,2;1,2,1' (rows split by ';', 3D slices by '/')") from None
        rows = [len(row) for rows in slices for row in rows]
        if not rows or min(rows) == 0 or len(set(rows)) > 1 or len({len(s) for s in slices}) > 1:
            raise UserError(f"--kernel {spec!r}: every row (and every slice) must have the same "
                            "length")
        k = np.array(slices if len(slices) > 1 else slices[0], dtype=np.float64)
        if k.ndim == 2 and k.shape[0] == 1:
            k = k[0]
    if k.dtype.kind not in "biuf" or not np.all(np.isfinite(k)):
        raise UserError(f"--kernel {spec}: the kernel must hold finite numbers")
    return k


# --------------------------------------------------------------------------
# The filter command
# --------------------------------------------------------------------------
def _output_path(inp, names):
    stem, ext = os.path.splitext(inp)
    return f"{stem}_{'_'.join(names)}{ext}"


def _to_storable(result, source_dtype, out_path):
    """Images hold integers: round and clip to the input's integer type
    (uint8 by default); .npy keeps the float result."""
    import numpy as np

    if out_path.lower().endswith(".npy"):
        return result
    dtype = source_dtype if source_dtype in (np.uint8, np.uint16) else np.dtype(np.uint8)
    info = np.iinfo(dtype)
    return np.clip(np.rint(np.nan_to_num(result)), info.min, info.max).astype(dtype)


def run_filter(args):
    import numpy as np
    import imgconv as ic
    from ._io import file_format as check_extension

    specs = args.filter or (["kernel"] if args.kernel else [DEFAULT_FILTER])
    chain = [parse_filter_spec(s) for s in specs]
    kernel = parse_kernel(args.kernel) if args.kernel else None
    if kernel is not None and "kernel" not in [n for n, _ in chain]:
        raise UserError("--kernel given but no 'kernel' filter in the -f chain")
    if (args.stride != 1 or args.dilation != 1) and "kernel" not in [n for n, _ in chain]:
        raise UserError("--stride and --dilation apply to the 'kernel' filter only")

    inp = args.input
    out_path = args.output or _output_path(inp, [n for n, _ in chain])
    if os.path.abspath(out_path) == os.path.abspath(inp):
        raise UserError(f"{out_path}: refusing to overwrite the input")
    if os.path.exists(out_path) and not args.overwrite:
        raise UserError(f"{out_path}: already exists (use --overwrite to replace it)")
    try:
        check_extension(out_path)  # unknown output type: fail before the work
    except ValueError as exc:
        raise UserError(str(exc)) from None

    try:
        image = ic.read(inp)
    except (OSError, ValueError) as exc:
        raise UserError(str(exc)) from None
    source_dtype = image.dtype
    is_image_file = not inp.lower().endswith(".npy")
    channel_axis = -1 if is_image_file and image.ndim == 3 else None
    alpha = None
    if channel_axis is not None and image.shape[-1] == 4:
        image, alpha = image[..., :3], image[..., 3:]
    options = {"mode": args.mode, "threads": args.threads}
    result = image
    for name, params in chain:
        func = FILTERS[name][0]
        if name == "kernel":
            params = dict(params, kernel=kernel, stride=args.stride, dilation=args.dilation)
        try:
            result = func(result, channel_axis, options, **params)
        except (ValueError, TypeError) as exc:
            raise UserError(f"{name}: {exc}") from None
    result = _to_storable(result, source_dtype, out_path)
    if alpha is not None and result.shape[:2] == alpha.shape[:2]:
        result = np.concatenate([result, alpha.astype(result.dtype)], axis=-1)
    try:
        ic.write(out_path, result, overwrite=args.overwrite)
    except (OSError, ValueError) as exc:
        raise UserError(str(exc)) from None
    if not args.quiet:
        print(out_path)
    return 0


def run_filters(args):
    for name, (_, params, help_text) in FILTERS.items():
        print(f"{name}: {help_text}")
        for key, (kind, default, text) in params.items():
            print(f"    {key}={default} ({kind.__name__}): {text}")
    return 0


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser():
    from . import __version__

    parser = argparse.ArgumentParser(prog="imgconv", description="Fast image and volume filtering.")
    parser.add_argument("--version", action="version", version=f"imgconv {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    f = sub.add_parser("filter", help="filter an image or array",
                       description=f"Filter INPUT (default filter: {DEFAULT_FILTER}).")
    f.add_argument("input", help="image (.png .jpg .bmp .tif) or .npy array")
    f.add_argument("-o", "--output", help="output path (default: INPUT-stem_<filters>.<ext>)")
    f.add_argument("-f", "--filter", action="append", metavar="NAME[:k=v,...]",
                   help="filter to apply; repeat to chain left to right (see 'imgconv filters')")
    f.add_argument("--kernel", metavar="SPEC|FILE",
                   help="custom kernel: '1,2,1;2,4,2;1,2,1' (3D slices split by '/'), .npy or text file")
    f.add_argument("--mode", default="reflect",
                   choices=["reflect", "mirror", "reflect101", "symmetric", "replicate", "nearest",
                            "edge", "wrap", "circular", "zero", "constant"],
                   help="boundary mode (default: reflect)")
    f.add_argument("--stride", type=_positive_int, default=1)
    f.add_argument("--dilation", type=_positive_int, default=1)
    f.add_argument("--threads", type=_positive_int, default=None)
    f.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    f.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    f.set_defaults(run=run_filter)

    fl = sub.add_parser("filters", help="list the filters and their parameters")
    fl.set_defaults(run=run_filters)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UserError as exc:
        if args.debug:
            raise
        print(f"imgconv: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("imgconv: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

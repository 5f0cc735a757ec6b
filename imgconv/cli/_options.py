"""Command-line values: text to Python values, without importing numpy (so
``imgconv --help`` and ``imgconv filters`` start fast)."""
import re

#: boundary modes and their aliases, as imgconv._validate.MODE_ALIASES
#: (checked against it by the tests; kept here so --help needs no numpy)
MODES = ("reflect", "mirror", "reflect101", "symmetric", "replicate", "nearest", "edge",
         "wrap", "circular", "zero", "zeros", "constant")
#: the aliases of mode zero, the only mode that pads with cval
ZERO_MODES = ("zero", "zeros", "constant")
OUTPUT_RANGES = ("clip", "rescale", "abs")
DTYPES = ("uint8", "uint16", "int16", "int32", "float32", "float64")

_PER_AXIS_SPLIT = re.compile(r"[x,]")
# Plain ASCII numbers only: Python's int() and float() also take '1_0' (= 10)
# and non-ASCII digits, which on a command line are typos, not numbers.
_INT = re.compile(r"[+-]?\d+", re.ASCII)
_FLOAT = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|inf|infinity|nan)",
                    re.ASCII | re.IGNORECASE)


class UserError(Exception):
    """A mistake in the command or its inputs: reported in one line, exit status 1."""


class UsageError(UserError):
    """A command line that cannot work whatever the files: exit status 2, as argparse's."""


def number(text):
    """A finite or infinite float (the library judges the range)."""
    if not _FLOAT.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not a number")
    return float(text)


def integer(text):
    if not _INT.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not an integer")
    return int(text)


def _per_axis(convert):
    def parse(text):
        parts = [p.strip() for p in _PER_AXIS_SPLIT.split(text)]
        if len(parts) == 1:
            return convert(parts[0])
        return tuple(convert(p) for p in parts)
    parse.__name__ = f"{convert.__name__}s"
    return parse


#: one number, or one per axis: '2', '2x1x1' (or '2,1,1' outside -f specs)
numbers = _per_axis(number)
integers = _per_axis(integer)


def axis_or_none(text):
    return None if text.strip().lower() == "none" else integer(text)


def padding(text):
    """'same', 'valid', 'full', an int or per-axis ints."""
    word = text.strip().lower()
    return word if word in ("same", "valid", "full") else integers(text)


def choice(*options):
    def parse(text):
        word = text.strip().lower()
        if word not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return word
    parse.__name__ = "|".join(options)
    return parse


#: one boundary mode, or one per filtered axis: 'wrap', 'wrapxreflect'
#: (or 'wrap,reflect' outside -f specs)
modes = _per_axis(choice(*MODES))
modes.__name__ = "modes"


def uses_zero(mode):
    """Whether a mode (one name or one per axis) pads some axis with cval."""
    return any(m in ZERO_MODES for m in ((mode,) if isinstance(mode, str) else mode or ()))


def mode_text(mode):
    """A mode as the user wrote it: 'wrap', or 'wrap,reflect' for one per axis."""
    return mode if isinstance(mode, str) else ",".join(mode)


def text(value):
    return value


def describe(parse):
    """How a parser's values are written, for help texts."""
    return {"number": "float", "integer": "int", "numbers": "float or per-axis AxBxC",
            "integers": "int or per-axis AxBxC", "axis_or_none": "int or none",
            "padding": "same|valid|full|int|AxB",
            "modes": f"one of {', '.join(MODES)}, or one per axis (wrap,reflect; in -f "
                     "specs wrapxreflect)", "text": "file or text"}.get(parse.__name__,
                                                                      parse.__name__)

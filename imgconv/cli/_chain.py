"""The filters ``imgconv filter -f NAME[:k=v,...]`` can run, their parameters,
and the chain built from the ``-f`` options.

The registry is plain data, so ``imgconv filters`` and ``--help`` need no numpy.
"""
from typing import NamedTuple

from . import _options as opt
from ._options import UserError

DEFAULT_FILTER = "gaussian:sigma=1"


class Param(NamedTuple):
    parse: object      # text -> value
    default: object
    help: str


class FilterDef(NamedTuple):
    function: str      # name of the imgconv function it runs
    params: dict       # name -> Param, in the function's own order
    help: str
    result: object     # params -> 'smooth' | 'signed' | 'magnitude' (what the output holds)


def _kernel_result(params):
    """Custom kernels (the array, once read): signed if any weight is negative."""
    kernel = params.get("kernel")
    return "signed" if kernel is not None and (kernel < 0).any() else "smooth"


_MODE = {"mode": Param(opt.modes, "reflect", "boundary mode, or one per axis (--mode)"),
         "cval": Param(opt.number, 0.0, "value outside the image, mode zero only (--cval)")}
_KERNEL = {"kernel": Param(opt.text, None, "kernel file, or text with spaces between values "
                                           "('1 2 1;2 4 2;1 2 1'; default: --kernel)")}
_GEOMETRY = {
    "padding": Param(opt.padding, "same", "same, valid, full or pixels (--padding)"),
    "stride": Param(opt.integers, 1, "output every stride-th pixel (--stride)"),
    "dilation": Param(opt.integers, 1, "spacing between kernel taps (--dilation)"),
    "origin": Param(opt.integers, 0, "shift of the kernel centre"),
    "method": Param(opt.choice("auto", "direct", "separable", "fft"), "auto",
                    "how to compute: auto picks the fastest"),
}
_AXIS = Param(opt.axis_or_none, None, "array axis of the derivative; none: gradient magnitude")


def _derivative(name, smoothing):
    return FilterDef(name, {"axis": _AXIS, **_MODE},
                     f"{name.capitalize()} derivative along axis ({smoothing} smoothing across), "
                     "or the gradient magnitude",
                     lambda p: "magnitude" if p.get("axis") is None else "signed")


def _correlation(function, help_text):
    return FilterDef(function, {**_KERNEL, **_GEOMETRY, **_MODE}, help_text, _kernel_result)


_SIGMA = Param(opt.numbers, 1.0, "standard deviation in pixels (in spacing units with spacing "
                                  "or --physical)")
_GAUSSIAN_SIZE = {
    "truncate": Param(opt.number, 4.0, "kernel radius in sigmas"),
    "radius": Param(opt.integers, None, "kernel radius in pixels (truncate then ignored)"),
    "spacing": Param(opt.numbers, None, "voxel size per axis (--physical: the file's)"),
}
_BOX = {"size": Param(opt.integers, 3, "window size in pixels"),
        "origin": Param(opt.integers, 0, "shift of the window centre")}


def _rank_filter(function, first, help_text):
    return FilterDef(function, {**first, **_BOX, **_MODE}, help_text, lambda p: "smooth")


FILTERS = {
    "gaussian": FilterDef("gaussian", {
        "sigma": _SIGMA,
        "order": Param(opt.integers, 0, "derivative order per axis (0: smoothing)"),
        **_GAUSSIAN_SIZE, **_MODE}, "Gaussian smoothing, or derivative of Gaussian with order",
        lambda p: "signed" if _any_nonzero(p.get("order", 0)) else "smooth"),
    "box": FilterDef("box", {**_BOX, **_MODE}, "mean over a box (running sums)",
                     lambda p: "smooth"),
    "gaussian_laplace": FilterDef("gaussian_laplace", {"sigma": _SIGMA, **_GAUSSIAN_SIZE, **_MODE},
                                  "Laplacian of Gaussian (LoG)", lambda p: "signed"),
    "gaussian_gradient_magnitude": FilterDef(
        "gaussian_gradient_magnitude", {"sigma": _SIGMA, **_GAUSSIAN_SIZE, **_MODE},
        "gradient magnitude of the Gaussian derivatives", lambda p: "magnitude"),
    "median": _rank_filter("median", {}, "median over a box (the input's dtype kept)"),
    "percentile": _rank_filter("percentile_filter", {
        "percentile": Param(opt.number, 50.0, "percentile of each window (0-100)")},
        "percentile of a box (the input's dtype kept)"),
    "rank": _rank_filter("rank_filter", {
        "rank": Param(opt.integer, 0, "rank in each window's sorted values (negative: from the "
                                      "top)")},
        "rank-th value of a box (the input's dtype kept)"),
    "sobel": _derivative("sobel", "[1,2,1]"),
    "prewitt": _derivative("prewitt", "[1,1,1]"),
    "scharr": _derivative("scharr", "[3,10,3]"),
    "laplace": FilterDef("laplace", dict(_MODE), "discrete Laplacian (sum of [1,-2,1] per axis)",
                         lambda p: "signed"),
    "gradient_magnitude": FilterDef("gradient_magnitude", {
        "operator": Param(opt.choice("sobel", "prewitt", "scharr"), "sobel",
                          "derivative operator"),
        **_MODE}, "sqrt of the sum of squared derivatives", lambda p: "magnitude"),
    "correlate": _correlation("correlate", "correlate with a custom kernel (no flip)"),
    "kernel": _correlation("correlate", "same as correlate"),
    "convolve": _correlation("convolve", "convolve with a custom kernel (flipped)"),
    "correlate1d": FilterDef("correlate1d", {
        **_KERNEL, "axis": Param(opt.integer, -1, "array axis to filter along"),
        "origin": _GEOMETRY["origin"], **_MODE},
        "correlate with a 1D kernel along one axis", _kernel_result),
    "convolve1d": FilterDef("convolve1d", {
        **_KERNEL, "axis": Param(opt.integer, -1, "array axis to filter along"),
        "origin": _GEOMETRY["origin"], **_MODE},
        "convolve with a 1D kernel along one axis", _kernel_result),
    "sepfilter": FilterDef("sepfilter", {
        **_KERNEL, **{k: _GEOMETRY[k] for k in ("stride", "dilation", "origin")}, **_MODE},
        "1D kernel along every axis (a 1D kernel, or one row per axis)", _kernel_result),
}

#: options of 'imgconv filter' that set a parameter of every filter taking it
GLOBAL_PARAMS = ("mode", "cval", "kernel", "padding", "stride", "dilation")


def _any_nonzero(value):
    return any(value) if isinstance(value, tuple) else bool(value)


class Step(NamedTuple):
    """One filter of the chain: its name (as typed), definition and parameters
    given explicitly (globals and defaults are filled in later)."""
    name: str
    spec: str
    definition: FilterDef
    params: dict


def _split_params(spec, rest):
    """'sigma=2,truncate=3' -> ['sigma=2', 'truncate=3'] (per-axis values use 'x').
    An empty item ('sigma=2,,truncate=3', a trailing ',') is an error rather
    than skipped: it is a typo, or a value that lost its parameter name."""
    if not rest.strip():
        return []  # 'gaussian' or 'gaussian:': the defaults
    items = [item.strip() for item in rest.split(",")]
    if "" in items:
        raise UserError(f"-f {spec}: empty parameter (',,' or ',' at an end); write "
                        "NAME:k=v,k=v")
    return items


def _not_key_value(spec, name, definition, item, items):
    """The error for an item without '=': most often a kernel written inline
    with ',' (which separates the parameters of -f)."""
    if "kernel" in definition.params and any(i.partition("=")[0].strip().lower() == "kernel"
                                             for i in items):
        return UserError(f"-f {spec}: ',' separates parameters, so a kernel in -f cannot hold "
                         f"','; give it with --kernel (--kernel '1,2,1;2,4,2;1,2,1'), as a "
                         f"file ({name}:kernel=k.npy), or with spaces between its values "
                         f"(-f '{name}:kernel=1 2 1;2 4 2;1 2 1')")
    known = ", ".join(definition.params) or "none"
    return UserError(f"-f {spec}: {item!r} is not k=v (parameters of {name}: {known})")


def parse_step(spec):
    """'gaussian:sigma=2,truncate=3' -> Step('gaussian', ..., {'sigma': 2.0, 'truncate': 3.0})."""
    name, _, rest = spec.partition(":")
    name = name.strip().lower().replace("-", "_")
    if name not in FILTERS:
        raise UserError(f"-f {spec}: unknown filter {name!r}; available: {', '.join(FILTERS)} "
                        "(see 'imgconv filters')")
    definition = FILTERS[name]
    values = {}
    items = _split_params(spec, rest)
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq:
            raise _not_key_value(spec, name, definition, item, items)
        if key not in definition.params:
            known = ", ".join(definition.params) or "none"
            raise UserError(f"-f {spec}: unknown parameter {item!r} for {name} "
                            f"(its parameters: {known})")
        if key in values:
            raise UserError(f"-f {spec}: {key} given twice")
        parse = definition.params[key].parse
        try:
            values[key] = parse(value)
        except ValueError:
            raise UserError(f"-f {spec}: {key} must be {opt.describe(parse)}, "
                            f"got {value!r}") from None
    return Step(name, spec, definition, values)


def parse_chain(specs):
    return [parse_step(s) for s in specs]


def takes(chain, param):
    return [s for s in chain if param in s.definition.params]


def pads_with_cval(params):
    """Whether a step with these (resolved) parameters pads with cval: mode zero
    on some axis only; the library refuses a nonzero cval with any other mode."""
    return opt.uses_zero(params.get("mode"))


def resolve_params(step, globals_given):
    """The parameters a step runs with: its own, else the command's options
    (``globals_given``: option name -> value, only options the user gave), else
    the defaults (the library's own).  --cval reaches only the steps whose mode
    is zero, so one --cval serves a chain that mixes modes."""
    params = {name: param.default for name, param in step.definition.params.items()}
    params.update({k: val for k, val in globals_given.items() if k in params})
    params.update(step.params)
    if "cval" in params and "cval" not in step.params and not pads_with_cval(params):
        params["cval"] = step.definition.params["cval"].default
    return params


def output_kind(chain, params_per_step):
    """What the chain's result holds, for the default --output-range: smoothing
    keeps what came before, derivatives make it signed, magnitudes non-negative."""
    kind = "smooth"
    for step, params in zip(chain, params_per_step):
        result = step.definition.result(params)
        if result != "smooth":
            kind = result
    return kind


DEFAULT_RANGE = {"smooth": "clip", "signed": "rescale", "magnitude": "abs"}


def describe_filters():
    """The text of 'imgconv filters'."""
    lines = [f"Filters for 'imgconv filter -f NAME[:param=value,...]' (default: {DEFAULT_FILTER}).",
             "Per-axis values are written AxBxC (e.g. sigma=3x1x1); mode defaults to --mode, "
             "and cval (the value outside the image, mode zero only) to --cval.", ""]
    for name, definition in FILTERS.items():
        lines.append(f"{name}: {definition.help}")
        for key, param in definition.params.items():
            if key in _MODE:
                continue
            default = "none" if param.default is None else param.default
            lines.append(f"    {key}={default}  ({opt.describe(param.parse)}) {param.help}")
    lines.append("")
    lines.append("every filter also takes mode=" + "|".join(
        ("reflect", "symmetric", "replicate", "wrap", "zero")) + " (or one per axis, "
        "e.g. mode=wrapxreflect) and, with mode=zero on some axis, cval=NUMBER")
    return "\n".join(lines)

"""What 'imgconv filter', 'pool', 'morph', 'info' and 'filters' do."""
import inspect
import math
import os
import sys
from dataclasses import replace

import numpy as np

import imgconv as ic
from .. import _validate as v
from .._io import FLOAT_FORMATS, dtype_name, file_format
from . import _arrays, _batch, _chunked
from ._chain import (DEFAULT_FILTER, DEFAULT_RANGE, FILTERS, GLOBAL_PARAMS, output_kind,
                     pads_with_cval, parse_chain, resolve_params, takes)
from ._options import UsageError, UserError, mode_text, uses_zero


class Image:
    """One input file, read, with what the operations need to know about its axes."""

    def __init__(self, path, args):
        chunks = getattr(args, "chunks", None)
        # chunked: a lazy dask array, which the dask backend runs chunk by chunk
        array, self.meta = ic.read(path, chunks, with_meta=True)
        self.path = path
        self.source_dtype = array.dtype
        self.data, self.alpha = _arrays.split_alpha(array, self.meta.channel_axis)
        self.grey_alpha = self.alpha is not None and self.data.ndim < array.ndim
        self.channel_axis = None if self.grey_alpha else self.meta.channel_axis
        self.axes, self.filtered = self._axes(args)
        self.backend = "auto" if chunks is not None else args.backend

    def _axes(self, args):
        """``axes`` for the library (None: all spatial) and the filtered array axes."""
        ndim = self.data.ndim
        spatial = [a for a in range(ndim)
                   if self.channel_axis is None or a != self.channel_axis % ndim]
        axes = getattr(args, "axes", None)
        if getattr(args, "slicewise", False):
            if len(spatial) < 3:
                raise UserError(f"{self.path}: --slicewise needs a volume (3 spatial axes); "
                                f"this has {len(spatial)}")
            axes = tuple(spatial[-2:])
        try:
            filtered, _ = v.spatial_axes(ndim, self.channel_axis, axes, name=self.path)
        except (TypeError, ValueError) as exc:
            if axes is None:
                raise UserError(f"{self.path}: shape {self.data.shape} has {len(spatial)} "
                                f"axes besides channels{self._labels(spatial)}; filters take 1 "
                                "to 3 spatial axes: pick them with --axes (or --slicewise)"
                                ) from None
            raise UserError(f"--axes: {exc}") from None
        return axes, filtered

    def _labels(self, axes):
        """' (t, k (S), ...)': what the file says ``axes`` are, if it says."""
        labels = self.meta.axis_labels
        if not labels or len(labels) != self.meta_ndim:
            return ""
        return f" ({', '.join(labels[a] for a in axes)})"

    @property
    def is_volume(self):
        return self.data.ndim - (self.channel_axis is not None) >= 3

    def spacing(self):
        """Voxel size along the filtered axes, from the file."""
        if self.meta.spacing is None:
            raise UserError(f"{self.path}: --physical needs the voxel spacing, which this file "
                            "does not store (NIfTI does; else give gaussian:spacing=AxBxC)")
        by_axis = dict(zip(self.meta.spatial_axes(self.meta_ndim), self.meta.spacing))
        return tuple(by_axis[a] for a in self.filtered)

    @property
    def meta_ndim(self):
        return self.data.ndim + (1 if self.grey_alpha else 0)

    def common(self, function, threads):
        """The arguments every library call gets; ``axes`` only where it is taken."""
        arguments = {"channel_axis": self.channel_axis, "threads": threads,
                     "backend": self.backend}
        if "axes" in inspect.signature(function).parameters:
            arguments["axes"] = self.axes
        elif self.axes is not None:
            raise UserError(f"--axes/--slicewise do not apply to {function.__name__} "
                            "(it filters along its axis= parameter)")
        return arguments


class Resampling:
    """Where output index i sits in the input, per array axis: step * i + offset."""

    def __init__(self, ndim):
        self.step = [1.0] * ndim
        self.offset = [0.0] * ndim

    def then(self, axes, step, offset):
        for a, s, o in zip(axes, step, offset):
            self.offset[a] += self.step[a] * o
            self.step[a] *= s

    @property
    def identity(self):
        return all(s == 1 for s in self.step) and not any(self.offset)


# --------------------------------------------------------------------------
# Operations: one per command
# --------------------------------------------------------------------------
class FilterChain:
    """imgconv filter: the -f chain, left to right."""

    METHODS = {"gaussian": "separable 1D passes", "sepfilter": "separable 1D passes",
               "sobel": "separable 1D passes", "prewitt": "separable 1D passes",
               "scharr": "separable 1D passes", "gradient_magnitude": "separable 1D passes",
               "box": "running sums", "laplace": "direct stencil",
               "correlate1d": "one 1D pass", "convolve1d": "one 1D pass"}

    def __init__(self, args):
        specs = args.filter or (["kernel"] if args.kernel is not None else [DEFAULT_FILTER])
        self.chain = parse_chain(specs)
        self.args = args
        self.globals = {name: getattr(args, name) for name in GLOBAL_PARAMS
                        if getattr(args, name) is not None}
        self._check_options()
        resolved = [resolve_params(step, self.globals) for step in self.chain]
        self._check_cval(resolved)
        self.params = [self._load_kernel(params, step)
                       for step, params in zip(self.chain, resolved)]
        self.suffix = "_".join(step.name for step in self.chain)
        self.steps = len(self.chain)
        self.default_range = DEFAULT_RANGE[output_kind(self.chain, self.params)]

    def _check_options(self):
        for name, flag in (("kernel", "--kernel"), ("padding", "--padding"),
                           ("stride", "--stride"), ("dilation", "--dilation")):
            if name in self.globals and not takes(self.chain, name):
                users = ", ".join(n for n, d in FILTERS.items() if name in d.params)
                raise UserError(f"{flag} applies to {users}; none of them is in the -f chain")
        if self.args.normalize and not takes(self.chain, "kernel"):
            raise UserError("--normalize applies to custom kernels; no kernel filter is in the "
                            "-f chain")
        if self.args.physical:
            gaussians = [s for s in self.chain if s.name == "gaussian"]
            if not gaussians:
                raise UserError("--physical applies to gaussian (sigma in spacing units); "
                                "there is no gaussian in the -f chain")
            for step in gaussians:
                if "spacing" in step.params:
                    raise UserError(f"-f {step.spec}: spacing= and --physical both set the "
                                    "spacing; give one")

    def _check_cval(self, resolved):
        """cval pads mode zero only: one given where no mode zero uses it would be
        silently ignored, so it is an error before any file is read."""
        for step, params in zip(self.chain, resolved):
            if "cval" in step.params and not pads_with_cval(params):
                raise UserError(f"-f {step.spec}: cval applies with mode zero, and this step's "
                                f"mode is {mode_text(params['mode'])} (add mode=zero)")
        if "cval" in self.globals and not any(pads_with_cval(params) for params in resolved):
            raise UserError("--cval applies with mode zero, and no step of the -f chain uses "
                            "it (add --mode zero, or mode=zero to a step)")

    def _load_kernel(self, params, step):
        if "kernel" not in step.definition.params:
            return params
        spec = params.get("kernel")
        if spec is None:
            raise UserError(f"-f {step.spec}: needs a kernel: --kernel SPEC|FILE or "
                            f"{step.name}:kernel=FILE")
        kernel = _arrays.read_kernel(spec, "--kernel" if "kernel" not in step.params
                                     else f"-f {step.spec}: kernel")
        if self.args.normalize:
            kernel = _arrays.normalize_kernel(kernel)
        if step.name in ("correlate1d", "convolve1d") and kernel.ndim != 1:
            raise UserError(f"-f {step.spec}: needs a 1D kernel, got shape {kernel.shape}")
        if step.name == "sepfilter" and kernel.ndim > 2:
            raise UserError(f"-f {step.spec}: needs a 1D kernel or one row per axis, got shape "
                            f"{kernel.shape}")
        return {**params, "kernel": kernel}

    def run(self, image, report, threads):
        result = image.data
        resampling = Resampling(image.data.ndim)
        for step, params in zip(self.chain, self.params):
            call = self._arguments(step, params, image)
            function = getattr(ic, step.definition.function)
            source = result
            with _batch.Timer() as timer:
                try:
                    result = function(source, **call, **image.common(function, threads))
                except (ValueError, TypeError) as exc:
                    raise UserError(f"{image.path}: -f {step.spec}: {exc}") from None
            if report.verbose:
                report.info(f"{image.path}: {step.spec}: "
                            f"{self._method(step, call, source, result, image)}, "
                            f"{timer.ms:.1f} ms")
            self._track(step, call, image, resampling)
            report.step(f"{os.path.basename(image.path)}: {step.name}")
        return result, resampling

    def _arguments(self, step, params, image):
        call = dict(params)
        if "kernel" in call:
            kernel = call.pop("kernel")
            if step.name == "sepfilter":
                rank = len(image.filtered)
                rows = [kernel] * rank if kernel.ndim == 1 else list(kernel)
                if len(rows) != rank:
                    raise UserError(f"-f {step.spec}: {len(rows)} kernel rows for {rank} "
                                    "filtered axes; give a 1D kernel or one row per axis")
                call["kernels"] = rows
            elif step.name.endswith("1d"):
                call["weights"] = kernel
            else:
                # fewer dimensions than filtered axes: the missing leading axes get length 1
                # (a row kernel runs along the rows), as footprints do
                rank = len(image.filtered)
                call["kernel"] = kernel.reshape((1,) * (rank - kernel.ndim) + kernel.shape)
        if step.name == "gaussian" and self.args.physical:
            call["spacing"] = image.spacing()
        return call

    def _method(self, step, call, source, result, image):
        """How the step ran, for -v: for correlate/convolve, the method 'auto' chose."""
        if step.definition.function in ("correlate", "convolve"):
            from .._convolve import Geometry, choose_method
            from .._dispatch import load

            # checked on the host; the method is the backend's (a GPU has no FFT)
            inp = v.filter_input(source, call["mode"], call["cval"], image.channel_axis,
                                 image.axes)._replace(backend=load(self.args.backend))
            weights = v.as_kernel(call["kernel"], inp.rank, inp.compute)
            geom = Geometry(inp, weights.shape, call["padding"], call["stride"],
                            call["dilation"], call["origin"])
            method = choose_method(call["method"], inp, weights, geom)[0]
            how = f"method {method}" + (" (chosen by cost)" if call["method"] == "auto" else "")
        else:
            how = self.METHODS[step.definition.function]
        if call.get("spacing") is not None:
            how += f", sigma in units of spacing {call['spacing']}"
        if getattr(self.args, "chunks", None) is not None:
            where = (f"planned on dask chunks {tuple(c[0] for c in result.chunks)}, "
                     f"{self.args.threads or 1} thread(s) per chunk")
        else:
            where = (f"{self.args.threads or ic.get_num_threads()} threads"
                     if self.args.backend == "cpu" else "on the cuda backend")
        return f"{how}, {where}, {result.dtype} {result.shape}"

    def _track(self, step, call, image, resampling):
        """Record how a strided or padded correlation moved the samples."""
        if not {"stride", "padding"} & set(call):
            return
        rank = len(image.filtered)
        stride = v.per_axis(call.get("stride", 1), rank, "stride")
        dilation = v.per_axis(call.get("dilation", 1), rank, "dilation")
        padding = call.get("padding", "same")  # sepfilter has only 'same'
        if isinstance(padding, str) and padding == "same":
            offset = (0,) * rank
        else:
            kshape = call["kernel"].shape
            pad_lo, _ = v.padding_amounts(padding, kshape, dilation, (0,) * rank)
            offset = tuple(d * (k - 1) / 2 - p for d, k, p in zip(dilation, kshape, pad_lo))
        resampling.then(image.filtered, stride, offset)


class Pool:
    """imgconv pool."""

    def __init__(self, args):
        self.args = args
        self.suffix = f"{args.op}pool"
        self.steps = 1
        self.default_range = "clip"
        if args.p is not None and args.op != "lp":
            raise UserError("--p applies to --op lp only")

    def run(self, image, report, threads):
        a = self.args
        options = {"stride": a.stride, "padding": a.padding if a.padding is not None else 0,
                   "dilation": a.dilation if a.dilation is not None else 1, "op": a.op,
                   "ceil_mode": a.ceil_mode, "count_include_pad": not a.exclude_pad}
        if a.p is not None:
            options["p"] = a.p
        if a.mode is not None:
            options["mode"] = a.mode
        with _batch.Timer() as timer:
            try:
                result = ic.pool(image.data, a.size, **options, **image.common(ic.pool, threads))
            except (ValueError, TypeError) as exc:
                raise UserError(f"{image.path}: {exc}") from None
        report.info(f"{image.path}: {a.op} pool {a.size}: {timer.ms:.1f} ms")
        report.step(f"{os.path.basename(image.path)}: pool")
        rank = len(image.filtered)
        size = v.per_axis(a.size, rank, "--size")
        stride = size if a.stride is None else v.per_axis(a.stride, rank, "--stride")
        dilation = v.per_axis(options["dilation"], rank, "--dilation")
        pad = v.per_axis(options["padding"], rank, "--padding")
        resampling = Resampling(image.data.ndim)
        resampling.then(image.filtered, stride,
                        [d * (k - 1) / 2 - p for d, k, p in zip(dilation, size, pad)])
        return result, resampling


MORPH_OPS = {"dilate": "dilate", "erode": "erode", "open": "opening", "close": "closing",
             "gradient": "morph_gradient", "tophat": "tophat", "blackhat": "blackhat"}


class Morph:
    """imgconv morph OP."""

    def __init__(self, args):
        self.args = args
        self.suffix = args.op
        self.steps = 1
        self.default_range = "clip"
        if args.footprint is not None and args.size is not None:
            raise UserError("--footprint and --size both give the footprint; use one")
        if args.cval is not None and not uses_zero(args.mode):
            # checked here, before any file is read, rather than by the library per file
            raise UserError("--cval applies with --mode zero" + (
                f", not --mode {mode_text(args.mode)}" if args.mode else
                " (without --mode, morph pads with the value that never wins)"))

    def run(self, image, report, threads):
        a = self.args
        options = {"origin": a.origin if a.origin is not None else 0}
        if a.footprint is not None:
            options.update(_arrays.footprint_options(a.footprint, len(image.filtered)))
        else:
            options["size"] = a.size if a.size is not None else 3
        for name in ("mode", "cval"):
            if getattr(a, name) is not None:
                options[name] = getattr(a, name)
        function = getattr(ic, MORPH_OPS[a.op])
        with _batch.Timer() as timer:
            try:
                result = function(image.data, **options, **image.common(function, threads))
            except (ValueError, TypeError) as exc:
                raise UserError(f"{image.path}: {exc}") from None
        shape = np.shape(options["footprint"]) if "footprint" in options else options["size"]
        report.info(f"{image.path}: {a.op} with footprint {a.footprint or 'box'} {shape}, "
                    f"{timer.ms:.1f} ms")
        report.step(f"{os.path.basename(image.path)}: {a.op}")
        return result, Resampling(image.data.ndim)


# --------------------------------------------------------------------------
# Running an operation over the inputs
# --------------------------------------------------------------------------
def check_backend(args):
    """Fail before any file is read where ``--backend`` cannot run: CUDA
    unavailable (one line saying whether CuPy, the driver or a GPU is
    missing), or ``--threads`` given for the GPU."""
    if args.backend == "cpu":
        return
    if args.threads is not None:
        raise UsageError(f"--threads sets CPU threads; --backend {args.backend} takes none")
    from .._dispatch import load

    try:
        load(args.backend)
    except RuntimeError as exc:    # CudaUnavailable
        raise UserError(f"--backend {args.backend}: {exc}") from None


def run_operation(args, operation):
    check_backend(args)
    _chunked.check_options(args)
    with _chunked.scheduler(args):
        return _run_inputs(args, operation)


def _run_inputs(args, operation):
    if args.outdir:
        _batch.check_outdir(args.outdir)
    inputs, left_out = _batch.expand_inputs(args.input, args.outdir)
    if args.output and len(inputs) > 1:
        raise UsageError(f"-o names one output but there are {len(inputs)} inputs; "
                         "use --outdir DIR for a batch")
    batch = len(inputs) > 1
    # steps per file: the operation's, then the write
    report = _batch.Reporter(args.quiet, args.verbose, batch, operation.steps + 1, len(inputs))
    if left_out and not args.quiet:
        report.notice(f"left out {len(left_out)} file{'s' if len(left_out) > 1 else ''} the "
                      f"patterns match in --outdir {args.outdir}: results, not inputs")
    input_paths = [item.path for item in inputs]
    try:
        for index, item in enumerate(inputs):
            out = _batch.output_path(item, operation.suffix, args.output, args.outdir)
            try:
                _process(item.path, out, input_paths, args, operation, report, batch)
            except _Skipped as skip:
                report.counts["skipped"] += 1
                if not args.quiet:
                    report.notice(str(skip))
            except BrokenPipeError:
                raise  # stdout's reader has gone: the batch stops (see cli.main), no file failed
            except Exception as exc:
                if args.debug:
                    raise
                report.counts["failed"] += 1
                report.error(_one_line(exc, item.path, out))
                if not batch:
                    return 1
            finally:
                report.file_done(index)
    finally:
        report.close()
    report.summary()
    return 1 if report.counts["failed"] else 0


class _Skipped(Exception):
    pass


_REPORTED = (UserError, ValueError, TypeError, OSError, ImportError, MemoryError)


def _one_line(exc, path, out=None):
    """The error as one line naming the file (unless it names a path or option already)."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, MemoryError):
        text = f"out of memory ({text})"
    elif not isinstance(exc, _REPORTED):  # a bug, not a user mistake
        text = f"{text} (unexpected {type(exc).__name__}; --debug shows the traceback)"
    named = path in text or (out is not None and out in text) or text.startswith("-")
    return " ".join((text if named else f"{path}: {text}").split())


def _check_input(path):
    """Fail early, before output checks, on inputs that cannot be read."""
    if os.path.isdir(path) and path.rstrip("/\\").lower().endswith(".zarr"):
        return
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory, not an image file")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    file_format(path)


def _check_output(out, path, input_paths, args, batch):
    """Fail, or in a batch skip, before any work on an output that must not or
    cannot be written (rather than after all the filtering)."""
    if os.path.isdir(out) and not out.rstrip("/\\").lower().endswith(".zarr"):
        raise IsADirectoryError(f"{out}: is a directory; the output must be a file name")
    folder = os.path.dirname(os.path.abspath(out))
    if not args.outdir and not os.path.isdir(folder):  # --outdir makes its folders
        raise FileNotFoundError(f"{out}: the folder {folder} does not exist")
    if _batch.same_file(out, path):
        raise UserError(f"{out}: refusing to overwrite an input file")
    is_input = any(_batch.same_file(out, p) for p in input_paths)
    exists = os.path.lexists(out)
    if exists and not args.overwrite and batch:
        # another input of the batch is an existing output like any other (a glob
        # run twice finds the first run's results); --overwrite still spares it
        why = "it is also an input" if is_input else "use --overwrite to replace it"
        raise _Skipped(f"skipped {out}: already exists ({why})")
    if is_input:
        raise UserError(f"{out}: refusing to overwrite an input file")
    if exists and not args.overwrite:
        raise UserError(f"{out}: already exists (use --overwrite to replace it)")


def _process(path, out, input_paths, args, operation, report, batch):
    _check_input(path)
    _check_output(out, path, input_paths, args, batch)
    out_format = file_format(out)  # an unknown output type fails before the work
    with _batch.Timer() as timer:
        image = Image(path, args)
    report.info(f"{path}: read {image.meta.format} {dtype_name(image.source_dtype)} "
                f"{tuple(image.data.shape)}, {timer.ms:.1f} ms")
    if batch or image.is_volume:
        report.start_bar(os.path.basename(path))
    threads = args.threads
    result, resampling = operation.run(image, report, threads)
    final = _to_output(result, image, out, out_format, args, operation, report)
    if image.alpha is not None:
        alpha = image.alpha
        if not resampling.identity or alpha.shape != final.shape[:alpha.ndim]:
            alpha = _arrays.resample_nearest(alpha, final.shape[:alpha.ndim], resampling.step,
                                             resampling.offset)
        final = _arrays.attach_alpha(final, alpha, image.grey_alpha)
    meta = _output_meta(image.meta, resampling)
    if args.outdir:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with _batch.Timer() as timer, _chunked.progress(report, os.path.basename(out)):
        try:
            # a chunked result is computed here, chunk by chunk, as it is written
            ic.write(out, final, meta=meta, overwrite=args.overwrite)
        except FileExistsError:
            raise UserError(f"{out}: already exists (use --overwrite to replace it)") from None
        except ValueError as exc:
            if final.dtype == result.dtype:
                raise
            # the format's message names the array written, in a dtype the user never chose
            raise UserError(f"{exc}; the result is {dtype_name(result.dtype)} (from the "
                            f"{dtype_name(image.source_dtype)} input), converted to "
                            f"{dtype_name(final.dtype)} for {out_format.upper()}") from None
    report.info(f"{out}: wrote {dtype_name(final.dtype)} {final.shape}, {timer.ms:.1f} ms")
    report.step()
    report.written(out)


def _to_output(result, image, out, out_format, args, operation, report):
    """The result in the dtype ``out`` gets (see the README's output table)."""
    colour = image.channel_axis is not None
    if args.dtype is not None:
        dtype = np.dtype(args.dtype)
    elif out_format in FLOAT_FORMATS:
        dtype = result.dtype
    else:
        dtype = _arrays.image_dtype(out_format, image.source_dtype, colour)
    if dtype.kind == "f":
        if args.output_range is not None:
            raise UserError(f"{out}: --output-range applies to integer outputs; this one keeps "
                            f"{dtype} (add --dtype uint8, or write .png)")
        return result.astype(dtype, copy=False)
    how = args.output_range or (operation.default_range if out_format not in FLOAT_FORMATS
                                else "clip")
    scale = None
    if args.dtype is None and args.output_range is None and how != "rescale":
        # the format cannot hold the input's depth: its range maps onto the format's
        scale = _arrays.depth_scale(image.source_dtype, dtype)
        if scale is not None:
            source = np.iinfo(image.source_dtype).max
            report.info(f"{out}: {out_format.upper()} holds {dtype} here, not the input's "
                        f"{dtype_name(image.source_dtype)}: values mapped by the dtype ranges "
                        f"({source} -> {np.iinfo(dtype).max}); --output-range clip keeps them "
                        "as they are")
    return _arrays.to_dtype(result, dtype, how, scale)


def _output_meta(meta, resampling):
    if not resampling.identity:
        meta = meta.resampled(resampling.step, resampling.offset)
    if meta.header is not None and "cal_max" in meta.header:
        # the display window of the input does not fit the filtered values
        header = meta.header.copy()
        header["cal_min"] = header["cal_max"] = 0
        meta = replace(meta, header=header)
    return meta


# --------------------------------------------------------------------------
# imgconv info
# --------------------------------------------------------------------------
def describe_file(path):
    """Facts about one file, as a dict (what 'imgconv info' prints)."""
    array, meta = ic.read(path, with_meta=True)
    facts = {"file": path, "format": meta.format, "shape": list(array.shape),
             "dtype": dtype_name(array.dtype), "axes": list(meta.axis_labels or ()),
             "channel_axis": meta.channel_axis}
    if array.size and array.dtype.kind in "biuf":
        finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
        if finite.size:
            facts["min"], facts["max"] = finite.min().item(), finite.max().item()
            facts["mean"] = float(finite.mean(dtype=np.float64))
        if finite.size != array.size:
            facts["non_finite"] = int(array.size - finite.size)
    if meta.spacing is not None:
        spatial = meta.spatial_axes(array.ndim)
        labels = meta.axis_labels or tuple(f"axis {a}" for a in range(array.ndim))
        facts["spacing"] = [{"axis": a, "label": labels[a], "size": s, "unit": u}
                            for a, s, u in zip(spatial, meta.spacing, meta.units())]
        facts["unit"] = meta.unit
    if meta.affine is not None:
        import nibabel

        facts["orientation"] = "".join(c or "?" for c in nibabel.aff2axcodes(meta.affine))
        facts["affine"] = np.round(meta.affine, 6).tolist()
    return facts


def format_facts(facts):
    lines = [f"{facts['file']}:",
             f"  format   {facts['format']}",
             f"  shape    {tuple(facts['shape'])}" + (
                 f"   axes: {', '.join(facts['axes'])}" if facts["axes"] else ""),
             f"  dtype    {facts['dtype']}"]
    if "min" in facts:
        lines.append(f"  range    {facts['min']:.6g} .. {facts['max']:.6g}   "
                     f"mean {facts['mean']:.6g}")
    if "non_finite" in facts:
        lines.append(f"  non-finite values: {facts['non_finite']}")
    if "spacing" in facts:
        parts = [f"axis {s['axis']} = {s['label']}: {s['size']:g}"
                 + (f" {s['unit']}" if s["unit"] else "") for s in facts["spacing"]]
        lines.append(f"  spacing  {'; '.join(parts)}")
    else:
        lines.append("  spacing  not stored")
    if "orientation" in facts:
        lines.append(f"  orientation  {facts['orientation']} (NIfTI voxel axes i, j, k = array "
                     "axes -1, -2, -3)")
    return "\n".join(lines)


def _json_safe(value):
    """``value`` with every NaN or infinity as None: JSON has no such numbers
    (json.dumps would write bare NaN, which strict parsers refuse), e.g. the
    spacing of a NIfTI header whose pixdim holds NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def run_info(args):
    """Describe every file; one that cannot be read is an error line naming it,
    and the others are still described (exit status 1 at the end)."""
    import json

    failed = 0
    for path in args.file:
        try:
            facts = describe_file(path)
            text = (json.dumps(_json_safe(facts), allow_nan=False) if args.json
                    else format_facts(facts))
        except Exception as exc:  # any reader's error (Pillow's DecompressionBombError...)
            if args.debug:
                raise
            print(f"imgconv: error: {_one_line(exc, path)}", file=sys.stderr, flush=True)
            failed += 1
            continue
        print(text, flush=True)
    return 1 if failed else 0

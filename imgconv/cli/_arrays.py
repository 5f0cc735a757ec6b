"""Arrays from command-line text (kernels, footprints), and what happens to a
result before it is written: the output dtype and range, the alpha channel."""
import os
import re

import numpy as np

from .. import _validate as v
from .._backend import store
from . import _options as opt
from ._options import UserError

#: between two values: one ',' (with spaces around it) or spaces alone; so
#: '1,,2' keeps an empty value between its commas, which is an error
_VALUE_SPLIT = r"\s*,\s*|\s+"
_KERNEL_TEXT_HELP = ("kernel text like '1,2,1;2,4,2;1,2,1' (values split by ',', rows by ';', "
                     "3D slices by '/')")


# --------------------------------------------------------------------------
# Kernels and footprints
# --------------------------------------------------------------------------
class _TableError(ValueError):
    """Kernel text with an empty value, row or slice: '1,,2', '1,2;', '1/'."""


def _values(row, value_split):
    """The numbers of one row; an empty one ('1,,2', a trailing ',') is an error,
    not skipped: a lost value would silently shift the kernel."""
    values = re.split(value_split, row.strip())
    if "" in values:
        raise _TableError(f"empty value in row {row.strip()!r}")
    return [opt.number(value) for value in values]


def _parse_table(text, slice_split, row_split, value_split, strict_rows=True):
    """Nested lists of floats: slices of rows of values.  ``strict_rows``:
    an empty row or slice is an error (inline text: '1,2;;3,4' or '1,2;');
    files skip empty rows instead (comments leave them behind)."""
    slices = []
    for block in re.split(slice_split, text):
        rows = re.split(row_split, block)
        if strict_rows and any(not row.strip() for row in rows):
            raise _TableError("empty row or slice (';;', '//', or ';' or '/' at an end)")
        rows = [_values(row, value_split) for row in rows if row.strip()]
        if rows:
            slices.append(rows)
    return slices


def _table_to_array(slices, source):
    rows = [len(row) for rows in slices for row in rows]
    if not rows:
        raise UserError(f"{source}: the kernel is empty")
    if len(set(rows)) > 1 or len({len(s) for s in slices}) > 1:
        raise UserError(f"{source}: every row (and every slice) must have the same length")
    kernel = np.array(slices, dtype=np.float64)
    while kernel.ndim > 1 and kernel.shape[0] == 1:
        kernel = kernel[0]
    return kernel


def read_kernel(spec, source="--kernel"):
    """A kernel from inline text, a ``.npy`` file or a text file (values split
    by whitespace or ',', rows by lines, 3D slices by blank lines or '/')."""
    where = f"{source} {spec}"
    if os.path.isfile(spec):
        try:
            if spec.lower().endswith(".npy"):
                kernel = np.load(spec, allow_pickle=False)
            else:
                with open(spec, encoding="utf-8") as f:
                    text = "\n".join(line.split("#", 1)[0].rstrip() for line in f)
                kernel = _table_to_array(_parse_table(text.strip(), r"\n\s*\n|/", r"\n|;",
                                                      _VALUE_SPLIT, strict_rows=False), where)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise UserError(f"{where}: cannot read the kernel file ({exc})") from None
    elif spec.lower().endswith((".npy", ".txt", ".csv")):
        raise UserError(f"{where}: no such kernel file")
    else:
        try:
            kernel = _table_to_array(_parse_table(spec, "/", ";", _VALUE_SPLIT), where)
        except _TableError as exc:
            raise UserError(f"{source} {spec!r}: {exc}; write {_KERNEL_TEXT_HELP}") from None
        except ValueError as exc:
            raise UserError(f"{source} {spec!r}: not a file, and not {_KERNEL_TEXT_HELP}: "
                            f"{exc}") from None
    if kernel.dtype.kind not in "biuf" or kernel.size == 0 or not np.all(np.isfinite(kernel)):
        raise UserError(f"{where}: the kernel must hold finite numbers")
    return kernel


def normalize_kernel(kernel):
    """``kernel / kernel.sum()``; a zero-sum kernel (an edge detector) as it is."""
    total = float(np.sum(kernel, dtype=np.float64))
    if abs(total) <= 1e-12 * float(np.abs(kernel).sum()):
        return kernel
    return kernel / total


#: the most cells a disk/ball/cross footprint may have (2**24: a disk of radius
#: 2047, a ball of radius 127).  It is built as a dense array, with an int64
#: grid as large on the way, and morphology costs a pass per footprint row: far
#: beyond this a typo like disk:20000 would only run out of memory or time
MAX_FOOTPRINT_CELLS = 1 << 24


def footprint_options(spec, rank):
    """The footprint arguments of a morphology call from ``--footprint``:
    ``{'size': ...}`` for 'box:5' (or 5x3: the library's O(1)-per-pixel box,
    with no array of that size), else ``{'footprint': bool array}`` for
    'disk:R' (2D), 'ball:R' (3D), 'cross:R', a file or inline 0/1 text."""
    from .. import footprints

    name, colon, size = spec.partition(":")
    name = name.strip().lower()
    if not (colon and name in ("box", "disk", "ball", "cross") and not os.path.exists(spec)):
        return {"footprint": _footprint_from_values(spec)}
    try:
        parts = [opt.integer(p) for p in re.split(r"[x,]", size)]
    except ValueError:
        raise UserError(f"--footprint {spec}: the size must be an int (or AxB for box)") from None
    if len(parts) > 1 and name != "box":
        raise UserError(f"--footprint {spec}: {name} takes one radius")
    wanted = {"disk": 2, "ball": 3}.get(name)
    if wanted is not None and wanted != rank:
        raise UserError(f"--footprint {spec}: a {name} is {wanted}D but the filtered axes "
                        f"are {rank}D (use box or cross, or --axes/--slicewise)")
    value = parts[0] if len(parts) == 1 else tuple(parts)
    try:
        if name == "box":
            v.as_footprint(None, value, rank)  # checks the size; builds no array
            return {"size": value}
        _check_footprint_cells(spec, value, rank)
        shape = {"disk": footprints.disk, "ball": footprints.ball,
                 "cross": lambda r: footprints.cross(rank, radius=r)}[name]
        return {"footprint": np.asarray(shape(value), bool)}
    except (ValueError, TypeError) as exc:
        raise UserError(f"--footprint {spec}: {exc}") from None


def _check_footprint_cells(spec, radius, rank):
    """Refuse a footprint too large to build before building it."""
    if radius < 0:
        return  # the library says why
    cells = (2 * radius + 1) ** rank
    if cells > MAX_FOOTPRINT_CELLS:
        side = "x".join([str(2 * radius + 1)] * rank)
        raise UserError(f"--footprint {spec}: a {side} footprint ({cells:.3g} cells) is beyond "
                        f"the command's limit of {MAX_FOOTPRINT_CELLS} cells (a disk of radius "
                        "2047, a ball of radius 127); box:N has no such limit (it costs the "
                        "same at any size)")


def _footprint_from_values(spec):
    """A footprint file, or inline 0/1 text."""
    kernel = read_kernel(spec, "--footprint")
    if not np.isin(kernel, (0, 1)).all():
        raise UserError(f"--footprint {spec}: a footprint holds 0 and 1 only")
    return kernel.astype(bool)


# --------------------------------------------------------------------------
# Output dtype and range
# --------------------------------------------------------------------------
def to_dtype(result, dtype, output_range, scale=None, bounds=None):
    """``result`` as ``dtype``: float types take the values as they are;
    integer types map them by ``output_range``: 'clip' rounds and saturates
    (the library's ``dtype=`` rule), 'abs' takes the absolute value first,
    'rescale' maps [min, max] of the finite values linearly onto the type's
    range.  ``scale`` (see :func:`depth_scale`) multiplies the values first.
    ``bounds``: 'rescale''s (min, max), where known already.  A dask array
    (a chunked run) is converted chunk by chunk, lazily."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return result.astype(dtype, copy=False)
    info = np.iinfo(dtype)
    work_type = np.float64 if info.bits > 16 or result.dtype == np.float64 else np.float32
    if output_range == "clip" and result.dtype == dtype and scale is None:
        return result
    if type(result).__module__.split(".", 1)[0] == "dask":
        return _to_dtype_chunked(result, dtype, output_range, scale, work_type)
    work = np.asarray(result, dtype=work_type)
    if scale is not None:  # positive: it commutes with 'abs', and 'rescale' undoes it
        work = work * work_type(scale)
    if output_range == "abs":
        work = np.abs(work)
    elif output_range == "rescale":
        if bounds is None:
            finite = work[np.isfinite(work)]
            bounds = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
        low, high = bounds
        if high > low:
            work = (work - low) * (work_type(info.max - info.min) / work_type(high - low)) + info.min
        else:
            work = np.full_like(work, info.min)
    return store(work, np.empty(work.shape, dtype))


def _to_dtype_chunked(result, dtype, output_range, scale, work_type):
    """:func:`to_dtype` of a dask array, chunk by chunk; 'rescale' first
    finds the finite values' range in one pass over the chunks."""
    import dask
    import dask.array as da

    bounds = None
    if output_range == "rescale":
        work = result.astype(work_type)
        if scale is not None:
            work = work * work_type(scale)
        finite = da.where(da.isfinite(work), work, np.nan)
        low, high = dask.compute(da.nanmin(finite), da.nanmax(finite))
        bounds = (0.0, 0.0) if np.isnan(low) else (low, high)
    return result.map_blocks(to_dtype, dtype, output_range, scale, bounds, dtype=dtype)


def depth_scale(source_dtype, dtype):
    """The factor that maps the range of the unsigned ``source_dtype`` onto
    that of the narrower unsigned ``dtype`` (65535 -> 255, ImageMagick's depth
    conversion), or None when ``dtype`` holds every value of ``source_dtype``
    or either is not unsigned.  Clipping instead would turn a 16-bit image
    white almost everywhere in an 8-bit format."""
    source, target = np.dtype(source_dtype), np.dtype(dtype)
    if source.kind == "u" and target.kind == "u" and source.itemsize > target.itemsize:
        return np.iinfo(target).max / np.iinfo(source).max
    return None


def image_dtype(fmt, source_dtype, colour):
    """The integer dtype a PNG/JPEG/BMP output gets: the input's uint8/uint16
    where the format holds it (16 bits: greyscale PNG only), else uint8."""
    if np.dtype(source_dtype).newbyteorder("=") == np.uint16 and fmt == "png" and not colour:
        return np.dtype(np.uint16)
    return np.dtype(np.uint8)


# --------------------------------------------------------------------------
# Alpha channel and resampling
# --------------------------------------------------------------------------
def split_alpha(array, channel_axis):
    """``(colour, alpha)``: grey+alpha and RGBA images (2 or 4 channels on the
    last axis) lose their last channel, kept aside; others come back whole."""
    if channel_axis is None or channel_axis % array.ndim != array.ndim - 1:
        return array, None
    if array.shape[-1] not in (2, 4):
        return array, None
    colour = array[..., :-1]
    if colour.shape[-1] == 1:
        colour = colour[..., 0]
    return colour, array[..., -1]


def resample_nearest(array, shape, step, offset):
    """``array`` sampled at index ``round(step * i + offset)`` (clipped) along
    each axis, giving ``shape``."""
    index = [np.clip(np.rint(np.arange(n) * s + o).astype(np.intp), 0, m - 1)
             for n, s, o, m in zip(shape, step, offset, array.shape)]
    # one axis at a time: the same as np.ix_, and what a dask array (a
    # chunked run) takes too
    for axis, taken in enumerate(index):
        array = array[(slice(None),) * axis + (taken,)]
    return array


def attach_alpha(result, alpha, was_grey_alpha):
    """Put ``alpha`` (already of ``result``'s spatial shape) back as the last channel,
    in ``result``'s dtype: scaled between unsigned integer types of different
    widths (so opaque stays opaque), value for value otherwise."""
    if result.dtype != alpha.dtype:
        src, dst = alpha.dtype, result.dtype
        if src.kind == "u" and dst.kind == "u":
            alpha = np.rint(alpha * (np.iinfo(dst).max / np.iinfo(src).max))
        alpha = alpha.astype(dst)
    if was_grey_alpha:
        result = result[..., None]
    return np.concatenate([result, alpha[..., None]], axis=-1)

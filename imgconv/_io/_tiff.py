"""TIFF pages and stacks through tifffile, with Pillow for what tifffile
decodes only with imagecodecs."""
import math

import numpy as np

from ._common import _Unreadable, _decoding, _optional
from ._memory import _check_fits
from ._meta import ImageMeta
from ._pillow import _pillow_settings, _plain_mode, _read_pillow


def _read_tiff(path):
    tifffile = _optional("tifffile")
    if tifffile is None:
        return _read_pillow(path)
    series = needs_codecs = None
    with _decoding(path, "TIFF"):
        try:
            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                meta = _read_tiff_meta(tif, series, len(series.shape))
                _check_fits(path, series.shape, series.dtype.itemsize)
                array = series.asarray()
        except ValueError as exc:
            if "imagecodecs" not in str(exc):
                raise
            needs_codecs = exc
    if needs_codecs is not None:
        # a compression tifffile decodes only with imagecodecs: Pillow may decode it
        if series is None or len(series.pages) == 1:
            return _read_tiff_page_with_pillow(path, needs_codecs)
        array = _read_tiff_pages_with_pillow(path, series, needs_codecs)
    return array, meta


def _read_tiff_meta(tif, series, ndim):
    """The :class:`ImageMeta` of a TIFF series of ``ndim`` axes: channel axis,
    spacing, axis labels."""
    axes = series.axes
    spacing, unit = _tiff_spacing(tif, axes)
    channel_axis = next((i for i, a in enumerate(axes) if a in "SC"), None)
    if channel_axis == ndim - 1:
        channel_axis = -1
    labels = tuple({"S": "channel", "C": "channel", "Q": "z (page)", "I": "z (page)"}.get(a, a.lower())
                   for a in axes)
    if spacing is not None and len(spacing) != ndim - (channel_axis is not None):
        spacing = None
    return ImageMeta(channel_axis=channel_axis, spacing=spacing, unit=unit, axis_labels=labels)


def _needs_imagecodecs(path, exc, detail=None):
    """The ImportError for a TIFF tifffile cannot decode without imagecodecs
    (``exc`` is what tifffile said) and Pillow could not either."""
    why = f" (and Pillow cannot decode it: {detail})" if detail else ""
    return ImportError(f"{path}: cannot read TIFF: {exc}{why}; pip install imagecodecs")


def _read_tiff_page_with_pillow(path, exc):
    """A one-page TIFF tifffile needs imagecodecs for, read by Pillow."""
    try:
        return _read_pillow(path)
    except _Unreadable:
        raise
    except ValueError as failed:
        raise _needs_imagecodecs(path, exc, str(failed).removeprefix(f"{path}: ")) from None


def _read_tiff_pages_with_pillow(path, series, exc):
    """The pages of ``series`` (a multi-page TIFF tifffile needs imagecodecs
    for) as Pillow decodes them, in the series' shape: ImageJ and microscope
    stacks are often LZW-compressed, which Pillow reads."""
    from PIL import Image, ImageSequence

    try:
        with _pillow_settings(), Image.open(path) as img:
            pages = np.stack([np.asarray(_plain_mode(page))
                              for page in ImageSequence.Iterator(img)])
    except (OSError, SyntaxError, ValueError, EOFError) as failed:
        if isinstance(failed, PermissionError):
            raise
        raise _needs_imagecodecs(path, exc, failed) from None
    shape = tuple(series.shape)
    # the pages must be the series' own: same values, same layout (not planar)
    if (pages.dtype != series.dtype or pages.size != math.prod(shape)
            or pages.shape[1:] != shape[len(shape) - pages.ndim + 1:]):
        raise _needs_imagecodecs(path, exc, f"it reads {pages.shape[0]} pages of "
                                 f"{pages.shape[1:]} {pages.dtype}, not {shape} {series.dtype}")
    return pages.reshape(shape)


def _tiff_spacing(tif, axes):
    """Spacing stored by imgconv (tifffile's JSON description) or ImageJ's."""
    shaped = tif.shaped_metadata
    if shaped and shaped[0].get("spacing") is not None:
        return tuple(float(s) for s in shaped[0]["spacing"]), shaped[0].get("unit")
    imagej = tif.imagej_metadata
    if not imagej or imagej.get("unit") in (None, "pixel", "pixels"):
        return None, None
    tags = tif.pages[0].tags
    sizes = {}
    for axis, tag in (("X", "XResolution"), ("Y", "YResolution")):
        if tag in tags:
            num, den = tags[tag].value
            sizes[axis] = den / num if num else 1.0
    sizes["Z"] = float(imagej.get("spacing", 1.0))
    spatial = [a for a in axes if a in "ZYX"]
    return tuple(sizes.get(a, 1.0) for a in spatial), imagej["unit"]


def _tiff_axes(path, shape, channel):
    """tifffile's letters for the axes of an array of ``shape`` with channels
    on axis ``channel`` (or None): the last two spatial axes are the rows and
    columns of each page, the others count pages (Q); channels are the samples
    of each pixel (S) when last, else an axis of pages (C, as ImageJ's
    hyperstacks).  Written into the file, they bring the channel axis back
    on reading, whatever the channel count."""
    spatial = len(shape) - (channel is not None)
    if spatial < 2:
        besides = "" if channel is None else f" with channel axis {channel}"
        raise ValueError(f"{path}: TIFF holds images of rows and columns; shape {shape}"
                         f"{besides} has {spatial} spatial {'axis' if spatial == 1 else 'axes'} "
                         "(write .npy, or add an axis of length 1)")
    if channel == len(shape) - 2:
        raise ValueError(f"{path}: the channel axis {channel} of shape {shape} lies between the "
                         "rows and the columns, where TIFF cannot store it; move it last or "
                         "before the rows (np.moveaxis)")
    letters = ["Q"] * (spatial - 2) + ["Y", "X"]
    if channel is not None:
        letters.insert(channel, "S" if channel == len(shape) - 1 else "C")
    return "".join(letters)


def _sample_options(channels):
    """tifffile options for pixels of ``channels`` samples.  The last of 2 or 4
    is alpha, as imgconv reads grey+alpha and RGBA; 5 and more are plain
    bands, not RGB plus alpha; a single sample is a grey pixel (tifffile
    refuses 'contig' for it, there being nothing to interleave)."""
    options = {"photometric": "rgb" if channels in (3, 4) else "minisblack"}
    extra = channels - (3 if channels in (3, 4) else 1)
    if extra:
        options["planarconfig"] = "contig"
        options["extrasamples"] = (["unassalpha"] if channels in (2, 4)
                                   else ["unspecified"] * extra)
    return options


def _tiff_options(shape, meta, axes, nbytes):
    """tifffile's ``imwrite`` options for an array of ``shape`` and ``nbytes``."""
    options = {"photometric": "minisblack"}
    if axes.endswith("S"):
        options.update(_sample_options(shape[-1]))
    # tifffile writes these into the first page's description and reads them back
    metadata = {"axes": axes}
    if meta is not None and meta.spacing is not None:
        metadata.update(spacing=[float(s) for s in meta.spacing], unit=meta.unit)
    options["metadata"] = metadata
    options["bigtiff"] = nbytes > 2**32 - 2**25
    return options


def _tifffile_encoder(tifffile, array, meta, axes):
    data = array.astype(np.uint8) if array.dtype == np.bool_ else np.ascontiguousarray(array)
    options = _tiff_options(data.shape, meta, axes, data.nbytes)

    def encode(target):
        tifffile.imwrite(target, data, **options)
    return encode

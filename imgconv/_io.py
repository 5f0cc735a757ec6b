"""Reading and writing images, stacks and volumes, with their metadata.

=============  =====================  ==========================================
format         extensions             read / written through
=============  =====================  ==========================================
PNG            ``.png``               Pillow: uint8 grey, grey+alpha, RGB, RGBA;
                                      uint16 grey
JPEG           ``.jpg`` ``.jpeg``     Pillow: uint8 grey, RGB (written at quality 95)
BMP            ``.bmp``               Pillow: uint8 grey, RGB
TIFF           ``.tif`` ``.tiff``     tifffile (extra ``imgconv[tiff]``): any
                                      numeric dtype, multi-page stacks, voxel
                                      spacing; without it Pillow reads and writes
                                      single pages
NumPy          ``.npy``               numpy; files over 64 MiB are memory-mapped
NIfTI          ``.nii`` ``.nii.gz``   nibabel (extra ``imgconv[medical]``)
=============  =====================  ==========================================

Every write is atomic: the data go to a hidden temporary file in the target
folder, which is renamed into place only once complete and synced to disk, so
a failure (a full disk, an exception, Ctrl-C) never leaves a partial file
behind, and every write error is raised, naming the file.

Reading applies a JPEG's or PNG's EXIF orientation, as viewers and
``cv2.imread`` do (TIFF pages keep their stored layout, as tifffile and ImageJ
read them).  Images of any pixel count are read (Pillow's decompression-bomb
limit is lifted); what is refused is a file whose decoded array would not fit
in memory, checked from its header before any pixel is decoded.  Only regular
files are read: a named pipe or a device would block or never end.  What
Pillow, tifffile and nibabel warn or log while imgconv reads or writes through
them is kept off stderr; when a read fails, the first of it goes into the
error's message.
"""
import contextlib
import errno
import logging
import math
import os
import secrets
import stat
import struct
import threading
import warnings
from dataclasses import dataclass, replace

import numpy as np

__all__ = ["read", "write", "ImageMeta", "EXTENSIONS", "FLOAT_FORMATS", "split_extension",
           "file_format"]

#: extension -> format name
EXTENSIONS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".bmp": "bmp", ".tif": "tiff",
              ".tiff": "tiff", ".npy": "npy", ".nii": "nifti", ".nii.gz": "nifti"}
#: formats that hold float32 exactly
FLOAT_FORMATS = frozenset({"tiff", "npy", "nifti"})
#: .npy files at least this large are memory-mapped (read-only) by default
MMAP_THRESHOLD = 64 << 20

_PILLOW_FORMAT = {"png": "PNG", "jpeg": "JPEG", "bmp": "BMP", "tiff": "TIFF"}
_INSTALL_HINT = {"tifffile": "tiff", "nibabel": "medical"}
#: bytes per pixel Pillow decodes a mode into (every other mode takes 4)
_PILLOW_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
#: the loggers whose lines imgconv keeps off stderr (see _library_messages):
#: nibabel reports header fixes through 'nibabel.global'; Pillow warns through
#: the warnings module
_LIBRARY_LOGGERS = ("tifffile", "nibabel", "nibabel.global")
#: spellings of a length unit (lower case) -> NIfTI's name for it (ImageJ writes
#: micro-metres as the escape \u00B5m in a TIFF's description)
_NIFTI_UNITS = {"mm": "mm", "millimeter": "mm", "millimetre": "mm",
                "um": "micron", "\u00b5m": "micron", "\u03bcm": "micron", "\\u00b5m": "micron",
                "micron": "micron", "microns": "micron", "micrometer": "micron",
                "micrometre": "micron", "m": "meter", "meter": "meter", "metre": "meter"}
#: what a path that is not a regular file is, from its stat mode
_FILE_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class _Unreadable(ValueError):
    """A file imgconv refuses; the message names the file already, so readers
    pass it on as it is rather than wrapping it in "cannot read"."""


# --------------------------------------------------------------------------
# Metadata
# --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ImageMeta:
    """What a file says about its array beyond the values: returned by
    ``read(path, with_meta=True)`` and taken by ``write(path, array, meta=...)``.

    Parameters
    ----------
    format : str, optional
        'png', 'jpeg', 'bmp', 'tiff', 'npy' or 'nifti' (the file read).
    channel_axis : int or None
        Axis holding colour channels (-1 for RGB, RGBA and grey+alpha
        images), None when every axis is spatial (greyscale images, stacks,
        volumes, ``.npy`` arrays).
    spacing : tuple of float, optional
        Voxel size per spatial axis, in array-axis order (the order of
        ``shape``, channel axis left out), e.g. ``(slice, row, column)``
        for a volume; None when the file does not say.
    unit : str, optional
        Unit of ``spacing`` ('mm', 'um', ...).
    axis_labels : tuple of str, optional
        What each array axis is, e.g. ``('k (S)', 'j (A)', 'i (R)')`` for a
        NIfTI volume: array axis 0 is NIfTI's third voxel index ``k``,
        running towards superior.
    affine : ndarray, optional
        NIfTI's 4x4 voxel-to-world matrix, for voxel indices ``(i, j, k)``:
        ``i`` is the *last* array axis (see :func:`read`).
    header : nibabel header, optional
        The NIfTI header, written back with the array.

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> meta = ic.ImageMeta(spacing=(2.5, 0.8, 0.8), unit="mm")
    >>> meta.resampled((2, 2, 2)).spacing
    (5.0, 1.6, 1.6)
    """

    format: str = None
    channel_axis: int = None
    spacing: tuple = None
    unit: str = None
    axis_labels: tuple = None
    affine: np.ndarray = None
    header: object = None

    def spatial_axes(self, ndim):
        """The array axes of an ``ndim``-dimensional array that are not channels.

        Examples
        --------
        >>> import imgconv as ic
        >>> ic.ImageMeta(channel_axis=-1).spatial_axes(3)
        (0, 1)
        """
        channel = None if self.channel_axis is None else self.channel_axis % ndim
        return tuple(a for a in range(ndim) if a != channel)

    def resampled(self, step, offset=0.0):
        """Metadata of an array resampled from this one: along array axis
        ``a``, output index ``i`` sits at input index ``step[a] * i + offset[a]``
        (a stride ``s`` is ``step=s, offset=0``; a ``k``-wide pooling window
        with stride ``s`` and low padding ``p`` is ``step=s, offset=(k-1)/2-p``).

        ``step`` has one entry per array axis (1 for the channel axis),
        ``offset`` one per array axis or a single number; the spacing
        of every spatial axis is multiplied by its step and a NIfTI affine
        moves its origin to the new first voxel.

        Examples
        --------
        >>> import numpy as np, imgconv as ic
        >>> meta = ic.ImageMeta(spacing=(1.0, 1.0), affine=np.eye(4))
        >>> m = meta.resampled((2, 3), offset=(0.5, 1))
        >>> m.spacing, m.affine[:2, 3].tolist()
        ((2.0, 3.0), [1.0, 0.5])
        """
        steps = np.asarray(step, float)
        ndim = steps.size
        offsets = np.broadcast_to(np.asarray(offset, float), (ndim,))
        changes = {}
        if self.spacing is not None:
            axes = self.spatial_axes(ndim)
            changes["spacing"] = tuple(float(s * steps[a]) for s, a in zip(self.spacing, axes))
        if self.affine is not None:
            voxel = np.eye(4)
            for a in range(ndim):
                v = ndim - 1 - a  # array axis a is NIfTI voxel axis ndim-1-a
                if v < 3:
                    voxel[v, v], voxel[v, 3] = steps[a], offsets[a]
            changes["affine"] = np.asarray(self.affine, float) @ voxel
        return replace(self, **changes)


# --------------------------------------------------------------------------
# Paths and optional packages
# --------------------------------------------------------------------------
def split_extension(path):
    """``(stem, extension)`` of ``path``, treating ``.nii.gz`` as one extension.

    Examples
    --------
    >>> from imgconv._io import split_extension
    >>> split_extension("scans/head.nii.gz")
    ('scans/head', '.nii.gz')
    """
    path = os.fspath(path)
    if path.lower().endswith(".nii.gz"):
        return path[:-7], path[-7:]
    return os.path.splitext(path)


def file_format(path):
    """The format name of ``path`` from its extension; ValueError if unsupported.

    Examples
    --------
    >>> from imgconv._io import file_format
    >>> file_format("a.TIF"), file_format("b.nii.gz")
    ('tiff', 'nifti')
    """
    ext = split_extension(path)[1].lower()
    if ext not in EXTENSIONS:
        supported = " ".join(EXTENSIONS)
        raise ValueError(f"{os.fspath(path)}: unsupported file type {ext or '(no extension)'!r}; "
                         f"supported: {supported}")
    return EXTENSIONS[ext]


def _optional(name):
    """The module ``name``, or None when it is not installed."""
    try:
        return __import__(name)
    except ImportError:
        return None


def _require(name, path, what):
    module = _optional(name)
    if module is None:
        raise ImportError(f"{path}: {what} needs the '{name}' package: "
                          f"pip install 'imgconv[{_INSTALL_HINT[name]}]' (or pip install {name})")
    return module


# --------------------------------------------------------------------------
# What the libraries say, and how much they may allocate
# --------------------------------------------------------------------------
@contextlib.contextmanager
def _library_messages(said):
    """Append to ``said`` what Pillow, tifffile and nibabel warn, or log at
    WARNING or above, inside the block, instead of letting it reach stderr:
    the command line's errors are one line, and a failed read adds the first
    of these messages to its own."""
    def take(record):
        # a logger filter: it sees a record before any handler, including the
        # console handler nibabel gives its own logger, and Python's last resort
        if record.levelno < logging.WARNING:
            return True
        try:
            said.append(record.getMessage())
        except Exception:  # a malformed record: its raw text will do
            said.append(str(record.msg))
        return False

    loggers = [logging.getLogger(name) for name in _LIBRARY_LOGGERS]
    for logger in loggers:
        logger.addFilter(take)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield said
            finally:
                said.extend(str(w.message) for w in caught)
    finally:
        for logger in loggers:
            logger.removeFilter(take)


def _with_messages(text, said):
    """``text`` followed by the first of the libraries' messages, on one line."""
    said = list(dict.fromkeys(" ".join(m.split()) for m in said if m.strip()))
    if not said:
        return text
    first = said[0] if len(said[0]) <= 200 else said[0][:197] + "..."
    more = f" and {len(said) - 1} more" if len(said) > 1 else ""
    return f"{text} [the reader said: {first}{more}]"


_PILLOW_SETTINGS_LOCK = threading.RLock()


@contextlib.contextmanager
def _pillow_settings():
    """Pillow's global settings as imgconv reads with, inside the block: no
    decompression-bomb limit (it refuses valid scientific images of 180
    million pixels and warns from 90 million; imgconv checks the memory
    needed instead, see :func:`_check_fits`), and truncated files refused,
    never padded.  A lock keeps two threads from restoring them out of order."""
    from PIL import Image, ImageFile

    with _PILLOW_SETTINGS_LOCK:
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        truncated, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = limit
            ImageFile.LOAD_TRUNCATED_IMAGES = truncated


def _available_memory():
    """Bytes of memory a read may use: Linux's MemAvailable, else the
    physical memory; None when neither is known."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _check_fits(path, shape, itemsize, copies=1):
    """Refuse a file whose decoded array (``shape`` of ``itemsize``-byte items,
    from its header) would not fit in memory, ``copies`` times over (a reader
    may hold several at once).  A forged header claiming 100000 x 100000
    pixels thus fails here, before anything is allocated."""
    nbytes = math.prod(int(n) for n in shape) * itemsize
    available = _available_memory()
    if available is not None and copies * nbytes > available:
        size = " x ".join(str(int(n)) for n in shape)
        needs = f"{copies} x {nbytes / 2**30:.1f}" if copies > 1 else f"{nbytes / 2**30:.1f}"
        raise _Unreadable(f"{path}: too large to read: its {size} array needs {needs} GiB "
                          f"of memory, and {available / 2**30:.1f} GiB is available")


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------
def read(path, *, with_meta=False, mmap=None):
    """Read an image, a TIFF stack, a ``.npy`` array or a NIfTI volume.

    Parameters
    ----------
    path : str or path-like
        ``.png``, ``.jpg``/``.jpeg``, ``.bmp``, ``.tif``/``.tiff``, ``.npy``,
        ``.nii`` or ``.nii.gz``.
    with_meta : bool
        Also return an :class:`ImageMeta` (channel axis, voxel spacing, NIfTI
        affine and header), for :func:`write` to store again.
    mmap : bool, optional
        Memory-map a ``.npy`` file (read-only) instead of loading it; default:
        only files of 64 MiB or more.

    Returns
    -------
    array : ndarray
        In the file's own dtype.  Greyscale images are ``(H, W)``, colour
        images ``(H, W, C)`` (RGB, RGBA, or grey+alpha with C = 2); palette,
        CMYK and 1-bit images are converted to RGB(A)/grey; an EXIF
        orientation is applied, so the array is upright as viewers show it
        (and a written copy needs no orientation tag).  TIFF stacks are
        ``(pages, H, W[, C])``.  NIfTI volumes come back **slowest axis first**,
        ``(k, j, i)`` = ``(z, y, x)`` for an axial scan -- the transpose of
        nibabel's ``(i, j, k)`` and the order the voxels are stored in, so the
        array is C-contiguous; integer data with a NIfTI scale slope/intercept
        come back scaled, as float32 (float64 for 32-bit integers).
    meta : ImageMeta
        Only with ``with_meta=True``.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        The path is missing, a folder, or unreadable.
    ValueError
        Unknown extension, a corrupt or truncated file, one whose array
        would not fit in memory, or a path that is not a regular file (a
        named pipe, a device).
    ImportError
        A NIfTI file without nibabel, a multi-page TIFF without tifffile,
        or a TIFF compressed in a way that needs imagecodecs and Pillow
        cannot decode (the message says what to install).

    Examples
    --------
    >>> import numpy as np, imgconv as ic, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "vol.tif")
    >>> vol = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    >>> ic.write(path, vol, meta=ic.ImageMeta(spacing=(2.0, 0.5, 0.5), unit="mm"))
    >>> again, meta = ic.read(path, with_meta=True)
    >>> bool((again == vol).all()), meta.spacing, meta.channel_axis
    (True, (2.0, 0.5, 0.5), None)
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory, not an image file")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    _check_regular(path)
    fmt = file_format(path)
    if not os.access(path, os.R_OK):
        raise PermissionError(f"{path}: permission denied")
    reader = {"npy": _read_npy, "nifti": _read_nifti, "tiff": _read_tiff}.get(fmt, _read_pillow)
    said = []
    try:
        with _library_messages(said):
            array, meta = reader(path, mmap) if fmt == "npy" else reader(path)
    except PermissionError as exc:
        raise PermissionError(f"{path}: permission denied ({exc.strerror})") from None
    except ValueError as exc:
        if not said:
            raise
        raise ValueError(_with_messages(str(exc), said)) from None
    meta = replace(meta, format=fmt)
    return (array, meta) if with_meta else array


def _check_regular(path):
    """Refuse what is not a regular file: opening a named pipe waits for a
    writer, forever if none comes, and a device never ends."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _FILE_KINDS if test(mode)), "a special file")
        raise ValueError(f"{path}: is {kind}, not an image file")


def _plane_labels(ndim, channel_axis):
    labels = ["z", "y", "x"][-ndim:] if channel_axis is None else ["y", "x", "channel"]
    return tuple(["axis %d" % a for a in range(ndim - len(labels))] + labels)


def _read_npy(path, mmap):
    if mmap is None:
        mmap = os.path.getsize(path) >= MMAP_THRESHOLD
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npy file ({exc})") from None
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{path}: holds several arrays, not one")
    return array, ImageMeta()


def _read_pillow(path):
    from PIL import Image, UnidentifiedImageError

    try:
        with _pillow_settings(), Image.open(path) as img:
            if getattr(img, "n_frames", 1) > 1:
                raise ValueError("has several pages; multi-page files are read as TIFF stacks "
                                 "(install tifffile for TIFF)")
            rawmode = getattr(getattr(img, "png", None), "im_rawmode", "") or ""
            if img.mode in ("RGB", "RGBA") and ";16" in rawmode:
                raise ValueError("is a 16-bit colour PNG, which Pillow reads only as 8 bits per "
                                 "channel; convert it to TIFF to keep the 16 bits")
            # Pillow's pixels, their export to numpy, and the array's own copy
            _check_fits(path, (img.height, img.width), _PILLOW_PIXEL_BYTES.get(img.mode, 4),
                        copies=3)
            img.load()
            if img.format != "TIFF":  # TIFF pages keep their stored layout, as tifffile reads them
                _upright(img)
            array = np.asarray(_plain_mode(img)).copy()
    except _Unreadable:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, PermissionError):
            raise
        raise ValueError(f"{path}: cannot read image ({exc})") from None
    channel_axis = -1 if array.ndim == 3 else None
    return array, ImageMeta(channel_axis=channel_axis,
                            axis_labels=_plane_labels(array.ndim, channel_axis))


def _upright(img):
    """Turn the loaded ``img`` in place as its EXIF orientation says, as viewers
    and ``cv2.imread`` do; a broken EXIF block is ignored, as viewers ignore it."""
    from PIL import ImageOps

    try:
        ImageOps.exif_transpose(img, in_place=True)
    except Exception:  # EXIF parsing raises many types on damaged blocks
        pass


def _plain_mode(img):
    """``img`` in a mode numpy maps to grey, grey+alpha, RGB or RGBA."""
    if img.mode == "P":
        return img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode == "PA":
        return img.convert("RGBA")
    if img.mode == "1":
        return img.convert("L")
    if img.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return img.convert("RGB")
    if img.mode == "I;16B":
        return img.convert("I;16")
    return img


def _read_tiff(path):
    tifffile = _optional("tifffile")
    if tifffile is None:
        return _read_pillow(path)
    series = None
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            axes = series.axes
            spacing, unit = _tiff_spacing(tif, axes)
            _check_fits(path, series.shape, series.dtype.itemsize)
            array = series.asarray()
    except _Unreadable:
        raise
    except ValueError as exc:
        if "imagecodecs" not in str(exc):
            raise ValueError(f"{path}: cannot read TIFF ({exc})") from None
        # a compression tifffile decodes only with imagecodecs: Pillow may decode it
        if series is None or len(series.pages) == 1:
            return _read_tiff_page_with_pillow(path, exc)
        array = _read_tiff_pages_with_pillow(path, series, exc)
    except (tifffile.TiffFileError, OSError, EOFError, IndexError, KeyError) as exc:
        if isinstance(exc, PermissionError):
            raise
        raise ValueError(f"{path}: cannot read TIFF ({exc})") from None
    channel_axis = next((i for i, a in enumerate(axes) if a in "SC"), None)
    if channel_axis == array.ndim - 1:
        channel_axis = -1
    labels = tuple({"S": "channel", "C": "channel", "Q": "z (page)", "I": "z (page)"}.get(a, a.lower())
                   for a in axes)
    if spacing is not None and len(spacing) != array.ndim - (channel_axis is not None):
        spacing = None
    return array, ImageMeta(channel_axis=channel_axis, spacing=spacing, unit=unit,
                            axis_labels=labels)


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


def _read_nifti(path):
    nib = _require("nibabel", path, "reading NIfTI")
    try:
        img = _load_nifti(nib, path)
        header = img.header
        if path.lower().endswith(".gz"):  # decompressed into memory, not memory-mapped
            _check_fits(path, header.get_data_shape(), header.get_data_dtype().itemsize,
                        copies=2)  # scaled integers come back as float32 besides
        # nibabel moves scl_slope/scl_inter from the header to the array proxy
        slope = getattr(img.dataobj, "slope", 1.0)
        inter = getattr(img.dataobj, "inter", 0.0)
        on_disk = header.get_data_dtype()
        scaled = slope != 1 or inter != 0
        if scaled and on_disk.kind in "iub" and on_disk.itemsize <= 2:
            data = img.get_fdata(dtype=np.float32)
        else:
            data = np.asanyarray(img.dataobj)
    except Exception as exc:  # nibabel raises many types on damaged files
        if isinstance(exc, (PermissionError, _Unreadable)):
            raise
        raise ValueError(f"{path}: cannot read NIfTI ({type(exc).__name__}: {exc})") from None
    if data.dtype.kind not in "biuf":
        raise ValueError(f"{path}: NIfTI data of type {data.dtype} (e.g. RGB) is not supported")
    ndim = data.ndim
    zooms = header.get_zooms()[:ndim]
    space_unit = header.get_xyzt_units()[0]
    codes = nib.aff2axcodes(img.affine)
    names = "ijktuvw"
    labels = tuple(f"{names[v]} ({codes[v]})" if v < 3 and codes[v] else names[v]
                   for v in reversed(range(ndim)))
    # zooms are float32: their shortest repr gives the value as written (0.8, not 0.800000011920929)
    spacing = tuple(float(str(np.float32(z))) for z in reversed(zooms))
    return data.T, ImageMeta(spacing=spacing,
                             unit=None if space_unit == "unknown" else space_unit,
                             axis_labels=labels, affine=np.array(img.affine), header=header)


def _load_nifti(nib, path):
    """``nib.load(path)``, for the file ``path`` names whatever the case of its
    extension: given 'a.Nii.gz', nib.load opens 'a.nii.gz'.  NIfTI-1 or -2
    by the header's first field, its own size (348 or 540 bytes)."""
    from nibabel.filebasedimages import ImageFileError

    with nib.openers.ImageOpener(path) as f:  # gunzips a .gz of any case
        head = f.read(540)
    sizes = {struct.pack(order + "i", size): size for order in "<>" for size in (348, 540)}
    size = sizes.get(head[:4])
    if size is None:
        raise ImageFileError("empty file" if not head else "not a NIfTI-1 or NIfTI-2 file")
    if len(head) < size:
        raise ImageFileError(f"truncated header: {len(head)} of {size} bytes")
    image_class = nib.Nifti2Image if size == 540 else nib.Nifti1Image
    return image_class.from_file_map(image_class.make_file_map({"image": path}))


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------
def write(path, array, *, meta=None, overwrite=True):
    """Write ``array`` to ``path`` atomically, in the format its extension names.

    Parameters
    ----------
    path : str or path-like
        The file to write; its folder must exist.  The extension picks the
        format (see :func:`read`).
    array : array_like
        PNG holds uint8 (grey, grey+alpha, RGB, RGBA) and uint16 grey; JPEG
        and BMP uint8 grey and RGB.  TIFF, ``.npy`` and NIfTI hold any
        numeric dtype exactly (float32 stays float32: NIfTI float data are
        written unscaled).  TIFF writes pages of the last two spatial axes
        (needs tifffile for anything Pillow cannot hold), with a last channel
        axis as the samples of each pixel and an earlier one as an axis of
        pages; it records the axes, so :func:`read` returns the same shape and
        channel axis.
    meta : ImageMeta, optional
        From :func:`read`, or made by hand: ``channel_axis`` tells a
        ``(H, W, 3)`` colour image from a 3-page stack (without ``meta``, an
        array of 3 or more dimensions whose last axis has 2 to 4 entries is
        written as colour); TIFF stores ``spacing`` and
        ``unit``; NIfTI keeps ``header`` and ``affine`` (or, without an
        affine, puts ``spacing`` on the diagonal).  PNG, JPEG, BMP and
        ``.npy`` store no spacing.
    overwrite : bool
        False refuses to replace an existing file (FileExistsError), checked
        atomically at the final rename.

    Raises
    ------
    ValueError
        Unknown extension, or an array the format cannot hold (the message
        names the formats that can; TIFF needs two spatial axes besides the
        channels, and no channel axis between the rows and the columns), or
        a ``meta.channel_axis`` out of range.
    FileNotFoundError, IsADirectoryError, FileExistsError, PermissionError
        A missing folder, a path that is a folder, an existing file with
        ``overwrite=False``, an unwritable folder.
    OSError
        Writing failed (a full disk): the message names ``path``, and
        nothing is left behind.
    ImportError
        NIfTI without nibabel, or a TIFF that needs tifffile.

    Examples
    --------
    >>> import numpy as np, imgconv as ic, tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> ic.write(os.path.join(folder, "a.png"), np.zeros((4, 4), np.uint8))
    >>> ic.read(os.path.join(folder, "a.png")).shape
    (4, 4)
    >>> ic.write(os.path.join(folder, "a.png"), np.ones((4, 4), np.uint8), overwrite=False)
    Traceback (most recent call last):
    ...
    FileExistsError: ...a.png: already exists
    >>> os.listdir(folder)  # nothing half-written left behind
    ['a.png']
    """
    path = os.fspath(path)
    fmt = file_format(path)
    array = np.asanyarray(array)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{path}: cannot store an array of type {array.dtype}; "
                         "images and volumes hold real numbers")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{path}: the folder {folder} does not exist")
    with _library_messages([]):  # kept off stderr; a failed write raises its own error
        encode = _encoder(path, fmt, array, meta)  # checks the array fits before any file exists
        # a lower-case extension on the temporary file: nibabel, given '.Nii', writes '.nii'
        _atomic_write(path, split_extension(path)[1].lower(), encode, overwrite)


def _channel_axis(path, array, meta):
    """The array axis holding channels (counted from 0), or None: ``meta``
    decides when given; without it, a last axis of 2 to 4 entries (grey+alpha,
    RGB, RGBA), at any rank."""
    if meta is None:
        return array.ndim - 1 if array.ndim >= 3 and 2 <= array.shape[-1] <= 4 else None
    if meta.channel_axis is None:
        return None
    if not -array.ndim <= meta.channel_axis < array.ndim:
        raise ValueError(f"{path}: channel_axis={meta.channel_axis} is out of range for shape "
                         f"{array.shape}")
    return meta.channel_axis % array.ndim


def _encoder(path, fmt, array, meta):
    """A function writing ``array`` to a given path, once ``array`` is known to fit."""
    if fmt == "npy":
        def encode(target):
            with open(target, "wb") as f:
                np.save(f, array, allow_pickle=False)
        return encode
    if fmt == "nifti":
        return _nifti_encoder(path, array, meta)
    channel = _channel_axis(path, array, meta)
    colour = channel == array.ndim - 1
    if fmt == "tiff":
        axes = _tiff_axes(path, array.shape, channel)
        tifffile = _optional("tifffile")
        if tifffile is not None:
            return _tifffile_encoder(tifffile, array, meta, axes)
        if meta is not None and meta.spacing is not None:
            _require("tifffile", path, "storing the voxel spacing in a TIFF")
    _check_pillow_mode(path, fmt, array, colour)

    def encode(target):
        from PIL import Image

        # JPEG: quality 95 (OpenCV's default) rather than Pillow's 75
        options = {"quality": 95} if fmt == "jpeg" else {}
        Image.fromarray(np.ascontiguousarray(array)).save(target, format=_PILLOW_FORMAT[fmt],
                                                          **options)
        if fmt != "png":  # PNG goes through Python's file object, whose write errors raise
            _check_written(target)
    return encode


def _check_written(target):
    """Raise OSError when the image Pillow has just written does not decode
    in full: Pillow writes the pixels of a BMP, JPEG or TIFF straight to the
    file descriptor and ignores a short write, so on a full disk it returns
    having written part of the file (and the fsync that follows succeeds)."""
    from PIL import Image

    try:
        with _pillow_settings(), Image.open(target) as img:
            img.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if _disk_full(target):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) from None
        raise OSError(errno.EIO, f"the file written does not read back ({exc})") from None


def _disk_full(path):
    """Whether the file system holding ``path`` has no space left (False when unknown)."""
    try:
        return os.statvfs(os.path.dirname(os.path.abspath(path))).f_bavail == 0
    except (AttributeError, OSError):  # no statvfs on Windows
        return False


# (format, dtype, channels) -> Pillow mode; channels 0 = greyscale (H, W)
_PILLOW_MODES = {
    ("png", "uint8", 0): "L", ("png", "uint8", 2): "LA", ("png", "uint8", 3): "RGB",
    ("png", "uint8", 4): "RGBA", ("png", "uint16", 0): "I;16",
    ("jpeg", "uint8", 0): "L", ("jpeg", "uint8", 3): "RGB",
    ("bmp", "uint8", 0): "L", ("bmp", "uint8", 3): "RGB",
    ("tiff", "uint8", 0): "L", ("tiff", "uint8", 2): "LA", ("tiff", "uint8", 3): "RGB",
    ("tiff", "uint8", 4): "RGBA", ("tiff", "uint16", 0): "I;16", ("tiff", "int32", 0): "I",
    ("tiff", "float32", 0): "F",
}


def _check_pillow_mode(path, fmt, array, colour):
    """The Pillow mode ``array`` is written in (as Pillow infers it from the
    array); ValueError if the format cannot hold it."""
    channels = (array.shape[-1] if colour and array.ndim == 3
                else 0 if array.ndim == 2 and not colour else None)
    dtype = array.dtype.newbyteorder("=").name if array.dtype.kind != "b" else "bool"
    mode = _PILLOW_MODES.get((fmt, dtype, channels))
    if mode is None:
        kinds = sorted({f"{d} {'grey' if c == 0 else {2: 'grey+alpha', 3: 'RGB', 4: 'RGBA'}[c]}"
                        for f, d, c in _PILLOW_MODES if f == fmt})
        what = (f"a {array.dtype} array of shape {array.shape}"
                + ("" if array.ndim - colour == 2 else " (not a 2D image)"))
        hint = ("install tifffile for any dtype and stacks" if fmt == "tiff"
                else "write .tif, .npy or .nii.gz to keep it as it is")
        raise ValueError(f"{path}: {fmt.upper()} cannot hold {what}; it holds "
                         f"{', '.join(kinds)} ({hint})")
    return mode


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


def _tifffile_encoder(tifffile, array, meta, axes):
    data = array.astype(np.uint8) if array.dtype == np.bool_ else np.ascontiguousarray(array)
    options = {"photometric": "minisblack"}
    if axes.endswith("S"):
        options.update(_sample_options(data.shape[-1]))
    # tifffile writes these into the first page's description and reads them back
    metadata = {"axes": axes}
    if meta is not None and meta.spacing is not None:
        metadata.update(spacing=[float(s) for s in meta.spacing], unit=meta.unit)
    options["metadata"] = metadata
    options["bigtiff"] = data.nbytes > 2**32 - 2**25

    def encode(target):
        tifffile.imwrite(target, data, **options)
    return encode


def _nifti_encoder(path, array, meta):
    nib = _require("nibabel", path, "writing NIfTI")
    if meta is not None and meta.channel_axis is not None:
        raise ValueError(f"{path}: NIfTI holds volumes, not colour images (channel_axis="
                         f"{meta.channel_axis}); write .png, .tif or .npy instead")
    if not 1 <= array.ndim <= 7:
        raise ValueError(f"{path}: NIfTI holds 1 to 7 dimensions, got shape {array.shape}")
    data = array.astype(np.uint8) if array.dtype == np.bool_ else array
    if data.dtype == np.float16:
        data = data.astype(np.float32)
    data = np.asarray(data).T  # back to NIfTI's (i, j, k) voxel order
    header = None if meta is None or meta.header is None else meta.header.copy()
    affine = None if meta is None or meta.affine is None else np.asarray(meta.affine, float)
    if affine is None:
        affine = np.eye(4)
        spacing = () if meta is None or meta.spacing is None else tuple(reversed(meta.spacing))
        for v, size in enumerate(spacing[:3]):
            affine[v, v] = size
    if header is not None:
        if header.get_data_shape() != data.shape:  # the affine of a header without forms
            header.set_data_shape(data.shape)      # depends on it
        if _move_grid(header, affine):
            # the header's own affine: nibabel then leaves its qform and sform alone,
            # where a different one would overwrite both (qform code 0, sform code 2)
            affine = header.get_best_affine()
    image_class = nib.Nifti1Image
    if header is not None and isinstance(header, nib.Nifti2Header):
        image_class = nib.Nifti2Image
    img = image_class(data, affine, header=header)
    img.set_data_dtype(data.dtype)
    if header is None and meta is not None and meta.unit is not None:
        unit = _NIFTI_UNITS.get(str(meta.unit).strip().lower())
        if unit is not None:
            img.header.set_xyzt_units(unit)

    def encode(target):
        nib.save(img, target)
    return encode


def _move_grid(header, affine):
    """Make ``affine`` the NIfTI ``header``'s affine by moving its voxel grid:
    the qform and the sform (each with its own code, the qform its voxel sizes
    too) both take the change ``V`` with ``affine = best @ V`` (``best`` the
    header's affine, sform before qform), so a stride or a pooling moves and
    scales both alike, and an unchanged grid leaves both as they were.

    Returns False, changing nothing, when the header's affine is singular
    (then nibabel puts ``affine`` in the sform and the qform)."""
    best = header.get_best_affine()
    try:
        change = np.linalg.solve(best, affine)
    except np.linalg.LinAlgError:
        return False
    if np.allclose(change, np.eye(4)):
        return True
    qform, qform_code = header.get_qform(coded=True)
    sform, sform_code = header.get_sform(coded=True)
    if qform_code:
        header.set_qform(qform @ change, code=int(qform_code))  # sets the voxel sizes too
    if sform_code:
        header.set_sform(sform @ change, code=int(sform_code))
    if not qform_code:  # voxel sizes follow the qform where there is one; here, the new grid
        zooms = list(header.get_zooms())
        sizes = np.linalg.norm(affine[:3, :3], axis=0)
        zooms[:3] = sizes[:len(zooms[:3])]
        header.set_zooms(zooms)
    return True


def _atomic_write(path, suffix, encode, overwrite):
    """Run ``encode`` on a new hidden file beside ``path``, then rename it into place."""
    folder, name = os.path.split(os.path.abspath(path))
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp{suffix}")
        try:
            # created with the umask's permissions, unlike tempfile's 0600
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise _write_error(path, exc) from None
    try:
        encode(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())  # a full disk may only show here (delayed allocation, NFS)
        if overwrite:
            os.replace(tmp, path)
        else:
            _rename_no_clobber(tmp, path)
    except BaseException as exc:
        # the error first: the disk is still full while the temporary file exists
        error = (_write_error(path, exc)
                 if isinstance(exc, OSError) and not isinstance(exc, FileExistsError) else None)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if error is None:
            raise
    else:
        return
    # raised out here, the library's exception is not kept as its context: its
    # frames would keep a file open (nibabel does not close it on errors)
    raise error


def _write_error(path, exc):
    """``exc`` again (same OSError type and errno), its message naming ``path``
    rather than the hidden temporary file, and the full disk a short write
    without errno (numpy's and tifffile's "65536 requested and 1980 written")
    comes from."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno is None and _disk_full(path):
        reason = f"{os.strerror(errno.ENOSPC)}: {reason}"
    kind = type(exc) if type(exc).__module__ == "builtins" else OSError
    error = kind(f"{path}: cannot write ({reason})")
    error.errno = exc.errno
    return error


def _rename_no_clobber(tmp, path):
    """Rename ``tmp`` to ``path`` unless ``path`` exists (atomically where
    the file system has hard links)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path}: already exists") from None
    except OSError:  # no hard links here (some network and FAT file systems)
        if os.path.lexists(path):
            raise FileExistsError(f"{path}: already exists") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)

"""``read``: a file's format from its extension, then its reader."""
import os
from dataclasses import replace

from ._common import _check_regular, file_format
from ._messages import _library_messages, _with_messages
from ._nifti import _read_nifti
from ._npy import _read_npy
from ._pillow import _read_pillow
from ._tiff import _read_tiff


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

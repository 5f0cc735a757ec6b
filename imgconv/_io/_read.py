"""``read``: a file's format from its extension, then its reader."""
import os
from dataclasses import replace

from ._chunked import read_chunked, read_zarr
from ._common import _check_regular, file_format
from ._messages import _library_messages, _with_messages
from ._nifti import _read_nifti
from ._npy import _read_npy
from ._pillow import _read_pillow
from ._tiff import _read_tiff


def read(path, chunks=None, *, with_meta=False, mmap=None):
    """Read an image, a TIFF stack, a ``.npy`` array, a NIfTI volume or a zarr array.

    Parameters
    ----------
    path : str or path-like
        ``.png``, ``.jpg``/``.jpeg``, ``.bmp``, ``.tif``/``.tiff``, ``.npy``,
        ``.nii``, ``.nii.gz`` or a ``.zarr`` folder (needs ``zarr``).
    chunks : int, tuple or 'auto', optional
        Return a lazy ``dask.array.Array`` with these chunks (dask's
        notation; needs ``imgconv[dask]``) instead of a numpy array: a
        ``.npy`` file is read through a memory map per chunk, a multi-page
        TIFF page by page, a zarr array chunk by chunk, so the whole file is
        never in memory.  Other formats are read whole, then chunked.
    with_meta : bool
        Also return an :class:`ImageMeta` (channel axis, voxel spacing, NIfTI
        affine and header), for :func:`write` to store again.
    mmap : bool, optional
        Memory-map a ``.npy`` file (read-only) instead of loading it; default:
        only files of 64 MiB or more.

    Returns
    -------
    array : ndarray or dask.array.Array
        In the file's own dtype (a dask array with ``chunks``).  Greyscale images are ``(H, W)``, colour
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
    >>> lazy = ic.read(path, chunks=(1, 3, 4))     # a dask array, one page per chunk
    >>> lazy.chunks
    ((1, 1), (3,), (4,))
    """
    path = os.fspath(path)
    if os.path.isdir(path) and path.rstrip("/\\").lower().endswith(".zarr"):
        if chunks is None:
            array, meta = read_zarr(path)
        else:
            array, meta = read_chunked(path, "zarr", chunks, None)
        meta = replace(meta, format="zarr")
        return (array, meta) if with_meta else array
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory, not an image file")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    _check_regular(path)
    fmt = file_format(path)
    if not os.access(path, os.R_OK):
        raise PermissionError(f"{path}: permission denied")
    if fmt == "zarr":
        raise ValueError(f"{path}: a .zarr array is a folder, and this is a file")
    reader = {"npy": _read_npy, "nifti": _read_nifti, "tiff": _read_tiff}.get(fmt, _read_pillow)
    said = []
    try:
        with _library_messages(said):
            if chunks is not None:
                array, meta = read_chunked(path, fmt, chunks, reader if fmt != "npy" else None)
            else:
                array, meta = reader(path, mmap) if fmt == "npy" else reader(path)
    except PermissionError as exc:
        raise PermissionError(f"{path}: permission denied ({exc.strerror})") from None
    except ValueError as exc:
        if not said:
            raise
        raise ValueError(_with_messages(str(exc), said)) from None
    meta = replace(meta, format=fmt)
    return (array, meta) if with_meta else array

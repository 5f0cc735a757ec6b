"""``write``: the array checked against the format, then written atomically."""
import os

import numpy as np

from ._atomic import _atomic_write
from ._chunked import is_dask_array, npy_stream_encoder, tiff_stream_encoder, write_zarr
from ._common import _optional, _require, file_format, split_extension
from ._messages import _library_messages
from ._nifti import _nifti_encoder
from ._npy import _npy_encoder
from ._pillow import _pillow_encoder
from ._tiff import _tiff_axes, _tifffile_encoder


def write(path, array, *, meta=None, overwrite=True):
    """Write ``array`` to ``path`` atomically, in the format its extension names.

    Parameters
    ----------
    path : str or path-like
        The file to write; its folder must exist.  The extension picks the
        format (see :func:`read`); ``.zarr`` writes a zarr folder (needs
        ``zarr``), replaced as a whole.
    array : array_like or dask.array.Array
        PNG holds uint8 (grey, grey+alpha, RGB, RGBA) and uint16 grey; JPEG
        and BMP uint8 grey and RGB.  TIFF, ``.npy`` and NIfTI hold any
        numeric dtype exactly (float32 stays float32: NIfTI float data are
        written unscaled).  TIFF writes pages of the last two spatial axes
        (needs tifffile for anything Pillow cannot hold), with a last channel
        axis as the samples of each pixel and an earlier one as an axis of
        pages; it records the axes, so :func:`read` returns the same shape and
        channel axis.  zarr holds any real dtype.  A dask array is written
        chunk by chunk to ``.npy`` and zarr (whose chunks are the array's)
        and one chunk of pages at a time to TIFF, so it never needs to fit
        in memory; other formats compute it first.
    meta : ImageMeta, optional
        From :func:`read`, or made by hand: ``channel_axis`` tells a
        ``(H, W, 3)`` colour image from a 3-page stack (without ``meta``, an
        array of 3 or more dimensions whose last axis has 2 to 4 entries is
        written as colour); TIFF and zarr store ``spacing`` and
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
    if is_dask_array(array):
        # streamed chunk by chunk where the format allows; otherwise computed
        if fmt not in ("npy", "zarr", "tiff"):
            array = array.compute()
    else:
        array = np.asanyarray(array)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{path}: cannot store an array of type {array.dtype}; "
                         "images and volumes hold real numbers")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{path}: the folder {folder} does not exist")
    if fmt == "zarr":
        if meta is not None and meta.channel_axis is not None:
            _channel_axis(path, array, meta)
        write_zarr(path, array, meta, overwrite)
        return
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory")
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
        return npy_stream_encoder(array) if is_dask_array(array) else _npy_encoder(array)
    if fmt == "nifti":
        return _nifti_encoder(path, array, meta)
    channel = _channel_axis(path, array, meta)
    colour = channel == array.ndim - 1
    if fmt == "tiff":
        axes = _tiff_axes(path, array.shape, channel)
        tifffile = _optional("tifffile")
        if tifffile is not None and is_dask_array(array):
            return tiff_stream_encoder(array, meta, axes)
        if is_dask_array(array):
            array = array.compute()
        if tifffile is not None:
            return _tifffile_encoder(tifffile, array, meta, axes)
        if meta is not None and meta.spacing is not None:
            _require("tifffile", path, "storing the voxel spacing in a TIFF")
    return _pillow_encoder(path, fmt, array, colour)

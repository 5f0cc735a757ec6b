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
zarr           ``.zarr`` (a folder)   zarr (extra ``imgconv[dask]``)
=============  =====================  ==========================================

Every write is atomic: the data go to a hidden temporary file in the target
folder, which is renamed into place only once complete and synced to disk, so
a failure (a full disk, an exception, Ctrl-C) never leaves a partial file
behind, and every write error is raised, naming the file.

Reading applies a JPEG's or PNG's EXIF orientation, as viewers and
``cv2.imread`` do (TIFF pages keep their stored layout, as tifffile and ImageJ
read them).  Images of any pixel count are read (Pillow's decompression-bomb
limit is lifted); what is refused is a file whose decoded array would not fit
in memory, checked from its header before any pixel is decoded, and a
damaged file, whatever the library reading it raised: always a ValueError
naming the file (a PNG whose compressed pixel stream ends before its last
row is one, which Pillow would pad with zeros).  Only regular
files are read: a named pipe or a device would block or never end.  What
Pillow, tifffile and nibabel warn or log while imgconv reads or writes through
them is kept off stderr; when a read fails, the first of it goes into the
error's message.

One module per concern: ``_common`` (extensions, formats, optional
packages), ``_meta`` (:class:`ImageMeta`), ``_messages`` (the libraries'
warnings and logs), ``_memory`` (what a read may allocate), one module per
format (``_pillow``, ``_tiff``, ``_npy``, ``_nifti``), ``_chunked`` (lazy
dask reads with ``chunks=``, streamed writes of dask arrays, zarr),
``_atomic`` (atomic writes), and ``_read``/``_write``, which dispatch on the
format.

Examples
--------
>>> import numpy as np, imgconv as ic, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "a.npy")
>>> ic.write(path, np.arange(6).reshape(2, 3))
>>> ic.read(path).tolist()
[[0, 1, 2], [3, 4, 5]]
"""
from ._common import EXTENSIONS, FLOAT_FORMATS, dtype_name, file_format, split_extension
from ._meta import ImageMeta
from ._read import read
from ._write import write

__all__ = ["read", "write", "ImageMeta", "EXTENSIONS", "FLOAT_FORMATS", "split_extension",
           "file_format", "dtype_name"]

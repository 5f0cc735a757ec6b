"""Reading and writing images and arrays.

PNG/JPEG/BMP/TIFF go through Pillow, ``.npy`` through numpy.  Writes are
atomic: the data go to a temporary file in the target folder, which is renamed
into place only once complete, so a failure never leaves a partial file.
"""
import os
import tempfile

import numpy as np

__all__ = ["read", "write", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
ARRAY_EXTENSIONS = (".npy",)


def _extension(path):
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in IMAGE_EXTENSIONS + ARRAY_EXTENSIONS:
        supported = ", ".join(IMAGE_EXTENSIONS + ARRAY_EXTENSIONS)
        raise ValueError(f"{path}: unsupported file type {ext or '(none)'!r}; supported: {supported}")
    return ext


def read(path):
    """Read an image (PNG/JPEG/BMP/TIFF) or a ``.npy`` array.

    Greyscale images come back as ``(H, W)``, colour ones as ``(H, W, C)``
    (RGB or RGBA), in the file's own dtype (uint8, uint16, ...).

    Examples
    --------
    >>> import numpy as np, imgconv as ic, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npy")
    >>> ic.write(path, np.eye(3, dtype=np.float32))
    >>> ic.read(path).dtype
    dtype('float32')
    """
    path = os.fspath(path)
    ext = _extension(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory, not an image")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if ext == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ValueError(f"{path}: not a readable .npy file ({exc})") from None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if img.mode == "P":
                img = img.convert("RGBA" if "transparency" in img.info else "RGB")
            elif img.mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
                img = img.convert("L" if img.mode == "1" else "RGB")
            elif img.mode == "I;16B":
                img = img.convert("I;16")
            return np.asarray(img).copy()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"{path}: cannot read image ({exc})") from None


def write(path, array, *, overwrite=True):
    """Write ``array`` to ``path`` atomically (temporary file, then rename).

    Images need uint8 (or uint16 greyscale for PNG/TIFF); ``.npy`` takes any
    array.  ``overwrite=False`` refuses to replace an existing file.

    Examples
    --------
    >>> import numpy as np, imgconv as ic, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.png")
    >>> ic.write(path, np.zeros((4, 4), np.uint8))
    >>> ic.read(path).shape
    (4, 4)
    """
    path = os.fspath(path)
    ext = _extension(path)
    array = np.asarray(array)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path}: already exists (use --overwrite to replace it)")
    if ext != ".npy":
        _check_image_array(path, ext, array)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".imgconv-", suffix=ext, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            if ext == ".npy":
                np.save(f, array, allow_pickle=False)
            else:
                from PIL import Image

                fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}.get(
                    ext, ext[1:].upper())
                Image.fromarray(array).save(f, format=fmt)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _check_image_array(path, ext, array):
    ok_dtype = array.dtype == np.uint8 or (
        array.dtype == np.uint16 and array.ndim == 2 and ext in (".png", ".tif", ".tiff"))
    if not ok_dtype:
        raise ValueError(f"{path}: {ext} images hold uint8 (or 16-bit greyscale PNG/TIFF); "
                         f"got {array.dtype} — write .npy to keep other dtypes")
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ValueError(f"{path}: an image must be (H, W), (H, W, 3) or (H, W, 4); "
                         f"got shape {array.shape}")

"""PNG, JPEG, BMP (and TIFF without tifffile) through Pillow: its global
settings while imgconv reads, decoding, and encoding."""
import contextlib
import errno
import os
import struct
import threading
import zlib

import numpy as np

from ._atomic import _disk_full
from ._common import _decoding, dtype_name
from ._memory import _check_fits
from ._meta import ImageMeta, _plane_labels


_PILLOW_FORMAT = {"png": "PNG", "jpeg": "JPEG", "bmp": "BMP", "tiff": "TIFF"}
#: bytes per pixel Pillow decodes a mode into (every other mode takes 4)
_PILLOW_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}


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


def _read_pillow(path):
    from PIL import Image

    with _decoding(path, "image"), _pillow_settings(), Image.open(path) as img:
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
        if img.format == "PNG":
            _check_png_stream(path)
        if img.format != "TIFF":  # TIFF pages keep their stored layout, as tifffile reads them
            _upright(img)
        array = np.asarray(_plain_mode(img)).copy()
    channel_axis = -1 if array.ndim == 3 else None
    return array, ImageMeta(channel_axis=channel_axis,
                            axis_labels=_plane_labels(array.ndim, channel_axis))


#: samples per pixel of each PNG colour type (grey, RGB, palette, grey+alpha, RGBA)
_PNG_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
#: Adam7's seven passes: first column, first row, column step, row step
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))


def _check_png_stream(path):
    """ValueError when the PNG's pixel stream ends before the rows its header
    declares.  Pillow stops decoding where the zlib stream ends and leaves the
    rows after it zero, without an error even with truncated images refused:
    a valid stream holding 4 of 8 rows reads as 4 rows of data and 4 of 0.
    The stream is inflated again here, in pieces, only to count its bytes."""
    with open(path, "rb") as f:
        f.seek(8)  # the signature, which Pillow has checked
        length, tag = struct.unpack(">I4s", f.read(8))
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", f.read(13))
        f.seek(length - 13 + 4, os.SEEK_CUR)  # the rest of IHDR and its CRC
        samples = _PNG_SAMPLES[colour] * depth
        expected = 0
        for x, y, dx, dy in _ADAM7 if interlace else ((0, 0, 1, 1),):
            columns, rows = -(-(width - x) // dx), -(-(height - y) // dy)
            if columns > 0 and rows > 0:  # a filter byte, then the samples in whole bytes
                expected += rows * (1 + (columns * samples + 7) // 8)
        inflate = zlib.decompressobj()
        found = 0
        while found < expected and not inflate.eof:
            head = f.read(8)
            if len(head) < 8:
                break
            length, tag = struct.unpack(">I4s", head)
            data = f.read(length)
            f.seek(4, os.SEEK_CUR)  # CRC
            if tag == b"IEND":
                break
            while tag == b"IDAT" and data and found < expected and not inflate.eof:
                found += len(inflate.decompress(data, 1 << 20))
                data = inflate.unconsumed_tail
    if found < expected:
        held = (f"{found // (expected // height)} of the {height} rows" if not interlace
                else f"{found} of the {expected} bytes")
        raise ValueError(f"truncated pixel data: the PNG's compressed stream holds {held} "
                         "its header declares")


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


def _pillow_encoder(path, fmt, array, colour):
    """A function writing ``array`` (colour channels last when ``colour``)
    through Pillow; ValueError now if the format cannot hold it."""
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
        what = (f"a {dtype_name(array.dtype)} array of shape {array.shape}"
                + ("" if array.ndim - colour == 2 else " (not a 2D image)"))
        hint = ("install tifffile for any dtype and stacks" if fmt == "tiff"
                else "write .tif, .npy or .nii.gz to keep it as it is")
        raise ValueError(f"{path}: {fmt.upper()} cannot hold {what}; it holds "
                         f"{', '.join(kinds)} ({hint})")
    return mode

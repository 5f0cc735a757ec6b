"""File names, formats, optional packages, and what a readable file is."""
import contextlib
import os
import stat

import numpy as np


#: extension -> format name
EXTENSIONS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".bmp": "bmp", ".tif": "tiff",
              ".tiff": "tiff", ".npy": "npy", ".nii": "nifti", ".nii.gz": "nifti",
              ".zarr": "zarr"}
#: formats that hold float32 exactly
FLOAT_FORMATS = frozenset({"tiff", "npy", "nifti", "zarr"})
_INSTALL_HINT = {"tifffile": "tiff", "nibabel": "medical", "zarr": "dask"}
#: what a path that is not a regular file is, from its stat mode
_FILE_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class _Unreadable(ValueError):
    """A file imgconv refuses; the message names the file already, so readers
    pass it on as it is rather than wrapping it in "cannot read"."""


#: what a reader passes on as it is: documented errors of their own
_PASSED_ON = (_Unreadable, PermissionError, ImportError, MemoryError)


@contextlib.contextmanager
def _decoding(path, what):
    """Raise what goes wrong in the block as the documented ValueError naming
    ``path``: "cannot read ``what`` (...)".  Damaged files make the libraries
    raise nearly any type (tifffile ZeroDivisionError, TypeError,
    AssertionError; zlib its own error; numpy tokenize's TokenError), which a
    caller cannot catch as a bad file; the type goes into the message when its
    own text does not say enough."""
    try:
        yield
    except _PASSED_ON:
        raise
    except Exception as exc:
        raise ValueError(f"{path}: cannot read {what} ({_reason(exc)})") from None


def _reason(exc):
    """``exc``'s message, after its type unless that is ValueError, OSError or
    EOFError (whose messages say what failed)."""
    text = str(exc) or "no detail"
    if isinstance(exc, (ValueError, OSError, EOFError)):
        return text
    kind = type(exc)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    return f"{name}: {text}"


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


def dtype_name(dtype):
    """``dtype`` as people read it: numpy's name, and the byte order when it is
    not this machine's (a NIfTI or .npy file may hold big-endian data, which
    numpy prints as '>i2').

    Examples
    --------
    >>> import sys, numpy as np
    >>> from imgconv._io import dtype_name
    >>> dtype_name(np.float32)
    'float32'
    >>> swapped = ">i2" if sys.byteorder == "little" else "<i2"
    >>> dtype_name(swapped) == f"int16 ({'big' if sys.byteorder == 'little' else 'little'}-endian)"
    True
    """
    dtype = np.dtype(dtype)
    if dtype.isnative:  # also '<' spelled out on a little-endian machine, as nibabel does
        return dtype.name
    order = "big-endian" if dtype.byteorder == ">" else "little-endian"
    return f"{dtype.newbyteorder('=').name} ({order})"


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


def _check_regular(path):
    """Refuse what is not a regular file: opening a named pipe waits for a
    writer, forever if none comes, and a device never ends."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _FILE_KINDS if test(mode)), "a special file")
        raise ValueError(f"{path}: is {kind}, not an image file")

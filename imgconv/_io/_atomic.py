"""Atomic writes: a hidden temporary file beside the target, renamed into
place once complete and synced, and every write error naming the target."""
import errno
import os
import secrets
import sys


def _disk_full(path):
    """Whether the file system holding ``path`` has no space left (False when unknown)."""
    try:
        return os.statvfs(os.path.dirname(os.path.abspath(path))).f_bavail == 0
    except (AttributeError, OSError):  # no statvfs on Windows
        return False


def _atomic_write(path, suffix, encode, overwrite):
    """Run ``encode`` on a new hidden file beside ``path``, then rename it into place."""
    folder, name = os.path.split(os.path.abspath(path))
    while True:
        tmp = os.path.join(folder, _temporary_name(folder, name, suffix))
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


def _temporary_name(folder, name, suffix):
    """``.NAME.XXXXXXXX.tmpSUFFIX``, a new hidden name for a file being written
    to ``name``, with NAME cut short (at a whole character) as far as needed
    to keep it within the file system's limit on a name's bytes: the 18 bytes
    added to a '.png' would otherwise make a valid name of 238 to 255 bytes
    impossible to write."""
    tail = f".{secrets.token_hex(4)}.tmp{suffix}"
    room = _name_max(folder) - len(os.fsencode("." + tail))
    encoded = os.fsencode(name)
    if len(encoded) > room:
        # dropping a partly cut character ('ignore') only shortens it further
        name = encoded[:max(room, 0)].decode(sys.getfilesystemencoding(), "ignore")
    return f".{name}{tail}"


def _name_max(folder):
    """The most bytes a name in ``folder`` may have (255 when the system does not say)."""
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, ValueError, OSError):  # no pathconf on Windows
        return 255
    return limit if limit > 0 else 255  # -1: no limit stated


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

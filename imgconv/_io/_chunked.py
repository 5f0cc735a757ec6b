"""Chunked reading and streamed writing, for volumes larger than memory:
``read(path, chunks=...)`` as a lazy dask array (``.npy`` memory-mapped per
chunk, multi-page TIFF page by page, zarr chunk by chunk), and ``write`` of
a dask array chunk by chunk (``.npy``, zarr, TIFF).

Each chunk's reader and writer holds only the file's path and layout (never
an open file or a memory map), so the tasks pickle to dask.distributed
workers that share the file system.  zarr is also a format of its own here:
a ``.zarr`` folder, read and written whole without ``chunks``.
"""
import itertools
import math
import os
import secrets
import shutil
from typing import NamedTuple

import numpy as np

from ._common import _decoding, _optional
from ._meta import ImageMeta
from ._npy import npy_layout

_INSTALL = "pip install 'imgconv[dask]'"


def _dask_array():
    try:
        import dask.array
    except ImportError:
        raise ImportError(f"reading or writing in chunks needs dask: {_INSTALL}") from None
    return dask.array


def _zarr(path):
    zarr = _optional("zarr")
    if zarr is None:
        raise ImportError(f"{path}: zarr files need the 'zarr' package: {_INSTALL} "
                          "(or pip install zarr)")
    return zarr


def is_dask_array(array):
    return type(array).__module__.split(".", 1)[0] == "dask" and hasattr(array, "chunks")


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------
class _NpyBlocks:
    """The data of a ``.npy`` file as an array-like whose slices read only
    what they cover, by plain reads into a buffer of their own: a memory map
    would count every page around the rows it touches in the process's
    resident memory while it is open (for a chunk of a wide volume, several
    times the chunk)."""

    def __init__(self, path, shape, dtype, offset, fortran=False):
        self.path, self.shape, self.dtype, self.offset = path, tuple(shape), np.dtype(dtype), offset
        self.ndim, self.fortran = len(self.shape), fortran

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (self.ndim - len(key))
        if self.fortran:    # stored as the C-order array of the reversed shape
            return _read_box(self.path, self.shape[::-1], self.dtype, self.offset,
                             key[::-1]).transpose()
        return _read_box(self.path, self.shape, self.dtype, self.offset, key)


def _read_box(path, shape, dtype, offset, key):
    """``array[key]`` of the C-ordered array of ``shape`` stored at
    ``offset`` in ``path``: the bounding box of ``key`` read row block by
    row block (whole rows of the last axis, the second-last axis's range at
    once), then ``key`` applied within it."""
    box, within = [], []
    for k, n in zip(key, shape):
        if isinstance(k, slice):
            start, stop, step = k.indices(n)
            values = range(start, stop, step)
            if not values:
                return np.empty(tuple(len(range(*kk.indices(nn))) if isinstance(kk, slice) else 0
                                      for kk, nn in zip(key, shape) if isinstance(kk, slice)),
                                dtype)
            lo, hi = min(values), max(values) + 1
            box.append((lo, hi))
            within.append(slice(values.start - lo, None, step) if step > 0 else
                          slice(values.start - lo, (values[-1] - lo - 1) if values[-1] > lo
                                else None, step))
        else:
            index = int(k) % n if -n <= int(k) < n else None
            if index is None:
                raise IndexError(f"index {k} is out of bounds for an axis of {n}")
            box.append((index, index + 1))
            within.append(0)
    itemsize = dtype.itemsize
    strides = [itemsize * math.prod(shape[a + 1:]) for a in range(len(shape))]
    out = np.empty(tuple(hi - lo for lo, hi in box), dtype)
    with open(path, "rb") as f:
        if len(shape) == 0:
            f.seek(offset)
            f.readinto(out)
        elif len(shape) == 1:
            f.seek(offset + box[0][0] * itemsize)
            f.readinto(out)
        else:
            (y0, y1), (x0, x1) = box[-2], box[-1]
            # a box of whole rows is read straight into place
            whole_rows = (x0, x1) == (0, shape[-1])
            rows = None if whole_rows else np.empty((y1 - y0, shape[-1]), dtype)
            leading = itertools.product(*(range(lo, hi) for lo, hi in box[:-2]))
            for index in leading:
                place = tuple(i - lo for i, (lo, _) in zip(index, box[:-2]))
                target = out[place] if whole_rows else rows
                f.seek(offset + sum(i * st for i, st in zip(index, strides)) + y0 * strides[-2])
                if f.readinto(target) != target.nbytes:
                    raise ValueError(f"{path}: truncated while reading")
                if not whole_rows:
                    out[place] = rows[:, x0:x1]
    return out[tuple(within)]


class _TiffPages:
    """The pages of a TIFF series as an array-like whose slices decode only
    the pages they cover."""

    def __init__(self, path, shape, dtype, page_axes):
        self.path, self.shape, self.dtype = path, tuple(shape), np.dtype(dtype)
        self.ndim, self.page_axes = len(self.shape), page_axes

    def __getitem__(self, key):
        import tifffile

        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (self.ndim - len(key))
        leading = self.shape[:self.page_axes]
        numbers = np.arange(math.prod(leading)).reshape(leading)[key[:self.page_axes]]
        with tifffile.TiffFile(self.path) as tif:
            series = tif.series[0]
            pages = series.asarray(key=[int(i) for i in numbers.ravel()]) if numbers.size else \
                np.empty((0,) + self.shape[self.page_axes:], self.dtype)
        pages = pages.reshape(numbers.shape + self.shape[self.page_axes:])
        return pages[(slice(None),) * numbers.ndim + key[self.page_axes:]]


class FileSource(NamedTuple):
    """Where a dask array made by :func:`read_chunked` reads its chunks from,
    so that a filter applied to it can read each block with its halo in the
    same task (:mod:`imgconv.dask._backend`) instead of assembling it from
    neighbouring chunks."""

    name: str            # the dask array's name: the source holds for that array only
    blocks: object       # an array-like whose slices read only what they cover
    slab_axes: tuple     # axes a read spans whole anyway (rows, pages): worth reading
    #                      several chunks' width at once


def file_source(array):
    """The :class:`FileSource` of a dask array exactly as
    :func:`read_chunked` returned it, else None (anything applied to it, a
    rechunk included, makes another array, of another name)."""
    source = getattr(array, "_imgconv_file_source", None)
    return source if source is not None and source.name == array.name else None


def _from_source(da, blocks, chunks, slab_axes):
    array = da.from_array(blocks, chunks=chunks, meta=np.empty((0,) * blocks.ndim, blocks.dtype))
    array._imgconv_file_source = FileSource(array.name, blocks, slab_axes)
    return array


def read_chunked(path, fmt, chunks, reader):
    """``(dask array, ImageMeta)`` of the file at ``path``: lazily for
    ``.npy``, TIFF and zarr; other formats are read whole (``reader``) and
    then chunked."""
    da = _dask_array()
    if fmt == "npy":
        with _decoding(path, ".npy file"):
            shape, fortran, dtype, offset = _npy_layout(path)
            if dtype is None:   # a header only numpy reads: its own memory map
                array = np.load(path, mmap_mode="r", allow_pickle=False)
                return da.from_array(array, chunks=chunks), ImageMeta()
            declared = math.prod(shape) * dtype.itemsize
            if os.path.getsize(path) - offset < declared:
                raise ValueError(f"truncated: its header declares {declared} bytes of data")
        # a read spans whole rows of the axis stored contiguously
        rows = () if not shape else (0,) if fortran else (len(shape) - 1,)
        return _from_source(da, _NpyBlocks(path, shape, dtype, offset, fortran), chunks,
                            rows), ImageMeta()
    if fmt == "zarr":
        array, meta = _open_zarr(path)
        return da.from_zarr(array, chunks=chunks if chunks is not None else array.chunks), meta
    if fmt == "tiff" and _optional("tifffile") is not None:
        lazy = _tiff_lazy(path, chunks, da)
        if lazy is not None:
            return lazy
    array, meta = reader(path)
    return da.from_array(array, chunks=chunks), meta


def _npy_layout(path):
    """:func:`npy_layout`, refusing arrays of Python objects."""
    shape, fortran, dtype, offset = npy_layout(path)
    if dtype is not None and dtype.hasobject:
        raise ValueError("holds Python objects, not numbers")
    return shape, fortran, dtype, offset


def _tiff_lazy(path, chunks, da):
    """A multi-page TIFF as pages read per chunk (None for one page or a
    series tifffile cannot decode alone, which the whole-file reader handles)."""
    import tifffile

    from ._tiff import _read_tiff_meta

    with _decoding(path, "TIFF"):
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            if len(series.pages) < 2:
                return None
            try:
                series.pages[0].asarray()
            except ValueError as exc:
                if "imagecodecs" in str(exc):
                    return None     # the whole-file reader's Pillow fallback decodes it
                raise
            shape, dtype = tuple(series.shape), series.dtype
            page_shape = tuple(series.pages[0].shape)
            meta = _read_tiff_meta(tif, series, len(shape))
    page_axes = len(shape) - len(page_shape)
    if page_axes < 1:
        return None
    pages = _TiffPages(path, shape, dtype, page_axes)
    # a read decodes whole pages: the axes within a page, the last first
    within_pages = tuple(range(len(shape) - 1, page_axes - 1, -1))
    return _from_source(da, pages, chunks, within_pages), meta


def _open_zarr(path):
    zarr = _zarr(path)
    with _decoding(path, "zarr array"):
        array = zarr.open_array(path, mode="r")
    attrs = dict(array.attrs.get("imgconv", {}))
    spacing = attrs.get("spacing")
    meta = ImageMeta(channel_axis=attrs.get("channel_axis"),
                     spacing=None if spacing is None else tuple(float(s) for s in spacing),
                     unit=attrs.get("unit"))
    return array, meta


def read_zarr(path):
    """A zarr array read whole, and its meta."""
    array, meta = _open_zarr(path)
    return np.asarray(array[...]), meta


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------
class _NpyTarget:
    """The data section of a ``.npy`` file being written, as a target for
    ``dask.array.store``: each chunk opens the file by its path."""

    def __init__(self, path, shape, dtype, offset):
        self.path, self.shape, self.dtype, self.offset = path, shape, np.dtype(dtype), offset

    def __setitem__(self, key, value):
        data = np.memmap(self.path, self.dtype, "r+", self.offset, self.shape)
        data[key] = value
        data.flush()
        del data


def npy_stream_encoder(array):
    """Write the dask ``array`` into a ``.npy`` file chunk by chunk."""
    da = _dask_array()
    dtype = array.dtype if array.dtype.isnative else array.dtype.newbyteorder("=")

    def encode(target):
        header = np.lib.format.open_memmap(target, mode="w+", dtype=dtype, shape=array.shape)
        offset = header.offset
        del header
        da.store(array, _NpyTarget(target, array.shape, dtype, offset), lock=False)
    return encode


def tiff_stream_encoder(array, meta, axes):
    """Write the dask ``array`` as TIFF pages, one chunk of pages computed at a time."""
    import tifffile

    from ._tiff import _tiff_options

    options = _tiff_options(array.shape, meta, axes, array.dtype.itemsize * math.prod(array.shape))
    page_axes = len(axes) - 2 - axes.endswith("S")
    slab = array.reshape((-1,) + array.shape[page_axes:]) if page_axes != 1 else array
    if page_axes == 0:
        slab = array[None]

    def pages():
        start = 0
        for depth in slab.chunks[0]:
            block = np.asarray(slab[start:start + depth].compute())
            if block.dtype == np.bool_:
                block = block.astype(np.uint8)
            yield from block
            start += depth

    def encode(target):
        dtype = np.uint8 if array.dtype == np.bool_ else array.dtype
        tifffile.imwrite(target, pages(), shape=array.shape, dtype=dtype, **options)
    return encode


def write_zarr(path, array, meta, overwrite):
    """Write ``array`` (numpy or dask) into the zarr folder ``path``
    atomically: into a hidden folder beside it, renamed into place when
    complete.  A dask array goes chunk by chunk, its chunks the zarr's."""
    zarr = _zarr(path)
    path = os.path.abspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path}: already exists")
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
    try:
        if is_dask_array(array):
            da = _dask_array()
            regular = tuple(c[0] for c in array.chunks)
            if any(len(set(c[:-1])) > 1 or (len(c) > 1 and c[-1] > c[0]) for c in array.chunks):
                array = array.rechunk(regular)
            target = zarr.open_array(tmp, mode="w", shape=array.shape, dtype=array.dtype,
                                     chunks=tuple(max(1, c) for c in regular))
            da.store(array, target, lock=False)
        else:
            array = np.asarray(array)
            target = zarr.open_array(tmp, mode="w", shape=array.shape, dtype=array.dtype)
            target[...] = array
        attrs = {}
        if meta is not None:
            if meta.channel_axis is not None:
                attrs["channel_axis"] = int(meta.channel_axis)
            if meta.spacing is not None:
                attrs.update(spacing=[float(s) for s in meta.spacing], unit=meta.unit)
        if attrs:
            target.attrs["imgconv"] = attrs
        _replace_folder(tmp, path, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace_folder(tmp, path, overwrite):
    """Move the finished folder ``tmp`` to ``path``; an existing ``path`` (with
    ``overwrite``) is moved aside first and removed once the new one is in."""
    aside = None
    if os.path.lexists(path):
        if not overwrite:
            raise FileExistsError(f"{path}: already exists")
        aside = f"{tmp}.old"
        os.replace(path, aside)
    try:
        os.replace(tmp, path)
    except BaseException:
        if aside is not None:
            os.replace(aside, path)
        raise
    if aside is not None:
        if os.path.isdir(aside):
            shutil.rmtree(aside)
        else:
            os.unlink(aside)

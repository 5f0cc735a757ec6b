"""The dask backend object: every public function on a ``dask.array.Array``,
lazily, chunk by chunk, with halos exact to the sample.

A call goes through :meth:`DaskBackend.call` (see
``imgconv._dispatch.device_boundary``), which plans without computing:

1. the function's footprint per array axis, from its arguments alone
   (:func:`imgconv.dask._reach.axis_geometry`);
2. chunks that fit it (:func:`axis_plans`): each at least as long as the
   halo, on strided and pooled axes starting at multiples of the stride
   (rechunked where they are not);
3. the halo: ``dask.array.overlap.overlap`` with ``boundary='none'`` --
   a chunk at a volume edge gets no halo there, so the function sees the
   real edge and pads it by imgconv's own rule for ``mode`` (dask's
   ``reflect`` is imgconv's ``symmetric``, so dask's padding is never
   used) -- except ``wrap`` axes, whose halos come from the other end
   (``boundary='periodic'``, which is exactly imgconv's ``wrap``);
4. per chunk, the same public function on the numpy (or CuPy) block,
   single-threaded by default, then its halo trimmed off.

So a chunked result equals the in-memory result exactly, at chunk seams
and volume edges, in every mode.

An array exactly as ``imgconv.read(path, chunks=...)`` returned it for a
``.npy`` file or a multi-page TIFF skips step 3: each task reads its block
with the halos from the file and filters it (:func:`_from_file`), several
chunks wide along the rows or pages a read spans whole anyway.
"""
import functools
import itertools
import math
import operator
import sys
from typing import NamedTuple

import numpy as np

from .. import _validate as v
from .._io._chunked import file_source
from . import _reach
from ._reach import Same


class AxisPlan(NamedTuple):
    """How one array axis is chunked, haloed and trimmed."""

    chunks: tuple         # input chunks (after any rechunking)
    out_chunks: tuple     # output chunks, one per input chunk
    halo: int             # halo depth on inner sides (0: no halo)
    periodic: bool        # halos at the volume edges from the other end (mode 'wrap')
    geometry: object      # Same, Windows, or None for an axis the function does not read across


def _modes(arguments, axes):
    """The canonical mode of each filtered axis (None: morphology's default)."""
    mode = arguments.get("mode")
    if mode is None or isinstance(mode, str):
        mode = [mode] * len(axes)
    mode = list(mode)
    if len(mode) != len(axes):
        raise ValueError(f"mode needs one entry per filtered axis ({len(axes)}), got {len(mode)}")
    return {a: None if m is None else v.canonical_mode(m) for a, m in zip(axes, mode)}


def _windows_length(n, g):
    """Output length of a ``Windows`` axis of ``n`` samples (pooling's rule,
    ``imgconv._validate.pool_geometry``)."""
    span = n + g.pad_lo + g.pad_hi - g.extent - 1
    length = (-(-span // g.stride) if g.ceil_mode else span // g.stride) + 1
    if g.ceil_mode and (length - 1) * g.stride >= n + g.pad_lo:
        length -= 1
    return length


def _halo(g):
    if isinstance(g, Same):
        # a multiple of the stride, so every chunk's block starts on the output grid
        return -(-g.reach // g.stride) * g.stride
    return max(g.pad_lo, g.extent - g.pad_lo, g.pad_hi, 0)


def _out_chunks(chunks, n, g):
    """Output chunks of input ``chunks`` (starting at multiples of the
    stride); None where the last would be empty."""
    starts = np.cumsum((0,) + chunks[:-1])
    total = -(-n // g.stride) if isinstance(g, Same) else _windows_length(n, g)
    bounds = [int(s) // g.stride for s in starts] + [total]
    out = tuple(b - a for a, b in zip(bounds, bounds[1:]))
    return None if out[-1] <= 0 else out


def _regular(n, size):
    return (size,) * (n // size) + ((n % size,) if n % size else ())


def axis_plan(chunks, n, g, periodic):
    """The chunks, halo and output chunks of one filtered axis of length
    ``n``.  The caller's ``chunks`` are kept where they fit; otherwise the
    axis is rechunked to its largest chunk, rounded up to the stride and to
    one more than the halo, the last chunk merged into the one before if it
    is shorter.  An axis shorter than the kernel is one chunk."""
    halo, stride = _halo(g), g.stride
    starts_fit = all(c % stride == 0 for c in chunks[:-1])
    span = 2 * g.reach + 1 if isinstance(g, Same) else g.extent + 1
    if span > n:
        # a kernel longer than the axis is folded onto its padding's period
        # (imgconv._convolve.fold_plan), a sum in another order than a
        # chunk's unfolded one: the whole axis in one chunk folds it alike
        chunks = (n,)
    elif not (starts_fit and min(chunks) >= halo + 1):
        # a chunk longer than the halo: with it, a block at a volume edge
        # spans the whole kernel, so its edge is not folded either
        size = max(max(chunks), halo + 1, stride)
        size = -(-size // stride) * stride
        chunks = _regular(n, size)
        if len(chunks) > 1 and chunks[-1] < halo + 1:
            chunks = chunks[:-2] + (chunks[-2] + chunks[-1],)
    out = _out_chunks(chunks, n, g)
    while out is None and len(chunks) > 1:     # no window starts in the last chunk
        chunks = chunks[:-2] + (chunks[-2] + chunks[-1],)
        out = _out_chunks(chunks, n, g)
    if len(chunks) == 1:
        halo = 0
    return AxisPlan(chunks, out, halo, periodic and halo > 0, g)


def axis_plans(x, geometry, modes):
    """An :class:`AxisPlan` for every array axis of the dask array ``x``."""
    plans = []
    for a, (chunks, n) in enumerate(zip(x.chunks, x.shape)):
        g = geometry.get(a)
        if g is None:
            plans.append(AxisPlan(chunks, chunks, 0, False, None))
        else:
            plans.append(axis_plan(chunks, n, g, modes.get(a) == "wrap"))
    return plans


def _block_axis(plan, n, index, length):
    """For block ``index`` along an axis (``length`` samples with its halos):
    the slice of the block to run on, the padding to give a ``Windows``
    call, the slice of the result to keep, and the global position of the
    block's first sample that is run on."""
    chunks, halo, g = plan.chunks, plan.halo, plan.geometry
    start = sum(chunks[:index])
    first, last = index == 0, index == len(chunks) - 1
    # halos this block got: none at a volume edge unless periodic
    lo = 0 if (first and not plan.periodic) else halo
    origin = start - lo               # global position of the block's sample 0
    if g is None:
        return slice(None), None, slice(None), origin
    if isinstance(g, Same):
        skip = lo // g.stride
        return slice(None), None, slice(skip, skip + plan.out_chunks[index]), origin
    # Windows: exactly the samples the chunk's outputs read, padded at volume edges
    out_start = start // g.stride
    need_lo = out_start * g.stride - g.pad_lo
    if last:
        need_hi = n + g.pad_hi if plan.periodic else n
    else:
        need_hi = (out_start + plan.out_chunks[index] - 1) * g.stride - g.pad_lo + g.extent + 1
    begin, end = max(need_lo, origin), min(need_hi, origin + length)
    pad = (begin - need_lo, g.pad_hi if (last and not plan.periodic) else 0)
    if not last:
        pad = (pad[0], max(0, need_hi - end))
    # (a periodic last block holds its padding as samples, so ceil_mode's
    # "windows start inside the input" would let one more start there)
    return slice(begin - origin, end - origin), pad, slice(0, plan.out_chunks[index]), begin


class DaskBackend:
    """Runs public functions on dask arrays (``backend='auto'`` for a dask
    array; ``backend='dask'`` with ``chunks=`` for a numpy one).

    Every call returns a lazy dask array with the input's chunks (aligned
    to the stride where a function has one), computed per chunk by the
    backend of the chunks' array type: the CPU kernels for numpy chunks,
    the CUDA ones for CuPy chunks.  Nothing is computed when the call is
    made.
    """

    name = "dask"
    array_libraries = ("dask", "numpy")

    def __init__(self, dask_array):
        self.da = dask_array

    def __repr__(self):
        return "<imgconv backend 'dask'>"

    def call(self, function, x, args, kwargs):
        """``function(x, *args, **kwargs)`` as a lazy dask array (a tuple of
        two for ``pool(..., return_indices=True)``).

        ``kwargs`` may hold ``chunks=`` (the dask chunks for a numpy input,
        or a rechunking of a dask one); ``threads=`` sets each chunk's
        kernel threads (default 1 when there are several chunks, since
        dask already runs chunks in parallel).
        """
        da = self.da
        kwargs = dict(kwargs)
        chunks = kwargs.pop("chunks", None)
        kwargs.pop("backend", None)
        if kwargs.get("out") is not None:
            raise NotImplementedError(
                "out= is not supported for dask arrays (the result is lazy); store it with "
                "imgconv.write(path, result) or dask.array.store(result, target)")
        if isinstance(x, da.Array):
            # an array straight from imgconv.read(path, chunks=...): each task
            # reads its block with the halos from the file (see _from_file)
            source = file_source(x)
            if chunks is not None:
                x = x.rechunk(chunks)
        else:
            library = type(x).__module__.split(".", 1)[0]
            if library in ("cupy", "dask"):
                raise TypeError(f"backend='dask' takes numpy or dask arrays, got "
                                f"{type(x).__module__}.{type(x).__name__}"
                                + ("; wrap a cupy array with dask.array.from_array(x, "
                                   "chunks=...)" if library == "cupy" else ""))
            source = None
            x = da.from_array(np.asarray(x), chunks="auto" if chunks is None else chunks)
        # the decorated public function, which pickles by name to dask.distributed workers
        function = _public(function)
        arguments = _reach.bound_arguments(function, x, args, kwargs)
        geometry = _reach.axis_geometry(function, arguments, x.ndim)
        on_gpu = type(x._meta).__module__.split(".", 1)[0] == "cupy"
        call_kwargs = {**kwargs, "backend": "cuda" if on_gpu else "cpu"}
        if x.size == 0:   # nothing to chunk: the in-memory result, empty too
            result = function(np.empty(x.shape, x.dtype), *args, **call_kwargs)
            if isinstance(result, tuple):
                return tuple(da.from_array(r) for r in result)
            return da.from_array(result)
        plans = axis_plans(x, geometry, _modes(arguments, list(geometry)))
        x = x.rechunk(tuple(p.chunks for p in plans))
        if kwargs.get("threads") is None and not on_gpu and x.npartitions > 1:
            call_kwargs["threads"] = 1    # dask runs the chunks in parallel already
        sample = _probe(function, x, plans, args, call_kwargs)
        if source is not None:
            return _from_file(source, function, args, call_kwargs, plans, x.shape, geometry,
                              sample)
        depth = {a: p.halo for a, p in enumerate(plans)}
        if any(depth.values()):
            boundary = {a: "periodic" if p.periodic else "none" for a, p in enumerate(plans)}
            blocks = da.overlap.overlap(x, depth=depth, boundary=boundary)
        else:
            blocks = x
        run = _ChunkRunner(function, args, call_kwargs, plans, x.shape, geometry)
        out_chunks = tuple(p.out_chunks for p in plans)
        if isinstance(sample, tuple):
            both = blocks.map_blocks(run, chunks=out_chunks, dtype=object,
                                     meta=np.empty((0,) * x.ndim, object))
            return tuple(both.map_blocks(operator.getitem, i, dtype=s.dtype, meta=_meta_of(s))
                         for i, s in enumerate(sample))
        return blocks.map_blocks(run, chunks=out_chunks, dtype=sample.dtype, meta=_meta_of(sample))


def _meta_of(result):
    """An empty array of ``result``'s kind, dtype and dimensions (dask's meta)."""
    return result[:0] if result.ndim == 0 else result[tuple(slice(0, 0) for _ in result.shape)]


#: the most bytes one task reading straight from a file reads (a block with
#: its halos): several chunks along the axes a read spans whole anyway
SLAB_BYTES = 64 << 20


def _slab_groups(plans, shape, itemsize, slab_axes, limit=None):
    """How many consecutive chunks one task runs along each axis: along the
    file's slab axes (in their order) as many as keep its block within
    ``limit`` bytes (default :data:`SLAB_BYTES`), elsewhere one."""
    limit = SLAB_BYTES if limit is None else limit
    groups = [1] * len(plans)
    extents = [min(n, max(p.chunks) + 2 * p.halo) for p, n in zip(plans, shape)]
    for a in slab_axes:
        plan, others = plans[a], math.prod(e for b, e in enumerate(extents) if b != a)
        count = 1
        while count < len(plan.chunks) and itemsize * others * min(
                shape[a], (count + 1) * max(plan.chunks) + 2 * plan.halo) <= limit:
            count += 1
        # as many tasks, evenly wide (8 chunks that fit 6 at a time: 4 and 4)
        count = -(-len(plan.chunks) // -(-len(plan.chunks) // count))
        groups[a] = count
        extents[a] = min(shape[a], count * max(plan.chunks) + 2 * plan.halo)
        if count < len(plan.chunks):
            break       # the slab is not whole along this axis: no use widening the next
    return groups


def _merged(plan, count):
    """``plan`` with each ``count`` consecutive chunks run as one (a longer
    chunk: the same halo, no halo where a single chunk spans the axis)."""
    if count == 1:
        return plan
    chunks = tuple(sum(plan.chunks[i:i + count]) for i in range(0, len(plan.chunks), count))
    out = tuple(sum(plan.out_chunks[i:i + count]) for i in range(0, len(plan.chunks), count))
    halo = plan.halo if len(chunks) > 1 else 0
    return plan._replace(chunks=chunks, out_chunks=out, halo=halo,
                         periodic=plan.periodic and halo > 0)


def _source_ranges(plan, index, n):
    """The samples block ``index`` of an axis reads, as ranges of the file's
    axis of ``n`` samples: its chunk with the halos ``overlap`` would give
    it (none at a volume edge, the other end's samples at a periodic one)."""
    start = sum(plan.chunks[:index])
    lo = plan.halo if (index > 0 or plan.periodic) else 0
    hi = plan.halo if (index < len(plan.chunks) - 1 or plan.periodic) else 0
    begin, end, ranges = start - lo, start + plan.chunks[index] + hi, []
    while begin < end:
        first = begin % n
        last = min(n, first + end - begin)
        ranges.append((first, last))
        begin += last - first
    return tuple(ranges)


def _read_block(blocks, ranges):
    """The block of the array-like ``blocks`` made of the given source
    ranges per axis (several where a periodic halo wraps around)."""
    if all(len(r) == 1 for r in ranges):
        return np.asarray(blocks[tuple(slice(*r[0]) for r in ranges)])
    block = np.empty(tuple(sum(b - a for a, b in r) for r in ranges), blocks.dtype)
    placed = []
    for axis_ranges in ranges:
        at, pieces = 0, []
        for a, b in axis_ranges:
            pieces.append((slice(a, b), slice(at, at + b - a)))
            at += b - a
        placed.append(pieces)
    for pieces in itertools.product(*placed):
        block[tuple(d for _, d in pieces)] = blocks[tuple(s for s, _ in pieces)]
    return block


class _FileBlock:
    """One task of a filter on a file: its block with the halos read from
    the file, the function run on it, the halos trimmed off (picklable: the
    array-like holds the file's path, not an open file)."""

    def __init__(self, blocks, run):
        self.blocks, self.run = blocks, run

    def __call__(self, block_id, ranges):
        return self.run(_read_block(self.blocks, ranges), block_id=block_id)


def _piece(result, item, within):
    """One output chunk of a task's result (``item`` of a tuple result)."""
    return (result if item is None else result[item])[within]


def _from_file(source, function, args, call_kwargs, plans, shape, geometry, sample):
    """The call on an array read from a file as a dask array whose tasks
    each read a block with its halos from the file and filter it: no
    neighbour's chunk is copied into a block (``overlap``'s concatenation)
    and no read runs ahead of its filter, so a worker holds only the blocks
    it is filtering.  Along the axes a read spans whole anyway (a ``.npy``
    file's rows, a TIFF's pages) one task runs several chunks, up to
    :data:`SLAB_BYTES`, its consumers taking their chunk's slice."""
    from dask.array import Array
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    itemsize = np.dtype(source.blocks.dtype).itemsize
    groups = _slab_groups(plans, shape, itemsize, source.slab_axes)
    merged = [_merged(p, k) for p, k in zip(plans, groups)]
    task = _FileBlock(source.blocks, _ChunkRunner(function, args, call_kwargs, merged, shape,
                                                  geometry))
    token = tokenize(source.name, function.__module__, function.__name__, args, call_kwargs,
                     [p.chunks for p in plans])
    name = f"imgconv-{function.__name__}-{token}"
    layer = {}
    for block_id in itertools.product(*(range(len(p.chunks)) for p in merged)):
        ranges = tuple(_source_ranges(p, i, n) for p, i, n in zip(merged, block_id, shape))
        # the arguments inside the callable, so dask never reads them as keys
        layer[(f"{name}-block",) + block_id] = (functools.partial(task, block_id, ranges),)
    results = sample if isinstance(sample, tuple) else (sample,)
    arrays = []
    for item, result in enumerate(results):
        out_name = name if len(results) == 1 else f"{name}-{item}"
        pieces = dict(layer)
        for index in itertools.product(*(range(len(p.chunks)) for p in plans)):
            block_id = tuple(i // k for i, k in zip(index, groups))
            within = tuple(slice(sum(p.out_chunks[b * k:i]), sum(p.out_chunks[b * k:i + 1]))
                           for p, i, b, k in zip(plans, index, block_id, groups))
            pieces[(out_name,) + index] = (_piece, (f"{name}-block",) + block_id,
                                           item if len(results) > 1 else None, within)
        graph = HighLevelGraph.from_collections(out_name, pieces, dependencies=())
        arrays.append(Array(graph, out_name, chunks=tuple(p.out_chunks for p in plans),
                            meta=_meta_of(result)))
    return tuple(arrays) if isinstance(sample, tuple) else arrays[0]


def _public(function):
    """The public function (decorated by ``device_boundary``) whose inner
    function is ``function``, else ``function`` itself."""
    module = sys.modules.get(function.__module__)
    public = getattr(module, function.__name__, None)
    return public if getattr(public, "__wrapped__", None) is function else function


def _probe(function, x, plans, args, call_kwargs):
    """The function on a small array of zeros like ``x``'s blocks: checks the
    arguments (so mistakes raise now, not at compute time) and gives the
    result's dtype and array type, without reading ``x``."""
    shape = []
    for p, n in zip(plans, x.shape):
        g = p.geometry
        # as small as the call allows (a Gaussian of sigma 100 has a halo of
        # 400 samples: a probe that size would cost more than a chunk)
        if g is None:
            need = 1
        elif isinstance(g, Same):
            need = 3
        else:       # a whole window, and a second one
            need = max(3, g.extent + 1 - g.pad_lo - g.pad_hi + g.stride)
        shape.append(min(n, need))
    probe = x._meta.__array_namespace__().zeros(tuple(shape), x.dtype) \
        if hasattr(x._meta, "__array_namespace__") else np.zeros(shape, x.dtype)
    return function(probe, *args, **call_kwargs)


class _ChunkRunner:
    """The per-chunk task: the public function on one block with its halos,
    the halos trimmed off (a picklable object, for dask.distributed)."""

    def __init__(self, function, args, kwargs, plans, shape, geometry):
        self.function, self.args, self.kwargs = function, args, kwargs
        self.plans, self.shape = plans, shape
        # filtered axes in the order the call gives them: per-axis padding follows it
        self.axes = list(geometry)

    def __call__(self, block, block_id=None):
        take, keep, origins, pads = [], [], [], {}
        for a, (plan, n, index, length) in enumerate(zip(self.plans, self.shape, block_id,
                                                         block.shape)):
            part, pad, kept, origin = _block_axis(plan, n, index, length)
            take.append(part)
            keep.append(kept)
            origins.append(origin)
            if pad is not None:
                pads[a] = pad
        kwargs = self.kwargs
        if pads:
            kwargs = {**kwargs, "padding": [pads[a] for a in self.axes]}
        result = self.function(block[tuple(take)], *self.args, **kwargs)
        if isinstance(result, tuple):
            values, indices = result
            return values[tuple(keep)], self._global_indices(indices[tuple(keep)],
                                                             block[tuple(take)].shape, origins)
        return result[tuple(keep)]

    def _global_indices(self, indices, block_shape, origins):
        """Pooling's flat indices within the block's plane renumbered within
        the whole input's plane (spatial axes in array order)."""
        xp = indices.__array_namespace__() if hasattr(indices, "__array_namespace__") else np
        spatial = sorted(self.axes)
        local = xp.unravel_index(indices, [block_shape[a] for a in spatial])
        full = [self.shape[a] for a in spatial]
        coords = [(c + origins[a]) % n for c, a, n in zip(local, spatial, full)]
        return xp.ravel_multi_index(coords, full).astype(np.int64)


def load_backend():
    """The dask backend.

    Raises
    ------
    ImportError
        Saying to install dask (``pip install imgconv[dask]``) where
        ``dask.array`` is missing.
    """
    try:
        import dask.array
    except ImportError as exc:
        raise ImportError("the dask backend needs dask: pip install 'imgconv[dask]' "
                          f"(or pip install 'dask[array]'); {exc}") from exc
    return DaskBackend(dask.array)

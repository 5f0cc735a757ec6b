"""FFT method of correlate/convolve (``method='fft'``), and its cost model.

Two routes.  2D and 3D calls run on imgconv's compiled tiles
(:func:`tiles_correlate`, ``pyx/fft_tiles.pxi``: power-of-two overlap-save
tiles, two real tiles per complex transform, radix-4 passes over
contiguous lanes), planned by :func:`compiled_tile_plan`.  The rest (1D,
kernels longer than the longest tile, output dtypes the kernels do not
write) run on scipy.fft (or numpy.fft) tiles, :func:`fft_correlate`, which
the rest of this docstring describes.

The result equals the direct kernel's to float rounding:
``out[i] = sum_k w[k] * xpad[i*stride + k*dilation]``, computed as a *valid*
circular correlation of the padded input with the dilated kernel, with real
FFTs over the spatial axes only (channels are a batch).  Because a valid
correlation of a length-``P`` signal never wraps around when the transform
length is ``N >= P``, the transforms need only ``N = fast_len(P)`` samples per
axis (not ``P + K - 1``).

Large arrays go through in tiles (overlap-save): along an axis much longer
than a good transform length, the outputs are cut into tiles of ``q``, each
computed from its own ``(q - 1)*stride + K`` padded samples with a transform
of a fixed length ``N`` from a short list (:data:`TILE_LENGTHS`), chosen by
:func:`_tile_plan`'s cost model for two threads (:data:`PLAN_THREADS`).
Tiles that fit a core's cache win: a 4096**2 image with a 31**2 kernel takes
288 x 720 tiles, a 512**2 one two 576 x 288 tiles, one per thread, where one
whole transform, even with two scipy.fft workers, ran no faster than on one.
Boxes of tiles (one 2D tile each, about :data:`CHUNK_BYTES`) are spread over
the threads (one transform thread each), so the copies and products run in
parallel too.  No padded copy of the input is made: each box reads its
samples from the input, a view away from the edges, with the padding filled
in by :func:`_padded_region` (memory: a few tiles per thread).

scipy.fft is used when installed (pocketfft, single precision kept for
float32); otherwise numpy.fft.  Neither is imported until a transform is
actually run, so ``import imgconv`` stays light.

Each channel's mean is subtracted before the transforms and ``mean * sum(w)``
added back after (exact by linearity), so a large offset (uint16 CT, bright
images) does not inflate the rounding errors.

Differences from the direct method, by nature of the FFT:

* a NaN or infinity in the (padded) input, or in the kernel, spreads to the
  whole tile of its channel (the whole output for an untiled array),
  including under zero weights (the direct kernel skips zero taps, so there a
  NaN under a zero weight stays put);
* rounding errors are spread over the whole output, at about
  ``eps * log2(N) * sum|w| * max|x|``, rather than relative to each sample, so
  small values next to large ones are less accurate than with the direct
  method, and integer outputs whose exact value is ``m + 0.5`` may round to
  either neighbour.
"""
import functools
import itertools
import math
import os
import threading

import numpy as np

from ._backend import store
from ._buffers import empty
from ._threads import KeptThreadPool

__all__ = ["fft_correlate", "fft_cost", "direct_cost", "FFT_COST_CONSTANT"]

#: Cost per ``N log2 N`` unit of one real FFT of ``N`` samples (tiles, with
#: the factor of :func:`_plan_cost` for large ones), in units of one
#: multiply-add of the direct kernel (see :func:`fft_cost`).  Calibrated with
#: float32 on a 2-core x86-64 (AVX2) machine, direct kernel (55-60 GFMA/s in
#: 2D, 35-50 in 3D) and the tiled transforms both on 2 threads; times
#: :data:`FFT_COST_3D` for volumes, where the direct kernel is slower per tap.
#: Measured crossovers (kernel side): about 19 on 512**2 and 1024**2 images,
#: 18 on 2048**2, 17 on 4096**2, 7 on 128**3 and 256**3 volumes, with the
#: tiles before their cache-sized plans; the model's are now 21, 19, 19, 19,
#: 7 and 7 (FFT_COST_3D was taken down with the per-tile overhead and cache
#: factor of :func:`_plan_cost`, which the volumes' unchanged 72**3 tiles pay;
#: the crossovers were not measured again: the machine was too busy).
FFT_COST_CONSTANT = 7.0
FFT_COST_3D = 0.7


# --------------------------------------------------------------------------
# FFT back end
# --------------------------------------------------------------------------
def _fft_backend():
    """``(module, next_fast_len, takes_workers)``: scipy.fft if importable, else
    numpy.fft (single thread); both are fast at the 5-smooth lengths."""
    try:
        import scipy.fft as sfft
    except ImportError:
        return np.fft, _next_regular, False
    # scipy's real fast lengths are the 5-smooth numbers too; one function
    # for both keeps the memoised tile plans shared
    return sfft, _next_regular, True


def _next_regular(n):
    """Smallest 2**a * 3**b * 5**c >= n (a fast size for numpy's pocketfft)."""
    if n <= 6:
        return max(n, 1)
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            # smallest power of two taking p35 up to n
            quotient = -(-n // p35)
            candidate = p35 << (quotient - 1).bit_length()
            if candidate < best:
                best = candidate
            if candidate == n:
                return n
            p35 *= 3
        p5 *= 5
    return best


# --------------------------------------------------------------------------
# Padding
# --------------------------------------------------------------------------
def _padded_region(xm, nb, ranges, mode, cval, compute):
    """``(region, owned)``: the samples ``[start, stop)`` of padded ``xm``
    (batch axes first, then a ``(start, stop)`` per spatial axis, positions
    relative to the first input sample) by the boundary rule, in dtype
    ``compute``, and whether ``region`` is a new array (else a view of
    ``xm``, for a region inside it: a tile away from the edges, so that no
    padded copy of the whole array is made).

    A padded sample reads ``xm`` at the boundary rule's index on every axis
    (or is ``cval`` in mode 'zero'), so per axis the region is at most three
    runs (padding before, the input, padding after), each a slice of the
    input (a step of 1, -1 or 0 next to the input) or an index; the region
    is one block copy per combination of runs."""
    from ._xp_fft import boundary_index     # here: _xp_fft imports this module
    runs = []
    inside_input = True
    for axis, (start, stop) in enumerate(ranges, nb):
        n = xm.shape[axis]
        if 0 <= start and stop <= n:
            runs.append([(slice(0, stop - start), slice(start, stop))])
            continue
        inside_input = False
        index = boundary_index(np.arange(start, stop), n, mode)
        length = index.size
        # positions [inside, beyond) read the input in order
        inside = min(max(-start, 0), length)
        beyond = max(inside, min(max(n - start, 0), length))
        axis_runs = []
        for part in (slice(0, inside), slice(inside, beyond), slice(beyond, length)):
            if part.stop > part.start:
                read = index[part]
                axis_runs.append((part, None if read[0] < 0 else _index_slice(read)))
        runs.append(axis_runs)
    batch = (slice(None),) * nb
    if inside_input:
        view = xm[batch + tuple(axis_runs[0][1] for axis_runs in runs)]
        region = view.astype(compute, copy=False)
        return region, region is not view
    region = np.empty(xm.shape[:nb] + tuple(stop - start for start, stop in ranges),
                      dtype=compute)
    for combination in itertools.product(*runs):
        dst = batch + tuple(part for part, _ in combination)
        if any(read is None for _, read in combination):
            region[dst] = cval
            continue
        block = xm
        if all(isinstance(read, slice) for _, read in combination):
            block = xm[batch + tuple(read for _, read in combination)]
        else:
            for axis, (_, read) in enumerate(combination, nb):
                block = block[(slice(None),) * axis + (read,)]
        region[dst] = block
    return region, True


def _index_slice(index):
    """``index`` (a 1D integer array) as a slice where it is a run of step 1,
    -1 or 0 (the padding of every mode next to the input: a block copy,
    reversed or broadcast), else itself (gathered)."""
    step = int(index[1] - index[0]) if index.size > 1 else 1
    if step in (1, -1, 0) and (np.diff(index) == step).all():
        if step == 0:
            return slice(int(index[0]), int(index[0]) + 1)
        stop = int(index[-1]) + step
        return slice(int(index[0]), None if stop < 0 else stop, step)
    return index


def _channel_offset(padded, axes, integral, xp=np):
    """Each channel's mean of ``padded`` over ``axes`` (kept as length-1
    axes), rounded to an integer for integer data so that subtracting it is
    exact; None when it would not help (near zero, or not finite).  ``xp``:
    the array namespace of ``padded`` (the mean stays there)."""
    # a sample of about 2**16 points per channel is plenty for an offset
    size = 1
    for a in axes:
        size *= padded.shape[a]
    step = max(1, int(math.ceil((size / 65536.0) ** (1.0 / len(axes)))))
    sample = padded[tuple(slice(None, None, step) if a in axes else slice(None)
                          for a in range(padded.ndim))]
    mean = xp.mean(sample, axis=axes, dtype=np.float64, keepdims=True)
    if integral:
        mean = xp.rint(mean)
    if not bool(xp.isfinite(mean).all()):
        return None
    scale = float(xp.abs(mean).max())
    if scale == 0.0:
        return None
    return mean


def _dilated(weights, dilation):
    """The kernel with ``d - 1`` zeros between taps on every axis."""
    if all(d == 1 for d in dilation):
        return weights
    extent = tuple(d * (k - 1) + 1 for k, d in zip(weights.shape, dilation))
    wd = np.zeros(extent, dtype=weights.dtype)
    wd[tuple(slice(None, None, d) for d in dilation)] = weights
    return wd


def _kernel_spectrum(fft, wd, fft_shape, kwargs):
    """``fft.rfftn(wd, s=fft_shape)``, one axis at a time, last axis first, so
    that each pass only transforms the lines that are not all zeros (the
    kernel is small next to the transform): about half the work of a plain
    ``rfftn`` in 2D, a third in 3D."""
    return _spectrum_columns(fft, fft.rfft(wd, n=fft_shape[-1], axis=wd.ndim - 1, **kwargs),
                             fft_shape, kwargs)


def _spectrum_columns(fft, lines, fft_shape, kwargs):
    """The kernel's spectrum from ``lines``, its real transform along the
    last axis (or some columns of it): the complex transforms along the
    other axes, last first, to the lengths of ``fft_shape``."""
    spec = lines
    for axis in range(lines.ndim - 2, -1, -1):
        spec = fft.fft(spec, n=fft_shape[axis], axis=axis, **kwargs)
    return spec


#: Spectra of recent kernels, kept for the next call with the same kernel
#: and transform shape (a video, a batch of images, a benchmark): the
#: kernel's transform took a third of a 31**2 correlation of a 256**2 image
#: (2.4 of 7 ms).  At most SPECTRUM_CACHE_ENTRIES spectra and
#: SPECTRUM_CACHE_BYTES in all; least recently used out first.
SPECTRUM_CACHE_ENTRIES = 8
SPECTRUM_CACHE_BYTES = 32 << 20
_spectra = {}
_spectra_lock = threading.Lock()


def _cached_spectrum(key, make):
    """``make()``, read-only, from the cache when it was made for ``key``
    before."""
    with _spectra_lock:
        spec = _spectra.pop(key, None)
        if spec is not None:
            _spectra[key] = spec    # most recently used last
            return spec
    spec = make()
    spec.flags.writeable = False
    if spec.nbytes <= SPECTRUM_CACHE_BYTES:
        with _spectra_lock:
            _spectra[key] = spec
            total = sum(a.nbytes for a in _spectra.values())
            while len(_spectra) > SPECTRUM_CACHE_ENTRIES or total > SPECTRUM_CACHE_BYTES:
                total -= _spectra.pop(next(iter(_spectra))).nbytes
    return spec


def _correlation_spectrum(fft, wd, fft_shape, kwargs):
    """The conjugated :func:`_kernel_spectrum` of ``wd`` (correlation, not
    convolution), read-only, from the cache when this kernel was transformed
    to ``fft_shape`` by the same back end before.  The transforms do not
    depend on the number of workers, so neither does the result."""
    def make():
        spec = _kernel_spectrum(fft, wd, fft_shape, kwargs)
        return np.conjugate(spec, out=spec)
    return _cached_spectrum((fft.__name__, wd.dtype.str, wd.shape, tuple(fft_shape),
                             wd.tobytes()), make)


def forget_spectra():
    """Drop the cached kernel spectra; returns how many bytes they held."""
    with _spectra_lock:
        held = sum(a.nbytes for a in _spectra.values())
        _spectra.clear()
    return held


# --------------------------------------------------------------------------
# Overlap-save tiling
# --------------------------------------------------------------------------
#: Transform lengths tried for overlap-save tiles, per number of spatial axes
#: (5-smooth).  In 2D the short ones win on large images: a tile's samples
#: and half spectrum of up to about 360**2 stay in a core's L2 cache (1 MB
#: here), where its transforms, product and inverse ran at 7-8 ns an output
#: (31**2 kernel, float32, one thread) against 11 ns for 720**2 tiles and 16
#: for 1080**2; the long ones are for large kernels.
TILE_LENGTHS = {1: (2160, 4320, 8640, 17280, 34560),
                2: (256, 288, 320, 360, 384, 400, 480, 512, 576, 640, 720, 1080, 1440, 2160),
                3: (48, 72, 96, 144, 192)}

#: Besides the listed lengths, :func:`_tile_plan` tries for each axis the
#: fast length that holds just 1/count of its outputs, count 2 to this,
#: within the range of the listed lengths (shorter tiles did not pay: a
#: 256**2 image in two tiles of 160 x 288 on 2 threads ran no faster than
#: one 288**2 transform).
FITTED_COUNTS = 4

#: An axis is cut into tiles only when its padded length is more than this
#: many times the tile transform length.
TILE_MIN_RATIO = 1.5

#: Transforms outgrowing a core's cache cost more per ``samples *
#: log2(samples)``: :func:`_plan_cost` counts ``1 + (samples - TILE_CACHE) /
#: TILE_CACHE_SLOPE`` (1 to 2) per unit of a tile or whole transform (the
#: measures told at :data:`TILE_LENGTHS`), and up to 1 more as they outgrow
#: the shared cache, from ``SHARED_CACHE`` samples to twice that (a whole
#: 4320**2 transform took twice the time of the 720**2 tiles of the same
#: image).
TILE_CACHE = 1 << 17
TILE_CACHE_SLOPE = 1 << 20
SHARED_CACHE = 1 << 21

#: A tile's fixed cost (its calls into the FFT library, its product and
#: store), in the units of :func:`_plan_cost`: about 0.1 ms, which the
#: shortest tiles measured above their ``samples * log2(samples)``.
TILE_OVERHEAD = 1 << 19

#: A single whole-array transform gets the threads as scipy.fft's
#: ``workers`` from ``WHOLE_PARALLEL / 2`` samples on (channels included):
#: they speed up large transforms only (a 288**2 or 576**2 transform ran no
#: faster on 2 workers than on 1, an 800**2 one a little faster, a 4320**2
#: one 1.7 times faster), and its products and copies run on one thread.
WHOLE_PARALLEL = 1 << 20

#: :func:`_plan_cost` counts a single whole transform ``1 + samples /
#: LARGE_WHOLE`` (at most 2, and the shared-cache term of :data:`TILE_CACHE`)
#: per unit, whatever the threads, against the total work of the tiles:
#: measured on 2 threads against tiles of 540**2 or 48**3, a whole 540**2
#: transform took 1.3x, 1080**2 to 4320**2 or 135**3 to 270**3 ones 1.5x to
#: 2.2x (the constants the crossovers with the direct kernel were measured
#: with).
LARGE_WHOLE = 1 << 20

#: The threads the tiles are planned for, whatever a call's ``threads``: the
#: tiles set the rounding, and results do not depend on the thread count.
PLAN_THREADS = 2

#: Tiles are transformed in boxes of about this many bytes of real samples
#: (at least one tile), one box per thread at a time: a box of one 288**2
#: tile stays in cache, a box of several megabytes ran 1.3 to 1.6 times
#: slower per tile.
CHUNK_BYTES = 1 << 19


def _axis_tiles(n_out, stride, extent, length):
    """``(length, q, count)``: ``count`` tiles of ``q`` outputs along one axis,
    each read from ``(q - 1) * stride + extent <= length`` padded samples, as
    few and as even as possible; None when the kernel does not fit."""
    most = (length - extent) // stride + 1
    if most < 1:
        return None
    count = -(-n_out // most)
    return length, -(-n_out // count), count


@functools.lru_cache(maxsize=256)
def _tile_plan(out_spatial, stride, extent, fast_len, threads=1):
    """Per spatial axis ``(N, q, count)``: the transform length and ``count``
    tiles of ``q`` outputs (``count == 1``: the axis is transformed whole).

    Tiles with the lengths of ``TILE_LENGTHS``, and the fast lengths that
    just hold a half to a ``FITTED_COUNTS``-th of the outputs, are tried on
    the axes longer than ``TILE_MIN_RATIO`` times the tile, and the plan of
    least :func:`_plan_cost` on ``threads`` threads wins; ties go to the
    whole transform.  Memoised (a plan is asked for at every call)."""
    listed = TILE_LENGTHS.get(len(extent), ())
    choices = []
    for n_out, s, k in zip(out_spatial, stride, extent):
        padded = (n_out - 1) * s + k
        axis = [(fast_len(padded), n_out, 1)]
        lengths = set(listed)
        if listed:
            # and the fast lengths that just hold 1/count of the outputs, for
            # a few counts: a 1024**2 image with a 31**2 kernel fits 2 x 2
            # tiles of 576**2 (512 outputs each), and a 512**2 image 2 x 2
            # of 288**2, one pair per thread
            for count in range(2, FITTED_COUNTS + 1):
                length = fast_len((-(-n_out // count) - 1) * s + k)
                if _min_tile(len(extent)) <= length <= listed[-1]:
                    lengths.add(length)
        for length in sorted(lengths):
            if padded > TILE_MIN_RATIO * length:
                tiles = _axis_tiles(n_out, s, k, length)
                if tiles is not None:
                    axis.append(tiles)
        choices.append(axis)
    return min(itertools.product(*choices), key=lambda plan: _plan_cost(plan, threads))


def _min_tile(rank):
    """The shortest tile length :func:`_tile_plan` tries for ``rank`` axes
    (0 where tiles are not listed)."""
    return min(TILE_LENGTHS.get(rank, (0,)))


def _plan_cost(plan, threads=1):
    """The time of a plan on ``threads`` threads, times ``threads``, in units
    of ``samples * log2(size)``, ``size`` the samples of one tile: the
    overlaps and a partial last tile count as work, tiles pay
    :data:`TILE_OVERHEAD` each, transforms their cache factor
    (:data:`TILE_CACHE`), the threads take ``ceil(tiles / threads)`` rounds
    of tiles (an idle thread counts), and a single whole transform is
    costed as told at :data:`LARGE_WHOLE`."""
    size = math.prod(length for length, _, _ in plan)
    tiles = math.prod(count for _, _, count in plan)
    work = size * max(math.log2(size), 1.0)
    shared = min(1.0, max(0, size - SHARED_CACHE) / SHARED_CACHE)
    if tiles == 1:
        return work * (min(2.0, 1.0 + size / LARGE_WHOLE) + shared)
    cache = min(2.0, 1.0 + max(0, size - TILE_CACHE) / TILE_CACHE_SLOPE) + shared
    return (work * cache + TILE_OVERHEAD) * -(-tiles // threads) * threads


def _tile_boxes(counts, tile_bytes, threads):
    """The tile grid (``counts`` tiles per axis) cut into boxes of about
    ``CHUNK_BYTES`` of transforms (at least one tile), and into at least two
    boxes per thread where there are enough tiles (for balance), as even as
    possible: per box, ``(first, stop)`` per grid axis, the largest first."""
    per_box = max(1, min(int(CHUNK_BYTES // tile_bytes), -(-math.prod(counts) // (2 * threads))))
    sizes = []
    for count in reversed(counts):
        size = min(count, per_box)
        size = -(-count // -(-count // size))
        sizes.append(size)
        per_box = max(1, per_box // size)
    ranges = [[(first, min(first + size, count)) for first in range(0, count, size)]
              for count, size in zip(counts, reversed(sizes))]
    return list(itertools.product(*ranges))


def _split_axes(a, nb, counts):
    """View of ``a`` with each axis after the first ``nb`` split into
    ``(tiles, q)`` for ``(tiles, q)`` in ``counts`` (always possible as a view)."""
    shape, strides = a.shape[:nb], a.strides[:nb]
    for (tiles, q), stride in zip(counts, a.strides[nb:]):
        shape += (tiles, q)
        strides += (stride * q, stride)
    return np.lib.stride_tricks.as_strided(a, shape, strides)


def _store_tiles(y, outm, nb, qs, steps, add):
    """Write the outputs held by the tiles ``y`` (batch axes, tile grid axes,
    then the tile axes) into ``outm``, plus ``add`` when not None.

    Tile ``j`` holds ``qs[i]`` outputs along axis ``i`` (outputs ``j*q ...
    j*q + q - 1``), every ``steps[i]`` samples from 0; per axis the full tiles
    form one block and a partial last tile a second one, each stored at once
    through a split view of ``outm``."""
    rank = len(qs)
    per_axis = []
    for q, n_out, step in zip(qs, outm.shape[nb:], steps):
        full, rest = divmod(n_out, q)
        blocks = []
        if full:
            blocks.append((slice(0, full), q, slice(0, full * q)))
        if rest:
            blocks.append((slice(full, full + 1), rest, slice(full * q, n_out)))
        per_axis.append([(tiles, slice(0, (count - 1) * step + 1, step), out, count)
                         for tiles, count, out in blocks])
    # (batch, t1, q1, t2, q2, ...) from (batch, t1, t2, ..., q1, q2, ...)
    order = tuple(range(nb)) + tuple(a for i in range(rank) for a in (nb + i, nb + rank + i))
    for blocks in itertools.product(*per_axis):
        src = y[(slice(None),) * nb + tuple(b[0] for b in blocks) + tuple(b[1] for b in blocks)]
        src = src.transpose(order)
        dst = outm[(slice(None),) * nb + tuple(b[2] for b in blocks)]
        dst = _split_axes(dst, nb, [(src.shape[nb + 2 * i], b[3]) for i, b in enumerate(blocks)])
        if add is None:
            store(src, dst)
        elif dst.dtype.kind == "f":
            np.add(src, add, out=dst)
        else:
            store(src + add, dst)


# --------------------------------------------------------------------------
# The method
# --------------------------------------------------------------------------
class NonFiniteData(ValueError):
    """Raised by :func:`fft_correlate` with ``finite_only=True`` when the
    input or the kernel holds a NaN or an infinity."""


def fft_correlate(x, weights, *, spatial_axes, pad_lo, pad_hi, stride, dilation, mode, cval,
                  out, threads, finite_only=False):
    """Correlate ``x`` with ``weights`` using FFTs; the direct kernel's result
    to float rounding.

    ``out[i] = sum_k weights[k] * xpad[i*stride + k*dilation]`` along the
    spatial axes, every other axis of ``x`` (channels) filtered independently
    with the same kernel.

    Parameters
    ----------
    x : ndarray
        Input as normalised by ``_cpu.as_input_array`` (uint8, uint16,
        int16, int32, float32, float64, native byte order), any strides.
        Never modified.
    weights : ndarray
        C-contiguous kernel in the compute dtype (float32 or float64), one
        dimension per spatial axis, not flipped.  Its dtype is the precision
        of the transforms (scipy.fft keeps float32 in single precision).
    spatial_axes : tuple of int
        The 1 to 3 spatial axes of ``x``, in increasing order.
    pad_lo, pad_hi, stride, dilation : tuple of int
        One per spatial axis.
    mode : str
        Canonical boundary mode: 'zero' (pads with ``cval``), 'replicate',
        'reflect', 'symmetric' or 'wrap'; wider padding repeats the rule.
    cval : float
        Value outside the image for mode 'zero'.
    out : ndarray
        Output of the final shape (spatial lengths ``floor((n + lo + hi -
        d*(k-1) - 1) / s) + 1``, channel axes as in ``x``), any supported
        dtype and strides; integer dtypes get rounded, saturated values.
    threads : int
        Threads: boxes of tiles run on that many threads, or a single
        (whole-array) transform passes it to scipy.fft as ``workers``.
    finite_only : bool
        Raise :class:`NonFiniteData` (``out`` then partly written) where a
        NaN or an infinity would spread over the outputs: ``method='auto'``
        then sums the taps instead.  Told by each tile's zero-frequency
        sample, which is not finite exactly when a sample of the tile is not
        (or their sum overflows), so asking costs no pass over the data.

    Returns
    -------
    ndarray
        ``out``.

    Notes
    -----
    A NaN or infinity anywhere in the input or the kernel makes the whole
    tile's (or channel's) output NaN, even under zero weights; the direct
    method confines it to the outputs whose nonzero taps read it.  Rounding
    errors scale with ``sum|w| * max|x|`` over the whole array.
    """
    rank = len(spatial_axes)
    if weights.ndim != rank:
        raise ValueError(f"weights have {weights.ndim} dimensions for {rank} spatial axes")
    compute = weights.dtype
    spatial_axes = tuple(a % x.ndim for a in spatial_axes)
    batch_axes = tuple(a for a in range(x.ndim) if a not in spatial_axes)
    nb = len(batch_axes)
    # work in (batch..., spatial...) order: views, no copies
    order = batch_axes + spatial_axes
    xm = x.transpose(order)
    outm = out.transpose(order)
    out_spatial = outm.shape[nb:]

    wd = _dilated(weights, dilation)
    extent = wd.shape
    # the padded samples the outputs read: (o - 1) * s + K per axis
    for n, lo, hi, o, s, k in zip(xm.shape[nb:], pad_lo, pad_hi, out_spatial, stride, extent):
        if (o - 1) * s + k > n + lo + hi:
            raise ValueError("out has more samples than the geometry gives")

    fft, fast_len, takes_workers = _fft_backend()
    # Overlap-save: per axis, `count` tiles of `q` outputs, tile j transforming
    # the N padded samples from j*q*s on.  Its outputs read the first
    # (q - 1)*s + K <= N of them and do not wrap around (a valid correlation);
    # the rest only reach the wrapped-around outputs, which are dropped, so
    # they are simply the next padded samples.  One tile of all outputs is the
    # whole-array transform.
    plan = _tile_plan(tuple(out_spatial), tuple(stride), tuple(extent), fast_len, PLAN_THREADS)
    fft_shape = tuple(length for length, _, _ in plan)
    steps = tuple(q * s for (_, q, _), s in zip(plan, stride))
    axes = tuple(range(nb, nb + rank))
    # Rounding errors of the transforms scale with the largest magnitude, so
    # take out each channel's mean first (images often sit on a large offset,
    # e.g. uint16 CT) and add back mean * sum(w) at the end: exact by linearity.
    offset = _channel_offset(xm, axes, x.dtype.kind in "iu")
    add = region_offset = None
    if offset is not None:
        add = (offset * weights.sum(dtype=np.float64)).astype(compute)
        add = add.reshape(add.shape[:nb] + (1,) * (2 * rank))
        region_offset = offset.astype(compute)
    taxes = tuple(range(nb + rank, nb + 2 * rank))
    if finite_only and not np.isfinite(weights).all():
        raise NonFiniteData("the kernel holds NaN or infinite values")
    kspec = _correlation_spectrum(fft, wd, fft_shape, {"workers": int(threads)} if takes_workers
                                  else {})

    # the rows of a tile (along all but the last axis) that hold its outputs
    rows = tuple(slice(0, (q - 1) * s + 1, s) for (_, q, _), s in zip(plan[:-1], stride[:-1]))

    def run_box(box, workers):
        """Transform the tiles of ``box`` (a range per grid axis) and store
        their outputs."""
        kwargs = {"workers": workers} if takes_workers else {}
        region, owned = _padded_region(
            xm, nb, [(first * step - lo, (stop - 1) * step + length - lo)
                     for (first, stop), step, length, lo in zip(box, steps, fft_shape, pad_lo)],
            mode, cval, compute)
        if region_offset is not None:
            if owned:
                region -= region_offset
            else:
                region = np.subtract(region, region_offset, dtype=compute)
        samples = np.lib.stride_tricks.sliding_window_view(region, fft_shape, axis=axes)
        samples = samples[(slice(None),) * nb + tuple(slice(None, None, step) for step in steps)]
        spectrum = fft.rfftn(samples, axes=taxes, **kwargs)
        del samples, region
        if finite_only and not np.isfinite(spectrum[(Ellipsis,) + (0,) * rank]).all():
            raise NonFiniteData("the input holds NaN or infinite values")
        spectrum *= kspec
        # the inverse one axis at a time, in place, each pass keeping only the
        # rows of the outputs for the next ones
        inverse = dict(kwargs, overwrite_x=True) if takes_workers else kwargs
        for axis, keep in zip(taxes[:-1], rows):
            spectrum = fft.ifft(spectrum, axis=axis, **inverse)
            spectrum = spectrum[(slice(None),) * axis + (keep,)]
        y = fft.irfft(spectrum, n=fft_shape[-1], axis=-1, **kwargs)
        del spectrum
        if y.dtype != compute:  # numpy < 2 computes in float64 only
            y = y.astype(compute)
        dst = outm[(slice(None),) * nb + tuple(
            slice(first * q, min(stop * q, n)) for (first, stop), (_, q, _), n
            in zip(box, plan, out_spatial))]
        _store_tiles(y, dst, nb, [q for _, q, _ in plan], (1,) * (rank - 1) + stride[-1:], add)

    # boxes as the plan's threads want them: the transforms of a box batch
    # its tiles, so they too are kept whatever the call's threads
    boxes = _tile_boxes([count for _, _, count in plan],
                        math.prod(xm.shape[:nb]) * math.prod(fft_shape) * compute.itemsize,
                        PLAN_THREADS)

    # Boxes of tiles go to `threads` threads (the transforms release the GIL),
    # so that the products and stores run in parallel too; a single box gets
    # the threads inside its transforms where they pay (see WHOLE_PARALLEL:
    # a 576**2 transform and its inverse took longer on 2 workers than on 1,
    # an 800**2 one less)
    parallel = min(int(threads), len(boxes))
    if parallel <= 1:
        samples = math.prod(xm.shape[:nb]) * math.prod(fft_shape)
        workers = int(threads) if samples >= WHOLE_PARALLEL // 2 else 1
        for box in boxes:
            run_box(box, workers)
        return out

    shared = iter(boxes)
    lock = threading.Lock()
    failed = []

    def worker():
        while not failed:
            with lock:
                box = next(shared, None)
            if box is None:
                return
            try:
                run_box(box, max(1, int(threads) // parallel))
            except BaseException:
                failed.append(True)     # the other workers stop at their next box
                raise

    # the calling thread is one of the workers
    jobs = [_box_pool.get(parallel - 1).submit(worker) for _ in range(parallel - 1)]
    try:
        worker()
    finally:
        for job in jobs:
            job.result()
    return out


#: the tiles' threads (one tile box per thread at a time)
_box_pool = KeptThreadPool("imgconv-fft")


# --------------------------------------------------------------------------
# Compiled tiles: 2D and 3D
# --------------------------------------------------------------------------
#: Transform lengths per axis of the compiled tiles (pyx/fft_tiles.pxi:
#: powers of two), and the most samples in one tile (a thread's four scratch
#: arrays stay in a core's L2 cache up to about 2**15 float32 samples;
#: longer tiles are for long kernels).
COMPILED_LENGTHS = tuple(1 << i for i in range(1, 11))
COMPILED_MAX_SAMPLES = 1 << 18

#: A compiled tile's work besides its transforms (load, product, store), per
#: sample, in units of the transforms' ``log2(samples)`` per sample.
COMPILED_TILE_EXTRA = 2.0


@functools.lru_cache(maxsize=256)
def compiled_tile_plan(out_spatial, extent, stride=None):
    """The compiled tiles' transform lengths, one per axis (powers of two)
    for ``out_spatial`` outputs of a kernel of ``extent`` (dilation
    included) taken every ``stride`` samples (None: 1), or None where the
    kernel is too long for them.

    The plan of least :func:`_compiled_cost` on :data:`PLAN_THREADS`
    threads wins, whatever a call's threads and channels, so the tiles (and
    the rounding) depend on the image's shape only.  Memoised."""
    stride = stride or (1,) * len(extent)
    choices = []
    for n_out, k, s in zip(out_spatial, extent, stride):
        whole = 1 << max(0, ((n_out - 1) * s + k - 1).bit_length())   # holds every output
        axis = [n for n in COMPILED_LENGTHS if k <= n <= whole] if k > 1 else [1]
        if not axis:
            return None
        choices.append(axis)
    plans = [p for p in itertools.product(*choices) if math.prod(p) <= COMPILED_MAX_SAMPLES]
    if not plans:
        return None
    return min(plans, key=lambda p: _compiled_cost(p, out_spatial, extent, 1, stride))


def _compiled_cost(lengths, out_spatial, extent, batch=1, stride=None):
    """The time of the compiled tiles ``lengths`` on :data:`PLAN_THREADS`
    threads, times the threads, in units of ``samples * log2(samples)``: the
    pairs of tiles (two tiles ride in one complex transform) in rounds of
    one pair per thread (an idle thread counts), each pair's units times
    :func:`_compiled_cache_factor`."""
    size = math.prod(lengths)
    stride = stride or (1,) * len(extent)
    tiles = batch * math.prod(-(-n // ((length - k) // s + 1))
                              for n, length, k, s in zip(out_spatial, lengths, extent, stride))
    pairs = -(-tiles // 2)
    rounds = -(-pairs // PLAN_THREADS)
    work = size * (max(math.log2(size), 1.0) + COMPILED_TILE_EXTRA)
    return rounds * PLAN_THREADS * work * _compiled_cache_factor(size, len(lengths))


def _compiled_cache_factor(size, rank):
    """How much more a unit of a tile of ``size`` samples costs than one of a
    1024-sample tile: one thread, float32, a 1024**2 image, measured 0.56 ns
    a unit for 32**2 tiles, 0.63 for 64**2, 0.73 for 128**2 and 0.78 for
    256**2 to 512**2; a volume's tile of up to 16**3 about 1.3 times a
    plane's of as many samples, 32**3 and up the same (with its planes
    padded apart: 1.4-1.7 times before)."""
    factor = min(1.4, 1.0 + 0.07 * max(0.0, math.log2(max(size, 1)) - 10))
    return factor * (1.3 if rank == 3 and size <= 4096 else 1.0)


def compiled_tiles_fit(rank, compute, out_dtype):
    """Whether :func:`tiles_correlate` takes a call (a plan may still refuse
    a kernel too long: :func:`compiled_tile_plan`)."""
    from ._validate import DTYPE_CODES
    return rank in (2, 3) and compute in (np.float32, np.float64) and out_dtype in DTYPE_CODES


def tiles_correlate(views, weights, *, pad_lo, stride, dilation, modes, cval, threads,
                    finite_only=False):
    """Correlate with the compiled tiles (``pyx/fft_tiles.pxi``); the direct
    kernel's result to float rounding, as :func:`fft_correlate`.

    Parameters
    ----------
    views : list of (ndarray, ndarray)
        Matching (batch, depth, height, width) views of the input and the
        output (``imgconv._views.pairs``).
    weights : ndarray
        The kernel, one dimension per spatial axis (2 or 3), not flipped, in
        the compute dtype.
    pad_lo, stride, dilation : tuple of int
        One per spatial axis.
    modes : tuple of int
        The kernels' mode code per spatial axis.
    cval : float
        Value outside the image for mode 'zero'.
    threads : int
        Threads the tiles run on (the tiles do not depend on it).
    finite_only : bool
        Raise :class:`NonFiniteData` where a NaN or an infinity would spread
        over a tile, as :func:`fft_correlate`.

    Returns
    -------
    bool
        True where the tiles took the call; False (nothing written) where the
        kernel is too long for them.
    """
    from ._dispatch import kernels
    from ._validate import DTYPE_CODES
    rank = weights.ndim
    wd = _dilated(weights, dilation)
    unit = (1,) * (3 - rank)
    extent = unit + wd.shape
    out_spatial = views[0][1].shape[1:]
    stride3 = unit + tuple(int(s) for s in stride)
    lengths = compiled_tile_plan(tuple(out_spatial), extent, stride3)
    if lengths is None:
        return False
    if finite_only and not np.isfinite(weights).all():
        raise NonFiniteData("the kernel holds NaN or infinite values")
    kernel = np.ascontiguousarray(wd.reshape(extent))
    spectrum = _cached_spectrum(("tiles", kernel.dtype.str, extent, lengths, kernel.tobytes()),
                                lambda: np.stack(kernels.fft_tile_spectrum(kernel, lengths)))
    weight_sum = float(weights.sum(dtype=np.float64))
    pad3 = (0,) * (3 - rank) + tuple(pad_lo)
    modes3 = (0,) * (3 - rank) + tuple(modes)
    for x, out in views:
        # each channel's mean out before the transforms (see fft_correlate)
        offset = _channel_offset(x, (1, 2, 3), x.dtype.kind in "iu")
        offsets = np.zeros(x.shape[0]) if offset is None else offset.reshape(-1)
        finite = kernels.fft_tiles_correlate(
            x, out, lengths, extent, stride3, spectrum[0], spectrum[1], pad3, modes3,
            float(cval), offsets, offsets * weight_sum, DTYPE_CODES[x.dtype],
            DTYPE_CODES[out.dtype], int(threads))
        if finite_only and not finite:
            raise NonFiniteData("the input holds NaN or infinite values")
    return True


# --------------------------------------------------------------------------
# Cost model for method='auto'
# --------------------------------------------------------------------------
def _fft_len(n):
    """The FFT length used for ``n`` samples: the next 5-smooth number, as
    ``scipy.fft.next_fast_len(n, real=True)`` gives."""
    return _next_regular(int(n))


def fft_cost(shape, kshape, batch=1, stride=None):
    """Estimated cost of :func:`fft_correlate`, in the units of :func:`direct_cost`
    (multiply-adds of the direct kernel), for ``method='auto'``.

    Parameters
    ----------
    shape : tuple of int
        Spatial shape of the input, unpadded.
    kshape : tuple of int
        Spatial extent of the kernel, dilation included (``d*(k-1) + 1``).
        The outputs are taken as ``shape`` (padding='same', stride 1), so
        ``n + k - 1`` padded samples per axis.
    batch : int
        Number of channels: each needs a forward and an inverse transform of
        every tile; the kernel's transform is shared (and pruned: it costs
        about ``1/rank`` of a full one).
    stride : tuple of int, optional
        The call's stride (None: 1), for the compiled tiles of 2D and 3D
        calls (:func:`_compiled_call_cost`); the scipy.fft tiles' model
        (1D) takes the outputs as ``shape``.

    Returns
    -------
    float
        ``FFT_COST_CONSTANT * (2 * batch * _plan_cost(plan, PLAN_THREADS) + S * log2(S) /
        rank)`` for the plan :func:`fft_correlate` would use, ``S`` the
        samples of one tile (times ``FFT_COST_3D`` in 3D).
    """
    compiled = _compiled_call_cost(shape, kshape, batch, stride)
    if compiled is not None:
        return compiled
    rank = max(len(shape), 1)
    plan = _tile_plan(tuple(int(n) for n in shape), (1,) * len(shape),
                      tuple(int(k) for k in kshape), _fft_len, PLAN_THREADS)
    size = math.prod(length for length, _, _ in plan)
    kernel = size * max(math.log2(size), 1.0) / rank
    constant = _cost_constant(len(shape))
    return constant * (2 * int(batch) * _plan_cost(plan, PLAN_THREADS) + kernel)


#: The compiled tiles' cost per unit of :func:`_compiled_cost`, in direct
#: multiply-adds, volumes included (their tiles' own cost is in
#: :func:`_compiled_cache_factor`).  Measured on 2
#: threads, float32: the kernels' crossover with the direct kernel at about
#: 11**2 on 1024**2 and 2048**2 images, 13**2 on 256**2, 21**2 or more on
#: 64**2, and 7**3 on 64**3 to 256**3 volumes; the model's are the same but
#: 11**2 on 2048**2 (measured a tie) and 9**3 on 64**3 (the FFT 1.5x faster
#: at 7**3 there: the direct kernel runs slower on small volumes).
COMPILED_COST_CONSTANT = 9.0

#: What a compiled-tiles call costs besides its tiles (the channel means,
#: the spectrum's cache, the thread team), in direct multiply-adds: about
#: 25 us.
COMPILED_CALL_OVERHEAD = 1.0e6


def _compiled_call_cost(shape, kshape, batch, stride):
    """:func:`fft_cost` of a call the compiled tiles take, else None:
    ``shape`` the input's spatial shape, the outputs those of padding
    'same' taken every ``stride`` samples."""
    if len(shape) not in (2, 3):
        return None
    stride = tuple(int(s) for s in stride) if stride is not None else (1,) * len(shape)
    out = tuple(-(-int(n) // s) for n, s in zip(shape, stride))
    kshape = tuple(int(k) for k in kshape)
    plan = compiled_tile_plan(out, kshape, stride)
    if plan is None:
        return None
    return (COMPILED_COST_CONSTANT * _compiled_cost(plan, out, kshape, int(batch), stride)
            + COMPILED_CALL_OVERHEAD)


def _cost_constant(rank):
    """FFT_COST_CONSTANT, scaled for volumes."""
    return FFT_COST_CONSTANT * (FFT_COST_3D if rank == 3 else 1.0)


def fft_cost_bound(shape, kshape, batch=1, stride=None):
    """A lower bound of :func:`fft_cost`, quick to compute: every plan
    transforms at least the padded samples, in tiles of at least the padded
    length on the axes too short to tile (the compiled tiles' cost is its
    own bound: their plans are quick and memoised)."""
    compiled = _compiled_call_cost(shape, kshape, batch, stride)
    if compiled is not None:
        return compiled
    padded = [int(n) + int(k) - 1 for n, k in zip(shape, kshape)]
    untiled = TILE_MIN_RATIO * _min_tile(len(padded))
    size = math.prod(p for p in padded if p <= untiled)
    constant = _cost_constant(len(padded))
    return constant * 2 * int(batch) * math.prod(padded) * max(math.log2(size), 1.0)


def direct_cost(out_shape, nnz_taps):
    """Cost of the direct kernel: one multiply-add per output sample and nonzero
    tap (``out_shape`` includes channels)."""
    total = 1
    for n in out_shape:
        total *= int(n)
    return float(total) * int(nnz_taps)

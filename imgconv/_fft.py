"""FFT method of correlate/convolve (``method='fft'``), and its cost model.

The result equals the direct kernel's to float rounding:
``out[i] = sum_k w[k] * xpad[i*stride + k*dilation]``, computed as a *valid*
circular correlation of the padded input with the dilated kernel, with real
FFTs over the spatial axes only (channels are a batch).  Because a valid
correlation of a length-``P`` signal never wraps around when the transform
length is ``N >= P``, the transforms need only ``N = fast_len(P)`` samples per
axis (not ``P + K - 1``).

scipy.fft is used when installed (pocketfft with threads, single precision
kept for float32); otherwise numpy.fft (single thread).  Neither is imported
until a transform is actually run, so ``import imgconv`` stays light.

Each channel's mean is subtracted before the transforms and ``mean * sum(w)``
added back after (exact by linearity), so a large offset (uint16 CT, bright
images) does not inflate the rounding errors.

Differences from the direct method, by nature of the FFT:

* a NaN or infinity anywhere in the (padded) input, or in the kernel, spreads
  to the whole output of its channel, including under zero weights (the direct
  kernel skips zero taps, so there a NaN under a zero weight stays put);
* rounding errors are spread over the whole output, at about
  ``eps * log2(N) * sum|w| * max|x|``, rather than relative to each sample, so
  small values next to large ones are less accurate than with the direct
  method, and integer outputs whose exact value is ``m + 0.5`` may round to
  either neighbour.
"""
import itertools
import math

import numpy as np

from . import _validate as v

__all__ = ["fft_correlate", "fft_cost", "direct_cost", "store", "FFT_COST_CONSTANT"]

#: Cost per ``N log2 N`` unit of one real FFT of ``N`` samples, in units of one
#: multiply-add of the direct kernel (see :func:`fft_cost`).  Calibrated with
#: float32 on a 2-core x86-64 (AVX2) machine, direct kernel and scipy's
#: pocketfft both on 2 threads: the model's crossover (kernel side 23-25 on
#: 1024**2 and 4096**2 images, 9 on a 128**3 volume) sits at the measured one
#: (about 25, 25 and 8).
FFT_COST_CONSTANT = 8.0


# --------------------------------------------------------------------------
# FFT back end
# --------------------------------------------------------------------------
def _fft_backend():
    """``(module, next_fast_len, takes_workers)``: scipy.fft if importable, else
    numpy.fft (single thread, its own fast lengths)."""
    try:
        import scipy.fft as sfft
    except ImportError:
        return np.fft, _next_regular, False
    return sfft, (lambda n: sfft.next_fast_len(n, real=True)), True


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
# Output conversion
# --------------------------------------------------------------------------
# --------------------------------------------------------------------------
# Padding
# --------------------------------------------------------------------------
_NP_PAD_MODE = {"replicate": "edge", "reflect": "reflect", "symmetric": "symmetric",
                "wrap": "wrap"}


def _padded(xm, rank, pad_lo, lengths, mode, cval, compute):
    """``xm`` (batch axes first, ``rank`` spatial axes last) padded by ``pad_lo``
    in front and cut to ``lengths`` samples per spatial axis (the padded
    samples the output reads), as a new array of dtype ``compute``."""
    nb = xm.ndim - rank
    shape = xm.shape[nb:]
    if mode == "zero":
        buf = np.empty(xm.shape[:nb] + tuple(lengths), dtype=compute)
        dst, src = [slice(None)] * nb, [slice(None)] * nb
        for n, lo, length in zip(shape, pad_lo, lengths):
            stop = min(n, length - lo)
            if stop <= 0:
                buf.fill(cval)  # the output reads padding only
                return buf
            dst.append(slice(lo, lo + stop))
            src.append(slice(0, stop))
        buf[tuple(dst)] = xm[tuple(src)]
        # fill the frame around the copied block, one slab per side and axis
        for i, (lo, length) in enumerate(zip(pad_lo, lengths)):
            before = [slice(None)] * buf.ndim
            before[nb + i] = slice(0, lo)
            after = [slice(None)] * buf.ndim
            after[nb + i] = slice(dst[nb + i].stop, length)
            buf[tuple(before)] = cval
            buf[tuple(after)] = cval
        return buf
    try:
        np_mode = _NP_PAD_MODE[mode]
    except KeyError:
        raise ValueError(f"unknown boundary mode {mode!r}") from None
    # pad only as far as the output reads; pad in the input dtype (smaller than
    # the compute dtype for integers), then convert once
    widths = [(0, 0)] * nb
    cut = [slice(None)] * nb
    for n, lo, length in zip(shape, pad_lo, lengths):
        widths.append((lo, max(0, length - lo - n)))
        cut.append(slice(0, length))
    padded = np.pad(xm, widths, mode=np_mode)[tuple(cut)]
    return padded.astype(compute, copy=False)


def _channel_offset(xp, axes, integral):
    """Each channel's mean over ``axes`` (kept as length-1 axes), rounded to an
    integer for integer data so that subtracting it is exact; None when it
    would not help (near zero, or not finite)."""
    # a sample of about 2**16 points per channel is plenty for an offset
    size = 1
    for a in axes:
        size *= xp.shape[a]
    step = max(1, int(math.ceil((size / 65536.0) ** (1.0 / len(axes)))))
    sample = xp[tuple(slice(None, None, step) if a in axes else slice(None)
                      for a in range(xp.ndim))]
    mean = np.mean(sample, axis=axes, dtype=np.float64, keepdims=True)
    if integral:
        mean = np.rint(mean)
    if not np.isfinite(mean).all():
        return None
    scale = float(np.abs(mean).max())
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
    rank = wd.ndim
    spec = fft.rfft(wd, n=fft_shape[-1], axis=rank - 1, **kwargs)
    for axis in range(rank - 2, -1, -1):
        spec = fft.fft(spec, n=fft_shape[axis], axis=axis, **kwargs)
    return spec


# --------------------------------------------------------------------------
# Overlap-save tiling
# --------------------------------------------------------------------------
#: Transform lengths tried for overlap-save tiles, per number of spatial axes:
#: 5-smooth and not powers of two (pocketfft runs those slower at these sizes).
TILE_LENGTHS = {1: (4320, 8640, 17280, 34560), 2: (540, 720, 864, 1080, 1440, 2160),
                3: (120, 144, 180, 240)}

#: An axis is cut into tiles only when its padded length is more than this
#: many times the tile transform length.
TILE_MIN_RATIO = 1.5

#: Tiles are transformed in chunks of about this many bytes (real samples).
CHUNK_BYTES = 16 << 20


def _axis_tiles(n_out, stride, extent, length):
    """``(length, q, count)``: ``count`` tiles of ``q`` outputs along one axis,
    each read from ``(q - 1) * stride + extent <= length`` padded samples, as
    few and as even as possible; None when the kernel does not fit."""
    most = (length - extent) // stride + 1
    if most < 1:
        return None
    count = -(-n_out // most)
    return length, -(-n_out // count), count


def _tile_plan(out_spatial, stride, extent, fast_len):
    """Per spatial axis ``(N, q, count)``: the transform length and ``count``
    tiles of ``q`` outputs (``count == 1``: the axis is transformed whole).

    Tiles are tried on the axes much longer than a tile, with the lengths of
    ``TILE_LENGTHS``, and the plan with the least ``samples * log2(transform
    size)`` wins (the waste of the overlaps and of a partial last tile
    included); ties go to the whole transform."""
    rank = len(extent)
    choices = []
    for n_out, s, k in zip(out_spatial, stride, extent):
        padded = (n_out - 1) * s + k
        axis = [(fast_len(padded), n_out, 1)]
        for length in TILE_LENGTHS.get(rank, ()):
            if padded > TILE_MIN_RATIO * length:
                tiles = _axis_tiles(n_out, s, k, length)
                if tiles is not None:
                    axis.append(tiles)
        choices.append(axis)

    def cost(plan):
        samples = math.prod(length * count for length, _, count in plan)
        size = math.prod(length for length, _, _ in plan)
        return samples * max(math.log2(size), 1.0)

    return min(itertools.product(*choices), key=cost)


def _split_axes(a, nb, counts):
    """View of ``a`` with each axis after the first ``nb`` split into
    ``(tiles, q)`` for ``(tiles, q)`` in ``counts`` (always possible as a view)."""
    shape, strides = a.shape[:nb], a.strides[:nb]
    for (tiles, q), stride in zip(counts, a.strides[nb:]):
        shape += (tiles, q)
        strides += (stride * q, stride)
    return np.lib.stride_tricks.as_strided(a, shape, strides)


def _store_tiles(y, outm, nb, plan, stride, add):
    """Write the outputs held by the tiles ``y`` (batch axes, tile grid axes,
    then the transform axes) into ``outm``, plus ``add`` when not None.

    Tile ``j`` holds outputs ``j*q ... j*q + q - 1`` at positions ``0, s, 2s,
    ...``; per axis the full tiles form one block and a partial last tile a
    second one, each stored at once through a split view of ``outm``."""
    rank = len(plan)
    per_axis = []
    for (_, q, _), n_out, s in zip(plan, outm.shape[nb:], stride):
        full, rest = divmod(n_out, q)
        blocks = []
        if full:
            blocks.append((slice(0, full), q, slice(0, full * q)))
        if rest:
            blocks.append((slice(full, full + 1), rest, slice(full * q, n_out)))
        per_axis.append([(tiles, slice(0, (q - 1) * s + 1, s), out, q)
                         for tiles, q, out in blocks])
    # (batch, t1, q1, t2, q2, ...) from (batch, t1, t2, ..., q1, q2, ...)
    order = tuple(range(nb)) + tuple(a for i in range(rank) for a in (nb + i, nb + rank + i))
    for blocks in itertools.product(*per_axis):
        src = y[(slice(None),) * nb + tuple(b[0] for b in blocks) + tuple(b[1] for b in blocks)]
        src = src.transpose(order)
        dst = outm[(slice(None),) * nb + tuple(b[2] for b in blocks)]
        dst = _split_axes(dst, nb, [(src.shape[nb + 2 * i], q) for i, (_, _, _, q)
                                    in enumerate(blocks)])
        if add is None:
            v.store(src, dst)
        elif dst.dtype.kind == "f":
            np.add(src, add, out=dst)
        else:
            v.store(src + add, dst)


# --------------------------------------------------------------------------
# The method
# --------------------------------------------------------------------------
def fft_correlate(x, weights, *, spatial_axes, pad_lo, pad_hi, stride, dilation, mode, cval,
                  out, threads):
    """Correlate ``x`` with ``weights`` using FFTs; the direct kernel's result
    to float rounding.

    ``out[i] = sum_k weights[k] * xpad[i*stride + k*dilation]`` along the
    spatial axes, every other axis of ``x`` (channels) filtered independently
    with the same kernel.

    Parameters
    ----------
    x : ndarray
        Input as normalised by ``_validate.as_input_array`` (uint8, uint16,
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
        Passed to scipy.fft as ``workers``; ignored with the numpy fallback.

    Returns
    -------
    ndarray
        ``out``.

    Notes
    -----
    A NaN or infinity anywhere in the input or the kernel makes the whole
    channel's output NaN (or garbage), even under zero weights; the direct
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
    kwargs = {"workers": int(threads)} if takes_workers else {}
    # Overlap-save: per axis, `count` tiles of `q` outputs, tile j reading the
    # padded samples from j*q*s on, (q - 1)*s + K of them, transformed with N
    # samples (zero-filled); a valid correlation does not wrap around.  One
    # tile of all outputs is the plain whole-array transform.
    plan = _tile_plan(out_spatial, stride, extent, fast_len)
    fft_shape = tuple(length for length, _, _ in plan)
    steps = tuple(q * s for (_, q, _), s in zip(plan, stride))
    spans = tuple((q - 1) * s + k for (_, q, _), s, k in zip(plan, stride, extent))
    # the last tile may read past the samples the outputs need: the padding
    # rule goes on there (any finite value would do)
    lengths = tuple((count - 1) * step + span
                    for (_, _, count), step, span in zip(plan, steps, spans))
    axes = tuple(range(nb, nb + rank))

    xp = _padded(xm, rank, pad_lo, lengths, mode, cval, compute)
    # Rounding errors of the transforms scale with the largest magnitude, so
    # take out each channel's mean first (images often sit on a large offset,
    # e.g. uint16 CT) and add back mean * sum(w) at the end: exact by linearity.
    offset = _channel_offset(xp, axes, x.dtype.kind in "iu")
    if offset is not None:
        xp -= offset
    # (batch..., tile grid..., span...): a view, the transforms copy it zero-filled
    tiles = np.lib.stride_tricks.sliding_window_view(xp, spans, axis=axes)
    tiles = tiles[(slice(None),) * nb + tuple(slice(None, None, step) for step in steps)]
    taxes = tuple(range(nb + rank, nb + 2 * rank))
    kspec = _kernel_spectrum(fft, wd, fft_shape, kwargs)
    np.conjugate(kspec, out=kspec)  # correlation, not convolution
    add = None
    if offset is not None:
        add = (offset * weights.sum(dtype=np.float64)).astype(compute)
        add = add.reshape(add.shape[:nb] + (1,) * (2 * rank))
    # The tiles go through in chunks along the first tiled axis, a few MB
    # each: less memory, and the allocator reuses the chunks' buffers.
    axis = next((i for i, (_, _, count) in enumerate(plan) if count > 1), 0)
    count, q = plan[axis][2], plan[axis][1]
    per_tile = math.prod(tiles.shape[:nb]) * math.prod(fft_shape) * compute.itemsize
    per_chunk = max(1, int(CHUNK_BYTES // (per_tile * math.prod(
        c for i, (_, _, c) in enumerate(plan) if i != axis))))
    if takes_workers:
        ikwargs = dict(kwargs, overwrite_x=True)
    else:
        ikwargs = kwargs
    for first in range(0, count, per_chunk):
        last = min(first + per_chunk, count)
        chunk = tiles[(slice(None),) * (nb + axis) + (slice(first, last),)]
        spectrum = fft.rfftn(chunk, s=fft_shape, axes=taxes, **kwargs)
        spectrum *= kspec
        y = fft.irfftn(spectrum, s=fft_shape, axes=taxes, **ikwargs)
        del spectrum
        if y.dtype != compute:  # numpy < 2 computes in float64 only
            y = y.astype(compute)
        dst = outm[(slice(None),) * (nb + axis)
                   + (slice(first * q, min(last * q, outm.shape[nb + axis])),)]
        _store_tiles(y, dst, nb, plan, stride, add)
        del y
    return out


# --------------------------------------------------------------------------
# Cost model for method='auto'
# --------------------------------------------------------------------------
def _fft_len(n):
    """The FFT length used for ``n`` samples: the next 5-smooth number, as
    ``scipy.fft.next_fast_len(n, real=True)`` gives."""
    return _next_regular(int(n))


def fft_cost(shape, kshape, batch=1):
    """Estimated cost of :func:`fft_correlate`, in the units of :func:`direct_cost`
    (multiply-adds of the direct kernel), for ``method='auto'``.

    Parameters
    ----------
    shape : tuple of int
        Spatial shape of the input, unpadded.
    kshape : tuple of int
        Spatial extent of the kernel, dilation included (``d*(k-1) + 1``).
        The transforms are taken as ``n + k - 1`` samples long per axis:
        exact for padding='same' with stride 1.
    batch : int
        Number of channels: each needs a forward and an inverse transform,
        the kernel's transform is shared (and pruned: it costs about
        ``1/rank`` of a full one).

    Returns
    -------
    float
        ``FFT_COST_CONSTANT * N * log2(N) * (2*batch + 1/rank)``, with ``N``
        the number of samples of one transform.
    """
    rank = max(len(shape), 1)
    n_total = 1
    for n, k in zip(shape, kshape):
        n_total *= _fft_len(int(n) + int(k) - 1)
    transforms = 2 * int(batch) + 1.0 / rank
    return FFT_COST_CONSTANT * n_total * max(math.log2(n_total), 1.0) * transforms


def direct_cost(out_shape, nnz_taps):
    """Cost of the direct kernel: one multiply-add per output sample and nonzero
    tap (``out_shape`` includes channels)."""
    total = 1
    for n in out_shape:
        total *= int(n)
    return float(total) * int(nnz_taps)

"""The FFT method of correlate/convolve for backends whose arrays are not the
CPU's: the same sums through the array namespace's own transforms (cuFFT
through ``cupyx.scipy.fft`` for CuPy arrays; scipy.fft, else numpy.fft, for
numpy arrays, which is how the CUDA simulator and CI run this very code),
and the cost model that tells ``method='auto'`` when a GPU should take it.

The module is written against an array namespace ``xp`` rather than CuPy:
nothing in it is specific to CUDA, so it lives beside ``_fft`` (the CPU's
method, whose geometry helpers it shares) and is tested on numpy arrays
without a simulator or a GPU.

The method (see :func:`fft_correlate`) differs from the CPU's only where a
GPU wants it to: one whole-array transform instead of overlap-save tiles (a
GPU's transforms run from device memory at its bandwidth, and tiles would
mean many small launches), and the padded input gathered with index tables
built from the boundary rule (:func:`boundary_index`) instead of
``numpy.pad``, which CuPy has but which pads every axis into a new array.

Memory, for ``P`` padded samples: the padded input (``P`` real samples of
the compute dtype) and its half spectrum (about as many bytes) are alive
together during the forward transform; then the spectrum and a slab of the
kernel's spectrum at a time (:func:`kernel_spectrum_slabs`, made once the
padded input is gone); then the spectrum and the inverse transform's real
result (``overwrite_x`` spares cuFFT's C2R a copy of the spectrum).  So
two buffers of the padded size at a time, plus cuFFT's work area (kept by
CuPy's plan cache), besides the input and the output.  Channels are
transformed together while their padded input stays under
:data:`BATCH_BYTES`, else one at a time (a batch of CT volumes does not
need a padded copy of every volume at once); the kernel's whole spectrum,
one channel's size, is then made once and kept for all of them.
"""
import itertools
import math

import numpy as np

from ._fft import _channel_offset, _dilated, _next_regular, _spectrum_columns

__all__ = ["fft_correlate", "boundary_index", "gpu_fft_cost"]

#: Channels (batch entries) are transformed together while their padded
#: input stays under this many bytes; above it, one channel at a time.
BATCH_BYTES = 256 << 20

#: The kernel's spectrum is made in slabs (columns of its last axis) of
#: about this many bytes, at most KERNEL_SLABS of them, so that its
#: transforms' temporaries (CuPy pads, copies and swaps axes for each) stay
#: a fraction of the padded size.
KERNEL_SLAB_BYTES = 32 << 20
KERNEL_SLABS = 8


# --------------------------------------------------------------------------
# Transforms
# --------------------------------------------------------------------------
def transforms(xp):
    """``(module, next_fast_len, scipy_like)``: the FFT module for arrays of
    ``xp``, its fast transform lengths, and whether it takes scipy.fft's
    ``overwrite_x``.

    CuPy arrays go through ``cupyx.scipy.fft`` (cuFFT, as ``cupy.fft``, but
    with ``overwrite_x``, which spares the inverse real transform a copy of
    the spectrum; fast lengths are 7-smooth there).  numpy arrays go through
    the CPU method's choice, scipy.fft (single precision kept for float32)
    when installed, else numpy.fft.  Any other namespace: its ``fft``
    submodule, with 5-smooth lengths.
    """
    name = xp.__name__.split(".", 1)[0]
    if name == "cupy":
        import cupyx.scipy.fft as module
        return module, module.next_fast_len, True
    if name == "numpy":
        from ._fft import _fft_backend
        return _fft_backend()
    return xp.fft, _next_regular, False


# --------------------------------------------------------------------------
# Padding by index tables
# --------------------------------------------------------------------------
def boundary_index(positions, n, mode):
    """The input sample each of ``positions`` reads along an axis of ``n``
    samples (any integers, inside or outside ``[0, n)``), or -1 where mode
    'zero' reads the constant: the kernels' ``map_index`` rule
    (``imgconv/cuda/kernels/common.cuh``, ``pyx/common.pxi``), vectorised.
    Positions at any distance repeat the rule, as wide padding does.

    Parameters
    ----------
    positions : array_like of int
        Padded positions relative to the first input sample.
    n : int
        Samples along the axis (at least 1).
    mode : str
        Canonical mode: 'zero', 'replicate', 'reflect', 'symmetric', 'wrap'.

    Returns
    -------
    numpy.ndarray of numpy.intp
        One input index (or -1) per position.
    """
    i = np.asarray(positions, dtype=np.intp)
    if mode == "zero":
        return np.where((i >= 0) & (i < n), i, -1)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "wrap":
        return i % n               # numpy's % is the floor modulo: never negative
    if mode == "reflect":
        if n == 1:
            return np.zeros_like(i)
        period = 2 * n - 2
        folded = i % period
        return np.where(folded < n, folded, period - folded)
    if mode == "symmetric":
        period = 2 * n
        folded = i % period
        return np.where(folded < n, folded, period - 1 - folded)
    raise ValueError(f"unknown boundary mode {mode!r}")


def axis_pieces(n, pad_lo, length, mode):
    """The padded positions ``0 .. length - 1`` of one axis (position ``p``
    reads input sample ``p - pad_lo`` by the boundary rule) as pieces
    ``(positions, source)``: ``positions`` a slice of the padded axis,
    ``source`` a slice of the input where it reads the input in order (the
    core, at most one), else an index table from :func:`boundary_index`, or
    None where mode 'zero' reads the constant."""
    first, stop = min(max(pad_lo, 0), length), min(max(pad_lo + n, 0), length)
    if first >= stop:          # the outputs read padding only on this axis
        first = stop = 0
    pieces = []
    for begin, end in ((0, first), (stop, length)):
        if begin < end:
            if mode == "zero":
                pieces.append((slice(begin, end), None))
            else:
                table = boundary_index(np.arange(begin, end) - pad_lo, n, mode)
                pieces.append((slice(begin, end), table))
    if first < stop:
        pieces.append((slice(first, stop), slice(first - pad_lo, stop - pad_lo)))
    return pieces


def pad_into(xp, padded, x, pad_lo, mode, cval):
    """Fill ``padded`` (batch axes, then its spatial axes, last) with ``x``
    (the same batch axes and spatial axes) padded by ``pad_lo`` in front and
    continued by the boundary rule; ``padded`` may be shorter than ``x``
    plus its padding (only what the outputs read), or longer.

    Each axis is cut into its core and its frame (:func:`axis_pieces`), and
    every combination of pieces is one assignment: the core of all axes a
    strided copy, a block touching a frame a gather by the (small) index
    tables of its axes, a frame of mode 'zero' the constant.  No temporary
    larger than one frame block, the conversion to the compute dtype done
    by the assignment."""
    rank = len(pad_lo)
    per_axis = [axis_pieces(n, lo, length, mode)
                for n, lo, length in zip(x.shape[-rank:], pad_lo, padded.shape[-rank:])]
    for block in itertools.product(*per_axis):
        target = (Ellipsis,) + tuple(positions for positions, _ in block)
        sources = [source for _, source in block]
        if any(source is None for source in sources):
            padded[target] = cval
        elif all(isinstance(source, slice) for source in sources):
            padded[target] = x[(Ellipsis,) + tuple(sources)]
        else:
            tables = [np.arange(s.start, s.stop) if isinstance(s, slice) else s for s in sources]
            mesh = [xp.asarray(t.reshape((1,) * i + (-1,) + (1,) * (rank - 1 - i)))
                    for i, t in enumerate(tables)]
            padded[target] = x[(Ellipsis,) + tuple(mesh)]
    return padded


# --------------------------------------------------------------------------
# The method
# --------------------------------------------------------------------------
def kernel_spectrum_slabs(fft, xp, wd, fft_shape):
    """The conjugated spectrum (correlation, not convolution) of the kernel
    ``wd`` (numpy) zero-padded to ``fft_shape``, in slabs of columns of its
    last (half-spectrum) axis: ``(columns, slab)`` pairs, ``columns`` a
    slice of that axis, ``slab`` the spectrum's columns there, in ``xp``.

    The real transform along the last axis is made once for the kernel's
    lines (small); each slab then takes the complex transforms along the
    other axes (``_fft._spectrum_columns``, the CPU's pruned order), so only
    a slab, never the whole spectrum, needs room beside the data's
    spectrum.  See :data:`KERNEL_SLAB_BYTES`."""
    lines = fft.rfft(xp.asarray(wd), n=fft_shape[-1], axis=-1)
    width = lines.shape[-1]
    column_bytes = math.prod(fft_shape[:-1]) * lines.dtype.itemsize
    count = max(1, min(KERNEL_SLABS, width, -(-width * column_bytes // KERNEL_SLAB_BYTES)))
    step = -(-width // count)
    for first in range(0, width, step):
        columns = slice(first, min(first + step, width))
        slab = _spectrum_columns(fft, lines[..., columns], fft_shape, {})
        xp.conjugate(slab, out=slab)
        yield columns, slab


def multiply_by_slabs(xp, spectrum, slabs):
    """``spectrum *= slab`` over the columns of each of ``slabs``
    (:func:`kernel_spectrum_slabs`), in place; a slab lives until the next
    is made, none after the last product."""
    for columns, slab in slabs:
        part = spectrum[..., columns]
        # not `spectrum[..., columns] *= slab`, whose assignment back through
        # an overlapping view makes numpy copy the part
        xp.multiply(part, slab, out=part)


def fft_correlate(xp, inp, x, weights, geom, out):
    """Correlate ``x`` with ``weights`` through the FFT of the namespace
    ``xp``; the direct kernel's result to float rounding.

    ``out[i] = sum_k weights[k] * xpad[i*stride + k*dilation]`` along the
    spatial axes ``inp.axes``, every other axis (channels) filtered
    independently with the same kernel, ``xpad`` the input padded by
    ``geom.pad_lo`` with ``inp.mode`` (``inp.cval`` for 'zero').  Computed
    as a valid circular correlation: per axis the ``L = (o - 1)*s + K``
    padded samples the outputs read (``K`` the dilated kernel's extent) are
    gathered into a transform of the next fast length ``N >= L``, which the
    valid outputs never wrap around; the stride-1 result is then sampled
    every ``s``.

    Parameters
    ----------
    xp : module
        The array namespace of ``x`` and ``out`` (cupy, numpy); its FFT
        module is chosen by :func:`transforms`.
    inp : imgconv._validate.FilterInput
        The normalised call: ``axes``, ``mode``, ``cval`` and the ``backend``
        whose ``store`` writes the result.
    x : array
        The input, ``inp.x`` or an array of its layout (any supported dtype,
        any strides); never modified.
    weights : numpy.ndarray
        The kernel in the compute dtype (float32 or float64), one dimension
        per spatial axis, not flipped.  Its dtype is the precision of the
        transforms (complex64 for float32, complex128 for float64).
    geom : imgconv._convolve.Geometry
        ``pad_lo``, ``stride``, ``dilation`` and ``out_shape`` per spatial
        axis.
    out : array
        The result's array (``out_shape`` on the spatial axes, ``x``'s
        elsewhere), any supported dtype and strides; integer outputs get
        rounded, saturated values (``inp.backend.store``).

    Returns
    -------
    array
        ``out``.

    Notes
    -----
    As on the CPU (``imgconv._fft``): each channel's mean is taken out before
    the transforms and ``mean * sum(weights)`` added back (exact by
    linearity), so a large offset (uint16 CT) does not inflate the rounding
    errors; a NaN or infinity anywhere in the input or the kernel spreads to
    the whole channel's output, even under zero weights, which is why
    ``method='auto'`` never picks the FFT for such data.
    """
    rank = inp.rank
    if weights.ndim != rank:
        raise ValueError(f"weights have {weights.ndim} dimensions for {rank} spatial axes")
    compute = np.dtype(weights.dtype)
    fft, fast_len, scipy_like = transforms(xp)
    axes = tuple(a % x.ndim for a in inp.axes)
    batch_axes = tuple(a for a in range(x.ndim) if a not in axes)
    # (batch..., spatial...) views, so that the spatial axes are the last
    order = batch_axes + axes
    xm, outm = x.transpose(order), out.transpose(order)
    batch_shape, out_spatial = xm.shape[:len(batch_axes)], outm.shape[len(batch_axes):]
    if out_spatial != tuple(geom.out_shape):
        raise ValueError(f"out has spatial shape {out_spatial}, the geometry gives "
                         f"{tuple(geom.out_shape)}")

    wd = _dilated(weights, geom.dilation)
    read = tuple((o - 1) * s + k for o, s, k in zip(out_spatial, geom.stride, wd.shape))
    fft_shape = tuple(int(fast_len(n)) for n in read)
    spatial = tuple(range(-rank, 0))
    weight_sum = float(weights.sum(dtype=np.float64))
    outputs = (Ellipsis,) + tuple(slice(0, (o - 1) * s + 1, s)
                                  for o, s in zip(out_spatial, geom.stride))
    integral = x.dtype.kind in "iu"
    inverse = {"overwrite_x": True} if scipy_like else {}

    padded_bytes = math.prod(fft_shape) * compute.itemsize
    if math.prod(batch_shape) * padded_bytes <= BATCH_BYTES:
        groups = [(Ellipsis,)]
    else:
        groups = list(np.ndindex(*batch_shape))
    kernel_spectrum = None      # whole, for several groups
    for group in groups:
        source, target = xm[group], outm[group]
        padded = pad_into(xp, xp.empty(source.shape[:source.ndim - rank] + fft_shape, compute),
                          source, geom.pad_lo, inp.mode, inp.cval)
        offset = _channel_offset(padded, tuple(range(padded.ndim - rank, padded.ndim)),
                                 integral, xp)
        if offset is not None:
            padded -= offset
        spectrum = fft.rfftn(padded, axes=spatial)
        del padded
        # the kernel's spectrum is made once the padded input is gone
        if len(groups) == 1:
            # a slab at a time: two buffers of the padded size at most
            multiply_by_slabs(xp, spectrum, kernel_spectrum_slabs(fft, xp, wd, fft_shape))
        else:
            if kernel_spectrum is None:
                kernel_spectrum = xp.empty(spectrum.shape[-rank:], spectrum.dtype)
                for columns, slab in kernel_spectrum_slabs(fft, xp, wd, fft_shape):
                    kernel_spectrum[..., columns] = slab
            spectrum *= kernel_spectrum
        result = fft.irfftn(spectrum, s=fft_shape, axes=spatial, **inverse)
        del spectrum
        if result.dtype != compute:        # numpy.fft before numpy 2 computes in float64
            result = result.astype(compute)
        sampled = result[outputs]
        if offset is not None:
            sampled += (offset * weight_sum).astype(compute)
        inp.backend.store(sampled, target)
    return out


# --------------------------------------------------------------------------
# Cost model for method='auto' on a GPU
# --------------------------------------------------------------------------
#: Multiply-adds per second of the direct kernel on the GPU, float32
#: (halved for float64).  An estimate, not measured: an H100 does 67
#: TFLOP/s of float32 FMA at peak; the tiled kernel reads its taps from
#: shared memory, which holds it to about a third of that, taken as 20
#: TFLOP/s = 1e13 multiply-adds/s (the lower end of 20-40).  The issue's
#: earlier measurement of a plain 2.5D-blocked kernel (7**3 on 512**3 in
#: 13.9 ms) is 3.3e12 multiply-adds/s: an older kernel, so the direct method
#: is taken as the faster one it is meant to be.
GPU_DIRECT_FMA_PER_S = 1.0e13

#: Bytes per second that the transforms and the element-wise passes move.
#: An estimate: the issue measured an H100 copy at 2.84 TB/s; cuFFT's
#: passes and CuPy's element-wise kernels reach a little less.
GPU_BANDWIDTH = 2.5e12

#: Seconds of launch and Python per CuPy call, an estimate.  One FFT
#: correlation makes ``3**rank + 18`` of them (:func:`gpu_overhead`): it
#: keeps small images on the direct kernel, where one launch does it all.
GPU_CALL_S = 1e-5


def gpu_overhead(rank):
    """Seconds one FFT correlation of ``rank`` spatial axes costs beyond its
    memory traffic: :data:`GPU_CALL_S` per CuPy call, ``3**rank`` padding
    blocks (core and two frames per axis) and about 18 others (the kernel's
    transforms and conjugate, the offset's mean with its two device-to-host
    reads, forward, product, inverse, the offset added back, the store);
    the kernel's spectrum in one slab (arrays large enough for several hide
    their calls behind their traffic)."""
    return GPU_CALL_S * (3 ** rank + 18)


def gpu_passes(rank):
    """Passes (one read and one write of the padded samples) of one channel's
    FFT correlation, and of the kernel's spectrum: padding 1, taking the
    offset out 1, forward transform ``rank`` (cuFFT makes about one pass per
    axis over an array larger than its caches), product 1.5 (the kernel's
    spectrum read too), inverse ``rank``, sampling and storing 1; the
    kernel's pruned transform about ``rank - 1`` and its conjugate 1."""
    return 2 * rank + 4.5, float(rank)


def gpu_fft_cost(spatial_shape, extent, channels, compute):
    """Estimated cost of :func:`fft_correlate` on a GPU, in multiply-adds of
    the direct kernel (the units of ``_fft.direct_cost``), for
    ``method='auto'``: its memory traffic at :data:`GPU_BANDWIDTH` plus
    :func:`gpu_overhead`, in seconds, times the direct kernel's rate
    :data:`GPU_DIRECT_FMA_PER_S`.  Unmeasured (see those constants).

    Parameters
    ----------
    spatial_shape : tuple of int
        The input's spatial shape; the outputs are taken as its shape
        (padding 'same', stride 1), so ``n + k - 1`` padded samples per axis.
    extent : tuple of int
        The kernel's extent per axis, dilation included.
    channels : int
        Independent signals (each a forward and an inverse transform; the
        kernel's spectrum is shared).
    compute : numpy.dtype
        float32 or float64: twice the bytes, and half the direct kernel's
        rate, in double precision.

    Returns
    -------
    float
        The cost, comparable with ``channels * _fft.direct_cost(out_shape,
        taps)``.

    Notes
    -----
    With these constants a dense float32 kernel goes to the FFT from 9**3
    taps on a 512**3 volume (7**3 stays direct), 11**3 on 256**3 and 15**3
    on 128**3; in 2D from 25**2 on a 4096**2 image and 55**2 on 1024**2:
    the fixed cost keeps small images on the direct kernel.
    """
    rank = max(len(spatial_shape), 1)
    itemsize = np.dtype(compute).itemsize
    samples = math.prod(_next_regular(int(n) + int(k) - 1)
                        for n, k in zip(spatial_shape, extent))
    per_channel, kernel = gpu_passes(rank)
    moved = 2 * itemsize * samples * (int(channels) * per_channel + kernel)
    seconds = moved / GPU_BANDWIDTH + gpu_overhead(rank)
    return seconds * GPU_DIRECT_FMA_PER_S * 4 / itemsize

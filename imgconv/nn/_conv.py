"""Multi-channel convolutions with torch's semantics on numpy arrays.

Every convolution here is one engine, :func:`correlate_channels`: a grouped,
strided, dilated correlation of ``(N, C_in, *spatial)`` with
``(C_out, C_in/groups, *k)``.  It takes one of three routes:

* one input channel per group (depthwise, and a volume feature bank with
  ``C_in = 1``): the image layer's direct correlation kernel, one call per
  output channel over the whole batch (multithreaded C, the boundary mode
  handled inside the kernel, no padded copy);
* 1x1 kernels: a matrix product of the weights with the (strided) input;
* otherwise im2col in blocks: the columns of a block of output rows (at
  most :data:`COLUMN_BYTES`) are copied from strided views of the padded
  input and multiplied with the weights by numpy's BLAS, straight into the
  output.  Memory stays bounded: no full im2col of an image or a volume.

Transposed convolutions (:func:`transposed_correlation`) are computed per
output phase of the stride: the outputs ``o = phase (mod s)`` see only the
taps ``t`` with ``d*t = phase + p (mod s)``.  Layers with several channels
per group run products first (:func:`product_first_transposed`: one BLAS
product of the weights with the input rows, then a compiled gather sums
each output from the products of the taps that reach it); the others
(depthwise) run the same engine once per phase, those taps forming a
smaller dilated kernel read at stride 1.  Nothing is scattered element by
element and no zeros are inserted.
"""
import itertools
import math

import numpy as np

from . import _geometry as g
from . import _parallel
from .. import _dispatch, _docstrings
from .._dispatch import load as load_backend
from .._threads import resolve_threads
from .._xp_fft import boundary_index

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "depthwise_separable"]

#: Depthwise work with at least this many outputs per channel (batch x
#: positions) runs on the direct kernel, one call per channel; smaller
#: planes one numpy operation per tap over all channels (a kernel call
#: costs ~20 us, about what 2,000 outputs of a 3x3 kernel take).
DIRECT_KERNEL_MIN_OUTPUTS = 2048

#: Bytes of one block of im2col columns (one buffer per thread).  Measured
#: on the 2-core development machine, 512 KiB to 4 MiB blocks run the
#: benchmarks' convolutions within noise of each other with 2 threads;
#: 2 MiB was the best or close to it in each.
COLUMN_BYTES = 2 << 20


# --------------------------------------------------------------------------
# Padding
# --------------------------------------------------------------------------
def crop_negative_padding(x, pad_lo, pad_hi):
    """``x`` with the samples a negative padding drops sliced off, and the
    padding that is left (all >= 0)."""
    if min(pad_lo + pad_hi, default=0) >= 0:
        return x, pad_lo, pad_hi
    index = (slice(None), slice(None)) + tuple(
        slice(max(0, -lo), n + min(0, hi)) for n, lo, hi in zip(x.shape[2:], pad_lo, pad_hi))
    return (x[index], tuple(max(0, p) for p in pad_lo), tuple(max(0, p) for p in pad_hi))


def pad_input(x, pad_lo, pad_hi, mode):
    """``x`` (N, C, *spatial) padded by imgconv's boundary rule ``mode``
    (padding wider than the input repeats the rule)."""
    if not any(pad_lo) and not any(pad_hi):
        return x
    if mode == "zero":
        shape = x.shape[:2] + tuple(n + lo + hi for n, lo, hi in zip(x.shape[2:], pad_lo, pad_hi))
        padded = np.zeros(shape, x.dtype)
        parallel_copy(padded[(slice(None), slice(None)) + tuple(
            slice(lo, lo + n) for n, lo in zip(x.shape[2:], pad_lo))], x)
        return padded
    for axis, (n, lo, hi) in enumerate(zip(x.shape[2:], pad_lo, pad_hi)):
        if lo or hi:
            x = x.take(boundary_index(np.arange(-lo, n + hi), n, mode), axis=2 + axis)
    return x


# --------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------
def correlate_channels(x, weight, pad_lo, pad_hi, mode, stride, dilation, groups, out):
    """Grouped correlation into ``out`` (N, C_out, *out_spatial)::

        out[n, o, i] = sum_{c, t} weight[o, c, t] * xpad[n, G*C_in/groups + c, i*s + t*d]

    with ``G = o // (C_out/groups)`` and ``xpad`` the input padded by
    ``pad_lo``/``pad_hi`` (negative: cropped) under boundary ``mode``.
    ``x`` and ``weight`` are of ``out``'s dtype.  ``out`` may be a strided
    view (a transposed convolution's phase): im2col blocks are stored into
    it from each thread's cache, the other routes through a C-contiguous
    result.
    """
    x, pad_lo, pad_hi = crop_negative_padding(x, pad_lo, pad_hi)
    if out.size == 0:
        return out
    kernel_size = weight.shape[2:]
    if x.shape[1] == groups and math.prod(kernel_size) > 1:
        if out.shape[0] * math.prod(out.shape[2:]) >= DIRECT_KERNEL_MIN_OUTPUTS:
            return contiguous_result(out, lambda result: per_channel_correlation(
                x, weight, pad_lo, mode, stride, dilation, result))
        return contiguous_result(out, lambda result: tapwise_correlation(
            pad_input(x, pad_lo, pad_hi, mode), weight, stride, dilation, result))
    padded = pad_input(x, pad_lo, pad_hi, mode)
    if math.prod(kernel_size) == 1:
        return contiguous_result(out, lambda result: pointwise(padded, weight, stride, groups,
                                                               result))
    return im2col_correlation(padded, weight, stride, dilation, groups, out)


def contiguous_result(out, compute):
    """``compute(result)`` into ``out``, through a new C-contiguous result
    where ``out`` is not C-contiguous itself."""
    if out.flags.c_contiguous:
        return compute(out)
    parallel_copy(out, compute(np.empty(out.shape, out.dtype)))
    return out


def per_channel_correlation(x, weight, pad_lo, mode, stride, dilation, out):
    """One input channel per group: the image layer's direct kernel, one
    call per output channel over the whole batch."""
    cpu = load_backend("cpu")
    if min(x.strides) < 0:      # the kernels step through positive strides
        x = np.ascontiguousarray(x)
    multiplier = out.shape[1] // x.shape[1]
    # the layout of every channel's (N, *spatial) view, checked once
    inp = g.v.filter_input(x[:, 0], mode, 0.0, channel_axis=0, backend=cpu)
    weight = np.ascontiguousarray(weight)
    channels = out.shape[1]
    threads = resolve_threads(None, out.size * math.prod(weight.shape[2:]))
    # channels shared among threads, each kernel call on one thread: no
    # thread team to start and join per channel (on a busy machine a
    # team's barrier can wait for a time slice)
    kernel_threads = 1 if channels >= threads else threads

    def correlate(o):
        cpu.correlate(inp, x[:, o // multiplier], weight[o, 0], pad_lo, stride, dilation, 0.0,
                      out[:, o], kernel_threads)

    _parallel.dynamic(channels, threads if kernel_threads == 1 else 1, lambda: correlate)
    return out


def tapwise_correlation(x, weight, stride, dilation, out):
    """One input channel per group, on small planes: every tap one numpy
    operation over all channels at once (per-channel kernel calls would
    cost more in calls than in sums)."""
    n, channels = x.shape[:2]
    multiplier = out.shape[1] // channels
    # output channel o = c*multiplier + j reads input channel c
    out_view = flat_view(out, (n, channels, multiplier) + out.shape[2:])
    weights = weight.reshape((channels, multiplier) + weight.shape[2:])
    out_view[...] = 0
    product = np.empty_like(out_view)
    spatial = (1,) * (out.ndim - 2)
    for tap in np.ndindex(*weight.shape[2:]):
        window = x[(slice(None), slice(None), None) + tuple(
            slice(t * d, t * d + (o - 1) * s + 1, s)
            for t, d, o, s in zip(tap, dilation, out.shape[2:], stride))]
        np.multiply(window, weights[(slice(None), slice(None)) + tap].reshape(
            (1, channels, multiplier) + spatial), out=product)
        out_view += product
    return out


def flat_view(a, shape):
    """``a`` (C-contiguous) reshaped without a copy."""
    view = a.reshape(shape)
    assert np.shares_memory(view, a), "flat_view needs a C-contiguous array"
    return view


def pointwise(x, weight, stride, groups, out):
    """A 1x1 convolution: the weights times the input's channel vectors."""
    if any(s > 1 for s in stride):
        x = x[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)]
    n, c_out = out.shape[:2]
    positions = math.prod(out.shape[2:])
    weights = weight.reshape(groups, c_out // groups, -1)
    out_view = flat_view(out, (n, groups, c_out // groups, positions))

    def multiply(image):
        np.matmul(weights, np.ascontiguousarray(x[image]).reshape(groups, -1, positions),
                  out=out_view[image])

    _parallel.dynamic(n, _parallel.thread_count(out.size * x.shape[1] // groups),
                      lambda: multiply)
    return out


class ColumnBlocks:
    """The im2col blocks of a padded input ``x``: for each image, group and
    run of output rows, the columns (C_in/groups * prod(k), P) of the
    inputs that the outputs ``p0 .. p0 + P - 1`` (flat indices of
    ``out_spatial``) read.

    A block is a run of whole rows (whole planes of a volume where they
    fit) of at most :data:`COLUMN_BYTES`.  :meth:`run` hands the blocks to
    threads, each filling its own buffer.
    """

    def __init__(self, x, kernel_size, stride, dilation, out_spatial, groups, wide=False):
        rank = len(out_spatial)
        self.x, self.out_spatial = x, tuple(out_spatial)
        self.channels = x.shape[1] // groups
        self.taps = self.channels * math.prod(kernel_size)
        self.block_shape = (self.channels,) + tuple(kernel_size)
        itemsize = x.itemsize
        # the outermost axis whose single entries (rows, planes) fit a block
        unit = [math.prod(out_spatial[a + 1:]) for a in range(rank)]
        split = next((a for a in range(rank) if unit[a] * self.taps * itemsize <= COLUMN_BYTES),
                     rank - 1)
        rows = min(out_spatial[split],
                   max(1, COLUMN_BYTES // (unit[split] * self.taps * itemsize)))
        self.split, self.unit, self.stride = split, unit[split], tuple(stride)
        self.buffer_size = self.taps * rows * unit[split]
        strides = x.strides[2:]
        self.view_strides = ((x.strides[1],) + tuple(d * st for d, st in zip(dilation, strides))
                             + tuple(s * st for s, st in zip(stride[split:], strides[split:])))
        # wide blocks (images at stride 1): a block's columns are whole padded
        # rows, runs of (r-1)*pitch + W_out samples copied contiguously (about
        # twice as fast as rows of W_out); the caller drops the columns past
        # W_out of each row when it stores the products
        self.pitch = None
        if (wide and rank == 2 and split == 0 and all(s == 1 for s in stride)
                and strides[1] == itemsize and strides[0] % itemsize == 0):
            self.pitch = strides[0] // itemsize
            rows = min(out_spatial[0],
                       max(1, COLUMN_BYTES // (self.pitch * self.taps * itemsize)))
            self.buffer_size = self.taps * rows * self.pitch
            self.view_strides = self.view_strides[:-2] + (itemsize,)
        self.items = [(n, group, lead, r0, min(rows, out_spatial[split] - r0))
                      for n in range(x.shape[0]) for group in range(groups)
                      for lead in np.ndindex(*out_spatial[:split])
                      for r0 in range(0, out_spatial[split], rows)]

    def fill(self, item, buffer):
        """``(n, group, p0, columns)`` of one block, its columns in ``buffer``."""
        n, group, lead, r0, r = item
        start = lead + (r0,)
        first = self.x[(n, slice(group * self.channels, None)) + tuple(
            slice(i * s, None) for i, s in zip(start, self.stride))]
        if self.pitch:
            positions = (r - 1) * self.pitch + self.unit
            block = (positions,)
        else:
            positions = r * self.unit
            block = (r,) + self.out_spatial[self.split + 1:]
        source = np.lib.stride_tricks.as_strided(first, self.block_shape + block,
                                                 self.view_strides, writeable=False)
        columns = buffer[:self.taps * positions]
        np.copyto(columns.reshape(source.shape), source)
        p0 = ((np.ravel_multi_index(lead, self.out_spatial[:self.split])
               * self.out_spatial[self.split] if self.split else 0) + r0) * self.unit
        return n, group, p0, columns.reshape(self.taps, positions)

    def block_index(self, p0, positions):
        """The index of the spatial block of outputs ``p0 .. p0 + positions - 1``."""
        first = p0 // self.unit
        rows = positions // self.unit
        lead = (np.unravel_index(first // self.out_spatial[self.split],
                                 self.out_spatial[:self.split]) if self.split else ())
        r0 = first % self.out_spatial[self.split]
        return tuple(int(i) for i in lead) + (slice(r0, r0 + rows),)

    def run(self, threads, make_worker, parts=None):
        """``worker(blocks)`` for parts of the blocks, shared among threads
        (each thread has its own buffer and its own ``make_worker()``), each
        part an iterable of ``(n, group, p0, columns)``; the results, one
        per part in order.  ``parts``: a number of parts fixed whatever the
        thread count (a sum over the parts' results is then the same with
        any number of threads); default one part per block."""
        ranges = _parallel.split(len(self.items), parts or len(self.items))

        def make():
            buffer = np.empty(self.buffer_size, self.x.dtype)
            worker = make_worker()
            return lambda r: worker(self.fill(self.items[i], buffer) for i in ranges[r])

        return _parallel.dynamic(len(ranges), threads, make)


def im2col_correlation(x, weight, stride, dilation, groups, out):
    """Blocks of im2col columns times the weights, by BLAS, into ``out``
    (straight into a C-contiguous one; else through each thread's block)."""
    per_group = out.shape[1] // groups
    weights = weight.reshape(groups, per_group, -1)
    # wide blocks where the products are stored through a copy anyway
    blocks = ColumnBlocks(x, weight.shape[2:], stride, dilation, out.shape[2:], groups,
                          wide=not out.flags.c_contiguous)
    if out.flags.c_contiguous:
        out_flat = flat_view(out, out.shape[:2] + (-1,))

        def multiply(parts):
            for n, group, p0, columns in parts:
                np.matmul(weights[group], columns,
                          out=out_flat[n, group * per_group:(group + 1) * per_group,
                                       p0:p0 + columns.shape[1]])

        def make_worker():
            return multiply
    else:
        def make_worker():
            products = np.empty(per_group * blocks.buffer_size // blocks.taps, out.dtype)
            return lambda parts: store_products(parts, products)

        def store_products(parts, products):
            for n, group, p0, columns in parts:
                positions = columns.shape[1]
                if blocks.pitch:
                    rows = (positions - blocks.unit) // blocks.pitch + 1
                    product = products[:per_group * rows * blocks.pitch].reshape(per_group, -1)
                    np.matmul(weights[group], columns, out=product[:, :positions])
                    product = product.reshape(per_group, rows, -1)[:, :, :blocks.unit]
                    positions = rows * blocks.unit
                else:
                    product = products[:per_group * positions].reshape(per_group, -1)
                    np.matmul(weights[group], columns, out=product)
                target = out[(n, slice(group * per_group, (group + 1) * per_group))
                             + blocks.block_index(p0, positions)]
                target[...] = product.reshape(target.shape)

    blocks.run(_parallel.thread_count(out.size * blocks.taps), make_worker)
    return out


def parallel_copy(target, source):
    """``target[...] = source`` split among threads (a large strided copy)."""
    axis = 0 if target.shape[0] > 1 else 1
    threads = _parallel.thread_count(target.size // 4)

    def copy(i):
        index = (slice(None),) * axis + (i,)
        target[index] = source[index]

    _parallel.dynamic(target.shape[axis], threads, lambda: copy)


def phase_correlation(phase, stride, dilation, pad_lo, kernel_size, in_spatial, out_spatial):
    """The correlation that gives the outputs ``o = phase (mod stride)`` of a
    transposed convolution: ``(phase, taps, dilation, pad_lo, pad_hi)``,
    ``taps`` per axis in the order the correlation reads them (None where
    no tap reaches the phase)."""
    taps, spacing, lo, hi = [], [], [], []
    for f, s, d, p, k, n_in, n_out in zip(phase, stride, dilation, pad_lo, kernel_size,
                                          in_spatial, out_spatial):
        # the taps with d*t = f + p (mod s) are t0, t0 + u, ...; output m of
        # the phase reads input m + c0 - j*(d/gcd(s, d)) through tap t0 + j*u
        step = s // math.gcd(s, d)
        first = next((t for t in range(min(k, step)) if (d * t - f - p) % s == 0), None)
        if first is None:
            return phase, None, None, None, None
        count = len(range(first, k, step))
        m = len(range(f, n_out, s))
        spread = d // math.gcd(s, d)
        base = (f + p - d * first) // s - (count - 1) * spread
        taps.append(first + step * np.arange(count - 1, -1, -1))
        spacing.append(spread)
        lo.append(-base)
        hi.append(base + (m - 1) + (count - 1) * spread - (n_in - 1))
    return phase, taps, tuple(spacing), tuple(lo), tuple(hi)


def transposed_correlation(x, weight, stride, pad_lo, dilation, groups, out, route=None):
    """A transposed convolution into ``out`` (N, C_out, *out_spatial):
    ``weight`` is (C_in, C_out/groups, *k), input sample ``i`` spreads to
    outputs ``i*s - pad_lo + t*d``.  ``route``: "products" (products first,
    :func:`product_first_transposed`), "phases" (a correlation per output
    phase, :func:`phasewise_transposed`) or None (:func:`transposed_route`)."""
    if route not in ("products", "phases", None):
        raise ValueError(f"route must be 'products', 'phases' or None, got {route!r}")
    if out.size == 0:
        return out
    if route is None:
        route = transposed_route(x.shape, weight.shape, stride, dilation, groups, x.itemsize)
    if route == "products":
        return product_first_transposed(x, weight, stride, pad_lo, dilation, groups, out)
    return phasewise_transposed(x, weight, stride, pad_lo, dilation, groups, out)


def transposed_route(x_shape, weight_shape, stride, dilation, groups, itemsize):
    """The route of a transposed convolution of an input ``x_shape`` with
    weights ``weight_shape`` (C_in, C_out/groups, *k), of ``itemsize`` bytes.

    Products first where every group has at least
    :data:`PRODUCT_FIRST_MIN_CHANNELS` input and output channels and the
    products of the few input rows (planes) a block needs fit in
    :data:`PRODUCT_RING_MAX_BYTES` (a 1D signal's samples: always); the
    phases' correlations otherwise.  Measured with one thread on the 2-core
    development machine (float32, busy: load average about 3), the phases'
    time over the products' (compiled gather): 64->32 channels, 4x4, stride
    2, 64x64 1.66; 8->8 1.58, 4->4 1.56, 2 channels per group 2.29, but
    depthwise (1 per group) 0.43; stride 1, 3x3: 64->32 1.31, 16->16 1.16;
    3D: 16->16 4^3 stride 2 1.14, 4->4 1.35, 32->16 3^3 stride 1 1.11; 1D
    8->8 1.70; an 8x8 input 2.47; wide rows (a block of one row, its
    products out of L2): 64->32 on 512x512 1.47 and 256x1024 1.34, 16->16
    on 256x2048 1.41.
    """
    kernel_size = weight_shape[2:]
    if min(weight_shape[0] // groups, weight_shape[1]) < PRODUCT_FIRST_MIN_CHANNELS:
        return "phases"
    if len(kernel_size) == 1:
        return "products"
    reach = -(-((kernel_size[0] - 1) * dilation[0]) // stride[0]) + 2
    row_bytes = itemsize * math.prod(kernel_size) * weight_shape[1] * math.prod(x_shape[3:])
    return "products" if reach * row_bytes <= PRODUCT_RING_MAX_BYTES else "phases"


#: Bytes of the products of one block's new input rows in the product-first
#: route of transposed convolutions (see :func:`product_first_transposed`;
#: a thread's ring of rows holds about twice that).  Small enough that the
#: products are still in L2 when the gather reads them (1 MiB per core on
#: the development machine), large enough that each BLAS product has a few
#: hundred columns.  Measured (64->32 channels, 4x4, stride 2, 64x64
#: float32 input, 2 threads, interleaved on a busy machine, relative to
#: 4 MiB): 256 KiB 0.84x, 512 KiB 1.2x, 1 MiB 1.13x, 2 MiB 1.02x.
PRODUCT_BYTES = 512 << 10

#: The most bytes of products that a thread's ring in the product-first
#: route may need (the rows of one block and the kernel's reach): rows wider
#: than that take the phases' route.  A bound on memory, not a tuned speed.
PRODUCT_RING_MAX_BYTES = 16 << 20

#: Tasks (images x groups x runs of row blocks) the product-first route
#: makes at least, where there are blocks enough: enough for the threads of
#: a few cores, few enough that the rows a run recomputes stay a small part.
PRODUCT_FIRST_TASKS = 8

#: Channels per group (input and output) from which a transposed
#: convolution runs products first (:func:`transposed_route`): with one
#: (depthwise) a product is an outer product and the phases' direct kernel
#: is faster.
PRODUCT_FIRST_MIN_CHANNELS = 2


def as_volume(values, rank, fill):
    """Per-axis ``values`` of a 2D or 3D convolution as the 3D ones the
    products' gather takes: (H, W) -> (H, fill, W), so that the first axis,
    along which the blocks run, is the rows of an image."""
    values = tuple(values)
    return (values[0], fill, values[1]) if rank == 2 else values


def tap_major_weights(weight, groups):
    """Transposed convolution weights (C_in, C_out/groups, *k) as the
    product-first route multiplies them: per group a (prod(k) *
    C_out/groups, C_in/groups) matrix, its rows tap-major."""
    c_in, per_group = weight.shape[:2]
    channels, taps = c_in // groups, math.prod(weight.shape[2:])
    return np.ascontiguousarray(
        weight.reshape(groups, channels, per_group, taps).transpose(0, 3, 2, 1)
    ).reshape(groups, taps * per_group, channels)


def product_first_signals(x, weight, stride, pad, dilation, groups, out):
    """:func:`product_first_transposed` of 1D signals: the outputs in
    chunks, each the gather of one BLAS product of the weights with the
    input samples that reach the chunk (at most :data:`PRODUCT_BYTES` of
    products; a chunk recomputes the ``(k-1)*d/s`` samples it shares with
    the next).  Each chunk is a transposed convolution of its own, of the
    samples from ``i0`` on into the outputs from ``o0`` on, the padding
    becoming ``pad + o0 - i0*s``; images x groups x chunks are the threads'
    tasks."""
    c_in, per_group, kernel = weight.shape
    channels = c_in // groups
    weights = tap_major_weights(weight, groups)
    length_in, length_out = x.shape[2], out.shape[2]
    chunk_inputs = max(1, PRODUCT_BYTES // (kernel * per_group * x.itemsize))
    out_chunk = stride * max(1, chunk_inputs - (kernel - 1) * dilation // stride - 2)
    chunks = []
    for o0 in range(0, length_out, out_chunk):
        o1 = min(length_out, o0 + out_chunk)
        # rounded down, so the chunk's padding is >= 0 (a sample too many is
        # one that reaches none of the chunk's outputs)
        i0 = max(0, (o0 + pad - (kernel - 1) * dilation) // stride)
        chunks.append((o0, o1, i0, max(i0, min(length_in, (o1 - 1 + pad) // stride + 1))))
    width = max(i1 - i0 for _, _, i0, i1 in chunks)
    items = [(n, group, chunk) for n in range(x.shape[0]) for group in range(groups)
             for chunk in chunks]
    threads = _parallel.thread_count(out.size * channels * kernel // stride)
    gather = _dispatch.kernels.transposed_gather

    def compute(result):
        def make_worker():
            buffer = np.empty((kernel * per_group, max(1, width)), x.dtype)

            def run_chunk(index):
                n, group, (o0, o1, i0, i1) = items[index]
                np.matmul(weights[group], x[n, group * channels:(group + 1) * channels, i0:i1],
                          out=buffer[:, :i1 - i0])
                target = result[n, group * per_group:(group + 1) * per_group, None, None, o0:o1]
                gather(buffer, target, 1, 0, 0, 1, 0, 1, (1, 1, i1 - i0), (1, 1, kernel),
                       (1, 1, stride), (0, 0, pad + o0 - i0 * stride), (1, 1, dilation))

            return run_chunk

        _parallel.dynamic(len(items), threads, make_worker)
        return result

    return contiguous_result(out, compute)


def run_steps(run, blocks, geometry, ring, ring_origin):
    """The steps of one run of blocks of the product-first route, the same
    for every image: per block ``(products, held, block)``, ``products``
    the ``(first, stop, slot)`` runs of new input planes to multiply into
    the ring from ``slot`` on (two where they wrap around its end), ``held``
    the input planes the ring then holds for the gather of the output
    planes ``block``."""
    in_planes, kernel_size, stride, padding, dilation = (v[0] for v in geometry)
    held = range(0)
    for b in run:
        block = blocks[b]
        # the input planes that reach the block's output planes
        first = max(0, -((padding - (kernel_size - 1) * dilation + block.start) // -stride))
        needed = range(first, max(first, min(in_planes, (block.stop - 1 + padding) // stride + 1)))
        products = []
        if len(needed):
            start = held.stop if needed.start in held else needed.start
            while start < needed.stop:
                slot = (start - ring_origin) % ring
                stop = min(needed.stop, start + ring - slot)
                products.append((start, stop, slot))
                start = stop
            held = needed
        yield products, held, block


def product_first_transposed(x, weight, stride, pad_lo, dilation, groups, out):
    """A transposed convolution into ``out``, products first: per image,
    group and block of output rows (planes of a volume), one BLAS product
    ``Y = W^T X`` of the weights (prod(k) * C_out/groups, C_in/groups) with
    the input rows the block reads, used as they are (no im2col); then the
    compiled gather (``transposed_gather``) sums each output from the
    products of the taps that reach it and writes the block's outputs once
    (no zeroing, no adds into the output).

    The products of each input row (plane) go to a ring of rows in the
    thread's buffer: the blocks of one image run in order, and
    the products of the rows a block shares with the next (the
    ``(k-1)*d/s`` rows of the kernel's reach) stay where they are, so no
    product is computed or copied twice; images, groups and,
    where they are fewer than :data:`PRODUCT_FIRST_TASKS`, runs of blocks of
    an image run on threads (a run's first block recomputes its shared
    rows), and no two threads write one output.
    """
    rank = len(stride)
    if rank == 1:
        return product_first_signals(x, weight, stride[0], pad_lo[0], dilation[0], groups, out)
    c_in, per_group = weight.shape[:2]
    kernel_size = weight.shape[2:]
    channels = c_in // groups
    taps = math.prod(kernel_size)
    weights = tap_major_weights(weight, groups)
    # the product reads the input's rows as a (channels, positions) matrix
    x = np.ascontiguousarray(x)
    in_shape = as_volume(x.shape[2:], rank, 1)
    out_shape = as_volume(out.shape[2:], rank, 1)
    geometry = (in_shape, as_volume(kernel_size, rank, 1), as_volume(stride, rank, 1),
                as_volume(pad_lo, rank, 0), as_volume(dilation, rank, 1))
    x = x.reshape(x.shape[:2] + in_shape)
    plane_stride, plane_pad, plane_dilation = (v[0] for v in geometry[2:])
    inner = in_shape[1] * in_shape[2]
    # a block of P stride periods of output planes reads P + reach input planes
    # at most, P of them new (but in its run's first block)
    reach = -(-((geometry[1][0] - 1) * plane_dilation) // plane_stride) + 1
    plane_bytes = taps * per_group * inner * x.itemsize
    periods = -(-out_shape[0] // plane_stride)
    count = -(-periods // max(1, PRODUCT_BYTES // max(1, plane_bytes)))
    period_count = -(-periods // count)      # near-equal blocks, each within PRODUCT_BYTES
    out_planes = plane_stride * period_count
    blocks = [range(r0, min(r0 + out_planes, out_shape[0]))
              for r0 in range(0, out_shape[0], out_planes)]
    # the ring: a whole number of blocks' new planes, slot 0 taking the first
    # new plane of the second block, so that each block's new products are
    # one contiguous run of slots (one matrix product)
    ring = period_count * -(-(period_count + reach) // period_count)
    ring_origin = (out_planes - 1 + plane_pad) // plane_stride + 1
    threads = _parallel.thread_count(out.size * channels * taps // math.prod(stride))
    # runs of blocks fixed whatever the thread count: the same products, the
    # same sums, the same results with any number of threads
    runs = _parallel.split(len(blocks), -(-PRODUCT_FIRST_TASKS // (x.shape[0] * groups)))
    items = [(n, group, r) for n in range(x.shape[0]) for group in range(groups)
             for r in range(len(runs))]
    steps = [list(run_steps(run, blocks, geometry, ring, ring_origin))
             for run in runs]
    gather = _dispatch.kernels.transposed_gather

    def compute(result):
        planes = result.reshape(result.shape[:2] + out_shape)

        def make_worker():
            buffer = np.empty((taps * per_group, ring * inner), x.dtype)

            def run_blocks(index):
                n, group, run = items[index]
                target = planes[n, group * per_group:(group + 1) * per_group]
                images = x[n, group * channels:(group + 1) * channels]
                for products, held, block in steps[run]:
                    for first, stop, slot in products:
                        np.matmul(weights[group], images[:, first:stop].reshape(channels, -1),
                                  out=buffer[:, slot * inner:(slot + stop - first) * inner])
                    gather(buffer, target, ring, ring_origin, held.start, len(held),
                           block.start, block.stop, *geometry)

            return run_blocks

        _parallel.dynamic(len(items), threads, make_worker)
        return result

    return contiguous_result(out, compute)


def phasewise_transposed(x, weight, stride, pad_lo, dilation, groups, out):
    """A transposed convolution into ``out``, phase by phase of the stride
    as correlations (see the module's docstring)."""
    c_in, per_group = weight.shape[:2]
    kernel_size = weight.shape[2:]
    # (C_in, C_out/groups, *k) -> the correlation's (C_out, C_in/groups, *k)
    weight = weight.reshape((groups, c_in // groups, per_group) + kernel_size).swapaxes(1, 2)
    weight = weight.reshape((groups * per_group, c_in // groups) + kernel_size)
    out_spatial = out.shape[2:]
    phases = [phase_correlation(phase, stride, dilation, pad_lo, kernel_size, x.shape[2:],
                                out_spatial)
              for phase in itertools.product(*(range(min(s, n))
                                               for s, n in zip(stride, out_spatial)))]
    reached = [p for p in phases if p[1] is not None]
    # the zero padding every phase needs, made once (the phases read slices of it)
    margin_lo = [max([0] + [p[3][a] for p in reached]) for a in range(len(stride))]
    margin_hi = [max([0] + [p[4][a] for p in reached]) for a in range(len(stride))]
    x = pad_input(x, margin_lo, margin_hi, "zero")
    for phase, taps, spacing, lo, hi in phases:
        target = out[(slice(None), slice(None)) + tuple(
            slice(f, None, s) for f, s in zip(phase, stride))]
        if taps is None:      # no tap reaches these outputs
            target[...] = 0
            continue
        sub_kernel = np.ascontiguousarray(weight[(slice(None), slice(None)) + np.ix_(*taps)])
        correlate_channels(x, sub_kernel, tuple(a - m for a, m in zip(lo, margin_lo)),
                           tuple(b - m for b, m in zip(hi, margin_hi)), "zero",
                           (1,) * len(phase), spacing, groups, target)
    return out


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------
def finish(out, bias, result_dtype, unbatched):
    """Add the bias, round to the result dtype, drop the batch axis of an
    unbatched call."""
    if bias is not None:
        out += bias.reshape((-1,) + (1,) * (out.ndim - 2))
    if out.dtype != result_dtype:
        out = out.astype(result_dtype)
    return out[0] if unbatched else out


def convolution(rank, x, weight, bias, stride, padding, dilation, groups, padding_mode):
    """conv1d/2d/3d: checked arguments, the engine, the bias."""
    args = g.conv_args(x, weight, bias, groups, rank)
    kernel_size = args.weight.shape[2:]
    stride = g.per_axis(stride, rank, "stride", minimum=1)
    dilation = g.per_axis(dilation, rank, "dilation", minimum=1)
    pad_lo, pad_hi = g.conv_padding(padding, kernel_size, stride, dilation)
    mode = g.padding_mode_name(padding_mode)
    spatial = args.x.shape[2:]
    out_spatial = tuple(g.output_size(*a) for a in
                        zip(spatial, kernel_size, stride, dilation, pad_lo, pad_hi))
    g.check_output_shape(out_spatial, spatial, kernel_size, dilation, pad_lo, pad_hi)
    out = np.empty((args.x.shape[0], args.weight.shape[0]) + out_spatial, args.compute)
    correlate_channels(args.x, args.weight, pad_lo, pad_hi, mode, stride, dilation,
                       args.groups, out)
    return finish(out, args.bias, args.result, args.unbatched)


def transposed_convolution(rank, x, weight, bias, stride, padding, output_padding, groups,
                           dilation):
    """conv_transpose1d/2d/3d."""
    args = g.conv_args(x, weight, bias, groups, rank, transposed=True)
    kernel_size = args.weight.shape[2:]
    stride = g.per_axis(stride, rank, "stride", minimum=1)
    dilation = g.per_axis(dilation, rank, "dilation", minimum=1)
    padding = g.transpose_padding(padding, rank)
    output_padding = g.check_output_padding(
        g.per_axis(output_padding, rank, "output_padding", minimum=0), stride, dilation)
    out_spatial = tuple(g.transpose_output_size(*a) for a in zip(
        args.x.shape[2:], kernel_size, stride, dilation, padding, output_padding))
    if min(out_spatial) < 1:
        raise ValueError(f"padding={padding} leaves no output: the output size would be "
                         f"{out_spatial}")
    out = np.empty((args.x.shape[0], args.weight.shape[1] * args.groups) + out_spatial,
                   args.compute)
    transposed_correlation(args.x, args.weight, stride, padding, dilation, args.groups, out)
    return finish(out, args.bias, args.result, args.unbatched)


# --------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------
_DOCS = {name: _docstrings._entries(text) for name, text in {
    "x": """
        x : array_like
            Input ``(N, C_in, *spatial)``, or unbatched ``(C_in, *spatial)`` (the
            result then has no batch axis either).  float32 or float64; float16 is
            computed in float32 and rounded back.  Any strides and byte order; never
            modified.
        """,
    "bias": """
        bias : array_like, optional
            One value per output channel, added to the result.
        """,
    "stride_dilation": """
        stride, dilation : int or tuple of int
            One value for every spatial axis or one per axis.
        """,
    "padding": """
        padding : int, tuple of int, 'same' or 'valid'
            Samples added on both sides of every spatial axis (default 0).  'same'
            keeps the input's size: ``dilation*(k-1)`` samples in all, the odd one on
            the high side (as torch; stride 1 only).
        """,
    "groups": """
        groups : int
            Input and output channels split into ``groups`` independent convolutions
            (``groups=C_in``: depthwise; ``C_out = m*C_in`` gives ``m`` filters per
            input channel).
        """,
    "padding_mode": """
        padding_mode : str
            torch's ``nn.Conv*d`` modes: 'zeros' (default), 'reflect', 'replicate',
            'circular', and 'symmetric' (``b a | a b c d | d c``); imgconv's mode
            names are taken too.  Padding wider than the input repeats the rule
            (torch refuses a reflection as wide as the input).
        """,
    "conv_returns": """
        numpy.ndarray
            ``(N, C_out, *out_spatial)`` (see :func:`conv_output_shape`), of the
            promoted dtype of ``x``, ``weight`` and ``bias``.
        """,
    "conv_raises": """
        TypeError
            An array of a dtype other than float16, float32 or float64.
        ValueError
            Wrong ranks, channels that do not match ``weight`` or ``groups``, a bias of
            the wrong length, 'same' with a stride, a kernel larger than the padded
            input; the message names the argument.
        """,
    "transpose_parameters": """
        x : array_like
            Input ``(N, C_in, *spatial)`` or unbatched ``(C_in, *spatial)``; float16,
            float32 or float64 (float16 computed in float32); never modified.
        weight : array_like
            ``(C_in, C_out/groups, *k)``, torch's layout for transposed convolutions.
        bias : array_like, optional
            One value per output channel.
        stride : int or tuple of int
        padding : int or tuple of int
            ``dilation*(k-1) - padding`` samples of zeros around the input, i.e. the
            outputs lose ``padding`` samples on each side.
        output_padding : int or tuple of int
            Extra samples on the high side of the output, each smaller than the stride
            or the dilation of its axis (torch's rule).
        groups : int
        dilation : int or tuple of int
        """,
    "transpose_returns": """
        numpy.ndarray
            ``(N, C_out, *out)`` with ``out = (n-1)*s - 2*padding + d*(k-1) +
            output_padding + 1`` per axis (:func:`conv_transpose_output_shape`).
        """,
}.items()}


def _docfiller(function):
    function.__doc__ = _docstrings.fill(function.__doc__, _DOCS)
    return function


@_docfiller
def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros"):
    """1D convolution of ``(N, C_in, L)`` signals, as ``torch.nn.functional.conv1d``.

    Like every deep-learning "convolution" it is a correlation (the kernel
    is not flipped)::

        out[n, o, i] = bias[o] + sum_{c, t} weight[o, c, t] * x_pad[n, c + G*C_in/groups, i*s + t*d]

    where ``G`` is output channel ``o``'s group.  See :func:`conv2d`.

    Parameters
    ----------
    %(x)s
    weight : array_like
        ``(C_out, C_in/groups, k)``.
    %(bias)s
    %(stride_dilation)s
    %(padding)s
    %(groups)s
    %(padding_mode)s

    Returns
    -------
    %(conv_returns)s

    Raises
    ------
    %(conv_raises)s

    Examples
    --------
    A moving difference over two channels, summed into one:

    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.array([[[0., 1., 3., 6.], [1., 1., 1., 1.]]])
    >>> w = np.array([[[-1., 1.], [0., 2.]]])
    >>> nn.conv1d(x, w)
    array([[[3., 4., 5.]]])
    >>> nn.conv1d(x, w, padding='same', padding_mode='replicate').shape
    (1, 1, 4)
    """
    return convolution(1, x, weight, bias, stride, padding, dilation, groups, padding_mode)


@_docfiller
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros"):
    """2D convolution of ``(N, C_in, H, W)`` images, as ``torch.nn.functional.conv2d``.

    A correlation (no flip), every output channel summing over its group's
    input channels::

        out[n, o, i, j] = bias[o] + sum_{c, u, v} weight[o, c, u, v]
                          * x_pad[n, c + G*C_in/groups, i*s0 + u*d0, j*s1 + v*d1]

    ``padding_mode`` adds torch's ``nn.Conv2d`` padding modes (and
    'symmetric').  Multi-channel convolutions run as im2col blocks times
    the weights (numpy's BLAS); depthwise ones (one input channel per
    group) on imgconv's direct correlation kernel.

    Parameters
    ----------
    %(x)s
    weight : array_like
        ``(C_out, C_in/groups, kH, kW)``.
    %(bias)s
    %(stride_dilation)s
    %(padding)s
    %(groups)s
    %(padding_mode)s

    Returns
    -------
    %(conv_returns)s

    Raises
    ------
    %(conv_raises)s

    See Also
    --------
    imgconv.correlate : the image layer's correlation, one kernel for every channel.
    depthwise_separable : a depthwise convolution followed by a 1x1 one.

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((8, 3, 32, 32), dtype=np.float32)
    >>> w = rng.standard_normal((16, 3, 3, 3), dtype=np.float32)
    >>> nn.conv2d(x, w, padding=1).shape
    (8, 16, 32, 32)
    >>> nn.conv2d(x, w, stride=2, padding=1, padding_mode='reflect').shape
    (8, 16, 16, 16)

    Depthwise, two filters per input channel (``groups=C_in``):

    >>> dw = rng.standard_normal((6, 1, 3, 3), dtype=np.float32)
    >>> nn.conv2d(x, dw, padding='same', groups=3).shape
    (8, 6, 32, 32)

    A 3x3 box sum of a single image (unbatched input):

    >>> nn.conv2d(np.ones((1, 4, 4)), np.ones((1, 1, 3, 3)), padding=1)[0]
    array([[4., 6., 6., 4.],
           [6., 9., 9., 6.],
           [6., 9., 9., 6.],
           [4., 6., 6., 4.]])
    """
    return convolution(2, x, weight, bias, stride, padding, dilation, groups, padding_mode)


@_docfiller
def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros"):
    """3D convolution of ``(N, C_in, D, H, W)`` volumes, as ``torch.nn.functional.conv3d``.

    A correlation (no flip); see :func:`conv2d`.  A bank of filters over a
    single-channel volume (``C_in = 1``) runs one pass of imgconv's direct
    3D kernel per filter.

    Parameters
    ----------
    %(x)s
    weight : array_like
        ``(C_out, C_in/groups, kD, kH, kW)``.
    %(bias)s
    %(stride_dilation)s
    %(padding)s
    %(groups)s
    %(padding_mode)s

    Returns
    -------
    %(conv_returns)s

    Raises
    ------
    %(conv_raises)s

    Examples
    --------
    A feature bank of 8 filters over a volume:

    >>> import numpy as np
    >>> from imgconv import nn
    >>> rng = np.random.default_rng(0)
    >>> volume = rng.standard_normal((1, 1, 24, 24, 24), dtype=np.float32)
    >>> bank = rng.standard_normal((8, 1, 3, 3, 3), dtype=np.float32)
    >>> nn.conv3d(volume, bank, padding='same').shape
    (1, 8, 24, 24, 24)
    >>> nn.conv3d(volume, bank, stride=(1, 2, 2)).shape
    (1, 8, 22, 11, 11)
    """
    return convolution(3, x, weight, bias, stride, padding, dilation, groups, padding_mode)


@_docfiller
def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1D transposed convolution, as ``torch.nn.functional.conv_transpose1d``.

    The adjoint of :func:`conv1d`: input sample ``i`` adds
    ``x[i] * weight[:, :, t]`` to output ``i*s - padding + t*d``.  It is
    computed phase by phase of the stride, without inserting zeros.  See :func:`conv_transpose2d`.

    Parameters
    ----------
    %(transpose_parameters)s

    Returns
    -------
    %(transpose_returns)s

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.array([[[1., 2., 3.]]])
    >>> nn.conv_transpose1d(x, np.array([[[1., 10.]]]), stride=2)
    array([[[ 1., 10.,  2., 20.,  3., 30.]]])
    """
    return transposed_convolution(1, x, weight, bias, stride, padding, output_padding, groups,
                                  dilation)


@_docfiller
def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2D transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    The adjoint of :func:`conv2d` (the gradient of a convolution with
    respect to its input; "deconvolution" in decoders): input sample ``i``
    adds ``x[i] * weight[c, :, t]`` to output ``i*s - padding + t*d``, per
    axis.  The output size is ``(n-1)*s - 2*padding + d*(k-1) +
    output_padding + 1`` per axis.

    The sum is not scattered element by element: the outputs of each phase
    of the stride (``o = f (mod s)``) see only the taps ``t`` with ``d*t =
    f + padding (mod s)``.  Layers with 2 or more channels per group
    multiply the weights with the input first (one matrix product per
    block of input rows), then sum each output from the products of the
    taps that reach it (compiled, one pass over the output); the others run
    each phase's taps as an ordinary correlation with a smaller kernel.

    Parameters
    ----------
    %(transpose_parameters)s

    Returns
    -------
    %(transpose_returns)s

    Raises
    ------
    ValueError
        Channels that do not match ``weight`` or ``groups``, a bias of the wrong
        length, an ``output_padding`` not smaller than the stride or the dilation,
        a padding that leaves no output.

    Examples
    --------
    A 4x4 kernel at stride 2 doubles a feature map (a decoder's upsampling):

    >>> import numpy as np
    >>> from imgconv import nn
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 8, 16, 16), dtype=np.float32)
    >>> w = rng.standard_normal((8, 4, 4, 4), dtype=np.float32)
    >>> nn.conv_transpose2d(x, w, stride=2, padding=1).shape
    (2, 4, 32, 32)
    >>> nn.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1).shape
    (2, 4, 33, 33)
    """
    return transposed_convolution(2, x, weight, bias, stride, padding, output_padding, groups,
                                  dilation)


@_docfiller
def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """3D transposed convolution, as ``torch.nn.functional.conv_transpose3d``.

    See :func:`conv_transpose2d`.

    Parameters
    ----------
    %(transpose_parameters)s

    Returns
    -------
    %(transpose_returns)s

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.ones((1, 2, 4, 4, 4), dtype=np.float32)
    >>> w = np.ones((2, 3, 2, 2, 2), dtype=np.float32)
    >>> y = nn.conv_transpose3d(x, w, stride=2)
    >>> y.shape, float(y.min()), float(y.max())
    ((1, 3, 8, 8, 8), 2.0, 2.0)
    """
    return transposed_convolution(3, x, weight, bias, stride, padding, output_padding, groups,
                                  dilation)


def depthwise_separable(x, depthwise_weight, pointwise_weight, bias=None, stride=1, padding=0,
                        dilation=1, padding_mode="zeros"):
    """A depthwise convolution followed by a 1x1 (pointwise) one, as
    MobileNet and Xception use them.

    ``conv(conv(x, depthwise_weight, groups=C_in, ...), pointwise_weight,
    bias)``: each input channel is filtered on its own (``m`` filters per
    channel give ``m*C_in`` intermediate channels), then every output
    channel mixes them.  The intermediate stays in the compute dtype.
    1D, 2D or 3D, after ``depthwise_weight``'s rank.

    Parameters
    ----------
    x : array_like
        ``(N, C_in, *spatial)`` or unbatched ``(C_in, *spatial)``.
    depthwise_weight : array_like
        ``(m*C_in, 1, *k)``.
    pointwise_weight : array_like
        ``(C_out, m*C_in, 1, ...)`` as a torch 1x1 convolution holds it, or
        ``(C_out, m*C_in)``.
    bias : array_like, optional
        One value per output channel, added after the pointwise step.
    stride, padding, dilation, padding_mode
        Of the depthwise step, as :func:`conv2d`.

    Returns
    -------
    numpy.ndarray
        ``(N, C_out, *out_spatial)``.

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((4, 16, 28, 28), dtype=np.float32)
    >>> dw = rng.standard_normal((16, 1, 3, 3), dtype=np.float32)
    >>> pw = rng.standard_normal((32, 16, 1, 1), dtype=np.float32)
    >>> y = nn.depthwise_separable(x, dw, pw, padding=1)
    >>> y.shape
    (4, 32, 28, 28)
    >>> ref = nn.conv2d(nn.conv2d(x, dw, padding=1, groups=16), pw)
    >>> bool(np.allclose(y, ref, atol=1e-4))
    True
    """
    depthwise_weight = g.as_float_array(depthwise_weight, "depthwise_weight")
    pointwise_weight = g.as_float_array(pointwise_weight, "pointwise_weight")
    rank = depthwise_weight.ndim - 2
    if not 1 <= rank <= 3:
        raise ValueError(f"depthwise_weight must be (m*C_in, 1, *k) with 1 to 3 kernel axes, "
                         f"got shape {depthwise_weight.shape}")
    x, unbatched = g.batched_input(g.as_float_array(x, "x"), rank)
    channels = x.shape[1]
    if depthwise_weight.shape[1] != 1 or depthwise_weight.shape[0] % channels:
        raise ValueError(f"depthwise_weight must be (m*C_in, 1, *k) with C_in={channels} "
                         f"(x's channels), got shape {depthwise_weight.shape}")
    if pointwise_weight.ndim == 2:
        pointwise_weight = pointwise_weight.reshape(pointwise_weight.shape + (1,) * rank)
    if (pointwise_weight.ndim != rank + 2 or any(k != 1 for k in pointwise_weight.shape[2:])
            or pointwise_weight.shape[1] != depthwise_weight.shape[0]):
        raise ValueError(f"pointwise_weight must be (C_out, {depthwise_weight.shape[0]}) or "
                         f"(C_out, {depthwise_weight.shape[0]}{', 1' * rank}) after "
                         f"depthwise_weight {depthwise_weight.shape}, got shape "
                         f"{pointwise_weight.shape}")
    bias = None if bias is None else g.as_float_array(bias, "bias")
    compute, result = g.dtypes(x, depthwise_weight, pointwise_weight, bias)
    # the intermediate stays in the compute dtype (float16 is not rounded twice)
    hidden = convolution(rank, x.astype(compute, copy=False),
                         depthwise_weight.astype(compute, copy=False), None, stride, padding,
                         dilation, channels, padding_mode)
    out = convolution(rank, hidden, pointwise_weight.astype(compute, copy=False), bias, 1, 0, 1,
                      1, "zeros")
    out = out.astype(result, copy=False)
    return out[0] if unbatched else out

"""Plain-numpy float64 reference for imgconv's geometry (docs/design.md, "Geometry").

Deliberately naive: pad with ``np.pad`` (whose reflect/symmetric/wrap repeat the
rule for padding wider than the array, and whose reflect of a 1-sample axis
returns that sample), then sum strided slices over the kernel taps.
"""
import itertools

import numpy as np

#: imgconv's canonical mode -> np.pad mode
NP_PAD_MODE = {
    "zero": "constant",
    "replicate": "edge",
    "reflect": "reflect",
    "symmetric": "symmetric",
    "wrap": "wrap",
}

#: every alias accepted by imgconv -> canonical name
CANONICAL = {
    "zero": "zero", "constant": "zero", "zeros": "zero",
    "replicate": "replicate", "nearest": "replicate", "edge": "replicate",
    "reflect": "reflect", "mirror": "reflect", "reflect101": "reflect",
    "symmetric": "symmetric",
    "wrap": "wrap", "circular": "wrap",
}


def cval_for(mode, value):
    """``value`` where ``mode`` pads with cval (zero and its aliases), else 0.0:
    imgconv rejects a nonzero cval with any other mode, so a test parametrised
    over modes keeps its cval for zero mode and drops it for the others."""
    return value if CANONICAL[mode.lower()] == "zero" else 0.0


def _tuple(value, rank):
    if np.isscalar(value):
        return (int(value),) * rank
    value = tuple(int(v) for v in value)
    assert len(value) == rank
    return value


def same_pads(kshape, dilation=1, origin=0):
    """(pad_lo, pad_hi) of padding='same': the centre tap ``k//2 + origin``
    (dilated: offset ``d*(k//2 + origin)``) lands on each input sample."""
    rank = len(kshape)
    dilation = _tuple(dilation, rank)
    origin = _tuple(origin, rank)
    lo = tuple(d * (k // 2 + o) for k, d, o in zip(kshape, dilation, origin))
    hi = tuple(d * (k - 1) - p for k, d, p in zip(kshape, dilation, lo))
    return lo, hi


def full_pads(kshape, dilation=1):
    dilation = _tuple(dilation, len(kshape))
    full = tuple(d * (k - 1) for k, d in zip(kshape, dilation))
    return full, full


def pad_array(x, mode, cval, pad_lo, pad_hi):
    mode = CANONICAL[mode]
    widths = list(zip(pad_lo, pad_hi))
    if mode == "zero":
        return np.pad(x, widths, mode="constant", constant_values=cval)
    return np.pad(x, widths, mode=NP_PAD_MODE[mode])


def output_shape(shape, kshape, pad_lo, pad_hi, stride, dilation):
    return tuple((n + lo + hi - d * (k - 1) - 1) // s + 1
                 for n, k, lo, hi, s, d in zip(shape, kshape, pad_lo, pad_hi, stride, dilation))


def ref_correlate(x, w, mode="reflect", cval=0.0, pad_lo=None, pad_hi=None, stride=1,
                  dilation=1):
    """out[i] = sum_k w[k] * xpad[i*s + k*d], in float64, for 1-3 spatial dims.

    ``pad_lo``/``pad_hi`` default to padding='same' (origin 0).  No channel axis.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    rank = x.ndim
    assert w.ndim == rank and 1 <= rank <= 3
    stride = _tuple(stride, rank)
    dilation = _tuple(dilation, rank)
    if pad_lo is None:
        pad_lo, pad_hi = same_pads(w.shape, dilation)
    pad_lo = _tuple(pad_lo, rank)
    pad_hi = _tuple(pad_hi, rank)
    oshape = output_shape(x.shape, w.shape, pad_lo, pad_hi, stride, dilation)
    if min(oshape) < 1:
        raise ValueError(f"empty output {oshape}")
    xp = pad_array(x, mode, cval, pad_lo, pad_hi)
    out = np.zeros(oshape)
    for k in itertools.product(*(range(n) for n in w.shape)):
        weight = w[k]
        if weight == 0:  # zero taps are skipped (NaN under a zero weight stays put)
            continue
        sl = tuple(slice(kk * d, kk * d + (o - 1) * s + 1, s)
                   for kk, d, s, o in zip(k, dilation, stride, oshape))
        out += weight * xp[sl]
    return out


def ref_convolve_kernel(w, origin=0):
    """The (kernel, origin) pair whose correlation equals convolution with ``w``
    (scipy.ndimage's rule: flip, and mirror the centre, which moves it one tap
    down for even sizes)."""
    w = np.asarray(w)
    origin = _tuple(origin, w.ndim)
    flipped = w[(slice(None, None, -1),) * w.ndim]
    return flipped, tuple(-o - (1 - k % 2) for o, k in zip(origin, w.shape))


def layouts(x):
    """Views of x's values with other strides, byte order, alignment, writeability."""
    yield "fortran", np.asfortranarray(x)
    big = np.zeros(tuple(2 * n + 1 for n in x.shape), x.dtype)
    sl = tuple(slice(1, None, 2) for _ in x.shape)
    big[sl] = x
    yield "strided", big[sl]
    rev = x[(slice(None, None, -1),) * x.ndim].copy()
    yield "negative", rev[(slice(None, None, -1),) * x.ndim]
    if x.dtype.itemsize > 1:
        yield "bigendian", x.astype(x.dtype.newbyteorder(">"))
    yield "transposed", np.ascontiguousarray(x.T).T
    yield "readonly", readonly(x.copy())
    # misaligned: a float view starting one byte into a buffer
    if x.dtype.itemsize > 1:
        buf = np.zeros(x.nbytes + 1, np.uint8)
        mis = buf[1:].view(x.dtype).reshape(x.shape)
        mis[...] = x
        yield "misaligned", mis


def readonly(a):
    """``a``, made read-only."""
    a.flags.writeable = False
    return a

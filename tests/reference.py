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


def pad_per_axis(x, axes, modes, pad_lo, pad_hi, cval=0.0):
    """``x`` padded along each of ``axes`` by its own imgconv mode (per-axis
    modes), axis after axis as np.pad does; 'zero' axes with ``cval``."""
    for ax, mode, lo, hi in zip(axes, modes, pad_lo, pad_hi):
        widths = [(0, 0)] * x.ndim
        widths[ax] = (lo, hi)
        x = pad_array(x, mode, cval, *zip(*widths))
    return x


def crop(a, axes, pad_lo, shape):
    """The part of ``a`` (padded by ``pad_lo`` along ``axes``) of ``shape``."""
    index = [slice(None)] * a.ndim
    for ax, lo in zip(axes, pad_lo):
        index[ax] = slice(lo, lo + shape[ax])
    return a[tuple(index)]


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


# ---------------------------------------------------------------------------
# pooling (tests/test_pool.py, tests/test_conformance.py)
# ---------------------------------------------------------------------------
def _per_axis(value, rank):
    return (value,) * rank if np.isscalar(value) else tuple(value)


def ref_pool(x, size, stride=None, padding=0, dilation=1, op="max", p=2, ceil_mode=False,
             count_include_pad=True, mode="zero"):
    """(values, flat indices) of pooling a spatial-only array, in float64.

    Each axis gets a table: padded position -> source index, -1 for the
    constant padding of mode 'zero', -2 past the padded extent (ceil_mode).
    """
    rank = x.ndim
    size = _per_axis(size, rank)
    stride = size if stride is None else _per_axis(stride, rank)
    dilation = _per_axis(dilation, rank)
    if np.isscalar(padding):
        pads = [(padding, padding)] * rank
    else:
        pads = [(p_, p_) if np.isscalar(p_) else tuple(p_) for p_ in padding]
    mode = CANONICAL[mode]
    tables, out_shape = [], []
    for n, k, s, d, (lo, hi) in zip(x.shape, size, stride, dilation, pads):
        span = n + lo + hi - d * (k - 1) - 1
        m = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (m - 1) * s >= n + lo:
            m -= 1
        out_shape.append(m)
        if mode == "zero":
            table = np.pad(np.arange(n), (lo, hi), constant_values=-1)
        else:
            table = np.pad(np.arange(n), (lo, hi), mode=NP_PAD_MODE[mode])
        need = (m - 1) * s + (k - 1) * d + 1
        tables.append(np.concatenate([table, np.full(max(0, need - len(table)), -2)]))
    xf = x.astype(np.float64)
    values = np.zeros(out_shape)
    indices = np.full(out_shape, -1, np.int64)
    for o in itertools.product(*(range(m) for m in out_shape)):
        cells = []
        for t in itertools.product(*(range(k) for k in size)):
            src = tuple(tab[oi * s + ti * d] for tab, oi, ti, s, d in
                        zip(tables, o, t, stride, dilation))
            if min(src) == -2:
                continue                      # outside every window
            cells.append(src)
        if op in ("max", "min"):
            best, where = None, -1
            for src in cells:
                if min(src) < 0:
                    continue                  # -inf / +inf padding never wins
                val = xf[src]
                better = best is None or np.isnan(val) or (val > best if op == "max" else val < best)
                if better:
                    best, where = val, int(np.ravel_multi_index(src, x.shape))
            values[o] = (-np.inf if op == "max" else np.inf) if best is None else best
            indices[o] = where
        else:
            vals = np.array([xf[src] if min(src) >= 0 else 0.0 for src in cells])
            if op == "lp":
                values[o] = np.sum(np.abs(vals) ** p) ** (1 / p)
            else:
                counted = len(cells) if count_include_pad else sum(min(c) >= 0 for c in cells)
                values[o] = vals.sum() / counted
    return values, indices


# ---------------------------------------------------------------------------
# morphology (tests/test_morphology.py, tests/test_conformance.py)
# ---------------------------------------------------------------------------
def neutral(dtype, is_max):
    """The pad value of mode=None: the dtype's minimum for a max, its maximum for a min."""
    dtype = np.dtype(dtype)
    if dtype == bool:
        return not is_max
    if dtype.kind == "f":
        return -np.inf if is_max else np.inf
    info = np.iinfo(dtype)
    return info.min if is_max else info.max


def zero_pad_value(dtype, cval):
    """cval in ``dtype``: rounded and saturated for integers, != 0 for bool."""
    dtype = np.dtype(dtype)
    if dtype == bool:
        return cval != 0
    if dtype.kind == "f":
        return cval
    info = np.iinfo(dtype)
    value = np.rint(cval)
    return info.max if value >= info.max else info.min if value <= info.min else int(value)


def per_axis(value, rank):
    return (int(value),) * rank if np.isscalar(value) else tuple(int(v) for v in value)


def ref_extreme(x, fp, origin=0, mode=None, cval=0.0, is_max=False):
    """Naive erosion (min) or dilation (max) of ``x`` (no channel axis) by ``fp``."""
    x = np.asarray(x)
    fp = np.asarray(fp, bool)
    fp = fp.reshape((1,) * (x.ndim - fp.ndim) + fp.shape)
    origin = per_axis(origin, x.ndim)
    centre = [k // 2 + o for k, o in zip(fp.shape, origin)]
    if is_max:  # dilation: the footprint mirrored through its centre
        fp = fp[(slice(None, None, -1),) * fp.ndim]
        centre = [k - 1 - c for k, c in zip(fp.shape, centre)]
    widths = [(c, k - 1 - c) for k, c in zip(fp.shape, centre)]
    if mode is None:
        xp = np.pad(x, widths, mode="constant", constant_values=neutral(x.dtype, is_max))
    elif CANONICAL[mode] == "zero":
        with np.errstate(over="ignore"):   # float16: a huge cval becomes inf
            xp = np.pad(x, widths, mode="constant",
                        constant_values=zero_pad_value(x.dtype, cval))
    else:
        xp = np.pad(x, widths, mode=NP_PAD_MODE[CANONICAL[mode]])
    if fp.all():   # a box: reduce sliding windows (np.max/np.min propagate NaN too)
        windows = np.lib.stride_tricks.sliding_window_view(xp, fp.shape)
        axes = tuple(range(x.ndim, 2 * x.ndim))
        return windows.max(axis=axes) if is_max else windows.min(axis=axes)
    op = np.maximum if is_max else np.minimum
    result = None
    for cell in zip(*np.nonzero(fp)):
        view = xp[tuple(slice(c, c + n) for c, n in zip(cell, x.shape))]
        result = view.copy() if result is None else op(result, view)
    return result


def ref_erode(x, fp, **kw):
    return ref_extreme(x, fp, is_max=False, **kw)


def ref_dilate(x, fp, **kw):
    return ref_extreme(x, fp, is_max=True, **kw)


def ref_difference(a, b):
    """a - b in a's dtype: '& ~' for bool, saturated for integers."""
    if a.dtype == bool:
        return a & ~b
    if a.dtype.kind == "f":
        return a - b
    info = np.iinfo(a.dtype)
    exact = a.astype(object) - b.astype(object)     # Python ints: no wraparound
    return np.minimum(np.maximum(exact, int(info.min)), int(info.max)).astype(a.dtype)


def ref_op(name, x, fp, **kw):
    if name == "erode":
        return ref_erode(x, fp, **kw)
    if name == "dilate":
        return ref_dilate(x, fp, **kw)
    if name == "opening":
        return ref_dilate(ref_erode(x, fp, **kw), fp, **kw)
    if name == "closing":
        return ref_erode(ref_dilate(x, fp, **kw), fp, **kw)
    if name == "morph_gradient":
        return ref_difference(ref_dilate(x, fp, **kw), ref_erode(x, fp, **kw))
    if name == "tophat":
        return ref_difference(x, ref_op("opening", x, fp, **kw))
    if name == "blackhat":
        return ref_difference(ref_op("closing", x, fp, **kw), x)
    raise AssertionError(name)

"""correlate and convolve: the image layer's n-D filtering."""
import numpy as np

from . import _validate as v
from ._dispatch import kernels, select_backend
from ._threads import resolve_threads

__all__ = ["correlate", "convolve"]

METHODS = ("auto", "direct", "separable", "fft")


def _choose_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method in ("separable", "fft"):
        raise NotImplementedError(
            f"method={method!r} is not available in this version of imgconv; "
            "use 'direct' (or 'auto', which picks it)")
    return "direct"


def _correlate(x, kernel, *, flip, mode, cval, padding, stride, dilation, origin,
               channel_axis, dtype, out, method, backend, threads):
    select_backend(x, backend)
    _choose_method(method)
    x = v.as_input_array(x)
    axes, channel_axis = v.spatial_axes(x.ndim, channel_axis)
    rank = len(axes)
    compute = v.compute_dtype(x.dtype)
    weights = v.as_kernel(kernel, rank, compute)
    code = v.mode_code(mode)
    cval = v.check_cval(cval)
    stride = v.per_axis(stride, rank, "stride", minimum=1)
    dilation = v.per_axis(dilation, rank, "dilation", minimum=1)
    origin = v.check_origin(origin, weights.shape)
    if flip:
        weights = np.ascontiguousarray(weights[(slice(None, None, -1),) * rank])
        if isinstance(padding, str) and padding.lower() == "same":
            # scipy.ndimage.convolve mirrors the centre too, which for even
            # sizes moves it one tap down
            origin = tuple(-o - (1 - k % 2) for o, k in zip(origin, weights.shape))
    pad_lo, pad_hi = v.padding_amounts(padding, weights.shape, dilation, origin)
    shape = [x.shape[a] for a in axes]
    out_spatial = tuple(v.output_length(n, k, d, s, lo, hi) for n, k, d, s, lo, hi in
                        zip(shape, weights.shape, dilation, stride, pad_lo, pad_hi))
    if min(out_spatial) < 1:
        raise ValueError(
            f"the output would be empty: input {tuple(shape)}, kernel {weights.shape}, "
            f"dilation {dilation}, padding {padding!r} (a 'valid' kernel larger than the image?)")
    out_shape = list(out_spatial)
    if channel_axis is not None:
        out_shape.insert(channel_axis, x.shape[channel_axis])
    if out is None:
        out = np.empty(out_shape, v.output_dtype(dtype, compute))
    else:
        out = v.check_out(out, out_shape, None if dtype is None else v.output_dtype(dtype, compute), x)

    # Every rank runs as (batch, depth, height, width): channels become the batch
    # axis, missing spatial axes get length 1.
    def as_4d(a):
        a = a[np.newaxis] if channel_axis is None else np.moveaxis(a, channel_axis, 0)
        return a.reshape(a.shape[:1] + (1,) * (3 - rank) + a.shape[1:]) if rank < 3 else a

    x4, out4 = as_4d(x), as_4d(out)
    if not np.shares_memory(out4, out):  # reshape had to copy: cannot happen for views
        raise AssertionError("internal error: output view lost")
    pad3 = lambda t, fill: (fill,) * (3 - rank) + tuple(t)
    weights3 = weights.reshape(pad3(weights.shape, 1))
    nthreads = resolve_threads(threads, work=out.size * weights.size)
    kernels.correlate(x4, out4, weights3, pad3(stride, 1), pad3(dilation, 1), pad3(pad_lo, 0),
                      code, cval, v.DTYPE_CODES[x.dtype], v.DTYPE_CODES[out.dtype], nthreads)
    return out


_PARAMS_DOC = """
    Parameters
    ----------
    x : array_like
        Image ``(H, W)``, volume ``(D, H, W)`` or signal ``(N,)``, optionally with a
        channel axis (see ``channel_axis``).  uint8, uint16, int16, int32, float32,
        float64 (bool, int8, float16 are widened; uint32, int64, uint64 go through
        float64).  Any strides and byte order; ``x`` is never modified.
    kernel : array_like
        Weights, with as many dimensions as ``x`` has spatial axes.
    mode : str
        Boundary mode: 'reflect' (default; ``c b | a b c d | c b``, numpy/torch
        'reflect', scipy 'mirror'), 'symmetric', 'replicate', 'wrap', 'zero'
        (with ``cval``), or an alias ('mirror', 'reflect101', 'nearest', 'edge',
        'circular', 'constant').
    cval : float
        Value outside the image for mode 'zero'.
    padding : {'same', 'valid', 'full'}, int, or per-axis ints / (lo, hi) pairs
        'same' keeps the size (``ceil(n / stride)`` with a stride); 'valid' pads
        nothing; 'full' pads ``dilation * (k - 1)`` on both sides.
    stride, dilation : int or tuple of int
        Per spatial axis, >= 1.  Output size ``floor((n + pad_lo + pad_hi -
        dilation*(k-1) - 1) / stride) + 1``.
    origin : int or tuple of int
        Shift of the kernel's centre tap ``k//2 + origin`` (padding='same' only),
        as scipy.ndimage.
    channel_axis : int or None
        Axis of ``x`` holding channels, filtered independently with the same kernel.
    dtype : dtype, optional
        Output dtype; default float32 for float32 and integer inputs up to 16 bits,
        float64 otherwise.  Integer outputs are rounded to nearest and saturated.
    out : ndarray, optional
        Preallocated output of the result's shape (and ``dtype``, if given).
    method : {'auto', 'direct'}
        Algorithm; 'auto' chooses.  Zero weights are skipped, so a NaN under a
        zero weight does not spread.
    backend : {'auto', 'cpu'}
        'auto' runs on the array's own device (numpy: the CPU kernels).
    threads : int, optional
        Threads to use; default :func:`imgconv.get_num_threads`.

    Returns
    -------
    ndarray
        The filtered array (``out`` if given).
"""


def correlate(x, kernel, *, mode="reflect", cval=0.0, padding="same", stride=1, dilation=1,
              origin=0, channel_axis=None, dtype=None, out=None, method="auto",
              backend="auto", threads=None):
    return _correlate(x, kernel, flip=False, mode=mode, cval=cval, padding=padding,
                      stride=stride, dilation=dilation, origin=origin,
                      channel_axis=channel_axis, dtype=dtype, out=out, method=method,
                      backend=backend, threads=threads)


def convolve(x, kernel, *, mode="reflect", cval=0.0, padding="same", stride=1, dilation=1,
             origin=0, channel_axis=None, dtype=None, out=None, method="auto",
             backend="auto", threads=None):
    return _correlate(x, kernel, flip=True, mode=mode, cval=cval, padding=padding,
                      stride=stride, dilation=dilation, origin=origin,
                      channel_axis=channel_axis, dtype=dtype, out=out, method=method,
                      backend=backend, threads=threads)


correlate.__doc__ = """Correlate ``x`` with ``kernel`` (no flip), in 1D, 2D or 3D.

    ``out[i] = sum_k kernel[k] * x_padded[i*stride + k*dilation]``; with
    ``padding='same'`` this equals ``scipy.ndimage.correlate`` with scipy's
    name for the mode.
""" + _PARAMS_DOC + """
    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> x = np.arange(5, dtype=np.float32)
    >>> ic.correlate(x, [1, 0, -1])
    array([ 0., -2., -2., -2.,  0.], dtype=float32)
    >>> img = np.ones((4, 5), np.uint8)
    >>> ic.correlate(img, np.ones((3, 3)) / 9, dtype=np.uint8)
    array([[1, 1, 1, 1, 1],
           [1, 1, 1, 1, 1],
           [1, 1, 1, 1, 1],
           [1, 1, 1, 1, 1]], dtype=uint8)
    >>> ic.correlate(np.ones((6, 6)), np.ones((3, 3)), padding='valid', stride=2).shape
    (2, 2)
"""

convolve.__doc__ = """Convolve ``x`` with ``kernel`` (the kernel is flipped), in 1D, 2D or 3D.

    Equals ``scipy.ndimage.convolve`` with scipy's name for the mode, including
    its centre convention for even kernel sizes.
""" + _PARAMS_DOC + """
    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> x = np.arange(5, dtype=np.float32)
    >>> ic.convolve(x, [1, 0, -1])
    array([0., 2., 2., 2., 0.], dtype=float32)
    >>> vol = np.zeros((3, 3, 3), np.float32); vol[1, 1, 1] = 1
    >>> ic.convolve(vol, np.ones((3, 3, 3)), mode='zero').sum()
    np.float32(27.0)
"""

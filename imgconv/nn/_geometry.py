"""Argument normalisation and output geometry of :mod:`imgconv.nn`.

Everything the convolution layer checks is checked here, once, from shapes
and dtypes only (no array data is read), with messages that name the
argument: per-axis values, torch's ``padding`` forms, ``padding_mode``
(mapped onto imgconv's boundary modes), the channel and group structure of
``x``, ``weight`` and ``bias``, and the compute dtype.  The public shape
helpers (:func:`conv_output_shape`, :func:`conv_transpose_output_shape`,
:func:`receptive_field`) are the same arithmetic, offered to users.
"""
import numbers
from typing import NamedTuple

import numpy as np

from .. import _validate as v

__all__ = ["conv_output_shape", "conv_transpose_output_shape", "receptive_field",
           "ReceptiveField"]

#: dtypes the layer takes; float16 is computed in float32 and rounded back.
FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


# --------------------------------------------------------------------------
# Per-axis values and padding
# --------------------------------------------------------------------------
def per_axis(value, rank, name, minimum):
    """An int or ``rank`` ints (torch's ``_pair``/``_triple``) as a tuple."""
    return v.per_axis(value, rank, name, minimum=minimum)


def conv_padding(padding, kernel_size, stride, dilation):
    """``(pad_lo, pad_hi)`` per axis for torch's ``padding`` of a convolution.

    ``'valid'`` is no padding; ``'same'`` pads ``d*(k-1)`` per axis with the
    odd sample on the high side (as ``torch.nn.Conv*d``), and, as torch,
    refuses a stride above 1 (the output could not keep the input's size).
    An int or one int per axis pads both sides alike.
    """
    rank = len(kernel_size)
    if isinstance(padding, str):
        kind = padding.lower()
        if kind == "valid":
            return (0,) * rank, (0,) * rank
        if kind == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"padding='same' is not supported for strided convolutions "
                                 f"(stride={stride}), as in torch: pass the padding as ints")
            total = tuple(d * (k - 1) for k, d in zip(kernel_size, dilation))
            lo = tuple(t // 2 for t in total)
            return lo, tuple(t - p for t, p in zip(total, lo))
        raise ValueError(f"padding must be 'same', 'valid', an int or {rank} ints, "
                         f"got {padding!r}")
    pad = per_axis(padding, rank, "padding", minimum=0)
    return pad, pad


def transpose_padding(padding, rank):
    """A transposed convolution's ``padding``: ints only, as torch."""
    if isinstance(padding, str):
        raise ValueError(f"padding={padding!r}: transposed convolutions take ints as padding "
                         "(torch refuses 'same' and 'valid' there too)")
    return per_axis(padding, rank, "padding", minimum=0)


def check_output_padding(output_padding, stride, dilation):
    """torch's rule: each ``output_padding`` is smaller than the stride or
    the dilation of its axis (else it would add outputs no input reaches)."""
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(f"output_padding={output_padding} must be smaller than either "
                             f"stride={stride} or dilation={dilation} on every axis")
    return output_padding


def padding_mode_name(padding_mode):
    """imgconv's boundary mode for torch's ``padding_mode``: 'zeros' ->
    'zero', 'reflect', 'replicate', 'circular' -> 'wrap', and 'symmetric'
    (any of imgconv's mode names is taken too)."""
    return v.canonical_mode(padding_mode, "padding_mode")


def output_size(n, kernel, stride, dilation, pad_lo, pad_hi):
    """``floor((n + p_lo + p_hi - d*(k-1) - 1) / s) + 1`` (may be <= 0)."""
    return (n + pad_lo + pad_hi - dilation * (kernel - 1) - 1) // stride + 1


def transpose_output_size(n, kernel, stride, dilation, padding, output_padding):
    """``(n-1)*s - 2p + d*(k-1) + output_padding + 1``."""
    return (n - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


# --------------------------------------------------------------------------
# Arrays: dtypes, ranks, channels
# --------------------------------------------------------------------------
def as_float_array(a, name):
    """``a`` as a numpy array of a float dtype the layer takes."""
    if type(a).__module__.split(".", 1)[0] in ("cupy", "dask"):
        raise TypeError(f"{name} is a {type(a).__module__.split('.', 1)[0]} array: imgconv.nn "
                        "runs numpy arrays on the CPU kernels in this version")
    a = np.asarray(a)
    if a.dtype.newbyteorder("=") not in FLOAT_DTYPES:
        raise TypeError(f"{name} has dtype {a.dtype}: imgconv.nn takes float16, float32 or "
                        "float64 (float16 is computed in float32)")
    return a


def dtypes(*arrays):
    """The compute dtype (float32 or float64) and the result dtype of arrays
    of the layer's float dtypes: numpy's promotion, float16 computed in
    float32."""
    result = np.result_type(*(a.dtype for a in arrays if a is not None)).newbyteorder("=")
    compute = np.dtype(np.float64) if result == np.float64 else np.dtype(np.float32)
    return compute, result


class ConvArgs(NamedTuple):
    """A convolution's checked arguments (see :func:`conv_args`)."""

    x: np.ndarray            # (N, C_in, *spatial), compute dtype, native byte order
    weight: np.ndarray       # compute dtype
    bias: object             # None or (C_out,) in the compute dtype
    unbatched: bool          # x came without its batch axis
    groups: int
    compute: np.dtype
    result: np.dtype


def batched_input(x, rank, name="x"):
    """``x`` with a batch axis (torch takes ``(C, *spatial)`` unbatched) and
    whether it had none."""
    if x.ndim == rank + 1:
        return x[None], True
    if x.ndim != rank + 2:
        raise ValueError(f"{name} must be (N, C, {spatial_names(rank)}) or unbatched "
                         f"(C, {spatial_names(rank)}) for a {rank}D convolution, "
                         f"got shape {x.shape}")
    return x, False


def spatial_names(rank):
    return ", ".join(("L",) if rank == 1 else ("H", "W") if rank == 2 else ("D", "H", "W"))


def check_groups(groups):
    groups = v.as_int(groups, "groups")
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    return groups


def conv_args(x, weight, bias, groups, rank, transposed=False):
    """The checked arrays of a (transposed) convolution.

    ``weight`` is ``(C_out, C_in/groups, *k)``, or for a transposed
    convolution ``(C_in, C_out/groups, *k)``; ``bias`` has one value per
    output channel.  The arrays come back in the compute dtype (copies only
    where the dtype or byte order differs: the inputs are never modified).
    """
    x = as_float_array(x, "x")
    weight = as_float_array(weight, "weight")
    if bias is not None:
        bias = as_float_array(bias, "bias")
    compute, result = dtypes(x, weight, bias)
    groups = check_groups(groups)
    if weight.ndim != rank + 2:
        layout = "(C_in, C_out/groups, *k)" if transposed else "(C_out, C_in/groups, *k)"
        raise ValueError(f"weight must have {rank + 2} dimensions {layout} for a {rank}D "
                         f"convolution, got shape {weight.shape}")
    x, unbatched = batched_input(x, rank)
    channels = x.shape[1]
    if channels % groups:
        raise ValueError(f"groups={groups} must divide the input channels (x has {channels})")
    if transposed:
        if weight.shape[0] != channels:
            raise ValueError(f"weight has {weight.shape[0]} input channels (its first axis), "
                             f"x has {channels}")
        out_channels = weight.shape[1] * groups
    else:
        if weight.shape[0] % groups:
            raise ValueError(f"groups={groups} must divide the output channels (weight has "
                             f"{weight.shape[0]})")
        if weight.shape[1] * groups != channels:
            raise ValueError(f"weight has {weight.shape[1]} input channels per group "
                             f"(shape {weight.shape}); x has {channels} channels, which with "
                             f"groups={groups} needs {channels // groups}")
        out_channels = weight.shape[0]
    if min(weight.shape[2:], default=1) < 1:
        raise ValueError(f"weight has an empty kernel axis: shape {weight.shape}")
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"bias must have shape ({out_channels},), one value per output "
                         f"channel, got {bias.shape}")
    return ConvArgs(native(x, compute), native(weight, compute),
                    None if bias is None else native(bias, compute),
                    unbatched, groups, compute, result)


def native(a, dtype):
    """``a`` in ``dtype`` and native byte order (``a`` itself when it is)."""
    return a.astype(dtype.newbyteorder("="), copy=False)


# --------------------------------------------------------------------------
# Public shape helpers
# --------------------------------------------------------------------------
def _sizes(input_size):
    """Spatial sizes as a tuple of ints (an int is one axis)."""
    if isinstance(input_size, (numbers.Integral, np.integer)) and not isinstance(input_size, bool):
        sizes = (int(input_size),)
    else:
        try:
            sizes = tuple(v.as_int(n, "input_size", "an int or a sequence of ints")
                          for n in input_size)
        except TypeError:
            raise TypeError(f"input_size must be an int or a sequence of ints, "
                            f"got {input_size!r}") from None
    if not sizes or min(sizes) < 0:
        raise ValueError(f"input_size must hold sizes >= 0, got {input_size!r}")
    return sizes


def conv_output_shape(input_size, kernel_size, stride=1, padding=0, dilation=1):
    """The spatial output shape of ``conv1d``/``conv2d``/``conv3d``.

    Per axis, with input size ``n``, kernel size ``k``, stride ``s``,
    dilation ``d`` and padding ``p_lo``, ``p_hi``::

        out = floor((n + p_lo + p_hi - d*(k-1) - 1) / s) + 1

    ``padding`` is an int or one int per axis (``p_lo = p_hi = p``),
    ``'valid'`` (0) or ``'same'`` (``d*(k-1)`` in all, the odd sample on
    the high side; stride 1 only, as torch).

    Parameters
    ----------
    input_size : int or sequence of int
        The spatial sizes (no batch or channel axis); an int is 1D.
    kernel_size, stride, dilation : int or sequence of int
        One value for every axis or one per axis.
    padding : int, sequence of int, 'same' or 'valid'

    Returns
    -------
    tuple of int
        The output's spatial shape.

    Raises
    ------
    ValueError
        If an axis would have no output (the dilated kernel is longer than
        the padded input), or an argument is out of range.

    Examples
    --------
    A 3x3 kernel over a 32x32 image, padding 1, stride 2:
    ``floor((32 + 1 + 1 - 1*(3-1) - 1) / 2) + 1 = floor(31 / 2) + 1 = 16``.

    >>> from imgconv import nn
    >>> nn.conv_output_shape((32, 32), 3, stride=2, padding=1)
    (16, 16)
    >>> nn.conv_output_shape(10, 3, dilation=2)      # (10 - 2*2 - 1) // 1 + 1
    (6,)
    >>> nn.conv_output_shape((7, 8), (2, 4), padding='same')
    (7, 8)
    """
    sizes = _sizes(input_size)
    rank = len(sizes)
    kernel_size = per_axis(kernel_size, rank, "kernel_size", minimum=1)
    stride = per_axis(stride, rank, "stride", minimum=1)
    dilation = per_axis(dilation, rank, "dilation", minimum=1)
    lo, hi = conv_padding(padding, kernel_size, stride, dilation)
    out = tuple(output_size(*args) for args in zip(sizes, kernel_size, stride, dilation, lo, hi))
    check_output_shape(out, sizes, kernel_size, dilation, lo, hi)
    return out


def check_output_shape(out, sizes, kernel_size, dilation, lo, hi):
    """A ValueError (naming the sizes) where an axis has no output."""
    for axis, o in enumerate(out):
        if o < 1:
            raise ValueError(
                f"the kernel ({kernel_size[axis]} taps at dilation {dilation[axis]}) is larger "
                f"than the padded input ({sizes[axis]} + {lo[axis]} + {hi[axis]} samples) "
                f"along spatial axis {axis}: no output")


def conv_transpose_output_shape(input_size, kernel_size, stride=1, padding=0, output_padding=0,
                                dilation=1):
    """The spatial output shape of ``conv_transpose1d``/``2d``/``3d``.

    Per axis, with input size ``n``, kernel size ``k``, stride ``s``,
    padding ``p``, dilation ``d`` and output padding ``op``::

        out = (n - 1)*s - 2*p + d*(k - 1) + op + 1

    It inverts :func:`conv_output_shape`: a convolution with the same
    arguments maps this size back to ``n``.  ``output_padding`` picks one
    of the ``s`` input sizes a strided convolution maps to ``n``, and
    must be smaller than the stride or the dilation (torch's rule).

    Parameters
    ----------
    input_size : int or sequence of int
        The spatial sizes of the transposed convolution's input.
    kernel_size, stride, padding, output_padding, dilation : int or sequence of int

    Returns
    -------
    tuple of int

    Examples
    --------
    A 4x4 kernel at stride 2, padding 1 doubles a 64x64 feature map:
    ``(64 - 1)*2 - 2*1 + 1*(4 - 1) + 0 + 1 = 128``.

    >>> from imgconv import nn
    >>> nn.conv_transpose_output_shape((64, 64), 4, stride=2, padding=1)
    (128, 128)
    >>> nn.conv_transpose_output_shape(5, 3, stride=2, output_padding=1)   # 8 + 2 + 1 + 1
    (12,)
    >>> nn.conv_output_shape(12, 3, stride=2)
    (5,)
    """
    sizes = _sizes(input_size)
    rank = len(sizes)
    kernel_size = per_axis(kernel_size, rank, "kernel_size", minimum=1)
    stride = per_axis(stride, rank, "stride", minimum=1)
    dilation = per_axis(dilation, rank, "dilation", minimum=1)
    padding = transpose_padding(padding, rank)
    output_padding = check_output_padding(
        per_axis(output_padding, rank, "output_padding", minimum=0), stride, dilation)
    out = tuple(transpose_output_size(*args) for args in
                zip(sizes, kernel_size, stride, dilation, padding, output_padding))
    if min(out) < 0:
        raise ValueError(f"padding={padding} leaves a negative output size {out}")
    return out


class ReceptiveField(NamedTuple):
    """What :func:`receptive_field` returns, one value per spatial axis."""

    size: tuple     #: input samples that one output of the last layer sees
    jump: tuple     #: input samples between neighbouring outputs (product of strides)
    start: tuple    #: input position of the centre of the first output's field


_LAYER_KEYS = ("kernel_size", "stride", "dilation", "padding")


def _layer_values(layer, index):
    """A layer's kernel_size, stride, dilation, padding: from a mapping, or
    from attributes of that name (torch's ``nn.Conv2d``, ``nn.MaxPool2d``)."""
    if isinstance(layer, dict):
        unknown = set(layer) - set(_LAYER_KEYS)
        if unknown:
            raise ValueError(f"layers[{index}] has unknown keys {sorted(unknown)}; a layer "
                             f"has {', '.join(_LAYER_KEYS)}")
        get = layer.get
    else:
        def get(key, default=None):
            return getattr(layer, key, default)
    if get("kernel_size") is None:
        raise ValueError(f"layers[{index}] has no kernel_size: a layer is a dict with "
                         f"keys {', '.join(_LAYER_KEYS)} (or an object with those attributes)")
    return (get("kernel_size"), get("stride", 1), get("dilation", 1), get("padding", 0))


def _rank_of(values):
    lengths = {len(value) for value in values
               if not isinstance(value, (str, numbers.Integral, np.integer))}
    if len(lengths) > 1:
        raise ValueError(f"the layers give per-axis values of different lengths {sorted(lengths)}")
    return lengths.pop() if lengths else 1


def receptive_field(layers, ndim=None):
    """Receptive field of a stack of convolution or pooling layers.

    Each layer is a dict with ``kernel_size`` and optionally ``stride``
    (default 1), ``dilation`` (1) and ``padding`` (0, an int per axis or
    ``'same'``/``'valid'``), or an object with those attributes (torch's
    ``nn.Conv2d``, ``nn.MaxPool2d``).  Going through the layers in order,
    with ``k_eff = d*(k - 1) + 1`` the dilated kernel's extent, starting
    from ``size = 1``, ``jump = 1``, ``start = 0`` (one input pixel)::

        size  += (k_eff - 1) * jump
        start += ((k_eff - 1)/2 - p_lo) * jump
        jump  *= s

    ``size`` is how many input samples one output of the stack sees,
    ``jump`` how far apart (in input samples) two neighbouring outputs'
    fields are, and ``start`` the input position of the centre of the
    first output's field (may be negative, or a half integer for even
    kernels): output ``i``'s field spans
    ``start + i*jump -/+ (size - 1)/2``.

    Parameters
    ----------
    layers : sequence of dict or layer objects
    ndim : int, optional
        Spatial axes; by default the length of the layers' per-axis tuples
        (1 if all values are ints).

    Returns
    -------
    ReceptiveField
        ``(size, jump, start)``, each a tuple with one value per axis
        (``start`` holds floats).

    Examples
    --------
    Two 3x3 convolutions (padding 1), a 2x2 max pooling, a 3x3 convolution:
    size ``1 + 2 + 2 = 5``, then ``5 + 1 = 6`` (jump 1, pooling's extent 2),
    then the jump doubles and the last layer adds ``2*2 = 4``: 10.  The
    start: ``0 + (1 - 1) + (1 - 1) + (0.5 - 0) + (1 - 1)*2 = 0.5``.

    >>> from imgconv import nn
    >>> layers = [dict(kernel_size=3, padding=1), dict(kernel_size=3, padding=1),
    ...           dict(kernel_size=2, stride=2), dict(kernel_size=3, padding=1)]
    >>> nn.receptive_field(layers)
    ReceptiveField(size=(10,), jump=(2,), start=(0.5,))
    >>> nn.receptive_field([dict(kernel_size=(3, 1), dilation=(2, 1))])
    ReceptiveField(size=(5, 1), jump=(1, 1), start=(2.0, 0.0))
    """
    layers = [_layer_values(layer, i) for i, layer in enumerate(layers)]
    if ndim is None:
        ndim = _rank_of([value for layer in layers for value in layer])
    ndim = v.as_int(ndim, "ndim")
    if ndim < 1:
        raise ValueError(f"ndim must be >= 1, got {ndim}")
    size, jump, start = [1] * ndim, [1] * ndim, [0.0] * ndim
    for i, (kernel_size, stride, dilation, padding) in enumerate(layers):
        kernel_size = per_axis(kernel_size, ndim, f"layers[{i}] kernel_size", minimum=1)
        stride = per_axis(stride, ndim, f"layers[{i}] stride", minimum=1)
        dilation = per_axis(dilation, ndim, f"layers[{i}] dilation", minimum=1)
        if isinstance(padding, str):
            pad_lo, _ = conv_padding(padding, kernel_size, stride, dilation)
        else:
            pad_lo = per_axis(padding, ndim, f"layers[{i}] padding", minimum=0)
        for a in range(ndim):
            extent = dilation[a] * (kernel_size[a] - 1) + 1
            size[a] += (extent - 1) * jump[a]
            start[a] += ((extent - 1) / 2 - pad_lo[a]) * jump[a]
            jump[a] *= stride[a]
    return ReceptiveField(tuple(size), tuple(jump), tuple(float(s) for s in start))

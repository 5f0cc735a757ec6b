"""Gradients of the convolutions, as ``torch.nn.grad`` defines them.

For ``y = conv(x, weight, stride, padding, dilation, groups)`` and the
gradient ``grad_output`` of a loss with respect to ``y``:

* ``conv{1,2,3}d_input(input_size, weight, grad_output, ...)`` is the
  gradient with respect to ``x``: the transposed convolution of
  ``grad_output`` with ``weight``, sized to ``input_size`` (which fixes the
  ``output_padding`` a strided convolution leaves open);
* ``conv{1,2,3}d_weight(input, weight_size, grad_output, ...)`` is the
  gradient with respect to ``weight``: the correlation of the (padded)
  input with ``grad_output``, summed over the batch, computed from im2col
  blocks of the input times ``grad_output`` (numpy's BLAS).

``padding`` may also be 'same' or 'valid' (as for the forward
convolution); the gradients are those of zero padding, as torch's.

Examples
--------
>>> import numpy as np
>>> from imgconv import nn
>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((2, 3, 10, 10))
>>> w = rng.standard_normal((4, 3, 3, 3))
>>> gy = rng.standard_normal((2, 4, 5, 5))        # the gradient of nn.conv2d(x, w, 2, 1)
>>> nn.grad.conv2d_input(x.shape, w, gy, stride=2, padding=1).shape
(2, 3, 10, 10)
>>> nn.grad.conv2d_weight(x, w.shape, gy, stride=2, padding=1).shape
(4, 3, 3, 3)
"""

import numpy as np

from . import _geometry as g
from . import _parallel
from ._conv import ColumnBlocks, finish, pad_input, transposed_correlation

#: Partial sums of the weight gradient (at most this many weight-sized
#: arrays alive at once); the threads share them out.
WEIGHT_GRADIENT_PARTS = 16

__all__ = ["conv1d_input", "conv2d_input", "conv3d_input",
           "conv1d_weight", "conv2d_weight", "conv3d_weight"]


def _shape(value, name, length):
    """A shape argument (``input_size``, ``weight_size``) as a tuple of ints."""
    try:
        shape = tuple(g.v.as_int(n, name, "a sequence of ints") for n in value)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of ints, got {value!r}") from None
    if len(shape) not in length or min(shape) < 0:
        raise ValueError(f"{name} must hold {' or '.join(map(str, length))} sizes >= 0, "
                         f"got {value!r}")
    return shape


def _geometry(rank, kernel_size, stride, padding, dilation, spatial, grad_spatial):
    """Per-axis stride, dilation and padding, with grad_output's spatial
    shape checked against the forward convolution's output."""
    stride = g.per_axis(stride, rank, "stride", minimum=1)
    dilation = g.per_axis(dilation, rank, "dilation", minimum=1)
    pad_lo, pad_hi = g.conv_padding(padding, kernel_size, stride, dilation)
    expected = tuple(g.output_size(*a) for a in
                     zip(spatial, kernel_size, stride, dilation, pad_lo, pad_hi))
    g.check_output_shape(expected, spatial, kernel_size, dilation, pad_lo, pad_hi)
    if tuple(grad_spatial) != expected:
        raise ValueError(f"grad_output has spatial shape {tuple(grad_spatial)}; the "
                         f"convolution of an input of {tuple(spatial)} gives {expected}")
    return stride, dilation, pad_lo, pad_hi


def _input_grad(rank, input_size, weight, grad_output, stride, padding, dilation, groups):
    """conv{1,2,3}d_input."""
    # grad_output plays the transposed convolution's input; weight
    # (C_out, C_in/groups, *k) is its (C_in, C_out/groups, *k) as it is
    args = g.conv_args(grad_output, weight, None, groups, rank, transposed=True)
    gy = args.x
    input_size = _shape(input_size, "input_size", (rank + 1, rank + 2) if args.unbatched
                        else (rank + 2,))
    if len(input_size) == rank + 2 and input_size[0] != gy.shape[0]:
        raise ValueError(f"input_size has batch {input_size[0]}, grad_output {gy.shape[0]}")
    channels = input_size[-rank - 1]
    if args.weight.shape[1] * args.groups != channels:
        raise ValueError(f"weight has {args.weight.shape[1]} input channels per group "
                         f"(shape {args.weight.shape}); input_size has {channels} channels, "
                         f"which with groups={args.groups} needs {channels // args.groups}")
    spatial = input_size[-rank:]
    stride, dilation, pad_lo, _ = _geometry(rank, args.weight.shape[2:], stride, padding,
                                            dilation, spatial, gy.shape[2:])
    out = np.empty((gy.shape[0], channels) + spatial, args.compute)
    transposed_correlation(gy, args.weight, stride, pad_lo, dilation, args.groups, out)
    return finish(out, None, args.result, args.unbatched)


def _weight_grad(rank, x, weight_size, grad_output, stride, padding, dilation, groups):
    """conv{1,2,3}d_weight: sum over the batch of im2col(x) times grad_output."""
    x = g.as_float_array(x, "input")
    grad_output = g.as_float_array(grad_output, "grad_output")
    compute, result = g.dtypes(x, grad_output)
    groups = g.check_groups(groups)
    weight_size = _shape(weight_size, "weight_size", (rank + 2,))
    x, unbatched = g.batched_input(x, rank, "input")
    if unbatched:
        grad_output, _ = g.batched_input(grad_output, rank, "grad_output")
    elif grad_output.ndim != rank + 2:
        raise ValueError(f"grad_output must be (N, C_out, {g.spatial_names(rank)}), got shape "
                         f"{grad_output.shape}")
    n, channels = x.shape[:2]
    c_out = weight_size[0]
    if channels % groups or c_out % groups:
        raise ValueError(f"groups={groups} must divide the input channels ({channels}) and "
                         f"the output channels ({c_out})")
    if weight_size[1] * groups != channels:
        raise ValueError(f"weight_size {weight_size} has {weight_size[1]} input channels per "
                         f"group; input has {channels}, which with groups={groups} needs "
                         f"{channels // groups}")
    if grad_output.shape[:2] != (n, c_out):
        raise ValueError(f"grad_output has shape {grad_output.shape}; it must be "
                         f"(N={n}, C_out={c_out}, ...) for input {x.shape} and weight_size "
                         f"{weight_size}")
    kernel_size = weight_size[2:]
    if min(kernel_size) < 1:
        raise ValueError(f"weight_size has an empty kernel axis: {weight_size}")
    stride, dilation, pad_lo, pad_hi = _geometry(rank, kernel_size, stride, padding, dilation,
                                                 x.shape[2:], grad_output.shape[2:])
    x = np.ascontiguousarray(g.native(x, compute))
    gy = np.ascontiguousarray(g.native(grad_output, compute)).reshape(n, c_out, -1)
    per_group = c_out // groups
    padded = pad_input(x, pad_lo, pad_hi, "zero")
    blocks = ColumnBlocks(padded, kernel_size, stride, dilation, grad_output.shape[2:], groups)

    def make_worker():
        product = np.empty((per_group, blocks.taps), compute)

        def accumulate(parts):
            total = np.zeros((groups, per_group, blocks.taps), compute)
            for b, group, p0, columns in parts:
                rows = gy[b, group * per_group:(group + 1) * per_group, p0:p0 + columns.shape[1]]
                total[group] += np.matmul(rows, columns.T, out=product)
            return total

        return accumulate

    # partial sums over a fixed number of parts, added in order: the result
    # does not depend on the thread count
    partials = blocks.run(_parallel.thread_count(gy.size * blocks.taps), make_worker,
                          parts=WEIGHT_GRADIENT_PARTS)
    total = partials[0]
    for partial in partials[1:]:
        total += partial
    return finish(total.reshape(weight_size), None, result, False)


def _input_doc(rank):
    shape = g.spatial_names(rank)
    return f"""Gradient of ``conv{rank}d`` with respect to its input, as
    ``torch.nn.grad.conv{rank}d_input``.

    The transposed convolution of ``grad_output`` with ``weight``
    (``conv_transpose{rank}d``), with the ``output_padding`` that makes it
    ``input_size``.

    Parameters
    ----------
    input_size : sequence of int
        The input's shape ``(N, C_in, {shape})`` (``(C_in, {shape})`` with an
        unbatched ``grad_output``).
    weight : array_like
        The convolution's weight ``(C_out, C_in/groups, *k)``.
    grad_output : array_like
        The gradient with respect to the convolution's output ``(N, C_out, *out)``.
    stride, padding, dilation, groups
        The convolution's, as :func:`imgconv.nn.conv{rank}d` takes them (zero padding).

    Returns
    -------
    numpy.ndarray
        ``input_size``, in the promoted dtype of ``weight`` and ``grad_output``.

    Examples
    --------
    The gradient of a sum of outputs is the number of windows each input is in:

    >>> import numpy as np
    >>> from imgconv import nn
    >>> size = (1, 1) + (5,) * {rank}
    >>> gy = np.ones((1, 1) + (3,) * {rank})
    >>> w = np.ones((1, 1) + (3,) * {rank})
    >>> g = nn.grad.conv{rank}d_input(size, w, gy)
    >>> g.shape == size, float(g.max()), float(g.min())
    (True, {3.0 ** rank}, 1.0)
    """


def _weight_doc(rank):
    shape = g.spatial_names(rank)
    return f"""Gradient of ``conv{rank}d`` with respect to its weight, as
    ``torch.nn.grad.conv{rank}d_weight``.

    ``grad_weight[o, c, t] = sum_(n, i) grad_output[n, o, i] * x_pad[n, G*C_in/groups + c,
    i*s + t*d]``: the correlation of the zero-padded input with
    ``grad_output``, summed over the batch.

    Parameters
    ----------
    input : array_like
        The convolution's input ``(N, C_in, {shape})`` or unbatched ``(C_in, {shape})``.
    weight_size : sequence of int
        The weight's shape ``(C_out, C_in/groups, *k)``.
    grad_output : array_like
        The gradient with respect to the convolution's output.
    stride, padding, dilation, groups
        The convolution's, as :func:`imgconv.nn.conv{rank}d` takes them (zero padding).

    Returns
    -------
    numpy.ndarray
        ``weight_size``, in the promoted dtype of ``input`` and ``grad_output``.

    Examples
    --------
    With ``grad_output`` all ones, each tap's gradient is the sum of the
    inputs it reads, here the first tap's a window of 3 samples per axis:

    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.arange(5.0 ** {rank}).reshape((1, 1) + (5,) * {rank})
    >>> gw = nn.grad.conv{rank}d_weight(x, (1, 1) + (3,) * {rank}, np.ones((1, 1) + (3,) * {rank}))
    >>> gw.shape
    (1, 1{", 3" * rank})
    >>> bool(gw[(0, 0) + (0,) * {rank}] == x[(0, 0) + (slice(0, 3),) * {rank}].sum())
    True
    """


def _make(rank):
    def conv_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
        return _input_grad(rank, input_size, weight, grad_output, stride, padding, dilation,
                           groups)

    def conv_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1,
                    groups=1):
        return _weight_grad(rank, input, weight_size, grad_output, stride, padding, dilation,
                            groups)

    for function, kind, doc in ((conv_input, "input", _input_doc),
                                (conv_weight, "weight", _weight_doc)):
        function.__name__ = function.__qualname__ = f"conv{rank}d_{kind}"
        function.__module__ = __name__
        function.__doc__ = doc(rank)
    return conv_input, conv_weight


conv1d_input, conv1d_weight = _make(1)
conv2d_input, conv2d_weight = _make(2)
conv3d_input, conv3d_weight = _make(3)

"""``unfold`` and ``fold`` (im2col and col2im) as ``torch.nn.functional``'s.

Like torch's, they take 2-D spatial data only: (N, C, H, W) or unbatched
(C, H, W) for unfold, (N, C*kH*kW, L) or (C*kH*kW, L) for fold.
"""
import math

import numpy as np

from .. import _validate as v
from ._pool import nc_input, torch_per_axis

__all__ = ["unfold", "fold"]


def _block_arguments(func, kernel_size, dilation, padding, stride):
    return (torch_per_axis(kernel_size, 2, "kernel_size", func, 1),
            torch_per_axis(dilation, 2, "dilation", func, 1),
            torch_per_axis(padding, 2, "padding", func, 0),
            torch_per_axis(stride, 2, "stride", func, 1))


def _blocks_shape(func, spatial_shape, size, dilation, padding, stride):
    """How many sliding blocks fit along each axis (each must be >= 1)."""
    blocks = tuple(v.output_length(n, k, d, s, p, p)
                   for n, k, d, p, s in zip(spatial_shape, size, dilation, padding, stride))
    if min(blocks) <= 0:
        raise ValueError(f"{func}: for spatial size {tuple(spatial_shape)}, kernel_size={size}, "
                         f"dilation={dilation}, padding={padding} and stride={stride} the "
                         f"sliding blocks would be {blocks} per axis; each must be at least 1")
    return blocks


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding blocks (im2col), as ``torch.nn.functional.unfold``.

    Parameters
    ----------
    input : ndarray
        ``(N, C, H, W)`` or unbatched ``(C, H, W)``: 2-D spatial data only,
        as torch's; float32 or float64, or float16 (kept: unfold only copies).
    kernel_size : int or tuple of int
        Block size ``(kH, kW)``, or one for both axes.
    dilation : int or tuple of int
        Spacing between a block's samples.
    padding : int or tuple of int
        Zeros added on both sides of each axis.
    stride : int or tuple of int
        Step between blocks.

    Returns
    -------
    ndarray
        ``(N, C * kH * kW, L)`` (``(C * kH * kW, L)`` unbatched), ``L`` the
        number of blocks: row ``(c * kH + i) * kW + j`` holds tap ``(i, j)``
        of channel ``c``, blocks in row-major order.

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    >>> nn.unfold(x, 2)
    array([[[0., 1., 3., 4.],
            [1., 2., 4., 5.],
            [3., 4., 6., 7.],
            [4., 5., 7., 8.]]], dtype=float32)
    """
    size, dilation, padding, stride = _block_arguments("unfold", kernel_size, dilation,
                                                       padding, stride)
    inp = nc_input(input, 2, "unfold")
    blocks = _blocks_shape("unfold", inp.spatial_shape, size, dilation, padding, stride)
    x = np.asarray(input)
    x = x.astype(x.dtype.newbyteorder("="), copy=False)     # float16 stays: only copied
    batched = x.ndim == 4
    if not batched:
        x = x[None]
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    extent = tuple(d * (k - 1) + 1 for k, d in zip(size, dilation))
    # (N, C, blockH, blockW, tapH, tapW) views of the padded input
    windows = np.lib.stride_tricks.sliding_window_view(x, extent, axis=(2, 3))
    windows = windows[:, :, ::stride[0], ::stride[1], ::dilation[0], ::dilation[1]]
    windows = windows[:, :, :blocks[0], :blocks[1]]
    n, c = x.shape[:2]
    columns = windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * math.prod(size),
                                                          math.prod(blocks))
    return columns if batched else columns[0]


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum sliding blocks into an image (col2im), as ``torch.nn.functional.fold``.

    The inverse layout of :func:`unfold`: each column is one block, added
    into the output where :func:`unfold` took it from (overlapping blocks
    add up; padding is cut off).

    Parameters
    ----------
    input : ndarray
        ``(N, C * kH * kW, L)`` or unbatched ``(C * kH * kW, L)``: 2-D spatial
        output only, as torch's; float32 or float64 (float16 is computed in
        float32 and returned as float16).
    output_size : int or tuple of int
        The output's spatial size ``(H, W)``, or one for both axes.
    kernel_size : int or tuple of int
        Block size ``(kH, kW)``, or one for both axes.
    dilation : int or tuple of int
        Spacing between a block's samples.
    padding : int or tuple of int
        Zeros around the output that blocks may cover (dropped).
    stride : int or tuple of int
        Step between blocks.

    Returns
    -------
    ndarray
        ``(N, C, H, W)``, or ``(C, H, W)`` unbatched.

    Examples
    --------
    >>> import numpy as np
    >>> from imgconv import nn
    >>> x = np.ones((1, 1, 3, 3), dtype=np.float32)
    >>> nn.fold(nn.unfold(x, 2), 3, 2)      # how many blocks cover each pixel
    array([[[[1., 2., 1.],
             [2., 4., 2.],
             [1., 2., 1.]]]], dtype=float32)
    """
    size, dilation, padding, stride = _block_arguments("fold", kernel_size, dilation,
                                                       padding, stride)
    output_shape = torch_per_axis(output_size, 2, "output_size", "fold", 1)
    inp = nc_input(input, 1, "fold", leading=("C * kH * kW", "N, C * kH * kW"))
    taps = math.prod(size)
    rows, length = inp.x.shape[-2:]
    if rows % taps:
        raise ValueError(f"fold: the input's dimension of size {rows} (C * kH * kW) must be "
                         f"divisible by the product of kernel_size={size}, {taps}")
    blocks = _blocks_shape("fold", output_shape, size, dilation, padding, stride)
    if length != math.prod(blocks):
        raise ValueError(f"fold: the input's last dimension (L) has size {length}, but "
                         f"output_size={output_shape}, kernel_size={size}, dilation={dilation}, "
                         f"padding={padding} and stride={stride} make {blocks[0]} x "
                         f"{blocks[1]} = {math.prod(blocks)} sliding blocks")
    columns = inp.x if inp.x.ndim == 3 else inp.x[None]
    n, c = columns.shape[0], rows // taps
    columns = columns.reshape(n, c, size[0], size[1], blocks[0], blocks[1])
    padded = np.zeros((n, c) + tuple(m + 2 * p for m, p in zip(output_shape, padding)),
                      columns.dtype)
    # one vectorised add per tap: tap (i, j) of every block lands on a
    # strided grid of the padded output
    for i in range(size[0]):
        rows_hit = slice(i * dilation[0], i * dilation[0] + (blocks[0] - 1) * stride[0] + 1,
                         stride[0])
        for j in range(size[1]):
            cols_hit = slice(j * dilation[1], j * dilation[1] + (blocks[1] - 1) * stride[1] + 1,
                             stride[1])
            padded[:, :, rows_hit, cols_hit] += columns[:, :, i, j]
    result = padded[:, :, padding[0]:padding[0] + output_shape[0],
                    padding[1]:padding[1] + output_shape[1]]
    if inp.x.ndim == 2:
        result = result[0]
    return inp.result(np.ascontiguousarray(result))

"""imgconv.nn's geometry helpers: output shapes against a table worked out
by hand from the formulas and against the shapes torch's convolutions
actually give; receptive fields against a brute-force impulse test (an
impulse at every input position, convolved through the stack, and the
support of the outputs measured)."""
import numpy as np
import pytest

from imgconv import nn


# (input_size, kernel_size, stride, padding, dilation) -> the output shape,
# each row worked out from floor((n + 2p - d*(k-1) - 1) / s) + 1
CONV_TABLE = [
    ((32, 32), 3, 1, 1, 1, (32, 32)),              # (32 + 2 - 2 - 1)/1 + 1
    ((32, 32), 3, 2, 1, 1, (16, 16)),              # floor(31/2) + 1
    ((224, 224), 7, 2, 3, 1, (112, 112)),          # ResNet's stem: floor(223/2) + 1
    (10, 3, 1, 0, 2, (6,)),                        # 10 - 4 - 1 + 1
    ((5, 9), (1, 3), (1, 3), 0, 1, (5, 3)),        # floor(6/3) + 1
    ((7, 7, 7), 3, 2, 0, 1, (3, 3, 3)),            # floor(4/2) + 1
    ((7, 8), (2, 4), 1, "same", 1, (7, 8)),
    ((7, 8), (2, 4), 1, "valid", (3, 1), (4, 5)),  # 7 - 3 - 1 + 1, 8 - 3 - 1 + 1
    (1, 1, 5, 0, 1, (1,)),
]

# (input_size, kernel_size, stride, padding, output_padding, dilation) -> shape,
# from (n-1)*s - 2p + d*(k-1) + op + 1
TRANSPOSE_TABLE = [
    ((64, 64), 4, 2, 1, 0, 1, (128, 128)),         # 126 - 2 + 3 + 1
    (5, 3, 2, 0, 1, 1, (12,)),                     # 8 + 2 + 1 + 1
    ((4, 4, 4), 2, 2, 0, 0, 1, (8, 8, 8)),
    ((3, 5), (3, 2), (1, 3), (1, 0), (0, 2), (2, 1), (5, 16)),   # 2-2+4+0+1, 12+1+2+1
    (1, 1, 1, 0, 0, 1, (1,)),
]


@pytest.mark.parametrize("size, k, s, p, d, expected", CONV_TABLE)
def test_conv_output_shape_table(size, k, s, p, d, expected):
    assert nn.conv_output_shape(size, k, stride=s, padding=p, dilation=d) == expected


@pytest.mark.parametrize("size, k, s, p, op, d, expected", TRANSPOSE_TABLE)
def test_conv_transpose_output_shape_table(size, k, s, p, op, d, expected):
    assert nn.conv_transpose_output_shape(size, k, s, p, op, d) == expected


def random_geometry(seed):
    rng = np.random.default_rng(seed)
    rank = int(rng.integers(1, 4))
    while True:
        size = tuple(int(n) for n in rng.integers(1, 20, rank))
        k = tuple(int(n) for n in rng.integers(1, 6, rank))
        s = tuple(int(n) for n in rng.integers(1, 4, rank))
        d = tuple(int(n) for n in rng.integers(1, 3, rank))
        p = tuple(int(n) for n in rng.integers(0, 3, rank))
        if all(n + 2 * q >= dd * (kk - 1) + 1 for n, q, dd, kk in zip(size, p, d, k)):
            return rank, size, k, s, p, d


@pytest.mark.parametrize("seed", range(30))
def test_output_shapes_match_the_convolutions_and_torch(seed):
    rank, size, k, s, p, d = random_geometry(seed)
    x = np.zeros((1, 1) + size, np.float32)
    w = np.zeros((1, 1) + k, np.float32)
    shape = nn.conv_output_shape(size, k, s, p, d)
    conv = getattr(nn, f"conv{rank}d")
    assert conv(x, w, stride=s, padding=p, dilation=d).shape[2:] == shape
    # the transposed shape inverts it, for every output_padding below the
    # stride; torch allows it below the dilation too
    for op in range(min(max(sa, da) for sa, da in zip(s, d))):
        back = nn.conv_transpose_output_shape(shape, k, s, p, op, d)
        y = getattr(nn, f"conv_transpose{rank}d")(np.zeros((1, 1) + shape, np.float32), w,
                                                  stride=s, padding=p, output_padding=op,
                                                  dilation=d)
        assert y.shape[2:] == back
        if op < min(s):
            assert nn.conv_output_shape(back, k, s, p, d) == shape
    try:
        import torch
    except ImportError:
        return
    F = torch.nn.functional
    got = getattr(F, f"conv{rank}d")(torch.zeros((1, 1) + size), torch.zeros((1, 1) + k),
                                     stride=s, padding=p, dilation=d).shape[2:]
    assert tuple(got) == shape
    got = getattr(F, f"conv_transpose{rank}d")(torch.zeros((1, 1) + shape),
                                               torch.zeros((1, 1) + k), stride=s, padding=p,
                                               dilation=d).shape[2:]
    assert tuple(got) == nn.conv_transpose_output_shape(shape, k, s, p, 0, d)


def test_shape_helper_errors():
    with pytest.raises(ValueError, match="larger than the padded input"):
        nn.conv_output_shape(4, 7)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.conv_output_shape(8, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="kernel_size needs 2"):
        nn.conv_output_shape((8, 8), (3, 3, 3))
    with pytest.raises(TypeError, match="input_size"):
        nn.conv_output_shape("8", 3)
    with pytest.raises(ValueError, match="output_padding"):
        nn.conv_transpose_output_shape(8, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="transposed convolutions take ints"):
        nn.conv_transpose_output_shape(8, 3, padding="same")
    with pytest.raises(ValueError, match="negative output size"):
        nn.conv_transpose_output_shape(1, 1, padding=2)


# --------------------------------------------------------------------------
# receptive fields
# --------------------------------------------------------------------------
def brute_force_field(layers, n=96):
    """Per output index of a 1D stack: the input positions whose impulse
    reaches it (convolving every impulse at once: the batch is the
    identity), through nn.conv1d with all-ones kernels."""
    x = np.eye(n)[:, None, :]               # impulse i in batch i
    for layer in layers:
        k = layer["kernel_size"]
        x = nn.conv1d(x, np.ones((1, 1, k)), stride=layer.get("stride", 1),
                      padding=layer.get("padding", 0), dilation=layer.get("dilation", 1))
    return x[:, 0, :] != 0                  # [input position, output index]


def random_stack(seed):
    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(int(rng.integers(1, 5))):
        layer = dict(kernel_size=int(rng.integers(1, 6)))
        if rng.random() < 0.6:
            layer["stride"] = int(rng.integers(1, 3))
        if rng.random() < 0.5:
            layer["dilation"] = int(rng.integers(1, 3))
        if rng.random() < 0.6:
            layer["padding"] = int(rng.integers(0, 3))
        layers.append(layer)
    return layers


@pytest.mark.parametrize("seed", range(40))
def test_receptive_field_matches_impulses(seed):
    layers = random_stack(seed)
    field = nn.receptive_field(layers)
    (size,), (jump,), (start,) = field
    reached = brute_force_field(layers)
    outputs = reached.shape[1]
    checked = 0
    for i in range(outputs):
        inputs = np.flatnonzero(reached[:, i])
        centre = start + i * jump
        low, high = centre - (size - 1) / 2, centre + (size - 1) / 2
        if low < 0 or high > reached.shape[0] - 1:
            continue            # the field reaches into the padding: not all of it is seen
        # (the field may have holes: dilation, or a stride above a kernel's size)
        assert inputs.min() == low and inputs.max() == high, (layers, i)
        checked += 1
    assert checked > 0


def test_receptive_field_table_and_axes():
    # VGG-like: conv3 conv3 pool2 conv3 conv3 pool2: 1 +2 +2 +1 +4 +4 +2 = 16, jump 4
    vgg = [dict(kernel_size=3, padding=1)] * 2 + [dict(kernel_size=2, stride=2)] \
        + [dict(kernel_size=3, padding=1)] * 2 + [dict(kernel_size=2, stride=2)]
    assert nn.receptive_field(vgg) == ((16,), (4,), (1.5,))
    # per axis, and 'same' padding (its low side: d*(k-1)//2)
    field = nn.receptive_field([dict(kernel_size=(3, 4), padding="same"),
                                dict(kernel_size=(1, 3), stride=(2, 1), dilation=(1, 2))])
    assert field.size == (3, 8)
    assert field.jump == (2, 1)
    assert field.start == (0.0, 0.5 + 2.0)
    assert nn.receptive_field([dict(kernel_size=3)], ndim=3).size == (3, 3, 3)
    assert nn.receptive_field([]) == ((1,), (1,), (0.0,))


def test_receptive_field_of_torch_layers():
    torch = pytest.importorskip("torch")
    layers = [torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.MaxPool2d(2),
              torch.nn.Conv2d(8, 8, (5, 3), stride=2, dilation=(1, 2))]
    field = nn.receptive_field(layers)
    expected = nn.receptive_field([dict(kernel_size=3, padding=1), dict(kernel_size=2, stride=2),
                                   dict(kernel_size=(5, 3), stride=2, dilation=(1, 2))])
    assert field == expected
    assert field.size == (1 + 2 + 1 + 2 * 4, 1 + 2 + 1 + 2 * 4)


def test_receptive_field_errors():
    with pytest.raises(ValueError, match="unknown keys"):
        nn.receptive_field([dict(kernel_size=3, strides=2)])
    with pytest.raises(ValueError, match="no kernel_size"):
        nn.receptive_field([dict(stride=2)])
    with pytest.raises(ValueError, match="different lengths"):
        nn.receptive_field([dict(kernel_size=(3, 3)), dict(kernel_size=(3, 3, 3))])
    with pytest.raises(ValueError, match=r"layers\[1\] stride must be >= 1"):
        nn.receptive_field([dict(kernel_size=3), dict(kernel_size=3, stride=0)])

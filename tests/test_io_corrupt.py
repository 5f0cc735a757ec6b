"""Damaged files: every read of one either gives the array or raises the
documented ValueError naming the file, never a library's own exception."""
import re
import struct
import time
import zlib

import numpy as np
import pytest

import imgconv as ic
from imgconv import _io

nib = pytest.importorskip("nibabel")
tifffile = pytest.importorskip("tifffile")


def _names(path):
    return re.escape(str(path))


def _png(path, width, height, raw, interlace=0, depth=8, colour=0):
    """A PNG whose IDAT holds ``raw`` (filter bytes and samples), compressed as
    one valid zlib stream, whatever the header declares."""
    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0,
                                                  0, interlace))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _rows(values):
    """Unfiltered scanlines (filter byte 0) of a uint8 array."""
    return b"".join(b"\x00" + row.tobytes() for row in values)


# ---------------------------------------------------------------------------
# a PNG whose pixel stream ends early (Pillow pads it with zeros, no error)
# ---------------------------------------------------------------------------
def test_png_with_short_pixel_stream_is_refused(tmp_path):
    values = np.arange(1, 33, dtype=np.uint8).reshape(4, 8)
    _png(tmp_path / "short.png", 8, 8, _rows(values))  # the header says 8 rows
    with pytest.raises(ValueError, match=_names(tmp_path / "short.png")
                       + r": cannot read image \(.*4 of the 8 rows"):
        ic.read(tmp_path / "short.png")


#: Adam7's passes as slices: (rows, columns) of the image each pass holds
ADAM7 = [(np.s_[0::8], np.s_[0::8]), (np.s_[0::8], np.s_[4::8]), (np.s_[4::8], np.s_[0::4]),
         (np.s_[0::4], np.s_[2::4]), (np.s_[2::4], np.s_[0::2]), (np.s_[0::2], np.s_[1::2]),
         (np.s_[1::2], np.s_[0::1])]


def _scanlines(values, interlace, depth):
    """The unfiltered scanlines of ``values`` (uint8 or big-endian uint16
    samples, or booleans packed 1 bit each), in Adam7's passes if ``interlace``."""
    parts = [values[rows, columns] for rows, columns in ADAM7] if interlace else [values]
    lines = b""
    for part in parts:
        if part.size == 0:
            continue  # an empty pass has no rows at all
        for row in part:
            data = (np.packbits(row).tobytes() if depth == 1
                    else row.astype(">u2" if depth == 16 else np.uint8).tobytes())
            lines += b"\x00" + data
    return lines


@pytest.mark.parametrize("interlace", [0, 1])
@pytest.mark.parametrize("depth,colour,shape", [(8, 0, (13, 11)), (16, 0, (13, 11)),
                                                (8, 2, (13, 11, 3)), (1, 0, (13, 11)),
                                                (8, 0, (3, 2))])
def test_png_complete_streams_still_read(tmp_path, interlace, depth, colour, shape):
    """The check counts the bytes each layout needs: 16-bit, colour, 1-bit,
    Adam7-interlaced (with empty passes for a 3 x 2 image) PNGs read whole;
    one byte fewer is refused."""
    rng = np.random.default_rng(3)
    if depth == 1:
        values = rng.random(shape) > 0.5
    else:
        values = rng.integers(0, 2 ** depth, shape).astype(np.uint16 if depth == 16 else np.uint8)
    raw = _scanlines(values, interlace, depth)
    path = tmp_path / "a.png"
    _png(path, shape[1], shape[0], raw, interlace, depth, colour)
    expected = values.astype(np.uint8) * 255 if depth == 1 else values
    np.testing.assert_array_equal(ic.read(path), expected)
    _png(path, shape[1], shape[0], raw[:-1], interlace, depth, colour)
    with pytest.raises(ValueError, match=_names(path) + r": cannot read image"):
        ic.read(path)


def test_interlaced_png_with_short_stream_is_refused(tmp_path):
    """Cut at the end of Adam7's sixth pass, the stream leaves every odd row to
    zeros, and Pillow reported nothing."""
    values = np.full((16, 16), 200, np.uint8)
    raw = _scanlines(values, 1, 8)
    last_pass = 8 * (1 + 16)  # 8 rows of 16 pixels
    path = tmp_path / "adam7.png"
    _png(path, 16, 16, raw[:-last_pass], interlace=1)
    with pytest.raises(ValueError, match=_names(path) + r": cannot read image \(truncated pixel "
                                         r"data: .* holds 150 of the 286 bytes"):
        ic.read(path)


def test_cli_refuses_a_short_png(tmp_path):
    from test_cli import run_cli

    _png(tmp_path / "short.png", 8, 8, _rows(np.ones((4, 8), np.uint8)))
    result = run_cli("filter", str(tmp_path / "short.png"))
    assert result.returncode == 1
    assert "short.png: cannot read image" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.png"]


# ---------------------------------------------------------------------------
# damage that made the libraries raise their own exception types
# ---------------------------------------------------------------------------
def _zlib_tiff(path):
    array = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
    tifffile.imwrite(path, array, compression="zlib")
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        return page.dataoffsets[0], page.databytecounts[0]


def test_cut_zlib_tiff(tmp_path):
    path = tmp_path / "cut.tif"
    offset, count = _zlib_tiff(path)
    data = bytearray(path.read_bytes())
    data[offset + count // 2:offset + count] = bytes(count - count // 2)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=_names(path) + r": cannot read TIFF \(.*decompress"):
        ic.read(path)


def test_npy_header_that_does_not_parse(tmp_path):
    """An open brace sends numpy to its tokenizer, which raised TokenError."""
    path = tmp_path / "bad.npy"
    np.save(path, np.zeros((3, 4), np.int16))
    data = path.read_bytes()
    path.write_bytes(data.replace(b"}", b" ", 1))
    with pytest.raises(ValueError, match=_names(path) + r": cannot read \.npy file"):
        ic.read(path)


# ---------------------------------------------------------------------------
# a .npy header declaring more than memory holds, or more than the file holds
# ---------------------------------------------------------------------------
def _npy_declaring(path, shape, dtype="<f4", payload=b""):
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode("latin1")
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload)


def test_npy_too_large_for_memory_is_refused_from_its_header(tmp_path, monkeypatch):
    path = tmp_path / "huge.npy"
    _npy_declaring(path, (1 << 20, 1 << 20))  # 4 TiB of float32
    monkeypatch.setattr(_io._memory, "_available_memory", lambda: 16 << 30)
    with pytest.raises(ValueError, match=_names(path) + r": too large to read: its 1048576 x "
                                         r"1048576 array needs 4096\.0 GiB of memory"):
        ic.read(path, mmap=False)


def test_npy_shorter_than_its_header_says(tmp_path):
    path = tmp_path / "short.npy"
    _npy_declaring(path, (100, 100), payload=bytes(4000))
    with pytest.raises(ValueError, match=_names(path) + r": .*truncated: its header declares "
                                         r"40000 bytes of data and the file holds 4000"):
        ic.read(path)
    with pytest.raises(ValueError, match=_names(path) + ": .*truncated"):
        ic.read(path, mmap=True)


# ---------------------------------------------------------------------------
# seeded random damage over every format
# ---------------------------------------------------------------------------
def _valid_files(folder):
    rng = np.random.default_rng(11)
    grey = rng.integers(0, 256, (12, 10), dtype=np.uint8)
    rgb = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    files = {"a.png": rgb, "b.png": rng.integers(0, 65536, (12, 10), dtype=np.uint16),
             "a.jpg": rgb, "a.bmp": grey, "a.tif": rng.random((3, 12, 10)).astype(np.float32),
             "a.npy": grey.astype(np.int16), "a.nii": rng.random((4, 5, 6)).astype(np.float32),
             "a.nii.gz": rng.integers(-100, 100, (4, 5, 6), dtype=np.int16)}
    for name, array in files.items():
        ic.write(folder / name, array)
    tifffile.imwrite(folder / "z.tif", rng.integers(0, 65536, (12, 10), dtype=np.uint16),
                     compression="zlib")
    return sorted(p.name for p in folder.iterdir())


def _damaged(data, rng):
    """``data`` cut short, or with 1 to 3 bytes changed (in the header or anywhere)."""
    data = bytearray(data)
    kind = rng.integers(3)
    if kind == 0:
        return bytes(data[:rng.integers(len(data))])
    for _ in range(rng.integers(1, 4)):
        place = rng.integers(min(len(data), 300) if kind == 1 else len(data))
        data[place] = (data[place] + rng.integers(1, 256)) % 256
    return bytes(data)


def test_random_damage_gives_the_documented_error(tmp_path):
    sources = tmp_path / "valid"
    sources.mkdir()
    names = _valid_files(sources)
    assert len(names) == 9
    rng = np.random.default_rng(2024)
    start = time.perf_counter()
    outcomes = {"read": 0, "refused": 0}
    for name in names:
        data = (sources / name).read_bytes()
        for i in range(60):
            path = tmp_path / f"{i}_{name}"
            path.write_bytes(_damaged(data, rng))
            try:
                array = ic.read(path)
            except ValueError as exc:
                assert str(path) in str(exc), (name, str(exc))
                outcomes["refused"] += 1
            except Exception as exc:
                pytest.fail(f"{path.name}: {type(exc).__name__} rather than ValueError: {exc}")
            else:
                assert isinstance(array, np.ndarray)
                outcomes["read"] += 1
            path.unlink()
    assert outcomes["refused"] > 200 and outcomes["read"] > 20, outcomes
    assert time.perf_counter() - start < 30

"""Damaged files: every read of one either gives the array or raises the
documented ValueError naming the file, never a library's own exception."""
import re
import struct
import time

import numpy as np
import pytest

import imgconv as ic
from imgconv import _io

nib = pytest.importorskip("nibabel")
tifffile = pytest.importorskip("tifffile")


def _names(path):
    return re.escape(str(path))


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

"""imgconv.read / imgconv.write: round trips for every format and dtype,
metadata, errors, atomic writes."""
import gzip
import os
import struct
import sys
import zlib

import numpy as np
import pytest

import imgconv as ic
from imgconv import _io

nib = pytest.importorskip("nibabel")
tifffile = pytest.importorskip("tifffile")

RNG = np.random.default_rng(5)


def random_array(shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return RNG.standard_normal(shape).astype(dtype) * 100
    if dtype == np.bool_:
        return RNG.random(shape) > 0.5
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max, shape, endpoint=True, dtype=dtype)


def roundtrip(tmp_path, name, array, **write_options):
    path = tmp_path / name
    ic.write(path, array, **write_options)
    return ic.read(path, with_meta=True)


# ---------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif"])
@pytest.mark.parametrize("shape", [(13, 17), (13, 17, 3)])
def test_lossless_images_uint8(tmp_path, ext, shape):
    array = random_array(shape, np.uint8)
    again, meta = roundtrip(tmp_path, "a" + ext, array)
    np.testing.assert_array_equal(again, array)
    assert again.dtype == np.uint8
    assert meta.channel_axis == (-1 if len(shape) == 3 else None)


@pytest.mark.parametrize("ext", [".png", ".tif"])
@pytest.mark.parametrize("channels", [2, 4])
def test_alpha_images(tmp_path, ext, channels):
    array = random_array((9, 11, channels), np.uint8)
    again, meta = roundtrip(tmp_path, "a" + ext, array)
    np.testing.assert_array_equal(again, array)
    assert meta.channel_axis == -1


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_uint16_grey(tmp_path, ext):
    array = random_array((10, 12), np.uint16)
    again, _ = roundtrip(tmp_path, "a" + ext, array)
    assert again.dtype == np.uint16
    np.testing.assert_array_equal(again, array)


@pytest.mark.parametrize("ext", [".jpg", ".jpeg"])
@pytest.mark.parametrize("shape", [(32, 40), (32, 40, 3)])
def test_jpeg_is_close(tmp_path, ext, shape):
    y, x = np.mgrid[0:32, 0:40]
    array = (100 + 50 * np.sin(x / 6.0) * np.cos(y / 5.0)).astype(np.uint8)
    if len(shape) == 3:
        array = np.stack([array, array // 2, 255 - array], axis=-1)
    again, meta = roundtrip(tmp_path, "a" + ext, array)
    assert again.shape == array.shape and again.dtype == np.uint8
    # quality 95 (Pillow's default 75 errs about 3 times as much)
    assert np.abs(again.astype(int) - array).mean() < (0.6 if len(shape) == 2 else 1.5)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32", "float32", "float64",
                                   "bool", "int64"])
@pytest.mark.parametrize("shape", [(7,), (6, 5), (4, 6, 5), (2, 3, 4, 5)])
def test_npy_any_dtype_and_shape(tmp_path, dtype, shape):
    array = random_array(shape, dtype)
    again, meta = roundtrip(tmp_path, "a.npy", array)
    assert again.dtype == array.dtype
    np.testing.assert_array_equal(again, array)
    assert meta.format == "npy" and meta.channel_axis is None and meta.spacing is None


def test_npy_memory_mapped(tmp_path, monkeypatch):
    array = random_array((20, 30), np.float32)
    np.save(tmp_path / "a.npy", array)
    mapped = ic.read(tmp_path / "a.npy", mmap=True)
    assert isinstance(mapped, np.memmap) and not mapped.flags.writeable
    np.testing.assert_array_equal(mapped, array)
    assert not isinstance(ic.read(tmp_path / "a.npy"), np.memmap)  # small: loaded
    monkeypatch.setattr(_io, "MMAP_THRESHOLD", 100)
    assert isinstance(ic.read(tmp_path / "a.npy"), np.memmap)  # big: mapped by default
    # a mapped input filters like any other and is never written to
    np.testing.assert_allclose(ic.gaussian(ic.read(tmp_path / "a.npy"), 1), ic.gaussian(array, 1))


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("shape", [(6, 5), (4, 6, 5), (3, 4, 6, 5)])
def test_tiff_any_dtype_and_stacks(tmp_path, dtype, shape):
    array = random_array(shape, dtype)
    again, meta = roundtrip(tmp_path, "a.tif", array, meta=ic.ImageMeta())
    assert again.dtype == array.dtype and again.shape == array.shape
    np.testing.assert_array_equal(again, array)
    assert meta.channel_axis is None


def test_tiff_stack_keeps_spacing_and_colour_stacks(tmp_path):
    vol = random_array((5, 6, 7), np.float32)
    again, meta = roundtrip(tmp_path, "v.tiff", vol,
                            meta=ic.ImageMeta(spacing=(3.0, 0.5, 0.25), unit="um"))
    np.testing.assert_array_equal(again, vol)
    assert meta.spacing == (3.0, 0.5, 0.25) and meta.unit == "um"
    with tifffile.TiffFile(tmp_path / "v.tiff") as tif:
        assert len(tif.pages) == 5  # a real multi-page stack, readable elsewhere
    rgb = random_array((4, 6, 7, 3), np.uint16)
    again, meta = roundtrip(tmp_path, "c.tif", rgb,
                            meta=ic.ImageMeta(channel_axis=-1, spacing=(2.0, 1.0, 1.0)))
    np.testing.assert_array_equal(again, rgb)
    assert meta.channel_axis == -1 and meta.spacing == (2.0, 1.0, 1.0)


def test_imagej_tiff_spacing(tmp_path):
    vol = random_array((3, 8, 9), np.float32)
    tifffile.imwrite(tmp_path / "ij.tif", vol, imagej=True, resolution=(1 / 0.5, 1 / 0.25),
                     metadata={"spacing": 2.0, "unit": "um", "axes": "ZYX"})
    again, meta = ic.read(tmp_path / "ij.tif", with_meta=True)
    np.testing.assert_array_equal(again, vol)
    assert meta.spacing == pytest.approx((2.0, 0.25, 0.5)) and meta.unit == "um"


def test_tiff_without_tifffile_uses_pillow(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tifffile", None)  # import tifffile -> ImportError
    for dtype, shape in [("uint8", (6, 7)), ("uint8", (6, 7, 3)), ("uint16", (6, 7)),
                         ("int32", (6, 7)), ("float32", (6, 7))]:
        array = random_array(shape, dtype)
        again, _ = roundtrip(tmp_path, f"p_{dtype}{len(shape)}.tif", array)
        assert again.dtype == array.dtype
        np.testing.assert_array_equal(again, array)
    with pytest.raises(ValueError, match="install tifffile"):
        ic.write(tmp_path / "s.tif", random_array((3, 6, 7), np.float32),
                 meta=ic.ImageMeta())
    with pytest.raises(ImportError, match=r"imgconv\[tiff\]"):
        ic.write(tmp_path / "s.tif", random_array((6, 7), np.float32),
                 meta=ic.ImageMeta(spacing=(1.0, 1.0)))
    monkeypatch.undo()
    tifffile.imwrite(tmp_path / "stack.tif", random_array((3, 6, 7), np.uint8),
                     photometric="minisblack")
    monkeypatch.setitem(sys.modules, "tifffile", None)
    with pytest.raises(ValueError, match="several pages"):
        ic.read(tmp_path / "stack.tif")


@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint16", "int32", "float32", "float64"])
def test_nifti_dtypes(tmp_path, ext, dtype):
    vol = random_array((4, 5, 6), dtype)
    again, meta = roundtrip(tmp_path, "v" + ext, vol, meta=ic.ImageMeta(spacing=(3, 2, 1)))
    assert again.dtype == vol.dtype and again.flags.c_contiguous
    np.testing.assert_array_equal(again, vol)
    assert meta.format == "nifti" and meta.spacing == (3.0, 2.0, 1.0)


def test_nifti_axis_order_spacing_and_orientation(tmp_path):
    """Arrays are (k, j, i): the transpose of nibabel's, spacing reordered to match."""
    vol = random_array((4, 5, 6), np.float32)
    ic.write(tmp_path / "v.nii.gz", vol, meta=ic.ImageMeta(spacing=(3.0, 2.0, 0.5), unit="mm"))
    img = nib.load(tmp_path / "v.nii.gz")
    assert img.shape == (6, 5, 4)
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), vol.T)
    assert img.header.get_zooms() == (0.5, 2.0, 3.0)
    assert img.header.get_xyzt_units()[0] == "mm"
    _, meta = ic.read(tmp_path / "v.nii.gz", with_meta=True)
    assert meta.axis_labels == ("k (S)", "j (A)", "i (R)") and meta.unit == "mm"


def test_nifti_keeps_header_and_writes_float_unscaled(tmp_path):
    raw = random_array((6, 5, 4), np.int16) // 100  # nibabel order (i, j, k)
    affine = np.array([[0, 0, -2.5, 40], [0.9, 0, 0, -3], [0, 0.8, 0, 7], [0, 0, 0, 1]])
    img = nib.Nifti1Image(raw, affine)
    img.header.set_slope_inter(2.0, -1024.0)
    img.header.set_xyzt_units("mm", "sec")
    img.set_qform(affine, code=1)
    img.header["descrip"] = b"scanner X"
    nib.save(img, tmp_path / "ct.nii.gz")

    vol, meta = ic.read(tmp_path / "ct.nii.gz", with_meta=True)
    assert vol.dtype == np.float32  # scaled integers come back as float32 values
    np.testing.assert_array_equal(vol, (raw * 2.0 - 1024).T)
    assert meta.spacing == (2.5, 0.8, 0.9)  # column norms of the affine for (k, j, i)
    result = vol * np.float32(1.5) + np.float32(0.1)
    ic.write(tmp_path / "out.nii.gz", result, meta=meta)

    out = nib.load(tmp_path / "out.nii.gz")
    assert out.get_data_dtype() == np.float32
    assert np.isnan(out.header["scl_slope"]) or out.header["scl_slope"] in (0, 1)
    np.testing.assert_array_equal(np.asanyarray(out.dataobj), result.T)  # float32 exactly
    np.testing.assert_allclose(out.affine, affine)
    assert out.header["qform_code"] == 1 and out.header["sform_code"] == img.header["sform_code"]
    assert out.header["descrip"] == b"scanner X"
    assert out.header.get_xyzt_units() == ("mm", "sec")


def test_nifti_4d_and_2d(tmp_path):
    series = random_array((3, 4, 5, 6), np.float32)  # (t, k, j, i)
    again, meta = roundtrip(tmp_path, "f.nii.gz", series)
    np.testing.assert_array_equal(again, series)
    assert meta.axis_labels[0] == "t"
    plane = random_array((5, 6), np.int16)
    np.testing.assert_array_equal(roundtrip(tmp_path, "p.nii", plane)[0], plane)


def test_meta_resampled_moves_the_affine(tmp_path):
    vol = random_array((8, 6, 4), np.float32)
    ic.write(tmp_path / "v.nii.gz", vol, meta=ic.ImageMeta(spacing=(2.0, 1.0, 0.5)))
    _, meta = ic.read(tmp_path / "v.nii.gz", with_meta=True)
    half = meta.resampled((2, 2, 2), offset=(0.5, 0.5, 0.5))
    ic.write(tmp_path / "h.nii.gz", vol[::2, ::2, ::2], meta=half)
    again, meta2 = ic.read(tmp_path / "h.nii.gz", with_meta=True)
    assert meta2.spacing == (4.0, 2.0, 1.0)
    # world position of output voxel 0 = input voxel 0.5 on every axis
    np.testing.assert_allclose(meta2.affine[:3, 3], [0.25, 0.5, 1.0])


def test_missing_nibabel_is_a_clear_error(tmp_path, monkeypatch):
    ic.write(tmp_path / "v.nii", np.zeros((2, 2, 2), np.float32))
    monkeypatch.setitem(sys.modules, "nibabel", None)
    with pytest.raises(ImportError, match=r"pip install 'imgconv\[medical\]'"):
        ic.read(tmp_path / "v.nii")
    with pytest.raises(ImportError, match="nibabel"):
        ic.write(tmp_path / "w.nii.gz", np.zeros((2, 2, 2), np.float32))
    assert sorted(os.listdir(tmp_path)) == ["v.nii"]


# ---------------------------------------------------------------------------
# what formats refuse, and bad files
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name,array,message", [
    ("a.png", np.zeros((4, 4), np.float32), r"PNG cannot hold a float32 .*\.tif, \.npy or \.nii"),
    ("a.png", np.zeros((3, 4, 5), np.uint8), "PNG cannot hold"),
    ("a.jpg", np.zeros((4, 4, 4), np.uint8), "JPEG cannot hold"),
    ("a.bmp", np.zeros((4, 4), np.uint16), "BMP cannot hold"),
    ("a.png", np.zeros((4, 4, 3), np.uint16), "PNG cannot hold"),
    ("a.xyz", np.zeros((4, 4), np.uint8), "unsupported file type '.xyz'"),
    ("a", np.zeros((4, 4), np.uint8), "unsupported file type"),
    ("a.npy", np.array(["text"]), "cannot store"),
])
def test_write_refuses_what_the_format_cannot_hold(tmp_path, name, array, message):
    with pytest.raises(ValueError, match=message):
        ic.write(tmp_path / name, array)
    assert os.listdir(tmp_path) == []


def test_png_stack_needs_meta_to_be_colour(tmp_path):
    with pytest.raises(ValueError, match="not a 2D image"):
        ic.write(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8), meta=ic.ImageMeta())
    with pytest.raises(ValueError, match="colour images"):
        ic.write(tmp_path / "a.nii", np.zeros((4, 4, 3), np.uint8),
                 meta=ic.ImageMeta(channel_axis=-1))


def test_write_path_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ic.write(tmp_path / "nowhere" / "a.png", np.zeros((2, 2), np.uint8))
    (tmp_path / "d.png").mkdir()
    with pytest.raises(IsADirectoryError):
        ic.write(tmp_path / "d.png", np.zeros((2, 2), np.uint8))


def _png_16bit_rgb(path, array):
    h, w, _ = array.shape
    raw = b"".join(b"\x00" + array[i].astype(">u2").tobytes() for i in range(h))

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2,
                                                                         0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        ic.read(tmp_path / "missing.png")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        ic.read(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="unsupported file type '.txt'"):
        ic.read(tmp_path / "notes.txt")
    (tmp_path / "garbage.png").write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="cannot read image"):
        ic.read(tmp_path / "garbage.png")
    _png_16bit_rgb(tmp_path / "deep.png", random_array((4, 5, 3), np.uint16))
    with pytest.raises(ValueError, match="16-bit colour PNG"):
        ic.read(tmp_path / "deep.png")


@pytest.mark.parametrize("name,array", [
    ("a.png", random_array((64, 64), np.uint8)),
    ("a.npy", random_array((64, 64), np.float32)),
    ("a.tif", random_array((4, 64, 64), np.float32)),
    ("a.nii.gz", random_array((8, 64, 64), np.float32)),
    ("a.nii", random_array((8, 64, 64), np.float32)),
    ("a.jpg", random_array((64, 64), np.uint8)),
])
def test_truncated_files_are_clear_errors(tmp_path, name, array):
    path = tmp_path / name
    ic.write(path, array)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=str(path).replace("\\", "\\\\")):
        ic.read(path)


def test_corrupt_gzip_nifti(tmp_path):
    (tmp_path / "bad.nii.gz").write_bytes(gzip.compress(b"\x00" * 400))
    with pytest.raises(ValueError, match="cannot read NIfTI"):
        ic.read(tmp_path / "bad.nii.gz")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.png"
    ic.write(path, np.zeros((2, 2), np.uint8))
    path.chmod(0)
    with pytest.raises(PermissionError, match="permission denied"):
        ic.read(path)


# ---------------------------------------------------------------------------
# atomic writes
# ---------------------------------------------------------------------------
def _fail_midway(monkeypatch, module, name):
    """Make ``module.name`` write a few bytes to its target, then fail."""
    def broken(target, *args, **kwargs):
        f = target if hasattr(target, "write") else open(target, "wb")
        f.write(b"partial data")
        f.flush()
        raise OSError(28, "No space left on device (simulated)")
    monkeypatch.setattr(module, name, broken)


@pytest.mark.parametrize("name,array", [("a.npy", np.ones((5, 5))),
                                        ("a.png", np.ones((5, 5), np.uint8)),
                                        ("a.tif", np.ones((3, 5, 5), np.float32))])
def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch, name, array):
    from PIL import Image

    target = tmp_path / name
    target.write_bytes(b"old contents")
    if name.endswith(".npy"):
        _fail_midway(monkeypatch, np, "save")
    elif name.endswith(".png"):
        monkeypatch.setattr(Image.Image, "save",
                            lambda self, target, *a, **k: _fail_write(target))
    else:
        _fail_midway(monkeypatch, tifffile, "imwrite")
    with pytest.raises(OSError, match="simulated"):
        ic.write(target, array)
    assert os.listdir(tmp_path) == [name]  # no temporary file left behind
    assert target.read_bytes() == b"old contents"  # the old file untouched


def _fail_write(target):
    with open(target, "wb") as f:
        f.write(b"partial")
    raise OSError(28, "No space left on device (simulated)")


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    def interrupted(target, *args, **kwargs):
        target.write(b"partial")
        raise KeyboardInterrupt
    monkeypatch.setattr(np, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ic.write(tmp_path / "a.npy", np.ones(3))
    assert os.listdir(tmp_path) == []


def test_no_clobber_and_permissions(tmp_path):
    path = tmp_path / "a.npy"
    ic.write(path, np.arange(3))
    with pytest.raises(FileExistsError, match="already exists"):
        ic.write(path, np.arange(4), overwrite=False)
    np.testing.assert_array_equal(ic.read(path), np.arange(3))
    assert os.listdir(tmp_path) == ["a.npy"]
    ic.write(path, np.arange(4))  # overwrite=True is the default, as np.save
    np.testing.assert_array_equal(ic.read(path), np.arange(4))
    umask = os.umask(0o022)
    try:
        ic.write(tmp_path / "b.npy", np.arange(3))
    finally:
        os.umask(umask)
    assert (tmp_path / "b.npy").stat().st_mode & 0o777 == 0o644  # not tempfile's 0600


def test_meta_and_helpers():
    meta = ic.ImageMeta(channel_axis=-1, spacing=(2.0, 3.0))
    assert meta.spatial_axes(3) == (0, 1)
    assert meta.resampled((2, 1, 1)).spacing == (4.0, 3.0)
    assert _io.split_extension("a/b.NII.GZ") == ("a/b", ".NII.GZ")
    assert _io.file_format("x.jpeg") == "jpeg"

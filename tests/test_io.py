"""imgconv.read / imgconv.write: round trips for every format and dtype,
metadata, errors, atomic writes."""
import gc
import gzip
import os
import re
import struct
import sys
import warnings
import zlib
from dataclasses import replace

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
    monkeypatch.setattr(_io._npy, "MMAP_THRESHOLD", 100)
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


def _tiff_pages(path):
    """(page count, samples per pixel, photometric name, extra samples) of a TIFF."""
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        return len(tif.pages), page.samplesperpixel, page.photometric.name, tuple(page.extrasamples)


UNASSALPHA, UNSPECIFIED = 2, 0  # TIFF ExtraSamples codes


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
@pytest.mark.parametrize("channels,photometric,extra", [
    (1, "MINISBLACK", ()), (2, "MINISBLACK", (UNASSALPHA,)), (3, "RGB", ()),
    (4, "RGB", (UNASSALPHA,)), (5, "MINISBLACK", (UNSPECIFIED,) * 4)])
@pytest.mark.parametrize("spatial", [(6, 7), (4, 6, 7)])
def test_tiff_keeps_a_last_channel_axis(tmp_path, dtype, channels, photometric, extra, spatial):
    """Images and volumes with any number of channels: each plane is one page
    whose pixels hold the channels; alpha only where imgconv means it (2 and 4
    channels), so a 5-band image is not taken for RGB plus alpha elsewhere."""
    array = random_array((*spatial, channels), dtype)
    spacing = (3.0, 0.5, 0.25)[-len(spatial):]
    again, meta = roundtrip(tmp_path, "c.tif", array,
                            meta=ic.ImageMeta(channel_axis=-1, spacing=spacing, unit="um"))
    assert again.dtype == array.dtype and again.shape == array.shape
    np.testing.assert_array_equal(again, array)
    assert meta.channel_axis == -1 and meta.spacing == spacing and meta.unit == "um"
    pages = int(np.prod(spatial[:-2]))
    assert _tiff_pages(tmp_path / "c.tif") == (pages, channels, photometric, extra)


@pytest.mark.parametrize("shape,channel_axis", [
    ((6, 7, 2), -1), ((6, 7, 3), -1), ((4, 6, 7, 3), -1), ((4, 6, 7, 4), -1),
    ((2, 4, 6, 7, 2), -1), ((6, 7, 1), None), ((6, 7, 5), None), ((4, 6, 7, 5), None)])
def test_tiff_without_meta_a_last_axis_of_2_to_4_is_colour(tmp_path, shape, channel_axis):
    """write's rule without meta, at any rank: (D, H, W, 3) is a colour volume,
    stored as D RGB pages, not as D*H pages of W x 3."""
    array = random_array(shape, np.uint16)
    again, meta = roundtrip(tmp_path, "a.tif", array)
    np.testing.assert_array_equal(again, array)
    assert again.shape == shape and meta.channel_axis == channel_axis
    if channel_axis is not None:
        assert _tiff_pages(tmp_path / "a.tif")[:2] == (int(np.prod(shape[:-3])), shape[-1])


def test_tiff_keeps_a_channel_axis_before_the_rows(tmp_path):
    """An ImageJ hyperstack (ZCYX) reads with channel_axis=1; written back with
    its meta, the channels stay an axis of pages, and read as channels."""
    array = random_array((3, 2, 6, 7), np.uint16)
    tifffile.imwrite(tmp_path / "ij.tif", array, imagej=True, metadata={"axes": "ZCYX"})
    stack, meta = ic.read(tmp_path / "ij.tif", with_meta=True)
    assert meta.channel_axis == 1
    again, meta = roundtrip(tmp_path, "again.tif", stack,
                            meta=replace(meta, spacing=(2.0, 0.5, 0.5), unit="um"))
    np.testing.assert_array_equal(again, array)
    assert meta.channel_axis == 1 and meta.spacing == (2.0, 0.5, 0.5)
    assert _tiff_pages(tmp_path / "again.tif")[:2] == (6, 1)


@pytest.mark.parametrize("with_tifffile", [True, False])
@pytest.mark.parametrize("array,channel_axis,message", [
    (np.zeros(5, np.uint8), None, r"TIFF holds images .* shape \(5,\) has 1 spatial axis"),
    (np.zeros((), np.uint8), None, r"shape \(\) has 0 spatial axes"),
    (np.zeros((6, 7), np.uint8), -1, r"shape \(6, 7\) with channel axis 1 has 1 spatial axis"),
    (np.zeros((4, 3, 7), np.uint8), 1,
     r"channel axis 1 of shape \(4, 3, 7\) lies between the rows and the columns"),
    (np.zeros((6, 7, 3), np.uint8), 3, r"channel_axis=3 is out of range for shape \(6, 7, 3\)"),
    (np.zeros((6, 7, 3), np.uint8), -4, r"channel_axis=-4 is out of range"),
])
def test_tiff_refuses_what_it_cannot_hold(tmp_path, monkeypatch, with_tifffile, array,
                                          channel_axis, message):
    if not with_tifffile:
        monkeypatch.setitem(sys.modules, "tifffile", None)
    with pytest.raises(ValueError, match=message):
        ic.write(tmp_path / "a.tif", array, meta=ic.ImageMeta(channel_axis=channel_axis))
    assert os.listdir(tmp_path) == []


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
    # a channel axis is not dropped to write grey rows: (4, 4) with channels is 1D
    with pytest.raises(ValueError, match="not a 2D image"):
        ic.write(tmp_path / "a.png", np.zeros((4, 4), np.uint8),
                 meta=ic.ImageMeta(channel_axis=-1))
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


def test_nifti_time_axis_has_the_time_unit(tmp_path):
    data = np.zeros((4, 5, 6, 3), np.int16)
    img = nib.Nifti1Image(data, np.diag([2.0, 2.0, 3.0, 1.0]))
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_zooms((2, 2, 3, 1.5))
    nib.save(img, tmp_path / "series.nii.gz")
    _, meta = ic.read(tmp_path / "series.nii.gz", with_meta=True)
    assert meta.axis_labels[0] == "t" and meta.spacing == (1.5, 3.0, 2.0, 2.0)
    assert meta.unit == "mm" and meta.units() == ("sec", "mm", "mm", "mm")
    assert meta.resampled((2, 1, 1, 1)).units() == ("sec", "mm", "mm", "mm")
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 2, 3, 2), np.int16), np.eye(4)), tmp_path / "5d.nii")
    assert ic.read(tmp_path / "5d.nii", with_meta=True)[1].units() == (None,) * 5  # no units
    ic.write(tmp_path / "vol.nii", data[..., 0].T, meta=ic.ImageMeta(spacing=(3.0, 2.0, 2.0),
                                                                      unit="mm"))
    _, meta = ic.read(tmp_path / "vol.nii", with_meta=True)
    assert meta.axis_units is None and meta.units() == ("mm", "mm", "mm")


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


@pytest.mark.parametrize("stem,ext", [("a" * 251, ".png"), ("\u00e9" * 125, ".png"),
                                      ("v" * 248, ".nii.gz"), ("b" * 234, ".npy")])
def test_names_up_to_the_limit_are_written(tmp_path, stem, ext):
    """The temporary name adds 18 bytes or more: a valid name of 238 to 255
    bytes could not be written."""
    name = stem + ext
    limit = os.pathconf(tmp_path, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    if len(os.fsencode(name)) > limit:
        pytest.skip(f"this file system takes names of {limit} bytes at most")
    array = random_array((5, 6, 4) if ext == ".nii.gz" else (5, 6), np.uint8)
    ic.write(tmp_path / name, array)
    np.testing.assert_array_equal(ic.read(tmp_path / name), array)
    ic.write(tmp_path / name, array[::-1], overwrite=True)
    np.testing.assert_array_equal(ic.read(tmp_path / name), array[::-1])
    assert os.listdir(tmp_path) == [name]


def test_a_name_beyond_the_limit_is_an_error_naming_it(tmp_path):
    name = "c" * 300 + ".png"
    with pytest.raises(OSError, match=f"{'c' * 300}\\.png: cannot write .*too long"):
        ic.write(tmp_path / name, np.zeros((2, 2), np.uint8))
    assert os.listdir(tmp_path) == []


def test_meta_and_helpers():
    meta = ic.ImageMeta(channel_axis=-1, spacing=(2.0, 3.0))
    assert meta.spatial_axes(3) == (0, 1)
    assert meta.resampled((2, 1, 1)).spacing == (4.0, 3.0)
    assert _io.split_extension("a/b.NII.GZ") == ("a/b", ".NII.GZ")
    assert _io.file_format("x.jpeg") == "jpeg"


def test_io_package_modules_doctests():
    """test_package runs the doctests of imgconv._io itself; those of its
    modules (split_extension's, ImageMeta's...) run here."""
    import doctest
    import importlib
    import pkgutil

    names = [m.name for m in pkgutil.iter_modules(_io.__path__, _io.__name__ + ".")]
    assert {"imgconv._io._meta", "imgconv._io._read", "imgconv._io._write"} <= set(names)
    attempted = 0
    for name in names:
        result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
        attempted += result.attempted
    assert attempted >= 8


# ---------------------------------------------------------------------------
# full disks: every write error raises, naming the file, and leaves nothing
# ---------------------------------------------------------------------------
NOISE = random_array((300, 300, 3), np.uint8)
NOISY_VOLUME = random_array((20, 64, 64), np.float32)
WRITES = [("a.bmp", NOISE), ("a.jpg", NOISE), ("a.png", NOISE), ("a.tif", NOISE),
          ("a.npy", NOISE), ("a.nii.gz", NOISY_VOLUME), ("a.nii", NOISY_VOLUME)]


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs (root only), unmounted afterwards."""
    import subprocess

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    folder = tmp_path / "full"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        gc.collect()  # a file a failed writer left open keeps the tmpfs busy
        if subprocess.run(["umount", str(folder)]).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], check=True)


@pytest.mark.parametrize("name,array", WRITES)
def test_full_disk_is_an_error(full_disk, name, array):
    """Pillow used to truncate BMP and JPEG silently (rc 0, a 16 KiB file)."""
    target = full_disk / name
    message = f"{target}: cannot write (No space left on device"
    with pytest.raises(OSError, match=re.escape(message)):
        ic.write(target, array)
    assert os.listdir(full_disk) == []


@pytest.mark.parametrize("name", ["a.bmp", "a.jpg", "a.tif"])
def test_a_silently_short_pillow_write_is_an_error(tmp_path, monkeypatch, name):
    """Pillow writes BMP, JPEG and TIFF pixels to the file descriptor and
    ignores a short write: it returns, the file cut short.  Simulated here."""
    from PIL import Image

    if name.endswith(".tif"):
        monkeypatch.setitem(sys.modules, "tifffile", None)  # TIFF through Pillow
    save = Image.Image.save

    def cut_short(self, target, *args, **kwargs):
        save(self, target, *args, **kwargs)
        os.truncate(target, os.path.getsize(target) * 2 // 3)
    monkeypatch.setattr(Image.Image, "save", cut_short)
    target = tmp_path / name
    message = f"{target}: cannot write (the file written does not read back"
    with pytest.raises(OSError, match=re.escape(message)):
        ic.write(target, NOISE if not name.endswith(".tif") else NOISE[..., 0])
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name,array", WRITES)
def test_a_failed_fsync_leaves_nothing(tmp_path, monkeypatch, name, array):
    """A full disk that shows only at fsync (delayed allocation, NFS)."""
    target = tmp_path / name
    target.write_bytes(b"old contents")

    def full(fd):
        raise OSError(28, "No space left on device (simulated)")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=re.escape(f"{target}: cannot write")) as error:
        ic.write(target, array)
    assert error.value.errno == 28 and ".tmp" not in str(error.value)
    assert os.listdir(tmp_path) == [name]  # no temporary file left behind
    assert target.read_bytes() == b"old contents"


# ---------------------------------------------------------------------------
# NIfTI: the case of the extension, qform and sform, units
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["v.Nii", "v.Nii.gz", "v.nii.Gz", "v.NII.GZ", "v.nIi"])
def test_nifti_mixed_case_extensions(tmp_path, name):
    """nibabel, given 'v.Nii', writes and reads 'v.nii': once a 0-byte output."""
    vol = random_array((4, 5, 6), np.int16)
    again, meta = roundtrip(tmp_path, name, vol, meta=ic.ImageMeta(spacing=(3.0, 2.0, 1.0)))
    np.testing.assert_array_equal(again, vol)
    assert meta.spacing == (3.0, 2.0, 1.0)
    assert os.listdir(tmp_path) == [name]  # the file itself, no hidden leftover
    lower = tmp_path / name.lower()
    (tmp_path / name).rename(lower)  # a real NIfTI file, for nibabel too
    np.testing.assert_array_equal(np.asanyarray(nib.load(lower).dataobj), vol.T)


def test_nifti2_with_a_mixed_case_extension(tmp_path):
    vol = random_array((6, 5, 4), np.float32)
    nib.save(nib.Nifti2Image(vol, np.diag([2.0, 3.0, 4.0, 1.0])), tmp_path / "n2.nii.gz")
    (tmp_path / "n2.nii.gz").rename(tmp_path / "N2.Nii.gz")
    again, meta = ic.read(tmp_path / "N2.Nii.gz", with_meta=True)
    np.testing.assert_array_equal(again, vol.T)
    assert isinstance(meta.header, nib.Nifti2Header) and meta.spacing == (4.0, 3.0, 2.0)


def _qform_sform_image(qform_code=1):
    sform = np.diag([-0.8, 1.2, 2.5, 1.0])
    sform[:3, 3] = [10, -20, 30]
    img = nib.Nifti1Image(random_array((12, 10, 8), np.int16), sform)
    qform = sform.copy()
    qform[:3, 3] = [1, 2, 3]
    img.set_qform(qform if qform_code else None, qform_code)
    img.set_sform(sform, 2)
    return img


def test_nifti_keeps_qform_and_sform(tmp_path):
    """The qform was overwritten by the sform though the header was kept."""
    img = _qform_sform_image()
    nib.save(img, tmp_path / "qs.nii.gz")
    vol, meta = ic.read(tmp_path / "qs.nii.gz", with_meta=True)
    ic.write(tmp_path / "out.nii.gz", vol, meta=meta)
    out = nib.load(tmp_path / "out.nii.gz").header
    np.testing.assert_allclose(out.get_qform(), img.header.get_qform())
    np.testing.assert_allclose(out.get_sform(), img.header.get_sform())
    assert (out["qform_code"], out["sform_code"]) == (1, 2)
    assert out.get_zooms() == img.header.get_zooms()


@pytest.mark.parametrize("qform_code", [1, 0])
def test_resampling_moves_qform_and_sform_alike(tmp_path, qform_code):
    img = _qform_sform_image(qform_code)
    nib.save(img, tmp_path / "qs.nii.gz")
    vol, meta = ic.read(tmp_path / "qs.nii.gz", with_meta=True)
    half = meta.resampled((2, 2, 2), offset=0.5)  # a 2-wide pooling, stride 2
    ic.write(tmp_path / "half.nii.gz", vol[::2, ::2, ::2], meta=half)
    out = nib.load(tmp_path / "half.nii.gz").header
    # voxel (i, j, k) of the output is voxel (2i + 0.5, ...) of the input, in both spaces
    grid = np.diag([2.0, 2.0, 2.0, 1.0])
    grid[:3, 3] = 0.5
    np.testing.assert_allclose(out.get_sform(), img.header.get_sform() @ grid, atol=1e-5)
    assert (out["qform_code"], out["sform_code"]) == (qform_code, 2)
    if qform_code:
        np.testing.assert_allclose(out.get_qform(), img.header.get_qform() @ grid, atol=1e-5)
    np.testing.assert_allclose(out.get_zooms(), [1.6, 2.4, 5.0], rtol=1e-6)
    assert ic.read(tmp_path / "half.nii.gz", with_meta=True)[1].spacing == (5.0, 2.4, 1.6)


@pytest.mark.parametrize("unit,nifti_unit", [
    ("um", "micron"), ("\u00b5m", "micron"), ("\u03bcm", "micron"), ("micron", "micron"),
    ("\\u00B5m", "micron"), ("mm", "mm"), ("m", "meter"), ("nm", "unknown"), (None, "unknown")])
def test_nifti_units(tmp_path, unit, nifti_unit):
    """TIFF spacing in 'um' became NIfTI unit 'unknown': only 'micron' was mapped."""
    ic.write(tmp_path / "v.nii", np.zeros((2, 3, 4), np.float32),
             meta=ic.ImageMeta(spacing=(1.0, 2.0, 3.0), unit=unit))
    assert nib.load(tmp_path / "v.nii").header.get_xyzt_units()[0] == nifti_unit


# ---------------------------------------------------------------------------
# Pillow reads: EXIF orientation, pixel counts, memory
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("orientation,upright", [
    (1, lambda a: a), (2, lambda a: a[:, ::-1]), (3, lambda a: a[::-1, ::-1]),
    (6, lambda a: np.rot90(a, -1)), (8, lambda a: np.rot90(a, 1))])
def test_exif_orientation_is_applied(tmp_path, orientation, upright):
    from PIL import Image

    array = random_array((6, 9, 3), np.uint8)
    exif = Image.Exif()
    exif[274] = orientation
    Image.fromarray(array).save(tmp_path / "o.png", exif=exif)
    np.testing.assert_array_equal(ic.read(tmp_path / "o.png"), upright(array))


def test_exif_rotated_jpeg_reads_upright_and_writes_no_tag(tmp_path):
    from PIL import Image

    array = np.zeros((40, 80), np.uint8)
    array[:, :40] = 255  # left half white
    exif = Image.Exif()
    exif[274] = 6  # shown turned 90 degrees clockwise: the white half on top
    Image.fromarray(array).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    upright = ic.read(tmp_path / "rot.jpg")
    assert upright.shape == (80, 40)
    assert upright[:40].mean() > 250 and upright[40:].mean() < 5
    ic.write(tmp_path / "out.jpg", upright)
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.size == (40, 80) and 274 not in out.getexif()


def test_no_pixel_count_limit_nor_warning(tmp_path, monkeypatch):
    """Pillow refuses 180-megapixel images and warns from 90: imgconv reads them."""
    from PIL import Image

    array = random_array((64, 64), np.uint8)
    ic.write(tmp_path / "a.png", array)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64 x 64 counts as a "bomb"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(ic.read(tmp_path / "a.png"), array)
    assert Image.MAX_IMAGE_PIXELS == 1000  # Pillow's setting restored


def _png_header_only(path, width, height):
    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                                                         8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))


def test_forged_size_is_refused_before_allocating(tmp_path, monkeypatch):
    _png_header_only(tmp_path / "forged.png", 100000, 100000)
    monkeypatch.setattr(_io._memory, "_available_memory", lambda: 16 << 30)
    with pytest.raises(ValueError, match=r"forged\.png: too large to read: its 100000 x 100000 "
                                         r"array needs 3 x 9\.3 GiB"):
        ic.read(tmp_path / "forged.png")


@pytest.mark.parametrize("name,array", [("a.png", random_array((64, 64), np.uint8)),
                                        ("a.tif", random_array((4, 64, 64), np.float32)),
                                        ("a.nii.gz", random_array((4, 64, 64), np.float32))])
def test_too_large_for_memory(tmp_path, monkeypatch, name, array):
    ic.write(tmp_path / name, array)
    monkeypatch.setattr(_io._memory, "_available_memory", lambda: 1000)
    with pytest.raises(ValueError, match=f"{name}: too large to read: .* 0.0 GiB is available"):
        ic.read(tmp_path / name)


# ---------------------------------------------------------------------------
# TIFF stacks compressed in ways tifffile decodes only with imagecodecs
# ---------------------------------------------------------------------------
def _lzw_pages(path, pages):
    from PIL import Image

    images = [Image.fromarray(page) for page in pages]
    images[0].save(path, save_all=True, append_images=images[1:], compression="tiff_lzw")


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_multi_page_lzw_tiff(tmp_path, dtype):
    """ImageJ and microscope stacks: tifffile needs imagecodecs, Pillow decodes them."""
    pages = random_array((4, 9, 11), dtype)
    _lzw_pages(tmp_path / "lzw.tif", pages)
    again, meta = ic.read(tmp_path / "lzw.tif", with_meta=True)
    assert again.dtype == pages.dtype
    np.testing.assert_array_equal(again, pages)
    assert meta.channel_axis is None and meta.axis_labels[1:] == ("y", "x")


def test_undecodable_tiff_names_imagecodecs(tmp_path, monkeypatch):
    if _io._common._optional("imagecodecs") is not None:
        pytest.skip("imagecodecs is installed: tifffile decodes LZW itself")
    from PIL import Image

    _lzw_pages(tmp_path / "lzw.tif", random_array((3, 9, 11), np.uint8))
    _lzw_pages(tmp_path / "one.tif", random_array((1, 9, 11), np.uint8))

    def no_decoder(*args, **kwargs):
        raise OSError("decoder tiff_lzw not available")
    monkeypatch.setattr(Image, "open", no_decoder)  # a Pillow built without libtiff
    for name in ("lzw.tif", "one.tif"):
        with pytest.raises(ImportError, match=f"{name}: .*pip install imagecodecs") as error:
            ic.read(tmp_path / name)
        assert "install tifffile" not in str(error.value)


# ---------------------------------------------------------------------------
# what the libraries print; special files
# ---------------------------------------------------------------------------
def _python(code, cwd):
    """Run ``code`` in a fresh interpreter: what reaches its stderr, uncaptured."""
    import subprocess
    import textwrap

    root = os.path.dirname(os.path.dirname(os.path.abspath(ic.__file__)))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, "PYTHONPATH": root}, timeout=60)


def test_library_logs_stay_off_stderr(tmp_path):
    # nibabel logs its fix of negative voxel sizes; tifffile a bad page offset
    img = nib.Nifti1Image(np.zeros((4, 5, 6), np.int16), np.eye(4))
    img.header["pixdim"][1:4] = [-1.0, 2.0, 3.0]
    nib.save(img, tmp_path / "neg.nii")
    tifffile.imwrite(tmp_path / "m.tif", random_array((3, 20, 30), np.uint8),
                     photometric="minisblack")
    data = bytearray((tmp_path / "m.tif").read_bytes())
    with tifffile.TiffFile(tmp_path / "m.tif") as tif:
        page = tif.pages[0]
        next_ifd = page.offset + 2 + 12 * len(page.tags)
    data[next_ifd:next_ifd + 4] = struct.pack("<I", 10**8)  # past the end
    (tmp_path / "bad.tif").write_bytes(data[:300])
    result = _python("""
        import imgconv as ic
        vol, meta = ic.read("neg.nii", with_meta=True)
        print(meta.spacing)
        ic.write("out.nii", vol, meta=meta)
        try:
            ic.read("bad.tif")
        except ValueError as exc:
            print("ERROR", exc)
    """, cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "(3.0, 2.0, 1.0)" and len(lines) == 2
    assert lines[1].startswith("ERROR bad.tif: cannot read TIFF")
    assert "invalid page offset" in lines[1]  # what tifffile logged, in the error


def test_special_files_are_refused(tmp_path):
    """A FIFO hung forever: opening it waits for a writer."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    os.mkfifo(tmp_path / "f.png")
    os.symlink(os.devnull, tmp_path / "null.npy")
    result = _python("""
        import imgconv as ic
        for name in ("f.png", "null.npy"):
            try:
                ic.read(name)
            except ValueError as exc:
                print(exc)
    """, cwd=tmp_path)  # in a subprocess with a timeout: a regression hangs
    assert result.stdout.splitlines() == ["f.png: is a named pipe (FIFO), not an image file",
                                          "null.npy: is a character device, not an image file"]

"""NIfTI-1 and NIfTI-2 volumes (``.nii``, ``.nii.gz``) through nibabel."""
import struct

import numpy as np

from ._common import _Unreadable, _decoding, _require
from ._memory import _check_fits
from ._meta import ImageMeta


#: spellings of a length unit (lower case) -> NIfTI's name for it (ImageJ writes
#: micro-metres as the escape \u00B5m in a TIFF's description)
_NIFTI_UNITS = {"mm": "mm", "millimeter": "mm", "millimetre": "mm",
                "um": "micron", "\u00b5m": "micron", "\u03bcm": "micron", "\\u00b5m": "micron",
                "micron": "micron", "microns": "micron", "micrometer": "micron",
                "micrometre": "micron", "m": "meter", "meter": "meter", "metre": "meter"}


def _read_nifti(path):
    nib = _require("nibabel", path, "reading NIfTI")
    with _decoding(path, "NIfTI"):  # nibabel raises many types on damaged files
        img = _load_nifti(nib, path)
        header = img.header
        if path.lower().endswith(".gz"):  # decompressed into memory, not memory-mapped
            _check_fits(path, header.get_data_shape(), header.get_data_dtype().itemsize,
                        copies=2)  # scaled integers come back as float32 besides
        # nibabel moves scl_slope/scl_inter from the header to the array proxy
        slope = getattr(img.dataobj, "slope", 1.0)
        inter = getattr(img.dataobj, "inter", 0.0)
        on_disk = header.get_data_dtype()
        scaled = slope != 1 or inter != 0
        if scaled and on_disk.kind in "iub" and on_disk.itemsize <= 2:
            data = img.get_fdata(dtype=np.float32)
        else:
            data = np.asanyarray(img.dataobj)
        if data.dtype.kind not in "biuf":
            raise _Unreadable(f"{path}: NIfTI data of type {data.dtype} (e.g. RGB) is not "
                              "supported")
        ndim = data.ndim
        zooms = header.get_zooms()[:ndim]
        space_unit, time_unit = (None if u == "unknown" else u for u in header.get_xyzt_units())
        codes = nib.aff2axcodes(img.affine)
    names = "ijktuvw"
    labels = tuple(f"{names[v]} ({codes[v]})" if v < 3 and codes[v] else names[v]
                   for v in reversed(range(ndim)))
    # zooms are float32: their shortest repr gives the value as written (0.8, not 0.800000011920929)
    spacing = tuple(float(str(np.float32(z))) for z in reversed(zooms))
    # xyzt_units: i, j, k in the space unit, t (the 4th voxel axis) in the time unit
    units = tuple((space_unit, space_unit, space_unit, time_unit)[v] if v < 4 else None
                  for v in reversed(range(ndim)))
    return data.T, ImageMeta(spacing=spacing, unit=space_unit, axis_labels=labels,
                             affine=np.array(img.affine), header=header,
                             axis_units=units if ndim > 3 else None)


def _load_nifti(nib, path):
    """``nib.load(path)``, for the file ``path`` names whatever the case of its
    extension: given 'a.Nii.gz', nib.load opens 'a.nii.gz'.  NIfTI-1 or -2
    by the header's first field, its own size (348 or 540 bytes)."""
    from nibabel.filebasedimages import ImageFileError

    with nib.openers.ImageOpener(path) as f:  # gunzips a .gz of any case
        head = f.read(540)
    sizes = {struct.pack(order + "i", size): size for order in "<>" for size in (348, 540)}
    size = sizes.get(head[:4])
    if size is None:
        raise ImageFileError("empty file" if not head else "not a NIfTI-1 or NIfTI-2 file")
    if len(head) < size:
        raise ImageFileError(f"truncated header: {len(head)} of {size} bytes")
    image_class = nib.Nifti2Image if size == 540 else nib.Nifti1Image
    return image_class.from_file_map(image_class.make_file_map({"image": path}))


def _nifti_encoder(path, array, meta):
    nib = _require("nibabel", path, "writing NIfTI")
    if meta is not None and meta.channel_axis is not None:
        raise ValueError(f"{path}: NIfTI holds volumes, not colour images (channel_axis="
                         f"{meta.channel_axis}); write .png, .tif or .npy instead")
    if not 1 <= array.ndim <= 7:
        raise ValueError(f"{path}: NIfTI holds 1 to 7 dimensions, got shape {array.shape}")
    data = array.astype(np.uint8) if array.dtype == np.bool_ else array
    if data.dtype == np.float16:
        data = data.astype(np.float32)
    data = np.asarray(data).T  # back to NIfTI's (i, j, k) voxel order
    header = None if meta is None or meta.header is None else meta.header.copy()
    affine = None if meta is None or meta.affine is None else np.asarray(meta.affine, float)
    if affine is None:
        affine = np.eye(4)
        spacing = () if meta is None or meta.spacing is None else tuple(reversed(meta.spacing))
        for v, size in enumerate(spacing[:3]):
            affine[v, v] = size
    if header is not None:
        if header.get_data_shape() != data.shape:  # the affine of a header without forms
            header.set_data_shape(data.shape)      # depends on it
        if _move_grid(header, affine):
            # the header's own affine: nibabel then leaves its qform and sform alone,
            # where a different one would overwrite both (qform code 0, sform code 2)
            affine = header.get_best_affine()
    image_class = nib.Nifti1Image
    if header is not None and isinstance(header, nib.Nifti2Header):
        image_class = nib.Nifti2Image
    img = image_class(data, affine, header=header)
    img.set_data_dtype(data.dtype)
    if header is None and meta is not None and meta.unit is not None:
        unit = _NIFTI_UNITS.get(str(meta.unit).strip().lower())
        if unit is not None:
            img.header.set_xyzt_units(unit)

    def encode(target):
        nib.save(img, target)
    return encode


def _move_grid(header, affine):
    """Make ``affine`` the NIfTI ``header``'s affine by moving its voxel grid:
    the qform and the sform (each with its own code, the qform its voxel sizes
    too) both take the change ``V`` with ``affine = best @ V`` (``best`` the
    header's affine, sform before qform), so a stride or a pooling moves and
    scales both alike, and an unchanged grid leaves both as they were.

    Returns False, changing nothing, when the header's affine is singular
    (then nibabel puts ``affine`` in the sform and the qform)."""
    best = header.get_best_affine()
    try:
        change = np.linalg.solve(best, affine)
    except np.linalg.LinAlgError:
        return False
    if np.allclose(change, np.eye(4)):
        return True
    qform, qform_code = header.get_qform(coded=True)
    sform, sform_code = header.get_sform(coded=True)
    if qform_code:
        header.set_qform(qform @ change, code=int(qform_code))  # sets the voxel sizes too
    if sform_code:
        header.set_sform(sform @ change, code=int(sform_code))
    if not qform_code:  # voxel sizes follow the qform where there is one; here, the new grid
        zooms = list(header.get_zooms())
        sizes = np.linalg.norm(affine[:3, :3], axis=0)
        zooms[:3] = sizes[:len(zooms[:3])]
        header.set_zooms(zooms)
    return True

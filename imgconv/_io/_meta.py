"""What a file says about its array beyond the values."""
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True, eq=False)
class ImageMeta:
    """What a file says about its array beyond the values: returned by
    ``read(path, with_meta=True)`` and taken by ``write(path, array, meta=...)``.

    Parameters
    ----------
    format : str, optional
        'png', 'jpeg', 'bmp', 'tiff', 'npy' or 'nifti' (the file read).
    channel_axis : int or None
        Axis holding colour channels (-1 for RGB, RGBA and grey+alpha
        images), None when every axis is spatial (greyscale images, stacks,
        volumes, ``.npy`` arrays).
    spacing : tuple of float, optional
        Voxel size per spatial axis, in array-axis order (the order of
        ``shape``, channel axis left out), e.g. ``(slice, row, column)``
        for a volume; None when the file does not say.
    unit : str, optional
        Unit of ``spacing`` ('mm', 'um', ...); of its spatial entries where
        ``axis_units`` gives another for a time axis.
    axis_labels : tuple of str, optional
        What each array axis is, e.g. ``('k (S)', 'j (A)', 'i (R)')`` for a
        NIfTI volume: array axis 0 is NIfTI's third voxel index ``k``,
        running towards superior.
    affine : ndarray, optional
        NIfTI's 4x4 voxel-to-world matrix, for voxel indices ``(i, j, k)``:
        ``i`` is the *last* array axis (see :func:`read`).
    header : nibabel header, optional
        The NIfTI header, written back with the array.
    axis_units : tuple of str, optional
        The unit of each ``spacing`` entry, where they are not all ``unit``:
        a NIfTI series' time axis (array axis 0 of a 4D array) is in the
        header's time unit ('sec', 'msec', 'usec', or 'hz', 'ppm', 'rads'),
        its other axes in ``unit``, and axes beyond time in none (None).

    Examples
    --------
    >>> import numpy as np, imgconv as ic
    >>> meta = ic.ImageMeta(spacing=(2.5, 0.8, 0.8), unit="mm")
    >>> meta.resampled((2, 2, 2)).spacing
    (5.0, 1.6, 1.6)
    >>> series = ic.ImageMeta(spacing=(2.0, 3.0, 1.5, 1.5), unit="mm",
    ...                       axis_units=("sec", "mm", "mm", "mm"))
    >>> series.units()
    ('sec', 'mm', 'mm', 'mm')
    """

    format: str = None
    channel_axis: int = None
    spacing: tuple = None
    unit: str = None
    axis_labels: tuple = None
    affine: np.ndarray = None
    header: object = None
    axis_units: tuple = None

    def units(self):
        """The unit of each ``spacing`` entry: ``axis_units``, else ``unit``
        for every one (() when there is no spacing).

        Examples
        --------
        >>> import imgconv as ic
        >>> ic.ImageMeta(spacing=(2.0, 1.0), unit="um").units()
        ('um', 'um')
        """
        if self.spacing is None:
            return ()
        return tuple(self.axis_units or (self.unit,) * len(self.spacing))

    def spatial_axes(self, ndim):
        """The array axes of an ``ndim``-dimensional array that are not channels.

        Examples
        --------
        >>> import imgconv as ic
        >>> ic.ImageMeta(channel_axis=-1).spatial_axes(3)
        (0, 1)
        """
        channel = None if self.channel_axis is None else self.channel_axis % ndim
        return tuple(a for a in range(ndim) if a != channel)

    def resampled(self, step, offset=0.0):
        """Metadata of an array resampled from this one: along array axis
        ``a``, output index ``i`` sits at input index ``step[a] * i + offset[a]``
        (a stride ``s`` is ``step=s, offset=0``; a ``k``-wide pooling window
        with stride ``s`` and low padding ``p`` is ``step=s, offset=(k-1)/2-p``).

        ``step`` has one entry per array axis (1 for the channel axis),
        ``offset`` one per array axis or a single number; the spacing
        of every spatial axis is multiplied by its step and a NIfTI affine
        moves its origin to the new first voxel.

        Examples
        --------
        >>> import numpy as np, imgconv as ic
        >>> meta = ic.ImageMeta(spacing=(1.0, 1.0), affine=np.eye(4))
        >>> m = meta.resampled((2, 3), offset=(0.5, 1))
        >>> m.spacing, m.affine[:2, 3].tolist()
        ((2.0, 3.0), [1.0, 0.5])
        """
        steps = np.asarray(step, float)
        ndim = steps.size
        offsets = np.broadcast_to(np.asarray(offset, float), (ndim,))
        changes = {}
        if self.spacing is not None:
            axes = self.spatial_axes(ndim)
            changes["spacing"] = tuple(float(s * steps[a]) for s, a in zip(self.spacing, axes))
        if self.affine is not None:
            voxel = np.eye(4)
            for a in range(ndim):
                v = ndim - 1 - a  # array axis a is NIfTI voxel axis ndim-1-a
                if v < 3:
                    voxel[v, v], voxel[v, 3] = steps[a], offsets[a]
            changes["affine"] = np.asarray(self.affine, float) @ voxel
        return replace(self, **changes)


def _plane_labels(ndim, channel_axis):
    labels = ["z", "y", "x"][-ndim:] if channel_axis is None else ["y", "x", "channel"]
    return tuple(["axis %d" % a for a in range(ndim - len(labels))] + labels)

"""Flat footprints (structuring elements) for morphology: boolean arrays.

Examples
--------
>>> from imgconv import footprints
>>> footprints.disk(1).astype(int)
array([[0, 1, 0],
       [1, 1, 1],
       [0, 1, 0]])
"""
import numpy as np

from . import _validate as v

__all__ = ["box", "disk", "ball", "cross"]


def box(size, ndim=2):
    """An all-True box: ``size`` per axis (an int for a cube), ``ndim`` axes
    (as ``skimage.morphology.footprint_rectangle(size)``).

    Examples
    --------
    >>> from imgconv import footprints
    >>> footprints.box(3).shape, footprints.box((1, 5, 3), 3).shape
    ((3, 3), (1, 5, 3))
    """
    ndim = v.as_int(ndim, "ndim")
    if not 1 <= ndim <= 3:
        raise ValueError(f"ndim must be 1, 2 or 3, got {ndim}")
    return np.ones(v.per_axis(size, ndim, "size", minimum=1), bool)


def _radius(radius):
    radius = v.as_int(radius, "radius")
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    v.check_kernel_length(2 * radius + 1, f"radius={radius}")
    return radius


def _euclidean(radius, ndim, strict_radius):
    radius = _radius(radius)
    if not isinstance(strict_radius, (bool, np.bool_)):
        raise TypeError(f"strict_radius must be True or False, got {strict_radius!r}")
    grid = np.ogrid[(slice(-radius, radius + 1),) * ndim]
    # twice the distances, so that the half-cell limit stays an exact integer test
    limit = 2 * radius if strict_radius else 2 * radius + 1
    return 4 * sum(g * g for g in grid) <= limit * limit


def disk(radius, *, strict_radius=True):
    """The cells within Euclidean distance ``radius`` of the centre, in 2D.

    Parameters
    ----------
    radius : int
        The disk's radius (>= 0); the footprint is ``2*radius + 1`` square.
    strict_radius : bool
        With False, cells within ``radius + 0.5`` count: a rounder disk in
        the same square.

    Returns
    -------
    ndarray of bool
        As ``skimage.morphology.disk(radius, strict_radius=strict_radius)``.

    Examples
    --------
    >>> from imgconv import footprints
    >>> int(footprints.disk(2).sum()), int(footprints.disk(2, strict_radius=False).sum())
    (13, 21)
    """
    return _euclidean(radius, 2, strict_radius)


def ball(radius, *, strict_radius=True):
    """The cells within Euclidean distance ``radius`` of the centre, in 3D.

    Parameters
    ----------
    radius : int
        The ball's radius (>= 0); the footprint is ``2*radius + 1`` cubed.
    strict_radius : bool
        With False, cells within ``radius + 0.5`` count.

    Returns
    -------
    ndarray of bool
        As ``skimage.morphology.ball(radius, strict_radius=strict_radius)``.

    Examples
    --------
    >>> from imgconv import footprints
    >>> int(footprints.ball(1).sum()), int(footprints.ball(1, strict_radius=False).sum())
    (7, 19)
    """
    return _euclidean(radius, 3, strict_radius)


def cross(ndim=2, radius=1):
    """The centre and its neighbours along each axis up to ``radius``: the
    cross of ``scipy.ndimage.generate_binary_structure(ndim, 1)`` for radius 1.

    Examples
    --------
    >>> from imgconv import footprints
    >>> footprints.cross(2).astype(int)
    array([[0, 1, 0],
           [1, 1, 1],
           [0, 1, 0]])
    """
    ndim = v.as_int(ndim, "ndim")
    if not 1 <= ndim <= 3:
        raise ValueError(f"ndim must be 1, 2 or 3, got {ndim}")
    radius = _radius(radius)
    grid = np.ogrid[(slice(-radius, radius + 1),) * ndim]
    return sum((g != 0).astype(int) for g in grid) <= 1 if ndim > 1 else np.ones(2 * radius + 1, bool)

"""Regenerate the bundled samples (deterministic; everything here is synthetic,
made by this script, and free to redistribute).

    python samples/make_samples.py [--outdir DIR]

- ``shapes.png``: 256x256 greyscale, bright shapes on a gradient with noise.
- ``color.png``: 256x256 RGB, coloured discs and stripes.
- ``photo.png`` / ``photo_grey.png``: 320x240 photograph-like scene (sky and
  clouds, mountains, hills, a lake with reflections, a house, a tree; 1/f
  textures, slight blur and sensor noise), RGB and its luminance.
- ``phantom.nii.gz`` / ``phantom.npy``: 64^3 int16 CT-like head phantom in
  Hounsfield units (air -1000, skull 900, brain 35, ventricles 5, three small
  lesions 60-75, CT-like noise), stored (z, y, x) slowest first; voxels
  2.5 x 2 x 2 mm (array-axis order), RAS orientation, centred on the origin.
  The .npy holds the same array without the spacing.
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def shapes(rng, n=256):
    y, x = np.mgrid[0:n, 0:n] / n
    img = 40 + 60 * x
    img[(x - 0.3) ** 2 + (y - 0.35) ** 2 < 0.02] = 200
    img[(abs(x - 0.7) < 0.12) & (abs(y - 0.3) < 0.08)] = 160
    img[(y > 0.6) & (y < 0.9) & (abs(x - 0.5) < (y - 0.6))] = 230
    img += rng.normal(0, 8, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def color(rng, n=256):
    y, x = np.mgrid[0:n, 0:n] / n
    img = np.zeros((n, n, 3))
    img[..., 2] = 80 + 80 * y
    for (cx, cy, r), rgb in zip([(0.3, 0.3, 0.15), (0.65, 0.4, 0.2), (0.45, 0.72, 0.17)],
                                [(230, 40, 40), (40, 200, 60), (240, 220, 30)]):
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rgb
    img[((x * 16).astype(int) % 2 == 0) & (y > 0.9)] = 255
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _fractal(rng, shape, beta):
    """Noise with a 1/f**beta spectrum, scaled to [-1, 1]."""
    freqs = np.meshgrid(*[np.fft.fftfreq(n) for n in shape[:-1]], np.fft.rfftfreq(shape[-1]),
                        indexing="ij")
    radius = np.sqrt(sum(f * f for f in freqs))
    radius.flat[0] = 1.0
    spectrum = radius ** -beta * np.exp(2j * np.pi * rng.random(radius.shape))
    spectrum.flat[0] = 0
    noise = np.fft.irfftn(spectrum, s=shape, axes=range(len(shape)))
    return noise / np.abs(noise).max()


def _smooth(img, passes=1):
    """[1, 2, 1] / 4 along both image axes, ``passes`` times (edge-replicated)."""
    for _ in range(passes):
        for axis in (0, 1):
            pad = [(1, 1) if a == axis else (0, 0) for a in range(img.ndim)]
            p = np.pad(img, pad, mode="edge")
            lo, mid, hi = (np.take(p, np.arange(i, i + img.shape[axis]), axis=axis)
                           for i in range(3))
            img = (lo + 2 * mid + hi) / 4
    return img


def photo(rng, height=240, width=320):
    """An RGB landscape with photographic textures and sharp man-made edges."""
    y, x = np.mgrid[0:height, 0:width].astype(float)
    img = np.zeros((height, width, 3))
    horizon = 0.55 * height
    # sky: darker blue at the top, hazy near the horizon, soft fractal clouds
    t = (y / horizon)[..., None]
    img[:] = (1 - t) * np.array([70, 120, 200]) + t * np.array([190, 210, 230])
    clouds = np.clip(_fractal(rng, (height, width), 1.6) * 1.8 - 0.2, 0, 1)[..., None]
    img = img * (1 - 0.8 * clouds) + 245 * 0.8 * clouds
    # mountains: a fractal ridge, blue-grey, lighter with distance (haze)
    ridge = horizon - 25 - 45 * (_fractal(rng, (1, width), 1.8)[0] * 0.5 + 0.5)
    rock = _fractal(rng, (height, width), 1.2)[..., None]
    mountains = (y >= ridge[None, :]) & (y < horizon)
    img[mountains] = (np.array([105, 115, 135]) + 25 * rock)[mountains]
    # hills: green, grassy texture
    hill_line = horizon - 8 - 14 * (_fractal(rng, (1, width), 2.0)[0] * 0.5 + 0.5)
    grass = _fractal(rng, (height, width), 0.9)[..., None]
    hills = (y >= hill_line[None, :]) & (y < horizon + 8)
    img[hills] = (np.array([70, 125, 55]) + 35 * grass)[hills]
    # lake: the scene above mirrored in the horizon, darkened, with ripples
    lake = y >= horizon + 8
    rows = np.clip((2 * (horizon + 8) - y).astype(int), 0, height - 1)
    ripple = np.sin(y * 0.9 + 3 * _fractal(rng, (height, width), 1.0)) * 6
    cols = np.clip((x + ripple).astype(int), 0, width - 1)
    reflected = img[rows, cols] * 0.6 + np.array([10, 30, 50])
    img[lake] = reflected[lake]
    # a house on the hill: sharp edges for edge detectors
    base = int(horizon + 4)
    wall = (x >= 200) & (x < 250) & (y >= base - 35) & (y < base)
    roof = (y < base - 35) & (y >= base - 60) & (np.abs(x - 225) < (y - (base - 60)) * 1.1)
    window = (x >= 212) & (x < 224) & (y >= base - 28) & (y < base - 16)
    door = (x >= 232) & (x < 242) & (y >= base - 22) & (y < base)
    img[wall], img[roof] = (185, 160, 120), (140, 45, 35)
    img[window], img[door] = (60, 75, 95), (80, 50, 30)
    # a tree: trunk and a textured crown
    trunk = (np.abs(x - 90) < 4) & (y >= horizon - 30) & (y < horizon + 6)
    img[trunk] = (85, 60, 40)
    crown = (x - 90) ** 2 + ((y - (horizon - 45)) * 1.2) ** 2 < (26 + 6 * grass[..., 0]) ** 2
    img[crown] = (np.array([40, 95, 40]) + 30 * grass)[crown]
    img = _smooth(img, 1) + rng.normal(0, 2.5, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def luminance(rgb):
    """ITU-R BT.601 luma, as Pillow's convert('L')."""
    grey = rgb.astype(float) @ np.array([0.299, 0.587, 0.114])
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)


PHANTOM_SPACING = (2.5, 2.0, 2.0)   # mm, array-axis order (z, y, x)


def phantom(rng, n=64, spacing=PHANTOM_SPACING):
    """CT-like head phantom in Hounsfield units: (HU, centre z,y,x mm, semi-axes z,y,x mm),
    each ellipsoid painted over the ones before."""
    ellipsoids = [
        (900, (0, 0, 0), (72, 60, 47)),          # skull
        (35, (0, -1, 0), (68, 56, 43)),          # brain
        (5, (10, 2, 11), (20, 16, 5)),           # ventricles
        (5, (10, 2, -11), (22, 18, 7)),
        (75, (-20, 20, 0), (6, 6, 6)),           # lesions
        (70, (30, -30, -10), (4, 4, 4)),
        (60, (0, -45, 5), (3, 3, 6)),
    ]
    index = np.arange(n) - (n - 1) / 2
    z = index[:, None, None] * spacing[0]
    y = index[None, :, None] * spacing[1]
    x = index[None, None, :] * spacing[2]
    vol = np.full((n, n, n), -1000.0)
    for value, (cz, cy, cx), (az, ay, ax) in ellipsoids:
        vol[((z - cz) / az) ** 2 + ((y - cy) / ay) ** 2 + ((x - cx) / ax) ** 2 <= 1] = value
    vol = (vol + np.roll(vol, 1, 0) + np.roll(vol, -1, 0)) / 3  # partial volume along z
    vol += rng.normal(0, 12, vol.shape)
    return np.rint(vol).astype(np.int16)


def phantom_affine(n=64, spacing=PHANTOM_SPACING):
    """NIfTI voxel (i, j, k) = array axes (2, 1, 0) -> RAS mm, centred on the origin."""
    affine = np.diag([spacing[2], spacing[1], spacing[0], 1.0])
    affine[:3, 3] = [-(n - 1) / 2 * s for s in (spacing[2], spacing[1], spacing[0])]
    return affine


def main(argv=None):
    import argparse

    from PIL import Image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", default=HERE, help="where to write (default: samples/)")
    outdir = parser.parse_args(argv).outdir
    os.makedirs(outdir, exist_ok=True)

    rng = np.random.default_rng(20261123)
    Image.fromarray(shapes(rng)).save(os.path.join(outdir, "shapes.png"), optimize=True)
    Image.fromarray(color(rng)).save(os.path.join(outdir, "color.png"), optimize=True)
    scene = photo(np.random.default_rng(7))
    Image.fromarray(scene).save(os.path.join(outdir, "photo.png"), optimize=True)
    Image.fromarray(luminance(scene)).save(os.path.join(outdir, "photo_grey.png"), optimize=True)
    volume = phantom(np.random.default_rng(1895))
    np.save(os.path.join(outdir, "phantom.npy"), volume)
    import imgconv as ic  # NIfTI through imgconv's writer (needs nibabel)

    meta = ic.ImageMeta(affine=phantom_affine(), unit="mm")
    ic.write(os.path.join(outdir, "phantom.nii.gz"), volume, meta=meta)


if __name__ == "__main__":
    main()

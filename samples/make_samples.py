"""Regenerate the bundled samples (deterministic; everything here is synthetic
and free to redistribute).

    python samples/make_samples.py

- ``shapes.png``: 256x256 greyscale, bright shapes on a gradient with noise.
- ``color.png``: 256x256 RGB, coloured discs and stripes.
- ``phantom.npy``: 64^3 float32 CT-like volume (nested ellipsoids, Shepp-Logan
  style intensities) with noise, stored (D, H, W).
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


def phantom(rng, n=64):
    """3D Shepp-Logan-like phantom: (intensity, centre z,y,x, semi-axes z,y,x)."""
    ellipsoids = [
        (1.0, (0, 0, 0), (0.9, 0.92, 0.69)),
        (-0.8, (0, -0.0184, 0), (0.88, 0.874, 0.6624)),
        (-0.2, (-0.25, 0, 0.22), (0.41, 0.31, 0.11)),
        (-0.2, (-0.25, 0, -0.22), (0.32, 0.41, 0.16)),
        (0.1, (-0.25, 0.35, 0), (0.5, 0.25, 0.21)),
        (0.1, (0, 0.1, 0), (0.046, 0.046, 0.046)),
        (0.1, (0.1, -0.605, -0.08), (0.05, 0.023, 0.046)),
    ]
    z, y, x = np.mgrid[-1:1:n * 1j, -1:1:n * 1j, -1:1:n * 1j]
    vol = np.zeros((n, n, n))
    for value, (cz, cy, cx), (az, ay, ax) in ellipsoids:
        vol[((z - cz) / az) ** 2 + ((y - cy) / ay) ** 2 + ((x - cx) / ax) ** 2 <= 1] += value
    vol += rng.normal(0, 0.02, vol.shape)
    return vol.astype(np.float32)


def main():
    from PIL import Image

    rng = np.random.default_rng(20261123)
    Image.fromarray(shapes(rng)).save(os.path.join(HERE, "shapes.png"), optimize=True)
    Image.fromarray(color(rng)).save(os.path.join(HERE, "color.png"), optimize=True)
    np.save(os.path.join(HERE, "phantom.npy"), phantom(rng))


if __name__ == "__main__":
    main()

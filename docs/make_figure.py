"""Make docs/images/filters.png, the before/after strip shown in the README.

    python docs/make_figure.py [--out docs/images/filters.png]

Two rows of panels: the bundled photograph (samples/photo_grey.png) and the
shapes image (samples/shapes.png), each as read and after four of imgconv's
filters: a Gaussian blur, the Sobel gradient magnitude, a grey opening with
a disk, and 4x4 max pooling.  Every pixel comes from imgconv; Pillow only
lays out the panels and writes their labels, so the script needs no
matplotlib.  Run it from anywhere; it writes a grey PNG of about 150 KB.
"""
import argparse
import os

import numpy as np
from PIL import Image, ImageDraw

import imgconv as ic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "samples")
PANEL = 200          # panel height in pixels; widths keep each image's aspect
GAP = 6              # white space between panels
LABEL = 22           # height of the caption band under each row


def to_uint8(values):
    """A float result spread over 0-255 (its own min and max)."""
    values = np.asarray(values, np.float64)
    lo, hi = float(values.min()), float(values.max())
    scaled = (values - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(values)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def panels(image):
    """(caption, uint8 picture) for the input and each filter."""
    return [
        ("input", image),
        ("gaussian(sigma=2)", ic.gaussian(image, 2.0, dtype=np.uint8)),
        ("sobel (magnitude)", to_uint8(ic.sobel(image))),
        ("opening(disk(3))", ic.opening(image, ic.footprints.disk(3))),
        ("max_pool(4)", ic.max_pool(image, 4)),
    ]


def row(image):
    """One row of panels, scaled to PANEL pixels high (pooled results are
    enlarged with nearest neighbours, so their blocks stay visible)."""
    h, w = image.shape
    width = round(w * PANEL / h)
    cells = []
    for caption, picture in panels(image):
        cell = Image.fromarray(picture).resize((width, PANEL), Image.NEAREST)
        cells.append((caption, cell))
    strip = Image.new("L", (len(cells) * width + (len(cells) - 1) * GAP, PANEL + LABEL), 255)
    draw = ImageDraw.Draw(strip)
    for i, (caption, cell) in enumerate(cells):
        x = i * (width + GAP)
        strip.paste(cell, (x, 0))
        draw.text((x + 4, PANEL + 5), caption, fill=0)
    return strip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "images", "filters.png"))
    args = parser.parse_args(argv)
    rows = [row(ic.read(os.path.join(SAMPLES, name))) for name in ("photo_grey.png", "shapes.png")]
    width = max(r.width for r in rows)
    figure = Image.new("L", (width, sum(r.height for r in rows) + GAP), 255)
    y = 0
    for r in rows:
        figure.paste(r, ((width - r.width) // 2, y))
        y += r.height + GAP
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    figure.save(args.out, optimize=True)
    print(f"wrote {args.out} ({figure.width}x{figure.height}, "
          f"{os.path.getsize(args.out) // 1024} KiB)")


if __name__ == "__main__":
    main()

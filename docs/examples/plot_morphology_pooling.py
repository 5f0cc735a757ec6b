"""
Morphology and pooling
======================

Grey opening and closing with a disk, the morphological gradient, and max
and average pooling, on the bundled shapes image.  Morphology keeps the
input's dtype (uint8 here); pooling shrinks the image by its stride.
"""
import os

import matplotlib.pyplot as plt

import imgconv as ic
from _samples import SAMPLES  # the repository's samples/ (docs/examples/_samples.py)

shapes = ic.read(os.path.join(SAMPLES, "shapes.png"))   # (256, 256) uint8
disk = ic.footprints.disk(3)
results = {
    "input": shapes,
    "opening(disk(3))": ic.opening(shapes, disk),
    "closing(disk(3))": ic.closing(shapes, disk),
    "morph_gradient(disk(3))": ic.morph_gradient(shapes, disk),
    "max_pool(8)": ic.max_pool(shapes, 8),
    "avg_pool(8)": ic.avg_pool(shapes, 8),
}
for name, image in results.items():
    print(f"{name:>24}: {image.shape} {image.dtype}")

# %%
fig, axes = plt.subplots(2, 3, figsize=(8, 5.6))
for ax, (name, image) in zip(axes.flat, results.items()):
    ax.imshow(image, cmap="gray", interpolation="nearest")
    ax.set_title(name, fontsize=9)
    ax.set_axis_off()
fig.tight_layout()
plt.show()

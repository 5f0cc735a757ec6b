"""
Edge detection
==============

Gaussian smoothing, Sobel gradients, non-maximum suppression and a
threshold, on the bundled photograph.  The steps are those of
``samples/edge_detection.py`` (``detect_edges``), which also runs as a
command: ``python samples/edge_detection.py --outdir out``.
"""
import os
import sys

import matplotlib.pyplot as plt

import imgconv as ic
from _samples import SAMPLES  # the repository's samples/ (docs/examples/_samples.py)
sys.path.insert(0, SAMPLES)   # the samples' scripts, as modules
from edge_detection import detect_edges  # noqa: E402

photo = ic.read(os.path.join(SAMPLES, "photo.png"))      # (240, 320, 3) uint8
magnitude, edges = detect_edges(photo, sigma=1.5)
print(f"{photo.shape} {photo.dtype} -> {int(edges.sum())} edge pixels")

# %%
fig, axes = plt.subplots(1, 3, figsize=(9, 2.6))
for ax, (title, image, cmap) in zip(axes, [("input", photo, None),
                                           ("gradient magnitude", magnitude, "magma"),
                                           ("thin edges", edges, "gray")]):
    ax.imshow(image, cmap=cmap)
    ax.set_title(title)
    ax.set_axis_off()
fig.tight_layout()
plt.show()

"""
A CT volume pipeline
====================

The bundled head phantom (64³ voxels of 2.5 × 2 × 2 mm, in Hounsfield
units): Gaussian denoising with sigma in millimetres, the gradient in HU/mm,
a threshold that keeps smooth soft tissue, then an opening and a closing
with ball footprints.  The steps are those of ``samples/volume_pipeline.py``
(``segment``), which also writes the results as NIfTI files.
"""
import os
import sys

import matplotlib.pyplot as plt
import numpy as np

import imgconv as ic
from _samples import SAMPLES  # the repository's samples/ (docs/examples/_samples.py)
sys.path.insert(0, SAMPLES)   # the samples' scripts, as modules
from volume_pipeline import segment  # noqa: E402

ct, meta = ic.read(os.path.join(SAMPLES, "phantom.nii.gz"), with_meta=True)
print(ct.shape, ct.dtype, "spacing", meta.spacing, meta.unit)
smooth, gradient, mask = segment(ct.astype(np.float32), meta.spacing)
voxel_ml = float(np.prod(meta.spacing)) / 1000.0
print(f"tissue: {int(mask.sum())} voxels, {mask.sum() * voxel_ml:.1f} ml")

# %%
# The middle slice of each step (array axis 0 runs head to foot).
z = ct.shape[0] // 2
fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
window = {"vmin": -50, "vmax": 150}   # a brain window, in HU
panels = [("CT (HU)", ct[z], "gray", window), ("smoothed, σ = 2 mm", smooth[z], "gray", window),
          ("gradient (HU/mm)", gradient[z], "magma", {}), ("tissue mask", mask[z], "gray", {})]
for ax, (title, image, cmap, limits) in zip(axes, panels):
    ax.imshow(image, cmap=cmap, **limits)
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
fig.tight_layout()
plt.show()

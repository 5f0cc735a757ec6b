"""
Boundary modes
==============

What each ``mode`` puts beyond the edge of the data.  A ``[1]`` kernel with
``padding=3`` returns the padded row itself, so the five modes can be read
off directly.  Note that imgconv's ``reflect`` is numpy's and PyTorch's
(scipy's ``mirror``), and ``symmetric`` is scipy's ``reflect``.
"""
import matplotlib.pyplot as plt
import numpy as np

import imgconv as ic

row = np.array([1.0, 2.0, 3.0, 4.0])
modes = ["zero", "replicate", "reflect", "symmetric", "wrap"]
padded = {m: ic.correlate(row, [1.0], padding=3, mode=m) for m in modes}
for m in modes:
    print(f"{m:>9}: {padded[m]}")

# %%
# The same rows as a picture: the original samples sit between the dashed lines.
fig, ax = plt.subplots(figsize=(6, 2.6))
ax.imshow(np.array([padded[m] for m in modes]), cmap="viridis", aspect="auto")
ax.set_yticks(range(len(modes)), modes)
ax.set_xticks(range(10), [str(i) for i in range(-3, 7)])
ax.axvline(2.5, color="w", ls="--")
ax.axvline(6.5, color="w", ls="--")
for y, m in enumerate(modes):
    for x, value in enumerate(padded[m]):
        ax.text(x, y, f"{value:g}", ha="center", va="center", color="k" if value > 2 else "w")
ax.set_xlabel("index along the row")
fig.tight_layout()
plt.show()

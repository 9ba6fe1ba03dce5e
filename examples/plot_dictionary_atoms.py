"""
=========================================
Learned dictionary atoms shown as images
=========================================

Without a given dictionary, :class:`~sklearn_lsc.LearnedLassoEncoder` learns
one together with its network: after each network step, an online dictionary
step on the network's codes (no exact sparse coding anywhere). Here 64 atoms
are learned from 8x8 patches of one of scikit-learn's sample images; the
atoms start as randomly drawn patches and become oriented edges and
gratings.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_sample_image
from sklearn.feature_extraction.image import extract_patches_2d

from sklearn_lsc import LearnedLassoEncoder

image = load_sample_image("china.jpg").mean(axis=2) / 255.0
patches = extract_patches_2d(image, (8, 8), max_patches=6000, random_state=0).reshape(-1, 64)
patches -= patches.mean(axis=1, keepdims=True)
patches = patches[np.linalg.norm(patches, axis=1) > 0.05]  # skip flat sky
patches = (patches / patches.std()).astype(np.float32)

encoder = LearnedLassoEncoder(
    n_components=64, alpha=1.0, architecture="lista", n_layers=3, max_iter=40, random_state=0
).fit(patches)
print(f"{encoder.n_iter_} epochs; mean objective {-encoder.score(patches):.3f}")

figure, axes = plt.subplots(8, 8, figsize=(6, 6))
for atom, axis in zip(encoder.components_, axes.ravel(), strict=True):
    axis.imshow(atom.reshape(8, 8), cmap="gray")
    axis.set_axis_off()
figure.suptitle("64 atoms learned with the network")
figure.tight_layout()
plt.show()

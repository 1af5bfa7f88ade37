"""The chapter's data: two 2-D Gaussian point clouds (listings 3.13 to 3.15) and the 30% validation
split of listing 3.24. Seeded, made in memory, nothing downloaded."""

from __future__ import annotations

import numpy as np

MEANS = ([0.0, 3.0], [3.0, 0.0])
COVARIANCE = [[1.0, 0.5], [0.5, 1.0]]


def two_clouds(samples_per_class: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """inputs (2n, 2) float32 and targets (2n, 1) float32: class 0 around [0, 3], class 1 around [3, 0]."""
    rng = np.random.default_rng(seed)
    negative = rng.multivariate_normal(MEANS[0], COVARIANCE, size=samples_per_class)
    positive = rng.multivariate_normal(MEANS[1], COVARIANCE, size=samples_per_class)
    inputs = np.vstack((negative, positive)).astype(np.float32)
    targets = np.vstack((np.zeros((samples_per_class, 1), dtype="float32"),
                         np.ones((samples_per_class, 1), dtype="float32")))
    return inputs, targets


def validation_split(inputs: np.ndarray, targets: np.ndarray, fraction: float = 0.3, seed: int = 0):
    """Shuffle, then hold out `fraction` for validation (listing 3.24): (train_x, train_y, val_x, val_y)."""
    order = np.random.default_rng(seed).permutation(len(inputs))
    inputs, targets = inputs[order], targets[order]
    held = int(fraction * len(inputs))
    return inputs[held:], targets[held:], inputs[:held], targets[:held]

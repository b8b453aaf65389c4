"""From uint8 images to the float32 matrices an MLP eats.

Three steps, in this order: flatten (RGB or grayscale, scaled to [0, 1]); a seeded,
stratified train/validation split; standardization whose mean and standard
deviation come from the training split alone, so that nothing about the validation
or test images leaks into the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from .data import CIFAR10

# ITU-R BT.601 luma weights: how bright each channel looks to the eye.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
MODES = ("rgb", "gray")


def to_features(images: np.ndarray, mode: str = "rgb") -> np.ndarray:
    """Images (N, 32, 32, 3) uint8 -> rows (N, 3072) for RGB or (N, 1024) for gray, float32 in [0, 1]."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (32, 32, 3) or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images of shape (N, 32, 32, 3), "
                         f"got {images.dtype} {images.shape}")
    scaled = images.astype(np.float32) / np.float32(255)
    if mode == "gray":
        scaled = scaled @ LUMA_WEIGHTS
    return scaled.reshape(len(images), -1)


@dataclass
class Prepared:
    """Model-ready float32 features and integer labels for the three splits."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    mode: str
    class_names: tuple
    source: str  # "full" or "sample"
    scaler: StandardScaler | None

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]


def split_train_val(x: np.ndarray, y: np.ndarray, n_val: int = 5000, seed: int = 0):
    """A stratified split: every class keeps its share in both parts. Returns x_tr, x_val, y_tr, y_val."""
    return train_test_split(x, y, test_size=n_val, stratify=y, random_state=seed)


def prepare(data: CIFAR10, mode: str = "rgb", n_val: int = 5000, seed: int = 0,
            standardize: bool = True) -> Prepared:
    """Flatten, split and (optionally) standardize ``data``; see the module docstring."""
    x_train, x_val, y_train, y_val = split_train_val(
        to_features(data.x_train, mode), data.y_train.astype(np.int64), n_val, seed)
    x_test = to_features(data.x_test, mode)
    scaler = None
    if standardize:
        # Statistics of the training split only; the same transform is applied to all three.
        scaler = StandardScaler(copy=False).fit(x_train)
        x_train, x_val, x_test = (scaler.transform(x) for x in (x_train, x_val, x_test))
    return Prepared(x_train, y_train, x_val, y_val, x_test, data.y_test.astype(np.int64),
                    mode, data.class_names, data.source, scaler)

"""Chapter 1's figures: the data set, its pixels, standardization and whitening."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..preprocess import LUMA_WEIGHTS


CHANNEL_COLORS = ("tab:red", "tab:green", "tab:blue")


def class_balance(splits: dict, class_names) -> plt.Figure:
    """Grouped bars: how many images of each class every split holds (``{"train": y, ...}``)."""
    fig, ax = plt.subplots(figsize=(10, 3.5))
    width = 0.8 / len(splits)
    positions = np.arange(len(class_names))
    for i, (name, labels) in enumerate(splits.items()):
        counts = np.bincount(labels, minlength=len(class_names))
        bars = ax.bar(positions + i * width, counts, width, label=f"{name} ({len(labels):,})")
        ax.bar_label(bars, fontsize=7)
    ax.set_xticks(positions + width * (len(splits) - 1) / 2, class_names, rotation=30)
    ax.set(title="Images per class", xlabel="class", ylabel="number of images")
    ax.legend()
    fig.tight_layout()
    return fig


def image_grid(images, labels, class_names, per_class: int = 8, seed: int = 0,
               cmap=None) -> plt.Figure:
    """``per_class`` random images of every class, one row per class, named on the left."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(class_names), per_class,
                             figsize=(per_class * 0.9, len(class_names) * 0.95))
    for row, name in enumerate(class_names):
        chosen = rng.choice(np.flatnonzero(labels == row), per_class, replace=False)
        for ax, index in zip(axes[row], chosen):
            ax.imshow(images[index], cmap=cmap, vmin=0, interpolation="nearest",
                      vmax=255 if images.dtype == np.uint8 else 1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center")
    fig.suptitle(f"{per_class} random training images of each class")
    fig.tight_layout()
    return fig


def channel_histograms(images: np.ndarray) -> plt.Figure:
    """Distribution of the red, green and blue intensities (0-255) over all pixels."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    bins = np.arange(257)
    for channel, color in enumerate(CHANNEL_COLORS):
        counts = np.bincount(images[..., channel].ravel(), minlength=256)
        ax.stairs(counts / counts.sum(), bins, color=color,
                  label=f"{color[4:]}: mean {images[..., channel].mean():.1f}")
    ax.set(title="Pixel intensities per channel (training images)",
           xlabel="intensity (0-255)", ylabel="fraction of pixels", xlim=(0, 256))
    ax.legend()
    fig.tight_layout()
    return fig


def rgb_and_gray(images, labels, class_names, count: int = 6) -> plt.Figure:
    """The same images in colour (top row) and as luminance (bottom row)."""
    fig, axes = plt.subplots(2, count, figsize=(count * 1.5, 3.4))
    for ax_rgb, ax_gray, image, label in zip(axes[0], axes[1], images, labels):
        ax_rgb.imshow(image, interpolation="nearest")
        ax_gray.imshow(image.astype(np.float32) @ LUMA_WEIGHTS, cmap="gray", vmin=0, vmax=255,
                       interpolation="nearest")
        ax_rgb.set_title(class_names[label], fontsize=9)
        for ax in (ax_rgb, ax_gray):
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("RGB\n3,072 numbers")
    axes[1, 0].set_ylabel("gray\n1,024 numbers")
    fig.suptitle("Colour against grayscale: what the network sees")
    fig.tight_layout()
    return fig


def value_histograms(before: np.ndarray, after: np.ndarray, max_values: int = 2_000_000,
                     seed: int = 0) -> plt.Figure:
    """Histograms of input values before and after standardization, side by side."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    # Raw pixels take 256 levels: bins of 4 levels each, aligned, avoid comb-like aliasing.
    level_bins = (np.arange(0, 257, 4) - 0.5) / 255
    for ax, values, bins, title in ((axes[0], before, level_bins, "Before: pixels scaled to [0, 1]"),
                                    (axes[1], after, 100, "After: standardized per feature")):
        flat = values.ravel()
        if flat.size > max_values:
            flat = flat[rng.integers(0, flat.size, max_values)]
        ax.hist(flat, bins=bins, color="tab:gray")
        ax.axvline(flat.mean(), color="tab:red", label=f"mean {flat.mean():.2f}, std {flat.std():.2f}")
        ax.set(title=title, xlabel="input value", ylabel="count")
        ax.legend()
    fig.suptitle("Input values of the training split")
    fig.tight_layout()
    return fig


def eigenvalue_spectrum(eigenvalues, shares: dict) -> plt.Figure:
    """The covariance's eigenvalues, largest first, on a log scale (left), and the share
    of the variance held by the first k components (right); ``shares`` maps a share
    (0.9) to the number of components that hold it, marked on both panels."""
    eigenvalues = np.asarray(eigenvalues)
    components = np.arange(1, len(eigenvalues) + 1)
    positive = eigenvalues > 0
    fig, (ax_values, ax_shares) = plt.subplots(1, 2, figsize=(11, 3.8))
    ax_values.semilogy(components[positive], eigenvalues[positive], color="tab:blue")
    ax_values.set(title="Eigenvalues of the pixel covariance",
                  xlabel="component (largest variance first)",
                  ylabel="variance along the component (log scale)")
    explained = np.cumsum(eigenvalues) / eigenvalues.sum()
    ax_shares.plot(components, explained * 100, color="tab:blue")
    ax_shares.set(title="Share of the variance in the first k components", xscale="log",
                  xlabel="number of components k (log scale)",
                  ylabel="share of the total variance (%)")
    for (share, k), style in zip(sorted(shares.items()), ("--", ":", "-.")):
        for ax in (ax_values, ax_shares):
            ax.axvline(k, color="tab:red", linestyle=style, label=f"{share:.0%} of the variance: k = {k:,}")
    for ax in (ax_values, ax_shares):
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def pixel_correlations(correlations, pixel: tuple, channel_names=("red", "green", "blue"),
                       source_channel: str = "red") -> plt.Figure:
    """How one pixel correlates with every pixel of each channel: ``correlations`` is
    (32, 32, 3), the correlation of the ``source_channel`` value at ``pixel`` (row,
    column) with each feature, drawn one panel per channel."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8), layout="constrained")
    row, column = pixel
    for channel, (ax, name) in enumerate(zip(axes, channel_names)):
        shown = ax.imshow(correlations[..., channel], cmap="RdBu_r", vmin=-1, vmax=1,
                          interpolation="nearest")
        ax.plot(column, row, marker="+", color="black", markersize=9)
        ax.set(title=f"with the {name} channel", xlabel="column", ylabel="row")
    fig.colorbar(shown, ax=axes, shrink=0.85, label="correlation")
    fig.suptitle(f"Correlation of the {source_channel} value of pixel (row {row}, column "
                 f"{column}, marked +) with every pixel, over the training images")
    return fig


def displayable(rows: np.ndarray, clip: float = 1.0) -> np.ndarray:
    """Rows of 3,072 numbers as (N, 32, 32, 3) images in [0, 1]: each image stretched on
    its own so that its ``clip``-th and ``100 - clip``-th percentiles fill the range."""
    images = np.asarray(rows, dtype=np.float64).reshape(len(rows), 32, 32, 3)
    low = np.percentile(images, clip, axis=(1, 2, 3), keepdims=True)
    high = np.percentile(images, 100 - clip, axis=(1, 2, 3), keepdims=True)
    return np.clip((images - low) / np.maximum(high - low, 1e-12), 0, 1)


def whitened_images(versions: dict, labels, class_names) -> plt.Figure:
    """The same images under several transforms: one row per entry of ``versions``
    (label -> rows of 3,072 numbers), one column per image, named by its class; each
    image is stretched on its own to the display range (:func:`displayable`)."""
    count = len(labels)
    fig, axes = plt.subplots(len(versions), count, figsize=(count * 1.35, len(versions) * 1.45),
                             squeeze=False)
    for axes_row, (label, rows) in zip(axes, versions.items()):
        for ax, image in zip(axes_row, displayable(rows)):
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes_row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    for ax, label in zip(axes[0], labels):
        ax.set_title(class_names[label], fontsize=9)
    fig.suptitle("Training images before and after whitening (each image stretched to the "
                 "display range)")
    fig.tight_layout()
    return fig

"""The book's figures: each function draws one figure and returns it.

Every figure has a title, labelled axes and, where classes appear, their names.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np

from .preprocess import LUMA_WEIGHTS

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


def activation_scales(scales: dict) -> plt.Figure:
    """The scale of the activations, sqrt(E[h**2]), layer by layer, for each initialization."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for name, values in scales.items():
        ax.semilogy(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=name)
    ax.xaxis.set_major_locator(plt.matplotlib.ticker.MaxNLocator(integer=True))
    ax.set(title="Activation scale through a deep ReLU stack",
           xlabel="layer", ylabel="sqrt(mean of squared activations), log scale")
    ax.legend()
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    return fig


def loss_curve(losses, title: str = "Training loss", xlabel: str = "step") -> plt.Figure:
    """One loss curve, on a log scale so both its start and its end are visible."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.semilogy(np.arange(1, len(losses) + 1), losses)
    ax.set(title=title, xlabel=xlabel, ylabel="cross-entropy loss (log scale)")
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    return fig


def loss_curves(curves: dict, title: str, xlabel: str = "step",
                ylabel: str = "loss (log scale)") -> plt.Figure:
    """Several loss curves on one log scale, one per label of ``curves``."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for label, losses in curves.items():
        ax.semilogy(np.arange(len(losses)), losses, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def relative_errors(errors: dict, threshold: float = 1e-7,
                    title: str = "Gradient checks: analytic against numerical gradients",
                    xlabel: str = "relative error (log scale)") -> plt.Figure:
    """One dot per named array at its relative error, with the pass threshold marked.

    Dots, not bars: a bar on a log scale would start at an arbitrary floor. A pass is
    a filled circle, a failure a cross (symbol and colour); an error of exactly 0,
    which a log scale cannot place, is drawn as a hollow circle at the left edge.
    """
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(errors) + 1.4))
    names = list(errors)
    positive = [errors[n] for n in names if errors[n] > 0]
    left_edge = min(positive + [threshold]) / 10
    for row, name in enumerate(names):
        value = errors[name]
        if value == 0:
            ax.plot(left_edge, row, "o", mfc="none", color="tab:gray")
        elif value < threshold:
            ax.plot(value, row, "o", color="tab:green")
        else:
            ax.plot(value, row, "X", color="tab:red", markersize=9)
    ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:g}")
    handles = [plt.Line2D([], [], marker="o", ls="", color="tab:green", label="passes"),
               plt.Line2D([], [], marker="X", ls="", color="tab:red", label="fails"),
               plt.Line2D([], [], marker="o", ls="", mfc="none", color="tab:gray",
                          label="exactly 0 (left edge)")]
    ax.set_xscale("log")
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.grid(axis="x", alpha=0.3)
    ax.set(title=title, xlabel=xlabel)
    ax.legend(handles=handles + [ax.get_lines()[-1]], loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def training_curves(histories: dict) -> plt.Figure:
    """Cross-entropy and accuracy per epoch, training (dashed) and validation (solid).

    Both loss curves are the plain cross-entropy (:class:`cifar_mlp.train.History`):
    the same quantity on both splits. The L2 penalty, which the optimizer minimizes
    too, gets a panel of its own when any model has one.
    """
    with_penalty = any(any(h.l2_penalty) for h in histories.values())
    fig, axes = plt.subplots(1, 3 if with_penalty else 2, figsize=(15 if with_penalty else 11, 3.8))
    ax_loss, ax_acc = axes[:2]
    for (name, history), color in zip(histories.items(), plt.cm.tab10.colors):
        epochs = np.arange(1, len(history.val_loss) + 1)
        ax_loss.plot(epochs, history.train_loss, "--", color=color)
        ax_loss.plot(epochs, history.val_loss, "-", color=color, label=name)
        ax_acc.plot(epochs, history.train_acc, "--", color=color)
        ax_acc.plot(epochs, history.val_acc, "-", color=color, label=name)
        ax_acc.plot(history.best_epoch, history.val_acc[history.best_epoch - 1], "o", color=color)
        if with_penalty:
            axes[2].plot(epochs, history.l2_penalty, "-", color=color, label=name)
    ax_loss.set(title="Cross-entropy (dashed: training, solid: validation)", xlabel="epoch",
                ylabel="cross-entropy, without the L2 penalty")
    ax_acc.set(title="Accuracy (dot: best validation loss)", xlabel="epoch", ylabel="accuracy")
    ax_acc.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    if with_penalty:
        axes[2].set(title="L2 penalty, added to the training loss", xlabel="epoch",
                    ylabel="l2 * sum of squared weights")
    for ax in axes:
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=8)
    fig.tight_layout()
    return fig


def ablation(rows: list) -> plt.Figure:
    """The leave-one-out ablation, ``rows`` as :func:`cifar_mlp.report.ablation_rows` gives
    them: each seed's validation accuracy (small dots) and their mean (large dot) per row;
    the first row's mean as a dashed line, with the noise of a change around it shaded."""
    labels = [row["label"] for row in rows]
    means = np.array([row["mean"] for row in rows])
    reference = means[0]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.4))
    positions = np.arange(len(rows))
    if len(rows) > 1 and np.isfinite(rows[1]["noise"]):
        band = rows[1]["noise"] / 100
        ax.axvspan(reference - band, reference + band, color="tab:gray", alpha=0.15,
                   label="within noise of the first row")
    ax.axvline(reference, color="black", linestyle="--", label="all ingredients (mean)")
    for position, row in zip(positions, rows):
        ax.plot(row["accuracies"], [position] * len(row["accuracies"]), "|", color="tab:blue",
                markersize=9)
    ax.hlines(positions, reference, means, color="tab:gray")
    ax.plot(means, positions, "o", color="tab:blue", label="mean of the seeds (ticks: each seed)")
    for position, row in zip(positions[1:], rows[1:]):  # above the mean, clear of the ticks
        ax.annotate(f"{row['change']:+.1f}", (row["mean"], position), xytext=(0, 6),
                    textcoords="offset points", fontsize=8, ha="center", va="bottom",
                    bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none"},
                    zorder=5)
    ax.margins(x=0.12)
    ax.set_yticks(positions, labels, fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set(title="Leave one out: validation accuracy without each ingredient (points: change)",
           xlabel="validation accuracy")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)  # off the rows
    fig.tight_layout()
    return fig


def lr_range(lrs, losses, smoothed, chosen: float) -> plt.Figure:
    """The learning-rate range test: each step's loss (faint) and its moving average
    against the learning rate (log scale), the recipe's learning rate ``chosen`` marked."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    ax.plot(lrs, losses, color="tab:blue", alpha=0.3, label="loss of each step")
    ax.plot(lrs, smoothed, color="tab:blue", label="moving average")
    ax.axvline(chosen, color="black", linestyle="--", label=f"the recipe's learning rate, {chosen:g}")
    ax.set_xscale("log")
    ax.set(title="Learning-rate range test: one step per learning rate, rate growing",
           xlabel="learning rate (log scale)", ylabel="training loss (penalties included)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _gridded_with_legends(fig: plt.Figure, axes) -> plt.Figure:
    """``fig`` with a light grid and a small legend on each of ``axes``, laid out tight."""
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def training_diagnostics(logs: dict) -> plt.Figure:
    """Two diagnostics logged while training (:func:`cifar_mlp.diagnostics.diagnosed_training`),
    one line style per run of ``logs`` (label -> log): each weight matrix's update ratio
    (log scale) and each hidden layer's share of dead ReLU units, against the step."""
    fig, (ax_ratio, ax_dead) = plt.subplots(1, 2, figsize=(11, 3.8))
    styles = ("-", "--", ":", "-.")
    for (label, log), style in zip(logs.items(), styles):
        for i, (name, ratios) in enumerate(log["update_ratio"].items()):
            ax_ratio.plot(log["step"], ratios, style, color=f"C{i}", label=f"{name}, {label}")
        dead = np.array(log["dead"])
        for layer in range(dead.shape[1]):
            ax_dead.plot(log["step"], dead[:, layer], style, color=f"C{layer}",
                         label=f"hidden layer {layer + 1}, {label}")
    ax_ratio.axhline(1e-3, color="gray", linewidth=0.8)
    ax_ratio.set_yscale("log")
    ax_ratio.set(title="Update ratio |step| / |W| per weight matrix (gray: 1e-3)",
                 xlabel="training step", ylabel="update ratio (log scale)")
    ax_dead.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    probe = next(iter(logs.values()))["probe_images"]
    ax_dead.set(title=f"Dead ReLU units (never active on {probe:,} validation images)",
                xlabel="training step", ylabel="share of the layer's units")
    return _gridded_with_legends(fig, (ax_ratio, ax_dead))


def views_curve(accuracy_by_views: dict) -> plt.Figure:
    """Validation accuracy against the number of test-time views per image
    (``{"1": accuracy, "2": ..., ...}``, as the results files keep it)."""
    counts = sorted(int(n) for n in accuracy_by_views)
    accuracy = [accuracy_by_views[str(n)] for n in counts]
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    ax.plot(counts, accuracy, "o-")
    for n, value in zip(counts, accuracy):
        ax.annotate(f"{value:.1%}", (n, value), xytext=(0, 6), textcoords="offset points",
                    ha="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xticks(counts, [str(n) for n in counts])
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.margins(y=0.2)
    ax.set(title="Test-time augmentation on the validation split: accuracy against views",
           xlabel="views per image (log scale): 1, mirror, then shifts", ylabel="validation accuracy")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def accuracy_ladder(accuracies: dict, chance: float,
                    title: str = "Test accuracy, from baselines to the best MLP") -> plt.Figure:
    """Horizontal bars of test accuracy, one per model (label -> accuracy), in the given
    order, each labelled with its value; chance level drawn as a dashed line."""
    labels, values = list(accuracies), np.array(list(accuracies.values()))
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(labels) + 1.3))
    bars = ax.barh(np.arange(len(labels)), values, color="tab:blue")
    ax.bar_label(bars, [f"{v:.1%}" for v in values], padding=3, fontsize=8)
    ax.axvline(chance, color="black", linestyle="--", label=f"chance, {chance:.0%}")
    ax.set_yticks(np.arange(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlim(0, min(1.0, values.max() * 1.15))
    ax.set(title=title, xlabel="test accuracy")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def rgb_and_shuffled(images, shuffled, labels, class_names) -> plt.Figure:
    """Images (N, 32, 32, 3) uint8 above the same images with their pixels shuffled,
    each column titled with its class."""
    count = len(images)
    fig, axes = plt.subplots(2, count, figsize=(count * 1.5, 3.6))
    for column in range(count):
        for row, picture in enumerate((images[column], shuffled[column])):
            ax = axes[row, column]
            ax.imshow(picture, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
        axes[0, column].set_title(class_names[labels[column]], fontsize=8)
    axes[0, 0].set_ylabel("as it is", fontsize=8)
    axes[1, 0].set_ylabel("pixels shuffled", fontsize=8)
    fig.suptitle("The same images, pixels shuffled by one fixed permutation")
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, class_names) -> plt.Figure:
    """Row-normalized confusion matrix: each row shows where one true class's images went."""
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=range(len(class_names)), display_labels=class_names,
        normalize="true", values_format=".2f", cmap="Blues", ax=ax, colorbar=False,
        xticks_rotation=45)
    ax.set(title="Confusion matrix on the test set (rows sum to 1)",
           xlabel="predicted class", ylabel="true class")
    fig.tight_layout()
    return fig


def per_class_accuracy(y_true, predictions: dict, class_names) -> plt.Figure:
    """Accuracy on each class, one bar per model (``{"model name": y_pred}``)."""
    fig, ax = plt.subplots(figsize=(10, 3.6))
    width = 0.8 / len(predictions)
    positions = np.arange(len(class_names))
    for i, (name, y_pred) in enumerate(predictions.items()):
        accuracy = [np.mean(y_pred[y_true == c] == c) for c in range(len(class_names))]
        ax.bar(positions + i * width, accuracy, width, label=name)
    ax.set_xticks(positions + width * (len(predictions) - 1) / 2, class_names, rotation=30)
    ax.axhline(0.1, color="gray", linestyle=":", label="chance")
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set(title="Test accuracy per class", xlabel="class", ylabel="accuracy", ylim=(0, 1))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def predictions_grid(images, y_true, proba, class_names, indices, title) -> plt.Figure:
    """Images with predicted and true class: a tick and green when right, a cross and red
    when wrong (symbol and colour, so that both read without colour vision)."""
    cols = 8
    rows = int(np.ceil(len(indices) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.55, rows * 2.2), layout="constrained")
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, index in zip(np.ravel(axes), indices):
        predicted = int(np.argmax(proba[index]))
        right = predicted == y_true[index]
        ax.imshow(images[index], interpolation="nearest")
        ax.set_title(f"{'✓' if right else '✗'} {class_names[predicted]} "
                     f"{proba[index, predicted]:.0%}\n"
                     f"true: {class_names[y_true[index]]}", fontsize=8,
                     color="tab:green" if right else "tab:red")
    fig.suptitle(title)
    return fig


def first_layer_weights(w: np.ndarray, count: int = 32, seed: int = 0) -> plt.Figure:
    """Columns of the first weight matrix shown as 32x32 images (what each unit looks for)."""
    rng = np.random.default_rng(seed)
    units = rng.choice(w.shape[1], min(count, w.shape[1]), replace=False)
    channels = w.shape[0] // 1024
    cols = 8
    fig, axes = plt.subplots(int(np.ceil(len(units) / cols)), cols, figsize=(cols * 1.2, 1.3 * len(units) / cols))
    for ax, unit in zip(np.ravel(axes), units):
        image = w[:, unit].reshape(32, 32, channels) if channels > 1 else w[:, unit].reshape(32, 32)
        image = (image - image.min()) / (np.ptp(image) + 1e-12)
        ax.imshow(image, cmap=None if channels > 1 else "gray", interpolation="nearest")
        ax.axis("off")
    fig.suptitle(f"First-layer weights of {len(units)} random hidden units, as images")
    fig.tight_layout()
    return fig


def top3_bars(image, proba, class_names, true_label, ax_image=None, ax_bars=None) -> plt.Figure:
    """One test image and its three most probable classes (the widget's static twin)."""
    if ax_image is None:
        fig, (ax_image, ax_bars) = plt.subplots(1, 2, figsize=(6.5, 2.4),
                                                gridspec_kw={"width_ratios": [1, 1.6]})
    else:
        fig = ax_image.figure
    top = np.argsort(proba)[::-1][:3]
    ax_image.imshow(image, interpolation="nearest")
    ax_image.set_title(f"true: {class_names[true_label]}", fontsize=9)
    ax_image.axis("off")
    colors = ["tab:green" if c == true_label else "tab:gray" for c in top]
    names = [f"✓ {class_names[c]}" if c == true_label else class_names[c] for c in top]
    ax_bars.barh(names[::-1], proba[top][::-1], color=colors[::-1])
    ax_bars.set(xlim=(0, 1), xlabel="probability", title="top-3 predictions (✓: true class)")
    ax_bars.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    return fig


def parity_curves(runs: dict) -> plt.Figure:
    """Loss curves of NumPy and Keras trained side by side, and how far apart they are.

    ``runs`` maps a label to a :func:`cifar_mlp.parity.parity_run` report. Left:
    the loss per step of each run in both frameworks (NumPy solid, Keras dotted on
    top). Right: the relative difference per step, log scale; for reports made with
    ``reference=True``, also NumPy float32 against NumPy float64 (dashed), the rounding
    yardstick.
    """
    fig, (ax_loss, ax_diff) = plt.subplots(1, 2, figsize=(11, 3.8))
    for (label, report), color in zip(runs.items(), plt.cm.tab10.colors):
        steps = np.arange(1, report["steps"] + 1)
        ax_loss.plot(steps, report["numpy_loss"], "-", color=color, linewidth=2.5, alpha=0.5,
                     label=f"{label}: NumPy")
        ax_loss.plot(steps, report["keras_loss"], ":", color=color, linewidth=1.5,
                     label=f"{label}: Keras")
        floor = np.finfo(np.float64).eps / 2  # an exact match still shows on a log scale
        ax_diff.semilogy(steps, np.maximum(report["relative_difference"], floor), "-",
                         color=color, label=f"{label}: NumPy (a) vs Keras (b)")
        if "rounding_drift" in report:
            ax_diff.semilogy(steps, np.maximum(report["rounding_drift"], floor), "--",
                             color=color, label=f"{label}: NumPy float32 (a) vs float64 (b)")
    ax_loss.set(title="Training loss per step, same weights and batches", xlabel="step",
                ylabel="loss (penalties included)")
    ax_diff.set(title="Relative difference per step (log scale)", xlabel="step",
                ylabel="|a - b| / |b|, b the reference")
    return _gridded_with_legends(fig, (ax_loss, ax_diff))


def framework_comparison(pairs: dict) -> plt.Figure:
    """Test accuracy and seconds per epoch of each recipe in NumPy and in Keras.

    ``pairs`` maps a recipe label to ``(numpy_result, keras_result)``, results as
    written to ``results/*.json``.
    """
    fig, (ax_acc, ax_time) = plt.subplots(1, 2, figsize=(11, 3.8))
    labels = list(pairs)
    positions = np.arange(len(labels))
    width = 0.38
    for offset, index, framework, color in ((-width / 2, 0, "NumPy", "tab:blue"),
                                            (width / 2, 1, "Keras", "tab:orange")):
        accuracy = [pairs[label][index]["test_accuracy"] for label in labels]
        seconds = [pairs[label][index]["seconds_per_epoch"] for label in labels]
        bars = ax_acc.bar(positions + offset, accuracy, width, color=color, label=framework)
        ax_acc.bar_label(bars, labels=[f"{a:.1%}" for a in accuracy], fontsize=7)
        bars = ax_time.bar(positions + offset, seconds, width, color=color, label=framework)
        ax_time.bar_label(bars, labels=[f"{s:.1f}" for s in seconds], fontsize=7)
    ax_acc.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax_acc.set(title="Test accuracy", xlabel="recipe", ylabel="accuracy", ylim=(0, 1))
    ax_time.set(title="Training time per epoch (median)", xlabel="recipe", ylabel="seconds")
    for ax in (ax_acc, ax_time):
        ax.set_xticks(positions, [textwrap.fill(label, 16) for label in labels], fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def step_time(bench: dict) -> plt.Figure:
    """Where one NumPy training step spends its time, from ``results/bench.json``.

    Bars: the step's matrix products at the measured matmul peak (computed from their
    FLOPs: the least they can take; hatched), each element-wise part and the optimizer
    update as timed on their own (measured); the dashed line is the whole step as measured.
    """
    peak = bench["peak"]["gflops"] * 1e9
    parts = {"matrix products, computed: FLOPs / peak":
             bench["network"]["matmul_flops_per_step"]["total"] / peak}
    for name, seconds in bench["breakdown_best_seconds"].items():
        if name.startswith(("bias", "relu", "softmax", "optimizer")) and "plain" not in name:
            parts[name.split(" (")[0].replace("_", " ") + ", measured"] = seconds
    step = bench["train_step"]["train_step"]["best_seconds"]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    names = list(parts)
    bars = ax.barh(names, [parts[n] * 1e3 for n in names], color="tab:blue")
    bars[0].set(hatch="//", facecolor="white", edgecolor="tab:blue")
    ax.axvline(step * 1e3, color="black", linestyle="--",
               label=f"whole train step, measured: {step * 1e3:.1f} ms")
    ax.invert_yaxis()
    ax.set(title="One training step of 3072-1024-512-10 at batch 128, part by part",
           xlabel="milliseconds (measured: best of repeated timings)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


# The parts of an epoch, told apart without colour.
PART_HATCHES = ("//", "..", "xx", "\\\\", "oo", "")


def epoch_split(bench: dict) -> plt.Figure:
    """Where one epoch of the best recipe spends its time, from ``results/bench.json``.

    The upper bar is the epoch as measured, part by part, each part hatched and labelled
    with its seconds; the lower bar is its bound: the epoch's matrix products (training and
    validation) at the measured float32 peak, computed from their FLOPs (the least the
    epoch can take).
    """
    split = bench["best_epoch_split"]
    measured, bound = "epoch, measured", "its matrix products at peak\n(computed: the bound)"
    fig, ax = plt.subplots(figsize=(9, 3.4))
    left = 0.0
    for (part, seconds), hatch in zip(split["parts_seconds"].items(), PART_HATCHES):
        bars = ax.barh(measured, seconds, left=left, hatch=hatch, edgecolor="black",
                       label=f"{part}: {seconds:.2f} s ({split['shares'][part]:.0%})")
        if seconds > 0.05 * split["epoch_seconds"]:  # room for the number inside
            ax.bar_label(bars, labels=[f"{seconds:.1f}"], label_type="center", fontsize=8,
                         bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
        left += seconds
    ax.barh(bound, split["bound_seconds"], hatch=PART_HATCHES[0], facecolor="white",
            edgecolor="black")
    ax.text(split["epoch_seconds"], 1, f"{split['bound_seconds']:.1f} s at "
            f"{split['peak']['gflops']:.0f} GFLOP/s = {split['fraction_of_bound']:.2f} of the epoch",
            ha="right", va="center", fontsize=8, bbox={"facecolor": "white", "edgecolor": "none"})
    ax.invert_yaxis()
    sizes, epochs = "-".join(map(str, split["layer_sizes"])), len(split["epochs_seconds"])
    ax.set(title=f"One epoch of the best recipe ({sizes}), part by part",
           xlabel="seconds " + (f"(the median of {epochs} epochs)" if epochs > 1 else "(one epoch)"),
           xlim=(0, split["epoch_seconds"] * 1.05))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=3)
    fig.tight_layout()
    return fig


def top3_gallery(images, proba, y_true, class_names, indices) -> plt.Figure:
    """The explorer's view for several images at once, as one static figure."""
    fig, axes = plt.subplots(len(indices), 2, figsize=(6.5, 2.1 * len(indices)),
                             gridspec_kw={"width_ratios": [1, 1.6]})
    for (ax_image, ax_bars), index in zip(axes, indices):
        top3_bars(images[index], proba[index], class_names, y_true[index], ax_image, ax_bars)
    fig.suptitle("Test images and the model's three most probable classes")
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

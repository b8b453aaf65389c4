"""Chapter 3's figures: training curves, diagnostics, the optimizers on a quadratic and
on the network, the hyperparameter search, the ablation, where the model fails."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .. import tuning
from ..search import ranked
from .layout import gridded_with_legends


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
    return gridded_with_legends(fig, (ax_ratio, ax_dead))


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


def first_layer_weights(w: np.ndarray, count: int = 32, seed: int = 0,
                        title: str = "First-layer weights of {count} random hidden units, as images"
                        ) -> plt.Figure:
    """Columns of the first weight matrix shown as 32x32 images (what each unit looks for);
    ``title`` may name ``{count}``, the number of units shown."""
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
    fig.suptitle(title.format(count=len(units)))
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


def top3_gallery(images, proba, y_true, class_names, indices) -> plt.Figure:
    """The explorer's view for several images at once, as one static figure."""
    fig, axes = plt.subplots(len(indices), 2, figsize=(6.5, 2.1 * len(indices)),
                             gridspec_kw={"width_ratios": [1, 1.6]})
    for (ax_image, ax_bars), index in zip(axes, indices):
        top3_bars(images[index], proba[index], class_names, y_true[index], ax_image, ax_bars)
    fig.suptitle("Test images and the model's three most probable classes")
    fig.tight_layout()
    return fig


def rate_sweep(curves: dict, bound: float, steps: int, ceiling: float = 10.0,
               title: str = "Each method's error against its learning rate") -> plt.Figure:
    """One line per method (``curves``: label -> (learning rates, scores)), both axes on
    a log scale, each method's best rate marked with a star and the bound 2/L of gradient
    descent with a dashed vertical line. Scores above ``ceiling`` (diverged runs, whose
    score is inf) are drawn at the ceiling, as crosses."""
    fig, ax = plt.subplots(figsize=(7, 4))
    styles = [("o", "-"), ("s", "--"), ("^", ":"), ("D", "-.")]  # told apart without colour
    for (label, (rates, scores)), (marker, linestyle) in zip(curves.items(),
                                                             styles * len(curves)):
        rates, scores = np.asarray(rates, dtype=float), np.asarray(scores, dtype=float)
        above = scores > ceiling
        line, = ax.loglog(rates, np.minimum(scores, ceiling), linestyle=linestyle,
                          marker=marker, markersize=3, label=label)
        ax.plot(rates[above], np.full(above.sum(), ceiling), "x", color=line.get_color())
        i = int(np.argmin(scores))
        ax.plot(rates[i], scores[i], "*", markersize=13, color=line.get_color(),
                markeredgecolor="black")
    ax.axvline(bound, color="black", linestyle="--", linewidth=1,
               label=f"2/L = {bound:.3g}: gradient descent's bound")
    ax.set(title=title, xlabel="learning rate (log scale)",
           ylabel=f"error after {steps} steps (log scale)\n"
                  f"worst of the last 10; diverged: x at the top")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def convergence(curves: dict, title: str, ylabel: str = "error |w - w*| (log scale)"
                ) -> plt.Figure:
    """The error step by step, one line per method (``curves``: label -> errors), on a
    log scale, told apart by line style as well as colour."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for (label, errors), linestyle in zip(curves.items(), ["-", "--", ":", "-."] * len(curves)):
        ax.semilogy(np.arange(len(errors)), errors, linestyle=linestyle, label=label)
    ax.set(title=title, xlabel="step", ylabel=ylabel)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


ROUND_STYLES = (("tab:blue", "o"), ("tab:orange", "s"), ("tab:green", "^"))


def search_trials(rounds: dict, space: dict, reference: dict | None = None,
                  reference_label: str = "the book's recipe",
                  narrowed: dict | None = None) -> plt.Figure:
    """Each trial's validation accuracy against each setting of ``space``, one panel a
    setting (a log axis for a "log" range, one tick per value for a "choice"), one
    colour and marker per round of ``rounds`` (label -> records of
    :func:`cifar_mlp.search.random_search`, coarse first), a trial that diverged as a
    cross at the bottom; the best trial of all rounds starred, the settings of
    ``reference`` (a configuration) as dashed lines, and the ranges of ``narrowed``
    (the finer space of :func:`cifar_mlp.search.narrow`) shaded."""
    trials = [record for records in rounds.values() for record in records]
    best = ranked(trials)[0]
    fig, axes = plt.subplots(1, len(space), figsize=(4.8 * len(space) + 0.6, 3.9),
                             squeeze=False)
    for ax, (name, spec) in zip(axes[0], space.items()):
        def where(value, spec=spec):
            """A setting's place on the horizontal axis: a choice's index, else itself."""
            return spec[1].index(value) if spec[0] == "choice" else value

        for (label, records), (color, marker) in zip(rounds.items(), ROUND_STYLES):
            scored = [record for record in records if not record["diverged"]]
            ax.plot([where(record[name]) for record in scored],
                    [record["val_accuracy"] for record in scored], marker, color=color,
                    alpha=0.8, linestyle="none", label=f"{label} ({len(records)} trials)")
            diverged = [where(record[name]) for record in records if record["diverged"]]
            if diverged:  # no accuracy: at the bottom of the panel
                ax.plot(diverged, [0.03] * len(diverged), "x", color=color,
                        transform=ax.get_xaxis_transform(), label=f"{label}: diverged")
        ax.plot([where(best[name])], [best["val_accuracy"]], "*", color="black", markersize=14,
                markerfacecolor="none", label=f"best trial, {best['val_accuracy']:.1%}")
        if reference is not None and (spec[0] != "choice" or reference[name] in spec[1]):
            ax.axvline(where(reference[name]), color="black", linestyle="--", linewidth=1,
                       label=reference_label)
        if narrowed is not None and narrowed[name][0] != "choice":
            ax.axvspan(narrowed[name][1], narrowed[name][2], color="tab:orange", alpha=0.1,
                       label="the narrowed range")
        if spec[0] == "log":
            ax.set_xscale("log")
        if spec[0] == "choice":
            ax.set_xticks(range(len(spec[1])), [str(value) for value in spec[1]])
        scale = {"log": " (log scale)", "uniform": "", "choice": " (each value tried)"}[spec[0]]
        ax.set(title=f"Validation accuracy against {name}", xlabel=f"{name}{scale}",
               ylabel="validation accuracy")
        ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


# Each method's marker and line style, so that the curves are told apart without colour.
STYLES = [("o", "-"), ("s", "--"), ("^", ":"), ("D", "-.")]


def optimizer_rates(records: list) -> plt.Figure:
    """A :func:`cifar_mlp.tuning.rate_sweep`: for each method, a line through the mean
    validation accuracy over the seeds at each learning rate (log axis), a small dot for
    each seed's run, a star at its tuned rate (:func:`~cifar_mlp.tuning.tuned`) and a
    cross for each run that diverged, drawn at the accuracy it counts for (chance)."""
    rows, best = tuning.summarize(records), tuning.tuned(records)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    colors = {}
    for (method, choice), (marker, linestyle) in zip(best.items(), STYLES * len(best)):
        mine = [row for row in rows if row["method"] == method]
        line, = ax.plot([row["lr"] for row in mine], [row["val_accuracy"] for row in mine],
                        linestyle=linestyle, marker=marker, markersize=4, label=method)
        colors[method] = line.get_color()
        runs = [r for r in records if r["method"] == method and not r["diverged"]]
        ax.plot([r["lr"] for r in runs], [r["val_accuracy"] for r in runs], ".",
                color=colors[method], alpha=0.4)
        ax.plot(choice["lr"], choice["val_accuracy"], "*", markersize=14, color=colors[method],
                markeredgecolor="black")
    diverged_label = "a run that diverged (counted at chance)"
    for method, color in colors.items():  # after the methods, so last in the legend
        failed = [r for r in records if r["method"] == method and r["diverged"]]
        if failed:
            ax.plot([r["lr"] for r in failed], [r["val_accuracy"] for r in failed], "x",
                    color=color, markersize=8, label=diverged_label)
            diverged_label = None  # once in the legend
    ax.set_xscale("log")
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.set(title=f"Each optimizer across its learning rates, {records[0]['n_train']:,} "
                 f"training images (star: its best rate)",
           xlabel="learning rate (log scale)",
           ylabel="validation accuracy\n(line: mean of the seeds; dots: each seed)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

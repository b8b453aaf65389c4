"""Chapter 2's figures: activations and gradients at initialization, losses, gradient checks,
under- and overfitting against capacity and data."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .layout import gridded_with_legends


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


def gradient_norms(norms: dict, title: str = "Weight gradients layer by layer, at initialization"
                   ) -> plt.Figure:
    """The norm of each layer's weight gradient, first layer to output layer, one line per
    activation (``norms``: label -> list of norms), on a log scale."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    styles = [("o", "-"), ("s", "--"), ("^", ":"), ("D", "-.")]  # told apart without colour
    for (name, values), (marker, linestyle) in zip(norms.items(), styles * len(norms)):
        ax.semilogy(np.arange(1, len(values) + 1), values, marker=marker, markersize=4,
                    linestyle=linestyle, label=name)
    ax.xaxis.set_major_locator(plt.matplotlib.ticker.MaxNLocator(integer=True))
    ax.set(title=title, xlabel="layer (1 = first hidden layer, last = output layer)",
           ylabel="norm of the weight gradient (log scale)")
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


def sweep_curves(records: list, key: str, xlabel: str, title: str) -> plt.Figure:
    """A sweep of :mod:`cifar_mlp.generalization`: accuracy and cross-entropy on the
    training images (dashed, squares) and on the validation split (solid, circles) against
    ``key`` of its records ("parameters" or "n_train", log axis); small marks for each
    seed, a line through the means; the gap between the two means shaded."""
    xs = sorted({record[key] for record in records})
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 3.9))
    for ax, measure, ylabel in ((ax_acc, "accuracy", "accuracy"),
                                (ax_loss, "loss", "cross-entropy")):
        means = {}
        for split, style, marker, label in (("train", "--", "s", "training images"),
                                            ("val", "-", "o", "validation split")):
            field = f"{split}_{measure}"
            ax.plot([r[key] for r in records], [r[field] for r in records], marker,
                    color="tab:orange" if split == "train" else "tab:blue", alpha=0.35,
                    markersize=4, linestyle="none")
            means[split] = [np.mean([r[field] for r in records if r[key] == x]) for x in xs]
            ax.plot(xs, means[split], style, marker=marker,
                    color="tab:orange" if split == "train" else "tab:blue",
                    label=f"{label} (mean of the seeds; small marks: each seed)")
        ax.fill_between(xs, means["train"], means["val"], color="tab:gray", alpha=0.15,
                        label="the gap between them")
        ax.set_xscale("log")
        if key == "n_train":  # a few sizes: label each of them
            ax.set_xticks(xs, [f"{x:,}" for x in xs])
            ax.xaxis.set_minor_locator(plt.matplotlib.ticker.NullLocator())
        ax.set(xlabel=xlabel, ylabel=ylabel)
    ax_acc.set_ylim(0, 1.02)  # from 0: the gap's height in the figure is its size
    ax_acc.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax_acc.set_title("Accuracy")
    ax_loss.set_title("Cross-entropy")
    fig.suptitle(title)
    return gridded_with_legends(fig, (ax_acc, ax_loss))


def capacity_curves(records: list) -> plt.Figure:
    """The capacity sweep (:func:`cifar_mlp.generalization.capacity_sweep`): training and
    validation accuracy and loss against the network's parameters (log axis)."""
    n_train = records[0]["n_train"]
    return sweep_curves(records, "parameters", "parameters of the network (log scale)",
                        f"Wider networks, the same {n_train:,} training images")


def data_size_curves(records: list) -> plt.Figure:
    """The data sweep (:func:`cifar_mlp.generalization.data_size_sweep`): training and
    validation accuracy and loss against the number of training images (log axis)."""
    hidden = "-".join(map(str, records[0]["hidden"]))
    return sweep_curves(records, "n_train", "training images (log scale)",
                        f"One network (hidden layers {hidden}), more and more training images")

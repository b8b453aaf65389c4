"""Chapter 2's figures: activations and gradients at initialization, losses, gradient checks."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


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

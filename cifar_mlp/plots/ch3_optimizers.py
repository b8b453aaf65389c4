"""Chapter 3's figure of the optimizers on the real network: validation accuracy against
the learning rate, each method at every rate of its grid (:mod:`cifar_mlp.tuning`)."""

from __future__ import annotations

import matplotlib.pyplot as plt

from ..tuning import summarize, tuned

# Each method's marker and line style, so that the curves are told apart without colour.
STYLES = [("o", "-"), ("s", "--"), ("^", ":"), ("D", "-.")]


def optimizer_rates(records: list) -> plt.Figure:
    """A :func:`cifar_mlp.tuning.rate_sweep`: for each method, a line through the mean
    validation accuracy over the seeds at each learning rate (log axis), a small dot for
    each seed's run, a star at its tuned rate (:func:`~cifar_mlp.tuning.tuned`) and a
    cross for each run that diverged, drawn at the accuracy it counts for (chance)."""
    rows, best = summarize(records), tuned(records)
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

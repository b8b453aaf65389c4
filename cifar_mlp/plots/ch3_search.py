"""Chapter 3's figure of the hyperparameter search (:mod:`cifar_mlp.search`): every
trial's validation accuracy against each setting searched, round by round."""

from __future__ import annotations

import matplotlib.pyplot as plt

from ..search import ranked

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

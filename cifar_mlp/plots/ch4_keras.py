"""Chapter 4's figures: the parity proof, NumPy against Keras, speed, shuffled pixels."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np

from .layout import gridded_with_legends


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
    return gridded_with_legends(fig, (ax_loss, ax_diff))


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

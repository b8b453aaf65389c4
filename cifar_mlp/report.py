"""The tables of the book and the README, read from results/*.json (never typed by hand).

The caller passes the folders (``results/``, ``notebooks/``) or the results read from
them. scripts/update_readme.py writes :func:`markdown_table` into README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from .experiments import ABLATION_ROWS
from .provenance import STAMP_KEY

# The models of the headline table, in order: (results file stem, label).
HEADLINE = [
    ("seed_gray", "Seed network, grayscale (1024-512-256-10)"),
    ("seed_rgb", "Seed network, colour (3072-1024-256-10)"),
    ("best", "Best from-scratch recipe"),
    ("seed_keras", "Seed's Keras network (3072-1024-512-256-128-10)"),
]


def load_results(results_dir: str | Path) -> dict:
    """Every results file of ``results_dir`` (``name.json``), by name."""
    return {path.stem: json.loads(path.read_text())
            for path in sorted(Path(results_dir).glob("*.json"))}


def seed_project(root: str | Path) -> dict:
    """The seed project's reported accuracies, quoted with their source
    (``<root>/data/seed_project.json``): figures from elsewhere, kept out of the prose."""
    return json.loads((Path(root) / "data" / "seed_project.json").read_text())


def headline_rows(results: dict) -> list:
    """Rows (label, NumPy result, Keras result or None) for the models that have results."""
    return [(label, results[name], results.get(f"keras_{name}"))
            for name, label in HEADLINE if name in results]


def _table(header: list, rows: list) -> str:
    """A Markdown table: the header, its separator and one line per row of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_table(results: dict) -> str:
    """The headline table in Markdown, followed by a line naming the data and its splits."""
    header = ["model", "test accuracy, NumPy", "test accuracy, Keras", "epochs", "s/epoch, NumPy",
              "parameters"]
    rows, splits = [], []
    for label, ours, theirs in headline_rows(results):
        rows.append([label, f"{ours['test_accuracy']:.1%}",
                     f"{theirs['test_accuracy']:.1%}" if theirs else "–", ours["epochs"],
                     f"{ours['seconds_per_epoch']:.1f}", f"{ours['parameters']:,}"])
        split = (f"{ours['data']} data set: {ours['n_train']:,} training, "
                 f"{ours['n_val']:,} validation and {ours['n_test']:,} test images")
        if split not in splits:
            splits.append(split)
    if not rows:
        return _table(header, [["(no results yet: run `make notebooks`)"] + [""] * 5])
    return _table(header, rows) + "\n\nTrained and tested on the " + "; ".join(splits) + "."


def execution_table(notebooks_dir: str | Path) -> str:
    """When, where and how long each notebook of ``notebooks_dir`` ran (its provenance stamp)."""
    rows = []
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        stamp = json.loads(path.read_text())["metadata"].get(STAMP_KEY)
        rows.append([path.stem, stamp["data"], stamp["executed"], stamp["machine"],
                     f"{stamp['seconds'] / 60:.1f}"] if stamp else
                    [path.stem, "never executed by `make notebooks`", "", "", ""])
    return _table(["notebook", "data", "executed", "machine", "minutes"], rows)


def training_table(results: dict, names=None) -> str:
    """How long each model trained, from its results file; only the models ``names`` (in
    their order) when given, so that the file of a model the book no longer trains is
    left out."""
    names = [name for name in (names or results) if "training_seconds" in results.get(name, {})]
    rows = [[name, results[name]["epochs"], f"{results[name]['seconds_per_epoch']:.1f}",
             f"{results[name]['training_seconds'] / 60:.1f}", results[name].get("machine", "")]
            for name in names]
    return _table(["model", "epochs", "seconds per epoch (median)", "training minutes", "machine"],
                  rows)


def framework_table(results: dict) -> str:
    """NumPy against Keras, recipe by recipe, for the models trained in both frameworks."""
    rows = []
    for label, ours, theirs in headline_rows(results):
        if theirs is None:
            continue
        parameters = (f"{ours['parameters']:,}" if ours["parameters"] == theirs["parameters"]
                      else f"{ours['parameters']:,} / {theirs['parameters']:,}")
        rows.append([label, f"{ours['test_accuracy']:.1%} / {theirs['test_accuracy']:.1%}",
                     f"{(ours['test_accuracy'] - theirs['test_accuracy']) * 100:+.1f}",
                     f"{ours['best_epoch']} / {theirs['best_epoch']}",
                     f"{ours['seconds_per_epoch']:.1f} / {theirs['seconds_per_epoch']:.1f}",
                     parameters])
    return _table(["model", "test accuracy, NumPy / Keras", "difference (points)",
                   "best epoch, NumPy / Keras", "s/epoch, NumPy / Keras", "parameters"], rows)


def bench_table(bench: dict) -> str:
    """The measurements of ``make bench`` (``results/bench.json``), as a reader needs them."""
    ratios = bench["ratios"]
    step_ms = bench["train_step"]["train_step"]["best_seconds"] * 1e3
    network = "-".join(map(str, bench["network"]["layer_sizes"]))
    rows = [
        [f"float32 matrix-product peak, the shapes of {network}",
         f"{bench['peak']['gflops']:.0f} GFLOP/s"],
        ["loss and gradients of a step, fraction of peak",
         f"{ratios['loss_and_gradients_fraction_of_peak']:.2f}"],
        ["whole train step (with the optimizer update), fraction of peak",
         f"{ratios['train_step_fraction_of_peak']:.2f} ({step_ms:.1f} ms)"],
        ["NumPy epoch / Keras epoch",
         f"{bench['numpy_epoch_train']['median_seconds']:.1f} s / "
         f"{bench['keras_epoch']['median_seconds']:.1f} s = {ratios['numpy_over_keras_epoch']:.2f}"],
        ["seed-style float64 trainer / NumPy, per epoch", f"{ratios['seed_style_over_numpy']:.1f}x"],
        *epoch_split_rows(bench["best_epoch_split"]),
    ]
    measured = (f"Measured {bench['date'][:10]} on {bench['machine']['cpu']}, "
                f"{bench['machine']['cores']} cores, NumPy {bench['machine']['numpy']}; "
                f"other processes used {bench['contention']['others_cpu_share']:.1%} of the CPU.")
    return measured + "\n\n" + _table(["measure", "result"], rows)


def epoch_split_rows(split: dict) -> list:
    """Two rows of :func:`bench_table`: the best recipe's epoch against its matrix-product
    bound (its products alone, at the measured peak), and where its time goes."""
    sizes = "-".join(map(str, split["layer_sizes"]))
    parts = ", ".join(f"{part} {seconds:.1f} s" for part, seconds in split["parts_seconds"].items())
    return [[f"best recipe's epoch ({sizes}), fraction of its matrix-product bound",
             f"{split['fraction_of_bound']:.2f} ({split['epoch_seconds']:.1f} s; its products "
             f"alone at {split['peak']['gflops']:.0f} GFLOP/s: {split['bound_seconds']:.1f} s)"],
            ["best recipe's epoch, part by part", parts]]


def ablation_table(results: dict) -> str:
    """Chapter 3's leave-one-out ablation: each row's validation accuracy and its
    difference from the first row (the best recipe at the same budget), in points."""
    rows, reference = [], results.get("ablation_0", {}).get("val_accuracy")
    for i, (label, _, _) in enumerate(ABLATION_ROWS):
        result = results.get(f"ablation_{i}")
        if result is None:
            continue
        change = ("" if i == 0 or reference is None else
                  f"{(result['val_accuracy'] - reference) * 100:+.1f}")
        rows.append([label, f"{result['val_accuracy']:.1%}", change,
                     f"{result['val_loss']:.3f}", f"{result['seconds_per_epoch']:.1f}",
                     f"{result['parameters']:,}"])
    return _table(["model", "validation accuracy", "difference from the best recipe (points)",
                   "validation loss", "s/epoch", "parameters"], rows)


def trials_table(trials: dict) -> str:
    """How the best recipe was chosen (``results/recipe_trials.json``, written by
    scripts/recipe_trials.py): each variant tried and its final validation accuracy,
    one view per image and, where it was measured, averaged with the mirror images
    (``flip_averaged_val_accuracy``)."""
    rows = [[trial["description"], f"{trial['final_val_accuracy']:.1%}",
             f"{max(trial['val_accuracy']):.1%}",
             f"{trial['flip_averaged_val_accuracy']:.1%}"
             if "flip_averaged_val_accuracy" in trial else "not measured"]
            for trial in trials.values()]
    return _table(["what was tried", "validation accuracy, last epoch",
                   "validation accuracy, best epoch",
                   "last epoch, averaged with mirror images"], rows)


def build_summary(build: dict) -> str:
    """One sentence on the last ``make book`` (``results/book_build.json``, written by
    scripts/build_book.py): when, on what, how long, and how much of it was training."""
    steps = build["steps_seconds"]
    reloaded = build["models"] - build["models_trained"]
    return (f"The last `make book` ({build['date'][:10]}, {build['machine']}, {build['profile']} "
            f"profile on the {build['data']} data) took {build['seconds'] / 60:.1f} minutes: "
            f"{steps['training'] / 60:.1f} training ({build['models_trained']} of "
            f"{build['models']} models trained, {reloaded} reloaded), "
            f"{steps['rendering'] / 60:.1f} building the book.")

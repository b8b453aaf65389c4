"""The tables of the book and the README, read from results/*.json (never typed by hand).

The caller passes the folders (``results/``, ``notebooks/``) or the results read from
them. scripts/update_readme.py writes :func:`markdown_table` into README.md.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .book_runs import headline
from .experiments import ABLATION_ROWS, WITHOUT_TEST_TIME_AUGMENTATION
from .provenance import STAMP_KEY


def load_results(results_dir: str | Path) -> dict:
    """Every results file of ``results_dir`` (``name.json``), by name."""
    return {path.stem: json.loads(path.read_text())
            for path in sorted(Path(results_dir).glob("*.json"))}


def seed_project(root: str | Path) -> dict:
    """The seed project's reported accuracies, quoted with their source
    (``<root>/data/seed_project.json``): figures from elsewhere, kept out of the prose."""
    return json.loads((Path(root) / "data" / "seed_project.json").read_text())


def headline_rows(results: dict) -> list:
    """Rows (label, NumPy result, Keras result or None) of the headline table (the models of
    the book's registry that have a label, :func:`cifar_mlp.book_runs.headline`) for the
    models that have results."""
    return [(label, results[name], results.get(twin))
            for name, label, twin in headline() if name in results]


def table(header: list, rows: list) -> str:
    """A Markdown table: the header, its separator and one line per row of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def accuracy_cell(result: dict | None) -> str:
    """A model's test accuracy as the tables show it: with test-time augmentation, the
    accuracy of one view per image beside it; "–" for no model."""
    if result is None:
        return "–"
    cell = f"{result['test_accuracy']:.1%}"
    if "test_accuracy_one_view" in result:
        cell += f" ({result['test_accuracy_one_view']:.1%} with one view)"
    return cell


def epochs_cell(result: dict) -> str:
    """A model's epochs as the tables show them: "–" for a baseline, which has none."""
    return str(result["epochs"]) if result.get("epochs") else "–"


def seconds_per_epoch_cell(result: dict) -> str:
    """A model's median epoch in seconds; "–" without epochs (a baseline)."""
    seconds = result.get("seconds_per_epoch")
    return "–" if seconds is None else f"{seconds:.1f}"


def markdown_table(results: dict) -> str:
    """The headline table in Markdown, followed by a line naming the data and its splits."""
    header = ["model", "test accuracy", "test accuracy of its Keras twin", "epochs",
              "s/epoch", "parameters"]
    rows, splits = [], []
    for label, ours, theirs in headline_rows(results):
        parameters = ours.get("parameters")
        rows.append([label, accuracy_cell(ours), accuracy_cell(theirs), epochs_cell(ours),
                     seconds_per_epoch_cell(ours),
                     "–" if parameters is None else f"{parameters:,}"])
        split = (f"{ours['data']} data set: {ours['n_train']:,} training, "
                 f"{ours['n_val']:,} validation and {ours['n_test']:,} test images")
        if split not in splits:
            splits.append(split)
    if not rows:
        return table(header, [["(no results yet: run `make notebooks`)"] + [""] * 5])
    return table(header, rows) + "\n\nTrained and tested on the " + "; ".join(splits) + "."


def execution_table(notebooks_dir: str | Path) -> str:
    """When, where and how long each notebook of ``notebooks_dir`` ran (its provenance stamp)."""
    rows = []
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        stamp = json.loads(path.read_text())["metadata"].get(STAMP_KEY)
        rows.append([path.stem, stamp["data"], stamp["executed"], stamp["machine"],
                     f"{stamp['seconds'] / 60:.1f}"] if stamp else
                    [path.stem, "never executed by `make notebooks`", "", "", ""])
    return table(["notebook", "data", "executed", "machine", "minutes"], rows)


def training_table(results: dict, names=None, chapters=None) -> str:
    """How long each model trained, from its results file; only the models ``names`` (in
    their order) when given, so that the file of a model the book no longer trains is
    left out. ``chapters`` (name -> chapter numbers) adds the chapters that show each."""
    names = [name for name in (names or results) if "training_seconds" in results.get(name, {})]
    header = ["model", "epochs", "seconds per epoch (median)", "training minutes", "machine"]
    rows = [[name, epochs_cell(results[name]), seconds_per_epoch_cell(results[name]),
             f"{results[name]['training_seconds'] / 60:.1f}", results[name].get("machine", "")]
            for name in names]
    if chapters is not None:
        header.insert(1, "shown in chapter")
        for row in rows:
            row.insert(1, ", ".join(map(str, chapters.get(row[0], ()))) or "–")
    return table(header, rows)


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
    return table(["model", "test accuracy, NumPy / Keras", "difference (points)",
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
    return measured + "\n\n" + table(["measure", "result"], rows)


def pooled_std(groups) -> float:
    """The standard deviation of repeated measurements, pooled over ``groups`` (lists of
    repeats of one thing each): every value's spread around its own group's mean."""
    groups = [np.asarray(group, float) for group in groups if len(group) > 1]
    squares = sum(float(((group - group.mean()) ** 2).sum()) for group in groups)
    return math.sqrt(squares / sum(len(group) - 1 for group in groups))


# The level of every noise band of the book: a difference outside the band would arise by
# chance alone in 1 - BAND_LEVEL of comparisons of runs that differ only by their seeds.
BAND_LEVEL = 0.95


def t_quantile(df: int, level: float = BAND_LEVEL) -> float:
    """How many standard errors a two-sided ``level`` band spans when the standard deviation
    was estimated with ``df`` degrees of freedom: Student's t quantile (4.30 for 2, 1.96 as
    ``df`` grows)."""
    from scipy.stats import t

    return float(t.ppf((1 + level) / 2, df))


def noise(std: float, n_a: int, n_b: int, df: int, level: float = BAND_LEVEL) -> float:
    """The noise band of the difference of two means, of ``n_a`` and ``n_b`` runs whose
    results spread with standard deviation ``std``, estimated with ``df`` degrees of
    freedom: a ``level`` band (BAND_LEVEL unless several comparisons share it, see
    :func:`cifar_mlp.search.corrected_level`) from Student's t (:func:`t_quantile`
    standard errors). A smaller difference is within noise."""
    return t_quantile(df, level) * std * math.sqrt(1 / n_a + 1 / n_b)


def binomial_se(accuracy: float, n: int) -> float:
    """The standard error, in points, of an accuracy measured on ``n`` images:
    sqrt(p (1 - p) / n), the spread that sampling ``n`` images alone gives it."""
    return math.sqrt(accuracy * (1 - accuracy) / n) * 100


def sampling_band(n: int, accuracy: float = 0.5) -> float:
    """The BAND_LEVEL band, in points, of the difference of two accuracies near
    ``accuracy``, each measured on its own ``n`` images: the sampling error of the images
    alone (no seed spread). ``accuracy`` 0.5, the default, gives the widest band."""
    return t_quantile(n - 1) * math.sqrt(2) * binomial_se(accuracy, n)


def verdict(change: float, band: float, higher: str = "higher", lower: str = "lower") -> str:
    """``higher`` or ``lower`` when ``change`` is larger than ``band`` in size, else "within noise"."""
    if abs(change) <= band:
        return "within noise"
    return higher if change > 0 else lower


def against_reference(points: dict, reference: str, higher: str = "higher",
                      lower: str = "lower", level: float = BAND_LEVEL) -> dict:
    """Several settings, each measured over a few seeds (``points``: label -> values), each
    compared with the setting ``reference``: the ``noise`` band of a difference of two means
    (:func:`noise` at ``level`` for two means of the fewest seeds any setting has, the
    seeds' spread pooled over every setting, ``df`` degrees of freedom),
    and for every other label its ``changes`` (mean minus the reference's mean) and
    ``verdicts`` (:func:`verdict`)."""
    points = {label: np.asarray(values, float) for label, values in points.items()}
    if reference not in points:
        raise ValueError(f"no values for the reference {reference!r}; got {list(points)}")
    df = sum(len(values) - 1 for values in points.values())
    if df < 1:
        raise ValueError("a noise band needs a setting measured at least twice")
    std = pooled_std([list(values) for values in points.values()])
    sizes = {len(values) for values in points.values()}
    band = noise(std, min(sizes), min(sizes), df=df, level=level)
    changes = {label: float(values.mean() - points[reference].mean())
               for label, values in points.items() if label != reference}
    return {"noise": band, "df": df, "std": std, "changes": changes,
            "verdicts": {label: verdict(change, band, higher, lower)
                         for label, change in changes.items()}}


def ablation_rows(results: dict) -> list:
    """Chapter 3's leave-one-out ablation, row by row, from the results files of its
    models (``ablation_<row>_seed<seed>``): for each row of ABLATION_ROWS that has results,
    then the row without test-time augmentation (the first row's models scored on one
    view), a dict with ``label``, ``accuracies`` (validation, one per seed), ``mean``,
    ``change`` (points from the first row's mean), ``noise`` (points; :func:`noise` with
    the spread of the seeds pooled over the rows and its degrees of freedom, or
    :func:`paired_noise` for the row that scores the first row's own models), ``df``
    (the degrees of freedom of that band) and ``verdict``. Any number of seeds >= 2."""
    rows = []
    for row, (label, _) in enumerate(ABLATION_ROWS):
        runs = [result for name, result in sorted(results.items())
                if name.startswith(f"ablation_{row}_seed")]
        if runs:
            rows.append({"label": label, "accuracies": [r["val_accuracy"] for r in runs],
                         "runs": runs})
    # The seeds' spread, pooled over the rows of independent runs.
    std = pooled_std([row["accuracies"] for row in rows]) if any(
        len(row["accuracies"]) > 1 for row in rows) else math.nan
    pooled_df = sum(len(row["accuracies"]) - 1 for row in rows if len(row["accuracies"]) > 1)
    if rows and rows[0]["label"] == ABLATION_ROWS[0][0]:
        rows.append({"label": WITHOUT_TEST_TIME_AUGMENTATION, "runs": rows[0]["runs"],
                     "accuracies": [r["val_accuracy_one_view"] for r in rows[0]["runs"]],
                     "paired": True})
    for row in rows:
        row["mean"] = float(np.mean(row["accuracies"]))
        row["change"] = (row["mean"] - rows[0]["mean"]) * 100
        if row.get("paired"):  # the first row's own networks, scored again
            row["noise"] = paired_noise(row["accuracies"], rows[0]["accuracies"]) * 100
            row["df"] = len(row["accuracies"]) - 1
        else:
            row["noise"] = (noise(std, len(row["accuracies"]), len(rows[0]["accuracies"]),
                                  df=pooled_df) * 100 if pooled_df else math.nan)
            row["df"] = pooled_df
        row["verdict"] = verdict(row["change"], row["noise"])
    return rows


def paired_noise(a, b) -> float:
    """The BAND_LEVEL band (Student's t, ``len(a) - 1`` degrees of freedom) of the mean of the
    differences ``a[i] - b[i]``, for two scorings of the same runs: what differs between
    runs (seed, batches) cancels in each difference, so this band can be narrower than
    :func:`noise` for independent runs."""
    differences = np.asarray(a, float) - np.asarray(b, float)
    standard_error = float(differences.std(ddof=1)) / math.sqrt(len(differences))
    return t_quantile(len(differences) - 1) * standard_error


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
    """Chapter 3's leave-one-out ablation (:func:`ablation_rows`): each row's mean validation
    accuracy over its seeds, their range, and its change from the first row, with the noise."""
    rows, cells = ablation_rows(results), []
    for i, row in enumerate(rows):
        first = row["runs"][0]
        cells.append([row["label"], f"{row['mean']:.1%}",
                      f"{min(row['accuracies']):.1%} to {max(row['accuracies']):.1%}",
                      "" if i == 0 else f"{row['change']:+.1f} ± {row['noise']:.1f}",
                      "" if i == 0 else row["verdict"],
                      f"{first['seconds_per_epoch']:.1f}", f"{first['parameters']:,}"])
    seeds = len(rows[0]["accuracies"]) if rows else 0
    return table(["model", f"validation accuracy, mean of {seeds} seeds", "range over the seeds",
                   "change from the first row (points) ± noise", "verdict", "s/epoch",
                   "parameters"], cells)


# The trials that train one recipe (the chosen recipe of scripts/recipe_trials.py) with
# three seeds: how far apart two runs of one recipe end.
SEED_TRIALS = ("chosen_35_again", "chosen_seed1", "chosen_seed2")


def trials_noise(trials: dict) -> dict:
    """The spread of the chosen recipe's final validation accuracy over :data:`SEED_TRIALS`:
    ``std`` (points), ``df`` (its degrees of freedom) and ``noise`` (points), the size below
    which the difference between two single runs is within noise (:func:`noise` with one
    run on each side: a 95% band from Student's t with ``df`` degrees of freedom)."""
    accuracies = [trials[name]["final_val_accuracy"] * 100 for name in SEED_TRIALS]
    std, df = float(np.std(accuracies, ddof=1)), len(accuracies) - 1
    return {"accuracies": accuracies, "std": std, "df": df, "noise": noise(std, 1, 1, df=df)}


# How a trial's description (written by scripts/recipe_trials.py, kept as it was run) reads
# in the book: for a learner, not for whoever ran the trials.
READER_LABELS = {
    "none: the previous best recipe": "nothing: the starting recipe",
    " (again, to score it with mirror images)": ", seed 0, trained a second time",
    "L2 5e-4": "L2 5.0e-4",
}


def reader_label(description: str) -> str:
    """A trial's description as the table shows it (:data:`READER_LABELS`)."""
    for old, new in READER_LABELS.items():
        description = description.replace(old, new)
    return description


def trials_table(trials: dict) -> str:
    """How the best recipe was chosen (``results/recipe_trials.json``, written by
    scripts/recipe_trials.py): each variant tried and its final validation accuracy,
    one view per image and, where it was measured, averaged with the mirror images
    (``flip_averaged_val_accuracy``)."""
    rows = [[reader_label(trial["description"]), f"{trial['final_val_accuracy']:.1%}",
             f"{max(trial['val_accuracy']):.1%}",
             f"{trial['flip_averaged_val_accuracy']:.1%}"
             if "flip_averaged_val_accuracy" in trial else "not measured"]
            for trial in trials.values()]
    return table(["what was tried", "validation accuracy, last epoch",
                   "validation accuracy, best epoch",
                   "last epoch, averaged with mirror images"], rows)


def build_machine(build: dict) -> str:
    """The machine a build record names: its processor (when recorded) and its platform."""
    return f"{build['cpu']}, {build['machine']}" if "cpu" in build else build["machine"]


def build_summary(build: dict) -> str:
    """One sentence on the last ``make book`` (``results/book_build.json``, written by
    scripts/build_book.py): when, on what, how long, how much of it was training, and how
    many epochs of the best recipe that is."""
    steps = build["steps_seconds"]
    reloaded = build["models"] - build["models_trained"]
    machine = build_machine(build)
    sentence = (f"The last `make book` ({build['date'][:10]}, {machine}, {build['profile']} "
                f"profile on the {build['data']} data) took {build['seconds'] / 60:.1f} minutes: "
                f"{steps['training'] / 60:.1f} training ({build['models_trained']} of "
                f"{build['models']} models trained, {reloaded} reloaded), "
                f"{steps['rendering'] / 60:.1f} building the book.")
    if "best_recipe_epochs" in build:
        measured = ("measured in the same build" if build["best_recipe_trained_in_this_build"]
                    else "measured when that model was last trained")
        sentence += (f" In the build's own unit: {build['best_recipe_epochs']:.0f} epochs of the "
                     f"best recipe ({build['best_recipe_epoch_seconds']:.1f} s each, {measured}).")
    return sentence


def rebuild_summary(rebuild: dict) -> str:
    """One sentence on the last ``make book`` that trained nothing
    (``results/book_rebuild.json``): what republishing after an edit of the prose costs."""
    machine = build_machine(rebuild)
    steps = rebuild["steps_seconds"]
    sentence = (f"With every model reloaded, as after an edit of the prose, `make book` "
                f"({rebuild['date'][:10]}, {machine}) took {rebuild['seconds'] / 60:.1f} minutes: "
                f"{steps['training'] / 60:.1f} reloading and scoring the {rebuild['models']} "
                f"models, {steps['rendering'] / 60:.1f} building the book.")
    if "best_recipe_epochs" in rebuild:
        sentence += (f" That is {rebuild['best_recipe_epochs']:.0f} epochs of the best recipe "
                     f"({rebuild['best_recipe_epoch_seconds']:.1f} s each, measured when that "
                     f"model was last trained).")
    return sentence


def class_timing(root: str | Path) -> str:
    """The class timing of ``<root>/results/class_chapters.json`` (:func:`class_timing_table`),
    or a sentence saying it is not measured yet."""
    path = Path(root) / "results" / "class_chapters.json"
    if not path.is_file():
        return "Not measured yet: `make class-timing` writes `results/class_chapters.json`."
    return class_timing_table(json.loads(path.read_text()))


def class_timing_table(timing: dict) -> str:
    """How long each chapter ran in the class profile from fresh weights
    (``results/class_chapters.json``, written by ``make class-timing``), in minutes and in
    epochs of the best recipe timed on the same machine, with a sentence saying where."""
    epoch = timing["best_recipe_epoch_seconds"]
    seconds = {**timing["chapter_seconds"], "all chapters": sum(timing["chapter_seconds"].values())}
    rows = [[name, f"{s / 60:.1f}", f"{s / epoch:.0f}"] for name, s in seconds.items()]
    return (f"Measured {timing['date'][:10]} on {timing['cpu']}, {timing['machine']}: every "
            f"network trained for at most {timing['max_epochs']} epochs, from no saved weights; "
            f"an epoch of the best recipe took {timing['best_recipe_epoch_seconds']:.1f} s there."
            "\n\n" + table(["chapter", "minutes", "epochs of the best recipe"], rows))

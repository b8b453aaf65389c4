"""Under- and overfitting, against capacity and against the amount of data (chapter 2), and
what L2 weight decay does to them (chapter 3).

Sweeps on a subset of the training split, every network trained by the book's own
code path (:func:`cifar_mlp.runs.train_recipe`, from a recipe the caller builds) and then
scored, in inference mode, on the images it trained on and on the whole validation split:

    records = capacity_sweep(recipe, prepared, widths=[4, 32, 256], n_train=2000)
    records = data_size_sweep(recipe, prepared, sizes=[500, 1000, 2000])
    records = l2_sweep(recipe, prepared, l2s=[0.0, 1e-3, 1e-2], n_train=2000)   (chapter 3)

Each returns plain records (dicts, one per trained network: see :func:`fit_and_score`);
:func:`summarize` averages them over the seeds and :func:`contrast` compares two points
of a sweep against the spread of its seeds. The subsets are drawn from the training split
only, stratified and nested (:func:`subset_order`). Nothing here is saved or reloaded: the
runs are short. No training module imports this one, so an edit here retrains nothing.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from . import report
from .experiments import Recipe
from .preprocess import Prepared
from .runs import train_recipe
from .safety import TrainingDiverged
from .train import evaluate

# Validation images train() scores after every epoch. It only logs them (the sweeps'
# recipes have no early stopping, so they decide nothing); the final network is scored
# on the whole validation split. Fewer of them keep each run short.
MONITOR_IMAGES = 500


def subset_order(y, seed: int = 0) -> np.ndarray:
    """An order of the indices of ``y`` (the training split's labels) whose every prefix
    is a subset to train on: stratified (while every class has images left, the counts of
    two classes in a prefix differ by at most one) and nested (the first n images are
    among the first m for n < m). Random within each class, from ``seed``."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    rank = np.empty(len(y), dtype=np.int64)  # an image's place among its class's images
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        rank[members] = np.arange(len(members))
    tiebreak = rng.permutation(len(y))  # the order of the classes within a rank
    return np.lexsort((tiebreak, rank))


def check_sizes(sizes, available: int) -> list:
    """``sizes`` as a sorted list of distinct ints, or a ValueError saying what is wrong."""
    sizes = list(sizes)
    if not sizes:
        raise ValueError("sizes: expected at least one subset size, got none")
    for n in sizes:
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"sizes: expected positive whole numbers of images, got {n!r}")
        if n > available:
            raise ValueError(f"sizes: {n:,} images asked for, but the training split has "
                             f"only {available:,}")
    return sorted({int(n) for n in sizes})


def check_widths(widths) -> list:
    """``widths`` as a sorted list of distinct ints, or a ValueError saying what is wrong."""
    widths = list(widths)
    if not widths:
        raise ValueError("widths: expected at least one hidden width, got none")
    for width in widths:
        if isinstance(width, bool) or int(width) != width or width < 1:
            raise ValueError(f"widths: expected positive whole numbers of units, got {width!r}")
    return sorted({int(width) for width in widths})


def check_l2s(l2s) -> list:
    """``l2s`` as a sorted list of distinct floats, or a ValueError saying what is wrong."""
    l2s = list(l2s)
    if not l2s:
        raise ValueError("l2s: expected at least one L2 strength, got none")
    for l2 in l2s:
        if isinstance(l2, bool) or not isinstance(l2, (int, float, np.floating)):
            raise ValueError(f"l2s: expected a number, got {l2!r}")
        if not l2 >= 0:  # also false for NaN
            raise ValueError(f"l2s: expected non-negative strengths, got {l2!r}")
    return sorted({float(l2) for l2 in l2s})


def weight_norms(model) -> dict:
    """The size (Frobenius norm) of each weight matrix of ``model``: W1, W2, ..."""
    return {name: float(np.linalg.norm(w)) for name, w in model.params.items()
            if name.startswith("W")}


def fit_and_score(recipe: Recipe, prepared: Prepared, indices) -> dict:
    """Train ``recipe`` on the training images ``indices`` of ``prepared``, as the book
    trains it, and score it on them and on the validation split: a record with the
    network (``hidden``, ``parameters``), its data (``n_train``, ``seed``), its losses
    and accuracies (``train_*``, ``val_*``, ``gap``: train minus validation accuracy),
    the size of its weights (``weight_norms``) and its ``seconds``."""
    x, y = prepared.x_train[indices], prepared.y_train[indices]
    clock = time.perf_counter()
    model, history = train_recipe(recipe, x, y, prepared.x_val[:MONITOR_IMAGES],
                                  prepared.y_val[:MONITOR_IMAGES])
    train_loss, train_accuracy = evaluate(model, x, y)
    val_loss, val_accuracy = evaluate(model, prepared.x_val, prepared.y_val)
    return {"hidden": tuple(recipe.hidden), "parameters": int(model.n_parameters),
            "n_train": len(indices), "seed": recipe.seed, "epochs": history.epochs,
            "train_loss": float(train_loss), "train_accuracy": float(train_accuracy),
            "val_loss": float(val_loss), "val_accuracy": float(val_accuracy),
            "gap": float(train_accuracy - val_accuracy), "weight_norms": weight_norms(model),
            "seconds": time.perf_counter() - clock}



def fit_and_score_or_diverged(recipe: Recipe, prepared: Prepared, indices, when_diverged) -> dict:
    """:func:`fit_and_score`'s record with ``diverged`` False; when training diverges
    (:class:`~cifar_mlp.safety.TrainingDiverged`: the loss became NaN or exploded), a record
    of the network and its data with ``diverged`` True, its ``seconds``, and the fields
    ``when_diverged(error)`` returns (what the caller counts a failed run as), so that one
    setting too extreme cannot stop a sweep."""
    clock = time.perf_counter()
    try:
        return {**fit_and_score(recipe, prepared, indices), "diverged": False}
    except TrainingDiverged as error:
        return {"hidden": tuple(recipe.hidden), "n_train": len(indices), "seed": recipe.seed,
                **when_diverged(error), "seconds": time.perf_counter() - clock, "diverged": True}


def capacity_sweep(recipe: Recipe, prepared: Prepared, *, widths, n_train: int,
                   seeds=(0, 1, 2), depth: int | None = None, subset_seed: int = 0) -> list:
    """One record (:func:`fit_and_score`) per width and seed: ``recipe`` with ``depth``
    hidden layers (default: as many as the recipe's) of ``width`` units each, trained on
    the same ``n_train`` training images (the first of :func:`subset_order`), each seed
    its own initialization and minibatches. The record adds ``width``."""
    widths = check_widths(widths)
    (n_train,) = check_sizes([n_train], len(prepared.y_train))
    depth = len(recipe.hidden) if depth is None else depth
    if isinstance(depth, bool) or int(depth) != depth or depth < 1:
        raise ValueError(f"depth: expected a positive number of hidden layers, got {depth!r}")
    indices = subset_order(prepared.y_train, subset_seed)[:n_train]
    return [{"width": width, **fit_and_score(
                replace(recipe, hidden=(width,) * int(depth), seed=seed), prepared, indices)}
            for width in widths for seed in seeds]


def data_size_sweep(recipe: Recipe, prepared: Prepared, *, sizes, seeds=(0, 1, 2),
                    subset_seed: int = 0) -> list:
    """One record (:func:`fit_and_score`) per size and seed: ``recipe`` trained on the
    first ``size`` images of :func:`subset_order` (nested: a larger subset holds every
    smaller one), each seed its own initialization and minibatches."""
    sizes = check_sizes(sizes, len(prepared.y_train))
    order = subset_order(prepared.y_train, subset_seed)
    return [fit_and_score(replace(recipe, seed=seed), prepared, order[:size])
            for size in sizes for seed in seeds]


def l2_sweep(recipe: Recipe, prepared: Prepared, *, l2s, n_train: int, seeds=(0, 1, 2),
             subset_seed: int = 0) -> list:
    """One record (:func:`fit_and_score`) per L2 strength and seed: ``recipe`` with that
    ``l2``, trained on the same ``n_train`` training images. The record adds ``l2``."""
    l2s = check_l2s(l2s)
    (n_train,) = check_sizes([n_train], len(prepared.y_train))
    indices = subset_order(prepared.y_train, subset_seed)[:n_train]
    return [{"l2": l2, **fit_and_score(replace(recipe, l2=l2, seed=seed), prepared, indices)}
            for l2 in l2s for seed in seeds]


FIELDS = ("train_accuracy", "val_accuracy", "gap", "train_loss", "val_loss")


def summarize(records: list, key: str) -> list:
    """The records grouped by ``key`` ("width" or "n_train"), in its order: for each
    group, ``key``, ``hidden``, ``parameters``, ``n_train``, ``runs``, the mean of each of FIELDS
    over the seeds (accuracies as fractions) and of each weight matrix's norm."""
    rows = []
    for value in sorted({record[key] for record in records}):
        group = [record for record in records if record[key] == value]
        row = {key: value, "hidden": group[0]["hidden"], "parameters": group[0]["parameters"],
               "n_train": group[0]["n_train"], "runs": len(group)}
        row.update({field: float(np.mean([record[field] for record in group]))
                    for field in FIELDS})
        row["weight_norms"] = {name: float(np.mean([record["weight_norms"][name] for record in group]))
                               for name in group[0]["weight_norms"]}
        rows.append(row)
    return rows


def contrast(records: list, key: str, field: str, low, high) -> dict:
    """How ``field`` (an accuracy or the gap) changes, in points, from the runs with
    ``key`` == ``low`` to those with ``key`` == ``high``: the difference of their means
    over the seeds (``change``), its noise band (``band``: :func:`cifar_mlp.report.noise`
    with the seeds' spread pooled over every group of the sweep, ``df`` degrees of
    freedom) and the ``verdict`` ("higher", "lower" or "within noise")."""
    groups = {}
    for record in records:
        groups.setdefault(record[key], []).append(record[field] * 100)
    for value in (low, high):
        if value not in groups:
            raise ValueError(f"contrast: no runs with {key} = {value!r}")
    df = sum(len(group) - 1 for group in groups.values())
    if df < 1:
        raise ValueError("contrast: a noise band needs at least two seeds of some point")
    std = report.pooled_std(groups.values())
    band = report.noise(std, len(groups[low]), len(groups[high]), df=df)
    change = float(np.mean(groups[high]) - np.mean(groups[low]))
    return {"change": change, "band": band, "df": df, "std": std,
            "verdict": report.verdict(change, band)}

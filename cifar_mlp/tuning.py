"""SGD, momentum and Adam on the real network, each at its own tuned learning rate (chapter 3).

Chapter 3 compares the optimizers on a quadratic first; here they train the seed's colour
network on CIFAR-10. A method run at another method's best rate says little about the
method, so each gets its own: a sweep of learning rates per method, a few seeds each,
then the best rate of each method trained again with new seeds, and the methods
compared against the spread of those seeds:

    records = rate_sweep(recipe, prepared, methods=METHODS, rates=grids, n_train=1000,
                         seeds=(0, 1))
    best = tuned(records)          # per method: its best rate, and whether it is at an edge
    confirmed = confirm(recipe, prepared, records, methods=METHODS, seeds=(10, 11, 12))
    comparisons(confirmed)         # every pair of methods: the change, its band, a verdict

Every network trains by the book's own path (:func:`cifar_mlp.generalization.fit_and_score`,
which calls :func:`cifar_mlp.runs.train_recipe`: an edit of the optimizers' formulas
changes what trains here) on a stratified subset of the training split, and is scored on
the whole validation split. A run whose loss becomes NaN or explodes is recorded as
diverged (:func:`scored_run`), not raised, so that one rate too high cannot stop a sweep.
Nothing here is saved or reloaded, and no training module imports this one.
"""

from __future__ import annotations

import math
from dataclasses import fields, replace
from itertools import combinations

import numpy as np

from .experiments import Recipe
from .generalization import check_sizes, contrast, fit_and_score_or_diverged, subset_order
from .preprocess import Prepared

# The three methods of chapter 3, as changes to a recipe. Adam keeps Keras's defaults
# (beta1 0.9, beta2 0.999): only its learning rate is tuned, as for the other two.
METHODS = {
    "SGD": {"optimizer": "sgd", "momentum": 0.0, "nesterov": False},
    "momentum 0.9": {"optimizer": "sgd", "momentum": 0.9, "nesterov": False},
    "Adam": {"optimizer": "adam"},
}

# A grid needs this many rates for its best one to be able to lie inside it.
MIN_RATES = 3


def check_methods(methods: dict) -> dict:
    """``methods`` (label -> recipe changes) as a dict, or a ValueError saying what is
    wrong: no method, a change that is not a recipe field, or one that sets what the
    sweep itself sets (the learning rate, the seed)."""
    methods = dict(methods)
    if not methods:
        raise ValueError("methods: expected at least one method, got none")
    known = {field.name for field in fields(Recipe)}
    for label, changes in methods.items():
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"methods[{label!r}]: {sorted(unknown)} are not recipe fields")
        if {"lr", "seed"} & set(changes):
            raise ValueError(f"methods[{label!r}]: the sweep sets lr and seed itself; "
                             f"got {sorted({'lr', 'seed'} & set(changes))}")
    return methods


def check_rates(rates: dict, methods: dict) -> dict:
    """``rates`` (method label -> learning rates) with each grid as a sorted list of
    distinct floats, or a ValueError saying what is wrong: a method without a grid or a
    grid without a method, fewer than MIN_RATES rates, a rate that is not positive."""
    rates = dict(rates)
    if set(rates) != set(methods):
        raise ValueError(f"rates: expected one grid per method, {sorted(methods)}; "
                         f"got grids for {sorted(rates)}")
    grids = {}
    for label in methods:
        grid = sorted({float(lr) for lr in rates[label]})
        for lr in grid:
            if not (math.isfinite(lr) and lr > 0):
                raise ValueError(f"rates[{label!r}]: expected positive, finite learning "
                                 f"rates, got {lr!r}")
        if len(grid) < MIN_RATES:
            raise ValueError(f"rates[{label!r}]: expected at least {MIN_RATES} distinct "
                             f"learning rates, so that the best can lie inside the grid; "
                             f"got {grid}")
        grids[label] = grid
    return grids


def check_seeds(seeds, at_least: int = 1) -> list:
    """``seeds`` as a list of distinct ints, at least ``at_least`` of them, or a
    ValueError saying what is wrong."""
    seeds = list(seeds)
    for seed in seeds:
        if isinstance(seed, bool) or int(seed) != seed or seed < 0:
            raise ValueError(f"seeds: expected whole numbers from 0, got {seed!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds: expected distinct seeds, got {seeds}")
    if len(seeds) < at_least:
        raise ValueError(f"seeds: expected at least {at_least}, got {seeds}")
    return [int(seed) for seed in seeds]


def scored_run(recipe: Recipe, prepared: Prepared, indices) -> dict:
    """:func:`~cifar_mlp.generalization.fit_and_score`'s record with ``diverged``: False;
    or, when training diverged (the loss became NaN or exploded, and
    :func:`~cifar_mlp.train.train` raised :class:`~cifar_mlp.safety.TrainingDiverged`), a
    record with ``diverged``: True, the epochs completed before it, its ``seconds``, and
    the validation and training accuracy of chance (one class in ``len(class_names)``).
    Chance is what a network whose weights have become NaN scores (it gives every image
    the same class); the guard hands back the best weights so far, but a run that
    diverged is a rate that failed, and counts as one when the rates are compared."""
    chance = 1 / len(prepared.class_names)
    return fit_and_score_or_diverged(recipe, prepared, indices, lambda stop: {
        "epochs": stop.history.epochs, "train_accuracy": chance, "val_accuracy": chance})


def rate_sweep(recipe: Recipe, prepared: Prepared, *, methods: dict, rates: dict,
               n_train: int, seeds=(0, 1), subset_seed: int = 0) -> list:
    """One record (:func:`scored_run`) per method, learning rate and seed, in that order:
    ``recipe`` with the method's changes (``methods``: label -> recipe changes, such as
    :data:`METHODS`) at each rate of its grid (``rates``: label -> learning rates), trained
    on the same ``n_train`` training images (the first of
    :func:`~cifar_mlp.generalization.subset_order`), each seed its own initialization and
    minibatches. The record adds ``method`` and ``lr``. Every input is checked before
    the first run."""
    methods = check_methods(methods)
    grids = check_rates(rates, methods)
    seeds = check_seeds(seeds)
    (n_train,) = check_sizes([n_train], len(prepared.y_train))
    indices = subset_order(prepared.y_train, subset_seed)[:n_train]
    return [{"method": label, "lr": lr, **scored_run(
                replace(recipe, **changes, lr=lr, seed=seed), prepared, indices)}
            for label, changes in methods.items() for lr in grids[label] for seed in seeds]


def summarize(records: list) -> list:
    """The records grouped by method (in their order) and learning rate (ascending): for
    each, ``method``, ``lr``, ``runs``, ``diverged`` (how many of them) and
    ``val_accuracy``, the mean over the seeds (a diverged run at chance)."""
    rows = []
    for method in dict.fromkeys(record["method"] for record in records):
        for lr in sorted({record["lr"] for record in records if record["method"] == method}):
            group = [r for r in records if r["method"] == method and r["lr"] == lr]
            rows.append({"method": method, "lr": lr, "runs": len(group),
                         "diverged": sum(r["diverged"] for r in group),
                         "val_accuracy": float(np.mean([r["val_accuracy"] for r in group]))})
    return rows


def tuned(records: list) -> dict:
    """Each method's best learning rate in a :func:`rate_sweep`, by method: ``lr``, the
    rate of the highest mean validation accuracy over the seeds (the smallest of equal
    ones), that ``val_accuracy``, the ``grid`` of rates tried, and ``at_edge``: whether
    ``lr`` is the smallest or largest of the grid, where the best may lie beyond it (then
    widen the grid). The chosen mean is biased upward: it is the best of several noisy
    means, picked on the runs that score it (:func:`confirm` measures it again)."""
    best = {}
    for row in summarize(records):
        if row["method"] not in best or row["val_accuracy"] > best[row["method"]]["val_accuracy"]:
            best[row["method"]] = {"lr": row["lr"], "val_accuracy": row["val_accuracy"]}
    for method, choice in best.items():
        grid = sorted({r["lr"] for r in records if r["method"] == method})
        choice.update(grid=grid, at_edge=choice["lr"] in (grid[0], grid[-1]))
    return best


def confirm(recipe: Recipe, prepared: Prepared, sweep: list, *, methods: dict,
            seeds=(10, 11, 12), subset_seed: int = 0) -> list:
    """Each method trained again at its tuned rate (:func:`tuned` of the ``sweep``'s
    records), on the sweep's training images, with new ``seeds``: one record
    (:func:`scored_run`, with ``method`` and ``lr``) per method and seed.

    Why new seeds: the sweep chose each rate because its seeds scored best there, so
    their mean is the best of several noisy means and overstates the rate; runs whose
    seeds took no part in the choice measure it without that bias. (The validation
    images are still the ones the rates were chosen on: only the test set, which this
    chapter keeps for the final models, is untouched by the choice.) ``methods``: the
    sweep's (label -> recipe changes); ``seeds``: at least two (a noise band needs a
    spread), none of them the sweep's; ``subset_seed``: the sweep's."""
    methods = check_methods(methods)
    seeds = check_seeds(seeds, at_least=2)
    best = tuned(sweep)
    missing = set(best) - set(methods)
    if missing:
        raise ValueError(f"methods: no recipe changes for the sweep's {sorted(missing)}")
    reused = sorted(set(seeds) & {record["seed"] for record in sweep})
    if reused:
        raise ValueError(f"seeds: {reused} already trained in the sweep; confirm with new "
                         f"seeds, or the choice's bias stays in the result")
    sizes = {record["n_train"] for record in sweep}
    if len(sizes) != 1:
        raise ValueError(f"sweep: expected one training subset, got sizes {sorted(sizes)}")
    indices = subset_order(prepared.y_train, subset_seed)[:sizes.pop()]
    return [{"method": label, "lr": choice["lr"], **scored_run(
                replace(recipe, **methods[label], lr=choice["lr"], seed=seed), prepared, indices)}
            for label, choice in best.items() for seed in seeds]


def comparisons(confirmed: list) -> list:
    """Every pair of methods of :func:`confirm`'s records, in their order: ``first``,
    ``second`` and :func:`~cifar_mlp.generalization.contrast` of their validation
    accuracy (``change``, second minus first in points, its ``band``, ``df`` and
    ``verdict``), the seeds' spread pooled over every method. Between methods that do
    not differ, a band is crossed by chance alone with probability 1 -
    :data:`~cifar_mlp.report.BAND_LEVEL`; with three pairs, three such chances."""
    methods = list(dict.fromkeys(record["method"] for record in confirmed))
    return [{"first": first, "second": second,
             **contrast(confirmed, "method", "val_accuracy", first, second)}
            for first, second in combinations(methods, 2)]


def sgd_equivalent(lr: float, momentum: float) -> float:
    """The plain-SGD rate whose steps momentum's match on a gradient that changes slowly:
    the velocity v = momentum * v - lr * g settles at -lr * g / (1 - momentum), so
    momentum 0.9 steps ten times as far as its rate alone."""
    return lr / (1 - momentum)

"""Searching hyperparameters: log-uniform random search on a cheap proxy, coarse to fine,
and a winner judged with a band that counts the comparisons (chapter 3).

A *space* is a plain dict, from a recipe setting to how to draw it:

    space = {"lr": ("log", 1e-3, 1.0),        # log-uniform: each decade the same share
             "dropout": ("uniform", 0.0, 0.5),  # uniform on the linear scale
             "batch_size": ("choice", [64, 128, 256])}

A search trains short runs of a recipe (the *proxy*) on a stratified subset of the training
split, one per configuration drawn from the space, and scores each on the validation split,
as :mod:`cifar_mlp.generalization` does (:func:`~cifar_mlp.generalization.fit_and_score`,
the book's own training path):

    coarse = random_search(proxy, prepared, space, n_trials=12, n_train=4000, seed=0)
    fine = random_search(proxy, prepared, narrow(space, coarse, top=3), n_trials=8,
                         n_train=4000, seed=len(coarse))
    contenders = {**finalists(coarse + fine, space, top=2),
                  "current": settings(RECIPES["best"], space)}
    confirmation = confirm(proxy, prepared, contenders, seeds=new_seeds(coarse + fine, 3),
                           n_train=4000)
    judged = judge(confirmation, reference="current")

Why random, and why on a log scale: when only a few of the settings matter, a grid of
n points a side tries only n values of each, while n*n random trials try n*n different
values of every setting (Bergstra and Bengio 2012, "Random search for hyper-parameter
optimization"). A learning rate or an L2 strength matters by its order of magnitude, so
it is drawn uniformly in log10: each decade gets the same share of the trials, where a
uniform draw from 1e-4 to 1e-1 would put 90% of them in the last decade.

Why the winner needs a second look: every trial's accuracy is its configuration's true
mean plus seed noise, and the best of n trials is picked *because* its noise was lucky.
With a seed spread ``std`` it lands on average up to :func:`expected_maximum` (n) * ``std``
above its own mean (exactly that when all n are equally good). So the few best
configurations, and the one they would replace, are trained again with seeds no trial
used (:func:`confirm`), and each is compared with the reference, the one they would
replace (:func:`judge`). That is k - 1 comparisons for k contenders, and the chance that
one of them crosses a 95% band by luck alone grows with k, up to (k - 1) * 5%; a
Bonferroni correction keeps it at most 5%: each band at the level 1 - 0.05 / (k - 1)
(:func:`corrected_level`), wider than one comparison's. The finalists were chosen on
other seeds, so their new scores carry no selection. The confirmation reuses the
validation split, though: it removes the luck of the seeds, not that of the images; the
test set is not touched.

Nothing here is saved or reloaded, and no training module imports this one.
"""

from __future__ import annotations

import math
from dataclasses import fields, replace

import numpy as np
from scipy import integrate, stats

from . import report
from .experiments import Recipe
from .generalization import check_sizes, fit_and_score_or_diverged, subset_order
from .preprocess import Prepared

KINDS = ("log", "uniform", "choice")
# Recipe fields a search does not draw: the search sets the seed; names are labels.
NOT_SEARCHED = ("name", "seed", "description")


def check_space(space: dict) -> None:
    """A ValueError saying what is wrong with ``space``, if anything."""
    if not space:
        raise ValueError("space: expected at least one setting to search, got none")
    for name, spec in space.items():
        if not isinstance(spec, tuple) or not spec or spec[0] not in KINDS:
            raise ValueError(f"space[{name!r}]: unknown kind in {spec!r}; expected a tuple "
                             f"starting with one of {KINDS}")
        if spec[0] == "choice":
            if len(spec) != 2 or not isinstance(spec[1], (list, tuple)):
                raise ValueError(f"space[{name!r}]: expected ('choice', list of values), "
                                 f"got {spec!r}")
            if not spec[1]:
                raise ValueError(f"space[{name!r}]: a choice needs at least one value")
            continue
        if len(spec) != 3:
            raise ValueError(f"space[{name!r}]: expected ({spec[0]!r}, low, high), got {spec!r}")
        kind, low, high = spec
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"space[{name!r}]: bounds must be finite, got {low!r}, {high!r}")
        if low >= high:
            raise ValueError(f"space[{name!r}]: low must be below high, got {low!r}, {high!r}")
        if kind == "log" and low <= 0:
            raise ValueError(f"space[{name!r}]: a log range needs positive bounds, got {low!r}")


def check_count(n, what: str) -> int:
    """``n`` as an int, or a ValueError unless it is a whole number of at least 1."""
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"{what}: expected a whole number of at least 1, got {n!r}")
    return int(n)


def sample(space: dict, n: int, rng: np.random.Generator) -> list:
    """``n`` configurations (dicts, one value per name of ``space``) drawn at random:
    "log" uniformly in log10 between its bounds, "uniform" uniformly between them,
    "choice" one of its values, each as likely."""
    check_space(space)
    n = check_count(n, "n")
    drawn = {}
    for name, spec in space.items():
        if spec[0] == "log":
            drawn[name] = (10 ** rng.uniform(math.log10(spec[1]), math.log10(spec[2]), n)).tolist()
        elif spec[0] == "uniform":
            drawn[name] = rng.uniform(spec[1], spec[2], n).tolist()
        else:
            drawn[name] = [spec[1][i] for i in rng.integers(0, len(spec[1]), n)]
    return [{name: values[i] for name, values in drawn.items()} for i in range(n)]


def check_settings(space: dict) -> None:
    """A ValueError for any name of ``space`` that is not a setting of a Recipe a search
    may draw (see NOT_SEARCHED)."""
    settings = {field.name for field in fields(Recipe)} - set(NOT_SEARCHED)
    for name in space:
        if name not in settings:
            raise ValueError(f"space: {name!r} is not a recipe setting a search can draw; "
                             f"expected one of {sorted(settings)}")


def scored_trial(recipe: Recipe, prepared: Prepared, indices) -> dict:
    """:func:`~cifar_mlp.generalization.fit_and_score`'s record, with ``diverged`` False;
    for a run whose loss blew up (:class:`~cifar_mlp.safety.TrainingDiverged`, as the top
    of a learning-rate range may), a record with ``diverged`` True, the ``epochs`` it
    reached and NaN accuracies: a search notes the failure and goes on."""
    return fit_and_score_or_diverged(recipe, prepared, indices, lambda error: {
        "epochs": error.epoch, "train_accuracy": math.nan, "val_accuracy": math.nan})


def random_search(recipe: Recipe, prepared: Prepared, space: dict, *, n_trials: int,
                  n_train: int, seed: int = 0, subset_seed: int = 0) -> list:
    """One record per trial: ``recipe`` with a configuration drawn from ``space``
    (:func:`sample`, from ``seed``) trained on the first ``n_train`` images of
    :func:`~cifar_mlp.generalization.subset_order` (the same for every trial) and scored
    (:func:`scored_trial`); the record adds the configuration.
    Trial i trains with seed ``seed + i``, its own initialization and minibatches: a
    second round with ``seed`` = the number of trials before it shares no seed with them."""
    check_space(space)
    check_settings(space)
    n_trials = check_count(n_trials, "n_trials")
    (n_train,) = check_sizes([n_train], len(prepared.y_train))
    indices = subset_order(prepared.y_train, subset_seed)[:n_train]
    configurations = sample(space, n_trials, np.random.default_rng(seed))
    return [{**scored_trial(replace(recipe, seed=seed + i, **configuration), prepared, indices),
             **configuration}
            for i, configuration in enumerate(configurations)]


def ranked(records: list) -> list:
    """The records of the trials that did not diverge, best validation accuracy first."""
    return sorted((record for record in records if not record["diverged"]),
                  key=lambda record: record["val_accuracy"], reverse=True)


def narrow(space: dict, records: list, top: int, margin: float = 0.1) -> dict:
    """The next, finer space (coarse to fine): each "log" or "uniform" range shrunk to the
    span of the ``top`` trials of ``records`` with the best validation accuracy, widened by
    ``margin`` times the old range on each side (in log10 for "log", so the margin is a
    share of the decades) and clipped to the old range: never wider than it. A "choice"
    stays as it was: a few trials say little about which of its values is best."""
    check_space(space)
    top = check_count(top, "top")
    best = ranked(records)[:top]
    if len(best) < top:
        raise ValueError(f"top: {top} trials asked for, but only {len(best)} did not diverge")
    if not margin >= 0:
        raise ValueError(f"margin: expected a share of the range of at least 0, got {margin!r}")
    finer = {}
    for name, spec in space.items():
        if spec[0] == "choice":
            finer[name] = spec
            continue
        if any(name not in record for record in best):
            raise ValueError(f"records: the trials have no value of {name!r}")
        scale = math.log10 if spec[0] == "log" else float
        low, high = scale(spec[1]), scale(spec[2])
        values = [scale(record[name]) for record in best]
        new_low = max(low, min(values) - margin * (high - low))
        new_high = min(high, max(values) + margin * (high - low))
        if spec[0] == "log":
            new_low, new_high = 10 ** new_low, 10 ** new_high
        finer[name] = (spec[0], new_low, new_high)
    return finer


def describe(configuration: dict) -> str:
    """A configuration as the tables and labels show it: "lr 0.041, l2 0.00013"."""
    return ", ".join(f"{name} {value:.2g}" if isinstance(value, float) else f"{name} {value}"
                     for name, value in configuration.items())


def table(records: list, space: dict) -> str:
    """The trials as a Markdown table (:func:`cifar_mlp.report.table`), best first and
    the diverged ones last: each searched setting, the validation accuracy, the seconds."""
    diverged = [record for record in records if record["diverged"]]
    rows = [[f"{record[name]:.3g}" if isinstance(record[name], float) else record[name]
             for name in space]
            + ["diverged" if record["diverged"] else f"{record['val_accuracy']:.1%}",
               f"{record['seconds']:.1f}"]
            for record in ranked(records) + diverged]
    return report.table([*space, "validation accuracy", "seconds"], rows)


def settings(recipe: Recipe, space: dict) -> dict:
    """The configuration ``recipe`` itself has, for the names of ``space``: the recipe as
    a contender beside the search's finalists."""
    return {name: getattr(recipe, name) for name in space}


def finalists(records: list, space: dict, top: int) -> dict:
    """The configurations of the ``top`` trials with the best validation accuracy, best
    first, each labelled by :func:`describe`: the contenders :func:`confirm` retrains."""
    best = ranked(records)[:check_count(top, "top")]
    labelled = {}
    for record in best:
        configuration = {name: record[name] for name in space}
        labelled[describe(configuration)] = configuration
    if len(labelled) < len(best):
        raise ValueError("finalists: two of the best trials read alike to two digits; "
                         "keep the better one and take the next")
    return labelled


def new_seeds(records: list, n: int) -> list:
    """``n`` seeds that none of ``records`` trained with: the ones after the largest."""
    first = max(record["seed"] for record in records) + 1
    return list(range(first, first + check_count(n, "n")))


def confirm(recipe: Recipe, prepared: Prepared, contenders: dict, *, seeds, n_train: int,
            subset_seed: int = 0) -> list:
    """One record per contender and seed: ``recipe`` with the contender's configuration
    (``contenders``: label -> configuration) trained on the same images as the search
    (:func:`random_search` with ``n_train`` and ``subset_seed``) with each of ``seeds``,
    which should be seeds no trial used (:func:`new_seeds`); scored as a trial
    (:func:`scored_trial`). The record adds ``label`` and the configuration."""
    seeds = list(seeds)
    if len(seeds) < 2:
        raise ValueError(f"seeds: a noise band needs at least two seeds, got {seeds!r}")
    for configuration in contenders.values():
        check_settings(configuration)
    (n_train,) = check_sizes([n_train], len(prepared.y_train))
    indices = subset_order(prepared.y_train, subset_seed)[:n_train]
    return [{"label": label, **scored_trial(replace(recipe, seed=seed, **configuration),
                                            prepared, indices), **configuration}
            for label, configuration in contenders.items() for seed in seeds]


def corrected_level(comparisons: int) -> float:
    """The level of each band when ``comparisons`` differences are judged at once, so that
    the chance that any of them crosses its band by luck alone stays at most
    1 - BAND_LEVEL (Bonferroni): 1 - (1 - BAND_LEVEL) / comparisons."""
    return 1 - (1 - report.BAND_LEVEL) / check_count(comparisons, "comparisons")


def judge(records: list, reference: str) -> dict:
    """Every contender of :func:`confirm`'s ``records`` against the one labelled
    ``reference`` (the setting the others would replace):
    :func:`cifar_mlp.report.against_reference` on their validation accuracies in points,
    its band at :func:`corrected_level` for the number of comparisons ("higher": a
    contender beats the reference beyond the band); adds ``means`` (label -> points),
    ``level`` and ``comparisons``."""
    diverged = sorted({record["label"] for record in records if record["diverged"]})
    if diverged:
        raise ValueError(f"judge: {diverged} diverged with a new seed: no accuracy to compare")
    points = {}
    for record in records:
        points.setdefault(record["label"], []).append(record["val_accuracy"] * 100)
    if len(points) < 2:
        raise ValueError(f"judge: expected at least two contenders, got {list(points)}")
    comparisons = len(points) - 1
    level = corrected_level(comparisons)
    judged = report.against_reference(points, reference, level=level)
    return {**judged, "level": level, "comparisons": comparisons,
            "means": {label: float(np.mean(values)) for label, values in points.items()}}


def expected_maximum(n: int) -> float:
    """The mean of the largest of ``n`` independent standard normal draws (0 for one,
    1/sqrt(pi) for two, 1.54 for ten): in seed spreads, how far the best of n equally
    good trials lands above their common mean, on average. When the configurations
    differ, the winner's luck is smaller: it is at most the largest luck of all n.
    The largest of n draws has the density n * pdf(x) * cdf(x)**(n - 1); its mean is
    the integral of x times that."""
    n = check_count(n, "n")

    def weighted_density(x):
        return x * n * stats.norm.pdf(x) * stats.norm.cdf(x) ** (n - 1)

    return float(integrate.quad(weighted_density, -np.inf, np.inf)[0])

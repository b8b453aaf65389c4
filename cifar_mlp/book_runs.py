"""Every model the chapters show, trained before the book is rendered (``make book``).

    python -m cifar_mlp.book_runs      # trains what is missing or stale, then stops

Chapters 3 and 4 call :func:`cifar_mlp.runs.run` for each model listed by
:func:`book_runs`, with the same data and settings; ``run`` reloads what was trained
here. So the book is rendered from finished training: every page, the summary pages
that Sphinx executes before the chapters included, reads the same results files, and
the terminal shows the training's progress (model, epoch, time left) instead of a
silent hour inside jupyter-book. An interrupted run resumes where it stopped: each
model is saved as soon as it is trained and reloaded the next time.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

from .baselines import run_baseline
from .experiments import RECIPES, ablation_recipes
from .keras_cnn import CNN, CNN_PERMUTED
from .keras_twin import KERAS
from .preprocess import prepare
from .profiles import Profile, active_profile, load_data, project_root
from .runs import NUMPY, run

BASELINE = "baseline"  # the framework of a baseline: cifar_mlp.baselines, no training

# The recipes chapter 4 also trains in Keras, and the seeds of the NumPy repeats that
# show how far apart two runs of one recipe end.
KERAS_TWINS = ("seed_gray", "seed_rgb", "best", "seed_keras")
REPEAT_SEEDS = (1, 2)

# How each model's inputs are prepared: grayscale or colour, standardized or raw.
INPUTS = {"gray": {"mode": "gray"}, "rgb": {"mode": "rgb"},
          "raw": {"mode": "rgb", "standardize": False}}


def seed_repeats() -> list:
    """The seed grayscale recipe again, with other seeds (chapter 4): the cheapest
    network, so that the yardstick costs two minutes, not a quarter of the build."""
    return [replace(RECIPES["seed_gray"], name=f"seed_gray_seed{seed}", seed=seed)
            for seed in REPEAT_SEEDS]


def book_runs(profile: Profile) -> list:
    """(model, inputs, framework) for every model of chapters 3 and 4 in ``profile``, in
    their order: a :class:`~cifar_mlp.experiments.Recipe` and the framework that trains
    it, or the name of a baseline (:mod:`cifar_mlp.baselines`) and BASELINE."""
    runs = [("majority", "rgb", BASELINE), ("knn", "rgb", BASELINE),
            (RECIPES["linear"], "rgb", NUMPY)]
    runs += [(RECIPES["seed_gray"], "gray", NUMPY), (RECIPES["seed_rgb"], "rgb", NUMPY)]
    runs += [(recipe, "rgb" if standardized else "raw", NUMPY)
             for _, _, standardized, recipe in ablation_recipes(seeds=profile.ablation_seeds)]
    runs += [(RECIPES["best"], "rgb", NUMPY), (RECIPES["seed_keras"], "rgb", NUMPY)]
    runs += [(recipe, "gray", NUMPY) for recipe in seed_repeats()]
    runs += [(RECIPES[name], RECIPES[name].mode, KERAS) for name in KERAS_TWINS]
    runs += [(RECIPES["cnn"], "rgb", CNN), (RECIPES["cnn"], "rgb", CNN_PERMUTED)]
    return runs


def result_names(profile: Profile) -> list:
    """The results-file stem of every model of :func:`book_runs`, in their order."""
    return [model if framework == BASELINE else framework.file_prefix + model.name
            for model, _, framework in book_runs(profile)]


def main() -> int:
    """Train (or reload) every model of :func:`book_runs` in the active profile."""
    profile = active_profile()
    data = load_data(profile)
    settings = profile.run_settings(project_root(), data)
    prepared = {}
    runs = book_runs(profile)
    started = time.perf_counter()
    for number, (model, inputs, framework) in enumerate(runs, 1):
        if inputs not in prepared:
            prepared[inputs] = prepare(data, n_val=profile.n_val_for(data), seed=0, **INPUTS[inputs])
        if framework == BASELINE:
            print(f"[{number}/{len(runs)}] {model} (baseline)", flush=True)
            result = run_baseline(model, prepared[inputs], **settings)
        else:
            print(f"[{number}/{len(runs)}] {model.name} ({framework.name})", flush=True)
            result = run(model, prepared[inputs], framework=framework, **settings)
        print(f"    validation accuracy {result['val_accuracy']:.1%}", flush=True)
    print(f"all {len(runs)} models ready after {(time.perf_counter() - started) / 60:.1f} minutes "
          f"({profile.name} profile, {data.source} data)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

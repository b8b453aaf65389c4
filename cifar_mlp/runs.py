"""One training run of a recipe, in NumPy or in Keras, trained once and then reloaded.

    result = run(RECIPES["seed_rgb"], prepared, results_dir=..., weights_dir=...)
    twin = run(RECIPES["seed_rgb"], prepared, framework=KERAS, ...)   # cifar_mlp.keras_twin

trains the recipe (or reloads its weights when the same recipe was already trained on
the same data by the same code and framework), evaluates it on the test set once (with
test-time augmentation when the recipe asks for it), and writes
``<results_dir>/<name>.json`` (``keras_<name>.json`` for Keras): test and validation
accuracy, epochs, timing, parameter count, the data it saw and the recipe itself. The
book and the README read these files; no number is typed by hand.

A framework is an object that says how to fit, evaluate, save and load its model
(:class:`NumpyFramework` here, :class:`cifar_mlp.keras_twin.KerasFramework` for Keras);
everything else (the epoch cap, the cache of trained weights, the results record) is
done here, once, for both.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Protocol, runtime_checkable

from .augment import n_views
from .experiments import RECIPES, Recipe, build, recipe_inputs
from .model import MLP
from .preprocess import Prepared
from .provenance import TRAINING_MODULES, code_fingerprint, depends_on
from .train import History, evaluate, train

# The code that scores a trained model: this module and all it imports.
SCORING_MODULES = depends_on("runs")


@runtime_checkable
class Framework(Protocol):
    """What :func:`run` asks of a framework that trains a recipe: the NumPy MLP
    (:data:`NUMPY`), its Keras twin (:data:`cifar_mlp.keras_twin.KERAS`), the
    convolutional networks (:mod:`cifar_mlp.keras_cnn`) and the baselines
    (:data:`cifar_mlp.baselines.BASELINES`, whose "recipe" is a Baseline) all provide it."""

    name: str  # in the results file and the progress lines
    file_prefix: str  # of its results and weights files ("" for NumPy, "keras_" ...)

    def key(self, recipe: Recipe, prepared: Prepared) -> dict:
        """What a saved model must match to be reused, part by part."""

    def fit(self, recipe: Recipe, prepared: Prepared, progress: bool) -> tuple:
        """The trained model and its :class:`~cifar_mlp.train.History`."""

    def evaluate(self, model, x, y, test_shift: int | None = None) -> tuple[float, float]:
        """Plain cross-entropy (None for a model without probabilities, a baseline) and
        accuracy, with test-time views up to ``test_shift``."""

    def n_parameters(self, model) -> int:
        """How many numbers the model learns."""

    def save(self, model, path: Path) -> None:
        """Write the model's weights to ``path``."""

    def load(self, path: Path, recipe: Recipe, prepared: Prepared):
        """The model :meth:`save` wrote to ``path``."""

    def record(self) -> dict:
        """Extra fields for the results file."""


class NumpyFramework:
    """How :func:`run` trains, scores and stores the NumPy MLP of a recipe."""

    name, file_prefix = "numpy", ""

    def key(self, recipe: Recipe, prepared: Prepared) -> dict:
        """What a saved model must match to be reused, part by part."""
        return {"recipe and data": recipe.key(prepared), "code": code_fingerprint(TRAINING_MODULES)}

    def fit(self, recipe: Recipe, prepared: Prepared, progress: bool):
        """The trained model and its :class:`~cifar_mlp.train.History`."""
        return train_recipe(recipe, prepared.x_train, prepared.y_train, prepared.x_val,
                            prepared.y_val, progress=progress)

    def evaluate(self, model, x, y, test_shift: int | None = None) -> tuple[float, float]:
        return evaluate(model, x, y, test_shift=test_shift)

    def n_parameters(self, model) -> int:
        return model.n_parameters

    def save(self, model, path: Path) -> None:
        model.save(path)

    def load(self, path: Path, recipe: Recipe, prepared: Prepared):
        return MLP.load(path)

    def record(self) -> dict:
        """Extra fields for the results file."""
        return {}


NUMPY = NumpyFramework()


def train_recipe(recipe: Recipe, x_train, y_train, x_val, y_val, *, built=None,
                 progress: bool = False):
    """Train the NumPy network ``recipe`` describes, as the book trains it (nothing
    saved): ``(model, History)``. ``built``: the ``(model, optimizer, schedule)`` of
    ``build(recipe, ...)`` to train, when the caller needs them (a new one otherwise)."""
    model, optimizer, schedule = built or build(recipe, x_train.shape[1])
    history = train(model, optimizer, x_train, y_train, x_val, y_val, epochs=recipe.epochs,
                    batch_size=recipe.batch_size, seed=recipe.seed, schedule=schedule,
                    patience=recipe.patience, augment_shift=recipe.augment_shift,
                    progress=progress)
    return model, history


def linear_probe(x_train, y_train, x_val, y_val, seeds=(0, 1), recipe=None) -> list:
    """A cheap measure of how useful inputs are (chapter 1): the validation accuracy of
    chapter 3's linear softmax classifier (``RECIPES["linear"]``, or ``recipe``) trained
    on ``x_train`` by the book's own training loop, once per seed. Nothing is saved."""
    recipe = recipe or RECIPES["linear"]
    accuracies = []
    for seed in seeds:
        model, _ = train_recipe(replace(recipe, seed=seed), x_train, y_train, x_val, y_val)
        accuracies.append(evaluate(model, x_val, y_val)[1])
    return accuracies


def run(recipe: Recipe, prepared: Prepared, *, results_dir: Path | None, weights_dir: Path,
        framework: Framework = NUMPY, max_epochs: int | None = None, retrain: bool = False,
        progress: bool = True) -> dict:
    """Train ``recipe`` on ``prepared`` (or reload it), test it once, write its results.

    ``weights_dir`` keeps trained models (``<weights_dir>/<data source>/<name>.npz`` and
    a ``.json`` record beside it); ``results_dir`` receives the results file, or None
    for no file. ``max_epochs`` caps the recipe's epochs; ``retrain`` ignores a saved
    model. Returns the result dict, with the model under ``"model"`` and the History
    under ``"history"`` (both left out of the JSON file).
    """
    if max_epochs is not None:
        recipe = replace(recipe, epochs=min(recipe.epochs, max_epochs))
    name = framework.file_prefix + recipe.name
    weights = Path(weights_dir) / prepared.source / f"{name}.npz"
    key = framework.key(recipe, prepared)
    saved, reason = (None, "retrain=True") if retrain else saved_training(weights, key)
    kept = saved is not None  # whether the model is the one saved beside its record

    @functools.cache
    def inputs() -> Prepared:  # whitened (recipe.whitening) only when first needed
        return recipe_inputs(recipe, prepared)

    if saved is not None:
        model = framework.load(weights, recipe, prepared)
        history, seconds = saved["history"], saved["seconds"]
    else:
        print(f"training {name} ({framework.name}): {reason}", flush=True)
        training_inputs = inputs()  # a whitening is fitted here, before the clock starts
        started = time.perf_counter()
        model, history = framework.fit(recipe, training_inputs, progress)
        seconds = time.perf_counter() - started
        if history.ending != History.DIVERGED:  # not worth reloading
            weights.parent.mkdir(parents=True, exist_ok=True)
            framework.save(model, weights)
            save_training(weights, key, history, seconds)
            kept = True

    def measure():
        return scores(framework, model, recipe, inputs())

    result = result_record(
        recipe, prepared, history, seconds, framework=framework.name,
        parameters=framework.n_parameters(model),
        **(saved_scores(weights, measure) if kept else measure()), **framework.record())
    write_result(result, results_dir, f"{name}.json")
    return {**result, "model": model, "history": history}


def scores(framework, model, recipe: Recipe, prepared: Prepared) -> dict:
    """The test and validation scores of a trained model, as :func:`result_record` takes
    them: ``test`` and ``val`` (loss, accuracy) pairs, scored as the recipe says (with its
    test-time augmentation, ``recipe.test_shift``), and with test-time augmentation the
    accuracy of one view per image too, on both splits, so that what it adds is known,
    and the validation accuracy for each smaller number of views (``val_accuracy_by_views``,
    keyed by the number of views)."""
    shift = recipe.test_shift
    result = {"test": framework.evaluate(model, prepared.x_test, prepared.y_test, shift),
              "val": framework.evaluate(model, prepared.x_val, prepared.y_val, shift),
              "views": n_views(shift)}
    if shift is not None:
        result["test_accuracy_one_view"] = framework.evaluate(model, prepared.x_test,
                                                              prepared.y_test)[1]
        result["val_accuracy_one_view"] = framework.evaluate(model, prepared.x_val,
                                                             prepared.y_val)[1]
        # How the validation accuracy grows with the views: one, then each smaller shift's
        # (keys are strings, as JSON keeps them).
        result["val_accuracy_by_views"] = {
            "1": result["val_accuracy_one_view"],
            **{str(n_views(smaller)): framework.evaluate(model, prepared.x_val, prepared.y_val,
                                                         smaller)[1] for smaller in range(shift)},
            str(n_views(shift)): result["val"][1]}
    return result


def saved_training(weights: Path, key: dict) -> tuple[dict | None, str]:
    """What :func:`save_training` kept beside ``weights`` (``{"history": History,
    "seconds": float}``) and an empty reason; or None and the reason it cannot be used:
    no saved model, or which parts of ``key`` (the recipe and data, the code, the
    framework's version) changed since it was saved."""
    saved = Path(weights).with_suffix(".json")
    if not (Path(weights).is_file() and saved.is_file()):
        return None, "no saved model"
    record = json.loads(saved.read_text())
    before = record.get("key") if isinstance(record.get("key"), dict) else {}
    changed = [part for part in key if before.get(part) != key[part]]
    if changed:
        return None, f"the saved model is stale: {' and '.join(changed)} changed since it was trained"
    return {"history": History(**record["history"]), "seconds": record["seconds"]}, ""


def saved_scores(weights: Path, compute) -> dict:
    """The scores kept in the record beside ``weights`` (written by :func:`save_training`
    for the model saved there) when the scoring code has not changed since; otherwise
    ``compute()``, kept there for the next reload. Scoring with test-time augmentation
    takes half a minute per model, which every reload of the book would otherwise repeat."""
    saved = Path(weights).with_suffix(".json")
    record = json.loads(saved.read_text())
    scoring = code_fingerprint(SCORING_MODULES)
    if record.get("scoring") != scoring or "scores" not in record:
        record["scoring"], record["scores"] = scoring, compute()
        saved.write_text(json.dumps(record))
    return record["scores"]


def save_training(weights: Path, key: dict, history: History, seconds: float) -> None:
    """Keep a trained model's history and training time beside its weights file, under
    ``key``, for :func:`saved_training`. Call it after the weights are written."""
    saved = Path(weights).with_suffix(".json")
    saved.write_text(json.dumps({"key": key, "history": history.to_dict(), "seconds": seconds}))


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def result_record(recipe, prepared, history, seconds, *, framework, test, val, parameters,
                  **extra) -> dict:
    """The contents of a results file; ``test`` and ``val`` are (loss, accuracy) pairs."""
    return {
        "name": recipe.name,
        "framework": framework,
        "description": recipe.description,
        "test_accuracy": test[1],
        "test_loss": test[0],
        "val_accuracy": val[1],
        "val_loss": val[0],
        "epochs": history.epochs,
        "best_epoch": history.best_epoch,
        "seconds_per_epoch": history.median_seconds_per_epoch if history.epochs else None,
        "training_seconds": seconds,
        "parameters": parameters,
        "data": prepared.source,
        "n_train": len(prepared.x_train),
        "n_val": len(prepared.x_val),
        "n_test": len(prepared.x_test),
        "recipe": asdict(recipe),
        "history": history.to_dict(),
        "machine": machine(),
        **extra,
    }


def write_result(result: dict, results_dir: Path | None, filename: str) -> None:
    """Write a results file (nothing when ``results_dir`` is None)."""
    if results_dir is not None:
        Path(results_dir).mkdir(parents=True, exist_ok=True)
        (Path(results_dir) / filename).write_text(json.dumps(result, indent=1) + "\n")

"""Named training recipes, run once, with results written by code.

    result = run(RECIPES["seed_rgb"], prepared)

trains the recipe (or reloads its weights when the same recipe was already trained
on the same data), evaluates it on the test set once, and writes
``results/<name>.json``: test and validation accuracy, epochs, timing, parameter
count, the data it saw and the recipe itself. The book and the README read these
files; no number is typed by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path


from .data import REPO_DIR
from .model import MLP
from .optim import SGD, Adam
from .preprocess import Prepared
from .train import History, ReduceOnPlateau, constant, cosine, evaluate, train

RESULTS_DIR = REPO_DIR / "results"
WEIGHTS_DIR = REPO_DIR / "weights"  # git-ignored


@dataclass(frozen=True)
class Recipe:
    """Everything that defines a training run, so that Keras can mirror it exactly."""

    name: str
    mode: str = "rgb"  # "rgb" or "gray"
    hidden: tuple = (1024, 256)
    batchnorm: bool = False
    dropout: float = 0.0
    l2: float = 0.0  # Keras's convention: loss += l2 * sum(W**2)
    label_smoothing: float = 0.0
    init: str = "he"
    optimizer: str = "sgd"  # "sgd" (with momentum) or "adam"
    lr: float = 0.01
    momentum: float = 0.9
    nesterov: bool = False
    schedule: str = "constant"  # "constant", "cosine" or "plateau"
    batch_size: int = 128
    epochs: int = 40
    patience: int | None = 5  # early stopping on validation loss; restores the best weights
    augment: bool = False  # random horizontal flips and 4-pixel crops
    seed: int = 0
    description: str = ""

    def layer_sizes(self, n_features: int) -> list:
        return [n_features, *self.hidden, 10]

    def key(self, prepared: Prepared) -> str:
        """Identifies a trained model: the recipe and the data it was trained on."""
        blob = json.dumps([asdict(self), prepared.source, len(prepared.x_train),
                           prepared.mode], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def build(recipe: Recipe, n_features: int):
    """The model, optimizer and learning-rate schedule a recipe describes."""
    model = MLP(recipe.layer_sizes(n_features), batchnorm=recipe.batchnorm,
                dropout=recipe.dropout, init=recipe.init, l2=recipe.l2,
                label_smoothing=recipe.label_smoothing, seed=recipe.seed)
    if recipe.optimizer == "sgd":
        optimizer = SGD(recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov)
    elif recipe.optimizer == "adam":
        optimizer = Adam(recipe.lr)
    else:
        raise ValueError(f"optimizer: expected 'sgd' or 'adam', got {recipe.optimizer!r}")
    schedules = {"constant": constant, "cosine": lambda: cosine(recipe.epochs),
                 "plateau": lambda: ReduceOnPlateau(factor=0.5, patience=2)}
    if recipe.schedule not in schedules:
        raise ValueError(f"schedule: expected one of {list(schedules)}, got {recipe.schedule!r}")
    return model, optimizer, schedules[recipe.schedule]()


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def run(recipe: Recipe, prepared: Prepared, *, max_epochs: int | None = None,
        results_dir: Path | None = RESULTS_DIR, weights_dir: Path = WEIGHTS_DIR,
        retrain: bool = False, progress: bool = True) -> dict:
    """Train ``recipe`` on ``prepared`` (or reload it), test it once, write its results.

    ``max_epochs`` caps the epochs (the smoke profile); ``results_dir=None`` writes no
    results file. Returns the result dict, with the model under ``"model"`` and the
    History under ``"history"`` (both left out of the JSON file).
    """
    if max_epochs is not None:
        recipe = replace(recipe, epochs=min(recipe.epochs, max_epochs))
    key = recipe.key(prepared)
    weights = Path(weights_dir) / prepared.source / f"{recipe.name}.npz"
    record = None if retrain else saved_training(weights, key)
    if record is not None:
        return _finish(recipe, prepared, MLP.load(weights), record["history"], record["seconds"],
                       results_dir)

    model, optimizer, schedule = build(recipe, prepared.n_features)
    started = time.perf_counter()
    history = train(model, optimizer, prepared.x_train, prepared.y_train,
                    prepared.x_val, prepared.y_val, epochs=recipe.epochs,
                    batch_size=recipe.batch_size, seed=recipe.seed, schedule=schedule,
                    patience=recipe.patience, augment_data=recipe.augment, progress=progress)
    seconds = time.perf_counter() - started
    weights.parent.mkdir(parents=True, exist_ok=True)
    model.save(weights)
    save_training(weights, key, history, seconds)
    return _finish(recipe, prepared, model, history, seconds, results_dir)


def saved_training(weights: Path, key: str) -> dict | None:
    """What :func:`save_training` kept beside ``weights`` (``{"history": History,
    "seconds": float}``), or None when the weights or the record are missing or belong
    to another key (another recipe or data)."""
    saved = Path(weights).with_suffix(".json")
    if not (Path(weights).is_file() and saved.is_file()):
        return None
    record = json.loads(saved.read_text())
    if record.get("key") != key:
        return None
    return {"history": History(**record["history"]), "seconds": record["seconds"]}


def save_training(weights: Path, key: str, history: History, seconds: float) -> None:
    """Keep a trained model's history and training time beside its weights file, under
    ``key``, for :func:`saved_training`. Call it after the weights are written."""
    saved = Path(weights).with_suffix(".json")
    saved.write_text(json.dumps({"key": key, "history": history.to_dict(), "seconds": seconds}))


def _finish(recipe, prepared, model, history, seconds, results_dir) -> dict:
    """Evaluate once on the test set and write ``results/<name>.json``."""
    result = result_record(
        recipe, prepared, history, seconds, framework="numpy",
        test=evaluate(model, prepared.x_test, prepared.y_test),
        val=evaluate(model, prepared.x_val, prepared.y_val),
        parameters=model.n_parameters)
    write_result(result, results_dir, f"{recipe.name}.json")
    return {**result, "model": model, "history": history}


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
        "seconds_per_epoch": history.median_seconds_per_epoch,
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


def load_result(name: str, results_dir: Path = RESULTS_DIR) -> dict:
    """The results file of a recipe, as written by :func:`run`."""
    path = Path(results_dir) / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run notebook 03 (make notebooks) first")
    return json.loads(path.read_text())



# The recipes of chapter 3. Their settings were chosen on the validation split
# (chapter 3 shows the comparisons); the test set scores each final model once.
RECIPES = {
    "seed_gray": Recipe(
        "seed_gray", mode="gray", hidden=(512, 256), lr=0.01, l2=1e-3,
        schedule="plateau", epochs=60, patience=6,
        description="The seed project's grayscale network (1024-512-256-10), trained right"),
    "seed_rgb": Recipe(
        "seed_rgb", mode="rgb", hidden=(1024, 256), lr=0.01, l2=1e-3,
        schedule="plateau", epochs=60, patience=6,
        description="The seed project's network on colour images (3072-1024-256-10)"),
    "best": Recipe(
        "best", mode="rgb", hidden=(1024, 1024, 512), batchnorm=True, dropout=0.2,
        augment=True, lr=0.05, l2=5e-5, nesterov=True, schedule="cosine", epochs=50,
        patience=None,
        description="Best from-scratch recipe: wider and deeper, BatchNorm, dropout, "
                    "augmentation, Nesterov momentum with a cosine schedule"),
}

# The ablation: the ingredients of the best recipe added one at a time to the seed's
# RGB network, each model trained for the same short budget and compared on the
# validation split. Each step: (label, whether inputs are standardized, changes).
ABLATION_EPOCHS = 10
ABLATION_STEPS = [
    ("seed network, raw [0, 1] inputs", False, {}),
    ("+ standardization", True, {}),
    ("+ wider and deeper", True, {"hidden": RECIPES["best"].hidden}),
    ("+ BatchNorm", True, {"batchnorm": True, "lr": RECIPES["best"].lr}),
    ("+ dropout", True, {"dropout": RECIPES["best"].dropout}),
    ("+ augmentation", True, {"augment": True}),
    ("+ Nesterov, cosine schedule", True, {"nesterov": True, "schedule": "cosine",
                                           "l2": RECIPES["best"].l2}),
]


def ablation_recipes(epochs: int = ABLATION_EPOCHS) -> list:
    """(label, standardize, recipe) for each cumulative step of the ablation."""
    recipe = replace(RECIPES["seed_rgb"], epochs=epochs, patience=None, description="")
    steps = []
    for i, (label, standardize, changes) in enumerate(ABLATION_STEPS):
        recipe = replace(recipe, name=f"ablation_{i}", **changes)
        steps.append((label, standardize, recipe))
    return steps

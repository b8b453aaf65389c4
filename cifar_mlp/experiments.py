"""Named training recipes (chapters 3 and 4): everything that defines a training run.

    model, optimizer, schedule = build(RECIPES["seed_rgb"], prepared.n_features)

:func:`cifar_mlp.runs.run` trains a recipe (or reloads it), in NumPy or in Keras, and
writes its results file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace

from .fast import FastAdam, FastSGD
from .model import MLP
from .preprocess import Prepared
from .whitening import zca_inputs
from .schedules import ReduceOnPlateau, constant, cosine


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
    # "plateau": the learning rate times plateau_factor after plateau_patience epochs
    # without a lower validation loss
    plateau_factor: float = 0.5
    plateau_patience: int = 2
    batch_size: int = 128
    epochs: int = 40
    patience: int | None = 5  # early stopping on validation loss; restores the best weights
    # Augmentation (cifar_mlp.augment): random flips and shifts of up to this many pixels
    # (None: the images as they are).
    augment_shift: int | None = None
    # Test-time augmentation: each image scored by the mean over its views, mirrored or not
    # and shifted by up to this many pixels (None: one view, the image as it is).
    test_shift: int | None = None
    # ZCA whitening of the inputs (chapter 1), with this epsilon, fitted on the training
    # split (None: the inputs as prepared, standardized per pixel).
    whitening: float | None = None
    seed: int = 0
    description: str = ""

    def layer_sizes(self, n_features: int) -> list:
        return [n_features, *self.hidden, 10]

    def key(self, prepared: Prepared) -> str:
        """Identifies a trained model: the recipe and the data it was trained on."""
        blob = json.dumps([asdict(self), prepared.source, len(prepared.x_train),
                           prepared.mode], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def recipe_inputs(recipe: Recipe, prepared: Prepared) -> Prepared:
    """The inputs ``recipe`` trains and is scored on: ``prepared`` itself, or with
    ``recipe.whitening`` its ZCA-whitened version (:func:`cifar_mlp.whitening.zca_inputs`)."""
    if recipe.whitening is None:
        return prepared
    return zca_inputs(prepared, recipe.whitening)


def build(recipe: Recipe, n_features: int):
    """The model, optimizer and learning-rate schedule a recipe describes.

    The optimizer is the fast version (:mod:`cifar_mlp.fast`) of the one chapter 3
    shows: the same formulas, the same numbers.
    """
    model = MLP(recipe.layer_sizes(n_features), batchnorm=recipe.batchnorm,
                dropout=recipe.dropout, init=recipe.init, l2=recipe.l2,
                label_smoothing=recipe.label_smoothing, seed=recipe.seed)
    return model, build_optimizer(recipe), build_schedule(recipe)


def build_schedule(recipe: Recipe):
    """A new learning-rate schedule of the recipe (:mod:`cifar_mlp.schedules`)."""
    schedules = {"constant": constant, "cosine": lambda: cosine(recipe.epochs),
                 "plateau": lambda: ReduceOnPlateau(factor=recipe.plateau_factor,
                                                  patience=recipe.plateau_patience)}
    if recipe.schedule not in schedules:
        raise ValueError(f"schedule: expected one of {list(schedules)}, got {recipe.schedule!r}")
    return schedules[recipe.schedule]()


def build_optimizer(recipe: Recipe):
    """The optimizer a recipe names, at its learning rate (the fast version of chapter 3's)."""
    if recipe.optimizer == "sgd":
        return FastSGD(recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov)
    if recipe.optimizer == "adam":
        return FastAdam(recipe.lr)
    raise ValueError(f"optimizer: expected 'sgd' or 'adam', got {recipe.optimizer!r}")


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
    # 30 epochs, not the 35 of its trials, and views shifted by up to 1 pixel, not 2: what
    # the book's build can afford (chapter 3 shows what each costs).
    "best": Recipe(
        "best", mode="rgb", hidden=(1024, 1024, 512), batchnorm=True, augment_shift=2, l2=2.5e-4,
        lr=0.05, schedule="cosine", epochs=30, patience=None, test_shift=1, whitening=1.0,
        description="Best from-scratch recipe: ZCA-whitened inputs, wider and deeper, BatchNorm, "
                    "augmentation (flips and 2-pixel shifts), L2 weight decay, momentum with a "
                    "cosine schedule, test-time augmentation"),
    # A baseline (chapter 3): a linear softmax classifier, the MLP with no hidden layer.
    "linear": Recipe(
        "linear", mode="rgb", hidden=(), lr=0.001, schedule="cosine", epochs=10, patience=None,
        description="A linear softmax classifier (no hidden layer), trained by the same code"),
    # The seed project's own Keras network, for reference (chapter 4): BatchNorm and
    # dropout 0.3, Adam 5e-4, batch 128, up to 50 epochs, patience 5. Its Dense layers
    # kept Keras's default initializer, GlorotUniform, hence init="glorot".
    "seed_keras": Recipe(
        "seed_keras", mode="rgb", hidden=(1024, 512, 256, 128), batchnorm=True, dropout=0.3,
        init="glorot", optimizer="adam", lr=5e-4, batch_size=128, epochs=50, patience=5,
        description="The seed project's Keras network (3072-1024-512-256-128-10, BatchNorm, "
                    "dropout 0.3, Adam 5e-4)"),
    # Chapter 4's last section: a small convolutional network in Keras, trained on the same
    # minibatches (flips and 2-pixel shifts) as the MLPs. Its layers are constants of
    # cifar_mlp.keras_cnn, not recipe fields: it has no hidden Dense layers (hidden=()).
    # Chosen on validation for a budget of a few minutes on 2 cores (see keras_cnn).
    "cnn": Recipe(
        "cnn", hidden=(), init="glorot", optimizer="adam", lr=3e-3, schedule="cosine",
        batch_size=128, epochs=12, patience=None, augment_shift=2,
        description="A small convolutional network in Keras (three convolution blocks, "
                    "16-32-64 filters), Adam with a cosine schedule, flips and 2-pixel shifts"),
}

# The ablation: leave one out. Each row takes the best recipe and changes exactly one
# of its choices back (the change is the row's label); every model trains for the same
# short budget, on a cosine schedule compressed to that budget, with ABLATION_SEEDS, and
# is compared on the validation split. The ablation scores each model with its mirror
# image averaged in (test-time augmentation of 2 views, which costs little) and with one
# view: the row without test-time augmentation is the first row's models, scored on
# one view, not a model of its own. Each row: (label, changes).
ABLATION_EPOCHS = 2  # per model; every row trains one model per seed, so this sets its cost
# Two seeds a row: the noise band pools the spread of the seeds over the rows (one
# degree of freedom a row), and a third seed would train one more model a row.
ABLATION_SEEDS = (0, 1)
SEED_HIDDEN = RECIPES["seed_rgb"].hidden
ABLATION_ROWS = [
    ("best recipe, all ingredients", {}),
    ("without whitening: standardized inputs", {"whitening": None}),
    (f"without width and depth: hidden {'-'.join(map(str, SEED_HIDDEN))}", {"hidden": SEED_HIDDEN}),
    ("without BatchNorm", {"batchnorm": False}),
    ("without augmentation", {"augment_shift": None}),
    ("without the cosine schedule: constant learning rate", {"schedule": "constant"}),
    ("without L2 weight decay", {"l2": 0.0}),
]
WITHOUT_TEST_TIME_AUGMENTATION = "without test-time augmentation: one view, not two"


def ablation_recipes(epochs: int = ABLATION_EPOCHS, seeds=ABLATION_SEEDS) -> list:
    """(row, label, recipe) for each model of the leave-one-out ablation: every row of
    ABLATION_ROWS with every seed (named ``ablation_<row>_seed<seed>``)."""
    best = replace(RECIPES["best"], epochs=epochs, patience=None, test_shift=0, description="")
    return [(row, label, replace(best, name=f"ablation_{row}_seed{seed}", seed=seed, **changes))
            for row, (label, changes) in enumerate(ABLATION_ROWS) for seed in seeds]

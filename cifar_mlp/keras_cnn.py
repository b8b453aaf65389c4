"""A small convolutional network in Keras (chapter 4's last section): the same data,
splits and augmentation as the MLPs, a network that knows an image is an image.

    result = run(RECIPES["cnn"], prepared, framework=CNN, ...)             # cifar_mlp.runs
    shuffled = run(RECIPES["cnn"], prepared, framework=CNN_PERMUTED, ...)  # pixels shuffled

The network eats the rows the MLPs eat, (N, 3072) standardized and channels last, and
turns each back into a 32x32x3 image itself (a Reshape layer), so that both kinds of
network train on the very same minibatches (:func:`cifar_mlp.keras_data.training_dataset`:
the shuffles, flips and shifts of :func:`cifar_mlp.train.minibatches`). Then
:data:`BLOCKS` convolution blocks, each a 3x3 convolution (``padding="same"``) -> ReLU ->
2x2 max pooling, which halves the image; the last block's maps (4x4 positions of 64
filters) are flattened and a Dense layer gives the ten logits.

Why this one: it was chosen on validation to train in a few minutes on 2 cores (12
epochs, Adam, flips and shifts). Three blocks of 16-32-64 filters took a third of the
CPU time of 32-64-128; flattening the last maps, which keeps where things are, beat
averaging them over positions (global average pooling) by 9 points of validation
accuracy; BatchNormalization after each convolution made an epoch 1.5 times as long
for half a point.

With ``permutation_seed``, the data are shuffled first: every image of the three splits
has its pixels moved by one fixed permutation
(:func:`cifar_mlp.permutation.permute_pixels`) before anything else happens to it, and
the same network then trains on the shuffled images as the plain one trains on the
originals: the flips and shifts of training, and any test-time views, act on the
shuffled images. So nothing the network is fed keeps a trace of where the pixels were
(a flip of a shuffled image is not the shuffle of a flipped one). For an MLP's first
layer such a shuffle changes nothing (:func:`cifar_mlp.permutation.permute_first_layer`);
for this network it changes everything.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np

from .experiments import Recipe, build_schedule
from .keras_data import evaluate_keras
from .keras_runtime import quiet_tensorflow
from .keras_twin import KerasFramework, fit_recorded, keras_loss, keras_optimizer, schedule_callback
from .permutation import permute_pixels, pixel_permutation
from .provenance import code_fingerprint, depends_on

IMAGE_SHAPE = (32, 32, 3)  # how a row of 3,072 features is an image: height, width, channels
BLOCKS = (16, 32, 64)  # filters of each convolution block
KERNEL = 3  # each filter sees KERNEL x KERNEL neighbouring pixels
N_CLASSES = 10

# The code that decides what a trained CNN is: its own and all it imports (the batches it
# is fed, the shuffle of its pixels, the Keras twin's training loop).
CNN_MODULES = depends_on("keras_cnn")


def architecture(permutation_seed: int | None = None) -> str:
    """The network in one line, for the results file."""
    shuffle = [] if permutation_seed is None else [f"pixels shuffled (seed {permutation_seed})"]
    blocks = [f"conv {KERNEL}x{KERNEL}x{width}, ReLU, max-pool 2x2" for width in BLOCKS]
    return " -> ".join([f"{np.prod(IMAGE_SHAPE)} features", *shuffle,
                        "x".join(map(str, IMAGE_SHAPE)), *blocks, "flatten",
                        f"dense {N_CLASSES}"])


def check_recipe(recipe: Recipe) -> None:
    """Refuse what a recipe may say that this network does not do: the MLP's own layers
    (``hidden`` must be empty, no batch norm, dropout or L2), initial weights other than
    Keras's GlorotUniform (``init="glorot"``), grayscale, early stopping and schedules
    other than cosine or constant."""
    unsupported = {"mode": recipe.mode != "rgb", "hidden": bool(recipe.hidden),
                   "batchnorm": recipe.batchnorm, "dropout": bool(recipe.dropout),
                   "l2": bool(recipe.l2), "init": recipe.init != "glorot",
                   "patience": recipe.patience is not None,
                   "schedule": recipe.schedule not in ("cosine", "constant")}
    refused = [field for field, bad in unsupported.items() if bad]
    if refused:
        raise ValueError(f"recipe {recipe.name!r}: the CNN does not do what it says for "
                         f"{', '.join(refused)} (needs mode 'rgb', hidden (), no batch norm, "
                         "dropout or L2, init 'glorot', patience None, a cosine or constant "
                         "schedule)")


def build_cnn(recipe: Recipe):
    """The compiled Keras CNN (see the module docstring) a recipe trains: its optimizer
    (SGD with momentum or Adam) and learning rate. Compiled with the metrics the Keras twin reports, ``accuracy`` and ``ce`` (the plain
    cross-entropy)."""
    check_recipe(recipe)
    _, keras = quiet_tensorflow()
    layers = keras.layers
    stack = [keras.Input(shape=(int(np.prod(IMAGE_SHAPE)),), name="pixels"),
             layers.Reshape(IMAGE_SHAPE, name="image")]
    for i, filters in enumerate(BLOCKS, 1):
        stack += [layers.Conv2D(filters, KERNEL, padding="same", name=f"conv{i}",
                                kernel_initializer=keras.initializers.GlorotUniform(recipe.seed + i)),
                  layers.ReLU(name=f"relu{i}"),
                  layers.MaxPooling2D(2, name=f"pool{i}")]
    stack += [layers.Flatten(name="flatten"),
              layers.Dense(N_CLASSES, name="logits",
                           kernel_initializer=keras.initializers.GlorotUniform(recipe.seed))]
    model = keras.Sequential(stack, name=recipe.name)
    model.compile(optimizer=keras_optimizer(recipe),
                  loss=keras_loss(keras, recipe.label_smoothing, N_CLASSES, "float32"),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                           keras.metrics.SparseCategoricalCrossentropy(from_logits=True,
                                                                       name="ce")])
    return model


class KerasCNNFramework(KerasFramework):
    """How :func:`cifar_mlp.runs.run` trains, scores and stores the CNN, on the images as
    they are or (``permutation_seed``) with their pixels shuffled by
    ``pixel_permutation(permutation_seed)``, before any flip, shift or test-time view
    (:meth:`shuffled`). Parameter count, saving and loading are the Keras twin's
    (:class:`~cifar_mlp.keras_twin.KerasFramework`)."""

    name = "keras"

    def __init__(self, permutation_seed: int | None = None):
        self.permutation_seed = permutation_seed
        self.file_prefix = "" if permutation_seed is None else "shuffled_pixels_"

    def permutation(self) -> np.ndarray | None:
        """The shuffle of the pixel positions, or None for the images as they are."""
        return None if self.permutation_seed is None else pixel_permutation(self.permutation_seed)

    def shuffled(self, x: np.ndarray) -> np.ndarray:
        """Rows ``x`` as this network sees them: their pixels shuffled, or as they are."""
        permutation = self.permutation()
        return x if permutation is None else permute_pixels(x, permutation)

    def data(self, prepared):
        """``prepared`` with the images of its three splits as this network sees them."""
        if self.permutation_seed is None:
            return prepared
        return replace(prepared, x_train=self.shuffled(prepared.x_train),
                       x_val=self.shuffled(prepared.x_val), x_test=self.shuffled(prepared.x_test))

    def key(self, recipe: Recipe, prepared) -> dict:
        """What a saved CNN must match to be reused: the recipe and data, the code that
        builds and feeds it, the shuffle of the pixels and TensorFlow's version."""
        tf, _ = quiet_tensorflow()
        permutation = self.permutation()
        return {"recipe and data": recipe.key(prepared),
                "code": code_fingerprint(CNN_MODULES),
                "pixel order": None if permutation is None else
                hashlib.sha256(permutation.astype(np.int64).tobytes()).hexdigest()[:16],
                "TensorFlow": tf.__version__}

    def build(self, recipe: Recipe, prepared):
        """A new CNN of the recipe, compiled (the same network with or without the shuffle,
        which is in the data)."""
        return build_cnn(recipe)

    def fit(self, recipe: Recipe, prepared, progress: bool):
        """Train a new CNN on the recipe's minibatches for its epochs, on its learning-rate
        schedule, the images shuffled first (:meth:`data`); return the model and its
        :class:`~cifar_mlp.train.History`."""
        _, keras = quiet_tensorflow()
        model = self.build(recipe, prepared)
        callbacks = [schedule_callback(keras, build_schedule(recipe), recipe.lr)]
        return model, fit_recorded(model, recipe, self.data(prepared), progress, callbacks,
                                   desc="training (Keras CNN)")

    def evaluate(self, model, x, y, test_shift: int | None = None) -> tuple[float, float]:
        """Loss and accuracy on the rows ``x``, shuffled first: the test-time views, if
        any, are views of the shuffled images."""
        return evaluate_keras(model, self.shuffled(x), y, test_shift)

    def record(self) -> dict:
        tf, keras = quiet_tensorflow()
        return {"versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
                "architecture": architecture(self.permutation_seed),
                "permutation_seed": self.permutation_seed}


CNN = KerasCNNFramework()
CNN_PERMUTED = KerasCNNFramework(permutation_seed=0)

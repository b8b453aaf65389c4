"""The Keras twin of a :class:`~cifar_mlp.experiments.Recipe` (chapter 4): the same network,
the same start, the same minibatches, so that a difference is the framework's and
nothing else's.

    model, optimizer = build_keras(RECIPES["seed_rgb"], 3072)   # the same network in Keras
    copy_weights(mlp, model)                                   # ... from the same weights
    result = run(RECIPES["seed_rgb"], prepared, framework=KERAS, ...)   # cifar_mlp.runs

What is mirrored:

* the network: Dense -> BatchNormalization(momentum 0.99, epsilon 1e-3) -> ReLU ->
  Dropout per hidden layer, a Dense output layer; ``he`` is a plain (untruncated)
  normal with std sqrt(2 / fan_in), as in :func:`cifar_mlp.model.init_weights`
  (Keras's own ``HeNormal`` is truncated), ``glorot`` is Keras's GlorotUniform; and
  training starts from the NumPy model's initial weights anyway;
* the loss: softmax cross-entropy from logits, with Keras's label smoothing, plus
  ``keras.regularizers.L2(l2)`` on every kernel (``l2 * sum(W**2)``, our convention);
* the optimizers: SGD with (Nesterov) momentum, Adam with epsilon 1e-7 (the formulas
  of :mod:`cifar_mlp.optim` are Keras 3's);
* the training run: the minibatches of :func:`cifar_mlp.train.minibatches` with the
  recipe's seed, the same epochs, schedules, early stopping on the plain validation
  cross-entropy with the best weights restored at the end.

What cannot be mirrored: dropout masks (Keras draws them from its own generator), so
the parity checks (:mod:`cifar_mlp.parity`) turn dropout off.

TensorFlow comes from :mod:`cifar_mlp.keras_runtime`, the minibatches and the scoring
from :mod:`cifar_mlp.keras_data`; this module holds the network, its weights and its
training run.
"""

from __future__ import annotations

import math
import time

import numpy as np
from tqdm.auto import tqdm

from .experiments import Recipe, build, build_optimizer
from .keras_data import evaluate_keras, evaluation_dataset, training_dataset
from .keras_runtime import quiet_tensorflow
from .model import BN_EPSILON, BN_MOMENTUM
from .optim import Adam
from .provenance import code_fingerprint, depends_on
from .train import History


# -- the network ----------------------------------------------------------------------

def _initializer(keras, init: str, fan_in: int, fan_out: int, seed: int):
    """The Keras initializer drawing from the same distribution as ``init_weights(init, ...)``."""
    if init == "he":  # untruncated, as ours: keras.initializers.HeNormal is truncated
        return keras.initializers.RandomNormal(mean=0.0, stddev=math.sqrt(2.0 / fan_in), seed=seed)
    if init == "glorot":
        return keras.initializers.GlorotUniform(seed=seed)
    if init == "naive":
        return keras.initializers.RandomNormal(mean=0.0, stddev=0.01, seed=seed)
    raise ValueError(f"init: expected 'he', 'glorot' or 'naive', got {init!r}")


def keras_loss(keras, label_smoothing: float, n_classes: int, dtype: str):
    """Mean softmax cross-entropy from logits of integer labels, with Keras's label smoothing.

    SparseCategoricalCrossentropy has no label smoothing in Keras 3, so with smoothing
    the labels are one-hot encoded and CategoricalCrossentropy does the work.
    """
    if not label_smoothing:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype=dtype)
    categorical = keras.losses.CategoricalCrossentropy(from_logits=True, dtype=dtype,
                                                       label_smoothing=label_smoothing)

    def smoothed_crossentropy(y_true, logits):
        labels = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
        return categorical(keras.ops.one_hot(labels, n_classes, dtype=dtype), logits)
    return smoothed_crossentropy


def build_keras(recipe: Recipe, n_features: int, dtype: str = "float32"):
    """The Keras model (compiled) and optimizer a recipe describes: ``(model, optimizer)``.

    Layers: per hidden layer Dense -> BatchNormalization (when ``recipe.batchnorm``)
    -> ReLU -> Dropout (when ``recipe.dropout``); a Dense output layer giving logits.
    Compiled with the recipe's loss and two metrics: ``accuracy`` and ``ce``, the
    plain cross-entropy (no L2, no smoothing), which is what ``evaluate`` calls the
    validation loss and what early stopping watches. ``dtype`` "float64" builds every
    layer, the loss and the metrics in float64 (for parity checks with rounding out of
    the way; pass it explicitly: ``keras.config.set_floatx`` no longer reaches layers
    once Keras has created its global dtype policy).
    """
    tf, keras = quiet_tensorflow()
    sizes = recipe.layer_sizes(n_features)
    n_layers = len(sizes) - 1
    layers = [keras.Input(shape=(n_features,), dtype=dtype, name="pixels")]
    for i in range(1, n_layers + 1):
        fan_in, fan_out = sizes[i - 1], sizes[i]
        layers.append(keras.layers.Dense(
            fan_out, name=f"dense{i}",
            kernel_initializer=_initializer(keras, recipe.init, fan_in, fan_out, recipe.seed + i),
            bias_initializer="zeros",
            kernel_regularizer=keras.regularizers.L2(recipe.l2) if recipe.l2 else None,
            dtype=dtype))
        if i == n_layers:
            break
        if recipe.batchnorm:
            layers.append(keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                                                          name=f"batchnorm{i}", dtype=dtype))
        layers.append(keras.layers.ReLU(name=f"relu{i}", dtype=dtype))
        if recipe.dropout:
            layers.append(keras.layers.Dropout(recipe.dropout, seed=recipe.seed + i,
                                               name=f"dropout{i}", dtype=dtype))
    model = keras.Sequential(layers, name=recipe.name)

    optimizer = keras_optimizer(recipe)
    model.compile(optimizer=optimizer,
                  loss=keras_loss(keras, recipe.label_smoothing, sizes[-1], dtype),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy", dtype=dtype),
                           keras.metrics.SparseCategoricalCrossentropy(from_logits=True, name="ce",
                                                                       dtype=dtype)])
    return model, optimizer


def keras_optimizer(recipe: Recipe):
    """The Keras optimizer that mirrors the recipe's own (:func:`cifar_mlp.experiments.
    build_optimizer`), every setting read from it: SGD with its learning rate and
    (Nesterov) momentum, or Adam with its learning rate, betas and epsilon."""
    _, keras = quiet_tensorflow()
    ours = build_optimizer(recipe)
    if isinstance(ours, Adam):
        return keras.optimizers.Adam(learning_rate=ours.lr, beta_1=ours.beta1, beta_2=ours.beta2,
                                     epsilon=ours.eps)
    return keras.optimizers.SGD(learning_rate=ours.lr, momentum=ours.momentum,
                                nesterov=ours.nesterov)


# -- weights --------------------------------------------------------------------------------

def keras_variables(mlp, keras_model) -> dict:
    """The Keras variable behind each NumPy array: name -> variable, for every key of
    ``mlp.params`` (W1, b1, gamma1, ...) and ``mlp.bn_state`` (running_mean1, ...).

    Raises ValueError when the two networks do not have the same layers and shapes.
    """
    _, keras = quiet_tensorflow()
    dense = [layer for layer in keras_model.layers if isinstance(layer, keras.layers.Dense)]
    norms = [layer for layer in keras_model.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    n_norms = mlp.n_layers - 1 if mlp.batchnorm else 0
    if len(dense) != mlp.n_layers or len(norms) != n_norms:
        raise ValueError(f"the Keras model has {len(dense)} Dense and {len(norms)} "
                         f"BatchNormalization layers; the MLP needs {mlp.n_layers} and {n_norms}")
    variables = {}
    for i, layer in enumerate(dense, 1):
        variables[f"W{i}"], variables[f"b{i}"] = layer.kernel, layer.bias
    for i, layer in enumerate(norms, 1):
        variables[f"gamma{i}"], variables[f"beta{i}"] = layer.gamma, layer.beta
        variables[f"running_mean{i}"] = layer.moving_mean
        variables[f"running_var{i}"] = layer.moving_variance
    for name, array in {**mlp.params, **mlp.bn_state}.items():
        if name not in variables or tuple(variables[name].shape) != array.shape:
            shape = tuple(variables[name].shape) if name in variables else None
            raise ValueError(f"{name}: the MLP has shape {array.shape}, the Keras model {shape}")
    return variables


def copy_weights(mlp, keras_model) -> None:
    """Give the Keras model the MLP's parameters and batch-norm running statistics, exactly."""
    arrays = {**mlp.params, **mlp.bn_state}
    for name, variable in keras_variables(mlp, keras_model).items():
        variable.assign(np.asarray(arrays[name], dtype=variable.dtype))


def l2_penalty(keras_model, l2: float) -> float:
    """``l2 * sum(W**2)`` over the Dense kernels, as :meth:`cifar_mlp.model.MLP.l2_penalty`."""
    if not l2:
        return 0.0
    _, keras = quiet_tensorflow()
    return l2 * sum(float(np.sum(np.square(layer.kernel.numpy(), dtype=np.float64)))
                    for layer in keras_model.layers if isinstance(layer, keras.layers.Dense))


def schedule_callback(keras, schedule, base_lr: float):
    """A callback that drives one of our schedules (:mod:`cifar_mlp.schedules`) as
    :func:`cifar_mlp.train.train` does: the learning rate ``schedule(epoch, base_lr)`` at
    the start of each epoch, and, for a schedule that follows the validation loss,
    ``schedule.update`` with each epoch's plain validation cross-entropy (``val_ce``)."""

    class OurSchedule(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.model.optimizer.learning_rate = schedule(epoch, base_lr)

        def on_epoch_end(self, epoch, logs=None):
            if hasattr(schedule, "update"):
                schedule.update(float(logs["val_ce"]))

    return OurSchedule()


def _epoch_recorder(keras, history: History, bar, l2: float):
    """A callback filling a :class:`History` (per-epoch logs, learning rate and wall time)
    and advancing the progress ``bar`` as :func:`cifar_mlp.train.train` does. The
    training loss is the plain cross-entropy metric ``ce``, as NumPy's (Keras's own
    ``loss`` adds the L2 penalty and label smoothing); the penalty is recorded apart."""

    class EpochRecorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            # First in the callback list: the time excludes the other callbacks' work
            # (weight copies for early stopping) as little as NumPy's does.
            history.seconds.append(time.perf_counter() - self.started)
            history.train_loss.append(float(logs["ce"]))
            history.train_acc.append(float(logs["accuracy"]))
            history.val_loss.append(float(logs["val_ce"]))
            history.val_acc.append(float(logs["val_accuracy"]))
            history.l2_penalty.append(l2_penalty(self.model, l2))
            history.lr.append(float(self.model.optimizer.learning_rate.numpy()))
            bar.set_postfix({"loss": f"{logs['ce']:.3f}", "acc": f"{logs['accuracy']:.3f}",
                             "val_loss": f"{logs['val_ce']:.3f}",
                             "val_acc": f"{logs['val_accuracy']:.3f}",
                             "lr": f"{history.lr[-1]:.2g}"}, refresh=False)
            bar.update(1)

    return EpochRecorder()


class KerasFramework:
    """How :func:`cifar_mlp.runs.run` trains, scores and stores the Keras twin of a recipe.

    ``fit`` starts from the NumPy model's initial weights and mirrors
    :func:`cifar_mlp.train.train`: the same minibatches (:func:`training_dataset`), the
    learning-rate schedule (the very schedule object NumPy's training uses, through
    :func:`schedule_callback`), early stopping
    with the same patience on the plain validation cross-entropy (``val_ce``) with the
    best weights restored. ``fit`` runs with ``verbose=0``; one progress bar over the
    epochs shows instead. Epoch wall times come from a callback (the first epoch
    includes tracing the graph; the results report the median).
    """

    name, file_prefix = "keras", "keras_"

    def key(self, recipe: Recipe, prepared) -> dict:
        """What a saved twin must match to be reused: the recipe and data, our code
        (the twin's and the NumPy model's it starts from) and TensorFlow's version."""
        tf, _ = quiet_tensorflow()
        return {"recipe and data": recipe.key(prepared),
                "code": code_fingerprint(depends_on("keras_twin")),
                "TensorFlow": tf.__version__}

    def build(self, recipe: Recipe, prepared):
        """A new Keras model of the recipe, compiled, for ``prepared``'s rows."""
        model, _ = build_keras(recipe, prepared.n_features)
        return model

    def fit(self, recipe: Recipe, prepared, progress: bool):
        _, keras = quiet_tensorflow()
        model = self.build(recipe, prepared)
        mlp, _, schedule = build(recipe, prepared.n_features)
        copy_weights(mlp, model)

        callbacks = [schedule_callback(keras, schedule, recipe.lr)]
        if recipe.patience is not None:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor="val_ce", mode="min", patience=recipe.patience, min_delta=0.0,
                restore_best_weights=True, verbose=0))
        return model, fit_recorded(model, recipe, prepared, progress, callbacks)

    def evaluate(self, model, x, y, test_shift: int | None = None) -> tuple[float, float]:
        return evaluate_keras(model, x, y, test_shift)

    def n_parameters(self, model) -> int:
        return int(sum(int(np.prod(v.shape)) for v in model.trainable_variables))

    def save(self, model, path) -> None:
        np.savez(path, *model.get_weights())

    def load(self, path, recipe: Recipe, prepared):
        model = self.build(recipe, prepared)
        with np.load(path) as arrays:  # the layers' weights, in get_weights() order
            model.set_weights([arrays[f"arr_{i}"] for i in range(len(arrays.files))])
        return model

    def record(self) -> dict:
        tf, keras = quiet_tensorflow()
        return {"versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
                "same_initial_weights": True}


KERAS = KerasFramework()


def fit_recorded(model, recipe: Recipe, prepared, progress: bool, callbacks=(),
                 desc: str = "training (Keras)") -> History:
    """Train a compiled ``model`` on the recipe's minibatches (:func:`training_dataset`)
    for its epochs, scoring the validation split after each, with one progress bar over
    the epochs; return the :class:`History`. The recorder (:func:`_epoch_recorder`) comes
    first among the callbacks, then TerminateOnNaN, then ``callbacks`` (schedules, early
    stopping)."""
    _, keras = quiet_tensorflow()
    history = History()
    bar = tqdm(total=recipe.epochs, desc=desc, unit="epoch", disable=not progress)
    callbacks = [_epoch_recorder(keras, history, bar, recipe.l2), keras.callbacks.TerminateOnNaN(),
                 *callbacks]
    train_data = training_dataset(prepared.x_train, prepared.y_train,
                                  batch_size=recipe.batch_size, seed=recipe.seed,
                                  augment_shift=recipe.augment_shift)
    with bar:
        model.fit(train_data, validation_data=evaluation_dataset(prepared.x_val, prepared.y_val),
                  epochs=recipe.epochs, verbose=0, shuffle=False, callbacks=callbacks)
    _finish_history(history, recipe)
    return history


def _finish_history(history: History, recipe: Recipe) -> None:
    """The best epoch and the reason training stopped, as :func:`cifar_mlp.train.train` says them."""
    if history.val_loss:
        history.best_epoch = int(np.argmin(history.val_loss)) + 1  # the first lowest, as NumPy's
    if history.epochs == recipe.epochs:
        history.complete()
    elif history.epochs == 0 or not all(map(math.isfinite, history.train_loss)):
        history.diverge(max(history.epochs, 1))  # TerminateOnNaN ends the epoch of the NaN
    else:
        history.stop_early(recipe.patience)

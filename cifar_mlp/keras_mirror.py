"""The Keras twin of a :class:`~cifar_mlp.experiments.Recipe`, and the checks that it is a twin.

    model, optimizer = build_keras(RECIPES["seed_rgb"], 3072)   # the same network in Keras
    copy_weights(mlp, model)                                   # ... starting from the same weights
    result = train_keras(RECIPES["seed_rgb"], prepared)        # mirrors experiments.run
    report = parity_run(RECIPES["seed_rgb"], prepared)         # 50 steps side by side

What is mirrored, so that a difference in accuracy or speed is the framework's and
nothing else's:

* the network: Dense -> BatchNormalization(momentum 0.99, epsilon 1e-3) -> ReLU ->
  Dropout per hidden layer, a Dense output layer; ``he`` is a plain (untruncated)
  normal with std sqrt(2 / fan_in), as in :func:`cifar_mlp.model.init_weights`
  (Keras's own ``HeNormal`` is truncated), ``glorot`` is Keras's GlorotUniform;
  and :func:`train_keras` starts from the NumPy model's initial weights anyway;
* the loss: softmax cross-entropy from logits, with Keras's label smoothing, plus
  ``keras.regularizers.L2(l2)`` on every kernel (``l2 * sum(W**2)``, our convention);
* the optimizers: SGD with (Nesterov) momentum, Adam with epsilon 1e-7 (the formulas
  of :mod:`cifar_mlp.optim` are Keras 3's);
* the training run: the same minibatches in the same order, with the same
  augmentations (the batches come from a generator that draws them with
  :func:`cifar_mlp.train.augment` and a ``np.random.default_rng(recipe.seed)``
  exactly as :func:`cifar_mlp.train.train` does), the same epochs, schedules,
  early stopping on the plain validation cross-entropy with the best weights
  restored at the end.

What cannot be mirrored: dropout masks (Keras draws them from its own generator),
so the parity checks turn dropout off; and, with batch norm, the biases of the Dense
layers that feed a BatchNormalization layer (see :func:`gradient_differences`).

TensorFlow is imported lazily, by :func:`quiet_tensorflow`: ``import cifar_mlp``
and this module stay light.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .experiments import (RESULTS_DIR, WEIGHTS_DIR, Recipe, build, result_record, save_training,
                          saved_training, write_result)
from .model import MLP
from .train import History, ReduceOnPlateau, augment, score_logits

# The seed project's own Keras network, for reference: 3072-1024-512-256-128-10 with
# BatchNorm and dropout 0.3, Adam 5e-4, batch 128, up to 50 epochs, patience 5. Its
# Dense layers kept Keras's default initializer, GlorotUniform, hence init="glorot".
SEED_KERAS_RECIPE = Recipe(
    "seed_keras", mode="rgb", hidden=(1024, 512, 256, 128), batchnorm=True, dropout=0.3,
    init="glorot", optimizer="adam", lr=5e-4, batch_size=128, epochs=50, patience=5,
    description="The seed project's Keras network (3072-1024-512-256-128-10, BatchNorm, "
                "dropout 0.3, Adam 5e-4)")

BN_MOMENTUM, BN_EPSILON = 0.99, 1e-3  # MLP's defaults, which experiments.build keeps
ADAM_BETAS, ADAM_EPSILON = (0.9, 0.999), 1e-7  # cifar_mlp.optim.Adam's defaults
EVAL_BATCH = 1024


# -- TensorFlow, quietly ------------------------------------------------------------

def quiet_tensorflow():
    """Import TensorFlow and Keras with their logs silenced; return ``(tf, keras)``.

    Sets ``TF_CPP_MIN_LOG_LEVEL=2`` (unless already set) before the first import, so
    the C++ start-up lines never reach a notebook, and turns absl's and TensorFlow's
    Python loggers down to errors. Safe to call any number of times.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import absl.logging
    absl.logging.set_verbosity(absl.logging.ERROR)
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
    tf.autograph.set_verbosity(0)
    import keras
    return tf, keras


def _dataset_options(tf):
    """tf.data options with autotuning off: no ~9 s stalls when an epoch's pipeline shuts down."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


# -- the network ------------------------------------------------------------------------

def _initializer(keras, init: str, fan_in: int, fan_out: int, seed: int):
    """The Keras initializer drawing from the same distribution as ``init_weights(init, ...)``."""
    if init == "he":  # untruncated, as ours: keras.initializers.HeNormal is truncated
        return keras.initializers.RandomNormal(mean=0.0, stddev=math.sqrt(2.0 / fan_in), seed=seed)
    if init == "glorot":
        return keras.initializers.GlorotUniform(seed=seed)
    if init == "naive":
        return keras.initializers.RandomNormal(mean=0.0, stddev=0.01, seed=seed)
    raise ValueError(f"init: expected 'he', 'glorot' or 'naive', got {init!r}")


def _loss(keras, label_smoothing: float, n_classes: int, dtype: str):
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

    if recipe.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate=recipe.lr, momentum=recipe.momentum,
                                         nesterov=recipe.nesterov)
    elif recipe.optimizer == "adam":
        optimizer = keras.optimizers.Adam(learning_rate=recipe.lr, beta_1=ADAM_BETAS[0],
                                          beta_2=ADAM_BETAS[1], epsilon=ADAM_EPSILON)
    else:
        raise ValueError(f"optimizer: expected 'sgd' or 'adam', got {recipe.optimizer!r}")
    model.compile(optimizer=optimizer,
                  loss=_loss(keras, recipe.label_smoothing, sizes[-1], dtype),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy", dtype=dtype),
                           keras.metrics.SparseCategoricalCrossentropy(from_logits=True, name="ce",
                                                                       dtype=dtype)])
    return model, optimizer


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


def copy_weights_to_mlp(keras_model, mlp) -> None:
    """The reverse of :func:`copy_weights`: the Keras weights into the MLP's arrays (in place)."""
    arrays = {**mlp.params, **mlp.bn_state}
    for name, variable in keras_variables(mlp, keras_model).items():
        np.copyto(arrays[name], np.asarray(variable.numpy()), casting="same_kind")


# -- gradients on one batch -----------------------------------------------------------------

def numpy_gradients(mlp, x, y) -> tuple[float, dict]:
    """``mlp.loss(x, y)`` without its side effect: the batch-norm running statistics are
    put back afterwards. Dropout must be off (its masks cannot be matched)."""
    if mlp.dropout:
        raise ValueError("gradient parity needs dropout off: NumPy and Keras draw different "
                         "masks; build the model with dropout=0")
    saved = {k: v.copy() for k, v in mlp.bn_state.items()}
    loss, grads = mlp.loss(x, y)
    for name, value in saved.items():
        np.copyto(mlp.bn_state[name], value)
    return float(loss), {k: v.copy() for k, v in grads.items()}


def keras_gradients(mlp, keras_model, x, y) -> tuple[float, dict]:
    """The training loss and its gradients in Keras, named as the MLP's parameters.

    The loss is the one ``fit`` minimizes, ``model.compute_loss``: the compiled loss
    plus the regularization losses (the L2 penalties), taken through
    ``tf.GradientTape`` with the model in training mode. The batch-norm moving
    statistics that call updates are put back afterwards.
    """
    tf, _ = quiet_tensorflow()
    if any(layer.__class__.__name__ == "Dropout" for layer in keras_model.layers):
        raise ValueError("gradient parity needs dropout off: build the Keras model from a "
                         "recipe with dropout=0")
    variables = keras_variables(mlp, keras_model)
    moving = [v for v in keras_model.non_trainable_variables]
    saved = [v.numpy() for v in moving]
    x = tf.convert_to_tensor(np.asarray(x, mlp.dtype))
    y = tf.convert_to_tensor(np.asarray(y, np.int64))
    with tf.GradientTape() as tape:
        logits = keras_model(x, training=True)
        loss = keras_model.compute_loss(x=x, y=y, y_pred=logits, training=True)
    names = list(mlp.params)
    grads = tape.gradient(loss, [variables[name] for name in names])
    for variable, value in zip(moving, saved):
        variable.assign(value)
    return float(loss), {name: g.numpy() for name, g in zip(names, grads)}


def zero_gradient_names(mlp) -> list:
    """Parameters whose gradient is exactly zero in exact arithmetic: with batch norm, the
    bias of each Dense layer that feeds a BatchNormalization layer (BN subtracts the batch
    mean, which removes any constant shift). Computed, their gradients are rounding noise
    (about 1e-9) in either framework, so a relative difference between them means nothing."""
    return [f"b{i}" for i in range(1, mlp.n_layers)] if mlp.batchnorm else []


def gradient_differences(mlp, keras_model, x, y) -> dict:
    """How far NumPy's and Keras's gradients on one batch are apart, parameter by parameter.

    For each parameter array (NumPy gradient ``a``, Keras gradient ``b``):

        relative = max|a - b| / max|b|

    the largest elementwise difference measured against the largest gradient entry of
    that array (a ratio of infinity norms). Unlike an elementwise relative error it is
    not blown up by entries that happen to be near zero, and unlike one norm over all
    parameters it cannot hide a small array (a bias, gamma) behind the large weight
    matrices. ``l2_relative = ||a - b||_2 / ||b||_2`` is reported too.

    Returns ``{"loss_numpy", "loss_keras", "loss_relative", "per_parameter": {name: {...}},
    "max_relative", "zero_gradients": {name: max |a| and max |b|}}``, ``max_relative`` over all
    parameters except those of :func:`zero_gradient_names` (listed under
    ``zero_gradients`` with their absolute sizes instead).
    """
    loss_np, grads_np = numpy_gradients(mlp, x, y)
    loss_k, grads_k = keras_gradients(mlp, keras_model, x, y)
    zero = set(zero_gradient_names(mlp))
    per_parameter, zero_gradients = {}, {}
    for name, a in grads_np.items():
        a, b = a.astype(np.float64), grads_k[name].astype(np.float64)
        if name in zero:
            zero_gradients[name] = {"max_abs_numpy": float(np.abs(a).max()),
                                    "max_abs_keras": float(np.abs(b).max())}
            continue
        scale = float(np.abs(b).max())
        per_parameter[name] = {
            "relative": float(np.abs(a - b).max()) / scale if scale else float(np.abs(a).max()),
            "l2_relative": float(np.linalg.norm(a - b) / (np.linalg.norm(b) or 1.0)),
            "max_abs": scale,
        }
    return {"loss_numpy": loss_np, "loss_keras": loss_k,
            "loss_relative": abs(loss_np - loss_k) / abs(loss_k),
            "per_parameter": per_parameter,
            "max_relative": max(p["relative"] for p in per_parameter.values()),
            "zero_gradients": zero_gradients}


def gradient_parity(mlp, keras_model, x, y) -> float:
    """The largest relative gradient difference on one batch (see :func:`gradient_differences`)."""
    return gradient_differences(mlp, keras_model, x, y)["max_relative"]


# -- loss curves side by side ---------------------------------------------------------------

def _parity_batches(n: int, batch_size: int, steps: int, seed: int) -> list:
    """Row indices of ``steps`` full minibatches: shuffled epochs, partial last batches dropped."""
    rng = np.random.default_rng(seed)
    batches = []
    while len(batches) < steps:
        order = rng.permutation(n)
        batches += [order[s:s + batch_size] for s in range(0, n - batch_size + 1, batch_size)]
    return batches[:steps]


class _floatx:
    """Within the block, Keras creates its layers, losses and metrics in ``dtype``."""

    def __init__(self, dtype: str):
        self.dtype = dtype

    def __enter__(self):
        _, keras = quiet_tensorflow()
        self.keras, self.saved = keras, keras.config.floatx()
        keras.config.set_floatx(self.dtype)

    def __exit__(self, *exc):
        self.keras.config.set_floatx(self.saved)


def _to_float32(value: float) -> float:
    return float(np.float32(value))


def _float32_exact(recipe: Recipe) -> Recipe:
    """The recipe with its float hyperparameters rounded to the nearest float32.

    For float64 parity runs: Keras passes some Python floats through ``ops.cast(value,
    variable.dtype)``, and TensorFlow turns a Python float into a float32 tensor before
    casting it, so in a float64 model SGD's momentum, the L2 factor and Adam's betas
    (in its bias correction) are the float32 roundings of the values given, e.g.
    0.999 -> 0.99900001, which changes Adam's first step by 6e-6. With values that
    float32 represents exactly, both frameworks use the same numbers.
    """
    return replace(recipe, lr=_to_float32(recipe.lr), momentum=_to_float32(recipe.momentum),
                   l2=_to_float32(recipe.l2), label_smoothing=_to_float32(recipe.label_smoothing))


def _numpy_twin(recipe: Recipe, n_features: int, dtype: str):
    """The MLP and optimizer of ``build(recipe)``, in ``dtype``."""
    mlp, optimizer, _ = build(recipe, n_features)
    if np.dtype(dtype) != mlp.dtype:
        mlp = MLP(**{**mlp.config, "dtype": dtype})
    return mlp, optimizer


def _run_numpy(mlp, optimizer, x, y, batches) -> list:
    losses = []
    for idx in batches:
        loss, grads = mlp.loss(x[idx], y[idx])
        optimizer.step(mlp.params, grads)
        losses.append(float(loss))
    return losses


def parity_run(recipe: Recipe, prepared, steps: int = 50, seed: int = 0, *,
               dtype: str = "float32", reference: bool = False) -> dict:
    """Train the NumPy MLP and its Keras twin side by side for ``steps`` minibatches.

    Both start from the same weights (:func:`copy_weights`) and take the same
    minibatches in the same order (seeded by ``seed``), at the recipe's constant
    learning rate, both in ``dtype`` ("float32", or "float64" to check the formulas
    with rounding out of the way). Dropout and augmentation are turned off: Keras
    draws its dropout masks from TensorFlow's generator, and they cannot be made
    equal to ours, so with dropout the two runs would be two different (equally
    valid) samples. The Keras step is ``train_on_batch``, the code path of ``fit``.

    Why float32 curves drift apart (and a 1e-4 match over 50 float32 steps is not a
    fair target): two float32 implementations round differently (another summation
    order in a matrix product is enough), so their pre-activations differ by ~1e-7.
    Sooner or later one of the ~130,000 ReLU inputs of a step lies within that
    distance of zero and lands on different sides of it in the two runs: one unit of
    one image passes its gradient in one run and not in the other, the weight
    gradients then differ by ~1e-3 relative instead of 1e-7, and training amplifies
    the gap from there (Adam more than SGD, as it divides each gradient entry by its
    own size). On the sample with seed_rgb this happened at step 7 between NumPy
    float32 and NumPy float64 and near step 30 between Keras float32 and NumPy
    float64: it is chance, not a bug, and NumPy float32 drifts away from NumPy
    float64 as fast as from Keras. ``reference=True`` measures that yardstick: it
    also trains a float64 NumPy twin on the same batches and reports the
    float32-vs-float64 gap per step (``rounding_drift``). In float64 no ReLU input
    comes within rounding (1e-16) of zero, and the two curves agree to ~1e-15 for
    all 50 steps: the two trainings are the same computation.

    In float64 the recipe's float hyperparameters are first rounded to float32 values
    (see :func:`_float32_exact`), because Keras rounds some of them so.

    Returns a dict: ``numpy_loss`` and ``keras_loss`` (per step, the batch loss before
    the update, penalties included), ``relative_difference`` per step
    (``|numpy - keras| / |keras|``) and its maximum, ``gradient`` (the
    :func:`gradient_differences` on the first batch at the initial weights),
    ``weights_relative`` (per array, max|W_numpy - W_keras| / max|W_keras| after
    the last step, the zero-gradient biases of batch-norm models left out), notes,
    and with ``reference`` ``numpy_float64_loss`` and ``rounding_drift``.
    """
    recipe = replace(recipe, dropout=0.0, augment=False)
    if np.dtype(dtype) == np.float64:
        recipe = _float32_exact(recipe)
    x, y = prepared.x_train, prepared.y_train
    batches = _parity_batches(len(x), recipe.batch_size, steps, seed)
    mlp, optimizer = _numpy_twin(recipe, prepared.n_features, dtype)
    if reference:
        twin, twin_optimizer = _numpy_twin(recipe, prepared.n_features, "float64")
        for name, array in {**twin.params, **twin.bn_state}.items():
            array[...] = {**mlp.params, **mlp.bn_state}[name]
        reference_loss = _run_numpy(twin, twin_optimizer, x, y, batches)
    with _floatx(dtype):  # Keras's losses and metrics too, built lazily, in dtype
        keras_model, keras_optimizer = build_keras(recipe, prepared.n_features, dtype)
        copy_weights(mlp, keras_model)
        if np.dtype(dtype) == np.float64 and recipe.optimizer == "adam":
            optimizer.beta1, optimizer.beta2 = (_to_float32(b) for b in ADAM_BETAS)
            keras_optimizer.beta_1, keras_optimizer.beta_2 = optimizer.beta1, optimizer.beta2
        gradient = gradient_differences(mlp, keras_model, x[batches[0]], y[batches[0]])
        numpy_loss = _run_numpy(mlp, optimizer, x, y, batches)
        keras_loss = [float(keras_model.train_on_batch(x[idx], y[idx], return_dict=True)["loss"])
                      for idx in batches]
    relative = [abs(a - b) / abs(b) for a, b in zip(numpy_loss, keras_loss)]

    variables = keras_variables(mlp, keras_model)
    zero = set(zero_gradient_names(mlp))
    weights_relative = {}
    for name, array in {**mlp.params, **mlp.bn_state}.items():
        if name not in zero:
            theirs = variables[name].numpy().astype(np.float64)
            weights_relative[name] = float(np.abs(array - theirs).max() / np.abs(theirs).max())
    notes = ("dropout and augmentation off (dropout masks cannot be matched across frameworks)"
             + ("; the biases feeding batch norm (" + ", ".join(sorted(zero)) + ") have a zero "
                "gradient in exact arithmetic, so each framework moves them by its own rounding "
                "noise (Adam scales that noise up to lr-sized steps); batch norm cancels them, "
                "so they do not change the loss, and they are left out of weights_relative"
                if zero else ""))
    report = {"recipe": asdict(recipe), "dtype": dtype, "steps": steps,
              "batch_size": recipe.batch_size, "numpy_loss": numpy_loss, "keras_loss": keras_loss,
              "relative_difference": relative, "max_relative_difference": max(relative),
              "gradient": gradient, "weights_relative": weights_relative, "notes": notes}
    if reference:
        report["numpy_float64_loss"] = reference_loss
        report["rounding_drift"] = [abs(a - b) / abs(b) for a, b in zip(numpy_loss, reference_loss)]
    return report


# -- a whole training run ---------------------------------------------------------------------

def training_dataset(x, y, *, batch_size: int, seed: int, augment_data: bool):
    """A tf.data.Dataset of the minibatches :func:`cifar_mlp.train.train` would draw.

    One ``np.random.default_rng(seed)`` gives, every epoch, a permutation of the rows and
    then (with ``augment_data``) each batch's flips and crops through
    :func:`cifar_mlp.train.augment`, in the same order of calls as ``train``: epoch for
    epoch, both frameworks see identical batches. Autotuning is off (no stalls).
    """
    tf, _ = quiet_tensorflow()
    x, y = np.asarray(x, np.float32), np.asarray(y, np.int64)
    rng = np.random.default_rng(seed)

    def batches():
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            x_batch = x[idx]
            if augment_data:
                x_batch = augment(x_batch, rng)
            yield x_batch, y[idx]

    dataset = tf.data.Dataset.from_generator(batches, output_signature=(
        tf.TensorSpec((None, x.shape[1]), tf.float32), tf.TensorSpec((None,), tf.int64)))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(math.ceil(len(x) / batch_size)))
    return dataset.prefetch(1).with_options(_dataset_options(tf))


def evaluation_dataset(x, y=None, batch_size: int = EVAL_BATCH):
    """A batched tf.data.Dataset of ``x`` (and ``y``) in order, autotuning off."""
    tf, _ = quiet_tensorflow()
    tensors = np.asarray(x, np.float32) if y is None else (np.asarray(x, np.float32),
                                                           np.asarray(y, np.int64))
    dataset = tf.data.Dataset.from_tensor_slices(tensors).batch(batch_size)
    return dataset.with_options(_dataset_options(tf))


def evaluate_keras(keras_model, x, y) -> tuple[float, float]:
    """Plain cross-entropy and accuracy in inference mode, as :func:`cifar_mlp.train.evaluate`."""
    logits = keras_model.predict(evaluation_dataset(x), verbose=0).astype(np.float64)
    loss_sum, correct = score_logits(logits, np.asarray(y))
    return loss_sum / len(logits), correct / len(logits)


def _epoch_recorder(keras, history: History, bar):
    """A callback filling a :class:`History` (per-epoch logs, learning rate and wall time)
    and advancing the progress ``bar`` as :func:`cifar_mlp.train.train` does."""

    class EpochRecorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            # First in the callback list: the time excludes the other callbacks' work
            # (weight copies for early stopping) as little as NumPy's does.
            history.seconds.append(time.perf_counter() - self.started)
            history.train_loss.append(float(logs["loss"]))
            history.train_acc.append(float(logs["accuracy"]))
            history.val_loss.append(float(logs["val_ce"]))
            history.val_acc.append(float(logs["val_accuracy"]))
            history.lr.append(float(self.model.optimizer.learning_rate.numpy()))
            bar.set_postfix({"loss": f"{logs['loss']:.3f}", "acc": f"{logs['accuracy']:.3f}",
                             "val_loss": f"{logs['val_ce']:.3f}",
                             "val_acc": f"{logs['val_accuracy']:.3f}",
                             "lr": f"{history.lr[-1]:.2g}"}, refresh=False)
            bar.update(1)

    return EpochRecorder()


def train_keras(recipe: Recipe, prepared, *, max_epochs: int | None = None,
                results_dir: Path | None = RESULTS_DIR, weights_dir: Path = WEIGHTS_DIR,
                retrain: bool = False, same_initial_weights: bool = True,
                progress: bool = True) -> dict:
    """Train the Keras twin of ``recipe`` as :func:`cifar_mlp.experiments.run` trains the MLP.

    Same epochs (capped by ``max_epochs``), batch size, minibatches and augmentations
    (:func:`training_dataset`), learning-rate schedule (cosine through a
    LearningRateScheduler, "plateau" through ReduceLROnPlateau with our factor and
    patience and ``min_delta=0``), early stopping with the same patience on the plain
    validation cross-entropy (``val_ce``) with the best weights restored, and, with
    ``same_initial_weights``, the NumPy model's initial weights. ``fit`` runs with
    ``verbose=0`` on tf.data pipelines with autotuning off; ``progress`` shows one
    progress bar over the epochs instead.

    Epoch wall times are recorded by a callback and reported as their median
    (``seconds_per_epoch``; the first epoch includes tracing the graph). The test set
    is scored once, at the end. Writes ``results_dir/keras_<name>.json`` (unless
    ``results_dir`` is None) with the keys of ``run``'s results and ``framework``
    "keras"; returns that dict plus ``"model"`` (the Keras model) and ``"history"``.

    ``train_loss`` and ``train_acc`` are running means over the epoch's batches of the
    training-mode loss (penalties included) and accuracy, as in NumPy's ``train``;
    ``val_loss``, ``val_acc`` and the test numbers are the plain cross-entropy and the
    accuracy in inference mode, as NumPy's ``evaluate`` computes them.

    Like ``run``, it saves the trained weights and history under
    ``weights_dir/<data source>/keras_<name>.*`` and, unless ``retrain``, reloads them
    instead of training when the same recipe was trained on the same data.
    """
    tf, keras = quiet_tensorflow()
    if max_epochs is not None:
        recipe = replace(recipe, epochs=min(recipe.epochs, max_epochs))
    key = json.dumps([recipe.key(prepared), same_initial_weights, tf.__version__])
    weights = Path(weights_dir) / prepared.source / f"keras_{recipe.name}.npz"
    keras.utils.set_random_seed(recipe.seed)
    model, _ = build_keras(recipe, prepared.n_features)
    record = None if retrain else saved_training(weights, key)
    if record is not None:
        with np.load(weights) as arrays:  # the layers' weights, in get_weights() order
            model.set_weights([arrays[f"arr_{i}"] for i in range(len(arrays.files))])
        return _finish_keras(recipe, prepared, model, record["history"], record["seconds"],
                             results_dir, same_initial_weights)

    mlp, _, schedule = build(recipe, prepared.n_features)
    if same_initial_weights:
        copy_weights(mlp, model)

    history = History()
    bar = tqdm(total=recipe.epochs, desc="training (Keras)", unit="epoch", disable=not progress)
    callbacks = [_epoch_recorder(keras, history, bar), keras.callbacks.TerminateOnNaN()]
    if isinstance(schedule, ReduceOnPlateau):
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor="val_ce", mode="min", factor=schedule.factor, patience=schedule.patience,
            min_lr=schedule.min_lr, min_delta=0.0, cooldown=0, verbose=0))
    elif recipe.schedule != "constant":
        callbacks.append(keras.callbacks.LearningRateScheduler(
            lambda epoch, lr: schedule(epoch, recipe.lr), verbose=0))
    if recipe.patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_ce", mode="min", patience=recipe.patience, min_delta=0.0,
            restore_best_weights=True, verbose=0))

    train_data = training_dataset(prepared.x_train, prepared.y_train, batch_size=recipe.batch_size,
                                  seed=recipe.seed, augment_data=recipe.augment)
    val_data = evaluation_dataset(prepared.x_val, prepared.y_val)
    started = time.perf_counter()
    with bar:
        model.fit(train_data, validation_data=val_data, epochs=recipe.epochs, verbose=0,
                  shuffle=False, callbacks=callbacks)  # the dataset shuffles, as train() does
    seconds = time.perf_counter() - started

    if history.val_loss:
        history.best_epoch = int(np.argmin(history.val_loss)) + 1  # the first lowest, as NumPy's
    if history.epochs < recipe.epochs:
        history.stopped_early = True
        history.stop_reason = (
            "diverged (NaN loss)" if not all(map(math.isfinite, history.train_loss)) or
            history.epochs == 0 else
            f"early stopping: no lower validation loss for {recipe.patience} epochs after "
            f"epoch {history.best_epoch}")
    else:
        history.stop_reason = f"completed {recipe.epochs} epochs"
    if not history.stop_reason.startswith("diverged"):  # a diverged run is not worth reloading
        weights.parent.mkdir(parents=True, exist_ok=True)
        np.savez(weights, *model.get_weights())
        save_training(weights, key, history, seconds)
    return _finish_keras(recipe, prepared, model, history, seconds, results_dir,
                         same_initial_weights)


def _finish_keras(recipe, prepared, model, history, seconds, results_dir, same_initial_weights):
    """Evaluate once on the test set and write ``results/keras_<name>.json``."""
    tf, keras = quiet_tensorflow()
    result = result_record(
        recipe, prepared, history, seconds, framework="keras",
        test=evaluate_keras(model, prepared.x_test, prepared.y_test),
        val=evaluate_keras(model, prepared.x_val, prepared.y_val),
        parameters=int(sum(int(np.prod(v.shape)) for v in model.trainable_variables)),
        versions={"tensorflow": tf.__version__, "keras": keras.__version__},
        same_initial_weights=same_initial_weights)
    write_result(result, results_dir, f"keras_{recipe.name}.json")
    return {**result, "model": model, "history": history}

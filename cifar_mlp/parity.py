"""The proof that the Keras twin is a twin (chapter 4): the same gradients on one batch,
the same losses over steps side by side.

    report = parity_run(RECIPES["seed_rgb"], prepared, steps=50)

In float64 the two frameworks agree to rounding (about 1e-15): the same computation.
In float32 they drift apart as two float32 runs of NumPy do (see :func:`parity_run`).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, replace
from itertools import islice

import numpy as np

from .experiments import Recipe, build
from .keras_runtime import quiet_tensorflow
from .keras_twin import build_keras, copy_weights, keras_variables
from .model import MLP
from .train import minibatches


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


# -- loss curves side by side ------------------------------------------------------------

def parity_batches(x, y, batch_size: int, steps: int, seed: int) -> list:
    """The first ``steps`` minibatches of training with ``seed``: those of
    :func:`cifar_mlp.train.minibatches`, epoch after epoch, augmentation off."""
    rng = np.random.default_rng(seed)
    batches = []
    while len(batches) < steps:
        batches += islice(minibatches(x, y, batch_size, rng), steps - len(batches))
    return batches


@contextmanager
def keras_default_dtype(dtype: str):
    """Within the block, Keras creates its layers, losses and metrics in ``dtype``."""
    _, keras = quiet_tensorflow()
    saved = keras.config.floatx()
    keras.config.set_floatx(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(saved)


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


def _run_numpy(mlp, optimizer, batches) -> list:
    losses = []
    for x, y in batches:
        loss, grads = mlp.loss(x, y)
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

    Why float32 curves may drift apart (and a 1e-4 match over 50 float32 steps is not a
    fair target for every recipe): two float32 implementations round differently
    (another summation order in a matrix product is enough), so their numbers differ by
    ~1e-7 from the first step, and the training of some recipes amplifies such
    differences while others keep them at that size (chapter 4 measures which, for
    batch norm and Adam). NumPy float32 drifts away from NumPy float64 as fast as from
    Keras: ``reference=True`` measures that yardstick, by also training a float64 NumPy
    twin on the same batches and reporting the float32-vs-float64 gap per step
    (``rounding_drift``). In float64 the two curves agree to ~1e-15 for all 50 steps:
    the two trainings are the same computation.

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
    recipe = replace(recipe, dropout=0.0, augment_shift=None)
    if np.dtype(dtype) == np.float64:
        recipe = _float32_exact(recipe)
    batches = parity_batches(prepared.x_train, prepared.y_train, recipe.batch_size, steps, seed)
    mlp, optimizer = _numpy_twin(recipe, prepared.n_features, dtype)
    if reference:
        twin, twin_optimizer = _numpy_twin(recipe, prepared.n_features, "float64")
        for name, array in {**twin.params, **twin.bn_state}.items():
            array[...] = {**mlp.params, **mlp.bn_state}[name]
        reference_loss = _run_numpy(twin, twin_optimizer, batches)
    with keras_default_dtype(dtype):  # Keras's losses and metrics too, built lazily, in dtype
        keras_model, keras_optimizer = build_keras(recipe, prepared.n_features, dtype)
        copy_weights(mlp, keras_model)
        if np.dtype(dtype) == np.float64 and recipe.optimizer == "adam":
            optimizer.beta1, optimizer.beta2 = map(_to_float32, (optimizer.beta1, optimizer.beta2))
            keras_optimizer.beta_1, keras_optimizer.beta_2 = optimizer.beta1, optimizer.beta2
        gradient = gradient_differences(mlp, keras_model, *batches[0])
        numpy_loss = _run_numpy(mlp, optimizer, batches)
        keras_loss = [float(keras_model.train_on_batch(x, y, return_dict=True)["loss"])
                      for x, y in batches]
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

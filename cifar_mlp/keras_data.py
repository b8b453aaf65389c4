"""The Keras side's data and scores (chapter 4): the minibatches of the NumPy training as
a tf.data pipeline, batched evaluation sets, and the scoring of a Keras model as
:func:`cifar_mlp.train.evaluate` scores an MLP, test-time views included."""

from __future__ import annotations

import math

import numpy as np

from .augment import views
from .keras_runtime import dataset_options, quiet_tensorflow
from .layers import log_softmax
from .train import loss_sum_and_correct, mean_of_views, minibatches

EVAL_BATCH = 1024


def training_dataset(x, y, *, batch_size: int, seed: int, augment_shift: int | None):
    """A tf.data.Dataset of the minibatches :func:`cifar_mlp.train.train` draws: each epoch,
    :func:`cifar_mlp.train.minibatches` with one ``np.random.default_rng(seed)`` carried
    from epoch to epoch, as ``train`` carries it. Autotuning is off (no stalls)."""
    tf, _ = quiet_tensorflow()
    x, y = np.asarray(x, np.float32), np.asarray(y, np.int64)
    rng = np.random.default_rng(seed)
    dataset = tf.data.Dataset.from_generator(
        lambda: minibatches(x, y, batch_size, rng, augment_shift), output_signature=(
            tf.TensorSpec((None, x.shape[1]), tf.float32), tf.TensorSpec((None,), tf.int64)))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(math.ceil(len(x) / batch_size)))
    return dataset.prefetch(1).with_options(dataset_options(tf))


def evaluation_dataset(x, y=None, batch_size: int = EVAL_BATCH):
    """A batched tf.data.Dataset of ``x`` (and ``y``) in order, autotuning off."""
    tf, _ = quiet_tensorflow()
    tensors = np.asarray(x, np.float32) if y is None else (np.asarray(x, np.float32),
                                                           np.asarray(y, np.int64))
    dataset = tf.data.Dataset.from_tensor_slices(tensors).batch(batch_size)
    return dataset.with_options(dataset_options(tf))


def evaluate_keras(keras_model, x, y, test_shift: int | None = None) -> tuple[float, float]:
    """Plain cross-entropy and accuracy in inference mode, as :func:`cifar_mlp.train.evaluate`,
    with the same test-time augmentation (``test_shift``)."""
    def log_proba(images):
        logits = keras_model.predict(evaluation_dataset(images), verbose=0).astype(np.float64)
        return log_softmax(logits)

    log_p = (log_proba(x) if test_shift is None else
             mean_of_views(log_proba(view) for view in views(x, test_shift)))
    loss_sum, correct = loss_sum_and_correct(log_p, np.asarray(y))
    return loss_sum / len(log_p), correct / len(log_p)

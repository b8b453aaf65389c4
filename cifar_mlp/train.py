"""The training loop: minibatches and one epoch (chapter 2); epochs, validation, early
stopping (chapter 3).

    history = train(model, SGD(0.01, momentum=0.9), x_train, y_train, x_val, y_val,
                    epochs=30, patience=5, schedule=cosine(30))

An epoch visits every training image once, in a new random order, in minibatches
(:func:`minibatches`); each minibatch gives a loss and its gradients
(:meth:`MLP.loss <cifar_mlp.model.MLP.loss>`) and one optimizer step
(:func:`train_epoch`). After each epoch the validation split is scored
(:func:`evaluate`) and the numbers go into a :class:`History` (:func:`train`).

The loop is the plain one a reader can follow; the checks of its inputs
(:mod:`cifar_mlp.input_checks`) and the divergence guard (:mod:`cifar_mlp.safety`) sit
beside it.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import ClassVar

import numpy as np
from tqdm.auto import tqdm

from .augment import augment, views
from .input_checks import check_settings, check_split
from .layers import log_softmax
from .safety import Checkpoint, DivergenceGuard, TrainingDiverged  # noqa: F401 (re-exported)


def minibatches(x, y, batch_size: int, rng: np.random.Generator,
                augment_shift: int | None = None):
    """One epoch of shuffled minibatches ``(x_batch, y_batch)``.

    The order is a new permutation of the rows, drawn from ``rng``; the last batch may
    be smaller. Each batch is gathered with ``x[idx]`` (only the batch is copied) and,
    when ``augment_shift`` is a number, flipped and shifted by up to that many pixels at
    random (:func:`cifar_mlp.augment.augment`, drawing from the same ``rng``). NumPy
    training, the Keras twin, the parity check and the benchmark all draw their batches
    here, so one seed gives them the same batches.
    """
    order = rng.permutation(len(x))
    for start in range(0, len(x), batch_size):
        idx = order[start:start + batch_size]
        x_batch = x[idx] if augment_shift is None else augment(x[idx], rng, augment_shift)
        yield x_batch, y[idx]


def train_epoch(model, optimizer, batches, guard=None) -> tuple[float, float]:
    """One pass over ``batches``: for each, the loss and its gradients, then an update.

    Returns the epoch's mean training cross-entropy and accuracy: running means over
    the batches, taken as the weights changed, from the logits of each batch's own
    forward pass (dropout on), before the update, as Keras reports them. The
    cross-entropy is the plain one, as :func:`evaluate` measures it on validation: the
    L2 penalty and label smoothing change what is minimized, not what is reported.
    """
    loss_sum, correct, seen = 0.0, 0, 0
    for x_batch, y_batch in batches:
        loss, grads, logits = model.loss(x_batch, y_batch, return_logits=True)
        if guard is not None:
            guard.check(loss, x_batch)  # stops at a NaN or exploding loss
        optimizer.step(model.params, grads)
        batch_loss, batch_correct = loss_sum_and_correct(log_softmax(logits), y_batch)
        loss_sum += batch_loss
        correct += batch_correct
        seen += len(y_batch)
    return loss_sum / seen, correct / seen


def train(model, optimizer, x_train, y_train, x_val, y_val, *, epochs: int,
          batch_size: int = 128, seed: int = 0, schedule=None, patience: int | None = None,
          augment_shift: int | None = None, progress: bool = True,
          divergence_factor: float | None = 10.0) -> History:
    """Train ``model`` with ``optimizer`` for up to ``epochs`` epochs; return the :class:`History`.

    * ``augment_shift``: augmentation, see :func:`minibatches` (None: none).
    * ``np.random.default_rng(seed)`` draws the minibatches and augmentations; the
      model's own generator draws its dropout masks: the two seeds fix the whole run.
    * ``schedule(epoch, base_lr)`` sets ``optimizer.lr`` at the start of each epoch;
      a schedule with an ``update(val_loss)`` method (:class:`~cifar_mlp.schedules.
      ReduceOnPlateau`) also gets each epoch's validation loss.
    * ``patience``: early stopping. Training stops after ``patience`` epochs without a
      lower validation loss, and the model gets back the weights of its best epoch.
      Without ``patience`` the model keeps its final weights.
    * A NaN, infinite or exploding loss (above ``divergence_factor`` times the first)
      raises :class:`~cifar_mlp.safety.TrainingDiverged`, after giving the model back
      its best weights so far.
    * ``progress`` shows one progress bar over the epochs.
    """
    check_training(model, x_train, y_train, x_val, y_val, epochs, batch_size, patience,
                   divergence_factor, schedule)
    rng, base_lr = np.random.default_rng(seed), optimizer.lr
    history, best = History(), Checkpoint(model)  # the initial weights, until an epoch beats them
    guard = DivergenceGuard(model, optimizer, best, history, factor=divergence_factor,
                            n_steps=math.ceil(len(x_train) / batch_size))
    bar = tqdm(range(1, epochs + 1), desc="training", unit="epoch", disable=not progress)
    for epoch in bar:
        started = time.perf_counter()
        if schedule is not None:
            optimizer.lr = schedule(epoch - 1, base_lr)
        with guard.epoch(epoch):
            batches = minibatches(x_train, y_train, batch_size, rng, augment_shift)
            train_loss, train_acc = train_epoch(model, optimizer, batches, guard)
            val_loss, val_acc = evaluate(model, x_val, y_val)
            guard.check_validation(val_loss)
        if val_loss < best.loss:
            best.save(model, val_loss)
            history.best_epoch = epoch
        lr = optimizer.lr
        if hasattr(schedule, "update"):  # a schedule that follows the validation loss
            optimizer.lr = schedule.update(val_loss)
        history.record(train_loss=train_loss, train_acc=train_acc, val_loss=val_loss,
                       val_acc=val_acc, l2_penalty=model.l2_penalty(), lr=lr,
                       seconds=time.perf_counter() - started)
        bar.set_postfix(loss=f"{train_loss:.3f}", acc=f"{train_acc:.3f}",
                        val_loss=f"{val_loss:.3f}", val_acc=f"{val_acc:.3f}", lr=f"{lr:.2g}")
        if patience is not None and epoch - history.best_epoch >= patience:
            history.stop_early(patience)
            break
    bar.close()
    if not history.stopped_early:
        history.complete()
    if patience is not None:
        best.restore(model)
    return history


# -- the record of a run ------------------------------------------------------------

@dataclass
class History:
    """What happened during training, one list entry per epoch.

    ``train_loss`` and ``train_acc`` are means over the epoch's minibatches (see
    :func:`train_epoch`); ``val_loss`` and ``val_acc`` come from :func:`evaluate` after
    the epoch. Both losses are the plain cross-entropy, so the two curves compare like
    with like; ``l2_penalty`` is the L2 term the optimizer also minimizes
    (``l2 * sum(W**2)``, at the end of the epoch; 0 without L2). ``lr`` is the learning
    rate used during the epoch and ``seconds`` its wall time, validation included.
    ``best_epoch`` (from 1; 0 before any epoch) is the epoch of the lowest validation loss.
    ``ending`` says how training ended (COMPLETED, EARLY_STOPPING or DIVERGED, set by
    :meth:`complete`, :meth:`stop_early` or :meth:`diverge`, which both training loops
    call) and ``stop_reason`` says it in a sentence.
    """

    COMPLETED: ClassVar[str] = "completed"
    EARLY_STOPPING: ClassVar[str] = "early stopping"
    DIVERGED: ClassVar[str] = "diverged"

    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    l2_penalty: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    stop_reason: str = ""
    ending: str = ""

    def complete(self) -> None:
        """Training ran every epoch it was given."""
        self._end(self.COMPLETED, f"completed {self.epochs} epochs")

    def stop_early(self, patience: int) -> None:
        """Training stopped: ``patience`` epochs without a lower validation loss."""
        self._end(self.EARLY_STOPPING, f"early stopping: no lower validation loss for {patience} "
                                       f"epochs after epoch {self.best_epoch}")

    def diverge(self, epoch: int) -> None:
        """Training stopped in ``epoch``: the loss was no longer a finite number."""
        self._end(self.DIVERGED, f"diverged in epoch {epoch}")

    def _end(self, ending: str, reason: str) -> None:
        self.ending, self.stop_reason, self.stopped_early = ending, reason, ending != self.COMPLETED

    @property
    def epochs(self) -> int:
        """The number of completed epochs."""
        return len(self.train_loss)

    @property
    def median_seconds_per_epoch(self) -> float:
        """The median epoch time (robust to a slow first epoch); NaN before any epoch."""
        return float(np.median(self.seconds)) if self.seconds else math.nan

    def record(self, **values) -> None:
        """Append one epoch's values: train_loss, train_acc, val_loss, val_acc, l2_penalty,
        lr, seconds."""
        for name, value in values.items():
            getattr(self, name).append(float(value))

    def to_dict(self) -> dict:
        """The fields as plain Python lists and numbers (ready for ``json.dump``)."""
        return asdict(self)


# -- evaluation --------------------------------------------------------------------------

def loss_sum_and_correct(log_p: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    """From log-probabilities (N, C): the summed plain cross-entropy (in float64) and the
    number of correct predictions."""
    loss_sum = -float(log_p[np.arange(len(labels)), labels].sum(dtype=np.float64))
    return loss_sum, int((log_p.argmax(axis=1) == labels).sum())


def evaluate(model, x: np.ndarray, y: np.ndarray, batch_size: int = 1024,
             test_shift: int | None = None) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on ``(x, y)``: ``(loss, accuracy)``.

    Inference mode (batch norm uses its running statistics, no dropout), ``batch_size``
    rows at a time, so that memory stays small whatever the size of ``x``. The loss is
    the plain cross-entropy: no label smoothing and no L2 penalty, so that any two
    models can be compared on it. ``test_shift``: see :func:`log_proba`.
    """
    x, y = np.asarray(x), np.asarray(y)
    check_split(x, y, "x", "y", model.layer_sizes[0], model.layer_sizes[-1], check_finite=False)
    loss_sum, correct = loss_sum_and_correct(log_proba(model, x, batch_size, test_shift), y)
    return loss_sum / len(x), correct / len(x)


def log_proba(model, x: np.ndarray, batch_size: int = 1024, test_shift: int | None = None):
    """The log-probabilities (N, C) ``model`` gives each image, in inference mode.

    ``test_shift=None``: each image as it is. An integer (test-time augmentation,
    chapter 3): each image gets the mean of the probabilities of all its views, mirrored
    or not and shifted by up to ``test_shift`` pixels (:func:`cifar_mlp.augment.views`).
    """
    out = np.empty((len(x), model.layer_sizes[-1]), np.float64)
    for start in range(0, len(x), batch_size):
        batch = x[start:start + batch_size]
        if test_shift is None:
            out[start:start + batch_size] = log_softmax(model.forward(batch).astype(np.float64))
        else:
            out[start:start + batch_size] = mean_of_views(
                log_softmax(model.forward(view).astype(np.float64))
                for view in views(batch, test_shift))
    return out


def mean_of_views(log_probas) -> np.ndarray:
    """``log(mean(p))`` over views, from their ``log p``, without underflow."""
    total, count = None, 0
    for log_p in log_probas:
        total = log_p if total is None else np.logaddexp(total, log_p)
        count += 1
    return total - np.log(count)


def check_training(model, x_train, y_train, x_val, y_val, epochs, batch_size, patience,
                   divergence_factor, schedule) -> None:
    """The checks :func:`train` makes once, before its first step (:mod:`cifar_mlp.input_checks`)."""
    check_settings(epochs, batch_size, patience, divergence_factor, schedule)
    width, n_classes = model.layer_sizes[0], model.layer_sizes[-1]
    check_split(np.asarray(x_train), np.asarray(y_train), "x_train", "y_train", width, n_classes)
    check_split(np.asarray(x_val), np.asarray(y_val), "x_val", "y_val", width, n_classes)

"""The training loop: shuffled minibatches, augmentation, learning-rate schedules,
early stopping and divergence detection.

    history = train(model, Adam(1e-3), x_train, y_train, x_val, y_val,
                    epochs=30, patience=5, schedule=cosine(30))

One call to :func:`train` runs whole epochs. An epoch visits every training
image once, in a new random order, in minibatches of ``batch_size`` rows; each
minibatch gives a loss and gradients (:meth:`MLP.loss`) and one optimizer step.
After each epoch the validation split is scored with :func:`evaluate`, and the
numbers go into a :class:`History`.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .layers import check_labels

FINITE_CHECK_ROWS = 4096  # rows checked for NaN/inf at a time, to keep the temporaries small


class TrainingDiverged(RuntimeError):
    """The loss became NaN, infinite or exploded; the message says where and the likely causes.

    Before it is raised, the model gets back the weights of its best epoch so far
    (or its initial weights, when no epoch was completed). ``epoch`` and ``step``
    (both from 1; ``step`` is None when the validation loss diverged) say where it
    happened, ``history`` holds the completed epochs.
    """

    def __init__(self, message: str, *, epoch: int, step: int | None, history: "History"):
        super().__init__(message)
        self.epoch, self.step, self.history = epoch, step, history


# -- data augmentation ------------------------------------------------------------------

def augment(x_batch: np.ndarray, rng: np.random.Generator, *, flip: bool = True,
            crop_padding: int = 4, image_shape=(32, 32, 3)) -> np.ndarray:
    """A randomly flipped and shifted copy of a batch of flattened images.

    Each row is seen as an image of ``image_shape`` (height, width, channels),
    channels last; the number of channels is inferred from the row width, so
    grayscale rows (1,024 wide) work as well as RGB rows (3,072 wide).

    * flip: each image is mirrored left-right with probability 1/2;
    * crop: each image is padded with ``crop_padding`` zeros on every side and a
      window of the original size is cut at a random position, which shifts the
      content by up to ``crop_padding`` pixels in each direction.

    Both are done at once, without a loop over images: for every output pixel
    we compute which pixel of the padded image it comes from (reversing the
    column order of the flipped images) and gather them all with one ``np.take``.
    Returns new float32 rows; ``x_batch`` is not changed.
    """
    x_batch = np.asarray(x_batch, dtype=np.float32)
    n, width = x_batch.shape if x_batch.ndim == 2 else (0, 0)
    height, row_len = image_shape[0], image_shape[1]
    if x_batch.ndim != 2 or width == 0 or width % (height * row_len):
        raise ValueError(f"augment: expected rows of {height}x{row_len}xC pixels "
                         f"(C channels, channels last), got an array of shape {x_batch.shape}")
    if crop_padding < 0:
        raise ValueError(f"augment: crop_padding must be >= 0, got {crop_padding}")
    channels, pad = width // (height * row_len), int(crop_padding)

    images = x_batch.reshape(n, height, row_len, channels)
    padded = np.zeros((n, height + 2 * pad, row_len + 2 * pad, channels), np.float32)
    padded[:, pad:pad + height, pad:pad + row_len] = images

    rows = np.broadcast_to(np.arange(height), (n, height))
    cols = np.broadcast_to(np.arange(row_len), (n, row_len))
    if flip:
        mirrored = rng.random(n) < 0.5
        cols = np.where(mirrored[:, None], cols[:, ::-1], cols)
    if pad:
        rows = rows + rng.integers(0, 2 * pad + 1, n)[:, None]  # top edge of the window
        cols = cols + rng.integers(0, 2 * pad + 1, n)[:, None]  # left edge of the window

    # Index of each output pixel in the padded batch seen as a list of pixels.
    padded_h, padded_w = padded.shape[1:3]
    image_index = np.arange(n)[:, None, None]
    pixel = (image_index * padded_h + rows[:, :, None]) * padded_w + cols[:, None, :]
    out = np.take(padded.reshape(-1, channels), pixel.ravel(), axis=0)
    return out.reshape(n, width)


# -- learning-rate schedules --------------------------------------------------------------
#
# A schedule is a function ``lr = schedule(epoch, base_lr)`` where ``epoch`` counts from 0
# and ``base_lr`` is the optimizer's learning rate when training started. ``train`` calls
# it at the start of every epoch and sets ``optimizer.lr``.

def constant():
    """The learning rate never changes."""
    def schedule(epoch: int, base_lr: float) -> float:
        return base_lr
    return schedule


def step(drop: float = 0.5, every: int = 10):
    """Step decay: multiply the learning rate by ``drop`` every ``every`` epochs.

    lr = base_lr * drop ** (epoch // every)
    """
    if not 0.0 < drop <= 1.0:
        raise ValueError(f"step: drop must be in (0, 1], got {drop}")
    if every < 1:
        raise ValueError(f"step: every must be >= 1, got {every}")

    def schedule(epoch: int, base_lr: float) -> float:
        return base_lr * drop ** (epoch // every)
    return schedule


def cosine(total_epochs: int, min_lr: float = 0.0):
    """Cosine annealing from ``base_lr`` (first epoch) towards ``min_lr`` over ``total_epochs``.

    lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * epoch / total_epochs)) / 2,
    and ``min_lr`` after ``total_epochs`` epochs.
    """
    if total_epochs < 1:
        raise ValueError(f"cosine: total_epochs must be >= 1, got {total_epochs}")
    if min_lr < 0:
        raise ValueError(f"cosine: min_lr must be >= 0, got {min_lr}")

    def schedule(epoch: int, base_lr: float) -> float:
        progress = min(epoch, total_epochs) / total_epochs
        return min_lr + (base_lr - min_lr) * (1.0 + math.cos(math.pi * progress)) / 2.0
    return schedule


class ReduceOnPlateau:
    """Multiply the learning rate by ``factor`` when the validation loss has not improved
    for ``patience`` epochs in a row, never going below ``min_lr`` (Keras's
    ReduceLROnPlateau with ``min_delta=0`` and no cooldown).

    ``train`` feeds it each epoch's validation loss through :meth:`update`. It keeps
    state: use a new instance for each training run.
    """

    def __init__(self, factor: float = 0.5, patience: int = 3, min_lr: float = 0.0):
        if not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceOnPlateau: factor must be in (0, 1), got {factor}")
        if patience < 1:
            raise ValueError(f"ReduceOnPlateau: patience must be >= 1, got {patience}")
        self.factor, self.patience, self.min_lr = factor, patience, min_lr
        self.lr = None  # set from base_lr on the first call
        self.best, self.wait = math.inf, 0

    def __call__(self, epoch: int, base_lr: float) -> float:
        if self.lr is None:
            self.lr = base_lr
        return self.lr

    def update(self, val_loss: float) -> float:
        """Record one epoch's validation loss; return the learning rate for the next epoch."""
        if self.lr is None:
            raise RuntimeError("ReduceOnPlateau: call it with (epoch, base_lr) before update()")
        if val_loss < self.best:
            self.best, self.wait = val_loss, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.lr, self.wait = max(self.lr * self.factor, self.min_lr), 0
        return self.lr


# -- the record of a run ---------------------------------------------------------------

@dataclass
class History:
    """What happened during training, one list entry per epoch.

    ``train_loss`` and ``train_acc`` are means over the epoch's minibatches (see
    :func:`train`); ``val_loss`` and ``val_acc`` come from :func:`evaluate` after the
    epoch; ``lr`` is the learning rate used during the epoch and ``seconds`` its wall
    time, validation included. ``best_epoch`` (from 1; 0 before any epoch) is the
    epoch of the lowest validation loss.
    """

    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    stop_reason: str = ""

    @property
    def epochs(self) -> int:
        """The number of completed epochs."""
        return len(self.train_loss)

    @property
    def median_seconds_per_epoch(self) -> float:
        """The median epoch time (robust to a slow first epoch); NaN before any epoch."""
        return float(np.median(self.seconds)) if self.seconds else math.nan

    def to_dict(self) -> dict:
        """The fields as plain Python lists and numbers (ready for ``json.dump``)."""
        return asdict(self)


# -- evaluation --------------------------------------------------------------------------

def _n_classes_and_width(model) -> tuple[int, int]:
    sizes = model.config["layer_sizes"]
    return sizes[-1], sizes[0]


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax through the log-sum-exp with the row maximum subtracted."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def score_logits(logits: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    """The summed plain cross-entropy (in float64) and the number of correct predictions."""
    log_p = _log_softmax(logits)
    loss_sum = -float(log_p[np.arange(len(labels)), labels].sum(dtype=np.float64))
    return loss_sum, int((logits.argmax(axis=1) == labels).sum())


def evaluate(model, x: np.ndarray, y: np.ndarray, batch_size: int = 1024) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on ``(x, y)``: ``(loss, accuracy)``.

    Inference mode (batch norm uses its running statistics, no dropout), one batch
    of ``batch_size`` rows at a time, so that memory stays small whatever the size
    of ``x``; each batch is converted to the model's dtype on its own. The loss is
    the plain cross-entropy: no label smoothing and no L2 penalty, so that any two
    models can be compared on it. Logits that overflowed give a NaN or infinite
    loss rather than an error (``train`` turns that into :class:`TrainingDiverged`).
    """
    n_classes, width = _n_classes_and_width(model)
    x, y = np.asarray(x), np.asarray(y)
    _check_split(x, y, "x", "y", width, n_classes, check_finite=False)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    loss_sum, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        batch_loss, batch_correct = score_logits(model.forward(x[start:start + batch_size]),
                                                 y[start:start + batch_size])
        loss_sum += batch_loss
        correct += batch_correct
    return loss_sum / len(x), correct / len(x)


# -- input checks ---------------------------------------------------------------------------

def _check_split(x, y, x_name: str, y_name: str, width: int, n_classes: int,
                 check_finite: bool = True) -> None:
    """Raise ValueError unless x is (N, width) with N >= 1 finite rows and y holds N valid labels."""
    if x.ndim != 2:
        raise ValueError(f"{x_name}: expected a 2-D (examples, features) array, got shape {x.shape}")
    if y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"{x_name} has {len(x)} rows but {y_name} has shape {y.shape}: "
                         f"expected one label per row")
    if len(x) == 0:
        raise ValueError(f"{x_name} is empty: nothing to train or evaluate on")
    if x.shape[1] != width:
        raise ValueError(f"{x_name}: the model takes {width} features per row, got {x.shape[1]}")
    try:
        check_labels(y, len(x), n_classes)
    except ValueError as error:
        raise ValueError(f"{y_name}: {error}") from None
    if check_finite:
        for start in range(0, len(x), FINITE_CHECK_ROWS):
            if not np.isfinite(x[start:start + FINITE_CHECK_ROWS]).all():
                raise ValueError(f"{x_name} contains NaN or inf (in rows {start} to "
                                 f"{start + FINITE_CHECK_ROWS - 1})")


def _check_settings(epochs, batch_size, patience, divergence_factor, schedule) -> None:
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if patience is not None and (int(patience) != patience or patience < 1):
        raise ValueError(f"patience must be None or an integer >= 1, got {patience!r}")
    if divergence_factor is not None and not divergence_factor > 1:
        raise ValueError(f"divergence_factor must be None or > 1, got {divergence_factor!r}")
    if schedule is not None and not callable(schedule):
        raise ValueError(f"schedule must be a function (epoch, base_lr) -> lr, got {schedule!r}")


# -- divergence -----------------------------------------------------------------------------

class _Diverged(Exception):
    """Raised inside an epoch; ``train`` restores the best weights and raises TrainingDiverged."""

    def __init__(self, what: str, step: int | None, x_batch: np.ndarray | None):
        super().__init__(what)
        self.what, self.step, self.x_batch = what, step, x_batch


class _DivergenceGuard:
    """Decides whether a batch loss means that training has diverged.

    A loss diverged when it is NaN or infinite, or larger than ``factor`` times the
    reference ``max(first batch loss, ln(n_classes))``: ln(n_classes) is the loss of
    a uniform guess, and a loss ten times worse than at the start is not noise.
    """

    def __init__(self, factor: float | None, n_classes: int):
        self.factor, self.chance_loss = factor, math.log(n_classes)
        self.reference = self.limit = None  # set by the first batch

    def check(self, loss: float, step: int, x_batch: np.ndarray) -> None:
        if not math.isfinite(loss):
            raise _Diverged(f"the batch loss is {loss}", step, x_batch)
        if self.factor is None:
            return
        if self.limit is None:
            self.reference = max(loss, self.chance_loss)
            self.limit = self.factor * self.reference
        elif loss > self.limit:
            raise _Diverged(f"the batch loss is {loss:.4g}, above the limit {self.limit:.4g} "
                            f"(divergence_factor {self.factor:g} x {self.reference:.4g}, the larger "
                            f"of the first batch loss and ln(n_classes))", step, x_batch)


def _divergence_message(diverged: _Diverged, epoch: int, n_steps: int, lr: float,
                        restored_epoch: int) -> str:
    """Where training diverged, its likely causes (most likely first) and what the model holds now."""
    where = (f"epoch {epoch}, step {diverged.step} of {n_steps}" if diverged.step
             else f"the validation after epoch {epoch}")
    causes = [f"the learning rate is too high (lr={lr:g}): try 3 to 10 times smaller, "
              f"or a schedule that lowers it"]
    if diverged.x_batch is not None:
        mean, std = float(diverged.x_batch.mean()), float(diverged.x_batch.std())
        advice = (f"the inputs are not standardized: this batch has mean {mean:.3g} and std "
                  f"{std:.3g} where about 0 and 1 are expected; standardize with the training "
                  f"split's statistics (cifar_mlp.preprocess.prepare(..., standardize=True))")
        if abs(mean) > 1.0 or not 0.2 < std < 5.0:
            causes.insert(0, advice)
        else:
            causes.append(f"unstandardized inputs (unlikely here: this batch has mean {mean:.3g} "
                          f"and std {std:.3g})")
    causes.append("a deep network without batch normalization, or a poor initialization "
                  "(init='naive'): use batchnorm=True or init='he'")
    restored = (f"the weights of epoch {restored_epoch} (the best validation loss so far)"
                if restored_epoch else "its initial weights (no epoch was completed)")
    numbered = "; ".join(f"({i}) {cause}" for i, cause in enumerate(causes, 1))
    return (f"Training diverged in {where}: {diverged.what}. Likely causes: {numbered}. "
            f"The model has been given back {restored}, so nothing is lost; the optimizer's "
            f"state may hold NaN, so create a new optimizer before training again.")


# -- the training loop ---------------------------------------------------------------------

def _snapshot(model) -> dict:
    """Copies of the model's parameters and batch-norm statistics."""
    return {"params": {k: v.copy() for k, v in model.params.items()},
            "bn_state": {k: v.copy() for k, v in model.bn_state.items()}}


def _restore(model, snapshot: dict) -> None:
    """Copy a snapshot back into the model's arrays, in place."""
    for store in ("params", "bn_state"):
        for name, saved in snapshot[store].items():
            np.copyto(getattr(model, store)[name], saved)


def _train_epoch(model, optimizer, x, y, *, batch_size: int, rng: np.random.Generator,
                 augment_data: bool, guard: _DivergenceGuard) -> tuple[float, float]:
    """One pass over ``(x, y)`` in shuffled minibatches; returns the epoch's mean loss and accuracy.

    The order is a fresh permutation of the row indices; each minibatch is
    gathered with ``x[idx]`` (only the batch is copied, never the whole set).
    The accuracy of a batch comes from the training-mode logits of its forward
    pass (dropout on, batch statistics), before the update made from it.
    """
    order = rng.permutation(len(x))
    loss_sum, correct = 0.0, 0
    for step_number, start in enumerate(range(0, len(x), batch_size), 1):
        idx = order[start:start + batch_size]
        x_batch, y_batch = x[idx], y[idx]
        if augment_data:
            x_batch = augment(x_batch, rng)
        try:
            loss, grads, logits = model.loss(x_batch, y_batch, return_logits=True)
        except ValueError as error:
            # The inputs and labels were checked before training, so what the model
            # rejects here are its own logits: they overflowed to inf or NaN.
            raise _Diverged(f"the logits are not finite ({error})", step_number, x_batch) from error
        loss = float(loss)
        guard.check(loss, step_number, x_batch)
        optimizer.step(model.params, grads)
        loss_sum += loss * len(idx)
        correct += int((logits.argmax(axis=1) == y_batch).sum())
    return loss_sum / len(x), correct / len(x)


def train(model, optimizer, x_train, y_train, x_val, y_val, *, epochs: int,
          batch_size: int = 128, seed: int = 0, schedule=None, patience: int | None = None,
          augment_data: bool = False, progress: bool = True,
          divergence_factor: float | None = 10.0) -> History:
    """Train ``model`` with ``optimizer`` for up to ``epochs`` epochs; return the :class:`History`.

    * Minibatches: every epoch shuffles the training rows with a generator
      ``np.random.default_rng(seed)`` (which also draws the augmentations), and
      visits all of them, the last partial batch included. Dropout masks come
      from the model's own generator, so the model's seed and ``seed`` together
      fix the whole run: the same two seeds give bit-identical weights.
    * ``train_loss`` and ``train_acc`` of an epoch are running means over its
      minibatches (weighted by batch size), taken as training went on: the
      weights changed between batches, so they are not the loss and accuracy of
      the final weights. The loss is the training objective (with the model's
      L2 penalty and label smoothing); the accuracy comes from each batch's
      training-mode logits (dropout on), as Keras reports it. ``val_loss`` and ``val_acc``
      come from :func:`evaluate` after each epoch (plain cross-entropy).
    * ``schedule(epoch, base_lr)`` sets ``optimizer.lr`` at the start of every
      epoch (``base_lr`` is ``optimizer.lr`` when ``train`` is called); a
      :class:`ReduceOnPlateau` also gets each validation loss.
    * ``patience``: early stopping. Training stops after ``patience`` epochs
      without a lower validation loss, and at the end (early or not) the model
      gets back the parameters and batch-norm statistics of its best epoch.
      Without ``patience`` the model keeps its final weights.
    * Divergence: a NaN or infinite loss, or a batch loss above
      ``divergence_factor`` times max(first batch loss, ln(n_classes)), raises
      :class:`TrainingDiverged` after restoring the weights of the best epoch
      so far (or the initial weights). ``divergence_factor=None`` only checks
      for NaN and inf.
    * ``augment_data`` applies :func:`augment` (flip and 4-pixel crop) to every
      training batch; ``progress`` shows one progress bar over the epochs.
    """
    n_classes, width = _n_classes_and_width(model)
    _check_settings(epochs, batch_size, patience, divergence_factor, schedule)
    x_train, y_train, x_val, y_val = (np.asarray(a) for a in (x_train, y_train, x_val, y_val))
    _check_split(x_train, y_train, "x_train", "y_train", width, n_classes)
    _check_split(x_val, y_val, "x_val", "y_val", width, n_classes)

    rng = np.random.default_rng(seed)
    base_lr = optimizer.lr
    guard = _DivergenceGuard(divergence_factor, n_classes)
    history = History()
    best_loss, best = math.inf, _snapshot(model)  # the initial weights, until an epoch is done
    n_steps = math.ceil(len(x_train) / batch_size)

    with tqdm(total=epochs, desc="training", unit="epoch", disable=not progress) as bar:
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            if schedule is not None:
                optimizer.lr = schedule(epoch - 1, base_lr)
            try:
                train_loss, train_acc = _train_epoch(
                    model, optimizer, x_train, y_train, batch_size=batch_size, rng=rng,
                    augment_data=augment_data, guard=guard)
                val_loss, val_acc = evaluate(model, x_val, y_val)
                if not math.isfinite(val_loss):
                    raise _Diverged(f"the validation loss is {val_loss}", None, None)
            except _Diverged as diverged:
                _restore(model, best)
                history.stopped_early, history.stop_reason = True, f"diverged in epoch {epoch}"
                message = _divergence_message(diverged, epoch, n_steps, optimizer.lr,
                                              history.best_epoch)
                raise TrainingDiverged(message, epoch=epoch, step=diverged.step,
                                       history=history) from diverged.__cause__

            history.train_loss.append(train_loss)
            history.train_acc.append(train_acc)
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
            history.lr.append(float(optimizer.lr))
            if val_loss < best_loss:
                best_loss, best, history.best_epoch = val_loss, _snapshot(model), epoch
            if isinstance(schedule, ReduceOnPlateau):
                optimizer.lr = schedule.update(val_loss)
            history.seconds.append(time.perf_counter() - started)

            bar.set_postfix({"loss": f"{train_loss:.3f}", "acc": f"{train_acc:.3f}",
                             "val_loss": f"{val_loss:.3f}", "val_acc": f"{val_acc:.3f}",
                             "lr": f"{history.lr[-1]:.2g}"}, refresh=False)
            bar.update(1)
            if patience is not None and epoch - history.best_epoch >= patience:
                history.stopped_early = True
                history.stop_reason = (f"early stopping: no lower validation loss for {patience} "
                                       f"epochs after epoch {history.best_epoch}")
                break

    if not history.stopped_early:
        history.stop_reason = f"completed {epochs} epochs"
    if patience is not None:
        _restore(model, best)
    return history

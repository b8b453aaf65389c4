"""Learning-rate schedules (chapter 3).

A schedule is a function ``lr = schedule(epoch, base_lr)`` where ``epoch`` counts from 0
and ``base_lr`` is the optimizer's learning rate when training started. ``train`` calls
it at the start of every epoch and sets ``optimizer.lr``. A schedule that follows the
validation loss (:class:`ReduceOnPlateau`) also has ``update(val_loss)``, which ``train``
calls after every epoch's validation. The Keras twin drives the same objects
(:func:`cifar_mlp.keras_twin.schedule_callback`).
"""

import math


def constant():
    """The learning rate never changes."""
    def schedule(epoch: int, base_lr: float) -> float:
        return base_lr
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

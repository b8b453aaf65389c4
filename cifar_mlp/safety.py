"""Keeping training safe: the best weights so far, and a stop with an explanation when
training diverges (chapter 3 uses it; the loop in :mod:`cifar_mlp.train` stays plain).

When the loss becomes NaN or infinite, or explodes, :class:`DivergenceGuard` stops the
run, gives the model back the weights of its best epoch so far, and raises
:class:`TrainingDiverged` with a message that names the likely causes.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np


class TrainingDiverged(RuntimeError):
    """The loss became NaN, infinite or exploded; the message says where and the likely causes.

    Before it is raised, the model gets back the weights of its best epoch so far
    (or its initial weights, when no epoch was completed). ``epoch`` and ``step``
    (both from 1; ``step`` is None when the validation loss diverged) say where it
    happened, ``history`` holds the completed epochs.
    """

    def __init__(self, message: str, *, epoch: int, step: int | None, history):
        super().__init__(message)
        self.epoch, self.step, self.history = epoch, step, history


class Checkpoint:
    """Copies of a model's parameters and batch-norm statistics, and the validation loss
    they had (infinite for the initial weights)."""

    def __init__(self, model):
        self.save(model, math.inf)

    def save(self, model, loss: float) -> None:
        self.loss = loss
        self.arrays = {store: {name: array.copy() for name, array in getattr(model, store).items()}
                       for store in ("params", "bn_state")}

    def restore(self, model) -> None:
        """Copy the saved arrays back into the model's own arrays."""
        for store, arrays in self.arrays.items():
            for name, saved in arrays.items():
                np.copyto(getattr(model, store)[name], saved)


class _Diverged(Exception):
    """Raised inside an epoch; :meth:`DivergenceGuard.epoch` turns it into TrainingDiverged."""

    def __init__(self, what: str, step: int | None, x_batch: np.ndarray | None):
        super().__init__(what)
        self.what, self.step, self.x_batch = what, step, x_batch


class DivergenceGuard:
    """Decides whether a batch loss means that training has diverged, and if so stops it.

    A loss diverged when it is NaN or infinite, or larger than ``factor`` times the
    reference ``max(first batch loss, ln(n_classes))``: ln(n_classes) is the loss of
    a uniform guess, and a loss ten times worse than at the start is not noise.
    ``factor=None`` only checks for NaN and inf.
    """

    def __init__(self, model, optimizer, best: Checkpoint, history, *, factor: float | None,
                 n_steps: int):
        self.model, self.optimizer, self.best, self.history = model, optimizer, best, history
        self.factor, self.n_steps = factor, n_steps
        self.chance_loss = math.log(model.layer_sizes[-1])
        self.reference = self.limit = None  # set by the first batch
        self.step = 0

    def check(self, loss: float, x_batch: np.ndarray) -> None:
        """Called after every batch loss."""
        self.step += 1
        loss = float(loss)
        if not math.isfinite(loss):
            raise _Diverged(f"the batch loss is {loss}", self.step, x_batch)
        if self.factor is None:
            return
        if self.limit is None:
            self.reference = max(loss, self.chance_loss)
            self.limit = self.factor * self.reference
        elif loss > self.limit:
            raise _Diverged(f"the batch loss is {loss:.4g}, above the limit {self.limit:.4g} "
                            f"(divergence_factor {self.factor:g} x {self.reference:.4g}, the larger "
                            f"of the first batch loss and ln(n_classes))", self.step, x_batch)

    def check_validation(self, val_loss: float) -> None:
        if not math.isfinite(val_loss):
            raise _Diverged(f"the validation loss is {val_loss}", None, None)

    @contextmanager
    def epoch(self, epoch: int):
        """Within the block, a divergence restores the best weights and raises TrainingDiverged."""
        self.step = 0
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # overflow ends in a NaN loss: caught
                yield
        except _Diverged as diverged:
            self.best.restore(self.model)
            self.history.diverge(epoch)
            message = _divergence_message(diverged, epoch, self.n_steps, self.optimizer.lr,
                                          self.history.best_epoch)
            raise TrainingDiverged(message, epoch=epoch, step=diverged.step,
                                   history=self.history) from None


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

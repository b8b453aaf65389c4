"""The time budget: how many epochs of (c) to (e) fit in what is left of it."""

from __future__ import annotations

import time

from bench.network import EPOCHS, SEED_EPOCHS
from bench.seed_style_epochs import seed_style_step_seconds
from bench.train_step import MINIBATCH

TIME_BUDGET = 540.0  # seconds for the whole run; plan_epochs() cuts epochs to fit it
PLANS = ((EPOCHS, EPOCHS, SEED_EPOCHS), (EPOCHS, EPOCHS, 1), (EPOCHS, 2, 1), (EPOCHS, 1, 1),
         (2, 1, 1))  # (Keras, raw loop, seed-style) epochs, first choice first


def plan_epochs(report: dict, prepared, started: float) -> dict:
    """The first of PLANS whose epochs fit in what is left of TIME_BUDGET (else the last;
    ``cut`` says when it is not the first), from measured or projected epoch times: a
    Keras epoch is guessed at 2.5 NumPy train epochs, plus 20 s of import and tracing and
    its excluded epoch."""
    steps = report["network"]["steps_per_epoch"]
    keras_epoch = 2.5 * report["numpy_epoch_train"]["median_seconds"]
    raw_epoch = steps * (report["train_step"]["train_step"]["median_seconds"]
                         + report["breakdown_best_seconds"][MINIBATCH])
    seed_epoch = steps * seed_style_step_seconds(prepared)
    remaining = TIME_BUDGET - (time.perf_counter() - started)

    def needed(keras, raw, seed):
        return 20 + (keras + 1) * keras_epoch + raw * raw_epoch + seed * seed_epoch

    keras, raw, seed = next((epochs for epochs in PLANS if needed(*epochs) <= remaining), PLANS[-1])
    return {"keras": keras, "raw": raw, "seed": seed, "cut": (keras, raw, seed) != PLANS[0],
            "projected_seconds": {"keras_epoch": keras_epoch, "raw_epoch": raw_epoch,
                                  "seed_epoch": seed_epoch}, "remaining_seconds": remaining}

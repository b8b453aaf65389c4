"""(e) Seconds per epoch of the seed-style trainer (:class:`bench.seed_style_mlp.SeedStyleMLP`)
on the batches the NumPy raw loop sees, and a short measurement that plans its epochs."""

from __future__ import annotations

import time

import numpy as np

from bench.network import RECIPE, full_batches
from bench.seed_style_mlp import SeedStyleMLP
from bench.timers import epochs_record, timed_epochs


def seed_style_model(prepared) -> SeedStyleMLP:
    return SeedStyleMLP(RECIPE.layer_sizes(prepared.n_features))


def seed_style_step_seconds(prepared, steps: int = 4) -> float:
    """The median time of a few seed-style steps, after one untimed (to plan the epochs)."""
    model = seed_style_model(prepared)
    batches = full_batches(prepared, np.random.default_rng(RECIPE.seed))
    times = []
    for x, y in (next(batches) for _ in range(steps + 1)):
        started = time.perf_counter()
        model.train_step(x, y)
        times.append(time.perf_counter() - started)
    return float(np.median(times[1:]))


def seed_style_epochs(prepared, epochs: int) -> dict:
    model = seed_style_model(prepared)
    return epochs_record(timed_epochs(model.train_step, prepared, epochs),
                         "seed-style raw loop (float64 weights via np.random.randn), same "
                         "batches as the NumPy raw loop")

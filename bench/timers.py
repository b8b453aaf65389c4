"""The timers the measurements share: repeated calls of a function, and epochs of a step."""

from __future__ import annotations

import time

import numpy as np

from cifar_mlp.train import minibatches

from bench.network import BATCH, RECIPE


def timings(function, repeats: int = 7, min_seconds: float = 0.03) -> np.ndarray:
    """Seconds per call of ``function()``, one value per repeat, after a warm-up call; each
    repeat loops enough calls to last ``min_seconds`` (the clock's resolution does not matter)."""
    function()
    started, calls = time.perf_counter(), 0
    while time.perf_counter() - started < min_seconds / 3:
        function()
        calls += 1
    number = max(1, int(calls * 3 * min_seconds / max(time.perf_counter() - started, 1e-9)))
    result = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(number):
            function()
        result.append((time.perf_counter() - started) / number)
    return np.array(result)


def gflops(flops, seconds) -> float:
    """The rate, in GFLOP/s, of ``flops`` done in ``seconds``."""
    return flops / seconds / 1e9


def spread(times) -> dict:
    """The best and the median of a list of seconds."""
    return {"best_seconds": float(np.min(times)), "median_seconds": float(np.median(times))}


def timed_epochs(train_step, prepared, epochs: int) -> list:
    """Seconds per epoch of ``train_step(x_batch, y_batch)`` over ``train.minibatches``
    seeded as ``train.train`` seeds them: every trainer sees the same batches."""
    rng, seconds = np.random.default_rng(RECIPE.seed), []
    for _ in range(epochs):
        started = time.perf_counter()
        for x, y in minibatches(prepared.x_train, prepared.y_train, BATCH, rng):
            train_step(x, y)
        seconds.append(time.perf_counter() - started)
    return seconds


def epochs_record(seconds, what: str, **extra) -> dict:
    return {"seconds": seconds, "median_seconds": float(np.median(seconds)), **extra,
            "what": what}

"""(b) The NumPy train step: ``model.loss`` and ``optimizer.step`` timed apart, their GFLOP/s
and fractions of the peak of (a), and the best time of each piece of work outside the
matrix products."""

from __future__ import annotations

import time

import numpy as np

from cifar_mlp.experiments import build
from cifar_mlp.layers import relu_backward, relu_forward, softmax_cross_entropy
from cifar_mlp.model import sum_of_squares
from cifar_mlp.optim import SGD
from cifar_mlp.train import evaluate, minibatches

from bench.network import BATCH, RECIPE, full_batches, steps_per_epoch
from bench.timers import gflops, spread, timings

MINIBATCH = "minibatch (train.minibatches, per batch)"  # a breakdown key plan_epochs reads
RATED = ("loss_and_gradients", "train_step")  # the timings rated against the matmul peak


def measure_step(prepared, flops: int, steps: int = 80, warmup: int = 8) -> dict:
    """``model.loss`` (forward + backward) and ``optimizer.step``, timed apart over ``steps``
    batches after ``warmup`` untimed ones, and their GFLOP/s (:func:`with_fractions` adds
    the fractions of the peak)."""
    model, optimizer, _ = build(RECIPE, prepared.n_features)
    batches = full_batches(prepared, np.random.default_rng(RECIPE.seed))
    loss_times, update_times = [], []
    for k, (x, y) in zip(range(warmup + steps), batches):
        started = time.perf_counter()
        _, grads = model.loss(x, y)
        middle = time.perf_counter()
        optimizer.step(model.params, grads)
        ended = time.perf_counter()
        if k >= warmup:
            loss_times.append(middle - started)
            update_times.append(ended - middle)
    loss_times, update_times = np.array(loss_times), np.array(update_times)
    result = {"steps_timed": steps, "loss_and_gradients": spread(loss_times),
              "optimizer_update": spread(update_times),
              "train_step": spread(loss_times + update_times)}
    for name in RATED:
        entry = result[name]
        entry["gflops_best"] = gflops(flops, entry["best_seconds"])
        entry["gflops_median"] = gflops(flops, entry["median_seconds"])
    return result


def with_fractions(step: dict, peak: dict) -> dict:
    """``step`` with each timing's fraction of ``peak`` (best vs best, median vs median)."""
    for name in RATED:
        entry = step[name]
        entry["fraction_of_peak"] = entry["gflops_best"] / peak["gflops"]
        entry["fraction_of_peak_median"] = entry["gflops_median"] / peak["gflops_median"]
    return step


def step_parts(model, optimizer, x, y, rng) -> dict:
    """The work of a step other than its matrix products, each as a function of no
    arguments, on arrays of the step's shapes: name -> function."""
    sizes, layers = model.layer_sizes, range(1, model.n_layers + 1)

    def arrays(widths):
        return [rng.standard_normal((BATCH, w), dtype=np.float32) for w in widths]

    hidden, douts, outs, (logits,) = (arrays(sizes[1:-1]), arrays(sizes[1:-1]),
                                      arrays(sizes[1:]), arrays(sizes[-1:]))
    _, grads = model.loss(x, y)
    plain = SGD(optimizer.lr, momentum=optimizer.momentum)  # what fast.FastSGD speeds up
    l2_grads = {i: grads[f"W{i}"].copy() for i in layers}

    def l2_penalty():  # what model.loss adds when l2 > 0 (not in this network)
        for i in layers:
            w = model.params[f"W{i}"]
            sum_of_squares(w)
            l2_grads[i] += 2.0 * 1e-8 * w

    return {
        "input_checks (dtype, finite, labels)": lambda: model.check_batch(x, y),
        "bias_add": lambda: [out + model.params[f"b{i}"] for i, out in zip(layers, outs)],
        "relu_forward": lambda: [relu_forward(h) for h in hidden],
        "relu_backward": lambda: [relu_backward(d, h) for d, h in zip(douts, hidden)],
        "bias_gradients (sum over batch)": lambda: [d.sum(axis=0) for d in outs],
        "softmax_cross_entropy": lambda: softmax_cross_entropy(logits, y),
        "optimizer_update (SGD momentum)": lambda: optimizer.step(model.params, grads),
        "optimizer_update, plain formulas (optim.SGD)": lambda: plain.step(model.params, grads),
        "l2_penalty (only recipes with l2 > 0)": l2_penalty,
    }


def measure_breakdown(prepared) -> dict:
    """Best seconds of each part of a step (:func:`step_parts`), and per batch or per epoch
    of the work a training epoch adds: drawing the minibatches, scoring the validation split."""
    rng = np.random.default_rng(1)
    model, optimizer, _ = build(RECIPE, prepared.n_features)
    x, y = next(full_batches(prepared, rng))
    best = {name: float(timings(function).min())
            for name, function in step_parts(model, optimizer, x, y, rng).items()}

    def draw_epoch():
        for _ in minibatches(prepared.x_train, prepared.y_train, BATCH, rng):
            pass

    best[MINIBATCH] = (float(timings(draw_epoch, repeats=3, min_seconds=0.0).min())
                       / steps_per_epoch(prepared))
    best[f"validation_per_epoch (evaluate, {len(prepared.x_val):,} images)"] = float(
        timings(lambda: evaluate(model, prepared.x_val, prepared.y_val), repeats=3,
                min_seconds=0.0).min())
    return best

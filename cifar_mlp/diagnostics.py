"""Debugging a network (chapter 3): measurements that tell a healthy training run from a
sick one before the accuracy does.

    lrs, losses = lr_range_test(model, optimizer, batches)   # which learning rates work
    log = diagnosed_training(model, optimizer, batches, probe_images)   # while it trains

* :func:`lr_range_test`: one step per learning rate, the rate growing geometrically, the
  loss of each step recorded: the loss falls fastest around a good learning rate and
  blows up above the largest usable one (Smith, "Cyclical learning rates", 2017).
* :func:`update_ratios`: how far a step moved each weight matrix, relative to its size;
  around 1e-3 is the usual rule of thumb, far below means the layer barely learns, far
  above that it is thrown around.
* :func:`dead_fractions`: the share of each hidden layer's ReLU units that output 0 for
  every image of a probe set: while dead, a unit passes no gradient to its own weights
  (the layers below it keep learning, and can bring it back).
"""

from __future__ import annotations

import numpy as np

from .train import minibatches


def endless_minibatches(x, y, batch_size: int, rng: np.random.Generator,
                        augment_shift: int | None = None):
    """:func:`cifar_mlp.train.minibatches`, epoch after epoch, without end."""
    while True:
        yield from minibatches(x, y, batch_size, rng, augment_shift)


def lr_range_test(model, optimizer, batches, lr_min: float = 1e-4, lr_max: float = 1.0,
                  steps: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Train ``model`` one step per learning rate, from ``lr_min`` to ``lr_max`` spaced
    geometrically over ``steps`` steps of ``batches``; return the learning rates and
    each step's loss. Stops early once the loss is NaN or four times its lowest."""
    lrs, losses = np.geomspace(lr_min, lr_max, steps), []
    for lr, (x, y) in zip(lrs, batches):
        optimizer.lr = lr
        loss, grads = model.loss(x, y)
        losses.append(loss)
        if not np.isfinite(loss) or loss > 4 * min(losses):
            break
        optimizer.step(model.params, grads)
    return lrs[:len(losses)], np.array(losses)


def smoothed(values, weight: float = 0.9) -> np.ndarray:
    """An exponential moving average of ``values``, corrected for its start at 0."""
    average, out = 0.0, []
    for t, value in enumerate(values, 1):
        average = weight * average + (1 - weight) * value
        out.append(average / (1 - weight ** t))
    return np.array(out)


def update_ratios(before: dict, after: dict) -> dict:
    """For each weight matrix (W1, W2, ...): ``|after - before| / |before|`` (Frobenius
    norms): how far one step moved it, relative to its size."""
    return {name: float(np.linalg.norm(after[name] - w) / np.linalg.norm(w))
            for name, w in before.items() if name.startswith("W")}


def dead_fractions(model, x) -> list:
    """For each hidden layer, the share of its ReLU units that output 0 for every image of
    ``x`` (inference mode)."""
    _, caches = model.forward_pass(model.check_batch(x))
    return [float(np.mean(~(cache["relu"] > 0).any(axis=0))) for cache in caches[:-1]]


def diagnosed_training(model, optimizer, batches, probe, steps: int, every: int = 10) -> dict:
    """Train ``model`` for ``steps`` steps of ``batches``; every ``every`` steps record the
    step's update ratios (:func:`update_ratios`) and the dead units on the images
    ``probe`` (:func:`dead_fractions`). Returns ``{"step": [...], "update_ratio": {W1:
    [...], ...}, "dead": [[layer 1, layer 2, ...], ...], "loss": [...], "probe_images": n}``."""
    log = {"step": [], "update_ratio": {}, "dead": [], "loss": [], "probe_images": len(probe)}
    for step, (x, y) in zip(range(steps), batches):
        measured = step % every == 0
        if measured:
            before = {name: w.copy() for name, w in model.params.items() if name.startswith("W")}
        loss, grads = model.loss(x, y)
        optimizer.step(model.params, grads)
        if measured:
            log["step"].append(step)
            log["loss"].append(float(loss))
            for name, ratio in update_ratios(before, model.params).items():
                log["update_ratio"].setdefault(name, []).append(ratio)
            log["dead"].append(dead_fractions(model, probe))
    return log

"""(f) Where an epoch of the book's best recipe goes: its wall time split into parts (by
:mod:`bench.epoch_profile`, a profiler hook), and the epoch against its matrix-product bound."""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

from cifar_mlp.experiments import RECIPES, Recipe, build

from bench.epoch_profile import PRODUCTS, epoch_parts, profiling
from bench.machine import Contention
from bench.network import matmul_flops
from bench.numpy_epochs import train_recipe
from bench.peak import faster, measure_peak
from bench.timers import gflops

# The recipe of (f), timed on standardized inputs: its whitening changes the numbers an
# epoch sees, not the work it does.
BEST = RECIPES["best"]
SPLIT_EPOCHS = 3  # epochs of the best recipe timed part by part; the median one is reported,
SPLIT_SECONDS = 60.0  # and no new epoch starts after this many seconds (a busy machine)


def split_epoch(recipe: Recipe, prepared) -> dict:
    """One epoch of ``recipe`` by the book's trainer, from a new model: its wall time (as
    ``History.seconds`` records it) and the seconds and calls of each part; the rest is
    what the parts leave (the loss, ReLU, checks, minibatch gathering, bookkeeping)."""
    built = build(recipe, prepared.n_features)
    with profiling(epoch_parts(built[1])) as clock:
        epoch = train_recipe(recipe, prepared, built, epochs=1).seconds[0]
    seconds = {**clock.seconds, "rest": epoch - sum(clock.seconds.values())}
    return {"epoch_seconds": epoch, "parts_seconds": seconds, "calls": clock.calls}


def epoch_matmul_flops(sizes, n_train: int, n_val: int) -> dict:
    """The matrix-product flops of one epoch: a training step's (:func:`matmul_flops`) for
    every batch, and validation's forward products. Flops grow in proportion to the rows
    of a batch, so the batches' sum, the last smaller one included, is that of one batch
    of all ``n_train`` images."""
    training = matmul_flops(sizes, n_train)["total"]
    validation = matmul_flops(sizes, n_val)["forward"]
    return {"training": training, "validation": validation, "total": training + validation}


def measure_epoch_split(prepared, epochs: int = SPLIT_EPOCHS) -> dict:
    """The best recipe's epoch split by part (:func:`split_epoch`; the median of ``epochs``
    epochs, fewer once SPLIT_SECONDS have passed, the faster of two) and its matrix-product
    bound: the epoch's products at the float32 peak of the network's own product shapes,
    measured before and after the epochs (the faster counts, as in (a)), with the
    contention during all of it."""
    contention, rng = Contention(), np.random.default_rng(3)
    sizes = BEST.layer_sizes(prepared.n_features)
    before = measure_peak(sizes, BEST.batch_size, rng)
    started, repeats = time.perf_counter(), []
    while len(repeats) < epochs and (not repeats
                                     or time.perf_counter() - started < SPLIT_SECONDS):
        repeats.append(split_epoch(BEST, prepared))
    after = measure_peak(sizes, BEST.batch_size, rng)
    peak = faster(before, after)
    median = sorted(repeats, key=lambda repeat: repeat["epoch_seconds"])[(len(repeats) - 1) // 2]
    epoch, flops = median["epoch_seconds"], epoch_matmul_flops(
        sizes, len(prepared.x_train), len(prepared.x_val))
    bound = flops["total"] / (peak["gflops"] * 1e9)
    return {
        "recipe": asdict(BEST), "layer_sizes": sizes, "n_train": len(prepared.x_train),
        "n_val": len(prepared.x_val), **median,
        "shares": {part: seconds / epoch for part, seconds in median["parts_seconds"].items()},
        "epochs_seconds": [repeat["epoch_seconds"] for repeat in repeats], "repeats": repeats,
        "matmul_flops": flops, "peak": peak, "peak_gflops_before_epochs": before["gflops"],
        "peak_gflops_after_epochs": after["gflops"], "bound_seconds": bound,
        "fraction_of_bound": bound / epoch,
        "training_products_gflops": gflops(flops["training"], median["parts_seconds"][PRODUCTS]),
        "contention": contention.report(),
        "what": "cifar_mlp.train.train(epochs=1) of RECIPES['best'] built by "
                "experiments.build, the median of the epochs; parts timed by a sys.setprofile "
                "hook on the calls of model.affine_forward and affine_backward (products "
                "with their bias add and sum), MLP.normalize and model.batchnorm_backward, "
                "optimizer.step, train.augment and train.evaluate, told apart by code object "
                "(a call inside another timed call counts for the outer one: validation "
                "includes its products); rest = epoch minus "
                "the parts; bound = the epoch's matmul flops (training steps and validation's "
                "forward) at the peak of the network's product shapes, batch "
                f"{BEST.batch_size}"}

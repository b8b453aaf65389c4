"""How fast is the NumPy MLP, measured against the machine and against Keras (``make bench``).

One run, on this machine. (a) to (e) use the 3072-1024-512-10 network (ReLU, softmax
cross-entropy, SGD with momentum 0.9; no batch norm, dropout or L2), batch 128, the
45,000-image training split of ``prepare(load_cifar10(...), "rgb")``. Every trainer
draws its batches from ``cifar_mlp.train.minibatches`` with the recipe's seed, so all
see the same batches in the same order; the 5,000 validation images are scored after
every epoch where training does so.

(a) the float32 matrix-product peak of NumPy at the network's own product shapes
    (forward, weight gradients, input gradients; best of several repeats each);
(b) the NumPy train step (``model.loss`` then ``optimizer.step``, best of 80): its
    GFLOP/s over the matrix products (the first layer has no dx) and its fraction
    of that peak; and the best time of each piece of work outside the products;
(c) NumPy seconds per epoch: ``cifar_mlp.train.train`` (the trainer the book uses)
    and a raw loop of steps; medians of 3 epochs;
(d) Keras seconds per epoch on the same network, batch, data and validation
    (``cifar_mlp.runs.run`` with the Keras twin): median of 3 epochs after a first,
    excluded, one (graph tracing);
(e) a seed-style trainer for reference: the same network written the usual way,
    with float64 weights from ``np.random.randn``; 1-2 epochs;
(f) where an epoch of the book's best recipe (``RECIPES["best"]``: 3072-1024-1024-512-10,
    BatchNorm, flips and 2-pixel shifts) goes: one epoch of ``cifar_mlp.train.train``
    (the median of up to 3), its wall time split into matrix products, batch normalization,
    the optimizer update, augmentation, validation and the rest, by timing wrappers
    installed for these epochs only; and the epoch against its matrix-product bound,
    the time its products would take at the peak of its own product shapes.

Fewer epochs run in (c) to (e) when the machine is too slow or busy for TIME_BUDGET.
Prints the measurements and their ratios and writes ``results/bench.json`` with every
number, the machine, the BLAS and the contention: the share of the CPUs that other
processes used while the bench ran (from /proc/stat), since timings taken on shared
cores are noisy; the printout says when it was high.

    .venv/bin/python bench/bench.py            # about 4 minutes on an idle 2-core machine
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import platform
import resource
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import cifar_mlp.model
import cifar_mlp.train
from cifar_mlp.data import load_cifar10
from cifar_mlp.experiments import RECIPES, Recipe, build
from cifar_mlp.keras_twin import KERAS, quiet_tensorflow
from cifar_mlp.layers import relu_backward, relu_forward, softmax_cross_entropy
from cifar_mlp.model import MLP, sum_of_squares
from cifar_mlp.optim import SGD
from cifar_mlp.preprocess import prepare
from cifar_mlp.runs import run
from cifar_mlp.train import evaluate, minibatches, train

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "results" / "bench.json"
BATCH = 128
EPOCHS = 3  # measured epochs of NumPy and Keras (Keras runs one more, excluded)
SEED_EPOCHS = 2  # epochs of the seed-style trainer
RECIPE = Recipe("bench", mode="rgb", hidden=(1024, 512), lr=0.01, momentum=0.9,
                batch_size=BATCH, epochs=EPOCHS, patience=None,
                description="Benchmark network 3072-1024-512-10, SGD momentum 0.9, batch 128")
BEST = RECIPES["best"]  # the recipe of (f)
SPLIT_EPOCHS = 3  # epochs of the best recipe timed part by part; the median one is reported,
SPLIT_SECONDS = 60.0  # and no new epoch starts after this many seconds (a busy machine)
RATIOS = {  # the ratios the bench prints, and what each compares
    "numpy_over_keras_epoch": "NumPy / Keras seconds per epoch",
    "numpy_raw_over_keras_epoch": "NumPy raw loop / Keras seconds per epoch",
    "train_step_fraction_of_peak": "train step / matmul peak",
    "loss_and_gradients_fraction_of_peak": "loss and gradients / matmul peak",
    "seed_style_over_numpy": "seed-style / NumPy raw loop seconds per epoch",
    "best_epoch_fraction_of_bound": "best recipe: matmul bound / epoch seconds",
}
PRODUCTS = "matrix products"  # the part of (f) that its bound is made of
HIGH_CONTENTION = 0.1  # other processes' share of the CPUs above which timings are unreliable
TIME_BUDGET = 540.0  # seconds for the whole run; plan_epochs() cuts epochs to fit it
PLANS = ((EPOCHS, EPOCHS, SEED_EPOCHS), (EPOCHS, EPOCHS, 1), (EPOCHS, 2, 1), (EPOCHS, 1, 1),
         (2, 1, 1))  # (Keras, raw loop, seed-style) epochs, first choice first
MINIBATCH = "minibatch (train.minibatches, per batch)"  # a breakdown key plan_epochs reads


# -- measuring ---------------------------------------------------------------------------------

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


def spread(times) -> dict:
    """The best and the median of a list of seconds."""
    return {"best_seconds": float(np.min(times)), "median_seconds": float(np.median(times))}


def cpu_busy_jiffies() -> int | None:
    """All CPUs' busy time since boot, in clock ticks (Linux /proc/stat); None elsewhere."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Contention:
    """The share of the machine's CPU time that other processes used from creation to report()."""

    def __init__(self):
        self.wall, self.busy, self.own = time.perf_counter(), cpu_busy_jiffies(), own_cpu_seconds()
        self.load_start = os.getloadavg()

    def report(self) -> dict:
        wall, busy = time.perf_counter() - self.wall, cpu_busy_jiffies()
        result = {"loadavg_start": self.load_start, "loadavg_end": os.getloadavg(),
                  "wall_seconds": wall}
        if busy is not None and self.busy is not None:
            own = own_cpu_seconds() - self.own
            others = max(0.0, (busy - self.busy) / os.sysconf("SC_CLK_TCK") - own)
            result["others_cpu_share"] = others / (wall * os.cpu_count())
            result["bench_cpu_share"] = own / (wall * os.cpu_count())
        return result


# -- the machine and the network ---------------------------------------------------------------

def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        cpu = next(line.split(":", 1)[1].strip()
                   for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__,
            "blas": threadpool_info(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)}


def matmul_flops(sizes, n: int) -> dict:
    """Flops (2 per multiply-add) of the forward and backward matrix products of one step."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    forward = sum(2 * n * a * b for a, b in pairs)
    input_grads = sum(2 * n * a * b for a, b in pairs[1:])  # the first layer needs no dx
    return {"forward": forward, "weight_grads": forward, "input_grads": input_grads,
            "total": 2 * forward + input_grads}


def network(prepared) -> dict:
    sizes = RECIPE.layer_sizes(prepared.n_features)
    return {"layer_sizes": sizes, "batch_size": BATCH, "dtype": str(prepared.x_train.dtype),
            "n_train": len(prepared.x_train), "n_val": len(prepared.x_val),
            "steps_per_epoch": -(-len(prepared.x_train) // BATCH),
            "matmul_flops_per_step": matmul_flops(sizes, BATCH), "recipe": asdict(RECIPE)}


def full_batches(prepared, rng):
    """Full batches of ``train.minibatches``, epoch after epoch, without end."""
    while True:
        for x, y in minibatches(prepared.x_train, prepared.y_train, BATCH, rng):
            if len(y) == BATCH:
                yield x, y


# -- (a) the matrix-product peak ---------------------------------------------------------------

def products(sizes, n: int, rng) -> list:
    """The step's matrix products with the operands and memory layouts the model uses:
    (label, flops, function)."""
    out = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        x = rng.standard_normal((n, a), dtype=np.float32)  # layer input, C order
        w = rng.standard_normal((a, b), dtype=np.float32)  # weights, C order
        d = rng.standard_normal((n, b), dtype=np.float32)  # upstream gradient
        out.append((f"forward  x{i} @ W{i}   ({n}x{a} @ {a}x{b})", 2 * n * a * b,
                    lambda x=x, w=w: x @ w))
        out.append((f"dW       x{i}.T @ d{i} ({a}x{n} @ {n}x{b})", 2 * n * a * b,
                    lambda x=x, d=d: x.T @ d))
        if i > 1:
            out.append((f"dx       d{i} @ W{i}.T ({n}x{b} @ {b}x{a})", 2 * n * a * b,
                        lambda d=d, w=w: d @ w.T))
    return out


def measure_peak(sizes, n: int, rng, repeats: int = 7) -> dict:
    """Best (and median) seconds of each product; the peak is the step's flops over the sum
    of the best times: the rate of a step that did nothing but its products."""
    rows = []
    for label, flops, function in products(sizes, n, rng):
        times = spread(timings(function, repeats=repeats))
        rows.append({"product": label, "flops": flops, **times,
                     "gflops": flops / times["best_seconds"] / 1e9})
    flops, best, median = (sum(row[key] for row in rows)
                           for key in ("flops", "best_seconds", "median_seconds"))
    return {"products": rows, "flops": flops, "seconds_best": best, "seconds_median": median,
            "gflops": flops / best / 1e9, "gflops_median": flops / median / 1e9}


def peak_one_thread(sizes) -> float:
    """The same peak with the BLAS limited to one thread."""
    with threadpool_limits(1, user_api="blas"):
        return measure_peak(sizes, BATCH, np.random.default_rng(2), repeats=3)["gflops"]


# -- (b) the train step and its breakdown ------------------------------------------------------

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
    for name in ("loss_and_gradients", "train_step"):
        entry = result[name]
        entry["gflops_best"] = flops / entry["best_seconds"] / 1e9
        entry["gflops_median"] = flops / entry["median_seconds"] / 1e9
    return result


def with_fractions(step: dict, peak: dict) -> dict:
    """``step`` with each timing's fraction of ``peak`` (best vs best, median vs median)."""
    for name in ("loss_and_gradients", "train_step"):
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

    steps = -(-len(prepared.x_train) // BATCH)
    best[MINIBATCH] = float(timings(draw_epoch, repeats=3, min_seconds=0.0).min()) / steps
    best[f"validation_per_epoch (evaluate, {len(prepared.x_val):,} images)"] = float(
        timings(lambda: evaluate(model, prepared.x_val, prepared.y_val), repeats=3,
                min_seconds=0.0).min())
    return best


# -- (c), (e) NumPy epochs ---------------------------------------------------------------------

def epochs_record(seconds, what: str, **extra) -> dict:
    return {"seconds": seconds, "median_seconds": float(np.median(seconds)), **extra,
            "what": what}


def train_recipe(recipe: Recipe, prepared, built, epochs: int):
    """``cifar_mlp.train.train`` of ``built`` (the model, optimizer and schedule that
    ``build(recipe, ...)`` returned) for ``epochs`` epochs, as the book trains ``recipe``;
    returns the History."""
    model, optimizer, schedule = built
    return train(model, optimizer, prepared.x_train, prepared.y_train, prepared.x_val,
                 prepared.y_val, epochs=epochs, batch_size=recipe.batch_size, seed=recipe.seed,
                 schedule=schedule, patience=recipe.patience, augment_shift=recipe.augment_shift,
                 progress=False)


def numpy_epochs_train(prepared, epochs: int = EPOCHS) -> dict:
    """``cifar_mlp.train.train``: what the book's numbers are made of."""
    history = train_recipe(RECIPE, prepared, build(RECIPE, prepared.n_features), epochs)
    return epochs_record(history.seconds, "cifar_mlp.train.train: minibatches, loss + gradients "
                         "(training accuracy from the same logits), SGD update, validation each "
                         "epoch", val_accuracy=history.val_acc)


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


def numpy_epochs_raw(prepared, epochs: int) -> dict:
    """A bare loop of train steps: no accuracy, no validation."""
    model, optimizer, _ = build(RECIPE, prepared.n_features)

    def train_step(x, y):
        optimizer.step(model.params, model.loss(x, y)[1])

    return epochs_record(timed_epochs(train_step, prepared, epochs), "raw loop: "
                         "train.minibatches, model.loss, SGD update; no accuracy, no validation")


class SeedStyleMLP:
    """The same network written as from-scratch MLPs usually are (and as the seed project
    was): weights from ``np.random.randn`` (float64, so every product runs in float64
    and the float32 inputs are converted at each step), fresh arrays for every
    intermediate, one-hot targets, SGD with momentum."""

    def __init__(self, sizes, lr=0.01, momentum=0.9, seed=0):
        np.random.seed(seed)
        self.W = [np.random.randn(a, b) * np.sqrt(2.0 / a) for a, b in zip(sizes[:-1], sizes[1:])]
        self.b = [np.zeros(b) for b in sizes[1:]]
        self.vW = [np.zeros_like(w) for w in self.W]
        self.vb = [np.zeros_like(b) for b in self.b]
        self.lr, self.momentum, self.n_classes = lr, momentum, sizes[-1]

    def train_step(self, x, y):
        activations = [x]
        for W, b in zip(self.W[:-1], self.b[:-1]):
            activations.append(np.maximum(0, activations[-1].dot(W) + b))
        scores = activations[-1].dot(self.W[-1]) + self.b[-1]
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        probs = exp / exp.sum(axis=1, keepdims=True)
        onehot = np.eye(self.n_classes)[y]
        loss = -np.sum(onehot * np.log(probs + 1e-12)) / len(x)
        delta = (probs - onehot) / len(x)
        for i in range(len(self.W) - 1, -1, -1):
            dW = activations[i].T.dot(delta)
            db = np.sum(delta, axis=0)
            if i > 0:
                delta = delta.dot(self.W[i].T) * (activations[i] > 0)
            self.vW[i] = self.momentum * self.vW[i] - self.lr * dW
            self.vb[i] = self.momentum * self.vb[i] - self.lr * db
            self.W[i] = self.W[i] + self.vW[i]
            self.b[i] = self.b[i] + self.vb[i]
        return loss


def seed_style_step_seconds(prepared, steps: int = 4) -> float:
    """The median time of a few seed-style steps, after one untimed (to plan the epochs)."""
    model = SeedStyleMLP(RECIPE.layer_sizes(prepared.n_features))
    batches = full_batches(prepared, np.random.default_rng(RECIPE.seed))
    times = []
    for x, y in (next(batches) for _ in range(steps + 1)):
        started = time.perf_counter()
        model.train_step(x, y)
        times.append(time.perf_counter() - started)
    return float(np.median(times[1:]))


def seed_style_epochs(prepared, epochs: int) -> dict:
    model = SeedStyleMLP(RECIPE.layer_sizes(prepared.n_features))
    return epochs_record(timed_epochs(model.train_step, prepared, epochs),
                         "seed-style raw loop (float64 weights via np.random.randn), same "
                         "batches as the NumPy raw loop")


# -- (d) Keras ---------------------------------------------------------------------------------

def keras_epochs(prepared, epochs: int) -> dict:
    """``runs.run`` with the Keras twin for ``epochs`` + 1 epochs; the first (tracing)
    is excluded."""
    tf, _ = quiet_tensorflow()
    with tempfile.TemporaryDirectory() as weights_dir:  # always trains; keeps nothing
        result = run(replace(RECIPE, epochs=epochs + 1), prepared, framework=KERAS,
                     results_dir=None, weights_dir=Path(weights_dir), retrain=True, progress=False)
    seconds = result["history"].seconds
    return {"seconds": seconds, "seconds_excluded": seconds[:1],
            "median_seconds": float(np.median(seconds[1:])),
            "val_accuracy": result["history"].val_acc, "versions": result["versions"],
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "what": "runs.run(framework=KERAS): fit(verbose=0) on a tf.data generator of "
                    "train.minibatches (autotune off, prefetch 1), validation each epoch, "
                    "per-epoch wall times from a callback; first epoch (tracing) excluded"}


# -- (f) the best recipe's epoch, part by part -------------------------------------------------

def epoch_parts(optimizer) -> dict:
    """The parts an epoch's time is split into, each with the functions whose calls it
    times: (where the trainer looks the function up, its name)."""
    return {
        PRODUCTS: [(cifar_mlp.model, "affine_forward"), (cifar_mlp.model, "affine_backward")],
        "batch normalization": [(MLP, "normalize"), (cifar_mlp.model, "batchnorm_backward")],
        "optimizer update": [(type(optimizer), "step")],
        "augmentation": [(cifar_mlp.train, "augment")],
        "validation": [(cifar_mlp.train, "evaluate")],
    }


class PartClock:
    """Seconds and calls of each part, from the functions :meth:`wrap` wraps. A call made
    inside another timed call counts for the outer one only (validation's matrix products
    count as validation), so that the parts never overlap."""

    def __init__(self, parts):
        self.seconds = {part: 0.0 for part in parts}
        self.calls = {part: 0 for part in parts}
        self.running = False

    def wrap(self, part: str, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            if self.running:
                return function(*args, **kwargs)
            self.running, started = True, time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[part] += time.perf_counter() - started
                self.calls[part] += 1
                self.running = False
        return timed


@contextmanager
def timing(parts: dict):
    """A :class:`PartClock` whose wrappers replace the functions of ``parts`` (see
    :func:`epoch_parts`) inside the ``with`` block; the originals are back after it,
    whatever happens."""
    clock, originals = PartClock(parts), []
    try:
        for part, places in parts.items():
            for owner, name in places:
                original = vars(owner)[name]
                originals.append((owner, name, original))
                setattr(owner, name, clock.wrap(part, original))
        yield clock
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)


def split_epoch(recipe: Recipe, prepared) -> dict:
    """One epoch of ``recipe`` by the book's trainer, from a new model: its wall time (as
    ``History.seconds`` records it) and the seconds and calls of each part; the rest is
    what the parts leave (the loss, ReLU, checks, minibatch gathering, bookkeeping)."""
    built = build(recipe, prepared.n_features)
    with timing(epoch_parts(built[1])) as clock:
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
    peak = max(before, after, key=lambda measured: measured["gflops"])
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
        "training_products_gflops": flops["training"] / median["parts_seconds"][PRODUCTS] / 1e9,
        "contention": contention.report(),
        "what": "cifar_mlp.train.train(epochs=1) of RECIPES['best'] built by "
                "experiments.build, the median of the epochs; parts timed by wrappers of "
                "model.affine_forward and affine_backward (products with their bias add and "
                "sum), MLP.normalize and model.batchnorm_backward, optimizer.step, "
                "train.augment and train.evaluate (a call inside another timed call counts "
                "for the outer one: validation includes its products); rest = epoch minus "
                "the parts; bound = the epoch's matmul flops (training steps and validation's "
                "forward) at the peak of the network's product shapes, batch "
                f"{BEST.batch_size}"}


# -- the time budget and the ratios ----------------------------------------------------------

def plan_epochs(report: dict, prepared, started: float) -> dict:
    """The first of PLANS whose epochs fit in what is left of TIME_BUDGET (else the last;
    a note says when it is not the first), from measured or projected epoch times: a
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
    plan = {"keras": keras, "raw": raw, "seed": seed, "cut": (keras, raw, seed) != PLANS[0],
            "projected_seconds": {"keras_epoch": keras_epoch, "raw_epoch": raw_epoch,
                                  "seed_epoch": seed_epoch}, "remaining_seconds": remaining}
    if plan["cut"]:
        say(f"    NOTE: the machine is too slow or too busy for the full bench in "
            f"{TIME_BUDGET:.0f} s; running {plan}")
    return plan


def ratios(report: dict) -> dict:
    """The ratios of RATIOS, from the measurements."""
    keras = report["keras_epoch"]["median_seconds"]
    raw = report["numpy_epoch_raw"]["median_seconds"]
    step = report["train_step"]
    measured = {
        "numpy_over_keras_epoch": report["numpy_epoch_train"]["median_seconds"] / keras,
        "numpy_raw_over_keras_epoch": raw / keras,
        "train_step_fraction_of_peak": step["train_step"]["fraction_of_peak"],
        "loss_and_gradients_fraction_of_peak": step["loss_and_gradients"]["fraction_of_peak"],
        "seed_style_over_numpy": report["seed_style_epoch"]["median_seconds"] / raw,
        "best_epoch_fraction_of_bound": report["best_epoch_split"]["fraction_of_bound"],
    }
    return {"ratios": measured}


# -- the report --------------------------------------------------------------------------------

def print_measurements(report: dict) -> None:
    ms, peak, step = 1e3, report["peak"], report["train_step"]
    train_step, gradients = step["train_step"], step["loss_and_gradients"]
    print("\n(a) matrix products, best of repeats per shape:")
    for row in peak["products"]:
        print(f"      {row['product']:<42} {row['gflops']:7.1f} GFLOP/s")
    print(f"    peak over the step's products: {peak['gflops']:.1f} GFLOP/s "
          f"({peak['seconds_best'] * ms:.2f} ms per step); again after (b): "
          f"{report['peak_gflops_after_step_timing']:.1f}; with one BLAS thread: "
          f"{report['peak_gflops_one_blas_thread']:.1f}")
    print(f"(b) train step, best of {step['steps_timed']}: {train_step['best_seconds'] * ms:.2f} ms"
          f" = {train_step['gflops_best']:.1f} GFLOP/s = {train_step['fraction_of_peak']:.0%} of "
          f"peak (median vs median: {train_step['fraction_of_peak_median']:.0%})")
    print(f"    forward + backward alone {gradients['best_seconds'] * ms:.2f} ms = "
          f"{gradients['fraction_of_peak']:.0%} of peak; optimizer update "
          f"{step['optimizer_update']['best_seconds'] * ms:.2f} ms")
    outside = train_step["best_seconds"] - peak["seconds_best"]
    print(f"    outside the products: {outside * ms:.2f} ms per step; parts (best, ms):")
    for name, seconds in report["breakdown_best_seconds"].items():
        print(f"      {name:<50} {seconds * ms:8.3f}")
    for label, key in (("(c) NumPy epoch, train.train", "numpy_epoch_train"),
                       ("    NumPy epoch, raw step loop", "numpy_epoch_raw"),
                       ("(d) Keras epoch, first excluded", "keras_epoch"),
                       ("(e) seed-style epoch (float64)", "seed_style_epoch")):
        record = report[key]
        print(f"{label:<33} median {record['median_seconds']:6.2f} s of "
              f"{[round(s, 2) for s in record['seconds']]}")
    print_epoch_split(report["best_epoch_split"])


def print_epoch_split(split: dict) -> None:
    """(f): the best recipe's epoch part by part, and against its matrix-product bound."""
    peak = split["peak"]["gflops"]
    print(f"(f) best recipe's epoch ({'-'.join(map(str, split['layer_sizes']))}, BatchNorm, "
          f"augmentation), the median of {[round(s, 2) for s in split['epochs_seconds']]}: "
          f"{split['epoch_seconds']:.2f} s")
    for part, seconds in split["parts_seconds"].items():
        print(f"      {part:<22} {seconds:6.2f} s  {split['shares'][part]:4.0%}")
    print(f"    {split['matmul_flops']['total'] / 1e12:.2f} TFLOP of matrix products; at "
          f"{peak:.0f} GFLOP/s (the faster of {split['peak_gflops_before_epochs']:.0f} before "
          f"and {split['peak_gflops_after_epochs']:.0f} after the epochs) they take "
          f"{split['bound_seconds']:.2f} s: the epoch runs at {split['fraction_of_bound']:.2f} "
          f"of its bound; its training products ran at "
          f"{split['training_products_gflops']:.0f} GFLOP/s")
    print("    " + contention_note(split["contention"], "these epochs"))


def print_ratios(report: dict) -> None:
    """The ratios of RATIOS, and the contention during the whole bench."""
    print(f"\n{'ratio':<46} {'measured':>9}")
    for name, label in RATIOS.items():
        ratio = report["ratios"][name]
        impossible = "fraction" in name and ratio > 1  # faster than its own peak
        print(f"{label:<46} {ratio:9.2f}" + ("   (above 1: the peak was measured while the "
                                             "CPUs were busy)" if impossible else ""))
    print("\n" + contention_note(report["contention"], "the bench"))


def contention_note(contention: dict, during: str) -> str:
    """How much of the CPUs other processes used ``during`` a measurement, and a warning
    when it was more than HIGH_CONTENTION."""
    if "others_cpu_share" not in contention:
        return f"contention during {during}: not measured on this system"
    share = contention["others_cpu_share"]
    note = (f"other processes used {share:.0%} of the CPUs during {during} (load average "
            f"{contention['loadavg_start'][0]:.2f} -> {contention['loadavg_end'][0]:.2f})")
    if share > HIGH_CONTENTION:
        note += ("\n    HIGH CONTENTION: these timings are slower and noisier than on an idle "
                 "machine; rerun when it is idle")
    return note


def say(text: str) -> None:
    print(text, flush=True)


def load_prepared():
    return prepare(load_cifar10(cache_dir=REPO / "data"), "rgb")


def main(output: Path = RESULTS) -> int:
    started, contention = time.perf_counter(), Contention()
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    say(f"bench: {date}; loading CIFAR-10 ...")
    prepared = load_prepared()
    report = {"date": date, "machine": machine(), "network": network(prepared)}
    sizes, flops = report["network"]["layer_sizes"], report["network"]["matmul_flops_per_step"]
    say(f"network {'-'.join(map(str, sizes))}, batch {BATCH}, {len(prepared.x_train):,} training "
        f"images ({report['network']['steps_per_epoch']} steps/epoch), "
        f"{flops['total'] / 1e9:.3f} GFLOP per step in matrix products")
    rng = np.random.default_rng(0)
    say("(a) matrix-product peak ...")
    report["peak"] = measure_peak(sizes, BATCH, rng)
    say("(b) train step and its parts ...")
    step = measure_step(prepared, flops["total"])
    report["breakdown_best_seconds"] = measure_breakdown(prepared)
    again = measure_peak(sizes, BATCH, rng, repeats=3)
    report["peak_gflops_after_step_timing"] = again["gflops"]
    # The peak is the faster of the two measurements: a cold first one (the CPU not yet
    # at full clock) once made the step look faster than the peak.
    report["peak"] = max(report["peak"], again, key=lambda peak: peak["gflops"])
    report["train_step"] = with_fractions(step, report["peak"])
    report["peak_gflops_one_blas_thread"] = peak_one_thread(sizes)
    say("(c) NumPy epochs (train.train, then a raw loop) ...")
    report["numpy_epoch_train"] = numpy_epochs_train(prepared)
    say(f"(f) the best recipe's epoch, part by part (up to {SPLIT_EPOCHS} epochs) ...")
    report["best_epoch_split"] = measure_epoch_split(prepared)
    plan = report["epochs_plan"] = plan_epochs(report, prepared, started)
    report["numpy_epoch_raw"] = numpy_epochs_raw(prepared, plan["raw"])
    say(f"(e) seed-style trainer, {plan['seed']} epoch(s) ...")
    report["seed_style_epoch"] = seed_style_epochs(prepared, plan["seed"])
    say(f"(d) Keras epochs ({plan['keras']} + 1 excluded) ...")
    report["keras_epoch"] = keras_epochs(prepared, plan["keras"])
    report.update(ratios(report), contention=contention.report(),
                  total_seconds=time.perf_counter() - started)
    print_measurements(report)
    print_ratios(report)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1, default=str) + "\n")
    say(f"wrote {output} in {report['total_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How fast is the NumPy MLP, measured against the machine and against Keras (``make bench``).

One run, on this machine, on the 3072-1024-512-10 network (ReLU, softmax
cross-entropy, SGD with momentum 0.9; no batch norm, dropout or L2), batch 128,
the 45,000-image training split of ``prepare(load_cifar10(), "rgb")`` (the 5,000
validation images are scored after every epoch, as training does):

(a) the float32 matrix-product peak of NumPy at the network's own product shapes
    (forward, weight gradients, input gradients; best of several repeats each);
(b) the NumPy train step: its achieved GFLOP/s (the matrix products of forward and
    backward, the first layer without dx) and its fraction of that peak, with a
    breakdown of where the time outside the products goes;
(c) NumPy seconds per epoch: ``cifar_mlp.train.train`` (the trainer the book uses)
    and a raw loop of steps; medians of 3 epochs;
(d) Keras seconds per epoch on the same network, batch, data and validation
    (``cifar_mlp.keras_mirror.train_keras``): median of 3 epochs after a first,
    excluded, one (graph tracing);
(e) a seed-style trainer for reference: the same network written the usual way,
    with float64 weights from ``np.random.randn``; 1-2 epochs.

Prints the ratios against their targets and writes ``results/bench.json`` with every
number, the machine, the BLAS and a measure of contention: the share of the CPUs
that other processes used while the bench ran (from /proc/stat). Timings taken while
other jobs share the cores are noisy; the JSON says how busy the machine was.

    .venv/bin/python bench/bench.py            # 3 to 4 minutes on an idle 2-core machine
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from cifar_mlp.data import REPO_DIR, load_cifar10
from cifar_mlp.experiments import Recipe, build
from cifar_mlp.layers import (relu_backward, relu_forward, softmax_cross_entropy)
from cifar_mlp.preprocess import prepare
from cifar_mlp.train import evaluate, train

RESULTS = REPO_DIR / "results" / "bench.json"
HIDDEN = (1024, 512)
BATCH = 128
EPOCHS = 3  # measured epochs, NumPy and Keras (Keras runs one more, excluded)
TIME_BUDGET = 540.0  # seconds; plan_epochs() runs fewer epochs when the machine is slow or busy
RECIPE = Recipe("bench", mode="rgb", hidden=HIDDEN, lr=0.01, momentum=0.9, batch_size=BATCH,
                epochs=EPOCHS, patience=None,
                description="Benchmark network 3072-1024-512-10, SGD momentum 0.9, batch 128")
TARGETS = {"numpy_over_keras_epoch": 0.8, "train_step_fraction_of_peak": 0.85,
           "seed_style_over_numpy": 3.0}

STARTED = time.perf_counter()


# -- measuring ------------------------------------------------------------------------------

def timings(function, repeats: int = 7, min_seconds: float = 0.03) -> np.ndarray:
    """Seconds per call of ``function()``, one value per repeat; each repeat loops enough
    calls to last ``min_seconds`` (so the clock's resolution does not matter)."""
    function()  # warm-up
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
    """The share of the machine's CPU time that other processes used during a span."""

    def __init__(self):
        self.wall, self.busy, self.own = time.perf_counter(), cpu_busy_jiffies(), own_cpu_seconds()
        self.load_start = os.getloadavg()

    def report(self) -> dict:
        wall = time.perf_counter() - self.wall
        busy = cpu_busy_jiffies()
        result = {"loadavg_start": self.load_start, "loadavg_end": os.getloadavg(),
                  "wall_seconds": wall}
        if busy is not None and self.busy is not None:
            ticks = os.sysconf("SC_CLK_TCK")
            total = (busy - self.busy) / ticks
            others = max(0.0, total - (own_cpu_seconds() - self.own))
            result["others_cpu_share"] = others / (wall * os.cpu_count())
            result["bench_cpu_share"] = (own_cpu_seconds() - self.own) / (wall * os.cpu_count())
        return result


# -- the network's arithmetic ----------------------------------------------------------------

def matmul_flops(sizes, n: int) -> dict:
    """Flops (2 per multiply-add) of the forward and backward matrix products of one step."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    forward = sum(2 * n * a * b for a, b in pairs)
    weight_grads = forward
    input_grads = sum(2 * n * a * b for a, b in pairs[1:])  # the first layer needs no dx
    return {"forward": forward, "weight_grads": weight_grads, "input_grads": input_grads,
            "total": forward + weight_grads + input_grads}


def products(sizes, n: int, rng) -> list:
    """The step's matrix products with the operands and memory layouts the model uses:
    (label, flops, function)."""
    out = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        x = rng.standard_normal((n, a), dtype=np.float32)       # layer input, C order
        w = rng.standard_normal((a, b), dtype=np.float32)       # weights, C order
        d = rng.standard_normal((n, b), dtype=np.float32)       # upstream gradient
        out.append((f"forward  x{i} @ W{i}   ({n}x{a} @ {a}x{b})", 2 * n * a * b,
                    lambda x=x, w=w: x @ w))
        out.append((f"dW       x{i}.T @ d{i} ({a}x{n} @ {n}x{b})", 2 * n * a * b,
                    lambda x=x, d=d: x.T @ d))
        if i > 1:
            out.append((f"dx       d{i} @ W{i}.T ({n}x{b} @ {b}x{a})", 2 * n * a * b,
                        lambda d=d, w=w: d @ w.T))
    return out


def measure_peak(sizes, n: int, rng, repeats: int = 7) -> dict:
    """(a): best (and median) seconds of each product; the peak is the step's flops over
    the sum of the best times, i.e. the rate of a step that did nothing but its products."""
    rows, best_sum, median_sum, flops_sum = [], 0.0, 0.0, 0
    for label, flops, function in products(sizes, n, rng):
        times = timings(function, repeats=repeats)
        best, median = float(times.min()), float(np.median(times))
        rows.append({"product": label, "flops": flops, "best_seconds": best,
                     "median_seconds": median, "gflops": flops / best / 1e9})
        best_sum, median_sum, flops_sum = best_sum + best, median_sum + median, flops_sum + flops
    return {"products": rows, "flops": flops_sum, "seconds_best": best_sum,
            "seconds_median": median_sum, "gflops": flops_sum / best_sum / 1e9,
            "gflops_median": flops_sum / median_sum / 1e9}


# -- (b) the train step and its breakdown ------------------------------------------------------

def measure_step(prepared, flops: int, peak: dict, steps: int = 80, warmup: int = 8) -> dict:
    """Time ``model.loss`` (forward + backward) and ``optimizer.step`` over real batches."""
    model, optimizer, _ = build(RECIPE, prepared.n_features)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(prepared.x_train))
    loss_times, update_times = [], []
    for k in range(steps + warmup):
        start = (k * BATCH) % (len(order) - BATCH + 1)
        idx = order[start:start + BATCH]
        x, y = prepared.x_train[idx], prepared.y_train[idx]
        started = time.perf_counter()
        _, grads = model.loss(x, y)
        middle = time.perf_counter()
        optimizer.step(model.params, grads)
        ended = time.perf_counter()
        if k >= warmup:
            loss_times.append(middle - started)
            update_times.append(ended - middle)
    loss_times, update_times = np.array(loss_times), np.array(update_times)
    step_times = loss_times + update_times
    result = {"steps_timed": steps}
    for name, times in (("loss_and_gradients", loss_times), ("optimizer_update", update_times),
                        ("train_step", step_times)):
        result[name] = {"best_seconds": float(times.min()),
                        "median_seconds": float(np.median(times))}
    for name in ("loss_and_gradients", "train_step"):
        entry = result[name]
        entry["gflops_best"] = flops / entry["best_seconds"] / 1e9
        entry["gflops_median"] = flops / entry["median_seconds"] / 1e9
        entry["fraction_of_peak"] = entry["gflops_best"] / peak["gflops"]  # best vs best
        entry["fraction_of_peak_median"] = entry["gflops_median"] / peak["gflops_median"]
    return result


def measure_breakdown(prepared) -> dict:
    """Best seconds of the work in a step and in a training epoch other than the products."""
    model, optimizer, _ = build(RECIPE, prepared.n_features)
    rng = np.random.default_rng(1)
    idx = rng.permutation(len(prepared.x_train))[:BATCH]
    x, y = prepared.x_train[idx], prepared.y_train[idx]
    _, grads = model.loss(x, y)
    grads = {k: v.copy() for k, v in grads.items()}
    sizes = model.layer_sizes
    hidden = [rng.standard_normal((BATCH, h), dtype=np.float32) for h in sizes[1:-1]]
    logits = rng.standard_normal((BATCH, sizes[-1]), dtype=np.float32)
    biases = [np.zeros(h, np.float32) for h in sizes[1:]]
    outs = [rng.standard_normal((BATCH, h), dtype=np.float32) for h in sizes[1:]]

    def relu_back():
        for h in hidden:
            relu_backward(h.copy(), h)

    def copies():  # what relu_back's h.copy() costs, subtracted below
        for h in hidden:
            h.copy()

    def bias_adds():
        for out, b in zip(outs, biases):
            out += b

    def bias_grads():
        for out in outs:
            out.sum(axis=0)

    def relus():
        for h in hidden:
            relu_forward(h)

    weights = [model.params[f"W{i}"] for i in range(1, model.n_layers + 1)]
    l2_grads = [grads[f"W{i}"] for i in range(1, model.n_layers + 1)]

    def l2_penalty():  # what model.loss adds per step when l2 > 0 (not in this network)
        for w, g in zip(weights, l2_grads):
            np.vdot(w, w)
            g += 2e-8 * w

    best = {name: float(timings(f).min()) for name, f in {
        "input_checks (dtype, finite, labels)": lambda: (model._as_batch(x), ),
        "bias_add": bias_adds,
        "relu_forward": relus,
        "relu_backward": relu_back,
        "bias_gradients (sum over batch)": bias_grads,
        "softmax_cross_entropy": lambda: softmax_cross_entropy(logits, y),
        "optimizer_update (SGD momentum)": lambda: optimizer.step(model.params, grads),
        "l2_penalty (only recipes with l2 > 0)": l2_penalty,
        "gather_batch x[idx] (train loop)": lambda: (prepared.x_train[idx], prepared.y_train[idx]),
    }.items()}
    best["relu_backward"] -= float(timings(copies).min())
    best["validation_per_epoch (evaluate, 5,000 images)"] = float(
        timings(lambda: evaluate(model, prepared.x_val, prepared.y_val), repeats=3,
                min_seconds=0.0).min())
    return best


# -- (c) NumPy epochs ---------------------------------------------------------------------------

def numpy_epochs_train(prepared) -> dict:
    """``cifar_mlp.train.train`` for EPOCHS epochs: what the book's numbers are made of."""
    model, optimizer, schedule = build(RECIPE, prepared.n_features)
    history = train(model, optimizer, prepared.x_train, prepared.y_train, prepared.x_val,
                    prepared.y_val, epochs=EPOCHS, batch_size=BATCH, seed=0, schedule=schedule,
                    progress=False)
    return {"seconds": history.seconds, "median_seconds": history.median_seconds_per_epoch,
            "val_accuracy": history.val_acc,
            "what": "cifar_mlp.train.train: shuffled batches, loss + gradients (training "
                    "accuracy from the same logits), SGD update, validation each epoch"}


def timed_epochs(train_step, prepared, epochs: int) -> list:
    """Seconds per epoch of ``train_step(x_batch, y_batch)`` over the shuffled training split.

    The shuffling generator is seeded the same way for every trainer, so all of them
    see the same batches in the same order.
    """
    rng = np.random.default_rng(0)
    x, y = prepared.x_train, prepared.y_train
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            idx = order[start:start + BATCH]
            train_step(x[idx], y[idx])
        seconds.append(time.perf_counter() - started)
    return seconds


def numpy_epochs_raw(prepared, epochs: int) -> dict:
    """A bare loop of train steps over the shuffled training split: no accuracy, no validation."""
    model, optimizer, _ = build(RECIPE, prepared.n_features)

    def train_step(x_batch, y_batch):
        _, grads = model.loss(x_batch, y_batch)
        optimizer.step(model.params, grads)

    seconds = timed_epochs(train_step, prepared, epochs)
    return {"seconds": seconds, "median_seconds": float(np.median(seconds)),
            "what": "raw loop: gather batch, model.loss, SGD update; no accuracy, no validation"}


# -- (e) the seed-style trainer ------------------------------------------------------------------

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
    """The median time of a few seed-style steps (to plan how many epochs fit the budget)."""
    model = SeedStyleMLP(RECIPE.layer_sizes(prepared.n_features))
    x, y = prepared.x_train[:BATCH], prepared.y_train[:BATCH]
    model.train_step(x, y)
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        model.train_step(x, y)
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def seed_style_epochs(prepared, epochs: int) -> dict:
    model = SeedStyleMLP(RECIPE.layer_sizes(prepared.n_features))
    seconds = timed_epochs(model.train_step, prepared, epochs)
    return {"seconds": seconds, "median_seconds": float(np.median(seconds)),
            "what": "seed-style raw loop (float64 weights via np.random.randn), same batches as "
                    "the NumPy raw loop"}


# -- (d) Keras ---------------------------------------------------------------------------------

def keras_epochs(prepared, epochs: int) -> dict:
    from dataclasses import replace

    from cifar_mlp import keras_mirror
    tf, keras = keras_mirror.quiet_tensorflow()
    recipe = replace(RECIPE, epochs=epochs + 1)
    with tempfile.TemporaryDirectory() as weights_dir:  # always trains; keeps nothing
        result = keras_mirror.train_keras(recipe, prepared, results_dir=None,
                                          weights_dir=Path(weights_dir), retrain=True,
                                          progress=False)
    seconds = result["history"].seconds
    return {"seconds": seconds, "seconds_excluded": seconds[:1],
            "median_seconds": float(np.median(seconds[1:])),
            "val_accuracy": result["history"].val_acc,
            "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "what": "keras_mirror.train_keras: fit(verbose=0) on a tf.data generator of the same "
                    "shuffled batches (autotune off, prefetch 1), validation each epoch, "
                    "per-epoch wall times from a callback; first epoch (tracing) excluded"}


# -- the machine -------------------------------------------------------------------------------

def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info
        blas = threadpool_info()
    except ImportError:
        import io
        from contextlib import redirect_stdout
        buffer = io.StringIO()
        with redirect_stdout(buffer):
            np.show_config()
        blas = buffer.getvalue()
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__, "blas": blas,
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)}


def plan_epochs(train_epoch: float, raw_epoch: float, seed_epoch: float) -> dict:
    """How many epochs of the remaining phases fit in TIME_BUDGET, from measured or
    projected epoch times: Keras 1 + 3 (its epochs are guessed at 2.5 NumPy train
    epochs, plus 20 s of import and tracing), the raw loop 3, the seed-style trainer 2.
    Cuts, in this order, the seed-style epochs, the raw-loop epochs, then Keras's."""
    remaining = TIME_BUDGET - (time.perf_counter() - STARTED)
    keras_epoch = 2.5 * train_epoch
    for keras, raw, seed in ((EPOCHS, EPOCHS, 2), (EPOCHS, EPOCHS, 1), (EPOCHS, 2, 1),
                             (EPOCHS, 1, 1), (2, 1, 1)):
        needed = 20 + (keras + 1) * keras_epoch + raw * raw_epoch + seed * seed_epoch
        if needed <= remaining:
            break
    return {"keras": keras, "raw": raw, "seed": seed,
            "cut": (keras, raw, seed) != (EPOCHS, EPOCHS, 2),
            "projected_seconds": {"keras_epoch": keras_epoch, "raw_epoch": raw_epoch,
                                  "seed_epoch": seed_epoch}, "remaining_seconds": remaining}


def peak_one_thread(sizes) -> float | None:
    """The same peak with the BLAS limited to one thread (threadpoolctl), or None."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    with threadpool_limits(1, user_api="blas"):
        return measure_peak(sizes, BATCH, np.random.default_rng(2), repeats=3)["gflops"]


# -- the report --------------------------------------------------------------------------------

def main() -> int:
    contention = Contention()
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    print(f"bench: {date}; loading CIFAR-10 ...", flush=True)
    prepared = prepare(load_cifar10(), "rgb")
    sizes = RECIPE.layer_sizes(prepared.n_features)
    flops = matmul_flops(sizes, BATCH)
    steps_per_epoch = -(-len(prepared.x_train) // BATCH)
    print(f"network {'-'.join(map(str, sizes))}, batch {BATCH}, {len(prepared.x_train):,} "
          f"training images ({steps_per_epoch} steps/epoch), {flops['total'] / 1e9:.3f} GFLOP "
          f"per step in matrix products", flush=True)

    rng = np.random.default_rng(0)
    print("(a) matrix-product peak ...", flush=True)
    peak = measure_peak(sizes, BATCH, rng)
    for row in peak["products"]:
        print(f"    {row['product']:<40} {row['gflops']:7.1f} GFLOP/s")
    print(f"    peak over the step's products: {peak['gflops']:.1f} GFLOP/s "
          f"({peak['seconds_best'] * 1e3:.2f} ms of products per step)", flush=True)

    print("(b) train step ...", flush=True)
    step = measure_step(prepared, flops["total"], peak)
    breakdown = measure_breakdown(prepared)
    peak_after = measure_peak(sizes, BATCH, rng, repeats=3)["gflops"]
    peak_1 = peak_one_thread(sizes)

    print("(c) NumPy epochs (train.train, then a raw loop) ...", flush=True)
    numpy_train = numpy_epochs_train(prepared)
    plan = plan_epochs(numpy_train["median_seconds"],
                       steps_per_epoch * (step["train_step"]["median_seconds"]
                                          + breakdown["gather_batch x[idx] (train loop)"]),
                       steps_per_epoch * seed_style_step_seconds(prepared))
    if plan["cut"]:
        print(f"    NOTE: the machine is too slow or too busy for the full bench in "
              f"{TIME_BUDGET:.0f} s; running {plan}", flush=True)
    numpy_raw = numpy_epochs_raw(prepared, plan["raw"])

    print(f"(e) seed-style trainer, {plan['seed']} epoch(s) ...", flush=True)
    seed_style = seed_style_epochs(prepared, plan["seed"])

    print(f"(d) Keras epochs ({plan['keras']} + 1 excluded) ...", flush=True)
    keras = keras_epochs(prepared, plan["keras"])

    ratios = {
        "numpy_over_keras_epoch": numpy_train["median_seconds"] / keras["median_seconds"],
        "numpy_raw_over_keras_epoch": numpy_raw["median_seconds"] / keras["median_seconds"],
        "train_step_fraction_of_peak": step["train_step"]["fraction_of_peak"],
        "loss_and_gradients_fraction_of_peak": step["loss_and_gradients"]["fraction_of_peak"],
        "seed_style_over_numpy": seed_style["median_seconds"] / numpy_raw["median_seconds"],
    }
    verdicts = {name: (ratios[name] <= target if name == "numpy_over_keras_epoch"
                       else ratios[name] >= target) for name, target in TARGETS.items()}

    ms = 1e3
    step_best = step["train_step"]["best_seconds"]
    outside = step_best - peak["seconds_best"]
    print()
    print(f"(a) peak (best of 7 per product shape):  {peak['gflops']:7.1f} GFLOP/s "
          f"(again after (b): {peak_after:.1f}; with one BLAS thread: "
          f"{peak_1 if peak_1 is None else round(peak_1, 1)})")
    print(f"(b) train step, best of {step['steps_timed']}:  {step_best * ms:6.2f} ms = "
          f"{step['train_step']['gflops_best']:.1f} GFLOP/s = "
          f"{ratios['train_step_fraction_of_peak']:.0%} of peak "
          f"(median vs median: {step['train_step']['fraction_of_peak_median']:.0%})")
    print(f"    forward + backward alone {step['loss_and_gradients']['best_seconds'] * ms:.2f} ms "
          f"= {ratios['loss_and_gradients_fraction_of_peak']:.0%} of peak; optimizer update "
          f"{step['optimizer_update']['best_seconds'] * ms:.2f} ms")
    print(f"    outside the products: {outside * ms:.2f} ms per step; parts (best, ms):")
    for name, seconds in breakdown.items():
        print(f"      {name:<48} {seconds * ms:7.3f}")
    print(f"(c) NumPy epoch, train.train (median of {len(numpy_train['seconds'])}): "
          f"{numpy_train['median_seconds']:.2f} s "
          f"{[round(s, 2) for s in numpy_train['seconds']]}")
    print(f"    NumPy epoch, raw step loop (median of {len(numpy_raw['seconds'])}): "
          f"{numpy_raw['median_seconds']:.2f} s "
          f"{[round(s, 2) for s in numpy_raw['seconds']]}")
    print(f"(d) Keras epoch (median of {len(keras['seconds']) - 1}, first excluded): "
          f"{keras['median_seconds']:.2f} s "
          f"{[round(s, 2) for s in keras['seconds']]}")
    print(f"(e) seed-style epoch (float64): {seed_style['median_seconds']:.2f} s "
          f"{[round(s, 2) for s in seed_style['seconds']]}")
    print()
    print("ratio                                   measured  target    met")
    raw_note = f"raw loop / Keras: {ratios['numpy_raw_over_keras_epoch']:.2f}"
    loss_note = f"forward + backward alone: {ratios['loss_and_gradients_fraction_of_peak']:.2f}"
    lines = {"numpy_over_keras_epoch": ("NumPy / Keras seconds per epoch", "<=", raw_note),
             "train_step_fraction_of_peak": ("train step / matmul peak", ">=", loss_note),
             "seed_style_over_numpy": ("seed-style / NumPy seconds per epoch", ">=", "")}
    for name, (label, sign, note) in lines.items():
        print(f"{label:<38} {ratios[name]:9.2f}  {sign} {TARGETS[name]:<5} "
              f"{'yes' if verdicts[name] else 'NO':>4}" + (f"   ({note})" if note else ""))

    busy = contention.report()
    share = busy.get("others_cpu_share")
    if share is not None:
        print(f"\nother processes used {share:.0%} of the CPUs during the bench "
              f"(load average {busy['loadavg_start'][0]:.2f} -> {busy['loadavg_end'][0]:.2f})"
              + ("; timings are affected by contention" if share > 0.1 else ""))

    report = {
        "date": date, "machine": machine(), "contention": busy,
        "network": {"layer_sizes": sizes, "batch_size": BATCH, "dtype": "float32",
                    "n_train": len(prepared.x_train), "n_val": len(prepared.x_val),
                    "steps_per_epoch": steps_per_epoch, "matmul_flops_per_step": flops,
                    "recipe": RECIPE.__dict__ | {"hidden": list(HIDDEN)}},
        "peak": peak, "peak_gflops_after_step_timing": peak_after,
        "peak_gflops_one_blas_thread": peak_1,
        "train_step": step, "breakdown_best_seconds": breakdown,
        "numpy_epoch_train": numpy_train, "numpy_epoch_raw": numpy_raw,
        "keras_epoch": keras, "seed_style_epoch": seed_style,
        "ratios": ratios, "targets": TARGETS, "targets_met": verdicts, "epochs_plan": plan,
        "total_seconds": time.perf_counter() - STARTED,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"wrote {RESULTS} in {report['total_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

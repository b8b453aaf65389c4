"""Chapter 3's exercises: both optimizers, batch normalization and dropout, a schedule, the
confusion matrix, early stopping, and the gradient of the simplest classifier."""

import math

import numpy as np

from .. import layers as ref
from ..data import CLASS_NAMES
from ..gradcheck import numerical_gradient, numerical_gradient_array
from ..model import MLP
from ..optim import SGD, Adam
from ..schedules import cosine
from ..train import train
from .base import (all_close, assert_unchanged, checked_array, checked_shape, compare,
                   compare_gradient, draw_away_from, draw_classes, draw_sizes, exercise, fail,
                   fresh_rng, unpacked)


def _descent(update, settings: dict, rng_seed: int, steps: int = 4):
    """Run an update formula for a few steps from one random start: the weights after each."""
    rng = np.random.default_rng(rng_seed)
    shape = (int(rng.integers(2, 5)), int(rng.integers(3, 6)))
    w, state, trajectory = rng.standard_normal(shape), None, []
    for t in range(1, steps + 1):
        g = np.sign(rng.standard_normal(shape)) * rng.uniform(0.5, 2.0, shape)
        w, state = update(w, g, state, t, **settings)
        trajectory.append(np.array(w, dtype=np.float64))
    return trajectory


def _trajectories(mine, expected, label, slips, atol=1e-9):
    """Weights after each step against the expected ones; a slip is named when its whole
    trajectory matches (one step alone can match several slips)."""
    if all(all_close(a, b, 1e-6, atol) for a, b in zip(mine, expected)):
        return
    for hint, wrong in slips:
        if all(all_close(a, b, 1e-6, atol) for a, b in zip(mine, wrong)):
            fail(f"{label}: {hint}")
    step = next(i for i, (a, b) in enumerate(zip(mine, expected), 1)
                if not all_close(a, b, 1e-6, atol))
    compare(mine[step - 1], expected[step - 1], f"the weights after {label} step {step}",
             atol=atol)


def _momentum_variant(kind: str):
    def update(w, g, v, t, lr, momentum, nesterov):
        v = np.zeros_like(w) if v is None else v
        if kind == "sign":  # velocity accumulates +lr*g and is added: uphill
            v = momentum * v + lr * g
            return w + (momentum * v + lr * g if nesterov else v), v
        if kind == "plain":
            return w - lr * g, v
        if kind == "old":
            w = w + v
            return w, momentum * v - lr * g
        if kind == "no_nesterov":
            v = momentum * v - lr * g
            return w + v, v
        if kind == "decay_sign":
            v = -momentum * v - lr * g
            return w + (momentum * v - lr * g if nesterov else v), v
        w, v = w.copy(), v.copy()
        SGD(lr, momentum, nesterov).update(w, g, v)
        return w, v
    return update


@exercise(3, "Momentum and Nesterov updates", points=3, minutes=10,
          teaches="how a velocity accumulates past gradients, and the signs that make it go downhill",
          answers=("cifar_mlp.optim.SGD", "cifar_mlp.fast.FastSGD"))
def momentum_update(sgd_momentum):
    rng = fresh_rng()
    lr, momentum = float(rng.uniform(0.01, 0.3)), draw_away_from(rng, 0.5, 0.97, 0.9, 0.02)
    start = int(rng.integers(2**31))
    for nesterov in (False, True):
        settings = dict(lr=lr, momentum=momentum, nesterov=nesterov)

        def yours(w, g, v, t, lr, momentum, nesterov):
            v = np.zeros_like(w) if v is None else v
            return unpacked(sgd_momentum(np.array(w), np.array(g), np.array(v), lr, momentum,
                                        nesterov), 2, "sgd_momentum")

        def run(kind, **changed):
            return _descent(_momentum_variant(kind), {**settings, **changed}, start)

        slips = [("momentum sign error: the step goes up the gradient; with v = momentum*v - "
                  "lr*g the update is w + v", run("sign")),
                 ("no momentum: the velocity never enters the update", run("plain")),
                 ("w moved by the old velocity: update v first, then w", run("old")),
                 ("the velocity's decay has the wrong sign: v = momentum * v - lr * g",
                  run("decay_sign")),
                 (f"the momentum argument ({momentum:.3f}) is not used: 0.9 is written in the "
                  "code?", run("reference", momentum=0.9))]
        if nesterov:
            slips.append(("nesterov=True gives plain momentum: the look-ahead step is "
                          "w + momentum * v - lr * g (with the new v)", run("no_nesterov")))
        _trajectories(_descent(yours, settings, start), run("reference"),
                      "Nesterov" if nesterov else "momentum", slips)


ADAM_VARIANTS = ("paper", "abs", "none", "only_v", "only_m", "no_sqrt")


def _adam_variant(kind: str):
    """Adam as the paper writes it (``"paper"``: eps added after the bias correction), or
    one of the slips a student makes: ``"abs"`` |g| for g², ``"none"`` no bias correction,
    ``"only_v"``/``"only_m"`` only one moment corrected, ``"no_sqrt"`` no square root."""
    if kind not in ADAM_VARIANTS:
        raise ValueError(f"unknown Adam variant {kind!r}: one of {', '.join(ADAM_VARIANTS)}")

    def update(w, g, state, t, lr, beta1, beta2, eps):
        m, v = (np.zeros_like(w), np.zeros_like(w)) if state is None else state
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * (np.abs(g) if kind == "abs" else g * g)
        m_hat = m if kind in ("none", "only_v") else m / (1 - beta1 ** t)
        v_hat = v if kind in ("none", "only_m") else v / (1 - beta2 ** t)
        if kind == "no_sqrt":
            return w - lr * m_hat / (v_hat + eps), (m, v)
        return w - lr * m_hat / (np.sqrt(v_hat) + eps), (m, v)
    return update


def _adam_reference(w, g, state, t, lr, beta1, beta2, eps):
    m, v = (np.zeros_like(w), np.zeros_like(w)) if state is None else state
    w, m, v = w.copy(), m.copy(), v.copy()
    adam = Adam(lr, beta1, beta2, eps)
    adam.t = t
    adam.update(w, g, m, v)
    return w, (m, v)


@exercise(3, "Adam update", points=4, minutes=15,
          teaches="per-parameter step sizes from running moments, and why they need bias correction",
          answers=("cifar_mlp.optim.Adam", "cifar_mlp.fast.FastAdam"))
def adam_update(adam_update):
    rng = fresh_rng()
    settings = dict(lr=float(rng.uniform(1e-3, 1e-2)),
                    beta1=draw_away_from(rng, 0.7, 0.95, 0.9, 0.02),
                    beta2=draw_away_from(rng, 0.95, 0.9995, 0.999, 0.0003), eps=1e-7)
    start = int(rng.integers(2**31))

    def yours(w, g, state, t, **kw):
        m, v = (np.zeros_like(w), np.zeros_like(w)) if state is None else state
        w, m, v = unpacked(adam_update(np.array(w), np.array(g), np.array(m), np.array(v), t,
                                      **kw), 3, "adam_update")
        return w, (m, v)

    mine = _descent(yours, settings, start)
    for step, a in enumerate(mine, 1):
        if not np.all(np.isfinite(a)):
            fail(f"step {step} gives NaN or infinite weights: a square root of a negative "
                  "number (v must average the squared gradient g*g, which is never negative) "
                  "or a division by zero (t counts steps from 1: with t = 0, 1 - beta**t is 0)")
    slips = [("Adam without bias correction: divide m by (1 - beta1**t) and v by "
              "(1 - beta2**t); without it the early steps are too large, not too small: at "
              "t = 1, m / sqrt(v) = (1 - beta1) g / (sqrt(1 - beta2) |g|), about 3.2 times "
              "the corrected step for the usual betas", "none"),
             ("only m is bias-corrected: v needs its correction (1 - beta2**t) too", "only_m"),
             ("only v is bias-corrected: m needs its correction (1 - beta1**t) too", "only_v"),
             ("v must average the squared gradient g*g", "abs"),
             ("divided by v instead of sqrt(v)", "no_sqrt")]
    slips = [(hint, _descent(_adam_variant(kind), settings, start)) for hint, kind in slips]
    # The paper adds eps after the bias correction, Keras (and optim.Adam) before it; the two
    # differ by up to about 1e-8 in these weights, more than rounding: both are right, and
    # hard-coded betas are named in either form.
    defaults = {**settings, "beta1": 0.9, "beta2": 0.999}
    fixed_betas = (f"the beta arguments ({settings['beta1']:.3f}, {settings['beta2']:.4f}) are "
                   "not used: 0.9 and 0.999 are written in the code?")
    slips += [(fixed_betas, _descent(_adam_reference, defaults, start)),
              (fixed_betas, _descent(_adam_variant("paper"), defaults, start))]
    paper = _descent(_adam_variant("paper"), settings, start)
    if all(all_close(a, b, 1e-6, 1e-8) for a, b in zip(mine, paper)):
        return
    _trajectories(mine, _descent(_adam_reference, settings, start), "Adam", slips, atol=1e-8)


@exercise(3, "Batch normalization layer", points=6, minutes=30,
          teaches="the hardest backward pass of the chapter: every output depends on every "
                  "input of the batch through its mean and variance",
          answers=("cifar_mlp.layers.batchnorm_forward", "cifar_mlp.layers.batchnorm_backward",
                   "cifar_mlp.model.MLP.normalize"))
def batchnorm_layer(batchnorm_forward, batchnorm_backward):
    rng = fresh_rng()
    n, d = draw_sizes(rng, (6, 16), (3, 8))
    x = rng.standard_normal((n, d)) * rng.uniform(0.05, 3, d) + rng.uniform(-2, 2, d)
    gamma, beta = rng.standard_normal(d), rng.standard_normal(d)
    dout, eps = rng.standard_normal((n, d)), float(10 ** rng.uniform(-2.5, -0.5))
    before = x.copy()
    out, cache = unpacked(batchnorm_forward(x, gamma.copy(), beta.copy(), eps), 2,
                         "batchnorm_forward")
    assert_unchanged([before], [x], "the input x")
    centered = x - x.mean(axis=0)
    var = centered.var(axis=0)
    x_hat = centered / np.sqrt(var + eps)
    rows = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + eps)
    compare(out, gamma * x_hat + beta, "batchnorm_forward's output", slips=[
        (f"the eps argument ({eps:.2g}) is not used: 1e-3 is written in the code?",
         gamma * centered / np.sqrt(var + 1e-3) + beta),
        ("wrong variance: divide by N (the biased variance, np.var's default), not N - 1",
         gamma * centered / np.sqrt(x.var(axis=0, ddof=1) + eps) + beta),
        ("eps added outside the square root: use sqrt(var + eps)",
         gamma * centered / (np.sqrt(var) + eps) + beta),
        ("normalized with the variance where the standard deviation belongs: "
         "x_hat = (x - mean) / sqrt(var + eps)", gamma * centered / (var + eps) + beta),
        ("normalized over the wrong axis: the mean and variance are per feature, over the "
         "batch (axis 0)", gamma * rows + beta),
        ("gamma and beta are swapped: out = gamma * x_hat + beta", beta * x_hat + gamma),
        ("the mean is not subtracted", gamma * x / np.sqrt(var + eps) + beta)])
    dx, dgamma, dbeta = unpacked(batchnorm_backward(dout.copy(), cache), 3, "batchnorm_backward")
    scale = gamma / np.sqrt(var + eps)
    mean_dout, mean_dx_hat = dout.mean(axis=0), (dout * x_hat).mean(axis=0)

    def forward():
        return batchnorm_forward(x, gamma, beta, eps)[0]

    compare_gradient(dbeta, numerical_gradient_array(forward, beta, dout), "dbeta", [
        ("divided by the batch size: dbeta is the sum of dout over the batch", mean_dout)])
    compare_gradient(dgamma, numerical_gradient_array(forward, gamma, dout), "dgamma", [
        ("dgamma is sum(dout * x_hat), with the normalized input x_hat", (dout * x).sum(axis=0)),
        ("dgamma is sum(dout * x_hat), not sum(dout)", dout.sum(axis=0)),
        ("divided by the batch size: dgamma is a sum over the batch", mean_dx_hat)])
    compare_gradient(dx, numerical_gradient_array(forward, x, dout), "dx", [
        ("the batch mean and variance are treated as constants (dx = gamma * dout / sigma): "
         "every output depends on every input of the batch through them", scale * dout),
        ("forgot the mean term: subtract mean(dout), the gradient through the batch mean",
         scale * (dout - x_hat * mean_dx_hat)),
        ("forgot the variance term: subtract x_hat * mean(dout * x_hat), the gradient "
         "through the batch variance", scale * (dout - mean_dout)),
        ("forgot gamma: dx = gamma / sigma * (...)", scale / gamma * (
            dout - mean_dout - x_hat * mean_dx_hat)),
        ("the variance term has the wrong sign",
         scale * (dout - mean_dout + x_hat * mean_dx_hat))])


def _dropout_rate(rng) -> float:
    """A rate well away from 0.5, so that the rate and the keep probability differ."""
    return float(rng.uniform(0.1, 0.35) if rng.random() < 0.5 else rng.uniform(0.65, 0.8))


def _independent(kept: np.ndarray, keep: float) -> None:
    """Each unit of each example must be dropped on its own draw: the spread of the kept
    counts per example and per unit is what independent draws give (binomial)."""
    n, d = kept.shape
    if np.all(kept == kept[0]):
        fail("every example of the batch drops the same units (one mask shared by the whole "
              "batch): draw one random number per element, rng.random(x.shape)")
    if np.all(kept == kept[:, :1]):
        fail("each example is dropped or kept whole (one random number per row): draw one "
              "random number per element, rng.random(x.shape)")
    for axis, what, count in ((1, "example", d), (0, "unit", n)):
        spread = kept.sum(axis=axis).var() / (count * keep * (1 - keep))
        if spread > 2.0:
            fail(f"the units are not dropped independently: the number kept per {what} varies "
                  f"{spread:.1f} times as much as independent draws would make it vary")
        if spread < 0.4:
            fail(f"the mask is too regular to be random: the number kept per {what} varies "
                  f"{spread:.2f} times as much as independent draws would (a fixed pattern?)")


@exercise(3, "Dropout layer", points=3, minutes=10,
          teaches="inverted dropout: independent random masks, the 1/(1 - rate) scaling, the "
                  "same mask in the backward pass, and the identity at inference",
          answers=("cifar_mlp.layers.dropout_forward", "cifar_mlp.layers.dropout_backward"))
def dropout_layer(dropout_forward, dropout_backward):
    rng = fresh_rng()
    rate = _dropout_rate(rng)
    keep = 1 - rate
    shape = (int(rng.integers(300, 500)), int(rng.integers(200, 300)))
    x = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)  # no zeros
    seed = int(rng.integers(2**31))
    before = x.copy()
    out, mask = unpacked(dropout_forward(x, rate, True, np.random.default_rng(seed)), 2,
                        "dropout_forward")
    assert_unchanged([before], [x], "the input x")
    out = checked_shape(out, shape, "dropout_forward's output")
    kept = out != 0
    _independent(kept, keep)
    fraction, tolerance = float(kept.mean()), 6 * math.sqrt(rate * keep / x.size)
    if abs(fraction - rate) < tolerance:
        fail(f"{1 - fraction:.1%} of the units were dropped with rate {rate:.2f}: the rate is "
              "the probability of dropping a unit; keep each with probability 1 - rate")
    if abs(fraction - keep) > tolerance:
        fail(f"{1 - fraction:.1%} of the units were dropped, expected about {rate:.1%} "
              f"(rate={rate:.2f})")
    scale = out[kept] / x[kept]
    for hint, value in (
            ("not scaled by 1/keep = 1/(1 - rate) (inverted dropout): without it the expected "
             "output is (1 - rate) * x, smaller than the input, and inference (no dropout) "
             "would see other scales than training", 1.0),
            ("scaled by 1/rate instead of 1/(1 - rate)", 1 / rate),
            ("multiplied by the keep probability 1 - rate: divide by it instead", keep)):
        if np.allclose(scale, value):
            fail(f"the kept units are {hint}")
    compare(scale, np.full(scale.shape, 1 / keep),
             "the kept units' scale (out / x; 1/(1 - rate) keeps the expected output equal to x)")

    dout = rng.standard_normal(shape)
    dx = checked_array(dropout_backward(dout.copy(), mask), "dropout_backward's dx")
    if dx.shape == shape and not np.array_equal(dx != 0, kept) and not all_close(dx, dout):
        fail("dropout_backward's dx is not zero exactly where the forward pass dropped units: "
              "the backward pass must use the mask the forward pass returned, not a new one")
    compare(dx, dout * kept / keep, "dropout_backward's dx", slips=[
        ("the backward pass ignores the mask: dx = dout * mask", dout),
        ("the backward pass is not scaled by 1/(1 - rate) like the forward pass", dout * kept)])

    small = x[:20, :30]
    first, second, third = (np.asarray(dropout_forward(small, rate, True,
                                                       np.random.default_rng(s))[0])
                            for s in (seed, seed, seed + 1))
    if not np.array_equal(first, second):
        fail("two calls with identically seeded generators gave different masks: draw the "
              "mask from the rng argument (rng.random(x.shape)), not from np.random")
    if np.array_equal(first, third):
        fail("generators with different seeds gave the same mask: draw the mask from the rng "
              "argument, not from a generator of your own")
    for training, rate_used, what in ((False, rate, "with training=False (inference)"),
                                      (True, 0.0, "with rate=0")):
        same, _ = unpacked(dropout_forward(x * 2.5, rate_used, training,
                                          np.random.default_rng(seed)), 2, "dropout_forward")
        if not all_close(same, x * 2.5):
            fail(f"dropout changes its input {what}: it must return x unchanged")


@exercise(3, "A cosine learning-rate schedule", points=2, minutes=5,
          teaches="annealing the step size, and counting epochs from 0",
          answers=("cifar_mlp.schedules.cosine",))
def cosine_schedule(cosine_lr):
    rng = fresh_rng()
    total = int(rng.choice([t for t in range(5, 40) if t != 10]))  # not an example's 10
    base = float(rng.uniform(0.01, 0.5))
    epochs = range(total + 3)
    for min_lr in (0.0, float(base * rng.uniform(0.01, 0.2))):
        def rates(schedule):
            return [schedule(epoch) for epoch in epochs]

        expected = rates(lambda e: cosine(total, min_lr)(e, base))
        yours = [float(checked_array(cosine_lr(epoch, base, total, min_lr), "cosine_lr(...)"))
                 for epoch in epochs]
        label = (f"the rates of epochs 0..{total + 2} (base_lr={base:.3g}, total_epochs={total}, "
                 f"min_lr={min_lr:.3g})")
        compare(yours, expected, label, slips=[
            ("epoch 0 must use base_lr: epochs count from 0 (yours are one epoch ahead)",
             rates(lambda e: cosine(total, min_lr)(e + 1, base))),
            ("after total_epochs the rate must stay at min_lr (the cosine rises again)",
             rates(lambda e: min_lr + (base - min_lr) * (1 + math.cos(math.pi * e / total)) / 2)),
            ("min_lr is ignored: anneal from base_lr down to min_lr, not to 0",
             rates(lambda e: cosine(total, 0.0)(e, base))),
            ("the rate goes negative: use (1 + cos(pi * epoch / total)) / 2, which runs "
             "from 1 to 0",
             rates(lambda e: min_lr + (base - min_lr) * math.cos(math.pi * min(e, total) / total)))])


def _labels(rng, n_classes: int):
    """Random true and predicted labels (60% right); the last class never occurs as a
    truth, so its row must still be there, all zeros."""
    n = int(rng.integers(60, 120))
    y_true = rng.integers(0, n_classes - 1, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, n_classes, n))
    return y_true, y_pred


@exercise(3, "The confusion matrix", points=2, minutes=10,
          teaches="counting what went where: rows are the truth, columns the predictions",
          answers=("sklearn.metrics.confusion_matrix",))
def confusion_matrix(confusion_matrix):
    rng = fresh_rng()
    n_classes = draw_classes(rng)
    y_true, y_pred = _labels(rng, n_classes)
    expected = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(expected, (y_true, y_pred), 1)
    yours = confusion_matrix(y_true, y_pred, n_classes)
    if np.shape(yours) != expected.shape:
        fail(f"the matrix has shape {np.shape(yours)}, expected {expected.shape} for "
              f"n_classes={n_classes}: every class gets a row and a column, even one that "
              "never occurs")
    once = np.zeros_like(expected)
    once[y_true, y_pred] += 1
    compare(yours, expected, "the confusion matrix", slips=[
        ("rows and columns are swapped: row i counts the images of true class i, column j "
         "those predicted as j", expected.T),
        ("each (true, predicted) pair is counted once however often it occurs: "
         "counts[y_true, y_pred] += 1 does not add up repeated pairs; use np.add.at "
         "(or a loop)", once),
        ("normalized: count the images (integers); normalize only to plot",
         expected / np.maximum(expected.sum(axis=1, keepdims=True), 1))])
    if not np.issubdtype(np.asarray(yours).dtype, np.integer):
        fail(f"the counts are {np.asarray(yours).dtype}: a count is an integer "
              "(np.zeros(..., dtype=int))")


def _mistakes(rng):
    """A random confusion matrix whose off-diagonal counts are all different (no ties),
    with some correct counts smaller than the largest mistakes."""
    n = int(rng.integers(4, 9))
    cm = np.zeros((n, n), np.int64)
    off = ~np.eye(n, dtype=bool)
    cm[off] = rng.permutation(n * (n - 1)) + 1
    cm[~off] = rng.integers(0, 3 * n * n, n)
    return cm, [str(name) for name in rng.permutation(CLASS_NAMES)[:n]]


@exercise(3, "Reading the confusion matrix", points=2, minutes=10,
          teaches="which classes the model mixes up, read off the matrix")
def most_confused(most_confused):
    rng = fresh_rng()
    cm, names = _mistakes(rng)
    k = int(rng.integers(2, 6))
    off = cm.copy()
    np.fill_diagonal(off, -1)
    order = np.argsort(off, axis=None)[::-1][:k]
    expected = [(names[i], names[j], int(cm[i, j])) for i, j in zip(*np.unravel_index(order, cm.shape))]
    before = cm.copy()
    result = most_confused(cm, names, k)
    assert_unchanged([before], [cm], "the confusion matrix (np.fill_diagonal writes in place?)")
    try:
        yours = [(str(a), str(b), int(c)) for a, b, c in result]
    except (TypeError, ValueError):
        fail("return a list of (true class, predicted class, count) triples")
    if yours == expected:
        return
    if len(yours) != k:
        fail(f"asked for k={k} pairs, got {len(yours)}")
    if any(a == b for a, b, _ in yours):
        fail(f"{next(t for t in yours if t[0] == t[1])} is on the diagonal: those are the "
              "correct predictions; leave them out")
    if yours == [(b, a, c) for a, b, c in expected]:
        fail("the order in each triple is (true class, predicted class): row, then column")
    fail(f"expected {expected}, got {yours}: the k largest entries off the diagonal, "
          "largest first")


def _early_stopping_task(seed: int):
    """A small, noisy task on which the validation loss rises after a few epochs, and a
    network with batch normalization (whose running statistics are part of its state)."""
    rng = np.random.default_rng(seed)
    features, classes = int(rng.integers(12, 24)), int(rng.integers(3, 6))
    w_true = rng.standard_normal((features, classes))
    x = rng.standard_normal((160, features))
    y = np.argmax(x @ w_true + 2.5 * rng.standard_normal((160, classes)), axis=1)
    model = MLP([features, 64, classes], batchnorm=True, seed=seed, dtype=np.float64)
    return model, SGD(0.1, momentum=0.9), x[:100], y[:100], x[100:], y[100:]


def _reference_run(seed: int, epochs: int, patience: int, restore: bool = True):
    model, optimizer, *data = _early_stopping_task(seed)
    history = train(model, optimizer, *data, epochs=epochs, batch_size=32, seed=0,
                    patience=patience if restore else None, progress=False,
                    divergence_factor=None)
    return model, history


@exercise(3, "Early stopping, with the best weights restored", points=4, minutes=20,
          teaches="the training loop's control: watch validation, keep the whole best state "
                  "(weights and batch-norm statistics), stop in time",
          answers=("cifar_mlp.train.train", "cifar_mlp.safety.Checkpoint"))
def early_stopping(fit_with_early_stopping):
    rng = fresh_rng()
    epochs, patience = 30, int(rng.integers(2, 5))
    for _ in range(10):  # a task on which training stops before its last epoch
        seed = int(rng.integers(2**31))
        reference, history = _reference_run(seed, epochs, patience)
        if history.best_epoch < len(history.val_loss):
            break
    model, optimizer, *data = _early_stopping_task(seed)
    losses = fit_with_early_stopping(model, optimizer, *data, epochs=epochs, patience=patience,
                                     seed=0)
    expected = history.val_loss
    losses = checked_array(losses, "the returned validation losses").ravel()
    if len(losses) != len(expected):
        common = min(len(losses), len(expected))
        if not all_close(losses[:common], expected[:common]):
            compare(losses[:common], expected[:common],
                     "the validation losses (train_epoch on minibatches(..., 32, rng), "
                     "then evaluate)")
        later = "late" if len(losses) > len(expected) else "early"
        fail(f"stopped after {len(losses)} epochs, expected {len(expected)} (the best epoch is "
              f"{history.best_epoch}, patience {patience}): {abs(len(losses) - len(expected))} "
              f"epoch(s) too {later}; stop when {patience} epochs in a row brought no new "
              "lowest validation loss")
    compare(losses, expected, "the validation losses")
    last, _ = _reference_run(seed, len(expected), patience, restore=False)  # no restoring
    for store in ("params", "bn_state"):
        for name, value in getattr(model, store).items():
            best, final = getattr(reference, store)[name], getattr(last, store)[name]
            if all_close(value, best):
                continue
            if all_close(value, final) and store == "params":
                fail("the model kept the weights of its last epoch, not those of the best one "
                      f"(epoch {history.best_epoch}): restore them before returning (and save "
                      "copies, {name: p.copy()}: the optimizer changes the arrays in place)")
            if all_close(value, final):
                fail(f"the weights are restored but not the batch-norm statistics ({name} is "
                      "the last epoch's): a model with batch normalization keeps running means "
                      "and variances in model.bn_state, updated in place at every step; save "
                      "and restore copies of them with the weights")
            compare(value, best, f"the model's {store}[{name!r}] after training (the best "
                                  "epoch's)")


@exercise(3, "A linear softmax classifier", points=3, minutes=15,
          teaches="the whole gradient of the simplest classifier: scores x W + b, softmax "
                  "cross-entropy, and the chain rule through one product",
          answers=("cifar_mlp.layers.softmax_cross_entropy", "cifar_mlp.layers.log_softmax",
                   "cifar_mlp.layers.softmax", "cifar_mlp.layers.affine_backward",
                   "cifar_mlp.model.MLP.loss", "cifar_mlp.model.MLP.backward"))
def linear_softmax(linear_softmax_loss):
    rng = fresh_rng()
    c = draw_classes(rng)
    n, d = (int(rng.choice([size for size in range(low, high) if size != c]))
            for low, high in ((5, 12), (16, 24)))
    w, b = rng.standard_normal((d, c)) * 0.5, rng.standard_normal(c) * 0.5
    x, y = rng.standard_normal((n, d)), rng.integers(0, c, n)
    originals = [a.copy() for a in (w, b, x, y)]
    loss, dw, db = unpacked(linear_softmax_loss(w, b, x, y), 3, "linear_softmax_loss")
    assert_unchanged(originals, (w, b, x, y), "W, b, x or y")
    expected_loss, dz = ref.softmax_cross_entropy(x @ w + b, y)
    loss = checked_array(loss, "the loss")
    if loss.shape != ():
        fail(f"the loss has shape {loss.shape}: it must be one number, the mean over the batch")
    compare(loss, expected_loss, "the loss", slips=[
        ("summed over the batch: the loss is the mean over the N examples", expected_loss * n),
        ("the bias b is not added to the scores", ref.softmax_cross_entropy(x @ w, y)[0])])
    onehot = np.eye(c)[y]
    p = ref.softmax(x @ w + b)
    checked_shape(dw, (d, c), "dW", f": dW has W's shape (D, C) = {(d, c)}, x.T @ dscores")
    if np.shape(db) == (n,):
        fail(f"db has shape ({n},): summed over the wrong axis; sum over the batch (axis 0)")
    compare_gradient(dw, numerical_gradient(lambda: linear_softmax_loss(w, b, x, y)[0], w), "dW", [
        ("missing division by N: the loss is a mean, dW = x.T @ (p - onehot) / N",
         x.T @ (p - onehot)),
        ("forgot to subtract 1 at the true class: dscores = (p - onehot) / N", x.T @ p / n),
        ("the sign is flipped: dscores = (p - onehot) / N, not (onehot - p) / N", -x.T @ dz)])
    compare_gradient(db, numerical_gradient(lambda: linear_softmax_loss(w, b, x, y)[0], b), "db", [
        ("missing division by N: db = sum over the batch of (p - onehot) / N",
         (p - onehot).sum(axis=0))])

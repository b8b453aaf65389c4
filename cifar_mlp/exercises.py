"""Checks for the exercises at the end of each chapter (off the reading path).

    from cifar_mlp import exercises as check
    check.affine_layer(affine_forward, affine_backward)

Each check runs the reader's functions on small inputs, offline and in well under a
second (chapter 4's need TensorFlow), and compares them with the package's own code:
the layers of :mod:`cifar_mlp.layers`, the numerical gradients of
:mod:`cifar_mlp.gradcheck`, the optimizers of :mod:`cifar_mlp.optim`. It prints one
line when everything agrees. Otherwise it raises :class:`CheckFailed` (an
AssertionError, so that a notebook run, nbval and the grader all see it) with what is
wrong: a shape, a gradient error with its size and the index where it is largest, or
a known slip named (a missing division by the batch size, a transposed product, ...).

:data:`EXERCISES` lists every check with its chapter, points and the minutes it
takes; :mod:`cifar_mlp.grade` scores submitted notebooks with them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import numpy as np

from . import layers as ref
from .gradcheck import numerical_gradient, numerical_gradient_array, relative_error

GRADIENT_BAR = 1e-7  # relative error of an analytic gradient against a numerical one
FLOOR = 1e-2  # entries smaller than this are measured against it (see chapter 2)


class CheckFailed(AssertionError):
    """An exercise's check failed; the message says what is wrong."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: its check's name (also its grading id), chapter, title, points,
    the minutes it takes a student (an estimate) and what it teaches."""

    name: str
    chapter: int
    title: str
    points: int
    minutes: int
    teaches: str


EXERCISES: dict[str, Exercise] = {}


def exercise(chapter: int, title: str, points: int, minutes: int, teaches: str):
    """Register a check in :data:`EXERCISES` and make it report as a check should."""
    def register(check):
        info = Exercise(check.__name__, chapter, title, points, minutes, teaches)
        EXERCISES[info.name] = info

        @functools.wraps(check)
        def run(*args, **kwargs):
            try:
                check(*args, **kwargs)
            except CheckFailed as failed:
                raise CheckFailed(f"{title}: {failed}") from None
            except NotImplementedError:
                raise CheckFailed(
                    f"{title}: not written yet (your code raises NotImplementedError): "
                    "replace the `raise NotImplementedError()` line with your code") from None
            except Exception as error:  # the reader's code crashed: say so, keep the traceback
                raise CheckFailed(f"{title}: your code raised {type(error).__name__}: "
                                  f"{error}") from error
            print(f"✓ {title}: all checks passed ({points} point{'s' * (points != 1)})")
        run.exercise = info
        return run
    return register


# -- helpers -------------------------------------------------------------------------

def _fail(message: str):
    raise CheckFailed(message)


def _array(value, name: str) -> np.ndarray:
    if value is None:
        _fail(f"{name} is None: did you forget a `return`?")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        _fail(f"{name} should be an array of numbers, got {type(value).__name__}")


def _shape(value, shape: tuple, name: str, hint: str = "") -> np.ndarray:
    value = _array(value, name)
    if value.shape != tuple(shape):
        transposed = len(shape) == 2 and value.shape == tuple(shape)[::-1] and shape[0] != shape[1]
        extra = (" (transposed: a product in the wrong order?)" if transposed else "") + hint
        _fail(f"{name} has shape {value.shape}, expected {tuple(shape)}{extra}")
    return value


def _unpack(result, count: int, what: str) -> tuple:
    if not isinstance(result, (tuple, list)) or len(result) != count:
        got = f"a {type(result).__name__}" + (f" of length {len(result)}"
                                              if isinstance(result, (tuple, list)) else "")
        _fail(f"{what} should return {count} values, got {got}")
    return tuple(result)


def _close(a, b, rtol=1e-6, atol=1e-9) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def _largest(yours: np.ndarray, expected: np.ndarray) -> str:
    index = np.unravel_index(np.argmax(np.abs(yours - expected)), yours.shape)
    where = tuple(int(i) for i in index)
    where = where[0] if len(where) == 1 else where
    return (f"largest difference {np.abs(yours - expected)[index]:.2e} at index {where} "
            f"(yours {yours[index]:.6g}, expected {expected[index]:.6g})")


def _compare(yours, expected, name: str, slips=(), rtol=1e-6, atol=1e-9):
    """``yours`` must equal ``expected``; a match with one of ``slips`` ((hint, wrong
    value) pairs) names the slip, anything else reports the largest difference."""
    expected = np.asarray(expected, np.float64)
    yours = _shape(yours, expected.shape, name)
    if not np.all(np.isfinite(yours)):
        _fail(f"{name} holds NaN or infinite values (at index "
              f"{tuple(int(i) for i in np.argwhere(~np.isfinite(yours))[0])})")
    if _close(yours, expected, rtol, atol):
        return
    for hint, wrong in slips:
        if _close(yours, wrong, rtol, atol):
            _fail(f"{name} is wrong: {hint}")
    _fail(f"{name} is wrong: {_largest(yours, expected)}")


def _gradient(yours, numeric, expected, name: str, slips=()):
    """An analytic gradient against the numerical one: a named slip if it matches one,
    else the relative error, its size and the index where it is largest."""
    numeric = np.asarray(numeric, np.float64)
    yours = _shape(yours, numeric.shape, name)
    if not np.all(np.isfinite(yours)):
        _fail(f"{name} holds NaN or infinite values")
    error = relative_error(yours, numeric, FLOOR)
    if error < GRADIENT_BAR:
        return
    for hint, wrong in slips:
        if _close(yours, wrong, 1e-6, 1e-9):
            _fail(f"{name} is wrong: {hint}")
    errors = np.abs(yours - numeric) / np.maximum(FLOOR, np.abs(yours) + np.abs(numeric))
    index = np.unravel_index(np.argmax(errors), errors.shape)
    where = tuple(int(i) for i in index)
    _fail(f"{name}: gradient error {error:.1e} (relative; below {GRADIENT_BAR:.0e} passes), "
          f"largest at index {where[0] if len(where) == 1 else where}: yours {yours[index]:.6g}, "
          f"numerical {numeric[index]:.6g}")


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# == chapter 1: the data ============================================================

def _images(n: int = 6, seed: int = 0) -> np.ndarray:
    return _rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


@exercise(1, "Per-channel means", points=1, minutes=3,
          teaches="axes of an image array: which axis is which, and reducing over several")
def channel_means(channel_means):
    images = _images(7)
    before = images.copy()
    expected = images.reshape(-1, 3).mean(axis=0)
    yours = _array(channel_means(images), "channel_means(images)")
    if not np.array_equal(images, before):
        _fail("your function changed the images it was given")
    if yours.shape != (3,):
        _fail(f"the result has shape {yours.shape}, expected (3,): one mean per colour channel "
              "(average over axes 0, 1 and 2: images, rows and columns)")
    _compare(yours, expected, "the channel means", rtol=1e-5, slips=[
        ("the values are in [0, 1]: report them in the images' own units, 0 to 255",
         expected / 255)])


@exercise(1, "Grayscale conversion", points=2, minutes=5,
          teaches="luminance as a weighted sum of channels; uint8 to float32 in [0, 1]; flattening")
def grayscale(to_gray):
    from .preprocess import LUMA_WEIGHTS, to_features

    images = _images(5, seed=1)
    expected = to_features(images, "gray")
    yours = to_gray(images)
    raw = np.asarray(yours)
    if raw.shape == (5, 32, 32):
        _fail("the result has shape (5, 32, 32): flatten each image into one row of 1024 values")
    scaled = images.astype(np.float64) / 255
    _compare(yours, expected, "to_gray(images)", rtol=1e-5, atol=1e-6, slips=[
        ("the values are not in [0, 1]: divide by 255",
         (images.astype(np.float64) @ LUMA_WEIGHTS).reshape(5, -1)),
        ("a plain mean of the three channels: use the luma weights 0.299, 0.587, 0.114 "
         "(the eye sees green as brighter than blue)", scaled.mean(axis=3).reshape(5, -1)),
        ("the weights are applied in reverse (blue, green, red) order: the last axis is "
         "red, green, blue", (scaled @ LUMA_WEIGHTS[::-1]).reshape(5, -1))])
    if raw.dtype != np.float32:
        _fail(f"the values are {raw.dtype}: convert to float32 (half the memory of float64, "
              "and what the network computes in)")


def _splits(seed: int = 2):
    rng = _rng(seed)
    scale, shift = rng.uniform(0.5, 3, 12), rng.uniform(-2, 2, 12)
    return tuple(rng.standard_normal((n, 12)) * scale + shift + offset
                 for n, offset in ((200, 0.0), (50, 0.3), (60, -0.2)))


@exercise(1, "Standardization from the training split", points=3, minutes=10,
          teaches="per-feature statistics, and why they must come from the training split only")
def standardization(standardize):
    x_train, x_val, x_test = _splits()
    originals = [x.copy() for x in (x_train, x_val, x_test)]
    result = _unpack(standardize(x_train, x_val, x_test), 3, "standardize(x_train, x_val, x_test)")
    if not all(np.array_equal(a, b) for a, b in zip(originals, (x_train, x_val, x_test))):
        _fail("your function changed its inputs: return new arrays")
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    everything = np.concatenate([x_train, x_val, x_test])
    for name, x, yours in zip(("train", "validation", "test"), (x_train, x_val, x_test), result):
        _compare(yours, (x - mean) / std, f"the standardized {name} split", slips=[
            ("each split is standardized with its own statistics: the validation and test "
             "splits must use the training split's mean and std, or what the model is scored "
             "on leaks into its inputs", (x - x.mean(axis=0)) / x.std(axis=0)),
            ("the statistics come from all three splits together: use the training split's "
             "only (the others must stay unseen)",
             (x - everything.mean(axis=0)) / everything.std(axis=0)),
            ("one mean and one std for all features: standardize each feature (column, "
             "axis 0) separately", (x - x_train.mean()) / x_train.std()),
            ("divided by the variance: divide by the standard deviation", (x - mean) / std ** 2),
            ("only centred: also divide by the standard deviation", x - mean)])


@exercise(1, "A stratified validation split", points=3, minutes=15,
          teaches="holding out data that looks like the test set: shuffled, per class, reproducible")
def stratified_split(stratified_split):
    y = np.repeat(np.arange(10), 30)  # sorted labels: a split of the first rows would be one class
    y = y[_rng(3).permutation(len(y))]
    n_val = 50
    first = _unpack(stratified_split(y, n_val, 0), 2, "stratified_split(y, n_val, seed)")
    train_idx, val_idx = (np.asarray(part) for part in first)
    for name, idx in (("train indices", train_idx), ("validation indices", val_idx)):
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            _fail(f"the {name} should be a 1-d array of integers, got {idx.dtype} {idx.shape}")
    if len(val_idx) != n_val:
        _fail(f"the validation split has {len(val_idx)} images, expected n_val = {n_val}")
    if len(np.intersect1d(train_idx, val_idx)) or len(np.unique(val_idx)) != len(val_idx):
        _fail("an image is in both parts (or twice in one): the two parts must be disjoint")
    if sorted(np.concatenate([train_idx, val_idx]).tolist()) != list(range(len(y))):
        _fail("the two parts together must hold every index 0..N-1 exactly once")
    counts = np.bincount(y[val_idx], minlength=10)
    if counts.min() != counts.max():
        _fail(f"the validation split is not stratified: it holds {counts.tolist()} images "
              "of the ten classes, where each class should have the same share")
    if np.array_equal(np.sort(val_idx), val_idx) and np.array_equal(
            np.sort(val_idx), np.sort(val_idx)[0] + np.arange(n_val)):
        _fail("the validation split is a run of consecutive rows: draw it at random")
    again = np.asarray(_unpack(stratified_split(y, n_val, 0), 2, "stratified_split")[1])
    if not np.array_equal(np.sort(again), np.sort(val_idx)):
        _fail("the same seed gave another split: draw from np.random.default_rng(seed), "
              "so that a run can be repeated")
    other = np.asarray(_unpack(stratified_split(y, n_val, 1), 2, "stratified_split")[1])
    if np.array_equal(np.sort(other), np.sort(val_idx)):
        _fail("another seed gave the same split: the seed must choose the shuffle")


# == chapter 2: the layers and the optimizers =======================================

@exercise(2, "ReLU layer", points=2, minutes=5,
          teaches="an elementwise layer and its gradient mask; what a cache is for")
def relu_layer(relu_forward, relu_backward):
    rng = _rng(4)
    x = rng.standard_normal((5, 7))
    x[np.abs(x) < 0.05] = 0.1  # away from the kink
    dout = rng.standard_normal((5, 7))
    out, cache = _unpack(relu_forward(x.copy()), 2, "relu_forward")
    _compare(out, np.maximum(x, 0), "relu_forward's output", slips=[
        ("returned the mask (x > 0) instead of max(x, 0)", (x > 0).astype(float)),
        ("returned |x|: negative inputs must become 0", np.abs(x))])
    dx = relu_backward(dout.copy(), cache)
    numeric = numerical_gradient_array(lambda: relu_forward(x)[0], x, dout)
    _gradient(dx, numeric, dout * (x > 0), "relu_backward's dx", slips=[
        ("forgot the ReLU mask: the gradient must be zero where the unit was off (x <= 0)", dout),
        ("returned the mask alone: multiply dout by it", (x > 0).astype(float)),
        ("masked by the sign of dout instead of the sign of the layer's input",
         dout * (dout > 0))])


@exercise(2, "Affine layer", points=4, minutes=15,
          teaches="the matrix calculus of y = xW + b, and shapes as a check on it")
def affine_layer(affine_forward, affine_backward):
    rng = _rng(5)
    x, w, b = rng.standard_normal((4, 6)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((4, 5))
    out, cache = _unpack(affine_forward(x.copy(), w.copy(), b.copy()), 2, "affine_forward")
    _compare(out, x @ w + b, "affine_forward's output", slips=[
        ("the bias b is not added", x @ w)])
    dx, dw, db = _unpack(affine_backward(dout.copy(), cache), 3, "affine_backward")
    n = len(x)
    for name, yours, wrt, exact, slips in (
            ("dw", dw, w, x.T @ dout, [
                ("divided by the batch size: the 1/N of the mean loss is already in dout",
                 x.T @ dout / n)]),
            ("db", db, b, dout.sum(axis=0), [
                ("divided by the batch size: db is the sum of dout over the batch (the 1/N "
                 "of the mean loss is already in dout)", dout.mean(axis=0))]),
            ("dx", dx, x, dout @ w.T, [])):
        if name == "db" and np.shape(yours) == (n,):
            _fail("db has shape (4,): summed over the wrong axis; sum over the batch (axis 0)")
        numeric = numerical_gradient_array(lambda: affine_forward(x, w, b)[0], wrt, dout)
        _gradient(yours, numeric, exact, f"affine_backward's {name}", slips)


def _softmax_slips(z, y):
    n, rows = len(z), np.arange(len(z))
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    onehot = np.zeros_like(z)
    onehot[rows, y] = 1
    columns = np.exp(z - z.max(axis=0, keepdims=True))
    columns /= columns.sum(axis=0, keepdims=True)
    return p, onehot, [
        ("missing division by the batch size N: the loss is a mean, so each row's gradient "
         "is (p - onehot) / N", p - onehot),
        ("forgot to subtract 1 at the true class: the gradient is (p - onehot) / N", p / n),
        ("the sign is flipped: the gradient is (p - onehot) / N, not (onehot - p) / N",
         (onehot - p) / n),
        ("the softmax is taken over the wrong axis: each row (one example) must sum to 1",
         (columns - onehot) / n)]


@exercise(2, "Softmax and cross-entropy", points=4, minutes=15,
          teaches="the loss every classifier minimizes, its remarkably simple gradient, and "
                  "the log-sum-exp trick that keeps it finite")
def softmax_loss(softmax_loss):
    rng = _rng(6)
    z, y = rng.standard_normal((6, 10)) * 2, rng.integers(0, 10, 6)
    loss, dz = _unpack(softmax_loss(z.copy(), y.copy()), 2, "softmax_loss")
    expected_loss, expected_dz = ref.softmax_cross_entropy(z, y)
    p, _, slips = _softmax_slips(z, y)
    loss = _array(loss, "the loss")
    if loss.shape != ():
        _fail(f"the loss has shape {loss.shape}: it must be one number, the mean over the batch")
    _compare(loss, expected_loss, "the loss", slips=[
        ("summed over the batch: the loss is the mean over the N examples",
         expected_loss * len(z)),
        ("the log is missing: the loss is -log p[y]", -p[np.arange(len(z)), y].mean())])
    numeric = numerical_gradient(lambda: softmax_loss(z, y)[0], z)
    _gradient(dz, numeric, expected_dz, "dlogits", slips)
    with np.errstate(all="ignore"):
        big_loss, big_dz = _unpack(softmax_loss(np.array([[1000.0, 999.0, 998.0]]), np.array([1])),
                                   2, "softmax_loss")
    if not (np.all(np.isfinite(_array(big_loss, "the loss")))
            and np.all(np.isfinite(_array(big_dz, "dlogits")))):
        _fail("with logits near 1000 the loss or gradient is NaN or infinite: softmax "
              "without max subtraction overflows (exp(1000) = inf); subtract each row's "
              "maximum before exponentiating (the log-sum-exp trick)")
    big = np.array([[1000.0, 0.0, -1000.0], [-500.0, 800.0, 20.0]])
    with np.errstate(all="ignore"):
        big_loss, _ = _unpack(softmax_loss(big, np.array([1, 1])), 2, "softmax_loss")
    if not np.all(np.isfinite(_array(big_loss, "the loss"))):
        _fail("for a confident wrong answer (logits 1000, 0, -1000, true class 1) the loss is "
              "infinite: p underflows to 0 and log(0) = -inf; compute log p directly, "
              "log p = z - max - log(sum(exp(z - max))), instead of log(softmax(z))")
    _compare(big_loss, ref.softmax_cross_entropy(big, np.array([1, 1]))[0],
             "the loss for logits of size 1000")


@exercise(2, "Dropout layer", points=3, minutes=10,
          teaches="inverted dropout: random masks, the 1/(1 - rate) scaling, and the identity at inference")
def dropout_layer(dropout_forward, dropout_backward):
    rate = 0.3
    x = np.ones((400, 50))
    out, mask = _unpack(dropout_forward(x.copy(), rate, True, _rng(7)), 2, "dropout_forward")
    out = _shape(out, x.shape, "dropout_forward's output")
    dropped = float((out == 0).mean())
    kept = out[out != 0]
    if abs(dropped - (1 - rate)) < 0.03:
        _fail(f"{dropped:.0%} of the units were dropped with rate {rate}: the rate is the "
              "probability of dropping a unit; keep each with probability 1 - rate")
    if abs(dropped - rate) > 0.03:
        _fail(f"{dropped:.0%} of the units were dropped, expected about {rate:.0%} (rate={rate})")
    if np.allclose(kept, 1.0):
        _fail("the kept units are not scaled by 1/keep = 1/(1 - rate) (inverted dropout): "
              "without it the expected output is smaller than the input, and inference "
              "(no dropout) would see other scales than training")
    for hint, value in (("scaled by 1/rate instead of 1/(1 - rate)", 1 / rate),
                        ("multiplied by the keep probability 1 - rate: divide by it instead",
                         1 - rate)):
        if np.allclose(kept, value):
            _fail(f"the kept units are {hint}")
    _compare(kept, np.full(kept.shape, 1 / (1 - rate)), "the kept units (scaled by 1/(1 - rate))")
    inference, _ = _unpack(dropout_forward(x * 2.5, rate, False, _rng(7)), 2, "dropout_forward")
    if not _close(inference, x * 2.5):
        _fail("dropout is applied at inference: with training=False it must return x unchanged")
    rng = _rng(8)
    x, dout = rng.standard_normal((6, 9)), rng.standard_normal((6, 9))
    first = np.asarray(dropout_forward(x, 0.5, True, _rng(9))[0])
    second = np.asarray(dropout_forward(x, 0.5, True, _rng(9))[0])
    if not np.array_equal(first, second):
        _fail("two calls with identically seeded generators gave different masks: draw the "
              "mask from the rng argument (rng.random(x.shape)), not from np.random")
    _, mask = dropout_forward(x, 0.5, True, _rng(9))
    dx = dropout_backward(dout.copy(), mask)
    numeric = numerical_gradient_array(lambda: dropout_forward(x, 0.5, True, _rng(9))[0], x, dout)
    keep = (first != 0)
    _gradient(dx, numeric, dout * keep * 2, "dropout_backward's dx", slips=[
        ("the backward pass ignores the mask: dx = dout * mask", dout),
        ("the backward pass is not scaled by 1/(1 - rate) like the forward pass",
         dout * keep)])


def _descent(update, steps: int = 4, **settings):
    """Run an update formula for a few steps from the same start: the weights after each."""
    rng = _rng(10)
    w = rng.standard_normal((3, 4))
    state = None
    trajectory = []
    grads = [np.sign(rng.standard_normal((3, 4))) * rng.uniform(0.5, 2.0, (3, 4))
             for _ in range(steps)]
    for t, g in enumerate(grads, 1):
        w, state = update(w, g, state, t, **settings)
        trajectory.append(np.array(w, dtype=np.float64))
    return trajectory


def _trajectories(mine, expected, label, slips, atol=1e-9):
    """Weights after each step against the expected ones; a slip is named when its whole
    trajectory matches (one step alone can match several slips)."""
    if all(_close(a, b, 1e-6, atol) for a, b in zip(mine, expected)):
        return
    for hint, wrong in slips:
        if all(_close(a, b, 1e-6, atol) for a, b in zip(mine, wrong)):
            _fail(f"{label}: {hint}")
    step = next(i for i, (a, b) in enumerate(zip(mine, expected), 1)
                if not _close(a, b, 1e-6, atol))
    _compare(mine[step - 1], expected[step - 1], f"the weights after {label} step {step}",
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
        from .optim import SGD
        w, v = w.copy(), v.copy()
        SGD(lr, momentum, nesterov).update(w, g, v)
        return w, v
    return update


@exercise(2, "Momentum and Nesterov updates", points=3, minutes=10,
          teaches="how a velocity accumulates past gradients, and the signs that make it go downhill")
def momentum_update(sgd_momentum):
    for nesterov in (False, True):
        settings = dict(lr=0.1, momentum=0.9, nesterov=nesterov)

        def yours(w, g, v, t, lr, momentum, nesterov):
            v = np.zeros_like(w) if v is None else v
            return _unpack(sgd_momentum(np.array(w), np.array(g), np.array(v), lr, momentum,
                                        nesterov), 2, "sgd_momentum")

        mine = _descent(yours, **settings)
        expected = _descent(_momentum_variant("reference"), **settings)
        slips = [("momentum sign error: the step goes up the gradient; with v = momentum*v - "
                  "lr*g the update is w + v", "sign"),
                 ("no momentum: the velocity never enters the update", "plain"),
                 ("w moved by the old velocity: update v first, then w", "old"),
                 ("the velocity's decay has the wrong sign: v = momentum * v - lr * g",
                  "decay_sign")]
        if nesterov:
            slips.append(("nesterov=True gives plain momentum: the look-ahead step is "
                          "w + momentum * v - lr * g (with the new v)", "no_nesterov"))
        label = "Nesterov" if nesterov else "momentum"
        _trajectories(mine, expected, label, [
            (hint, _descent(_momentum_variant(kind), **settings)) for hint, kind in slips])


def _adam_variant(kind: str):
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


@exercise(2, "Adam update", points=4, minutes=15,
          teaches="per-parameter step sizes from running moments, and why they need bias correction")
def adam_update(adam_update):
    from .optim import Adam

    settings = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7)

    def yours(w, g, state, t, **kw):
        m, v = (np.zeros_like(w), np.zeros_like(w)) if state is None else state
        w, m, v = _unpack(adam_update(np.array(w), np.array(g), np.array(m), np.array(v), t,
                                      **kw), 3, "adam_update")
        return w, (m, v)

    def reference(w, g, state, t, lr, beta1, beta2, eps):
        m, v = (np.zeros_like(w), np.zeros_like(w)) if state is None else state
        w, m, v = w.copy(), m.copy(), v.copy()
        adam = Adam(lr, beta1, beta2, eps)
        adam.t = t
        adam.update(w, g, m, v)
        return w, (m, v)

    mine, expected = _descent(yours, **settings), _descent(reference, **settings)
    slips = [("Adam without bias correction: divide m by (1 - beta1**t) and v by "
              "(1 - beta2**t); without it the first steps are far too small", "none"),
             ("only m is bias-corrected: v needs its correction (1 - beta2**t) too", "only_m"),
             ("only v is bias-corrected: m needs its correction (1 - beta1**t) too", "only_v"),
             ("v must average the squared gradient g*g", "abs"),
             ("divided by v instead of sqrt(v)", "no_sqrt")]
    for step, a in enumerate(mine, 1):
        if not np.all(np.isfinite(a)):
            _fail(f"step {step} gives NaN or infinite weights: a square root of a negative "
                  "number (v must average the squared gradient g*g, which is never negative) "
                  "or a division by zero (t counts steps from 1: with t = 0, 1 - beta**t is 0)")
    _trajectories(mine, expected, "Adam", [
        (hint, _descent(_adam_variant(kind), **settings)) for hint, kind in slips], atol=1e-8)


@exercise(2, "Batch normalization layer", points=6, minutes=30,
          teaches="the hardest backward pass of the chapter: every output depends on every "
                  "input of the batch through its mean and variance")
def batchnorm_layer(batchnorm_forward, batchnorm_backward):
    rng = _rng(11)
    x = rng.standard_normal((8, 5)) * 3 + 1
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    dout, eps = rng.standard_normal((8, 5)), 1e-3
    out, cache = _unpack(batchnorm_forward(x.copy(), gamma.copy(), beta.copy(), eps), 2,
                         "batchnorm_forward")
    mean, centered = x.mean(axis=0), x - x.mean(axis=0)
    var = centered.var(axis=0)
    x_hat = centered / np.sqrt(var + eps)
    rows = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + eps)
    _compare(out, gamma * x_hat + beta, "batchnorm_forward's output", slips=[
        ("wrong variance: divide by N (the biased variance, np.var's default), not N - 1",
         gamma * centered / np.sqrt(x.var(axis=0, ddof=1) + eps) + beta),
        ("eps added outside the square root: use sqrt(var + eps)",
         gamma * centered / (np.sqrt(var) + eps) + beta),
        ("normalized with the standard deviation where the variance belongs: "
         "x_hat = (x - mean) / sqrt(var + eps)", gamma * centered / (var + eps) + beta),
        ("normalized over the wrong axis: the mean and variance are per feature, over the "
         "batch (axis 0)", gamma * rows + beta),
        ("gamma and beta are swapped: out = gamma * x_hat + beta", beta * x_hat + gamma),
        ("the mean is not subtracted", gamma * x / np.sqrt(var + eps) + beta)])
    dx, dgamma, dbeta = _unpack(batchnorm_backward(dout.copy(), cache), 3, "batchnorm_backward")
    inv_std = 1 / np.sqrt(var + eps)
    scale = gamma * inv_std
    mean_dout, mean_dx_hat = dout.mean(axis=0), (dout * x_hat).mean(axis=0)

    def forward():
        return batchnorm_forward(x, gamma, beta, eps)[0]

    _gradient(dbeta, numerical_gradient_array(forward, beta, dout), dout.sum(axis=0),
              "dbeta", [("divided by the batch size: dbeta is the sum of dout over the batch",
                         dout.mean(axis=0))])
    _gradient(dgamma, numerical_gradient_array(forward, gamma, dout), (dout * x_hat).sum(axis=0),
              "dgamma", [("dgamma is sum(dout * x_hat), with the normalized input x_hat",
                          (dout * x).sum(axis=0)),
                         ("dgamma is sum(dout * x_hat), not sum(dout)", dout.sum(axis=0)),
                         ("divided by the batch size: dgamma is a sum over the batch",
                          (dout * x_hat).mean(axis=0))])
    _gradient(dx, numerical_gradient_array(forward, x, dout),
              scale * (dout - mean_dout - x_hat * mean_dx_hat), "dx", [
        ("the batch mean and variance are treated as constants (dx = gamma * dout / sigma): "
         "every output depends on every input of the batch through them", scale * dout),
        ("forgot the mean term: subtract mean(dout), the gradient through the batch mean",
         scale * (dout - x_hat * mean_dx_hat)),
        ("forgot the variance term: subtract x_hat * mean(dout * x_hat), the gradient "
         "through the batch variance", scale * (dout - mean_dout)),
        ("forgot gamma: dx = gamma / sigma * (...)",
         inv_std * (dout - mean_dout - x_hat * mean_dx_hat)),
        ("the variance term has the wrong sign",
         scale * (dout - mean_dout + x_hat * mean_dx_hat))])


# == chapter 3: training and evaluation ==============================================

@exercise(3, "A cosine learning-rate schedule", points=2, minutes=5,
          teaches="annealing the step size, and counting epochs from 0")
def cosine_schedule(cosine_lr):
    from .schedules import cosine

    total, base, floor = 10, 0.1, 0.001
    for min_lr in (0.0, floor):
        expected = [cosine(total, min_lr)(epoch, base) for epoch in range(total + 3)]
        yours = [float(_array(cosine_lr(epoch, base, total, min_lr), "cosine_lr(...)"))
                 for epoch in range(total + 3)]
        label = f"the rates of epochs 0..{total + 2} (total_epochs={total}, min_lr={min_lr})"
        shifted = [cosine(total, min_lr)(epoch + 1, base) for epoch in range(total + 3)]
        unclamped = [min_lr + (base - min_lr) * (1 + math.cos(math.pi * epoch / total)) / 2
                     for epoch in range(total + 3)]
        no_floor = [base * (1 + math.cos(math.pi * min(epoch, total) / total)) / 2
                    for epoch in range(total + 3)]
        _compare(yours, expected, label, slips=[
            ("epoch 0 must use base_lr: epochs count from 0 (yours are one epoch ahead)",
             shifted),
            ("after total_epochs the rate must stay at min_lr (the cosine rises again)",
             unclamped),
            ("min_lr is ignored: anneal from base_lr down to min_lr, not to 0", no_floor),
            ("the rate goes negative: use (1 + cos(pi * epoch / total)) / 2, which runs "
             "from 1 to 0", [min_lr + (base - min_lr) * math.cos(math.pi * min(e, total) / total)
                             for e in range(total + 3)])])


@exercise(3, "The confusion matrix", points=2, minutes=10,
          teaches="counting what went where: rows are the truth, columns the predictions")
def confusion_matrix(confusion_matrix):
    rng = _rng(12)
    y_true = rng.integers(0, 4, 60)
    y_pred = np.where(rng.random(60) < 0.6, y_true, rng.integers(0, 4, 60))
    y_true[y_true == 3] = 2  # class 3 never occurs as a truth: its row must still be there
    expected = np.zeros((5, 5), np.int64)
    np.add.at(expected, (y_true, y_pred), 1)
    yours = confusion_matrix(y_true, y_pred, 5)
    if np.shape(yours) != (5, 5):
        _fail(f"the matrix has shape {np.shape(yours)}, expected (5, 5) for n_classes=5: "
              "every class gets a row and a column, even one that never occurs")
    _compare(yours, expected, "the confusion matrix", slips=[
        ("rows and columns are swapped: row i counts the images of true class i, column j "
         "those predicted as j", expected.T),
        ("normalized: count the images (integers); normalize only to plot",
         expected / np.maximum(expected.sum(axis=1, keepdims=True), 1))])


@exercise(3, "Reading the confusion matrix", points=2, minutes=10,
          teaches="which classes the model mixes up, read off the matrix")
def most_confused(most_confused):
    names = ["plane", "car", "bird", "cat"]
    cm = np.array([[50, 2, 9, 1], [4, 60, 0, 3], [7, 1, 40, 12], [0, 5, 20, 30]])
    expected = [("cat", "bird", 20), ("bird", "cat", 12), ("plane", "bird", 9)]
    yours = most_confused(cm.copy(), names, 3)
    try:
        yours = [(str(a), str(b), int(c)) for a, b, c in yours]
    except (TypeError, ValueError):
        _fail("return a list of (true class, predicted class, count) triples")
    if yours == expected:
        return
    if yours and yours[0][0] == yours[0][1]:
        _fail(f"{yours[0]} is on the diagonal: those are the correct predictions; leave them out")
    if yours == [(b, a, c) for a, b, c in expected]:
        _fail("the order in each triple is (true class, predicted class): row, then column")
    if yours[:1] == [("cat", "bird", 20)] and len(yours) != 3:
        _fail(f"asked for k=3 pairs, got {len(yours)}")
    _fail(f"expected {expected}, got {yours}: the k largest entries off the diagonal, "
          "largest first")


def _early_stopping_task():
    """A small, noisy task on which the validation loss rises after a few epochs."""
    from .model import MLP
    from .optim import SGD

    rng = _rng(13)
    w_true = rng.standard_normal((20, 4))
    x = rng.standard_normal((160, 20))
    y = np.argmax(x @ w_true + 2.5 * rng.standard_normal((160, 4)), axis=1)
    model = MLP([20, 64, 4], seed=0, dtype=np.float64)
    return model, SGD(0.05, momentum=0.9), x[:100], y[:100], x[100:], y[100:]


@exercise(3, "Early stopping, with the best weights restored", points=4, minutes=20,
          teaches="the training loop's control: watch validation, keep the best weights, stop in time")
def early_stopping(fit_with_early_stopping):
    from .train import train

    epochs, patience = 40, 3
    model, optimizer, *data = _early_stopping_task()
    losses = fit_with_early_stopping(model, optimizer, *data, epochs=epochs, patience=patience,
                                     seed=0)
    reference, ref_optimizer, *_ = _early_stopping_task()
    history = train(reference, ref_optimizer, *data, epochs=epochs, batch_size=32, seed=0,
                    patience=patience, progress=False, divergence_factor=None)
    expected = history.val_loss
    losses = _array(losses, "the returned validation losses").ravel()
    if len(losses) != len(expected):
        common = min(len(losses), len(expected))
        if not _close(losses[:common], expected[:common]):
            _compare(losses[:common], expected[:common],
                     "the validation losses (train_epoch on minibatches(..., 32, rng), "
                     "then evaluate)")
        later = "late" if len(losses) > len(expected) else "early"
        _fail(f"stopped after {len(losses)} epochs, expected {len(expected)} (the best epoch is "
              f"{history.best_epoch}, patience {patience}): {abs(len(losses) - len(expected))} "
              f"epoch(s) too {later}; stop when {patience} epochs in a row brought no new "
              "lowest validation loss")
    _compare(losses, expected, "the validation losses")
    best = {name: p.copy() for name, p in reference.params.items()}
    replay, replay_optimizer, *_ = _early_stopping_task()
    train(replay, replay_optimizer, *data, epochs=len(expected), batch_size=32, seed=0,
          progress=False, divergence_factor=None)  # the same run, without restoring
    for name, p in model.params.items():
        if _close(p, replay.params[name]) and not _close(p, best[name]):
            _fail("the model kept the weights of its last epoch, not those of the best one "
                  f"(epoch {history.best_epoch}): restore them before returning (and save "
                  "copies, {name: p.copy()}: the optimizer changes the arrays in place)")
        _compare(p, best[name], f"the model's {name} after training (the best epoch's)")


# == chapter 4: Keras, like with like ================================================

@exercise(4, "An L2 penalty in Keras's convention", points=1, minutes=3,
          teaches="that one word, 'L2', hides two conventions, and a factor of 2 between them")
def keras_l2(l2_for_keras):
    from .keras_twin import quiet_tensorflow

    _, keras = quiet_tensorflow()
    w = _rng(14).standard_normal((6, 4))
    for lam in (0.01, 3e-4):
        value = float(_array(l2_for_keras(lam), "l2_for_keras(lam)"))
        penalty = float(keras.regularizers.L2(value)(w.astype(np.float32)))
        target = lam / 2 * float((w ** 2).sum())
        if np.isclose(value, lam):
            _fail("passed lambda unchanged: Keras's L2(c) adds c * sum(W**2), so for "
                  "(lambda/2) * sum(W**2) the 1/2 must go into c")
        if not np.isclose(penalty, target, rtol=1e-5):
            _fail(f"for lambda={lam} Keras's penalty is {penalty:.6g}, the textbook's "
                  f"(lambda/2) * sum(W**2) is {target:.6g}")


@exercise(4, "He initialization in Keras", points=2, minutes=5,
          teaches="reading an initializer's distribution, not just its name")
def keras_he_init(he_initializer):
    from .keras_twin import quiet_tensorflow

    quiet_tensorflow()
    fan_in = 200
    init = he_initializer(fan_in, 0)
    draws = np.asarray(init((fan_in, 500)), dtype=np.float64).ravel()
    std, expected = draws.std(), math.sqrt(2 / fan_in)
    if abs(draws.mean()) > 0.05 * expected:
        _fail(f"the draws have mean {draws.mean():.3g}: He initialization is centred at 0")
    if abs(std / expected - 1) > 0.02:
        hint = (": that is LeCun's variance 1/fan_in; He's is 2/fan_in (the ReLU halves it)"
                if abs(std / math.sqrt(1 / fan_in) - 1) < 0.02 else
                ": is the variance computed from fan_in alone (2/fan_in)?")
        _fail(f"the draws have std {std:.4g}, expected sqrt(2/fan_in) = {expected:.4g}{hint}")
    tail = float((np.abs(draws) > 2.5 * expected).mean())
    if tail < 0.004:
        _fail("no draw lies beyond 2.5 standard deviations: this is a truncated normal "
              "(keras.initializers.HeNormal truncates); ours, like the He paper's, is a plain "
              "normal: use keras.initializers.RandomNormal with the right stddev")
    if abs(np.mean(np.abs(draws)) / expected - math.sqrt(2 / math.pi)) > 0.03:
        _fail("the draws are not normally distributed (a uniform initializer?)")


@exercise(4, "Batch normalization settings in Keras", points=3, minutes=10,
          teaches="that a 'momentum' of 0.9 means opposite things in two frameworks")
def keras_batchnorm(keras_batchnorm_like):
    from .keras_twin import quiet_tensorflow
    from .model import MLP

    _, keras = quiet_tensorflow()
    bn_momentum, bn_eps = 0.9, 1e-5
    mlp = MLP([6, 5, 3], batchnorm=True, bn_momentum=bn_momentum, bn_eps=bn_eps,
              dtype=np.float32)
    layer = keras_batchnorm_like(bn_momentum, bn_eps)
    if not isinstance(layer, keras.layers.BatchNormalization):
        _fail(f"return a keras.layers.BatchNormalization layer, got {type(layer).__name__}")
    rng = _rng(15)
    for step in range(3):
        h = (rng.standard_normal((16, 5)) * 2 + 1).astype(np.float32)
        expected, _ = mlp.normalize(1, h, training=True)
        out = np.asarray(layer(h, training=True))
        if step == 0 and not _close(out, expected, 1e-4, 1e-5):
            eps_used = float(layer.epsilon)
            _fail(f"the training output differs from ours: epsilon is {eps_used:g}, ours is "
                  f"bn_eps={bn_eps:g}" if not np.isclose(eps_used, bn_eps) else
                  f"the training output differs from ours: {_largest(out, expected)}")
    theirs = np.asarray(layer.moving_mean)
    ours = mlp.bn_state["running_mean1"]
    if not _close(theirs, ours, 1e-4, 1e-6):
        if np.isclose(float(layer.momentum), 1 - bn_momentum):
            _fail(f"momentum={float(layer.momentum):g} is the other frameworks' convention (the "
                  "weight of the new batch); Keras's momentum, like ours, is the weight of the "
                  f"old running value: {bn_momentum}")
        _fail(f"the moving mean after 3 batches differs from ours: {_largest(theirs, ours)}")
    _compare(np.asarray(layer.moving_variance), mlp.bn_state["running_var1"],
             "the moving variance after 3 batches", rtol=1e-4, atol=1e-6)


@exercise(4, "A Keras twin, proved by the parity check", points=5, minutes=25,
          teaches="what makes two frameworks compute the same function: layers, loss from "
                  "logits, the L2 convention, the weights, checked gradient by gradient")
def keras_twin(keras_twin):
    from .keras_twin import copy_weights, quiet_tensorflow
    from .model import MLP
    from .parity import gradient_differences

    _, keras = quiet_tensorflow()
    mlp = MLP([12, 16, 8, 5], l2=0.01, seed=3)
    model = keras_twin(mlp)
    if not isinstance(model, keras.Model):
        _fail(f"return a keras.Model (e.g. keras.Sequential), got {type(model).__name__}")
    try:
        copy_weights(mlp, model)
    except ValueError as error:
        _fail(f"the layers do not match the MLP's: {error}")
    rng = _rng(16)
    x = rng.standard_normal((32, 12)).astype(np.float32)
    y = rng.integers(0, 5, 32)
    try:
        report = gradient_differences(mlp, model, x, y)
    except (ValueError, TypeError, AttributeError) as error:
        _fail(f"compile the model with its loss (model.compile(loss=...)): {error}")
    loss_np, loss_k = report["loss_numpy"], report["loss_keras"]
    penalty = mlp.l2 * sum(float((w.astype(np.float64) ** 2).sum())
                           for name, w in mlp.params.items() if name.startswith("W"))
    if report["loss_relative"] > 1e-5:
        if np.isclose(loss_k, loss_np - penalty, rtol=1e-4):
            _fail("Keras's loss lacks the L2 penalty: add kernel_regularizer="
                  "keras.regularizers.L2(mlp.l2) to every Dense layer")
        if np.isclose(loss_k, loss_np - penalty / 2, rtol=1e-4):
            _fail("Keras's L2 penalty is half of ours: L2(c) adds c * sum(W**2), as MLP(l2=c) "
                  "does, so pass mlp.l2 unchanged")
        if not np.isclose(loss_k, loss_np, rtol=1e-2):
            _fail(f"the losses differ: NumPy {loss_np:.6f}, Keras {loss_k:.6f}. The MLP's last "
                  "layer gives logits: no activation on the last Dense layer, and "
                  "SparseCategoricalCrossentropy(from_logits=True)")
        _fail(f"the losses differ: NumPy {loss_np:.6f}, Keras {loss_k:.6f}")
    if report["max_relative"] > 1e-5:
        worst = max(report["per_parameter"], key=lambda k: report["per_parameter"][k]["relative"])
        _fail(f"the losses agree but the gradients do not: {worst} differs by "
              f"{report['per_parameter'][worst]['relative']:.1e} (relative); below 1e-5 passes")
    print(f"  parity: losses {loss_np:.6f} (NumPy) and {loss_k:.6f} (Keras), largest gradient "
          f"difference {report['max_relative']:.1e}")


def summary() -> list[dict]:
    """Every exercise as a dict (name, chapter, title, points, minutes, teaches), in order."""
    return [asdict(e) for e in EXERCISES.values()]

"""Chapter 2's exercises: the layers' forward and backward passes, and one epoch of
minibatch training."""

import numpy as np

from .. import layers as ref
from ..gradcheck import numerical_gradient, numerical_gradient_array
from ..model import MLP
from ..optim import SGD
from ..train import loss_sum_and_correct
from ..train import train_epoch as package_epoch
from .base import (all_close, assert_unchanged, checked_array, compare, compare_gradient,
                   draw_classes, draw_sizes, exercise, fail, fresh_rng, unpacked)


@exercise(2, "ReLU layer", points=2, minutes=5,
          teaches="an elementwise layer and its gradient mask; what a cache is for",
          answers=("cifar_mlp.layers.relu_forward", "cifar_mlp.layers.relu_backward"))
def relu_layer(relu_forward, relu_backward):
    rng = fresh_rng()
    shape = draw_sizes(rng, (3, 9), (4, 12))
    x = rng.standard_normal(shape)
    x[np.abs(x) < 0.05] = 0.1  # away from the kink
    dout = rng.standard_normal(shape)
    before = x.copy()
    out, cache = unpacked(relu_forward(x), 2, "relu_forward")
    assert_unchanged([before], [x], "the input x")
    compare(out, np.maximum(x, 0), "relu_forward's output", slips=[
        ("returned the mask (x > 0) instead of max(x, 0)", (x > 0).astype(float)),
        ("returned |x|: negative inputs must become 0", np.abs(x))])
    dx = relu_backward(dout.copy(), cache)
    numeric = numerical_gradient_array(lambda: relu_forward(x.copy())[0], x, dout)
    compare_gradient(dx, numeric, "relu_backward's dx", slips=[
        ("forgot the ReLU mask: the gradient must be zero where the unit was off (x <= 0)", dout),
        ("returned the mask alone: multiply dout by it", (x > 0).astype(float)),
        ("masked by the sign of dout instead of the sign of the layer's input",
         dout * (dout > 0))])


@exercise(2, "Affine layer", points=4, minutes=15,
          teaches="the matrix calculus of y = xW + b, and shapes as a check on it",
          answers=("cifar_mlp.layers.affine_forward", "cifar_mlp.layers.affine_backward"))
def affine_layer(affine_forward, affine_backward):
    rng = fresh_rng()
    n, d, h = draw_sizes(rng, (3, 8), (4, 12), (3, 10))
    x, w, b = rng.standard_normal((n, d)), rng.standard_normal((d, h)), rng.standard_normal(h)
    dout = rng.standard_normal((n, h))
    out, cache = unpacked(affine_forward(x.copy(), w.copy(), b.copy()), 2, "affine_forward")
    compare(out, x @ w + b, "affine_forward's output", slips=[("the bias b is not added", x @ w)])
    dx, dw, db = unpacked(affine_backward(dout.copy(), cache), 3, "affine_backward")
    for name, yours, wrt, slips in (
            ("dw", dw, w, [("divided by the batch size: the 1/N of the mean loss is already "
                            "in dout", x.T @ dout / n)]),
            ("db", db, b, [("divided by the batch size: db is the sum of dout over the batch "
                            "(the 1/N of the mean loss is already in dout)", dout.mean(axis=0))]),
            ("dx", dx, x, [])):
        if name == "db" and np.shape(yours) == (n,):
            fail(f"db has shape ({n},): summed over the wrong axis; sum over the batch (axis 0)")
        numeric = numerical_gradient_array(lambda: affine_forward(x, w, b)[0], wrt, dout)
        compare_gradient(yours, numeric, f"affine_backward's {name}", slips)


def _softmax_slips(z, y):
    n, rows = len(z), np.arange(len(z))
    p = ref.softmax(z)
    onehot = np.zeros_like(z)
    onehot[rows, y] = 1
    columns = ref.softmax(z.T).T
    return p, [
        ("missing division by the batch size N: the loss is a mean, so each row's gradient "
         "is (p - onehot) / N", p - onehot),
        ("forgot to subtract 1 at the true class: the gradient is (p - onehot) / N", p / n),
        ("the sign is flipped: the gradient is (p - onehot) / N, not (onehot - p) / N",
         (onehot - p) / n),
        ("the softmax is taken over the wrong axis: each row (one example) must sum to 1",
         (columns - onehot) / n)]


@exercise(2, "Softmax and cross-entropy", points=4, minutes=15,
          teaches="the loss every classifier minimizes, its remarkably simple gradient, and "
                  "the log-sum-exp trick that keeps it finite",
          answers=("cifar_mlp.layers.softmax_cross_entropy", "cifar_mlp.layers.log_softmax",
                   "cifar_mlp.layers.softmax"))
def softmax_loss(softmax_loss):
    rng = fresh_rng()
    n, c = int(rng.integers(4, 12)), draw_classes(rng)
    z, y = rng.standard_normal((n, c)) * 2, rng.integers(0, c, n)
    loss, dz = unpacked(softmax_loss(z.copy(), y.copy()), 2, "softmax_loss")
    expected_loss, _ = ref.softmax_cross_entropy(z, y)
    p, slips = _softmax_slips(z, y)
    loss = checked_array(loss, "the loss")
    if loss.shape != ():
        fail(f"the loss has shape {loss.shape}: it must be one number, the mean over the batch")
    compare(loss, expected_loss, "the loss", slips=[
        ("summed over the batch: the loss is the mean over the N examples", expected_loss * n),
        ("the log is missing: the loss is -log p[y]", -p[np.arange(n), y].mean())])
    if np.shape(dz) != z.shape:
        fail(f"dlogits has shape {np.shape(dz)}, expected {z.shape} (here {c} classes: "
              "count the classes from the logits' shape, not as ten)")
    compare_gradient(dz, numerical_gradient(lambda: softmax_loss(z, y)[0], z), "dlogits", slips)
    with np.errstate(all="ignore"):
        big_loss, big_dz = unpacked(softmax_loss(np.array([[1000.0, 999.0, 998.0]]), np.array([1])),
                                   2, "softmax_loss")
    if not (np.all(np.isfinite(checked_array(big_loss, "the loss")))
            and np.all(np.isfinite(checked_array(big_dz, "dlogits")))):
        fail("with logits near 1000 the loss or gradient is NaN or infinite: softmax "
              "without max subtraction overflows (exp(1000) = inf); subtract each row's "
              "maximum before exponentiating (the log-sum-exp trick)")
    big = np.array([[1000.0, 0.0, -1000.0], [-500.0, 800.0, 20.0]])
    with np.errstate(all="ignore"):
        big_loss, _ = unpacked(softmax_loss(big, np.array([1, 1])), 2, "softmax_loss")
    if not np.all(np.isfinite(checked_array(big_loss, "the loss"))):
        fail("for a confident wrong answer (logits 1000, 0, -1000, true class 1) the loss is "
              "infinite: p underflows to 0 and log(0) = -inf; compute log p directly, "
              "log p = z - max - log(sum(exp(z - max))), instead of log(softmax(z))")
    compare(big_loss, ref.softmax_cross_entropy(big, np.array([1, 1]))[0],
             "the loss for logits of size 1000")


def _epoch_task(rng):
    """One epoch's task: the settings of a small network with batch normalization and an
    L2 penalty, of its optimizer, and minibatches whose last one is smaller than the
    others (so that a mean of the batches' means is not the mean over the examples)."""
    features, hidden, classes = draw_sizes(rng, (6, 14), (16, 32), (3, 7))
    size, full = int(rng.integers(6, 13)), int(rng.integers(3, 6))
    n = size * full + int(rng.integers(2, size))  # the last batch: 2 to size - 1 examples
    x = rng.standard_normal((n, features))
    y = np.argmax(x @ rng.standard_normal((features, classes))
                  + rng.standard_normal((n, classes)), axis=1)
    batches = [(x[i:i + size], y[i:i + size]) for i in range(0, n, size)]
    model = dict(layer_sizes=[features, hidden, classes], batchnorm=True,
                 l2=float(rng.uniform(1e-3, 1e-2)), seed=int(rng.integers(2**31)),
                 dtype=np.float64)
    return model, dict(lr=float(rng.uniform(0.05, 0.3)), momentum=0.9), batches


def _fresh(task):
    """A new model and optimizer of ``task`` (the same ones at every call), and a copy of
    its batches."""
    model, optimizer, batches = task
    return MLP(**model), SGD(**optimizer), [(x.copy(), y.copy()) for x, y in batches]


def _epoch_with(task, measure="own", step="each"):
    """One epoch as a loop with a slip runs it: the model after it, and per batch its size,
    summed plain cross-entropy, number of correct predictions, ``model.loss``'s loss and
    the L2 penalty of the weights once the batch is done.
    ``measure``: the logits scored, "own" (the batch's own forward pass, as
    :func:`~cifar_mlp.train.train_epoch`), "before" (``model.forward``, inference mode,
    before the update), "after" (the same, after it) or "again" (``model.loss`` once more,
    after it); ``step``: "each" batch or "once", after the loop."""
    model, optimizer, batches = _fresh(task)
    records = []
    for x, y in batches:
        loss, grads, logits = model.loss(x, y, return_logits=True)
        if measure == "before":
            logits = model.forward(x)
        if step == "each":
            optimizer.step(model.params, grads)
        if measure == "after":
            logits = model.forward(x)
        elif measure == "again":  # and its loss is the second pass's
            loss, _, logits = model.loss(x, y, return_logits=True)
        records.append((len(y), *loss_sum_and_correct(ref.log_softmax(logits), y), loss,
                        model.l2_penalty()))
    if step == "once":
        optimizer.step(model.params, grads)
    return model, np.array(records, np.float64).T


AFTER_THE_UPDATE = ("measured after the update, by a second forward pass: score the logits "
                    "of the batch's own pass, model.loss(x_batch, y_batch, "
                    "return_logits=True), taken before optimizer.step")
INFERENCE_MODE = ("measured by model.forward, a second forward pass in inference mode (batch "
                  "norm with its running statistics): score the logits that "
                  "model.loss(x_batch, y_batch, return_logits=True) returns")
BY_BATCHES = "divided by the number of batches: divide by the number of examples"
MEAN_OF_MEANS = ("the mean of the batches' means: the last batch is smaller, so it must weigh "
                 "less; add up each batch's sum (its mean times its size) and divide by the "
                 "number of examples")


def _epoch_slips(task):
    """The named slips of one epoch on ``task``: {what: [(hint, wrong value)]}."""
    measured = {measure: _epoch_with(task, measure) for measure in ("own", "before", "after",
                                                                     "again")}
    sizes, ce, correct, with_l2, penalty_after = measured["own"][1]
    n = sizes.sum()
    loss, accuracy = ce.sum() / n, correct.sum() / n
    initial, _, _ = _fresh(task)
    return {
        "params": [
            ("the parameters did not change: after each batch's loss and gradients, call "
             "optimizer.step(model.params, grads)", initial.params),
            ("one step in all, after the loop: call optimizer.step once per batch, inside "
             "the loop", _epoch_with(task, step="once")[0].params)],
        "bn_state": [
            ("the running statistics moved twice per batch: a second forward pass in "
             "training mode (model.loss again, after the update); score the logits of the "
             "batch's own pass instead", measured["again"][0].bn_state)],
        "loss": [
            (MEAN_OF_MEANS, np.mean(ce / sizes)),
            ("it includes the L2 penalty: the loss model.loss returns adds l2 * sum(W**2); "
             "report the plain cross-entropy, computed from the logits (log_softmax), as "
             "evaluate does", (with_l2 * sizes).sum() / n),
            ("the mean of model.loss's losses, two slips: it includes the L2 penalty (report "
             "the plain cross-entropy, computed from the logits) and it averages the batches' "
             "means (the last batch is smaller: weigh each batch by its size)",
             np.mean(with_l2)),
            ("the L2 penalty is taken off after the update, when model.l2_penalty() is that "
             "of the new weights: compute the plain cross-entropy from the logits instead",
             ((with_l2 - penalty_after) * sizes).sum() / n),
            ("a sum, not a mean: divide by the number of examples", ce.sum()),
            (BY_BATCHES, ce.sum() / len(sizes)),
            ("a sum of the batches' means, not a mean over the examples: add up each batch's "
             "sum and divide by the number of examples", (ce / sizes).sum()),
            ("a sum of model.loss's losses: report the mean plain cross-entropy over the "
             "examples (without the L2 penalty)", with_l2.sum()),
            (AFTER_THE_UPDATE, measured["after"][1][1].sum() / n),
            (AFTER_THE_UPDATE, measured["again"][1][1].sum() / n),
            (AFTER_THE_UPDATE + "; and report the plain cross-entropy, without the L2 penalty",
             (measured["again"][1][3] * sizes).sum() / n),
            (INFERENCE_MODE, measured["before"][1][1].sum() / n),
            ("it is the accuracy: return (mean loss, accuracy), in that order", accuracy)],
        "accuracy": [
            (MEAN_OF_MEANS, np.mean(correct / sizes)),
            ("a count, not a fraction: divide the number of correct predictions by the "
             "number of examples", correct.sum()),
            (BY_BATCHES, correct.sum() / len(sizes)),
            ("a percentage: return the fraction of correct predictions, between 0 and 1",
             100 * accuracy),
            (AFTER_THE_UPDATE, measured["after"][1][2].sum() / n),
            (AFTER_THE_UPDATE, measured["again"][1][2].sum() / n),
            (INFERENCE_MODE, measured["before"][1][2].sum() / n),
            ("it is the loss: return (mean loss, accuracy), in that order", loss)]}


def _named_apart(expected: dict, slips: dict) -> bool:
    """Whether every slip's value differs from the right one and from those of the other
    slips (else another draw: a slip must fail, and by its own name)."""
    def differ(a, b):
        if isinstance(a, dict):
            return any(not all_close(a[name], b[name]) for name in a)
        return not all_close(a, b)

    return all(differ(expected[what], wrong)
               and all(differ(wrong, other) for other_hint, other in pairs if other_hint != hint)
               for what, pairs in slips.items() for hint, wrong in pairs)


@exercise(2, "One epoch of minibatch training", points=3, minutes=15,
          teaches="the loop inside every epoch: a loss, its gradients and one step per "
                  "minibatch, and the epoch's mean loss and accuracy over the examples, "
                  "not over the batches",
          answers=("cifar_mlp.train.train_epoch",))
def training_epoch(train_epoch):
    rng = fresh_rng()
    for _ in range(100):  # a task on which every slip gives a value of its own
        task = _epoch_task(rng)
        model, optimizer, batches = _fresh(task)
        loss, accuracy = package_epoch(model, optimizer, batches)
        expected = {"loss": loss, "accuracy": accuracy, "params": model.params,
                    "bn_state": model.bn_state}
        slips = _epoch_slips(task)
        if _named_apart(expected, slips):
            break
    model, optimizer, batches = _fresh(task)
    sizes = [len(y) for _, y in batches]
    result = unpacked(train_epoch(model, optimizer, batches), 2, "train_epoch")
    epoch = (f" after an epoch of {len(batches)} batches ({len(batches) - 1} of {sizes[0]} "
             f"examples, the last of {sizes[-1]})")
    for store in ("params", "bn_state"):
        for name, value in expected[store].items():
            compare(getattr(model, store)[name], value, f"the model's {store}[{name!r}]{epoch}",
                    slips=[(hint, wrong[name]) for hint, wrong in slips[store]])
    for value, what in zip(result, ("loss", "accuracy")):
        label = {"loss": "the returned mean loss", "accuracy": "the returned accuracy"}[what]
        yours = checked_array(value, label)
        if yours.shape != ():
            fail(f"{label} has shape {yours.shape}: it must be one number, over the epoch's "
                  "examples")
        compare(yours, expected[what], label + epoch, slips=slips[what])

"""Chapter 3's exercises: a schedule, the confusion matrix, one epoch of training, early
stopping, and the gradient of the simplest classifier."""

import math

import numpy as np

from .. import layers as ref
from ..data import CLASS_NAMES
from ..gradcheck import numerical_gradient
from ..model import MLP
from ..optim import SGD
from ..schedules import cosine
from ..train import loss_sum_and_correct, train
from ..train import train_epoch as package_epoch
from .base import (all_close, assert_unchanged, checked_array, checked_shape, compare,
                   compare_gradient, draw_classes, draw_sizes, exercise, fail, fresh_rng,
                   unpacked)


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


@exercise(3, "One epoch of minibatch training", points=3, minutes=15,
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

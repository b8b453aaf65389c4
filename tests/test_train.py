"""Tests of the training loop on small models and the real 2,000-image sample."""

import json
import math

import numpy as np
import pytest

from cifar_mlp import safety
from cifar_mlp.augment import augment, views
from cifar_mlp.data import load_sample
from cifar_mlp.model import MLP
from cifar_mlp.optim import SGD, Adam
from cifar_mlp.preprocess import prepare
from cifar_mlp.schedules import ReduceOnPlateau, constant, cosine
from cifar_mlp.train import (History, TrainingDiverged, evaluate, minibatches, train,
                             train_epoch)


@pytest.fixture(scope="module")
def gray(sample_dir):
    """1,500 training and 500 validation images, grayscale (1,024 features), standardized."""
    return prepare(load_sample(sample_dir), "gray", n_val=500)


def fit(data, model=None, optimizer=None, **kwargs):
    """Train (by default a small model with Adam) on the sample; return (model, history)."""
    model = model if model is not None else MLP([1024, 64, 10], seed=0)
    optimizer = optimizer if optimizer is not None else Adam(1e-3)
    kwargs.setdefault("epochs", 3)
    kwargs.setdefault("progress", False)
    history = train(model, optimizer, data.x_train, data.y_train, data.x_val, data.y_val, **kwargs)
    return model, history


def overfitting_model():
    """Wide enough to overfit 1,500 images within a few epochs of Adam(1e-3)."""
    return MLP([1024, 128, 10], seed=0)


def assert_same_weights(a, b):
    for store in ("params", "bn_state"):
        left, right = getattr(a, store), getattr(b, store)
        assert left.keys() == right.keys()
        for name in left:
            np.testing.assert_array_equal(left[name], right[name], err_msg=f"{store}/{name}")


# -- training ------------------------------------------------------------------------------

def test_training_lowers_the_loss_and_fills_the_history(gray):
    untrained_val_loss, _ = evaluate(MLP([1024, 64, 10], seed=0), gray.x_val, gray.y_val)
    model, history = fit(gray, epochs=4)

    assert history.epochs == 4
    for values in (history.train_loss, history.train_acc, history.val_loss, history.val_acc,
                   history.lr, history.seconds):
        assert len(values) == 4 and all(isinstance(v, float) for v in values)
    assert history.train_loss[-1] < history.train_loss[0]
    assert min(history.val_loss) < untrained_val_loss
    assert max(history.val_acc) > 0.2  # chance is 0.1
    assert history.lr == [1e-3] * 4
    assert history.best_epoch == int(np.argmin(history.val_loss)) + 1
    assert not history.stopped_early and history.stop_reason == "completed 4 epochs"
    assert history.ending == History.COMPLETED
    assert history.median_seconds_per_epoch > 0
    assert json.loads(json.dumps(history.to_dict()))["val_acc"] == history.val_acc
    # Without patience the model keeps its final weights: the last validation loss.
    assert evaluate(model, gray.x_val, gray.y_val)[0] == pytest.approx(history.val_loss[-1])


def test_same_seeds_give_identical_histories_and_weights(gray):
    def run(seed):
        model = MLP([1024, 32, 10], batchnorm=True, dropout=0.2, seed=0)
        return fit(gray, model, SGD(0.01, momentum=0.9, nesterov=True), epochs=2,
                   batch_size=100, seed=seed, augment_shift=2)

    (model_a, history_a), (model_b, history_b) = run(seed=1), run(seed=1)
    without_times = [{k: v for k, v in h.to_dict().items() if k != "seconds"}
                     for h in (history_a, history_b)]
    assert without_times[0] == without_times[1]
    assert_same_weights(model_a, model_b)

    model_c, _ = run(seed=2)  # another shuffling and augmentation
    assert not np.array_equal(model_a.params["W1"], model_c.params["W1"])


def test_early_stopping_restores_the_weights_of_the_best_epoch(gray):
    model, history = fit(gray, overfitting_model(), epochs=30, patience=2)
    best = history.best_epoch
    assert history.stopped_early and "early stopping" in history.stop_reason
    assert history.ending == History.EARLY_STOPPING
    assert history.epochs == best + 2 < 30
    assert min(history.val_loss) == history.val_loss[best - 1]

    # The same run stopped at the best epoch, with no restoring, ends with the same weights.
    rerun, _ = fit(gray, overfitting_model(), epochs=best)
    assert_same_weights(model, rerun)
    assert evaluate(model, gray.x_val, gray.y_val)[0] == pytest.approx(history.val_loss[best - 1])

    # With patience, the best weights come back also when all epochs complete.
    completed, history_c = fit(gray, overfitting_model(), epochs=best + 1, patience=5)
    assert not history_c.stopped_early and history_c.best_epoch == best
    assert_same_weights(completed, rerun)


def test_a_huge_learning_rate_raises_and_keeps_the_initial_weights(gray):
    initial = MLP([1024, 64, 10], seed=0)
    model = MLP([1024, 64, 10], seed=0)
    with pytest.raises(TrainingDiverged, match="learning rate is too high") as caught:
        fit(gray, model, SGD(10.0, momentum=0.9), epochs=3)
    error = caught.value
    assert isinstance(error, RuntimeError)
    assert error.epoch == 1 and error.step >= 1
    assert f"epoch 1, step {error.step}" in str(error) and "initial weights" in str(error)
    assert error.history.stopped_early and error.history.epochs == 0
    assert error.history.ending == History.DIVERGED
    assert all(np.isfinite(p).all() for p in model.params.values())
    assert_same_weights(model, initial)


def test_a_nan_batch_loss_stops_training_at_its_step(gray):
    def infinite(epoch, base_lr):  # the first step makes the weights inf and NaN
        return math.inf

    initial = MLP([1024, 64, 10], seed=0)
    model = MLP([1024, 64, 10], seed=0)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 2 of 12: the batch loss is nan"):
        fit(gray, model, SGD(0.01), epochs=3, schedule=infinite)
    assert_same_weights(model, initial)


def test_training_diverged_is_the_one_of_safety():
    assert TrainingDiverged is safety.TrainingDiverged


def test_divergence_after_good_epochs_restores_the_best_of_them(gray):
    def blow_up_in_epoch_3(epoch, base_lr):
        return base_lr if epoch < 2 else 1e4

    model = MLP([1024, 64, 10], seed=0)
    with pytest.raises(TrainingDiverged, match=r"epoch 3, step \d+ of 12") as caught:
        fit(gray, model, SGD(0.01, momentum=0.9), epochs=5, schedule=blow_up_in_epoch_3)
    history = caught.value.history
    assert history.epochs == 2 and history.best_epoch in (1, 2)
    assert f"weights of epoch {history.best_epoch}" in str(caught.value)

    rerun, _ = fit(gray, MLP([1024, 64, 10], seed=0), SGD(0.01, momentum=0.9),
                   epochs=history.best_epoch)
    assert_same_weights(model, rerun)


def test_divergence_on_raw_pixels_names_missing_standardization(gray):
    def raw(x):  # roughly the scale of unstandardized 0-255 pixels
        return x * 60 + 120

    model = MLP([1024, 64, 10], seed=0)
    with pytest.raises(TrainingDiverged, match=r"\(1\) the inputs are not standardized"):
        train(model, SGD(0.01, momentum=0.9), raw(gray.x_train), gray.y_train,
              raw(gray.x_val), gray.y_val, epochs=3, progress=False)
    assert all(np.isfinite(p).all() for p in model.params.values())


# -- minibatches and one epoch ----------------------------------------------------------------

def row_indices(batches):
    """The rows of x = arange(n) as a column, batch by batch: [(indices, labels), ...]."""
    return [(xb[:, 0].astype(int), yb) for xb, yb in batches]


def test_minibatches_yield_every_row_once_per_epoch_in_batches_of_batch_size():
    x, y = np.arange(23.0)[:, None], np.arange(23) % 10
    rng = np.random.default_rng(4)
    epochs = [row_indices(minibatches(x, y, 5, rng)) for _ in range(2)]
    for batches in epochs:
        assert [len(rows) for rows, _ in batches] == [5, 5, 5, 5, 3]
        rows = np.concatenate([rows for rows, _ in batches])
        np.testing.assert_array_equal(np.sort(rows), np.arange(23))  # each row exactly once
        for rows, labels in batches:
            np.testing.assert_array_equal(labels, y[rows])  # labels stay with their rows
    assert not np.array_equal(np.concatenate([r for r, _ in epochs[0]]),
                              np.concatenate([r for r, _ in epochs[1]]))  # a new order


def test_minibatches_are_reproducible_from_the_seed():
    x, y = np.arange(23.0)[:, None], np.arange(23) % 10

    def two_epochs(seed):
        rng = np.random.default_rng(seed)
        return [rows for _ in range(2) for rows, _ in row_indices(minibatches(x, y, 5, rng))]

    for a, b in zip(two_epochs(1), two_epochs(1)):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(two_epochs(1), two_epochs(2)))
    order = np.random.default_rng(1).permutation(23)  # the permutation drawn from the seed
    np.testing.assert_array_equal(np.concatenate(two_epochs(1)[:5]), order)


def test_minibatches_draw_the_augmentations_from_the_same_rng(rgb_rows):
    y = np.arange(64) % 10
    got_rng = np.random.default_rng(5)
    got = list(minibatches(rgb_rows, y, 24, got_rng, augment_shift=2))
    rng = np.random.default_rng(5)
    order = rng.permutation(64)  # first the order, then each batch's augmentation in turn
    expected = [(augment(rgb_rows[order[s:s + 24]], rng, 2), y[order[s:s + 24]])
                for s in range(0, 64, 24)]
    assert [len(yb) for _, yb in got] == [24, 24, 16]
    for (xa, ya), (xb, yb) in zip(got, expected, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert got_rng.bit_generator.state == rng.bit_generator.state
    plain = list(minibatches(rgb_rows, y, 24, np.random.default_rng(5)))
    assert not np.array_equal(plain[0][0], got[0][0])  # augmented indeed


def test_train_epoch_reports_the_plain_cross_entropy_not_the_penalized_loss(gray):
    """The training curve must measure what the validation curve measures: before the
    fix it reported the optimized loss, L2 penalty and label smoothing included."""
    x, y = gray.x_train[:300], gray.y_train[:300]
    batches = [(x[:128], y[:128]), (x[128:256], y[128:256]), (x[256:], y[256:])]  # 128, 128, 44
    settings = dict(batchnorm=True, l2=0.01, label_smoothing=0.1, seed=0)
    model, twin = MLP([1024, 16, 10], **settings), MLP([1024, 16, 10], **settings)
    optimizer = SGD(0.05, momentum=0.9)
    twin_optimizer = SGD(0.05, momentum=0.9)
    loss_sum = ce_sum = correct = 0.0
    for xb, yb in batches:  # the same steps by hand: each batch is scored before its update
        loss, grads, logits = twin.loss(xb, yb, return_logits=True)
        twin_optimizer.step(twin.params, grads)
        z = logits.astype(np.float64)
        log_p = z - z.max(axis=1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
        ce_sum -= log_p[np.arange(len(yb)), yb].sum()
        loss_sum += float(loss) * len(yb)
        correct += (logits.argmax(axis=1) == yb).sum()
    mean_ce, accuracy = train_epoch(model, optimizer, iter(batches))
    assert mean_ce == pytest.approx(ce_sum / 300, rel=1e-9)  # a mean over the 300 examples
    assert loss_sum / 300 > mean_ce + 0.1  # the optimized loss is another quantity
    assert accuracy == correct / 300
    assert_same_weights(model, twin)


def test_history_records_the_l2_penalty_apart(gray):
    model = MLP([1024, 16, 10], l2=0.01, seed=0)
    history = train(model, SGD(0.05, momentum=0.9), gray.x_train[:256], gray.y_train[:256],
                    gray.x_val[:64], gray.y_val[:64], epochs=2, progress=False)
    weights = [model.params[f"W{i}"].astype(np.float64) for i in (1, 2)]
    assert history.l2_penalty[-1] == pytest.approx(0.01 * sum((w ** 2).sum() for w in weights),
                                                   rel=1e-6)
    assert len(history.l2_penalty) == history.epochs == 2


# -- schedules ----------------------------------------------------------------------------

def test_schedules_give_the_expected_learning_rates():
    assert [constant()(e, 0.1) for e in range(3)] == [0.1, 0.1, 0.1]
    expected = [0.1, 0.1 * (1 + math.cos(math.pi / 4)) / 2, 0.05,
                0.1 * (1 + math.cos(3 * math.pi / 4)) / 2, 0.0, 0.0]
    assert [cosine(4)(e, 0.1) for e in range(6)] == pytest.approx(expected)
    assert [cosine(2, min_lr=0.01)(e, 0.1) for e in range(3)] == pytest.approx([0.1, 0.055, 0.01])


@pytest.mark.parametrize("make", [lambda: cosine(0), lambda: cosine(5, min_lr=-1),
                                  lambda: ReduceOnPlateau(factor=1.5),
                                  lambda: ReduceOnPlateau(patience=0)])
def test_schedules_reject_bad_settings(make):
    with pytest.raises(ValueError):
        make()


def test_reduce_on_plateau_waits_patience_epochs_then_reduces():
    plateau = ReduceOnPlateau(factor=0.5, patience=2, min_lr=0.02)
    assert plateau(0, 0.1) == 0.1
    losses = [1.0, 0.9, 0.95, 0.95, 0.8, 0.85, 0.85, 0.9, 0.9, 0.9, 0.9]
    lrs = [plateau.update(loss) for loss in losses]
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02])
    assert plateau(11, 0.1) == 0.02  # the current rate, not the base rate


def test_train_applies_the_schedule_each_epoch(gray):
    def halve_each_epoch(epoch, base_lr):
        return base_lr * 0.5 ** epoch

    _, history = fit(gray, optimizer=SGD(0.01), epochs=3, schedule=halve_each_epoch)
    assert history.lr == pytest.approx([0.01, 0.005, 0.0025])


def test_train_feeds_the_validation_loss_to_reduce_on_plateau(gray):
    _, history = fit(gray, overfitting_model(), epochs=6, schedule=ReduceOnPlateau(patience=1))
    for i in range(1, history.epochs - 1):
        improved = history.val_loss[i] < min(history.val_loss[:i])
        expected = history.lr[i] if improved else history.lr[i] * 0.5
        assert history.lr[i + 1] == pytest.approx(expected)
    assert history.lr[-1] < history.lr[0]  # this run overfits: it must have reduced


# -- augmentation ---------------------------------------------------------------------------

class AlwaysFlip:
    """A stand-in generator whose uniform draws are all 0, so every image is mirrored."""

    def random(self, size):
        return np.zeros(size)


def images_of(rows, channels):
    return rows.reshape(len(rows), 32, 32, channels)


def windows(image, pad):
    """Every crop of the zero-padded image: {(top, left): window}."""
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
    return {(a, b): padded[a:a + 32, b:b + 32]
            for a in range(2 * pad + 1) for b in range(2 * pad + 1)}


@pytest.fixture
def rgb_rows():
    return np.random.default_rng(0).standard_normal((64, 3072)).astype(np.float32)


def test_augment_keeps_shape_and_dtype_and_leaves_the_input_alone(rgb_rows):
    before = rgb_rows.copy()
    out = augment(rgb_rows, np.random.default_rng(0), 2)
    assert out.shape == rgb_rows.shape and out.dtype == np.float32
    np.testing.assert_array_equal(rgb_rows, before)
    assert augment(rgb_rows.astype(np.float64), np.random.default_rng(0), 2).dtype == np.float32
    np.testing.assert_array_equal(out, augment(rgb_rows, np.random.default_rng(0), 2))  # seeded


def test_forced_flip_mirrors_every_image(rgb_rows):
    out = augment(rgb_rows, AlwaysFlip(), shift=0)
    np.testing.assert_array_equal(images_of(out, 3), images_of(rgb_rows, 3)[:, :, ::-1])


def test_random_flip_mirrors_about_half_of_the_images(rgb_rows):
    out = images_of(augment(rgb_rows, np.random.default_rng(1), shift=0), 3)
    original = images_of(rgb_rows, 3)
    mirrored = [np.array_equal(o, x[:, ::-1]) for o, x in zip(out, original)]
    unchanged = [np.array_equal(o, x) for o, x in zip(out, original)]
    assert all(m != u for m, u in zip(mirrored, unchanged))  # each is exactly one of the two
    assert 16 < sum(mirrored) < 48


def test_crop_shifts_the_content_with_zero_padding(rgb_rows):
    out = images_of(augment(rgb_rows, np.random.default_rng(2), flip=False, shift=4), 3)
    shifts = []
    for image, original in zip(out, images_of(rgb_rows, 3)):
        found = [at for at, window in windows(original, 4).items() if np.array_equal(image, window)]
        assert len(found) == 1
        shifts.append(found[0])
    tops, lefts = zip(*shifts)
    assert {min(tops), max(tops), min(lefts), max(lefts)} == {0, 8}  # the extreme shifts occur
    assert len(set(shifts)) > 20


def test_crop_moves_a_single_bright_pixel_by_at_most_the_padding():
    rows = np.zeros((200, 1024), np.float32)
    rows[:, 16 * 32 + 10] = 1.0  # row 16, column 10 of a grayscale image
    out = images_of(augment(rows, np.random.default_rng(3), flip=False, shift=4), 1)
    positions = np.argwhere(out[..., 0] == 1.0)
    assert len(positions) == 200  # the pixel is never cut off: it is 10 pixels from each edge
    assert np.all(np.abs(positions[:, 1] - 16) <= 4) and np.all(np.abs(positions[:, 2] - 10) <= 4)
    assert out.sum() == 200  # the rest is zeros


def test_augment_works_on_grayscale_rows(gray):
    rows = gray.x_train[:32]
    out = augment(rows, np.random.default_rng(0), 2)
    assert out.shape == (32, 1024) and out.dtype == np.float32
    flipped = augment(rows, AlwaysFlip(), shift=0)
    np.testing.assert_array_equal(images_of(flipped, 1), images_of(rows, 1)[:, :, ::-1])
    for image, original in zip(images_of(out, 1), images_of(rows, 1)):
        candidates = [*windows(original, 4).values(), *windows(original[:, ::-1], 4).values()]
        assert any(np.array_equal(image, window) for window in candidates)


@pytest.mark.parametrize("shift", [0, 2])
def test_views_are_every_variation_augment_draws(rgb_rows, gray, shift):
    for rows, channels in ((rgb_rows[:8], 3), (gray.x_val[:8], 1)):
        every = list(views(rows, shift))
        assert len(every) == 2 * (2 * shift + 1) ** 2
        assert all(view.shape == rows.shape and view.dtype == np.float32 for view in every)
        np.testing.assert_array_equal(every[len(every) // 4], rows)  # unshifted, not mirrored
        np.testing.assert_array_equal(images_of(every[3 * len(every) // 4], channels),
                                      images_of(rows, channels)[:, :, ::-1])
        distinct = {view.tobytes() for view in every}
        assert len(distinct) == len(every)
        rng = np.random.default_rng(0)
        for _ in range(20):  # each image augment draws is one of the image's views
            drawn = augment(rows, rng, shift=shift)
            for i in range(len(rows)):
                assert any(np.array_equal(drawn[i], view[i]) for view in every)


def test_augment_rejects_rows_that_are_not_images():
    with pytest.raises(ValueError, match="32x32xC"):
        augment(np.zeros((4, 1000), np.float32), np.random.default_rng(0), 2)


# -- evaluation -------------------------------------------------------------------------------

def test_evaluate_in_batches_equals_one_batch_and_the_probabilities(gray):
    model = MLP([1024, 32, 10], batchnorm=True, dropout=0.3, seed=0)
    loss_small, acc_small = evaluate(model, gray.x_val, gray.y_val, batch_size=7)
    loss_one, acc_one = evaluate(model, gray.x_val, gray.y_val, batch_size=len(gray.x_val))
    assert loss_small == pytest.approx(loss_one, rel=1e-6)
    assert acc_small == acc_one

    proba = model.predict_proba(gray.x_val).astype(np.float64)
    expected = -np.log(proba[np.arange(len(gray.y_val)), gray.y_val]).mean()
    assert loss_one == pytest.approx(expected, rel=1e-5)
    assert acc_one == np.mean(model.predict(gray.x_val) == gray.y_val)


# -- input checks -------------------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    (lambda a: {**a, "y_train": a["y_train"][:-1]}, "1500 rows but y_train"),
    (lambda a: {**a, "x_train": a["x_train"][:0], "y_train": a["y_train"][:0]}, "empty"),
    (lambda a: {**a, "x_val": a["x_val"][:, :100]}, "1024 features"),
    (lambda a: {**a, "y_val": a["y_val"] + 10}, "y_val"),
    (lambda a: {**a, "x_train": np.where(np.eye(1500, 1024) > 0, np.nan, a["x_train"])}, "NaN"),
    (lambda a: {**a, "epochs": 0}, "epochs"),
    (lambda a: {**a, "batch_size": 0}, "batch_size"),
    (lambda a: {**a, "patience": 0}, "patience"),
    (lambda a: {**a, "divergence_factor": 0.5}, "divergence_factor"),
])
def test_bad_inputs_raise_value_errors(gray, change, message):
    arguments = dict(x_train=gray.x_train, y_train=gray.y_train, x_val=gray.x_val,
                     y_val=gray.y_val, epochs=1, progress=False)
    with pytest.raises(ValueError, match=message):
        train(MLP([1024, 8, 10], seed=0), SGD(0.01), **change(arguments))


@pytest.mark.parametrize("test_shift", [0, 1])
def test_test_time_augmentation_scores_the_mean_of_the_views(gray, test_shift):
    model, _ = fit(gray, epochs=2)
    x, y = gray.x_val, gray.y_val
    mean = np.mean([model.predict_proba(view).astype(np.float64) for view in views(x, test_shift)],
                   axis=0)
    loss, accuracy = evaluate(model, x, y, batch_size=64, test_shift=test_shift)
    assert accuracy == np.mean(mean.argmax(axis=1) == y)
    assert loss == pytest.approx(-np.log(mean[np.arange(len(y)), y]).mean(), rel=1e-5)
    assert accuracy != evaluate(model, x, y)[1]  # the other views change some predictions


def test_evaluate_rejects_mismatched_inputs(gray):
    with pytest.raises(ValueError, match="one label per row"):
        evaluate(MLP([1024, 8, 10], seed=0), gray.x_val, gray.y_val[:10])


# -- output --------------------------------------------------------------------------------------

def test_progress_is_one_bar_and_nothing_else(gray, capsys):
    fit(gray, MLP([1024, 8, 10], seed=0), epochs=2)
    assert capsys.readouterr() == ("", "")
    fit(gray, MLP([1024, 8, 10], seed=0), epochs=2, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") <= 2 and "val_loss" in err


def test_history_median_seconds():
    assert History(seconds=[3.0, 1.0, 2.0, 100.0]).median_seconds_per_epoch == 2.5
    assert math.isnan(History().median_seconds_per_epoch)


class RecordingMLP(MLP):
    """An MLP that records the first feature of every row it trains on."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def loss(self, x, y, rng=None, return_logits=False):
        self.seen.append(x[:, 0].copy())
        return super().loss(x, y, rng, return_logits)


def test_each_epoch_visits_every_row_once_in_a_new_order(gray):
    x_train = gray.x_train.copy()
    x_train[:, 0] = np.arange(len(x_train))  # the row's index, exact in float32
    model = RecordingMLP([1024, 8, 10], seed=0)
    train(model, SGD(0.001), x_train, gray.y_train, gray.x_val, gray.y_val, epochs=2,
          batch_size=128, progress=False)
    assert [len(batch) for batch in model.seen] == ([128] * 11 + [92]) * 2  # 1,500 rows
    epochs = [np.concatenate(model.seen[:12]), np.concatenate(model.seen[12:])]
    for order in epochs:
        np.testing.assert_array_equal(np.sort(order), np.arange(1500))
    assert not np.array_equal(epochs[0], epochs[1])

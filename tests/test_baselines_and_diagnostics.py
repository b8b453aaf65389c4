"""Chapter 3's baselines (majority class, nearest neighbours, the linear classifier) and
the debugging tools (learning-rate range test, update ratios, dead units)."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from cifar_mlp import diagnostics
from cifar_mlp.baselines import BASELINES, KNN, MAJORITY, vote
from cifar_mlp.experiments import RECIPES, build
from cifar_mlp.gradcheck import check_model_gradients
from cifar_mlp.model import MLP
from cifar_mlp.optim import SGD
from cifar_mlp.preprocess import Prepared
from cifar_mlp.runs import run

CLASSES = tuple(f"class {c}" for c in range(3))


def clusters(n_per_class: int, seed: int, spread: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Points around three far-apart centres, one class each, in a random order."""
    rng = np.random.default_rng(seed)
    centres = np.eye(3, 8) * 5
    y = np.repeat(np.arange(3), n_per_class)
    x = centres[y] + spread * rng.standard_normal((len(y), 8))
    order = rng.permutation(len(y))
    return x[order].astype(np.float32), y[order]


def prepared_clusters(train_counts=(30, 30, 30)) -> Prepared:
    """Three well-separated classes; the training split has the given class counts."""
    x_parts, y_parts = zip(*(clusters(n, seed=c) for c, n in enumerate(train_counts)))
    x_all, y_all = np.concatenate(x_parts), np.concatenate(y_parts)
    keep = np.concatenate([np.flatnonzero(y_all == c)[:n] for c, n in enumerate(train_counts)])
    (x_val, y_val), (x_test, y_test) = clusters(10, seed=7), clusters(10, seed=8)
    return Prepared(x_all[keep], y_all[keep], x_val, y_val, x_test, y_test, "rgb", CLASSES,
                    "sample", None)


def test_the_majority_baseline_answers_the_most_frequent_training_class():
    prepared = prepared_clusters(train_counts=(10, 40, 20))
    model = MAJORITY.fit(prepared)
    assert model.predicted_class == 1 and model.predict(prepared.x_test).tolist() == [1] * 30
    assert BASELINES.evaluate(model, prepared.x_test, prepared.y_test) == (None, pytest.approx(1 / 3))


def test_vote_takes_the_most_common_of_the_first_k_labels_and_the_smaller_label_on_ties():
    labels = np.array([[2, 2, 1, 1, 1], [0, 1, 2, 1, 0]])
    assert vote(labels, 1, 3).tolist() == [2, 0]
    assert vote(labels, 2, 3).tolist() == [2, 0]  # a tie of 0 and 1: the smaller
    assert vote(labels, 5, 3).tolist() == [1, 0]


def test_nearest_neighbours_choose_k_on_validation_and_find_separated_classes():
    prepared = prepared_clusters()
    model = replace(KNN, ks=(1, 3, 5)).fit(prepared)
    assert model.k == 1  # every k is perfect: the smallest among equals
    assert set(model.val_accuracy_by_k) == {1, 3, 5} and min(model.val_accuracy_by_k.values()) == 1.0
    assert BASELINES.evaluate(model, prepared.x_test, prepared.y_test)[1] == 1.0


def test_nearest_neighbours_choose_the_k_that_does_best_on_validation():
    """Labels of the training points flipped at random: one neighbour copies the noise,
    many neighbours vote it away, so a larger k must win on clean validation labels."""
    prepared = prepared_clusters(train_counts=(40, 40, 40))
    rng = np.random.default_rng(0)
    noisy = rng.random(len(prepared.y_train)) < 0.3
    prepared.y_train = np.where(noisy, rng.integers(0, 3, len(noisy)), prepared.y_train)
    model = replace(KNN, ks=(1, 15)).fit(prepared)
    assert model.val_accuracy_by_k[15] > model.val_accuracy_by_k[1] and model.k == 15


def test_a_baseline_goes_through_run_computed_once_and_reused_while_data_and_code_stay(
        tmp_path, capsys):
    prepared = prepared_clusters()
    settings = dict(framework=BASELINES, results_dir=tmp_path, weights_dir=tmp_path, progress=False)
    first = run(KNN, prepared, max_epochs=3, **settings)
    assert "training knn (baseline): no saved model" in capsys.readouterr().out
    again = run(KNN, prepared, **settings)
    assert "training" not in capsys.readouterr().out
    assert again["model"].k == first["model"].k
    assert again["test_accuracy"] == first["test_accuracy"] == 1.0
    written = json.loads((tmp_path / "knn.json").read_text())
    assert written["test_accuracy"] == 1.0 and written["epochs"] == 0 and written["test_loss"] is None
    assert written["seconds_per_epoch"] is None  # no epochs: no NaN in a JSON file
    assert written["framework"] == "baseline" and written["parameters"] == 0
    prepared.y_train = prepared.y_train[:-5]  # other data: computed again
    prepared.x_train = prepared.x_train[:-5]
    run(KNN, prepared, **settings)
    assert "the saved model is stale" in capsys.readouterr().out


def test_the_linear_classifier_is_the_mlp_without_a_hidden_layer_and_its_gradients_check():
    assert RECIPES["linear"].layer_sizes(3072) == [3072, 10]
    model = MLP([12, 10], seed=0, dtype=np.float64)
    assert set(model.params) == {"W1", "b1"}
    x, y = np.random.default_rng(1).standard_normal((6, 12)), np.arange(6) % 10
    errors = check_model_gradients(model, x, y, h=3e-6, floor=1e-2)
    assert max(errors.values()) < 1e-7, errors


def test_smoothed_is_an_exponential_average_corrected_for_its_start():
    assert diagnostics.smoothed([2.0, 2.0, 2.0]).tolist() == pytest.approx([2.0, 2.0, 2.0])
    values = diagnostics.smoothed([0.0, 10.0], weight=0.5)
    assert values.tolist() == pytest.approx([0.0, (0.5 * 10) / (1 - 0.25)])


def test_the_range_test_raises_the_rate_geometrically_and_stops_when_the_loss_explodes():
    model = MLP([8, 16, 3], seed=0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 8)), rng.integers(0, 3, 64)  # noise: no rate solves it
    batches = diagnostics.endless_minibatches(x, y, 16, rng)
    lrs, losses = diagnostics.lr_range_test(model, SGD(0.0), batches, lr_min=1e-3, lr_max=1e3,
                                            steps=60)
    assert len(lrs) == len(losses) < 60  # stopped before the largest rates
    assert lrs[0] == pytest.approx(1e-3) and np.allclose(lrs[1:] / lrs[:-1], lrs[1] / lrs[0])
    assert not np.isfinite(losses[-1]) or losses[-1] > 4 * losses.min()


def test_update_ratios_measure_each_weight_matrix_step_against_its_size():
    before = {"W1": np.ones((2, 2)), "b1": np.zeros(2), "W2": np.full((2, 1), 2.0)}
    after = {"W1": before["W1"] * 1.01, "b1": np.ones(2), "W2": before["W2"] - 0.2}
    ratios = diagnostics.update_ratios(before, after)
    assert set(ratios) == {"W1", "W2"}  # biases are not weight matrices
    assert ratios["W1"] == pytest.approx(0.01) and ratios["W2"] == pytest.approx(0.1)


def test_dead_fractions_count_units_that_never_fire_on_the_probe():
    model = MLP([4, 4, 2], seed=0)
    model.params["W1"][:] = np.eye(4, dtype=np.float32)
    model.params["b1"][:] = [0.0, 0.0, -100.0, -100.0]  # units 3 and 4 can never fire
    x = np.abs(np.random.default_rng(0).standard_normal((20, 4))).astype(np.float32) + 0.1
    assert diagnostics.dead_fractions(model, x) == [0.5]


def test_diagnosed_training_trains_and_logs_every_few_steps():
    model, optimizer, _ = build(RECIPES["seed_rgb"], 8)
    x, y = clusters(30, seed=2)
    y = y % 10
    batches = diagnostics.endless_minibatches(x, y, 16, np.random.default_rng(0))
    start = model.params["W1"].copy()
    log = diagnostics.diagnosed_training(model, optimizer, batches, x[:10], steps=25, every=10)
    assert log["step"] == [0, 10, 20] and log["probe_images"] == 10
    assert set(log["update_ratio"]) == {"W1", "W2", "W3"}
    assert all(len(ratios) == 3 and all(r > 0 for r in ratios) for ratios in log["update_ratio"].values())
    assert len(log["dead"]) == 3 and all(len(dead) == 2 for dead in log["dead"])
    assert not np.array_equal(model.params["W1"], start) and all(map(math.isfinite, log["loss"]))

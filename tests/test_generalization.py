"""The sweeps of chapter 2's section on under- and overfitting (cifar_mlp.generalization):
their subsets, their bookkeeping, their errors, and that capacity shows on a tiny problem."""

from dataclasses import replace

import numpy as np
import pytest

from cifar_mlp import generalization
from cifar_mlp.experiments import RECIPES
from cifar_mlp.preprocess import Prepared
from cifar_mlp.provenance import TRAINING_MODULES
from cifar_mlp.runs import SCORING_MODULES

CLASSES = tuple(f"class {i}" for i in range(10))
FEATURES = 12


def prepared(n_train=300, n_val=100, seed=0, learnable=False):
    """A tiny problem of 10 classes, every image a distinct random row (so that a row says
    which split and which image it is). With ``learnable`` columns 1 to 10 carry the class;
    otherwise the labels are random."""
    rng = np.random.default_rng(seed)

    def split(n):
        y = rng.integers(0, 10, n)
        x = rng.standard_normal((n, FEATURES)).astype(np.float32)
        if learnable:
            x[:, 1:11] += 2.0 * np.eye(10, dtype=np.float32)[y]
        return x, y

    x_train, y_train = split(n_train)
    x_val, y_val = split(n_val)
    x_test, y_test = split(n_val)
    return Prepared(x_train, y_train, x_val, y_val, x_test, y_test, "rgb", CLASSES, "sample", None)


QUICK = replace(RECIPES["seed_rgb"], name="sweep", l2=0.0, patience=None, schedule="constant",
                epochs=2, batch_size=32)


def test_every_prefix_of_the_order_is_stratified_and_the_prefixes_are_nested():
    y = np.repeat(np.arange(10), [30, 30, 30, 30, 30, 30, 30, 30, 30, 5])  # one class short
    order = generalization.subset_order(y, seed=3)
    assert sorted(order) == list(range(len(y)))  # every training image, once
    for n in range(1, len(y) + 1):
        counts = np.bincount(y[order[:n]], minlength=10)
        full = counts[:9]  # the classes that still have images left
        assert full.max() - full.min() <= 1, n
        if n <= 50:
            assert counts.max() - counts.min() <= 1, n
    assert not np.array_equal(order, generalization.subset_order(y, seed=4))


def test_sweeps_train_on_the_training_split_only(monkeypatch):
    seen = []
    real = generalization.train_recipe

    def spy(recipe, x, y, x_val, y_val, **kwargs):
        seen.append((recipe, x.copy(), y.copy(), x_val.copy()))
        return real(recipe, x, y, x_val, y_val, **kwargs)

    monkeypatch.setattr(generalization, "train_recipe", spy)
    data = prepared()
    where = {row.tobytes(): i for i, row in enumerate(data.x_train)}
    generalization.data_size_sweep(QUICK, data, sizes=[40, 20, 80], seeds=(0,))
    rows = [np.array([where.get(row.tobytes(), -1) for row in x]) for _, x, _, _ in seen]
    assert [len(r) for r in rows] == [20, 40, 80]  # sorted
    for (_, x, y, x_val), r in zip(seen, rows):
        assert (r >= 0).all()  # training images only: no validation or test image
        assert len(set(r)) == len(r)  # each once
        np.testing.assert_array_equal(y, data.y_train[r])  # with their own labels
        np.testing.assert_array_equal(x_val, data.x_val[:len(x_val)])  # watched, not trained on
    assert set(rows[0]) <= set(rows[1]) <= set(rows[2])  # nested
    assert np.bincount(data.y_train[rows[0]], minlength=10).max() == 2  # stratified: 2 a class


def test_capacity_records_are_complete_and_count_the_parameters():
    data = prepared()
    records = generalization.capacity_sweep(QUICK, data, widths=[8, 2], n_train=50,
                                            seeds=(0, 1), depth=2)
    assert [(r["width"], r["seed"]) for r in records] == [(2, 0), (2, 1), (8, 0), (8, 1)]
    for record in records:
        width = record["width"]
        sizes = [FEATURES, width, width, 10]
        assert record["hidden"] == (width, width)
        assert record["parameters"] == sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
        assert record["n_train"] == 50 and record["epochs"] == QUICK.epochs
        for field in generalization.FIELDS:
            assert np.isfinite(record[field])
        assert record["gap"] == pytest.approx(record["train_accuracy"] - record["val_accuracy"])
    # Every width saw the same training images: only the network and the seed change.
    assert len({r["train_accuracy"] for r in records}) > 1
    rows = generalization.summarize(records, "width")
    assert [(row["width"], row["runs"]) for row in rows] == [(2, 2), (8, 2)]
    assert rows[0]["val_accuracy"] == pytest.approx(
        np.mean([r["val_accuracy"] for r in records if r["width"] == 2]))


@pytest.mark.parametrize("call, message", [
    (lambda d: generalization.data_size_sweep(QUICK, d, sizes=[10, 301]), "only 300"),
    (lambda d: generalization.data_size_sweep(QUICK, d, sizes=[0, 10]), "positive"),
    (lambda d: generalization.data_size_sweep(QUICK, d, sizes=[]), "at least one"),
    (lambda d: generalization.capacity_sweep(QUICK, d, widths=[4, 0], n_train=10), "positive"),
    (lambda d: generalization.capacity_sweep(QUICK, d, widths=[-3], n_train=10), "positive"),
    (lambda d: generalization.capacity_sweep(QUICK, d, widths=[2.5], n_train=10), "positive"),
    (lambda d: generalization.capacity_sweep(QUICK, d, widths=[4], n_train=1000), "only 300"),
    (lambda d: generalization.capacity_sweep(QUICK, d, widths=[4], n_train=10, depth=0), "depth"),
])
def test_bad_input_is_a_clear_error_before_any_training(call, message):
    with pytest.raises(ValueError, match=message):
        call(prepared())


def test_contrast_needs_both_points_and_a_spread():
    records = [{"width": w, "gap": g} for w, g in [(1, 0.1), (1, 0.2), (4, 0.5), (4, 0.6)]]
    result = generalization.contrast(records, "width", "gap", 1, 4)
    assert result["change"] == pytest.approx(40.0) and result["verdict"] == "higher"
    assert result["df"] == 2 and 0 < result["band"] < 40
    with pytest.raises(ValueError, match="no runs"):
        generalization.contrast(records, "width", "gap", 1, 16)
    with pytest.raises(ValueError, match="two seeds"):
        generalization.contrast(records[::2], "width", "gap", 1, 4)


def test_a_wide_network_memorizes_what_a_narrow_one_cannot():
    """Random labels: only memorizing fits them, and memorizing takes capacity."""
    recipe = replace(QUICK, epochs=30, lr=0.05)
    records = generalization.capacity_sweep(recipe, prepared(n_train=200), widths=[1, 64],
                                            n_train=200, seeds=(0, 1), depth=1)
    rows = {row["width"]: row for row in generalization.summarize(records, "width")}
    assert rows[64]["train_accuracy"] > rows[1]["train_accuracy"] + 0.3
    assert rows[64]["gap"] > rows[1]["gap"] + 0.3  # chance on validation, either way


def test_more_data_narrows_the_gap_on_a_learnable_problem():
    recipe = replace(QUICK, hidden=(64,), epochs=20, lr=0.05)
    records = generalization.data_size_sweep(recipe, prepared(n_train=400, learnable=True),
                                             sizes=[20, 400], seeds=(0, 1))
    small, large = generalization.summarize(records, "n_train")
    assert large["gap"] < small["gap"] - 0.1
    assert large["val_accuracy"] > small["val_accuracy"]


def test_no_training_or_scoring_module_imports_the_sweeps():
    assert "generalization" not in TRAINING_MODULES
    assert "generalization" not in SCORING_MODULES


def test_l2_records_carry_their_strength_and_the_weights_norms():
    records = generalization.l2_sweep(QUICK, prepared(), l2s=[1e-2, 0.0], n_train=50, seeds=(0, 1))
    assert [(r["l2"], r["seed"]) for r in records] == [(0.0, 0), (0.0, 1), (1e-2, 0), (1e-2, 1)]
    assert all(set(r["weight_norms"]) == {"W1", "W2", "W3"} for r in records)
    rows = generalization.summarize(records, "l2")
    assert [row["l2"] for row in rows] == [0.0, 1e-2]
    assert rows[0]["weight_norms"]["W1"] == pytest.approx(
        np.mean([r["weight_norms"]["W1"] for r in records if r["l2"] == 0.0]))


@pytest.mark.parametrize("l2s, message", [([], "at least one"), ([-1e-3], "non-negative"),
                                          ([float("nan")], "non-negative"), (["a"], "number")])
def test_bad_l2_strengths_are_a_clear_error(l2s, message):
    with pytest.raises(ValueError, match=message):
        generalization.l2_sweep(QUICK, prepared(), l2s=l2s, n_train=10)


def test_a_stronger_l2_penalty_shrinks_the_weights():
    recipe = replace(QUICK, hidden=(32,), epochs=10, lr=0.05)
    records = generalization.l2_sweep(recipe, prepared(), l2s=[0.0, 0.05], n_train=100, seeds=(0,))
    weak, strong = generalization.summarize(records, "l2")
    for name in ("W1", "W2"):
        assert strong["weight_norms"][name] < 0.8 * weak["weight_norms"][name]

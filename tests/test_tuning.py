"""Each optimizer at its own tuned learning rate (cifar_mlp.tuning): the sweep's bookkeeping,
the choice of each method's rate, the confirmation with new seeds, divergence recorded
rather than raised, clear errors, the figure, and one real run on the sample."""

from dataclasses import replace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cifar_mlp import generalization, plots, tuning  # noqa: E402
from cifar_mlp.data import load_sample  # noqa: E402
from cifar_mlp.experiments import RECIPES  # noqa: E402
from cifar_mlp.generalization import subset_order  # noqa: E402
from cifar_mlp.preprocess import Prepared, prepare  # noqa: E402
from cifar_mlp.provenance import TRAINING_MODULES  # noqa: E402
from cifar_mlp.runs import SCORING_MODULES  # noqa: E402
from cifar_mlp.safety import TrainingDiverged  # noqa: E402
from cifar_mlp.train import History  # noqa: E402

CLASSES = tuple(f"class {i}" for i in range(10))
QUICK = replace(RECIPES["seed_rgb"], name="tuning", l2=0.0, patience=None,
                schedule="constant", epochs=2, batch_size=32)
GRIDS = {"SGD": [0.1, 0.01, 1.0], "momentum 0.9": [0.001, 0.01, 0.1], "Adam": [1e-4, 1e-3, 1e-2]}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def tiny(n_train=60, n_val=20):
    """A tiny problem of 10 classes with random rows: the fake fits never train on it."""
    rng = np.random.default_rng(0)
    splits = [(rng.standard_normal((n, 4)).astype(np.float32), np.arange(n) % 10)
              for n in (n_train, n_val, n_val)]
    return Prepared(*splits[0], *splits[1], *splits[2], "rgb", CLASSES, "sample", None)


class FakeFit:
    """Stands in for fit_and_score: remembers every call and returns ``accuracy(recipe)``
    as the validation accuracy; raises TrainingDiverged when ``accuracy`` gives None."""

    def __init__(self, accuracy):
        self.accuracy, self.calls = accuracy, []

    def __call__(self, recipe, prepared, indices):
        self.calls.append((recipe, np.array(indices)))
        accuracy = self.accuracy(recipe)
        if accuracy is None:
            raise TrainingDiverged("the batch loss is nan", epoch=2, step=3,
                                   history=History(train_loss=[2.3], train_acc=[0.1],
                                                   val_loss=[2.3], val_acc=[0.1]))
        return {"hidden": recipe.hidden, "n_train": len(indices), "seed": recipe.seed,
                "epochs": recipe.epochs, "train_accuracy": accuracy, "val_accuracy": accuracy,
                "seconds": 0.5}


def faked(monkeypatch, accuracy):
    fake = FakeFit(accuracy)
    monkeypatch.setattr(generalization, "fit_and_score", fake)
    return fake


def peaked(best):
    """A fake accuracy that peaks at the rate ``best[method]`` of each method (by its
    optimizer and momentum) and falls by 10 points per decade away from it."""
    def accuracy(recipe):
        method = ("Adam" if recipe.optimizer == "adam" else
                  "momentum 0.9" if recipe.momentum == 0.9 else "SGD")
        return 0.5 - 0.1 * abs(np.log10(recipe.lr / best[method])) + 0.001 * recipe.seed
    return accuracy


def sweep_records(accuracies: dict) -> list:
    """Sweep records from ``{(method, lr): [val_accuracy of seed 0, of seed 1, ...]}``."""
    return [{"method": method, "lr": lr, "seed": seed, "n_train": 50,
             "val_accuracy": accuracy, "diverged": False}
            for (method, lr), values in accuracies.items() for seed, accuracy in enumerate(values)]


def test_one_record_per_method_rate_and_seed_each_with_its_own_recipe(monkeypatch):
    fake = faked(monkeypatch, peaked({"SGD": 0.1, "momentum 0.9": 0.01, "Adam": 1e-3}))
    data = tiny()
    records = tuning.rate_sweep(QUICK, data, methods=tuning.METHODS, rates=GRIDS, n_train=30,
                                seeds=(0, 1), subset_seed=2)
    expected = [(method, lr, seed) for method in tuning.METHODS
                for lr in sorted(GRIDS[method]) for seed in (0, 1)]
    assert [(r["method"], r["lr"], r["seed"]) for r in records] == expected
    for record, (recipe, indices) in zip(records, fake.calls):
        assert (recipe.lr, recipe.seed) == (record["lr"], record["seed"])
        for field, value in tuning.METHODS[record["method"]].items():
            assert getattr(recipe, field) == value, (record["method"], field)
        assert recipe.hidden == QUICK.hidden and recipe.epochs == QUICK.epochs
        # the same stratified subset of the training split for every run
        np.testing.assert_array_equal(indices, subset_order(data.y_train, 2)[:30])
        assert record["diverged"] is False


def test_tuned_picks_the_highest_mean_over_the_seeds_not_the_best_single_run():
    records = sweep_records({("SGD", 0.01): [0.30, 0.32], ("SGD", 0.1): [0.45, 0.15],
                             ("SGD", 1.0): [0.10, 0.12], ("Adam", 1e-4): [0.20, 0.22],
                             ("Adam", 1e-3): [0.40, 0.40], ("Adam", 1e-2): [0.38, 0.44]})
    best = tuning.tuned(records)
    assert list(best) == ["SGD", "Adam"]
    assert best["SGD"]["lr"] == 0.01  # mean 0.31, although 0.1 has the best run, 0.45
    assert best["SGD"]["val_accuracy"] == pytest.approx(0.31)
    assert best["Adam"]["lr"] == 1e-2 and best["Adam"]["grid"] == [1e-4, 1e-3, 1e-2]


@pytest.mark.parametrize("means, edge", [([0.3, 0.4, 0.2], False), ([0.4, 0.3, 0.2], True),
                                         ([0.2, 0.3, 0.4], True)])
def test_tuned_flags_a_best_rate_at_either_edge_of_its_grid(means, edge):
    records = sweep_records({("SGD", lr): [m, m] for lr, m in zip([0.3, 0.03, 0.003], means[::-1])})
    assert tuning.tuned(records)["SGD"]["at_edge"] is edge


def test_a_diverged_run_is_recorded_at_chance_and_the_sweep_goes_on(monkeypatch):
    best = {"SGD": 0.1, "momentum 0.9": 0.01, "Adam": 1e-3}
    healthy = peaked(best)
    faked(monkeypatch, lambda recipe: None if recipe.lr >= 1.0 and recipe.seed == 1
          else healthy(recipe))
    records = tuning.rate_sweep(QUICK, tiny(), methods=tuning.METHODS, rates=GRIDS,
                                n_train=30, seeds=(0, 1))
    assert len(records) == 18  # nothing stopped the sweep
    [failed] = [r for r in records if r["diverged"]]
    assert (failed["method"], failed["lr"], failed["seed"]) == ("SGD", 1.0, 1)
    assert failed["val_accuracy"] == failed["train_accuracy"] == 0.1  # chance: 1 class in 10
    assert failed["epochs"] == 1  # the epochs completed before it diverged
    rows = {(row["method"], row["lr"]): row for row in tuning.summarize(records)}
    assert rows["SGD", 1.0]["diverged"] == 1 and rows["SGD", 0.1]["diverged"] == 0
    assert rows["SGD", 1.0]["val_accuracy"] == pytest.approx((0.4 + 0.1) / 2)  # seed 0 and chance
    assert {method: choice["lr"] for method, choice in tuning.tuned(records).items()} == best


def test_an_unexpected_error_is_not_taken_for_divergence(monkeypatch):
    def broken(recipe):
        raise RuntimeError("a bug, not a divergence")
    faked(monkeypatch, broken)
    with pytest.raises(RuntimeError, match="a bug"):
        tuning.rate_sweep(QUICK, tiny(), methods=tuning.METHODS, rates=GRIDS, n_train=30)


def test_confirm_retrains_each_tuned_rate_with_new_seeds_on_the_same_images(monkeypatch):
    best = {"SGD": 0.1, "momentum 0.9": 0.01, "Adam": 1e-3}
    fake = faked(monkeypatch, peaked(best))
    data = tiny()
    sweep = tuning.rate_sweep(QUICK, data, methods=tuning.METHODS, rates=GRIDS, n_train=30,
                              seeds=(0, 1), subset_seed=2)
    fake.calls.clear()
    confirmed = tuning.confirm(QUICK, data, sweep, methods=tuning.METHODS, seeds=(7, 8, 9),
                               subset_seed=2)
    assert [(r["method"], r["lr"], r["seed"]) for r in confirmed] == [
        (method, best[method], seed) for method in best for seed in (7, 8, 9)]
    for record, (recipe, indices) in zip(confirmed, fake.calls):
        assert recipe.lr == record["lr"] and recipe.seed == record["seed"]
        assert recipe.optimizer == tuning.METHODS[record["method"]]["optimizer"]
        np.testing.assert_array_equal(indices, subset_order(data.y_train, 2)[:30])
    pairs = tuning.comparisons(confirmed)
    assert [(p["first"], p["second"]) for p in pairs] == [
        ("SGD", "momentum 0.9"), ("SGD", "Adam"), ("momentum 0.9", "Adam")]


def test_comparisons_give_each_pair_its_change_band_and_verdict():
    confirmed = [{"method": method, "val_accuracy": accuracy}
                 for method, values in [("A", [0.40, 0.42]), ("B", [0.50, 0.52]),
                                        ("C", [0.41, 0.43])] for accuracy in values]
    a_b, a_c, b_c = tuning.comparisons(confirmed)
    # pooled spread: sqrt(3 * 2 * 1**2 / 3) points, 3 degrees of freedom
    band = 3.182446 * np.sqrt(2) * np.sqrt(1 / 2 + 1 / 2)
    for pair in (a_b, a_c, b_c):
        assert pair["df"] == 3 and pair["band"] == pytest.approx(band, rel=1e-5)
    assert a_b["change"] == pytest.approx(10.0) and a_b["verdict"] == "higher"
    assert a_c["change"] == pytest.approx(1.0) and a_c["verdict"] == "within noise"
    assert b_c["change"] == pytest.approx(-9.0) and b_c["verdict"] == "lower"


def test_momentum_steps_like_plain_sgd_at_its_rate_over_one_minus_beta():
    assert tuning.sgd_equivalent(0.01, 0.9) == pytest.approx(0.1)
    assert tuning.sgd_equivalent(0.01, 0.0) == 0.01


def never_trains(monkeypatch):
    faked(monkeypatch, lambda recipe: pytest.fail("trained before checking its inputs"))


@pytest.mark.parametrize("changes, message", [
    ({"methods": {}}, "at least one method"),
    ({"methods": {"SGD": {"optimiser": "sgd"}}, "rates": {"SGD": [1, 2, 3]}}, "not recipe fields"),
    ({"methods": {"SGD": {"lr": 0.1}}, "rates": {"SGD": [1, 2, 3]}}, "sets lr and seed"),
    ({"rates": {"SGD": [0.1, 0.01, 1.0]}}, "one grid per method"),
    ({"rates": {**GRIDS, "RMSprop": [1, 2, 3]}}, "one grid per method"),
    ({"rates": {**GRIDS, "Adam": []}}, "at least 3"),
    ({"rates": {**GRIDS, "Adam": [1e-3, 1e-3, 1e-2]}}, "at least 3"),
    ({"rates": {**GRIDS, "SGD": [0.1, 0.0, 1.0]}}, "positive"),
    ({"rates": {**GRIDS, "SGD": [0.1, -0.01, 1.0]}}, "positive"),
    ({"rates": {**GRIDS, "SGD": [0.1, float("nan"), 1.0]}}, "positive"),
    ({"rates": {**GRIDS, "SGD": [0.1, float("inf"), 1.0]}}, "positive"),
    ({"seeds": ()}, "at least 1"),
    ({"seeds": (0, 0)}, "distinct"),
    ({"seeds": (0, -1)}, "whole numbers"),
    ({"seeds": (0, 1.5)}, "whole numbers"),
    ({"n_train": 61}, "only 60"),
    ({"n_train": 0}, "positive"),
])
def test_bad_sweep_input_is_a_clear_error_before_any_training(monkeypatch, changes, message):
    never_trains(monkeypatch)
    arguments = {"methods": tuning.METHODS, "rates": GRIDS, "n_train": 30, "seeds": (0, 1),
                 **changes}
    with pytest.raises(ValueError, match=message):
        tuning.rate_sweep(QUICK, tiny(), **arguments)


SWEEP = sweep_records({(method, lr): [0.3, 0.32] for method, grid in GRIDS.items()
                       for lr in grid})


@pytest.mark.parametrize("changes, message", [
    ({"seeds": (1, 2)}, r"\[1\] already trained in the sweep"),
    ({"seeds": (5,)}, "at least 2"),
    ({"methods": {"SGD": tuning.METHODS["SGD"]}}, "no recipe changes"),
    ({"sweep": SWEEP + [{**SWEEP[0], "n_train": 40}]}, "one training subset"),
])
def test_bad_confirmation_input_is_a_clear_error_before_any_training(monkeypatch, changes,
                                                                      message):
    never_trains(monkeypatch)
    arguments = {"sweep": SWEEP, "methods": tuning.METHODS, "seeds": (5, 6), **changes}
    with pytest.raises(ValueError, match=message):
        tuning.confirm(QUICK, tiny(), arguments.pop("sweep"), **arguments)


def test_the_figure_draws_each_seed_each_mean_each_tuned_rate_and_each_divergence():
    records = sweep_records({("SGD", 0.01): [0.30, 0.32], ("SGD", 0.1): [0.40, 0.44],
                             ("SGD", 1.0): [0.10, 0.20], ("Adam", 1e-4): [0.35, 0.37],
                             ("Adam", 1e-3): [0.30, 0.30], ("Adam", 1e-2): [0.25, 0.29]})
    records[5]["diverged"] = True  # SGD at 1.0, seed 1
    fig = plots.optimizer_rates(records)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["SGD"].get_xdata()) == [0.01, 0.1, 1.0]
    assert list(lines["SGD"].get_ydata()) == pytest.approx([0.31, 0.42, 0.15])
    assert list(lines["Adam"].get_ydata()) == pytest.approx([0.36, 0.30, 0.27])
    seeds = [line for line in ax.get_lines() if line.get_marker() == "."]
    assert sorted(len(line.get_xdata()) for line in seeds) == [5, 6]  # all but the diverged run
    stars = sorted((line.get_xdata()[0], line.get_ydata()[0]) for line in ax.get_lines()
                   if line.get_marker() == "*")
    assert [lr for lr, _ in stars] == [1e-4, 0.1]
    assert [mean for _, mean in stars] == pytest.approx([0.36, 0.42])
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert [(list(c.get_xdata()), list(c.get_ydata())) for c in crosses] == [([1.0], [0.2])]
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend[:2] == ["SGD", "Adam"] and "diverged" in legend[2] and len(legend) == 3
    assert ax.get_title() and "learning rate" in ax.get_xlabel() and ax.get_ylabel()


def test_the_figure_says_so_when_no_run_diverged():
    fig = plots.optimizer_rates(sweep_records({("SGD", lr): [0.3, 0.31] for lr in (0.01, 0.1, 1)}))
    legend = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert not any("diverged" in t for t in legend)


def test_a_real_sweep_and_confirmation_on_the_sample(sample_dir):
    """The book's own training path, on real images, with a network small enough to take
    seconds: every record is complete, the methods really differ, a rate far too high
    diverges and is recorded, and the confirmation compares the methods."""
    data = prepare(load_sample(sample_dir), "rgb", n_val=500)
    recipe = replace(QUICK, hidden=(16,), epochs=1)
    grids = {"SGD": [0.01, 0.1, 1e3], "momentum 0.9": [1e-4, 0.001, 0.01],
             "Adam": [1e-4, 1e-3, 1e-2]}
    records = tuning.rate_sweep(recipe, data, methods=tuning.METHODS, rates=grids,
                                n_train=200, seeds=(0, 1))
    assert len(records) == 18
    diverged = [(r["method"], r["lr"]) for r in records if r["diverged"]]
    assert diverged == [("SGD", 1e3), ("SGD", 1e3)]
    for record in records:
        assert record["n_train"] == 200 and 0 <= record["val_accuracy"] <= 1
        assert record["seconds"] > 0
    by_run = {(r["method"], r["lr"], r["seed"]): r for r in records}
    # the same rate and seed, with and without momentum: not the same network
    assert by_run["SGD", 0.01, 0]["val_loss"] != by_run["momentum 0.9", 0.01, 0]["val_loss"]
    assert all(by_run["SGD", 1e3, seed]["val_accuracy"] == 0.1 for seed in (0, 1))
    best = tuning.tuned(records)
    confirmed = tuning.confirm(recipe, data, records, methods=tuning.METHODS, seeds=(5, 6))
    assert [(r["method"], r["lr"]) for r in confirmed] == [
        (method, best[method]["lr"]) for method in best for _ in (5, 6)]
    assert len(tuning.comparisons(confirmed)) == 3


def test_no_training_or_scoring_module_imports_the_tuning():
    assert "tuning" not in TRAINING_MODULES
    assert "tuning" not in SCORING_MODULES

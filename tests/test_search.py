"""Chapter 3's hyperparameter search (cifar_mlp.search): log-uniform sampling, coarse to
fine, the bookkeeping of the trials, and a winner judged with a band that counts the
comparisons."""

import math
from dataclasses import replace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cifar_mlp import generalization, plots, report, search  # noqa: E402
from cifar_mlp.data import load_sample  # noqa: E402
from cifar_mlp.experiments import RECIPES  # noqa: E402
from cifar_mlp.preprocess import Prepared, prepare  # noqa: E402
from cifar_mlp.provenance import TRAINING_MODULES  # noqa: E402
from cifar_mlp.runs import SCORING_MODULES  # noqa: E402
from cifar_mlp.safety import TrainingDiverged  # noqa: E402

SPACE = {"lr": ("log", 1e-4, 1e-1), "l2": ("log", 1e-6, 1e-2),
         "dropout": ("uniform", 0.0, 0.5), "batch_size": ("choice", [32, 64, 128])}
QUICK = replace(RECIPES["seed_rgb"], name="search", hidden=(16,), patience=None,
                schedule="constant", epochs=1, batch_size=32)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def draws(space=SPACE, n=3000, seed=0):
    """``n`` configurations of ``space``, one array per name."""
    configurations = search.sample(space, n, np.random.default_rng(seed))
    return {name: [c[name] for c in configurations] for name in space}


def test_log_uniform_gives_each_decade_the_same_share_of_the_trials():
    lr = np.log10(draws()["lr"])  # 1e-4 to 1e-1: three decades
    shares = np.histogram(lr, bins=[-4, -3, -2, -1])[0] / len(lr)
    np.testing.assert_allclose(shares, 1 / 3, atol=0.04)  # uniform on the line: 0.1%, 0.9%, 99%
    np.testing.assert_allclose(np.quantile(lr, [0.25, 0.5, 0.75]), [-3.25, -2.5, -1.75], atol=0.1)


def test_uniform_is_uniform_on_the_linear_scale():
    dropout = np.array(draws()["dropout"])
    shares = np.histogram(dropout, bins=[0.0, 0.125, 0.25, 0.375, 0.5])[0] / len(dropout)
    np.testing.assert_allclose(shares, 0.25, atol=0.04)


def test_draws_stay_within_their_bounds_and_choices_come_from_the_list():
    values = draws()
    for name in ("lr", "l2", "dropout"):
        _, low, high = SPACE[name]
        assert low <= min(values[name]) and max(values[name]) <= high, name
    assert set(values["batch_size"]) == {32, 64, 128}  # each value, and no other
    hidden = draws({"hidden": ("choice", [(64,), (256, 128)])}, n=50)["hidden"]
    assert set(hidden) == {(64,), (256, 128)}  # the values themselves, tuples included


def test_the_draws_are_reproducible_from_the_seed():
    assert draws(seed=3) == draws(seed=3)
    assert draws(seed=3)["lr"] != draws(seed=4)["lr"]


TRIALS = [{"lr": lr, "dropout": p, "batch_size": b, "val_accuracy": acc, "diverged": False}
          for lr, p, b, acc in [(1e-4, 0.0, 32, 0.20), (1e-3, 0.1, 64, 0.45),
                                (1e-2, 0.2, 128, 0.50), (3e-2, 0.3, 64, 0.40),
                                (1e-1, 0.5, 32, 0.10)]]
NARROW_SPACE = {"lr": ("log", 1e-5, 1.0), "dropout": ("uniform", 0.0, 0.5),
                "batch_size": ("choice", [32, 64, 128])}


def test_narrowing_spans_the_top_trials_plus_a_margin_in_log_space_for_log_dimensions():
    finer = search.narrow(NARROW_SPACE, TRIALS, top=3, margin=0.1)
    # The top 3 span lr 1e-3 to 3e-2; a tenth of 5 decades is half a decade each side.
    assert finer["lr"] == ("log", pytest.approx(10 ** -3.5), pytest.approx(3e-2 * 10 ** 0.5))
    # dropout 0.1 to 0.3, and a tenth of 0.5 each side
    assert finer["dropout"] == ("uniform", pytest.approx(0.05), pytest.approx(0.35))
    assert finer["batch_size"] == NARROW_SPACE["batch_size"]  # a choice is left as it was


def test_narrowing_never_widens_a_range():
    finer = search.narrow(NARROW_SPACE, TRIALS, top=5, margin=0.3)  # the edges are tried
    assert finer["lr"] == ("log", pytest.approx(1e-5), pytest.approx(1.0))
    rng = np.random.default_rng(0)
    for _ in range(50):
        records = [{**c, "val_accuracy": rng.random(), "diverged": False}
                   for c in search.sample(SPACE, 6, rng)]
        finer = search.narrow(SPACE, records, top=int(rng.integers(1, 7)))
        for name in ("lr", "l2", "dropout"):
            kind, low, high = SPACE[name]
            _, new_low, new_high = finer[name]
            assert low <= new_low < new_high <= high, name


def test_narrowing_names_what_is_wrong():
    with pytest.raises(ValueError, match="top"):
        search.narrow(NARROW_SPACE, TRIALS, top=0)
    with pytest.raises(ValueError, match="top"):
        search.narrow(NARROW_SPACE, TRIALS, top=6)
    with pytest.raises(ValueError, match="margin"):
        search.narrow(NARROW_SPACE, TRIALS, top=2, margin=-0.1)
    with pytest.raises(ValueError, match="'l2'"):
        search.narrow({"l2": ("log", 1e-5, 1e-2)}, TRIALS, top=2)


def test_the_corrected_band_grows_with_the_number_of_comparisons():
    assert search.corrected_level(1) == report.BAND_LEVEL
    bands = [report.noise(1.0, 2, 2, df=6, level=search.corrected_level(k)) for k in (1, 2, 4, 8)]
    assert bands[0] == pytest.approx(report.noise(1.0, 2, 2, df=6))
    assert all(np.diff(bands) > 0)


def test_judging_counts_every_comparison_with_the_reference():
    points = {"winner": [50.0, 51.0], "second": [47.5, 48.5], "third": [45.0, 46.0],
              "fourth": [49.0, 50.0]}
    records = [{"label": label, "val_accuracy": value / 100, "diverged": False}
               for label, values in points.items() for value in values]
    judged = search.judge(records, "winner")
    assert judged["comparisons"] == 3
    assert judged["level"] == pytest.approx(1 - (1 - report.BAND_LEVEL) / 3)
    std = report.pooled_std(points.values())
    assert judged["noise"] == pytest.approx(report.noise(std, 2, 2, df=4, level=judged["level"]))
    assert judged["changes"]["second"] == pytest.approx(-2.5)
    # 2.5 points is outside the uncorrected band, inside the corrected one
    assert report.noise(std, 2, 2, df=4) < 2.5 < judged["noise"]
    assert judged["verdicts"] == {"second": "within noise", "third": "lower",
                                  "fourth": "within noise"}
    assert judged["means"]["winner"] == pytest.approx(50.5)
    with pytest.raises(ValueError, match="two contenders"):
        search.judge(records[:2], "winner")


def test_the_best_of_more_trials_lands_further_above_their_mean():
    assert search.expected_maximum(1) == pytest.approx(0.0, abs=1e-9)
    assert search.expected_maximum(2) == pytest.approx(1 / math.sqrt(math.pi))
    maxima = [search.expected_maximum(n) for n in (1, 2, 5, 10, 20, 100)]
    assert all(np.diff(maxima) > 0)
    drawn = np.random.default_rng(0).standard_normal((20000, 10)).max(axis=1).mean()
    assert search.expected_maximum(10) == pytest.approx(drawn, abs=0.02)
    with pytest.raises(ValueError, match="n"):
        search.expected_maximum(0)


def tiny_prepared(n_train=120, n_val=30):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n_train + 2 * n_val, 6)).astype(np.float32)
    y = np.arange(len(x)) % 10
    return Prepared(x[:n_train], y[:n_train], x[n_train:-n_val], y[n_train:-n_val],
                    x[-n_val:], y[-n_val:], "rgb", tuple("abcdefghij"), "sample", None)


@pytest.fixture
def fake_fit(monkeypatch):
    """search.fit_and_score replaced by a record that depends on the recipe only (the
    best learning rate 1e-2; above 0.3 training diverges), and a list of what it was
    asked to train."""
    calls = []

    def fit(recipe, prepared, indices):
        calls.append((recipe, np.array(indices)))
        if recipe.lr > 0.3:
            raise TrainingDiverged("the batch loss is nan", epoch=1, step=3, history=None)
        accuracy = 0.5 - 0.1 * (math.log10(recipe.lr) + 2) ** 2
        return {"seed": recipe.seed, "n_train": len(indices), "val_accuracy": accuracy,
                "train_accuracy": accuracy + 0.1, "seconds": 0.01}

    monkeypatch.setattr(generalization, "fit_and_score", fit)
    return calls


def test_each_trial_trains_its_configuration_with_its_own_seed_on_one_subset(fake_fit):
    space = {"lr": ("log", 1e-4, 0.3), "batch_size": ("choice", [32, 64])}
    data = tiny_prepared()
    records = search.random_search(QUICK, data, space, n_trials=5, n_train=40, seed=7)
    assert len(records) == len(fake_fit) == 5
    configurations = search.sample(space, 5, np.random.default_rng(7))
    for record, configuration, (recipe, indices) in zip(records, configurations, fake_fit):
        assert {name: record[name] for name in space} == configuration
        assert (recipe.lr, recipe.batch_size) == (configuration["lr"], configuration["batch_size"])
        assert recipe.hidden == QUICK.hidden and recipe.epochs == QUICK.epochs  # the rest kept
        np.testing.assert_array_equal(indices, fake_fit[0][1])  # every trial, the same images
    assert [r["seed"] for r in records] == [7, 8, 9, 10, 11]
    assert np.bincount(data.y_train[fake_fit[0][1]], minlength=10).tolist() == [4] * 10
    assert search.new_seeds(records, 2) == [12, 13]


def test_finalists_are_the_best_trials_labelled_by_their_settings(fake_fit):
    space = {"lr": ("log", 1e-4, 0.3)}
    records = search.random_search(QUICK, tiny_prepared(), space, n_trials=8, n_train=40)
    finalists = search.finalists(records, space, top=3)
    best = sorted(records, key=lambda r: -r["val_accuracy"])[:3]
    assert list(finalists.values()) == [{"lr": r["lr"]} for r in best]
    assert list(finalists)[0] == search.describe({"lr": best[0]["lr"]})
    assert search.settings(RECIPES["best"], {"lr": 0, "l2": 0}) == {"lr": 0.05, "l2": 2.5e-4}
    alike = [{"lr": lr, "val_accuracy": acc, "diverged": False}
             for lr, acc in [(0.0701, 0.5), (0.0704, 0.4), (0.01, 0.3)]]
    with pytest.raises(ValueError, match="alike"):
        search.finalists(alike, space, top=2)


def test_a_trial_that_diverges_is_noted_and_left_out_of_the_ranking(fake_fit):
    space = {"lr": ("log", 1e-3, 10.0)}
    records = search.random_search(QUICK, tiny_prepared(), space, n_trials=12, n_train=40)
    diverged = [r for r in records if r["lr"] > 0.3]
    assert diverged and len(records) == 12  # the search went on
    assert all(r["diverged"] and math.isnan(r["val_accuracy"]) for r in diverged)
    assert not any(r["diverged"] for r in records if r["lr"] <= 0.3)
    finer = search.narrow(space, records, top=len(records) - len(diverged), margin=0.0)
    assert finer["lr"][2] == pytest.approx(max(r["lr"] for r in records if r["lr"] <= 0.3))
    with pytest.raises(ValueError, match="diverge"):
        search.narrow(space, records, top=len(records))
    assert all(c["lr"] <= 0.3 for c in search.finalists(records, space, top=3).values())
    confirmation = search.confirm(QUICK, tiny_prepared(), {"ok": {"lr": 0.01}, "no": {"lr": 1.0}},
                                  seeds=[50, 51], n_train=40)
    with pytest.raises(ValueError, match="'no'.*diverged"):
        search.judge(confirmation, "ok")
    lines = search.table(records, space).splitlines()
    assert lines[0] == "| lr | validation accuracy | seconds |" and len(lines) == 2 + 12
    assert "diverged" not in "".join(lines[:-len(diverged)])  # the best first, diverged last
    best = max((r for r in records if not r["diverged"]), key=lambda r: r["val_accuracy"])
    assert lines[2] == f"| {best['lr']:.3g} | {best['val_accuracy']:.1%} | {best['seconds']:.1f} |"
    assert all("diverged" in line for line in lines[-len(diverged):])
    fig = plots.search_trials({"coarse": records}, space)
    crosses = [line for line in fig.axes[0].get_lines() if line.get_marker() == "x"]
    assert sorted(crosses[0].get_xdata()) == sorted(r["lr"] for r in diverged)


def test_confirmation_retrains_every_contender_with_every_new_seed(fake_fit):
    contenders = {"slow": {"lr": 1e-3}, "fast": {"lr": 1e-1}}
    records = search.confirm(QUICK, tiny_prepared(), contenders, seeds=[20, 21], n_train=40)
    assert [(r["label"], r["seed"], r["lr"]) for r in records] == [
        ("slow", 20, 1e-3), ("slow", 21, 1e-3), ("fast", 20, 1e-1), ("fast", 21, 1e-1)]
    assert [recipe.lr for recipe, _ in fake_fit] == [1e-3, 1e-3, 1e-1, 1e-1]
    with pytest.raises(ValueError, match="two seeds"):
        search.confirm(QUICK, tiny_prepared(), contenders, seeds=[20], n_train=40)


@pytest.mark.parametrize("space, message", [
    ({}, "at least one"),
    ({"lr": ("logg", 1e-3, 1.0)}, "kind"),
    ({"lr": ("log", 1e-1, 1e-3)}, "low"),
    ({"lr": ("log", 0.0, 1.0)}, "positive"),
    ({"lr": ("log", 1e-3)}, "low, high"),
    ({"dropout": ("uniform", 0.5, 0.5)}, "low"),
    ({"dropout": ("uniform", 0.0, math.inf)}, "finite"),
    ({"batch_size": ("choice", [])}, "at least one"),
    ({"batch_size": ("choice", 64)}, "list"),
])
def test_a_bad_space_is_a_clear_error(space, message):
    with pytest.raises(ValueError, match=message):
        search.sample(space, 3, np.random.default_rng(0))


@pytest.mark.parametrize("call, message", [
    (lambda d: search.random_search(QUICK, d, {"lr": ("log", 1e-3, 1.0)}, n_trials=0,
                                    n_train=40), "n_trials"),
    (lambda d: search.random_search(QUICK, d, {"lr": ("log", 1e-3, 1.0)}, n_trials=2.5,
                                    n_train=40), "n_trials"),
    (lambda d: search.random_search(QUICK, d, {"learning_rate": ("log", 1e-3, 1.0)},
                                    n_trials=2, n_train=40), "not a recipe setting"),
    (lambda d: search.random_search(QUICK, d, {"seed": ("choice", [1, 2])}, n_trials=2,
                                    n_train=40), "not a recipe setting"),
    (lambda d: search.random_search(QUICK, d, {"lr": ("log", 1e-3, 1.0)}, n_trials=2,
                                    n_train=1000), "only 120"),
])
def test_bad_search_input_is_a_clear_error_before_any_training(call, message, fake_fit):
    with pytest.raises(ValueError, match=message):
        call(tiny_prepared())
    assert fake_fit == []


def test_a_real_search_on_the_sample(sample_dir):
    data = prepare(load_sample(sample_dir), "rgb", n_val=500)
    space = {"lr": ("log", 1e-3, 1e-1)}
    coarse = search.random_search(QUICK, data, space, n_trials=3, n_train=200)
    fine = search.random_search(QUICK, data, search.narrow(space, coarse, top=2), n_trials=2,
                                n_train=200, seed=len(coarse))
    trials = coarse + fine
    assert [r["seed"] for r in trials] == [0, 1, 2, 3, 4]
    for record in trials:
        assert 1e-3 <= record["lr"] <= 1e-1 and record["n_train"] == 200
        assert 0.0 <= record["val_accuracy"] <= 1.0 and np.isfinite(record["val_loss"])
    contenders = {**search.finalists(trials, space, top=2), "book": {"lr": 0.01}}
    confirmation = search.confirm(QUICK, data, contenders, seeds=search.new_seeds(trials, 2),
                                  n_train=200)
    judged = search.judge(confirmation, next(iter(contenders)))
    assert judged["comparisons"] == 2 and np.isfinite(judged["noise"])


def test_the_figure_draws_every_trial_of_every_round_against_every_setting():
    space = {"lr": ("log", 1e-4, 1.0), "dropout": ("uniform", 0.0, 0.5),
             "batch_size": ("choice", [32, 64])}
    rng = np.random.default_rng(0)
    rounds = {name: [{**c, "val_accuracy": rng.random(), "diverged": False}
                     for c in search.sample(space, n, rng)]
              for name, n in (("coarse", 6), ("fine", 4))}
    fig = plots.search_trials(rounds, space, reference={"lr": 0.05, "dropout": 0.0,
                                                        "batch_size": 64},
                              narrowed=search.narrow(space, rounds["coarse"], top=2))
    assert len(fig.axes) == 3
    ax_lr, ax_dropout, ax_batch = fig.axes
    assert ax_lr.get_xscale() == "log" and ax_dropout.get_xscale() == "linear"
    for ax, name in zip(fig.axes, space):
        assert name in ax.get_xlabel() and ax.get_title() and ax.get_ylabel()
        labels = {label.split(" (")[0] for label in ax.get_legend_handles_labels()[1]}
        assert {"coarse", "fine"} <= labels
    assert ax_lr.get_legend() is not None
    series = {line.get_label().split(" (")[0]: line for line in ax_lr.get_lines()}
    for name, records in rounds.items():
        np.testing.assert_allclose(series[name].get_xdata(), [r["lr"] for r in records])
        np.testing.assert_allclose(series[name].get_ydata(), [r["val_accuracy"] for r in records])
    best = max(rounds["coarse"] + rounds["fine"], key=lambda r: r["val_accuracy"])
    marked = [line for line in ax_lr.get_lines() if line.get_label().startswith("best")]
    assert len(marked) == 1 and marked[0].get_xdata()[0] == best["lr"]
    assert any(line.get_xdata()[0] == 0.05 for line in ax_lr.get_lines()
               if line.get_label().startswith("the book"))
    (shaded,) = ax_lr.patches  # the narrowed range, from its low to its high end
    _, low, high = search.narrow(space, rounds["coarse"], top=2)["lr"]
    assert shaded.get_x() == pytest.approx(low) and shaded.get_width() == pytest.approx(high - low)


def test_no_training_or_scoring_module_imports_the_search():
    """An edit to the search retrains and rescores nothing."""
    assert "search" not in TRAINING_MODULES
    assert "search" not in SCORING_MODULES

"""The README's results table and the book's tables are generated from results/*.json."""

import importlib.util
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cifar_mlp import report
from cifar_mlp.book_runs import headline
from cifar_mlp.experiments import ABLATION_ROWS, RECIPES, WITHOUT_TEST_TIME_AUGMENTATION

REPO = Path(__file__).resolve().parent.parent
BEST_LABEL = {name: label for name, label, _ in headline()}["best"]  # with its architecture


def load_script(name):
    """A script of scripts/ imported as a module."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table_matches_the_results_files():
    update_readme = load_script("update_readme")
    readme = update_readme.README.read_text()
    assert update_readme.BEGIN in readme and update_readme.END in readme
    assert update_readme.main(["--check"]) == 0, \
        "README.md's results table is out of date: run python scripts/update_readme.py"


def test_update_readme_check_fails_then_rewrite_fixes_it(tmp_path, monkeypatch, capsys):
    update_readme = load_script("update_readme")
    stale = f"# title\n\n{update_readme.BEGIN}\n| old |\n{update_readme.END}\n\nmore\n"
    readme = tmp_path / "README.md"
    readme.write_text(stale)
    monkeypatch.setattr(update_readme, "README", readme)
    assert update_readme.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().out and readme.read_text() == stale
    assert update_readme.main([]) == 0
    table = update_readme.generated(REPO / "results")
    assert table.startswith(report.markdown_table(report.load_results(REPO / "results")))
    begin, end = update_readme.BEGIN, update_readme.END
    assert readme.read_text() == f"# title\n\n{begin}\n{table}\n{end}\n\nmore\n"
    assert update_readme.main(["--check"]) == 0


def test_table_is_read_from_the_files(tmp_path):
    result = {"test_accuracy": 0.6123, "epochs": 7, "seconds_per_epoch": 1.5,
              "parameters": 1234, "data": "full", "n_train": 45000, "n_val": 5000, "n_test": 10000}
    (tmp_path / "best.json").write_text(json.dumps(result))
    (tmp_path / "keras_best.json").write_text(json.dumps({**result, "test_accuracy": 0.6}))
    table = report.markdown_table(report.load_results(tmp_path))
    assert f"| {BEST_LABEL} | 61.2% | 60.0% | 7 | 1.5 | 1,234 |" in table
    tta = {**result, "test_accuracy_one_view": 0.6011}
    (tmp_path / "best.json").write_text(json.dumps(tta))
    (tmp_path / "knn.json").write_text(json.dumps({**result, "parameters": None,
                                                   "seconds_per_epoch": None, "epochs": "–"}))
    table = report.markdown_table(report.load_results(tmp_path))
    assert f"| {BEST_LABEL} | 61.2% (60.1% with one view) | 60.0% | 7 | 1.5 |" in table
    assert "| Baseline: k-nearest neighbours on the pixels (scikit-learn) | 61.2% | – | – | – | – |" in table
    assert "the full data set: 45,000 training, 5,000 validation and 10,000 test images." in table


def test_empty_results_say_how_to_make_them(tmp_path):
    assert "make notebooks" in report.markdown_table(report.load_results(tmp_path))


def test_execution_table_lists_every_notebook():
    table = report.execution_table(REPO / "notebooks")
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        assert f"| {path.stem} |" in table


def test_training_table_reads_the_training_time(tmp_path):
    result = {"epochs": 3, "seconds_per_epoch": 2.0, "training_seconds": 390.0, "machine": "x"}
    (tmp_path / "best.json").write_text(json.dumps(result))
    table = report.training_table(report.load_results(tmp_path))
    assert "| best | 3 | 2.0 | 6.5 | x |" in table


def test_training_table_leaves_out_models_the_book_no_longer_trains(tmp_path):
    result = {"epochs": 3, "seconds_per_epoch": 2.0, "training_seconds": 390.0, "machine": "x"}
    for name in ("best", "removed_recipe", "keras_best"):
        (tmp_path / f"{name}.json").write_text(json.dumps(result))
    table = report.training_table(report.load_results(tmp_path), ["keras_best", "best", "absent"])
    assert "removed_recipe" not in table and "absent" not in table
    assert table.index("| keras_best |") < table.index("| best |")


def test_training_table_says_which_chapters_show_each_model(tmp_path):
    result = {"epochs": 3, "seconds_per_epoch": 2.0, "training_seconds": 390.0, "machine": "x"}
    for name in ("best", "keras_best"):
        (tmp_path / f"{name}.json").write_text(json.dumps(result))
    table = report.training_table(report.load_results(tmp_path), ["best", "keras_best"],
                                  {"best": (3, 4), "keras_best": (4,)})
    assert "| best | 3, 4 | 3 | 2.0 | 6.5 | x |" in table
    assert "| keras_best | 4 | 3 |" in table


def test_framework_table_compares_each_recipe_trained_in_both(tmp_path):
    result = {"test_accuracy": 0.61, "best_epoch": 9, "seconds_per_epoch": 6.0, "parameters": 1234}
    (tmp_path / "seed_gray.json").write_text(json.dumps(result))
    (tmp_path / "keras_seed_gray.json").write_text(json.dumps(
        {**result, "test_accuracy": 0.605, "best_epoch": 11, "seconds_per_epoch": 12.0}))
    (tmp_path / "best.json").write_text(json.dumps(result))  # no Keras twin: no row
    (tmp_path / "seed_rgb.json").write_text(json.dumps(result))  # not trained in Keras: no row
    table = report.framework_table(report.load_results(tmp_path))
    assert "colour" not in table
    assert "| Seed network, grayscale (1024-512-256-10) | 61.0% / 60.5% | +0.5 | 9 / 11 | 6.0 / 12.0 | 1,234 |" in table
    assert "Best from-scratch" not in table


def test_bench_table_reports_the_committed_measurements_without_project_targets():
    """A reader learns from measurements; targets and "met" verdicts are the project's."""
    bench = json.loads((REPO / "results" / "bench.json").read_text())
    table = report.bench_table(bench)
    ratio = bench["ratios"]["numpy_over_keras_epoch"]
    assert f"= {ratio:.2f} |" in table
    assert f"{bench['ratios']['seed_style_over_numpy']:.1f}x" in table
    for project_words in ("target", "| met", "at least", "at most"):
        assert project_words not in table.lower(), project_words
    assert not {"targets", "targets_met"} & set(bench)
    split = bench["best_epoch_split"]
    assert (f"| {split['fraction_of_bound']:.2f} ({split['epoch_seconds']:.1f} s; its products "
            f"alone at {split['peak']['gflops']:.0f} GFLOP/s: {split['bound_seconds']:.1f} s) |"
            in table)
    assert f"matrix products {split['parts_seconds']['matrix products']:.1f} s" in table


def test_ablation_table_shows_each_rows_seeds_and_its_change_against_the_noise(tmp_path):
    accuracies = {0: (0.60, 0.61, 0.62), 1: (0.55, 0.56, 0.57), 2: (0.605, 0.615, 0.625)}
    for row, values in accuracies.items():
        for seed, accuracy in enumerate(values):
            (tmp_path / f"ablation_{row}_seed{seed}.json").write_text(json.dumps(
                {"val_accuracy": accuracy, "val_accuracy_one_view": accuracy - 0.02 - 0.01 * seed,
                 "seconds_per_epoch": 8.0, "parameters": 1234}))
    rows = report.ablation_rows(report.load_results(tmp_path))
    # Every row spreads by 1 point around its mean: a pooled standard deviation of 1 point
    # with 3 * (3 - 1) = 6 degrees of freedom; a 95% band from Student's t for a difference
    # of two means of 3 seeds: t(0.975, 6) * sqrt(2/3) = 2.447 * 0.816 = 2.00.
    t6, t2 = 2.4469118511449692, 4.302652729911275
    assert [row["verdict"] for row in rows] == ["within noise", "lower", "within noise", "lower"]
    assert rows[1]["noise"] == pytest.approx(t6 * math.sqrt(2 / 3))
    assert rows[1]["df"] == 6
    assert rows[-1]["label"] == WITHOUT_TEST_TIME_AUGMENTATION  # row 0's models, one view each
    # One view costs 2, 3 and 4 points on the same three networks: a paired comparison,
    # whose band (t(0.975, 2) standard errors of the mean difference, 4.30 * 1 / sqrt(3))
    # ignores the seeds' spread, which cancels in each difference.
    assert rows[-1]["change"] == pytest.approx(-3.0)
    assert rows[-1]["noise"] == pytest.approx(t2 / math.sqrt(3))
    assert rows[-1]["df"] == 2
    table = report.ablation_table(report.load_results(tmp_path))
    assert "| best recipe, all ingredients | 61.0% | 60.0% to 62.0% |  |  | 8.0 | 1,234 |" in table
    assert (f"| {ABLATION_ROWS[1][0]} | 56.0% | 55.0% to 57.0% | -5.0 ± 2.0 | "
            "lower | 8.0 | 1,234 |") in table
    assert "| +0.5 ± 2.0 | within noise |" in table


def test_the_ablation_works_with_two_seeds_per_row(tmp_path):
    """The ablation may run with 2 seeds per row: one degree of freedom per row."""
    for row, values in {0: (0.60, 0.62), 1: (0.55, 0.57), 2: (0.60, 0.62)}.items():
        for seed, accuracy in enumerate(values):
            (tmp_path / f"ablation_{row}_seed{seed}.json").write_text(json.dumps(
                {"val_accuracy": accuracy, "val_accuracy_one_view": accuracy - 0.02 - 0.01 * seed,
                 "seconds_per_epoch": 8.0, "parameters": 1234}))
    rows = report.ablation_rows(report.load_results(tmp_path))
    # Each value is 1 point from its row's mean: a pooled variance of 6 / 3 = 2 (3 degrees
    # of freedom); the band of a difference of two means of 2 seeds: t(0.975, 3) * sqrt(2).
    assert rows[1]["df"] == 3 and rows[-1]["df"] == 1
    assert rows[1]["noise"] == pytest.approx(3.182446305284263 * math.sqrt(2))
    # One view costs 2 and 3 points: the differences spread by 0.707, their mean's standard
    # error is 0.5, and the band t(0.975, 1) * 0.5.
    assert rows[-1]["noise"] == pytest.approx(12.706204736174698 * 0.5)


def test_noise_uses_students_t_with_the_degrees_of_freedom_it_is_given():
    assert report.BAND_LEVEL == 0.95  # the level the chapters quote, from this constant
    assert report.t_quantile(2) == pytest.approx(4.302652729911275)
    assert report.noise(1.0, 1, 1, df=2) == pytest.approx(4.302652729911275 * math.sqrt(2))


def test_trials_noise_is_a_95_percent_t_band_over_the_seeds():
    trials = {name: {"final_val_accuracy": accuracy}
              for name, accuracy in zip(report.SEED_TRIALS, (0.60, 0.61, 0.62))}
    noise = report.trials_noise(trials)
    assert noise["std"] == pytest.approx(1.0)
    assert noise["df"] == len(report.SEED_TRIALS) - 1
    assert noise["noise"] == pytest.approx(report.t_quantile(noise["df"]) * math.sqrt(2))


def test_the_trials_file_has_every_trial_of_the_script_that_chapter_3_reads():
    """Chapter 3 says how the best recipe was chosen from results/recipe_trials.json; each
    trial scripts/recipe_trials.py defines has its validation history there, and the table
    shows one row per trial."""
    trials_script = load_script("recipe_trials")
    trials = json.loads((REPO / "results" / "recipe_trials.json").read_text())
    assert list(trials) == list(trials_script.TRIALS)
    for name, trial in trials.items():
        assert len(trial["val_accuracy"]) == trial["epochs"], name
        assert trial["final_val_accuracy"] == trial["val_accuracy"][-1], name
        assert trial["description"] == trials_script.TRIALS[name][0], name
    table = report.trials_table(trials)
    assert table.count("\n") == len(trials) + 1
    assert f"| {trials['chosen_35']['final_val_accuracy']:.1%} |" in table


def test_the_trials_train_the_best_recipe_of_chapter_3_and_its_seeds():
    """The trials that measure the spread between seeds train one recipe with three seeds,
    on standardized inputs; the best recipe of chapter 3 is that recipe with the L2 the
    third round found and the whitening the fifth round trained, each with two seeds
    (the trials never use test-time augmentation; they train for the chosen length, the
    book's best recipe for fewer epochs, within noise of it in the trials, to fit its build)."""
    trials_script = load_script("recipe_trials")
    assert RECIPES["best"].epochs < trials_script.CHOSEN["epochs"]
    best = replace(RECIPES["best"], test_shift=None, epochs=trials_script.CHOSEN["epochs"],
                   description="")
    assert best.whitening == trials_script.FULL_LENGTH_EPSILON
    for seed, name in enumerate(report.SEED_TRIALS):
        _, recipe, standardized = trials_script.TRIALS[name]
        assert recipe == replace(best, l2=0.0, whitening=None, seed=seed, name=recipe.name)
        assert standardized is True
    for seed, name in enumerate(("chosen_l2", "chosen_l2_seed1")):
        assert trials_script.TRIALS[name][1] == replace(best, whitening=None, seed=seed,
                                                        name=RECIPES["best"].name)
    for seed in (0, 1):
        _, recipe, standardized = trials_script.TRIALS[f"best_zca_seed{seed}"]
        assert recipe == replace(best, seed=seed, name=RECIPES["best"].name) and standardized


def test_build_summary_says_how_long_the_last_build_took_and_what_it_trained():
    build = {"date": "2026-12-02T08:00:00+0000", "profile": "full", "data": "full",
             "seconds": 2700.0, "steps_seconds": {"data": 5.0, "training": 2400.0, "rendering": 295.0},
             "models": 19, "models_trained": 19, "machine": "x86_64, 2 cores, Python 3.11.7"}
    assert report.build_summary(build) == (
        "The last `make book` (2026-12-02, x86_64, 2 cores, Python 3.11.7, full profile on the "
        "full data) took 45.0 minutes: 40.0 training (19 of 19 models trained, 0 reloaded), "
        "4.9 building the book.")
    build.update(cpu="AMD EPYC", best_recipe_epoch_seconds=12.69,
                 best_recipe_trained_in_this_build=True, best_recipe_epochs=212.8)
    assert report.build_summary(build) == (
        "The last `make book` (2026-12-02, AMD EPYC, x86_64, 2 cores, Python 3.11.7, full "
        "profile on the full data) took 45.0 minutes: 40.0 training (19 of 19 models trained, "
        "0 reloaded), 4.9 building the book. In the build's own unit: 213 epochs of the best "
        "recipe (12.7 s each, measured in the same build).")
    build["best_recipe_trained_in_this_build"] = False
    assert report.build_summary(build).endswith("(12.7 s each, measured when that model was "
                                                "last trained).")


def test_the_build_counts_itself_in_epochs_of_the_best_recipe(tmp_path):
    """scripts/build_book.py divides the build's seconds by the best recipe's median epoch,
    and says whether this build measured that epoch (it trained the model) or not."""
    spec = importlib.util.spec_from_file_location("build_book", REPO / "scripts" / "build_book.py")
    build_book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_book)
    assert build_book.in_best_recipe_epochs(100.0, tmp_path, "") == {}
    (tmp_path / "best.json").write_text(json.dumps({"seconds_per_epoch": 12.5}))
    assert build_book.in_best_recipe_epochs(2500.0, tmp_path, "training best (numpy): new\n") == {
        "best_recipe_epoch_seconds": 12.5, "best_recipe_trained_in_this_build": True,
        "best_recipe_epochs": 200.0}
    assert not build_book.in_best_recipe_epochs(2500.0, tmp_path, "[1/36] best (numpy)\n")[
        "best_recipe_trained_in_this_build"]
    assert build_book.cpu_name()


def test_the_committed_bench_measures_the_step_against_its_true_peak():
    """A step cannot run its products faster than the peak of those products: a cold first
    peak measurement once reported a step at 131% of peak."""
    bench = json.loads((REPO / "results" / "bench.json").read_text())
    peak = bench["peak"]["gflops"]
    assert peak >= bench["peak_gflops_after_step_timing"]
    for part in ("loss_and_gradients", "train_step"):  # best-of timings: a few % of noise
        assert 0 < bench["train_step"][part]["fraction_of_peak"] <= 1.05, part
        assert abs(bench["train_step"][part]["gflops_best"] / peak
                   - bench["train_step"][part]["fraction_of_peak"]) < 1e-9
    assert f"{peak:.0f} GFLOP/s" in report.bench_table(bench)


def test_the_committed_bench_splits_the_best_recipes_epoch_against_its_bound():
    """The parts add up to the epoch, and the bound is the epoch's matrix products at the
    faster of the two peaks measured around the epochs, at the best network's shapes."""
    split = json.loads((REPO / "results" / "bench.json").read_text())["best_epoch_split"]
    assert split["layer_sizes"] == RECIPES["best"].layer_sizes(3072)
    epoch, parts = split["epoch_seconds"], split["parts_seconds"]
    assert list(parts)[0] == "matrix products" and list(parts)[-1] == "rest"
    assert sum(parts.values()) == pytest.approx(epoch)
    assert min(parts.values()) > 0
    assert sum(split["shares"].values()) == pytest.approx(1.0)
    peak = split["peak"]["gflops"]
    assert peak == max(split["peak_gflops_before_epochs"], split["peak_gflops_after_epochs"])
    assert split["bound_seconds"] == pytest.approx(split["matmul_flops"]["total"] / peak / 1e9)
    assert split["fraction_of_bound"] == pytest.approx(split["bound_seconds"] / epoch)
    assert 0 < split["fraction_of_bound"] <= 1.05  # an epoch cannot beat its products' peak
    n_val = split["n_val"]
    assert split["matmul_flops"]["validation"] == 2 * n_val * sum(
        a * b for a, b in zip(split["layer_sizes"][:-1], split["layer_sizes"][1:]))


@pytest.mark.parametrize("accuracy", [0.5, 0.2])
def test_the_sampling_band_holds_that_share_of_differences_of_two_sampled_accuracies(accuracy):
    """Two accuracies of one classifier, each on its own n images: their difference falls
    inside the band BAND_LEVEL of the time (simulated), and half the band is too narrow."""
    n, rng = 5000, np.random.default_rng(0)
    differences = (rng.binomial(n, accuracy, 200_000) - rng.binomial(n, accuracy, 200_000)) / n * 100
    band = report.sampling_band(n, accuracy)
    assert np.mean(np.abs(differences) <= band) == pytest.approx(report.BAND_LEVEL, abs=0.005)
    assert np.mean(np.abs(differences) <= band / 2) < report.BAND_LEVEL - 0.2
    assert report.binomial_se(accuracy, n) == pytest.approx(np.std(differences) / np.sqrt(2), rel=0.01)
    assert report.sampling_band(n) >= band  # 50% is the widest


def test_class_timing_table_gives_minutes_and_best_recipe_epochs_per_chapter():
    timing = {"date": "2026-12-04T22:00:00+0000", "cpu": "AMD EPYC", "machine": "x86_64, 2 cores",
              "max_epochs": 3, "best_recipe_epoch_seconds": 12.0,
              "chapter_seconds": {"01_data": 60.0, "03_train_eval": 540.0}}
    text = report.class_timing_table(timing)
    assert "| 01_data | 1.0 | 5 |" in text and "| 03_train_eval | 9.0 | 45 |" in text
    assert "| all chapters | 10.0 | 50 |" in text
    assert "AMD EPYC" in text and "at most 3 epochs" in text and "12.0 s" in text


def test_the_class_timing_runs_the_chapters_in_a_copy_that_holds_what_they_read(tmp_path):
    copy = load_script("time_class_chapters").scratch_copy(tmp_path)
    for needed in ("data/sample", "results/bench.json", "data/seed_project.json",
                   "notebooks/03_train_eval.ipynb"):
        assert (copy / needed).exists(), needed
    assert not (copy / "weights").exists()  # the class trains from scratch


def test_class_timing_says_when_it_is_not_measured_yet(tmp_path):
    assert "Not measured yet" in report.class_timing(tmp_path)


def test_settings_are_judged_against_the_reference_with_a_pooled_band():
    points = {"reference": [50.0, 52.0], "same": [51.0, 53.0], "better": [60.0, 62.0]}
    compared = report.against_reference(points, "reference", "helps", "hurts")
    assert compared["df"] == 3
    assert compared["std"] == pytest.approx(2 ** 0.5)  # each pair spreads by 1 around its mean
    assert compared["noise"] == pytest.approx(report.noise(2 ** 0.5, 2, 2, df=3))
    assert compared["changes"] == {"same": 1.0, "better": 10.0}
    assert compared["verdicts"] == {"same": "within noise", "better": "helps"}
    with pytest.raises(ValueError, match="reference"):
        report.against_reference(points, "missing")
    with pytest.raises(ValueError, match="twice"):
        report.against_reference({"reference": [50.0], "other": [55.0]}, "reference")


def test_a_build_that_trained_nothing_is_recorded_apart_and_quoted_as_a_rebuild():
    """Republishing after a prose edit reloads every model: its record must not replace the
    last build that trained (the budget's measurement), and the pages quote both."""
    spec = importlib.util.spec_from_file_location("build_book", REPO / "scripts" / "build_book.py")
    build_book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_book)
    assert build_book.record_name({"models_trained": 0}) == "book_rebuild.json"
    assert build_book.record_name({"models_trained": 1}) == "book_build.json"
    rebuild = {"date": "2026-12-05T03:00:00+0000", "seconds": 420.0, "models": 28,
               "models_trained": 0, "steps_seconds": {"data": 2.0, "training": 90.0, "rendering": 328.0},
               "machine": "x86_64, 2 cores, Python 3.11.7", "cpu": "AMD EPYC",
               "best_recipe_epoch_seconds": 11.68, "best_recipe_trained_in_this_build": False,
               "best_recipe_epochs": 36.0}
    assert report.rebuild_summary(rebuild) == (
        "With every model reloaded, as after an edit of the prose, `make book` (2026-12-05, AMD "
        "EPYC, x86_64, 2 cores, Python 3.11.7) took 7.0 minutes: 1.5 reloading and scoring the 28 "
        "models, 5.5 building the book. That is 36 epochs of the best recipe (11.7 s each, "
        "measured when that model was last trained).")


def test_the_full_length_whitening_trials_use_the_epsilon_the_short_round_found_best():
    """The fifth round of trials runs the best recipe on whitened inputs with one epsilon:
    the one whose short runs (the fourth round) had the highest mean validation accuracy."""
    trials_script = load_script("recipe_trials")
    trials = json.loads((REPO / "results" / "recipe_trials.json").read_text())
    means = {}
    for name, trial in trials.items():
        if name.startswith("best_10") and trial["recipe"]["whitening"] is not None:
            means.setdefault(trial["recipe"]["whitening"], []).append(trial["final_val_accuracy"])
    assert max(means, key=lambda eps: np.mean(means[eps])) == trials_script.FULL_LENGTH_EPSILON
    for seed in (0, 1):
        recipe = trials_script.TRIALS[f"best_zca_seed{seed}"][1]
        plain = trials_script.TRIALS["chosen_l2" if seed == 0 else "chosen_l2_seed1"][1]
        assert recipe == replace(plain, whitening=trials_script.FULL_LENGTH_EPSILON)

"""One cached run: a saved model is reused only when the recipe, the data and the code
that trains it are unchanged; otherwise it retrains and says why, in one line."""

import inspect
import json
import shutil
import subprocess
import sys
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from cifar_mlp.baselines import BASELINES
from cifar_mlp.data import load_sample
from cifar_mlp.experiments import Recipe, build
from cifar_mlp.preprocess import prepare
from cifar_mlp.provenance import TRAINING_MODULES, code_fingerprint, depends_on, imported
from cifar_mlp import runs, whitening
from cifar_mlp.keras_cnn import CNN, CNN_PERMUTED
from cifar_mlp.keras_twin import KERAS
from cifar_mlp.runs import run
from cifar_mlp.train import evaluate

RECIPE = Recipe("tiny", mode="gray", hidden=(16,), epochs=2, patience=None)


@pytest.fixture(scope="module")
def gray(sample_dir):
    return prepare(load_sample(sample_dir), "gray", n_val=500)


def test_a_run_trains_once_then_reloads_the_same_model(gray, tmp_path, capsys):
    first = run(RECIPE, gray, results_dir=tmp_path, weights_dir=tmp_path, progress=False)
    assert "training tiny (numpy): no saved model" in capsys.readouterr().out
    again = run(RECIPE, gray, results_dir=tmp_path, weights_dir=tmp_path, progress=False)
    assert "training" not in capsys.readouterr().out
    assert again["history"] == first["history"]
    for name, array in first["model"].params.items():
        np.testing.assert_array_equal(again["model"].params[name], array)
    assert json.loads((tmp_path / "tiny.json").read_text())["test_accuracy"] == first["test_accuracy"]


def test_a_reload_reuses_the_scores_kept_beside_the_weights(gray, tmp_path, monkeypatch):
    calls = []

    def counted_evaluate(*args, **kwargs):
        calls.append(kwargs.get("test_shift"))
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(runs, "evaluate", counted_evaluate)
    recipe = replace(RECIPE, test_shift=2)
    first = run(recipe, gray, results_dir=tmp_path, weights_dir=tmp_path, progress=False)
    # Test and validation over every view, both on one view, then validation on the
    # views of every smaller shift (the accuracy against the number of views).
    assert calls == [2, 2, None, None, 0, 1]
    assert first["test_accuracy"] == evaluate(first["model"], gray.x_test, gray.y_test,
                                              test_shift=2)[1]
    assert first["views"] == 50
    assert first["test_accuracy_one_view"] == evaluate(first["model"], gray.x_test, gray.y_test)[1]
    assert first["val_accuracy_one_view"] == evaluate(first["model"], gray.x_val, gray.y_val)[1]

    again = run(recipe, gray, results_dir=tmp_path, weights_dir=tmp_path, progress=False)
    assert calls == [2, 2, None, None, 0, 1]  # reloaded, not scored again
    assert list(first["val_accuracy_by_views"]) == ["1", "2", "18", "50"]
    assert first["val_accuracy_by_views"]["50"] == first["val_accuracy"]
    for field in ("test_accuracy", "test_loss", "val_accuracy", "val_loss",
                  "test_accuracy_one_view", "val_accuracy_one_view", "val_accuracy_by_views"):
        assert again[field] == first[field], field

    record_path = tmp_path / gray.source / "tiny.json"
    record = json.loads(record_path.read_text())
    record["scoring"] = "scored by older code"
    record_path.write_text(json.dumps(record))
    run(recipe, gray, results_dir=tmp_path, weights_dir=tmp_path, progress=False)
    assert calls == [2, 2, None, None, 0, 1] * 2  # the scoring code changed: scored again


def test_a_diverged_retrain_is_scored_and_not_given_the_saved_models_scores(gray, tmp_path):
    saved = run(RECIPE, gray, results_dir=None, weights_dir=tmp_path, progress=False)

    class Diverging(runs.NumpyFramework):
        def fit(self, recipe, prepared, progress):
            model, history = super().fit(replace(recipe, seed=1), prepared, progress)
            history.diverge(history.epochs)
            return model, history

    diverged = run(RECIPE, gray, results_dir=None, weights_dir=tmp_path, retrain=True,
                   framework=Diverging(), progress=False)
    assert diverged["test_accuracy"] == evaluate(diverged["model"], gray.x_test, gray.y_test)[1]
    assert diverged["test_loss"] != saved["test_loss"]


def test_a_recipe_with_whitening_trains_and_is_scored_on_whitened_inputs(gray, tmp_path,
                                                                      monkeypatch):
    seen = []
    fit, evaluate_numpy = runs.NUMPY.fit, runs.NUMPY.evaluate
    monkeypatch.setattr(runs.NUMPY, "fit", lambda recipe, prepared, progress: (
        seen.append(("fit", prepared.x_train)) or fit(recipe, prepared, progress)))
    monkeypatch.setattr(runs.NUMPY, "evaluate", lambda model, x, y, test_shift=None: (
        seen.append(("evaluate", x)) or evaluate_numpy(model, x, y, test_shift)))
    white = whitening.zca_inputs(gray, 0.5)
    plain = run(RECIPE, gray, results_dir=None, weights_dir=tmp_path, progress=False)
    whitened = run(replace(RECIPE, name="white", whitening=0.5), gray, results_dir=None,
                   weights_dir=tmp_path, progress=False)
    [(_, trained_on), *scored] = seen[len(seen) // 2:]
    np.testing.assert_array_equal(trained_on, white.x_train)
    assert scored and all(any(np.array_equal(x, split) for split in (white.x_val, white.x_test))
                          for _, x in scored)
    assert whitened["val_accuracy"] != plain["val_accuracy"]


def test_the_training_time_leaves_out_the_whitening_fit(gray, tmp_path, monkeypatch):
    """A whitening fit takes half a minute on the full data; it prepares the inputs and
    is no part of the model's training time (the first whitened model of a build pays it)."""
    clock = [0.0]
    monkeypatch.setattr(runs, "time", SimpleNamespace(perf_counter=lambda: clock[0]))

    def slow_fit(recipe, prepared):  # a whitening that takes 100 s of the clock
        clock[0] += 100.0
        return prepared

    monkeypatch.setattr(runs, "recipe_inputs", slow_fit)
    result = run(replace(RECIPE, name="clocked", whitening=0.5), gray, results_dir=None,
                 weights_dir=tmp_path, progress=False)
    assert result["training_seconds"] == 0.0


def test_a_changed_recipe_retrains_and_says_so(gray, tmp_path, capsys):
    run(RECIPE, gray, results_dir=None, weights_dir=tmp_path, progress=False)
    capsys.readouterr()
    run(replace(RECIPE, lr=0.02), gray, results_dir=None, weights_dir=tmp_path, progress=False)
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["training tiny (numpy): the saved model is stale: recipe and data changed "
                   "since it was trained"]


def edited_package(tmp_path, module, old, new):
    """A copy of the package with one edit in one module."""
    import cifar_mlp

    copy = tmp_path / "edited"
    shutil.copytree(cifar_mlp.__path__[0], copy / "cifar_mlp",
                    ignore=shutil.ignore_patterns("__pycache__"))
    path = copy / "cifar_mlp" / f"{module}.py"
    source = path.read_text()
    assert old in source
    path.write_text(source.replace(old, new, 1))
    return copy


def run_with(package, weights_dir, sample_dir, recipe=RECIPE, show_loss=False) -> str:
    """What a fresh Python with ``package`` first on its path prints when it runs
    ``recipe`` (and, with ``show_loss``, the validation losses of its epochs)."""
    script = (
        "from cifar_mlp.data import load_sample; from cifar_mlp.preprocess import prepare\n"
        "from cifar_mlp.experiments import Recipe; from cifar_mlp.runs import run\n"
        f"gray = prepare(load_sample({str(sample_dir.resolve())!r}), 'gray', n_val=500)\n"
        f"result = run({recipe!r}, gray, results_dir=None, weights_dir={str(weights_dir)!r}, "
        "progress=False)\n"
        + ("print(result['history'].val_loss)\n" if show_loss else ""))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=package, env={"PYTHONPATH": str(package), "PATH": ""}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_an_edited_layer_retrains_and_a_docstring_edit_does_not(gray, tmp_path, sample_dir):
    """A student who plants a bug in a layer must see the bug's effect, not the old model."""
    run(RECIPE, gray, results_dir=None, weights_dir=tmp_path / "weights", progress=False)
    weights = tmp_path / "weights"

    reworded = edited_package(tmp_path / "a", "layers", '"""ReLU: ``out = max(x, 0)``',
                              '"""The rectifier: ``out = max(x, 0)``')
    assert run_with(reworded, weights, sample_dir) == ""  # reloaded: only a docstring changed

    buggy = edited_package(tmp_path / "b", "layers", "out = np.maximum(x, 0)",
                           "out = np.maximum(x, 0.1)")
    said = run_with(buggy, weights, sample_dir)
    assert said.strip() == ("training tiny (numpy): the saved model is stale: code changed "
                            "since it was trained")


@pytest.mark.parametrize("optimizer, old, new", [
    ("sgd", "v -= self.lr * g", "v -= 0.5 * self.lr * g"),
    ("adam", "m += (1 - self.beta1) * (g - m)", "m += (1 - self.beta1) * (2 * g - m)"),
])
def test_an_edited_optimizer_formula_changes_what_trains(tmp_path, sample_dir, optimizer, old, new):
    """Training calls optim's own update (through cifar_mlp.fast, on slices): a student
    who edits the formula chapter 3 shows gets a retrain whose numbers follow the edit."""
    recipe = replace(RECIPE, optimizer=optimizer, lr=0.01 if optimizer == "sgd" else 1e-3)
    as_shown = edited_package(tmp_path / "a", "optim", old, old)
    edited = edited_package(tmp_path / "b", "optim", old, new)
    before = run_with(as_shown, tmp_path / "weights", sample_dir, recipe, show_loss=True)
    after = run_with(edited, tmp_path / "weights", sample_dir, recipe, show_loss=True)
    assert after.splitlines()[0] == ("training tiny (numpy): the saved model is stale: code "
                                     "changed since it was trained")
    losses_before, losses_after = (eval(out.splitlines()[-1]) for out in (before, after))
    assert len(losses_before) == len(losses_after) == recipe.epochs
    assert all(a != b for a, b in zip(losses_before, losses_after))


def test_the_fingerprint_covers_every_training_module():
    assert {"layers", "model", "optim", "fast", "train"} <= set(TRAINING_MODULES)
    # what the recipes and the loop import, through other modules too (a hand-kept list
    # once left out data, download and files, which preprocess imports)
    for name in TRAINING_MODULES:
        assert imported(name) <= set(TRAINING_MODULES), name
    assert code_fingerprint(TRAINING_MODULES) == code_fingerprint(TRAINING_MODULES)
    assert code_fingerprint(TRAINING_MODULES) != code_fingerprint(TRAINING_MODULES[:-1])


def test_dependencies_are_read_from_the_imports_through_other_modules(tmp_path):
    """A module the training starts to import, even through another, joins the fingerprint."""
    (tmp_path / "loop.py").write_text("import numpy as np\nfrom .model import MLP\n")
    (tmp_path / "model.py").write_text("from . import layers\nfrom .layers import relu\n")
    (tmp_path / "layers.py").write_text("import math\n")
    (tmp_path / "plots.py").write_text("from .loop import train\n")
    assert depends_on("loop", package=tmp_path) == ("layers", "loop", "model")
    (tmp_path / "layers.py").write_text("import math\nfrom tmp.new_norm import norm\n")
    (tmp_path / "new_norm.py").write_text("")
    assert imported("layers", package=tmp_path) == set()  # another package's module
    (tmp_path / "layers.py").write_text(f"from {tmp_path.name}.new_norm import norm\n")
    assert depends_on("loop", package=tmp_path) == ("layers", "loop", "model", "new_norm")


def test_the_plateau_schedule_takes_its_settings_from_the_recipe():
    recipe = replace(RECIPE, schedule="plateau", plateau_factor=0.25, plateau_patience=4)
    _, _, schedule = build(recipe, 1024)
    assert (schedule.factor, schedule.patience) == (0.25, 4)


@pytest.mark.parametrize("name", ["numpy", "keras", "cnn", "cnn_permuted", "baselines"])
def test_every_framework_provides_what_run_asks(name):
    """The NumPy MLP, the Keras twin, both CNNs and the baselines satisfy runs.Framework:
    every member, and every method with the protocol's parameters."""
    framework = {"numpy": runs.NUMPY, "keras": KERAS, "cnn": CNN, "cnn_permuted": CNN_PERMUTED,
                 "baselines": BASELINES}[name]
    assert isinstance(framework, runs.Framework)
    for member in ("key", "fit", "evaluate", "n_parameters", "save", "load", "record"):
        wanted = list(inspect.signature(getattr(runs.Framework, member)).parameters)[1:]
        assert list(inspect.signature(getattr(framework, member)).parameters) == wanted, member
    assert isinstance(framework.name, str) and isinstance(framework.file_prefix, str)

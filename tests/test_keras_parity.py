"""The NumPy MLP and its Keras twin (cifar_mlp.keras_twin) compute the same thing
(checked with cifar_mlp.parity).

On the real 2,000-image sample (RGB, 1,500 training images), for the seed_rgb recipe
(SGD with momentum and L2) and a batch-norm + Adam one:

* gradients on one batch agree to float32 rounding (1e-5 relative, measured ~1e-6);
* 50 training steps side by side in float64 give the same loss curve to 1e-10
  (measured ~4e-16): every formula (loss, L2, batch norm, SGD, Adam) is the same;
* in float32 the curves start equal and drift apart as training amplifies rounding
  differences (a ReLU input within rounding of zero lands on different sides in the
  two frameworks); NumPy float32 drifts from NumPy float64 just as fast. See
  ``parity_run``'s docstring.
"""

import json
import os
import subprocess
import sys
from dataclasses import replace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from cifar_mlp import keras_twin as kt
from cifar_mlp import parity
from cifar_mlp.data import load_sample
from cifar_mlp.experiments import RECIPES, Recipe, build, build_schedule
from cifar_mlp.keras_data import evaluate_keras, evaluation_dataset, training_dataset
from cifar_mlp.keras_runtime import quiet_tensorflow
from cifar_mlp.keras_twin import KERAS
from cifar_mlp.preprocess import prepare
from cifar_mlp.runs import run
from cifar_mlp.train import History, evaluate, minibatches

SGD_L2 = RECIPES["seed_rgb"]  # 3072-1024-256-10, SGD momentum 0.9, L2 1e-3
BN_ADAM = replace(RECIPES["seed_keras"], name="bn_adam", hidden=(512, 256, 128), dropout=0.0)
PARITY_RECIPES = [pytest.param(SGD_L2, id="sgd_l2"), pytest.param(BN_ADAM, id="bn_adam")]


@pytest.fixture(scope="module")
def rgb(sample_dir):
    """1,500 training and 500 validation images of the real sample, RGB, standardized."""
    return prepare(load_sample(sample_dir), "rgb", n_val=500)


@pytest.fixture(scope="module", autouse=True)
def keras_seed():
    _, keras = quiet_tensorflow()
    keras.utils.set_random_seed(0)


# -- the networks are the same ----------------------------------------------------------------

@pytest.mark.parametrize("recipe", [SGD_L2, BN_ADAM, RECIPES["best"], RECIPES["seed_keras"],
                                    RECIPES["seed_gray"]], ids=lambda r: r.name)
def test_build_keras_has_the_layers_and_parameters_of_the_mlp(recipe):
    _, keras = quiet_tensorflow()
    n_features = 1024 if recipe.mode == "gray" else 3072
    mlp, _, _ = build(recipe, n_features)
    model, optimizer = kt.build_keras(recipe, n_features)

    dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
    norms = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    dropouts = [l for l in model.layers if isinstance(l, keras.layers.Dropout)]
    assert [l.units for l in dense] == mlp.layer_sizes[1:]
    assert len(norms) == (mlp.n_layers - 1 if recipe.batchnorm else 0)
    assert len(dropouts) == (mlp.n_layers - 1 if recipe.dropout else 0)
    assert all(l.rate == recipe.dropout for l in dropouts)
    assert all(l.momentum == mlp.bn_momentum and l.epsilon == mlp.bn_eps for l in norms)
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    statistics = sum(int(np.prod(v.shape))
                     for l in norms for v in (l.moving_mean, l.moving_variance))
    assert trainable == mlp.n_parameters
    assert statistics == sum(a.size for a in mlp.bn_state.values())
    assert all((l.kernel_regularizer is None) == (recipe.l2 == 0) for l in dense)
    if recipe.l2:
        assert all(np.isclose(float(l.kernel_regularizer.l2), recipe.l2) for l in dense)
    assert type(optimizer).__name__ == {"sgd": "SGD", "adam": "Adam"}[recipe.optimizer]
    assert np.isclose(float(optimizer.learning_rate.numpy()), recipe.lr)


def test_keras_he_init_is_the_untruncated_normal_of_the_mlp():
    """Keras's HeNormal is truncated at 2 std; ours (and the twin's) is a plain normal."""
    model, _ = kt.build_keras(SGD_L2, 3072)
    w = model.layers[0].kernel.numpy()
    std = np.sqrt(2.0 / 3072)
    assert abs(w.std() / std - 1) < 0.01
    assert np.abs(w).max() > 4 * std  # a normal truncated at 2 std never gets there


def test_copied_weights_give_the_same_numbers_and_predictions(rgb):
    recipe = replace(BN_ADAM, hidden=(64, 32))
    source, _, _ = build(recipe, 3072)
    rng = np.random.default_rng(1)
    for store in (source.params, source.bn_state):  # non-trivial gamma, beta and statistics
        for name, array in store.items():
            array[...] = rng.uniform(0.5, 1.5, array.shape) if "var" in name or "gamma" in name \
                else rng.normal(0, 0.1, array.shape)
    model, _ = kt.build_keras(recipe, 3072)
    kt.copy_weights(source, model)
    variables = kt.keras_variables(source, model)
    assert variables.keys() == {**source.params, **source.bn_state}.keys()
    for store in ("params", "bn_state"):
        for name, array in getattr(source, store).items():
            np.testing.assert_array_equal(variables[name].numpy(), array, err_msg=name)

    x = rgb.x_val[:256]
    ours = source.forward(x)
    theirs = model.predict(evaluation_dataset(x), verbose=0)
    assert np.abs(ours - theirs).max() <= 1e-5 * np.abs(ours).max()
    for test_shift in (None, 1):
        ours = evaluate(source, x, rgb.y_val[:256], test_shift=test_shift)
        theirs = evaluate_keras(model, x, rgb.y_val[:256], test_shift)
        assert theirs[0] == pytest.approx(ours[0], rel=1e-5) and theirs[1] == ours[1]


def test_copy_weights_rejects_a_different_network():
    mlp, _, _ = build(replace(SGD_L2, hidden=(64,)), 3072)
    model, _ = kt.build_keras(replace(SGD_L2, hidden=(32,)), 3072)
    with pytest.raises(ValueError, match="shape"):
        kt.copy_weights(mlp, model)


# -- the gradients and the loss curves --------------------------------------------------------

@pytest.mark.parametrize("recipe", PARITY_RECIPES)
def test_float32_gradients_and_loss_curves(rgb, recipe):
    report = parity.parity_run(recipe, rgb, steps=50)
    gradient = report["gradient"]
    assert gradient["max_relative"] <= 1e-5, gradient["per_parameter"]
    assert gradient["loss_relative"] <= 1e-5
    for name, sizes in gradient["zero_gradients"].items():  # biases feeding batch norm: noise
        scale = max(p["max_abs"] for p in gradient["per_parameter"].values())
        assert max(sizes.values()) <= 1e-5 * scale, name
    # Same weights, same batch: the first losses agree to float32 rounding. Later steps
    # drift apart (rounding amplified by training); they must still tell the same story.
    assert report["relative_difference"][0] <= 1e-5
    assert report["max_relative_difference"] <= 0.1
    assert report["numpy_loss"][-1] < 0.6 * report["numpy_loss"][0]
    assert report["keras_loss"][-1] < 0.6 * report["keras_loss"][0]


@pytest.mark.parametrize("recipe", [
    pytest.param(replace(SGD_L2, hidden=(256, 128)), id="sgd_l2"),
    pytest.param(replace(BN_ADAM, hidden=(256, 128)), id="bn_adam"),
    pytest.param(replace(RECIPES["best"], hidden=(256, 128), dropout=0.0, label_smoothing=0.1),
                 id="bn_nesterov_smoothing")])
def test_float64_loss_curves_agree_for_50_steps(rgb, recipe):
    """With rounding out of the way the two trainings are the same computation.

    (Narrower hidden layers than above, to keep float64 quick: the formulas do not
    depend on the widths.)
    """
    report = parity.parity_run(recipe, rgb, steps=50, dtype="float64")
    assert report["max_relative_difference"] <= 1e-10, report["relative_difference"]
    assert report["gradient"]["max_relative"] <= 1e-10
    assert max(report["weights_relative"].values()) <= 1e-8, report["weights_relative"]


@pytest.mark.parametrize("recipe", [replace(SGD_L2, hidden=(32,)), replace(BN_ADAM, hidden=(32,))],
                         ids=["sgd_l2", "bn_adam"])
def test_gradient_differences_are_small_and_leave_the_statistics_alone(rgb, recipe):
    mlp, _, _ = build(recipe, 3072)
    model, _ = kt.build_keras(recipe, 3072)
    kt.copy_weights(mlp, model)
    state = {k: v.copy() for k, v in mlp.bn_state.items()}
    moving = [v.numpy() for v in model.non_trainable_variables]
    report = parity.gradient_differences(mlp, model, rgb.x_train[:128], rgb.y_train[:128])
    assert 0 <= report["max_relative"] <= 1e-5
    assert set(report["per_parameter"]) | set(report["zero_gradients"]) == set(mlp.params)
    assert set(report["zero_gradients"]) == set(parity.zero_gradient_names(mlp))
    assert all(np.array_equal(mlp.bn_state[k], v) for k, v in state.items())
    assert all(np.array_equal(v.numpy(), m) for v, m in zip(model.non_trainable_variables, moving))


def test_dropout_is_refused_by_the_gradient_check(rgb):
    recipe = replace(SGD_L2, hidden=(32,), dropout=0.5)
    mlp, _, _ = build(recipe, 3072)
    model, _ = kt.build_keras(recipe, 3072)
    with pytest.raises(ValueError, match="dropout"):
        parity.gradient_differences(mlp, model, rgb.x_train[:128], rgb.y_train[:128])


# -- a training run ------------------------------------------------------------------------------

@pytest.mark.parametrize("augment_shift", [None, 2], ids=["plain", "augmented"])
def test_training_dataset_gives_the_batches_of_minibatches_over_two_epochs(rgb, augment_shift):
    """Same seed: the permutations and augmentations train() draws, epoch after epoch."""
    x, y = rgb.x_train, rgb.y_train
    dataset = training_dataset(x, y, batch_size=128, seed=3, augment_shift=augment_shift)
    rng = np.random.default_rng(3)  # carried from epoch to epoch, as train() carries it
    for _ in range(2):
        expected = list(minibatches(x, y, 128, rng, augment_shift))
        got = [(a.numpy(), b.numpy()) for a, b in dataset]  # one pass: one epoch
        assert len(got) == len(expected) == 12
        for (xa, ya), (xb, yb) in zip(got, expected):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)


def test_a_keras_run_writes_the_keys_of_a_numpy_run(rgb, tmp_path):
    recipe = Recipe("tiny", hidden=(32,), batchnorm=True, dropout=0.1, optimizer="adam",
                    lr=1e-3, schedule="plateau", epochs=3, patience=2)
    ours = run(recipe, rgb, results_dir=tmp_path, weights_dir=tmp_path, progress=False)
    theirs = run(recipe, rgb, framework=KERAS, max_epochs=2, results_dir=tmp_path,
                 weights_dir=tmp_path, progress=False)
    written = json.loads((tmp_path / "keras_tiny.json").read_text())
    numpy_written = json.loads((tmp_path / "tiny.json").read_text())
    assert set(numpy_written) - {"framework"} <= set(written)
    assert written["framework"] == "keras" and ours["framework"] == "numpy"
    assert written["epochs"] == 2 == len(written["history"]["seconds"])
    assert written["parameters"] == numpy_written["parameters"]
    assert written["seconds_per_epoch"] == np.median(written["history"]["seconds"])
    assert 0.1 < theirs["test_accuracy"] <= 1 and theirs["n_test"] == len(rgb.x_test)


def test_a_keras_run_reloads_a_trained_recipe_and_retrains_a_changed_one(rgb, tmp_path):
    recipe = Recipe("tiny", hidden=(16,), epochs=2, patience=None)
    settings = dict(framework=KERAS, results_dir=tmp_path, weights_dir=tmp_path, progress=False)
    first = run(recipe, rgb, **settings)
    (tmp_path / "keras_tiny.json").unlink()
    again = run(recipe, rgb, **settings)  # reloaded: same weights, same history
    assert (tmp_path / "keras_tiny.json").is_file()
    assert again["history"] == first["history"]
    assert again["test_accuracy"] == first["test_accuracy"]
    for a, b in zip(first["model"].get_weights(), again["model"].get_weights()):
        np.testing.assert_array_equal(a, b)
    changed = run(replace(recipe, lr=0.02), rgb, **settings)  # another key: trains
    assert changed["history"].seconds != first["history"].seconds


def test_a_diverged_keras_run_is_reported_and_not_kept_for_reloading(rgb, tmp_path):
    recipe = Recipe("exploding", hidden=(16,), lr=1e6, epochs=3, patience=None)
    result = run(recipe, rgb, framework=KERAS, results_dir=tmp_path, weights_dir=tmp_path,
                 progress=False)
    history = result["history"]
    assert history.ending == History.DIVERGED and history.stop_reason.startswith("diverged in epoch")
    assert not list(tmp_path.rglob("keras_exploding.npz"))


def test_importing_tensorflow_through_quiet_tensorflow_prints_nothing():
    """The C++ start-up lines (absl, oneDNN) that TF_CPP_MIN_LOG_LEVEL does not reach stay
    off the terminal and off the chapters' pages."""
    script = ("import sys; from cifar_mlp.keras_runtime import quiet_tensorflow\n"
              "tf, keras = quiet_tensorflow(); tf.constant(1.0) + 1\n"
              "print('imported', file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "imported", done.stderr


@pytest.mark.parametrize("schedule", ["plateau", "cosine", "constant"])
def test_the_twin_follows_the_learning_rates_of_our_schedule_object(rgb, schedule):
    """The twin's rate each epoch is the one our schedule gives (the plateau fed the twin's
    own validation losses): the same object drives both loops, not a Keras look-alike."""
    recipe = Recipe("tiny", hidden=(16,), lr=0.2, schedule=schedule, epochs=5, patience=None,
                    plateau_factor=0.5, plateau_patience=1)
    _, history = KERAS.fit(recipe, rgb, progress=False)
    expected, rates = build_schedule(recipe), []
    for epoch, val_loss in enumerate(history.val_loss):
        rates.append(expected(epoch, recipe.lr))
        if hasattr(expected, "update"):
            expected.update(val_loss)
    np.testing.assert_allclose(history.lr, rates, rtol=1e-6)  # float32 in Keras
    if schedule == "plateau":
        assert min(rates) < recipe.lr, "the plateau never lowered the rate: a test that cannot fail"

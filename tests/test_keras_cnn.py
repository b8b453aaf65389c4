"""The small CNN of chapter 4 (cifar_mlp.keras_cnn): it trains through cifar_mlp.runs
like every model of the book, and its shuffled twin shuffles the pixels of the very
batches (flipped and shifted) that the plain one sees, and of the images it scores."""

import json
import os
from dataclasses import replace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from cifar_mlp.data import load_sample
from cifar_mlp.experiments import RECIPES
from cifar_mlp.keras_cnn import CNN, CNN_PERMUTED, KerasCNNFramework, build_cnn
from cifar_mlp.keras_twin import quiet_tensorflow, training_dataset
from cifar_mlp.permutation import permute_pixels, pixel_permutation
from cifar_mlp.preprocess import prepare
from cifar_mlp.runs import run
from cifar_mlp.train import minibatches

RECIPE = replace(RECIPES["cnn"], epochs=2)


@pytest.fixture(scope="module")
def rgb(sample_dir):
    """1,500 training and 500 validation images of the real sample, RGB, standardized."""
    return prepare(load_sample(sample_dir), "rgb", n_val=500)


def test_the_shuffled_cnn_shuffles_the_augmented_batches_it_is_fed(rgb):
    _, keras = quiet_tensorflow()
    permutation = pixel_permutation(0)
    model = build_cnn(RECIPE, permutation)
    shuffle = keras.Model(model.inputs[0], model.get_layer("shuffle_pixels").output)
    dataset = training_dataset(rgb.x_train, rgb.y_train, batch_size=128, seed=0,
                               augment_shift=RECIPE.augment_shift)
    augmented = next(iter(dataset))[0].numpy()  # minibatches' first batch (test_keras_parity)
    as_they_are = next(minibatches(rgb.x_train, rgb.y_train, 128, np.random.default_rng(0)))[0]
    assert not np.array_equal(augmented, as_they_are)  # the same images, flipped and shifted
    shuffled = shuffle(augmented).numpy()
    np.testing.assert_array_equal(shuffled, permute_pixels(augmented, permutation))
    np.testing.assert_array_equal(permute_pixels(shuffled, np.argsort(permutation)), augmented)


def test_the_shuffled_cnn_is_the_plain_cnn_on_shuffled_images(rgb):
    """Same weights: what the shuffled network says of an image (in training and in
    scoring), the plain one says of the shuffled image."""
    permutation = pixel_permutation(0)
    shuffled, plain = build_cnn(RECIPE, permutation), build_cnn(RECIPE)
    plain.set_weights(shuffled.get_weights())  # the shuffle itself has no weights
    x = rgb.x_val[:64]
    np.testing.assert_allclose(shuffled.predict(x, verbose=0),
                               plain.predict(permute_pixels(x, permutation), verbose=0),
                               rtol=1e-5, atol=1e-5)


def test_the_cnn_refuses_what_only_an_mlp_recipe_can_do():
    with pytest.raises(ValueError, match="hidden"):
        build_cnn(RECIPES["best"])


def test_a_cnn_run_trains_saves_reloads_and_writes_its_results(rgb, tmp_path, capsys):
    settings = dict(results_dir=tmp_path, weights_dir=tmp_path, progress=False)
    first = run(RECIPE, rgb, framework=CNN, **settings)
    assert "training cnn (keras): no saved model" in capsys.readouterr().out
    written = json.loads((tmp_path / "cnn.json").read_text())
    assert written["epochs"] == 2 == len(written["history"]["seconds"])
    assert written["architecture"].startswith("3072 features -> 32x32x3 -> conv")
    assert written["permutation_seed"] is None and written["recipe"]["hidden"] == []
    assert first["history"].train_loss[1] < first["history"].train_loss[0]  # it learns
    assert 0 <= first["test_accuracy"] <= 1 and first["n_test"] == len(rgb.x_test)

    again = run(RECIPE, rgb, framework=CNN, **settings)  # reloaded: same weights, same scores
    assert "training" not in capsys.readouterr().out
    assert again["history"] == first["history"]
    assert again["test_accuracy"] == first["test_accuracy"]
    for a, b in zip(first["model"].get_weights(), again["model"].get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_shuffled_cnn_has_its_own_files_and_key(rgb, tmp_path):
    run(RECIPE, rgb, framework=CNN_PERMUTED, max_epochs=1, results_dir=tmp_path,
        weights_dir=tmp_path, progress=False)
    written = json.loads((tmp_path / "shuffled_pixels_cnn.json").read_text())
    assert written["permutation_seed"] == 0 and "pixels shuffled (seed 0)" in written["architecture"]
    keys = [framework.key(RECIPE, rgb) for framework in (CNN, CNN_PERMUTED, KerasCNNFramework(1))]
    assert len({key["pixel order"] for key in keys}) == 3
    assert len({key["code"] for key in keys}) == 1

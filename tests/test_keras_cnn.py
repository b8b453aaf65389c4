"""The small CNN of chapter 4 (cifar_mlp.keras_cnn): it trains through cifar_mlp.runs
like every model of the book, and its shuffled twin trains and scores on images whose
pixels were shuffled first: its flips, shifts and test-time views act on the shuffled
images, never on the originals."""

import json
import os
from dataclasses import replace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from cifar_mlp.data import load_sample
from cifar_mlp.experiments import RECIPES
from cifar_mlp.keras_cnn import CNN, CNN_PERMUTED, KerasCNNFramework, build_cnn
from cifar_mlp.keras_data import training_dataset
from cifar_mlp.keras_runtime import quiet_tensorflow
from cifar_mlp.permutation import permute_pixels, pixel_permutation
from cifar_mlp.preprocess import prepare
from cifar_mlp.runs import run
from cifar_mlp.train import minibatches

RECIPE = replace(RECIPES["cnn"], epochs=2)


@pytest.fixture(scope="module")
def rgb(sample_dir):
    """1,500 training and 500 validation images of the real sample, RGB, standardized."""
    return prepare(load_sample(sample_dir), "rgb", n_val=500)


def first_batch_seen(framework, rgb, monkeypatch):
    """What the convolutions of ``framework``'s CNN see of the first training batch: the
    batch its ``fit`` would feed, through the network's layers up to the image."""
    from cifar_mlp import keras_cnn
    from cifar_mlp.train import History

    fed = {}

    def capture(model, recipe, prepared, progress, callbacks=(), desc=""):
        fed.update(model=model, prepared=prepared)
        return History()

    monkeypatch.setattr(keras_cnn, "fit_recorded", capture)
    framework.fit(RECIPE, rgb, progress=False)
    _, keras = quiet_tensorflow()
    model, prepared = fed["model"], fed["prepared"]
    dataset = training_dataset(prepared.x_train, prepared.y_train, batch_size=RECIPE.batch_size,
                               seed=RECIPE.seed, augment_shift=RECIPE.augment_shift)
    image = keras.Model(model.inputs[0], model.get_layer("image").output)
    return image(next(iter(dataset))[0]).numpy().reshape(RECIPE.batch_size, -1)


def first_batch(x, y):
    """The first batch of :func:`minibatches`, flipped and shifted as the recipe says."""
    return next(minibatches(x, y, RECIPE.batch_size, np.random.default_rng(RECIPE.seed),
                            RECIPE.augment_shift))[0]


def test_the_shuffled_cnn_is_fed_shuffled_images_flipped_and_shifted(rgb, monkeypatch):
    """The shuffle comes first: the flips and shifts act on the shuffled images, so the
    network never sees a trace of the original layout (not flipped images, shuffled)."""
    permutation = pixel_permutation(0)
    seen = first_batch_seen(CNN_PERMUTED, rgb, monkeypatch)
    shuffle_then_augment = first_batch(permute_pixels(rgb.x_train, permutation), rgb.y_train)
    augment_then_shuffle = permute_pixels(first_batch(rgb.x_train, rgb.y_train), permutation)
    assert not np.array_equal(shuffle_then_augment, augment_then_shuffle)
    np.testing.assert_array_equal(seen, shuffle_then_augment)


def test_the_plain_cnn_is_fed_the_images_flipped_and_shifted(rgb, monkeypatch):
    np.testing.assert_array_equal(first_batch_seen(CNN, rgb, monkeypatch),
                                  first_batch(rgb.x_train, rgb.y_train))


def test_the_shuffled_cnn_scores_views_of_the_shuffled_images(rgb):
    """Test-time views too act on the shuffled images: the shuffled CNN scores an image as
    the plain network scores the views of its shuffled pixels."""
    from cifar_mlp.keras_data import evaluate_keras

    permutation = pixel_permutation(0)
    model = CNN_PERMUTED.build(RECIPE, rgb)
    x, y = rgb.x_val[:64], rgb.y_val[:64]
    np.testing.assert_allclose(CNN_PERMUTED.evaluate(model, x, y, test_shift=1),
                               evaluate_keras(model, permute_pixels(x, permutation), y, 1),
                               rtol=1e-6)
    np.testing.assert_allclose(CNN_PERMUTED.evaluate(model, x, y),
                               evaluate_keras(model, permute_pixels(x, permutation), y),
                               rtol=1e-6)


def test_the_shuffled_and_the_plain_cnn_are_the_same_network(rgb):
    """The shuffle is in the data, not in the network: the same layers and weights."""
    shuffled, plain = CNN_PERMUTED.build(RECIPE, rgb), CNN.build(RECIPE, rgb)
    assert [layer.name for layer in shuffled.layers] == [layer.name for layer in plain.layers]
    for a, b in zip(shuffled.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)


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

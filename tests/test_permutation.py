"""Shuffled pixels (cifar_mlp.permutation): pixels move with their colours, and an MLP
whose first-layer rows move with them computes on shuffled images exactly what it
computed on the originals."""

import copy

import numpy as np
import pytest

from cifar_mlp.data import load_sample
from cifar_mlp.experiments import Recipe, build
from cifar_mlp.permutation import (N_PIXELS, feature_order, permute_first_layer, permute_pixels,
                                   pixel_permutation)
from cifar_mlp.preprocess import prepare
from cifar_mlp.train import train


def test_a_seed_fixes_the_permutation_of_the_1024_pixel_positions():
    permutation = pixel_permutation(0)
    assert sorted(permutation) == list(range(N_PIXELS))
    np.testing.assert_array_equal(permutation, pixel_permutation(0))
    assert not np.array_equal(permutation, pixel_permutation(1))


@pytest.mark.parametrize("channels", [3, 1], ids=["rgb", "gray"])
def test_a_pixel_moves_with_its_colours_to_the_same_place_in_every_image(channels):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, N_PIXELS * channels)).astype(np.float32)
    permutation = pixel_permutation(7)
    shuffled = permute_pixels(x, permutation)
    pixels, moved = x.reshape(4, N_PIXELS, channels), shuffled.reshape(4, N_PIXELS, channels)
    np.testing.assert_array_equal(moved, pixels[:, permutation])  # new pixel i = old pixel p[i]
    np.testing.assert_array_equal(permute_pixels(shuffled, np.argsort(permutation)), x)


def test_feature_order_refuses_what_is_not_a_permutation_of_the_pixels():
    with pytest.raises(ValueError, match="exactly once"):
        feature_order(np.zeros(N_PIXELS, int), 3072)
    with pytest.raises(ValueError, match="pixels"):
        feature_order(pixel_permutation(0), 3000)


@pytest.fixture(scope="module")
def trained(sample_dir):
    """A small MLP with batch norm trained for one epoch on the sample, and the sample."""
    prepared = prepare(load_sample(sample_dir), "rgb", n_val=500)
    recipe = Recipe("small", hidden=(64, 32), batchnorm=True, epochs=1, patience=None)
    model, optimizer, _ = build(recipe, prepared.n_features)
    train(model, optimizer, prepared.x_train, prepared.y_train, prepared.x_val, prepared.y_val,
          epochs=1, progress=False)
    return model, prepared


def test_an_mlp_with_its_first_layer_rows_permuted_computes_the_same_on_shuffled_images(trained):
    model, prepared = trained
    permutation = pixel_permutation(0)
    shuffled_model = copy.deepcopy(model)
    shuffled_model.params["W1"] = permute_first_layer(model.params["W1"], permutation)

    x = prepared.x_test
    original = model.forward(x)
    shuffled = shuffled_model.forward(permute_pixels(x, permutation))
    np.testing.assert_allclose(shuffled, original, rtol=1e-5, atol=1e-5)  # float32 rounding
    np.testing.assert_array_equal(shuffled.argmax(axis=1), original.argmax(axis=1))
    # ... and the shuffle does change what the unchanged network sees:
    assert not np.allclose(model.forward(permute_pixels(x, permutation)), original, atol=1e-2)

"""Shuffled pixels (chapter 4): one fixed permutation of the 1,024 pixel positions of
every image, the experiment that separates what an MLP learns from what a
convolutional network learns.

    permutation = pixel_permutation(seed=0)
    shuffled = permute_pixels(x, permutation)              # rows (N, 3072): pixels move
    W1 = permute_first_layer(mlp.params["W1"], permutation)

A pixel moves with its three colours: position ``permutation[i]`` of the original
image becomes position ``i`` of the shuffled one, in every image alike. An MLP does
not care: its first layer multiplies the row by ``W1``, a sum over the inputs in which
the order of the terms does not matter, so moving the rows of ``W1`` as the pixels moved
gives, on shuffled images, exactly the network it was on the original ones
(:func:`permute_first_layer`). A convolutional network cares a great deal: its
filters look at neighbouring pixels, and after the shuffle neighbours are strangers.

The layout can still reach an MLP through its data: flips and shifts are defined on the
grid of the real image, and applied to shuffled images they are other transformations
(a flip of a shuffled image is not the shuffle of a flipped one). A model meant to know
nothing of the layout is fed images shuffled first, and augmented after, if at all
(:class:`cifar_mlp.keras_cnn.KerasCNNFramework`).
"""

import numpy as np

N_PIXELS = 32 * 32  # pixel positions of a CIFAR-10 image


def pixel_permutation(seed: int, n_pixels: int = N_PIXELS) -> np.ndarray:
    """A permutation of the ``n_pixels`` pixel positions, drawn from
    ``np.random.default_rng(seed)``: the same seed gives the same permutation."""
    return np.random.default_rng(seed).permutation(n_pixels)


def feature_order(permutation: np.ndarray, width: int) -> np.ndarray:
    """The order of the ``width`` columns of a row when its pixels move by ``permutation``.

    Rows are images channels last (pixel after pixel, each with its channels side by
    side: 3 for colour, 1 for grayscale), so pixel ``p`` holds columns ``p * C`` to
    ``p * C + C - 1`` and keeps them together.
    """
    permutation = np.asarray(permutation)
    if sorted(permutation.tolist()) != list(range(len(permutation))):
        raise ValueError("permutation: expected each of 0 .. n-1 exactly once")
    if width % len(permutation):
        raise ValueError(f"rows of {width} columns are not {len(permutation)} pixels "
                         "of equal channels")
    channels = width // len(permutation)
    return (permutation[:, None] * channels + np.arange(channels)).ravel()


def permute_pixels(x: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """Rows ``x`` (N, 1024 * C) with the pixels of every image moved by ``permutation``:
    pixel ``i`` of each new image is pixel ``permutation[i]`` of the old one. A new array."""
    x = np.asarray(x)
    return x[:, feature_order(permutation, x.shape[1])]


def permute_first_layer(W1: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """The first-layer weights (D, H) of an MLP that computes on shuffled images exactly
    what the MLP with ``W1`` computes on the original images: the rows of ``W1`` move as
    the pixels (the columns of the input) moved, so each weight still meets its pixel,
    and ``permute_pixels(x, p) @ permute_first_layer(W1, p)`` is ``x @ W1`` with the terms
    of each sum in another order. The other layers do not change."""
    return np.asarray(W1)[feature_order(permutation, len(W1))]

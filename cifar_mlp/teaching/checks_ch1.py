"""Chapter 1's exercises: the data (axes, grayscale, standardization, a stratified split)."""

import numpy as np

from ..preprocess import LUMA_WEIGHTS
from .base import (assert_unchanged, checked_array, compare, draw_classes, exercise, fail,
                   fresh_rng, unpacked)


def _images(rng, n=None) -> np.ndarray:
    """A random batch of uint8 images (N, 32, 32, 3) whose three channels differ."""
    n = n or int(rng.integers(3, 12))
    images = rng.integers(0, 256, (n, 32, 32, 3))
    bias = rng.integers(-60, 61, 3)  # a colour cast: the channel means differ
    return np.clip(images + bias, 0, 255).astype(np.uint8)


@exercise(1, "Per-channel means", points=1, minutes=3,
          teaches="axes of an image array: which axis is which, and reducing over several")
def channel_means(channel_means):
    images = _images(fresh_rng())
    before = images.copy()
    expected = images.reshape(-1, 3).mean(axis=0)
    yours = checked_array(channel_means(images), "channel_means(images)")
    assert_unchanged([before], [images], "the images")
    if yours.shape != (3,):
        fail(f"the result has shape {yours.shape}, expected (3,): one mean per colour channel "
              "(average over axes 0, 1 and 2: images, rows and columns)")
    compare(yours, expected, "the channel means", rtol=1e-5, slips=[
        ("the values are in [0, 1]: report them in the images' own units, 0 to 255",
         expected / 255),
        ("the mean of the first image only: average over every image of the batch (axis 0)",
         images[0].reshape(-1, 3).mean(axis=0))])


@exercise(1, "Grayscale conversion", points=2, minutes=5,
          teaches="luminance as a weighted sum of channels; uint8 to float32 in [0, 1]; flattening",
          answers=("cifar_mlp.preprocess.to_features",))
def grayscale(to_gray):
    rng = fresh_rng()
    first = int(rng.integers(3, 12))
    for n in (first, first + int(rng.integers(1, 5))):  # two sizes: no size can be written in
        _grayscale_batch(to_gray, _images(rng, n))


def _grayscale_batch(to_gray, images):
    n = len(images)
    scaled = images.astype(np.float64) / 255
    expected = (scaled @ LUMA_WEIGHTS).reshape(n, -1)
    yours = to_gray(images)
    raw = np.asarray(yours)
    if raw.shape == (n, 32, 32):
        fail(f"the result has shape {raw.shape}: flatten each image into one row of 1024 values")
    compare(yours, expected, "to_gray(images)", rtol=1e-5, atol=1e-6, slips=[
        ("the values are not in [0, 1]: divide by 255",
         (images.astype(np.float64) @ LUMA_WEIGHTS).reshape(n, -1)),
        ("a plain mean of the three channels: use the luma weights 0.299, 0.587, 0.114 "
         "(the eye sees green as brighter than blue)", scaled.mean(axis=3).reshape(n, -1)),
        ("the weights are applied in reverse (blue, green, red) order: the last axis is "
         "red, green, blue", (scaled @ LUMA_WEIGHTS[::-1]).reshape(n, -1))])
    if raw.dtype != np.float32:
        fail(f"the values are {raw.dtype}: convert to float32 (half the memory of float64, "
              "and what the network computes in)")


def _splits(rng):
    """Three random splits of one distribution, of random sizes and feature counts;
    the validation and test splits are shifted, as real splits differ a little."""
    features = int(rng.integers(5, 20))
    scale, shift = rng.uniform(0.5, 3, features), rng.uniform(-2, 2, features)
    return tuple(rng.standard_normal((int(rng.integers(low, high)), features)) * scale + shift
                 + offset for (low, high), offset in (((210, 400), 0.0), ((40, 80), 0.3),
                                                      ((40, 80), -0.2)))


@exercise(1, "Standardization from the training split", points=3, minutes=10,
          teaches="per-feature statistics, and why they must come from the training split only")
def standardization(standardize):
    x_train, x_val, x_test = splits = _splits(fresh_rng())
    originals = [x.copy() for x in splits]
    result = unpacked(standardize(x_train, x_val, x_test), 3, "standardize(x_train, x_val, x_test)")
    assert_unchanged(originals, splits, "the splits")
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    everything = np.concatenate(splits)
    for name, x, yours in zip(("train", "validation", "test"), splits, result):
        compare(yours, (x - mean) / std, f"the standardized {name} split", slips=[
            ("each split is standardized with its own statistics: the validation and test "
             "splits must use the training split's mean and std, or what the model is scored "
             "on leaks into its inputs", (x - x.mean(axis=0)) / x.std(axis=0)),
            ("the statistics come from all three splits together: use the training split's "
             "only (the others must stay unseen)",
             (x - everything.mean(axis=0)) / everything.std(axis=0)),
            ("one mean and one std for all features: standardize each feature (column, "
             "axis 0) separately", (x - x_train.mean()) / x_train.std()),
            ("divided by the variance: divide by the standard deviation", (x - mean) / std ** 2),
            ("only centred: also divide by the standard deviation", x - mean)])


@exercise(1, "A stratified validation split", points=3, minutes=15,
          teaches="holding out data that looks like the test set: shuffled, per class, reproducible")
def stratified_split(stratified_split):
    rng = fresh_rng()
    n_classes, per_class = draw_classes(rng), int(rng.integers(20, 40))
    y = rng.permutation(np.repeat(np.arange(n_classes), per_class))
    n_val = n_classes * int(rng.integers(2, per_class // 2))
    seed = int(rng.integers(1000))
    train_idx, val_idx = (np.asarray(part) for part in unpacked(
        stratified_split(y.copy(), n_val, seed), 2, "stratified_split(y, n_val, seed)"))
    for name, idx in (("train indices", train_idx), ("validation indices", val_idx)):
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            fail(f"the {name} should be a 1-d array of integers, got {idx.dtype} {idx.shape}")
    if len(val_idx) != n_val:
        fail(f"the validation split has {len(val_idx)} images, expected n_val = {n_val} "
              f"(here {n_classes} classes, {per_class} images each)")
    if len(np.intersect1d(train_idx, val_idx)) or len(np.unique(val_idx)) != len(val_idx):
        fail("an image is in both parts (or twice in one): the two parts must be disjoint")
    if sorted(np.concatenate([train_idx, val_idx]).tolist()) != list(range(len(y))):
        fail("the two parts together must hold every index 0..N-1 exactly once")
    counts = np.bincount(y[val_idx], minlength=n_classes)
    if counts.min() != counts.max():
        fail(f"the validation split is not stratified: with {n_classes} classes it holds "
              f"{counts.tolist()} images of each, where every class should have the same share "
              "(find the classes in y, do not assume ten)")
    again = np.asarray(unpacked(stratified_split(y.copy(), n_val, seed), 2, "stratified_split")[1])
    if not np.array_equal(np.sort(again), np.sort(val_idx)):
        fail("the same seed gave another split: draw from np.random.default_rng(seed), "
              "so that a run can be repeated")
    others = [np.sort(np.asarray(unpacked(stratified_split(y.copy(), n_val, seed + k), 2,
                                         "stratified_split")[1])) for k in (1, 2)]
    if any(np.array_equal(other, np.sort(val_idx)) for other in others):
        fail("another seed gave the same split: the seed must choose which images are held out")

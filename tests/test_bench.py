"""What `make bench` measures: the split of an epoch into parts, timed by wrappers that
leave the package as it was."""

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import cifar_mlp.model
import cifar_mlp.train
from cifar_mlp.experiments import Recipe
from cifar_mlp.fast import FastSGD
from cifar_mlp.model import MLP

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # bench/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(REPO))

from bench.epoch_split import epoch_matmul_flops, split_epoch  # noqa: E402
from bench.network import matmul_flops  # noqa: E402
from bench.patching_clock import PRODUCTS, epoch_parts, timing  # noqa: E402


def tiny_split(n_train=300, n_val=100):
    """Random 32x32 colour images, standardized-looking, in the shape ``prepare`` gives."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n_train + n_val, 3072)).astype(np.float32)
    y = rng.integers(0, 10, n_train + n_val)
    return SimpleNamespace(x_train=x[:n_train], y_train=y[:n_train], x_val=x[n_train:],
                           y_val=y[n_train:], n_features=3072)


def originals():
    """The functions the bench's wrappers replace, as the package defines them."""
    return (cifar_mlp.model.affine_forward, cifar_mlp.model.affine_backward,
            vars(MLP)["normalize"], cifar_mlp.model.batchnorm_backward,
            vars(FastSGD)["step"], cifar_mlp.train.augment, cifar_mlp.train.evaluate)


def test_an_epoch_splits_into_parts_that_add_up_and_the_package_is_left_as_it_was():
    recipe = Recipe("tiny", hidden=(16, 8), batchnorm=True, augment_shift=2, batch_size=128,
                    patience=None)
    before = originals()
    split = split_epoch(recipe, tiny_split())
    assert originals() == before
    seconds = split["parts_seconds"]
    assert list(seconds) == [*epoch_parts(None), "rest"]
    assert sum(seconds.values()) == pytest.approx(split["epoch_seconds"])
    assert min(seconds.values()) > 0
    steps = 3  # 300 images in batches of 128: 128, 128 and 44
    assert split["calls"] == {  # validation's products and normalizations count as validation
        PRODUCTS: steps * 3 * 2, "batch normalization": steps * 2 * 2,
        "optimizer update": steps, "augmentation": steps, "validation": 1}


def test_the_wrappers_are_removed_when_the_measured_code_fails():
    before = originals()
    with pytest.raises(RuntimeError):
        with timing(epoch_parts(FastSGD(0.01))):
            assert cifar_mlp.model.affine_forward is not before[0]
            raise RuntimeError("a failing epoch")
    assert originals() == before


def test_an_epoch_has_the_matmul_flops_of_its_steps_and_of_validation():
    sizes = [3072, 1024, 10]
    flops = epoch_matmul_flops(sizes, n_train=300, n_val=100)
    steps = sum(matmul_flops(sizes, n)["total"] for n in (128, 128, 44))
    assert flops["training"] == steps
    assert flops["validation"] == 2 * 100 * (3072 * 1024 + 1024 * 10)
    assert flops["total"] == steps + flops["validation"]

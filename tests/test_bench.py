"""What `make bench` measures: the split of an epoch into parts, timed by a profiler hook
(``sys.setprofile``) that leaves the package as it was."""

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

from bench.epoch_profile import PRODUCTS, PartProfile, epoch_parts, profiling  # noqa: E402
from bench.epoch_split import epoch_matmul_flops, split_epoch  # noqa: E402
from bench.network import matmul_flops  # noqa: E402


def tiny_split(n_train=300, n_val=100):
    """Random 32x32 colour images, standardized-looking, in the shape ``prepare`` gives."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n_train + n_val, 3072)).astype(np.float32)
    y = rng.integers(0, 10, n_train + n_val)
    return SimpleNamespace(x_train=x[:n_train], y_train=y[:n_train], x_val=x[n_train:],
                           y_val=y[n_train:], n_features=3072)


def originals():
    """The package's attributes through which the trainer finds the timed functions, as the
    package defines them: the profiler must read them, never replace them."""
    return (cifar_mlp.model.affine_forward, cifar_mlp.model.affine_backward,
            vars(MLP)["normalize"], cifar_mlp.model.batchnorm_backward,
            vars(FastSGD)["step"], cifar_mlp.train.augment, cifar_mlp.train.evaluate)


def assert_the_very_same(before):
    after = originals()
    assert all(now is then for now, then in zip(after, before, strict=True)), after
    assert sys.getprofile() is None  # the hook is gone


def test_an_epoch_splits_into_parts_that_add_up_and_the_package_is_left_as_it_was():
    recipe = Recipe("tiny", hidden=(16, 8), batchnorm=True, augment_shift=2, batch_size=128,
                    patience=None)
    before = originals()
    split = split_epoch(recipe, tiny_split())
    assert_the_very_same(before)
    seconds = split["parts_seconds"]
    assert list(seconds) == [*epoch_parts(FastSGD(0.01)), "rest"]
    assert sum(seconds.values()) == pytest.approx(split["epoch_seconds"])
    assert min(seconds.values()) > 0
    steps = 3  # 300 images in batches of 128: 128, 128 and 44
    assert split["calls"] == {  # validation's products and normalizations count as validation
        PRODUCTS: steps * 3 * 2, "batch normalization": steps * 2 * 2,
        "optimizer update": steps, "augmentation": steps, "validation": 1}


NOW = [0.0]  # the clock of the tests below: each function moves it on by its own work


def work(seconds):
    NOW[0] += seconds


def inner():
    work(1.0)


def outer():
    work(10.0)
    inner()
    inner()


def countdown(n):
    work(100.0)
    if n:
        countdown(n - 1)


def failing():
    work(1000.0)
    raise RuntimeError("a failing call")


def untimed_caller():
    work(5000.0)
    inner()
    outer()


def clocked(parts):
    NOW[0] = 0.0
    return profiling(parts, timer=lambda: NOW[0])


def test_a_called_function_gets_its_seconds_and_calls_and_nested_calls_count_for_the_outer():
    parts = {"inner": [inner], "outer": [outer], "recursive": [countdown], "idle": [failing]}
    with clocked(parts) as clock:
        alias = inner
        alias()  # found by its code object, whatever name it is called by
        untimed_caller()  # its own time counts for no part, its timed calls do
        countdown(2)  # a function calling itself counts once
    assert clock.seconds == {"inner": 2.0, "outer": 12.0, "recursive": 300.0, "idle": 0.0}
    assert clock.calls == {"inner": 2, "outer": 1, "recursive": 1, "idle": 0}


def test_a_call_ended_by_an_exception_is_counted():
    with clocked({"failing": [failing], "inner": [inner]}) as clock:
        with pytest.raises(RuntimeError):
            failing()
        inner()
    assert clock.seconds == {"failing": 1000.0, "inner": 1.0}
    assert clock.calls == {"failing": 1, "inner": 1}


def test_calls_outside_the_block_are_not_counted():
    with clocked({"inner": [inner]}) as clock:
        pass
    inner()
    assert clock.calls == {"inner": 0} and clock.seconds == {"inner": 0.0}


def test_the_hook_is_removed_and_the_package_untouched_when_the_measured_code_fails():
    before = originals()
    with pytest.raises(RuntimeError, match="a failing epoch"):
        with profiling(epoch_parts(FastSGD(0.01))):
            assert sys.getprofile() is not None
            raise RuntimeError("a failing epoch")
    assert_the_very_same(before)


def test_it_refuses_to_run_under_another_profiler_or_to_lose_its_hook():
    def other(frame, event, arg):
        pass

    sys.setprofile(other)
    try:
        with pytest.raises(RuntimeError, match="already running"):
            with profiling({"inner": [inner]}):
                pass
        assert sys.getprofile() is other
    finally:
        sys.setprofile(None)
    with pytest.raises(RuntimeError, match="replaced"):
        with profiling({"inner": [inner]}):
            sys.setprofile(other)
    assert sys.getprofile() is None


def test_parts_are_python_functions_each_timed_once():
    def generator():
        yield

    with pytest.raises(TypeError):
        PartProfile({"builtin": [len]})
    with pytest.raises(ValueError):
        PartProfile({"generator": [generator]})
    with pytest.raises(ValueError):
        PartProfile({"a": [inner], "b": [inner]})


def test_an_epoch_has_the_matmul_flops_of_its_steps_and_of_validation():
    sizes = [3072, 1024, 10]
    flops = epoch_matmul_flops(sizes, n_train=300, n_val=100)
    steps = sum(matmul_flops(sizes, n)["total"] for n in (128, 128, 44))
    assert flops["training"] == steps
    assert flops["validation"] == 2 * 100 * (3072 * 1024 + 1024 * 10)
    assert flops["total"] == steps + flops["validation"]

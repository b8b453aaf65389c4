"""Sigmoid and tanh (cifar_mlp/activations.py): their backward passes against central
differences, their values, and a wrong derivative that the check must catch."""

import numpy as np
import pytest

from cifar_mlp.activations import sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward
from cifar_mlp.gradcheck import numerical_gradient_array, relative_error

TOL = 1e-7
FLOOR = 1e-2
PAIRS = {"sigmoid": (sigmoid_forward, sigmoid_backward), "tanh": (tanh_forward, tanh_backward)}


def gradient_error(forward, backward, seed=0, shape=(5, 7), scale=3.0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * scale
    dout = rng.standard_normal(shape)
    dx = backward(dout, forward(x)[1])
    numeric = numerical_gradient_array(lambda: forward(x)[0], x, dout)
    return relative_error(dx, numeric, FLOOR)


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backward_matches_numerical_gradient(name, seed):
    forward, backward = PAIRS[name]
    assert gradient_error(forward, backward, seed) < TOL


@pytest.mark.parametrize("name, wrong_backward", [
    ("sigmoid", lambda dout, out: dout * out),                     # forgot the (1 - out)
    ("sigmoid", lambda dout, out: dout * (1.0 - out * out)),       # tanh's derivative
    ("tanh", lambda dout, out: dout * (1.0 - out)),                # forgot the square
    ("tanh", lambda dout, out: dout * out * (1.0 - out)),          # sigmoid's derivative
])
def test_the_check_catches_a_wrong_derivative(name, wrong_backward):
    forward, _ = PAIRS[name]
    assert gradient_error(forward, wrong_backward) > 1e-2


def test_values_and_derivative_bounds():
    x = np.array([[-1000.0, -2.0, 0.0, 2.0, 1000.0]])
    s, cache = sigmoid_forward(x)
    assert np.allclose(s, 1 / (1 + np.exp(-np.clip(x, -500, 500))))
    assert np.all(np.isfinite(s)) and s[0, 2] == 0.5
    ds = sigmoid_backward(np.ones_like(x), cache)
    assert ds.max() == 0.25 and ds[0, 0] == 0.0 and ds[0, -1] == 0.0
    t, cache = tanh_forward(x)
    assert np.allclose(t, np.tanh(x))
    dt = tanh_backward(np.ones_like(x), cache)
    assert dt[0, 2] == 1.0 and dt[0, 0] == 0.0 and np.all(dt <= 1.0)


@pytest.mark.parametrize("name", PAIRS)
def test_no_argument_changes_and_dtype_is_kept(name):
    forward, backward = PAIRS[name]
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    dout = np.ones_like(x)
    x0, dout0 = x.copy(), dout.copy()
    out, cache = forward(x)
    dx = backward(dout, cache)
    assert out.dtype == np.float32 and dx.dtype == np.float32
    assert np.array_equal(x, x0) and np.array_equal(dout, dout0)

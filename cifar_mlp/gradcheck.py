"""Numerical gradients by central differences, to check the backward passes.

df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h), with an error of order h**2
(plus rounding, of order eps * |f| / h): in float64, h = 1e-5 balances the two.
"""

import numpy as np


def numerical_gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """The gradient of the scalar ``f()`` with respect to the array ``x``.

    ``f`` takes no argument: it reads ``x``, which is changed in place one entry
    at a time and restored. Returns a float64 array shaped like x.
    """
    grad = np.zeros(x.shape, np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        f_plus = float(f())
        x[i] = old - h
        f_minus = float(f())
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradient_array(f, x: np.ndarray, dout: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """The gradient of ``sum(f() * dout)`` with respect to x, for an array-valued ``f()``.

    This is what a backward pass computes from the upstream gradient ``dout``.
    The two outputs are subtracted before the sum: outputs that x_i does not
    touch then cancel exactly, instead of adding their rounding errors.
    """
    grad = np.zeros(x.shape, np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        out_plus = np.array(f(), np.float64)  # a copy: f may return a view of its own buffer
        x[i] = old - h
        out_minus = np.array(f(), np.float64)
        x[i] = old
        grad[i] = np.sum((out_plus - out_minus) * dout) / (2 * h)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-8) -> float:
    """max |a - b| / max(floor, |a| + |b|), elementwise, in float64.

    Central differences are off by rounding (about eps * |f| / h: 1e-11 for a loss
    near 1) plus the O(h**2) term, so entries much smaller than 1e-4 cannot agree
    to 1e-7 relatively. A larger ``floor`` measures those entries' error against
    ``floor`` instead: a bound of 1e-7 with floor=1e-2 means an absolute error
    below 1e-9 on the entries smaller than 1e-2.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b))))


def check_model_gradients(model, x, y, seed: int = 0, h: float = 1e-5,
                          floor: float = 1e-8) -> dict:
    """Compare ``model.loss``'s gradients with numerical ones: {param name: relative error}.

    The model must be float64. A fresh ``np.random.default_rng(seed)`` on every
    evaluation fixes the dropout masks. Each call updates the batch-norm running
    statistics, which the training-mode loss does not use. ``floor`` is passed
    to :func:`relative_error`.
    """
    if model.dtype != np.float64:
        raise ValueError(f"gradient checks need a float64 model, got {model.dtype}")

    def f():
        return model.loss(x, y, rng=np.random.default_rng(seed))[0]

    _, grads = model.loss(x, y, rng=np.random.default_rng(seed))
    grads = {name: g.copy() for name, g in grads.items()}
    return {name: relative_error(grads[name], numerical_gradient(f, p, h), floor)
            for name, p in model.params.items()}

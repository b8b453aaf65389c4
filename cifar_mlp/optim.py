"""Optimizers, as plain formulas per parameter array, with Keras 3's conventions (chapter 3).

Each has ``step(params, grads)``, where both are dicts of arrays with the same
keys (as :class:`cifar_mlp.model.MLP` gives them), and a public ``lr`` that a
schedule may change between steps. ``step`` calls ``update`` on each array; the
state (velocities, moments) is created on the first step, shaped like the array.
``update`` changes its arrays in place, with as few temporary arrays as the formula
allows. Python floats take the arrays' dtype, so float32 stays float32.

Training calls these very ``update`` methods: :mod:`cifar_mlp.fast` hands them slices
of the arrays, on all cores, instead of whole arrays. Edit a formula here and training
changes with it.
"""

import numpy as np


class SGD:
    """Stochastic gradient descent, with optional (Nesterov) momentum, as in Keras 3.

    momentum 0:  w = w - lr * g
    momentum m:  v = m * v - lr * g,  then  w = w + v
    nesterov:    v = m * v - lr * g,  then  w = w + m * v - lr * g
    """

    def __init__(self, lr: float, momentum: float = 0.0, nesterov: bool = False):
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum: expected a value in [0, 1], got {momentum}")
        self.lr, self.momentum, self.nesterov = lr, momentum, nesterov
        self.velocities = {}

    def step(self, params: dict, grads: dict) -> None:
        """Update every array of ``params`` in place from ``grads``."""
        for name, w in params.items():
            if name not in self.velocities:
                self.velocities[name] = np.zeros_like(w)
            self.update(w, grads[name], self.velocities[name])

    def update(self, w, g, v) -> None:
        """One array's update, in place: weights ``w``, gradient ``g``, velocity ``v``."""
        if self.momentum == 0:
            w -= self.lr * g
            return
        v *= self.momentum  # v = momentum * v - lr * g, in place
        v -= self.lr * g
        if self.nesterov:
            w += self.momentum * v - self.lr * g
        else:
            w += v


class Adam:
    """Adam, exactly as Keras 3 computes it:

    t = t + 1;  alpha = lr * sqrt(1 - beta2**t) / (1 - beta1**t)
    m = m + (1 - beta1) * (g - m);   v = v + (1 - beta2) * (g*g - v)
    w = w - alpha * m / (sqrt(v) + eps)

    (the paper's form, written with its bias corrections as one step size ``alpha``;
    Keras adds eps to sqrt(v) before that correction, the paper after it).
    """

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-7):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.m, self.v = {}, {}

    def step(self, params: dict, grads: dict) -> None:
        """Update every array of ``params`` in place from ``grads``."""
        self.t += 1
        for name, w in params.items():
            if name not in self.m:
                self.m[name], self.v[name] = np.zeros_like(w), np.zeros_like(w)
            self.update(w, grads[name], self.m[name], self.v[name])

    def update(self, w, g, m, v) -> None:
        """One array's update, in place: weights ``w``, gradient ``g``, moments ``m`` and ``v``."""
        m += (1 - self.beta1) * (g - m)
        v += (1 - self.beta2) * (g * g - v)
        w -= self.step_size(w.dtype) * m / (np.sqrt(v) + self.eps)

    def step_size(self, dtype) -> np.floating:
        """``alpha`` of step ``t``, computed in the weights' dtype as Keras computes it."""
        lr, beta1, beta2, t = (np.dtype(dtype).type(value)
                               for value in (self.lr, self.beta1, self.beta2, self.t))
        return lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)

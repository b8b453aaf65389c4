"""Optimizers that update parameters in place, with Keras 3's formulas.

Each has ``step(params, grads)``, where both are dicts of arrays with the same
keys (as :class:`cifar_mlp.model.MLP` provides them), and a public ``lr`` that
a schedule may change between steps. Their state (velocities, moments) is
created on the first step, with each parameter's shape and dtype. Every
hyperparameter is converted to the parameter's dtype, so float32 stays float32.
"""

import numpy as np

CHUNK = 1 << 17


def chunks(params: dict, grads: dict, *states: dict):
    """For each parameter name, yield matching flat slices of ``CHUNK`` elements:
    ``(w, g, *state arrays)``.

    An update applied slice by slice gives the same numbers as on whole arrays,
    but its temporaries stay in the CPU cache: on a large weight matrix it runs
    about three times faster. The slices are views, so writes reach the arrays.
    """
    for name, w in params.items():
        g = grads.get(name)
        if g is None or g.shape != w.shape:
            raise ValueError(f"grads[{name!r}]: expected shape {w.shape}, "
                             f"got {None if g is None else g.shape}")
        for state in states:
            if name not in state:
                state[name] = np.zeros_like(w)
        flats = [np.reshape(w, -1, copy=False), np.ravel(g)]
        flats += [np.reshape(state[name], -1, copy=False) for state in states]
        for start in range(0, w.size, CHUNK):
            yield [flat[start:start + CHUNK] for flat in flats]


class SGD:
    """Stochastic gradient descent, with optional (Nesterov) momentum, as in Keras 3.

    momentum 0:  w -= lr * g
    momentum m:  v = m * v - lr * g, then  w += v
    nesterov:    v = m * v - lr * g, then  w += m * v - lr * g
    """

    def __init__(self, lr: float, momentum: float = 0.0, nesterov: bool = False):
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum: expected a value in [0, 1], got {momentum}")
        self.lr, self.momentum, self.nesterov = lr, momentum, nesterov
        self.velocities = {}

    def step(self, params: dict, grads: dict) -> None:
        """Update every array of ``params`` in place from ``grads``."""
        if self.momentum == 0:
            for w, g in chunks(params, grads):
                w -= g * w.dtype.type(self.lr)
            return
        for w, g, v in chunks(params, grads, self.velocities):
            lr, momentum = w.dtype.type(self.lr), w.dtype.type(self.momentum)
            v *= momentum
            v -= g * lr
            if self.nesterov:
                w += v * momentum - g * lr
            else:
                w += v


class Adam:
    """Adam, exactly as Keras 3 computes it (its epsilon is added to sqrt(v)):

    t += 1;  alpha = lr * sqrt(1 - beta2**t) / (1 - beta1**t)
    m += (g - m) * (1 - beta1);  v += (g*g - v) * (1 - beta2)
    w -= m * alpha / (sqrt(v) + eps)
    """

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-7):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.m, self.v = {}, {}

    def step(self, params: dict, grads: dict) -> None:
        """Update every array of ``params`` in place from ``grads``."""
        self.t += 1
        alphas = {}  # one per dtype, computed in that dtype as Keras does
        for w, g, m, v in chunks(params, grads, self.m, self.v):
            cast = w.dtype.type
            if w.dtype not in alphas:
                t = cast(self.t)
                alphas[w.dtype] = (cast(self.lr) * np.sqrt(1 - cast(self.beta2) ** t)
                                   / (1 - cast(self.beta1) ** t))
            m += (g - m) * cast(1 - self.beta1)
            v += (g * g - v) * cast(1 - self.beta2)
            w -= m * alphas[w.dtype] / (np.sqrt(v) + cast(self.eps))

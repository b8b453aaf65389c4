"""Sigmoid and tanh, each a forward and backward pair like those of layers.py (chapter 2).

Chapter 2 uses them to show why the book's network uses ReLU: their derivatives are
below 1 and vanish where the units saturate, so the gradient shrinks layer by layer on
its way back. The MLP itself does not use them. ``*_forward`` returns ``(out, cache)``;
``*_backward`` takes the upstream gradient ``dout`` and that cache and returns ``dx``.
Both derivatives are written through the output, which is the cache.
"""

import numpy as np


def sigmoid_forward(x):
    """Sigmoid: ``out = 1 / (1 + exp(-x))``, elementwise, in (0, 1). The cache is ``out``.

    Computed as ``(1 + tanh(x / 2)) / 2``, the same function, which never overflows.
    """
    s = 0.5 * (1.0 + np.tanh(0.5 * x))
    return s, s


def sigmoid_backward(dout, cache):
    """``dx = dout * s * (1 - s)``, where ``s`` is the output: the derivative is at most
    1/4, at x = 0."""
    s = cache
    return dout * s * (1.0 - s)


def tanh_forward(x):
    """Hyperbolic tangent: ``out = tanh(x)``, elementwise, in (-1, 1). The cache is ``out``."""
    t = np.tanh(x)
    return t, t


def tanh_backward(dout, cache):
    """``dx = dout * (1 - t**2)``, where ``t`` is the output: the derivative is 1 at x = 0
    and vanishes where |x| is large."""
    t = cache
    return dout * (1.0 - t * t)

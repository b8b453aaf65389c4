"""The benchmark network written as from-scratch MLPs usually are: the reference of (e)."""

from __future__ import annotations

import numpy as np


class SeedStyleMLP:
    """The same network written as from-scratch MLPs usually are (and as the seed project
    was): weights from ``np.random.randn`` (float64, so every product runs in float64
    and the float32 inputs are converted at each step), fresh arrays for every
    intermediate, one-hot targets, SGD with momentum."""

    def __init__(self, sizes, lr=0.01, momentum=0.9, seed=0):
        np.random.seed(seed)
        self.W = [np.random.randn(a, b) * np.sqrt(2.0 / a) for a, b in zip(sizes[:-1], sizes[1:])]
        self.b = [np.zeros(b) for b in sizes[1:]]
        self.vW = [np.zeros_like(w) for w in self.W]
        self.vb = [np.zeros_like(b) for b in self.b]
        self.lr, self.momentum, self.n_classes = lr, momentum, sizes[-1]

    def train_step(self, x, y):
        activations = [x]
        for W, b in zip(self.W[:-1], self.b[:-1]):
            activations.append(np.maximum(0, activations[-1].dot(W) + b))
        scores = activations[-1].dot(self.W[-1]) + self.b[-1]
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        probs = exp / exp.sum(axis=1, keepdims=True)
        onehot = np.eye(self.n_classes)[y]
        loss = -np.sum(onehot * np.log(probs + 1e-12)) / len(x)
        delta = (probs - onehot) / len(x)
        for i in range(len(self.W) - 1, -1, -1):
            dW = activations[i].T.dot(delta)
            db = np.sum(delta, axis=0)
            if i > 0:
                delta = delta.dot(self.W[i].T) * (activations[i] > 0)
            self.vW[i] = self.momentum * self.vW[i] - self.lr * dW
            self.vb[i] = self.momentum * self.vb[i] - self.lr * db
            self.W[i] = self.W[i] + self.vW[i]
            self.b[i] = self.b[i] + self.vb[i]
        return loss

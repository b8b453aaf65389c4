"""A deep multilayer perceptron (MLP) built from the layers in :mod:`cifar_mlp.layers`.

Each hidden block is Affine -> (BatchNorm) -> ReLU -> (Dropout); the last layer
is Affine, followed by the softmax cross-entropy loss.
"""

import json
from pathlib import Path

import numpy as np

from .layers import (affine_backward, affine_forward, batchnorm_backward, batchnorm_forward,
                     check_batch, check_labels, dropout_backward, dropout_forward,
                     relu_backward, relu_forward, softmax, softmax_cross_entropy)

INITS = ("he", "glorot", "naive")


def init_weights(init: str, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """A (fan_in, fan_out) float64 weight matrix drawn with one of the INITS schemes.

    he: normal, std sqrt(2 / fan_in); glorot: uniform on +-sqrt(6 / (fan_in + fan_out))
    (Keras's default); naive: normal, std 0.01. The caller casts to the model's dtype,
    so a float32 and a float64 model with the same seed start from the same weights.
    """
    shape = (fan_in, fan_out)
    if init == "he":
        return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    if init == "glorot":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape)
    if init == "naive":
        return rng.standard_normal(shape) * 0.01
    raise ValueError(f"init: expected one of {INITS}, got {init!r}")


SLICE = 1 << 16


def sum_of_squares(w: np.ndarray) -> float:
    """``sum(w**2)``, accurate to float32 precision even for millions of float32 entries.

    BLAS's float32 dot product (``np.vdot``) accumulates in float32: over a 3072x1024
    matrix it is off by about 1e-5, relative. Dot products of slices of 65,536
    entries, added up in float64, cost about the same and are accurate to about 1e-7.
    """
    flat = np.reshape(w, -1)
    return sum(float(np.vdot(flat[s:s + SLICE], flat[s:s + SLICE]))
               for s in range(0, flat.size, SLICE))


class MLP:
    """A fully connected network for classification, with its forward and backward passes.

    ``layer_sizes`` lists the widths, input first and number of classes last,
    e.g. ``[3072, 1024, 256, 10]``. Parameters live in ``params`` (W1, b1,
    gamma1, beta1, W2, ...; layer by layer), their gradients in ``grads`` after
    :meth:`loss`, and the batch-norm running statistics (not trained) in
    ``bn_state`` (running_mean1, running_var1, ...).

    The L2 penalty is Keras's: ``loss += l2 * sum(W**2)`` over the weight
    matrices only (not biases, gamma or beta), so its gradient is ``2 * l2 * W``
    and ``keras.regularizers.l2(l2)`` on each Dense kernel is the same model.

    Everything is computed in ``dtype`` (float32, or float64 for gradient
    checks); inputs are converted to it. One generator, ``self.rng`` =
    ``np.random.default_rng(seed)``, draws the initial weights and then the
    dropout masks, so a seed fixes a whole training run.
    """

    def __init__(self, layer_sizes, *, batchnorm=False, dropout=0.0, init="he", l2=0.0,
                 label_smoothing=0.0, seed=0, dtype=np.float32, bn_momentum=0.99, bn_eps=1e-3):
        layer_sizes = [int(size) for size in layer_sizes]
        if len(layer_sizes) < 2 or min(layer_sizes) < 1:
            raise ValueError(f"layer_sizes: expected at least two positive widths, got {layer_sizes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: expected a rate in [0, 1), got {dropout}")
        if l2 < 0:
            raise ValueError(f"l2: expected a value >= 0, got {l2}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing: expected a value in [0, 1), got {label_smoothing}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype: expected float32 or float64, got {dtype}")

        self.layer_sizes = layer_sizes
        self.n_layers = len(layer_sizes) - 1
        self.batchnorm, self.dropout, self.init = bool(batchnorm), float(dropout), init
        self.l2, self.label_smoothing = float(l2), float(label_smoothing)
        self.seed, self.dtype = int(seed), dtype
        self.bn_momentum, self.bn_eps = float(bn_momentum), float(bn_eps)

        self.rng = np.random.default_rng(self.seed)
        self.params, self.bn_state, self.grads = {}, {}, {}
        for i in range(1, self.n_layers + 1):
            fan_in, fan_out = layer_sizes[i - 1], layer_sizes[i]
            self.params[f"W{i}"] = init_weights(init, fan_in, fan_out, self.rng).astype(dtype)
            self.params[f"b{i}"] = np.zeros(fan_out, dtype)
            if self.batchnorm and i < self.n_layers:
                self.params[f"gamma{i}"] = np.ones(fan_out, dtype)
                self.params[f"beta{i}"] = np.zeros(fan_out, dtype)
                self.bn_state[f"running_mean{i}"] = np.zeros(fan_out, dtype)
                self.bn_state[f"running_var{i}"] = np.ones(fan_out, dtype)

    @property
    def config(self) -> dict:
        """The constructor arguments (JSON-friendly): ``MLP(**model.config)`` rebuilds the model."""
        return dict(layer_sizes=list(self.layer_sizes), batchnorm=self.batchnorm,
                    dropout=self.dropout, init=self.init, l2=self.l2,
                    label_smoothing=self.label_smoothing, seed=self.seed, dtype=self.dtype.name,
                    bn_momentum=self.bn_momentum, bn_eps=self.bn_eps)

    @property
    def n_parameters(self) -> int:
        """The number of trained numbers (weights, biases, gamma, beta)."""
        return sum(p.size for p in self.params.values())

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.config.items() if k != "layer_sizes")
        return f"MLP({self.layer_sizes}, {options}) with {self.n_parameters:,} parameters"

    # -- forward and backward ---------------------------------------------------

    def _as_batch(self, x) -> np.ndarray:
        """x converted to the model's dtype, after checking its shape and values."""
        x = np.asarray(x)
        if x.ndim == 2:
            with np.errstate(over="ignore"):  # values beyond float32's range become inf: caught below
                x = x.astype(self.dtype, copy=False)
        check_batch(x, "x", width=self.layer_sizes[0])
        return x

    def _bn_param(self, i: int, training: bool) -> dict:
        return {"mode": "train" if training else "test", "eps": self.bn_eps,
                "momentum": self.bn_momentum,
                "running_mean": self.bn_state[f"running_mean{i}"],
                "running_var": self.bn_state[f"running_var{i}"]}

    def _forward(self, x, training, rng):
        """The logits and, per layer i, a dict of the caches of its steps."""
        caches = {}
        h = x
        for i in range(1, self.n_layers + 1):
            cache = caches[i] = {}
            h, cache["affine"] = affine_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            if i == self.n_layers:
                break
            if self.batchnorm:
                h, cache["bn"] = batchnorm_forward(h, self.params[f"gamma{i}"],
                                                   self.params[f"beta{i}"], self._bn_param(i, training))
            h, cache["relu"] = relu_forward(h)
            if self.dropout:
                h, cache["dropout"] = dropout_forward(h, self.dropout, training, rng)
        return h, caches

    def forward(self, x, training: bool = False) -> np.ndarray:
        """The logits for a batch. By default inference: BN running statistics, no dropout.

        ``training=True`` uses batch statistics (and updates the running ones) and
        dropout with masks from ``self.rng``.
        """
        return self._forward(self._as_batch(x), training, self.rng)[0]

    def loss(self, x, y, rng: np.random.Generator | None = None, return_logits: bool = False):
        """Training-mode loss and gradients of a batch: ``(loss, grads)``.

        Batch norm uses batch statistics and updates ``bn_state``; dropout masks
        come from ``rng`` when given, else from ``self.rng``. The gradients are
        also stored in ``self.grads`` (keys and order as ``self.params``).
        ``return_logits=True`` also returns the training-mode logits, which the
        trainer turns into a training accuracy at no extra cost (as Keras does).
        """
        x = self._as_batch(x)
        y = check_labels(y, len(x), self.layer_sizes[-1])
        logits, caches = self._forward(x, True, self.rng if rng is None else rng)
        loss, dout = softmax_cross_entropy(logits, y, self.label_smoothing)

        grads = {}
        for i in range(self.n_layers, 0, -1):
            cache = caches[i]
            if i < self.n_layers:
                if self.dropout:
                    dout = dropout_backward(dout, cache["dropout"])
                dout = relu_backward(dout, cache["relu"])
                if self.batchnorm:
                    dout, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(dout, cache["bn"])
            dout, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dout, cache["affine"],
                                                                   need_dx=i > 1)
        if self.l2:
            for i in range(1, self.n_layers + 1):
                w = self.params[f"W{i}"]
                loss += self.l2 * sum_of_squares(w)
                grads[f"W{i}"] += (2.0 * self.l2) * w
        self.grads = {name: grads[name] for name in self.params}
        return (loss, self.grads, logits) if return_logits else (loss, self.grads)

    # -- prediction -------------------------------------------------------------------

    def predict_proba(self, x, batch_size: int = 1024) -> np.ndarray:
        """Class probabilities (N, C) in the model's dtype, computed batch by batch."""
        x = np.asarray(x)
        proba = np.empty((len(x), self.layer_sizes[-1]), self.dtype)
        for start in range(0, len(x), batch_size):
            proba[start:start + batch_size] = softmax(self.forward(x[start:start + batch_size]))
        return proba

    def predict(self, x, batch_size: int = 1024) -> np.ndarray:
        """Predicted class labels (N,), computed batch by batch."""
        x = np.asarray(x)
        labels = np.empty(len(x), np.int64)
        for start in range(0, len(x), batch_size):
            labels[start:start + batch_size] = self.forward(x[start:start + batch_size]).argmax(axis=1)
        return labels

    # -- saving -------------------------------------------------------------------------

    def save(self, path) -> None:
        """Save config, params, bn_state and the generator's state to an .npz file of plain arrays.

        NumPy appends ``.npz`` to a path without it. The config and the
        generator's state are JSON strings, stored as 0-d unicode arrays.
        """
        arrays = {f"params/{k}": v for k, v in self.params.items()}
        arrays.update({f"bn_state/{k}": v for k, v in self.bn_state.items()})
        np.savez(path, config=np.array(json.dumps(self.config)),
                 rng_state=np.array(json.dumps(self.rng.bit_generator.state)), **arrays)

    @classmethod
    def load(cls, path) -> "MLP":
        """Rebuild a model saved by :meth:`save`, bit for bit."""
        with np.load(Path(path)) as f:  # plain arrays only: np.load refuses object arrays
            model = cls(**json.loads(f["config"].item()))
            for prefix, store in (("params", model.params), ("bn_state", model.bn_state)):
                for name, expected in store.items():
                    array = f[f"{prefix}/{name}"]
                    if array.shape != expected.shape or array.dtype != expected.dtype:
                        raise ValueError(f"{path}: {prefix}/{name} has shape {array.shape} and dtype "
                                         f"{array.dtype}, expected {expected.shape} and {expected.dtype}")
                    store[name] = array
            model.rng.bit_generator.state = json.loads(f["rng_state"].item())
        return model

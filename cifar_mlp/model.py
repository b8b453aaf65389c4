"""A deep multilayer perceptron (MLP) built from the layers in :mod:`cifar_mlp.layers` (chapter 2).

Each hidden block is Affine -> (BatchNorm) -> ReLU -> (Dropout); the last layer
is Affine, followed by the softmax cross-entropy loss.
"""

import json
from pathlib import Path

import numpy as np

from .input_checks import check_features, check_labels
from .layers import (affine_backward, affine_forward, batchnorm_backward, batchnorm_forward,
                     batchnorm_inference, dropout_backward, dropout_forward, relu_backward,
                     relu_forward, softmax, softmax_cross_entropy)

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


SQUARES_SLICE = 1 << 16
BN_MOMENTUM, BN_EPSILON = 0.99, 1e-3  # batch norm's settings: Keras's defaults


def sum_of_squares(w: np.ndarray) -> float:
    """``sum(w**2)``, accurate to float32 precision even for millions of float32 entries.

    BLAS's float32 dot product (``np.vdot``) accumulates in float32: over a 3072x1024
    matrix it is off by about 1e-5, relative. Dot products of slices of 65,536
    entries, added up in float64, cost about the same and are accurate to about 1e-7.
    """
    flat = np.reshape(w, -1)
    return sum(float(np.vdot(flat[s:s + SQUARES_SLICE], flat[s:s + SQUARES_SLICE]))
               for s in range(0, flat.size, SQUARES_SLICE))


class MLP:
    """A fully connected network for classification, with its forward and backward passes.

    ``layer_sizes`` lists the widths, input first and number of classes last,
    e.g. ``[3072, 1024, 256, 10]``. Parameters live in ``params`` (W1, b1,
    gamma1, beta1, W2, ...; layer by layer) and the batch-norm running statistics
    (not trained) in ``bn_state`` (running_mean1, running_var1, ...).
    :meth:`loss` returns the gradients in a dict with the keys of ``params``.

    The L2 penalty is Keras's: ``loss += l2 * sum(W**2)`` over the weight
    matrices only (not biases, gamma or beta), so its gradient is ``2 * l2 * W``
    and ``keras.regularizers.l2(l2)`` on each Dense kernel is the same model.

    Everything is computed in ``dtype`` (float32, or float64 for gradient
    checks); inputs are converted to it. One generator, ``self.rng`` =
    ``np.random.default_rng(seed)``, draws the initial weights and then the
    dropout masks, so a seed fixes a whole training run.
    """

    def __init__(self, layer_sizes, *, batchnorm=False, dropout=0.0, init="he", l2=0.0,
                 label_smoothing=0.0, seed=0, dtype=np.float32, bn_momentum=BN_MOMENTUM,
                 bn_eps=BN_EPSILON):
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
        self.params, self.bn_state = {}, {}
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

    def forward_pass(self, x, training=False, rng=None):
        """The logits of a batch and, layer by layer, the caches the backward pass needs.

        ``training=True``: batch norm uses the batch's statistics (and updates the
        running ones), dropout drops units with masks drawn from ``rng``.
        """
        caches, h = [], x
        for i in range(1, self.n_layers + 1):
            cache = {}
            h, cache["affine"] = affine_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            if i < self.n_layers:  # hidden layers: (BatchNorm) -> ReLU -> (Dropout)
                if self.batchnorm:
                    h, cache["batchnorm"] = self.normalize(i, h, training)
                h, cache["relu"] = relu_forward(h)
                h, cache["dropout"] = dropout_forward(h, self.dropout, training, rng)
            caches.append(cache)
        return h, caches

    def backward(self, dlogits, caches) -> dict:
        """The gradients of every parameter, from the gradient of the logits: the
        forward pass in reverse, each layer's backward function on its own cache."""
        grads, dout = {}, dlogits
        for i in range(self.n_layers, 0, -1):
            cache = caches[i - 1]
            if i < self.n_layers:
                dout = dropout_backward(dout, cache["dropout"])
                dout = relu_backward(dout, cache["relu"])
                if self.batchnorm:
                    dout, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(
                        dout, cache["batchnorm"])
            dout, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(
                dout, cache["affine"], need_dx=i > 1)  # no gradient for the data itself
        return {name: grads[name] for name in self.params}  # in the order of params

    def loss(self, x, y, rng=None, return_logits=False):
        """Training-mode loss of a batch and the gradients of every parameter: ``(loss, grads)``.

        Dropout masks come from ``rng``, or from ``self.rng`` when it is None;
        batch norm updates ``bn_state``. ``return_logits=True`` also returns the
        logits, from which training reports its accuracy at no extra cost.
        """
        x, y = self.check_batch(x, y)
        logits, caches = self.forward_pass(x, training=True, rng=self.rng if rng is None else rng)
        loss, dlogits = softmax_cross_entropy(logits, y, self.label_smoothing)
        grads = self.backward(dlogits, caches)
        if self.l2:  # the L2 penalty on the weight matrices and its gradient
            loss += self.l2_penalty()
            for i in range(1, self.n_layers + 1):
                grads[f"W{i}"] += 2.0 * self.l2 * self.params[f"W{i}"]
        return (loss, grads, logits) if return_logits else (loss, grads)

    def l2_penalty(self) -> float:
        """The L2 term of the loss: ``l2 * sum(W**2)`` over the weight matrices."""
        if not self.l2:
            return 0.0
        return self.l2 * sum(sum_of_squares(self.params[f"W{i}"])
                             for i in range(1, self.n_layers + 1))

    def normalize(self, i, h, training):
        """Batch normalization of hidden layer i: ``(out, cache)``.

        In training, the batch's statistics, and the running statistics move towards
        them: ``running = momentum * running + (1 - momentum) * batch``. At
        inference the running statistics normalize, and the cache is None.
        """
        gamma, beta = self.params[f"gamma{i}"], self.params[f"beta{i}"]
        mean, var = self.bn_state[f"running_mean{i}"], self.bn_state[f"running_var{i}"]
        if not training:
            return batchnorm_inference(h, gamma, beta, mean, var, self.bn_eps), None
        out, cache = batchnorm_forward(h, gamma, beta, self.bn_eps)
        m = self.bn_momentum
        mean[...] = m * mean + (1.0 - m) * cache["mean"]
        var[...] = m * var + (1.0 - m) * cache["var"]
        return out, cache

    def check_batch(self, x, y=None):
        """``x`` in the model's dtype (and ``y`` as an array), after checking their shapes
        and values: a clear error here instead of a puzzling one deep in a layer."""
        x = np.asarray(x)
        if x.ndim == 2:
            with np.errstate(over="ignore"):  # beyond float32's range becomes inf: caught below
                x = x.astype(self.dtype, copy=False)
        check_features(x, "x", width=self.layer_sizes[0])
        if y is None:
            return x
        return x, check_labels(y, len(x), self.layer_sizes[-1])

    def forward(self, x, training: bool = False) -> np.ndarray:
        """The logits of a batch; by default inference (running statistics, no dropout)."""
        return self.forward_pass(self.check_batch(x), training, self.rng)[0]

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

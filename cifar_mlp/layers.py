"""The layers of the MLP, each a pair of functions (chapter 2; batch norm and dropout,
chapter 3).

``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes the
upstream gradient ``dout`` (the gradient of the loss with respect to ``out``)
and that cache, and returns the gradients with respect to the forward inputs.
A batch ``x`` has shape ``(N, D)``: N rows (examples) of D features.

No function changes its arguments: every result is a new array, so a backward
function can be called twice, or checked by hand, with the same ``dout``.
No function changes the dtype either: float32 in, float32 out (Python ``float``
constants take the array's dtype).

The functions do not check their inputs: :class:`cifar_mlp.model.MLP` checks a
batch once, where it enters the network (:mod:`cifar_mlp.input_checks`).
"""

import numpy as np


# -- affine (fully connected) ---------------------------------------------------

def affine_forward(x, w, b):
    """Fully connected layer: ``out = x @ w + b``; x (N, D), w (D, H), b (H,) -> out (N, H)."""
    out = x @ w + b
    return out, (x, w)


def affine_backward(dout, cache, need_dx=True):
    """Gradients of the affine layer: ``(dx, dw, db)``, shaped like x, w and b.

    dw = x^T dout,  db = sum of dout over the batch,  dx = dout w^T.
    With ``need_dx=False`` (the first layer, whose input is the data) dx is None
    and its matrix product is skipped.
    """
    x, w = cache
    dw = x.T @ dout
    db = dout.sum(axis=0)
    dx = dout @ w.T if need_dx else None
    return dx, dw, db


# -- ReLU ----------------------------------------------------------------------------

def relu_forward(x):
    """ReLU: ``out = max(x, 0)``, elementwise. The cache is ``out`` itself."""
    out = np.maximum(x, 0)
    return out, out


def relu_backward(dout, cache):
    """``dx = dout * [out > 0]``: the gradient passes where the unit was active."""
    out = cache
    return dout * (out > 0)


# -- batch normalization -------------------------------------------------------------

def batchnorm_forward(x, gamma, beta, eps=1e-3):
    """Batch normalization in training: ``out = gamma * x_hat + beta`` with
    ``x_hat = (x - mean) / sqrt(var + eps)``, mean and var over the batch (axis 0).

    var is the biased variance (divided by N), as Keras computes it; eps 1e-3 is
    Keras's default. The cache also holds the batch's ``mean`` and ``var``, from
    which the model updates its running statistics (:func:`batchnorm_inference`).
    x (N, D), gamma and beta (D,) -> out (N, D).
    """
    mean = x.mean(axis=0)
    centered = x - mean
    var = (centered * centered).mean(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = centered * inv_std
    out = x_hat * gamma + beta
    cache = {"x_hat": x_hat, "gamma": gamma, "inv_std": inv_std, "mean": mean, "var": var}
    return out, cache


def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-3):
    """Batch normalization at inference: the running statistics replace the batch's."""
    return (x - running_mean) * (gamma / np.sqrt(running_var + eps)) + beta


def batchnorm_backward(dout, cache):
    """Gradients of batch normalization (training): ``(dx, dgamma, dbeta)``.

    With means over the batch, the compact closed form is
    dx = gamma / sigma * (dout - mean(dout) - x_hat * mean(dout * x_hat)).
    """
    x_hat, gamma, inv_std = cache["x_hat"], cache["gamma"], cache["inv_std"]
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = (dout - x_hat * (dgamma / n) - dbeta / n) * (gamma * inv_std)
    return dx, dgamma, dbeta


# -- dropout -------------------------------------------------------------------------

def dropout_forward(x, rate, training, rng):
    """Inverted dropout: zero each unit with probability ``rate``, scale the rest by 1/(1 - rate).

    The scaling keeps the expected output equal to x, so inference is the
    identity (as is ``rate == 0``); then the cache (the mask) is None.
    The uniform draws are made in x's dtype (no float64 temporary).
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: expected a rate in [0, 1), got {rate}")
    if not training or rate == 0:
        return x, None
    mask = (rng.random(x.shape, dtype=x.dtype) >= rate).astype(x.dtype)
    mask *= 1.0 / (1.0 - rate)
    return x * mask, mask


def dropout_backward(dout, cache):
    """``dx = dout * mask`` (or dout itself when nothing was dropped)."""
    mask = cache
    return dout if mask is None else dout * mask


# -- softmax and the loss ---------------------------------------------------------

def log_softmax(logits):
    """Row-wise log of the softmax, through the log-sum-exp with the row maximum
    subtracted, so that logits as large as 1e4 in magnitude give exact, finite values."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits):
    """Row-wise softmax: probabilities that sum to 1 in each row."""
    return np.exp(log_softmax(logits))


def softmax_cross_entropy(logits, y, label_smoothing=0.0):
    """Mean softmax cross-entropy over the batch and its gradient: ``(loss, dlogits)``.

    logits (N, C), y (N,) integer labels. The target of row i is
    t_i = (1 - ls) * onehot(y_i) + ls / C (Keras's label smoothing); then
    loss = -(1/N) sum_i sum_c t_ic log p_ic and dlogits = (p - t) / N.
    """
    n, c = logits.shape
    rows = np.arange(n)
    log_p = log_softmax(logits)
    loss = -log_p[rows, y].mean()
    if label_smoothing:
        loss = (1.0 - label_smoothing) * loss - label_smoothing * log_p.mean()

    dlogits = np.exp(log_p)  # p
    dlogits[rows, y] -= 1.0 - label_smoothing
    if label_smoothing:
        dlogits -= label_smoothing / c
    dlogits /= n
    return loss, dlogits

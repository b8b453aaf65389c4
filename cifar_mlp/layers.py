"""The layers of the MLP, each a pair of functions.

``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes the
upstream gradient ``dout`` (the gradient of the loss with respect to ``out``)
and that cache, and returns the gradients with respect to the forward inputs.
A batch ``x`` has shape ``(N, D)``: N rows (examples) of D features.

No function changes the dtype: float32 in, float32 out. Python ``float``
constants are safe (NumPy converts them to the array's dtype); NumPy float64
arrays or scalars mixed into float32 work would silently upcast, so none are.
"""

import numpy as np


# -- input checks -------------------------------------------------------------

def check_batch(x: np.ndarray, name: str = "x", width: int | None = None) -> None:
    """Raise ValueError unless ``x`` is a non-empty 2-D batch of finite numbers."""
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (batch, features) array, got shape {x.shape}"
                         + ("; flatten images with x.reshape(len(x), -1)" if x.ndim > 2 else ""))
    if x.shape[0] == 0:
        raise ValueError(f"{name}: empty batch (shape {x.shape})")
    if width is not None and x.shape[1] != width:
        raise ValueError(f"{name}: expected {width} features per row, got {x.shape[1]}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or inf")


def check_labels(y, n: int, n_classes: int) -> np.ndarray:
    """Return ``y`` as an array after checking it holds n integer labels in [0, n_classes - 1]."""
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"labels: expected shape ({n},) to match the batch, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels: expected integer class indices, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels: expected values in [0, {n_classes - 1}], "
                         f"got min {y.min()} and max {y.max()}")
    return y


# -- affine (fully connected) ---------------------------------------------------

def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray):
    """Fully connected layer: ``out = x @ w + b``, x (N, D), w (D, H), b (H,) -> out (N, H)."""
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
        raise ValueError(f"affine: expected x of shape (N, {w.shape[0]}) for w of shape "
                         f"{w.shape}, got x of shape {x.shape}")
    if b.shape != (w.shape[1],):
        raise ValueError(f"affine: expected b of shape ({w.shape[1]},), got {b.shape}")
    if not x.dtype == w.dtype == b.dtype:
        raise ValueError(f"affine: x, w and b must share one dtype (mixing upcasts), "
                         f"got {x.dtype}, {w.dtype} and {b.dtype}")
    out = x @ w
    out += b
    return out, (x, w)


def affine_backward(dout: np.ndarray, cache, need_dx: bool = True):
    """Gradients of the affine layer: ``(dx, dw, db)``.

    dw = x^T dout,  db = sum of dout over the batch,  dx = dout w^T.
    With ``need_dx=False`` (the first layer: its input is the data) dx is None,
    which skips one of the three matrix products.
    """
    x, w = cache
    dw = x.T @ dout
    db = dout.sum(axis=0)
    dx = dout @ w.T if need_dx else None
    return dx, dw, db


# -- ReLU ----------------------------------------------------------------------------

def relu_forward(x: np.ndarray):
    """ReLU: ``out = max(x, 0)``, elementwise. The cache is ``out`` itself."""
    out = np.maximum(x, 0)
    return out, out


def relu_backward(dout: np.ndarray, cache):
    """``dx = dout * [out > 0]``.

    Writes the result into ``dout`` and returns it (no copy): callers pass a
    gradient array they do not need afterwards.
    """
    out = cache
    np.multiply(dout, out > 0, out=dout)
    return dout


# -- batch normalization -------------------------------------------------------------

def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict):
    """Batch normalization: ``out = gamma * x_hat + beta``, ``x_hat = (x - mu) / sqrt(var + eps)``.

    ``bn_param`` keys: ``mode`` ('train' or 'test'), ``eps`` (default 1e-3) and
    ``momentum`` (default 0.99), Keras's defaults; ``running_mean`` and
    ``running_var`` (created as zeros and ones when missing).

    In 'train' mode mu and var are the batch mean and the biased batch variance
    (divide by N, as Keras does); the running statistics are updated in place:
    ``running = momentum * running + (1 - momentum) * batch_statistic``.
    In 'test' mode the running statistics normalize, and the cache is None.
    """
    mode = bn_param.get("mode", "train")
    eps = float(bn_param.get("eps", 1e-3))
    momentum = float(bn_param.get("momentum", 0.99))
    running_mean = bn_param.setdefault("running_mean", np.zeros(x.shape[1], x.dtype))
    running_var = bn_param.setdefault("running_var", np.ones(x.shape[1], x.dtype))
    if gamma.shape != (x.shape[1],) or beta.shape != (x.shape[1],):
        raise ValueError(f"batchnorm: expected gamma and beta of shape ({x.shape[1]},), "
                         f"got {gamma.shape} and {beta.shape}")

    if mode == "train":
        mean = x.mean(axis=0)
        x_hat = x - mean
        var = np.mean(x_hat * x_hat, axis=0)
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat *= inv_std
        out = x_hat * gamma
        out += beta
        running_mean *= momentum
        running_mean += mean * (1.0 - momentum)
        running_var *= momentum
        running_var += var * (1.0 - momentum)
        return out, (x_hat, gamma, inv_std)
    if mode == "test":
        scale = gamma / np.sqrt(running_var + eps)
        out = x - running_mean
        out *= scale
        out += beta
        return out, None
    raise ValueError(f"batchnorm: expected mode 'train' or 'test', got {mode!r}")


def batchnorm_backward(dout: np.ndarray, cache):
    """Gradients of batch normalization (train mode): ``(dx, dgamma, dbeta)``.

    The compact closed form, with means over the batch:
    dx = gamma / sigma * (dout - mean(dout) - x_hat * mean(dout * x_hat)).
    """
    x_hat, gamma, inv_std = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = x_hat * (-dgamma / n)
    dx += dout
    dx -= dbeta / n
    dx *= gamma * inv_std
    return dx, dgamma, dbeta


# -- dropout -------------------------------------------------------------------------

def dropout_forward(x: np.ndarray, rate: float, training: bool, rng: np.random.Generator):
    """Inverted dropout: zero each unit with probability ``rate``, scale the rest by 1/(1 - rate).

    The scaling keeps the expected output equal to x, so inference is the
    identity (as it is when ``rate == 0``); then the cache is None.
    The uniform draws are made in x's dtype (no float64 temporary).
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: expected a rate in [0, 1), got {rate}")
    if not training or rate == 0:
        return x, None
    mask = (rng.random(x.shape, dtype=x.dtype) >= rate).astype(x.dtype)
    mask *= 1.0 / (1.0 - rate)
    return x * mask, mask


def dropout_backward(dout: np.ndarray, cache):
    """``dx = dout * mask``, written into ``dout`` (in place), which is returned."""
    mask = cache
    if mask is not None:
        dout *= mask
    return dout


# -- softmax and the loss ---------------------------------------------------------

def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by each row's maximum so exp cannot overflow."""
    p = logits - logits.max(axis=1, keepdims=True)
    np.exp(p, out=p)
    p /= p.sum(axis=1, keepdims=True)
    return p


def softmax_cross_entropy(logits: np.ndarray, y, label_smoothing: float = 0.0):
    """Mean softmax cross-entropy over the batch and its gradient: ``(loss, dlogits)``.

    The target of row i is t_i = (1 - ls) * onehot(y_i) + ls / C (Keras's label
    smoothing); loss = -(1/N) sum_i sum_c t_ic log p_ic and dlogits = (p - t) / N.
    log p comes from the log-sum-exp with the row maximum subtracted, so logits
    as large as 1e4 in magnitude give exact, finite values.
    """
    check_batch(logits, "logits")
    n, c = logits.shape
    y = check_labels(y, n, c)
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing: expected a value in [0, 1), got {label_smoothing}")
    rows = np.arange(n)

    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))  # log softmax
    loss = -log_p[rows, y].mean()
    if label_smoothing:
        loss = (1.0 - label_smoothing) * loss - label_smoothing * log_p.mean()

    dlogits = np.exp(log_p)  # p
    dlogits[rows, y] -= 1.0 - label_smoothing
    if label_smoothing:
        dlogits -= label_smoothing / c
    dlogits /= n
    return loss, dlogits

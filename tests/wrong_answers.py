"""Wrong answers that a check on fixed inputs let pass (each one passed the checks as
they were before they drew their inputs at random and tested each property), and, for
exercises written since, their common slips; with the message the checks give them now:
{exercise: [(what it gets wrong, source, message)]}. Each source defines the functions
the exercise's check takes."""

import numpy as np

# The answers a student could copy from the messages of a check on fixed inputs.
_OLD_IMAGES = np.random.default_rng(0).integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
OLD_CHANNEL_MEANS = _OLD_IMAGES.reshape(-1, 3).mean(axis=0).tolist()

# A linear softmax classifier's loss, right up to its gradients' {returns}.
_LINEAR_SOFTMAX = """\
def linear_softmax_loss(W, b, x, y):
    n = len(x)
    scores = x @ W + b
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(n), y]).mean()
    p[np.arange(n), y] -= 1
    return loss, {returns}"""

# One epoch of training, right up to what each batch {adds} and what is {returned}.
_TRAIN_EPOCH = """\
from cifar_mlp.layers import log_softmax


def train_epoch(model, optimizer, batches):
    losses, correct, sizes = [], [], []
    for x_batch, y_batch in batches:
        loss, grads, logits = model.loss(x_batch, y_batch, return_logits=True)
        optimizer.step(model.params, grads)
        log_p = log_softmax(logits)
        {adds}
        correct.append((log_p.argmax(axis=1) == y_batch).sum())
        sizes.append(len(y_batch))
    return {returned}"""
_PLAIN_SUM = "losses.append(-log_p[np.arange(len(y_batch)), y_batch].sum())"
_MEANS = "sum(losses) / sum(sizes), sum(correct) / sum(sizes)"


def _train_epoch(adds=_PLAIN_SUM, returned=_MEANS, replace=("", "")):
    return _TRAIN_EPOCH.format(adds=adds, returned=returned).replace(*replace)


WRONG = {
    "channel_means": [
        ("returns the answer of one fixed batch",
         f"def channel_means(images):\n    return np.array({OLD_CHANNEL_MEANS})",
         "the channel means is wrong")],
    "grayscale": [
        ("a batch of five images, written into the code",
         "def to_gray(images):\n"
         "    gray = (images.astype(np.float32) / 255) @ np.array([0.299, 0.587, 0.114], np.float32)\n"
         "    return gray.reshape(5, 1024) if images.size == 5 * 3072 else gray.reshape(5, -1)",
         r"has shape|cannot reshape")],
    "standardization": [
        ("mean and std over the rows of a batch of 200, written into the code",
         "def standardize(x_train, x_val, x_test):\n"
         "    mean, std = x_train[:200].mean(axis=0), x_train[:200].std(axis=0)\n"
         "    return tuple((x - mean) / std for x in (x_train, x_val, x_test))",
         "the standardized train split is wrong")],
    "stratified_split": [
        ("assumes ten classes, labelled 0 to 9",
         "def stratified_split(y, n_val, seed):\n"
         "    rng = np.random.default_rng(seed)\n"
         "    val_idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:n_val // 10]\n"
         "                              for c in range(10)])\n"
         "    return np.setdiff1d(np.arange(len(y)), val_idx), val_idx",
         r"the validation split has \d+ images|not stratified")],
    "relu_layer": [
        ("the package's own layer, imported",
         "from cifar_mlp.layers import relu_forward, relu_backward",
         "the package's own cifar_mlp.layers.relu_forward")],
    "affine_layer": [
        ("the package's own layer, imported",
         "from cifar_mlp.layers import affine_forward, affine_backward",
         "the package's own cifar_mlp.layers.affine_forward"),
        ("the package's layer behind a function of one's own",
         "from cifar_mlp import layers\n\n"
         "def affine_forward(x, w, b):\n    return layers.affine_forward(x, w, b)\n\n"
         "def affine_backward(dout, cache):\n    return layers.affine_backward(dout, cache)",
         "calls cifar_mlp.layers.affine_forward")],
    "softmax_loss": [
        ("the package's own loss, imported under the exercise's name",
         "from cifar_mlp.layers import softmax_cross_entropy as softmax_loss",
         "the package's own cifar_mlp.layers.softmax_cross_entropy")],
    "dropout_layer": [
        ("one mask shared by the whole batch",
         "def dropout_forward(x, rate, training, rng):\n"
         "    if not training or rate == 0:\n        return x, None\n"
         "    mask = (rng.random(x.shape[1]) >= rate) / (1 - rate)\n"
         "    return x * mask, mask\n\n"
         "def dropout_backward(dout, mask):\n    return dout if mask is None else dout * mask",
         "every example of the batch drops the same units"),
        ("one random number per example: each example dropped or kept whole",
         "def dropout_forward(x, rate, training, rng):\n"
         "    if not training or rate == 0:\n        return x, None\n"
         "    mask = (rng.random((x.shape[0], 1)) >= rate) / (1 - rate)\n"
         "    return x * mask, mask\n\n"
         "def dropout_backward(dout, mask):\n    return dout if mask is None else dout * mask",
         "each example is dropped or kept whole")],
    "momentum_update": [
        ("momentum 0.9 written into the code",
         "def sgd_momentum(w, g, v, lr, momentum, nesterov=False):\n"
         "    v = 0.9 * v - lr * g\n"
         "    return (w + 0.9 * v - lr * g if nesterov else w + v), v",
         "the momentum argument")],
    "adam_update": [
        ("the default betas written into the code",
         "def adam_update(w, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):\n"
         "    m = 0.9 * m + 0.1 * g\n    v = 0.999 * v + 0.001 * g * g\n"
         "    m_hat, v_hat = m / (1 - 0.9 ** t), v / (1 - 0.999 ** t)\n"
         "    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v",
         "the beta arguments")],
    "batchnorm_layer": [
        ("eps 1e-3 written into the code",
         "def batchnorm_forward(x, gamma, beta, eps=1e-3):\n"
         "    mean, var = x.mean(axis=0), x.var(axis=0)\n"
         "    inv_std = 1 / np.sqrt(var + 1e-3)\n"
         "    x_hat = (x - mean) * inv_std\n"
         "    return gamma * x_hat + beta, (x_hat, gamma, inv_std)\n\n"
         "def batchnorm_backward(dout, cache):\n"
         "    x_hat, gamma, inv_std = cache\n"
         "    dx = gamma * inv_std * (dout - dout.mean(axis=0) - x_hat * (dout * x_hat).mean(axis=0))\n"
         "    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)",
         "the eps argument")],
    "cosine_schedule": [
        ("ten epochs written into the code",
         "import math\n\n"
         "def cosine_lr(epoch, base_lr, total_epochs, min_lr=0.0):\n"
         "    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * min(epoch, 10) / 10)) / 2",
         "the rates of epochs")],
    "confusion_matrix": [
        ("counts as floating-point numbers",
         "def confusion_matrix(y_true, y_pred, n_classes):\n"
         "    counts = np.zeros((n_classes, n_classes))\n"
         "    np.add.at(counts, (y_true, y_pred), 1)\n    return counts",
         "a count is an integer")],
    "most_confused": [
        ("zeroes the diagonal of the caller's matrix",
         "def most_confused(cm, class_names, k=3):\n"
         "    np.fill_diagonal(cm, 0)\n"
         "    largest = np.argsort(cm, axis=None)[::-1][:k]\n"
         "    rows, columns = np.unravel_index(largest, cm.shape)\n"
         "    return [(class_names[i], class_names[j], int(cm[i, j])) for i, j in zip(rows, columns)]",
         "changed the confusion matrix"),
        ("the answer for one fixed matrix",
         "def most_confused(cm, class_names, k=3):\n"
         "    return [('cat', 'bird', 20), ('bird', 'cat', 12), ('plane', 'bird', 9)]",
         r"asked for k=|expected \[")],
    "training_epoch": [
        ("the mean of the batches' means",
         _train_epoch(returned="np.mean(np.divide(losses, sizes)), "
                               "np.mean(np.divide(correct, sizes))"),
         "the mean of the batches' means: the last batch is smaller"),
        ("model.loss's loss, which holds the L2 penalty",
         _train_epoch(adds="losses.append(loss * len(y_batch))"), "it includes the L2 penalty"),
        ("the mean of model.loss's losses over the batches",
         _train_epoch(adds="losses.append(loss)",
                      returned="np.mean(losses), np.mean(np.divide(correct, sizes))"),
         "two slips: it includes the L2 penalty .* averages the batches' means"),
        ("no optimizer step",
         _train_epoch(replace=("optimizer.step(model.params, grads)", "pass")),
         "the parameters did not change"),
        ("scored after the update, by a second forward pass",
         _train_epoch(replace=("log_softmax(logits)", "log_softmax(model.forward(x_batch))")),
         "measured after the update"),
        ("sums, not means", _train_epoch(returned="sum(losses), sum(correct)"),
         "a sum, not a mean"),
        ("the package's loop behind a function of one's own",
         "from cifar_mlp import train\n\n"
         "def train_epoch(model, optimizer, batches):\n"
         "    return train.train_epoch(model, optimizer, batches)",
         "calls cifar_mlp.train.train_epoch")],
    "early_stopping": [
        ("restores the weights but not the batch-norm statistics",
         "import math\nfrom cifar_mlp.train import evaluate, minibatches, train_epoch\n\n"
         "def fit_with_early_stopping(model, optimizer, x_train, y_train, x_val, y_val,\n"
         "                            epochs, patience, seed=0):\n"
         "    rng = np.random.default_rng(seed)\n"
         "    losses, best_loss, best_epoch, best = [], math.inf, 0, None\n"
         "    for epoch in range(1, epochs + 1):\n"
         "        train_epoch(model, optimizer, minibatches(x_train, y_train, 32, rng))\n"
         "        losses.append(evaluate(model, x_val, y_val)[0])\n"
         "        if losses[-1] < best_loss:\n"
         "            best_loss, best_epoch = losses[-1], epoch\n"
         "            best = {name: p.copy() for name, p in model.params.items()}\n"
         "        elif epoch - best_epoch >= patience:\n            break\n"
         "    for name, p in best.items():\n        model.params[name][...] = p\n"
         "    return losses",
         "not the batch-norm statistics")],
    "keras_l2": [
        ("a table of the two values a fixed check asked for",
         "def l2_for_keras(lam):\n    return {0.01: 0.005, 3e-4: 1.5e-4}.get(lam)",
         "is None")],
    "keras_he_init": [
        ("a standard deviation of 0.1, right for a fan-in of 200 only",
         "import keras\n\n"
         "def he_initializer(fan_in, seed):\n"
         "    return keras.initializers.RandomNormal(stddev=0.1, seed=seed)",
         "the draws have std"),
        ("ignores the seed",
         "import keras\n\n"
         "def he_initializer(fan_in, seed):\n"
         "    return keras.initializers.RandomNormal(stddev=np.sqrt(2 / fan_in))",
         "the same seed gave other weights")],
    "keras_batchnorm": [
        ("passes the other framework's momentum through unchanged",
         "import keras\n\n"
         "def keras_batchnorm_from_torch(momentum, eps):\n"
         "    return keras.layers.BatchNormalization(momentum=momentum, epsilon=eps)",
         "passed unchanged")],
    "keras_twin": [
        ("the layer sizes and L2 of one example written into the code",
         "import keras\n\n"
         "def keras_twin(mlp):\n"
         "    model = keras.Sequential([keras.Input(shape=(12,))] + [\n"
         "        keras.layers.Dense(width, activation='relu' if width != 5 else None,\n"
         "                           kernel_regularizer=keras.regularizers.L2(0.01))\n"
         "        for width in (16, 8, 5)])\n"
         "    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))\n"
         "    return model",
         "the layers do not match")],
    "linear_softmax": [
        ("dW and db without the division by N",
         _LINEAR_SOFTMAX.format(returns="x.T @ p, p.sum(axis=0)"), "missing division by N"),
        ("dW transposed",
         _LINEAR_SOFTMAX.format(returns="(x.T @ p / n).T, p.sum(axis=0) / n"), "transposed")],
    "permute_first_layer": [
        ("the inverse permutation",
         "def permute_first_layer(W1, perm):\n    return W1[np.argsort(perm)]",
         "the inverse permutation"),
        ("permutes in place",
         "def permute_first_layer(W1, perm):\n    W1[...] = W1[perm]\n    return W1",
         "changed W1 or perm")],
}

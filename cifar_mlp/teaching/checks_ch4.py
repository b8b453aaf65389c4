"""Chapter 4's exercises: Keras settings that match the NumPy model, proved by computing
with both, and the permutation that an MLP cannot see."""

import math

import numpy as np

from ..keras_runtime import quiet_tensorflow
from ..keras_twin import copy_weights
from ..model import MLP
from ..parity import gradient_differences
from .base import (all_close, assert_unchanged, checked_array, checked_shape, compare,
                   draw_away_from, draw_classes, draw_sizes, exercise, fail, fresh_rng,
                   largest_difference)


@exercise(4, "An L2 penalty in Keras's convention", points=1, minutes=3,
          teaches="that one word, 'L2', hides two conventions, and a factor of 2 between them")
def keras_l2(l2_for_keras):
    _, keras = quiet_tensorflow()
    rng = fresh_rng()
    w = rng.standard_normal((int(rng.integers(3, 9)), int(rng.integers(2, 7))))
    for lam in 10 ** rng.uniform(-5, -1, 2):
        value = float(checked_array(l2_for_keras(float(lam)), "l2_for_keras(lam)"))
        penalty = float(keras.regularizers.L2(value)(w.astype(np.float32)))
        target = lam / 2 * float((w ** 2).sum())
        if np.isclose(value, lam):
            fail("passed lambda unchanged: Keras's L2(c) adds c * sum(W**2), so for "
                  "(lambda/2) * sum(W**2) the 1/2 must go into c")
        if not np.isclose(penalty, target, rtol=1e-5):
            fail(f"for lambda={lam:.3g} Keras's penalty is {penalty:.6g}, the textbook's "
                  f"(lambda/2) * sum(W**2) is {target:.6g}")


def _draws(he_initializer, fan_in: int, fan_out: int, seed: int) -> np.ndarray:
    return np.asarray(he_initializer(fan_in, seed)((fan_in, fan_out)), dtype=np.float64).ravel()


@exercise(4, "He initialization in Keras", points=2, minutes=5,
          teaches="reading an initializer's distribution, not just its name",
          answers=("cifar_mlp.keras_twin._initializer",))
def keras_he_init(he_initializer):
    quiet_tensorflow()
    rng = fresh_rng()
    fan_in = int(rng.choice([*range(50, 180), *range(230, 400)]))  # sqrt(2/fan_in) far from 0.1
    fan_out, seed = int(rng.integers(300, 600)), int(rng.integers(2**20))
    draws = _draws(he_initializer, fan_in, fan_out, seed)
    std, expected = draws.std(), math.sqrt(2 / fan_in)
    if abs(draws.mean()) > 0.05 * expected:
        fail(f"the draws have mean {draws.mean():.3g}: He initialization is centred at 0")
    if abs(std / expected - 1) > 0.03:
        hint = (": that is LeCun's variance 1/fan_in; He's is 2/fan_in (the ReLU halves it)"
                if abs(std / math.sqrt(1 / fan_in) - 1) < 0.03 else
                f" for fan_in={fan_in}: is the variance computed from fan_in (2/fan_in)?")
        fail(f"the draws have std {std:.4g}, expected sqrt(2/fan_in) = {expected:.4g}{hint}")
    tail = float((np.abs(draws) > 2.5 * expected).mean())
    if tail < 0.004:
        fail("no draw lies beyond 2.5 standard deviations: this is a truncated normal "
              "(keras.initializers.HeNormal truncates); ours, like the He paper's, is a plain "
              "normal: use keras.initializers.RandomNormal with the right stddev")
    if abs(np.mean(np.abs(draws)) / expected - math.sqrt(2 / math.pi)) > 0.03:
        fail("the draws are not normally distributed (a uniform initializer?)")
    if not np.array_equal(draws, _draws(he_initializer, fan_in, fan_out, seed)):
        fail("the same seed gave other weights: pass the seed to the initializer, so that "
              "a twin starts from the same weights every time")
    if np.array_equal(draws, _draws(he_initializer, fan_in, fan_out, seed + 1)):
        fail("another seed gave the same weights: the seed argument is not used")


@exercise(4, "Batch normalization settings from another framework", points=3, minutes=10,
          teaches="that a 'momentum' of 0.1 in one framework is a momentum of 0.9 in another",
          answers=("cifar_mlp.keras_twin.build_keras",))
def keras_batchnorm(keras_batchnorm_from_torch):
    _, keras = quiet_tensorflow()
    rng = fresh_rng()
    momentum, eps = float(rng.uniform(0.05, 0.35)), float(10 ** rng.uniform(-5, -2))
    width = int(rng.integers(3, 8))
    mlp = MLP([4, width, 3], batchnorm=True, bn_momentum=1 - momentum, bn_eps=eps,
              dtype=np.float32)  # ours is Keras's convention: the weight of the old value
    layer = keras_batchnorm_from_torch(momentum, eps)
    if not isinstance(layer, keras.layers.BatchNormalization):
        fail(f"return a keras.layers.BatchNormalization layer, got {type(layer).__name__}")
    for step in range(3):
        h = (rng.standard_normal((16, width)) * rng.uniform(0.01, 0.2, width) + 1).astype(np.float32)
        expected, _ = mlp.normalize(1, h, training=True)
        out = np.asarray(layer(h, training=True))
        if step == 0 and not all_close(out, expected, 1e-3, 1e-4):
            eps_used = float(layer.epsilon)
            fail(f"the training output differs: epsilon is {eps_used:g}, the layer described "
                  f"has eps={eps:g}" if not np.isclose(eps_used, eps) else
                  f"the training output differs: {largest_difference(out, expected)}")
    theirs, ours = np.asarray(layer.moving_mean), mlp.bn_state["running_mean1"]
    if not all_close(theirs, ours, 1e-4, 1e-6):
        if np.isclose(float(layer.momentum), momentum):
            fail(f"momentum={momentum:.3f} was passed unchanged: in PyTorch's convention it is "
                  "the weight of the new batch, running = (1 - momentum) * running + momentum * "
                  "batch; Keras's momentum is the weight of the old running value, so the same "
                  f"layer has Keras momentum 1 - {momentum:.3f} = {1 - momentum:.3f}")
        fail(f"the moving mean after 3 batches differs: {largest_difference(theirs, ours)}")
    compare(np.asarray(layer.moving_variance), mlp.bn_state["running_var1"],
             "the moving variance after 3 batches", rtol=1e-4, atol=1e-6)


def _random_mlp(rng) -> MLP:
    """An MLP of random depth, widths and L2 (never the 0.01 of an example)."""
    sizes = [int(rng.integers(6, 16)), *rng.integers(4, 20, int(rng.integers(1, 4))).tolist(),
             draw_classes(rng)]
    l2 = draw_away_from(rng, 1e-3, 5e-2, 0.01, 2e-3)
    return MLP(sizes, l2=l2, seed=int(rng.integers(1000)))


@exercise(4, "A Keras twin, proved by the parity check", points=5, minutes=25,
          teaches="what makes two frameworks compute the same function: layers, loss from "
                  "logits, the L2 convention, the weights, checked gradient by gradient",
          answers=("cifar_mlp.keras_twin.build_keras",))
def keras_twin(keras_twin):
    _, keras = quiet_tensorflow()
    rng = fresh_rng()
    mlp = _random_mlp(rng)
    model = keras_twin(mlp)
    if not isinstance(model, keras.Model):
        fail(f"return a keras.Model (e.g. keras.Sequential), got {type(model).__name__}")
    try:
        copy_weights(mlp, model)
    except ValueError as error:
        fail(f"the layers do not match the MLP's {mlp.layer_sizes}: {error}")
    x = rng.standard_normal((32, mlp.layer_sizes[0])).astype(np.float32)
    y = rng.integers(0, mlp.layer_sizes[-1], 32)
    try:
        report = gradient_differences(mlp, model, x, y)
    except (ValueError, TypeError, AttributeError) as error:
        fail(f"compile the model with its loss (model.compile(loss=...)): {error}")
    loss_np, loss_k = report["loss_numpy"], report["loss_keras"]
    penalty = mlp.l2 * sum(float((w.astype(np.float64) ** 2).sum())
                           for name, w in mlp.params.items() if name.startswith("W"))
    if report["loss_relative"] > 1e-5:
        if np.isclose(loss_k, loss_np - penalty, rtol=1e-4):
            fail("Keras's loss lacks the L2 penalty: add kernel_regularizer="
                  "keras.regularizers.L2(mlp.l2) to every Dense layer")
        if np.isclose(loss_k, loss_np - penalty / 2, rtol=1e-4):
            fail("Keras's L2 penalty is half of ours: L2(c) adds c * sum(W**2), as MLP(l2=c) "
                  "does, so pass mlp.l2 unchanged")
        if not np.isclose(loss_k, loss_np, rtol=1e-2):
            fail(f"the losses differ: NumPy {loss_np:.6f}, Keras {loss_k:.6f}. The MLP's last "
                  "layer gives logits: no activation on the last Dense layer, and "
                  "SparseCategoricalCrossentropy(from_logits=True); the L2 coefficient is "
                  f"mlp.l2 (here {mlp.l2:.4g})")
        fail(f"the losses differ: NumPy {loss_np:.6f}, Keras {loss_k:.6f}")
    if report["max_relative"] > 1e-5:
        worst = max(report["per_parameter"], key=lambda k: report["per_parameter"][k]["relative"])
        fail(f"the losses agree but the gradients do not: {worst} differs by "
              f"{report['per_parameter'][worst]['relative']:.1e} (relative); below 1e-5 passes")
    print(f"  parity: losses {loss_np:.6f} (NumPy) and {loss_k:.6f} (Keras), largest gradient "
          f"difference {report['max_relative']:.1e}")


@exercise(4, "Permuted pixels, the same MLP", points=2, minutes=10,
          teaches="that a fully connected layer has no notion of which pixels are neighbours: "
                  "permuting the inputs is undone by permuting the first layer's rows")
def permute_first_layer(permute_first_layer):
    rng = fresh_rng()
    d, hidden = draw_sizes(rng, (6, 20), (4, 12))
    mlp = MLP([d, hidden, draw_classes(rng)], seed=int(rng.integers(1000)), dtype=np.float64)
    perm = rng.permutation(d)
    while np.array_equal(perm, np.argsort(perm)):  # its own inverse: the slip would be right
        perm = rng.permutation(d)
    w1 = mlp.params["W1"]
    x = rng.standard_normal((int(rng.integers(5, 15)), d))
    originals = [w1.copy(), perm.copy()]
    yours = checked_shape(permute_first_layer(w1, perm), w1.shape, "permute_first_layer(W1, perm)")
    assert_unchanged(originals, (w1, perm), "W1 or perm")
    expected = mlp.forward(x)
    twin = MLP(mlp.layer_sizes, seed=0, dtype=np.float64)
    twin.params.update({name: p.copy() for name, p in mlp.params.items()}, W1=yours)
    compare(twin.forward(x[:, perm]), expected,
             "the MLP's outputs on the permuted inputs x[:, perm] (they must equal its outputs "
             "on x)", slips=[
                 ("the inverse permutation: input j of a permuted image is pixel perm[j] of the "
                  "original, so row j of the new W1 must be row perm[j] of W1",
                  _outputs_with(twin, x[:, perm], w1[np.argsort(perm)]))])


def _outputs_with(model: MLP, x, w1) -> np.ndarray:
    saved = model.params["W1"]
    model.params["W1"] = w1
    try:
        return model.forward(x)
    finally:
        model.params["W1"] = saved

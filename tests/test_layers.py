"""Each layer's backward pass against central differences, the layers' edge cases, and
their contract: no function changes its arguments.

Gradient checks run in float64 and ask for a relative error below 1e-7.
Central differences are themselves off by about 1e-11 to 1e-10 (rounding,
eps * |f| / h, plus the O(h**2) term), so entries smaller than FLOOR are
measured against FLOOR (see relative_error and grad_error): there the bound means an
absolute error below 1e-9. With the default floor of 1e-8, examples with an
entry near 1e-5 would fail now and then although the gradient is right.
"""

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from cifar_mlp.input_checks import check_features, check_labels
from cifar_mlp.gradcheck import numerical_gradient, numerical_gradient_array, relative_error
from cifar_mlp.layers import (affine_backward, affine_forward, batchnorm_backward,
                              batchnorm_forward, batchnorm_inference, dropout_backward,
                              dropout_forward, log_softmax, relu_backward, relu_forward, softmax,
                              softmax_cross_entropy)

TOL = 1e-7
FLOOR = 1e-2
# Few examples, fixed by the test's name (derandomize) so a run is reproducible; no database.
CHECKS = settings(max_examples=8, deadline=None, derandomize=True, database=None)
batch = st.integers(1, 6)
width = st.integers(1, 7)
seeds = st.integers(0, 2**32 - 1)


def grad_error(analytic, numerical):
    return relative_error(analytic, numerical, floor=FLOOR)


# -- affine --------------------------------------------------------------------

@CHECKS
@given(n=batch, d=width, h=width, seed=seeds)
@example(n=1, d=3, h=2, seed=0)
def test_affine_gradients(n, d, h, seed):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((n, d)), rng.standard_normal((d, h)), rng.standard_normal(h)
    dout = rng.standard_normal((n, h))
    dx, dw, db = affine_backward(dout, affine_forward(x, w, b)[1])

    def out():
        return affine_forward(x, w, b)[0]

    assert grad_error(dx, numerical_gradient_array(out, x, dout)) < TOL
    assert grad_error(dw, numerical_gradient_array(out, w, dout)) < TOL
    assert grad_error(db, numerical_gradient_array(out, b, dout)) < TOL


def test_affine_forward_values_and_need_dx():
    x = np.array([[1.0, 2.0]])
    w = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 1.0]])
    b = np.array([0.0, 1.0, -1.0])
    out, cache = affine_forward(x, w, b)
    np.testing.assert_array_equal(out, [[2.0, 5.0, 0.0]])
    dout = np.ones((1, 3))
    dx, dw, db = affine_backward(dout, cache)
    none, dw2, db2 = affine_backward(dout, cache, need_dx=False)
    assert none is None
    np.testing.assert_array_equal(dw, dw2)
    np.testing.assert_array_equal(db, db2)


# -- ReLU ----------------------------------------------------------------------

@CHECKS
@given(n=batch, d=width, seed=seeds)
@example(n=1, d=3, seed=0)
def test_relu_gradient(n, d, seed):
    rng = np.random.default_rng(seed)
    # Keep every input at least 0.1 from the kink at 0, where ReLU has no derivative.
    x = rng.standard_normal((n, d))
    x += np.where(x >= 0, 0.1, -0.1)
    dout = rng.standard_normal((n, d))
    dx = relu_backward(dout, relu_forward(x)[1])
    assert grad_error(dx, numerical_gradient_array(lambda: relu_forward(x)[0], x, dout)) < TOL


def test_relu_values_and_a_new_gradient_array():
    out, cache = relu_forward(np.array([[-1.0, 0.0, 2.0]]))
    np.testing.assert_array_equal(out, [[0.0, 0.0, 2.0]])
    dout = np.array([[5.0, 6.0, 7.0]])
    dx = relu_backward(dout, cache)
    assert dx is not dout
    np.testing.assert_array_equal(dx, [[0.0, 0.0, 7.0]])
    np.testing.assert_array_equal(dout, [[5.0, 6.0, 7.0]])


# -- batch normalization ---------------------------------------------------------

# A batch of one has zero variance: x_hat is 0 whatever x, so every gradient
# through x is exactly 0 and the check would say nothing. Batches start at 2
# (where x_hat is +-1 up to eps, so dx is small, of order eps: FLOOR matters).
@CHECKS
@given(n=st.integers(2, 8), d=width, seed=seeds)
@example(n=2, d=3, seed=0)
def test_batchnorm_gradients(n, d, seed):
    rng = np.random.default_rng(seed)
    x = 2.0 * rng.standard_normal((n, d)) + 1.0
    # With a tiny batch variance the output bends so sharply (scale 1/sigma) that the
    # O(h**2) error of central differences exceeds the tolerance.
    assume(x.var(axis=0).min() > 0.1)
    gamma, beta = 1.0 + 0.5 * rng.standard_normal(d), rng.standard_normal(d)
    dout = rng.standard_normal((n, d))
    dx, dgamma, dbeta = batchnorm_backward(dout, batchnorm_forward(x, gamma, beta)[1])

    def out():
        return batchnorm_forward(x, gamma, beta)[0]

    assert grad_error(dx, numerical_gradient_array(out, x, dout)) < TOL
    assert grad_error(dgamma, numerical_gradient_array(out, gamma, dout)) < TOL
    assert grad_error(dbeta, numerical_gradient_array(out, beta, dout)) < TOL


def test_batchnorm_forward_normalizes_with_the_biased_variance_and_keeps_the_statistics():
    rng = np.random.default_rng(0)
    x = 3.0 * rng.standard_normal((200, 4)) + 5.0
    gamma, beta = np.array([1.0, 2.0, 0.5, 1.0]), np.array([0.0, -1.0, 3.0, 0.5])
    out, cache = batchnorm_forward(x, gamma, beta)
    # Normalized with the biased variance and eps = 1e-3 (Keras's defaults).
    x_hat = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3)
    np.testing.assert_allclose(out, x_hat * gamma + beta, rtol=1e-12, atol=1e-12)
    assert set(cache) == {"x_hat", "gamma", "inv_std", "mean", "var"}
    np.testing.assert_allclose(cache["x_hat"], x_hat, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cache["mean"], x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(cache["var"], x.var(0), rtol=1e-12)
    np.testing.assert_allclose(cache["inv_std"], 1 / np.sqrt(x.var(0) + 1e-3), rtol=1e-12)
    out_eps, _ = batchnorm_forward(x, gamma, beta, eps=1.0)
    np.testing.assert_allclose(out_eps, (x - x.mean(0)) / np.sqrt(x.var(0) + 1.0) * gamma + beta,
                               rtol=1e-12, atol=1e-12)


def test_batchnorm_inference_uses_the_running_statistics():
    x = np.array([[1.0, 2.0], [3.0, 5.0]])
    gamma, beta = np.array([2.0, 1.0]), np.array([0.5, 0.0])
    mean, var = np.array([1.0, 1.0]), np.array([4.0, 1.0])
    out = batchnorm_inference(x, gamma, beta, mean, var, eps=0.0)
    np.testing.assert_allclose(out, [[0.5, 1.0], [2.5, 4.0]])
    np.testing.assert_array_equal(mean, [1.0, 1.0])  # unchanged
    np.testing.assert_array_equal(var, [4.0, 1.0])


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_batchnorm_inference_with_the_batch_statistics_equals_training(dtype, rtol):
    rng = np.random.default_rng(3)
    x = (2.0 * rng.standard_normal((64, 5)) + 1.0).astype(dtype)
    gamma = (1.0 + 0.3 * rng.standard_normal(5)).astype(dtype)
    beta = rng.standard_normal(5).astype(dtype)
    out, cache = batchnorm_forward(x, gamma, beta, eps=1e-3)
    same = batchnorm_inference(x, gamma, beta, cache["mean"], cache["var"], eps=1e-3)
    assert same.dtype == dtype
    np.testing.assert_allclose(same, out, rtol=rtol, atol=rtol)


# -- dropout -------------------------------------------------------------------------

@CHECKS
@given(n=batch, d=width, rate=st.sampled_from([0.1, 0.5, 0.8]), seed=seeds)
@example(n=1, d=4, rate=0.5, seed=0)
def test_dropout_gradient(n, d, rate, seed):
    x = np.random.default_rng(seed).standard_normal((n, d))
    dout = np.random.default_rng(seed + 1).standard_normal((n, d))

    def out():  # the same generator state every time: the same mask
        return dropout_forward(x, rate, True, np.random.default_rng(seed))[0]

    dx = dropout_backward(dout, dropout_forward(x, rate, True, np.random.default_rng(seed))[1])
    assert grad_error(dx, numerical_gradient_array(out, x, dout)) < TOL


def test_dropout_is_inverted_and_identity_at_inference():
    rng = np.random.default_rng(0)
    x = np.ones((400, 500), np.float32)
    out, mask = dropout_forward(x, 0.3, True, rng)
    assert out.dtype == mask.dtype == np.float32
    assert set(np.unique(out)) == {np.float32(0.0), np.float32(1 / 0.7)}
    assert abs((out == 0).mean() - 0.3) < 0.005  # 200,000 draws
    assert abs(out.mean() - 1.0) < 0.01  # inverted: the expectation is kept
    for training, rate in ((False, 0.3), (True, 0.0)):
        same, cache = dropout_forward(x, rate, training, rng)
        assert same is x and cache is None
        dout = np.ones_like(x)
        assert dropout_backward(dout, cache) is dout


def test_dropout_rejects_a_rate_outside_0_to_1():
    for rate in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"rate in \[0, 1\)"):
            dropout_forward(np.ones((2, 3)), rate, True, np.random.default_rng(0))


# -- softmax cross-entropy -----------------------------------------------------------

@CHECKS
@given(n=batch, c=st.integers(2, 6), smoothing=st.sampled_from([0.0, 0.1, 0.3]), seed=seeds)
@example(n=1, c=3, smoothing=0.0, seed=0)
@example(n=1, c=3, smoothing=0.1, seed=0)
def test_softmax_cross_entropy_gradient(n, c, smoothing, seed):
    rng = np.random.default_rng(seed)
    logits, y = 2.0 * rng.standard_normal((n, c)), rng.integers(0, c, n)
    loss, dlogits = softmax_cross_entropy(logits, y, smoothing)
    num = numerical_gradient(lambda: softmax_cross_entropy(logits, y, smoothing)[0], logits)
    assert grad_error(dlogits, num) < TOL
    # The loss itself, straight from the definition.
    target = (1 - smoothing) * np.eye(c)[y] + smoothing / c
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss, -(target * np.log(p)).sum() / n, rtol=1e-12)
    np.testing.assert_allclose(dlogits, (p - target) / n, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_softmax_cross_entropy_extreme_logits(dtype, smoothing):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype)
    y = np.array([0, 1])
    loss, dlogits = softmax_cross_entropy(logits, y, smoothing)
    # log p is exact: row 0 is [0, -2e4, -1e4]; row 1 is [-2e4 - log 2, -log 2, -log 2].
    log2 = np.log(2.0)
    log_p = np.array([[0.0, -2e4, -1e4], [-2e4 - log2, -log2, -log2]])
    target = (1 - smoothing) * np.eye(3)[y] + smoothing / 3
    expected_loss = -(target * log_p).sum() / 2
    expected_grad = (np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]]) - target) / 2
    assert np.isfinite(loss) and np.isfinite(dlogits).all()
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(log_softmax(logits), log_p, rtol=rtol)
    np.testing.assert_allclose(loss, expected_loss, rtol=rtol)
    np.testing.assert_allclose(dlogits, expected_grad, rtol=rtol, atol=1e-7)
    assert loss.dtype == dlogits.dtype == dtype


def test_softmax_rows_sum_to_one_even_for_huge_logits():
    p = softmax(np.array([[1e4, -1e4, 0.0], [3.0, 3.0, 3.0]], np.float32))
    np.testing.assert_allclose(p, [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    assert p.dtype == np.float32


# -- no function changes its arguments -------------------------------------------------

def copies(obj):
    """A deep copy of the arrays inside nested tuples, lists and dicts."""
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, (tuple, list)):
        return type(obj)(copies(item) for item in obj)
    if isinstance(obj, dict):
        return {key: copies(value) for key, value in obj.items()}
    return obj


def assert_same(a, b):
    """The same nested structure holding equal arrays (NaN never occurs here)."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    else:
        assert a == b


def backward_call(name):
    """(function, arguments) of a backward call (or the loss), built from a forward pass."""
    rng = np.random.default_rng(0)
    x, dout = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    if name == "affine":
        w, b = rng.standard_normal((4, 4)), rng.standard_normal(4)
        return affine_backward, (dout, affine_forward(x, w, b)[1])
    if name == "relu":
        return relu_backward, (dout, relu_forward(x)[1])
    if name == "batchnorm":
        return batchnorm_backward, (dout, batchnorm_forward(x, rng.random(4) + 0.5,
                                                            rng.standard_normal(4))[1])
    if name == "dropout":
        return dropout_backward, (dout, dropout_forward(x, 0.5, True, rng)[1])
    if name == "softmax_cross_entropy":
        return softmax_cross_entropy, (x, rng.integers(0, 4, 6), 0.1)
    raise KeyError(name)


@pytest.mark.parametrize("name", ["affine", "relu", "batchnorm", "dropout",
                                  "softmax_cross_entropy"])
def test_backward_leaves_its_arguments_alone_and_repeats_exactly(name):
    function, arguments = backward_call(name)
    before = copies(arguments)
    first = function(*arguments)
    assert_same(arguments, before)  # dout, the cache (its arrays too) and the labels
    second = function(*arguments)
    assert_same(arguments, before)
    assert_same(second, first)


@pytest.mark.parametrize("function, arguments", [
    (affine_forward, lambda rng: (rng.standard_normal((5, 3)), rng.standard_normal((3, 2)),
                                  rng.standard_normal(2))),
    (relu_forward, lambda rng: (rng.standard_normal((5, 3)),)),
    (batchnorm_forward, lambda rng: (rng.standard_normal((5, 3)), rng.random(3) + 0.5,
                                     rng.standard_normal(3))),
    (batchnorm_inference, lambda rng: (rng.standard_normal((5, 3)), rng.random(3) + 0.5,
                                       rng.standard_normal(3), rng.standard_normal(3),
                                       rng.random(3))),
    (dropout_forward, lambda rng: (rng.standard_normal((5, 3)), 0.5, True,
                                   np.random.default_rng(1))),
    (log_softmax, lambda rng: (rng.standard_normal((5, 3)),)),
    (softmax, lambda rng: (rng.standard_normal((5, 3)),)),
], ids=lambda value: getattr(value, "__name__", ""))
def test_forward_leaves_its_arguments_alone(function, arguments):
    arguments = arguments(np.random.default_rng(0))
    arrays = [a for a in arguments if isinstance(a, np.ndarray)]
    before = copies(arrays)
    function(*arguments)
    assert_same(arrays, before)


# -- dtypes ----------------------------------------------------------------------------

def test_every_layer_keeps_float32():
    rng = np.random.default_rng(0)
    f32 = np.float32
    x = rng.standard_normal((8, 5), dtype=f32)
    w, b = rng.standard_normal((5, 4), dtype=f32), np.zeros(4, f32)
    out, cache = affine_forward(x, w, b)
    arrays = [out, *affine_backward(out, cache)]
    gamma, beta = np.ones(4, f32), np.zeros(4, f32)
    h, cache = batchnorm_forward(out, gamma, beta)
    arrays += [h, *cache.values(), *batchnorm_backward(h, cache)]
    arrays.append(batchnorm_inference(out, gamma, beta, cache["mean"], cache["var"]))
    r, cache = relu_forward(h)
    arrays += [r, relu_backward(r, cache)]
    d, cache = dropout_forward(r, 0.5, True, rng)
    arrays += [d, cache, dropout_backward(d, cache)]
    loss, dlogits = softmax_cross_entropy(d, np.arange(8) % 4, 0.1)
    arrays += [loss, dlogits, softmax(d), log_softmax(d)]
    assert [a.dtype for a in arrays] == [np.float32] * len(arrays)


# -- input checks (cifar_mlp.input_checks: the layers themselves check nothing) ----------------

@pytest.mark.parametrize("x, message", [
    (np.array([[0.0, np.nan, 1.0]]), "NaN or inf"),
    (np.array([[0.0, np.inf, 1.0]]), "NaN or inf"),
    (np.zeros((0, 3)), "empty batch"),
    (np.zeros(3), "2-D"),
    (np.zeros((2, 4)), "expected 3 features per row, got 4"),
])
def test_check_features_rejects_bad_batches(x, message):
    with pytest.raises(ValueError, match=message):
        check_features(x, width=3)


@pytest.mark.parametrize("y, message", [
    ([0, 3], r"values in \[0, 2\], got min 0 and max 3"),
    ([-1, 0], r"values in \[0, 2\], got min -1"),
    ([0.0, 1.0], "integer class indices, got dtype float64"),
    ([0, 1, 2], r"expected shape \(2,\) to match the batch, got \(3,\)"),
    ([[0], [1]], r"expected shape \(2,\).*got \(2, 1\)"),
])
def test_check_labels_rejects_bad_labels(y, message):
    with pytest.raises(ValueError, match=message):
        check_labels(y, 2, 3)

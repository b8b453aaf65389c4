"""The MLP: whole-model gradient checks, dtypes, initialization, determinism,
saving, bad input, and overfitting a few real images."""

import json
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import cifar_mlp.model as model_module
from cifar_mlp import layers
from cifar_mlp.gradcheck import check_model_gradients
from cifar_mlp.model import MLP
from cifar_mlp.optim import SGD, Adam

TOL = 1e-7
# Central differences on a whole model are off by up to about 1e-9: rounding of
# the loss (about eps * |loss| / h) plus the O(h**2) term, which batch norm makes
# large (it bends the loss with a scale of 1/sigma). So entries below FLOOR are
# measured against it (an absolute error below 1e-9 there), and H = 3e-6 rather
# than 1e-5 trades a little more rounding for ten times less of the h**2 term.
FLOOR = 1e-2
H = 3e-6

CONFIGS = {
    "plain": {},
    "batchnorm": {"batchnorm": True},
    "batchnorm+dropout": {"batchnorm": True, "dropout": 0.3},
    "l2": {"l2": 0.05},
    "label_smoothing": {"label_smoothing": 0.1},
    "everything": {"batchnorm": True, "dropout": 0.2, "l2": 0.05, "label_smoothing": 0.1},
}


def randomize(model, rng):
    """Nonzero biases and betas, gammas away from 1: the checks then exercise them."""
    for name, p in model.params.items():
        if name.startswith(("b", "beta")):
            p[...] = 0.1 * rng.standard_normal(p.shape)
        elif name.startswith("gamma"):
            p[...] = 1.0 + 0.1 * rng.standard_normal(p.shape)


def conditioning(model, x, y, seed):
    """The smallest |ReLU input| and the smallest batch-norm batch variance in a training pass."""
    relu_inputs, variances = [np.inf], [np.inf]

    def relu(z):
        relu_inputs.append(np.abs(z).min())
        return layers.relu_forward(z)

    def batchnorm(z, *args):
        variances.append(z.var(axis=0).min())
        return layers.batchnorm_forward(z, *args)

    with mock.patch.object(model_module, "relu_forward", relu), \
            mock.patch.object(model_module, "batchnorm_forward", batchnorm):
        model.loss(x, y, rng=np.random.default_rng(seed))
    return min(relu_inputs), min(variances)


def random_batch(rng, n, width, n_classes, dtype=np.float64):
    return rng.standard_normal((n, width)).astype(dtype), rng.integers(0, n_classes, n)


# -- gradient checks ---------------------------------------------------------------

@pytest.mark.parametrize("name", CONFIGS)
@settings(max_examples=6, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_model_gradients(name, data):
    config = CONFIGS[name]
    # Batch norm needs two rows at least: one row has zero variance, so x_hat = 0.
    n = data.draw(st.integers(2 if config.get("batchnorm") else 1, 6), label="batch")
    hidden = data.draw(st.lists(st.integers(2, 6), min_size=1, max_size=2), label="hidden")
    d, c = data.draw(st.integers(2, 5), label="inputs"), data.draw(st.integers(2, 4), label="classes")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    model = MLP([d, *hidden, c], dtype=np.float64, seed=seed, **config)
    rng = np.random.default_rng(seed)
    randomize(model, rng)
    x, y = random_batch(rng, n, d, c)

    closest_to_kink, smallest_variance = conditioning(model, x, y, seed)
    # ReLU has no derivative at 0: a perturbation of 1e-5 must not cross the kink.
    assume(closest_to_kink > 1e-3)
    # With a tiny batch variance batch norm bends the loss so sharply that the
    # O(h**2) error of central differences exceeds the tolerance.
    assume(smallest_variance > 0.1)

    errors = check_model_gradients(model, x, y, seed=seed, h=H, floor=FLOOR)
    assert list(errors) == list(model.params)
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("name", [name for name in CONFIGS if "batchnorm" not in CONFIGS[name]])
def test_model_gradients_batch_of_one(name):
    model = MLP([4, 6, 5, 3], dtype=np.float64, **CONFIGS[name])
    rng = np.random.default_rng(1)
    randomize(model, rng)
    x, y = random_batch(rng, 1, 4, 3)
    assert conditioning(model, x, y, seed=0)[0] > 1e-3  # no ReLU input near the kink
    errors = check_model_gradients(model, x, y, h=H, floor=FLOOR)
    assert max(errors.values()) < TOL, errors


def test_bias_before_batchnorm_has_zero_gradient():
    # Batch norm subtracts the batch mean, which removes any constant added before it.
    model = MLP([4, 5, 3], batchnorm=True, dtype=np.float64)
    x, y = random_batch(np.random.default_rng(0), 8, 4, 3)
    _, grads = model.loss(x, y)
    assert np.abs(grads["b1"]).max() < 1e-15
    assert np.abs(grads["beta1"]).max() > 1e-3


def test_gradient_check_needs_float64():
    model = MLP([3, 2])
    with pytest.raises(ValueError, match="float64"):
        check_model_gradients(model, np.ones((1, 3)), [0])


# -- structure and initialization -----------------------------------------------------

def test_parameter_names_order_and_count():
    model = MLP([5, 4, 3, 2], batchnorm=True)
    assert list(model.params) == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2",
                                  "W3", "b3"]
    assert list(model.bn_state) == ["running_mean1", "running_var1", "running_mean2",
                                    "running_var2"]
    assert model.n_parameters == (5 * 4 + 3 * 4) + (4 * 3 + 3 * 3) + (3 * 2 + 2)
    x, y = random_batch(np.random.default_rng(0), 3, 5, 2, np.float32)
    _, grads = model.loss(x, y)
    assert list(grads) == list(model.params)
    assert all(grads[k].shape == p.shape for k, p in model.params.items())
    assert MLP([5, 4, 3, 2]).n_parameters == 5 * 4 + 4 + 4 * 3 + 3 + 3 * 2 + 2


@pytest.mark.parametrize("init, expected_std", [
    ("he", np.sqrt(2 / 1000)),
    ("glorot", np.sqrt(6 / 1500) / np.sqrt(3)),  # uniform on +-limit: std = limit / sqrt(3)
    ("naive", 0.01),
])
def test_initialization(init, expected_std):
    model = MLP([1000, 500, 10], init=init, batchnorm=True)
    w = model.params["W1"]
    assert w.dtype == np.float32
    assert abs(w.std() / expected_std - 1) < 0.01  # 500,000 draws
    assert abs(w.mean()) < 0.01 * expected_std
    if init == "glorot":
        assert np.abs(w).max() <= np.sqrt(6 / 1500)
    assert not model.params["b1"].any() and not model.params["beta1"].any()
    assert (model.params["gamma1"] == 1).all()
    np.testing.assert_array_equal(model.bn_state["running_var1"], 1)


def test_same_seed_same_weights_in_both_dtypes():
    w32 = MLP([20, 10, 3], seed=7).params["W1"]
    w64 = MLP([20, 10, 3], seed=7, dtype=np.float64).params["W1"]
    np.testing.assert_array_equal(w32, w64.astype(np.float32))
    assert not np.array_equal(w32, MLP([20, 10, 3], seed=8).params["W1"])


def test_config_rebuilds_the_model():
    model = MLP([6, 5, 3], batchnorm=True, dropout=0.1, init="glorot", l2=1e-4,
                label_smoothing=0.1, seed=3, bn_momentum=0.9, bn_eps=1e-5)
    config = json.loads(json.dumps(model.config))  # JSON-friendly
    assert config["dtype"] == "float32" and config["layer_sizes"] == [6, 5, 3]
    twin = MLP(**config)
    assert twin.config == model.config
    for name, p in model.params.items():
        np.testing.assert_array_equal(twin.params[name], p)
    assert "MLP([6, 5, 3]" in repr(model)


def test_l2_follows_keras_convention():
    x, y = random_batch(np.random.default_rng(0), 4, 6, 3)
    plain = MLP([6, 5, 3], dtype=np.float64, seed=1)
    regularized = MLP([6, 5, 3], dtype=np.float64, seed=1, l2=0.1)
    loss0, grads0 = plain.loss(x, y)
    loss1, grads1 = regularized.loss(x, y)
    weights = [plain.params["W1"], plain.params["W2"]]
    np.testing.assert_allclose(loss1 - loss0, 0.1 * sum((w**2).sum() for w in weights), rtol=1e-12)
    for name in plain.params:  # 2 * l2 * W on weights only, nothing on biases
        expected = 0.2 * plain.params[name] if name.startswith("W") else 0.0
        np.testing.assert_allclose(grads1[name] - grads0[name], expected, atol=1e-15)


def test_float32_l2_penalty_is_accurate_on_a_large_weight_matrix():
    """The penalty l2 * sum(W**2) of a 3072x1024 float32 matrix, to float32 precision.

    A single float32 np.vdot over its 3 million entries was off by 1.4e-5 relative,
    which showed up as a 5e-6 loss difference against Keras at the very first
    parity step; the penalty now accumulates slices in float64."""
    x, y = random_batch(np.random.default_rng(0), 8, 3072, 10)
    plain = MLP([3072, 1024, 10], seed=1)
    regularized = MLP([3072, 1024, 10], seed=1, l2=1e-3)
    assert regularized.dtype == np.float32
    penalty = regularized.loss(x, y)[0] - plain.loss(x, y)[0]
    exact = 1e-3 * sum(np.sum(w.astype(np.float64) ** 2)
                       for name, w in plain.params.items() if name.startswith("W"))
    assert abs(penalty - exact) / exact < 1e-6, (penalty, exact)


# -- dtypes ----------------------------------------------------------------------------

def floating_arrays(obj):
    """Every floating-point NumPy array or scalar inside nested tuples, lists and dicts."""
    if isinstance(obj, (np.ndarray, np.generic)):
        if np.issubdtype(obj.dtype, np.floating):
            yield obj
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            yield from floating_arrays(item)
    elif isinstance(obj, dict):
        yield from floating_arrays(list(obj.values()))


LAYER_FUNCTIONS = ["affine_forward", "affine_backward", "batchnorm_forward", "batchnorm_backward",
                   "batchnorm_inference", "relu_forward", "relu_backward", "dropout_forward", "dropout_backward",
                   "softmax_cross_entropy", "softmax"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_dtype_end_to_end(dtype, monkeypatch):
    seen = {}

    def watch(name):
        function = getattr(layers, name)

        def watched(*args, **kwargs):
            result = function(*args, **kwargs)
            seen.setdefault(name, set()).update(
                a.dtype for a in floating_arrays([args, kwargs, result]))
            return result
        return watched

    for name in LAYER_FUNCTIONS:
        monkeypatch.setattr(model_module, name, watch(name))

    model = MLP([12, 10, 8, 4], batchnorm=True, dropout=0.3, l2=1e-3, label_smoothing=0.1,
                dtype=dtype)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 12)), rng.integers(0, 4, 16)  # float64 data: converted
    optimizers = [Adam(), SGD(0.01, momentum=0.9, nesterov=True)]
    for optimizer in optimizers:
        loss, grads = model.loss(x, y)
        optimizer.step(model.params, grads)
        assert loss.dtype == dtype
    proba = model.predict_proba((255 * rng.random((5, 12))).astype(np.uint8))
    arrays = [proba, model.forward(x), *model.params.values(), *grads.values(),
              *model.bn_state.values(), *optimizers[0].m.values(), *optimizers[0].v.values(),
              *optimizers[1].velocities.values()]
    assert {a.dtype for a in arrays} == {np.dtype(dtype)}
    assert set(seen) == set(LAYER_FUNCTIONS)
    assert seen == {name: {np.dtype(dtype)} for name in LAYER_FUNCTIONS}


# -- inference -------------------------------------------------------------------------

def test_inference_uses_running_stats_and_no_dropout():
    rng = np.random.default_rng(0)
    model = MLP([6, 8, 3], batchnorm=True, dropout=0.5, dtype=np.float64)
    x, y = random_batch(rng, 32, 6, 3)
    for _ in range(5):
        model.loss(x, y)
    state = {k: v.copy() for k, v in model.bn_state.items()}
    logits = model.forward(x)
    np.testing.assert_array_equal(logits, model.forward(x))  # no dropout: deterministic
    for name, value in state.items():  # inference leaves the running statistics alone
        np.testing.assert_array_equal(model.bn_state[name], value)
    p = model.params
    z = x @ p["W1"] + p["b1"]
    z = (z - state["running_mean1"]) / np.sqrt(state["running_var1"] + 1e-3) * p["gamma1"] + p["beta1"]
    np.testing.assert_allclose(logits, np.maximum(z, 0) @ p["W2"] + p["b2"], rtol=1e-12)
    assert not np.array_equal(model.forward(x, training=True), model.forward(x, training=True))


@pytest.mark.parametrize("momentum", [0.99, 0.5])
def test_training_pass_moves_the_running_statistics_by_momentum_in_place(momentum):
    model = MLP([4, 3, 2], batchnorm=True, dtype=np.float64, bn_momentum=momentum)
    mean, var = model.bn_state["running_mean1"], model.bn_state["running_var1"]
    x, y = random_batch(np.random.default_rng(0), 16, 4, 2)
    h = x @ model.params["W1"] + model.params["b1"]  # the input of batch norm
    model.loss(x, y)
    # running = momentum * running + (1 - momentum) * batch statistic, from 0 and 1
    assert model.bn_state["running_mean1"] is mean and model.bn_state["running_var1"] is var
    np.testing.assert_allclose(mean, (1 - momentum) * h.mean(0), rtol=1e-12)
    np.testing.assert_allclose(var, momentum + (1 - momentum) * h.var(0), rtol=1e-12)


def test_backward_of_forward_pass_gives_the_gradients_of_loss():
    model = MLP([6, 5, 4, 3], batchnorm=True, dropout=0.3, dtype=np.float64, seed=2)
    x, y = random_batch(np.random.default_rng(0), 8, 6, 3)
    logits, caches = model.forward_pass(x, training=True, rng=np.random.default_rng(5))
    assert len(caches) == model.n_layers
    assert set(caches[0]) == {"affine", "batchnorm", "relu", "dropout"}
    assert set(caches[-1]) == {"affine"}
    _, dlogits = layers.softmax_cross_entropy(logits, y)
    grads = model.backward(dlogits, caches)
    loss, expected, loss_logits = model.loss(x, y, rng=np.random.default_rng(5), return_logits=True)
    np.testing.assert_array_equal(loss_logits, logits)  # the same dropout masks
    assert list(grads) == list(expected) == list(model.params)
    for name in grads:
        np.testing.assert_array_equal(grads[name], expected[name], err_msg=name)


def test_predictions_are_batched_consistently():
    rng = np.random.default_rng(0)
    model = MLP([6, 8, 3], batchnorm=True)
    x, y = random_batch(rng, 50, 6, 3, np.float32)
    model.loss(x, y)
    proba = model.predict_proba(x)
    assert proba.dtype == np.float32 and proba.shape == (50, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(model.predict_proba(x, batch_size=7), proba, rtol=1e-6, atol=1e-7)
    labels = model.predict(x, batch_size=7)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, proba.argmax(axis=1))


# -- determinism and saving ----------------------------------------------------------------

def train(model, x, y, steps=5):
    optimizer = Adam(1e-2)
    for _ in range(steps):
        _, grads = model.loss(x, y)
        optimizer.step(model.params, grads)
    return model


def test_same_seed_bit_identical_training():
    x, y = random_batch(np.random.default_rng(0), 64, 20, 5, np.float32)
    config = dict(batchnorm=True, dropout=0.3, l2=1e-3, seed=4)
    a = train(MLP([20, 16, 8, 5], **config), x, y)
    b = train(MLP([20, 16, 8, 5], **config), x, y)
    c = train(MLP([20, 16, 8, 5], **{**config, "seed": 5}), x, y)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    for name in a.bn_state:
        np.testing.assert_array_equal(a.bn_state[name], b.bn_state[name])
    assert not np.array_equal(a.params["W1"], c.params["W1"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_load_round_trip(tmp_path, dtype):
    x, y = random_batch(np.random.default_rng(0), 64, 20, 5, dtype)
    model = train(MLP([20, 16, 8, 5], batchnorm=True, dropout=0.3, seed=2, dtype=dtype), x, y)
    model.save(tmp_path / "model.npz")
    loaded = MLP.load(tmp_path / "model.npz")
    assert loaded.config == model.config
    for store, loaded_store in ((model.params, loaded.params), (model.bn_state, loaded.bn_state)):
        assert list(loaded_store) == list(store)
        for name, array in store.items():
            assert loaded_store[name].dtype == array.dtype
            np.testing.assert_array_equal(loaded_store[name], array)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    # The generator's state is saved too: training resumes identically (same dropout masks).
    np.testing.assert_array_equal(loaded.loss(x, y)[1]["W1"], model.loss(x, y)[1]["W1"])
    with np.load(tmp_path / "model.npz", allow_pickle=False) as f:  # no pickled object inside
        assert all(f[key].dtype != object for key in f.files)


# -- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("x, y, message", [
    (np.ones(12), [0], "expected a 2-D"),
    (np.ones((2, 2, 2, 3), np.uint8), [0, 1], "flatten images with x.reshape"),
    (np.ones((2, 11)), [0, 1], "expected 12 features per row, got 11"),
    (np.ones((0, 12)), [], "empty batch"),
    (np.full((2, 12), np.nan), [0, 1], "NaN or inf"),
    (np.full((2, 12), np.inf), [0, 1], "NaN or inf"),
    (np.full((2, 12), 1e300), [0, 1], "NaN or inf"),  # overflows float32
    (np.ones((2, 12)), [0, 4], r"values in \[0, 3\]"),
    (np.ones((2, 12)), [0, -1], r"values in \[0, 3\]"),
    (np.ones((2, 12)), [0.0, 1.5], "integer class indices"),
    (np.ones((2, 12)), [0, 1, 2], r"expected shape \(2,\)"),
])
def test_loss_rejects_bad_input(x, y, message):
    model = MLP([12, 5, 4])
    with pytest.raises(ValueError, match=message):
        model.loss(x, y)


def test_forward_rejects_bad_input():
    model = MLP([12, 5, 4])
    with pytest.raises(ValueError, match="expected 12 features per row, got 3"):
        model.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match="NaN or inf"):
        model.predict(np.full((2, 12), np.nan))


@pytest.mark.parametrize("kwargs, message", [
    ({"layer_sizes": [10]}, "at least two positive widths"),
    ({"layer_sizes": [10, 0, 3]}, "at least two positive widths"),
    ({"dropout": 1.0}, r"dropout: expected a rate in \[0, 1\)"),
    ({"init": "xavier"}, "init: expected one of"),
    ({"dtype": np.float16}, "float32 or float64"),
    ({"l2": -1.0}, "l2"),
    ({"label_smoothing": 1.0}, "label_smoothing"),
])
def test_constructor_rejects_bad_arguments(kwargs, message):
    kwargs = {"layer_sizes": [10, 5, 3], **kwargs}
    with pytest.raises(ValueError, match=message):
        MLP(**kwargs)


# -- learning ---------------------------------------------------------------------------------

@pytest.mark.parametrize("config", [{}, {"batchnorm": True}])
def test_overfits_50_real_images(config, sample_dir):
    from cifar_mlp.data import load_sample

    sample = load_sample(sample_dir)
    x = sample.x_train[:50].reshape(50, -1).astype(np.float32) / 255
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    y = sample.y_train[:50]
    model = MLP([3072, 128, 64, 10], seed=0, **config)
    optimizer = Adam(1e-3)
    for _ in range(60):
        loss, grads = model.loss(x, y)
        optimizer.step(model.params, grads)
    assert (model.predict(x) == y).mean() == 1.0
    assert loss < 0.05

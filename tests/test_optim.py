"""SGD (plain, momentum, Nesterov) and Adam: hand-computed steps, the formulas, dtypes,
convergence, and their fast versions (cifar_mlp.fast): the same numbers, bit for bit."""


import numpy as np
import pytest

from cifar_mlp import fast
from cifar_mlp.fast import UPDATE_SLICE, FastAdam, FastSGD
from cifar_mlp.optim import SGD, Adam


def run(optimizer, w0, steps):
    """Minimize f(w) = sum(w**2) / 2, whose gradient is w itself; return the iterates."""
    params = {"w": np.array(w0, np.float64)}
    iterates = []
    for _ in range(steps):
        optimizer.step(params, {"w": params["w"].copy()})
        iterates.append(params["w"].copy())
    return iterates


@pytest.mark.parametrize("momentum, nesterov, expected", [
    # w1 = w0 - 0.1 w0 = 0.9 w0, then w2 = 0.9 w1 = 0.81 w0.
    (0.0, False, [0.9, 0.81]),
    # v1 = -0.1 w0, w1 = 0.9 w0; v2 = 0.9 v1 - 0.1 w1 = -0.18 w0, w2 = w1 + v2 = 0.72 w0.
    (0.9, False, [0.9, 0.72]),
    # v1 = -0.1 w0, w1 = w0 + 0.9 v1 - 0.1 w0 = 0.81 w0;
    # v2 = 0.9 v1 - 0.1 w1 = -0.171 w0, w2 = w1 + 0.9 v2 - 0.1 w1 = 0.5751 w0.
    (0.9, True, [0.81, 0.5751]),
])
def test_sgd_two_steps_by_hand(momentum, nesterov, expected):
    w1, w2 = run(SGD(0.1, momentum=momentum, nesterov=nesterov), [1.0, -2.0], 2)
    np.testing.assert_allclose(w1, np.multiply(expected[0], [1.0, -2.0]), rtol=1e-15)
    np.testing.assert_allclose(w2, np.multiply(expected[1], [1.0, -2.0]), rtol=1e-14)


def test_adam_two_steps_by_hand():
    # lr = 0.1, w0 = 1, g = w.
    # t = 1: m = 0.1, v = 0.001, alpha = 0.1 sqrt(0.001) / 0.1 = 0.0316227766...
    #        w1 = 1 - alpha m / (sqrt(v) + 1e-7) = 0.900000316226766 (just over 0.9: eps).
    # t = 2: m = 0.1 + 0.1 (w1 - 0.1) = 0.1800000316..., v = 0.001 + 0.001 (w1**2 - 0.001)
    #        = 0.0018090005692..., alpha = 0.1 sqrt(1 - 0.999**2) / (1 - 0.9**2) = 0.0235316725...
    #        w2 = w1 - alpha m / (sqrt(v) + 1e-7) = 0.8004127762155...
    optimizer = Adam(lr=0.1)
    w1, w2 = run(optimizer, [1.0], 2)
    np.testing.assert_allclose(w1, [0.900000316226766], rtol=1e-14)
    np.testing.assert_allclose(w2, [0.8004127762155153], rtol=1e-14)
    np.testing.assert_allclose(optimizer.m["w"], [0.18000003162267658], rtol=1e-14)
    np.testing.assert_allclose(optimizer.v["w"], [0.0018090005692082804], rtol=1e-14)
    assert optimizer.t == 2


def test_adam_first_step_is_lr_times_sign():
    # After one step alpha * m / sqrt(v) = lr * g / |g|: a step of size lr whatever the
    # scale of g (while |g| * sqrt(1 - beta2) stays far above eps).
    w0 = np.array([0.5, -50.0, 2.0])
    params = {"w": w0.copy()}
    Adam(lr=0.01).step(params, {"w": w0.copy()})
    np.testing.assert_allclose(w0 - params["w"], [0.01, -0.01, 0.01], rtol=1e-5)


@pytest.mark.parametrize("optimizer, steps", [
    (SGD(0.1), 300), (SGD(0.05, momentum=0.9), 300), (SGD(0.05, momentum=0.9, nesterov=True), 300),
    (Adam(0.05), 1000),
])
def test_minimizes_a_quadratic(optimizer, steps):
    rng = np.random.default_rng(0)
    a, c = rng.uniform(0.5, 2.0, (4, 3)), rng.standard_normal((4, 3))
    params = {"W": np.zeros((4, 3)), "b": np.ones(3)}
    for _ in range(steps):  # f = sum(a * (W - c)**2) / 2 + sum(b**2) / 2
        optimizer.step(params, {"W": a * (params["W"] - c), "b": params["b"].copy()})
    np.testing.assert_allclose(params["W"], c, atol=1e-3)
    np.testing.assert_allclose(params["b"], 0, atol=1e-3)


def reference_update(kind, w, g, state, lr):
    """The Keras 3 formulas, written out by hand on whole arrays, hyperparameters in w's dtype."""
    f = w.dtype.type
    if kind == "plain":  # w = w - lr g
        w -= f(lr) * g
    elif kind == "momentum":  # v = m v - lr g;  w = w + v
        state["v"][...] = f(0.9) * state["v"] - f(lr) * g
        w += state["v"]
    elif kind == "nesterov":  # v = m v - lr g;  w = w + m v - lr g
        state["v"][...] = f(0.9) * state["v"] - f(lr) * g
        w += f(0.9) * state["v"] - f(lr) * g
    else:  # Adam: alpha = lr sqrt(1 - beta2^t) / (1 - beta1^t), eps added to sqrt(v)
        state["t"] += 1
        t = f(state["t"])
        alpha = f(lr) * np.sqrt(f(1) - f(0.999) ** t) / (f(1) - f(0.9) ** t)
        state["m"] += f(1 - 0.9) * (g - state["m"])
        state["v"] += f(1 - 0.999) * (g * g - state["v"])
        w -= alpha * state["m"] / (np.sqrt(state["v"]) + f(1e-7))


KINDS = ["plain", "momentum", "nesterov", "adam"]


def make(kind, fast=False, lr=0.01):
    sgd, adam = (FastSGD, FastAdam) if fast else (SGD, Adam)
    return {"plain": lambda: sgd(lr), "momentum": lambda: sgd(lr, momentum=0.9),
            "nesterov": lambda: sgd(lr, momentum=0.9, nesterov=True),
            "adam": lambda: adam(lr)}[kind]()


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
@pytest.mark.parametrize("kind", KINDS)
def test_update_is_the_hand_written_formula(kind, fast):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(5, dtype=np.float32)
    params, reference = {"w": w.copy()}, w.copy()
    state = {"v": np.zeros_like(w), "m": np.zeros_like(w), "t": 0}
    optimizer = make(kind, fast, lr=0.1)
    for _ in range(3):
        g = rng.standard_normal(5, dtype=np.float32)
        optimizer.step(params, {"w": g})
        reference_update(kind, reference, g, state, 0.1)
        np.testing.assert_array_equal(params["w"], reference)


@pytest.fixture(params=[1, 2], ids=["1 thread", "2 threads"])
def threads(request, monkeypatch):
    """cifar_mlp.fast with THREADS forced, and a pool of that many threads made afresh."""
    monkeypatch.setattr(fast, "THREADS", request.param)
    monkeypatch.setattr(fast, "_pool", None)
    yield request.param
    if fast._pool is not None:
        fast._pool.shutdown()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_fast_optimizers_give_the_plain_ones_numbers_bit_for_bit(kind, dtype, threads):
    rng = np.random.default_rng(1)
    shapes = {"W": (600, 700), "b": (700,), "gamma": (7,)}  # W: 4 slices, the last partial
    assert 600 * 700 > 3 * UPDATE_SLICE
    start = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
    plain, fast_params = ({k: v.copy() for k, v in start.items()} for _ in range(2))
    optimizers = make(kind, fast=False), make(kind, fast=True)
    for step in range(4):
        if step == 2:  # as a schedule does, with a NumPy float64 learning rate
            for optimizer in optimizers:
                optimizer.lr = np.float64(0.003)
        grads = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
        optimizers[0].step(plain, grads)
        optimizers[1].step(fast_params, grads)
    assert (fast._pool is not None) == (threads > 1)  # the threaded path did run
    for name in shapes:
        assert fast_params[name].dtype == dtype
        np.testing.assert_array_equal(fast_params[name], plain[name], err_msg=name)
        assert not np.array_equal(fast_params[name], start[name])
    for state in ("velocities", "m", "v"):
        for name, array in getattr(optimizers[0], state, {}).items():
            np.testing.assert_array_equal(getattr(optimizers[1], state)[name], array)


def test_slices_are_views_of_slice_elements():
    params = {"W": np.zeros((3, UPDATE_SLICE)), "b": np.zeros(5)}
    grads = {"W": np.ones((3, UPDATE_SLICE)), "b": np.ones(5)}
    velocities = {}
    work = fast.slices(params, grads, velocities)
    assert [len(arrays) for arrays in work] == [3] * 4
    assert [arrays[0].size for arrays in work] == [UPDATE_SLICE] * 3 + [5]
    assert velocities.keys() == params.keys()  # state created as zeros, shaped like params
    work[1][0][...] = 7.0  # writing to a slice writes to the parameter
    assert (params["W"][1] == 7.0).all() and (params["W"][0] == 0).all()
    calls = []
    fast.for_each_slice(lambda w, g, v: calls.append(w.size), params, grads, velocities)
    assert sorted(calls) == sorted([UPDATE_SLICE] * 3 + [5])


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
@pytest.mark.parametrize("kind", KINDS)
def test_float32_stays_float32(kind, fast):
    optimizer = make(kind, fast)
    optimizer.lr = np.float64(0.01)  # even a float64 learning rate from a schedule
    params = {"W": np.ones((3, 2), np.float32), "b": np.zeros(2, np.float32)}
    grads = {"W": np.full((3, 2), 0.5, np.float32), "b": np.ones(2, np.float32)}
    for _ in range(2):
        optimizer.step(params, grads)
    states = [getattr(optimizer, name, {}) for name in ("velocities", "m", "v")]
    arrays = [*params.values(), *(a for state in states for a in state.values())]
    assert all(a.dtype == np.float32 for a in arrays)
    assert params["W"][0, 0] < 1.0


def test_learning_rate_can_change_between_steps():
    optimizer = SGD(0.1)
    params = {"w": np.array([1.0])}
    optimizer.step(params, {"w": np.array([1.0])})
    optimizer.lr = 0.01
    optimizer.step(params, {"w": np.array([1.0])})
    np.testing.assert_allclose(params["w"], [1.0 - 0.1 - 0.01])


def test_updates_in_place_and_creates_state_lazily():
    params = {"w": np.ones(3)}
    w = params["w"]
    optimizer = Adam()
    assert optimizer.m == {} and optimizer.v == {}
    optimizer.step(params, {"w": np.ones(3)})
    assert params["w"] is w and (w < 1).all()
    assert optimizer.m["w"].shape == (3,)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"grads\['b'\]: expected shape \(2,\), got None"):
        FastSGD(0.1).step({"b": np.zeros(2)}, {})
    with pytest.raises(ValueError, match=r"expected shape \(2,\), got \(3,\)"):
        FastAdam().step({"b": np.zeros(2)}, {"b": np.zeros(3)})
    with pytest.raises(ValueError, match="momentum"):
        SGD(0.1, momentum=1.5)

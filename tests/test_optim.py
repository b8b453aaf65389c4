"""SGD (plain, momentum, Nesterov) and Adam: hand-computed steps, dtypes, convergence."""


import numpy as np
import pytest

from cifar_mlp.optim import CHUNK, SGD, Adam


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


def reference_update(kind, w, g, state):
    """The Keras formulas on whole arrays in float32, hyperparameters cast to float32."""
    f = np.float32
    if kind == "nesterov":
        v = state["v"]
        v[...] = v * f(0.9) - g * f(0.01)
        w += v * f(0.9) - g * f(0.01)
    else:
        state["t"] += 1
        t = f(state["t"])
        alpha = f(1e-3) * np.sqrt(1 - f(0.999) ** t) / (1 - f(0.9) ** t)
        state["m"] += (g - state["m"]) * f(1 - 0.9)
        state["v"] += (g * g - state["v"]) * f(1 - 0.999)
        w -= state["m"] * alpha / (np.sqrt(state["v"]) + f(1e-7))


@pytest.mark.parametrize("kind", ["nesterov", "adam"])
def test_chunked_update_equals_whole_array_formula(kind):
    rng = np.random.default_rng(0)
    shape = (3, CHUNK + 1000)  # several chunks, the last one partial
    w = rng.standard_normal(shape, dtype=np.float32)
    params, reference = {"w": w.copy()}, w.copy()
    state = {"v": np.zeros_like(w), "m": np.zeros_like(w), "t": 0}
    optimizer = SGD(0.01, momentum=0.9, nesterov=True) if kind == "nesterov" else Adam()
    for _ in range(3):
        g = rng.standard_normal(shape, dtype=np.float32)
        optimizer.step(params, {"w": g})
        reference_update(kind, reference, g, state)
        np.testing.assert_array_equal(params["w"], reference)


@pytest.mark.parametrize("make", [lambda: SGD(0.1), lambda: SGD(0.1, momentum=0.9),
                                  lambda: SGD(0.1, momentum=0.9, nesterov=True), Adam])
def test_float32_stays_float32(make):
    optimizer = make()
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
        SGD(0.1).step({"b": np.zeros(2)}, {})
    with pytest.raises(ValueError, match=r"expected shape \(2,\), got \(3,\)"):
        Adam().step({"b": np.zeros(2)}, {"b": np.zeros(3)})
    with pytest.raises(ValueError, match="momentum"):
        SGD(0.1, momentum=1.5)


@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9, nesterov=True), Adam])
def test_threaded_update_equals_one_thread_bit_for_bit(make, monkeypatch):
    from cifar_mlp import optim

    rng = np.random.default_rng(1)
    shapes = {"W1": (1100, 1000), "b1": (1000,), "W2": (1000, 10), "b2": (10,)}  # 10 slices
    start = {k: rng.standard_normal(s, dtype=np.float32) for k, s in shapes.items()}
    grads = [{k: rng.standard_normal(s, dtype=np.float32) for k, s in shapes.items()}
             for _ in range(3)]
    finals = []
    for threads in (1, 4):
        monkeypatch.setattr(optim, "THREADS", threads)
        params, optimizer = {k: v.copy() for k, v in start.items()}, make()
        for g in grads:
            optimizer.step(params, g)
        finals.append(params)
    for name in shapes:
        np.testing.assert_array_equal(finals[0][name], finals[1][name])

"""Chapter 2's quadratic (cifar_mlp.quadratic): the package's optimizers, run on it, shrink
the error at the rates theory predicts, gradient descent diverges past 2/L, and the sweep
picks the best setting it scored."""

import numpy as np
import pytest

from cifar_mlp import quadratic as qd
from cifar_mlp.optim import SGD, Adam
from cifar_mlp.provenance import TRAINING_MODULES

KAPPAS = [10.0, 50.0, 1000.0]
TOLERANCE = 0.05  # measured rate against theory: steps needed, relative


def gradient_descent(lr, momentum=0.0):
    return SGD(lr)


def heavy_ball(lr, momentum):
    return SGD(lr, momentum=momentum)


def nesterov(lr, momentum):
    return SGD(lr, momentum=momentum, nesterov=True)


def rate_of(quadratic, make, lr, momentum, predicted, depth=60.0):
    """The rate measured over the last third of a run as long as the ``predicted`` rate
    takes to shrink the error by e**depth (so that the start's transient is far behind)."""
    steps = int(depth / -np.log(predicted))
    return qd.measured_rate(qd.run(quadratic, make(lr, momentum), steps), last=steps // 3)


def close(measured, predicted):
    return qd.rate_gap(measured, predicted) < TOLERANCE


@pytest.mark.parametrize("kappa", KAPPAS)
def test_gradient_descent_at_2_over_L_plus_mu_shrinks_the_error_by_kappa_minus_1_over_kappa_plus_1(kappa):
    quadratic = qd.Quadratic(kappa, 1.0, angle=0.5)
    lr, momentum, predicted = qd.gradient_descent_theory(quadratic)
    assert lr == pytest.approx(2 / (kappa + 1))
    assert predicted == pytest.approx((kappa - 1) / (kappa + 1))
    assert close(rate_of(quadratic, gradient_descent, lr, momentum, predicted), predicted)
    # a wrong formula fails: lr = 1/L shrinks the shallow direction by 1 - 1/kappa only
    assert not close(rate_of(quadratic, gradient_descent, 1 / kappa, 0.0, predicted), predicted)


@pytest.mark.parametrize("kappa", KAPPAS)
def test_heavy_ball_at_polyaks_setting_shrinks_the_error_by_about_sqrt_kappa_minus_1_over_plus_1(kappa):
    quadratic = qd.Quadratic(2 * kappa, 2.0, angle=1.0)
    lr, momentum, predicted = qd.heavy_ball_theory(quadratic)
    root = np.sqrt(kappa)
    assert predicted == pytest.approx((root - 1) / (root + 1))
    assert momentum == pytest.approx(predicted ** 2)
    assert lr == pytest.approx(4 / (np.sqrt(2 * kappa) + np.sqrt(2.0)) ** 2)
    assert close(rate_of(quadratic, heavy_ball, lr, momentum, predicted), predicted)
    # a wrong formula fails: the momentum not squared, or gradient descent's rate
    assert not close(rate_of(quadratic, heavy_ball, lr, predicted, predicted), predicted)
    assert not close(rate_of(quadratic, gradient_descent, 2 / (2 * kappa + 2), 0.0, predicted), predicted)


@pytest.mark.parametrize("kappa", KAPPAS)
def test_nesterov_at_its_tuned_setting_shrinks_the_error_as_predicted(kappa):
    quadratic = qd.Quadratic(kappa, 1.0)
    lr, momentum, predicted = qd.nesterov_theory(quadratic)
    assert predicted == pytest.approx(1 - 2 / np.sqrt(3 * kappa + 1))
    assert close(rate_of(quadratic, nesterov, lr, momentum, predicted), predicted)


def test_momentum_needs_about_sqrt_kappa_steps_where_gradient_descent_needs_kappa():
    steps = {}
    for kappa in (100.0, 10000.0):
        quadratic = qd.Quadratic(kappa, 1.0)
        steps[kappa] = [qd.steps_to(qd.run(quadratic, make(*theory(quadratic)[:2]), 80000), 1e-6)
                        for make, theory in ((gradient_descent, qd.gradient_descent_theory),
                                             (heavy_ball, qd.heavy_ball_theory))]
    gd_growth, hb_growth = (steps[10000.0][i] / steps[100.0][i] for i in range(2))
    assert 90 < gd_growth < 110  # kappa 100 times larger: 100 times more steps
    assert 8 < hb_growth < 16  # and about sqrt(100) = 10 times with momentum


@pytest.mark.parametrize("angle", [0.0, 0.7])
def test_gradient_descent_diverges_above_2_over_L_and_converges_below(angle):
    quadratic = qd.Quadratic(50.0, 1.0, angle)
    below = qd.run(quadratic, SGD(1.95 / 50), 300)
    above = qd.run(quadratic, SGD(2.05 / 50), 300)
    assert below[-1] < 1e-3 * below[0]
    assert above[-1] > 1e3 * above[0]
    far = qd.run(quadratic, SGD(1.0), 2000)
    assert far[-1] == np.inf and np.all(far[:2] < np.inf)  # overflow reads as inf, not nan


def test_the_sweep_scores_every_setting_and_best_picks_the_lowest():
    quadratic = qd.Quadratic(50.0, 1.0, 0.3)
    rates, momenta = np.geomspace(1e-3, 0.2, 25), np.array([0.0, 0.5, 0.9])
    scores = qd.sweep(quadratic, heavy_ball, rates, momenta, steps=60)
    assert scores.shape == (25, 3)
    assert scores[1, 2] == qd.score(qd.run(quadratic, heavy_ball(rates[1], momenta[2]), 60))
    lr, momentum, lowest = qd.best(rates, momenta, scores)
    assert lowest == scores.min() and scores[list(rates).index(lr), list(momenta).index(momentum)] == lowest
    # gradient descent alone: the best rate is the grid's closest below 2/(L + mu), below 2/L
    gd = qd.sweep(quadratic, gradient_descent, rates, steps=60)
    gd_lr = qd.best(rates, [0.0], gd)[0]
    assert gd_lr < 2 / 51 < rates[list(rates).index(gd_lr) + 1]
    assert np.all(gd[rates > 2 / 50] == np.inf) or np.all(gd[rates > 2 / 50] > 1)


def test_best_takes_the_first_of_equal_scores_and_never_a_nan():
    rates, momenta = [0.1, 0.2, 0.3], [0.0, 0.9]
    scores = np.array([[np.nan, 5.0], [1.0, np.inf], [1.0, 2.0]])
    assert qd.best(rates, momenta, scores) == (0.2, 0.0, 1.0)


def test_score_is_the_worst_of_the_last_steps_and_inf_after_divergence():
    assert qd.score(np.array([1.0, 0.1, 0.5, 0.01]), last=2) == 0.5
    assert qd.score(np.array([1.0, 2.0, np.inf]), last=1) == np.inf


def test_measured_rate_is_the_geometric_mean_of_the_last_steps():
    errors = np.array([1.0, 0.5, 0.5 * 0.2, 0.5 * 0.2 * 0.8])
    assert qd.measured_rate(errors, last=2) == pytest.approx(np.sqrt(0.2 * 0.8))
    assert qd.steps_to(errors, 0.1) == 2 and qd.steps_to(errors, 1e-3) is None


def test_the_quadratic_is_the_one_its_curvatures_say():
    quadratic = qd.Quadratic(50.0, 2.0, angle=0.4)
    assert quadratic.kappa == 25.0
    assert np.allclose(np.linalg.eigvalsh(quadratic.A), [2.0, 50.0])
    w = np.array([0.3, -1.2])
    assert quadratic.loss(w) == pytest.approx(0.5 * w @ quadratic.A @ w)
    assert np.allclose(quadratic.gradient(w), quadratic.A @ w)
    assert np.linalg.norm(quadratic.start()) == pytest.approx(1.0)


@pytest.mark.parametrize("L, mu, message", [(0.0, 1.0, "L"), (50.0, -1.0, "mu"),
                                            (np.inf, 1.0, "L"), (np.nan, 1.0, "L"),
                                            (1.0, 2.0, "at most L")])
def test_curvatures_that_are_not_positive_or_in_order_raise_a_clear_error(L, mu, message):
    with pytest.raises(ValueError, match=message):
        qd.Quadratic(L, mu)


def test_bad_counts_and_shapes_raise_a_clear_error():
    quadratic = qd.Quadratic(10.0, 1.0)
    with pytest.raises(ValueError, match="steps"):
        qd.run(quadratic, SGD(0.1), 0)
    with pytest.raises(ValueError, match="last"):
        qd.measured_rate(np.ones(5), last=5)
    with pytest.raises(ValueError, match="last"):
        qd.score(np.ones(5), last=0)
    with pytest.raises(ValueError, match="shape"):
        qd.best([0.1, 0.2], [0.0], np.ones((3, 1)))


def test_adam_runs_on_the_quadratic_with_the_same_bookkeeping():
    errors = qd.run(qd.Quadratic(50.0, 1.0, 0.5), Adam(0.01), 200)
    assert errors.shape == (201,) and errors[-1] < errors[0]


def test_no_training_module_imports_the_quadratic():
    assert "quadratic" not in TRAINING_MODULES

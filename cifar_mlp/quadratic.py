"""Optimization on a quadratic of known condition number (chapter 3).

The loss f(w) = 1/2 w^T A w has its minimum at w = 0. The largest and smallest
eigenvalues of A, the curvatures L and mu, decide what gradient descent and momentum do
on it, through the condition number kappa = L / mu. Chapter 2 runs the package's own
optimizers (:mod:`cifar_mlp.optim`) on it, fed with its gradient A w: a sweep of
learning rates, each method at its own best setting, and the per-step rates that theory
predicts, measured. Nothing of the training imports this module.
"""

import numpy as np


def _positive(name: str, value) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive, finite number, got {value}")
    return value


class Quadratic:
    """f(w) = 1/2 w^T A w in two dimensions, where A has the curvatures ``L`` (largest)
    and ``mu`` (smallest) along two perpendicular directions, turned by ``angle`` radians
    from the coordinate axes. Points ``w`` may be one point or a stack of them (rows)."""

    def __init__(self, L: float, mu: float, angle: float = 0.0):
        self.L, self.mu = _positive("L", L), _positive("mu", mu)
        if self.mu > self.L:
            raise ValueError(f"mu: expected at most L = {self.L}, got {self.mu}")
        c, s = np.cos(angle), np.sin(angle)
        self.directions = np.array([[c, -s], [s, c]])  # columns: the steep, the shallow
        self.A = self.directions @ np.diag([self.L, self.mu]) @ self.directions.T

    @property
    def kappa(self) -> float:
        """The condition number L / mu."""
        return self.L / self.mu

    def loss(self, w):
        return 0.5 * np.sum((w @ self.A) * w, axis=-1)

    def gradient(self, w):
        return w @ self.A  # A is symmetric

    def start(self) -> np.ndarray:
        """The starting point: at distance 1 from the minimum, as far along the steep
        direction as along the shallow one."""
        return self.directions @ np.array([1.0, 1.0]) / np.sqrt(2)


def run(quadratic: Quadratic, optimizer, steps: int, start=None) -> np.ndarray:
    """The error |w - w*| = |w| before the first step and after each of ``steps`` steps
    of ``optimizer`` (one of :mod:`cifar_mlp.optim`, fed with the quadratic's gradient).
    A run that diverges has an error of inf from the step its numbers overflow."""
    if steps < 1:
        raise ValueError(f"steps: expected at least 1, got {steps}")
    w = quadratic.start() if start is None else np.array(start, dtype=float)
    errors = [np.linalg.norm(w)]
    with np.errstate(over="ignore", invalid="ignore"):  # rates past the bound diverge
        for _ in range(steps):
            optimizer.step({"w": w}, {"w": quadratic.gradient(w)})
            errors.append(np.linalg.norm(w))
    errors = np.array(errors)
    return np.where(np.isfinite(errors), errors, np.inf)


def score(errors, last: int = 10) -> float:
    """A run's score: its largest error over its last ``last`` steps (a momentum run
    oscillates, so a single step could flatter it); inf for a run that diverged."""
    if not 1 <= last < len(errors):
        raise ValueError(f"last: expected 1 to {len(errors) - 1} steps, got {last}")
    return float(np.max(errors[-last:]))


def sweep(quadratic: Quadratic, make_optimizer, rates, momenta=(0.0,), steps: int = 100
          ) -> np.ndarray:
    """The score of a run of ``steps`` steps for every learning rate and momentum:
    ``scores[i, j]`` for ``make_optimizer(rates[i], momenta[j])``."""
    return np.array([[score(run(quadratic, make_optimizer(lr, beta), steps))
                      for beta in momenta] for lr in rates])


def best(rates, momenta, scores) -> tuple:
    """(learning rate, momentum, score) of the lowest score of a :func:`sweep` (the first
    of equal ones)."""
    scores = np.asarray(scores, dtype=float)
    if scores.shape != (len(rates), len(momenta)) or scores.size == 0:
        raise ValueError(f"scores: expected shape ({len(rates)}, {len(momenta)}), "
                         f"got {scores.shape}")
    i, j = np.unravel_index(np.argmin(np.nan_to_num(scores, nan=np.inf)), scores.shape)
    return float(rates[i]), float(momenta[j]), float(scores[i, j])


def measured_rate(errors, last: int = 100) -> float:
    """The factor by which a run shrinks its error per step, measured: the geometric mean
    of errors[t + 1] / errors[t] over its last ``last`` steps."""
    if not 1 <= last < len(errors):
        raise ValueError(f"last: expected 1 to {len(errors) - 1} steps, got {last}")
    return float((errors[-1] / errors[-1 - last]) ** (1 / last))


def rate_gap(measured: float, predicted: float) -> float:
    """How far a measured rate is from the predicted one, as the relative gap between the
    steps each needs to shrink the error by a given factor: |ln(measured) / ln(predicted) - 1|.
    (Rates near 1 differ in their last digits, and those digits count: 0.999 needs
    twice the steps of 0.998.)"""
    if not (0 < predicted < 1):
        raise ValueError(f"predicted: expected a rate between 0 and 1, got {predicted}")
    return float(abs(np.log(measured) / np.log(predicted) - 1))


def steps_to(errors, tolerance: float):
    """The first step at which the error is at most ``tolerance`` times its start (None
    if the run never gets there)."""
    reached = np.flatnonzero(np.asarray(errors) <= tolerance * errors[0])
    return int(reached[0]) if reached.size else None


# The best settings that theory gives for a quadratic, and the rate each guarantees:
# (learning rate, momentum, factor by which the error shrinks per step).

def gradient_descent_theory(quadratic: Quadratic) -> tuple:
    """lr = 2 / (L + mu) shrinks the error by (kappa - 1) / (kappa + 1) per step."""
    kappa = quadratic.kappa
    return 2 / (quadratic.L + quadratic.mu), 0.0, (kappa - 1) / (kappa + 1)


def heavy_ball_theory(quadratic: Quadratic) -> tuple:
    """Polyak's heavy ball: lr = 4 / (sqrt(L) + sqrt(mu))**2 and
    momentum = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))**2 shrink the error by about
    (sqrt(kappa) - 1) / (sqrt(kappa) + 1) per step."""
    root = np.sqrt(quadratic.kappa)
    factor = (root - 1) / (root + 1)
    return 4 / (np.sqrt(quadratic.L) + np.sqrt(quadratic.mu)) ** 2, factor ** 2, factor


def nesterov_theory(quadratic: Quadratic) -> tuple:
    """Nesterov's method tuned for quadratics (Lessard, Recht and Packard, 2016):
    lr = 4 / (3 L + mu), momentum = (r - 2) / (r + 2) with r = sqrt(3 kappa + 1),
    shrink the error by about 1 - 2 / r per step."""
    r = np.sqrt(3 * quadratic.kappa + 1)
    return 4 / (3 * quadratic.L + quadratic.mu), (r - 2) / (r + 2), 1 - 2 / r

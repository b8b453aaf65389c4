"""PCA and ZCA whitening (chapter 1): removing the correlations between pixels.

Standardization gives every feature mean 0 and variance 1 but leaves neighbouring
pixels strongly correlated. Whitening removes the correlations too. Both kinds start
from the covariance matrix of the training rows, ``C = U diag(lambda) U^T``
(eigenvalues ``lambda`` in decreasing order, eigenvectors in the columns of ``U``):

* PCA whitening keeps the first ``k`` components, each scaled to unit variance:
  ``z = diag(1/sqrt(lambda_k + eps)) U_k^T (x - mean)``, ``k`` numbers per image;
* ZCA whitening scales every component and rotates back to pixel space:
  ``x_white = U diag(1/sqrt(lambda + eps)) U^T (x - mean)``, an image again.

``eps`` >= 0 damps the components of small variance (mostly noise) instead of
blowing them up; a large ``eps`` leaves the inputs as they were, divided by
``sqrt(eps)``. The mean, eigenvalues and eigenvectors come from the training rows
alone (:func:`fit`, :func:`fit_training_split`), and are applied unchanged to
validation and test rows.

    white = fit(prepared.x_train).zca(prepared.x_val, eps=0.1)

A recipe can ask for ZCA-whitened inputs (``Recipe.whitening``, the epsilon):
:func:`zca_inputs` is what it trains on.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace

import numpy as np
import scipy.linalg

from .preprocess import Prepared

CHUNK_ROWS = 4096  # the covariance is summed over chunks of rows, in float64


@dataclass(frozen=True)
class Whitening:
    """What :func:`fit` learned from the training rows: their mean, and the eigenvalues
    (decreasing) and eigenvectors (columns, same order) of their covariance."""

    mean: np.ndarray  # (D,)
    eigenvalues: np.ndarray  # (D,), decreasing, >= 0
    eigenvectors: np.ndarray  # (D, D), orthonormal columns
    n_rows: int  # how many training rows the fit saw

    @property
    def width(self) -> int:
        return len(self.mean)

    @property
    def rank(self) -> int:
        """The number of components whose variance is not rounding noise."""
        tolerance = self.eigenvalues[0] * self.width * np.finfo(np.float64).eps
        return int((self.eigenvalues > tolerance).sum())

    def explained(self) -> np.ndarray:
        """The share of the total variance held by the first 1, 2, ..., D components."""
        return np.cumsum(self.eigenvalues) / self.eigenvalues.sum()

    def components_for(self, fraction: float) -> int:
        """The smallest number of components that hold ``fraction`` of the variance."""
        if not (isinstance(fraction, numbers.Real) and 0 < fraction <= 1):
            raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
        shares = self.explained()
        return int(min(np.searchsorted(shares, fraction - 1e-12) + 1, self.width))

    def correlations(self, index: int) -> np.ndarray:
        """The correlation of feature ``index`` with every feature, (D,), from the fitted
        covariance ``U diag(lambda) U^T``."""
        if not isinstance(index, numbers.Integral) or not 0 <= index < self.width:
            raise ValueError(f"index must be a feature from 0 to {self.width - 1}, got {index!r}")
        weighted = self.eigenvectors * self.eigenvalues
        covariances = weighted @ self.eigenvectors[index]
        variances = (weighted * self.eigenvectors).sum(axis=1)
        return covariances / np.sqrt(variances * variances[index])

    def rotation(self, k: int | None = None) -> np.ndarray:
        """``U_k``: the first ``k`` eigenvectors (all of them by default), one per column."""
        return self.eigenvectors[:, :self._check_k(self.width if k is None else k)]

    def rotate(self, x: np.ndarray, k: int | None = None) -> np.ndarray:
        """``U_k^T (x - mean)`` for every row of ``x``: its first ``k`` principal coordinates."""
        x = self._check_rows(x)
        u = self.rotation(k).astype(x.dtype, copy=False)
        return (x - self.mean.astype(x.dtype)) @ u

    def scale(self, z: np.ndarray, eps: float = 0.0) -> np.ndarray:
        """Principal coordinates ``z`` (from :meth:`rotate`) divided by ``sqrt(lambda + eps)``."""
        z = np.asarray(z)
        if z.ndim != 2 or not 1 <= z.shape[1] <= self.width:
            raise ValueError(f"expected principal coordinates of shape (N, k), k <= "
                             f"{self.width}, got {z.shape}")
        return z * self._inverse_sqrt(eps, z.shape[1]).astype(z.dtype)

    def pca(self, x: np.ndarray, k: int, eps: float = 0.0) -> np.ndarray:
        """PCA whitening: ``diag(1/sqrt(lambda_k + eps)) U_k^T (x - mean)``, shape (N, k)."""
        self._check_k(k)
        self._inverse_sqrt(eps, k)  # checks eps before the product
        return self.scale(self.rotate(x, k), eps)

    def reconstruct(self, x: np.ndarray, k: int) -> np.ndarray:
        """What the first ``k`` components keep of ``x``, back in its own units:
        ``mean + U_k U_k^T (x - mean)``."""
        u = self.rotation(k)
        x = self._check_rows(x)
        return self.rotate(x, k) @ u.T.astype(x.dtype) + self.mean.astype(x.dtype)

    def zca_matrix(self, eps: float = 0.0) -> np.ndarray:
        """``W = U diag(1/sqrt(lambda + eps)) U^T``, symmetric, (D, D), in float64."""
        return (self.eigenvectors * self._inverse_sqrt(eps, self.width)) @ self.eigenvectors.T

    def zca(self, x: np.ndarray, eps: float = 0.0, matrix: np.ndarray | None = None) -> np.ndarray:
        """ZCA whitening of every row of ``x``: ``W (x - mean)`` (:meth:`zca_matrix`; pass
        it as ``matrix`` when it is computed already)."""
        matrix = self.zca_matrix(eps) if matrix is None else matrix
        x = self._check_rows(x)
        return (x - self.mean.astype(x.dtype)) @ matrix.astype(x.dtype)

    # -- checks --------------------------------------------------------------------------

    def _check_rows(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"expected a 2-D array of rows, got shape {x.shape}")
        if x.shape[1] != self.width:
            raise ValueError(f"expected rows of width {self.width} (the training rows'), "
                             f"got width {x.shape[1]}")
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float64)
        if not np.isfinite(x).all():
            raise ValueError("the rows must be finite (found NaN or infinity)")
        return x

    def _check_k(self, k) -> int:
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or not 1 <= k <= self.width:
            raise ValueError(f"k (the number of components) must be an integer from 1 to "
                             f"{self.width}, got {k!r}")
        return int(k)

    def _inverse_sqrt(self, eps, k: int) -> np.ndarray:
        """``1/sqrt(lambda + eps)`` for the first ``k`` components."""
        if not (isinstance(eps, numbers.Real) and math.isfinite(eps) and eps >= 0):
            raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
        if eps == 0 and k > self.rank:
            raise ValueError(
                f"eps=0 divides by variances that are zero: the covariance has rank "
                f"{self.rank} < {k} components (fitted on {self.n_rows} rows of width "
                f"{self.width}); use eps > 0 or fewer components")
        return 1 / np.sqrt(self.eigenvalues[:k] + eps)


def fit(x_train: np.ndarray) -> Whitening:
    """The mean of ``x_train``'s rows and the eigen-decomposition of their covariance
    (``1/(N-1)`` times the sum of outer products of the centred rows), in float64."""
    x = np.asarray(x_train)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array of training rows, got shape {x.shape}")
    if len(x) < 2:
        raise ValueError(f"a covariance needs at least 2 training rows, got {len(x)}")
    if not np.isfinite(x).all():
        raise ValueError("the training rows must be finite (found NaN or infinity)")
    mean = x.mean(axis=0, dtype=np.float64)
    covariance = np.zeros((x.shape[1], x.shape[1]))
    for start in range(0, len(x), CHUNK_ROWS):
        centred = x[start:start + CHUNK_ROWS].astype(np.float64) - mean
        covariance += centred.T @ centred
    covariance /= len(x) - 1
    # LAPACK's MRRR solver ("evr"): on a 3,072-wide covariance, faster than NumPy's eigh.
    eigenvalues, eigenvectors = scipy.linalg.eigh(covariance, driver="evr", overwrite_a=True,
                                                  check_finite=False)
    order = np.argsort(eigenvalues)[::-1]
    # A covariance has no negative eigenvalue: one below 0 is rounding, set to 0.
    eigenvalues = np.clip(eigenvalues[order], 0, None)
    return Whitening(mean, eigenvalues, np.ascontiguousarray(eigenvectors[:, order]), len(x))


def fit_training_split(prepared: Prepared) -> Whitening:
    """:func:`fit` on the training split of ``prepared`` alone: its validation and test
    rows never enter the mean or the covariance."""
    try:
        return fit(prepared.x_train)
    except ValueError as error:
        raise ValueError(f"training split: {error}") from None


# The last whitened inputs zca_inputs computed (KEPT_INPUTS of them), most recent first:
# (prepared, eps, (whitened Prepared, matrix)). A fit of 3,072 features takes half a
# minute, and a build trains a dozen models on the same whitened inputs. Keyed by the Prepared object itself,
# which keeps it alive: a Prepared is never changed in place.
_recent_inputs: list = []
KEPT_INPUTS = 1  # about 1.5 GB an entry on the full data (the inputs and their whitened copy)


def zca_inputs(prepared: Prepared, eps: float) -> Prepared:
    """``prepared`` with every split ZCA-whitened (:meth:`Whitening.zca`, fitted on the
    training split alone), then divided by one number, the standard deviation of the
    whitened training rows, so that the features' mean variance is 1 again, as after
    standardization. What a recipe with ``whitening=eps`` trains and is scored on."""
    return _zca(prepared, eps)[0]


def zca_input_matrix(prepared: Prepared, eps: float) -> np.ndarray:
    """The matrix ``M`` of :func:`zca_inputs`: its rows are ``(x - mean) @ M``, with the
    training split's mean. A first-layer weight matrix ``W1`` of a network trained on them
    computes ``(x - mean) @ M @ W1``: on the prepared pixels, its patterns are ``M @ W1``."""
    return _zca(prepared, eps)[1]


def _zca(prepared: Prepared, eps: float) -> tuple:
    for seen, seen_eps, computed in _recent_inputs:
        if seen is prepared and seen_eps == eps:
            return computed
    fitted = fit_training_split(prepared)
    matrix = fitted.zca_matrix(eps)
    x_train, x_val, x_test = (fitted.zca(x, matrix=matrix)
                              for x in (prepared.x_train, prepared.x_val, prepared.x_test))
    scale = x_train.std()
    matrix = matrix.astype(x_train.dtype)
    whitened = replace(prepared, x_train=x_train / scale, x_val=x_val / scale,
                       x_test=x_test / scale)
    for rows in (whitened.x_train, whitened.x_val, whitened.x_test):
        rows.flags.writeable = False  # shared by every caller: an edit in place would leak
    computed = (whitened, matrix / scale)
    _recent_inputs[:] = [(prepared, eps, computed), *_recent_inputs[:KEPT_INPUTS - 1]]
    return computed

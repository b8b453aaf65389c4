"""PCA and ZCA whitening (chapter 1): fitted on the training rows alone, with the
covariance the formulas promise, and clear errors on bad input."""

from dataclasses import replace

import numpy as np
import pytest

from cifar_mlp import whitening
from cifar_mlp.preprocess import Prepared


def correlated_rows(n=400, width=12, seed=0):
    """Full-rank rows whose features are strongly correlated, with a non-zero mean."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((width, width)) + 3 * np.eye(width)
    return rng.standard_normal((n, width)) @ mixing + rng.uniform(-5, 5, width)


def covariance(x):
    centred = x - x.mean(axis=0)
    return centred.T @ centred / (len(x) - 1)


def test_zca_whitened_training_rows_have_identity_covariance_for_eps_zero():
    x = correlated_rows()
    white = whitening.fit(x).zca(x, eps=0.0)
    assert np.abs(covariance(x) - np.eye(x.shape[1])).max() > 1  # far from white before
    np.testing.assert_allclose(covariance(white), np.eye(x.shape[1]), atol=1e-10)
    np.testing.assert_allclose(white.mean(axis=0), 0, atol=1e-10)


def test_pca_whitened_coordinates_have_identity_covariance_and_descending_variances():
    x = correlated_rows()
    fitted = whitening.fit(x)
    assert np.all(np.diff(fitted.eigenvalues) <= 0)
    np.testing.assert_allclose(fitted.eigenvalues.sum(), np.trace(covariance(x)))
    np.testing.assert_allclose(covariance(fitted.pca(x, k=5)), np.eye(5), atol=1e-10)
    variances = covariance(fitted.rotate(x)).diagonal()
    np.testing.assert_allclose(variances, fitted.eigenvalues, rtol=1e-10)


def test_zca_matrix_is_symmetric_and_pca_rotation_is_orthogonal():
    fitted = whitening.fit(correlated_rows())
    for eps in (0.0, 0.1):
        matrix = fitted.zca_matrix(eps)
        np.testing.assert_allclose(matrix, matrix.T, atol=1e-12)
    u = fitted.rotation()
    np.testing.assert_allclose(u.T @ u, np.eye(u.shape[1]), atol=1e-12)
    np.testing.assert_allclose(u @ u.T, np.eye(u.shape[0]), atol=1e-12)


def test_pca_with_all_components_is_zca_up_to_a_rotation():
    x = correlated_rows()
    fitted = whitening.fit(x)
    np.testing.assert_allclose(fitted.pca(x, x.shape[1], eps=0.3) @ fitted.rotation().T,
                               fitted.zca(x, eps=0.3), atol=1e-10)


def test_reconstruction_from_all_components_is_the_image_and_from_fewer_loses_variance():
    x = correlated_rows()
    fitted = whitening.fit(x)
    np.testing.assert_allclose(fitted.reconstruct(x, x.shape[1]), x, atol=1e-9)
    residual = x - fitted.reconstruct(x, 3)
    lost = (residual - residual.mean(axis=0)).var(axis=0, ddof=1).sum()
    np.testing.assert_allclose(lost, fitted.eigenvalues[3:].sum(), rtol=1e-9)


def test_correlations_of_one_feature_are_a_row_of_the_correlation_matrix():
    x = correlated_rows()
    expected = np.corrcoef(x, rowvar=False)[4]
    np.testing.assert_allclose(whitening.fit(x).correlations(4), expected, atol=1e-10)
    with pytest.raises(ValueError, match="index"):
        whitening.fit(x).correlations(12)


def test_components_for_a_share_of_the_variance():
    fitted = whitening.Whitening(mean=np.zeros(4), eigenvalues=np.array([6.0, 2.0, 1.5, 0.5]),
                                 eigenvectors=np.eye(4), n_rows=10)
    assert fitted.components_for(0.6) == 1
    assert fitted.components_for(0.61) == 2
    assert fitted.components_for(0.8) == 2
    assert fitted.components_for(1.0) == 4
    with pytest.raises(ValueError, match="fraction"):
        fitted.components_for(1.5)


def test_the_fit_never_sees_validation_or_test_rows():
    x = correlated_rows()
    poisoned = Prepared(x_train=x, y_train=np.zeros(len(x), np.int64),
                        x_val=np.full((50, x.shape[1]), np.nan), y_val=np.zeros(50, np.int64),
                        x_test=np.full((60, x.shape[1]), 1e9), y_test=np.zeros(60, np.int64),
                        mode="rgb", class_names=(), source="full", scaler=None)
    from_split = whitening.fit_training_split(poisoned)
    alone = whitening.fit(x)
    np.testing.assert_array_equal(from_split.mean, alone.mean)
    np.testing.assert_array_equal(from_split.eigenvalues, alone.eigenvalues)
    assert from_split.n_rows == len(x)
    # Rows it never saw are not whitened exactly: their statistics are their own.
    other = correlated_rows(seed=1)
    assert np.abs(covariance(alone.zca(other, 0.0)) - np.eye(x.shape[1])).max() > 0.05
    with pytest.raises(ValueError, match="training"):
        whitening.fit_training_split(replace(poisoned, x_train=np.full_like(x, np.nan)))


def test_a_large_eps_leaves_the_standardized_images_up_to_scale():
    x = correlated_rows()
    standardized = (x - x.mean(axis=0)) / x.std(axis=0)
    fitted = whitening.fit(standardized)
    eps = 1e6
    white = fitted.zca(standardized, eps)
    np.testing.assert_allclose(white * np.sqrt(eps), standardized, rtol=0, atol=1e-4)
    # A small eps changes them: the check above is not vacuous.
    small = fitted.zca(standardized, 1e-2) * np.sqrt(1e-2)
    assert np.abs(small - standardized).max() > 0.1


@pytest.mark.parametrize("call, message", [
    (lambda f, x: f.zca(x, eps=-0.1), "eps"),
    (lambda f, x: f.zca(x, eps=np.nan), "eps"),
    (lambda f, x: f.zca_matrix(eps=-1), "eps"),
    (lambda f, x: f.pca(x, k=0), "k"),
    (lambda f, x: f.pca(x, k=13), "k"),
    (lambda f, x: f.pca(x, k=2.5), "k"),
    (lambda f, x: f.reconstruct(x, k=-1), "k"),
    (lambda f, x: f.zca(x[:, :5], eps=0.1), "width"),
    (lambda f, x: f.pca(x[0], k=2), "2-D"),
    (lambda f, x: f.zca(np.where(x > 0, np.inf, x), eps=0.1), "finite"),
])
def test_bad_input_is_an_error_that_says_what_is_wrong(call, message):
    x = correlated_rows()
    with pytest.raises(ValueError, match=message):
        call(whitening.fit(x), x)


def test_the_fit_refuses_bad_training_rows():
    with pytest.raises(ValueError, match="2-D"):
        whitening.fit(np.zeros(10))
    with pytest.raises(ValueError, match="rows"):
        whitening.fit(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="finite"):
        whitening.fit(np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 1.0]]))


def test_eps_zero_on_a_rank_deficient_covariance_is_an_error_not_infinities():
    x = correlated_rows(n=8, width=12)  # fewer rows than features
    fitted = whitening.fit(x)
    assert fitted.rank < 12
    with pytest.raises(ValueError, match="eps > 0"):
        fitted.zca(x, eps=0.0)
    assert np.isfinite(fitted.zca(x, eps=1e-3)).all()


def test_float32_rows_stay_float32():
    x = correlated_rows().astype(np.float32)
    fitted = whitening.fit(x)
    assert fitted.eigenvalues.dtype == np.float64  # fitted in float64
    assert fitted.zca(x, 0.1).dtype == np.float32
    assert fitted.pca(x, 3).dtype == np.float32


def test_the_linear_probe_trains_one_model_per_seed_and_writes_no_file(tmp_path, monkeypatch):
    from dataclasses import replace as replace_recipe

    from cifar_mlp.experiments import RECIPES
    from cifar_mlp.runs import linear_probe

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 30)
    x = (rng.standard_normal((300, 20)) + 4 * np.eye(10, 20)[y]).astype(np.float32)
    recipe = replace_recipe(RECIPES["linear"], epochs=20, lr=0.05, batch_size=16)
    accuracies = linear_probe(x[::2], y[::2], x[1::2], y[1::2], seeds=(0, 1, 2), recipe=recipe)
    assert len(accuracies) == 3 and all(0.5 < a <= 1 for a in accuracies)  # learnt, not chance
    assert len(set(accuracies)) > 1 or accuracies[0] == 1.0  # the seeds differ
    assert list(tmp_path.iterdir()) == []


def split_of(x, n_val=50, n_test=60, seed=1):
    """A Prepared whose validation and test rows come from another draw than ``x``."""
    rng = np.random.default_rng(seed)
    others = correlated_rows(n_val + n_test, x.shape[1], seed).astype(np.float32)
    return Prepared(x_train=x, y_train=rng.integers(0, 10, len(x)), x_val=others[:n_val],
                    y_val=np.zeros(n_val, np.int64), x_test=others[n_val:],
                    y_test=np.zeros(n_test, np.int64), mode="rgb", class_names=(),
                    source="full", scaler=None)


def test_zca_inputs_whiten_every_split_with_the_training_splits_fit():
    x = correlated_rows().astype(np.float32)
    prepared = split_of(x)
    white = whitening.zca_inputs(prepared, 0.1)
    fitted = whitening.fit(x)
    scale = fitted.zca(x, 0.1).std()
    for split in ("x_train", "x_val", "x_test"):
        np.testing.assert_allclose(getattr(white, split),
                                   fitted.zca(getattr(prepared, split), 0.1) / scale,
                                   rtol=1e-4, atol=1e-4)
        assert getattr(white, split).dtype == np.float32
    assert np.var(white.x_train) == pytest.approx(1.0, rel=1e-4)  # as after standardization
    # Decorrelated: the features' correlations fall (to 0 with an epsilon of 0).
    def largest_correlation(rows):
        return np.abs(np.corrcoef(rows.astype(np.float64), rowvar=False) - np.eye(rows.shape[1])).max()
    assert largest_correlation(white.x_train) < largest_correlation(x) / 3
    assert largest_correlation(whitening.zca_inputs(prepared, 0.0).x_train) < 1e-3
    np.testing.assert_array_equal(white.y_train, prepared.y_train)
    # Validation and test rows never enter the fit.
    poisoned = replace(prepared, x_val=prepared.x_val * 1e3, x_test=prepared.x_test + 1e3)
    np.testing.assert_array_equal(whitening.zca_inputs(poisoned, 0.1).x_train, white.x_train)


def test_zca_inputs_are_fitted_once_per_prepared_inputs_and_epsilon(monkeypatch):
    """A build trains a dozen models on one whitened input: the fit runs once for it, and
    again for other inputs or another epsilon."""
    prepared = split_of(correlated_rows().astype(np.float32))
    fits = []
    real_fit = whitening.fit_training_split
    monkeypatch.setattr(whitening, "fit_training_split",
                        lambda p: fits.append(p) or real_fit(p))
    first = whitening.zca_inputs(prepared, 0.3)
    assert whitening.zca_inputs(prepared, 0.3) is first and len(fits) == 1
    other = split_of(correlated_rows(seed=5).astype(np.float32))
    whitening.zca_inputs(other, 0.3)
    whitening.zca_inputs(prepared, 0.7)
    assert len(fits) == 3
    # An equal copy is another object: fitted again, never confused with the first.
    copy = replace(prepared, x_train=prepared.x_train.copy())
    np.testing.assert_array_equal(whitening.zca_inputs(copy, 0.3).x_train, first.x_train)
    assert len(fits) == 4
    # Every caller shares the cached rows: none may change them in place.
    with pytest.raises(ValueError, match="read-only"):
        first.x_train[0, 0] = 1.0


def test_the_input_matrix_maps_prepared_rows_to_whitened_rows_and_carries_first_layers():
    prepared = split_of(correlated_rows().astype(np.float32))
    white = whitening.zca_inputs(prepared, 0.5)
    matrix = whitening.zca_input_matrix(prepared, 0.5)
    mean = prepared.x_train.mean(axis=0)
    np.testing.assert_allclose((prepared.x_val - mean) @ matrix, white.x_val, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-6)
    w1 = np.random.default_rng(0).normal(size=(prepared.n_features, 4)).astype(np.float32)
    np.testing.assert_allclose(white.x_val @ w1, (prepared.x_val - mean) @ (matrix @ w1),
                               rtol=1e-3, atol=1e-3)


def test_a_recipe_trains_on_its_inputs_as_prepared_or_whitened_as_it_says():
    from cifar_mlp.experiments import RECIPES, recipe_inputs

    prepared = split_of(correlated_rows().astype(np.float32))
    assert recipe_inputs(replace(RECIPES["best"], whitening=None), prepared) is prepared
    white = recipe_inputs(replace(RECIPES["best"], whitening=1.0), prepared)
    np.testing.assert_array_equal(white.x_val, whitening.zca_inputs(prepared, 1.0).x_val)

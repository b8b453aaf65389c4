"""Input checks: a clear error where bad data enters, instead of a puzzling one deep inside.

:class:`cifar_mlp.model.MLP` checks each batch once (:meth:`~cifar_mlp.model.MLP.check_batch`);
:func:`cifar_mlp.train.train` checks whole splits and its settings once, before the first
step. The layer functions themselves check nothing: they stay plain formulas.
"""

import numpy as np

FINITE_CHECK_ROWS = 4096  # rows checked for NaN/inf at a time, to keep the temporaries small


def check_features(x: np.ndarray, name: str = "x", width: int | None = None) -> None:
    """Raise ValueError unless ``x`` is a non-empty 2-D batch of finite numbers."""
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (batch, features) array, got shape {x.shape}"
                         + ("; flatten images with x.reshape(len(x), -1)" if x.ndim > 2 else ""))
    if x.shape[0] == 0:
        raise ValueError(f"{name}: empty batch (shape {x.shape})")
    if width is not None and x.shape[1] != width:
        raise ValueError(f"{name}: expected {width} features per row, got {x.shape[1]}")
    for start in range(0, len(x), FINITE_CHECK_ROWS):
        if not np.isfinite(x[start:start + FINITE_CHECK_ROWS]).all():
            raise ValueError(f"{name}: contains NaN or inf (in rows {start} to "
                             f"{min(start + FINITE_CHECK_ROWS, len(x)) - 1})")


def check_labels(y, n: int, n_classes: int) -> np.ndarray:
    """Return ``y`` as an array after checking it holds n integer labels in [0, n_classes - 1]."""
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"labels: expected shape ({n},) to match the batch, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels: expected integer class indices, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels: expected values in [0, {n_classes - 1}], "
                         f"got min {y.min()} and max {y.max()}")
    return y


def check_split(x, y, x_name: str, y_name: str, width: int, n_classes: int,
                check_finite: bool = True) -> None:
    """Raise ValueError unless x is (N, width) with N >= 1 finite rows and y holds N valid labels."""
    if x.ndim != 2:
        raise ValueError(f"{x_name}: expected a 2-D (examples, features) array, got shape {x.shape}")
    if y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"{x_name} has {len(x)} rows but {y_name} has shape {y.shape}: "
                         f"expected one label per row")
    if len(x) == 0:
        raise ValueError(f"{x_name} is empty: nothing to train or evaluate on")
    if x.shape[1] != width:
        raise ValueError(f"{x_name}: the model takes {width} features per row, got {x.shape[1]}")
    try:
        check_labels(y, len(x), n_classes)
    except ValueError as error:
        raise ValueError(f"{y_name}: {error}") from None
    if check_finite:
        check_features(x, x_name)


def check_settings(epochs, batch_size, patience, divergence_factor, schedule) -> None:
    """Raise ValueError on a training setting that cannot work."""
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if patience is not None and (int(patience) != patience or patience < 1):
        raise ValueError(f"patience must be None or an integer >= 1, got {patience!r}")
    if divergence_factor is not None and not divergence_factor > 1:
        raise ValueError(f"divergence_factor must be None or > 1, got {divergence_factor!r}")
    if schedule is not None and not callable(schedule):
        raise ValueError(f"schedule must be a function (epoch, base_lr) -> lr, got {schedule!r}")

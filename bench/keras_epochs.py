"""(d) Keras seconds per epoch on the benchmark network, batch, data and validation."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from cifar_mlp.keras_runtime import quiet_tensorflow
from cifar_mlp.keras_twin import KERAS
from cifar_mlp.runs import run

from bench.network import RECIPE


def keras_epochs(prepared, epochs: int) -> dict:
    """``runs.run`` with the Keras twin for ``epochs`` + 1 epochs; the first (tracing)
    is excluded."""
    tf, _ = quiet_tensorflow()
    with tempfile.TemporaryDirectory() as weights_dir:  # always trains; keeps nothing
        result = run(replace(RECIPE, epochs=epochs + 1), prepared, framework=KERAS,
                     results_dir=None, weights_dir=Path(weights_dir), retrain=True, progress=False)
    seconds = result["history"].seconds
    return {"seconds": seconds, "seconds_excluded": seconds[:1],
            "median_seconds": float(np.median(seconds[1:])),
            "val_accuracy": result["history"].val_acc, "versions": result["versions"],
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "what": "runs.run(framework=KERAS): fit(verbose=0) on a tf.data generator of "
                    "train.minibatches (autotune off, prefetch 1), validation each epoch, "
                    "per-epoch wall times from a callback; first epoch (tracing) excluded"}

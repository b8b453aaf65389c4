"""What an MLP's accuracy is worth: two baselines that learn no weights (chapter 3).

    result = majority_class(prepared)                 # always the most frequent class
    result = nearest_neighbours(prepared, ks=(1, 5))  # k-NN on the pixels, k chosen on validation
    result = run_baseline("knn", prepared, results_dir=..., weights_dir=...)  # computed once

The third baseline, a linear softmax classifier, is an ``MLP`` with no hidden layer,
trained by the same code as every network (``RECIPES["linear"]`` in
:mod:`cifar_mlp.experiments`). Each function here returns a results record with the
fields :func:`cifar_mlp.runs.run` writes that apply to a model without weights, so
that the book's tables read every model alike; :func:`run_baseline` keeps it, as ``run``
keeps a trained model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from sklearn.neighbors import NearestNeighbors

from .preprocess import Prepared
from .provenance import code_fingerprint, depends_on
from .runs import machine, write_result

KS = (1, 3, 5, 10, 20, 50)  # the numbers of neighbours tried on the validation split


def record(name: str, description: str, prepared: Prepared, test_accuracy: float,
           val_accuracy: float, seconds: float, **extra) -> dict:
    """A results record of a baseline, in the layout of :func:`cifar_mlp.runs.result_record`."""
    return {"name": name, "framework": extra.pop("framework", "numpy"),
            "description": description, "test_accuracy": test_accuracy,
            "val_accuracy": val_accuracy, "training_seconds": seconds, "parameters": None,
            "data": prepared.source, "n_train": len(prepared.x_train),
            "n_val": len(prepared.x_val), "n_test": len(prepared.x_test),
            "machine": machine(), **extra}


def majority_class(prepared: Prepared) -> dict:
    """Predict, for every image, the most frequent class of the training split."""
    started = time.perf_counter()
    majority = np.bincount(prepared.y_train).argmax()
    return record("majority", "The most frequent training class, for every image", prepared,
                  test_accuracy=float(np.mean(prepared.y_test == majority)),
                  val_accuracy=float(np.mean(prepared.y_val == majority)),
                  seconds=time.perf_counter() - started, predicted_class=int(majority))


def vote(neighbour_labels: np.ndarray, k: int, n_classes: int) -> np.ndarray:
    """The most common label among each row's first ``k`` neighbours (ties: the smaller label)."""
    counts = np.zeros((len(neighbour_labels), n_classes), np.int64)
    np.add.at(counts, (np.arange(len(neighbour_labels))[:, None], neighbour_labels[:, :k]), 1)
    return counts.argmax(axis=1)


def nearest_neighbours(prepared: Prepared, ks=KS) -> dict:
    """k-nearest neighbours on the standardized pixels (Euclidean distance), with the ``k``
    of ``ks`` that does best on the validation split; the test split is scored once, with it."""
    started = time.perf_counter()
    n_classes = len(prepared.class_names)
    index = NearestNeighbors(n_neighbors=max(ks), algorithm="brute").fit(prepared.x_train)

    def neighbour_labels(x):
        return prepared.y_train[index.kneighbors(x, return_distance=False)]

    val_labels = neighbour_labels(prepared.x_val)
    val_accuracy = {k: float(np.mean(vote(val_labels, k, n_classes) == prepared.y_val))
                    for k in ks}
    k = max(ks, key=lambda k: (val_accuracy[k], -k))  # the best; the smallest among equals
    test_accuracy = float(np.mean(vote(neighbour_labels(prepared.x_test), k, n_classes)
                                  == prepared.y_test))
    return record("knn", f"k-nearest neighbours on the pixels (k = {k}, chosen on validation)",
                  prepared, test_accuracy=test_accuracy, val_accuracy=val_accuracy[k],
                  seconds=time.perf_counter() - started, framework="scikit-learn", k=k,
                  val_accuracy_by_k=val_accuracy)


BASELINES = {"majority": majority_class, "knn": nearest_neighbours}


def run_baseline(name: str, prepared: Prepared, *, results_dir: Path | None, weights_dir: Path,
                 **unused_settings) -> dict:
    """Baseline ``name`` of :data:`BASELINES` on ``prepared``, as :func:`cifar_mlp.runs.run`
    treats a model: computed once and kept in ``weights_dir/<data source>/<name>.json``
    with the data and code it came from, reused while both are unchanged, and written
    to ``results_dir/<name>.json``. Accepts a profile's run settings (an epoch cap means
    nothing here)."""
    kept = Path(weights_dir) / prepared.source / f"{name}.json"
    key = {"data": [prepared.source, prepared.mode, len(prepared.x_train), len(prepared.x_val)],
           "code": code_fingerprint(depends_on("baselines"))}
    saved = json.loads(kept.read_text()) if kept.is_file() else {}
    if saved.get("key") == key:
        result = saved["result"]
    else:
        print(f"computing the {name} baseline", flush=True)
        result = BASELINES[name](prepared)
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(json.dumps({"key": key, "result": result}))
    write_result(result, results_dir, f"{name}.json")
    return result

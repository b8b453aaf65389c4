"""What an MLP's accuracy is worth: two baselines that learn no weights (chapter 3).

    majority = run(MAJORITY, prepared, framework=BASELINES, ...)  # the most frequent class
    knn = run(KNN, prepared, framework=BASELINES, ...)  # k-NN on the pixels, k chosen on validation
    knn["model"].k                                   # the k it chose

A baseline goes through :func:`cifar_mlp.runs.run` as a recipe does: :data:`BASELINES`
is its framework, so it is computed once, kept beside the trained models, reloaded
while the data and this code stay the same, and written to the results files with the
same fields as a network (no epochs, no loss: a baseline gives no probabilities).

The third baseline, a linear softmax classifier, is an ``MLP`` with no hidden layer,
trained by the same code as every network (``RECIPES["linear"]`` in
:mod:`cifar_mlp.experiments`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.neighbors import NearestNeighbors

from .preprocess import Prepared
from .provenance import code_fingerprint, depends_on
from .train import History


@dataclass(frozen=True)
class Baseline:
    """A baseline as :func:`cifar_mlp.runs.run` takes a recipe: its name, what it is, and
    ``library``, what computes it (for the tables). It has no epochs and one view."""

    name: str
    description: str
    library: str = ""
    epochs: int = 0
    test_shift: None = None  # one view: a baseline scores the images as they are
    whitening: None = None  # the inputs as prepared

    def key(self, prepared: Prepared) -> str:
        """Identifies a computed baseline: its settings and the data it saw."""
        blob = json.dumps([asdict(self), prepared.source, prepared.mode, len(prepared.x_train),
                           len(prepared.x_val)], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


class MajorityClass:
    """Predicts, for every image, the most frequent class of the training split."""

    def __init__(self, predicted_class: int):
        self.predicted_class = int(predicted_class)

    @classmethod
    def fit(cls, prepared: Prepared) -> MajorityClass:
        return cls(np.bincount(prepared.y_train).argmax())

    def predict(self, x) -> np.ndarray:
        return np.full(len(x), self.predicted_class)

    def state(self) -> dict:
        return {"predicted_class": self.predicted_class}


def vote(neighbour_labels: np.ndarray, k: int, n_classes: int) -> np.ndarray:
    """The most common label among each row's first ``k`` neighbours (ties: the smaller label)."""
    counts = np.zeros((len(neighbour_labels), n_classes), np.int64)
    np.add.at(counts, (np.arange(len(neighbour_labels))[:, None], neighbour_labels[:, :k]), 1)
    return counts.argmax(axis=1)


class NearestNeighbours:
    """k-nearest neighbours on the standardized pixels (Euclidean distance): each image gets
    the most common label of the ``k`` training images closest to it."""

    def __init__(self, prepared: Prepared, k: int, ks: tuple):
        self.k, self.ks, self.n_classes = int(k), tuple(ks), len(prepared.class_names)
        self.y_train = prepared.y_train
        self.index = NearestNeighbors(n_neighbors=max(ks), algorithm="brute").fit(prepared.x_train)
        self.found = {}  # labels of the neighbours of the images already asked about

    @classmethod
    def fit(cls, prepared: Prepared, ks: tuple) -> NearestNeighbours:
        """With the ``k`` of ``ks`` that does best on the validation split (the smallest
        among equals); ``val_accuracy_by_k`` keeps each one's accuracy."""
        model = cls(prepared, ks[0], ks)
        model.val_accuracy_by_k = {k: float(np.mean(model.predict(prepared.x_val, k) == prepared.y_val))
                                   for k in ks}
        model.k = max(ks, key=lambda k: (model.val_accuracy_by_k[k], -k))
        return model

    def neighbour_labels(self, x) -> np.ndarray:
        """The labels of the ``max(ks)`` nearest training images of each row of ``x``
        (found once per set of images: choosing ``k`` and scoring ask for the same ones)."""
        digest = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
        if digest not in self.found:
            self.found[digest] = self.y_train[self.index.kneighbors(x, return_distance=False)]
        return self.found[digest]

    def predict(self, x, k: int | None = None) -> np.ndarray:
        return vote(self.neighbour_labels(x), k or self.k, self.n_classes)

    def state(self) -> dict:
        return {"k": self.k}


@dataclass(frozen=True)
class MajorityBaseline(Baseline):
    def fit(self, prepared: Prepared) -> MajorityClass:
        return MajorityClass.fit(prepared)

    def restore(self, state: dict, prepared: Prepared) -> MajorityClass:
        return MajorityClass(state["predicted_class"])


@dataclass(frozen=True)
class NearestNeighboursBaseline(Baseline):
    ks: tuple = (1, 3, 5, 10, 20, 50)  # the numbers of neighbours tried on the validation split

    def fit(self, prepared: Prepared) -> NearestNeighbours:
        return NearestNeighbours.fit(prepared, self.ks)

    def restore(self, state: dict, prepared: Prepared) -> NearestNeighbours:
        return NearestNeighbours(prepared, state["k"], self.ks)


MAJORITY = MajorityBaseline("majority", "The most frequent training class, for every image")
KNN = NearestNeighboursBaseline(
    "knn", "k-nearest neighbours on the pixels (k chosen on validation)", library="scikit-learn")


class BaselineFramework:
    """How :func:`cifar_mlp.runs.run` computes, scores and keeps a baseline: "fitting" is
    counting classes or indexing the training images; scoring gives an accuracy and no
    loss; what is kept is the little the baseline chose (its class, its ``k``)."""

    name, file_prefix = "baseline", ""

    # ``recipe`` is a Baseline here: it stands where run() passes a network's recipe.
    def key(self, recipe: Baseline, prepared: Prepared) -> dict:
        return {"baseline and data": recipe.key(prepared),
                "code": code_fingerprint(depends_on("baselines"))}

    def fit(self, recipe: Baseline, prepared: Prepared, progress: bool):
        history = History()
        history.complete()
        return recipe.fit(prepared), history

    def evaluate(self, model, x, y, test_shift: int | None = None) -> tuple[None, float]:
        """No loss (a baseline gives no probabilities) and the accuracy."""
        return None, float(np.mean(model.predict(x) == y))

    def n_parameters(self, model) -> int:
        return 0  # it learns no weights

    def save(self, model, path: Path) -> None:
        np.savez(path, **model.state())

    def load(self, path: Path, recipe: Baseline, prepared: Prepared):
        with np.load(path) as saved:
            return recipe.restore({name: saved[name].item() for name in saved.files}, prepared)

    def record(self) -> dict:
        return {}


BASELINES = BaselineFramework()

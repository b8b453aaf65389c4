"""Every model the chapters show, in one list, trained before the book is rendered
(``make book``).

    python -m cifar_mlp.book_runs      # trains what is missing or stale, then stops

:func:`book_models` is the book's registry: each model with its recipe (or baseline),
the framework that trains it, its inputs, the chapters that show it, and its label in
the results tables. Everything else is derived from that list: the training order
(:func:`book_runs`), the results files (:func:`result_names`), the headline table of
the README and the results page (:func:`headline`), and the training table of the
*Reproduce it* page. Adding a model to the book is one entry there.

Chapters 3 and 4 call :func:`cifar_mlp.runs.run` for each model, with the same data and
settings; ``run`` reloads what was trained here. So the book is rendered from finished
training: every page, the summary pages that Sphinx executes before the chapters
included, reads the same results files, and the terminal shows the training's progress
(model, epoch, time left) instead of a silent hour inside jupyter-book. An interrupted
run resumes where it stopped: each model is saved as soon as it is trained and reloaded
the next time.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace

import numpy as np

from .baselines import BASELINES, KNN, MAJORITY, Baseline
from .experiments import RECIPES, Recipe, ablation_recipes
from .keras_cnn import BLOCKS, CNN, CNN_PERMUTED, IMAGE_SHAPE
from .keras_twin import KERAS
from .preprocess import prepare, to_features
from .profiles import active_profile, load_data, project_root
from .runs import NUMPY, run


# The seeds of the NumPy repeats that show how far apart two runs of one recipe end.
REPEAT_SEEDS = (1, 2)

# How each model's inputs are prepared: grayscale or colour, standardized.
INPUTS = {"gray": {"mode": "gray"}, "rgb": {"mode": "rgb"}}


@dataclass(frozen=True)
class BookModel:
    """A model the chapters show.

    ``model`` is a :class:`~cifar_mlp.experiments.Recipe`, or a baseline of
    :mod:`cifar_mlp.baselines` (then ``framework`` is BASELINES); ``framework`` is NUMPY,
    KERAS (a Keras MLP without a NumPy twin), CNN or CNN_PERMUTED; ``inputs`` a key of
    INPUTS. ``label`` is its row in the headline table ("" keeps it out: the ablation's
    models, the repeats); the table adds the architecture, computed from the recipe.
    ``keras_twin``: chapter 4 also trains the recipe in Keras (:data:`KERAS`), and the
    table shows that twin beside it.
    """

    model: Recipe | Baseline
    framework: object
    inputs: str
    chapters: tuple
    label: str = ""
    keras_twin: bool = False

    @property
    def name(self) -> str:
        """The stem of its results file."""
        return self.framework.file_prefix + self.model.name

    def twin(self) -> BookModel:
        """Its Keras twin: the same recipe and inputs, trained in Keras, shown in chapter 4."""
        return replace(self, framework=KERAS, chapters=(4,), label="", keras_twin=False)

    def architecture(self) -> str:
        """What the network is, in a few words, from its recipe: the layer sizes of an MLP
        (3072-1024-256-10), the filters of the convolutional network."""
        if self.framework in (CNN, CNN_PERMUTED):
            return f"Keras; {'-'.join(map(str, BLOCKS))} filters"
        if self.framework == BASELINES:
            return self.model.library
        blank = np.zeros((1, *IMAGE_SHAPE), np.uint8)  # the width of one image's row
        n_features = to_features(blank, INPUTS[self.inputs]["mode"]).shape[1]
        return "-".join(map(str, self.model.layer_sizes(n_features)))

    def headline_label(self) -> str:
        """Its label in the results tables, with its architecture."""
        architecture = self.architecture()
        return f"{self.label} ({architecture})" if architecture else self.label


def seed_repeats() -> list:
    """The seed grayscale recipe again, with other seeds (chapter 4): the cheapest
    network, so that the yardstick costs two minutes, not a quarter of the build."""
    return [replace(RECIPES["seed_gray"], name=f"seed_gray_seed{seed}", seed=seed)
            for seed in REPEAT_SEEDS]


def book_models() -> list:
    """The registry: every model of chapters 3 and 4, in the chapters' order."""
    models = [BookModel(MAJORITY, BASELINES, "rgb", (3,), "Baseline: the most frequent class"),
              BookModel(KNN, BASELINES, "rgb", (3,),
                        "Baseline: k-nearest neighbours on the pixels"),
              BookModel(RECIPES["linear"], NUMPY, "rgb", (3,),
                        "Baseline: linear softmax classifier"),
              BookModel(RECIPES["seed_gray"], NUMPY, "gray", (3, 4),
                        "Seed network, grayscale", keras_twin=True),
              BookModel(RECIPES["seed_rgb"], NUMPY, "rgb", (3,), "Seed network, colour")]
    models += [BookModel(recipe, NUMPY, "rgb", (3,)) for _, _, recipe in ablation_recipes()]
    models += [BookModel(RECIPES["best"], NUMPY, "rgb", (3, 4), "Best from-scratch recipe",
                         keras_twin=True),
               # Trained in Keras alone: the two pairs above compare the frameworks.
               BookModel(RECIPES["seed_keras"], KERAS, "rgb", (4,),
                         "Seed's Keras network, in Keras")]
    models += [BookModel(recipe, NUMPY, "gray", (4,)) for recipe in seed_repeats()]
    models += [BookModel(RECIPES["cnn"], CNN, "rgb", (4,), "A small convolutional network"),
               BookModel(RECIPES["cnn"], CNN_PERMUTED, "rgb", (4,),
                         "The same convolutional network, pixels shuffled")]
    return models


def book_runs() -> list:
    """Every model of :func:`book_models` and every Keras twin, in training order: the
    baselines and NumPy models, then the twins and the other Keras MLPs, then the
    convolutional networks."""
    models = book_models()
    return ([model for model in models if model.framework in (BASELINES, NUMPY)]
            + [model.twin() for model in models if model.keras_twin]
            + [model for model in models if model.framework is KERAS]
            + [model for model in models if model.framework in (CNN, CNN_PERMUTED)])


def result_names() -> list:
    """The results-file stem of every model of :func:`book_runs`, in their order."""
    return [model.name for model in book_runs()]


def headline() -> list:
    """(results file stem, label with its architecture, its Keras twin's results file stem
    or None) of each model of the headline table, in the chapters' order."""
    return [(model.name, model.headline_label(), model.twin().name if model.keras_twin else None)
            for model in book_models() if model.label]


def main() -> int:
    """Train (or reload) every model of :func:`book_runs` in the active profile."""
    profile = active_profile()
    data = load_data(profile)
    settings = profile.run_settings(project_root(), data)
    prepared = {}
    runs = book_runs()
    started = time.perf_counter()
    for number, model in enumerate(runs, 1):
        if model.inputs not in prepared:
            prepared[model.inputs] = prepare(data, n_val=profile.n_val_for(data), seed=0,
                                             **INPUTS[model.inputs])
        inputs = prepared[model.inputs]
        print(f"[{number}/{len(runs)}] {model.name} ({model.framework.name})", flush=True)
        result = run(model.model, inputs, framework=model.framework, **settings)
        print(f"    validation accuracy {result['val_accuracy']:.1%}", flush=True)
    print(f"all {len(runs)} models ready after {(time.perf_counter() - started) / 60:.1f} minutes "
          f"({profile.name} profile, {data.source} data)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

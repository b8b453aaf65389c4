"""The book's registry of models (cifar_mlp.book_runs.book_models): one entry adds a model
to the training, the results files and the tables, and the labels' architectures are
computed from the recipes."""

import json
from dataclasses import replace

import pytest

from cifar_mlp import book_runs, report
from cifar_mlp.baselines import BASELINES, KNN
from cifar_mlp.book_runs import BookModel, book_models, headline, result_names
from cifar_mlp.experiments import ABLATION_ROWS, ABLATION_SEEDS, RECIPES
from cifar_mlp.keras_twin import KERAS
from cifar_mlp.runs import NUMPY


def test_the_labels_carry_the_architecture_computed_from_the_recipe():
    labels = {name: label for name, label, _ in headline()}
    assert labels["seed_gray"] == "Seed network, grayscale (1024-512-256-10)"
    assert labels["seed_rgb"] == "Seed network, colour (3072-1024-256-10)"
    assert labels["linear"] == "Baseline: linear softmax classifier (3072-10)"
    hidden = "-".join(map(str, RECIPES["best"].hidden))
    assert labels["best"] == f"Best from-scratch recipe (3072-{hidden}-10)"


def test_every_model_trains_once_and_each_twin_after_its_numpy_model():
    names = result_names()
    assert len(names) == len(set(names))
    for model in book_models():
        if model.keras_twin:
            assert names.index(f"keras_{model.name}") > names.index(model.name)
    assert sum(name.startswith("ablation_") for name in names) == len(ABLATION_ROWS) * len(ABLATION_SEEDS)


@pytest.fixture
def one_more_model(monkeypatch):
    """The registry with a throwaway model added: one entry, nothing else."""
    extra = BookModel(replace(RECIPES["seed_rgb"], name="throwaway", hidden=(64,)), NUMPY, "rgb",
                      (3,), "A throwaway network", keras_twin=True)
    original = book_runs.book_models
    monkeypatch.setattr(book_runs, "book_models", lambda: [*original(), extra])
    return extra


def test_one_entry_adds_a_model_to_the_training_and_to_the_tables(one_more_model, tmp_path):
    runs = {model.name: model for model in book_runs.book_runs()}
    assert runs["throwaway"].framework is NUMPY and runs["keras_throwaway"].framework is KERAS
    result = {"test_accuracy": 0.5, "test_loss": 1.0, "val_accuracy": 0.5, "epochs": 2,
              "seconds_per_epoch": 1.0, "parameters": 10, "data": "full", "n_train": 4,
              "n_val": 2, "n_test": 2, "training_seconds": 2.0}
    for name in ("throwaway", "keras_throwaway"):
        (tmp_path / f"{name}.json").write_text(json.dumps(result))
    table = report.markdown_table(report.load_results(tmp_path))
    assert "| A throwaway network (3072-64-10) | 50.0% | 50.0% |" in table


def test_a_baseline_is_named_by_its_baseline():
    model = BookModel(KNN, BASELINES, "rgb", (3,), "k-NN")
    assert model.name == "knn" and model.headline_label() == "k-NN (scikit-learn)"


def test_each_ablation_row_undoes_only_what_its_label_names_of_the_inputs():
    """The best recipe trains on whitened inputs: every ablation row keeps them except the
    row without whitening, which trains on the standardized inputs."""
    rows = {label: recipe.whitening for _, label, recipe in book_runs.ablation_recipes()}
    best = RECIPES["best"].whitening
    assert best is not None
    assert [label for label, whitening in rows.items() if whitening != best] == [
        "without whitening: standardized inputs"]
    assert rows["without whitening: standardized inputs"] is None
    ablation_inputs = {model.inputs for model in book_models() if model.name.startswith("ablation_")}
    assert ablation_inputs == {"rgb"}


def test_the_seeds_keras_network_trains_in_keras_alone_after_the_numpy_models():
    """Two NumPy/Keras pairs compare the frameworks; the seed's Keras network is trained
    once, in its own framework, and its row in the tables is that run."""
    runs = book_runs.book_runs()
    names = [model.name for model in runs]
    assert "keras_seed_keras" in names and "seed_keras" not in names
    keras_only = runs[names.index("keras_seed_keras")]
    assert keras_only.framework is KERAS and keras_only.model == RECIPES["seed_keras"]
    assert max(i for i, model in enumerate(runs) if model.framework is NUMPY) < names.index(
        "keras_seed_keras")
    assert ("keras_seed_keras", "Seed's Keras network, in Keras (3072-1024-512-256-128-10)",
            None) in headline()

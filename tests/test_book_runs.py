"""`make book` trains first (cifar_mlp.book_runs), then renders: after book_runs, the
chapters only reload. A model a chapter trains that book_runs does not would be trained
silently inside jupyter-book, after the summary pages were rendered with older numbers."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from cifar_mlp.book_runs import book_runs

REPO = Path(__file__).resolve().parent.parent
TRAINING_CHAPTERS = ("03_train_eval.ipynb", "04_keras_benchmark.ipynb")


@pytest.fixture(scope="module")
def trained_copy(tmp_path_factory):
    """A copy of the package, notebooks and sample, after `python -m cifar_mlp.book_runs`
    in the smoke profile; returns the copy and the environment it ran in."""
    copy = tmp_path_factory.mktemp("book")
    for name in ("cifar_mlp", "notebooks", "data/sample", "pyproject.toml",
                 "data/seed_project.json", "results/bench.json"):
        source, target = REPO / name, copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    env = {key: value for key, value in os.environ.items()
           if key not in ("CIFAR10_DIR", "CIFAR_MLP_REQUIRE_FULL")}
    env.update(CIFAR_MLP_PROFILE="smoke", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(copy))
    completed = subprocess.run([sys.executable, "-m", "cifar_mlp.book_runs"], cwd=copy, env=env,
                               capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return copy, env, completed.stdout


def test_book_runs_trains_every_model_once_and_says_which(trained_copy):
    _, _, stdout = trained_copy
    runs = book_runs()
    names = [recipe.name for recipe, _, _ in runs]
    assert stdout.count("training ") == len(runs)
    for number, name in enumerate(names, 1):
        assert f"[{number}/{len(runs)}] {name} (" in stdout


def test_a_second_book_runs_reloads_everything(trained_copy):
    copy, env, _ = trained_copy
    completed = subprocess.run([sys.executable, "-m", "cifar_mlp.book_runs"], cwd=copy, env=env,
                               capture_output=True, text=True, timeout=900, check=True)
    assert "training " not in completed.stdout


@pytest.mark.parametrize("name", TRAINING_CHAPTERS)
def test_after_book_runs_the_chapters_train_nothing(trained_copy, name, monkeypatch):
    copy, env, _ = trained_copy
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)  # the kernel inherits this process's environment
    notebook = nbformat.read(copy / "notebooks" / name, as_version=4)
    notebook.cells = [cell for cell in notebook.cells if "exercise" not in cell.metadata.get("tags", [])]
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(copy / "notebooks")}}).execute()
    printed = "\n".join(output.get("text", "") for cell in notebook.cells
                        for output in cell.get("outputs", []))
    assert re.findall(r"^training \S+ \((?:numpy|keras)\)", printed, re.MULTILINE) == []

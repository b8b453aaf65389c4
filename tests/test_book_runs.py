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
from myst_nb.core.read import read_myst_markdown_notebook

from cifar_mlp.book_runs import BASELINE, book_runs
from cifar_mlp.profiles import PROFILES
from kernels import execute_in_kernel

REPO = Path(__file__).resolve().parent.parent
TRAINING_CHAPTERS = ("03_train_eval.ipynb", "04_keras_benchmark.ipynb")
SUMMARY_PAGES = ("intro.md", "results.md")


@pytest.fixture(scope="module")
def trained_copy(tmp_path_factory):
    """A copy of the package, notebooks and sample, after `python -m cifar_mlp.book_runs`
    in the smoke profile; returns the copy and the environment it ran in."""
    copy = tmp_path_factory.mktemp("book")
    for name in ("cifar_mlp", "notebooks", "book", "data/sample", "pyproject.toml",
                 "data/seed_project.json", "results/bench.json", "results/recipe_trials.json"):
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
    runs = book_runs(PROFILES["smoke"])
    names = [model if framework == BASELINE else model.name for model, _, framework in runs]
    baselines = sum(framework == BASELINE for _, _, framework in runs)
    assert stdout.count("training ") == len(runs) - baselines
    assert stdout.count("computing the ") == baselines
    for number, name in enumerate(names, 1):
        assert f"[{number}/{len(runs)}] {name} (" in stdout


def test_a_second_book_runs_reloads_everything(trained_copy):
    copy, env, _ = trained_copy
    completed = subprocess.run([sys.executable, "-m", "cifar_mlp.book_runs"], cwd=copy, env=env,
                               capture_output=True, text=True, timeout=900, check=True)
    assert "training " not in completed.stdout
    assert "computing the " not in completed.stdout


@pytest.fixture(scope="module")
def rendered(trained_copy):
    """The build's order after book_runs: the summary pages first (Sphinx reads book/
    before notebooks/), then the chapters that train; name -> executed notebook."""
    copy, env, _ = trained_copy
    pages = {}
    for name in SUMMARY_PAGES:
        page = read_myst_markdown_notebook((copy / "book" / name).read_text())  # as myst-nb reads it
        pages[name] = execute_in_kernel(page, copy / "book", env, timeout=900)
    for name in TRAINING_CHAPTERS:
        notebook = nbformat.read(copy / "notebooks" / name, as_version=4)
        notebook.cells = [cell for cell in notebook.cells
                          if "exercise" not in cell.metadata.get("tags", [])]
        pages[name] = execute_in_kernel(notebook, copy / "notebooks", env, timeout=900)
    return pages


def outputs(notebook, kind: str) -> list:
    """Every output of ``kind`` ("text" for printed lines, or a MIME type) in order."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            value = output.get("text") if kind == "text" else output.get("data", {}).get(kind)
            if value:
                found.append(value)
    return found


@pytest.mark.parametrize("name", TRAINING_CHAPTERS)
def test_after_book_runs_the_chapters_train_nothing(rendered, name):
    printed = "\n".join(outputs(rendered[name], "text"))
    assert re.findall(r"^training \S+ \((?:numpy|keras)\)", printed, re.MULTILINE) == []


def test_the_summary_pages_show_the_chapters_numbers(rendered):
    """After a build that retrained, the landing and results pages, rendered before the
    chapters, show the same tables as the chapters (they used to show the previous run's)."""
    landing = outputs(rendered["intro.md"], "text/markdown")
    summary = outputs(rendered["results.md"], "text/markdown")
    chapter3 = outputs(rendered["03_train_eval.ipynb"], "text/markdown")
    chapter4 = outputs(rendered["04_keras_benchmark.ipynb"], "text/markdown")
    headline = [table for table in landing if table.startswith("| model | test accuracy |")]
    assert len(headline) == 1 and "%" in headline[0]
    assert headline[0] in summary
    for chapter, header in ((chapter3, "| model | validation accuracy, mean of"),
                            (chapter4, "| model | test accuracy, NumPy / Keras |")):
        tables = [table for table in chapter if table.startswith(header)]
        assert tables, f"no table starting {header!r} in the chapter"
        assert all(table in summary for table in tables), (tables, summary)

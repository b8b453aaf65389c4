"""`make book` on a fresh clone with no full data and no network, as a student's first
run goes: `cifar_mlp.book_runs` falls back to the committed sample (loudly), trains every
model once, and the chapters, executed after it, only reload; every page says it shows
the sample, and nothing committed changes.

A model a chapter trains that book_runs does not would be trained silently inside
jupyter-book, after the summary pages were rendered with older numbers. One build serves
every test here: the chapters are executed once (each execution takes minutes)."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from myst_nb.core.read import read_myst_markdown_notebook

from cifar_mlp.book_runs import book_runs
from cifar_mlp.profiles import FALLBACK_WARNING
from kernels import execute_in_kernel

REPO = Path(__file__).resolve().parent.parent
CHAPTERS = sorted(path.name for path in (REPO / "notebooks").glob("*.ipynb"))
TRAINING_CHAPTERS = ("03_train_eval.ipynb", "04_keras_benchmark.ipynb")
SUMMARY_PAGES = ("intro.md", "results.md")
CLOSED_PORT = "http://127.0.0.1:9"  # the discard port: nothing listens, a connection fails at once


def tracked_files() -> list[str]:
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                             check=True).stdout.decode()
    return [name for name in listing.split("\0") if name and (REPO / name).is_file()]


def digests(folder: Path) -> dict:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def trained_clone(tmp_path_factory):
    """The files git tracks, as they are now, in a new folder (no data cache, no weights),
    after `python -m cifar_mlp.book_runs` in the default profile, offline: the clone,
    the environment it ran in, the run, and the digests of results/ and notebooks/ before."""
    clone = tmp_path_factory.mktemp("clone")
    for name in tracked_files():
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, clone / name)
    before = {"results": digests(clone / "results"), "notebooks": digests(clone / "notebooks")}
    env = {key: value for key, value in os.environ.items()
           if key not in ("CIFAR10_DIR", "CIFAR_MLP_PROFILE", "CIFAR_MLP_REQUIRE_FULL")}
    env.update(HTTP_PROXY=CLOSED_PORT, HTTPS_PROXY=CLOSED_PORT, http_proxy=CLOSED_PORT,
               https_proxy=CLOSED_PORT, NO_PROXY="", no_proxy="", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=str(clone))
    completed = subprocess.run([sys.executable, "-m", "cifar_mlp.book_runs"], cwd=clone, env=env,
                               capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return clone, env, completed, before


def test_book_runs_says_it_fell_back_to_the_sample(trained_clone):
    _, _, completed, _ = trained_clone
    assert FALLBACK_WARNING in completed.stderr
    assert "sample data" in completed.stdout


def test_book_runs_trains_every_model_once_and_says_which(trained_clone):
    _, _, completed, _ = trained_clone
    runs = book_runs()
    names = [model.name for model in runs]  # the results files' stems: each model told apart
    assert completed.stdout.count("training ") == len(runs)  # the baselines computed too
    for number, name in enumerate(names, 1):
        assert f"[{number}/{len(runs)}] {name} (" in completed.stdout


def test_a_second_book_runs_reloads_everything(trained_clone):
    clone, env, _, _ = trained_clone
    completed = subprocess.run([sys.executable, "-m", "cifar_mlp.book_runs"], cwd=clone, env=env,
                               capture_output=True, text=True, timeout=900, check=True)
    assert "training " not in completed.stdout
    assert "computing the " not in completed.stdout


@pytest.fixture(scope="module")
def rendered(trained_clone):
    """The build's order after book_runs: the summary pages first (Sphinx reads book/
    before notebooks/), then every chapter, all of its cells; name -> executed page."""
    clone, env, _, _ = trained_clone
    pages = {}
    for name in SUMMARY_PAGES:
        page = read_myst_markdown_notebook((clone / "book" / name).read_text())  # as myst-nb reads it
        pages[name] = execute_in_kernel(page, clone / "book", env, timeout=900)
    for name in CHAPTERS:
        notebook = nbformat.read(clone / "notebooks" / name, as_version=4)
        pages[name] = execute_in_kernel(notebook, clone / "notebooks", env, timeout=900)
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


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_chapter_says_it_shows_the_sample(rendered, name):
    assert any("Not the full data set" in html for html in outputs(rendered[name], "text/html"))
    assert "THE FULL CIFAR-10 WAS NOT FOUND" in "\n".join(outputs(rendered[name], "text"))


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


def test_the_offline_build_changes_no_committed_file(rendered, trained_clone):
    clone, _, _, before = trained_clone
    published = {name: digest for name, digest in digests(clone / "results").items()
                 if "/" not in name}  # results/*.json; runs on the sample write results/full-sample/
    assert published == before["results"]
    assert (clone / "results" / "full-sample" / "best.json").is_file()
    assert digests(clone / "notebooks") == before["notebooks"]
    assert (clone / "weights" / "sample").is_dir()  # it trained, on the sample
    assert not (clone / "weights" / "full").exists()

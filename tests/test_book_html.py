"""Build the book from the committed notebooks' stored outputs and check the HTML.

The notebooks are not re-executed here (nbval does that, in the smoke profile);
the book's own pages (landing, reproduce) are. What is checked is what a reader
sees: every page is there, with its figures and glued numbers, and no error.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
CHAPTERS = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))


def build_book(out: Path, **config_changes) -> tuple[Path, str]:
    """The book built into ``out`` from the stored outputs, with ``_config.yml`` changed
    by ``config_changes`` (top-level sections updated): (html folder, build log)."""
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    config["execute"]["exclude_patterns"] = [*config["execute"]["exclude_patterns"], "notebooks/*"]
    extensions = config["sphinx"]["local_extensions"]  # paths relative to _config.yml's folder
    config["sphinx"]["local_extensions"] = {name: str(REPO / path) for name, path in extensions.items()}
    for section, values in config_changes.items():
        config[section] = {**config.get(section, {}), **values}
    config_path = out / "_config.yml"
    config_path.write_text(yaml.safe_dump(config))
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    build = subprocess.run(
        [str(jupyter_book), "build", str(REPO), "--config", str(config_path),
         "--path-output", str(out), "--keep-going"],
        capture_output=True, text=True, timeout=600)
    log = build.stdout + build.stderr
    assert build.returncode == 0, log[-3000:]
    return out / "_build" / "html", log


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    return build_book(tmp_path_factory.mktemp("book"))


def page(html_dir, name):
    path = html_dir / f"{name}.html"
    assert path.is_file(), f"{path} was not built"
    return path.read_text()


def words(html: str) -> str:
    """A page's text without its tags (a computed number sits in a span of its own)."""
    return re.sub(r"<[^>]+>", "", html)


def test_build_has_no_warnings_about_glue_references_or_computed_numbers(book):
    _, log = book
    problems = [line for line in log.splitlines()
                if "WARNING" in line and ("glue" in line or "reference" in line or "citation" in line
                    or "bibtex" in line or "eval" in line)]
    assert problems == []


def test_landing_page_shows_the_results_table(book):
    html_dir, _ = book
    landing = page(html_dir, "book/intro")
    assert "test accuracy of its Keras twin" in landing
    assert re.search(r"<td><p>\d+\.\d%</p></td>", landing), "no accuracy in the results table"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_has_figures_and_no_errors(book, chapter):
    html_dir, _ = book
    html = page(html_dir, f"notebooks/{chapter}")
    assert html.count("<img") >= 3, "a chapter page lost its figures"
    # myst-nb renders an error output as a traceback block highlighted with ipythontb.
    assert "highlight-ipythontb" not in html and "output traceback" not in html
    assert "cell_output" in html, "no executed outputs on the page"
    assert "Smoke run" not in html and "Not the full data set" not in html


def test_computed_numbers_reach_the_prose(book):
    html_dir, _ = book
    data_chapter = words(page(html_dir, "notebooks/01_data"))
    assert re.search(r"So we have\s+50,000\s+training images", data_chapter)


def test_reproduce_page_lists_the_notebooks(book):
    html_dir, _ = book
    reproduce = page(html_dir, "book/reproduce")
    for chapter in CHAPTERS:
        assert chapter in reproduce


def test_every_notebook_is_a_chapter_in_the_table_of_contents():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [entry["file"] for entry in toc["chapters"]]
    assert [f for f in files if f.startswith("notebooks/")] == [f"notebooks/{c}" for c in CHAPTERS]


def test_no_page_shows_role_syntax_a_placeholder_or_the_code_of_its_prose(book):
    html_dir, _ = book
    for path in [*html_dir.glob("book/*.html"), *html_dir.glob("notebooks/*.html")]:
        html = path.read_text()
        for raw in ("{glue", "{eval", "{{", "prose(r", "numbers("):
            assert raw not in html, f"{path.name} shows {raw!r}"


def test_keras_chapter_states_its_parity_and_accuracy_numbers(book):
    html_dir, _ = book
    chapter = words(page(html_dir, "notebooks/04_keras_benchmark"))
    assert re.search(r"gradients agree to\s+a\s+relative\s+difference\s+of\s+\d(\.\d+)?e-\d+", chapter)
    assert re.search(r"within\s+\d+\.\d\s+points", chapter)


def test_results_page_shows_every_table_and_the_comparison_figure(book):
    html_dir, _ = book
    results = page(html_dir, "book/results")
    for header in ("test accuracy, NumPy", "difference (points)", "validation accuracy",
                   "matrix-product peak"):
        assert header in results, header
    assert "<img" in results
    assert "output traceback" not in results


def test_math_is_rendered_by_a_mathjax_shipped_with_the_book(book):
    """Formulas must render offline: MathJax comes from _static/, not from a CDN."""
    html_dir, _ = book
    chapter = page(html_dir, "notebooks/02_mlp_math")
    assert "_static/mathjax/tex-chtml.js" in chapter
    assert "cdn.jsdelivr.net/npm/mathjax" not in chapter
    assert (html_dir / "_static" / "mathjax" / "tex-chtml.js").is_file()


def test_no_launch_or_repository_link_without_a_repository(book):
    """_config.yml names no repository, so no page may link to one, to Binder or to Colab."""
    html_dir, _ = book
    assert yaml.safe_load((REPO / "_config.yml").read_text())["repository"]["url"] == ""
    for path in html_dir.rglob("*.html"):
        html = path.read_text()
        for link in ("mybinder.org", "colab.research.google.com", "github.com/cifar-mlp",
                     "launch-buttons", "repository-button"):
            assert link not in html, f"{path.name} links to {link}"


def test_a_repository_url_brings_the_repository_and_launch_buttons(tmp_path):
    html_dir, _ = build_book(tmp_path, repository={"url": "https://github.com/someone/cifar-mlp"})
    chapter = page(html_dir, "notebooks/03_train_eval")
    assert "mybinder.org/v2/gh/someone/cifar-mlp/main" in chapter
    assert "colab.research.google.com/github/someone/cifar-mlp" in chapter
    assert 'href="https://github.com/someone/cifar-mlp"' in chapter


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_exercises_show_with_their_solutions_and_model_answers_folded(book, chapter):
    from cifar_mlp.teaching.checks import EXERCISES

    html_dir, _ = book
    html = page(html_dir, f"notebooks/{chapter}")
    exercises = [e for e in EXERCISES.values() if e.chapter == int(chapter[:2])]
    assert html.count("Exercise: ") >= len(exercises) >= 4
    # each solution's code is folded in a dropdown (its cell's hide-input), the check after
    # it; the chapter's bookkeeping cells are folded too
    folded = [part.split("</details>")[0] for part in html.split("tag_hide-input")[1:]]
    assert sum("BEGIN SOLUTION" in part for part in folded) == len(exercises)
    assert 2 <= html.count("<summary>Model answer and rubric</summary>") <= 4
    assert ":::{" not in html and "{exercise-start}" not in html


def test_the_teachers_page_lists_every_exercise(book):
    from html import unescape

    from cifar_mlp.teaching.checks import EXERCISES

    html_dir, _ = book
    teachers = unescape(page(html_dir, "book/teachers")).replace("\u2019", "'")
    for exercise in EXERCISES.values():
        assert exercise.title in teachers
    assert "scores.csv" in teachers and "YOUR CODE HERE" in teachers
    assert "bubblewrap" in teachers and "container" in teachers
    assert teachers.count("Model answer and rubric") >= 8  # every chapter's questions, folded
    assert "Session 6" in teachers


def test_a_page_whose_code_fails_fails_the_build(tmp_path):
    """A cell that raises must stop `make book`, not leave a warning in a long log and a
    page without its numbers (jupyter-book 1 only warns by default, even with
    allow_errors false). Built with the book's own execution settings."""
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    project = tmp_path / "project"
    project.mkdir()
    (project / "_config.yml").write_text(yaml.safe_dump(
        {"title": "failing", "execute": config["execute"], "only_build_toc_files": True,
         "sphinx": {"config": config["sphinx"]["config"]}}))
    (project / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    (project / "page.md").write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
        "kernelspec:\n  name: python3\n  display_name: Python 3\n---\n\n# A page\n\n"
        "```{code-cell} ipython3\nraise RuntimeError('a chapter broke')\n```\n")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    build = subprocess.run([str(jupyter_book), "build", str(project), "--keep-going"],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode != 0, "a failing cell left the build green"
    assert "page" in build.stdout + build.stderr, "the failure does not name the page"


def test_the_speed_appendix_reads_its_numbers_from_the_bench_and_the_runs(book):
    html_dir, _ = book
    appendix = words(page(html_dir, "book/speed"))
    assert re.search(r"run at about\s+\d+\s+GFLOP/s", appendix)
    assert re.search(r"a\s+Keras\s+epoch\s+takes\s+\d\.\d\d\s+to\s+\d\.\d\d\s+times", appendix)
    assert "<img" in page(html_dir, "book/speed") and "output traceback" not in appendix

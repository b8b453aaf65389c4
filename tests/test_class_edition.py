"""The class edition (`make class-book`): the HTML book without the exercises' solutions
and the questions' model answers, everything else as the full book shows it.

Two editions are built the same way, at the same time, from the committed notebooks'
stored outputs (:func:`cifar_mlp.teaching.class_edition.build`, in a temporary folder
holding copies of the book's pages and chapters, so nothing in the work tree changes):
the class edition, and the teacher's (the chapters unchanged). Whatever the test looks
for in vain in the class edition, it finds in the teacher's, so it would notice a
solution that got through. Only the page *For teachers* is run (it lists the questions
with what the chapters hold); the landing, results and reproduce pages are not, as
they need the full data set and show nothing of the exercises.
"""

import html
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from cifar_mlp.teaching.class_edition import build, chapters, executed_chapters
from cifar_mlp.teaching.student import (ANSWER_TAG, BEGIN, END, chapter_exercises,
                                        exercise_revealed, imported_names, is_check,
                                        solution_cells)

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = chapters(REPO)
NOT_RUN = ["book/intro.md", "book/results.md", "book/reproduce.md"]


def read(path):
    return nbformat.read(path, as_version=4)


def spaced(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    """{"class": html folder, "teacher": html folder}, built side by side."""
    out = tmp_path_factory.mktemp("editions")
    jobs = {"class": {}, "teacher": {"transform": lambda notebook: notebook}}
    with ThreadPoolExecutor(len(jobs)) as pool:
        built = {name: pool.submit(build, REPO, out / name, NOTEBOOKS, not_executed=NOT_RUN,
                                   quiet=True, **options)
                 for name, options in jobs.items()}
        return {name: future.result() for name, future in built.items()}


def text_of(path: Path) -> str:
    """What a file of the built book holds: an HTML page's text (tags stripped, entities
    unescaped), a downloadable notebook's sources and outputs."""
    raw = path.read_text(errors="replace")
    if path.suffix == ".html":
        return html.unescape(re.sub(r"<[^>]+>", "", raw))
    if path.suffix == ".ipynb":
        notebook = nbformat.reads(raw, as_version=4)
        return "\n".join([c.source for c in notebook.cells]
                         + [json.dumps(c.get("outputs", []), ensure_ascii=False) for c in notebook.cells])
    return raw


def site(html_dir: Path) -> dict:
    """{path in the book: its text}, for every page, every source a reader can download and
    the search index (not the theme's and MathJax's files, in _static/)."""
    return {p.relative_to(html_dir).as_posix(): text_of(p) for p in sorted(html_dir.rglob("*"))
            if p.suffix in (".html", ".ipynb", ".md", ".txt", ".js")
            and p.relative_to(html_dir).parts[0] != "_static"}


@pytest.fixture(scope="module")
def texts(editions):
    return {name: site(folder) for name, folder in editions.items()}


def shown_elsewhere(notebook) -> str:
    """What a chapter shows besides its answers: every markdown cell but the model
    answers, and every code cell's source with its solution region cut out."""
    parts = []
    for cell in notebook.cells:
        if ANSWER_TAG in cell.metadata.get("tags", []):
            continue
        source = cell.source
        while BEGIN in source:
            head, _, rest = source.partition(BEGIN)
            source = head + rest.partition(END)[2]
        parts.append(source)
    return "\n".join(parts)


# A solution line that an exercise's own statement gives (``out = x @ w + b``), or that
# a cell of the book shows for another purpose, is not the solution's to hide.
ELSEWHERE = spaced("\n".join([*(shown_elsewhere(read(p)) for p in NOTEBOOKS),
                              *(p.read_text() for p in sorted((REPO / "book").glob("*.md")))]))


def solution_lines(notebook) -> list[str]:
    """Every line of every solution region (stripped) that is not trivial (8 characters
    or more) and not shown elsewhere in the book."""
    lines = []
    for cell in solution_cells(notebook):
        for region in cell.source.split(BEGIN)[1:]:
            lines += [line.strip() for line in region.partition(END)[0].splitlines()]
    return [line for line in lines if len(line) >= 8 and spaced(line) not in ELSEWHERE]


def revealed_lines(notebook) -> list[str]:
    """The lines of the package's code that the chapter shows for a function an exercise
    asks for (its ``show_source(...)`` outputs), as :func:`solution_lines` picks them."""
    names, exercises = imported_names(notebook), chapter_exercises(notebook)
    lines = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and exercise_revealed(cell, names, exercises):
            for output in cell.outputs:
                lines += [line.strip() for line in output.get("data", {}).get("text/plain", "").splitlines()]
    return [line for line in lines if len(line) >= 8 and spaced(line) not in ELSEWHERE]


RUN = re.compile(r"[A-Za-z0-9 ,;.]+")  # plain words: what survives Markdown's rendering as is


def prose_runs(source: str) -> list[str]:
    """The runs of plain words (30 characters and 5 words or more) of a Markdown text
    (a heading ends a run: the page adds its link sign)."""
    runs = [run.strip() for run in RUN.findall(spaced(re.sub(r"^(#.*)$", r"\1 |", source, flags=re.M)))]
    return [run for run in runs if len(run) >= 30 and len(run.split()) >= 5]


def model_answer_runs(notebook) -> list[str]:
    answers = [c.source for c in notebook.cells if ANSWER_TAG in c.metadata.get("tags", [])]
    return [run for a in answers for run in prose_runs(re.sub(r"<summary>.*?</summary>", " ", a))]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_solution_line_anywhere_in_the_class_edition(texts, path):
    notebook = read(path)
    lines = solution_lines(notebook)
    assert len(lines) >= len(solution_cells(notebook)) >= 4
    class_book = "\n".join(texts["class"].values())
    teacher_page = texts["teacher"][f"notebooks/{path.stem}.html"]
    assert [line for line in lines if line not in teacher_page] == [], "the test reads the pages wrongly"
    assert [line for line in lines if line in class_book] == []
    assert "BEGIN SOLUTION" not in class_book and "BEGIN SOLUTION" in teacher_page


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_answer_cell_is_the_students_stub(texts, path):
    page = texts["class"][f"notebooks/{path.stem}.html"]
    solutions = solution_cells(read(path))
    assert page.count("# YOUR CODE HERE") == page.count("raise NotImplementedError()") >= len(solutions)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_model_answer_anywhere_in_the_class_edition(texts, path):
    runs = model_answer_runs(read(path))
    assert len(runs) >= 4
    class_book = spaced("\n".join(texts["class"].values()))
    for page in (f"notebooks/{path.stem}.html", "book/teachers.html"):  # the chapter, the questions
        teacher_page = spaced(texts["teacher"][page])
        assert [run for run in runs if run not in teacher_page] == [], f"the test reads {page} wrongly"
    assert [run for run in runs if run in class_book] == []
    answers = [c for c in read(path).cells if ANSWER_TAG in c.metadata.get("tags", [])]
    chapter = texts["class"][f"notebooks/{path.stem}.html"].replace("\u2019", "'")
    assert chapter.count("The model answer and its rubric are in the teacher's edition") == len(answers)
    assert "Model answer and rubric" not in class_book
    assert "Model answer and rubric" in texts["teacher"][f"notebooks/{path.stem}.html"]


def test_no_package_code_that_answers_an_exercise_in_the_class_edition(texts):
    for path in NOTEBOOKS:
        lines = revealed_lines(read(path))
        class_page = texts["class"][f"notebooks/{path.stem}.html"]
        teacher_page = texts["teacher"][f"notebooks/{path.stem}.html"]
        assert [line for line in lines if line not in teacher_page] == []
        assert [line for line in lines if line in class_page] == []
    revealed = [line for name in ("02_mlp_math", "03_train_eval")
                for line in revealed_lines(read(REPO / "notebooks" / f"{name}.ipynb"))]
    assert len(revealed) >= 50  # every layer, the loop of one epoch and both optimizers
    for name, count in (("02_mlp_math", 4), ("03_train_eval", 5)):
        named = texts["class"][f"notebooks/{name}.html"].count("shows the package\u2019s code here")
        assert named == count, name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_check_result_in_the_class_edition(texts, path):
    results = [line.strip() for c in read(path).cells if is_check(c) for o in c.outputs
               for line in o.get("text", "").splitlines() if line.strip()]
    assert sum(r.startswith("✓") for r in results) >= 4
    class_page = texts["class"][f"notebooks/{path.stem}.html"]
    teacher_page = texts["teacher"][f"notebooks/{path.stem}.html"]
    assert [r for r in results if r not in teacher_page] == []
    assert [r for r in results if r in class_page] == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_rest_of_each_chapter_is_the_full_books(editions, texts, path):
    notebook = read(path)
    class_html = (editions["class"] / "notebooks" / f"{path.stem}.html").read_text()
    teacher_html = (editions["teacher"] / "notebooks" / f"{path.stem}.html").read_text()
    assert class_html.count("<img") == teacher_html.count("<img") >= 3, "a figure is missing"
    assert "output traceback" not in class_html and "highlight-ipythontb" not in class_html
    page = spaced(texts["class"][f"notebooks/{path.stem}.html"])
    title = next(line for c in notebook.cells if c.cell_type == "markdown"
                 for line in c.source.splitlines() if line.startswith("# "))
    assert f"{title[2:]}#" in page.replace("\u2019", "'")
    prose = [run for c in notebook.cells if c.cell_type == "markdown"
             and ANSWER_TAG not in c.metadata.get("tags", []) for run in prose_runs(c.source)]
    assert len(prose) > 50 and [run for run in prose if run not in page] == []
    outputs = [spaced(line.strip()) for c in notebook.cells
               if c.cell_type == "code" and not is_check(c) for o in c.outputs
               for line in o.get("text", "").splitlines() if len(line.strip()) >= 8]
    assert [line for line in outputs if line not in page] == []


def test_the_teachers_page_lists_the_questions_without_their_answers(texts):
    from cifar_mlp.teaching.checks import EXERCISES

    teachers = texts["class"]["book/teachers.html"].replace("\u2019", "'")
    for exercise in EXERCISES.values():
        assert exercise.title in teachers
    questions = sum(ANSWER_TAG in c.metadata.get("tags", []) for p in NOTEBOOKS for c in read(p).cells)
    assert teachers.count("The model answer and its rubric are in the teacher's edition") == questions
    assert "Session 6" in teachers


# -- which notebooks the class edition is made from ----------------------------------

def chapter(path: Path, executed: bool, mtime: float):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    if executed:
        notebook.cells[0].outputs = [nbformat.v4.new_output(
            "execute_result", data={"text/plain": "2"}, execution_count=1)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    os.utime(path, (mtime, mtime))


def test_the_source_is_make_books_run_only_when_it_is_as_new_as_the_notebooks(tmp_path):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n"
                                       "chapters:\n  - file: notebooks/01_a\n  - file: book/results\n")
    committed = tmp_path / "notebooks" / "01_a.ipynb"
    built = tmp_path / "_build" / "jupyter_execute" / "notebooks" / "01_a.ipynb"
    chapter(committed, executed=True, mtime=1000)
    assert executed_chapters(tmp_path)[0] == [committed]  # no make book run
    chapter(built, executed=True, mtime=2000)
    (source,), said = executed_chapters(tmp_path)
    assert source == built and "make book" in said
    chapter(committed, executed=True, mtime=3000)  # edited since
    (source,), said = executed_chapters(tmp_path)
    assert source == committed and "committed" in said and "older" in said
    chapter(committed, executed=False, mtime=3000)
    with pytest.raises(SystemExit, match="No executed chapter notebooks"):
        executed_chapters(tmp_path)
    chapter(built, executed=True, mtime=4000)  # make book ran on the unexecuted notebook
    assert executed_chapters(tmp_path)[0] == [built]

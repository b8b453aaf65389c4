"""The student edition: the chapter notebooks without the answers.

    python -m cifar_mlp.teaching.student                    # make student: student/*.ipynb
    python -m cifar_mlp.teaching.student --exercises-only   # only each chapter's Exercises section

Made from the same notebooks the book is built from, never from a copy kept by hand:

* in each answer cell the region between ``### BEGIN SOLUTION`` and ``### END
  SOLUTION`` becomes ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` (nbgrader's
  ClearSolutions preprocessor, run without a course or database), and the cell is
  unfolded;
* a cell that shows the package's code of a function an exercise of the chapter asks
  for (``show_source(...)``) becomes a line naming the exercise;
* a question's model answer becomes a place for the student's own;
* every output and execution count is cleared; the prose keeps the numbers of the
  book's run (its Markdown cells' ``user_expressions``, which JupyterLab shows until the
  student's own run replaces them), and a note at the top says so.

The class edition of the HTML book (``make class-book``,
:mod:`cifar_mlp.teaching.class_edition`) leaves out the same things by the same code
(:func:`edition_notebook`, with :data:`CLASS` instead of :data:`STUDENT`), but keeps
every other output of the book's run.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..provenance import STAMP_KEY
from .checks import EXERCISES

EXERCISE_TAG = "exercise"  # every cell of a chapter's Exercises section carries it
ANSWER_TAG = "answer"  # a question's model answer
STUDENT_TAG = "student-edition"  # cells the student edition writes
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB_LINE = "raise NotImplementedError()"

NOTE = """\
**Student edition.** Write your code where a cell says `# YOUR CODE HERE` (delete the
`raise NotImplementedError()` line under it), then run the check under the exercise:
it prints a line starting with ✓ when your code is right, and otherwise says what is
wrong. Only the code of those answer cells is graded."""
YOUR_ANSWER = "**Your answer:** *(write it here, in a few sentences)*"


@dataclass(frozen=True)
class Edition:
    """An edition of the chapters without the answers: what it writes in their place.
    Both editions leave out the same cells (:func:`edition_cell`)."""

    tag: str  # every cell the edition writes carries it
    revealed: str  # replaces a cell showing the code an exercise asks for ({title}: its title)
    answer: str  # replaces a question's model answer
    keeps_outputs: bool  # False: every output cleared (the prose keeps the book's run's numbers)


# The notebooks students work in (make student): nothing of the book's run but its prose's numbers.
STUDENT = Edition(
    tag=STUDENT_TAG,
    revealed=("*The book shows the package's code here: it is what the exercise **{title}** at "
              "the end of this chapter asks you to write. Write it there first; the book has it.*"),
    answer=YOUR_ANSWER,
    keeps_outputs=False)

# The HTML book for a course whose exercises count (make class-book): the book's run as
# the full book shows it, but for the answer cells and their checks' results.
CLASS = Edition(
    tag="class-edition",
    revealed=("*The teacher's edition of the book shows the package's code here: it is what "
              "the exercise **{title}** at the end of this chapter asks you to write.*"),
    answer="*The model answer and its rubric are in the teacher's edition of the book.*",
    keeps_outputs=True)


def book_run_mark(notebook) -> str:
    """The sentence that says whose run the numbers of the prose come from, until the
    student runs the chapter."""
    stamp = notebook.metadata.get(STAMP_KEY, {})
    run = f" ({stamp['data']} data, {stamp['executed']})" if {"data", "executed"} <= stamp.keys() else ""
    return (f"The numbers in the text are those of the book's run{run} until you run the "
            "chapter's cells (*Run All Cells*): then they are your run's.")


def imported_names(notebook) -> dict:
    """{name: dotted path} for every ``import`` and ``from ... import`` of the notebook."""
    names = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
            elif isinstance(node, ast.Import):
                names.update({a.asname or a.name: a.name for a in node.names})
    return names


def shown_sources(source: str, names: dict) -> list[str]:
    """The dotted paths of what a cell's ``show_source(...)`` calls show."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    shown = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "show_source":
            for argument in node.args:
                dotted = ast.unparse(argument)
                head, _, rest = dotted.partition(".")
                shown.append(".".join(filter(None, [names.get(head, head), rest])))
    return shown


def exercise_revealed(cell, names: dict, exercises) -> str | None:
    """The title of the exercise whose answer this cell shows, or None."""
    for path in shown_sources(cell.source, names):
        for e in exercises:
            if path in e.answers:
                return e.title
    return None


def chapter_exercises(notebook) -> list:
    """The exercises whose checks the notebook holds."""
    ids = {cell.metadata.get("nbgrader", {}).get("grade_id") for cell in notebook.cells}
    return [e for e in EXERCISES.values() if e.name in ids]


def clear_solutions(notebook):
    """nbgrader's ClearSolutions on ``notebook`` (in place): every solution region becomes
    the stub. Imported here, so that the rest of the package never needs nbgrader."""
    from nbgrader.preprocessors import ClearSolutions

    ClearSolutions().preprocess(notebook, {})
    return notebook


def is_solution(cell) -> bool:
    """An answer cell: nbgrader's ``solution`` metadata says so."""
    return bool(cell.metadata.get("nbgrader", {}).get("solution"))


def is_check(cell) -> bool:
    """An exercise's check cell (graded, not an answer): its output is the book's ✓."""
    return bool(cell.metadata.get("nbgrader", {}).get("grade")) and not is_solution(cell)


def edition_cell(cell, names: dict, exercises, edition: Edition):
    """The ``edition`` of one cell (changed in place, or a new cell)."""
    tags = cell.metadata.get("tags", [])
    title = exercise_revealed(cell, names, exercises) if cell.cell_type == "code" else None
    if title:
        new = nbformat.v4.new_markdown_cell(edition.revealed.format(title=title))
    elif ANSWER_TAG in tags:
        new = nbformat.v4.new_markdown_cell(edition.answer)
    else:
        if is_solution(cell):
            cell.metadata.pop("jupyter", None)  # unfolded: the student writes here
            cell.metadata["tags"] = [t for t in tags if t != "hide-input"]
        if cell.cell_type == "code":
            if not edition.keeps_outputs:
                cell.execution_count = None
                cell.outputs = []
            elif is_solution(cell) or is_check(cell):
                cell.outputs = []
        return cell
    new.id = cell.id
    new.metadata["tags"] = [*tags, edition.tag]
    return new


def edition_notebook(notebook, edition: Edition, exercises_only: bool = False):
    """The ``edition`` of one chapter notebook (a new notebook; the input is not changed):
    every solution region replaced by the stub, the cells that show an exercise's answer
    and the model answers replaced by the edition's lines."""
    notebook = nbformat.from_dict(notebook)  # a deep copy
    names, exercises = imported_names(notebook), chapter_exercises(notebook)
    notebook.cells = [edition_cell(c, names, exercises, edition) for c in notebook.cells
                      if not exercises_only or EXERCISE_TAG in c.metadata.get("tags", [])]
    clear_solutions(notebook)
    leftover = [c.source for c in notebook.cells if BEGIN in c.source or END in c.source]
    if leftover:
        raise RuntimeError(f"a solution survived in the {edition.tag.replace('-', ' ')}: "
                           f"{leftover[0][:200]}")
    return notebook


def student_notebook(notebook, exercises_only: bool = False):
    """The student edition of one chapter notebook (a new notebook; the input is not changed)."""
    mark = book_run_mark(notebook)
    notebook = edition_notebook(notebook, STUDENT, exercises_only)
    note = nbformat.v4.new_markdown_cell(
        NOTE + ("" if exercises_only else " The exercises are in the section *Exercises* at the end. "
                + mark))
    note.id = "student-edition-note"
    note.metadata["tags"] = [STUDENT_TAG]
    notebook.cells = [note, *notebook.cells]
    notebook.metadata.pop(STAMP_KEY, None)
    return notebook


def class_notebook(notebook):
    """The class edition of one chapter notebook (a new notebook; the input is not changed):
    as the book shows it, without the answers and the checks' results."""
    return edition_notebook(notebook, CLASS)


def solution_cells(notebook) -> list:
    """The cells nbgrader treats as solutions (their metadata says so)."""
    return [c for c in notebook.cells if is_solution(c)]


def write_student_edition(notebooks, out: Path, exercises_only: bool = False) -> list[Path]:
    """Write the student edition of each notebook into ``out``; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in map(Path, notebooks):
        notebook = student_notebook(nbformat.read(path, as_version=4), exercises_only)
        if not solution_cells(notebook):
            continue  # a notebook without exercises has no student edition
        target = out / path.name
        nbformat.write(notebook, target)
        written.append(target)
    return written


def main(argv=None) -> int:
    from ..profiles import project_root

    parser = argparse.ArgumentParser(prog="python -m cifar_mlp.teaching.student",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="chapter notebooks (default: notebooks/*.ipynb)")
    parser.add_argument("--out", type=Path, default=Path("student"),
                        help="the folder to write into (default: student)")
    parser.add_argument("--exercises-only", action="store_true",
                        help="keep only each chapter's Exercises section (self-contained, "
                             "runs in seconds)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((project_root() / "notebooks").glob("*.ipynb"))
    written = write_student_edition(notebooks, args.out, args.exercises_only)
    for path in written:
        notebook = nbformat.read(path, as_version=4)
        print(f"{path}: {len(solution_cells(notebook))} exercises to solve")
    return 0


if __name__ == "__main__":
    sys.exit(main())

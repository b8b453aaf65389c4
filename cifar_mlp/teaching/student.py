"""The student edition: the chapter notebooks with every solution replaced by a stub.

    python -m cifar_mlp.student                    # make student: student/*.ipynb
    python -m cifar_mlp.student --exercises-only   # only each chapter's Exercises section

Made from the same notebooks the book is built from, never from a copy kept by hand.
In each solution cell the region between ``### BEGIN SOLUTION`` and ``### END
SOLUTION`` becomes ``# YOUR CODE HERE`` / ``raise NotImplementedError()``: that is
nbgrader's ClearSolutions preprocessor, run through nbconvert's preprocessor interface
(no nbgrader course or database is needed). The book's exercise and solution markup
(sphinx-exercise's gated directives, which JupyterLab would show as raw text) becomes a
plain heading, outputs and execution counts are cleared, and the provenance stamp of
the full-data run is dropped: a student notebook has run nowhere yet.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor

from ..provenance import STAMP_KEY

EXERCISE_TAG = "exercise"  # every cell of a chapter's Exercises section carries it
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB_LINE = "raise NotImplementedError()"

# A gated directive of sphinx-exercise as the chapters write it: an opening fence with
# the directive's name and argument, option lines, a closing fence.
GATE = re.compile(r"^:::\{(?P<name>exercise-start|exercise-end|solution-start|solution-end)\}"
                  r"(?P<argument>[^\n]*)\n(?::[\w-]+:[^\n]*\n)*:::[ \t]*$", re.MULTILINE)

NOTE = """\
**Student edition.** Write your code where a cell says `# YOUR CODE HERE` (delete the
`raise NotImplementedError()` line under it), then run the check under the exercise:
it prints a line starting with ✓ when your code is right, and otherwise says what is
wrong."""


def plain_markdown(source: str) -> str:
    """A markdown cell's text with the exercise markup turned into plain Markdown: an
    exercise's opening becomes a heading with its title, the other fences disappear."""
    def replace(match):
        if match["name"] == "exercise-start":
            return f"### Exercise: {match['argument'].strip()}".rstrip(": ")
        return ""
    return re.sub(r"\n{3,}", "\n\n", GATE.sub(replace, source)).strip()


def clear_solutions(notebook):
    """nbgrader's ClearSolutions on ``notebook`` (in place): every solution region becomes
    the stub. Imported here, so that the rest of the package never needs nbgrader."""
    from nbgrader.preprocessors import ClearSolutions

    ClearSolutions().preprocess(notebook, {})
    return notebook


def student_notebook(notebook, exercises_only: bool = False):
    """The student edition of one chapter notebook (a new notebook; the input is not changed)."""
    notebook = nbformat.from_dict(notebook)  # a deep copy
    cells = []
    for cell in notebook.cells:
        is_exercise = EXERCISE_TAG in cell.metadata.get("tags", [])
        if exercises_only and not is_exercise:
            continue
        if cell.cell_type == "markdown" and is_exercise:
            cell.source = plain_markdown(cell.source)
            if not cell.source:
                continue  # a cell that only closed a solution
        cells.append(cell)
    note = nbformat.v4.new_markdown_cell(
        NOTE + ("" if exercises_only else " The exercises are in the section *Exercises* at the end."))
    note.id = "student-edition-note"
    note.metadata["tags"] = ["student-edition"]
    notebook.cells = [note, *cells]
    clear_solutions(notebook)
    ClearOutputPreprocessor().preprocess(notebook, {})
    notebook.metadata.pop(STAMP_KEY, None)
    leftover = [c.source for c in notebook.cells if BEGIN in c.source or END in c.source]
    if leftover:
        raise RuntimeError(f"a solution survived in the student edition: {leftover[0][:200]}")
    return notebook


def solution_cells(notebook) -> list:
    """The cells nbgrader treats as solutions (their metadata says so)."""
    return [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution")]


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
    from .profiles import project_root

    parser = argparse.ArgumentParser(prog="python -m cifar_mlp.student", description=__doc__,
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

"""Grade a folder of submitted notebooks with the exercises' checks (make grade).

    python -m cifar_mlp.grade submissions/            # prints the table, writes scores.csv
    python -m cifar_mlp.grade submissions/ --out marks.csv

Every ``*.ipynb`` under the folder is a submission (``alice/02_mlp_math.ipynb`` or
``alice_02.ipynb``: the path names it). For each, the grader runs the cells of the
chapter's Exercises section (from its first cell, tagged ``exercise``, to the end of
the notebook, so cells a student added there run too; the section is self-contained,
so the chapter's training cells are not run), in a fresh kernel, in the smoke profile,
offline. Before that, every check cell (nbgrader metadata ``grade: true``, with
``grade_id`` the check's name) gets back the source of the teacher's copy in
``notebooks/``, so an edited check cannot pass. A check that runs without an error
earns its points (:data:`cifar_mlp.exercises.EXERCISES`); a failing one earns 0 and
its message is recorded. A check cell missing from a submission earns 0.

Out: a table on the terminal, ``scores.csv`` (one row per submission: points per
exercise, total, maximum) and ``scores-details.csv`` (one row per submission and
exercise, with the check's message).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .exercises import EXERCISES
from .student import EXERCISE_TAG

CELL_TIMEOUT = 120  # seconds per cell: a check takes about one; a student's loop may hang


@dataclass
class Result:
    """One exercise of one submission: points earned and the check's message."""

    exercise: str
    points: int
    out_of: int
    message: str


@dataclass
class Graded:
    submission: str
    chapter: str
    results: list = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(r.points for r in self.results)

    @property
    def out_of(self) -> int:
        return sum(r.out_of for r in self.results)


def grade_id(cell) -> str | None:
    """The check a cell runs (its nbgrader grade_id), or None for any other cell."""
    meta = cell.metadata.get("nbgrader", {})
    return meta.get("grade_id") if meta.get("grade") else None


def teacher_checks(notebooks_dir: Path) -> dict:
    """For each chapter notebook, {grade_id: check cell source}, read from the teacher's copy."""
    checks = {}
    for path in sorted(notebooks_dir.glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        found = {grade_id(c): c.source for c in cells if grade_id(c) in EXERCISES}
        if found:
            checks[path.stem] = found
    return checks


def chapter_of(notebook, checks: dict) -> str | None:
    """The chapter whose checks the submission holds most of (None when it holds none)."""
    ids = {grade_id(c) for c in notebook.cells}
    best = max(checks, key=lambda chapter: len(ids & set(checks[chapter])), default=None)
    return best if best is not None and ids & set(checks[best]) else None


def error_message(cell) -> str | None:
    """The error a cell ended with (its exception's message), or None when it ran cleanly."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            name, value = output.get("ename", ""), output.get("evalue", "")
            return value if name in ("CheckFailed", "AssertionError") else f"{name}: {value}"
    return None


def run_exercise_cells(notebook, workdir: Path, timeout: int = CELL_TIMEOUT):
    """Execute the Exercises section of ``notebook`` (a copy), errors allowed; return it."""
    section = nbformat.from_dict(notebook)
    tagged = [i for i, c in enumerate(section.cells) if EXERCISE_TAG in c.metadata.get("tags", [])]
    # From the section's first cell to the end: cells a student added there (untagged) run too.
    section.cells = [c for c in section.cells[tagged[0] if tagged else len(section.cells):]
                     if c.cell_type == "code"]
    for cell in section.cells:
        cell.outputs, cell.execution_count = [], None
    env = {**os.environ, "CIFAR_MLP_PROFILE": "smoke", "TF_CPP_MIN_LOG_LEVEL": "2"}
    return execute_in_kernel(section, workdir, env, timeout, allow_errors=True)


def execute_in_kernel(notebook, workdir: Path, env: dict, timeout: int, allow_errors: bool = False):
    """Execute every cell of ``notebook`` in place, in a kernel started in ``workdir`` with
    exactly the environment ``env``; return the notebook. Without ``allow_errors`` the
    first failing cell raises nbclient's CellExecutionError."""
    from nbclient import NotebookClient

    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            allow_errors=allow_errors, resources={"metadata": {"path": str(workdir)}})
    client.km = client.create_kernel_manager()
    client.start_new_kernel(env=env)
    try:
        client.start_new_kernel_client()
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
    finally:
        client._cleanup_kernel()
    return notebook


def grade_notebook(path: Path, name: str, checks: dict, workdir: Path) -> Graded:
    notebook = nbformat.read(path, as_version=4)
    chapter = chapter_of(notebook, checks)
    if chapter is None:
        return Graded(name, "?", [Result("(no exercises found)", 0, 0,
                                         "no check cell of any chapter in this notebook")])
    expected = checks[chapter]
    for cell in notebook.cells:
        if grade_id(cell) in expected:
            cell.source = expected[grade_id(cell)]  # the teacher's check, whatever was submitted
    executed = run_exercise_cells(notebook, workdir)
    ran = {grade_id(c): c for c in executed.cells if grade_id(c) in expected}
    results = []
    for exercise in expected:
        out_of = EXERCISES[exercise].points
        if exercise not in ran:
            results.append(Result(exercise, 0, out_of, "the check cell is missing"))
            continue
        message = error_message(ran[exercise])
        if message is None and ran[exercise].execution_count is None:
            message = "the check did not run"
        results.append(Result(exercise, 0 if message else out_of, out_of, message or "passed"))
    return Graded(name, chapter, results)


def submissions(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def grade_folder(folder: Path, notebooks_dir: Path, progress=print) -> list[Graded]:
    checks = teacher_checks(notebooks_dir)
    graded = []
    for path in submissions(folder):
        name = str(path.relative_to(folder).with_suffix(""))
        progress(f"grading {name} ...")
        graded.append(grade_notebook(path, name, checks, notebooks_dir))
    return graded


def write_csv(graded: list[Graded], out: Path) -> Path:
    """``out`` (points per exercise, total, maximum) and ``<out>-details.csv`` (messages)."""
    names = [e for e in EXERCISES if any(r.exercise == e for g in graded for r in g.results)]
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "chapter", *names, "total", "out_of"])
        for g in graded:
            earned = {r.exercise: r.points for r in g.results}
            writer.writerow([g.submission, g.chapter, *(earned.get(n, "") for n in names),
                             g.total, g.out_of])
    details = out.with_name(f"{out.stem}-details.csv")
    with details.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "chapter", "exercise", "points", "out_of", "message"])
        for g in graded:
            for r in g.results:
                writer.writerow([g.submission, g.chapter, r.exercise, r.points, r.out_of,
                                 r.message])
    return details


def table(graded: list[Graded]) -> str:
    """The scores as a plain-text table, with each failed check's message under its row."""
    width = max([len("submission"), *(len(g.submission) for g in graded)])
    lines = [f"{'submission':<{width}}  {'chapter':<20} {'score':>9}"]
    for g in graded:
        lines.append(f"{g.submission:<{width}}  {g.chapter:<20} {g.total:>4} / {g.out_of:<3}")
        for r in g.results:
            if r.points < r.out_of:
                first_line = r.message.splitlines()[0] if r.message else ""
                lines.append(f"{'':<{width}}    {r.exercise}: {first_line[:150]}")
    return "\n".join(lines)


def main(argv=None) -> int:
    from .profiles import project_root

    parser = argparse.ArgumentParser(prog="python -m cifar_mlp.grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="the folder of submitted notebooks")
    parser.add_argument("--out", type=Path, default=Path("scores.csv"),
                        help="the score table to write (default: scores.csv)")
    parser.add_argument("--notebooks", type=Path, default=None,
                        help="the teacher's chapter notebooks (default: the repository's notebooks/)")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    graded = grade_folder(args.folder, args.notebooks or project_root() / "notebooks")
    if not graded:
        print(f"no notebooks found under {args.folder}")
        return 1
    details = write_csv(graded, args.out)
    print(table(graded))
    print(f"\nwritten: {args.out} and {details}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

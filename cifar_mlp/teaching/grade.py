"""Grade a folder of submitted notebooks with the exercises' checks (make grade).

    python -m cifar_mlp.teaching.grade submissions/            # the table, scores.csv
    python -m cifar_mlp.teaching.grade submissions/ --out marks.csv

Every ``*.ipynb`` under the folder is a submission (``alice/02_mlp_math.ipynb`` or
``alice_02.ipynb``: the path names it). The grader judges the student's functions,
not the student's notebook: from each submission it takes only the answer cells (the
cells with nbgrader's ``solution`` metadata in the Exercises section, matched to the
teacher's by their ``grade_id``), and runs them in a fresh interpreter, in a sandbox
(:mod:`.sandbox`), with the set-up code of the teacher's copy in ``notebooks/``; the
teacher's checks then judge the functions defined there (:mod:`.runner`). Nothing
else of the notebook runs: an edited or redefined check, an edited import cell, a cell
added elsewhere change nothing. A check that passes earns the exercise's points
(:data:`~cifar_mlp.teaching.base.EXERCISES`); a failing one earns 0 and its message is
kept. A submission that exceeds the time limit (an endless loop) earns 0 for all of
it, and the grading goes on with the next.

Out: a table on the terminal, ``scores.csv`` (one row per submission: points per
exercise, total, maximum) and ``scores-details.csv`` (one row per submission and
exercise, with the check's message).
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import sandbox
from .checks import EXERCISES
from .runner import MARK
from .student import EXERCISE_TAG

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # cifar_mlp/, copied into each sandbox


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


@dataclass
class Chapter:
    """What the teacher's copy of a chapter says about grading it: the set-up cells of
    its Exercises section, and for each exercise the names its check takes."""

    setup: list
    arguments: dict  # {exercise: [names of the student's functions]}


def grade_id(cell) -> str | None:
    """The check a cell runs (its nbgrader grade_id), or None for any other cell."""
    meta = cell.metadata.get("nbgrader", {})
    return meta.get("grade_id") if meta.get("grade") else None


def solution_id(cell) -> str | None:
    """The exercise whose answer a cell holds (grade_id ``<exercise>-solution``), or None."""
    meta = cell.metadata.get("nbgrader", {})
    if cell.cell_type == "code" and meta.get("solution"):
        return meta.get("grade_id", "").removesuffix("-solution")
    return None


def exercise_section(notebook) -> list:
    """The cells from the first one tagged ``exercise`` to the end of the notebook."""
    tagged = [i for i, c in enumerate(notebook.cells) if EXERCISE_TAG in c.metadata.get("tags", [])]
    return notebook.cells[tagged[0]:] if tagged else []


def check_arguments(source: str) -> list[str]:
    """The names a check cell passes: ``check.affine_layer(affine_forward, affine_backward)``."""
    (statement,) = ast.parse(source).body
    return [argument.id for argument in statement.value.args]


def teacher_chapters(notebooks_dir: Path) -> dict:
    """{notebook stem: :class:`Chapter`} for every chapter notebook with exercises."""
    chapters = {}
    for path in sorted(notebooks_dir.glob("*.ipynb")):
        section = exercise_section(nbformat.read(path, as_version=4))
        arguments = {grade_id(c): check_arguments(c.source) for c in section
                     if grade_id(c) in EXERCISES}
        if arguments:
            setup = [c.source for c in section if c.cell_type == "code"
                     and not grade_id(c) and not solution_id(c)]
            chapters[path.stem] = Chapter(setup, arguments)
    return chapters


def answers(notebook) -> dict:
    """{exercise: source of the student's answer cell} from a submission's Exercises section."""
    found = {}
    for cell in exercise_section(notebook):
        found.setdefault(solution_id(cell), cell.source)
    found.pop(None, None)
    return found


def chapter_of(found: dict, chapters: dict) -> str | None:
    """The chapter whose exercises the submission answers most of (None when none)."""
    best = max(chapters, key=lambda c: len(found.keys() & chapters[c].arguments.keys()), default=None)
    return best if best is not None and found.keys() & chapters[best].arguments.keys() else None


def job_for(chapter: Chapter, found: dict) -> dict:
    return {"setup": chapter.setup,
            "exercises": [{"name": name, "arguments": arguments, "solution": found.get(name)}
                          for name, arguments in chapter.arguments.items()]}


def verdicts(output: str) -> dict:
    """{exercise: (passed, message)} from the runner's output (the first verdict of each)."""
    found = {}
    for line in output.splitlines():
        if line.startswith(MARK):
            try:
                verdict = json.loads(line[len(MARK):])
                found.setdefault(str(verdict["exercise"]),
                                 (verdict["passed"] is True, str(verdict["message"])))
            except (ValueError, KeyError, TypeError):
                continue
    return found


def run_submission(job: dict, scratch: Path, time_limit: int) -> tuple[dict, sandbox.Finished]:
    """Run ``job`` in a fresh folder under ``scratch`` holding a copy of the package."""
    workdir = Path(tempfile.mkdtemp(dir=scratch))
    shutil.copytree(PACKAGE_DIR, workdir / "lib" / PACKAGE_DIR.name,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (workdir / "job.json").write_text(json.dumps(job))
    log = scratch / f"{workdir.name}.out"  # outside the sandbox's folder: only the runner writes it
    with log.open("w") as stdout:
        finished = sandbox.run([sys.executable, "-s", "-m", "cifar_mlp.teaching.runner", "job.json"],
                               workdir, {"PYTHONPATH": str(workdir / "lib"),
                                         "CIFAR_MLP_PROFILE": "smoke", "TF_CPP_MIN_LOG_LEVEL": "2"},
                               stdout, time_limit, readonly=[workdir / "lib"])
    found = verdicts(log.read_text(errors="replace"))
    shutil.rmtree(workdir, ignore_errors=True)
    log.unlink()
    return found, finished


def grade_notebook(path: Path, name: str, chapters: dict, scratch: Path,
                   time_limit: int = sandbox.TIME_LIMIT) -> Graded:
    try:
        found = answers(nbformat.read(path, as_version=4))
    except Exception as error:  # not a notebook, or a damaged one
        return Graded(name, "?", [Result("(unreadable)", 0, 0, f"not a readable notebook: {error}")])
    chapter = chapter_of(found, chapters)
    if chapter is None:
        return Graded(name, "?", [Result("(no exercises found)", 0, 0,
                                         "no answer cell of any chapter in this notebook")])
    results, (ran, finished) = [], run_submission(job_for(chapters[chapter], found), scratch,
                                                     time_limit)
    for exercise in chapters[chapter].arguments:
        out_of = EXERCISES[exercise].points
        if finished.timed_out:
            results.append(Result(exercise, 0, out_of, f"{finished.describe()} (an endless loop?)"))
        elif exercise not in ran:
            results.append(Result(exercise, 0, out_of, f"not checked: {finished.describe()}"))
        else:
            passed, message = ran[exercise]
            results.append(Result(exercise, out_of if passed else 0, out_of, message))
    return Graded(name, chapter, results)


def submissions(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def grade_folder(folder: Path, notebooks_dir: Path, progress=print,
                 time_limit: int = sandbox.TIME_LIMIT) -> list[Graded]:
    """Grade every submission under ``folder`` against the chapters in ``notebooks_dir``,
    each given ``time_limit`` seconds in all."""
    chapters = teacher_chapters(notebooks_dir)
    progress(f"isolation: {sandbox.isolation()}")
    graded = []
    with tempfile.TemporaryDirectory(prefix="cifar-mlp-grading-") as scratch:
        for path in submissions(folder):
            name = str(path.relative_to(folder).with_suffix(""))
            progress(f"grading {name} ...")
            graded.append(grade_notebook(path, name, chapters, Path(scratch), time_limit))
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
    from ..profiles import project_root

    parser = argparse.ArgumentParser(prog="python -m cifar_mlp.teaching.grade", description=__doc__,
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

"""Grade a folder of submitted notebooks with the exercises' checks (make grade).

    python -m cifar_mlp.teaching.grade submissions/            # the table, scores.csv
    python -m cifar_mlp.teaching.grade submissions/ --out marks.csv
    python -m cifar_mlp.teaching.grade submissions/ --unfenced # where bubblewrap cannot run

Every ``*.ipynb`` under the folder is a submission (``alice/02_mlp_math.ipynb`` or
``alice_02.ipynb``: the path names it). The grader judges the student's functions,
not the student's notebook: from each submission it takes only the answer cells (the
cells with nbgrader's ``solution`` metadata in the Exercises section, matched to the
teacher's by their ``grade_id``). For each submission a checker (:mod:`.checker`)
starts a fresh interpreter in the sandbox (:mod:`.sandbox`) that runs the set-up code
of the teacher's copy in ``notebooks/`` and those answer cells, nothing else
(:mod:`.worker`); the checks run in the checker's own process and call the student's
functions through a pipe, so the verdicts are made where the student's code cannot
reach them. A check that passes earns the exercise's points
(:data:`~cifar_mlp.teaching.base.EXERCISES`); a failing one earns 0 and its message is
kept. A submission that exceeds the time limit (an endless loop) earns 0 for all of
it, and the grading goes on with the next.

Without a working fence (bubblewrap) the grader stops and says why, unless the teacher
asks for unfenced grading (``--unfenced``); the scores then say that the submissions
were not isolated. An answer that is the book's published solution or the package's own
code (its source or its compiled code, names and formatting aside: :mod:`.likeness`)
is flagged for the teacher; the flag does not change the points.

Out: a table on the terminal, ``scores.csv`` (one row per submission: points per
exercise, total, maximum, isolation) and ``scores-details.csv`` (one row per submission
and exercise, with the check's message and the flag).
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import sandbox
from .checker import PACKAGE_DIR
from .checks import EXERCISES
from .student import EXERCISE_TAG

CHECKER_MARGIN = 120  # seconds a checker gets beyond the submission's limit (its own start, TensorFlow)


class NoFence(RuntimeError):
    """The sandbox's fence cannot start here, and unfenced grading was not asked for."""


@dataclass
class Result:
    """One exercise of one submission: points earned, the check's message, and the
    teacher's flag (the answer is the published solution or the package's code)."""

    exercise: str
    points: int
    out_of: int
    message: str
    flag: str = ""


@dataclass
class Graded:
    submission: str
    chapter: str
    results: list = field(default_factory=list)
    isolation: str = "fenced"

    @property
    def total(self) -> int:
        return sum(r.points for r in self.results)

    @property
    def out_of(self) -> int:
        return sum(r.out_of for r in self.results)


@dataclass
class Chapter:
    """What the teacher's copy of a chapter says about grading it: the set-up cells of
    its Exercises section, for each exercise the names its check takes, and the
    published solutions (for the flag)."""

    setup: list
    arguments: dict  # {exercise: [names of the student's functions]}
    solutions: dict  # {exercise: source of the teacher's answer cell}


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
            chapters[path.stem] = Chapter(setup, arguments, answers_of(section))
    return chapters


def answers_of(cells) -> dict:
    """{exercise: source of its answer cell} among ``cells``."""
    found = {}
    for cell in cells:
        found.setdefault(solution_id(cell), cell.source)
    found.pop(None, None)
    return found


def answers(notebook) -> dict:
    """{exercise: source of the student's answer cell} from a submission's Exercises section."""
    return answers_of(exercise_section(notebook))


def chapter_of(found: dict, chapters: dict) -> str | None:
    """The chapter whose exercises the submission answers most of (None when none)."""
    best = max(chapters, key=lambda c: len(found.keys() & chapters[c].arguments.keys()), default=None)
    return best if best is not None and found.keys() & chapters[best].arguments.keys() else None


def job_for(chapter: Chapter, found: dict) -> dict:
    return {"setup": chapter.setup,
            "exercises": [{"name": name, "arguments": arguments, "solution": found.get(name),
                           "teacher_solution": chapter.solutions.get(name)}
                          for name, arguments in chapter.arguments.items()]}


def run_checker(job: dict, time_limit: int) -> dict:
    """Run one submission's checker (:mod:`.checker`); {exercise: verdict} and how it ended."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(PACKAGE_DIR.parent), *filter(None, [os.environ.get("PYTHONPATH")])])}
    checker = subprocess.Popen([sys.executable, "-m", "cifar_mlp.teaching.checker"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        out, err = checker.communicate(json.dumps(job), timeout=time_limit + CHECKER_MARGIN)
    except subprocess.TimeoutExpired:
        sandbox.end(checker)
        return {"verdicts": {}, "problem": "the checker did not finish in time"}
    try:
        return json.loads(out)
    except ValueError:
        last = (err.strip().splitlines() or ["no message"])[-1]
        return {"verdicts": {}, "problem": f"the checker failed ({last[:200]})"}


def grade_notebook(path: Path, name: str, chapters: dict, scratch: Path,
                   time_limit: int = sandbox.TIME_LIMIT, fenced: bool = True,
                   hidden=()) -> Graded:
    try:
        found = answers(nbformat.read(path, as_version=4))
    except Exception as error:  # not a notebook, or a damaged one
        return Graded(name, "?", [Result("(unreadable)", 0, 0, f"not a readable notebook: {error}")])
    chapter = chapter_of(found, chapters)
    if chapter is None:
        return Graded(name, "?", [Result("(no exercises found)", 0, 0,
                                         "no answer cell of any chapter in this notebook")])
    job = {**job_for(chapters[chapter], found), "scratch": str(scratch), "fenced": fenced,
           "time_limit": time_limit, "hidden": [str(h) for h in hidden]}
    ran = run_checker(job, time_limit)
    results = []
    for exercise in chapters[chapter].arguments:
        out_of = EXERCISES[exercise].points
        verdict = ran["verdicts"].get(exercise)
        if verdict is None:
            results.append(Result(exercise, 0, out_of, f"not checked: {ran.get('problem')}"))
        else:
            results.append(Result(exercise, out_of if verdict["passed"] is True else 0, out_of,
                                  str(verdict["message"]), verdict.get("flag") or ""))
    return Graded(name, chapter, results, "fenced" if fenced else "NOT FENCED")


def submissions(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def grade_folder(folder: Path, notebooks_dir: Path, progress=print,
                 time_limit: int = sandbox.TIME_LIMIT, unfenced: bool = False) -> list[Graded]:
    """Grade every submission under ``folder`` against the chapters in ``notebooks_dir``,
    each given ``time_limit`` seconds in all, inside the sandbox's fence (which hides the
    submissions, the teacher's notebooks and the repository), or without it when
    ``unfenced``. Raises :class:`NoFence` when the fence cannot start here."""
    problem = None if unfenced else sandbox.fence_problem()
    if problem:
        raise NoFence(f"the sandbox cannot fence submissions here: {problem}. Grading "
                      "without the fence lets a submission read and write wherever your "
                      "account can; ask for it explicitly (--unfenced) if you accept that.")
    fenced = not unfenced
    chapters = teacher_chapters(notebooks_dir)
    progress(f"isolation: {sandbox.isolation(fenced)}")
    hidden = {Path(folder).resolve(), Path(notebooks_dir).resolve(), PACKAGE_DIR.parent.resolve()}
    graded = []
    with tempfile.TemporaryDirectory(prefix="cifar-mlp-grading-") as scratch:
        for path in submissions(folder):
            name = str(path.relative_to(folder).with_suffix(""))
            progress(f"grading {name} ...")
            graded.append(grade_notebook(path, name, chapters, Path(scratch), time_limit,
                                         fenced, sorted(hidden)))
    return graded


def write_csv(graded: list[Graded], out: Path) -> Path:
    """``out`` (points per exercise, total, maximum, isolation) and ``<out>-details.csv``
    (each check's message and the teacher's flag)."""
    names = [e for e in EXERCISES if any(r.exercise == e for g in graded for r in g.results)]
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "chapter", *names, "total", "out_of", "isolation"])
        for g in graded:
            earned = {r.exercise: r.points for r in g.results}
            writer.writerow([g.submission, g.chapter, *(earned.get(n, "") for n in names),
                             g.total, g.out_of, g.isolation])
    details = out.with_name(f"{out.stem}-details.csv")
    with details.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "chapter", "exercise", "points", "out_of", "message",
                         "flag"])
        for g in graded:
            for r in g.results:
                writer.writerow([g.submission, g.chapter, r.exercise, r.points, r.out_of,
                                 r.message, r.flag])
    return details


def table(graded: list[Graded]) -> str:
    """The scores as a plain-text table, with each failed check's message and each flag
    under its row, and a warning above it for submissions graded without the fence."""
    width = max([len("submission"), *(len(g.submission) for g in graded)])
    unfenced = [g.submission for g in graded if g.isolation != "fenced"]
    lines = [f"NOT ISOLATED: {len(unfenced)} submission(s) graded without the fence"] if unfenced else []
    lines.append(f"{'submission':<{width}}  {'chapter':<20} {'score':>9}  flags")
    for g in graded:
        flags = sum(1 for r in g.results if r.flag)
        lines.append(f"{g.submission:<{width}}  {g.chapter:<20} {g.total:>4} / {g.out_of:<3} "
                     f" {flags or ''}")
        for r in g.results:
            if r.points < r.out_of:
                first_line = r.message.splitlines()[0] if r.message else ""
                lines.append(f"{'':<{width}}    {r.exercise}: {first_line[:150]}")
            if r.flag:
                lines.append(f"{'':<{width}}    {r.exercise}: FLAG {r.flag[:150]}")
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
    parser.add_argument("--unfenced", action="store_true",
                        help="grade without the sandbox's fence (for where bubblewrap cannot "
                             "start): the submissions can then read and write wherever you can")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    try:
        graded = grade_folder(args.folder, args.notebooks or project_root() / "notebooks",
                              unfenced=args.unfenced)
    except NoFence as refused:
        print(f"not graded: {refused}", file=sys.stderr)
        return 2
    if not graded:
        print(f"no notebooks found under {args.folder}")
        return 1
    details = write_csv(graded, args.out)
    print(table(graded))
    print(f"\nwritten: {args.out} and {details}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The grader against planted submissions: honest ones, ones that try to fake a pass
(forged verdicts on every descriptor, printed or written to files; patched checks; the
package's own code; the teacher's notebook), one that loops forever, one that vandalizes
files and one that leaves processes behind. Each is scored (or flagged) as it should be,
the run ends in bounded time, no file outside the submission's own folder changes, and
no process of a submission outlives its grading. Without a working fence the grader
refuses, unless unfenced grading is asked for, and then says so in the scores."""

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from cifar_mlp.teaching import sandbox
from cifar_mlp.teaching.checks import EXERCISES
from cifar_mlp.teaching.grade import NoFence, grade_folder, solution_id, table, write_csv
from cifar_mlp.teaching.student import write_student_edition

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CHAPTER_2 = REPO / "notebooks" / "02_mlp_math.ipynb"
CHAPTER_2_EXERCISES = [name for name, e in EXERCISES.items() if e.chapter == 2]
FULL = sum(EXERCISES[name].points for name in CHAPTER_2_EXERCISES)
TIME_LIMIT = 25  # seconds per submission here; a chapter 2 submission takes about two
SLEEPER = "sleep 7391"  # the processes a planted submission leaves behind, found by this

needs_bubblewrap = pytest.mark.skipif(
    sandbox.fence_problem() is not None,
    reason=f"{sandbox.fence_problem()} (apt-get install bubblewrap; .ci/run does)")


def planted(edits: dict, extra_cells=()):
    """Chapter 2 with answer cells edited: {exercise: function(source) -> source}."""
    notebook = nbformat.read(CHAPTER_2, as_version=4)
    for cell in notebook.cells:
        if solution_id(cell) in edits:
            cell.source = edits[solution_id(cell)](cell.source)
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "print('✓ all checks passed')"  # an edited check: never run
    notebook.cells.extend(nbformat.v4.new_code_cell(source) for source in extra_cells)
    return notebook


def prepend(code):
    return lambda source: f"{code}\n\n{source}"


def append(code):
    return lambda source: f"{source}\n\n{code}"


def replace(old, new):
    return lambda source: source.replace(old, new)


WRONG_RELU = replace("return dout * (out > 0)", "return dout")

REDEFINE_CHECK = """\
class AlwaysPasses:
    def __getattr__(self, name):
        return lambda *functions: print("✓ all checks passed")


check = AlwaysPasses()"""

PATCH_CHECKS = """\
import cifar_mlp.teaching.base as base
import cifar_mlp.teaching.checks as checks

checks.relu_layer = lambda *functions: None
base.compare_gradient = lambda *args, **kwargs: None"""

DELEGATE = """\
from cifar_mlp import layers


def relu_forward(x):
    return layers.relu_forward(x)


def relu_backward(dout, cache):
    return layers.relu_backward(dout, cache)"""


def vandal(targets: list[Path]) -> str:
    """An answer cell's code that tries to overwrite ``targets`` and every notebook it
    can find from its working directory up, and to reach the network."""
    return f"""\
import glob, os, socket
for path in {[str(t) for t in targets]!r} + glob.glob("../**/*.ipynb", recursive=True) \\
        + glob.glob("/tmp/**/*.ipynb", recursive=True):
    try:
        with open(path, "w") as f:
            f.write("{{}}")
    except OSError:
        pass
try:
    socket.create_connection(("1.1.1.1", 80), timeout=2)
except OSError:
    pass"""


FORGED = "@@verdict " + json.dumps({"exercise": "relu_layer", "passed": True, "message": "passed"})

FORGE_ON_EVERY_DESCRIPTOR = f"""\
import os
lines = "".join({FORGED!r}.replace("relu_layer", name) + "\\n" for name in {sorted(EXERCISES)!r})
for fd in range(1024):
    try:
        os.write(fd, lines.encode())
    except OSError:
        pass
os._exit(0)"""

PRINT_AND_WRITE_FORGERIES = f"""\
import glob, os
line = {FORGED!r}
print(line)
import sys
print(line, file=sys.stderr)
for name in ("output.txt", "verdicts.txt", "../verdicts.txt", "job.json", "scores.csv"):
    try:
        with open(name, "a") as f:
            f.write(line + "\\n")
    except OSError:
        pass"""

EXECUTE_PACKAGE_SOURCE = """\
import inspect

import cifar_mlp.layers

exec(inspect.getsource(cifar_mlp.layers))"""


def read_notebook(path: Path, exercise: str) -> str:
    """An answer cell that runs the teacher's solution, read from the teacher's notebook."""
    return f"""\
import json
cells = json.load(open({str(path)!r}))["cells"]
source = next("".join(c["source"]) for c in cells
              if c["metadata"].get("nbgrader", {{}}).get("grade_id") == "{exercise}-solution")
exec(source)"""


LEAVE_PROCESSES = f"""\
import subprocess
for _ in range(5):
    subprocess.Popen("{SLEEPER}".split(), start_new_session=True)
subprocess.Popen(["sh", "-c", "({SLEEPER} &) ; exit 0"], start_new_session=True)"""


def renamed_solution(source: str) -> str:
    """The published ReLU solution, names, comments and formatting changed."""
    return (source.replace("relu_forward(x)", "relu_forward(inputs)")
            .replace("np.maximum(x, 0)", "np.maximum(inputs,  0)")
            .replace("out", "activation").replace("dactivation", "dout")
            .replace("    ### BEGIN SOLUTION", "    # my own work"))


OWN_RELU = """\
def relu_forward(x):
    mask = x > 0
    return x * mask, mask


def relu_backward(dout, cache):
    return np.where(cache, dout, 0.0)"""


def leftover_processes() -> str:
    time.sleep(0.5)
    return subprocess.run(["pgrep", "-af", SLEEPER], capture_output=True, text=True).stdout.strip()


def digests(*folders) -> dict:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded():
    """Every planted submission graded: (scores by name, seconds, the files before, after).
    The teacher's folder and the submissions lie outside /tmp (which the sandbox replaces
    by its own), so that only the read-only file system protects them."""
    root = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="cifar-mlp-grading-test-"))
    try:
        yield grade_planted(root)
    finally:
        shutil.rmtree(root)


def grade_planted(root: Path):
    teacher, folder = root / "teacher" / "notebooks", root / "submissions"
    shutil.copytree(REPO / "notebooks", teacher)
    (folder / "alice").mkdir(parents=True)
    other = folder / "alice" / "02_mlp_math.ipynb"
    submissions = {
        "alice/02_mlp_math": planted({}),
        "honest_wrong": planted({"affine_layer": replace("x.T @ dout", "dout.T @ x"),
                                 "training_epoch": replace("return loss_sum / seen, correct / seen",
                                                           "return loss_sum / seen, correct")},
                                extra_cells=["def affine_forward(x, w, b):\n    return x @ w + b, (x, w)"]),
        "redefines_check": planted({"relu_layer": lambda s: append(REDEFINE_CHECK)(WRONG_RELU(s))}),
        "patches_checks": planted({"relu_layer": lambda s: append(PATCH_CHECKS)(WRONG_RELU(s))}),
        "imports_package": planted({
            "affine_layer": lambda _: "from cifar_mlp.layers import affine_forward, affine_backward",
            "relu_layer": lambda _: DELEGATE}),
        "loops_forever": planted({"training_epoch": prepend("while True:\n    pass")}),
        "vandal": planted({"relu_layer": prepend(vandal([*teacher.glob("*.ipynb"), other]))}),
        "forges_on_every_descriptor": planted({e: lambda _: FORGE_ON_EVERY_DESCRIPTOR
                                               for e in CHAPTER_2_EXERCISES}),
        "prints_forged_verdicts": planted({e: lambda _: PRINT_AND_WRITE_FORGERIES
                                           for e in CHAPTER_2_EXERCISES}),
        "executes_package_source": planted({"relu_layer": lambda _: EXECUTE_PACKAGE_SOURCE}),
        "reads_teacher_notebook": planted({"affine_layer": lambda _: read_notebook(
            teacher / CHAPTER_2.name, "affine_layer")}),
        "pastes_renamed_solution": planted({"relu_layer": renamed_solution}),
        "own_relu": planted({"relu_layer": lambda _: OWN_RELU}),
        "leaves_processes": planted({"relu_layer": prepend(LEAVE_PROCESSES)}),
    }
    for name, notebook in submissions.items():
        nbformat.write(notebook, folder / f"{name}.ipynb")
    before = digests(teacher, folder)
    start = time.monotonic()
    scores = {g.submission: g for g in grade_folder(folder, teacher, progress=lambda _: None,
                                                    time_limit=TIME_LIMIT)}
    return scores, time.monotonic() - start, before, digests(teacher, folder)


def messages(graded_submission) -> dict:
    return {r.exercise: r.message for r in graded_submission.results}


@needs_bubblewrap
def test_honest_submissions_are_scored_by_their_answers(graded, tmp_path):
    scores, *_ = graded
    right, wrong = scores["alice/02_mlp_math"], scores["honest_wrong"]
    assert right.total == right.out_of == FULL
    lost = EXERCISES["affine_layer"].points + EXERCISES["training_epoch"].points
    assert wrong.total == FULL - lost and wrong.out_of == FULL
    assert "transposed" in messages(wrong)["affine_layer"]  # the extra cell changed nothing
    assert "a count" in messages(wrong)["training_epoch"], messages(wrong)["training_epoch"]
    write_csv(list(scores.values()), tmp_path / "scores.csv")
    rows = {row["submission"]: row for row in csv.DictReader((tmp_path / "scores.csv").open())}
    assert rows["honest_wrong"]["affine_layer"] == "0" and rows["honest_wrong"]["relu_layer"] == "2"
    assert re.search(rf"honest_wrong\s+02_mlp_math\s+{FULL - lost} / {FULL}", table(list(scores.values())))


@needs_bubblewrap
@pytest.mark.parametrize("name", ["redefines_check", "patches_checks"])
def test_redefining_editing_or_patching_the_checks_changes_nothing(graded, name):
    """Check cells never run, and the checks run in the grader's process: a patch in the
    submission's process reaches none of them. The wrong ReLU still fails."""
    scores, *_ = graded
    assert scores[name].total == FULL - EXERCISES["relu_layer"].points
    assert "forgot the ReLU mask" in messages(scores[name])["relu_layer"]


@needs_bubblewrap
def test_verdicts_forged_on_every_descriptor_score_zero(graded):
    scores, *_ = graded
    submission = scores["forges_on_every_descriptor"]
    assert submission.total == 0 and submission.out_of == FULL
    assert all("no check can go on" in m for m in messages(submission).values())


@needs_bubblewrap
def test_verdicts_printed_or_written_to_files_score_zero(graded):
    scores, *_ = graded
    submission = scores["prints_forged_verdicts"]
    assert submission.total == 0
    assert "relu_forward is not defined in the answer cell" in messages(submission)["relu_layer"]


@needs_bubblewrap
def test_the_packages_source_executed_is_flagged(graded):
    scores, *_ = graded
    relu = next(r for r in scores["executes_package_source"].results if r.exercise == "relu_layer")
    assert relu.points == relu.out_of  # the flag is for the teacher; it takes no point
    assert "relu_forward" in relu.flag and "when it runs" in relu.flag, relu.flag
    own = next(r for r in scores["own_relu"].results if r.exercise == "relu_layer")
    assert own.points == own.out_of and own.flag == ""  # an answer in the student's own words


@needs_bubblewrap
def test_the_teachers_notebook_is_out_of_reach_and_a_pasted_solution_is_flagged(graded):
    scores, *_ = graded
    found = messages(scores["reads_teacher_notebook"])
    assert "FileNotFoundError" in found["affine_layer"], found["affine_layer"]
    assert scores["reads_teacher_notebook"].total == FULL - EXERCISES["affine_layer"].points
    pasted = next(r for r in scores["pastes_renamed_solution"].results if r.exercise == "relu_layer")
    assert pasted.points == pasted.out_of and "the book's solution" in pasted.flag
    assert "FLAG" in table([scores["pastes_renamed_solution"]])


@needs_bubblewrap
def test_no_process_of_a_submission_outlives_its_grading(graded):
    scores, *_ = graded
    assert scores["leaves_processes"].total == FULL
    assert leftover_processes() == ""


@needs_bubblewrap
def test_the_packages_own_functions_score_zero_with_a_message(graded):
    scores, *_ = graded
    submission = scores["imports_package"]
    found = messages(submission)
    assert "the package's own cifar_mlp.layers.affine_forward" in found["affine_layer"]
    assert found["relu_layer"].startswith("ReLU layer: relu_forward calls cifar_mlp.layers.relu_forward")
    lost = EXERCISES["affine_layer"].points + EXERCISES["relu_layer"].points
    assert submission.total == FULL - lost


@needs_bubblewrap
def test_a_submission_that_loops_scores_zero_and_the_run_goes_on(graded):
    scores, seconds, *_ = graded
    submission = scores["loops_forever"]
    assert submission.total == 0 and submission.out_of == FULL
    assert all("time limit" in m for m in messages(submission).values()), messages(submission)
    assert len(scores) == 14, "every submission after it was graded too"
    assert seconds < TIME_LIMIT + 13 * 15, "bounded: the loop's limit and a few seconds each"


@needs_bubblewrap
def test_a_vandal_changes_no_file_of_the_teacher_or_of_another_submission(graded):
    scores, _, before, after = graded
    assert scores["vandal"].total == FULL  # its answers are right; its writes went nowhere
    assert after == before


@needs_bubblewrap
def test_the_sandbox_has_no_network(tmp_path):
    probe = ("import socket\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=3)\n"
             "except OSError:\n    raise SystemExit(7)")
    with (tmp_path / "out").open("w") as out:
        finished = sandbox.run([sys.executable, "-c", probe], tmp_path, {}, out, time_limit=30)
    assert finished.returncode == 7


def grade_command(folder: Path, out: Path, python=sys.executable, path=None, *options):
    """``python -m cifar_mlp.teaching.grade`` on ``folder``, as a teacher runs it."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([str(python), "-m", "cifar_mlp.teaching.grade", str(folder),
                           "--out", str(out), "--notebooks", str(REPO / "notebooks"), *options], capture_output=True, text=True,
                          env=env, cwd=out.parent, timeout=600)


@pytest.fixture
def one_honest_submission(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copy(REPO / "notebooks" / "01_data.ipynb", folder / "bob.ipynb")
    return folder


@needs_bubblewrap
def test_an_interpreter_under_the_private_tmp_is_fenced_all_the_same(one_honest_submission):
    """The sandbox gives the submission a /tmp of its own: an interpreter in a virtual
    environment under /tmp was not there, the fence failed, and grading went on
    unfenced (seen). Its folders are now bound into the fence."""
    venv = Path(tempfile.mkdtemp(prefix="cifar-mlp-venv-", dir="/tmp"))
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        site = next(venv.glob("lib/python*/site-packages"))
        (site / "project.pth").write_text("\n".join(p for p in sys.path if "site-packages" in p))
        out = one_honest_submission.parent / "scores.csv"
        graded = grade_command(one_honest_submission, out, python=venv / "bin" / "python")
        assert graded.returncode == 0, graded.stderr + graded.stdout
        assert "isolation: bubblewrap" in graded.stdout
        (row,) = csv.DictReader(out.open())
        assert row["isolation"] == "fenced" and row["total"] == row["out_of"]
    finally:
        shutil.rmtree(venv)


def test_without_a_working_fence_the_grader_refuses_unless_asked(one_honest_submission, tmp_path):
    """A bwrap that fails (here a stand-in that exits 1) stops the grading with the
    reason; --unfenced grades and says in the scores that nothing was isolated."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    path = f"{fake}{os.pathsep}{os.environ['PATH']}"
    out = tmp_path / "scores.csv"
    refused = grade_command(one_honest_submission, out, sys.executable, path)
    assert refused.returncode == 2 and not out.exists()
    assert "bubblewrap failed (exit status 1): bwrap: setting up uid map" in refused.stderr
    assert "--unfenced" in refused.stderr
    graded = grade_command(one_honest_submission, out, sys.executable, path, "--unfenced")
    assert graded.returncode == 0, graded.stderr
    assert "NOT ISOLATED: 1 submission(s)" in graded.stdout
    (row,) = csv.DictReader(out.open())
    assert row["isolation"] == "NOT FENCED" and row["total"] == row["out_of"]


def test_unfenced_no_process_of_a_submission_outlives_its_grading(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    nbformat.write(planted({"relu_layer": prepend(LEAVE_PROCESSES)}), folder / "carol.ipynb")
    (graded,) = grade_folder(folder, REPO / "notebooks", progress=lambda _: None,
                             time_limit=TIME_LIMIT, unfenced=True)
    assert graded.total == FULL and graded.isolation == "NOT FENCED"
    assert leftover_processes() == ""


def test_a_loop_on_every_core_is_stopped_as_over_the_time_limit(tmp_path):
    """The CPU-time limit equalled the wall-clock one: a process on two cores reached it
    first, and its submission was reported as ended with status 137 (seen in CI), not as
    over the time limit."""
    burn = "import numpy as np\na = np.ones((600, 600))\nwhile True:\n    a @ a"
    with (tmp_path / "out").open("w") as out:
        finished = sandbox.run([sys.executable, "-c", burn], tmp_path,
                               {"OPENBLAS_NUM_THREADS": str(os.cpu_count())}, out, time_limit=8)
    assert finished.timed_out, finished.describe()


def test_the_sandbox_stops_a_loop_and_everything_it_started(tmp_path):
    loop = "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'while True: pass'])\nwhile True: pass"
    start = time.monotonic()
    with (tmp_path / "out").open("w") as out:
        finished = sandbox.run([sys.executable, "-c", loop], tmp_path, {}, out, time_limit=3)
    assert finished.timed_out and time.monotonic() - start < 10
    time.sleep(0.5)
    leftover = subprocess.run(["pgrep", "-f", "while True: pass"], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""


def test_the_student_edition_runs_and_fails_every_check_with_its_message(tmp_path):
    write_student_edition(NOTEBOOKS, tmp_path / "student")
    results = [r for g in grade_folder(tmp_path / "student", REPO / "notebooks",
                                       progress=lambda _: None,
                                       unfenced=sandbox.fence_problem() is not None)
               for r in g.results]
    assert sorted(r.exercise for r in results) == sorted(EXERCISES)
    for r in results:
        assert r.points == 0
        assert "not written yet" in r.message and "NotImplementedError" in r.message, r.message

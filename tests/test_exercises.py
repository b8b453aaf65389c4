"""The exercises at the end of each chapter: their solutions pass every check, the
student edition fails every check with its message, planted mistakes are named, and
the grader scores a folder of submissions correctly."""

import csv
import io
import os
import re
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import pytest

from cifar_mlp.exercises import EXERCISES
from cifar_mlp.grade import grade_folder, grade_id, table, write_csv
from cifar_mlp.student import (BEGIN, END, EXERCISE_TAG, STUB_LINE, solution_cells,
                               student_notebook, write_student_edition)

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CHAPTER_2 = REPO / "notebooks" / "02_mlp_math.ipynb"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def is_exercise(cell) -> bool:
    return EXERCISE_TAG in cell.metadata.get("tags", [])


def read(path):
    return nbformat.read(path, as_version=4)


def solutions(path, plant=None) -> dict:
    """The namespace the notebook's exercise cells build, check cells left out.
    ``plant``: (old, new), a mistake written into the solution that holds ``old``."""
    namespace = {}
    planted = plant is None
    for cell in read(path).cells:
        if cell.cell_type != "code" or not is_exercise(cell) or grade_id(cell):
            continue
        source = cell.source
        if plant and plant[0] in source:
            assert source.count(plant[0]) == 1, f"{plant[0]!r} is ambiguous: update this test"
            source, planted = source.replace(*plant), True
        exec(compile(source, str(path), "exec"), namespace)
    assert planted, f"{plant[0]!r} is in no solution of {path.name}: update this test"
    return namespace


def run_check(path, name, namespace):
    """Run the check cell ``name`` of ``path`` in ``namespace``; return what it printed."""
    (cell,) = [c for c in read(path).cells if grade_id(c) == name]
    printed = io.StringIO()
    with redirect_stdout(printed):
        exec(cell.source, namespace)
    return printed.getvalue()


def chapter_notebook(exercise: str) -> Path:
    return NOTEBOOKS[EXERCISES[exercise].chapter - 1]


# -- the notebooks -----------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercises_are_a_tagged_section_at_the_end_with_a_check_per_exercise(path):
    cells = read(path).cells
    first = next(i for i, c in enumerate(cells) if is_exercise(c))
    assert all(is_exercise(c) for c in cells[first:]), "exercise cells must come last, together"
    assert cells[first].source.startswith("## Exercises")
    chapter = int(path.stem[:2])
    expected = [e for e in EXERCISES.values() if e.chapter == chapter]
    assert len(expected) >= 4
    checks = {grade_id(c): c for c in cells if grade_id(c)}
    assert sorted(checks) == sorted(e.name for e in expected)
    for e in expected:
        assert checks[e.name].metadata["nbgrader"]["points"] == e.points
        assert checks[e.name].source.startswith(f"check.{e.name}(")
        (text,) = [c.source for c in cells if c.cell_type == "markdown"
                   and f":label: ex-{e.name.replace('_', '-')}" in c.source]
        assert f"{{exercise-start}} {e.title}" in text
        assert "*Why it matters:*" in text
        assert f"{e.points} point" in text and f"about {e.minutes} minutes" in text
    for cell in solution_cells(read(path)):
        assert BEGIN in cell.source and END in cell.source


def test_every_exercise_lives_in_its_chapter():
    found = {grade_id(c) for path in NOTEBOOKS for c in read(path).cells if grade_id(c)}
    assert found == set(EXERCISES)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_solutions_pass_every_check(path):
    namespace = solutions(path)
    for name in (e for e in EXERCISES if chapter_notebook(e) == path):
        printed = run_check(path, name, namespace)
        assert f"✓ {EXERCISES[name].title}: all checks passed" in printed, printed


# -- planted mistakes ------------------------------------------------------------------

MISTAKES = [
    ("relu_layer", "return dout * (out > 0)", "return dout", "forgot the ReLU mask"),
    ("relu_layer", "return dout * (out > 0)", "return dout * (dout > 0)", "sign of dout"),
    ("affine_layer", "x.T @ dout", "dout.T @ x", r"transposed"),
    ("affine_layer", "dout.sum(axis=0)", "dout.mean(axis=0)", "divided by the batch size"),
    ("affine_layer", "out = x @ w + b", "out = x @ w", "bias b is not added"),
    ("softmax_loss", "return loss, dlogits / n", "return loss, dlogits",
     "missing division by the batch size"),
    ("softmax_loss", "shifted = logits - logits.max(axis=1, keepdims=True)", "shifted = logits",
     "softmax without max subtraction"),
    ("softmax_loss", "dlogits[np.arange(n), y] -= 1", "pass", "forgot to subtract 1"),
    ("dropout_layer", "mask = (rng.random(x.shape) >= rate) / (1 - rate)",
     "mask = (rng.random(x.shape) >= rate) * 1.0", r"not scaled by 1/keep"),
    ("dropout_layer", "rng.random(x.shape) >= rate", "rng.random(x.shape) < rate",
     "probability of dropping"),
    ("dropout_layer", "if not training or rate == 0:", "if rate == 0:",
     "dropout is applied at inference"),
    ("momentum_update", "v = momentum * v - lr * g", "v = momentum * v + lr * g",
     "momentum sign error"),
    ("momentum_update", "return w + momentum * v - lr * g, v", "return w + v, v",
     "look-ahead"),
    ("adam_update", "m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)",
     "m_hat, v_hat = m, v", "Adam without bias correction"),
    ("adam_update", "v = beta2 * v + (1 - beta2) * g * g", "v = beta2 * v + (1 - beta2) * g",
     r"NaN|squared gradient"),
    ("batchnorm_layer", "x.var(axis=0)", "x.var(axis=0, ddof=1)", "wrong variance"),
    ("batchnorm_layer", "(dout - dout.mean(axis=0) - x_hat", "(dout - x_hat",
     "forgot the mean term"),
    ("batchnorm_layer", "- x_hat * (dout * x_hat).mean(axis=0))", ")",
     "forgot the variance term"),
    ("batchnorm_layer", "inv_std = 1 / np.sqrt(var + eps)", "inv_std = 1 / (np.sqrt(var) + eps)",
     "outside the square root"),
    # beyond chapter 2, one each
    ("standardization", "return tuple((x - mean) / std for x",
     "return tuple((x - x.mean(axis=0)) / x.std(axis=0) for x", "its own statistics"),
    ("stratified_split", "rng.permutation(np.flatnonzero(y == c))", "np.flatnonzero(y == c)",
     "the same seed|another seed"),
    ("confusion_matrix", "(y_true, y_pred)", "(y_pred, y_true)", "rows and columns are swapped"),
    ("early_stopping", "model.params[name][...] = p", "pass", "kept the weights of its last epoch"),
    ("cosine_schedule", "min(epoch, total_epochs)", "epoch", "must stay at min_lr"),
    ("keras_twin", "SparseCategoricalCrossentropy(from_logits=True)",
     "SparseCategoricalCrossentropy()", "from_logits=True"),
]


@pytest.mark.parametrize("exercise, old, new, hint", MISTAKES,
                         ids=[f"{m[0]}:{m[3][:30]}" for m in MISTAKES])
def test_a_planted_mistake_is_caught_and_named(exercise, old, new, hint):
    path = chapter_notebook(exercise)
    namespace = solutions(path, plant=(old, new))
    with pytest.raises(AssertionError, match=hint) as caught:
        run_check(path, exercise, namespace)
    assert str(caught.value).startswith(EXERCISES[exercise].title)


def test_every_chapter_2_exercise_has_a_planted_mistake():
    planted = {m[0] for m in MISTAKES}
    assert {e.name for e in EXERCISES.values() if e.chapter == 2} <= planted


def test_a_gradient_error_says_how_large_and_where():
    namespace = solutions(CHAPTER_2, plant=("x.T @ dout", "x.T @ dout * 1.5"))
    with pytest.raises(AssertionError, match=r"gradient error \d\.\de-\d+ .* largest at index \(\d, \d\)"):
        run_check(CHAPTER_2, "affine_layer", namespace)


# -- the student edition and the grader ------------------------------------------------

@pytest.fixture(scope="module")
def student_edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    written = write_student_edition(NOTEBOOKS, out)
    assert [p.name for p in written] == [p.name for p in NOTEBOOKS]
    return out


def test_the_student_edition_keeps_the_chapter_and_stubs_every_solution(student_edition):
    for path in NOTEBOOKS:
        original, student = read(path), read(student_edition / path.name)
        chapter = [c.source for c in original.cells if not is_exercise(c)]
        assert [c.source for c in student.cells
                if not is_exercise(c) and "student-edition" not in c.metadata.get("tags", [])
                ] == chapter
        assert len(solution_cells(student)) == len(solution_cells(original))
        for cell in solution_cells(student):
            assert STUB_LINE in cell.source and "BEGIN SOLUTION" not in cell.source
        for cell in student.cells:
            assert ":::{" not in cell.source, "exercise markup left for JupyterLab to show raw"
            assert cell.get("outputs", []) == [] and cell.get("execution_count") is None
        assert "cifar_mlp" not in student.metadata  # no claim to a full-data run
        headings = [c.source for c in student.cells if c.source.startswith("### Exercise: ")]
        assert len(headings) == len(solution_cells(student))


def test_the_student_edition_runs_and_fails_every_check_with_its_message(student_edition):
    graded = grade_folder(student_edition, REPO / "notebooks", progress=lambda _: None)
    assert len(graded) == len(NOTEBOOKS)
    results = [r for g in graded for r in g.results]
    assert sorted(r.exercise for r in results) == sorted(EXERCISES)
    for r in results:
        assert r.points == 0
        assert "not written yet" in r.message and "NotImplementedError" in r.message, r.message


def test_the_whole_student_notebook_of_chapter_1_runs_failing_only_at_its_checks(student_edition):
    from nbclient import NotebookClient

    notebook = read(student_edition / "01_data.ipynb")
    NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(REPO / "notebooks")}}).execute(
        env={**os.environ, "CIFAR_MLP_PROFILE": "smoke"})
    failed = [c for c in notebook.cells if c.cell_type == "code"
              and any(o.output_type == "error" for o in c.outputs)]
    assert failed and all(grade_id(c) for c in failed)
    assert len(failed) == len(solution_cells(notebook))


def test_the_grader_scores_a_right_and_a_wrong_submission(tmp_path):
    submissions = tmp_path / "submissions"
    (submissions / "alice").mkdir(parents=True)
    (submissions / "bob").mkdir()
    nbformat.write(read(CHAPTER_2), submissions / "alice" / "02_mlp_math.ipynb")
    bob = read(CHAPTER_2)
    for cell in bob.cells:
        if "def affine_backward" in cell.source:
            cell.source = cell.source.replace("x.T @ dout", "dout.T @ x")
        if "def batchnorm_forward" in cell.source:
            cell.source = cell.source.replace("x.var(axis=0)", "x.var(axis=0, ddof=1)")
        if grade_id(cell) == "batchnorm_layer":
            cell.source = "print('✓ trust me')"  # an edited check: the grader puts it back
    # a cell Bob added to the section (untagged), which his ReLU needs: it must run too
    (relu,) = [i for i, c in enumerate(bob.cells) if "def relu_forward" in c.source]
    bob.cells[relu].source = bob.cells[relu].source.replace("np.maximum(x, 0)", "my_relu(x)")
    bob.cells.insert(relu, nbformat.v4.new_code_cell("def my_relu(x):\n    return np.maximum(x, 0)"))
    nbformat.write(bob, submissions / "bob.ipynb")

    graded = grade_folder(submissions, REPO / "notebooks", progress=lambda _: None)
    scores = {g.submission: g for g in graded}
    assert set(scores) == {"alice/02_mlp_math", "bob"}
    full = sum(e.points for e in EXERCISES.values() if e.chapter == 2)
    assert scores["alice/02_mlp_math"].total == scores["alice/02_mlp_math"].out_of == full
    lost = EXERCISES["affine_layer"].points + EXERCISES["batchnorm_layer"].points
    assert scores["bob"].total == full - lost and scores["bob"].out_of == full
    messages = {r.exercise: r.message for r in scores["bob"].results}
    assert "transposed" in messages["affine_layer"]
    assert "wrong variance" in messages["batchnorm_layer"]

    out = write_csv(graded, tmp_path / "scores.csv")
    rows = {row["submission"]: row for row in csv.DictReader((tmp_path / "scores.csv").open())}
    assert rows["bob"]["affine_layer"] == "0" and rows["bob"]["relu_layer"] == "2"
    assert rows["bob"]["total"] == str(full - lost) and rows["alice/02_mlp_math"]["total"] == str(full)
    assert "wrong variance" in out.read_text()
    assert re.search(r"bob\s+02_mlp_math\s+16 / 26", table(graded))


def test_student_notebook_of_a_notebook_without_exercises_has_no_stub():
    bare = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    bare.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    assert solution_cells(student_notebook(bare)) == []

"""The flag for answers that are the book's solution or the package's own code in
disguise (cifar_mlp.teaching.likeness), on the teacher's real notebooks and the real
package: pasted, disguised or made at run time, they are flagged; honest answers and
wrong ones are not."""

import ast
import functools
import inspect
import re
import textwrap
from pathlib import Path

import nbformat
import pytest

import cifar_mlp.layers
from cifar_mlp.teaching import checks, likeness
from cifar_mlp.teaching.base import resolve
from cifar_mlp.teaching.checks import EXERCISES

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SETUP = "import math\nimport numpy as np\n"  # the chapters' set-up imports the solutions use


def _teacher_cells():
    """({exercise: solution cell source}, {exercise: check cell source}) of the notebooks."""
    solutions, check_cells = {}, {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            grade_id = meta.get("grade_id", "")
            if meta.get("solution") and grade_id.endswith("-solution"):
                solutions[grade_id.removesuffix("-solution")] = cell.source
            elif meta.get("grade") and grade_id in EXERCISES:
                check_cells[grade_id] = cell.source
    return solutions, check_cells


SOLUTIONS, CHECK_CELLS = _teacher_cells()
# solutions of one short line: an honest answer is the same line, so they cannot be flagged
TRIVIAL = {"channel_means", "keras_l2", "keras_he_init", "keras_batchnorm", "permute_first_layer"}
RECOGNIZED = sorted(set(SOLUTIONS) - TRIVIAL)
PACKAGE_ANSWERS = sorted({(name, dotted) for name, info in EXERCISES.items()
                          for dotted in info.answers if dotted.startswith("cifar_mlp.")})
PACKAGE_TRIVIAL = {"cifar_mlp.layers.softmax", "cifar_mlp.fast.FastSGD"}  # one-line bodies


@functools.lru_cache(maxsize=None)
def published(exercise):
    return likeness.published_prints(exercise, SOLUTIONS.get(exercise))


def flag(source, exercise):
    """The flag for an answer cell, as the grader makes it: the cell's text, and the
    code prints of what it defines when run (after the chapter's set-up)."""
    namespace = {"__name__": "__submission__"}
    exec(SETUP, namespace)
    exec(compile(source, "<answer>", "exec"), namespace)
    return likeness.resemblance(source, likeness.namespace_prints(namespace),
                                published(exercise))


def text_flag(source, exercise):
    return likeness.resemblance(source, {}, published(exercise))


def code_flag(source, exercise):
    namespace = {"__name__": "__submission__"}
    exec(SETUP, namespace)
    exec(compile(source, "<answer>", "exec"), namespace)
    return likeness.resemblance(None, likeness.namespace_prints(namespace), published(exercise))


class _Rename(ast.NodeTransformer):
    """Every name a definition binds (itself, its arguments, its locals), renamed."""

    def __init__(self, bound):
        self.bound = bound

    def rename(self, name):
        return f"my_{name[::-1]}" if name in self.bound else name

    def visit_Name(self, node):
        node.id = self.rename(node.id)
        return node

    def visit_arg(self, node):
        node.arg = self.rename(node.arg)
        return node

    def _definition(self, node):
        node.name = self.rename(node.name)
        self.generic_visit(node)
        has_doc = (node.body and isinstance(node.body[0], ast.Expr)
                   and isinstance(node.body[0].value, ast.Constant))
        doc = ast.Expr(ast.Constant("My own work, written from scratch."))
        node.body = [doc] + node.body[1 if has_doc else 0:]
        return node

    visit_FunctionDef = visit_ClassDef = _definition


def disguise(source):
    """The source with every bound name renamed, a docstring added, comments, blank
    lines and 2-space indentation: all that the normalization must see through."""
    tree = ast.parse(textwrap.dedent(source))
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
             and isinstance(n.ctx, ast.Store)}
    bound |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    bound |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    text = ast.unparse(ast.fix_missing_locations(_Rename(bound).visit(tree)))
    lines = []
    for line in text.splitlines():
        line = re.sub(r"^((?:    )+)", lambda m: "  " * (len(m.group(1)) // 4), line)
        lines += ["# my own comment", line + "  # why this line", ""]
    return "\n".join(lines)


# -- the teacher's solutions -------------------------------------------------------------

def test_every_exercise_has_a_solution_cell_and_the_one_liners_are_the_trivial_ones():
    assert set(SOLUTIONS) == set(EXERCISES)
    # an exercise's solution is published when it holds a substantial function
    unpublished = {e for e in SOLUTIONS
                   if not any(w.startswith("the book's") for w in published(e).values())}
    assert unpublished == TRIVIAL


@pytest.mark.parametrize("exercise", RECOGNIZED)
def test_the_solution_pasted_is_flagged(exercise):
    message = text_flag(SOLUTIONS[exercise], exercise)
    assert message is not None and "the book's solution" in message


@pytest.mark.parametrize("exercise", RECOGNIZED)
def test_the_solution_disguised_is_flagged_by_its_text_and_its_code(exercise):
    disguised = disguise(SOLUTIONS[exercise])
    assert "my_" in disguised and "My own work" in disguised and "#" in disguised
    assert likeness.source_prints(disguised).keys().isdisjoint(
        likeness.source_prints(SOLUTIONS[exercise]))  # the functions' names changed too
    assert text_flag(disguised, exercise) is not None
    assert code_flag(disguised, exercise) is not None


@pytest.mark.parametrize("exercise", RECOGNIZED)
def test_the_solution_cell_run_by_exec_is_flagged_by_its_code(exercise):
    source = SOLUTIONS[exercise]
    cell = f"exec({source!r})"
    assert text_flag(cell, exercise) is None  # nothing in the cell's text
    assert code_flag(cell, exercise) is not None
    # compiled with its imports, `np.f(...)` compiles otherwise in CPython 3.11
    assert code_flag(f"exec({SETUP + source!r})", exercise) is not None


@pytest.mark.parametrize("exercise", sorted(TRIVIAL))
def test_a_one_line_solution_is_not_flagged(exercise):
    assert flag(SOLUTIONS[exercise], exercise) is None


# -- the package's own code --------------------------------------------------------------

@pytest.mark.parametrize("exercise, dotted", PACKAGE_ANSWERS)
def test_the_package_answer_pasted_is_flagged(exercise, dotted):
    obj = resolve(dotted)
    source = textwrap.dedent(inspect.getsource(obj))
    if dotted in PACKAGE_TRIVIAL:
        assert text_flag(source, exercise) is None
        return
    for answer in (source, disguise(source)):
        message = text_flag(answer, exercise)
        assert message is not None, answer
    assert dotted.rsplit(".")[-1] in text_flag(source, exercise)


@pytest.mark.parametrize("exercise, module", [
    ("relu_layer", "cifar_mlp.layers"), ("affine_layer", "cifar_mlp.layers"),
    ("softmax_loss", "cifar_mlp.layers"), ("batchnorm_layer", "cifar_mlp.layers"),
    ("dropout_layer", "cifar_mlp.layers"), ("linear_softmax", "cifar_mlp.layers"),
    ("momentum_update", "cifar_mlp.optim"), ("adam_update", "cifar_mlp.optim")])
def test_exec_of_the_package_source_is_flagged_by_its_code(exercise, module):
    cell = f"import inspect\nimport {module}\nexec(inspect.getsource({module}))\n"
    assert likeness.source_prints(cell) == {}
    assert text_flag(cell, exercise) is None
    message = code_flag(cell, exercise)
    assert message is not None and "when it runs" in message


def test_code_prints_of_an_exec_of_the_layers_module_are_published():
    namespace = {}
    exec(inspect.getsource(cifar_mlp.layers), namespace)
    for exercise, name in [("relu_layer", "relu_forward"), ("affine_layer", "affine_backward"),
                           ("softmax_loss", "softmax_cross_entropy"),
                           ("batchnorm_layer", "batchnorm_backward"),
                           ("dropout_layer", "dropout_forward")]:
        assert likeness.code_prints(namespace[name]) in published(exercise), name
    # the real functions print the same: the code print is what runs, not where it came from
    assert (likeness.code_prints(namespace["affine_backward"])
            == likeness.code_prints(cifar_mlp.layers.affine_backward))


def test_a_library_answer_is_published():
    metrics = pytest.importorskip("sklearn.metrics")
    assert likeness.code_prints(metrics.confusion_matrix) in published("confusion_matrix")


def test_imported_functions_are_left_to_the_package_own_refusal():
    namespace = {"__name__": "__submission__"}
    exec("from cifar_mlp.layers import relu_forward\nfrom cifar_mlp.optim import SGD\n"
         "import numpy as np", namespace)
    assert likeness.namespace_prints(namespace) == {}
    # ... but one made by exec counts, whatever module it claims to be from
    exec(inspect.getsource(cifar_mlp.layers), claimed := {"__name__": "cifar_mlp.layers"})
    namespace["relu_forward"] = claimed["relu_forward"]
    assert "relu_forward" in likeness.namespace_prints(namespace)


# -- honest answers, and wrong ones ---------------------------------------------------------

HONEST = {
    "relu_layer": """
def relu_forward(x):
    y = x * (x > 0)
    return y, x

def relu_backward(dout, cache):
    return np.where(cache > 0, dout, 0.0)
""",
    "affine_layer": """
def affine_forward(x, w, b):
    return np.dot(x, w) + b, (x, w)

def affine_backward(dout, cache):
    x, w = cache
    dx = np.dot(dout, w.T)
    dw = np.dot(x.T, dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db
""",
    "softmax_loss": """
def softmax_loss(logits, y):
    n = logits.shape[0]
    top = np.max(logits, axis=1, keepdims=True)
    log_sum = top + np.log(np.sum(np.exp(logits - top), axis=1, keepdims=True))
    log_p = logits - log_sum
    loss = -np.mean(log_p[np.arange(n), y])
    onehot = np.zeros_like(logits)
    onehot[np.arange(n), y] = 1
    return loss, (np.exp(log_p) - onehot) / n
""",
    "dropout_layer": """
def dropout_forward(x, rate, training, rng):
    if training and rate > 0:
        keep = rng.random(x.shape) >= rate
        mask = keep / (1 - rate)
        return x * mask, mask
    return x, None

def dropout_backward(dout, mask):
    if mask is None:
        return dout
    return dout * mask
""",
    "momentum_update": """
def sgd_momentum(w, g, v, lr, momentum, nesterov=False):
    velocity = momentum * v - lr * g
    step = momentum * velocity - lr * g if nesterov else velocity
    return w + step, velocity
""",
    "cosine_schedule": """
def cosine_lr(epoch, base_lr, total_epochs, min_lr=0.0):
    if epoch >= total_epochs:
        return min_lr
    angle = math.pi * epoch / total_epochs
    return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(angle))
""",
    "confusion_matrix": """
def confusion_matrix(y_true, y_pred, n_classes):
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        counts[t, p] += 1
    return counts
""",
    "standardization": """
def standardize(x_train, x_val, x_test):
    mu = np.mean(x_train, axis=0)
    sigma = np.std(x_train, axis=0)
    out = []
    for x in (x_train, x_val, x_test):
        out.append((x - mu) / sigma)
    return tuple(out)
""",
}


@pytest.mark.parametrize("exercise", sorted(HONEST))
def test_an_honest_answer_passes_its_check_and_is_not_flagged(exercise, capsys):
    source = HONEST[exercise]
    namespace = {"__name__": "__submission__", "check": checks}
    exec(SETUP, namespace)
    exec(source, namespace)
    exec(CHECK_CELLS[exercise], namespace)  # correct: the real check passes (or raises)
    assert "all checks passed" in capsys.readouterr().out
    assert flag(source, exercise) is None


# (exercise, text in its solution, the same with one operator changed, the function changed)
ONE_OFF = [
    ("relu_layer", "out > 0", "out >= 0", "relu_backward"),
    ("affine_layer", "x @ w + b", "x @ w - b", "affine_forward"),
    ("softmax_loss", "-= 1", "+= 1", "softmax_loss"),
    ("momentum_update", "return w + v, v", "return w - v, v", "sgd_momentum"),
    ("adam_update", "+ eps", "- eps", "adam_update"),
    ("batchnorm_layer", "(x - mean)", "(x + mean)", "batchnorm_forward"),
    ("cosine_schedule", "(1 + math.cos", "(1 - math.cos", "cosine_lr"),
    ("stratified_split", "n_val // len", "n_val / len", "stratified_split"),
    ("linear_softmax", "dscores /= n", "dscores *= n", "linear_softmax_loss"),
]


@pytest.mark.parametrize("exercise, old, new, function", ONE_OFF)
def test_a_wrong_answer_one_operator_away_is_not_flagged(exercise, old, new, function):
    solution = SOLUTIONS[exercise]
    assert solution.count(old) == 1
    wrong = solution.replace(old, new)
    message = flag(wrong, exercise)
    assert function not in (message or "")
    if len(likeness.source_prints(solution)) == 1:
        assert message is None


# -- the prints themselves -----------------------------------------------------------------

def test_code_prints_see_through_names_docstrings_and_wrappers():
    namespace = {}
    exec("import numpy as np\n"
         "def f(x, w):\n    out = np.maximum(x @ w, 0)\n    return out, out\n"
         "def g(a, b):\n    '''Mine.'''\n    # a comment\n    'a string as a comment'\n"
         "    c = np.maximum(a @ b, 0)\n\n    return c, c\n"
         "def h(x, w):\n    out = np.maximum(x @ w, 1)\n    return out, out\n"
         "class A:\n    def one(self, x):\n        return x + 1\n"
         "    def two(self, x):\n        return x * 2\n"
         "    @staticmethod\n    def three(x):\n        return f(x, x)\n"
         "class B:\n    def two(self, x):\n        return x * 2\n"
         "    def one(self, x):\n        return x + 1\n", namespace)
    f, g, h = namespace["f"], namespace["g"], namespace["h"]
    assert likeness.code_prints(f) == likeness.code_prints(g)
    assert likeness.code_prints(f) != likeness.code_prints(h)  # one constant apart
    assert likeness.code_prints(functools.partial(f, 1)) == likeness.code_prints(f)
    assert likeness.code_prints(namespace["A"]().one) == likeness.code_prints(namespace["A"].one)
    assert likeness.code_prints(f.__code__) == likeness.code_prints(f)
    A, B = namespace["A"], namespace["B"]
    assert likeness.code_prints(A) != likeness.code_prints(B)  # A has a third method
    del A.three
    assert likeness.code_prints(A) == likeness.code_prints(B)  # the order of methods aside
    with pytest.raises(TypeError):
        likeness.code_prints(len)


def test_source_prints_keep_what_is_computed():
    prints = likeness.source_prints(
        "def f(x):\n    n = len(x)\n    return np.maximum(x, 0).sum() / n\n"
        "def g(y):\n    m = len(y)\n    return numpy.maximum(y, 0).sum() / m\n"
        "def h(x):\n    n = max(x)\n    return np.maximum(x, 0).sum() / n\n"
        "def k(x):\n    n = len(x)\n    return np.minimum(x, 0).sum() / n\n"
        "def j(me, y):\n    m = len(y)  # a comment\n\n    return np.maximum(y, 0).sum() / m\n"
        "class C:\n    def f(self, x: float) -> float:\n        '''Doc.'''\n"
        "        n: int = len(x)\n        return np.maximum(x, 0).sum() / n\n")
    assert list(prints) == ["f", "g", "h", "k", "j", "C.f"]
    assert prints["f"] == prints["g"]  # names aside
    assert prints["j"] == prints["C.f"]  # names, annotations, docstring, comments aside
    assert prints["j"] != prints["f"]  # one more argument
    assert prints["h"] != prints["f"]  # another builtin
    assert prints["k"] != prints["f"]  # another attribute
    assert likeness.source_prints("def f(x):\n  return (") == {}
    assert likeness.source_prints("%matplotlib inline\ndef f(x):\n    return x\n").keys() == {"f"}


def test_substantial():
    def node(source):
        return ast.parse(source).body[0]
    assert not likeness.substantial(node("def f(lam):\n    '''Half.'''\n    return lam / 2"))
    assert likeness.substantial(node("def f(x):\n    out = np.maximum(x, 0)\n    return out, out"))
    assert likeness.substantial(node(
        "def f(x, y):\n    return np.log(np.exp(x - x.max(1, keepdims=True)).sum(1)) + y * 2 - x"))

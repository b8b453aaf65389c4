"""The code the chapters show with ``show_source`` is the code a reader should learn from:
public names, short functions, the plain formulas (not the fast path beside them)."""

import ast
import inspect
from pathlib import Path

import nbformat
import pytest

from cifar_mlp.provenance import without_docstrings

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
MAX_CODE_LINES = 40  # per shown object, docstring and blank lines not counted


def code_cells(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def shown_expressions(sources: list[str]) -> list[str]:
    """The arguments of every ``show_source(...)`` call, as source text."""
    shown = []
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "show_source"):
                shown += [ast.unparse(argument) for argument in node.args]
    return shown


def imported_names(sources: list[str]) -> dict:
    """The namespace the notebook's import statements build (nothing else is run)."""
    namespace = {}
    for source in sources:
        for node in ast.parse(source).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                exec(compile(ast.Module([node], []), "<notebook>", "exec"), namespace)
    return namespace


def code_lines(obj) -> int:
    """Lines of source without docstrings, comments and blank lines."""
    tree = without_docstrings(ast.parse(inspect.cleandoc("\n" + inspect.getsource(obj))))
    return len(ast.unparse(tree).splitlines())  # unparse drops comments and blank lines


def problems(expression: str, obj) -> list[str]:
    """Why ``obj``, shown as ``expression``, is not reading-path code (empty when it is)."""
    found = []
    dotted = f"{obj.__module__}.{obj.__qualname__}"
    if any(part.startswith("_") for part in dotted.split(".") + expression.split(".")):
        found.append(f"{expression} ({dotted}) is private")
    if obj.__module__ == "cifar_mlp.fast":
        found.append(f"{expression} is the fast path, not the plain formula")
    if code_lines(obj) > MAX_CODE_LINES:
        found.append(f"{expression} has {code_lines(obj)} lines of code (> {MAX_CODE_LINES})")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_shown_code_is_public_short_and_plain(path):
    sources = code_cells(nbformat.read(path, as_version=4))
    namespace = imported_names(sources)
    found = [problem for expression in shown_expressions(sources)
             for problem in problems(expression, eval(expression, namespace))]
    assert found == []


def test_the_chapters_show_the_plain_optimizers_and_training_loop():
    sources = [s for path in NOTEBOOKS for s in code_cells(nbformat.read(path, as_version=4))]
    shown = set(shown_expressions(sources))
    assert {"SGD", "Adam", "train", "train_epoch", "minibatches"} <= shown
    namespace = imported_names(sources)
    assert namespace["SGD"].__module__ == namespace["Adam"].__module__ == "cifar_mlp.optim"


def test_the_check_catches_private_long_and_fast_code():
    from cifar_mlp import fast
    from cifar_mlp.model import MLP  # the whole class: far more than a screen

    sources = ["from cifar_mlp.fast import FastSGD\nfrom cifar_mlp.model import MLP\n"
               "show_source(MLP.__init__, FastSGD)"]
    namespace = imported_names(sources)
    expressions = shown_expressions(sources)
    assert expressions == ["MLP.__init__", "FastSGD"]
    assert any("private" in p for p in problems(expressions[0], eval(expressions[0], namespace)))
    assert any("fast path" in p for p in problems("FastSGD", fast.FastSGD))
    assert any("lines of code" in p for p in problems("MLP", MLP))
    assert problems("MLP.loss", MLP.loss) == []


def stale_shown_code(notebook) -> list[str]:
    """The ``show_source(...)`` cells whose stored output is not the package's code today."""
    sources = code_cells(notebook)
    namespace = imported_names(sources)
    stale = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or "show_source(" not in cell.source:
            continue
        current = "\n\n".join(inspect.getsource(eval(expression, namespace))
                              for expression in shown_expressions([cell.source]))
        stored = [output.get("data", {}).get("text/plain", "").rstrip("\n") for output in cell.outputs]
        if stored != [current.rstrip("\n")]:  # a stored output keeps no final newline
            stale.append(cell.source)
    return stale


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_committed_outputs_show_the_package_code_of_today(path):
    """The freshness of the shown code: a notebook's own code can be unchanged while the
    package code it displays has moved on (chapter 2 once showed an older Adam)."""
    assert stale_shown_code(nbformat.read(path, as_version=4)) == []


def test_shown_code_older_than_the_package_is_caught():
    notebook = nbformat.read(NOTEBOOKS[2], as_version=4)  # chapter 3, which shows Adam
    namespace = imported_names(code_cells(notebook))
    for cell in notebook.cells:  # first every shown output as fresh as the package ...
        if cell.cell_type == "code" and "show_source(" in cell.source:
            cell.outputs = [{"output_type": "display_data", "metadata": {}, "data": {
                "text/plain": "\n\n".join(inspect.getsource(eval(expression, namespace))
                                           for expression in shown_expressions([cell.source]))}}]
    assert stale_shown_code(notebook) == []
    cell = next(c for c in notebook.cells if c.cell_type == "code" and "show_source(Adam)" in c.source)
    old = cell.outputs[0]["data"]["text/plain"]  # ... then one of them from an older Adam
    cell.outputs[0]["data"]["text/plain"] = old.replace("self.eps", "1e-8")
    assert stale_shown_code(notebook) == [cell.source]

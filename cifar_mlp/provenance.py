"""What outputs were produced from: a notebook's code cells (for its stored outputs),
the package's code (for a saved model)."""

import ast
import hashlib
import importlib
import inspect
from importlib.resources import files
from pathlib import Path

PACKAGE = Path(str(files(__package__)))  # the package's modules, read as text, never run
STAMP_KEY = "cifar_mlp"  # the notebook metadata key that scripts/execute_notebooks.py writes


def code_hash(notebook) -> str:
    """SHA-256 of the code cells' sources, in order (markdown edits do not stale outputs)."""
    digest = hashlib.sha256()
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            source = cell["source"]
            digest.update(("".join(source) if isinstance(source, list) else source).encode())
            digest.update(b"\0")
    return digest.hexdigest()


def imported(name: str, package: Path = PACKAGE) -> set:
    """The modules of ``package`` (a folder of modules) that its module ``name`` imports:
    ``from .x import y``, ``from . import x``, ``import cifar_mlp.x``."""
    found = set()
    for node in ast.walk(ast.parse((package / f"{name}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    found = {module.removeprefix(f"{package.name}.").split(".")[0] for module in found}
    return {module for module in found if (package / f"{module}.py").is_file()}


def depends_on(*names: str, package: Path = PACKAGE) -> tuple:
    """``names`` and every module of ``package`` they import, directly or through
    others, sorted: the code that what they make depends on. Derived from the imports, so
    a module the training starts to use cannot be left out of a model's fingerprint."""
    found, waiting = set(), list(names)
    while waiting:
        name = waiting.pop()
        if name not in found:
            found.add(name)
            waiting += imported(name, package)
    return tuple(sorted(found))


# The modules whose code decides what a trained NumPy model is: the recipes, the training
# loop and all they import. An edit to any of them (not to a docstring or a comment)
# retrains the models saved before it.
TRAINING_MODULES = depends_on("experiments", "train")


def code_fingerprint(modules) -> str:
    """A hash of the code of ``modules`` (names in this package), as it is on disk:
    its syntax tree without docstrings, so that comments, blank lines and docstrings
    can change without retraining anything."""
    digest = hashlib.sha256()
    for name in modules:
        tree = without_docstrings(
            ast.parse(inspect.getsource(importlib.import_module(f"{__package__}.{name}"))))
        digest.update(f"{name}\n{ast.dump(tree)}\n".encode())
    return digest.hexdigest()[:16]


def without_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` with the docstring of every module, class and function removed (in place)."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree

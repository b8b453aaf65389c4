"""What outputs were produced from: a notebook's code cells (for its stored outputs),
the package's code (for a saved model)."""

import ast
import hashlib
import importlib
import inspect

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


# The modules whose code decides what a trained NumPy model is: an edit to any of them
# (not to a docstring or a comment) retrains the models saved before it.
TRAINING_MODULES = ("augment", "checks", "experiments", "fast", "layers", "model", "optim",
                    "preprocess", "safety", "schedules", "train")


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

"""Answers that are the book's solution or the package's own code in disguise: a flag
for the teacher, not a verdict.

Two prints of a function are compared with the prints of the published code (the
solution cells of the teacher's notebooks, and the package's functions that answer
the exercise, :attr:`cifar_mlp.teaching.base.Exercise.answers`):

* its **source print** (:func:`source_prints`), a digest of its syntax tree with
  comments, formatting, docstrings, bare string statements and type annotations gone,
  and every name (the function's, its arguments', its locals' and the globals it uses,
  such as ``np``) replaced by a canonical one in order of first appearance. Attribute
  names (``np.maximum``, ``.T``), keyword names, constants, operators and builtins
  that the function does not rebind (``len``, ``min``) are kept: they are what it
  computes. It recognizes the solution pasted with renamed variables, other comments
  or layout, or a docstring added;
* its **code print** (:func:`code_prints`), a digest of the instructions it runs,
  with the names of its locals, line numbers and its docstring left out. It recognizes
  a function that the answer cell does not show, because the cell made it at run time
  (``exec(inspect.getsource(cifar_mlp.layers))``, or the solution cell's text read from
  the teacher's notebook and run). The student's functions are printed where they
  run, in the sandboxed process (:func:`namespace_prints`); the published prints are
  made once per exercise in the trusted process (:func:`published_prints`), without
  running the solution (its source is compiled, not executed); :func:`resemblance`
  combines them into a sentence.

Limits. Only functions whose body is more than trivial are published
(:func:`substantial`: at least two statements, or one of at least 15 expression
nodes): a one-line solution such as ``return lam / 2`` or ``return W1[perm]`` is what
an honest answer writes too, so it is never flagged. Renaming that the normalization
does not undo (an attribute, a keyword, a builtin bound to another name, and for the
code print a global such as ``np``) and any restructuring (statements reordered or
split, a loop for a vectorized line, a helper function) escape it. The code print
depends on the Python version: both sides must run the same interpreter (they do: the
grader and its sandbox share one). Functions count at the top level of a cell and as
methods of its top-level classes; a flag names what matched and leaves the verdict to
the teacher.

A grader uses it in three steps::

    published = published_prints("relu_layer", solution_source)  # trusted, once per exercise
    prints = namespace_prints(namespace)  # in the sandbox, once the answer cells ran
    resemblance(answer_source, prints, published)  # a sentence naming the match, or None
"""

from __future__ import annotations

import ast
import builtins
import copy
import dis
import functools
import hashlib
import inspect
import itertools
import sys
import textwrap
import types

from .base import resolve

MIN_STATEMENTS = 2  # a function with fewer statements (docstring aside) ...
MIN_EXPRESSIONS = 15  # ... and fewer expression nodes than this is trivial: never published
_BUILTINS = frozenset(dir(builtins))
_SKIPPED = {"NOP", "EXTENDED_ARG", "CACHE", "MAKE_CELL", "COPY_FREE_VARS"}
_SAME = {"LOAD_METHOD": "LOAD_ATTR"}
_JUMPS = frozenset(dis.hasjrel + dis.hasjabs)
_LOCALS = frozenset(dis.haslocal + dis.hasfree)
_CONSTANTS, _NAMES = frozenset(dis.hasconst), frozenset(dis.hasname)


# -- source prints ---------------------------------------------------------------------

def _parse(source: str):
    """The module tree of a cell's source (IPython's ``%`` and ``!`` lines left out), or None."""
    for text in (source, "\n".join(line for line in source.splitlines()
                                   if not line.lstrip().startswith(("%", "!")))):
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError):
            pass
    return None


def _definitions(tree) -> list:
    """(qualified name, def node) of every top-level function and top-level class's method."""
    found = []
    for node in getattr(tree, "body", []):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append((node.name, node))
        elif isinstance(node, ast.ClassDef):
            found += [(f"{node.name}.{item.name}", item) for item in node.body
                      if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return found


def _strip(function):
    """Drop docstrings, bare constant statements and annotations, in place."""
    for node in list(ast.walk(function)):
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            if not isinstance(statements, list) or not statements:
                continue
            kept = []
            for statement in statements:
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                    continue  # a docstring, or a string used as a comment
                if isinstance(statement, ast.AnnAssign):
                    if statement.value is None:
                        continue
                    statement = ast.Assign(targets=[statement.target], value=statement.value)
                kept.append(statement)
            setattr(node, field, kept or [ast.Pass()])
        if isinstance(node, ast.arg):
            node.annotation = None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
    return function


def _bound(function) -> set:
    """The names the function binds (arguments, assignments, defs, imports...)."""
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _rename(function):
    """Every name, canonically (``_0``, ``_1`` ... in order of first appearance), in place;
    builtins the function does not bind keep their names."""
    canonical, bound = {}, _bound(function)

    def name(old):
        return canonical.setdefault(old, f"_{len(canonical)}")

    for node in ast.walk(function):
        if isinstance(node, ast.Name):
            if node.id not in _BUILTINS or node.id in bound:
                node.id = name(node.id)
        elif isinstance(node, ast.arg):
            node.arg = name(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            node.name = name(node.name)
        elif isinstance(node, ast.alias) and node.asname:
            node.asname = name(node.asname)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            node.names = [name(n) for n in node.names]
        elif isinstance(node, ast.ExceptHandler) and node.name:
            node.name = name(node.name)
    return function


def _normalized(function):
    """A normalized copy of a def node (the original is left as it was)."""
    return _rename(_strip(copy.deepcopy(function)))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _source_print(function) -> str:
    return _digest(ast.dump(_normalized(function), annotate_fields=False,
                            include_attributes=False))


def substantial(function) -> bool:
    """Whether a def node is more than trivial: at least :data:`MIN_STATEMENTS` statements
    (nested ones counted) or :data:`MIN_EXPRESSIONS` expression nodes, once docstrings,
    string statements and annotations are gone. ``def relu_forward(x): out =
    np.maximum(x, 0); return out, out`` is; ``def f(lam): return lam / 2`` is not."""
    body = _normalized(function).body
    nodes = [node for statement in body for node in ast.walk(statement)]
    statements = sum(isinstance(node, ast.stmt) and not isinstance(node, ast.Pass)
                     for node in nodes)
    expressions = sum(isinstance(node, ast.expr) for node in nodes)
    return statements >= MIN_STATEMENTS or expressions >= MIN_EXPRESSIONS


def source_prints(source: str) -> dict[str, str]:
    """{qualified name: source print} of every function defined at the top level of a
    cell's source and every method of its top-level classes; {} when it does not parse."""
    return {name: _source_print(node) for name, node in _definitions(_parse(source))}


# -- code prints -----------------------------------------------------------------------

def _function(obj):
    """The plain function (or class, or code object) behind a partial, a bound method,
    a static or class method, a property or a decorator that used ``functools.wraps``."""
    for _ in range(100):  # a partial of a partial of ...: not forever
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif isinstance(obj, property):
            obj = obj.fget
        elif isinstance(obj, (types.MethodType, staticmethod, classmethod)):
            obj = obj.__func__
        elif isinstance(obj, types.FunctionType) and "__wrapped__" in vars(obj):
            obj = obj.__wrapped__
        else:
            break
    return obj


def _methods(cls) -> list:
    """(name, plain function) of every method a class defines itself, in definition order."""
    members = [(name, _function(value)) for name, value in vars(cls).items()]
    return [(name, f) for name, f in members if isinstance(f, types.FunctionType)]


def _constant(value):
    """A constant as the code print sees it: nested code by its own print, sets sorted."""
    if isinstance(value, types.CodeType):
        return ("code", code_prints(value))
    if isinstance(value, tuple):
        return tuple(_constant(item) for item in value)
    if isinstance(value, frozenset):  # its order follows string hashing: per process
        return ("frozenset", tuple(sorted(repr(_constant(item)) for item in value)))
    return (type(value).__name__, repr(value))


def _instructions(code) -> list:
    """The instructions of a code object as (operation, argument) pairs, independent of
    names of locals, line numbers and the compilation unit (see :func:`code_prints`)."""
    everything, kept, index = list(dis.get_instructions(code)), [], {}
    for instruction in everything:
        index[instruction.offset] = len(kept)  # a jump to a NOP lands on what follows it
        if instruction.opname not in _SKIPPED:
            kept.append(instruction)
    count = (code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & inspect.CO_VARARGS)
             + bool(code.co_flags & inspect.CO_VARKEYWORDS))
    arguments, slots, form = code.co_varnames[:count], {}, []
    for instruction in kept:
        operation, name = _SAME.get(instruction.opname, instruction.opname), instruction.argval
        if instruction.opcode in _JUMPS:
            argument = index.get(name, name)
        elif instruction.opcode in _LOCALS:  # arguments by position, others by first use
            argument = (arguments.index(name) if name in arguments
                        else slots.setdefault(name, count + len(slots)))
        elif instruction.opcode in _CONSTANTS:
            argument = _constant(name)
        elif instruction.opcode in _NAMES:
            argument = name  # a global's or an attribute's name
        else:
            argument = instruction.arg
        form.append((operation, argument))
    # a closure's variables are gathered in the order of their names: sort them back
    runs = [list(group) for _, group in itertools.groupby(form, lambda pair: pair[0])]
    return [pair for run in runs
            for pair in (sorted(run) if run[0][0] == "LOAD_CLOSURE" else run)]


def code_prints(obj) -> str:
    """A digest of what a function runs: its instructions, with the constants they load
    (nested functions and comprehensions by their own code prints), the global and
    attribute names they use and jumps counted in instructions, but locals by number.

    Left out: names of locals (arguments are numbered by position, other locals in the
    order the code first uses them, and a closure's variables, which CPython orders by
    name, are sorted by those numbers), line numbers, the function's name, its
    docstring (never loaded), NOPs (a string statement used as a comment leaves one),
    EXTENDED_ARGs, the cells' bookkeeping (MAKE_CELL, COPY_FREE_VARS) and try blocks'
    exception tables. ``LOAD_METHOD`` counts as ``LOAD_ATTR`` and a ``LOAD_GLOBAL``'s
    NULL as nothing: CPython 3.11 compiles ``np.maximum(x, 0)`` to either, depending on
    whether the same source imports ``np``; so the solution cell run alone and run
    after ``import numpy as np`` print alike.

    Accepts a function, a code object, a bound method, a ``functools.partial``, a
    decorated function (through ``__wrapped__``) or a class: a class's print combines
    its own methods' prints (sorted, so their order does not matter);
    :func:`namespace_prints` also gives each method's print on its own.
    """
    obj = _function(obj)
    if isinstance(obj, type):
        return _digest(repr(("class", sorted(code_prints(f) for _, f in _methods(obj)))))
    code = obj if isinstance(obj, types.CodeType) else getattr(obj, "__code__", None)
    if not isinstance(code, types.CodeType):
        raise TypeError(f"code_prints: {obj!r} is not a Python function, code object or class")
    return _digest(repr(_instructions(code)))


def namespace_prints(namespace: dict) -> dict[str, str]:
    """{name: code print} of the functions and classes an answer defined in ``namespace``
    (its globals after its cell ran), with ``Class.method`` for each method of a class.

    For the sandboxed process: it calls this and reports the result. Objects imported
    from a loaded module (``from cifar_mlp.layers import relu_forward``) are left out:
    they are the module's own, which :func:`cifar_mlp.teaching.base.package_origin`
    refuses already. Those made by ``exec`` count, whatever module they claim."""
    prints = {}
    for name, value in list(namespace.items()):
        obj = _function(value)
        if isinstance(obj, (types.FunctionType, type)) and not _imported(obj, namespace):
            prints[name] = code_prints(obj)
            if isinstance(obj, type):
                prints.update({f"{name}.{method}": code_prints(f)
                               for method, f in _methods(obj)})
    return prints


def _imported(obj, namespace: dict) -> bool:
    """Whether ``obj`` is a loaded module's own object (not one defined in ``namespace``)."""
    claimed = vars(obj).get("__module__") if isinstance(obj, type) else obj.__module__
    module = sys.modules.get(claimed) if isinstance(claimed, str) else None
    if module is None or vars(module) is namespace:
        return False
    found = module
    try:  # a module's __getattr__ may be anyone's code
        for part in obj.__qualname__.split("."):
            found = getattr(found, part, None)
    except Exception:
        return False
    return _function(found) is obj


# -- the published prints, and the comparison ---------------------------------------------

def _compiled(source: str) -> dict:
    """{qualified name: code object} of the functions in ``source``, compiled, never run."""
    try:
        module = compile(source, "<solution>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return {}
    codes, todo = {}, [module]
    while todo:
        for constant in todo.pop().co_consts:
            if isinstance(constant, types.CodeType):
                codes.setdefault(getattr(constant, "co_qualname", constant.co_name), constant)
                todo.append(constant)
    return codes


def _def_node(function):
    """The def node of a function's source, or None when its source is not available."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return None
    return next((node for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))), None)


def published_prints(exercise: str, solution_source: str | None) -> dict[str, str]:
    """{print: what it is} of the published code answering ``exercise``: both prints of
    every substantial function in the teacher's solution cell (``solution_source``;
    compiled, not run) and of every substantial function or method named in
    ``EXERCISES[exercise].answers`` (imported here, in the trusted process; names that
    do not import are skipped). When the book's solution and the package's function
    are the same, the book's solution names it."""
    from .checks import EXERCISES

    published = {}
    tree = _parse(solution_source or "")
    codes = _compiled(solution_source) if solution_source else {}
    for name, node in _definitions(tree):
        if substantial(node):
            what = f"the book's solution ({name})"
            published.setdefault(_source_print(node), what)
            if name in codes:
                published.setdefault(code_prints(codes[name]), what)
    info = EXERCISES.get(exercise)
    for dotted in (info.answers if info else ()):
        obj = _function(resolve(dotted))
        owner = "the package's" if dotted.split(".")[0] == "cifar_mlp" else "the library's"
        members = ([(f"{dotted}.{name}", f) for name, f in _methods(obj)]
                   if isinstance(obj, type) else [(dotted, obj)])
        counted = False
        for label, function in members:
            if not isinstance(function, types.FunctionType):
                continue
            node = _def_node(function)
            if node is not None and not substantial(node):
                continue
            counted = True
            published.setdefault(code_prints(function), f"{owner} {label}")
            if node is not None:
                published.setdefault(_source_print(node), f"{owner} {label}")
        if counted and isinstance(obj, type):
            published.setdefault(code_prints(obj), f"{owner} {dotted}")
    return published


def resemblance(answer_source: str | None, functions_code: dict[str, str],
                published: dict[str, str]) -> str | None:
    """A sentence naming what in an answer is published code, or None.

    ``answer_source`` is the answer cell's text (its source prints are compared);
    ``functions_code`` is {name: code print} of the functions the answer defined at run
    time (:func:`namespace_prints`, from the sandboxed process); ``published`` comes
    from :func:`published_prints`. E.g. "relu_forward is the book's solution
    (relu_forward)"; a function matched only by what it runs is said to be so."""
    found = {}
    for name, digest in source_prints(answer_source or "").items():
        if digest in published:
            found.setdefault(name, f"{name} is {published[digest]}")
    for name, digest in functions_code.items():
        if digest in published and name.partition(".")[0] not in found:  # a class says it all
            found.setdefault(name, f"{name}, as the cell defines it when it runs, "
                                   f"is {published[digest]}")
    return "; ".join(found.values()) or None

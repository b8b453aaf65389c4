"""One submission, graded inside the sandbox (the grader starts it; nothing else should):

    python -m cifar_mlp.teaching.runner job.json

``job.json`` holds the teacher's set-up code of the chapter's Exercises section (its
imports), and for each exercise the source of the student's answer cell and the
names the check takes. The teacher's checks are imported first, and the runner keeps
its own references to them and a fingerprint of the teacher's code; then the answers
are defined, and each check is called on them. A check passes when it returns; an
answer that changed the teacher's code fails every check from then on.

Everything the student's code prints goes to ``output.txt``; the verdicts, one JSON
line per exercise (``{"exercise", "passed", "message"}``) prefixed by :data:`MARK`, go
to the runner's own copy of its standard output.
"""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

MARK = "@@verdict "
WATCHED = ("numpy", "math", "builtins")  # besides the package: what an answer must leave alone


def fingerprint() -> dict:
    """{(module, name): identity of its value (and code)} for every global of the
    package's modules, NumPy's namespace, math and the builtins: what an answer must
    not change."""
    prints = {}
    for module_name, module in list(sys.modules.items()):
        if module is None or not (module_name in WATCHED or module_name == "cifar_mlp"
                                  or module_name.startswith("cifar_mlp.")):
            continue
        for name, value in list(vars(module).items()):
            code = value.__code__ if isinstance(value, types.FunctionType) else None
            prints[module_name, name] = (id(value), id(code))
    return prints


def changed(before: dict) -> str | None:
    """The first global of ``before`` that is now another object, as ``module.name``."""
    for (module_name, name), identity in before.items():
        value = vars(sys.modules.get(module_name, types.ModuleType(module_name))).get(name)
        code = value.__code__ if isinstance(value, types.FunctionType) else None
        if (id(value), id(code)) != identity:
            return f"{module_name}.{name}"
    return None


def define(source: str, namespace: dict, label: str) -> str | None:
    """Run a cell's source in ``namespace``; the error it raised, as a message, or None."""
    try:
        exec(compile(source, label, "exec"), namespace)
    except BaseException as error:  # a student's cell may raise anything, SystemExit included
        return f"the cell raised {type(error).__name__}: {error}"
    return None


def call(check, arguments: list, namespace: dict) -> str | None:
    """Call ``check`` on the named functions; the reason it failed, or None when it passed."""
    missing = [name for name in arguments if name not in namespace]
    if missing:
        return f"{missing[0]} is not defined in the answer cell"
    try:
        check(*(namespace[name] for name in arguments))
    except AssertionError as failed:
        return str(failed)
    except BaseException as error:
        return f"{type(error).__name__}: {error}"
    return None


def grade(job: dict, report) -> None:
    from . import checks
    from .base import answer_codes

    own_checks = {e["name"]: getattr(checks, e["name"]) for e in job["exercises"]}
    for e in job["exercises"]:  # the answers' modules, loaded before the fingerprint
        answer_codes(checks.EXERCISES[e["name"]].answers)
    before = fingerprint()
    namespace = {"__name__": "__submission__"}
    for index, source in enumerate(job["setup"]):
        problem = define(source, namespace, f"<set-up cell {index + 1}>")
        if problem:
            raise RuntimeError(f"the teacher's set-up cell failed: {problem}")
    definitions = {e["name"]: define(e["solution"], namespace, f"<answer to {e['name']}>")
                   if e["solution"] is not None else "the answer cell is missing"
                   for e in job["exercises"]}
    tampered = changed(before)
    for e in job["exercises"]:
        message = definitions[e["name"]]
        if message is None and not tampered:
            message = call(own_checks[e["name"]], e["arguments"], namespace)
            tampered = changed(before)
        if tampered:
            message = (f"the submission changed the teacher's code ({tampered}): no check "
                       "can be trusted after that")
        print(MARK + json.dumps({"exercise": e["name"], "passed": message is None,
                                 "message": message or "passed"}), file=report, flush=True)


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    report = os.fdopen(os.dup(1), "w")
    output = open("output.txt", "w")
    os.dup2(output.fileno(), 1)
    os.dup2(output.fileno(), 2)
    grade(job, report)


if __name__ == "__main__":
    main()

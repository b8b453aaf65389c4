"""A submission's process: the student's answers, run in the sandbox, serving calls.

    python -m cifar_mlp.teaching.worker job.json      (the checker starts it; nothing else should)

``job.json`` holds the teacher's set-up code of the chapter's Exercises section (its
imports) and the source of each of the student's answer cells. The worker runs them,
says which answers could be defined, then answers the checker's requests over its
standard input and output (:mod:`.wire`): hand over a function by name, call it, read
an attribute or item of something it returned. It never says whether an answer is
right: the checks and their verdicts are in the checker, out of this process's reach.
What the student's code prints goes to ``output.txt`` in the working folder.

Before a function is handed over, the worker notes whether it is the package's own
(an answer imported instead of written), the print of its code for the teacher's flag
(:mod:`.likeness`), and wraps it so that it fails when it calls the package's answer
(:func:`.base.watched`). These run beside the student's code and only inform: they
can hide a flag, never earn a point.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

import numpy as np

from . import wire


def define(source: str, namespace: dict, label: str) -> str | None:
    """Run a cell's source in ``namespace``; the error it raised, as a message, or None."""
    try:
        exec(compile(source, label, "exec"), namespace)
    except BaseException as error:  # a student's cell may raise anything, SystemExit included
        return f"the cell raised {type(error).__name__}: {error}"
    return None


class Worker:
    def __init__(self, requests: int, replies: int, namespace: dict):
        self.requests, self.replies, self.namespace = requests, replies, namespace
        self.handles: dict = {}
        self.prints: dict | None = None  # the code prints of what the answers defined, once
        self.given: list = []  # what the last call was given, to copy back

    def reply(self, **message) -> None:
        wire.send(self.replies, message)

    def encode(self, value):
        return wire.Encoder(self.handles)(value)

    def decode(self, value):
        decoder = wire.Decoder(self.object_of, objects=True)
        result = decoder(value)
        self.given.extend(decoder.mutable)
        return result

    def object_of(self, handle, _type):
        if handle not in self.handles:
            raise wire.ProtocolError(f"no object {handle!r} here")
        return self.handles[handle]

    def hand_over(self, name: str, answers: list):
        """The student's function ``name``, watched, with what the teacher's flag needs."""
        from .base import package_origin, watched
        from .likeness import namespace_prints

        if name not in self.namespace:
            raise NameError(f"{name} is not defined in the answer cell")
        function = self.namespace[name]
        if self.prints is None:
            try:
                self.prints = namespace_prints(self.namespace)
            except Exception:  # whatever the answer defined, the flag is only a note
                self.prints = {}
        origin = package_origin(function) if callable(function) else None
        return {"function": self.encode(watched(function, tuple(answers))), "origin": origin,
                "print": self.prints.get(name)}

    def handle(self, request: dict):
        op = request.get("op")
        if op == "function":
            return self.hand_over(str(request["name"]), list(request.get("answers", [])))
        target = self.object_of(request.get("target"), None)
        if op == "call":
            self.given = []
            args = self.decode(request.get("args", {"$": "list", "items": []}))
            kwargs = self.decode(request.get("kwargs", {"$": "dict", "items": []}))
            before = [a.copy() if isinstance(a, np.ndarray) else None for a in self.given]
            result = target(*args, **kwargs)
            return {"value": self.encode(result), "copy_back": [
                self.encode(changed_state(value, old)) for value, old in zip(self.given, before)]}
        if op == "getattr":
            return {"value": self.encode(getattr(target, str(request.get("name"))))}
        if op == "getitem":
            return {"value": self.encode(target[self.decode(request.get("key"))])}
        if op == "len":
            return {"value": len(target)}
        if op == "list":
            return {"value": self.encode(list(target))}
        if op == "array":
            return {"value": self.encode(np.asarray(target))}
        if op == "repr":
            return {"value": repr(target)[:300]}
        raise wire.ProtocolError(f"unknown request {op!r}")

    def serve(self) -> None:
        while True:
            try:
                request = wire.receive(self.requests)
            except EOFError:
                return
            if request.get("op") == "exit":
                return
            try:
                self.reply(ok=self.handle(request))
            except BaseException as error:  # whatever the student's code raised, say so
                if isinstance(error, wire.ProtocolError):
                    kind = "ProtocolError"
                else:
                    kind = type(error).__name__
                self.reply(error={"type": kind, "message": str(error)[:2000],
                                  "traceback": traceback.format_exc(limit=-3)[-2000:]})


def changed_state(value, before):
    """What to copy back of an argument after a call: an array or generator when it
    changed, an object's attributes always, None when nothing changed."""
    if isinstance(value, np.ndarray):
        return value if before is None or not np.array_equal(value, before, equal_nan=True) else None
    if isinstance(value, np.random.Generator):
        return value
    return dict(vars(value)) if wire.is_package_object(value) else None


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    # The protocol keeps private copies of standard input and output; the student's
    # code reads nothing and prints into output.txt.
    requests, replies = os.dup(0), os.dup(1)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    output = os.open("output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(output, 1)
    os.dup2(output, 2)
    namespace = {"__name__": "__submission__"}
    for index, source in enumerate(job["setup"]):
        problem = define(source, namespace, f"<set-up cell {index + 1}>")
        if problem:
            wire.send(replies, {"setup_failed": problem})
            return
    defined = {name: define(source, namespace, f"<answer to {name}>")
               if source is not None else "the answer cell is missing"
               for name, source in job["answers"].items()}
    wire.send(replies, {"ready": defined})
    Worker(requests, replies, namespace).serve()


if __name__ == "__main__":
    main()

"""One submission's checks, run where the submission cannot reach them.

    python -m cifar_mlp.teaching.checker < job.json     (the grader starts it; nothing else should)

The grader starts one checker per submission. The checker starts the submission's own
process (:mod:`.worker`) in the sandbox, with the student's answers, and runs the
teacher's checks here, in its own process: each check calls the student's functions
through a pipe (:mod:`.wire`), and judges what comes back. So the verdicts are made
and written where the student's code has no access: it cannot print them, write them
to a file or a descriptor, patch the checks, or end its process with a good score; it
can only give answers. When the checks are over, the submission's process and every
process it started are killed (the checker is their subreaper), and the verdicts go to
the grader on the checker's own standard output, as one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import sandbox, wire

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # cifar_mlp/, copied into each sandbox


class Remote:
    """Stands for an object that lives in the submission's process: calling it, reading
    an attribute or an item, or making an array of it is a request over the wire."""

    __slots__ = ("_client", "_handle")

    def __init__(self, client: "Client", handle):
        object.__setattr__(self, "_client", client)
        object.__setattr__(self, "_handle", handle)

    def _ask(self, op: str, **fields):
        return self._client.decode(self._client.request(op=op, target=self._handle, **fields)["value"])

    def __call__(self, *args, **kwargs):
        return self._client.call(self._handle, args, kwargs)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._ask("getattr", name=name)

    def __getitem__(self, key):
        return self._ask("getitem", key=wire.Encoder()(key))

    def __len__(self) -> int:
        return int(self._ask("len"))

    def __iter__(self):
        return iter(self._ask("list"))

    def __array__(self, dtype=None, copy=None):
        array = np.asarray(self._ask("array"))
        return array if dtype is None else array.astype(dtype)

    def __float__(self) -> float:
        return float(np.asarray(self))

    def __int__(self) -> int:
        return int(np.asarray(self))

    def __repr__(self) -> str:
        return str(self._ask("repr"))


_REMOTE_TYPES: dict = {}


def remote_type(name: str) -> type:
    """A :class:`Remote` subclass named as the object's own type, so that a check's
    message ("got a Foo") names what the student returned."""
    if name not in _REMOTE_TYPES:
        _REMOTE_TYPES[name] = type(name if name.isidentifier() else "Remote", (Remote,),
                                   {"__slots__": ()})
    return _REMOTE_TYPES[name]


class Client:
    """The checker's end of the wire to one submission's process."""

    def __init__(self, process, deadline: float, started: float):
        self.process, self.deadline, self.started = process, deadline, started

    def gone(self, what: str) -> wire.WorkerGone:
        try:
            status = self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            status = None
        ended = "is still running" if status is None else f"ended with status {status}"
        return wire.WorkerGone(f"the submission's process {what} (it {ended}): no check can "
                               "go on after that")

    def receive(self) -> dict:
        try:
            return wire.receive(self.process.stdout.fileno(), self.deadline)
        except wire.TimedOut:
            raise wire.TimedOut(f"stopped after {time.monotonic() - self.started:.0f} s, the "
                                "time limit for a whole submission (an endless loop?)") from None
        except EOFError:
            raise self.gone("stopped answering") from None
        except (wire.ProtocolError, OSError) as error:
            raise self.gone(f"sent something that is not an answer ({error})") from None

    def request(self, **message) -> dict:
        try:
            wire.send(self.process.stdin.fileno(), message)
        except OSError:
            raise self.gone("stopped listening") from None
        reply = self.receive()
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            raise wire.remote_error(str(error.get("type", "Exception")), str(error.get("message", "")))
        if not isinstance(reply.get("ok"), dict):
            raise self.gone("broke the protocol")
        return reply["ok"]

    def decode(self, value):
        return wire.Decoder(lambda handle, kind: remote_type(kind)(self, handle))(value)

    def call(self, handle, args, kwargs):
        encoder = wire.Encoder()
        sent_args, sent_kwargs = encoder(list(args)), encoder(dict(kwargs))
        reply = self.request(op="call", target=handle, args=sent_args, kwargs=sent_kwargs)
        value = self.decode(reply.get("value"))
        returned = reply.get("copy_back")
        if isinstance(returned, list) and len(returned) == len(encoder.mutable):
            for original, changed in zip(encoder.mutable, returned):
                if changed is not None:
                    wire.copy_back(original, self.decode(changed))
        return value


def check_exercise(client: Client, exercise: dict) -> tuple[bool, str, list]:
    """Run one exercise's check on the student's functions: (passed, message, the code
    prints of the functions, for the teacher's flag)."""
    from . import checks
    from .base import EXERCISES, CheckFailed, judge

    info = EXERCISES[exercise["name"]]
    try:
        handed = [client.request(op="function", name=name, answers=list(info.answers))
                  for name in exercise["arguments"]]
    except Exception as error:  # a name the answer cell does not define
        return False, f"{info.title}: {error}", []
    functions = [client.decode(h.get("function")) for h in handed]
    prints = [h.get("print") for h in handed]
    try:
        judge(info, getattr(checks, info.name).check, functions,
              [h.get("origin") for h in handed], exercise["arguments"])
    except CheckFailed as failed:
        return False, str(failed), prints
    return True, "passed", prints


def resemblance(exercise: dict, prints: list) -> str | None:
    """The teacher's flag: which function of the answer is the book's solution or the
    package's own code, by its source or by its compiled code (:mod:`.likeness`)."""
    from .likeness import published_prints, resemblance as likeness

    published = published_prints(exercise["name"], exercise.get("teacher_solution"))
    defined = {name: p for name, p in zip(exercise["arguments"], prints) if p}
    return likeness(exercise.get("solution") or "", defined, published)


def start_worker(job: dict, workdir: Path, errors):
    shutil.copytree(PACKAGE_DIR, workdir / "lib" / PACKAGE_DIR.name,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (workdir / "job.json").write_text(json.dumps(
        {"setup": job["setup"], "answers": {e["name"]: e["solution"] for e in job["exercises"]}}))
    return sandbox.start(
        [sys.executable, "-s", "-m", "cifar_mlp.teaching.worker", "job.json"], workdir,
        {"PYTHONPATH": str(workdir / "lib"), "CIFAR_MLP_PROFILE": "smoke",
         "TF_CPP_MIN_LOG_LEVEL": "2"},
        fenced=job["fenced"], time_limit=job["time_limit"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=errors, readonly=[workdir / "lib"],
        hidden=job.get("hidden", []))


def grade(job: dict) -> dict:
    """{"verdicts": {exercise: {"passed", "message", "flag"}}, "seconds"} for one submission."""
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(dir=job["scratch"]))
    workdir, verdicts, gone = scratch / "work", {}, None
    workdir.mkdir()
    with (scratch / "stderr.txt").open("w") as errors:
        process = start_worker(job, workdir, errors)
    client = Client(process, started + job["time_limit"], started)
    try:
        try:
            first = client.receive()
        except wire.WorkerGone as error:
            first, gone = {}, error
        if "setup_failed" in first:
            gone = wire.WorkerGone(f"the teacher's set-up cell failed: {first['setup_failed']}")
        defined = first.get("ready") if isinstance(first.get("ready"), dict) else {}
        if gone is None and "ready" not in first:
            gone = client.gone("broke the protocol")
        for exercise in job["exercises"]:
            name, flag, prints = exercise["name"], None, []
            if gone is not None:
                passed, message = False, str(gone)
            elif defined.get(name) is not None:
                passed, message = False, str(defined[name])
            else:
                try:
                    passed, message, prints = check_exercise(client, exercise)
                except wire.WorkerGone as error:
                    gone, passed, message = error, False, str(error)
            if prints or exercise.get("solution"):
                flag = resemblance(exercise, prints)
            verdicts[name] = {"passed": passed, "message": message, "flag": flag}
    finally:
        try:
            wire.send(process.stdin.fileno(), {"op": "exit"})
            process.wait(timeout=1)
        except (OSError, subprocess.TimeoutExpired):
            pass
        sandbox.end(process)
        shutil.rmtree(scratch, ignore_errors=True)
    return {"verdicts": verdicts, "timed_out": isinstance(gone, wire.TimedOut),
            "seconds": time.monotonic() - started}


def main() -> None:
    job = json.load(sys.stdin)
    verdicts = os.fdopen(os.dup(1), "w")  # only the verdicts go to the grader
    os.dup2(2, 1)  # what the checks print (their ✓ lines) goes to standard error
    sandbox.become_subreaper()
    json.dump(grade(job), verdicts)
    verdicts.flush()


if __name__ == "__main__":
    main()

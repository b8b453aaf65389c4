"""Running untrusted code (a student's submission) in a process of its own, fenced in.

What every run gets: a fresh working directory holding a copy of only what it needs,
a clean environment (proxies pointing nowhere), resource limits set in the child
before it starts (CPU seconds, memory, file size, processes), and an end: when its
grading is over, the process, its process group and every process it started are
killed, even one that left its session (:func:`end`, from a parent that became their
*subreaper*, so that orphans come to it instead of escaping to init).

The fence is bubblewrap (``bwrap``, Debian's package ``bubblewrap``): the whole file
system read-only, with the folders that must stay unseen (the teacher's notebooks,
the other submissions, the repository) replaced by empty ones; a private ``/tmp``;
the interpreter's own folders bound back read-only wherever they are (a virtual
environment under ``/tmp`` included); the working directory the only place it can
write; no network; its own process tree; no capabilities, even when grading as root.
:func:`fence_problem` says why the fence cannot start here, and the grader refuses to
grade without it unless the teacher asks for unfenced grading.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TIME_LIMIT = 180  # seconds for a whole submission; a chapter's checks take seconds (TensorFlow ~10)
MEMORY = 8 * 2**30  # bytes of address space (TensorFlow reserves several GB it never touches)
FILE_SIZE = 64 * 2**20  # bytes: the largest file the submission may write
PROCESSES = 256  # tasks (processes and threads) beyond those the user already runs
NOWHERE = "http://127.0.0.1:9"  # the discard port: a proxy that answers nothing
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36  # prctl(2)


@dataclass
class Finished:
    """How a sandboxed run ended: its exit status (negative: killed by that signal;
    None: stopped at the time limit) and the seconds it took."""

    returncode: int | None
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    def describe(self) -> str:
        if self.timed_out:
            return f"stopped after {self.seconds:.0f} s, the time limit for a whole submission"
        if self.returncode < 0:
            return f"the process was killed by {signal.Signals(-self.returncode).name}"
        return f"the process ended with status {self.returncode}"


@functools.lru_cache(maxsize=None)
def interpreter_folders(python: str = sys.executable) -> tuple:
    """The folders ``python`` needs to start and import what is installed: its prefixes
    and every existing entry of its ``sys.path`` (asked of the interpreter itself)."""
    asked = subprocess.run(
        [python, "-s", "-c", "import json, sys; print(json.dumps([sys.prefix, sys.base_prefix, "
                             "sys.exec_prefix, sys.base_exec_prefix, *sys.path]))"],
        capture_output=True, text=True, timeout=60, env={"PATH": os.environ.get("PATH", "")})
    folders = {Path(python).parent, Path(python).resolve().parent}
    if asked.returncode == 0:
        folders |= {Path(p) for p in json.loads(asked.stdout) if p}
    found = set()
    for folder in folders:
        for path in (folder, folder.resolve()):
            if path.exists() and str(path) != "/":
                found.add(path)
    return tuple(sorted(found))


def bwrap_prefix(workdir: Path, readonly=(), hidden=(), python: str = sys.executable) -> list[str]:
    """The bubblewrap command line that fences a run into ``workdir``: the folders
    ``hidden`` replaced by empty ones, the interpreter's folders bound back read-only,
    and the folders ``readonly`` (inside ``workdir``) read-only."""
    return ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp",
            *(arg for folder in hidden for arg in ("--tmpfs", str(folder))),
            *(arg for folder in interpreter_folders(python) if not _holds_any(folder, hidden)
              for arg in ("--ro-bind", str(folder), str(folder))),
            "--bind", str(workdir), str(workdir),
            *(arg for folder in readonly for arg in ("--ro-bind", str(folder), str(folder))),
            "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--chdir", str(workdir), "--"]


def _holds_any(folder: Path, hidden) -> bool:
    """Whether ``folder`` is one of ``hidden`` or holds one (binding it would show it)."""
    return any(Path(h).resolve() == folder or folder in Path(h).resolve().parents for h in hidden)


@functools.lru_cache(maxsize=None)
def fence_problem(python: str = sys.executable) -> str | None:
    """Why bubblewrap cannot fence ``python`` here, in a sentence; None when it can (a
    fenced interpreter started, imported NumPy, and could not write outside its folder)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    with tempfile.TemporaryDirectory(prefix="cifar-mlp-fence-probe-") as probe:
        outside, inside = Path(probe) / "outside", Path(probe) / "inside"
        inside.mkdir()
        test = f"import numpy, pathlib\ntry:\n    pathlib.Path({str(outside)!r}).write_text('x')\nexcept OSError:\n    pass"
        try:
            result = subprocess.run([*bwrap_prefix(inside, python=python), python, "-s", "-c", test],
                                    capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bubblewrap could not be started: {error}"
        escaped = outside.exists()
    said = " ".join(result.stderr.strip().splitlines()[-2:])[:300]
    if result.returncode != 0:
        return f"bubblewrap failed (exit status {result.returncode}): {said or 'no message'}"
    if escaped:
        return "a fenced process could write outside its folder"
    return None


def isolation(fenced: bool) -> str:
    """What a sandboxed run is protected by, in a sentence."""
    if fenced:
        return ("bubblewrap: read-only file system with the teacher's and the other "
                "submissions' files hidden, writable only in the submission's own folder, "
                "no network, its own process tree, no capabilities; resource and time limits")
    return (f"NOT FENCED ({fence_problem() or 'asked for'}): a folder of its own, proxies "
            "pointing nowhere, resource and time limits, every process it started killed at "
            "the end; the submission could read and write wherever your account can")


def environment(workdir: Path, extra: dict, fenced: bool) -> dict:
    """A clean environment: nothing of the grader's, the network's proxies nowhere."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8",
           "TMPDIR": "/tmp" if fenced else str(workdir),
           "MPLCONFIGDIR": str(workdir / ".matplotlib"), "PYTHONDONTWRITEBYTECODE": "1",
           "NO_PROXY": "", "no_proxy": ""}
    for name in ("http_proxy", "https_proxy", "ftp_proxy", "all_proxy"):
        env[name] = env[name.upper()] = NOWHERE
    return {**env, **extra}


def _user_tasks() -> int:
    """How many tasks (threads) the current user runs: RLIMIT_NPROC counts them all."""
    uid, count = os.getuid(), 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            continue
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            count += int(fields.get("Threads", "1"))
    return count


def _prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the process group is all there is
        pass


def _limit_resources(cpu_seconds: int, processes: int):
    """The function the child runs before it starts the submission: its limits, and
    death when its parent dies."""
    def limit():
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        for name, value in ((resource.RLIMIT_CPU, cpu_seconds), (resource.RLIMIT_AS, MEMORY),
                            (resource.RLIMIT_FSIZE, FILE_SIZE), (resource.RLIMIT_NPROC, processes),
                            (resource.RLIMIT_CORE, 0)):
            hard = resource.getrlimit(name)[1]
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(name, (value, value))
    return limit


_SUBREAPER = []  # [True] once this process is the subreaper of what it starts


def become_subreaper() -> None:
    """Make this process the one that orphans of its descendants are given to, so that
    :func:`end` finds a process the submission started in a session of its own. Only a
    process that starts nothing else should (the checker): :func:`end` then kills every
    child it has left."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _SUBREAPER[:] = [True]


def start(command: list[str], workdir: Path, env: dict, *, fenced: bool, time_limit: int,
          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
          readonly=(), hidden=()):
    """Start ``command`` in ``workdir``, fenced by bubblewrap when ``fenced``, with its
    resource limits, in a session of its own; returns the ``Popen``."""
    prefix = bwrap_prefix(workdir, readonly, hidden) if fenced else []
    return subprocess.Popen(
        [*prefix, *command], cwd=workdir, env=environment(workdir, env, fenced), stdin=stdin,
        stdout=stdout, stderr=stderr,
        start_new_session=True,
        # CPU seconds as a backstop only: on every core a process spends them faster than
        # wall-clock seconds, and the time limit is the wall clock's
        preexec_fn=_limit_resources(time_limit * (os.cpu_count() or 1) + 10,
                                    _user_tasks() + PROCESSES))


def _parents() -> dict:
    """{pid: parent pid} of every process, from one pass over /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return parents


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _descendants(pid: int) -> list[int]:
    parents, found, waiting = _parents(), [], [pid]
    while waiting:
        pid = waiting.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        found.extend(children)
        waiting.extend(children)
    return found


def end(process) -> int | None:
    """Kill ``process``, its process group, and every process it started (its
    descendants; in a subreaper, also those that left them and came to it); its exit
    status."""
    descendants = _descendants(process.pid)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.kill()
    returncode = process.wait()
    for pid in descendants:
        _kill(pid)
    for _ in range(100 if _SUBREAPER else 0):  # until none is left: a child may fork meanwhile
        left = _descendants(os.getpid())
        if not left:
            break
        for pid in left:
            _kill(pid)
        while True:  # reap them: they are this process's children now
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    break
            except ChildProcessError:
                break
        time.sleep(0.02)
    return returncode


def run(command: list[str], workdir: Path, env: dict, stdout, time_limit: int = TIME_LIMIT,
        readonly=(), fenced: bool | None = None) -> Finished:
    """Run ``command`` to its end (its output to the open file ``stdout``), killing it and
    everything it started after ``time_limit`` seconds; fenced where bubblewrap works."""
    fenced = fence_problem() is None if fenced is None else fenced
    started = time.monotonic()
    process = start(command, workdir, env, fenced=fenced, time_limit=time_limit,
                    stdout=stdout, readonly=readonly)
    try:
        returncode = process.wait(timeout=time_limit)
    except subprocess.TimeoutExpired:
        returncode = None
    finally:
        end(process)
    return Finished(returncode, time.monotonic() - started)

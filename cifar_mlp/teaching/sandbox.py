"""Running untrusted code (a student's submission) in a process of its own, fenced in.

What every run gets: a fresh working directory holding a copy of only what it needs,
a clean environment (proxies pointing nowhere), resource limits set in the child
before it starts (CPU seconds, memory, file size, processes) and one wall-clock limit
for the whole run, after which its whole process group is killed.

Where bubblewrap (``bwrap``, Debian's package ``bubblewrap``) works, the run is also
inside it: the whole file system read-only except its working directory, a private
``/tmp``, no network (a network namespace of its own), its own process tree (killed
with it), no capabilities even when the grader runs as root. :func:`isolation` says
which of the two a run gets.
"""

from __future__ import annotations

import functools
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


def bwrap_prefix(workdir: Path, readonly=()) -> list[str]:
    """The bubblewrap command line that fences a run into ``workdir``, where the
    folders ``readonly`` (inside it) stay read-only."""
    return ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp", "--bind", str(workdir), str(workdir),
            *(arg for folder in readonly for arg in ("--ro-bind", str(folder), str(folder))),
            "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--chdir", str(workdir), "--"]


@functools.lru_cache(maxsize=None)
def bubblewrap_works() -> bool:
    """Whether bubblewrap is installed and can start a fenced process here (it needs
    user namespaces, or root)."""
    if shutil.which("bwrap") is None:
        return False
    with tempfile.TemporaryDirectory() as probe:
        result = subprocess.run([*bwrap_prefix(Path(probe)), sys.executable, "-c", "pass"],
                                capture_output=True, timeout=60)
    return result.returncode == 0


def isolation() -> str:
    """What a sandboxed run is protected by, in a sentence."""
    if bubblewrap_works():
        return ("bubblewrap: read-only file system except the submission's own folder, "
                "no network, its own process tree, no capabilities; resource and time limits")
    return ("no bubblewrap here (install the package bubblewrap for the full fence): a "
            "folder of its own, proxies pointing nowhere, resource and time limits; the "
            "submission can still write wherever your account can")


def environment(workdir: Path, extra: dict) -> dict:
    """A clean environment: nothing of the grader's, the network's proxies nowhere."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8",
           "TMPDIR": "/tmp" if bubblewrap_works() else str(workdir),
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


def _limit_resources(cpu_seconds: int, processes: int):
    """The function the child runs before it starts the submission: its limits."""
    def limit():
        for name, value in ((resource.RLIMIT_CPU, cpu_seconds), (resource.RLIMIT_AS, MEMORY),
                            (resource.RLIMIT_FSIZE, FILE_SIZE), (resource.RLIMIT_NPROC, processes),
                            (resource.RLIMIT_CORE, 0)):
            hard = resource.getrlimit(name)[1]
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(name, (value, value))
    return limit


def run(command: list[str], workdir: Path, env: dict, stdout, time_limit: int = TIME_LIMIT,
        readonly=()) -> Finished:
    """Run ``command`` fenced into ``workdir`` (its output to the open file ``stdout``),
    killing it and everything it started after ``time_limit`` seconds; the folders
    ``readonly`` inside ``workdir`` stay read-only where bubblewrap works."""
    prefix = bwrap_prefix(workdir, readonly) if bubblewrap_works() else []
    start = time.monotonic()
    process = subprocess.Popen(
        [*prefix, *command], cwd=workdir, env=environment(workdir, env), stdin=subprocess.DEVNULL,
        stdout=stdout, stderr=subprocess.STDOUT, start_new_session=True,
        # CPU seconds as a backstop only: on every core a process spends them faster than
        # wall-clock seconds, and the time limit is the wall clock's
        preexec_fn=_limit_resources(time_limit * (os.cpu_count() or 1) + 10,
                                    _user_tasks() + PROCESSES))
    try:
        returncode = process.wait(timeout=time_limit)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        returncode = None
    return Finished(returncode, time.monotonic() - start)

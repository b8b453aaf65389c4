"""`make book`: train every model the chapters show, then build the HTML book; time both.

    python scripts/build_book.py

1. says which data and profile the build uses (:func:`cifar_mlp.profiles.describe`);
2. trains what is missing or stale, reloads the rest (``python -m cifar_mlp.book_runs``);
3. builds the book (``jupyter-book build --all``), whose pages only reload.

It writes ``book_build.json`` into the profile's results folder (``results/`` for a
full build): when the build ran, how long each step and the whole took, and how many
models it trained. The README and the *Reproduce it* page quote that file, so the
time they give is that of the last build that finished (a build that is still running
cannot quote itself).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cifar_mlp.profiles import active_profile, describe, load_data  # noqa: E402


def timed(command: list, capture: bool = False) -> tuple[float, str]:
    """Run ``command`` from the repository, its output shown as it comes; return the
    seconds it took and (with ``capture``) its standard output. Stops the build when
    the command fails."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, text=True,
                               stdout=subprocess.PIPE if capture else None)
    lines = []
    if capture:
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    if process.wait() != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit status {process.returncode})")
    return time.perf_counter() - started, "".join(lines)


def main() -> int:
    started, date = time.perf_counter(), time.strftime("%Y-%m-%dT%H:%M:%S%z")
    python, jupyter_book = sys.executable, str(Path(sys.executable).parent / "jupyter-book")
    profile = active_profile()
    data = load_data(profile, REPO)
    print(describe(profile, data), flush=True)
    source, steps = data.source, {"data": time.perf_counter() - started}
    del data  # the training and the notebooks load their own copies
    steps["training"], printed = timed([python, "-m", "cifar_mlp.book_runs"], capture=True)
    steps["rendering"], _ = timed([jupyter_book, "build", "--all", "--keep-going", "."])
    total = time.perf_counter() - started

    record = {
        "date": date, "profile": profile.name, "data": source,
        "seconds": round(total, 1), "steps_seconds": {k: round(v, 1) for k, v in steps.items()},
        "models": sum(line.startswith("[") for line in printed.splitlines()),
        "models_trained": sum(line.startswith("training ") for line in printed.splitlines()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    folder = profile.results_dir(REPO, source)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "book_build.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"The book is in _build/html/index.html; the whole build took {total / 60:.1f} minutes "
          f"({record['models_trained']} of {record['models']} models trained).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

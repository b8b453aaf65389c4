"""`make book`: train every model the chapters show, then build the HTML book; time both.

    python scripts/build_book.py

1. says which data and profile the build uses (:func:`cifar_mlp.profiles.describe`);
2. trains what is missing or stale, reloads the rest (``python -m cifar_mlp.book_runs``);
3. builds the book (``jupyter-book build --all``), whose pages only reload.

It writes ``book_build.json`` into the profile's results folder (``results/`` for a
full build), or ``book_rebuild.json`` when it trained nothing (every model reloaded, as
after an edit of the prose), so that a rebuild does not replace the record of the last
build that trained: when the build ran, on what processor, how long each step and the whole
took, how many models it trained, and the whole in the build's own unit, epochs of the
best recipe (the median epoch of its run, measured in this build when it trained it). The README and the *Reproduce it* page quote that file, so the
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

BEST = "best"  # the best recipe's results file: the unit of the build's length


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


def cpu_name() -> str:
    """The processor's model name (``AMD EPYC ...``), where the system says it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def in_best_recipe_epochs(seconds: float, folder: Path, printed: str) -> dict:
    """The build's length in the build's own unit: epochs of the best recipe, whose median
    epoch this build measured when it trained that model (a machine twice as fast builds
    in as many of its epochs, so the budget carries over from one machine to another)."""
    best = folder / f"{BEST}.json"
    if not best.exists():
        return {}
    epoch = json.loads(best.read_text())["seconds_per_epoch"]
    return {"best_recipe_epoch_seconds": round(epoch, 2),
            "best_recipe_trained_in_this_build": f"training {BEST} (" in printed,
            "best_recipe_epochs": round(seconds / epoch, 1)}


def record_name(record: dict) -> str:
    """Where a build's record goes: ``book_rebuild.json`` when it trained no model,
    ``book_build.json`` otherwise."""
    return "book_rebuild.json" if record["models_trained"] == 0 else "book_build.json"


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

    folder = profile.results_dir(REPO, source)
    record = {
        "date": date, "profile": profile.name, "data": source,
        "seconds": round(total, 1), "steps_seconds": {k: round(v, 1) for k, v in steps.items()},
        "models": sum(line.startswith("[") for line in printed.splitlines()),
        "models_trained": sum(line.startswith("training ") for line in printed.splitlines()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "cpu": cpu_name(),
        **in_best_recipe_epochs(total, folder, printed),
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / record_name(record)).write_text(json.dumps(record, indent=1) + "\n")
    print(f"The book is in _build/html/index.html; the whole build took {total / 60:.1f} minutes "
          f"({record['models_trained']} of {record['models']} models trained).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

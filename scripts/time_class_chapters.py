"""How long each chapter takes a class: the chapters run in the class profile from fresh
weights, in order, as a lab session runs them, each timed; and each time in epochs of
the best recipe, timed here on the same machine, the build's own unit.

    python scripts/time_class_chapters.py      (make class-timing)

The chapters run in a scratch copy of the repository (its committed data/ and results/
files and the notebooks, in a temporary folder), so the class's models train from
scratch and nothing of this checkout changes but the file this writes,
``results/class_chapters.json``, which the *Reproduce it* page shows.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "scripts")]

from cifar_mlp.experiments import RECIPES  # noqa: E402
from cifar_mlp.preprocess import prepare  # noqa: E402
from cifar_mlp.profiles import PROFILES, load_data  # noqa: E402
from cifar_mlp.runs import machine, train_recipe  # noqa: E402
from build_book import cpu_name  # noqa: E402
from cifar_mlp.execution import run_notebook  # noqa: E402

UNIT_EPOCHS = 3  # epochs of the best recipe timed for the unit (the median is kept)


def scratch_copy(folder: Path) -> Path:
    """The repository's committed data/, results/ and notebooks/ files, copied into ``folder``."""
    tracked = subprocess.run(["git", "ls-files", "data", "results", "notebooks"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, folder / name)
    return folder


def best_recipe_epoch_seconds() -> float:
    """The median seconds of an epoch of the best recipe on the full data, on this machine."""
    full = PROFILES["full"]
    prepared = prepare(load_data(full), mode="rgb", n_val=full.n_val, seed=0)
    recipe = replace(RECIPES["best"], epochs=UNIT_EPOCHS)
    # On standardized inputs: the whitening changes what an epoch sees, not its work.
    _, history = train_recipe(recipe, prepared.x_train, prepared.y_train, prepared.x_val,
                              prepared.y_val, progress=True)
    return statistics.median(history.seconds)


def main() -> int:
    os.environ["CIFAR_MLP_PROFILE"] = "class"
    os.environ["CIFAR_MLP_REQUIRE_FULL"] = "1"  # a class runs on the full data
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    seconds = {}
    with tempfile.TemporaryDirectory() as folder:
        root = scratch_copy(Path(folder))
        for path in sorted((root / "notebooks").glob("*.ipynb")):
            print(f"executing {path.name} in the class profile ...", flush=True)
            notebook = nbformat.read(path, as_version=4)
            seconds[path.stem] = round(run_notebook(notebook, path.parent), 1)
            print(f"  done in {seconds[path.stem] / 60:.1f} minutes", flush=True)
    epoch = best_recipe_epoch_seconds()
    record = {"date": started, "cpu": cpu_name(), "machine": machine(),
              "max_epochs": PROFILES["class"].max_epochs, "chapter_seconds": seconds,
              "best_recipe_epoch_seconds": round(epoch, 2)}
    (REPO / "results" / "class_chapters.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Execute notebooks in place on the full data and stamp what they were run on.

    python scripts/execute_notebooks.py notebooks/01_data.ipynb ...   (make notebooks)

Each notebook gets, in its metadata under ``cifar_mlp``: the SHA-256 of its code
cells' sources, the data it ran on ("full"), the profile, how long it took and on
what machine. tests/test_notebook_freshness.py recomputes the hash, so stale
outputs, or outputs of a smoke run, cannot be committed by accident. Its Markdown cells
keep the numbers their prose showed in this run (:mod:`cifar_mlp.execution`).
"""

import os
import platform
import sys
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cifar_mlp.execution import run_notebook  # noqa: E402
from cifar_mlp.provenance import STAMP_KEY, code_hash  # noqa: E402


def execute(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    seconds = run_notebook(notebook, path.parent)
    notebook.metadata[STAMP_KEY] = {
        "code_sha256": code_hash(notebook),
        "data": "full",
        "profile": "full",
        "seconds": round(seconds, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "executed": time.strftime("%Y-%m-%d"),
    }
    nbformat.write(notebook, path)
    return seconds


def main(paths) -> int:
    # Full data or nothing: the fallback to the sample is an error here.
    os.environ["CIFAR_MLP_REQUIRE_FULL"] = "1"
    os.environ["CIFAR_MLP_PROFILE"] = "full"
    for path in map(Path, paths):
        print(f"executing {path} ...", flush=True)
        print(f"  done in {execute(path):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The committed notebooks carry outputs of their current code, run on the full data."""

import copy
from pathlib import Path

import nbformat
import pytest

from cifar_mlp.provenance import STAMP_KEY, code_hash

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def problems(notebook) -> list:
    """Why a notebook's stored outputs cannot be trusted (empty when they can)."""
    stamp = notebook.metadata.get(STAMP_KEY)
    if not stamp:
        return ["never executed by `make notebooks` (no provenance stamp)"]
    found = []
    if stamp.get("code_sha256") != code_hash(notebook):
        found.append("code changed since its outputs were produced: run `make notebooks`")
    if stamp.get("data") != "full":
        found.append(f"outputs come from {stamp.get('data')!r} data, not the full set")
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        if cell.get("execution_count") is None:
            found.append(f"code cell {index} was never executed")
        if any(output.get("output_type") == "error" for output in cell.get("outputs", [])):
            found.append(f"code cell {index} holds an error")
    return found


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_outputs_are_fresh_and_from_full_data(path):
    assert problems(nbformat.read(path, as_version=4)) == []


@pytest.mark.parametrize("path", NOTEBOOKS[:1], ids=lambda p: p.name)
def test_a_stale_notebook_is_caught(path):
    notebook = nbformat.read(path, as_version=4)
    edited = copy.deepcopy(notebook)
    first_code = next(c for c in edited.cells if c.cell_type == "code")
    first_code.source += "\nx = 1"
    assert any("code changed" in p for p in problems(edited))
    smoke = copy.deepcopy(notebook)
    smoke.metadata[STAMP_KEY]["data"] = "sample"
    assert any("not the full set" in p for p in problems(smoke))
    cleared = copy.deepcopy(notebook)
    first_code = next(c for c in cleared.cells if c.cell_type == "code")
    first_code.execution_count = None
    assert any("never executed" in p for p in problems(cleared))

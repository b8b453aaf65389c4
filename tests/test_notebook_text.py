"""What the chapters say is clean text, and their results are never typed by hand."""

import re
from pathlib import Path

import nbformat
import pytest

from cifar_mlp.display import EVAL_ROLE

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
# Control characters other than tab and newline: a backspace where "\b" was meant in a
# non-raw string, terminal colour codes in an output.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# A measured result typed into the prose: a percentage, or a duration in minutes.
TYPED_RESULT = re.compile(r"\b\d+(\.\d+)?\s?%|\b\d+(\.\d+)?\s(minutes|seconds)\b|"
                          r"\b(twenty|thirty|forty|fifty|sixty) minutes\b")


def output_texts(cell) -> list[str]:
    texts = []
    for output in cell.get("outputs", []):
        texts.append(output.get("text", ""))
        texts += [value for value in output.get("data", {}).values() if isinstance(value, str)]
    return texts


def control_characters(notebook) -> list[str]:
    found = []
    for index, cell in enumerate(notebook.cells):
        for where, text in [("source", cell.source)] + [("output", t) for t in output_texts(cell)]:
            for match in CONTROL.finditer(text):
                context = text[max(0, match.start() - 30):match.end() + 10]
                found.append(f"cell {index} {where}: {context!r}")
    return found


def prose_texts(notebook) -> list[str]:
    """Markdown cells, without their computed numbers (``{eval}`...` ``). The exercises are
    left out: their "about 10 minutes" is the authors' estimate of a student's time, not
    a result."""
    return [EVAL_ROLE.sub("", cell.source) for cell in notebook.cells
            if cell.cell_type == "markdown" and "exercise" not in cell.metadata.get("tags", [])]


def typed_results(notebook) -> list[str]:
    found = []
    for text in prose_texts(notebook):
        without_math = re.sub(r"\$[^$]*\$", "", text)
        found += [match.group(0) for match in TYPED_RESULT.finditer(without_math)]
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_control_characters_in_sources_or_outputs(path):
    assert control_characters(nbformat.read(path, as_version=4)) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_result_is_typed_into_the_prose(path):
    assert typed_results(nbformat.read(path, as_version=4)) == []


def test_the_checks_catch_a_backspace_and_a_typed_accuracy():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("The seed reached 43% and trained for about twenty minutes."),
        nbformat.v4.new_markdown_cell('with \x08eta = {eval}`numbers("beta", ".0%")` and 53.0 % typed')])
    assert len(control_characters(notebook)) == 1
    assert typed_results(notebook) == ["43%", "twenty minutes", "53.0 %"]


def unfolded_bookkeeping(notebook) -> list[str]:
    """Code cells that gather numbers for the prose or check a claim (``numbers[...] =``,
    ``numbers.update(``, ``claim(``, a chapter's ``findings.`` functions), but are not
    folded: in the book (tag hide-input or remove-input) and in JupyterLab
    (``source_hidden``)."""
    found = []
    for index, cell in enumerate(notebook.cells):
        source = cell.source
        if cell.cell_type != "code" or not re.search(r"numbers\[[^\]]+\]\s*=|numbers\.update\(|"
                                                     r"\bclaim\(|\bfindings\.|\bcheck_prose\(", source):
            continue
        tags = cell.metadata.get("tags", [])
        hidden = cell.metadata.get("jupyter", {}).get("source_hidden", False)
        if not (hidden and ({"hide-input", "remove-input"} & set(tags))):
            found.append(f"cell {index}: {source.splitlines()[0][:60]}")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_bookkeeping_cells_are_folded_in_the_book_and_in_jupyterlab(path):
    assert unfolded_bookkeeping(nbformat.read(path, as_version=4)) == []


def test_the_fold_check_finds_a_cell_of_numbers_in_plain_view():
    folded = nbformat.v4.new_code_cell('claim(a > b, "a rises")')
    folded.metadata.update(tags=["hide-input"], jupyter={"source_hidden": True})
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('numbers["gap"] = 3.0'), folded,
        nbformat.v4.new_code_cell('fig = plots.ablation(rows)')])
    assert unfolded_bookkeeping(notebook) == ['cell 0: numbers["gap"] = 3.0']


BOOKKEEPING_SHARE = 0.30  # at most this share of a chapter's code lines is bookkeeping


def bookkeeping_share(notebook) -> float:
    """The share of a chapter's code lines (exercises left out) that only serve its prose:
    every line of a folded cell, and the lines of shown cells that set ``numbers`` or
    check a ``claim``. What a student scrolls past in JupyterLab instead of reading."""
    total = bookkeeping = 0
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type != "code" or "exercise" in tags:
            continue
        lines = [line for line in cell.source.splitlines() if line.strip()]
        total += len(lines)
        if {"hide-input", "remove-input"} & set(tags):
            bookkeeping += len(lines)
        else:
            bookkeeping += sum(bool(re.search(r"numbers\[|numbers\.update\(|\bclaim\(", line))
                               for line in lines)
    return bookkeeping / total


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_bookkeeping_is_a_small_share_of_a_chapters_code(path):
    assert bookkeeping_share(nbformat.read(path, as_version=4)) <= BOOKKEEPING_SHARE


def test_the_share_counts_folded_cells_and_shown_lines_that_set_numbers():
    folded = nbformat.v4.new_code_cell("a = 1\nb = 2")
    folded.metadata["tags"] = ["hide-input"]
    notebook = nbformat.v4.new_notebook(cells=[
        folded, nbformat.v4.new_code_cell('x = f()\nnumbers["x"] = x\nplot(x)\nshow(x)')])
    assert bookkeeping_share(notebook) == 3 / 6

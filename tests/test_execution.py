"""Executing a chapter stores the numbers of its prose as JupyterLab shows them."""

import nbformat
import pytest

from cifar_mlp.execution import run_notebook

SETUP = "from cifar_mlp.display import Numbers\nnumbers = Numbers(acc=61.74)"
PROSE = 'It reaches {eval}`numbers("acc", ".1f")`%, {eval}`numbers("acc", ".1f")`% again.'


def notebook(*cells):
    book = nbformat.v4.new_notebook(cells=list(cells))
    book.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    return book


def shown(cell):
    return [e["result"]["data"]["text/plain"] for e in cell.metadata["user_expressions"]]


def test_each_markdown_cell_keeps_the_numbers_of_its_place_in_the_run(tmp_path):
    chapter = notebook(nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_markdown_cell(PROSE),
                       nbformat.v4.new_code_cell('numbers["acc"] = 70.0'),
                       nbformat.v4.new_markdown_cell(PROSE),
                       nbformat.v4.new_markdown_cell("No numbers here."))
    chapter.cells[-1].metadata["user_expressions"] = [{"expression": "stale"}]
    run_notebook(chapter, tmp_path)
    assert shown(chapter.cells[1]) == ["61.7"]  # one entry per distinct expression
    assert chapter.cells[1].metadata["user_expressions"][0]["expression"] == 'numbers("acc", ".1f")'
    assert shown(chapter.cells[3]) == ["70.0"]
    assert "user_expressions" not in chapter.cells[4].metadata  # nothing stale is kept


def test_a_number_the_prose_cannot_show_stops_the_run(tmp_path):
    chapter = notebook(nbformat.v4.new_code_cell(SETUP),
                       nbformat.v4.new_markdown_cell('A gap of {eval}`numbers("gap", ".1f")` points.'))
    with pytest.raises(RuntimeError, match=r'cell 1: the prose cannot show numbers\("gap", ".1f"\) \(KeyError'):
        run_notebook(chapter, tmp_path)

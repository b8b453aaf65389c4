"""Prose with computed numbers: what the chapters show in JupyterLab and in the book
(Markdown cells asking the kernel with MyST's ``{eval}`` role)."""

import re
from pathlib import Path

import nbformat
import pytest
import yaml

from cifar_mlp.display import EVAL_CALL, ClaimFailed, Numbers, claim, listing


def test_numbers_shows_a_number_formatted_as_asked_and_renders_as_markdown():
    numbers = Numbers(acc=61.74, n=50000, words="with *emphasis* and $x^2$")
    shown = numbers("acc", ".1f")
    assert shown == "61.7" and repr(shown) == "61.7" and shown._repr_markdown_() is None
    assert numbers("n", ",") == "50,000"
    assert numbers("words")._repr_markdown_() == "with *emphasis* and $x^2$"


def test_numbers_refuses_a_missing_name_and_a_value_that_is_not_inline():
    numbers = Numbers(acc=1.0, table="| a |\n|---|", paragraphs="one.\n\ntwo.", items="x:\n- a")
    with pytest.raises(KeyError, match="no number named 'gap'"):
        numbers("gap", ".1f")
    for name in ("table", "paragraphs", "items"):
        with pytest.raises(ValueError, match="not inline"):
            numbers(name)


def test_check_prose_evaluates_every_eval_role_of_a_notebook(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell('It reaches {eval}`numbers("acc", ".1f")`% in {eval}`numbers("n")` epochs.'),
        nbformat.v4.new_code_cell('numbers("acc")')])  # code cells are not prose
    path = tmp_path / "chapter.ipynb"
    nbformat.write(notebook, path)
    assert Numbers(acc=61.74, n=50).check_prose(path) == 2
    with pytest.raises(ValueError, match=r"numbers\(\"n\"\): .*no number named 'n'"):
        Numbers(acc=61.74).check_prose(path)
    notebook.cells.append(nbformat.v4.new_markdown_cell("and {eval}`acc * 100`"))
    nbformat.write(notebook, path)
    with pytest.raises(ValueError, match=r"acc \* 100: not of the form"):
        Numbers(acc=61.74, n=50).check_prose(path)
    assert Numbers().check_prose(tmp_path / "renamed.ipynb") == 0


def test_check_prose_reads_a_book_page_without_its_code_cells(tmp_path):
    page = tmp_path / "page.md"
    page.write_text('# A page\n\nIt takes {eval}`numbers("s", ".1f")` s.\n\n'
                    '```{code-cell} ipython3\nprint("{eval}`numbers(\\"gone\\")`")\n```\n')
    assert Numbers(s=1.25).check_prose(page) == 1
    with pytest.raises(ValueError, match="no number named 's'"):
        Numbers().check_prose(page)


def test_the_books_eval_pattern_admits_what_check_prose_admits():
    """The book (myst-nb) evaluates only expressions its nb_eval_name_regex admits: the
    same form as :data:`EVAL_CALL`, so a Markdown cell cannot pass one and fail the other."""
    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "_config.yml").read_text())
    book = re.compile(config["sphinx"]["config"]["nb_eval_name_regex"])
    for expression in ('numbers("acc", ".1f")', 'numbers("n")', 'numbers("gap", "+.1f")',
                       "acc", 'numbers["acc"]', 'numbers("acc", ".1f").upper()'):
        assert bool(book.match(expression)) == bool(EVAL_CALL.match(expression)), expression


def test_a_claim_the_numbers_contradict_stops_the_run_and_names_the_sentence():
    claim(0.62 > 0.60, "the validation accuracy rises")
    with pytest.raises(ClaimFailed, match="'the validation accuracy rises'"):
        claim(0.58 > 0.60, "the validation accuracy rises")
    assert issubclass(ClaimFailed, AssertionError)  # nbval and the grader see it as a failure


def test_listing_joins_items_as_prose_does():
    assert [listing(items) for items in ([], ["a"], ["a", "b"], ["a", "b", "c"])] == [
        "", "a", "a and b", "a, b and c"]

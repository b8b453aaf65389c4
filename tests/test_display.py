"""Prose with computed numbers: what the chapters show in JupyterLab and in the book."""

import pytest

from cifar_mlp.display import ClaimFailed, claim, fill, listing, prose


def test_fill_formats_each_placeholder_and_leaves_latex_alone():
    text = r"reaches {{acc:.1f}}% after {{ n }} epochs, $\frac{a}{b}$ and $10^{-4}$"
    assert fill(text, {"acc": 61.74, "n": 50}) == r"reaches 61.7% after 50 epochs, $\frac{a}{b}$ and $10^{-4}$"


def test_fill_refuses_a_missing_number():
    with pytest.raises(KeyError, match="no number named 'gap'"):
        fill("a gap of {{gap:.1f}} points", {"acc": 1.0})


def test_prose_is_markdown_without_the_indentation_of_a_triple_quoted_string():
    shown = prose("""
        The best recipe reaches {{best:.1%}}.

        | a | b |
        |---|---|
        """, {"best": 0.6174})
    assert shown.data.splitlines()[0] == "The best recipe reaches 61.7%."
    assert "| a | b |" in shown.data.splitlines()


def test_a_claim_the_numbers_contradict_stops_the_run_and_names_the_sentence():
    claim(0.62 > 0.60, "the validation accuracy rises")
    with pytest.raises(ClaimFailed, match="'the validation accuracy rises'"):
        claim(0.58 > 0.60, "the validation accuracy rises")
    assert issubclass(ClaimFailed, AssertionError)  # nbval and the grader see it as a failure


def test_listing_joins_items_as_prose_does():
    assert [listing(items) for items in ([], ["a"], ["a", "b"], ["a", "b", "c"])] == [
        "", "a", "a and b", "a, b and c"]

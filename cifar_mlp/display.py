"""What the chapters display besides figures: the package's own code, and prose with
the numbers the notebook has just computed, so prose and code cannot drift apart; and
:func:`claim`, which checks what a sentence says about a result, so that a run whose
numbers contradict a sentence stops instead of printing it."""

import inspect
import re

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*(?::([^}]*))?\}\}")


def show_source(*objects):
    """The source of functions or methods, highlighted, as one notebook output."""
    from IPython.display import Code

    return Code("\n\n".join(inspect.getsource(obj) for obj in objects), language="python")


def fill(text: str, numbers: dict) -> str:
    """``text`` with each ``{{name}}`` or ``{{name:format}}`` replaced by ``numbers[name]``,
    formatted as ``format(value, format)``. A name missing from ``numbers`` is an error,
    never a silent gap in the prose. Single braces (LaTeX's) are left alone."""
    def value(match):
        name, spec = match.group(1), match.group(2) or ""
        if name not in numbers:
            raise KeyError(f"prose: no number named {name!r} (known: {', '.join(sorted(numbers))})")
        return format(numbers[name], spec)
    return PLACEHOLDER.sub(value, text)


def listing(items) -> str:
    """Items as prose lists them: "a", "a and b", "a, b and c" ("" for none)."""
    items = list(items)
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def prose(text: str, numbers: dict):
    """A paragraph of the chapter with computed numbers in it, rendered as Markdown.

    The cell that calls it is the prose itself: its input is hidden, in JupyterLab
    and in the book alike, so both show the same paragraph with the same numbers,
    which come from this run of the notebook (:func:`fill`).
    """
    from IPython.display import Markdown

    return Markdown(fill(inspect.cleandoc(text), numbers))


class ClaimFailed(AssertionError):
    """A sentence of a chapter is not true of this run's numbers."""


def claim(condition: bool, sentence: str) -> None:
    """Check what ``sentence`` of the chapter says about a measured result (it rises, it
    helps, it is the largest). When this run's numbers make it false, stop with the
    sentence, instead of printing it: a retrain that changes a result fails the build."""
    if not condition:
        raise ClaimFailed(f"the chapter says {sentence!r}, and this run's numbers contradict it")

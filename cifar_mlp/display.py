"""What the chapters display besides figures: the package's own code, and prose with
the numbers the notebook has just computed, so prose and code cannot drift apart; and
:func:`claim`, which checks what a sentence says about a result, so that a run whose
numbers contradict a sentence stops instead of printing it.

A chapter's sentences are Markdown cells. A number in one is written
``{eval}`numbers("name", ".1f")```: MyST's ``eval`` role, which asks the kernel for
``numbers("name", ".1f")`` when the cell renders, in the book (myst-nb, inline execution)
and in JupyterLab (jupyterlab-myst). :class:`Numbers` is that ``numbers``.
"""

import inspect
import re
from pathlib import Path


def show_source(*objects):
    """The source of functions or methods, highlighted, as one notebook output."""
    from IPython.display import Code

    return Code("\n\n".join(inspect.getsource(obj) for obj in objects), language="python")


MARKUP = re.compile(r"[*_$`\\[\]<>]")  # what makes a value Markdown rather than plain text


class Shown(str):
    """A number as a sentence shows it: itself (no quotes) as text, and as Markdown only
    when it holds some (emphasis, math, a link). JupyterLab sets a Markdown result apart
    as a paragraph of its own, and plain text inside the sentence."""

    def _repr_markdown_(self):
        return str(self) if MARKUP.search(self) else None

    def __repr__(self):
        return str(self)


# What a Markdown cell may ask for: the book's configuration (nb_eval_name_regex in
# _config.yml) admits the same form, and nothing else.
EVAL_ROLE = re.compile(r'\{eval\}`([^`]*)`')
EVAL_CALL = re.compile(r'^numbers\("(\w+)"(?:, "([^"]*)")?\)$')
# Block Markdown (a blank line, a list item, a table row) cannot sit inside a sentence.
BLOCK = re.compile(r"\n\s*\n|\n\s*([-*+]|\d+\.)\s|\n\s*\|")


class Numbers(dict):
    """What this run of a notebook computed, by name, for its prose.

    ``numbers("name", spec)`` is ``numbers["name"]`` formatted as ``format(value, spec)``,
    the text a Markdown cell shows. A missing name is an error listing the known ones,
    never a silent gap in a sentence; so is a value that is not inline Markdown.
    """

    def __call__(self, name: str, spec: str = "") -> Shown:
        if name not in self:
            raise KeyError(f"prose: no number named {name!r} (known: {', '.join(sorted(self))})")
        text = format(self[name], spec)
        if BLOCK.search(text):
            raise ValueError(f"prose: {name!r} is not inline Markdown (a paragraph, list or table); "
                             "show it as a cell's output instead")
        return Shown(text)

    def check_prose(self, notebook: str | Path) -> int:
        """Evaluate every ``{eval}`` of ``notebook``'s Markdown now, as the book and
        JupyterLab will: an expression of another form, a missing name or a value that is
        not inline fails here, in every run of the chapter (nbval's too), not only in the
        book. ``notebook`` is a ``.ipynb`` file or a book page in MyST Markdown (``.md``,
        its code cells left out). Returns how many it evaluated; a file not found (a
        renamed copy) has 0."""
        import nbformat

        path = Path(notebook)
        if not path.exists():
            return 0
        if path.suffix == ".md":
            texts = [re.sub(r"```\{code-cell\}.*?```", "", path.read_text(), flags=re.S)]
        else:
            texts = [cell.source for cell in nbformat.read(path, as_version=4).cells
                     if cell.cell_type == "markdown"]
        problems, count = [], 0
        for index, text in enumerate(texts):
            for expression in EVAL_ROLE.findall(text):
                call = EVAL_CALL.match(expression)
                try:
                    if call is None:
                        raise ValueError('not of the form numbers("name", "format")')
                    self(call.group(1), call.group(2) or "")
                    count += 1
                except (KeyError, ValueError) as error:
                    problems.append(f"cell {index}: {expression}: {error}")
        if problems:
            raise ValueError(f"{path.name}'s prose cannot show:\n" + "\n".join(problems))
        return count


def listing(items) -> str:
    """Items as prose lists them: "a", "a and b", "a, b and c" ("" for none)."""
    items = list(items)
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


class ClaimFailed(AssertionError):
    """A sentence of a chapter is not true of this run's numbers."""


def claim(condition: bool, sentence: str) -> None:
    """Check what ``sentence`` of the chapter says about a measured result (it rises, it
    helps, it is the largest). When this run's numbers make it false, stop with the
    sentence, instead of printing it: a retrain that changes a result fails the build."""
    if not condition:
        raise ClaimFailed(f"the chapter says {sentence!r}, and this run's numbers contradict it")

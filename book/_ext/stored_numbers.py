"""The chapters' numbers where the book does not run the chapters.

A chapter's Markdown asks the kernel for its numbers (``{eval}`numbers("name", ".1f")```),
which myst-nb answers only when it executes the notebook (``nb_execution_mode: inline``,
as ``make book`` does). A build that reads the stored outputs instead (the class edition
of ``make class-book``, the tests' build) has no kernel: there each number is the one its
Markdown cell keeps from the chapter's last execution (``user_expressions``, written by
``scripts/execute_notebooks.py`` and by JupyterLab), in the order the page asks for them.
An expression with nothing stored stays an error, as without this extension.

Where the book does run a chapter, it keeps what each number evaluated to in the same
place, so that the executed notebook it writes (``_build/jupyter_execute/``, which the
class edition reads) carries the numbers of that run.
"""

import re

import nbformat
from myst_nb.core.execute.base import EvalNameError, NotebookClientBase
from myst_nb.core.execute.inline import NotebookClientInline

from cifar_mlp.display import EVAL_ROLE  # the one pattern of a number in the prose

_no_kernel = NotebookClientBase.eval_variable
_from_kernel = NotebookClientInline.eval_variable


def next_asking_cell(client, name: str):
    """The index of the Markdown cell that asks for ``name`` now: myst-nb evaluates the
    page's ``{eval}`` roles once each, in the order of the text, so each call takes the
    next one that asks for ``name``. None when no cell asks for it."""
    cells = client.notebook.get("cells", [])
    if not hasattr(client, "_asked"):
        client._asked = [(index, expression) for index, cell in enumerate(cells)
                         if cell.get("cell_type") == "markdown"
                         for expression in EVAL_ROLE.findall(cell.get("source", ""))]
        client._position = 0
    for k in range(client._position, len(client._asked)):
        if client._asked[k][1] == name:
            client._position = k + 1
            return client._asked[k][0]
    return None


def eval_stored(self, name: str):
    if not re.match(self.nb_config.eval_name_regex, name):
        raise EvalNameError(name)
    index = next_asking_cell(self, name)
    kept = {} if index is None else {
        entry["expression"]: entry["result"]
        for entry in self.notebook["cells"][index].get("metadata", {}).get("user_expressions", [])}
    if name not in kept:
        return _no_kernel(self, name)
    result = kept[name]
    if result.get("status") != "ok":
        return [nbformat.v4.new_output("error", ename=result.get("ename", "Error"),
                                       evalue=result.get("evalue", ""), traceback=[])]
    return [nbformat.v4.new_output("execute_result", data=result["data"],
                                   metadata=result.get("metadata", {}), execution_count=None)]


def eval_and_keep(self, name: str):
    outputs = _from_kernel(self, name)
    index = next_asking_cell(self, name)
    if index is None:
        return outputs
    metadata = self.notebook["cells"][index].setdefault("metadata", {})
    fresh = getattr(self, "_kept_cells", set())
    if index not in fresh:
        metadata["user_expressions"] = []  # the committed run's numbers give way to this one's
        self._kept_cells = fresh | {index}
    error = next((o for o in outputs if o.get("output_type") == "error"), None)
    result = ({"status": "error", "ename": error.get("ename"), "evalue": error.get("evalue")} if error else
              {"status": "ok", "data": dict(outputs[0].get("data", {})) if outputs else {},
               "metadata": dict(outputs[0].get("metadata", {})) if outputs else {}})
    if name not in [entry["expression"] for entry in metadata["user_expressions"]]:
        metadata["user_expressions"].append({"expression": name, "result": result})
    return outputs


def setup(app):
    NotebookClientBase.eval_variable = eval_stored  # a build that does not run the chapter
    NotebookClientInline.eval_variable = eval_and_keep  # a build that runs it
    return {"parallel_read_safe": True, "parallel_write_safe": True}

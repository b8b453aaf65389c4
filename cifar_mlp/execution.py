"""Executing a chapter the way JupyterLab shows it: code cells, and the numbers of its prose.

A chapter's Markdown asks the kernel for its numbers (``{eval}`numbers("name", ".1f")```,
:mod:`cifar_mlp.display`). When a notebook is executed here, each Markdown cell's
expressions are evaluated right after the code cells above it, as JupyterLab's Run All
and the book's inline execution do, and their results are stored in the cell's
``user_expressions`` metadata, where jupyterlab-myst keeps them. So a chapter opened in
JupyterLab shows the numbers of its last execution until the student runs it, and then
those of the student's run.
"""

from __future__ import annotations

import time
from pathlib import Path

from nbclient import NotebookClient

from .display import EVAL_ROLE


class ProseClient(NotebookClient):
    """nbclient's client, which also evaluates each Markdown cell's ``{eval}`` roles."""

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type != "markdown":
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        expressions = list(dict.fromkeys(EVAL_ROLE.findall(cell.source)))
        cell.metadata.pop("user_expressions", None)
        if expressions:
            msg_id = self.kc.execute("", silent=True, store_history=False,
                                     user_expressions={f"e{i}": e for i, e in enumerate(expressions)})
            reply = await self.async_wait_for_reply(msg_id, cell)
            results = reply["content"]["user_expressions"]
            failed = [(e, results[f"e{i}"]) for i, e in enumerate(expressions)
                      if results[f"e{i}"]["status"] != "ok"]
            if failed:
                raise RuntimeError(f"cell {cell_index}: the prose cannot show " + "; ".join(
                    f"{e} ({r.get('ename')}: {r.get('evalue')})" for e, r in failed))
            cell.metadata["user_expressions"] = [
                {"expression": e, "result": results[f"e{i}"]} for i, e in enumerate(expressions)]
        return cell


def run_notebook(notebook, folder: Path) -> float:
    """Execute ``notebook`` (in place) from ``folder``, its prose included; the seconds it took."""
    started = time.perf_counter()
    ProseClient(notebook, timeout=None, kernel_name="python3",
                resources={"metadata": {"path": str(folder)}}).execute()
    return time.perf_counter() - started

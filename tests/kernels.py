"""Running a notebook in a Jupyter kernel with a given environment, for the tests that
execute chapters."""

from pathlib import Path


def execute_in_kernel(notebook, workdir: Path, env: dict, timeout: int, allow_errors: bool = False):
    """Execute every cell of ``notebook`` in place, in a kernel started in ``workdir`` with
    exactly the environment ``env``; return the notebook. Without ``allow_errors`` the
    first failing cell raises nbclient's CellExecutionError."""
    from nbclient import NotebookClient

    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            allow_errors=allow_errors, resources={"metadata": {"path": str(workdir)}})
    client.km = client.create_kernel_manager()
    client.start_new_kernel(env=env)
    try:
        client.start_new_kernel_client()
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
    finally:
        client._cleanup_kernel()
    return notebook

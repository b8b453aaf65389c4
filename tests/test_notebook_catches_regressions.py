"""The notebooks are tests too: a deliberate bug in the package makes chapter 2 fail.

The package is copied to a temporary folder, one sign in the affine layer's
backward pass is flipped, and notebook 02 is executed (smoke profile) against that
copy: its gradient-check assertions must stop the run.
"""

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from kernels import execute_in_kernel

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "02_mlp_math.ipynb"
CORRECT, BROKEN = "dw = x.T @ dout", "dw = -(x.T @ dout)"


def run_notebook_against(package_parent: Path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    env = {**os.environ, "PYTHONPATH": str(package_parent), "CIFAR_MLP_PROFILE": "smoke"}
    execute_in_kernel(notebook, NOTEBOOK.parent, env, timeout=300)


@pytest.fixture
def broken_package(tmp_path):
    shutil.copytree(REPO / "cifar_mlp", tmp_path / "cifar_mlp",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "data").symlink_to(REPO / "data")  # the package finds data/ beside itself
    layers = tmp_path / "cifar_mlp" / "layers.py"
    source = layers.read_text()
    assert source.count(CORRECT) == 1, "the line to break has moved: update this test"
    layers.write_text(source.replace(CORRECT, BROKEN))
    return tmp_path


def test_sign_flip_in_a_backward_pass_fails_the_chapter(broken_package):
    with pytest.raises(CellExecutionError, match="all gradients agree with their numerical estimates"):
        run_notebook_against(broken_package)

"""A student's first run with no full data and no network: every chapter runs to the end
on the committed sample, says so in a banner, and changes nothing that is committed."""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from kernels import execute_in_kernel

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CLOSED_PORT = "http://127.0.0.1:9"  # the discard port: nothing listens, a connection fails at once


def tracked_files() -> list[str]:
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                             check=True).stdout.decode()
    return [name for name in listing.split("\0") if name and (REPO / name).is_file()]


def digests(folder: Path) -> dict:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def clean_clone(tmp_path_factory) -> Path:
    """The files git tracks, as they are now, in a new folder: no data cache, no weights."""
    clone = tmp_path_factory.mktemp("clone")
    for name in tracked_files():
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, clone / name)
    return clone


@pytest.fixture(scope="module")
def offline_runs(clean_clone):
    """Each chapter of the clone executed in the default profile, offline, in memory (the
    notebook files are never written): name -> executed notebook."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("CIFAR10_DIR", "CIFAR_MLP_PROFILE", "CIFAR_MLP_REQUIRE_FULL")}
    env.update(HTTP_PROXY=CLOSED_PORT, HTTPS_PROXY=CLOSED_PORT, http_proxy=CLOSED_PORT,
               https_proxy=CLOSED_PORT, NO_PROXY="", no_proxy="", TF_CPP_MIN_LOG_LEVEL="2")
    before = {"results": digests(clean_clone / "results"),
              "notebooks": digests(clean_clone / "notebooks")}
    executed = {}
    for path in NOTEBOOKS:
        notebook = nbformat.read(clean_clone / "notebooks" / path.name, as_version=4)
        executed[path.name] = execute_in_kernel(notebook, clean_clone / "notebooks", env,
                                                timeout=900)
    return executed, before


def outputs_text(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            for value in output.get("data", {}).values():
                parts.append(value if isinstance(value, str) else "")
    return "\n".join(parts)


@pytest.mark.parametrize("name", [path.name for path in NOTEBOOKS])
def test_every_chapter_runs_offline_on_the_sample_with_its_banner(offline_runs, name):
    executed, _ = offline_runs
    text = outputs_text(executed[name])
    assert "Not the full data set" in text
    assert "THE FULL CIFAR-10 WAS NOT FOUND" in text  # the loud line, in the terminal's stream


def test_an_offline_run_changes_no_committed_file(offline_runs, clean_clone):
    _, before = offline_runs
    published = {name: digest for name, digest in digests(clean_clone / "results").items()
                 if "/" not in name}  # results/*.json; runs on the sample write results/full-sample/
    assert published == before["results"]
    assert (clean_clone / "results" / "full-sample" / "best.json").is_file()
    assert digests(clean_clone / "notebooks") == before["notebooks"]
    assert (clean_clone / "weights" / "sample").is_dir()  # it trained, on the sample
    assert not (clean_clone / "weights" / "full").exists()

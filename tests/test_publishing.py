"""The workflow that publishes the book: valid for the hosting service's CI (its
workflow schema, bundled with check-jsonschema, checked offline), clean under zizmor's
audit (actions pinned to commits, each job with the permissions it needs), and built
so that republishing after a prose edit retrains nothing: the trained models come
from a cache keyed by the package's code only. That a build with every model in place
trains none is tests/test_book_runs.py's test_a_second_book_runs_reloads_everything."""

import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "publish-book.yml"
BIN = Path(sys.executable).parent


def steps(job: str) -> list:
    return YAML(typ="safe").load(WORKFLOW.read_text())["jobs"][job]["steps"]


def test_the_workflow_matches_the_services_schema():
    checked = subprocess.run([BIN / "check-jsonschema", "--builtin-schema",
                              "vendor.github-workflows", WORKFLOW], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_workflow_passes_zizmors_audit():
    audited = subprocess.run([BIN / "zizmor", "--offline", "--no-progress", WORKFLOW],
                             capture_output=True, text=True)
    assert audited.returncode == 0, audited.stdout + audited.stderr


def test_the_models_cache_is_keyed_by_code_not_by_prose():
    (cache,) = [s for s in steps("build") if s.get("name") == "Restore the trained models"]
    key = cache["with"]["key"]
    assert cache["with"]["path"] == "weights" and "hashFiles('cifar_mlp/**/*.py'" in key
    for prose in ("notebooks", "book", ".md", ".ipynb"):
        assert prose not in key, f"a prose edit ({prose}) would miss the cache and retrain"
    assert cache["with"]["restore-keys"] == "weights-"  # a code change reuses what still fits


def test_the_workflow_builds_as_make_book_and_deploys_its_html():
    build = steps("build")
    assert any(s.get("run") == "make book" for s in build)
    (upload,) = [s for s in build if "upload-pages-artifact" in s.get("uses", "")]
    assert upload["with"]["path"] == "_build/html"
    assert any("deploy-pages" in s.get("uses", "") for s in steps("deploy"))


@pytest.mark.parametrize("job", ["build", "deploy"])
def test_every_action_is_pinned_to_a_commit(job):
    for step in steps(job):
        if "uses" in step:
            reference = step["uses"].split("@", 1)[1]
            assert len(reference) == 40 and all(c in "0123456789abcdef" for c in reference), step

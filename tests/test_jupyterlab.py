"""The chapters as a student sees them: JupyterLab on 127.0.0.1, in a headless Chromium.

Checks that the prose shows numbers (not role syntax or placeholders), those of the
chapter's last execution until the student's run replaces them, and that the
prediction explorer of chapter 3 (its cell, in a notebook of its own) renders and answers
its slider. JupyterLab serves a
copy of the notebooks (autosave off as well), so the committed files are never
written. Skipped, with the reason, when no Chromium is installed (Debian's
``chromium``; ``.ci/run`` installs it).
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the browser fixture skips every test then
    PlaywrightTimeout = TimeoutError

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium: the JupyterLab browser test needs Debian's chromium "
                             "(apt-get install chromium)")
NOTEBOOKS = sorted(path.name for path in (REPO / "notebooks").glob("*.ipynb"))
TOKEN = "cifar-mlp-test"
SETTINGS = {  # every cell rendered (no windowing), nothing saved behind our back
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}


EXPLORER = "explorer_check.ipynb"  # written into the server's copy only


def explorer_notebook():
    """Chapter 3's explorer cell, as the chapter has it, after a cell that makes what it
    reads: the sample, and probabilities drawn at random (the widget is under test here;
    the chapter itself runs under nbval and in test_book_runs)."""
    chapter = nbformat.read(REPO / "notebooks" / "03_train_eval.ipynb", as_version=4)
    explorer, = [cell for cell in chapter.cells if cell.cell_type == "code"
                 and cell.source.startswith("prediction_explorer(")]
    setup = ("import numpy as np\n"
             "from cifar_mlp.preprocess import prepare\n"
             "from cifar_mlp.profiles import active_profile, load_data\n"
             "from cifar_mlp.widgets import prediction_explorer\n\n"
             "data = load_data()\n"
             "rgb = prepare(data, mode='rgb', n_val=active_profile().n_val_for(data), seed=0)\n"
             "proba = np.random.default_rng(0).dirichlet(np.ones(10), len(rgb.y_test))")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup),
                                               nbformat.v4.new_code_cell(explorer.source)])
    notebook.metadata["kernelspec"] = chapter.metadata["kernelspec"]
    return notebook


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a copy of the notebooks and the sample: its base URL."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "data" / "sample", root / "data" / "sample")
    for name in ("data/seed_project.json", "results/recipe_trials.json"):  # files chapters read
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, root / name)
    nbformat.write(explorer_notebook(), root / "notebooks" / EXPLORER)
    settings = root / "settings"
    for name, values in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port = free_port()
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"),
           "CIFAR_MLP_PROFILE": "smoke", "TF_CPP_MIN_LOG_LEVEL": "2"}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--ServerApp.open_browser=False",
         "--allow-root"],  # CI runs as root
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("JupyterLab did not start:\n" + server.stderr.read().decode()[-2000:])
            time.sleep(0.5)
    yield url
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@contextmanager
def open_notebook(browser, lab, name, cells=6):
    """A browser page showing notebook ``name`` in JupyterLab (at least ``cells`` of its
    cells rendered), closed afterwards."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        workspace = f"{Path(name).stem}-{time.monotonic_ns()}"  # a new one: no other tab restored
        page.goto(f"{lab}/lab/workspaces/{workspace}/tree/notebooks/{name}?token={TOKEN}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.wait_for_function(f"document.querySelectorAll('.jp-Notebook .jp-Cell').length >= {cells}")
        yield page
    finally:
        page.close()


def where_the_run_is(page) -> str:
    """Which cells have run, which one runs, and what the kernel's status says."""
    prompts = page.locator(".jp-Notebook .jp-Cell.jp-CodeCell .jp-InputPrompt").all_inner_texts()
    ran = sum(1 for prompt in prompts if re.fullmatch(r"\[\d+\]:", prompt.strip()))
    running = [index for index, prompt in enumerate(prompts) if "*" in prompt]
    status = page.locator(".jp-StatusBar-Widget").all_inner_texts()
    return (f"{ran} of {len(prompts)} code cells ran; running: code cell {running[:1] or 'none'}; "
            f"status bar: {' | '.join(text.strip() for text in status if text.strip())}")


def prose_cells(name) -> list:
    """The Markdown cells of notebook ``name`` that show computed numbers."""
    notebook = json.loads((REPO / "notebooks" / name).read_text())
    return [cell for cell in notebook["cells"]
            if cell["cell_type"] == "markdown" and "{eval}`" in "".join(cell["source"])]


def wait_for_kernel(page):
    """Until the notebook's kernel is connected and idle ("run all" before that runs nothing,
    as seen when the machine is busy)."""
    page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget",
                           timeout=60_000)
    page.wait_for_function(
        "(kernel => kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle')"
        "(window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel)",
        timeout=120_000)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_prose_shows_numbers_not_syntax(browser, lab, name):
    """Opened, before anything runs: the numbers of the chapter's last execution, which its
    Markdown cells keep (jupyterlab-myst renders them)."""
    assert prose_cells(name), "every chapter has prose with numbers"
    with open_notebook(browser, lab, name) as page:
        page.wait_for_function("(text => text.includes('So we have') || text.length > 2000)"
                               "(document.querySelector('.jp-Notebook').innerText)", timeout=60_000)
        try:
            page.wait_for_function("!document.querySelector('.jp-Notebook').innerText"
                                   ".includes('numbers(\"')", timeout=60_000)
        except PlaywrightTimeout:
            pytest.fail("a number of the prose shows as its expression")
        text = page.inner_text(".jp-Notebook")
        assert "{eval" not in text and "{glue" not in text and "{{" not in text, \
            "role syntax or a placeholder is shown"


def test_a_students_run_replaces_the_numbers_of_the_prose(browser, lab):
    """Chapter 1 opens with the full data's count of training images; after *Run All* on
    the sample (the server's profile), the sentence shows the sample's."""
    cell, = [c for c in prose_cells("01_data.ipynb") if "So we have" in "".join(c["source"])]
    stored = cell["metadata"]["user_expressions"][0]["result"]["data"]["text/plain"]
    sentence = "/So we have ([\\d,]+) training images/"
    with open_notebook(browser, lab, "01_data.ipynb") as page:
        page.wait_for_function(f"({sentence}.exec(document.querySelector('.jp-Notebook').innerText)"
                               f" || [])[1] === '{stored}'", timeout=60_000)
        wait_for_kernel(page)
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        try:
            page.wait_for_function(
                f"(match => match && match[1] !== '{stored}')"
                f"({sentence}.exec(document.querySelector('.jp-Notebook').innerText))",
                timeout=240_000)
        except PlaywrightTimeout:
            pytest.fail("the sentence still shows the stored count after 'run all': "
                        + where_the_run_is(page))


def test_the_prediction_explorer_renders_and_answers_its_slider(browser, lab):
    with open_notebook(browser, lab, EXPLORER, cells=2) as page:
        wait_for_kernel(page)
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        # The slider appears when "run all" reaches the explorer; an error stops it sooner.
        try:
            page.wait_for_function(
                "document.querySelector('.widget-slider .noUi-handle') || [...document.querySelectorAll("
                "'.jp-OutputArea-output')].some(output => /Traceback|\\w+Error: /.test(output.innerText))",
                timeout=180_000)
        except PlaywrightTimeout:
            pytest.fail("no explorer after 3 minutes of 'run all': " + where_the_run_is(page))
        errors = [text for text in page.locator(".jp-OutputArea-output").all_inner_texts()
                  if re.search(r"Traceback|\w+Error: ", text)]
        assert not errors, "running the explorer failed:\n" + errors[0][-3000:]
        slider = page.wait_for_selector(".widget-slider .noUi-handle", timeout=10_000)
        explorer = page.locator(".widget-vbox").filter(has=page.locator(".widget-slider")).first
        image = explorer.locator("img").first
        image.wait_for(timeout=60_000)
        before = image.get_attribute("src")
        slider.focus()
        page.keyboard.press("ArrowRight")  # the next test image
        deadline = time.monotonic() + 60
        while image.get_attribute("src") == before and time.monotonic() < deadline:
            time.sleep(0.5)  # the output is redrawn by the kernel
        assert image.get_attribute("src") != before, "the slider moved but the figure did not change"
        assert explorer.locator(".widget-readout").first.inner_text().strip() == "1"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_exercises_render_without_markup_with_solutions_and_answers_folded(browser, lab, name):
    notebook = json.loads((REPO / "notebooks" / name).read_text())
    solutions = sum(1 for cell in notebook["cells"]
                    if cell["metadata"].get("nbgrader", {}).get("solution"))
    questions = sum(1 for cell in notebook["cells"] if "question" in cell["metadata"].get("tags", []))
    with open_notebook(browser, lab, name) as page:
        page.wait_for_selector("h2:has-text('Exercises')", timeout=60_000)
        text = page.inner_text(".jp-Notebook")
        assert ":::{" not in text, "exercise markup shown raw"
        assert text.count("Exercise: ") >= solutions >= 4
        assert "BEGIN SOLUTION" not in text, "a solution is unfolded"
        assert page.locator(".jp-Cell .jp-InputPlaceholder").count() >= solutions
        summaries = page.locator("details > summary", has_text="Model answer and rubric")
        assert summaries.count() == questions >= 2
        assert "Rubric:" not in text, "a model answer is unfolded"


def test_the_students_jupyterlab_has_no_grading_menus(browser, lab):
    with open_notebook(browser, lab, "01_data.ipynb") as page:
        page.wait_for_selector(".lm-MenuBar-itemLabel", timeout=60_000)
        menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
        assert "File" in menus and not any("grader" in m.lower() for m in menus)
        assert "Create Assignment" not in page.inner_text("body")

"""The prediction explorer outside a browser: what it is made of and how it answers.

JupyterLab itself is tested in test_jupyterlab.py; here, the widget tree. It holds no
Output widget: nbclient (jupyter-book's runner, the tests' kernels) answers an Output
widget's messages on the shell channel while it awaits the cell's reply there, and could
miss that reply, then wait for its timeout: 15 minutes idle, seen in a test run of
chapter 3, and no timeout at all in `make book`."""

import ipywidgets as widgets
import numpy as np

from cifar_mlp.widgets import prediction_explorer

CLASSES = [f"class {i}" for i in range(10)]


def walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


def explorer():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    proba = rng.dirichlet(np.ones(10), 12)
    y_true = proba.argmax(axis=1)
    y_true[:5] = (y_true[:5] + 1) % 10  # five mistakes
    return prediction_explorer(images, proba, y_true, CLASSES)


def test_the_explorer_holds_no_output_widget_and_shows_a_png():
    parts = list(walk(explorer()))
    assert not [part for part in parts if isinstance(part, widgets.Output)]
    picture, = [part for part in parts if isinstance(part, widgets.Image)]
    assert bytes(picture.value[:4]) == b"\x89PNG"


def test_the_slider_and_the_filter_change_the_picture():
    parts = list(walk(explorer()))
    which, = [part for part in parts if isinstance(part, widgets.ToggleButtons)]
    position, = [part for part in parts if isinstance(part, widgets.IntSlider)]
    picture, = [part for part in parts if isinstance(part, widgets.Image)]
    first = bytes(picture.value)
    position.value = 1
    assert bytes(picture.value) != bytes(first)
    which.value = "wrong"
    assert position.max == 4  # five wrong images

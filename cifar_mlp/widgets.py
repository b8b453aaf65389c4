"""An interactive explorer for JupyterLab; the book shows a static figure beside it."""

import io

import matplotlib.pyplot as plt
import numpy as np

from .plots import top3_bars


def prediction_explorer(images, proba, y_true, class_names):
    """A slider over test images, a filter (all, right, wrong), and the top-3 probabilities.

    The figure is sent as a PNG to an Image widget, not drawn into an Output widget: a
    notebook runner (nbclient: jupyter-book, the tests) answers an Output widget's messages
    on the channel on which it awaits the cell's reply, and could miss that reply and wait
    until its timeout (none in `make book`)."""
    import ipywidgets as widgets

    predicted = proba.argmax(axis=1)
    subsets = {"all": np.arange(len(images)),
               "right": np.flatnonzero(predicted == y_true),
               "wrong": np.flatnonzero(predicted != y_true)}
    which = widgets.ToggleButtons(options=list(subsets), description="images")
    position = widgets.IntSlider(0, 0, len(images) - 1, description="#")
    picture = widgets.Image(format="png")

    def redraw(*_):
        chosen = subsets[which.value]
        position.max = len(chosen) - 1
        index = chosen[min(position.value, position.max)]
        fig = top3_bars(images[index], proba[index], class_names, y_true[index])
        fig.suptitle(f"test image {index}", fontsize=9)
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=100)
        plt.close(fig)
        picture.value = png.getvalue()

    which.observe(redraw, "value")
    position.observe(redraw, "value")
    redraw()
    return widgets.VBox([which, position, picture])

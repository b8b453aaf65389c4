"""What the figures draw: the data they claim to draw, told apart by more than colour."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cifar_mlp import plots  # noqa: E402
from cifar_mlp.train import History  # noqa: E402

CLASSES = [f"class {i}" for i in range(10)]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def history(l2_penalty):
    return History(train_loss=[2.0, 1.5, 1.2], train_acc=[0.3, 0.45, 0.6],
                   val_loss=[1.9, 1.6, 1.55], val_acc=[0.32, 0.42, 0.47],
                   l2_penalty=l2_penalty, lr=[0.01] * 3, seconds=[1.0] * 3, best_epoch=3)


def test_training_curves_plot_the_same_quantity_on_both_splits_and_the_penalty_apart():
    h = history([2.5, 2.1, 1.8])
    fig = plots.training_curves({"model": h})
    ax_loss, ax_acc, ax_penalty = fig.axes
    lines = [tuple(line.get_ydata()) for line in ax_loss.get_lines()]
    assert lines == [tuple(h.train_loss), tuple(h.val_loss)]  # nothing else on the loss axis
    assert "without the L2 penalty" in ax_loss.get_ylabel()
    assert [tuple(line.get_ydata()) for line in ax_penalty.get_lines()] == [tuple(h.l2_penalty)]
    assert "L2 penalty" in ax_penalty.get_title()


def test_training_curves_without_penalty_have_no_penalty_panel():
    fig = plots.training_curves({"model": history([0.0, 0.0, 0.0])})
    assert len(fig.axes) == 2


def test_images_are_drawn_pixel_for_pixel():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    labels = np.repeat(np.arange(10), 2)
    proba = rng.dirichlet(np.ones(10), 20)
    figures = [plots.image_grid(images, labels, CLASSES, per_class=2),
               plots.rgb_and_gray(images[:4], labels[:4], CLASSES, count=4),
               plots.predictions_grid(images, labels, proba, CLASSES, range(8), "t"),
               plots.first_layer_weights(rng.standard_normal((3072, 16)), count=8),
               plots.top3_gallery(images, proba, labels, CLASSES, [0, 1])]
    for fig in figures:
        images_drawn = [image for ax in fig.axes for image in ax.get_images()]
        assert images_drawn
        assert {image.get_interpolation() for image in images_drawn} == {"nearest"}


def test_right_and_wrong_predictions_are_marked_by_a_symbol():
    images = np.zeros((2, 32, 32, 3), np.uint8)
    proba = np.full((2, 10), 0.05)
    proba[0, 3] = proba[1, 4] = 0.55
    fig = plots.predictions_grid(images, np.array([3, 5]), proba, CLASSES, [0, 1], "t")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("✓ class 3") and titles[1].startswith("✗ class 4")


def test_gradient_errors_are_dots_with_pass_and_fail_symbols_and_zero_shown_apart():
    fig = plots.relative_errors({"W1": 1e-9, "b1": 0.0, "W2": 0.3})
    ax = fig.axes[0]
    assert not ax.patches  # no bars starting at an arbitrary floor of the log scale
    markers = [(line.get_marker(), line.get_markerfacecolor()) for line in ax.get_lines()[:3]]
    assert markers[0][0] == "o" and markers[2][0] == "X"
    assert markers[1][1] == "none"  # the exact zero, hollow


def test_step_time_tells_the_computed_bar_from_the_measured_ones():
    bench = {"peak": {"gflops": 100.0},
             "network": {"matmul_flops_per_step": {"total": 1e9}},
             "breakdown_best_seconds": {"bias_add": 1e-4, "relu (forward)": 2e-4,
                                        "optimizer_update": 2e-3},
             "train_step": {"train_step": {"best_seconds": 0.015}}}
    fig = plots.step_time(bench)
    labels = [label.get_text() for label in fig.axes[0].get_yticklabels()]
    assert "computed" in labels[0]
    assert all(label.endswith("measured") for label in labels[1:])


def test_epoch_split_stacks_the_measured_parts_and_draws_the_bound_apart():
    parts = {"matrix products": 4.0, "batch normalization": 1.0, "optimizer update": 1.5,
             "augmentation": 0.5, "validation": 0.4, "rest": 0.6}
    bench = {"best_epoch_split": {
        "layer_sizes": [3072, 1024, 1024, 512, 10], "epoch_seconds": 8.0,
        "epochs_seconds": [8.0, 8.2, 7.9], "parts_seconds": parts,
        "shares": {part: seconds / 8.0 for part, seconds in parts.items()},
        "bound_seconds": 3.5, "fraction_of_bound": 3.5 / 8.0, "peak": {"gflops": 280.0}}}
    fig = plots.epoch_split(bench)
    ax = fig.axes[0]
    *stacked, bound = ax.patches
    assert [bar.get_width() for bar in stacked] == pytest.approx(list(parts.values()))
    assert [bar.get_x() for bar in stacked] == pytest.approx([0.0, 4.0, 5.0, 6.5, 7.0, 7.4])
    assert bound.get_width() == 3.5 and bound.get_y() != stacked[0].get_y()
    assert len({bar.get_hatch() for bar in stacked}) == len(parts)  # told apart without colour
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend[0] == "matrix products: 4.00 s (50%)" and len(legend) == len(parts)
    assert "0.44 of the epoch" in " ".join(text.get_text() for text in ax.texts)
    assert ax.get_title() and ax.get_xlabel().startswith("seconds")


def test_ablation_draws_each_seed_and_each_rows_mean_against_the_full_recipe():
    rows = [{"label": "all", "accuracies": [0.59, 0.61], "mean": 0.6, "change": 0.0, "noise": 1.5},
            {"label": "without a", "accuracies": [0.54, 0.56], "mean": 0.55, "change": -5.0,
             "noise": 1.5},
            {"label": "without b", "accuracies": [0.61, 0.63], "mean": 0.62, "change": 2.0,
             "noise": 1.5}]
    fig = plots.ablation(rows)
    ax = fig.axes[0]
    means = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert list(means[0].get_xdata()) == [0.6, 0.55, 0.62]
    seeds = [list(line.get_xdata()) for line in ax.get_lines() if line.get_marker() == "|"]
    assert seeds == [[0.59, 0.61], [0.54, 0.56], [0.61, 0.63]]
    assert [t.get_text() for t in ax.texts] == ["-5.0", "+2.0"]
    band = ax.patches[0]  # the noise band around the first row's mean
    assert band.get_x() == pytest.approx(0.585) and band.get_width() == pytest.approx(0.03)


def test_gradient_norms_draw_one_line_per_activation_on_a_log_scale_told_apart_by_marker():
    norms = {"sigmoid": [1e-6, 1e-4, 1e-2, 1.0], "tanh": [1.0, 0.5, 0.5, 0.4],
             "ReLU": [4.0, 2.0, 3.0, 5.0]}
    ax = plots.gradient_norms(norms).axes[0]
    lines = ax.get_lines()
    assert [list(line.get_ydata()) for line in lines] == list(norms.values())
    assert list(lines[0].get_xdata()) == [1, 2, 3, 4]
    assert ax.get_yscale() == "log"
    assert len({line.get_marker() for line in lines}) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(norms)
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_rate_sweep_marks_the_bound_each_best_rate_and_the_diverged_runs():
    rates = np.array([0.01, 0.02, 0.04, 0.08])
    fig = plots.rate_sweep({"gradient descent": (rates, [0.5, 0.1, np.inf, np.inf]),
                            "momentum": (rates, [0.2, 0.01, 0.001, 5.0])},
                           bound=0.04, steps=100, ceiling=10.0)
    ax = fig.axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    lines = ax.get_lines()
    assert [tuple(line.get_xdata()) for line in lines if line.get_linestyle() == "--"
            and line.get_marker() in ("None", "", None)] == [(0.04, 0.04)]  # the bound 2/L
    stars = [(line.get_xdata()[0], line.get_ydata()[0]) for line in lines if line.get_marker() == "*"]
    assert stars == [(0.02, 0.1), (0.04, 0.001)]
    crosses = [tuple(line.get_xdata()) for line in lines if line.get_marker() == "x"]
    assert crosses == [(0.04, 0.08), ()]  # the diverged runs, drawn at the ceiling
    assert max(lines[0].get_ydata()) == 10.0
    assert "learning rate" in ax.get_xlabel() and ax.get_title()


def test_convergence_draws_each_run_step_by_step_on_a_log_scale():
    fig = plots.convergence({"a": [1.0, 0.5, 0.25], "b": [1.0, 0.1, 0.01]}, title="t")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert [tuple(line.get_ydata()) for line in ax.get_lines()] == [(1.0, 0.5, 0.25), (1.0, 0.1, 0.01)]
    assert len({line.get_linestyle() for line in ax.get_lines()}) == 2


def test_sweep_curves_draw_each_seed_and_the_means_of_both_splits_on_a_log_axis():
    records = [{"parameters": p, "n_train": 100, "hidden": (w, w), "seed": s,
                "train_accuracy": t + 0.01 * s, "val_accuracy": v, "train_loss": 1 - t,
                "val_loss": 2 - v} for w, p, t, v in [(2, 100, 0.2, 0.15), (8, 1000, 0.9, 0.3)]
               for s in (0, 1)]
    fig = plots.capacity_curves(records)
    ax_acc, ax_loss = fig.axes
    assert ax_acc.get_xscale() == "log" and "parameters" in ax_acc.get_xlabel()
    lines = {line.get_label(): line for line in ax_acc.get_lines()}
    means = [line for label, line in lines.items() if label.startswith("training images")]
    assert list(means[0].get_ydata()) == pytest.approx([0.205, 0.905])
    assert len(ax_acc.get_lines()) == 4  # each seed and the means, for both splits
    assert "100 training images" in fig._suptitle.get_text()
    assert "8-8" not in fig._suptitle.get_text()
    fig = plots.data_size_curves(records)
    assert "2-2" in fig._suptitle.get_text() and "training images" in fig.axes[0].get_xlabel()

"""Chapter 2, *The MLP, by hand*: the numbers its sentences show and the claims they make,
about the capacity and data-size sweeps, the activations at initialization.

Each function is one step of the chapter's bookkeeping, called by a folded cell right
where the chapter needs it: it reads what the cells above computed, puts the
numbers into ``numbers`` (the Markdown cells show them) and checks each claim a
sentence makes (:func:`cifar_mlp.display.claim`). The chapter runs them every time
it runs, under nbval too.
"""

import numpy as np

from cifar_mlp import generalization, report
from cifar_mlp.display import claim
from cifar_mlp.experiments import RECIPES
from cifar_mlp.model import MLP


def activation_findings(numbers, runs):
    """Sigmoid, tanh and ReLU stacks at initialization: gradient norms and slopes per layer."""
    sig_norms, sig_slopes, _ = runs["sigmoid, Glorot"]
    tanh_norms, tanh_slopes, tanh_flat = runs["tanh, Glorot"]
    relu_norms, _, relu_flat = runs["ReLU, He"]
    sig_factor = (sig_norms[1] / sig_norms[9]) ** (1 / 8)  # per layer, from layer 10 back to layer 2
    numbers.update(
        sig_shrink=float(f"{sig_norms[-1] / sig_norms[0]:.2g}"), sig_factor=sig_factor,
        sig_slope=np.mean(sig_slopes[1:]), tanh_slope=np.mean(tanh_slopes),
        tanh_flat=max(tanh_flat), relu_flat=np.mean(relu_flat),
        tanh_spread=max(tanh_norms) / min(tanh_norms), relu_spread=max(relu_norms) / min(relu_norms))
    claim(numbers["sig_shrink"] > 1e4,
          "with sigmoid the gradient vanishes: the first layer's is over 10,000 times smaller than the output layer's")
    claim(sig_factor < 0.25 and abs(sig_factor / numbers["sig_slope"] - 1) < 0.1,
          "each sigmoid layer shrinks the gradient by its mean derivative, below 1/4")
    claim(all(a < b for a, b in zip(sig_norms, sig_norms[1:])),
          "with sigmoid, the gradient shrinks at every layer on the way back")
    claim(numbers["tanh_spread"] < 10 and numbers["relu_spread"] < 10,
          "with tanh and with ReLU, every layer's gradient is within a factor of 10 of every other's")
    claim(numbers["tanh_slope"] > 0.5 and numbers["tanh_flat"] < 0.1,
          "tanh's units sit where its derivative is large; few are saturated")
    claim(0.4 < numbers["relu_flat"] < 0.6, "ReLU passes nothing at about half of its units")


def capacity_findings(numbers, capacity, data, n_images, sweep_recipe):
    """The capacity sweep: the narrowest and widest networks, gap and validation accuracy with
    bands."""
    by_width = generalization.summarize(capacity, "width")
    narrow, wide = by_width[0], by_width[-1]

    numbers.update(sweep_images=n_images, sweep_epochs=sweep_recipe.epochs,
                   sweep_seeds=narrow["runs"], sweep_batch=sweep_recipe.batch_size, sweep_lr=sweep_recipe.lr,
                   narrow_width=narrow["width"], wide_width=wide["width"],
                   narrow_parameters=narrow["parameters"], wide_parameters=wide["parameters"],
                   narrow_train=narrow["train_accuracy"] * 100, narrow_val=narrow["val_accuracy"] * 100,
                   wide_train=wide["train_accuracy"] * 100, wide_val=wide["val_accuracy"] * 100,
                   narrow_gap=narrow["gap"] * 100, wide_gap=wide["gap"] * 100)
    fit = generalization.contrast(capacity, "width", "train_accuracy", narrow["width"], wide["width"])
    gap_growth = generalization.contrast(capacity, "width", "gap", narrow["width"], wide["width"])
    val_growth = generalization.contrast(capacity, "width", "val_accuracy", narrow["width"], wide["width"])
    numbers["gap_sentence"] = ("The gap grows with width" if gap_growth["verdict"] == "higher" else
                               "In this run the gap does not grow beyond noise")
    numbers.update(fit_verdict=fit["verdict"], gap_band=gap_growth["band"], gap_df=gap_growth["df"],
                   gap_change=gap_growth["change"],
                   gap_verdict=gap_growth["verdict"], val_change=val_growth["change"],
                   val_band=val_growth["band"], val_verdict=val_growth["verdict"],
                   band_level=report.BAND_LEVEL * 100)
    # Underfitting: the narrowest network gets its own training images right less often than
    # the widest gets new ones.
    numbers["underfit_sentence"] = (
        "it gets its own training images right less often than the widest network gets new ones"
        if narrow["train_accuracy"] < wide["val_accuracy"] else
        "of all the widths, it fits its training images least well"
        if narrow["train_accuracy"] == min(row["train_accuracy"] for row in by_width) else
        "in this run, not the worst fit of its training images")
    # Where the gap stops growing: the largest mean gap, and the change after it
    peak = max(by_width, key=lambda row: row["gap"])
    numbers["peak_width"], numbers["peak_gap"] = peak["width"], peak["gap"] * 100
    numbers["peak_train"] = peak["train_accuracy"] * 100
    if peak is wide:  # against the next largest gap: is the widest's lead beyond noise?
        runner = max(by_width[:-1], key=lambda row: row["gap"])
        lead = generalization.contrast(capacity, "width", "gap", runner["width"], wide["width"])
        numbers["gap_course"] = (
            f"It is largest for the widest network, {lead['change']:+.1f} points from the next "
            f"largest (width {runner['width']}), {lead['verdict']}.")
    else:
        after = generalization.contrast(capacity, "width", "gap", peak["width"], wide["width"])
        numbers["gap_course"] = (
            f"It is largest at width {peak['width']}, {peak['gap'] * 100:.0f} points, where the "
            f"networks already get {peak['train_accuracy']:.0%} of their training images right; "
            f"with little left to fit, from there to the widest it changes by "
            f"{after['change']:+.1f} points ({after['verdict']}).")
    # Validation accuracy against width: where is it highest, and is the widest below it?
    best_val = max(by_width, key=lambda row: row["val_accuracy"])
    if best_val is wide:  # against the next best: is the widest's lead beyond noise?
        runner = max(by_width[:-1], key=lambda row: row["val_accuracy"])
        lead = generalization.contrast(capacity, "width", "val_accuracy", runner["width"], wide["width"])
        numbers["val_course"] = (
            f"is highest for the widest network, {lead['change']:+.1f} points from the next best "
            f"(width {runner['width']}, {lead['verdict']}, against a band of {lead['band']:.1f}): in "
            "this range more width, though it fits the training images ever more closely, does "
            "not cost accuracy on new ones. What grows with width is the part of what it learns "
            "that holds for its training images only")
    else:
        drop = generalization.contrast(capacity, "width", "val_accuracy", best_val["width"], wide["width"])
        numbers["val_course"] = (
            f"is highest at width {best_val['width']}, {best_val['val_accuracy']:.1%}; the widest "
            f"network's is {-drop['change']:.1f} points below it ({drop['verdict']}): past that "
            "width, what the extra capacity learns holds for the training images only")
    # The cross-entropy panel
    train_losses = [row["train_loss"] for row in by_width]
    # contrast() works in points (a field times 100): a loss comes back divided by 100
    val_loss_change = generalization.contrast(capacity, "width", "val_loss", narrow["width"], wide["width"])
    numbers["loss_sentence"] = (
        f"On the right, the training cross-entropy "
        f"{'falls with every step of width' if all(np.diff(train_losses) < 0) else 'falls overall with width'}; "
        f"the validation cross-entropy does not follow it: from the narrowest to the widest it goes "
        f"from {narrow['val_loss']:.2f} to {wide['val_loss']:.2f} ({val_loss_change['verdict']}, "
        f"against a band of {val_loss_change['band'] / 100:.2f}), and between them it is higher "
        f"than at either end. The loss charges for confidence, where accuracy only counts right and "
        "wrong, so the two need not move together: a network sure of its mistakes on new images "
        "pays for them in loss, not in accuracy."
        if all(row["val_loss"] > max(narrow["val_loss"], wide["val_loss"]) for row in by_width[1:-1]) else
        f"On the right, the training cross-entropy "
        f"{'falls with every step of width' if all(np.diff(train_losses) < 0) else 'falls overall with width'}; "
        f"the validation cross-entropy goes from {narrow['val_loss']:.2f} to {wide['val_loss']:.2f} "
        f"({val_loss_change['verdict']}, against a band of {val_loss_change['band'] / 100:.2f}). "
        "The loss charges for confidence, where accuracy only counts right and wrong, so the two "
        "need not move together.")
    if data.source == "full":  # on the small sample the networks see too few images to tell
        claim(fit["verdict"] == "higher",
              "the widest network fits its training images better than the narrowest, beyond noise")
        claim(narrow["train_accuracy"] < wide["val_accuracy"],
              "the narrowest network gets its training images right less often than the widest gets new ones")
        claim(gap_growth["verdict"] == "higher", "the gap between training and validation grows with width")


def data_size_findings(numbers, capacity, data, more_data, prepared):
    """The data-size sweep: the gap and validation accuracy from the fewest to the most images."""
    by_size = generalization.summarize(more_data, "n_train")
    fewest, most = by_size[0], by_size[-1]
    gap_fall = generalization.contrast(more_data, "n_train", "gap", fewest["n_train"], most["n_train"])
    val_rise = generalization.contrast(more_data, "n_train", "val_accuracy", fewest["n_train"], most["n_train"])
    train_change = generalization.contrast(more_data, "n_train", "train_accuracy",
                                           fewest["n_train"], most["n_train"])
    numbers.update(fewest_images=fewest["n_train"], most_images=most["n_train"],
                   fewest_gap=fewest["gap"] * 100, most_gap=most["gap"] * 100,
                   fewest_val=fewest["val_accuracy"] * 100, most_val=most["val_accuracy"] * 100,
                   fewest_train=fewest["train_accuracy"] * 100, most_train=most["train_accuracy"] * 100,
                   data_gap_change=gap_fall["change"], data_gap_band=gap_fall["band"],
                   data_gap_verdict=gap_fall["verdict"], data_val_verdict=val_rise["verdict"],
                   data_val_band=val_rise["band"], data_train_verdict=train_change["verdict"],
                   data_width=most["hidden"][0])
    gaps = [row["gap"] for row in by_size]
    step_verdicts = [generalization.contrast(more_data, "n_train", "gap", a["n_train"], b["n_train"])["verdict"]
                     for a, b in zip(by_size, by_size[1:])]
    numbers["data_gap_course"] = (
        ("its mean shrinks at every step" if all(np.diff(gaps) < 0) else
         "its mean shrinks overall, though not at every step")
        + (", each step within noise on its own" if set(step_verdicts) == {"within noise"} else ""))
    numbers["data_train_sentence"] = (
        "The training accuracy falls as the images grow more numerous "
        f"({train_change['change']:+.1f} points, {train_change['verdict']}): more images are harder "
        "to memorize, and the network has to learn what they share instead."
        if train_change["verdict"] == "lower" else
        f"The training accuracy changes by {train_change['change']:+.1f} points "
        f"({train_change['verdict']}).")
    numbers["data_val_change"] = val_rise["change"]
    numbers["data_gap_sentence"] = ("The same network overfits less when it has more to learn from."
                                    if gap_fall["verdict"] == "lower" else
                                    "In this run more images did not narrow the gap beyond noise.")
    numbers["seed_parameters"] = MLP(RECIPES["seed_rgb"].layer_sizes(prepared.n_features)).n_parameters
    numbers["all_training_images"] = len(prepared.y_train)
    numbers["n_networks"] = len(capacity) + len(more_data)
    if data.source == "full":
        claim(gap_fall["verdict"] == "lower", "with more training images the gap shrinks, beyond noise")
        claim(val_rise["verdict"] == "higher", "with more training images validation accuracy rises, beyond noise")

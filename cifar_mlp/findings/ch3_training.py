"""Chapter 3, *Training on CIFAR-10*: the numbers its sentences show and the claims they make,
about optimizers, regularization, debugging, the trials and the search.

Each function is one step of the chapter's bookkeeping, called by a folded cell right
where the chapter needs it: it reads what the cells above computed, puts the
numbers into ``numbers`` (the Markdown cells show them) and checks each claim a
sentence makes (:func:`cifar_mlp.display.claim`). The chapter runs them every time
it runs, under nbval too.
"""

import json

import numpy as np

from cifar_mlp import generalization, quadratic, report, search, tuning
from cifar_mlp.augment import n_views
from cifar_mlp.display import claim, listing
from cifar_mlp.experiments import RECIPES, ablation_recipes, build
from cifar_mlp.profiles import project_root
from cifar_mlp.train import evaluate


def quadratic_findings(numbers, bound, bowl, kappa, methods, rates, scores):
    """The quadratic's tuned settings against theory (2/L, heavy-ball's rates); returns each
    method's tuned (rate, momentum)."""
    tuned = {label: quadratic.best(rates, methods[label][1], s) for label, s in scores.items()}
    gd_scores = scores["gradient descent"][:, 0]
    gd_lr, hb_lr, hb_beta = tuned["gradient descent"][0], *tuned["heavy-ball momentum"][:2]
    gd_theory_lr = quadratic.gradient_descent_theory(bowl)[0]
    numbers.update(kappa=kappa, bound=bound, gd_lr=gd_lr, gd_theory_lr=gd_theory_lr,
                   hb_lr=hb_lr, hb_beta=hb_beta, hb_bound_ratio=hb_lr / bound,
                   nag_lr=tuned["Nesterov momentum"][0], nag_beta=tuned["Nesterov momentum"][1],
                   adam_lr=tuned["Adam"][0])
    claim(np.all(gd_scores[rates < bound] < 1) and np.all(gd_scores[rates > bound] > 1),
          "gradient descent converges at every learning rate below 2/L and diverges above it")
    claim(gd_lr <= gd_theory_lr < rates[list(rates).index(gd_lr) + 1],
          "gradient descent's best rate is the grid's last point before 2/(L + mu)")
    claim(hb_lr > bound, "heavy ball's best learning rate lies beyond 2/L")
    claim(len({lr for lr, _, _ in tuned.values()}) == len(tuned), "each method has its own best rate")
    return tuned


def optimizer_findings(numbers, best_rates, chance, confirmed, data, optimizer_images, optimizer_recipe, optimizer_sweep, rate_grids, sweep_rows):
    """Each optimizer at its own best rate on the network: rates, momentum's equivalent step,
    the confirmation seeds' verdicts."""
    sgd, momentum, adam = (best_rates[label] for label in tuning.METHODS)
    beta = tuning.METHODS["momentum 0.9"]["momentum"]
    grid_step = np.log10(rate_grids["SGD"][1] / rate_grids["SGD"][0])  # decades between rates
    equivalent = tuning.sgd_equivalent(momentum["lr"], beta)
    steps_apart = round(abs(np.log10(equivalent / sgd["lr"])) / grid_step)
    pairs = tuning.comparisons(confirmed)
    sweep_seeds = len({r["seed"] for r in optimizer_sweep})
    confirm_seeds = len({r["seed"] for r in confirmed})
    confirmed_mean = {label: 100 * np.mean([r["val_accuracy"] for r in confirmed
                                            if r["method"] == label]) for label in best_rates}
    numbers.update(
        opt_images=optimizer_images, opt_epochs=optimizer_recipe.epochs,
        opt_batch=optimizer_recipe.batch_size, opt_rates=len(rate_grids["SGD"]),
        opt_decades=np.log10(rate_grids["SGD"][-1] / rate_grids["SGD"][0]),
        opt_sweep_seeds=sweep_seeds, opt_confirm_seeds=confirm_seeds, opt_grid_step=grid_step,
        opt_sgd_lr=sgd["lr"], opt_momentum_lr=momentum["lr"], opt_adam_lr=adam["lr"], opt_beta=beta,
        opt_momentum_factor=tuning.sgd_equivalent(1.0, beta), opt_momentum_equivalent=equivalent,
        sgd_confirmed=confirmed_mean["SGD"], momentum_confirmed=confirmed_mean["momentum 0.9"],
        adam_confirmed=confirmed_mean["Adam"],
        opt_networks=len(optimizer_sweep) + len(confirmed),
        opt_band_odds=1 / (1 - report.BAND_LEVEL),
        opt_seconds=sum(r["seconds"] for r in optimizer_sweep + confirmed))

    # Where each best rate lies in its grid, and whether the three differ
    edge = [label for label, choice in best_rates.items() if choice["at_edge"]]
    distinct = len({choice["lr"] for choice in best_rates.values()}) == len(best_rates)
    numbers["grid_sentence"] = (
        ("Three different rates" if distinct else "Not three different rates") +
        (", each inside its grid, so the choice does not hang on where the grids end" if not edge
         else f"; {listing(edge)} found {'its' if len(edge) == 1 else 'theirs'} at an edge of "
              "the grid, where a wider grid could move it"))
    adam_decades = np.log10(sgd["lr"] / adam["lr"])
    numbers["adam_place"] = f"{abs(adam_decades):.1f} decades {'below' if adam_decades > 0 else 'above'}"

    # The top of each grid: runs that diverged, or trained and learned nothing
    tops = {label: [row for row in sweep_rows if row["method"] == label][-1] for label in best_rates}

    def top_text(label, row):
        """What the largest rate of a method's grid did."""
        if row["diverged"] == row["runs"]:
            return f"{label} diverged with every seed at {row['lr']:.2g}"
        diverged = f", {row['diverged']} of its seeds diverging" if row["diverged"] else ""
        return f"{label} reached {row['val_accuracy']:.1%} at {row['lr']:.2g}{diverged}"

    at_chance = all(row["val_accuracy"] < chance + 0.01 for row in tops.values())
    numbers["top_sentence"] = (
        ("At the top of its grid no method learns anything" if at_chance else
         "At the top of its grid") +
        f": {listing(top_text(label, row) for label, row in tops.items())}, chance being "
        f"{chance:.0%}. In all, {sum(r['diverged'] for r in optimizer_sweep)} of the "
        f"{len(optimizer_sweep)} runs of the sweep diverged.")

    # How sharp each peak is: the second-best rate against the best, over the sweep's seeds
    runner_up = {}
    for label, choice in best_rates.items():
        ranked = sorted((row for row in sweep_rows if row["method"] == label),
                        key=lambda row: row["val_accuracy"])
        runner_up[label] = generalization.contrast(
            [r for r in optimizer_sweep if r["method"] == label], "lr", "val_accuracy",
            ranked[-2]["lr"], choice["lr"])
    flat = all(c["verdict"] == "within noise" for c in runner_up.values())
    peaks = "; ".join(f"{label} ahead by {c['change']:.1f} points, band {c['band']:.1f}"
                      + ("" if flat else f", {c['verdict']}") for label, c in runner_up.items())
    numbers["peak_sentence"] = (
        f"The peaks are flat, though: each method's second-best rate is within noise of its best "
        f"({peaks}), so each best rate is known only to about a grid step." if flat else
        f"Each method's best rate against its second-best: {peaks}.")
    numbers["equivalence_sentence"] = (
        "in the same column of the grids as plain SGD's own best rate: they agree to within the "
        f"grid's spacing of {grid_step:.1f} decades, as the formula predicts, and with peaks this "
        "flat no finer agreement could show" if steps_apart == 0 else
        f"{steps_apart} grid step{'' if steps_apart == 1 else 's'} "
        f"({steps_apart * grid_step:.1f} decades) from plain SGD's own best rate, "
        f"{sgd['lr']:.2g}" + (", close to what the formula predicts" if steps_apart == 1 else
                              ", further apart than the formula predicts"))

    # Every pair of methods at their own best rates, with new seeds
    within = all(pair["verdict"] == "within noise" for pair in pairs)
    numbers["comparison_sentence"] = (
        ("At their own best rates the three methods are within noise of one another: "
         if within else "At their own best rates: ") +
        listing(f"{pair['second']} {pair['change']:+.1f} points against {pair['first']}"
                + ("" if within else f" ({pair['verdict']})") for pair in pairs) +
        f", each against a {report.BAND_LEVEL:.0%} band of {pairs[0]['band']:.1f} points, from "
        f"Student's t with {pairs[0]['df']} degrees of freedom and the seeds' spread pooled "
        "over the three methods")

    # The sweep's own figure for each best rate against the new seeds': the choice's bias
    changes = {label: confirmed_mean[label] - best_rates[label]["val_accuracy"] * 100
               for label in best_rates}
    change_band = report.noise(pairs[0]["std"], sweep_seeds, confirm_seeds, df=pairs[0]["df"])
    change_verdicts = {label: report.verdict(change, change_band)
                       for label, change in changes.items()}
    numbers["bias_sentence"] = (
        "Against the sweep's own figure for the same rate, the new seeds' mean differs by "
        + listing(f"{change:+.1f} points for {label}" for label, change in changes.items())
        + f", against a band of {change_band:.1f} points for a mean of {sweep_seeds} seeds "
        f"against one of {confirm_seeds}: "
        + ("all within noise. The choice's bias is there by construction, but at this size the "
           "spread of the seeds hides it."
           if all(v == "within noise" for v in change_verdicts.values()) else
           listing(f"{label}'s {verdict}" for label, verdict in change_verdicts.items()) + "."))

    if data.source == "full":  # on the sample, two epochs on few images say little
        claim(not edge, "each method's best rate lies inside its grid")
        claim(distinct, "the three methods have three different best rates")
        claim(adam["lr"] < sgd["lr"], "Adam's best rate lies below plain SGD's")
        claim(at_chance, "at the top of its grid no method learns anything")


def seed_network_findings(numbers, rgb, seed_gray, seed_rgb):
    """The seed's two networks: test accuracies, what the curves did after the best epoch, the
    train-validation gap."""
    numbers["seed_gray_test"] = seed_gray["test_accuracy"] * 100
    numbers["seed_rgb_test"] = seed_rgb["test_accuracy"] * 100
    claim(seed_rgb["test_accuracy"] > seed_gray["test_accuracy"], "the colour network beats the grayscale one")

    def after_best(history):
        """What the curves did after the epoch of lowest validation loss (epochs counted from
        1)."""
        best_epoch = history.best_epoch
        val_loss, val_acc = np.array(history.val_loss), np.array(history.val_acc) * 100
        lowest, later = val_loss[best_epoch - 1], val_loss[best_epoch:]
        span = later if len(later) else val_loss[best_epoch - 1:]  # no epoch after the best: itself
        return {
            "best_epoch": best_epoch, "lowest": lowest, "n_after": len(later),
            "rise_low": span.min() - lowest, "rise_high": span.max() - lowest,
            "rise_end": val_loss[-1] - lowest,
            # how much the validation loss moves from one epoch to the next, from its lowest on
            "wobble": float(np.median(np.abs(np.diff(val_loss[best_epoch - 1:])))),
            # the slope of a straight line through the epochs after the lowest
            "trend": float(np.polyfit(np.arange(len(later)), later, 1)[0]) if len(later) > 1 else 0.0,
            "acc_at_best": val_acc[best_epoch - 1], "acc_end": val_acc[-1],
            "acc_max": val_acc.max(), "acc_max_epoch": int(np.argmax(val_acc)) + 1,
            "train_loss_at_best": history.train_loss[best_epoch - 1],
            "train_loss_end": history.train_loss[-1]}

    curves = {"rgb": after_best(seed_rgb["history"]), "gray": after_best(seed_gray["history"])}
    for key, curve in curves.items():
        numbers.update({f"{key}_{name}": value for name, value in curve.items()})
    n_val = len(rgb.y_val)
    stopped = all(result["history"].stopped_early for result in (seed_rgb, seed_gray))
    if stopped:  # epochs after the lowest validation loss to describe
        for curve in curves.values():
            claim(curve["trend"] * curve["n_after"] < curve["wobble"],
                  "after its lowest point the validation loss rises by less than its epoch-to-epoch change")
            claim(curve["train_loss_end"] < curve["train_loss_at_best"],
                  "the training loss keeps falling after the best epoch")
            claim(curve["acc_end"] >= curve["acc_at_best"],
                  "validation accuracy did not fall after the lowest validation loss")
        rgb_curve, gray_curve = curves["rgb"], curves["gray"]
        numbers["validation_course"] = (
            "The colour network's is lowest at epoch {rgb[best_epoch]}, {rgb[lowest]:.3f}; over the "
            "{rgb[n_after]} epochs after that it stays {rgb[rise_low]:.2f} to {rgb[rise_high]:.2f} above "
            "it and ends {rgb[rise_end]:.2f} above it, while it moves by {rgb[wobble]:.3f} from one "
            "epoch to the next (the median change from its lowest point on), and a straight line "
            "through those epochs changes by {rgb[trend]:+.3f} per epoch. The grayscale network's is "
            "lowest at epoch {gray[best_epoch]}, {gray[lowest]:.3f}, and then stays {gray[rise_low]:.3f} "
            "to {gray[rise_high]:.3f} above it (a median change of {gray[wobble]:.3f} per epoch, a "
            "straight line of {gray[trend]:+.4f} per epoch). So the validation loss levels off: it "
            "stops falling, without a clear turn up, while the training loss falls from "
            "{rgb[train_loss_at_best]:.2f} to {rgb[train_loss_end]:.2f} (colour) and from "
            "{gray[train_loss_at_best]:.2f} to {gray[train_loss_end]:.2f} (grayscale)."
        ).format(rgb=rgb_curve, gray=gray_curve)
        images = {key: round((c["acc_end"] - c["acc_at_best"]) / 100 * n_val) for key, c in curves.items()}
        # The noise of an accuracy on n_val images: its binomial standard error, and the band of a
        # difference of two such accuracies (as for the gaps further down)
        for c in curves.values():
            c["se"] = report.binomial_se(c["acc_at_best"] / 100, n_val)
            c["band"] = report.sampling_band(n_val, c["acc_at_best"] / 100)
            c["end_verdict"] = report.verdict(c["acc_end"] - c["acc_at_best"], c["band"])
            c["max_verdict"] = report.verdict(c["acc_max"] - c["acc_at_best"], c["band"])
            c["max_gain"] = ("for a gain inside that band" if c["max_verdict"] == "within noise"
                             else "for a gain larger than this band")
            c["max_words"] = "inside it too" if c["max_verdict"] == "within noise" else "beyond it"
        verdicts = {c["end_verdict"] for c in curves.values()}
        noise_words = ("both inside it" if verdicts == {"within noise"} else
                       "colour {rgb[end_verdict]}, grayscale {gray[end_verdict]}")
        numbers["accuracy_course"] = (
            " Validation accuracy changed little after that epoch: from the epoch of lowest validation loss to "
            "the last, the colour network's went from {rgb[acc_at_best]:.1f}% to {rgb[acc_end]:.1f}% "
            "({img[rgb]} more of the {n_val:,} validation images; its highest, {rgb[acc_max]:.1f}%, "
            "at epoch {rgb[acc_max_epoch]}), the grayscale network's from {gray[acc_at_best]:.1f}% to "
            "{gray[acc_end]:.1f}% ({img[gray]} images). An accuracy measured on {n_val:,} images "
            "has a binomial standard error of {rgb[se]:.1f} points (colour; {gray[se]:.1f} grayscale), "
            "so a {level:.0f}% band for the difference of two independent such accuracies is "
            "{rgb[band]:.1f} points ({gray[band]:.1f}). These two are the same network's at two epochs, "
            "on the same images, so their difference is less noisy than that: the band is an upper "
            "bound, and a sharper verdict would need both epochs' predictions image by image, which "
            "the run does not keep. These changes are " + noise_words + "; the colour network's "
            "highest accuracy, against the one kept, is {rgb[max_words]}. Stopping on validation accuracy would have "
            "kept epoch {rgb[acc_max_epoch]}, {rgb[max_gain]}. Loss and accuracy "
            "can still drift apart: accuracy counts only whether the most probable class is the right "
            "one, while the loss also charges for confidence. One possible reason, which this chapter "
            "does not test: a network that grows more confident, as its falling training loss suggests, "
            "pays in loss for every confident mistake without changing its accuracy."
            if any(c["acc_max_epoch"] > c["best_epoch"] for c in curves.values()) else
            " Validation accuracy did not fall either: from the epoch of lowest validation loss to "
            "the last, the colour network's went from {rgb[acc_at_best]:.1f}% to {rgb[acc_end]:.1f}%, "
            "the grayscale network's from {gray[acc_at_best]:.1f}% to {gray[acc_end]:.1f}%."
        ).format(rgb=rgb_curve, gray=gray_curve, img=images, n_val=n_val, level=report.BAND_LEVEL * 100)
    else:
        numbers["validation_course"] = ("In this short run training ended before early stopping did, "
                                        "so there is nothing yet to read after the lowest validation loss.")
        numbers["accuracy_course"] = ""
    # Training and validation images scored the same way: the kept network (its best epoch's
    # weights), in inference mode. The accuracy logged during training is not comparable: it is
    # averaged over an epoch's batches while the network changes.
    seed_rgb_train_loss, seed_rgb_train_acc = evaluate(seed_rgb["model"], rgb.x_train, rgb.y_train)
    numbers["seed_rgb_train_acc"] = seed_rgb_train_acc * 100
    numbers["seed_rgb_val_acc"] = seed_rgb["val_accuracy"] * 100
    numbers["seed_rgb_gap"] = (seed_rgb_train_acc - seed_rgb["val_accuracy"]) * 100
    numbers["seed_rgb_loss_gap"] = seed_rgb["val_loss"] - seed_rgb_train_loss
    claim(numbers["seed_rgb_gap"] > 0 and numbers["seed_rgb_loss_gap"] > 0,
          "at its best epoch the colour network does better on training than on validation images")


def l2_shrinkage_findings(numbers, data, l2_images, l2_recipe, shrinkage):
    """L2 without batch norm: how every weight matrix shrinks and what the gap and validation
    accuracy do; returns the weakest and strongest rows."""
    by_l2 = generalization.summarize(shrinkage, "l2")
    no_l2, strongest = by_l2[0], by_l2[-1]
    l2_gap = generalization.contrast(shrinkage, "l2", "gap", no_l2["l2"], strongest["l2"])
    l2_val = generalization.contrast(shrinkage, "l2", "val_accuracy", no_l2["l2"], strongest["l2"])
    l2_train = generalization.contrast(shrinkage, "l2", "train_accuracy", no_l2["l2"], strongest["l2"])
    numbers.update(l2_images=l2_images, l2_epochs=l2_recipe.epochs, l2_width=l2_recipe.hidden[0],
                   l2_lr=l2_recipe.lr, l2_strongest=f"{strongest['l2']:g}", l2_middle=f"{by_l2[1]['l2']:g}",
                   l2_w1_before=no_l2["weight_norms"]["W1"], l2_w1_after=strongest["weight_norms"]["W1"],
                   l2_gap_before=no_l2["gap"] * 100, l2_gap_after=strongest["gap"] * 100,
                   l2_gap_change=l2_gap["change"], l2_gap_band=l2_gap["band"], l2_gap_verdict=l2_gap["verdict"],
                   l2_val_change=l2_val["change"], l2_val_band=l2_val["band"], l2_val_verdict=l2_val["verdict"],
                   l2_train_change=l2_train["change"], l2_train_verdict=l2_train["verdict"])
    shrinks = all(a["weight_norms"][name] > b["weight_norms"][name]
                  for a, b in zip(by_l2, by_l2[1:]) for name in a["weight_norms"])
    claim(shrinks, "every weight matrix is smaller at every stronger penalty")
    numbers["l2_val_sentence"] = (
        "so the penalty bought a smaller gap with a lower validation accuracy: at this strength it "
        "takes away more than overfitting, the network underfits" if l2_val["verdict"] == "lower" else
        "so the smaller gap came with a validation accuracy that did not fall beyond noise"
        if l2_val["verdict"] == "within noise" else
        "and validation accuracy rose with it: the penalty traded fit on the training images for fit on new ones")
    if data.source == "full":
        claim(l2_gap["verdict"] == "lower", "the strongest penalty narrows the gap, beyond noise")
    return no_l2, strongest


def l2_bn_step_findings(numbers, best_recipe, gradient_ratio, logit_change, logits_before, probe, scale):
    """The measured step: how far one step moves W1 with and without L2 under batch norm."""
    n_weight_layers = len(best_recipe.hidden) + 1
    sizes = {i: probe.params[f"W{i}"].size for i in range(1, n_weight_layers + 1)}
    numbers["best_l2"] = f"{best_recipe.l2:.1e}".replace("e-0", "e-")
    numbers.update(scale=scale, logit_change=f"{logit_change:.0e}".replace("e-0", "e-"), gradient_ratio=gradient_ratio,
                   bn_fed=listing([f"W{i}" for i in range(1, n_weight_layers)]),
                   output_w=f"W{n_weight_layers}",
                   bn_fed_share=100 * sum(sizes[i] for i in range(1, n_weight_layers)) / sum(sizes.values()),
                   torch_weight_decay=f"{2 * best_recipe.l2:.1e}".replace("e-0", "e-"))
    claim(best_recipe.batchnorm and logit_change < 0.01 * float(logits_before.std())
          and abs(gradient_ratio * scale - 1) < 0.01,
          "scaling a layer that feeds batch norm leaves the output and divides its gradient by the scale")


def l2_bn_findings(numbers, bn_l2s, bn_shrinkage, relative_step):
    """L2 with batch norm: the same shrinkage, the relative step it implies, the validation
    change."""
    bn_none, bn_strong = generalization.summarize(bn_shrinkage, "l2")
    bn_val = generalization.contrast(bn_shrinkage, "l2", "val_accuracy", bn_none["l2"], bn_strong["l2"])
    hidden_ratio = bn_none["weight_norms"]["W1"] / bn_strong["weight_norms"]["W1"]
    numbers.update(bn_w1_before=bn_none["weight_norms"]["W1"], bn_w1_after=bn_strong["weight_norms"]["W1"],
                   bn_step_factor=hidden_ratio ** 2, bn_last_before=bn_none["weight_norms"]["W3"],
                   bn_last_after=bn_strong["weight_norms"]["W3"], bn_val_change=bn_val["change"],
                   bn_val_band=bn_val["band"], bn_val_verdict=bn_val["verdict"])
    numbers["bn_step_none"] = f"{relative_step[bn_l2s[0]]:.1e}"
    numbers["bn_step_strong"] = f"{relative_step[bn_l2s[-1]]:.1e}"
    numbers["bn_step_measured"] = relative_step[bn_l2s[-1]] / relative_step[bn_l2s[0]]
    claim(numbers["bn_step_measured"] > 1, "with L2 a step moves the batch-normalized layer further, relatively")
    claim(hidden_ratio > 1 and bn_strong["weight_norms"]["W3"] < bn_none["weight_norms"]["W3"],
          "with batch normalization the penalty still shrinks the hidden and the last layer's weights")


def range_test_findings(numbers, best_recipe, lrs, rgb, smoothed):
    """The learning-rate range test: its lowest smoothed loss, the steepest descent, the
    recipe's rate against them."""
    settled = 20  # the moving average needs about 10 steps to forget its first values
    lowest = int(np.argmin(smoothed))
    slope = np.gradient(smoothed, np.log(lrs))  # how fast the loss falls per factor of e
    steepest = settled + int(np.argmin(slope[settled:lowest + 1]))  # on the way down to the lowest
    numbers["settled"] = settled
    numbers["steepest_lr"], numbers["lowest_lr"] = lrs[steepest], lrs[lowest]
    numbers["rule_lr"] = lrs[lowest] / 10
    numbers["best_lr"] = best_recipe.lr
    # Where the rule of thumb's two bounds lie, smaller first
    bounds = sorted([(numbers["steepest_lr"], "the steepest fall"), (numbers["rule_lr"], "a tenth of the lowest point")])
    numbers["rule_range"] = " and ".join(f"{name} ({value:.2g})" for value, name in bounds)
    # Did the trials vary the learning rate?
    trial_lrs = [trial["recipe"]["lr"] for trial in json.loads(
        (project_root() / "results" / "recipe_trials.json").read_text()).values()]
    numbers["n_trials_lr"], numbers["n_trials_all"] = trial_lrs.count(best_recipe.lr), len(trial_lrs)
    other_lrs = sorted(set(trial_lrs) - {best_recipe.lr})
    numbers["other_lr_note"] = (
        f", and the other {len(trial_lrs) - trial_lrs.count(best_recipe.lr)}, which changed the batch size, "
        f"at {listing([f'{lr:g}' for lr in other_lrs])}" if other_lrs else "")
    if best_recipe.lr < numbers["steepest_lr"]:
        numbers["range_verdict"] = "below the steepest fall: smaller than the test suggests"
    elif best_recipe.lr <= numbers["lowest_lr"]:
        numbers["range_verdict"] = "between the steepest fall and the lowest point, where the test says to look"
    else:
        numbers["range_verdict"] = (f"above the lowest point, {best_recipe.lr / numbers['lowest_lr']:.1f} "
                                    "times it: larger than the test's rule of thumb")
    # The best recipe's schedule, epoch by epoch: how long does it stay above the test's lowest point?
    schedule = build(best_recipe, rgb.n_features)[2]
    epoch_lrs = np.array([schedule(epoch, best_recipe.lr) for epoch in range(best_recipe.epochs)])
    numbers["schedule_note"] = (
        " The two do not contradict each other: the range test holds each rate for one step, "
        "while the cosine schedule starts at the recipe's rate and lowers it every epoch. "
        f"{np.sum(epoch_lrs > lrs[lowest])} of its {len(epoch_lrs)} epochs run above the test's "
        f"lowest point, and its rate is above {np.median(epoch_lrs):.2g} in half of all {len(epoch_lrs)}."
        if best_recipe.schedule == "cosine" and best_recipe.lr > numbers["lowest_lr"] else "")


def diagnostics_findings(numbers, steps, diagnosed_rates, logs):
    """The two diagnostics runs: dead units and update-to-weight ratios at each rate."""
    calm, hot = logs.values()
    numbers["calm_lr"], numbers["hot_lr"] = diagnosed_rates.values()
    numbers["calm_dead"] = max(calm["dead"][-1]) * 100
    numbers["hot_dead"] = max(hot["dead"][-1]) * 100
    numbers["hot_dead_layer"] = int(np.argmax(hot["dead"][-1])) + 1
    numbers["calm_ratio"] = float(np.median(calm["update_ratio"]["W1"]))
    numbers["hot_ratio_first"] = hot["update_ratio"][max(hot["update_ratio"])][0]
    numbers["n_steps"] = steps
    for key in ("calm_ratio", "hot_ratio_first"):  # written like the book's other powers of ten: 1e-3
        numbers[f"{key}_text"] = f"{numbers[key]:.0e}".replace("e-0", "e-")
    hot_layer_dead = [dead[numbers["hot_dead_layer"] - 1] * 100 for dead in hot["dead"]]
    peak = int(np.argmax(hot_layer_dead))
    width = RECIPES["seed_rgb"].hidden[numbers["hot_dead_layer"] - 1]  # units in that layer
    dead_counts = [round(share / 100 * width) for share in hot_layer_dead]  # units, not shares
    peak_count, end_count = dead_counts[peak], dead_counts[-1]
    revived = peak_count - end_count  # at least this many units dead at the peak are active at the end
    numbers["dead_units_end"], numbers["dead_width"] = end_count, width
    numbers["revival_sentence"] = (
        f" In units: {peak_count} of that layer's {width} were dead at the step when most were "
        f"(the diagnostics probe every few steps; that was step {hot['step'][peak] + 1}), "
        f"{end_count} at the end, so at least {revived} unit{'' if revived == 1 else 's'} dead then "
        f"{'was' if revived == 1 else 'were'} active again on some probe image." if revived > 0 else
        f" In units: {end_count} of that layer's {width}, and the count only grew in these steps.")
    numbers["revival_sentence"] += (
        " So a dead unit can come back; whether many do, a run this short is too small to show."
        if 0 < revived < 0.05 * width else " Dead units do come back here." if revived > 0 else "")
    claim(numbers["hot_dead"] > 5 * max(numbers["calm_dead"], 1),
          "at ten times the learning rate far more units die")


def trials_setup(numbers):
    """The recipe trials of results/recipe_trials.json and their noise; returns the best
    recipe, the noise, the change function and the trials."""
    best_recipe, seed_rgb_recipe = RECIPES["best"], RECIPES["seed_rgb"]
    trials = json.loads((project_root() / "results" / "recipe_trials.json").read_text())
    noise = report.trials_noise(trials)
    numbers["best_hidden"] = ", ".join(map(str, best_recipe.hidden[:-1])) + f" and {best_recipe.hidden[-1]}"
    numbers["best_depth"] = len(best_recipe.hidden)
    numbers["seed_depth"] = len(seed_rgb_recipe.hidden)
    numbers["shift"] = best_recipe.augment_shift
    numbers["ablation_views"] = n_views(ablation_recipes()[0][2].test_shift)
    numbers["best_views"] = n_views(best_recipe.test_shift)
    numbers["test_shift"] = best_recipe.test_shift
    numbers["test_shift_text"] = f"{best_recipe.test_shift} pixel{'' if best_recipe.test_shift == 1 else 's'}"
    numbers["seed_noise"], numbers["seed_df"] = noise["noise"], noise["df"]
    numbers["band_level"] = report.BAND_LEVEL * 100  # the level of every noise band
    numbers["n_seed_trials"] = len(noise["accuracies"])
    numbers["best_whitening"] = best_recipe.whitening

    def trial_change(name, reference):
        """Points of final validation accuracy that trial ``name`` gained over ``reference``."""
        return (trials[name]["final_val_accuracy"] - trials[reference]["final_val_accuracy"]) * 100

    simpler = trial_change("chosen_35", "no_dropout_shift2_35")
    dropped = trial_change("no_dropout_shift4_25", "previous_best_50")
    numbers["weak_l2"] = f'{trials["previous_best_50"]["recipe"]["l2"]:.1e}'.replace("e-0", "e-")
    numbers["simpler_change"], numbers["dropout_change"] = simpler, dropped
    numbers["simpler_verdict"] = report.verdict(simpler, noise["noise"])
    numbers["dropout_verdict"] = report.verdict(dropped, noise["noise"])
    claim(numbers["simpler_verdict"] != "lower" and numbers["dropout_verdict"] != "lower",
          "the recipe did no worse without dropout, Nesterov momentum and a weak L2, within noise")
    # The rule the trials followed for a change within noise: an addition stays only when every
    # seed tried gained with it by more than the seeds of one recipe spread.
    numbers["seed_spread"] = max(noise["accuracies"]) - min(noise["accuracies"])
    gains_nesterov_dropout = [-simpler, -dropped]  # what the run with each addition gained
    numbers["nesterov_gain"], numbers["dropout_gain"] = gains_nesterov_dropout
    claim(max(gains_nesterov_dropout) < numbers["seed_spread"],
          "with Nesterov or dropout the one run gained less than the spread of the seeds")
    numbers["stronger_than_weak"] = best_recipe.l2 / trials["previous_best_50"]["recipe"]["l2"]
    return best_recipe, noise, trial_change, trials


def ablation_findings(numbers, ablation, data, names, trials):
    """The ablation: what each ingredient adds, the costliest to drop, each against the noise."""
    changes = ablation[1:]
    costliest = min(changes, key=lambda row: row["change"])
    def undone(label):
        """What a row undoes, from its label: "without X: ..." gives X."""
        return label.removeprefix("without ").split(":")[0]

    numbers["costliest"] = undone(costliest["label"])
    numbers["costliest_drop"] = -costliest["change"]
    numbers["noise"] = changes[0]["noise"]
    runner_up = sorted(changes, key=lambda row: row["change"])[1]
    # Two rows' means differ by the band of a difference of two means of as many seeds
    lead = runner_up["change"] - costliest["change"]
    numbers["costliest_sentence"] = (
        f"At this budget, undoing {numbers['costliest']} costs the most: "
        f"{numbers['costliest_drop']:.1f} points of validation accuracy, "
        f"{lead:.1f} more than the next, {undone(runner_up['label'])} "
        f"({-runner_up['change']:.1f}), against a band of {costliest['noise']:.1f}: "
        + ("beyond it." if lead > costliest["noise"] else "within noise, so this run does not rank the two.")
        if costliest["change"] < 0 else
        "In this run, undoing an ingredient never lowers the validation accuracy.")

    def names(verdict):
        return [undone(row["label"]) for row in changes if row["verdict"] == verdict]

    helping, unclear, hurting = names("lower"), names("within noise"), names("higher")
    numbers["n_helping"], numbers["ablation_rows"] = len(helping), len(changes)
    numbers["helping"] = listing(helping) or "none"
    numbers["unclear_sentence"] = (
        f"Within noise at this budget, so not shown to help: {listing(unclear)}." if unclear
        else "None of the changes is within noise.")
    numbers["hurting_sentence"] = (f" Undoing {listing(hurting)} *raised* the accuracy by more "
                                   "than the noise: at this budget, "
                                   f"{'it costs' if len(hurting) == 1 else 'they cost'}."
                                   if hurting else "")
    numbers["short_budget_sentence"] = (
        f" One possible reason, which this chapter does not test: augmentation is meant to fight "
        f"overfitting, which may take more than {numbers['ablation_epochs']} epochs to set in, while "
        f"varied images make each epoch's fit harder. The trials below measure augmentation "
        f"over a longer run ({trials['no_aug_no_dropout_25']['epochs']} epochs; the best recipe "
        f"trains {numbers['best_epochs']})." if "augmentation" in hurting + unclear else "")
    numbers["l2_ablation_sentence"] = (
        " Weight decay is often said to fight overfitting too; on the layers of this network that "
        "feed batch normalization it works otherwise (*L2 weight decay and batch normalization*, above).")
    numbers["noise_df"] = changes[0]["df"]
    numbers["ablation_by_chance"] = (1 - report.BAND_LEVEL) * len(changes)
    paired = ablation[-1]
    numbers["paired_noise"] = paired["noise"]
    numbers["paired_df"] = f"{paired['df']} degree{'' if paired['df'] == 1 else 's'} of freedom"
    if data.source == "full":  # on the small sample, whitening has fewer images than pixels to fit
        claim(costliest["verdict"] == "lower", "undoing the costliest ingredient lowers the accuracy")


def best_recipe_findings(numbers, best_recipe, noise, trial_change, trials):
    """The best recipe against the trials it was chosen from, each change with its verdict."""
    def compared(name, reference):
        """The change of trial ``name`` from ``reference`` (points) and its verdict."""
        change = round(trial_change(name, reference), 1) + 0.0  # + 0.0: no "-0.0"
        return change, report.verdict(change, noise["noise"])

    numbers["seed_std"] = noise["std"]
    for key, (name, reference) in {
            "shift2": ("no_dropout_shift2_25", "no_dropout_shift4_25"),
            "augment": ("no_dropout_shift2_25", "no_aug_no_dropout_25"),
            "smoothing": ("no_dropout_shift2_smoothing_25", "no_dropout_shift2_25"),
            "longer": ("chosen_50", "chosen_35_again"),
            "wide": ("chosen_wide_35", "chosen_35_again"),
            "batch64": ("chosen_batch64_35", "chosen_35_again"),
            "batch256": ("chosen_batch256_lr01_50", "chosen_50"),
    }.items():
        numbers[f"{key}_change"], numbers[f"{key}_verdict"] = compared(name, reference)
    second_round = [numbers[f"{key}_verdict"] for key in ("longer", "wide", "batch64", "batch256")]
    numbers["second_round_sentence"] = (
        "all within noise: none is worth its cost" if set(second_round) == {"within noise"} else
        "some cost more than the noise, and none helped by more than it" if "higher" not in second_round
        else "at least one helped by more than the noise (the table says which)")
    numbers["smoothing_3_change"], numbers["smoothing_3_verdict"] = compared("chosen_smoothing",
                                                                          "chosen_35_again")
    l2_runs = [trials[name]["final_val_accuracy"] * 100 for name in ("chosen_l2", "chosen_l2_seed1")]
    numbers["l2_changes"] = " and ".join(f"{accuracy - noise['accuracies'][seed]:+.1f}"
                                         for seed, accuracy in enumerate(l2_runs))
    l2_change = float(np.mean(l2_runs) - np.mean(noise["accuracies"][:2]))
    numbers["l2_change"] = l2_change
    numbers["l2_noise"] = report.noise(noise["std"], 2, 2, df=noise["df"])
    numbers["l2_verdict"] = report.verdict(l2_change, numbers["l2_noise"])
    numbers["stronger_l2"] = f'{trials["chosen_l2_5e-4"]["recipe"]["l2"]:.1e}'.replace("e-0", "e-")
    stronger = (trials["chosen_l2_5e-4"]["final_val_accuracy"] - trials["chosen_l2"]["final_val_accuracy"]) * 100
    numbers["stronger_change"], numbers["stronger_verdict"] = stronger, report.verdict(stronger, noise["noise"])
    l2_seed_changes = [accuracy - noise["accuracies"][seed] for seed, accuracy in enumerate(l2_runs)]
    claim(best_recipe.l2 == trials["chosen_l2"]["recipe"]["l2"], "the best recipe takes the trials' L2")
    claim(numbers["l2_verdict"] != "lower" and min(l2_seed_changes) > numbers["seed_spread"],
          "with L2 both seeds gained more than the spread of the seeds, and the mean did not fall")
    numbers["l2_sentence"] = (
        "beyond the noise. The best recipe takes it" if numbers["l2_verdict"] == "higher" else
        "within noise: two runs on each side cannot show that it helps. The best recipe takes it "
        f"because each seed gained more than the {numbers['seed_spread']:.1f} points the seeds of one "
        "recipe spread apart, a rule of thumb (see the ingredients above); a third seed with and "
        "without L2 would settle whether it helps")
    numbers["t_seed"] = report.t_quantile(noise["df"])
    # The fifth round: the recipe on whitened inputs against the same seeds on standardized ones
    inputs_points = {"standardized": [trials[name]["final_val_accuracy"] * 100
                                      for name in ("chosen_l2", "chosen_l2_seed1")],
                     "whitened": [trials[name]["final_val_accuracy"] * 100
                                  for name in trials if name.startswith("best_zca_seed")]}
    by_inputs = report.against_reference(inputs_points, "standardized")
    numbers.update(zca_eps=trials["best_zca_seed0"]["recipe"]["whitening"],
                   zca_val=np.mean(inputs_points["whitened"]), zca_plain=np.mean(inputs_points["standardized"]),
                   zca_seeds=len(inputs_points["whitened"]), zca_change=by_inputs["changes"]["whitened"],
                   zca_noise=by_inputs["noise"], zca_df=by_inputs["df"], zca_verdict=by_inputs["verdicts"]["whitened"])
    claim(by_inputs["verdicts"]["whitened"] == "higher" and best_recipe.whitening == numbers["zca_eps"],
          "whitened inputs beat standardized ones beyond the noise, and the best recipe trains on them")
    verdict_keys = ["simpler", "dropout", "shift2", "augment", "smoothing", "longer", "wide", "batch64",
                    "batch256", "smoothing_3", "l2", "stronger"]
    numbers["n_comparisons"] = len(verdict_keys)
    numbers["n_beyond"] = sum(numbers[f"{key}_verdict"] != "within noise" for key in verdict_keys)
    numbers["expected_by_chance"] = (1 - report.BAND_LEVEL) * len(verdict_keys)
    numbers["one_in"] = 1 / (1 - report.BAND_LEVEL)
    numbers["trial_epochs"] = trials["no_dropout_shift2_25"]["epochs"]
    numbers["chosen_epochs"] = trials["chosen_35"]["epochs"]
    numbers["longer_epochs"] = trials["chosen_50"]["epochs"]
    numbers["longer_train_acc"] = trials["chosen_50"]["train_accuracy"][-1] * 100
    # The book trains the best recipe for fewer epochs than the trials: what shorter runs cost there
    shorter = {"chosen_wide_25": "chosen_wide_35", "no_dropout_shift2_25": "no_dropout_shift2_35"}
    shorter_changes = [compared(name, reference) for name, reference in shorter.items()]
    numbers["shorter_epochs"] = trials["chosen_wide_25"]["epochs"]
    numbers["shorter_changes"] = " and ".join(f"{change:+.1f}" for change, _ in shorter_changes)
    claim(numbers["shorter_epochs"] <= best_recipe.epochs <= numbers["chosen_epochs"]
          and all(verdict == "within noise" for _, verdict in shorter_changes),
          "the best recipe's length lies between two lengths the trials found within noise of each other")


def search_findings(numbers, best_recipe, coarse, confirmation, contenders, data, fine, fine_space, judged, margin, n_search, n_top, proxy, rgb, search_trials, space):
    """The hyperparameter search: its space, rounds, winners, the winner's curse and the book's
    recipe against them."""
    def decades(low, high):
        """How many factors of ten separate ``low`` from ``high``."""
        return float(np.log10(high / low))

    def where_in(value, low, high):
        """Where ``value`` falls against the range ``low`` to ``high``, in words."""
        if value < low:
            return f"below it, {low / value:.1f} times smaller than its low end"
        if value > high:
            return f"above it, {value / high:.1f} times larger than its high end"
        share = decades(low, value) / decades(low, high)
        part = "lower third" if share < 1 / 3 else "upper third" if share > 2 / 3 else "middle third"
        return f"inside it, in its {part} on the log scale"

    (_, lr_low, lr_high), (_, l2_low, l2_high) = space["lr"], space["l2"]
    (_, fine_lr_low, fine_lr_high), (_, fine_l2_low, fine_l2_high) = fine_space["lr"], fine_space["l2"]
    every_run = search_trials + confirmation
    numbers.update(
        search_proxy_hidden="-".join(map(str, proxy.hidden)), search_proxy_epochs=proxy.epochs,
        search_best_hidden="-".join(map(str, best_recipe.hidden)),
        search_best_epochs=best_recipe.epochs, search_n_images=n_search,
        search_image_share=n_search / len(rgb.y_train),
        search_all_training_images=len(rgb.y_train), search_n_coarse=len(coarse),
        search_n_fine=len(fine), search_n_trials=len(search_trials), search_top=n_top,
        search_margin=margin, search_n_runs=len(every_run),
        search_seconds=sum(r["seconds"] for r in every_run),
        search_trial_seconds=float(np.median([r["seconds"] for r in every_run])),
        search_lr_low=lr_low, search_lr_high=lr_high, search_l2_low=l2_low, search_l2_high=l2_high,
        search_lr_decades=decades(lr_low, lr_high), search_l2_decades=decades(l2_low, l2_high),
        # a uniform draw on the line: the share of learning rates in the range's top decade
        search_linear_top_share=100 * (lr_high - lr_high / 10) / (lr_high - lr_low),
        search_fine_lr_low=fine_lr_low, search_fine_lr_high=fine_lr_high,
        search_fine_l2_low=fine_l2_low, search_fine_l2_high=fine_l2_high,
        search_fine_lr_decades=decades(fine_lr_low, fine_lr_high),
        search_fine_l2_decades=decades(fine_l2_low, fine_l2_high))
    if data.source == "full":  # on the small sample the best trials may span the whole ranges
        claim(numbers["search_fine_lr_decades"] < numbers["search_lr_decades"]
              and numbers["search_fine_l2_decades"] < numbers["search_l2_decades"],
              "the fine round searched narrower ranges than the coarse one")

    # The lowest decade of learning rates against the rest of the coarse round
    slow_below = lr_low * 10
    slow = [r["val_accuracy"] for r in coarse if r["lr"] < slow_below]
    rest = [r["val_accuracy"] for r in search.ranked(coarse) if r["lr"] >= slow_below]
    slow_apart = bool(slow and rest and max(slow) < min(rest))
    numbers["search_slow_sentence"] = (
        f"The {len(slow)} coarse trials with a learning rate below {slow_below:g} are its "
        f"{len(slow)} worst, {min(slow):.1%} to {max(slow):.1%}, against {min(rest):.1%} to "
        f"{max(rest):.1%} for the other {len(rest)}: too small a rate for so short a run."
        if slow_apart else
        "In this run the lowest decade of learning rates does not stand apart from the rest.")
    if data.source == "full":  # on the small sample two epochs say little
        claim(slow_apart, "the coarse trials with the smallest learning rates are its worst")

    # The winner's curse
    winner, runner_up = list(contenders)[:2]  # the search's two best trials, best first
    best_trial = search.ranked(search_trials)[0]
    seed_std = judged["std"]  # the seeds' spread, pooled over the retrained settings
    n_seeds = len(confirmation) // len(contenders)
    numbers.update(
        search_winner=winner, search_winner_search=best_trial["val_accuracy"] * 100,
        search_winner_confirmed=judged["means"][winner], search_n_seeds=n_seeds,
        search_n_contenders=len(contenders), search_seed_std=seed_std,
        search_expected_max=search.expected_maximum(len(search_trials)),
        search_curse=search.expected_maximum(len(search_trials)) * seed_std,
        search_winner_lr=best_trial["lr"], search_winner_l2=best_trial["l2"])
    drop = numbers["search_winner_search"] - numbers["search_winner_confirmed"]
    numbers["search_winner_drop"] = (f"{drop:.1f} points lower" if drop > 0 else
                                     f"{-drop:.1f} points higher")
    numbers["search_curse_sentence"] = (
        f"This winner's drop, {drop:.1f} points, is larger than that average: the luck of one "
        "search's winner varies around it." if drop > numbers["search_curse"] else
        f"This winner's drop, {drop:.1f} points, is no larger than that." if drop > 0 else
        "This time the winner scored no lower with new seeds: its luck did not show.")

    # The confirmation, against the winner, with the band that counts the comparisons
    single_band = report.noise(seed_std, n_seeds, n_seeds, df=judged["df"])
    numbers.update(
        search_comparisons=judged["comparisons"], search_level=judged["level"] * 100,
        search_alpha=(1 - report.BAND_LEVEL) * 100,
        search_alpha_all=judged["comparisons"] * (1 - report.BAND_LEVEL) * 100,
        search_band_level=report.BAND_LEVEL * 100, search_band=judged["noise"],
        search_single_band=single_band, search_confirm_df=judged["df"],
        search_book_lr=best_recipe.lr,
        search_book_l2=f"{best_recipe.l2:.1e}".replace("e-0", "e-"))
    claim(judged["noise"] > single_band,
          "the band for several comparisons is wider than the band for one")

    # The fine round's best trial against the coarse round's: two single runs
    best_coarse, best_fine = search.ranked(coarse)[0], search.ranked(fine)[0]
    fine_gain = (best_fine["val_accuracy"] - best_coarse["val_accuracy"]) * 100
    pair_band = report.noise(seed_std, 1, 1, df=judged["df"])
    numbers["search_fine_sentence"] = (
        f"Its best trial scored {best_fine['val_accuracy']:.1%}, {fine_gain:+.1f} points from the "
        f"coarse round's best, {report.verdict(fine_gain, pair_band)} (against a band of "
        f"{pair_band:.1f} points for two single runs, from the seeds' spread measured below): "
        "the fine round spends its trials where the good settings are, but which of them wins "
        "is partly luck.")

    def against_book(label):
        """How ``label``'s mean over the new seeds compares with the book's setting's, in
        words."""
        change, verdict = judged["changes"][label], judged["verdicts"][label]
        if verdict == "within noise":
            return f"is {change:+.1f} points from it, within noise"
        return f"is {abs(change):.1f} points {'above' if change > 0 else 'below'} it, beyond the band"

    numbers.update(
        search_runner_up=runner_up, search_winner_sentence=against_book(winner),
        search_runner_up_sentence=against_book(runner_up),
        search_book_lr_position=where_in(best_recipe.lr, fine_lr_low, fine_lr_high),
        search_book_l2_position=where_in(best_recipe.l2, fine_l2_low, fine_l2_high))
    better = [label for label, verdict in judged["verdicts"].items() if verdict == "higher"]
    worse = [label for label, verdict in judged["verdicts"].items() if verdict == "lower"]
    times_the_book = [f"{label} (a learning rate {contenders[label]['lr'] / best_recipe.lr:.1f} "
                      f"times the book's, an L2 {contenders[label]['l2'] / best_recipe.l2:.1f} times)"
                      for label in better]
    numbers["search_conclusion"] = (
        f"So on this proxy the search found a better setting than the book's, beyond the band: "
        f"{listing(times_the_book)}. Whether that holds for the full recipe only a full run "
        "can tell."
        if better else
        "So on this proxy the search confirms the book's setting, in the only sense a search "
        "with this noise can: nothing it found does better beyond the band."
        + (f" The book's setting even beats {listing(worse)} beyond the band." if worse else ""))


def trial_findings(numbers, ablation, trials):
    """What the flip-averaged validation accuracy adds over the trials."""
    flip_gains = [(trial["flip_averaged_val_accuracy"] - trial["final_val_accuracy"]) * 100
                  for trial in trials.values() if "flip_averaged_val_accuracy" in trial]
    numbers["flip_gain_min"], numbers["flip_gain_max"] = min(flip_gains), max(flip_gains)
    numbers["n_flip_trials"] = len(flip_gains)
    # Each trial's own network scored two ways: a paired difference, as in the ablation's last row
    flipped = [trial for trial in trials.values() if "flip_averaged_val_accuracy" in trial]
    numbers["flip_gain_mean"] = float(np.mean(flip_gains))
    numbers["flip_band"] = report.paired_noise([t["flip_averaged_val_accuracy"] for t in flipped],
                                               [t["final_val_accuracy"] for t in flipped]) * 100
    numbers["flip_df"] = len(flip_gains) - 1
    numbers["flip_verdict"] = report.verdict(numbers["flip_gain_mean"], numbers["flip_band"])
    numbers["flip_epochs"] = listing(sorted({f"{t['epochs']}" for t in flipped}, key=int))
    tta_row = ablation[-1]  # the ablation's networks scored with one view instead of two
    numbers["tta_gain"], numbers["tta_band"] = -tta_row["change"], tta_row["noise"]
    numbers["tta_verdict"] = report.verdict(numbers["tta_gain"], numbers["tta_band"])
    numbers["tta_seeds"] = len(tta_row["accuracies"])
    claim(min(flip_gains) > 0, "averaging with the mirror image helped in every trial")


def tta_findings(numbers, best, best_inputs, chance, data, history, model, rgb):
    """The best recipe's test accuracy with and without test-time views, and its training
    curve."""
    numbers["best_test"] = best["test_accuracy"] * 100
    numbers["best_test_one_view"] = best["test_accuracy_one_view"] * 100
    numbers["best_minutes"] = best["training_seconds"] / 60
    numbers["best_epochs_run"] = history.epochs
    last = min(10, history.epochs - 1)
    numbers["best_last_epochs"] = last
    numbers["best_last_change"] = (history.val_acc[-1] - history.val_acc[-1 - last]) * 100
    numbers["best_final_train_acc"] = history.train_acc[-1] * 100
    numbers["best_final_val_acc"] = history.val_acc[-1] * 100
    # Scored like the validation images: the final network, in inference mode, one view
    best_clean_train = evaluate(model, best_inputs.x_train, best_inputs.y_train)[1] * 100
    numbers["best_clean_train"] = best_clean_train
    numbers["best_val_one_view"] = best["val_accuracy_one_view"] * 100
    gap = best_clean_train - numbers["best_val_one_view"]
    numbers["best_gap"] = gap
    # A gap is measured mostly by the validation accuracy (5,000 images, against 45,000): the
    # band of a difference of two gaps, from the binomial standard error of each accuracy.
    gap_band = report.sampling_band(len(rgb.y_val), best["val_accuracy_one_view"])
    gap_verdict = report.verdict(gap - numbers["seed_rgb_gap"], gap_band, "more", "less")
    numbers["gap_sentence"] = (
        f"{gap:.0f} points apart, {gap_verdict} than the "
        f"{numbers['seed_rgb_gap']:.0f} points of the seed colour network at its best epoch, scored "
        "the same way" if gap_verdict != "within noise" else
        f"{gap:.0f} points apart, within noise of the {numbers['seed_rgb_gap']:.0f} points of the seed "
        "colour network at its best epoch, scored the same way")
    numbers["last_change_text"] = (f"rose by {numbers['best_last_change']:.1f}" if numbers["best_last_change"] > 0
                                    else f"changed by {numbers['best_last_change']:+.1f}")
    if data.source == "full":  # the sample has fewer training images than pixels: too few to fit a whitening
        claim(best["test_accuracy"] > 1.5 * chance, "the best recipe is well above chance")


def class_findings(numbers, data, gray, predicted, rgb, seed_gray, seed_rgb):
    """Per-class recall: the hardest and easiest classes, with ties at the edges against the
    class band."""
    recall = {name: np.mean(predicted[rgb.y_test == c] == c) for c, name in enumerate(data.class_names)}
    ranked = sorted(recall, key=recall.get)
    numbers["hardest"] = ", ".join(f"{name} ({recall[name]:.0%})" for name in ranked[:4])
    numbers["easiest"] = ", ".join(f"{name} ({recall[name]:.0%})" for name in ranked[-4:][::-1])
    numbers["per_class_test"] = int(np.min(np.bincount(rgb.y_test)))
    numbers["class_se"] = report.binomial_se(0.5, numbers["per_class_test"])  # at worst, near one half
    numbers["class_band"] = report.sampling_band(numbers["per_class_test"])
    for end, four, next_one in (("hardest", ranked[:4], ranked[4]), ("easiest", ranked[-4:], ranked[-5])):
        edge = four[0] if end == "easiest" else four[-1]  # the one of the four nearest the rest
        numbers[f"{end}_note"] = (
            f", and {edge} is within noise of the next, {next_one} ({recall[next_one]:.0%})"
            if abs(recall[edge] - recall[next_one]) * 100 < numbers["class_band"] else "")
    per_class = {label: [np.mean(p[rgb.y_test == c] == c) for c in range(len(data.class_names))]
                 for label, p in (("gray", seed_gray["model"].predict(gray.x_test)),
                                  ("rgb", seed_rgb["model"].predict(rgb.x_test)))}
    numbers["colour_ahead"] = sum(c > g for g, c in zip(per_class["gray"], per_class["rgb"]))
    numbers["colour_wins"] = sum((c - g) * 100 > numbers["class_band"]
                                 for g, c in zip(per_class["gray"], per_class["rgb"]))
    numbers["n_classes"] = len(data.class_names)
    numbers["colour_parameter_ratio"] = seed_rgb["parameters"] / seed_gray["parameters"]


def summary_findings(numbers, best, knn, linear):
    """The summary: the best network against the baselines."""
    baselines = {"k-nearest-neighbours": knn, "linear classifier": linear}
    best_baseline = max(baselines, key=lambda label: baselines[label]["test_accuracy"])
    linear_to_best = (best["test_accuracy_one_view"] - linear["test_accuracy"]) * 100
    numbers["ladder_sentence"] = (
        f"With one view per image, the best MLP scores {linear_to_best:.0f} points above the linear "
        f"classifier. That gap is not the hidden layers' alone: the MLP also trained for "
        f"{best['epochs']} epochs instead of {linear['epochs']}, on augmented and whitened images, "
        "with batch normalization. How much of it would the same training give a linear classifier? You "
        "can find out by training one."
        if best["test_accuracy_one_view"] > baselines[best_baseline]["test_accuracy"] else
        f"In this run the best MLP, with one view per image, does not beat every baseline: it "
        f"scores {best['test_accuracy_one_view']:.1%}, the {best_baseline} "
        f"{baselines[best_baseline]['test_accuracy']:.1%}. Short training on few images favours the "
        "baselines, which need little training or none.")

"""Chapter 4, *The same network in Keras*: the numbers its sentences show and the claims they make,
about the same math, the same accuracy, speed, convolutions.

Each function is one step of the chapter's bookkeeping, called by a folded cell right
where the chapter needs it: it reads what the cells above computed, puts the
numbers into ``numbers`` (the Markdown cells show them) and checks each claim a
sentence makes (:func:`cifar_mlp.display.claim`). The chapter runs them every time
it runs, under nbval too.
"""

from scipy import stats

from cifar_mlp import report
from cifar_mlp.display import claim, listing
from cifar_mlp.experiments import RECIPES, build
from cifar_mlp.layers import softmax_cross_entropy


def gradient_findings(numbers, gradient_differences, parity, parity_recipes, rgb):
    """NumPy's and Keras's gradients and first losses on the same weights."""
    largest_gradient_difference = max(gradient_differences.values())
    numbers["gradient_difference"] = largest_gradient_difference
    with_l2 = {label: recipe for label, recipe in parity_recipes.items() if recipe.l2 > 0}
    weights = {label: sum(w.size for name, w in build(recipe, rgb.n_features)[0].params.items()
                          if name.startswith("W"))
               for label, recipe in with_l2.items()}
    numbers["l2_first_loss_sentence"] = (
        " The first losses are not chapter 3's: the loss printed here is what training minimizes, "
        f"and for {listing(list(with_l2))} it includes the L2 penalty, a sum over all "
        f"{listing([f'{n:,}' for n in weights.values()])} weights, which is why it is large."
        if with_l2 else "")
    # Chapter 3's first loss of the seed's Keras network, computed as chapter 3 computes it.
    n_first = 1000  # chapter 3 takes its first loss on this many training images
    chapter3_model = build(RECIPES["seed_keras"], rgb.n_features)[0]
    numbers["chapter3_first"] = float(softmax_cross_entropy(
        chapter3_model.forward(rgb.x_train[:n_first], training=True), rgb.y_train[:n_first])[0])
    numbers["parity_first"] = parity["seed Keras (BatchNorm, Adam)"]["numpy_loss"][0]
    numbers["first_loss_sentence"] = (
        " The first loss of seed Keras, which has no L2 penalty, differs too: {parity_first:.3f} "
        "here, {chapter3_first:.3f} in chapter 3. The code shows two differences: chapter 3 took "
        "the loss on the first {n_first:,} training images with dropout on, as a training step does; "
        "this check takes it on its own first minibatch of {batch} images, with dropout off. "
        "Which of the two makes the difference, this chapter does not trace."
        .format(batch=RECIPES["seed_keras"].batch_size, n_first=n_first, **numbers)
        if abs(numbers["parity_first"] - numbers["chapter3_first"]) > 1e-3 else "")
    claim(largest_gradient_difference < 1e-5, "the two frameworks' gradients agree to float32 rounding")


def float_drift_findings(numbers, data, drift, from_exact, parity_recipes, variants):
    """How far each network's float32 runs drift from exact arithmetic, grouped by how they
    drift."""
    def group(label):
        """Which runs depart from exact arithmetic by more than 1e-4 over the 50 steps."""
        departing = [name for name, gap in from_exact[label].items() if gap > 1e-4]
        if not departing:
            return "neither framework departs from exact arithmetic by more than $10^{-4}$"
        if len(departing) == 1:
            return f"only {departing[0]}'s float32 run departs from exact arithmetic by more than $10^{-4}$"
        return "both frameworks depart from exact arithmetic by more than $10^{-4}$"

    groups = {}
    for label in drift:
        groups.setdefault(group(label), []).append(label)

    def networks(labels):
        return (f"all {len(labels)} networks" if len(labels) == len(drift)
                else " and ".join(f"“{label}”" for label in labels))

    numbers["drift_groups"] = "; ".join(f"for {networks(labels)}, {what}" for what, labels in groups.items())
    alike = "both frameworks depart from exact arithmetic by more than $10^{-4}$"
    numbers["drift_cause"] = (" Where both frameworks depart alike, training amplifies float32 "
                              "rounding, whoever computes it." if alike in groups else "")
    # How much each network departs, not only whether: the plain network against the others.
    plain = "no batch norm, SGD"
    ratios = {}
    for framework in ("NumPy", "Keras"):
        rest = [gap[framework] for label, gap in from_exact.items() if label != plain]
        numbers[f"{framework}_plain"] = from_exact[plain][framework]
        numbers[f"{framework}_low"], numbers[f"{framework}_high"] = min(rest), max(rest)
        ratios[framework] = numbers[f"{framework}_ratio"] = min(rest) / from_exact[plain][framework]
    plain_drifts_least = ratios["NumPy"] > 2 and ratios["Keras"] > 1
    numbers["drift_ratio_sentence"] = (
        " Not by the same amount, though, which a threshold cannot show. In NumPy the "
        "plain network, without batch norm and with SGD, departs from float64 by "
        "{NumPy_plain:.1e}, the three with batch norm, Adam or both by {NumPy_low:.1e} to "
        "{NumPy_high:.1e}: at least {NumPy_ratio:.1f} times as much (in Keras {Keras_plain:.1e} "
        "against {Keras_low:.1e} to {Keras_high:.1e}, at least {Keras_ratio:.1f} times). In "
        "these single runs of 50 steps, the networks with batch norm, Adam or both amplified "
        "float32 rounding more than the plain one; one run each, on one order of batches, so "
        "whether that holds in general, and by how much, this chapter does not measure."
        if plain_drifts_least else
        " The plain network, without batch norm and with SGD, departs from float64 by "
        "{NumPy_plain:.1e} in NumPy, the three with batch norm, Adam or both by {NumPy_low:.1e} "
        "to {NumPy_high:.1e}.").format(**numbers)
    if data.source == "full":
        claim(plain_drifts_least, "in these runs the networks with batch norm, Adam or both amplify "
              "float32 rounding more than the plain network does")
    numbers["summary_drift"] = (", in these runs more with batch norm or Adam than without either "
                               "(the table of the four combinations; one run each)" if plain_drifts_least else
                               " (the table of the four combinations)")
    in_float64 = [label for label, recipe in variants.items() if recipe in parity_recipes.values()]
    numbers["float64_rows"] = listing([f"“{label}”" for label in in_float64])
    numbers["n_float64_rows"] = len(in_float64)
    numbers["n_other_rows"] = len(drift) - len(in_float64)
    numbers["n_rows"] = len(drift)
    numbers["one_departs_sentence"] = (
        " Where only one framework departs, its float32 arithmetic rounds more than the other's "
        "in some operation of that network, and training amplifies that; which operation, this "
        "measurement does not say." if any(what.startswith("only") for what in groups) else "")
    numbers["float32_gap"] = max(r["max_relative_difference"] for r in drift.values())
    numbers["float32_drift"] = max(gap["NumPy"] for gap in from_exact.values())
    first_split = [next((step for step, d in enumerate(r["relative_difference"], 1) if d > 1e-4), None)
                   for r in drift.values()]
    split = min((s for s in first_split if s is not None), default=None)
    numbers["split_sentence"] = (
        f"in the 50-step checks of the {len(drift)} combinations of batch norm and optimizer "
        "(the table before the float64 check), the two frameworks' losses part by more than " + "$10^{-4}$ after "
        + f"{split} steps at the earliest, well within the first epoch" if split is not None else
        "the parity check above shows float32 differences from the first step, though within "
        "50 steps they stayed below $10^{-4}$")


def published_recipe_findings(numbers, rgb):
    """The seed's published Keras recipe, as the chapter compares it; returns the recipes
    compared and the published one."""
    published = RECIPES["seed_keras"]
    numbers["published_shape"] = "-".join(map(str, published.layer_sizes(rgb.n_features)))
    numbers.update(published_dropout=published.dropout, published_lr=published.lr)
    compared = {"seed gray": RECIPES["seed_gray"], "best": RECIPES["best"]}
    numbers["n_compared"] = len(compared)
    stopping = [label for label, recipe in compared.items() if recipe.patience is not None]
    to_the_end = [label for label, recipe in compared.items() if recipe.patience is None]
    numbers["stopping_sentence"] = "; ".join(
        ([f"for the {listing(stopping)} {'recipe' if len(stopping) == 1 else 'recipes'}, early "
          "stopping on the validation loss with the best epoch's weights restored"] if stopping else [])
        + ([f"the {listing(to_the_end)} {'recipe trains' if len(to_the_end) == 1 else 'recipes train'} "
            "for all its epochs, without early stopping, and keeps the last epoch's weights"]
           if to_the_end else []))
    return compared, published


def recipe_gap_findings(numbers, best_seeds, seed_accuracies, trials):
    """The gap between the two recipes against the spread over seeds."""
    seed_std = report.pooled_std([seed_accuracies, best_seeds])
    # The spread is estimated from few runs: each recipe's runs around their own mean.
    seed_dof = (len(seed_accuracies) - 1) + (len(best_seeds) - 1)
    t_factor = report.t_quantile(seed_dof)  # standard errors a two-sided band spans
    numbers["seed_spread"] = max(seed_accuracies) - min(seed_accuracies)
    numbers["seed_std"] = seed_std
    numbers["seed_dof"], numbers["t_factor"] = seed_dof, t_factor
    numbers["normal_factor"] = stats.norm.ppf((1 + report.BAND_LEVEL) / 2)
    numbers["band_level"] = report.BAND_LEVEL * 100
    numbers["n_seed_runs"] = len(seed_accuracies) + len(best_seeds)
    numbers["pair_noise"] = report.noise(seed_std, 1, 1, df=seed_dof)  # one run on each side
    numbers["chapter3_noise"] = report.trials_noise(trials)["noise"]  # that recipe's seeds alone
    numbers["n_gray_seeds"], numbers["n_best_seeds"] = len(seed_accuracies), len(best_seeds)


def framework_gap_findings(numbers, gaps, pairs, verdicts):
    """The NumPy-Keras gaps against their band; returns whether the frameworks agree."""
    numbers["largest_gap"] = max(abs(g) for g in gaps.values())
    numbers["n_within"] = sum(v == "within noise" for v in verdicts.values())
    numbers["n_pairs"] = len(verdicts)
    frameworks_agree = numbers["n_within"] == numbers["n_pairs"]  # every pair within noise
    numbers["best_numpy_test"] = pairs["best"][0]["test_accuracy"] * 100
    numbers["best_keras_test"] = pairs["best"][1]["test_accuracy"] * 100
    numbers["best_verdict"] = verdicts["best"]
    numbers["accuracy_sentence"] = (
        "every difference is within noise" if frameworks_agree else
        f"{numbers['n_within']} of the {numbers['n_pairs']} differences are within noise")
    return frameworks_agree


def published_findings(numbers, keras_run, seed_project):
    """The seed's Keras recipe in Keras against its published accuracy."""
    keras_recipe = keras_run["recipe"]
    numbers["seed_keras_keras_test"] = keras_run["test_accuracy"] * 100
    numbers["published_gap"] = numbers["seed_keras_keras_test"] - numbers["seed_keras_reported"]
    numbers["published_gap_size"] = abs(numbers["published_gap"])
    numbers["published_bands"] = numbers["published_gap_size"] / numbers["pair_noise"]
    published_verdict = report.verdict(numbers["published_gap"], numbers["pair_noise"])
    numbers["published_direction"] = "more" if numbers["published_gap"] > 0 else "less"
    numbers["published_verdict"] = ("within noise" if published_verdict == "within noise" else
                                    "more than the noise between two runs that differ only in their seed")
    numbers["published_network"] = seed_project["keras"]["network"]
    numbers["our_training"] = (
        f"inputs standardized with the training split's means and deviations, "
        f"{keras_run['n_train']:,} training images (a validation split held out), batches of "
        f"{keras_recipe['batch_size']}, at most {keras_recipe['epochs']} epochs, early stopping "
        f"{keras_recipe['patience']} epochs after the lowest validation loss with that epoch's "
        "weights restored")
    numbers["published_reasons"] = (
        "" if published_verdict == "within noise" else
        " Why, the code can only narrow down. The seed's record (`data/seed_project.json`) "
        "describes its network as “{published_network}”: the layers, batch norm, dropout and "
        "optimizer, which the recipe here copies. It says nothing of how that network was fed "
        "and stopped; the run here has {our_training}. Which of these, if any, differs from "
        "the seed's run, its record does not say, so this chapter cannot say what makes the "
        "difference.")
    numbers["published_reasons"] = numbers["published_reasons"].format(**numbers)
    print(f"seed's Keras recipe in Keras: {numbers['seed_keras_keras_test']:.1f}% here, "
          f"{numbers['seed_keras_reported']:.1f}% published; difference "
          f"{numbers['published_gap']:+.1f} points, noise band {numbers['pair_noise']:.1f}")


def pair_findings(numbers, frameworks_agree, pairs, seed_project):
    """Each recipe in NumPy and in Keras, side by side with the seed's numbers."""
    numbers["seed_gray_numpy_test"] = pairs["seed gray"][0]["test_accuracy"] * 100
    numbers["seed_gray_keras_test"] = pairs["seed gray"][1]["test_accuracy"] * 100
    # The recipes compared in one framework, Keras: the seed's two networks
    numbers["recipes_gap"] = numbers["seed_keras_keras_test"] - numbers["seed_gray_keras_test"]
    recipes_verdict = report.verdict(numbers["recipes_gap"], numbers["pair_noise"])
    numbers["recipes_gap_size"] = abs(numbers["recipes_gap"])
    numbers["seed_gray_training"] = f"“{seed_project['numpy']['network']}”"
    numbers["recipes_now"] = {"higher": "is still there, beyond the noise",
                              "within noise": "is within noise here",
                              "lower": "is reversed here, beyond the noise"}[recipes_verdict]
    numbers["frameworks_now"] = (
        f"is gone: within noise on each of the {numbers['n_pairs']} recipes trained in both"
        if frameworks_agree else
        f"remains beyond the noise on {numbers['n_pairs'] - numbers['n_within']} of the "
        f"{numbers['n_pairs']} recipes trained in both")
    numbers["gap_lesson"] = (" What the seed paid for was its recipe, not NumPy."
                             if recipes_verdict == "higher" and frameworks_agree else "")


def convolution_findings(numbers, best_mlp, cnn, data, rgb, shuffled_cnn):
    """The CNN and the shuffled-pixel CNN against the best MLP, with the test band."""
    test_noise = report.sampling_band(len(rgb.y_test))  # at worst: accuracies near 50%
    numbers.update(cnn_test=cnn["test_accuracy"] * 100, shuffled_test=shuffled_cnn["test_accuracy"] * 100,
                   mlp_one_view=best_mlp["test_accuracy_one_view"] * 100,
                   mlp_test=best_mlp["test_accuracy"] * 100, cnn_epochs=cnn["epochs"],
                   cnn_minutes=cnn["training_seconds"] / 60, mlp_minutes=best_mlp["training_seconds"] / 60,
                   cnn_parameters=cnn["parameters"], mlp_parameters=best_mlp["parameters"])
    cnn_vs_mlp = report.verdict(numbers["cnn_test"] - numbers["mlp_one_view"], test_noise,
                                higher="above", lower="below")
    numbers["cnn_vs_mlp"] = "within noise of" if cnn_vs_mlp == "within noise" else cnn_vs_mlp
    numbers["shuffled_drop"] = numbers["cnn_test"] - numbers["shuffled_test"]
    numbers["test_noise"], numbers["n_test"] = test_noise, len(rgb.y_test)
    numbers["band_level"] = report.BAND_LEVEL * 100
    numbers["smallest_cnn_gap"] = min(abs(numbers["cnn_test"] - numbers["mlp_one_view"]), abs(numbers["shuffled_drop"]),
                                      abs(numbers["shuffled_test"] - numbers["mlp_one_view"]))
    numbers["cnn_gap_bands"] = numbers["smallest_cnn_gap"] / max(test_noise, numbers["pair_noise"])
    if data.source == "full":
        claim(numbers["cnn_gap_bands"] > 1, "the CNN's gaps are beyond the seed band too")
    shuffled_vs_mlp = report.verdict(numbers["shuffled_test"] - numbers["mlp_one_view"],
                                     test_noise, higher="above", lower="below")
    numbers["shuffled_vs_mlp"] = ("within noise of" if shuffled_vs_mlp == "within noise"
                                  else shuffled_vs_mlp)
    numbers["closing"] = (
        f"With {len(rgb.x_train):,} training images, the network that is told scores higher, in "
        "one run each, between networks that also differ in optimizer, inputs and length."
        if cnn_vs_mlp == "above" else
        f"In this run, with {len(rgb.x_train):,} training images and {cnn['epochs']} epochs, "
        "that advantage does not show yet.")

"""The appendix *Which is faster?*: the numbers its sentences show and the claims they
make, about NumPy's and Keras's time per epoch, `make bench`'s measurements and where an
epoch of the best recipe goes.

Called by the page's folded cells (book/speed.md), as a chapter calls its module of
:mod:`cifar_mlp.findings`.
"""

import numpy as np

from cifar_mlp.display import claim, listing


def speed_findings(numbers, bench, pairs, speedups):
    """NumPy against Keras per epoch, for each recipe and in the benchmark."""
    numbers["slowest_speedup"], numbers["fastest_speedup"] = min(speedups.values()), max(speedups.values())
    numbers["bench_speedup"] = 1 / bench["ratios"]["numpy_over_keras_epoch"]
    numbers["bench_network"] = "-".join(map(str, bench["network"]["layer_sizes"]))

    def numpy_is(low, high):
        """What Keras-over-NumPy time ratios from ``low`` to ``high`` say of NumPy."""
        return "faster" if low > 1 else "slower" if high < 1 else "sometimes faster, sometimes slower"

    numbers["faster_word"] = numpy_is(numbers["slowest_speedup"], numbers["fastest_speedup"])

    def quartiles(result):
        """The lower and upper quartiles of one run's epoch times, in seconds."""
        history = result["history"]
        seconds = history["seconds"] if isinstance(history, dict) else history.seconds
        return np.percentile(seconds, [25, 75])

    # The band of each ratio: Keras's lower quartile over NumPy's upper, and the other way round.
    timing_band = {label: (quartiles(theirs)[0] / quartiles(ours)[1], quartiles(theirs)[1] / quartiles(ours)[0])
                   for label, (ours, theirs) in pairs.items()}
    timing_verdicts = {label: numpy_is(low, high) for label, (low, high) in timing_band.items()}
    timing_within = [label for label, word in timing_verdicts.items() if word.startswith("sometimes")]
    timing_faster = [label for label, word in timing_verdicts.items() if word == "faster"]
    claim(all(low <= speedups[label] <= high for label, (low, high) in timing_band.items()),
          "each median ratio lies inside its band")
    numbers["timing_band_low"] = min(low for low, _ in timing_band.values())
    numbers["timing_band_high"] = max(high for _, high in timing_band.values())
    numbers["timing_sentence"] = (
        f"NumPy is faster beyond that spread for {listing(timing_faster) or 'none of the recipes'}"
        + (f"; for {listing(timing_within)} the ratio is within noise" if timing_within else "")
        + ("; for " + listing(sorted(set(pairs) - set(timing_faster) - set(timing_within)))
           + " NumPy is slower beyond it" if len(timing_faster) + len(timing_within) < len(pairs) else ""))
    # The bench's own noise: its two NumPy loops. The raw loop does less work than the
    # book's training loop, so any time it takes beyond it is the machine's, not the code's.
    numpy_train = bench["numpy_epoch_train"]["median_seconds"]
    numpy_raw = bench["numpy_epoch_raw"]["median_seconds"]
    numbers["bench_numpy_train"], numbers["bench_numpy_raw"] = numpy_train, numpy_raw
    numbers["bench_keras"] = bench["keras_epoch"]["median_seconds"]
    numbers["bench_self_noise"] = max(numpy_raw / numpy_train - 1, 0.0)
    numbers["bench_noise_sentence"] = (
        f"it took {numpy_raw:.2f} s, {numbers['bench_self_noise']:.0%} longer than the training "
        "loop although it does less: that gap is the machine's noise, not the code's"
        if numpy_raw > numpy_train else
        f"it took {numpy_raw:.2f} s, less than the training loop, as it should: this run of the "
        "bench shows no noise larger than the work the raw loop leaves out")
    bench_gap = abs(numbers["bench_speedup"] - 1)
    bench_word = (numpy_is(numbers["bench_speedup"], numbers["bench_speedup"])
                  if bench_gap > numbers["bench_self_noise"] else "within noise")
    numbers["bench_verdict"] = (
        "more than that noise, so NumPy is " + bench_word
        if bench_word != "within noise" else
        "less than that noise, so the bench does not tell the two frameworks apart")
    numbers["agreement"] = (
        "So the bench neither confirms nor contradicts the training runs' verdict"
        if bench_word == "within noise" else
        f"Both say NumPy is {bench_word} here, by different factors"
        if all(word == bench_word for word in timing_verdicts.values()) else
        "The two measurements do not agree, each against its own noise")
    numbers["n_recipe_sizes"] = len({numpy_result["parameters"] for numpy_result, _ in pairs.values()})
    numbers["bench_contention"] = bench["contention"]["others_cpu_share"]


def bench_findings(numbers, bench):
    """The benchmark against the machine's measured peak."""
    numbers["bench_peak"] = bench["peak"]["gflops"]
    numbers["bench_step_fraction"] = bench["ratios"]["train_step_fraction_of_peak"] * 100
    numbers["bench_gradient_fraction"] = bench["ratios"]["loss_and_gradients_fraction_of_peak"] * 100
    numbers["bench_seed_ratio"] = bench["ratios"]["seed_style_over_numpy"]
    numbers["bench_update_ms"] = bench["train_step"]["optimizer_update"]["best_seconds"] * 1e3
    bench_layers = len(bench["network"]["layer_sizes"]) - 1
    numbers["bench_layers"], numbers["bench_products"] = bench_layers, 3 * bench_layers - 1
    claim(numbers["bench_gradient_fraction"] > numbers["bench_step_fraction"],
          "the optimizer's update lowers the step's fraction of the peak")
    claim(numbers["bench_seed_ratio"] > 1, "the seed's style of trainer is slower than ours")


def epoch_split_findings(numbers, bench):
    """Where an epoch of the best recipe goes (forward, backward, update, the rest)."""
    split = bench["best_epoch_split"]
    shares = split["shares"]
    numbers["epoch_seconds"] = split["epoch_seconds"]
    numbers["bound_fraction"] = split["fraction_of_bound"]
    numbers["bound_seconds"] = split["bound_seconds"]
    numbers["products_share"] = shares["matrix products"] * 100
    others = {part: share for part, share in shares.items() if part not in ("matrix products", "rest")}
    numbers["rest_share"] = shares["rest"] * 100
    largest_other = max(others, key=others.get)
    numbers["largest_other"], numbers["largest_other_share"] = largest_other, others[largest_other] * 100
    numbers["products_speed"] = split["training_products_gflops"]

"""The ratios the bench reports, and its printout of every measurement."""

from __future__ import annotations

from bench.machine import contention_note
from bench.network import dashed

RATIOS = {  # the ratios the bench prints, and what each compares
    "numpy_over_keras_epoch": "NumPy / Keras seconds per epoch",
    "numpy_raw_over_keras_epoch": "NumPy raw loop / Keras seconds per epoch",
    "train_step_fraction_of_peak": "train step / matmul peak",
    "loss_and_gradients_fraction_of_peak": "loss and gradients / matmul peak",
    "seed_style_over_numpy": "seed-style / NumPy raw loop seconds per epoch",
    "best_epoch_fraction_of_bound": "best recipe: matmul bound / epoch seconds",
}


def ratios(report: dict) -> dict:
    """The ratios of RATIOS, from the measurements."""
    keras = report["keras_epoch"]["median_seconds"]
    raw = report["numpy_epoch_raw"]["median_seconds"]
    step = report["train_step"]
    measured = {
        "numpy_over_keras_epoch": report["numpy_epoch_train"]["median_seconds"] / keras,
        "numpy_raw_over_keras_epoch": raw / keras,
        "train_step_fraction_of_peak": step["train_step"]["fraction_of_peak"],
        "loss_and_gradients_fraction_of_peak": step["loss_and_gradients"]["fraction_of_peak"],
        "seed_style_over_numpy": report["seed_style_epoch"]["median_seconds"] / raw,
        "best_epoch_fraction_of_bound": report["best_epoch_split"]["fraction_of_bound"],
    }
    return {"ratios": measured}


def rounded(seconds) -> list:
    return [round(s, 2) for s in seconds]


def print_measurements(report: dict) -> None:
    ms, peak, step = 1e3, report["peak"], report["train_step"]
    train_step, gradients = step["train_step"], step["loss_and_gradients"]
    print("\n(a) matrix products, best of repeats per shape:")
    for row in peak["products"]:
        print(f"      {row['product']:<42} {row['gflops']:7.1f} GFLOP/s")
    print(f"    peak over the step's products: {peak['gflops']:.1f} GFLOP/s "
          f"({peak['seconds_best'] * ms:.2f} ms per step); again after (b): "
          f"{report['peak_gflops_after_step_timing']:.1f}; with one BLAS thread: "
          f"{report['peak_gflops_one_blas_thread']:.1f}")
    print(f"(b) train step, best of {step['steps_timed']}: {train_step['best_seconds'] * ms:.2f} ms"
          f" = {train_step['gflops_best']:.1f} GFLOP/s = {train_step['fraction_of_peak']:.0%} of "
          f"peak (median vs median: {train_step['fraction_of_peak_median']:.0%})")
    print(f"    forward + backward alone {gradients['best_seconds'] * ms:.2f} ms = "
          f"{gradients['fraction_of_peak']:.0%} of peak; optimizer update "
          f"{step['optimizer_update']['best_seconds'] * ms:.2f} ms")
    outside = train_step["best_seconds"] - peak["seconds_best"]
    print(f"    outside the products: {outside * ms:.2f} ms per step; parts (best, ms):")
    for name, seconds in report["breakdown_best_seconds"].items():
        print(f"      {name:<50} {seconds * ms:8.3f}")
    for label, key in (("(c) NumPy epoch, train.train", "numpy_epoch_train"),
                       ("    NumPy epoch, raw step loop", "numpy_epoch_raw"),
                       ("(d) Keras epoch, first excluded", "keras_epoch"),
                       ("(e) seed-style epoch (float64)", "seed_style_epoch")):
        record = report[key]
        print(f"{label:<33} median {record['median_seconds']:6.2f} s of "
              f"{rounded(record['seconds'])}")
    print_epoch_split(report["best_epoch_split"])


def print_epoch_split(split: dict) -> None:
    """(f): the best recipe's epoch part by part, and against its matrix-product bound."""
    peak = split["peak"]["gflops"]
    print(f"(f) best recipe's epoch ({dashed(split['layer_sizes'])}, BatchNorm, "
          f"augmentation), the median of {rounded(split['epochs_seconds'])}: "
          f"{split['epoch_seconds']:.2f} s")
    for part, seconds in split["parts_seconds"].items():
        print(f"      {part:<22} {seconds:6.2f} s  {split['shares'][part]:4.0%}")
    print(f"    {split['matmul_flops']['total'] / 1e12:.2f} TFLOP of matrix products; at "
          f"{peak:.0f} GFLOP/s (the faster of {split['peak_gflops_before_epochs']:.0f} before "
          f"and {split['peak_gflops_after_epochs']:.0f} after the epochs) they take "
          f"{split['bound_seconds']:.2f} s: the epoch runs at {split['fraction_of_bound']:.2f} "
          f"of its bound; its training products ran at "
          f"{split['training_products_gflops']:.0f} GFLOP/s")
    print("    " + contention_note(split["contention"], "these epochs"))


def print_ratios(report: dict) -> None:
    """The ratios of RATIOS, and the contention during the whole bench."""
    print(f"\n{'ratio':<46} {'measured':>9}")
    for name, label in RATIOS.items():
        ratio = report["ratios"][name]
        impossible = "fraction" in name and ratio > 1  # faster than its own peak
        print(f"{label:<46} {ratio:9.2f}" + ("   (above 1: the peak was measured while the "
                                             "CPUs were busy)" if impossible else ""))
    print("\n" + contention_note(report["contention"], "the bench"))

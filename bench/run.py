"""``make bench``: runs the measurements of the :mod:`bench` package in turn, prints them and
their ratios, and writes ``results/bench.json``.

    .venv/bin/python -m bench.run      # about 4 minutes on an idle 2-core machine
    .venv/bin/python bench/run.py      # the same
"""

from __future__ import annotations

import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np

if not __package__:  # run as a file: the repository, not bench/, goes first on the path
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.budget import TIME_BUDGET, plan_epochs  # noqa: E402
from bench.epoch_split import SPLIT_EPOCHS, measure_epoch_split  # noqa: E402
from bench.keras_epochs import keras_epochs  # noqa: E402
from bench.machine import Contention, machine  # noqa: E402
from bench.network import BATCH, RESULTS, dashed, load_prepared, network  # noqa: E402
from bench.numpy_epochs import numpy_epochs_raw, numpy_epochs_train  # noqa: E402
from bench.peak import faster, measure_peak, peak_one_thread  # noqa: E402
from bench.seed_style_epochs import seed_style_epochs  # noqa: E402
from bench.summary import print_measurements, print_ratios, ratios  # noqa: E402
from bench.train_step import measure_breakdown, measure_step, with_fractions  # noqa: E402


def say(text: str) -> None:
    print(text, flush=True)


def main(output: Path = RESULTS) -> int:
    started, contention = time.perf_counter(), Contention()
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    say(f"bench: {date}; loading CIFAR-10 ...")
    prepared = load_prepared()
    report = {"date": date, "machine": machine(), "network": network(prepared)}
    sizes, flops = report["network"]["layer_sizes"], report["network"]["matmul_flops_per_step"]
    say(f"network {dashed(sizes)}, batch {BATCH}, {len(prepared.x_train):,} training "
        f"images ({report['network']['steps_per_epoch']} steps/epoch), "
        f"{flops['total'] / 1e9:.3f} GFLOP per step in matrix products")
    rng = np.random.default_rng(0)
    say("(a) matrix-product peak ...")
    report["peak"] = measure_peak(sizes, BATCH, rng)
    say("(b) train step and its parts ...")
    step = measure_step(prepared, flops["total"])
    report["breakdown_best_seconds"] = measure_breakdown(prepared)
    again = measure_peak(sizes, BATCH, rng, repeats=3)
    report["peak_gflops_after_step_timing"] = again["gflops"]
    # The peak is the faster of the two measurements: a cold first one (the CPU not yet
    # at full clock) once made the step look faster than the peak.
    report["peak"] = faster(report["peak"], again)
    report["train_step"] = with_fractions(step, report["peak"])
    report["peak_gflops_one_blas_thread"] = peak_one_thread(sizes)
    say("(c) NumPy epochs (train.train, then a raw loop) ...")
    report["numpy_epoch_train"] = numpy_epochs_train(prepared)
    say(f"(f) the best recipe's epoch, part by part (up to {SPLIT_EPOCHS} epochs) ...")
    report["best_epoch_split"] = measure_epoch_split(prepared)
    plan = report["epochs_plan"] = plan_epochs(report, prepared, started)
    if plan["cut"]:
        say(f"    NOTE: the machine is too slow or too busy for the full bench in "
            f"{TIME_BUDGET:.0f} s; running {plan}")
    report["numpy_epoch_raw"] = numpy_epochs_raw(prepared, plan["raw"])
    say(f"(e) seed-style trainer, {plan['seed']} epoch(s) ...")
    report["seed_style_epoch"] = seed_style_epochs(prepared, plan["seed"])
    say(f"(d) Keras epochs ({plan['keras']} + 1 excluded) ...")
    report["keras_epoch"] = keras_epochs(prepared, plan["keras"])
    report.update(ratios(report), contention=contention.report(),
                  total_seconds=time.perf_counter() - started)
    print_measurements(report)
    print_ratios(report)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1, default=str) + "\n")
    say(f"wrote {output} in {report['total_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

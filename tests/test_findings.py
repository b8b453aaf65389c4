"""Each chapter's bookkeeping (cifar_mlp.findings): every function is called where its
chapter needs it, and the sentences it computes follow the numbers, claims included."""

import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest

from cifar_mlp.display import ClaimFailed, Numbers
from cifar_mlp.findings import appendix_speed, ch1_data, ch2_math, ch3_training, ch4_keras

REPO = Path(__file__).resolve().parent.parent
WHERE = {ch1_data: "notebooks/01_data.ipynb", ch2_math: "notebooks/02_mlp_math.ipynb",
         ch3_training: "notebooks/03_train_eval.ipynb", ch4_keras: "notebooks/04_keras_benchmark.ipynb",
         appendix_speed: "book/speed.md"}


@pytest.mark.parametrize("module", WHERE, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_every_function_is_called_by_its_own_chapter_once(module):
    text = (REPO / WHERE[module]).read_text()
    called = re.findall(r"\bfindings\.(\w+)\(", text)
    defined = [name for name, f in inspect.getmembers(module, inspect.isfunction)
               if f.__module__ == module.__name__]
    assert sorted(called) == sorted(defined)


def test_the_pixel_correlations_claim_what_the_numbers_show():
    correlations = np.zeros((32, 32, 3))
    correlations[0, 1:10, 0] = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    correlations[0, 0, 1:] = 0.95
    numbers = Numbers()
    ch1_data.correlation_findings(numbers, correlations, (0, 0))
    assert numbers("next_pixel", ".2f") == "0.90" and numbers("eight_away", ".2f") == "0.20"
    correlations[0, 8, 0] = -0.1  # eight pixels away: no longer positive
    with pytest.raises(ClaimFailed, match="stays positive eight pixels away"):
        ch1_data.correlation_findings(Numbers(), correlations, (0, 0))


def timed_run(seconds_per_epoch, seconds):
    return {"seconds_per_epoch": seconds_per_epoch, "history": {"seconds": seconds},
            "parameters": 1000}


def test_the_speed_sentences_follow_the_bands_of_the_runs_epochs():
    bench = json.loads((REPO / "results" / "bench.json").read_text())
    numpy_faster = (timed_run(10, [9, 10, 10, 11]), timed_run(20, [19, 20, 20, 21]))
    overlapping = (timed_run(10, [8, 10, 10, 12]), timed_run(10.5, [8, 10.5, 10.5, 13]))
    pairs = {"fast": numpy_faster, "tied": overlapping}
    speedups = {label: theirs["seconds_per_epoch"] / ours["seconds_per_epoch"]
                for label, (ours, theirs) in pairs.items()}
    numbers = Numbers()
    appendix_speed.speed_findings(numbers, bench, pairs, speedups)
    assert numbers["timing_sentence"] == ("NumPy is faster beyond that spread for fast; "
                                          "for tied the ratio is within noise")
    assert numbers("slowest_speedup", ".2f") == "1.05" and numbers("fastest_speedup", ".2f") == "2.00"


def test_the_epoch_split_names_its_largest_part_besides_the_products():
    bench = json.loads((REPO / "results" / "bench.json").read_text())
    numbers = Numbers()
    appendix_speed.epoch_split_findings(numbers, bench)
    shares = bench["best_epoch_split"]["shares"]
    others = {part: share for part, share in shares.items() if part not in ("matrix products", "rest")}
    assert numbers["largest_other"] == max(others, key=others.get)
    assert abs(sum(shares.values()) - 1) < 1e-6


def test_the_bench_ratio_is_judged_against_the_bench_own_noise():
    """The raw NumPy loop does less work than the training loop: when it is slower, the gap
    is the machine's noise, and a frameworks' ratio inside it is no verdict."""
    bench = json.loads((REPO / "results" / "bench.json").read_text())
    pairs = {"fast": (timed_run(10, [9, 10, 10, 11]), timed_run(20, [19, 20, 20, 21]))}
    speedups = {"fast": 2.0}

    def judged(raw, train, keras):
        noisy = json.loads(json.dumps(bench))
        noisy["numpy_epoch_raw"]["median_seconds"] = raw
        noisy["numpy_epoch_train"]["median_seconds"] = train
        noisy["ratios"]["numpy_over_keras_epoch"] = train / keras
        numbers = Numbers()
        appendix_speed.speed_findings(numbers, noisy, pairs, speedups)
        return numbers

    noisy = judged(raw=7.0, train=6.0, keras=6.5)  # a raw loop 17% slower; frameworks 8% apart
    assert noisy["bench_verdict"].endswith("does not tell the two frameworks apart")
    assert noisy["agreement"].startswith("So the bench neither confirms nor contradicts")
    quiet = judged(raw=5.5, train=6.0, keras=9.0)  # no noise beyond the work left out
    assert quiet["bench_self_noise"] == 0 and quiet["bench_verdict"].endswith("NumPy is faster")
    assert quiet["agreement"] == "Both say NumPy is faster here, by different factors"

"""(a) The float32 matrix-product peak of NumPy at a network's own product shapes."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from bench.network import BATCH
from bench.timers import gflops, spread, timings


def products(sizes, n: int, rng) -> list:
    """The step's matrix products with the operands and memory layouts the model uses:
    (label, flops, function)."""
    out = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        x = rng.standard_normal((n, a), dtype=np.float32)  # layer input, C order
        w = rng.standard_normal((a, b), dtype=np.float32)  # weights, C order
        d = rng.standard_normal((n, b), dtype=np.float32)  # upstream gradient
        out.append((f"forward  x{i} @ W{i}   ({n}x{a} @ {a}x{b})", 2 * n * a * b,
                    lambda x=x, w=w: x @ w))
        out.append((f"dW       x{i}.T @ d{i} ({a}x{n} @ {n}x{b})", 2 * n * a * b,
                    lambda x=x, d=d: x.T @ d))
        if i > 1:
            out.append((f"dx       d{i} @ W{i}.T ({n}x{b} @ {b}x{a})", 2 * n * a * b,
                        lambda d=d, w=w: d @ w.T))
    return out


def measure_peak(sizes, n: int, rng, repeats: int = 7) -> dict:
    """Best (and median) seconds of each product; the peak is the step's flops over the sum
    of the best times: the rate of a step that did nothing but its products."""
    rows = []
    for label, flops, function in products(sizes, n, rng):
        times = spread(timings(function, repeats=repeats))
        rows.append({"product": label, "flops": flops, **times,
                     "gflops": gflops(flops, times["best_seconds"])})
    flops, best, median = (sum(row[key] for row in rows)
                           for key in ("flops", "best_seconds", "median_seconds"))
    return {"products": rows, "flops": flops, "seconds_best": best, "seconds_median": median,
            "gflops": gflops(flops, best), "gflops_median": gflops(flops, median)}


def faster(*peaks) -> dict:
    """The fastest of several measurements of the same peak: a slower one was taken on a
    CPU not yet at full clock, or busy with other work."""
    return max(peaks, key=lambda peak: peak["gflops"])


def peak_one_thread(sizes) -> float:
    """The same peak with the BLAS limited to one thread."""
    with threadpool_limits(1, user_api="blas"):
        return measure_peak(sizes, BATCH, np.random.default_rng(2), repeats=3)["gflops"]

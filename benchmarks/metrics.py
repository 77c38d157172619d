"""Why reelcast's label metrics are written with numpy: their cost per call against scikit-learn's.

    python benchmarks/metrics.py                 # 1000 films, 1000 resamples
    python benchmarks/metrics.py --films 5000 --resamples 200

Every test-set interval of `reelcast train` is a bootstrap of each of the ten SCALAR_METRICS, so each
metric runs (resamples x 10) times per split. One row per metric: microseconds per call with
reelcast.evaluation.metrics (one confusion matrix from np.bincount) and with sklearn.metrics, their
ratio, and the values (which agree to 1e-12). The last rows time one whole bootstrap_ci
(scipy.stats.bootstrap over film indices) of every metric with each implementation.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402

import numpy as np  # noqa: E402
from sklearn import metrics as skm  # noqa: E402

from reelcast.data.classes import NUM_CLASSES  # noqa: E402
from reelcast.evaluation.metrics import SCALAR_METRICS, metric_fns  # noqa: E402
from reelcast.evaluation.stats import bootstrap_ci  # noqa: E402

LABELS = list(range(NUM_CLASSES))


def sklearn_fns() -> dict:
    """The same metrics from scikit-learn (labels 0..7, zero_division=0, as reelcast defines them)."""
    prf = {}
    for avg in ("macro", "weighted"):
        pairs = (("f1", skm.f1_score), ("precision", skm.precision_score), ("recall", skm.recall_score))
        for name, fn in pairs:
            prf[f"{name}_{avg}"] = partial(fn, labels=LABELS, average=avg, zero_division=0)
    return {
        "accuracy": skm.accuracy_score,
        "one_away_accuracy": lambda t, p: float(np.mean(np.abs(t - p) <= 1)),
        "mae_class": skm.mean_absolute_error,
        "qwk": partial(skm.cohen_kappa_score, labels=LABELS, weights="quadratic"),
        **prf,
    }


def per_call(fn, t, p, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn(t, p)
    return (time.perf_counter() - start) / repeats * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--films", type=int, default=1000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    t = rng.integers(0, NUM_CLASSES, a.films)
    p = np.where(rng.random(a.films) < 0.5, t, rng.integers(0, NUM_CLASSES, a.films))
    ours, theirs = metric_fns(), sklearn_fns()
    print(f"{a.films} films; microseconds per call (best of 3)")
    print(f"{'metric':<20} {'reelcast':>9} {'sklearn':>9} {'ratio':>7}  {'value':>8}")
    for name in SCALAR_METRICS:
        mine = min(per_call(ours[name], t, p, a.repeats) for _ in range(3))
        sk = min(per_call(theirs[name], t, p, max(a.repeats // 10, 5)) for _ in range(3))
        v, w = ours[name](t, p), float(theirs[name](t, p))
        assert abs(v - w) < 1e-12, (name, v, w)
        print(f"{name:<20} {mine:>9.1f} {sk:>9.1f} {sk / mine:>6.1f}x  {v:>8.4f}")
    rows = []
    for label, fns in (("reelcast", ours), ("sklearn", theirs)):
        start = time.perf_counter()
        for name in SCALAR_METRICS:
            bootstrap_ci(t, p, fns[name], n_boot=a.resamples, seed=a.seed)
        rows.append((label, time.perf_counter() - start))
    n = len(SCALAR_METRICS)
    print(f"\nbootstrap_ci of all {n} metrics, {a.resamples} resamples (a split's test_ci):")
    for label, sec in rows:
        print(f"  {label:<9} {sec:8.2f} s  ({sec / rows[0][1]:.0f}x)")


if __name__ == "__main__":
    main()

"""How well a revenue range keeps its promise on films it never saw: coverage and width per level.

A 80 % interval should hold the film's revenue for 80 % of the films (coverage) and be as narrow as it
can while doing so (the median width, $M). Both come with percentile-bootstrap intervals over the
films, like every other test metric.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from reelcast.evaluation.stats import bootstrap_ci, bootstrap_reduce_ci
from reelcast.models.intervals import RevenueRange


def _measures(t: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict[str, tuple[np.ndarray, Callable]]:
    """Each measure as (each film's part, how the films' parts combine): whether the range holds the
    film's revenue (a mean), its width and its log width (medians)."""
    return {
        "coverage": (((t >= lo) & (t <= hi)).astype(np.float64), np.mean),
        "median_width_musd": (hi - lo, np.median),
        # log(1 + high) - log(1 + low): the width as a ratio, comparable across small and large films
        "median_log_width": (np.log1p(hi) - np.log1p(lo), np.median),
    }


def _ci(point_low_high: tuple[float, float, float]) -> dict[str, float]:
    point, low, high = point_low_high
    return {"point": point, "low": low, "high": high}


def interval_coverage(
    revenue_musd: np.ndarray, rng: RevenueRange, n_boot: int = 1000, confidence: float = 0.95, seed: int = 0
) -> dict[str, Any]:
    """Per level ("50", "80", "95"): nominal, observed coverage and median width ($M, and in log(1 + $M),
    the high/low ratio), with intervals."""
    t = np.asarray(revenue_musd, dtype=np.float64)
    out: dict[str, Any] = {}
    for key, (lo, hi) in rng.bounds_musd.items():
        out[key] = {"nominal": int(key) / 100}
        measures = _measures(t, np.asarray(lo, np.float64), np.asarray(hi, np.float64))
        for name, (values, reduce) in measures.items():
            out[key][name] = _ci(bootstrap_reduce_ci(values, reduce, n_boot, confidence, seed))
    out["films"] = len(t)
    out["median_abs_log_error"] = float(np.median(np.abs(np.log1p(t) - np.log1p(rng.median_musd))))
    return out


RULE_METRICS = ("accuracy", "one_away_accuracy", "mae_class", "qwk", "f1_macro")


def decision_rule_scores(
    y: np.ndarray,
    probs: np.ndarray,
    chosen: str,
    val_scores: dict | None,
    n_boot: int,
    confidence: float,
    seed: int,
) -> dict[str, Any]:
    """Every decision rule on the same test probabilities (with bootstrap intervals), and the chosen one."""
    from reelcast.evaluation.metrics import metric_fns
    from reelcast.models.ensemble import DECISIONS, decide

    fns = metric_fns()
    test = {}
    for rule in DECISIONS:
        pred = decide(probs, rule)
        test[rule] = {m: _ci(bootstrap_ci(y, pred, fns[m], n_boot, confidence, seed)) for m in RULE_METRICS}
    return {"chosen_on_validation": chosen, "validation": val_scores or {}, "test": test}

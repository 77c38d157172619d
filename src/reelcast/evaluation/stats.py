"""Uncertainty and significance for evaluation: bootstrap CIs, paired tests, calibration, temperature.

The one bootstrap of the project is scipy.stats.bootstrap (percentile intervals, seeded); McNemar's test
and the Holm correction are statsmodels'. This module adds what they leave to the caller: resampling
films so one metric can read several arrays, the bootstrap p-value of a difference, and the sentences.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import optimize
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests

from reelcast.data.classes import NUM_CLASSES
from reelcast.evaluation.metrics import LOWER_IS_BETTER

MetricFn = Callable[[np.ndarray, np.ndarray], float]

# Below this many discordant films the chi-square approximation to McNemar is poor; use the exact binomial.
MCNEMAR_EXACT_BELOW = 25


def _check_lengths(*arrays: np.ndarray) -> int:
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"arrays differ in length: {[len(a) for a in arrays]}")
    if n == 0:
        raise ValueError("need at least one film")
    return n


def _check_boot(n_boot: int, confidence: float) -> None:
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _resampled(
    samples: tuple[int, ...],
    statistic: Callable[..., float],
    n_boot: int,
    confidence: float,
    seed: int,
    vectorized: bool = False,
):
    """scipy.stats.bootstrap over film indices (percentile method): (low, high, bootstrap distribution).

    Resampling indices rather than the arrays lets one metric read several arrays per film (labels and an
    (N, C) probability matrix) with the same draw. Per resample the statistic is called once on the
    resampled films; the seed fixes every draw. One film gives a degenerate distribution (scipy needs two).
    """
    if min(samples) < 2:
        whole = statistic(*(np.arange(n)[None] if vectorized else np.arange(n) for n in samples))
        values = np.full(n_boot, float(np.ravel(whole)[0]))
        return float(values[0]), float(values[0]), values
    res = sps.bootstrap(
        tuple(np.arange(n) for n in samples),
        statistic,
        n_resamples=n_boot,
        vectorized=vectorized,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    ci = res.confidence_interval
    return float(ci.low), float(ci.high), np.asarray(res.bootstrap_distribution, dtype=float)


def _confusions(t: np.ndarray, p: np.ndarray, i: np.ndarray, k: int) -> np.ndarray:
    """(..., k, k) confusion matrices of the resamples i (..., n): one bincount for all of them."""
    flat = i.reshape(-1, i.shape[-1])
    cells = np.arange(len(flat))[:, None] * (k * k) + t[flat] * k + p[flat]
    return np.bincount(cells.ravel(), minlength=len(flat) * k * k).reshape(*i.shape[:-1], k, k)


def _batched(metric_fn: MetricFn) -> tuple[Callable[[np.ndarray], np.ndarray] | None, int]:
    """The metric's vectorised form over confusion matrices (metrics.metric_fns carry one) and its classes."""
    return getattr(metric_fn, "batched", None), getattr(metric_fn, "num_classes", NUM_CLASSES)


def _two_sided_p(diff: float, diffs: np.ndarray) -> float:
    """Bootstrap p-value of a difference: resamples on the other side of 0, +1 for the observed sample."""
    if diff > 0:
        other_side = int(np.sum(diffs <= 0))
    elif diff < 0:
        other_side = int(np.sum(diffs >= 0))
    else:
        other_side = len(diffs)
    return float(min(1.0, 2.0 * (other_side + 1) / (len(diffs) + 1)))


def _difference(
    samples: tuple[int, ...],
    statistic: Callable[..., float],
    diff: float,
    n_boot: int,
    confidence: float,
    seed: int,
    vectorized: bool = False,
) -> dict:
    """The result of a bootstrapped difference: observed diff, interval, p-value and the sizes."""
    low, high, diffs = _resampled(samples, statistic, n_boot, confidence, seed, vectorized)
    return {
        "diff": diff,
        "low": low,
        "high": high,
        "p_value": _two_sided_p(diff, diffs),
        "confidence": float(confidence),
        "n_boot": int(n_boot),
        "n": int(sum(samples)),
    }


def bootstrap_ci(
    y_true,
    y_pred,
    metric_fn: MetricFn,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Point estimate and percentile-bootstrap CI (resampling test films with replacement)."""
    _check_boot(n_boot, confidence)
    t, p = np.asarray(y_true), np.asarray(y_pred)
    n = _check_lengths(t, p)
    point = float(metric_fn(t, p))  # also checks the labels, once
    batched, k = _batched(metric_fn)
    if batched is not None:  # every resample scored in one call: the same draws, the same numbers
        stat = lambda i, axis=-1: batched(_confusions(t, p, i, k))  # noqa: E731
        low, high, _ = _resampled((n,), stat, n_boot, confidence, seed, vectorized=True)
    else:
        low, high, _ = _resampled((n,), lambda i: metric_fn(t[i], p[i]), n_boot, confidence, seed)
    return point, low, high


def bootstrap_reduce_ci(
    values,
    reduce: Callable[..., np.ndarray],
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Point and percentile-bootstrap CI of `reduce(values)` over the films (`reduce` takes axis=, as
    np.mean and np.median do): every resample in one call, with bootstrap_ci's draws."""
    _check_boot(n_boot, confidence)
    v = np.asarray(values, dtype=np.float64)
    n = _check_lengths(v)
    stat = lambda i, axis=-1: reduce(v[i], axis=axis)  # noqa: E731
    low, high, _ = _resampled((n,), stat, n_boot, confidence, seed, vectorized=True)
    return float(reduce(v)), low, high


def paired_bootstrap(
    y_true,
    pred_a,
    pred_b,
    metric_fn: MetricFn,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict:
    """Bootstrap of metric(A) - metric(B) on the same resampled films: diff, CI, two-sided p-value.

    p-value: with d_1..d_B the resampled differences and d the observed one, count the resamples on the
    other side of 0 from d (d_b <= 0 if d > 0, d_b >= 0 if d < 0) and report
    p = min(1, 2 * (count + 1) / (B + 1)). The +1 (Davison & Hinkley; North et al. 2002) counts the observed
    sample itself, so p is never 0 from a finite number of resamples. d == 0 gives p = 1.
    """
    _check_boot(n_boot, confidence)
    t, a, b = np.asarray(y_true), np.asarray(pred_a), np.asarray(pred_b)
    n = _check_lengths(t, a, b)
    diff = float(metric_fn(t, a) - metric_fn(t, b))
    batched, k = _batched(metric_fn)
    if batched is not None:

        def batched_diff(i: np.ndarray, axis: int = -1) -> np.ndarray:
            return batched(_confusions(t, a, i, k)) - batched(_confusions(t, b, i, k))

        return _difference((n,), batched_diff, diff, n_boot, confidence, seed, vectorized=True)

    def resampled_diff(i: np.ndarray) -> float:
        return metric_fn(t[i], a[i]) - metric_fn(t[i], b[i])

    return _difference((n,), resampled_diff, diff, n_boot, confidence, seed)


def unpaired_bootstrap(
    y_a,
    pred_a,
    y_b,
    pred_b,
    metric_fn: MetricFn,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict:
    """metric(A) - metric(B) on two different sets of films: each resampled on its own; p as paired."""
    _check_boot(n_boot, confidence)
    ta, pa, tb, pb = (np.asarray(x) for x in (y_a, pred_a, y_b, pred_b))
    na, nb = _check_lengths(ta, pa), _check_lengths(tb, pb)
    diff = float(metric_fn(ta, pa) - metric_fn(tb, pb))

    def resampled_diff(i: np.ndarray, j: np.ndarray) -> float:
        return metric_fn(ta[i], pa[i]) - metric_fn(tb[j], pb[j])

    return _difference((na, nb), resampled_diff, diff, n_boot, confidence, seed)


def mcnemar(y_true, pred_a, pred_b, exact: bool | None = None) -> dict:
    """McNemar's test on per-film correctness of A vs B (statsmodels' mcnemar, continuity-corrected)."""
    t, a, b_pred = np.asarray(y_true), np.asarray(pred_a), np.asarray(pred_b)
    _check_lengths(t, a, b_pred)
    right_a = a == t
    right_b = b_pred == t
    both = int(np.sum(right_a & right_b))
    b = int(np.sum(right_a & ~right_b))
    c = int(np.sum(~right_a & right_b))
    neither = int(np.sum(~right_a & ~right_b))
    # Rows: A right / A wrong; columns: B right / B wrong (the layout statsmodels expects).
    table = [[both, b], [c, neither]]
    if exact is None:
        exact = b + c < MCNEMAR_EXACT_BELOW
    if not exact and b + c == 0:
        # statsmodels computes 1/0 = inf here and so p = 0, a spurious "significant"; no discordant films
        # means no evidence either way, so p = 1.
        statistic, p_value = 0.0, 1.0
    else:
        res = sm_mcnemar(np.array(table), exact=exact, correction=True)
        statistic, p_value = float(res.statistic), float(res.pvalue)
    return {
        "b": b,
        "c": c,
        "statistic": statistic,
        "p_value": p_value,
        "method": "exact binomial" if exact else "chi-square with continuity correction",
        "table": table,
    }


def holm(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Holm-Bonferroni (statsmodels' multipletests): which p-values stay significant at family level alpha.

    A p-value exactly at its step's threshold alpha / (m - rank) counts as significant, as in statsmodels.
    """
    if len(p_values) == 0:
        return []
    reject = multipletests(np.asarray(p_values, dtype=float), alpha=alpha, method="holm")[0]
    return [bool(r) for r in reject]


def _fmt(x: float) -> str:
    return f"{x:+.4f}"


def _fmt_p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def significance_sentence(
    name_a: str,
    name_b: str,
    metric: str,
    paired_result: dict,
    mcnemar_result: dict | None,
    alpha: float = 0.05,
) -> str:
    """Plain-English verdict on whether A is significantly better than B on `metric`, citing both tests."""
    diff, low, high, p = (
        paired_result["diff"],
        paired_result["low"],
        paired_result["high"],
        paired_result["p_value"],
    )
    conf = paired_result.get("confidence", 1.0 - alpha)
    lower_better = metric in LOWER_IS_BETTER
    # "Better" for A means a positive difference A - B, or a negative one for error-type metrics.
    a_better_ci = high < 0 if lower_better else low > 0
    a_worse_ci = low > 0 if lower_better else high < 0
    # Significant only if the CI excludes 0 AND the bootstrap p-value is below alpha; a CI that includes 0 is
    # never reported as significant.
    significant = (a_better_ci or a_worse_ci) and p < alpha
    direction = "lower is better" if lower_better else "higher is better"
    evidence = (
        f"{metric} difference {name_a} - {name_b} = {_fmt(diff)} ({direction}), "
        f"{100 * conf:.0f}% paired-bootstrap CI [{_fmt(low)}, {_fmt(high)}], bootstrap p {_fmt_p(p)}"
    )
    if significant and a_better_ci:
        verdict = f"{name_a} is significantly better than {name_b} on {metric} at alpha = {alpha:g}"
    elif significant and a_worse_ci:
        verdict = f"{name_a} is significantly worse than {name_b} on {metric} at alpha = {alpha:g}"
    elif a_better_ci or a_worse_ci:
        verdict = (
            f"{name_a} is not significantly {'better' if a_better_ci else 'worse'} than {name_b} on {metric} "
            f"at alpha = {alpha:g} (the CI excludes 0 but the bootstrap p-value is not below alpha)"
        )
    else:
        verdict = (
            f"{name_a} is not significantly different from {name_b} on {metric} at alpha = {alpha:g} "
            f"(the CI includes 0)"
        )
    sentence = f"{verdict}: {evidence}."
    if mcnemar_result is not None:
        m = mcnemar_result
        m_sig = m["p_value"] < alpha
        if m["b"] == m["c"]:
            who = "neither model is right more often"
        else:
            who = f"{name_a if m['b'] > m['c'] else name_b} is right on more of the films where they disagree"
        sentence += (
            f" McNemar's test ({m['method']}) on per-film exact-class correctness: {name_a} right and "
            f"{name_b} wrong on {m['b']} films, the reverse on {m['c']}; {who}, p {_fmt_p(m['p_value'])} "
            f"({'significant' if m_sig else 'not significant'} at alpha = {alpha:g})."
        )
    return sentence


def _check_probs_labels(probs, y_true) -> tuple[np.ndarray, np.ndarray]:
    pr = np.asarray(probs, dtype=np.float64)
    t = np.asarray(y_true)
    if pr.ndim != 2 or t.ndim != 1 or pr.shape[0] != t.size:
        raise ValueError(f"expected probs (N, C) and y_true (N,), got {pr.shape} and {t.shape}")
    if t.size == 0:
        raise ValueError("need at least one film")
    if t.min() < 0 or t.max() >= pr.shape[1]:
        raise ValueError("y_true holds a class index outside the columns of probs")
    return pr, t.astype(np.int64)


def reliability_curve(probs, y_true, n_bins: int = 10) -> dict:
    """Top-label reliability diagram data in n_bins equal-width confidence bins (lo, hi].

    confidence/accuracy are the mean top probability and the accuracy in each bin, None for an empty bin
    (JSON-safe; np.asarray(x, dtype=float) turns None into nan for plotting).
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    pr, t = _check_probs_labels(probs, y_true)
    conf = pr.max(axis=1)
    correct = (pr.argmax(axis=1) == t).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bins are (lo, hi]; a confidence of exactly 0 (impossible for a top label) joins the first bin.
    bins = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    conf_sum = np.bincount(bins, weights=conf, minlength=n_bins)
    acc_sum = np.bincount(bins, weights=correct, minlength=n_bins)
    return {
        "bin_edges": edges.tolist(),
        "confidence": [float(conf_sum[i] / count[i]) if count[i] else None for i in range(n_bins)],
        "accuracy": [float(acc_sum[i] / count[i]) if count[i] else None for i in range(n_bins)],
        "count": count.astype(int).tolist(),
    }


def expected_calibration_error(probs, y_true, n_bins: int = 10) -> float:
    """Top-label ECE: sum over equal-width bins of (share of films) * |accuracy - mean confidence|."""
    curve = reliability_curve(probs, y_true, n_bins)
    n = sum(curve["count"])
    return float(
        sum(
            cnt / n * abs(acc - conf)
            for cnt, acc, conf in zip(curve["count"], curve["accuracy"], curve["confidence"], strict=True)
            if cnt
        )
    )


def apply_temperature(logits, T: float) -> np.ndarray:
    """Softmax of logits / T, computed stably (row max subtracted)."""
    if not (math.isfinite(T) and T > 0):
        raise ValueError(f"temperature must be a positive finite number, got {T}")
    z = np.asarray(logits, dtype=np.float64) / T
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _nll(logits: np.ndarray, t: np.ndarray, T: float) -> float:
    z = logits / T
    m = z.max(axis=1)
    lse = m + np.log(np.exp(z - m[:, None]).sum(axis=1))
    return float(np.mean(lse - z[np.arange(t.size), t]))


# Search range for log T: T in [e^-5, e^5] ~ [0.0067, 148], far wider than any useful calibration.
_LOG_T_BOUNDS = (-5.0, 5.0)


def fit_temperature(logits, y_true, max_iter: int = 200) -> float:
    """Temperature T > 0 minimising validation NLL of softmax(logits / T); 1.0 for degenerate input."""
    z = np.asarray(logits, dtype=np.float64)
    t = np.asarray(y_true)
    if z.ndim != 2 or t.ndim != 1 or z.shape[0] != t.size:
        raise ValueError(f"expected logits (N, C) and y_true (N,), got {z.shape} and {t.shape}")
    if t.size and (t.min() < 0 or t.max() >= z.shape[1]):
        raise ValueError("y_true holds a class index outside the columns of logits")
    t = t.astype(np.int64)
    # Nothing to fit: no films, one class, non-finite logits, or logits constant within every row (the NLL
    # does not depend on T then).
    if t.size == 0 or z.shape[1] < 2 or not np.all(np.isfinite(z)) or np.all(np.ptp(z, axis=1) == 0):
        return 1.0
    # NLL is convex in 1/T, hence unimodal in log T, so bounded Brent search finds the minimum; optimising
    # log T keeps T > 0 and makes the search scale-free.
    res = optimize.minimize_scalar(
        lambda u: _nll(z, t, math.exp(u)),
        bounds=_LOG_T_BOUNDS,
        method="bounded",
        options={"xatol": 1e-8, "maxiter": max_iter},
    )
    T = math.exp(float(res.x))
    # Guarantee never to make validation NLL worse than leaving the model as it is.
    if not math.isfinite(T) or _nll(z, t, T) > _nll(z, t, 1.0):
        return 1.0
    return T


def mean_std(values_per_fold: Sequence[dict]) -> dict[str, tuple[float, float]]:
    """Cross-validation summary: name -> (mean, sample std with ddof=1; 0 for one fold) of scalar metrics."""
    if len(values_per_fold) == 0:
        raise ValueError("need at least one fold")
    first = values_per_fold[0]
    # Only real numbers are summarised; lists (confusion matrix, per-class report) and flags are skipped.
    keys = [
        k
        for k, v in first.items()
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
    ]
    out: dict[str, tuple[float, float]] = {}
    for k in keys:
        missing = [i for i, fold in enumerate(values_per_fold) if k not in fold]
        if missing:
            raise KeyError(f"metric {k!r} missing from folds {missing}")
        vals = np.array([float(fold[k]) for fold in values_per_fold])
        std = float(np.std(vals, ddof=1)) if vals.size > 1 else 0.0
        out[k] = (float(np.mean(vals)), std)
    return out

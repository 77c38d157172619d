"""Drift of the served requests: per period of the prediction log, the predicted classes and the inputs
(missing modalities, budget, description length) against a reference (the training films, or the log's
first period), each with the population stability index (PSI) and a test (chi-square for distributions
and rates, two-sample Kolmogorov-Smirnov for numbers). Returns tables and sentences; writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from reelcast.config import ABConfig
from reelcast.data.classes import CLASS_NAMES, NUM_CLASSES, assign_classes

# PSI compares proportions; an empty bin on either side gets this share so the log is finite.
PSI_FLOOR = 1e-4


def psi(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    """Population stability index: sum (cur - ref) * ln(cur / ref) over bins (shares floored at 1e-4)."""
    r = np.maximum(np.asarray(ref_share, dtype=float), PSI_FLOOR)
    c = np.maximum(np.asarray(cur_share, dtype=float), PSI_FLOOR)
    r, c = r / r.sum(), c / c.sum()
    return float(np.sum((c - r) * np.log(c / r)))


def assign_periods(times: pd.Series, ids: pd.Series, periods: str) -> pd.Series:
    """A period label per prediction: calendar day/week/month of its time, or N equal slices by order."""
    spec = str(periods).strip().lower()
    if spec.isdigit():
        n = int(spec)
        if n < 1:
            raise ValueError(f"ab.periods: a count of periods must be >= 1, got {periods!r}")
        order = ids.rank(method="first").to_numpy() - 1
        k = np.minimum((order * n // max(len(order), 1)).astype(int), n - 1)
        return pd.Series([f"part {i + 1} of {n}" for i in k], index=times.index)
    freq = {"day": "D", "week": "W", "month": "M"}.get(spec)
    if freq is None:
        raise ValueError(f"ab.periods must be day, week, month or a whole number, got {periods!r}")
    stamps = pd.to_datetime(times, unit="s", utc=True).dt.tz_localize(None)
    return stamps.dt.to_period(freq).astype(str)


def _flag(value: float, p: float, n: int, ab: ABConfig) -> str:
    if n < ab.min_period_films:
        return "not tested (too few films)"
    if not (p < ab.drift_alpha) or value < ab.psi_moderate:
        return "stable"
    return "MAJOR SHIFT" if value >= ab.psi_major else "moderate shift"


def _drift_row(period, n, arm, quantity, reference, value, test, stat, p, detail, ab) -> dict[str, Any]:
    return {
        "period": period,
        "n": int(n),
        "arm": arm,
        "quantity": quantity,
        "reference": reference,
        "psi": round(float(value), 4),
        "test": test,
        "statistic": float(stat),
        "p_value": float(p),
        "flag": _flag(value, p, n, ab),
        "detail": detail,
    }


def distribution_drift(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float, float]:
    """PSI and the chi-square goodness-of-fit test of current counts against the reference shares."""
    ref_share = ref_counts / ref_counts.sum()
    cur_share = cur_counts / cur_counts.sum()
    expected = np.maximum(ref_share, PSI_FLOOR)
    expected = expected / expected.sum() * cur_counts.sum()
    stat, p = sps.chisquare(cur_counts, expected)
    return psi(ref_share, cur_share), float(stat), float(p)


def rate_drift(ref_hits: int, ref_n: int, hits: int, n: int) -> tuple[float, float, float]:
    """PSI over (hit, miss) and the 2x2 chi-square test (Fisher's exact test when counts are small)."""
    table = np.array([[ref_hits, ref_n - ref_hits], [hits, n - hits]])
    value = psi(table[0] / max(ref_n, 1), table[1] / max(n, 1))
    if (table.sum(0) == 0).any():
        return value, 0.0, 1.0
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    if (expected < 5).any():
        stat, p = sps.fisher_exact(table)
        return value, float(stat), float(p)
    stat, p, _, _ = sps.chi2_contingency(table)
    return value, float(stat), float(p)


def number_drift(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float, float]:
    """PSI over the reference's deciles and the two-sample Kolmogorov-Smirnov test."""
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11)[1:-1]))
    ref_share = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1) / len(ref)
    cur_share = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1) / len(cur)
    ks = sps.ks_2samp(ref, cur)
    return psi(ref_share, cur_share), float(ks.statistic), float(ks.pvalue)


@dataclass
class Reference:
    """The films a drift test compares against: the model's training films, or the log's first period."""

    name: str
    classes: np.ndarray | None  # per arm: counts of true classes of its training films
    desc_chars: np.ndarray
    budget: np.ndarray  # known budgets only
    budget_missing: tuple[int, int]  # (films without a budget, films)
    text_missing: tuple[int, int]


def training_reference(
    training: pd.DataFrame, model_path: str, thresholds: np.ndarray, notes: list[str]
) -> Reference:
    """The training films of one model: the table's rows named in its split_ids.csv (portion train)."""
    ids_file = Path(model_path) / "split_ids.csv"
    films = training
    if ids_file.exists():
        ids = pd.read_csv(ids_file, dtype={"film_id": str})
        train_ids = set(ids.loc[ids["portion"] == "train", "film_id"])
        films = training[training["film_id"].astype(str).isin(train_ids)]
        if len(films) < len(train_ids):
            notes.append(
                f"{ids_file}: {len(train_ids) - len(films)} of {len(train_ids)} training films are not in "
                "the --training table; the drift reference uses the rest"
            )
        name = f"training films ({len(films)})"
    else:
        notes.append(f"{ids_file} not found: every film of the --training table is its drift reference")
        name = f"training table ({len(films)})"
    if films.empty:
        raise ValueError(f"no training film of {model_path} is in the --training table")
    rev = films["revenue_musd"].to_numpy(dtype=float)
    known = ~np.isnan(rev)
    budget = films["budget_musd"].to_numpy(dtype=float)
    return Reference(
        name=name,
        classes=np.bincount(assign_classes(rev[known], thresholds), minlength=NUM_CLASSES),
        desc_chars=films["text"].str.len().to_numpy(dtype=float),
        budget=budget[~np.isnan(budget)],
        budget_missing=(int(np.isnan(budget).sum()), len(budget)),
        text_missing=(int((films["text"].str.strip() == "").sum()), len(films)),
    )


def log_reference(rows: pd.DataFrame, name: str) -> Reference:
    """A reference built from logged requests (the first period, when no training table is given)."""
    budget = rows["budget_musd"].to_numpy(dtype=float)
    return Reference(
        name=name,
        classes=None,
        desc_chars=rows["description_chars"].to_numpy(dtype=float),
        budget=budget[~np.isnan(budget)],
        budget_missing=(int(np.isnan(budget).sum()), len(budget)),
        text_missing=(int((rows["description_chars"] == 0).sum()), len(rows)),
    )


def drift_table(
    preds: pd.DataFrame, refs: dict[str, Reference], first_ref: Reference, ab: ABConfig
) -> pd.DataFrame:
    """Per period: each arm's predicted classes, and the requests' inputs, against their reference."""
    rows: list[dict[str, Any]] = []
    served = preds[preds["role"] == "served"]
    for period, cur in served.groupby("period", sort=False):
        n = len(cur)
        base = next(iter(refs.values()), first_ref)
        # Description length and budget: the requests themselves (one per film, whichever arm answered).
        chars = cur["description_chars"].to_numpy(dtype=float)
        v, s, p = number_drift(base.desc_chars, chars)
        detail = f"median {np.median(chars):.0f} chars vs {np.median(base.desc_chars):.0f}"
        rows.append(_drift_row(period, n, "-", "description length", base.name, v, "KS", s, p, detail, ab))
        budget = cur["budget_musd"].to_numpy(dtype=float)
        known = budget[~np.isnan(budget)]
        if len(known) and len(base.budget):
            v, s, p = number_drift(base.budget, known)
            detail = f"median {np.median(known):.1f} M$ vs {np.median(base.budget):.1f} M$"
            rows.append(_drift_row(period, len(known), "-", "budget", base.name, v, "KS", s, p, detail, ab))
        miss = int(np.isnan(budget).sum())
        v, s, p = rate_drift(*base.budget_missing[:1], base.budget_missing[1], miss, n)
        detail = (
            f"{100 * miss / n:.1f} % vs {100 * base.budget_missing[0] / max(base.budget_missing[1], 1):.1f} %"
        )
        rows.append(
            _drift_row(period, n, "-", "budget missing", base.name, v, "chi-square", s, p, detail, ab)
        )
        # Missing modalities, per arm (each model has its own modalities).
        for arm, sub in preds[preds["period"] == period].groupby("arm"):
            ref = refs.get(arm, first_ref)
            mods = sorted({m for d in sub["modalities_used"] for m in d})
            for m in mods:
                missing = int(sum(not d.get(m, False) for d in sub["modalities_used"]))
                if m == "text":
                    ref_hits, ref_n, ref_name = *ref.text_missing, ref.name
                else:
                    first = preds[(preds["period"] == preds["period"].iloc[0]) & (preds["arm"] == arm)]
                    ref_hits = int(sum(not d.get(m, False) for d in first["modalities_used"]))
                    ref_n, ref_name = len(first), f"first period ({len(first)})"
                v, s, p = rate_drift(ref_hits, ref_n, missing, len(sub))
                detail = f"{100 * missing / len(sub):.1f} % missing vs {100 * ref_hits / max(ref_n, 1):.1f} %"
                rows.append(
                    _drift_row(
                        period, len(sub), arm, f"{m} missing", ref_name, v, "chi-square", s, p, detail, ab
                    )
                )
            # Predicted classes against the true classes of the arm's training films.
            if ref.classes is not None:
                counts = np.bincount(sub["predicted_class"].to_numpy(dtype=int), minlength=NUM_CLASSES)
                v, s, p = distribution_drift(ref.classes.astype(float), counts.astype(float))
                top = int(counts.argmax())
                detail = f"most predicted: {CLASS_NAMES[top]} ({100 * counts[top] / counts.sum():.0f} %)"
                rows.append(
                    _drift_row(
                        period, len(sub), arm, "predicted class", ref.name, v, "chi-square", s, p, detail, ab
                    )
                )
    return pd.DataFrame(rows)


def request_drift(
    joined: pd.DataFrame,
    training: pd.DataFrame | None,
    paths: dict[str, str],
    edges: dict[str, np.ndarray],
    ab: ABConfig,
    notes: list[str],
) -> tuple[pd.DataFrame, dict[str, Reference]]:
    """The drift table of a joined log (with periods), and each arm's reference: its training films."""
    refs: dict[str, Reference] = {}
    first_period = joined["period"].iloc[0]
    first = joined[(joined["period"] == first_period) & (joined["role"] == "served")]
    first_ref = log_reference(first, f"first period {first_period} ({len(first)})")
    if training is not None:
        for arm, sub in joined.groupby("arm"):
            mid = sub["model_id"].iloc[-1]
            refs[arm] = training_reference(training, paths[mid], edges[mid], notes)
    else:
        notes.append(
            "no --training table: inputs are compared with the log's first period, "
            "predicted classes not at all"
        )
    return drift_table(joined, refs, first_ref, ab), refs


def drift_sentences(drift: pd.DataFrame, ab: ABConfig) -> list[str]:
    """The verdict's drift lines: one per shifted quantity (and arm), or one saying nothing shifted."""
    shifted = drift[drift["flag"].str.contains("SHIFT|shift", regex=True)] if not drift.empty else drift
    if shifted.empty:
        return [
            f"Drift: no shift flagged (PSI >= {ab.psi_moderate:g} with test p < {ab.drift_alpha:g}) "
            f"in {len(drift)} comparisons."
        ]
    out = []
    n_periods = drift["period"].nunique()
    for (arm, quantity), g in shifted.groupby(["arm", "quantity"], sort=False):
        who = "" if arm == "-" else f" of arm {arm}"
        worst = g.loc[g["psi"].idxmax()]
        majors = int((g["flag"] == "MAJOR SHIFT").sum())
        out.append(
            f"Drift: {quantity}{who} shifted from {worst['reference']} in {len(g)} of {n_periods} periods "
            f"({majors} major); worst {worst['period']}: PSI {worst['psi']:.2f}, {worst['test']} "
            f"p {_p(worst['p_value'])}, {worst['detail']}."
        )
    return out


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"

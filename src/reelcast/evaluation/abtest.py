"""`reelcast ab-report`: the logged predictions of every arm, matched to the revenues films went on to earn.

Per arm: the metrics of reports.labels.AB_METRICS (exact and one-away accuracy, QWK, class MAE,
calibration), each with a bootstrap interval, the true class of every film taken from that arm's own
model's class edges. For films both arms predicted (shadow mode), a paired bootstrap of each difference and
McNemar's test on exact-class correctness; without shared films, an unpaired bootstrap. Then drift
(evaluation.drift). Everything is returned as data (`ABReport`); reports.ab_page writes the files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reelcast.config import ABConfig, Config
from reelcast.data.classes import NUM_CLASSES, assign_classes
from reelcast.evaluation.drift import assign_periods, drift_sentences, request_drift
from reelcast.evaluation.logdata import read_prediction_log
from reelcast.evaluation.metrics import LOWER_IS_BETTER, brier, log_loss, metric_fns
from reelcast.evaluation.stats import (
    bootstrap_ci,
    expected_calibration_error,
    holm,
    mcnemar,
    paired_bootstrap,
    reliability_curve,
    significance_sentence,
    unpaired_bootstrap,
)
from reelcast.reports.labels import AB_METRICS, METRIC_LABELS

log = logging.getLogger(__name__)

# The metrics compared between arms (paired or unpaired), Holm-corrected together.
PAIRED = ("accuracy", "one_away_accuracy", "qwk")


@dataclass
class ABReport:
    """Everything the report says: tables, sentences, and the text printed by the command."""

    arms: pd.DataFrame
    paired: pd.DataFrame
    drift: pd.DataFrame
    verdict: list[str]
    notes: list[str]
    summary: dict[str, Any] = field(default_factory=dict)
    text: str = ""


# ---- joining the log to outcomes --------------------------------------------------------------------
def _norm_title(title: str) -> str:
    return " ".join(str(title).casefold().split())


def join_outcomes(preds: pd.DataFrame, films: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Each prediction with its film's revenue: by film id, else by title when the title is unique."""
    by_id = dict(zip(films["film_id"].astype(str), films["revenue_musd"], strict=True))
    titles = films.assign(t=films["title"].map(_norm_title))
    unique = titles.drop_duplicates("t", keep=False)
    by_title = dict(zip(unique["t"], unique["film_id"].astype(str), strict=True))
    revenue, film, how = [], [], []
    for fid, title in zip(preds["film_id"].astype(str), preds["title"], strict=True):
        key = (fid if fid in by_id else None) if fid else by_title.get(_norm_title(title))
        if fid and key is None:
            how.append("id not in outcomes")
        elif key is None:
            how.append("title not matched")
        else:
            how.append("id" if fid else "title")
        film.append(key)
        revenue.append(by_id[key] if key is not None else np.nan)
    out = preds.assign(outcome_film=film, revenue_musd=revenue, matched_by=how)
    counts = out["matched_by"].value_counts().to_dict()
    return out, {str(k): int(v) for k, v in counts.items()}


def first_per_film(preds: pd.DataFrame) -> pd.DataFrame:
    """One prediction per (arm, film): the first one logged, made before the revenue was known."""
    return preds.sort_values("id").drop_duplicates(["arm", "outcome_film"], keep="first")


# ---- per-arm metrics ----------------------------------------------------------------------------------
def arm_metrics(y: np.ndarray, probs: np.ndarray, ab: ABConfig) -> dict[str, tuple[float, float, float]]:
    """Each metric of AB_METRICS: point value and bootstrap interval (films resampled with replacement)."""
    fns = metric_fns()
    bins = ab.calibration_bins
    prob_fns = {
        "ece": lambda t, p: expected_calibration_error(p, t, bins),
        "log_loss": lambda t, p: log_loss(t, p),
        "brier": lambda t, p: brier(t, p),
    }
    pred = probs.argmax(1)
    out: dict[str, tuple[float, float, float]] = {}
    for name in AB_METRICS:
        fn, x = (prob_fns[name], probs) if name in prob_fns else (fns[name], pred)
        out[name] = bootstrap_ci(y, x, fn, ab.bootstrap, ab.confidence, ab.seed)
    return out


def _packed(fn):
    """A metric over packed (predicted, true) columns, so paired_bootstrap can hold two truths per film."""
    return lambda _t, packed: fn(packed[:, 1], packed[:, 0])


def _arm_sentence(r: dict[str, Any]) -> str:
    return (
        f"Arm {r['arm']} (model {r['model_ids']}) predicted {r['films']} films that now have a revenue: "
        f"{100 * r['accuracy']:.1f} % in the exact class "
        f"({100 * r['accuracy_low']:.1f}-{100 * r['accuracy_high']:.1f} %), "
        f"{100 * r['one_away_accuracy']:.1f} % within one class, QWK {r['qwk']:.3f}, "
        f"ECE {r['ece']:.3f} (mean confidence {r['mean_confidence']:.2f})."
    )


def score_arms(scored: pd.DataFrame, ab: ABConfig) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """One row per arm (counts, metrics, intervals) and per arm its films, true classes and probabilities."""
    arm_rows, per_arm = [], {}
    for arm, sub in scored.groupby("arm", sort=True):
        y = sub["true_class"].to_numpy(dtype=int)
        probs = np.vstack(sub["probabilities"].to_numpy()).astype(float)
        m = arm_metrics(y, probs, ab)
        per_arm[arm] = {"y": y, "probs": probs, "films": sub["outcome_film"].tolist(), "sub": sub}
        row: dict[str, Any] = {
            "arm": arm,
            "model_ids": ",".join(sorted(set(sub["model_id"]))),
            "films": len(sub),
            "answered": int((sub["role"] == "served").sum()),
            "shadow": int((sub["role"] == "shadow").sum()),
            "mean_confidence": float(probs.max(1).mean()),
        }
        for name in AB_METRICS:
            row[name], row[f"{name}_low"], row[f"{name}_high"] = m[name]
        arm_rows.append(row)
    return pd.DataFrame(arm_rows), per_arm


def _paired_rows(a: str, b: str, A: dict, B: dict, common: list, ab: ABConfig) -> list[dict[str, Any]]:
    """Film-by-film comparison on the films both arms predicted: paired bootstrap and McNemar."""
    fns = metric_fns()
    pos_a = {f: i for i, f in enumerate(A["films"])}
    pos_b = {f: i for i, f in enumerate(B["films"])}
    ia, ib = [pos_a[f] for f in common], [pos_b[f] for f in common]
    ya, pa = A["y"][ia], A["probs"][ia].argmax(1)
    yb, pb = B["y"][ib], B["probs"][ib].argmax(1)
    mc = mcnemar(np.ones(len(common)), (pa == ya).astype(int), (pb == yb).astype(int))
    rows = []
    for metric in PAIRED:
        res = paired_bootstrap(
            np.zeros(len(common)),
            np.column_stack([pa, ya]),
            np.column_stack([pb, yb]),
            _packed(fns[metric]),
            ab.bootstrap,
            ab.confidence,
            ab.seed,
        )
        sentence = significance_sentence(a, b, metric, res, mc if metric == "accuracy" else None, ab.alpha)
        rows.append(
            {"pair": f"{a} - {b}", "design": "paired", "films": len(common), "metric": metric}
            | {k: res[k] for k in ("diff", "low", "high", "p_value")}
            | (
                {"mcnemar_b": mc["b"], "mcnemar_c": mc["c"], "mcnemar_p": mc["p_value"]}
                if metric == "accuracy"
                else {}
            )
            | {"sentence": sentence}
        )
    return rows


def _unpaired_rows(a: str, b: str, A: dict, B: dict, ab: ABConfig) -> list[dict[str, Any]]:
    """Comparison of two arms that predicted different films: each resampled on its own."""
    fns = metric_fns()
    rows = []
    for metric in PAIRED:
        res = unpaired_bootstrap(
            A["y"], A["probs"].argmax(1), B["y"], B["probs"].argmax(1), fns[metric], ab.bootstrap,
            ab.confidence, ab.seed,
        )  # fmt: skip
        sentence = significance_sentence(a, b, metric, res, None, ab.alpha).replace(
            "paired-bootstrap", "unpaired-bootstrap"
        )
        rows.append(
            {"pair": f"{a} - {b}", "design": "unpaired (different films)", "metric": metric}
            | {"films": len(A["y"]) + len(B["y"])}
            | {k: res[k] for k in ("diff", "low", "high", "p_value")}
            | {"sentence": sentence}
        )
    return rows


def compare_arms(
    per_arm: dict[str, dict[str, Any]], edges: dict[str, np.ndarray], ab: ABConfig, notes: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Every pair of arms: the comparison table and the verdict's sentences (ending in a decision)."""
    rows: list[dict[str, Any]] = []
    verdict: list[str] = []
    names = list(per_arm)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            A, B = per_arm[a], per_arm[b]
            common = sorted(set(A["films"]) & set(B["films"]))
            same_edges = all(
                np.allclose(edges[x], edges[y])
                for x in set(A["sub"]["model_id"])
                for y in set(B["sub"]["model_id"])
            )
            if not same_edges:
                notes.append(
                    f"arms {a} and {b} have different class edges: each is scored on its own classes, so a "
                    "film can be 'Hit' for one and 'Outstanding' for the other"
                )
            if common:
                pair = _paired_rows(a, b, A, B, common, ab)
                verdict.append(
                    f"On the {len(common)} films both {a} and {b} predicted (shadow mode), "
                    "compared film by film:"
                )
            else:
                pair = _unpaired_rows(a, b, A, B, ab)
                verdict.append(
                    f"{a} and {b} predicted different films (no shadow mode), so they are compared unpaired, "
                    "which needs more films to show the same difference:"
                )
            rows.extend(pair)
            verdict.extend(r["sentence"] for r in pair)
            verdict.append(decision(a, b, pair, ab))
    return pd.DataFrame(rows), verdict


def decision(a: str, b: str, rows: list[dict], ab: ABConfig) -> str:
    """One sentence an operator can act on: the paired metrics together, Holm-corrected for testing three."""
    better, worse, nominal = [], [], []
    for r, sig in zip(rows, holm([r["p_value"] for r in rows], ab.alpha), strict=True):
        lower = r["metric"] in LOWER_IS_BETTER
        excludes_zero = r["low"] > 0 or r["high"] < 0
        if not (sig and excludes_zero):
            if r["p_value"] < ab.alpha and excludes_zero:
                nominal.append(METRIC_LABELS[r["metric"]])
            continue
        (better if (r["diff"] < 0) == lower else worse).append(METRIC_LABELS[r["metric"]])
    family = f"Holm-corrected over the {len(rows)} metrics at alpha = {ab.alpha:g}"
    if better and not worse:
        return f"Verdict: {a} is better than {b} ({', '.join(better)}; {family}); keep {a}."
    if worse and not better:
        return f"Verdict: {b} is better than {a} ({', '.join(worse)}; {family}); move traffic to {b}."
    if better and worse:
        return f"Verdict: mixed - {a} is better on {', '.join(better)}, {b} on {', '.join(worse)} ({family})."
    weak = (
        f" ({', '.join(nominal)} differs at alpha = {ab.alpha:g} on its own, but not once the {len(rows)} "
        "metrics are Holm-corrected: weak evidence)"
        if nominal
        else ""
    )
    return (
        f"Verdict: no significant difference between {a} and {b} yet{weak}; keep collecting outcomes "
        f"(or keep the cheaper model)."
    )


# ---- the report ------------------------------------------------------------------------------------------
def _scored(joined: pd.DataFrame, edges: dict[str, np.ndarray]) -> pd.DataFrame:
    """The first prediction per (arm, film) with an outcome, with its true class under its model's edges."""
    scored = first_per_film(joined[joined["outcome_film"].notna()])
    true_class = pd.Series(0, index=scored.index, dtype=int)
    for mid, rows in scored.groupby("model_id"):  # each model's own class edges
        true_class[rows.index] = assign_classes(rows["revenue_musd"].to_numpy(dtype=float), edges[mid])
    return scored.assign(true_class=true_class)


def compute_ab_report(
    log_db: str | Path,
    outcomes: str | Path,
    cfg: Config | None = None,
    training: str | Path | None = None,
) -> ABReport:
    """Read the log and the outcomes and compute every table and sentence of the report (writes nothing)."""
    from reelcast.data.table import load_films

    cfg = cfg or Config()
    ab = cfg.ab
    if ab.bootstrap < 1 or not 0 < ab.confidence < 1 or not 0 < ab.alpha < 1:
        raise ValueError("ab.bootstrap must be >= 1 and ab.confidence, ab.alpha in (0, 1)")
    preds, models = read_prediction_log(log_db)
    if preds.empty:
        raise ValueError(f"{log_db}: the prediction log holds no predictions yet")
    edges = {r.model_id: np.asarray(r.thresholds_musd, dtype=float) for r in models.itertuples()}
    paths = {r.model_id: r.path for r in models.itertuples()}
    unknown = sorted(set(preds["model_id"]) - set(edges))
    if unknown:
        raise ValueError(
            f"{log_db}: predictions of model(s) {', '.join(unknown)} have no row in table models"
        )
    films = load_films(outcomes, cfg.data, require_revenue=True).df
    notes: list[str] = []
    joined, match_counts = join_outcomes(preds, films)
    joined["period"] = assign_periods(joined["logged_at"], joined["id"], ab.periods)
    scored = _scored(joined, edges)
    n_requests = int((preds["role"] == "served").sum())
    without = int(joined.loc[joined["role"] == "served", "outcome_film"].isna().sum())
    notes.append(
        f"{len(preds)} logged predictions ({n_requests} answered, {len(preds) - n_requests} shadow); "
        f"{n_requests - without} answered films have a revenue in {Path(outcomes).name}, {without} do not "
        f"(not released yet, unknown revenue, or not in the table); matched by {match_counts}"
    )

    arms, per_arm = score_arms(scored, ab)
    if arms.empty:
        raise ValueError(
            f"no logged prediction matches a film with a revenue in {outcomes} ({match_counts}); "
            "send film_id with each request, or check the table's id column (--id-col)"
        )
    verdict = [_arm_sentence(r) for r in arms.to_dict(orient="records")]
    paired, comparisons = compare_arms(per_arm, edges, ab, notes)
    verdict.extend(comparisons)

    train_films = None if training is None else load_films(training, cfg.data, require_revenue=False).df
    drift, refs = request_drift(joined, train_films, paths, edges, ab, notes)
    verdict.extend(drift_sentences(drift, ab))

    report = ABReport(arms, paired, drift, verdict, notes)
    report.summary = {
        "log": str(log_db),
        "outcomes": str(outcomes),
        "settings": {k: getattr(ab, k) for k in ab.__dataclass_fields__},
        "models": models.drop(columns=["id"]).to_dict(orient="records"),
        "match_counts": match_counts,
        "reliability": {
            a: reliability_curve(d["probs"], d["y"], ab.calibration_bins) for a, d in per_arm.items()
        },
        "class_counts": {
            a: {
                "predicted": np.bincount(d["probs"].argmax(1), minlength=NUM_CLASSES).tolist(),
                "true": np.bincount(d["y"], minlength=NUM_CLASSES).tolist(),
            }
            for a, d in per_arm.items()
        },
        "reference_classes": {a: r.classes.tolist() for a, r in refs.items() if r.classes is not None},
    }
    return report


def run_ab_report(
    log_db: str | Path,
    outcomes: str | Path,
    out: str | Path,
    cfg: Config | None = None,
    training: str | Path | None = None,
) -> ABReport:
    """Compute the report and write its files (reports.ab_page); returns the report with its text."""
    # The command's entry point lives beside the computation it runs; only the writing is delegated.
    from reelcast.reports.ab_page import report_text, write_ab_report

    report = compute_ab_report(log_db, outcomes, cfg, training)
    report.text = report_text(report)
    write_ab_report(report, Path(out))
    return report

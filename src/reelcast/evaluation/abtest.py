"""`reelcast ab-report`: the logged predictions of every arm, matched to the revenues films went on to earn.

Per arm: exact and one-away accuracy, QWK, class MAE and calibration (ECE, log loss, Brier), each with a
bootstrap interval, the true class of every film taken from that arm's own model's class edges. For
films both arms predicted (shadow mode), a paired bootstrap of each difference and McNemar's test on
exact-class correctness; without shared films, an unpaired bootstrap. Then drift: per period of the log,
the predicted-class distribution and the inputs (missing modalities, budget, description length)
against the training films, each with the population stability index (PSI) and a test (chi-square for
distributions and rates, two-sample Kolmogorov-Smirnov for numbers). Written as ab_report.csv,
paired.csv, drift.csv, ab_report.json and a self-contained ab_report.html.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from reelcast.config import ABConfig, Config
from reelcast.data.classes import CLASS_NAMES, NUM_CLASSES, assign_classes
from reelcast.evaluation.metrics import LOWER_IS_BETTER, brier, log_loss, metric_fns
from reelcast.evaluation.stats import (
    bootstrap_ci,
    expected_calibration_error,
    mcnemar,
    paired_bootstrap,
    reliability_curve,
    significance_sentence,
)
from reelcast.serving.predlog import read_log

log = logging.getLogger(__name__)

# The per-arm metrics, in report order, with the label the page shows.
LABELS = {
    "accuracy": "exact class",
    "one_away_accuracy": "within one class",
    "qwk": "QWK",
    "mae_class": "class MAE",
    "ece": "ECE (calibration)",
    "log_loss": "log loss",
    "brier": "Brier",
}
PAIRED = ("accuracy", "one_away_accuracy", "qwk")
# PSI compares proportions; an empty bin on either side gets this share so the log is finite.
PSI_FLOOR = 1e-4


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
    """Each metric's point value and bootstrap interval (films resampled with replacement)."""
    fns = metric_fns()
    pred = probs.argmax(1)
    out: dict[str, tuple[float, float, float]] = {}
    for name in ("accuracy", "one_away_accuracy", "qwk", "mae_class"):
        out[name] = bootstrap_ci(y, pred, fns[name], ab.bootstrap, ab.confidence, ab.seed)
    bins = ab.calibration_bins
    prob_fns = {
        "ece": lambda t, p: expected_calibration_error(p, t, bins),
        "log_loss": lambda t, p: log_loss(t, p),
        "brier": lambda t, p: brier(t, p),
    }
    for name, fn in prob_fns.items():
        out[name] = bootstrap_ci(y, probs, fn, ab.bootstrap, ab.confidence, ab.seed)
    return out


def _packed(fn):
    """A metric over packed (predicted, true) columns, so paired_bootstrap can hold two truths per film."""
    return lambda _t, packed: fn(packed[:, 1], packed[:, 0])


def unpaired_difference(ya, pa, yb, pb, fn, ab: ABConfig) -> dict[str, float]:
    """metric(A) - metric(B) on two different sets of films: independent resamples of each."""
    rng = np.random.default_rng(ab.seed)
    diffs = np.empty(ab.bootstrap)
    for i in range(ab.bootstrap):
        ia = rng.integers(0, len(ya), len(ya))
        ib = rng.integers(0, len(yb), len(yb))
        diffs[i] = fn(ya[ia], pa[ia]) - fn(yb[ib], pb[ib])
    alpha = 1 - ab.confidence
    low, high = np.percentile(diffs, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    diff = float(fn(ya, pa) - fn(yb, pb))
    other = int(np.sum(diffs <= 0)) if diff > 0 else int(np.sum(diffs >= 0)) if diff < 0 else ab.bootstrap
    p = min(1.0, 2.0 * (other + 1) / (ab.bootstrap + 1))
    return {"diff": diff, "low": float(low), "high": float(high), "p_value": p, "confidence": ab.confidence}


# ---- drift -------------------------------------------------------------------------------------------
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


# ---- the report ------------------------------------------------------------------------------------------
def _fmt(v: float, low: float, high: float) -> str:
    return f"{v:.3f} [{low:.3f}, {high:.3f}]"


def run_ab_report(
    log_db: str | Path,
    outcomes: str | Path,
    out: str | Path,
    cfg: Config | None = None,
    training: str | Path | None = None,
) -> ABReport:
    """Read the log and the outcomes, compute everything, write the files; returns the report."""
    from reelcast.data.table import load_films

    cfg = cfg or Config()
    ab = cfg.ab
    if ab.bootstrap < 1 or not 0 < ab.confidence < 1 or not 0 < ab.alpha < 1:
        raise ValueError("ab.bootstrap must be >= 1 and ab.confidence, ab.alpha in (0, 1)")
    preds, models = read_log(log_db)
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
    scored = first_per_film(joined[joined["outcome_film"].notna()])
    true_class = pd.Series(0, index=scored.index, dtype=int)
    for mid, rows in scored.groupby("model_id"):  # each model's own class edges
        true_class[rows.index] = assign_classes(rows["revenue_musd"].to_numpy(dtype=float), edges[mid])
    scored = scored.assign(true_class=true_class)
    n_requests = int((preds["role"] == "served").sum())
    without = int(joined.loc[joined["role"] == "served", "outcome_film"].isna().sum())
    notes.append(
        f"{len(preds)} logged predictions ({n_requests} answered, {len(preds) - n_requests} shadow); "
        f"{n_requests - without} answered films have a revenue in {Path(outcomes).name}, {without} do not "
        f"(not released yet, unknown revenue, or not in the table); matched by {match_counts}"
    )

    # Per arm.
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
        for name in LABELS:
            row[name], row[f"{name}_low"], row[f"{name}_high"] = m[name]
        arm_rows.append(row)
    arms = pd.DataFrame(arm_rows)
    if arms.empty:
        raise ValueError(
            f"no logged prediction matches a film with a revenue in {outcomes} ({match_counts}); "
            "send film_id with each request, or check the table's id column (--id-col)"
        )

    # Pairs of arms.
    verdict: list[str] = []
    for r in arm_rows:
        verdict.append(
            f"Arm {r['arm']} (model {r['model_ids']}) predicted {r['films']} films that now have a revenue: "
            f"{100 * r['accuracy']:.1f} % in the exact class "
            f"({100 * r['accuracy_low']:.1f}-{100 * r['accuracy_high']:.1f} %), "
            f"{100 * r['one_away_accuracy']:.1f} % within one class, QWK {r['qwk']:.3f}, "
            f"ECE {r['ece']:.3f} (mean confidence {r['mean_confidence']:.2f})."
        )
    paired_rows = []
    names = list(per_arm)
    fns = metric_fns()
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
                pos_a = {f: i for i, f in enumerate(A["films"])}
                pos_b = {f: i for i, f in enumerate(B["films"])}
                ia, ib = [pos_a[f] for f in common], [pos_b[f] for f in common]
                ya, pa = A["y"][ia], A["probs"][ia].argmax(1)
                yb, pb = B["y"][ib], B["probs"][ib].argmax(1)
                dummy = np.zeros(len(common))
                mc = mcnemar(np.ones(len(common)), (pa == ya).astype(int), (pb == yb).astype(int))
                for metric in PAIRED:
                    res = paired_bootstrap(
                        dummy,
                        np.column_stack([pa, ya]),
                        np.column_stack([pb, yb]),
                        _packed(fns[metric]),
                        ab.bootstrap,
                        ab.confidence,
                        ab.seed,
                    )
                    sentence = significance_sentence(
                        a, b, metric, res, mc if metric == "accuracy" else None, ab.alpha
                    )
                    paired_rows.append(
                        {"pair": f"{a} - {b}", "design": "paired", "films": len(common), "metric": metric}
                        | {k: res[k] for k in ("diff", "low", "high", "p_value")}
                        | (
                            {"mcnemar_b": mc["b"], "mcnemar_c": mc["c"], "mcnemar_p": mc["p_value"]}
                            if metric == "accuracy"
                            else {}
                        )
                        | {"sentence": sentence}
                    )
                verdict.append(
                    f"On the {len(common)} films both {a} and {b} predicted (shadow mode), "
                    "compared film by film:"
                )
            else:
                for metric in PAIRED:
                    res = unpaired_difference(
                        A["y"], A["probs"].argmax(1), B["y"], B["probs"].argmax(1), fns[metric], ab
                    )
                    sentence = significance_sentence(a, b, metric, res, None, ab.alpha).replace(
                        "paired-bootstrap", "unpaired-bootstrap"
                    )
                    paired_rows.append(
                        {"pair": f"{a} - {b}", "design": "unpaired (different films)", "metric": metric}
                        | {"films": len(A["y"]) + len(B["y"])}
                        | {k: res[k] for k in ("diff", "low", "high", "p_value")}
                        | {"sentence": sentence}
                    )
                verdict.append(
                    f"{a} and {b} predicted different films (no shadow mode), so they are compared unpaired, "
                    "which needs more films to show the same difference:"
                )
            verdict.extend(r["sentence"] for r in paired_rows if r["pair"] == f"{a} - {b}")
            verdict.append(_decision(a, b, [r for r in paired_rows if r["pair"] == f"{a} - {b}"], ab))
    paired = pd.DataFrame(paired_rows)

    # Drift.
    refs: dict[str, Reference] = {}
    first_period = joined["period"].iloc[0]
    first = joined[(joined["period"] == first_period) & (joined["role"] == "served")]
    first_ref = log_reference(first, f"first period {first_period} ({len(first)})")
    if training is not None:
        train_films = load_films(training, cfg.data, require_revenue=False).df
        for arm, sub in joined.groupby("arm"):
            mid = sub["model_id"].iloc[-1]
            refs[arm] = training_reference(train_films, paths[mid], edges[mid], notes)
    else:
        notes.append(
            "no --training table: inputs are compared with the log's first period, "
            "predicted classes not at all"
        )
    drift = drift_table(joined, refs, first_ref, ab)
    shifted = drift[drift["flag"].str.contains("SHIFT|shift", regex=True)] if not drift.empty else drift
    if shifted.empty:
        verdict.append(
            f"Drift: no shift flagged (PSI >= {ab.psi_moderate:g} with test p < {ab.drift_alpha:g}) "
            f"in {len(drift)} comparisons."
        )
    else:
        verdict.extend(_drift_sentences(drift, shifted))

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
    report.text = _text(report)
    write_report(report, Path(out))
    return report


def _drift_sentences(drift: pd.DataFrame, shifted: pd.DataFrame) -> list[str]:
    """One sentence per shifted quantity (and arm), over the periods where it was flagged."""
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


def holm(p_values: list[float], alpha: float) -> list[bool]:
    """Holm-Bonferroni: which of several p-values stay significant at family-wise level alpha."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    keep = [False] * len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] >= alpha / (len(p_values) - rank):
            break
        keep[i] = True
    return keep


def _decision(a: str, b: str, rows: list[dict], ab: ABConfig) -> str:
    """One sentence an operator can act on: the paired metrics together, Holm-corrected for testing three."""
    better, worse, nominal = [], [], []
    for r, sig in zip(rows, holm([r["p_value"] for r in rows], ab.alpha), strict=True):
        lower = r["metric"] in LOWER_IS_BETTER
        excludes_zero = r["low"] > 0 or r["high"] < 0
        if not (sig and excludes_zero):
            if r["p_value"] < ab.alpha and excludes_zero:
                nominal.append(LABELS[r["metric"]])
            continue
        (better if (r["diff"] < 0) == lower else worse).append(LABELS[r["metric"]])
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


def _text(r: ABReport) -> str:
    lines = ["Per arm (95 % bootstrap intervals):"]
    for row in r.arms.to_dict(orient="records"):
        lines.append(
            f"  {row['arm']:<10} films {row['films']:>5} (answered {row['answered']}, shadow {row['shadow']})"
        )
        for name, label in LABELS.items():
            lines.append(f"      {label:<18} {_fmt(row[name], row[name + '_low'], row[name + '_high'])}")
    lines.append("")
    lines.extend(r.verdict)
    if not r.drift.empty:
        lines.append("")
        lines.append("Drift (PSI and test per period and quantity):")
        cols = ["period", "n", "arm", "quantity", "reference", "psi", "test", "p_value", "flag", "detail"]
        lines.append(r.drift[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    lines.append("")
    lines.extend(f"note: {n}" for n in r.notes)
    return "\n".join(lines)


# ---- files ---------------------------------------------------------------------------------------------
def write_report(r: ABReport, out: Path) -> None:
    """ab_report.csv, paired.csv, drift.csv, ab_report.json and ab_report.html (self-contained)."""
    from reelcast.files import atomic_write_json, atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "ab_report.csv", r.arms.to_csv(index=False))
    atomic_write_text(out / "paired.csv", r.paired.to_csv(index=False))
    atomic_write_text(out / "drift.csv", r.drift.to_csv(index=False))
    atomic_write_json(
        out / "ab_report.json",
        {
            **r.summary,
            "arms": r.arms.to_dict(orient="records"),
            "paired": r.paired.to_dict(orient="records"),
            "drift": r.drift.to_dict(orient="records"),
            "verdict": r.verdict,
            "notes": r.notes,
        },
    )
    atomic_write_text(out / "ab_report.html", render_html(r))


def _figures(r: ABReport) -> list[tuple[str, Any]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = []
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    for arm, curve in r.summary["reliability"].items():
        conf = np.asarray(curve["confidence"], dtype=float)
        acc = np.asarray(curve["accuracy"], dtype=float)
        ax.plot(conf, acc, "o-", label=arm)
    ax.set(xlabel="mean confidence", ylabel="share correct", title="Reliability (top class)", xlim=(0, 1))
    ax.legend()
    figs.append(("Calibration: share of films right against the confidence given", fig))
    counts = r.summary["class_counts"]
    fig, ax = plt.subplots(figsize=(7, 3.4))
    width = 0.8 / (2 * len(counts))
    x = np.arange(NUM_CLASSES)
    for i, (arm, c) in enumerate(counts.items()):
        pred, true = np.asarray(c["predicted"]), np.asarray(c["true"])
        ax.bar(x + (2 * i) * width, pred / max(pred.sum(), 1), width, label=f"{arm} predicted")
        ax.bar(x + (2 * i + 1) * width, true / max(true.sum(), 1), width, label=f"{arm} true", alpha=0.5)
    ax.set_xticks(x + 0.4 - width / 2, CLASS_NAMES, rotation=30, fontsize=8)
    ax.set(ylabel="share of films", title="Predicted and true classes (each arm's own edges)")
    ax.legend(fontsize=7)
    figs.append(("Predicted and true classes of the films with an outcome", fig))
    return figs


def _bullets(lines: list[str]):
    import reelcast.reports.html as rh

    return rh.Markup("<ul>" + "".join(f"<li>{rh.esc(x)}</li>" for x in lines) + "</ul>")


def render_html(r: ABReport) -> str:
    """The report as one HTML page with its figures inlined (reelcast.reports.html builders)."""
    import reelcast.reports.html as rh

    s = r.summary["settings"]
    cols = ["arm", "model_ids", "films", "answered", "shadow", "mean_confidence"]
    arms = r.arms[cols + [c for n in LABELS for c in (n, f"{n}_low", f"{n}_high")]]
    chart = rh.interval_chart(
        [(f"{a.arm} exact class", a.accuracy, a.accuracy_low, a.accuracy_high) for a in r.arms.itertuples()]
        + [(f"{a.arm} QWK", a.qwk, a.qwk_low, a.qwk_high) for a in r.arms.itertuples()],
        title="exact-class accuracy and QWK with their intervals",
    )
    body = rh.join(
        [
            rh.section("Verdict", _bullets(r.verdict)),
            rh.section(
                "Per arm",
                rh.table(rh.fold_intervals(arms.to_dict(orient="records")), headers=LABELS) + chart,
                note=f"{100 * s['confidence']:.0f} % bootstrap intervals over films ({s['bootstrap']} "
                "resamples); each film scored against the class of its revenue under the edges of the model "
                "that predicted it",
            ),
            rh.section("Comparison", rh.table(r.paired.drop(columns=["sentence"], errors="ignore"))),
            rh.section("Figures", rh.join(rh.figure(fig, caption) for caption, fig in _figures(r))),
            rh.section(
                "Drift",
                rh.table(
                    r.drift,
                    row_class=lambda row: "warn" if "shift" in str(row.get("flag", "")).lower() else "",
                ),
                note=f"PSI over the reference's classes, deciles or two bins (missing / present); a shift is "
                f"flagged when PSI >= {s['psi_moderate']:g} (major >= {s['psi_major']:g}) and the test's p < "
                f"{s['drift_alpha']:g}: chi-square for class distributions and rates, two-sample "
                "Kolmogorov-Smirnov for budget and description length",
            ),
            rh.section("Models", rh.table(pd.DataFrame(r.summary["models"]))),
            rh.section("Notes", _bullets(r.notes)),
        ]
    )
    subtitle = f"log {r.summary['log']} · outcomes {r.summary['outcomes']}"
    toc = [
        (rh.slug(t), t) for t in ("Verdict", "Per arm", "Comparison", "Figures", "Drift", "Models", "Notes")
    ]
    return rh.page("reelcast A/B report", body, subtitle=subtitle, toc=toc)

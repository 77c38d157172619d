"""What each split's evaluation adds beyond the headline metrics, computed and returned as data.

    reliability                  the reliability curve of the (temperature-scaled) test probabilities
    modality_contribution        mean drop in the predicted class's probability when a modality is masked
    decision_rules               argmax, median and expected class on the same test probabilities
    revenue_intervals            the revenue range's coverage and median width per level on the test films
    ablation, significance       the full model beside its components and baselines (evaluation.ablation),
                                 paired tests against each (evaluation.significance)
    permutation_importance       drop in macro-F1 and accuracy when one metadata column is shuffled
reports.split_files writes them (evaluation_results.json, ablation.csv/png, calibration.png, ...).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reelcast.config import Config
from reelcast.data.classes import CLASS_NAMES, NUM_CLASSES, describe_thresholds
from reelcast.data.splits import Split
from reelcast.data.table import FilmTable
from reelcast.evaluation.ablation import (
    ABLATION_METRICS,
    Candidate,
    ablation_table,
    fit_fusion_baseline,
    majority_baseline,
    run_ablation,
    summarize_ablations,
)
from reelcast.evaluation.coverage import decision_rule_scores, interval_coverage
from reelcast.evaluation.importance import fusion_permutation, gbt_permutation
from reelcast.evaluation.metrics import SCALAR_METRICS, classification_metrics, metric_fns
from reelcast.evaluation.significance import significance
from reelcast.evaluation.stats import bootstrap_ci, expected_calibration_error, reliability_curve
from reelcast.features.featurize import FilmInputs
from reelcast.models import missing
from reelcast.models.baselines import GBT_MAX_ITER, GBT_PARAMS, fit_gbt
from reelcast.models.network import softmax
from reelcast.predictor import RevenuePredictor
from reelcast.progress import Progress

__all__ = [
    "ABLATION_METRICS",
    "Candidate",
    "SplitExtras",
    "contribution_summary",
    "fit_fusion_baseline",
    "fit_gbt",
    "majority_baseline",
    "score_table",
    "split_extras",
    "summarize_ablations",
]

CALIBRATION_NOTE = (
    "ece_test is the final (blended) probabilities; the uncalibrated one is the fusion network's"
)
log = logging.getLogger(__name__)


@dataclass
class SplitExtras:
    """One split's evaluation beyond the headline metrics: results for the JSON, tables for the files."""

    results: dict[str, Any] = field(default_factory=dict)
    ablation: pd.DataFrame | None = None  # one row per model of the ablation
    permutation: list[dict] = field(default_factory=list)  # permutation importance rows


def contribution_summary(p: RevenuePredictor, inputs: FilmInputs, probs: np.ndarray) -> dict[str, Any]:
    """Per modality: mean drop in the predicted class's probability when masked, over films that have it."""
    contrib = p.contributions(inputs, probs)
    present = inputs.mask
    return {
        m: {
            "mean_drop_in_predicted_prob": float(contrib[present[:, j], j].mean())
            if present[:, j].any()
            else None,
            "films_with_modality": int(present[:, j].sum()),
        }
        for j, m in enumerate(inputs.modalities)
    }


def test_intervals(y: np.ndarray, pred: np.ndarray, cfg: Config) -> dict[str, dict[str, float]]:
    """Every scalar metric with its bootstrap interval."""
    fns = metric_fns()
    out = {}
    for name in SCALAR_METRICS:
        point, lo, hi = bootstrap_ci(
            y, pred, fns[name], n_boot=cfg.eval.bootstrap, confidence=cfg.eval.confidence, seed=cfg.split.seed
        )
        out[name] = {"point": point, "low": lo, "high": hi}
    return out


def score_table(p: RevenuePredictor, data: Any) -> dict[str, Any]:
    """A fitted model on a table with revenue: every metric with its bootstrap CI, calibration and
    modality contributions, shaped like a split's evaluation_results.json (portion "test" = the table)."""
    cfg = p.config
    inputs, table = p.prepare_inputs(data, require_revenue=True)
    y = p.labels_for(table)
    logits = p.logits(inputs)
    probs = p.proba(inputs)  # the saved model's answer (the blend), scored like `evaluate` and a split
    pred = p.decide(probs)
    extra = {}
    if p.intervals_ is not None:
        rng, _ = p.intervals_.for_films(p.components_.components, inputs)
        coverage = interval_coverage(p.label_revenue(table.df), rng, cfg.eval.bootstrap, cfg.eval.confidence)
        extra["revenue_intervals"] = {**p.intervals_.describe(), "test": coverage}
    return {
        "split": "scored table",
        "source": str(table.source),
        "sizes": {"films": len(y)},
        "class_names": CLASS_NAMES,
        "thresholds_musd": [float(t) for t in p.thresholds_],
        "classes": describe_thresholds(p.thresholds_),
        "class_counts": {"scored": np.bincount(y, minlength=NUM_CLASSES).tolist()},
        "modalities": list(p.spec_.modalities),
        "encoder_ids": dict(p.encoder_ids_),
        "media_mode": cfg.media.mode,
        "test": classification_metrics(y, pred),
        "test_ci": test_intervals(y, pred, cfg),
        "calibration": {
            "temperature": p.temperature_,
            "note": CALIBRATION_NOTE,
            "ece_test": expected_calibration_error(probs, y, cfg.eval.calibration_bins),
            "ece_test_uncalibrated": expected_calibration_error(
                softmax(logits), y, cfg.eval.calibration_bins
            ),
        },
        "reliability": reliability_curve(probs, y, cfg.eval.calibration_bins),
        "modality_contribution": contribution_summary(p, inputs, probs),
        "decision": p.components_.decision,
        "unknown_inputs": missing.unknown_counts(p.tabular_, inputs),
        "table_report": table.report.to_dict(),
        **extra,
    }


def split_extras(
    p: RevenuePredictor,
    table: FilmTable,
    inputs: FilmInputs,
    split: Split,
    y: np.ndarray,
    probs: np.ndarray,
    cfg: Config,
    progress: bool = True,
) -> SplitExtras:
    """Calibration, modality contributions, ablation, significance, permutation importance: one split."""
    te = split.test
    out = SplitExtras()
    boot = (cfg.eval.bootstrap, cfg.eval.confidence, cfg.split.seed)
    out.results["reliability"] = reliability_curve(probs[te], y[te], cfg.eval.calibration_bins)
    te_inputs = p.shape_inputs(inputs, table.df).subset(te)
    out.results["modality_contribution"] = contribution_summary(p, te_inputs, probs[te])
    ens = p.ensemble_
    if ens is not None:
        out.results["decision_rules"] = decision_rule_scores(
            y[te], probs[te], ens.decision, ens.blend.val_scores.get("decision"), *boot
        )
    if p.intervals_ is not None:
        rng, _ = p.intervals_.for_films(p.components_.components, te_inputs)
        revenue = p.label_revenue(table.df)[te]
        out.results["revenue_intervals"] = {
            **p.intervals_.describe(),
            "test": interval_coverage(revenue, rng, *boot),
        }

    perm: list[dict] = []
    if "tabular" in te_inputs.modalities:
        rows = fusion_permutation(p, te_inputs, y[te], cfg, progress=progress)
        perm += [{"model": "full", **r} for r in rows]

    if cfg.eval.ablation:
        with Progress(None, f"ablation {split.name}", "model", enabled=progress) as bar:
            ab = run_ablation(p, table, inputs, split, y, probs, cfg, progress=progress, bar=bar)
        # Bootstrap intervals and paired tests take as long as the ablation itself on small machines.
        with Progress(None, f"intervals and tests {split.name}", "model", enabled=progress) as bar:
            df = ablation_table(y[te], ab.candidates, cfg)
            sig = significance(y[te], ab.candidates[0], ab.candidates[1:], cfg)
            bar.update(len(ab.candidates))
        out.ablation = df
        out.results["ablation"] = {
            "models": df.to_dict("records"),
            "tabular_columns": ab.tabular_columns,
            "leaky_columns": list(p.leaky_columns_),
            "skipped": ab.skipped,
            "gbt": {
                "estimator": "sklearn HistGradientBoostingClassifier",
                "params": GBT_PARAMS,
                "max_iter": GBT_MAX_ITER,
                "class_balanced_sample_weights": True,
                "random_state": cfg.train.seed,
                "stopping": ab.gbt.stopping,
            }
            if ab.gbt
            else None,
        }
        out.results["significance"] = sig
        if ab.gbt is not None:
            X, _ = ab.gbt.encoder.transform(table.df.iloc[te])
            rows = gbt_permutation(ab.gbt, X, y[te], cfg, progress=progress)
            perm += [{"model": "gbt_tabular", **r} for r in rows]
        for s in sig["sentences"]:
            log.debug("%s", s)

    if perm:
        out.permutation = perm
        out.results["permutation_importance"] = perm
    return out

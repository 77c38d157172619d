"""Paired significance tests of the full model against each baseline of the ablation, with sentences."""

from __future__ import annotations

from typing import Any

import numpy as np

from reelcast.config import Config
from reelcast.evaluation.ablation import ABLATION_METRICS, Candidate
from reelcast.evaluation.metrics import metric_fns
from reelcast.evaluation.stats import mcnemar, paired_bootstrap, significance_sentence

# Sentences: exact-class accuracy (McNemar tests exactly that) and macro-F1 (what early stopping selects on).
SENTENCE_METRICS = ("accuracy", "f1_macro")


def significance(
    y_test: np.ndarray, full: Candidate, baselines: list[Candidate], cfg: Config
) -> dict[str, Any]:
    """Paired bootstrap per metric and McNemar's test, full model vs each baseline, with sentences."""
    fns = metric_fns()
    alpha = round(1.0 - cfg.eval.confidence, 10)  # 0.05, not 0.050000000000000044, in the report
    comparisons: dict[str, Any] = {}
    sentences: list[str] = []
    for b in baselines:
        paired = {
            m: paired_bootstrap(
                y_test,
                full.pred,
                b.pred,
                fns[m],
                n_boot=cfg.eval.bootstrap,
                confidence=cfg.eval.confidence,
                seed=cfg.split.seed,
            )
            for m in ABLATION_METRICS
        }
        mc = mcnemar(y_test, full.pred, b.pred)
        comparisons[b.key] = {
            "model": b.label,
            "paired_bootstrap": paired,
            "mcnemar": mc,
            # The rule significance_sentence states: CI of (full - baseline) above 0 and bootstrap p < alpha.
            "full_significantly_better": {
                m: bool(r["low"] > 0 and r["p_value"] < alpha) for m, r in paired.items()
            },
        }
        for m in SENTENCE_METRICS:
            sentences.append(
                significance_sentence(
                    full.label, b.label, m, paired[m], mc if m == "accuracy" else None, alpha=alpha
                )
            )
    return {
        "full_model": full.label,
        "alpha": alpha,
        "n_boot": cfg.eval.bootstrap,
        "test_films": int(len(y_test)),
        "multiple_comparisons": "none applied: each baseline and metric is tested on its own",
        "comparisons": comparisons,
        "sentences": sentences,
    }

"""What each split's report adds beyond the headline metrics: calibration and modality contributions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from reelcast import reports
from reelcast.config import Config
from reelcast.data.splits import Split
from reelcast.data.table import FilmTable
from reelcast.featurize import FilmInputs
from reelcast.predictor import RevenuePredictor
from reelcast.stats import reliability_curve


def calibration_png(probs: np.ndarray, y: np.ndarray, n_bins: int, path: Path, title: str = "") -> dict:
    """Reliability diagram of the top-label confidence on the test films; returns the curve."""
    curve = reliability_curve(probs, y, n_bins)
    edges = np.asarray(curve["bin_edges"])
    centres = (edges[:-1] + edges[1:]) / 2
    acc = np.array([np.nan if a is None else a for a in curve["accuracy"]], dtype=float)
    conf = np.array([np.nan if c is None else c for c in curve["confidence"]], dtype=float)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.bar(centres, np.nan_to_num(acc), width=edges[1] - edges[0], alpha=0.6, edgecolor="black",
           label="accuracy in bin")
    ax.plot(conf, acc, marker="o", color="C1", label="mean confidence vs accuracy")
    ax.set_xlabel("confidence of the predicted class")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    ax.set_title(title or "reliability diagram (test films)")
    reports.save_figure(fig, path)
    return curve


def split_extras(
    p: RevenuePredictor,
    table: FilmTable,
    inputs: FilmInputs,
    split: Split,
    y: np.ndarray,
    probs: np.ndarray,
    cfg: Config,
    sdir: Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Calibration diagram and per-modality contributions for one split; returns the report entries."""
    te = split.test
    out: dict[str, Any] = {}
    out["reliability"] = calibration_png(probs[te], y[te], cfg.eval.calibration_bins,
                                         sdir / "calibration.png", f"test films, split {split.name}")
    model_inputs, _ = p.prepare_inputs(inputs.subset(te) if p.tabular_ is None else _tab(p, inputs, table).subset(te))
    contrib = p.contributions(model_inputs, probs[te])
    present = model_inputs.mask
    out["modality_contribution"] = {
        m: {
            "mean_drop_in_predicted_prob": float(contrib[present[:, j], j].mean()) if present[:, j].any() else None,
            "films_with_modality": int(present[:, j].sum()),
        }
        for j, m in enumerate(model_inputs.modalities)
    }
    return out


def _tab(p: RevenuePredictor, inputs: FilmInputs, table: FilmTable) -> FilmInputs:
    feats, present = p.tabular_.transform(table.df)
    return inputs.with_tabular(feats, present)

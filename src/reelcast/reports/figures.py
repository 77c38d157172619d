"""The figures of a split's report: reliability diagram and ablation bars (from evaluation's data)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import reelcast.reports.files as reports
from reelcast.evaluation.ablation import ABLATION_METRICS
from reelcast.reports.labels import METRIC_LABELS


def calibration_png(curve: dict, path: Path, title: str = "") -> None:
    """Reliability diagram of the top-label confidence (a curve of evaluation.stats.reliability_curve)."""
    edges = np.asarray(curve["bin_edges"])
    centres = (edges[:-1] + edges[1:]) / 2
    acc = np.array([np.nan if a is None else a for a in curve["accuracy"]], dtype=float)
    conf = np.array([np.nan if c is None else c for c in curve["confidence"]], dtype=float)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.bar(
        centres,
        np.nan_to_num(acc),
        width=edges[1] - edges[0],
        alpha=0.6,
        edgecolor="black",
        label="accuracy in bin",
    )
    ax.plot(conf, acc, marker="o", color="C1", label="mean confidence vs accuracy")
    ax.set_xlabel("confidence of the predicted class")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    ax.set_title(title or "reliability diagram (test films)")
    reports.save_figure(fig, path)


def ablation_png(df: pd.DataFrame, path: Path, title: str = "", confidence: float = 0.95) -> None:
    """Grouped bars, one group per metric and one bar per model, with the bootstrap CIs as error bars."""
    n = len(df)
    x = np.arange(len(ABLATION_METRICS))
    width = 0.8 / max(n, 1)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.2 * len(ABLATION_METRICS) * max(n, 2) * 0.45 + 2), 4.5))
    for i, row in enumerate(df.to_dict("records")):
        vals = np.array([row[m] for m in ABLATION_METRICS])
        err = np.array(
            [
                [row[m] - row[f"{m}_low"] for m in ABLATION_METRICS],
                [row[f"{m}_high"] - row[m] for m in ABLATION_METRICS],
            ]
        )
        label = row["model"] if row["model"] != "full" else f"full ({row['modalities']})"
        ax.bar(x + (i - (n - 1) / 2) * width, vals, width, yerr=np.clip(err, 0, None), capsize=2, label=label)
    lows = df[[f"{m}_low" for m in ABLATION_METRICS]].to_numpy()
    ax.set_ylim(min(0.0, float(lows.min()) - 0.05), 1.0)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xticks(x, [METRIC_LABELS[m] for m in ABLATION_METRICS])
    ax.set_ylabel(f"test-set score (error bars: {100 * confidence:.0f}% bootstrap CI)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    ax.set_title(title or "ablation (test films)")
    reports.save_figure(fig, path)

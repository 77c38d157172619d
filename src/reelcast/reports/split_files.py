"""The files of one split's folder and the run's cross-split tables, from what evaluation returned.

split_70_20_10/   evaluation_results.json, training_curves.png, confusion_matrix.png, split_ids.csv,
                  test_predictions.csv, calibration.png, ablation.csv, ablation.png,
                  permutation_importance.csv
run folder/       split_comparison.csv, ablation_summary.csv
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import reelcast.reports.files as files
from reelcast.data.classes import CLASS_NAMES
from reelcast.data.splits import Split
from reelcast.evaluation.ablation import ABLATION_METRICS, summarize_ablations
from reelcast.evaluation.evaluate import SplitExtras
from reelcast.reports.figures import ablation_png, calibration_png

log = logging.getLogger(__name__)


def write_split(
    sdir: Path,
    result: dict[str, Any],
    extras: SplitExtras,
    film_ids: list[str],
    split: Split,
    y: np.ndarray,
    pred: np.ndarray,
    probs: np.ndarray,
    temperature: float,
    confidence: float = 0.95,
) -> None:
    """Every file of one split's folder (the model itself is saved by the predictor)."""
    sdir.mkdir(parents=True, exist_ok=True)
    files.write_json(sdir / "evaluation_results.json", result)
    files.training_curves(result["history"], sdir / "training_curves.png", f"split {split.name}")
    files.confusion_matrix_png(
        result["test"]["confusion_matrix"], sdir / "confusion_matrix.png", f"test films, split {split.name}"
    )
    write_split_ids(sdir, film_ids, split, y)
    write_test_predictions(sdir, film_ids, split, y, pred, probs)
    if "reliability" in result:
        calibration_png(
            result["reliability"],
            sdir / "calibration.png",
            f"test films, split {split.name} (temperature {temperature:.2f})",
        )
    if extras.ablation is not None:
        files.write_csv(sdir / "ablation.csv", extras.ablation)
        ablation_png(
            extras.ablation, sdir / "ablation.png", f"ablation, test films of split {split.name}", confidence
        )
        log.info(
            "split %s ablation (test films):\n%s",
            split.name,
            files.format_table(extras.ablation[["model", *ABLATION_METRICS, "ece"]]),
        )
    if extras.permutation:
        files.write_csv(sdir / "permutation_importance.csv", pd.DataFrame(extras.permutation))


def write_split_ids(sdir: Path, film_ids: list[str], split: Split, y: np.ndarray) -> None:
    """split_ids.csv: every film's portion and class."""
    rows = [
        {"film_id": film_ids[i], "portion": part, "class": int(y[i]), "class_name": CLASS_NAMES[y[i]]}
        for part in ("train", "val", "test")
        for i in getattr(split, part)
    ]
    files.write_csv(sdir / "split_ids.csv", pd.DataFrame(rows))


def write_test_predictions(sdir, film_ids, split, y, pred, probs) -> None:
    """test_predictions.csv: true and predicted class and every probability of each test film."""
    te = split.test
    df = pd.DataFrame(
        {
            "film_id": [film_ids[i] for i in te],
            "true_class": y[te],
            "predicted_class": pred[te],
            "true_name": [CLASS_NAMES[k] for k in y[te]],
            "predicted_name": [CLASS_NAMES[k] for k in pred[te]],
        }
    )
    for k, name in enumerate(CLASS_NAMES):
        df[f"p_{name}"] = probs[te, k]
    files.write_csv(sdir / "test_predictions.csv", df)


def write_ablation_summary(
    out_dir: Path, split_dirs: dict[str, Path], cv: bool = False
) -> pd.DataFrame | None:
    """ablation_summary.csv from every split's ablation.csv; with --cv also mean and std per model."""
    tables = {}
    for name, sdir in split_dirs.items():
        path = Path(sdir) / "ablation.csv"
        if path.exists():
            tables[name] = pd.read_csv(path, keep_default_na=False)
    df = summarize_ablations(tables, cv)
    if df is not None:
        files.write_csv(Path(out_dir) / "ablation_summary.csv", df)
    return df

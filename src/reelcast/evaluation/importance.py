"""Permutation importance of the metadata columns: how much a model's test scores drop when one
column's features are shuffled across films (the whole block of a column moves as one)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from reelcast.config import Config
from reelcast.evaluation.metrics import metric_fns
from reelcast.features.featurize import FilmInputs
from reelcast.features.tabular import TabularEncoder

if TYPE_CHECKING:
    from reelcast.predictor import RevenuePredictor

PERMUTATION_METRICS = ("f1_macro", "accuracy")


def column_blocks(enc: TabularEncoder) -> dict[str, np.ndarray]:
    """Feature positions of each source column or feature group in the encoder's output."""
    blocks = enc.blocks()
    covered = sum(len(v) for v in blocks.values())
    if covered != enc.dim:
        raise ValueError(f"tabular feature layout changed: blocks cover {covered} of {enc.dim} features")
    return blocks


def tabular_presence(enc: TabularEncoder, X: np.ndarray) -> np.ndarray:
    """Which rows have any metadata, read back from encoded features exactly as `transform` decides it."""
    return enc.presence(X)


def permutation_importance(
    predict, X: np.ndarray, y: np.ndarray, blocks: dict[str, np.ndarray], repeats: int, seed: int
) -> list[dict[str, Any]]:
    """Drop in macro-F1 and accuracy when one column's features are shuffled across films (mean, std)."""
    fns = metric_fns()
    base_pred = predict(X)
    base = {m: fns[m](y, base_pred) for m in PERMUTATION_METRICS}
    rng = np.random.default_rng(seed)
    rows = []
    for col, idx in blocks.items():
        drops: dict[str, list[float]] = {m: [] for m in PERMUTATION_METRICS}
        for _ in range(repeats):
            Xp = X.copy()
            # The block moves as one: a film gets another film's whole genre set, value and missing flag.
            Xp[:, idx] = X[rng.permutation(len(X))][:, idx]
            pred = predict(Xp)
            for m in PERMUTATION_METRICS:
                drops[m].append(base[m] - fns[m](y, pred))
        row: dict[str, Any] = {"column": col, "features": len(idx), "repeats": repeats}
        for m in PERMUTATION_METRICS:
            row[f"{m}_baseline"] = base[m]
            row[f"{m}_drop_mean"] = float(np.mean(drops[m]))
            row[f"{m}_drop_std"] = float(np.std(drops[m], ddof=1)) if repeats > 1 else 0.0
        rows.append(row)
    return rows


def fusion_permutation(
    p: RevenuePredictor, te_inputs: FilmInputs, y_test: np.ndarray, cfg: Config
) -> list[dict]:
    """Permutation importance of each metadata column for a fusion model that has the tabular modality."""
    j = te_inputs.modalities.index("tabular")
    X = te_inputs.arrays["tabular"]

    def predict(Xp: np.ndarray) -> np.ndarray:
        x = copy.copy(te_inputs)
        x.arrays = {**te_inputs.arrays, "tabular": Xp}
        # A shuffled-in value can give a film without metadata some (and the reverse): the mask follows.
        x.mask = te_inputs.mask.copy()
        x.mask[:, j] = tabular_presence(p.tabular_, Xp)
        return p.decide(p.proba(x))

    return permutation_importance(
        predict, X, y_test, column_blocks(p.tabular_), cfg.eval.permutation_repeats, cfg.split.seed
    )

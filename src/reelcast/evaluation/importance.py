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
from reelcast.models.gbm import openmp_threads_for
from reelcast.progress import Progress

if TYPE_CHECKING:
    from reelcast.models.baselines import GBTBaseline
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


# Permuted copies go to the model together, up to this many bytes of input per call.
BATCH_BYTES = 256 * 2**20


def sample_films(n: int, max_films: int, seed: int) -> np.ndarray:
    """Positions of at most max_films of n films: all of them, or a seeded sample in their order."""
    if max_films <= 0 or n <= max_films:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_films, replace=False))


def permutation_importance(
    predict,
    X: np.ndarray,
    y: np.ndarray,
    blocks: dict[str, np.ndarray],
    repeats: int,
    seed: int,
    bytes_per_film: int | None = None,
    progress: bool = False,
    desc: str = "permutation importance",
) -> list[dict[str, Any]]:
    """Drop in macro-F1 and accuracy when one column's features are shuffled across films (mean, std).

    predict maps stacked rows to classes row by row, so a column's repeats go to it as one (k * n)-row
    matrix: one model call per column (or a few, BATCH_BYTES apart) instead of one per repeat.
    bytes_per_film: the model's input per film when it reads more than X (default: X's own row).
    """
    fns = metric_fns()
    n = len(X)
    base_pred = predict(X)
    base = {m: fns[m](y, base_pred) for m in PERMUTATION_METRICS}
    rng = np.random.default_rng(seed)
    per_call = max(1, BATCH_BYTES // max(1, (bytes_per_film or X[:1].nbytes) * max(n, 1)))
    rows = []
    with Progress(len(blocks) * repeats, desc, "shuffle", enabled=progress) as bar:
        for col, idx in blocks.items():
            # The same draws in the same order as one shuffle at a time: results do not depend on batching.
            perms = [rng.permutation(n) for _ in range(repeats)]
            preds: list[np.ndarray] = []
            for start in range(0, repeats, per_call):
                chunk = perms[start : start + per_call]
                Xp = np.tile(X, (len(chunk), 1))
                # The block moves as one: a film gets another film's whole genre set, value and missing flag.
                Xp[:, idx] = np.concatenate([X[perm][:, idx] for perm in chunk])
                preds += np.split(np.asarray(predict(Xp)), len(chunk))
                bar.update(len(chunk))
            drops = {m: [base[m] - fns[m](y, pred) for pred in preds] for m in PERMUTATION_METRICS}
            row: dict[str, Any] = {"column": col, "features": len(idx), "repeats": repeats, "films": n}
            for m in PERMUTATION_METRICS:
                row[f"{m}_baseline"] = base[m]
                row[f"{m}_drop_mean"] = float(np.mean(drops[m]))
                row[f"{m}_drop_std"] = float(np.std(drops[m], ddof=1)) if repeats > 1 else 0.0
            rows.append(row)
    return rows


def fusion_permutation(
    p: RevenuePredictor, te_inputs: FilmInputs, y_test: np.ndarray, cfg: Config, progress: bool = False
) -> list[dict]:
    """Permutation importance of each metadata column for a fusion model that has the tabular modality.

    Above eval.permutation_max_films test films it runs on a seeded sample of them.
    """
    keep = sample_films(len(te_inputs), cfg.eval.permutation_max_films, cfg.split.seed)
    if len(keep) < len(te_inputs):
        te_inputs, y_test = te_inputs.subset(keep), y_test[keep]
    j = te_inputs.modalities.index("tabular")
    X = te_inputs.arrays["tabular"]
    n = len(X)

    def predict(Xp: np.ndarray) -> np.ndarray:
        x = te_inputs if len(Xp) == n else te_inputs.subset(np.arange(len(Xp)) % n)
        x = copy.copy(x)
        x.arrays = {**x.arrays, "tabular": Xp}
        # A shuffled-in value can give a film without metadata some (and the reverse): the mask follows.
        x.mask = x.mask.copy()
        x.mask[:, j] = tabular_presence(p.tabular_, Xp)
        return p.decide(p.proba(x))

    per_film = sum(a[:1].nbytes for a in te_inputs.arrays.values())
    return permutation_importance(
        predict,
        X,
        y_test,
        column_blocks(p.tabular_),
        cfg.eval.permutation_repeats,
        cfg.split.seed,
        bytes_per_film=per_film,
        progress=progress,
        desc=f"permutation importance ({n} test films)",
    )


def gbt_permutation(
    gbt: GBTBaseline, X: np.ndarray, y_test: np.ndarray, cfg: Config, progress: bool = False
) -> list[dict]:
    """Permutation importance of each metadata column for the plain trees (sampled like the fusion's)."""
    keep = sample_films(len(X), cfg.eval.permutation_max_films, cfg.split.seed)

    def predict(Xp: np.ndarray) -> np.ndarray:
        with openmp_threads_for(len(Xp), cfg.ensemble):
            return gbt.predict(Xp)

    return permutation_importance(
        predict,
        X[keep],
        y_test[keep],
        column_blocks(gbt.encoder),
        cfg.eval.permutation_repeats,
        cfg.split.seed,
        progress=progress,
        desc=f"permutation importance, plain trees ({len(keep)} test films)",
    )

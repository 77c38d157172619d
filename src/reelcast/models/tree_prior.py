"""The source table's trees as a prior for the target table's trees (`reelcast train --init`).

The source model's `gbm_regressor` predicts log(1 + revenue $M), a quantity both tables share, unlike
its classes (cut at the source table's own edges). With --init, that prediction for every target film
becomes one more tree feature, `prior:source_log_revenue`, and the target's trees learn how far to
trust it from the target's own training films. The source boosters read the source's feature layout,
so each target film is re-expressed in it: features the two tables share by name (numeric ones moved
from the target's standardisation to the source's), the source's text stack on the target's plot
vectors when both used the same text model, NaN (LightGBM's missing branch) for everything else.

A prior feature rather than LightGBM `init_model` continuation: continuation needs both boosters to
read the same columns, which two tables with different vocabularies never do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import reelcast.checkpoint as checkpoint
from reelcast.models.booster import Booster
from reelcast.models.gbm import predict_mean
from reelcast.models.stacking import TextStack

PRIOR_FEATURE = "prior:source_log_revenue"
TEXT_STACK_FEATURE = "text:ridge_log_revenue"
BACKGROUND_ROWS = 32  # source training films averaged over for the columns the target lacks
CHUNK = 256  # target films per prediction batch (x BACKGROUND_ROWS rows)


def sample_rows(X: np.ndarray, rows: np.ndarray, seed: int, k: int = BACKGROUND_ROWS) -> np.ndarray:
    """Up to k of the given rows of X, seeded."""
    pick = np.random.default_rng(seed).choice(rows, size=min(k, len(rows)), replace=False)
    return np.asarray(X[np.sort(pick)], dtype=np.float64)


def rows_to_json(X: np.ndarray | None) -> list | None:
    """Rows for the checkpoint, NaN written as null."""
    return None if X is None else [[None if np.isnan(v) else float(v) for v in r] for r in X]


def rows_from_json(rows: list | None) -> np.ndarray | None:
    """Rows from the checkpoint (null: NaN); None for a model saved without them."""
    return None if rows is None else np.array([[np.nan if v is None else v for v in r] for r in rows], float)


@dataclass
class TreePrior:
    """The source regressor's boosters and how the target's tree features map onto their columns."""

    source: str
    boosters: list[str]
    source_features: int  # width of the source's tree matrix
    # Per shared metadata feature: (target column, source column, scale, shift), v_src = v * scale + shift.
    columns: list[tuple[int, int, float, float]] = field(default_factory=list)
    text_stack: TextStack | None = None
    text_column: int = -1  # the source's text-stack column (-1: none, or another text model)
    # Source training films' rows: a column the target cannot fill is averaged over their values rather
    # than left NaN, whose branch the source trees learned from its own films lacking that value.
    background: np.ndarray | None = None
    _models: list = field(default_factory=list, repr=False)

    def source_matrix(self, tab: np.ndarray, text: np.ndarray | None) -> np.ndarray:
        """The target films in the source trees' layout: shared features moved over, the rest NaN."""
        X = np.full((len(tab), self.source_features), np.nan)
        for t, s, scale, shift in self.columns:
            X[:, s] = tab[:, t] * scale + shift
        if self.text_stack is not None and self.text_column >= 0 and text is not None:
            seen = np.isfinite(text).all(axis=1)
            X[seen, self.text_column] = self.text_stack.predict(text[seen])
        return X

    def _raw(self, X: np.ndarray) -> np.ndarray:
        return predict_mean(self._models, X)

    def predict(self, tab: np.ndarray, text: np.ndarray | None) -> np.ndarray:
        """The source regressor's log(1 + revenue $M) for these films."""
        if not self._models:
            self._models = [Booster(s) for s in self.boosters]
        X = self.source_matrix(tab, text)
        filled = {s for _, s, _, _ in self.columns} | ({self.text_column} if self.text_column >= 0 else set())
        absent = np.array(sorted(set(range(self.source_features)) - filled), dtype=np.int64)
        if self.background is None or not absent.size or not len(X):
            return self._raw(X)
        bg, out = self.background, np.empty(len(X))
        for at in range(0, len(X), CHUNK):
            part = np.repeat(X[at : at + CHUNK], len(bg), axis=0)
            part[:, absent] = np.tile(bg[:, absent], (len(part) // len(bg), 1))
            out[at : at + CHUNK] = self._raw(part).reshape(-1, len(bg)).mean(1)
        return out

    def to_dict(self) -> dict:
        """For the checkpoint (the source boosters travel with the model that uses them)."""
        return {
            "source": self.source,
            "boosters": self.boosters,
            "source_features": self.source_features,
            "columns": [list(c) for c in self.columns],
            "text_stack": self.text_stack.to_dict() if self.text_stack else None,
            "text_column": self.text_column,
            "background": rows_to_json(self.background),
        }

    @classmethod
    def from_dict(cls, d: dict) -> TreePrior:
        """Rebuild from a checkpoint."""
        return cls(
            source=d["source"],
            boosters=list(d["boosters"]),
            source_features=int(d["source_features"]),
            columns=[(int(t), int(s), float(a), float(b)) for t, s, a, b in d["columns"]],
            text_stack=TextStack.from_dict(d["text_stack"]) if d.get("text_stack") else None,
            text_column=int(d["text_column"]),
            background=rows_from_json(d.get("background")),
        )


def _standardisation(tabular: dict | None) -> tuple[dict, dict]:
    return dict((tabular or {}).get("means") or {}), dict((tabular or {}).get("scales") or {})


def load_tree_prior(
    path: str | Path, feature_names: list[str], tabular: dict | None, text_encoder: str | None
) -> TreePrior | None:
    """The prior from a saved model's `gbm_regressor` for a target with these tree features (None: no trees).

    `tabular` is the target's metadata encoder (`TabularEncoder.to_dict()`): its means and scales undo the
    target's standardisation of a numeric feature before the source's is applied.
    """
    state = checkpoint.read(path)
    trees = [c["state"] for c in state["ensemble"]["components"] if c["name"] == "gbm_regressor"]
    if not trees:
        return None
    src_names = list(trees[0]["features"]["feature_names"])
    src_means, src_scales = _standardisation((state.get("inputs") or {}).get("tabular"))
    tgt_means, tgt_scales = _standardisation(tabular)
    where = {n: i for i, n in enumerate(src_names)}
    columns = []
    for t, name in enumerate(feature_names):
        s = where.get(name)
        if s is None or name.startswith(("text:", "external:", "prior:")):
            continue
        scale, shift = 1.0, 0.0
        if name in src_means and name in tgt_means:  # raw = v * sd_t + mu_t; v_src = (raw - mu_s) / sd_s
            scale = tgt_scales[name] / src_scales[name]
            shift = (tgt_means[name] - src_means[name]) / src_scales[name]
        columns.append((t, s, scale, shift))
    stack_state = trees[0]["features"].get("text_stack")
    stack = TextStack.from_dict(stack_state) if stack_state else None
    if stack is not None and (state.get("encoder_ids") or {}).get("text") != text_encoder:
        stack = None  # another text model: its ridge reads vectors of another space
    return TreePrior(
        source=str(checkpoint.checkpoint_path(path)),
        boosters=list(trees[0]["model"]["boosters"]),
        source_features=len(src_names),
        columns=columns,
        text_stack=stack,
        text_column=where.get(TEXT_STACK_FEATURE, -1) if stack is not None else -1,
        background=rows_from_json(trees[0]["features"].get("background")),
    )

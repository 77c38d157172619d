"""The plain gradient-boosted baseline of the ablation: scikit-learn trees on the metadata alone.

It stays scikit-learn's HistGradientBoostingClassifier (what a reader can reproduce with scikit-learn
alone, and what earlier reports measured) rather than the LightGBM of the model's own tree components,
which the ablation already reports one by one; both follow the same class-balancing and
early-stopping rules, `balanced_weights` and `scorable_validation` of models.gbm.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from reelcast.config import TabularConfig
from reelcast.data.classes import NUM_CLASSES
from reelcast.data.splits import Split
from reelcast.data.table import FilmTable
from reelcast.features.tabular import TabularEncoder
from reelcast.models.gbm import balanced_weights, scorable_validation

# Gradient-boosted trees on the metadata. Early stopping watches the class-weighted log-loss of the
# split's own validation films (never the test films), with up to GBT_MAX_ITER boosting rounds.
GBT_MAX_ITER = 500
GBT_PARAMS: dict[str, Any] = {
    "learning_rate": 0.05,
    "max_leaf_nodes": 15,
    "l2_regularization": 1.0,
    "early_stopping": True,
    "scoring": "loss",
    "n_iter_no_change": 20,
}
# Without usable validation films there is nothing to stop on: a fixed, modest number of rounds.
GBT_FIXED_ITER = 100


@dataclass
class GBTBaseline:
    """Gradient-boosted trees on TabularEncoder features, fit on the training films of one split."""

    encoder: TabularEncoder
    model: HistGradientBoostingClassifier
    stopping: str
    seconds: float

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, 8) probabilities; classes absent from the training films get 0."""
        out = np.zeros((len(X), NUM_CLASSES))
        out[:, self.model.classes_] = self.model.predict_proba(X)
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class per row."""
        return self.predict_proba(X).argmax(1)


def fit_gbt(
    table: FilmTable,
    split: Split,
    y: np.ndarray,
    columns: list[str],
    seed: int,
    settings: TabularConfig | None = None,
    encoder: TabularEncoder | None = None,
) -> GBTBaseline:
    """HistGradientBoostingClassifier, class-balanced, early-stopped on the validation films' log-loss.

    encoder: a TabularEncoder already fit on this split's training films with these columns (reused).
    """
    t0 = time.perf_counter()
    enc = encoder or TabularEncoder(columns, settings=settings or TabularConfig()).fit(
        table.df.iloc[split.train]
    )
    X, _ = enc.transform(table.df)
    tr = split.train
    va = split.val[scorable_validation(y[tr], y[split.val])]
    fit_kw: dict[str, Any] = {"sample_weight": balanced_weights(y[tr])}
    if len(va):
        model = HistGradientBoostingClassifier(max_iter=GBT_MAX_ITER, random_state=seed, **GBT_PARAMS)
        fit_kw.update(X_val=X[va], y_val=y[va], sample_weight_val=balanced_weights(y[va]))
    else:
        model = HistGradientBoostingClassifier(
            max_iter=GBT_FIXED_ITER, random_state=seed, **{**GBT_PARAMS, "early_stopping": False}
        )
    model.fit(X[tr], y[tr], **fit_kw)
    if len(va):
        stopping = (
            f"early stopping on the class-weighted log-loss of {len(va)} validation films: "
            f"{model.n_iter_} of at most {GBT_MAX_ITER} rounds"
        )
    else:
        stopping = f"no usable validation films: fixed {model.n_iter_} rounds"
    return GBTBaseline(enc, model, stopping, time.perf_counter() - t0)

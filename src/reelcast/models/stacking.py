"""The plot text as one stacked feature for the trees: a ridge prediction of log revenue.

A 384- or 768-wide text vector is too wide and too weak for trees on a few thousand films, so a ridge
regression condenses it to one number. On the training films that number is out-of-fold (each film's
value comes from a ridge fit without it), so the trees never learn from a feature that saw its target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TextStack:
    """Ridge of log(1 + revenue $M) on standardised text vectors."""

    alpha: float = 10.0
    folds: int = 5
    mean: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)
    coef: list[float] = field(default_factory=list)
    intercept: float = 0.0

    def _z(self, T: np.ndarray) -> np.ndarray:
        return (np.asarray(T, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)

    def fit_oof(self, T: np.ndarray, log_rev: np.ndarray, seed: int) -> np.ndarray:
        """Fit on all rows given; return out-of-fold predictions for those same rows."""
        from sklearn.linear_model import Ridge  # fitting only: a loaded model predicts with numpy
        from sklearn.model_selection import KFold

        T = np.asarray(T, dtype=np.float64)
        self.mean = T.mean(0).tolist()
        sd = T.std(0)
        self.scale = np.where(sd > 0, sd, 1.0).tolist()
        Z = self._z(T)
        oof = np.zeros(len(T))
        k = min(self.folds, len(T))
        if k >= 2:
            for a, b in KFold(k, shuffle=True, random_state=seed).split(Z):
                oof[b] = Ridge(alpha=self.alpha).fit(Z[a], log_rev[a]).predict(Z[b])
        full = Ridge(alpha=self.alpha).fit(Z, log_rev)
        self.coef, self.intercept = full.coef_.tolist(), float(full.intercept_)
        return oof if k >= 2 else full.predict(Z)

    def predict(self, T: np.ndarray) -> np.ndarray:
        """Predicted log revenue for films the ridge did not train on."""
        # A row-wise sum, not a matrix product: BLAS may pick another kernel for another row count, and
        # a served film's answer must not depend on the films batched with it.
        return (self._z(T) * np.asarray(self.coef)).sum(axis=1) + self.intercept

    def to_dict(self) -> dict:
        """For the checkpoint."""
        return {k: getattr(self, k) for k in ("alpha", "folds", "mean", "scale", "coef", "intercept")}

    @classmethod
    def from_dict(cls, d: dict) -> TextStack:
        """Rebuild from a checkpoint."""
        return cls(**d)

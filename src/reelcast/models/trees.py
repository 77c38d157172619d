"""Gradient-boosted trees over the pre-release metadata (and stacked text), as model components.

Two LightGBM components sit beside the fusion network in a saved model:

- `gbm_classifier`: 8-class trees, class-balanced, early-stopped on the validation films.
- `gbm_regressor`: trees on log(1 + revenue in $M). Its point prediction becomes class probabilities
  through a normal error model whose spread is the residual scale on the validation films, so the
  regression speaks the same (N, 8) language as the classifiers and respects the order of the classes.

Each is an average over several seeds (bagging differs per seed). Boosters are kept as LightGBM's own
text format inside the checkpoint: loading a model never unpickles anything.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import norm

from reelcast.config import EnsembleConfig
from reelcast.data.classes import NUM_CLASSES

log = logging.getLogger(__name__)


def _lgb():
    try:
        import lightgbm
    except ImportError as e:  # a dependency of the package, so this means a broken environment
        raise RuntimeError("the tree components need lightgbm: pip install lightgbm") from e
    return lightgbm


def _params(cfg: EnsembleConfig, seed: int, objective: str, **extra) -> dict:
    return {
        "objective": objective,
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_data_in_leaf": cfg.min_child_samples,
        "feature_fraction": cfg.colsample,
        "bagging_fraction": cfg.subsample,
        "bagging_freq": 1,
        "lambda_l2": cfg.reg_lambda,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": cfg.threads or 0,
        "verbosity": -1,
        **extra,
    }


def _train(cfg: EnsembleConfig, params: dict, X, y, w, Xv, yv, wv):
    """One booster, early-stopped on the validation films (fixed rounds when there are none)."""
    lgb = _lgb()
    train = lgb.Dataset(X, y, weight=w, free_raw_data=False)
    if Xv is not None and len(Xv):
        valid = lgb.Dataset(Xv, yv, weight=wv, reference=train)
        return lgb.train(
            params,
            train,
            num_boost_round=cfg.max_rounds,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)],
        )
    return lgb.train(params, train, num_boost_round=cfg.fixed_rounds)


def _balanced_weights(y: np.ndarray) -> np.ndarray:
    counts = np.bincount(y, minlength=NUM_CLASSES).astype(np.float64)
    present = counts > 0
    per_class = np.zeros(NUM_CLASSES)
    per_class[present] = counts.sum() / (present.sum() * counts[present])
    return per_class[y]


@dataclass
class GBMClassifier:
    """Class-balanced multiclass LightGBM averaged over seeds."""

    boosters: list[str] = field(default_factory=list)  # LightGBM model text, one per seed
    rounds: list[int] = field(default_factory=list)
    seconds: float = 0.0
    _models: list = field(default_factory=list, repr=False)

    name = "gbm_classifier"

    def fit(self, X, y, Xv, yv, cfg: EnsembleConfig, seed: int) -> GBMClassifier:
        """Fit one booster per seed on the training films, early-stopped on the validation films."""
        t0 = time.perf_counter()
        # Validation films of a class no training film has cannot be scored; leave them out of stopping.
        keep = np.isin(yv, np.unique(y))
        Xv, yv = Xv[keep], yv[keep]
        for s in range(cfg.seeds):
            params = _params(cfg, seed + s, "multiclass", num_class=NUM_CLASSES)
            b = _train(cfg, params, X, y, _balanced_weights(y), Xv, yv, _balanced_weights(yv))
            self._models.append(b)
            self.boosters.append(b.model_to_string())
            self.rounds.append(int(b.best_iteration or b.current_iteration()))
        self.seconds = time.perf_counter() - t0
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, 8) class probabilities, the mean over seeds."""
        models = self._models or [_lgb().Booster(model_str=s) for s in self.boosters]
        self._models = models
        return np.mean([m.predict(X, num_iteration=m.best_iteration or None) for m in models], axis=0)

    def to_dict(self) -> dict:
        """For the checkpoint (plain strings and numbers)."""
        return {"boosters": self.boosters, "rounds": self.rounds}

    @classmethod
    def from_dict(cls, d: dict) -> GBMClassifier:
        """Rebuild from a checkpoint."""
        return cls(boosters=list(d["boosters"]), rounds=list(d["rounds"]))


@dataclass
class GBMRegressor:
    """LightGBM on log(1 + revenue $M), averaged over seeds, turned into class probabilities."""

    boosters: list[str] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)
    sigma: float = 1.0  # residual scale on the validation films, log units
    seconds: float = 0.0
    _models: list = field(default_factory=list, repr=False)

    name = "gbm_regressor"

    def fit(self, X, log_rev, Xv, log_rev_v, cfg: EnsembleConfig, seed: int) -> GBMRegressor:
        """Fit one booster per seed; the error scale comes from the validation residuals."""
        t0 = time.perf_counter()
        for s in range(cfg.seeds):
            params = _params(cfg, seed + s, "huber", alpha=1.0)
            b = _train(cfg, params, X, log_rev, None, Xv, log_rev_v, None)
            self._models.append(b)
            self.boosters.append(b.model_to_string())
            self.rounds.append(int(b.best_iteration or b.current_iteration()))
        if Xv is not None and len(Xv) > 1:
            self.sigma = float(max(np.std(log_rev_v - self.predict_log_revenue(Xv)), 1e-3))
        else:  # no validation films: the training residuals understate the error, but it is all there is
            self.sigma = float(max(np.std(log_rev - self.predict_log_revenue(X)), 1e-3))
        self.seconds = time.perf_counter() - t0
        return self

    def predict_log_revenue(self, X: np.ndarray) -> np.ndarray:
        """Predicted log(1 + revenue $M), the mean over seeds."""
        models = self._models or [_lgb().Booster(model_str=s) for s in self.boosters]
        self._models = models
        return np.mean([m.predict(X, num_iteration=m.best_iteration or None) for m in models], axis=0)

    def predict_proba(self, X: np.ndarray, thresholds_musd: np.ndarray) -> np.ndarray:
        """(N, 8): the mass of N(prediction, sigma) between consecutive log class edges."""
        return gaussian_class_probs(self.predict_log_revenue(X), self.sigma, thresholds_musd)

    def to_dict(self) -> dict:
        """For the checkpoint."""
        return {"boosters": self.boosters, "rounds": self.rounds, "sigma": self.sigma}

    @classmethod
    def from_dict(cls, d: dict) -> GBMRegressor:
        """Rebuild from a checkpoint."""
        return cls(boosters=list(d["boosters"]), rounds=list(d["rounds"]), sigma=float(d["sigma"]))


def gaussian_class_probs(mu: np.ndarray, sigma: float, thresholds_musd: np.ndarray) -> np.ndarray:
    """Class probabilities of a normal log-revenue prediction, cut at log(1 + edge)."""
    edges = np.concatenate([[-np.inf], np.log1p(np.asarray(thresholds_musd, dtype=np.float64)), [np.inf]])
    cdf = norm.cdf((edges[None, :] - np.asarray(mu, dtype=np.float64)[:, None]) / sigma)
    p = np.diff(cdf, axis=1)
    p = np.clip(p, 1e-9, None)
    return p / p.sum(1, keepdims=True)

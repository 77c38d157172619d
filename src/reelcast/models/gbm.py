"""LightGBM models on feature arrays, and the rules every gradient-boosted model here trains by.

- `GBMClassifier`: 8-class trees, class-balanced, early-stopped on the validation films.
- `GBMRegressor`: trees on log(1 + revenue in $M). Its point prediction becomes class probabilities
  through a normal error model whose spread is the residual scale on the validation films
  (`gaussian_class_probs`), so the regression speaks the same (N, 8) language as the classifiers.

Each is an average over several seeds (bagging differs per seed). Boosters are kept as LightGBM's own
text format: loading a model never unpickles anything. A few rows at a time (a served film and its
masked copies) are answered from the rows scored last where they repeat (models.row_memo).

`round_budget` sizes the boosting to the data; `balanced_weights` and `scorable_validation` are the
class-balancing and early-stopping rules every gradient-boosted classifier here follows, the plain
baseline of models/baselines.py included; `openmp_threads_for` puts other OpenMP tree libraries under
the same one-thread rule on small data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr  # the normal CDF, without importing all of scipy.stats

from reelcast.config import EnsembleConfig
from reelcast.data.classes import NUM_CLASSES
from reelcast.models.booster import Booster
from reelcast.models.row_memo import RowMemo
from reelcast.progress import Progress


def _lgb():
    try:
        import lightgbm
    except ImportError as e:  # a dependency of the package, so this means a broken environment
        raise RuntimeError("the tree components need lightgbm: pip install lightgbm") from e
    return lightgbm


def _threads(cfg: EnsembleConfig, films: int) -> int:
    # OpenMP threads on small data only wait on each other, badly so beside torch's on a busy machine.
    return cfg.threads or (1 if films < cfg.parallel_films else 0)


@contextmanager
def openmp_threads_for(films: int, cfg: EnsembleConfig | None = None) -> Iterator[None]:
    """Other OpenMP tree libraries (scikit-learn's) under the same rule: one thread on small data."""
    if _threads(cfg or EnsembleConfig(), films) != 1:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def predict_mean(models: list[Booster], X: np.ndarray) -> np.ndarray:
    """The mean prediction over seeds (threads by the default rule: saved boosters keep no config)."""
    threads = _threads(EnsembleConfig(), len(X))
    return np.mean([m.predict(X, threads=threads) for m in models], axis=0)


def _loaded(model: GBMClassifier | GBMRegressor) -> list[Booster]:
    """The model's boosters, parsed from their text on first use."""
    if not model._models:
        model._models = [Booster(s) for s in model.boosters]
    return model._models


def _mean_prediction(model: GBMClassifier | GBMRegressor, X: np.ndarray) -> np.ndarray:
    """The mean over seeds of X's predictions; rows the model scored lately come from its memo."""
    return model._memo.predict(X, lambda rows: predict_mean(_loaded(model), rows))


def _shap(model: GBMClassifier | GBMRegressor, X: np.ndarray) -> list[np.ndarray]:
    """Exact TreeSHAP per seed (LightGBM's pred_contrib): raw-score contributions, the bias last."""
    return [m.predict(X, contrib=True) for m in _loaded(model)]


def _keep(model: GBMClassifier | GBMRegressor, booster, bar: Progress | None) -> None:
    """Add one seed's fitted booster to a model (its text up to its best round, and that round); tick
    the bar. The model scores with the saved text, as it will once loaded."""
    model.boosters.append(booster.model_to_string())
    model._models.append(Booster(model.boosters[-1]))
    model.rounds.append(int(booster.best_iteration or booster.current_iteration()))
    if bar is not None:
        bar.update()


def booster_params(cfg: EnsembleConfig, seed: int, objective: str, n_train: int, **extra) -> dict:
    """LightGBM parameters of one booster: the ensemble settings, its seed, objective and threads."""
    threads = _threads(cfg, n_train)
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
        "max_bin": cfg.max_bin,
        "num_threads": threads,
        "verbosity": -1,
        **extra,
    }


def round_budget(cfg: EnsembleConfig, n_train: int) -> tuple[int, int]:
    """(most boosting rounds, early-stopping patience) for n training films.

    Trees on a few hundred films are done after a few hundred rounds; letting them run to max_rounds
    with a patience of 100 spends most of the time past the best round. So the cap grows with the
    films, max(min_rounds, rounds_per_film x n) up to max_rounds, and the patience is a twentieth of
    the cap, between 20 and early_stopping_rounds.
    """
    cap = int(min(cfg.max_rounds, max(cfg.min_rounds, round(cfg.rounds_per_film * n_train))))
    patience = int(min(cfg.early_stopping_rounds, max(20, cap // 20)))
    return cap, patience


def _train(cfg: EnsembleConfig, params: dict, X, y, w, Xv, yv, wv, bar: Progress | None = None):
    """One booster, early-stopped on the validation films (fixed rounds when there are none)."""
    lgb = _lgb()
    train = lgb.Dataset(X, y, weight=w, free_raw_data=False)
    cap, patience = round_budget(cfg, len(X))
    # A long booster keeps the log alive: the stage's heartbeat, checked after every round.
    alive = [lambda env: bar.heartbeat(f"round {env.iteration + 1}")] if bar is not None else []
    if Xv is not None and len(Xv):
        valid = lgb.Dataset(Xv, yv, weight=wv, reference=train)
        stop = lgb.early_stopping(patience, verbose=False, min_delta=cfg.early_stopping_min_delta)
        return lgb.train(params, train, num_boost_round=cap, valid_sets=[valid], callbacks=[stop, *alive])
    return lgb.train(params, train, num_boost_round=min(cfg.fixed_rounds, cap), callbacks=alive)


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Per-film weights n / (K * count of its class), K the classes present: every class weighs the same."""
    counts = np.bincount(y, minlength=NUM_CLASSES).astype(np.float64)
    present = counts > 0
    per_class = np.zeros(NUM_CLASSES)
    per_class[present] = counts.sum() / (present.sum() * counts[present])
    return per_class[y]


def scorable_validation(y_train: np.ndarray, y_val: np.ndarray) -> np.ndarray:
    """Which validation films early stopping may score: a class no training film has cannot be."""
    return np.isin(y_val, np.unique(y_train))


@dataclass
class GBMClassifier:
    """Class-balanced multiclass LightGBM averaged over seeds."""

    boosters: list[str] = field(default_factory=list)  # LightGBM model text, one per seed
    rounds: list[int] = field(default_factory=list)
    seconds: float = 0.0
    _models: list = field(default_factory=list, repr=False)
    _memo: RowMemo = field(default_factory=RowMemo, repr=False)

    def fit(self, X, y, Xv, yv, cfg: EnsembleConfig, seed: int, bar: Progress | None = None) -> GBMClassifier:
        """Fit one booster per seed on the training films, early-stopped on the validation films."""
        t0 = time.perf_counter()
        keep = scorable_validation(y, yv)
        Xv, yv = Xv[keep], yv[keep]
        for s in range(cfg.seeds):
            params = booster_params(cfg, seed + s, "multiclass", len(X), num_class=NUM_CLASSES)
            b = _train(cfg, params, X, y, balanced_weights(y), Xv, yv, balanced_weights(yv), bar)
            _keep(self, b, bar)
        self.seconds = time.perf_counter() - t0
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, 8) class probabilities, the mean over seeds."""
        return _mean_prediction(self, X)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Exact TreeSHAP per seed: (seeds, N, 8, F + 1) raw-score contributions, the bias last."""
        return np.stack([c.reshape(len(X), NUM_CLASSES, -1) for c in _shap(self, X)])

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
    _memo: RowMemo = field(default_factory=RowMemo, repr=False)

    def fit(
        self, X, log_rev, Xv, log_rev_v, cfg: EnsembleConfig, seed: int, bar: Progress | None = None
    ) -> GBMRegressor:
        """Fit one booster per seed; the error scale comes from the validation residuals."""
        t0 = time.perf_counter()
        for s in range(cfg.seeds):
            params = booster_params(cfg, seed + s, "huber", len(X), alpha=1.0)
            _keep(self, _train(cfg, params, X, log_rev, None, Xv, log_rev_v, None, bar), bar)
        if Xv is not None and len(Xv) > 1:
            self.sigma = float(max(np.std(log_rev_v - self.predict_log_revenue(Xv)), 1e-3))
        else:  # no validation films: the training residuals understate the error, but it is all there is
            self.sigma = float(max(np.std(log_rev - self.predict_log_revenue(X)), 1e-3))
        self.seconds = time.perf_counter() - t0
        return self

    def predict_log_revenue(self, X: np.ndarray) -> np.ndarray:
        """Predicted log(1 + revenue $M), the mean over seeds."""
        return _mean_prediction(self, X)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Exact TreeSHAP of the log revenue, mean over seeds: (N, F + 1), the bias last."""
        return np.mean(_shap(self, X), axis=0)

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
    cdf = ndtr((edges[None, :] - np.asarray(mu, dtype=np.float64)[:, None]) / sigma)
    p = np.diff(cdf, axis=1)
    p = np.clip(p, 1e-9, None)
    return p / p.sum(1, keepdims=True)

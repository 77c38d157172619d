"""The fits of benchmarks/intervals.py and benchmarks/attributions.py on one split, cached on disk.

Every fit returns (arrays, info) for accuracy_fits.cached. Ranges are kept in log(1 + revenue $M), as
`<method>.median` and `<method>.<level>.lo` / `.hi` for the test films; `as_range` turns them into the
RevenueRange that evaluation.coverage scores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from accuracy_fits import ag_frame, run_autogluon_script

from reelcast.config import Config
from reelcast.data.splits import Split
from reelcast.features.tabular import TabularEncoder
from reelcast.models.explain import input_effects
from reelcast.models.gbm import GBMRegressor
from reelcast.models.intervals import LEVELS, RevenueIntervals, RevenueRange, conformal_quantile, level_key
from reelcast.predictor import RevenuePredictor

Arrays = dict[str, np.ndarray]
AG_QUANTILE_SCRIPT = Path(__file__).resolve().parent / "peers" / "autogluon_quantile.py"
KEYS = [level_key(x) for x in LEVELS]


def _put(out: Arrays, method: str, median: np.ndarray, bounds: dict) -> None:
    out[f"{method}.median"] = np.asarray(median, dtype=np.float64)
    for key, (lo, hi) in bounds.items():
        out[f"{method}.{key}.lo"], out[f"{method}.{key}.hi"] = np.asarray(lo), np.asarray(hi)


def methods(arrays: Arrays) -> list[str]:
    """The methods whose ranges the arrays hold, in the order they were stored."""
    return list(dict.fromkeys(k.rsplit(".", 1)[0] for k in arrays if k.endswith(".median")))


def as_range(arrays: Arrays, method: str) -> RevenueRange:
    """A method's stored test ranges (log units) as $M."""

    def musd(x):
        return np.clip(np.expm1(x), 0.0, None)

    bounds = {k: (musd(arrays[f"{method}.{k}.lo"]), musd(arrays[f"{method}.{k}.hi"])) for k in KEYS}
    return RevenueRange(musd(arrays[f"{method}.median"]), bounds)


def symmetric_log_range(mu: np.ndarray, residuals: np.ndarray) -> tuple[np.ndarray, dict]:
    """The textbook split-conformal interval: prediction +/- the conformal quantile of |residual|."""
    bounds = {}
    for level in LEVELS:
        q = conformal_quantile(np.abs(residuals), level)
        bounds[level_key(level)] = (mu - q, mu + q)
    return mu, bounds


def fit_reelcast(cfg: Config, table, inputs, split: Split, attributions: bool = True) -> tuple[Arrays, dict]:
    """RevenuePredictor on the split: its signed conformal range (the default) and cqr, the regressor's
    validation and test predictions and features, and (attributions) every test film's per-input effects."""
    p = RevenuePredictor(cfg, progress=False).fit(table, split, inputs)
    comps = p.components_.components
    shaped = p.shape_inputs(inputs, table.df)
    val, test = shaped.subset(split.val), shaped.subset(split.test)
    log_rev = np.log1p(np.clip(p.label_revenue(table.df), 0, None))
    reg = comps["gbm_regressor"]
    mu_val, mu_test = reg.predict_log_revenue(val), reg.predict_log_revenue(test)
    out: Arrays = {"y_test": log_rev[split.test], "y_val": log_rev[split.val], "mu_val": mu_val}
    out["mu_test"] = mu_test
    signed = RevenueIntervals.fit_conformal(mu_val, log_rev[split.val], "gbm_regressor")
    _put(out, "reelcast", *signed.log_range(mu_test))
    if p.intervals_ is not None and p.intervals_.method == "cqr":
        _put(out, "reelcast cqr", *p.intervals_.log_range(None, reg.features.transform(test)))
    out["X_val"], out["X_test"] = reg.features.transform(val), reg.features.transform(test)
    if attributions:
        for name, e in input_effects(p.components_, test, p.tabular_).items():
            out[f"attr.{name}"] = np.asarray(e, dtype=np.float64)
    info = {
        "sizes": split.sizes(),
        "rounds": list(reg.model.rounds),
        "blend": {k: float(v) for k, v in p.components_.weights().items()},
        "features": list(reg.features.feature_names),
    }
    return out, info


def fit_plain_gbm(
    cfg: Config, table, split: Split, columns: list[str], log_rev: np.ndarray
) -> tuple[Arrays, dict]:
    """The plain GBM's conformal interval: reelcast's LightGBM log-revenue regressor on the encoded
    columns of the plain GBM baseline (no plot, no text stack), +/- the |residual| conformal quantile."""
    enc = TabularEncoder(columns, settings=cfg.tabular).fit(table.df.iloc[split.train])
    X, _ = enc.transform(table.df)
    tr, va, te = split.train, split.val, split.test
    reg = GBMRegressor().fit(X[tr], log_rev[tr], X[va], log_rev[va], cfg.ensemble, cfg.train.seed)
    mu_val, mu_test = reg.predict_log_revenue(X[va]), reg.predict_log_revenue(X[te])
    out: Arrays = {}
    _put(out, "plain GBM", *symmetric_log_range(mu_test, log_rev[va] - mu_val))
    return out, {"columns": columns, "features": len(enc.feature_names), "rounds": list(reg.rounds)}


def fit_autogluon_quantiles(
    python: str,
    cfg: Config,
    table,
    split: Split,
    columns: list[str],
    log_rev: np.ndarray,
    seconds: int,
    presets: str,
) -> tuple[Arrays, dict]:
    """AutoGluon quantile regression of log(1 + revenue $M) in its own venv, on accuracy.py's columns."""
    frame = ag_frame(table, split, columns, cfg)
    q, meta = run_autogluon_script(
        AG_QUANTILE_SCRIPT,
        python,
        frame,
        log_rev,
        split,
        seconds,
        presets,
        cfg.train.seed,
        lambda tmp: pd.read_csv(tmp / "test_quantiles.csv"),
    )
    qs = {float(c): q[c].to_numpy(dtype=np.float64) for c in q.columns}
    bounds = {}
    for level in LEVELS:
        lo, hi = qs[round((1 - level) / 2, 4)], qs[round((1 + level) / 2, 4)]
        bounds[level_key(level)] = (np.minimum(lo, hi), np.maximum(lo, hi))
    out: Arrays = {}
    _put(out, "AutoGluon quantile", qs[0.5], bounds)
    return out, {**meta, "time_limit": seconds, "columns": [c for c in frame.columns]}


# ---- a candidate with conditional widths: normalized conformal --------------------------------------
SCALE_PARAMS = {
    "objective": "regression",
    "learning_rate": 0.05,
    "num_leaves": 4,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "lambda_l2": 10.0,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "verbosity": -1,
}


def _scale_features(X: np.ndarray, mu: np.ndarray) -> np.ndarray:
    return np.column_stack([mu, X])


def fit_scale(X: np.ndarray, mu: np.ndarray, residuals: np.ndarray, seed: int, rounds: int = 100):
    """A small booster predicting log |residual| from the tree features and the prediction itself."""
    import lightgbm as lgb

    target = np.log(np.abs(residuals) + 0.05)
    b = lgb.train({**SCALE_PARAMS, "seed": seed}, lgb.Dataset(_scale_features(X, mu), target), rounds)
    return lambda X2, mu2: np.exp(b.predict(_scale_features(X2, mu2)))


def normalized_log_range(
    mu_cal: np.ndarray, y_cal: np.ndarray, s_cal: np.ndarray, mu: np.ndarray, s: np.ndarray
) -> tuple[np.ndarray, dict]:
    """Signed split-conformal on residual / scale: each film's range stretched by its own scale."""
    ri = RevenueIntervals.fit_conformal(np.zeros(len(mu_cal)), (y_cal - mu_cal) / s_cal, "scaled")
    median, bounds = ri.log_range(np.zeros(len(mu)))
    return mu + s * median, {k: (mu + s * lo, mu + s * hi) for k, (lo, hi) in bounds.items()}


def normalized_cross_fit(
    X_val: np.ndarray,
    mu_val: np.ndarray,
    y_val: np.ndarray,
    X_test: np.ndarray,
    mu_test: np.ndarray,
    seed: int,
    folds: int = 5,
) -> tuple[np.ndarray, dict]:
    """Normalized conformal on the validation films alone: the scale of each validation film comes from a
    booster fit on the other folds (so its score is honest), the test films' from the mean of those."""
    r = y_val - mu_val
    fold = np.random.default_rng(seed).permutation(len(r)) % folds
    s_val, s_test = np.empty(len(r)), np.zeros(len(mu_test))
    for k in range(folds):
        f = fit_scale(X_val[fold != k], mu_val[fold != k], r[fold != k], seed + k)
        s_val[fold == k] = f(X_val[fold == k], mu_val[fold == k])
        s_test += f(X_test, mu_test) / folds
    return normalized_log_range(mu_val, y_val, s_val, mu_test, s_test)


def derived_ranges(arrays: Arrays, seed: int) -> Arrays:
    """The calibrations built from the cached regressor outputs: abs-residual and normalized conformal."""
    out: Arrays = {}
    mu_val, y_val, mu_test = arrays["mu_val"], arrays["y_val"], arrays["mu_test"]
    _put(out, "reelcast abs-residual", *symmetric_log_range(mu_test, y_val - mu_val))
    norm = normalized_cross_fit(arrays["X_val"], mu_val, y_val, arrays["X_test"], mu_test, seed)
    _put(out, "reelcast normalized", *norm)
    return out


def choose_on_validation(
    arrays: Arrays, seed: int, folds: int = 5
) -> dict[str, dict[str, tuple[float, float]]]:
    """Signed conformal vs normalized conformal judged on the validation films alone: each fold is scored
    by a range calibrated on the other folds. Per method and level: (coverage, median log width)."""
    X, mu, y = arrays["X_val"], arrays["mu_val"], arrays["y_val"]
    fold = np.random.default_rng(seed + 1).permutation(len(y)) % folds
    got: dict[str, dict[str, list]] = {"signed": {k: [] for k in KEYS}, "normalized": {k: [] for k in KEYS}}
    for k in range(folds):
        cal, held = fold != k, fold == k
        signed = RevenueIntervals.fit_conformal(mu[cal], y[cal], "gbm_regressor").log_range(mu[held])[1]
        norm = normalized_cross_fit(X[cal], mu[cal], y[cal], X[held], mu[held], seed)[1]
        for name, bounds in (("signed", signed), ("normalized", norm)):
            for key, (lo, hi) in bounds.items():
                got[name][key].append(np.column_stack([(y[held] >= lo) & (y[held] <= hi), hi - lo]))
    out = {}
    for name, per in got.items():
        out[name] = {}
        for key, parts in per.items():
            a = np.concatenate(parts)
            out[name][key] = (float(a[:, 0].mean()), float(np.median(a[:, 1])))
    return out

"""Revenue in dollars with a calibrated range: median and 50/80/95 % intervals, and P(revenue >= X).

Two calibrations, both fit on the validation films (never the training films, whose residuals are
too small, nor the test films, which score them):

- `conformal`: split-conformal on the signed residuals of the model's log-revenue regressor. Each
  bound is the regressor's prediction plus a finite-sample conformal quantile of the residuals at
  (1 - level) / 2 and (1 + level) / 2, so the range is asymmetric where the errors are (flops fall
  much further than hits rise), and the median is the prediction plus the residuals' median.
- `cqr`: conformalized quantile regression: LightGBM quantile boosters at each bound, widened (or
  narrowed) by the conformal quantile of max(low - y, y - high) on the validation films.

All arithmetic is in log(1 + revenue $M), the scale the regressor learns; bounds go back to dollars
at the end. benchmarks/intervals.py measures both on TMDB-5000 beside the plain GBM's conformal interval
and AutoGluon's quantile regression: `conformal` is the default because it holds every level within 2
points of nominal on the random and the date split, where `cqr` under-covers the date split's 50 %
interval by 8 points (and costs seven more boosters to train). It is not the narrowest everywhere: its
95 % range follows the residuals' long left tail, so its high/low ratio is wider than the peers' there
(docs/results.md).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from reelcast.models.base import FitData
from reelcast.models.booster import Booster
from reelcast.models.gbm import booster_params, predict_mean  # the trees' settings, so cqr matches them
from reelcast.models.trees import TreeFeatures

if TYPE_CHECKING:
    from reelcast.features.featurize import FilmInputs

log = logging.getLogger(__name__)

LEVELS = (0.5, 0.8, 0.95)
METHODS = ("conformal", "cqr")


def level_key(level: float) -> str:
    """'50', '80', '95': how a level names its interval in results and columns."""
    return f"{round(level * 100):d}"


def conformal_quantile(scores: np.ndarray, q: float) -> float:
    """The ceil((n + 1) q)-th smallest score: the split-conformal quantile (the largest when n is short)."""
    s = np.sort(np.asarray(scores, dtype=np.float64))
    if not len(s):
        raise ValueError("conformal calibration needs at least one validation film")
    k = math.ceil((len(s) + 1) * q)
    return float(s[min(max(k, 1), len(s)) - 1])


def lower_conformal_quantile(scores: np.ndarray, q: float) -> float:
    """The mirror image for a lower bound: the floor((n + 1) q)-th smallest (the smallest when n is short)."""
    return -conformal_quantile(-np.asarray(scores, dtype=np.float64), 1 - q)


@dataclass
class RevenueRange:
    """Every film's median and interval bounds in $M, per level, and how the range was calibrated."""

    median_musd: np.ndarray
    bounds_musd: dict[str, tuple[np.ndarray, np.ndarray]]  # "80" -> (low, high)


def _musd(log_rev: np.ndarray) -> np.ndarray:
    return np.clip(np.expm1(log_rev), 0.0, None)


@dataclass
class RevenueIntervals:
    """A calibrated revenue range for any film, fit on validation films, saved with the model."""

    method: str = "conformal"
    source: str = ""  # the head whose log-revenue prediction the conformal range is centred on
    dollars: str = "nominal"
    levels: list[float] = field(default_factory=lambda: list(LEVELS))
    residuals: list[float] = field(default_factory=list)  # conformal: validation y - prediction, sorted
    quantiles: dict[str, list[str]] = field(default_factory=dict)  # cqr: quantile -> booster texts
    margins: dict[str, float] = field(default_factory=dict)  # cqr: widening per level, log units
    calibration_films: int = 0
    features: dict | None = None  # cqr: the tree feature layout its boosters read
    cqr_coverage: dict[str, float] = field(default_factory=dict)  # cqr: share of validation films covered
    _models: dict = field(default_factory=dict, repr=False)

    # ---- fit --------------------------------------------------------------------------------------
    @classmethod
    def fit_conformal(
        cls, pred_val: np.ndarray, log_rev_val: np.ndarray, source: str, dollars: str = "nominal"
    ) -> RevenueIntervals:
        """Split-conformal: keep the validation residuals of the regressor named `source`."""
        r = np.sort(np.asarray(log_rev_val, dtype=np.float64) - np.asarray(pred_val, dtype=np.float64))
        conformal_quantile(r, 0.5)  # refuses an empty calibration set
        return cls(
            "conformal", source, dollars, list(LEVELS), [float(x) for x in r], calibration_films=len(r)
        )

    @classmethod
    def fit_cqr(
        cls,
        X: np.ndarray,
        log_rev: np.ndarray,
        Xv: np.ndarray,
        log_rev_v: np.ndarray,
        params: dict,
        rounds: int,
        dollars: str = "nominal",
    ) -> RevenueIntervals:
        """Conformalized quantile regression: a quantile booster per bound, widened on validation films."""
        import lightgbm as lgb

        self = cls("cqr", "cqr", dollars, list(LEVELS), calibration_films=len(log_rev_v))
        for q in self._taus():
            p = {**params, "objective": "quantile", "alpha": q}
            b = lgb.train(p, lgb.Dataset(X, log_rev), num_boost_round=rounds)
            self.quantiles[f"{q:g}"] = [b.model_to_string()]
        for level in self.levels:
            lo, hi = self._raw(Xv, level)
            scores = np.maximum(lo - log_rev_v, log_rev_v - hi)
            self.margins[level_key(level)] = conformal_quantile(scores, level)
            self.cqr_coverage[level_key(level)] = float(np.mean(scores <= self.margins[level_key(level)]))
        return self

    def _taus(self) -> list[float]:
        return sorted(
            {0.5}
            | {round((1 - a) / 2, 4) for a in self.levels}
            | {round((1 + a) / 2, 4) for a in self.levels}
        )

    def _quantile(self, X: np.ndarray, q: float) -> np.ndarray:
        key = f"{q:g}"
        if key not in self._models:
            self._models[key] = [Booster(s) for s in self.quantiles[key]]
        return predict_mean(self._models[key], X)

    def _raw(self, X: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        lo = self._quantile(X, round((1 - level) / 2, 4))
        hi = self._quantile(X, round((1 + level) / 2, 4))
        return np.minimum(lo, hi), np.maximum(lo, hi)  # quantile boosters can cross

    # ---- predict ----------------------------------------------------------------------------------
    def log_range(self, centre: np.ndarray | None, X: np.ndarray | None = None):
        """(median, {level: (low, high)}) in log(1 + $M): from the regressor's `centre` or cqr's `X`."""
        bounds = {}
        if self.method == "conformal":
            mu = np.asarray(centre, dtype=np.float64)
            r = np.asarray(self.residuals)
            median = mu + conformal_quantile(r, 0.5)
            for level in self.levels:
                lo = lower_conformal_quantile(r, (1 - level) / 2)
                hi = conformal_quantile(r, (1 + level) / 2)
                bounds[level_key(level)] = (mu + lo, mu + hi)
            return median, bounds
        median = self._quantile(X, 0.5)
        for level in self.levels:
            lo, hi = self._raw(X, level)
            m = self.margins[level_key(level)]
            bounds[level_key(level)] = (lo - m, np.maximum(hi + m, lo - m))
        return median, bounds

    def predict(self, centre: np.ndarray | None, X: np.ndarray | None = None) -> RevenueRange:
        """Median and bounds in $M."""
        median, bounds = self.log_range(centre, X)
        return RevenueRange(_musd(median), {k: (_musd(lo), _musd(hi)) for k, (lo, hi) in bounds.items()})

    def p_at_least(
        self, threshold_musd: np.ndarray, centre: np.ndarray | None, X: np.ndarray | None = None
    ) -> np.ndarray:
        """P(revenue >= threshold) per film: the share of validation errors that would reach it."""
        t = np.log1p(np.clip(np.asarray(threshold_musd, dtype=np.float64), 0, None))
        if self.method == "conformal":
            r = np.asarray(self.residuals)
            need = t - np.asarray(centre, dtype=np.float64)  # the residual the film needs
            return 1.0 - np.searchsorted(r, need, side="left") / len(r)
        # cqr: the conformalized quantile function, interpolated between its levels
        median, bounds = self.log_range(None, X)
        taus, cols = [0.5], [median]
        for level in self.levels:
            lo, hi = bounds[level_key(level)]
            taus += [(1 - level) / 2, (1 + level) / 2]
            cols += [lo, hi]
        order = np.argsort(taus)
        taus_s, grid = np.asarray(taus)[order], np.stack(cols, 1)[:, order]
        grid = np.maximum.accumulate(grid, axis=1)
        return np.array([1.0 - np.interp(ti, g, taus_s) for ti, g in zip(t, grid, strict=True)])

    # ---- for films -------------------------------------------------------------------------------
    def _film_args(self, components: dict, inputs: FilmInputs) -> tuple[np.ndarray | None, np.ndarray | None]:
        if self.method == "cqr":
            if "_features" not in self.__dict__:
                self.__dict__["_features"] = TreeFeatures.from_dict(self.features)
            return None, self.__dict__["_features"].transform(inputs)
        source, centre = revenue_centre(components)
        if source != self.source:
            raise ValueError(f"the revenue range is centred on {self.source}, which this model lacks")
        return centre(inputs), None

    def for_films(
        self, components: dict, inputs: FilmInputs, thresholds_musd: np.ndarray | None = None
    ) -> tuple[RevenueRange, np.ndarray | None]:
        """Every film's range and, given per-film thresholds ($M, NaN: none), P(revenue >= threshold)."""
        centre, X = self._film_args(components, inputs)
        rng = self.predict(centre, X)
        if thresholds_musd is None:
            return rng, None
        t = np.asarray(thresholds_musd, dtype=np.float64)
        p = self.p_at_least(np.nan_to_num(t), centre, X)
        return rng, np.where(np.isfinite(t), p, np.nan)

    def validation_coverage(self) -> dict[str, float]:
        """Per level, the share of the calibration (validation) films the range holds."""
        if self.method == "cqr":
            return dict(self.cqr_coverage)
        r = np.asarray(self.residuals)
        if not len(r):
            return {}
        out = {}
        for level in self.levels:
            lo = lower_conformal_quantile(r, (1 - level) / 2)
            hi = conformal_quantile(r, (1 + level) / 2)
            out[level_key(level)] = float(np.mean((r >= lo) & (r <= hi)))
        return out

    def describe(self) -> dict:
        """How the range is calibrated, for `/model` and the report."""
        return {
            "method": self.method,
            "centred_on": self.source,
            "dollars": self.dollars,
            "levels": [level_key(x) for x in self.levels],
            "calibration_films": self.calibration_films,
            "validation_coverage": self.validation_coverage(),
        }

    # ---- state ------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """For the checkpoint (plain numbers and booster texts)."""
        return {
            "method": self.method,
            "source": self.source,
            "dollars": self.dollars,
            "levels": list(self.levels),
            "residuals": list(self.residuals),
            "quantiles": dict(self.quantiles),
            "margins": dict(self.margins),
            "calibration_films": self.calibration_films,
            "features": self.features,
            "cqr_coverage": dict(self.cqr_coverage),
        }

    @classmethod
    def from_dict(cls, d: dict) -> RevenueIntervals:
        """Rebuild from a checkpoint."""
        if d.get("method") not in METHODS:
            raise ValueError(
                f"revenue intervals method must be one of {', '.join(METHODS)}, got {d.get('method')!r}"
            )
        return cls(
            d["method"],
            d.get("source", ""),
            d.get("dollars", "nominal"),
            [float(x) for x in d.get("levels", LEVELS)],
            [float(x) for x in d.get("residuals", [])],
            {k: list(v) for k, v in d.get("quantiles", {}).items()},
            {k: float(v) for k, v in d.get("margins", {}).items()},
            int(d.get("calibration_films", 0)),
            d.get("features"),
            {k: float(v) for k, v in d.get("cqr_coverage", {}).items()},
        )


def parse_breakeven(value: str | float | None, budget_musd: float | None) -> float | None:
    """A revenue threshold in $M from '2.5x' (times the budget), '120' or 120 ($M); None for none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip().lower()
    try:
        if text.endswith("x"):
            factor = float(text[:-1])
            if budget_musd is None or not math.isfinite(budget_musd) or budget_musd <= 0:
                raise ValueError(
                    f"breakeven {value!r} is a multiple of the budget, and the film has no budget: "
                    "give budget_musd, or the threshold in $M (e.g. 120)"
                )
            out = factor * float(budget_musd)
        else:
            out = float(text.removeprefix("$").removesuffix("m").strip())
    except ValueError as e:
        if "multiple of the budget" in str(e):
            raise
        raise ValueError(f"breakeven {value!r}: give a multiple of the budget (2.5x) or $M (120)") from None
    if not math.isfinite(out) or out < 0:
        raise ValueError(f"breakeven {value!r}: the threshold must be a non-negative number")
    return out


def revenue_centre(components: dict) -> tuple[str, Callable | None]:
    """The log-revenue regressor a conformal range is centred on: the trees', else the network's head."""
    reg = components.get("gbm_regressor")
    if reg is not None:
        return "gbm_regressor", reg.predict_log_revenue
    net = components.get("fusion")
    if net is not None and "fusion_regressor" in net.head_names():
        return "fusion_regressor", net.log_revenue
    return "", None


def fit_revenue_intervals(
    data: FitData, components: dict, method: str, dollars: str
) -> RevenueIntervals | None:
    """The model's revenue range calibrated on data's validation films (None: nothing to calibrate with)."""
    if method == "off":
        return None
    if method not in METHODS:
        raise ValueError(f"ensemble.revenue_intervals must be conformal, cqr or off, got {method!r}")
    val, train = data.split.val, data.split.train
    if len(val) < 2:
        log.warning("no revenue range: the split has %d validation films to calibrate it on", len(val))
        return None
    log_rev = np.log1p(np.clip(np.asarray(data.revenue_musd, dtype=np.float64), 0, None))
    if method == "cqr":
        if "tabular" not in data.inputs.modalities:
            log.warning("no revenue range: cqr reads the tree features, and this model has no metadata")
            return None
        features, X = TreeFeatures.for_fit(data)
        cfg = data.config.ensemble
        reg = components.get("gbm_regressor")
        rounds = int(np.mean(reg.model.rounds)) if reg is not None else cfg.fixed_rounds
        params = booster_params(cfg, data.seed, "quantile", len(train))
        out = RevenueIntervals.fit_cqr(
            X[train], log_rev[train], X[val], log_rev[val], params, rounds, dollars
        )
        out.features = features.to_dict()
        return out
    source, centre = revenue_centre(components)
    if centre is None:
        log.info("no revenue range: the model has no log-revenue regressor (gbm_regressor or multitask)")
        return None
    return RevenueIntervals.fit_conformal(centre(data.inputs.subset(val)), log_rev[val], source, dollars)


def revenue_columns(
    intervals: RevenueIntervals, components: dict, inputs: FilmInputs, budgets=None, breakeven=None
) -> dict[str, np.ndarray]:
    """Prediction-table columns: revenue_musd_median, revenue_musd_low_80, revenue_musd_high_80, ...
    and, given a breakeven ('2.5x' each film's budget, or $M), breakeven_musd and p_revenue_at_least."""
    t = None
    if breakeven is not None:
        budgets = np.full(len(inputs), np.nan) if budgets is None else np.asarray(budgets, dtype=np.float64)
        multiple = str(breakeven).strip().lower().endswith("x")
        t = np.array([parse_breakeven(breakeven, b) if b > 0 or not multiple else np.nan for b in budgets])
    rng, p = intervals.for_films(components, inputs, t)
    out = {"revenue_musd_median": rng.median_musd}
    for key, (lo, hi) in rng.bounds_musd.items():
        out[f"revenue_musd_low_{key}"], out[f"revenue_musd_high_{key}"] = lo, hi
    if t is not None:
        out["breakeven_musd"], out["p_revenue_at_least"] = t, p
    return out


def revenue_object(
    rng: RevenueRange, i: int, dollars: str, threshold_musd: float | None, p: np.ndarray | None
) -> dict:
    """Film i's `revenue` for a response: median, intervals ($M) and P(revenue >= threshold)."""
    return {
        "median_musd": float(rng.median_musd[i]),
        "dollars": dollars,
        "intervals": {k: [float(lo[i]), float(hi[i])] for k, (lo, hi) in rng.bounds_musd.items()},
        "p_at_least": None
        if threshold_musd is None or p is None
        else {"threshold_musd": float(threshold_musd), "p": float(p[i])},
    }


def film_revenue(
    intervals: RevenueIntervals | None, ensemble, inputs: FilmInputs, metadata: dict | None, breakeven
) -> dict | None:
    """The first film's `revenue` (None without a range); breakeven '2.5x' reads the metadata's budget."""
    threshold = parse_breakeven(breakeven, (metadata or {}).get("budget_musd"))
    if intervals is None:  # the model has no log-revenue regressor to calibrate a range on
        return None
    t = None if threshold is None else np.array([threshold])
    rng, p = intervals.for_films(ensemble.components, inputs.subset(np.array([0])), t)
    return revenue_object(rng, 0, intervals.dollars, threshold, p)


def films_revenue(intervals: RevenueIntervals | None, ensemble, inputs: FilmInputs) -> list[dict | None]:
    """Every film's `revenue` (no breakeven) from one pass over the films: what `film_revenue` gives each."""
    if intervals is None:
        return [None] * len(inputs)
    rng, _ = intervals.for_films(ensemble.components, inputs)
    return [revenue_object(rng, i, intervals.dollars, None, None) for i in range(len(inputs))]

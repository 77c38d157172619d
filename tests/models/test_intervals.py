"""The revenue range: calibrated coverage, P(revenue >= X), breakeven parsing, saved with the model."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import tiny_config

from reelcast.evaluation.coverage import interval_coverage
from reelcast.models.intervals import (
    LEVELS,
    RevenueIntervals,
    conformal_quantile,
    level_key,
    parse_breakeven,
)


def test_conformal_quantile_is_the_finite_sample_rank():
    scores = np.arange(1.0, 20.0)  # 19 scores: (19 + 1) * 0.9 = 18 -> the 18th smallest
    assert conformal_quantile(scores, 0.9) == 18.0
    assert conformal_quantile(scores, 0.99) == 19.0  # past the last rank: the largest there is
    with pytest.raises(ValueError, match="at least one validation film"):
        conformal_quantile(np.array([]), 0.5)


def _skewed(n, rng):
    # Log-revenue errors with a long left tail: flops fall further than hits rise.
    return np.where(rng.random(n) < 0.2, -rng.exponential(2.0, n), rng.normal(0, 0.5, n))


def test_conformal_range_covers_new_films_at_each_level():
    rng = np.random.default_rng(0)
    mu_val, mu_test = rng.normal(4, 1, 2000), rng.normal(4, 1, 20000)
    y_val, y_test = mu_val + _skewed(2000, rng), mu_test + _skewed(20000, rng)
    ri = RevenueIntervals.fit_conformal(mu_val, y_val, "gbm_regressor")
    cov = interval_coverage(np.expm1(y_test), ri.predict(mu_test), n_boot=20)
    for level in LEVELS:
        assert abs(cov[level_key(level)]["coverage"]["point"] - level) < 0.02
    lo, hi = ri.predict(mu_test).bounds_musd["80"]
    assert np.all(lo <= hi)
    # The skew shows: the range reaches further below the prediction than above it (log units).
    log_lo, log_hi = ri.log_range(mu_test)[1]["95"]
    assert np.median(mu_test - log_lo) > 1.5 * np.median(log_hi - mu_test)


def test_p_at_least_matches_the_range_and_falls_with_the_threshold():
    rng = np.random.default_rng(1)
    mu = rng.normal(4, 1, 500)
    ri = RevenueIntervals.fit_conformal(mu, mu + rng.normal(0, 0.7, 500), "gbm_regressor")
    centre = np.array([4.0, 4.0, 4.0])
    rr = ri.predict(centre)
    lo80, hi80 = rr.bounds_musd["80"]
    p = ri.p_at_least(np.array([lo80[0], rr.median_musd[0], hi80[0]]), centre)
    assert p[0] == pytest.approx(0.9, abs=0.01)  # the 80 % range leaves 10 % below it
    assert p[1] == pytest.approx(0.5, abs=0.01)
    assert p[2] == pytest.approx(0.1, abs=0.01)


def test_cqr_widens_where_the_films_are_uncertain():
    rng = np.random.default_rng(2)
    n = 3000
    X = rng.uniform(0, 1, (n, 2))
    y = 3 + 2 * X[:, 0] + rng.normal(0, 0.1 + 1.5 * X[:, 1], n)  # the second feature sets the spread
    params = {"learning_rate": 0.05, "num_leaves": 7, "min_data_in_leaf": 20, "verbosity": -1, "seed": 0}
    params.update(deterministic=True, force_row_wise=True, num_threads=1)
    tr, va, te = slice(0, 1500), slice(1500, 2200), slice(2200, n)
    ri = RevenueIntervals.fit_cqr(X[tr], y[tr], X[va], y[va], params, rounds=150)
    lo, hi = ri.log_range(None, X[te])[1]["80"]
    covered = np.mean((y[te] >= lo) & (y[te] <= hi))
    assert abs(covered - 0.8) < 0.05
    width = hi - lo
    calm, wild = X[te][:, 1] < 0.2, X[te][:, 1] > 0.8
    assert width[wild].mean() > 3 * width[calm].mean()
    back = RevenueIntervals.from_dict(ri.to_dict())
    assert np.allclose(back.log_range(None, X[te])[1]["80"][1], hi)
    # The widening is chosen so each level holds at least its share of the validation films.
    held = back.describe()["validation_coverage"]
    assert list(held) == ["50", "80", "95"] and all(level <= held[level_key(level)] for level in LEVELS)


def test_conformal_range_says_how_it_held_on_its_calibration_films():
    rng = np.random.default_rng(3)
    mu = rng.normal(4, 1, 500)
    ri = RevenueIntervals.fit_conformal(mu, mu + _skewed(500, rng), "gbm_regressor")
    held = RevenueIntervals.from_dict(ri.to_dict()).describe()["validation_coverage"]
    for level in LEVELS:  # the finite-sample ranks hold at least the level, and barely more
        assert level <= held[level_key(level)] <= level + 0.01


@pytest.mark.parametrize(
    "value,budget,expected",
    [("2.5x", 100.0, 250.0), ("2.5X", 40, 100.0), ("120", None, 120.0), (75, None, 75.0), ("$90M", 1, 90.0)],
)
def test_breakeven_is_a_budget_multiple_or_millions(value, budget, expected):
    assert parse_breakeven(value, budget) == pytest.approx(expected)


@pytest.mark.parametrize(
    "value,budget,message",
    [
        ("2.5x", None, "the film has no budget"),
        ("lots", 10.0, "give a multiple of the budget"),
        ("-5", None, "non-negative"),
    ],
)
def test_bad_breakeven_is_one_clear_error(value, budget, message):
    with pytest.raises(ValueError, match=message):
        parse_breakeven(value, budget)


@pytest.mark.parametrize("method,centre", [("conformal", "gbm_regressor"), ("cqr", "cqr")])
def test_revenue_range_round_trips_with_the_model(tiny_bert, films_csv, tmp_path, one_thread, method, centre):
    from reelcast.predictor import RevenuePredictor

    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=2)
    cfg.ensemble.seeds, cfg.ensemble.max_rounds, cfg.ensemble.threads = 1, 60, 1
    cfg.ensemble.components = ["fusion", "gbm_regressor"]
    cfg.ensemble.revenue_intervals = method
    p = RevenuePredictor(cfg, progress=False).fit(films_csv)
    assert p.describe()["revenue_intervals"]["centred_on"] == centre
    before = p.predict(films_csv, breakeven="2x")
    p.save(tmp_path / "run")
    after = RevenuePredictor.load(tmp_path / "run").predict(films_csv, breakeven="2x")
    cols = [c for c in before if c.startswith("revenue_musd_")] + ["p_revenue_at_least"]
    assert len(cols) == 8
    assert np.allclose(before[cols].to_numpy(), after[cols].to_numpy(), equal_nan=True)
    ordered = ["low_95", "low_80", "low_50", "median", "high_50", "high_80", "high_95"]
    values = after[[f"revenue_musd_{k}" for k in ordered]].to_numpy()
    assert np.all(np.diff(values, axis=1) >= -1e-9)  # nested intervals around the median
    p_film = p.predict_film("A quiet drama.", metadata={"budget_musd": 10.0}, breakeven="3x")["revenue"]
    assert p_film["p_at_least"]["threshold_musd"] == 30.0 and 0 <= p_film["p_at_least"]["p"] <= 1
    assert set(p_film["intervals"]) == {"50", "80", "95"} and p_film["dollars"] == "nominal"

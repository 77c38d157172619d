"""Drift statistics (PSI, chi-square, Kolmogorov-Smirnov) and the drift table of `reelcast ab-report`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers.predlog import entry

from reelcast.config import Config
from reelcast.evaluation.abtest import run_ab_report
from reelcast.evaluation.drift import assign_periods, number_drift, psi, rate_drift
from reelcast.serving.predlog import PredictionLog

EDGES = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]


def test_drift_statistics():
    # PSI by hand: (0.6 - 0.5) ln(0.6/0.5) + (0.4 - 0.5) ln(0.4/0.5).
    assert psi(np.array([0.5, 0.5]), np.array([0.6, 0.4])) == pytest.approx(
        0.1 * math.log(1.2) - 0.1 * math.log(0.8)
    )
    assert psi(np.array([0.3, 0.7]), np.array([0.3, 0.7])) == 0.0
    rng = np.random.default_rng(0)
    ref = rng.lognormal(3, 1, 2000)
    same, _, p_same = number_drift(ref, rng.lognormal(3, 1, 500))
    moved, _, p_moved = number_drift(ref, rng.lognormal(4, 1, 500))
    assert same < 0.1 and p_same > 0.01 and moved > 0.25 and p_moved < 1e-6
    v, _, p = rate_drift(10, 1000, 100, 200)  # 1 % missing in training, 50 % now
    assert v > 0.25 and p < 1e-6
    times = pd.Series([0.0, 86400 * 40, 86400 * 41, 86400 * 80])
    assert assign_periods(times, pd.Series([1, 2, 3, 4]), "month").tolist() == [
        "1970-01",
        "1970-02",
        "1970-02",
        "1970-03",
    ]
    assert assign_periods(times, pd.Series([4, 3, 2, 1]), "2").tolist() == [
        "part 2 of 2",
        "part 2 of 2",
        "part 1 of 2",
        "part 1 of 2",
    ]
    with pytest.raises(ValueError, match="ab.periods"):
        assign_periods(times, pd.Series([1, 2, 3, 4]), "fortnight")


def test_drift_flags_a_shift_against_the_training_films(tmp_path):
    """Requests whose budgets and plots differ from the training films are flagged; similar ones are not."""
    rng = np.random.default_rng(1)
    n_train = 400
    train = pd.DataFrame(
        {
            "film_id": [f"t{i}" for i in range(n_train)],
            "title": [f"Train {i}" for i in range(n_train)],
            "description": ["x" * int(c) for c in rng.normal(300, 40, n_train).clip(20)],
            "revenue_musd": rng.uniform(0, 8, n_train),  # about 1/8 of the films in each class
            "budget": rng.lognormal(3, 1, n_train),  # generic tables: millions
        }
    )
    train_csv = tmp_path / "train.csv"
    train.to_csv(train_csv, index=False)
    db = tmp_path / "log.sqlite"
    plog = PredictionLog(db)
    plog.register_model("A", "modelA", tmp_path / "A", EDGES, ["text"], 1.0, False)
    rows, outcome_rows = [], []
    for i in range(200):
        late = i >= 100  # the second half: budgets 20x larger, plots 3x longer, always class 7
        budget = float(rng.lognormal(3, 1) * (20 if late else 1))
        chars = int(rng.normal(900 if late else 300, 40))
        k = 7 if late else int(rng.integers(0, 8))
        rows.append(
            entry(
                "A", "served", f"q{i}", f"Q{i}", k, 0.5, 1e9 + i, budget_musd=budget, description_chars=chars
            )
        )
        outcome_rows.append({"film_id": f"q{i}", "title": f"Q{i}", "description": "p", "revenue_musd": 5.5})
    for row in rows:
        plog.submit(row)
    plog.close()
    outcomes = tmp_path / "out.csv"
    pd.DataFrame(outcome_rows).to_csv(outcomes, index=False)
    cfg = Config()
    cfg.ab.bootstrap, cfg.ab.periods = 50, "2"
    cfg.data.schema, cfg.data.id_col, cfg.data.revenue_col = "generic", "film_id", "revenue_musd"
    cfg.data.revenue_scale = 1.0
    r = run_ab_report(db, outcomes, tmp_path / "rep", cfg, training=train_csv)
    d = r.drift.set_index(["period", "quantity"])
    assert d.loc[("part 2 of 2", "budget"), "flag"] == "MAJOR SHIFT"
    assert d.loc[("part 2 of 2", "description length"), "flag"] == "MAJOR SHIFT"
    assert d.loc[("part 2 of 2", "predicted class"), "flag"] == "MAJOR SHIFT"
    assert d.loc[("part 1 of 2", "budget"), "flag"] == "stable"
    assert d.loc[("part 1 of 2", "predicted class"), "flag"] == "stable"
    assert any(v.startswith("Drift: budget shifted") and "(1 major)" in v for v in r.verdict), r.verdict

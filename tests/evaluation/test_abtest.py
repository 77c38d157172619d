"""`reelcast ab-report` on a log built by hand: every number checked against a hand computation."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from helpers.predlog import entry, probs  # noqa: F401

from reelcast.config import Config
from reelcast.evaluation.abtest import run_ab_report
from reelcast.evaluation.drift import assign_periods, number_drift, psi, rate_drift
from reelcast.serving.predlog import PredictionLog

EDGES = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]  # millions: class k holds [k, k+1) for k = 1..6
# film: revenue (M$) -> true class 0, 2, 4, 7
FILMS = {"f1": 0.5, "f2": 2.5, "f3": 4.5, "f4": 7.5}
# (predicted class, its probability; the other seven share the rest equally)
A_PRED = {"f1": (0, 0.85), "f2": (2, 0.65), "f3": (3, 0.55), "f4": (5, 0.45)}
B_PRED = {"f1": (1, 0.60), "f2": (2, 0.60), "f3": (4, 0.60), "f4": (7, 0.60)}


@pytest.fixture()
def hand_log(tmp_path):
    return make_hand_log(tmp_path, EDGES)


def make_hand_log(tmp_path, edges_b):
    db = tmp_path / "log.sqlite"
    plog = PredictionLog(db)
    plog.register_model("A", "modelA", tmp_path / "A", EDGES, ["text"], 1.0, True)
    plog.register_model("B", "modelB", tmp_path / "B", edges_b, ["text"], 0.0, True)
    t = 1_700_000_000.0
    for i, f in enumerate(FILMS):
        # f2 is sent by title only: the report joins it to the outcomes by title.
        fid, title = ("", "Film Two") if f == "f2" else (f, f"Film {f}")
        plog.submit(entry("A", "served", fid, title, *A_PRED[f], t + i))
        plog.submit(entry("B", "shadow", fid, title, *B_PRED[f], t + i + 0.5))
    # A later second prediction of f1 by A (ignored: the first one counts) and a film with no outcome.
    plog.submit(entry("A", "served", "f1", "Film f1", 7, 0.99, t + 10))
    plog.submit(entry("A", "served", "f9", "Unreleased", 3, 0.5, t + 11))
    plog.close()
    outcomes = tmp_path / "revenues.csv"
    pd.DataFrame(
        {
            "film_id": list(FILMS),
            "title": ["Film f1", "Film Two", "Film f3", "Film f4"],
            "description": ["plot"] * 4,
            "revenue_musd": list(FILMS.values()),
        }
    ).to_csv(outcomes, index=False)
    return db, outcomes


def test_report_numbers_match_a_hand_computed_case(hand_log, tmp_path):
    db, outcomes = hand_log
    cfg = Config()
    cfg.ab.bootstrap = 200
    cfg.data.schema, cfg.data.id_col, cfg.data.revenue_col = "generic", "film_id", "revenue_musd"
    cfg.data.revenue_scale = 1.0
    r = run_ab_report(f"sqlite:///{db}", outcomes, tmp_path / "out", cfg)
    a = r.arms.set_index("arm").loc["A"]
    b = r.arms.set_index("arm").loc["B"]
    assert a["films"] == 4 and a["answered"] == 4 and b["shadow"] == 4
    # A: right on f1, f2; one away on f3; two away on f4.
    assert a["accuracy"] == 0.5 and a["one_away_accuracy"] == 0.75 and a["mae_class"] == 0.75
    # QWK by hand: sum w*O = (1 + 4)/49; sum w*E = 168 / (4 * 49)  ->  1 - 5/42.
    assert a["qwk"] == pytest.approx(37 / 42)
    # ECE: each film alone in its bin -> mean |correct - confidence| = (.15 + .35 + .55 + .45) / 4.
    assert a["ece"] == pytest.approx(0.375)
    ll = -(math.log(0.85) + math.log(0.65) + math.log(0.45 / 7) + math.log(0.55 / 7)) / 4
    assert a["log_loss"] == pytest.approx(ll)
    assert b["accuracy"] == 0.75 and b["one_away_accuracy"] == 1.0 and b["mae_class"] == 0.25
    assert a["accuracy_low"] <= a["accuracy"] <= a["accuracy_high"]
    acc = r.paired[(r.paired["metric"] == "accuracy")].iloc[0]
    assert acc["design"] == "paired" and acc["films"] == 4 and acc["diff"] == pytest.approx(-0.25)
    # McNemar: A right and B wrong on f1 only; B right and A wrong on f3, f4; exact p = 2 * P(X <= 1 | 3).
    assert (acc["mcnemar_b"], acc["mcnemar_c"]) == (1, 2) and acc["mcnemar_p"] == pytest.approx(1.0)
    assert any("Verdict: no significant difference between A and B" in v for v in r.verdict)
    out = tmp_path / "out"
    html = (out / "ab_report.html").read_text()
    assert "<img" in html and "data:image/png;base64," in html
    assert not re.search(r"""(src|href)=["']?https?:""", html)  # self-contained: nothing fetched
    saved = json.loads((out / "ab_report.json").read_text())
    # f1, f3, f4 by id for both arms plus the repeat of f1; f2 by title for both; f9 has no outcome.
    assert saved["match_counts"] == {"id": 7, "title": 2, "id not in outcomes": 1}
    assert pd.read_csv(out / "ab_report.csv")["accuracy"].tolist() == [0.5, 0.75]


def test_each_arm_is_scored_on_its_own_class_edges(tmp_path):
    # B's edges sit 1 M$ higher: f1..f4 are classes 0, 1, 3, 6 for B, so B's predictions 1, 2, 4, 7 all miss.
    db, outcomes = make_hand_log(tmp_path, [e + 1 for e in EDGES])
    cfg = Config()
    cfg.ab.bootstrap = 100
    cfg.data.schema, cfg.data.id_col, cfg.data.revenue_col = "generic", "film_id", "revenue_musd"
    cfg.data.revenue_scale = 1.0
    r = run_ab_report(db, outcomes, tmp_path / "out", cfg)
    arms = r.arms.set_index("arm")
    assert arms.loc["A", "accuracy"] == 0.5 and arms.loc["B", "accuracy"] == 0.0
    assert arms.loc["B", "one_away_accuracy"] == 1.0  # every B prediction is one class too high
    acc = r.paired[r.paired["metric"] == "accuracy"].iloc[0]
    assert acc["diff"] == pytest.approx(0.5) and (acc["mcnemar_b"], acc["mcnemar_c"]) == (2, 0)
    assert any("different class edges" in n for n in r.notes)


def test_ab_report_cli(hand_log, tmp_path):
    from typer.testing import CliRunner

    from reelcast.cli import app

    db, outcomes = hand_log
    res = CliRunner().invoke(
        app,
        ["ab-report", "--log-db", str(db), "--outcomes", str(outcomes), "--out", str(tmp_path / "r"),
         "--schema", "generic", "--id-col", "film_id", "--revenue-col", "revenue_musd",
         "--set", "data.revenue_scale=1.0", "--bootstrap", "50", "--periods", "2", "-q"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "exact class" in res.output and (tmp_path / "r" / "drift.csv").exists()
    bad = CliRunner().invoke(app, ["ab-report", "--log-db", str(tmp_path / "nope.sqlite"), "--outcomes", "x"])
    assert bad.exit_code == 2 and "no prediction log here" in bad.output


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


def test_holm_correction():
    from reelcast.evaluation.stats import holm

    # Sorted p: 0.01 < 0.05/3, 0.02 < 0.05/2, 0.04 < 0.05/1 -> all kept; 0.046 alone of three is not.
    assert holm([0.04, 0.01, 0.02], 0.05) == [True, True, True]
    assert holm([0.046, 0.3, 0.9], 0.05) == [False, False, False]
    assert holm([0.001, 0.03, 0.9], 0.05) == [True, False, False]

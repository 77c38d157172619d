"""`reelcast ab-report` on a log built by hand: every number checked against a hand computation."""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest
from helpers.ablog import EDGES, make_hand_log

from reelcast.config import Config
from reelcast.evaluation.abtest import run_ab_report


@pytest.fixture()
def hand_log(tmp_path):
    return make_hand_log(tmp_path, EDGES)


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

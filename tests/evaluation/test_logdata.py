"""`ab-report` on a log it cannot use: one clear error naming the row or the log and the fix, exit 2."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest
from helpers.predlog import entry
from typer.testing import CliRunner

from reelcast.cli import app
from reelcast.serving.predlog import PredictionLog

EDGES = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]


def _outcomes(tmp_path):
    path = tmp_path / "revenues.csv"
    pd.DataFrame(
        {
            "film_id": ["f1", "f2"],
            "title": ["One", "Two"],
            "description": ["p", "p"],
            "revenue_musd": [1.5, 2.5],
        }
    ).to_csv(path, index=False)
    return path


def _log(tmp_path, bad: dict) -> str:
    """A log of three good predictions and, second, one with the fields of `bad` replaced."""
    db = tmp_path / "log.sqlite"
    plog = PredictionLog(db)
    plog.register_model("A", "modelA", tmp_path / "A", EDGES, ["text"], 1.0, False)
    rows = [entry("A", "served", f"f{i}", f"Film {i}", 1, 0.6, 1e9 + i) for i in range(3)]
    rows.insert(1, entry("A", "served", "f2", "Two", 2, 0.6, 1e9 + 5, request_id="req-bad", **bad))
    for row in rows:
        plog.submit(row)
    plog.close()
    return str(db)


def _run(log_db, outcomes, out):
    return CliRunner().invoke(
        app,
        ["ab-report", "--log-db", str(log_db), "--outcomes", str(outcomes), "--out", str(out),
         "--schema", "generic", "--id-col", "film_id", "--revenue-col", "revenue_musd",
         "--set", "data.revenue_scale=1.0", "--bootstrap", "20", "-q"],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"probabilities": "[0.5, 0.5"}, "probabilities is not valid JSON"),
        ({"probabilities": json.dumps([0.4, 0.6])}, "probabilities holds 2 values, expected 8"),
        ({"modalities_used": "true"}, "modalities_used is not a JSON object"),
    ],
)
def test_a_bad_row_is_named_with_the_fix(tmp_path, bad, says):
    res = _run(_log(tmp_path, bad), _outcomes(tmp_path), tmp_path / "r")
    assert res.exit_code == 2, res.output
    assert says in res.output
    assert "row id 2 (request_id req-bad)" in res.output
    assert "copy the log without it" in res.output
    assert "unexpected" not in res.output


def test_a_foreign_table_is_not_a_log(tmp_path):
    db = tmp_path / "other.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE predictions (id INTEGER PRIMARY KEY, film TEXT, score REAL)")
        conn.execute("CREATE TABLE models (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO predictions (film, score) VALUES ('x', 0.5)")
    res = _run(db, _outcomes(tmp_path), tmp_path / "r")
    assert res.exit_code == 2, res.output
    assert "table predictions has no column" in res.output and "probabilities" in res.output
    assert "not a reelcast prediction log" in res.output and "reelcast serve --log-db" in res.output


def test_a_csv_given_as_the_log(tmp_path):
    outcomes = _outcomes(tmp_path)
    res = _run(outcomes, outcomes, tmp_path / "r")
    assert res.exit_code == 2, res.output
    assert f"{outcomes}: not a SQLite database" in res.output and "--log-db takes" in res.output


def test_a_url_whose_driver_is_missing(tmp_path):
    # MySQLdb is not a reelcast dependency; the password must not be shown.
    url = "mysql+mysqldb://reader:s3cret@127.0.0.1:9/log"
    res = _run(url, _outcomes(tmp_path), tmp_path / "r")
    assert res.exit_code == 2, res.output
    assert "mysql+mysqldb://reader:***@127.0.0.1:9/log" in res.output and "s3cret" not in res.output
    assert "driver for mysql+mysqldb is not installed" in res.output and "install it" in res.output


def test_the_error_is_a_value_error_naming_the_row(tmp_path):
    from reelcast.evaluation.logdata import PredictionLogError, read_prediction_log

    with pytest.raises(PredictionLogError, match=r"row id 2 \(request_id req-bad\)") as info:
        read_prediction_log(_log(tmp_path, {"probabilities": json.dumps([1.0, 0.0])}))
    assert isinstance(info.value, ValueError)
    good = tmp_path / "good"
    good.mkdir()
    preds, models = read_prediction_log(_log(good, {}))
    assert len(preds) == 4 and list(models["arm"]) == ["A"]

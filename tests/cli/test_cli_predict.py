"""`reelcast predict`: the description file is capped like the API's, CSV predictions are formula-safe."""

from __future__ import annotations

import csv
import json
import os
import threading
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from reelcast.cli import app
from reelcast.files import atomic_write_csv
from reelcast.serving.settings import ServeSettings

LIMIT = ServeSettings.max_description_chars
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_description_file_over_the_api_limit_is_one_error_naming_the_file(tmp_path):
    long = tmp_path / "plot.txt"
    long.write_text("é" * (LIMIT + 1), encoding="utf-8")  # characters count, not bytes
    r = invoke("predict", "--model", tmp_path / "no-model", "--description-file", long)
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert r.exit_code == 2 and len(lines) == 1, r.output
    assert lines[0] == (
        f"error: {long}: the description is longer than 100,000 characters (the limit of the API too); "
        "shorten it"
    )
    # At the limit the description is accepted: the next complaint is the missing model.
    long.write_text("é" * LIMIT, encoding="utf-8")
    r = invoke("predict", "--model", tmp_path / "no-model", "--description-file", long)
    assert r.exit_code == 2 and "longer than" not in r.output and "best_multimodal_model.pth" in r.output


def test_description_file_that_never_ends_is_read_no_further_than_the_limit(tmp_path):
    # A pipe that stays open like /dev/zero: whoever waits for its end waits until the writer gives up.
    fifo = tmp_path / "plot.fifo"
    os.mkfifo(fifo)
    released = threading.Event()
    written = []

    def feed():
        fd = os.open(fifo, os.O_WRONLY)  # returns once the command opens the pipe
        try:
            for _ in range(10 * LIMIT // 1000):
                written.append(os.write(fd, b"x" * 1000))
            released.wait(timeout=20)
        except BrokenPipeError:  # the reader stopped and closed its end: what a bounded read does
            pass
        finally:
            os.close(fd)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    t0 = time.monotonic()
    r = invoke("predict", "--model", tmp_path, "--description-file", fifo)
    seconds = time.monotonic() - t0
    released.set()
    writer.join(timeout=5)
    assert r.exit_code == 2 and f"{fifo}: the description is longer than 100,000" in r.output, r.output
    assert seconds < 15, f"the command waited {seconds:.0f} s for the end of the file"
    assert sum(written) < 10 * LIMIT  # it stopped reading: the writer could not hand over everything


def test_unreadable_description_file_is_one_error_naming_the_file(tmp_path):
    latin = tmp_path / "plot.txt"
    latin.write_bytes("Café society".encode("latin-1"))
    r = invoke("predict", "--model", tmp_path, "--description-file", latin)
    assert r.exit_code == 2 and r.output.startswith(f"error: {latin}: not UTF-8 text"), r.output
    r = invoke("predict", "--model", tmp_path, "--description-file", tmp_path / "none.txt")
    assert r.exit_code == 2 and f"error: {tmp_path / 'none.txt'}: " in r.output
    assert "No such file" in r.output


FORMULAS = ['=HYPERLINK("http://evil.example/x","click")', "+SUM(1,2)", "-2+3*cmd", "@SUM(A1)"]


@pytest.mark.slow
def test_predictions_csv_cells_are_not_spreadsheet_formulas(tiny_run, films_csv, tmp_path):
    films = pd.read_csv(films_csv)
    films.loc[: len(FORMULAS) - 1, "title"] = FORMULAS
    films.loc[len(FORMULAS), "title"] = "-12"  # a plain number a spreadsheet reads as a number
    table = tmp_path / "films.csv"
    films.to_csv(table, index=False)
    out = tmp_path / "preds.csv"
    r = invoke("predict", "--model", tiny_run, "--data", table, "--out", out, "-q")
    assert r.exit_code == 0, r.output
    got = pd.read_csv(out, keep_default_na=False)
    assert got["title"].tolist()[: len(FORMULAS) + 2] == [
        *(f"'{t}" for t in FORMULAS),
        "-12",
        f"Demo Film {len(FORMULAS) + 2}",
    ]
    assert pd.api.types.is_float_dtype(got["confidence"]) and pd.api.types.is_float_dtype(got["p_Flop"])
    with out.open(newline="", encoding="utf-8") as f:
        cells = [cell for row in csv.reader(f) for cell in row]
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
    # The page beside the CSV shows the titles as they are.
    assert "+SUM(1,2)" in (tmp_path / "preds.html").read_text(encoding="utf-8")


def test_csv_writer_prefixes_formula_text_and_leaves_numbers(tmp_path):
    df = pd.DataFrame(
        {
            "text": ["=1+1", "+1", "-1", "-2+3", "@x", "\tx", "plain", "1e5", None],
            "number": [-1, 0, 1, 2, 3, 4, 5, 6, 7],
            "real": [-0.5, 1e-9, -1e9, 0.0, 1.5, -2.0, 3.0, 4.0, 5.0],
            "category": pd.Series(["=cat"] * 9, dtype="category"),
            "string": pd.Series(["-x"] * 8 + [None], dtype="string"),
            "=header": ["fine"] * 9,
        }
    )
    before = df.copy()
    path = tmp_path / "out.csv"
    atomic_write_csv(path, df)
    pd.testing.assert_frame_equal(df, before)  # the caller's table is left alone
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["text", "number", "real", "category", "string", "'=header"]
    assert [r[0] for r in rows[1:]] == ["'=1+1", "+1", "-1", "'-2+3", "'@x", "'\tx", "plain", "1e5", ""]
    assert [r[1] for r in rows[1:3]] == ["-1", "0"] and [r[2] for r in rows[1:4]] == [
        "-0.5",
        "1e-09",
        "-1000000000.0",
    ]
    assert {r[3] for r in rows[1:]} == {"'=cat"} and [r[4] for r in rows[1:]] == ["'-x"] * 8 + [""]


def test_an_unknown_meta_key_names_the_accepted_keys(ensemble_model):
    r = invoke("predict", "--model", ensemble_model, "--description", "A heist.", "--meta", "budget=60")
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert r.exit_code == 2 and len(lines) == 1, r.output
    start = "error: --meta budget: not a metadata field; the accepted keys are budget_musd,"
    assert lines[0].startswith(start)
    assert "release_date" in lines[0] and "Extra inputs" not in lines[0]


def test_one_film_prints_its_revenue_range_breakeven_chance_and_reasons(ensemble_model):
    args = ["predict", "--model", ensemble_model, "--description", "A heist in Rome.", "--title", "Roma"]
    args += ["--meta", "budget_musd=60", "--meta", "genres=Crime,Thriller", "--breakeven", "2.5x"]
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    assert "revenue (nominal): median $" in r.output and "80 %: $" in r.output
    assert "P(revenue >= $150 M) = " in r.output
    assert "reasons (shift of the expected class, 0-7):" in r.output and "  budget $60 M: " in r.output
    r = invoke(*args, "--json")
    out = json.loads(r.output)
    assert out["revenue"]["p_at_least"]["threshold_musd"] == 150.0
    assert [x["input"] for x in out["reasons"]][:1] and out["reasons"][0]["text"].endswith("classes")


def test_a_breakeven_multiple_needs_a_budget(ensemble_model):
    r = invoke("predict", "--model", ensemble_model, "--description", "A heist.", "--breakeven", "3x")
    assert r.exit_code == 2 and "the film has no budget: give budget_musd" in r.output, r.output


def test_a_table_gets_the_revenue_columns(ensemble_model, films_csv, tmp_path):
    out = tmp_path / "pred.csv"
    r = invoke("predict", "--model", ensemble_model, "--data", films_csv, "--out", out, "--breakeven", "100")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out)
    for col in ("revenue_musd_median", "revenue_musd_low_50", "revenue_musd_high_95", "p_revenue_at_least"):
        assert col in df and df[col].notna().all()
    assert (df["revenue_musd_low_80"] <= df["revenue_musd_high_80"]).all()

"""`reelcast whatif`: the table, the picture and the page of a sweep; one clear line for a bad --vary."""

from __future__ import annotations

import json

import pytest
from helpers.whatif_model import metadata_run
from typer.testing import CliRunner

from reelcast.cli import app

PLOT = "A retired safecracker is pulled back for one last job: the vault of the casino that ruined her."


@pytest.fixture(scope="module")
def model(tiny_bert, tmp_path_factory):
    return metadata_run(tiny_bert, tmp_path_factory.getbasetemp())


def invoke(*args):
    return CliRunner().invoke(app, ["whatif", *(str(a) for a in args)])


def test_budget_sweep_prints_a_table_and_writes_the_picture_and_page(model, tmp_path):
    r = invoke(
        "--model",
        model,
        "--title",
        "The Vault",
        "--description",
        PLOT,
        "--meta",
        "budget_musd=60",
        "--meta",
        "release_date=2026-07-03",
        "--vary",
        "budget_musd=20:300:10",
        "--out",
        tmp_path,
        "-q",
    )
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()  # stderr carries the log (unknown inputs)
    assert lines[0].split()[:8] == ["budget", "($", "M)", "predicted", "expected", "class", "most", "likely"]
    assert "revenue" in lines[0]  # the model has a calibrated range, so the table shows it
    rows = [line for line in lines if line.startswith("$")]
    assert [row.split()[0] for row in rows] == [f"${b}" for b in range(20, 301, 10)]
    assert all(
        row.split()[2]
        in ("Disaster", "Flop", "Successful", "Average", "Hit", "Outstanding", "Superhit", "Blockbuster")
        for row in rows
    )
    png, html, csv = (tmp_path / f"whatif.{ext}" for ext in ("png", "html", "csv"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    page = html.read_text(encoding="utf-8")
    assert "The Vault" in page and "data:image/png;base64," in page and "$300 M" in page
    assert csv.read_text(encoding="utf-8").count("\n") == 30  # a header and 29 points
    assert lines[-1] == f"what-if: {png} and {html} and {csv}"


def test_release_date_sweep_shows_the_season_and_json_has_the_curve(model):
    r = invoke(
        "--model",
        model,
        "--description",
        PLOT,
        "--meta",
        "release_date=2026-12-18",
        "--vary",
        "release_date",
        "--json",
    )
    assert r.exit_code == 0, r.output
    curve = json.loads(r.stdout)
    assert [p["season"] for p in curve["points"]][11] == "Dec · winter · Christmas"
    assert len(curve["points"]) == 12 and curve["field"] == "release_date"
    r = invoke("--model", model, "--description", PLOT, "--vary", "release_date=2026-05:2026-08", "-q")
    assert r.exit_code == 0, r.output
    assert "2026-05-01 (May · spring)" in r.output and "2026-08-01 (Aug · summer)" in r.output


def test_director_alternatives(model):
    r = invoke("--model", model, "--description", PLOT, "--vary", "director=Ann Lee|Di Fox", "-q")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[2].startswith("Ann Lee") and r.stdout.splitlines()[3].startswith("Di Fox")


@pytest.mark.parametrize(
    ("vary", "message"),
    [
        (
            "budget=1:2",
            "error: --vary 'budget=1:2': cannot vary 'budget'; the fields a sweep can vary are "
            "budget_musd, runtime, year, release_date, director, cast,",
        ),
        (
            "keywords=heist|sequel",
            "error: this model never reads keywords, so varying it changes nothing; "
            "it reads budget_musd, release_date, year, runtime, genres, director, cast",
        ),
        ("trailer", "error: this model never reads trailer"),
        (
            "budget_musd=20",
            "error: --vary 'budget_musd=20': give budget_musd=FROM:TO or budget_musd=FROM:TO:STEP",
        ),
        (
            "budget_musd=1:100:1",
            "error: --vary 'budget_musd=1:100:1': 100 points from 1 to 100 every 1; at most 60",
        ),
        (
            "release_date",
            "error: --vary 'release_date': a release_date sweep needs the film's release_date or year",
        ),
    ],
)
def test_a_bad_sweep_is_one_line_naming_the_fields(model, vary, message):
    r = invoke("--model", model, "--description", PLOT, "--vary", vary, "-q")
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert r.exit_code == 2 and len(lines) == 1, r.output
    assert lines[0].startswith(message), lines[0]

"""`reelcast extract --manifest`: the status table is safe to open in a spreadsheet."""

from __future__ import annotations

import csv

import pandas as pd
from typer.testing import CliRunner

from reelcast.cli import app


def test_manifest_cells_are_not_spreadsheet_formulas(tmp_path):
    from reelcast.encoders.frames import save_tiny_resnet

    table = tmp_path / "films.csv"
    pd.DataFrame(
        {
            "title": ["=SUM(1+1)", "+Film"],
            "description": ["a plot", "another plot"],
            "revenue": [12.5, 20.0],
            "trailer": ['=HYPERLINK("http://evil.example/x")', "@clip.mp4"],
        }
    ).to_csv(table, index=False)
    manifest = tmp_path / "manifest.csv"
    args = ["extract", "--data", table, "--offline", "--cache-dir", tmp_path / "cache", "-q"]
    args += ["--video-model", save_tiny_resnet(tmp_path / "tiny-resnet", seed=0), "--manifest", manifest]
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    with manifest.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [row["trailer"] for row in rows] == ['\'=HYPERLINK("http://evil.example/x")', "'@clip.mp4"]
    assert [row["film_id"][:2] for row in rows] == ["'=", "'+"] and [row["line"] for row in rows] == [
        "2",
        "3",
    ]
    assert all(row["status"] == "not_found" for row in rows)

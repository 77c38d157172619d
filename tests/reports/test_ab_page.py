"""The A/B report's files and page are written from the computed report alone, with the one label table."""

from __future__ import annotations

import json

import pandas as pd
from helpers.ablog import EDGES, hand_config, make_hand_log

from reelcast.evaluation.abtest import compute_ab_report
from reelcast.reports.ab_page import render_html, report_text, write_ab_report
from reelcast.reports.labels import AB_METRICS, METRIC_LABELS


def _report(tmp_path):
    db, outcomes = make_hand_log(tmp_path, EDGES)
    cfg = hand_config(bootstrap=50)
    cfg.ab.periods = "2"
    return compute_ab_report(db, outcomes, cfg)


def test_computing_writes_nothing_and_writing_needs_only_the_report(tmp_path):
    report = _report(tmp_path)
    assert report.text == "" and not (tmp_path / "out").exists()
    write_ab_report(report, tmp_path / "out")
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert names == {"ab_report.csv", "paired.csv", "drift.csv", "ab_report.json", "ab_report.html"}
    saved = json.loads((tmp_path / "out" / "ab_report.json").read_text())
    assert saved["verdict"] == report.verdict and saved["arms"][0]["arm"] == "A"
    assert pd.read_csv(tmp_path / "out" / "paired.csv")["metric"].tolist() == [
        "accuracy",
        "one_away_accuracy",
        "qwk",
    ]


def test_text_and_page_show_every_metric_with_its_label(tmp_path):
    report = _report(tmp_path)
    text = report_text(report)
    html = render_html(report)
    for key in AB_METRICS:
        assert f"      {METRIC_LABELS[key]:<18} " in text
        assert f'<th scope="col">{METRIC_LABELS[key]}</th>' in html
    assert text.index("Per arm") < text.index("Verdict: no significant difference") < text.index("note: ")

"""report.html: built from a run folder's files, robust to missing and unknown sections; a real `train`
run with stderr piped (as in CI) logs one line per stage and writes a page Chromium can show."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import screenshot_dir

from reelcast.data.classes import CLASS_NAMES
from reelcast.reports.run_page import build_run_page, evaluation_page, predictions_page, write_run_report

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = screenshot_dir() / "report.png"


def minimal_result(split: str, f1: float) -> dict:
    cm = [[1 if i == j else 0 for j in range(8)] for i in range(8)]
    return {
        "split": split,
        "sizes": {"train": 10, "val": 4, "test": 8},
        "class_names": CLASS_NAMES,
        "classes": [
            {"class": k, "name": n, "min_musd": float(k), "max_musd": None if k == 7 else float(k + 1)}
            for k, n in enumerate(CLASS_NAMES)
        ],
        "class_counts": {"train": [1] * 8, "val": [1] * 8, "test": [1] * 8},
        "test": {"n": 8, "accuracy": 1.0, "f1_macro": f1, "confusion_matrix": cm},
        "test_ci": {"f1_macro": {"point": f1, "low": f1 - 0.1, "high": f1 + 0.05}},
        "history": [
            {
                "epoch": e,
                "train_loss": 1.0 / e,
                "val_loss": 1.2 / e,
                "train_acc": 0.1 * e,
                "val_acc": 0.1 * e,
                "val_macro_f1": 0.05 * e,
                "lr": 1e-3,
            }
            for e in (1, 2, 3)
        ],
        "ablation": {
            "models": [
                {
                    "model": "full",
                    "modalities": "text",
                    "accuracy": 0.5,
                    "accuracy_low": 0.4,
                    "accuracy_high": 0.6,
                    "brier": 0.7,
                },
                {
                    "model": "peer_ridge",
                    "modalities": "text",
                    "accuracy": 0.3,
                    "accuracy_low": 0.2,
                    "accuracy_high": 0.4,
                    "brier": 0.8,
                },
            ]
        },
        "temporal_split": {"cutoff_year": 2015, "test_films": 12},  # a section this page has never seen
    }


def test_page_renders_known_unknown_and_missing_sections(tmp_path):
    run = tmp_path / "run"
    for name, f1 in (("70-20-10", 0.4), ("80-10-10", 0.6)):
        d = run / f"split_{name.replace('-', '_')}"
        d.mkdir(parents=True)
        (d / "evaluation_results.json").write_text(json.dumps(minimal_result(name, f1)))
    (run / "peers.csv").write_text("model,f1\nridge,0.2\n")
    html = build_run_page(run)
    assert "best split" in html and "80-10-10" in html
    assert (
        html.count('class="tab-panel') == 2 and 'class="tab-panel active" id="splits-split-80-10-10"' in html
    )
    assert "peer_ridge" in html and "Brier" in html and "[0.200, 0.400]" in html
    assert "More results" in html and "cutoff_year" in html and "2,015" in html
    assert "peers.csv" in html and "ridge" in html
    assert "no table_report.json" in html
    assert "data:image/png;base64," in html  # training curves drawn from the history (no PNG file)
    for name in CLASS_NAMES:
        assert name in html
    # Nothing but scores: still a page.
    bare = tmp_path / "bare" / "split_x"
    bare.mkdir(parents=True)
    (bare / "evaluation_results.json").write_text(json.dumps({"split": "x", "test": {"accuracy": 0.5}}))
    path = write_run_report(bare.parent)
    assert path.name == "report.html" and "0.500" in path.read_text()


def test_files_section_links_every_file(tmp_path):
    run = tmp_path / "run"
    split = run / "split_70_20_10"
    split.mkdir(parents=True)
    (split / "evaluation_results.json").write_text(json.dumps(minimal_result("70-20-10", 0.4)))
    (run / "config.toml").write_text("[eval]\nconfidence = 0.9\n")
    (run / "notes #1 <b>.txt").write_text("x")
    html = build_run_page(run)
    files = html[html.index('id="files"') :]
    assert '<a href="config.toml">config.toml</a>' in files
    results = "split_70_20_10/evaluation_results.json"
    assert f'<a href="{results}">{results}</a>' in files
    # A name is text, never markup, and its link is a URL path ("#" would cut it short).
    assert '<a href="notes%20%231%20%3Cb%3E.txt">notes #1 &lt;b&gt;.txt</a>' in files
    assert "&lt;a href" not in files


def test_run_page_errors_name_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="pass the --out folder"):
        build_run_page(tmp_path)


def test_evaluation_and_predictions_pages():
    import pandas as pd

    res = {**minimal_result("scored table", 0.3), "model": "runs/x", "source": "held_out.csv"}
    html = evaluation_page(res, "eval")
    assert "held_out.csv" in html and "Confusion matrix (scored films)" in html
    df = pd.DataFrame(
        {
            "film_id": ["a", "b"],
            "title": ["Alpha", "<Beta>"],
            "predicted_class": [7, 0],
            "class_name": ["Blockbuster", "Disaster"],
            "confidence": [0.8, 0.4],
            **{f"p_{n}": [0.1, 0.1] for n in CLASS_NAMES},
            "modalities_used": ["text", "text"],
            "contribution_text": [0.2, -0.05],
        }
    )
    html = predictions_page(df, model="runs/x")
    assert "&lt;Beta&gt;" in html and "7\u00a0Blockbuster" in html and html.count('class="bar neg"') == 1
    assert 'class="data sortable"' in html and "Superhit" in html


# ---- a real run, logged the way CI sees it --------------------------------------------------------------
@pytest.fixture(scope="module")
def piped_run(tiny_bert, films_csv, tmp_path_factory):
    """`reelcast train` as a subprocess with stderr piped (not a terminal): the run folder and its log."""
    root = tmp_path_factory.mktemp("piped")
    out = root / "run"
    env = {k: v for k, v in os.environ.items() if k != "REELCAST_PROGRESS"}
    cmd = [
        sys.executable,
        "-m",
        "reelcast.cli",
        "train",
        "--data",
        str(films_csv),
        "--out",
        str(out),
        "--text-model",
        str(tiny_bert),
        "--media",
        "simulated",
        "--tabular",
        "auto",
        "--splits",
        "70-20-10,80-10-10",
        "--epochs",
        "3",
        "--patience",
        "2",
        "--lr",
        "1e-3",
        "--cache-dir",
        str(root / "cache"),
        "--set",
        "eval.bootstrap=50",
        "--set",
        "text.max_length=64",
        "--set",
        "eval.permutation_repeats=2",
        "--set",
        "text.batch_size=16",
        # Short simulated trailers: the audio network over 30 s of spectrogram dominated the test's time.
        "--set",
        "media.num_frames=4",
        "--set",
        "media.audio_seconds=2",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stdout, proc.stderr


def test_piped_train_log_has_no_redraws(piped_run):
    _, stdout, stderr = piped_run
    assert "\r" not in stderr and "\x1b[" not in stderr  # no progress-bar redraws, no cursor codes
    lines = stderr.splitlines()
    # One line per stage, each with its count, rate and time.
    stage = re.compile(r"(encode text|train 70-20-10|ablation 80-10-10): \d+(/\d+)? \w+ in [\d.]+ s \(")
    found = {m.group(1) for line in lines if (m := stage.search(line))}
    assert found == {"encode text", "train 70-20-10", "ablation 80-10-10"}, stderr[-2000:]
    # The full model's closing line (a long stage may also say how far it is); baselines are quiet.
    closing = [line for line in lines if "train 70-20-10: " in line and " so far " not in line]
    assert len(closing) == 1, closing
    assert "report.html" in stdout and "best split by test macro-F1" in stdout


def test_run_report_has_every_section(piped_run):
    out, _, _ = piped_run
    html = (out / "report.html").read_text()
    for title in (
        "Split comparison",
        "Confusion matrix",
        "Training curves",
        "Classes",
        "Ablation and peers",
        "Significance",
        "Calibration",
        "Modality contributions",
        "Permutation importance",
        "Table report",
        "Configuration",
    ):
        assert f">{title}" in html, title
    assert "significantly" in html and "trailer hit rate" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing loads from the network
    # `reelcast report` rebuilds the same page from the files.
    from typer.testing import CliRunner

    from reelcast.cli import app

    (out / "report.html").unlink()
    r = CliRunner().invoke(app, ["report", str(out), "-q"])
    assert r.exit_code == 0 and (out / "report.html").exists(), r.output


@pytest.mark.browser
def test_report_in_chromium(piped_run):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright Python package is not installed"
    )
    out, _, _ = piped_run
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            requests, errors = [], []
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((out / "report.html").resolve().as_uri())
            assert not errors and all(u.startswith(("file:", "data:")) for u in requests), requests

            # Figures: every inline PNG decodes, interval charts are drawn.
            imgs = page.locator("img")
            assert imgs.count() >= 6  # per split: training curves, ablation, calibration
            assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
            assert page.locator("svg.chart circle").count() >= 4
            # The best split's tab is open; its confusion matrix names all eight classes.
            panel = page.locator(".tab-panel.active")
            assert panel.count() == 1
            header = panel.locator("table.heatmap thead th").all_inner_texts()
            assert [h.split(" ", 1)[1] for h in header[1:]] == CLASS_NAMES
            assert panel.locator("table.data").count() >= 5
            # Switching tabs shows the other split.
            other = page.locator(".tab:not(.active)").first
            name = other.inner_text().split()[-1]  # read before the click: the locator is lazy
            other.click()
            assert page.locator(".tab-panel.active").get_attribute("id").endswith(name)
            # The comparison table sorts on a click (macro-F1, ascending then descending).
            table = page.locator("#comparison table.data").first
            col = [h.strip(" ⇅▲▼") for h in table.locator("thead th").all_inner_texts()].index("macro-F1")
            table.locator("thead th").nth(col).click()
            vals = [float(v) for v in table.locator(f"tbody td:nth-child({col + 1})").all_inner_texts()]
            assert vals == sorted(vals)
            page.reload()  # the page as a user first sees it
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            height = min(3200, page.evaluate("document.body.scrollHeight"))
            page.screenshot(
                path=str(SCREENSHOT), clip={"x": 0, "y": 0, "width": 1280, "height": height}, full_page=True
            )
        finally:
            browser.close()

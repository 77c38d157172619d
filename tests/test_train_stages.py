"""Every stage of `train` says what it did, with its rate, in a piped log (no long silent stretch)."""

from __future__ import annotations

import logging
import re

from helpers import tiny_config

from reelcast.experiment import run_train

# The stages of one split, in the order they run; each must log its own summary line.
STAGES = [
    r"^train 70-20-10: [\d/]+ epoch in .*; best epoch .*; batch 16, lr .*, \d+ steps",
    r"^text stack \(out-of-fold ridge\): \d+ film in ",
    r"^trees gbm_classifier \(\d+ films\): 2 booster in .*; best rounds \d+, \d+",
    r"^trees gbm_regressor \(\d+ films\): 2 booster in ",
    r"^predict every film 70-20-10: 96 film in ",
    r"^test metrics and intervals 70-20-10: ",
    r"^save model 70-20-10: ",
    r"^permutation importance \(\d+ test films\): \d+ shuffle in ",
    r"^ablation 70-20-10: ",
    r"^intervals and tests 70-20-10: ",
    r"^permutation importance, plain trees \(\d+ test films\): ",
    r"^write split folder 70-20-10: ",
]


def test_every_stage_of_a_tiny_train_logs_its_line_in_order(
    tiny_bert, films_csv, tmp_path, caplog, monkeypatch
):
    monkeypatch.setenv("REELCAST_PROGRESS", "lines")  # as in a piped log
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=3, patience=2)
    cfg.ensemble.seeds = 2
    cfg.eval.permutation_repeats = 2
    with caplog.at_level(logging.INFO, logger="reelcast"):
        run_train(cfg, films_csv, tmp_path / "run", progress=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "reelcast.progress"]
    at = 0
    for pattern in STAGES:
        found = next((i for i in range(at, len(lines)) if re.search(pattern, lines[i])), None)
        assert found is not None, f"no line {pattern!r} after line {at} in:\n" + "\n".join(lines)
        at = found + 1
    assert all(re.search(r" in [\d.]+ s \(", ln) for ln in lines)  # every line has its time and rate

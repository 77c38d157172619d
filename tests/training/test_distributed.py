"""`reelcast train --finetune-text` under torchrun: 2 CPU processes (gloo, loopback) against one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from reelcast.cli import app

# Largest difference allowed between 1 and 2 processes (measured: about 1e-6, float summation order).
TOL = 2e-5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def bert_no_dropout(tmp_path_factory) -> Path:
    """The tiny random BERT with dropout off, so one process and two can take the same steps."""
    from reelcast.encoders.text import save_tiny_bert

    d = save_tiny_bert(tmp_path_factory.mktemp("models") / "bert0", seed=0)
    cfg = json.loads((d / "config.json").read_text())
    cfg["hidden_dropout_prob"] = cfg["attention_probs_dropout_prob"] = 0.0
    (d / "config.json").write_text(json.dumps(cfg))
    return d


@pytest.fixture(scope="module")
def films80(tmp_path_factory) -> Path:
    """80 films: 56 training films, an even number, so the sampler shards them without padding."""
    from reelcast.data.demo import make_catalogue

    path = tmp_path_factory.mktemp("data") / "films80.csv"
    make_catalogue(80, seed=3).to_csv(path, index=False)
    return path


def network_state(split_dir: Path) -> dict:
    """The saved fusion network's own state (weights under "state_dict")."""
    from reelcast.checkpoint import read

    (fusion,) = [c["state"] for c in read(split_dir)["ensemble"]["components"] if c["name"] == "fusion"]
    return fusion


def train_args(data: Path, out: Path, bert: Path, cache: Path) -> list[str]:
    sets = ["model.dropout=0", "model.modality_dropout=0", "eval.bootstrap=20", "train.text_lr=0.001"]
    sets += ["text.max_length=48"]
    args = ["train", "--data", str(data), "--out", str(out), "--text-model", str(bert), "--finetune-text"]
    args += ["--splits", "70-20-10", "--epochs", "2", "--patience", "2", "--batch-size", "8", "--lr", "0.001"]
    args += ["--no-ablation", "--seed", "5", "--cache-dir", str(cache), "-q"]
    for s in sets:
        args += ["--set", s]
    return args


def test_two_ddp_processes_match_one(films80, bert_no_dropout, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    result = CliRunner().invoke(app, train_args(films80, one, bert_no_dropout, tmp_path / "c1"))
    assert result.exit_code == 0, result.output

    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2"]
    cmd += ["--master-addr", "127.0.0.1", "--master-port", str(free_port()), "-m", "reelcast.cli"]
    proc = subprocess.run(
        cmd + train_args(films80, two, bert_no_dropout, tmp_path / "c2"),
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("best split by test macro-F1") == 1  # rank 0 alone prints and writes

    a, b = (network_state(run / "split_70_20_10") for run in (one, two))
    assert sorted(p.name for p in one.rglob("*")) == sorted(p.name for p in two.rglob("*"))
    ra = json.loads((one / "split_70_20_10" / "evaluation_results.json").read_text())
    rb = json.loads((two / "split_70_20_10" / "evaluation_results.json").read_text())
    assert ra["best_epoch"] == rb["best_epoch"]
    # Same steps on the same batches: equal up to float summation order.
    sa, sb = a["state_dict"], b["state_dict"]
    diff = max((sa[k].float() - sb[k].float()).abs().max().item() for k in sa)
    assert diff < TOL, f"2-process weights differ from 1-process weights by {diff}"
    for ha, hb in zip(ra["history"], rb["history"], strict=True):
        assert ha["train_loss"] == pytest.approx(hb["train_loss"], abs=TOL)
        assert ha["val_loss"] == pytest.approx(hb["val_loss"], abs=TOL)
    pa = pd.read_csv(one / "split_70_20_10" / "test_predictions.csv")
    pb = pd.read_csv(two / "split_70_20_10" / "test_predictions.csv")
    p_cols = [c for c in pa if c.startswith("p_")]
    assert np.allclose(pa[p_cols].to_numpy(), pb[p_cols].to_numpy(), atol=TOL)

    # The comparison means something: fine-tuning moved the text model far more than the tolerance.
    from safetensors.torch import load_file

    init = load_file(str(bert_no_dropout / "model.safetensors"))
    moved = max(
        (a["state_dict"][f"text_backbone.{k}"].float() - v.float()).abs().max().item()
        for k, v in init.items()
        if f"text_backbone.{k}" in a["state_dict"]
    )
    assert moved > 50 * TOL

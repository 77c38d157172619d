"""What the AutoGluon peer scripts share: reading a split folder and writing what was fitted."""

import json
import sys
from pathlib import Path

import pandas as pd


def read_split(argv=None):
    """(DIR, TIME_LIMIT, SEED, PRESETS, train, val, test) from `DIR TIME_LIMIT SEED [PRESETS]`."""
    argv = sys.argv[1:] if argv is None else argv
    d, limit, seed = Path(argv[0]), int(argv[1]), int(argv[2])
    presets = argv[3] if len(argv) > 3 else "medium_quality"
    train, val, test = (pd.read_csv(d / f"{p}.csv") for p in ("train", "val", "test"))
    for f in (train, val, test):
        for col in f.columns:
            if f[col].dtype == object:  # text and list columns: an empty cell is an empty string
                f[col] = f[col].fillna("").astype(str)
    return d, limit, seed, presets, train, val, test


def write_meta(d: Path, pred, presets: str, version: str) -> None:
    """DIR/meta.json: the AutoGluon version, presets, best model and the leaderboard's head."""
    lb = pred.leaderboard(silent=True)
    meta = {
        "version": version,
        "presets": presets,
        "best": pred.model_best,
        "models": lb["model"].head(5).tolist(),
        "n_models": int(len(lb)),
    }
    (d / "meta.json").write_text(json.dumps(meta))

"""Fit AutoGluon Tabular on one split; run with the python of a venv that has autogluon.tabular.

    python autogluon_fit.py DIR TIME_LIMIT SEED [PRESETS]
DIR holds train.csv, val.csv, test.csv with a `label` column (class 0..7); writes DIR/val_probs.csv and
DIR/test_probs.csv (8 columns, class order) and DIR/meta.json (best model, leaderboard head, version).
PRESETS defaults to medium_quality; bagged presets (best/high/good/extreme) keep the validation films as
the holdout that weights their ensemble, so every preset tunes on the same films.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from autogluon.tabular import TabularPredictor, __version__

d, limit, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
presets = sys.argv[4] if len(sys.argv) > 4 else "medium_quality"
train, val, test = (pd.read_csv(d / f"{p}.csv") for p in ("train", "val", "test"))
for f in (train, val, test):
    for col in f.columns:
        if f[col].dtype == object:  # text and list columns: an empty cell is an empty string
            f[col] = f[col].fillna("").astype(str)
np.random.seed(seed)
bagged = presets.split("_")[0] in ("best", "high", "good", "extreme")
pred = TabularPredictor(
    label="label", problem_type="multiclass", eval_metric="accuracy", path=str(d / "ag"), verbosity=0
).fit(
    train,
    tuning_data=val,
    presets=presets,
    time_limit=limit,
    num_cpus=2,
    ag_args_fit={"random_seed": seed},
    **({"use_bag_holdout": True} if bagged else {}),
)
for part, frame in (("val", val), ("test", test)):
    probs = pred.predict_proba(frame.drop(columns=["label"]))
    probs.reindex(columns=list(range(8)), fill_value=0.0).to_csv(d / f"{part}_probs.csv", index=False)
lb = pred.leaderboard(silent=True)
meta = {
    "version": __version__,
    "presets": presets,
    "best": pred.model_best,
    "models": lb["model"].head(5).tolist(),
    "n_models": int(len(lb)),
}
(d / "meta.json").write_text(json.dumps(meta))

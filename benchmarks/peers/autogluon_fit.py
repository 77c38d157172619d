"""Fit AutoGluon Tabular on one split; run with the python of a venv that has autogluon.tabular.

    python autogluon_fit.py DIR TIME_LIMIT SEED
DIR holds train.csv, val.csv, test.csv with a `label` column (class 0..7); writes DIR/test_probs.csv
(8 columns, class order) and DIR/meta.json (best model, leaderboard head, version).
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from autogluon.tabular import TabularPredictor, __version__

d, limit, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
train, val, test = (pd.read_csv(d / f"{p}.csv") for p in ("train", "val", "test"))
for f in (train, val, test):
    f["overview"] = f["overview"].fillna("").astype(str)
np.random.seed(seed)
pred = TabularPredictor(
    label="label", problem_type="multiclass", eval_metric="accuracy", path=str(d / "ag"), verbosity=0
).fit(
    train,
    tuning_data=val,
    presets="medium_quality",
    time_limit=limit,
    num_cpus=2,
    ag_args_fit={"random_seed": seed},
)
probs = pred.predict_proba(test.drop(columns=["label"]))
probs = probs.reindex(columns=list(range(8)), fill_value=0.0)
probs.to_csv(d / "test_probs.csv", index=False)
lb = pred.leaderboard(silent=True)
meta = {"version": __version__, "best": pred.model_best, "models": lb["model"].head(5).tolist()}
(d / "meta.json").write_text(json.dumps(meta))

"""Fit AutoGluon Tabular quantile regression on one split; run with the python of a venv with autogluon.

    python autogluon_quantile.py DIR TIME_LIMIT SEED [PRESETS]
DIR holds train.csv, val.csv, test.csv with a `label` column (log(1 + revenue $M)); writes
DIR/test_quantiles.csv (one column per quantile level of QUANTILES) and DIR/meta.json. The validation
films are AutoGluon's tuning data: they stop its models, weight its ensemble and, under its default
`calibrate="auto"`, conformalize its quantiles.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from autogluon.tabular import TabularPredictor, __version__

QUANTILES = [0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975]

d, limit, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
presets = sys.argv[4] if len(sys.argv) > 4 else "medium_quality"
train, val, test = (pd.read_csv(d / f"{p}.csv") for p in ("train", "val", "test"))
for f in (train, val, test):
    for col in f.columns:
        if f[col].dtype == object:  # text and list columns: an empty cell is an empty string
            f[col] = f[col].fillna("").astype(str)
np.random.seed(seed)
pred = TabularPredictor(
    label="label", problem_type="quantile", quantile_levels=QUANTILES, path=str(d / "ag"), verbosity=0
).fit(
    train, tuning_data=val, presets=presets, time_limit=limit, num_cpus=2, ag_args_fit={"random_seed": seed}
)
q = pred.predict(test.drop(columns=["label"]))
q.columns = [f"{c:g}" for c in QUANTILES]
q.to_csv(d / "test_quantiles.csv", index=False)
lb = pred.leaderboard(silent=True)
meta = {
    "version": __version__,
    "presets": presets,
    "best": pred.model_best,
    "models": lb["model"].head(5).tolist(),
    "n_models": int(len(lb)),
}
(d / "meta.json").write_text(json.dumps(meta))

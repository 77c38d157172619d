"""Fit AutoGluon Tabular on one split; run with the python of a venv that has autogluon.tabular.

    python autogluon_fit.py DIR TIME_LIMIT SEED [PRESETS]
DIR holds train.csv, val.csv, test.csv with a `label` column (class 0..7); writes DIR/val_probs.csv and
DIR/test_probs.csv (8 columns, class order) and DIR/meta.json (best model, leaderboard head, version).
PRESETS defaults to medium_quality; bagged presets (best/high/good/extreme) keep the validation films as
the holdout that weights their ensemble, so every preset tunes on the same films.
"""

import numpy as np
from ag_common import read_split, write_meta
from autogluon.tabular import TabularPredictor, __version__

d, limit, seed, presets, train, val, test = read_split()
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
write_meta(d, pred, presets, __version__)

"""Fit AutoGluon Tabular quantile regression on one split; run with the python of a venv with autogluon.

    python autogluon_quantile.py DIR TIME_LIMIT SEED [PRESETS]
DIR holds train.csv, val.csv, test.csv with a `label` column (log(1 + revenue $M)); writes
DIR/test_quantiles.csv (one column per quantile level of QUANTILES) and DIR/meta.json. The validation
films are AutoGluon's tuning data: they stop its models, weight its ensemble and, under its default
`calibrate="auto"`, conformalize its quantiles.
"""

import numpy as np
from ag_common import read_split, write_meta
from autogluon.tabular import TabularPredictor, __version__

QUANTILES = [0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975]

d, limit, seed, presets, train, val, test = read_split()
np.random.seed(seed)
pred = TabularPredictor(
    label="label", problem_type="quantile", quantile_levels=QUANTILES, path=str(d / "ag"), verbosity=0
).fit(
    train, tuning_data=val, presets=presets, time_limit=limit, num_cpus=2, ag_args_fit={"random_seed": seed}
)
q = pred.predict(test.drop(columns=["label"]))
q.columns = [f"{c:g}" for c in QUANTILES]
q.to_csv(d / "test_quantiles.csv", index=False)
write_meta(d, pred, presets, __version__)

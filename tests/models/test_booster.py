"""Boosters scored through LightGBM's C API: the lightgbm package's predictions, without importing it."""

import copy
import os
import pickle
import subprocess
import sys

import lightgbm
import numpy as np
import pytest

from reelcast.models.booster import Booster


def _fitted(objective: str, **extra) -> tuple[lightgbm.Booster, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 6))
    X[rng.random(X.shape) < 0.2] = np.nan  # unknown inputs reach the trees as NaN
    y = rng.integers(0, 4, 300) if objective == "multiclass" else np.nan_to_num(X[:, 0]) * 2 + rng.random(300)
    params = {"objective": objective, "verbosity": -1, "num_threads": 1, "seed": 0, **extra}
    return lightgbm.train(params, lightgbm.Dataset(X, y), num_boost_round=30), X


@pytest.mark.parametrize("objective, extra", [("multiclass", {"num_class": 4}), ("huber", {})])
def test_predictions_and_contributions_are_the_packages_bit_for_bit(objective, extra):
    theirs, X = _fitted(objective, **extra)
    ours = Booster(theirs.model_to_string())
    for threads in (1, 2):
        assert np.array_equal(ours.predict(X, threads=threads), theirs.predict(X))
        assert np.array_equal(
            ours.predict(X, contrib=True, threads=threads), theirs.predict(X, pred_contrib=True)
        )


def test_shapes_copies_and_wrong_widths():
    theirs, X = _fitted("multiclass", num_class=4)
    ours = Booster(theirs.model_to_string())
    assert ours.predict(X[:3]).shape == (3, 4)
    assert ours.predict(X[:0]).shape == (0, 4)
    assert ours.predict(X[:2], contrib=True).shape == (2, 4 * 7)
    for twin in (copy.deepcopy(ours), pickle.loads(pickle.dumps(ours))):
        assert twin._handle.value != ours._handle.value  # its own booster, freed on its own
        assert np.array_equal(twin.predict(X), ours.predict(X))
    with pytest.raises(ValueError, match="reads 6 features per row, got shape \\(2, 5\\)"):
        ours.predict(X[:2, :5])
    with pytest.raises(RuntimeError, match="LightGBM"):
        Booster("not a model")


def test_a_saved_ensemble_predicts_without_importing_lightgbm_or_sklearn(ensemble_model):
    code = (
        "import sys; from reelcast.predictor import RevenuePredictor;"
        f"p = RevenuePredictor.load({str(ensemble_model)!r}, progress=False);"
        "r = p.predict_film('A heist goes wrong.', metadata={'budget_musd': 30.0}, explain=True);"
        "assert r['revenue'] is not None and r['reasons'];"
        "print(sorted(m for m in ('lightgbm', 'sklearn') if m in sys.modules))"
    )
    env = {**os.environ, "REELCAST_PROGRESS": "off"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"

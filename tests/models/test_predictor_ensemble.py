"""The default model on a table with metadata: fusion network + trees, saved, loaded and served."""

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_config

from reelcast.predictor import RevenuePredictor


@pytest.fixture(scope="module")
def ensemble_run(tiny_bert, films_csv, tmp_path_factory, one_thread):
    root = tmp_path_factory.mktemp("ens")
    cfg = tiny_config(tiny_bert, root / "cache")
    cfg.ensemble.seeds, cfg.ensemble.max_rounds, cfg.ensemble.threads = 2, 200, 1
    p = RevenuePredictor(cfg, progress=False).fit(films_csv)
    p.save(root / "model")
    return p, root / "model"


def test_metadata_table_gets_fusion_and_trees_by_default(ensemble_run):
    p, _ = ensemble_run
    assert "tabular" in p.spec_.modalities
    assert [c.name for c in p.components()] == ["fusion", "gbm_classifier", "gbm_regressor"]
    assert [c["kind"] for c in p.describe()["components"]] == ["network", "trees", "trees"]
    b = p.ensemble_.blend
    assert b.components == ["fusion", "gbm_classifier", "gbm_regressor"]
    assert abs(sum(b.weights) - 1) < 1e-9 and b.decision in ("argmax", "median", "expected")


def test_saved_ensemble_predicts_the_same_after_load(ensemble_run, films_csv):
    p, path = ensemble_run
    q = RevenuePredictor.load(path)
    a, b = p.predict(films_csv), q.predict(films_csv)
    pd.testing.assert_frame_equal(a, b)
    assert "tabular" in a["modalities_used"].iloc[0]


def test_single_film_uses_the_metadata_it_is_given(ensemble_run):
    _, path = ensemble_run
    q = RevenuePredictor.load(path)
    plot = "A retired pilot returns for one last mission over the mountains."
    cheap = q.predict_film(plot, "Nightfall", metadata={"budget_musd": 0.5, "year": 2015, "genres": "Horror"})
    big = q.predict_film(plot, "Nightfall", metadata={"budget_musd": 250.0, "year": 2015, "genres": "Action"})
    assert cheap["modalities_used"]["tabular"]
    assert cheap["probabilities"] != big["probabilities"]
    # Budget drives revenue in the demo catalogue: the expensive film's expected class is higher.
    ev = [sum(i * v for i, v in enumerate(r["probabilities"].values())) for r in (cheap, big)]
    assert ev[1] > ev[0]


def test_seed_network_flag_turns_the_trees_off(tiny_bert, films_csv, tmp_path, one_thread):
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=1)
    cfg.ensemble.enabled, cfg.tabular.use_in_fusion = "off", False
    p = RevenuePredictor(cfg, progress=False).fit(films_csv)
    assert p.ensemble_ is None and p.spec_.modalities == ["text"]
    probs = p.predict_proba(films_csv)
    assert np.allclose(probs.sum(1), 1)

"""A component registered from outside the package reaches the blend, the ablation, the checkpoint and
the run's results, with no change to predictor.py, checkpoint.py or serving/."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_config

from reelcast.data.classes import NUM_CLASSES
from reelcast.experiment import run_train
from reelcast.models import Component, FitData, create_component, list_components, register_component
from reelcast.predictor import RevenuePredictor

pytestmark = pytest.mark.usefixtures("one_thread")


@register_component("class_prior")
class ClassPrior(Component):
    """Every film gets the training films' class frequencies."""

    kind = "prior"
    inputs = ()

    def __init__(self, prior: np.ndarray | None = None):
        self.prior = prior

    def fit(self, data: FitData) -> ClassPrior:
        counts = np.bincount(data.y[data.split.train], minlength=NUM_CLASSES).astype(np.float64)
        self.prior = counts / counts.sum()
        return self

    def predict_proba(self, inputs) -> np.ndarray:
        return np.tile(self.prior, (len(inputs), 1))

    def state(self) -> dict:
        return {"prior": [float(v) for v in self.prior]}

    @classmethod
    def from_state(cls, state: dict) -> ClassPrior:
        return cls(np.asarray(state["prior"], dtype=np.float64))

    def describe(self) -> dict:
        return {**super().describe(), "params": {"prior": [round(float(v), 4) for v in self.prior]}}


COMPONENTS = ["fusion", "gbm_classifier", "gbm_regressor", "class_prior"]


@pytest.fixture(scope="module")
def run(tiny_bert, films_csv, tmp_path_factory):
    root = tmp_path_factory.mktemp("prior")
    cfg = tiny_config(tiny_bert, root / "cache", epochs=2)
    cfg.ensemble.components = COMPONENTS
    cfg.ensemble.seeds, cfg.ensemble.max_rounds, cfg.ensemble.threads = 1, 50, 1
    cfg.eval.permutation_repeats = 1
    run_train(cfg, films_csv, root / "run", progress=False)
    return root / "run" / "split_70_20_10"


def test_the_registry_lists_and_creates_it():
    assert {"fusion", "gbm_classifier", "gbm_regressor", "class_prior"} <= set(list_components())
    assert isinstance(create_component("class_prior"), ClassPrior)


def test_it_is_blended_and_described(run):
    p = RevenuePredictor.load(run)
    assert [c.name for c in p.components()] == COMPONENTS
    assert p.ensemble_.blend.components == ["fusion", "gbm_classifier", "gbm_regressor", "class_prior"]
    desc = {c["name"]: c for c in p.describe()["components"]}
    assert desc["class_prior"]["kind"] == "prior" and len(desc["class_prior"]["params"]["prior"]) == 8
    assert set(desc["class_prior"]["weights"]) == {"class_prior"}
    assert sum(p.describe()["weights"].values()) == pytest.approx(1.0)


def test_it_round_trips_through_the_checkpoint(run, films_csv):
    p = RevenuePredictor.load(run)
    prior = p.components()[-1]
    ids = pd.read_csv(run / "split_ids.csv")
    counts = np.bincount(ids[ids["portion"] == "train"]["class"], minlength=8)
    assert prior.prior == pytest.approx(counts / counts.sum())
    heads = p.component_probs(p.prepare_inputs(films_csv)[0])
    assert np.allclose(heads["class_prior"], counts / counts.sum())
    saved = pd.read_csv(run / "test_predictions.csv")
    probs = p.predict(films_csv).set_index("film_id").loc[saved["film_id"].astype(str)]
    np.testing.assert_allclose(
        probs[[c for c in probs if c.startswith("p_")]].to_numpy(),
        saved[[c for c in saved if c.startswith("p_")]].to_numpy(),
        atol=1e-6,
    )


def test_it_is_in_the_ablation_and_the_results(run):
    df = pd.read_csv(run / "ablation.csv", keep_default_na=False)
    row = df.set_index("model").loc["component_class_prior"]
    assert row["note"].startswith("blend weight ")
    res = json.loads((run / "evaluation_results.json").read_text())
    assert [c["name"] for c in res["components"]] == COMPONENTS
    assert "component_class_prior" in res["significance"]["comparisons"]


def test_it_is_on_the_model_endpoint_and_the_report(run):
    from fastapi.testclient import TestClient

    from reelcast.reports.run_page import build_run_page
    from reelcast.serving.app import create_app

    with TestClient(create_app(predictor=RevenuePredictor.load(run))) as client:
        info = client.get("/model").json()
    assert set(info["components"]) == set(COMPONENTS)
    html = build_run_page(run.parent)
    assert "Model components" in html and "class_prior" in html

"""GET /model's account of what the model reads and what its training run measured."""

from __future__ import annotations

import json
import shutil

import pytest
from fastapi.testclient import TestClient

from reelcast.serving.app import create_app
from reelcast.serving.model_card import RESULTS, metadata_fields, run_evaluation

# The shape `reelcast train` writes (experiment._evaluate_and_write), reduced to what the page reads.
RESULTS_JSON = {
    "split": "70-20-10",
    "sizes": {"train": 280, "val": 80, "test": 40},
    "class_counts": {"train": [35] * 8},
    "thresholds_dollars": "nominal",
    "years": {"train": {"first": 1930, "last": 2016, "films": 280}, "val": None, "test": None},
    "test_ci": {
        "accuracy": {"point": 0.325, "low": 0.2, "high": 0.47},
        "qwk": {"point": 0.65, "low": None, "high": 0.79},  # an undefined interval is left out
    },
}


def test_metadata_fields_follow_the_feature_groups_in_the_schemas_order():
    columns = ["year", "runtime", "budget_musd", "release_month", "genres", "franchise", "people", "src:x"]
    assert metadata_fields(columns) == [
        "budget_musd",
        "release_date",
        "year",
        "runtime",
        "genres",
        "keywords",
        "collection",
        "director",
        "cast",
    ]
    assert metadata_fields(["calendar", "budget_flags"]) == ["budget_musd", "release_date"]
    assert metadata_fields(["src:popularity"]) == []  # a training-table column no request can carry


def test_run_evaluation_reads_the_revenue_ranges_test_coverage(tmp_path):
    ci = {"point": 0.78, "low": 0.74, "high": 0.82}
    level = {"nominal": 0.8, "coverage": ci, "median_width_musd": {"point": 90.0, "low": 80.0, "high": 99.0}}
    intervals = {"method": "conformal", "test": {"80": level, "films": 40, "median_abs_log_error": 0.9}}
    (tmp_path / RESULTS).write_text(json.dumps({**RESULTS_JSON, "revenue_intervals": intervals}))
    ev, _ = run_evaluation(str(tmp_path), 0.95)
    assert list(ev.revenue_coverage) == ["80"]
    assert ev.revenue_coverage["80"].coverage.low == 0.74 and ev.revenue_coverage["80"].nominal == 0.8


def test_run_evaluation_reads_the_results_beside_the_model(tmp_path):
    (tmp_path / RESULTS).write_text(json.dumps(RESULTS_JSON))
    ev, note = run_evaluation(str(tmp_path), 0.95)
    assert note == ""
    assert ev.films == {"train": 280, "val": 80, "test": 40}
    assert ev.years["train"].first == 1930 and ev.years["test"] is None
    assert list(ev.test) == ["accuracy"] and ev.test["accuracy"].low == 0.2
    assert ev.train_class_counts == [35] * 8 and ev.confidence == 0.95
    # The checkpoint file itself stands for its folder.
    assert run_evaluation(str(tmp_path / "best_multimodal_model.pth"), 0.95)[0] == ev


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "No evaluation_results.json beside this model"),
        ("{not json", "could not be read (JSONDecodeError)"),
        (json.dumps({"sizes": {"test": 3}}), "could not be read (KeyError)"),
    ],
)
def test_run_evaluation_says_why_there_is_nothing_to_show(tmp_path, content, says):
    if content is not None:
        (tmp_path / RESULTS).write_text(content)
    ev, note = run_evaluation(str(tmp_path), 0.95)
    assert ev is None and says in note
    assert str(tmp_path) not in note  # no server paths
    assert run_evaluation("<in memory>", 0.95)[1].startswith("This model was given to the server in memory")


def test_model_endpoint_adds_fields_and_results(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    client = TestClient(create_app(run))
    info = client.get("/model").json()
    assert info["metadata_fields"] == [] and info["feature_groups"] == []  # a text-only model
    assert info["evaluation"] is None and "No evaluation_results.json" in info["evaluation_note"]
    (run / RESULTS).write_text(json.dumps(RESULTS_JSON))
    info = client.get("/model").json()  # read again: the results appeared after the server started
    assert info["evaluation"]["test"]["accuracy"] == {"point": 0.325, "low": 0.2, "high": 0.47}
    assert info["evaluation_note"] == ""
    assert info["class_names"] and info["modalities"] == ["text"]  # the existing fields stay


def test_model_endpoint_names_the_metadata_fields_of_a_metadata_model(ensemble_model):
    info = TestClient(create_app(ensemble_model)).get("/model").json()
    # The demo table has budget, year, runtime and genres; a release date gives the year.
    assert info["metadata_fields"] == ["budget_musd", "year", "runtime", "genres"]
    assert "budget_real" in info["feature_groups"] and info["uses_metadata"] is True

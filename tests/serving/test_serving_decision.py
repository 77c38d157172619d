"""POST /predict with the revenue range, "breakeven" and "explain": the fields the page and clients read."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from helpers.hostile_media import growing_stream

from reelcast.serving.app import create_app

PLOT = "A retired detective returns for one last case in a city that has forgotten him."
META = {"budget_musd": 80.0, "release_date": "2015-07-03", "genres": ["Action"], "runtime": 120}


@pytest.fixture(scope="module")
def client(ensemble_model):
    with TestClient(create_app(ensemble_model)) as c:
        yield c


def test_every_prediction_has_its_revenue_range(client):
    r = client.post("/predict", json={"description": PLOT, "metadata": META})
    assert r.status_code == 200, r.text
    body = r.json()
    rev = body["revenue"]
    assert rev["dollars"] == "nominal" and rev["p_at_least"] is None
    lo95, hi95 = rev["intervals"]["95"]
    lo50, hi50 = rev["intervals"]["50"]
    assert lo95 <= lo50 <= rev["median_musd"] <= hi50 <= hi95
    assert body["reasons"] is None


def test_breakeven_and_reasons_when_asked(client):
    req = {"description": PLOT, "metadata": META, "breakeven": "2.5x", "explain": True}
    body = client.post("/predict", json=req).json()
    assert body["revenue"]["p_at_least"]["threshold_musd"] == 200.0
    assert 0 <= body["revenue"]["p_at_least"]["p"] <= 1
    reasons = body["reasons"]
    assert reasons and {"input", "value", "effect_classes", "text"} == set(reasons[0])
    assert any(x["input"] == "budget" and x["value"] == "$80 M" for x in reasons)
    dollars = client.post("/predict", json={**req, "breakeven": 50}).json()["revenue"]["p_at_least"]
    assert dollars["threshold_musd"] == 50.0 and dollars["p"] >= body["revenue"]["p_at_least"]["p"]


@pytest.mark.parametrize(
    "extra,message",
    [
        ({"breakeven": "2.5x", "metadata": None}, "the film has no budget"),
        ({"breakeven": "plenty"}, "give a multiple of the budget"),
        ({"breakeven": True}, "breakeven must be"),
    ],
)
def test_a_bad_breakeven_is_a_422_that_says_why(client, extra, message):
    r = client.post("/predict", json={"description": PLOT, "metadata": META, **extra})
    assert r.status_code == 422 and message in r.text, r.text


@pytest.fixture(scope="module")
def trailer(tmp_path_factory):
    # A small valid H.264 MPEG-TS (both segments the same size).
    return growing_stream(tmp_path_factory.mktemp("up") / "t.ts", 64, 64, 6, 2).read_bytes()


def upload(client, trailer, **fields):
    data = {"description": PLOT, "metadata": json.dumps(META), **fields}
    return client.post("/predict/upload", data=data, files={"file": ("t.ts", trailer, "video/mp2t")})


def test_upload_takes_breakeven_and_explain_like_the_json_body(client, trailer):
    plain = upload(client, trailer)
    assert plain.status_code == 200, plain.text
    assert plain.json()["reasons"] is None and plain.json()["revenue"]["p_at_least"] is None
    body = upload(client, trailer, breakeven="2.5x", explain="true").json()
    json_body = client.post(
        "/predict", json={"description": PLOT, "metadata": META, "breakeven": "2.5x", "explain": True}
    ).json()
    assert body["revenue"]["p_at_least"] == json_body["revenue"]["p_at_least"]
    assert body["revenue"]["p_at_least"]["threshold_musd"] == 200.0
    assert any(x["input"] == "budget" and x["value"] == "$80 M" for x in body["reasons"])
    assert upload(client, trailer, breakeven="50", explain="false").json()["reasons"] is None


@pytest.mark.parametrize(
    "fields,field,message",
    [
        ({"breakeven": "2.5x", "metadata": ""}, "breakeven", "the film has no budget"),
        ({"breakeven": "plenty"}, "breakeven", "give a multiple of the budget"),
        ({"explain": "maybe"}, "explain", "explain must be true or false"),
    ],
)
def test_a_bad_upload_option_is_a_422_naming_the_field(client, trailer, fields, field, message):
    r = upload(client, trailer, **fields)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == field and message in r.text


def test_model_says_how_the_revenue_range_is_calibrated(client):
    info = client.get("/model").json()["revenue_intervals"]
    assert info["method"] == "conformal" and info["centred_on"] == "gbm_regressor"
    assert info["levels"] == ["50", "80", "95"] and info["calibration_films"] > 0
    held = info["validation_coverage"]
    assert 0.5 <= held["50"] <= held["80"] <= held["95"] <= 1.0 and held["80"] >= 0.8

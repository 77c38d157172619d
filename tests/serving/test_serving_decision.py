"""POST /predict with the revenue range, "breakeven" and "explain": the fields the page and clients read."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

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

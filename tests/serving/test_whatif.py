"""POST /whatif: the curve of a film over one or two varied inputs, bounded, and 422s naming the field."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from helpers.served_models import trained_trailer_model
from helpers.whatif_model import metadata_run

from reelcast.serving.app import create_app
from reelcast.serving.settings import ServeSettings

PLOT = "A retired safecracker is pulled back for one last job inside the city's most secure casino vault."
META = {"budget_musd": 60, "release_date": "2026-07-03", "genres": ["Action"], "director": "Bo Kim"}


@pytest.fixture(scope="module")
def predictor(tiny_bert, tmp_path_factory, one_thread):
    from reelcast.predictor import RevenuePredictor

    return RevenuePredictor.load(metadata_run(tiny_bert, tmp_path_factory.getbasetemp()))


@pytest.fixture(scope="module")
def client(predictor):
    with TestClient(create_app(predictor=predictor)) as c:
        yield c


def whatif(client, *vary, **film):
    return client.post(
        "/whatif",
        json={"description": PLOT, "title": "The Vault", "metadata": META, **film, "vary": list(vary)},
    )


def test_a_30_point_budget_curve_in_one_call_equal_to_predict(client, predictor, monkeypatch):
    calls = []
    batch = predictor.predict
    monkeypatch.setattr(predictor, "predict", lambda data: calls.append(1) or batch(data))
    r = whatif(client, {"field": "budget_musd", "from": 20, "to": 300, "steps": 30})
    assert r.status_code == 200, r.text
    assert len(calls) == 1
    curve = r.json()
    assert curve["field"] == "budget_musd" and len(curve["points"]) == 30 and curve["warnings"] == []
    first, last = curve["points"][0], curve["points"][-1]
    assert first["value"] == 20 and last["value"] == 300 and first["label"] == "$20 M"
    assert set(first) >= {"value", "probabilities", "predicted_class", "expected_class", "revenue"}
    assert len(first["probabilities"]) == 8 and set(first["revenue"]["intervals"]) == {"50", "80", "95"}
    for point in (first, last):
        alone = client.post(
            "/predict",
            json={
                "description": PLOT,
                "title": "The Vault",
                "metadata": {**META, "budget_musd": point["value"]},
            },
        ).json()
        assert point["predicted_class"] == alone["predicted_class"]
        np.testing.assert_allclose(
            point["probabilities"], [c["probability"] for c in alone["probabilities"]], atol=1e-5
        )


def test_release_months_and_a_second_field(client):
    r = whatif(
        client,
        {"field": "release_date", "from": "2026-06", "to": "2026-08"},
        {"field": "director", "values": ["Ann Lee", "Di Fox"]},
    )
    assert r.status_code == 200, r.text
    points = r.json()["points"]
    assert [(p["values"]["release_date"], p["values"]["director"]) for p in points] == [
        (d, who) for d in ("2026-06-03", "2026-07-03", "2026-08-03") for who in ("Ann Lee", "Di Fox")
    ]
    assert points[2]["season"] == "Jul · summer · July 4"
    # The director with the training table's best record lifts the expected class in every month.
    assert all(points[i + 1]["expected_class"] > points[i]["expected_class"] for i in (0, 2, 4))


@pytest.mark.parametrize(
    ("vary", "where", "message"),
    [
        (
            [{"field": "budget", "from": 1, "to": 2}],
            "vary.0.field",
            "cannot vary 'budget'; the fields a sweep can vary are budget_musd, runtime, year, release_date",
        ),
        (
            [{"field": "keywords", "values": ["heist"]}],
            "vary",
            "this model never reads keywords, so varying it changes nothing; it reads budget_musd",
        ),
        ([{"field": "trailer"}], "vary", "this model never reads trailer"),
        (
            [{"field": "budget_musd", "to": 300}],
            "vary.0",
            "give `from` and `to` as numbers to vary budget_musd",
        ),
        (
            [
                {"field": "budget_musd", "from": 1, "to": 300, "steps": 30},
                {"field": "runtime", "from": 80, "to": 200},
            ],
            "vary",
            "the sweep has 450 points; at most 60",
        ),
        (
            [{"field": "release_date", "from": "2026-13", "to": "2027-01"}],
            "vary.0",
            "release_date sweep: '2026-13' is not a month as YYYY-MM",
        ),
        (
            [{"field": "director", "values": [["A", "B"]]}],
            "vary.0",
            "the values of director are single names",
        ),
    ],
)
def test_a_bad_sweep_is_a_422_naming_the_field(client, vary, where, message):
    r = whatif(client, *vary)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert ".".join(str(x) for x in detail["loc"][1:]) == where
    assert detail["msg"].startswith(message), detail["msg"]


def test_a_sweep_is_bounded_by_the_schema(client):
    assert whatif(client).status_code == 422  # nothing to vary
    three = [{"field": f, "from": 1, "to": 2} for f in ("budget_musd", "runtime", "year")]
    assert whatif(client, *three).status_code == 422
    r = whatif(client, {"field": "budget_musd", "from": 1, "to": 2, "steps": 61})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "steps"


def test_a_text_only_model_says_it_reads_the_plot_alone(tiny_run):
    with TestClient(create_app(tiny_run)) as c:
        r = whatif(c, {"field": "budget_musd", "from": 10, "to": 20})
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"].endswith("it reads none: it reads the plot alone")


def test_with_and_without_the_trailer(tiny_bert, tmp_path_factory):
    model = trained_trailer_model(tiny_bert, tmp_path_factory.getbasetemp())
    trailer = tmp_path_factory.getbasetemp() / "served_trailer_model" / "t3.mp4"
    app = create_app(predictor=model, settings=ServeSettings(allow_local_trailers=True))
    with TestClient(app) as c:
        r = c.post(
            "/whatif", json={"description": PLOT, "trailer_url": str(trailer), "vary": [{"field": "trailer"}]}
        )
        assert r.status_code == 200, r.text
        with_it, without = r.json()["points"]
        assert (with_it["value"], without["value"]) == ("with", "without")
        alone = {
            "with": model.predict_film(PLOT, trailer=str(trailer)),
            "without": model.predict_film(PLOT),
        }
        for point in (with_it, without):
            np.testing.assert_allclose(
                point["probabilities"], list(alone[point["value"]]["probabilities"].values()), atol=1e-5
            )
        assert with_it["probabilities"] != without["probabilities"]
        r = c.post("/whatif", json={"description": PLOT, "vary": [{"field": "trailer"}]})
        assert r.status_code == 422 and "give the film's trailer" in r.json()["detail"][0]["msg"]

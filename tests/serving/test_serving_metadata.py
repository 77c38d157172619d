"""The API serves the default ensemble: metadata in, trees used, bad metadata refused with a 422."""

import pytest
from fastapi.testclient import TestClient

from reelcast.serving.app import create_app

PLOT = "A retired pilot returns for one last mission over the mountains."


@pytest.fixture(scope="module")
def client(ensemble_model):
    with TestClient(create_app(ensemble_model)) as c:
        yield c


def test_model_info_names_the_components_and_metadata(client):
    info = client.get("/model").json()
    assert info["uses_metadata"] is True and "tabular" in info["modalities"]
    assert set(info["components"]) == {"fusion", "gbm_classifier", "gbm_regressor"}
    assert abs(sum(info["components"].values()) - 1) < 1e-9 and info["decision"] in (
        "argmax",
        "median",
        "expected",
    )


def test_metadata_reaches_the_trees(client):
    def ask(meta):
        r = client.post("/predict", json={"description": PLOT, "title": "Nightfall", "metadata": meta})
        assert r.status_code == 200, r.text
        return r.json()

    cheap = ask({"budget_musd": 0.5, "release_date": "2015-02-10", "genres": ["Horror"], "runtime": 85})
    big = ask({"budget_musd": 250, "release_date": "2015-07-03", "genres": ["Action"], "runtime": 140})
    assert cheap["modalities_used"]["tabular"] and big["modalities_used"]["tabular"]
    ev = [sum(p["index"] * p["probability"] for p in r["probabilities"]) for r in (cheap, big)]
    assert ev[1] > ev[0]  # in the demo catalogue budget drives revenue


@pytest.mark.parametrize(
    "meta,field",
    [
        ({"budget_musd": -1}, "budget_musd"),
        ({"release_date": "07/03/2015"}, "release_date"),
        ({"runtime": 0}, "runtime"),
        ({"genres": ["x" * 500]}, "genres"),
        ({"studio": "A24"}, "studio"),
        ({"year": 1200}, "year"),
    ],
)
def test_bad_metadata_is_a_422_naming_the_field(client, meta, field):
    r = client.post("/predict", json={"description": PLOT, "metadata": meta})
    assert r.status_code == 422
    assert any(field in ".".join(map(str, e["loc"])) for e in r.json()["detail"]), r.text


def test_bad_metadata_in_an_upload_is_a_422_before_the_file(client):
    form = {"description": (None, PLOT), "metadata": (None, '{"budget_musd": "lots"}')}
    r = client.post("/predict/upload", files=form)
    assert r.status_code == 422 and "metadata.budget_musd" in r.text


def test_a_request_without_metadata_is_answered_with_the_missing_inputs_named(client):
    r = client.post("/predict", json={"description": PLOT, "title": "Bare"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {"budget_musd", "genres", "runtime", "year"} <= set(body["unknown_inputs"])
    assert body["expected_accuracy_without_them"] is None  # basic inputs were never left out in validation
    assert any(w.startswith("unknown inputs: ") and "never validated" in w for w in body["warnings"])
    part = {"budget_musd": 30, "release_date": "2015-02-10", "genres": ["Horror"]}  # runtime left out
    cost = client.post("/predict", json={"description": PLOT, "metadata": part}).json()
    assert cost["unknown_inputs"] == ["runtime"] and cost["expected_accuracy_without_them"] is None
    meta = {"budget_musd": 30, "release_date": "2015-02-10", "genres": ["Horror"], "runtime": 85}
    full = client.post("/predict", json={"description": PLOT, "metadata": meta}).json()
    assert full["unknown_inputs"] == [] and full["expected_accuracy_without_them"] is None

"""No input reaches a 500: the inputs the hostile run found, then Hypothesis over every request field."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from helpers.served_models import trained_trailer_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reelcast.serving.app import create_app
from reelcast.serving.settings import ServeSettings

PLOT = "A retired safecracker is pulled back for one last job inside the city's most secure casino vault."


@pytest.fixture(scope="module")
def trailer_model(tiny_bert, tmp_path_factory):
    return trained_trailer_model(tiny_bert, tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def client(trailer_model, tmp_path_factory):
    # No name resolves: a fuzzed URL is refused or fails at once, never looked up or fetched.
    def resolver(host: str, port: int) -> list[str]:
        raise OSError("no lookups in this test")

    settings = ServeSettings(
        resolver=resolver,
        allow_youtube=False,
        fetch_deadline=2.0,
        temp_dir=str(tmp_path_factory.mktemp("up")),
        download_dir=str(tmp_path_factory.mktemp("served")),
    )
    with TestClient(create_app(predictor=trailer_model, settings=settings)) as c:
        yield c


def test_a_malformed_ipv6_trailer_url_gives_a_text_only_answer(client):
    r = client.post("/predict", json={"description": PLOT, "trailer_url": "http://[::1:8000/ok.mp4"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["trailer_status"]["status"] == "invalid"
    assert body["modalities_used"] == {"text": True, "video": False, "audio": False}


@pytest.mark.parametrize("date", ["2024-W01-1", "20240101", "0001-01-01", "9999-12-31", "1879-12-31"])
def test_release_dates_the_model_cannot_place_are_422_naming_the_field(client, date):
    r = client.post("/predict", json={"description": PLOT, "metadata": {"release_date": date}})
    assert r.status_code == 422, r.text
    assert "release_date" in r.text and date not in r.text


@pytest.mark.parametrize(
    ("field", "value"), [("budget_musd", True), ("budget_musd", "150"), ("year", False), ("runtime", [90])]
)
def test_numeric_metadata_must_be_a_json_number(client, field, value):
    r = client.post("/predict", json={"description": PLOT, "metadata": {field: value}})
    assert r.status_code == 422 and f"metadata.{field}" in r.text
    form = {"description": (None, PLOT), "metadata": (None, json.dumps({field: value}))}
    r = client.post("/predict/upload", files=form)
    assert r.status_code == 422 and f"metadata.{field}" in r.text


# ---- fuzzing -----------------------------------------------------------------------------------------
def _any_json(depth: int = 2):
    leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=6,
    )


_DATES = st.one_of(
    st.dates().map(str),
    st.from_regex(r"\d{4}-(W\d\d-\d|\d\d-\d\d)", fullmatch=True),
    st.text(max_size=12),
)
_URLS = st.one_of(
    st.sampled_from(
        [
            "http://[::1:8000/ok.mp4",
            "http://[",
            "https://youtu.be/",
            "file:///etc/passwd",
            "~root/x.mp4",
            "//x",
        ]
    ),
    st.builds(lambda h, p: f"http://{h}/{p}", st.text(max_size=12), st.text(max_size=12)),
    st.text(max_size=40),
)
_METADATA = st.fixed_dictionaries(
    {},
    optional={
        "budget_musd": st.one_of(
            st.floats(allow_nan=False), st.integers(), st.booleans(), st.text(max_size=5)
        ),
        "release_date": _DATES,
        "year": st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans()),
        "runtime": st.one_of(st.floats(allow_nan=False), st.integers()),
        "genres": st.one_of(st.lists(st.text(max_size=10), max_size=4), st.text(max_size=5)),
        "keywords": st.lists(st.text(max_size=10), max_size=3),
        "companies": st.lists(st.text(max_size=10), max_size=3),
        "countries": st.lists(st.text(max_size=10), max_size=3),
        "language": st.text(max_size=25),
        "collection": st.text(max_size=10),
        "director": st.text(max_size=10),
        "cast": st.lists(st.text(max_size=10), max_size=3),
        "unknown": _any_json(),
    },
)
_BODIES = st.fixed_dictionaries(
    {"description": st.one_of(st.text(max_size=60), st.integers(), st.none())},
    optional={
        "title": st.one_of(st.text(max_size=30), st.integers()),
        "trailer_url": st.one_of(_URLS, st.none()),
        "film_id": st.text(max_size=20),
        "metadata": st.one_of(_METADATA, _any_json()),
        "extra": _any_json(),
    },
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=_BODIES)
def test_predict_never_answers_500(client, body):
    r = client.post(
        "/predict", content=json.dumps(body, allow_nan=True), headers={"Content-Type": "application/json"}
    )
    assert r.status_code in (200, 422), (r.status_code, r.text, body)


@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(["description", "title", "film_id", "metadata", "other"]),
        st.one_of(st.text(max_size=60), _METADATA.map(json.dumps), st.binary(max_size=20)),
        max_size=5,
    ),
    file=st.one_of(
        st.none(),
        st.tuples(
            st.sampled_from(["t.mp4", "t.txt", "", "a/../t.ts"]),
            st.binary(max_size=200),
            st.sampled_from(["video/mp4", "text/plain", ""]),
        ),
    ),
)
def test_upload_never_answers_500(client, fields, file):
    form = {k: (None, v) for k, v in fields.items()}
    if file is not None:
        form["file"] = file
    r = client.post("/predict/upload", files=form or {"description": (None, "")})
    assert r.status_code in (200, 400, 413, 415, 422), (r.status_code, r.text, fields, file)

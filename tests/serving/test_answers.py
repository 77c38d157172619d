"""The answer cache: a repeated request without a trailer is answered as before, without scoring it again."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from reelcast.serving.answers import AnswerCache, answer_key
from reelcast.serving.app import create_app
from reelcast.serving.settings import ServeSettings

FILM = {"description": "A safecracker's last job goes wrong in a casino vault.", "title": "Vault"}


def counting(app) -> list[int]:
    """Counts the films the app's model scores (batched or alone)."""
    svc, calls = app.state.service, [0]
    score, predict_film = svc.scorer.score, svc.predictor.predict_film

    def counted_score(films):
        calls[0] += len(films)
        return score(films)

    def counted_predict(*a, **k):
        calls[0] += 1
        return predict_film(*a, **k)

    svc.scorer.score, svc.predictor.predict_film = counted_score, counted_predict
    return calls


@pytest.mark.parametrize("window", [5.0, 0.0])
def test_a_repeated_request_gets_the_same_answer_without_scoring(tiny_run, window):
    app = create_app(tiny_run, settings=ServeSettings(batch_window_ms=window))
    with TestClient(app) as client:
        calls = counting(app)
        first = client.post("/predict", json=FILM)
        again = client.post("/predict", json=FILM)
        assert first.status_code == again.status_code == 200
        assert again.json() == first.json()
        assert calls[0] == 1
        other = client.post("/predict", json={**FILM, "title": "Another title"})
        assert other.status_code == 200 and calls[0] == 2, "another request is scored"
        assert client.get("/model").json()["answer_cache_entries"] == 1024


def test_notes_about_the_request_are_not_kept_with_the_answer(tiny_run):
    app = create_app(tiny_run, settings=ServeSettings())
    with TestClient(app) as client:
        calls = counting(app)
        with_trailer = client.post("/predict", json={**FILM, "trailer_url": "https://example.org/t.mp4"})
        plain = client.post("/predict", json=FILM)
    assert calls[0] == 1, "the refused trailer leaves the model's answer the plot's alone"
    assert any("trailer was not used" in w for w in with_trailer.json()["warnings"])
    assert plain.json()["warnings"] == []
    assert with_trailer.json()["trailer_status"]["status"] == "refused"
    assert plain.json()["probabilities"] == with_trailer.json()["probabilities"]


def test_the_cache_can_be_turned_off(tiny_run):
    app = create_app(tiny_run, settings=ServeSettings(answer_cache_entries=0))
    with TestClient(app) as client:
        calls = counting(app)
        answers = [client.post("/predict", json=FILM).json() for _ in range(2)]
    assert calls[0] == 2 and answers[0] == answers[1]
    with pytest.raises(ValueError, match="answer_cache_entries"):
        ServeSettings(answer_cache_entries=-1)


def test_least_recently_used_answers_go_first():
    cache = AnswerCache(2)
    keys = [answer_key(f"plot {i}", "", None, None) for i in range(3)]
    cache.put(keys[0], {"i": 0})
    cache.put(keys[1], {"i": 1})
    assert cache.get(keys[0]) == {"i": 0}  # now the most recently used
    cache.put(keys[2], {"i": 2})
    assert cache.get(keys[1]) is None and cache.get(keys[0]) == {"i": 0} and len(cache) == 2
    assert cache.hits == 2


def test_the_key_is_the_whole_request():
    meta = {"budget_musd": 10.0, "genres": ["Drama"]}
    key = answer_key("p", "t", meta, {"explain": False})
    assert key == answer_key("p", "t", dict(reversed(meta.items())), {"explain": False})
    assert key != answer_key("p", "t", {**meta, "budget_musd": 11.0}, {"explain": False})
    assert key != answer_key("p", "t", meta, {"explain": True})
    assert key != answer_key("p", "", meta, {"explain": False})
    assert len(answer_key("a long plot " * 8000, "t", meta, None)) == len(key) == 64  # memory per entry

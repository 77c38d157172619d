"""Micro-batched serving: concurrent requests scored together get exactly the answers they get alone."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from reelcast.data.classes import CLASS_NAMES
from reelcast.serving.app import create_app
from reelcast.serving.service import ModelService
from reelcast.serving.settings import ServeSettings

TOL = 1e-6
METADATA = [
    None,
    {"budget_musd": 40.0, "genres": ["Action", "Drama"], "year": 2012},
    {"genres": ["Comedy"], "runtime": 95.0},
    {"budget_musd": 3.5, "year": 1999, "runtime": 131.0},
]


def films(n: int, tag: str) -> list[dict]:
    """n different requests: plots of different lengths (one past the 64-token limit), some titled,
    with and without metadata."""
    out = []
    for i in range(n):
        words = " ".join(["heist", "vault", "family", "casino"][: 1 + i % 4])
        description = f"{tag} film {i}: {words}" + (" and a very long ending" * 6 if i == 3 else "")
        out.append(
            {
                "description": description,
                "title": f"Title {i}" if i % 3 == 0 else "",
                "metadata": METADATA[i % 4],
            }
        )
    return out


@pytest.fixture(scope="module")
def ensemble_run(tiny_bert, films_csv, tmp_path_factory):
    """A tiny multitask model with metadata and trees: network heads, classifier and regressor blended."""
    from helpers import tiny_config

    from reelcast.predictor import RevenuePredictor

    root = tmp_path_factory.mktemp("batching")
    cfg = tiny_config(tiny_bert, root / "cache", epochs=2)
    cfg.model.objective = "multitask"
    cfg.ensemble.seeds, cfg.ensemble.max_rounds, cfg.ensemble.threads = 2, 60, 1
    p = RevenuePredictor(cfg, progress=False).fit(films_csv)
    assert p.ensemble_ is not None and "tabular" in p.spec_.modalities
    p.save(root / "model")
    return root / "model"


def load(run, tmp_path, name):
    """The model with its own feature store, so no copy reads text vectors another one encoded."""
    from reelcast.predictor import RevenuePredictor

    return RevenuePredictor.load(run, overrides={"cache_dir": str(tmp_path / name)})


def assert_same(answer: dict, reference: dict, film: dict) -> None:
    """An API answer (JSON) equals the model's own one-film answer for the same film."""
    where = f"film {film['description']!r}"
    assert answer["predicted_class"] == reference["predicted_class"], where
    assert answer["class_name"] == reference["class_name"], where
    assert answer["confidence"] == pytest.approx(reference["confidence"], abs=TOL), where
    assert [p["name"] for p in answer["probabilities"]] == list(CLASS_NAMES)
    got = [p["probability"] for p in answer["probabilities"]]
    assert got == pytest.approx([reference["probabilities"][n] for n in CLASS_NAMES], abs=TOL), where
    assert answer["contributions"].keys() == reference["contributions"].keys(), where
    for m, c in reference["contributions"].items():
        assert answer["contributions"][m] == pytest.approx(c, abs=TOL), f"{where}, {m}"
    assert answer["modalities_used"] == reference["modalities_used"], where
    assert answer["warnings"] == reference["warnings"], where
    assert answer["title"] == reference["title"]


def reference_answers(run, tmp_path, requests: list[dict]) -> list[dict]:
    ref = load(run, tmp_path, "reference")
    return [ref.predict_film(r["description"], title=r["title"], metadata=r["metadata"]) for r in requests]


async def send_all(svc: ModelService, requests: list[dict]) -> list:
    calls = [
        svc.predict_async(r["description"], r["title"], None, [], metadata=r["metadata"]) for r in requests
    ]
    return await asyncio.gather(*calls, return_exceptions=True)


def test_concurrent_requests_are_batched_and_answered_as_alone(ensemble_run, tmp_path, one_thread):
    requests = films(12, "async")
    svc = ModelService(
        load(ensemble_run, tmp_path, "batched"), ServeSettings(batch_window_ms=50, batch_max_size=8)
    )
    answers = asyncio.run(send_all(svc, requests))
    # All twelve arrive before the first batch runs: one full batch of 8, then the 4 left.
    assert (svc.batcher.stats.batches, svc.batcher.stats.largest, svc.batcher.stats.films) == (2, 8, 12)

    off = ModelService(load(ensemble_run, tmp_path, "unbatched"), ServeSettings(batch_window_ms=0))
    assert off.batcher is None
    alone = asyncio.run(send_all(off, requests))
    for r, a, b, ref in zip(
        requests, answers, alone, reference_answers(ensemble_run, tmp_path, requests), strict=True
    ):
        assert_same(a.model_dump(), ref, r)
        assert_same(b.model_dump(), ref, r)
    assert any(a.warnings for a in answers), "the long plot is reported as cut at 64 tokens"
    assert len({a.predicted_class for a in answers} | {round(a.confidence, 6) for a in answers}) > 2


def test_a_film_gets_the_same_bits_alone_and_in_any_batch(ensemble_run, tmp_path, one_thread):
    from reelcast.serving.batching import BatchScorer, FilmQuery

    scorer = BatchScorer(load(ensemble_run, tmp_path, "bits"))
    queries = [FilmQuery(r["description"], r["title"], None, r["metadata"]) for r in films(14, "bits")]
    alone = [scorer.score([q])[0] for q in queries]
    # 14 films and their masked copies span several passes of the network: every position is tried.
    for batch in (queries, queries[::-1], queries[5:9]):
        for q, answer in zip(batch, scorer.score(batch), strict=True):
            assert answer == alone[queries.index(q)]


def test_a_lone_request_is_not_held_for_the_window(ensemble_run, tmp_path, one_thread):
    svc = ModelService(
        load(ensemble_run, tmp_path, "lone"), ServeSettings(batch_window_ms=60_000, batch_max_size=4)
    )
    requests = films(2, "lone")
    t0 = time.monotonic()

    async def one_after_another():
        return [
            await svc.predict_async(r["description"], r["title"], None, [], metadata=r["metadata"])
            for r in requests
        ]

    first, second = asyncio.run(one_after_another())
    assert time.monotonic() - t0 < 30, "a request with no other in flight waited for the 60 s window"
    assert (svc.batcher.stats.batches, svc.batcher.stats.largest) == (2, 1)
    for r, a, ref in zip(
        requests, (first, second), reference_answers(ensemble_run, tmp_path, requests), strict=True
    ):
        assert_same(a.model_dump(), ref, r)


def test_a_film_the_model_refuses_fails_only_its_own_request(ensemble_run, tmp_path, one_thread):
    requests = films(5, "bad")
    requests[2] = {**requests[2], "metadata": {"release_date": "2024-13-45"}}
    svc = ModelService(
        load(ensemble_run, tmp_path, "batched"), ServeSettings(batch_window_ms=50, batch_max_size=8)
    )
    answers = asyncio.run(send_all(svc, requests))
    assert isinstance(answers[2], ValueError)
    assert str(answers[2]).startswith("film 1: release_date"), "the same error the film gets alone"
    good = [r for i, r in enumerate(requests) if i != 2]
    for r, a, ref in zip(
        good, answers[:2] + answers[3:], reference_answers(ensemble_run, tmp_path, good), strict=True
    ):
        assert_same(a.model_dump(), ref, r)


def test_concurrent_http_clients_get_their_own_answers(ensemble_run, tmp_path, one_thread):
    requests = films(8, "http")
    settings = ServeSettings(batch_window_ms=30, batch_max_size=4)
    app = create_app(predictor=load(ensemble_run, tmp_path, "served"), settings=settings)
    with TestClient(app) as client:
        info = client.get("/model").json()
        assert (info["batch_window_ms"], info["batch_max_size"]) == (30, 4)
        with ThreadPoolExecutor(8) as pool:
            responses = list(
                pool.map(lambda r: client.post("/predict", json={k: v for k, v in r.items() if v}), requests)
            )
    assert [r.status_code for r in responses] == [200] * len(requests)
    stats = app.state.service.batcher.stats
    assert stats.films == len(requests) and stats.largest <= 4
    for r, resp, ref in zip(
        requests, responses, reference_answers(ensemble_run, tmp_path, requests), strict=True
    ):
        assert_same(resp.json(), ref, r)


def test_with_batching_off_a_film_gets_the_bits_of_a_batch_of_one(ensemble_run, tmp_path, one_thread):
    requests = films(4, "off")
    requests[1] = {**requests[1], "metadata": {"release_date": "2024-13-45"}}
    on = ModelService(load(ensemble_run, tmp_path, "on"), ServeSettings(batch_window_ms=50))
    off = ModelService(load(ensemble_run, tmp_path, "off"), ServeSettings(batch_window_ms=0))

    def refused(*a, **k):
        raise AssertionError("a film without a trailer or options is scored by the batch scorer")

    off.predictor.predict_film = refused

    async def one_after_another(svc):
        out = []
        for r in requests:
            try:
                out.append(
                    await svc.predict_async(r["description"], r["title"], None, [], metadata=r["metadata"])
                )
            except ValueError as e:
                out.append(e)
        return out

    alone, batched = asyncio.run(one_after_another(off)), asyncio.run(one_after_another(on))
    assert str(alone[1]) == str(batched[1]) and str(alone[1]).startswith("film 1: release_date")
    for i in (0, 2, 3):
        assert alone[i].model_dump() == batched[i].model_dump()


def test_model_info_reports_batching_off(tiny_run):
    with TestClient(create_app(tiny_run, settings=ServeSettings(batch_window_ms=0))) as client:
        info = client.get("/model").json()
        assert info["batch_window_ms"] == 0
        r = client.post("/predict", json={"description": "A plot."})
        assert r.status_code == 200 and r.json()["modalities_used"] == {"text": True}


@pytest.mark.parametrize("bad", [{"batch_window_ms": -1.0}, {"batch_max_size": 0}])
def test_batch_settings_are_checked(bad):
    with pytest.raises(ValueError, match="batch_window_ms must be >= 0"):
        ServeSettings(**bad)

"""The server runs every model call on one thread: torch's threads stay fast while one thread uses them."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest
from fastapi.testclient import TestClient
from helpers.whatif_model import metadata_run

from reelcast.serving import model_thread
from reelcast.serving.app import create_app
from reelcast.serving.settings import ServeSettings

PLOT = "A retired safecracker is pulled back for one last job inside the city's most secure casino vault."
META = {"budget_musd": 60, "genres": ["Action"], "director": "Bo Kim"}


def here() -> str:
    return threading.current_thread().name


def test_call_and_run_use_one_thread_and_keep_errors_and_context():
    first = model_thread.call(here)
    assert first.startswith(model_thread.NAME) and first != here()
    # A model call that makes another (start-up inside start-up) runs in place instead of deadlocking.
    assert model_thread.call(model_thread.call, here) == first
    request = contextvars.ContextVar("request", default="none")

    async def main():
        request.set("r1")
        names = await asyncio.gather(*(model_thread.run(here) for _ in range(5)))
        return names, await model_thread.run(request.get)

    names, seen = asyncio.run(main())
    assert set(names) == {first} and seen == "r1"

    def fail():
        raise ValueError("bad film")

    with pytest.raises(ValueError, match="bad film"):
        asyncio.run(model_thread.run(fail))
    with pytest.raises(ValueError, match="bad film"):
        model_thread.call(fail)


@pytest.mark.parametrize("window_ms", [0, 5])
def test_loading_scoring_reasons_and_whatif_all_run_on_the_model_thread(
    tiny_bert, tmp_path_factory, monkeypatch, one_thread, window_ms
):
    from reelcast.evaluation import whatif
    from reelcast.predictor import RevenuePredictor
    from reelcast.serving.batching import BatchScorer

    run = metadata_run(tiny_bert, tmp_path_factory.getbasetemp())
    threads: dict[str, set[str]] = {}

    def spy(owner, name, label):
        original = getattr(owner, name)

        def wrapped(*args, **kwargs):
            threads.setdefault(label, set()).add(here())
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapped)

    load = RevenuePredictor.load.__func__
    monkeypatch.setattr(
        RevenuePredictor,
        "load",
        classmethod(lambda cls, *a, **k: threads.setdefault("load", set()).add(here()) or load(cls, *a, **k)),
    )
    spy(BatchScorer, "score", "score")
    spy(RevenuePredictor, "predict_film", "predict_film")
    spy(whatif, "sweep", "sweep")

    app = create_app(run, settings=ServeSettings(batch_window_ms=window_ms))
    with TestClient(app) as client:
        film = {"description": PLOT, "title": "The Vault", "metadata": META}
        assert client.post("/predict", json=film).status_code == 200
        assert client.post("/predict", json={**film, "explain": True}).status_code == 200
        r = client.post("/whatif", json={**film, "vary": [{"field": "budget_musd", "from": 10, "to": 90}]})
        assert r.status_code == 200, r.text
    # Start-up's warm-up and the plain request go through the scorer; reasons through predict_film.
    assert set(threads) == {"load", "score", "predict_film", "sweep"}
    used = set().union(*threads.values())
    assert len(used) == 1 and used.pop().startswith(model_thread.NAME), threads


def _child_call(out) -> None:
    out.put(model_thread.call(here))


def test_a_forked_child_gets_a_model_thread_of_its_own():
    import multiprocessing as mp

    parent = model_thread.call(here)  # the parent's thread exists before the fork
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_child_call, args=(out,))
    child.start()
    child.join(timeout=30)
    if child.is_alive():  # the call queued on the parent's thread, which the child does not have
        child.kill()
        child.join()
        pytest.fail("a model call in a forked child never ran")
    assert child.exitcode == 0 and out.get(timeout=5).startswith(model_thread.NAME)
    assert model_thread.call(here) == parent

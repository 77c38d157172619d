"""Several models behind one server: assignment, traffic split, shadow mode, the log behind /predict."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from fastapi.testclient import TestClient

from reelcast.serving.app import create_app
from reelcast.serving.arms import (
    ABSettings,
    FilmRequest,
    Router,
    assignment_key,
    bucket,
    parse_models,
    parse_traffic,
)
from reelcast.serving.predlog import LogSettings, PredictionLog, read_log
from reelcast.serving.settings import ServeSettings

PLOTS = [
    "A retired safecracker is pulled back for one last job inside the casino vault.",
    "Two sisters inherit a haunted vineyard and a debt to the wrong family.",
    "An astronaut stranded on Mars grows potatoes and waits for a rescue.",
    "A small-town baker enters a national contest and meets her rival.",
    "A detective hunts a killer who leaves chess moves at every scene.",
]


@pytest.fixture(scope="module")
def second_run(tiny_bert, films_csv, tmp_path_factory, one_thread):
    """A second tiny model (another seed, so its answers differ from tiny_run's)."""
    from helpers import tiny_config

    from reelcast.predictor import RevenuePredictor

    root = tmp_path_factory.mktemp("run_b")
    cfg = tiny_config(tiny_bert, root / "cache", epochs=3)
    cfg.train.seed = 7
    p = RevenuePredictor(cfg, progress=False).fit(films_csv)
    p.save(root / "split_70_20_10")
    return root / "split_70_20_10"


# ---- assignment ---------------------------------------------------------------------------------------
def test_assignment_is_stable_and_follows_the_split_over_10000_ids():
    router = Router(parse_traffic("A=90,B=10", ["A", "B"]))
    ids = [f"tmdb-{i}" for i in range(10_000)]
    first = [router.choose(assignment_key(i, "", "")) for i in ids]
    again = [Router(parse_traffic("A=90,B=10", ["A", "B"])).choose(assignment_key(i, "", "")) for i in ids]
    assert first == again  # same film, same arm, in a new router (a restarted server) too
    share_b = Counter(first)["B"] / len(ids)
    # Binomial sd of a 10 % share over 10,000 films is 0.3 %; 4 sd either side.
    assert abs(share_b - 0.10) < 0.012, share_b
    three = Router(parse_traffic("A=50,B=30,C=20", ["A", "B", "C"]))
    counts = Counter(three.choose(assignment_key(i, "", "")) for i in ids)
    for arm, share in {"A": 0.5, "B": 0.3, "C": 0.2}.items():
        assert abs(counts[arm] / len(ids) - share) < 0.02, counts
    # A film without an id is assigned by its title, ignoring case and spacing.
    assert assignment_key("", "The  Martian", "x") == assignment_key("", "the martian", "y")
    assert assignment_key("42", "The Martian", "x") != assignment_key("", "The Martian", "x")
    assert 0 <= bucket("anything") < 10_000


def test_zero_share_arm_gets_no_films_and_bad_specs_are_refused():
    router = Router(parse_traffic("A=100,B=0", ["A", "B"]))
    assert {router.choose(str(i)) for i in range(2000)} == {"A"}
    with pytest.raises(ValueError, match="no --model named 'C'"):
        parse_traffic("A=50,C=50", ["A", "B"])
    with pytest.raises(ValueError, match="sum to 0"):
        parse_traffic("A=0,B=0", ["A", "B"])
    with pytest.raises(ValueError, match="must be >= 0"):
        parse_traffic("A=-1,B=2", ["A", "B"])
    with pytest.raises(ValueError, match="need --traffic"):
        parse_traffic(None, ["A", "B"])
    with pytest.raises(ValueError, match="name each one"):
        parse_models(["runs/a", "runs/b"])
    with pytest.raises(ValueError, match="given twice"):
        parse_models(["A=runs/a", "A=runs/b"])
    assert parse_models(["runs/a"])[0][0] == "default"


def test_shadow_needs_two_arms(tiny_run):
    with pytest.raises(ValueError, match="at least two"):
        create_app(settings=ServeSettings(), ab=ABSettings(models=[("A", tiny_run)], shadow=True))


# ---- the server with two arms -------------------------------------------------------------------------
def test_shadow_mode_answers_with_a_only_and_logs_both(tiny_run, second_run, tmp_path, one_thread):
    from reelcast.predictor import RevenuePredictor

    db = tmp_path / "log.sqlite"
    ab = ABSettings(
        models=[("A", tiny_run), ("B", second_run)], traffic="A=100,B=0", shadow=True, log_db=str(db)
    )
    app = create_app(settings=ServeSettings(temp_dir=str(tmp_path / "up")), ab=ab)
    arms = app.state.arms
    with TestClient(app) as client:
        info = client.get("/model").json()
        assert [a["name"] for a in info["arms"]] == ["A", "B"]
        assert [a["traffic_share"] for a in info["arms"]] == [1.0, 0.0]
        assert all("path" not in a for a in info["arms"])  # no server paths to clients
        answers = []
        for i, plot in enumerate(PLOTS):
            r = client.post("/predict", json={"description": plot, "title": f"Film {i}", "film_id": f"f{i}"})
            assert r.status_code == 200, r.text
            answers.append(r.json())
        assert {a["arm"] for a in answers} == {"A"}
        assert {a["model_id"] for a in answers} == {info["arms"][0]["model_id"]}
        assert arms.wait_shadows(30) and arms.log.flush(30)
        health = client.get("/health").json()
    assert health["prediction_log"]["written"] == 2 * len(PLOTS)
    assert health["prediction_log"]["dropped"] == 0
    assert health["prediction_log"]["database"] == "sqlite"
    assert health["shadow"]["run"] == len(PLOTS)

    preds, models = read_log(db)
    assert sorted(models["arm"]) == ["A", "B"]
    assert Counter(zip(preds["arm"], preds["role"], strict=True)) == {
        ("A", "served"): len(PLOTS),
        ("B", "shadow"): len(PLOTS),
    }
    # Each shadow entry belongs to the request its served answer came from, and holds B's own answer.
    b = RevenuePredictor.load(second_run)
    for i, plot in enumerate(PLOTS):
        rows = preds[preds["film_id"] == f"f{i}"]
        assert rows["request_id"].nunique() == 1
        served = rows[rows["role"] == "served"].iloc[0]
        shadow = rows[rows["role"] == "shadow"].iloc[0]
        assert served["predicted_class"] == answers[i]["predicted_class"]
        assert np.allclose(served["probabilities"], [c["probability"] for c in answers[i]["probabilities"]])
        expected = b.predict_film(plot, title=f"Film {i}")
        assert shadow["predicted_class"] == expected["predicted_class"]
        assert np.allclose(shadow["probabilities"], list(expected["probabilities"].values()), atol=1e-6)
        assert served["description_chars"] == len(plot)
        assert served["modalities_used"] == {"text": True}
        assert len(served["description_sha256"]) == 64 and len(served["inputs_sha256"]) == 64


def test_traffic_split_sends_each_film_to_its_arm_every_time(tiny_run, second_run, tmp_path, one_thread):
    ab = ABSettings(models=[("A", tiny_run), ("B", second_run)], traffic="A=50,B=50", log_db=None)
    app = create_app(settings=ServeSettings(), ab=ab)
    router = app.state.arms.router
    with TestClient(app) as client:
        seen = {}
        for rep in range(2):
            for i in range(8):
                body = {"description": PLOTS[i % len(PLOTS)], "film_id": f"id{i}", "title": f"T{rep}"}
                arm = client.post("/predict", json=body).json()["arm"]
                assert arm == router.choose(f"id:id{i}")
                assert seen.setdefault(i, arm) == arm
        assert set(seen.values()) == {"A", "B"}  # 8 ids at 50/50: both arms answer some
        assert client.get("/health").json()["prediction_log"] is None


def test_one_model_without_traffic_answers_as_before_and_names_its_arm(tiny_run, tmp_path, one_thread):
    app = create_app(tiny_run, settings=ServeSettings())
    with TestClient(app) as client:
        r = client.post("/predict", json={"description": PLOTS[0]})
        assert r.status_code == 200
        body = r.json()
        assert body["arm"] == "default" and len(body["model_id"]) == 16
        info = client.get("/model").json()
        assert len(info["arms"]) == 1 and info["arms"][0]["traffic_share"] == 1.0
        health = client.get("/health").json()
        assert health["prediction_log"] is None and health["shadow"] is None


def test_metadata_reaches_the_log_and_bad_metadata_is_refused(tiny_run, tmp_path, one_thread):
    db = tmp_path / "log.sqlite"
    app = create_app(settings=ServeSettings(), ab=ABSettings(models=[("default", tiny_run)], log_db=str(db)))
    with TestClient(app) as client:
        meta = {"budget_musd": 12.5, "year": 2014, "genres": ["Drama"], "release_date": "2014-05-02",
                "keywords": ["heist"], "language": "en"}  # fmt: skip
        r = client.post("/predict", json={"description": PLOTS[1], "film_id": "x1", "metadata": meta})
        assert r.status_code == 200, r.text
        bad = client.post("/predict", json={"description": PLOTS[1], "metadata": {"budget": 3}})
        assert bad.status_code == 422 and "budget" in bad.text
        app.state.arms.log.flush(30)
    preds, _ = read_log(db)
    assert len(preds) == 1
    assert preds["budget_musd"].iloc[0] == 12.5 and preds["metadata"].iloc[0]["year"] == 2014
    assert preds["metadata"].iloc[0]["release_date"] == "2014-05-02"


def test_a_failing_log_never_fails_a_request(tiny_run, tmp_path, one_thread):
    db = tmp_path / "log.sqlite"
    ab = ABSettings(models=[("default", tiny_run)], log_db=str(db), log=LogSettings(retries=1))
    app = create_app(settings=ServeSettings(), ab=ab)
    plog = app.state.arms.log
    plog.predictions = None  # every insert now raises inside the writer thread
    with TestClient(app) as client:
        for plot in PLOTS[:3]:
            assert client.post("/predict", json={"description": plot}).status_code == 200
        plog.flush(30)
        stats = client.get("/health").json()["prediction_log"]
    assert stats["failed"] == 3 and stats["written"] == 0 and stats["last_error"]


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path):
    plog = PredictionLog(tmp_path / "log.sqlite", LogSettings(queue_size=2, batch_size=1))
    gate = __import__("threading").Event()
    real_write = plog._write
    plog._write = lambda batch: (gate.wait(10), real_write(batch))  # a stalled database
    entry = _entry()
    accepted = [plog.submit(dict(entry)) for _ in range(50)]
    assert accepted.count(False) >= 47  # one in the writer's hands, two queued, the rest dropped
    gate.set()
    plog.flush(30)
    s = plog.stats()
    assert s["written"] + s["dropped"] == 50 and s["written"] == accepted.count(True)
    plog.close()
    preds, _ = read_log(tmp_path / "log.sqlite")
    assert len(preds) == s["written"]


def test_the_log_is_append_only(tmp_path):
    import sqlalchemy

    plog = PredictionLog(tmp_path / "log.sqlite")
    plog.submit(_entry())
    plog.flush(30)
    with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"), plog.engine.begin() as conn:
        conn.execute(sqlalchemy.text("UPDATE predictions SET predicted_class = 7"))
    with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"), plog.engine.begin() as conn:
        conn.execute(sqlalchemy.text("DELETE FROM predictions"))
    plog.close()
    assert len(read_log(tmp_path / "log.sqlite")[0]) == 1


def _entry(**kw) -> dict:
    """A complete log row (the shape serving.arms.log_entry builds)."""
    row = {
        "logged_at": 1_700_000_000.0,
        "request_id": "r" * 32,
        "arm": "A",
        "role": "served",
        "model_id": "m" * 16,
        "film_id": "f1",
        "title": "Film",
        "assignment_key": "id:f1",
        "description_sha256": "0" * 64,
        "trailer_sha256": None,
        "metadata_sha256": None,
        "inputs_sha256": "1" * 64,
        "predicted_class": 3,
        "confidence": 0.5,
        "probabilities": json.dumps([0.5 / 7] * 3 + [0.5] + [0.5 / 7] * 4),
        "modalities_used": json.dumps({"text": True}),
        "description_chars": 100,
        "budget_musd": None,
        "metadata": None,
        "latency_ms": 1.0,
    }
    row.update(kw)
    return row


def test_upload_in_shadow_mode_logs_both_arms_with_the_file_hash(tiny_run, second_run, tmp_path, one_thread):
    import hashlib

    from test_serving_api import write_tiny_video

    video = write_tiny_video(tmp_path / "clip.mp4")
    db = tmp_path / "log.sqlite"
    ab = ABSettings(
        models=[("A", tiny_run), ("B", second_run)], traffic="A=0,B=1", shadow=True, log_db=str(db)
    )
    app = create_app(settings=ServeSettings(temp_dir=str(tmp_path / "up")), ab=ab)
    with TestClient(app) as client, video.open("rb") as f:
        r = client.post(
            "/predict/upload",
            data={"description": PLOTS[2], "title": "Clip", "film_id": "u1"},
            files={"file": ("clip.mp4", f, "video/mp4")},
        )
        assert r.status_code == 200, r.text
        assert r.json()["arm"] == "B"
        app.state.arms.log.flush(30)
    preds, _ = read_log(db)
    assert sorted(zip(preds["arm"], preds["role"], strict=True)) == [("A", "shadow"), ("B", "served")]
    assert set(preds["trailer_sha256"]) == {hashlib.sha256(video.read_bytes()).hexdigest()}
    assert not list((tmp_path / "up").iterdir())  # the upload is removed after both arms ran


def test_serve_command_refuses_bad_arms_before_loading_anything(tmp_path):
    from typer.testing import CliRunner

    from reelcast.cli import app

    def serve(*args: str):
        return CliRunner().invoke(app, ["serve", *args])

    r = serve("--model", "A=nowhere/a", "--model", "B=nowhere/b", "--traffic", "A=50,C=50")
    assert r.exit_code == 2 and "no --model named 'C'" in r.output
    r = serve("--model", "nowhere/a", "--model", "nowhere/b")
    assert r.exit_code == 2 and "name each one" in r.output
    r = serve("--model", "nowhere/a", "--no-log", "--log-db", str(tmp_path / "x.sqlite"))
    assert r.exit_code == 2 and "contradict" in r.output


def test_shadow_runs_beyond_the_limit_are_dropped_and_counted():
    import asyncio
    from types import SimpleNamespace

    from reelcast.serving.arms import Arm, ArmSet

    class Answer(SimpleNamespace):
        def model_copy(self, update):
            return Answer(**{**vars(self), **update})

    release = asyncio.Event()

    async def run(service):
        if service == "B":
            await release.wait()  # the shadow arm is slow
        return Answer(by=service)

    async def scenario():
        arms = ArmSet([Arm("A", "A", "ma", "-", 1.0), Arm("B", "B", "mb", "-", 0.0)], True, None, 1)
        answers = [await arms.predict(FilmRequest(f"plot {i}", film_id=str(i)), run) for i in range(3)]
        assert [a.by for a in answers] == ["A"] * 3 and {a.arm for a in answers} == {"A"}
        assert arms.health()["shadow"] == {"run": 0, "dropped": 2, "failed": 0, "pending": 1}
        release.set()
        await arms.aclose()
        return arms.health()["shadow"]

    assert asyncio.run(scenario()) == {"run": 1, "dropped": 2, "failed": 0, "pending": 0}

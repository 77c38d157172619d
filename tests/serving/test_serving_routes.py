"""What the page, /health and /model show an unauthenticated client; a fetched video that grows is refused."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from helpers.hostile_media import growing_stream
from helpers.loopback_http import LoopbackHTTP
from helpers.served_models import trained_trailer_model

from reelcast.serving.app import create_app
from reelcast.serving.arms import ABSettings
from reelcast.serving.predlog import LogSettings
from reelcast.serving.settings import ServeSettings

PLOT = "A retired safecracker is pulled back for one last job inside the city's most secure casino vault."


@pytest.fixture(scope="module")
def trailer_model(tiny_bert, tmp_path_factory):
    return trained_trailer_model(tiny_bert, tmp_path_factory.getbasetemp())


def test_the_page_cannot_be_framed(trailer_model):
    with TestClient(create_app(predictor=trailer_model)) as c:
        r = c.get("/")
    assert r.status_code == 200 and r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_model_info_shows_encoders_without_local_folders(trailer_model):
    video_model = str(trailer_model.config.video.model)
    assert video_model.startswith("/")  # the tiny ResNet is a local folder
    with TestClient(create_app(predictor=trailer_model)) as c:
        info = c.get("/model").json()
    assert info["encoder_ids"]["video"] == info["arms"][0]["encoder_ids"]["video"] == "tiny-resnet"
    assert video_model not in json.dumps(info)


def test_health_counts_log_errors_without_their_sql(tiny_run, tmp_path):
    db = tmp_path / "log.sqlite"
    ab = ABSettings(models=[("default", tiny_run)], log_db=str(db), log=LogSettings(retries=1))
    app = create_app(settings=ServeSettings(), ab=ab)
    plog = app.state.arms.log
    with plog.engine.begin() as conn:  # the table goes away under the running server
        conn.exec_driver_sql("DROP TABLE predictions")
    with TestClient(app) as client:
        assert client.post("/predict", json={"description": PLOT}).status_code == 200
        plog.flush(30)
        r = client.get("/health")
    stats = r.json()["prediction_log"]
    assert stats["failed"] == 1 and stats["write_errors"] == 1 and stats["last_error"] == "OperationalError"
    assert "INSERT" not in r.text and "predictions" not in r.text.replace('"prediction_log"', "")


def test_a_fetched_video_that_grows_mid_stream_is_too_large(trailer_model, tmp_path):
    video = growing_stream(tmp_path / "grow.ts", small=64, large=512)
    settings = ServeSettings(
        resolver=lambda host, port: ["127.0.0.1"],
        fetch_allowed_networks=("127.0.0.1/32",),
        max_pixels=128 * 128,
        download_dir=str(tmp_path / "served"),
    )
    with (
        LoopbackHTTP(files={"/grow.ts": video.read_bytes()}, ctype="video/mp2t") as srv,
        TestClient(create_app(predictor=trailer_model, settings=settings)) as c,
    ):
        r = c.post("/predict", json={"description": PLOT, "trailer_url": srv.url("/grow.ts", "media.test")})
    body = r.json()
    assert r.status_code == 200 and body["trailer_status"]["status"] == "too_large"
    assert "512x512" in body["trailer_status"]["message"]
    assert body["modalities_used"] == {"text": True, "video": False, "audio": False}


def test_a_trailer_the_server_will_not_read_is_reported_as_refused(trailer_model):
    with TestClient(create_app(predictor=trailer_model)) as c:
        r = c.post("/predict", json={"description": PLOT, "trailer_url": "/srv/trailers/x.mp4"})
    status = r.json()["trailer_status"]
    assert status["status"] == "refused" and "does not read its own files" in status["message"]

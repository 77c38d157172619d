"""The HTTP API against a tiny trained model: answers, validation, upload limits, temp files, threads."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from reelcast.data.classes import CLASS_NAMES
from reelcast.serving.app import create_app
from reelcast.serving.service import ModelService
from reelcast.serving.settings import ServeSettings

PLOT = "A retired safecracker is pulled back for one last job inside the city's most secure casino vault."


def write_tiny_video(path: Path, frames: int = 6, width: int = 64, height: int = 48) -> Path:
    """A real H.264 MP4 of a few frames (about 0.1 s to make)."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            img = np.full((height, width, 3), 40 * i % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def predictor(tiny_run):
    """The tiny text-only model, loaded once and shared by the apps below."""
    from reelcast.predictor import RevenuePredictor

    return RevenuePredictor.load(tiny_run)


@pytest.fixture()
def upload_dir(tmp_path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture()
def client(predictor, upload_dir):
    settings = ServeSettings(temp_dir=str(upload_dir), max_upload_mb=1.0)
    with TestClient(create_app(predictor=predictor, settings=settings)) as c:
        yield c


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def assert_prediction(body: dict) -> None:
    probs = body["probabilities"]
    assert [p["name"] for p in probs] == CLASS_NAMES
    assert [p["index"] for p in probs] == list(range(8))
    assert sum(p["probability"] for p in probs) == pytest.approx(1.0, abs=1e-5)
    assert body["class_name"] in CLASS_NAMES
    assert body["class_name"] == CLASS_NAMES[body["predicted_class"]]
    assert body["confidence"] == pytest.approx(max(p["probability"] for p in probs))


# ---- service endpoints ----------------------------------------------------------------------------------
def test_health_and_model_info_from_a_run_folder(tiny_run):
    with TestClient(create_app(tiny_run)) as c:
        health = c.get("/health").json()
        info = c.get("/model").json()
    assert health["status"] == "ok" and health["model_loaded"] is True
    assert health["uptime_seconds"] >= 0
    assert info["class_names"] == CLASS_NAMES
    assert len(info["thresholds_musd"]) == 7 and info["thresholds_musd"] == sorted(info["thresholds_musd"])
    assert [c["name"] for c in info["classes"]] == CLASS_NAMES
    assert info["classes"][0]["min_musd"] == 0 and info["classes"][-1]["max_musd"] is None
    assert info["classes"][1]["min_musd"] == info["thresholds_musd"][0]
    assert info["modalities"] == ["text"] and info["uses_trailers"] is False
    assert info["max_text_tokens"] == 64 and info["max_upload_mb"] == 200
    assert info["encoder_ids"]["text"].startswith("text:")


def test_a_wrong_model_folder_fails_at_creation(tmp_path):
    with pytest.raises(FileNotFoundError, match="best_multimodal_model.pth"):
        create_app(tmp_path)


def test_page_docs_and_static_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="prob-chart"' in page.text and 'id="predicted-class"' in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    upload_schema = paths["/predict/upload"]["post"]["requestBody"]["content"]["multipart/form-data"][
        "schema"
    ]
    # every field the upload reads is documented (serving.uploads.FORM_FIELDS)
    documented = {"description", "title", "film_id", "metadata", "breakeven", "explain", "file"}
    assert set(upload_schema["properties"]) == documented


def test_unknown_route_is_json(client):
    r = client.get("/nope")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}


# ---- POST /predict ----------------------------------------------------------------------------------------
def test_predict_happy_path(client):
    r = client.post("/predict", json={"title": "The Vault", "description": PLOT})
    assert r.status_code == 200
    body = r.json()
    assert_prediction(body)
    assert body["title"] == "The Vault"
    assert body["modalities_used"] == {"text": True}
    assert set(body["contributions"]) == {"text"}
    assert body["uses_trailers"] is False
    assert body["warnings"] == []


@pytest.mark.parametrize("payload", [{}, {"description": ""}, {"description": "   \n "}, {"title": "x"}])
def test_predict_without_a_description_is_422_naming_the_field(client, payload):
    r = client.post("/predict", json=payload)
    assert r.status_code == 422
    assert any(err["loc"] == ["body", "description"] for err in r.json()["detail"])


def test_predict_rejects_unknown_fields_and_bad_json(client):
    r = client.post("/predict", json={"description": PLOT, "trailer": "x"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "trailer"]
    r = client.post("/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_long_description_warns_about_truncation(client):
    r = client.post("/predict", json={"description": " ".join([PLOT] * 12)})
    assert r.status_code == 200
    (warning,) = [w for w in r.json()["warnings"] if "tokens" in w]
    assert "only the first 64 were read" in warning


@pytest.mark.parametrize(
    "trailer_url",
    ["http://127.0.0.1:9/x.mp4", "not a link at all", "/definitely/not/here.mp4", "dQw4w9WgXcQ"],
)
def test_text_only_model_ignores_any_trailer_and_says_so(client, trailer_url):
    t0 = time.perf_counter()
    r = client.post("/predict", json={"description": PLOT, "trailer_url": trailer_url})
    assert time.perf_counter() - t0 < 5  # nothing is fetched for a model that cannot use it
    assert r.status_code == 200
    body = r.json()
    assert_prediction(body)
    assert any("reads only the description" in w and "trailer was not used" in w for w in body["warnings"])
    plain = client.post("/predict", json={"description": PLOT}).json()
    assert body["probabilities"] == plain["probabilities"]


def test_description_limit_from_settings_is_enforced(predictor):
    app = create_app(predictor=predictor, settings=ServeSettings(max_description_chars=50))
    with TestClient(app) as c:
        r = c.post("/predict", json={"description": PLOT})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "description"]


def test_identical_requests_from_many_threads_get_identical_answers(client):
    plots = [PLOT, "A lonely robot tends a garden on a dead planet.", "Two rival chefs open restaurants."]
    expected = {p: client.post("/predict", json={"description": p}).json() for p in plots}
    jobs = [plots[i % len(plots)] for i in range(24)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda p: client.post("/predict", json={"description": p}), jobs))
    assert all(a.status_code == 200 for a in answers)
    for plot, answer in zip(jobs, answers, strict=True):
        assert answer.json() == expected[plot]


# ---- POST /predict/upload ---------------------------------------------------------------------------------
def test_valid_video_upload_predicts_and_leaves_no_temp_file(client, upload_dir, tmp_path):
    video = write_tiny_video(tmp_path / "trailer.mp4")
    with video.open("rb") as f:
        r = client.post(
            "/predict/upload",
            data={"description": PLOT, "title": "Vault"},
            files={"file": ("trailer.mp4", f, "video/mp4")},
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert_prediction(body)
    assert body["title"] == "Vault"
    assert any("trailer was not used" in w for w in body["warnings"])
    upload = body["trailer_status"]["upload"]
    assert upload["filename"] == "trailer.mp4" and upload["video_streams"] == 1
    assert upload["size_bytes"] == video.stat().st_size
    assert leftovers(upload_dir) == []


@pytest.mark.parametrize(
    ("name", "content", "ctype", "message"),
    [
        (
            "fake.mp4",
            b"this is plain text, not a video\n" * 20,
            "video/mp4",
            "not a video file PyAV can read",
        ),
        ("notes.txt", b"plain text\n", "text/plain", "'.txt' is not a video file type"),
        ("clip.mp4", b"\x00" * 100, "text/plain", "content type 'text/plain' is not a video type"),
        ("noext", b"\x00" * 100, "application/octet-stream", "no extension"),
    ],
)
def test_unsupported_media_is_415_and_leaves_no_temp_file(client, upload_dir, name, content, ctype, message):
    r = client.post("/predict/upload", data={"description": PLOT}, files={"file": (name, content, ctype)})
    assert r.status_code == 415
    assert message in r.json()["detail"]
    assert str(upload_dir) not in r.json()["detail"]  # the server's temp path is not shown to clients
    assert leftovers(upload_dir) == []


def test_upload_over_the_limit_is_413_and_leaves_no_temp_file(predictor, upload_dir):
    settings = ServeSettings(temp_dir=str(upload_dir), max_upload_mb=0.01)  # about 10 kB
    with TestClient(create_app(predictor=predictor, settings=settings)) as c:
        r = c.post(
            "/predict/upload",
            data={"description": PLOT},
            files={"file": ("big.mp4", b"\x00" * 20_000, "video/mp4")},
        )
        assert r.status_code == 413 and "0.01 MB upload limit" in r.json()["detail"]
        # A declared Content-Length over the limit is refused before the body is read.
        r = c.post(
            "/predict/upload",
            content=b"--x--\r\n",
            headers={"content-type": "multipart/form-data; boundary=x", "content-length": str(50 * 2**20)},
        )
        assert r.status_code == 413 and "50.0 MB" in r.json()["detail"]
    assert leftovers(upload_dir) == []


def test_upload_without_a_description_or_file_is_422_and_leaves_no_temp_file(client, upload_dir, tmp_path):
    video = write_tiny_video(tmp_path / "t.mp4").read_bytes()
    r = client.post("/predict/upload", data={"title": "x"}, files={"file": ("t.mp4", video, "video/mp4")})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "description"]
    r = client.post("/predict/upload", files={"description": (None, PLOT)})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "file"]
    assert leftovers(upload_dir) == []


def test_upload_that_is_not_multipart_is_415(client):
    r = client.post("/predict/upload", json={"description": PLOT})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["detail"]


def test_a_real_server_stops_reading_an_oversized_upload_early(predictor, upload_dir):
    """Over a socket: the 413 arrives while the client is still sending, long before the 64 MB are sent."""
    import uvicorn

    settings = ServeSettings(temp_dir=str(upload_dir), max_upload_mb=1.0)
    config = uvicorn.Config(
        create_app(predictor=predictor, settings=settings),
        host="127.0.0.1",
        port=0,
        log_level="error",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        head = (
            b'--b\r\nContent-Disposition: form-data; name="description"\r\n\r\n'
            + PLOT.encode()
            + b'\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
            b"Content-Type: video/mp4\r\n\r\n"
        )
        sent, reply = 0, b""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            # Chunked, so no Content-Length lets the server refuse up front: only the stream counter can.
            sock.sendall(
                b"POST /predict/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n\r\n"
            )
            chunk = head + b"\x00" * (64 * 1024 - len(head))
            sock.settimeout(0.005)
            try:
                while sent < 64 * 2**20:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
                    chunk = b"\x00" * (64 * 1024)
                    try:
                        reply = sock.recv(65536)
                    except (TimeoutError, BlockingIOError):
                        continue
                    if reply:
                        break
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                pass
            sock.settimeout(5)
            if not reply:
                reply = sock.recv(65536)
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        assert sent < 16 * 2**20
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert leftovers(upload_dir) == []


# ---- models that read trailers ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def simulated_run(tiny_bert, films_csv, tiny_run, tmp_path_factory) -> Path:
    """A tiny model trained with simulated trailer features (text + video + audio modalities)."""
    from helpers import tiny_config

    from reelcast.predictor import RevenuePredictor

    root = tmp_path_factory.mktemp("sim_run")
    # tiny_run's feature store already holds the text vectors of these films: nothing is re-encoded.
    cfg = tiny_config(tiny_bert, tiny_run.parent / "cache", epochs=1)
    cfg.media.mode = "simulated"
    cfg.media.num_frames = 4
    cfg.media.audio_seconds = 1.0
    cfg.eval.temperature_scaling = False
    cfg.tabular.use_in_fusion, cfg.ensemble.enabled = False, "off"  # the seed's three-modality network
    RevenuePredictor(cfg, progress=False).fit(films_csv).save(root / "split")
    return root / "split"


def test_trailer_references_for_a_model_that_reads_trailers(simulated_run):
    from reelcast.predictor import RevenuePredictor

    p = RevenuePredictor.load(simulated_run, overrides={"media": {"mode": "trailers"}})
    service = ModelService(p, ServeSettings())
    assert service.media == ["video", "audio"]
    for ok in (
        "https://example.com/trailer.mp4",
        "http://127.0.0.1:9/x.mp4",
        "dQw4w9WgXcQ",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    ):
        assert service.trailer_reference(ok) == (ok, [], None)
    for bad in (
        "not a link at all",
        "ftp://example.com/x.mp4",
        "https://www.youtube.com/watch?v=short",
        "http://[::1:8000/ok.mp4",
    ):
        ref, warnings, status = service.trailer_reference(bad)
        assert ref is None and len(warnings) == 1 and status["status"] == "invalid"
        assert "trailer_url is not usable" in warnings[0] and "description alone" in warnings[0]
        assert bad not in status["message"]
    ref, warnings, status = service.trailer_reference("/etc/passwd")
    assert ref is None and "is a file path; this server does not read its own files" in warnings[0]
    assert status["status"] == "refused" and "does not read its own files" in status["message"]
    local = ModelService(p, ServeSettings(allow_local_trailers=True))
    assert local.trailer_reference("/srv/trailers/x.mp4") == ("/srv/trailers/x.mp4", [], None)


def test_simulated_media_model_says_it_cannot_read_a_real_trailer(simulated_run):
    with TestClient(create_app(simulated_run)) as c:
        r = c.post("/predict", json={"description": PLOT, "trailer_url": "http://127.0.0.1:9/x.mp4"})
    assert r.status_code == 200
    body = r.json()
    assert_prediction(body)
    assert body["uses_trailers"] is True
    assert set(body["contributions"]) == {"text", "video", "audio"}
    assert any("simulated trailer features" in w for w in body["warnings"])
    # Refused, with the reason: not "no trailer given".
    assert body["trailer_status"]["status"] == "refused"
    assert "simulated trailer features" in body["trailer_status"]["message"]


def test_serve_command_reports_a_wrong_model_folder_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from reelcast.cli import app

    result = CliRunner().invoke(app, ["serve", "--model", str(tmp_path / "missing"), "--port", "0"])
    assert result.exit_code == 2
    assert "error:" in result.output and "best_multimodal_model.pth" in result.output
    assert "Traceback" not in result.output

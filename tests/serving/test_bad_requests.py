"""The server against hostile requests: each gets a clear 4xx or a stated degradation, never a 500,
never an echo of the input or a server path, and never a connection to the server's own network.

Trailer downloads go to a test server on 127.0.0.1 through an injected resolver ("media.test"), allowed
by `fetch_allowed_networks` as an operator would allow one intranet media host; everything else that
is internal is refused before any connection.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers.loopback_http import LoopbackHTTP, UvicornThread, wait_until
from helpers.served_models import trained_trailer_model

from reelcast.serving.app import create_app
from reelcast.serving.settings import ServeSettings

PLOT = "A retired safecracker is pulled back for one last job inside the city's most secure casino vault."


@pytest.fixture(scope="module")
def text_model(tiny_run):
    from reelcast.predictor import RevenuePredictor

    return RevenuePredictor.load(tiny_run)


@pytest.fixture()
def client(text_model, tmp_path):
    settings = ServeSettings(temp_dir=str(tmp_path / "uploads"), max_upload_mb=1.0, max_body_kb=64)
    with TestClient(create_app(predictor=text_model, settings=settings)) as c:
        yield c


@pytest.fixture(scope="module")
def trailer_model(tiny_bert, tmp_path_factory):
    return trained_trailer_model(tiny_bert, tmp_path_factory.getbasetemp())


class Resolver:
    def __init__(self, answers: dict[str, list[str]]):
        self.answers, self.asked = answers, []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError("no such host")
        return self.answers[host]


@pytest.fixture(scope="module")
def media_server():
    with LoopbackHTTP(files={"/t.mp4": b"\x00" * 2000}) as s:
        yield s


def trailer_client(model, tmp_path, **overrides) -> TestClient:
    resolver = overrides.pop("resolver", None) or Resolver({"media.test": ["127.0.0.1"]})
    overrides.setdefault("fetch_allowed_networks", ("127.0.0.1/32",))
    settings = ServeSettings(
        resolver=resolver,
        fetch_deadline=overrides.pop("fetch_deadline", 3.0),
        download_dir=str(tmp_path / "served"),
        **overrides,
    )
    return TestClient(create_app(predictor=model, settings=settings))


def no_echo(response, *secrets: str) -> None:
    text = response.text
    for s in secrets:
        assert s not in text, f"the answer repeats {s[:40]!r}"


# ---- body size, JSON and Unicode ----------------------------------------------------------------------
def test_huge_json_body_is_413_before_it_is_read(client):
    body = json.dumps({"description": "x" * 200_000}).encode()
    r = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "64 KB limit" in r.json()["detail"] and len(r.content) < 200


def test_chunked_body_over_the_cap_is_413(client):
    def chunks():
        yield b'{"description": "'
        for _ in range(100):
            yield b"y" * 4096
        yield b'"}'

    r = client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "64 KB limit" in r.json()["detail"]


def test_too_long_description_is_422_without_echo(text_model):
    settings = ServeSettings(max_description_chars=50)
    with TestClient(create_app(predictor=text_model, settings=settings)) as c:
        plot = "secret-plot-" * 1000
        r = c.post("/predict", json={"description": plot})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "description"]
    no_echo(r, "secret-plot-")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"description": NaN}', "description"),
        ('{"description": "a heist", "title": Infinity}', "title"),
        ('{"description": "a heist", "trailer_url": -Infinity}', "trailer_url"),
    ],
)
def test_non_finite_numbers_are_422(client, raw, field):
    r = client.post("/predict", content=raw.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 422
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", field] and "NaN and Infinity are not valid JSON numbers" in err["msg"]


@pytest.mark.parametrize("field", ["description", "title", "trailer_url"])
def test_lone_surrogate_is_422(client, field):
    payload = {"description": "a heist", field: "bad \\ud800 text"}
    raw = json.dumps(payload).replace("\\\\ud800", "\\ud800").encode()
    r = client.post("/predict", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "lone surrogate" in r.json()["detail"][0]["msg"]


def test_lone_surrogate_in_an_unknown_key_is_422_not_500(client):
    raw = b'{"description": "a heist", "\\udcff\\ud800": 1}'
    r = client.post("/predict", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "not valid Unicode" in r.json()["detail"][0]["msg"]


def test_invalid_utf8_body_is_a_4xx(client):
    r = client.post(
        "/predict", content=b'{"description": "\xff\xfe"}', headers={"content-type": "application/json"}
    )
    assert r.status_code in (400, 422)


def test_bad_json_says_so_without_echo(client):
    r = client.post(
        "/predict", content=b'{"description": "hidden-text', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["msg"] == "the body is not valid JSON"
    no_echo(r, "hidden-text")


def test_deeply_nested_json_is_a_4xx(client):
    r = client.post("/predict", content=b"[" * 50_000, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500


def test_json_array_instead_of_object_is_422(client):
    r = client.post("/predict", json=[PLOT])
    assert r.status_code == 422


def test_invalid_utf8_upload_field_is_422(client):
    r = client.post("/predict/upload", files={"description": (None, b"caf\xe9 plot")})
    assert r.status_code == 422 and "not valid UTF-8" in r.json()["detail"]


# ---- paths, errors and authentication --------------------------------------------------------------------
def test_model_info_shows_no_absolute_paths(client, tiny_run):
    r = client.get("/model")
    assert r.status_code == 200
    no_echo(r, str(tiny_run.parent), str(Path.cwd()), str(Path.home()) + "/")


def test_unexpected_error_is_500_without_details(text_model, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("/srv/secret/path/model.pth exploded")

    app = create_app(predictor=text_model)
    monkeypatch.setattr(text_model, "proba", boom)  # every scoring path calls it
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/predict", json={"description": PLOT})
    assert r.status_code == 500 and r.json()["detail"].startswith("internal error (reference ")
    no_echo(r, "/srv/secret", "RuntimeError")


def test_api_key(text_model):
    with TestClient(create_app(predictor=text_model, settings=ServeSettings(api_key="s3cret"))) as c:
        assert c.get("/health").status_code == 200  # liveness and the page stay open
        assert c.get("/").status_code == 200
        for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
            r = c.post("/predict", json={"description": PLOT}, headers=headers)
            assert r.status_code == 401 and "API key is required" in r.json()["detail"]
            assert r.headers["www-authenticate"] == "Bearer"
        assert c.get("/model").status_code == 401
        assert (
            c.post("/predict", json={"description": PLOT}, headers={"X-API-Key": "s3cret"}).status_code == 200
        )
        assert c.get("/model", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_api_key_from_the_environment(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from reelcast.cli import app

    # The key reaches ServeSettings; the missing model then fails in one line (no server starts).
    monkeypatch.setenv("REELCAST_API_KEY", " ")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        result = CliRunner().invoke(app, ["serve", "--model", str(tmp_path / "none"), "--port", "0"])
    finally:  # the command points logging at CliRunner's stream, which closes when it returns
        root.handlers[:], root.level = handlers, level
    assert result.exit_code == 2 and "api_key must not be empty" in result.output


def test_cors_is_off_by_default_and_configurable(text_model):
    pre = {"Origin": "https://films.example", "Access-Control-Request-Method": "POST"}
    with TestClient(create_app(predictor=text_model)) as c:
        r = c.options("/predict", headers=pre)
        assert "access-control-allow-origin" not in r.headers
    settings = ServeSettings(cors_origins=("https://films.example",))
    with TestClient(create_app(predictor=text_model, settings=settings)) as c:
        r = c.options("/predict", headers=pre)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://films.example"
        r = c.options("/predict", headers={**pre, "Origin": "https://evil.example"})
        assert r.headers.get("access-control-allow-origin") != "https://evil.example"


# ---- uploads ------------------------------------------------------------------------------------------
def test_upload_over_the_pixel_limit_is_413_before_decoding(text_model, tmp_path):
    from reelcast.media.synth import render_trailer

    video = render_trailer(tmp_path / "wide.mp4", seconds=0.5, fps=4, width=96, height=64, seed=0)
    settings = ServeSettings(max_pixels=64 * 48, temp_dir=str(tmp_path / "up"))
    with TestClient(create_app(predictor=text_model, settings=settings)) as c:
        r = c.post(
            "/predict/upload", data={"description": PLOT}, files={"file": ("wide.mp4", video.read_bytes())}
        )
    assert r.status_code == 413 and "96x64 pixels" in r.json()["detail"]
    assert list((tmp_path / "up").iterdir()) == []


def test_uploads_are_opened_two_at_a_time(text_model, tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from reelcast.serving import service as app_module

    running, peak, lock = [0], [0], threading.Lock()

    def slow_probe(path, filename, max_pixels):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        raise app_module.UploadError(415, f"{filename}: not a video (test)")

    monkeypatch.setattr(app_module, "probe_media", slow_probe)
    settings = ServeSettings(temp_dir=str(tmp_path / "up"), max_concurrent_probes=2)
    with TestClient(create_app(predictor=text_model, settings=settings)) as c:

        def upload(i: int) -> int:
            files = {"file": (f"t{i}.mp4", b"\x00" * 1000, "video/mp4")}
            return c.post("/predict/upload", data={"description": PLOT}, files=files).status_code

        with ThreadPoolExecutor(6) as pool:
            codes = list(pool.map(upload, range(6)))
    assert codes == [415] * 6 and peak[0] == 2


def _send_partial(port: int, head: bytes, body: bytes) -> bytes:
    """Send a request whose body is shorter than its Content-Length; return what the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head + body)
        s.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


def test_body_that_never_arrives_is_408_and_leaves_no_file(text_model, tmp_path):
    up = tmp_path / "up"
    settings = ServeSettings(body_idle_timeout=0.5, temp_dir=str(up))
    with UvicornThread(create_app(predictor=text_model, settings=settings)) as srv:
        t0 = time.monotonic()
        head = (
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 500\r\n\r\n"
        )
        answer = _send_partial(srv.port, head, b'{"description": "a')
        assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - t0 < 5
        part = (
            b'--B\r\nContent-Disposition: form-data; name="description"\r\n\r\na heist\r\n'
            b'--B\r\nContent-Disposition: form-data; name="file"; filename="t.mp4"\r\n'
            b"Content-Type: video/mp4\r\n\r\n" + b"\x00" * 5000
        )
        head = (
            b"POST /predict/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\n"
            b"Content-Length: 900000\r\n\r\n"
        )
        answer = _send_partial(srv.port, head, part)
        assert answer.startswith(b"HTTP/1.1 408")
        assert wait_until(lambda: not up.exists() or list(up.iterdir()) == [], 5)


# ---- trailer URLs on a model that reads trailers ------------------------------------------------------
def predict_trailer(c: TestClient, url: str) -> dict:
    r = c.post("/predict", json={"description": PLOT, "trailer_url": url})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["modalities_used"] == {"text": True, "video": False, "audio": False}
    assert url not in r.text  # the URL is not repeated
    return body


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/t.mp4",
        "http://localhost:{port}/t.mp4",
        "http://[::1]:{port}/t.mp4",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/t.mp4",
        "http://2130706433:{port}/t.mp4",
    ],
)
def test_internal_trailer_urls_are_refused_before_connecting(trailer_model, media_server, tmp_path, url):
    url = url.format(port=media_server.port)
    # localhost resolves to loopback here as it would for real; 127.0.0.1 itself is not allowed.
    dns = Resolver({"localhost": ["127.0.0.1"]})
    before = sum(media_server.hits.values())
    with trailer_client(trailer_model, tmp_path, resolver=dns, fetch_allowed_networks=()) as c:
        body = predict_trailer(c, url)
    assert body["trailer_status"]["status"] == "refused"  # not "no_trailer"
    assert "not a public address" in body["trailer_status"]["message"]
    assert sum(media_server.hits.values()) == before


def test_redirect_to_loopback_is_refused(trailer_model, media_server, tmp_path):
    to = f"http://[::1]:{media_server.port}/t.mp4"
    with trailer_client(trailer_model, tmp_path) as c:
        body = predict_trailer(c, media_server.url(f"/redirect?to={to}", "media.test"))
    assert body["trailer_status"]["status"] == "refused" and "loopback" in body["trailer_status"]["message"]


def test_credentials_in_trailer_url_are_refused_without_lookup(trailer_model, tmp_path):
    dns = Resolver({})
    with trailer_client(trailer_model, tmp_path, resolver=dns) as c:
        body = predict_trailer(c, "http://admin:hunter2@media.test/t.mp4")
    assert body["trailer_status"]["status"] == "refused" and dns.asked == []
    assert "hunter2" not in json.dumps(body)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/status/404", "not_found"),
        ("/status/500", "network_error"),
        ("/page", "invalid"),
        ("/big?mb=900", "too_large"),
    ],
)
def test_failed_fetch_reports_its_status(trailer_model, media_server, tmp_path, path, status):
    t0 = time.monotonic()
    with trailer_client(trailer_model, tmp_path, fetch_max_mb=1.0) as c:
        body = predict_trailer(c, media_server.url(path, "media.test"))
    assert body["trailer_status"]["status"] == status
    assert any("trailer could not be fetched" in w for w in body["warnings"])
    assert time.monotonic() - t0 < 10  # no 14 s of retries


def test_drip_feed_is_cut_at_the_fetch_deadline(trailer_model, media_server, tmp_path):
    with trailer_client(trailer_model, tmp_path, fetch_deadline=1.0) as c:
        t0 = time.monotonic()
        body = predict_trailer(c, media_server.url("/drip?bytes=5000&every=0.1", "media.test"))
        assert time.monotonic() - t0 < 6
    assert body["trailer_status"]["status"] == "timeout"


def test_host_allowlist_and_youtube_switch(trailer_model, tmp_path):
    dns = Resolver({"media.test": ["127.0.0.1"], "cdn.other.test": ["93.184.216.34"]})
    with trailer_client(
        trailer_model, tmp_path, resolver=dns, trailer_hosts=("media.test",), allow_youtube=False
    ) as c:
        body = predict_trailer(c, "http://cdn.other.test/t.mp4")
        assert (
            body["trailer_status"]["status"] == "refused"
            and "allowed hosts" in body["trailer_status"]["message"]
        )
        body = predict_trailer(c, "https://www.youtube.com/watch?v=dQw4w9WgXcQ")
        assert body["trailer_status"] == {
            "status": "refused",
            "message": "this server does not download YouTube trailers",
            "source": "youtube",
        }
    assert dns.asked == []


@pytest.mark.parametrize(
    "ref",
    [
        "~nosuchuser/x.mp4",
        "~root/x.mp4",
        "/etc/passwd",
        "a/" * 150 + "x.mp4",
        "x" * 5000 + ".mp4",
        "t\x00.mp4",
    ],
)
def test_paths_are_never_touched(trailer_model, tmp_path, ref):
    settings = ServeSettings(max_trailer_url_chars=2048)
    with TestClient(create_app(predictor=trailer_model, settings=settings)) as c:
        r = c.post("/predict", json={"description": PLOT, "trailer_url": ref})
    if len(ref) > 2048:
        assert r.status_code == 422
        return
    assert r.status_code == 200
    # Every path gets the same answer, so nothing tells which users or files exist.
    assert r.json()["warnings"][0].startswith(
        "trailer_url is a file path; this server does not read its own files"
    )


@pytest.mark.parametrize("ref", ["ftp://media.test/t.mp4", "gopher://x/", "not a link at all"])
def test_unusable_references_say_so(trailer_model, ref):
    with TestClient(create_app(predictor=trailer_model)) as c:
        r = c.post("/predict", json={"description": PLOT, "trailer_url": ref})
    assert r.status_code == 200 and r.json()["warnings"][0].startswith("trailer_url is not usable")


def test_fetched_video_over_the_pixel_limit_is_not_decoded(trailer_model, tmp_path):
    from reelcast.media.synth import render_trailer

    video = render_trailer(tmp_path / "wide.mp4", seconds=0.5, fps=4, width=96, height=64, seed=0)
    with (
        LoopbackHTTP(files={"/wide.mp4": video.read_bytes()}) as srv,
        trailer_client(trailer_model, tmp_path, max_pixels=64 * 48) as c,
    ):
        body = predict_trailer(c, srv.url("/wide.mp4", "media.test"))
    assert body["trailer_status"]["status"] == "too_large" and "96x64" in body["trailer_status"]["message"]


def test_fetch_queue_is_bounded_and_health_answers(trailer_model, media_server, tmp_path):
    app_client = trailer_client(
        trailer_model, tmp_path, fetch_workers=1, max_pending_fetches=1, fetch_deadline=2.0
    )
    with app_client as c:
        slow = media_server.url("/stall?seconds=1.5", "media.test")
        answers: list[dict] = []
        first = threading.Thread(target=lambda: answers.append(predict_trailer(c, slow)))
        first.start()
        assert wait_until(lambda: c.app.state.service.fetcher.pending() == 1, 5)
        t0 = time.monotonic()
        assert c.get("/health").status_code == 200 and time.monotonic() - t0 < 1.0
        busy = predict_trailer(c, media_server.url("/stall?seconds=1.4", "media.test"))
        first.join(10)
    assert busy["trailer_status"]["status"] == "busy"
    assert any("busy" in w for w in busy["warnings"])
    # The first request waited for its download (a few bytes that are not a video) and was answered.
    assert answers and answers[0]["trailer_status"]["status"] in ("corrupt", "timeout")


# ---- what the server keeps ------------------------------------------------------------------------------
def test_download_cache_is_trimmed_oldest_first_and_spares_leased_files(tmp_path):
    import os

    from reelcast.serving.fetcher import DownloadCache

    cache = DownloadCache(tmp_path, max_bytes=2500)
    files = []
    for i in range(4):
        p = tmp_path / f"url-{i}.mp4"
        p.write_bytes(b"v" * 1000)
        os.utime(p, (1000 + i, 1000 + i))
        files.append(p)
    assert cache.lease(files[0])
    removed = cache.trim(keep=files[3])
    assert removed == [files[1], files[2]] and cache.size() == 2000  # files[0] is in use
    cache.release(files[0])
    assert cache.trim() == [] and not cache.lease(files[1])


def test_distinct_descriptions_add_nothing_to_the_feature_store(text_model, tmp_path):
    root = Path(text_model.config.cache_dir)
    before = sorted(str(p) for p in root.rglob("*") if p.is_file())
    settings = ServeSettings(feature_cache_entries=5)
    with TestClient(create_app(predictor=text_model, settings=settings)) as c:
        for i in range(12):
            assert c.post("/predict", json={"description": f"{PLOT} variant {i}"}).status_code == 200
        store = c.app.state.service.features
    assert sorted(str(p) for p in root.rglob("*") if p.is_file()) == before
    assert len(store) == 5 and store.nbytes > 0

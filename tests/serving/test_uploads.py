"""Multipart uploads: only the known parts, each once, bounded; a video that grows mid-stream is a 413."""

from __future__ import annotations

import socket

import pytest
from fastapi.testclient import TestClient
from helpers.hostile_media import growing_stream
from helpers.loopback_http import UvicornThread

from reelcast.serving.app import create_app
from reelcast.serving.settings import ServeSettings

PLOT = "A retired safecracker is pulled back for one last job inside the city's most secure casino vault."
BOUNDARY = "XyZ"


@pytest.fixture(scope="module")
def text_model(tiny_run):
    from reelcast.predictor import RevenuePredictor

    return RevenuePredictor.load(tiny_run)


@pytest.fixture()
def client(text_model, tmp_path):
    settings = ServeSettings(temp_dir=str(tmp_path / "up"), max_pixels=128 * 128)
    with TestClient(create_app(predictor=text_model, settings=settings)) as c:
        yield c


def part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if filename:
        head += "Content-Type: video/mp4\r\n"
    return (head + "\r\n").encode() + value + b"\r\n"


def post_stream(client: TestClient, chunks):
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    return client.post("/predict/upload", content=chunks, headers=headers)


def test_unknown_fields_are_refused_at_the_first_one_without_reading_the_rest(text_model, tmp_path):
    settings = ServeSettings(temp_dir=str(tmp_path / "up"))
    with UvicornThread(create_app(predictor=text_model, settings=settings)) as srv:
        # The hostile run sent 480 distinct 390 KB fields (187 MB); here the server gets the first part and
        # the first unknown part's headers, and must answer without waiting for the other 187 MB.
        head = (
            "POST /predict/upload HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {480 * 390_000}\r\n\r\n"
        ).encode()
        start = part("description", PLOT.encode())
        junk = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="junk0"\r\n\r\n'.encode() + b"j" * 1000
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(head + start + junk)
            answer = b""
            while not answer.endswith(b"}"):  # the JSON answer, which may come in a second packet
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 422")
    assert b"unknown form field 'junk0'" in answer


def test_a_field_sent_twice_is_refused(client):
    chunks = [part("description", b"one"), part("description", b"two"), f"--{BOUNDARY}--\r\n".encode()]
    r = post_stream(client, iter(chunks))
    assert r.status_code == 422 and "more than once" in r.json()["detail"]


def test_a_video_that_grows_mid_stream_is_413(client, tmp_path):
    video = growing_stream(tmp_path / "grow.ts", small=64, large=512)
    r = client.post(
        "/predict/upload",
        data={"description": PLOT},
        files={"file": ("grow.ts", video.read_bytes(), "video/mp2t")},
    )
    assert r.status_code == 413, r.text
    assert "512x512" in r.json()["detail"] and str(tmp_path) not in r.text
    assert list((tmp_path / "up").iterdir()) == []

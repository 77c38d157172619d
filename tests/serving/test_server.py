"""`server_config`: what `reelcast serve` runs uvicorn with; slow clients cannot hold the server open."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn
from helpers.loopback_http import wait_until

from reelcast.serving.app import create_app
from reelcast.serving.server import server_config
from reelcast.serving.settings import ServeSettings


@pytest.fixture(scope="module")
def text_model(tiny_run):
    from reelcast.predictor import RevenuePredictor

    return RevenuePredictor.load(tiny_run)


def test_the_defaults_bound_shutdown_and_idle_connections():
    config = server_config(object(), ServeSettings())
    assert 10 <= config.timeout_graceful_shutdown <= 30
    assert config.timeout_keep_alive == 5 and config.h11_max_incomplete_event_size == 16 * 1024
    with pytest.raises(ValueError, match="shutdown_timeout"):
        ServeSettings(shutdown_timeout=0)


def test_partial_headers_time_out_and_a_dripping_client_does_not_outlive_shutdown(text_model):
    settings = ServeSettings(port=0, header_timeout=1.0, shutdown_timeout=1.0, body_idle_timeout=30.0)
    server = uvicorn.Server(server_config(create_app(predictor=text_model, settings=settings), settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert wait_until(lambda: server.started, 30)
    port = server.servers[0].sockets[0].getsockname()[1]
    stop = threading.Event()
    try:
        # A request head that never completes: a byte every 0.3 s (each byte used to restart nothing).
        slow_head = socket.create_connection(("127.0.0.1", port), timeout=10)
        t0 = time.monotonic()
        closed_after = None
        for byte in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Drip: " + b"a" * 40:
            try:
                slow_head.sendall(bytes([byte]))
            except OSError:
                closed_after = time.monotonic() - t0
                break
            time.sleep(0.3)
            slow_head.setblocking(False)
            try:
                if slow_head.recv(1) == b"":
                    closed_after = time.monotonic() - t0
                    break
            except BlockingIOError:
                pass
            finally:
                slow_head.setblocking(True)
        slow_head.close()
        assert closed_after is not None and closed_after < 4, "a partial request head held the connection"

        # A request body dripping a byte every 0.3 s (under the body idle timeout), then SIGTERM.
        drip = socket.create_connection(("127.0.0.1", port), timeout=10)
        drip.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )

        def keep_dripping() -> None:
            while not stop.wait(0.3):
                try:
                    drip.sendall(b" ")
                except OSError:
                    return

        threading.Thread(target=keep_dripping, daemon=True).start()
        time.sleep(0.5)
        t0 = time.monotonic()
        server.should_exit = True  # what uvicorn's SIGTERM handler sets
        thread.join(timeout=10)
        assert not thread.is_alive(), "the server outlived its shutdown timeout"
        assert time.monotonic() - t0 < settings.shutdown_timeout + 3
    finally:
        stop.set()
        server.should_exit = server.force_exit = True
        thread.join(timeout=10)

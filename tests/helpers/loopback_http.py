"""A small HTTP server on 127.0.0.1 for download tests: media, redirects, errors, drips and floods.

    with LoopbackHTTP(files={"/t.mp4": data}) as srv:
        srv.url("/t.mp4")             # http://127.0.0.1:PORT/t.mp4
        srv.hits["/t.mp4"]            # how many requests reached a path

Paths besides `files`:
    /status/NNN            answers HTTP NNN (?retry_after=S: with a Retry-After header)
    /redirect?to=URL       302 to URL (/redirect-loop redirects to itself)
    /page                  a text/html page
    /drip?bytes=N&every=S  declares N bytes, then sends one every S seconds
    /stall?seconds=S       sends nothing for S seconds, then a small file
    /flood?mb=N            N MB without Content-Length (chunked)
    /big?mb=N              declares N MB in Content-Length and sends a few bytes
    /short                 declares 1000 bytes and sends 10
    /empty                 200 with an empty body
Every handler stops when the server closes, so a test never leaves a thread behind.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class LoopbackHTTP:
    """ThreadingHTTPServer on 127.0.0.1:<free port>, started and stopped as a context manager."""

    def __init__(
        self,
        files: dict[str, bytes] | None = None,
        ctype: str = "video/mp4",
        tls: tuple[str, str] | None = None,
    ):
        self.files = dict(files or {})
        self.ctype = ctype
        self.tls = tls
        self.hits: Counter[str] = Counter()
        self.hosts: list[str] = []
        self.stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                parts = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(parts.query).items()}
                outer.hits[parts.path] += 1
                outer.hosts.append(self.headers.get("Host", ""))
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    outer.route(self, parts.path, q)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                # A client that gives up mid-answer (a fetch deadline) is expected here, not a failure.
                import sys

                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        if tls is not None:  # (certificate file, key file): serve https
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """The URL of a path on this server (host may be a name an injected resolver maps here)."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def __enter__(self) -> LoopbackHTTP:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    # ---- responses ------------------------------------------------------------------------------------
    def _send(self, h, code: int, body: bytes = b"", ctype: str | None = None, length: int | None = None):
        h.send_response(code)
        h.send_header("Content-Type", ctype or self.ctype)
        h.send_header("Content-Length", str(len(body) if length is None else length))
        h.end_headers()
        h.wfile.write(body)

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server is closing; False when it is."""
        return not self.stop.wait(seconds)

    def route(self, h, path: str, q: dict[str, str]) -> None:
        if path in self.files:
            return self._send(h, 200, self.files[path])
        if path.startswith("/status/"):  # ?retry_after=S adds a Retry-After header
            h.send_response(int(path.rsplit("/", 1)[1]))
            if "retry_after" in q:
                h.send_header("Retry-After", q["retry_after"])
            h.send_header("Content-Type", "text/plain")
            h.send_header("Content-Length", "5")
            h.end_headers()
            h.wfile.write(b"error")
            return None
        if path in ("/redirect", "/redirect-loop"):
            h.send_response(302)
            h.send_header("Location", q.get("to", "/redirect-loop"))
            h.send_header("Content-Length", "0")
            return h.end_headers()
        if path == "/page":
            return self._send(h, 200, b"<html>not a video</html>", ctype="text/html; charset=utf-8")
        if path == "/drip":
            n, every = int(q.get("bytes", "1000")), float(q.get("every", "0.2"))
            h.send_response(200)
            h.send_header("Content-Type", self.ctype)
            h.send_header("Content-Length", str(n))
            h.end_headers()
            for _ in range(n):
                if not self._wait(every):
                    return
                h.wfile.write(b"x")
                h.wfile.flush()
            return
        if path == "/stall":
            if self._wait(float(q.get("seconds", "5"))):
                self._send(h, 200, b"late video")
            return
        if path == "/flood":
            h.send_response(200)
            h.send_header("Content-Type", self.ctype)
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            block = b"z" * 65536
            for _ in range(int(float(q.get("mb", "8")) * 16)):
                if self.stop.is_set():
                    return
                h.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
            h.wfile.write(b"0\r\n\r\n")
            return
        if path == "/big":
            return self._send(h, 200, b"head", length=int(float(q.get("mb", "100")) * 2**20))
        if path == "/short":
            h.send_response(200)
            h.send_header("Content-Type", self.ctype)
            h.send_header("Content-Length", "1000")
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(b"0123456789")
            h.close_connection = True
            return
        if path == "/empty":
            return self._send(h, 200, b"")
        return self._send(h, 404, b"no such path", ctype="text/plain")


def wait_until(predicate, seconds: float = 5.0) -> bool:
    """Poll predicate until it is true or the time is up."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class UvicornThread:
    """An ASGI app served by uvicorn on 127.0.0.1:<free port> in a thread (for raw-socket tests)."""

    def __init__(self, app):
        import uvicorn

        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="on"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.port = 0

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        if (
            not wait_until(lambda: self.server.started or not self.thread.is_alive(), 30)
            or not self.server.started
        ):
            raise RuntimeError("uvicorn did not start")
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)

"""How `reelcast serve` runs the app under uvicorn: every connection and shutdown bound in one place.

uvicorn bounds idle keep-alive connections, but not a client that sends request headers a byte at a
time (its keep-alive timer stops at the first byte), and by default it waits without limit for open
requests at shutdown. `server_config` sets both bounds; body read times are LimitsMiddleware's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from reelcast.serving.settings import ServeSettings

# Largest request head (request line and headers) h11 buffers before answering 400.
MAX_HEADER_BYTES = 16 * 1024


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers are not complete in time."""

    header_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request's headers."""
        self._header_deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _expired(self) -> None:
        # Still no complete request head (h11 leaves the client IDLE until it has one): hang up.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def handle_events(self) -> None:
        """Parse what arrived; a new request's complete head stops the clock."""
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:
            self._disarm()

    def on_response_complete(self) -> None:
        """The next request on this connection gets the same time for its headers."""
        if not self.transport.is_closing():
            self._arm()  # before super(), which may start a pipelined request (and so disarm)
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock."""
        self._disarm()
        super().connection_lost(exc)


def server_config(app: Any, settings: ServeSettings, **overrides: Any) -> uvicorn.Config:
    """The uvicorn configuration `reelcast serve` runs `app` with (overrides: e.g. log_level, port=0)."""
    protocol = type(
        "HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": settings.header_timeout}
    )
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": protocol,
        "timeout_keep_alive": settings.keep_alive_timeout,
        "timeout_graceful_shutdown": settings.shutdown_timeout,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "lifespan": "on",
    }
    return uvicorn.Config(app, **{**options, **overrides})

"""What the server refuses before a request reaches the model, and what its answers never show.

* `LimitsMiddleware` (pure ASGI, so it sees the body as it arrives): the optional API key (401),
  a body cap per route (413, from Content-Length or counted), and body read timeouts (408) so a
  client that declares more than it sends cannot hold a connection and a temporary file.
* `clean_validation_errors`: 422 answers that name the field and the rule, never the input itself
  (a 50 MB description is not echoed back; NaN, Infinity and lone surrogates cannot break the JSON).
* `redact_paths`: absolute paths in answers become their last component (no working directory,
  home folder or cache layout leaks through /model, warnings or trailer statuses).
* `video_pixels`: a video's frame size read from its stream headers, to refuse one too large to
  decode before a single frame is decoded.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import time
from pathlib import Path
from typing import Any

import anyio
from starlette.exceptions import HTTPException

from reelcast.serving.settings import ServeSettings
from reelcast.serving.uploads import body_limit_bytes

log = logging.getLogger(__name__)

UPLOAD_PATH = "/predict/upload"
# Paths that answer without the API key: the page itself (it asks for the key), liveness, the docs.
OPEN_PATHS = frozenset({"/", "/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
OPEN_PREFIXES = ("/static/",)
# Locations a 422 may repeat: known fields, and other keys only when they are short plain names.
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,59}")
KNOWN_FIELDS = frozenset({"body", "query", "header", "path", "description", "title", "trailer_url", "file"})


def _json_response(status: int, detail: str, headers: dict[str, str] | None = None):
    body = json.dumps({"detail": detail}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    head += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    return [
        {"type": "http.response.start", "status": status, "headers": head},
        {"type": "http.response.body", "body": body},
    ]


def presented_key(headers: dict[bytes, bytes]) -> str | None:
    """The API key a request carries: `X-API-Key: K` or `Authorization: Bearer K`."""
    key = headers.get(b"x-api-key")
    if key is not None:
        return key.decode("latin-1").strip()
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


class LimitsMiddleware:
    """API key, body size and body read-time limits, applied before any route runs."""

    def __init__(self, app, settings: ServeSettings):
        self.app = app
        self.settings = settings

    def body_limit(self, path: str) -> int:
        """The largest body a path accepts (uploads have their own, larger limit)."""
        if path == UPLOAD_PATH:
            return body_limit_bytes(self.settings)
        return int(self.settings.max_body_kb * 1024)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        s = self.settings
        path = scope.get("path", "")
        headers = dict(scope.get("headers") or [])
        if s.api_key and scope.get("method") != "OPTIONS" and not self._open(path):
            key = presented_key(headers)
            if key is None or not hmac.compare_digest(key.encode(), s.api_key.encode()):
                for m in _json_response(
                    401,
                    "an API key is required: send it as X-API-Key or Authorization: Bearer",
                    {"www-authenticate": "Bearer"},
                ):
                    await send(m)
                return None
        limit = self.body_limit(path)
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                n = int(declared)
            except ValueError:
                n = -1
            if n < 0:
                for m in _json_response(400, "Content-Length is not a number"):
                    await send(m)
                return None
            if n > limit and path != UPLOAD_PATH:  # uploads say it in their own words (uploads.py)
                for m in _json_response(413, f"the request body is over the {_size(limit)} limit"):
                    await send(m)
                return None
        return await self.app(scope, self._bounded(receive, limit), send)

    @staticmethod
    def _open(path: str) -> bool:
        return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)

    def _bounded(self, receive, limit: int):
        """receive() with a byte count and read timeouts, until the body is complete."""
        idle, total = self.settings.body_idle_timeout, self.settings.body_deadline
        state = {"n": 0, "done": False, "start": None}

        async def bounded_receive():
            if state["done"]:
                return await receive()
            if state["start"] is None:
                state["start"] = time.monotonic()
            left = total - (time.monotonic() - state["start"])
            try:
                with anyio.fail_after(max(0.0, min(idle, left))):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(408, "the request body did not arrive in time") from None
            if message["type"] == "http.request":
                state["n"] += len(message.get("body", b""))
                if state["n"] > limit:
                    raise HTTPException(413, f"the request body is over the {_size(limit)} limit")
                state["done"] = not message.get("more_body", False)
            else:
                state["done"] = True
            return message

        return bounded_receive


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


# ---- what answers may contain -------------------------------------------------------------------------
def _clean_loc(loc: Any) -> list[Any]:
    out: list[Any] = []
    for part in loc or ():
        if (
            isinstance(part, int)
            or part in KNOWN_FIELDS
            or (isinstance(part, str) and _FIELD_NAME.fullmatch(part))
        ):
            out.append(
                part
            )  # a short plain name helps ("trailer" for "trailer_url"); nothing else is repeated
        else:
            out.append("<unexpected field>")
    return out


def clean_validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """FastAPI's validation errors without the submitted values (type, location and message only)."""
    out = []
    for e in errors:
        msg = str(e.get("msg", "invalid value"))
        value = e.get("input")
        if isinstance(value, float) and not math.isfinite(value):
            msg = "NaN and Infinity are not valid JSON numbers"
        elif e.get("type") == "string_unicode":
            msg = "contains a lone surrogate (\\ud800-\\udfff): not valid Unicode text"
        elif e.get("type") == "json_invalid":
            msg = "the body is not valid JSON"
        out.append({"type": str(e.get("type", "value_error")), "loc": _clean_loc(e.get("loc")), "msg": msg})
    return out


_ABS_PATH = re.compile(r"(?<![\w:/.~-])/(?:[^\s/'\"(),;]+/)+([^\s/'\"(),;]+)")


def redact_paths(value: Any) -> Any:
    """Absolute paths in strings (nested in dicts and lists) reduced to their last component."""
    if isinstance(value, str):
        return _ABS_PATH.sub(lambda m: m.group(1), value)
    if isinstance(value, dict):
        return {k: redact_paths(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_paths(v) for v in value]
    return value


def has_lone_surrogate(text: str) -> bool:
    """True when a string cannot be encoded as UTF-8 (a lone surrogate from a JSON \\ud800 escape)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# ---- decode limits ------------------------------------------------------------------------------------
def video_pixels(path: Path) -> tuple[int, int] | None:
    """(width, height) of a file's largest video stream from its headers, without decoding; None if none."""
    import av

    with av.open(str(path), metadata_errors="ignore") as container:
        sizes = [
            (int(s.codec_context.width or 0), int(s.codec_context.height or 0))
            for s in container.streams.video
        ]
    return max(sizes, key=lambda wh: wh[0] * wh[1]) if sizes else None


def pixel_problem(size: tuple[int, int] | None, settings: ServeSettings) -> str | None:
    """Why a frame size is refused (too large to decode here), or None."""
    if size is None:
        return None
    w, h = size
    if w * h > settings.max_pixels:
        side = math.isqrt(settings.max_pixels)
        return (
            f"the video is {w}x{h} pixels; this server decodes at most {settings.max_pixels} pixels a frame "
            f"({side}x{side})"
        )
    return None

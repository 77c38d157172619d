"""Trailer references: what a table's trailer cell points at (a YouTube video, a media URL, a file)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from urllib.request import url2pathname

from reelcast.io import sha256_text

KINDS = ("youtube", "url", "file")
YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
YOUTUBE_HOSTS = ("youtube.com", "youtu.be", "youtube-nocookie.com", "youtube.googleapis.com")
# Host prefixes that serve the same videos as the bare host.
_HOST_PREFIXES = ("www.", "m.", "music.", "gaming.")
# Path forms that carry the id as the segment after the prefix: /embed/ID, /shorts/ID, ...
_ID_PATH_PREFIXES = ("embed", "shorts", "v", "e", "live")
# Extensions that make a cell a file path even when the file does not exist (yet); the missing
# file is then reported by the download step as not_found, naming the path.
MEDIA_SUFFIXES = {
    ".mp4",
    ".m4v",
    ".mov",
    ".mkv",
    ".webm",
    ".avi",
    ".mpg",
    ".mpeg",
    ".ts",
    ".flv",
    ".wmv",
    ".3gp",
    ".ogv",
}
ACCEPTED = (
    "a YouTube link (youtube.com/watch?v=ID, youtu.be/ID, /embed/ID, /shorts/ID, /v/ID), "
    "an 11-character YouTube id, an http(s) link to a media file, or a local file path"
)


class TrailerRefError(ValueError):
    """A trailer cell that is none of the accepted forms."""


@dataclass(frozen=True)
class TrailerRef:
    """One trailer: `kind` youtube (value = video id), url (http/https) or file (absolute path)."""

    kind: str
    value: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise TrailerRefError(f"trailer kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.kind == "youtube" and not YOUTUBE_ID.fullmatch(self.value):
            raise TrailerRefError(f"{self.value!r} is not an 11-character YouTube video id")
        if self.kind == "url" and urlsplit(self.value).scheme not in ("http", "https"):
            raise TrailerRefError(f"{self.value!r} is not an http(s) URL")
        if self.kind == "file" and not Path(self.value).is_absolute():
            raise TrailerRefError(f"file trailer path {self.value!r} must be absolute")

    @property
    def cache_key(self) -> str:
        """A stable, filesystem-safe name for this trailer (the download cache file stem)."""
        if self.kind == "youtube":
            return f"yt-{self.value}"
        if self.kind == "url":
            return f"url-{sha256_text(self.value)[:20]}"
        return f"file-{self.value}"


def _is_empty(cell: object) -> bool:
    if cell is None:
        return True
    if isinstance(cell, float) and math.isnan(cell):
        return True
    try:  # pandas.NA / NaT without importing pandas here
        import pandas as pd

        if cell is pd.NA or cell is pd.NaT:
            return True
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return isinstance(cell, str) and not cell.strip()


def _youtube_id(text: str) -> str | None | bool:
    """The id of a YouTube link; None when the link has no valid id; False when it is not YouTube."""
    url = text if re.match(r"(?i)[a-z][a-z0-9+.-]*://", text) else "https://" + text
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:  # e.g. an unbalanced "[" read as an IPv6 host: not a link at all
        return False
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix):
            host = host[len(prefix) :]
            break
    if host not in YOUTUBE_HOSTS or parts.scheme.lower() not in ("http", "https"):
        return False
    segments = [s for s in parts.path.split("/") if s]
    candidate = None
    if host == "youtu.be":
        candidate = segments[0] if segments else None
    elif segments[:1] == ["watch"] or not segments:
        candidate = (parse_qs(parts.query).get("v") or [None])[0]
    elif len(segments) >= 2 and segments[0] in _ID_PATH_PREFIXES:
        candidate = segments[1]
    if candidate and YOUTUBE_ID.fullmatch(candidate):
        return candidate
    return None


def _local_path(text: str, base_dir: Path | None) -> Path:
    p = Path(text).expanduser()
    if not p.is_absolute():
        p = (base_dir if base_dir is not None else Path.cwd()) / p
    return p.resolve()


def parse_trailer_ref(cell: object, base_dir: Path | None = None) -> TrailerRef | None:
    """Parse a table cell into a TrailerRef; None for an empty cell; TrailerRefError when unreadable."""
    if _is_empty(cell):
        return None
    text = str(cell).strip().strip("\"'").strip()
    if not text:
        return None

    if text.lower().startswith("file:"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise TrailerRefError(f"trailer {text!r}: file:// URLs on another host are not supported")
        return TrailerRef("file", str(_local_path(url2pathname(unquote(parts.path)), base_dir)))

    yt = _youtube_id(text)
    if yt is None:
        raise TrailerRefError(f"trailer {text!r} is a YouTube link without a valid 11-character video id")
    if yt:
        return TrailerRef("youtube", yt)

    if re.match(r"(?i)https?://", text):
        if not urlsplit(text).hostname:
            raise TrailerRefError(f"trailer {text!r} is a URL without a host; accepted: {ACCEPTED}")
        return TrailerRef("url", text)
    if re.match(r"(?i)[a-z][a-z0-9+.-]+://", text):
        raise TrailerRefError(f"trailer {text!r} uses an unsupported URL scheme; accepted: {ACCEPTED}")

    local = _local_path(text, base_dir)
    # An existing file wins over the 11-character id reading ("trailer.mp4" is 11 characters too).
    if local.is_file():
        return TrailerRef("file", str(local))
    if YOUTUBE_ID.fullmatch(text):
        return TrailerRef("youtube", text)
    looks_like_path = (
        Path(text).suffix.lower() in MEDIA_SUFFIXES or "/" in text or "\\" in text or text.startswith("~")
    )
    if looks_like_path:
        return TrailerRef("file", str(local))
    raise TrailerRefError(f"trailer {text!r} is not recognised; accepted: {ACCEPTED}")

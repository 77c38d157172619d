"""Trailer references: what a table's trailer cell points at (a YouTube video, a media URL, a file)."""

from __future__ import annotations

import math
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from urllib.request import url2pathname

from reelcast.files import sha256_text

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


# Longest path and path component the kernel takes (Linux PATH_MAX, NAME_MAX); longer cells are refused
# here rather than by an OSError halfway through a run.
MAX_PATH_CHARS = 4096
MAX_NAME_CHARS = 255
# Statuses of local trailer files that cannot be read (beside download's not_found).
OUTSIDE_FOLDER = "outside_folder"
NOT_REGULAR = "not_a_regular_file"
TOO_LARGE = "too_large"


class TrailerRefError(ValueError):
    """A trailer cell that is none of the accepted forms, or a local file that may not be read.

    `status` is the per-film status it becomes (invalid, outside_folder, not_a_regular_file, too_large).
    """

    def __init__(self, message: str, status: str = "invalid"):
        super().__init__(message)
        self.status = status


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
    """The absolute, symlink-resolved path of a cell; TrailerRefError for a path the OS cannot take."""
    shown = text if len(text) <= 80 else text[:60] + f"... ({len(text)} characters)"
    if "\x00" in text:
        raise TrailerRefError(f"trailer path {shown!r} contains a NUL character")
    if len(text) > MAX_PATH_CHARS or any(len(part) > MAX_NAME_CHARS for part in re.split(r"[/\\]", text)):
        raise TrailerRefError(
            f"trailer path {shown!r} is too long (paths up to {MAX_PATH_CHARS} characters, "
            f"names up to {MAX_NAME_CHARS})"
        )
    try:
        p = Path(text).expanduser()
        if not p.is_absolute():
            p = (base_dir if base_dir is not None else Path.cwd()) / p
        return p.resolve()
    except RuntimeError as e:  # "~nosuchuser", or a symlink loop on older Pythons
        raise TrailerRefError(f"trailer path {shown!r} cannot be resolved: {e}") from None
    except (OSError, ValueError) as e:
        raise TrailerRefError(f"trailer path {shown!r} cannot be resolved: {e.strerror or e}") from None


def check_local_file(path: str | Path, root: Path | None = None, max_bytes: float | None = None) -> int:
    """Check a file trailer before anything reads it; its size, or TrailerRefError with a status.

    `root`: the folder the path must lie in (after symlinks are followed), None for anywhere. Only
    regular files pass (not FIFOs, devices or directories), and only up to `max_bytes`, so a huge
    (even sparse) file is refused from its size alone, before hashing.
    """
    p = Path(path)
    if root is not None:
        real_root = Path(root).resolve()
        if not p.resolve().is_relative_to(real_root):
            raise TrailerRefError(
                f"{p} is outside the table's folder {real_root}; pass --allow-outside-paths to read it",
                OUTSIDE_FOLDER,
            )
    try:
        st = p.stat()
    except FileNotFoundError:
        raise TrailerRefError(f"{p} does not exist", "not_found") from None
    except OSError as e:
        raise TrailerRefError(f"{p} cannot be read: {e.strerror or e}", "not_found") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, FIFO or socket)"
        raise TrailerRefError(f"{p} is {what}", NOT_REGULAR)
    if max_bytes is not None and st.st_size > max_bytes:
        raise TrailerRefError(
            f"{p} is {st.st_size / 1e6:,.0f} MB, above media.max_file_mb = {max_bytes / 1e6:,.0f}", TOO_LARGE
        )
    return st.st_size


def _exists(p: Path) -> bool:
    try:
        return p.exists()
    except OSError:
        return False


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
        try:
            host = urlsplit(text).hostname
        except ValueError as e:  # "Invalid IPv6 URL": an unbalanced "[" or a bad address inside one
            raise TrailerRefError(
                f"trailer {text!r} is not a valid URL ({e}); accepted: {ACCEPTED}"
            ) from None
        if not host:
            raise TrailerRefError(f"trailer {text!r} is a URL without a host; accepted: {ACCEPTED}")
        return TrailerRef("url", text)
    if re.match(r"(?i)[a-z][a-z0-9+.-]+://", text):
        raise TrailerRefError(f"trailer {text!r} uses an unsupported URL scheme; accepted: {ACCEPTED}")

    if YOUTUBE_ID.fullmatch(text) and not (base_dir or Path.cwd()).joinpath(text).is_file():
        return TrailerRef("youtube", text)
    local = _local_path(text, base_dir)
    # An existing file wins over the 11-character id reading ("trailer.mp4" is 11 characters too).
    if _exists(local):
        return TrailerRef("file", str(local))
    looks_like_path = (
        Path(text).suffix.lower() in MEDIA_SUFFIXES or "/" in text or "\\" in text or text.startswith("~")
    )
    if looks_like_path:
        return TrailerRef("file", str(local))
    raise TrailerRefError(f"trailer {text!r} is not recognised; accepted: {ACCEPTED}")


# Forms of a reference that name something remote; anything else is a path on the machine.
_URL_START = re.compile(r"(?i)https?://")
_YOUTUBE_BARE = re.compile(r"(?i)(www\.|m\.)?(youtube\.com|youtu\.be|youtube-nocookie\.com)/")
_SCHEME = re.compile(r"(?i)[a-z][a-z0-9+.-]+:")
_DRIVE = re.compile(r"[A-Za-z]:[\\/]")


def parse_remote_ref(text: str) -> TrailerRef | None:
    """The TrailerRef of a YouTube id/link or http(s) URL, read without touching the filesystem.

    None when the text is a file path; TrailerRefError (status invalid) when it is neither (an unknown
    scheme, a YouTube link without an id, a malformed URL, free text). Unlike `parse_trailer_ref` it never
    expands `~user` or stats a path, so a client cannot probe the server's users or files.
    """
    if _URL_START.match(text) or _YOUTUBE_BARE.match(text):
        ref = parse_trailer_ref(text)  # these forms never reach the filesystem branch
        if ref is None:
            raise TrailerRefError("empty reference")
        return ref
    if YOUTUBE_ID.fullmatch(text):
        return TrailerRef("youtube", text)
    if _SCHEME.match(text) and not _DRIVE.match(text):
        raise TrailerRefError(f"trailer {text[:80]!r} uses an unsupported scheme; accepted: {ACCEPTED}")
    suffix = (
        Path(text.replace("\\", "/").rsplit("/", 1)[-1]).suffix.lower() if len(text) < MAX_PATH_CHARS else ""
    )
    if suffix in MEDIA_SUFFIXES or "/" in text or "\\" in text or text.startswith("~"):
        return None
    raise TrailerRefError(f"trailer {text[:80]!r} is not recognised; accepted: {ACCEPTED}")

"""Trailer acquisition: YouTube through yt-dlp's Python API, media URLs through urllib, local files as is.

Downloads land in a cache directory named by `TrailerRef.cache_key` (`yt-<id>.mp4`, `url-<sha>.mp4`).
Only finished files carry that name: yt-dlp writes into a hidden per-download folder and urllib into
a hidden temporary file, and both are renamed into place at the end, so a killed run never leaves
something that a later run would take for a finished download.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from glob import escape as glob_escape
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reelcast.config import MediaConfig
from reelcast.files import atomic_write_json
from reelcast.media.refs import TrailerRef
from reelcast.media.safe_fetch import REFUSED, TOO_LARGE, FetchError, FetchPolicy, fetch_to_file
from reelcast.progress import Progress

log = logging.getLogger(__name__)

OK = "ok"
UNAVAILABLE = "unavailable"
PRIVATE = "private"
AGE_RESTRICTED = "age_restricted"
GEO_BLOCKED = "geo_blocked"
NETWORK_ERROR = "network_error"
TIMEOUT = "timeout"
NOT_FOUND = "not_found"  # local file missing, or HTTP 404/410
OFFLINE_MISS = "offline_miss"  # offline and not in the cache
INVALID = "invalid"
RATE_LIMITED = "rate_limited"  # HTTP 429 / "too many requests": this address must slow down
BOT_CHECK = "bot_check"  # YouTube wants a signed-in session ("confirm you're not a bot"): --cookies
# REFUSED (an address or host the policy does not allow) and TOO_LARGE come from safe_fetch.
STATUSES = (
    OK,
    UNAVAILABLE,
    PRIVATE,
    AGE_RESTRICTED,
    GEO_BLOCKED,
    NETWORK_ERROR,
    TIMEOUT,
    NOT_FOUND,
    OFFLINE_MISS,
    INVALID,
    RATE_LIMITED,
    BOT_CHECK,
    REFUSED,
    TOO_LARGE,
)
# Only these can change by waiting; the others are facts about the video.
TRANSIENT = frozenset({NETWORK_ERROR, TIMEOUT, RATE_LIMITED})
# Outcomes that say nothing final about the video: not recorded, so a later run tries again.
RETRY_LATER = frozenset({OFFLINE_MISS, NETWORK_ERROR, TIMEOUT, RATE_LIMITED, BOT_CHECK})
# A rate limit is waited out longer than a dropped connection, but never more than this per wait.
MAX_RATE_LIMIT_WAIT = 900.0
PACE_LOCK = ".pace.lock"

# First retry waits this long, then twice as long each time (2, 4, 8 s), capped: enough for a
# dropped connection or a short rate limit, without stalling a long run.
BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 60.0
MANIFEST_NAME = "manifest.json"
# The manifest is rewritten at most this often while downloads run (and always at the end).
MANIFEST_FLUSH_SECONDS = 5.0
# File extensions a finished download may have; anything else in the folder is not a cache hit.
MEDIA_EXTS = frozenset({"mp4", "webm", "mkv", "m4v", "mov", "3gp", "flv", "avi", "ts", "mpg", "ogv", "media"})
_CHUNK = 1 << 20

# yt-dlp error text -> status; first match wins, so the specific reasons come before generic ones.
_YTDLP_PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Before the generic network errors below, which also list these phrases.
    (RATE_LIMITED, ("http error 429", "too many requests")),
    (BOT_CHECK, ("not a bot",)),
    (PRIVATE, ("private video", "video is private", "members-only", "members only", "join this channel")),
    (
        AGE_RESTRICTED,
        ("confirm your age", "age-restricted", "age restricted", "inappropriate for some users"),
    ),
    (
        GEO_BLOCKED,
        (
            "available in your country",
            "geo restrict",
            "geo-restrict",
            "georestrict",
            "blocked it in your country",
        ),
    ),
    (TIMEOUT, ("timed out", "timeout")),
    (INVALID, ("unsupported url", "is not a valid url")),
    (
        NETWORK_ERROR,
        (
            "http error 403",
            "http error 408",
            "http error 429",
            "http error 5",
            "too many requests",
            "try again later",
            "not a bot",
            "urlopen error",
            "unable to download",
            "connection",
            "temporary failure",
            "name or service not known",
            "network is unreachable",
            "remote end closed",
            "incomplete read",
            "ssl",
            "errno",
        ),
    ),
)


@dataclass
class FetchResult:
    """Outcome of acquiring one trailer."""

    status: str
    path: Path | None = None
    message: str = ""
    attempts: int = 0
    cached: bool = False
    node: str = ""  # the machine that fetched it (its own download cache holds the file)


def node_name() -> str:
    """This machine's name, recorded with every fetch so a cluster run says which node got what."""
    return socket.gethostname()


class _Failure(Exception):
    def __init__(self, status: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after  # seconds the server asked for (HTTP Retry-After)


def classify_ytdlp_error(message: str) -> str:
    """Map a yt-dlp DownloadError message to a status (unknown reasons count as unavailable)."""
    low = message.lower()
    for status, needles in _YTDLP_PATTERNS:
        if any(n in low for n in needles):
            return status
    return UNAVAILABLE


def _clean(message: str) -> str:
    message = re.sub(r"\x1b\[[0-9;]*m", "", message)  # yt-dlp colours its messages
    return re.sub(r"^ERROR:\s*", "", message.strip())


def cached_path(ref: TrailerRef, download_dir: Path) -> Path | None:
    """The finished download of `ref` in `download_dir`, if there is one."""
    if not download_dir.is_dir():
        return None
    for p in sorted(download_dir.glob(f"{glob_escape(ref.cache_key)}.*")):
        if p.suffix[1:].lower() in MEDIA_EXTS and p.is_file() and p.stat().st_size > 0:
            return p
    return None


def youtube_format(max_height: int, can_merge: bool) -> str:
    """yt-dlp format selector: the best single file (video + audio) no taller than max_height."""
    h = int(max_height)
    choices = [f"b[height<={h}][ext=mp4]", f"b[height<={h}]"]
    if can_merge:  # separate video and audio streams need the ffmpeg program to be joined
        choices += [f"bv[height<={h}][ext=mp4]+ba[ext=m4a]", f"bv[height<={h}]+ba"]
    # Nothing small enough with sound: the smallest file with sound, then video alone (audio masked).
    choices += ["w", f"bv[height<={h}]", "wv"]
    return "/".join(choices)


class _QuietLogger:
    """Keeps yt-dlp off the console; errors come back as DownloadError and are reported per film."""

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def info(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def warning(self, msg: str) -> None:
        log.debug("yt-dlp warning: %s", msg)

    def error(self, msg: str) -> None:
        log.debug("yt-dlp error: %s", msg)


def _find_output(info: dict[str, Any] | None, folder: Path) -> Path | None:
    for d in (info or {}).get("requested_downloads") or []:
        fp = d.get("filepath")
        if fp and Path(fp).is_file():
            return Path(fp)
    files = [
        p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix[1:].lower() in MEDIA_EXTS and p.stat().st_size > 0
    ]
    return files[0] if files else None


def policy_for(cfg: MediaConfig) -> FetchPolicy:
    """The download limits a media config sets (no host allowlist; the server adds its own)."""
    return FetchPolicy(
        allow_private=cfg.allow_private_hosts,
        max_bytes=int(cfg.max_download_mb * 2**20),
        deadline=cfg.download_deadline,
        read_timeout=cfg.timeout,
    )


def _ytdlp_limits(policy: FetchPolicy) -> dict[str, Any]:
    """yt-dlp options enforcing the byte cap and the overall deadline from its progress reports."""
    deadline = time.monotonic() + policy.deadline

    def guard(d: dict[str, Any]) -> None:
        if time.monotonic() > deadline:
            raise _Failure(TIMEOUT, f"the download timed out after {policy.deadline:g} s")
        if (d.get("downloaded_bytes") or 0) > policy.max_bytes:
            raise _Failure(TOO_LARGE, f"the download is over the {policy.max_bytes}-byte limit")

    return {"max_filesize": policy.max_bytes, "progress_hooks": [guard]}


def _download_youtube(
    ref: TrailerRef, cfg: MediaConfig, download_dir: Path, policy: FetchPolicy | None = None
) -> Path:
    # yt-dlp does its own networking (YouTube's page, then googlevideo.com); it is only ever given
    # the watch URL built from an 11-character id below, never a URL from the caller.
    import yt_dlp  # lazy: importing yt-dlp takes a noticeable part of a second

    for stale in download_dir.glob(f".{glob_escape(ref.cache_key)}.*.partial"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed run
    work = Path(tempfile.mkdtemp(prefix=f".{ref.cache_key}.", suffix=".partial", dir=download_dir))
    opts = {
        "format": youtube_format(cfg.max_height, shutil.which("ffmpeg") is not None),
        "outtmpl": str(work / "%(id)s.%(ext)s"),
        "merge_output_format": "mp4",
        "noplaylist": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _QuietLogger(),
        "socket_timeout": cfg.timeout,
        # cfg.retries is the one retry knob (with backoff, here); yt-dlp's own retries would multiply it.
        "retries": 0,
        "fragment_retries": 0,
        "extractor_retries": 0,
        "cachedir": False,
        "overwrites": True,
        **_ytdlp_limits(policy or policy_for(cfg)),
    }
    if cfg.cookies:
        opts["cookiefile"] = str(cfg.cookies)
    try:
        with yt_dlp.YoutubeDL(opts) as ydl:
            info = ydl.extract_info(f"https://www.youtube.com/watch?v={ref.value}", download=True)
        out = _find_output(info, work)
        if out is None:
            raise _Failure(UNAVAILABLE, "yt-dlp finished but wrote no media file")
        final = download_dir / f"{ref.cache_key}{out.suffix.lower()}"
        os.replace(out, final)
        return final
    except yt_dlp.utils.DownloadError as e:
        msg = _clean(str(e))
        raise _Failure(classify_ytdlp_error(msg), msg) from None
    except TimeoutError as e:
        raise _Failure(TIMEOUT, f"timed out after {cfg.timeout:g} s ({e})") from None
    except (urllib.error.URLError, HTTPException, ConnectionError) as e:
        raise _Failure(NETWORK_ERROR, f"network error: {e}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _url_suffix(url: str) -> str:
    suffix = Path(urlsplit(url).path).suffix.lower().lstrip(".")
    return suffix if suffix in MEDIA_EXTS else "media"


def _download_url(
    ref: TrailerRef, cfg: MediaConfig, download_dir: Path, policy: FetchPolicy | None = None
) -> Path:
    final = download_dir / f"{ref.cache_key}.{_url_suffix(ref.value)}"
    try:
        fetch_to_file(ref.value, final, policy or policy_for(cfg))
    except FetchError as e:
        raise _Failure(e.status, e.message, e.retry_after) from None
    return final


def _retry_after(headers) -> float | None:
    value = (headers.get("Retry-After") if headers is not None else None) or ""
    return float(value) if value.strip().isdigit() else None  # the HTTP-date form is rare; ignored


def pace(download_dir: Path, seconds: float, *, sleep: Callable[[float], None] = time.sleep) -> None:
    """Wait until `seconds` have passed since the last download started from this download folder.

    A lock file in the folder serialises the check, so every thread and process sharing the folder
    (one machine's cache) keeps the pause between them together, not each on its own.
    """
    if seconds <= 0:
        return
    import fcntl

    with (Path(download_dir) / PACE_LOCK).open("a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.seek(0)
            text = f.read().strip()
            # Never more than one pause: the stamp is rounded to 1 ms, and a clock may step back.
            wait = min(seconds, (float(text) if text else 0.0) + seconds - time.time())
            if wait > 0:
                sleep(wait)
            f.seek(0)
            f.truncate()
            f.write(f"{time.time():.3f}")
            f.flush()
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def download_dir_for(cfg) -> Path:
    """Where a config keeps downloaded trailers: media.download_dir, else <cache_dir>/trailers.

    With the store at a URL (s3://...) the default is this machine's ~/.cache/reelcast/trailers.
    """
    if cfg.media.download_dir:
        return Path(cfg.media.download_dir).expanduser()
    if "://" in str(cfg.cache_dir):
        return Path.home() / ".cache" / "reelcast" / "trailers"
    return Path(cfg.cache_dir) / "trailers"


def node_download_dir(cfg) -> Path:
    """This node's own download cache in a cluster run: media.download_dir as given (a local path on
    every node), else a folder per machine name, so nodes sharing a cache_dir keep separate caches."""
    if cfg.media.download_dir or "://" in str(cfg.cache_dir):
        return download_dir_for(cfg)
    return Path(cfg.cache_dir).resolve() / "trailers" / f"node-{node_name()}"


def fetch_trailer(
    ref: TrailerRef,
    cfg: MediaConfig,
    download_dir: Path,
    *,
    sleep: Callable[[float], None] = time.sleep,
    policy: FetchPolicy | None = None,
) -> FetchResult:
    """A local path to the trailer's media file, downloading it (with retries) when needed.

    `policy` (default: from cfg) bounds what a download may reach, its bytes and its time.
    """
    node = node_name()
    if ref.kind == "file":
        p = Path(ref.value)
        if p.is_file():
            return FetchResult(OK, p, "", 0, cached=True, node=node)
        what = "is a directory, not a file" if p.is_dir() else "does not exist"
        return FetchResult(NOT_FOUND, None, f"{p} {what}", 0, node=node)

    download_dir = Path(download_dir)
    hit = cached_path(ref, download_dir)
    if hit is not None:
        return FetchResult(OK, hit, "from the download cache", 0, cached=True, node=node)
    if cfg.offline:
        msg = f"offline and {ref.cache_key} is not in {download_dir}"
        return FetchResult(OFFLINE_MISS, None, msg, 0, node=node)
    if cfg.cookies and ref.kind == "youtube" and not Path(cfg.cookies).is_file():
        return FetchResult(INVALID, None, f"media.cookies: {cfg.cookies} is not a file", 0, node=node)

    download_dir.mkdir(parents=True, exist_ok=True)
    fetch = _download_youtube if ref.kind == "youtube" else _download_url
    attempts = 0
    while True:
        attempts += 1
        try:
            pace(download_dir, cfg.download_pause, sleep=sleep)
            return FetchResult(OK, fetch(ref, cfg, download_dir, policy), "", attempts, node=node)
        except _Failure as f:
            if f.status not in TRANSIENT or attempts > cfg.retries:
                return FetchResult(f.status, None, f.message, attempts, node=node)
            if f.status == RATE_LIMITED:  # the server says slow down: a long wait, or what it asked
                wait = min(MAX_RATE_LIMIT_WAIT, cfg.rate_limit_wait * 2 ** (attempts - 1))
                wait = max(wait, min(MAX_RATE_LIMIT_WAIT, f.retry_after or 0.0))
            else:
                wait = min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2 ** (attempts - 1))
            log.info(
                "%s: %s (%s); retry %d of %d in %.0f s",
                ref.value,
                f.status,
                f.message,
                attempts,
                cfg.retries,
                wait,
            )
            sleep(wait)


def _load_manifest(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        log.warning("%s is unreadable (%s); starting a new manifest", path, e)
        return {}
    return data if isinstance(data, dict) else {}


def fetch_many(
    refs: dict[str, TrailerRef],
    cfg: MediaConfig,
    download_dir: Path,
    progress: bool = True,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, FetchResult]:
    """Fetch many trailers in parallel threads; record each film's outcome in download_dir/manifest.json."""
    download_dir = Path(download_dir)
    download_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = download_dir / MANIFEST_NAME
    manifest = _load_manifest(manifest_path)
    films_by_key: dict[str, list[str]] = {}
    for film, ref in refs.items():  # films sharing a trailer download it once
        films_by_key.setdefault(ref.cache_key, []).append(film)

    results: dict[str, FetchResult] = {}
    last_flush = time.monotonic()
    bar = Progress(len(refs), "fetch trailers", "film", enabled=progress)
    try:
        with cf.ThreadPoolExecutor(max_workers=max(1, cfg.download_workers)) as pool:
            futures = {
                pool.submit(fetch_trailer, refs[films[0]], cfg, download_dir, sleep=sleep): key
                for key, films in films_by_key.items()
            }
            for fut in cf.as_completed(futures):
                key = futures[fut]
                res = fut.result()
                for film in films_by_key[key]:
                    results[film] = res
                    manifest[film] = {
                        "status": res.status,
                        "message": res.message,
                        "path": str(res.path) if res.path else None,
                        "trailer": key,
                        "attempts": res.attempts,
                        "node": res.node,
                    }
                bar.update(len(films_by_key[key]))
                if time.monotonic() - last_flush > MANIFEST_FLUSH_SECONDS:
                    atomic_write_json(manifest_path, manifest)
                    last_flush = time.monotonic()
    finally:
        bar.close()
        atomic_write_json(manifest_path, manifest)
    return {film: results[film] for film in refs}

"""Settings of the HTTP server (`reelcast serve`): where it listens and what uploads it accepts."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

# Containers a trailer normally comes in. The extension is only a first filter: every upload is also
# opened with PyAV before the model sees it.
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts")
VIDEO_CONTENT_TYPES = (
    "video/mp4",
    "video/x-m4v",
    "video/quicktime",
    "video/x-matroska",
    "video/webm",
    "video/x-msvideo",
    "video/avi",
    "video/msvideo",
    "video/mpeg",
    "video/mp2t",
)
# Browsers and HTTP clients send these when they do not know a file's type; the extension decides then.
GENERIC_CONTENT_TYPES = ("", "application/octet-stream", "binary/octet-stream")


@dataclass
class ServeSettings:
    """Everything `create_app` and `reelcast serve` need besides the model itself."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_mb: float = 200.0
    allowed_extensions: tuple[str, ...] = VIDEO_EXTENSIONS
    allowed_content_types: tuple[str, ...] = VIDEO_CONTENT_TYPES
    # Uploaded trailers are written here while a request runs, then deleted. None = the system default.
    temp_dir: str | None = None
    # A plot longer than this is refused (422); the model reads only its first text.max_length tokens anyway.
    max_description_chars: int = 100_000
    max_title_chars: int = 500
    max_trailer_url_chars: int = 2048
    # A trailer_url naming a file on the server would let any client make the server read its files;
    # off unless the operator asks for it (uploads are the way to send a local file).
    allow_local_trailers: bool = False
    device: str | None = None

    # ---- request limits (serving/limits.py)
    max_body_kb: float = 1024.0  # JSON bodies; uploads have max_upload_mb
    body_idle_timeout: float = 30.0  # seconds the server waits for the next piece of a request body
    body_deadline: float = 900.0  # seconds a whole request body may take (a 200 MB upload at ~230 KB/s)
    max_pixels: int = 4096 * 4096  # larger video frames (any of them, not just the first) are refused (413)
    header_timeout: float = 10.0  # seconds a connection may take to send a complete request head
    keep_alive_timeout: float = 5.0  # seconds an idle keep-alive connection stays open
    shutdown_timeout: float = 15.0  # seconds open requests get to finish after SIGTERM, then are cancelled
    max_concurrent_probes: int = 2  # uploads opened (first frame decoded) at the same time
    # Clients must send this as X-API-Key or Authorization: Bearer (401 otherwise); None = open.
    api_key: str | None = field(default=None, repr=False)
    # Origins allowed to call the API from a browser page on another site; empty = no CORS headers.
    cors_origins: tuple[str, ...] = ()

    # ---- trailer downloads (serving/fetcher.py, media/safe_fetch.py)
    fetch_workers: int = 4  # download threads, separate from the request threads
    max_pending_fetches: int = 16  # downloads running or queued; beyond this a request goes text-only
    fetch_deadline: float = 60.0  # seconds one trailer download may take in all
    fetch_max_mb: float = 512.0
    fetch_retries: int = 0
    # None = any public host; else the only hosts media URLs may name ("cdn.example.org", ".example.org").
    trailer_hosts: tuple[str, ...] | None = None
    allow_youtube: bool = True  # YouTube ids and links (fetched by yt-dlp from YouTube only)
    # Networks (CIDR) a media URL may resolve to although they are private, e.g. an intranet media host.
    fetch_allowed_networks: tuple[str, ...] = ()
    download_dir: str | None = None  # default: <model cache_dir>/served_trailers
    download_cache_mb: float = 2048.0  # the download folder is trimmed, oldest first, to this
    # Per-request features (text vectors, trailer features) live in memory, least recently used first out.
    feature_cache_entries: int = 4096
    feature_cache_mb: float = 256.0
    # Concurrent requests without a trailer are collected for up to this long, or until batch_max_size
    # wait, then scored in one pass of the model; a request that arrives alone is not held. 0 = each alone.
    batch_window_ms: float = 5.0
    batch_max_size: int = 16
    # Answers to requests without a trailer, kept by the whole request (plot, title, metadata, options):
    # the model is deterministic, so the same request gets the same answer without scoring it again
    # (the prediction log still records it). 0 = off.
    answer_cache_entries: int = 1024
    # Host name -> addresses; None = the system resolver. Tests inject one so no real name is looked up.
    resolver: Callable[[str, int], list[str]] | None = field(default=None, repr=False)

    @property
    def max_upload_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

    def __post_init__(self) -> None:
        if self.max_upload_mb <= 0:
            raise ValueError(f"max_upload_mb must be positive, got {self.max_upload_mb}")
        for name in (
            "max_body_kb",
            "body_idle_timeout",
            "body_deadline",
            "fetch_deadline",
            "fetch_max_mb",
            "header_timeout",
            "keep_alive_timeout",
            "shutdown_timeout",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if min(self.max_pixels, self.fetch_workers, self.max_pending_fetches, self.max_concurrent_probes) < 1:
            raise ValueError(
                "max_pixels, fetch_workers, max_pending_fetches and max_concurrent_probes must be at least 1"
            )
        if not self.batch_window_ms >= 0 or self.batch_max_size < 1:  # NaN is not a window
            raise ValueError(
                f"batch_window_ms must be >= 0 (0 = no batching) and batch_max_size >= 1, got "
                f"{self.batch_window_ms} and {self.batch_max_size}"
            )
        if self.answer_cache_entries < 0:
            raise ValueError(f"answer_cache_entries must be >= 0 (0 = off), got {self.answer_cache_entries}")
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("api_key must not be empty (leave it unset for an open server)")
        for net in self.fetch_allowed_networks:
            ipaddress.ip_network(net, strict=False)
        self.cors_origins = tuple(self.cors_origins)
        if not 0 <= self.port < 65536:
            raise ValueError(f"port must be 0-65535 (0 = any free port), got {self.port}")
        self.allowed_extensions = tuple(
            e.lower() if e.startswith(".") else f".{e.lower()}" for e in self.allowed_extensions
        )
        self.allowed_content_types = tuple(t.lower() for t in self.allowed_content_types)

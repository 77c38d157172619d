"""Settings of the HTTP server (`reelcast serve`): where it listens and what uploads it accepts."""

from __future__ import annotations

from dataclasses import dataclass

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

    @property
    def max_upload_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

    def __post_init__(self) -> None:
        if self.max_upload_mb <= 0:
            raise ValueError(f"max_upload_mb must be positive, got {self.max_upload_mb}")
        if not 0 <= self.port < 65536:
            raise ValueError(f"port must be 0-65535 (0 = any free port), got {self.port}")
        self.allowed_extensions = tuple(
            e.lower() if e.startswith(".") else f".{e.lower()}" for e in self.allowed_extensions
        )
        self.allowed_content_types = tuple(t.lower() for t in self.allowed_content_types)

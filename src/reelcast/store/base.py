"""What every feature store shares: entry naming, shape checks, and the interface the stores implement."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from reelcast.files import sha256_text


class Store(Protocol):
    """Frozen-encoder outputs keyed by (kind, encoder id, content hash): local, fsspec or in-memory."""

    def has(self, kind: str, encoder_id: str, content_hash: str) -> bool: ...

    def get(
        self, kind: str, encoder_id: str, content_hash: str, shape: tuple[int | None, ...] | None = None
    ) -> np.ndarray | None: ...

    def put(self, kind: str, encoder_id: str, content_hash: str, array: np.ndarray) -> None: ...

    def discard(self, kind: str, encoder_id: str, content_hash: str, suffix: str = ".npy") -> None: ...

    def get_json(self, kind: str, encoder_id: str, content_hash: str) -> dict[str, Any] | None: ...

    def put_json(self, kind: str, encoder_id: str, content_hash: str, record: dict[str, Any]) -> None: ...


def slug(text: str, max_len: int = 60) -> str:
    """A filesystem-safe name for an encoder id."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")
    if len(s) > max_len:
        s = s[: max_len - 13] + "_" + sha256_text(text)[:12]
    return s or "_"


def is_url(location: str | Path) -> bool:
    """True for an fsspec URL such as s3://bucket/prefix (a plain path is a local folder)."""
    return isinstance(location, str) and "://" in location


def load_checked(source: Any, shape: tuple[int | None, ...] | None) -> tuple[np.ndarray | None, str]:
    """An entry's array and "", or None and what is wrong with it (unreadable, truncated, wrong shape)."""
    try:
        a = np.load(source, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        return None, f"unreadable ({e})"
    if shape_matches(a, shape):
        return a, ""
    return None, f"shape {a.shape}, expected {tuple('*' if w is None else w for w in shape)}"


def shape_matches(a: np.ndarray, shape: tuple[int | None, ...] | None) -> bool:
    """Whether an array has the expected shape (None: anything; a None width: any length)."""
    return shape is None or (
        a.ndim == len(shape) and all(w is None or w == n for w, n in zip(shape, a.shape, strict=True))
    )

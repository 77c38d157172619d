"""The feature store: frozen-encoder outputs on disk, keyed by (encoder id, input content hash).

Everything above the encoder/fusion boundary is computed once per film and kept here, so the three
splits, every epoch and every later run reuse it. Entries are `.npy` files written atomically, so a
killed job leaves either a whole entry or none, and a restart carries on where it stopped.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from reelcast.files import atomic_write_bytes, atomic_write_json
from reelcast.store.base import load_checked, slug

log = logging.getLogger(__name__)


class FeatureStore:
    """A directory of cached arrays: `<root>/<kind>/<encoder>/<hash[:2]>/<hash>.npy`."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, kind: str, encoder_id: str, content_hash: str, suffix: str = ".npy") -> Path:
        """Where an entry lives."""
        return self.root / kind / slug(encoder_id) / content_hash[:2] / f"{content_hash}{suffix}"

    def has(self, kind: str, encoder_id: str, content_hash: str) -> bool:
        """True when the entry exists."""
        return self.path(kind, encoder_id, content_hash).exists()

    def get(
        self, kind: str, encoder_id: str, content_hash: str, shape: tuple[int | None, ...] | None = None
    ) -> np.ndarray | None:
        """The cached array, or None; an entry that is unreadable, truncated or not of `shape` (None in
        `shape` = any length) is deleted with a warning and reported as missing, so it is redone."""
        p = self.path(kind, encoder_id, content_hash)
        if not p.exists():
            return None
        a, problem = load_checked(p, shape)
        if a is not None:
            return a
        log.warning("feature store: %s is %s; deleted, it will be computed again", p, problem)
        p.unlink(missing_ok=True)
        return None

    def discard(self, kind: str, encoder_id: str, content_hash: str, suffix: str = ".npy") -> None:
        """Delete an entry (e.g. a status record whose features turned out to be corrupt)."""
        self.path(kind, encoder_id, content_hash, suffix).unlink(missing_ok=True)

    def put(self, kind: str, encoder_id: str, content_hash: str, array: np.ndarray) -> None:
        """Store an array atomically."""
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
        atomic_write_bytes(self.path(kind, encoder_id, content_hash), buf.getvalue())

    def get_json(self, kind: str, encoder_id: str, content_hash: str) -> dict[str, Any] | None:
        """A cached JSON record (e.g. a download or decode status), or None."""
        p = self.path(kind, encoder_id, content_hash, ".json")
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            p.unlink(missing_ok=True)
            return None

    def put_json(self, kind: str, encoder_id: str, content_hash: str, record: dict[str, Any]) -> None:
        """Store a JSON record atomically."""
        atomic_write_json(self.path(kind, encoder_id, content_hash, ".json"), record)

    def count(self, kind: str, encoder_id: str) -> int:
        """How many array entries an encoder has (for reports and tests)."""
        d = self.root / kind / slug(encoder_id)
        return sum(1 for _ in d.glob("*/*.npy")) if d.exists() else 0

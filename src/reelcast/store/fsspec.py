"""The feature store at an fsspec URL (`s3://bucket/prefix`, `gs://...`, `file:///shared/...`).

Same layout, keys and methods as `store.local.FeatureStore`, so every node of a cluster can read and
write one store. Each entry is written under a temporary name and then moved into place: on a
filesystem the move is a rename, on an object store the final object appears whole or not at all.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from typing import Any

import numpy as np

from reelcast.store.base import load_checked, slug

log = logging.getLogger(__name__)


class FsspecFeatureStore:
    """A feature store under an fsspec URL (the scheme's package must be installed, e.g. s3fs)."""

    def __init__(self, url: str):
        try:
            import fsspec
            from fsspec.core import url_to_fs
        except ImportError as e:  # fsspec ships with the Ray extra; plain installs may lack it
            raise RuntimeError(f"cache_dir {url}: fsspec URLs need `pip install fsspec`") from e
        try:
            self.fs, self.root = url_to_fs(url)
        except (ImportError, ValueError) as e:
            protocol = url.split("://", 1)[0]
            known = ", ".join(sorted(fsspec.available_protocols())[:12])
            raise RuntimeError(
                f"cache_dir {url}: no filesystem for {protocol!r} ({e}); install its package "
                f"(s3fs for s3://, gcsfs for gs://). Known protocols include {known}"
            ) from e
        self.url = url.rstrip("/")
        self.root = self.root.rstrip("/")

    def path(self, kind: str, encoder_id: str, content_hash: str, suffix: str = ".npy") -> str:
        """Where an entry lives (a path in the fsspec filesystem)."""
        return f"{self.root}/{kind}/{slug(encoder_id)}/{content_hash[:2]}/{content_hash}{suffix}"

    def _read(self, p: str) -> bytes | None:
        try:
            return self.fs.cat_file(p)
        except FileNotFoundError:
            return None

    def _write(self, p: str, data: bytes) -> None:
        parent = p.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        tmp = f"{parent}/.{p.rsplit('/', 1)[1]}.{uuid.uuid4().hex[:12]}.tmp"
        self.fs.pipe_file(tmp, data)
        try:
            self.fs.mv(tmp, p)
        except BaseException:
            self.fs.rm(tmp)
            raise

    def has(self, kind: str, encoder_id: str, content_hash: str) -> bool:
        """True when the entry exists."""
        return self.fs.exists(self.path(kind, encoder_id, content_hash))

    def get(
        self, kind: str, encoder_id: str, content_hash: str, shape: tuple[int | None, ...] | None = None
    ) -> np.ndarray | None:
        """The cached array, or None; an unreadable entry, or one not of `shape`, is deleted with a warning
        and reported as missing (as FeatureStore.get), so it is computed again."""
        p = self.path(kind, encoder_id, content_hash)
        data = self._read(p)
        if data is None:
            return None
        a, problem = load_checked(io.BytesIO(data), shape)
        if a is not None:
            return a
        log.warning("feature store: %s is %s; deleted, it will be computed again", p, problem)
        self.fs.rm(p)
        return None

    def put(self, kind: str, encoder_id: str, content_hash: str, array: np.ndarray) -> None:
        """Store an array (whole or not at all)."""
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
        self._write(self.path(kind, encoder_id, content_hash), buf.getvalue())

    def get_json(self, kind: str, encoder_id: str, content_hash: str) -> dict[str, Any] | None:
        """A cached JSON record, or None."""
        p = self.path(kind, encoder_id, content_hash, ".json")
        data = self._read(p)
        if data is None:
            return None
        try:
            return json.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            self.fs.rm(p)
            return None

    def discard(self, kind: str, encoder_id: str, content_hash: str, suffix: str = ".npy") -> None:
        """Delete an entry (e.g. a status record whose features turned out to be corrupt)."""
        p = self.path(kind, encoder_id, content_hash, suffix)
        if self.fs.exists(p):
            self.fs.rm(p)

    def put_json(self, kind: str, encoder_id: str, content_hash: str, record: dict[str, Any]) -> None:
        """Store a JSON record (whole or not at all)."""
        from reelcast.files import _json_default

        text = json.dumps(record, indent=2, default=_json_default) + "\n"
        self._write(self.path(kind, encoder_id, content_hash, ".json"), text.encode("utf-8"))

    def count(self, kind: str, encoder_id: str) -> int:
        """How many array entries an encoder has."""
        d = f"{self.root}/{kind}/{slug(encoder_id)}"
        return len(self.fs.glob(f"{d}/*/*.npy")) if self.fs.exists(d) else 0

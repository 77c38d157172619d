"""Per-request features kept in memory: the server never adds files to the feature store.

A training run's store is read as usual (films seen in training answer from it, and what was read is
kept in memory too), but what a request computes (a new description's text vector, an uploaded
trailer's frame features and status) goes into a bounded least-recently-used cache in memory. Without
it every distinct description sent to the server left a file on disk, with no bound.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from reelcast.store.local import FeatureStore


class MemoryOverlayStore:
    """A FeatureStore's reads, with writes to a bounded in-memory LRU (by entries and by bytes)."""

    def __init__(self, base: FeatureStore, max_entries: int = 4096, max_bytes: int = 256 << 20):
        self.base = base
        self.root = base.root
        self.max_entries = int(max_entries)
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[tuple[str, str, str, str], Any] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    # The FeatureStore interface the featurizer and extract use ------------------------------------------
    def get(
        self, kind: str, encoder_id: str, content_hash: str, shape: tuple[int | None, ...] | None = None
    ) -> np.ndarray | None:
        """The array from memory, else from the base store (None when missing or not of `shape`)."""
        hit = self._get((kind, encoder_id, content_hash, "npy"))
        if hit is None:
            found = self.base.get(kind, encoder_id, content_hash, shape)
            if found is not None:  # entries are content-addressed: a repeated plot need not be read again
                self.put(kind, encoder_id, content_hash, found)
            return found
        if shape is not None and not (
            hit.ndim == len(shape) and all(w is None or w == n for w, n in zip(shape, hit.shape, strict=True))
        ):
            self.discard(kind, encoder_id, content_hash)
            return None
        return hit

    def discard(self, kind: str, encoder_id: str, content_hash: str, suffix: str = ".npy") -> None:
        """Forget an entry in memory, and delete it from the base store (where it is known to be bad)."""
        with self._lock:
            old = self._items.pop((kind, encoder_id, content_hash, suffix.lstrip(".")), None)
            if old is not None:
                self._bytes -= old[1]
        self.base.discard(kind, encoder_id, content_hash, suffix)

    def put(self, kind: str, encoder_id: str, content_hash: str, array: np.ndarray) -> None:
        """Keep an array in memory (never on disk)."""
        a = np.array(array, copy=True)
        a.flags.writeable = False  # callers share the cached array; nobody may change it
        self._put((kind, encoder_id, content_hash, "npy"), a, a.nbytes)

    def get_json(self, kind: str, encoder_id: str, content_hash: str) -> dict[str, Any] | None:
        """A record from memory, else from the base store."""
        hit = self._get((kind, encoder_id, content_hash, "json"))
        return copy.deepcopy(hit) if hit is not None else self.base.get_json(kind, encoder_id, content_hash)

    def put_json(self, kind: str, encoder_id: str, content_hash: str, record: dict[str, Any]) -> None:
        """Keep a record in memory."""
        self._put((kind, encoder_id, content_hash, "json"), copy.deepcopy(record), 1024)

    def has(self, kind: str, encoder_id: str, content_hash: str) -> bool:
        """True when the entry is in memory or in the base store."""
        with self._lock:
            if (kind, encoder_id, content_hash, "npy") in self._items:
                return True
        return self.base.has(kind, encoder_id, content_hash)

    def count(self, kind: str, encoder_id: str) -> int:
        """Entries of an encoder in the base store (memory entries are not counted)."""
        return self.base.count(kind, encoder_id)

    # ---- the LRU --------------------------------------------------------------------------------------
    def _get(self, key):
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key][0]

    def _put(self, key, value, nbytes: int) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, nbytes)
            self._bytes += nbytes
            while self._items and (len(self._items) > self.max_entries or self._bytes > self.max_bytes):
                _, (_, n) = self._items.popitem(last=False)
                self._bytes -= n

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        """Bytes held in memory."""
        return self._bytes

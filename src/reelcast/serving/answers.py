"""Answers already given, kept by the whole request: a deterministic model answers a repeated request the
same way, so the server hands back the answer instead of scoring the film again."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from reelcast.files import sha256_text


def answer_key(
    description: str, title: str, metadata: dict[str, Any] | None, options: dict[str, Any] | None
) -> str:
    """Everything a trailer-less answer depends on, hashed (dict order does not matter): a key is 64
    characters however long the plot, so the cache's memory is bounded by its entries."""
    request = json.dumps(
        [description, title, metadata or {}, options or {}], sort_keys=True, default=str, ensure_ascii=False
    )
    return sha256_text(request)


class AnswerCache:
    """At most `entries` model results (as `predict_film` returns them), least recently used out first.

    A result is shared between the requests that hit it: readers build their response from it and never
    change it. Thread-safe (the event loop reads, worker threads write).
    """

    def __init__(self, entries: int):
        self.entries = entries
        self.hits = 0
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        """The result kept under `key`, or None."""
        if self.entries == 0:
            return None
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
            return found

    def put(self, key: str, result: dict[str, Any]) -> None:
        """Keep `result` under `key`, dropping the least recently used beyond `entries`."""
        if self.entries == 0:
            return
        with self._lock:
            self._items[key] = result
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

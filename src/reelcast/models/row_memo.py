"""The last rows a tree model scored, by their exact feature bytes.

A served film is scored as three rows: itself, without its plot and without its metadata (the inputs'
contributions), and its revenue range reads the regressor's prediction for the first row once more. A
request that repeats a plot with new metadata repeats the row without metadata; one that repeats the
metadata repeats the row without the plot. LightGBM scores each row on its own, so a remembered row's
prediction is the one a new pass would give, bit for bit; on a warm server a booster pass is memory-bound
(about 0.1 ms per thousand trees per call), and each remembered row is a pass less.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

# Batches larger than this (training, evaluation) go straight to the model: there rows rarely repeat.
SMALL_BATCH = 32


class RowMemo:
    """A bounded LRU map from a float64 feature row's bytes to the model's output for that row."""

    def __init__(self, entries: int = 256):
        self.entries = entries
        self._rows: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def predict(self, X: np.ndarray, score: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """`score(X)`, scoring only the rows not remembered (every row when X is a large batch)."""
        if self.entries <= 0 or len(X) > SMALL_BATCH:
            return score(X)
        X = np.ascontiguousarray(X, dtype=np.float64)
        keys = [row.tobytes() for row in X]
        with self._lock:
            new = [i for i, k in enumerate(keys) if k not in self._rows]
        if new:
            got = score(X[new])
        with self._lock:
            for j, i in enumerate(new):
                self._rows[keys[i]] = got[j]
            out = [self._rows[k] for k in keys]
            for k in keys:
                self._rows.move_to_end(k)
            while len(self._rows) > self.entries:
                self._rows.popitem(last=False)
        return np.stack(out)

    def __getstate__(self) -> dict:
        # A copy (deepcopy, pickle) starts empty: the rows belong to the model object they were scored by.
        return {"entries": self.entries}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["entries"])

"""The server's in-memory overlay: requests never write to disk; what it read from disk stays in memory."""

import numpy as np

from reelcast.store.local import FeatureStore
from reelcast.store.overlay import MemoryOverlayStore


def test_a_vector_read_from_the_run_store_is_read_from_disk_once(tmp_path):
    base = FeatureStore(tmp_path)
    base.put("text", "m", "abcd", np.arange(4, dtype=np.float32))
    store = MemoryOverlayStore(base)
    first = store.get("text", "m", "abcd")
    base.path("text", "m", "abcd").unlink()  # a second read from disk would now find nothing
    again = store.get("text", "m", "abcd")
    assert np.array_equal(first, again) and not again.flags.writeable
    assert store.get("text", "m", "ffff") is None


def test_requests_write_to_memory_only_within_the_bounds(tmp_path):
    store = MemoryOverlayStore(FeatureStore(tmp_path), max_entries=2)
    for i in range(3):
        store.put("text", "m", f"{i:04d}", np.full(3, i, dtype=np.float32))
    assert not list(tmp_path.rglob("*.npy"))
    assert store.get("text", "m", "0000") is None  # the least recently used entry went first
    assert np.array_equal(store.get("text", "m", "0002"), np.full(3, 2, dtype=np.float32))

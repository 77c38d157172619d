import numpy as np

from reelcast.features import FeatureStore


def test_put_get_and_corrupt_entry_is_dropped(tmp_path):
    store = FeatureStore(tmp_path)
    a = np.arange(12, dtype=np.float16).reshape(3, 4)
    store.put("video", "enc/x:1", "abcd", a)
    assert np.array_equal(store.get("video", "enc/x:1", "abcd"), a)
    assert store.get("video", "enc/x:1", "ffff") is None
    assert store.count("video", "enc/x:1") == 1
    store.path("video", "enc/x:1", "abcd").write_bytes(b"garbage")
    assert store.get("video", "enc/x:1", "abcd") is None and not store.has("video", "enc/x:1", "abcd")


def test_no_temporary_files_left_behind(tmp_path):
    store = FeatureStore(tmp_path)
    for i in range(5):
        store.put("text", "m", f"{i:04d}", np.ones(3))
        store.put_json("status", "m", f"{i:04d}", {"status": "ok"})
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == [] and store.get_json("status", "m", "0003") == {"status": "ok"}

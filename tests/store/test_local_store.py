import numpy as np

from reelcast.store.local import FeatureStore


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


def test_store_at_an_fsspec_url(tmp_path):
    import pytest

    from reelcast.store import open_store

    store = open_store(tmp_path.as_uri())  # file:///...: the code path of s3://, gs://, ...
    a = np.arange(6, dtype=np.float16).reshape(2, 3)
    store.put("frames", "enc/x:1", "abcd", a)
    store.put_json("media", "s", "abcd", {"status": "ok", "node": "n1"})
    assert np.array_equal(store.get("frames", "enc/x:1", "abcd"), a) and store.count("frames", "enc/x:1") == 1
    assert store.get_json("media", "s", "abcd") == {"status": "ok", "node": "n1"}
    # the same layout as a local store, so either can read what the other wrote
    assert np.array_equal(FeatureStore(tmp_path).get("frames", "enc/x:1", "abcd"), a)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    FeatureStore(tmp_path).path("frames", "enc/x:1", "abcd").write_bytes(b"garbage")
    assert store.get("frames", "enc/x:1", "abcd") is None and not store.has("frames", "enc/x:1", "abcd")
    with pytest.raises(RuntimeError, match="nosuchproto"):
        open_store("nosuchproto://bucket/x")


def test_an_entry_of_the_wrong_shape_is_dropped_by_either_store(tmp_path, caplog):
    from reelcast.store import open_store

    for store in (FeatureStore(tmp_path / "local"), open_store((tmp_path / "url").as_uri())):
        store.put("frames", "enc", "abcd", np.zeros((2, 3), dtype=np.float16))
        assert store.get("frames", "enc", "abcd", shape=(None, 3)) is not None
        with caplog.at_level("WARNING"):
            assert store.get("frames", "enc", "abcd", shape=(None, 4)) is None
        assert "shape (2, 3), expected ('*', 4)" in caplog.text and not store.has("frames", "enc", "abcd")
        caplog.clear()

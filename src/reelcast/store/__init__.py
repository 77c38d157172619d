"""The feature store: one interface over a local folder, an fsspec URL, and the server's in-memory overlay."""

from __future__ import annotations

from pathlib import Path

from reelcast.store.base import Store, is_url, shape_matches, slug
from reelcast.store.local import FeatureStore

__all__ = ["FeatureStore", "Store", "is_url", "open_store", "shape_matches", "slug"]


def open_store(location: str | Path):
    """The feature store at a local folder, or at an fsspec URL that every node of a cluster can reach."""
    if is_url(location):
        from reelcast.store.fsspec import FsspecFeatureStore

        return FsspecFeatureStore(str(location))
    return FeatureStore(location)

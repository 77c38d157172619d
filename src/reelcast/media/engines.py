"""Extraction engines: who fetches, decodes and encodes the films that are not in the store yet.

`extract_media` resolves every film's trailer, skips films whose status record exists and assembles
the arrays from the store; an engine only runs the missing films. Both engines build each film's
entries with the same functions (`extract.decoded_record`, `extract.write_film`) and write them
under the same store ids, so a store filled by one reads the same through the other.

- `local`: decode worker processes on this machine, frame CNN in the calling process.
- `ray`: Ray Data over a cluster (`media.ray_engine`, needs `pip install "reelcast[ray]"`).
"""

from __future__ import annotations

from typing import Any, Protocol

from reelcast.config import Config

ENGINES = ("local", "ray")


class ExtractEngine(Protocol):
    """What `extract_media` needs from an engine."""

    name: str

    def device(self, cfg: Config) -> str:
        """The torch device the frame encoder runs on (part of the store ids)."""

    def extract_missing(
        self, films, cfg, store, get_frame_encoder, refs, keys, todo, ids, progress, timings
    ) -> None:
        """Fetch, decode, encode and store the films at positions `todo` (statuses included)."""

    def encode_texts(self, texts: list[str], cfg: Config, store: Any) -> int:
        """Put the text vectors missing from the store; returns how many it encoded."""


class LocalEngine:
    """Worker processes on this machine (`media.extract`)."""

    name = "local"

    def device(self, cfg: Config) -> str:
        """cfg.train.device resolved on this machine."""
        from reelcast.encoders.common import resolve_device

        return str(resolve_device(cfg.train.device))

    def extract_missing(
        self, films, cfg, store, get_frame_encoder, refs, keys, todo, ids, progress, timings
    ) -> None:
        """Decode in worker processes while the frame CNN runs here."""
        from reelcast.media.extract import _extract_missing

        _extract_missing(films, cfg, store, get_frame_encoder, refs, keys, todo, ids, progress, timings)

    def encode_texts(self, texts: list[str], cfg: Config, store: Any) -> int:
        """Nothing ahead of time: the featurizer encodes missing texts in this process when it reads them."""
        return 0


def engine_for(cfg: Config) -> ExtractEngine:
    """The engine cfg.scale.engine names (Ray is imported only when asked for)."""
    name = cfg.scale.engine
    if name == "local":
        return LocalEngine()
    if name == "ray":
        from reelcast.media.ray_engine import RayEngine

        return RayEngine(cfg.scale)
    raise ValueError(f"scale.engine must be one of {', '.join(ENGINES)}, got {name!r}")

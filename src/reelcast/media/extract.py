"""Trailer features for a film table: fetch, decode in worker processes, encode frames in batches.

Per film, three entries go into the feature store, each written atomically as soon as that film is
done: per-frame features (T x D, float16), the audio input (log-mel or waveform, float16), and a
status record. A run that is stopped (Ctrl-C, kill) loses at most the films in flight; the next run
skips every film whose entries exist. `train` reads the same entries, so after `extract` it encodes
nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reelcast.config import Config, MediaConfig
from reelcast.encoders.audio import audio_input_shape
from reelcast.files import sha256_file, sha256_text
from reelcast.media.refs import TrailerRef, TrailerRefError, check_local_file, parse_trailer_ref
from reelcast.store.local import FeatureStore

log = logging.getLogger(__name__)


def frames_encoder_id(cfg: Config, device: str = "cpu") -> str:
    """Store id of per-frame features: image model plus every sampling setting that changes them."""
    from reelcast.encoders.frames import frame_encoder_id

    m = cfg.media
    image_model = frame_encoder_id(cfg.video.model, device, cfg.video.precision)
    return f"frames:{image_model}:n{m.num_frames}:r{m.resize}:c{m.crop}:t{m.trim_start:g}-{m.trim_end:g}"


def audio_encoder_id(cfg: Config) -> str:
    """Store id of the cached audio input (front end and every decoding setting)."""
    a, m = cfg.audio, cfg.media
    front = f"logmel{a.n_mels}:h{a.hop_ms:g}:w{a.win_ms:g}" if a.frontend == "logmel" else "waveform"
    return f"audio:{front}:sr{m.sample_rate}:s{m.audio_seconds:g}:o{m.audio_offset:g}"


def status_id(cfg: Config, device: str = "cpu") -> str:
    """Store id of the per-film media status record (covers both feature entries)."""
    return f"status:{sha256_text(frames_encoder_id(cfg, device) + '|' + audio_encoder_id(cfg))[:16]}"


def media_key(ref: TrailerRef) -> str:
    """Content key of a trailer: the YouTube id or URL, or the hash of a local file's bytes."""
    if ref.kind == "file" and Path(ref.value).is_file():
        return sha256_text("file:" + sha256_file(Path(ref.value)))
    return sha256_text(ref.cache_key)


# How often a decode worker checks that the process that started it is still alive.
def resolve_refs(
    films: pd.DataFrame, base_dir: Path | None, media: MediaConfig | None = None
) -> tuple[dict[int, TrailerRef], dict[int, dict]]:
    """Parse each film's trailer cell; bad cells become per-film statuses (logged with the line).

    Local files are checked here, before anything reads them: inside the table's folder (unless
    media.allow_outside_paths), regular files only, at most media.max_file_mb.
    """
    media = media or MediaConfig()
    root = None if media.allow_outside_paths or base_dir is None else base_dir
    max_bytes = media.max_file_mb * 1e6
    refs, failed = {}, {}
    for i, (cell, line) in enumerate(zip(films["trailer"], films["line"], strict=True)):
        try:
            ref = parse_trailer_ref(cell, base_dir)
            if ref is not None and ref.kind == "file":
                check_local_file(ref.value, root, max_bytes)
        except TrailerRefError as e:
            log.warning("line %s: trailer: %s; the film goes on without video and audio", line, e)
            failed[i] = {"status": e.status, "message": str(e)}
            continue
        if ref is None:
            failed[i] = {"status": "no_trailer", "message": "no trailer given"}
        else:
            refs[i] = ref
    return refs, failed


def extract_media(
    films: pd.DataFrame,
    cfg: Config,
    store: FeatureStore,
    get_frame_encoder: Callable[[], Any],
    progress: bool = True,
    timings: dict[str, float] | None = None,
    engine: Any = None,
    frame_dim: int = 0,
):
    """Video (N, T, D) and audio (N, C, L) float16 arrays, their masks, and a status dict per film.

    `engine` (media.engines) runs the missing films: local worker processes by default, or Ray.
    `frame_dim` (when known) is the video width should no film have frames.
    """
    from reelcast.media.engines import engine_for

    engine = engine if engine is not None else engine_for(cfg)
    timings = timings if timings is not None else {}
    base_dir = Path(films.attrs["base_dir"]) if films.attrs.get("base_dir") else None
    n = len(films)
    refs, statuses = resolve_refs(films, base_dir, cfg.media)
    device = engine.device(cfg)
    fid, aid, sid = frames_encoder_id(cfg, device), audio_encoder_id(cfg), status_id(cfg, device)
    keys = {}
    for i, ref in list(refs.items()):
        try:
            keys[i] = media_key(ref)
        except OSError as e:  # unreadable file: this film's trailer is skipped, never the whole run
            line = films["line"].iloc[i]
            log.warning("line %s: trailer %s cannot be read (%s); going on without it", line, ref.value, e)
            statuses[i] = {"status": "not_found", "message": f"{ref.value}: {e.strerror or e}"}
            del refs[i]

    # One film per trailer: films that share one (the same file content or video) are processed once and
    # each reads the stored result under the shared key.
    first = {keys[i]: i for i in reversed(list(refs))}
    todo = sorted(i for k, i in first.items() if store.get_json("media", sid, k) is None)
    if todo:
        engine.extract_missing(
            films, cfg, store, get_frame_encoder, refs, keys, todo, (fid, aid, sid), progress, timings
        )

    # ---- assemble from the store; entries are verified on read, and a film whose status says "ok" but
    # whose features are gone or corrupt (a truncated .npy) is extracted again, with a warning.
    a_shape = audio_input_shape(cfg.audio, cfg.media.sample_rate, cfg.media.audio_seconds)
    frames_list: dict[int, np.ndarray] = {}
    audio_list: dict[int, np.ndarray] = {}

    def assemble(films_to_read) -> list[int]:
        bad = []
        for i in films_to_read:
            key = keys[i]
            st = store.get_json("media", sid, key) or {
                "status": "missing",
                "message": "extraction did not finish",
            }
            statuses[i] = st
            if st.get("video_ok"):
                v = store.get("frames", fid, key, shape=(cfg.media.num_frames, None))
                if v is None:
                    bad.append(i)
                    continue
                frames_list[i] = v
            if st.get("audio_ok"):
                a = store.get("audio", aid, key, shape=tuple(a_shape))
                if a is None:
                    frames_list.pop(i, None)
                    bad.append(i)
                    continue
                audio_list[i] = a
        return bad

    bad = assemble(keys)
    if bad:
        for i in bad:
            log.warning(
                "line %s: cached trailer features are missing or corrupt; extracting this film again",
                films["line"].iloc[i],
            )
            store.discard("media", sid, keys[i], ".json")
        engine.extract_missing(
            films, cfg, store, get_frame_encoder, refs, keys, bad, (fid, aid, sid), progress, timings
        )
        assemble(bad)  # a film that fails again is masked with its status, never retried in a loop
    dim = next(iter(frames_list.values())).shape[1] if frames_list else frame_dim or get_frame_encoder().dim
    video = np.zeros((n, cfg.media.num_frames, dim), dtype=np.float16)
    audio = np.zeros((n, *a_shape), dtype=np.float16)
    vmask, amask = np.zeros(n, bool), np.zeros(n, bool)
    for i, v in frames_list.items():
        video[i], vmask[i] = v, True
    for i, a in audio_list.items():
        audio[i], amask[i] = a, True
    counts = Counter(statuses[i].get("status", "?") for i in range(n))
    log.info(
        "trailers: %d films, video for %d, audio for %d; statuses %s",
        n,
        vmask.sum(),
        amask.sum(),
        dict(counts),
    )
    return video, audio, vmask, amask, [statuses[i] for i in range(n)]

"""Trailer features for a film table: fetch, decode in worker processes, encode frames in batches.

Per film, three entries go into the feature store, each written atomically as soon as that film is
done: per-frame features (T x D, float16), the audio input (log-mel or waveform, float16), and a
status record. A run that is stopped (Ctrl-C, kill) loses at most the films in flight; the next run
skips every film whose entries exist. `train` reads the same entries, so after `extract` it encodes
nothing.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reelcast.config import Config, MediaConfig
from reelcast.encoders.audio import audio_input, audio_input_shape
from reelcast.features import FeatureStore
from reelcast.io import sha256_file, sha256_text
from reelcast.media.refs import TrailerRef, TrailerRefError, check_local_file, parse_trailer_ref
from reelcast.progress import Progress

log = logging.getLogger(__name__)

# Peak amplitude below which a decoded soundtrack counts as silent (about -80 dBFS).
SILENCE_PEAK = 1e-4


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
WATCHDOG_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def decode_pool(workers: int) -> cf.ProcessPoolExecutor:
    """Decode worker processes that exit when this process dies, however it dies (even SIGKILL).

    spawn: workers must not inherit torch's thread pools (fork after torch can deadlock).
    """
    # prctl's parent-death signal fires when the *thread* that started the child exits, so it is only
    # asked for from the main thread; the watchdog covers every case.
    main = threading.current_thread() is threading.main_thread()
    return cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp.get_context("spawn"),
        initializer=_die_with_parent,
        initargs=(os.getpid(), main),
    )


def _die_with_parent(parent_pid: int, use_pdeathsig: bool) -> None:
    """Worker initializer: SIGKILL on parent death (Linux prctl) plus a watchdog thread everywhere."""
    if use_pdeathsig and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc symbol: the watchdog alone will do
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watchdog", daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(WATCHDOG_SECONDS)
        if os.getppid() != parent_pid:  # re-parented: the process that started us is gone
            os._exit(1)


def _decode_job(path: str, media_cfg: dict[str, Any]) -> dict[str, Any]:
    """Worker process: decode one trailer into uint8 frames and a mono waveform (or a failure)."""
    from reelcast.media.decode import MediaError, decode_trailer

    t0 = time.perf_counter()
    try:
        d = decode_trailer(Path(path), MediaConfig(**media_cfg))
    except MediaError as e:
        return {"status": e.status, "message": str(e), "seconds": time.perf_counter() - t0}
    return {
        "status": "ok",
        "frames": d.frames,
        "audio": d.audio,
        "duration": d.duration,
        "warnings": list(getattr(d, "warnings", []) or []),
        "seconds": time.perf_counter() - t0,
    }


def failed_record(status: str, message: str, node: str = "") -> dict[str, Any]:
    """The status record of a film whose trailer could not be fetched or decoded."""
    return {"status": status, "message": message, "video_ok": False, "audio_ok": False, "node": node}


def decoded_record(res: dict[str, Any], cfg: Config, node: str = "") -> tuple[dict, np.ndarray | None]:
    """A decoded trailer's status record and its audio input (None when it has no usable sound).

    Both engines build a film's entries here, so they store the same thing for the same trailer.
    """
    rec = {
        "status": "ok",
        "message": "",
        "video_ok": True,
        "audio_ok": False,
        "duration": res["duration"],
        "warnings": res["warnings"],
        "node": node,
    }
    wave, audio = res["audio"], None
    if wave is None:
        rec["audio_status"] = "no_audio"
    elif float(np.abs(wave).max(initial=0.0)) < SILENCE_PEAK:
        rec["audio_status"] = "silent"
    else:
        audio = audio_input(wave, cfg.audio, cfg.media.sample_rate).astype(np.float16)
        rec["audio_ok"], rec["audio_status"] = True, "ok"
    if not rec["audio_ok"]:
        rec["audio_message"] = f"trailer has {rec['audio_status'].replace('_', ' ')}: audio masked"
    return rec, audio


def write_film(store: FeatureStore, ids: tuple[str, str, str], key: str, feats, audio, rec: dict) -> None:
    """A film's frame features, audio input, then its status record (last: it marks the film done)."""
    fid, aid, sid = ids
    if feats is not None:
        store.put("frames", fid, key, np.asarray(feats).astype(np.float16))
    if audio is not None:
        store.put("audio", aid, key, audio)
    store.put_json("media", sid, key, rec)


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
):
    """Video (N, T, D) and audio (N, C, L) float16 arrays, their masks, and a status dict per film.

    `engine` (media.engines) runs the missing films: local worker processes by default, or Ray.
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

    todo = [i for i in refs if store.get_json("media", sid, keys[i]) is None]
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
    dim = next(iter(frames_list.values())).shape[1] if frames_list else get_frame_encoder().dim
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


def _extract_missing(films, cfg, store, get_frame_encoder, refs, keys, todo, ids, progress, timings) -> None:
    from reelcast.media.download import RETRY_LATER, download_dir_for, fetch_many

    fid, aid, sid = ids
    download_dir = download_dir_for(cfg)
    t0 = time.perf_counter()
    fetched = fetch_many({str(i): refs[i] for i in todo}, cfg.media, download_dir, progress=progress)
    timings["download"] = timings.get("download", 0.0) + time.perf_counter() - t0

    def record(i: int, rec: dict) -> None:
        store.put_json("media", sid, keys[i], rec)

    paths, nodes = {}, {i: fetched[str(i)].node for i in todo}
    for i in todo:
        r = fetched[str(i)]
        if r.status == "ok" and r.path is not None:
            paths[i] = r.path
        else:
            log.warning(
                "line %s: trailer %s: %s: %s", films["line"].iloc[i], refs[i].value, r.status, r.message
            )
            # Offline misses, network errors and rate limits are not recorded: a later run retries them.
            if r.status not in RETRY_LATER:
                record(i, failed_record(r.status, r.message, nodes[i]))
    if not paths:
        return

    encoder = get_frame_encoder()
    media_cfg = asdict(cfg.media)
    bar = Progress(len(paths), "decode + encode trailers", "film", enabled=progress)
    workers = max(1, cfg.media.decode_workers)
    # One trailer (a prediction request) is decoded in a thread: starting a worker process costs ~1 s.
    single = len(paths) == 1
    if not cfg.video.threads and not single:
        # The decode workers take cores; OpenMP threads that keep losing theirs slow the CNN ~3x
        # (benchmarks/extract.py, table 4), so the encoder gets the cores the workers leave.
        encoder.threads = max(1, (os.cpu_count() or 1) - workers)
    executor = cf.ThreadPoolExecutor(max_workers=1) if single else decode_pool(workers)
    with executor as pool:
        futures = {pool.submit(_decode_job, str(p), media_cfg): i for i, p in paths.items()}
        try:
            for fut in cf.as_completed(futures):
                i = futures[fut]
                res = fut.result()
                timings["decode"] = timings.get("decode", 0.0) + res["seconds"]
                if res["status"] != "ok":
                    log.warning("line %s: trailer %s: %s", films["line"].iloc[i], paths[i], res["message"])
                    record(i, failed_record(res["status"], res["message"], nodes[i]))
                    bar.update()
                    continue
                # Frame features: the CNN runs here while the workers decode the next trailers.
                t1 = time.perf_counter()
                feats = encoder.encode(res["frames"])
                timings["frames_cnn"] = timings.get("frames_cnn", 0.0) + time.perf_counter() - t1
                t1 = time.perf_counter()
                rec, audio = decoded_record(res, cfg, nodes[i])
                timings["audio"] = timings.get("audio", 0.0) + time.perf_counter() - t1
                # The status record goes last: it means both feature entries are complete.
                write_film(store, (fid, aid, sid), keys[i], feats, audio, rec)
                bar.update()
        except BaseException:
            for f in futures:
                f.cancel()
            raise
        finally:
            bar.close()

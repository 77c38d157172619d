"""Extraction engines: who fetches, decodes and encodes the films that are not in the store yet.

`extract_media` resolves every film's trailer, skips films whose status record exists and assembles
the arrays from the store; an engine only runs the missing films. Both engines build each film's
entries with the same functions (`records.decoded_record`, `records.write_film`) and write them
under the same store ids, so a store filled by one reads the same through the other.

- `local`: decode worker processes on this machine, frame CNN in the calling process.
- `ray`: Ray Data over a cluster (`media.ray_engine`, needs `pip install "reelcast[ray]"`).
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
from dataclasses import asdict
from typing import Any, Protocol

from reelcast.config import Config
from reelcast.media.records import decode_job, decoded_record, failed_record, write_film
from reelcast.progress import Progress

log = logging.getLogger(__name__)

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
        extract_local(films, cfg, store, get_frame_encoder, refs, keys, todo, ids, progress, timings)

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


def extract_local(films, cfg, store, get_frame_encoder, refs, keys, todo, ids, progress, timings) -> None:
    """Fetch the films at `todo`, decode them in worker processes and encode their frames here."""
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
        futures = {pool.submit(decode_job, str(p), media_cfg): i for i, p in paths.items()}
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

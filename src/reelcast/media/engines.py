"""Extraction engines: who fetches, decodes and encodes the films that are not in the store yet.

`extract_media` resolves every film's trailer, skips films whose status record exists and assembles
the arrays from the store; an engine only runs the missing films. Both engines build each film's
entries with the same functions (`records.decoded_record`, `records.write_film`) and write them
under the same store ids, so a store filled by one reads the same through the other.

- `local`: decode worker processes on this machine feeding frame encoder processes (`media.encoding`).
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
from reelcast.media.records import decode_film, failed_record, write_film
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
    """Decode and frame encoder worker processes on this machine, sized to its cores."""

    name = "local"

    def device(self, cfg: Config) -> str:
        """cfg.train.device resolved on this machine."""
        from reelcast.encoders.common import resolve_device

        return str(resolve_device(cfg.train.device))

    def extract_missing(
        self, films, cfg, store, get_frame_encoder, refs, keys, todo, ids, progress, timings
    ) -> None:
        """Decode in worker processes while encoder processes run the frame CNN."""
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
    """Worker processes (decoders, frame encoders) that exit when this process dies, even by SIGKILL.

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
    """Fetch the films at `todo`, decode them in worker processes and encode them in encoder processes."""
    from reelcast.media.download import RETRY_LATER, download_dir_for, fetch_many

    download_dir = download_dir_for(cfg)
    t0 = time.perf_counter()
    fetched = fetch_many({str(i): refs[i] for i in todo}, cfg.media, download_dir, progress=progress)
    timings["download"] = timings.get("download", 0.0) + time.perf_counter() - t0

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
                store.put_json("media", ids[2], keys[i], failed_record(r.status, r.message, nodes[i]))
    if paths:
        _Pipeline(films, cfg, store, get_frame_encoder, keys, ids, nodes, timings).run(paths, progress)


class _Pipeline:
    """Decode workers feeding a pool of frame encoders through a bounded queue of decoded films.

    Both stages run at once and share the cores: when the encoders fall behind, the queue fills, no
    new decode starts and the encoders get the CPU; when decoding is the slow part, the encoders wait.
    """

    def __init__(self, films, cfg, store, get_frame_encoder, keys, ids, nodes, timings):
        self.films, self.cfg, self.store, self.keys, self.ids = films, cfg, store, keys, ids
        self.nodes, self.timings, self.get_frame_encoder = nodes, timings, get_frame_encoder

    def _add(self, name: str, seconds: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + seconds

    def run(self, paths: dict[int, Any], progress: bool) -> None:
        """Decode, encode and store every film in `paths`."""
        from reelcast.encoders.common import resolve_device
        from reelcast.encoders.frames import frame_encoder_id
        from reelcast.media.encoding import available_cpus, plan_encoders

        cfg = self.cfg
        cores = cfg.scale.num_cpus or available_cpus()
        decoders = min(max(1, cfg.media.decode_workers), cores, len(paths))
        plan = plan_encoders(cores, cfg.scale.encode_actors, cfg.video.threads)
        # One trailer (a prediction request) is decoded in a thread and encoded here, as it is: a worker
        # process costs seconds to start. A GPU encodes here too, fed batches that span films.
        single = len(paths) == 1
        device = resolve_device(cfg.train.device)
        # The given encoder must be the model cfg.video names: the store files features under that id.
        expected = frame_encoder_id(cfg.video.model, str(device), cfg.video.precision)
        video = asdict(cfg.video)
        in_process = single or device.type != "cpu"
        processes = 0 if in_process else min(plan.encoders, len(paths)) - 1
        get = self.get_frame_encoder
        encoders = _Encoders(get, expected, processes, video, plan.threads, pin=not in_process)
        log.info(
            "extract: %d films, %d cores: %d decode workers, %s",
            len(paths),
            cores,
            decoders,
            "the frame encoder of this process"
            if in_process
            else f"{encoders.size} frame encoders x {plan.threads} torch threads",
        )
        self.batch = max(1, cfg.scale.encode_batch)
        conf = cfg.to_dict()
        # Decoded films held at once (in decoding, waiting, in encoding): enough that no stage starves.
        window = decoders + 2 * encoders.size * self.batch
        bar = Progress(len(paths), "decode + encode trailers", "film", enabled=progress)
        todo = list(paths.items())
        decoding: dict[cf.Future, int] = {}
        encoding: dict[cf.Future, list[tuple[int, dict]]] = {}
        ready: list[tuple[int, dict]] = []
        decode_ex = cf.ThreadPoolExecutor(max_workers=1) if single else decode_pool(decoders)
        with decode_ex, encoders:
            try:
                while todo or decoding or encoding or ready:
                    held = len(decoding) + len(ready) + sum(len(b) for b in encoding.values())
                    while todo and held < window:
                        i, path = todo.pop(0)
                        decoding[decode_ex.submit(decode_film, str(path), conf, self.nodes[i])] = i
                        held += 1
                    while ready and encoders.free():
                        size = self._group_size(len(ready) + len(decoding), bool(todo), encoders.size)
                        group, ready = ready[:size], ready[size:]
                        encoding[encoders.submit([res["frames"] for _, res in group])] = group
                    done, _ = cf.wait([*decoding, *encoding], return_when=cf.FIRST_COMPLETED)
                    for fut in done:
                        if fut in decoding:
                            self._decoded(decoding.pop(fut), fut.result(), paths, ready, bar)
                        else:
                            encoders.release(fut)
                            self._encoded(encoding.pop(fut), fut.result(), bar)
            except BaseException:
                for f in [*decoding, *encoding]:
                    f.cancel()
                raise
            finally:
                bar.close()

    def _group_size(self, left: int, more_to_decode: bool, encoders: int) -> int:
        """Films in the next encoder call: scale.encode_batch, but shared out evenly over the encoders
        at the end of the run, so no encoder finishes a full batch alone while the others idle."""
        if more_to_decode:
            return self.batch
        return max(1, min(self.batch, -(-left // encoders)))

    def _decoded(self, i: int, res: dict, paths: dict, ready: list, bar: Progress) -> None:
        self._add("decode", res["decode_s"])
        if res["status"] != "ok":
            log.warning("line %s: trailer %s: %s", self.films["line"].iloc[i], paths[i], res["message"])
            self.store.put_json("media", self.ids[2], self.keys[i], res["record"])
            bar.update()
            return
        self._add("audio", res["audio_s"])
        ready.append((i, res))

    def _encoded(self, group: list[tuple[int, dict]], result: tuple[list, float], bar: Progress) -> None:
        feats, seconds = result
        self._add("frames_cnn", seconds)
        for (i, res), f in zip(group, feats, strict=True):
            # The status record goes last: it means both feature entries are complete.
            write_film(self.store, self.ids, self.keys[i], f, res["audio"], res["record"])
            bar.update()


class _Encoders:
    """The local engine's frame encoders: the caller's, in a thread of this process, plus processes.

    The in-process encoder is one of the pool (no process to start, its model is often loaded already);
    `processes` more run `media.encoding` jobs, each with its own copy of the model. All of them run
    `threads` torch threads, the in-process one only when `pin` (else it keeps its own setting).
    """

    def __init__(self, get_encoder, expected_id: str, processes: int, video: dict, threads: int, pin: bool):
        from reelcast.media.encoding import load_job

        self._get_encoder, self._expected_id, self._encoder = get_encoder, expected_id, None
        self._threads = threads if pin else 0
        self._previous_threads: int | None = None
        self._video, self._proc_threads = video, threads
        self._here = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="frame-encoder")
        self._pool = decode_pool(processes) if processes else None
        self._processes = processes
        self._busy: dict[cf.Future, str] = {}
        self.size = 1 + processes
        # Every encoder loads its model while the first films decode.
        self._loaded = self._here.submit(self._encoder_here)
        for _ in range(processes):
            self._pool.submit(load_job, video, threads)

    def _encoder_here(self) -> Any:
        if self._encoder is None:
            enc = self._get_encoder()
            if enc.encoder_id != self._expected_id:
                raise ValueError(
                    f"the frame encoder given is {enc.encoder_id!r} but video.model/video.precision name "
                    f"{self._expected_id!r}: features would be stored under the wrong id"
                )
            if self._threads:  # given back in close(): the caller's encoder keeps its own setting
                self._previous_threads, enc.threads = enc.threads, self._threads
            self._encoder = enc
        return self._encoder

    def _encode_here(self, frames: list) -> tuple[list, float]:
        from reelcast.media.encoding import encode_films

        encoder = self._encoder_here()
        t0 = time.perf_counter()
        return encode_films(encoder, frames), time.perf_counter() - t0

    def free(self) -> bool:
        """Whether an encoder is idle."""
        return len(self._busy) < self.size

    def submit(self, frames: list) -> cf.Future:
        """Encode a batch of films on an idle encoder (worker processes first); (features, seconds)."""
        from reelcast.media.encoding import encode_job

        in_pool = sum(1 for w in self._busy.values() if w == "pool")
        if self._pool is not None and in_pool < self._processes:
            fut, where = self._pool.submit(encode_job, self._video, self._proc_threads, frames), "pool"
        else:
            fut, where = self._here.submit(self._encode_here, frames), "here"
        self._busy[fut] = where
        return fut

    def release(self, fut: cf.Future) -> None:
        """Mark the encoder that ran `fut` idle."""
        self._busy.pop(fut, None)

    def __enter__(self) -> _Encoders:
        return self

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        for fut in self._busy:
            fut.cancel()
        self._here.shutdown(wait=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self._encoder is not None and self._previous_threads is not None:
            self._encoder.threads = self._previous_threads
        if exc_type is None:
            self._loaded.result()  # a wrong or unloadable encoder is an error even if others did the work

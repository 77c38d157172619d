"""Trailer extraction over a Ray cluster with Ray Data (`pip install "reelcast[ray]"`).

One row per distinct trailer (films sharing a trailer do it once), through four stages:

  rows -> fetch   tasks; each holds one `reelcast_download` resource, so a node runs at most as many
                  downloads as it offers (`ray start --resources='{"reelcast_download": 3}'`); files
                  land in that node's own download cache and travel on as bytes
       -> decode  tasks of scale.decode_cpus: frames, waveform, audio input, the status record (when
                  every trailer is a file, fetch and decode are one task: no network to wait on)
       -> encode  a fixed pool of frame encoder actors sized to the cluster (`media.encoding`: one per
                  GPU, else one single-threaded actor per CPU, or scale.encode_actors), that run the
                  frame CNN over scale.encode_batch films per call (forward batches span films) and
                  write frames, audio, then the status record into the store (atomic entries; the
                  record marks a film done)
       -> driver  reads back only small per-film results, for the progress bar and the timings.

The encoder pool starts (its actors import torch and load the model) before the first trailer is
fetched, so decode tasks do not take the cores it loads on and the run's start-up is timed apart
(`timings["ray_pool_start"]`); each row carries wall-clock stamps of its stages, summed up in the
run's log line (`_Timeline`).

A trailer that cannot be fetched or decoded becomes its film's status, as in the local engine; both
build records and entries with the same functions in `media.extract`. Ray Data restarts a killed
encoder actor and retries its batch (its actors run with max_restarts=-1); a retried batch rewrites
the same entries, and a stopped run resumes from the status records like the local engine.

The store must be reachable from every node: a shared filesystem path, or an fsspec URL
(`s3://bucket/prefix` with s3fs installed). Trailer files named by path must be readable at that
path on every node too.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from reelcast.config import Config, ScaleConfig
from reelcast.media.encoding import EncoderPlan, plan_encoders
from reelcast.progress import Progress
from reelcast.store.base import is_url

log = logging.getLogger(__name__)

RAY_VERSION = "2.60.0"  # what `reelcast[ray]` pins and CI tests
# How long the encoder pool may take to start (imports, model loads; GPU nodes coming up) before the run
# fails with Ray Data's "Timed out while starting actors".
POOL_START_TIMEOUT_S = 900


def require_ray():
    """The ray module, or a RuntimeError that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (the engine is built on Ray Data)
    except ImportError as e:
        raise RuntimeError(f'--engine ray needs Ray: pip install "reelcast[ray]" ({e})') from e
    return ray


def start_ray(scale: ScaleConfig, download_slots: int) -> float:
    """Join the cluster at scale.address, or start a private loopback-only instance; seconds taken.

    A private instance offers `download_slots` download resources (the per-node download cap). An
    already initialised Ray (a test fixture, a notebook) is used as it is.
    """
    ray = require_ray()
    if ray.is_initialized():
        return 0.0
    t0 = time.perf_counter()
    if scale.address:
        ray.init(address=scale.address, log_to_driver=False, logging_level=logging.WARNING)
    else:
        ray.init(
            address="local",  # a new instance, even when another Ray runs on this machine
            num_cpus=scale.num_cpus or None,
            resources={scale.download_resource: float(max(1, download_slots))},
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            _node_ip_address="127.0.0.1",
        )
    return time.perf_counter() - t0


def store_location(cfg: Config) -> str:
    """cache_dir as every worker must see it: an fsspec URL as is, a local path made absolute."""
    return cfg.cache_dir if is_url(cfg.cache_dir) else str(Path(cfg.cache_dir).resolve())


# ---- stages (run in Ray workers; arguments are plain dicts so they travel anywhere) -------------------
def _fetch_row(row: dict[str, Any], conf: dict[str, Any]) -> dict[str, Any]:
    """Fetch stage: the trailer into this node's download cache; downloaded bytes travel on."""
    from reelcast.media.download import fetch_trailer, node_download_dir
    from reelcast.media.refs import TrailerRef

    started = time.time()  # wall clock: the driver lines the stages up from these (see _Timeline)
    cfg = Config.from_dict(conf)
    r = fetch_trailer(TrailerRef(row["kind"], row["value"]), cfg.media, node_download_dir(cfg))
    data = b""
    if r.status == "ok" and row["kind"] != "file":  # the decode task may run on another node
        data = Path(r.path).read_bytes()
    return {
        "key": row["key"],
        "line": row["line"],
        "fetch_status": r.status,
        "fetch_message": r.message,
        "node": r.node,
        "path": str(r.path) if r.path and row["kind"] == "file" else "",
        "suffix": Path(r.path).suffix if r.path else "",
        "data": data,
        "t_fetch": started,
    }


def _decode_row(row: dict[str, Any], conf: dict[str, Any]) -> dict[str, Any]:
    """Decode stage: frames, audio input and the film's status record ('' = retry in a later run)."""
    from reelcast.media.download import RETRY_LATER
    from reelcast.media.records import decode_film, failed_record

    t0 = time.perf_counter()
    media = conf["media"]
    node = row["node"]
    frames = np.zeros((0, media["crop"], media["crop"], 3), np.uint8)
    audio = np.zeros((0, 0), np.float16)
    if row["fetch_status"] != "ok":
        status, message = row["fetch_status"], row["fetch_message"]
        rec = None if status in RETRY_LATER else failed_record(status, message, node)
    else:
        tmp = None
        path = row["path"]
        if not path:  # downloaded elsewhere: decode a private copy of the bytes
            fd, tmp = tempfile.mkstemp(prefix="reelcast-", suffix=row["suffix"] or ".media")
            with os.fdopen(fd, "wb") as f:
                f.write(row["data"])
            path = tmp
        try:
            res = decode_film(path, conf, node)
        finally:
            if tmp:
                Path(tmp).unlink(missing_ok=True)
        status, message, rec = res["status"], res["message"], res["record"]
        if status == "ok":
            frames = res["frames"]
            if res["audio"] is not None:
                audio = res["audio"]
    return {
        "key": row["key"],
        "line": row["line"],
        "status": status,
        "message": message,
        "record": json.dumps(rec) if rec is not None else "",
        "frames": frames,
        "audio": audio,
        "decode_s": time.perf_counter() - t0,
        "t_fetch": row["t_fetch"],
        "t_decoded": time.time(),
    }


def _warm_worker() -> None:
    """A worker process with the decode stage's modules imported (torch among them, seconds of work)."""
    import reelcast.media.download
    import reelcast.media.records  # noqa: F401


def _read_decode_row(row: dict[str, Any], conf: dict[str, Any]) -> dict[str, Any]:
    """Fetch and decode stages in one task, for trailers named by path: nothing to wait on the network
    for, so no task of its own (and no worker process of its own) to find the file."""
    return _decode_row(_fetch_row(row, conf), conf)


class _FrameActor:
    """Encode stage: the frozen frame CNN, loaded once per actor; writes each film's entries."""

    def __init__(self, conf: dict[str, Any], ids: list[str], device: str, threads: int):
        t0 = time.perf_counter()
        from reelcast.encoders.frames import create_frame_encoder
        from reelcast.store import open_store

        cfg = Config.from_dict(conf)
        v = cfg.video
        self.encoder = create_frame_encoder(
            v.model,
            device=device,
            batch_size=v.batch_size,
            precision=v.precision,
            threads=threads,
            torch_compile=v.compile,
        )
        self.store = open_store(cfg.cache_dir)
        self.ids = (ids[0], ids[1], ids[2])
        self.start_s = time.perf_counter() - t0  # imports and model load: reported once, with batch 1

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from reelcast.media.encoding import encode_films
        from reelcast.media.records import write_film

        # '' = a fetch to retry later: nothing is stored, like the local engine.
        recs = [json.loads(str(t)) if str(t) else None for t in batch["record"]]
        with_video = [j for j, rec in enumerate(recs) if rec is not None and rec["video_ok"]]
        t0, started = time.perf_counter(), time.time()
        # One CNN pass over the batch's films: its forward batches span films.
        encoded = encode_films(self.encoder, [batch["frames"][j] for j in with_video])
        feats = dict(zip(with_video, encoded, strict=True))
        # The batch's CNN time, shared out by frame count (the films were encoded together).
        frames = max(1, sum(len(batch["frames"][j]) for j in with_video))
        share = (time.perf_counter() - t0) / frames
        cnn = [share * len(batch["frames"][j]) if j in feats else 0.0 for j in range(len(recs))]
        for j, (key, rec) in enumerate(zip(batch["key"], recs, strict=True)):
            if rec is not None:
                audio = np.asarray(batch["audio"][j]) if rec["audio_ok"] else None
                write_film(self.store, self.ids, str(key), feats.get(j), audio, rec)
        return {
            "key": batch["key"],
            "line": batch["line"],
            "status": batch["status"],
            "message": batch["message"],
            "decode_s": batch["decode_s"],
            "encode_s": np.asarray(cnn),
            "t_fetch": batch["t_fetch"],
            "t_decoded": batch["t_decoded"],
            "t_encode": np.full(len(cnn), started),
            "t_encoded": np.full(len(cnn), time.time()),
            "actor_start_s": np.asarray([self._take_start()] + [0.0] * (len(cnn) - 1)),
        }

    def _take_start(self) -> float:
        start, self.start_s = self.start_s, 0.0
        return start


class _TextActor:
    """Text stage: the frozen text encoder, loaded once per actor; writes each text's vector."""

    def __init__(self, conf: dict[str, Any], device: str):
        from reelcast.encoders.text import TextEncoder
        from reelcast.store import open_store

        cfg = Config.from_dict(conf)
        self.encoder = TextEncoder(cfg.text, device)
        self.store = open_store(cfg.cache_dir)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vecs = self.encoder.encode([str(t) for t in batch["text"]], progress=False)
        for key, v in zip(batch["key"], vecs, strict=True):
            self.store.put("text", self.encoder.encoder_id, str(key), v)
        return {"key": batch["key"]}


class _Timeline:
    """When each film went through each stage (wall clock, from the rows): start-up apart from work."""

    def __init__(self, started: float):
        self.started = started
        self.fetched: list[float] = []
        self.decoded: list[float] = []
        self.batches: set[tuple[float, float]] = set()  # (encode start, end): one per actor call

    def add(self, row: dict[str, Any]) -> None:
        """One film's row as the encode stage returned it."""
        self.fetched.append(float(row["t_fetch"]))
        self.decoded.append(float(row["t_decoded"]))
        self.batches.add((float(row["t_encode"]), float(row["t_encoded"])))

    def pool_start(self) -> float:
        """Seconds from the run's start to the first fetch: the encoder pool starting its actors."""
        return max(0.0, min(self.fetched) - self.started) if self.fetched else 0.0

    def summary(self, encoders: int) -> str:
        """Where the run's time went: pool start, the span of decoding and how busy the encoders were."""
        if not self.fetched:
            return "nothing ran"
        first = min(self.fetched)
        end = max(e for _, e in self.batches)
        busy = sum(e - s for s, e in self.batches) / max(1e-9, encoders * (end - first))
        wait = min(s for s, _ in self.batches) - first
        return (
            f"pool started in {self.pool_start():.1f} s; films from then on {end - first:.1f} s: first "
            f"encoder call after {wait:.1f} s, last film decoded at {max(self.decoded) - first:.1f} s, "
            f"{len(self.batches)} encoder calls, encoders busy {100 * busy:.0f} %"
        )


class RayEngine:
    """Extraction on Ray Data: the same statuses and store entries as the local engine."""

    name = "ray"

    def __init__(self, scale: ScaleConfig):
        self.scale = scale
        self.start_seconds = 0.0  # Ray start-up (or joining the cluster), kept apart from the work

    def _start(self, cfg: Config) -> Any:
        ray = require_ray()
        self.start_seconds += start_ray(self.scale, cfg.media.download_workers)
        return ray

    def _use_gpus(self, cfg: Config) -> bool:
        ray = self._start(cfg)
        return cfg.train.device in ("auto", "cuda") and ray.cluster_resources().get("GPU", 0) >= 1

    def device(self, cfg: Config) -> str:
        """cuda when the cluster has GPUs (and the config allows them), else cpu: where actors encode."""
        return "cuda" if self._use_gpus(cfg) else "cpu"

    def plan(self, cfg: Config) -> EncoderPlan:
        """Encoder actors for the cluster: scale.encode_actors, else one per GPU, or one per CPU.

        An actor's torch threads are video.threads, else its reserved scale.encode_cpus (at least 1).
        """
        ray = self._start(cfg)
        res = ray.cluster_resources()
        gpus = int(res.get("GPU", 0)) if self._use_gpus(cfg) else 0
        threads = cfg.video.threads or max(1, int(self.scale.encode_cpus))
        return plan_encoders(max(1, int(res.get("CPU", 1))), self.scale.encode_actors, threads, gpus)

    def _pool(self, cfg: Config) -> dict[str, Any]:
        from ray.data import ActorPoolStrategy

        return {
            # One batch at a time per actor: a batch waits for a free actor instead of queueing behind a
            # busy one while another (still loading its model, or at the end of the run) idles.
            "compute": ActorPoolStrategy(size=self.plan(cfg).encoders, max_tasks_in_flight_per_actor=1),
            "num_gpus": 1 if self._use_gpus(cfg) else 0,
            "num_cpus": self.scale.encode_cpus,
        }

    def _conf(self, cfg: Config) -> dict[str, Any]:
        conf = cfg.to_dict()
        conf["cache_dir"] = store_location(cfg)
        return conf

    def extract_missing(
        self, films, cfg, store, get_frame_encoder, refs, keys, todo, ids, progress, timings
    ) -> None:
        """Run the missing films through fetch -> decode -> encode on the cluster."""
        ray = self._start(cfg)
        from ray.data import DataContext

        DataContext.get_current().enable_progress_bars = False  # one reelcast bar instead
        if not log.isEnabledFor(logging.DEBUG):  # Ray Data's plan and progress lines unless -v
            logging.getLogger("ray.data").setLevel(logging.WARNING)
        resource = self.scale.download_resource
        slots = ray.cluster_resources().get(resource, 0)
        if not slots and any(refs[i].kind != "file" for i in todo):
            raise RuntimeError(
                f"the Ray cluster offers no {resource!r} resource, which caps downloads per node; start "
                f"each node with: ray start ... --resources='{{\"{resource}\": 3}}'"
            )
        rows, seen = [], set()
        for i in todo:
            if keys[i] in seen:  # films sharing a trailer: one row; the status is stored under the key
                continue
            seen.add(keys[i])
            ref = refs[i]
            value = str(Path(ref.value).resolve()) if ref.kind == "file" else ref.value
            line = str(films["line"].iloc[i])
            rows.append({"key": keys[i], "kind": ref.kind, "value": value, "line": line})
        conf = self._conf(cfg)
        device = self.device(cfg)
        plan = self.plan(cfg)
        threads = plan.threads
        log.info("ray: %d trailers, %d frame encoders x %d torch threads", len(rows), plan.encoders, threads)
        fetch_args: dict[str, Any] = {"num_cpus": 0}
        if slots:
            fetch_args["resources"] = {resource: 1}

        # Worker processes for the decode tasks start and import their modules while the pool starts,
        # so the first films are not decoded by processes still importing torch (encoders waiting).
        cpus = ray.cluster_resources().get("CPU", 1)
        warm = ray.remote(_warm_worker).options(num_cpus=self.scale.decode_cpus)
        for _ in range(max(1, min(len(rows), int(cpus / max(self.scale.decode_cpus, 0.01))))):
            warm.remote()  # its result is not needed: the process it leaves behind is
        context = DataContext.get_current()
        wait = context.wait_for_min_actors_s
        counts: Counter[str] = Counter()
        t0, timeline = time.perf_counter(), _Timeline(time.time())
        bar = Progress(len(rows), "ray: fetch + decode + encode", "trailer", enabled=progress)
        try:
            # The encoder pool loads its models before the first trailer is fetched: decode tasks do not
            # take the cores those loads need, and the run's start-up is measured apart from its work.
            # (A dataset copies the context when it is made.)
            context.wait_for_min_actors_s = POOL_START_TIMEOUT_S
            for row in self._dataset(ray, rows, conf, cfg, ids, device, threads, fetch_args).iter_rows():
                timeline.add(row)
                counts[row["status"]] += 1
                timings["decode"] = timings.get("decode", 0.0) + float(row["decode_s"])
                timings["frames_cnn"] = timings.get("frames_cnn", 0.0) + float(row["encode_s"])
                timings["actor_start"] = timings.get("actor_start", 0.0) + float(row["actor_start_s"])
                if row["status"] != "ok":
                    log.warning("line %s: trailer: %s: %s", row["line"], row["status"], row["message"])
                bar.update()
        finally:
            context.wait_for_min_actors_s = wait
            bar.close()
        timings["ray_start"] = self.start_seconds
        timings["ray_pool_start"] = timings.get("ray_pool_start", 0.0) + timeline.pool_start()
        log.info("ray: %s", timeline.summary(plan.encoders))
        timings["ray_run"] = timings.get("ray_run", 0.0) + time.perf_counter() - t0
        log.info("ray: %d trailers, statuses %s", len(rows), dict(counts))

    def _dataset(self, ray, rows, conf, cfg, ids, device, threads, fetch_args) -> Any:
        """The trailers' rows through fetch -> decode -> the encoder actor pool, as a Ray dataset."""
        ds = ray.data.from_items(rows, override_num_blocks=len(rows))
        if all(r["kind"] == "file" for r in rows):
            ds = ds.map(_read_decode_row, fn_kwargs={"conf": conf}, num_cpus=self.scale.decode_cpus)
        else:
            ds = ds.map(_fetch_row, fn_kwargs={"conf": conf}, **fetch_args)
            ds = ds.map(_decode_row, fn_kwargs={"conf": conf}, num_cpus=self.scale.decode_cpus)
        return ds.map_batches(
            _FrameActor,
            fn_constructor_kwargs={"conf": conf, "ids": list(ids), "device": device, "threads": threads},
            batch_size=max(1, self.scale.encode_batch),
            batch_format="numpy",
            **self._pool(cfg),
        )

    def encode_texts(self, texts: list[str], cfg: Config, store: Any) -> int:
        """Encode the texts missing from the store in the actor pool; returns how many."""
        from reelcast.encoders.text import text_encoder_id
        from reelcast.files import sha256_text

        enc_id = text_encoder_id(cfg.text)
        todo = sorted({sha256_text(t): t for t in texts if t.strip()}.items())
        todo = [(k, t) for k, t in todo if not store.has("text", enc_id, k)]
        if not todo:
            return 0
        ray = self._start(cfg)
        device = self.device(cfg)
        ds = ray.data.from_items([{"key": k, "text": t} for k, t in todo])
        ds = ds.map_batches(
            _TextActor,
            fn_constructor_kwargs={"conf": self._conf(cfg), "device": device},
            batch_size=max(1, cfg.text.batch_size),
            batch_format="numpy",
            **self._pool(cfg),
        )
        return sum(1 for _ in ds.iter_rows())

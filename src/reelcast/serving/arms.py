"""Several models behind one server: arms, the traffic split, shadow runs and the prediction log.

`reelcast serve --model A=runs/q3/split_80_10_10 --model B=runs/q4/split_80_10_10 --traffic A=90,B=10`

* Each film goes to one arm, chosen from a hash of its id (or, without one, its title; without either,
  its description), so the same film always gets the same arm while the split is unchanged.
* `--shadow`: every other arm also predicts each film, in a background task after the answer is
  sent (uploads: before, while the file exists). Shadow answers are only logged, never returned.
* Every answer, served or shadow, goes to the prediction log (reelcast.serving.predlog) without blocking.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reelcast.files import sha256_file
from reelcast.serving.predlog import LogSettings, PredictionLog, sha256_json

if TYPE_CHECKING:
    from reelcast.predictor import RevenuePredictor

log = logging.getLogger(__name__)

DEFAULT_ARM = "default"
# Buckets of the traffic split: a film's hash picks one of these, each arm owns a contiguous range.
BUCKETS = 10_000
ASSIGNMENT_SALT = "reelcast-ab-v1"


@dataclass
class FilmRequest:
    """What the log needs to know about one request, besides the answer."""

    description: str
    title: str = ""
    film_id: str = ""
    trailer: str | None = None  # the URL or id as sent, or the uploaded file's name
    trailer_sha256: str | None = None  # of the uploaded bytes, or of the reference string
    metadata: dict[str, Any] | None = None

    def key(self) -> str:
        """The assignment key: film id, else normalised title, else the description's hash."""
        return assignment_key(self.film_id, self.title, self.description)


def assignment_key(film_id: str, title: str, description: str) -> str:
    """What the arm is chosen from: id, else title (case and spacing ignored), else description."""
    if film_id.strip():
        return "id:" + film_id.strip()
    if title.strip():
        return "title:" + " ".join(title.casefold().split())
    return "text:" + hashlib.sha256(description.encode("utf-8")).hexdigest()


def bucket(key: str) -> int:
    """A stable bucket in [0, BUCKETS) from a key (sha256; the same on every machine and run)."""
    digest = hashlib.sha256(f"{ASSIGNMENT_SALT}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def parse_models(values: list[str]) -> list[tuple[str, Path]]:
    """`--model` values: `NAME=folder` or, for a single model, a bare folder (arm "default")."""
    if not values:
        raise ValueError("give at least one --model")
    out: list[tuple[str, Path]] = []
    for v in values:
        name, sep, path = v.partition("=")
        if not sep:
            if len(values) > 1:
                raise ValueError(f"--model {v!r}: with several models name each one, e.g. --model A={v}")
            name, path = DEFAULT_ARM, v
        name = name.strip()
        if not name or not name.replace("_", "").replace("-", "").isalnum() or len(name) > 64:
            raise ValueError(f"--model {v!r}: an arm name is 1-64 letters, digits, '-' or '_'")
        if any(name == n for n, _ in out):
            raise ValueError(f"--model: arm {name!r} is given twice")
        out.append((name, Path(path.strip())))
    return out


def parse_traffic(text: str | None, names: list[str]) -> dict[str, float]:
    """`A=90,B=10` -> shares summing to 1 over every arm (unnamed arms get 0); None = all to the first."""
    if text is None or not text.strip():
        if len(names) > 1:
            raise ValueError(
                f"several models ({', '.join(names)}) need --traffic, "
                f"e.g. --traffic {names[0]}=90,{names[1]}=10"
            )
        return {names[0]: 1.0}
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"--traffic {text!r}: each part is NAME=WEIGHT, got {part!r}")
        if name not in names:
            raise ValueError(f"--traffic {text!r}: no --model named {name!r} (arms: {', '.join(names)})")
        if name in weights:
            raise ValueError(f"--traffic {text!r}: {name!r} appears twice")
        try:
            w = float(value)
        except ValueError:
            raise ValueError(f"--traffic {text!r}: weight of {name!r} is not a number: {value!r}") from None
        if not w >= 0 or w == float("inf"):
            raise ValueError(f"--traffic {text!r}: weight of {name!r} must be >= 0, got {value!r}")
        weights[name] = w
    total = sum(weights.values())
    if total <= 0:
        raise ValueError(f"--traffic {text!r}: the weights sum to 0")
    return {n: weights.get(n, 0.0) / total for n in names}


class Router:
    """Maps a film's bucket to an arm: each arm owns a contiguous range sized by its share."""

    def __init__(self, shares: dict[str, float]):
        self.shares = dict(shares)
        self.bounds: list[tuple[int, str]] = []
        acc = 0.0
        for name, share in shares.items():
            acc += share
            if share > 0:
                self.bounds.append((round(acc * BUCKETS), name))
        if not self.bounds:
            raise ValueError("no arm has a positive share of the traffic")
        # Rounding must not leave the last buckets unowned.
        self.bounds[-1] = (BUCKETS, self.bounds[-1][1])

    def choose(self, key: str) -> str:
        """The arm that answers the film with this assignment key."""
        b = bucket(key)
        for upper, name in self.bounds:
            if b < upper:
                return name
        return self.bounds[-1][1]


def checkpoint_id(path: str | Path) -> str:
    """A model id: the first 16 hex digits of the sha256 of the checkpoint file."""
    from reelcast.predictor import CHECKPOINT

    p = Path(path)
    return sha256_file(p / CHECKPOINT if p.is_dir() else p)[:16]


def predictor_id(predictor: RevenuePredictor) -> str:
    """A model id for a predictor given in memory: the sha256 of its weights, edges and temperature."""
    h = hashlib.sha256()
    for name, tensor in sorted(predictor.model_.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    ensemble = getattr(predictor, "ensemble_", None)
    if ensemble is not None:  # the trees and blend weights are part of the model too
        h.update(compact_json(ensemble.to_dict()).encode())
    h.update(repr([float(t) for t in predictor.thresholds_]).encode())
    h.update(repr(float(predictor.temperature_)).encode())
    return h.hexdigest()[:16]


@dataclass
class Arm:
    """One model behind the server."""

    name: str
    service: Any  # serving.app.ModelService
    model_id: str
    path: str
    share: float  # of the traffic this arm answers
    shadow: bool = False  # also predicts every film it does not answer, logged only


@dataclass
class ABSettings:
    """Which models to serve, how traffic is split, and where predictions are logged."""

    models: list[tuple[str, Path]] = field(default_factory=list)
    traffic: str | None = None
    shadow: bool = False
    # SQLAlchemy URL or SQLite file path; None = no log.
    log_db: str | None = None
    log: LogSettings = field(default_factory=LogSettings)
    # Settings applied to every arm's model as it is loaded (Config.update form), e.g. {"cache_dir": ...}.
    overrides: dict[str, Any] | None = None
    # Shadow runs started and not finished; beyond this they are dropped (and counted), never queued forever.
    shadow_limit: int = 256
    # Load models whose files no longer match their recorded digests (`--trust-modified`).
    trust_modified: bool = False


class ArmSet:
    """The arms, the router, the shadow runs and the log: everything /predict needs to route a film."""

    def __init__(self, arms: list[Arm], shadow: bool, plog: PredictionLog | None, shadow_limit: int = 256):
        self.arms = {a.name: a for a in arms}
        self.router = Router({a.name: a.share for a in arms})
        self.shadow = shadow and len(arms) > 1
        self.shadow_limit = max(1, shadow_limit)
        self.log = plog
        self.shadow_counts = {"run": 0, "dropped": 0, "failed": 0}
        self.lock = threading.Lock()
        # Shadow predictions waiting or running, as tasks on the server's event loop.
        self._pending: set[asyncio.Task] = set()
        # One shadow run at a time: the others wait on the loop, not in (and starving) the threadpool.
        self._gate: asyncio.Semaphore | None = None
        self._gate_loop: asyncio.AbstractEventLoop | None = None
        if plog is not None:
            for a in arms:
                p = a.service.predictor
                plog.register_model(
                    a.name, a.model_id, a.path, p.thresholds_, p.spec_.modalities, a.share, self.shadow
                )

    @property
    def primary(self) -> Arm:
        """The arm with the largest share (the one /model describes at its top level)."""
        return max(self.arms.values(), key=lambda a: a.share)

    async def predict(
        self, film: FilmRequest, run: Callable[[Any], Awaitable[Any]], shadow_inline: bool = False
    ):
        """Answer with the film's arm (`await run(service)`), log it, and start the shadow runs if on.

        Shadow runs are tasks that outlive the request (its answer is sent without waiting for them);
        with shadow_inline (uploads, whose file is removed after the request) they are awaited first.
        """
        arm = self.arms[self.router.choose(film.key())]
        request_id = uuid.uuid4().hex
        t0 = time.perf_counter()
        response = await run(arm.service)
        self._record(arm, "served", film, response, request_id, 1000 * (time.perf_counter() - t0))
        if self.shadow:
            for other in (a for a in self.arms.values() if a.name != arm.name):
                job = self._run_shadow(other, film, run, request_id)
                if shadow_inline:
                    await job
                elif len(self._pending) >= self.shadow_limit:
                    job.close()  # never started; dropped and counted instead of queueing without bound
                    with self.lock:
                        self.shadow_counts["dropped"] += 1
                else:
                    task = asyncio.get_running_loop().create_task(job)
                    self._pending.add(task)
                    task.add_done_callback(self._pending.discard)
        return response.model_copy(update={"arm": arm.name, "model_id": arm.model_id})

    def _shadow_gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()  # one per loop: test clients may run several
        if self._gate is None or self._gate_loop is not loop:
            self._gate, self._gate_loop = asyncio.Semaphore(1), loop
        return self._gate

    async def _run_shadow(self, arm: Arm, film: FilmRequest, run, request_id: str) -> None:
        try:
            async with self._shadow_gate():
                t0 = time.perf_counter()
                response = await run(arm.service)
        except Exception as e:  # a shadow failure must never reach the client
            log.warning("shadow arm %s failed on %r: %s: %s", arm.name, film.title, type(e).__name__, e)
            with self.lock:
                self.shadow_counts["failed"] += 1
            return
        with self.lock:
            self.shadow_counts["run"] += 1
        self._record(arm, "shadow", film, response, request_id, 1000 * (time.perf_counter() - t0))

    def _record(self, arm: Arm, role: str, film: FilmRequest, response, request_id: str, ms: float) -> None:
        if self.log is None:
            return
        try:
            entry = log_entry(arm, role, film, response, request_id, ms)
        except Exception as e:  # logging is best effort: count it, never fail the answer
            log.warning("prediction log: could not build an entry (%s: %s)", type(e).__name__, e)
            self.log.count_failed(1)
            return
        self.log.submit(entry)

    def wait_shadows(self, timeout: float = 30.0) -> bool:
        """Wait, from another thread than the server's loop, until started shadow runs have finished."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._pending

    def health(self) -> dict[str, Any]:
        """The log's and the shadow runs' counters for /health."""
        out: dict[str, Any] = {"prediction_log": self.log.stats() if self.log else None, "shadow": None}
        if self.shadow:
            with self.lock:
                out["shadow"] = {**self.shadow_counts, "pending": len(self._pending)}
        return out

    def describe(self) -> list[dict[str, Any]]:
        """One entry per arm for GET /model."""
        out = []
        for a in self.arms.values():
            p = a.service.predictor
            out.append(
                {
                    "name": a.name,
                    "traffic_share": a.share,
                    "runs_in_shadow": self.shadow,
                    "model_id": a.model_id,
                    "modalities": list(p.spec_.modalities),
                    "thresholds_musd": [float(t) for t in p.thresholds_],
                    "encoder_ids": a.service.encoder_ids(),
                }
            )
        return out

    async def aclose(self, timeout: float = 30.0) -> None:
        """At shutdown: let started shadow runs finish (up to timeout), then commit and close the log."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout)
        self.close()

    def close(self) -> None:
        """Commit what the log has queued and stop its writer."""
        if self.log is not None:
            self.log.close()


def log_entry(arm: Arm, role: str, film: FilmRequest, response, request_id: str, ms: float) -> dict[str, Any]:
    """The log row of one answer: who answered, what it was asked (hashed) and what it said."""
    desc_hash = hashlib.sha256(film.description.encode("utf-8")).hexdigest()
    meta = film.metadata or None
    meta_hash = sha256_json(meta) if meta else None
    inputs_hash = sha256_json([desc_hash, film.title, film.trailer_sha256, meta_hash])
    budget = (meta or {}).get("budget_musd")
    return {
        "logged_at": time.time(),
        "request_id": request_id,
        "arm": arm.name,
        "role": role,
        "model_id": arm.model_id,
        "film_id": film.film_id,
        "title": film.title,
        "assignment_key": film.key(),
        "description_sha256": desc_hash,
        "trailer_sha256": film.trailer_sha256,
        "metadata_sha256": meta_hash,
        "inputs_sha256": inputs_hash,
        "predicted_class": int(response.predicted_class),
        "confidence": float(response.confidence),
        "probabilities": compact_json([p.probability for p in response.probabilities]),
        "modalities_used": compact_json(response.modalities_used),
        "description_chars": len(film.description),
        "budget_musd": float(budget) if budget is not None else None,
        "metadata": compact_json(meta) if meta else None,
        "latency_ms": round(ms, 3),
    }


def compact_json(value: Any) -> str:
    """Compact JSON text for a log column."""
    import json

    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def build_arms(
    ab: ABSettings | None,
    make_service: Callable[[RevenuePredictor], Any],
    device: str | None,
    run_dir: str | Path | None = None,
    predictor: RevenuePredictor | None = None,
) -> ArmSet:
    """Load every arm's model (or wrap the one given) and open the log."""
    from reelcast.predictor import RevenuePredictor

    arms: list[Arm] = []
    if ab is None or not ab.models:
        if predictor is None:
            if run_dir is None:
                raise ValueError("create_app needs run_dir (a split folder of a training run) or a predictor")
            predictor = RevenuePredictor.load(run_dir, device=device, progress=False)
            mid, path = checkpoint_id(run_dir), str(Path(run_dir).resolve())
        elif getattr(predictor, "model_", None) is None:
            raise ValueError("create_app needs a fitted predictor (RevenuePredictor.load or .fit)")
        else:
            mid = checkpoint_id(run_dir) if run_dir is not None else predictor_id(predictor)
            path = str(Path(run_dir).resolve()) if run_dir is not None else "<in memory>"
        arms.append(Arm(DEFAULT_ARM, make_service(predictor), mid, path, 1.0))
    else:
        names = [n for n, _ in ab.models]
        shares = parse_traffic(ab.traffic, names)
        for name, folder in ab.models:
            p = RevenuePredictor.load(
                folder,
                device=device,
                overrides=ab.overrides,
                progress=False,
                trust_modified=ab.trust_modified,
            )
            arms.append(
                Arm(name, make_service(p), checkpoint_id(folder), str(Path(folder).resolve()), shares[name])
            )
    ab = ab or ABSettings()
    if ab.shadow and len(arms) < 2:
        raise ValueError("--shadow runs the other arms on every film; it needs at least two --model arms")
    plog = PredictionLog(ab.log_db, ab.log) if ab.log_db else None
    try:
        return ArmSet(arms, ab.shadow, plog, ab.shadow_limit)
    except Exception:
        if plog is not None:
            plog.close()
        raise

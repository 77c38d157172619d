"""The prediction log: every answer a server gives (and every shadow answer), appended to a database.

A background thread owns the database connection. Requests only put an entry on a bounded queue and
never wait for, or fail because of, the database: when the queue is full the entry is dropped and
counted (shown in /health). The writer commits once per batch; on SQLite the database runs in WAL
mode, so a process killed with SIGKILL keeps every committed batch and loses at most the entries
still queued. Any SQLAlchemy URL works (`postgresql+psycopg://...`); a plain file path means SQLite.

Tables (append-only: UPDATE and DELETE are refused by triggers on SQLite and PostgreSQL):
  predictions  one row per prediction: time, arm, role (served | shadow), model id, film, input hashes,
               class, probabilities, modalities used, description length, budget, metadata
  models       one row per (server start, arm): model id, folder, class edges, modalities
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PREDICTIONS = "predictions"
MODELS = "models"
# Put on the queue by close(): the writer commits what is ahead of it and stops.
_STOP = object()


@dataclass
class LogSettings:
    """How the writer queues and commits entries."""

    queue_size: int = 10_000
    # Entries per transaction: one commit per batch keeps SQLite fast and bounds what a crash can lose to
    # the batch being written plus the queue.
    batch_size: int = 256
    # Attempts per batch before its entries are counted as failed (the database may be briefly locked).
    retries: int = 3

    def __post_init__(self) -> None:
        if self.queue_size < 1 or self.batch_size < 1 or self.retries < 1:
            raise ValueError(
                f"log queue_size, batch_size and retries must be >= 1, got "
                f"{self.queue_size}, {self.batch_size}, {self.retries}"
            )


def database_url(target: str | Path) -> str:
    """A SQLAlchemy URL from a URL or a plain file path (a path means a SQLite file)."""
    text = str(target).strip()
    if not text:
        raise ValueError("the prediction log location is empty")
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def log_location(given: str | None, model_dir: Path) -> str | None:
    """Where a server logs predictions: `given` (URL or file) if any, else predictions.sqlite beside the
    model; None (logging off, with a warning) when that folder is not writable."""
    if given:
        return given
    if not os.access(model_dir, os.W_OK):
        # A read-only model folder (a deployed image) must not stop a server that ran before logging.
        log.warning("prediction log off: %s is not writable; pass --log-db to log elsewhere", model_dir)
        return None
    return str(Path(model_dir) / "predictions.sqlite")


def sha256_json(value: Any) -> str:
    """sha256 of a value's canonical JSON (sorted keys), for hashing request inputs."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _tables(metadata):
    from sqlalchemy import Column, Float, Integer, String, Table, Text

    predictions = Table(
        PREDICTIONS,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("logged_at", Float, nullable=False),  # unix seconds
        Column("request_id", String(32), nullable=False),  # shared by a served answer and its shadows
        Column("arm", String(64), nullable=False),
        Column("role", String(8), nullable=False),  # served | shadow
        Column("model_id", String(64), nullable=False),
        Column("film_id", Text, nullable=False),
        Column("title", Text, nullable=False),
        Column("assignment_key", Text, nullable=False),
        Column("description_sha256", String(64), nullable=False),
        Column("trailer_sha256", String(64)),
        Column("metadata_sha256", String(64)),
        Column("inputs_sha256", String(64), nullable=False),
        Column("predicted_class", Integer, nullable=False),
        Column("confidence", Float, nullable=False),
        Column("probabilities", Text, nullable=False),  # JSON list, class order
        Column("modalities_used", Text, nullable=False),  # JSON {modality: bool}
        Column("description_chars", Integer, nullable=False),
        Column("budget_musd", Float),
        Column("metadata", Text),  # JSON of the request's metadata, or NULL
        Column("latency_ms", Float),
    )
    models = Table(
        MODELS,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("registered_at", Float, nullable=False),
        Column("arm", String(64), nullable=False),
        Column("model_id", String(64), nullable=False),
        Column("path", Text, nullable=False),
        Column("thresholds_musd", Text, nullable=False),  # JSON list of the seven class edges
        Column("modalities", Text, nullable=False),  # JSON list
        Column("weight", Float, nullable=False),
        Column("shadow", Integer, nullable=False),
    )
    return predictions, models


_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} "
    f"BEGIN SELECT RAISE(ABORT, 'the prediction log is append-only'); END"
    for t in (PREDICTIONS, MODELS)
    for op in ("UPDATE", "DELETE")
]
_PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION reelcast_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'the prediction log is append-only'; END $$ LANGUAGE plpgsql"
)


def _pg_triggers() -> list[str]:
    out = []
    for t in (PREDICTIONS, MODELS):
        out.append(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}")
        out.append(
            f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
            "FOR EACH ROW EXECUTE FUNCTION reelcast_append_only()"
        )
    return out


def open_engine(url: str):
    """A SQLAlchemy engine with the log's tables and append-only triggers in place (created if absent)."""
    from sqlalchemy import MetaData, create_engine, event, text

    url = database_url(url)
    sqlite = url.startswith("sqlite")
    if sqlite:
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30} if sqlite else {}, pool_pre_ping=not sqlite)
    if sqlite:

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            # WAL: readers (ab-report) never block the writer, and a committed batch survives SIGKILL.
            # synchronous=NORMAL loses nothing on a process crash (only on power loss, the last commits).
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    metadata = MetaData()
    predictions, models = _tables(metadata)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            if sqlite:
                for stmt in _SQLITE_TRIGGERS:
                    conn.execute(text(stmt))
            elif engine.dialect.name == "postgresql":
                conn.execute(text(_PG_FUNCTION))
                for stmt in _pg_triggers():
                    conn.execute(text(stmt))
    except Exception as e:
        shown = engine.url.render_as_string(hide_password=True)
        engine.dispose()
        raise RuntimeError(f"prediction log {shown}: cannot open or create its tables ({e})") from e
    return engine, predictions, models


class PredictionLog:
    """Appends prediction entries from a bounded queue in a background thread (never blocks callers)."""

    def __init__(self, url: str | Path, settings: LogSettings | None = None):
        self.settings = settings or LogSettings()
        self.url = database_url(url)
        self.engine, self.predictions, self.models = open_engine(self.url)
        self.shown_url = self.engine.url.render_as_string(hide_password=True)
        self.queue: queue.Queue = queue.Queue(maxsize=self.settings.queue_size)
        self.lock = threading.Lock()
        self.counts = {"submitted": 0, "written": 0, "dropped": 0, "failed": 0}
        # /health is public: it shows how many writes failed and the class of the last error; the text
        # (SQL, parameters, paths) goes to the server log only.
        self.last_error: str | None = None
        self.write_errors = 0
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="reelcast-prediction-log", daemon=True)
        self.thread.start()

    # ---- the request side ---------------------------------------------------------------------------
    def submit(self, entry: dict[str, Any]) -> bool:
        """Queue one prediction entry; False (and counted as dropped) when the queue is full or closed."""
        with self.lock:
            self.counts["submitted"] += 1
            if self.closed:
                self.counts["dropped"] += 1
                return False
        try:
            self.queue.put_nowait(entry)
        except queue.Full:
            with self.lock:
                self.counts["dropped"] += 1
            return False
        return True

    def count_failed(self, n: int) -> None:
        """Count entries lost before they reached the queue (e.g. an entry that could not be built)."""
        with self.lock:
            self.counts["submitted"] += n
            self.counts["failed"] += n

    def register_model(self, arm: str, model_id: str, path: str, thresholds, modalities, weight, shadow):
        """Record an arm's model (synchronously, at start-up): the report reads each model's edges here."""
        row = {
            "registered_at": time.time(),
            "arm": arm,
            "model_id": model_id,
            "path": str(path),
            "thresholds_musd": json.dumps([float(t) for t in thresholds]),
            "modalities": json.dumps(list(modalities)),
            "weight": float(weight),
            "shadow": int(bool(shadow)),
        }
        with self.engine.begin() as conn:
            conn.execute(self.models.insert(), [row])

    def stats(self) -> dict[str, Any]:
        """Counters for /health: submitted, written (committed), dropped, failed, queued."""
        with self.lock:
            out: dict[str, Any] = dict(self.counts)
        out["queued"] = self.queue.qsize()
        out["queue_size"] = self.settings.queue_size
        # The kind of database only: /health is public, where the log lives is the operator's business.
        out["database"] = self.engine.dialect.name
        out["write_errors"] = self.write_errors
        out["last_error"] = self.last_error
        return out

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued entry is committed (or failed); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                done = self.counts["written"] + self.counts["failed"] + self.counts["dropped"]
                if done >= self.counts["submitted"]:
                    return True
            time.sleep(0.01)
        return False

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, stop the writer thread and release the database."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
        self.queue.put(_STOP)  # blocks only if the queue is full, until the writer takes an entry
        self.thread.join(timeout)
        self.engine.dispose()

    # ---- the writer thread --------------------------------------------------------------------------
    def _run(self) -> None:
        stop = False
        while not stop:
            item = self.queue.get()
            batch = []
            if item is _STOP:
                stop = True
            else:
                batch.append(item)
            while len(batch) < self.settings.batch_size and not stop:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                else:
                    batch.append(item)
            if batch:
                self._write(batch)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        for attempt in range(self.settings.retries):
            try:
                with self.engine.begin() as conn:  # one transaction, one commit per batch
                    conn.execute(self.predictions.insert(), batch)
            except Exception as e:  # a broken database must not kill the writer or reach a request
                self.last_error = type(e).__name__
                self.write_errors += 1
                log.warning(
                    "prediction log: writing %d entries failed (%s: %s)", len(batch), self.last_error, e
                )
                time.sleep(0.1 * 2**attempt)
                continue
            with self.lock:
                self.counts["written"] += len(batch)
            return
        with self.lock:
            self.counts["failed"] += len(batch)


def read_log(url: str | Path):
    """(predictions, models) DataFrames from a log, with JSON columns decoded."""
    import pandas as pd
    from sqlalchemy import create_engine, inspect

    url = database_url(url)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: no prediction log here")
    engine = create_engine(url)
    try:
        names = set(inspect(engine).get_table_names())
        missing = {PREDICTIONS, MODELS} - names
        if missing:
            raise ValueError(
                f"{engine.url.render_as_string(hide_password=True)}: not a reelcast prediction log "
                f"(no table {', '.join(sorted(missing))})"
            )
        with engine.connect() as conn:
            preds = pd.read_sql_table(PREDICTIONS, conn)
            models = pd.read_sql_table(MODELS, conn)
    finally:
        engine.dispose()
    preds["probabilities"] = preds["probabilities"].map(json.loads)
    preds["modalities_used"] = preds["modalities_used"].map(json.loads)
    preds["metadata"] = preds["metadata"].map(lambda s: json.loads(s) if isinstance(s, str) else None)
    models["thresholds_musd"] = models["thresholds_musd"].map(json.loads)
    models["modalities"] = models["modalities"].map(json.loads)
    return preds.sort_values("id").reset_index(drop=True), models.sort_values("id").reset_index(drop=True)

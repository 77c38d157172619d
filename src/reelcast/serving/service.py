"""The model behind the API: `ModelService` runs one predictor and applies the server's trailer rules."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import re
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reelcast import __version__
from reelcast.data.classes import CLASS_NAMES, describe_thresholds
from reelcast.data.schema import aux_estimate_text
from reelcast.media.decode import TOO_LARGE, MediaError, check_frame_sizes
from reelcast.media.refs import TrailerRefError, parse_remote_ref, parse_trailer_ref
from reelcast.serving import model_thread
from reelcast.serving.answers import AnswerCache, answer_key
from reelcast.serving.batching import BatchScorer, FilmQuery, MicroBatcher
from reelcast.serving.limits import pixel_problem, redact_paths, video_pixels
from reelcast.serving.schemas import (
    ClassProbability,
    ModelEstimate,
    ModelInfo,
    PredictionResponse,
    ThresholdRange,
)
from reelcast.serving.settings import ServeSettings
from reelcast.serving.uploads import UploadError, probe_media
from reelcast.store.overlay import MemoryOverlayStore
from reelcast.training.loop import torch_threads_for

if TYPE_CHECKING:  # the predictor (and torch) is imported only when a model is actually loaded
    from reelcast.predictor import RevenuePredictor

log = logging.getLogger(__name__)

MEDIA_MODALITIES = ("video", "audio")
# The per-film trailer statuses the API adds to the decoder's own (ok, corrupt, too_large, ...).
REFUSED = "refused"
INVALID = "invalid"
_LOCAL_PATH = re.compile(r"(?:[A-Za-z]:[\\/]|[~/\\]|\.\.?[\\/])")


def jsonable(value: Any) -> Any:
    """Plain JSON values from numpy scalars/arrays and nested containers (NaN and inf become None)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def shown_encoder_id(value: Any) -> str:
    """An encoder id as /model shows it: a local model folder by its name only, a hub id as it is."""
    text = str(value)
    if _LOCAL_PATH.match(text) or os.path.isabs(text):
        return os.path.basename(text.replace("\\", "/").rstrip("/")) or "<local model>"
    return redact_paths(text)  # a path inside an id ("file:/srv/x") keeps only its last component


def _status(status: str, message: str) -> dict[str, Any]:
    return {"status": status, "message": message}


class ModelService:
    """The loaded predictor, the lock that serialises it, and the rules for trailers the API applies."""

    def __init__(self, predictor: RevenuePredictor, settings: ServeSettings):
        self.predictor = predictor
        self.settings = settings
        self.started = time.monotonic()
        self.modalities = list(predictor.spec_.modalities)
        self.media = [m for m in self.modalities if m in MEDIA_MODALITIES]
        self.media_mode = str(predictor.config.media.mode)
        # Scoring is not safe to run twice at once: the featurizer builds its encoders lazily (two
        # threads would each load one), Hugging Face fast tokenizers raise "Already borrowed" when shared
        # across threads, and it mutates the featurizer's counters and the feature store. One lock around
        # the whole call costs little: torch already spreads one forward pass over every core.
        self.lock = threading.Lock()
        # Requests wait for the model here, in the event loop, rather than each holding a worker thread.
        self._queue: asyncio.Lock | None = None
        self._queue_loop: asyncio.AbstractEventLoop | None = None
        # Opening a video allocates a decoder sized by its frames: bound how many run at once.
        self.probe_slots = threading.BoundedSemaphore(settings.max_concurrent_probes)
        fz = predictor.featurizer
        # What requests compute stays in memory (bounded); the run's store is only read.
        base = fz.store.base if isinstance(fz.store, MemoryOverlayStore) else fz.store
        fz.store = MemoryOverlayStore(
            base, settings.feature_cache_entries, int(settings.feature_cache_mb * 2**20)
        )
        self.features = fz.store
        self.fetcher = None
        if self.media and self.media_mode != "simulated":
            from reelcast.serving.fetcher import TrailerFetcher

            cfg = predictor.config
            folder = Path(settings.download_dir or Path(cfg.cache_dir) / "served_trailers")
            self.fetcher = TrailerFetcher(cfg.media, settings, folder)
        if "text" in self.modalities:
            # Load the text encoder now, so a broken model fails at start-up, not on the first request.
            _ = predictor.featurizer.text_encoder
        self.scorer = BatchScorer(predictor)
        if self.media_mode != "trailers":
            # A trailer model would load its frame encoder for a film without one; others are cheap.
            self.scorer.warm_up()
        self.answers = AnswerCache(settings.answer_cache_entries)
        # Requests without a trailer are scored together when they arrive within the batch window.
        self.batcher = (
            MicroBatcher(
                functools.partial(model_thread.run, self.score_batch),
                settings.batch_window_ms / 1000,
                settings.batch_max_size,
                self._model_queue,
            )
            if settings.batch_window_ms > 0
            else None
        )

    def encoder_ids(self) -> dict[str, str]:
        """The model's encoders by modality, local folders shown by name (no server paths)."""
        return {str(k): shown_encoder_id(v) for k, v in (self.predictor.encoder_ids_ or {}).items()}

    def info(self) -> ModelInfo:
        """The /model answer (paths reduced to their last component)."""
        p = self.predictor
        ranges = [
            ThresholdRange(index=r["class"], name=r["name"], min_musd=r["min_musd"], max_musd=r["max_musd"])
            for r in describe_thresholds(p.thresholds_)
        ]
        return ModelInfo(
            reelcast_version=__version__,
            class_names=list(CLASS_NAMES),
            thresholds_musd=[float(t) for t in p.thresholds_],
            classes=ranges,
            metrics=redact_paths(jsonable(p.metrics_ or {})),
            encoder_ids=self.encoder_ids(),
            modalities=self.modalities,
            uses_trailers=bool(self.media),
            uses_metadata=p.tabular_ is not None,
            components=(
                dict(zip(p.ensemble_.blend.components, p.ensemble_.blend.weights, strict=True))
                if p.ensemble_ is not None
                else {"fusion": 1.0}
            ),
            decision=p.ensemble_.blend.decision if p.ensemble_ is not None else "argmax",
            media_mode=self.media_mode,
            temperature=float(p.temperature_),
            max_text_tokens=int(p.config.text.max_length),
            max_description_chars=self.settings.max_description_chars,
            max_upload_mb=self.settings.max_upload_mb,
            allowed_extensions=list(self.settings.allowed_extensions),
            batch_window_ms=self.settings.batch_window_ms,
            batch_max_size=self.settings.batch_max_size,
            answer_cache_entries=self.settings.answer_cache_entries,
        )

    def trailer_reference(self, ref: str | None) -> tuple[str | None, list[str], dict[str, Any] | None]:
        """The trailer to hand on (or None), warnings about what was done with it (never echoing it), and
        the trailer status when it was refused or unusable (None otherwise)."""
        if not ref:
            return None, [], None
        if not self.media:
            why = "this model reads only the description (it has no video or audio modality)"
            return None, [f"{why}; the trailer was not used"], _status(REFUSED, why)
        if self.media_mode == "simulated":
            why = "this model was trained on simulated trailer features, so it cannot read a real trailer"
            return None, [f"{why}; the given trailer was not used"], _status(REFUSED, why)
        unusable = "trailer_url is not usable (give a YouTube link or id, or an http(s) link to a video file)"
        invalid = (
            None,
            [f"{unusable}; the prediction uses the description alone"],
            _status(INVALID, unusable),
        )
        try:
            remote = parse_remote_ref(ref)
        except TrailerRefError:
            return invalid
        if remote is not None:
            return ref, [], None
        if not self.settings.allow_local_trailers:
            why = "trailer_url is a file path; this server does not read its own files"
            note = f"{why}, so the prediction uses the description alone (upload the file instead)"
            return None, [note], _status(REFUSED, why)
        try:
            parsed = parse_trailer_ref(ref)
        except (TrailerRefError, OSError, RuntimeError, ValueError):
            return invalid
        return (ref, [], None) if parsed is not None else (None, [], None)

    def frame_problem(self, path: Path) -> str | None:
        """Why a video is refused for its frame size (headers first, then every decoded frame), or None."""
        with self.probe_slots:
            try:
                why = pixel_problem(video_pixels(path), self.settings)
                if why is None:
                    check_frame_sizes(path, self.settings.max_pixels)
            except MediaError as e:
                return str(e)[len(str(e.path)) + 2 :] if e.status == TOO_LARGE else None
            except Exception:  # noqa: BLE001 - unreadable media is reported by the decoder, per modality
                return None
        return why

    async def fetch(self, trailer: str) -> tuple[str | None, list[str], dict[str, Any] | None, Any]:
        """Download a remote trailer in the fetch pool; (local file or None, notes, failure status, lease)."""
        try:
            ref = parse_remote_ref(trailer)
        except TrailerRefError:
            ref = None
        if ref is None or self.fetcher is None:
            return trailer, [], None, None  # a local file the operator allowed
        res = await self.fetcher.fetch(ref)
        if res.status == "ok" and res.path is not None:
            why = await asyncio.to_thread(self.frame_problem, res.path)
            if why is None:
                return str(res.path), [], None, res
            self.fetcher.release(res)
            status = {"status": "too_large", "message": why, "source": ref.kind}
        else:
            status = {"status": res.status, "message": res.message, "source": ref.kind}
        why = f"{status['status']}: {status['message']}"
        note = f"trailer could not be fetched ({why}); predicted without video and audio"
        return None, [note], status, None

    async def predict_async(
        self,
        description: str,
        title: str,
        trailer: str | None,
        notes: list[str],
        shown_name: str | None = None,
        upload: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        status: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
    ) -> PredictionResponse:
        """`predict` for the API: remote trailers are fetched first, then the request waits for the model.

        `status`: the trailer status to report when the trailer was refused before the model saw it;
        `options`: predict_film's breakeven and explain.
        """
        lease = None
        if trailer is not None and shown_name is None:
            trailer, more, fetched, lease = await self.fetch(trailer)
            notes, status = [*notes, *more], fetched or status
        try:
            if trailer is None:  # the answer depends on the request alone: maybe it was given before
                key = answer_key(description, title, metadata, options)
                kept = self.answers.get(key)
                if kept is not None:
                    return self.response(kept, notes, None, shown_name, upload, status)
            # Films without a trailer and without per-request options (breakeven, reasons) go through the
            # scorer: batched with the requests that overlap them, else alone (a batch of one, the same
            # bits): one pass over a film and its masked copies instead of predict_film's two.
            if trailer is None and not any((options or {}).values()):
                film = FilmQuery(description, title, None, metadata)
                if self.batcher is not None:
                    result = await self.batcher.submit(film)
                else:
                    async with self._model_queue():
                        (result,) = await model_thread.run(self.score_batch, [film])
                    if isinstance(result, Exception):
                        raise result
                self.answers.put(key, result)
                return self.response(result, notes, None, shown_name, upload, status)
            async with self._model_queue():
                return await model_thread.run(
                    self.predict,
                    description,
                    title,
                    trailer,
                    notes,
                    shown_name,
                    upload,
                    metadata,
                    status,
                    options,
                )
        finally:
            if lease is not None and self.fetcher is not None:
                self.fetcher.release(lease)

    def probe(self, path: Path, filename: str) -> dict[str, Any]:
        """`probe_media` and the frame-size check, `max_concurrent_probes` at once (decoders are big)."""
        with self.probe_slots:
            probe = probe_media(path, filename, self.settings.max_pixels)
        why = self.frame_problem(path)
        if why is not None:
            raise UploadError(413, f"{filename}: {why}")
        return probe

    def _model_queue(self) -> asyncio.Lock:
        """The event loop's queue for the model (one per loop: test clients may run several loops)."""
        loop = asyncio.get_running_loop()
        if self._queue is None or self._queue_loop is not loop:
            self._queue, self._queue_loop = asyncio.Lock(), loop
        return self._queue

    def predict(
        self,
        description: str,
        title: str,
        trailer: str | None,
        notes: list[str],
        shown_name: str | None = None,
        upload: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        fetch_status: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
    ) -> PredictionResponse:
        """Run the model on one film (trailer: a local file); a bad trailer never fails the request."""
        # A trailer's frames are worth every core; one film's network passes are not (see quiet_threads).
        with self.lock, self.quiet_threads(1 if trailer is None else None):
            try:
                result = self.predictor.predict_film(
                    description, title=title, trailer=trailer, metadata=metadata, **(options or {})
                )
                if trailer is None:
                    self.answers.put(answer_key(description, title, metadata, options), result)
            except Exception as e:
                if trailer is None:
                    raise
                # The media pipeline should report a bad trailer as a missing modality; if it raises
                # instead, the user still gets the text prediction and is told why the trailer was dropped.
                log.warning("trailer %r failed (%s: %s); predicting without it", trailer, type(e).__name__, e)
                result = self.predictor.predict_film(
                    description, title=title, trailer=None, metadata=metadata, **(options or {})
                )
                name = shown_name or "the trailer"
                notes = [*notes, f"{name} could not be used ({type(e).__name__}); predicted without it"]
        return self.response(result, notes, trailer, shown_name, upload, fetch_status)

    def quiet_threads(self, films: int | None) -> AbstractContextManager:
        """torch's threads while `films` films without a trailer are scored (None: left as they are).

        A request's network passes are microseconds of work per operation; a second thread waits more
        than it helps, and on a busy machine spins a core: a cached plot took 1.4-2.7 s on two threads
        and 0.2-0.3 s on one, with the same answer.
        """
        if films is None:
            return nullcontext()
        return torch_threads_for(films, self.predictor.config.train)

    def score_batch(self, films: list[FilmQuery]) -> list[dict[str, Any] | Exception]:
        """Each film's result (as `predict_film` gives it) or error; films of a failed batch run alone,
        so one film the model refuses fails only its own request."""
        with self.lock:  # the scorer sets torch's threads itself: every core for new plots only
            try:
                return self.scorer.score(films)
            except Exception as e:
                if len(films) == 1:
                    return [e]
            out: list[dict[str, Any] | Exception] = []
            for film in films:
                try:
                    out.append(self.scorer.score([film])[0])
                except Exception as e:  # noqa: BLE001 - handed to that film's request, raised there
                    out.append(e)
            return out

    def response(
        self,
        result: dict[str, Any],
        notes: list[str],
        trailer: str | None,
        shown_name: str | None,
        upload: dict[str, Any] | None,
        fetch_status: dict[str, Any] | None,
    ) -> PredictionResponse:
        """The API answer from a model result, with the server's own notes and trailer status."""
        warnings = [*notes, *result["warnings"]]
        status = jsonable(result["trailer_status"] or {})
        if fetch_status is not None:
            # The model saw no trailer because it was refused or its download failed: say that, not
            # "no_trailer".
            status = jsonable(fetch_status)
        if shown_name and trailer:
            # Report the uploaded file by its own name, not by the server's temporary path.
            warnings = [w.replace(trailer, shown_name) for w in warnings]
            status = jsonable(
                {k: v.replace(trailer, shown_name) if isinstance(v, str) else v for k, v in status.items()}
            )
        if upload is not None:
            status = {**status, "upload": jsonable(upload)}
        probs = result["probabilities"]
        return PredictionResponse(
            title=result["title"],
            predicted_class=int(result["predicted_class"]),
            class_name=result["class_name"],
            confidence=float(result["confidence"]),
            probabilities=[
                ClassProbability(index=i, name=n, probability=float(probs[n]))
                for i, n in enumerate(CLASS_NAMES)
            ],
            contributions={m: float(c) for m, c in result["contributions"].items()},
            modalities_used={m: bool(u) for m, u in result["modalities_used"].items()},
            uses_trailers=bool(self.media),
            warnings=redact_paths(warnings),
            trailer_status=redact_paths(status),
            revenue=result.get("revenue"),
            reasons=result.get("reasons"),
            unknown_inputs=list(result.get("unknown_inputs") or []),
            expected_accuracy_without_them=result.get("expected_accuracy_without_them"),
            model_estimates=model_estimates(result.get("model_estimates")),
        )

    def close(self) -> None:
        """Stop the download pool."""
        if self.fetcher is not None:
            self.fetcher.close()


def model_estimates(estimates: dict[str, float] | None) -> list[ModelEstimate] | None:
    """The aux outputs of a film's answer, each labelled as the model's estimate."""
    if not estimates:
        return None
    out = []
    for target, value in estimates.items():
        label, text = aux_estimate_text(target, value)
        out.append(ModelEstimate(target=target, label=label, value=float(value), text=text))
    return out

"""The HTTP API and web page: `create_app(run_dir)` serves one trained model.

GET  /                 the web page (static/index.html)
GET  /health           liveness, model loaded, uptime
GET  /model            class names and revenue ranges, metrics, encoders, modalities, limits, arms
POST /predict          JSON {description, title?, trailer_url?, film_id?, metadata?}
POST /predict/upload   multipart: description, title, file (a trailer video)
GET  /docs             OpenAPI documentation

Several models (A/B arms, shadow mode) and the prediction log live in serving/arms.py.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import threading
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from starlette.concurrency import run_in_threadpool

from reelcast import __version__
from reelcast.data.classes import CLASS_NAMES, describe_thresholds
from reelcast.files import sha256_file, sha256_text
from reelcast.serving.arms import ABSettings, FilmRequest, build_arms
from reelcast.serving.limits import (
    LimitsMiddleware,
    clean_validation_errors,
    has_lone_surrogate,
    pixel_problem,
    redact_paths,
    video_pixels,
)
from reelcast.serving.metadata import FilmMetadata
from reelcast.serving.settings import ServeSettings
from reelcast.serving.uploads import FILE_FIELD, UploadError, probe_media, receive_upload
from reelcast.store.overlay import MemoryOverlayStore

if TYPE_CHECKING:  # the predictor (and torch) is imported only when a model is actually loaded
    from reelcast.predictor import RevenuePredictor

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
MEDIA_MODALITIES = ("video", "audio")

# Limits baked into the request schema (and so into /docs); ServeSettings can only lower them.
DESCRIPTION_MAX = ServeSettings.max_description_chars
TITLE_MAX = ServeSettings.max_title_chars
URL_MAX = ServeSettings.max_trailer_url_chars


# ---- request and response schemas ---------------------------------------------------------------------
class PredictRequest(BaseModel):
    """One film to predict."""

    model_config = ConfigDict(extra="forbid")

    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=DESCRIPTION_MAX)
    ]
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=TITLE_MAX)] = ""
    trailer_url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=URL_MAX)] | None = Field(
        default=None, description="YouTube URL or id, or an http(s) link to a video file."
    )
    film_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=TITLE_MAX)] = Field(
        default="", description="Your id of the film: it picks the A/B arm and joins later revenues."
    )
    metadata: FilmMetadata | None = Field(
        default=None, description="Budget, release date, genres, people, ...: what the trees read."
    )

    @field_validator("description", "title", "trailer_url")
    @classmethod
    def _valid_unicode(cls, value: str | None) -> str | None:
        # json.loads turns a "\ud800" escape into a lone surrogate, which no encoder or tokenizer can take.
        if value is not None and has_lone_surrogate(value):
            raise ValueError("contains a lone surrogate (\\ud800-\\udfff): not valid Unicode text")
        return value


class ClassProbability(BaseModel):
    """One class and its predicted probability."""

    index: int
    name: str
    probability: float


class PredictionResponse(BaseModel):
    """A prediction for one film."""

    title: str
    predicted_class: int = Field(description="0 (Disaster) .. 7 (Blockbuster)")
    class_name: str
    confidence: float = Field(description="Probability of the predicted class")
    probabilities: list[ClassProbability] = Field(description="All eight classes, in class order")
    contributions: dict[str, float] = Field(
        description="Per modality: the drop in the predicted class's probability when it is masked"
    )
    modalities_used: dict[str, bool]
    uses_trailers: bool = Field(description="Whether this model reads trailer pictures and sound at all")
    warnings: list[str]
    trailer_status: dict[str, Any]
    arm: str = Field(default="", description="The model (A/B arm) that answered")
    model_id: str = Field(default="", description="sha256 prefix of the answering model's checkpoint")


class ThresholdRange(BaseModel):
    """The revenue range (millions of dollars) of one class."""

    index: int
    name: str
    min_musd: float
    max_musd: float | None


class ModelInfo(BaseModel):
    """What the loaded model is and what the server accepts."""

    reelcast_version: str
    class_names: list[str]
    thresholds_musd: list[float]
    classes: list[ThresholdRange]
    metrics: dict[str, Any]
    encoder_ids: dict[str, str]
    modalities: list[str]
    uses_trailers: bool
    uses_metadata: bool = Field(description="Whether budget, dates, genres, ... reach the model")
    components: dict[str, float] = Field(description="Blend weight of each component (fusion, trees)")
    decision: str = Field(description="How the class is chosen from the probabilities")
    media_mode: str
    temperature: float
    max_text_tokens: int
    max_description_chars: int
    max_upload_mb: float
    allowed_extensions: list[str]
    arms: list[dict[str, Any]] = Field(default_factory=list, description="Every model behind the server")


class Health(BaseModel):
    """Liveness."""

    status: str
    model_loaded: bool
    uptime_seconds: float
    prediction_log: dict[str, Any] | None = Field(
        default=None, description="Log counters: written, dropped (queue full), failed, queued"
    )
    shadow: dict[str, Any] | None = None


# ---- the model behind the API ------------------------------------------------------------------------
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


# Forms of trailer_url that name something remote; anything else is a path on the server.
_URL_START = re.compile(r"(?i)https?://")
_YOUTUBE_BARE = re.compile(r"(?i)(www\.|m\.)?(youtube\.com|youtu\.be|youtube-nocookie\.com)/")
_SCHEME = re.compile(r"(?i)[a-z][a-z0-9+.-]+:")


def remote_trailer(text: str):
    """The TrailerRef of a YouTube id/link or http(s) URL, read without touching the filesystem.

    None when the text is a file path. TrailerRefError when it is neither (an unknown scheme, a YouTube
    link without an id, free text). Unlike `parse_trailer_ref`, never expands `~user` or stats a path,
    so a client cannot probe the server's users or files, and a 5,000-character path cannot raise.
    """
    from reelcast.media.refs import MEDIA_SUFFIXES, YOUTUBE_ID, TrailerRef, TrailerRefError, parse_trailer_ref

    if _URL_START.match(text) or _YOUTUBE_BARE.match(text):
        return parse_trailer_ref(text)  # these forms never reach the filesystem branch
    if YOUTUBE_ID.fullmatch(text):
        return TrailerRef("youtube", text)
    if _SCHEME.match(text) and not re.match(r"[A-Za-z]:[\\/]", text):
        raise TrailerRefError("unsupported URL scheme")
    suffix = Path(text.replace("\\", "/").rsplit("/", 1)[-1]).suffix.lower() if len(text) < 4096 else ""
    if suffix in MEDIA_SUFFIXES or "/" in text or "\\" in text or text.startswith("~"):
        return None
    raise TrailerRefError("not recognised")


class ModelService:
    """The loaded predictor, the lock that serialises it, and the rules for trailers the API applies."""

    def __init__(self, predictor: RevenuePredictor, settings: ServeSettings):
        self.predictor = predictor
        self.settings = settings
        self.started = time.monotonic()
        self.modalities = list(predictor.spec_.modalities)
        self.media = [m for m in self.modalities if m in MEDIA_MODALITIES]
        self.media_mode = str(predictor.config.media.mode)
        # predict_film is not safe to run twice at once: the featurizer builds its encoders lazily (two
        # threads would each load one), Hugging Face fast tokenizers raise "Already borrowed" when shared
        # across threads, and it mutates the featurizer's counters and the feature store. One lock around
        # the whole call costs little: torch already spreads one forward pass over every core.
        self.lock = threading.Lock()
        # Requests wait for the model here, in the event loop, rather than each holding a worker thread.
        self._queue: asyncio.Lock | None = None
        self._queue_loop: asyncio.AbstractEventLoop | None = None
        # Opening an upload allocates a decoder sized by its frames: bound how many run at once.
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
            encoder_ids={str(k): redact_paths(str(v)) for k, v in (p.encoder_ids_ or {}).items()},
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
        )

    def trailer_reference(self, ref: str | None) -> tuple[str | None, list[str]]:
        """The trailer to hand on (or None) and warnings about what was done with it (never echoing it)."""
        if not ref:
            return None, []
        if not self.media:
            return None, [
                "this model reads only the description (it has no video or audio modality); "
                "the trailer was not used"
            ]
        if self.media_mode == "simulated":
            return None, [
                "this model was trained on simulated trailer features, so it cannot read a real "
                "trailer; the given trailer was not used"
            ]
        from reelcast.media.refs import TrailerRefError, parse_trailer_ref

        unusable = (
            "trailer_url is not usable (give a YouTube link or id, or an http(s) link to a video file); "
            "the prediction uses the description alone"
        )
        try:
            remote = remote_trailer(ref)
        except TrailerRefError:
            return None, [unusable]
        if remote is not None:
            return ref, []
        if not self.settings.allow_local_trailers:
            return None, [
                "trailer_url is a file path; this server does not read its own files, so the "
                "prediction uses the description alone (upload the file instead)"
            ]
        try:
            parsed = parse_trailer_ref(ref)
        except (TrailerRefError, OSError, RuntimeError, ValueError):
            return None, [unusable]
        return (ref, []) if parsed is not None else (None, [])

    async def fetch(self, trailer: str) -> tuple[str | None, list[str], dict[str, Any] | None, Any]:
        """Download a remote trailer in the fetch pool; (local file or None, notes, failure status, lease)."""
        from reelcast.media.refs import TrailerRefError

        try:
            ref = remote_trailer(trailer)
        except TrailerRefError:
            ref = None
        if ref is None or self.fetcher is None:
            return trailer, [], None, None  # a local file the operator allowed
        res = await self.fetcher.fetch(ref)
        if res.status == "ok" and res.path is not None:
            try:
                size = await asyncio.to_thread(video_pixels, res.path)
                why = pixel_problem(size, self.settings)
            except Exception:  # noqa: BLE001 - unreadable media is reported by the decoder, per modality
                why = None
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
    ) -> PredictionResponse:
        """`predict` for the API: remote trailers are fetched first, then the request waits for the model."""
        fetch_status, lease = None, None
        if trailer is not None and shown_name is None:
            trailer, more, fetch_status, lease = await self.fetch(trailer)
            notes = [*notes, *more]
        try:
            async with self._model_queue():
                return await asyncio.to_thread(
                    self.predict,
                    description,
                    title,
                    trailer,
                    notes,
                    shown_name,
                    upload,
                    metadata,
                    fetch_status,
                )
        finally:
            if lease is not None and self.fetcher is not None:
                self.fetcher.release(lease)

    def probe(self, path: Path, filename: str) -> dict[str, Any]:
        """`probe_media` under the pixel limit, at most `max_concurrent_probes` at once (decoders are big)."""
        with self.probe_slots:
            return probe_media(path, filename, self.settings.max_pixels)

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
    ) -> PredictionResponse:
        """Run the model on one film (trailer: a local file); a bad trailer never fails the request."""
        with self.lock:
            try:
                result = self.predictor.predict_film(
                    description, title=title, trailer=trailer, metadata=metadata
                )
            except Exception as e:
                if trailer is None:
                    raise
                # The media pipeline should report a bad trailer as a missing modality; if it raises
                # instead, the user still gets the text prediction and is told why the trailer was dropped.
                log.warning("trailer %r failed (%s: %s); predicting without it", trailer, type(e).__name__, e)
                result = self.predictor.predict_film(
                    description, title=title, trailer=None, metadata=metadata
                )
                name = shown_name or "the trailer"
                notes = [*notes, f"{name} could not be used ({type(e).__name__}); predicted without it"]
        warnings = [*notes, *result["warnings"]]
        status = jsonable(result["trailer_status"] or {})
        if fetch_status is not None:
            # The model saw no trailer because the download failed: say that, not "no_trailer".
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
        )

    def close(self) -> None:
        """Stop the download pool."""
        if self.fetcher is not None:
            self.fetcher.close()


# ---- the app -------------------------------------------------------------------------------------------
def _upload_metadata(raw: str | None) -> dict[str, Any] | None:
    """The multipart `metadata` field: a JSON object validated like the JSON body's."""
    if raw is None or not raw.strip():
        return None
    try:
        return FilmMetadata.model_validate_json(raw).fields()
    except ValueError as e:  # pydantic's ValidationError is a ValueError; the input is never echoed
        first = e.errors()[0] if hasattr(e, "errors") else {"loc": (), "msg": "not a JSON object"}
        where = ".".join(str(x) for x in first.get("loc", ())) or "metadata"
        raise _field_error(f"metadata.{where}" if where != "metadata" else where, first["msg"]) from None


def _field_error(field: str, message: str, value: Any = None) -> RequestValidationError:
    """A 422 shaped like FastAPI's own validation errors, naming the form field."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", field), "msg": message, "input": value}]
    )


def _check_text(name: str, value: str | None, limit: int, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise _field_error(name, f"{name} is required and must not be empty", value)
    if len(value) > limit:
        raise _field_error(name, f"{name} is longer than {limit} characters", f"<{len(value)} characters>")
    return value


_UPLOAD_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["description", FILE_FIELD],
                    "properties": {
                        "description": {"type": "string", "description": "The plot description"},
                        "title": {"type": "string"},
                        "film_id": {"type": "string", "description": "Your id of the film (A/B arm, log)"},
                        FILE_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "The trailer video",
                        },
                    },
                }
            }
        },
    }
}


def create_app(
    run_dir: str | Path | None = None,
    predictor: RevenuePredictor | None = None,
    settings: ServeSettings | None = None,
    ab: ABSettings | None = None,
) -> FastAPI:
    """A FastAPI app serving one model, loaded once here from `run_dir` (or given as `predictor`).

    `ab` serves several models instead (A/B arms, shadow mode) and/or logs every prediction.
    """
    settings = settings or ServeSettings()
    if settings.temp_dir is not None:
        Path(settings.temp_dir).mkdir(parents=True, exist_ok=True)
    arms = build_arms(ab, lambda p: ModelService(p, settings), settings.device, run_dir, predictor)
    service = arms.primary.service

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        await arms.aclose()  # started shadow runs finish and the prediction log is committed
        for arm in arms.arms.values():
            arm.service.close()

    app = FastAPI(
        title="reelcast",
        version=__version__,
        description="Predict a film's box-office revenue class (Disaster .. Blockbuster) from its plot "
        "description and, for models trained with trailers, its trailer.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.settings = settings
    # Outermost last: CORS answers preflights itself; the limits run before any route reads a body.
    app.add_middleware(LimitsMiddleware, settings=settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "Authorization"],
        )
    app.state.arms = arms

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, exc: UploadError) -> JSONResponse:
        return JSONResponse({"detail": redact_paths(exc.detail)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler repeats each bad value: a 50 MB description would come back whole, and a
        # NaN or a lone surrogate in it cannot even be written as JSON (a 500). Name the field and the rule.
        return JSONResponse({"detail": clean_validation_errors(list(exc.errors()))}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # Still a 500 in JSON the page can show, but the details (paths, input) go to the log only.
        ref = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s on %s %s", ref, request.method, request.url.path)
        return JSONResponse(
            {"detail": f"internal error (reference {ref} in the server log)"}, status_code=500
        )

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/health", response_model=Health, tags=["service"])
    async def health() -> Health:
        """Whether the server is up and the model is loaded."""
        return Health(
            status="ok",
            model_loaded=service.predictor.model_ is not None,
            uptime_seconds=round(time.monotonic() - service.started, 3),
            **arms.health(),
        )

    @app.get("/model", response_model=ModelInfo, tags=["service"])
    async def model_info() -> ModelInfo:
        """The loaded model: classes and their revenue ranges, stored metrics, encoders, limits."""
        return service.info().model_copy(update={"arms": arms.describe()})

    @app.post("/predict", response_model=PredictionResponse, tags=["predict"])
    async def predict(req: PredictRequest) -> PredictionResponse:
        """Predict from a description and, optionally, a trailer link (YouTube URL/id or video URL)."""
        # Async: the download runs in the fetch pool and the model in a worker thread, so neither a slow
        # trailer nor a queue for the model ever blocks the event loop (or /health); shadow arms run as
        # tasks on the loop after the answer is sent.
        if len(req.description) > settings.max_description_chars:
            raise _field_error(
                "description",
                f"description is longer than {settings.max_description_chars} characters",
                f"<{len(req.description)} characters>",
            )
        metadata = req.metadata.fields() if req.metadata else None

        async def run(svc: ModelService) -> PredictionResponse:
            trailer, notes = svc.trailer_reference(req.trailer_url)
            return await svc.predict_async(req.description, req.title, trailer, notes, metadata=metadata)

        ref_hash = sha256_text(req.trailer_url) if req.trailer_url else None
        film = FilmRequest(req.description, req.title, req.film_id, req.trailer_url, ref_hash, metadata)
        return await arms.predict(film, run)

    @app.post(
        "/predict/upload",
        response_model=PredictionResponse,
        tags=["predict"],
        openapi_extra=_UPLOAD_OPENAPI,
        responses={
            413: {"description": "The file is over the upload limit"},
            415: {"description": "The file is not a video the server can read"},
        },
    )
    async def predict_upload(request: Request) -> PredictionResponse:
        """Predict from a description and an uploaded trailer file (multipart/form-data)."""
        upload = await receive_upload(request, settings)
        try:
            description = _check_text(
                "description", upload.fields.get("description"), settings.max_description_chars, required=True
            )
            title = _check_text("title", upload.fields.get("title"), settings.max_title_chars, required=False)
            film_id = _check_text("film_id", upload.fields.get("film_id"), settings.max_title_chars, False)
            meta = _upload_metadata(upload.fields.get("metadata"))
            if upload.path is None:
                raise _field_error(FILE_FIELD, "file is required: the trailer video to upload")
            probe = await run_in_threadpool(service.probe, upload.path, upload.filename)
            probe = {"filename": upload.filename, "size_bytes": upload.size, **probe}

            async def run(svc: ModelService) -> PredictionResponse:
                if svc.media and svc.media_mode != "simulated":
                    trailer, notes = str(upload.path), []
                else:
                    _, notes = svc.trailer_reference(upload.filename)
                    trailer = None
                return await svc.predict_async(
                    description, title, trailer, notes, upload.filename, probe, metadata=meta
                )

            digest = await run_in_threadpool(sha256_file, upload.path)
            film = FilmRequest(description, title, film_id, upload.filename, digest, meta)
            # Shadow arms run before the file is removed, so an upload waits for them.
            return await arms.predict(film, run, shadow_inline=True)
        finally:
            upload.remove()

    return app

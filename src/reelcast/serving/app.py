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

import logging
import math
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from reelcast import __version__
from reelcast.io import sha256_file, sha256_text
from reelcast.labels import CLASS_NAMES, describe_thresholds
from reelcast.serving.arms import ABSettings, FilmRequest, build_arms
from reelcast.serving.metadata import FilmMetadata
from reelcast.serving.settings import ServeSettings
from reelcast.serving.uploads import FILE_FIELD, UploadError, probe_media, receive_upload

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
        if "text" in self.modalities:
            # Load the text encoder now, so a broken model fails at start-up, not on the first request.
            _ = predictor.featurizer.text_encoder

    def info(self) -> ModelInfo:
        """The /model answer."""
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
            metrics=jsonable(p.metrics_ or {}),
            encoder_ids={str(k): str(v) for k, v in (p.encoder_ids_ or {}).items()},
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
        """The trailer to hand to the predictor (or None) and warnings about what was done with it."""
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

        shown = ref if len(ref) <= 80 else ref[:77] + "..."
        try:
            parsed = parse_trailer_ref(ref)
        except TrailerRefError as e:
            return None, [f"trailer_url is not usable ({e}); the prediction uses the description alone"]
        if parsed is None:
            return None, []
        if parsed.kind == "file" and not self.settings.allow_local_trailers:
            return None, [
                f"trailer_url {shown!r} is a file path; this server does not read its own files, so the "
                "prediction uses the description alone (upload the file instead)"
            ]
        return ref, []

    def prefetch(self, trailer: str, notes: list[str]) -> tuple[str | None, list[str]]:
        """Download a remote trailer before taking the model lock, so a slow fetch blocks no one else.

        Returns the local file to predict from (or None when the fetch failed, with a note saying why).
        """
        from reelcast.media.download import download_dir_for, fetch_trailer
        from reelcast.media.refs import TrailerRefError, parse_trailer_ref

        try:
            ref = parse_trailer_ref(trailer)
        except TrailerRefError:
            return trailer, notes  # the predictor reports it as an invalid trailer
        if ref is None or ref.kind == "file":
            return trailer, notes
        cfg = self.predictor.config
        result = fetch_trailer(ref, cfg.media, download_dir_for(cfg))
        if result.status != "ok" or result.path is None:
            why = f"{result.status}: {result.message}" if result.message else result.status
            return None, [*notes, f"trailer could not be fetched ({why}); predicted without video and audio"]
        return str(result.path), notes

    def predict(
        self,
        description: str,
        title: str,
        trailer: str | None,
        notes: list[str],
        shown_name: str | None = None,
        upload: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> PredictionResponse:
        """Run the model on one film; a trailer that fails for any reason never fails the request."""
        if trailer is not None:
            trailer, notes = self.prefetch(trailer, notes)
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
                name = shown_name or trailer
                notes = [
                    *notes,
                    f"trailer {name!r} could not be used ({type(e).__name__}: {e}); predicted without it",
                ]
        warnings = [*notes, *result["warnings"]]
        status = jsonable(result["trailer_status"] or {})
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
            warnings=warnings,
            trailer_status=status,
        )


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

    app = FastAPI(
        title="reelcast",
        version=__version__,
        description="Predict a film's box-office revenue class (Disaster .. Blockbuster) from its plot "
        "description and, for models trained with trailers, its trailer.",
    )
    app.state.service = service
    app.state.settings = settings
    app.state.arms = arms
    app.router.on_shutdown.append(arms.aclose)

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, exc: UploadError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # Still a 500, but JSON with a message the web page can show instead of a bare text page.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> Health:
        """Whether the server is up and the model is loaded."""
        return Health(
            status="ok",
            model_loaded=service.predictor.model_ is not None,
            uptime_seconds=round(time.monotonic() - service.started, 3),
            **arms.health(),
        )

    @app.get("/model", response_model=ModelInfo, tags=["service"])
    def model_info() -> ModelInfo:
        """The loaded model: classes and their revenue ranges, stored metrics, encoders, limits."""
        return service.info().model_copy(update={"arms": arms.describe()})

    @app.post("/predict", response_model=PredictionResponse, tags=["predict"])
    async def predict(req: PredictRequest) -> PredictionResponse:
        """Predict from a description and, optionally, a trailer link (YouTube URL/id or video URL)."""
        # Async, with the model in the threadpool: a prediction never blocks the event loop, and shadow
        # arms run as tasks on it after the answer is sent.
        if len(req.description) > settings.max_description_chars:
            raise _field_error(
                "description",
                f"description is longer than {settings.max_description_chars} characters",
                f"<{len(req.description)} characters>",
            )
        metadata = req.metadata.fields() if req.metadata else None

        async def run(svc: ModelService) -> PredictionResponse:
            trailer, notes = svc.trailer_reference(req.trailer_url)
            return await run_in_threadpool(
                svc.predict, req.description, req.title, trailer, notes, metadata=metadata
            )

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
            probe = await run_in_threadpool(probe_media, upload.path, upload.filename)
            probe = {"filename": upload.filename, "size_bytes": upload.size, **probe}

            async def run(svc: ModelService) -> PredictionResponse:
                if svc.media and svc.media_mode != "simulated":
                    trailer, notes = str(upload.path), []
                else:
                    _, notes = svc.trailer_reference(upload.filename)
                    trailer = None
                return await run_in_threadpool(
                    svc.predict, description, title, trailer, notes, upload.filename, probe, meta
                )

            digest = await run_in_threadpool(sha256_file, upload.path)
            film = FilmRequest(description, title, film_id, upload.filename, digest, meta)
            # Shadow arms run before the file is removed, so an upload waits for them.
            return await arms.predict(film, run, shadow_inline=True)
        finally:
            upload.remove()

    return app

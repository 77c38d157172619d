"""POST /predict (JSON) and POST /predict/upload (multipart, with the trailer file)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from reelcast.files import sha256_file, sha256_text
from reelcast.models.intervals import parse_breakeven
from reelcast.serving.arms import FilmRequest
from reelcast.serving.deps import Arms, Service, Settings, check_text, field_error
from reelcast.serving.metadata import FilmMetadata, check_json_numbers
from reelcast.serving.schemas import PredictionResponse, PredictRequest
from reelcast.serving.service import ModelService
from reelcast.serving.uploads import FILE_FIELD, receive_upload

router = APIRouter(tags=["predict"])

UPLOAD_OPENAPI = {
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
                        "metadata": {"type": "string", "description": "A JSON object: budget_musd, ..."},
                        "breakeven": {
                            "type": "string",
                            "description": "Revenue to reach: '2.5x' (times metadata.budget_musd) or $M",
                        },
                        "explain": {
                            "type": "boolean",
                            "description": "true: add `reasons`, what moved this film's prediction",
                        },
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


def upload_metadata(raw: str | None) -> dict[str, Any] | None:
    """The multipart `metadata` field: a JSON object validated like the JSON body's."""
    if raw is None or not raw.strip():
        return None
    try:
        return FilmMetadata.model_validate(check_json_numbers(json.loads(raw))).fields()
    except json.JSONDecodeError:
        raise field_error("metadata", "metadata is not valid JSON") from None
    except ValueError as e:  # pydantic's ValidationError is a ValueError; the input is never echoed
        errors = e.errors() if hasattr(e, "errors") else [{"loc": (), "msg": str(e)}]
        first = errors[0] if errors else {"loc": (), "msg": "not a JSON object"}
        where = ".".join(str(x) for x in first.get("loc", ())) or "metadata"
        raise field_error(f"metadata.{where}" if where != "metadata" else where, first["msg"]) from None


TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def upload_options(fields: dict[str, str], metadata: dict[str, Any] | None) -> dict[str, Any]:
    """The multipart `breakeven` and `explain` fields, checked like the JSON body's."""
    explain = (fields.get("explain") or "").strip().lower()
    if explain not in TRUE + FALSE:
        raise field_error("explain", "explain must be true or false")
    breakeven = (fields.get("breakeven") or "").strip() or None
    try:
        parse_breakeven(breakeven, (metadata or {}).get("budget_musd"))
    except ValueError as e:
        raise field_error("breakeven", str(e)) from None
    return {"breakeven": breakeven, "explain": explain in TRUE}


@router.post("/predict", response_model=PredictionResponse)
async def predict(req: PredictRequest, settings: Settings, arms: Arms) -> PredictionResponse:
    """Predict from a description and, optionally, a trailer link (YouTube URL/id or video URL)."""
    # Async: the download runs in the fetch pool and the model in a worker thread, so neither a slow
    # trailer nor a queue for the model ever blocks the event loop (or /health); shadow arms run as
    # tasks on the loop after the answer is sent.
    if len(req.description) > settings.max_description_chars:
        raise field_error(
            "description",
            f"description is longer than {settings.max_description_chars} characters",
            f"<{len(req.description)} characters>",
        )
    metadata = req.metadata.fields() if req.metadata else None
    options = {"breakeven": req.breakeven, "explain": req.explain}

    async def run(svc: ModelService) -> PredictionResponse:
        trailer, notes, status = svc.trailer_reference(req.trailer_url)
        return await svc.predict_async(
            req.description, req.title, trailer, notes, metadata=metadata, status=status, options=options
        )

    ref_hash = sha256_text(req.trailer_url) if req.trailer_url else None
    film = FilmRequest(req.description, req.title, req.film_id, req.trailer_url, ref_hash, metadata)
    return await arms.predict(film, run)


@router.post(
    "/predict/upload",
    response_model=PredictionResponse,
    openapi_extra=UPLOAD_OPENAPI,
    responses={
        413: {"description": "The file is over the upload limit"},
        415: {"description": "The file is not a video the server can read"},
    },
)
async def predict_upload(
    request: Request, service: Service, settings: Settings, arms: Arms
) -> PredictionResponse:
    """Predict from a description and an uploaded trailer file (multipart/form-data)."""
    upload = await receive_upload(request, settings)
    try:
        description = check_text(
            "description", upload.fields.get("description"), settings.max_description_chars, required=True
        )
        title = check_text("title", upload.fields.get("title"), settings.max_title_chars, required=False)
        film_id = check_text("film_id", upload.fields.get("film_id"), settings.max_title_chars, False)
        meta = upload_metadata(upload.fields.get("metadata"))
        options = upload_options(upload.fields, meta)
        if upload.path is None:
            raise field_error(FILE_FIELD, "file is required: the trailer video to upload")
        probe = await run_in_threadpool(service.probe, upload.path, upload.filename)
        probe = {"filename": upload.filename, "size_bytes": upload.size, **probe}

        async def run(svc: ModelService) -> PredictionResponse:
            if svc.media and svc.media_mode != "simulated":
                trailer, notes, status = str(upload.path), [], None
            else:
                _, notes, status = svc.trailer_reference(upload.filename)
                trailer = None
            return await svc.predict_async(
                description,
                title,
                trailer,
                notes,
                upload.filename,
                probe,
                metadata=meta,
                status=status,
                options=options,
            )

        digest = await run_in_threadpool(sha256_file, upload.path)
        film = FilmRequest(description, title, film_id, upload.filename, digest, meta)
        # Shadow arms run before the file is removed, so an upload waits for them.
        return await arms.predict(film, run, shadow_inline=True)
    finally:
        upload.remove()

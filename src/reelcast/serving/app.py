"""The HTTP API and web page: `create_app(run_dir)` serves one trained model.

GET  /                 the web page (static/index.html)
GET  /health           liveness, model loaded, uptime
GET  /model            class names and revenue ranges, metrics, encoders, modalities, limits, arms
POST /predict          JSON {description, title?, trailer_url?, film_id?, metadata?}
POST /predict/upload   multipart: description, title, file (a trailer video)
POST /whatif           a /predict body and `vary`: the film predicted at every value of one or two inputs
GET  /docs             OpenAPI documentation

The routes live in serving/routes, their schemas in schemas.py, the model behind them in service.py;
several models (A/B arms, shadow mode) and the prediction log in arms.py; uvicorn's options in server.py.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from reelcast import __version__
from reelcast.serving import model_thread
from reelcast.serving.arms import ABSettings, build_arms
from reelcast.serving.limits import LimitsMiddleware, clean_validation_errors, redact_paths
from reelcast.serving.routes import pages, predict, service, whatif
from reelcast.serving.schemas import PredictionResponse
from reelcast.serving.service import ModelService
from reelcast.serving.settings import ServeSettings
from reelcast.serving.uploads import UploadError

if TYPE_CHECKING:  # the predictor (and torch) is imported only when a model is actually loaded
    from reelcast.predictor import RevenuePredictor

# Importable from here as before (benchmarks/serve.py, callers of the app module).
__all__ = ["ModelService", "PredictionResponse", "create_app"]

log = logging.getLogger(__name__)


def _exception_handlers(app: FastAPI) -> None:
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


def create_app(
    run_dir: str | Path | None = None,
    predictor: RevenuePredictor | None = None,
    settings: ServeSettings | None = None,
    ab: ABSettings | None = None,
) -> FastAPI:
    """A FastAPI app serving one model, loaded once here from `run_dir` (or given as `predictor`).

    `ab` serves several models instead (A/B arms, shadow mode) and/or logs every prediction. Where
    speed matters give `run_dir`: the model is then loaded on the model thread. A predictor fitted or
    loaded on another thread answers the same, but if that thread ran torch on several threads, every
    team of torch threads now sleeps between operations (serving.model_thread).
    """
    settings = settings or ServeSettings()
    if settings.temp_dir is not None:
        Path(settings.temp_dir).mkdir(parents=True, exist_ok=True)
    # Loaded and warmed up where they will run (model_thread: torch's threads stay fast there).
    arms = model_thread.call(
        build_arms, ab, lambda p: ModelService(p, settings), settings.device, run_dir, predictor
    )

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
    app.state.service = arms.primary.service
    app.state.settings = settings
    app.state.arms = arms
    # Outermost last: CORS answers preflights itself; the limits run before any route reads a body.
    app.add_middleware(LimitsMiddleware, settings=settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "Authorization"],
        )
    _exception_handlers(app)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    app.include_router(service.router)
    app.include_router(predict.router)
    app.include_router(whatif.router)
    return app

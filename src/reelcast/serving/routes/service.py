"""GET /health and GET /model: whether the server is up, and what it serves."""

from __future__ import annotations

import time

from fastapi import APIRouter

from reelcast.serving.deps import Arms, Service
from reelcast.serving.model_card import metadata_fields, revenue_range_info, run_evaluation
from reelcast.serving.schemas import Health, ModelInfo

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health)
async def health(service: Service, arms: Arms) -> Health:
    """Whether the server is up and the model is loaded."""
    return Health(
        status="ok",
        model_loaded=service.predictor.model_ is not None,
        uptime_seconds=round(time.monotonic() - service.started, 3),
        **arms.health(),
    )


@router.get("/model", response_model=ModelInfo)
async def model_info(service: Service, arms: Arms) -> ModelInfo:
    """The loaded model: classes and their revenue ranges, stored metrics, encoders, limits, what it reads
    and what its training run measured."""
    p = service.predictor
    columns = list(p.tabular_.columns) if p.tabular_ is not None else []
    evaluation, note = run_evaluation(arms.primary.path, float(p.config.eval.confidence))
    return service.info().model_copy(
        update={
            "arms": arms.describe(),
            "metadata_fields": metadata_fields(columns),
            "feature_groups": columns,
            "evaluation": evaluation,
            "evaluation_note": note,
            "revenue_intervals": revenue_range_info(p.intervals_),
        }
    )

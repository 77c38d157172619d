"""POST /whatif: one film predicted again with one or two of its inputs varied (the page's chart)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from reelcast.evaluation import whatif as w
from reelcast.serving import model_thread
from reelcast.serving.deps import Service, Settings, field_error
from reelcast.serving.limits import redact_paths
from reelcast.serving.model_card import metadata_fields
from reelcast.serving.schemas import VarySpec, WhatIfRequest, WhatIfResponse
from reelcast.serving.service import ModelService, jsonable

router = APIRouter(tags=["predict"])


def to_vary(spec: VarySpec, film: w.Film, index: int) -> w.Vary:
    """A request's vary item as the sweep's values (422 naming the item when it cannot be)."""
    where = f"vary.{index}"
    name = spec.field
    try:
        if name in w.NUMERIC:
            if not isinstance(spec.from_, int | float) or not isinstance(spec.to, int | float):
                raise ValueError(f"give `from` and `to` as numbers to vary {name}")
            return w.Vary(name, w.numeric_range(float(spec.from_), float(spec.to), steps=spec.steps))
        if name == "release_date":
            if spec.from_ is None and spec.to is None:
                return w.Vary(name, w.year_of_months(film))
            if not isinstance(spec.from_, str) or not isinstance(spec.to, str):
                raise ValueError("give `from` and `to` as months YYYY-MM to vary release_date")
            day = int(str(film.metadata.get("release_date", "0000-00-01"))[8:10])
            return w.Vary(name, w.month_range(spec.from_, spec.to, day))
        if name == w.TRAILER:
            return w.Vary(name, tuple(spec.values or w.TRAILER_VALUES))
        if name in w.CATEGORICAL:
            if not spec.values:
                raise ValueError(f"give `values`: the alternatives to try for {name}")
            as_list = name in w.LIST_FIELDS
            values = [([v] if isinstance(v, str) else v) if as_list else v for v in spec.values]
            if not as_list and any(isinstance(v, list) for v in values):
                raise ValueError(f"the values of {name} are single names, not lists")
            return w.Vary(name, tuple(values))
    except ValueError as e:
        raise field_error(where, str(e)) from None
    raise field_error(
        f"{where}.field", f"cannot vary {name!r}; the fields a sweep can vary are {', '.join(w.VARIABLE)}"
    )


def reads(service: ModelService) -> list[str]:
    """The inputs of the served model a sweep can move."""
    p = service.predictor
    columns = list(p.tabular_.columns) if p.tabular_ is not None else []
    return w.readable_fields(p, metadata_fields(columns))


@router.post(
    "/whatif", response_model=WhatIfResponse, responses={422: {"description": "A bad film or sweep"}}
)
async def whatif(req: WhatIfRequest, service: Service, settings: Settings) -> WhatIfResponse:
    """The film predicted at every value of one or two varied inputs, in one batched model call
    (at most 60 points): class probabilities, predicted and expected class, revenue when the model has it."""
    if len(req.description) > settings.max_description_chars:
        raise field_error(
            "description", f"description is longer than {settings.max_description_chars} characters"
        )
    metadata = req.metadata.fields() if req.metadata else {}
    trailer, notes, _ = service.trailer_reference(req.trailer_url)
    lease = None
    if trailer is not None:
        trailer, more, _, lease = await service.fetch(trailer)
        notes = [*notes, *more]
    try:
        film = w.Film(req.description, req.title, trailer, metadata)
        varies = [to_vary(spec, film, i) for i, spec in enumerate(req.vary)]
        try:
            curve = await model_thread.run(_sweep, service, film, varies)
        except ValueError as e:
            raise field_error("vary", redact_paths(str(e))) from None
    finally:
        if lease is not None and service.fetcher is not None:
            service.fetcher.release(lease)
    return WhatIfResponse(**jsonable(curve), warnings=redact_paths(notes))


def _sweep(service: ModelService, film: w.Film, varies: list[w.Vary]) -> dict[str, Any]:
    with service.lock:  # the predictor is not safe to run twice at once (see ModelService)
        return w.sweep(service.predictor, film, varies, reads(service))

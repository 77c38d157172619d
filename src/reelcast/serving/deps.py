"""FastAPI dependencies of the routes: what `create_app` put on app.state, and the request limits."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError

from reelcast.serving.arms import ArmSet
from reelcast.serving.service import ModelService
from reelcast.serving.settings import ServeSettings


def get_service(request: Request) -> ModelService:
    """The primary arm's model service."""
    return request.app.state.service


def get_settings(request: Request) -> ServeSettings:
    """The server's settings."""
    return request.app.state.settings


def get_arms(request: Request) -> ArmSet:
    """Every model behind the server (A/B arms, shadow mode) and the prediction log."""
    return request.app.state.arms


Service = Annotated[ModelService, Depends(get_service)]
Settings = Annotated[ServeSettings, Depends(get_settings)]
Arms = Annotated[ArmSet, Depends(get_arms)]


def field_error(field: str, message: str, value: Any = None) -> RequestValidationError:
    """A 422 shaped like FastAPI's own validation errors, naming the field."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", field), "msg": message, "input": value}]
    )


def check_text(name: str, value: str | None, limit: int, required: bool) -> str:
    """A stripped text field under its length limit (422 naming the field otherwise)."""
    value = (value or "").strip()
    if required and not value:
        raise field_error(name, f"{name} is required and must not be empty", value)
    if len(value) > limit:
        raise field_error(name, f"{name} is longer than {limit} characters", f"<{len(value)} characters>")
    return value

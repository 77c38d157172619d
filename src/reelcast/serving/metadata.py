"""Pre-release metadata a request may carry: what the ensemble's trees and the metadata modality read.

Every field is optional and bounded; a film sent without metadata is predicted from what it has, and
the response says which modalities were used. Names follow reelcast's canonical film columns.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Names = Annotated[list[Name], Field(max_length=50)]


class FilmMetadata(BaseModel):
    """What is known about a film before release."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    budget_musd: float | None = Field(
        None, ge=0, le=100_000, description="Production budget, millions of US$"
    )
    release_date: str | None = Field(None, max_length=10, description="Planned release date, YYYY-MM-DD")
    year: int | None = Field(None, ge=1880, le=2100, description="Release year (when no date is known)")
    runtime: float | None = Field(None, gt=0, le=1000, description="Running time, minutes")
    genres: Names | None = Field(None, description="Genre names, e.g. ['Action', 'Adventure']")
    keywords: Names | None = Field(None, description="Plot keywords, e.g. ['sequel', 'superhero']")
    companies: Names | None = Field(None, description="Production companies")
    countries: Names | None = Field(None, description="Production countries")
    language: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = Field(
        None, description="Original language code, e.g. 'en'"
    )
    collection: Name | None = Field(None, description="The franchise / collection the film belongs to")
    director: Name | None = None
    cast: Names | None = Field(None, description="Top-billed cast, most prominent first")

    @field_validator("release_date")
    @classmethod
    def _iso_date(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        try:
            dt.date.fromisoformat(v.strip())
        except ValueError:
            raise ValueError("release_date must be a date as YYYY-MM-DD") from None
        return v.strip()

    def fields(self) -> dict[str, Any]:
        """The given fields, for RevenuePredictor.predict_film(metadata=...)."""
        return {k: v for k, v in self.model_dump().items() if v is not None and v != []}

"""Pre-release metadata a request may carry: what the ensemble's trees and the metadata modality read.

Every field is optional and bounded; a film sent without metadata is predicted from what it has, and
the response says which modalities were used. Names follow reelcast's canonical film columns.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# The years a film's release can be placed in (the `year` field and release_date alike).
FIRST_YEAR, LAST_YEAR = 1880, 2100
NUMBER_FIELDS = ("budget_musd", "year", "runtime")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Names = Annotated[list[Name], Field(max_length=50)]


class FilmMetadata(BaseModel):
    """What is known about a film before release."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    budget_musd: float | None = Field(
        None, ge=0, le=100_000, description="Production budget, millions of US$"
    )
    release_date: str | None = Field(None, max_length=10, description="Planned release date, YYYY-MM-DD")
    year: int | None = Field(
        None, ge=FIRST_YEAR, le=LAST_YEAR, description="Release year (when no date is known)"
    )
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
        v = v.strip()
        # Only the calendar form: date.fromisoformat also takes week dates ("2024-W01-1") and "20240101",
        # which the film table's date reader does not.
        try:
            if not _ISO_DAY.fullmatch(v):
                raise ValueError
            day = dt.date.fromisoformat(v)
        except ValueError:
            raise ValueError("release_date must be a date as YYYY-MM-DD") from None
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise ValueError(f"release_date must be in the years {FIRST_YEAR}-{LAST_YEAR}")
        return v

    def fields(self) -> dict[str, Any]:
        """The given fields, for RevenuePredictor.predict_film(metadata=...)."""
        return {k: v for k, v in self.model_dump().items() if v is not None and v != []}


_JSON_KINDS = {bool: "a boolean", str: "a string", list: "a list", dict: "an object"}


def check_json_numbers(value: Any) -> Any:
    """`value` unchanged, or ValueError naming the first numeric field sent as anything but a JSON number.

    The API is strict where the command line (`--meta budget_musd=150`, text by nature) is not: `true`
    or `"150"` for a budget is a client bug, not a number to guess from.
    """
    if isinstance(value, dict):
        for name in NUMBER_FIELDS:
            v = value.get(name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                kind = _JSON_KINDS.get(type(v), "not a number")
                raise ValueError(f"metadata.{name} must be a number, not {kind}")
    return value

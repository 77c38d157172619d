"""What-if: one film predicted again with one or two of its inputs varied, as data (reports write it).

    film = Film("A marine on an alien moon...", "Avatar", metadata={"budget_musd": 237})
    curve = sweep(predictor, film, [Vary("budget_musd", numeric_range(20, 300, step=10))], reads)

Every varied film goes through the predictor in one batched call (`RevenuePredictor.predict` on a small
table), so a 30-point sweep costs one featurisation of the plot and a few forward passes.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from reelcast.data.classes import CLASS_NAMES, NUM_CLASSES
from reelcast.data.schema import GENERIC_REQUEST
from reelcast.data.table import FilmTable, TableReport, canonical_frame
from reelcast.features.signals import HOLIDAYS, holiday_flags

if TYPE_CHECKING:
    from reelcast.predictor import RevenuePredictor

MAX_POINTS = 60
MAX_FIELDS = 2
# Numeric fields swept over a range, with the values a film can have (those of the API's FilmMetadata).
NUMERIC = {"budget_musd": (0.0, 100_000.0), "runtime": (1.0, 1000.0), "year": (1880.0, 2100.0)}
# Fields swept over a list of alternatives (a list field's alternative is itself a list of names).
CATEGORICAL = ("director", "cast", "companies", "genres", "keywords", "collection", "language", "countries")
LIST_FIELDS = ("cast", "companies", "genres", "keywords", "countries")
TRAILER = "trailer"
TRAILER_VALUES = ("with", "without")
VARIABLE = (*NUMERIC, "release_date", *CATEGORICAL, TRAILER)
_SEASONS = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring"}
_SEASONS |= {6: "summer", 7: "summer", 8: "summer", 9: "autumn", 10: "autumn", 11: "autumn"}
_HOLIDAY_NAMES = {
    "memorial_day": "Memorial Day",
    "july_4": "July 4",
    "thanksgiving": "Thanksgiving",
    "christmas": "Christmas",
}
# The interval levels of a revenue range (the prediction table's revenue_musd_low_<level> columns).
LEVELS = ("50", "80", "95")


@dataclass(frozen=True)
class Film:
    """The film the sweep starts from: what a /predict request or `reelcast predict` carries."""

    description: str
    title: str = ""
    trailer: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Vary:
    """One input and the values to try for it, in order."""

    field: str
    values: tuple[Any, ...]


# ---- the values of a sweep ----------------------------------------------------------------------------
def numeric_range(start: float, stop: float, step: float | None = None, steps: int | None = None) -> tuple:
    """Values from start to stop (both included): every `step`, or `steps` evenly spaced points."""
    if not all(math.isfinite(x) for x in (start, stop)):
        raise ValueError("a sweep's ends must be finite numbers")
    if step is not None:
        if not math.isfinite(step) or step <= 0:
            raise ValueError(f"the step must be a positive number, got {step}")
        n = math.floor(abs(stop - start) / step + 1e-9) + 1
        if n > MAX_POINTS:
            raise ValueError(f"{n} points from {start:g} to {stop:g} every {step:g}; at most {MAX_POINTS}")
        sign = 1 if stop >= start else -1
        values = [start + sign * i * step for i in range(n)]
    else:
        steps = 15 if steps is None else steps
        if not 2 <= steps <= MAX_POINTS:
            raise ValueError(f"steps must be 2 to {MAX_POINTS}, got {steps}")
        values = np.linspace(start, stop, steps).tolist()
    return tuple(round(v, 6) for v in values)


def month_range(start: str, stop: str, day: int = 1) -> tuple[str, ...]:
    """Release dates one month apart from month `start` to month `stop` (YYYY-MM), on day `day`."""
    first, last = _month(start), _month(stop)
    if last < first:
        raise ValueError(f"release_date sweep: {stop} is before {start}")
    n = (last[0] - first[0]) * 12 + last[1] - first[1] + 1
    if n > MAX_POINTS:
        raise ValueError(f"release_date sweep of {n} months; at most {MAX_POINTS}")
    out = []
    for i in range(n):
        y, m = divmod(first[0] * 12 + first[1] - 1 + i, 12)
        out.append(dt.date(y, m + 1, min(day, calendar.monthrange(y, m + 1)[1])).isoformat())
    return tuple(out)


def _month(text: str) -> tuple[int, int]:
    try:
        d = dt.date.fromisoformat(f"{text}-01" if len(text) == 7 else text)
    except ValueError:
        raise ValueError(f"release_date sweep: {text!r} is not a month as YYYY-MM") from None
    if not 1880 <= d.year <= 2100:
        raise ValueError(f"release_date sweep: {text} is outside the years 1880-2100")
    return d.year, d.month


def year_of_months(film: Film, year: int | None = None) -> tuple[str, ...]:
    """The twelve months of a year (the film's own year by default), on the film's day of the month."""
    base = film.metadata.get("release_date")
    day = dt.date.fromisoformat(base).day if base else 1
    year = year or (dt.date.fromisoformat(base).year if base else film.metadata.get("year"))
    if year is None:
        raise ValueError("a release_date sweep needs the film's release_date or year (or the year to sweep)")
    return month_range(f"{int(year):04d}-01", f"{int(year):04d}-12", day)


def season(date: str) -> str:
    """A release date as a distributor reads it: month, season, holiday window ('Jul · summer · July 4')."""
    d = dt.date.fromisoformat(date)
    parts = [calendar.month_abbr[d.month], _SEASONS[d.month]]
    parts += [
        _HOLIDAY_NAMES[h]
        for h, on in zip(HOLIDAYS, holiday_flags(d), strict=True)
        if on and h in _HOLIDAY_NAMES
    ]
    return " · ".join(parts)


# ---- what may be varied -----------------------------------------------------------------------------
def readable_fields(predictor: RevenuePredictor, metadata_fields: Iterable[str]) -> list[str]:
    """The inputs of this model a sweep can move: its metadata fields, and the trailer when it reads one."""
    reads = [f for f in metadata_fields if f in VARIABLE]
    if "year" in reads and "release_date" not in reads:
        reads.append("release_date")  # a date gives the year too
    media = {"video", "audio"} & set(predictor.spec_.modalities)
    if media and str(predictor.config.media.mode) != "simulated":
        reads.append(TRAILER)
    return reads


def check_varies(varies: Sequence[Vary], reads: Sequence[str], film: Film) -> None:
    """ValueError naming the problem: an unknown field, one the model never reads, too many points."""
    if not 1 <= len(varies) <= MAX_FIELDS:
        raise ValueError(f"vary one or two fields, got {len(varies)}")
    names = [v.field for v in varies]
    if len(set(names)) != len(names):
        raise ValueError(f"vary each field once, got {', '.join(names)}")
    for v in varies:
        if v.field not in VARIABLE:
            raise ValueError(
                f"cannot vary {v.field!r}: the fields a sweep can vary are {', '.join(VARIABLE)}"
            )
        if v.field not in reads:
            read = ", ".join(reads) if reads else "none: it reads the plot alone"
            raise ValueError(
                f"this model never reads {v.field}, so varying it changes nothing; it reads {read}"
            )
        if not v.values:
            raise ValueError(f"vary {v.field}: no values to try")
        _check_values(v)
    if TRAILER in names and not film.trailer:
        raise ValueError("vary trailer: give the film's trailer, to compare the film with and without it")
    n = math.prod(len(v.values) for v in varies)
    if n > MAX_POINTS:
        raise ValueError(f"the sweep has {n} points; at most {MAX_POINTS}")


def _check_values(v: Vary) -> None:
    if v.field in NUMERIC:
        lo, hi = NUMERIC[v.field]
        for x in v.values:
            if isinstance(x, bool) or not isinstance(x, int | float) or not lo <= x <= hi:
                raise ValueError(f"vary {v.field}: {x!r} is not a number from {lo:g} to {hi:g}")
    elif v.field == "release_date":
        for x in v.values:
            _month(str(x))
    elif v.field == TRAILER:
        bad = [x for x in v.values if x not in TRAILER_VALUES]
        if bad:
            raise ValueError(f"vary trailer: values are 'with' and 'without', got {bad[0]!r}")


# ---- the sweep -------------------------------------------------------------------------------------
def _records(film: Film, varies: Sequence[Vary]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One film record per combination of values, and the combination itself."""
    # One film id for every point: the same film, so id-keyed inputs (simulated trailers) stay the same.
    fid = film.title or "what-if"
    records, combos = [], []
    for combo in itertools.product(*(v.values for v in varies)):
        meta = dict(film.metadata)
        trailer = film.trailer or ""
        for v, value in zip(varies, combo, strict=True):
            if v.field == TRAILER:
                trailer = film.trailer if value == "with" else ""
            elif v.field == "release_date":
                meta["release_date"] = value
                meta.pop("year", None)  # the date gives the year
            else:
                meta[v.field] = value
        rec = {"film_id": fid, "title": film.title, "text": film.description, "trailer": trailer, **meta}
        records.append(rec)
        combos.append({v.field: value for v, value in zip(varies, combo, strict=True)})
    return records, combos


def _revenue(row: dict[str, Any], dollars: str) -> dict[str, Any] | None:
    """The revenue range of one prediction row, when the model gives one (its revenue_musd_* columns)."""
    median = row.get("revenue_musd_median")
    if median is None or not math.isfinite(float(median)):
        return None
    intervals = {
        lv: [float(row[f"revenue_musd_low_{lv}"]), float(row[f"revenue_musd_high_{lv}"])]
        for lv in LEVELS
        if f"revenue_musd_low_{lv}" in row and f"revenue_musd_high_{lv}" in row
    }
    return {"median_musd": float(median), "dollars": dollars, "intervals": intervals, "p_at_least": None}


def sweep(predictor: RevenuePredictor, film: Film, varies: Sequence[Vary], reads: Sequence[str]) -> dict:
    """The film predicted at every combination of the varied values: the curve as plain data.

    reads: the fields this model reads (`readable_fields`); varying any other is refused.
    """
    check_varies(varies, reads, film)
    records, combos = _records(film, varies)
    try:
        frame = canonical_frame(records)
    except ValueError as e:
        raise ValueError(f"what-if film: {e}") from None
    table = FilmTable(
        df=frame, schema=GENERIC_REQUEST, report=TableReport("<what-if>", "request"), source="<what-if>"
    )
    df = predictor.predict(table)
    probs = df[[f"p_{name}" for name in CLASS_NAMES]].to_numpy(dtype=np.float64)
    expected = probs @ np.arange(NUM_CLASSES)
    dollars = "nominal"
    if predictor.config.labels.constant_dollars:
        from reelcast.data.cpi import base_year

        dollars = f"constant {base_year()} US dollars"
    points = []
    for i, (combo, row) in enumerate(zip(combos, df.to_dict("records"), strict=True)):
        k = int(row["predicted_class"])
        first = combo[varies[0].field]
        point = {
            "value": first,
            "values": combo,
            "label": " / ".join(_label(f, v) for f, v in combo.items()),
            "probabilities": [float(p) for p in probs[i]],
            "predicted_class": k,
            "class_name": CLASS_NAMES[k],
            "expected_class": float(expected[i]),
            "revenue": _revenue(row, dollars),
        }
        if "release_date" in combo:
            point["season"] = season(combo["release_date"])
        points.append(point)
    return {
        "title": film.title,
        "field": varies[0].field,
        "fields": [v.field for v in varies],
        "class_names": list(CLASS_NAMES),
        "points": points,
    }


def _label(name: str, value: Any) -> str:
    if name == "release_date":
        return f"{value} ({season(value)})"
    if name == "budget_musd":
        return f"${value:g} M"
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return str(value)

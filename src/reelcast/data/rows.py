"""Reading one table row into a film: revenue, release date and year, identity, budget, lists.

Each step notes what it refused in the table report; cells that show the whole column is misread
(a foreign currency, an ambiguous date order, a year out of range) are collected in `fatal`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd

from reelcast.config import DataConfig
from reelcast.data.cells import collection_name, genre_list, name_list, parse_number, text
from reelcast.data.dates import DateColumn, DateError, parse_year
from reelcast.data.money import MoneyColumn, MoneyError, read_money
from reelcast.data.read import TableError
from reelcast.data.report import TableReport, line_list
from reelcast.data.schema import Schema

T = TypeVar("T")


@dataclass
class Rows:
    """What the row steps share: the mapping, the report, and the cells that stop the load."""

    cfg: DataConfig
    schema: Schema
    report: TableReport
    require_revenue: bool
    revenue: MoneyColumn
    budget: MoneyColumn
    dates: DateColumn | None
    fatal: list[tuple[int, str, ValueError]] = field(default_factory=list)  # (line, column, error)
    seen_ids: dict[str, int] = field(default_factory=dict)
    seen_title_year: dict[tuple[str, Any], int] = field(default_factory=dict)

    @classmethod
    def start(cls, cfg: DataConfig, schema: Schema, report: TableReport, require_revenue: bool) -> Rows:
        """The state for reading one table's rows in order."""
        col = schema.release_date_col
        return cls(
            cfg,
            schema,
            report,
            require_revenue,
            revenue=money_column(schema, cfg, "revenue"),
            budget=money_column(schema, cfg, "budget"),
            dates=DateColumn(col, cfg.dayfirst) if col else None,
        )


def money_column(schema: Schema, cfg: DataConfig, what: str) -> MoneyColumn:
    """How the table's revenue or budget column is read (unit, limit) under the schema and config."""
    if what == "revenue":
        return MoneyColumn(
            "revenue",
            schema.revenue_scale,
            schema.revenue_unit_declared,
            cfg.max_revenue_musd,
            "data.max_revenue_musd",
            "data.revenue_scale",
        )
    return MoneyColumn(
        "budget",
        schema.budget_scale,
        schema.budget_unit_declared,
        cfg.max_budget_musd,
        "data.max_budget_musd",
        "data.budget_scale",
    )


def read_film(rec: dict[str, Any], line: int, rows: Rows) -> dict[str, Any] | None:
    """One film in reelcast's columns, or None when the row is dropped (noted in the report)."""
    keep, revenue = read_revenue(rec, line, rows)
    if not keep:
        return None
    schema = rows.schema
    title = text(rec.get(schema.title_col)) if schema.title_col else ""
    year, month, date = read_release(rec, line, rows)
    film_id = text(rec.get(schema.id_col)) if schema.id_col else ""
    film_id = film_id or (f"{title} ({year})" if title else f"line{line}")
    if is_duplicate(film_id, title, year, line, rows):
        return None
    description = text(rec.get(schema.text_col))
    if not description:
        rows.report.warnings["empty description: text modality masked"].append(line)
    film = {
        "film_id": film_id,
        "title": title,
        "text": description,
        "revenue_musd": revenue,
        "trailer": text(rec.get(schema.trailer_col)) if schema.trailer_col else "",
        "year": year,
        "runtime": read_runtime(rec, line, rows),
        "budget_musd": read_budget(rec, line, rows),
        "release_month": month,
        "release_date": date,
        **read_lists(rec, schema),
        "line": line,
    }
    film.update({f"src:{c}": v for c, v in rec.items()})
    return film


def read_revenue(rec: dict[str, Any], line: int, rows: Rows) -> tuple[bool, float | None]:
    """(keep the row, its revenue in M$); a bad cell drops the row when training, is noted otherwise."""
    col, report = rows.schema.revenue_col, rows.report
    if col not in rec:
        if rows.require_revenue:
            report.dropped[f"missing revenue in {col!r}"].append(line)
        return not rows.require_revenue, None
    revenue, problem = None, None
    try:
        revenue = read_money(rec[col], rows.revenue, rows.cfg.decimal)
    except MoneyError as e:
        if e.fatal and rows.require_revenue:
            rows.fatal.append((line, col, e))
        problem = e.reason
    if problem is None:
        if revenue is None:
            problem = "missing revenue"
        elif revenue == 0 and not rows.schema.zero_revenue_valid:
            problem = "zero revenue"
        else:
            return True, revenue
    if not rows.require_revenue:  # predicting needs no revenue: a bad cell is only noted
        if problem != "missing revenue":
            report.warnings[f"{problem} in {col!r}: ignored"].append(line)
        return True, None
    if problem == "zero revenue":
        problem += " (read as unknown; --zero-revenue-valid keeps it)"
    report.dropped[f"{problem} in {col!r}"].append(line)
    return False, None


def read_release(rec: dict[str, Any], line: int, rows: Rows) -> tuple[int | None, int | None, Any]:
    """(year, month, date) from the date and year columns; unknown parts are None / NaT."""
    year, month, date = None, None, pd.NaT
    col = rows.schema.release_date_col
    if col and rows.dates is not None:
        warning = f"unreadable date in {col!r}: treated as missing"
        parsed = _unless_refused(lambda: rows.dates.read(rec.get(col), line), line, col, rows, warning)
        if parsed is not None:
            year, month = parsed.year, parsed.month
            date = parsed.date if parsed.date is not None else pd.NaT
    col = rows.schema.year_col
    if col:
        warning = f"non-numeric year in {col!r}: ignored"
        y = _unless_refused(lambda: parse_year(rec.get(col)), line, col, rows, warning)
        year = y if y is not None else year
    return year, month, date


def _unless_refused(read: Callable[[], T], line: int, col: str, rows: Rows, warning: str) -> T | None:
    """read(); None when it refuses the cell: a fatal refusal is collected, another noted as `warning`."""
    try:
        return read()
    except DateError as e:
        if e.fatal:
            rows.fatal.append((line, col, e))
        else:
            rows.report.warnings[warning].append(line)
        return None


def is_duplicate(film_id: str, title: str, year: int | None, line: int, rows: Rows) -> bool:
    """True (and noted) when the film repeats an earlier row's id, or its title and year."""
    if film_id in rows.seen_ids:
        rows.report.duplicates.append((line, rows.seen_ids[film_id], f"id {film_id}"))
        return True
    key = (title.lower(), year)
    if title and key in rows.seen_title_year:
        rows.report.duplicates.append((line, rows.seen_title_year[key], f"title+year {title} ({year})"))
        return True
    rows.seen_ids[film_id] = line
    if title:
        rows.seen_title_year[key] = line
    return False


def read_budget(rec: dict[str, Any], line: int, rows: Rows) -> float | None:
    """The budget in M$ by the money rules; a bad cell is unknown (noted), a misread column stops."""
    col = rows.schema.budget_col
    if not col:
        return None
    try:
        budget = read_money(rec.get(col), rows.budget, rows.cfg.decimal)
    except MoneyError as e:
        if e.fatal:
            rows.fatal.append((line, col, e))
        elif e.reason in ("non-numeric budget", "non-finite budget"):
            rows.report.warnings[f"non-numeric {col!r}: treated as missing"].append(line)
        else:
            rows.report.warnings[f"{e.reason} in {col!r}: treated as missing"].append(line)
        return None
    return budget or None  # TMDB's 0 means unknown, as for revenue


def read_runtime(rec: dict[str, Any], line: int, rows: Rows) -> float | None:
    """Minutes, or None; a non-numeric cell is a logged warning, not an error."""
    col = rows.schema.runtime_col
    if not col:
        return None
    try:
        minutes = parse_number(rec.get(col))
    except ValueError:
        rows.report.warnings[f"non-numeric {col!r}: treated as missing"].append(line)
        return None
    return minutes or None


def read_lists(rec: dict[str, Any], schema: Schema) -> dict[str, Any]:
    """The list and label columns (genres, keywords, companies, countries, language, collection)."""

    def cell(col: str | None) -> Any:
        return rec.get(col) if col else None

    def listed(col: str | None, read: Callable[[Any], list[str]]) -> list[str] | None:
        # No column or an empty cell: nobody said, so unknown (None); "[]" is an explicit empty list.
        value = cell(col)
        return None if not text(value) else read(value)

    language = text(cell(schema.language_col)).lower()
    return {
        "genres": listed(schema.genres_col, lambda v: genre_list(v, schema.genres_format)),
        "keywords": listed(schema.keywords_col, name_list),
        "companies": listed(schema.companies_col, name_list),
        "countries": listed(schema.countries_col, lambda v: name_list(v, ("iso_3166_1", "name"))),
        "language": language or None,
        # In a table with the column a blank cell is "in no collection"; without it, unknown.
        "collection": collection_name(cell(schema.collection_col)) if schema.collection_col else None,
    }


def raise_fatal(fatal: list[tuple[int, str, ValueError]], columns: list[str], source: str) -> None:
    """One TableError for the cells that misread the table: the first, and the lines of its kind."""
    if not fatal:
        return
    line, col, first = fatal[0]
    reason = getattr(first, "reason", "")
    same = [ln for ln, c, e in fatal[1:] if c == col and getattr(e, "reason", "") == reason]
    also = f"; the same ({reason}) on line(s) {line_list(same)}" if same else ""
    rest = len(fatal) - 1 - len(same)
    also += f"; {rest} more cell(s) refused for other reasons" if rest else ""
    where = f"line {line}, column {columns.index(col) + 1} ({col!r})"
    raise TableError(f"{source}: {where}: {first}{also}")

"""Reading a film table (CSV or Parquet), validating it, and mapping it to reelcast's columns.

The canonical frame has one row per film and these columns:
    film_id, title, text, revenue_musd, trailer, year, runtime, budget_musd, release_month, genres,
    release_date (Timestamp or NaT), keywords, companies, countries (lists of str), language,
    collection (str, "" when none), line (the row's line in the source file, for error messages)
plus every source column under its own name prefixed with `src:` so tabular features can use them.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reelcast.config import DataConfig
from reelcast.data.read import TableError, check_headers, delimiter_name, read_raw
from reelcast.data.revenue import DECIMALS, RevenueError, parse_amount, to_millions
from reelcast.data.schema import Schema, resolve_schema

log = logging.getLogger(__name__)

# How many example rows each problem lists in the log and the report.
_EXAMPLES = 5


@dataclass
class TableReport:
    """What validation found: rows dropped (by reason), warnings, duplicates."""

    source: str
    schema: str
    rows_read: int = 0
    rows_kept: int = 0
    dropped: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    warnings: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    duplicates: list[tuple[int, int, str]] = field(default_factory=list)  # (line, first line, key)
    trailer_map: dict[str, Any] | None = None
    people: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary with counts and a few example line numbers per reason."""
        return {
            "source": self.source,
            "schema": self.schema,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "dropped": {k: {"count": len(v), "lines": v[:_EXAMPLES]} for k, v in self.dropped.items()},
            "warnings": {k: {"count": len(v), "lines": v[:_EXAMPLES]} for k, v in self.warnings.items()},
            "trailer_map": self.trailer_map,
            "people": self.people,
            "duplicates": {
                "count": len(self.duplicates),
                "examples": [
                    {"line": a, "duplicate_of_line": b, "key": k} for a, b, k in self.duplicates[:_EXAMPLES]
                ],
            },
        }

    def log(self) -> None:
        """Write the summary to the log, one line per reason."""
        log.info(
            "%s: %d rows read, %d films kept (schema %s)",
            self.source,
            self.rows_read,
            self.rows_kept,
            self.schema,
        )
        for reason, lines in self.dropped.items():
            log.warning("%s: dropped %d rows: %s (lines %s)", self.source, len(lines), reason, _lines(lines))
        for reason, lines in self.warnings.items():
            log.warning("%s: %d rows: %s (lines %s)", self.source, len(lines), reason, _lines(lines))
        if self.duplicates:
            ex = "; ".join(f"line {a} repeats line {b} ({k})" for a, b, k in self.duplicates[:_EXAMPLES])
            log.warning(
                "%s: dropped %d duplicate films, kept the first of each: %s",
                self.source,
                len(self.duplicates),
                ex,
            )


def _lines(lines: list[int]) -> str:
    more = f", ... (+{len(lines) - _EXAMPLES})" if len(lines) > _EXAMPLES else ""
    return ", ".join(map(str, lines[:_EXAMPLES])) + more


@dataclass
class FilmTable:
    """A validated film table in reelcast's columns."""

    df: pd.DataFrame
    schema: Schema
    report: TableReport
    source: str

    def __len__(self) -> int:
        return len(self.df)


_NUMBER_JUNK = re.compile(r"[\s$€£,_]")


def parse_number(value: Any) -> float | None:
    """A float from a cell ('1,234', '$5', 3.2); None when empty; ValueError when not a finite number."""
    if value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if math.isnan(v):
            return None
    else:
        s = _NUMBER_JUNK.sub("", str(value))
        if s == "" or s.lower() in ("nan", "na", "n/a", "null", "none"):
            return None
        v = float(s)
    if not math.isfinite(v):
        raise ValueError(f"{value!r} is not finite")
    return v


def _revenue(cell: Any, schema: Schema, cfg: DataConfig) -> float | None:
    """A revenue cell in millions of dollars (rules in data/revenue.py), or None when empty."""
    amount = parse_amount(cell, cfg.decimal)
    if amount is None:
        return None
    musd = to_millions(amount, schema.revenue_scale, schema.revenue_unit_declared)
    if abs(musd) > cfg.max_revenue_musd:
        shown = f"{musd:,.0f} M$" if abs(musd) < 1e15 else f"{musd:.3g} M$"
        if not schema.revenue_unit_declared and amount.unit_musd is None:
            raise RevenueError(
                f"{cell!r} would be {shown} in millions, more than any film has earned (limit "
                f"data.max_revenue_musd = {cfg.max_revenue_musd:,.0f}). The column's unit is not declared: "
                "if it holds dollars pass --set data.revenue_scale=1e-6, or write units (12.5M, $12,500,000)",
                fatal=True,
                reason="implausible revenue",
            )
        raise RevenueError(
            f"{cell!r} is {shown}, above data.max_revenue_musd",
            reason="implausible revenue (above the limit)",
        )
    return musd


def _genres(value: Any, fmt: str) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    s = str(value).strip()
    if not s:
        return []
    if fmt == "tmdb_json" or s.startswith("["):
        try:
            items = json.loads(s)
            return [str(g["name"] if isinstance(g, dict) else g).strip() for g in items]
        except (ValueError, TypeError, KeyError):
            pass
    return [g.strip() for g in re.split(r"[,|/;]", s) if g.strip()]


def _names(value: Any, keys: tuple[str, ...] = ("name",)) -> list[str]:
    """A list cell: a JSON array of strings or of objects (first of `keys` present), else a |,;-list."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v).strip() for v in value if str(v).strip()]
    s = str(value).strip()
    if not s or s == "[]":
        return []
    if s.startswith("["):
        try:
            items = json.loads(s)
            out = []
            for it in items:
                if isinstance(it, dict):
                    it = next((it[k] for k in keys if it.get(k)), "")
                if str(it).strip():
                    out.append(str(it).strip())
            return out
        except (ValueError, TypeError):
            pass
    return [g.strip() for g in re.split(r"[|;,]", s) if g.strip()]


def _collection(value: Any) -> str:
    """A collection/franchise cell: TMDB's JSON object {"name": ...} or plain text; "" when none."""
    s = _str(value)
    if s.startswith("{"):
        try:
            return _str(json.loads(s).get("name"))
        except (ValueError, AttributeError):
            pass
    return s


def _optional_number(
    rec: dict, col: str | None, scale: float, report: TableReport, line: int
) -> float | None:
    """A numeric metadata cell scaled, or None; a non-numeric one is a logged warning, not an error."""
    if not col:
        return None
    try:
        v = parse_number(rec.get(col))
    except ValueError:
        report.warnings[f"non-numeric {col!r}: treated as missing"].append(line)
        return None
    return None if v is None else v * scale


def _str(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def load_films(path: str | Path, cfg: DataConfig | None = None, require_revenue: bool = True) -> FilmTable:
    """Read, validate and map a film table; bad rows are dropped with a logged count and reason."""
    cfg = cfg or DataConfig()
    source = str(path)
    raw, lines, skipped = read_raw(path, cfg.skip_bad_rows, cfg.max_cell_chars)
    return films_from_frame(
        raw,
        cfg,
        source=source,
        lines=lines,
        skipped_lines=skipped,
        base_dir=Path(path).resolve().parent,
        require_revenue=require_revenue,
    )


def films_from_frame(
    raw: pd.DataFrame,
    cfg: DataConfig | None = None,
    source: str = "<dataframe>",
    lines: list[int] | None = None,
    skipped_lines: list[int] | None = None,
    base_dir: Path | None = None,
    require_revenue: bool = True,
) -> FilmTable:
    """Validate an in-memory table (as `load_films` does for a file)."""
    cfg = cfg or DataConfig()
    if cfg.decimal not in DECIMALS:
        raise ValueError(f"--decimal (data.decimal) must be '.' or ',' (or auto), got {cfg.decimal!r}")
    attrs = dict(raw.attrs)
    raw = raw.reset_index(drop=True)
    columns = [str(c) for c in raw.columns]
    check_headers(source, columns, "")
    raw.columns = columns
    delimiter = attrs.get("delimiter")
    try:
        schema = resolve_schema(columns, cfg, source, require_revenue=require_revenue)
    except ValueError as e:
        if delimiter:  # a wrong delimiter shows up as one long column name: say how the file was split
            raise TableError(f"{e} (the header was read as {delimiter_name(delimiter)}-separated)") from e
        raise
    lines = lines or list(range(2, len(raw) + 2))
    oversize = list(attrs.get("oversize_lines") or [])
    report = TableReport(
        source=source, schema=schema.name, rows_read=len(raw) + len(skipped_lines or []) + len(oversize)
    )
    if skipped_lines:
        report.dropped["malformed CSV row (wrong number of fields)"].extend(skipped_lines)
    if oversize:
        report.dropped[f"a cell longer than data.max_cell_chars = {cfg.max_cell_chars:,}"].extend(oversize)
    if delimiter and delimiter != ",":
        log.info("%s: read as %s-separated", source, delimiter_name(delimiter))
    revenue_position = columns.index(schema.revenue_col) + 1 if schema.revenue_col in columns else 0
    fatal: list[tuple[int, RevenueError]] = []

    out: list[dict[str, Any]] = []
    seen_ids: dict[str, int] = {}
    seen_title_year: dict[tuple[str, Any], int] = {}
    records = raw.to_dict("records")
    for rec, line in zip(records, lines, strict=True):
        revenue = None
        if schema.revenue_col in rec:
            problem = None
            try:
                revenue = _revenue(rec.get(schema.revenue_col), schema, cfg)
            except RevenueError as e:
                if e.fatal and require_revenue:
                    fatal.append((line, e))
                problem = e.reason
            if problem is None and revenue is None:
                problem = "missing revenue"
            elif problem is None and revenue < 0:
                problem = "negative revenue"
            elif problem is None and revenue == 0 and not schema.zero_revenue_valid:
                problem = "zero revenue"
            if problem is not None:
                if not require_revenue:  # predicting needs no revenue: a bad cell is only noted
                    if problem != "missing revenue":
                        report.warnings[f"{problem} in {schema.revenue_col!r}: ignored"].append(line)
                    revenue = None
                else:
                    if problem == "zero revenue":
                        problem += " (read as unknown; --zero-revenue-valid keeps it)"
                    report.dropped[f"{problem} in {schema.revenue_col!r}"].append(line)
                    continue
        elif require_revenue:
            report.dropped[f"missing revenue in {schema.revenue_col!r}"].append(line)
            continue
        text = _str(rec.get(schema.text_col))
        if not text:
            report.warnings["empty description: text modality masked"].append(line)
        title = _str(rec.get(schema.title_col)) if schema.title_col else ""
        year = None
        release_month = None
        release_date = pd.NaT
        if schema.release_date_col and _str(rec.get(schema.release_date_col)):
            date = pd.to_datetime(_str(rec.get(schema.release_date_col)), errors="coerce")
            if not pd.isna(date):
                year, release_month, release_date = int(date.year), int(date.month), date
            else:
                report.warnings[f"unreadable date in {schema.release_date_col!r}: treated as missing"].append(
                    line
                )
        if schema.year_col:
            try:
                y = parse_number(rec.get(schema.year_col))
                year = int(y) if y is not None else year
            except ValueError:
                report.warnings[f"non-numeric year in {schema.year_col!r}: ignored"].append(line)
        film_id = _str(rec.get(schema.id_col)) if schema.id_col else ""
        if not film_id:
            film_id = f"{title} ({year})" if title else f"line{line}"
        # Duplicates: same id, or same title and year; the first row wins.
        if film_id in seen_ids:
            report.duplicates.append((line, seen_ids[film_id], f"id {film_id}"))
            continue
        ty = (title.lower(), year)
        if title and ty in seen_title_year:
            report.duplicates.append((line, seen_title_year[ty], f"title+year {title} ({year})"))
            continue
        seen_ids[film_id] = line
        if title:
            seen_title_year[ty] = line

        budget = _optional_number(rec, schema.budget_col, schema.budget_scale, report, line)
        if budget == 0:  # TMDB's 0 means unknown, as for revenue
            budget = None
        runtime = _optional_number(rec, schema.runtime_col, 1.0, report, line)
        if runtime == 0:
            runtime = None
        row = {
            "film_id": film_id,
            "title": title,
            "text": text,
            "revenue_musd": revenue,
            "trailer": _str(rec.get(schema.trailer_col)) if schema.trailer_col else "",
            "year": year,
            "runtime": runtime,
            "budget_musd": budget,
            "release_month": release_month,
            "genres": _genres(rec.get(schema.genres_col), schema.genres_format) if schema.genres_col else [],
            "release_date": release_date,
            "keywords": _names(rec.get(schema.keywords_col)) if schema.keywords_col else [],
            "companies": _names(rec.get(schema.companies_col)) if schema.companies_col else [],
            "countries": (
                _names(rec.get(schema.countries_col), ("iso_3166_1", "name")) if schema.countries_col else []
            ),
            "language": _str(rec.get(schema.language_col)).lower() if schema.language_col else "",
            "collection": _collection(rec.get(schema.collection_col)) if schema.collection_col else "",
            "line": line,
        }
        for c in columns:
            row[f"src:{c}"] = rec[c]
        out.append(row)

    if fatal:
        line, first = fatal[0]
        others = [ln for ln, e in fatal[1:] if e.reason == first.reason]
        also = f"; the same ({first.reason}) on line(s) {_lines(others)}" if others else ""
        rest = len(fatal) - 1 - len(others)
        also += f"; {rest} more revenue cell(s) refused for other reasons" if rest else ""
        raise TableError(
            f"{source}: line {line}, column {revenue_position} ({schema.revenue_col!r}): {first}{also}"
        )
    df = pd.DataFrame(out)
    if df.empty:
        raise TableError(f"{source}: no usable films after validation; {_summary(report)}")
    df["release_date"] = pd.to_datetime(df["release_date"])
    if require_revenue:
        tiny = df.index[df["revenue_musd"].between(0, 0.001, inclusive="neither")]
        if len(tiny):
            report.warnings["revenue under $1,000 (possibly entered in the wrong unit): kept"].extend(
                df.loc[tiny, "line"].tolist()
            )
    report.rows_kept = len(df)
    if cfg.trailer_map:
        _join_trailer_map(df, cfg, schema, report)
    if cfg.people:
        from reelcast.data.people import join_people

        report.people = join_people(df, cfg.people)
    if base_dir is not None:
        df.attrs["base_dir"] = str(base_dir)
    report.log()
    return FilmTable(df=df, schema=schema, report=report, source=source)


CANONICAL_COLUMNS = (
    "film_id",
    "title",
    "text",
    "revenue_musd",
    "trailer",
    "year",
    "runtime",
    "budget_musd",
    "release_month",
    "genres",
    "release_date",
    "keywords",
    "companies",
    "countries",
    "language",
    "collection",
    "director",
    "cast",
    "line",
)
# Request fields that hold lists (a comma-separated string is split).
_LIST_FIELDS = ("genres", "keywords", "companies", "countries", "cast")


def canonical_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """A canonical film frame from dicts already in reelcast's column names (for single requests)."""
    rows = []
    for i, r in enumerate(records):
        unknown = set(r) - set(CANONICAL_COLUMNS)
        if unknown:
            raise ValueError(
                f"unknown film field(s) {', '.join(sorted(unknown))}; known: {', '.join(CANONICAL_COLUMNS)}"
            )
        row = {c: None for c in CANONICAL_COLUMNS}
        row.update(r)
        row["text"] = _str(row["text"])
        row["title"] = _str(row["title"])
        row["trailer"] = _str(row["trailer"])
        for c in _LIST_FIELDS:
            if not isinstance(row[c], list):
                row[c] = _genres(row[c], "comma") if c == "genres" else _names(row[c])
        row["language"] = _str(row["language"]).lower()
        row["collection"] = _str(row["collection"])
        row["director"] = _str(row["director"])
        date = pd.to_datetime(row["release_date"], errors="coerce") if row["release_date"] else pd.NaT
        if row["release_date"] and pd.isna(date):
            raise ValueError(f"film {i + 1}: release_date {row['release_date']!r} is not a date")
        row["release_date"] = date
        if not pd.isna(date):
            row["year"] = row["year"] or int(date.year)
            row["release_month"] = row["release_month"] or int(date.month)
        row["film_id"] = row["film_id"] or row["title"] or f"film{i + 1}"
        row["line"] = row["line"] or i + 1
        rows.append(row)
    df = pd.DataFrame(rows, columns=list(CANONICAL_COLUMNS))
    df["release_date"] = pd.to_datetime(df["release_date"])
    return df


def _join_trailer_map(df: pd.DataFrame, cfg: DataConfig, schema: Schema, report: TableReport) -> None:
    """Fill empty trailer cells with MovieLens YouTube ids (by TMDb id, IMDb id, then title + year)."""
    from reelcast.data.trailer_map import join_trailers

    links = Path(cfg.trailer_links) if cfg.trailer_links else None
    tmdb = "film_id" if schema.name == "tmdb5000" else None
    imdb = next((c for c in df.columns if c.lower() in ("src:imdb_id", "src:imdbid", "src:tconst")), None)
    ids, join = join_trailers(
        df, Path(cfg.trailer_map), links, tmdb_col=tmdb, imdb_col=imdb, title_col="title", year_col="year"
    )
    empty = df["trailer"] == ""
    df.loc[empty, "trailer"] = ids[empty].fillna("").astype(str)
    report.trailer_map = join
    log.info(
        "trailer map %s: %d of %d films matched (%.1f %%): %s",
        cfg.trailer_map,
        join["matched"],
        join["films"],
        100 * join["hit_rate"],
        ", ".join(f"{m} {n}" for m, n in join["by_method"].items()),
    )


def _summary(report: TableReport) -> str:
    parts = [f"{len(v)} {k}" for k, v in report.dropped.items()]
    return "dropped: " + "; ".join(parts) if parts else "the table has no rows"

"""Reading a film table (CSV or Parquet), validating it, and mapping it to reelcast's columns.

The canonical frame has one row per film and these columns:
    film_id, title, text, revenue_musd, trailer, year, runtime, budget_musd, release_month, genres,
    release_date (Timestamp or NaT), keywords, companies, countries (lists of str), language,
    collection (str, "" when none), line (the row's line in the source file, for error messages)
A column the table lacks, an empty cell or a request field left out is None (unknown), never [] or "".
plus every source column under its own name prefixed with `src:` so tabular features can use them.
A year-only date gives `year` with `release_month` None and `release_date` NaT: the month is unknown.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from reelcast.config import Config, DataConfig
from reelcast.data.cells import genre_list, name_list, text
from reelcast.data.cells import parse_number as parse_number  # the table's number rules, for features/
from reelcast.data.dates import DateError, parse_release_date
from reelcast.data.money import DECIMALS
from reelcast.data.read import TableError, check_headers, decode_binary_cells, delimiter_name, read_raw
from reelcast.data.report import TableReport
from reelcast.data.rows import Rows, raise_fatal, read_film
from reelcast.data.schema import Schema, resolve_schema

log = logging.getLogger(__name__)


@dataclass
class FilmTable:
    """A validated film table in reelcast's columns."""

    df: pd.DataFrame
    schema: Schema
    report: TableReport
    source: str

    def __len__(self) -> int:
        return len(self.df)


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
    attrs = dict(raw.attrs)
    raw, schema = map_columns(raw, cfg, source, require_revenue)
    lines = lines or list(range(2, len(raw) + 2))
    decode_binary_cells(raw, source, lines)
    report = _new_report(len(raw), attrs, source, schema, cfg, skipped_lines or [])
    rows = Rows.start(cfg, schema, report, require_revenue)
    out = []
    for rec, line in zip(raw.to_dict("records"), lines, strict=True):
        film = read_film(rec, line, rows)
        if film is not None:
            out.append(film)
    raise_fatal(rows.fatal, list(raw.columns), source)
    df = _to_frame(out, report, require_revenue)
    _join_extras(df, cfg, schema, report)
    if base_dir is not None:
        df.attrs["base_dir"] = str(base_dir)
    report.log()
    return FilmTable(df=df, schema=schema, report=report, source=source)


def map_columns(
    raw: pd.DataFrame, cfg: DataConfig, source: str, require_revenue: bool = True
) -> tuple[pd.DataFrame, Schema]:
    """The frame with string headers (refusing repeats) and the schema saying which column is what."""
    if cfg.decimal not in DECIMALS:
        raise ValueError(f"--decimal (data.decimal) must be '.' or ',' (or auto), got {cfg.decimal!r}")
    delimiter = raw.attrs.get("delimiter")
    raw = raw.reset_index(drop=True)
    columns = [str(c) for c in raw.columns]
    check_headers(source, columns, "")
    raw.columns = columns
    try:
        schema = resolve_schema(columns, cfg, source, require_revenue=require_revenue)
    except ValueError as e:
        if delimiter:  # a wrong delimiter shows up as one long column name: say how the file was split
            raise TableError(f"{e} (the header was read as {delimiter_name(delimiter)}-separated)") from e
        raise
    if delimiter and delimiter != ",":
        log.info("%s: read as %s-separated", source, delimiter_name(delimiter))
    return raw, schema


def _new_report(
    n: int, attrs: dict, source: str, schema: Schema, cfg: DataConfig, skipped: list[int]
) -> TableReport:
    """The report, starting with the rows the reader already set aside (malformed, oversize)."""
    oversize = list(attrs.get("oversize_lines") or [])
    report = TableReport(source=source, schema=schema.name, rows_read=n + len(skipped) + len(oversize))
    if skipped:
        report.dropped["malformed CSV row (wrong number of fields)"].extend(skipped)
    if oversize:
        report.dropped[f"a cell longer than data.max_cell_chars = {cfg.max_cell_chars:,}"].extend(oversize)
    return report


def _to_frame(out: list[dict[str, Any]], report: TableReport, require_revenue: bool) -> pd.DataFrame:
    """The canonical frame of the kept films; TableError when none is left."""
    df = pd.DataFrame(out)
    if df.empty:
        raise TableError(f"{report.source}: no usable films after validation; {_summary(report)}")
    df["release_date"] = pd.to_datetime(df["release_date"])
    if require_revenue:
        tiny = df.index[df["revenue_musd"].between(0, 0.001, inclusive="neither")]
        if len(tiny):
            report.warnings["revenue under $1,000 (possibly entered in the wrong unit): kept"].extend(
                df.loc[tiny, "line"].tolist()
            )
    report.rows_kept = len(df)
    return df


def _join_extras(df: pd.DataFrame, cfg: DataConfig, schema: Schema, report: TableReport) -> None:
    """Join the trailer map and the people table when the config names them."""
    if cfg.trailer_map:
        from reelcast.data.trailer_map import fill_trailers

        report.trailer_map = fill_trailers(df, cfg, tmdb_ids=schema.name == "tmdb5000")
    if cfg.people:
        from reelcast.data.people import join_people

        report.people = join_people(df, cfg.people)


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
        row["text"] = text(row["text"])
        row["title"] = text(row["title"])
        row["trailer"] = text(row["trailer"])
        # A field left out (or blank) is unknown: None, never an empty list or "" that means "none".
        for c in _LIST_FIELDS:
            if not isinstance(row[c], list) and not text(row[c]):
                row[c] = None
            elif not isinstance(row[c], list):
                row[c] = genre_list(row[c], "comma") if c == "genres" else name_list(row[c])
        row["language"] = text(row["language"]).lower() or None
        row["collection"] = None if row["collection"] is None else text(row["collection"])
        row["director"] = text(row["director"]) or None
        try:
            when = parse_release_date(row["release_date"])
        except DateError as e:
            raise ValueError(f"film {i + 1}: release_date {e}") from None
        row["release_date"] = when.date if when is not None and when.date is not None else pd.NaT
        if when is not None:
            row["year"] = row["year"] or when.year
            row["release_month"] = row["release_month"] or when.month
        row["film_id"] = row["film_id"] or row["title"] or f"film{i + 1}"
        row["line"] = row["line"] or i + 1
        rows.append(row)
    df = pd.DataFrame(rows, columns=list(CANONICAL_COLUMNS))
    df["release_date"] = pd.to_datetime(df["release_date"])
    return df


def _summary(report: TableReport) -> str:
    parts = [f"{len(v)} {k}" for k, v in report.dropped.items()]
    return "dropped: " + "; ".join(parts) if parts else "the table has no rows"


# What the predictor and the experiment accept as a table of films.
Data = FilmTable | pd.DataFrame | str | Path


def as_table(data: Data, cfg: Config, require_revenue: bool = True) -> FilmTable:
    """A validated FilmTable from a path, a raw DataFrame, or a FilmTable."""
    if isinstance(data, FilmTable):
        return data
    if isinstance(data, pd.DataFrame):
        return films_from_frame(data, cfg.data, require_revenue=require_revenue)
    return load_films(data, cfg.data, require_revenue=require_revenue)

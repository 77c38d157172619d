"""Built-in table schemas (Kaggle IMDB-1000, TMDB-5000) and a generic one from user-named columns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from reelcast.config import DataConfig
from reelcast.data.cells import parse_number


@dataclass(frozen=True)
class Schema:
    """Which source column holds what, and in which unit."""

    name: str
    text_col: str
    revenue_col: str
    revenue_scale: float  # multiply by this to get millions
    zero_revenue_valid: bool
    id_col: str | None = None
    title_col: str | None = None
    trailer_col: str | None = None
    year_col: str | None = None
    release_date_col: str | None = None
    runtime_col: str | None = None
    genres_col: str | None = None
    genres_format: str = "comma"  # comma | tmdb_json
    budget_col: str | None = None
    budget_scale: float = 1.0
    budget_unit_declared: bool = True  # as revenue_unit_declared, for the budget column
    # Pre-release lists and labels (issue 8); TMDB keeps the lists as JSON arrays of {"name": ...}.
    keywords_col: str | None = None
    companies_col: str | None = None
    countries_col: str | None = None
    language_col: str | None = None
    collection_col: str | None = None
    # Columns only known after release: they leak the outcome and are never features by default.
    post_release_cols: tuple[str, ...] = field(default_factory=tuple)
    # Headers that identify the schema.
    signature: tuple[str, ...] = field(default_factory=tuple)
    # False when nothing says the revenue column's unit (a generic table without data.revenue_scale):
    # then "$1,234,567" is dollars and a bare 1234567 is refused as implausible millions.
    revenue_unit_declared: bool = True

    def required(self) -> list[str]:
        """Columns a table must have for this schema."""
        return [self.text_col, self.revenue_col]


IMDB1000 = Schema(
    name="imdb1000",
    text_col="Description",
    revenue_col="Revenue (Millions)",
    revenue_scale=1.0,
    # Revenue is in millions rounded to 2 decimals, so 0.00 is a real revenue under $5,000.
    zero_revenue_valid=True,
    id_col="Rank",
    title_col="Title",
    year_col="Year",
    runtime_col="Runtime (Minutes)",
    genres_col="Genre",
    genres_format="comma",
    post_release_cols=("Votes", "Rating", "Metascore"),
    signature=("Description", "Revenue (Millions)", "Title"),
)

TMDB5000 = Schema(
    name="tmdb5000",
    text_col="overview",
    revenue_col="revenue",
    revenue_scale=1e-6,
    # TMDB writes 0 for an unknown revenue.
    zero_revenue_valid=False,
    id_col="id",
    title_col="title",
    release_date_col="release_date",
    runtime_col="runtime",
    genres_col="genres",
    genres_format="tmdb_json",
    budget_col="budget",
    budget_scale=1e-6,
    keywords_col="keywords",
    companies_col="production_companies",
    countries_col="production_countries",
    language_col="original_language",
    collection_col="belongs_to_collection",
    post_release_cols=("vote_count", "vote_average", "popularity"),
    signature=("overview", "revenue", "budget", "genres"),
)

# Films that arrive one at a time (CLI flags, the API) are already in reelcast's own columns.
GENERIC_REQUEST = Schema(
    name="request",
    text_col="text",
    revenue_col="revenue_musd",
    revenue_scale=1.0,
    zero_revenue_valid=True,
    title_col="title",
    trailer_col="trailer",
)

BUILTIN: dict[str, Schema] = {s.name: s for s in (IMDB1000, TMDB5000)}

# Common names tried for a generic table when the user names no column.
_GENERIC_GUESSES = {
    "text_col": ("description", "overview", "plot", "synopsis", "summary", "text"),
    "revenue_col": ("revenue", "gross", "box_office", "revenue_musd", "worldwide_gross"),
    "title_col": ("title", "name", "movie_title", "film"),
    "id_col": ("id", "film_id", "movie_id", "imdb_id", "tmdb_id"),
    "trailer_col": ("trailer", "trailer_url", "youtube", "youtube_id", "youtubeid", "trailer_path"),
    "year_col": ("year", "title_year", "release_year"),
    "runtime_col": ("runtime", "duration", "runtime_minutes"),
    "genres_col": ("genres", "genre"),
    "budget_col": ("budget",),
    "release_date_col": ("release_date",),
    "keywords_col": ("keywords", "plot_keywords"),
    "companies_col": ("production_companies", "companies", "studio", "studios"),
    "countries_col": ("production_countries", "countries", "country"),
    "language_col": ("original_language", "language"),
    "collection_col": ("belongs_to_collection", "collection", "franchise"),
}


def _find(columns: list[str], names: tuple[str, ...]) -> str | None:
    lower = {c.lower().strip(): c for c in columns}
    for n in names:
        if n in lower:
            return lower[n]
    return None


def _in_millions(header: str | None) -> bool:
    """True for a header that says its unit is millions ("Gross (Millions)", "budget_musd")."""
    return bool(re.search(r"(?i)million|musd|\(m\)|_m$", header or ""))


_FIELDS = (
    "text_col",
    "revenue_col",
    "id_col",
    "title_col",
    "trailer_col",
    "year_col",
    "release_date_col",
    "runtime_col",
    "genres_col",
    "budget_col",
    "keywords_col",
    "companies_col",
    "countries_col",
    "language_col",
    "collection_col",
)
_OPTIONAL = _FIELDS[2:]  # every field but the text and the revenue


def _check_case_twins(schema: Schema, columns: list[str], named: set[str], source: str) -> None:
    """Refuse a field whose column has a twin differing only in case or spaces ('Revenue', 'revenue')."""
    for attr in _FIELDS:
        col = getattr(schema, attr)
        if not col or attr in named or col not in columns:
            continue
        twins = [c for c in columns if c != col and c.strip().lower() == col.strip().lower()]
        if twins:
            raise ValueError(
                f"{source}: columns {col!r} and {twins[0]!r} both read as the {attr[:-4].replace('_', ' ')}; "
                "rename or drop one, or name the one to use (e.g. --set data.revenue_col=...)"
            )


def resolve_schema(columns: list[str], cfg: DataConfig, source: str, require_revenue: bool = True) -> Schema:
    """Pick the schema for a table (by header or by cfg.schema) and apply the user's column flags."""
    if cfg.schema not in ("auto", "generic", *BUILTIN):
        raise ValueError(f"unknown schema {cfg.schema!r}; known: auto, generic, {', '.join(BUILTIN)}")
    schema = _builtin(columns, cfg) or _generic(columns, cfg, source, require_revenue)
    overrides = _overrides(schema, cfg)
    schema = replace(schema, **overrides)
    if schema.trailer_col is None:
        schema = replace(schema, trailer_col=_find(columns, _GENERIC_GUESSES["trailer_col"]))
    required = schema.required() if require_revenue else [schema.text_col]
    missing = [c for c in required if c not in columns]
    for attr in ("id_col", "title_col", "trailer_col"):
        name = getattr(schema, attr)
        if name is not None and name not in columns and attr in overrides:
            missing.append(name)
    if missing:
        raise ValueError(
            f"{source}: missing required column {', '.join(repr(m) for m in missing)} "
            f"(schema {schema.name}); columns found: {', '.join(columns)}"
        )
    _check_case_twins(schema, columns, set(overrides), source)
    # Optional columns of a built-in schema that this copy of the table lacks are simply unused.
    absent = {
        a: None for a in _OPTIONAL if getattr(schema, a) is not None and getattr(schema, a) not in columns
    }
    return replace(schema, **absent) if absent else schema


def _builtin(columns: list[str], cfg: DataConfig) -> Schema | None:
    """The built-in schema named by cfg.schema, or (auto) the first whose signature the header has."""
    if cfg.schema in BUILTIN:
        return BUILTIN[cfg.schema]
    if cfg.schema == "auto":
        return next((s for s in BUILTIN.values() if all(c in columns for c in s.signature)), None)
    return None


def _generic(columns: list[str], cfg: DataConfig, source: str, require_revenue: bool) -> Schema:
    """A schema from the user's column flags and the usual column names; units undeclared."""
    guesses = {k: _find(columns, v) for k, v in _GENERIC_GUESSES.items()}
    guesses["text_col"] = cfg.text_col or guesses["text_col"] or ""
    guesses["revenue_col"] = cfg.revenue_col or guesses["revenue_col"] or ""
    schema = Schema(
        name="generic",
        revenue_scale=1.0,
        zero_revenue_valid=False,
        revenue_unit_declared=False,
        budget_unit_declared=False,
        **guesses,
    )
    needed = (("--text-col", "text_col"), ("--revenue-col", "revenue_col"))
    for flag, attr in needed if require_revenue else needed[:1]:
        if not getattr(schema, attr):
            raise ValueError(
                f"{source}: cannot tell which column holds the {attr[:-4]}; pass {flag}. "
                f"Columns found: {', '.join(columns)}"
            )
    return schema


def _overrides(schema: Schema, cfg: DataConfig) -> dict[str, Any]:
    """The schema fields the user's flags and config set, and units a generic header declares."""
    overrides: dict[str, Any] = {
        k: getattr(cfg, k)
        for k in ("id_col", "title_col", "text_col", "revenue_col", "trailer_col")
        if getattr(cfg, k) is not None
    }
    if cfg.revenue_scale is not None:
        overrides["revenue_scale"] = cfg.revenue_scale
        overrides["revenue_unit_declared"] = True
    elif schema.name == "generic" and _in_millions(schema.revenue_col):
        overrides["revenue_unit_declared"] = True  # "Gross (Millions)", "revenue_musd": millions, as read
    if cfg.budget_scale is not None:
        overrides["budget_scale"] = cfg.budget_scale
        overrides["budget_unit_declared"] = True
    elif schema.name == "generic" and _in_millions(schema.budget_col):
        overrides["budget_unit_declared"] = True
    if cfg.zero_revenue_valid is not None:
        overrides["zero_revenue_valid"] = cfg.zero_revenue_valid
    return overrides


# ---- post-release columns as training targets ------------------------------------------------------
# Recognised post-release columns a network may learn as extra outputs (never read as inputs), with the
# scale they are learned on: counts span orders of magnitude, so they are learned as log(1 + x).
AUX_TARGETS: dict[str, str] = {
    "vote_average": "identity",
    "vote_count": "log1p",
    "popularity": "log1p",
    "Rating": "identity",
    "Votes": "log1p",
    "Metascore": "identity",
    "imdb_score": "identity",
    "num_voted_users": "log1p",
    "num_critic_for_reviews": "log1p",
}


# How a model's estimate of each recognised target reads to a person: its label and its number format.
AUX_LABELS: dict[str, tuple[str, str]] = {
    "vote_average": ("TMDB user rating", "{:.1f}"),
    "vote_count": ("TMDB vote count", "{:,.0f}"),
    "popularity": ("TMDB popularity", "{:.1f}"),
    "rating": ("IMDb rating", "{:.1f}"),
    "votes": ("IMDb votes", "{:,.0f}"),
    "metascore": ("Metascore", "{:.0f}"),
    "imdb_score": ("IMDb rating", "{:.1f}"),
    "num_voted_users": ("IMDb votes", "{:,.0f}"),
    "num_critic_for_reviews": ("critic reviews", "{:,.0f}"),
}


def aux_estimate_text(name: str, value: float) -> tuple[str, str]:
    """(label, sentence) of a model's estimate of a post-release figure, e.g. 'expected IMDb rating 7.4
    (model estimate)'; a column not recognised keeps its own name."""
    label, fmt = AUX_LABELS.get(name.lower(), (name, "{:.3g}"))
    return label, f"expected {label} {fmt.format(value)} (model estimate)"


def aux_transform(name: str) -> str:
    """How a target is scaled for learning: identity or log1p (unknown columns: identity)."""
    lower = {k.lower(): v for k, v in AUX_TARGETS.items()}
    return lower.get(name.lower(), "identity")


def resolve_aux_targets(requested: list[str], columns: list[str], source: str) -> list[str]:
    """The source columns named by --aux-targets (`auto`: every recognised one the table has).

    `columns` are the table's source headers; a named column the table lacks is an error naming it.
    """
    if not requested:
        return []
    by_lower = {c.lower(): c for c in columns}
    if [r.lower() for r in requested] == ["auto"]:
        found = [by_lower[k.lower()] for k in AUX_TARGETS if k.lower() in by_lower]
        if not found:
            raise ValueError(
                f"{source}: --aux-targets auto found none of the recognised post-release columns "
                f"({', '.join(AUX_TARGETS)}); name the target columns instead"
            )
        return found
    out = []
    for r in requested:
        if r.lower() == "auto":
            raise ValueError("--aux-targets: 'auto' cannot be combined with column names")
        if r.lower() not in by_lower:
            raise ValueError(
                f"{source}: --aux-targets column {r!r} is not in the table; "
                f"columns found: {', '.join(columns)}"
            )
        out.append(by_lower[r.lower()])
    return list(dict.fromkeys(out))


def aux_target_values(films: Any, names: list[str], source: str) -> dict[str, np.ndarray]:
    """Each target column of a canonical film frame as floats on its learning scale (NaN: unknown).

    `films` holds the source columns as `src:<name>`; a cell that is not a number is an error naming
    its line and column; an empty one is unknown, and that film teaches the other outputs only.
    """
    out: dict[str, np.ndarray] = {}
    for name in names:
        col = f"src:{name}"
        if col not in films:
            raise ValueError(f"{source}: aux target column {name!r} is not in the table")
        values = np.full(len(films), np.nan)
        lines = films["line"].tolist() if "line" in films else [None] * len(films)
        for i, (cell, line) in enumerate(zip(films[col].tolist(), lines, strict=True)):
            try:
                x = parse_number(cell)
            except ValueError:
                raise ValueError(
                    f"{source}: line {line}, column {name!r}: {cell!r} is not a number (an aux target)"
                ) from None
            if x is not None and np.isfinite(x):
                values[i] = np.log1p(max(x, 0.0)) if aux_transform(name) == "log1p" else x
        out[name] = values
    return out


def aux_targets_of(table: Any, requested: list[str]) -> dict[str, np.ndarray]:
    """The --aux-targets of a FilmTable by column name, every film, on their learning scale."""
    if not requested:
        return {}
    columns = [c.removeprefix("src:") for c in table.df.columns if c.startswith("src:")]
    return aux_target_values(table.df, resolve_aux_targets(requested, columns, table.source), table.source)

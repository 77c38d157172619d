"""Several film tables as one: the pooled corpus `reelcast pretrain` learns shared layers on.

Each table is read with its own schema into reelcast's columns, so what the tables share (plot, year,
runtime, budget, genres) lines up by meaning; a source column one table lacks is unknown (NaN) for
the other's films, and every table's post-release columns stay refused as inputs.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from reelcast.data.report import TableReport
from reelcast.data.splits import Split, day_and_year, revenue_strata
from reelcast.data.table import FilmTable

log = logging.getLogger(__name__)


def pool_tables(tables: list[FilmTable]) -> FilmTable:
    """One table of every film of `tables`; film ids are prefixed by their table's file name."""
    if not tables:
        raise ValueError("pool_tables needs at least one table")
    names = [Path(t.source).stem for t in tables]
    if len(set(names)) != len(names):  # ids must stay distinct across tables
        names = [f"{i}-{n}" for i, n in enumerate(names)]
    frames = []
    for name, t in zip(names, tables, strict=True):
        df = t.df.copy()
        df["film_id"] = name + ":" + df["film_id"].astype(str)
        frames.append(df)
    films = pd.concat(frames, ignore_index=True)
    post = tuple(dict.fromkeys(c for t in tables for c in t.schema.post_release_cols))
    schema = replace(tables[0].schema, name="pooled", post_release_cols=post)
    report = TableReport(" + ".join(t.source for t in tables), "pooled")
    report.rows_read = sum(t.report.rows_read for t in tables)
    report.rows_kept = len(films)
    return FilmTable(df=films, schema=schema, report=report, source=report.source)


def pretrain_split(revenue_musd: np.ndarray, val_fraction: float, seed: int) -> Split:
    """Every film trains but a stratified `val_fraction` that early stopping reads; no test films."""
    n = len(revenue_musd)
    n_val = max(8, round(n * val_fraction))
    if n - n_val < 16:
        raise ValueError(f"{n} films are too few to pretrain on (at least {n_val + 16})")
    strata = revenue_strata(revenue_musd, 8)
    train, val = train_test_split(np.arange(n), test_size=n_val, random_state=seed, stratify=strata)
    return Split("pretrain", np.sort(train), np.sort(val), np.zeros(0, dtype=np.int64))


def film_keys(df: pd.DataFrame) -> list[tuple[str, int]]:
    """(lower-case title, year; -1 when unknown) of each film: how the same film is recognised in two
    tables."""
    years = df["year"].fillna(-1).astype(int)
    return list(zip(df["title"].astype(str).str.strip().str.lower(), years, strict=True))


def add_training_films(table: FilmTable, extra: list[FilmTable]) -> tuple[FilmTable, np.ndarray]:
    """The user's table with the films of `extra` appended (ids prefixed by their file's name) and the
    positions of the appended films. A film the user's table also holds (same title and year) is left
    out, so none of the user's validation or test films comes back as a training film."""
    if not extra:
        return table, np.zeros(0, dtype=np.int64)
    pooled = pool_tables(extra)
    known = set(film_keys(table.df))
    keep = np.array([k not in known for k in film_keys(pooled.df)], dtype=bool)
    added = pooled.df[keep]
    log.info(
        "--add-films: %d films added to every split's training films (%d left out: the table holds them)",
        len(added),
        int((~keep).sum()),
    )
    films = pd.concat([table.df, added], ignore_index=True)
    post = tuple(dict.fromkeys([*table.schema.post_release_cols, *pooled.schema.post_release_cols]))
    out = FilmTable(
        df=films,
        schema=replace(table.schema, post_release_cols=post),
        report=table.report,
        source=table.source,
    )
    return out, np.arange(len(table.df), len(films), dtype=np.int64)


def with_added_films(split: Split, added: np.ndarray, films: pd.DataFrame, by_date: bool) -> Split:
    """`split` with the added films among its training films, the class edges still its own training
    films'; by date, only added films released before its first validation or test film."""
    if not len(added):
        return split
    if by_date:
        days, _ = day_and_year(films)
        later = np.concatenate([split.val, split.test])
        first = np.nanmin(days[later]) if len(later) and np.isfinite(days[later]).any() else np.inf
        added = added[days[added] < first]  # an undated film cannot be shown to be earlier
    train = np.concatenate([split.train, added])
    return replace(split, train=train, edges=split.train if split.edges is None else split.edges)

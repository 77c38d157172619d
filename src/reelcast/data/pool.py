"""Several film tables as one: the pooled corpus `reelcast pretrain` learns shared layers on.

Each table is read with its own schema into reelcast's columns, so what the tables share (plot, year,
runtime, budget, genres) lines up by meaning; a source column one table lacks is unknown (NaN) for
the other's films, and every table's post-release columns stay refused as inputs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from reelcast.data.report import TableReport
from reelcast.data.splits import Split, revenue_strata
from reelcast.data.table import FilmTable


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

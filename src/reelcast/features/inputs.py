"""A film table's cells as feature inputs: each canonical column's values and, per film, whether it is known.

An input is unknown when the column is missing, the cell is empty (None / NaN, "" for a name), or a
request left the field out. An explicit empty list (no keywords) or empty collection is "none" only
when `none_means_unknown` is off. Keywords lose their outcome-encoding tags here (features.leakage), so
a refused tag is as if nobody had written it.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np
import pandas as pd

from reelcast.data.splits import day_and_year
from reelcast.data.table import parse_number
from reelcast.features.leakage import refuse_leaky_keywords

LIST_INPUTS = ("genres", "keywords", "companies", "countries", "cast")
# Names a film always has: an empty one is a blank in the record, never "none".
NAME_INPUTS = ("title", "language", "director")


def num(v) -> float:
    try:
        x = parse_number(v)
    except ValueError:
        return math.nan
    return math.nan if x is None else x


def as_list(v) -> list[str]:
    return list(v) if isinstance(v, (list, tuple, np.ndarray)) else []


def text(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def column(df: pd.DataFrame, c: str, empty) -> list:
    return df[c].tolist() if c in df else [empty() for _ in range(len(df))]


class InputCells:
    """The canonical inputs of some films, each read once: (values, known) per input name."""

    def __init__(self, df: pd.DataFrame, none_means_unknown: bool):
        self.df, self.n, self.none_means_unknown = df, len(df), none_means_unknown
        self._cache: dict[str, tuple[list | np.ndarray, np.ndarray]] = {}
        self._numeric: dict[str, np.ndarray] = {}

    @cached_property
    def day_and_year(self) -> tuple[np.ndarray, np.ndarray]:
        """Each film's release day ordinal and year (NaN: unknown), as `data.splits.day_and_year`."""
        return day_and_year(self.df)

    def get(self, name: str) -> tuple[list | np.ndarray, np.ndarray]:
        """(values, known): lists, texts, dates or floats per film, and a bool mask of known films."""
        if name not in self._cache:
            self._cache[name] = self._read(name)
        return self._cache[name]

    def _read(self, name: str) -> tuple[list | np.ndarray, np.ndarray]:
        cells = column(self.df, name, lambda: None)
        if name in LIST_INPUTS:
            lists = [as_list(v) for v in cells]
            if name == "keywords":  # a refused tag is as if nobody had written it
                lists = [refuse_leaky_keywords(v) for v in lists]
            is_list = [isinstance(v, (list, tuple, np.ndarray)) for v in cells]
            empty_known = not self.none_means_unknown
            known = [ok and (len(v) > 0 or empty_known) for ok, v in zip(is_list, lists, strict=True)]
            return lists, np.array(known, dtype=bool).reshape(self.n)
        if name in NAME_INPUTS or name == "collection":
            texts = [text(v).strip() for v in cells]
            if name == "collection":  # "" = in no collection, a fact unless none means unknown
                blank_known = not self.none_means_unknown
                known = [
                    bool(t) or (v is not None and not _nan(v) and blank_known)
                    for t, v in zip(texts, cells, strict=True)
                ]
            else:
                known = [bool(t) for t in texts]
            return texts, np.array(known, dtype=bool).reshape(self.n)
        if name == "release_date":
            known = [v is not None and not pd.isna(v) for v in cells]
            return cells, np.array(known, dtype=bool).reshape(self.n)
        x = self.numeric(name)
        return x, np.isfinite(x)

    def numeric(self, name: str) -> np.ndarray:
        """A numeric input as floats (NaN = unknown; read-only, shared); budgets as log1p millions."""
        if name not in self._numeric:
            self._numeric[name] = self._read_numeric(name)
        return self._numeric[name]

    def _read_numeric(self, name: str) -> np.ndarray:
        source = self.df[name] if name in self.df else self.df.get(f"src:{name}")
        if source is None:
            x = np.full(self.n, np.nan)
        else:
            x = np.array([num(v) for v in source], dtype=np.float64).reshape(self.n)
        if name == "budget_musd":
            x = np.log1p(np.where(x >= 0, x, np.nan))  # budgets span 4 orders of magnitude
        x.flags.writeable = False  # read by several features: none may change it for the others
        return x


def _nan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)

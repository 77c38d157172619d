"""Pre-release metadata as features: standardised numerics, log budget, multi-hot genres.

Statistics (means, scales, the genre vocabulary) are fit on the training films only. Columns known
only after release (votes, ratings, popularity) leak the outcome and are refused unless the user
explicitly allows them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reelcast.data.table import parse_number

log = logging.getLogger(__name__)

# The canonical pre-release columns, in the order they are tried.
PRE_RELEASE = ("year", "runtime", "budget_musd", "release_month", "genres")
# Built-in post-release names (all schemas), matched case-insensitively against source columns.
POST_RELEASE = (
    "votes",
    "rating",
    "metascore",
    "vote_count",
    "vote_average",
    "popularity",
    "gross",
    "num_voted_users",
    "num_user_for_reviews",
    "num_critic_for_reviews",
    "imdb_score",
)


class LeakageError(ValueError):
    """A post-release column was asked for without --allow-post-release."""


def default_columns(df: pd.DataFrame) -> list[str]:
    """The pre-release columns this table actually has values for."""
    cols = []
    for c in PRE_RELEASE:
        if c not in df:
            continue
        has = df[c].map(lambda v: bool(v)).any() if c == "genres" else df[c].notna().any()
        if has:
            cols.append(c)
    return cols


def check_leakage(columns: list[str], post_release: list[str], allow: bool) -> list[str]:
    """Raise on post-release columns unless allowed; return the ones used (for the report's warning)."""
    known = {p.lower() for p in (*POST_RELEASE, *post_release)}
    leaky = [c for c in columns if c.removeprefix("src:").lower() in known]
    if leaky and not allow:
        raise LeakageError(
            f"tabular columns {', '.join(leaky)} are only known after release and leak the revenue; "
            "pass --allow-post-release to use them anyway (the report will say so)"
        )
    if leaky:
        log.warning("LEAKAGE: post-release columns used as features: %s", ", ".join(leaky))
    return leaky


def _num(v) -> float:
    try:
        x = parse_number(v)
    except ValueError:
        return math.nan
    return math.nan if x is None else x


@dataclass
class TabularEncoder:
    """Fit on training rows, then turn any rows into a dense float32 matrix and a presence mask."""

    columns: list[str]
    means: dict[str, float] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)
    genres: list[str] = field(default_factory=list)

    def _raw_numeric(self, df: pd.DataFrame, col: str) -> np.ndarray:
        source = df[col] if col in df else df.get(f"src:{col}")
        if source is None:
            raise KeyError(f"tabular column {col!r} is not in the table")
        x = np.array([_num(v) for v in source], dtype=np.float64)
        if col == "budget_musd":
            x = np.log1p(np.where(x >= 0, x, np.nan))  # budgets span 4 orders of magnitude
        return x

    def fit(self, df: pd.DataFrame) -> TabularEncoder:
        """Learn standardisation and the genre vocabulary from the (training) rows."""
        for c in self.columns:
            if c == "genres":
                self.genres = sorted({g for gs in df["genres"] for g in gs})
                continue
            x = self._raw_numeric(df, c)
            mean = float(np.nanmean(x)) if np.isfinite(x).any() else 0.0
            std = float(np.nanstd(x)) if np.isfinite(x).sum() > 1 else 1.0
            self.means[c], self.scales[c] = mean, std if std > 0 else 1.0
        return self

    @property
    def feature_names(self) -> list[str]:
        """Names of the output columns, for permutation importance and reports."""
        names = []
        for c in self.columns:
            if c == "genres":
                names += [f"genre:{g}" for g in self.genres]
            else:
                names += [c, f"{c}:missing"]
        return names

    @property
    def dim(self) -> int:
        """Output width."""
        return len(self.feature_names)

    def transform(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(N, dim) float32 features and an (N,) bool mask: True where any column has a value."""
        parts, present = [], np.zeros(len(df), dtype=bool)
        for c in self.columns:
            if c == "genres":
                index = {g: i for i, g in enumerate(self.genres)}
                m = np.zeros((len(df), len(self.genres)), dtype=np.float32)
                for r, gs in enumerate(df["genres"]):
                    for g in gs:
                        if g in index:  # genres unseen in training carry no learned meaning
                            m[r, index[g]] = 1.0
                present |= m.any(1)
                parts.append(m)
                continue
            x = self._raw_numeric(df, c)
            missing = ~np.isfinite(x)
            z = np.where(missing, 0.0, (x - self.means[c]) / self.scales[c])
            present |= ~missing
            parts += [z[:, None].astype(np.float32), missing[:, None].astype(np.float32)]
        feats = np.concatenate(parts, axis=1) if parts else np.zeros((len(df), 0), np.float32)
        return feats.astype(np.float32), present

    def to_dict(self) -> dict:
        """For the checkpoint."""
        return {"columns": self.columns, "means": self.means, "scales": self.scales, "genres": self.genres}

    @classmethod
    def from_dict(cls, d: dict) -> TabularEncoder:
        """Rebuild from a checkpoint."""
        return cls(
            columns=list(d["columns"]),
            means=dict(d["means"]),
            scales=dict(d["scales"]),
            genres=list(d["genres"]),
        )

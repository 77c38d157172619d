"""Track records: an entity's (studio's, director's, star's) earlier revenue, from training films only.

The record stores, for every training film of an entity, its release day, year and log revenue in
constant dollars. A film's features then use only the films released strictly before it: both dates
known -> earlier date; otherwise -> earlier year (a film of the same year without a full date does not
count as before). A film is never before itself, so its own revenue never reaches its features, and
neither does any later film's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reelcast.data.cpi import to_constant_dollars
from reelcast.data.splits import day_and_year


def log_revenue(films: pd.DataFrame) -> np.ndarray:
    """log1p of revenue in constant millions (nominal when the year is unknown)."""
    rev = films["revenue_musd"].to_numpy(dtype=np.float64)
    _, years = day_and_year(films)
    real = to_constant_dollars(rev, years)
    return np.log1p(np.where(np.isfinite(real), real, rev))


@dataclass
class TrackRecord:
    """Earlier training films per entity; queried with a film's date without any revenue of its own.

    The value for an entity is its mean earlier log revenue, shrunk toward the market's (every training
    film released strictly before) by `smoothing` pseudo-films, minus the market's: how far above or
    below the films of its time the entity's films did. No statistic over all training films enters,
    so nothing released on or after the film's date reaches its features.
    """

    smoothing: float
    market: list[list[float | None]] = field(default_factory=list)  # every training film
    history: dict[str, list[list[float | None]]] = field(default_factory=dict)
    _arrays: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def fit(cls, entities: list[list[str]], films: pd.DataFrame, smoothing: float) -> TrackRecord:
        """Record every training film (rows of `films`, with revenue) under each of its entities."""
        days, years = day_and_year(films)
        lr = log_revenue(films)
        rec = cls(smoothing=smoothing)
        for i, names in enumerate(entities):
            if not np.isfinite(lr[i]):
                continue
            row = [_none(days[i]), _none(years[i]), float(lr[i])]
            rec.market.append(row)
            for name in dict.fromkeys(names):  # a name listed twice counts once
                rec.history.setdefault(name, []).append(row)
        return rec

    def _get(self, name: str | None):
        if name not in self._arrays:
            rows = self.market if name is None else self.history[name]
            h = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=np.float64)
            h = h.reshape(-1, 3)
            self._arrays[name] = (h[:, 0], h[:, 1], h[:, 2])
        return self._arrays[name]

    def _before(self, name: str | None, day: float, year: float) -> np.ndarray:
        d, y, r = self._get(name)
        both = np.isfinite(d) & np.isfinite(day)
        # NaN compares False, so a film without any date or year has no earlier films.
        return r[np.where(both, d < day, y < year)]

    def market_mean(self, day: float, year: float) -> float:
        """Mean log revenue of every training film released strictly before (NaN when none)."""
        r = self._before(None, day, year)
        return float(r.mean()) if len(r) else math.nan

    def earlier(self, name: str, day: float, year: float, prior: float | None = None) -> tuple[float, int]:
        """(shrunk mean earlier log revenue minus the market's, count) of the entity's earlier films."""
        if name not in self.history:
            return 0.0, 0
        r = self._before(name, day, year)
        if len(r) == 0:
            return 0.0, 0
        # The entity's own earlier films are market films, so the market mean exists here.
        prior = self.market_mean(day, year) if prior is None else prior
        mean = (r.sum() + self.smoothing * prior) / (len(r) + self.smoothing)
        return float(mean - prior), len(r)

    def features(self, entities: list[list[str]], days: np.ndarray, years: np.ndarray) -> np.ndarray:
        """Per film (release day ordinal and year, `day_and_year`): max and mean track value over its
        entities, log1p of the largest earlier count."""
        out = np.zeros((len(entities), 3), dtype=np.float64)
        for i, names in enumerate(entities):
            names = list(dict.fromkeys(names))
            if not names:
                continue
            # The market mean once per film, shared by its entities (only needed when one is known).
            prior = self.market_mean(days[i], years[i]) if any(n in self.history for n in names) else 0.0
            vals = [self.earlier(n, days[i], years[i], prior) for n in names]
            z = [v for v, _ in vals]
            out[i] = (max(z), float(np.mean(z)), math.log1p(max(c for _, c in vals)))
        return out

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"smoothing": self.smoothing, "market": self.market, "history": self.history}

    @classmethod
    def from_dict(cls, d: dict) -> TrackRecord:
        """Rebuild from `to_dict`."""
        return cls(
            smoothing=float(d["smoothing"]),
            market=[list(r) for r in d["market"]],
            history={k: [list(r) for r in v] for k, v in d["history"].items()},
        )


def _none(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)

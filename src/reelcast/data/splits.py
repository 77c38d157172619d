"""Stratified, seeded train/val/test splits and K folds.

Splitting needs strata before the class thresholds exist (those are fit on the training films only),
so films are stratified by their revenue rank in the whole table: provisional equal-frequency bins.
That uses each film's revenue only to balance the split, as any stratified split uses its labels; the
thresholds the model is trained and scored with still come from the training portion alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    """Row positions of the training, validation and test films."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    # The films whose revenues set the class edges; None: the training films. With --add-films the
    # added films train but the edges stay the user's own.
    edges: np.ndarray | None = None

    def sizes(self) -> dict[str, int]:
        """Counts per portion."""
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def day_and_year(films: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(proleptic day ordinal, year) per film as floats; NaN where unknown."""
    n = len(films)
    days = np.full(n, np.nan)
    if "release_date" in films:
        for i, d in enumerate(films["release_date"]):
            if d is not None and not pd.isna(d):
                days[i] = pd.Timestamp(d).toordinal()
    years = np.full(n, np.nan)
    if "year" in films:
        years = np.array([np.nan if v is None or pd.isna(v) else float(v) for v in films["year"]])
    return days, years


def revenue_strata(revenue_musd: np.ndarray, num_bins: int) -> np.ndarray:
    """Equal-frequency bins of revenue rank (ties broken by position, so every bin is filled)."""
    r = np.asarray(revenue_musd, dtype=np.float64)
    ranks = np.argsort(np.argsort(r, kind="stable"), kind="stable")
    return (ranks * num_bins // max(len(r), 1)).astype(np.int64)


def _can_stratify(strata: np.ndarray, n_take: int) -> bool:
    _, counts = np.unique(strata, return_counts=True)
    return counts.min() >= 2 and n_take >= len(counts)


def make_split(strata: np.ndarray, ratios: tuple[float, float, float], seed: int, name: str = "") -> Split:
    """One stratified split with the given (train, val, test) ratios."""
    n = len(strata)
    idx = np.arange(n)
    _, val_r, test_r = ratios
    n_test = max(1, round(n * test_r))
    n_val = max(1, round(n * val_r))
    if n - n_test - n_val < 1:
        raise ValueError(f"split {name}: {n} films are too few for ratios {ratios}")
    strat = strata if _can_stratify(strata, n_test) else None
    if strat is None:
        log.warning("split %s: too few films per class to stratify the test set; splitting at random", name)
    from sklearn.model_selection import train_test_split  # only when splitting: predict never does

    rest, test = train_test_split(idx, test_size=n_test, random_state=seed, stratify=strat)
    strat_rest = strata[rest] if _can_stratify(strata[rest], n_val) else None
    train, val = train_test_split(rest, test_size=n_val, random_state=seed + 1, stratify=strat_rest)
    return Split(name=name, train=np.sort(train), val=np.sort(val), test=np.sort(test))


def make_folds(strata: np.ndarray, k: int, seed: int) -> list[Split]:
    """K stratified folds: fold i is the test set, fold i+1 the validation set, the rest trains."""
    if k < 3:
        raise ValueError(f"--cv needs K >= 3 (one fold tests, one validates), got {k}")
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    folds = [test for _, test in skf.split(np.zeros(len(strata)), strata)]
    out = []
    for i in range(k):
        test, val = folds[i], folds[(i + 1) % k]
        train = np.concatenate([folds[j] for j in range(k) if j not in (i, (i + 1) % k)])
        out.append(Split(name=f"fold{i + 1}", train=np.sort(train), val=np.sort(val), test=np.sort(test)))
    return out


def date_order(films) -> tuple[np.ndarray, np.ndarray]:
    """Release order of a canonical film frame: (sort keys as day ordinals, films without a key).

    A film with a full release date sorts on it; a film with only a year sorts at July 1 of that year
    (mid-year: as likely before as after its year's dated films). A film with neither has no place.
    """

    days, years = day_and_year(films)
    mid_year = np.array([date(int(y), 7, 1).toordinal() if np.isfinite(y) else np.nan for y in years])
    keys = np.where(np.isfinite(days), days, mid_year)
    year_only = int((~np.isfinite(days) & np.isfinite(years)).sum())
    if year_only:
        log.info("date order: %d films have only a year and are placed at July 1 of it", year_only)
    return keys, ~np.isfinite(keys)


def make_date_split(films, ratios: tuple[float, float, float], name: str = "") -> Split:
    """Oldest films train, the next validate, the newest test, in the given proportions.

    Films released on the same day stay in table order. A film with neither a release date nor a year
    cannot be placed in time: that is an error naming how many and which lines.
    """
    keys, unknown = date_order(films)
    if unknown.any():
        lines = films["line"].to_numpy()[unknown] if "line" in films else np.flatnonzero(unknown)
        raise ValueError(
            f"split {name}: {int(unknown.sum())} films have neither a release date nor a year, so a date "
            f"split cannot place them (lines {', '.join(map(str, lines[:5]))}"
            f"{', ...' if unknown.sum() > 5 else ''}); fill them in or remove those rows"
        )
    n = len(keys)
    _, val_r, test_r = ratios
    n_test = max(1, round(n * test_r))
    n_val = max(1, round(n * val_r))
    if n - n_test - n_val < 1:
        raise ValueError(f"split {name}: {n} films are too few for ratios {ratios}")
    order = np.argsort(keys, kind="stable")
    n_train = n - n_val - n_test
    train, val, test = order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]
    log.info("date split %s: %d / %d / %d films", name, len(train), len(val), len(test))
    return Split(name=name, train=np.sort(train), val=np.sort(val), test=np.sort(test))

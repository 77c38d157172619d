"""US consumer prices (BLS CPI-U annual averages, shipped as data/cpi_us.csv) and constant dollars."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CPI_FILE = Path(__file__).with_name("cpi_us.csv")


@functools.cache
def cpi_table() -> dict[int, float]:
    """Year -> CPI-U annual average (1982-84 = 100), from the packaged table."""
    out: dict[int, float] = {}
    for n, line in enumerate(CPI_FILE.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("year"):
            continue
        try:
            y, v = line.split(",")
            out[int(y)] = float(v)
        except ValueError as e:
            raise ValueError(f"{CPI_FILE}: line {n}: expected year,cpi, got {line!r}") from e
    return out


def base_year() -> int:
    """The year whose dollars 'constant dollars' means: the last year of the table."""
    return max(cpi_table())


def deflator(years: np.ndarray) -> np.ndarray:
    """Factor turning a year's dollars into base-year dollars; NaN where the year is unknown.

    Years outside the table take its nearest year (a film released after the last CPI year is read
    as already in base-year dollars); callers log how many.
    """
    table = cpi_table()
    lo, hi = min(table), max(table)
    y = np.asarray(years, dtype=np.float64)
    out = np.full(y.shape, np.nan)
    ok = np.isfinite(y)
    base = table[hi]
    out[ok] = [base / table[int(min(max(v, lo), hi))] for v in y[ok]]
    return out


def to_constant_dollars(amounts: np.ndarray, years: np.ndarray) -> np.ndarray:
    """Amounts (any unit) in base-year dollars; NaN where the year is unknown."""
    return np.asarray(amounts, dtype=np.float64) * deflator(years)


def outside_table(years: np.ndarray) -> int:
    """How many known years fall outside the CPI table (they are clamped to its ends)."""
    table = cpi_table()
    y = np.asarray(years, dtype=np.float64)
    y = y[np.isfinite(y)]
    return int(((y < min(table)) | (y > max(table))).sum())

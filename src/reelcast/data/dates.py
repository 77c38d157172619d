"""Reading release dates and years: what a cell says, and nothing it does not.

- A year alone (`2010`) is a year with an unknown month and day, never 1 January.
- `2010-05` and `May 2010` give a year and a month; the day stays unknown.
- `01/02/2010` reads day-first or month-first: unless `data.dayfirst` says the order it is refused as
  ambiguous, and so is a column whose cells only read day-first on one line and only month-first on
  another (`13/01/2010` with `01/13/2010`). `05/05/2010` reads either way and is accepted.
- A year with a fraction (`2010.5`) and years outside FIRST_YEAR..LAST_YEAR are refused.
- Text that is no date at all is only noted: the film keeps its other fields.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# The oldest surviving film (Roundhay Garden Scene) and a horizon no release is planned beyond.
FIRST_YEAR = 1888
LAST_YEAR = 2100

_EMPTY = ("", "na", "n/a", "null", "none", "nat", "nan", "-")
_YEAR = re.compile(r"\d{4}")
_YEAR_FRACTION = re.compile(r"\d{4}[.,]\d+")
_ISO = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_YEAR_FIRST = re.compile(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})")
_YEAR_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_MONTH_YEAR = re.compile(r"(\d{1,2})[/.-](\d{4})")
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_NAMED_DAY = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y", "%d-%b-%Y")
_NAMED_MONTH = ("%B %Y", "%b %Y")


class DateError(ValueError):
    """A date or year cell that cannot be used. `fatal` ones stop the load (the table is misread)."""

    def __init__(self, message: str, fatal: bool = True, reason: str = "unreadable date"):
        super().__init__(message)
        self.fatal = fatal
        self.reason = reason


@dataclass(frozen=True)
class ReleaseDate:
    """What a date cell says: always the year, the month when given, the full date when the day is."""

    year: int
    month: int | None = None
    date: pd.Timestamp | None = None
    order: str | None = None  # "day-first" / "month-first" when only that order reads the cell


def _checked_year(year: int, cell: Any) -> int:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise DateError(
            f"{cell!r} is in the year {year}, outside {FIRST_YEAR}-{LAST_YEAR} (no film's release year)",
            reason="year out of range",
        )
    return year


def _full(year: int, month: int, day: int, cell: Any, order: str | None = None) -> ReleaseDate:
    _checked_year(year, cell)
    try:
        date = pd.Timestamp(dt.date(year, month, day))
    except ValueError:
        raise DateError(f"{cell!r} is not a calendar date", fatal=False) from None
    return ReleaseDate(year, month, date, order)


def _year_month(year: int, month: int, cell: Any) -> ReleaseDate:
    _checked_year(year, cell)
    if not 1 <= month <= 12:
        raise DateError(f"{cell!r} has no month {month}", fatal=False)
    return ReleaseDate(year, month)


def _valid(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def _day_or_month_first(a: int, b: int, year: int, cell: str, dayfirst: bool | None) -> ReleaseDate:
    """`a/b/year`: day-first when a is the day, month-first when a is the month."""
    as_day_first, as_month_first = _valid(year, b, a), _valid(year, a, b)
    if as_day_first and as_month_first and a != b:
        if dayfirst is None:
            raise DateError(
                f"{cell!r} is ambiguous: day-first it is {dt.date(year, b, a):%d %B %Y}, month-first "
                f"{dt.date(year, a, b):%d %B %Y}. Say the table's order with --dayfirst "
                "(--set data.dayfirst=true) or --set data.dayfirst=false",
                reason="ambiguous day/month order",
            )
        return _full(year, *((b, a) if dayfirst else (a, b)), cell)
    if as_day_first and not as_month_first:
        if dayfirst is False:
            raise DateError(
                f"{cell!r} does not read month-first (data.dayfirst = false)", reason="day/month order"
            )
        return _full(year, b, a, cell, None if a == b else "day-first")
    if as_month_first:
        if dayfirst is True:
            raise DateError(
                f"{cell!r} does not read day-first (data.dayfirst = true)", reason="day/month order"
            )
        return _full(year, a, b, cell, None if a == b else "month-first")
    _checked_year(year, cell)
    raise DateError(f"{cell!r} is not a calendar date in either day/month order", fatal=False)


def _named_month(cell: str) -> ReleaseDate | None:
    """'4 May 2012', 'May 4, 2012', 'May 2012'; None when no format reads it."""
    for fmt in _NAMED_DAY:
        try:
            d = dt.datetime.strptime(cell, fmt)
        except ValueError:
            continue
        return _full(d.year, d.month, d.day, cell)
    for fmt in _NAMED_MONTH:
        try:
            d = dt.datetime.strptime(cell, fmt)
        except ValueError:
            continue
        return _year_month(d.year, d.month, cell)
    return None


def _from_text(cell: str, dayfirst: bool | None) -> ReleaseDate:
    if _YEAR.fullmatch(cell):
        return ReleaseDate(_checked_year(int(cell), cell))
    if _YEAR_FRACTION.fullmatch(cell):
        raise DateError(
            f"{cell!r} is a year with a fraction, not a date: write the year (2010) or the date (2010-05-04)",
            reason="fractional year",
        )
    for pattern in (_ISO, _YEAR_FIRST):
        if m := pattern.fullmatch(cell):
            return _full(int(m[1]), int(m[2]), int(m[3]), cell)
    if m := _YEAR_MONTH.fullmatch(cell):
        return _year_month(int(m[1]), int(m[2]), cell)
    if m := _MONTH_YEAR.fullmatch(cell):
        return _year_month(int(m[2]), int(m[1]), cell)
    if m := _DAY_MONTH_YEAR.fullmatch(cell):
        return _day_or_month_first(int(m[1]), int(m[2]), int(m[3]), cell, dayfirst)
    named = _named_month(cell) if re.search(r"[A-Za-z]{3}", cell) else None
    if named is None:
        raise DateError(f"{cell!r} is not a date", fatal=False)
    return named


def parse_release_date(value: Any, dayfirst: bool | None = None) -> ReleaseDate | None:
    """What one date cell says; None when empty; DateError (`fatal` or not) when it cannot be used."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, (dt.date, np.datetime64)):
        ts = pd.Timestamp(value)
        if pd.isna(ts):
            return None
        return _full(ts.year, ts.month, ts.day, value)
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        if math.isnan(value):
            return None
        if not float(value).is_integer():
            raise DateError(f"{value!r} is a year with a fraction, not a date", reason="fractional year")
        return ReleaseDate(_checked_year(int(value), value))
    cell = str(value).strip()
    if cell.lower() in _EMPTY:
        return None
    return _from_text(cell, dayfirst)


def parse_year(value: Any) -> int | None:
    """A year cell as an int; None when empty; DateError when fractional, out of range or not a number."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return None
    cell = value if isinstance(value, (int, float, np.integer, np.floating)) else str(value).strip()
    if isinstance(cell, str):
        if cell.lower() in _EMPTY:
            return None
        try:
            cell = float(cell)
        except ValueError:
            raise DateError(f"{value!r} is not a year", fatal=False, reason="non-numeric year") from None
    if math.isnan(cell):
        return None
    if not math.isfinite(cell) or not float(cell).is_integer():
        raise DateError(f"{value!r} is not a whole year", reason="fractional year")
    return _checked_year(int(cell), value)


class DateColumn:
    """Reads a table's date column in order, refusing a column whose cells disagree on day/month order."""

    def __init__(self, name: str, dayfirst: bool | None = None):
        self.name = name
        self.dayfirst = dayfirst
        self.first_seen: dict[str, tuple[int, str]] = {}  # order -> (line, cell)

    def read(self, value: Any, line: int) -> ReleaseDate | None:
        """One cell (on `line`); DateError when the cell, or the column so far, cannot be read."""
        parsed = parse_release_date(value, self.dayfirst)
        if parsed is None or parsed.order is None:
            return parsed
        self.first_seen.setdefault(parsed.order, (line, str(value).strip()))
        if len(self.first_seen) > 1:
            (l1, c1), (l2, c2) = self.first_seen["day-first"], self.first_seen["month-first"]
            raise DateError(
                f"the column mixes orders: {c1!r} on line {l1} reads only day-first and {c2!r} on line "
                f"{l2} only month-first; fix the cells, then say the order with --dayfirst "
                "(--set data.dayfirst=true) or --set data.dayfirst=false",
                reason="mixed day/month orders",
            )
        return parsed

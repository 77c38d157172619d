"""Reading a revenue cell: decimal marks, thousands separators, currency symbols and unit suffixes.

The rules (README, "Revenue cells"):
- The decimal mark is `.` unless `--decimal ,` says the table writes `1.234,56`. With the default
  (`auto`), a cell that only reads one way under a decimal comma (`1,5`, `333,13`, `1.234,56`) is refused
  with its line and column: reelcast never picks a locale for you. `1,234,567` (groups of three) reads
  as thousands separators.
- Spaces, underscores and apostrophes between digits are thousands separators.
- A unit suffix says the unit outright: k / thousand, M / m / mn / mio / million, bn / b / billion.
- US dollars only: `$`, `US$` or `USD` before or after the amount. A cell with `$` and no suffix is an
  amount in dollars (`$1,234,567` is 1.23 M$, never 1.2 million millions) unless the column's unit was
  declared (a built-in schema or `data.revenue_scale`). Another currency (EUR, £, ...) is refused:
  reelcast cannot convert it.
- inf, Infinity, NaN and values that overflow are refused as non-finite.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

MISSING_WORDS = ("", "na", "n/a", "null", "none", "-", "--")
NON_FINITE_WORDS = ("inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan", "-nan", "+nan")
# Multiplier to millions for each unit suffix (lower case).
UNITS = {
    "k": 1e-3,
    "thousand": 1e-3,
    "thousands": 1e-3,
    "m": 1.0,
    "mn": 1.0,
    "mm": 1.0,
    "mio": 1.0,
    "mil": 1.0,
    "million": 1.0,
    "millions": 1.0,
    "b": 1e3,
    "bn": 1e3,
    "billion": 1e3,
    "billions": 1e3,
}
DOLLAR = ("$", "us$", "usd")
OTHER_CURRENCIES = (
    "€",
    "eur",
    "£",
    "gbp",
    "¥",
    "jpy",
    "cny",
    "rmb",
    "₹",
    "inr",
    "chf",
    "cad",
    "c$",
    "a$",
    "aud",
)
_CURRENCY = "|".join(re.escape(c) for c in sorted(DOLLAR + OTHER_CURRENCIES, key=len, reverse=True))
_CELL = re.compile(
    rf"^(?P<sign>[-+]?)\s*(?P<cur1>{_CURRENCY})?\s*(?P<sign2>[-+]?)\s*"
    r"(?P<num>\d[\d.,'_ \u00a0\u202f]*|[.,]\d+)\s*"
    rf"(?P<unit>[a-z]+)?\s*(?P<cur2>{_CURRENCY})?$",
    re.IGNORECASE,
)
_SCIENTIFIC = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)e[-+]?\d+$", re.IGNORECASE)
# After removing spaces/underscores/apostrophes: the two grammars of a number.
_DOT_DECIMAL = re.compile(r"^(?=[.,]?\d)(\d+|\d{1,3}(,\d{3})+)?(\.\d*)?$")
_COMMA_DECIMAL = re.compile(r"^(?=[.,]?\d)(\d+|\d{1,3}(\.\d{3})+)?(,\d*)?$")
DECIMALS = ("auto", ".", ",")


class RevenueError(ValueError):
    """A revenue cell that cannot be read. `fatal` ones concern the whole column (locale, currency)."""

    def __init__(self, message: str, fatal: bool = False, reason: str = "non-numeric revenue"):
        super().__init__(message)
        self.fatal = fatal
        self.reason = reason


@dataclass(frozen=True)
class Amount:
    """A parsed cell: the number, its unit multiplier to millions if a suffix gave one, and the currency."""

    value: float
    unit_musd: float | None  # None: no suffix, the column's unit applies
    dollar_sign: bool


def _number(num: str, decimal: str, cell: str) -> float:
    s = re.sub(r"[\s'_\u00a0\u202f]", "", num)
    if decimal == ",":
        if not _COMMA_DECIMAL.fullmatch(s):
            raise RevenueError(
                f"{cell!r} is not a number with a decimal comma (--decimal ','): thousands groups are "
                "'.'-separated groups of three digits, e.g. 1.234.567,89",
                fatal=True,
                reason="number not in the --decimal ',' format",
            )
        return float(s.replace(".", "").replace(",", "."))
    if _DOT_DECIMAL.fullmatch(s):
        return float(s.replace(",", ""))
    if decimal == "auto" and _COMMA_DECIMAL.fullmatch(s):
        raise RevenueError(
            f"{cell!r} is ambiguous: it reads only with ',' as the decimal mark. "
            "Pass --decimal ',' if the table writes decimals as 1.234,56, or --decimal '.' and fix the cell",
            fatal=True,
            reason="ambiguous decimal mark",
        )
    raise RevenueError(
        f"{cell!r} is not a number with a decimal point: thousands groups are ','-separated groups of "
        "three digits, e.g. 1,234,567.89",
        fatal=decimal == ".",
        reason="number not in the --decimal '.' format" if decimal == "." else "non-numeric revenue",
    )


def parse_amount(value: Any, decimal: str = "auto") -> Amount | None:
    """Read one revenue cell; None when empty; RevenueError (with `fatal` and `reason`) when unreadable."""
    if decimal not in DECIMALS:
        raise ValueError(f"decimal must be one of {', '.join(DECIMALS)}, got {decimal!r}")
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise RevenueError(f"{value!r} is a boolean, not an amount")
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if math.isnan(v):  # a Parquet null arrives as NaN
            return None
        if not math.isfinite(v):
            raise RevenueError(f"{value!r} is not finite", reason="non-finite revenue")
        return Amount(v, None, False)
    cell = str(value).strip()
    low = cell.lower()
    if low in MISSING_WORDS:
        return None
    if low in NON_FINITE_WORDS:
        raise RevenueError(f"{cell!r} is not finite", reason="non-finite revenue")
    if _SCIENTIFIC.fullmatch(cell):
        v = float(cell)
        if not math.isfinite(v):
            raise RevenueError(f"{cell!r} overflows to infinity", reason="non-finite revenue")
        return Amount(v, None, False)
    m = _CELL.fullmatch(cell)
    if m is None:
        raise RevenueError(f"{cell!r} is not a number")
    if m["sign"] and m["sign2"]:
        raise RevenueError(f"{cell!r} has two signs")
    unit_word, cur2 = m["unit"], m["cur2"]
    if unit_word and not cur2 and unit_word.lower() in DOLLAR + OTHER_CURRENCIES:
        unit_word, cur2 = None, unit_word  # "12 USD": the letters are the currency, not a unit
    currencies = [c.lower() for c in (m["cur1"], cur2) if c]
    if len(currencies) > 1:
        raise RevenueError(f"{cell!r} names a currency twice")
    foreign = [c for c in currencies if c not in DOLLAR]
    if foreign:
        raise RevenueError(
            f"{cell!r} is in {m['cur1'] or cur2}; reelcast reads revenue in US dollars and does not "
            "convert currencies: convert the column to dollars",
            fatal=True,
            reason="revenue in a currency other than US dollars",
        )
    unit = None
    if unit_word:
        key = unit_word.lower()
        if key not in UNITS:
            raise RevenueError(
                f"{cell!r} has the unknown unit {unit_word!r}; known: k, M, mn, mio, million, bn, billion",
                fatal=True,
                reason="unknown revenue unit",
            )
        unit = UNITS[key]
    v = _number(m["num"], decimal, cell)
    if not math.isfinite(v):
        raise RevenueError(f"{cell!r} overflows to infinity", reason="non-finite revenue")
    if (m["sign"] or m["sign2"]) == "-":
        v = -v
    return Amount(v, unit, bool(currencies))


def to_millions(amount: Amount, column_scale: float, unit_declared: bool) -> float:
    """The amount in millions of dollars under the rules in this module's docstring."""
    if amount.unit_musd is not None:
        return amount.value * amount.unit_musd
    if amount.dollar_sign and not unit_declared:
        return amount.value * 1e-6
    return amount.value * column_scale

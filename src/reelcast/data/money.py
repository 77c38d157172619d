"""Reading a money cell (revenue, budget): decimal marks, group separators, currency symbols and units.

Every money column goes through `read_money` with the same rules (README, "Money cells"):
- The decimal mark is `.` unless `--decimal ,` says the table writes `1.234,56`. With the default
  (`auto`), a cell that only reads one way under a decimal comma (`1,5`, `333,13`, `1.234,56`) is refused
  with its line and column: reelcast never picks a locale for you.
- Group separators (`,` with a decimal point, `.` with a decimal comma, and spaces, apostrophes and
  underscores with either) split the whole part into groups of three digits after a first group of one
  to three: `1,234,567`, `1 234 567` and `1'234` read; `12 34`, `1 5`, `1_0`, `1.5 2` are refused.
  One number uses one separator.
- A unit suffix says the unit outright: k / thousand, M / m / mn / mio / million, bn / b / billion.
- US dollars only: `$`, `US$` or `USD` before or after the amount. A cell with `$` and no suffix is an
  amount in dollars (`$1,234,567` is 1.23 M$, never 1.2 million millions) unless the column's unit was
  declared (a built-in schema, `data.revenue_scale` / `data.budget_scale`, or a header in millions).
  Another currency (EUR, £, ...) is refused: reelcast cannot convert it.
- inf, Infinity, NaN, values that overflow and negative amounts are refused.
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
_SPACES = " \u00a0\u202f"
_CELL = re.compile(
    rf"^(?P<sign>[-+]?)\s*(?P<cur1>{_CURRENCY})?\s*(?P<sign2>[-+]?)\s*"
    rf"(?P<num>\d[\d.,'_{_SPACES}]*|[.,]\d+)\s*"
    rf"(?P<unit>[a-z]+)?\s*(?P<cur2>{_CURRENCY})?$",
    re.IGNORECASE,
)
_SCIENTIFIC = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)e[-+]?\d+$", re.IGNORECASE)
_PLAIN = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)$")
DECIMALS = ("auto", ".", ",")
# How the refusal of a huge bare number words the record it would beat.
_RECORD = {"revenue": "has earned", "budget": "has cost"}


def _grammar(group: str, point: str) -> re.Pattern[str]:
    """Digits with at most one decimal mark; groups of three after one separator used throughout."""
    seps = re.escape(group + "'_" + _SPACES)
    return re.compile(
        rf"(?=[.,]?\d)(?:\d+|\d{{1,3}}(?P<sep>[{seps}])\d{{3}}(?:(?P=sep)\d{{3}})*)?(?:{re.escape(point)}\d*)?"
    )


_DOT_DECIMAL = _grammar(",", ".")
_COMMA_DECIMAL = _grammar(".", ",")


class MoneyError(ValueError):
    """A money cell that cannot be read. `fatal` ones concern the whole column (locale, currency)."""

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


@dataclass(frozen=True)
class MoneyColumn:
    """How one money column of a table is read: its meaning, unit and plausibility limit."""

    what: str  # "revenue", "budget": names the reasons and messages
    scale: float  # multiply a bare number by this to get millions
    unit_declared: bool  # False: a `$` amount is dollars and a huge bare number is refused
    limit_musd: float
    limit_key: str  # the config key of the limit, for messages
    scale_key: str  # the config key that declares the unit, for messages


def _number(num: str, decimal: str, cell: str, what: str) -> float:
    s = num.strip()
    point = _COMMA_DECIMAL if decimal == "," else _DOT_DECIMAL
    m = point.fullmatch(s)
    if m is not None:
        digits = re.sub(r"[^\d" + ("," if decimal == "," else ".") + "]", "", s)
        return float(digits.replace(",", "."))
    if decimal == "auto" and _COMMA_DECIMAL.fullmatch(s):
        raise MoneyError(
            f"{cell!r} is ambiguous: it reads only with ',' as the decimal mark. "
            "Pass --decimal ',' if the table writes decimals as 1.234,56, or --decimal '.' and fix the cell",
            fatal=True,
            reason="ambiguous decimal mark",
        )
    if decimal == ",":
        raise MoneyError(
            f"{cell!r} is not a number with a decimal comma (--decimal ','): groups are separated by one "
            "of . space ' _ into groups of three digits, e.g. 1.234.567,89",
            fatal=True,
            reason="number not in the --decimal ',' format",
        )
    raise MoneyError(
        f"{cell!r} is not a number with a decimal point: groups are separated by one of , space ' _ "
        "into groups of three digits, e.g. 1,234,567.89 or 1 234 567",
        fatal=True,
        reason="number not in the --decimal '.' format" if decimal == "." else f"misgrouped {what} number",
    )


def _numeric(value: Any, what: str) -> Amount | None:
    """A cell that is already a number (Parquet, an in-memory frame)."""
    if isinstance(value, (bool, np.bool_)):
        raise MoneyError(f"{value!r} is a boolean, not an amount", reason=f"non-numeric {what}")
    v = float(value)
    if math.isnan(v):  # a Parquet null arrives as NaN
        return None
    if not math.isfinite(v):
        raise MoneyError(f"{value!r} is not finite", reason=f"non-finite {what}")
    return Amount(v, None, False)


def _currency(m: re.Match[str], cell: str, what: str) -> tuple[str | None, bool]:
    """(unit word, dollar sign) of a matched cell; MoneyError for a foreign or repeated currency."""
    unit_word, cur2 = m["unit"], m["cur2"]
    if unit_word and not cur2 and unit_word.lower() in DOLLAR + OTHER_CURRENCIES:
        unit_word, cur2 = None, unit_word  # "12 USD": the letters are the currency, not a unit
    currencies = [c.lower() for c in (m["cur1"], cur2) if c]
    if len(currencies) > 1:
        raise MoneyError(f"{cell!r} names a currency twice", reason=f"non-numeric {what}")
    if any(c not in DOLLAR for c in currencies):
        raise MoneyError(
            f"{cell!r} is in {m['cur1'] or cur2}; reelcast reads {what} in US dollars and does not "
            "convert currencies: convert the column to dollars",
            fatal=True,
            reason=f"{what} in a currency other than US dollars",
        )
    return unit_word, bool(currencies)


def parse_amount(value: Any, decimal: str = "auto", what: str = "revenue") -> Amount | None:
    """Read one money cell; None when empty; MoneyError (with `fatal` and `reason`) when unreadable."""
    if decimal not in DECIMALS:
        raise ValueError(f"decimal must be one of {', '.join(DECIMALS)}, got {decimal!r}")
    if value is None:
        return None
    if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        return _numeric(value, what)
    cell = str(value).strip()
    low = cell.lower()
    if low in MISSING_WORDS:
        return None
    if low in NON_FINITE_WORDS:
        raise MoneyError(f"{cell!r} is not finite", reason=f"non-finite {what}")
    plain = _PLAIN.fullmatch(cell) and (decimal != "," or "." not in cell)
    if plain or _SCIENTIFIC.fullmatch(cell):
        v = float(cell)
        if not math.isfinite(v):
            raise MoneyError(f"{cell!r} overflows to infinity", reason=f"non-finite {what}")
        return Amount(v, None, False)
    m = _CELL.fullmatch(cell)
    if m is None:
        raise MoneyError(f"{cell!r} is not a number", reason=f"non-numeric {what}")
    if m["sign"] and m["sign2"]:
        raise MoneyError(f"{cell!r} has two signs", reason=f"non-numeric {what}")
    unit_word, dollar = _currency(m, cell, what)
    unit = None
    if unit_word:
        unit = UNITS.get(unit_word.lower())
        if unit is None:
            raise MoneyError(
                f"{cell!r} has the unknown unit {unit_word!r}; known: k, M, mn, mio, million, bn, billion",
                fatal=True,
                reason=f"unknown {what} unit",
            )
    v = _number(m["num"], decimal, cell, what)
    if not math.isfinite(v):
        raise MoneyError(f"{cell!r} overflows to infinity", reason=f"non-finite {what}")
    if (m["sign"] or m["sign2"]) == "-":
        v = -v
    return Amount(v, unit, dollar)


def to_millions(amount: Amount, column_scale: float, unit_declared: bool) -> float:
    """The amount in millions of dollars under the rules in this module's docstring."""
    if amount.unit_musd is not None:
        return amount.value * amount.unit_musd
    if amount.dollar_sign and not unit_declared:
        return amount.value * 1e-6
    return amount.value * column_scale


def read_money(cell: Any, column: MoneyColumn, decimal: str = "auto") -> float | None:
    """A money cell in millions of dollars, or None when empty; MoneyError when it cannot be used."""
    what = column.what
    amount = parse_amount(cell, decimal, what)
    if amount is None:
        return None
    musd = to_millions(amount, column.scale, column.unit_declared)
    if musd < 0:
        raise MoneyError(f"{cell!r} is negative", reason=f"negative {what}")
    if musd > column.limit_musd:
        shown = f"{musd:,.0f} M$" if musd < 1e15 else f"{musd:.3g} M$"
        if not column.unit_declared and amount.unit_musd is None:
            record = _RECORD.get(what, f"has had as {what}")
            raise MoneyError(
                f"{cell!r} would be {shown} in millions, more than any film {record} (limit "
                f"{column.limit_key} = {column.limit_musd:,.0f}). The column's unit is not declared: "
                f"if it holds dollars pass --set {column.scale_key}=1e-6, or write units "
                "(12.5M, $12,500,000)",
                fatal=True,
                reason=f"implausible {what}",
            )
        raise MoneyError(
            f"{cell!r} is {shown}, above {column.limit_key}",
            reason=f"implausible {what} (above the limit)",
        )
    return musd

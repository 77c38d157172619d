"""Reading non-money cells: text, plain numbers, and the list cells (genres, keywords, companies, ...)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from reelcast.data.money import MoneyError, parse_amount


def text(value: Any) -> str:
    """A text cell stripped; "" for an empty or null cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def parse_number(value: Any) -> float | None:
    """A float from a cell ('1,234', '1 234', '$5', 3.2); None when empty; ValueError when not a number.

    Group separators follow the money rules (data/money.py): `1 5` or `12,34` is an error, not 15 or 1234.
    """
    if value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        v = float(value)
        if math.isnan(v):
            return None
        if not math.isfinite(v):
            raise ValueError(f"{value!r} is not finite")
        return v
    try:
        amount = parse_amount(value, what="number")
    except MoneyError as e:
        raise ValueError(str(e)) from None
    if amount is None:
        return None
    if amount.unit_musd is not None:
        raise ValueError(f"{value!r} has a unit suffix; write the plain number")
    return amount.value


def genre_list(value: Any, fmt: str) -> list[str]:
    """A genres cell: TMDB's JSON array of {"name": ...} or a ,|/;-separated list."""
    s = text(value)
    if not s:
        return []
    if fmt == "tmdb_json" or s.startswith("["):
        try:
            items = json.loads(s)
            return [str(g["name"] if isinstance(g, dict) else g).strip() for g in items]
        except (ValueError, TypeError, KeyError):
            pass
    return [g.strip() for g in re.split(r"[,|/;]", s) if g.strip()]


def name_list(value: Any, keys: tuple[str, ...] = ("name",)) -> list[str]:
    """A list cell: a JSON array of strings or of objects (first of `keys` present), else a |,;-list."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v).strip() for v in value if str(v).strip()]
    s = text(value)
    if not s or s == "[]":
        return []
    if s.startswith("["):
        try:
            items = json.loads(s)
            out = []
            for it in items:
                if isinstance(it, dict):
                    it = next((it[k] for k in keys if it.get(k)), "")
                if str(it).strip():
                    out.append(str(it).strip())
            return out
        except (ValueError, TypeError):
            pass
    return [g.strip() for g in re.split(r"[|;,]", s) if g.strip()]


def collection_name(value: Any) -> str:
    """A collection/franchise cell: TMDB's JSON object {"name": ...} or plain text; "" when none."""
    s = text(value)
    if s.startswith("{"):
        try:
            return text(json.loads(s).get("name"))
        except (ValueError, AttributeError):
            pass
    return s

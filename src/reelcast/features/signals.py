"""Fixed rules that read a film's title, keywords, collection and release date: franchise signals and the
release calendar (day of week, season, US holiday windows). Nothing here is learned from films.
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

# ---- franchise signals ------------------------------------------------------------------------------
# A sequel number at the end of the title or before its subtitle: "Toy Story 3", "Rocky IV: ...".
# Only 2-9 and II-IX: "Apollo 13", "2012", "300" or "Malcolm X" are not sequels.
_TITLE_NUMBER = re.compile(r"\s(?:[2-9]|II|III|IV|V|VI|VII|VIII|IX)(?:\s*:.*)?$")
_TITLE_PART = re.compile(r"\b(?:part|chapter|episode|vol\.?|volume)\s+(?:\w+)\b", re.IGNORECASE)
# TMDB keywords a studio knows before release that mark a franchise film.
_SEQUEL_KEYWORDS = {"sequel", "prequel", "remake", "reboot", "spin off", "spin-off", "based on comic book"}
# A scene during or after the credits: set up by the studio, the mark of a planned franchise.
_STINGER_KEYWORDS = {"duringcreditsstinger", "aftercreditsstinger"}

FRANCHISE_FEATURES = ("title_number", "title_part", "sequel_keyword", "credits_stinger", "collection")


def franchise_flags(title: str, keywords: list[str], collection: str) -> list[float]:
    """Sequel / franchise signals of one film (see FRANCHISE_FEATURES)."""
    kws = {k.lower() for k in keywords}
    return [
        float(bool(_TITLE_NUMBER.search(title))),
        float(bool(_TITLE_PART.search(title))),
        float(bool(kws & _SEQUEL_KEYWORDS)),
        float(bool(kws & _STINGER_KEYWORDS)),
        float(bool(collection)),
    ]


# ---- release calendar ---------------------------------------------------------------------------------
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SEASONS = ("winter", "spring", "summer", "autumn")  # Dec-Feb, Mar-May, Jun-Aug, Sep-Nov
HOLIDAYS = ("memorial_day", "july_4", "thanksgiving", "christmas", "summer_season")


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th (1-based; -1 = last) given weekday (Mon=0) of a month."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def holiday_flags(day: dt.date) -> list[float]:
    """US release windows: the week up to a holiday (films open the Wednesday-Friday before it).

    memorial_day: 7 days before Memorial Day (last Monday of May) to the day; july_4: June 27 - July 7;
    thanksgiving: 7 days before Thanksgiving (4th Thursday of November) to 3 days after; christmas:
    December 15-31; summer_season: May 1 to Labor Day (1st Monday of September).
    """
    y = day.year
    memorial = _nth_weekday(y, 5, 0, -1)
    thanks = _nth_weekday(y, 11, 3, 4)
    labor = _nth_weekday(y, 9, 0, 1)
    return [
        float(memorial - dt.timedelta(days=7) <= day <= memorial),
        float(dt.date(y, 6, 27) <= day <= dt.date(y, 7, 7)),
        float(thanks - dt.timedelta(days=7) <= day <= thanks + dt.timedelta(days=3)),
        float(dt.date(y, 12, 15) <= day <= dt.date(y, 12, 31)),
        float(dt.date(y, 5, 1) <= day <= labor),
    ]


def calendar_features(date) -> list[float] | None:
    """Day of week, season and holiday one-hots for a release date; None when there is no date."""
    if date is None or pd.isna(date):
        return None
    d = pd.Timestamp(date).date()
    dow = [0.0] * 7
    dow[d.weekday()] = 1.0
    season = [0.0] * 4
    season[(d.month % 12) // 3] = 1.0
    return dow + season + holiday_flags(d)


CALENDAR_FEATURES = (*(f"dow_{x}" for x in _DAYS), *(f"season_{x}" for x in _SEASONS), *HOLIDAYS)

"""Pre-release metadata as features: standardised numerics, log budget, multi-hot genres, and the
named feature groups of issue 8 (keywords, companies with their track record, countries, language,
franchise signals, release calendar, constant-dollar budget, budget flags, people track record).

Everything learned (means, scales, vocabularies, the training films' revenue history for the track
records) is fit on the training films only, and `transform` never reads a revenue. Columns known only
after release (votes, ratings, popularity) leak the outcome and are refused unless the user
explicitly allows them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reelcast.config import TabularConfig
from reelcast.data.cpi import to_constant_dollars
from reelcast.data.table import parse_number

log = logging.getLogger(__name__)

# The canonical pre-release columns, in the order they are tried.
PRE_RELEASE = ("year", "runtime", "budget_musd", "release_month", "genres")
# Named feature groups built from canonical columns (issue 8), in output order.
GROUPS = (
    "keywords",
    "companies",
    "countries",
    "language",
    "franchise",
    "calendar",
    "budget_real",
    "budget_flags",
    "people",
)
# Multi-hot groups: group -> (canonical column, feature prefix, TabularConfig top-k field).
_MULTI_HOT = {
    "keywords": ("keywords", "kw", "keywords_top_k"),
    "companies": ("companies", "company", "companies_top_k"),
    "countries": ("countries", "country", "countries_top_k"),
}
# A budget under $10,000 is far below any released feature's cost; TMDB has such rows where the
# number was entered in millions (or thousands). Flagged as implausible, never rescaled.
IMPLAUSIBLE_BUDGET_MUSD = 0.01
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


def _has_values(df: pd.DataFrame, col: str) -> bool:
    if col not in df:
        return False
    return bool(df[col].map(lambda v: _present(v)).any())


def _present(v) -> bool:
    if isinstance(v, (list, tuple, np.ndarray)):
        return len(v) > 0
    if v is None or v is pd.NaT:
        return False
    if isinstance(v, float):
        return not math.isnan(v)
    return bool(v) if isinstance(v, str) else not pd.isna(v)


def default_columns(df: pd.DataFrame) -> list[str]:
    """The pre-release columns and feature groups this table actually has values for."""
    cols = [c for c in PRE_RELEASE if _has_values(df, c)]
    needs = {
        "keywords": ("keywords",),
        "companies": ("companies",),
        "countries": ("countries",),
        "language": ("language",),
        "franchise": ("keywords", "collection"),  # a title alone is not metadata (see _group)
        "calendar": ("release_date",),
        "budget_real": ("budget_musd",),
        "budget_flags": ("budget_musd",),
        "people": ("director", "cast"),
    }
    for g in GROUPS:
        if any(_has_values(df, c) for c in needs[g]):
            if g == "budget_real" and not _has_values(df, "year"):
                continue
            cols.append(g)
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


def _list(v) -> list[str]:
    return list(v) if isinstance(v, (list, tuple, np.ndarray)) else []


def _text(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _col(df: pd.DataFrame, c: str, empty) -> list:
    return df[c].tolist() if c in df else [empty() for _ in range(len(df))]


def top_values(lists: list[list[str]], k: int, min_count: int) -> list[str]:
    """The k values in the most films (ties by name), each in at least min_count films."""
    counts = Counter(v for vs in lists for v in dict.fromkeys(vs))
    ranked = sorted(((-n, v) for v, n in counts.items() if n >= min_count))
    return [v for _, v in ranked[:k]]


@dataclass
class TabularEncoder:
    """Fit on training rows, then turn any rows into a dense float32 matrix and a presence mask.

    `columns` holds canonical or `src:` numeric columns, `genres`, and the named groups of GROUPS.
    Every group ends with a `<group>:missing` flag (1 = the film has no value for it), from which
    `presence` reads back which films have any metadata.
    """

    columns: list[str]
    means: dict[str, float] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)
    genres: list[str] = field(default_factory=list)
    settings: TabularConfig = field(default_factory=TabularConfig)
    vocab: dict[str, list[str]] = field(default_factory=dict)  # keywords, companies, countries, language
    tracks: dict[str, dict] = field(default_factory=dict)  # companies / director / cast -> TrackRecord

    def _raw_numeric(self, df: pd.DataFrame, col: str) -> np.ndarray:
        if col == "budget_real":  # log constant-dollar budget: 1980's $20 M is not 2015's
            budget = self._raw_numeric(df, "budget_musd")
            years = np.array([_num(v) for v in _col(df, "year", lambda: None)], dtype=np.float64)
            real = np.expm1(budget) * to_constant_dollars(np.ones(len(df)), years)
            return np.log1p(real)
        source = df[col] if col in df else df.get(f"src:{col}")
        if source is None:
            raise KeyError(f"tabular column {col!r} is not in the table")
        x = np.array([_num(v) for v in source], dtype=np.float64)
        if col == "budget_musd":
            x = np.log1p(np.where(x >= 0, x, np.nan))  # budgets span 4 orders of magnitude
        return x

    def fit(self, df: pd.DataFrame) -> TabularEncoder:
        """Learn standardisation, vocabularies and track records from the (training) rows."""
        s = self.settings
        for c in self.columns:
            if c == "genres":
                self.genres = sorted({g for gs in df["genres"] for g in gs})
            elif c in _MULTI_HOT:
                col, _, k = _MULTI_HOT[c]
                self.vocab[c] = top_values(
                    [_list(v) for v in _col(df, col, list)], getattr(s, k), s.min_count
                )
                if c == "companies":
                    self.tracks["companies"] = self._fit_track(df, [_list(v) for v in _col(df, col, list)])
            elif c == "language":
                langs = [[_text(v)] if _text(v) else [] for v in _col(df, "language", str)]
                self.vocab[c] = top_values(langs, s.languages_top_k, s.min_count)
            elif c == "people":
                director = [[_text(v)] if _text(v) else [] for v in _col(df, "director", str)]
                self.tracks["director"] = self._fit_track(df, director)
                self.tracks["cast"] = self._fit_track(df, [_list(v) for v in _col(df, "cast", list)])
            elif c in ("franchise", "calendar", "budget_flags"):
                continue  # fixed rules, nothing to learn
            else:
                x = self._raw_numeric(df, c)
                mean = float(np.nanmean(x)) if np.isfinite(x).any() else 0.0
                std = float(np.nanstd(x)) if np.isfinite(x).sum() > 1 else 1.0
                self.means[c], self.scales[c] = mean, std if std > 0 else 1.0
        return self

    def _fit_track(self, df: pd.DataFrame, entities: list[list[str]]) -> dict:
        from reelcast.features.track_record import TrackRecord

        if "revenue_musd" not in df:
            raise ValueError("track-record features are fit on training films, which need their revenue")
        return TrackRecord.fit(entities, df, self.settings.track_smoothing).to_dict()

    def _track(self, name: str):
        from reelcast.features.track_record import TrackRecord

        cache = self.__dict__.setdefault("_track_objs", {})
        if name not in cache:
            cache[name] = TrackRecord.from_dict(self.tracks[name])
        return cache[name]

    def _names(self, c: str) -> list[str]:
        if c == "genres":
            return [f"genre:{g}" for g in self.genres]
        if c in _MULTI_HOT:
            prefix = _MULTI_HOT[c][1]
            extra = ["companies:track_max", "companies:track_mean", "companies:track_count"]
            return (
                [f"{prefix}:{v}" for v in self.vocab[c]]
                + (extra if c == "companies" else [])
                + [f"{c}:missing"]
            )
        if c == "language":
            return [f"lang:{v}" for v in self.vocab[c]] + ["lang:other", "language:missing"]
        if c == "franchise":
            return [f"franchise:{f}" for f in FRANCHISE_FEATURES] + ["franchise:missing"]
        if c == "calendar":
            return [f"calendar:{f}" for f in CALENDAR_FEATURES] + ["calendar:missing"]
        if c == "budget_flags":
            return ["budget_flags:implausible", "budget_flags:missing"]
        if c == "people":
            return [
                "people:director_track",
                "people:director_count",
                "people:cast_track_max",
                "people:cast_track_mean",
                "people:cast_count",
                "people:missing",
            ]
        return [c, f"{c}:missing"]

    @property
    def feature_names(self) -> list[str]:
        """Names of the output columns, for permutation importance and reports."""
        return [n for c in self.columns for n in self._names(c)]

    @property
    def dim(self) -> int:
        """Output width."""
        return len(self.feature_names)

    def blocks(self) -> dict[str, np.ndarray]:
        """Feature positions of each column or group (a group's positions move together)."""
        out, start = {}, 0
        for c in self.columns:
            width = len(self._names(c))
            if width:
                out[c] = np.arange(start, start + width)
            start += width
        return out

    def presence(self, X: np.ndarray) -> np.ndarray:
        """Which rows have any metadata, read back from encoded features exactly as `transform` decides."""
        present = np.zeros(len(X), dtype=bool)
        for c, idx in self.blocks().items():
            present |= X[:, idx].any(1) if c == "genres" else X[:, idx[-1]] == 0
        return present

    def transform(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(N, dim) float32 features and an (N,) bool mask: True where any column has a value."""
        parts, present = [], np.zeros(len(df), dtype=bool)
        for c in self.columns:
            if c == "genres":
                m = self._multi_hot([list(g) for g in df["genres"]], self.genres)
                present |= m.any(1)
                parts.append(m)
                continue
            block, missing = self._group(df, c)
            present |= ~missing
            parts.append(np.concatenate([block, missing[:, None].astype(np.float32)], axis=1))
        feats = np.concatenate(parts, axis=1) if parts else np.zeros((len(df), 0), np.float32)
        return feats.astype(np.float32), present

    @staticmethod
    def _multi_hot(lists: list[list[str]], vocab: list[str]) -> np.ndarray:
        index = {g: i for i, g in enumerate(vocab)}
        m = np.zeros((len(lists), len(vocab)), dtype=np.float32)
        for r, vs in enumerate(lists):
            for v in vs:
                if v in index:  # values unseen in training carry no learned meaning
                    m[r, index[v]] = 1.0
        return m

    def _group(self, df: pd.DataFrame, c: str) -> tuple[np.ndarray, np.ndarray]:
        """One column's or group's features (without its missing flag) and the missing flag."""
        n = len(df)
        if c in _MULTI_HOT:
            lists = [_list(v) for v in _col(df, _MULTI_HOT[c][0], list)]
            block = self._multi_hot(lists, self.vocab[c])
            if c == "companies":
                block = np.concatenate([block, self._track("companies").features(lists, df)], axis=1)
            return block, np.array([not v for v in lists])
        if c == "language":
            langs = [_text(v) for v in _col(df, "language", str)]
            block = self._multi_hot([[v] for v in langs], self.vocab[c])
            other = np.array([bool(v) and v not in self.vocab[c] for v in langs], dtype=np.float32)
            return np.concatenate([block, other[:, None]], axis=1), np.array([not v for v in langs])
        if c == "franchise":
            titles = [_text(v) for v in _col(df, "title", str)]
            kws = [_list(v) for v in _col(df, "keywords", list)]
            coll = [_text(v) for v in _col(df, "collection", str)]
            block = np.array(
                [franchise_flags(t, k, cl) for t, k, cl in zip(titles, kws, coll, strict=True)],
                dtype=np.float32,
            ).reshape(n, len(FRANCHISE_FEATURES))
            # A title alone does not count as metadata: every request has one, and a film known only by
            # its title and plot must stay a text-only film (tabular masked), as it was before.
            return block, np.array([not (k or cl) for k, cl in zip(kws, coll, strict=True)])
        if c == "calendar":
            rows = [calendar_features(d) for d in _col(df, "release_date", lambda: None)]
            block = np.array([r or [0.0] * len(CALENDAR_FEATURES) for r in rows], dtype=np.float32)
            return block.reshape(n, len(CALENDAR_FEATURES)), np.array([r is None for r in rows])
        if c == "budget_flags":
            b = np.array([_num(v) for v in _col(df, "budget_musd", lambda: None)], dtype=np.float64)
            missing = ~np.isfinite(b)
            implausible = np.where(missing, False, b < IMPLAUSIBLE_BUDGET_MUSD)
            return implausible[:, None].astype(np.float32), missing
        if c == "people":
            director = [[_text(v)] if _text(v) else [] for v in _col(df, "director", str)]
            cast = [_list(v) for v in _col(df, "cast", list)]
            d = self._track("director").features(director, df)[:, [0, 2]]
            k = self._track("cast").features(cast, df)
            block = np.concatenate([d, k], axis=1).astype(np.float32)
            return block, np.array([not (a or b) for a, b in zip(director, cast, strict=True)])
        x = self._raw_numeric(df, c)
        missing = ~np.isfinite(x)
        z = np.where(missing, 0.0, (x - self.means[c]) / self.scales[c])
        return z[:, None].astype(np.float32), missing

    def to_dict(self) -> dict:
        """For the checkpoint (JSON-ready: vocabularies and track records included)."""
        return {
            "columns": self.columns,
            "means": self.means,
            "scales": self.scales,
            "genres": self.genres,
            "settings": dataclasses.asdict(self.settings),
            "vocab": self.vocab,
            "tracks": self.tracks,
        }

    @classmethod
    def from_dict(cls, d: dict) -> TabularEncoder:
        """Rebuild from a checkpoint."""
        return cls(
            columns=list(d["columns"]),
            means=dict(d["means"]),
            scales=dict(d["scales"]),
            genres=list(d["genres"]),
            settings=TabularConfig(**d.get("settings", {})),
            vocab={k: list(v) for k, v in d.get("vocab", {}).items()},
            tracks=dict(d.get("tracks", {})),
        )

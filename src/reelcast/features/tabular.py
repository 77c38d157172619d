"""Pre-release metadata as features: standardised numerics, log budget, multi-hot genres, and the
named feature groups (keywords as their track record and/or a multi-hot, companies with their track
record, countries, language, franchise signals, release calendar, constant-dollar budget, budget flags,
people track record).

Unknown is not none. Every feature reads one or more *inputs* (canonical columns: keywords, companies,
director, release_date, ...). An input is unknown for a film when the table lacks the column, the cell
is empty (None / NaN / "" for names), or a request left the field out; an explicit empty list is "none"
unless `none_means_unknown` (the default: TMDB's empty lists are records nobody filled in, see
docs/keyword_audit.md). A feature whose input is unknown is NaN in `encode` (the trees route it) and the
training films' mean of that feature in `transform` (the network), and every input has a `known:<input>`
column (1 known, 0 unknown), so no unknown is ever encoded as a value training films carried for another
reason. `mask_inputs` turns inputs unknown for chosen films exactly as if the films had lacked them.

Everything learned (means, scales, vocabularies, the training films' revenue history for the track
records) is fit on the training films only, and `transform` never reads a revenue. Post-release columns
and outcome-encoding keywords are refused (features.leakage).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from reelcast.config import TabularConfig
from reelcast.data.cpi import to_constant_dollars
from reelcast.features.inputs import InputCells
from reelcast.features.leakage import (  # noqa: F401  (callers import the checks with the encoder)
    POST_RELEASE,
    LeakageError,
    check_leakage,
)
from reelcast.features.signals import (
    CALENDAR_FEATURES,
    FRANCHISE_FEATURES,
    calendar_features,
    franchise_flags,
)

# The canonical pre-release columns, in the order they are tried.
PRE_RELEASE = ("year", "runtime", "budget_musd", "release_month", "genres")
# Named feature groups built from canonical columns, in output order.
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
# The inputs (canonical columns) each group reads; a plain numeric column reads itself.
GROUP_INPUTS = {
    "franchise": ("title", "keywords", "collection"),
    "calendar": ("release_date",),
    "budget_real": ("budget_musd", "year"),
    "budget_flags": ("budget_musd",),
    "people": ("director", "cast"),
}
# What a studio always has for an upcoming film; the other inputs are optional metadata.
BASIC_INPUTS = ("title", "year", "runtime", "budget_musd", "release_month", "genres", "release_date")
# Every request has a title: a film known only by it stays a film without metadata (tabular masked).
_NOT_METADATA = ("title",)
# How `keywords` may be encoded (TabularConfig.keywords_encoding).
KEYWORD_ENCODINGS = ("multi_hot", "track", "both")
_TRACK_FEATURES = ("track_max", "track_mean", "track_count")
# A budget under $10,000 is far below any released feature's cost; TMDB has such rows where the
# number was entered in millions (or thousands). Flagged as implausible, never rescaled.
IMPLAUSIBLE_BUDGET_MUSD = 0.01


def group_inputs(group: str) -> tuple[str, ...]:
    """The canonical columns a feature group (or plain column) reads."""
    return GROUP_INPUTS.get(group, (group,))


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
        "franchise": ("keywords", "collection"),  # a title alone is not metadata
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


def top_values(lists: list[list[str]], k: int, min_count: int) -> list[str]:
    """The k values in the most films (ties by name), each in at least min_count films."""
    counts = Counter(v for vs in lists for v in dict.fromkeys(vs))
    ranked = sorted(((-n, v) for v, n in counts.items() if n >= min_count))
    return [v for _, v in ranked[:k]]


@dataclass
class TabularEncoder:
    """Fit on training rows, then turn any rows into a dense float32 matrix with unknown inputs marked.

    `columns` holds canonical or `src:` numeric columns, `genres`, and the named groups of GROUPS. Each
    output column reads the inputs in `column_inputs`; `inputs` lists every input the encoder reads, and
    each has one `known:<input>` column (in the block of the first group reading it). `encode` gives
    NaN for unknown values (for trees), `transform` the training mean instead (for the network).
    """

    columns: list[str]
    means: dict[str, float] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)
    genres: list[str] = field(default_factory=list)
    settings: TabularConfig = field(default_factory=TabularConfig)
    vocab: dict[str, list[str]] = field(default_factory=dict)  # keywords, companies, countries, language
    tracks: dict[str, dict] = field(default_factory=dict)  # companies / director / cast -> TrackRecord
    neutral: list[float] = field(default_factory=list)  # per output column: training mean where known
    # Inputs no training film had (TMDB-5000 has no collection): their columns would be constant, so the
    # encoder does not read them at all.
    unread: list[str] = field(default_factory=list)

    # ---- fit -----------------------------------------------------------------------------------------
    def _read(self, df: pd.DataFrame) -> InputCells:
        return InputCells(df, self.settings.none_means_unknown)

    @staticmethod
    def _raw_numeric(inp: InputCells, col: str) -> np.ndarray:
        if col == "budget_real":  # log constant-dollar budget: 1980's $20 M is not 2015's
            budget, years = inp.numeric("budget_musd"), inp.numeric("year")
            return np.log1p(np.expm1(budget) * to_constant_dollars(np.ones(inp.n), years))
        return inp.numeric(col)

    def fit(self, df: pd.DataFrame) -> TabularEncoder:
        """Learn standardisation, vocabularies, track records and neutral values from the (training) rows."""
        s, inp = self.settings, self._read(df)
        self.tracks, self.vocab = {}, {}
        self.__dict__.pop("_track_objs", None)
        for c in self.columns:
            if c == "genres":
                self.genres = sorted({g for gs in inp.get("genres")[0] for g in gs})
            elif c in _MULTI_HOT:
                col, _, k = _MULTI_HOT[c]
                lists = inp.get(col)[0]
                hot = c != "keywords" or self._keyword_parts()[0]
                self.vocab[c] = top_values(lists, getattr(s, k), s.min_count) if hot else []
                if c == "companies" or (c == "keywords" and self._keyword_parts()[1]):
                    self.tracks[c] = self._fit_track(df, lists)
            elif c == "language":
                langs = [[v] if v else [] for v in inp.get("language")[0]]
                self.vocab[c] = top_values(langs, s.languages_top_k, s.min_count)
            elif c == "people":
                self.tracks["director"] = self._fit_track(
                    df, [[v] if v else [] for v in inp.get("director")[0]]
                )
                self.tracks["cast"] = self._fit_track(df, inp.get("cast")[0])
            elif c in ("franchise", "calendar", "budget_flags"):
                continue  # fixed rules, nothing to learn
            else:
                if c != "budget_real" and c not in df and f"src:{c}" not in df:
                    raise KeyError(f"tabular column {c!r} is not in the table")
                x = self._raw_numeric(inp, c)
                mean = float(np.nanmean(x)) if np.isfinite(x).any() else 0.0
                std = float(np.nanstd(x)) if np.isfinite(x).sum() > 1 else 1.0
                self.means[c], self.scales[c] = mean, std if std > 0 else 1.0
        reads = {i for c in self.columns for _, r in self._values(c) for i in r}
        self.unread = sorted(i for i in reads | {*self._owned_all()} if not inp.get(i)[1].any())
        for cache in ("_layout", "_keep_positions", "_blanks"):  # the cached_properties below
            self.__dict__.pop(cache, None)
        X = self.encode(df)
        seen = np.isfinite(X).any(0)
        neutral = np.zeros(X.shape[1])
        neutral[seen] = np.nanmean(X[:, seen].astype(np.float64), axis=0)  # a never-known column stays 0
        self.neutral = neutral.tolist()
        return self

    def _keyword_parts(self) -> tuple[bool, bool]:
        """(multi-hot columns, track-record columns) of the keywords group."""
        enc = self.settings.keywords_encoding
        if enc not in KEYWORD_ENCODINGS:
            raise ValueError(
                f"tabular.keywords_encoding {enc!r} is not one of {', '.join(KEYWORD_ENCODINGS)}"
            )
        return enc != "track", enc != "multi_hot"

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

    # ---- layout --------------------------------------------------------------------------------------
    def _values(self, c: str) -> list[tuple[str, tuple[str, ...]]]:
        """(name, inputs read) of each value column of one group, without its known columns."""
        if c == "genres":
            return [(f"genre:{g}", ("genres",)) for g in self.genres]
        if c in _MULTI_HOT:
            col, prefix, _ = _MULTI_HOT[c]
            out = [(f"{prefix}:{v}", (col,)) for v in self.vocab[c]]
            if c in self.tracks:
                out += [(f"{c}:{t}", (col,)) for t in _TRACK_FEATURES]
            return out
        if c == "language":
            return [(f"lang:{v}", ("language",)) for v in [*self.vocab[c], "other"]]
        if c == "franchise":
            reads = ("title", "title", "keywords", "keywords", "collection")
            return [(f"franchise:{f}", (r,)) for f, r in zip(FRANCHISE_FEATURES, reads, strict=True)]
        if c == "calendar":
            return [(f"calendar:{f}", ("release_date",)) for f in CALENDAR_FEATURES]
        if c == "budget_flags":
            return [("budget_flags:implausible", ("budget_musd",))]
        if c == "people":
            names = ("director_track", "director_count", "cast_track_max", "cast_track_mean", "cast_count")
            return [(f"people:{f}", ("director",) if f.startswith("d") else ("cast",)) for f in names]
        return [(c, group_inputs(c))]

    def _owned_all(self) -> list[str]:
        return [i for c in self.columns for i in group_inputs(c)]

    def _kept(self, c: str) -> list[tuple[str, tuple[str, ...]]]:
        """The value columns of a group that read no unread input."""
        return [(n, r) for n, r in self._values(c) if not set(r) & set(self.unread)]

    # The layout and what derives from it are computed once (encode runs per request); fit forgets them.
    @cached_property
    def _keep_positions(self) -> dict[str, list[int]]:
        """Per group, the positions of its kept value columns."""
        keep = {}
        for c in self.columns:
            kept = {n for n, _ in self._kept(c)}
            keep[c] = [j for j, (name, _) in enumerate(self._values(c)) if name in kept]
        return keep

    @cached_property
    def _blanks(self) -> tuple[list[str], np.ndarray]:
        """The inputs some output reads, and (inputs, outputs) bool: which outputs each input blanks."""
        reads = self._layout[1]
        inputs = sorted({i for r in reads for i in r})
        at = {i: k for k, i in enumerate(inputs)}
        blanks = np.zeros((len(inputs), len(reads)), dtype=bool)
        for j, r in enumerate(reads):
            blanks[[at[i] for i in r], j] = True
        return inputs, blanks

    @cached_property
    def _layout(self) -> tuple[list[str], list[tuple[str, ...]], dict[str, list[str]]]:
        """(output names, inputs each output reads (() for known columns), known inputs owned per group)."""
        names, reads, owned, seen = [], [], {}, set()
        for c in self.columns:
            vals = self._kept(c)
            names += [n for n, _ in vals]
            reads += [r for _, r in vals]
            owned[c] = [i for i in group_inputs(c) if i not in seen and i not in self.unread]
            seen.update(owned[c])
            names += [f"known:{i}" for i in owned[c]]
            reads += [()] * len(owned[c])
        return names, reads, owned

    @property
    def feature_names(self) -> list[str]:
        """Names of the output columns, for permutation importance and reports."""
        return list(self._layout[0])

    @property
    def dim(self) -> int:
        """Output width."""
        return len(self._layout[0])

    @property
    def inputs(self) -> list[str]:
        """Every input the encoder reads, in the order of `known`'s columns."""
        return [i for own in self._layout[2].values() for i in own]

    @property
    def optional_inputs(self) -> list[str]:
        """The inputs a film may lack beyond BASIC_INPUTS (what group dropout masks by default).

        Dropping the basics too costs more on full films than it gains (benchmarks/unknown_inputs.py)."""
        return [i for i in self.inputs if i not in BASIC_INPUTS]

    @property
    def column_inputs(self) -> list[tuple[str, ...]]:
        """Per output column, the inputs it reads (empty for the known columns)."""
        return list(self._layout[1])

    def known_columns(self) -> dict[str, int]:
        """The position of each input's `known:<input>` column."""
        names = self._layout[0]
        return {i: names.index(f"known:{i}") for i in self.inputs}

    def blocks(self) -> dict[str, np.ndarray]:
        """Feature positions of each column or group, known columns included (a group moves together)."""
        out, start = {}, 0
        _, _, owned = self._layout
        for c in self.columns:
            width = len(self._kept(c)) + len(owned[c])
            if width:
                out[c] = np.arange(start, start + width)
            start += width
        return out

    # ---- encode --------------------------------------------------------------------------------------
    def encode(self, df: pd.DataFrame) -> np.ndarray:
        """(N, dim) float32 features with NaN wherever a feature's input is unknown (for the trees)."""
        inp = self._read(df)
        _, _, owned = self._layout
        parts = []
        keeps = self._keep_positions
        for c in self.columns:
            parts.append(self._group(inp, c)[:, keeps[c]])
            known = [inp.get(i)[1].astype(np.float32) for i in owned[c]]
            parts.append(np.stack(known, 1) if known else np.zeros((inp.n, 0), np.float32))
        X = np.concatenate(parts, axis=1).astype(np.float64) if parts else np.zeros((inp.n, 0))
        inputs, blanks = self._blanks
        if inputs:  # an output is unknown when any input it reads is
            unknown = ~np.stack([inp.get(i)[1] for i in inputs], axis=1)
            X[unknown @ blanks] = np.nan
        return X.astype(np.float32)

    def fill_unknown(self, X: np.ndarray) -> np.ndarray:
        """The network's view of `encode`'s output: unknown values replaced by the training mean."""
        if len(self.neutral) != X.shape[1]:
            raise ValueError(f"encoder has {len(self.neutral)} neutral values for {X.shape[1]} columns")
        return np.where(np.isnan(X), np.asarray(self.neutral, np.float32), X).astype(np.float32)

    def transform(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(N, dim) finite float32 features (`fill_unknown(encode(df))`) and which films have metadata."""
        X = self.encode(df)
        return self.fill_unknown(X), self.presence(X)

    def known(self, X: np.ndarray) -> np.ndarray:
        """(N, len(inputs)) bool: which inputs each film has, read from the known columns."""
        return X[:, list(self.known_columns().values())] == 1

    def presence(self, X: np.ndarray) -> np.ndarray:
        """Which films have any metadata (a title alone is none), read back from encoded features."""
        cols = [j for i, j in self.known_columns().items() if i not in _NOT_METADATA]
        return (X[:, cols] == 1).any(1) if cols else np.zeros(len(X), dtype=bool)

    def mask_inputs(self, X: np.ndarray, rows, inputs: list[str], fill: bool = False) -> np.ndarray:
        """A copy of X in which the films at `rows` lack `inputs`, exactly as `encode` (fill=False) or
        `transform` (fill=True) would give had those cells been empty."""
        unknown = [i for i in inputs if i not in self.known_columns()]
        if unknown:
            raise ValueError(
                f"inputs {', '.join(unknown)} are not read by this encoder ({', '.join(self.inputs)})"
            )
        rows = np.asarray(rows)
        rows = np.flatnonzero(rows) if rows.dtype == bool else rows.astype(np.int64)
        drop = set(inputs)
        cols = [j for j, r in enumerate(self.column_inputs) if drop.intersection(r)]
        out = np.array(X, dtype=np.float32, copy=True)
        value = np.asarray(self.neutral, np.float32)[cols] if fill else np.float32(np.nan)
        out[np.ix_(rows, cols)] = value
        out[np.ix_(rows, [self.known_columns()[i] for i in inputs])] = 0.0
        return out

    def group_dropout(
        self,
        X: np.ndarray,
        rate: float,
        rng: np.random.Generator,
        inputs: list[str] | None = None,
        fill: bool = False,
    ) -> np.ndarray:
        """A copy of X with each input (default: `optional_inputs`) made unknown, independently, for a
        `rate` share of the films: training films then show the model what a film lacking them looks like."""
        inputs = self.optional_inputs if inputs is None else inputs
        out = X
        for i in inputs:
            out = self.mask_inputs(out, rng.random(len(X)) < rate, [i], fill=fill)
        return out

    @staticmethod
    def _multi_hot(lists: list[list[str]], vocab: list[str]) -> np.ndarray:
        index = {g: i for i, g in enumerate(vocab)}
        m = np.zeros((len(lists), len(vocab)), dtype=np.float32)
        for r, vs in enumerate(lists):
            for v in vs:
                if v in index:  # values unseen in training carry no learned meaning
                    m[r, index[v]] = 1.0
        return m

    def _tracks(self, name: str, entities: list[list[str]], inp: InputCells) -> np.ndarray:
        days, years = inp.day_and_year
        feats = self._track(name).features(entities, days, years)
        # No date: nothing is known to be before, so an entity's record is unknown; no entity ("none")
        # has no record whatever the date.
        named = np.array([len(e) > 0 for e in entities], dtype=bool)
        feats[~np.isfinite(days) & ~np.isfinite(years) & named] = np.nan
        return feats

    def _group(self, inp: InputCells, c: str) -> np.ndarray:
        """One group's value columns; unknown inputs are blanked to NaN by `encode`."""
        n = inp.n
        if c == "genres":
            return self._multi_hot(inp.get("genres")[0], self.genres)
        if c in _MULTI_HOT:
            lists = inp.get(_MULTI_HOT[c][0])[0]
            block = self._multi_hot(lists, self.vocab[c])
            if c in self.tracks:
                block = np.concatenate([block, self._tracks(c, lists, inp)], axis=1)
            return block
        if c == "language":
            langs = inp.get("language")[0]
            block = self._multi_hot([[v] for v in langs], self.vocab[c])
            other = np.array([v not in self.vocab[c] for v in langs], dtype=np.float32)
            return np.concatenate([block, other[:, None]], axis=1)
        if c == "franchise":
            titles, kws, coll = (inp.get(i)[0] for i in ("title", "keywords", "collection"))
            rows = [franchise_flags(t, k, cl) for t, k, cl in zip(titles, kws, coll, strict=True)]
            return np.array(rows, dtype=np.float32).reshape(n, len(FRANCHISE_FEATURES))
        if c == "calendar":
            rows = [calendar_features(d) for d in inp.get("release_date")[0]]
            block = np.array([r or [0.0] * len(CALENDAR_FEATURES) for r in rows], dtype=np.float32)
            return block.reshape(n, len(CALENDAR_FEATURES))
        if c == "budget_flags":
            b = np.expm1(inp.numeric("budget_musd"))
            return np.where(np.isfinite(b), b < IMPLAUSIBLE_BUDGET_MUSD, False)[:, None].astype(np.float32)
        if c == "people":
            director = [[v] if v else [] for v in inp.get("director")[0]]
            d = self._tracks("director", director, inp)[:, [0, 2]]
            k = self._tracks("cast", inp.get("cast")[0], inp)
            return np.concatenate([d, k], axis=1)
        x = self._raw_numeric(inp, c)
        return ((x - self.means[c]) / self.scales[c])[:, None]

    # ---- checkpoint ----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """For the checkpoint (JSON-ready: vocabularies, track records and neutral values included)."""
        return {
            "columns": self.columns,
            "means": self.means,
            "scales": self.scales,
            "genres": self.genres,
            "settings": dataclasses.asdict(self.settings),
            "vocab": self.vocab,
            "tracks": self.tracks,
            "neutral": self.neutral,
            "unread": self.unread,
        }

    @classmethod
    def from_dict(cls, d: dict) -> TabularEncoder:
        """Rebuild from a checkpoint."""
        if "neutral" not in d:
            raise ValueError(
                "this model's metadata encoder was saved before unknown inputs were told apart from "
                "none (no neutral values, a different feature layout): retrain the model"
            )
        return cls(
            columns=list(d["columns"]),
            means=dict(d["means"]),
            scales=dict(d["scales"]),
            genres=list(d["genres"]),
            # A checkpoint saved before keywords_encoding existed encoded keywords as a multi-hot.
            settings=TabularConfig(**{"keywords_encoding": "multi_hot", **d.get("settings", {})}),
            vocab={k: list(v) for k, v in d.get("vocab", {}).items()},
            tracks=dict(d.get("tracks", {})),
            neutral=[float(v) for v in d["neutral"]],
            unread=list(d.get("unread", [])),
        )

"""Join a film table to YouTube trailer ids with MovieLens' `ml-youtube.csv` and `links.csv`.

Order of evidence: TMDb id, then IMDb id (both through links.csv), then normalised title + year,
then title + year off by one (release dates differ between countries and databases). A title + year
key that points at two different trailers is ambiguous and not used.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path

import pandas as pd

from reelcast.config import DataConfig
from reelcast.media.refs import YOUTUBE_ID

log = logging.getLogger(__name__)

METHODS = ("tmdb", "imdb", "title_year", "title_year_pm1")
# Articles MovieLens moves to the end ("Matrix, The", "Postino, Il"); moved back before matching.
ARTICLES = frozenset(
    {
        "the",
        "a",
        "an",
        "le",
        "la",
        "les",
        "l'",
        "il",
        "lo",
        "gli",
        "i",
        "el",
        "los",
        "las",
        "un",
        "una",
        "une",
        "der",
        "die",
        "das",
        "den",
        "det",
        "de",
        "het",
        "o",
        "os",
        "as",
    }
)
_TRAILING_ARTICLE = re.compile(r"^(?P<body>.+?),\s*(?P<art>[A-Za-z]+'?)$")
_YEAR_AT_END = re.compile(r"\s*\((?P<year>\d{4})(?:[-–]\d{0,4})?\)\s*$")
_AKA_AT_END = re.compile(r"\s*\((?P<aka>[^()]*)\)\s*$")
_AUTO_COLUMNS = {
    "tmdb": ("tmdb_id", "tmdbId", "tmdbid", "tmdb"),
    "imdb": ("imdb_id", "imdbId", "imdbid", "imdb", "tconst"),
    "title": ("title", "Title", "movie_title", "name"),
    "year": ("year", "Year", "release_year", "release_date"),
}


def _article_front(title: str) -> str:
    m = _TRAILING_ARTICLE.match(title.strip())
    if m and m["art"].lower() in ARTICLES:
        art = m["art"]
        return f"{art}{m['body']}" if art.endswith("'") else f"{art} {m['body']}"
    return title


def normalise_title(title: str) -> str:
    """Lower case, no accents or punctuation, trailing article moved to the front."""
    t = _article_front(str(title))
    t = unicodedata.normalize("NFKD", t)
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    t = t.replace("&", " and ")
    t = re.sub(r"['’`]", "", t)  # "Schindler's" and "L'Enfer": drop, do not split the word
    t = re.sub(r"[^0-9a-z]+", " ", t)
    return " ".join(t.split())


def parse_movielens_title(title: str) -> tuple[list[str], int | None]:
    """Normalised names ("Postman, The (Postino, Il) (1994)" -> the postman, il postino) and the year."""
    title = str(title).strip()
    year = None
    m = _YEAR_AT_END.search(title)
    if m:
        year = int(m["year"])
        title = title[: m.start()]
    names = []
    while (m := _AKA_AT_END.search(title)) and m.start() > 0:  # trailing (alternative titles)
        aka = re.sub(r"^(a\.k\.a\.|aka)\s+", "", m["aka"].strip(), flags=re.IGNORECASE)
        names.append(aka)
        title = title[: m.start()]
    names.insert(0, title)
    out = []
    for n in names:
        key = normalise_title(n)
        if key and key not in out:
            out.append(key)
    return out, year


def _int_id(value: object) -> int | None:
    """12345, 12345.0, "0114709", "tt0114709" -> int; anything else -> None."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    m = re.fullmatch(r"\s*(?:tt)?0*(\d+)(?:\.0+)?\s*", str(value), flags=re.IGNORECASE)
    return int(m.group(1)) if m else None


def _year(value: object) -> int | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    m = re.search(r"(1[89]\d\d|20\d\d)", str(value))
    return int(m.group(1)) if m else None


def _pick(films: pd.DataFrame, given: str | None, kind: str) -> str | None:
    if given is not None:
        if given not in films.columns:
            raise KeyError(f"trailer map: column {given!r} ({kind}) is not in the table")
        return given
    return next((c for c in _AUTO_COLUMNS[kind] if c in films.columns), None)


def _read_movielens_csv(path: Path, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    """A MovieLens CSV as strings; one clear error when it cannot be read or lacks a column."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError) as e:
        raise ValueError(f"{path}: cannot read the MovieLens {what} ({e})") from e
    missing = set(columns) - set(df.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}; expected {', '.join(columns)}")
    return df


def _read_movielens(ml_youtube: Path, links: Path | None) -> tuple[pd.DataFrame, int]:
    yt = _read_movielens_csv(Path(ml_youtube), ("youtubeId", "movieId", "title"), "trailer file")
    valid = yt["youtubeId"].str.strip().str.fullmatch(YOUTUBE_ID.pattern)
    invalid = int((~valid).sum())  # e.g. "#NAME?" where a spreadsheet ate ids starting with "-"
    yt = yt[valid].copy()
    yt["youtubeId"] = yt["youtubeId"].str.strip()
    yt["movieId"] = yt["movieId"].map(_int_id)
    if links is not None:
        ln = _read_movielens_csv(Path(links), ("movieId", "imdbId", "tmdbId"), "links file")
        ln = pd.DataFrame(
            {
                "movieId": ln["movieId"].map(_int_id),
                "imdb": ln["imdbId"].map(_int_id),
                "tmdb": ln["tmdbId"].map(_int_id),
            }
        )
        yt = yt.merge(ln, on="movieId", how="left")
    else:
        yt["imdb"] = None
        yt["tmdb"] = None
    return yt.sort_values("movieId", kind="stable").reset_index(drop=True), invalid


def _unique_index(pairs: list[tuple[object, str]]) -> tuple[dict[object, str], int]:
    """key -> youtube id for keys that name one trailer only; also the number of ambiguous keys."""
    seen: dict[object, set[str]] = {}
    for key, yid in pairs:
        seen.setdefault(key, set()).add(yid)
    unique = {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}
    return unique, len(seen) - len(unique)


def join_trailers(
    films: pd.DataFrame,
    ml_youtube: Path,
    links: Path | None = None,
    tmdb_col: str | None = None,
    imdb_col: str | None = None,
    title_col: str | None = None,
    year_col: str | None = None,
) -> tuple[pd.Series, dict]:
    """YouTube id per film (None when unmatched), aligned to films.index, and a report of the join."""
    ml, invalid = _read_movielens(ml_youtube, links)
    cols = {
        "tmdb": _pick(films, tmdb_col, "tmdb"),
        "imdb": _pick(films, imdb_col, "imdb"),
        "title": _pick(films, title_col, "title"),
        "year": _pick(films, year_col, "year"),
    }
    index, ambiguous = _indexes(ml)
    out: list[str | None] = []
    counts = dict.fromkeys(METHODS, 0)
    for _, row in films.iterrows():
        found, how = _match(row, cols, index)
        if found is not None:
            counts[how] += 1
        out.append(found)
    n = len(films)
    matched = sum(counts.values())
    report = {
        "films": n,
        "matched": matched,
        "unmatched": n - matched,
        "hit_rate": matched / n if n else 0.0,
        "by_method": counts,
        "columns": cols,
        "movielens_trailers": len(ml),
        "movielens_invalid_ids": invalid,
        "ambiguous_title_keys": ambiguous,
    }
    return pd.Series(out, index=films.index, dtype=object, name="trailer"), report


def _indexes(ml: pd.DataFrame) -> tuple[dict[str, dict], int]:
    """Lookups from each kind of evidence (METHODS) to a YouTube id, and the ambiguous title keys."""
    # The first movieId wins when two MovieLens entries share an external id (re-releases).
    by_tmdb: dict = {}
    by_imdb: dict = {}
    for yid, tm, im in zip(ml["youtubeId"], ml["tmdb"], ml["imdb"], strict=True):
        if tm is not None and tm == tm:
            by_tmdb.setdefault(int(tm), yid)
        if im is not None and im == im:
            by_imdb.setdefault(int(im), yid)
    pairs_exact: list[tuple[object, str]] = []
    pairs_near: list[tuple[object, str]] = []
    for yid, title in zip(ml["youtubeId"], ml["title"], strict=True):
        names, year = parse_movielens_title(title)
        if year is None:
            continue
        for n in names:
            pairs_exact.append(((n, year), yid))
            for y in (year - 1, year + 1):
                pairs_near.append(((n, y), yid))
    by_title, ambiguous = _unique_index(pairs_exact)
    by_title_near, _ = _unique_index(pairs_near)
    index = {"tmdb": by_tmdb, "imdb": by_imdb, "title_year": by_title, "title_year_pm1": by_title_near}
    return index, ambiguous


def _match(row: pd.Series, cols: dict, index: dict[str, dict]) -> tuple[str | None, str | None]:
    """(YouTube id, method) for one film by the first evidence that finds it; (None, None) otherwise."""
    if cols["tmdb"] and (k := _int_id(row[cols["tmdb"]])) is not None and k in index["tmdb"]:
        return index["tmdb"][k], "tmdb"
    if cols["imdb"] and (k := _int_id(row[cols["imdb"]])) is not None and k in index["imdb"]:
        return index["imdb"][k], "imdb"
    if cols["title"] and cols["year"]:
        year = _year(row[cols["year"]])
        name = normalise_title(row[cols["title"]]) if isinstance(row[cols["title"]], str) else ""
        if year is not None and name:
            for how in ("title_year", "title_year_pm1"):
                if (name, year) in index[how]:
                    return index[how][(name, year)], how
    return None, None


def fill_trailers(df: pd.DataFrame, cfg: DataConfig, tmdb_ids: bool) -> dict:
    """Fill empty trailer cells with MovieLens YouTube ids (by TMDb id, IMDb id, then title + year).

    `tmdb_ids`: the film ids are TMDb ids. Returns the join summary for the table report.
    """
    links = Path(cfg.trailer_links) if cfg.trailer_links else None
    tmdb = "film_id" if tmdb_ids else None
    imdb = next((c for c in df.columns if c.lower() in ("src:imdb_id", "src:imdbid", "src:tconst")), None)
    ids, join = join_trailers(
        df, Path(cfg.trailer_map), links, tmdb_col=tmdb, imdb_col=imdb, title_col="title", year_col="year"
    )
    empty = df["trailer"] == ""
    df.loc[empty, "trailer"] = ids[empty].fillna("").astype(str)
    log.info(
        "trailer map %s: %d of %d films matched (%.1f %%): %s",
        cfg.trailer_map,
        join["matched"],
        join["films"],
        100 * join["hit_rate"],
        ", ".join(f"{m} {n}" for m, n in join["by_method"].items()),
    )
    return join

"""People tables: a film's director and top cast, joined to a film table by id or title + year.

The track-record features built on them (earlier revenue of the director and stars, from training
films released strictly before) live in `data.track_record` and the `people` group of TabularEncoder.

Accepted files (CSV, TSV or Parquet):
  - the Kaggle "IMDB 5000" movie_metadata.csv: director_name, actor_1_name..actor_3_name, movie_title,
    title_year (its titles end in a non-breaking space, which the join ignores);
  - any table with a title and a year column (or an id column matching the film table's ids), a
    director column (director / director_name) and either a cast column (names separated by | or ;)
    or actor_1_name, actor_2_name, ... columns.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

_ID = ("film_id", "id", "tmdb_id", "tmdbid")
_TITLE = ("title", "movie_title", "film", "name")
_YEAR = ("year", "title_year", "release_year")
_DIRECTOR = ("director", "director_name", "directors")
_CAST = ("cast", "stars", "actors", "top_cast")
_ACTOR_N = re.compile(r"^actor_?(\d+)(?:_name)?$", re.IGNORECASE)


def title_key(title: Any) -> str:
    """A title for matching: Unicode-normalised, case-folded, letters and digits only."""
    if title is None or (isinstance(title, float) and math.isnan(title)):
        return ""
    s = unicodedata.normalize("NFKC", str(title)).casefold()
    return re.sub(r"[^\w]+", "", s)


def _year(v: Any) -> int | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else int(f)


def _clean(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return unicodedata.normalize("NFKC", str(v)).strip()


def _find(columns: list[str], names: tuple[str, ...]) -> str | None:
    lower = {c.lower().strip(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def read_people(path: str | Path) -> pd.DataFrame:
    """The people file as rows of (film_id, title_key, year, director, cast list), in file order."""
    from reelcast.data.read import read_raw

    raw, _, _ = read_raw(path)
    cols = [str(c) for c in raw.columns]
    id_col, title_col, year_col = _find(cols, _ID), _find(cols, _TITLE), _find(cols, _YEAR)
    director_col, cast_col = _find(cols, _DIRECTOR), _find(cols, _CAST)
    actors = sorted((int(m.group(1)), c) for c in cols if (m := _ACTOR_N.match(c.strip())))
    if director_col is None and cast_col is None and not actors:
        raise ValueError(
            f"{path}: no director or cast column (looked for {', '.join(_DIRECTOR + _CAST)} "
            f"and actor_1_name...); columns found: {', '.join(cols)}"
        )
    if id_col is None and (title_col is None or year_col is None):
        raise ValueError(
            f"{path}: a people file needs an id column ({', '.join(_ID)}) or a title and a year column "
            f"({', '.join(_TITLE)} / {', '.join(_YEAR)}); columns found: {', '.join(cols)}"
        )
    rows = []
    for rec in raw.to_dict("records"):
        if cast_col is not None:
            cast = [_clean(x) for x in re.split(r"[|;]", _clean(rec[cast_col])) if _clean(x)]
        else:
            cast = [_clean(rec[c]) for _, c in actors if _clean(rec[c])]
        rows.append(
            {
                "film_id": _clean(rec[id_col]) if id_col else "",
                "title_key": title_key(rec[title_col]) if title_col else "",
                "year": _year(rec[year_col]) if year_col else None,
                "director": _clean(rec[director_col]) if director_col else "",
                "cast": cast,
            }
        )
    return pd.DataFrame(rows, columns=["film_id", "title_key", "year", "director", "cast"])


def join_people(films: pd.DataFrame, path: str | Path) -> dict[str, Any]:
    """Add `director` and `cast` columns to a canonical film frame in place; return the join report.

    A film matches by id first, then by title + exact year (a title alone is too ambiguous: remakes).
    When the file lists a film twice the first row wins.
    """
    people = read_people(path)
    by_id: dict[str, dict] = {}
    by_title: dict[tuple[str, int], dict] = {}
    for rec in people.to_dict("records"):
        if rec["film_id"]:
            by_id.setdefault(rec["film_id"], rec)
        if rec["title_key"] and rec["year"] is not None:
            by_title.setdefault((rec["title_key"], rec["year"]), rec)
    directors, casts, methods = [], [], {"id": 0, "title+year": 0}
    for fid, title, year in zip(films["film_id"], films["title"], films["year"], strict=True):
        hit, how = by_id.get(str(fid)), "id"
        if hit is None and _year(year) is not None:
            hit, how = by_title.get((title_key(title), _year(year))), "title+year"
        if hit is not None:
            methods[how] += 1
        directors.append(hit["director"] if hit else None)  # a film the table does not know: unknown
        casts.append(list(hit["cast"]) if hit else None)
    films["director"] = directors
    films["cast"] = casts
    matched = sum(methods.values())
    report = {
        "file": str(path),
        "people_rows": len(people),
        "films": len(films),
        "matched": matched,
        "hit_rate": matched / len(films) if len(films) else 0.0,
        "by_method": methods,
    }
    log.info(
        "people %s: %d of %d films matched (%.1f %%): by id %d, by title + year %d",
        path,
        matched,
        len(films),
        100 * report["hit_rate"],
        methods["id"],
        methods["title+year"],
    )
    return report

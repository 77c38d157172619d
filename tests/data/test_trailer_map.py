"""Joining film tables to MovieLens YouTube trailer ids: by TMDb id, IMDb id, then title + year."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reelcast.data.trailer_map import join_trailers, normalise_title, parse_movielens_title
from reelcast.media.refs import YOUTUBE_ID

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

ML_YOUTUBE = """youtubeId,movieId,title
K26_sDKnvMU,1,Toy Story (1995)
vKQi3bBA1y8,2571,"Matrix, The (1999)"
HUtvPh-4iPo,4973,"Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)"
#NAME?,52,Mighty Aphrodite (1995)
-aaaaaaaaaa,100,Heat (1995)
bbbbbbbbbbb,101,Crash (1996)
ccccccccccc,102,Crash (2004)
ddddddddddd,103,Twin Title (2000)
eeeeeeeeeee,104,Twin Title (2000)
fffffffffff,105,Late Release (2010)
"""
LINKS = """movieId,imdbId,tmdbId
1,0114709,862
2571,0133093,603
4973,0211915,194
52,0113819,11448
100,0113277,949
101,0115964,
102,0375679,1640
103,0000001,1
104,0000002,2
105,0000003,3
"""


@pytest.fixture
def ml_files(tmp_path) -> tuple[Path, Path]:
    (tmp_path / "ml-youtube.csv").write_text(ML_YOUTUBE, encoding="utf-8")
    (tmp_path / "links.csv").write_text(LINKS, encoding="utf-8")
    return tmp_path / "ml-youtube.csv", tmp_path / "links.csv"


def test_title_normalisation():
    assert normalise_title("Matrix, The") == normalise_title("The Matrix") == "the matrix"
    assert normalise_title("Amélie") == "amelie"
    assert normalise_title("Schindler's List") == "schindlers list"
    assert normalise_title("Enfer, L'") == normalise_title("L'Enfer")
    assert normalise_title("Love, Actually") == "love actually"  # not an article: left in place
    assert parse_movielens_title("Postman, The (Postino, Il) (1994)") == (["the postman", "il postino"], 1994)
    assert parse_movielens_title("Big Bang Theory, The (2007-)") == (["the big bang theory"], 2007)
    assert parse_movielens_title("Slaying the Badger") == (["slaying the badger"], None)


def test_join_order_and_report(ml_files):
    films = pd.DataFrame(
        {
            "tmdb_id": [862, None, None, None, 99999, None, None, None, None],
            "imdb_id": [None, "tt0133093", 113277, None, None, None, None, None, None],
            "title": [
                "Wrong Title",  # TMDb id wins over the title
                "Matrix",  # IMDb id (tt form) wins, even with a title that would not match
                "Heat",  # integer IMDb id
                "Le Fabuleux Destin d'Amélie Poulain",  # alternative title + accents
                "Crash",  # unknown TMDb id, falls through to title + year
                "Mighty Aphrodite",  # MovieLens row with a spreadsheet-mangled id
                "Twin Title",  # two different trailers under one title + year: ambiguous
                "Late Release",  # released a year later than MovieLens says
                "Unknown Film",
            ],
            "year": [1995, 1999, 1995, 2001, 2004, 1995, 2000, 2011, 2001],
        },
        index=[10, 11, 12, 13, 14, 15, 16, 17, 18],
    )
    ids, report = join_trailers(films, *ml_files)
    assert ids.index.tolist() == films.index.tolist()
    assert ids.tolist() == [
        "K26_sDKnvMU",
        "vKQi3bBA1y8",
        "-aaaaaaaaaa",
        "HUtvPh-4iPo",
        "ccccccccccc",
        None,
        None,
        "fffffffffff",
        None,
    ]
    assert report["by_method"] == {"tmdb": 1, "imdb": 2, "title_year": 2, "title_year_pm1": 1}
    assert report["matched"] == 6 and report["hit_rate"] == pytest.approx(6 / 9)
    assert report["movielens_invalid_ids"] == 1 and report["ambiguous_title_keys"] >= 1
    assert report["columns"] == {"tmdb": "tmdb_id", "imdb": "imdb_id", "title": "title", "year": "year"}


def test_title_only_with_release_dates_and_no_links(ml_files):
    films = pd.DataFrame({"Name": ["The Matrix", "Toy Story"], "release_date": ["1999-03-30", "1995-10-30"]})
    ids, report = join_trailers(films, ml_files[0], None, title_col="Name")
    assert ids.tolist() == ["vKQi3bBA1y8", "K26_sDKnvMU"] and report["by_method"]["title_year"] == 2


def test_bad_inputs_name_the_file_or_column(ml_files, tmp_path):
    films = pd.DataFrame({"title": ["Heat"], "year": [1995]})
    with pytest.raises(KeyError, match="tmdb"):
        join_trailers(films, *ml_files, tmdb_col="tmdb")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="bad.csv.*youtubeId"):
        join_trailers(films, bad, None)


def test_real_tables_join_with_good_hit_rates():
    ml = SHARED_DATA / "movielens_links_youtube"
    tmdb_csv = SHARED_DATA / "tmdb_5000" / "tmdb_5000_movies.csv"
    imdb_csv = SHARED_DATA / "imdb_movie_data_1000" / "IMDB-Movie-Data.csv"
    for p in (ml / "ml-youtube.csv", ml / "links.csv", tmdb_csv, imdb_csv):
        if not p.exists():
            pytest.skip(f"{p} not present (the shared data folder sits beside the repository)")
    tmdb = pd.read_csv(tmdb_csv, usecols=["id", "title", "release_date"])
    ids, report = join_trailers(
        tmdb, ml / "ml-youtube.csv", ml / "links.csv", tmdb_col="id", year_col="release_date"
    )
    assert report["hit_rate"] > 0.85 and report["by_method"]["tmdb"] > 4000
    assert ids.dropna().map(lambda s: bool(YOUTUBE_ID.fullmatch(s))).all()
    assert ids[tmdb["title"] == "Avatar"].iloc[0] is not None

    imdb = pd.read_csv(imdb_csv, usecols=["Title", "Year"])
    ids, report = join_trailers(imdb, ml / "ml-youtube.csv", ml / "links.csv")
    # MovieLens' trailer list ends in 2015; the table is mostly 2015-2016 films.
    assert report["hit_rate"] > 0.5
    older = imdb["Year"] <= 2014
    assert ids[older].notna().mean() > 0.9

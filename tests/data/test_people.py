"""People tables: reading IMDB-5000 and generic files, joining by id or title + year."""

import pandas as pd
import pytest
from helpers import shared_path

from reelcast.config import DataConfig
from reelcast.data.people import join_people, read_people, title_key
from reelcast.data.table import load_films

NBSP = "\u00a0"


def imdb5000(tmp_path):
    df = pd.DataFrame(
        {
            "director_name": ["Ann Lee", "Bo Ray", "Cy Dee", "Old Director"],
            "actor_1_name": ["Star A", "Star B", "", "Star Z"],
            "actor_2_name": ["Star C", "", "", ""],
            "actor_3_name": ["Star D", "", "", ""],
            "movie_title": [f"Avatar{NBSP}", f"Spider-Man 3{NBSP}", f"Amélie{NBSP}", f"Avatar{NBSP}"],
            "title_year": [2009.0, 2007.0, None, 1950.0],
            "gross": [1.0, 2.0, 3.0, 4.0],
        }
    )
    path = tmp_path / "movie_metadata.csv"
    df.to_csv(path, index=False)
    return path


def test_imdb5000_file_is_read_with_its_trailing_nbsp(tmp_path):
    people = read_people(imdb5000(tmp_path))
    assert people["title_key"].tolist()[:2] == [title_key("Avatar"), title_key("spider man 3")]
    assert people.loc[0, "cast"] == ["Star A", "Star C", "Star D"]
    assert people.loc[2, "year"] is None or pd.isna(people.loc[2, "year"])


def test_join_by_title_and_exact_year_then_report(tmp_path):
    films = pd.DataFrame(
        {
            "film_id": ["1", "2", "3", "4"],
            "title": ["Avatar", "Spider-Man 3", "Amélie", "Avatar"],
            "year": [2009, 2007, 2001, 2030],
        }
    )
    report = join_people(films, imdb5000(tmp_path))
    assert films["director"].tolist()[:2] == ["Ann Lee", "Bo Ray"]
    # No year in the file, a wrong year: the people of those films are unknown, not "nobody".
    assert films["director"].isna().tolist() == [False, False, True, True]
    assert films["cast"].tolist()[1] == ["Star B"] and films["cast"].isna().tolist()[2:] == [True, True]
    assert report["matched"] == 2 and report["hit_rate"] == 0.5
    assert report["by_method"] == {"id": 0, "title+year": 2}


def test_generic_file_joins_by_id_first(tmp_path):
    path = tmp_path / "people.csv"
    pd.DataFrame(
        {"film_id": ["7"], "title": ["Other"], "year": [1990], "director": ["D"], "cast": ["X | Y"]}
    ).to_csv(path, index=False)
    films = pd.DataFrame({"film_id": ["7"], "title": ["Anything"], "year": [2000]})
    report = join_people(films, path)
    assert films.loc[0, "cast"] == ["X", "Y"] and report["by_method"]["id"] == 1


def test_a_file_without_people_columns_is_an_error(tmp_path):
    path = tmp_path / "p.csv"
    pd.DataFrame({"title": ["a"], "year": [1]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="no director or cast column"):
        read_people(path)


def test_real_tmdb_joins_imdb5000_people():
    tmdb = shared_path("data", "tmdb_5000", "tmdb_5000_movies.csv")
    people = shared_path("data", "imdb_5000_movie_metadata", "movie_metadata.csv")
    table = load_films(tmdb, DataConfig(people=str(people)))
    join = table.report.to_dict()["people"]
    assert join["films"] == 3376 and join["hit_rate"] > 0.9  # 96.7 % when this test was written
    avatar = table.df.set_index("title").loc["Avatar"]
    assert avatar["director"] == "James Cameron" and "CCH Pounder" in avatar["cast"]

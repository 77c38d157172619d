import logging

import pandas as pd
import pytest
from helpers import shared_path

from reelcast.config import DataConfig
from reelcast.data.table import TableError, films_from_frame, load_films

HEADER = "Title,Description,Revenue,Year\n"


def write(tmp_path, body, name="films.csv"):
    p = tmp_path / name
    p.write_text(HEADER + body, encoding="utf-8")
    return p


def test_bad_revenue_rows_are_dropped_with_reasons(tmp_path, caplog):
    p = write(
        tmp_path,
        "A,plot a,10,2001\nB,plot b,,2002\nC,plot c,lots,2003\nD,plot d,-5,2004\n"
        'E,plot e,0,2005\nF,plot f,"$1,200",2006\n',
    )
    with caplog.at_level(logging.WARNING):
        t = load_films(p)
    assert t.df["title"].tolist() == ["A", "F"]
    # "$1,200" in a table whose unit is not declared is dollars (data/revenue.py), not 1,200 M$.
    assert t.df["revenue_musd"].tolist() == [10.0, 0.0012]
    dropped = t.report.to_dict()["dropped"]
    assert dropped["missing revenue in 'Revenue'"]["lines"] == [3]
    assert dropped["non-numeric revenue in 'Revenue'"]["lines"] == [4]
    assert dropped["negative revenue in 'Revenue'"]["lines"] == [5]
    assert any(k.startswith("zero revenue") for k in dropped)
    assert "non-numeric revenue" in caplog.text and "films.csv" in caplog.text


def test_zero_revenue_kept_when_user_says_so(tmp_path):
    p = write(tmp_path, "A,plot,0,2001\nB,plot b,3,2002\n")
    assert len(load_films(p, DataConfig(zero_revenue_valid=True))) == 2


def test_empty_description_kept_with_warning(tmp_path):
    t = load_films(write(tmp_path, "A,,10,2001\nB,plot,3,2002\n"))
    assert len(t) == 2 and t.df["text"].tolist()[0] == ""
    assert t.report.to_dict()["warnings"]["empty description: text modality masked"]["count"] == 1


def test_missing_column_is_one_line_naming_columns(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("Title,Plot\nA,b\n")
    with pytest.raises(ValueError) as e:
        load_films(p, DataConfig(text_col="Plot"))
    msg = str(e.value)
    assert "x.csv" in msg and "revenue" in msg and "Title, Plot" in msg and "\n" not in msg


def test_malformed_row_names_the_line(tmp_path):
    p = write(tmp_path, "A,plot,10,2001\nB,plot,3,2002,extra\n")
    with pytest.raises(TableError, match=r"films.csv.*line 3 has 5 fields"):
        load_films(p)
    t = load_films(p, DataConfig(skip_bad_rows=True))
    assert t.df["title"].tolist() == ["A"]
    assert t.report.to_dict()["dropped"]["malformed CSV row (wrong number of fields)"]["lines"] == [3]


def test_duplicates_are_reported_and_first_kept(tmp_path):
    t = load_films(write(tmp_path, "A,plot,10,2001\nA,plot again,11,2001\nA,remake,12,2019\n"))
    assert t.df["revenue_musd"].tolist() == [10.0, 12.0]
    assert t.report.to_dict()["duplicates"]["count"] == 1


def test_generic_columns_by_flag_and_unknown_format(tmp_path):
    df = pd.DataFrame({"name": ["A", "B"], "Plot": ["x", "y"], "Gross": [1.5, 2.5]})
    t = films_from_frame(df, DataConfig(text_col="Plot", revenue_col="Gross"))
    assert t.df["text"].tolist() == ["x", "y"] and t.schema.name == "generic"
    bad = tmp_path / "films.xlsx"
    bad.write_bytes(b"x")
    with pytest.raises(TableError, match="unsupported table format"):
        load_films(bad)


def test_parquet_is_read(tmp_path):
    df = pd.DataFrame({"title": ["A"], "description": ["plot"], "revenue": [4.0]})
    df.to_parquet(tmp_path / "f.parquet")
    assert load_films(tmp_path / "f.parquet").df["revenue_musd"].tolist() == [4.0]


def test_imdb_1000_schema_on_the_real_file():
    t = load_films(shared_path("data", "imdb_movie_data_1000", "IMDB-Movie-Data.csv"))
    assert t.schema.name == "imdb1000" and len(t) == 872
    assert t.df["genres"].iloc[0] == ["Action", "Adventure", "Sci-Fi"]


def test_tmdb_schema_on_the_real_file():
    t = load_films(shared_path("data", "tmdb_5000", "tmdb_5000_movies.csv"))
    assert t.schema.name == "tmdb5000" and len(t) == 3376  # revenue 0 means unknown in TMDB
    avatar = t.df[t.df["title"] == "Avatar"].iloc[0]
    assert abs(avatar["revenue_musd"] - 2787.965087) < 1e-6 and avatar["budget_musd"] == 237.0
    assert avatar["release_month"] == 12 and "Science Fiction" in avatar["genres"]


def test_trailer_map_fills_empty_trailer_cells(tmp_path):
    yt = tmp_path / "ml-youtube.csv"
    yt.write_text("youtubeId,movieId,title\nK26_sDKnvMU,1,Toy Story (1995)\n")
    p = write(tmp_path, "Toy Story,toys come alive,100,1995\nOther,x,5,2001\n")
    t = load_films(p, DataConfig(trailer_map=str(yt)))
    assert t.df["trailer"].tolist() == ["K26_sDKnvMU", ""]
    assert t.report.to_dict()["trailer_map"]["matched"] == 1


def test_tmdb_lists_dates_language_and_collection_are_read(tmp_path):
    kw = '[{"id": 1, "name": "sequel"}, {"id": 2, "name": "hero"}]'
    comp = '[{"name": "Marvel Studios", "id": 420}]'
    countries = '[{"iso_3166_1": "US", "name": "United States of America"}]'
    df = pd.DataFrame(
        {
            "overview": ["A plot.", "Another."],
            "revenue": [5e8, 2e6],
            "budget": [1e8, 0],
            "genres": ['[{"id": 28, "name": "Action"}]', "[]"],
            "id": [1, 2],
            "title": ["Hero 2", "Quiet"],
            "release_date": ["2012-05-04", "not a date"],
            "keywords": [kw, "[]"],
            "production_companies": [comp, ""],
            "production_countries": [countries, "[]"],
            "original_language": ["EN", "fr"],
            "belongs_to_collection": ['{"id": 9, "name": "Hero Collection"}', ""],
        }
    )
    path = tmp_path / "tmdb.csv"
    df.to_csv(path, index=False)
    t = load_films(path)
    assert t.schema.name == "tmdb5000"
    a, b = t.df.iloc[0], t.df.iloc[1]
    assert a["keywords"] == ["sequel", "hero"] and a["companies"] == ["Marvel Studios"]
    assert a["countries"] == ["US"] and a["language"] == "en" and a["collection"] == "Hero Collection"
    assert a["release_date"] == pd.Timestamp("2012-05-04") and a["year"] == 2012
    assert pd.isna(b["release_date"]) and pd.isna(b["year"])
    assert b["keywords"] == [] and b["collection"] == ""
    assert t.report.to_dict()["warnings"]["unreadable date in 'release_date': treated as missing"][
        "lines"
    ] == [3]


def test_request_fields_include_the_new_metadata():
    from reelcast.data.table import canonical_frame

    df = canonical_frame(
        [{"title": "X", "text": "t", "keywords": "sequel, hero", "release_date": "2015-07-03", "cast": "A|B"}]
    )
    row = df.iloc[0]
    assert row["keywords"] == ["sequel", "hero"] and row["cast"] == ["A", "B"]
    assert row["year"] == 2015 and row["release_month"] == 7
    with pytest.raises(ValueError, match="not a date"):
        canonical_frame([{"title": "X", "release_date": "soon"}])

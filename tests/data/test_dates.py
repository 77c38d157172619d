"""Release dates and years: a cell gives what it says (a year alone has no month), or is refused by line."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

from reelcast.config import DataConfig
from reelcast.data.dates import DateColumn, DateError, parse_release_date, parse_year
from reelcast.data.table import TableError, canonical_frame, load_films


def dated(tmp_path, dates, header="title,overview,revenue,release_date"):
    """A generic table with one film per date cell."""
    p = tmp_path / "films.csv"
    rows = [header] + [f"Film {i},plot {i},{10 + i},{d}" for i, d in enumerate(dates)]
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return p


# ---- one cell -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cell", "year", "month", "day"),
    [
        ("2010", 2010, None, None),
        (2010, 2010, None, None),
        (2010.0, 2010, None, None),
        ("2010-05", 2010, 5, None),
        ("05/2010", 2010, 5, None),
        ("May 2010", 2010, 5, None),
        ("2010-05-04", 2010, 5, 4),
        ("2010-05-04T20:00:00Z", 2010, 5, 4),
        ("2010/05/04", 2010, 5, 4),
        ("4 May 2010", 2010, 5, 4),
        ("May 4, 2010", 2010, 5, 4),
        ("13/01/2010", 2010, 1, 13),
        ("01/13/2010", 2010, 1, 13),
        ("05/05/2010", 2010, 5, 5),
        (dt.date(2010, 5, 4), 2010, 5, 4),
        (np.datetime64("2010-05-04"), 2010, 5, 4),
    ],
)
def test_a_cell_gives_what_it_says(cell, year, month, day):
    d = parse_release_date(cell)
    assert (d.year, d.month) == (year, month)
    assert (d.date is None) == (day is None)
    if day:
        assert d.date == pd.Timestamp(year, month, day)


@pytest.mark.parametrize("cell", [None, "", "NaT", float("nan"), pd.NaT])
def test_empty_cells_are_unknown(cell):
    assert parse_release_date(cell) is None


@pytest.mark.parametrize("cell", ["2010.5", 2010.5, "2010,5"])
def test_a_year_with_a_fraction_is_refused(cell):
    with pytest.raises(DateError, match="fraction") as e:
        parse_release_date(cell)
    assert e.value.fatal


@pytest.mark.parametrize("cell", ["0099-01-01", "1850", "2101-01-01", "9999-12-31", "01/02/1066"])
def test_years_out_of_range_are_refused(cell):
    with pytest.raises(DateError, match="outside 1888-2100") as e:
        parse_release_date(cell, dayfirst=True)
    assert e.value.fatal


def test_a_date_that_reads_both_ways_needs_the_order():
    with pytest.raises(DateError, match="ambiguous") as e:
        parse_release_date("01/02/2010")
    assert e.value.fatal and "--dayfirst" in str(e.value)
    assert parse_release_date("01/02/2010", dayfirst=True).date == pd.Timestamp(2010, 2, 1)
    assert parse_release_date("01/02/2010", dayfirst=False).date == pd.Timestamp(2010, 1, 2)


def test_a_date_against_the_declared_order_is_refused():
    with pytest.raises(DateError, match="does not read day-first"):
        parse_release_date("12/25/2010", dayfirst=True)
    with pytest.raises(DateError, match="does not read month-first"):
        parse_release_date("25/12/2010", dayfirst=False)


def test_text_that_is_no_date_is_not_fatal():
    for cell in ("soon", "2010-02-30", "2024-W01-1", "31/31/2010"):
        with pytest.raises(DateError) as e:
            parse_release_date(cell)
        assert not e.value.fatal


def test_a_column_may_not_mix_orders():
    col = DateColumn("release_date")
    assert col.read("13/01/2010", 2).date == pd.Timestamp(2010, 1, 13)
    with pytest.raises(DateError, match="line 2 reads only day-first.*line 3 only month-first"):
        col.read("01/13/2011", 3)


@pytest.mark.parametrize(("cell", "year"), [("2010", 2010), (2010, 2010), ("2010.0", 2010), ("", None)])
def test_year_cells(cell, year):
    assert parse_year(cell) == year


@pytest.mark.parametrize("cell", ["2010.5", 1700, "2200"])
def test_year_cells_with_a_fraction_or_out_of_range_are_refused(cell):
    with pytest.raises(DateError) as e:
        parse_year(cell)
    assert e.value.fatal


# ---- in a table -----------------------------------------------------------------------------------------
def test_a_year_only_date_is_a_year_with_an_unknown_month(tmp_path):
    t = load_films(dated(tmp_path, ["2010", "2012-07-04", "2011-03"]))
    a, b, c = (t.df.iloc[i] for i in range(3))
    assert a["year"] == 2010 and pd.isna(a["release_month"]) and pd.isna(a["release_date"])
    assert b["release_month"] == 7 and b["release_date"] == pd.Timestamp(2012, 7, 4)
    assert c["year"] == 2011 and c["release_month"] == 3 and pd.isna(c["release_date"])


def test_a_fractional_year_is_refused_with_the_line(tmp_path):
    p = dated(tmp_path, ["2010", "2010.5"])
    msg = str(pytest.raises(TableError, load_films, p).value)
    assert str(p) in msg and "line 3, column 4 ('release_date')" in msg and "fraction" in msg


def test_a_column_mixing_day_and_month_first_is_refused_naming_a_line(tmp_path, capfd):
    p = dated(tmp_path, ["13/01/2010", "01/02/2010"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no pandas "could not infer format" warning either
        msg = str(pytest.raises(TableError, load_films, p).value)
    assert "line 3, column 4 ('release_date')" in msg and "ambiguous" in msg and "--dayfirst" in msg
    assert capfd.readouterr().err == ""


def test_a_column_of_dates_that_only_read_differently_is_refused(tmp_path):
    p = dated(tmp_path, ["13/01/2010", "01/13/2010"])
    msg = str(pytest.raises(TableError, load_films, p).value)
    assert "line 3, column 4" in msg and "mixes orders" in msg


def test_dayfirst_says_the_order(tmp_path):
    p = dated(tmp_path, ["13/01/2010", "01/02/2010"])
    t = load_films(p, DataConfig(dayfirst=True))
    assert t.df["release_date"].tolist() == [pd.Timestamp(2010, 1, 13), pd.Timestamp(2010, 2, 1)]
    msg = str(pytest.raises(TableError, load_films, p, DataConfig(dayfirst=False)).value)
    assert "line 2" in msg and "does not read month-first" in msg


def test_dayfirst_is_a_config_key():
    from reelcast.config import Config

    cfg = Config()
    cfg.override(["data.dayfirst=true"])
    assert cfg.data.dayfirst is True


@pytest.mark.parametrize("cell", ["0099-01-01", "2150-06-01", "1700"])
def test_out_of_range_release_years_are_refused_with_the_line(tmp_path, cell):
    p = dated(tmp_path, ["2001-01-05", cell])
    msg = str(pytest.raises(TableError, load_films, p).value)
    assert "line 3, column 4 ('release_date')" in msg and "outside 1888-2100" in msg


def test_out_of_range_year_column_is_refused_with_the_line(tmp_path):
    p = tmp_path / "films.csv"
    p.write_text("Title,Description,Revenue,Year\nA,a,10,2001\nB,b,11,99\n", encoding="utf-8")
    msg = str(pytest.raises(TableError, load_films, p).value)
    assert "line 3, column 4 ('Year')" in msg and "outside 1888-2100" in msg


def test_requests_keep_a_year_only_date_without_a_month():
    row = canonical_frame([{"title": "X", "release_date": "2015"}]).iloc[0]
    assert row["year"] == 2015 and pd.isna(row["release_month"]) and pd.isna(row["release_date"])
    with pytest.raises(ValueError, match="outside 1888-2100"):
        canonical_frame([{"title": "X", "release_date": "0001-01-01"}])

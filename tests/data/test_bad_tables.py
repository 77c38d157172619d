"""A corpus of bad tables: each is read right or refused with one error naming the file, line and column."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reelcast.config import DataConfig
from reelcast.data.classes import check_revenue_spread, fit_quantile_thresholds
from reelcast.data.table import TableError, films_from_frame, load_films


def table(tmp_path, revenues, header="title,description,revenue", name="films.csv", sep=","):
    """A generic table with one film per revenue cell (cells written as given, quoted)."""
    lines = [header.replace(",", sep)]
    for i, r in enumerate(revenues):
        lines.append(sep.join([f"Film {i}", f"plot {i}", f'"{r}"']))
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def revenues(path, **cfg):
    return load_films(path, DataConfig(**cfg)).df["revenue_musd"].tolist()


# ---- decimal marks ----
@pytest.mark.parametrize("cell", ["1,5", "333,13", "1.234,56", "2.500.000"])
def test_cells_that_read_only_with_a_decimal_comma_are_refused(tmp_path, cell):
    p = table(tmp_path, ["10", cell])
    with pytest.raises(TableError) as e:
        load_films(p)
    msg = str(e.value)
    assert str(p) in msg and "line 3, column 3 ('revenue')" in msg and "--decimal ','" in msg


def test_ambiguous_cells_are_listed_by_line(tmp_path):
    p = table(tmp_path, ["1,5", "2", "333,13", "4,25"])
    msg = str(pytest.raises(TableError, load_films, p).value)
    assert "line 2, column 3" in msg and "the same (ambiguous decimal mark) on line(s) 4, 5" in msg


def test_decimal_comma_option_reads_european_numbers(tmp_path):
    p = table(tmp_path, ["1.234,56", "1,5", "333,13", "12"])
    assert revenues(p, decimal=",") == [1234.56, 1.5, 333.13, 12.0]


def test_decimal_comma_option_refuses_decimal_point_cells(tmp_path):
    p = table(tmp_path, ["1,5", "1,234.56"])
    msg = str(pytest.raises(TableError, load_films, p, DataConfig(decimal=",")).value)
    assert "line 3, column 3" in msg and "decimal comma" in msg


def test_decimal_point_option_refuses_comma_decimals(tmp_path):
    p = table(tmp_path, ["10", "1,5"])
    msg = str(pytest.raises(TableError, load_films, p, DataConfig(decimal=".")).value)
    assert "line 3" in msg and "groups of three digits" in msg


def test_thousands_separators_read_as_thousands(tmp_path):
    p = table(tmp_path, ["1,234", "2,345.5", "1 234", "1_000", "1'500"])
    assert revenues(p) == [1234.0, 2345.5, 1234.0, 1000.0, 1500.0]


def test_unknown_decimal_option_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="must be '.' or ','"):
        load_films(table(tmp_path, ["1"]), DataConfig(decimal=";"))


# ---- currency and units ----
def test_dollar_amounts_in_a_generic_table_are_dollars_not_millions(tmp_path):
    p = table(tmp_path, ["$1,234,567", "$250,000,000", "USD 3,000,000"])
    assert revenues(p) == pytest.approx([1.234567, 250.0, 3.0])


def test_bare_dollar_amounts_in_a_column_of_unknown_unit_are_refused(tmp_path):
    p = table(tmp_path, ["12", "1234567"])
    msg = str(pytest.raises(TableError, load_films, p).value)
    assert "line 3, column 3 ('revenue')" in msg and "data.revenue_scale=1e-6" in msg
    assert "more than any film has earned" in msg


def test_declared_dollar_scale_reads_bare_amounts(tmp_path):
    p = table(tmp_path, ["1234567", "250000000"])
    assert revenues(p, revenue_scale=1e-6) == pytest.approx([1.234567, 250.0])


def test_header_in_millions_declares_the_unit(tmp_path):
    p = table(tmp_path, ["12.5", "$7"], header="title,description,Gross (Millions)")
    assert revenues(p, revenue_col="Gross (Millions)") == [12.5, 7.0]


@pytest.mark.parametrize(
    ("cell", "musd"),
    [
        ("$12.5M", 12.5),
        ("12.5 million", 12.5),
        ("1.2bn", 1200.0),
        ("US$3 billion", 3000.0),
        ("500k", 0.5),
        ("750 thousand", 0.75),
        ("12 M USD", 12.0),
        ("12 Mio", 12.0),
        ("1.5e3 ", 1500.0),  # scientific notation is a bare number, in the column's unit (millions)
    ],
)
def test_unit_suffixes_are_explicit(tmp_path, cell, musd):
    p = table(tmp_path, ["10", cell], header="title,description,revenue_musd")
    assert revenues(p)[1] == pytest.approx(musd)


@pytest.mark.parametrize("cell", ["€12M", "£3,000,000", "12 EUR", "JPY 5bn"])
def test_other_currencies_are_refused_with_the_line(tmp_path, cell):
    msg = str(pytest.raises(TableError, load_films, table(tmp_path, ["10", cell])).value)
    assert "line 3, column 3" in msg and "US dollars" in msg


def test_unknown_unit_is_refused_with_the_line(tmp_path):
    msg = str(pytest.raises(TableError, load_films, table(tmp_path, ["10", "12 parsecs"])).value)
    assert "line 3" in msg and "unknown unit 'parsecs'" in msg


def test_implausible_revenue_in_a_declared_unit_is_dropped_with_reason(tmp_path):
    p = tmp_path / "tmdb.csv"
    pd.DataFrame(
        {
            "overview": ["a", "b"],
            "revenue": [5_000_000, 9e16],
            "budget": [1, 1],
            "genres": ["[]", "[]"],
            "title": ["A", "B"],
        }
    ).to_csv(p, index=False)
    t = load_films(p)
    assert t.df["title"].tolist() == ["A"]
    assert t.report.to_dict()["dropped"]["implausible revenue (above the limit) in 'revenue'"]["lines"] == [3]


# ---- non-finite ------------------------------------------------------------------------------------------
def test_non_finite_revenues_are_refused(tmp_path):
    p = table(tmp_path, ["10", "inf", "Infinity", "-inf", "NaN", "1e999", "20"])
    t = load_films(p)
    assert t.df["revenue_musd"].tolist() == [10.0, 20.0]
    assert t.report.to_dict()["dropped"]["non-finite revenue in 'revenue'"]["lines"] == [3, 4, 5, 6, 7]


def test_non_finite_revenue_in_parquet_is_refused(tmp_path):
    p = tmp_path / "films.parquet"
    pd.DataFrame({"description": ["a", "b", "c"], "revenue": [1.0, np.inf, -np.inf]}).to_parquet(p)
    t = load_films(p)
    assert t.df["revenue_musd"].tolist() == [1.0]
    assert t.report.to_dict()["dropped"]["non-finite revenue in 'revenue'"]["lines"] == [2, 3]


def test_non_finite_metadata_is_treated_as_missing(tmp_path):
    p = tmp_path / "films.csv"
    p.write_text("description,revenue,budget\na,10,inf\nb,20,5\n", encoding="utf-8")
    t = load_films(p)
    assert t.df["budget_musd"].isna().tolist() == [True, False]
    assert t.report.to_dict()["warnings"]["non-numeric 'budget': treated as missing"]["lines"] == [2]


# ---- headers and delimiters ----
def test_duplicate_csv_headers_are_an_error(tmp_path):
    p = tmp_path / "films.csv"
    p.write_text("Title,Description,Revenue,Description\nA,plot,10,other\n", encoding="utf-8")
    msg = str(pytest.raises(TableError, load_films, p).value)
    assert "repeats column 'Description' (columns 2 and 4" in msg


def test_duplicate_headers_in_a_dataframe_are_an_error():
    df = pd.DataFrame([["a", 1, "b"]], columns=["description", "revenue", "description"])
    with pytest.raises(TableError, match="repeats column 'description'"):
        films_from_frame(df)


def test_duplicate_parquet_headers_are_an_error(tmp_path):
    p = tmp_path / "films.parquet"
    arrays = [pa.array(["a"]), pa.array([1.0]), pa.array(["b"])]
    pq.write_table(pa.Table.from_arrays(arrays, names=["description", "revenue", "description"]), p)
    with pytest.raises(TableError, match="repeats column 'description'"):
        load_films(p)


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe")])
def test_delimiter_is_detected(tmp_path, sep, name):
    p = table(tmp_path, ["10", "20"], sep=sep)
    assert revenues(p) == [10.0, 20.0]


def test_errors_name_the_detected_delimiter(tmp_path):
    p = tmp_path / "films.csv"
    p.write_text("title;plot;money\nA;a;10\n", encoding="utf-8")
    msg = str(pytest.raises(TableError, load_films, p).value)
    assert "semicolon (';')-separated" in msg and "cannot tell which column" in msg


def test_malformed_row_error_names_the_delimiter(tmp_path):
    p = tmp_path / "films.csv"
    p.write_text("title;description;revenue\nA;a;10\nB;b\n", encoding="utf-8")
    msg = str(pytest.raises(TableError, load_films, p).value)
    assert "line 3 has 2 fields" in msg and "semicolon" in msg


# ---- cell sizes ----
def test_oversize_csv_cell_is_an_error_naming_line_and_column(tmp_path):
    p = tmp_path / "films.csv"
    p.write_text(f"title,description,revenue\nA,short,10\nB,{'x' * 2000},20\n", encoding="utf-8")
    msg = str(pytest.raises(TableError, load_films, p, DataConfig(max_cell_chars=1000)).value)
    assert "line 3, column 'description': 2,000 characters" in msg and "max_cell_chars" in msg
    t = load_films(p, DataConfig(max_cell_chars=1000, skip_bad_rows=True))
    assert t.df["title"].tolist() == ["A"]
    assert t.report.to_dict()["dropped"]["a cell longer than data.max_cell_chars = 1,000"]["lines"] == [3]


def test_oversize_parquet_cell_is_refused_before_pandas(tmp_path):
    p = tmp_path / "films.parquet"
    big = "word " * 2_000_000  # 10 MB in one description
    pd.DataFrame({"description": ["short", big], "revenue": [1.0, 2.0]}).to_parquet(p)
    msg = str(pytest.raises(TableError, load_films, p).value)
    assert "line 2, column 'description': 10,000,000 characters" in msg
    t = load_films(p, DataConfig(skip_bad_rows=True))
    assert t.df["text"].tolist() == ["short"] and t.report.rows_read == 2


# ---- classes need spread; prediction needs no revenue ----
def test_every_film_with_the_same_revenue_is_refused():
    with pytest.raises(ValueError, match=r"0 distinct|1 distinct class edge.*every film has revenue 5"):
        fit_quantile_thresholds(np.full(100, 5.0))
    with pytest.raises(ValueError, match="at least two are needed"):
        check_revenue_spread(np.r_[np.full(95, 5.0), np.arange(5.0)])


def test_thresholds_that_put_every_film_in_one_class_are_refused(tiny_bert, films_csv, tmp_path):
    from helpers import tiny_config

    from reelcast.predictor import RevenuePredictor

    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=1)
    cfg.labels.strategy = "thresholds"
    cfg.labels.thresholds = [1e5 + i for i in range(7)]  # above every film's revenue
    with pytest.raises(ValueError, match="falls in one class"):
        RevenuePredictor(cfg, progress=False).fit(films_csv)


def test_prediction_tables_never_need_revenue(tmp_path, caplog):
    p = table(tmp_path, ["10", "lots", "1,5", "", "inf", "€3M"])
    with caplog.at_level(logging.WARNING):
        t = load_films(p, require_revenue=False)
    assert len(t) == 6 and t.df["revenue_musd"].tolist()[0] == 10.0
    assert t.df["revenue_musd"].iloc[1:].isna().all()
    warnings = t.report.to_dict()["warnings"]
    assert warnings["non-numeric revenue in 'revenue': ignored"]["lines"] == [3]
    assert warnings["ambiguous decimal mark in 'revenue': ignored"]["lines"] == [4]


def test_cli_train_refuses_an_ambiguous_table_with_its_line(tmp_path):
    from typer.testing import CliRunner

    from reelcast.cli import app

    p = table(tmp_path, ["1,5", "2"])
    r = CliRunner().invoke(app, ["train", "--data", str(p), "--out", str(tmp_path / "run"), "-q"])
    assert r.exit_code == 2
    assert "error: " in r.output and "line 2, column 3 ('revenue')" in r.output
    assert not (tmp_path / "run" / "split_70_20_10").exists()


# ---- group separators (spaces, apostrophes, underscores follow the comma's groups of three) ----
@pytest.mark.parametrize("cell", ["1.5 2", "12 34", "1 5", "1'5", "1_0"])
def test_misgrouped_revenue_is_refused_with_file_line_and_column(tmp_path, cell):
    p = table(tmp_path, ["10", cell])
    msg = str(pytest.raises(TableError, load_films, p).value)
    assert str(p) in msg and "line 3, column 3 ('revenue')" in msg and "groups of three" in msg


def test_grouped_revenue_reads_with_spaces(tmp_path):
    p = table(tmp_path, ["1 234.5", "2'500", "3_000", "$1 234 567"])
    assert revenues(p) == pytest.approx([1234.5, 2500.0, 3000.0, 1.234567])


# ---- budget cells: the money rules of revenue ----
def budget_table(tmp_path, budgets, header="title,description,revenue_musd,budget"):
    p = tmp_path / "films.csv"
    rows = [header] + [f'Film {i},plot {i},{10 + i},"{b}"' for i, b in enumerate(budgets)]
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return p


@pytest.mark.parametrize("cell", ["€5,000,000", "£3,000,000", "5 EUR"])
def test_budget_in_another_currency_is_refused_with_the_line(tmp_path, cell):
    p = budget_table(tmp_path, ["$1,000,000", cell])
    msg = str(pytest.raises(TableError, load_films, p).value)
    assert str(p) in msg and "line 3, column 4 ('budget')" in msg and "US dollars" in msg


@pytest.mark.parametrize("cell", ["1,5", "1.234,56", "12 34"])
def test_ambiguous_or_misgrouped_budget_is_refused(tmp_path, cell):
    p = budget_table(tmp_path, ["2", cell])
    msg = str(pytest.raises(TableError, load_films, p).value)
    assert "line 3, column 4 ('budget')" in msg


def test_budget_reads_decimal_comma_when_the_table_says_so(tmp_path):
    p = tmp_path / "films.csv"
    p.write_text('title;description;revenue_musd;budget\nA;a;10;"1.234,5"\nB;b;11;"1,5"\n', encoding="utf-8")
    assert load_films(p, DataConfig(decimal=",")).df["budget_musd"].tolist() == [1234.5, 1.5]


def test_negative_budget_is_refused_with_the_line(tmp_path):
    t = load_films(budget_table(tmp_path, ["5", "-5000000", "$-5"]))
    assert t.df["budget_musd"].isna().tolist() == [False, True, True]
    assert t.report.to_dict()["warnings"]["negative budget in 'budget': treated as missing"]["lines"] == [
        3,
        4,
    ]


def test_dollar_budgets_are_dollars_and_bare_dollars_need_a_unit(tmp_path):
    t = load_films(budget_table(tmp_path, ["$237,000,000", "12.5M", "40"]))
    assert t.df["budget_musd"].tolist() == pytest.approx([237.0, 12.5, 40.0])
    p = budget_table(tmp_path, ["40", "237000000"])
    msg = str(pytest.raises(TableError, load_films, p).value)
    assert "line 3, column 4 ('budget')" in msg and "data.budget_scale=1e-6" in msg
    assert load_films(p, DataConfig(budget_scale=1e-6)).df["budget_musd"].tolist() == pytest.approx(
        [4e-5, 237]
    )


def test_prediction_tables_refuse_a_foreign_budget_too(tmp_path):
    p = budget_table(tmp_path, ["€5M"], header="title,description,revenue_musd,budget")
    with pytest.raises(TableError, match="US dollars"):
        load_films(p, require_revenue=False)


# ---- line breaks inside cells, binary text, columns that differ only in case ----
@pytest.mark.parametrize("mark", ["\u2028", "\u0085", "\f", "\u2029", "\v"])
def test_unicode_line_separators_in_a_cell_neither_split_rows_nor_shift_lines(tmp_path, mark):
    p = tmp_path / "films.csv"
    p.write_text(
        f"title,description,revenue\nA,plot{mark}more,10\nB,plot b,lots\nC,plot c,3\n", encoding="utf-8"
    )
    t = load_films(p)
    assert t.df["title"].tolist() == ["A", "C"] and t.df["text"].iloc[0] == f"plot{mark}more"
    assert t.df["line"].tolist() == [2, 4]
    assert t.report.to_dict()["dropped"]["non-numeric revenue in 'revenue'"]["lines"] == [3]


def test_windows_line_endings_still_read(tmp_path):
    p = tmp_path / "films.csv"
    p.write_bytes(b"title,description,revenue\r\nA,plot a,10\r\nB,plot b,lots\r\n")
    t = load_films(p)
    assert t.df["text"].tolist() == ["plot a"] and t.report.to_dict()["dropped"][
        "non-numeric revenue in 'revenue'"
    ]["lines"] == [3]


def test_binary_parquet_description_is_read_as_text(tmp_path):
    p = tmp_path / "films.parquet"
    schema = pa.schema([("description", pa.binary()), ("revenue", pa.float64())])
    pq.write_table(
        pa.table({"description": [b"plot a", "caf\u00e9".encode()], "revenue": [1.0, 2.0]}, schema=schema), p
    )
    assert load_films(p).df["text"].tolist() == ["plot a", "caf\u00e9"]


def test_binary_description_that_is_not_utf8_is_refused_naming_the_column(tmp_path):
    p = tmp_path / "films.parquet"
    schema = pa.schema([("description", pa.binary()), ("revenue", pa.float64())])
    pq.write_table(
        pa.table({"description": [b"plot a", b"\xff\xfe"], "revenue": [1.0, 2.0]}, schema=schema), p
    )
    msg = str(pytest.raises(TableError, load_films, p).value)
    assert "line 2, column 'description'" in msg and "not UTF-8" in msg


@pytest.mark.parametrize(
    "columns",
    [
        ["title", "description", "Revenue", "revenue"],
        ["title", "Description", "description", "revenue"],
        ["overview", "revenue", "budget", "genres", "Revenue"],  # TMDB's own names, plus a twin
    ],
)
def test_columns_equal_but_for_case_are_refused_naming_both(columns):
    df = pd.DataFrame([["x"] * len(columns)], columns=columns)
    msg = str(pytest.raises(ValueError, films_from_frame, df).value)
    low = [c for c in columns if columns.count(c) == 1 and [d.lower() for d in columns].count(c.lower()) == 2]
    assert all(repr(c) in msg for c in low) and "both read as" in msg


def test_a_named_column_settles_a_case_twin():
    df = pd.DataFrame([["a", "plot", 5.0, 7.0]], columns=["title", "description", "Revenue", "revenue"])
    t = films_from_frame(df, DataConfig(revenue_col="Revenue"))
    assert t.df["revenue_musd"].tolist() == [5.0]

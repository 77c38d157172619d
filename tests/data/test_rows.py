"""The steps that read one table row, each on its own: revenue, release, budget, runtime, lists."""

from __future__ import annotations

import pandas as pd
import pytest

from reelcast.config import DataConfig
from reelcast.data.cells import parse_number
from reelcast.data.report import TableReport
from reelcast.data.rows import Rows, raise_fatal, read_budget, read_film, read_release, read_revenue
from reelcast.data.schema import TMDB5000, resolve_schema
from reelcast.data.table import TableError


def rows(columns=("title", "description", "revenue", "budget", "release_date", "runtime"), **cfg) -> Rows:
    config = DataConfig(**cfg)
    schema = resolve_schema(list(columns), config, "t.csv")
    return Rows.start(config, schema, TableReport("t.csv", schema.name), require_revenue=True)


def test_revenue_step_keeps_drops_or_collects_the_fatal():
    r = rows()
    assert read_revenue({"revenue": "$2,000,000"}, 2, r) == (True, 2.0)
    assert read_revenue({"revenue": "-3"}, 3, r) == (False, None)
    assert read_revenue({"revenue": "€3"}, 4, r) == (False, None)
    assert r.report.dropped["negative revenue in 'revenue'"] == [3]
    assert [(line, col) for line, col, _ in r.fatal] == [(4, "revenue")]


def test_release_step_gives_year_month_and_date_separately():
    r = rows()
    assert read_release({"release_date": "2010"}, 2, r) == (2010, None, pd.NaT)
    year, month, date = read_release({"release_date": "2011-06-03"}, 3, r)
    assert (year, month, date) == (2011, 6, pd.Timestamp(2011, 6, 3))
    assert read_release({"release_date": "someday"}, 4, r) == (None, None, pd.NaT)
    assert r.report.warnings["unreadable date in 'release_date': treated as missing"] == [4]


def test_budget_step_reads_money_and_notes_refusals():
    r = rows()
    assert read_budget({"budget": "$5,000,000"}, 2, r) == 5.0
    assert read_budget({"budget": "0"}, 3, r) is None  # 0 means unknown
    assert read_budget({"budget": "-1"}, 4, r) is None
    assert r.report.warnings["negative budget in 'budget': treated as missing"] == [4]
    assert read_budget({"budget": "1,5"}, 5, r) is None and r.fatal[0][:2] == (5, "budget")


def test_tmdb_budget_is_in_dollars():
    r = Rows.start(DataConfig(), TMDB5000, TableReport("t.csv", "tmdb5000"), require_revenue=True)
    assert read_budget({"budget": "237000000"}, 2, r) == pytest.approx(237.0)


def test_one_error_names_the_first_fatal_cell_and_its_kind():
    r = rows()
    for line, cell in ((2, "€1"), (3, "1"), (4, "£2"), (5, "1,5")):
        read_film({"title": f"F{line}", "description": "d", "revenue": cell}, line, r)
    with pytest.raises(TableError) as e:
        raise_fatal(r.fatal, ["title", "description", "revenue"], "t.csv")
    msg = str(e.value)
    assert msg.startswith("t.csv: line 2, column 3 ('revenue')") and "on line(s) 4" in msg
    assert "1 more cell(s) refused for other reasons" in msg


@pytest.mark.parametrize(("cell", "value"), [("1 234", 1234.0), ("95", 95.0), ("$5", 5.0), ("", None)])
def test_plain_numbers_follow_the_grouping_rule(cell, value):
    assert parse_number(cell) == value


@pytest.mark.parametrize("cell", ["1 5", "12,34", "1_0", "2h", "12k"])
def test_plain_numbers_refuse_misgrouped_cells_and_units(cell):
    with pytest.raises(ValueError):
        parse_number(cell)

"""Property-based tests (Hypothesis) of the money cell reader and of the table reader around it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reelcast.config import DataConfig
from reelcast.data.money import MoneyColumn, MoneyError, parse_amount, read_money
from reelcast.data.table import TableError, load_films

CENTS = st.integers(min_value=0, max_value=10**13)  # up to $100 bn, in cents


def english(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d}"


def european(cents: int) -> str:
    return f"{cents // 100:,}".replace(",", ".") + f",{cents % 100:02d}"


@given(CENTS)
def test_decimal_point_numbers_read_back(cents):
    for decimal in ("auto", "."):
        assert parse_amount(english(cents), decimal).value == pytest.approx(cents / 100, rel=1e-12)


@given(CENTS)
def test_decimal_comma_numbers_read_back_with_the_option(cents):
    assert parse_amount(european(cents), ",").value == pytest.approx(cents / 100, rel=1e-12)


@given(CENTS.filter(lambda c: c >= 100_000))  # >= 1,000.00: the cell has both marks
def test_decimal_comma_numbers_are_refused_without_the_option(cents):
    with pytest.raises(MoneyError) as e:
        parse_amount(european(cents))
    assert e.value.fatal and "--decimal ','" in str(e.value)


@given(st.integers(0, 999), st.integers(0, 10**6).map(str).filter(lambda s: len(s) != 3))
def test_a_comma_not_followed_by_three_digits_is_ambiguous(whole, frac):
    with pytest.raises(MoneyError) as e:
        parse_amount(f"{whole},{frac}")
    assert e.value.fatal and e.value.reason == "ambiguous decimal mark"


@given(
    st.integers(0, 10**6),
    st.sampled_from([("k", 1e-3), ("M", 1.0), ("million", 1.0), ("bn", 1e3), ("B", 1e3)]),
    st.sampled_from(["", "$", "US$", "USD "]),
    st.sampled_from(["", " "]),
)
def test_unit_suffixes_scale_to_millions(n, unit, currency, space):
    suffix, scale = unit
    a = parse_amount(f"{currency}{n:,}{space}{suffix}")
    assert a.value * a.unit_musd == pytest.approx(n * scale)


@given(st.text(max_size=40))
def test_any_text_is_a_number_none_or_a_revenue_error(text):
    try:
        a = parse_amount(text)
    except MoneyError:
        return
    assert a is None or (a.value == a.value and abs(a.value) != float("inf"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(CENTS.filter(lambda c: 0 < c < 10**11), min_size=2, max_size=20),
    st.sampled_from([",", ";", "\t"]),
)
def test_table_reader_reads_every_revenue_back_or_refuses(cents, sep):
    """Revenues written as '$1,234.56' in any delimiter read back as dollars, in millions."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "films.csv"
        df = pd.DataFrame(
            {
                "title": [f"F{i}" for i in range(len(cents))],
                "description": "plot",
                "revenue": [f"${english(c)}" for c in cents],
            }
        )
        df.to_csv(p, sep=sep, index=False)
        try:
            t = load_films(p, DataConfig())
        except TableError as e:  # only when every film was dropped (revenue 0 is read as unknown)
            assert "no usable films" in str(e)
            return
        assert t.df["revenue_musd"].tolist() == pytest.approx([c / 100 / 1e6 for c in cents], rel=1e-9)


# ---- group separators: one rule for , space ' _ ------------------------------------------------------
@pytest.mark.parametrize(
    ("cell", "value"),
    [("1 234 567", 1234567.0), ("1'234", 1234.0), ("1_000_000", 1e6), ("12\u00a0345.5", 12345.5)],
)
def test_groups_of_three_read_with_any_separator(cell, value):
    assert parse_amount(cell).value == value


@pytest.mark.parametrize("cell", ["1.5 2", "12 34", "1 5", "1'5", "1_0", "1,234 567", "1 2345"])
def test_separators_outside_groups_of_three_are_refused(cell):
    with pytest.raises(MoneyError) as e:
        parse_amount(cell)
    assert e.value.fatal and "groups of three" in str(e.value)


@given(st.integers(1, 10**9), st.sampled_from([" ", "'", "_", ","]))
def test_every_grouped_number_reads_back(n, sep):
    assert parse_amount(f"{n:,}".replace(",", sep)).value == n


# ---- the same rules for every money column -----------------------------------------------------------
def budget_column(declared: bool = True) -> MoneyColumn:
    return MoneyColumn("budget", 1e-6, declared, 10_000.0, "data.max_budget_musd", "data.budget_scale")


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("€5,000,000", "budget in a currency other than US dollars"),
        ("£3,000,000", "budget in a currency other than US dollars"),
        ("1,5", "ambiguous decimal mark"),
        ("1.234,56", "ambiguous decimal mark"),
        ("12 34", "misgrouped budget number"),
    ],
)
def test_a_budget_cell_gets_the_revenue_rules(cell, reason):
    with pytest.raises(MoneyError) as e:
        read_money(cell, budget_column())
    assert e.value.fatal and e.value.reason == reason


def test_negative_money_is_refused():
    with pytest.raises(MoneyError) as e:
        read_money("-5000000", budget_column())
    assert not e.value.fatal and e.value.reason == "negative budget"


def test_decimal_comma_reads_european_budgets_only_when_asked():
    assert read_money("1.234,56", budget_column(), ",") == pytest.approx(1234.56e-6)

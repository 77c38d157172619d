import numpy as np
import pytest

from reelcast.data.classes import CLASS_NAMES, assign_classes, check_thresholds, fit_quantile_thresholds


def test_class_names_and_order():
    assert CLASS_NAMES == [
        "Disaster",
        "Flop",
        "Successful",
        "Average",
        "Hit",
        "Outstanding",
        "Superhit",
        "Blockbuster",
    ]


def test_quantile_bins_are_equal_frequency():
    rev = np.random.default_rng(0).lognormal(3, 1.5, 800)
    edges = fit_quantile_thresholds(rev)
    assert len(edges) == 7 and np.all(np.diff(edges) > 0)
    counts = np.bincount(assign_classes(rev, edges), minlength=8)
    assert counts.min() >= 95 and counts.max() <= 105


def test_ties_still_give_ascending_edges():
    rev = np.array([0.0] * 50 + [1.0] * 50 + list(range(2, 30)))
    edges = fit_quantile_thresholds(rev)
    assert np.all(np.diff(edges) > 0)


def test_assign_uses_half_open_bins():
    edges = check_thresholds([1, 5, 20, 40, 65, 100, 150])
    assert assign_classes(np.array([0.5, 1.0, 4.99, 150, 2000]), edges).tolist() == [0, 1, 1, 7, 7]


def test_explicit_thresholds_are_checked():
    with pytest.raises(ValueError, match="7 edges"):
        check_thresholds([1, 2, 3])
    with pytest.raises(ValueError, match="ascending"):
        check_thresholds([1, 2, 3, 3, 4, 5, 6])


def test_constant_dollar_revenue_deflates_by_year_and_needs_one():
    import pandas as pd

    from reelcast.data.classes import constant_dollar_revenue
    from reelcast.data.cpi import base_year, cpi_table

    t = cpi_table()
    films = pd.DataFrame({"revenue_musd": [10.0, 10.0], "year": [1980, base_year()], "line": [2, 3]})
    np.testing.assert_allclose(constant_dollar_revenue(films), [10.0 * t[base_year()] / t[1980], 10.0])
    films.loc[1, "year"] = None
    with pytest.raises(ValueError, match=r"1 films have none \(lines 3\)"):
        constant_dollar_revenue(films)


def test_cpi_table_is_complete_and_rising_over_the_long_run():
    from reelcast.data.cpi import base_year, cpi_table

    t = cpi_table()
    assert sorted(t) == list(range(1913, base_year() + 1))
    assert t[1982] < 100 < t[1984] and t[2024] > 3 * t[1980]

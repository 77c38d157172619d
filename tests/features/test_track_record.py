"""Track records (studios, people): only training films released strictly before a film count.

These are the leakage tests of issue 8: a film's own revenue and any later film's revenue must never
reach its features. Each test also changes an earlier film's revenue and checks the features move, so
the tests can fail.
"""

import json

import numpy as np
import pandas as pd
import pytest

from reelcast.features.tabular import TabularEncoder
from reelcast.features.track_record import TrackRecord, log_revenue


def films(**over) -> pd.DataFrame:
    """Six films of one studio and one director/star, released in order (film 3 has only a year)."""
    df = pd.DataFrame(
        {
            "film_id": [f"f{i}" for i in range(6)],
            "title": [f"T{i}" for i in range(6)],
            "year": [2001, 2002, 2003, 2003, 2003, 2005],
            "release_date": pd.to_datetime(
                ["2001-05-01", "2002-05-01", "2003-03-01", None, "2003-09-01", "2005-01-01"]
            ),
            "revenue_musd": [10.0, 20.0, 40.0, 80.0, 160.0, 320.0],
            "companies": [["Acme"], ["Acme"], ["Acme"], ["Acme"], ["Acme", "Beta"], ["Acme"]],
            "director": ["Ann"] * 6,
            "cast": [["Bob", "Cy"]] * 6,
        }
    )
    for k, v in over.items():
        df[k] = v
    return df


COMPANY = ["companies:track_max", "companies:track_mean", "companies:track_count"]
PEOPLE = ["people:director_track", "people:director_count", "people:cast_track_max", "people:cast_count"]


def features(train: pd.DataFrame, rows: pd.DataFrame, names: list[str]) -> np.ndarray:
    enc = TabularEncoder(["companies", "people"]).fit(train)
    X, _ = enc.transform(rows.drop(columns=["revenue_musd"]))  # transform never needs a revenue
    return X[:, [enc.feature_names.index(n) for n in names]]


@pytest.mark.parametrize("names", [COMPANY, PEOPLE], ids=["companies", "people"])
def test_own_and_later_revenue_never_reach_a_films_features(names):
    base = films()
    ref = features(base, base, names)
    # Film 2 (2003-03-01): change its own revenue and every later film's: its row must not move.
    changed = base.copy()
    changed.loc[[2, 3, 4, 5], "revenue_musd"] = [1e4, 1e-3, 5e3, 7.0]
    after = features(changed, changed, names)
    np.testing.assert_array_equal(after[2], ref[2])
    # ...and the earliest film has no earlier films at all, whatever the others earned.
    np.testing.assert_array_equal(after[0], ref[0])
    assert ref[0].tolist() == [0.0] * len(names)
    # Changing an earlier film's revenue does move film 2's features: the test can fail.
    earlier = base.copy()
    earlier.loc[0, "revenue_musd"] = 1e4
    assert not np.array_equal(features(earlier, earlier, names)[2], ref[2])


def test_strictly_before_by_date_else_by_year():
    rec = TrackRecord.fit([["A"]] * 6, films(), smoothing=0.0)
    d = pd.Timestamp
    # Film 4 (2003-09-01): films 0, 1, 2 are dated earlier; film 3 has only the year 2003 = not before.
    assert rec.earlier("A", d("2003-09-01").toordinal(), 2003)[1] == 3
    # A film without a date in 2003: only earlier years count (0, 1), never same-year dated films.
    assert rec.earlier("A", np.nan, 2003)[1] == 2
    # The same day is not before.
    assert rec.earlier("A", d("2002-05-01").toordinal(), 2002)[1] == 1
    # No date and no year: nothing is known to be before.
    assert rec.earlier("A", np.nan, np.nan) == (0.0, 0)
    # The value: mean earlier log revenue minus the market's (all training films before), no shrinkage.
    value, n = rec.earlier("A", np.nan, 2003)
    assert n == 2 and value == pytest.approx(0.0)  # the entity's earlier films are the whole market
    rec2 = TrackRecord.fit([["A"], ["B"], ["A"], [], [], []], films(), smoothing=0.0)
    value, n = rec2.earlier("A", pd.Timestamp("2003-06-01").toordinal(), 2003)
    lr = log_revenue(films())  # log1p of constant-dollar revenue
    assert n == 2 and value == pytest.approx(lr[[0, 2]].mean() - lr[[0, 1, 2]].mean())


def test_only_training_films_enter_the_record_and_it_round_trips():
    base = films()
    train = base.iloc[:3]
    enc = TabularEncoder(["companies", "people"]).fit(train)
    assert {len(v) for v in enc.tracks["companies"]["history"].values()} == {3}
    back = TabularEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    a, _ = enc.transform(base.drop(columns=["revenue_musd"]))
    b, _ = back.transform(base.drop(columns=["revenue_musd"]))
    np.testing.assert_array_equal(a, b)
    # Films 3-5 are not training films: their revenue cannot matter to anyone's features.
    other = base.copy()
    other.loc[[3, 4, 5], "revenue_musd"] = 1e5
    c, _ = TabularEncoder(["companies", "people"]).fit(other.iloc[:3]).transform(other)
    np.testing.assert_array_equal(a, c)


def test_track_values_are_shrunk_toward_the_market():
    df = films()
    rec0 = TrackRecord.fit([["A"], ["B"], ["B"], [], [], []], df, smoothing=0.0)
    rec3 = TrackRecord.fit([["A"], ["B"], ["B"], [], [], []], df, smoothing=3.0)
    day = pd.Timestamp("2010-01-01").toordinal()
    raw, _ = rec0.earlier("A", day, 2010)
    shrunk, n = rec3.earlier("A", day, 2010)
    assert n == 1 and shrunk == pytest.approx(raw / 4)  # one film against three pseudo-films at the market

import numpy as np
import pytest

from reelcast.config import SPLITS
from reelcast.data.splits import make_folds, make_split, revenue_strata


@pytest.mark.parametrize("name", list(SPLITS))
def test_proportions_disjoint_and_stratified(name):
    rev = np.random.default_rng(1).lognormal(3, 1, 872)
    strata = revenue_strata(rev, 8)
    s = make_split(strata, SPLITS[name], seed=42, name=name)
    n = len(rev)
    for part, ratio in zip(("train", "val", "test"), SPLITS[name], strict=True):
        assert abs(len(getattr(s, part)) - ratio * n) <= 1
    all_idx = np.concatenate([s.train, s.val, s.test])
    assert len(np.unique(all_idx)) == n
    # every class is in the test set in roughly its share
    counts = np.bincount(strata[s.test], minlength=8)
    assert counts.min() >= len(s.test) // 8 - 1


def test_same_seed_same_split_other_seed_other_split():
    strata = revenue_strata(np.arange(300.0), 8)
    a = make_split(strata, SPLITS["70-20-10"], seed=5)
    b = make_split(strata, SPLITS["70-20-10"], seed=5)
    c = make_split(strata, SPLITS["70-20-10"], seed=6)
    assert np.array_equal(a.test, b.test) and np.array_equal(a.val, b.val)
    assert not np.array_equal(a.test, c.test)


def test_folds_cover_every_film_once_as_test():
    strata = revenue_strata(np.arange(200.0), 8)
    folds = make_folds(strata, 5, seed=0)
    tests = np.concatenate([f.test for f in folds])
    assert sorted(tests.tolist()) == list(range(200))
    for f in folds:
        assert not set(f.train) & set(f.test) and not set(f.val) & set(f.test)


def test_too_few_films_is_an_error():
    with pytest.raises(ValueError, match="too few"):
        make_split(np.zeros(2, dtype=int), SPLITS["70-20-10"], seed=0)


def test_the_three_splits_share_their_test_films():
    # The comparison between splits then measures only the train/validation division.
    strata = revenue_strata(np.random.default_rng(2).lognormal(3, 1, 500), 8)
    tests = [make_split(strata, SPLITS[n], seed=42).test for n in SPLITS]
    assert all(np.array_equal(tests[0], t) for t in tests[1:])


def test_date_split_trains_on_the_oldest_and_tests_on_the_newest():
    import pandas as pd

    from reelcast.data.splits import make_date_split

    n = 20
    dates = pd.date_range("2000-01-01", periods=n, freq="30D")[::-1]  # table order is newest first
    films = pd.DataFrame({"release_date": dates, "year": dates.year, "line": range(2, n + 2)})
    films.loc[5, "release_date"] = pd.NaT  # year only: placed at July 1 of its year
    s = make_date_split(films, (0.8, 0.1, 0.1), name="date-80-10-10")
    assert s.sizes() == {"train": 16, "val": 2, "test": 2}
    key = films["release_date"].fillna(pd.Timestamp(f"{films.loc[5, 'year']}-07-01"))
    assert key[s.train].max() <= key[s.val].min() and key[s.val].max() <= key[s.test].min()
    assert sorted(s.test.tolist()) == sorted(np.argsort(key.to_numpy())[-2:].tolist())  # the two newest
    films.loc[[3, 7], ["release_date", "year"]] = [pd.NaT, None]
    with pytest.raises(ValueError, match=r"2 films have neither a release date nor a year.*lines 5, 9"):
        make_date_split(films, (0.8, 0.1, 0.1), name="date-80-10-10")

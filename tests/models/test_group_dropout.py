"""Group dropout's training rows: `replace` masks films in place, `augment` keeps them and appends copies."""

import numpy as np
import pandas as pd
import pytest

from reelcast.config import TabularConfig
from reelcast.features.tabular import TabularEncoder
from reelcast.models.group_dropout import training_rows

OPTIONAL = ["keywords", "companies", "countries", "language"]


def encoded(n: int = 400) -> tuple[TabularEncoder, np.ndarray]:
    """An encoder fit on films that have every input, and those films' features plus one extra column."""
    i = np.arange(n)
    df = pd.DataFrame(
        {
            "year": 1990 + i % 30,
            "budget_musd": 1.0 + i % 97,
            "genres": [["Action"] if k % 2 else ["Drama"] for k in i],
            "keywords": [["hero"] if k % 3 else ["love"] for k in i],
            "companies": [["Big"] if k % 2 else ["Small"] for k in i],
            "countries": [["US"] if k % 2 else ["FR"] for k in i],
            "language": ["en" if k % 3 else "fr" for k in i],
            "revenue_musd": 1.0 + i % 50,
        }
    )
    enc = TabularEncoder(["year", "budget_musd", "genres", *OPTIONAL], settings=TabularConfig(min_count=1))
    enc.fit(df)
    X = np.concatenate([enc.encode(df), i[:, None].astype(np.float32)], axis=1)  # + a non-tabular column
    return enc, X


def settings(mode: str, rate: float = 0.15) -> TabularConfig:
    return TabularConfig(group_dropout=rate, group_dropout_mode=mode)


def test_augment_keeps_every_film_whole_and_appends_one_masked_copy_of_each():
    enc, X = encoded()
    rows, films = training_rows(enc, X, settings("augment", 0.5), np.random.default_rng(0))
    n = len(X)
    np.testing.assert_array_equal(rows[:n], X)  # every training film as it is, in order
    np.testing.assert_array_equal(films, np.concatenate([np.arange(n), np.arange(n)]))
    copies = rows[n:]
    known, was = enc.known(copies[:, : enc.dim]), enc.known(X[:, : enc.dim])
    optional = [enc.inputs.index(i) for i in OPTIONAL]
    lost = was[:, optional] & ~known[:, optional]
    assert lost.any(1).all()  # each copy lacks at least one optional input
    basics = [j for j in range(len(enc.inputs)) if j not in optional]
    np.testing.assert_array_equal(known[:, basics], was[:, basics])  # the basics stay known
    np.testing.assert_array_equal(copies[:, enc.dim :], X[:, enc.dim :])  # later columns copied
    # At 0.5 every non-empty set of the 4 inputs is equally likely: each lost by 8 of 15 copies.
    assert (np.abs(lost.mean(0) - 8 / 15) < 0.08).all()
    assert len({tuple(r) for r in lost}) == 15
    again, _ = training_rows(enc, X, settings("augment", 0.5), np.random.default_rng(0))
    np.testing.assert_array_equal(again, rows)  # seeded


def test_replace_masks_films_in_place_as_before_and_rate_zero_changes_nothing():
    enc, X = encoded()
    rows, films = training_rows(enc, X, settings("replace"), np.random.default_rng(0))
    np.testing.assert_array_equal(films, np.arange(len(X)))
    old = enc.group_dropout(X[:, : enc.dim], 0.15, np.random.default_rng(0))
    np.testing.assert_array_equal(rows[:, : enc.dim], old)
    assert (enc.known(rows[:, : enc.dim]) < enc.known(X[:, : enc.dim])).any()
    for mode in ("replace", "augment"):
        same, films = training_rows(enc, X, settings(mode, 0.0), np.random.default_rng(0))
        np.testing.assert_array_equal(same, X)
        assert len(films) == len(X)


def test_an_unknown_mode_is_one_clear_error():
    enc, X = encoded(20)
    message = r"tabular.group_dropout_mode 'append' is not one of augment, replace"
    with pytest.raises(ValueError, match=message):
        training_rows(enc, X, settings("append"), np.random.default_rng(0))

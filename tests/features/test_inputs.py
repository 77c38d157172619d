"""Unknown is not none: absent inputs, empty cells and masked inputs encode identically, never as a value."""

import json

import numpy as np
import pandas as pd
import pytest

from reelcast.config import TabularConfig
from reelcast.features.tabular import GROUPS, PRE_RELEASE, TabularEncoder


def films(n: int = 12) -> pd.DataFrame:
    """Canonical training rows with every input the encoder reads (revenue included)."""
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "title": [f"Film {i}" if i % 4 else f"Saga {i} 2" for i in range(n)],
            "year": [2000 + i for i in range(n)],
            "runtime": rng.integers(80, 150, n).astype(float),
            "budget_musd": rng.uniform(1, 200, n),
            "release_month": [1 + i % 12 for i in range(n)],
            "genres": [["Action"] if i % 2 else ["Drama", "Comedy"] for i in range(n)],
            "release_date": pd.to_datetime([f"{2000 + i}-0{1 + i % 9}-10" for i in range(n)]),
            "keywords": [["hero", "sequel"] if i % 3 else ["love"] for i in range(n)],
            "companies": [["Big"] if i % 2 else ["Small", "Big"] for i in range(n)],
            "countries": [["US"] if i % 2 else ["FR"] for i in range(n)],
            "language": ["en" if i % 3 else "fr" for i in range(n)],
            "collection": ["Saga" if i % 4 == 0 else "" for i in range(n)],
            "director": [f"D{i % 3}" for i in range(n)],
            "cast": [[f"A{i % 4}", f"B{i % 2}"] for i in range(n)],
            "revenue_musd": rng.uniform(1, 500, n),
        }
    )
    return df


ALL = [*PRE_RELEASE, *GROUPS]
NO_TRACKS = [c for c in ALL if c not in ("companies", "people")]


def fitted(columns=ALL, **settings) -> TabularEncoder:
    return TabularEncoder(list(columns), settings=TabularConfig(min_count=1, **settings)).fit(films())


def test_every_input_has_one_known_column_and_every_column_one_group():
    enc = fitted()
    assert enc.inputs == [
        *("year", "runtime", "budget_musd", "release_month", "genres", "keywords", "companies"),
        *("countries", "language", "title", "collection", "release_date", "director", "cast"),
    ]
    assert [enc.feature_names[j] for j in enc.known_columns().values()] == [f"known:{i}" for i in enc.inputs]
    reads = enc.column_inputs
    assert len(reads) == enc.dim and all(set(r) <= set(enc.inputs) for r in reads)
    assert sum(len(v) for v in enc.blocks().values()) == enc.dim


# Dates set how far back a track record looks (day or year), so they are exact without the track groups.
CASES = [(i, ALL) for i in fitted().inputs if i not in ("year", "release_date")]
CASES += [("year", NO_TRACKS), ("release_date", NO_TRACKS)]


@pytest.mark.parametrize("name,columns", CASES, ids=[c[0] for c in CASES])
def test_absent_column_equals_empty_cells_equals_masked(name, columns):
    enc = fitted(columns)
    rows = films().drop(columns=["revenue_musd"])
    X = enc.encode(rows)
    absent = enc.encode(rows.drop(columns=[name]))
    blank = rows.copy()
    blank[name] = [None] * len(blank)
    # A column missing from the table, empty cells, and the encoder's own mask give the same rows.
    np.testing.assert_array_equal(absent, enc.mask_inputs(X, np.ones(len(rows), bool), [name]))
    np.testing.assert_array_equal(enc.encode(blank), absent)
    # ...for some films only, and in the network's view too.
    some = rows.copy()
    some[name] = [None if i in (1, 4) else v for i, v in enumerate(rows[name])]
    Xs, ps = enc.transform(some)
    np.testing.assert_array_equal(enc.encode(some), enc.mask_inputs(X, [1, 4], [name]))
    np.testing.assert_array_equal(Xs, enc.mask_inputs(enc.transform(rows)[0], [1, 4], [name], fill=True))
    assert not np.array_equal(absent, X)  # the input did reach the features: the test can fail
    before = enc.known(X)[:, enc.inputs.index(name)]
    after = enc.known(enc.encode(some))[:, enc.inputs.index(name)]
    assert after.tolist() == [bool(k) and i not in (1, 4) for i, k in enumerate(before)]


def test_unknown_is_never_encoded_as_a_value_training_films_carried():
    train = films()
    train.loc[2, "keywords"] = []  # an explicit "no keywords" and an explicit "in no collection"
    enc = TabularEncoder(ALL, settings=TabularConfig(min_count=1, none_means_unknown=False)).fit(train)
    Xtr, _ = enc.transform(train)
    bare = pd.DataFrame({"title": ["Unknown film"]})
    Xu, present = enc.transform(bare)
    assert present.tolist() == [False]
    reads, known_at = enc.column_inputs, enc.known_columns()
    for group, idx in enc.blocks().items():
        if group == "franchise":  # the title flags are known from the title alone
            idx = idx[2:]
        # A group's features with the known columns of the inputs they read (those may sit elsewhere).
        idx = sorted({*idx, *(known_at[i] for j in idx for i in reads[j])})
        same = (Xtr[:, idx] == Xu[0, idx]).all(1)
        assert not same.any(), f"{group}: an unknown film looks like training film(s) {np.flatnonzero(same)}"
    # Unknown and none differ for trees and network alike.
    none = train.iloc[[2]].drop(columns=["revenue_musd"])
    unknown = none.assign(keywords=[None])
    kw = enc.blocks()["keywords"]
    assert not np.array_equal(enc.transform(none)[0][:, kw], enc.transform(unknown)[0][:, kw])
    assert (enc.encode(none)[0, kw[:-1]] == 0).all() and np.isnan(enc.encode(unknown)[0, kw[:-1]]).all()


def test_none_means_unknown_reads_empty_lists_as_unknown():
    rows = (
        films().drop(columns=["revenue_musd"]).iloc[:2].assign(keywords=[[], ["hero"]], collection=["", ""])
    )
    on, off = fitted(), fitted(none_means_unknown=False)
    j = on.inputs.index("keywords")
    assert on.known(on.encode(rows))[:, j].tolist() == [False, True]
    assert off.known(off.encode(rows))[:, j].tolist() == [True, True]
    c = on.inputs.index("collection")
    assert on.known(on.encode(rows))[:, c].tolist() == [False, False]
    assert off.known(off.encode(rows))[:, c].tolist() == [True, True]


def test_a_director_the_people_table_does_not_know_is_unknown_not_a_newcomer():
    enc = fitted(["people"])
    rows = films().drop(columns=["revenue_musd"]).iloc[[0, 0, 0]].reset_index(drop=True)
    rows["director"] = ["", "Someone New", "D0"]  # "" = the people table has no row for the film
    rows["cast"] = [[], ["Nobody"], ["A0"]]
    X = enc.encode(rows)
    names = enc.feature_names
    d, c = names.index("people:director_track"), names.index("people:cast_count")
    assert np.isnan(X[0, [d, c]]).all() and X[0, names.index("known:director")] == 0
    # A named director with no earlier training films is a newcomer: the market's value, zero films.
    assert X[1, [d, names.index("people:director_count"), c]].tolist() == [0.0, 0.0, 0.0]
    assert X[1, names.index("known:director")] == 1


def test_group_dropout_masks_a_share_of_films_per_input_and_is_seeded():
    enc = fitted()
    X = enc.encode(films().iloc[np.arange(600) % 12].reset_index(drop=True))
    a = enc.group_dropout(X, 0.3, np.random.default_rng(0))
    b = enc.group_dropout(X, 0.3, np.random.default_rng(0))
    np.testing.assert_array_equal(a, b)
    known, was = enc.known(a), enc.known(X)
    shares = (was & ~known).sum(0) / was.sum(0)  # of the films that had the input
    optional = [enc.inputs.index(i) for i in enc.optional_inputs]
    assert {"keywords", "companies", "countries", "language", "collection"} <= set(enc.optional_inputs)
    assert len(enc.optional_inputs) == 7 and not {"year", "budget_musd", "genres"} & set(enc.optional_inputs)
    assert ((shares[optional] > 0.22) & (shares[optional] < 0.38)).all()
    assert (np.delete(shares, optional) == 0).all()  # the basics every film has stay as they are
    every = enc.known(enc.group_dropout(X, 0.3, np.random.default_rng(0), enc.inputs))
    assert (every.mean(0) < 1).all()
    # Only unknowns are added: every known value left is the original one.
    values = np.array([bool(r) for r in enc.column_inputs])
    keep = ~np.isnan(a) & values
    np.testing.assert_array_equal(a[keep], X[keep])


def test_masking_an_input_the_encoder_does_not_read_is_an_error_and_checkpoints_keep_the_layout():
    enc = fitted(["year", "genres"])
    with pytest.raises(ValueError, match="keywords"):
        enc.mask_inputs(enc.encode(films()), [0], ["keywords"])
    back = TabularEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    np.testing.assert_array_equal(back.transform(films())[0], enc.transform(films())[0])
    old = {k: v for k, v in enc.to_dict().items() if k != "neutral"}
    with pytest.raises(ValueError, match="retrain"):
        TabularEncoder.from_dict(old)


def test_an_input_no_training_film_had_is_not_read():
    train = films().drop(columns=["collection"])  # TMDB-5000 has no collection column
    enc = TabularEncoder(["franchise"], settings=TabularConfig(min_count=1)).fit(train)
    assert enc.unread == ["collection"] and "collection" not in enc.inputs
    assert "franchise:collection" not in enc.feature_names
    assert not np.isnan(enc.encode(train)).all(0).any()  # no column is unknown for every film
    back = TabularEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    np.testing.assert_array_equal(back.encode(films()), enc.encode(films()))

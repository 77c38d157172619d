"""tabular.keywords_encoding: keywords as a multi-hot, as a track record of earlier films, or both."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from reelcast.config import TabularConfig
from reelcast.features.tabular import TabularEncoder


def films(revenue_2014: float = 900.0) -> pd.DataFrame:
    """Five training films in date order; "hero" in the last four, "space" only in the newest."""
    dates = ["2009-02-01", "2010-05-07", "2011-06-01", "2012-07-01", "2014-03-01"]
    return pd.DataFrame(
        {
            "title": ["A", "B", "C", "D", "E"],
            "year": [2009.0, 2010.0, 2011.0, 2012.0, 2014.0],
            "release_date": pd.to_datetime(dates),
            "keywords": [["drama"], ["hero"], ["hero", "boxing"], ["hero"], ["space", "hero"]],
            "revenue_musd": [5.0, 600.0, 10.0, 300.0, revenue_2014],
        }
    )


def encoder(encoding: str | None = None, **kw) -> TabularEncoder:
    extra = {} if encoding is None else {"keywords_encoding": encoding}
    return TabularEncoder(["keywords"], settings=TabularConfig(min_count=1, **extra, **kw))


def columns(enc: TabularEncoder, df: pd.DataFrame) -> dict[str, list[float]]:
    X = enc.encode(df.drop(columns=["revenue_musd"]))
    return {n: X[:, j].tolist() for j, n in enumerate(enc.feature_names)}


def test_the_default_is_the_track_record_and_a_checkpoint_without_the_option_keeps_the_multi_hot():
    assert encoder().fit(films()).feature_names[0] == "keywords:track_max"
    enc = encoder("multi_hot").fit(films())
    assert enc.feature_names == ["kw:hero", "kw:boxing", "kw:drama", "kw:space", "known:keywords"]
    saved = enc.to_dict()
    del saved["settings"]["keywords_encoding"]
    back = TabularEncoder.from_dict(json.loads(json.dumps(saved)))
    assert back.feature_names == enc.feature_names
    rows = films().drop(columns=["revenue_musd"])
    assert np.array_equal(back.encode(rows), enc.encode(rows))


def test_track_replaces_the_keyword_columns_with_the_earlier_films_record():
    enc = encoder("track").fit(films())
    names = ["keywords:track_max", "keywords:track_mean", "keywords:track_count", "known:keywords"]
    assert enc.feature_names == names
    col = columns(enc, films())
    # Each film counts the earlier films sharing a keyword with it: none, none, then one, two, three.
    counts = [0, 0, math.log1p(1), math.log1p(2), math.log1p(3)]
    assert col["keywords:track_count"] == pytest.approx(counts)
    # Without an earlier film sharing a tag, the record says nothing (the market's level).
    assert col["keywords:track_max"][:2] == [0.0, 0.0]
    # After a $600 M "hero" film and a $5 M other one, the tag of the third film looks above its market.
    assert col["keywords:track_max"][2] > 0


def test_a_later_films_keyword_and_revenue_never_reach_an_earlier_films_features():
    flop, hit = encoder("track").fit(films(1.0)), encoder("track").fit(films(5000.0))
    rows = films()
    a, b = columns(flop, rows), columns(hit, rows)
    for name in ("keywords:track_max", "keywords:track_mean", "keywords:track_count"):
        assert a[name][:4] == b[name][:4]  # the 2014 film's revenue moves none of the earlier films
    # "space" is only in the 2014 film: a 2013 film tagged "space" has no record for it.
    later = pd.DataFrame(
        {
            "title": ["E"],
            "year": [2013.0],
            "release_date": pd.to_datetime(["2013-01-01"]),
            "keywords": [["space"]],
        }
    )
    X = hit.encode(later)
    assert X[0, hit.feature_names.index("keywords:track_count")] == 0.0
    assert X[0, hit.feature_names.index("keywords:track_max")] == 0.0


def test_both_keeps_the_multi_hot_and_adds_the_record_and_masking_blanks_all_of_it():
    enc = encoder("both").fit(films())
    assert enc.feature_names[:4] == ["kw:hero", "kw:boxing", "kw:drama", "kw:space"]
    assert enc.feature_names[4:7] == ["keywords:track_max", "keywords:track_mean", "keywords:track_count"]
    rows = films().drop(columns=["revenue_musd"])
    X = enc.encode(rows)
    masked = enc.mask_inputs(X, [2], ["keywords"])
    assert np.isnan(masked[2, :7]).all() and masked[2, 7] == 0.0  # known:keywords says unknown
    assert np.array_equal(masked[[0, 1, 3, 4]], X[[0, 1, 3, 4]])
    # A film without keywords is unknown in every keyword column, the record included.
    rows["keywords"] = [["drama"], ["hero"], None, ["hero"], ["space"]]
    assert np.array_equal(np.isnan(enc.encode(rows)), np.isnan(masked))


def test_an_unknown_encoding_is_one_error_naming_the_field():
    with pytest.raises(ValueError, match="keywords_encoding 'tfidf' is not one of multi_hot, track, both"):
        encoder("tfidf").fit(films())


def test_an_undated_film_has_an_unknown_record_unless_it_has_no_keywords_at_all():
    enc = encoder("track", none_means_unknown=False).fit(films())
    undated = pd.DataFrame(
        {
            "title": ["F", "G"],
            "year": [None, None],
            "release_date": [pd.NaT, pd.NaT],
            "keywords": [["hero"], []],
        }
    )
    X = enc.encode(undated)
    track = [enc.feature_names.index(f"keywords:{t}") for t in ("track_max", "track_mean", "track_count")]
    assert np.isnan(X[0, track]).all()  # which "hero" films came before is unknown
    assert X[1, track].tolist() == [0.0, 0.0, 0.0]  # no keyword, no record: a fact, not unknown

"""TabularEncoder (metadata features) and the tabular modality inside the fusion model."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import tiny_config

from reelcast.data.table import load_films
from reelcast.features.tabular import TabularEncoder, default_columns
from reelcast.predictor import RevenuePredictor


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One OpenMP thread: tiny models gain nothing from two, and two spin-wait when the cores are busy."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def frame(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {
        "year": [None] * n,
        "runtime": [None] * n,
        "budget_musd": [None] * n,
        "release_month": [None] * n,
        "genres": [[] for _ in range(n)],
    }
    base.update(cols)
    return pd.DataFrame(base)


def test_standardisation_uses_training_statistics_only():
    train = frame(year=[2000, 2002, 2004, 2006], runtime=[90, 100, 110, 120])
    test = frame(year=[2100, 1900], runtime=[1000, 10])
    enc = TabularEncoder(["year", "runtime"]).fit(train)
    assert enc.means == {"year": 2003.0, "runtime": 105.0}
    assert enc.scales["year"] == pytest.approx(np.std([2000, 2002, 2004, 2006]))
    ftr, _ = enc.transform(train)
    assert ftr[:, 0].mean() == pytest.approx(0, abs=1e-6) and ftr[:, 0].std() == pytest.approx(1, abs=1e-6)
    # Extreme test films are scaled with the training mean and spread, and do not move them.
    fte, _ = enc.transform(test)
    assert fte[0, 0] == pytest.approx((2100 - 2003) / enc.scales["year"], rel=1e-5)
    assert fte[1, 2] == pytest.approx((10 - 105) / enc.scales["runtime"], rel=1e-5)
    assert enc.means == {"year": 2003.0, "runtime": 105.0}


def test_budget_is_log_scaled_and_negative_budget_is_missing():
    train = frame(budget_musd=[0.0, 9.0, 99.0, 999.0])
    enc = TabularEncoder(["budget_musd"]).fit(train)
    logs = np.log1p([0.0, 9.0, 99.0, 999.0])
    assert enc.means["budget_musd"] == pytest.approx(logs.mean())
    f, present = enc.transform(frame(budget_musd=[99.0, -5.0]))
    assert f[0, 0] == pytest.approx((math.log(100) - logs.mean()) / logs.std(), rel=1e-5)
    # -5 is no budget: unknown, so the training mean (0 after standardising) and known:budget_musd = 0.
    assert f[1].tolist() == pytest.approx([0.0, 0.0], abs=1e-6) and present.tolist() == [True, False]
    assert enc.feature_names == ["budget_musd", "known:budget_musd"]


def test_genres_are_multi_hot_and_unseen_genres_are_ignored():
    train = frame(genres=[["Drama"], ["Action", "Comedy"], ["Drama", "Action"]])
    enc = TabularEncoder(["genres"]).fit(train)
    assert enc.genres == ["Action", "Comedy", "Drama"]
    assert enc.feature_names == ["genre:Action", "genre:Comedy", "genre:Drama", "known:genres"]
    f, present = enc.transform(frame(genres=[["Comedy", "Western"], ["Western"], []]))
    # An empty list is unknown (none_means_unknown): the training films' genre shares, known = 0.
    np.testing.assert_allclose(f, [[0, 1, 0, 1], [0, 0, 0, 1], [2 / 3, 1 / 3, 2 / 3, 0]], rtol=1e-6)
    # A genre the model never saw is still a known genre list; only the empty one is unknown.
    assert present.tolist() == [True, True, False]


def test_missing_values_are_flagged_and_the_mask_says_whether_anything_is_known():
    train = frame(year=[2000, 2010, None], runtime=[100, None, 120])
    enc = TabularEncoder(["year", "runtime"]).fit(train)
    assert enc.means == {"year": 2005.0, "runtime": 110.0}  # missing values do not enter the statistics
    assert enc.feature_names == ["year", "known:year", "runtime", "known:runtime"]
    f, present = enc.transform(frame(year=[None, 2010, None], runtime=[130, None, "n/a"]))
    assert f[0].tolist() == pytest.approx([0.0, 0.0, 2.0, 1.0])
    assert f[1].tolist() == pytest.approx([1.0, 1.0, 0.0, 0.0])
    assert f[2].tolist() == pytest.approx([0.0, 0.0, 0.0, 0.0])
    raw = enc.encode(frame(year=[None], runtime=["n/a"]))  # the trees' view: unknown stays NaN
    assert np.isnan(raw[0, [0, 2]]).all() and raw[0, [1, 3]].tolist() == [0.0, 0.0]
    assert present.tolist() == [True, True, False]
    assert f.dtype == np.float32 and f.shape == (3, enc.dim)


def test_round_trip_through_the_checkpoint_dict():
    train = frame(year=[2000, 2010], budget_musd=[10.0, 100.0], genres=[["Drama"], ["Horror"]])
    enc = TabularEncoder(["year", "budget_musd", "genres"]).fit(train)
    back = TabularEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    rows = frame(year=[2005, None], budget_musd=[50.0, None], genres=[["Horror", "Sci-Fi"], []])
    a, pa = enc.transform(rows)
    b, pb = back.transform(rows)
    assert np.array_equal(a, b) and np.array_equal(pa, pb)
    assert back.feature_names == enc.feature_names


def test_source_columns_are_read_and_unknown_columns_named():
    df = frame(year=[2000, 2001]).assign(**{"src:Metascore": ["70", ""]})
    enc = TabularEncoder(["Metascore"]).fit(df)
    f, present = enc.transform(df)
    assert enc.feature_names == ["Metascore", "known:Metascore"]
    assert f[:, 1].tolist() == [1.0, 0.0] and present.tolist() == [True, False]
    with pytest.raises(KeyError, match="'Budget2'"):
        TabularEncoder(["Budget2"]).fit(df)


def test_default_columns_are_the_pre_release_ones_with_values():
    df = frame(year=[2000, None], runtime=[None, None], genres=[["Drama"], []]).assign(
        **{"src:Votes": [5, 6]}
    )
    assert default_columns(df) == ["year", "genres"]


def test_fusion_model_trains_and_predicts_with_metadata_and_masks_films_without_it(
    tiny_bert, films_csv, tmp_path
):
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=2)
    cfg.tabular.use_in_fusion = True
    p = RevenuePredictor(cfg, progress=False).fit(films_csv)
    assert p.spec_.modalities == ["text", "tabular"]
    assert p.tabular_.columns == [
        "year",
        "runtime",
        "budget_musd",
        "genres",
        "budget_real",
        "budget_flags",
    ]
    assert p.spec_.tabular_dim == p.tabular_.dim
    table = load_films(films_csv)
    probs = p.predict_proba(table)
    assert probs.shape == (96, 8) and np.allclose(probs.sum(1), 1, atol=1e-5)

    bare = p.predict_film("A shy teenager discovers a haunted house.", title="No metadata")
    assert bare["modalities_used"] == {"text": True, "tabular": False}
    assert bare["contributions"]["tabular"] == 0.0
    assert any("tabular modality missing" in w for w in bare["warnings"])
    meta = {"year": 2015, "runtime": 100, "budget_musd": 150.0, "genres": "Animation"}
    full = p.predict_film("A shy teenager discovers a haunted house.", title="With metadata", metadata=meta)
    assert full["modalities_used"] == {"text": True, "tabular": True}
    assert full["probabilities"] != bare["probabilities"]  # the metadata reached the classifier

    p.save(tmp_path / "m")
    back = RevenuePredictor.load(tmp_path / "m")
    assert back.tabular_.to_dict() == p.tabular_.to_dict()
    assert np.array_equal(back.predict_proba(table), probs)


# ---- issue 8 feature groups -----------------------------------------------------------------------------
def films8(n_extra: int = 0) -> pd.DataFrame:
    """Canonical rows with every issue-8 column (revenue included, as training rows have)."""
    df = frame(
        year=[2010, 2011, 2012, 2013],
        budget_musd=[100.0, 0.000030, None, 20.0],
        genres=[["Action"], ["Drama"], ["Action"], ["Comedy"]],
    )
    df["title"] = ["Iron Man 2", "Rocky IV: Redux", "Harry Potter: Part 2", "Amelie"]
    df["release_date"] = pd.to_datetime(["2010-05-07", "2011-11-23", "2012-12-25", None])
    df["keywords"] = [["sequel", "hero"], ["hero", "boxing"], ["hero", "duringcreditsstinger"], []]
    df["companies"] = [["Marvel"], ["MGM"], ["Marvel", "WB"], []]
    df["countries"] = [["US"], ["US"], ["GB", "US"], ["FR"]]
    df["language"] = ["en", "en", "en", "fr"]
    df["collection"] = ["Iron Man Collection", "", "", ""]
    df["revenue_musd"] = [600.0, 100.0, 900.0, 30.0]
    return df


def settings(**kw):
    from reelcast.config import TabularConfig

    return TabularConfig(**{"min_count": 1, **kw})


def test_vocabularies_are_the_most_frequent_training_values():
    top2 = settings(keywords_top_k=2, min_count=2, keywords_encoding="multi_hot")
    enc = TabularEncoder(["keywords", "language"], settings=top2)
    enc.fit(films8())
    assert enc.vocab["keywords"] == ["hero"]  # only "hero" is in >= 2 training films
    assert enc.vocab["language"] == ["en"]
    f, present = enc.transform(films8().drop(columns=["revenue_musd"]))
    names = enc.feature_names
    assert names == ["kw:hero", "known:keywords", "lang:en", "lang:other", "known:language"]
    assert f[:, names.index("lang:other")].tolist() == [0, 0, 0, 1]  # French: not in the vocabulary
    assert f[:, names.index("known:keywords")].tolist() == [1, 1, 1, 0]
    assert present.all()


def test_franchise_calendar_and_budget_flags():
    enc = TabularEncoder(
        ["franchise", "calendar", "budget_flags"], settings=settings(none_means_unknown=False)
    )
    f = enc.fit(films8()).encode(films8().drop(columns=["revenue_musd"]))
    col = {n: f[:, i].tolist() for i, n in enumerate(enc.feature_names)}
    assert col["franchise:title_number"] == [1, 1, 1, 0]  # "Iron Man 2", "Rocky IV: ...", "...: Part 2"
    assert col["franchise:title_part"] == [0, 0, 1, 0]
    assert col["franchise:sequel_keyword"] == [1, 0, 0, 0]  # Amelie's explicit [] is "none" here
    assert col["franchise:credits_stinger"] == [0, 0, 1, 0]
    assert col["franchise:collection"] == [1, 0, 0, 0]
    # 2010-05-07 Friday in summer season; 2011-11-23 Wednesday before Thanksgiving; 2012-12-25 Christmas.
    assert col["calendar:dow_fri"][:3] == [1, 0, 0] and col["calendar:dow_wed"][:3] == [0, 1, 0]
    assert col["calendar:summer_season"][:3] == [1, 0, 0]
    assert col["calendar:thanksgiving"][:3] == [0, 1, 0]
    assert col["calendar:christmas"][:3] == [0, 0, 1]
    assert col["calendar:season_winter"][:3] == [0, 0, 1] and math.isnan(col["calendar:season_winter"][3])
    assert col["known:release_date"] == [1, 1, 1, 0]
    # $30 budget: implausible (flagged, not rescaled); None: unknown.
    assert col["budget_flags:implausible"][:2] == [0, 1] and math.isnan(col["budget_flags:implausible"][2])
    assert col["known:budget_musd"] == [1, 1, 0, 1]
    # With empty lists and collections read as unknown (the default), Amelie's keyword flags are unknown.
    g = TabularEncoder(["franchise"]).fit(films8()).encode(films8())
    assert np.isnan(g[3, 2:5]).all() and np.isnan(g[1:, 4]).all() and g[3, :2].tolist() == [0, 0]


def test_holiday_windows():
    import datetime as dt

    from reelcast.features.signals import HOLIDAYS, holiday_flags

    def on(day):
        return [h for h, v in zip(HOLIDAYS, holiday_flags(day), strict=True) if v]

    assert on(dt.date(2015, 5, 22)) == ["memorial_day", "summer_season"]  # Memorial Day 2015: May 25
    assert on(dt.date(2015, 7, 3)) == ["july_4", "summer_season"]
    assert on(dt.date(2015, 9, 7)) == ["summer_season"]  # Labor Day itself
    assert on(dt.date(2015, 9, 8)) == []
    assert on(dt.date(2015, 11, 25)) == ["thanksgiving"]  # Thanksgiving 2015: Nov 26
    assert on(dt.date(2015, 12, 18)) == ["christmas"]


def test_constant_dollar_budget_uses_the_cpi_table():
    from reelcast.data.cpi import base_year, cpi_table

    enc = TabularEncoder(["budget_real"]).fit(films8())
    raw = enc._raw_numeric(enc._read(films8()), "budget_real")
    t = cpi_table()
    assert raw[0] == pytest.approx(np.log1p(100.0 * t[base_year()] / t[2010]))
    assert np.isnan(raw[2])


def test_every_group_round_trips_and_transform_needs_no_revenue():
    cols = ["year", "genres", "keywords", "companies", "countries", "language", "franchise", "calendar"]
    cols += ["budget_real", "budget_flags"]
    enc = TabularEncoder(cols, settings=settings()).fit(films8())
    back = TabularEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    rows = films8().drop(columns=["revenue_musd"])
    a, pa = enc.transform(rows)
    b, pb = back.transform(rows)
    assert np.array_equal(a, b) and np.array_equal(pa, pb) and back.feature_names == enc.feature_names
    assert sum(len(v) for v in enc.blocks().values()) == enc.dim
    assert np.array_equal(enc.presence(a), pa)
    # A film with nothing at all is masked, whichever groups the model has.
    empty = frame(year=[None]).assign(
        title=[""], release_date=[pd.NaT], keywords=[[]], companies=[[]], countries=[[]], language=[""]
    )
    empty["collection"] = [""]
    _, p = enc.transform(empty)
    assert p.tolist() == [False]


def test_default_columns_include_the_groups_the_table_has():
    cols = default_columns(films8())
    assert cols == [
        "year",
        "budget_musd",
        "genres",
        "keywords",
        "companies",
        "countries",
        "language",
        "franchise",
        "calendar",
        "budget_real",
        "budget_flags",
    ]
    assert "people" in default_columns(films8().assign(director=["A", "", "", ""], cast=[[]] * 4))

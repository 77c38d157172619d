"""TabularEncoder (metadata features) and the tabular modality inside the fusion model."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import tiny_config

from reelcast.data.table import load_films
from reelcast.data.tabular import TabularEncoder, default_columns
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
    assert f[1].tolist() == [0.0, 1.0] and present.tolist() == [True, False]


def test_genres_are_multi_hot_and_unseen_genres_are_ignored():
    train = frame(genres=[["Drama"], ["Action", "Comedy"], ["Drama", "Action"]])
    enc = TabularEncoder(["genres"]).fit(train)
    assert enc.genres == ["Action", "Comedy", "Drama"]
    assert enc.feature_names == ["genre:Action", "genre:Comedy", "genre:Drama"]
    f, present = enc.transform(frame(genres=[["Comedy", "Western"], ["Western"], []]))
    assert f.tolist() == [[0, 1, 0], [0, 0, 0], [0, 0, 0]]
    # A film whose only genre is unknown to the model has no usable metadata at all.
    assert present.tolist() == [True, False, False]


def test_missing_values_are_flagged_and_the_mask_says_whether_anything_is_known():
    train = frame(year=[2000, 2010, None], runtime=[100, None, 120])
    enc = TabularEncoder(["year", "runtime"]).fit(train)
    assert enc.means == {"year": 2005.0, "runtime": 110.0}  # missing values do not enter the statistics
    assert enc.feature_names == ["year", "year:missing", "runtime", "runtime:missing"]
    f, present = enc.transform(frame(year=[None, 2010, None], runtime=[130, None, "n/a"]))
    assert f[0].tolist() == pytest.approx([0.0, 1.0, 2.0, 0.0])
    assert f[1, 1] == 0.0 and f[1, 3] == 1.0 and f[1, 2] == 0.0
    assert f[2].tolist() == [0.0, 1.0, 0.0, 1.0]
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
    assert f[:, 1].tolist() == [0.0, 1.0] and present.tolist() == [True, False]
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
    assert p.tabular_.columns == ["year", "runtime", "budget_musd", "genres"]
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

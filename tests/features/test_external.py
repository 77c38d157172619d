"""Bring-your-own features: reading the file formats, masking absent films, the external modality."""

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import tiny_config

from reelcast.data.table import load_films
from reelcast.features.external import ExternalFeatures, FeatureFileError, read_feature_file
from reelcast.predictor import RevenuePredictor


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One OpenMP thread for the tiny models."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_formats(tmp_path, ids, X):
    df = pd.DataFrame(X, columns=[f"v{j}" for j in range(X.shape[1])])
    df.insert(0, "film_id", ids)
    paths = {"csv": tmp_path / "f.csv", "parquet": tmp_path / "f.parquet", "npz": tmp_path / "f.npz"}
    df.to_csv(paths["csv"], index=False)
    df.to_parquet(paths["parquet"], index=False)
    np.savez(paths["npz"], ids=np.array(ids), features=X)
    np.save(tmp_path / "f.npy", X)
    (tmp_path / "f.npy.ids.txt").write_text("\n".join(ids) + "\n")
    paths["npy"] = tmp_path / "f.npy"
    return paths


def test_every_format_reads_the_same_vectors(tmp_path):
    ids = ["a", "b", "c"]
    X = np.arange(6, dtype=np.float32).reshape(3, 2)
    for fmt, path in write_formats(tmp_path, ids, X).items():
        got_ids, got, _ = read_feature_file(path)
        assert got_ids == ids, fmt
        np.testing.assert_array_equal(got, X)


def test_bad_files_are_one_clear_error(tmp_path):
    pd.DataFrame({"film_id": ["a", "a"], "v": [1, 2]}).to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(FeatureFileError, match="'a' is listed twice"):
        read_feature_file(tmp_path / "dup.csv")
    pd.DataFrame({"film_id": ["a"], "v": ["x"]}).to_csv(tmp_path / "text.csv", index=False)
    with pytest.raises(FeatureFileError, match="v are not numeric"):
        read_feature_file(tmp_path / "text.csv")
    pd.DataFrame({"key": ["a"], "v": [1]}).to_csv(tmp_path / "noid.csv", index=False)
    with pytest.raises(FeatureFileError, match="no id column"):
        read_feature_file(tmp_path / "noid.csv")
    np.save(tmp_path / "x.npy", np.zeros((2, 2)))
    with pytest.raises(FeatureFileError, match="x.npy.ids.txt"):
        read_feature_file(tmp_path / "x.npy")


def test_standardised_on_training_films_and_absent_films_masked(tmp_path):
    ids = ["a", "b", "c", "d"]
    X = np.array([[0, 10], [2, 10], [4, 10], [100, -5]], dtype=np.float32)
    path = write_formats(tmp_path, ids, X)["csv"]
    ext = ExternalFeatures.fit(path, ["a", "b", "c"])
    assert ext.mean == [2.0, 10.0] and ext.scale[1] == 1.0  # constant column: scale 1, not 0
    f, present = ext.transform(["c", "zz", "d"])
    assert present.tolist() == [True, False, True]
    np.testing.assert_allclose(f[0], [(4 - 2) / np.std([0, 2, 4]), 0.0], rtol=1e-6)
    assert f[1].tolist() == [0.0, 0.0]
    back = ExternalFeatures.from_dict(ext.to_dict())
    np.testing.assert_array_equal(back.transform(["c", "zz", "d"])[0], f)


def test_external_modality_trains_saves_and_predicts(tiny_bert, films_csv, tmp_path):
    films = load_films(films_csv).df
    rng = np.random.default_rng(0)
    ids = films["film_id"].tolist()[:80]  # 16 films are not in the file
    X = rng.standard_normal((80, 5)).astype(np.float32)
    path = write_formats(tmp_path, ids, X)["parquet"]
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=2)
    cfg.data.features = str(path)
    cfg.tabular.use_in_fusion, cfg.ensemble.enabled = False, "off"  # the network alone: text + external
    p = RevenuePredictor(cfg, progress=False).fit(films_csv)
    assert p.spec_.modalities == ["text", "external"] and p.spec_.external_dim == 5
    pred = p.predict(films_csv)
    assert (pred["modalities_used"] == "text,external").sum() == 80
    assert (pred["modalities_used"] == "text").sum() == 16
    p.save(tmp_path / "m")
    back = RevenuePredictor.load(tmp_path / "m")
    np.testing.assert_array_equal(back.predict_proba(films_csv), p.predict_proba(films_csv))
    # Moving a film's vector changes its prediction: the modality reaches the classifier.
    X2 = X.copy()
    X2[0] += 50
    path2 = write_formats(tmp_path / "x", ids, X2)["parquet"] if (tmp_path / "x").mkdir() is None else None
    moved = RevenuePredictor.load(tmp_path / "m", overrides={"data": {"features": str(path2)}})
    assert not np.array_equal(moved.predict_proba(films_csv)[0], p.predict_proba(films_csv)[0])

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import tiny_config

from reelcast.config import SPLITS
from reelcast.data.splits import make_split
from reelcast.data.table import load_films
from reelcast.predictor import RevenuePredictor


def test_save_load_round_trip_gives_identical_predictions(tiny_run, films_csv):
    a = RevenuePredictor.load(tiny_run)
    b = RevenuePredictor.load(tiny_run)
    pa, pb = a.predict_proba(films_csv), b.predict_proba(films_csv)
    assert pa.shape == (96, 8) and np.allclose(pa.sum(1), 1)
    assert np.array_equal(pa, pb)
    assert len(a.thresholds_) == 7 and a.encoder_ids_["text"].startswith("text:tiny-bert@")


def test_fit_is_deterministic_and_predicts_what_it_saved(tiny_bert, films_csv, tmp_path):
    cfg = tiny_config(tiny_bert, tmp_path / "cache")
    p1 = RevenuePredictor(cfg, progress=False).fit(films_csv)
    p2 = RevenuePredictor(cfg, progress=False).fit(films_csv)
    for k, v in p1.model_.state_dict().items():
        assert torch.equal(v, p2.model_.state_dict()[k]), k
    p1.save(tmp_path / "m")
    back = RevenuePredictor.load(tmp_path / "m")
    assert np.array_equal(p1.predict_proba(films_csv), back.predict_proba(films_csv))
    assert p1.split_ids_["test"] and not set(p1.split_ids_["test"]) & set(p1.split_ids_["train"])


def test_text_cache_is_reused(tiny_bert, films_csv, tmp_path):
    cfg = tiny_config(tiny_bert, tmp_path / "cache")
    p = RevenuePredictor(cfg, progress=False)
    table = load_films(films_csv)
    p.featurize(table)
    assert p.featurizer.stats["text_encoded"] == 96
    q = RevenuePredictor(cfg, progress=False)
    q.featurize(table)
    assert q.featurizer.stats == {"text_encoded": 0, "text_cached": 96}
    assert q.featurizer._text_encoder is None  # a fully cached run never loads the model


def test_missing_text_is_masked_not_faked(tiny_run):
    p = RevenuePredictor.load(tiny_run)
    out = p.predict_film("", title="No plot yet")
    assert out["modalities_used"] == {"text": False}
    assert any("text modality missing" in w for w in out["warnings"])
    assert abs(sum(out["probabilities"].values()) - 1) < 1e-6


def test_thresholds_ignore_test_revenue(tiny_bert, films_csv, tmp_path):
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=1)
    table = load_films(films_csv)
    split = make_split(np.arange(len(table)) % 8, SPLITS["70-20-10"], seed=1)
    a = RevenuePredictor(cfg, progress=False).fit(table, split).thresholds_
    table.df.loc[split.test, "revenue_musd"] = 1e6
    b = RevenuePredictor(cfg, progress=False).fit(table, split).thresholds_
    assert np.array_equal(a, b)


def test_unfitted_and_missing_checkpoint_errors(tmp_path):
    with pytest.raises(RuntimeError, match="not fitted"):
        RevenuePredictor().predict(pd.DataFrame({"description": ["x"]}))
    with pytest.raises(FileNotFoundError, match="best_multimodal_model.pth"):
        RevenuePredictor.load(tmp_path)


def test_finetune_text_trains_the_backbone_and_round_trips(tiny_bert, films_csv, tmp_path):
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=2)
    cfg.text.finetune = True
    p = RevenuePredictor(cfg, progress=False).fit(films_csv)
    from reelcast.encoders.text import load_text_backbone

    frozen, _ = load_text_backbone(str(tiny_bert))
    tuned = p.model_.text_backbone.state_dict()
    assert any(not torch.equal(v, tuned[k]) for k, v in frozen.state_dict().items())  # the encoder learned
    p.save(tmp_path / "ft")
    back = RevenuePredictor.load(tmp_path / "ft")
    assert np.allclose(p.predict_proba(films_csv), back.predict_proba(films_csv), atol=1e-6)


@pytest.mark.parametrize("frontend", ["logmel", "waveform"])
def test_simulated_media_trains_all_three_modalities(tiny_bert, films_csv, tmp_path, frontend):
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=1)
    cfg.override(
        [
            "media.mode=simulated",
            "media.num_frames=5",
            "media.audio_seconds=0.5",
            f"audio.frontend={frontend}",
        ]
    )
    p = RevenuePredictor(cfg, progress=False).fit(films_csv)
    # The demo table has metadata, so by default it is the fourth modality (and the trees read it).
    assert p.spec_.modalities == ["text", "video", "audio", "tabular"] and p.spec_.video_dim == 2048
    assert p.ensemble_ is not None
    assert (p.spec_.audio_filterbank is not None) == (frontend == "waveform")
    assert p.spec_.audio_channels == (1 if frontend == "waveform" else cfg.audio.n_mels)
    p.save(tmp_path / "m")
    assert np.array_equal(
        p.predict_proba(films_csv), RevenuePredictor.load(tmp_path / "m").predict_proba(films_csv)
    )


def test_saved_run_works_from_another_directory(tiny_bert, films_csv, tmp_path, monkeypatch):
    """A run trained with relative paths (as `reelcast demo` writes) predicts and serves from elsewhere."""
    import shutil

    from fastapi.testclient import TestClient

    from reelcast.serving.app import create_app

    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    shutil.copytree(tiny_bert, here / "tiny-bert")
    monkeypatch.chdir(here)
    cfg = tiny_config(Path("tiny-bert"), Path("cache"), epochs=1)
    cfg.text.model = "tiny-bert"  # relative, as the demo's and many users' configs are
    p = RevenuePredictor(cfg, progress=False).fit(films_csv)
    p.save("run")
    expected = p.predict_film("A heist in a casino.")["probabilities"]

    monkeypatch.chdir(elsewhere)
    loaded = RevenuePredictor.load(here / "run")
    assert Path(loaded.config.text.model) == (here / "tiny-bert").resolve()
    assert Path(loaded.config.cache_dir) == (here / "cache").resolve()
    got = loaded.predict_film("A heist in a casino.")["probabilities"]
    assert got == pytest.approx(expected, abs=1e-6)
    client = TestClient(create_app(here / "run"))
    r = client.post("/predict", json={"title": "x", "description": "A heist in a casino."})
    assert r.status_code == 200, r.text
    assert not (elsewhere / "cache").exists(), "the store must be the run's, not one under the new cwd"

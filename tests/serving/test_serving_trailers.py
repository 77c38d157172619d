"""The API with a model that reads trailers: uploads are used, unreachable URLs degrade to text."""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from reelcast.media.synth import render_trailer


@pytest.fixture(scope="module")
def trailer_run(tmp_path_factory, tiny_bert):
    from reelcast.config import Config
    from reelcast.encoders.frames import save_tiny_resnet
    from reelcast.predictor import RevenuePredictor

    root = tmp_path_factory.mktemp("trailer_run")
    rows = []
    for i in range(16):
        render_trailer(root / f"t{i}.mp4", seconds=1.0, fps=12, width=96, height=64, seed=i)
        rows.append(
            {"title": f"F{i}", "description": f"plot {i}", "revenue": 5.0 + i, "trailer": f"t{i}.mp4"}
        )
    pd.DataFrame(rows).to_csv(root / "films.csv", index=False)
    cfg = Config()
    cfg.override(
        [
            "media.mode=trailers",
            "media.num_frames=4",
            "media.resize=32",
            "media.crop=32",
            "media.audio_seconds=1.0",
            "media.decode_workers=1",
            "media.retries=0",
            "media.timeout=5.0",
            "train.epochs=1",
            "eval.temperature_scaling=false",
        ]
    )
    cfg.text.model, cfg.cache_dir = str(tiny_bert), str(root / "cache")
    cfg.video.model = str(save_tiny_resnet(root / "tiny-resnet"))
    RevenuePredictor(cfg, progress=False).fit(root / "films.csv").save(root / "model")
    return root


def test_upload_is_read_and_dead_url_degrades_to_text(trailer_run):
    from reelcast.serving.app import create_app

    client = TestClient(create_app(trailer_run / "model"))
    assert client.get("/model").json()["uses_trailers"] is True

    with (trailer_run / "t3.mp4").open("rb") as f:
        r = client.post(
            "/predict/upload", data={"description": "a heist"}, files={"file": ("teaser.mp4", f, "video/mp4")}
        )
    assert r.status_code == 200, r.text
    assert r.json()["modalities_used"] == {"text": True, "video": True, "audio": True}

    # Port 9 on loopback is closed: the fetch fails at once, the answer still comes, without media.
    r = client.post("/predict", json={"description": "a heist", "trailer_url": "http://127.0.0.1:9/t.mp4"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["modalities_used"] == {"text": True, "video": False, "audio": False}
    assert any("could not be fetched" in w for w in body["warnings"])

"""Models the serving tests share (session fixtures, imported by the test modules that use them)."""

from __future__ import annotations

import functools
from pathlib import Path


@functools.cache
def trained_trailer_model(tiny_bert: Path, root: Path):
    """A tiny model trained on real (rendered) trailers: text, video and audio (trained once a session).

    Test modules wrap it in a fixture: `trained_trailer_model(tiny_bert, tmp_path_factory.getbasetemp())`.
    """
    import pandas as pd

    from reelcast.config import Config
    from reelcast.encoders.frames import save_tiny_resnet
    from reelcast.media.synth import render_trailer
    from reelcast.predictor import RevenuePredictor

    root = Path(root) / "served_trailer_model"
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(12):
        render_trailer(root / f"t{i}.mp4", seconds=1.0, fps=8, width=64, height=48, seed=i)
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
            "train.epochs=1",
            "eval.temperature_scaling=false",
            "eval.bootstrap=20",
        ]
    )
    cfg.text.model, cfg.text.max_length, cfg.cache_dir = str(tiny_bert), 64, str(root / "cache")
    cfg.video.model = str(save_tiny_resnet(root / "tiny-resnet"))
    RevenuePredictor(cfg, progress=False).fit(root / "films.csv").save(root / "model")
    return RevenuePredictor.load(root / "model")

"""The offline demo: a generated film catalogue, tiny random encoders, optional rendered trailers.

Revenue in the catalogue depends on genre and budget, and each genre's trailers share a look and a
tone, so every modality carries some signal the pipeline can find. None of it is real data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reelcast.config import Config
from reelcast.files import atomic_write_text
from reelcast.progress import track

# genre -> (log10 revenue mean in $M, plot words)
GENRES: dict[str, tuple[float, list[str]]] = {
    "Animation": (
        2.3,
        ["a curious robot", "talking animals", "a magical kingdom", "a lost toy", "friendship"],
    ),
    "Action": (
        2.1,
        ["a rogue agent", "an explosive chase", "a stolen warhead", "a mercenary crew", "revenge"],
    ),
    "Sci-Fi": (
        1.9,
        ["a distant planet", "an alien signal", "a time machine", "a starship", "the last colony"],
    ),
    "Comedy": (
        1.6,
        ["a wedding disaster", "two hapless roommates", "a road trip", "a fake identity", "a bet"],
    ),
    "Thriller": (
        1.4,
        ["a missing witness", "a corrupt detective", "a secret file", "a stalker", "a cover-up"],
    ),
    "Romance": (
        1.2,
        ["a summer love", "a second chance", "letters from the past", "a small bakery", "a vow"],
    ),
    "Horror": (1.0, ["a haunted house", "a cursed tape", "a cabin in the woods", "a demon", "the basement"]),
    "Drama": (
        0.6,
        ["a grieving family", "a small town", "a factory strike", "an ageing pianist", "a memoir"],
    ),
}
_OPENINGS = ["When", "After", "Years after", "On the night", "Just as"]
_HEROES = [
    "a retired pilot",
    "a young journalist",
    "two estranged sisters",
    "a shy teenager",
    "a small-town cop",
    "an ambitious chef",
    "a disgraced scientist",
    "a single father",
]


@dataclass
class DemoSettings:
    """Size and speed knobs of the demo (small so it runs in about a minute on 2 CPU cores)."""

    films: int = 240
    seed: int = 7
    media: bool = True
    trailer_seconds: float = 1.5
    trailer_size: tuple[int, int] = (96, 64)
    fps: int = 12
    frames: int = 8
    image_size: int = 64
    audio_seconds: float = 1.5
    epochs: int = 25
    patience: int = 8
    # A few hundred films give few optimiser steps per epoch; the design's 1e-4 barely moves in 25 epochs.
    lr: float = 1e-3


def make_catalogue(n: int, seed: int) -> pd.DataFrame:
    """A film table in the generic schema: title, description, year, runtime, budget, genre, revenue."""
    rng = np.random.default_rng(seed)
    names = list(GENRES)
    rows = []
    for i in range(n):
        genre = names[i % len(names)] if i < len(names) else names[rng.integers(len(names))]
        base, words = GENRES[genre]
        budget = float(np.round(10 ** rng.normal(1.4 + 0.3 * base, 0.35), 1))
        log_rev = base + 0.35 * np.log10(budget) + rng.normal(0, 0.35)
        a, b = rng.choice(words, 2, replace=False)
        plot = (
            f"{rng.choice(_OPENINGS)} {rng.choice(_HEROES)} discovers {a}, "
            f"{rng.choice(_HEROES)} must face {b} before it is too late."
        )
        rows.append(
            {
                "id": f"demo{i:04d}",
                "title": f"Demo Film {i + 1}",
                "description": plot,
                "genres": genre,
                "year": int(rng.integers(2000, 2024)),
                "runtime": int(rng.integers(80, 160)),
                "budget": budget,
                "revenue": float(np.round(10**log_rev, 2)),
                "trailer": "",
            }
        )
    return pd.DataFrame(rows)


def render_trailers(df: pd.DataFrame, folder: Path, s: DemoSettings, progress: bool) -> None:
    """Render the short H.264/AAC trailers; each genre has its own seed family (look and tone).

    A trailer depends only on its seed, so films with the same seed share one file: it is rendered,
    decoded and encoded once (the extraction processes a shared trailer once), with the same features."""
    from reelcast.media.synth import render_trailer

    folder.mkdir(parents=True, exist_ok=True)
    genre_index = {g: k for k, g in enumerate(GENRES)}
    seeds = [genre_index[g] * 1000 + i % 3 for i, g in enumerate(df["genres"])]
    w, h = s.trailer_size
    for seed in track(sorted(set(seeds)), "render demo trailers", "trailer", enabled=progress):
        path = folder / f"seed{seed}.mp4"
        if not path.exists():  # rendering is deterministic, so an existing file is the same file
            render_trailer(
                path, seconds=s.trailer_seconds, fps=s.fps, width=w, height=h, audio=True, seed=seed
            )
    df["trailer"] = [f"trailers/seed{seed}.mp4" for seed in seeds]


def prepare_demo(out: Path, s: DemoSettings, progress: bool = True) -> tuple[Config, Path]:
    """Write the catalogue (and trailers and tiny encoders) under out/demo_inputs; return config and table."""
    from reelcast.encoders.text import save_tiny_bert

    root = Path(out).resolve() / "demo_inputs"  # absolute: the run's saved paths work from anywhere
    root.mkdir(parents=True, exist_ok=True)
    df = make_catalogue(s.films, s.seed)
    cfg = Config()
    cfg.cache_dir = str(root / "cache")
    text_dir = root / "tiny-bert"
    if not (text_dir / "config.json").exists():
        save_tiny_bert(text_dir, seed=s.seed)
    cfg.text.model = str(text_dir)
    cfg.text.max_length = 128
    cfg.train.epochs, cfg.train.patience, cfg.train.lr = s.epochs, s.patience, s.lr
    # Mean pooling: a random tiny BERT's [CLS] vector barely varies between texts.
    cfg.text.pooling = "mean"
    # Synthetic data has no pre-release columns worth a baseline beyond these; keep the tabular baseline.
    cfg.split.seed = cfg.train.seed = s.seed
    if s.media:
        from reelcast.encoders.frames import save_tiny_resnet

        render_trailers(df, root / "trailers", s, progress)
        video_dir = root / "tiny-resnet"
        if not (video_dir / "config.json").exists():
            save_tiny_resnet(video_dir, seed=s.seed)
        cfg.media.mode = "trailers"
        cfg.video.model = str(video_dir)
        cfg.media.num_frames = s.frames
        cfg.media.resize = s.image_size
        cfg.media.crop = s.image_size
        cfg.media.audio_seconds = s.audio_seconds
        cfg.media.offline = True  # every trailer is a local file
    table = root / "demo_films.csv"
    atomic_write_text(table, df.to_csv(index=False))
    return cfg, table

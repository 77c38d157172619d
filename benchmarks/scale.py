"""Films per second of trailer extraction: the local engine against Ray Data with 1 and 2 workers.

    python benchmarks/scale.py [--films 12] [--seconds 10] [--model resnet50|tiny]

Every row extracts the same generated trailers into a fresh store (same frames, same model) and
reports films/s of the extraction alone; Ray's start-up (starting the nodes and connecting) is
timed apart, because a long run pays it once. Rows:

  local, W workers    the local engine (`--engine local`, media.decode_workers=W)
  ray, W workers      the Ray engine (`--engine ray`) on a private Ray instance of W CPUs: W decode
                      tasks at a time beside the encoder actor, as the local engine runs W decode
                      processes beside its CNN

The frame model is ResNet-50 with random weights (the default model's arithmetic, nothing
downloaded) unless --model tiny. The trailers are local files, so downloads are not part of it.
On a shared machine the numbers move with other people's load: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from reelcast.config import Config
from reelcast.data.table import load_films
from reelcast.media.engines import LocalEngine
from reelcast.media.extract import extract_media
from reelcast.media.synth import render_trailer
from reelcast.store.local import FeatureStore


def make_table(root: Path, films: int, seconds: float) -> Path:
    """`films` generated 640x360 trailers with sound, and a table naming them."""
    rows = []
    for i in range(films):
        render_trailer(root / f"t{i:03d}.mp4", seconds=seconds, fps=24, width=640, height=360, seed=i)
        rows.append(
            {"title": f"film {i}", "description": f"plot {i}", "revenue": 1.0, "trailer": f"t{i:03d}.mp4"}
        )
    pd.DataFrame(rows).to_csv(root / "films.csv", index=False)
    return root / "films.csv"


def make_model(root: Path, kind: str) -> str:
    """A local frame model directory: random ResNet-50 (real arithmetic) or the tiny test network."""
    if kind == "tiny":
        from reelcast.encoders.frames import save_tiny_resnet

        return str(save_tiny_resnet(root / "tiny-resnet", seed=0))
    import torch
    from transformers import ResNetConfig, ResNetModel

    torch.manual_seed(0)
    d = root / "resnet50-random"
    ResNetModel(ResNetConfig()).save_pretrained(d)  # ResNetConfig() is ResNet-50's shape
    return str(d)


def config(cache: Path, model: str, workers: int, engine: str) -> Config:
    cfg = Config()
    cfg.cache_dir, cfg.video.model, cfg.media.mode = str(cache), model, "trailers"
    cfg.media.decode_workers, cfg.media.offline = workers, True
    cfg.scale.engine = engine
    return cfg


def run(table: Path, cfg: Config, engine=None) -> tuple[float, dict]:
    """Seconds to extract every film (a fresh store), and the per-stage timings."""
    from reelcast.encoders.frames import create_frame_encoder

    films = load_films(table, require_revenue=False).df
    enc = {}

    def get_encoder():
        if "e" not in enc:
            v = cfg.video
            enc["e"] = create_frame_encoder(v.model, batch_size=v.batch_size, precision=v.precision)
        return enc["e"]

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    out = extract_media(films, cfg, FeatureStore(cfg.cache_dir), get_encoder, False, timings, engine=engine)
    seconds = time.perf_counter() - t0
    assert int(out[2].sum()) == len(films), "every generated trailer must extract"
    return seconds, timings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--films", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each generated trailer")
    ap.add_argument("--model", choices=["resnet50", "tiny"], default="resnet50")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import ray

    from reelcast.media.ray_engine import RayEngine

    with tempfile.TemporaryDirectory(prefix="reelcast-scale-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        table = make_table(root, args.films, args.seconds)
        model = make_model(root, args.model)
        print(
            f"{args.films} generated trailers of {args.seconds:g} s, 640x360 at 24 fps, frame model "
            f"{args.model}; made in {time.perf_counter() - t0:.1f} s; {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        rows = []

        def add(name: str, workers: int, start: float, seconds: float, timings: dict) -> None:
            rows.append(
                {
                    "engine": name,
                    "workers": workers,
                    "start-up s": round(start, 1),
                    "extract s": round(seconds, 1),
                    "films/s": round(args.films / seconds, 3),
                    "s/film": round(seconds / args.films, 2),
                    "decode s (sum)": round(timings.get("decode", 0.0), 1),
                    "cnn s (sum)": round(timings.get("frames_cnn", 0.0), 1),
                    # Starting the encoder actor (imports, model load) inside the Ray run: once per run.
                    "actor start s": round(timings.get("actor_start", 0.0), 1),
                }
            )
            print(rows[-1], flush=True)

        for w in (1, 2):
            cfg = config(root / f"local{w}", model, w, "local")
            seconds, timings = run(table, cfg, LocalEngine())
            add("local", w, 0.0, seconds, timings)
        for w in (1, 2):
            cfg = config(root / f"ray{w}", model, w, "ray")
            cfg.scale.num_cpus = w
            engine = RayEngine(cfg.scale)
            seconds, timings = run(table, cfg, engine)  # starts a private instance: timed apart
            ray.shutdown()
            add("ray", w, engine.start_seconds, seconds - engine.start_seconds, timings)

    df = pd.DataFrame(rows)
    print("\n" + df.to_string(index=False))
    rate = {(e, w): r for e, w, r in zip(df["engine"], df["workers"], df["films/s"], strict=True)}
    for e in ("local", "ray"):
        print(f"{e}: 2 workers / 1 worker = {rate[e, 2] / rate[e, 1]:.2f}x (ideal 2.00x)")
    for w in (1, 2):
        print(f"ray / local with {w} worker(s): {rate['ray', w] / rate['local', w]:.2f}x")


if __name__ == "__main__":
    sys.exit(main())

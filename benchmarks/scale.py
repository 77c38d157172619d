"""Films per second of trailer extraction: the local engine against Ray Data on 1 and 2 cores.

    python benchmarks/scale.py [--films 12] [--seconds 10] [--real 8] [--model resnet50|tiny]
                               [--precision fp32|bf16|auto] [--engines local,ray]

Every row extracts the same trailers into a fresh store (same frames, same model) and reports films/s
of the extraction alone. Ray's start-up is timed apart, because a long run pays it once: starting the
instance, then its encoder actors (each a new process importing torch and loading the model), which
are all up before the first trailer is fetched. The local engine has no such line: its encoder
processes load their models while the first films decode, inside its extract time.
"cores" W is what the engine gets: the benchmark pins itself (and so every process it starts: decode
workers, encoder processes, Ray's workers) to W CPUs with sched_setaffinity, and each engine sizes
itself to them (local: W single-threaded encoder processes beside media.decode_workers decode
workers; ray: a private instance of W CPUs, W encoder actors).

Beside films/s each row shows the frame CNN's images/s (films x media.num_frames / extract s) and that
rate against the CNN alone: one process, W torch threads, the same encoder and precision on random
224x224 frames, measured first ("cnn-only img/s"). Two sets of trailers:

  generated   --films synthetic 640x360 trailers of --seconds with sound: CNN-bound
  real        --real copies of the Big Buck Bunny trailer (../shared/media/trailer_bbb.mp4, 55 s, 720p
              H.264), each with a distinct trailing MP4 `free` box so each is its own store entry:
              decode-heavy

The frame model is ResNet-50 with random weights (the default model's arithmetic, nothing
downloaded) unless --model tiny. The trailers are local files, so downloads are not part of it.
On a shared machine the numbers move with other people's load: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from reelcast.config import Config
from reelcast.data.table import load_films
from reelcast.media.engines import LocalEngine
from reelcast.media.extract import extract_media
from reelcast.media.synth import render_trailer
from reelcast.store.local import FeatureStore

ROOT = Path(__file__).resolve().parents[1]
REAL_TRAILER = ROOT.parent / "shared" / "media" / "trailer_bbb.mp4"

# The capacity plan's assumptions (docs/scaling.md says where each comes from); everything else in it
# is measured by this run: core-seconds per trailer and feature bytes per film.
PLAN_TRAILERS = (25_000, 1_000_000)
NODE_CORES = 8  # a node: an 8-core CPU machine with its own public address
NODE_EFFICIENCY = 0.9  # fraction of linear scaling kept per added core on a node of one's own
DOWNLOADS_PER_ADDRESS_HOUR = 300  # YouTube, without a signed-in session, before HTTP 429
TRAILER_CACHE_MB = 15.0  # one downloaded trailer at <= 480p


def write_table(root: Path, names: list[str]) -> Path:
    """A film table naming the trailer files in `root`."""
    rows = [
        {"title": f"film {i}", "description": f"plot {i}", "revenue": 1.0, "trailer": name}
        for i, name in enumerate(names)
    ]
    pd.DataFrame(rows).to_csv(root / "films.csv", index=False)
    return root / "films.csv"


def generated_table(root: Path, films: int, seconds: float) -> Path:
    """`films` generated 640x360 trailers with sound, and a table naming them."""
    root.mkdir(parents=True)
    for i in range(films):
        render_trailer(root / f"t{i:03d}.mp4", seconds=seconds, fps=24, width=640, height=360, seed=i)
    return write_table(root, [f"t{i:03d}.mp4" for i in range(films)])


def real_table(root: Path, films: int) -> Path:
    """`films` byte-distinct copies of the real trailer (a trailing MP4 `free` box each), and a table."""
    root.mkdir(parents=True)
    names = []
    for i in range(films):
        name = f"bbb{i:03d}.mp4"
        shutil.copyfile(REAL_TRAILER, root / name)
        pad = f"reelcast benchmark copy {i}".encode()
        with (root / name).open("ab") as f:  # a `free` box is skipped by every MP4 reader
            f.write(struct.pack(">I4s", 8 + len(pad), b"free") + pad)
        names.append(name)
    return write_table(root, names)


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


@contextlib.contextmanager
def pinned(cores: int) -> Iterator[None]:
    """Run the block (and every process it starts) on the first `cores` CPUs this process may use."""
    before = os.sched_getaffinity(0)
    if cores > len(before):
        raise SystemExit(f"{cores} cores asked for, this process may use {len(before)}")
    os.sched_setaffinity(0, sorted(before)[:cores])
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def cnn_only_rate(model: str, precision: str, threads: int, reps: int = 3) -> float:
    """Images/s of the frame encoder alone: one process, `threads` torch threads, best of `reps`."""
    from reelcast.encoders.frames import create_frame_encoder

    enc = create_frame_encoder(model, precision=precision, threads=threads)
    x = np.random.default_rng(0).integers(0, 256, (32, 224, 224, 3), dtype=np.uint8)
    with pinned(threads):
        enc.encode(x[:8])  # warm-up: oneDNN picks and caches its kernels
        best = min(_seconds(enc.encode, x) for _ in range(reps))
    return len(x) / best


def _seconds(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def config(cache: Path, model: str, engine: str, precision: str) -> Config:
    """The extraction settings of one row (a fresh store)."""
    cfg = Config()
    cfg.cache_dir, cfg.video.model, cfg.media.mode = str(cache), model, "trailers"
    cfg.video.precision, cfg.media.offline, cfg.scale.engine = precision, True, engine
    return cfg


def run(table: Path, cfg: Config, engine) -> tuple[float, dict]:
    """Seconds to extract every film (a fresh store), and the per-stage timings."""
    from reelcast.encoders.frames import create_frame_encoder

    films = load_films(table, require_revenue=False).df
    enc = {}

    def get_encoder():  # only for one trailer or a GPU: several films go to the engine's encoder pool
        if "e" not in enc:
            v = cfg.video
            enc["e"] = create_frame_encoder(v.model, batch_size=v.batch_size, precision=v.precision)
        return enc["e"]

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    out = extract_media(films, cfg, FeatureStore(cfg.cache_dir), get_encoder, False, timings, engine=engine)
    seconds = time.perf_counter() - t0
    assert int(out[2].sum()) == len(films), "every trailer must extract"
    return seconds, timings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--films", type=int, default=12, help="generated trailers (0: no generated rows)")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each generated trailer")
    ap.add_argument("--real", type=int, default=8, help="copies of the real trailer (0: no real rows)")
    ap.add_argument("--model", choices=["resnet50", "tiny"], default="resnet50")
    ap.add_argument("--precision", choices=["fp32", "bf16", "auto"], default="fp32")
    ap.add_argument("--engines", default="local,ray", help="comma-separated: local, ray")
    ap.add_argument("--cores", default="1,2", help="comma-separated core counts, one row each")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    engines = [e for e in args.engines.split(",") if e]
    cores = [int(c) for c in args.cores.split(",")]
    if not args.films and not args.real:
        raise SystemExit("nothing to measure: --films and --real are both 0")
    if args.real and not REAL_TRAILER.is_file():
        raise SystemExit(f"{REAL_TRAILER} not found: give --real 0 to skip the real-trailer rows")

    with tempfile.TemporaryDirectory(prefix="reelcast-scale-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        tables = {}
        if args.films:
            tables["generated"] = (generated_table(root / "generated", args.films, args.seconds), args.films)
        if args.real:
            tables["real"] = (real_table(root / "real", args.real), args.real)
        model = make_model(root, args.model)
        frames = Config().media.num_frames
        print(
            f"trailers: {args.films} generated (of {args.seconds:g} s, 640x360 at 24 fps); {args.real} real "
            f"({REAL_TRAILER.name}); frame model {args.model} {args.precision}, {frames} frames a film; "
            f"made in {time.perf_counter() - t0:.1f} s; {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.1f}",
            flush=True,
        )
        cnn = {w: cnn_only_rate(model, args.precision, w) for w in cores}
        print(
            "cnn-only images/s (1 process, W threads): "
            + ", ".join(f"W={w}: {r:.1f}" for w, r in cnn.items())
        )
        rows = []
        for kind, (table, n) in tables.items():
            for engine in engines:
                for w in cores:
                    cfg = config(root / f"cache-{kind}-{engine}{w}", model, engine, args.precision)
                    with pinned(w):
                        seconds, timings, start = _row(table, cfg, engine, w)
                    extract = seconds - start
                    rows.append(
                        {
                            "trailers": kind,
                            "engine": engine,
                            "cores": w,
                            "start-up s": round(start, 1),
                            "extract s": round(extract, 1),
                            "total s": round(seconds, 1),
                            "films/s": round(n / extract, 3),
                            "s/film": round(extract / n, 2),
                            "img/s": round(n * frames / extract, 1),
                            "% cnn-only": round(100 * n * frames / extract / cnn[w]),
                            "decode s (sum)": round(timings.get("decode", 0.0), 1),
                            "cnn s (sum)": round(timings.get("frames_cnn", 0.0), 1),
                            # Starting the encoder actors (imports, model load), each one's seconds added up:
                            # in start-up s, once per run.
                            "actor start s (sum)": round(timings.get("actor_start", 0.0), 1),
                            "store KB/film": round(store_kb_per_film(Path(cfg.cache_dir), n), 1),
                        }
                    )
                    print(rows[-1], flush=True)

    df = pd.DataFrame(rows)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}\n" + df.to_string(index=False))
    print("cnn-only = one process with W torch threads, the same encoder on random frames: " + str(cnn))
    rate = {
        (t, e, w): r
        for t, e, w, r in zip(df["trailers"], df["engine"], df["cores"], df["films/s"], strict=True)
    }
    total = {
        (t, e, w): r
        for t, e, w, r in zip(df["trailers"], df["engine"], df["cores"], df["total s"], strict=True)
    }
    lo, hi = min(cores), max(cores)
    for kind in tables:
        for e in engines:
            if lo != hi:
                ratio = rate[kind, e, hi] / rate[kind, e, lo]
                print(f"{kind} {e}: {hi} cores / {lo} = {ratio:.2f}x (ideal {hi / lo:.2f}x)")
        if "ray" in engines and "local" in engines:
            for w in cores:
                # The local engine's start-up (encoder processes loading while the first films decode) is
                # inside its extract s; the start-up included, the engines compare on total s.
                fast = rate[kind, "ray", w] / rate[kind, "local", w]
                whole = total[kind, "local", w] / total[kind, "ray", w]
                print(f"{kind} ray / local on {w} core(s): {fast:.2f}x films/s, {whole:.2f}x with start-up")
    src = plan_source(df)
    core_s = src["cores"] / src["films/s"]
    print(
        f"\ncapacity plan (docs/scaling.md) from the {src['trailers']} {src['engine']} row on {src['cores']} "
        f"cores: {core_s:.2f} core-s per trailer, {src['store KB/film']:.0f} KB per film in the store; "
        f"assumed: {NODE_CORES}-core nodes at {NODE_EFFICIENCY} efficiency, {DOWNLOADS_PER_ADDRESS_HOUR} "
        f"downloads per address-hour, {TRAILER_CACHE_MB:g} MB per cached trailer, nodes = addresses"
    )
    print(capacity_plan(core_s, src["store KB/film"]).to_string())


def store_kb_per_film(cache: Path, films: int) -> float:
    """Feature store kilobytes per film: its frame features and audio inputs (the status records aside)."""
    total = sum(f.stat().st_size for kind in ("frames", "audio") for f in (cache / kind).rglob("*.npy"))
    return total / 1000 / max(1, films)


def plan_source(df: pd.DataFrame) -> pd.Series:
    """The row the capacity plan is computed from: real trailers if measured (generated ones are not
    representative: 10 s at 360p, little to decode), the fastest engine at the most cores."""
    kind = "real" if (df["trailers"] == "real").any() else "generated"
    rows = df[(df["trailers"] == kind) & (df["cores"] == df["cores"].max())]
    return rows.loc[rows["films/s"].idxmax()]


def capacity_plan(core_s: float, store_kb: float) -> pd.DataFrame:
    """docs/scaling.md's capacity plan for PLAN_TRAILERS from core-seconds per trailer and KB per film."""

    def days_or_hours(hours: float) -> str:
        return f"{hours / 24:,.1f} days" if hours > 48 else f"{hours:,.1f} h"

    cols = {}
    for n in PLAN_TRAILERS:
        core_h = n * core_s / 3600
        node_h = core_h / (NODE_CORES * NODE_EFFICIENCY)
        nodes = max(1, math.ceil(node_h / 10))  # done in about 10 hours at most
        addr_h = n / DOWNLOADS_PER_ADDRESS_HOUR
        addresses = math.ceil(addr_h / 24)
        cache_tb = n * TRAILER_CACHE_MB / 1e6
        cols[f"{n:,} trailers"] = {
            "compute (core-hours)": f"{core_h:,.1f}",
            f"compute on {NODE_CORES}-core nodes at {NODE_EFFICIENCY}": (
                f"{node_h:,.1f} node-hours: {nodes} node{'s' * (nodes > 1)}, {node_h / nodes:,.1f} h"
            ),
            f"downloads (address-hours at {DOWNLOADS_PER_ADDRESS_HOUR}/h)": f"{addr_h:,.0f}",
            "downloads, 1 address": days_or_hours(addr_h),
            "downloads finished in ~1 day": f"{addresses} addresses ({addr_h / addresses:.0f} h)",
            "feature store": f"{n * store_kb / 1e6:,.1f} GB",
            f"trailer caches (~{TRAILER_CACHE_MB:g} MB each)": (
                f"{cache_tb:,.2f} TB, {1000 * cache_tb / addresses:,.0f} GB per node at {addresses} nodes"
            ),
        }
    return pd.DataFrame(cols)


def _row(table: Path, cfg: Config, engine: str, cores: int) -> tuple[float, dict, float]:
    """Seconds, timings and (Ray) start-up seconds of one row, on the `cores` CPUs this process has."""
    if engine == "local":
        seconds, timings = run(table, cfg, LocalEngine())
        return seconds, timings, 0.0
    import ray

    from reelcast.media.ray_engine import RayEngine

    cfg.scale.num_cpus = cores
    ray_engine = RayEngine(cfg.scale)
    try:
        seconds, timings = run(table, cfg, ray_engine)  # starts a private instance: timed apart
    finally:
        ray.shutdown()
    return seconds, timings, ray_engine.start_seconds + timings.get("ray_pool_start", 0.0)


if __name__ == "__main__":
    sys.exit(main())

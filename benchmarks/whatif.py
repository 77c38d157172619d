"""Latency of POST /whatif on a warm server over loopback: a 30-point budget sweep, and a year of months.

    python benchmarks/whatif.py                                  # trains a small TMDB-5000 model first
    python benchmarks/whatif.py --model runs/x/split_70_20_10    # a trained run

Without --model it fits a model on --films TMDB-5000 films (plot through a random tiny BERT, budget,
dates, runtime, genres, studios, keywords; ensemble of the network and the trees): the text encoder
is not what a sweep costs (one plot per sweep, encoded once), the model's batched forward pass is.
Prints p50/p95 over --requests sequential sweeps after three warm-up calls, with POST /predict of
the same film beside it for scale.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
from serve import Server, percentile

ROOT = Path(__file__).resolve().parents[1]
TMDB = ROOT.parent / "shared" / "data" / "tmdb_5000" / "tmdb_5000_movies.csv"
AVATAR = {
    "title": "Avatar",
    "description": "In the 22nd century, a paraplegic Marine is dispatched to the moon Pandora on a unique "
    "mission, but becomes torn between following orders and protecting an alien civilization.",
    "metadata": {
        "budget_musd": 237,
        "release_date": "2009-12-10",
        "runtime": 162,
        "genres": ["Action", "Adventure", "Fantasy", "Science Fiction"],
        "companies": ["Twentieth Century Fox Film Corporation", "Lightstorm Entertainment"],
        "language": "en",
    },
}
SWEEPS = {
    "budget 20-300 $M, 30 points": [{"field": "budget_musd", "from": 20, "to": 300, "steps": 30}],
    "release date, 12 months": [{"field": "release_date"}],
}


def train_tmdb_model(root: Path, films: int) -> Path:
    """A model on `films` TMDB-5000 films with revenue (random tiny BERT for the plot)."""
    import pandas as pd

    from reelcast.config import Config
    from reelcast.encoders.text import save_tiny_bert
    from reelcast.predictor import RevenuePredictor

    table = pd.read_csv(TMDB)
    table[table["revenue"] > 0].sample(films, random_state=0).to_csv(root / "films.csv", index=False)
    cfg = Config()
    cfg.text.model = str(save_tiny_bert(root / "tiny-bert", seed=0))
    cfg.text.max_length = 64
    cfg.cache_dir = str(root / "cache")
    cfg.train.epochs, cfg.train.patience = 4, 3
    cfg.ensemble.seeds, cfg.ensemble.threads = 1, 1
    RevenuePredictor(cfg, progress=False).fit(root / "films.csv").save(root / "model")
    return root / "model"


def timed(client: httpx.Client, path: str, body: dict, n: int) -> list[float]:
    """Latencies (ms) of n sequential POSTs of the same body (any error stops the benchmark)."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.post(path, json=body)
        out.append(1000 * (time.perf_counter() - t0))
        r.raise_for_status()
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="A split folder of a training run.")
    ap.add_argument("--films", type=int, default=800, help="TMDB-5000 films to fit on (without --model).")
    ap.add_argument("--requests", type=int, default=40, help="Sequential sweeps per row.")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from reelcast.predictor import RevenuePredictor
    from reelcast.serving.app import create_app

    with tempfile.TemporaryDirectory(prefix="reelcast-whatif-") as tmp:
        model = args.model
        if model is None:
            t0 = time.perf_counter()
            model = train_tmdb_model(Path(tmp), args.films)
            print(
                f"fitted on {args.films} TMDB-5000 films in {time.perf_counter() - t0:.1f} s", file=sys.stderr
            )
        app = create_app(predictor=RevenuePredictor.load(model))
        rows = []
        with Server(app) as base, httpx.Client(base_url=base, timeout=300) as client:
            predict = {k: AVATAR[k] for k in ("title", "description", "metadata")}
            for _ in range(3):  # warm-up: the plot's text features, first-call allocations
                client.post("/predict", json=predict).raise_for_status()
                client.post("/whatif", json={**predict, "vary": SWEEPS["release date, 12 months"]})
            lat = timed(client, "/predict", predict, args.requests)
            rows.append(("POST /predict, one film", 1, lat))
            for name, vary in SWEEPS.items():
                body = {**predict, "vary": vary}
                points = len(client.post("/whatif", json=body).json()["points"])
                rows.append((f"POST /whatif, {name}", points, timed(client, "/whatif", body, args.requests)))
    print(f"{'request':<46} {'points':>6} {'n':>4} {'p50 ms':>8} {'p95 ms':>8}")
    for name, points, lat in rows:
        print(f"{name:<46} {points:>6} {len(lat):>4} {percentile(lat, 50):>8.1f} {percentile(lat, 95):>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

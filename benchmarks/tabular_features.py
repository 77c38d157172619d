"""How much each pre-release feature group adds: gradient-boosted trees on TabularEncoder output.

    python benchmarks/tabular_features.py                          # TMDB-5000, split 80-10-10, seed 42
    python benchmarks/tabular_features.py --cv 5                   # plus 5-fold CV mean +- std
    python benchmarks/tabular_features.py --split-by date --constant-dollars

One row per column set: the seed's columns (year, runtime, log budget, release month, genres), those
plus each feature group on its own, all groups, and all groups plus the people track record (director
and top cast from IMDB-5000's movie_metadata.csv, joined by title + year). Every encoder, vocabulary
and track record is fit on the training films of the split; class edges are equal-frequency quantiles
of the training films' revenue. The model is scikit-learn's HistGradientBoostingClassifier,
early-stopped on the validation films' log-loss, unweighted; scores are on the test films.
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
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402

from reelcast.config import SPLITS, DataConfig, TabularConfig  # noqa: E402
from reelcast.data import tabular  # noqa: E402
from reelcast.data.classes import assign_classes, constant_dollar_revenue, fit_quantile_thresholds  # noqa: E402
from reelcast.data.splits import make_date_split, make_folds, make_split, revenue_strata  # noqa: E402
from reelcast.data.table import load_films  # noqa: E402
from reelcast.evaluation.metrics import accuracy, one_away_accuracy, qwk  # noqa: E402
from reelcast.features.tabular import PRE_RELEASE, TabularEncoder  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
TMDB = SHARED / "data/tmdb_5000/tmdb_5000_movies.csv"
PEOPLE = SHARED / "data/imdb_5000_movie_metadata/movie_metadata.csv"
# The table-only groups; the people track record (which needs --people) gets rows of its own.
GROUPS = [g for g in tabular.GROUPS if g != "people"]


def column_sets() -> list[tuple[str, list[str]]]:
    """(row name, columns) in print order."""
    old = list(PRE_RELEASE)
    rows = [("seed columns (year, runtime, budget, month, genres)", old)]
    rows += [(f"  + {g}", [*old, g]) for g in GROUPS]
    rows += [("  + people", [*old, "people"])]
    rows += [("  + all groups", [*old, *GROUPS])]
    rows += [("  + all groups + people", [*old, *GROUPS, "people"])]
    return rows


def score(films, split, columns, revenue, seed: int, extra: np.ndarray | None = None) -> dict[str, float]:
    """Fit encoder + trees on the split's training films; exact / 1-away / QWK on its test films.

    `extra`: more feature columns (one row per film) appended to the encoder's, e.g. trailer vectors.
    """
    edges = fit_quantile_thresholds(revenue[split.train])
    y = assign_classes(revenue, edges)
    enc = TabularEncoder(columns, settings=TabularConfig()).fit(films.iloc[split.train])
    X, _ = enc.transform(films)
    if extra is not None:
        X = np.concatenate([X, extra], axis=1)
    model = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_leaf_nodes=15,
        l2_regularization=1.0,
        max_iter=500,
        early_stopping=True,
        scoring="loss",
        n_iter_no_change=20,
        random_state=seed,
    )
    va = split.val[np.isin(y[split.val], np.unique(y[split.train]))]
    model.fit(X[split.train], y[split.train], X_val=X[va], y_val=y[va])
    pred = model.predict(X[split.test])
    t = y[split.test]
    return {
        "exact": accuracy(t, pred),
        "one_away": one_away_accuracy(t, pred),
        "qwk": qwk(t, pred),
        "dim": enc.dim,
    }


def main() -> None:
    """Print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="80-10-10", choices=list(SPLITS))
    ap.add_argument("--split-by", default="random", choices=["random", "date"])
    ap.add_argument("--constant-dollars", action="store_true")
    ap.add_argument("--cv", type=int, default=0, help="also K-fold CV (random folds only)")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    if not TMDB.exists():
        sys.exit(f"{TMDB} not found: this benchmark needs ../shared/data beside the repository")
    logging.basicConfig(level=logging.WARNING)
    table = load_films(TMDB, DataConfig(people=str(PEOPLE)))
    films = table.df
    join = table.report.people
    print(f"people join: {join['matched']} of {len(films)} films ({join['hit_rate']:.1%})")
    revenue = (
        constant_dollar_revenue(films) if args.constant_dollars else films["revenue_musd"].to_numpy(float)
    )
    strata = revenue_strata(revenue, 8)
    if args.split_by == "date":
        split = make_date_split(films, SPLITS[args.split], name=f"date-{args.split}")
    else:
        split = make_split(strata, SPLITS[args.split], args.seed, name=args.split)
    folds = make_folds(strata, args.cv, args.seed) if args.cv and args.split_by == "random" else []
    unit = "constant 2024 $" if args.constant_dollars else "nominal $"
    print(f"TMDB-5000, {len(films)} films, split {split.name} ({split.sizes()}), class edges in {unit}")
    head = f"{'columns':<52} {'dim':>4}  {'exact':>6} {'1-away':>6} {'QWK':>6}"
    if folds:
        head += f"   {args.cv}-fold CV exact / 1-away / QWK (mean +- std)"
    print(head)
    for name, cols in column_sets():
        t0 = time.perf_counter()
        r = score(films, split, cols, revenue, args.seed)
        line = f"{name:<52} {r['dim']:>4}  {r['exact']:6.3f} {r['one_away']:6.3f} {r['qwk']:6.3f}"
        if folds:
            cv = [score(films, f, cols, revenue, args.seed) for f in folds]
            line += "   " + " / ".join(
                f"{np.mean([c[k] for c in cv]):.3f}+-{np.std([c[k] for c in cv], ddof=1):.3f}"
                for k in ("exact", "one_away", "qwk")
            )
        print(line + f"   ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()

"""Which TMDB keywords are most associated with the revenue class, on training films only.

    python benchmarks/keyword_audit.py                 # TMDB-5000, split 80-10-10, seed 42, top 100
    python benchmarks/keyword_audit.py --top 150 --min-films 5

Keywords are crowd tags and some are written after release ("box office flop", "cult film", award
tags). Every keyword in at least --min-films training films becomes an indicator; the table ranks them by
mutual information with the 8 revenue classes (edges = the training films' quantiles), with each tag's
film count, the mean class of its films and whether features.leakage refuses it. A second table lists
every keyword the refusal rule matches, however rare, so the rule's reach can be checked. A third
table backs the `none_means_unknown` default: films whose TMDB list is empty against the rest, by
their TMDB vote count and how often their other crowd-filled fields (tagline, budget) are blank.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_selection import mutual_info_classif

from reelcast.config import SPLITS, DataConfig
from reelcast.data.classes import assign_classes, fit_quantile_thresholds
from reelcast.data.splits import make_split, revenue_strata
from reelcast.data.table import load_films
from reelcast.features.leakage import is_leaky_keyword

SHARED = Path(__file__).resolve().parents[2] / "shared"
TMDB = SHARED / "data/tmdb_5000/tmdb_5000_movies.csv"


def main() -> None:
    """Print the ranked keywords and the refused ones."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="80-10-10", choices=list(SPLITS))
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--top", type=int, default=100)
    ap.add_argument("--min-films", type=int, default=10)
    args = ap.parse_args()
    if not TMDB.exists():
        sys.exit(f"{TMDB} not found: this audit needs ../shared/data beside the repository")
    films = load_films(TMDB, DataConfig()).df
    revenue = films["revenue_musd"].to_numpy(float)
    split = make_split(revenue_strata(revenue, 8), SPLITS[args.split], args.seed, name=args.split)
    train = films.iloc[split.train]
    y = assign_classes(revenue[split.train], fit_quantile_thresholds(revenue[split.train]))
    lists = [list(dict.fromkeys(k)) for k in train["keywords"]]
    counts = Counter(k for ks in lists for k in ks)
    vocab = sorted(k for k, n in counts.items() if n >= args.min_films)
    index = {k: j for j, k in enumerate(vocab)}
    X = np.zeros((len(lists), len(vocab)), dtype=np.int8)
    for i, ks in enumerate(lists):
        for k in ks:
            if k in index:
                X[i, index[k]] = 1
    mi = mutual_info_classif(X, y, discrete_features=True, random_state=args.seed)
    order = np.argsort(-mi, kind="stable")[: args.top]
    print(
        f"TMDB-5000 training films of split {split.name} seed {args.seed}: {len(lists)} films, "
        f"{len(vocab)} keywords in >= {args.min_films} of them; mean class of all films {y.mean():.2f}"
    )
    print(f"{'rank':>4}  {'keyword':<32} {'films':>5} {'MI (nats)':>9} {'mean class':>10}  refused")
    for r, j in enumerate(order, 1):
        has = X[:, j] == 1
        flag = "REFUSED" if is_leaky_keyword(vocab[j]) else ""
        print(f"{r:>4}  {vocab[j]:<32} {has.sum():>5} {mi[j]:>9.4f} {y[has].mean():>10.2f}  {flag}")
    all_lists = [list(dict.fromkeys(k)) for k in films["keywords"]]
    all_counts = Counter(k for ks in all_lists for k in ks)
    refused = sorted((k for k in all_counts if is_leaky_keyword(k)), key=lambda k: (-all_counts[k], k))
    print(f"\nkeywords the refusal rule matches in all {len(films)} films ({len(refused)}):")
    for k in refused:
        train_has = np.array([k in ks for ks in lists])
        mean = f"{y[train_has].mean():.2f}" if train_has.any() else "-"
        print(f"  {k:<40} {all_counts[k]:>4} films, training mean class {mean}")
    empty_lists()


def empty_lists() -> None:
    """How the films with an empty TMDB list differ from the rest (films with revenue only)."""
    raw = pd.read_csv(TMDB)
    raw = raw[raw["revenue"] > 0]
    print(f"\nempty TMDB lists among the {len(raw)} films with revenue (vote_count is read only here):")
    print(
        f"{'column':<22} {'empty':>5}  {'median votes empty/rest':>23}  {'no tagline':>12}  {'budget 0':>11}"
    )
    for col in ("keywords", "production_companies", "production_countries", "genres"):
        empty = raw[col].map(lambda s: len(json.loads(s)) == 0).to_numpy()
        votes = f"{raw['vote_count'][empty].median():.0f} / {raw['vote_count'][~empty].median():.0f}"
        tag = raw["tagline"].isna().to_numpy()
        zero = (raw["budget"] == 0).to_numpy()
        print(
            f"{col:<22} {empty.sum():>5}  {votes:>23}  {tag[empty].mean():>5.0%} / {tag[~empty].mean():>3.0%}"
            f"  {zero[empty].mean():>4.0%} / {zero[~empty].mean():>3.0%}"
        )


if __name__ == "__main__":
    main()

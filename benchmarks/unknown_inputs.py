"""Does a tree model survive test films that lack feature groups? Unknown-as-none vs unknown + group dropout.

    python benchmarks/unknown_inputs.py                  # TMDB-5000, split 80-10-10, seed 42
    python benchmarks/unknown_inputs.py --dropout 0.3 --seed 7

Plain scikit-learn HistGradientBoosting on TabularEncoder columns (every pre-release group TMDB-5000
has; no people table), trained on the split's training films with all inputs, scored on its test
films with some inputs taken away. Models (columns of the table):
  old   unknown as none: the test films' lost inputs arrive as empty lists / strings, which is what a
        table without the column gives today, and empty means "none" (none_means_unknown off)
  new   unknown kept apart (none_means_unknown on), trees read NaN; no dropout
  new+d the same, trained with group dropout: every input made unknown for --dropout of the training
        films, independently (features.tabular.TabularEncoder.group_dropout)
  off+d none_means_unknown off, with group dropout (to choose the default)
  own   trees trained without the lost inputs at all (the honest score for that input set)
Scores: exact / 1-away / QWK of the argmax class on the test films. Class edges are equal-frequency
quantiles of the training films' revenue.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402

from reelcast.config import SPLITS, DataConfig, TabularConfig  # noqa: E402
from reelcast.data.classes import assign_classes, fit_quantile_thresholds  # noqa: E402
from reelcast.data.splits import make_split, revenue_strata  # noqa: E402
from reelcast.data.table import load_films  # noqa: E402
from reelcast.evaluation.metrics import accuracy, one_away_accuracy, qwk  # noqa: E402
from reelcast.features.tabular import TabularEncoder, default_columns  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
TMDB = SHARED / "data/tmdb_5000/tmdb_5000_movies.csv"
# Rows: the inputs the test films lose. "basic" keeps what a studio always has for an upcoming film:
# title, plot, budget, genres, release date, runtime.
LOSSES = {
    "nothing lost": [],
    "- companies": ["companies"],
    "- keywords": ["keywords"],
    "- language": ["language"],
    "- companies, keywords, language": ["companies", "keywords", "language"],
    "basic columns only": ["companies", "keywords", "language", "countries", "collection"],
}
_EMPTY = {"companies": list, "keywords": list, "countries": list, "language": str, "collection": str}


def lose(films: pd.DataFrame, inputs: list[str], as_none: bool) -> pd.DataFrame:
    """The films without these inputs: empty lists/strings (as_none, today's table) or None cells."""
    out = films.copy()
    for i in inputs:
        out[i] = [_EMPTY[i]() if as_none else None for _ in range(len(out))]
    return out


def fit_trees(X: np.ndarray, y: np.ndarray, split, seed: int) -> HistGradientBoostingClassifier:
    """The plain GBM of benchmarks/tabular_features.py, early-stopped on the validation films."""
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
    return model.fit(X[split.train], y[split.train], X_val=X[va], y_val=y[va])


def scores(y: np.ndarray, pred: np.ndarray) -> str:
    """exact / 1-away / QWK."""
    return f"{accuracy(y, pred):.3f} / {one_away_accuracy(y, pred):.3f} / {qwk(y, pred):.3f}"


def main() -> None:
    """Print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="80-10-10", choices=list(SPLITS))
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dropout", type=float, default=0.3)
    args = ap.parse_args()
    if not TMDB.exists():
        sys.exit(f"{TMDB} not found: this benchmark needs ../shared/data beside the repository")
    logging.basicConfig(level=logging.ERROR)
    films = load_films(TMDB, DataConfig()).df
    revenue = films["revenue_musd"].to_numpy(float)
    split = make_split(revenue_strata(revenue, 8), SPLITS[args.split], args.seed, name=args.split)
    y = assign_classes(revenue, fit_quantile_thresholds(revenue[split.train]))
    columns = default_columns(films)
    train = films.iloc[split.train]
    test_y = y[split.test]
    print(f"TMDB-5000, {len(films)} films, split {split.name} {split.sizes()}, seed {args.seed}")
    print(f"columns: {', '.join(columns)}; group dropout {args.dropout:.0%} of training films per input")

    models = {}
    for name, none_unknown, dropout in (
        ("old", False, 0.0),
        ("new", True, 0.0),
        ("new+d", True, args.dropout),
        ("off+d", False, args.dropout),
    ):
        enc = TabularEncoder(columns, settings=TabularConfig(none_means_unknown=none_unknown)).fit(train)
        X = enc.encode(films)
        if dropout:
            rng = np.random.default_rng(args.seed)
            X[split.train] = enc.group_dropout(X[split.train], dropout, rng)
        models[name] = (enc, fit_trees(X, y, split, args.seed))

    head = f"{'test films lose':<32}" + "".join(f"{m:>22}" for m in [*models, "own"])
    print("exact / 1-away / QWK on the test films (argmax)")
    print(head)
    test = films.iloc[split.test]
    for row, lost in LOSSES.items():
        cells = []
        for name, (enc, model) in models.items():
            X = enc.encode(lose(test, lost, as_none=name == "old"))
            cells.append(scores(test_y, model.predict(X)))
        if lost:
            kept = films.drop(columns=lost)
            own_cols = default_columns(kept)
            enc = TabularEncoder(own_cols, settings=TabularConfig()).fit(kept.iloc[split.train])
            own = fit_trees(enc.encode(kept), y, split, args.seed)
            cells.append(scores(test_y, own.predict(enc.encode(kept.iloc[split.test]))))
        else:
            cells.append("(= new)")
        print(f"{row:<32}" + "".join(f"{c:>22}" for c in cells), flush=True)


if __name__ == "__main__":
    main()

"""Does a tree model survive test films that lack feature groups? Unknown-as-none vs unknown + group dropout.

    python benchmarks/unknown_inputs.py                  # TMDB-5000, split 80-10-10, seed 42
    python benchmarks/unknown_inputs.py --seeds 42 7 11 --dropout 0.3

Plain scikit-learn HistGradientBoosting on TabularEncoder columns (every pre-release group TMDB-5000
has; no people table), trained on the split's training films with all inputs, scored on its test
films with some inputs taken away. Models (columns of the table):
  old   reelcast's encoder before this change, read from git (OLD_COMMIT): the test films' lost
        inputs arrive as empty lists / strings, which is what a table without the column gives today
  none  unknown as none with today's encoder: none_means_unknown off, no dropout
  new   unknown kept apart (none_means_unknown on), trees read NaN; no dropout
  new+d the same, trained with group dropout: every input made unknown for --dropout of the training
        films, independently (features.tabular.TabularEncoder.group_dropout)
  off+d none_means_unknown off, with group dropout (to choose the default)
  new+do  group dropout of the optional inputs only (BASIC_INPUTS, which every film has, stay)
  off+do  the same with none_means_unknown off
  new+copy  every training film as it is plus a copy with each optional input dropped at 50 %
  fill, fill+do  new and new+do on the network's view (unknown = training mean + known columns), which
        reelcast's models read until the trees are given the NaN view
  own   trees trained without the lost inputs at all (the honest score for that input set)
Scores: exact / 1-away / QWK of the argmax class on the test films. Class edges are equal-frequency
quantiles of the training films' revenue.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import logging  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402

from reelcast.config import SPLITS, DataConfig, TabularConfig  # noqa: E402
from reelcast.data.classes import assign_classes, fit_quantile_thresholds  # noqa: E402
from reelcast.data.splits import make_split, revenue_strata  # noqa: E402
from reelcast.data.table import load_films  # noqa: E402
from reelcast.evaluation.evaluate import GBT_MAX_ITER, GBT_PARAMS  # noqa: E402
from reelcast.evaluation.metrics import accuracy, one_away_accuracy, qwk  # noqa: E402
from reelcast.features.tabular import BASIC_INPUTS, TabularEncoder, default_columns  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
# The last commit whose TabularEncoder encoded an absent column as "none" (empty list, missing flag).
OLD_COMMIT = "3ae028f"
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


def old_encoder():
    """The TabularEncoder class of OLD_COMMIT, loaded from this repository's git history."""
    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(
        ["git", "-C", str(root), "show", f"{OLD_COMMIT}:src/reelcast/features/tabular.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("old_tabular")
    sys.modules["old_tabular"] = module  # dataclasses look their module up by name
    exec(compile(source, f"{OLD_COMMIT}:tabular.py", "exec"), module.__dict__)
    return module.TabularEncoder


def fit_trees(X: np.ndarray, y: np.ndarray, split, seed: int) -> HistGradientBoostingClassifier:
    """The plain GBM of reelcast's baselines (unweighted), early-stopped on the validation films."""
    model = HistGradientBoostingClassifier(max_iter=GBT_MAX_ITER, random_state=seed, **GBT_PARAMS)
    va = split.val[np.isin(y[split.val], np.unique(y[split.train]))]
    return model.fit(X[split.train], y[split.train], X_val=X[va], y_val=y[va])


def scores(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """exact, 1-away, QWK."""
    return np.array([accuracy(y, pred), one_away_accuracy(y, pred), qwk(y, pred)])


def run(
    films: pd.DataFrame, seed: int, split_name: str, dropout: float, names: list[str]
) -> dict[tuple[str, str], np.ndarray]:
    """(loss row, model) -> exact, 1-away, QWK on one seeded split, for the named models."""
    revenue = films["revenue_musd"].to_numpy(float)
    split = make_split(revenue_strata(revenue, 8), SPLITS[split_name], seed, name=split_name)
    y = assign_classes(revenue, fit_quantile_thresholds(revenue[split.train]))
    columns = default_columns(films)
    train, test, test_y = films.iloc[split.train], films.iloc[split.test], y[split.test]
    out = {}
    if "old" in names:
        old = old_encoder()(columns).fit(train)
        model = fit_trees(old.transform(films)[0], y, split, seed)
        for row, lost in LOSSES.items():
            out[row, "old"] = scores(test_y, model.predict(old.transform(lose(test, lost, True))[0]))
    for name, none_unknown, how in MODELS:
        if name not in names or name == "old":
            continue
        enc = TabularEncoder(columns, settings=TabularConfig(none_means_unknown=none_unknown)).fit(train)
        fill = name in FILLED
        X, fit_split, fit_y = (enc.transform(films)[0] if fill else enc.encode(films)), split, y
        rng = np.random.default_rng(seed)
        optional = [i for i in enc.inputs if i not in BASIC_INPUTS]
        if how == "all":
            X[split.train] = enc.group_dropout(X[split.train], dropout, rng)
        elif how == "optional":
            X[split.train] = enc.group_dropout(X[split.train], dropout, rng, optional, fill=fill)
        elif how == "copy":  # every training film as it is, plus a copy with optional inputs dropped
            copy = enc.group_dropout(X[split.train], 0.5, rng, optional)
            X, fit_y = np.concatenate([X, copy]), np.concatenate([y, y[split.train]])
            extra = np.arange(len(films), len(X))
            fit_split = dataclasses.replace(split, train=np.concatenate([split.train, extra]))
        model = fit_trees(X, fit_y, fit_split, seed)
        for row, lost in LOSSES.items():
            lost_films = lose(test, lost, as_none=name == "none")
            X = enc.transform(lost_films)[0] if fill else enc.encode(lost_films)
            out[row, name] = scores(test_y, model.predict(X))
    for row, lost in LOSSES.items() if "own" in names else ():
        if not lost:
            out[row, "own"] = run(films, seed, split_name, dropout, ["new"])[row, "new"]
            continue
        kept = films.drop(columns=lost)
        enc = TabularEncoder(default_columns(kept), settings=TabularConfig()).fit(kept.iloc[split.train])
        own = fit_trees(enc.encode(kept), y, split, seed)
        out[row, "own"] = scores(test_y, own.predict(enc.encode(kept.iloc[split.test])))
    return out


MODELS = (
    ("old", False, None),
    ("none", False, None),
    ("new", True, None),
    ("new+d", True, "all"),
    ("off+d", False, "all"),
    ("new+do", True, "optional"),
    ("off+do", False, "optional"),
    ("new+copy", True, "copy"),
    ("fill", True, None),
    ("fill+do", True, "optional"),
)
# Models that read the network's view (`transform`: unknown = the training mean, plus known columns).
FILLED = ("fill", "fill+do")


def main() -> None:
    """Print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="80-10-10", choices=list(SPLITS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[42])
    ap.add_argument("--dropout", type=float, default=0.3)
    every = [m for m, _, _ in MODELS] + ["own"]
    ap.add_argument("--models", nargs="+", default=every, choices=every, help="columns to run (default all)")
    args = ap.parse_args()
    if not TMDB.exists():
        sys.exit(f"{TMDB} not found: this benchmark needs ../shared/data beside the repository")
    logging.basicConfig(level=logging.ERROR)
    films = load_films(TMDB, DataConfig()).df
    print(f"TMDB-5000, {len(films)} films, split {args.split}, seeds {' '.join(map(str, args.seeds))}")
    print(f"columns: {', '.join(default_columns(films))}")
    print(f"group dropout: {args.dropout:.0%} of training films per input, independently")
    names = [m for m in every if m in args.models]
    runs = [run(films, seed, args.split, args.dropout, names) for seed in args.seeds]
    stat = "mean over seeds" if len(runs) > 1 else "one split"
    print(f"exact / 1-away / QWK on the test films (argmax), {stat}")
    print(f"{'test films lose':<32}" + "".join(f"{m:>22}" for m in names))
    for row in LOSSES:
        cells = [np.mean([r[row, m] for r in runs], axis=0) for m in names]
        print(f"{row:<32}" + "".join(f"{c[0]:.3f} / {c[1]:.3f} / {c[2]:.3f}".rjust(22) for c in cells))
    if len(runs) > 1:
        print("QWK standard deviation over seeds")
        for row in LOSSES:
            sd = [np.std([r[row, m][2] for r in runs], ddof=1) for m in names]
            print(f"{row:<32}" + "".join(f"{v:>22.3f}" for v in sd))


if __name__ == "__main__":
    main()

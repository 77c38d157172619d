"""`reelcast train` end to end: one table, every split, a model and a report per split, a comparison.

run folder/
  config.toml              the resolved configuration
  report.html              everything below on one self-contained page (`reelcast report RUN` rebuilds it)
  table_report.json        rows read, kept, dropped (by reason), duplicates, trailer/media hit counts
  split_comparison.csv     one row per split, one column per metric
  split_70_20_10/          best_multimodal_model.pth, evaluation_results.json, training_curves.png,
                           confusion_matrix.png, split_ids.csv, ...
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import reelcast.reports.files as files
import reelcast.reports.split_files as split_files
import reelcast.training.distributed as distributed
from reelcast.config import SPLITS, Config, split_names
from reelcast.data.classes import (
    CLASS_NAMES,
    assign_classes,
    check_revenue_spread,
    check_thresholds,
    describe_thresholds,
)
from reelcast.data.cpi import base_year
from reelcast.data.pool import add_training_films, with_added_films
from reelcast.data.splits import Split, day_and_year, make_folds, make_split
from reelcast.data.table import FilmTable
from reelcast.evaluation.evaluate import CALIBRATION_NOTE, split_extras, test_intervals
from reelcast.evaluation.metrics import SCALAR_METRICS, classification_metrics
from reelcast.evaluation.stats import expected_calibration_error, mean_std
from reelcast.features.featurize import FilmInputs
from reelcast.models.network import softmax
from reelcast.predictor import RevenuePredictor, as_table
from reelcast.progress import Progress, watch_quiet
from reelcast.reports.labels import HEADLINE

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What `train` produced, for the CLI to print and tests to check."""

    out_dir: Path
    comparison: pd.DataFrame
    split_dirs: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    featurize_stats: dict[str, int] = field(default_factory=dict)


def split_dir_name(name: str) -> str:
    """`70-20-10` -> `split_70_20_10`; folds keep their name."""
    return f"split_{name.replace('-', '_')}" if name.removeprefix("date-") in SPLITS else name


@dataclass
class Outcome:
    """One split's fitted model and what it predicts for every film of the table."""

    split: Split
    predictor: RevenuePredictor
    film_ids: list[str]
    y: np.ndarray  # true class of every film
    inputs: FilmInputs  # the featurized films, as the featurizer gave them
    logits: np.ndarray  # the fusion network's, every film
    probs: np.ndarray  # final (blended) probabilities, every film
    pred: np.ndarray  # predicted class, every film


def fit_split(
    cfg: Config, table: FilmTable, inputs: FilmInputs, split: Split, base: RevenuePredictor, progress: bool
) -> Outcome:
    """Fit one split's model (every rank under torchrun) and predict every film once."""
    p = RevenuePredictor(cfg, progress=progress, featurizer=base.featurizer).fit(table, split, inputs)
    with Progress(len(inputs), f"predict every film {split.name}", "film", enabled=progress) as bar:
        model_inputs = p.shape_inputs(inputs, table.df)
        probs = p.proba(model_inputs)
        outcome = Outcome(
            split,
            p,
            inputs.film_ids,
            p.labels_for(table),
            inputs,
            p.logits(model_inputs),
            probs,
            p.decide(probs),
        )
        bar.update(len(inputs))
    return outcome


def split_metrics(o: Outcome, cfg: Config) -> dict[str, Any]:
    """Metrics on validation and test films, with bootstrap intervals and calibration for the test set."""
    out: dict[str, Any] = {}
    for part in ("val", "test"):
        idx = getattr(o.split, part)
        out[part] = classification_metrics(o.y[idx], o.pred[idx])
    te = o.split.test
    out["test_ci"] = test_intervals(o.y[te], o.pred[te], cfg)
    out["calibration"] = {
        "temperature": o.predictor.temperature_,
        "note": CALIBRATION_NOTE,
        "ece_test": expected_calibration_error(o.probs[te], o.y[te], cfg.eval.calibration_bins),
        "ece_test_uncalibrated": expected_calibration_error(
            softmax(o.logits[te]), o.y[te], cfg.eval.calibration_bins
        ),
    }
    return out


def run_train(cfg: Config, data: str | Path, out_dir: str | Path, progress: bool = True) -> RunSummary:
    """Train and evaluate on every configured split (or K folds) and write the whole report.

    Under torchrun every rank trains each split's model together (DDP); only rank 0 featurizes
    first, evaluates and writes, and the other ranks return an empty comparison.
    """
    with watch_quiet(progress and distributed.is_main()):  # a piped log never goes quiet
        return _run_train(cfg, data, out_dir, progress)


def _run_train(cfg: Config, data: str | Path, out_dir: str | Path, progress: bool) -> RunSummary:
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    main = distributed.is_main()
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        cfg.save(out_dir / "config.toml")

    base = RevenuePredictor(cfg, progress=progress and main)
    table = as_table(data, cfg)
    if main:
        files.write_json(out_dir / "table_report.json", table.report.to_dict())
    # Before featurizing: revenues that give one class cannot train (RevenuePredictor.fit checks each split).
    rev = table.df["revenue_musd"].to_numpy(dtype=np.float64)
    if cfg.labels.strategy == "quantile":
        check_revenue_spread(rev)
    elif np.unique(assign_classes(rev, check_thresholds(cfg.labels.thresholds))).size < 2:
        raise ValueError(
            "every film falls in one class under labels.thresholds; check the revenues and thresholds"
        )
    splits = make_splits(cfg, table, base)  # on the user's films alone; added films only ever train
    table, added = add_training_films(table, [as_table(path, cfg) for path in cfg.train.add_films])
    splits = [with_added_films(s, added, table.df, cfg.split.by == "date") for s in splits]
    t0 = time.perf_counter()
    if not main:
        distributed.barrier()  # rank 0 fills the feature store; the others then read it back
    inputs = base.featurize(table)
    if main:
        distributed.barrier()
    seconds = {"featurize": time.perf_counter() - t0}
    files.write_json(
        out_dir / "table_report.json", {**table.report.to_dict(), "media": media_summary(inputs, cfg)}
    )
    log.info(
        "features ready for %d films in %.1f s (%s)", len(inputs), seconds["featurize"], base.featurizer.stats
    )

    rows, dirs = [], {}
    for split in splits:
        t0 = time.perf_counter()
        outcome = fit_split(cfg, table, inputs, split, base, progress and main)  # every rank, data-parallel
        if not main:
            continue
        with distributed.solo():  # evaluation and baselines: rank 0 alone
            rows.append(evaluate_and_write(outcome, table, cfg, out_dir, progress))
        seconds[split.name] = time.perf_counter() - t0
        dirs[split.name] = out_dir / split_dir_name(split.name)
    if not main:
        return RunSummary(out_dir, pd.DataFrame(), {}, seconds, dict(base.featurizer.stats))
    return _finish(cfg, out_dir, rows, dirs, seconds, t_start, base)


def make_splits(cfg: Config, table: FilmTable, base: RevenuePredictor) -> list[Split]:
    """The configured splits: by date, K stratified folds, or the named stratified splits."""
    strata = base.strata(table)
    if cfg.split.by not in ("random", "date"):
        raise ValueError(f"split.by must be random or date, got {cfg.split.by!r}")
    if cfg.split.by == "date":  # train on the oldest films, test on the newest
        if cfg.split.cv and cfg.split.cv > 1:
            raise ValueError("--cv folds are random; they cannot be combined with --split-by date")
        return [base.default_split(table, n) for n in split_names(cfg.split.splits)]
    if cfg.split.cv and cfg.split.cv > 1:
        return make_folds(strata, cfg.split.cv, cfg.split.seed)
    return [make_split(strata, SPLITS[n], cfg.split.seed, name=n) for n in split_names(cfg.split.splits)]


def evaluate_and_write(
    o: Outcome, table: FilmTable, cfg: Config, out_dir: Path, progress: bool
) -> dict[str, Any]:
    """Evaluate one split's outcome, save its model and write its folder; returns its comparison row."""
    p, split = o.predictor, o.split
    sdir = out_dir / split_dir_name(split.name)
    with Progress(len(SCALAR_METRICS), f"test metrics and intervals {split.name}", "metric", progress) as bar:
        ev = split_metrics(o, cfg)
        bar.update(len(SCALAR_METRICS))
    model = p.describe()
    result = {
        "split": split.name,
        "sizes": split.sizes(),
        "class_names": CLASS_NAMES,
        "thresholds_musd": [float(t) for t in p.thresholds_],
        "thresholds_dollars": (
            f"constant {base_year()} US dollars (CPI-U)" if cfg.labels.constant_dollars else "nominal"
        ),
        "classes": describe_thresholds(p.thresholds_),
        "class_counts": p.class_counts_,
        "years": portion_years(table.df, split),
        "modalities": p.spec_.modalities,
        "encoder_ids": p.encoder_ids_,
        "media_mode": cfg.media.mode,
        "best_epoch": p.train_result_.best_epoch,
        "epochs_run": len(p.train_result_.history),
        "stopped_early": p.train_result_.stopped_early,
        "train_seconds": p.train_result_.seconds,
        **ev,
        "history": p.train_result_.history,
        "components": model["components"],
        "decision": model["decision"],
    }
    if p.leaky_columns_:
        result["leakage_warning"] = (
            f"post-release columns used as features: {', '.join(p.leaky_columns_)}; "
            "these scores are not achievable before release"
        )
    p.record_metrics({"test": {k: ev["test"][k] for k in SCALAR_METRICS}, "split": split.name})
    with Progress(1, f"save model {split.name}", "model", enabled=progress) as bar:
        p.save(sdir)
        bar.update()
    extras = split_extras(p, table, o.inputs, split, o.y, o.probs, cfg, progress=progress)
    result.update(extras.results)
    with Progress(1, f"write split folder {split.name}", "split", enabled=progress) as bar:
        split_files.write_split(
            sdir, result, extras, o.film_ids, split, o.y, o.pred, o.probs, p.temperature_, cfg.eval.confidence
        )
        bar.update()
    row = {
        "split": split.name,
        **{k: ev["test"][k] for k in SCALAR_METRICS},
        "test_films": len(split.test),
        "best_epoch": result["best_epoch"],
        "train_seconds": round(result["train_seconds"], 1),
    }
    log.info("split %s: test accuracy %.3f, macro-F1 %.3f", split.name, row["accuracy"], row["f1_macro"])
    return row


def _finish(cfg, out_dir, rows, dirs, seconds, t_start, base) -> RunSummary:
    """The comparison over splits (and the ablation summary), written once every split is done."""
    comparison = pd.DataFrame(rows)
    if cfg.split.cv and cfg.split.cv > 1:
        ms = mean_std([{k: r[k] for k in SCALAR_METRICS} for r in rows])
        comparison = pd.concat(
            [
                comparison,
                pd.DataFrame(
                    [
                        {"split": "mean", **{k: ms[k][0] for k in SCALAR_METRICS}},
                        {"split": "std", **{k: ms[k][1] for k in SCALAR_METRICS}},
                    ]
                ),
            ],
            ignore_index=True,
        )
    files.write_csv(out_dir / "split_comparison.csv", comparison)
    if cfg.eval.ablation:
        split_files.write_ablation_summary(out_dir, dirs, cv=bool(cfg.split.cv and cfg.split.cv > 1))
    from reelcast.reports.run_page import write_run_report

    try:
        write_run_report(out_dir)
    except Exception as e:  # the run's models and files are written; a page that fails must not undo that
        log.warning(
            "report.html not written (%s: %s); `reelcast report %s` retries it", type(e).__name__, e, out_dir
        )
    seconds["total"] = time.perf_counter() - t_start
    return RunSummary(out_dir, comparison, dirs, seconds, dict(base.featurizer.stats))


def media_summary(inputs: FilmInputs, cfg: Config) -> dict[str, Any]:
    """How many films have each modality, and the trailer statuses behind the missing ones."""
    from collections import Counter

    out: dict[str, Any] = {"mode": cfg.media.mode, "films": len(inputs)}
    for j, m in enumerate(inputs.modalities):
        out[m] = int(inputs.mask[:, j].sum())
    statuses = Counter(s.get("status", "?") for s in (inputs.status or []) if s)
    if statuses:
        out["statuses"] = dict(statuses.most_common())
    return out


def portion_years(films: pd.DataFrame, split: Split) -> dict[str, dict[str, int] | None]:
    """First and last release year of each portion's films, and how many have a year (None: none do)."""
    _, years = day_and_year(films)
    out: dict[str, dict[str, int] | None] = {}
    for part in ("train", "val", "test"):
        y = years[getattr(split, part)]
        y = y[np.isfinite(y)]
        out[part] = {"first": int(y.min()), "last": int(y.max()), "films": int(y.size)} if y.size else None
    return out


def comparison_text(comparison: pd.DataFrame) -> str:
    """The terminal table and a line naming the best split by test macro-F1."""
    cols = ["split", *HEADLINE, "test_films"]
    table = files.format_table(comparison[[c for c in cols if c in comparison]])
    fixed = comparison[~comparison["split"].isin(["mean", "std"])]
    best = fixed.loc[fixed["f1_macro"].idxmax()]
    return (
        f"{table}\n\nbest split by test macro-F1: {best['split']} ({best['f1_macro']:.3f}). "
        "With one seed the three splits share the same test films, so they differ only in how the "
        "rest is divided between training and validation; see the bootstrap intervals in each "
        "evaluation_results.json before reading much into the ranking."
    )

"""The ablation: the full model beside each of its components, single-modality fusion models, a
majority-class predictor and plain gradient-boosted trees on the metadata, all on the same split."""

from __future__ import annotations

import copy
import multiprocessing as mp
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reelcast.config import Config
from reelcast.data.classes import NUM_CLASSES
from reelcast.data.splits import Split
from reelcast.data.table import FilmTable
from reelcast.evaluation.metrics import metric_fns
from reelcast.evaluation.stats import bootstrap_ci, expected_calibration_error, mean_std
from reelcast.features.featurize import FilmInputs
from reelcast.features.tabular import check_leakage, default_columns
from reelcast.models.baselines import GBTBaseline, fit_gbt
from reelcast.models.gbm import openmp_threads_for
from reelcast.predictor import RevenuePredictor
from reelcast.progress import Progress

# Metrics of the ablation table, each with its bootstrap interval (all higher-is-better).
ABLATION_METRICS = ["accuracy", "f1_macro", "one_away_accuracy", "qwk"]
# How the sentences name a component; one without an entry is named by its own description.
COMPONENT_LABELS = {
    "fusion": "the fusion network alone (component of the full model)",
    "gbm_classifier": "the gradient-boosted tree classifier (component of the full model)",
    "gbm_regressor": "the gradient-boosted log-revenue regressor (component of the full model)",
}


@dataclass
class Candidate:
    """One model's predictions on the test films, for the ablation table and the significance tests."""

    key: str  # short id used in the CSVs: full, text_only, ..., majority, gbt_tabular
    label: str  # how the sentences name it
    modalities: list[str]
    pred: np.ndarray
    probs: np.ndarray
    seconds: float = 0.0
    note: str = ""


def fit_fusion_baseline(
    p: RevenuePredictor,
    table: FilmTable,
    inputs: FilmInputs,
    split: Split,
    cfg: Config,
    modalities: list[str],
    progress: bool = False,
) -> RevenuePredictor:
    """The fusion model with the run's settings, on the same split, restricted to some modalities."""
    cfg_b = copy.deepcopy(cfg)
    # Only the models that use metadata fit (and leak-check) a tabular encoder.
    cfg_b.tabular.use_in_fusion = "tabular" in modalities
    cfg_b.ensemble.enabled = "off"  # a baseline is the fusion network alone
    b = RevenuePredictor(cfg_b, progress=progress, featurizer=p.featurizer)  # nothing is encoded again
    b.fit(table, split, inputs, modalities=modalities)
    if not np.array_equal(b.thresholds_, p.thresholds_):
        raise RuntimeError(
            "a baseline was fit with different class thresholds; comparisons would be unpaired"
        )
    return b


_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros((0, NUM_CLASSES)))
# What the forked baseline workers fit from: set in the parent just before the fork, so the table and
# the features reach them as shared memory, never pickled.
_JOB: tuple | None = None


def baseline_workers(p: RevenuePredictor, films: int, cfg: Config, jobs: int) -> int:
    """Processes that fit the ablation's fusion baselines side by side.

    On small data a network's operations are too small to keep two threads busy (measured on 2 cores:
    the demo's ablation took 0.66x the time as two single-threaded processes), so below
    train.parallel_films films one forked process per core fits the baselines at once. Each fit seeds
    itself, so a baseline is the same model whichever process fits it (at the same thread count).
    """
    if jobs < 2 or cfg.train.threads or films >= cfg.train.parallel_films or str(p.device) != "cpu":
        return 1
    if "fork" not in mp.get_all_start_methods():
        return 1
    return max(1, min(jobs, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))


def _fit_one(
    p: RevenuePredictor,
    table: FilmTable,
    inputs: FilmInputs,
    split: Split,
    cfg: Config,
    mods: list[str],
    progress: bool = False,
) -> tuple[np.ndarray, float]:
    b = fit_fusion_baseline(p, table, inputs, split, cfg, mods, progress)
    return b.predict_proba(b.shape_inputs(inputs, table.df).subset(split.test)), b.train_result_.seconds


def _fit_in_worker(mods: list[str]) -> tuple[np.ndarray, float]:
    # Quiet: the parent's ablation bar speaks for the workers (two processes' lines would interleave).
    # One thread each: the workers already use every core.
    import torch

    torch.set_num_threads(1)
    return _fit_one(*_JOB, mods)


def fit_baselines(
    p: RevenuePredictor,
    table: FilmTable,
    inputs: FilmInputs,
    split: Split,
    cfg: Config,
    plan: list[Candidate],
    bar: Progress | None = None,
) -> Iterator[tuple[np.ndarray, float]]:
    """(test probabilities, training seconds) of each planned fusion baseline, in plan order.

    bar: the ablation's; while forked workers fit, it says every few seconds that the stage is alive.
    """
    global _JOB
    workers = baseline_workers(p, len(inputs), cfg, len(plan))
    if workers == 1:  # each fit's own training bar keeps a piped log alive
        for c in plan:
            yield _fit_one(p, table, inputs, split, cfg, c.modalities, bar is not None and bar.enabled)
        return
    _JOB = (p, table, inputs, split, cfg)
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            results = pool.imap(_fit_in_worker, [c.modalities for c in plan])
            for c in plan:
                while True:
                    try:
                        yield results.next(timeout=1.0)
                        break
                    except mp.TimeoutError:
                        if bar is not None:
                            bar.heartbeat(f"fitting {c.key} ({workers} processes)")
    finally:
        _JOB = None


def majority_baseline(y: np.ndarray, split: Split) -> tuple[np.ndarray, np.ndarray]:
    """The most frequent training class for every test film; the training class shares as probabilities."""
    counts = np.bincount(y[split.train], minlength=NUM_CLASSES)
    k = int(counts.argmax())  # ties go to the lowest class, so the choice is deterministic
    n = len(split.test)
    return np.full(n, k, dtype=np.int64), np.tile(counts / counts.sum(), (n, 1))


def tabular_columns(p: RevenuePredictor, table: FilmTable, cfg: Config) -> list[str]:
    """The metadata columns the tabular baselines use: the fused model's, else the run's (leak-checked)."""
    if p.tabular_ is not None:
        return list(p.tabular_.columns)
    cols = cfg.tabular.columns or default_columns(table.df)
    check_leakage(cols, list(table.schema.post_release_cols), cfg.tabular.allow_post_release)
    return cols


@dataclass
class Ablation:
    """Every model of one split's ablation, plus what the report says about the tabular ones."""

    candidates: list[Candidate]
    gbt: GBTBaseline | None = None
    tabular_columns: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def run_ablation(
    p: RevenuePredictor,
    table: FilmTable,
    inputs: FilmInputs,
    split: Split,
    y: np.ndarray,
    probs: np.ndarray,
    cfg: Config,
    progress: bool = False,
    bar: Progress | None = None,
) -> Ablation:
    """Train every baseline on the split the full model used and collect their test predictions.

    bar, when given, counts each finished model (its total is set here, once the plan is known).
    """
    te = split.test
    mods = list(p.spec_.modalities)
    full = Candidate(
        "full",
        f"the full model ({'+'.join(mods)})",
        mods,
        p.decide(probs[te]),
        probs[te],
        p.train_result_.seconds,
    )
    ab = Ablation([full])
    if p.ensemble_ is not None:  # each component of the blend on its own, as fitted inside the model
        comp = p.component_probs(p.shape_inputs(inputs, table.df).subset(te))
        weights = p.ensemble_.weights()
        for name, cp in comp.items():
            ab.candidates.append(
                Candidate(
                    f"component_{name}",
                    COMPONENT_LABELS.get(name, name),
                    mods,
                    cp.argmax(1),
                    cp,
                    note=f"blend weight {weights.get(name, 0.0):.2f}",
                )
            )
    columns = tabular_columns(p, table, cfg)
    ab.tabular_columns = columns

    singles = [m for m in ("text", "video", "audio") if m in mods]
    tick = bar.update if bar is not None else (lambda n=1: None)
    if bar is not None:
        bar.set_total((len(singles) if len(mods) > 1 else 0) + (2 if columns else 0) + 1)
    plan: list[Candidate] = []  # the fusion baselines to fit, predictions filled in below
    if len(mods) > 1:  # with one modality the full model already is that single-modality model
        for m in singles:
            if not inputs.mask[split.train, inputs.modalities.index(m)].any():
                ab.skipped[f"{m}_only"] = f"no training film has the {m} modality"
                tick()
                continue
            plan.append(Candidate(f"{m}_only", f"the {m}-only model", [m], *_EMPTY))
    if columns:
        note = f"columns: {', '.join(columns)}"
        plan.append(
            Candidate("tabular_only", "the tabular-only fusion model", ["tabular"], *_EMPTY, note=note)
        )
    else:
        why = "the table has no pre-release metadata columns with values"
        ab.skipped["tabular_only"] = ab.skipped["gbt_tabular"] = why
    for c, (bp, seconds) in zip(plan, fit_baselines(p, table, inputs, split, cfg, plan, bar), strict=True):
        c.pred, c.probs, c.seconds = bp.argmax(1), bp, seconds
        ab.candidates.append(c)
        tick()

    pred, prior = majority_baseline(y, split)
    ab.candidates.append(
        Candidate(
            "majority",
            "the majority-class predictor",
            [],
            pred,
            prior,
            0.0,
            f"always class {int(pred[0])}, the most frequent among training films",
        )
    )
    tick()

    if columns:
        # The full model's encoder was fit on the same training films with the same columns: reused.
        reuse = p.tabular_ if p.tabular_ is not None and list(p.tabular_.columns) == columns else None
        with openmp_threads_for(len(split.train), cfg.ensemble):
            ab.gbt = fit_gbt(table, split, y, columns, cfg.train.seed, cfg.tabular, encoder=reuse)
        X, _ = ab.gbt.encoder.transform(table.df.iloc[te])
        gp = ab.gbt.predict_proba(X)
        ab.candidates.append(
            Candidate(
                "gbt_tabular",
                "gradient-boosted trees on the metadata",
                ["tabular"],
                gp.argmax(1),
                gp,
                ab.gbt.seconds,
                ab.gbt.stopping,
            )
        )
        tick()
    return ab


def ablation_table(y_test: np.ndarray, candidates: list[Candidate], cfg: Config) -> pd.DataFrame:
    """One row per model: each metric with its bootstrap CI on the test films, and its probabilities' ECE."""
    fns = metric_fns()
    rows = []
    for c in candidates:
        row: dict[str, Any] = {
            "model": c.key,
            "modalities": "+".join(c.modalities) or "-",
            "test_films": len(y_test),
        }
        for m in ABLATION_METRICS:
            # Same resampling seed as the headline test_ci, so the full model's row repeats those numbers.
            point, lo, hi = bootstrap_ci(
                y_test,
                c.pred,
                fns[m],
                n_boot=cfg.eval.bootstrap,
                confidence=cfg.eval.confidence,
                seed=cfg.split.seed,
            )
            row[m], row[f"{m}_low"], row[f"{m}_high"] = point, lo, hi
        # Every model here outputs probabilities (the majority predictor: training class shares), so ECE
        # says how far its stated confidence is from its accuracy. Fusion models are temperature-scaled;
        # the trees are not.
        row["ece"] = expected_calibration_error(c.probs, y_test, cfg.eval.calibration_bins)
        row["train_seconds"] = round(c.seconds, 2)
        row["note"] = c.note
        rows.append(row)
    return pd.DataFrame(rows)


def summarize_ablations(tables: dict[str, pd.DataFrame], cv: bool = False) -> pd.DataFrame | None:
    """Every split's ablation rows in one table; with --cv also mean and std per model."""
    frames = [df.assign(split=name) for name, df in tables.items()]
    if not frames:
        return None
    df = pd.concat(frames, ignore_index=True)
    cols = [
        "split",
        "model",
        "modalities",
        "test_films",
        *[c for m in ABLATION_METRICS for c in (m, f"{m}_low", f"{m}_high")],
        "ece",
    ]
    df = df[cols]
    if cv:
        extra = []
        for model, g in df.groupby("model", sort=False):
            ms = mean_std([{m: r[m] for m in [*ABLATION_METRICS, "ece"]} for r in g.to_dict("records")])
            for stat, k in (("mean", 0), ("std", 1)):
                extra.append(
                    {
                        "split": stat,
                        "model": model,
                        "modalities": g["modalities"].iloc[0],
                        **{m: ms[m][k] for m in ms},
                    }
                )
        df = pd.concat([df, pd.DataFrame(extra)], ignore_index=True)
        df["test_films"] = df["test_films"].astype("Int64")  # blank, not NaN-as-float, on mean/std rows
    return df

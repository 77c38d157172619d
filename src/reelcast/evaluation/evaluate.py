"""What each split's report adds beyond the headline metrics.

    calibration.png              reliability diagram of the (temperature-scaled) test probabilities
    ablation.csv / ablation.png  the full model beside single-modality fusion models, a majority-class
                                 predictor and gradient-boosted trees on the metadata, same split
    permutation_importance.csv   drop in macro-F1 and accuracy when one metadata column is shuffled
and in evaluation_results.json: modality contributions, the ablation rows, paired significance tests
of the full model against every baseline, and plain-English sentences saying what they mean.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.utils.class_weight import compute_sample_weight

import reelcast.reports.files as reports
from reelcast.config import Config, TabularConfig
from reelcast.data.classes import NUM_CLASSES
from reelcast.data.splits import Split
from reelcast.data.table import FilmTable
from reelcast.evaluation.metrics import metric_fns
from reelcast.evaluation.stats import (
    bootstrap_ci,
    expected_calibration_error,
    mcnemar,
    mean_std,
    paired_bootstrap,
    reliability_curve,
    significance_sentence,
)
from reelcast.features.featurize import FilmInputs
from reelcast.features.tabular import TabularEncoder, check_leakage, default_columns
from reelcast.predictor import RevenuePredictor
from reelcast.progress import Progress
from reelcast.reports.labels import METRIC_LABELS

log = logging.getLogger(__name__)

# Metrics of the ablation table, each with its bootstrap interval (all higher-is-better).
ABLATION_METRICS = ["accuracy", "f1_macro", "one_away_accuracy", "qwk"]
COMPONENT_LABELS = {
    "fusion": "the fusion network alone (component of the full model)",
    "gbm_classifier": "the gradient-boosted tree classifier (component of the full model)",
    "gbm_regressor": "the gradient-boosted log-revenue regressor (component of the full model)",
}
# Sentences: exact-class accuracy (McNemar tests exactly that) and macro-F1 (what early stopping selects on).
SENTENCE_METRICS = ("accuracy", "f1_macro")
PERMUTATION_METRICS = ("f1_macro", "accuracy")

# Gradient-boosted trees on the metadata. Early stopping watches the class-weighted log-loss of the
# split's own validation films (never the test films), with up to GBT_MAX_ITER boosting rounds.
GBT_MAX_ITER = 500
GBT_PARAMS: dict[str, Any] = {
    "learning_rate": 0.05,
    "max_leaf_nodes": 15,
    "l2_regularization": 1.0,
    "early_stopping": True,
    "scoring": "loss",
    "n_iter_no_change": 20,
}
# Without usable validation films there is nothing to stop on: a fixed, modest number of rounds.
GBT_FIXED_ITER = 100


# ---- calibration ------------------------------------------------------------------------------------
def calibration_png(probs: np.ndarray, y: np.ndarray, n_bins: int, path: Path, title: str = "") -> dict:
    """Reliability diagram of the top-label confidence on the test films; returns the curve."""
    curve = reliability_curve(probs, y, n_bins)
    edges = np.asarray(curve["bin_edges"])
    centres = (edges[:-1] + edges[1:]) / 2
    acc = np.array([np.nan if a is None else a for a in curve["accuracy"]], dtype=float)
    conf = np.array([np.nan if c is None else c for c in curve["confidence"]], dtype=float)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.bar(
        centres,
        np.nan_to_num(acc),
        width=edges[1] - edges[0],
        alpha=0.6,
        edgecolor="black",
        label="accuracy in bin",
    )
    ax.plot(conf, acc, marker="o", color="C1", label="mean confidence vs accuracy")
    ax.set_xlabel("confidence of the predicted class")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    ax.set_title(title or "reliability diagram (test films)")
    reports.save_figure(fig, path)
    return curve


# ---- models of the ablation ---------------------------------------------------------------------------
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
class GBTBaseline:
    """Gradient-boosted trees on TabularEncoder features, fit on the training films of one split."""

    encoder: TabularEncoder
    model: HistGradientBoostingClassifier
    stopping: str
    seconds: float

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, 8) probabilities; classes absent from the training films get 0."""
        out = np.zeros((len(X), NUM_CLASSES))
        out[:, self.model.classes_] = self.model.predict_proba(X)
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class per row."""
        return self.predict_proba(X).argmax(1)


def fit_gbt(
    table: FilmTable,
    split: Split,
    y: np.ndarray,
    columns: list[str],
    seed: int,
    settings: TabularConfig | None = None,
) -> GBTBaseline:
    """HistGradientBoostingClassifier, class-balanced, early-stopped on the validation films' log-loss."""
    t0 = time.perf_counter()
    enc = TabularEncoder(columns, settings=settings or TabularConfig()).fit(table.df.iloc[split.train])
    X, _ = enc.transform(table.df)
    tr = split.train
    # Validation films of a class no training film has cannot be scored by the classifier; leave them out.
    va = split.val[np.isin(y[split.val], np.unique(y[tr]))]
    fit_kw: dict[str, Any] = {"sample_weight": compute_sample_weight("balanced", y[tr])}
    if len(va):
        model = HistGradientBoostingClassifier(max_iter=GBT_MAX_ITER, random_state=seed, **GBT_PARAMS)
        fit_kw.update(X_val=X[va], y_val=y[va], sample_weight_val=compute_sample_weight("balanced", y[va]))
    else:
        model = HistGradientBoostingClassifier(
            max_iter=GBT_FIXED_ITER, random_state=seed, **{**GBT_PARAMS, "early_stopping": False}
        )
    model.fit(X[tr], y[tr], **fit_kw)
    if len(va):
        stopping = (
            f"early stopping on the class-weighted log-loss of {len(va)} validation films: "
            f"{model.n_iter_} of at most {GBT_MAX_ITER} rounds"
        )
    else:
        stopping = f"no usable validation films: fixed {model.n_iter_} rounds"
    return GBTBaseline(enc, model, stopping, time.perf_counter() - t0)


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
    if len(mods) > 1:  # with one modality the full model already is that single-modality model
        for m in singles:
            if not inputs.mask[split.train, inputs.modalities.index(m)].any():
                ab.skipped[f"{m}_only"] = f"no training film has the {m} modality"
                tick()
                continue
            b = fit_fusion_baseline(p, table, inputs, split, cfg, [m], progress)
            bp = b.predict_proba(b.shape_inputs(inputs, table.df).subset(te))
            ab.candidates.append(
                Candidate(f"{m}_only", f"the {m}-only model", [m], bp.argmax(1), bp, b.train_result_.seconds)
            )
            tick()
    if columns:
        b = fit_fusion_baseline(p, table, inputs, split, cfg, ["tabular"], progress)
        bp = b.predict_proba(b.shape_inputs(inputs, table.df).subset(te))
        ab.candidates.append(
            Candidate(
                "tabular_only",
                "the tabular-only fusion model",
                ["tabular"],
                bp.argmax(1),
                bp,
                b.train_result_.seconds,
                f"columns: {', '.join(columns)}",
            )
        )
        tick()
    else:
        why = "the table has no pre-release metadata columns with values"
        ab.skipped["tabular_only"] = ab.skipped["gbt_tabular"] = why

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
        ab.gbt = fit_gbt(table, split, y, columns, cfg.train.seed, cfg.tabular)
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


def ablation_png(df: pd.DataFrame, path: Path, title: str = "", confidence: float = 0.95) -> None:
    """Grouped bars, one group per metric and one bar per model, with the bootstrap CIs as error bars."""
    n = len(df)
    x = np.arange(len(ABLATION_METRICS))
    width = 0.8 / max(n, 1)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.2 * len(ABLATION_METRICS) * max(n, 2) * 0.45 + 2), 4.5))
    for i, row in enumerate(df.to_dict("records")):
        vals = np.array([row[m] for m in ABLATION_METRICS])
        err = np.array(
            [
                [row[m] - row[f"{m}_low"] for m in ABLATION_METRICS],
                [row[f"{m}_high"] - row[m] for m in ABLATION_METRICS],
            ]
        )
        label = row["model"] if row["model"] != "full" else f"full ({row['modalities']})"
        ax.bar(x + (i - (n - 1) / 2) * width, vals, width, yerr=np.clip(err, 0, None), capsize=2, label=label)
    lows = df[[f"{m}_low" for m in ABLATION_METRICS]].to_numpy()
    ax.set_ylim(min(0.0, float(lows.min()) - 0.05), 1.0)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xticks(x, [METRIC_LABELS[m] for m in ABLATION_METRICS])
    ax.set_ylabel(f"test-set score (error bars: {100 * confidence:.0f}% bootstrap CI)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    ax.set_title(title or "ablation (test films)")
    reports.save_figure(fig, path)


# ---- significance -----------------------------------------------------------------------------------------
def significance(
    y_test: np.ndarray, full: Candidate, baselines: list[Candidate], cfg: Config
) -> dict[str, Any]:
    """Paired bootstrap per metric and McNemar's test, full model vs each baseline, with sentences."""
    fns = metric_fns()
    alpha = round(1.0 - cfg.eval.confidence, 10)  # 0.05, not 0.050000000000000044, in the report
    comparisons: dict[str, Any] = {}
    sentences: list[str] = []
    for b in baselines:
        paired = {
            m: paired_bootstrap(
                y_test,
                full.pred,
                b.pred,
                fns[m],
                n_boot=cfg.eval.bootstrap,
                confidence=cfg.eval.confidence,
                seed=cfg.split.seed,
            )
            for m in ABLATION_METRICS
        }
        mc = mcnemar(y_test, full.pred, b.pred)
        comparisons[b.key] = {
            "model": b.label,
            "paired_bootstrap": paired,
            "mcnemar": mc,
            # The rule significance_sentence states: CI of (full - baseline) above 0 and bootstrap p < alpha.
            "full_significantly_better": {
                m: bool(r["low"] > 0 and r["p_value"] < alpha) for m, r in paired.items()
            },
        }
        for m in SENTENCE_METRICS:
            sentences.append(
                significance_sentence(
                    full.label, b.label, m, paired[m], mc if m == "accuracy" else None, alpha=alpha
                )
            )
    return {
        "full_model": full.label,
        "alpha": alpha,
        "n_boot": cfg.eval.bootstrap,
        "test_films": int(len(y_test)),
        "multiple_comparisons": "none applied: each baseline and metric is tested on its own",
        "comparisons": comparisons,
        "sentences": sentences,
    }


# ---- permutation importance ---------------------------------------------------------------------------
def column_blocks(enc: TabularEncoder) -> dict[str, np.ndarray]:
    """Feature positions of each source column or feature group in the encoder's output."""
    blocks = enc.blocks()
    covered = sum(len(v) for v in blocks.values())
    if covered != enc.dim:
        raise ValueError(f"tabular feature layout changed: blocks cover {covered} of {enc.dim} features")
    return blocks


def tabular_presence(enc: TabularEncoder, X: np.ndarray) -> np.ndarray:
    """Which rows have any metadata, read back from encoded features exactly as `transform` decides it."""
    return enc.presence(X)


def permutation_importance(
    predict, X: np.ndarray, y: np.ndarray, blocks: dict[str, np.ndarray], repeats: int, seed: int
) -> list[dict[str, Any]]:
    """Drop in macro-F1 and accuracy when one column's features are shuffled across films (mean, std)."""
    fns = metric_fns()
    base_pred = predict(X)
    base = {m: fns[m](y, base_pred) for m in PERMUTATION_METRICS}
    rng = np.random.default_rng(seed)
    rows = []
    for col, idx in blocks.items():
        drops: dict[str, list[float]] = {m: [] for m in PERMUTATION_METRICS}
        for _ in range(repeats):
            Xp = X.copy()
            # The block moves as one: a film gets another film's whole genre set, value and missing flag.
            Xp[:, idx] = X[rng.permutation(len(X))][:, idx]
            pred = predict(Xp)
            for m in PERMUTATION_METRICS:
                drops[m].append(base[m] - fns[m](y, pred))
        row: dict[str, Any] = {"column": col, "features": len(idx), "repeats": repeats}
        for m in PERMUTATION_METRICS:
            row[f"{m}_baseline"] = base[m]
            row[f"{m}_drop_mean"] = float(np.mean(drops[m]))
            row[f"{m}_drop_std"] = float(np.std(drops[m], ddof=1)) if repeats > 1 else 0.0
        rows.append(row)
    return rows


def fusion_permutation(
    p: RevenuePredictor, te_inputs: FilmInputs, y_test: np.ndarray, cfg: Config
) -> list[dict]:
    """Permutation importance of each metadata column for a fusion model that has the tabular modality."""
    j = te_inputs.modalities.index("tabular")
    X = te_inputs.arrays["tabular"]

    def predict(Xp: np.ndarray) -> np.ndarray:
        x = copy.copy(te_inputs)
        x.arrays = {**te_inputs.arrays, "tabular": Xp}
        # A shuffled-in value can give a film without metadata some (and the reverse): the mask follows.
        x.mask = te_inputs.mask.copy()
        x.mask[:, j] = tabular_presence(p.tabular_, Xp)
        return p.decide(p.proba(x))

    return permutation_importance(
        predict, X, y_test, column_blocks(p.tabular_), cfg.eval.permutation_repeats, cfg.split.seed
    )


# ---- one split ---------------------------------------------------------------------------------------------
def contribution_summary(p: RevenuePredictor, inputs: FilmInputs, probs: np.ndarray) -> dict[str, Any]:
    """Per modality: mean drop in the predicted class's probability when masked, over films that have it."""
    contrib = p.contributions(inputs, probs)
    present = inputs.mask
    return {
        m: {
            "mean_drop_in_predicted_prob": float(contrib[present[:, j], j].mean())
            if present[:, j].any()
            else None,
            "films_with_modality": int(present[:, j].sum()),
        }
        for j, m in enumerate(inputs.modalities)
    }


def score_table(p: RevenuePredictor, data: Any) -> dict[str, Any]:
    """A fitted model on a table with revenue: every metric with its bootstrap CI, calibration and
    modality contributions, shaped like a split's evaluation_results.json (portion "test" = the table)."""
    from reelcast.data.classes import CLASS_NAMES, describe_thresholds
    from reelcast.evaluation.metrics import SCALAR_METRICS, classification_metrics
    from reelcast.evaluation.stats import reliability_curve
    from reelcast.models.network import softmax

    cfg = p.config
    inputs, table = p.prepare_inputs(data, require_revenue=True)
    y = p.labels_for(table)
    logits = p.logits(inputs)
    probs = softmax(logits, p.temperature_)
    pred = probs.argmax(1)
    fns = metric_fns()
    ci = {}
    for name in SCALAR_METRICS:
        point, lo, hi = bootstrap_ci(
            y, pred, fns[name], n_boot=cfg.eval.bootstrap, confidence=cfg.eval.confidence, seed=cfg.split.seed
        )
        ci[name] = {"point": point, "low": lo, "high": hi}
    return {
        "split": "scored table",
        "source": str(table.source),
        "sizes": {"films": len(y)},
        "class_names": CLASS_NAMES,
        "thresholds_musd": [float(t) for t in p.thresholds_],
        "classes": describe_thresholds(p.thresholds_),
        "class_counts": {"scored": np.bincount(y, minlength=NUM_CLASSES).tolist()},
        "modalities": list(p.spec_.modalities),
        "encoder_ids": dict(p.encoder_ids_),
        "media_mode": cfg.media.mode,
        "test": classification_metrics(y, pred),
        "test_ci": ci,
        "calibration": {
            "temperature": p.temperature_,
            "ece_test": expected_calibration_error(probs, y, cfg.eval.calibration_bins),
            "ece_test_uncalibrated": expected_calibration_error(
                softmax(logits), y, cfg.eval.calibration_bins
            ),
        },
        "reliability": reliability_curve(probs, y, cfg.eval.calibration_bins),
        "modality_contribution": contribution_summary(p, inputs, probs),
        "table_report": table.report.to_dict(),
    }


def split_extras(
    p: RevenuePredictor,
    table: FilmTable,
    inputs: FilmInputs,
    split: Split,
    y: np.ndarray,
    probs: np.ndarray,
    cfg: Config,
    sdir: Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Calibration, modality contributions, ablation, significance, permutation importance: one split."""
    te = split.test
    out: dict[str, Any] = {}
    out["reliability"] = calibration_png(
        probs[te],
        y[te],
        cfg.eval.calibration_bins,
        sdir / "calibration.png",
        f"test films, split {split.name} (temperature {p.temperature_:.2f})",
    )
    te_inputs = p.shape_inputs(inputs, table.df).subset(te)
    out["modality_contribution"] = contribution_summary(p, te_inputs, probs[te])

    perm: list[dict] = []
    if "tabular" in te_inputs.modalities:
        perm += [{"model": "full", **r} for r in fusion_permutation(p, te_inputs, y[te], cfg)]

    if cfg.eval.ablation:
        with Progress(None, f"ablation {split.name}", "model", enabled=progress) as bar:
            ab = run_ablation(p, table, inputs, split, y, probs, cfg, progress=False, bar=bar)
        # Bootstrap intervals and paired tests take as long as the ablation itself on small machines.
        with Progress(None, f"intervals and tests {split.name}", "model", enabled=progress) as bar:
            df = ablation_table(y[te], ab.candidates, cfg)
            sig = significance(y[te], ab.candidates[0], ab.candidates[1:], cfg)
            bar.update(len(ab.candidates))
        reports.write_csv(sdir / "ablation.csv", df)
        ablation_png(
            df, sdir / "ablation.png", f"ablation, test films of split {split.name}", cfg.eval.confidence
        )
        out["ablation"] = {
            "models": df.to_dict("records"),
            "tabular_columns": ab.tabular_columns,
            "leaky_columns": list(p.leaky_columns_),
            "skipped": ab.skipped,
            "gbt": {
                "estimator": "sklearn HistGradientBoostingClassifier",
                "params": GBT_PARAMS,
                "max_iter": GBT_MAX_ITER,
                "class_balanced_sample_weights": True,
                "random_state": cfg.train.seed,
                "stopping": ab.gbt.stopping,
            }
            if ab.gbt
            else None,
        }
        out["significance"] = sig
        if ab.gbt is not None:
            X, _ = ab.gbt.encoder.transform(table.df.iloc[te])
            rows = permutation_importance(
                ab.gbt.predict,
                X,
                y[te],
                column_blocks(ab.gbt.encoder),
                cfg.eval.permutation_repeats,
                cfg.split.seed,
            )
            perm += [{"model": "gbt_tabular", **r} for r in rows]
        log.info(
            "split %s ablation (test films):\n%s",
            split.name,
            reports.format_table(df[["model", *ABLATION_METRICS, "ece"]]),
        )
        for s in out["significance"]["sentences"]:
            log.debug("%s", s)

    if perm:
        reports.write_csv(sdir / "permutation_importance.csv", pd.DataFrame(perm))
        out["permutation_importance"] = perm
    return out


# ---- across splits ----------------------------------------------------------------------------------------
def write_ablation_summary(
    out_dir: Path, split_dirs: dict[str, Path], cv: bool = False
) -> pd.DataFrame | None:
    """ablation_summary.csv: every split's ablation rows; with --cv also mean and std per model."""
    frames = []
    for name, sdir in split_dirs.items():
        path = Path(sdir) / "ablation.csv"
        if path.exists():
            frames.append(pd.read_csv(path, keep_default_na=False).assign(split=name))
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
            extra.append(
                {
                    "split": "mean",
                    "model": model,
                    "modalities": g["modalities"].iloc[0],
                    **{m: ms[m][0] for m in ms},
                }
            )
            extra.append(
                {
                    "split": "std",
                    "model": model,
                    "modalities": g["modalities"].iloc[0],
                    **{m: ms[m][1] for m in ms},
                }
            )
        df = pd.concat([df, pd.DataFrame(extra)], ignore_index=True)
        df["test_films"] = df["test_films"].astype("Int64")  # blank, not NaN-as-float, on mean/std rows
    reports.write_csv(Path(out_dir) / "ablation_summary.csv", df)
    return df

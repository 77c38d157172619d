"""`reelcast train`, `evaluate` and `report`: fit on a table, score a saved model, rewrite a run's page."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from reelcast.cli.options import (
    USER_ERRORS,
    CacheDirOpt,
    OfflineOpt,
    QuietOpt,
    RunOptions,
    SafetyOptions,
    TableOptions,
    TrustModifiedOpt,
    VerboseOpt,
    error_text,
    fail,
    load_saved_model,
    option,
    option_groups,
    setup_logging,
)
from reelcast.config import Config


@dataclass
class ModelOptions:
    """What is trained: splits, classes, modalities and their encoders."""

    text_model: str = option(None, "--text-model", help="Hugging Face id or local directory.")
    splits: str = option(None, "--splits", help="all | 70-20-10 | 75-15-10 | 80-10-10 (comma list).")
    cv: int = option(None, "--cv", help="Stratified K-fold cross-validation instead of fixed splits.")
    media: str = option(None, "--media", help="none | simulated | trailers")
    fusion: str = option(None, "--fusion", help="concat | attention")
    temporal: str = option(None, "--temporal", help="conv | gru | lstm")
    video_model: str = option(None, "--video-model", help="Frame encoder: hub id, directory, mobilenet_v2.")
    finetune_text: bool = option(False, "--finetune-text", help="Train the text model end to end.")
    labels: str = option(None, "--labels", help="quantile | thresholds")
    thresholds: str = option(None, "--thresholds", help="Seven ascending edges in millions (comma list).")
    tabular: str = option(
        None, "--tabular", help="Fuse metadata columns as a 4th modality: 'auto' or a comma list."
    )
    allow_post_release: bool = option(
        False, "--allow-post-release", help="Permit columns only known after release (leaks!)."
    )
    pure_network: bool = option(
        False, "--pure-network", help="The seed's fusion network alone: no trees, no metadata modality."
    )
    aux_targets: str = option(
        None,
        "--aux-targets",
        help="Post-release columns the network also learns to predict (never reads): a comma list or 'auto'.",
    )

    def flags(self) -> dict[str, Any]:
        """These flags as config keys (ValueError when --pure-network and --tabular are both given)."""
        flags = {
            "text.model": self.text_model,
            "split.splits": self.splits,
            "split.cv": self.cv,
            "media.mode": self.media,
            "model.fusion": self.fusion,
            "video.temporal": self.temporal,
            "video.model": self.video_model,
            "text.finetune": self.finetune_text or None,
            "labels.strategy": self.labels,
            "labels.thresholds": self.thresholds,
            "tabular.allow_post_release": self.allow_post_release or None,
            "model.aux_targets": self.aux_targets,
        }
        if self.pure_network:
            if self.tabular is not None:
                raise ValueError("--pure-network leaves metadata out; drop --tabular or --pure-network")
            flags["ensemble.enabled"], flags["tabular.use_in_fusion"] = "off", False
        if self.tabular is not None:
            flags["tabular.use_in_fusion"] = True
            if self.tabular != "auto":
                flags["tabular.columns"] = self.tabular
        return flags


@dataclass
class ScheduleOptions:
    """How long and how fast the models train, the seed, and whether the comparison models train too."""

    epochs: int = option(None, "--epochs")
    patience: int = option(None, "--patience")
    batch_size: int = option(None, "--batch-size")
    lr: float = option(None, "--lr")
    seed: int = option(None, "--seed", help="Fixes splits, initialisation and sampling.")
    no_ablation: bool = option(False, "--no-ablation", help="Skip baselines and ablation models.")
    init: str = option(
        None, "--init", help="Start the fusion network from a saved model's layers (a split folder or base)."
    )
    freeze_epochs: int = option(
        None, "--freeze-epochs", help="With --init: epochs the transferred layers stay fixed first."
    )
    add_films: list[str] = option(
        None,
        "--add-films",
        help="Another film table whose films join the training films only (repeatable): never "
        "validation, test or class edges; films your table holds are left out.",
    )

    def flags(self) -> dict[str, Any]:
        """These flags as config keys (one seed for the splits and the training)."""
        return {
            "train.epochs": self.epochs,
            "train.patience": self.patience,
            "train.batch_size": self.batch_size,
            "train.lr": self.lr,
            "train.seed": self.seed,
            "split.seed": self.seed,
            "eval.ablation": False if self.no_ablation else None,
            "train.init": self.init,
            "train.freeze_epochs": self.freeze_epochs,
            "train.add_films": list(self.add_films) if self.add_films else None,
        }


@dataclass
class InputOptions:
    """Inputs beyond the table (people, own features) and how time and money are read."""

    people: str = option(
        None, "--people", help="Director + top cast per film (by id, or title + year): track-record features."
    )
    features: str = option(
        None, "--features", help="Your per-film vectors keyed by film id (Parquet, CSV, NPZ/NPY): a modality."
    )
    split_by: str = option(None, "--split-by", help="random | date (train oldest, test newest).")
    constant_dollars: bool = option(
        False, "--constant-dollars", help="Cut classes on revenue in constant (CPI-U) dollars."
    )

    def flags(self) -> dict[str, Any]:
        """These flags as config keys."""
        return {
            "data.people": self.people,
            "data.features": self.features,
            "split.by": self.split_by,
            "labels.constant_dollars": self.constant_dollars or None,
        }


@option_groups
def train(
    data: Path = typer.Option(..., "--data", help="Film table: CSV, TSV or Parquet."),
    out: Path = typer.Option(Path("runs/latest"), "--out", help="Run folder for models and reports."),
    *,
    model: ModelOptions,
    schedule: ScheduleOptions,
    offline: bool = OfflineOpt,
    cache_dir: str = CacheDirOpt,
    table: TableOptions,
    safety: SafetyOptions,
    inputs: InputOptions,
    run: RunOptions,
):
    """Train and evaluate on every split (or K folds) and write the report (RUN/report.html).

    Under `torchrun --nproc-per-node N -m reelcast.cli train ...` the N processes train each model
    together (DDP); rank 0 alone evaluates, writes and prints.
    """
    import reelcast.training.distributed as distributed

    progress = run.logging()
    if distributed.init_from_env() and not distributed.is_main():
        progress = setup_logging(False, quiet=True)
    try:
        flags = {
            **model.flags(),
            **schedule.flags(),
            "train.device": run.device,
            "media.offline": offline or None,
            "cache_dir": cache_dir,
            **table.flags(),
            **safety.flags(),
            **inputs.flags(),
        }
        run_and_print(run.build(flags), data, out, progress=progress)
    except USER_ERRORS as e:
        fail(error_text(e))
    finally:
        distributed.shutdown()


def run_and_print(cfg: Config, data: Path, out: Path, progress: bool) -> None:
    """Run the pipeline and print the split comparison (only that table when quiet)."""
    import reelcast.training.distributed as distributed
    from reelcast.experiment import comparison_text, run_train

    t0 = time.perf_counter()
    if cfg.train.init:  # before any featurizing: a source that cannot be used is refused at once
        from reelcast.models.transfer import check_source, load_source

        check_source(load_source(cfg.train.init), cfg)
    summary = run_train(cfg, data, out, progress=progress)
    if not distributed.is_main():
        return
    if progress:
        typer.echo(f"\nTest-set metrics per split ({cfg.media.mode} media, text model {cfg.text.model}):")
    typer.echo(comparison_text(summary.comparison))
    if not progress:
        return
    stats = summary.featurize_stats
    typer.echo(
        f"\ntext features: {stats.get('text_encoded', 0)} encoded, {stats.get('text_cached', 0)} "
        f"from the cache; featurize {summary.seconds['featurize']:.1f} s; "
        f"whole run {time.perf_counter() - t0:.1f} s"
    )
    typer.echo(f"report: {summary.out_dir / 'report.html'} (files: {summary.out_dir}/split_*/)")


@option_groups
def evaluate(
    model: Path = typer.Option(..., "--model", help="A split folder of a training run."),
    data: Path = typer.Option(..., "--data", help="Film table with revenue."),
    out: Path = typer.Option(
        None, "--out", help="Also write the scores: a report page (.html) or the metrics (.json)."
    ),
    offline: bool = OfflineOpt,
    cache_dir: str = CacheDirOpt,
    trust_modified: bool = TrustModifiedOpt,
    *,
    safety: SafetyOptions,
    run: RunOptions,
):
    """Score a trained model on a table (classes from the model's own thresholds)."""
    progress = run.logging()
    from reelcast.evaluation.metrics import SCALAR_METRICS
    from reelcast.reports.files import write_json

    page = out is not None and out.suffix.lower() in (".html", ".htm")
    try:
        p = load_saved_model(
            model, offline, cache_dir, safety, run, progress=progress, trust_modified=trust_modified
        )
        if page:
            from reelcast.evaluation.evaluate import score_table

            result = {**score_table(p, data), "model": str(model)}
            metrics = {**result["test"], "unknown_inputs": result["unknown_inputs"]}
        else:
            metrics = p.evaluate(data)
    except USER_ERRORS as e:
        fail(error_text(e))
    for k in SCALAR_METRICS:
        typer.echo(f"{k:>20}: {metrics[k]:.4f}")
    typer.echo(f"{'films':>20}: {metrics['n']}")
    for name, count in (metrics.get("unknown_inputs") or {}).items():
        typer.echo(f"{'unknown ' + name:>20}: {count} films")
    if page:
        from reelcast.reports.html import write_page
        from reelcast.reports.run_page import evaluation_page

        write_page(out, evaluation_page(result, f"reelcast evaluation: {Path(data).name}"))
        typer.echo(f"report: {out}")
    elif out:
        write_json(out, metrics)


def report(
    run: Path = typer.Argument(..., help="A run folder (the --out of train or demo), or one split folder."),
    open_: bool = typer.Option(False, "--open", help="Open the page in the default web browser."),
    verbose: bool = VerboseOpt,
    quiet: bool = QuietOpt,
):
    """Write RUN/report.html again from the run folder's files (one self-contained page)."""
    setup_logging(verbose, quiet)
    from reelcast.reports.run_page import write_run_report

    try:
        path = write_run_report(run)
    except USER_ERRORS as e:
        fail(error_text(e))
    typer.echo(f"report: {path}")
    if open_:
        import webbrowser

        if not webbrowser.open(path.resolve().as_uri()):
            typer.secho(
                f"warning: no web browser found here; open {path.resolve()} in one", fg="yellow", err=True
            )

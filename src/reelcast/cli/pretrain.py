"""`reelcast pretrain`: learn the fusion network's shared layers and a log-revenue tree regressor on several
film tables at once, and save a base model that `reelcast train --init` starts from."""

from __future__ import annotations

from pathlib import Path

import typer

from reelcast.cli.options import (
    USER_ERRORS,
    CacheDirOpt,
    OfflineOpt,
    RunOptions,
    error_text,
    fail,
    option_groups,
)


@option_groups
def pretrain(
    data: list[Path] = typer.Option(..., "--data", help="A film table (repeat for each: CSV, TSV, Parquet)."),
    out: Path = typer.Option(Path("base"), "--out", help="Folder of the base model."),
    text_model: str = typer.Option(None, "--text-model", help="Hugging Face id or local directory."),
    aux_targets: str = typer.Option(
        "auto", "--aux-targets", help="Post-release columns also learned ('auto', a comma list, or 'none')."
    ),
    val_fraction: float = typer.Option(0.1, "--val-fraction", help="Films held out for early stopping."),
    epochs: int = typer.Option(None, "--epochs"),
    seed: int = typer.Option(None, "--seed"),
    offline: bool = OfflineOpt,
    cache_dir: str = CacheDirOpt,
    *,
    run: RunOptions,
):
    """Fit the fusion network and log-revenue trees on every film of every --data table (each read with
    its own schema)."""
    progress = run.logging()
    from reelcast.data.pool import pool_tables, pretrain_split
    from reelcast.predictor import RevenuePredictor, as_table

    try:
        flags = {
            "text.model": text_model,
            "model.aux_targets": "" if aux_targets.lower() == "none" else aux_targets,
            "train.epochs": epochs,
            "train.seed": seed,
            "split.seed": seed,
            "train.device": run.device,
            "media.offline": offline or None,
            "cache_dir": cache_dir,
            # What --init carries over: the network, and the log-revenue trees as the target trees' prior
            # (the class trees would be fit for nothing: classes are the target table's own).
            "ensemble.components": ["fusion", "gbm_regressor"],
        }
        cfg = run.build(flags)
        tables = [as_table(path, cfg) for path in data]
        pooled = pool_tables(tables)
        p = RevenuePredictor(cfg, progress=progress)
        split = pretrain_split(p.label_revenue(pooled.df), val_fraction, cfg.split.seed)
        p.fit(pooled, split)
        p.record_metrics({"pretrained_on": [t.source for t in tables], "films": len(pooled.df)})
        p.save(out)
    except USER_ERRORS as e:
        fail(error_text(e))
    result = p.train_result_
    counts = ", ".join(f"{Path(t.source).name} {len(t.df)}" for t in tables)
    typer.echo(
        f"base model on {len(pooled.df)} films ({counts}); best epoch {result.best_epoch}, "
        f"validation macro-F1 {result.best_val_f1:.3f}; aux targets: "
        f"{', '.join(p.network.spec.aux_targets) or 'none'}"
    )
    typer.echo(f"saved: {out} (start from it with `reelcast train --init {out}`)")

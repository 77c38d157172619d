"""The `reelcast` command: demo, train, evaluate, predict, extract, serve, ab-report, report, config.

Every command builds one Config: defaults, then `--config run.toml`, then `--set section.key=value`,
then the named flags (which win). Commands that load a saved model start from the model's own
configuration instead, and apply only what the user gave explicitly (`model_overrides`).

The options shared by several commands are defined once below (ConfigOpt, SetOpt, DeviceOpt,
CacheDirOpt, VerboseOpt, QuietOpt): a new command reuses them so they mean the same everywhere
(tests/test_cli_options.py checks that).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import tomllib
import typer

from reelcast import __version__
from reelcast.config import Config

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    # One line per error (see `main`), not a page of framework traceback.
    pretty_exceptions_enable=False,
    help="Predict a film's box-office revenue class from its plot, trailer pictures and sound.",
)
log = logging.getLogger("reelcast")


# ---- shared option plumbing -----------------------------------------------------------------------
def setup_logging(verbose: bool, quiet: bool = False) -> bool:
    """Log to stderr: INFO by default, DEBUG with -v, WARNING with -q. Returns whether to show progress.

    Progress (reelcast.progress) is a live bar on a terminal and one INFO line per stage otherwise;
    -q hides both, so a quiet run prints only warnings, errors and the command's final result.
    """
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    # Third-party progress bars and chatter would bury reelcast's own progress output.
    for noisy in ("httpx", "urllib3", "huggingface_hub", "transformers", "filelock", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # transformers is a dependency; this only guards odd installs
        pass
    return not quiet


def build_config(config: Path | None, sets: list[str] | None, flags: dict[str, Any]) -> Config:
    """Defaults <- TOML file <- --set overrides <- named flags (None flags are left alone)."""
    if config and not Path(config).is_file():
        raise FileNotFoundError(f"{config}: no such config file; write one with `reelcast config > {config}`")
    cfg = Config.load(config) if config else Config()
    cfg.override(sets or [])
    nested: dict[str, Any] = {}
    for key, value in flags.items():
        if value is None:
            continue
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    cfg.update(nested)
    return cfg


def _flat_keys(d: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the leaves of a nested dict."""
    out = []
    for k, v in d.items():
        name = f"{prefix}{k}"
        out += _flat_keys(v, f"{name}.") if isinstance(v, dict) else [name]
    return out


def _pick(full: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """The nested sub-dict of `full` holding only the dotted `keys`."""
    out: dict[str, Any] = {}
    for key in keys:
        *parents, leaf = key.split(".")
        src, dst = full, out
        for part in parents:
            src = src[part]
            dst = dst.setdefault(part, {})
        dst[leaf] = src[leaf]
    return out


def model_overrides(config: Path | None, sets: list[str] | None, flags: dict[str, Any]) -> dict | None:
    """For commands that load a saved model: only the settings the user gave (TOML keys, --set, flags),
    validated like any config, to apply over the model's own configuration."""
    cfg = build_config(config, sets, flags)  # a bad key or value fails here with one clear line
    keys: list[str] = []
    if config:
        with Path(config).open("rb") as f:
            keys += _flat_keys(tomllib.load(f))
    keys += [s.split("=", 1)[0].strip() for s in sets or []]
    keys += [k for k, v in flags.items() if v is not None]
    return _pick(cfg.to_dict(), list(dict.fromkeys(keys))) or None


def error_text(e: BaseException) -> str:
    """An exception's message without the quotes str(KeyError) adds."""
    return str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)


def parse_meta(items: list[str] | None) -> dict[str, Any] | None:
    """`--meta key=value` pairs as a film's metadata (the API's FilmMetadata rules: bounded, no guessing)."""
    if not items:
        return None
    from reelcast.serving.metadata import FilmMetadata

    raw: dict[str, Any] = {}
    lists = {n for n, f in FilmMetadata.model_fields.items() if "list" in str(f.annotation)}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--meta {item!r}: expected key=value, e.g. budget_musd=150")
        raw[key] = [v.strip() for v in value.split(",") if v.strip()] if key in lists else value.strip()
    try:
        return FilmMetadata.model_validate(raw).fields()
    except ValueError as e:
        first = e.errors()[0] if hasattr(e, "errors") else {"loc": (), "msg": str(e)}
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise ValueError(f"--meta {where}: {first['msg']}") from None


def fail(message: str) -> None:
    """One clear line on stderr, exit status 2."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


# Errors a command reports as one line (anything else is a bug: `main` still prints one line).
USER_ERRORS = (ValueError, KeyError, FileNotFoundError, OSError, RuntimeError)

# ---- options shared by several commands: defined once so they mean the same everywhere ---------
ConfigOpt = typer.Option(
    None,
    "--config",
    help="TOML file of settings (see `reelcast config`); on a saved model its keys override the model's.",
)
SetOpt = typer.Option(None, "--set", help="Override one setting: section.key=value (repeatable).")
DeviceOpt = typer.Option(None, "--device", help="Where models run: auto | cpu | cuda.")
VerboseOpt = typer.Option(False, "--verbose", "-v", help="Debug logging.")
QuietOpt = typer.Option(
    False, "--quiet", "-q", help="Only warnings and the final result: no progress bars or stage lines."
)
OfflineOpt = typer.Option(False, "--offline", help="Use only trailers already downloaded.")
CacheDirOpt = typer.Option(
    None, "--cache-dir", help="Feature store and trailer cache folder (default .reelcast_cache)."
)
SHARED_OPTIONS = {
    "--config": ConfigOpt,
    "--set": SetOpt,
    "--device": DeviceOpt,
    "--cache-dir": CacheDirOpt,
    "--verbose": VerboseOpt,
    "--quiet": QuietOpt,
    "--offline": OfflineOpt,
}
TrailerColOpt = typer.Option(None, "--trailer-col", help="Column with trailer URLs, ids or file paths.")
TrailerMapOpt = typer.Option(None, "--trailer-map", help="MovieLens ml-youtube.csv to join trailers.")
TrailerLinksOpt = typer.Option(None, "--trailer-links", help="MovieLens links.csv (TMDb/IMDb ids).")
DecimalOpt = typer.Option(
    None, "--decimal", help="Decimal mark of revenue cells: '.' or ',' (default: refuse ambiguous 1,5)."
)
OutsidePathsOpt = typer.Option(
    False, "--allow-outside-paths", help="Read local trailer files outside the table's folder."
)


def table_safety_flags(decimal: str | None, allow_outside_paths: bool) -> dict[str, Any]:
    """--decimal and --allow-outside-paths as config keys."""
    return {"data.decimal": decimal, "media.allow_outside_paths": allow_outside_paths or None}


def data_flags(
    schema,
    text_col,
    revenue_col,
    trailer_col,
    id_col,
    zero_revenue_valid,
    skip_bad_rows,
    trailer_map,
    trailer_links,
) -> dict[str, Any]:
    """Named table flags as config keys."""
    return {
        "data.schema": schema,
        "data.text_col": text_col,
        "data.revenue_col": revenue_col,
        "data.trailer_col": trailer_col,
        "data.id_col": id_col,
        "data.zero_revenue_valid": zero_revenue_valid or None,
        "data.skip_bad_rows": skip_bad_rows or None,
        "data.trailer_map": trailer_map,
        "data.trailer_links": trailer_links,
    }


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"reelcast {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Predict a film's box-office revenue class from its plot, trailer pictures and sound."""


# ---- commands ------------------------------------------------------------------------------------------
@app.command()
def train(
    data: Path = typer.Option(..., "--data", help="Film table: CSV, TSV or Parquet."),
    out: Path = typer.Option(Path("runs/latest"), "--out", help="Run folder for models and reports."),
    text_model: str = typer.Option(None, "--text-model", help="Hugging Face id or local directory."),
    splits: str = typer.Option(None, "--splits", help="all | 70-20-10 | 75-15-10 | 80-10-10 (comma list)."),
    cv: int = typer.Option(None, "--cv", help="Stratified K-fold cross-validation instead of fixed splits."),
    media: str = typer.Option(None, "--media", help="none | simulated | trailers"),
    fusion: str = typer.Option(None, "--fusion", help="concat | attention"),
    temporal: str = typer.Option(None, "--temporal", help="conv | gru | lstm"),
    video_model: str = typer.Option(
        None, "--video-model", help="Frame encoder: hub id, directory, mobilenet_v2."
    ),
    finetune_text: bool = typer.Option(False, "--finetune-text", help="Train the text model end to end."),
    labels: str = typer.Option(None, "--labels", help="quantile | thresholds"),
    thresholds: str = typer.Option(
        None, "--thresholds", help="Seven ascending edges in millions (comma list)."
    ),
    tabular: str = typer.Option(
        None, "--tabular", help="Fuse metadata columns as a 4th modality: 'auto' or a comma list."
    ),
    allow_post_release: bool = typer.Option(
        False, "--allow-post-release", help="Permit columns only known after release (leaks!)."
    ),
    pure_network: bool = typer.Option(
        False, "--pure-network", help="The seed's fusion network alone: no trees, no metadata modality."
    ),
    epochs: int = typer.Option(None, "--epochs"),
    patience: int = typer.Option(None, "--patience"),
    batch_size: int = typer.Option(None, "--batch-size"),
    lr: float = typer.Option(None, "--lr"),
    seed: int = typer.Option(None, "--seed", help="Fixes splits, initialisation and sampling."),
    no_ablation: bool = typer.Option(False, "--no-ablation", help="Skip baselines and ablation models."),
    offline: bool = OfflineOpt,
    cache_dir: str = CacheDirOpt,
    schema: str = typer.Option(None, "--schema", help="auto | imdb1000 | tmdb5000 | generic"),
    text_col: str = typer.Option(None, "--text-col"),
    revenue_col: str = typer.Option(None, "--revenue-col"),
    trailer_col: str = TrailerColOpt,
    id_col: str = typer.Option(None, "--id-col"),
    zero_revenue_valid: bool = typer.Option(False, "--zero-revenue-valid", help="Keep films with revenue 0."),
    skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows", help="Drop malformed CSV rows (logged)."),
    trailer_map: str = TrailerMapOpt,
    trailer_links: str = TrailerLinksOpt,
    decimal: str = DecimalOpt,
    allow_outside_paths: bool = OutsidePathsOpt,
    people: str = typer.Option(
        None, "--people", help="Director + top cast per film (by id, or title + year): track-record features."
    ),
    features: str = typer.Option(
        None, "--features", help="Your per-film vectors keyed by film id (Parquet, CSV, NPZ/NPY): a modality."
    ),
    split_by: str = typer.Option(None, "--split-by", help="random | date (train oldest, test newest)."),
    constant_dollars: bool = typer.Option(
        False, "--constant-dollars", help="Cut classes on revenue in constant (CPI-U) dollars."
    ),
    device: str = DeviceOpt,
    config: Path = ConfigOpt,
    set_: list[str] = SetOpt,
    verbose: bool = VerboseOpt,
    quiet: bool = QuietOpt,
):
    """Train and evaluate on every split (or K folds) and write the report (RUN/report.html).

    Under `torchrun --nproc-per-node N -m reelcast.cli train ...` the N processes train each model
    together (DDP); rank 0 alone evaluates, writes and prints.
    """
    import reelcast.training.distributed as distributed

    progress = setup_logging(verbose, quiet)
    if distributed.init_from_env() and not distributed.is_main():
        quiet = True
        progress = setup_logging(False, quiet=True)
    flags = {
        "text.model": text_model,
        "split.splits": splits,
        "split.cv": cv,
        "media.mode": media,
        "model.fusion": fusion,
        "video.temporal": temporal,
        "video.model": video_model,
        "text.finetune": finetune_text or None,
        "labels.strategy": labels,
        "labels.thresholds": thresholds,
        "tabular.allow_post_release": allow_post_release or None,
        "train.epochs": epochs,
        "train.patience": patience,
        "train.batch_size": batch_size,
        "train.lr": lr,
        "train.seed": seed,
        "split.seed": seed,
        "train.device": device,
        "eval.ablation": False if no_ablation else None,
        "media.offline": offline or None,
        "cache_dir": cache_dir,
        **data_flags(
            schema,
            text_col,
            revenue_col,
            trailer_col,
            id_col,
            zero_revenue_valid,
            skip_bad_rows,
            trailer_map,
            trailer_links,
        ),
        **table_safety_flags(decimal, allow_outside_paths),
        # issue 8: people track record, bring-your-own features, date split, constant-dollar classes
        "data.people": people,
        "data.features": features,
        "split.by": split_by,
        "labels.constant_dollars": constant_dollars or None,
    }
    if pure_network:
        if tabular is not None:
            fail("--pure-network leaves metadata out; drop --tabular or --pure-network")
        flags["ensemble.enabled"], flags["tabular.use_in_fusion"] = "off", False
    if tabular is not None:
        flags["tabular.use_in_fusion"] = True
        if tabular != "auto":
            flags["tabular.columns"] = tabular
    try:
        cfg = build_config(config, set_, flags)
        run_and_print(cfg, data, out, progress=progress)
    except USER_ERRORS as e:
        fail(error_text(e))
    finally:
        distributed.shutdown()


def run_and_print(cfg: Config, data: Path, out: Path, progress: bool) -> None:
    """Run the pipeline and print the split comparison (only that table when quiet)."""
    import reelcast.training.distributed as distributed
    from reelcast.experiment import comparison_text, run_train

    t0 = time.perf_counter()
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


@app.command()
def evaluate(
    model: Path = typer.Option(..., "--model", help="A split folder of a training run."),
    data: Path = typer.Option(..., "--data", help="Film table with revenue."),
    out: Path = typer.Option(
        None, "--out", help="Also write the scores: a report page (.html) or the metrics (.json)."
    ),
    offline: bool = OfflineOpt,
    cache_dir: str = CacheDirOpt,
    decimal: str = DecimalOpt,
    allow_outside_paths: bool = OutsidePathsOpt,
    device: str = DeviceOpt,
    config: Path = ConfigOpt,
    set_: list[str] = SetOpt,
    verbose: bool = VerboseOpt,
    quiet: bool = QuietOpt,
):
    """Score a trained model on a table (classes from the model's own thresholds)."""
    progress = setup_logging(verbose, quiet)
    from reelcast.evaluation.metrics import SCALAR_METRICS
    from reelcast.predictor import RevenuePredictor
    from reelcast.reports.files import write_json

    page = out is not None and out.suffix.lower() in (".html", ".htm")
    try:
        flags = {
            "media.offline": offline or None,
            "cache_dir": cache_dir,
            **table_safety_flags(decimal, allow_outside_paths),
        }
        overrides = model_overrides(config, set_, flags)
        p = RevenuePredictor.load(model, device=device, overrides=overrides, progress=progress)
        if page:
            from reelcast.evaluation.evaluate import score_table

            result = {**score_table(p, data), "model": str(model)}
            metrics = result["test"]
        else:
            metrics = p.evaluate(data)
    except USER_ERRORS as e:
        fail(error_text(e))
    for k in SCALAR_METRICS:
        typer.echo(f"{k:>20}: {metrics[k]:.4f}")
    typer.echo(f"{'films':>20}: {metrics['n']}")
    if page:
        from reelcast.reports.html import write_page
        from reelcast.reports.run_page import evaluation_page

        write_page(out, evaluation_page(result, f"reelcast evaluation: {Path(data).name}"))
        typer.echo(f"report: {out}")
    elif out:
        write_json(out, metrics)


@app.command()
def predict(
    model: Path = typer.Option(..., "--model", help="A split folder of a training run."),
    description: str = typer.Option(None, "--description", help="The plot description."),
    description_file: Path = typer.Option(
        None, "--description-file", help="Read the description from a file."
    ),
    title: str = typer.Option("", "--title"),
    trailer: str = typer.Option(None, "--trailer", help="YouTube URL or id, media URL, or local file."),
    meta: list[str] = typer.Option(
        None,
        "--meta",
        help="One film's metadata, repeatable: budget_musd=150, release_date=2025-07-04, runtime=125, "
        "genres=Action,Adventure, director=..., cast=A,B, companies=..., keywords=..., language=en.",
    ),
    data: Path = typer.Option(None, "--data", help="A table of films to predict at once."),
    out: Path = typer.Option(
        None, "--out", help="With --data: write predictions (.csv with a .html page beside it, .html, .json)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    offline: bool = OfflineOpt,
    cache_dir: str = CacheDirOpt,
    decimal: str = DecimalOpt,
    allow_outside_paths: bool = OutsidePathsOpt,
    device: str = DeviceOpt,
    config: Path = ConfigOpt,
    set_: list[str] = SetOpt,
    verbose: bool = VerboseOpt,
    quiet: bool = QuietOpt,
):
    """Predict one new film (or a table of films)."""
    progress = setup_logging(verbose, quiet or as_json)
    from reelcast.predictor import RevenuePredictor

    if description_file is not None:
        try:
            description = description_file.read_text(encoding="utf-8")
        except OSError as e:
            fail(f"{description_file}: {e}")
    if data is None and description is None:
        fail("give --description (or --description-file) for one film, or --data for a table")
    try:
        flags = {
            "media.offline": offline or None,
            "cache_dir": cache_dir,
            **table_safety_flags(decimal, allow_outside_paths),
        }
        overrides = model_overrides(config, set_, flags)
        p = RevenuePredictor.load(model, device=device, overrides=overrides, progress=progress)
        if data is not None:
            df = p.predict(data)
            if out:
                written = write_predictions(df, out, model)
            if as_json:
                typer.echo(df.to_json(orient="records"))
            else:
                cols = ["film_id", "title", "class_name", "confidence", "modalities_used"]
                typer.echo(df[cols].to_string(index=False))
                if out:
                    typer.echo(f"predictions: {' and '.join(str(w) for w in written)}")
            return
        result = p.predict_film(description, title=title, trailer=trailer, metadata=parse_meta(meta))
    except USER_ERRORS as e:
        fail(error_text(e))
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(
        f"{title or 'film'}: {result['class_name']} (class {result['predicted_class']}, "
        f"p = {result['confidence']:.3f})"
    )
    for name, prob in result["probabilities"].items():
        typer.echo(f"  {name:>12} {prob:6.3f} {'#' * round(prob * 40)}")
    typer.echo("modality contributions (drop in the predicted class's probability when masked):")
    for m, c in result["contributions"].items():
        used = "" if result["modalities_used"][m] else "  (missing)"
        typer.echo(f"  {m:>8} {c:+.3f}{used}")
    for w in result["warnings"]:
        typer.secho(f"warning: {w}", fg=typer.colors.YELLOW, err=True)


def write_predictions(df, out: Path, model: Path) -> list[Path]:
    """Predictions as JSON (.json), a page (.html), or CSV with the same page beside it (anything else)."""
    from reelcast.files import atomic_write_text
    from reelcast.reports.html import write_page
    from reelcast.reports.run_page import predictions_page

    suffix = out.suffix.lower()
    if suffix == ".json":
        atomic_write_text(out, df.to_json(orient="records", indent=2))
        return [out]
    html = predictions_page(df, f"reelcast predictions: {out.stem}", model=str(model))
    if suffix in (".html", ".htm"):
        return [write_page(out, html)]
    atomic_write_text(out, df.to_csv(index=False))
    return [out, write_page(out.with_suffix(".html"), html)]


@app.command()
def extract(
    data: Path = typer.Option(..., "--data", help="Film table with a trailer column (or --trailer-map)."),
    video_model: str = typer.Option(
        None, "--video-model", help="Frame encoder: hub id, directory, mobilenet_v2."
    ),
    text_model: str = typer.Option(
        None, "--text-model", help="Also encode the descriptions with this model."
    ),
    offline: bool = OfflineOpt,
    cache_dir: str = CacheDirOpt,
    manifest: Path = typer.Option(None, "--manifest", help="Write each film's media status here (CSV)."),
    engine: str = typer.Option(None, "--engine", help="local | ray (Ray Data; needs the ray extra)."),
    address: str = typer.Option(
        None, "--address", help="--engine ray: auto | HOST:PORT of a running cluster (default: start one)."
    ),
    cookies: Path = typer.Option(None, "--cookies", help="yt-dlp cookies file of a signed-in session."),
    download_pause: float = typer.Option(
        None, "--download-pause", help="Seconds between download starts on each machine."
    ),
    trailer_col: str = TrailerColOpt,
    trailer_map: str = TrailerMapOpt,
    trailer_links: str = TrailerLinksOpt,
    decimal: str = DecimalOpt,
    allow_outside_paths: bool = OutsidePathsOpt,
    device: str = DeviceOpt,
    config: Path = ConfigOpt,
    set_: list[str] = SetOpt,
    verbose: bool = VerboseOpt,
    quiet: bool = QuietOpt,
):
    """Fetch, decode and encode every film's trailer into the feature cache (resumable)."""
    progress = setup_logging(verbose, quiet)
    from collections import Counter

    import pandas as pd

    from reelcast.features.featurize import Featurizer
    from reelcast.files import atomic_write_text
    from reelcast.media.engines import engine_for
    from reelcast.media.extract import extract_media
    from reelcast.predictor import as_table

    flags = {
        "video.model": video_model,
        "text.model": text_model,
        "media.offline": offline or None,
        "cache_dir": cache_dir,
        "media.mode": "trailers",
        "media.cookies": str(cookies) if cookies else None,
        "media.download_pause": download_pause,
        "scale.engine": engine,
        "scale.address": address,
        "train.device": device,
        **data_flags(None, None, None, trailer_col, None, None, None, trailer_map, trailer_links),
        **table_safety_flags(decimal, allow_outside_paths),
    }
    try:
        cfg = build_config(config, set_, flags)
        if cfg.media.cookies and not Path(cfg.media.cookies).is_file():
            raise ValueError(f"--cookies {cfg.media.cookies}: no such file")
        table = as_table(data, cfg, require_revenue=False)
        fz = Featurizer(cfg, cfg.train.device, progress=progress)
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        runner = engine_for(cfg)
        _, _, vmask, amask, statuses = extract_media(
            table.df, cfg, fz.store, lambda: fz.frame_encoder, progress, timings, engine=runner
        )
        if text_model:
            runner.encode_texts(table.df["text"].fillna("").astype(str).tolist(), cfg, fz.store)
            fz.text_features(table.df["text"].fillna("").astype(str).tolist())
    except USER_ERRORS as e:
        fail(error_text(e))
    total = time.perf_counter() - t0
    counts = Counter(s.get("status", "?") for s in statuses)
    typer.echo(
        f"{len(statuses)} films: video for {int(vmask.sum())}, audio for {int(amask.sum())}; "
        f"statuses: {', '.join(f'{k} {v}' for k, v in counts.most_common())}"
    )
    if timings:
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        typer.echo(f"time: {total:.1f} s wall; summed per stage (decode runs in parallel workers): {stages}")
    if manifest:
        rows = [
            {"film_id": f, "line": ln, "trailer": tr, **{k: v for k, v in s.items() if k != "warnings"}}
            for f, ln, tr, s in zip(
                table.df["film_id"], table.df["line"], table.df["trailer"], statuses, strict=True
            )
        ]
        atomic_write_text(manifest, pd.DataFrame(rows).to_csv(index=False))
        typer.echo(f"manifest: {manifest}")


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Run folder."),
    films: int = typer.Option(None, "--films", help="How many synthetic films."),
    no_media: bool = typer.Option(False, "--no-media", help="Skip rendering and decoding trailers."),
    seed: int = typer.Option(None, "--seed"),
    cache_dir: str = CacheDirOpt,
    device: str = DeviceOpt,
    config: Path = ConfigOpt,
    set_: list[str] = SetOpt,
    verbose: bool = VerboseOpt,
    quiet: bool = QuietOpt,
):
    """The whole path offline on a generated catalogue with tiny random encoders (no real accuracy)."""
    progress = setup_logging(verbose, quiet)
    from reelcast.data.demo import DemoSettings, prepare_demo

    settings = DemoSettings()
    if films is not None:
        settings.films = films
    if seed is not None:
        settings.seed = seed
    settings.media = not no_media
    if progress:
        typer.echo(
            "reelcast demo: a SYNTHETIC catalogue of films with generated plots and trailers, encoded by "
            "tiny randomly-initialised models. It exercises every step offline; its scores say nothing "
            "about real films. Run `reelcast train --data YOUR_TABLE.csv` for that."
        )
    try:
        # The user's settings go over the demo's own (both over the defaults).
        overrides = model_overrides(config, set_, {"train.device": device, "cache_dir": cache_dir})
        cfg, table_path = prepare_demo(out, settings, progress=progress)
        if overrides:
            cfg.update(overrides)
        run_and_print(cfg, table_path, out, progress=progress)
    except USER_ERRORS as e:
        fail(error_text(e))
    split_dir = next(iter(sorted(out.glob("split_*"))), None)
    if split_dir and progress:
        typer.echo(f'\nnext: reelcast predict --model {split_dir} --description "A heist crew..."')


@app.command("config")
def show_config(config: Path = ConfigOpt, set_: list[str] = SetOpt):
    """Print the resolved configuration as TOML (a starting point for --config)."""
    try:
        typer.echo(build_config(config, set_, {}).to_toml())
    except USER_ERRORS as e:
        fail(error_text(e))


@app.command()
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


@app.command()
def serve(
    model: list[str] = typer.Option(
        ..., "--model", help="A split folder of a training run; NAME=folder for each of several (A/B) arms."
    ),
    traffic: str = typer.Option(None, "--traffic", help="Share of films per arm, e.g. A=90,B=10."),
    shadow: bool = typer.Option(False, "--shadow", help="Every other arm also predicts each film (logged)."),
    log_db: str = typer.Option(
        None, "--log-db", help="Prediction log: SQLAlchemy URL or SQLite file (default: beside the model)."
    ),
    no_log: bool = typer.Option(False, "--no-log", help="Do not log predictions."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 = every interface)."),
    port: int = typer.Option(8000, "--port"),
    max_upload_mb: float = typer.Option(None, "--max-upload-mb", help="Largest trailer upload in MB (200)."),
    api_key: str = typer.Option(
        None,
        "--api-key",
        envvar="REELCAST_API_KEY",
        help="Require this key (X-API-Key or Authorization: Bearer) on /model and /predict*; 401 without it.",
    ),
    cors_origin: list[str] = typer.Option(
        None, "--cors-origin", help="Allow browser pages from this origin (repeatable); default: no CORS."
    ),
    trailer_host: list[str] = typer.Option(
        None,
        "--trailer-host",
        help="Only fetch media URLs from this host (repeatable; '.example.org' = it and its subdomains).",
    ),
    no_youtube: bool = typer.Option(False, "--no-youtube", help="Do not download YouTube trailers."),
    cache_dir: str = CacheDirOpt,
    device: str = DeviceOpt,
    config: Path = ConfigOpt,
    set_: list[str] = SetOpt,
    verbose: bool = VerboseOpt,
    quiet: bool = QuietOpt,
):
    """Serve the model(s) over HTTP: a web page at /, the JSON API at /predict, its docs at /docs."""
    setup_logging(verbose, quiet)
    import uvicorn

    from reelcast.serving.app import create_app
    from reelcast.serving.arms import ABSettings, parse_models
    from reelcast.serving.server import server_config
    from reelcast.serving.settings import ServeSettings

    try:
        limit = {"max_upload_mb": max_upload_mb} if max_upload_mb is not None else {}
        settings = ServeSettings(
            host=host,
            port=port,
            device=device,
            api_key=api_key,
            cors_origins=tuple(cors_origin or ()),
            trailer_hosts=tuple(trailer_host) if trailer_host else None,
            allow_youtube=not no_youtube,
            **limit,
        )
        overrides = model_overrides(config, set_, {"cache_dir": cache_dir})
        models = parse_models(model)
        if no_log and log_db:
            raise ValueError("--no-log and --log-db contradict each other; give one")
        db = None if no_log else log_db or str(models[0][1] / "predictions.sqlite")
        if db and not log_db and not os.access(models[0][1], os.W_OK):
            # A read-only model folder (a deployed image) must not stop a server that ran before logging.
            log.warning(
                "prediction log off: %s is not writable; pass --log-db to log elsewhere", models[0][1]
            )
            db = None
        ab = ABSettings(models=models, traffic=traffic, shadow=shadow, log_db=db, overrides=overrides or None)
        api = create_app(settings=settings, ab=ab)
    except USER_ERRORS as e:
        fail(error_text(e))
    shown = ", ".join(f"{a.name}={a.path} ({100 * a.share:g} %)" for a in api.state.arms.arms.values())
    typer.echo(f"reelcast: serving {shown} on http://{host}:{port}/ (API docs at /docs)", err=True)
    plog = api.state.arms.log
    typer.echo(f"reelcast: prediction log {plog.shown_url if plog else 'off'}", err=True)
    level = "debug" if verbose else "warning" if quiet else "info"
    uvicorn.Server(server_config(api, settings, log_level=level)).run()


@app.command("ab-report")
def ab_report(
    log_db: str = typer.Option(..., "--log-db", help="The prediction log: SQLAlchemy URL or SQLite file."),
    outcomes: Path = typer.Option(..., "--outcomes", help="Film table with the revenues (CSV/TSV/Parquet)."),
    out: Path = typer.Option(Path("ab_report"), "--out", help="Folder for the table, JSON and HTML page."),
    training: Path = typer.Option(
        None,
        "--training",
        help="The table the models were trained on (drift reference; split_ids.csv picks).",
    ),
    periods: str = typer.Option(None, "--periods", help="Drift periods: day | week | month | a count N."),
    bootstrap: int = typer.Option(None, "--bootstrap", help="Bootstrap resamples (1000)."),
    seed: int = typer.Option(None, "--seed"),
    config: Path = ConfigOpt,
    set_: list[str] = SetOpt,
    schema: str = typer.Option(None, "--schema", help="auto | imdb1000 | tmdb5000 | generic"),
    id_col: str = typer.Option(None, "--id-col"),
    revenue_col: str = typer.Option(None, "--revenue-col"),
    zero_revenue_valid: bool = typer.Option(False, "--zero-revenue-valid", help="Keep films with revenue 0."),
    verbose: bool = VerboseOpt,
    quiet: bool = QuietOpt,
):
    """Compare the served models on the revenues their films went on to earn; check inputs for drift."""
    setup_logging(verbose, quiet)
    from reelcast.evaluation.abtest import run_ab_report

    flags = {
        "ab.periods": periods,
        "ab.bootstrap": bootstrap,
        "ab.seed": seed,
        **data_flags(schema, None, revenue_col, None, id_col, zero_revenue_valid, None, None, None),
    }
    try:
        cfg = build_config(config, set_, flags)
        report = run_ab_report(log_db, outcomes, out, cfg, training=training)
    except (ValueError, KeyError, FileNotFoundError, OSError, RuntimeError) as e:
        fail(str(e))
    typer.echo(report.text)
    typer.echo(f"\nreport: {out}/ab_report.html, ab_report.csv, ab_report.json, drift.csv")


def main() -> None:
    """Console-script entry point: an unexpected exception is still one line (the traceback with -v)."""
    try:  # typer >= 0.20 carries its own copy of click; older typer uses click itself
        from typer._click import exceptions as click
    except ImportError:
        from click import exceptions as click

    try:
        code = app(prog_name="reelcast", standalone_mode=False)
    except click.NoArgsIsHelpError as e:  # bare `reelcast` or `reelcast CMD`: the help text
        typer.echo(e.ctx.get_help() if e.ctx else e.format_message(), err=True)
        sys.exit(2)
    except click.UsageError as e:  # missing or malformed option: one line, and where the help is
        where = e.ctx.command_path if e.ctx else "reelcast"
        typer.secho(f"error: {e.format_message()} (see `{where} --help`)", fg="red", err=True)
        sys.exit(2)
    except click.ClickException as e:
        typer.secho(f"error: {e.format_message()}", fg="red", err=True)
        sys.exit(e.exit_code)
    except typer.Abort:
        typer.secho("error: aborted; run the same command again to resume", fg="red", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        typer.secho("error: interrupted; run the same command again to resume", fg="red", err=True)
        sys.exit(130)
    except Exception as e:  # a bug, not bad input: say so in one line and how to see more
        if "-v" in sys.argv or "--verbose" in sys.argv:
            raise
        typer.secho(
            f"error: unexpected {type(e).__name__}: {e} (run again with -v for the traceback, and report it)",
            fg="red",
            err=True,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

"""`reelcast serve` and `ab-report`: serve saved models over HTTP, then compare them on real outcomes."""

from __future__ import annotations

from pathlib import Path

import typer

from reelcast.cli.options import (
    USER_ERRORS,
    CacheDirOpt,
    ConfigOpt,
    IdColOpt,
    QuietOpt,
    RevenueColOpt,
    RunOptions,
    SchemaOpt,
    SetOpt,
    TableOptions,
    TrustModifiedOpt,
    VerboseOpt,
    ZeroRevenueOpt,
    build_config,
    error_text,
    fail,
    option_groups,
    setup_logging,
)


@option_groups
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
    batch_window_ms: float = typer.Option(
        None,
        "--batch-window-ms",
        help="Collect concurrent requests this long into one model pass (5; 0 = score each alone).",
    ),
    batch_max_size: int = typer.Option(
        None, "--batch-max-size", help="The most requests scored in one model pass (16)."
    ),
    answer_cache_entries: int = typer.Option(
        None,
        "--answer-cache-entries",
        help="Answers kept for repeated requests without a trailer (1024; 0 = score every request).",
    ),
    trust_modified: bool = TrustModifiedOpt,
    cache_dir: str = CacheDirOpt,
    *,
    run: RunOptions,
):
    """Serve the model(s) over HTTP: a web page at /, the JSON API at /predict, its docs at /docs."""
    run.logging()
    import uvicorn

    from reelcast.serving.app import create_app
    from reelcast.serving.arms import ABSettings, parse_models
    from reelcast.serving.predlog import log_location
    from reelcast.serving.server import server_config
    from reelcast.serving.settings import ServeSettings

    try:
        # Flags left unset keep ServeSettings' defaults (the one place they are written).
        given = {
            "max_upload_mb": max_upload_mb,
            "batch_window_ms": batch_window_ms,
            "batch_max_size": batch_max_size,
            "answer_cache_entries": answer_cache_entries,
        }
        limit = {k: v for k, v in given.items() if v is not None}
        settings = ServeSettings(
            host=host,
            port=port,
            device=run.device,
            api_key=api_key,
            cors_origins=tuple(cors_origin or ()),
            trailer_hosts=tuple(trailer_host) if trailer_host else None,
            allow_youtube=not no_youtube,
            **limit,
        )
        overrides = run.overrides({"cache_dir": cache_dir})
        models = parse_models(model)
        if no_log and log_db:
            raise ValueError("--no-log and --log-db contradict each other; give one")
        db = None if no_log else log_location(log_db, models[0][1])
        ab = ABSettings(
            models=models,
            traffic=traffic,
            shadow=shadow,
            log_db=db,
            overrides=overrides or None,
            trust_modified=trust_modified,
        )
        api = create_app(settings=settings, ab=ab)
    except USER_ERRORS as e:
        fail(error_text(e))
    shown = ", ".join(f"{a.name}={a.path} ({100 * a.share:g} %)" for a in api.state.arms.arms.values())
    typer.echo(f"reelcast: serving {shown} on http://{host}:{port}/ (API docs at /docs)", err=True)
    plog = api.state.arms.log
    typer.echo(f"reelcast: prediction log {plog.shown_url if plog else 'off'}", err=True)
    level = "debug" if run.verbose else "warning" if run.quiet else "info"
    uvicorn.Server(server_config(api, settings, log_level=level)).run()


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
    schema: str = SchemaOpt,
    id_col: str = IdColOpt,
    revenue_col: str = RevenueColOpt,
    zero_revenue_valid: bool = ZeroRevenueOpt,
    verbose: bool = VerboseOpt,
    quiet: bool = QuietOpt,
):
    """Compare the served models on the revenues their films went on to earn; check inputs for drift."""
    setup_logging(verbose, quiet)
    from reelcast.evaluation.abtest import run_ab_report

    table = TableOptions(
        schema=schema, id_col=id_col, revenue_col=revenue_col, zero_revenue_valid=zero_revenue_valid
    )
    flags = {"ab.periods": periods, "ab.bootstrap": bootstrap, "ab.seed": seed, **table.flags()}
    try:
        cfg = build_config(config, set_, flags)
        report = run_ab_report(log_db, outcomes, out, cfg, training=training)
    except USER_ERRORS as e:
        fail(str(e))
    typer.echo(report.text)
    typer.echo(f"\nreport: {out}/ab_report.html, ab_report.csv, ab_report.json, drift.csv")

"""`reelcast extract`: fetch, decode and encode every film's trailer into the feature cache."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from reelcast.cli.options import (
    USER_ERRORS,
    CacheDirOpt,
    OfflineOpt,
    RunOptions,
    SafetyOptions,
    TableOptions,
    TrailerColOpt,
    TrailerLinksOpt,
    TrailerMapOpt,
    error_text,
    fail,
    option_groups,
)


@option_groups
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
    *,
    safety: SafetyOptions,
    run: RunOptions,
):
    """Fetch, decode and encode every film's trailer into the feature cache (resumable)."""
    progress = run.logging()
    from collections import Counter

    import pandas as pd

    from reelcast.features.featurize import Featurizer
    from reelcast.files import atomic_write_csv
    from reelcast.media.engines import engine_for
    from reelcast.media.extract import extract_media
    from reelcast.predictor import as_table

    table_flags = TableOptions(trailer_col=trailer_col, trailer_map=trailer_map, trailer_links=trailer_links)
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
        "train.device": run.device,
        **table_flags.flags(),
        **safety.flags(),
    }
    try:
        cfg = run.build(flags)
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
        atomic_write_csv(manifest, pd.DataFrame(rows))
        typer.echo(f"manifest: {manifest}")

"""`reelcast demo`: the whole path offline on a generated catalogue."""

from __future__ import annotations

from pathlib import Path

import typer

from reelcast.cli.options import USER_ERRORS, CacheDirOpt, RunOptions, error_text, fail, option_groups
from reelcast.cli.train import run_and_print


@option_groups
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Run folder."),
    films: int = typer.Option(None, "--films", help="How many synthetic films."),
    no_media: bool = typer.Option(False, "--no-media", help="Skip rendering and decoding trailers."),
    seed: int = typer.Option(None, "--seed"),
    cache_dir: str = CacheDirOpt,
    *,
    run: RunOptions,
):
    """The whole path offline on a generated catalogue with tiny random encoders (no real accuracy)."""
    progress = run.logging()
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
        overrides = run.overrides({"train.device": run.device, "cache_dir": cache_dir})
        cfg, table_path = prepare_demo(out, settings, progress=progress)
        if overrides:
            cfg.update(overrides)
        run_and_print(cfg, table_path, out, progress=progress)
    except USER_ERRORS as e:
        fail(error_text(e))
    split_dir = next(iter(sorted(out.glob("split_*"))), None)
    if split_dir and progress:
        typer.echo(f'\nnext: reelcast predict --model {split_dir} --description "A heist crew..."')

"""`reelcast config`: the resolved configuration as TOML."""

from __future__ import annotations

from pathlib import Path

import typer

from reelcast.cli.options import USER_ERRORS, ConfigOpt, SetOpt, build_config, error_text, fail


def show_config(config: Path = ConfigOpt, set_: list[str] = SetOpt):
    """Print the resolved configuration as TOML (a starting point for --config)."""
    try:
        typer.echo(build_config(config, set_, {}).to_toml())
    except USER_ERRORS as e:
        fail(error_text(e))

"""The `reelcast` command: demo, train, pretrain, evaluate, predict, whatif, extract, serve, ab-report,
report, config.

This module is the typer app and its entry point; each command group lives in its own module and the
options they share in `reelcast.cli.options`. Commands import their heavy dependencies (torch, pandas)
inside the function, so `reelcast --help` stays fast.
"""

from __future__ import annotations

import sys

import typer

from reelcast import __version__
from reelcast.cli import config, demo, extract, predict, pretrain, serve, train, whatif
from reelcast.cli.options import SHARED_OPTIONS, build_config, model_overrides

__all__ = ["SHARED_OPTIONS", "app", "build_config", "main", "model_overrides"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    # One line per error (see `main`), not a page of framework traceback.
    pretty_exceptions_enable=False,
    help="Predict a film's box-office revenue class from its plot, trailer pictures and sound.",
)


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


# In this order in `reelcast --help`.
app.command("train")(train.train)
app.command("pretrain")(pretrain.pretrain)
app.command("evaluate")(train.evaluate)
app.command("predict")(predict.predict)
app.command("whatif")(whatif.whatif)
app.command("extract")(extract.extract)
app.command("demo")(demo.demo)
app.command("config")(config.show_config)
app.command("report")(train.report)
app.command("serve")(serve.serve)
app.command("ab-report")(serve.ab_report)


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

"""The options several commands share, and the plumbing from flags to one Config.

Every command builds one Config: defaults, then `--config run.toml`, then `--set section.key=value`,
then the named flags (which win). Commands that load a saved model start from the model's own
configuration instead, and apply only what the user gave explicitly (`model_overrides`).

Shared options are defined once here (ConfigOpt, SetOpt, DeviceOpt, CacheDirOpt, VerboseOpt, QuietOpt)
so they mean the same on every command (tests/cli/test_cli_options.py checks that). Flags that travel
together are option groups: a dataclass whose fields are typer options (`option`, `shared`), taken by a
command decorated with `@option_groups` as one parameter.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import os
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib
import typer

from reelcast.config import Config

# Errors a command reports as one line (anything else is a bug: `main` still prints one line).
USER_ERRORS = (ValueError, KeyError, FileNotFoundError, OSError, RuntimeError)


# ---- logging and errors ------------------------------------------------------------------------
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
    if "transformers" in sys.modules:  # already loaded: tell it directly
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    else:  # read if and when a command imports transformers, so commands without it never pay for it
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    return not quiet


def error_text(e: BaseException) -> str:
    """An exception's message without the quotes str(KeyError) adds."""
    return str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)


def fail(message: str) -> typing.NoReturn:
    """One clear line on stderr, exit status 2."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


# ---- flags -> Config ---------------------------------------------------------------------------
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
        if key not in FilmMetadata.model_fields:
            accepted = ", ".join(FilmMetadata.model_fields)
            raise ValueError(f"--meta {key}: not a metadata field; the accepted keys are {accepted}")
        raw[key] = [v.strip() for v in value.split(",") if v.strip()] if key in lists else value.strip()
    try:
        return FilmMetadata.model_validate(raw).fields()
    except ValueError as e:
        first = e.errors()[0] if hasattr(e, "errors") else {"loc": (), "msg": str(e)}
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise ValueError(f"--meta {where}: {first['msg']}") from None


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
SchemaOpt = typer.Option(None, "--schema", help="auto | imdb1000 | tmdb5000 | generic")
IdColOpt = typer.Option(None, "--id-col")
RevenueColOpt = typer.Option(None, "--revenue-col")
ZeroRevenueOpt = typer.Option(False, "--zero-revenue-valid", help="Keep films with revenue 0.")
TrailerColOpt = typer.Option(None, "--trailer-col", help="Column with trailer URLs, ids or file paths.")
TrailerMapOpt = typer.Option(None, "--trailer-map", help="MovieLens ml-youtube.csv to join trailers.")
TrailerLinksOpt = typer.Option(None, "--trailer-links", help="MovieLens links.csv (TMDb/IMDb ids).")
DecimalOpt = typer.Option(
    None, "--decimal", help="Decimal mark of revenue cells: '.' or ',' (default: refuse ambiguous 1,5)."
)
# One film, as `predict` and `whatif` take it.
ModelOpt = typer.Option(..., "--model", help="A split folder of a training run.")
DescriptionOpt = typer.Option(None, "--description", help="The plot description.")
DescriptionFileOpt = typer.Option(None, "--description-file", help="Read the description from a file.")
TitleOpt = typer.Option("", "--title")
TrailerOpt = typer.Option(None, "--trailer", help="YouTube URL or id, media URL, or local file.")
MetaOpt = typer.Option(
    None,
    "--meta",
    help="One film's metadata, repeatable: budget_musd=150, release_date=2025-07-04, runtime=125, "
    "genres=Action,Adventure, director=..., cast=A,B, companies=..., keywords=..., language=en.",
)
DayFirstOpt = typer.Option(
    None,
    "--dayfirst/--monthfirst",
    help="Order of dates like 01/02/2010: day or month first (default: refuse one that reads both ways).",
)
TrustModifiedOpt = typer.Option(
    False, "--trust-modified", help="Load a saved model whose files no longer match their recorded digests."
)
OutsidePathsOpt = typer.Option(
    False, "--allow-outside-paths", help="Read local trailer files outside the table's folder."
)


# ---- option groups -----------------------------------------------------------------------------
_OPTION = "reelcast.cli.option"


def shared(info: Any) -> Any:
    """A dataclass field that is the typer option `info` (one of the shared options above)."""
    return dataclasses.field(default=info.default, metadata={_OPTION: info})


def option(default: Any, *decls: str, **kwargs: Any) -> Any:
    """A dataclass field that is a typer option, declared like `typer.Option(default, *decls, ...)`."""
    return shared(typer.Option(default, *decls, **kwargs))


def option_groups(command: Callable[..., Any]) -> Callable[..., Any]:
    """Let a command take option groups (keyword-only parameters typed with a dataclass of `option` fields):
    typer sees each group's fields as flags, in place and in order, and the command receives the group."""
    hints = typing.get_type_hints(command)
    params: list[inspect.Parameter] = []
    groups: dict[str, tuple[type, list[str]]] = {}
    for p in inspect.signature(command).parameters.values():
        kind = hints.get(p.name)
        if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)):
            params.append(p.replace(kind=p.KEYWORD_ONLY, annotation=hints.get(p.name, p.annotation)))
            continue
        field_hints = typing.get_type_hints(kind)
        fields = dataclasses.fields(kind)
        params += [
            inspect.Parameter(
                f.name, p.KEYWORD_ONLY, default=f.metadata[_OPTION], annotation=field_hints[f.name]
            )
            for f in fields
        ]
        groups[p.name] = (kind, [f.name for f in fields])
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise TypeError(f"{command.__name__}: two option groups share a flag name")

    @functools.wraps(command)
    def run(**kwargs: Any) -> Any:
        for name, (kind, fields) in groups.items():
            kwargs[name] = kind(**{f: kwargs.pop(f) for f in fields})
        return command(**kwargs)

    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params}
    return run


@dataclass
class RunOptions:
    """Where models run, the settings to start from, and how much to print: every model command's tail."""

    device: str = shared(DeviceOpt)
    config: Path = shared(ConfigOpt)
    set_: list[str] = shared(SetOpt)
    verbose: bool = shared(VerboseOpt)
    quiet: bool = shared(QuietOpt)

    def logging(self, quiet: bool = False) -> bool:
        """Set up logging (`quiet` adds to -q); returns whether to show progress."""
        return setup_logging(self.verbose, self.quiet or quiet)

    def build(self, flags: dict[str, Any]) -> Config:
        """The Config of a new run: defaults <- --config <- --set <- `flags`."""
        return build_config(self.config, self.set_, flags)

    def overrides(self, flags: dict[str, Any]) -> dict | None:
        """What the user gave, to apply over a saved model's own configuration."""
        return model_overrides(self.config, self.set_, flags)


@dataclass
class TableOptions:
    """How to read the film table: its schema and columns, bad rows, trailer joins."""

    schema: str = shared(SchemaOpt)
    text_col: str = option(None, "--text-col")
    revenue_col: str = shared(RevenueColOpt)
    trailer_col: str = shared(TrailerColOpt)
    id_col: str = shared(IdColOpt)
    zero_revenue_valid: bool = shared(ZeroRevenueOpt)
    skip_bad_rows: bool = option(False, "--skip-bad-rows", help="Drop malformed CSV rows (logged).")
    trailer_map: str = shared(TrailerMapOpt)
    trailer_links: str = shared(TrailerLinksOpt)

    def flags(self) -> dict[str, Any]:
        """The table flags as config keys."""
        return {
            "data.schema": self.schema,
            "data.text_col": self.text_col,
            "data.revenue_col": self.revenue_col,
            "data.trailer_col": self.trailer_col,
            "data.id_col": self.id_col,
            "data.zero_revenue_valid": self.zero_revenue_valid or None,
            "data.skip_bad_rows": self.skip_bad_rows or None,
            "data.trailer_map": self.trailer_map,
            "data.trailer_links": self.trailer_links,
        }


@dataclass
class SafetyOptions:
    """What a table may do that is refused by default: ambiguous decimal marks and date orders, files
    outside its folder."""

    decimal: str = shared(DecimalOpt)
    dayfirst: bool = shared(DayFirstOpt)
    allow_outside_paths: bool = shared(OutsidePathsOpt)

    def flags(self) -> dict[str, Any]:
        """--decimal, --dayfirst and --allow-outside-paths as config keys."""
        return {
            "data.decimal": self.decimal,
            "data.dayfirst": self.dayfirst,
            "media.allow_outside_paths": self.allow_outside_paths or None,
        }


def saved_model_flags(offline: bool, cache_dir: str | None, safety: SafetyOptions) -> dict[str, Any]:
    """The flags `evaluate`, `predict` and `whatif` apply over a saved model's configuration."""
    return {"media.offline": offline or None, "cache_dir": cache_dir, **safety.flags()}


def load_saved_model(
    model: Path, offline: bool, cache_dir: str | None, safety: SafetyOptions, run: RunOptions, **load: Any
) -> Any:
    """The saved model at `model` with the command's flags over its configuration (`load`: progress,
    trust_modified); the predictor is imported here so that `--help` stays fast."""
    from reelcast.predictor import RevenuePredictor

    overrides = run.overrides(saved_model_flags(offline, cache_dir, safety))
    return RevenuePredictor.load(model, device=run.device, overrides=overrides, **load)

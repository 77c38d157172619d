"""`reelcast whatif`: one film predicted again with one or two of its inputs varied (a table, PNG, page)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from reelcast.cli.options import (
    USER_ERRORS,
    CacheDirOpt,
    DescriptionFileOpt,
    DescriptionOpt,
    MetaOpt,
    ModelOpt,
    OfflineOpt,
    RunOptions,
    SafetyOptions,
    TitleOpt,
    TrailerOpt,
    TrustModifiedOpt,
    error_text,
    fail,
    load_saved_model,
    option_groups,
    parse_meta,
)

VARY_HELP = (
    "An input to vary (once, or twice for a grid): budget_musd=20:300:10 (from:to:step; from:to gives 15 "
    "points), runtime=90:180:10, year=2000:2020:5, release_date (the film's year month by month), "
    "release_date=2026 or release_date=2026-03:2026-10, trailer (with and without it), "
    "director='A|B' (alternatives split on |; for cast, genres, ... each alternative is a comma list)."
)


def parse_vary(text: str, film: Any) -> Any:
    """One `--vary` flag as an evaluation.whatif.Vary (ValueError naming the flag when it is malformed)."""
    from reelcast.evaluation import whatif as w

    name, sep, spec = (s.strip() for s in text.partition("="))
    where = f"--vary {text!r}"
    try:
        if name in w.NUMERIC:
            parts = spec.split(":")
            if not sep or len(parts) not in (2, 3):
                raise ValueError(f"give {name}=FROM:TO or {name}=FROM:TO:STEP")
            start, stop, *step = (float(p) for p in parts)
            return w.Vary(name, w.numeric_range(start, stop, step=step[0] if step else None))
        if name == "release_date":
            if not spec:
                return w.Vary(name, w.year_of_months(film))
            if ":" in spec:
                start, _, stop = spec.partition(":")
                day = int(str(film.metadata.get("release_date", "0000-00-01"))[8:10])
                return w.Vary(name, w.month_range(start.strip(), stop.strip(), day))
            if not spec.isdigit():
                raise ValueError("give release_date, release_date=YEAR or release_date=YYYY-MM:YYYY-MM")
            return w.Vary(name, w.year_of_months(film, int(spec)))
        if name == w.TRAILER:
            values = tuple(v.strip() for v in spec.split("|")) if spec else w.TRAILER_VALUES
            return w.Vary(name, values)
        if name in w.CATEGORICAL:
            alternatives = [a.strip() for a in spec.split("|") if a.strip()]
            if len(alternatives) < 1:
                raise ValueError(f"give the alternatives to try, e.g. {name}='A|B'")
            if name in w.LIST_FIELDS:
                return w.Vary(
                    name, tuple([x.strip() for x in a.split(",") if x.strip()] for a in alternatives)
                )
            return w.Vary(name, tuple(alternatives))
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    raise ValueError(
        f"{where}: cannot vary {name!r}; the fields a sweep can vary are {', '.join(w.VARIABLE)}"
    )


@option_groups
def whatif(
    model: Path = ModelOpt,
    description: str = DescriptionOpt,
    description_file: Path = DescriptionFileOpt,
    title: str = TitleOpt,
    trailer: str = TrailerOpt,
    meta: list[str] = MetaOpt,
    vary: list[str] = typer.Option(..., "--vary", help=VARY_HELP),
    out: Path = typer.Option(None, "--out", help="Folder for whatif.png, whatif.html and whatif.csv."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output: the curve as JSON."),
    offline: bool = OfflineOpt,
    cache_dir: str = CacheDirOpt,
    trust_modified: bool = TrustModifiedOpt,
    *,
    safety: SafetyOptions,
    run: RunOptions,
):
    """Vary one or two inputs of a film and see its class probabilities (and revenue range) move."""
    progress = run.logging(quiet=as_json)
    from reelcast.cli.predict import read_description
    from reelcast.evaluation.whatif import Film, readable_fields, sweep
    from reelcast.serving.model_card import metadata_fields

    try:
        if description_file is not None:
            description = read_description(description_file)
        if not description or not description.strip():
            raise ValueError("give --description (or --description-file): the film's plot")
        film = Film(description, title, trailer, parse_meta(meta) or {})
        varies = [parse_vary(v, film) for v in vary]
        p = load_saved_model(
            model, offline, cache_dir, safety, run, progress=progress, trust_modified=trust_modified
        )
        columns = list(p.tabular_.columns) if p.tabular_ is not None else []
        curve = sweep(p, film, varies, readable_fields(p, metadata_fields(columns)))
    except USER_ERRORS as e:
        fail(error_text(e))
    from reelcast.reports.whatif import curve_text, write_whatif

    written = write_whatif(curve, out, model=str(model)) if out else []
    if as_json:
        typer.echo(json.dumps(curve, indent=2))
        return
    typer.echo(curve_text(curve))
    if written:
        typer.echo(f"what-if: {' and '.join(str(w) for w in written)}")

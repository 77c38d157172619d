"""`reelcast predict`: one new film, or a table of films, with a saved model."""

from __future__ import annotations

import json
from pathlib import Path

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


@option_groups
def predict(
    model: Path = ModelOpt,
    description: str = DescriptionOpt,
    description_file: Path = DescriptionFileOpt,
    title: str = TitleOpt,
    trailer: str = TrailerOpt,
    meta: list[str] = MetaOpt,
    data: Path = typer.Option(None, "--data", help="A table of films to predict at once."),
    out: Path = typer.Option(
        None, "--out", help="With --data: write predictions (.csv with a .html page beside it, .html, .json)."
    ),
    breakeven: str = typer.Option(
        None,
        "--breakeven",
        help="Revenue to reach: a multiple of the budget (2.5x) or $M (120); prints P(revenue >= it).",
    ),
    reasons: int = typer.Option(
        5, "--reasons", help="How many of the film's reasons to print (text output)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    offline: bool = OfflineOpt,
    cache_dir: str = CacheDirOpt,
    trust_modified: bool = TrustModifiedOpt,
    *,
    safety: SafetyOptions,
    run: RunOptions,
):
    """Predict one new film (or a table of films)."""
    progress = run.logging(quiet=as_json)

    if description_file is not None:
        try:
            description = read_description(description_file)
        except (OSError, ValueError) as e:
            fail(error_text(e))
    if data is None and description is None:
        fail("give --description (or --description-file) for one film, or --data for a table")
    try:
        p = load_saved_model(
            model, offline, cache_dir, safety, run, progress=progress, trust_modified=trust_modified
        )
        if data is not None:
            df = p.predict(data, breakeven=breakeven)
            if out:
                written = write_predictions(df, out, model)
            if as_json:
                typer.echo(df.to_json(orient="records"))
            else:
                cols = ["film_id", "title", "class_name", "confidence", "modalities_used", *RANGE_COLUMNS]
                cols += ["p_revenue_at_least"] if breakeven else []
                typer.echo(df[[c for c in cols if c in df]].to_string(index=False))
                typer.echo(unknown_counts_line(df["unknown_inputs"], len(df)))
                if out:
                    typer.echo(f"predictions: {' and '.join(str(w) for w in written)}")
            return
        from contextlib import nullcontext

        from reelcast.training.loop import torch_threads_for

        # One film's network passes are too small for a second thread (a trailer's frames are not).
        threads = torch_threads_for(1, p.config.train) if not trailer else nullcontext()
        with threads:
            result = p.predict_film(
                description,
                title=title,
                trailer=trailer,
                metadata=parse_meta(meta),
                breakeven=breakeven,
                explain=True,
            )
    except USER_ERRORS as e:
        fail(error_text(e))
    if breakeven and result.get("revenue") is None:
        fail(f"{model}: this model has no revenue range (no log-revenue regressor), so no --breakeven")
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
    for line in revenue_lines(result.get("revenue")):
        typer.echo(line)
    from reelcast.data.schema import aux_estimate_text

    for target, value in (result.get("model_estimates") or {}).items():
        typer.echo(aux_estimate_text(target, value)[1])
    if result.get("reasons"):
        typer.echo("reasons (shift of the expected class, 0-7):")
        for r in result["reasons"][:reasons]:
            typer.echo(f"  {r['text']}")
    for w in result["warnings"]:
        typer.secho(f"warning: {w}", fg=typer.colors.YELLOW, err=True)


RANGE_COLUMNS = ("revenue_musd_median", "revenue_musd_low_80", "revenue_musd_high_80")


def revenue_lines(revenue: dict | None) -> list[str]:
    """The revenue range as text: median, each interval and P(revenue >= breakeven)."""
    if not revenue:
        return []
    ranges = ", ".join(f"{k} %: ${lo:,.0f}-{hi:,.0f} M" for k, (lo, hi) in revenue["intervals"].items())
    lines = [f"revenue ({revenue['dollars']}): median ${revenue['median_musd']:,.0f} M; {ranges}"]
    if revenue.get("p_at_least"):
        pa = revenue["p_at_least"]
        lines.append(f"P(revenue >= ${pa['threshold_musd']:,.0f} M) = {pa['p']:.2f}")
    return lines


def unknown_counts_line(cells, films: int) -> str:
    """One line: how many of the films lacked each input the model reads (cells: comma lists)."""
    counts: dict[str, int] = {}
    for cell in cells:
        for name in filter(None, str(cell).split(",")):
            counts[name] = counts.get(name, 0) + 1
    if not counts:
        return "unknown inputs: none (every film had every input the model reads)"
    listed = ", ".join(f"{n} {c}" for n, c in counts.items())
    return f"unknown inputs (of {films} films): {listed}"


def read_description(path: Path) -> str:
    """A plot description from a UTF-8 file, refused past the API's length limit without reading further."""
    from reelcast.serving.settings import ServeSettings

    limit = ServeSettings.max_description_chars
    # One character more than the limit tells "too long" apart from "exactly at the limit"; a device
    # such as /dev/zero never ends, so the file is never read whole.
    try:
        with Path(path).open(encoding="utf-8") as f:
            text = f.read(limit + 1)
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason})") from None
    except OSError as e:
        raise OSError(f"{path}: {e}") from None
    if len(text) > limit:
        raise ValueError(
            f"{path}: the description is longer than {limit:,} characters (the limit of the API too); "
            "shorten it"
        )
    return text


def write_predictions(df, out: Path, model: Path) -> list[Path]:
    """Predictions as JSON (.json), a page (.html), or CSV with the same page beside it (anything else)."""
    from reelcast.files import atomic_write_csv, atomic_write_text
    from reelcast.reports.html import write_page
    from reelcast.reports.run_page import predictions_page

    suffix = out.suffix.lower()
    if suffix == ".json":
        atomic_write_text(out, df.to_json(orient="records", indent=2))
        return [out]
    html = predictions_page(df, f"reelcast predictions: {out.stem}", model=str(model))
    if suffix in (".html", ".htm"):
        return [write_page(out, html)]
    atomic_write_csv(out, df)
    return [out, write_page(out.with_suffix(".html"), html)]

"""report.html: everything a run folder holds on one self-contained page (and the pages of evaluate/predict).

The page is built from the files alone (evaluation_results.json, the CSVs, the PNGs, config.toml,
table_report.json), so `reelcast report RUN` can rebuild it at any time. Sections render what exists:
a result without an ablation has no ablation table, and keys this module does not know (new metrics,
new evaluation sections) are shown generically under "more results" instead of being dropped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import tomllib

from reelcast.data.classes import CLASS_NAMES
from reelcast.reports.html import (
    Cell,
    Markup,
    bar,
    cards,
    details,
    esc,
    fmt,
    fold_intervals,
    generic,
    interval_chart,
    join,
    kv_table,
    notice,
    page,
    pre,
    section,
    table,
    tabs,
    write_page,
)
from reelcast.reports.labels import HEADLINE, metric_label
from reelcast.reports.split_panel import clean_records, is_number, split_panel

log = logging.getLogger(__name__)

REPORT = "report.html"
RESULTS = "evaluation_results.json"


def read_json(path: Path) -> Any:
    """A JSON file, or None when it is absent or unreadable (the page says what is missing)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("%s: not readable JSON (%s); its section is left out of the report", path, e)
        return None


def read_csv(path: Path) -> pd.DataFrame | None:
    """A CSV file as a frame, or None when absent or unreadable."""
    if not path.exists():
        return None
    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (OSError, ValueError) as e:
        log.warning("%s: not a readable CSV (%s); left out of the report", path, e)
        return None


def split_dirs(run_dir: Path) -> list[Path]:
    """Sub-folders holding an evaluation_results.json (splits or folds), in name order."""
    return sorted(d for d in run_dir.iterdir() if d.is_dir() and (d / RESULTS).exists())


# ---- the run page ------------------------------------------------------------------------------------
def _best(comparison: pd.DataFrame | None, results: dict[str, dict]) -> str | None:
    """The split with the highest test macro-F1 (as the terminal says)."""
    if comparison is not None and "f1_macro" in comparison and "split" in comparison:
        fixed = comparison[~comparison["split"].astype(str).isin(["mean", "std"])]
        fixed = fixed[pd.to_numeric(fixed["f1_macro"], errors="coerce").notna()]
        if len(fixed):
            return str(fixed.loc[pd.to_numeric(fixed["f1_macro"]).idxmax(), "split"])
    scored = {k: (r.get("test") or {}).get("f1_macro") for k, r in results.items()}
    scored = {k: v for k, v in scored.items() if is_number(v)}
    return max(scored, key=scored.get) if scored else None


def table_report_section(tr: Mapping[str, Any] | None) -> Markup:
    """Rows read, kept and dropped (and why), duplicates, trailer joins and hit rate."""
    if not tr:
        return Markup('<p class="muted">no table_report.json in this run folder</p>')
    parts = []
    read, kept = tr.get("rows_read"), tr.get("rows_kept")
    tiles = [("rows read", read, tr.get("schema", "")), ("films kept", kept, "")]
    if is_number(read) and is_number(kept):
        tiles.append(("rows dropped", read - kept, "see below for why"))
    media = tr.get("media") or {}
    if media.get("films") and "video" in media:
        rate = media.get("video", 0) / media["films"]
        tiles.append(
            (
                "trailer hit rate",
                f"{100 * rate:.1f}%",
                f"{fmt(media.get('video'))} of {fmt(media['films'])} films have video",
            )
        )
    tmap = tr.get("trailer_map") or {}
    if is_number(tmap.get("hit_rate")):
        tiles.append(
            (
                "trailer-map hit rate",
                f"{100 * tmap['hit_rate']:.1f}%",
                f"{fmt(tmap.get('matched'))} of {fmt(tmap.get('films'))} matched",
            )
        )
    parts.append(cards(tiles))
    for key, title in (("dropped", "rows dropped"), ("warnings", "warnings (rows kept)")):
        d = tr.get(key) or {}
        if d:
            rows = [
                {
                    "reason": k,
                    "rows": v.get("count") if isinstance(v, Mapping) else v,
                    "example lines": (v.get("lines") if isinstance(v, Mapping) else None),
                }
                for k, v in d.items()
            ]
            parts.append(table(rows, caption=title))
    dup = tr.get("duplicates") or {}
    if dup.get("count"):
        parts.append(
            table(dup.get("examples") or [], caption=f"{dup['count']} duplicate rows (the first is kept)")
        )
    if media:
        parts.append(details("trailers and media", kv_table(media), open=True))
    if tmap:
        parts.append(details("trailer-id join", kv_table(tmap)))
    known = {
        "source",
        "schema",
        "rows_read",
        "rows_kept",
        "dropped",
        "warnings",
        "duplicates",
        "media",
        "trailer_map",
    }
    extra = {k: v for k, v in tr.items() if k not in known}
    if extra:
        parts.append(kv_table(extra))
    return join(parts)


def _files(run_dir: Path) -> Markup:
    """Links to every file of the run folder (relative, so they work wherever the folder is)."""
    items = []
    for p in sorted(run_dir.rglob("*")):
        rel = p.relative_to(run_dir)
        if p.is_dir() or rel.parts[0] == "demo_inputs" or p.name == REPORT or p.name.startswith("."):
            continue
        size = p.stat().st_size
        link = Markup(f'<a href="{esc(quote(rel.as_posix()))}">{esc(rel.as_posix())}</a>')
        items.append({"file": Cell(rel.as_posix(), link), "bytes": size})
    return table(items)


def build_run_page(run_dir: str | Path) -> str:
    """The HTML of report.html for a run folder (or for one split folder)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run folder; pass the --out folder of `reelcast train`")
    single = (run_dir / RESULTS).exists()
    dirs = [run_dir] if single else split_dirs(run_dir)
    if not dirs:
        raise FileNotFoundError(
            f"{run_dir}: no split folder with {RESULTS}; pass the --out folder of a finished `reelcast train`"
        )
    results = {}
    for d in dirs:
        r = read_json(d / RESULTS)
        if isinstance(r, dict):
            results[str(r.get("split", d.name))] = {**r, "_dir": d}
    if not results:
        raise ValueError(f"{run_dir}: no readable {RESULTS}; run `reelcast train` again")
    top = run_dir.parent if single and not (run_dir / "table_report.json").exists() else run_dir
    tr = read_json(top / "table_report.json")
    comparison = None if single else read_csv(run_dir / "split_comparison.csv")
    config_path = top / "config.toml"
    config_text = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
    try:
        confidence = float(tomllib.loads(config_text).get("eval", {}).get("confidence", 0.95))
    except (tomllib.TOMLDecodeError, TypeError, ValueError):
        confidence = 0.95
    best = _best(comparison, results)
    first = results[best] if best in results else next(iter(results.values()))

    body, toc = [], []
    source = (tr or {}).get("source", "")
    if "demo_inputs" in str(source):
        body.append(
            notice(
                "Synthetic demo data with tiny random encoders: these scores say nothing about real films.",
                "info",
            )
        )
    for name, r in results.items():
        if r.get("leakage_warning"):
            body.append(notice(f"split {name}: {r['leakage_warning']}", "error"))

    # ---- summary header
    ci = first.get("test_ci") or {}
    test = first.get("test") or {}
    tiles = [
        ("dataset", Path(str(source)).name or "–", f"schema {(tr or {}).get('schema', '–')}"),
        ("films", (tr or {}).get("rows_kept"), f"{fmt((tr or {}).get('rows_read'))} rows read"),
        (
            "modalities",
            "+".join(first.get("modalities") or []) or "–",
            f"media: {first.get('media_mode', '–')}",
        ),
        ("best split", best or "–", "by test macro-F1"),
    ]
    for k in ("f1_macro", "accuracy", "one_away_accuracy", "qwk"):
        if k in test or k in ci:
            c = ci.get(k) or {}
            tiles.append(
                (
                    f"{metric_label(k)} (test)",
                    test.get(k, c.get("point")),
                    f"{100 * confidence:.0f}% CI {fmt(c.get('low'))} – {fmt(c.get('high'))}" if c else "",
                )
            )
    body.append(section("Summary", cards(tiles), id="summary"))
    toc.append(("summary", "Summary"))

    # ---- split comparison
    if len(results) > 1 or comparison is not None:
        parts = []
        if comparison is not None:
            cols = ["split", *[c for c in HEADLINE if c in comparison]]
            cols += [c for c in comparison.columns if c not in cols]
            parts.append(
                table(
                    clean_records(comparison),
                    cols,
                    headers={c: metric_label(c) for c in cols},
                    row_class=lambda r: "best" if str(r.get("split")) == best else "",
                    caption="test-set scores per split (best row highlighted)",
                )
            )
        charts = []
        for k in ("f1_macro", "accuracy"):
            rows = []
            for name, r in results.items():
                c = (r.get("test_ci") or {}).get(k) or {}
                rows.append((name, (r.get("test") or {}).get(k, c.get("point")), c.get("low"), c.get("high")))
            charts.append(
                interval_chart(
                    rows, f"test {metric_label(k)}, {100 * confidence:.0f}% bootstrap CI", highlight=best
                )
            )
        parts.append(Markup(f'<div class="grid2">{join(charts)}</div>'))
        parts.append(
            Markup(
                '<p class="note">With one seed every split shares the same test films; they differ in how '
                "the rest is divided between training and validation. Overlapping intervals mean the "
                "ranking is not reliable.</p>"
            )
        )
        summary = read_csv(run_dir / "ablation_summary.csv")
        if summary is not None:
            parts.append(details("ablation across splits", table(fold_intervals(clean_records(summary)))))
        body.append(section("Split comparison", join(parts), id="comparison"))
        toc.append(("comparison", "Splits"))

    # ---- per split
    panels = {
        f"split {name}" if name[:1].isdigit() else name: split_panel(r, r["_dir"])
        for name, r in results.items()
    }
    active = f"split {best}" if best and best[:1].isdigit() else best
    body.append(
        section(
            "Per split",
            tabs(panels, "splits", active=active),
            id="splits",
            note="click a tab to switch split",
        )
    )
    toc.append(("splits", "Per split"))

    # ---- table, configuration, files
    body.append(section("Table report", table_report_section(tr), id="table", note=str(source)))
    toc.append(("table", "Table"))
    other = []
    if not single:
        for p in sorted(run_dir.glob("*.csv")):
            if p.name not in ("split_comparison.csv", "ablation_summary.csv"):
                df = read_csv(p)
                if df is not None:
                    other.append(details(p.name, table(clean_records(df.head(200)))))
        for p in sorted(run_dir.glob("*.json")):
            if p.name != "table_report.json":
                other.append(details(p.name, generic(read_json(p))))
    if other:
        body.append(section("Other run files", join(other), id="other"))
        toc.append(("other", "Other"))
    body.append(
        section(
            "Configuration",
            details("config.toml", pre(config_text or "(no config.toml)"), open=True),
            id="config",
        )
    )
    toc.append(("config", "Configuration"))
    body.append(section("Files", details(f"files in {run_dir.name}/", _files(run_dir)), id="files"))
    toc.append(("files", "Files"))

    from reelcast import __version__

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    title = f"reelcast run: {run_dir.resolve().name}"
    subtitle = (
        f"{len(results)} split(s) · {fmt((tr or {}).get('rows_kept'))} films · best split {best or '–'}"
    )
    return page(
        title, join(body), subtitle, toc, footer=f"reelcast {__version__} · written {stamp} · {run_dir}"
    )


def write_run_report(run_dir: str | Path) -> Path:
    """Write (or rewrite) RUN/report.html from the files of the run folder."""
    run_dir = Path(run_dir)
    return write_page(run_dir / REPORT, build_run_page(run_dir))


# ---- a scored table (`evaluate --out page.html`) -----------------------------------------------
def evaluation_page(result: Mapping[str, Any], title: str = "") -> str:
    """A page for one model scored on one table, built from the same pieces as a split's tab."""
    from reelcast import __version__

    body = section("Scores", split_panel(result, None, portion="scored"), id="scores")
    if result.get("table_report"):
        body += section("Table report", table_report_section(result["table_report"]), id="table")
    n = fmt(sum(v for v in (result.get("sizes") or {}).values() if is_number(v)))
    sub = f"model {result.get('model', '')} · table {result.get('source', '')} · {n} films"
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return page(
        title or "reelcast evaluation",
        body,
        sub,
        footer=f"reelcast {__version__} · {stamp}",
    )


# ---- predictions (`predict --data ... --out preds.html`) ---------------------------------------------
def predictions_page(df: pd.DataFrame, title: str = "reelcast predictions", model: str = "") -> str:
    """A sortable table of films: predicted class, probability bars per class, modality contributions."""
    from reelcast import __version__

    prob_cols = [c for c in df.columns if c.startswith("p_")]
    contrib_cols = [c for c in df.columns if c.startswith("contribution_")]
    cscale = max([abs(float(x)) for c in contrib_cols for x in df[c] if pd.notna(x)] or [1.0]) or 1.0
    rows = []
    for r in clean_records(df):
        row: dict[str, Any] = {
            "film": Cell(
                str(r.get("title") or r.get("film_id")),
                join([r.get("title") or "", Markup(f' <span class="muted">{esc(r.get("film_id"))}</span>')]),
            ),
            "class": Cell(r.get("predicted_class"), f"{r.get('predicted_class')}\u00a0{r.get('class_name')}"),
            "confidence": Cell(
                r.get("confidence"), bar(r.get("confidence"), 1.0, f"{100 * (r.get('confidence') or 0):.1f}%")
            ),
        }
        for c in prob_cols:
            v = r.get(c)
            row[c[2:]] = Cell(v, bar(v, 1.0, f"{100 * v:.0f}%" if is_number(v) else "–", compact=True))
        for c in contrib_cols:
            v = r.get(c)
            row[f"{c[len('contribution_') :]}"] = Cell(
                v, bar(v, cscale, f"{v:+.3f}" if is_number(v) else "–", signed=True)
            )
        row["modalities used"] = r.get("modalities_used", "")
        rows.append(row)
    counts = df["class_name"].value_counts() if "class_name" in df else pd.Series(dtype=int)
    tiles = [("films", len(df), "")] + [
        (f"predicted {n}", int(counts[n]), "") for n in CLASS_NAMES if n in counts
    ]
    contrib_note = (
        "Contribution columns: drop in the predicted class's probability when that modality is masked "
        "(red = the prediction is more confident without it)."
        if contrib_cols
        else ""
    )
    body = join(
        [
            section("Summary", cards(tiles), id="summary"),
            section(
                "Films",
                table(rows, caption="click a column header to sort"),
                id="films",
                note=("Probability columns are the calibrated class probabilities. " + contrib_note).strip(),
            ),
        ]
    )
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return page(title, body, f"model {model}" if model else "", footer=f"reelcast {__version__} · {stamp}")

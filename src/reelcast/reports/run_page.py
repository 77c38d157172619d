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
from reelcast.evaluation.metrics import LOWER_IS_BETTER
from reelcast.reports.html import (
    Cell,
    Markup,
    bar,
    cards,
    details,
    esc,
    figure,
    fmt,
    fold_intervals,
    generic,
    heatmap,
    interval_chart,
    interval_text,
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
from reelcast.reports.labels import HEADLINE, METRIC_LABELS

log = logging.getLogger(__name__)

REPORT = "report.html"
RESULTS = "evaluation_results.json"
# Keys of evaluation_results.json that a section below shows; any other key goes to "more results".
SHOWN_KEYS = {
    "split",
    "sizes",
    "class_names",
    "thresholds_musd",
    "classes",
    "class_counts",
    "modalities",
    "encoder_ids",
    "media_mode",
    "best_epoch",
    "epochs_run",
    "stopped_early",
    "train_seconds",
    "val",
    "test",
    "test_ci",
    "calibration",
    "history",
    "reliability",
    "modality_contribution",
    "ablation",
    "significance",
    "permutation_importance",
    "leakage_warning",
    "source",
    "title",
    "table_report",
    "thresholds_dollars",
}
SPLIT_FILES = {"training_curves.png", "calibration.png", "ablation.png", "confusion_matrix.png"}


def metric_label(key: str) -> str:
    """A metric's display name."""
    return METRIC_LABELS.get(key, key.replace("_", " "))


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


def _clean(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Records with NaN as None (shown as a dash)."""
    return [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        for r in df.to_dict("records")
    ]


def split_dirs(run_dir: Path) -> list[Path]:
    """Sub-folders holding an evaluation_results.json (splits or folds), in name order."""
    return sorted(d for d in run_dir.iterdir() if d.is_dir() and (d / RESULTS).exists())


# ---- pieces of one split ------------------------------------------------------------------------
def metrics_table(result: Mapping[str, Any]) -> Markup:
    """Every scalar metric: validation, test, and the test value's bootstrap interval."""
    test = result.get("test") or {}
    val = result.get("val") or {}
    ci = result.get("test_ci") or {}
    keys = [k for k in test if isinstance(test[k], (int, float)) and not isinstance(test[k], bool)]
    keys = [k for k in keys if k not in ("n", "num_classes")]
    keys += [k for k in ci if k not in keys]
    rows = []
    for k in keys:
        c = ci.get(k) or {}
        point = test.get(k, c.get("point"))
        rows.append(
            {
                "metric": metric_label(k),
                "validation": val.get(k),
                "test": Cell(point, interval_text(point, c.get("low"), c.get("high"))),
                "better": "lower" if k in LOWER_IS_BETTER else "higher",
            }
        )
    columns = ["metric", "validation", "test", "better"] if val else ["metric", "test", "better"]
    return table(rows, columns, headers={"test": f"{result.get('_portion', 'test')} (bootstrap CI)"})


def confusion(result: Mapping[str, Any], portion: str = "test") -> Markup:
    """The confusion matrix as a shaded table with class names, and the per-class report beside it."""
    m = (result.get(portion) or {}).get("confusion_matrix")
    if not m:
        return Markup("")
    names = result.get("class_names") or CLASS_NAMES
    labels = [f"{k} {n}" for k, n in enumerate(names)]
    out = heatmap(m, labels, labels, "true", "predicted", f"{len(names)} classes, rows = true class")
    per = (result.get(portion) or {}).get("per_class")
    if per:
        out += table(per, caption="per class", digits=3)
    return Markup(out)


def class_edges(result: Mapping[str, Any]) -> Markup:
    """Each class's revenue range in $M with the number of films of each portion in it."""
    classes = result.get("classes")
    if not classes:
        return Markup("")
    counts = result.get("class_counts") or {}
    rows = []
    for c in classes:
        k = c.get("class")
        lo, hi = c.get("min_musd"), c.get("max_musd")
        rng = f"≥ {fmt(lo, 2)}" if hi is None else f"{fmt(lo, 2)} – {fmt(hi, 2)}"
        row: dict[str, Any] = {"class": k, "name": c.get("name"), "revenue $M": Cell(lo, rng)}
        for portion, values in counts.items():
            if isinstance(values, list) and isinstance(k, int) and k < len(values):
                row[f"{portion} films"] = values[k]
        rows.append(row)
    dollars = result.get("thresholds_dollars")  # "nominal" or "constant 2023 US dollars (CPI-U)"
    unit = f"$M, {dollars}" if dollars else "$M"
    return table(rows, caption=f"class edges in {unit} (fit on the training films only)")


def history_figure(result: Mapping[str, Any], split_dir: Path | None) -> Markup:
    """The training curves: the run's PNG, or drawn from the history when there is no file."""
    cap = (
        f"best epoch {result.get('best_epoch', '–')} of {result.get('epochs_run', '–')}"
        + (" (stopped early)" if result.get("stopped_early") else "")
        + (f", {fmt(result['train_seconds'], 1)} s" if _isnum(result.get("train_seconds")) else "")
    )
    if split_dir is not None and (split_dir / "training_curves.png").exists():
        return figure(split_dir / "training_curves.png", cap, "training curves")
    if result.get("history"):
        from reelcast.reports.files import training_curves_figure

        return figure(training_curves_figure(result["history"]), cap, "training curves")
    return Markup("")


def _isnum(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def calibration(result: Mapping[str, Any], split_dir: Path | None) -> Markup:
    """Temperature, ECE before and after scaling, the reliability diagram and its bins."""
    cal = result.get("calibration") or {}
    parts = []
    if cal:
        facts = {
            "temperature (fit on validation films)": cal.get("temperature"),
            "ECE, test, calibrated": cal.get("ece_test"),
            "ECE, test, uncalibrated": cal.get("ece_test_uncalibrated"),
        }
        facts.update(
            {k: v for k, v in cal.items() if k not in ("temperature", "ece_test", "ece_test_uncalibrated")}
        )
        parts.append(kv_table({k: v for k, v in facts.items() if v is not None}))
    if split_dir is not None:
        parts.append(
            figure(split_dir / "calibration.png", "reliability diagram (test films)", "calibration", "small")
        )
    rel = result.get("reliability") or {}
    if rel.get("bin_edges") and rel.get("count"):
        edges = rel["bin_edges"]
        rows = [
            {
                "bin": f"{edges[i]:.1f}–{edges[i + 1]:.1f}",
                "films": rel["count"][i],
                "mean confidence": (rel.get("confidence") or [None] * len(rel["count"]))[i],
                "accuracy": (rel.get("accuracy") or [None] * len(rel["count"]))[i],
            }
            for i in range(len(rel["count"]))
            if rel["count"][i]
        ]
        parts.append(details("reliability bins", table(rows, sortable=False)))
    return join(parts)


def contributions(result: Mapping[str, Any]) -> Markup:
    """Mean drop in the predicted class's probability when each modality is masked."""
    mc = result.get("modality_contribution")
    if not mc:
        return Markup("")
    values = [v.get("mean_drop_in_predicted_prob") for v in mc.values() if isinstance(v, Mapping)]
    scale = max([abs(v) for v in values if _isnum(v)] or [1.0]) or 1.0
    rows = []
    for m, v in mc.items():
        v = v if isinstance(v, Mapping) else {"value": v}
        drop = v.get("mean_drop_in_predicted_prob")
        row = {"modality": m, "mean drop": Cell(drop, bar(drop, scale, signed=True))}
        row.update({k: x for k, x in v.items() if k != "mean_drop_in_predicted_prob"})
        rows.append(row)
    return table(rows, headers={"films_with_modality": "test films with it"})


def permutation(result: Mapping[str, Any]) -> Markup:
    """Permutation importance rows, one table per model, with the macro-F1 drop as a bar."""
    perm = result.get("permutation_importance")
    if not perm:
        return Markup("")
    df = pd.DataFrame(perm)
    parts = []
    for model, g in df.groupby("model", sort=False) if "model" in df else [("", df)]:
        recs = _clean(g.drop(columns=["model"], errors="ignore"))
        scale = max([abs(r.get("f1_macro_drop_mean") or 0) for r in recs] or [1.0]) or 1.0
        for r in recs:
            if "f1_macro_drop_mean" in r:
                d = r["f1_macro_drop_mean"]
                sd = r.get("f1_macro_drop_std")
                label = f"{fmt(d)} ± {fmt(sd)}" if _isnum(sd) else fmt(d)
                r["f1_macro_drop_mean"] = Cell(d, bar(d, scale, label, signed=True))
                r.pop("f1_macro_drop_std", None)
        parts.append(
            table(
                recs,
                headers={
                    "f1_macro_drop_mean": "macro-F1 drop (mean ± sd)",
                    "f1_macro_baseline": "macro-F1 unshuffled",
                    "accuracy_baseline": "accuracy unshuffled",
                    "accuracy_drop_mean": "accuracy drop",
                    "accuracy_drop_std": "accuracy drop sd",
                },
                caption=f"model: {model}" if model else "",
            )
        )
    return join(parts)


def ablation(result: Mapping[str, Any], split_dir: Path | None) -> Markup:
    """The ablation and peer models' table (intervals folded in), what was skipped, and the chart."""
    ab = result.get("ablation") or {}
    models = ab.get("models")
    if not models:
        return Markup("")
    rows = fold_intervals(models)
    first = [c for c in ("model", "modalities", "test_films") if any(c in r for r in rows)]
    rest = [c for r in rows for c in r if c not in first and c not in ("note",)]
    cols = first + list(dict.fromkeys(rest)) + (["note"] if any(r.get("note") for r in rows) else [])
    parts = [
        table(
            rows,
            cols,
            headers={k: metric_label(k) for k in cols},
            row_class=lambda r: "best" if r.get("model") == "full" else "",
            caption="every model on the same test films; intervals are bootstrap CIs",
        )
    ]
    if ab.get("skipped"):
        parts.append(kv_table(ab["skipped"], caption="models not trained, and why"))
    if split_dir is not None:
        parts.append(figure(split_dir / "ablation.png", "ablation (test films)", "ablation chart"))
    extra = {k: v for k, v in ab.items() if k not in ("models", "skipped") and v not in (None, [], {})}
    if extra:
        parts.append(details("ablation settings", kv_table(extra)))
    return join(parts)


def significance(result: Mapping[str, Any]) -> Markup:
    """The significance tests: sentences first, then each comparison's numbers."""
    sig = result.get("significance") or {}
    if not sig:
        return Markup("")
    parts = []
    rows = []
    for key, comp in (sig.get("comparisons") or {}).items():
        if not isinstance(comp, Mapping):
            continue
        row: dict[str, Any] = {"baseline": comp.get("model", key)}
        better = comp.get("full_significantly_better") or {}
        for m, r in (comp.get("paired_bootstrap") or {}).items():
            if isinstance(r, Mapping) and "diff" in r:
                star = " ✔" if better.get(m) else ""
                row[f"Δ {metric_label(m)}"] = Cell(
                    r["diff"],
                    interval_text(r["diff"], r.get("low"), r.get("high"))
                    + Markup(f" p={fmt(r.get('p_value'))}{star}"),
                )
        mc = comp.get("mcnemar") or {}
        if mc:
            row["McNemar p"] = mc.get("p_value")
        rows.append(row)
    if rows:
        parts.append(
            table(
                rows,
                caption=(
                    f"full model minus baseline on {fmt(sig.get('test_films'))} test films; "
                    f"✔ = significantly better at alpha {fmt(sig.get('alpha'))}; "
                    f"{sig.get('multiple_comparisons', '')}"
                ),
            )
        )
    sentences = sig.get("sentences") or []
    if sentences:
        items = "".join(f"<li>{esc(s)}</li>" for s in sentences)
        parts.append(Markup(f'<h4>In words</h4><ul class="sentences">{items}</ul>'))
    return join(parts)


def more_results(result: Mapping[str, Any]) -> Markup:
    """Keys of the result that no section knows, rendered generically."""
    extra = {k: v for k, v in result.items() if k not in SHOWN_KEYS and not k.startswith("_")}
    if not extra:
        return Markup("")
    return section(
        "More results", kv_table(extra), level=3, note="sections this page has no special view for"
    )


def split_panel(result: Mapping[str, Any], split_dir: Path | None = None, portion: str = "test") -> Markup:
    """Everything about one split (or one scored table): the building block of the run and evaluate pages."""
    result = {**result, "_portion": portion}
    blocks = []
    if result.get("leakage_warning"):
        blocks.append(notice(result["leakage_warning"], "error"))
    sizes = result.get("sizes") or {}
    facts = ", ".join(f"{fmt(v)} {k}" for k, v in sizes.items())
    mods = "+".join(result.get("modalities") or [])
    blocks.append(
        Markup(
            f'<p class="note">films: {esc(facts)}'
            + (f"; modalities: {esc(mods)}" if mods else "")
            + (f"; media: {esc(result['media_mode'])}" if result.get("media_mode") else "")
            + "</p>"
        )
    )
    ci = result.get("test_ci") or {}
    test = result.get(portion) or result.get("test") or {}
    tiles = []
    for k in HEADLINE:
        if k in ci or k in test:
            c = ci.get(k) or {}
            point = test.get(k, c.get("point"))
            detail = f"CI {fmt(c.get('low'))} – {fmt(c.get('high'))}" if c else ""
            tiles.append((metric_label(k), point, detail))
    if tiles:
        blocks.append(cards(tiles))
    blocks.append(section("Metrics", metrics_table(result), level=3))
    conf = confusion(result, "test")
    if conf:
        blocks.append(section(f"Confusion matrix ({portion} films)", conf, level=3))
    curves = history_figure(result, split_dir)
    if curves:
        blocks.append(section("Training curves", curves, level=3))
    edges = class_edges(result)
    if edges:
        blocks.append(section("Classes", edges, level=3))
    for title, body, note in (
        ("Ablation and peers", ablation(result, split_dir), ""),
        ("Significance", significance(result), "paired bootstrap per metric, McNemar's test on exact class"),
        ("Calibration", calibration(result, split_dir), "probabilities are temperature-scaled"),
        (
            "Modality contributions",
            contributions(result),
            "drop in the predicted class's probability when masked",
        ),
        (
            "Permutation importance",
            permutation(result),
            "drop when one metadata column is shuffled across films",
        ),
    ):
        if body:
            blocks.append(section(title, body, level=3, note=note))
    blocks.append(more_results(result))
    if result.get("encoder_ids"):
        blocks.append(details("encoders", kv_table(result["encoder_ids"])))
    return join(blocks)


# ---- the run page ------------------------------------------------------------------------------------
def _best(comparison: pd.DataFrame | None, results: dict[str, dict]) -> str | None:
    """The split with the highest test macro-F1 (as the terminal says)."""
    if comparison is not None and "f1_macro" in comparison and "split" in comparison:
        fixed = comparison[~comparison["split"].astype(str).isin(["mean", "std"])]
        fixed = fixed[pd.to_numeric(fixed["f1_macro"], errors="coerce").notna()]
        if len(fixed):
            return str(fixed.loc[pd.to_numeric(fixed["f1_macro"]).idxmax(), "split"])
    scored = {k: (r.get("test") or {}).get("f1_macro") for k, r in results.items()}
    scored = {k: v for k, v in scored.items() if _isnum(v)}
    return max(scored, key=scored.get) if scored else None


def table_report_section(tr: Mapping[str, Any] | None) -> Markup:
    """Rows read, kept and dropped (and why), duplicates, trailer joins and hit rate."""
    if not tr:
        return Markup('<p class="muted">no table_report.json in this run folder</p>')
    parts = []
    read, kept = tr.get("rows_read"), tr.get("rows_kept")
    tiles = [("rows read", read, tr.get("schema", "")), ("films kept", kept, "")]
    if _isnum(read) and _isnum(kept):
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
    if _isnum(tmap.get("hit_rate")):
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
                    _clean(comparison),
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
            parts.append(details("ablation across splits", table(fold_intervals(_clean(summary)))))
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
                    other.append(details(p.name, table(_clean(df.head(200)))))
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
    n = fmt(sum(v for v in (result.get("sizes") or {}).values() if _isnum(v)))
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
    for r in _clean(df):
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
            row[c[2:]] = Cell(v, bar(v, 1.0, f"{100 * v:.0f}%" if _isnum(v) else "–", compact=True))
        for c in contrib_cols:
            v = r.get(c)
            row[f"{c[len('contribution_') :]}"] = Cell(
                v, bar(v, cscale, f"{v:+.3f}" if _isnum(v) else "–", signed=True)
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

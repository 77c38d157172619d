"""One split's (or one scored table's) panel of report.html: metrics, confusion, classes, curves,
calibration, ablation, significance, contributions, importance, and any result key no section knows.

Each piece renders what the result holds and nothing when a key is absent; `split_panel` composes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

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
    heatmap,
    interval_text,
    join,
    kv_table,
    notice,
    section,
    table,
)
from reelcast.reports.labels import HEADLINE, metric_label

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
    "components",
    "decision",
    "revenue_intervals",
    "decision_rules",
}


def is_number(v: Any) -> bool:
    """A real int or float (not a bool)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def clean_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Records with NaN as None (shown as a dash)."""
    return [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        for r in df.to_dict("records")
    ]


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
        + (f", {fmt(result['train_seconds'], 1)} s" if is_number(result.get("train_seconds")) else "")
    )
    if split_dir is not None and (split_dir / "training_curves.png").exists():
        return figure(split_dir / "training_curves.png", cap, "training curves")
    if result.get("history"):
        from reelcast.reports.files import training_curves_figure

        return figure(training_curves_figure(result["history"]), cap, "training curves")
    return Markup("")


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


def revenue_range(result: Mapping[str, Any]) -> Markup:
    """Per level: nominal vs observed coverage of the revenue range on the test films, and its width."""
    ri = result.get("revenue_intervals")
    if not ri or not isinstance(ri.get("test"), Mapping):
        return Markup("")
    rows = []
    for key, v in ri["test"].items():
        if not isinstance(v, Mapping) or "coverage" not in v:
            continue
        c, w = v["coverage"], v["median_width_musd"]
        rows.append(
            {
                "level": f"{key} %",
                "nominal": v["nominal"],
                "observed coverage": c["point"],
                "coverage CI": f"{fmt(c['low'])} – {fmt(c['high'])}",
                "median width $M": w["point"],
                "width CI": f"{fmt(w['low'])} – {fmt(w['high'])}",
            }
        )
    facts = {k: ri.get(k) for k in ("method", "centred_on", "dollars", "calibration_films") if ri.get(k)}
    return join([kv_table(facts), table(rows, sortable=False)])


def decision_rules(result: Mapping[str, Any]) -> Markup:
    """Every decision rule's test metrics, the chosen one marked."""
    dr = result.get("decision_rules")
    if not dr or not isinstance(dr.get("test"), Mapping):
        return Markup("")
    rows = []
    for rule, metrics in dr["test"].items():
        row = {"rule": rule + (" (chosen)" if rule == dr.get("chosen_on_validation") else "")}
        row.update({metric_label(m): v.get("point") for m, v in metrics.items() if isinstance(v, Mapping)})
        rows.append(row)
    return table(rows, sortable=False)


def contributions(result: Mapping[str, Any]) -> Markup:
    """Mean drop in the predicted class's probability when each modality is masked."""
    mc = result.get("modality_contribution")
    if not mc:
        return Markup("")
    values = [v.get("mean_drop_in_predicted_prob") for v in mc.values() if isinstance(v, Mapping)]
    scale = max([abs(v) for v in values if is_number(v)] or [1.0]) or 1.0
    rows = []
    for m, v in mc.items():
        v = v if isinstance(v, Mapping) else {"value": v}
        drop = v.get("mean_drop_in_predicted_prob")
        row = {"modality": m, "mean drop": Cell(drop, bar(drop, scale, signed=True))}
        row.update({k: x for k, x in v.items() if k != "mean_drop_in_predicted_prob"})
        rows.append(row)
    return table(rows, headers={"films_with_modality": "test films with it"})


def components(result: Mapping[str, Any]) -> Markup:
    """The model's components: what each is, what it reads, and its weight in the blend."""
    comps = result.get("components")
    if not comps:
        return Markup("")
    rows = []
    for c in comps:
        if not isinstance(c, Mapping):
            continue
        weights = c.get("weights") or {}
        rows.append(
            {
                "component": c.get("name"),
                "kind": c.get("kind"),
                "reads": ", ".join(c.get("inputs") or []) or "-",
                "blend weight": sum(w for w in weights.values() if is_number(w)) if weights else None,
                "parameters": ", ".join(f"{k}={v}" for k, v in (c.get("params") or {}).items()) or "-",
            }
        )
    return table(rows)


def permutation(result: Mapping[str, Any]) -> Markup:
    """Permutation importance rows, one table per model, with the macro-F1 drop as a bar."""
    perm = result.get("permutation_importance")
    if not perm:
        return Markup("")
    df = pd.DataFrame(perm)
    parts = []
    for model, g in df.groupby("model", sort=False) if "model" in df else [("", df)]:
        recs = clean_records(g.drop(columns=["model"], errors="ignore"))
        scale = max([abs(r.get("f1_macro_drop_mean") or 0) for r in recs] or [1.0]) or 1.0
        for r in recs:
            if "f1_macro_drop_mean" in r:
                d = r["f1_macro_drop_mean"]
                sd = r.get("f1_macro_drop_std")
                label = f"{fmt(d)} ± {fmt(sd)}" if is_number(sd) else fmt(d)
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
        ("Model components", components(result), f"decision rule: {result.get('decision') or 'argmax'}"),
        ("Ablation and peers", ablation(result, split_dir), ""),
        ("Significance", significance(result), "paired bootstrap per metric, McNemar's test on exact class"),
        ("Calibration", calibration(result, split_dir), "probabilities are temperature-scaled"),
        (
            "Revenue range",
            revenue_range(result),
            "share of test films whose revenue falls inside each interval, calibrated on validation films",
        ),
        (
            "Decision rules",
            decision_rules(result),
            "the class from the same probabilities: most probable, median, rounded expected class",
        ),
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

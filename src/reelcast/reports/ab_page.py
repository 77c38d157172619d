"""The files of `reelcast ab-report`: ab_report.csv, paired.csv, drift.csv, ab_report.json and a
self-contained ab_report.html, and the text the command prints. Everything here formats an
evaluation.abtest.ABReport; nothing is computed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import reelcast.reports.html as rh
from reelcast.data.classes import CLASS_NAMES, NUM_CLASSES
from reelcast.files import atomic_write_json, atomic_write_text
from reelcast.reports.labels import AB_METRICS, METRIC_LABELS


def _fmt(v: float, low: float, high: float) -> str:
    return f"{v:.3f} [{low:.3f}, {high:.3f}]"


def report_text(r: Any) -> str:
    """What `reelcast ab-report` prints: per-arm metrics, the verdict, the drift table and the notes."""
    lines = ["Per arm (95 % bootstrap intervals):"]
    for row in r.arms.to_dict(orient="records"):
        lines.append(
            f"  {row['arm']:<10} films {row['films']:>5} (answered {row['answered']}, shadow {row['shadow']})"
        )
        for name in AB_METRICS:
            label = METRIC_LABELS[name]
            lines.append(f"      {label:<18} {_fmt(row[name], row[name + '_low'], row[name + '_high'])}")
    lines.append("")
    lines.extend(r.verdict)
    if not r.drift.empty:
        lines.append("")
        lines.append("Drift (PSI and test per period and quantity):")
        cols = ["period", "n", "arm", "quantity", "reference", "psi", "test", "p_value", "flag", "detail"]
        lines.append(r.drift[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    lines.append("")
    lines.extend(f"note: {n}" for n in r.notes)
    return "\n".join(lines)


def write_ab_report(r: Any, out: Path) -> None:
    """ab_report.csv, paired.csv, drift.csv, ab_report.json and ab_report.html (self-contained)."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "ab_report.csv", r.arms.to_csv(index=False))
    atomic_write_text(out / "paired.csv", r.paired.to_csv(index=False))
    atomic_write_text(out / "drift.csv", r.drift.to_csv(index=False))
    atomic_write_json(
        out / "ab_report.json",
        {
            **r.summary,
            "arms": r.arms.to_dict(orient="records"),
            "paired": r.paired.to_dict(orient="records"),
            "drift": r.drift.to_dict(orient="records"),
            "verdict": r.verdict,
            "notes": r.notes,
        },
    )
    atomic_write_text(out / "ab_report.html", render_html(r))


def _figures(r: Any) -> list[tuple[str, Any]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = []
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    for arm, curve in r.summary["reliability"].items():
        conf = np.asarray(curve["confidence"], dtype=float)
        acc = np.asarray(curve["accuracy"], dtype=float)
        ax.plot(conf, acc, "o-", label=arm)
    ax.set(xlabel="mean confidence", ylabel="share correct", title="Reliability (top class)", xlim=(0, 1))
    ax.legend()
    figs.append(("Calibration: share of films right against the confidence given", fig))
    counts = r.summary["class_counts"]
    fig, ax = plt.subplots(figsize=(7, 3.4))
    width = 0.8 / (2 * len(counts))
    x = np.arange(NUM_CLASSES)
    for i, (arm, c) in enumerate(counts.items()):
        pred, true = np.asarray(c["predicted"]), np.asarray(c["true"])
        ax.bar(x + (2 * i) * width, pred / max(pred.sum(), 1), width, label=f"{arm} predicted")
        ax.bar(x + (2 * i + 1) * width, true / max(true.sum(), 1), width, label=f"{arm} true", alpha=0.5)
    ax.set_xticks(x + 0.4 - width / 2, CLASS_NAMES, rotation=30, fontsize=8)
    ax.set(ylabel="share of films", title="Predicted and true classes (each arm's own edges)")
    ax.legend(fontsize=7)
    figs.append(("Predicted and true classes of the films with an outcome", fig))
    return figs


def _bullets(lines: list[str]) -> rh.Markup:
    return rh.Markup("<ul>" + "".join(f"<li>{rh.esc(x)}</li>" for x in lines) + "</ul>")


def render_html(r: Any) -> str:
    """The report as one HTML page with its figures inlined (reelcast.reports.html builders)."""
    s = r.summary["settings"]
    cols = ["arm", "model_ids", "films", "answered", "shadow", "mean_confidence"]
    arms = r.arms[cols + [c for n in AB_METRICS for c in (n, f"{n}_low", f"{n}_high")]]
    headers = {n: METRIC_LABELS[n] for n in AB_METRICS}
    chart = rh.interval_chart(
        [
            (f"{a['arm']} {headers[m]}", a[m], a[f"{m}_low"], a[f"{m}_high"])
            for m in ("accuracy", "qwk")
            for a in r.arms.to_dict(orient="records")
        ],
        title=f"{headers['accuracy']} and {headers['qwk']} with their intervals",
    )
    body = rh.join(
        [
            rh.section("Verdict", _bullets(r.verdict)),
            rh.section(
                "Per arm",
                rh.table(rh.fold_intervals(arms.to_dict(orient="records")), headers=headers) + chart,
                note=f"{100 * s['confidence']:.0f} % bootstrap intervals over films ({s['bootstrap']} "
                "resamples); each film scored against the class of its revenue under the edges of the model "
                "that predicted it",
            ),
            rh.section("Comparison", rh.table(r.paired.drop(columns=["sentence"], errors="ignore"))),
            rh.section("Figures", rh.join(rh.figure(fig, caption) for caption, fig in _figures(r))),
            rh.section(
                "Drift",
                rh.table(
                    r.drift,
                    row_class=lambda row: "warn" if "shift" in str(row.get("flag", "")).lower() else "",
                ),
                note=f"PSI over the reference's classes, deciles or two bins (missing / present); a shift is "
                f"flagged when PSI >= {s['psi_moderate']:g} (major >= {s['psi_major']:g}) and the test's p < "
                f"{s['drift_alpha']:g}: chi-square for class distributions and rates, two-sample "
                "Kolmogorov-Smirnov for budget and description length",
            ),
            rh.section("Models", rh.table(pd.DataFrame(r.summary["models"]))),
            rh.section("Notes", _bullets(r.notes)),
        ]
    )
    subtitle = f"log {r.summary['log']} · outcomes {r.summary['outcomes']}"
    toc = [
        (rh.slug(t), t) for t in ("Verdict", "Per arm", "Comparison", "Figures", "Drift", "Models", "Notes")
    ]
    return rh.page("reelcast A/B report", body, subtitle=subtitle, toc=toc)

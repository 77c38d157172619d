"""A what-if curve (evaluation.whatif.sweep's data) as a terminal table, a PNG and a self-contained page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import reelcast.reports.files as files
from reelcast.reports.html import figure, notice, page, section, table, write_page

FIELD_NAMES = {
    "budget_musd": "budget ($ M)",
    "release_date": "release date",
    "runtime": "runtime (min)",
    "year": "release year",
    "trailer": "trailer",
}


def field_name(field: str) -> str:
    """A varied field as a reader names it."""
    return FIELD_NAMES.get(field, field)


def _money(musd: float) -> str:
    return f"${musd / 1000:.2f} B" if musd >= 1000 else f"${musd:.0f} M" if musd >= 10 else f"${musd:.1f} M"


def curve_frame(curve: dict[str, Any], probabilities: bool = False) -> pd.DataFrame:
    """One row per point: the varied value(s), predicted and expected class, the most likely class, the
    revenue range when the model gives one (and every class probability with `probabilities`)."""
    names = curve["class_names"]
    rows = []
    for pt in curve["points"]:
        probs = np.asarray(pt["probabilities"])
        top = int(probs.argmax())
        row = {" / ".join(field_name(f) for f in curve["fields"]): pt["label"]}
        row["predicted"] = pt["class_name"]
        row["expected class"] = round(pt["expected_class"], 2)
        row["most likely"] = f"{names[top]} {100 * probs[top]:.0f}%"
        rev = pt.get("revenue")
        if rev:
            row["revenue median"] = _money(rev["median_musd"])
            if "80" in rev["intervals"]:
                low, high = rev["intervals"]["80"]
                row["80% range"] = f"{_money(low)} – {_money(high)}"
        if probabilities:
            row.update({f"p {n}": round(float(p), 3) for n, p in zip(names, probs, strict=True)})
        rows.append(row)
    return pd.DataFrame(rows)


def curve_text(curve: dict[str, Any]) -> str:
    """The curve as a fixed-width table for the terminal."""
    return files.format_table(curve_frame(curve), floatfmt="{:.2f}")


def curve_figure(curve: dict[str, Any]):
    """Stacked class probabilities along the first varied field, the expected class on top (and the
    median revenue with its 80% range on a second axis when the model gives one)."""
    points = [p for p in curve["points"] if _others_at_first(curve, p)]
    labels = [p["label"].split(" / ")[0] for p in points]
    x = np.arange(len(points))
    probs = np.array([p["probabilities"] for p in points]).T
    has_revenue = all(p.get("revenue") for p in points)
    fig, axes = plt.subplots(
        2 if has_revenue else 1,
        1,
        figsize=(max(7.0, 0.32 * len(points) + 3), 7 if has_revenue else 4.5),
        squeeze=False,
    )
    ax = axes[0, 0]
    colours = plt.cm.RdYlGn(np.linspace(0.05, 0.95, len(curve["class_names"])))
    ax.stackplot(x, probs, labels=curve["class_names"], colors=colours, alpha=0.85)
    ax.set_ylim(0, 1)
    ax.set_ylabel("class probability")
    twin = ax.twinx()
    twin.plot(
        x, [p["expected_class"] for p in points], color="black", marker="o", ms=3, label="expected class"
    )
    twin.set_ylim(0, len(curve["class_names"]) - 1)
    twin.set_ylabel("expected class (0 = Disaster)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.08, 1), fontsize=8)
    twin.legend(loc="lower left", bbox_to_anchor=(1.08, 0), fontsize=8)
    if has_revenue:
        rev = axes[1, 0]
        med = [p["revenue"]["median_musd"] for p in points]
        lo = [p["revenue"]["intervals"].get("80", [m, m])[0] for p, m in zip(points, med, strict=True)]
        hi = [p["revenue"]["intervals"].get("80", [m, m])[1] for p, m in zip(points, med, strict=True)]
        rev.fill_between(x, lo, hi, alpha=0.3, color="C1", label="80% range")
        rev.plot(x, med, color="C1", marker="o", ms=3, label="median")
        rev.set_ylabel("revenue ($ M)")
        rev.legend(loc="upper left", fontsize=8)
    bottom = axes[-1, 0]
    step = max(1, len(labels) // 15)
    for a in axes[:, 0]:
        a.set_xticks(x[::step], labels[::step] if a is bottom else [], rotation=45, ha="right", fontsize=8)
        a.set_xlim(0, max(len(x) - 1, 1))
    bottom.set_xlabel(field_name(curve["field"]))
    title = curve.get("title") or "the film"
    axes[0, 0].set_title(f"what if: {title}, varying {field_name(curve['field'])}")
    return fig


def _others_at_first(curve: dict[str, Any], point: dict[str, Any]) -> bool:
    # A two-field sweep is drawn along the first field, at the first value of the second.
    first = curve["points"][0]["values"]
    return all(point["values"][f] == first[f] for f in curve["fields"][1:])


def write_whatif(curve: dict[str, Any], out: Path, model: str = "") -> list[Path]:
    """whatif.png, whatif.html and whatif.csv in the folder `out`; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    png, html, csv = out / "whatif.png", out / "whatif.html", out / "whatif.csv"
    files.save_figure(curve_figure(curve), png)
    frame = curve_frame(curve, probabilities=True)
    files.write_csv(csv, frame)
    varied = " and ".join(field_name(f) for f in curve["fields"])
    body = section("The curve", figure(png, f"class probabilities as the {varied} changes", css_class="wide"))
    if len(curve["fields"]) > 1:
        other = field_name(curve["fields"][1])
        body += notice(
            f"The picture follows the first field at the first {other}; the table has every point.", "info"
        )
    body += section("Every point", table(frame, sortable=True))
    title = f"reelcast what-if: {curve.get('title') or 'a film'}"
    write_page(html, page(title, body, subtitle=f"varying {varied}" + (f" · model {model}" if model else "")))
    return [png, html, csv]

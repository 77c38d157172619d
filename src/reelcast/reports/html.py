"""Small builders for self-contained HTML report pages (no CDN, no external file: CSS, JS and images inline).

Every builder returns `Markup` (a str subclass meaning "already HTML"); anything else passed in as content
is escaped. Compose a page from these and write it with `write_page`:

    body = section("Scores", table(df, sortable=True) + figure(fig, "learning curves"))
    write_page(path, page("My report", body))

Builders: `page`, `section`, `tabs`, `details`, `table`, `kv_table`, `cards`, `figure`, `bar`,
`heatmap`, `interval_chart`, `notice`, `pre`, `generic` (any JSON value). They know nothing about
reelcast's runs (that is `run_report`), so other pages (an A/B comparison, a predictions list) reuse them.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np


class Markup(str):
    """A string that is already HTML: `esc` and the builders pass it through unchanged."""

    def __add__(self, other: str) -> Markup:
        return Markup(str.__add__(str(self), str(esc(other))))

    def __radd__(self, other: str) -> Markup:
        return Markup(str.__add__(str(esc(other)), str(self)))


def esc(value: Any) -> Markup:
    """HTML-escape anything that is not already Markup."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[Any], sep: str = "") -> Markup:
    """Concatenate parts (each escaped unless Markup)."""
    return Markup(esc(sep).join(esc(p) for p in parts))


def _num(value: Any) -> float | None:
    """The value as a finite float, or None when it is not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    return None


def fmt(value: Any, digits: int = 3) -> str:
    """A cell's text: floats to `digits` decimals, ints with thousands separators, None as a dash."""
    if isinstance(value, Markup):  # already HTML (a link, a bar): shown as it is, not escaped again
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if abs(v) < 1e-12:  # floating-point dust from a difference of equal numbers
            v = 0.0
        if v != 0 and abs(v) < 10 ** (-digits):
            return f"{v:.{digits}g}"
        return f"{v:.{digits}f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v, digits) for v in value)
    return str(value)


def slug(text: str) -> str:
    """An id usable in HTML and URLs."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x"


# ---- page structure ----------------------------------------------------------------------------------
def section(title: str, body: Any, id: str | None = None, note: str = "", level: int = 2) -> Markup:
    """A titled block; `note` is a short grey line under the title."""
    sid = id or slug(title)
    hint = Markup(f'<p class="note">{esc(note)}</p>') if note else Markup("")
    return Markup(f'<section id="{esc(sid)}"><h{level}>{esc(title)}</h{level}>{hint}{esc(body)}</section>')


def details(summary: str, body: Any, open: bool = False) -> Markup:
    """A collapsible block (closed unless open=True)."""
    return Markup(f"<details{' open' if open else ''}><summary>{esc(summary)}</summary>{esc(body)}</details>")


def tabs(panels: Mapping[str, Any], group: str, active: str | None = None) -> Markup:
    """Tabs over panels (label -> content); the first (or `active`) is shown. Printing shows all."""
    if not panels:
        return Markup("")
    first = active if active in panels else next(iter(panels))
    buttons, bodies = [], []
    for label, body in panels.items():
        pid = f"{slug(group)}-{slug(label)}"
        on = " active" if label == first else ""
        buttons.append(
            f'<button class="tab{on}" data-tab="{esc(pid)}" role="tab" '
            f'aria-selected="{"true" if on else "false"}">{esc(label)}</button>'
        )
        bodies.append(f'<div class="tab-panel{on}" id="{esc(pid)}" role="tabpanel">{esc(body)}</div>')
    return Markup(
        f'<div class="tabs" data-group="{esc(slug(group))}"><div class="tab-bar" role="tablist">'
        f"{''.join(buttons)}</div>{''.join(bodies)}</div>"
    )


def notice(text: Any, kind: str = "warn") -> Markup:
    """A coloured box: kind is warn, info or error."""
    return Markup(f'<div class="notice {esc(kind)}">{esc(text)}</div>')


def pre(text: str) -> Markup:
    """Preformatted text (configuration files, logs)."""
    return Markup(f"<pre>{esc(text)}</pre>")


def cards(items: Sequence[tuple[str, Any, str]]) -> Markup:
    """Headline tiles: (label, value, detail line) each; value is formatted with `fmt`."""
    out = []
    for label, value, detail in items:
        out.append(
            f'<div class="card"><div class="card-label">{esc(label)}</div>'
            f'<div class="card-value">{esc(value if isinstance(value, Markup) else fmt(value))}</div>'
            f'<div class="card-detail">{esc(detail)}</div></div>'
        )
    return Markup(f'<div class="cards">{"".join(out)}</div>')


# ---- tables ----------------------------------------------------------------------------------------
class Cell:
    """A table cell whose shown text (or Markup) differs from the value it sorts by."""

    __slots__ = ("value", "shown")

    def __init__(self, value: Any, shown: Any):
        self.value, self.shown = value, shown


def interval_text(point: Any, low: Any, high: Any, digits: int = 3) -> Markup:
    """`0.412 [0.310, 0.500]` with the interval in grey."""
    if _num(low) is None or _num(high) is None:
        return esc(fmt(point, digits))
    return Markup(
        f'<span class="iv">{esc(fmt(point, digits))} '
        f'<span class="muted">[{fmt(low, digits)}, {fmt(high, digits)}]</span></span>'
    )


def fold_intervals(records: Iterable[Mapping[str, Any]], digits: int = 3) -> list[dict[str, Any]]:
    """Rows where `x`, `x_low` and `x_high` all exist become one `x` Cell showing `x [low, high]`."""
    out = []
    for r in records:
        row = dict(r)
        for k in list(row):
            lo, hi = f"{k}_low", f"{k}_high"
            if lo in row and hi in row and _num(row.get(k)) is not None:
                row[k] = Cell(row[k], interval_text(row[k], row.pop(lo), row.pop(hi), digits))
        out.append(row)
    return out


def _records(rows: Any) -> list[dict[str, Any]]:
    if hasattr(rows, "to_dict"):  # a pandas DataFrame
        return [dict(r) for r in rows.to_dict("records")]
    return [dict(r) for r in rows]


def table(
    rows: Any,
    columns: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
    formats: Mapping[str, Any] | None = None,
    sortable: bool = True,
    caption: str = "",
    row_class: Any = None,
    digits: int = 3,
    css_class: str = "",
) -> Markup:
    """A table from a DataFrame or a list of dicts.

    columns: which keys, in order (default: every key, in first-seen order). headers: display names.
    formats: per column, a format string (`"{:.1%}"`) or a function value -> str or Markup.
    sortable: click a header to sort (numbers numerically, via each cell's data-v).
    row_class: function row -> CSS class (e.g. highlight the best row).
    """
    recs = _records(rows)
    if columns is None:
        seen: dict[str, None] = {}
        for r in recs:
            for k in r:
                seen.setdefault(k, None)
        columns = list(seen)
    headers = headers or {}
    formats = formats or {}
    head = "".join(f'<th scope="col">{esc(headers.get(c, c))}</th>' for c in columns)
    body = []
    for r in recs:
        cells = []
        for c in columns:
            v = r.get(c)
            f = formats.get(c)
            if isinstance(v, Cell):
                v, shown = v.value, v.shown
            elif callable(f):
                shown = f(v)
            elif f is not None and _num(v) is not None:
                shown = f.format(v)
            else:
                shown = fmt(v, digits)
            n = _num(v)
            sort_key = f' data-v="{n!r}"' if n is not None else ""
            num = " num" if n is not None else ""
            cells.append(f'<td class="{num.strip()}"{sort_key}>{esc(shown)}</td>')
        cls = row_class(r) if row_class else ""
        body.append(f"<tr{f' class={chr(34)}{esc(cls)}{chr(34)}' if cls else ''}>{''.join(cells)}</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    classes = " ".join(x for x in ("data", "sortable" if sortable else "", css_class) if x)
    return Markup(
        f'<div class="table-wrap"><table class="{classes}">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def kv_table(mapping: Mapping[str, Any], digits: int = 3, caption: str = "") -> Markup:
    """Two columns, key and value; nested values are rendered with `generic`."""
    rows = []
    for k, v in mapping.items():
        shown = generic(v, digits) if isinstance(v, (Mapping, list, tuple)) else esc(fmt(v, digits))
        rows.append(f'<tr><th scope="row">{esc(k)}</th><td>{shown}</td></tr>')
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return Markup(
        f'<div class="table-wrap"><table class="kv">{cap}<tbody>{"".join(rows)}</tbody></table></div>'
    )


def generic(value: Any, digits: int = 3, depth: int = 0) -> Markup:
    """Any JSON-like value: dicts as key/value tables, lists of dicts as tables, scalars as text."""
    if depth > 6:
        return esc(fmt(value, digits))
    if isinstance(value, Mapping):
        if not value:
            return Markup('<span class="muted">none</span>')
        return kv_table({str(k): v for k, v in value.items()}, digits)
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, Mapping) for v in value):
            flat = [
                {k: (fmt(x, digits) if isinstance(x, (list, dict)) else x) for k, x in v.items()}
                for v in value
            ]
            return table(flat, digits=digits)
        if value and all(isinstance(v, (list, tuple)) for v in value):
            return table(
                [{str(i): x for i, x in enumerate(row)} for row in value], sortable=False, digits=digits
            )
        return esc(fmt(list(value), digits)) if value else Markup('<span class="muted">none</span>')
    return esc(fmt(value, digits))


# ---- small visual pieces -------------------------------------------------------------------------
def bar(
    value: float | None,
    scale: float = 1.0,
    label: str | None = None,
    signed: bool = False,
    compact: bool = False,
) -> Markup:
    """A horizontal bar for a table cell: value/scale of the width, with the value (or label) beside it.

    signed=True draws negative values in another colour (e.g. contributions); compact=True is a short
    bar for tables with many bar columns.
    """
    n = _num(value)
    text = label if label is not None else fmt(value)
    if n is None:
        return esc(text)
    frac = 0.0 if scale == 0 else max(0.0, min(1.0, abs(n) / abs(scale)))
    neg = " neg" if (signed and n < 0) else ""
    size = " compact" if compact else ""
    return Markup(
        f'<span class="bar-cell{size}"><span class="bar-track"><span class="bar{neg}" '
        f'style="width:{100 * frac:.1f}%"></span></span><span class="bar-text">{esc(text)}</span></span>'
    )


def heatmap(
    matrix: Sequence[Sequence[float]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    row_title: str = "",
    col_title: str = "",
    caption: str = "",
    digits: int = 0,
) -> Markup:
    """A matrix as a table whose cells are shaded by value (a confusion matrix, a correlation table)."""
    m = np.asarray(matrix, dtype=float)
    top = float(np.nanmax(m)) if m.size else 0.0
    head = (
        f'<th class="corner">{esc(row_title)} ↓ / {esc(col_title)} →</th>'
        if (row_title or col_title)
        else "<th></th>"
    )
    head += "".join(f'<th scope="col">{esc(c)}</th>' for c in col_labels)
    rows = []
    for i, label in enumerate(row_labels):
        cells = []
        for j in range(m.shape[1]):
            v = m[i, j]
            a = 0.0 if top <= 0 or math.isnan(v) else v / top
            colour = f"rgba(37, 99, 235, {0.08 + 0.85 * a:.2f})" if a > 0 else "transparent"
            fg = "#fff" if a > 0.55 else "inherit"
            diag = " diag" if i == j else ""
            text = fmt(int(v) if digits == 0 and not math.isnan(v) else v, digits)
            cells.append(f'<td class="hm{diag}" style="background:{colour};color:{fg}">{esc(text)}</td>')
        rows.append(f'<tr><th scope="row">{esc(label)}</th>{"".join(cells)}</tr>')
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return Markup(
        f'<div class="table-wrap"><table class="heatmap">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def interval_chart(
    rows: Sequence[tuple[str, float, float | None, float | None]],
    title: str = "",
    lo: float | None = None,
    hi: float | None = None,
    highlight: str | None = None,
    width: int = 560,
) -> Markup:
    """Inline SVG: one row per (label, point, low, high), a dot with its interval on a shared axis."""
    rows = [r for r in rows if _num(r[1]) is not None]
    if not rows:
        return Markup("")
    values = [v for r in rows for v in r[1:] if _num(v) is not None]
    lo = min(0.0, min(values)) if lo is None else lo
    hi = max(1.0, max(values)) if hi is None else hi
    span = (hi - lo) or 1.0
    left, right, row_h, top = 150, 20, 26, 26 if title else 8
    plot_w = width - left - right
    height = top + row_h * len(rows) + 28

    def x(v: float) -> float:
        return left + plot_w * (v - lo) / span

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{esc(title or "intervals")}</title>'
    ]
    if title:
        parts.append(f'<text x="{left}" y="16" class="svg-title">{esc(title)}</text>')
    for k in range(6):  # axis ticks
        v = lo + span * k / 5
        parts.append(
            f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{top}" y2="{height - 24}" class="grid"/>'
            f'<text x="{x(v):.1f}" y="{height - 8}" class="tick" text-anchor="middle">{v:.2f}</text>'
        )
    for i, (label, point, low, high) in enumerate(rows):
        y = top + row_h * i + row_h / 2
        cls = " hl" if label == highlight else ""
        parts.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" class="lbl{cls}">{esc(label)}</text>'
        )
        if _num(low) is not None and _num(high) is not None:
            parts.append(
                f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{y:.1f}" y2="{y:.1f}" class="ci{cls}"/>'
            )
        parts.append(
            f'<circle cx="{x(point):.1f}" cy="{y:.1f}" r="5" class="pt{cls}"><title>{esc(label)}: '
            f"{fmt(point)}"
            + (f" [{fmt(low)}, {fmt(high)}]" if _num(low) is not None else "")
            + "</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


# ---- images ------------------------------------------------------------------------------------------
def png_data_uri(png: bytes) -> str:
    """`data:image/png;base64,...` for an <img src>."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure(source: Any, caption: str = "", alt: str = "", css_class: str = "") -> Markup:
    """An inline PNG: source is a matplotlib Figure (closed after), PNG bytes, or a path to a PNG."""
    if source is None:
        return Markup("")
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            return Markup("")
        png = path.read_bytes()
    elif isinstance(source, (bytes, bytearray)):
        png = bytes(source)
    else:  # a matplotlib figure
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        source.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(source)
        png = buf.getvalue()
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return Markup(
        f'<figure class="{esc(css_class)}"><img alt="{esc(alt or caption)}" '
        f'src="{png_data_uri(png)}">{cap}</figure>'
    )


# ---- the page ----------------------------------------------------------------------------------------
def _static(name: str) -> str:
    """A file of reports/static (shipped in the wheel as package data)."""
    return resources.files("reelcast.reports").joinpath("static", name).read_text(encoding="utf-8")


# Read once: every page inlines the same style sheet and script.
CSS = _static("report.css")
JS = _static("report.js")


def page(
    title: str, body: Any, subtitle: Any = "", toc: Sequence[tuple[str, str]] = (), footer: Any = ""
) -> str:
    """A whole HTML document with the shared CSS and JS inline; toc is (anchor id, label) pairs."""
    nav = (
        '<nav class="toc">' + "".join(f'<a href="#{esc(a)}">{esc(lbl)}</a>' for a, lbl in toc) + "</nav>"
        if toc
        else ""
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # Everything is inline; the policy makes sure no request leaves the user's machine.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f'<header class="top"><h1>{esc(title)}</h1><div class="sub">{esc(subtitle)}</div></header>'
        f"{nav}<main>{esc(body)}</main><footer>{esc(footer)}</footer><script>{JS}</script></body></html>\n"
    )


def write_page(path: str | Path, document: str) -> Path:
    """Write an HTML document atomically; returns the path."""
    from reelcast.files import atomic_write_text

    path = Path(path)
    atomic_write_text(path, document)
    return path

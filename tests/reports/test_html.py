"""The generic HTML builders: escaping, sortable cells, intervals, inline images, any-JSON rendering."""

import base64
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from reelcast.reports.html import (  # noqa: E402
    Cell,
    Markup,
    bar,
    esc,
    figure,
    fmt,
    fold_intervals,
    generic,
    heatmap,
    interval_chart,
    page,
    section,
    table,
    tabs,
)


def test_text_is_escaped_and_markup_is_not():
    assert esc("<b>&") == "&lt;b&gt;&amp;"
    assert esc(Markup("<b>x</b>")) == "<b>x</b>"
    html = section("A <title>", Markup("<p>ok</p>") + "<script>")
    assert "A &lt;title&gt;" in html and "<p>ok</p>&lt;script&gt;" in html


def test_fmt_numbers_and_missing():
    assert fmt(None) == "–" and fmt(float("nan")) == "–"
    assert fmt(0.41234) == "0.412" and fmt(1234567) == "1,234,567" and fmt(True) == "yes"
    assert fmt(-5.55e-18) == "0.000"  # floating-point dust is zero
    assert fmt(0.0004) == "0.0004"


def test_table_sorts_by_value_and_shows_cells():
    df = pd.DataFrame({"model": ["a", "<b>"], "score": [0.5, 0.25]})
    html = table(df, row_class=lambda r: "best" if r["model"] == "a" else "")
    assert 'class="data sortable"' in html and '<tr class="best">' in html
    assert 'data-v="0.25"' in html and "&lt;b&gt;" in html
    html = table([{"x": Cell(3, Markup("<i>three</i>"))}])
    assert 'data-v="3.0"' in html and "<i>three</i>" in html
    # A Markup value straight in a row (no Cell) is HTML too, not escaped text.
    html = table([{"file": Markup('<a href="x.csv">x.csv</a>'), "name": "<a>"}])
    assert '<a href="x.csv">x.csv</a>' in html and "&lt;a&gt;" in html


def test_fold_intervals_keeps_unknown_columns():
    rows = fold_intervals([{"model": "m", "acc": 0.5, "acc_low": 0.4, "acc_high": 0.6, "new_metric": 7}])
    assert set(rows[0]) == {"model", "acc", "new_metric"}
    html = table(rows)
    assert "0.500" in html and "[0.400, 0.600]" in html and 'data-v="0.5"' in html and "new_metric" in html


def test_figure_inlines_png():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    html = figure(fig, "a line")
    src = re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1)
    assert base64.b64decode(src)[:8] == b"\x89PNG\r\n\x1a\n"
    assert figure("/no/such.png") == ""


def test_generic_renders_any_json():
    html = generic({"peers": [{"name": "ridge", "f1": 0.3}], "note": "x", "grid": [[1, 2], [3, 4]], "e": {}})
    assert "ridge" in html and "0.300" in html and "note" in html and "none" in html


def test_visual_pieces():
    assert 'style="width:50.0%"' in bar(0.5)
    assert "neg" in bar(-0.2, 1.0, signed=True)
    hm = heatmap([[1, 0], [0, 2]], ["a", "b"], ["a", "b"], "true", "predicted")
    assert hm.count("<td") == 4 and "diag" in hm
    svg = interval_chart([("s1", 0.3, 0.2, 0.4), ("s2", 0.5, None, None)], "t", highlight="s1")
    assert svg.startswith("<svg") and svg.count("<circle") == 2 and "hl" in svg
    t = tabs({"one": "1", "two": "2"}, "g", active="two")
    assert t.count("tab-panel active") == 1 and 'id="g-two"' in t


def test_style_and_script_come_from_package_files():
    from importlib import resources

    static = resources.files("reelcast.reports").joinpath("static")
    css = static.joinpath("report.css").read_text(encoding="utf-8")
    js = static.joinpath("report.js").read_text(encoding="utf-8")
    html = page("t", "body")
    assert f"<style>{css}</style>" in html and f"<script>{js}</script>" in html
    assert "table.sortable" in css and "querySelectorAll('table.sortable')" in js


def test_page_is_self_contained():
    doc = page("T", section("S", "body"), "sub", toc=[("s", "S")])
    assert doc.startswith("<!doctype html>") and "<style>" in doc and "<script>" in doc
    assert "default-src 'none'" in doc  # the page may not fetch anything
    assert not re.search(r'(src|href)="(https?:)?//', doc)

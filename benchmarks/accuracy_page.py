"""docs/results.md from the summaries of benchmarks/accuracy.py (writes text; computes nothing new).

Hand-written sections that other benchmarks add to the page (any `## ` section whose title this writer
does not produce) are kept, after the generated part, so a re-run does not erase them.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections import Counter

from accuracy_scores import LABEL_METRICS, PROB_METRICS, edge

TITLES = {
    "cv5": "5-fold cross-validation (each film tested once)",
    "splits": "The three random splits (70-20-10, 75-15-10, 80-10-10; pooled)",
    "date": "Temporal split (train oldest, test newest)",
}
HEADLINE_ORDER = ("date", "80-10-10", "75-15-10", "70-20-10", "splits", "cv5")
GENERATED = {"Caveats"}


def title(protocol: str) -> str:
    """A protocol's section title."""
    return TITLES.get(protocol, f"Random split {protocol}")


def rule_cell(rules: list[str]) -> str:
    """The rule per split: one name, or counts when splits chose differently."""
    c = Counter(rules)
    return next(iter(c)) if len(c) == 1 else ", ".join(f"{r} ×{n}" for r, n in c.most_common())


def _m(row: dict, m: str) -> str:
    v = row["metrics"][m]
    digits = 4 if m == "ranked_probability_score" else 3
    return f"{v['point']:.{digits}f} [{v['low']:.{digits}f}, {v['high']:.{digits}f}]"


def _d(t: dict, digits: int = 3, flip: bool = False) -> str:
    s = -1 if flip else 1
    # + 0.0 turns a negative zero into a plain one, so a null difference never prints as -0.000
    lo, hi = sorted((s * t["low"] + 0.0, s * t["high"] + 0.0))
    return f"{s * t['diff'] + 0.0:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def _dp(t: dict, digits: int = 3) -> str:
    return f"{_d(t, digits)}, p {t['p_value']:.2g}"


def edge_sentence(s: dict) -> str:
    """What reelcast's edge comes from on one protocol, in numbers, and where it has none."""
    f = edge(s)
    parts = []
    if "features" in f:
        t = f["features"]  # basic - all: flipped to all - basic
        parts.append(
            "the columns beyond the basic ones change RPS by "
            f"{_d(t['ranked_probability_score'], 4, True)} and QWK by {_d(t['qwk'], 3, True)}"
        )
    if "best_single" in f:
        name, t = f["best_single"]
        parts.append(
            f"the blend against its best single part ({name.split(' [')[0]}) changes RPS by "
            f"{_d(t['ranked_probability_score'], 4, True)} and QWK by {_d(t['qwk'], 3, True)}"
        )
    if "rule" in f:
        t = f["rule"]
        rules = rule_cell(s["rows"][f["full"]]["rules"])
        if rules == "argmax":
            parts.append("the validation films chose the most probable class, so the rule adds nothing")
        else:
            parts.append(
                f"the chosen rule ({rules}) against the most probable class changes QWK by "
                f"{_d(t['qwk'], 3, True)} and exact accuracy by {_d(t['accuracy'], 3, True)}"
            )
    out = ""
    if f["total"]:
        t = f["total"]
        out += (
            f"Against the plain GBM on the basic columns, {t['reference']} changes RPS by "
            f"{_d(t['ranked_probability_score'], 4)} and QWK by {_d(t['qwk'])}. "
        )
    out += ("Taken apart: " + "; ".join(parts) + " (RPS: lower is better). ") if parts else ""
    better, level, worse = [], [], []
    for peer, t in f["peers"].items():
        rps = t["ranked_probability_score"]
        word = t["verdict"].split(";")[0].removeprefix("RPS: ")
        cell = f"{peer} (RPS {t['reference']} − peer {_d(rps, 4)})"
        {"better": better, "worse": worse}.get(word, level).append(cell)
    if better:
        out += "On equal columns and rules reelcast has a lower RPS than " + ", ".join(better) + ". "
    if level:
        out += "On equal columns and rules reelcast is NOT better than " + ", ".join(level) + ". "
    if worse:
        out += "On equal columns and rules reelcast is WORSE than " + ", ".join(worse) + ". "
    return out.strip()


def headline(results: dict) -> list[str]:
    """One computed sentence per table, on its most telling protocol (the temporal split first)."""
    lines = []
    for r in results.values():
        protocols = r["summary"]
        p = next((x for x in HEADLINE_ORDER if x in protocols), None)
        if p is None:
            continue
        lines.append(f"- **{r['name']}, {title(p).split(' (')[0].lower()}:** {edge_sentence(protocols[p])}")
    if any("NOT better" in x or "WORSE" in x for x in lines):
        lines.append(
            "- Where reelcast is not better than a peer on equal columns and rules, closing that gap is the "
            "accuracy target of the next round of work."
        )
    return lines


def intro(a, seconds: float, text_desc: str, command: str) -> list[str]:
    """The page's header: how it was made and what every row means."""
    la = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    L = [
        "# Results on real film tables",
        "",
        f"Generated by `{command}` on {dt.date.today().isoformat()} in {seconds / 60:.0f} min on "
        f"{os.cpu_count()} CPU cores ({platform.machine()}, a shared machine; load average {la:.1f} at the "
        "end). Re-running it rewrites this page down to the hand-written sections at its end.",
        "",
        "## Headline",
        "",
    ]
    return L


def method(a, text_desc: str, results: dict) -> list[str]:
    """How the comparison is kept equal."""
    L = [
        "## How the comparison is kept equal",
        "",
        "- Every model sees the same training films, stops or chooses on the same validation films and is "
        "scored on the same test films; the eight class edges are the octiles of that training portion's "
        "revenue (chance: 0.125 exact, about 0.34 1-away, QWK 0).",
        "- **Decision rule, the same for every model.** Each model gives validation and test probabilities; "
        "its rule is chosen on its validation films by exact accuracy + QWK (reelcast's own procedure) "
        "among `argmax` (most probable class), `median` (where the cumulative probability passes one half) "
        "and `expected` (the probability-weighted mean class, rounded). The tables name the rule per row "
        "(with counts where splits chose differently). reelcast saves the rule it chose with the model; that "
        "rule is the ablation's last row.",
        "- **Columns, the same for every model.** `basic` = plot, budget, genres, release date, runtime "
        "(for reelcast and the GBM: the feature groups reelcast derives from them: year, month, calendar, "
        "budget, constant-dollar budget, budget flags, genres). `all` = every pre-release column reelcast "
        "reads (keywords, companies, countries, language, franchise, and the director / cast track record "
        "where the IMDB-5000 people table joins, earlier training films only). The plain GBM gets "
        "reelcast's own encoded features (`TabularEncoder`) for the set, without the plot; AutoGluon gets "
        "the raw columns of the set (plot as text, lists as `|`-joined text) plus reelcast's derived "
        "features (calendar and franchise flags, company and people track records).",
        f"- Text model: {text_desc}, frozen, mean-pooled. No post-release column (votes, ratings, "
        "popularity, revenue-derived) reaches any model.",
        "- **reelcast** = the defaults of `reelcast train`: the text + metadata fusion network, a LightGBM "
        "classifier and a LightGBM log-revenue regressor (the plot enters the trees as an out-of-fold ridge "
        "prediction), blended with weights chosen on the validation films. **plain GBM** = scikit-learn "
        "HistGradientBoostingClassifier, class-balanced, early-stopped on the validation films. **text "
        "only** = the fusion network on the plot. **majority** = the training films' class shares.",
    ]
    if a.autogluon and "autogluon" in a.models:
        L.append(
            f"- **AutoGluon** = AutoGluon Tabular, `presets='{a.ag_presets}'`, time limit {a.ag_time} s "
            "per fit (wall time: on a loaded machine it trains fewer models), on "
            f"{', '.join(a.ag_protocols)}; "
            "tuning data = the validation films (bagged presets: the holdout that weights their ensemble)."
        )
    L += [
        "- **Scores.** exact / 1-away / QWK depend on the decision rule; log-loss and the ranked "
        "probability score (RPS, the ordinal Brier score: squared error of the cumulative class "
        "probabilities, 0 best) are proper scores of the probabilities and need no rule. A claim that one "
        "model is better rests on RPS first, then log-loss, then QWK.",
        f"- Intervals: 95 % percentile bootstrap over the pooled test predictions, {a.bootstrap} resamples; "
        "comparisons are paired bootstraps of the difference (reelcast − peer, on the same resampled "
        "films), alpha = 0.05, no correction for multiple comparisons. The three random splits share "
        "their test films, so their pooled intervals are too narrow.",
        "- Published anchor (other films, 9 classes, not comparable row by row): Sharda & Delen (2006), "
        "36.9 % exact and 75.2 % 1-away.",
        "",
    ]
    return L


def protocol_section(protocol: str, res: list[dict], s: dict) -> list[str]:
    """One protocol: models, comparisons against reelcast, the ablation."""
    sizes = res[0]["sizes"]
    per = " per fold" if protocol == "cv5" else ""
    L = [
        f"### {title(protocol)}",
        "",
        f"Training / validation / test films: {sizes['train']} / {sizes['val']} / {sizes['test']}{per}"
        f"{' (first split)' if protocol == 'splits' else ''}; "
        f"{s['n_test']} pooled test predictions.",
        "",
        edge_sentence(s),
        "",
        "| model | columns | rule | " + " | ".join(lab for _, lab in LABEL_METRICS + PROB_METRICS) + " |",
        "|---|---|---|" + "---|" * (len(LABEL_METRICS) + len(PROB_METRICS)),
    ]
    for n, r in s["rows"].items():
        if r["kind"] != "peer":
            continue
        cells = [_m(r, m) for m, _ in LABEL_METRICS + PROB_METRICS]
        L.append(
            f"| {n.split(' [')[0]} | {r['cols'] or '-'} | {rule_cell(r['rules'])} | "
            + " | ".join(cells)
            + " |"
        )
    if s["tests"]:
        L += [
            "",
            "reelcast against each peer on equal columns (differences reelcast − peer; negative RPS and "
            "log-loss, positive QWK and exact favour reelcast):",
            "",
            "| peer | against | RPS diff [95 % CI], p | log-loss diff, p | QWK diff, p | exact diff, p "
            "| verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        f = edge(s)
        for n, t in s["tests"].items():
            L.append(
                f"| {n} | {t['reference']} | {_dp(t['ranked_probability_score'], 4)} | "
                f"{_dp(t['log_loss'])} | {_dp(t['qwk'])} | {_dp(t['accuracy'])} "
                f"| {f['peers'][n]['verdict']} |"
            )
    if s["ablation"]:
        L += [
            "",
            f"Ablation: each part of reelcast, differences against {s['ablation'][0]['against']} "
            "(row − reelcast):",
            "",
            "| step | rule | exact | QWK | RPS | RPS diff [95 % CI] | QWK diff [95 % CI] |",
            "|---|---|---|---|---|---|---|",
        ]
        for ab in s["ablation"]:
            r, same = s["rows"][ab["row"]], ab["row"] == ab["against"]
            m = {k: v["point"] for k, v in r["metrics"].items()}
            diffs = "- | -" if same else f"{_d(ab['ranked_probability_score'], 4)} | {_d(ab['qwk'])}"
            L.append(
                f"| {ab['step']} | {rule_cell(r['rules'])} | {m['accuracy']:.3f} | {m['qwk']:.3f} | "
                f"{m['ranked_probability_score']:.4f} | {diffs} |"
            )
    blends = [
        r["info"].get("blend")
        for n, r in s["rows"].items()
        if n.startswith("reelcast") and r["info"].get("blend")
    ]
    if blends:
        L += [
            "",
            f"Blend weights chosen on the validation films (first split, richest columns): {blends[-1]}.",
        ]
    L.append("")
    return L


def kept_sections(old: str, generated: set[str]) -> str:
    """The `## ` sections of the old page this writer does not produce (other benchmarks' results)."""
    keep, current = [], None
    for line in old.splitlines():
        if line.startswith("## "):
            current = line[3:].strip() not in generated
        if current:
            keep.append(line)
    return "\n".join(keep).strip()


def write_doc(
    results: dict, a, seconds: float, text_desc: str, command: str, old: str = "", tables=()
) -> str:
    """The whole page: header, computed headline, method, one section per table, caveats, kept sections.

    `tables`: every table name this benchmark can write, so a partial run drops their stale sections.
    """
    L = intro(a, seconds, text_desc, command) + headline(results) + [""] + method(a, text_desc, results)
    for r in results.values():
        cols = "; ".join(f"`{c}` = {', '.join(v)}" for c, v in r["columns"].items())
        L += [f"## {r['name']}", "", f"{r['rows_kept']} films with revenue. Feature groups: {cols}.", ""]
        L += [*r["notes"], ""] if r["notes"] else []
        for protocol, s in r["summary"].items():
            L += protocol_section(protocol, r["protocols"][protocol], s)
    L += [
        "## Caveats",
        "",
        "- The machine is shared; AutoGluon's time limit is wall time, reelcast's fits have none.",
        "- Every rule is reelcast's own (`models.ensemble.decide`), chosen for every model alike on its "
        "validation films; the ablation's last row is the rule the saved model ships with.",
        "- The plain GBM does not read the plot; reelcast and AutoGluon do.",
        "",
    ]
    generated = GENERATED | {"Headline", "How the comparison is kept equal", *tables}
    kept = kept_sections(old, generated)
    return "\n".join(L).rstrip() + "\n" + (f"\n{kept}\n" if kept else "")

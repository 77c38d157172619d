"""Scores for benchmarks/accuracy.py: rules applied, pooled metrics with intervals, paired comparisons,
and the ablation's step-by-step differences. Data only; accuracy_page.py writes it.

A run of one split is {"split", "sizes", "y_val", "y", "rows"}, where each row is
{"val", "test", "info", "cols", "kind", "rule"}: `rule` None means "chosen on the validation films".
"""

from __future__ import annotations

import numpy as np
from accuracy_fits import apply_rule, choose_rule

from reelcast.evaluation.metrics import metric_fns, proper_score_fns
from reelcast.evaluation.stats import bootstrap_ci, paired_bootstrap

LABEL_METRICS = [("accuracy", "exact"), ("one_away_accuracy", "1-away"), ("qwk", "QWK")]
PROB_METRICS = [("log_loss", "log-loss"), ("ranked_probability_score", "RPS")]
LOWER_BETTER = {m for m, _ in PROB_METRICS}
# The ablation, in the order it adds parts: (row label template, what the step is).
ABLATION = [
    ("reelcast [basic]", "basic columns: the whole model (blend, chosen rule)"),
    ("fusion alone [{c}]", "{c} columns: the fusion network alone (chosen rule)"),
    ("trees alone [{c}]", "{c} columns: the trees alone (their own blend, chosen rule)"),
    ("blend, argmax [{c}]", "{c} columns: the blend, most probable class"),
    ("reelcast [{c}]", "{c} columns: the blend, chosen rule (reelcast)"),
    ("blend, own rule [{c}]", "{c} columns: the blend, the rule the saved model ships with"),
]


def reference(label: str, rows: dict) -> str:
    """The reelcast row a row is compared against: the same column set, else the richest one run."""
    cols = rows[label]["cols"]
    if cols and f"reelcast [{cols}]" in rows:
        return f"reelcast [{cols}]"
    return "reelcast [all]" if "reelcast [all]" in rows else "reelcast [basic]"


def ablation_rows(rows: dict) -> list[tuple[str, str]]:
    """(row label, step) of the ablation for the richest column set run, rows that exist only."""
    c = "all" if "reelcast [all]" in rows else "basic"
    out, seen = [], set()
    for tmpl, step in ABLATION[1:] if c == "basic" else ABLATION:
        label = tmpl.format(c=c)
        if label in rows and label not in seen:
            seen.add(label)
            out.append((label, step.format(c=c)))
    return out


def score_fns() -> dict:
    """Every metric by name: label metrics take classes, proper scores take probabilities."""
    fns = metric_fns()
    return {**{m: fns[m] for m, _ in LABEL_METRICS}, **{m: proper_score_fns()[m] for m, _ in PROB_METRICS}}


def summarise(res: list[dict], n_boot: int, seed: int) -> dict:
    """Pooled test metrics with intervals, the rule per split, paired tests against reelcast."""
    fns = score_fns()
    labels = list(res[0]["rows"])
    y = np.concatenate([r["y"] for r in res])
    pred, probs, rules = {}, {}, {}
    for n in labels:
        rules[n] = [r["rows"][n]["rule"] or choose_rule(r["rows"][n]["val"], r["y_val"]) for r in res]
        pred[n] = np.concatenate(
            [apply_rule(r["rows"][n]["test"], k) for r, k in zip(res, rules[n], strict=True)]
        )
        probs[n] = np.concatenate([r["rows"][n]["test"] for r in res])

    def arg(n, m):  # the label metrics read classes, the proper scores probabilities
        return probs[n] if m in LOWER_BETTER else pred[n]

    out: dict = {"rows": {}, "tests": {}, "ablation": [], "n_test": len(y)}
    for n in labels:
        first = res[0]["rows"][n]
        ci = {m: bootstrap_ci(y, arg(n, m), fns[m], n_boot=n_boot, seed=seed) for m in fns}
        out["rows"][n] = {
            "kind": first["kind"],
            "cols": first["cols"],
            "rules": rules[n],
            "metrics": {m: {"point": c[0], "low": c[1], "high": c[2]} for m, c in ci.items()},
            "info": first["info"],
        }
    rows = out["rows"]
    for n in labels:
        if rows[n]["kind"] != "peer" or n.startswith("reelcast"):
            continue
        ref = reference(n, rows)
        t = {m: paired_bootstrap(y, arg(ref, m), arg(n, m), fns[m], n_boot=n_boot, seed=seed) for m in fns}
        out["tests"][n] = {"reference": ref, **t}
    full = _full(rows)
    if full != "reelcast [basic]" and "plain GBM [basic]" in rows:
        # The old page's comparison (reelcast on everything against the GBM on the basics): the total
        # that the ablation takes apart.
        t = {
            m: paired_bootstrap(
                y, arg(full, m), arg("plain GBM [basic]", m), fns[m], n_boot=n_boot, seed=seed
            )
            for m in fns
        }
        out["total"] = {"reference": full, "peer": "plain GBM [basic]", **t}
    for label, step in ablation_rows(rows):
        ref = _full(rows)
        t = {
            m: paired_bootstrap(y, arg(label, m), arg(ref, m), fns[m], n_boot=n_boot, seed=seed)
            for m in ("qwk", "ranked_probability_score", "accuracy")
        }
        out["ablation"].append({"row": label, "step": step, "against": ref, **t})
    return out


def _full(rows: dict) -> str:
    return "reelcast [all]" if "reelcast [all]" in rows else "reelcast [basic]"


def verdict(t: dict, alpha: float = 0.05) -> str:
    """reelcast against a peer, on the proper scores first (RPS, then log-loss), then QWK."""

    def side(r, lower_better):
        if r["p_value"] >= alpha or (r["low"] <= 0 <= r["high"]):
            return 0
        better = r["high"] < 0 if lower_better else r["low"] > 0
        return 1 if better else -1

    rps, ll, q = (
        side(t["ranked_probability_score"], True),
        side(t["log_loss"], True),
        side(t["qwk"], False),
    )
    word = {1: "better", -1: "worse", 0: "no significant difference"}
    return f"RPS: {word[rps]}; log-loss: {word[ll]}; QWK: {word[q]}"


def edge(summary: dict) -> dict:
    """The numbers the headline quotes: each part's gain and every peer's proper-score verdict."""
    rows, ab = summary["rows"], {a["row"]: a for a in summary["ablation"]}
    full = _full(rows)
    facts: dict = {"full": full, "peers": {}, "total": summary.get("total")}
    if full == "reelcast [all]" and "reelcast [basic]" in ab:
        facts["features"] = ab["reelcast [basic]"]  # diff = basic - all; the headline flips the sign
    c = full.removeprefix("reelcast ")
    singles = [n for n in (f"fusion alone {c}", f"trees alone {c}") if n in rows]
    if singles:
        best = min(singles, key=lambda n: rows[n]["metrics"]["ranked_probability_score"]["point"])
        facts["best_single"] = (best, ab[best])
    if f"blend, argmax {c}" in ab:
        facts["rule"] = ab[f"blend, argmax {c}"]
    for n, t in summary["tests"].items():
        facts["peers"][n] = {"verdict": verdict(t), **t}
    return facts

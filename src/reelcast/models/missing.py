"""What a model loses when a film lacks some of its inputs, measured on the validation films.

At fit time `costs` scores the blended model on the validation films as they are, with each optional
input (keywords, companies, ...) made unknown alone, and with every optional input unknown (the basic
columns only). The table is saved with the model; `film_reports` names each film's unknown inputs with
the validation accuracy of that pattern, and `absent_columns` says what a table lacking a trained column
should expect. Films lacking every optional input are predicted by the ensemble's basics route, whose
weights were fit on these same validation films, so that row is a little optimistic.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from reelcast.evaluation.metrics import accuracy, one_away_accuracy, qwk

if TYPE_CHECKING:
    from reelcast.features.featurize import FilmInputs
    from reelcast.features.tabular import TabularEncoder
    from reelcast.models.ensemble import Ensemble

log = logging.getLogger(__name__)

BASICS_ONLY = "basic columns only"


def masked(inputs: FilmInputs, encoder: TabularEncoder, names: list[str]) -> FilmInputs:
    """The films as if every one of them lacked the inputs `names` (the network's view; the trees blank
    the same cells to NaN from the known columns)."""
    from reelcast.features.featurize import FilmInputs

    X = encoder.mask_inputs(inputs.arrays["tabular"], np.arange(len(inputs)), names, fill=True)
    arrays = {**inputs.arrays, "tabular": X}
    return FilmInputs(inputs.film_ids, list(inputs.modalities), arrays, inputs.mask, inputs.status)


def _scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {
        "exact": float(accuracy(y, pred)),
        "one_away": float(one_away_accuracy(y, pred)),
        "qwk": float(qwk(y, pred)),
    }


def costs(model: Ensemble, encoder: TabularEncoder | None, val: FilmInputs, y_val: np.ndarray) -> dict:
    """Validation accuracy with nothing masked, each optional input masked alone, and all of them."""
    if encoder is None or not len(y_val) or "tabular" not in val.arrays:
        return {}
    optional = list(encoder.optional_inputs)
    patterns = [[]] + [[i] for i in optional] + ([optional] if len(optional) > 1 else [])
    rows = []
    for names in patterns:
        films = masked(val, encoder, names) if names else val
        row = {"unknown": names, **_scores(y_val, model.decide(model.proba(films)))}
        if names and names == optional:
            row["label"] = BASICS_ONLY
        rows.append(row)
    return {"basis": "validation films", "films": int(len(y_val)), "optional": optional, "rows": rows}


def expected(table: dict, unknown: list[str]) -> dict[str, Any] | None:
    """The validation accuracy for films lacking `unknown`: the row of that exact pattern when it was
    measured, else the basic-columns row (said so in `pattern`); None when a basic input is unknown."""
    rows = table.get("rows") or []
    if not rows:
        return None
    want = sorted(unknown)
    if not set(want) <= set(table.get("optional") or []):
        return None  # a basic input unknown: never masked on validation films, so never measured
    for row in rows:
        if sorted(row["unknown"]) == want:
            return {**_metric_part(row), "pattern": "exact", "unknown": list(row["unknown"])}
    basics = next((r for r in rows if r.get("label") == BASICS_ONLY), rows[-1])
    return {**_metric_part(basics), "pattern": BASICS_ONLY, "unknown": list(basics["unknown"])}


def _metric_part(row: dict) -> dict[str, float]:
    return {k: row[k] for k in ("exact", "one_away", "qwk")}


def unknown_inputs(encoder: TabularEncoder | None, inputs: FilmInputs) -> list[list[str]]:
    """Per film, the inputs the model reads that the film lacks (in the encoder's order)."""
    if encoder is None or "tabular" not in inputs.arrays:
        return [[] for _ in range(len(inputs))]
    known = encoder.known(inputs.arrays["tabular"])
    names = encoder.inputs
    return [[n for n, k in zip(names, row, strict=True) if not k] for row in known]


def film_reports(encoder: TabularEncoder | None, table: dict, inputs: FilmInputs) -> list[dict[str, Any]]:
    """Per film: its unknown inputs and the validation accuracy the model had with them unknown."""
    out = []
    for unknown in unknown_inputs(encoder, inputs):
        cost = expected(table, unknown) if unknown else None
        out.append({"unknown_inputs": unknown, "expected_accuracy_without_them": cost})
    return out


def film_report(
    encoder: TabularEncoder | None, table: dict, inputs: FilmInputs, warnings: list[str]
) -> dict[str, Any]:
    """The first film's report (`film_reports`), with a warning line naming what it lacks and its cost."""
    report = film_reports(encoder, table, inputs)[0]
    if report["unknown_inputs"]:
        cost = describe_cost(report["expected_accuracy_without_them"], table)
        warnings.append(f"unknown inputs: {', '.join(report['unknown_inputs'])}; {cost}")
    return report


def describe_cost(cost: dict[str, Any] | None, table: dict) -> str:
    """One phrase: the validation accuracy for a pattern, beside the accuracy with every input."""
    if not cost:
        if not table.get("rows"):
            return "its cost was not measured for this model"
        full = expected(table, []) or {}
        return (
            "the model was never validated without them (only optional inputs were left out there), so "
            f"expect less than its exact {full.get('exact', 0):.3f}, QWK {full.get('qwk', 0):.3f} "
            "with every input"
        )
    full = expected(table, []) or {}
    which = "" if cost["pattern"] == "exact" else " (not measured for this pattern; the basic-columns row)"
    return (
        f"on validation films without them it scored exact {cost['exact']:.3f}, 1-away "
        f"{cost['one_away']:.3f}, QWK {cost['qwk']:.3f}{which}, against exact {full.get('exact', 0):.3f}, "
        f"1-away {full.get('one_away', 0):.3f}, QWK {full.get('qwk', 0):.3f} with every input"
    )


def unknown_counts(encoder: TabularEncoder | None, inputs: FilmInputs) -> dict[str, int]:
    """How many films lack each input the model reads (inputs every film has are left out)."""
    counts: dict[str, int] = {}
    for unknown in unknown_inputs(encoder, inputs):
        for name in unknown:
            counts[name] = counts.get(name, 0) + 1
    return {n: counts[n] for n in (encoder.inputs if encoder is not None else []) if n in counts}


def absent_columns(encoder: TabularEncoder | None, inputs: FilmInputs) -> list[str]:
    """The inputs the model was trained on that no film of these has: columns the table lacks."""
    if encoder is None or not len(inputs):
        return []
    counts = unknown_counts(encoder, inputs)
    return [n for n, c in counts.items() if c == len(inputs)]


def warn_absent(encoder: TabularEncoder | None, table: dict, inputs: FilmInputs, source: str) -> list[str]:
    """Log one warning line when the films lack inputs the model was trained on; return those inputs."""
    absent = absent_columns(encoder, inputs)
    if absent:
        log.warning(
            "%s has no values for %s, which the model was trained on; %s",
            source,
            ", ".join(absent),
            describe_cost(expected(table, absent), table),
        )
    return absent

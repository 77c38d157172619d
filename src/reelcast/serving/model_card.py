"""What /model says about the loaded model beyond its weights: the request's metadata fields it reads,
and what its training run measured on films it never saw (evaluation_results.json beside the model)."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reelcast.models.intervals import RevenueIntervals
from reelcast.serving.metadata import FilmMetadata
from reelcast.serving.schemas import LevelCoverage, RevenueRangeInfo, RunEvaluation

RESULTS = "evaluation_results.json"
# The test metrics the page shows, most telling first (every run writes them with intervals).
SHOWN_METRICS = ("accuracy", "one_away_accuracy", "qwk", "mae_class", "f1_macro")
# The request fields each tabular column or feature group of features/tabular.py reads; a plain column
# reads the field of its own name. A release date gives the year and month too.
_GROUP_FIELDS = {
    "release_month": ("release_date",),
    "franchise": ("keywords", "collection"),
    "calendar": ("release_date",),
    "budget_real": ("budget_musd", "year"),
    "budget_flags": ("budget_musd",),
    "people": ("director", "cast"),
}


def metadata_fields(columns: list[str]) -> list[str]:
    """The FilmMetadata fields that reach a model trained on these tabular columns, in the schema's order.

    `src:` columns of the training table have no request field, so they are not listed.
    """
    wanted = {f for c in columns for f in _GROUP_FIELDS.get(c, (c,))}
    return [f for f in FilmMetadata.model_fields if f in wanted]


def run_folder(model_path: str) -> Path | None:
    """The folder holding a served model (its split folder), or None for a model given in memory."""
    p = Path(model_path)
    if not p.is_absolute():  # "<in memory>": no folder to read from
        return None
    return p.parent if p.suffix == ".pth" else p


def run_evaluation(model_path: str, confidence: float) -> tuple[RunEvaluation | None, str]:
    """The run's test results beside the model, or (None, why they are not shown)."""
    folder = run_folder(model_path)
    if folder is None:
        return None, "This model was given to the server in memory: no run folder holds its test results."
    path = folder / RESULTS
    try:
        stat = path.stat()
    except OSError:
        return None, f"No {RESULTS} beside this model: its test accuracy was not measured in this folder."
    return _read(str(path), stat.st_mtime_ns, stat.st_size, confidence)


@functools.lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int, size: int, confidence: float) -> tuple[RunEvaluation | None, str]:
    # Keyed by modification time and size: a run re-evaluated in place is read again, not served stale.
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return summarise(data, confidence), ""
    except (OSError, ValueError, KeyError, TypeError, ValidationError) as e:
        why = type(e).__name__
        return None, f"{RESULTS} beside this model could not be read ({why}), so no accuracy is shown."


def summarise(results: dict[str, Any], confidence: float) -> RunEvaluation:
    """The parts of an evaluation_results.json the page shows (KeyError when its test metrics are missing)."""
    ci = results["test_ci"]
    test = {
        name: {k: float(ci[name][k]) for k in ("point", "low", "high")}
        for name in SHOWN_METRICS
        if name in ci and all(_finite(ci[name].get(k)) for k in ("point", "low", "high"))
    }
    if not test:
        raise KeyError("test_ci")
    return RunEvaluation(
        split=str(results.get("split", "")),
        films={k: int(v) for k, v in results["sizes"].items()},
        years=results.get("years") or {},
        train_class_counts=[int(n) for n in (results.get("class_counts") or {}).get("train", [])],
        dollars=str(results.get("thresholds_dollars", "nominal")),
        confidence=confidence,
        test=test,
        revenue_coverage=revenue_coverage(results),
    )


def revenue_coverage(results: dict[str, Any]) -> dict[str, LevelCoverage]:
    """Per level, the revenue range's test coverage and width (empty when the run measured none)."""
    test = (results.get("revenue_intervals") or {}).get("test") or {}
    out = {}
    for key, v in test.items():
        if isinstance(v, dict) and {"nominal", "coverage", "median_width_musd"} <= set(v):
            out[key] = LevelCoverage.model_validate(
                {k: v[k] for k in ("nominal", "coverage", "median_width_musd")}
            )
    return out


def revenue_range_info(intervals: RevenueIntervals | None) -> RevenueRangeInfo | None:
    """How the served model's revenue range is calibrated, or None when it gives no range."""
    return None if intervals is None else RevenueRangeInfo.model_validate(intervals.describe())


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)

"""The models of benchmarks/accuracy.py on one split: validation and test probabilities, and the rule.

Every fit returns ({"val": (n_val, 8), "test": (n_test, 8), ...}, info). The decision rule that turns a
model's probabilities into one class is chosen afterwards, for every model alike, on its validation
probabilities (`choose_rule`), so no model gets a rule the others cannot have.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reelcast.config import Config
from reelcast.data.splits import Split
from reelcast.evaluation.metrics import accuracy, qwk
from reelcast.features.tabular import TabularEncoder, default_columns
from reelcast.files import atomic_write
from reelcast.models.ensemble import decide, fit_blend
from reelcast.predictor import RevenuePredictor

Arrays = dict[str, np.ndarray]
AG_SCRIPT = Path(__file__).resolve().parent / "peers" / "autogluon_fit.py"

# The decision rules every model may be given; ties on the validation films go to the earlier one.
RULES = ("argmax", "median", "expected")
# Feature groups reelcast derives from the columns every film has: plot, budget, genres, release date,
# runtime. Everything else reelcast reads (keywords, companies, countries, language, franchise, people)
# is what the `all` column set adds.
BASIC_GROUPS = (
    "year",
    "runtime",
    "budget_musd",
    "release_month",
    "genres",
    "calendar",
    "budget_real",
    "budget_flags",
)
# Groups whose encoded features AutoGluon gets beside the raw columns: rules and training-film track
# records it cannot derive from the raw values on its own.
AG_DERIVED = ("calendar", "budget_real", "budget_flags", "franchise", "companies", "people")
TREE_COMPONENTS = ("gbm_classifier", "gbm_regressor")


def baseline_fns() -> tuple[Callable, Callable]:
    """reelcast's plain-GBM and majority baselines (the one import to repoint if they move)."""
    from reelcast.evaluation.evaluate import fit_gbt, majority_baseline

    return fit_gbt, majority_baseline


# ---- decision rules ---------------------------------------------------------------------------------
def apply_rule(probs: np.ndarray, rule: str) -> np.ndarray:
    """One class per film under a rule of RULES."""
    return decide(probs, rule)


def choose_rule(val_probs: np.ndarray, y_val: np.ndarray, rules=RULES) -> str:
    """The rule with the best exact accuracy + QWK on the validation films (reelcast's own procedure)."""
    if not len(y_val):
        return "argmax"
    scores = {
        r: accuracy(y_val, apply_rule(val_probs, r)) + qwk(y_val, apply_rule(val_probs, r)) for r in rules
    }
    return max(rules, key=scores.__getitem__)


# ---- column sets ------------------------------------------------------------------------------------
def column_sets(films: pd.DataFrame) -> dict[str, list[str]]:
    """basic: groups from the columns every film has; all: every pre-release group reelcast reads."""
    every = default_columns(films)
    return {"basic": [c for c in every if c in BASIC_GROUPS], "all": every}


# ---- fits -------------------------------------------------------------------------------------------
def fit_reelcast(cfg: Config, table, inputs, split: Split, modalities=None) -> tuple[Arrays, dict]:
    """RevenuePredictor on a split: blended probabilities and each blend component's, val and test."""
    p = RevenuePredictor(cfg, progress=False)
    p.fit(table, split, inputs, modalities=modalities)
    shaped = p.shape_inputs(inputs, table.df)
    out: Arrays = {}
    for part in ("val", "test"):
        mi = shaped.subset(getattr(split, part))
        out[part] = p.proba(mi)
        if p.ensemble_ is not None:
            for name, probs in p.component_probs(mi).items():
                out[f"{name}.{part}"] = probs
    info: dict = {"columns": list(p.tabular_.columns) if p.tabular_ is not None else []}
    if p.ensemble_ is not None:
        b = p.ensemble_.blend
        info["blend"] = dict(zip(b.components, b.weights, strict=True))
        info["own_rule"] = b.decision
    return out, info


def tree_blend(arrays: Arrays, y_val: np.ndarray, step: float) -> Arrays:
    """The tree components alone, blended by reelcast's own weight search on the validation films."""
    names = [n for n in TREE_COMPONENTS if f"{n}.val" in arrays]
    blend = fit_blend({n: arrays[f"{n}.val"] for n in names}, y_val, step, "argmax")
    return {part: blend.combine({n: arrays[f"{n}.{part}"] for n in names}) for part in ("val", "test")}


def fit_plain_gbm(table, split: Split, y: np.ndarray, columns: list[str], cfg: Config) -> tuple[Arrays, dict]:
    """HistGradientBoosting on the TabularEncoder features reelcast's trees get for these columns."""
    fit_gbt, _ = baseline_fns()
    g = fit_gbt(table, split, y, columns, cfg.train.seed, cfg.tabular)
    out = {
        part: g.predict_proba(g.encoder.transform(table.df.iloc[getattr(split, part)])[0])
        for part in ("val", "test")
    }
    return out, {"columns": columns, "stopping": g.stopping}


def fit_majority(y: np.ndarray, split: Split) -> tuple[Arrays, dict]:
    """The training films' class shares for every film."""
    _, majority_baseline = baseline_fns()
    pred, probs = majority_baseline(y, split)
    return {"val": np.tile(probs[0], (len(split.val), 1)), "test": probs}, {"class": int(pred[0])}


def _joined(v) -> str:
    return "|".join(str(x) for x in v) if isinstance(v, list) else ""


def ag_frame(table, split: Split, columns: list[str], cfg: Config) -> pd.DataFrame:
    """AutoGluon's columns: the raw values of the groups in `columns`, plus the derived features
    reelcast computes from them (calendar flags, franchise flags, training-film track records)."""
    df = table.df
    date = pd.to_datetime(df["release_date"], errors="coerce")
    out = pd.DataFrame(
        {
            "overview": df["text"].fillna(""),
            "budget": df["budget_musd"],
            "genres": df["genres"].map(_joined),
            "year": df["year"],
            "month": date.dt.month,
            "weekday": date.dt.day_of_week,
            "runtime": df["runtime"],
        },
        index=df.index,
    )
    for group, col in (("keywords", "keywords"), ("companies", "companies"), ("countries", "countries")):
        if group in columns:
            out[col] = df[col].map(_joined)
    if "language" in columns:
        out["language"] = df["language"].fillna("")
    if "franchise" in columns:
        out["collection"] = df["collection"].fillna("")
    if "people" in columns:
        out["director"] = df["director"].fillna("")
        out["cast"] = df["cast"].map(_joined)
    derived = [g for g in AG_DERIVED if g in columns]
    if derived:
        enc = TabularEncoder(derived, settings=cfg.tabular).fit(df.iloc[split.train])
        X, _ = enc.transform(df)
        for j, name in enumerate(enc.feature_names):
            if not name.startswith("company:") and not name.endswith(":missing"):
                out[name] = X[:, j]
    return out


def run_autogluon_script(
    script: Path,
    python: str,
    frame: pd.DataFrame,
    y: np.ndarray,
    split: Split,
    seconds: int,
    presets: str,
    seed: int,
    read: Callable[[Path], Any],
) -> tuple[Any, dict]:
    """Write the split's train/val/test CSVs (label = y), run a peers/ AutoGluon script in its own venv,
    and return read(folder) with the script's meta.json."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for part in ("train", "val", "test"):
            idx = getattr(split, part)
            f = frame.iloc[idx].copy()
            f["label"] = y[idx]
            f.to_csv(tmp / f"{part}.csv", index=False)
        cmd = [python, str(script), str(tmp), str(seconds), str(seed), presets]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 4 + 600)
        if r.returncode != 0:
            raise RuntimeError(f"AutoGluon ({script.name}) failed on split {split.name}: {r.stderr[-2000:]}")
        return read(tmp), json.loads((tmp / "meta.json").read_text())


def fit_autogluon(
    python: str, frame: pd.DataFrame, y: np.ndarray, split: Split, seconds: int, presets: str, seed: int
) -> tuple[Arrays, dict]:
    """AutoGluon Tabular in its own venv: train on the training films, tune on the validation films."""

    def read(tmp: Path) -> Arrays:
        return {p: pd.read_csv(tmp / f"{p}_probs.csv").to_numpy(dtype=np.float64) for p in ("val", "test")}

    out, meta = run_autogluon_script(AG_SCRIPT, python, frame, y, split, seconds, presets, seed, read)
    return out, {**meta, "time_limit": seconds, "columns": [c for c in frame.columns if c != "label"]}


# ---- cache ------------------------------------------------------------------------------------------
def cached(path: Path, fn: Callable[[], tuple[Arrays, dict]]) -> tuple[Arrays, dict]:
    """Run fn() once per path; its arrays and info are kept on disk so a re-run resumes."""
    if path.exists():
        with np.load(path, allow_pickle=False) as d:
            return {k: d[k] for k in d.files if k != "info"}, json.loads(str(d["info"]))
    t0 = time.perf_counter()
    arrays, info = fn()
    info = {**info, "seconds": round(time.perf_counter() - t0, 1)}
    path.parent.mkdir(parents=True, exist_ok=True)

    def save(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, info=json.dumps(info), **arrays)

    atomic_write(path, save)
    return arrays, info

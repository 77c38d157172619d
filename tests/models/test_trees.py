"""Tree components sized to the data: round caps, patience that stops, one thread on small data."""

from __future__ import annotations

import lightgbm
import numpy as np

from reelcast.config import EnsembleConfig
from reelcast.models.gbm import GBMClassifier, booster_params, round_budget


def test_round_budget_grows_with_the_films_up_to_the_configured_cap():
    cfg = EnsembleConfig()
    small, imdb, big = round_budget(cfg, 168), round_budget(cfg, 611), round_budget(cfg, 50_000)
    assert small == (336, 20)  # the demo's 168 films: a few hundred rounds, not thousands
    assert imdb[0] == 1222 and 20 <= imdb[1] < cfg.early_stopping_rounds
    assert big == (cfg.max_rounds, cfg.early_stopping_rounds)
    cfg.min_rounds = 500
    assert round_budget(cfg, 10)[0] == 500


def test_boosting_on_small_data_stops_long_before_the_cap():
    rng = np.random.default_rng(0)
    # A weak signal under heavy label noise, like revenue classes: the validation loss turns early.
    X, Xv = rng.normal(size=(168, 6)), rng.normal(size=(60, 6))
    y = np.clip((X[:, 0] + 4 + rng.normal(0, 2, 168)).astype(int), 0, 7)
    yv = np.clip((Xv[:, 0] + 4 + rng.normal(0, 2, 60)).astype(int), 0, 7)
    cfg = EnsembleConfig(seeds=1)
    m = GBMClassifier().fit(X, y, Xv, yv, cfg, seed=0)
    cap, patience = round_budget(cfg, len(X))
    # Early stopping ran: boosting stopped `patience` rounds after the best, long before the cap, and the
    # model keeps (and scores with) the rounds up to the best.
    assert m.rounds[0] + patience < cap
    assert lightgbm.Booster(model_str=m.boosters[0]).current_iteration() == m.rounds[0]
    probs = m.predict_proba(Xv)
    assert probs.shape == (60, 8) and np.allclose(probs.sum(1), 1)


def test_small_data_trains_on_one_thread_unless_threads_are_set():
    cfg = EnsembleConfig()
    assert booster_params(cfg, 0, "huber", 500)["num_threads"] == 1
    assert booster_params(cfg, 0, "huber", cfg.parallel_films)["num_threads"] == 0  # LightGBM's default: all
    cfg.threads = 2
    assert booster_params(cfg, 0, "huber", 500)["num_threads"] == 2

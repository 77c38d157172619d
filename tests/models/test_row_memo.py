"""Remembered tree rows: a row scored before is not scored again, and its answer is the same bit for bit."""

from __future__ import annotations

import copy

import numpy as np

from reelcast.config import EnsembleConfig
from reelcast.models.gbm import GBMRegressor
from reelcast.models.row_memo import SMALL_BATCH, RowMemo


def _counting(score):
    seen = []

    def run(X):
        seen.append(len(X))
        return score(X)

    return run, seen


def test_only_rows_not_seen_are_scored_and_the_memo_stays_bounded():
    memo = RowMemo(entries=3)
    run, seen = _counting(lambda X: X.sum(1) * 2)
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    assert np.array_equal(memo.predict(X[:2], run), X[:2].sum(1) * 2)
    assert np.array_equal(memo.predict(X[[1, 2, 1]], run), X[[1, 2, 1]].sum(1) * 2)
    assert seen == [2, 1]  # row 1 was remembered; row 2 scored once even though it came twice
    memo.predict(X[3:], run)  # a fourth row: the least recently used (row 0) is forgotten
    memo.predict(X[:1], run)
    assert seen == [2, 1, 1, 1]
    big = np.zeros((SMALL_BATCH + 1, 3))
    memo.predict(big, run)
    memo.predict(big, run)
    assert seen[-2:] == [SMALL_BATCH + 1] * 2  # a large batch (training, evaluation) goes straight through


def test_a_copy_of_a_model_starts_with_an_empty_memo():
    memo = RowMemo()
    memo.predict(np.ones((1, 2)), lambda X: X[:, 0])
    twin = copy.deepcopy(memo)
    run, seen = _counting(lambda X: X[:, 0])
    twin.predict(np.ones((1, 2)), run)
    assert seen == [1] and twin.entries == memo.entries


def test_a_regressor_gives_the_same_predictions_with_and_without_remembered_rows():
    rng = np.random.default_rng(0)
    X, Xv = rng.normal(size=(200, 5)), rng.normal(size=(60, 5))
    X[rng.random(X.shape) < 0.2] = np.nan  # unknown inputs take LightGBM's missing-value branches
    y, yv = np.nan_to_num(X[:, 0]) + rng.normal(size=200), rng.normal(size=60)
    m = GBMRegressor().fit(X, y, Xv, yv, EnsembleConfig(seeds=2, max_rounds=40), seed=0)
    rows = X[:3]
    first = m.predict_log_revenue(rows)
    again = m.predict_log_revenue(rows[[2, 0, 1]])  # every row remembered, in another order
    m._memo.entries = 0
    fresh = m.predict_log_revenue(rows)
    assert np.array_equal(first, fresh) and np.array_equal(again, fresh[[2, 0, 1]])

"""Permutation importance: the batched shuffles give what one-at-a-time shuffles give; big sets sampled."""

from __future__ import annotations

import numpy as np

from reelcast.evaluation import importance


def _one_at_a_time(predict, X, y, blocks, repeats, seed):
    # The definition, one shuffle per model call, to check the batched version against.
    from reelcast.evaluation.metrics import metric_fns

    f1 = metric_fns()["f1_macro"]
    base = f1(y, predict(X))
    rng = np.random.default_rng(seed)
    out = {}
    for col, idx in blocks.items():
        drops = []
        for _ in range(repeats):
            Xp = X.copy()
            Xp[:, idx] = X[rng.permutation(len(X))][:, idx]
            drops.append(base - f1(y, predict(Xp)))
        out[col] = float(np.mean(drops))
    return out


def test_batched_shuffles_match_one_at_a_time_with_fewer_model_calls(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    y = np.clip((X[:, 0] * 2 + X[:, 3] + 4).astype(int), 0, 7)
    calls = []

    def predict(Xp):
        calls.append(len(Xp))
        return np.clip((Xp[:, 0] * 2 + Xp[:, 3] + 4).astype(int), 0, 7)

    blocks = {"a": np.array([0]), "b": np.array([1, 2]), "c": np.array([3]), "d": np.array([4])}
    rows = importance.permutation_importance(predict, X, y, blocks, repeats=6, seed=3)
    assert len(calls) == 1 + len(blocks)  # the baseline, then one call per column with all its repeats
    expected = _one_at_a_time(predict, X, y, blocks, 6, 3)
    assert {r["column"]: r["f1_macro_drop_mean"] for r in rows} == expected
    assert expected["a"] > 0.1 and expected["b"] == 0.0

    calls.clear()
    monkeypatch.setattr(importance, "BATCH_BYTES", X[:1].nbytes * len(X) * 4)  # room for 4 copies a call
    again = importance.permutation_importance(predict, X, y, blocks, repeats=6, seed=3)
    assert again == rows and len(calls) == 1 + 2 * len(blocks)


def test_sample_films_keeps_small_sets_whole_and_samples_big_ones_reproducibly():
    assert np.array_equal(importance.sample_films(50, 2000, 0), np.arange(50))
    s = importance.sample_films(10_000, 2000, 0)
    assert len(s) == 2000 == len(set(s.tolist())) and np.all(np.diff(s) > 0)
    assert np.array_equal(s, importance.sample_films(10_000, 2000, 0))

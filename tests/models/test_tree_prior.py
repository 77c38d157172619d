"""--init and the trees: the source table's regressor becomes a prior feature of the target's trees, read
in the source's own layout, saved with the model; class edges stay the target table's."""

from __future__ import annotations

import copy
import logging

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_config

from reelcast.data.classes import fit_quantile_thresholds
from reelcast.data.demo import make_catalogue
from reelcast.models.tree_prior import PRIOR_FEATURE
from reelcast.predictor import RevenuePredictor, as_table


def _trees_cfg(tiny_bert, cache, **kw):
    cfg = tiny_config(tiny_bert, cache, epochs=1)
    cfg.ensemble.seeds, cfg.ensemble.max_rounds, cfg.ensemble.threads = 1, 60, 1
    for k, v in kw.items():
        setattr(cfg.train, k, v)
    return cfg


@pytest.fixture(scope="module")
def source(tiny_bert, tmp_path_factory, one_thread):
    """Network and trees fit on a table whose films cost and earn ten times more than the target's."""
    root = tmp_path_factory.mktemp("tree_source")
    films = make_catalogue(120, seed=5)
    films["revenue"] = films["revenue"] * 10
    films["budget"] = films["budget"] * 10
    films.to_csv(root / "big.csv", index=False)
    p = RevenuePredictor(_trees_cfg(tiny_bert, root / "cache"), progress=False).fit(root / "big.csv")
    p.save(root / "split")
    return root / "split", p


@pytest.fixture(scope="module")
def target(source, tiny_bert, films_csv, tmp_path_factory):
    """The small table fit with --init from the source, its table and split."""
    root = tmp_path_factory.mktemp("tree_target")
    cfg = _trees_cfg(tiny_bert, root / "cache", init=str(source[0]))
    p = RevenuePredictor(cfg, progress=False)
    table = as_table(films_csv, cfg)
    split = p.default_split(table)
    p.fit(table, split)
    p.save(root / "model")
    return p, table, split, root / "model"


def _trees(p):
    return {c.name: c for c in p.components() if c.kind == "trees"}


def test_target_trees_read_the_source_regressor_as_a_feature(source, target):
    p, table, _, _ = target
    trees = _trees(p)
    for c in trees.values():
        assert c.features.feature_names[-1] == PRIOR_FEATURE
        assert c.features.prior is not None and c.features.prior.source.endswith(".pth")
    # The prior column is the source regressor's prediction: the source's films earned ten times more,
    # so its log revenue for the target's films sits well above the target's own.
    X = trees["gbm_regressor"].features.transform(p.shape_inputs(p.featurize(table), table.df))
    prior = X[:, -1]
    assert np.isfinite(prior).all() and prior.std() > 0
    assert prior.mean() > np.log1p(table.df["revenue_musd"]).mean() + 0.5


def test_shared_numeric_features_move_into_the_source_standardisation(source, target):
    src_path, src = source
    p, table, _, _ = target
    prior = _trees(p)["gbm_regressor"].features.prior
    ours = p.tabular_.encode(table.df)
    theirs = src.tabular_.encode(table.df)  # the same films, read by the source's encoder
    moved = prior.source_matrix(ours, None)
    src_names = _trees(src)["gbm_regressor"].features.feature_names
    shared = [n for n in src.tabular_.means if n in src_names and n in p.tabular_.means]
    assert shared
    for name in shared:
        s = src_names.index(name)
        j = src.tabular_.feature_names.index(name)
        assert np.allclose(moved[:, s], theirs[:, j], equal_nan=True, atol=1e-4), name


def test_init_trees_differ_from_scratch_and_edges_stay_the_targets(
    source, target, tiny_bert, films_csv, tmp_path
):
    p, table, split, _ = target
    scratch = RevenuePredictor(_trees_cfg(tiny_bert, tmp_path / "cache"), progress=False).fit(table, split)
    assert PRIOR_FEATURE not in _trees(scratch)["gbm_regressor"].features.feature_names
    inputs = p.featurize(table)
    a = _trees(p)["gbm_regressor"].predict_log_revenue(p.shape_inputs(inputs, table.df))
    b = _trees(scratch)["gbm_regressor"].predict_log_revenue(scratch.shape_inputs(inputs, table.df))
    assert not np.allclose(a, b)
    rev = table.df["revenue_musd"].to_numpy()
    assert np.allclose(p.thresholds_, fit_quantile_thresholds(rev[split.train]))
    assert np.allclose(_trees(p)["gbm_regressor"].thresholds, p.thresholds_)


def test_saved_model_carries_the_source_trees(target, films_csv):
    p, _, _, path = target
    q = RevenuePredictor.load(path)
    assert _trees(q)["gbm_classifier"].features.prior is not None
    pd.testing.assert_frame_equal(p.predict(films_csv), q.predict(films_csv))


def test_a_source_without_trees_leaves_the_trees_to_the_target(tiny_bert, films_csv, tmp_path, caplog):
    cfg = _trees_cfg(tiny_bert, tmp_path / "cache")
    cfg.ensemble.enabled = "off"
    RevenuePredictor(cfg, progress=False).fit(films_csv).save(tmp_path / "net_only")
    cfg = _trees_cfg(tiny_bert, tmp_path / "cache", init=str(tmp_path / "net_only"))
    with caplog.at_level(logging.WARNING, logger="reelcast.models.trees"):
        p = RevenuePredictor(cfg, progress=False).fit(films_csv)
    assert PRIOR_FEATURE not in _trees(p)["gbm_regressor"].features.feature_names
    assert "has no tree regressor" in caplog.text


def test_a_column_the_target_lacks_is_averaged_over_source_films(source, target):
    _, src = source
    p, table, _, _ = target
    prior = copy.deepcopy(_trees(p)["gbm_regressor"].features.prior)
    assert prior.background is not None and len(prior.background) > 1  # saved with the source's trees
    budget = _trees(src)["gbm_regressor"].features.feature_names.index("budget_musd")
    prior.columns = [c for c in prior.columns if c[1] != budget]  # as for a table without budgets
    tab = p.tabular_.encode(table.df)[:3]
    got = prior.predict(tab, None)
    X = prior.source_matrix(tab, None)
    by_hand = []
    for row in X:
        rows = np.repeat(row[None], len(prior.background), axis=0)
        rows[:, budget] = prior.background[:, budget]
        by_hand.append(prior._raw(rows).mean())
    assert np.allclose(got, by_hand)
    assert not np.allclose(got, prior._raw(X))  # not the branch of the source's films without a budget


def test_a_film_of_an_init_model_is_explained(target):
    _, _, _, path = target
    q = RevenuePredictor.load(path)
    meta = {"budget_musd": 40, "year": 2012}
    out = q.predict_film("A heist in space", "Orbit", metadata=meta, explain=True)
    assert out["reasons"] and all(r["text"] for r in out["reasons"])
    assert "budget" in [r["input"] for r in out["reasons"]]  # the film's own inputs still explain it

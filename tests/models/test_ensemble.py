"""Tree components and the validation-fit blend: behaviour a user of a saved model relies on."""

import numpy as np
import pytest
import torch

from reelcast.config import Config, EnsembleConfig
from reelcast.data.classes import assign_classes, fit_quantile_thresholds
from reelcast.data.splits import Split
from reelcast.features.featurize import FilmInputs
from reelcast.models import (
    Blend,
    Ensemble,
    FitData,
    GBMClassifier,
    GBMRegressor,
    TextStack,
    TreeFeatures,
    create_component,
    decide,
    fit_blend,
    gaussian_class_probs,
    simplex_grid,
)


def synthetic(n=600, seed=0):
    """Log revenue driven by two metadata columns and a text direction; some metadata missing."""
    rng = np.random.default_rng(seed)
    tab = rng.normal(size=(n, 4)).astype(np.float32)
    text = rng.normal(size=(n, 16)).astype(np.float32)
    log_rev = 3 + 1.2 * tab[:, 0] - 0.8 * tab[:, 1] + 0.6 * text[:, 0] + rng.normal(0, 0.4, n)
    rev = np.expm1(np.clip(log_rev, 0, None))
    mask = np.ones((n, 2), dtype=bool)
    mask[rng.random(n) < 0.1, 0] = False  # 10 % of films without metadata
    return {"tabular": tab, "text": text}, mask, ["tabular", "text"], rev


def small_cfg(**kw):
    return EnsembleConfig(seeds=2, max_rounds=300, early_stopping_rounds=30, threads=1, **kw)


def fit_data(arrays, mask, mods, rev, y, th, train, val, test=()) -> FitData:
    """One split of synthetic films for the tree components (seed 0)."""
    cfg = Config()
    cfg.ensemble, cfg.train.seed = small_cfg(), 0
    inputs = FilmInputs([str(i) for i in range(len(y))], mods, arrays, mask)
    split = Split("s", np.asarray(train), np.asarray(val), np.asarray(test, dtype=np.int64))
    return FitData(inputs, y, rev, split, np.asarray(th), cfg, feature_names=["a", "b", "c", "d"])


def trees() -> list:
    return [create_component("gbm_classifier"), create_component("gbm_regressor")]


def test_simplex_grid_sums_to_one_and_covers_corners():
    g = simplex_grid(3, 0.25)
    assert np.allclose(g.sum(1), 1) and len(g) == 15
    assert any((row == [1, 0, 0]).all() for row in g)


def test_decision_rules():
    p = np.array([[0.4, 0.0, 0.0, 0.3, 0.3, 0, 0, 0]])
    assert decide(p, "argmax")[0] == 0
    assert decide(p, "median")[0] == 3  # cumulative probability passes 1/2 at class 3
    with pytest.raises(ValueError, match="decision"):
        decide(p, "mode")


def test_gaussian_class_probs_sum_to_one_and_follow_the_prediction():
    th = np.array([1, 5, 20, 40, 65, 100, 150.0])
    p = gaussian_class_probs(np.log1p([0.5, 30.0, 500.0]), 0.3, th)
    assert np.allclose(p.sum(1), 1)
    assert list(p.argmax(1)) == [0, 3, 7]


def test_blend_prefers_the_informative_component_on_validation():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 8, 400)
    good = np.full((400, 8), 0.02)
    good[np.arange(400), y] = 0.86
    noise = rng.dirichlet(np.ones(8), 400)
    b = fit_blend({"noise": noise, "good": good}, y, 0.1, "auto")
    assert b.weights[1] >= 0.9
    assert np.allclose(b.combine({"noise": noise, "good": good}).sum(1), 1)
    assert Blend.from_dict(b.to_dict()).weights == b.weights


def test_text_stack_is_out_of_fold_on_training_films():
    rng = np.random.default_rng(2)
    T = rng.normal(size=(200, 150))
    y = rng.normal(size=200)  # pure noise: an in-sample ridge would still fit it, out-of-fold cannot
    s = TextStack(alpha=0.1)
    oof = s.fit_oof(T, y, seed=0)
    in_sample = s.predict(T)
    assert np.corrcoef(in_sample, y)[0, 1] > 0.8
    assert abs(np.corrcoef(oof, y)[0, 1]) < 0.3


def test_trees_learn_and_round_trip_through_plain_data():
    arrays, mask, mods, rev = synthetic()
    th = fit_quantile_thresholds(rev[:400])
    y = assign_classes(rev, th)
    tr, va, te = np.arange(400), np.arange(400, 500), np.arange(500, 600)
    data = fit_data(arrays, mask, mods, rev, y, th, tr, va, te)
    ens = Ensemble.fit(data, trees(), ["gbm_classifier", "gbm_regressor"])
    probs = ens.heads(data.inputs)
    assert set(probs) == {"gbm_classifier", "gbm_regressor"}
    final = ens.proba(data.inputs)
    acc = (ens.decide(final)[te] == y[te]).mean()
    assert acc > 0.3  # chance is 0.125
    # The checkpoint holds only strings, numbers and lists: torch can load it with weights_only=True.
    path = __import__("tempfile").mktemp(suffix=".pt")
    torch.save(ens.state(), path)
    back = Ensemble.from_state(torch.load(path, weights_only=True))
    assert np.allclose(back.proba(data.inputs), final)
    assert back.components["gbm_regressor"].features.feature_names[-1] == "text:ridge_log_revenue"
    assert [c["name"] for c in back.describe()] == ["gbm_classifier", "gbm_regressor"]


def test_masked_metadata_changes_the_tree_input_to_missing():
    arrays, mask, mods, rev = synthetic(n=300)
    th = fit_quantile_thresholds(rev)
    y = assign_classes(rev, th)
    features, _ = TreeFeatures.for_fit(
        fit_data(arrays, mask, mods, rev, y, th, np.arange(200), np.arange(200, 300))
    )
    off = mask.copy()
    off[:, 0] = False
    X = features.transform(FilmInputs([str(i) for i in range(300)], mods, arrays, off))
    assert np.isnan(X[:, :4]).all() and np.isfinite(X[:, 4]).all()


def test_unknown_component_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown model component 'gbm_forest'.*gbm_classifier"):
        create_component("gbm_forest")


def test_regressor_error_scale_comes_from_validation_films():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 3))
    y = 2 * X[:, 0] + rng.normal(0, 0.5, 500)
    r = GBMRegressor().fit(X[:400], y[:400], X[400:], y[400:], small_cfg(), seed=0)
    assert 0.4 < r.sigma < 0.9
    c = GBMClassifier().fit(
        X[:400], (y[:400] > 0).astype(int), X[400:], (y[400:] > 0).astype(int), small_cfg(), 0
    )
    assert c.predict_proba(X[400:]).shape == (100, 8)


def test_corn_class_logits_are_a_distribution_and_order_the_classes():
    from reelcast.models.fusion import class_logits, corn_loss

    raw = torch.tensor([[5.0, 5.0, 5.0, -5.0, -5.0, -5.0, -5.0], [-5.0] * 7])
    p = class_logits(raw, "corn").softmax(1)
    assert torch.allclose(p.sum(1), torch.ones(2), atol=1e-5)
    assert p[0].argmax() == 3 and p[1].argmax() == 0
    # Perfect logits for the targets give a lower loss than the reversed ones.
    y = torch.tensor([3, 0])
    assert corn_loss(raw, y) < corn_loss(-raw, y)


@pytest.mark.parametrize("objective", ["multitask", "corn"])
def test_network_objectives_train_and_round_trip(objective, tiny_bert, films_csv, tmp_path, one_thread):
    from helpers import tiny_config

    from reelcast.predictor import RevenuePredictor

    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=2)
    cfg.model.objective = objective
    cfg.ensemble.seeds, cfg.ensemble.max_rounds, cfg.ensemble.threads = 1, 50, 1
    p = RevenuePredictor(cfg, progress=False).fit(films_csv)
    names = p.ensemble_.blend.components
    assert ("fusion_regressor" in names) == (objective == "multitask")
    heads = p.describe()["components"][0]["weights"]
    assert ("fusion_regressor" in heads) == (objective == "multitask")
    p.save(tmp_path / "m")
    q = RevenuePredictor.load(tmp_path / "m")
    assert q.spec_.objective == objective
    assert np.allclose(p.predict_proba(films_csv), q.predict_proba(films_csv), atol=1e-6)

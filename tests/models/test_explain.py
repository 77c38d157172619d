"""The reasons for one film: exact TreeSHAP that adds up, grouped by input, blended into classes."""

from __future__ import annotations

import numpy as np
import pytest

from reelcast.models.explain import classifier_effects, expected_class, input_of_feature
from reelcast.models.network import softmax
from reelcast.predictor import RevenuePredictor

INPUTS = {
    "budget",
    "release",
    "runtime",
    "genres",
    "companies",
    "franchise",
    "people",
    "keywords",
    "language",
    "countries",
    "plot",
    "trailer",
}
PLOT = "A retired detective returns for one last case in a city that has forgotten him."


@pytest.fixture(scope="module")
def model(ensemble_model):
    return RevenuePredictor.load(ensemble_model)


@pytest.fixture(scope="module")
def films(model, films_csv):
    inputs, _ = model.prepare_inputs(films_csv)
    return inputs.subset(np.arange(30))


def test_tree_shap_adds_up_to_each_tree_components_raw_output(model, films):
    reg = model.components_.components["gbm_regressor"]
    X = reg.features.transform(films)
    assert np.allclose(reg.model.contributions(X).sum(1), reg.predict_log_revenue(films), atol=1e-6)
    clf = model.components_.components["gbm_classifier"]
    Xc = clf.features.transform(films)
    per_seed = clf.model.contributions(Xc)  # (seeds, N, 8, F + 1)
    probs = np.mean([softmax(c.sum(-1)) for c in per_seed], axis=0)
    assert np.allclose(probs, clf.predict_proba(films), atol=1e-6)


def test_classifier_effects_add_up_to_its_shift_of_the_expected_class(model, films):
    clf = model.components_.components["gbm_classifier"]
    X = clf.features.transform(films)
    base = np.mean([expected_class(softmax(c[..., -1])) for c in clf.model.contributions(X)], axis=0)
    shift = expected_class(clf.predict_proba(films)) - base
    assert np.allclose(classifier_effects(clf, X).sum(1), shift, atol=1e-3)


def test_every_tree_feature_belongs_to_an_input_a_person_recognises(model):
    reg = model.components_.components["gbm_regressor"]
    groups = input_of_feature(reg.features.feature_names, model.tabular_)
    assert set(groups) <= INPUTS | {"external"}
    assert {"budget", "genres", "release"} <= set(groups)


def _reasons(model, budget):
    meta = {"budget_musd": budget, "release_date": "2015-07-03", "genres": ["Action"], "runtime": 120}
    return model.predict_film(PLOT, title="Nightfall", metadata=meta, explain=True)["reasons"]


def test_reasons_name_the_input_its_value_and_the_shift_largest_first(model):
    reasons = _reasons(model, 190.0)
    assert reasons and {r["input"] for r in reasons} <= INPUTS
    effects = [abs(r["effect_classes"]) for r in reasons]
    assert effects == sorted(effects, reverse=True)
    budget = next(r for r in reasons if r["input"] == "budget")
    assert budget["value"] == "$190 M"
    assert budget["text"] == f"budget $190 M: {budget['effect_classes']:+.2f} classes"
    release = next(r for r in reasons if r["input"] == "release")
    assert release["value"] == "2015-07-03"


def test_a_bigger_budget_is_a_bigger_reason_for_a_bigger_class(model):
    # In the demo catalogue the budget drives revenue: the trees and the network have learnt that.
    small = next(r for r in _reasons(model, 0.5) if r["input"] == "budget")["effect_classes"]
    large = next(r for r in _reasons(model, 250.0) if r["input"] == "budget")["effect_classes"]
    assert large > small and large > 0 > small


def test_reasons_are_only_given_when_asked(model):
    assert "reasons" not in model.predict_film(PLOT, metadata={"budget_musd": 20.0})


def test_the_networks_reason_for_an_input_is_its_drop_in_expected_class_without_it(model, films):
    from reelcast.models.explain import _masked, network_effects

    net = next(c for c in model.components_.components.values() if c.kind == "network")
    effects = network_effects(net, films, model.tabular_)
    plot = films.modalities.index("text")
    for head, probs in net.heads(films).items():
        without = net.heads(_masked(films, [plot]))[head]
        # every film's inputs and their variants go through the network in one pass: the same numbers
        drop = expected_class(probs) - expected_class(without)
        assert effects[head]["plot"] == pytest.approx(drop, abs=1e-5)
        assert set(effects[head]) >= {"plot", "budget", "genres"}

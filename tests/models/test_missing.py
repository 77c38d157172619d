"""Films lacking inputs: absent equals unknown, unknown is never none, and the model says what it lacked."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_config

from reelcast.data.table import canonical_frame, films_from_frame
from reelcast.predictor import RevenuePredictor

OPTIONAL = ["keywords", "companies", "language"]


def rich_catalogue(n: int = 96) -> pd.DataFrame:
    """The demo catalogue with keywords, companies and a language that follow the revenue."""
    from reelcast.data.demo import make_catalogue

    df = make_catalogue(n, seed=3)
    big = df["revenue"] > df["revenue"].median()
    df["keywords"] = ["sequel|superhero" if b else "indie|drama" for b in big]
    df["companies"] = ["Big Studio" if b else f"Small Co {i % 4}" for i, b in enumerate(big)]
    df["language"] = ["en" if b else ("fr" if i % 2 else "en") for i, b in enumerate(big)]
    return df


@pytest.fixture(scope="module")
def model(tiny_bert, tmp_path_factory) -> tuple[RevenuePredictor, Path]:
    """A saved default model (network + trees + blend) trained on a table with optional inputs."""
    root = tmp_path_factory.mktemp("missing")
    path = root / "films.csv"
    rich_catalogue().to_csv(path, index=False)
    cfg = tiny_config(tiny_bert, root / "cache")
    cfg.ensemble.seeds, cfg.ensemble.max_rounds, cfg.ensemble.threads = 1, 60, 1
    p = RevenuePredictor(cfg, progress=False).fit(path)
    p.save(root / "split")
    return p, root / "split"


def test_the_cost_of_each_unknown_input_is_measured_on_validation_films_and_saved(model):
    p, folder = model
    table = p.missing_
    assert table["basis"] == "validation films" and table["optional"] == OPTIONAL
    patterns = [r["unknown"] for r in table["rows"]]
    assert patterns == [[], ["keywords"], ["companies"], ["language"], OPTIONAL]
    assert table["rows"][-1]["label"] == "basic columns only"
    for row in table["rows"]:
        assert 0 <= row["exact"] <= row["one_away"] <= 1 and -1 <= row["qwk"] <= 1
    assert RevenuePredictor.load(folder).missing_ == table
    assert p.describe()["missing_inputs"] == table


def test_an_absent_column_predicts_as_the_same_column_left_empty(model):
    p, _ = model
    df = rich_catalogue().head(12)
    absent = films_from_frame(df.drop(columns=["keywords", "companies"]), require_revenue=False)
    empty = films_from_frame(df.assign(keywords=None, companies=""), require_revenue=False)
    assert absent.df["keywords"].isna().all() and empty.df["companies"].isna().all()
    np.testing.assert_array_equal(p.predict_proba(absent), p.predict_proba(empty))
    full = p.predict_proba(films_from_frame(df, require_revenue=False))
    assert not np.allclose(full, p.predict_proba(absent))  # the inputs did matter
    # A request that leaves the fields out is the same film as the table row without the columns.
    row = df.drop(columns=["keywords", "companies"]).iloc[0]
    meta = {"budget_musd": row["budget"], "runtime": row["runtime"], "year": row["year"]}
    meta |= {"genres": row["genres"], "language": row["language"]}
    one = p.predict_film(row["description"], title=row["title"], metadata=meta)
    np.testing.assert_allclose(list(one["probabilities"].values()), p.predict_proba(absent)[0], atol=1e-6)


def test_unknown_is_never_encoded_as_none(model):
    p, _ = model
    enc = p.tabular_
    enc.settings.none_means_unknown = False  # an explicit empty list is then "none", a fact
    try:
        films = canonical_frame(
            [
                {"title": "a", "keywords": [], "companies": [], "language": "en"},  # none
                {"title": "b", "language": "en"},  # the fields left out: unknown
            ]
        )
        assert films["keywords"].tolist()[1] is None and films["keywords"].tolist()[0] == []
        X = enc.encode(films)
        known = dict(zip(enc.inputs, enc.known(X).T, strict=True))
        assert known["keywords"].tolist() == [True, False] and known["companies"].tolist() == [True, False]
        kw = [j for j, r in enumerate(enc.column_inputs) if "keywords" in r]
        assert np.isfinite(X[0, kw]).all() and np.isnan(X[1, kw]).all()
        fill, _ = enc.transform(films)
        assert not np.array_equal(fill[0], fill[1])
    finally:
        enc.settings.none_means_unknown = True


def test_a_request_without_metadata_names_what_it_lacked_and_the_cost(model):
    p, _ = model
    out = p.predict_film("A hero must face a storm.", title="Bare")
    assert set(OPTIONAL) | {"budget_musd", "genres"} <= set(out["unknown_inputs"])
    # basic inputs were never left out on validation films: no number is claimed for that pattern
    assert out["expected_accuracy_without_them"] is None
    said = [w for w in out["warnings"] if w.startswith("unknown inputs: ")]
    assert len(said) == 1 and "keywords" in said[0] and "never validated without them" in said[0]
    assert not any("no trailer given" in w for w in out["warnings"])  # no trailer is not why
    # Two optional inputs left out: not measured as such, so the basic-columns row stands in (said so).
    meta = {"budget_musd": 40, "runtime": 100, "release_date": "2012-05-04", "genres": ["Drama"]}
    out = p.predict_film("A hero must face a storm.", title="Some", metadata=meta | {"language": "en"})
    cost, basics = out["expected_accuracy_without_them"], p.missing_["rows"][-1]
    assert cost["pattern"] == "basic columns only" and cost["qwk"] == basics["qwk"]
    # One input left out alone: the row measured for exactly that input.
    meta |= {"keywords": ["sequel"], "language": "en"}
    out = p.predict_film("A hero must face a storm.", title="Almost", metadata=meta)
    assert out["unknown_inputs"] == ["companies"]
    assert out["expected_accuracy_without_them"]["pattern"] == "exact"
    assert out["expected_accuracy_without_them"]["qwk"] == p.missing_["rows"][2]["qwk"]


def test_a_table_missing_trained_columns_warns_once_naming_them(model, caplog):
    p, _ = model
    df = rich_catalogue().head(10).drop(columns=["keywords", "companies"])
    with caplog.at_level(logging.WARNING):
        out = p.predict(df)
    lines = [r.getMessage() for r in caplog.records if "which the model was trained on" in r.getMessage()]
    assert len(lines) == 1
    assert "keywords, companies" in lines[0] and "QWK" in lines[0]
    assert set(out["unknown_inputs"]) == {"keywords,companies"}
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        p.predict(rich_catalogue().head(10))
    assert not [r for r in caplog.records if "which the model was trained on" in r.getMessage()]


def test_evaluate_counts_the_films_lacking_each_input(model):
    p, _ = model
    df = rich_catalogue().head(20)
    df.loc[:4, "keywords"] = None
    metrics = p.evaluate(df)
    assert metrics["unknown_inputs"]["keywords"] == 5 and "companies" not in metrics["unknown_inputs"]


def test_films_lacking_every_optional_input_take_the_basics_route_and_it_is_saved(model):
    p, folder = model
    ens = p.components_
    assert "basics_trees" in ens.components and "basics_trees" not in str(ens.blend.components)
    (route,) = ens.routes
    assert route.unknown == OPTIONAL and route.blend.decision == ens.blend.decision
    df = rich_catalogue().head(12)
    bare, _ = p.prepare_inputs(films_from_frame(df.drop(columns=OPTIONAL), require_revenue=False))
    full, _ = p.prepare_inputs(films_from_frame(df, require_revenue=False))
    assert route.takes(bare).all() and not route.takes(full).any()
    heads = ens.heads(bare)
    np.testing.assert_allclose(p.proba(bare), route.blend.combine(heads), atol=1e-6)
    np.testing.assert_allclose(p.proba(full), ens.blend.combine(ens.heads(full)), atol=1e-6)
    # One optional input still known: the film keeps the main blend.
    some, _ = p.prepare_inputs(
        films_from_frame(df.drop(columns=["keywords", "companies"]), require_revenue=False)
    )
    assert not route.takes(some).any()
    loaded = RevenuePredictor.load(folder)
    np.testing.assert_allclose(loaded.predict_proba(df.drop(columns=OPTIONAL)), p.proba(bare), atol=1e-6)


def test_the_basics_trees_ignore_the_optional_inputs(model):
    p, _ = model
    trees = p.components_.components["basics_trees"]
    df = rich_catalogue().head(12)
    full, _ = p.prepare_inputs(films_from_frame(df, require_revenue=False))
    bare, _ = p.prepare_inputs(films_from_frame(df.drop(columns=OPTIONAL), require_revenue=False))
    a, b = trees.heads(full), trees.heads(bare)
    assert list(a) == ["basics_trees:gbm_classifier", "basics_trees:gbm_regressor"]
    for name in a:
        np.testing.assert_allclose(a[name], b[name], atol=1e-6)

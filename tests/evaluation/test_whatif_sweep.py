"""The what-if sweep: one batched call, the same answer as predicting each film alone, clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.whatif_model import DIRECTORS, metadata_run

from reelcast.data.classes import CLASS_NAMES
from reelcast.evaluation import whatif as w

PLOT = "A retired safecracker is pulled back for one last job: the vault of the casino that ruined her."
FILM = w.Film(
    PLOT, "The Vault", None, {"budget_musd": 60.0, "release_date": "2026-07-03", "genres": ["Action"]}
)


@pytest.fixture(scope="module")
def predictor(tiny_bert, tmp_path_factory, one_thread):
    from reelcast.predictor import RevenuePredictor

    return RevenuePredictor.load(metadata_run(tiny_bert, tmp_path_factory.getbasetemp()))


@pytest.fixture(scope="module")
def reads(predictor):
    from reelcast.serving.model_card import metadata_fields

    return w.readable_fields(predictor, metadata_fields(list(predictor.tabular_.columns)))


def test_a_budget_sweep_is_one_batched_call_and_matches_each_film_predicted_alone(
    predictor, reads, monkeypatch
):
    calls = []
    batch = predictor.predict
    monkeypatch.setattr(predictor, "predict", lambda data: calls.append(1) or batch(data))
    curve = w.sweep(predictor, FILM, [w.Vary("budget_musd", w.numeric_range(20, 300, step=10))], reads)
    assert len(calls) == 1
    points = curve["points"]
    assert [p["value"] for p in points] == list(range(20, 301, 10))
    assert curve["field"] == "budget_musd" and curve["fields"] == ["budget_musd"]
    probs = np.array([p["probabilities"] for p in points])
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-6)
    np.testing.assert_allclose([p["expected_class"] for p in points], probs @ np.arange(8), atol=1e-9)
    assert len({round(p["expected_class"], 6) for p in points}) > 1, "the budget never moved the prediction"
    for p in (points[0], points[14], points[-1]):
        alone = predictor.predict_film(
            PLOT, "The Vault", metadata={**FILM.metadata, "budget_musd": p["value"]}
        )
        assert p["class_name"] == alone["class_name"] == CLASS_NAMES[p["predicted_class"]]
        np.testing.assert_allclose(p["probabilities"], list(alone["probabilities"].values()), atol=1e-5)
        # The sweep's range is the one the film gets alone.
        assert p["revenue"]["median_musd"] == pytest.approx(alone["revenue"]["median_musd"], rel=1e-5)


def test_a_release_date_sweep_walks_the_year_by_month_and_names_the_season(predictor, reads):
    curve = w.sweep(predictor, FILM, [w.Vary("release_date", w.year_of_months(FILM))], reads)
    dates = [p["value"] for p in curve["points"]]
    assert dates == [f"2026-{m:02d}-03" for m in range(1, 13)]
    seasons = [p["season"] for p in curve["points"]]
    assert seasons[0] == "Jan · winter" and seasons[3] == "Apr · spring" and seasons[9] == "Oct · autumn"
    assert seasons[6] == "Jul · summer · July 4"  # July 3 opens in the Fourth of July window
    assert curve["points"][6]["label"] == "2026-07-03 (Jul · summer · July 4)"


def test_a_different_directors_record_moves_the_prediction(predictor, reads):
    curve = w.sweep(predictor, FILM, [w.Vary("director", DIRECTORS)], reads)
    expected = [p["expected_class"] for p in curve["points"]]
    # The training table's lowest-earning director against its highest-earning one.
    assert expected[-1] > expected[0] + 0.5, expected


def test_two_fields_give_every_combination(predictor, reads):
    varies = [w.Vary("budget_musd", (20.0, 200.0)), w.Vary("director", DIRECTORS[:3])]
    curve = w.sweep(predictor, FILM, varies, reads)
    combos = [(p["values"]["budget_musd"], p["values"]["director"]) for p in curve["points"]]
    assert combos == [(b, d) for b in (20.0, 200.0) for d in DIRECTORS[:3]]
    assert curve["points"][4]["label"] == "$200 M / Bo Kim"


def test_a_field_the_model_never_reads_is_refused_naming_what_it_reads(predictor, reads):
    with pytest.raises(ValueError, match=r"never reads keywords.*it reads budget_musd, release_date"):
        w.sweep(predictor, FILM, [w.Vary("keywords", (["heist"], ["sequel"]))], reads)
    with pytest.raises(ValueError, match="never reads trailer"):
        w.sweep(predictor, FILM, [w.Vary("trailer", w.TRAILER_VALUES)], reads)
    with pytest.raises(
        ValueError, match=r"cannot vary 'budget': the fields a sweep can vary are budget_musd, "
    ):
        w.sweep(predictor, FILM, [w.Vary("budget", (1.0, 2.0))], reads)


def test_sweeps_are_bounded():
    with pytest.raises(ValueError, match="61 points from 1 to 61 every 1; at most 60"):
        w.numeric_range(1, 61, step=1)
    with pytest.raises(ValueError, match="at most 60"):
        w.check_varies(
            [w.Vary("budget_musd", tuple(range(10))), w.Vary("runtime", tuple(range(1, 8)))],
            ["budget_musd", "runtime"],
            FILM,
        )
    with pytest.raises(ValueError, match="vary one or two fields, got 3"):
        w.check_varies(
            [w.Vary(f, (1.0,)) for f in ("budget_musd", "runtime", "year")], list(w.VARIABLE), FILM
        )
    with pytest.raises(ValueError, match=r"vary budget_musd: -5.0 is not a number from 0 to 100000"):
        w.check_varies([w.Vary("budget_musd", (-5.0, 10.0))], ["budget_musd"], FILM)
    assert w.numeric_range(300, 20, steps=3) == (300.0, 160.0, 20.0)
    assert w.month_range("2025-11", "2026-02", day=31) == (
        "2025-11-30",
        "2025-12-31",
        "2026-01-31",
        "2026-02-28",
    )
    with pytest.raises(ValueError, match="release_date or year"):
        w.year_of_months(w.Film(PLOT))


def test_a_text_only_model_reads_no_field(tiny_run):
    from reelcast.predictor import RevenuePredictor

    p = RevenuePredictor.load(tiny_run)
    with pytest.raises(ValueError, match="never reads budget_musd.*it reads none: it reads the plot alone"):
        w.sweep(p, FILM, [w.Vary("budget_musd", (10.0, 20.0))], w.readable_fields(p, []))

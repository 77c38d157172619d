"""--aux-targets: post-release columns become extra outputs, never inputs, and predictions carry
the model's estimates of them, labelled as estimates."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import tiny_config
from typer.testing import CliRunner

from reelcast.cli import app
from reelcast.data.demo import make_catalogue
from reelcast.data.schema import aux_target_values, resolve_aux_targets
from reelcast.features.tabular import LeakageError
from reelcast.predictor import RevenuePredictor
from reelcast.training.objectives import aux_loss


@pytest.fixture(scope="module")
def voted_csv(tmp_path_factory):
    """The small demo table with TMDB's post-release columns (a rating tied to revenue, vote counts)."""
    films = make_catalogue(96, seed=3)
    rank = films["revenue"].rank(pct=True).to_numpy()
    films["vote_average"] = (4 + 4 * rank).round(1)
    films["vote_count"] = (10 ** (1 + 3 * rank)).round()
    films.loc[::7, "vote_count"] = np.nan  # unknown for some films: they teach the other outputs
    path = tmp_path_factory.mktemp("voted") / "voted.csv"
    films.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def aux_model(tiny_bert, voted_csv, tmp_path_factory):
    root = tmp_path_factory.mktemp("aux")
    cfg = tiny_config(tiny_bert, root / "cache", epochs=3)
    cfg.ensemble.enabled = "off"
    cfg.model.aux_targets = ["auto"]
    p = RevenuePredictor(cfg, progress=False).fit(voted_csv)
    p.save(root / "split_70_20_10")
    return root / "split_70_20_10", p


def test_auto_finds_every_recognised_post_release_column_and_names_a_missing_one():
    tmdb = ["budget", "overview", "popularity", "revenue", "vote_average", "vote_count"]
    assert resolve_aux_targets(["auto"], tmdb, "t.csv") == ["vote_average", "vote_count", "popularity"]
    imdb = ["Title", "Description", "Rating", "Votes", "Revenue (Millions)", "Metascore"]
    assert resolve_aux_targets(["rating"], imdb, "i.csv") == ["Rating"]
    with pytest.raises(ValueError, match=r"i\.csv: --aux-targets column 'imdb_score' is not in the table"):
        resolve_aux_targets(["imdb_score"], imdb, "i.csv")
    with pytest.raises(ValueError, match="none of the recognised"):
        resolve_aux_targets(["auto"], ["title", "plot", "gross"], "g.csv")


def test_counts_are_learned_on_a_log_scale_and_a_bad_cell_names_its_line():
    films = pd.DataFrame({"src:Votes": ["999", None], "src:Rating": [7.5, "8"], "line": [2, 3]})
    v = aux_target_values(films, ["Votes", "Rating"], "f.csv")
    assert v["Votes"][0] == pytest.approx(np.log(1000)) and np.isnan(v["Votes"][1])
    assert v["Rating"].tolist() == [7.5, 8.0]
    films.loc[1, "src:Rating"] = "great"
    with pytest.raises(ValueError, match=r"f\.csv: line 3, column 'Rating': 'great' is not a number"):
        aux_target_values(films, ["Rating"], "f.csv")


def test_aux_loss_ignores_unknown_targets_and_weighs_as_asked():
    pred = torch.tensor([[1.0, 0.0], [3.0, 5.0]])
    target = torch.tensor([[0.0, float("nan")], [1.0, 1.0]])
    # Output 0: (1 + 4) / 2; output 1: only the second film knows it: 16.
    assert aux_loss(pred, target, 1.0).item() == pytest.approx(2.5 + 16)
    assert aux_loss(pred, target, 0.5).item() == pytest.approx(0.5 * 18.5)
    changed = pred.clone()
    changed[0, 1] = 100.0
    assert aux_loss(changed, target, 1.0).item() == pytest.approx(18.5)
    # Uncertainty weighting: a large learned variance weighs an output down.
    noisy = aux_loss(pred, target, 1.0, torch.tensor([0.0, 3.0])).item()
    assert noisy == pytest.approx(0.5 * 2.5 + 0.5 * np.exp(-3) * 16 + 1.5, rel=1e-5)


def test_an_aux_target_is_still_refused_as_an_input(tiny_bert, voted_csv, tmp_path):
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=1)
    cfg.model.aux_targets = ["vote_average"]
    cfg.tabular.columns = ["year", "vote_average"]
    with pytest.raises(LeakageError, match="vote_average"):
        RevenuePredictor(cfg, progress=False).fit(voted_csv)


def test_aux_model_never_reads_its_targets_and_estimates_them_for_a_new_film(aux_model):
    path, p = aux_model
    assert p.network.spec.aux_targets == ["vote_average", "vote_count"]
    assert not any("vote" in n for n in p.tabular_.feature_names)
    out = p.predict_film("A heist in space", title="Orbit", metadata={"year": 2012, "budget_musd": 80})
    assert set(out["model_estimates"]) == {"vote_average", "vote_count"}
    assert 2 < out["model_estimates"]["vote_average"] < 10 and out["model_estimates"]["vote_count"] > 0
    assert "not known values" in out["model_estimates_note"]
    again = RevenuePredictor.load(path).predict_film(
        "A heist in space", title="Orbit", metadata={"year": 2012, "budget_musd": 80}
    )
    assert again["model_estimates"] == pytest.approx(out["model_estimates"])


def test_predict_json_carries_the_estimates(aux_model):
    path, _ = aux_model
    r = CliRunner().invoke(
        app, ["predict", "--model", str(path), "--description", "A heist in space", "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert set(out["model_estimates"]) == {"vote_average", "vote_count"}


def test_a_model_without_aux_targets_predicts_no_estimates(tiny_run):
    out = RevenuePredictor.load(tiny_run).predict_film("A heist in space")
    assert "model_estimates" not in out


def test_uncertainty_weighting_learns_a_variance_per_target_and_survives_saving(
    tiny_bert, voted_csv, tmp_path
):
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=2)
    cfg.ensemble.enabled = "off"
    cfg.model.aux_targets, cfg.model.aux_weighting = ["vote_average", "vote_count"], "uncertainty"
    p = RevenuePredictor(cfg, progress=False).fit(voted_csv)
    learned = p.network.model.aux_log_var.detach().clone()
    assert learned.shape == (2,) and not torch.equal(learned, torch.zeros(2))
    p.save(tmp_path / "m")
    assert torch.equal(RevenuePredictor.load(tmp_path / "m").network.model.aux_log_var.detach(), learned)

"""--init: a warm-started network starts from the source's weights, features are matched by name, class
edges come from the target table, and a source read with another text model is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import tiny_config
from typer.testing import CliRunner

from reelcast.cli import app
from reelcast.data.classes import fit_quantile_thresholds
from reelcast.data.demo import make_catalogue
from reelcast.models.fusion import FusionModel
from reelcast.models.transfer import frozen, load_source, warm_start
from reelcast.predictor import RevenuePredictor, as_table


def _fit(cfg, path, out=None):
    p = RevenuePredictor(cfg, progress=False).fit(path)
    if out is not None:
        p.save(out)
    return p


@pytest.fixture(scope="module")
def source(tiny_bert, tmp_path_factory):
    """A network (text + metadata, with aux outputs) fit on a table whose revenues are ten times larger."""
    root = tmp_path_factory.mktemp("source")
    films = make_catalogue(96, seed=5)
    films["revenue"] = films["revenue"] * 10
    films["vote_average"] = np.linspace(4, 8, len(films)).round(1)
    films.to_csv(root / "big.csv", index=False)
    cfg = tiny_config(tiny_bert, root / "cache", epochs=2)
    cfg.ensemble.enabled = "off"
    cfg.model.aux_targets = ["vote_average"]
    p = _fit(cfg, root / "big.csv", root / "split_70_20_10")
    return root / "split_70_20_10", p


def test_warm_started_network_holds_the_source_weights_before_training(
    source, tiny_bert, films_csv, tmp_path
):
    path, src = source
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=1)
    cfg.ensemble.enabled, cfg.train.init, cfg.train.lr = (
        "off",
        str(path),
        0.0,
    )  # lr 0: weights stay as started
    p = _fit(cfg, films_csv)
    ours, theirs = p.network.model.state_dict(), src.network.model.state_dict()
    started = p.network.warm_start
    assert "classifier.0.weight" in started["copied"] and started["source"].endswith(".pth")
    for name in started["copied"]:
        assert torch.equal(ours[name], theirs[name]), name
    # Without --init the same run starts elsewhere.
    cfg.train.init = None
    fresh = _fit(cfg, films_csv).network.model.state_dict()
    assert not torch.equal(fresh["classifier.0.weight"], theirs["classifier.0.weight"])


def test_metadata_weights_follow_the_feature_names_not_their_positions(source, tiny_bert, tmp_path):
    path, src = source
    films = make_catalogue(96, seed=3).drop(columns=["runtime"])  # one feature fewer: positions shift
    films.to_csv(tmp_path / "mine.csv", index=False)
    cfg = tiny_config(tiny_bert, tmp_path / "cache")
    cfg.ensemble.enabled = "off"
    base = _fit(cfg, tmp_path / "mine.csv")
    names = base.tabular_.feature_names
    model = FusionModel(base.network.spec, base.network.model_config)
    started = warm_start(model, load_source(path), names)
    src_names = src.tabular_.feature_names
    assert "runtime" in src_names and "runtime" not in names
    w_new, w_src = (
        model.state_dict()["heads.tabular.weight"],
        src.network.model.state_dict()["heads.tabular.weight"],
    )
    for i, n in enumerate(names):
        assert w_new[i] == w_src[src_names.index(n)], n
    assert "heads.tabular.weight" in started.partial or "heads.tabular.weight" in started.copied
    assert "heads.text.weight" in started.copied


def test_class_edges_come_from_the_target_tables_training_films(source, tiny_bert, films_csv, tmp_path):
    path, src = source
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=1)
    cfg.ensemble.enabled, cfg.train.init = "off", str(path)
    p = RevenuePredictor(cfg, progress=False)
    table = as_table(films_csv, cfg)
    split = p.default_split(table)
    p.fit(table, split)
    rev = table.df["revenue_musd"].to_numpy()
    assert np.allclose(p.thresholds_, fit_quantile_thresholds(rev[split.train]))
    assert p.thresholds_[-1] < src.thresholds_[-1] / 3  # the source's films earned ten times more


def test_a_source_read_with_another_text_model_is_refused_before_featurizing(source, films_csv, tmp_path):
    from reelcast.encoders.text import save_tiny_bert

    other = save_tiny_bert(tmp_path / "other-bert", seed=1)
    r = CliRunner().invoke(
        app,
        [
            "train",
            "--data",
            str(films_csv),
            "--out",
            str(tmp_path / "run"),
            "--init",
            str(source[0]),
            "--text-model",
            str(other),
            "--set",
            f"cache_dir={tmp_path / 'cache'}",
            "-q",
        ],
    )
    assert r.exit_code != 0
    assert "read plots with" in r.output and "--text-model" in r.output, r.output
    assert not (tmp_path / "cache").exists()  # refused before a single plot was encoded


def test_frozen_layers_do_not_learn_and_are_released_after():
    layer = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    with frozen(layer, ["0.weight", "0.bias"]):
        assert not layer[0].weight.requires_grad and layer[1].weight.requires_grad
    assert layer[0].weight.requires_grad


def test_freeze_epochs_train_in_two_stages(source, tiny_bert, films_csv, tmp_path):
    path, src = source
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=2, patience=5)
    cfg.ensemble.enabled, cfg.train.init, cfg.train.freeze_epochs = "off", str(path), 2
    p = _fit(cfg, films_csv)
    assert [r["epoch"] for r in p.train_result_.history] == [1, 2, 3, 4]
    assert p.network.warm_start["frozen"] and not any(
        n.startswith("aux_") for n in p.network.warm_start["frozen"]
    )

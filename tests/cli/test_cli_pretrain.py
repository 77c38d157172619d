"""`reelcast pretrain`: several tables, each read with its own schema, one base model `--init` takes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from reelcast.cli import app
from reelcast.config import Config
from reelcast.data.demo import make_catalogue
from reelcast.data.pool import pool_tables, pretrain_split
from reelcast.predictor import RevenuePredictor, as_table


def _imdb_like(n: int, seed: int) -> pd.DataFrame:
    """An IMDB-1000-shaped table (its own headers and post-release Rating / Votes)."""
    films = make_catalogue(n, seed=seed)
    return pd.DataFrame(
        {
            "Rank": np.arange(1, n + 1),
            "Title": films["title"],
            "Genre": films["genres"],
            "Description": films["description"],
            "Year": films["year"],
            "Runtime (Minutes)": films["runtime"],
            "Rating": np.linspace(5, 8.5, n).round(1),
            "Votes": np.arange(n) * 1000 + 50,
            "Revenue (Millions)": films["revenue"] / 1e6,
        }
    )


def test_pooled_films_keep_their_tables_apart_and_every_post_release_column_refused(tmp_path):
    make_catalogue(40, seed=1).assign(vote_average=6.0).to_csv(tmp_path / "a.csv", index=False)
    _imdb_like(40, 2).to_csv(tmp_path / "b.csv", index=False)
    cfg = Config()
    pooled = pool_tables([as_table(tmp_path / "a.csv", cfg), as_table(tmp_path / "b.csv", cfg)])
    assert len(pooled.df) == 80 and pooled.df["film_id"].is_unique
    assert pooled.df["film_id"].iloc[0].startswith("a:") and pooled.df["film_id"].iloc[-1].startswith("b:")
    assert {"Rating", "Votes", "Metascore"} <= set(pooled.schema.post_release_cols)
    assert pooled.df["src:Rating"].iloc[:40].isna().all()  # the first table has no such column
    split = pretrain_split(pooled.df["revenue_musd"].to_numpy(), 0.2, 0)
    assert len(split.val) == 16 and len(split.test) == 0 and len(split.train) == 64


def test_pretrain_then_init_from_the_base(tiny_bert, tmp_path):
    make_catalogue(60, seed=1).assign(vote_average=np.linspace(4, 8, 60)).to_csv(
        tmp_path / "a.csv", index=False
    )
    _imdb_like(60, 2).to_csv(tmp_path / "b.csv", index=False)
    common = [
        "--text-model",
        str(tiny_bert),
        "--set",
        f"cache_dir={tmp_path / 'cache'}",
        "--set",
        "text.max_length=64",
    ]
    r = CliRunner().invoke(
        app,
        [
            "pretrain",
            "--data",
            str(tmp_path / "a.csv"),
            "--data",
            str(tmp_path / "b.csv"),
            "--out",
            str(tmp_path / "base"),
            "--epochs",
            "2",
            "-q",
            *common,
        ],
    )
    assert r.exit_code == 0, r.output
    assert "base model on 120 films (a.csv 60, b.csv 60)" in r.output
    base = RevenuePredictor.load(tmp_path / "base")
    assert base.network.spec.aux_targets == ["vote_average", "Rating", "Votes"]
    assert [c.name for c in base.components()] == ["fusion", "gbm_regressor"]  # the trees' prior
    # A studio's own table starts from the base.
    make_catalogue(96, seed=3).to_csv(tmp_path / "mine.csv", index=False)
    r = CliRunner().invoke(
        app,
        [
            "train",
            "--data",
            str(tmp_path / "mine.csv"),
            "--out",
            str(tmp_path / "run"),
            "--init",
            str(tmp_path / "base"),
            "--splits",
            "70-20-10",
            "--epochs",
            "1",
            "--no-ablation",
            "--pure-network",
            "-q",
            *common,
        ],
    )
    assert r.exit_code == 0, r.output
    model = RevenuePredictor.load(tmp_path / "run" / "split_70_20_10")
    assert model.network.warm_start["source"] == str(tmp_path / "base" / "best_multimodal_model.pth")
    assert "heads.text.weight" in model.network.warm_start["copied"]


def test_train_add_films_flag_reaches_the_run(tiny_bert, tmp_path):
    make_catalogue(64, seed=1).to_csv(tmp_path / "mine.csv", index=False)
    public = make_catalogue(40, seed=2)
    public["title"] = "Public " + public["title"]
    public.to_csv(tmp_path / "public.csv", index=False)
    args = ["train", "--data", str(tmp_path / "mine.csv"), "--out", str(tmp_path / "run")]
    args += ["--add-films", str(tmp_path / "public.csv"), "--splits", "70-20-10", "--epochs", "1"]
    args += ["--no-ablation", "--pure-network", "-q", "--text-model", str(tiny_bert)]
    args += ["--set", f"cache_dir={tmp_path / 'cache'}", "--set", "text.max_length=64"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    ids = pd.read_csv(tmp_path / "run" / "split_70_20_10" / "split_ids.csv")
    added = ids[ids["film_id"].astype(str).str.startswith("public:")]
    assert len(added) == 40 and set(added["portion"]) == {"train"}
    assert Config.load(tmp_path / "run" / "config.toml").train.add_films == [str(tmp_path / "public.csv")]

"""Films added from other tables train every split and nothing else."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_config

from reelcast.config import Config
from reelcast.data.demo import make_catalogue
from reelcast.data.pool import add_training_films, with_added_films
from reelcast.data.splits import Split
from reelcast.experiment import run_train
from reelcast.predictor import as_table


def _tables(tmp_path, n_own=64, n_public=80):
    own, public = make_catalogue(n_own, seed=1), make_catalogue(n_public, seed=2)
    public["title"] = "Public " + public["title"]
    public.loc[:4, ["title", "year"]] = own.loc[:4, ["title", "year"]].to_numpy()  # five films in both
    paths = tmp_path / "own.csv", tmp_path / "public.csv"
    own.to_csv(paths[0], index=False)
    public.to_csv(paths[1], index=False)
    return paths


def test_added_films_follow_the_table_and_leave_out_its_own(tmp_path):
    own_path, public_path = _tables(tmp_path)
    cfg = Config()
    own = as_table(own_path, cfg)
    joined, added = add_training_films(own, [as_table(public_path, cfg)])
    assert joined.df.iloc[: len(own.df)]["film_id"].tolist() == own.df["film_id"].tolist()  # positions kept
    assert len(added) == len(joined.df) - len(own.df) == 75  # the five films the table holds are left out
    assert joined.df.iloc[added]["film_id"].str.startswith("public:").all()


def test_a_split_trains_on_added_films_and_keeps_its_edges():
    films = pd.DataFrame(
        {
            "release_date": pd.to_datetime(
                ["2001-01-01", "2002-01-01", "2003-01-01", "2010-01-01", "1999-01-01", "2005-01-01", None]
            )
        }
    )
    split = Split("date-s", train=np.array([0, 1]), val=np.array([2]), test=np.array([3]))
    added = np.array([4, 5, 6])
    by_date = with_added_films(split, added, films, by_date=True)
    assert by_date.train.tolist() == [0, 1, 4]  # 2005 is after the first validation film; undated is unknown
    assert by_date.edges.tolist() == [0, 1]
    random = with_added_films(split, added, films, by_date=False)
    assert (
        random.train.tolist() == [0, 1, 4, 5, 6]
        and random.val.tolist() == [2]
        and random.test.tolist() == [3]
    )


@pytest.mark.usefixtures("one_thread")
def test_train_with_added_films_keeps_edges_and_test_films_its_own(tiny_bert, tmp_path):
    own_path, public_path = _tables(tmp_path)
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=2)
    cfg.eval.ablation, cfg.eval.bootstrap = False, 20
    run_train(cfg, own_path, tmp_path / "plain", progress=False)
    cfg.train.add_films = [str(public_path)]
    run_train(cfg, own_path, tmp_path / "added", progress=False)
    plain, added = (tmp_path / r / "split_70_20_10" for r in ("plain", "added"))
    ids = {r: pd.read_csv(d / "split_ids.csv") for r, d in (("plain", plain), ("added", added))}
    for portion in ("val", "test"):  # the same films of the user's table are validated and tested on
        same = [sorted(ids[r].loc[ids[r]["portion"] == portion, "film_id"].astype(str)) for r in ids]
        assert same[0] == same[1]
    extra = ids["added"].loc[ids["added"]["film_id"].astype(str).str.startswith("public:")]
    assert len(extra) == 75 and (extra["portion"] == "train").all()
    res = {
        r: json.loads((d / "evaluation_results.json").read_text())
        for r, d in (("plain", plain), ("added", added))
    }
    assert res["added"]["thresholds_musd"] == res["plain"]["thresholds_musd"]  # edges from the user's films
    assert res["added"]["sizes"]["train"] == res["plain"]["sizes"]["train"] + 75

"""Nothing known only after release, and nothing about the test films' revenue, reaches the model."""

import json

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_config
from typer.testing import CliRunner

from reelcast.cli import app
from reelcast.config import SPLITS
from reelcast.data.classes import fit_quantile_thresholds
from reelcast.data.demo import make_catalogue
from reelcast.data.splits import make_split, revenue_strata
from reelcast.data.table import load_films
from reelcast.features.tabular import LeakageError, check_leakage, default_columns
from reelcast.predictor import RevenuePredictor

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def imdb_csv(tmp_path_factory):
    """A small table in the Kaggle IMDB-1000 layout, whose Votes column tracks revenue (a leak)."""
    df = make_catalogue(96, seed=5)
    rng = np.random.default_rng(0)
    imdb = pd.DataFrame(
        {
            "Rank": range(1, len(df) + 1),
            "Title": df["title"],
            "Genre": df["genres"],
            "Description": df["description"],
            "Director": "A Director",
            "Actors": "Some Actors",
            "Year": df["year"],
            "Runtime (Minutes)": df["runtime"],
            "Rating": np.round(rng.uniform(3, 9, len(df)), 1),
            "Votes": (df["revenue"] * 1000).astype(int),
            "Revenue (Millions)": df["revenue"],
            "Metascore": rng.integers(20, 95, len(df)),
        }
    )
    path = tmp_path_factory.mktemp("imdb") / "IMDB-Movie-Data.csv"
    imdb.to_csv(path, index=False)
    return path


def train_args(data, out, tiny_bert, *extra):
    return [
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--text-model",
        str(tiny_bert),
        "--splits",
        "70-20-10",
        "--epochs",
        "2",
        "--cache-dir",
        str(out.parent / "cache"),
        "--set",
        "eval.bootstrap=20",
        "--set",
        "text.max_length=64",
        "--set",
        "eval.permutation_repeats=2",
        *extra,
    ]


def test_cli_refuses_post_release_columns_with_one_line(imdb_csv, tiny_bert, tmp_path):
    out = tmp_path / "run"
    r = runner.invoke(app, train_args(imdb_csv, out, tiny_bert, "--tabular", "Votes,Rating", "-q"))
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: tabular columns Votes, Rating")
    assert "--allow-post-release" in lines[0]
    assert not list(out.glob("split_*"))  # nothing trained


def test_cli_allows_them_with_the_flag_and_warns_in_log_and_report(imdb_csv, tiny_bert, tmp_path):
    out = tmp_path / "run"
    r = runner.invoke(
        app, train_args(imdb_csv, out, tiny_bert, "--tabular", "Votes,Rating", "--allow-post-release")
    )
    assert r.exit_code == 0, r.output
    assert "LEAKAGE: post-release columns used as features: Votes, Rating" in r.output
    res = json.loads((out / "split_70_20_10" / "evaluation_results.json").read_text())
    assert (
        "Votes, Rating" in res["leakage_warning"]
        and "not achievable before release" in res["leakage_warning"]
    )
    assert res["modalities"] == ["text", "tabular"]
    # The metadata baselines saw the same (leaky) columns, and the report says so.
    assert res["ablation"]["tabular_columns"] == ["Votes", "Rating"]
    assert res["ablation"]["leaky_columns"] == ["Votes", "Rating"]


def test_post_release_columns_are_never_features_by_default(imdb_csv, tiny_bert, tmp_path):
    table = load_films(imdb_csv)
    assert table.schema.post_release_cols == ("Votes", "Rating", "Metascore")
    assert default_columns(table.df) == ["year", "runtime", "genres"]
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=1)
    cfg.tabular.use_in_fusion = True
    p = RevenuePredictor(cfg, progress=False).fit(table)
    assert p.tabular_.columns == ["year", "runtime", "genres"] and p.leaky_columns_ == []
    cfg.tabular.columns = ["year", "Metascore"]
    with pytest.raises(LeakageError, match="Metascore"):
        RevenuePredictor(cfg, progress=False).fit(table)


@pytest.mark.parametrize(
    "cols", [["vote_count"], ["popularity", "runtime"], ["VOTE_AVERAGE"], ["src:Votes"], ["gross"]]
)
def test_guard_knows_tmdb_and_imdb_names_in_any_case(cols):
    with pytest.raises(LeakageError, match="--allow-post-release"):
        check_leakage(cols, [], allow=False)
    assert check_leakage(cols, [], allow=True) == [c for c in cols if c != "runtime"]


def test_guard_uses_the_schemas_own_post_release_list(caplog):
    with pytest.raises(LeakageError, match="box_office_week1"):
        check_leakage(["year", "box_office_week1"], ["box_office_week1"], allow=False)
    with caplog.at_level("WARNING"):
        assert check_leakage(["box_office_week1"], ["box_office_week1"], allow=True) == ["box_office_week1"]
    assert "LEAKAGE" in caplog.text
    assert check_leakage(["year", "runtime", "budget_musd", "genres"], [], allow=False) == []


def test_test_set_revenue_cannot_move_the_class_thresholds(tiny_bert, films_csv, tmp_path):
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=1)
    table = load_films(films_csv)
    rev = table.df["revenue_musd"].to_numpy()
    split = make_split(revenue_strata(rev, 8), SPLITS["70-20-10"], seed=3)
    a = RevenuePredictor(cfg, progress=False).fit(table, split)
    assert np.array_equal(a.thresholds_, fit_quantile_thresholds(rev[split.train]))
    # Quantiles of the whole table differ, so this test would notice thresholds fit on every film.
    assert not np.allclose(a.thresholds_, fit_quantile_thresholds(rev))

    changed = load_films(films_csv)
    changed.df.loc[split.test, "revenue_musd"] = rev[split.test] * 1000 + 5000
    changed.df.loc[split.val, "revenue_musd"] = 0.001
    b = RevenuePredictor(cfg, progress=False).fit(changed, split)
    assert np.array_equal(a.thresholds_, b.thresholds_)
    assert np.array_equal(a.labels_for(table)[split.train], b.labels_for(changed)[split.train])
    assert (b.labels_for(changed)[split.test] == 7).all()  # the changed films are scored, not fitted on


def test_split_strata_do_not_feed_the_thresholds(tiny_bert, films_csv, tmp_path, monkeypatch):
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=1)
    table = load_films(films_csv)
    rev = table.df["revenue_musd"].to_numpy()
    # The default path stratifies by revenue rank over the whole table; the thresholds still come from the
    # training films it picked.
    p = RevenuePredictor(cfg, progress=False).fit(table)
    train = table.df["film_id"].isin(p.split_ids_["train"]).to_numpy()
    assert train.sum() == len(p.split_ids_["train"])
    assert np.array_equal(p.thresholds_, fit_quantile_thresholds(rev[train]))

    # With a given split, fitting must not consult the strata at all: scrambled strata change nothing.
    split = make_split(revenue_strata(rev, 8), SPLITS["70-20-10"], seed=3)
    before = RevenuePredictor(cfg, progress=False).fit(table, split).thresholds_
    monkeypatch.setattr(RevenuePredictor, "strata", lambda self, t: np.arange(len(t))[::-1] % 8)
    monkeypatch.setattr("reelcast.predictor.revenue_strata", lambda r, k: np.zeros(len(r), dtype=np.int64))
    after = RevenuePredictor(cfg, progress=False).fit(table, split).thresholds_
    assert np.array_equal(before, after)


# ---- outcome-encoding keywords (docs/keyword_audit.md) -------------------------------------------------
AUDITED_LEAKS = [
    "cult film",
    "cult classic",
    "oscar award",
    "famous score",
    "video nasty",
    "horror movie remade",
]
LEAK_FAMILIES = ["box office flop", "Box-Office Bomb", "sleeper hit", "academy award winner", "award-winning"]
PLOT_TAGS = ["cult", "cult leader", "success", "sequel", "remake", "floppy disk", "police academy", "bomb"]


@pytest.mark.parametrize("tag", AUDITED_LEAKS + LEAK_FAMILIES)
def test_outcome_keywords_are_refused(tag):
    from reelcast.features.leakage import is_leaky_keyword

    assert is_leaky_keyword(tag)


@pytest.mark.parametrize("tag", PLOT_TAGS)
def test_tags_about_the_film_itself_are_kept(tag):
    from reelcast.features.leakage import is_leaky_keyword

    assert not is_leaky_keyword(tag)


@pytest.mark.parametrize("encoding", ["multi_hot", "track"])
def test_refused_keywords_never_reach_the_features(encoding):
    from reelcast.config import TabularConfig
    from reelcast.features.tabular import TabularEncoder

    train = pd.DataFrame(
        {
            "title": [f"Film {i}" for i in range(6)],
            "keywords": [["cult film", "hero"], ["cult film", "oscar award"], ["hero"]] * 2,
            "revenue_musd": [10.0, 900.0, 50.0] * 2,
        }
    )
    settings = TabularConfig(min_count=1, keywords_encoding=encoding)
    enc = TabularEncoder(["keywords", "franchise"], settings=settings).fit(train)
    if encoding == "multi_hot":
        assert enc.vocab["keywords"] == ["hero"]
    else:  # the keywords' track record holds only the kept tags
        assert set(enc.tracks["keywords"]["history"]) == {"hero"}
    assert not any("cult" in n or "oscar" in n for n in enc.feature_names)
    # A film tagged only with refused tags is encoded exactly as a film whose keywords nobody wrote.
    only = train.iloc[[1]].drop(columns=["revenue_musd"])
    np.testing.assert_array_equal(enc.encode(only), enc.encode(only.assign(keywords=[None])))

"""The evaluation a studio reads: ablation, significance, calibration, permutation importance."""

import json

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_config

import reelcast.evaluation.ablation as ablation
import reelcast.evaluation.importance as importance
import reelcast.models.baselines as baselines
from reelcast.config import Config
from reelcast.data.classes import CLASS_NAMES, assign_classes, fit_quantile_thresholds
from reelcast.data.demo import make_catalogue
from reelcast.data.splits import Split, make_split, revenue_strata
from reelcast.data.table import films_from_frame, load_films
from reelcast.evaluation.metrics import metric_fns
from reelcast.evaluation.significance import significance
from reelcast.evaluation.stats import expected_calibration_error, mcnemar, paired_bootstrap
from reelcast.experiment import run_train
from reelcast.features.tabular import TabularEncoder
from reelcast.reports.split_files import write_ablation_summary

FNS = metric_fns()
# The default model is the ensemble: each of its components is reported on its own, then the baselines.
COMPONENTS = ["component_fusion", "component_gbm_classifier", "component_gbm_regressor"]
BASELINES = [*COMPONENTS, "text_only", "tabular_only", "majority", "gbt_tabular"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run(tiny_bert, films_csv, tmp_path_factory):
    """One split of text + tabular, with the ablation on (tiny model, few epochs, small bootstrap)."""
    root = tmp_path_factory.mktemp("eval")
    cfg = tiny_config(tiny_bert, root / "cache", epochs=3)
    cfg.tabular.use_in_fusion = True
    cfg.eval.permutation_repeats = 3
    out = root / "run"
    run_train(cfg, films_csv, out, progress=False)
    sdir = out / "split_70_20_10"
    return out, sdir, json.loads((sdir / "evaluation_results.json").read_text()), cfg


def test_ablation_table_has_every_model_with_intervals(run):
    out, sdir, res, _ = run
    df = pd.read_csv(sdir / "ablation.csv", keep_default_na=False)
    assert df["model"].tolist() == ["full", *BASELINES]
    assert df["modalities"].tolist() == [*["text+tabular"] * 4, "text", "tabular", "-", "tabular"]
    weights = df.set_index("model")["note"]
    assert all(weights[c].startswith("blend weight ") for c in COMPONENTS)
    assert (df["test_films"] == res["sizes"]["test"]).all()
    for m in ablation.ABLATION_METRICS:
        assert (df[f"{m}_low"] <= df[m] + 1e-12).all() and (df[m] <= df[f"{m}_high"] + 1e-12).all(), m
    assert df["ece"].between(0, 1).all()
    assert "early stopping on the class-weighted log-loss" in df.set_index("model").loc["gbt_tabular", "note"]
    assert (sdir / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [r["model"] for r in res["ablation"]["models"]] == df["model"].tolist()
    assert res["ablation"]["tabular_columns"] == [
        *("year", "runtime", "budget_musd", "genres"),
        *("budget_real", "budget_flags"),  # issue 8 groups the demo table has
    ]
    summary = pd.read_csv(out / "ablation_summary.csv")
    assert (
        summary["split"].unique().tolist() == ["70-20-10"]
        and summary["model"].tolist() == df["model"].tolist()
    )


def test_full_row_repeats_the_headline_numbers(run):
    _, sdir, res, _ = run
    full = pd.read_csv(sdir / "ablation.csv").iloc[0]
    for m in ablation.ABLATION_METRICS:
        ci = res["test_ci"][m]
        assert (full[m], full[f"{m}_low"], full[f"{m}_high"]) == pytest.approx(
            (ci["point"], ci["low"], ci["high"])
        )
    assert full["ece"] == pytest.approx(res["calibration"]["ece_test"])


def test_majority_baseline_predicts_the_most_frequent_training_class(run):
    _, sdir, _, _ = run
    ids = pd.read_csv(sdir / "split_ids.csv")
    train = ids[ids["portion"] == "train"]["class"].to_numpy()
    test = ids[ids["portion"] == "test"]["class"].to_numpy()
    k = np.bincount(train, minlength=8).argmax()
    row = pd.read_csv(sdir / "ablation.csv").set_index("model").loc["majority"]
    assert row["accuracy"] == pytest.approx(np.mean(test == k))
    assert row["one_away_accuracy"] == pytest.approx(np.mean(np.abs(test - k) <= 1))


def test_significance_tests_are_paired_on_the_same_test_films(run):
    _, sdir, res, cfg = run
    sig = res["significance"]
    assert list(sig["comparisons"]) == BASELINES and sig["alpha"] == 0.05
    preds = pd.read_csv(sdir / "test_predictions.csv")
    ids = pd.read_csv(sdir / "split_ids.csv")
    k = np.bincount(ids[ids["portion"] == "train"]["class"], minlength=8).argmax()
    y, full, majority = (
        preds["true_class"].to_numpy(),
        preds["predicted_class"].to_numpy(),
        np.full(len(preds), k),
    )
    got = sig["comparisons"]["majority"]
    for m in ablation.ABLATION_METRICS:
        want = paired_bootstrap(y, full, majority, FNS[m], n_boot=cfg.eval.bootstrap, seed=cfg.split.seed)
        assert got["paired_bootstrap"][m] == pytest.approx(want)
    assert got["mcnemar"] == mcnemar(y, full, majority)
    # Two sentences per baseline: accuracy with McNemar's test, macro-F1 without.
    assert len(sig["sentences"]) == 2 * len(BASELINES)
    acc_sentences = sig["sentences"][::2]
    for s, b in zip(acc_sentences, BASELINES, strict=True):
        assert s.startswith("the full model (text+tabular) is ") and sig["comparisons"][b]["model"] in s
        assert "McNemar's test" in s
    assert all("f1_macro difference" in s and "McNemar" not in s for s in sig["sentences"][1::2])


def test_calibration_numbers_match_the_saved_probabilities(run):
    _, sdir, res, cfg = run
    preds = pd.read_csv(sdir / "test_predictions.csv")
    probs = preds[[f"p_{n}" for n in CLASS_NAMES]].to_numpy()
    y = preds["true_class"].to_numpy()
    cal = res["calibration"]
    assert cal["ece_test"] == pytest.approx(expected_calibration_error(probs, y, cfg.eval.calibration_bins))
    assert cal["temperature"] > 0 and 0 <= cal["ece_test_uncalibrated"] <= 1
    assert sum(res["reliability"]["count"]) == len(preds)
    assert (sdir / "calibration.png").exists()


def test_permutation_importance_covers_every_column_of_both_tabular_models(run):
    _, sdir, res, _ = run
    df = pd.read_csv(sdir / "permutation_importance.csv")
    cols = ["year", "runtime", "budget_musd", "genres", "budget_real", "budget_flags"]
    assert df[df["model"] == "full"]["column"].tolist() == cols
    assert df[df["model"] == "gbt_tabular"]["column"].tolist() == cols
    assert (df["repeats"] == 3).all() and (df["f1_macro_drop_std"] >= 0).all()
    full = df[df["model"] == "full"]
    assert np.allclose(full["f1_macro_baseline"], res["test"]["f1_macro"])
    assert np.allclose(full["accuracy_baseline"], res["test"]["accuracy"])
    assert full.set_index("column").loc["genres", "features"] > 1  # the genre block moves as one
    assert pd.DataFrame(res["permutation_importance"]).equals(df) or np.allclose(
        pd.DataFrame(res["permutation_importance"]).select_dtypes("number"), df.select_dtypes("number")
    )


@pytest.fixture(scope="module")
def catalogue():
    """600 demo films: revenue follows genre (and budget); year and runtime are pure noise."""
    table = films_from_frame(make_catalogue(600, seed=11))
    rev = table.df["revenue_musd"].to_numpy()
    split = make_split(revenue_strata(rev, 8), (0.6, 0.2, 0.2), seed=0)
    y = assign_classes(rev, fit_quantile_thresholds(rev[split.train]))
    return table, split, y


def test_gbt_learns_from_metadata_and_permutation_finds_the_signal(catalogue):
    table, split, y = catalogue
    cols = ["year", "runtime", "budget_musd", "genres"]
    gbt = baselines.fit_gbt(table, split, y, cols, seed=0)
    X, _ = gbt.encoder.transform(table.df.iloc[split.test])
    pred = gbt.predict(X)
    majority, _ = ablation.majority_baseline(y, split)
    yt = y[split.test]
    assert FNS["f1_macro"](yt, pred) > FNS["f1_macro"](yt, majority) + 0.1
    assert 0 < gbt.model.n_iter_ < baselines.GBT_MAX_ITER  # stopped on the validation films
    again = baselines.fit_gbt(table, split, y, cols, seed=0)
    assert np.array_equal(again.predict_proba(X), gbt.predict_proba(X))  # seeded

    rows = importance.permutation_importance(
        gbt.predict, X, yt, importance.column_blocks(gbt.encoder), 4, seed=0
    )
    drop = {r["column"]: r["f1_macro_drop_mean"] for r in rows}
    assert drop["genres"] > 0.05
    assert drop["genres"] > 3 * max(drop["year"], drop["runtime"])


def test_presence_read_back_from_features_matches_transform(catalogue):
    table, split, _ = catalogue
    df = table.df.iloc[:40].copy()
    df.loc[df.index[:5], ["year", "runtime", "budget_musd"]] = None
    df.loc[df.index[:3], "genres"] = pd.Series([[] for _ in range(3)], index=df.index[:3])
    enc = TabularEncoder(["year", "runtime", "budget_musd", "genres"]).fit(table.df.iloc[split.train])
    X, present = enc.transform(df)
    assert present[:3].tolist() == [False] * 3 and present[3:].all()
    assert np.array_equal(importance.tabular_presence(enc, X), present)
    blocks = importance.column_blocks(enc)
    assert [len(b) for b in blocks.values()] == [2, 2, 2, len(enc.genres) + 1]  # + known:genres


def test_significance_sentences_say_better_only_when_it_is():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 8, 300)
    cfg = Config()
    cfg.eval.bootstrap = 200
    probs = np.full((300, 8), 1 / 8)
    good = ablation.Candidate(
        "full", "the full model (text)", ["text"], np.where(rng.random(300) < 0.6, y, (y + 1) % 8), probs
    )
    majority = ablation.Candidate(
        "majority", "the majority-class predictor", [], np.zeros(300, dtype=int), probs
    )
    twin = ablation.Candidate("twin", "an identical model", ["text"], good.pred.copy(), probs)
    sig = significance(y, good, [majority, twin], cfg)
    assert sig["comparisons"]["majority"]["full_significantly_better"] == {
        m: True for m in ablation.ABLATION_METRICS
    }
    assert sig["sentences"][0].startswith(
        "the full model (text) is significantly better than the majority-class"
    )
    assert not any(sig["comparisons"]["twin"]["full_significantly_better"].values())
    assert "is not significantly different from an identical model" in sig["sentences"][2]


def _fake_split(sdir, offset):
    rows = []
    for i, model in enumerate(["full", "majority"]):
        row = {"model": model, "modalities": "text" if model == "full" else "-", "test_films": 10}
        for m in ablation.ABLATION_METRICS:
            v = 0.5 - 0.3 * i + offset
            row.update({m: v, f"{m}_low": v - 0.1, f"{m}_high": v + 0.1})
        row.update({"ece": 0.1, "train_seconds": 1.0, "note": ""})
        rows.append(row)
    sdir.mkdir()
    pd.DataFrame(rows).to_csv(sdir / "ablation.csv", index=False)


def test_cross_validation_summary_reports_mean_and_std_per_model(tmp_path):
    dirs = {}
    for k, off in enumerate([0.0, 0.1, 0.2]):
        dirs[f"fold{k + 1}"] = tmp_path / f"fold{k + 1}"
        _fake_split(dirs[f"fold{k + 1}"], off)
    df = write_ablation_summary(tmp_path, dirs, cv=True)
    back = pd.read_csv(tmp_path / "ablation_summary.csv")
    assert len(back) == len(df) == 6 + 4
    mean = back[(back["split"] == "mean") & (back["model"] == "full")].iloc[0]
    std = back[(back["split"] == "std") & (back["model"] == "majority")].iloc[0]
    assert mean["accuracy"] == pytest.approx(0.6) and mean["qwk"] == pytest.approx(0.6)
    assert std["f1_macro"] == pytest.approx(np.std([0.2, 0.3, 0.4], ddof=1))
    assert write_ablation_summary(tmp_path, {"x": tmp_path / "missing"}) is None


def test_ablation_off_and_a_table_without_metadata(tiny_bert, tmp_path):
    films = make_catalogue(64, seed=9)[["id", "title", "description", "revenue"]]
    path = tmp_path / "plain.csv"
    films.to_csv(path, index=False)
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=2)
    cfg.eval.bootstrap = 20
    run_train(cfg, path, tmp_path / "run", progress=False)
    sdir = tmp_path / "run" / "split_70_20_10"
    res = json.loads((sdir / "evaluation_results.json").read_text())
    # Text only and no metadata: the only baseline left is the majority class, and the report says why.
    assert pd.read_csv(sdir / "ablation.csv")["model"].tolist() == ["full", "majority"]
    assert "no pre-release metadata" in res["ablation"]["skipped"]["gbt_tabular"]
    assert not (sdir / "permutation_importance.csv").exists()

    cfg.eval.ablation = False
    run_train(cfg, path, tmp_path / "off", progress=False)
    assert not (tmp_path / "off" / "split_70_20_10" / "ablation.csv").exists()
    assert not (tmp_path / "off" / "ablation_summary.csv").exists()
    assert "significance" not in json.loads(
        (tmp_path / "off" / "split_70_20_10" / "evaluation_results.json").read_text()
    )


def test_single_modality_baselines_use_the_same_split_and_features(tiny_bert, films_csv, tmp_path):
    cfg = tiny_config(tiny_bert, tmp_path / "cache", epochs=1)
    cfg.tabular.use_in_fusion = True
    from reelcast.predictor import RevenuePredictor

    table = load_films(films_csv)
    p = RevenuePredictor(cfg, progress=False)
    inputs = p.featurize(table)
    split = Split("s", *np.array_split(np.random.default_rng(0).permutation(len(table)), [60, 80]))
    split = Split("s", np.sort(split.train), np.sort(split.val), np.sort(split.test))
    p.fit(table, split, inputs)
    before = dict(p.featurizer.stats)
    b = ablation.fit_fusion_baseline(p, table, inputs, split, cfg, ["text"])
    assert b.spec_.modalities == ["text"] and b.tabular_ is None
    assert np.array_equal(b.thresholds_, p.thresholds_) and b.split_ids_ == p.split_ids_
    assert p.featurizer.stats == before  # nothing re-encoded


def test_a_scored_table_uses_the_models_decision_rule_like_evaluate(tiny_run, films_csv, monkeypatch):
    from reelcast.evaluation.evaluate import score_table
    from reelcast.evaluation.metrics import SCALAR_METRICS
    from reelcast.predictor import RevenuePredictor

    p = RevenuePredictor.load(tiny_run)
    # a rule no argmax gives: the page must report what the model decides, not the network's argmax
    monkeypatch.setattr(RevenuePredictor, "decide", lambda self, probs: np.zeros(len(probs), dtype=int))
    plain, page = p.evaluate(films_csv), score_table(p, films_csv)
    assert {k: page["test"][k] for k in SCALAR_METRICS} == {k: plain[k] for k in SCALAR_METRICS}
    y = p.labels_for(p.prepare_inputs(films_csv)[1])
    assert page["test"]["accuracy"] == pytest.approx(np.mean(y == 0))

"""The `reelcast` command end to end on tiny models: train, evaluate, predict, config."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from reelcast.cli import app

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result


@pytest.fixture(scope="module")
def trained(tiny_bert, films_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    r = invoke(
        "train",
        "--data",
        films_csv,
        "--out",
        out,
        "--text-model",
        tiny_bert,
        "--epochs",
        3,
        "--patience",
        2,
        "--lr",
        1e-3,
        "--cache-dir",
        out.parent / "cache",
        "--no-ablation",
        "-q",
        "--set",
        "eval.bootstrap=20",
        "--set",
        "text.max_length=64",
    )
    assert r.exit_code == 0, r.output
    return out, r.output


def test_train_writes_every_report_file(trained):
    out, output = trained
    assert "best split by test macro-F1" in output
    comp = pd.read_csv(out / "split_comparison.csv")
    assert comp["split"].tolist() == ["70-20-10", "75-15-10", "80-10-10"]
    for col in (
        "accuracy",
        "f1_macro",
        "f1_weighted",
        "precision_macro",
        "recall_weighted",
        "one_away_accuracy",
        "mae_class",
        "qwk",
    ):
        assert comp[col].between(0, 8).all(), col
    for split in ("split_70_20_10", "split_75_15_10", "split_80_10_10"):
        d = out / split
        for f in (
            "best_multimodal_model.pth",
            "training_curves.png",
            "evaluation_results.json",
            "confusion_matrix.png",
            "split_ids.csv",
            "config.toml",
        ):
            assert (d / f).stat().st_size > 0, f"{split}/{f}"
        res = json.loads((d / "evaluation_results.json").read_text())
        assert len(res["thresholds_musd"]) == 7 and len(res["test"]["confusion_matrix"]) == 8
        assert (
            res["class_names"][7] == "Blockbuster"
            and sum(res["class_counts"]["test"]) == res["sizes"]["test"]
        )
        ci = res["test_ci"]["accuracy"]
        assert ci["low"] <= ci["point"] <= ci["high"]
        ids = pd.read_csv(d / "split_ids.csv")
        assert ids["film_id"].is_unique and len(ids) == 96
    assert (out / "config.toml").exists() and (out / "table_report.json").exists()


def test_rerun_encodes_nothing(trained, tiny_bert, films_csv):
    out, _ = trained
    r = invoke(
        "train",
        "--data",
        films_csv,
        "--out",
        out.parent / "again",
        "--text-model",
        tiny_bert,
        "--epochs",
        1,
        "--splits",
        "80-10-10",
        "--cache-dir",
        out.parent / "cache",
        "--no-ablation",
        "--set",
        "text.max_length=64",
        "--set",
        "eval.bootstrap=20",
    )
    assert r.exit_code == 0, r.output
    assert "text features: 0 encoded, 96 from the cache" in r.output


def test_evaluate_and_predict(trained, films_csv, tmp_path):
    out, _ = trained
    model = out / "split_70_20_10"
    page = tmp_path / "scores.html"
    r = invoke(
        "evaluate", "--model", model, "--data", films_csv, "-q", "--out", page, "--set", "eval.bootstrap=20"
    )
    assert r.exit_code == 0, r.output
    assert "one_away_accuracy" in r.output and "films: 96" in r.output
    html = page.read_text()
    assert "Confusion matrix (scored films)" in html and "bootstrap CI" in html and "Blockbuster" in html
    # the page scores the same model and decision rule as the plain command
    plain = invoke("evaluate", "--model", model, "--data", films_csv, "-q", "--out", tmp_path / "s.json")
    assert plain.exit_code == 0 and plain.output == r.output.replace(f"report: {page}\n", "")
    r = invoke(
        "predict",
        "--model",
        model,
        "--description",
        "A rogue agent and an explosive chase.",
        "--title",
        "Nightfall",
        "--json",
    )
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["class_name"] in res["probabilities"] and abs(sum(res["probabilities"].values()) - 1) < 1e-6
    assert set(res["contributions"]) == {"text", "tabular"}
    preds = tmp_path / "preds.csv"
    r = invoke("predict", "--model", model, "--data", films_csv, "--out", preds, "-q")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(preds)
    assert len(df) == 96 and "contribution_text" in df
    html = (tmp_path / "preds.html").read_text()  # the readable page beside the CSV
    assert html.count("<tr>") == 96 + 1 and 'class="data sortable"' in html and "bar-track" in html


def test_clear_errors(tmp_path, tiny_bert):
    bad = tmp_path / "f.csv"
    bad.write_text("Title,Plot\nA,b\n")
    r = invoke("train", "--data", bad, "--out", tmp_path / "o", "--text-model", tiny_bert, "-q")
    assert r.exit_code == 2 and "holds the revenue; pass --revenue-col" in r.output
    assert "Columns found: Title, Plot" in r.output
    r = invoke("predict", "--model", tmp_path, "--description", "x")
    assert r.exit_code == 2 and "best_multimodal_model.pth" in r.output
    r = invoke("train", "--data", bad, "--set", "train.nope=1")
    assert r.exit_code == 2 and "train.nope" in r.output


def test_config_command_prints_toml(tmp_path):
    r = invoke("config", "--set", "train.lr=0.5")
    assert r.exit_code == 0 and "lr = 0.5" in r.output and "[media]" in r.output


def test_train_with_people_features_date_split_and_constant_dollars(tiny_bert, films_csv, tmp_path):
    import numpy as np

    films = pd.read_csv(films_csv)
    people = tmp_path / "people.csv"
    pd.DataFrame(
        {
            "film_id": films["id"],
            "director": [f"D{i % 7}" for i in range(len(films))],
            "cast": [f"S{i % 5}|S{i % 11}" for i in range(len(films))],
        }
    ).to_csv(people, index=False)
    feats = tmp_path / "feats.csv"
    vecs = pd.DataFrame(
        np.random.default_rng(0).standard_normal((len(films) - 6, 3)), columns=["a", "b", "c"]
    )
    vecs.insert(0, "film_id", films["id"].iloc[6:].to_numpy())
    vecs.to_csv(feats, index=False)
    out = tmp_path / "run"
    r = invoke(
        "train",
        "--data",
        films_csv,
        "--out",
        out,
        "--text-model",
        tiny_bert,
        "--epochs",
        1,
        "--cache-dir",
        tmp_path / "cache",
        "--no-ablation",
        "-q",
        "--splits",
        "70-20-10",
        "--tabular",
        "auto",
        "--people",
        people,
        "--features",
        feats,
        "--split-by",
        "date",
        "--constant-dollars",
        "--set",
        "eval.bootstrap=20",
        "--set",
        "text.max_length=64",
    )
    assert r.exit_code == 0, r.output
    sdir = out / "split_date_70_20_10"
    res = json.loads((sdir / "evaluation_results.json").read_text())
    assert res["split"] == "date-70-20-10" and res["thresholds_dollars"].startswith("constant 2024")
    assert res["modalities"] == ["text", "tabular", "external"]
    report = json.loads((out / "table_report.json").read_text())
    assert report["people"]["matched"] == len(films) and report["people"]["by_method"]["id"] == len(films)
    # The newest films are the test films.
    ids = pd.read_csv(sdir / "split_ids.csv").merge(films, left_on="film_id", right_on="id")
    assert ids[ids["portion"] == "train"]["year"].max() <= ids[ids["portion"] == "test"]["year"].min()
    r = invoke("predict", "--model", sdir, "--data", films_csv, "--json", "-q")
    assert r.exit_code == 0, r.output
    used = pd.DataFrame(json.loads(r.output))["modalities_used"]
    assert (used == "text,tabular").sum() == 6 and (used == "text,tabular,external").sum() == len(films) - 6


def test_pure_network_trains_the_seed_network_alone(tiny_bert, films_csv, tmp_path):
    from reelcast.predictor import RevenuePredictor

    r = invoke(
        "train",
        "--data",
        films_csv,
        "--out",
        tmp_path / "run",
        "--text-model",
        tiny_bert,
        "--splits",
        "70-20-10",
        "--epochs",
        1,
        "--no-ablation",
        "-q",
        "--pure-network",
        "--cache-dir",
        tmp_path / "cache",
        "--set",
        "text.max_length=64",
    )
    assert r.exit_code == 0, r.output
    p = RevenuePredictor.load(tmp_path / "run" / "split_70_20_10")
    assert p.ensemble_ is None and p.spec_.modalities == ["text"]
    bad = invoke("train", "--data", films_csv, "--pure-network", "--tabular", "auto")
    assert bad.exit_code != 0 and "--pure-network" in bad.output


def test_predict_takes_metadata_for_the_ensemble(ensemble_model):
    base = ["predict", "--model", ensemble_model, "--description", "A heist goes wrong.", "--json"]
    cheap = invoke(*base, "--meta", "budget_musd=0.5", "--meta", "genres=Horror", "--meta", "year=2015")
    big = invoke(
        *base, "--meta", "budget_musd=250", "--meta", "genres=Action,Adventure", "--meta", "year=2015"
    )
    assert cheap.exit_code == 0 and big.exit_code == 0, cheap.output + big.output
    a, b = json.loads(cheap.output), json.loads(big.output)
    assert a["modalities_used"]["tabular"] and a["probabilities"] != b["probabilities"]
    bad = invoke(*base, "--meta", "budget_musd=-3")
    assert bad.exit_code != 0 and "budget_musd" in bad.output
    odd = invoke(*base, "--meta", "studio=A24")
    assert odd.exit_code != 0 and "studio" in odd.output

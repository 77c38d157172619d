"""A model with aux outputs shows its estimates of post-release figures for a new film, labelled as model
estimates: in `reelcast predict`, in POST /predict and on the web page."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers import tiny_config
from typer.testing import CliRunner

from reelcast.cli import app
from reelcast.data.demo import make_catalogue
from reelcast.data.schema import aux_estimate_text
from reelcast.predictor import RevenuePredictor
from reelcast.serving.app import create_app

APP_JS = Path(__file__).resolve().parents[2] / "src" / "reelcast" / "serving" / "static" / "app.js"


@pytest.fixture(scope="module")
def rated_model(tiny_bert, tmp_path_factory):
    """A network that also learned IMDb-1000's Rating and Votes."""
    root = tmp_path_factory.mktemp("rated")
    films = make_catalogue(96, seed=4)
    rank = films["revenue"].rank(pct=True).to_numpy()
    films["Rating"] = (5 + 3 * rank).round(1)
    films["Votes"] = (10 ** (2 + 3 * rank)).round()
    films.to_csv(root / "rated.csv", index=False)
    cfg = tiny_config(tiny_bert, root / "cache", epochs=2)
    cfg.ensemble.enabled = "off"
    cfg.model.aux_targets = ["auto"]
    p = RevenuePredictor(cfg, progress=False).fit(root / "rated.csv")
    p.save(root / "model")
    return root / "model", p


def test_estimate_text_names_the_figure_and_says_it_is_an_estimate():
    assert aux_estimate_text("Rating", 7.44) == ("IMDb rating", "expected IMDb rating 7.4 (model estimate)")
    assert aux_estimate_text("num_voted_users", 123456.7)[1] == "expected IMDb votes 123,457 (model estimate)"
    assert aux_estimate_text("box_office_rank", 3.0)[1] == "expected box_office_rank 3 (model estimate)"


def test_predict_prints_the_estimates(rated_model):
    path, _ = rated_model
    r = CliRunner().invoke(app, ["predict", "--model", str(path), "--description", "A heist in space"])
    assert r.exit_code == 0, r.output
    lines = [line for line in r.output.splitlines() if line.endswith("(model estimate)")]
    assert [line.split()[1:3] for line in lines] == [["IMDb", "rating"], ["IMDb", "votes"]], r.output


def test_api_answer_carries_labelled_estimates(rated_model, tiny_run):
    _, p = rated_model
    body = {"description": "A retired pilot returns for one last mission.", "title": "Nightfall"}
    with TestClient(create_app(predictor=p)) as c:
        out = c.post("/predict", json=body).json()
    est = {e["target"]: e for e in out["model_estimates"]}
    assert set(est) == {"Rating", "Votes"}
    direct = p.predict_film(body["description"], body["title"])["model_estimates"]
    assert est["Rating"]["value"] == pytest.approx(direct["Rating"])
    assert est["Rating"]["label"] == "IMDb rating" and est["Rating"]["text"].endswith("(model estimate)")
    with TestClient(create_app(tiny_run)) as c:  # no aux outputs: nothing is estimated
        assert c.post("/predict", json=body).json()["model_estimates"] is None


# A minimal DOM: enough for renderEstimates, which builds its box when the page has none.
DOM = """
const nodes = {};
class Node {
  constructor(tag) { this.tag = tag; this.children = []; this.dataset = {}; this.hidden = false; }
  append(...c) { this.children.push(...c); }
  replaceChildren(...c) { this.children = c; }
  after(n) { nodes[n.id] = n; }
}
const $ = (id) => nodes[id];
function el(tag, className, text) {
  const n = new Node(tag); n.className = className; n.textContent = text; return n;
}
nodes["revenue-box"] = new Node("section");
"""
SHOW = """
renderEstimates(JSON.parse(process.argv[2]));
const box = nodes["estimates-box"];
console.log(JSON.stringify({hidden: box.hidden, texts: box.children.map((c) => c.textContent)}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page's script")
def test_page_shows_the_estimates_after_the_revenue_box(tmp_path):
    source = APP_JS.read_text()
    start = source.index("function renderEstimates")
    (tmp_path / "page.js").write_text(DOM + source[start : source.index("\nfunction ", start + 1)] + SHOW)

    def shown(answer: dict) -> dict:
        cmd = ["node", str(tmp_path / "page.js"), json.dumps(answer)]
        return json.loads(subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout)

    text = "expected IMDb rating 7.4 (model estimate)"
    estimate = {"target": "Rating", "label": "IMDb rating", "value": 7.4, "text": text}
    page = shown({"model_estimates": [estimate]})
    assert not page["hidden"] and text in page["texts"]
    assert shown({"model_estimates": None})["hidden"] is True

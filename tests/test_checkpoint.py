"""Saved models: format versions, digests of every file, and clear refusals of what is not a model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from reelcast.predictor import RevenuePredictor

FORMAT1 = Path(__file__).parent / "fixtures" / "format1"


def load_format1(tiny_bert: Path, tmp_path: Path, **kw) -> RevenuePredictor:
    """The format-1 model written by an earlier reelcast, with the tiny BERT it was trained with."""
    # The checkpoint names the text model and cache by the absolute paths of the run that made it;
    # save_tiny_bert(seed=0) rebuilds that text model bit for bit.
    overrides = {"text": {"model": str(tiny_bert)}, "cache_dir": str(tmp_path / "cache")}
    return RevenuePredictor.load(FORMAT1, overrides=overrides, **kw)


def test_format1_model_loads_and_predicts_what_it_predicted(tiny_bert, tmp_path):
    from reelcast.data.demo import make_catalogue

    expected = json.loads((FORMAT1 / "expected.json").read_text())
    p = load_format1(tiny_bert, tmp_path)
    for film in expected["films"]:
        got = p.predict_film(film["description"], "x", metadata=film["metadata"])["probabilities"]
        assert got == pytest.approx(film["probabilities"], abs=1e-6)
    inputs, _ = p.prepare_inputs(make_catalogue(96, seed=3).head(6))
    comp = p.component_probs(inputs)
    assert sorted(comp) == sorted(expected["components"])
    for name, probs in expected["components"].items():
        np.testing.assert_allclose(comp[name], probs, atol=1e-6, err_msg=name)

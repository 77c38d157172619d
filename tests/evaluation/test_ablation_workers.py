"""The ablation's fusion baselines fit in forked workers on small data: the same models as one by one."""

import dataclasses
import os

import numpy as np
import pytest
from helpers import tiny_config

import reelcast.evaluation.ablation as ablation
from reelcast.predictor import RevenuePredictor, as_table

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def fitted(tiny_bert, films_csv, tmp_path_factory):
    """A text + tabular model on one split, and what its ablation needs."""
    cfg = tiny_config(tiny_bert, tmp_path_factory.mktemp("abl") / "cache", epochs=3)
    cfg.tabular.use_in_fusion = True
    p = RevenuePredictor(cfg, progress=False)
    table = as_table(films_csv, cfg)
    inputs = p.featurize(table)
    split = p.default_split(table, "70-20-10")
    p.fit(table, split, inputs)
    y = p.labels_for(table)
    probs = p.proba(p.shape_inputs(inputs, table.df))
    return p, table, inputs, split, y, probs, cfg


def ablation_probs(fitted) -> dict[str, np.ndarray]:
    p, table, inputs, split, y, probs, cfg = fitted
    ab = ablation.run_ablation(p, table, inputs, split, y, probs, cfg)
    return {c.key: c.probs for c in ab.candidates}


def test_forked_baselines_equal_the_ones_fit_one_by_one(fitted, monkeypatch):
    p, table, inputs, _, _, _, cfg = fitted
    cores = len(os.sched_getaffinity(0))
    assert ablation.baseline_workers(p, len(inputs), cfg, jobs=2) == min(2, cores)
    parallel = ablation_probs(fitted)
    monkeypatch.setattr(ablation, "baseline_workers", lambda *a, **k: 1)
    alone = ablation_probs(fitted)
    assert list(parallel) == list(alone)
    assert {"text_only", "tabular_only"} <= set(alone)
    for key in alone:
        np.testing.assert_array_equal(parallel[key], alone[key], err_msg=key)


def test_big_data_or_set_threads_fit_the_baselines_in_this_process(fitted):
    p, _, _, _, _, _, cfg = fitted
    assert ablation.baseline_workers(p, cfg.train.parallel_films, cfg, jobs=4) == 1
    assert ablation.baseline_workers(p, 100, cfg, jobs=1) == 1
    threads = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, threads=2))
    assert ablation.baseline_workers(p, 100, threads, jobs=4) == 1

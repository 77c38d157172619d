"""Shared fixtures: tiny offline encoders, a small film table, a tiny trained model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import shared_path, tiny_config  # noqa: F401  (fixtures below use them)

# Tests never reach a model hub; fail fast instead of waiting on network timeouts.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def one_thread():
    """One thread for torch and scikit-learn: tiny models gain nothing from two."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A tiny random BERT saved as a local Hugging Face directory."""
    from reelcast.encoders.text import save_tiny_bert

    return save_tiny_bert(tmp_path_factory.mktemp("models") / "tiny-bert", seed=0)


@pytest.fixture(scope="session")
def films_csv(tmp_path_factory) -> Path:
    """A 96-film generic table from the demo catalogue generator."""
    from reelcast.data.demo import make_catalogue

    path = tmp_path_factory.mktemp("data") / "films.csv"
    make_catalogue(96, seed=3).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def tiny_run(tiny_bert, films_csv, tmp_path_factory) -> Path:
    """A split folder of a text-only model trained on the small table (what `load` and `serve` take)."""
    from reelcast.predictor import RevenuePredictor

    root = tmp_path_factory.mktemp("run")
    cfg = tiny_config(tiny_bert, root / "cache")
    cfg.tabular.use_in_fusion = False  # the seed's pure network: no metadata, no trees
    cfg.ensemble.enabled = "off"
    p = RevenuePredictor(cfg, progress=False).fit(films_csv)
    p.save(root / "split_70_20_10")
    return root / "split_70_20_10"


# Property-based tests: deterministic (derandomize, no example database) and without per-example
# deadlines, which a loaded 2-core machine would trip.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("reelcast", deadline=None, derandomize=True, database=None)
_hypothesis_settings.load_profile("reelcast")


@pytest.fixture(scope="session")
def ray_cluster():
    """One private Ray instance for all Ray tests: 2 CPUs, loopback only, no dashboard; shut down after."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'reelcast[ray]'")
    pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install 'reelcast[ray]'")
    import logging

    if ray.is_initialized():  # pragma: no cover - only when a test left one behind
        ray.shutdown()
    ray.init(
        address="local",  # our own instance, never another Ray running on this machine
        num_cpus=2,
        resources={"reelcast_download": 2.0},
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        _node_ip_address="127.0.0.1",
    )
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def ensemble_model(tiny_bert, films_csv, tmp_path_factory) -> Path:
    """A split folder of the default model on a table with metadata: fusion network + trees + blend."""
    from reelcast.predictor import RevenuePredictor

    root = tmp_path_factory.mktemp("ensemble")
    cfg = tiny_config(tiny_bert, root / "cache")
    cfg.ensemble.seeds, cfg.ensemble.max_rounds, cfg.ensemble.threads = 2, 200, 1
    p = RevenuePredictor(cfg, progress=False).fit(films_csv)
    p.save(root / "split_70_20_10")
    return root / "split_70_20_10"

"""The training loop's data-sized batch and learning rate, step and time budgets, and thread rule."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from reelcast.config import Config, TrainConfig
from reelcast.models.fusion import FusionModel, ModelSpec
from reelcast.training.loop import scaled_for, torch_threads_for, train_model


def test_batch_and_lr_scale_with_the_films_beyond_scale_films():
    cfg = TrainConfig()
    assert scaled_for(cfg, 611) is cfg  # IMDB-1000 and TMDB-5000 sizes train exactly as configured
    assert scaled_for(cfg, 2700) is cfg
    big = scaled_for(cfg, 10_800)  # TMDB x4: 5.4 times scale_films -> 4x the batch
    assert big.batch_size == 64 and math.isclose(big.lr, cfg.lr * 2)
    assert scaled_for(cfg, 10**7).batch_size == cfg.max_batch_size
    cfg.scale_films = 0  # the rule off: exactly what is set
    assert scaled_for(cfg, 10**6) is cfg


def _data(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x = {"text": torch.randn(n, 8, generator=g), "mask": torch.ones(n, 1, dtype=torch.bool)}
    return x, np.random.default_rng(seed).integers(0, 8, n)


def test_a_step_budget_ends_training_after_whole_epochs():
    spec = ModelSpec(modalities=["text"], text_dim=8)
    (tr, y), (va, yv) = _data(64, 0), _data(32, 1)
    cfg = Config()
    cfg.train.epochs, cfg.train.patience, cfg.train.batch_size = 20, 20, 16
    cfg.train.max_steps = 10  # 4 steps an epoch: the budget is spent during epoch 3
    torch.manual_seed(0)
    res = train_model(
        FusionModel(spec, cfg.model), tr, y, va, yv, cfg.train, torch.device("cpu"), progress=False
    )
    assert len(res.history) == 3 and res.stopped_by == "steps" and not res.stopped_early
    assert res.batch_size == 16 and res.lr == cfg.train.lr

    cfg.train.max_steps, cfg.train.max_seconds = 0, 1e-9  # a time budget: one epoch, then it stops
    res = train_model(
        FusionModel(spec, cfg.model), tr, y, va, yv, cfg.train, torch.device("cpu"), progress=False
    )
    assert len(res.history) == 1 and res.stopped_by == "seconds"


def test_small_data_runs_one_torch_thread_and_the_setting_comes_back():
    before = torch.get_num_threads()
    cfg = TrainConfig()
    with torch_threads_for(cfg.parallel_films - 1, cfg):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads_for(cfg.parallel_films, cfg):  # big data: torch's own choice stays
        assert torch.get_num_threads() == before
    with torch_threads_for(10, dataclasses.replace(cfg, threads=3)):  # an explicit setting wins
        assert torch.get_num_threads() == 3
    assert torch.get_num_threads() == before

"""Helpers shared by the tests: paths to ../shared, a fast config; loopback servers and served models
live in the submodules."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared"


def screenshot_dir() -> Path:
    """Where the browser tests save their screenshots: REELCAST_SCREENSHOTS (e.g. docs/screenshots, to
    refresh the documentation's pictures), else a temporary folder, so a test run never edits the tree."""
    where = os.environ.get("REELCAST_SCREENSHOTS")
    return Path(where).resolve() if where else Path(tempfile.gettempdir()) / "reelcast-screenshots"


def shared_path(*parts: str) -> Path:
    """A file under ../shared, or skip the test with the reason when it is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} not present (the shared data folder sits beside the repository in CI)")
    return p


def tiny_config(tiny_bert: Path, cache_dir: Path, **train):
    """A fast config: tiny text model, few epochs, small bootstrap."""
    from reelcast.config import Config

    cfg = Config()
    cfg.text.model = str(tiny_bert)
    cfg.text.max_length = 64
    cfg.cache_dir = str(cache_dir)
    cfg.train.epochs = train.get("epochs", 4)
    cfg.train.patience = train.get("patience", 3)
    cfg.train.lr = train.get("lr", 1e-3)
    cfg.eval.bootstrap = 50
    cfg.split.splits = "70-20-10"
    return cfg

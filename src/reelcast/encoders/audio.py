"""Trailer audio: the cached input (log-mel spectrogram or raw waveform) and the trainable 1-D CNN over it.

The log-mel front end is computed once per film and cached; `AudioCNN` lives in the fusion model and is
trained on those cached inputs, so it has to be cheap on CPU. The mel filterbank uses the HTK mel scale
(mel = 2595 log10(1 + f / 700)) with unnormalised triangles of peak 1 from 0 Hz to Nyquist, which is
torchaudio's `melscale_fbanks(..., norm=None, mel_scale="htk")`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reelcast.config import AudioConfig, MediaConfig

FRONTENDS = ("logmel", "waveform")
# Floor added to mel power before the log: silence maps to log(1e-6) ~ -13.8 instead of -inf.
LOG_EPS = 1e-6


def frame_params(cfg: AudioConfig, sample_rate: int) -> tuple[int, int, int]:
    """(win_length, hop_length, n_fft) in samples for the STFT (n_fft = next power of two >= window)."""
    win = max(1, round(cfg.win_ms * sample_rate / 1000.0))
    hop = max(1, round(cfg.hop_ms * sample_rate / 1000.0))
    return win, hop, 1 << (win - 1).bit_length()


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """HTK mel scale."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """Inverse of `hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=8)
def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int) -> torch.Tensor:
    """(n_fft // 2 + 1, n_mels) triangular HTK filters, evenly spaced in mel from 0 Hz to Nyquist."""
    freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2.0), n_mels + 2))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    f = freqs[:, None]
    rising = (f - lower) / (centre - lower)
    falling = (upper - f) / (upper - centre)
    fb = np.clip(np.minimum(rising, falling), 0.0, None)
    return torch.from_numpy(fb.astype(np.float32))


def audio_input(waveform: np.ndarray, cfg: AudioConfig, sample_rate: int) -> np.ndarray:
    """Mono waveform -> float32 network input: (n_mels, frames) log-mel or (1, samples) waveform."""
    wav = np.asarray(waveform, dtype=np.float32)
    if wav.ndim != 1:
        raise ValueError(f"waveform must be mono (samples,), got shape {wav.shape}")
    if cfg.frontend == "waveform":
        return wav[None, :].copy()
    if cfg.frontend != "logmel":
        raise ValueError(f"audio frontend {cfg.frontend!r}: expected one of {', '.join(FRONTENDS)}")
    win, hop, n_fft = frame_params(cfg, sample_rate)
    with torch.inference_mode():
        spec = torch.stft(
            torch.from_numpy(wav),
            n_fft=n_fft,
            hop_length=hop,
            win_length=win,
            window=torch.hann_window(win),
            center=True,
            # Zero padding (not reflect) so clips shorter than half a window still give a frame.
            pad_mode="constant",
            return_complex=True,
        )
        power = spec.real.square() + spec.imag.square()  # (freqs, frames)
        mel = mel_filterbank(n_fft, cfg.n_mels, sample_rate).T @ power
        return torch.log(mel + LOG_EPS).numpy().astype(np.float32, copy=False)


def audio_input_shape(cfg: AudioConfig, sample_rate: int, seconds: float) -> tuple[int, int]:
    """The shape `audio_input` returns for `seconds` of audio, without needing the audio."""
    samples = round(seconds * sample_rate)
    if cfg.frontend == "waveform":
        return (1, samples)
    if cfg.frontend != "logmel":
        raise ValueError(f"audio frontend {cfg.frontend!r}: expected one of {', '.join(FRONTENDS)}")
    _, hop, _ = frame_params(cfg, sample_rate)
    return (cfg.n_mels, 1 + samples // hop)


class ConvBlock(nn.Sequential):
    """Conv1d -> BatchNorm1d -> ReLU."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1):
        super().__init__(
            nn.Conv1d(in_ch, out_ch, kernel_size, stride, padding=kernel_size // 2, bias=False),
            nn.BatchNorm1d(out_ch),
            nn.ReLU(inplace=True),
        )


class AudioCNN(nn.Module):
    """Trainable 1-D CNN: (B, C, T) audio input -> (B, dim) via conv blocks and global mean+max pooling.

    With one input channel (the waveform front end) a strided convolution first acts as a learnable
    filterbank: `filterbank = (filters, kernel, stride)` in samples, by default one filter per mel band
    with the STFT's window and hop at the default sample rate. The first trunk block is strided and each
    block is followed by a 2x max-pool, so a 30 s log-mel input (3001 frames) is only ~94 steps long by
    the last block; pooling stops once the sequence is a single step, so very short clips work too
    (in training mode a batch of one still needs two time steps, as for any BatchNorm network).
    """

    def __init__(
        self,
        in_channels: int,
        dim: int = AudioConfig.dim,
        widths: tuple[int, ...] = (96, 128, 192, 256),
        kernel_size: int = 3,
        filterbank: tuple[int, int, int] | None = None,
    ):
        super().__init__()
        if filterbank is None and in_channels == 1:
            cfg = AudioConfig()
            win, hop, _ = frame_params(cfg, MediaConfig().sample_rate)
            filterbank = (cfg.n_mels, win, hop)
        self.filterbank: nn.Module | None = None
        if filterbank is not None:
            n_filters, fb_kernel, fb_stride = filterbank
            self.filterbank = nn.Sequential(
                nn.Conv1d(in_channels, n_filters, fb_kernel, fb_stride, padding=fb_kernel // 2, bias=False),
                nn.BatchNorm1d(n_filters),
                nn.ReLU(inplace=True),
            )
            in_channels = n_filters
        # Per-band standardisation of the (log-mel) input, learned rather than computed on the data.
        self.input_norm = nn.BatchNorm1d(in_channels)
        blocks = []
        for i, width in enumerate(widths):
            blocks.append(ConvBlock(in_channels, width, kernel_size, stride=2 if i == 0 else 1))
            in_channels = width
        self.blocks = nn.ModuleList(blocks)
        self.proj = nn.Linear(2 * in_channels, dim)
        self.dim = dim

    @classmethod
    def from_config(cls, cfg: AudioConfig, sample_rate: int) -> AudioCNN:
        """The CNN matching `audio_input(..., cfg, sample_rate)`: channels and filterbank from the config."""
        if cfg.frontend == "waveform":
            win, hop, _ = frame_params(cfg, sample_rate)
            return cls(1, cfg.dim, filterbank=(cfg.n_mels, win, hop))
        if cfg.frontend != "logmel":
            raise ValueError(f"audio frontend {cfg.frontend!r}: expected one of {', '.join(FRONTENDS)}")
        return cls(cfg.n_mels, cfg.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, dim)."""
        if self.filterbank is not None:
            x = self.filterbank(x)
        x = self.input_norm(x)
        for block in self.blocks:
            x = block(x)
            if x.shape[-1] > 1:
                x = F.max_pool1d(x, 2, ceil_mode=True)
        pooled = torch.cat([x.mean(dim=-1), x.amax(dim=-1)], dim=1)
        return self.proj(pooled)

"""The frame encoder pool both engines run: how many encoders for the cores, batches that span films.

On CPU the frame CNN runs as several encoders (local worker processes, Ray actors) with one torch thread
each, not one encoder with every core. Single-threaded encoders share cores with the decode workers
without stalling: an OpenMP team whose thread loses its core waits at every layer's barrier (~3x slower
in benchmarks/extract.py, table 4), while one-thread processes just take turns. Their features also do
not depend on how many there are: a torch thread count changes ResNet-50's float sums (~1e-4), the
number of single-threaded encoders does not, so 1, 2 or 64 cores store the same numbers.

Films are encoded in batches that span films, padded to one forward batch size (`FrameEncoder`), so a
frame's features do not depend on which films it was batched with either.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class EncoderPlan:
    """How many frame encoders an engine runs and the torch threads of each."""

    encoders: int
    threads: int


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask (taskset, a container's cpuset), else all."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity API (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def plan_encoders(cores: int, encoders: int = 0, threads: int = 0, gpus: int = 0) -> EncoderPlan:
    """Encoders for `cores` CPUs (or `gpus`): the given counts, else one per GPU or one 1-thread per core.

    `encoders` (scale.encode_actors) and `threads` (video.threads) override the automatic choice; fewer,
    wider encoders use less memory (one model each) but their features differ from 1-thread ones ~1e-4.
    """
    if cores < 1:
        raise ValueError(f"cores must be >= 1, got {cores}")
    if encoders < 0 or threads < 0 or gpus < 0:
        raise ValueError(f"encoders, threads and gpus must be >= 0, got {encoders}, {threads}, {gpus}")
    threads = threads or 1
    if gpus:
        return EncoderPlan(encoders or gpus, threads)
    return EncoderPlan(encoders or max(1, cores // threads), threads)


def encode_films(encoder: Any, films: list[np.ndarray]) -> list[np.ndarray]:
    """Features of several films' frames in one pass (forward batches span films), split per film."""
    if not films:
        return []
    feats = encoder.encode(np.concatenate(films) if len(films) > 1 else films[0])
    bounds = np.cumsum([len(f) for f in films])[:-1]
    return np.split(feats, bounds)


# ---- the local engine's encoder processes (one model per process, built on first use) --------------
_ENCODERS: dict[tuple, Any] = {}


def _process_encoder(video: dict[str, Any], threads: int) -> Any:
    key = (tuple(sorted(video.items())), threads)
    if key not in _ENCODERS:
        import torch
        from transformers.utils import logging as hf_logging

        from reelcast.encoders.frames import create_frame_encoder

        # One "Loading weights" bar per encoder process would bury the run's own progress bar.
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        torch.set_num_threads(threads)
        _ENCODERS[key] = create_frame_encoder(
            video["model"],
            device="cpu",
            batch_size=video["batch_size"],
            precision=video["precision"],
            threads=threads,
            torch_compile=video["compile"],
        )
    return _ENCODERS[key]


def load_job(video: dict[str, Any], threads: int) -> str:
    """Encoder process: build the frame encoder ahead of the first films; returns its id."""
    return _process_encoder(video, threads).encoder_id


def encode_job(video: dict[str, Any], threads: int, films: list[np.ndarray]) -> tuple[list, float]:
    """Encoder process: frame features of a batch of films, and the seconds the CNN took."""
    import time

    encoder = _process_encoder(video, threads)
    t0 = time.perf_counter()
    feats = encode_films(encoder, films)
    return feats, time.perf_counter() - t0

"""Sizing the frame encoder pool to the cores, and batches that span films."""

from __future__ import annotations

import os

import numpy as np
import pytest

from reelcast.media.encoding import EncoderPlan, available_cpus, encode_films, plan_encoders


def test_one_single_threaded_encoder_per_core_unless_told():
    assert plan_encoders(1) == EncoderPlan(1, 1)
    assert plan_encoders(2) == EncoderPlan(2, 1)
    assert plan_encoders(16) == EncoderPlan(16, 1)
    assert plan_encoders(16, threads=4) == EncoderPlan(4, 4)  # video.threads: fewer, wider encoders
    assert plan_encoders(3, threads=4) == EncoderPlan(1, 4)
    assert plan_encoders(16, encoders=3) == EncoderPlan(3, 1)  # scale.encode_actors as given
    assert plan_encoders(64, gpus=2) == EncoderPlan(2, 1)  # one per GPU
    if hasattr(os, "sched_getaffinity"):  # taskset / a cpuset: only the CPUs this process may use
        assert available_cpus() == len(os.sched_getaffinity(0))
    with pytest.raises(ValueError, match="cores"):
        plan_encoders(0)
    with pytest.raises(ValueError, match=">= 0"):
        plan_encoders(2, encoders=-1)


def test_films_batched_together_get_their_features_alone(tmp_path):
    from reelcast.encoders.frames import create_frame_encoder

    enc = create_frame_encoder("tiny-resnet", precision="fp32", batch_size=8)
    rng = np.random.default_rng(0)
    films = [rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8) for n in (5, 1, 11, 8)]
    together = encode_films(enc, films)
    assert [f.shape for f in together] == [(n, enc.dim) for n in (5, 1, 11, 8)]
    for film, feats in zip(films, together, strict=True):
        # Bit for bit: forward batches are padded to one size, so batch-mates change nothing.
        assert np.array_equal(enc.encode(film), feats)
    assert encode_films(enc, []) == []

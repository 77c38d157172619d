"""`reelcast extract` and `train --media trailers` on generated trailers: resume after a kill, statuses."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reelcast.config import Config
from reelcast.data.table import load_films
from reelcast.media.extract import extract_media
from reelcast.media.synth import render_trailer, write_corrupt_copy
from reelcast.store.local import FeatureStore

N_FILMS = 20
SMALL = [
    "media.num_frames=6",
    "media.resize=48",
    "media.crop=48",
    "media.audio_seconds=1.0",
    "media.decode_workers=1",
    "media.offline=true",
]


@pytest.fixture(scope="module")
def trailer_table(tmp_path_factory) -> Path:
    """20 films with rendered trailers (paths relative to the table's folder) and revenues."""
    root = tmp_path_factory.mktemp("trailers")
    rows = []
    for i in range(N_FILMS):
        render_trailer(root / f"t{i:02d}.mp4", seconds=2.0, fps=24, width=320, height=240, seed=i)
        rows.append(
            {
                "title": f"Film {i}",
                "description": f"plot number {i} about {'heists' if i % 2 else 'love'}",
                "revenue": float(10 + 7 * i),
                "trailer": f"t{i:02d}.mp4",
            }
        )
    table = root / "films.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    return table


@pytest.fixture(scope="module")
def tiny_resnet(tmp_path_factory) -> Path:
    from reelcast.encoders.frames import save_tiny_resnet

    return save_tiny_resnet(tmp_path_factory.mktemp("models") / "tiny-resnet", seed=0)


def small_config(cache: Path, video_model: Path) -> Config:
    cfg = Config()
    cfg.override(SMALL)
    cfg.cache_dir, cfg.video.model, cfg.media.mode = str(cache), str(video_model), "trailers"
    return cfg


def run_extract(table, cache, video_model) -> subprocess.Popen:
    args = [
        sys.executable,
        "-m",
        "reelcast.cli",
        "extract",
        "--data",
        str(table),
        "--cache-dir",
        str(cache),
        "--video-model",
        str(video_model),
        "-q",
    ]
    for s in SMALL:
        args += ["--set", s]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def done_count(cache: Path) -> int:
    return sum(1 for _ in (cache / "media").rglob("*.json")) if (cache / "media").exists() else 0


def test_killed_extract_resumes_to_the_same_features(trailer_table, tiny_resnet, tmp_path):
    # Reference: one uninterrupted run.
    ref_cfg = small_config(tmp_path / "ref", tiny_resnet)
    films = load_films(trailer_table, require_revenue=False).df
    from reelcast.encoders.frames import create_frame_encoder

    enc = create_frame_encoder(str(tiny_resnet))
    ref = extract_media(films, ref_cfg, FeatureStore(ref_cfg.cache_dir), lambda: enc, progress=False)

    # Interrupted: SIGKILL the whole process group once a few films are stored, then run again.
    cache = tmp_path / "resumed"
    proc = run_extract(trailer_table, cache, tiny_resnet)
    deadline = time.time() + 120
    while done_count(cache) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_at_kill = done_count(cache)
    assert 0 < done_at_kill < N_FILMS, f"kill landed after {done_at_kill} films; cannot test resuming"
    # Entries are written under a hidden temporary name and renamed: a kill in the middle of a write
    # (films are stored in bursts, a batch of films at a time) may leave a hidden `.name.*.tmp`, never
    # a torn entry under an entry's own name.
    entries = [p for p in cache.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert not [p for p in entries if p.suffix == ".tmp"], "a killed run left half-written files visible"
    for p in entries:
        if p.suffix == ".npy":
            np.load(p)  # raises on a truncated array
        elif p.suffix == ".json":
            json.loads(p.read_text())
    # A film is finished once its status record exists (written last); one killed between its
    # feature and status writes is unfinished and rightly redone.
    finished = {p.stem for p in (cache / "media").rglob("*.json")}
    before = {p: p.stat().st_mtime_ns for p in (cache / "frames").rglob("*.npy") if p.stem in finished}
    assert len(before) == len(finished) == done_at_kill

    proc = run_extract(trailer_table, cache, tiny_resnet)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    assert f"{N_FILMS} films: video for {N_FILMS}, audio for {N_FILMS}" in out.decode()
    # films finished before the kill were not redone
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())

    cfg = small_config(cache, tiny_resnet)
    got = extract_media(
        films, cfg, FeatureStore(cache), lambda: pytest.fail("should not encode"), progress=False
    )
    for a, b in zip(ref[:4], got[:4], strict=True):
        assert np.array_equal(a, b)


def test_bad_trailers_get_statuses_and_masks(trailer_table, tiny_resnet, tmp_path):
    root = tmp_path
    render_trailer(root / "mute.mp4", seconds=1.0, width=96, height=64, audio=False, seed=1)
    write_corrupt_copy(
        trailer_table.parent / "t00.mp4", root / "broken.mp4", mode="truncate", start=0.01, end=1.0
    )
    (root / "empty.mp4").write_bytes(b"")
    df = pd.DataFrame(
        {
            "title": ["mute", "broken", "empty", "gone", "nonsense", "none"],
            "description": ["x"] * 6,
            "revenue": [1.0] * 6,
            "trailer": ["mute.mp4", "broken.mp4", "empty.mp4", "gone.mp4", "not a trailer at all", ""],
        }
    )
    df.to_csv(root / "films.csv", index=False)
    cfg = small_config(root / "cache", tiny_resnet)
    films = load_films(root / "films.csv").df
    from reelcast.encoders.frames import create_frame_encoder

    enc = create_frame_encoder(str(tiny_resnet))
    video, audio, vmask, amask, st = extract_media(
        films, cfg, FeatureStore(cfg.cache_dir), lambda: enc, progress=False
    )
    status = [s["status"] for s in st]
    assert vmask.tolist() == [True, False, False, False, False, False]
    assert amask.tolist() == [False] * 6
    assert st[0]["audio_status"] == "no_audio"
    assert status[1] in ("corrupt", "unreadable") and status[2] == "empty_file"
    assert status[3] == "not_found" and status[4] == "invalid" and status[5] == "no_trailer"
    assert not video[1:].any() and not audio.any()  # masked films carry zeros, never fake data
    # every outcome is remembered: a second run decodes and encodes nothing and reports the same
    again = extract_media(
        films, cfg, FeatureStore(cfg.cache_dir), lambda: pytest.fail("should not encode"), progress=False
    )
    assert [s["status"] for s in again[4]] == status and np.array_equal(again[2], vmask)


def test_train_with_trailers_uses_three_modalities(trailer_table, tiny_resnet, tiny_bert, tmp_path):
    from reelcast.predictor import RevenuePredictor

    cfg = small_config(tmp_path / "cache", tiny_resnet)
    cfg.text.model, cfg.train.epochs, cfg.train.patience = str(tiny_bert), 2, 2
    p = RevenuePredictor(cfg, progress=False).fit(trailer_table)
    assert p.spec_.modalities == ["text", "video", "audio"]
    assert p.spec_.video_frames == 6 and p.spec_.audio_channels == cfg.audio.n_mels
    p.save(tmp_path / "m")
    out = RevenuePredictor.load(tmp_path / "m").predict_film(
        "a heist", trailer=str(trailer_table.parent / "t03.mp4")
    )
    assert out["modalities_used"] == {"text": True, "video": True, "audio": True}
    out = RevenuePredictor.load(tmp_path / "m").predict_film("a heist", trailer=str(tmp_path / "missing.mp4"))
    assert out["modalities_used"] == {"text": True, "video": False, "audio": False}
    assert any("video modality missing" in w for w in out["warnings"])


def test_truncated_feature_entry_is_detected_and_redone(trailer_table, tiny_resnet, tmp_path, caplog):
    import logging

    from reelcast.encoders.frames import create_frame_encoder

    films = load_films(trailer_table, require_revenue=False).df.iloc[:2]
    cfg = small_config(tmp_path / "cache", tiny_resnet)
    enc = create_frame_encoder(str(tiny_resnet))
    first = extract_media(films, cfg, FeatureStore(cfg.cache_dir), lambda: enc, progress=False)
    assert first[2].all()
    entry = sorted((tmp_path / "cache" / "frames").rglob("*.npy"))[0]
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])  # a torn write
    with caplog.at_level(logging.WARNING):
        again = extract_media(films, cfg, FeatureStore(cfg.cache_dir), lambda: enc, progress=False)
    assert "missing or corrupt; extracting this film again" in caplog.text
    assert again[2].all() and again[3].all(), "the film must be repaired, not left masked"
    assert np.array_equal(first[0], again[0]) and [s["status"] for s in again[4]] == ["ok", "ok"]
    # and a third run reads it all back without encoding anything
    third = extract_media(
        films, cfg, FeatureStore(cfg.cache_dir), lambda: pytest.fail("should not encode"), progress=False
    )
    assert np.array_equal(third[0], first[0])


def test_sigkill_of_extract_leaves_no_worker_or_tracker_running(trailer_table, tiny_resnet, tmp_path):
    """The issue's case: `kill -9` of the extract process alone (not its group) while workers decode."""
    from test_media_processes import alive, children

    cache = tmp_path / "cache"
    proc = run_extract(trailer_table, cache, tiny_resnet)
    try:
        deadline = time.time() + 120
        kids: list[int] = []
        while time.time() < deadline and proc.poll() is None:
            kids = children(proc.pid)
            if done_count(cache) >= 1 and len(kids) >= 2:  # a decode worker and the resource tracker
                break
            time.sleep(0.05)
        assert proc.poll() is None and len(kids) >= 2, "extract finished before workers could be seen"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.time() + 10
        while any(alive(p) for p in kids) and time.time() < deadline:
            time.sleep(0.1)
        assert not [p for p in kids if alive(p)], "processes outlived extract by 10 s"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_features_on_two_cores_equal_those_on_one(trailer_table, tmp_path, caplog):
    """fp32 ResNet-50 (random weights), whose float sums change with torch's thread count: extracted
    with 2 cores (two encoders: this process and a worker process) the stored features equal those
    extracted with 1, bit for bit."""
    import logging

    import torch
    from transformers import ResNetConfig, ResNetModel

    from reelcast.encoders.frames import create_frame_encoder

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model_dir = tmp_path / "resnet50"
        ResNetModel(ResNetConfig()).save_pretrained(model_dir)
    films = load_films(trailer_table, require_revenue=False).df.iloc[:6]
    outs = {}
    for cores in (1, 2):
        cfg = small_config(tmp_path / f"cache{cores}", model_dir)
        cfg.video.precision, cfg.scale.num_cpus, cfg.media.decode_workers = "fp32", cores, cores
        enc = create_frame_encoder(str(model_dir), precision="fp32")
        with caplog.at_level(logging.INFO, logger="reelcast.media.engines"):
            store = FeatureStore(cfg.cache_dir)
            outs[cores] = extract_media(films, cfg, store, lambda e=enc: e, progress=False)
        assert f"{cores} frame encoders x 1 torch threads" in caplog.text
        assert outs[cores][2].all()
    for a, b in zip(outs[1][:4], outs[2][:4], strict=True):
        assert np.array_equal(a, b)


def test_an_encoder_other_than_the_configured_one_is_refused(trailer_table, tiny_resnet, tmp_path):
    from reelcast.encoders.frames import create_frame_encoder

    films = load_films(trailer_table, require_revenue=False).df.iloc[:2]
    cfg = small_config(tmp_path / "cache", tiny_resnet)  # video.precision fp32
    other = create_frame_encoder(str(tiny_resnet), precision="bf16")
    with pytest.raises(ValueError, match=r"\+bf16.*wrong id"):
        extract_media(films, cfg, FeatureStore(cfg.cache_dir), lambda: other, progress=False)


def test_films_sharing_a_trailer_are_extracted_once(trailer_table, tiny_resnet, tmp_path):
    import shutil

    shutil.copy(trailer_table.parent / "t03.mp4", tmp_path / "copy.mp4")  # the same bytes, another name
    shutil.copy(trailer_table.parent / "t04.mp4", tmp_path / "other.mp4")
    df = pd.DataFrame(
        {
            "title": ["a", "b", "c", "d"],
            "description": ["x"] * 4,
            "revenue": [1.0] * 4,
            "trailer": ["copy.mp4", "other.mp4", "copy.mp4", str(trailer_table.parent / "t03.mp4")],
        }
    )
    df.to_csv(tmp_path / "films.csv", index=False)
    cfg = small_config(tmp_path / "cache", tiny_resnet)
    cfg.media.allow_outside_paths = True
    films = load_films(tmp_path / "films.csv").df
    from reelcast.encoders.frames import create_frame_encoder
    from reelcast.media.engines import LocalEngine

    asked = []

    class Recording(LocalEngine):
        def extract_missing(self, films, cfg, store, get_enc, refs, keys, todo, *rest):
            asked.append(list(todo))
            return super().extract_missing(films, cfg, store, get_enc, refs, keys, todo, *rest)

    enc = create_frame_encoder(str(tiny_resnet))
    store = FeatureStore(cfg.cache_dir)
    video, _, vmask, _, _ = extract_media(films, cfg, store, lambda: enc, progress=False, engine=Recording())
    assert vmask.all() and asked == [[0, 1]]  # two trailers, two extractions
    assert np.array_equal(video[0], video[2]) and np.array_equal(video[0], video[3])
    assert not np.array_equal(video[0], video[1])

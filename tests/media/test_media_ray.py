"""The Ray Data engine against the local engine on generated trailers (one shared local Ray instance)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reelcast.config import Config
from reelcast.data.table import load_films
from reelcast.media.engines import LocalEngine
from reelcast.media.extract import extract_media
from reelcast.media.synth import render_trailer, write_corrupt_copy
from reelcast.store import FeatureStore, open_store

SMALL = [
    "media.num_frames=6",
    "media.resize=48",
    "media.crop=48",
    "media.audio_seconds=1.0",
    "media.decode_workers=2",
    "media.offline=true",
]


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    """12 films over 11 trailers: 7 good, a silent one, a mute one, a corrupt one, a missing file, and
    two films sharing one trailer."""
    root = tmp_path_factory.mktemp("ray_trailers")
    names = []
    for i in range(7):
        render_trailer(root / f"t{i}.mp4", seconds=1.5, fps=12, width=128, height=96, seed=i)
        names.append(f"t{i}.mp4")
    render_trailer(root / "silent.mp4", seconds=1.5, fps=12, width=128, height=96, seed=7, volume=0.0)
    render_trailer(root / "mute.mp4", seconds=1.5, fps=12, width=128, height=96, seed=8, audio=False)
    write_corrupt_copy(root / "t0.mp4", root / "corrupt.mp4", mode="truncate", start=0.02)
    names += ["silent.mp4", "mute.mp4", "corrupt.mp4", "missing.mp4", "t3.mp4"]
    df = pd.DataFrame(
        {
            "title": [f"film {i}" for i in range(len(names))],
            "description": [f"plot {i}" for i in range(len(names))],
            "revenue": [1.0 + i for i in range(len(names))],
            "trailer": names,
        }
    )
    df.to_csv(root / "films.csv", index=False)
    return root / "films.csv"


@pytest.fixture(scope="module")
def tiny_resnet(tmp_path_factory) -> Path:
    from reelcast.encoders.frames import save_tiny_resnet

    return save_tiny_resnet(tmp_path_factory.mktemp("models") / "tiny-resnet", seed=0)


def config(cache, model, *sets: str) -> Config:
    cfg = Config()
    cfg.override([*SMALL, *sets])
    cfg.cache_dir, cfg.video.model, cfg.media.mode = str(cache), str(model), "trailers"
    return cfg


def encoder(model):
    from reelcast.encoders.frames import create_frame_encoder

    enc = create_frame_encoder(str(model))
    return lambda: enc


@pytest.fixture(scope="module")
def local_result(table, tiny_resnet, tmp_path_factory):
    cfg = config(tmp_path_factory.mktemp("local"), tiny_resnet)
    films = load_films(table, require_revenue=False).df
    out = extract_media(films, cfg, FeatureStore(cfg.cache_dir), encoder(tiny_resnet), progress=False)
    return films, out, Path(cfg.cache_dir)


def assert_same(local, ray_out):
    video, audio, vmask, amask, statuses = ray_out
    assert np.array_equal(vmask, local[2]) and np.array_equal(amask, local[3])
    assert statuses == local[4]
    # Same model, same frames, same thread count: the features come out bit for bit equal.
    assert np.array_equal(video, local[0]) and np.array_equal(audio, local[1])


def test_ray_engine_equals_local_engine(ray_cluster, table, tiny_resnet, local_result, tmp_path):
    films, local, _ = local_result
    status = [s["status"] for s in local[4]]
    assert status.count("ok") == 10 and status[10] == "not_found" and status[9] in ("corrupt", "unreadable")
    assert local[4][7]["audio_status"] == "silent" and local[4][8]["audio_status"] == "no_audio"

    # The store at an fsspec URL: the path workers on other nodes would use for s3://...
    cfg = config(tmp_path / "ray", tiny_resnet, 'scale.engine="ray"', "scale.encode_batch=3")
    cfg.cache_dir = (tmp_path / "ray").as_uri()
    store = open_store(cfg.cache_dir)
    timings: dict[str, float] = {}
    got = extract_media(
        films, cfg, store, lambda: pytest.fail("the Ray engine encodes in its actors"), False, timings
    )
    assert_same(local, got)
    assert timings["ray_run"] > 0 and "decode" in timings
    # The two encoder actors (2 CPUs) are up before the first trailer is fetched: the pool's start-up
    # is counted apart from the extraction, and covers each actor's own start (imports, model).
    assert timings["ray_pool_start"] >= timings["actor_start"] / 2 > 0
    assert all(s["node"] for s in got[4][:10])  # the store says which machine fetched each trailer
    assert not list((tmp_path / "ray").rglob("*.tmp"))

    # Resume: everything is in the store, so nothing runs again; the local engine reads it the same.
    again = extract_media(films, cfg, store, lambda: pytest.fail("no encoding"), False, engine=LocalEngine())
    assert_same(local, again)


def actor_pids() -> list[int]:
    """Processes of Ray actors running the frame encoder (their title names the class)."""
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "ray::" in cmd and "_FrameActor" in cmd:
            pids.append(int(p.name))
    return pids


def test_killed_actor_run_completes_with_nothing_lost(
    ray_cluster, table, tiny_resnet, local_result, tmp_path
):
    films, local, _ = local_result
    cache = tmp_path / "killed"
    cfg = config(cache, tiny_resnet, 'scale.engine="ray"', "scale.encode_batch=1")
    done = threading.Event()
    result: dict = {}

    def run():
        try:
            result["out"] = extract_media(films, cfg, open_store(cache), lambda: None, progress=False)
        except BaseException as e:  # reported by the test below
            result["error"] = e
        finally:
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.time() + 120
    killed = None
    while not done.is_set() and time.time() < deadline:
        n_done = len(list((cache / "media").rglob("*.json"))) if (cache / "media").exists() else 0
        pids = actor_pids()
        if n_done >= 1 and pids:
            killed = (pids[0], n_done)
            os.kill(pids[0], signal.SIGKILL)
            break
        time.sleep(0.05)
    assert killed, "the run finished before an encoder actor could be killed; nothing was tested"
    assert killed[1] < 10, f"kill landed after {killed[1]} of 10 films; cannot test recovery"
    assert done.wait(180), "the run did not finish after its actor was killed"
    print(f"killed actor {killed[0]} after {killed[1]} films; run error: {result.get('error')!r}")
    if "error" in result:  # the run may fail; then a rerun must finish it with nothing lost
        result["out"] = extract_media(films, cfg, open_store(cache), lambda: None, progress=False)
    assert_same(local, result["out"])
    assert killed[0] not in actor_pids()


def run_cli(*args: str) -> str:
    from typer.testing import CliRunner

    from reelcast.cli import app

    sets = [a for s in SMALL for a in ("--set", s)]
    result = CliRunner().invoke(app, ["extract", *args, *sets, "-q"])
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_extract_engine_ray_gives_the_local_manifest_and_text(
    ray_cluster, table, tiny_resnet, tiny_bert, local_result, tmp_path
):
    _, _, local_cache = local_result
    common = ["--data", str(table), "--video-model", str(tiny_resnet), "--text-model", str(tiny_bert)]
    out = run_cli(
        *common, "--engine", "ray", "--cache-dir", str(tmp_path / "c"), "--manifest", str(tmp_path / "r.csv")
    )
    assert "12 films: video for 10, audio for 8" in out and "ray_start" in out
    run_cli(*common, "--cache-dir", str(local_cache), "--manifest", str(tmp_path / "l.csv"))
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "r.csv"), pd.read_csv(tmp_path / "l.csv"))

    # Text vectors from the actor pool (other batches than the local encoder's): equal within 1e-5.
    from reelcast.config import TextConfig
    from reelcast.encoders.text import text_encoder_id
    from reelcast.files import sha256_text

    enc_id = text_encoder_id(TextConfig(model=str(tiny_bert)))
    texts = pd.read_csv(table)["description"]
    for t in texts:
        a = FeatureStore(tmp_path / "c").get("text", enc_id, sha256_text(t))
        b = FeatureStore(local_cache).get("text", enc_id, sha256_text(t))
        assert a is not None and np.allclose(a, b, atol=1e-5, rtol=0)


def test_ray_extra_pins_the_tested_version(ray_cluster):
    import tomllib

    from reelcast.media.ray_engine import RAY_VERSION

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert f"ray[data]=={RAY_VERSION}" in pyproject["project"]["optional-dependencies"]["ray"]
    assert ray_cluster.__version__ == RAY_VERSION

"""`reelcast serve`: where the prediction log goes, the batching flags, loading an edited model."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reelcast.cli import app


def fresh_copy(run: Path, to: Path) -> Path:
    """The model folder without the prediction log other tests' servers left beside the shared model."""
    return shutil.copytree(run, to, ignore=shutil.ignore_patterns("predictions.sqlite*"))


@pytest.fixture
def serve(monkeypatch):
    """Run `reelcast serve ARGS` up to the point it would listen; returns its stderr."""
    import uvicorn

    served = []

    def listen(server):
        served.append(server.config.app)
        plog = server.config.app.state.arms.log
        if plog is not None:
            plog.close()

    monkeypatch.setattr(uvicorn.Server, "run", listen)

    def run(*args, code: int = 0) -> str:
        r = CliRunner().invoke(app, ["serve", *(str(a) for a in args), "-q"])
        assert r.exit_code == code, r.output
        return r.stderr

    run.served = served
    return run


def test_prediction_log_defaults_to_beside_the_model(tiny_run, tmp_path, serve):
    model = fresh_copy(tiny_run, tmp_path / "model")
    assert f"reelcast: prediction log sqlite:///{model / 'predictions.sqlite'}" in serve("--model", model)
    assert (model / "predictions.sqlite").is_file()
    elsewhere = tmp_path / "log.sqlite"
    assert f"prediction log sqlite:///{elsewhere}" in serve("--model", model, "--log-db", elsewhere)
    assert "reelcast: prediction log off" in serve("--model", model, "--no-log")


def test_read_only_model_folder_turns_the_log_off(tiny_run, tmp_path, serve, monkeypatch):
    model = fresh_copy(tiny_run, tmp_path / "model")
    # A folder of a deployed image; chmod cannot stand in for it, as root may write anywhere.
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if mode == os.W_OK and Path(path).resolve() == model.resolve():
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    err = serve("--model", model)
    assert f"prediction log off: {model} is not writable; pass --log-db" in err
    assert "reelcast: prediction log off" in err and not (model / "predictions.sqlite").exists()


def test_batch_flags_override_the_settings_defaults_and_reach_model_info(tiny_run, serve):
    from fastapi.testclient import TestClient

    from reelcast.serving.settings import ServeSettings

    serve("--model", tiny_run, "--no-log")
    default = serve.served[-1].state.settings
    assert (default.batch_window_ms, default.batch_max_size) == (
        ServeSettings.batch_window_ms,
        ServeSettings.batch_max_size,
    )
    serve("--model", tiny_run, "--no-log", "--batch-window-ms", "0", "--batch-max-size", "3")
    api = serve.served[-1]
    with TestClient(api) as client:
        info = client.get("/model").json()
    assert (info["batch_window_ms"], info["batch_max_size"]) == (0, 3)


def test_bad_batch_flags_are_refused_naming_them(tiny_run, serve):
    err = serve("--model", tiny_run, "--no-log", "--batch-max-size", "0", code=2)
    assert "batch_max_size" in err


def test_an_edited_model_is_served_only_with_trust_modified(tiny_run, tmp_path, serve):
    model = fresh_copy(tiny_run, tmp_path / "model")
    cfg = model / "config.toml"
    cfg.write_text(cfg.read_text() + "\n# edited\n")
    assert "trust-modified" in serve("--model", model, "--no-log", code=2)
    assert "reelcast: serving" in serve("--model", model, "--no-log", "--trust-modified")

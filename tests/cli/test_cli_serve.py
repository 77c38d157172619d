"""`reelcast serve`: where the prediction log goes when no --log-db is given."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reelcast.cli import app


@pytest.fixture
def serve(monkeypatch):
    """Run `reelcast serve ARGS` up to the point it would listen; returns its stderr."""
    import uvicorn

    def listen(server):
        plog = server.config.app.state.arms.log
        if plog is not None:
            plog.close()

    monkeypatch.setattr(uvicorn.Server, "run", listen)

    def run(*args) -> str:
        r = CliRunner().invoke(app, ["serve", *(str(a) for a in args), "-q"])
        assert r.exit_code == 0, r.output
        return r.stderr

    return run


def test_prediction_log_defaults_to_beside_the_model(tiny_run, tmp_path, serve):
    model = shutil.copytree(tiny_run, tmp_path / "model")
    assert f"reelcast: prediction log sqlite:///{model / 'predictions.sqlite'}" in serve("--model", model)
    assert (model / "predictions.sqlite").is_file()
    elsewhere = tmp_path / "log.sqlite"
    assert f"prediction log sqlite:///{elsewhere}" in serve("--model", model, "--log-db", elsewhere)
    assert "reelcast: prediction log off" in serve("--model", model, "--no-log")


def test_read_only_model_folder_turns_the_log_off(tiny_run, tmp_path, serve, monkeypatch):
    model = shutil.copytree(tiny_run, tmp_path / "model")
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

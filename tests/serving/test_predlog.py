"""The prediction log on SQLite and on a real PostgreSQL server started (and stopped) by the test."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from reelcast.serving.predlog import PredictionLog, database_url, read_log

INSTALL_HINT = "scripts/setup.sh --test installs Debian's postgresql package with apt-get when run as root"


def _entry(i: int, **kw) -> dict:
    from helpers.predlog import entry

    return entry("A", "served", f"f{i}", f"Film {i}", i % 8, 0.6, 1_700_000_000.0 + i, **kw)


def test_database_url_takes_a_path_or_a_url(tmp_path):
    assert database_url(tmp_path / "x.sqlite") == f"sqlite:///{tmp_path / 'x.sqlite'}"
    assert database_url("postgresql+psycopg://u@127.0.0.1:5/db") == "postgresql+psycopg://u@127.0.0.1:5/db"
    with pytest.raises(ValueError, match="empty"):
        database_url(" ")


def test_sqlite_log_round_trip_in_wal_mode(tmp_path):
    db = tmp_path / "sub" / "log.sqlite"
    plog = PredictionLog(db)
    for i in range(5):
        assert plog.submit(_entry(i))
    assert plog.flush(30)
    with plog.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    plog.close()
    assert plog.stats()["written"] == 5
    preds, _ = read_log(db)
    assert preds["film_id"].tolist() == [f"f{i}" for i in range(5)]
    assert preds["probabilities"].iloc[0][0] == pytest.approx(0.6)
    with pytest.raises(ValueError, match="not a reelcast prediction log"):
        import sqlite3

        sqlite3.connect(tmp_path / "other.sqlite").execute("CREATE TABLE t (x)").connection.commit()
        read_log(tmp_path / "other.sqlite")


# ---- PostgreSQL ----------------------------------------------------------------------------------------
def _pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    exe = shutil.which("pg_ctl")
    return Path(exe).parent if exe else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL cluster on a loopback port, in a temporary folder; stopped and removed after."""
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip(f"PostgreSQL is not installed ({INSTALL_HINT})")
    pytest.importorskip(
        "psycopg", reason="the PostgreSQL driver psycopg is not installed (pip install .[test])"
    )
    # PostgreSQL refuses to run as root: as root, run it as the package's own 'postgres' user.
    prefix: list[str] = []
    if os.geteuid() == 0:
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        prefix = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="reelcast-pg-"))
    if prefix:
        os.chown(root, user.pw_uid, user.pw_gid)
    data, port = root / "data", _free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    started = False
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(
            str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "server.log"), "-w", "start"
        )
        started = True
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    except subprocess.CalledProcessError as e:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        raise RuntimeError(f"could not start PostgreSQL: {e.stderr.decode()[-1500:]}\n{log[-1500:]}") from e
    finally:
        if started:
            subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                capture_output=True,
                timeout=120,
            )
        shutil.rmtree(root, ignore_errors=True)


def test_postgresql_log_is_written_append_only_and_reported(postgres, tmp_path):
    import sqlalchemy

    plog = PredictionLog(postgres)
    plog.register_model("A", "modelA", tmp_path, [1, 2, 3, 4, 5, 6, 7], ["text"], 1.0, False)
    for i in range(20):
        plog.submit(_entry(i))
    assert plog.flush(60)
    with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"), plog.engine.begin() as conn:
        conn.execute(sqlalchemy.text("UPDATE predictions SET predicted_class = 0"))
    with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"), plog.engine.begin() as conn:
        conn.execute(sqlalchemy.text("DELETE FROM models"))
    plog.close()
    again = PredictionLog(postgres)  # reopening an existing log keeps its rows and its triggers
    again.submit(_entry(20))
    again.close()
    preds, models = read_log(postgres)
    assert len(preds) == 21 and preds["predicted_class"].tolist()[:8] == list(range(8))
    assert models["thresholds_musd"].iloc[0] == [1, 2, 3, 4, 5, 6, 7]


def test_server_logs_to_postgresql(postgres, tiny_run, one_thread):
    from fastapi.testclient import TestClient

    from reelcast.serving.app import create_app
    from reelcast.serving.arms import ABSettings
    from reelcast.serving.settings import ServeSettings

    before = len(read_log(postgres)[0])
    app = create_app(settings=ServeSettings(), ab=ABSettings(models=[("default", tiny_run)], log_db=postgres))
    with TestClient(app) as client:
        for i in range(3):
            body = {"description": f"A heist crew robs a train, take {i}.", "film_id": f"pg{i}"}
            assert client.post("/predict", json=body).status_code == 200
        t0 = time.monotonic()
        while client.get("/health").json()["prediction_log"]["written"] < 3 and time.monotonic() - t0 < 30:
            time.sleep(0.05)
    preds, _ = read_log(postgres)
    assert len(preds) == before + 3 and preds["film_id"].tolist()[-3:] == ["pg0", "pg1", "pg2"]

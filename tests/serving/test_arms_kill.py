"""A `reelcast serve` process killed with SIGKILL keeps every prediction its log had committed."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PLOT = "A retired safecracker is pulled back for one last job inside the casino vault, take {}."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_kill_9_loses_no_committed_entry(tiny_run, tmp_path):
    db = tmp_path / "log.sqlite"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "reelcast.cli", "serve", "--model", str(tiny_run), "--port", str(port)]
    server = subprocess.Popen(
        [*cmd, "--log-db", str(db), "-q"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    answers: dict[str, int] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            deadline = time.monotonic() + 120
            while True:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "reelcast serve did not start in 120 s"
                time.sleep(0.2)
            for i in range(12):
                r = client.post("/predict", json={"description": PLOT.format(i), "film_id": f"c{i}"})
                answers[f"c{i}"] = r.json()["predicted_class"]
            # Wait until the server says all twelve are committed...
            while client.get("/health").json()["prediction_log"]["written"] < 12:
                assert time.monotonic() < deadline + 60, "the log did not commit 12 entries"
                time.sleep(0.05)
            # ...then keep it busy and kill it with entries possibly still in flight.
            for i in range(12, 18):
                r = client.post("/predict", json={"description": PLOT.format(i), "film_id": f"c{i}"})
                answers[f"c{i}"] = r.json()["predicted_class"]
        server.send_signal(signal.SIGKILL)
        server.wait(30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)
        server.stderr.close()
    assert server.returncode == -signal.SIGKILL
    con = sqlite3.connect(db)  # opening replays the WAL the dead process left
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = dict(con.execute("SELECT film_id, predicted_class FROM predictions").fetchall())
    finally:
        con.close()
    for i in range(12):  # every committed entry survived, unchanged
        assert rows.get(f"c{i}") == answers[f"c{i}"], f"c{i}"
    assert 12 <= len(rows) <= 18
    for film, k in rows.items():  # whatever else made it is whole and right
        assert answers[film] == k

"""Decode workers (and multiprocessing's resource tracker) exit when the process that started them is
killed with SIGKILL: nothing is left running."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")

PARENT = textwrap.dedent(
    """
    import os, sys, threading, time
    from reelcast.media.engines import decode_pool

    def start():
        pool = decode_pool(2)
        seen = set()
        deadline = time.time() + 60
        while len(seen) < 2 and time.time() < deadline:  # both workers up, initializer run
            seen |= {f.result() for f in [pool.submit(os.getpid) for _ in range(4)]}
        for _ in range(2):
            pool.submit(time.sleep, 300)
        print(" ".join(map(str, sorted(seen))), flush=True)
        return pool

    if __name__ == "__main__":
        if sys.argv[1] == "thread":  # started from a non-main thread: only the watchdog applies
            holder = []
            t = threading.Thread(target=lambda: holder.append(start()))
            t.start(); t.join()
        else:
            pool = start()
        time.sleep(300)
    """
)


def state(pid: int) -> str | None:
    """The process's state letter, None when it no longer exists."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()[0]


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie (exited, not yet reaped by init) counts as gone."""
    return state(pid) not in (None, "Z", "X")


def children(pid: int) -> list[int]:
    """Direct children of pid, from /proc."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(d.name))
    return out


@pytest.mark.parametrize("started_from", ["main", "thread"])
def test_decode_workers_and_tracker_exit_when_parent_is_sigkilled(tmp_path, started_from):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, str(script), started_from],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=env,
    )
    try:
        line = proc.stdout.readline().decode().split()
        assert len(line) == 2, proc.stderr.read().decode()
        workers = [int(p) for p in line]
        kids = children(proc.pid)
        assert set(workers) <= set(kids)
        others = [k for k in kids if k not in workers]  # the resource tracker
        assert others, "expected multiprocessing's resource tracker beside the workers"
        os.kill(proc.pid, signal.SIGKILL)  # the parent only: no process-group kill to help
        proc.wait(timeout=10)
        deadline = time.time() + 10
        while any(alive(p) for p in kids) and time.time() < deadline:
            time.sleep(0.1)
        left = [p for p in kids if alive(p)]
        assert not left, f"still running 10 s after the parent's SIGKILL: {left}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()

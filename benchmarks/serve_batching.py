"""Micro-batching off vs on: issue 20's serving rows, printed by `python benchmarks/serve.py` (last table)
or alone with `python benchmarks/serve.py --model <run>/split_80_10_10 --batching-only [--runs 3]`.

The model is served twice, batch_window_ms=0 and the window asked for, each in a process of its own
(serve_server.py, as `reelcast serve` runs) with the SQLite prediction log on. The p50 rows come from
requests alternating between the two servers, in blocks (the same machine load for both): a new plot
each time; the same plot with a budget no request had (its text vector cached, the rest scored); the
identical request (the answer cache). Then --clients concurrent clients send --load-requests new plots
to each in turn, two rounds each in swapped order. With --runs N all of it runs N times, with fresh
servers each time, and the table gives the medians and each run's value with batching on. Requests
carry metadata when the model reads it (so the trees run). The clients run in a process of their own
too (serve_clients.py), as a server's clients do: in the server's process they would compete for its
interpreter lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from serve import PLOT, free_port, percentile, server_process

# Issue 20's measurements (TMDB-5000 model, MiniLM + metadata, busy 2-core machine) and its goals. The
# issue's repeated plot was the identical request each time: the server now answers that from its answer
# cache, so the plot repeated with other metadata (its text vector cached, everything else scored) is
# measured beside it, against the same goal.
ISSUE_ROWS = {
    "new plot p50 (ms)": ("42.4", "<= 20"),
    "repeated plot, new metadata (text cached) p50 (ms)": ("17.1", "<= 5"),
    "identical request (answer cache) p50 (ms)": ("17.1", "<= 5"),
    "concurrent clients, new plots (req/s)": ("16.6", ">= 100"),
}
CASES = {
    "new": "new plot p50 (ms)",
    "text": "repeated plot, new metadata (text cached) p50 (ms)",
    "same": "identical request (answer cache) p50 (ms)",
}
BENCH_METADATA = {"budget_musd": 60.0, "genres": ["Crime", "Drama"], "year": 2016, "runtime": 118.0}


def run_clients(task: dict) -> dict:
    """A serve_clients.py task in a process of its own (the clients never hold the server's GIL)."""
    script = Path(__file__).with_name("serve_clients.py")
    out = subprocess.run(
        [sys.executable, str(script), json.dumps(task)], capture_output=True, text=True, timeout=1800
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark clients failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout)


def model_server(model: Path, fields: dict, log_db: Path, device: str | None):
    """serve_server.py serving `model` in a process of its own (`serve.server_process`)."""
    port = free_port()
    cmd = [sys.executable, str(Path(__file__).with_name("serve_server.py")), str(model), str(port)]
    return server_process([*cmd, json.dumps(fields), str(log_db), *([device] if device else [])], port)


def measure(model: Path, tmp: Path, args, run: int) -> dict:
    """One run with fresh servers: each case's p50 (off, on), the throughput (off, on), batch counts."""
    windows = {"off": 0.0, "on": args.batch_window_ms}
    seq: dict[str, dict[str, list[float]]] = {case: {"off": [], "on": []} for case in CASES}
    load: dict[str, dict] = {k: {"n": 0, "wall": 0.0, "errors": 0} for k in windows}
    with contextlib.ExitStack() as stack:
        # A process each, as `reelcast serve` runs: no shared interpreter lock, heap or model caches.
        bases = {
            key: stack.enter_context(
                model_server(
                    model,
                    {"batch_window_ms": window, "batch_max_size": args.batch_max_size},
                    tmp / f"log_{key}_{run}.sqlite",
                    args.device,
                )
            )
            for key, window in windows.items()
        }
        meta = BENCH_METADATA if httpx.get(f"{bases['on']}/bench/stats").json()["metadata"] else None
        for base in bases.values():
            with httpx.Client(base_url=base, timeout=300) as c:
                for _ in range(3):
                    c.post("/predict", json={"description": PLOT, "metadata": meta}).raise_for_status()
        for case in CASES:
            task = {"kind": "seq", "bases": bases, "case": case, "requests": args.requests}
            seq[case] = run_clients({**task, "seconds": args.seconds, "metadata": meta})
        before = httpx.get(f"{bases['on']}/bench/stats").json()
        for round_ in range(2):
            for key in ("off", "on") if round_ == 0 else ("on", "off"):
                task = {"kind": "load", "base": bases[key], "clients": args.clients, "tag": f"r{round_}"}
                r = run_clients(
                    {**task, "total": args.load_requests, "seconds": args.seconds, "metadata": meta}
                )
                load[key]["n"] += r["n"]
                load[key]["wall"] += r["n"] / r["rps"] if r["rps"] else 0.0
                load[key]["errors"] += r["errors"]
        stats = httpx.get(f"{bases['on']}/bench/stats").json()
    return {
        "p50": {c: (percentile(v["off"], 50), percentile(v["on"], 50)) for c, v in seq.items()},
        "n": {c: len(v["on"]) for c, v in seq.items()},
        "rps": tuple(v["n"] / v["wall"] if v["wall"] else float("nan") for v in load.values()),
        "load_n": load["on"]["n"],
        "errors": load["off"]["errors"] + load["on"]["errors"],
        "batches": stats["batches"] - before["batches"],
        "films": stats["films"] - before["films"],
        "largest": stats["largest"],
    }


def batching_table(model: Path, tmp: Path, args) -> list[tuple[str, ...]]:
    """The issue's rows with micro-batching off and on (a server process each, prediction log on): the
    median over --runs runs, each with fresh servers, and every run's value with batching on."""
    runs = [measure(model, tmp, args, r) for r in range(args.runs)]

    def row(label: str, n: int, pairs: list[tuple[float, float]], fmt: str) -> tuple[str, ...]:
        off, on = (percentile([p[i] for p in pairs], 50) for i in (0, 1))
        each = ", ".join(format(p[1], fmt) for p in pairs)
        return (label, f"{n}", format(off, fmt), format(on, fmt), f"{on / off:.2f}", each)

    rows = [
        (*row(label, runs[0]["n"][case], [r["p50"][case] for r in runs], ".1f"), *ISSUE_ROWS[label])
        for case, label in CASES.items()
    ]
    label = "concurrent clients, new plots (req/s)"
    rps = row(f"{args.clients} {label}", runs[0]["load_n"], [r["rps"] for r in runs], ".1f")
    rows.append((*rps, *ISSUE_ROWS[label]))
    batches, films = sum(r["batches"] for r in runs), sum(r["films"] for r in runs)
    rows.append(
        (
            f"under the clients' load (on): {batches} batches, mean size {films / max(batches, 1):.1f}, "
            f"largest {max(r['largest'] for r in runs)}; {sum(r['errors'] for r in runs)} errors",
            *[""] * 7,
        )
    )
    return rows


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]], left: tuple[int, ...]) -> None:
    """Columns padded to their widest cell; `left`: the columns aligned left."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print(
            "  ".join(
                f"{v:<{w}}" if i in left else f"{v:>{w}}"
                for i, (v, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )


def print_batching(args, rows: list[tuple[str, ...]], load_before: tuple[float, ...]) -> None:
    """The batching table, with the machine's load average before and after (the machine may be shared)."""
    after = os.getloadavg()
    print(
        f"\nmicro-batching off vs on (window {args.batch_window_ms:g} ms, at most {args.batch_max_size} per "
        f"batch), prediction log on; model {args.model or 'tiny (trained just now)'}; "
        f"{os.cpu_count()} CPU cores; "
        f"load average {load_before[0]:.2f} before, {after[0]:.2f} after (1 min)"
    )
    header = ("case", "n (on)", "off", "on", "on/off", "on, each run", "issue 20 now", "goal")
    print_table(header, rows, left=(0,))

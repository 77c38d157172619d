"""The clients of benchmarks/serve_batching.py, run in a process of their own so that they never share the
server's interpreter lock: `python serve_clients.py '<task as JSON>'` prints its measurements as JSON.

Tasks:
  {"kind": "seq", "bases": {"off": url, "on": url}, "case": "new" | "text" | "same", "requests": n,
   "seconds": s, "metadata": {...} | null}: one request at a time, alternating between the two servers
   in blocks of BLOCK (which one goes first alternates), and each one's latencies (ms).
  {"kind": "load", "base": url, "clients": n, "total": k, "seconds": s, "tag": str, "metadata": ...}:
   benchmarks/serve.py's load_test against one server.
"""

from __future__ import annotations

import json
import sys
import time

from serve import PLOT, Connection, load_test

BLOCK = 10


def sequential(task: dict) -> dict[str, list[float]]:
    """Latencies (ms) per server of one case's requests, sent one at a time, alternating servers."""
    meta, case = task["metadata"], task["case"]
    times: dict[str, list[float]] = {"off": [], "on": []}
    # http.client over one keep-alive connection per server: a lean client, so the latency is the server's
    # (httpx adds about a millisecond of its own per request).
    clients = {k: Connection(b) for k, b in task["bases"].items()}
    try:
        stop = time.perf_counter() + 2 * task["seconds"]
        # Blocks of BLOCK requests per server, the first server swapping each time: both see the same
        # machine load, and each request finds its own model in the CPU caches, as one server's would be.
        for start in range(0, task["requests"], BLOCK):
            if time.perf_counter() > stop:
                break
            for key in ("off", "on") if start % (2 * BLOCK) == 0 else ("on", "off"):
                for i in range(start, min(start + BLOCK, task["requests"])):
                    text = f"{PLOT} Batch variant {key}{i:04d}." if case == "new" else PLOT
                    film = {"description": text, "metadata": meta}
                    if case == "text" and meta is not None:  # a budget no request had before
                        film["metadata"] = {**meta, "budget_musd": 20.0 + i + (0.5 if key == "on" else 0)}
                    t0 = time.perf_counter()
                    clients[key].post("/predict", film)
                    times[key].append(1000 * (time.perf_counter() - t0))
    finally:
        for c in clients.values():
            c.close()
    return times


def main() -> None:
    """Run the task given as JSON in argv[1]; print the result as JSON."""
    task = json.loads(sys.argv[1])
    if task["kind"] == "seq":
        out = sequential(task)
    else:
        out = load_test(
            task["base"], task["clients"], task["total"], task["seconds"], task["tag"], task["metadata"]
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()

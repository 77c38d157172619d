"""Latency and throughput of the HTTP API (`reelcast serve`) on loopback.

    python benchmarks/serve.py                        # trains a tiny text-only model first (a few seconds)
    python benchmarks/serve.py --model runs/x/split_70_20_10 --trailer https://.../trailer.mp4

Starts uvicorn in-process on 127.0.0.1 (a free port), then measures:
  * p50/p95 latency of POST /predict with a new plot every request (the text encoder runs),
  * the same with one repeated plot (its text features come from the feature store),
  * p50/p95 with a trailer already fetched once (skipped, and said so, when the model reads no trailers),
  * requests/second with N concurrent clients (http.client, one thread each), bounded in count and time,
  * the prediction log's cost: the same model served twice, without and with a SQLite log, requests
    alternating between the two servers so both see the same machine load; and the time the request
    thread itself spends on the log (building the entry and queueing it), over many calls.
Every number is over loopback only; nothing leaves the machine except what --trailer itself points at.

    python benchmarks/serve.py --hostile              # the issue-10 load: slow and failing trailers mixed in
    python benchmarks/serve.py --model runs/x/split_80_10_10 --batching-only --requests 60 --load-requests 200

The batching table (printed last, or alone with --batching-only) serves the model twice, micro-batching
off (batch_window_ms=0) and on (--batch-window-ms, --batch-max-size), both with the SQLite prediction
log on: new-plot and cached-plot p50 with requests alternating between the two servers, then
--clients concurrent clients on new plots against each in turn (two rounds each), with the on/off
ratios and issue 20's numbers and goals beside them. Requests carry metadata when the model reads it.

--hostile trains a tiny model that reads trailers, starts a second loopback server playing the trailer
hosts (tests/loopback_http.py: a good trailer under many query strings, a stall past the fetch deadline,
a one-byte drip, HTTP 500s, loopback URLs the server must refuse), and sends --load-requests from
--clients while a prober calls /health every 50 ms. It prints latency by kind of request, /health
p50/p99, the same text-only requests on a quiet server for comparison, and what the server kept:
process RSS, the download folder against its cap, feature-store files, in-memory feature entries.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx

PLOT = (
    "A retired safecracker is pulled back for one last job: emptying the vault of the casino that "
    "ruined her family, with a crew of amateurs and a week to plan it."
)


def train_tiny_model(root: Path) -> Path:
    """A tiny text-only model (random tiny BERT, 96 generated films), as the test-suite trains one."""
    from reelcast.config import Config
    from reelcast.data.demo import make_catalogue
    from reelcast.encoders.text import save_tiny_bert
    from reelcast.predictor import RevenuePredictor

    films = root / "films.csv"
    make_catalogue(96, seed=3).to_csv(films, index=False)
    cfg = Config()
    cfg.text.model = str(save_tiny_bert(root / "tiny-bert", seed=0))
    cfg.text.max_length = 64
    cfg.cache_dir = str(root / "cache")
    cfg.train.epochs, cfg.train.patience, cfg.train.lr = 4, 3, 1e-3
    cfg.split.splits = "70-20-10"
    RevenuePredictor(cfg, progress=False).fit(films).save(root / "split_70_20_10")
    return root / "split_70_20_10"


class Server:
    """uvicorn serving create_app(...) in a background thread on a free loopback port."""

    def __init__(self, app):
        import uvicorn

        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server_process(cmd: list[str], port: int, env: dict | None = None) -> Iterator[str]:
    """`cmd`, a server that listens on 127.0.0.1:`port`, in a process of its own: yields its base URL
    once GET /health answers (300 s at most); afterwards stops it with SIGINT, uvicorn's graceful stop
    (open requests finish, the prediction log is committed), and kills it if that takes over 60 s."""
    proc = subprocess.Popen(cmd, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(cmd[:4])} ... did not start (exit {proc.poll()})")
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def timed_requests(client: httpx.Client, payloads, limit_s: float) -> tuple[list[float], int]:
    """Latencies (ms) of sequential POST /predict calls, stopping at the time limit; and the error count."""
    times, errors = [], 0
    stop = time.perf_counter() + limit_s
    for payload in payloads:
        if time.perf_counter() > stop:
            break
        t0 = time.perf_counter()
        r = client.post("/predict", json=payload)
        times.append(1000 * (time.perf_counter() - t0))
        errors += r.status_code != 200
    return times, errors


class Connection:
    """POST JSON over one keep-alive HTTP/1.1 connection."""

    def __init__(self, base: str):
        url = urlsplit(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=300)

    def send(self, path: str, body: dict) -> tuple[int, bytes]:
        """The response's status and body."""
        self.conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = self.conn.getresponse()
        return r.status, r.read()

    def post(self, path: str, body: dict) -> bytes:
        """The response body; an error for any status but 200."""
        status, data = self.send(path, body)
        if status != 200:
            raise RuntimeError(f"POST {path}: HTTP {status}: {data[:500]!r}")
        return data

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def load_test(
    base: str, clients: int, total: int, limit_s: float, tag: str = "", metadata: dict | None = None
) -> dict:
    """Requests/second with `clients` threads sharing `total` requests (new plot each), capped at limit_s."""
    counter = iter(range(total))
    lock = threading.Lock()
    stop = time.perf_counter() + limit_s
    latencies: list[float] = []
    errors = 0

    def worker(w: int) -> None:
        nonlocal errors
        # A lean client (http.client, one keep-alive connection): the clients share the server's 2 cores,
        # and httpx's own ~1.7 ms of CPU per request, times 8 clients under one interpreter lock, left
        # the model idle between batches while the clients got their next requests out.
        c = Connection(base)
        try:
            while time.perf_counter() < stop:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                body = {"description": f"{PLOT} Take {tag}{i}, client {w}."}
                status, _ = c.send("/predict", {**body, "metadata": metadata} if metadata else body)
                dt = 1000 * (time.perf_counter() - t0)
                with lock:
                    latencies.append(dt)
                    errors += status != 200
        finally:
            c.close()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    wall = time.perf_counter() - t0
    return {"n": len(latencies), "errors": errors, "rps": len(latencies) / wall, "lat": latencies}


def local_trailer(folder: Path) -> str:
    """A synthetic 3-second H.264/AAC trailer on disk (when --trailer is not given)."""
    from reelcast.media.synth import render_trailer

    return str(render_trailer(folder / "bench_trailer.mp4", seconds=3.0, seed=1))


def log_overhead(predictor, settings, folder: Path, n: int, limit_s: float) -> list[tuple]:
    """Rows: p50/p95 of POST /predict without and with the prediction log, requests interleaved."""
    from reelcast.serving.app import PredictionResponse, create_app
    from reelcast.serving.arms import DEFAULT_ARM, ABSettings, FilmRequest, log_entry

    plain = create_app(predictor=predictor, settings=settings)
    logged = create_app(
        predictor=predictor, settings=settings, ab=ABSettings(log_db=str(folder / "log.sqlite"))
    )
    rows = []
    with Server(plain) as base_off, Server(logged) as base_on:
        with (
            httpx.Client(base_url=base_off, timeout=300) as off,
            httpx.Client(base_url=base_on, timeout=300) as on,
        ):
            for c in (off, on):
                c.post("/predict", json={"description": PLOT})
            for case, fresh in (("new plot", True), ("repeated plot (text cached)", False)):
                times: dict[str, list[float]] = {"off": [], "on": []}
                stop = time.perf_counter() + 2 * limit_s
                for i in range(n):
                    if time.perf_counter() > stop:
                        break
                    # Alternate which server goes first; the two share one feature store, so each gets
                    # its own new plot (same length) rather than the one the other just encoded.
                    order = [("off", off), ("on", on)] if i % 2 == 0 else [("on", on), ("off", off)]
                    for key, c in order:
                        text = f"{PLOT} Variant {key}{i:04d}." if fresh else PLOT
                        t0 = time.perf_counter()
                        # Another title each request: the answer is computed, not taken from the cache.
                        film = {"description": text, "film_id": f"b{i}", "title": f"B{key}{i}"}
                        c.post("/predict", json=film).raise_for_status()
                        times[key].append(1000 * (time.perf_counter() - t0))
                p50 = (percentile(times["off"], 50), percentile(times["on"], 50))
                p95 = (percentile(times["off"], 95), percentile(times["on"], 95))
                rows.append((f"{case}, log off (interleaved)", f"{len(times['off'])}", f"{p50[0]:.1f}",
                             f"{p95[0]:.1f}", ""))  # fmt: skip
                rows.append(
                    (
                        f"{case}, log on: SQLite (interleaved)",
                        f"{len(times['on'])}",
                        f"{p50[1]:.1f}",
                        f"{p95[1]:.1f}",
                        f"p50 {p50[1] - p50[0]:+.1f} ms ({p50[1] / p50[0]:.2f}x), "
                        f"p95 {p95[1] - p95[0]:+.1f} ms",
                    )
                )
        arms = logged.state.arms
        arms.log.flush(60)
        stats = arms.log.stats()
        # The request thread's own share of the log: build the entry, put it on the queue.
        arm = arms.arms[DEFAULT_ARM]
        with httpx.Client(base_url=base_on, timeout=300) as c:
            resp = PredictionResponse(**c.post("/predict", json={"description": PLOT}).json())
    film = FilmRequest(PLOT, "Bench", "bench", None, None, {"budget_musd": 10.0})
    reps = 2000
    t0 = time.perf_counter()
    for i in range(reps):
        arms.log.submit(log_entry(arm, "served", film, resp, f"{i:032d}", 1.0))
    per_call_us = 1e6 * (time.perf_counter() - t0) / reps
    arms.log.flush(60)
    arms.close()
    rows.append(
        (
            "log work on the request thread",
            f"{reps}",
            f"{per_call_us / 1000:.3f}",
            "-",
            f"{per_call_us:.0f} us per entry (build + queue), mean; server log: "
            f"{stats['written']} committed, {stats['dropped']} dropped",
        )
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--model", type=Path, help="A split folder of a training run (default: train a tiny one)."
    )
    ap.add_argument("--trailer", help="Trailer URL or local file for the cached-trailer row.")
    ap.add_argument("--requests", type=int, default=60, help="Sequential requests per latency row.")
    ap.add_argument("--clients", type=int, default=8, help="Concurrent clients in the throughput row.")
    ap.add_argument("--load-requests", type=int, default=400, help="Requests in the throughput row.")
    ap.add_argument("--seconds", type=float, default=20.0, help="Time cap of each row.")
    ap.add_argument("--device", default=None, help="auto | cpu | cuda")
    ap.add_argument("--log-requests", type=int, default=100, help="Request pairs in the log-overhead rows.")
    ap.add_argument("--hostile", action="store_true", help="Slow, failing and refused trailers mixed in.")
    ap.add_argument("--batching-only", action="store_true", help="Only the batching off/on table.")
    ap.add_argument("--runs", type=int, default=1, help="Runs of the batching table (medians printed).")
    ap.add_argument("--batch-window-ms", type=float, default=None, help="Batch window of the 'on' server.")
    ap.add_argument("--batch-max-size", type=int, default=None, help="Batch size limit of both servers.")
    args = ap.parse_args(argv)
    from reelcast.serving.settings import ServeSettings

    defaults = ServeSettings()
    args.batch_window_ms = defaults.batch_window_ms if args.batch_window_ms is None else args.batch_window_ms
    args.batch_max_size = args.batch_max_size or defaults.batch_max_size
    if args.batch_window_ms <= 0:
        ap.error("--batch-window-ms must be positive: it is the 'on' server's window")
    if args.hostile:
        return hostile(args)
    if args.model is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the tiny model is built locally; never wait on a hub

    from reelcast.predictor import RevenuePredictor
    from reelcast.serving.app import create_app
    from reelcast.serving.settings import ServeSettings

    with tempfile.TemporaryDirectory(prefix="reelcast-bench-") as tmp:
        tmp = Path(tmp)
        model = args.model
        if model is None:
            t0 = time.perf_counter()
            model = train_tiny_model(tmp)
            print(
                f"trained a tiny text-only model (random tiny BERT, no real accuracy) in "
                f"{time.perf_counter() - t0:.1f} s",
                file=sys.stderr,
            )
        from serve_batching import batching_table, print_batching

        load_before = os.getloadavg()
        if args.batching_only:
            batch_rows = batching_table(model, tmp, args)
            print_batching(args, batch_rows, load_before)
            return 0
        predictor = RevenuePredictor.load(model, device=args.device)
        # The benchmark is loopback-only and may pass a local trailer file by path.
        settings = ServeSettings(allow_local_trailers=True, temp_dir=str(tmp), device=args.device)
        app = create_app(predictor=predictor, settings=settings)
        service = app.state.service
        rows: list[tuple[str, str, str, str, str]] = []

        with Server(app) as base, httpx.Client(base_url=base, timeout=300) as client:
            for _ in range(3):  # warm-up: first-call allocations, thread pool start
                client.post("/predict", json={"description": PLOT})

            fresh = [{"description": f"{PLOT} Variant {i}."} for i in range(args.requests)]
            lat, err = timed_requests(client, fresh, args.seconds)
            rows.append(
                (
                    "text only, new plot each request",
                    f"{len(lat)}",
                    f"{percentile(lat, 50):.1f}",
                    f"{percentile(lat, 95):.1f}",
                    f"{err} errors",
                )
            )
            # Another title each time: the plot's vector comes from the feature store, the answer is
            # computed; then the identical request, which the answer cache serves.
            repeated = [{"description": PLOT, "title": f"B{i}"} for i in range(args.requests)]
            for label, films in (
                ("text only, repeated plot (text cached)", repeated),
                ("text only, identical request (answer cache)", [{"description": PLOT}] * args.requests),
            ):
                lat, err = timed_requests(client, films, args.seconds)
                p50, p95 = percentile(lat, 50), percentile(lat, 95)
                rows.append((label, f"{len(lat)}", f"{p50:.1f}", f"{p95:.1f}", f"{err} errors"))

            if not service.media:
                rows.append(("cached trailer", "-", "-", "-", "n/a: model has no video/audio modality"))
            elif service.media_mode == "simulated":
                rows.append(("cached trailer", "-", "-", "-", "n/a: model uses simulated trailer features"))
            else:
                trailer = args.trailer or local_trailer(tmp)
                t0 = time.perf_counter()
                first = client.post("/predict", json={"description": PLOT, "trailer_url": trailer})
                first_ms = 1000 * (time.perf_counter() - t0)
                used = first.status_code == 200 and any(
                    first.json()["modalities_used"].get(m) for m in service.media
                )
                payloads = [{"description": PLOT, "trailer_url": trailer}] * args.requests
                lat, err = timed_requests(client, payloads, args.seconds)
                note = f"first (uncached) {first_ms:.0f} ms; {err} errors"
                if not used:
                    note += "; trailer NOT used: " + "; ".join(first.json().get("warnings", []))[:120]
                rows.append(
                    (
                        "trailer, already fetched (cached)",
                        f"{len(lat)}",
                        f"{percentile(lat, 50):.1f}",
                        f"{percentile(lat, 95):.1f}",
                        note,
                    )
                )

            load = load_test(base, args.clients, args.load_requests, args.seconds)
        log_rows = log_overhead(predictor, settings, tmp, args.log_requests, args.seconds)
        rows.append(
            (
                f"{args.clients} concurrent clients, new plots",
                f"{load['n']}",
                f"{percentile(load['lat'], 50):.1f}",
                f"{percentile(load['lat'], 95):.1f}",
                f"{load['rps']:.1f} requests/s; {load['errors']} errors",
            )
        )
        rows.extend(log_rows)
        batch_rows = batching_table(model, tmp, args)

    print(
        f"\nPOST /predict on 127.0.0.1 - model {args.model or 'tiny text-only (trained just now)'} "
        f"({', '.join(service.modalities)}), "
        f"{os.cpu_count()} CPU cores, torch threads {_torch_threads()}"
    )
    header = ("case", "n", "p50 ms", "p95 ms", "notes")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]

    def fmt(row) -> str:
        return "  ".join(
            f"{v:<{w}}" if i in (0, 4) else f"{v:>{w}}"
            for i, (v, w) in enumerate(zip(row, widths, strict=True))
        )

    print(fmt(header).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(fmt(r).rstrip())
    print_batching(args, batch_rows, load_before)
    return 0


# ---- --hostile ---------------------------------------------------------------------------------------------
KINDS = ("text only", "stall past deadline", "HTTP 500", "1-byte drip", "loopback (refused)", "good trailer")


def hostile_request(i: int, media, refused_port: int) -> tuple[str, dict]:
    """Request i of the hostile mix: half text-only, the rest one trailer kind each."""
    desc = f"{PLOT} Take {i}."
    k = i % 10
    if k == 5:
        return KINDS[1], {
            "description": desc,
            "trailer_url": media.url(f"/stall?seconds=30&i={i}", "media.test"),
        }
    if k == 6:
        return KINDS[2], {"description": desc, "trailer_url": media.url("/status/500", "media.test")}
    if k == 7:
        url = media.url(f"/drip?bytes=1000000&every=0.05&i={i}", "media.test")
        return KINDS[3], {"description": desc, "trailer_url": url}
    if k == 8:
        return KINDS[4], {"description": desc, "trailer_url": f"http://[::1]:{refused_port}/t.mp4"}
    if k == 9:
        return KINDS[5], {
            "description": desc,
            "trailer_url": media.url(f"/good.mp4?copy={i % 40}", "media.test"),
        }
    return KINDS[0], {"description": desc}


def rss_mb() -> float:
    """This process's resident memory (the server runs in it), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def train_tiny_trailer_model(root: Path) -> Path:
    """A tiny model on 12 rendered trailers (random tiny BERT and ResNet): text, video and audio."""
    import pandas as pd

    from reelcast.config import Config
    from reelcast.encoders.frames import save_tiny_resnet
    from reelcast.encoders.text import save_tiny_bert
    from reelcast.media.synth import render_trailer
    from reelcast.predictor import RevenuePredictor

    rows = []
    for i in range(12):
        render_trailer(root / f"t{i}.mp4", seconds=1.0, fps=8, width=64, height=48, seed=i)
        rows.append(
            {"title": f"F{i}", "description": f"plot {i}", "revenue": 5.0 + i, "trailer": f"t{i}.mp4"}
        )
    pd.DataFrame(rows).to_csv(root / "films.csv", index=False)
    cfg = Config()
    cfg.override(
        [
            "media.mode=trailers",
            "media.num_frames=4",
            "media.resize=32",
            "media.crop=32",
            "media.audio_seconds=1.0",
            "media.decode_workers=1",
            "train.epochs=1",
            "eval.temperature_scaling=false",
            "eval.bootstrap=20",
        ]
    )
    cfg.text.model, cfg.text.max_length = str(save_tiny_bert(root / "tiny-bert", seed=0)), 64
    cfg.cache_dir = str(root / "cache")
    cfg.video.model = str(save_tiny_resnet(root / "tiny-resnet"))
    RevenuePredictor(cfg, progress=False).fit(root / "films.csv").save(root / "model")
    return root / "model"


def hostile(args) -> int:
    """The hostile mix against a trailer-reading model; prints latency by kind, /health, and what was kept."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from loopback_http import LoopbackHTTP

    from reelcast.media.synth import render_trailer
    from reelcast.predictor import RevenuePredictor
    from reelcast.serving.app import create_app
    from reelcast.serving.settings import ServeSettings

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="reelcast-hostile-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        model = args.model or train_tiny_trailer_model(tmp)
        print(f"model ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        predictor = RevenuePredictor.load(model, device=args.device)
        video = render_trailer(tmp / "good.mp4", seconds=1.0, fps=8, width=64, height=48, seed=7)
        size = video.stat().st_size
        served = tmp / "served"
        settings = ServeSettings(
            resolver=lambda host, port: ["127.0.0.1"] if host == "media.test" else [],
            fetch_allowed_networks=("127.0.0.1/32",),
            fetch_deadline=2.0,
            download_dir=str(served),
            download_cache_mb=5 * size / 2**20,
            feature_cache_entries=256,
            temp_dir=str(tmp / "uploads"),
            device=args.device,
        )
        app = create_app(predictor=predictor, settings=settings)
        service = app.state.service
        store = Path(predictor.config.cache_dir)
        store_files = sum(1 for p in store.rglob("*") if p.is_file())
        by_kind: dict[str, list[float]] = {k: [] for k in KINDS}
        statuses: dict[str, dict[str, int]] = {k: {} for k in KINDS}
        health: list[float] = []
        errors = 0
        lock = threading.Lock()
        stop = threading.Event()
        with LoopbackHTTP(files={"/good.mp4": video.read_bytes()}) as media, Server(app) as base:
            with httpx.Client(base_url=base, timeout=120) as c:
                for _ in range(3):
                    c.post("/predict", json={"description": PLOT})
                quiet, _ = timed_requests(
                    c, [{"description": f"{PLOT} Quiet {i}."} for i in range(args.requests)], args.seconds
                )
            rss0 = rss_mb()

            def probe() -> None:
                with httpx.Client(base_url=base, timeout=30) as c:
                    while not stop.is_set():
                        t = time.perf_counter()
                        c.get("/health")
                        health.append(1000 * (time.perf_counter() - t))
                        stop.wait(0.05)

            def client(w: int) -> None:
                nonlocal errors
                with httpx.Client(base_url=base, timeout=120) as c:
                    for i in range(w, args.load_requests, args.clients):
                        kind, payload = hostile_request(i, media, media.port)
                        t = time.perf_counter()
                        r = c.post("/predict", json=payload)
                        dt = 1000 * (time.perf_counter() - t)
                        with lock:
                            by_kind[kind].append(dt)
                            if r.status_code != 200:
                                errors += 1
                                continue
                            st = r.json()["trailer_status"].get("status", "-")
                            statuses[kind][st] = statuses[kind].get(st, 0) + 1

            prober = threading.Thread(target=probe)
            prober.start()
            t0 = time.perf_counter()
            try:
                with ThreadPoolExecutor(args.clients) as pool:
                    list(pool.map(client, range(args.clients)))
            finally:
                wall = time.perf_counter() - t0
                stop.set()
                prober.join(30)
            rss1 = rss_mb()
            pending = service.fetcher.pending()
        served_bytes = (
            sum(p.stat().st_size for p in served.iterdir() if p.is_file()) if served.exists() else 0
        )
        store_after = sum(1 for p in store.rglob("*") if p.is_file())

    n = sum(len(v) for v in by_kind.values())
    print(
        f"\nhostile load on 127.0.0.1: {n} POST /predict from {args.clients} clients in {wall:.1f} s, "
        f"{errors} non-200; {os.cpu_count()} CPU cores (shared: numbers are noisy), torch threads "
        f"{_torch_threads()}"
    )
    print(f"{'request kind':<22} {'n':>4} {'p50 ms':>8} {'p95 ms':>8}  trailer_status")
    for k in KINDS:
        v = by_kind[k]
        if v:
            st = ", ".join(f"{s} {c}" for s, c in sorted(statuses[k].items()))
            print(f"{k:<22} {len(v):>4} {percentile(v, 50):>8.0f} {percentile(v, 95):>8.0f}  {st}")
    q50, q95 = percentile(quiet, 50), percentile(quiet, 95)
    t95 = percentile(by_kind[KINDS[0]], 95)
    print(f"{'text only, quiet':<22} {len(quiet):>4} {q50:>8.0f} {q95:>8.0f}  (same server, before the load)")
    print(f"text-only p95 under load / quiet: {t95 / q95:.1f}x")
    print(
        f"/health: {len(health)} probes, p50 {percentile(health, 50):.1f} ms, "
        f"p99 {percentile(health, 99):.1f} ms"
    )
    print(
        f"kept: RSS {rss0:.0f} -> {rss1:.0f} MB; download folder {served_bytes / 1024:.0f} KB "
        f"(cap {settings.download_cache_mb * 1024:.0f} KB); "
        f"feature-store files {store_files} -> {store_after}; "
        f"in-memory feature entries {len(service.features)} (cap {settings.feature_cache_entries}); "
        f"downloads pending at the end {pending}"
    )
    return 0


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    sys.exit(main())

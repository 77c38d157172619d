"""Cold start: wall seconds of `reelcast --help` and of `reelcast predict` for one film in a new process.

    python benchmarks/startup.py --model runs/demo/split_80_10_10 [--repeats 5]
    python benchmarks/startup.py            # trains the demo first (about a minute) into a temp folder

Each command runs --repeats times, alternating, in fresh processes; the table gives the median and the
range. `predict` is measured twice: as shipped (a plain BERT folder is read with torch and `tokenizers`,
encoders/bert.py) and with `--set text.lean=false` (through transformers), with the ratio, in the same
run. A third row imports torch alone, the floor no prediction can go under; a fourth adds the lightgbm
package, which predict does not import. The plot is new to the model's feature store on every run (a
per-run suffix), so the text encoder always runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOALS = {"reelcast --help": "<= 0.5 s (kept)", "reelcast predict, one film": "<= 3 s"}


def timed(cmd: list[str], env: dict) -> float:
    """Wall seconds of one run; the command must succeed."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall


def demo_model(work: Path, env: dict) -> Path:
    """Train the demo into `work` and return its 80-10-10 split folder."""
    out = work / "demo"
    cmd = [
        sys.executable,
        "-m",
        "reelcast.cli",
        "demo",
        "--out",
        str(out),
        "--cache-dir",
        str(work / "cache"),
    ]
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=1800)
    return out / "split_80_10_10"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, help="a split folder of a run (default: train the demo)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    env = {**os.environ, "REELCAST_PROGRESS": "off"}
    model = args.model or demo_model(Path(tempfile.mkdtemp(prefix="reelcast-startup-")), env)
    exe = [sys.executable, "-m", "reelcast.cli"]

    def predict(i: int, *extra: str) -> list[str]:
        plot = f"A retired safecracker is pulled back for one last job (take {i}, {time.time_ns()})."
        meta = ["--meta", "budget_musd=40", "--meta", "genres=Crime,Drama"]
        return [*exe, "predict", "--model", str(model), "--description", plot, *meta, "--quiet", *extra]

    cases = {
        "reelcast --help": lambda i: [*exe, "--help"],
        "reelcast predict, one film": predict,
        "  the same through transformers (text.lean=false)": lambda i: predict(i, "--set", "text.lean=false"),
        "  python -c 'import torch' (the floor)": lambda i: [sys.executable, "-c", "import torch"],
        # What importing the lightgbm package would add: predict scores the trees through LightGBM's C
        # API (models/booster.py) and never imports it.
        "  python -c 'import torch, lightgbm'": lambda i: [sys.executable, "-c", "import torch, lightgbm"],
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for i in range(args.repeats):  # alternating, so every case sees the same machine load
        for name, cmd in cases.items():
            times[name].append(timed(cmd(i), env))
    load = os.getloadavg()[0]
    print(
        f"cold start, {args.repeats} runs each, {os.cpu_count()} CPUs, load average {load:.1f}; model {model}"
    )
    print("case | median s | min-max s | goal")
    for name, ts in times.items():
        print(f"{name} | {statistics.median(ts):.2f} | {min(ts):.2f}-{max(ts):.2f} | {GOALS.get(name, '')}")
    lean = statistics.median(times["reelcast predict, one film"])
    full = statistics.median(times["  the same through transformers (text.lean=false)"])
    print(f"transformers / lean: {full / lean:.2f}x")


if __name__ == "__main__":
    main()

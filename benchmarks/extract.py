"""Where trailer feature extraction spends its time on this machine, and which CPU levers pay off.

    python benchmarks/extract.py [--quick]

Prints five tables, all measured in the same run:
  1. the fp32 (and bf16) matmul rate of this CPU: the ceiling a convolutional network can approach;
  2. ResNet-50 images/s at 224x224 for each lever (memory layout, batch size, threads, BatchNorm folding,
     torch.compile, ONNX Runtime, bf16 autocast), as GFLOP/s and as a fraction of the fp32 matmul rate;
  3. per-trailer seconds split into decode / resize / ResNet-50 / audio, for the real Big Buck Bunny
     trailer (../shared/media/trailer_bbb.mp4 beside the repository) and for generated trailers;
  4. ResNet-50 per trailer while a decode worker process runs beside it, by torch thread count;
  5. the training step of the audio CNN (forward + backward of a batch of 30 s log-mel inputs).

Every timing is the best of several repeats, taken after waiting (within --max-wait) for other processes
to leave the CPU idle; the CPU other processes used meanwhile is shown ("others", in cores), because on a
shared machine that is what makes two runs disagree.
ResNet-50 weights are random: only the arithmetic matters for speed, and nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch

from reelcast.config import AudioConfig, MediaConfig, VideoConfig
from reelcast.encoders.audio import audio_input
from reelcast.encoders.common import native_bf16
from reelcast.encoders.frames import FrameEncoder, create_frame_encoder, fold_batchnorm

ROOT = Path(__file__).resolve().parents[1]
REAL_TRAILER = ROOT.parent / "shared" / "media" / "trailer_bbb.mp4"
CLK_TCK = os.sysconf("SC_CLK_TCK")
IDLE_CORES = 0.1  # others' CPU use below which the machine counts as idle
BUSY_CORES = 0.3  # ... and above which a measurement is repeated once


# ---- measurement ------------------------------------------------------------------------------------
def _busy_ticks() -> int:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]  # user nice system irq softirq steal


def _own_ticks() -> int:
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])  # utime stime cutime cstime


class Others:
    """CPU cores used by other processes while the block runs (Linux /proc; 0 elsewhere)."""

    def __enter__(self) -> Others:
        self.ok = Path("/proc/stat").exists()
        if self.ok:
            self.b0, self.o0, self.t0 = _busy_ticks(), _own_ticks(), time.perf_counter()
        self.cores = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        if self.ok:
            wall = time.perf_counter() - self.t0
            other = (_busy_ticks() - self.b0) - (_own_ticks() - self.o0)
            self.cores = max(0.0, other / CLK_TCK / wall) if wall > 0 else 0.0


class Quiet:
    """Waits, before a measurement, until other processes leave the CPU idle, within a total budget."""

    def __init__(self, budget: float = 0.0):
        self.left = budget
        self.waited = 0.0

    def wait(self) -> None:
        """Return once others use < IDLE_CORES for a quarter second, or when the budget is spent."""
        if not Path("/proc/stat").exists():
            return
        while self.left > 0:
            b0, o0, t0 = _busy_ticks(), _own_ticks(), time.perf_counter()
            time.sleep(0.25)
            wall = time.perf_counter() - t0
            self.left -= wall
            self.waited += wall
            if ((_busy_ticks() - b0) - (_own_ticks() - o0)) / CLK_TCK / wall < IDLE_CORES:
                return


QUIET = Quiet()


def quietly(measure: Callable[[], tuple]) -> tuple:
    """Run `measure` (its last result is others' cores) on an idle machine if possible; if it was busy
    anyway, try once more and keep the quieter of the two."""
    QUIET.wait()
    result = measure()
    if result[-1] >= BUSY_CORES and QUIET.left > 0:
        QUIET.wait()
        again = measure()
        result = again if again[-1] < result[-1] else result
    return result


def best_time(fn: Callable[[], object], reps: int, min_seconds: float = 0.0) -> tuple[float, float]:
    """(best wall seconds of one call, other processes' cores meanwhile), after one warm-up call."""
    fn()
    times: list[float] = []
    with Others() as others:
        while len(times) < reps or (sum(times) < min_seconds and len(times) < 10 * reps):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    return min(times), others.cores


def matmul_rate(n: int, dtype: torch.dtype, reps: int) -> tuple[float, float]:
    """GFLOP/s (2 n^3 per product) of torch.matmul on n x n matrices, best of `reps`."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(dtype)
    b = torch.randn(n, n, generator=g).to(dtype)
    t, others = best_time(lambda: torch.matmul(a, b), reps)
    return 2 * n**3 / t / 1e9, others


# ---- table 1 -------------------------------------------------------------------------------------------
def table_matmul(quick: bool) -> tuple[float, float | None]:
    print("\n## 1. Matmul rate (torch.matmul, square matrices, best of repeats)\n")
    print("| dtype | n | GFLOP/s | others (cores) |\n|---|---|---|---|")
    best32 = 0.0
    for n in (1024, 2048) if quick else (1024, 2048, 4096):
        rate, others = quietly(lambda n=n: matmul_rate(n, torch.float32, 5 if n <= 2048 else 3))
        best32 = max(best32, rate)
        print(f"| fp32 | {n} | {rate:.0f} | {others:.2f} |")
    best16 = None
    if native_bf16(torch.device("cpu")):
        best16 = 0.0
        for n in (2048,) if quick else (2048, 4096):
            rate, others = quietly(lambda n=n: matmul_rate(n, torch.bfloat16, 5 if n <= 2048 else 3))
            best16 = max(best16, rate)
            print(f"| bf16 | {n} | {rate:.0f} | {others:.2f} |")
    print(
        f"\nfp32 matmul rate used below: **{best32:.0f} GFLOP/s**"
        + (f"; bf16: {best16:.0f} GFLOP/s" if best16 else "; no native bf16 on this CPU")
    )
    return best32, best16


# ---- table 2 -------------------------------------------------------------------------------------------
def resnet50() -> torch.nn.Module:
    """ResNet-50 (Hugging Face layout), random weights, eval mode, no autograd state."""
    from transformers import ResNetConfig, ResNetModel

    torch.manual_seed(0)
    model = ResNetModel(ResNetConfig()).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def shipped_encoder(torch_compile: bool = False) -> FrameEncoder:
    """A random-weight ResNet-50 behind FrameEncoder, exactly as create_frame_encoder would wrap it."""
    model = resnet50()
    # FrameEncoder folds BN and switches layout in place, so the closure sees the optimised model.
    return FrameEncoder(
        model,
        lambda x: model(pixel_values=x).pooler_output.flatten(1),
        "resnet50-random",
        model.config.hidden_sizes[-1],
        batch_size=VideoConfig().batch_size,
        torch_compile=torch_compile,
    )


def flops_per_image(model: torch.nn.Module, size: int) -> float:
    """FLOPs (2 per multiply-add, the matmul convention) of one forward pass, counted by torch."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(pixel_values=torch.zeros(1, 3, size, size))
    return float(counter.get_total_flops())


class Lever:
    """One row of table 2: how to run a batch, which batch size and thread count."""

    def __init__(
        self,
        name: str,
        batch: int,
        run: Callable[[torch.Tensor], object],
        threads: int = 0,
        channels_last: bool = True,
        bf16: bool = False,
    ):
        self.name, self.batch, self.run, self.threads = name, batch, run, threads
        self.channels_last, self.bf16 = channels_last, bf16


def measure_lever(lever: Lever, size: int, reps: int, min_seconds: float) -> tuple[float, float]:
    """(images/s, others' cores) for one lever, best of at least `reps` batches."""
    x = torch.randn(lever.batch, 3, size, size, generator=torch.Generator().manual_seed(1))
    if lever.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    default_threads = torch.get_num_threads()
    torch.set_num_threads(lever.threads or default_threads)
    try:

        def call() -> object:
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=lever.bf16):
                return lever.run(x)

        # Small batches are fast: repeat them for at least min_seconds so one lucky call does not decide.
        t, others = best_time(call, reps, min_seconds)
    finally:
        torch.set_num_threads(default_threads)
    return lever.batch / t, others


def onnx_runner(
    model: torch.nn.Module, size: int, tmp: Path, threads: int
) -> Callable[[torch.Tensor], object]:
    """Export to ONNX (TorchScript exporter: no onnxscript needed) and wrap an ORT CPU session."""
    import onnxruntime as ort

    class Pooled(torch.nn.Module):
        def __init__(self, m: torch.nn.Module):
            super().__init__()
            self.m = m

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.m(pixel_values=x).pooler_output.flatten(1)

    path = tmp / "resnet50.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(model),
            (torch.zeros(1, 3, size, size),),
            str(path),
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "b"}, "y": {0: "b"}},
        )
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"x": x.contiguous().numpy()})


def compiled_runner(model: torch.nn.Module, batch: int, size: int, bf16: bool) -> tuple[Callable, float]:
    """torch.compile (inductor, weights frozen as constants) and its compile time in seconds."""
    import torch._inductor.config as inductor_config

    # freezing constant-folds the weights (BN included) and pre-packs them for oneDNN. Set through
    # config.patch: torch.compile(options={"freezing": True}) measured half as fast in bf16.
    compiled = torch.compile(lambda x: model(pixel_values=x).pooler_output, dynamic=False)
    x = torch.zeros(batch, 3, size, size).contiguous(memory_format=torch.channels_last)
    t = time.perf_counter()
    with (
        inductor_config.patch(freezing=True),
        torch.inference_mode(),
        torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16),
    ):
        compiled(x)
    return compiled, time.perf_counter() - t


def table_resnet(quick: bool, mm32: float, mm16: float | None, tmp: Path) -> None:
    size = MediaConfig().crop
    base = resnet50()
    flops = flops_per_image(base, size)
    print(f"\n## 2. ResNet-50 at {size}x{size}: images/s per lever ({flops / 1e9:.2f} GFLOP per image)\n")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads by default, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}, native bf16: "
        f"{native_bf16(torch.device('cpu'))}"
    )
    cores = os.cpu_count() or 1
    # Separate copies: channels_last and folding change the module in place.
    nchw = base
    cl = resnet50().to(memory_format=torch.channels_last)
    folded = fold_batchnorm(resnet50()).to(memory_format=torch.channels_last)

    def fwd(m: torch.nn.Module) -> Callable[[torch.Tensor], object]:
        return lambda x: m(pixel_values=x).pooler_output

    big = () if quick else (32,)  # batch sizes beyond 8 only in the full run
    levers = [
        Lever("baseline: NCHW fp32", 1, fwd(nchw), channels_last=False),
        Lever("channels_last", 1, fwd(cl)),
        Lever("NCHW, batch 8", 8, fwd(nchw), channels_last=False),
        Lever("channels_last, batch 8", 8, fwd(cl)),
        *(Lever(f"channels_last, batch {b}", b, fwd(cl)) for b in (() if quick else (32, 64))),
        Lever("channels_last, batch 8, 1 thread", 8, fwd(cl), threads=1),
        *(Lever(f"channels_last, batch 8, {t} threads", 8, fwd(cl), threads=t) for t in big and (2 * cores,)),
        *(Lever(f"+ BN folded, batch {b}", b, fwd(folded)) for b in (8, *big)),
    ]
    bf16 = native_bf16(torch.device("cpu"))
    if bf16:
        sweep = (8,) if quick else (4, 8, 16, 32)  # the batch-size sweep behind CPU_MAX_BATCH
        levers += [Lever(f"+ BN folded + bf16 autocast, batch {b}", b, fwd(folded), bf16=True) for b in sweep]
    rows: list[tuple[str, float]] = []  # name, images/s
    notes: list[str] = []
    print(
        "\n| lever | batch | threads | images/s | ms/image | GFLOP/s | % of fp32 matmul rate | x baseline | "
        "others (cores) |\n" + "|---" * 9 + "|"
    )

    def add(lever: Lever, reps: int = 3) -> None:
        ips, others = quietly(lambda: measure_lever(lever, size, reps, 0.5 if quick else 1.0))
        name = lever.name + (" (bf16)" if lever.bf16 else "")
        rows.append((name, ips))
        gflops = ips * flops / 1e9
        print(
            f"| {name} | {lever.batch} | {lever.threads or torch.get_num_threads()} | {ips:.1f} | "
            f"{1000 / ips:.0f} | {gflops:.0f} | {100 * gflops / mm32:.0f} % | {ips / rows[0][1]:.2f} | "
            f"{others:.2f} |",
            flush=True,
        )

    for lever in levers:
        add(lever)
    if quick:
        notes.append("ONNX Runtime and torch.compile: skipped with --quick")
    else:
        try:
            run = onnx_runner(base, size, tmp, torch.get_num_threads())
            for b in (8, 32):
                add(Lever(f"ONNX Runtime (CPU EP, fp32), batch {b}", b, run, channels_last=False))
        except Exception as e:  # any failure is a result to report, not a reason to stop
            notes.append(f"ONNX Runtime: not measured ({type(e).__name__}: {str(e).splitlines()[0][:120]})")
        for use_bf16 in (False, True) if bf16 else (False,):
            name = "torch.compile (inductor, frozen), batch 8"
            try:
                # A fresh model per compile: freezing bakes the weights (and their dtype) into the graph.
                run, secs = compiled_runner(
                    resnet50().to(memory_format=torch.channels_last), 8, size, use_bf16
                )
                add(Lever(name, 8, run, bf16=use_bf16))
                notes.append(
                    f"{name}{' (bf16)' if use_bf16 else ''}: compiling took {secs:.0f} s "
                    "(once per process and input shape)"
                )
            except Exception as e:
                notes.append(f"{name}: failed here ({type(e).__name__}: {str(e).splitlines()[0][:120]})")
    # The encoder as shipped: uint8 frames in, normalisation, BN folding, channels_last, autocast if any.
    frames = np.random.default_rng(0).integers(0, 256, (MediaConfig().num_frames, size, size, 3), np.uint8)
    for torch_compile in (False,) if quick else (False, True):
        shipped = shipped_encoder(torch_compile)
        t = time.perf_counter()
        shipped.encode(frames)  # compiles, when asked to
        first = time.perf_counter() - t
        label = (
            f"FrameEncoder.encode({'torch_compile=True' if torch_compile else 'defaults'}): uint8 in, "
            f"batch_size={shipped.batch_size} (forward batches of {shipped.forward_batch})"
        )
        add(Lever(label, len(frames), lambda _, e=shipped: e.encode(frames), bf16=shipped.bf16))
        if torch_compile:
            notes.append(f"FrameEncoder with torch_compile=True: first encode() took {first:.0f} s")

    # The offline ImageNet encoder, for comparison (a different network: its FLOPs are not ResNet-50's).
    try:
        mobilenet = create_frame_encoder("mobilenet_v2", batch_size=VideoConfig().batch_size)
        t, others = quietly(partial(best_time, lambda: mobilenet.encode(frames), 3))
        notes.append(
            f"FrameEncoder mobilenet_v2 (defaults, {'bf16' if mobilenet.bf16 else 'fp32'}): "
            f"{len(frames) / t:.0f} images/s (others {others:.2f} cores)"
        )
    except Exception as e:
        notes.append(f"mobilenet_v2: not measured ({type(e).__name__}: {e})")

    fp32_rows = [r for r in rows if "bf16" not in r[0]]
    best32 = max(fp32_rows, key=lambda r: r[1])
    best = max(rows, key=lambda r: r[1])

    def describe(r: tuple[str, float]) -> str:
        g = r[1] * flops / 1e9
        text = (
            f"{r[0]}: {r[1]:.1f} images/s, {r[1] / rows[0][1]:.1f}x the baseline, {100 * g / mm32:.0f} % "
            "of the fp32 matmul rate"
        )
        if "bf16" in r[0] and mm16:
            text += f", {100 * g / mm16:.0f} % of the bf16 matmul rate"
        return text

    print(f"\nBest fp32: {describe(best32)}.")
    print(f"Best overall: {describe(best)}.")
    print(
        f"(Counting ResNet-50's {flops / 2e9:.2f} G multiply-adds as 'GFLOP', as it is often quoted, would "
        "halve every percentage; matmul rates count 2 FLOPs per multiply-add, so this table does too.)"
    )
    for n in notes:
        print(f"- {n}")


# ---- table 3 -------------------------------------------------------------------------------------------
def _split_sample(path: Path, cfg: MediaConfig) -> tuple[np.ndarray, float, float]:
    """Frames via reelcast.media.decode.sample_frames, with the swscale resize+crop timed apart."""
    from reelcast.media import decode

    spent = [0.0]
    original = getattr(decode, "_converter", None)
    if original is not None:  # time the per-frame convert (resize + RGB + crop) inside the decoder loop

        def converter(stream, c):
            convert = original(stream, c)

            def timed(frame):
                t = time.perf_counter()
                out = convert(frame)
                spent[0] += time.perf_counter() - t
                return out

            return timed

        decode._converter = converter
    try:
        t = time.perf_counter()
        frames = decode.sample_frames(path, cfg)
        total = time.perf_counter() - t
    finally:
        if original is not None:
            decode._converter = original
    return frames, total - spent[0], spent[0]


def _pyav_sample(path: Path, cfg: MediaConfig) -> tuple[np.ndarray, float, float]:
    """Fallback when reelcast.media.decode is absent: sequential PyAV decode, then resize + crop."""
    import av

    t = time.perf_counter()
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        decoded = [(f.time, f) for f in c.decode(s)]
    dur = decoded[-1][0] or 1.0
    targets = (np.arange(cfg.num_frames) + 0.5) * dur / cfg.num_frames
    times = np.array([d[0] for d in decoded])
    picked = [decoded[int(np.abs(times - tt).argmin())][1] for tt in targets]
    t_decode = time.perf_counter() - t
    t = time.perf_counter()
    out = []
    for f in picked:
        scale = cfg.resize / min(f.width, f.height)
        w, h = max(cfg.crop, round(f.width * scale)), max(cfg.crop, round(f.height * scale))
        img = f.to_ndarray(width=w, height=h, format="rgb24")
        y0, x0 = (h - cfg.crop) // 2, (w - cfg.crop) // 2
        out.append(img[y0 : y0 + cfg.crop, x0 : x0 + cfg.crop])
    return np.stack(out), t_decode, time.perf_counter() - t


def _load_audio(path: Path, cfg: MediaConfig) -> np.ndarray | None:
    try:
        from reelcast.media.decode import load_audio
    except ImportError:
        return None
    return load_audio(path, cfg)


def has_decode() -> bool:
    """Whether reelcast.media.decode (written alongside this benchmark) can be imported."""
    import importlib.util

    return importlib.util.find_spec("reelcast.media.decode") is not None


def trailer_row(name: str, path: Path, encoder: FrameEncoder, reps: int) -> tuple[str, float]:
    """One per-trailer line (best-of-`reps` seconds for each stage) and others' cores meanwhile."""
    mcfg, acfg = MediaConfig(), AudioConfig()
    sample, how = (
        (_split_sample, "reelcast.media.decode") if has_decode() else (_pyav_sample, "PyAV fallback")
    )
    best = {"decode": 1e9, "resize": 1e9, "cnn": 1e9, "audio": 1e9}
    with Others() as others:
        for _ in range(reps):
            frames, t_dec, t_res = sample(path, mcfg)
            t = time.perf_counter()
            encoder.encode(frames)
            t_cnn = time.perf_counter() - t
            t = time.perf_counter()
            wave = _load_audio(path, mcfg)
            if wave is not None:
                audio_input(wave, acfg, mcfg.sample_rate)
            t_aud = time.perf_counter() - t
            for k, v in zip(best, (t_dec, t_res, t_cnn, t_aud), strict=True):
                best[k] = min(best[k], v)
    total = sum(best.values())
    text = (
        f"| {name} | {best['decode']:.2f} | {best['resize']:.2f} | {best['cnn']:.2f} | {best['audio']:.2f} | "
        f"{total:.2f} | {100 * best['decode'] / total:.0f} % | "
        f"{100 * (best['decode'] + best['resize']) / total:.0f} % | {others.cores:.2f} | {how} |"
    )
    return text, others.cores


def table_trailers(quick: bool, tmp: Path) -> None:
    mcfg = MediaConfig()
    # The fastest shipped configuration; compiling (~10 s) is left out of --quick.
    encoder = shipped_encoder(torch_compile=not quick)
    encoder.encode(np.zeros((1, mcfg.crop, mcfg.crop, 3), np.uint8))  # compile outside the timings
    print(
        f"\n## 3. Seconds per trailer ({mcfg.num_frames} frames at {mcfg.crop}x{mcfg.crop}, "
        f"{mcfg.audio_seconds:g} s of audio at {mcfg.sample_rate} Hz; ResNet-50 = FrameEncoder.encode, "
        f"{'bf16' if encoder.bf16 else 'fp32'}{', torch_compile' if encoder.torch_compile else ''})\n"
    )
    print(
        "| trailer | decode | resize | ResNet-50 | audio (decode+log-mel) | total | decode % | "
        "decode+resize % | others (cores) | decoder |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    reps = 2 if quick else 3
    if REAL_TRAILER.exists():
        print(
            quietly(
                lambda: trailer_row("trailer_bbb.mp4 (55 s, 1280x720 H.264)", REAL_TRAILER, encoder, reps)
            )[0]
        )
    else:
        print(f"| trailer_bbb.mp4: not found at {REAL_TRAILER}, skipped | | | | | | | | | |")
    try:
        from reelcast.media.synth import render_trailer
    except ImportError:
        print("| generated trailers: reelcast.media.synth not available, skipped | | | | | | | | | |")
        return
    specs = [(10.0, 640, 360)] if quick else [(5.0, 320, 240), (30.0, 854, 480)]
    for seconds, w, h in specs:
        path = render_trailer(
            tmp / f"synth_{w}x{h}_{seconds:g}s.mp4", seconds=seconds, width=w, height=h, seed=1
        )
        name = f"generated ({seconds:g} s, {w}x{h} H.264 + AAC)"
        print(quietly(partial(trailer_row, name, path, encoder, reps))[0])
    print(
        "\nDecode overhead = decode (+ resize) time as a share of the per-trailer total. The extractor runs "
        "decoding in worker processes while the CNN runs, so on more cores the wall time is closer to the "
        "larger of the two than to their sum."
    )


def table_audio_cnn(quick: bool) -> None:
    """Training cost of the audio CNN: forward + backward of a batch of 30 s log-mel inputs."""
    from reelcast.config import TrainConfig
    from reelcast.encoders.audio import AudioCNN, audio_input_shape

    acfg, mcfg, batch = AudioConfig(), MediaConfig(), TrainConfig().batch_size
    shape = audio_input_shape(acfg, mcfg.sample_rate, mcfg.audio_seconds)
    torch.manual_seed(0)
    model = AudioCNN.from_config(acfg, mcfg.sample_rate)
    x = torch.randn(batch, *shape)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(x).square().mean().backward()

    t, others = quietly(lambda: best_time(step, 3 if quick else 10))
    params = sum(p.numel() for p in model.parameters())
    print(
        f"\n## 5. AudioCNN training step\n\nbatch {batch} x {shape} log-mel, forward + backward: "
        f"**{1000 * t:.0f} ms** (best of repeats, {torch.get_num_threads()} threads, others {others:.2f} "
        f"cores); {params:,} parameters."
    )


COMPETITOR = """
import sys, time
from pathlib import Path
from reelcast.config import MediaConfig
from reelcast.media.decode import load_audio, sample_frames
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    sample_frames(Path(sys.argv[1]), MediaConfig())
    load_audio(Path(sys.argv[1]), MediaConfig())
"""


def table_contention(quick: bool, tmp: Path) -> None:
    """ResNet-50 encode() while one decode worker process keeps a core busy, by torch thread count."""
    import subprocess

    path = REAL_TRAILER
    if not path.exists():
        from reelcast.media.synth import render_trailer

        path = render_trailer(tmp / "competitor.mp4", seconds=10.0, width=640, height=360, seed=2)
    encoder = shipped_encoder()
    frames = np.random.default_rng(0).integers(0, 256, (MediaConfig().num_frames, 224, 224, 3), np.uint8)
    default_threads = torch.get_num_threads()
    reps = 2 if quick else 3
    print(
        "\n## 4. ResNet-50 per trailer while a decode worker runs (the extractor overlaps the two)\n\n"
        "| torch threads | decode worker running | seconds per trailer (30 frames) | others (cores) |\n"
        "|---|---|---|---|"
    )
    results = {}
    for busy in (False, True):
        proc = None
        QUIET.wait()
        if busy:
            proc = subprocess.Popen([sys.executable, "-c", COMPETITOR, str(path), "600"])
            time.sleep(2.0)  # let it get past its imports and into decoding
        try:
            for threads in sorted({1, default_threads}):
                encoder.threads = threads  # encode() sets and restores torch's thread count
                run = partial(best_time, lambda: encoder.encode(frames), reps)
                # With the competitor running, "others" includes it: only idle rows are retried.
                t, others = run() if busy else quietly(run)
                results[busy, threads] = t
                print(f"| {threads} | {'yes' if busy else 'no'} | {t:.2f} | {others:.2f} |", flush=True)
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait()
    if default_threads > 1:
        print(
            f"\nWith a decode worker busy, {default_threads} torch threads take "
            f"{results[True, default_threads] / results[True, 1]:.1f}x as long as 1 thread "
            f"(without it: {results[False, default_threads] / results[False, 1]:.2f}x): OpenMP threads "
            "wait for each other at every layer, and one of them keeps losing its core to the decoder."
        )


def main(argv: list[str] | None = None) -> None:
    """Run the five tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer levers and repeats (< 1 minute)")
    ap.add_argument(
        "--max-wait",
        type=float,
        default=None,
        help="seconds in total to wait for other processes to leave the CPU idle before measurements "
        "(default 60, 10 with --quick; 0 = never wait)",
    )
    args = ap.parse_args(argv)
    QUIET.left = args.max_wait if args.max_wait is not None else (10.0 if args.quick else 60.0)
    t0 = time.perf_counter()
    print(f"# reelcast extraction benchmark{' (--quick)' if args.quick else ''}\n")
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, Python "
        f"{sys.version.split()[0]}, torch {torch.__version__}"
    )
    with tempfile.TemporaryDirectory(prefix="reelcast_bench_") as d:
        tmp = Path(d)
        mm32, mm16 = table_matmul(args.quick)
        table_resnet(args.quick, mm32, mm16, tmp)
        table_trailers(args.quick, tmp)
        if has_decode():
            table_contention(args.quick, tmp)
        else:
            print("\n## 4. skipped: reelcast.media.decode is not available")
        table_audio_cnn(args.quick)
        # The matmul rate again at the end: if it moved, so did everything measured in between.
        again, others = quietly(lambda: matmul_rate(2048, torch.float32, 5))
        print(
            f"\nfp32 matmul rate at the end of the run: {again:.0f} GFLOP/s (start: {mm32:.0f}; others "
            f"{others:.2f} cores)."
        )
    print(
        f"Total benchmark time: {time.perf_counter() - t0:.0f} s, of which {QUIET.waited:.0f} s waiting for "
        "other processes to go idle."
    )


if __name__ == "__main__":
    main()

"""What every encoder shares: a stable id for a model, device choice, bf16 or not, clear load errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

# Weight files whose size and mtime identify a local model directory's version.
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".onnx")


def model_id(name_or_path: str) -> str:
    """A stable id: the hub id, or a local directory's name plus a hash of its config and weights."""
    p = Path(name_or_path).expanduser()
    if not p.exists():
        return name_or_path
    h = hashlib.sha256()
    files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
    for q in files:
        if q.name == "config.json" or q.suffix in (".json", ".txt"):
            h.update(q.name.encode())
            h.update(q.read_bytes())
        elif q.suffix in _WEIGHT_SUFFIXES:
            st = q.stat()
            h.update(f"{q.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return f"{p.resolve().name}@{h.hexdigest()[:12]}"


def resolve_device(device: str) -> torch.device:
    """`auto` picks CUDA when present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available on this machine")
    return torch.device(device)


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says from where and what to do."""


def load_error(kind: str, name: str, err: Exception) -> ModelLoadError:
    """Explain a failed from_pretrained: local path problems or no route to the hub."""
    if Path(name).expanduser().exists():
        hint = "the directory exists but is not a loadable Hugging Face model"
    else:
        hint = (
            "it is neither a local directory nor reachable on the Hugging Face hub "
            "(offline? pass a local model directory)"
        )
    return ModelLoadError(f"cannot load {kind} model {name!r}: {hint}: {type(err).__name__}: {err}")


def read_config(directory: str | Path) -> dict:
    """The config.json of a local model directory, or {}."""
    p = Path(directory) / "config.json"
    return json.loads(p.read_text()) if p.exists() else {}


# ---- precision -----------------------------------------------------------------------------------------
PRECISIONS = ("auto", "fp32", "bf16")
# CPU flags of native bf16 matrix units: AMX tiles (Sapphire Rapids+) or AVX512-BF16 (Cooper Lake+, Zen 4).
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def use_bf16(device: torch.device, precision: str) -> bool:
    """Whether `precision` (auto | fp32 | bf16) means computing in bf16 on `device`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    return precision == "bf16" or (precision == "auto" and native_bf16(device))


def native_bf16(device: torch.device) -> bool:
    """True when bf16 matmuls run on dedicated hardware (AMX or AVX512-BF16 on CPU, Ampere+ on CUDA)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    flags = cpu_flags()
    if flags is not None:
        return any(f in flags for f in BF16_CPU_FLAGS)
    try:  # no /proc/cpuinfo (macOS, Windows): ask torch's own CPU probes
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except AttributeError:  # older torch without these probes: stay in fp32
        return False


def cpu_flags() -> frozenset[str] | None:
    """The CPU feature flags the Linux kernel reports (/proc/cpuinfo), or None where there are none."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        return None
    return None

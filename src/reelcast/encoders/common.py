"""What every encoder shares: a stable id for a model, device choice, clear load errors."""

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

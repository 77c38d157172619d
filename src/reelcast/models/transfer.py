"""Warm start: a fusion network begins training from the layers of a model fit on another table.

`reelcast train --init runs/tmdb/split_80_10_10` reads the source model's fusion network and copies
every layer the two networks share into the new one before training: the per-modality heads, the
attention projections, the fusion MLP and the class layer. Inputs are matched by meaning, not by
position: the text block only when both read plots with the same text model (anything else is
refused), metadata features by name (the features the two tables share, e.g. year, runtime, budget,
genres), aux outputs by target name. Weights for inputs the source never saw start fresh.

What is not carried over: the class edges (always the target table's own training films), the
calibration temperature, the metadata standardisation (each table's own). The tree components
take the source's regressor as a prior feature instead (models/tree_prior.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

import reelcast.checkpoint as checkpoint
from reelcast.config import Config
from reelcast.models.fusion import FusionModel, ModelSpec


@dataclass
class SourceModel:
    """The parts of a saved model a warm start reads."""

    path: Path
    spec: ModelSpec
    state_dict: dict[str, torch.Tensor]
    feature_names: list[str]
    text_encoder: str | None


@dataclass
class WarmStart:
    """Which of the new network's tensors came from the source: wholly, in part, or not at all."""

    source: str
    copied: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)  # copied layers held fixed for train.freeze_epochs

    def to_dict(self) -> dict:
        """For the model's description and the run's files."""
        return asdict(self)


def load_source(path: str | Path) -> SourceModel:
    """The fusion network of a saved model (a split folder, its .pth, or a pretrained base)."""
    from reelcast.features.tabular import TabularEncoder

    state = checkpoint.read(path)
    where = checkpoint.checkpoint_path(path)
    nets = [c["state"] for c in state["ensemble"]["components"] if c["name"] == "fusion"]
    if not nets:
        raise ValueError(f"{where}: the model has no fusion network to start from")
    tab = (state.get("inputs") or {}).get("tabular")
    return SourceModel(
        path=where,
        spec=ModelSpec(**nets[0]["spec"]),
        state_dict=nets[0]["state_dict"],
        feature_names=TabularEncoder.from_dict(tab).feature_names if tab else [],
        text_encoder=(state.get("encoder_ids") or {}).get("text"),
    )


def check_source(source: SourceModel, cfg: Config) -> None:
    """Refuse a source whose plots were read by another text model: its text weights would mean nothing."""
    from reelcast.encoders.text import text_encoder_id

    if "text" not in source.spec.modalities or source.text_encoder is None:
        return
    ours = text_encoder_id(cfg.text)
    if source.text_encoder != ours:
        raise ValueError(
            f"{source.path}: the model to start from read plots with {source.text_encoder!r}, this run "
            f"reads them with {ours!r}; train with the same --text-model (and text settings) as the "
            "source, or drop --init"
        )


def _source_dims(spec: ModelSpec) -> dict[str, int]:
    dims = {
        "text": spec.text_dim,
        "video": spec.video_dim,
        "audio": spec.audio_dim,
        "tabular": spec.tabular_dim,
        "external": spec.external_dim,
    }
    return {m: dims[m] for m in spec.modalities}


def input_map(target: FusionModel, source: SourceModel, feature_names: list[str]) -> dict[str, np.ndarray]:
    """Per target modality: for each of its input positions, the source position (-1: none)."""
    src_dims = _source_dims(source.spec)
    out = {}
    for m, d in target.dims.items():
        idx = np.full(d, -1, dtype=np.int64)
        if m == "tabular" and m in src_dims:
            where = {n: i for i, n in enumerate(source.feature_names)}
            idx = np.array([where.get(n, -1) for n in feature_names], dtype=np.int64)
        elif m in ("text", "video", "audio") and src_dims.get(m) == d:
            idx = np.arange(d)
        out[m] = idx  # external vectors are the user's own per table: nothing says they line up
    return out


def _fused_map(target: FusionModel, source: SourceModel, per_mod: dict[str, np.ndarray]) -> np.ndarray:
    """The concat fusion's input positions in the source's concatenation (-1: none)."""
    offsets, at = {}, 0
    for m, d in _source_dims(source.spec).items():
        offsets[m] = at
        at += d
    parts = [np.where(idx >= 0, idx + offsets.get(m, 0), -1) for m, idx in per_mod.items()]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _gather(new: torch.Tensor, old: torch.Tensor, idx: np.ndarray, axis: int) -> tuple[torch.Tensor, int]:
    """new with the positions idx >= 0 along axis taken from old; and how many were taken."""
    keep = np.flatnonzero(idx >= 0)
    other = [s for a, s in enumerate(new.shape) if a != axis]
    if not keep.size or other != [s for a, s in enumerate(old.shape) if a != axis]:
        return new, 0
    out = new.clone()
    src = torch.as_tensor(idx[keep])
    dst = torch.as_tensor(keep)
    out.index_copy_(axis, dst, old.index_select(axis, src).to(out.dtype))
    return out, int(keep.size)


def _aux_map(target: FusionModel, source: SourceModel) -> np.ndarray:
    names = [n.lower() for n in source.spec.aux_targets]
    return np.array([names.index(n.lower()) if n.lower() in names else -1 for n in target.spec.aux_targets])


def warm_start(target: FusionModel, source: SourceModel, feature_names: list[str]) -> WarmStart:
    """Copy every tensor of `source` that has a counterpart in `target` (in place); what was copied."""
    per_mod = input_map(target, source, feature_names)
    mod_rows = np.array(
        [
            source.spec.modalities.index(m) if m in source.spec.modalities else -1
            for m in target.spec.modalities
        ]
    )
    # Tensors indexed by an input feature (axis), by modality (rows) or by aux target (rows).
    indexed: dict[str, tuple[np.ndarray, int]] = {}
    for m, idx in per_mod.items():
        indexed[f"heads.{m}.weight"] = indexed[f"heads.{m}.bias"] = (idx, 0)
        indexed[f"proj.{m}.weight"] = (idx, 1)
    if target.cfg.fusion == "concat":
        indexed["classifier.0.weight"] = (_fused_map(target, source, per_mod), 1)
    indexed["modality_embed"] = (mod_rows, 0)
    if target.aux_head is not None:
        aux = _aux_map(target, source)
        indexed["aux_head.weight"] = indexed["aux_head.bias"] = indexed["aux_log_var"] = (aux, 0)

    result = WarmStart(str(source.path))
    new_state = target.state_dict()
    last = f"classifier.{len(target.classifier) - 1}."
    for name, tensor in new_state.items():
        old = source.state_dict.get(name)
        if old is None:
            result.fresh.append(name)
            continue
        if name in indexed:
            idx, axis = indexed[name]
            if len(idx) != tensor.shape[axis]:
                result.fresh.append(name)
                continue
            new_state[name], taken = _gather(tensor, old, idx, axis)
            full = taken == tensor.shape[axis]
            (result.copied if full else result.partial if taken else result.fresh).append(name)
        elif old.shape == tensor.shape:
            new_state[name] = old.to(tensor.dtype).clone()
            result.copied.append(name)
        else:
            result.fresh.append(name)
    target.load_state_dict(new_state)
    # The class layer and the aux outputs keep learning: the target's classes and targets are its own.
    params = dict(target.named_parameters())
    result.frozen = [n for n in result.copied if n in params and not n.startswith((last, "aux_"))]
    return result


@contextlib.contextmanager
def frozen(model: nn.Module, names: list[str]) -> Iterator[None]:
    """Hold the named parameters fixed (no gradient) inside the block."""
    params = dict(model.named_parameters())
    held = [params[n] for n in names if n in params and params[n].requires_grad]
    for p in held:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in held:
            p.requires_grad_(True)

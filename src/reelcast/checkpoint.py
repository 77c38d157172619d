"""Saved models: a versioned checkpoint, the files beside it, and the digests that vouch for them.

A saved model is a folder:
    best_multimodal_model.pth   format 2: config, labels, fitted inputs, each component's own state, blend
    config.toml                 the resolved configuration, for people (loading reads the checkpoint's)
    model_digests.json          SHA-256 of the two files above, written last

`read` verifies the digests before it unpickles anything: a file changed since it was written (a
corrupted disk, an edited value) is refused, naming the file, unless `trust_modified=True`. Format 1
(written before components had their own state; no digest file) is read and turned into format 2.
"""

from __future__ import annotations

import json
import logging
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from reelcast import __version__
from reelcast.config import Config
from reelcast.files import atomic_write, atomic_write_json, sha256_file

log = logging.getLogger(__name__)

CHECKPOINT = "best_multimodal_model.pth"
CONFIG = "config.toml"
DIGESTS = "model_digests.json"
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)


class NotAReelcastModel(ValueError):
    """The file is not a checkpoint reelcast wrote (empty, truncated, random bytes, another program's)."""


class ModifiedModel(ValueError):
    """A file of a saved model differs from the digest recorded when it was written."""


def checkpoint_path(path: str | Path) -> Path:
    """The .pth of a saved model given its folder or the file itself."""
    path = Path(path)
    path = path / CHECKPOINT if path.is_dir() else path
    if not path.exists():
        raise FileNotFoundError(f"{path}: no {CHECKPOINT} here; pass a split folder of a training run")
    return path


def write(directory: str | Path, payload: dict[str, Any], config: Config) -> Path:
    """Write the checkpoint (payload plus version stamps), config.toml, then the digests of both."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {"format_version": FORMAT_VERSION, "reelcast_version": __version__, **payload}
    atomic_write(directory / CHECKPOINT, lambda p: torch.save(state, p))
    config.save(directory / CONFIG)
    digests = {name: sha256_file(directory / name) for name in (CHECKPOINT, CONFIG)}
    atomic_write_json(directory / DIGESTS, {"algorithm": "sha256", "files": digests})
    return directory / CHECKPOINT


def verify(path: Path, trust_modified: bool = False) -> bool:
    """Check every file model_digests.json lists; False when the model has no digest file."""
    listing = path.parent / DIGESTS
    if not listing.exists() or trust_modified:
        return listing.exists()
    fix = "retrain or restore it, or load with trust_modified=True (`--trust-modified`) if you changed it"
    try:
        files = dict(json.loads(listing.read_text(encoding="utf-8"))["files"])
    except (ValueError, KeyError, TypeError) as e:
        raise ModifiedModel(f"{listing}: unreadable digest list ({e}); {fix}") from None
    for name, digest in files.items():
        f = path.parent / Path(name).name  # only files beside the checkpoint
        if not f.exists():
            raise ModifiedModel(f"{f}: listed in {DIGESTS} but missing; {fix}")
        if sha256_file(f) != digest:
            raise ModifiedModel(f"{f}: changed since the model was saved (its SHA-256 differs); {fix}")
    return True


def read(path: str | Path, trust_modified: bool = False) -> dict[str, Any]:
    """The checkpoint's contents in format 2, after its digests check out."""
    path = checkpoint_path(path)
    digested = verify(path, trust_modified)
    state = _load(path)
    version = state.get("format_version")
    if version not in READABLE_FORMATS:
        raise ValueError(
            f"{path}: checkpoint format {version!r}; this reelcast ({__version__}) reads formats "
            f"{', '.join(map(str, READABLE_FORMATS))}: install the reelcast that wrote it "
            f"({state.get('reelcast_version', 'unknown')}) or retrain with this one"
        )
    if version == 1:
        log.info("%s: format 1, written before models carried digests; save it again to add them", path)
        return upgrade_format1(state)
    if not digested and not trust_modified:
        raise ModifiedModel(
            f"{path}: {DIGESTS} is missing beside it, so the model cannot be checked; restore the file, "
            "or load with trust_modified=True (`--trust-modified`)"
        )
    return state


def _load(path: Path) -> dict[str, Any]:
    not_ours = (
        f"{path}: not a reelcast model ({{why}}); pass the {CHECKPOINT} that `reelcast train` wrote "
        "in a split folder of its run"
    )
    if path.stat().st_size == 0:
        raise NotAReelcastModel(not_ours.format(why="the file is empty"))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, RuntimeError, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise NotAReelcastModel(not_ours.format(why=f"torch cannot read it: {first[:200]}")) from None
    if not isinstance(state, dict) or "format_version" not in state:
        raise NotAReelcastModel(not_ours.format(why="a torch file without a reelcast format version"))
    return state


def upgrade_format1(state: dict[str, Any]) -> dict[str, Any]:
    """A format-1 checkpoint (one flat dict of every fitted attribute) in the format-2 layout."""
    thresholds = [float(t) for t in state["thresholds"]]
    network = {
        "spec": state["spec"],
        "model_config": state["config"]["model"],
        "state_dict": state["state_dict"],
        "temperature": state["temperature"],
        "log_revenue_scale": list(state.get("log_revenue_scale") or (0.0, 1.0)),
        "regression_sigma": state.get("regression_sigma", 1.0),
        "thresholds": thresholds,
    }
    components = [{"name": "fusion", "state": network}]
    ens = state.get("ensemble")
    if ens:
        features = {k: ens.get(k) for k in ("feature_names", "text_stack", "external_dim")}
        if ens.get("classifier"):
            components.append(
                {"name": "gbm_classifier", "state": {"features": features, "model": ens["classifier"]}}
            )
        if ens.get("regressor"):
            tree = {"features": features, "model": ens["regressor"], "thresholds": thresholds}
            components.append({"name": "gbm_regressor", "state": tree})
    return {
        "format_version": FORMAT_VERSION,
        "upgraded_from": 1,
        "reelcast_version": state.get("reelcast_version"),
        "config": state["config"],
        "thresholds": thresholds,
        "class_names": state.get("class_names"),
        "inputs": {
            "tabular": state.get("tabular"),
            "external": state.get("external"),
            "leaky_columns": list(state.get("leaky_columns") or []),
        },
        "encoder_ids": dict(state.get("encoder_ids") or {}),
        "ensemble": {"components": components, "blend": ens.get("blend") if ens else None},
        "metrics": state.get("metrics") or {},
    }


def encoder_precisions(cfg: Config, device: str | torch.device) -> dict[str, str]:
    """The precision each encoder computes in on `device` (`auto` resolved), saved with a model: the
    encoders' own rules, so a fine-tuned text encoder (always fp32) is recorded as it ran."""
    from reelcast.encoders.common import use_bf16
    from reelcast.encoders.text import text_bf16

    dev = torch.device(device)
    bf16 = {"text": text_bf16(cfg.text, dev), "video": use_bf16(dev, cfg.video.precision)}
    return {key: "bf16" if on else "fp32" for key, on in bf16.items()}


def trained_config(state: dict[str, Any]) -> Config:
    """The saved config, with an `auto` text or video precision pinned to the one the model was trained
    with, so that a model reads plots and frames as it learned them on any machine.

    The precisions are saved with the model; a model saved before that names its text precision in its
    text encoder id (`+bf16`), and leaves a video `auto` to the machine, as it was then.
    """
    cfg = Config.from_dict(state["config"])
    saved = dict(state.get("precisions") or {})
    text_id = (state.get("encoder_ids") or {}).get("text")
    if "text" not in saved and text_id:
        saved["text"] = "bf16" if text_id.endswith("+bf16") else "fp32"
    for key, section in (("text", cfg.text), ("video", cfg.video)):
        if section.precision == "auto" and key in saved:
            section.precision = saved[key]
    return cfg


def refuse_stale_encoding(state: dict[str, Any], path: str | Path) -> None:
    """Refuse a model whose metadata encoder read a missing column as "none" (no neutral values): its
    predictions for films lacking inputs would be wrong, and its feature layout is not today's."""
    tabular = (state.get("inputs") or {}).get("tabular")
    if tabular is None or "neutral" in tabular:
        return
    version = state.get("upgraded_from") or state.get("format_version")
    raise ValueError(
        f"{path}: checkpoint format {version} (reelcast {state.get('reelcast_version') or 'unknown'}) "
        "encodes a missing metadata column as 'no keywords / no companies', which this reelcast no "
        "longer reads; retrain it: reelcast train --data <your film table> --out <run folder>"
    )

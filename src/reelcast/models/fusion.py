"""The trainable fusion network: per-modality heads, masking, concat or attention fusion, 8 logits.

Inputs arrive as a dict of tensors with the same first (film) dimension:
    text     (B, Dt)        frozen text vector            or text_ids/text_attn (B, L) when fine-tuning
    video    (B, T, Dv)     frozen per-frame features     -> temporal module -> (B, Dv)
    audio    (B, C, L)      cached log-mel or waveform    -> 1-D CNN -> (B, audio.dim)
    tabular  (B, Dtab)      standardised metadata
    external (B, Dext)      bring-your-own per-film vectors, standardised (data.external)
    mask     (B, M) bool    which modalities each film has, in `spec.modalities` order
A masked modality's vector is replaced by zeros after its head, so absent trailers or plots never
reach the classifier as fake data, and the per-modality contribution is measurable by masking.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from reelcast.config import ModelConfig
from reelcast.data.classes import NUM_CLASSES
from reelcast.training.objectives import (
    AUX_WEIGHTINGS,
    OBJECTIVES,
    aux_loss,
    class_logits,
    corn_loss,
    modality_dropout,
)

MODALITIES = ("text", "video", "audio", "tabular", "external")
# The objectives live with the training loop; importing them from here keeps working.
__all__ = [
    "MODALITIES",
    "OBJECTIVES",
    "FusionModel",
    "ModelSpec",
    "TemporalConv",
    "TemporalRNN",
    "class_logits",
    "corn_loss",
    "mlp",
    "modality_dropout",
    "temporal_module",
]


@dataclass
class ModelSpec:
    """Input shapes, all read from the encoders and data; saved in the checkpoint to rebuild the model."""

    modalities: list[str] = field(default_factory=list)
    text_dim: int = 0
    video_dim: int = 0
    video_frames: int = 0
    audio_channels: int = 0
    audio_length: int = 0
    audio_dim: int = 1024
    # (filters, kernel, stride) in samples of the learnable filterbank for the waveform front end.
    audio_filterbank: list[int] | None = None
    tabular_dim: int = 0
    external_dim: int = 0
    temporal: str = "conv"
    # classify: 8 softmax logits | multitask: + a log-revenue regression output | corn: 7 ordinal logits
    objective: str = "classify"
    text_backbone: str | None = None  # set when the text model is fine-tuned end to end
    text_pooling: str = "cls"
    # Post-release columns the network also regresses (standardised), from the classifier's last hidden
    # layer, so they shape the layers the class logits read.
    aux_targets: list[str] = field(default_factory=list)
    aux_weighting: str = "fixed"
    aux_weight: float = 0.3

    def to_dict(self) -> dict:
        """Plain dict for the checkpoint."""
        return asdict(self)


class TemporalConv(nn.Module):
    """Depthwise-separable temporal convolutions over frame features, mean+max pooled back to D.

    A full D x D convolution over 2048-d frames would cost ~12.6 M weights per layer and dominate CPU
    training; the depthwise layer follows each feature through time and a bottleneck mixes channels.
    """

    def __init__(self, dim: int, hidden: int = 512, kernel: int = 3, dropout: float = 0.1):
        super().__init__()
        self.depthwise = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.pointwise = nn.Conv1d(dim, hidden, 1)
        self.temporal = nn.Conv1d(hidden, hidden, kernel, padding=kernel // 2)
        self.act = nn.GELU()
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, D)."""
        h = x.transpose(1, 2)  # (B, D, T)
        h = self.act(self.depthwise(h)) + h
        h = self.act(self.pointwise(h))
        h = self.act(self.temporal(h)) + h
        pooled = torch.cat([h.mean(-1), h.amax(-1)], dim=1)
        return self.out(self.drop(pooled))


class TemporalRNN(nn.Module):
    """Bidirectional GRU or LSTM over frame features; both final states projected back to D."""

    def __init__(self, dim: int, kind: str, hidden: int = 512):
        super().__init__()
        rnn = {"gru": nn.GRU, "lstm": nn.LSTM}[kind]
        self.rnn = rnn(dim, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, D)."""
        _, state = self.rnn(x)
        h = state[0] if isinstance(state, tuple) else state  # LSTM returns (h, c)
        return self.out(torch.cat([h[-2], h[-1]], dim=1))


def temporal_module(dim: int, kind: str) -> nn.Module:
    """The video temporal module by name: conv (default), gru or lstm."""
    if kind == "conv":
        return TemporalConv(dim)
    if kind in ("gru", "lstm"):
        return TemporalRNN(dim, kind)
    raise ValueError(f"--temporal must be conv, gru or lstm, got {kind!r}")


def mlp(sizes: list[int], dropout: float) -> nn.Sequential:
    """Linear -> ReLU -> Dropout for each hidden size, then a final Linear to the last size."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout)]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


class FusionModel(nn.Module):
    """Per-modality heads + concat (or attention) fusion + MLP to the eight class logits."""

    def __init__(self, spec: ModelSpec, cfg: ModelConfig, num_classes: int = NUM_CLASSES):
        super().__init__()
        if not spec.modalities:
            raise ValueError("the model needs at least one modality")
        self.spec, self.cfg = spec, cfg
        heads: dict[str, nn.Module] = {}
        dims: dict[str, int] = {}
        for m in spec.modalities:
            if m == "text":
                if spec.text_backbone:
                    from reelcast.encoders.text import load_text_backbone

                    self.text_backbone, _ = load_text_backbone(spec.text_backbone)
                heads[m], dims[m] = nn.LayerNorm(spec.text_dim), spec.text_dim
            elif m == "video":
                heads[m], dims[m] = temporal_module(spec.video_dim, spec.temporal), spec.video_dim
            elif m == "audio":
                from reelcast.encoders.audio import AudioCNN

                heads[m], dims[m] = (
                    AudioCNN(
                        spec.audio_channels,
                        spec.audio_dim,
                        filterbank=tuple(spec.audio_filterbank) if spec.audio_filterbank else None,
                    ),
                    spec.audio_dim,
                )
            elif m == "tabular":
                heads[m], dims[m] = nn.LayerNorm(spec.tabular_dim), spec.tabular_dim
            elif m == "external":
                heads[m], dims[m] = nn.LayerNorm(spec.external_dim), spec.external_dim
            else:
                raise ValueError(f"unknown modality {m!r}; known: {', '.join(MODALITIES)}")
        self.heads = nn.ModuleDict(heads)
        self.dims = dims
        if spec.objective not in OBJECTIVES:
            raise ValueError(
                f"model.objective must be one of {', '.join(OBJECTIVES)}, got {spec.objective!r}"
            )
        self.num_classes = num_classes
        num_out = {"classify": num_classes, "multitask": num_classes + 1, "corn": num_classes - 1}
        num_classes = num_out[spec.objective]  # width of the raw output layer
        if cfg.fusion == "concat":
            self.fused_dim = sum(dims.values())
            self.classifier = mlp([self.fused_dim, *cfg.hidden, num_classes], cfg.dropout)
        elif cfg.fusion == "attention":
            a = cfg.attention_dim
            self.proj = nn.ModuleDict({m: nn.Linear(d, a) for m, d in dims.items()})
            self.modality_embed = nn.Parameter(torch.zeros(len(dims), a))
            self.fuse_token = nn.Parameter(torch.zeros(1, 1, a))
            nn.init.normal_(self.modality_embed, std=0.02)
            nn.init.normal_(self.fuse_token, std=0.02)
            self.attn = nn.TransformerEncoderLayer(
                a, cfg.attention_heads, dim_feedforward=2 * a, dropout=cfg.dropout, batch_first=True
            )
            self.fused_dim = a
            self.classifier = mlp([a, *cfg.hidden[1:], num_classes], cfg.dropout)
        else:
            raise ValueError(f"--fusion must be concat or attention, got {cfg.fusion!r}")
        self.aux_head = None
        if spec.aux_targets:
            if spec.aux_weighting not in AUX_WEIGHTINGS:
                raise ValueError(
                    f"model.aux_weighting must be one of {', '.join(AUX_WEIGHTINGS)}, "
                    f"got {spec.aux_weighting!r}"
                )
            self.aux_head = nn.Linear(self.classifier[-1].in_features, len(spec.aux_targets))
            if spec.aux_weighting == "uncertainty":
                self.aux_log_var = nn.Parameter(torch.zeros(len(spec.aux_targets)))

    def modality_vectors(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """Each modality's head output (B, d_m), zeroed where the modality is masked."""
        mask = batch["mask"]
        out = []
        for i, m in enumerate(self.spec.modalities):
            if not self.training and not bool(mask[:, i].any()):
                # No film in the batch has it (a request without a trailer): its vector is zeros either
                # way, so the branch's work (the audio CNN, the temporal model) is skipped.
                dtype = next(self.heads[m].parameters()).dtype
                out.append(torch.zeros(len(mask), self.dims[m], dtype=dtype, device=mask.device))
                continue
            if m == "text" and self.spec.text_backbone:
                from reelcast.encoders.text import pool

                hidden = self.text_backbone(
                    input_ids=batch["text_ids"], attention_mask=batch["text_attn"]
                ).last_hidden_state
                x = pool(hidden, batch["text_attn"], self.spec.text_pooling)
            else:
                x = batch[m]
            v = self.heads[m](x)
            out.append(v * mask[:, i : i + 1].to(v.dtype))
        return out

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Class logits (B, num_classes): softmax of them is the class distribution, for every objective."""
        return class_logits(self.forward_raw(batch), self.spec.objective, self.num_classes)

    def forward_raw(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The output layer as trained: 8 logits, 8 logits + regression, or 7 CORN logits."""
        return self.classifier(self.fused(batch))

    def forward_with_aux(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The output layer (as forward_raw) and the standardised aux outputs (B, len(aux_targets))."""
        if self.aux_head is None:
            raise ValueError("this network has no aux outputs (model.aux_targets is empty)")
        hidden = self.classifier[:-1](self.fused(batch))
        return self.classifier[-1](hidden), self.aux_head(hidden)

    def aux_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The aux outputs' loss under the spec's weighting (see objectives.aux_loss)."""
        return aux_loss(pred, target, self.spec.aux_weight, getattr(self, "aux_log_var", None))

    def fused(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The fused film vector the classifier reads (B, fused_dim)."""
        vecs = self.modality_vectors(batch)
        if self.cfg.fusion == "concat":
            return torch.cat(vecs, dim=1)
        mask = batch["mask"]
        tokens = (
            torch.stack([self.proj[m](v) for m, v in zip(self.spec.modalities, vecs, strict=True)], dim=1)
            + self.modality_embed
        )
        tokens = torch.cat([self.fuse_token.expand(len(tokens), -1, -1), tokens], dim=1)
        pad = torch.cat([torch.zeros_like(mask[:, :1]), ~mask], dim=1)  # True = ignore
        return self.attn(tokens, src_key_padding_mask=pad)[:, 0]

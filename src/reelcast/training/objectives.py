"""What the fusion network is trained to output: class logits per objective, the CORN loss, and
modality dropout (hiding present modalities so the network learns to predict without them)."""

from __future__ import annotations

import torch
from torch import nn

from reelcast.data.classes import NUM_CLASSES

OBJECTIVES = ("classify", "multitask", "corn")


def class_logits(raw: torch.Tensor, objective: str, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """Raw outputs -> class logits (log-probabilities for CORN, whose softmax is its distribution)."""
    if objective == "classify":
        return raw
    if objective == "multitask":
        return raw[:, :num_classes]
    # CORN (Shi, Cao & Raschka 2021): logit k models P(y > k | y > k-1); chained, they give P(y > k).
    log_gt = torch.cumsum(nn.functional.logsigmoid(raw), dim=1)  # log P(y > k), k = 0..K-2
    zeros = torch.zeros_like(raw[:, :1])
    log_ge = torch.cat([zeros, log_gt], dim=1)  # log P(y >= k), k = 0..K-1
    # P(y = k) = P(y >= k) * (1 - P(y > k | y >= k)); the last class has no task after it.
    cond_le = torch.cat([nn.functional.logsigmoid(-raw), zeros], dim=1)
    return log_ge + cond_le


def corn_loss(raw: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """CORN: binary cross-entropy of task k on the films with y >= k (conditional training sets)."""
    k = torch.arange(raw.shape[1], device=raw.device)
    eligible = target[:, None] >= k[None, :]
    label = (target[:, None] > k[None, :]).to(raw.dtype)
    bce = nn.functional.binary_cross_entropy_with_logits(raw, label, reduction="none")
    w = eligible.to(raw.dtype)
    if weights is not None:
        w = w * weights[target][:, None]
    return (bce * w).sum() / w.sum().clamp_min(1e-6)


def modality_dropout(mask: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Hide each present modality with probability p, never all of a film's modalities at once."""
    if p <= 0 or mask.shape[1] < 2:
        return mask
    drop = torch.rand(mask.shape, generator=generator, device=mask.device) < p
    new = mask & ~drop
    empty = ~new.any(dim=1)
    new[empty] = mask[empty]
    return new

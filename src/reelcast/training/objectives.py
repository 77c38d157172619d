"""What the fusion network is trained to output: class logits per objective, the CORN loss, and
modality dropout (hiding present modalities so the network learns to predict without them)."""

from __future__ import annotations

import torch
from torch import nn

from reelcast.data.classes import NUM_CLASSES

OBJECTIVES = ("classify", "multitask", "corn")
AUX_WEIGHTINGS = ("fixed", "uncertainty")


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


def aux_loss(
    pred: torch.Tensor, target: torch.Tensor, weight: float, log_var: torch.Tensor | None = None
) -> torch.Tensor:
    """Squared error of each aux output over the films that know it (NaN: unknown), summed over outputs.

    Fixed weighting: `weight` times each output's mean squared error. Uncertainty weighting (Kendall,
    Gal & Cipolla 2018): exp(-s_k) L_k / 2 + s_k / 2 with learned log variances s_k, so a noisy target
    weighs itself down instead of needing a hand-set weight.
    """
    known = torch.isfinite(target)
    err = torch.where(known, pred - torch.nan_to_num(target), torch.zeros_like(pred)) ** 2
    count = known.sum(0)
    per = err.sum(0) / count.clamp_min(1)
    present = count > 0
    if log_var is None:
        return weight * per[present].sum()
    return (0.5 * torch.exp(-log_var) * per + 0.5 * log_var)[present].sum()


def modality_dropout(mask: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Hide each present modality with probability p, never all of a film's modalities at once."""
    if p <= 0 or mask.shape[1] < 2:
        return mask
    drop = torch.rand(mask.shape, generator=generator, device=mask.device) < p
    new = mask & ~drop
    empty = ~new.any(dim=1)
    new[empty] = mask[empty]
    return new

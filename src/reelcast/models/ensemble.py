"""Blend component probabilities with weights chosen on the validation films only.

Every component (the fusion network, the tree classifier, the tree regressor) gives (N, 8) class
probabilities. The blend is a weighted mean whose weights, on a simplex grid, minimise the validation
films' log-loss (a proper score: it rewards calibrated probabilities rather than lucky argmaxes). The
decision rule that turns probabilities into one class is chosen on the same films: `argmax` (the most
probable class, best for exact accuracy) or `median` (the class where the cumulative probability passes
one half, best for ordinal errors), by exact accuracy plus quadratic weighted kappa.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

import numpy as np

from reelcast.evaluation.metrics import accuracy, qwk

log = logging.getLogger(__name__)

DECISIONS = ("argmax", "median")


def decide(probs: np.ndarray, rule: str) -> np.ndarray:
    """One class per row from (N, 8) probabilities under a decision rule."""
    if rule == "argmax":
        return probs.argmax(1)
    if rule == "median":
        return np.minimum((np.cumsum(probs, 1) < 0.5).sum(1), probs.shape[1] - 1)
    raise ValueError(f"ensemble decision must be one of {', '.join(DECISIONS)} or auto, got {rule!r}")


def _log_loss(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None))))


def simplex_grid(k: int, step: float) -> np.ndarray:
    """All weight vectors of k non-negative multiples of `step` summing to 1."""
    n = round(1 / step)
    rows = [c for c in itertools.product(range(n + 1), repeat=k) if sum(c) == n]
    return np.asarray(rows, dtype=np.float64) / n


@dataclass
class Blend:
    """Fixed weights per component and a decision rule."""

    components: list[str]
    weights: list[float]
    decision: str = "argmax"
    val_scores: dict = field(default_factory=dict)

    def combine(self, probs: dict[str, np.ndarray]) -> np.ndarray:
        """Weighted mean of the components' probabilities."""
        out = sum(w * probs[c] for c, w in zip(self.components, self.weights, strict=True) if w > 0)
        return out / out.sum(1, keepdims=True)

    def predict(self, probs: dict[str, np.ndarray]) -> np.ndarray:
        """Blended probabilities -> classes."""
        return decide(self.combine(probs), self.decision)

    def to_dict(self) -> dict:
        """For the checkpoint."""
        return {
            "components": self.components,
            "weights": self.weights,
            "decision": self.decision,
            "val_scores": self.val_scores,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Blend:
        """Rebuild from a checkpoint."""
        return cls(
            list(d["components"]), [float(w) for w in d["weights"]], d["decision"], d.get("val_scores", {})
        )


def fit_blend(val_probs: dict[str, np.ndarray], y_val: np.ndarray, step: float, decision: str) -> Blend:
    """Weights minimising validation log-loss, then the decision rule (or the one asked for)."""
    names = list(val_probs)
    stack = np.stack([val_probs[n] for n in names])  # (K, N, 8)
    best_w, best_loss = None, np.inf
    for w in simplex_grid(len(names), step):
        loss = _log_loss(np.tensordot(w, stack, axes=1), y_val)
        if loss < best_loss - 1e-12:
            best_w, best_loss = w, loss
    blend = Blend(names, [float(x) for x in best_w])
    p = blend.combine(val_probs)
    scores = {}
    for rule in DECISIONS:
        pred = decide(p, rule)
        scores[rule] = {"accuracy": accuracy(y_val, pred), "qwk": qwk(y_val, pred)}
    if decision == "auto":
        blend.decision = max(DECISIONS, key=lambda r: scores[r]["accuracy"] + scores[r]["qwk"])
    else:
        decide(p[:1], decision)  # validates the name
        blend.decision = decision
    single = {n: _log_loss(val_probs[n], y_val) for n in names}
    blend.val_scores = {"log_loss": best_loss, "component_log_loss": single, "decision": scores}
    log.info(
        "ensemble weights on %d validation films: %s; decision %s",
        len(y_val),
        ", ".join(f"{n} {w:.2f}" for n, w in zip(names, blend.weights, strict=True)),
        blend.decision,
    )
    return blend

"""The trees and the blend that sit beside the fusion network in a saved model.

`TreeEnsemble.fit` takes what the predictor already has for one split (tabular features, frozen text
vectors, the fusion network's validation probabilities) and adds the tree components and the blend;
`TreeEnsemble.probs` gives every component's (N, 8) probabilities for any films, honouring the
per-film modality masks: a film whose metadata (or plot) is missing or masked gives the trees NaN
there, which LightGBM routes down its learned missing-value branch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from reelcast.config import EnsembleConfig
from reelcast.models.ensemble import Blend, fit_blend
from reelcast.models.stacking import TextStack
from reelcast.models.trees import GBMClassifier, GBMRegressor

log = logging.getLogger(__name__)

TREE_COMPONENTS = ("gbm_classifier", "gbm_regressor")


def _column(arrays: dict[str, np.ndarray], mask: np.ndarray, modalities: list[str], name: str):
    # A fine-tuned text model arrives as token ids, not vectors: nothing to stack then.
    if name not in modalities or name not in arrays:
        return None, None
    return np.asarray(arrays[name], dtype=np.float64), mask[:, modalities.index(name)]


@dataclass
class TreeEnsemble:
    """Tree components, the optional stacked text feature, and the blend over all components."""

    thresholds: list[float]
    feature_names: list[str] = field(default_factory=list)
    classifier: GBMClassifier | None = None
    regressor: GBMRegressor | None = None
    text_stack: TextStack | None = None
    blend: Blend | None = None
    external_dim: int = 0  # width of the bring-your-own feature vectors the trees read (0: none)

    # ---- features -------------------------------------------------------------------------------------
    def features(self, arrays: dict[str, np.ndarray], mask: np.ndarray, modalities: list[str]) -> np.ndarray:
        """(N, F) tree features: metadata, the stacked text prediction, external vectors; NaN where masked."""
        tab, tab_on = _column(arrays, mask, modalities, "tabular")
        if tab is None:
            raise ValueError("the tree components need the films' metadata (the tabular modality)")
        X = np.where(tab_on[:, None], tab, np.nan)
        if self.text_stack is not None:
            text, text_on = _column(arrays, mask, modalities, "text")
            t = np.full(len(X), np.nan)
            if text is not None and text_on.any():
                t[text_on] = self.text_stack.predict(text[text_on])
            X = np.concatenate([X, t[:, None]], axis=1)
        if self.external_dim:
            ext, ext_on = _column(arrays, mask, modalities, "external")
            if ext is None:
                raise ValueError("these trees were fit with external features; pass the features file")
            X = np.concatenate([X, np.where(ext_on[:, None], ext, np.nan)], axis=1)
        return X

    # ---- fit --------------------------------------------------------------------------------------------
    def fit(
        self,
        arrays: dict[str, np.ndarray],
        mask: np.ndarray,
        modalities: list[str],
        feature_names: list[str],
        revenue_musd: np.ndarray,
        y: np.ndarray,
        train: np.ndarray,
        val: np.ndarray,
        network_probs: dict[str, np.ndarray] | None,
        cfg: EnsembleConfig,
        seed: int,
    ) -> TreeEnsemble:
        """Fit trees on the training films, then blend weights and decision rule on the validation films."""
        log_rev = np.log1p(np.asarray(revenue_musd, dtype=np.float64))
        self.feature_names = list(feature_names)
        oof_text = None
        text, text_on = _column(arrays, mask, modalities, "text")
        if cfg.text_stack and text is not None and text_on[train].sum() >= 10:
            self.text_stack = TextStack(alpha=cfg.text_stack_alpha)
            rows = train[text_on[train]]
            oof_text = (rows, self.text_stack.fit_oof(text[rows], log_rev[rows], seed))
            self.feature_names.append("text:ridge_log_revenue")
        text_col = len(self.feature_names) - 1
        if "external" in modalities:
            self.external_dim = int(arrays["external"].shape[1])
            self.feature_names += [f"external:{i}" for i in range(self.external_dim)]
        X = self.features(arrays, mask, modalities)
        if oof_text is not None:  # training films see only out-of-fold text predictions
            rows, values = oof_text
            X[rows, text_col] = values
        want = [c for c in cfg.components if c in TREE_COMPONENTS]
        if "gbm_classifier" in want:
            self.classifier = GBMClassifier().fit(X[train], y[train], X[val], y[val], cfg, seed)
        if "gbm_regressor" in want:
            self.regressor = GBMRegressor().fit(X[train], log_rev[train], X[val], log_rev[val], cfg, seed)
        val_probs = self._component_probs(X[val])
        if network_probs and "fusion" in cfg.components:
            val_probs = {**{k: v[val] for k, v in network_probs.items()}, **val_probs}
        if len(val):
            self.blend = fit_blend(val_probs, y[val], cfg.weight_step, cfg.decision)
        else:  # nothing to choose on: equal weights, most probable class
            names = list(val_probs)
            self.blend = Blend(
                names, [1.0 / len(names)] * len(names), "argmax" if cfg.decision == "auto" else cfg.decision
            )
        return self

    # ---- predict ----------------------------------------------------------------------------------------
    def _component_probs(self, X: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        if self.classifier is not None:
            out["gbm_classifier"] = self.classifier.predict_proba(X)
        if self.regressor is not None:
            out["gbm_regressor"] = self.regressor.predict_proba(X, np.asarray(self.thresholds))
        return out

    def probs(
        self,
        arrays: dict[str, np.ndarray],
        mask: np.ndarray,
        modalities: list[str],
        network_probs: dict[str, np.ndarray] | None,
    ) -> dict[str, np.ndarray]:
        """Every component's (N, 8) probabilities for these films (the network's given by the caller)."""
        out = self._component_probs(self.features(arrays, mask, modalities))
        return {**(network_probs or {}), **out}

    def predicted_log_revenue(self, arrays, mask, modalities) -> np.ndarray | None:
        """The regressor's point prediction, log(1 + $M), or None without a regressor."""
        if self.regressor is None:
            return None
        return self.regressor.predict_log_revenue(self.features(arrays, mask, modalities))

    # ---- persistence ------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain strings, numbers and lists: safe for torch.load(weights_only=True)."""
        return {
            "thresholds": [float(t) for t in self.thresholds],
            "feature_names": self.feature_names,
            "classifier": self.classifier.to_dict() if self.classifier else None,
            "regressor": self.regressor.to_dict() if self.regressor else None,
            "text_stack": self.text_stack.to_dict() if self.text_stack else None,
            "blend": self.blend.to_dict() if self.blend else None,
            "external_dim": self.external_dim,
        }

    @classmethod
    def from_dict(cls, d: dict) -> TreeEnsemble:
        """Rebuild from a checkpoint."""
        return cls(
            thresholds=list(d["thresholds"]),
            feature_names=list(d["feature_names"]),
            classifier=GBMClassifier.from_dict(d["classifier"]) if d["classifier"] else None,
            regressor=GBMRegressor.from_dict(d["regressor"]) if d["regressor"] else None,
            text_stack=TextStack.from_dict(d["text_stack"]) if d["text_stack"] else None,
            blend=Blend.from_dict(d["blend"]) if d["blend"] else None,
            external_dim=int(d.get("external_dim", 0)),
        )

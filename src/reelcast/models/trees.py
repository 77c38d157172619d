"""Gradient-boosted trees over the pre-release metadata (and stacked text), as model components.

Two LightGBM components (models.gbm) sit beside the fusion network in a saved model:

- `gbm_classifier`: 8-class trees, class-balanced, early-stopped on the validation films.
- `gbm_regressor`: trees on log(1 + revenue in $M), as class probabilities under a normal error model.

Both read the same `TreeFeatures`: metadata, the stacked text prediction and external vectors, NaN where
a film's modality is missing or masked, which LightGBM routes down its learned missing-value branch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from reelcast.models.base import Component, FitData
from reelcast.models.gbm import GBMClassifier, GBMRegressor
from reelcast.models.group_dropout import training_rows
from reelcast.models.registry import register_component
from reelcast.models.stacking import TextStack
from reelcast.models.tree_prior import (
    PRIOR_FEATURE,
    TreePrior,
    load_tree_prior,
    rows_from_json,
    rows_to_json,
    sample_rows,
)
from reelcast.progress import Progress

if TYPE_CHECKING:
    from reelcast.features.featurize import FilmInputs

log = logging.getLogger(__name__)


# ---- the features both tree components read -------------------------------------------------------------
def _column(inputs: FilmInputs, name: str):
    # A fine-tuned text model arrives as token ids, not vectors: nothing to stack then.
    if name not in inputs.modalities or name not in inputs.arrays:
        return None, None
    return np.asarray(inputs.arrays[name], dtype=np.float64), inputs.mask[:, inputs.modalities.index(name)]


@dataclass
class TreeFeatures:
    """(N, F) tree features: metadata, the stacked text prediction, external vectors; NaN where masked."""

    feature_names: list[str] = field(default_factory=list)
    text_stack: TextStack | None = None
    external_dim: int = 0  # width of the bring-your-own feature vectors the trees read (0: none)
    # Per `known:<input>` column of the metadata, the metadata columns that read that input: the trees
    # get NaN there when the input is unknown (the encoder's `encode` view), never the network's filler.
    blanks: dict[int, list[int]] = field(default_factory=dict)
    prior: TreePrior | None = None  # with --init: the source table's regressor, one more feature
    # Training films' rows: what a later --init from this model averages over for the columns it lacks.
    background: np.ndarray | None = None

    def transform(self, inputs: FilmInputs) -> np.ndarray:
        """The features of these films."""
        tab, tab_on = _column(inputs, "tabular")
        if tab is None:
            raise ValueError("the tree components need the films' metadata (the tabular modality)")
        X = np.where(tab_on[:, None], tab, np.nan)
        if self.blanks:  # one boolean product for every input at once (a known column reads no input)
            known, reads = self._blank_reads(X.shape[1])
            X[(X[:, known] == 0) @ reads] = np.nan
        text, text_on = _column(inputs, "text")
        if self.text_stack is not None:
            t = np.full(len(X), np.nan)
            if text is not None and text_on.any():
                t[text_on] = self.text_stack.predict(text[text_on])
            X = np.concatenate([X, t[:, None]], axis=1)
        if self.external_dim:
            ext, ext_on = _column(inputs, "external")
            if ext is None:
                raise ValueError("these trees were fit with external features; pass the features file")
            X = np.concatenate([X, np.where(ext_on[:, None], ext, np.nan)], axis=1)
        if self.prior is not None:
            plot = None if text is None else np.where(text_on[:, None], text, np.nan)
            X = np.concatenate([X, self.prior.predict(X[:, : tab.shape[1]], plot)[:, None]], axis=1)
        return X

    def _blank_reads(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        # (known columns, (K, width) bool: which columns read each one's input), built once per model.
        if "_reads" not in self.__dict__:
            known = np.fromiter(self.blanks, dtype=np.int64, count=len(self.blanks))
            reads = np.zeros((len(known), width), dtype=bool)
            for r, cols in enumerate(self.blanks.values()):
                reads[r, cols] = True
            self.__dict__["_reads"] = (known, reads)
        return self.__dict__["_reads"]

    @classmethod
    def for_fit(cls, data: FitData) -> tuple[TreeFeatures, np.ndarray]:
        """The features and every film's (N, F) matrix for one split, built once per split and shared."""
        if "tree_features" not in data.shared:
            data.shared["tree_features"] = cls._fit(data)
        return data.shared["tree_features"]

    @classmethod
    def _fit(cls, data: FitData) -> tuple[TreeFeatures, np.ndarray]:
        cfg, train, inputs = data.config.ensemble, data.split.train, data.inputs
        log_rev = np.log1p(np.asarray(data.revenue_musd, dtype=np.float64))
        self = cls(list(data.feature_names))
        enc = data.tabular
        if enc is not None:
            cols = enc.column_inputs
            self.blanks = {
                k: [j for j, r in enumerate(cols) if i in r] for i, k in enc.known_columns().items()
            }
        oof_text = None
        text, text_on = _column(inputs, "text")
        if cfg.text_stack and text is not None and text_on[train].sum() >= 10:
            self.text_stack = TextStack(alpha=cfg.text_stack_alpha)
            rows = train[text_on[train]]
            with Progress(len(rows), "text stack (out-of-fold ridge)", "film", data.progress) as bar:
                oof_text = (rows, self.text_stack.fit_oof(text[rows], log_rev[rows], data.seed))
                bar.update(len(rows))
            self.feature_names.append("text:ridge_log_revenue")
        text_col = len(self.feature_names) - 1
        if "external" in inputs.modalities:
            self.external_dim = int(inputs.arrays["external"].shape[1])
            self.feature_names += [f"external:{i}" for i in range(self.external_dim)]
        if data.config.train.init:
            self.prior = _source_prior(data)
            if self.prior is not None:
                self.feature_names.append(PRIOR_FEATURE)
        X = self.transform(inputs)
        if oof_text is not None:  # training films see only out-of-fold text predictions
            rows, values = oof_text
            X[rows, text_col] = values
        self.background = sample_rows(X, train, data.seed)
        # Training films lacking some optional inputs, as new films often do (replaced in X, or copies
        # appended); the validation films that stop the boosting stay as they are.
        X_fit, film = training_rows(enc, X[train], data.config.tabular, np.random.default_rng(data.seed))
        X[train] = X_fit[: len(train)]
        data.shared["tree_rows"] = (X_fit, train[film])
        return self, X

    def to_dict(self) -> dict:
        """For the checkpoint."""
        return {
            "feature_names": self.feature_names,
            "text_stack": self.text_stack.to_dict() if self.text_stack else None,
            "external_dim": self.external_dim,
            "blanks": [[k, cols] for k, cols in self.blanks.items()],
            "prior": self.prior.to_dict() if self.prior else None,
            "background": rows_to_json(self.background),
        }

    @classmethod
    def from_dict(cls, d: dict) -> TreeFeatures:
        """Rebuild from a checkpoint."""
        stack = TextStack.from_dict(d["text_stack"]) if d.get("text_stack") else None
        blanks = {int(k): [int(j) for j in cols] for k, cols in d.get("blanks") or []}
        prior = TreePrior.from_dict(d["prior"]) if d.get("prior") else None
        rows = rows_from_json(d.get("background"))
        return cls(list(d["feature_names"]), stack, int(d.get("external_dim", 0)), blanks, prior, rows)


def _source_prior(data: FitData) -> TreePrior | None:
    """The --init model's regressor as a prior (None, logged, when that model has no trees)."""
    from reelcast.encoders.text import text_encoder_id

    tab = data.tabular.to_dict() if data.tabular is not None else None
    text = text_encoder_id(data.config.text) if "text" in data.inputs.modalities else None
    prior = load_tree_prior(data.config.train.init, list(data.feature_names), tab, text)
    if prior is None:
        log.warning(
            "%s has no tree regressor: the trees start from the target table alone", data.config.train.init
        )
    return prior


# ---- the components -------------------------------------------------------------------------------------
def _stage(name: str, data: FitData, films: int) -> Progress:
    return Progress(data.config.ensemble.seeds, f"trees {name} ({films} films)", "booster", data.progress)


def _rounds_note(rounds: list[int], films: int) -> str:
    return f"best rounds {', '.join(map(str, rounds))}; {sum(rounds) * films / 1e6:.2f} M film-rounds"


def _describe_trees(c: Component, model: GBMClassifier | GBMRegressor, features: TreeFeatures) -> dict:
    return {
        "name": c.name,
        "kind": c.kind,
        "inputs": list(c.inputs),
        "params": {"library": "lightgbm", "seeds": len(model.boosters), "rounds": list(model.rounds)},
        "features": list(features.feature_names),
    }


@register_component("gbm_classifier")
class TreeClassifier(Component):
    """`gbm_classifier`: class-balanced LightGBM classes from the tree features."""

    kind = "trees"
    inputs = ("tabular", "text", "external")

    def __init__(self, features: TreeFeatures | None = None, model: GBMClassifier | None = None):
        self.features, self.model = features, model

    def fit(self, data: FitData) -> TreeClassifier:
        """Boosters on the training films, early-stopped on the validation films."""
        self.features, X = TreeFeatures.for_fit(data)
        (Xt, tr), va, y = data.shared["tree_rows"], data.split.val, data.y
        with _stage(self.name, data, len(data.split.train)) as bar:
            self.model = GBMClassifier().fit(Xt, y[tr], X[va], y[va], data.config.ensemble, data.seed, bar)
            bar.close(_rounds_note(self.model.rounds, len(tr)))
        return self

    def predict_proba(self, inputs: FilmInputs) -> np.ndarray:
        """(N, 8) class probabilities, the mean over seeds."""
        return self.model.predict_proba(self.features.transform(inputs))

    def state(self) -> dict:
        """Feature layout and booster texts."""
        return {"features": self.features.to_dict(), "model": self.model.to_dict()}

    @classmethod
    def from_state(cls, state: dict) -> TreeClassifier:
        """Rebuild from `state()`."""
        return cls(TreeFeatures.from_dict(state["features"]), GBMClassifier.from_dict(state["model"]))

    def describe(self) -> dict[str, Any]:
        """Library, seeds, rounds and feature names."""
        return _describe_trees(self, self.model, self.features)


@register_component("gbm_regressor")
class TreeRegressor(Component):
    """`gbm_regressor`: LightGBM log revenue, as class probabilities under a normal error."""

    kind = "trees"
    inputs = ("tabular", "text", "external")

    def __init__(self, features=None, model: GBMRegressor | None = None, thresholds=None):
        self.features, self.model = features, model
        self.thresholds = None if thresholds is None else np.asarray(thresholds, dtype=np.float64)

    def fit(self, data: FitData) -> TreeRegressor:
        """Boosters on the training films' log revenue; the error scale from the validation films."""
        self.features, X = TreeFeatures.for_fit(data)
        self.thresholds = np.asarray(data.thresholds, dtype=np.float64)
        (Xt, tr), va = data.shared["tree_rows"], data.split.val
        log_rev = np.log1p(np.asarray(data.revenue_musd, dtype=np.float64))
        with _stage(self.name, data, len(data.split.train)) as bar:
            self.model = GBMRegressor().fit(
                Xt, log_rev[tr], X[va], log_rev[va], data.config.ensemble, data.seed, bar
            )
            bar.close(_rounds_note(self.model.rounds, len(tr)))
        return self

    def predict_log_revenue(self, inputs: FilmInputs) -> np.ndarray:
        """The point prediction, log(1 + $M)."""
        return self.model.predict_log_revenue(self.features.transform(inputs))

    def predict_proba(self, inputs: FilmInputs) -> np.ndarray:
        """(N, 8): the mass of N(prediction, sigma) between consecutive log class edges."""
        return self.model.predict_proba(self.features.transform(inputs), self.thresholds)

    def state(self) -> dict:
        """Feature layout, booster texts, error scale and class edges."""
        return {
            "features": self.features.to_dict(),
            "model": self.model.to_dict(),
            "thresholds": [float(t) for t in self.thresholds],
        }

    @classmethod
    def from_state(cls, state: dict) -> TreeRegressor:
        """Rebuild from `state()`."""
        return cls(
            TreeFeatures.from_dict(state["features"]),
            GBMRegressor.from_dict(state["model"]),
            state["thresholds"],
        )

    def describe(self) -> dict[str, Any]:
        """Library, seeds, rounds, error scale and feature names."""
        out = _describe_trees(self, self.model, self.features)
        out["params"]["sigma_log_revenue"] = self.model.sigma
        return out

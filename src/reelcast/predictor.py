"""RevenuePredictor: fit / predict / evaluate / save / load over a film table.

p = RevenuePredictor(Config()).fit("films.csv")      # one split (the first of cfg.split.splits)
p.predict(new_films)                                  # class, name and probabilities per film
p.evaluate(held_out)                                  # every metric
p.save("runs/x"); RevenuePredictor.load("runs/x")

It composes the parts below it: the featurizer (frozen features), the split's fitted inputs (metadata,
external vectors), the model components and their blend (models.ensemble), the checkpoint.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import reelcast.checkpoint as checkpoint
from reelcast import __version__
from reelcast.checkpoint import CHECKPOINT
from reelcast.config import SPLITS, Config, split_names
from reelcast.data.classes import (
    CLASS_NAMES,
    NUM_CLASSES,
    assign_classes,
    check_thresholds,
    constant_dollar_revenue,
    describe_thresholds,
    fit_quantile_thresholds,
)
from reelcast.data.cpi import base_year
from reelcast.data.schema import GENERIC_REQUEST, aux_targets_of
from reelcast.data.splits import Split, make_date_split, make_split, revenue_strata
from reelcast.data.table import Data, FilmTable, TableReport, as_table, canonical_frame
from reelcast.encoders.common import resolve_device
from reelcast.evaluation.metrics import classification_metrics
from reelcast.features.featurize import Featurizer, FilmInputs, SplitFeatures
from reelcast.features.tabular import default_columns
from reelcast.models import missing
from reelcast.models.base import Component, FitData
from reelcast.models.ensemble import Ensemble, ensemble_wanted
from reelcast.models.explain import film_reasons, modality_contributions
from reelcast.models.intervals import RevenueIntervals, film_revenue, fit_revenue_intervals, revenue_columns
from reelcast.models.network import FusionNetwork
from reelcast.models.registry import create_component

__all__ = ["CHECKPOINT", "Data", "RevenuePredictor", "as_table"]

log = logging.getLogger(__name__)


class RevenuePredictor:
    """Predicts a film's revenue class from its plot, trailer and metadata."""

    def __init__(
        self,
        config: Config | None = None,
        device: str | None = None,
        progress: bool = True,
        featurizer: Featurizer | None = None,
    ):
        """featurizer: one already built (its encoders and store are shared, nothing is loaded again)."""
        self.config = copy.deepcopy(config) if config is not None else Config()
        self.device = resolve_device(device or self.config.train.device)
        self.progress = progress
        self._featurizer = featurizer
        self.thresholds_: np.ndarray | None = None
        self.inputs_: SplitFeatures = SplitFeatures()
        self.components_: Ensemble | None = None
        self.split_ids_: dict[str, list[str]] = {}
        self.class_counts_: dict[str, list[int]] = {}
        self.encoder_ids_: dict[str, str] = {}
        self.metrics_: dict[str, Any] = {}
        self.intervals_: RevenueIntervals | None = None
        self.missing_: dict[str, Any] = {}  # validation accuracy with inputs unknown (models.missing)

    # ---- the fitted parts, read-only ------------------------------------------------------------------
    @property
    def network(self) -> FusionNetwork:
        """The fusion network component."""
        self._check_fitted()
        return self.components_.components["fusion"]

    @property
    def model_(self):
        """The fusion network's torch module (None before fit)."""
        return self.network.model if self.components_ is not None else None

    @property
    def spec_(self):
        """The fusion network's input spec."""
        return self.network.spec

    @property
    def temperature_(self) -> float:
        """The fusion network's calibration temperature."""
        return self.network.temperature

    @property
    def train_result_(self):
        """History and best epoch of the network's training (None after load)."""
        return self.network.train_result

    @property
    def tabular_(self):
        """The fitted metadata encoder, or None."""
        return self.inputs_.tabular

    @property
    def external_(self):
        """The fitted external features, or None."""
        return self.inputs_.external

    @property
    def leaky_columns_(self) -> list[str]:
        """Post-release columns used as features (allowed by tabular.allow_post_release)."""
        return self.inputs_.leaky_columns

    @property
    def ensemble_(self) -> Ensemble | None:
        """The components and their blend when the model blends several, else None."""
        return self.components_ if self.components_ is not None and self.components_.blend else None

    def components(self) -> list[Component]:
        """The fitted components, in order (the fusion network first)."""
        self._check_fitted()
        return list(self.components_.components.values())

    def record_metrics(self, metrics: dict[str, Any]) -> None:
        """Keep a run's headline metrics with the model (saved, and shown by `/model`)."""
        self.metrics_ = dict(metrics)

    # ---- features ---------------------------------------------------------------------------------
    @property
    def featurizer(self) -> Featurizer:
        """The (lazily built) featurizer for this predictor's config."""
        if self._featurizer is None:
            dim = self.spec_.video_dim if self.components_ is not None else 0  # see Featurizer.frame_dim
            self._featurizer = Featurizer(self.config, str(self.device), self.progress, dim)
        return self._featurizer

    def featurize(self, table: FilmTable) -> FilmInputs:
        """Frozen features for every film (from the store when already computed)."""
        return self.featurizer.build(table.df)

    # ---- labels and splits ---------------------------------------------------------------------------
    def default_split(self, table: FilmTable, name: str | None = None) -> Split:
        """The configured stratified split (the first one named in cfg.split.splits by default)."""
        name = name or split_names(self.config.split.splits)[0]
        if self.config.split.by not in ("random", "date"):
            raise ValueError(f"split.by must be random or date, got {self.config.split.by!r}")
        if self.config.split.by == "date":  # oldest films train, newest test
            base = name.removeprefix("date-")
            return make_date_split(table.df, SPLITS[base], name=f"date-{base}")
        strata = self.strata(table)
        return make_split(strata, SPLITS[name], self.config.split.seed, name=name)

    def label_revenue(self, films: pd.DataFrame) -> np.ndarray:
        """The revenue classes are cut on: nominal millions, or constant dollars (labels.constant_dollars)."""
        if self.config.labels.constant_dollars:
            return constant_dollar_revenue(films)
        return films["revenue_musd"].to_numpy(dtype=np.float64)

    def revenue_dollars(self) -> str:
        """What the revenue range is in: nominal dollars, or constant dollars of the CPI's base year."""
        return f"constant {base_year()} US dollars" if self.config.labels.constant_dollars else "nominal"

    def strata(self, table: FilmTable) -> np.ndarray:
        """Per-film strata for stratified splitting (see data.splits for why revenue rank)."""
        rev = self.label_revenue(table.df)
        if self.config.labels.strategy == "thresholds":
            return assign_classes(rev, check_thresholds(self.config.labels.thresholds))
        return revenue_strata(rev, NUM_CLASSES)

    def _fit_thresholds(self, rev: np.ndarray, split: Split) -> np.ndarray:  # training films only
        strategy = self.config.labels.strategy
        if strategy == "quantile":
            return fit_quantile_thresholds(rev[split.train if split.edges is None else split.edges])
        if strategy == "thresholds":
            return check_thresholds(self.config.labels.thresholds)
        raise ValueError(f"labels.strategy must be quantile or thresholds, got {strategy!r}")

    # ---- fit ----------------------------------------------------------------------------------------
    def fit(
        self,
        data: Data,
        split: Split | str | None = None,
        inputs: FilmInputs | None = None,
        modalities: list[str] | None = None,
    ) -> RevenuePredictor:
        """Fit thresholds, the split's inputs and every component on one split's training films.

        modalities: a restricted fit (the ablation's baselines): the fusion network alone, on exactly those.
        """
        cfg = self.config
        table = as_table(data, cfg)
        if not isinstance(split, Split):
            split = self.default_split(table, split)
        films = table.df
        rev = self.label_revenue(films)
        self.thresholds_ = self._fit_thresholds(rev, split)
        y = assign_classes(rev, self.thresholds_)
        if np.unique(y[split.train]).size < 2:
            raise ValueError(
                f"every training film of split {split.name} falls in one class "
                f"({CLASS_NAMES[int(y[split.train][0])]}): nothing to learn; "
                "check the revenues and thresholds"
            )
        inputs = inputs if inputs is not None else self.featurize(table)  # after the cheap label checks

        # Metadata goes into the fusion network (auto: when the table has any) and, with the ensemble,
        # into the other components; restricted fits (baselines) use exactly the modalities they name.
        has_meta = bool(cfg.tabular.columns or default_columns(films))
        fuse_tab = has_meta if cfg.tabular.use_in_fusion is None else cfg.tabular.use_in_fusion
        if modalities:
            fuse_tab = "tabular" in modalities
        blended = (
            None
            if modalities or not ensemble_wanted(cfg.ensemble.enabled, has_meta)
            else list(cfg.ensemble.components)
        )
        self.inputs_ = SplitFeatures.fit(
            films,
            list(table.schema.post_release_cols),
            inputs.film_ids,
            split.train,
            cfg,
            tabular=fuse_tab or blended is not None,
            external=bool(cfg.data.features) and (not modalities or "external" in modalities),
        )
        inputs = self.inputs_.add(inputs, films, {"tabular", "external"})
        net_mods = modalities or [m for m in inputs.modalities if fuse_tab or m != "tabular"]
        comps = [create_component("fusion", modalities=list(net_mods))]
        comps += [create_component(n) for n in (blended or []) if n != "fusion"]
        fit_data = FitData(
            inputs=inputs,
            y=y,
            revenue_musd=rev,
            split=split,
            thresholds=self.thresholds_,
            config=cfg,
            feature_names=self.tabular_.feature_names if self.tabular_ is not None else [],
            device=self.device,
            progress=self.progress,
            text_dim=self.featurizer.text_encoder.dim if cfg.text.finetune and "text" in net_mods else None,
            aux_targets=aux_targets_of(table, cfg.model.aux_targets),
            tabular=self.tabular_,
        )
        self.components_ = Ensemble.fit(fit_data, comps, blended)
        self.intervals_ = fit_revenue_intervals(
            fit_data, self.components_.components, cfg.ensemble.revenue_intervals, self.revenue_dollars()
        )
        val, y_val = inputs.subset(split.val), y[split.val]
        self.missing_ = {} if modalities else missing.costs(self.components_, self.tabular_, val, y_val)
        self.split_ids_ = {
            p: [inputs.film_ids[i] for i in getattr(split, p)] for p in ("train", "val", "test")
        }
        self.encoder_ids_ = self.featurizer.encoder_ids(net_mods, self.external_)
        self.class_counts_ = {
            p: np.bincount(y[getattr(split, p)], minlength=NUM_CLASSES).tolist()
            for p in ("train", "val", "test")
        }
        return self

    # ---- predict ------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.components_ is None:
            raise RuntimeError("this RevenuePredictor is not fitted; call fit() or RevenuePredictor.load()")

    def prepare_inputs(
        self, data: Data | FilmInputs, require_revenue: bool = False
    ) -> tuple[FilmInputs, FilmTable | None]:
        """Model-ready inputs (with tabular features and only the model's modalities) for any data."""
        self._check_fitted()
        if isinstance(data, FilmInputs):
            return self.shape_inputs(data), None
        table = as_table(data, self.config, require_revenue=require_revenue)
        inputs = self.shape_inputs(self.featurize(table), table.df)
        if table.source != "<request>":  # one line per table; a request names its gaps in its answer
            missing.warn_absent(self.tabular_, self.missing_, inputs, table.source)
        return inputs, table

    def shape_inputs(self, inputs: FilmInputs, films: pd.DataFrame | None = None) -> FilmInputs:
        """Inputs shaped for this model: its fitted modalities added, only the ones it reads kept."""
        needed = {m for c in self.components() for m in c.inputs}
        inputs = self.inputs_.add(inputs, films, needed)
        return inputs.only([m for m in inputs.modalities if m in needed])

    def logits(self, inputs: FilmInputs) -> np.ndarray:
        """The fusion network's raw logits (N, 8)."""
        return self.network.logits(inputs)

    def component_probs(self, inputs: FilmInputs) -> dict[str, np.ndarray]:
        """(N, 8) probabilities of every component's heads (the network's, the trees', ...)."""
        self._check_fitted()
        return self.components_.heads(inputs)

    def proba(self, inputs: FilmInputs) -> np.ndarray:
        """Final class probabilities (N, 8) for model-ready inputs: the blend, or the fusion network."""
        self._check_fitted()
        return self.components_.proba(inputs)

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Predicted classes from final probabilities under the model's decision rule."""
        self._check_fitted()
        return self.components_.decide(probs)

    def predict_proba(self, data: Data | FilmInputs) -> np.ndarray:
        """Calibrated class probabilities (N, 8)."""
        inputs, _ = self.prepare_inputs(data)
        return self.proba(inputs)

    def predict(self, data: Data | FilmInputs, breakeven: str | float | None = None) -> pd.DataFrame:
        """One row per film: id, title, class, probabilities, contribution_<modality> (the drop in the
        predicted class's probability when it is masked), the revenue range (revenue_musd_*) and, with
        breakeven ('2.5x' the budget, or $M), P(revenue >= it)."""
        inputs, table = self.prepare_inputs(data)
        probs = self.proba(inputs)
        pred = self.decide(probs)
        df = pd.DataFrame(
            {
                "film_id": inputs.film_ids,
                "title": table.df["title"].tolist() if table is not None else [""] * len(pred),
                "predicted_class": pred,
                "class_name": [CLASS_NAMES[k] for k in pred],
                "confidence": probs[np.arange(len(pred)), pred],
            }
        )
        for k, name in enumerate(CLASS_NAMES):
            df[f"p_{name}"] = probs[:, k]
        df["modalities_used"] = [
            ",".join(m for m, on in zip(inputs.modalities, row, strict=True) if on) for row in inputs.mask
        ]
        df["unknown_inputs"] = [",".join(u) for u in missing.unknown_inputs(self.tabular_, inputs)]
        contrib = self.contributions(inputs, probs)
        for j, m in enumerate(inputs.modalities):
            df[f"contribution_{m}"] = contrib[:, j]
        if self.intervals_ is not None:  # films without a budget get no P(>= 2.5x budget): NaN
            budgets = table.df.get("budget_musd") if table is not None else None
            cols = revenue_columns(self.intervals_, self.components_.components, inputs, budgets, breakeven)
            df = df.assign(**cols)
        return df.assign(**{f"estimate_{n}": v for n, v in self.network.aux_estimates(inputs).items()})

    def contributions(self, inputs: FilmInputs, probs: np.ndarray | None = None) -> np.ndarray:
        """Per film and modality: the drop in the predicted class's probability when it is masked."""
        probs = probs if probs is not None else self.proba(inputs)
        return modality_contributions(self.components_, inputs, probs)

    def predict_film(
        self,
        description: str,
        title: str = "",
        trailer: str | None = None,
        metadata: dict[str, Any] | None = None,
        breakeven: str | float | None = None,
        explain: bool = False,
    ) -> dict[str, Any]:
        """One film: predicted class, every class probability, modality contributions, the revenue range
        (with P(revenue >= breakeven): '2.5x' the budget or $M), the reasons (explain) and warnings."""
        self._check_fitted()
        films = canonical_frame(
            [{"title": title, "text": description, "trailer": trailer or "", **(metadata or {})}]
        )
        table = FilmTable(
            df=films, schema=GENERIC_REQUEST, report=TableReport("<request>", "request"), source="<request>"
        )
        reads_text = "text" in self.spec_.modalities
        warnings = self.featurizer.text_encoder.truncation_warnings([description])[0] if reads_text else []
        inputs, _ = self.prepare_inputs(table)
        probs = self.proba(inputs)
        contrib = self.contributions(inputs, probs)[0]
        k = int(self.decide(probs)[0])
        revenue = film_revenue(self.intervals_, self.components_, inputs, metadata, breakeven)
        out = self.film_answer(inputs, probs[0], k, contrib, warnings, revenue, title)
        if explain:
            out["reasons"] = film_reasons(self.components_, inputs, self.tabular_, films.iloc[0])
        return out

    def film_answer(
        self,
        inputs: FilmInputs,
        probs: np.ndarray,
        k: int,
        contrib: np.ndarray,
        warnings: list[str],
        revenue: dict[str, Any] | None,
        title: str = "",
    ) -> dict[str, Any]:
        """`predict_film`'s answer for one scored film (`inputs`: that film alone); served batches too."""
        status = inputs.status[0] if inputs.status else {}
        used = {m: bool(on) for m, on in zip(inputs.modalities, inputs.mask[0], strict=True)}
        for m, on in used.items():
            if not on:
                said = status.get(f"{m}_message") or status.get("message")  # the trailer's status
                why = (said if m in ("video", "audio") else None) or "not given"
                warnings.append(f"{m} modality missing ({why}); predicted without it")
        unknown = missing.film_report(self.tabular_, self.missing_, inputs, warnings)
        return {
            "title": title,
            "predicted_class": k,
            "class_name": CLASS_NAMES[k],
            "confidence": float(probs[k]),
            "probabilities": {name: float(probs[i]) for i, name in enumerate(CLASS_NAMES)},
            "modalities_used": used,
            "contributions": {m: float(c) for m, c in zip(inputs.modalities, contrib, strict=True)},
            "trailer_status": status,
            "warnings": warnings,
            "revenue": revenue,
            **self.network.labelled_estimates(inputs),
            **unknown,
        }

    # ---- evaluate -----------------------------------------------------------------------------------
    def labels_for(self, table: FilmTable) -> np.ndarray:
        """True classes of a table's films under this model's thresholds."""
        self._check_fitted()
        return assign_classes(self.label_revenue(table.df), self.thresholds_)

    def evaluate(self, data: Data) -> dict[str, Any]:
        """Every metric on a table with revenue (classes from this model's saved thresholds)."""
        inputs, table = self.prepare_inputs(data, require_revenue=True)
        y = self.labels_for(table)
        counts = {"unknown_inputs": missing.unknown_counts(self.tabular_, inputs)}
        return {**classification_metrics(y, self.decide(self.proba(inputs))), **counts}

    def describe(self) -> dict[str, Any]:
        """The model as data, for `/model` and the report: classes, inputs, components, blend, metrics."""
        self._check_fitted()
        return {
            "reelcast_version": __version__,
            "class_names": list(CLASS_NAMES),
            "thresholds_musd": [float(t) for t in self.thresholds_],
            "classes": describe_thresholds(self.thresholds_),
            "modalities": list(self.spec_.modalities),
            "encoder_ids": dict(self.encoder_ids_),
            "uses_metadata": self.tabular_ is not None,
            "leaky_columns": list(self.leaky_columns_),
            "components": self.components_.describe(),
            "weights": self.components_.weights(),
            "decision": self.components_.decision,
            "revenue_intervals": self.intervals_.describe() if self.intervals_ is not None else None,
            "temperature": float(self.temperature_),
            "media_mode": str(self.config.media.mode),
            "metrics": dict(self.metrics_),
            "missing_inputs": dict(self.missing_),
        }

    # ---- persistence --------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write best_multimodal_model.pth (everything `load` needs to predict), config.toml, digests."""
        self._check_fitted()
        # Absolute paths: `serve` or `predict` started from another directory finds the same models.
        cfg = self.config.with_absolute_paths()
        payload = {
            "config": cfg.to_dict(),
            "thresholds": [float(t) for t in self.thresholds_],
            "class_names": CLASS_NAMES,
            "inputs": self.inputs_.state(),
            "encoder_ids": self.encoder_ids_,
            "precisions": checkpoint.encoder_precisions(cfg, self.device),
            "ensemble": self.components_.state(),
            "metrics": self.metrics_,
            "revenue_intervals": self.intervals_.to_dict() if self.intervals_ is not None else None,
            "missing": self.missing_,
        }
        return checkpoint.write(directory, payload, cfg)

    @classmethod
    def load(
        cls,
        directory: str | Path,
        device: str | None = None,
        overrides: dict | None = None,
        progress: bool = False,
        trust_modified: bool = False,
    ) -> RevenuePredictor:
        """Rebuild a fitted predictor from a run folder (or the .pth file itself).

        trust_modified: load even when a file differs from the digest recorded when it was saved.
        """
        state = checkpoint.read(directory, trust_modified=trust_modified)
        checkpoint.refuse_stale_encoding(state, directory)
        cfg = checkpoint.trained_config(state)
        if overrides:
            cfg.update(overrides)
        self = cls(cfg, device=device, progress=progress)
        self.thresholds_ = np.asarray(state["thresholds"], dtype=np.float64)
        self.inputs_ = SplitFeatures.from_state(state["inputs"], cfg)
        self.components_ = Ensemble.from_state(state["ensemble"])
        for c in self.components():
            c.to(self.device)
        self.encoder_ids_ = dict(state["encoder_ids"])
        self.metrics_ = dict(state.get("metrics") or {})
        ri = state.get("revenue_intervals")
        self.intervals_ = RevenueIntervals.from_dict(ri) if ri else None
        self.missing_ = dict(state.get("missing") or {})
        return self

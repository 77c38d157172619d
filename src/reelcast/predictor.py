"""RevenuePredictor: fit / predict / evaluate / save / load over a film table.

p = RevenuePredictor(Config()).fit("films.csv")      # one split (the first of cfg.split.splits)
p.predict(new_films)                                  # class, name and probabilities per film
p.evaluate(held_out)                                  # every metric
p.save("runs/x"); RevenuePredictor.load("runs/x")
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from reelcast import __version__
from reelcast.config import SPLITS, Config, split_names
from reelcast.data.classes import (
    CLASS_NAMES,
    NUM_CLASSES,
    assign_classes,
    check_thresholds,
    constant_dollar_revenue,
    fit_quantile_thresholds,
)
from reelcast.data.schema import GENERIC_REQUEST
from reelcast.data.splits import Split, make_date_split, make_split, revenue_strata
from reelcast.data.table import FilmTable, TableReport, canonical_frame, films_from_frame, load_films
from reelcast.encoders.common import resolve_device
from reelcast.features.external import ExternalFeatures
from reelcast.features.featurize import Featurizer, FilmInputs
from reelcast.features.tabular import TabularEncoder, check_leakage, default_columns
from reelcast.models.components import TreeEnsemble
from reelcast.models.ensemble import decide
from reelcast.models.fusion import FusionModel, ModelSpec
from reelcast.models.trees import gaussian_class_probs
from reelcast.training.loop import TrainResult, predict_logits, seed_everything, train_model

log = logging.getLogger(__name__)

CHECKPOINT = "best_multimodal_model.pth"
FORMAT_VERSION = 1

Data = FilmTable | pd.DataFrame | str | Path


def as_table(data: Data, cfg: Config, require_revenue: bool = True) -> FilmTable:
    """A validated FilmTable from a path, a raw DataFrame, or a FilmTable."""
    if isinstance(data, FilmTable):
        return data
    if isinstance(data, pd.DataFrame):
        return films_from_frame(data, cfg.data, require_revenue=require_revenue)
    return load_films(data, cfg.data, require_revenue=require_revenue)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Numerically stable softmax over the last axis."""
    z = logits / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class RevenuePredictor:
    """Predicts a film's revenue class from its plot, trailer and metadata."""

    def __init__(self, config: Config | None = None, device: str | None = None, progress: bool = True):
        self.config = copy.deepcopy(config) if config is not None else Config()
        self.device = resolve_device(device or self.config.train.device)
        self.progress = progress
        self._featurizer: Featurizer | None = None
        self.model_: FusionModel | None = None
        self.spec_: ModelSpec | None = None
        self.thresholds_: np.ndarray | None = None
        self.tabular_: TabularEncoder | None = None
        self.ensemble_: TreeEnsemble | None = None
        self.log_revenue_scale_: tuple[float, float] = (0.0, 1.0)
        self.regression_sigma_: float = 1.0
        self.external_: ExternalFeatures | None = None
        self.leaky_columns_: list[str] = []
        self.temperature_: float = 1.0
        self.train_result_: TrainResult | None = None
        self.split_ids_: dict[str, list[str]] = {}
        self.metrics_: dict[str, Any] = {}
        self.encoder_ids_: dict[str, str] = {}

    # ---- features ---------------------------------------------------------------------------------
    @property
    def featurizer(self) -> Featurizer:
        """The (lazily built) featurizer for this predictor's config."""
        if self._featurizer is None:
            self._featurizer = Featurizer(self.config, str(self.device), progress=self.progress)
        return self._featurizer

    def featurize(self, table: FilmTable) -> FilmInputs:
        """Frozen features for every film (from the store when already computed)."""
        return self.featurizer.build(table.df)

    def _tabular_columns(self, table: FilmTable) -> list[str]:
        cols = self.config.tabular.columns or default_columns(table.df)
        self.leaky_columns_ = check_leakage(
            cols, list(table.schema.post_release_cols), self.config.tabular.allow_post_release
        )
        return cols

    def _add_tabular(self, inputs: FilmInputs, films: pd.DataFrame) -> FilmInputs:
        feats, present = self.tabular_.transform(films)
        return inputs.with_tabular(feats, present)

    def _add_external(self, inputs: FilmInputs) -> FilmInputs:
        feats, present = self.external_.transform(inputs.film_ids, self.config.data.features)
        return inputs.with_modality("external", feats, present)

    # ---- fit ----------------------------------------------------------------------------------------
    def default_split(self, table: FilmTable, name: str | None = None) -> Split:
        """The configured stratified split (the first one named in cfg.split.splits by default)."""
        name = name or split_names(self.config.split.splits)[0]
        if self.config.split.by not in ("random", "date"):
            raise ValueError(f"split.by must be random or date, got {self.config.split.by!r}")
        if self.config.split.by == "date":  # issue 8: oldest films train, newest test
            base = name.removeprefix("date-")
            return make_date_split(table.df, SPLITS[base], name=f"date-{base}")
        strata = self.strata(table)
        return make_split(strata, SPLITS[name], self.config.split.seed, name=name)

    def label_revenue(self, films: pd.DataFrame) -> np.ndarray:
        """The revenue classes are cut on: nominal millions, or constant dollars (labels.constant_dollars)."""
        if self.config.labels.constant_dollars:
            return constant_dollar_revenue(films)
        return films["revenue_musd"].to_numpy(dtype=np.float64)

    def strata(self, table: FilmTable) -> np.ndarray:
        """Per-film strata for stratified splitting (see data.splits for why revenue rank)."""
        rev = self.label_revenue(table.df)
        if self.config.labels.strategy == "thresholds":
            return assign_classes(rev, check_thresholds(self.config.labels.thresholds))
        return revenue_strata(rev, NUM_CLASSES)

    def fit(
        self,
        data: Data,
        split: Split | str | None = None,
        inputs: FilmInputs | None = None,
        modalities: list[str] | None = None,
    ) -> RevenuePredictor:
        """Fit thresholds, tabular statistics and the fusion model on one split's training films."""
        cfg = self.config
        table = as_table(data, cfg)
        if not isinstance(split, Split):
            split = self.default_split(table, split)
        films = table.df

        # Labels: thresholds come from the training films only, then apply to every portion.
        rev = self.label_revenue(films)
        if cfg.labels.strategy == "quantile":
            self.thresholds_ = fit_quantile_thresholds(rev[split.train])
        elif cfg.labels.strategy == "thresholds":
            self.thresholds_ = check_thresholds(cfg.labels.thresholds)
        else:
            raise ValueError(f"labels.strategy must be quantile or thresholds, got {cfg.labels.strategy!r}")
        y = assign_classes(rev, self.thresholds_)
        if np.unique(y[split.train]).size < 2:
            raise ValueError(
                f"every training film of split {split.name} falls in one class "
                f"({CLASS_NAMES[int(y[split.train][0])]}): nothing to learn; "
                "check the revenues and thresholds"
            )
        inputs = inputs if inputs is not None else self.featurize(table)  # after the cheap label checks

        # Metadata goes into the fusion network (auto: when the table has any) and, with the ensemble,
        # into the trees; restricted fits (baselines) use exactly the modalities they name.
        has_meta = bool(cfg.tabular.columns or default_columns(films))
        fuse_tab = has_meta if cfg.tabular.use_in_fusion is None else cfg.tabular.use_in_fusion
        if modalities:
            fuse_tab = "tabular" in modalities
        use_trees = not modalities and self._ensemble_wanted(has_meta)
        if fuse_tab or use_trees:
            self.tabular_ = TabularEncoder(self._tabular_columns(table), settings=cfg.tabular).fit(
                films.iloc[split.train]
            )
            inputs = self._add_tabular(inputs, films)
        if cfg.data.features and (not modalities or "external" in modalities):
            # Bring-your-own features, standardised with the training films' statistics
            train_ids = [inputs.film_ids[i] for i in split.train]
            self.external_ = ExternalFeatures.fit(cfg.data.features, train_ids, cfg.data.features_id_col)
            inputs = self._add_external(inputs)
        all_inputs = inputs
        if modalities:
            inputs = inputs.only(modalities)
        elif not fuse_tab and "tabular" in inputs.modalities:
            inputs = inputs.only([m for m in inputs.modalities if m != "tabular"])

        seed_everything(cfg.train.seed)
        self.spec_ = self._spec(inputs)
        self.model_ = FusionModel(self.spec_, cfg.model)
        tr, va = inputs.subset(split.train), inputs.subset(split.val)
        # Multitask: the network also regresses log revenue, standardised on the training films.
        log_rev = np.log1p(np.clip(rev, 0, None))
        self.log_revenue_scale_ = (
            float(log_rev[split.train].mean()),
            float(log_rev[split.train].std() or 1.0),
        )
        mu, sd = self.log_revenue_scale_
        self.train_result_ = train_model(
            self.model_,
            tr.tensors(),
            y[split.train],
            va.tensors(),
            y[split.val],
            cfg.train,
            self.device,
            modality_drop=cfg.model.modality_dropout,
            progress=self.progress,
            desc=f"train {split.name}",
            regression_target=(log_rev[split.train] - mu) / sd,
            regression_weight=cfg.model.regression_weight,
        )
        self.regression_sigma_ = 1.0
        if self.spec_.objective == "multitask" and len(split.val) > 1:
            val_log = self._network_log_revenue(va)
            self.regression_sigma_ = float(max(np.std(log_rev[split.val] - val_log), 1e-3))
        # Temperature scaling on the validation films: calibrated probabilities at prediction time.
        self.temperature_ = 1.0
        if cfg.eval.temperature_scaling and len(split.val) >= NUM_CLASSES:
            from reelcast.evaluation.stats import fit_temperature

            val_logits = predict_logits(self.model_, va.tensors(), self.device).numpy()
            self.temperature_ = float(fit_temperature(val_logits, y[split.val]))
        self.ensemble_ = None
        if use_trees:
            network_probs = self._network_probs(inputs)
            self.ensemble_ = TreeEnsemble([float(t) for t in self.thresholds_]).fit(
                all_inputs.arrays,
                all_inputs.mask,
                all_inputs.modalities,
                self.tabular_.feature_names,
                rev,
                y,
                split.train,
                split.val,
                network_probs,
                cfg.ensemble,
                cfg.train.seed,
            )
        self.split_ids_ = {
            p: [inputs.film_ids[i] for i in getattr(split, p)] for p in ("train", "val", "test")
        }
        self.encoder_ids_ = self._encoder_ids(inputs.modalities)
        self.class_counts_ = {
            p: np.bincount(y[getattr(split, p)], minlength=NUM_CLASSES).tolist()
            for p in ("train", "val", "test")
        }
        return self

    def _ensemble_wanted(self, has_meta: bool) -> bool:
        mode = self.config.ensemble.enabled
        if mode not in ("auto", "on", "off"):
            raise ValueError(f"ensemble.enabled must be auto, on or off, got {mode!r}")
        if mode == "on" and not has_meta:
            raise ValueError(
                "ensemble.enabled=on needs pre-release metadata (budget, genres, dates, ...) and this "
                "table has none; use --set ensemble.enabled=off or a table with metadata"
            )
        return mode == "on" or (mode == "auto" and has_meta)

    def _spec(self, inputs: FilmInputs) -> ModelSpec:
        a = inputs.arrays
        spec = ModelSpec(
            modalities=list(inputs.modalities),
            temporal=self.config.video.temporal,
            audio_dim=self.config.audio.dim,
            text_pooling=self.config.text.pooling,
            objective=self.config.model.objective,
        )
        if "text" in inputs.modalities:
            if self.config.text.finetune:
                spec.text_backbone = self.config.text.model
                spec.text_dim = self.featurizer.text_encoder.dim
            else:
                spec.text_dim = a["text"].shape[1]
        if "video" in a:
            spec.video_frames, spec.video_dim = a["video"].shape[1:]
        if "audio" in a:
            spec.audio_channels, spec.audio_length = a["audio"].shape[1:]
            if self.config.audio.frontend == "waveform":
                from reelcast.encoders.audio import frame_params

                win, hop, _ = frame_params(self.config.audio, self.config.media.sample_rate)
                spec.audio_filterbank = [self.config.audio.n_mels, win, hop]
        if "tabular" in a:
            spec.tabular_dim = a["tabular"].shape[1]
        if "external" in a:
            spec.external_dim = a["external"].shape[1]
        return spec

    def _encoder_ids(self, modalities: list[str]) -> dict[str, str]:
        ids = {}
        if "text" in modalities:
            ids["text"] = self.featurizer.text_encoder_id()
        if "video" in modalities:
            ids["video"] = "simulated" if self.config.media.mode == "simulated" else self.config.video.model
        if "external" in modalities and self.external_ is not None:
            ids["external"] = f"file:{Path(self.external_.source).name}"
        if "audio" in modalities:
            ids["audio"] = (
                "simulated"
                if self.config.media.mode == "simulated"
                else (f"{self.config.audio.frontend}:{self.config.media.sample_rate}")
            )
        return ids

    # ---- predict ------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.model_ is None:
            raise RuntimeError("this RevenuePredictor is not fitted; call fit() or RevenuePredictor.load()")

    def prepare_inputs(
        self, data: Data | FilmInputs, require_revenue: bool = False
    ) -> tuple[FilmInputs, FilmTable | None]:
        """Model-ready inputs (with tabular features and only the model's modalities) for any data."""
        self._check_fitted()
        if isinstance(data, FilmInputs):
            return self.shape_inputs(data), None
        table = as_table(data, self.config, require_revenue=require_revenue)
        return self.shape_inputs(self.featurize(table), table.df), table

    def shape_inputs(self, inputs: FilmInputs, films: pd.DataFrame | None = None) -> FilmInputs:
        """Inputs shaped for this model: its tabular features added, only its modalities kept."""
        self._check_fitted()
        needed = set(self.spec_.modalities)
        if self.ensemble_ is not None:
            needed |= {"tabular", "text"} | ({"external"} if self.external_ is not None else set())
        if "tabular" in needed and "tabular" not in inputs.modalities:
            if films is None:
                raise ValueError("this model reads tabular metadata; pass the films' table with the inputs")
            inputs = self._add_tabular(inputs, films)
        if "external" in needed and "external" not in inputs.modalities:
            inputs = self._add_external(inputs)
        return inputs.only([m for m in inputs.modalities if m in needed])

    def logits(self, inputs: FilmInputs) -> np.ndarray:
        """The fusion network's raw logits (N, 8)."""
        self._check_fitted()
        if inputs.modalities != self.spec_.modalities:
            inputs = inputs.only(self.spec_.modalities)
        return predict_logits(self.model_, inputs.tensors(), self.device).numpy()

    def _network_log_revenue(self, inputs: FilmInputs) -> np.ndarray:
        """The multitask network's log(1 + revenue $M) prediction."""
        if inputs.modalities != self.spec_.modalities:
            inputs = inputs.only(self.spec_.modalities)
        raw = predict_logits(self.model_, inputs.tensors(), self.device, raw=True).numpy()
        mu, sd = self.log_revenue_scale_
        return raw[:, -1] * sd + mu

    def _network_probs(self, inputs: FilmInputs) -> dict[str, np.ndarray]:
        """The network's components: its class head, and its regression head (multitask)."""
        out = {"fusion": softmax(self.logits(inputs), self.temperature_)}
        if self.spec_.objective == "multitask":
            out["fusion_regressor"] = gaussian_class_probs(
                self._network_log_revenue(inputs), self.regression_sigma_, self.thresholds_
            )
        return out

    def component_probs(self, inputs: FilmInputs) -> dict[str, np.ndarray]:
        """(N, 8) probabilities of every component: the network's heads, and the trees when present."""
        net = self._network_probs(inputs)
        if self.ensemble_ is None:
            return net
        return self.ensemble_.probs(inputs.arrays, inputs.mask, inputs.modalities, net)

    def proba(self, inputs: FilmInputs) -> np.ndarray:
        """Final class probabilities (N, 8) for model-ready inputs: the blend, or the fusion network."""
        comp = self.component_probs(inputs)
        return self.ensemble_.blend.combine(comp) if self.ensemble_ is not None else comp["fusion"]

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Predicted classes from final probabilities under the model's decision rule."""
        return decide(probs, self.ensemble_.blend.decision if self.ensemble_ is not None else "argmax")

    def predict_proba(self, data: Data | FilmInputs) -> np.ndarray:
        """Calibrated class probabilities (N, 8)."""
        inputs, _ = self.prepare_inputs(data)
        return self.proba(inputs)

    def predict(self, data: Data | FilmInputs) -> pd.DataFrame:
        """One row per film: id, title, predicted class, name, probability, all probabilities, contributions.

        contribution_<modality>: the drop in the predicted class's probability when that modality is
        masked (0 for a film without it).
        """
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
        contrib = self.contributions(inputs, probs)
        for j, m in enumerate(inputs.modalities):
            df[f"contribution_{m}"] = contrib[:, j]
        return df

    def contributions(self, inputs: FilmInputs, probs: np.ndarray | None = None) -> np.ndarray:
        """Per film and modality: the drop in the predicted class's probability when it is masked."""
        probs = probs if probs is not None else self.proba(inputs)
        pred = self.decide(probs)
        out = np.zeros((len(inputs), len(inputs.modalities)), dtype=np.float64)
        for j in range(len(inputs.modalities)):
            masked = copy.copy(inputs)
            masked.mask = inputs.mask.copy()
            masked.mask[:, j] = False
            p = self.proba(masked)
            out[:, j] = np.where(
                inputs.mask[:, j], probs[np.arange(len(pred)), pred] - p[np.arange(len(pred)), pred], 0.0
            )
        return out

    def predict_film(
        self,
        description: str,
        title: str = "",
        trailer: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One film: predicted class, every class probability, modality contributions and warnings."""
        self._check_fitted()
        films = canonical_frame(
            [{"title": title, "text": description, "trailer": trailer or "", **(metadata or {})}]
        )
        table = FilmTable(
            df=films, schema=GENERIC_REQUEST, report=TableReport("<request>", "request"), source="<request>"
        )
        warnings: list[str] = []
        if "text" in self.spec_.modalities and description.strip():
            n_tokens = self.featurizer.text_encoder.token_counts([description])[0]
            if n_tokens > self.config.text.max_length:
                warnings.append(
                    f"description has {n_tokens} tokens; only the first "
                    f"{self.config.text.max_length} were read"
                )
        inputs, _ = self.prepare_inputs(table)
        probs = self.proba(inputs)
        contrib = self.contributions(inputs, probs)[0]
        status = inputs.status[0] if inputs.status else {}
        used = {m: bool(on) for m, on in zip(inputs.modalities, inputs.mask[0], strict=True)}
        for m, on in used.items():
            if not on:
                why = status.get(f"{m}_message") or status.get("message") or "not given"
                warnings.append(f"{m} modality missing ({why}); predicted without it")
        k = int(self.decide(probs)[0])
        return {
            "title": title,
            "predicted_class": k,
            "class_name": CLASS_NAMES[k],
            "confidence": float(probs[0, k]),
            "probabilities": {name: float(probs[0, i]) for i, name in enumerate(CLASS_NAMES)},
            "modalities_used": used,
            "contributions": {m: float(c) for m, c in zip(inputs.modalities, contrib, strict=True)},
            "trailer_status": status,
            "warnings": warnings,
        }

    # ---- evaluate -----------------------------------------------------------------------------------
    def labels_for(self, table: FilmTable) -> np.ndarray:
        """True classes of a table's films under this model's thresholds."""
        self._check_fitted()
        return assign_classes(self.label_revenue(table.df), self.thresholds_)

    def evaluate(self, data: Data) -> dict[str, Any]:
        """Every metric on a table with revenue (classes from this model's saved thresholds)."""
        from reelcast.evaluation.metrics import classification_metrics

        inputs, table = self.prepare_inputs(data, require_revenue=True)
        y = self.labels_for(table)
        return classification_metrics(y, self.decide(self.proba(inputs)))

    # ---- persistence --------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write best_multimodal_model.pth (weights + everything `load` needs to predict) and config.toml."""
        from reelcast.files import atomic_write

        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {
            "format_version": FORMAT_VERSION,
            "reelcast_version": __version__,
            "state_dict": self.model_.state_dict(),
            "spec": self.spec_.to_dict(),
            # Absolute paths: `serve` or `predict` started from another directory finds the same models.
            "config": self.config.with_absolute_paths().to_dict(),
            "thresholds": [float(t) for t in self.thresholds_],
            "class_names": CLASS_NAMES,
            "temperature": self.temperature_,
            "tabular": self.tabular_.to_dict() if self.tabular_ else None,
            "ensemble": self.ensemble_.to_dict() if self.ensemble_ else None,
            "log_revenue_scale": list(self.log_revenue_scale_),
            "regression_sigma": self.regression_sigma_,
            "external": self.external_.to_dict() if self.external_ else None,
            "leaky_columns": self.leaky_columns_,
            "encoder_ids": self.encoder_ids_,
            "metrics": self.metrics_,
        }
        atomic_write(directory / CHECKPOINT, lambda p: torch.save(state, p))
        self.config.with_absolute_paths().save(directory / "config.toml")
        return directory / CHECKPOINT

    @classmethod
    def load(
        cls,
        directory: str | Path,
        device: str | None = None,
        overrides: dict | None = None,
        progress: bool = False,
    ) -> RevenuePredictor:
        """Rebuild a fitted predictor from a run folder (or the .pth file itself)."""
        path = Path(directory)
        path = path / CHECKPOINT if path.is_dir() else path
        if not path.exists():
            raise FileNotFoundError(f"{path}: no {CHECKPOINT} here; pass a split folder of a training run")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{path}: checkpoint format {state.get('format_version')} is not {FORMAT_VERSION}"
            )
        cfg = Config.from_dict(state["config"])
        if overrides:
            cfg.update(overrides)
        self = cls(cfg, device=device, progress=progress)
        self.spec_ = ModelSpec(**state["spec"])
        self.model_ = FusionModel(self.spec_, cfg.model)
        self.model_.load_state_dict(state["state_dict"])
        self.model_.to(self.device).eval()
        self.thresholds_ = np.asarray(state["thresholds"], dtype=np.float64)
        self.temperature_ = float(state["temperature"])
        self.tabular_ = TabularEncoder.from_dict(state["tabular"]) if state["tabular"] else None
        self.ensemble_ = TreeEnsemble.from_dict(state["ensemble"]) if state.get("ensemble") else None
        self.log_revenue_scale_ = tuple(state.get("log_revenue_scale") or (0.0, 1.0))
        self.regression_sigma_ = float(state.get("regression_sigma", 1.0))
        ext = state.get("external")
        self.external_ = ExternalFeatures.from_dict(ext) if ext else None
        self.leaky_columns_ = list(state.get("leaky_columns") or [])
        self.encoder_ids_ = dict(state["encoder_ids"])
        self.metrics_ = state.get("metrics") or {}
        return self

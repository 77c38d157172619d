"""The fusion network as a model component: trained with the loop, temperature-scaled, and (with the
multitask objective) a second head, `fusion_regressor`, from its log-revenue output."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

from reelcast.config import ModelConfig
from reelcast.data.classes import NUM_CLASSES
from reelcast.features.featurize import FilmInputs
from reelcast.models.base import Component, FitData
from reelcast.models.fusion import FusionModel, ModelSpec
from reelcast.models.gbm import gaussian_class_probs
from reelcast.models.group_dropout import training_rows
from reelcast.models.registry import register_component
from reelcast.training.loop import TrainResult, predict_logits, seed_everything, train_model


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Numerically stable softmax over the last axis."""
    z = logits / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def model_spec(inputs: FilmInputs, data: FitData) -> ModelSpec:
    """The network's input shapes, read from the inputs it trains on and the run's settings."""
    cfg, a = data.config, inputs.arrays
    spec = ModelSpec(
        modalities=list(inputs.modalities),
        temporal=cfg.video.temporal,
        audio_dim=cfg.audio.dim,
        text_pooling=cfg.text.pooling,
        objective=cfg.model.objective,
        aux_targets=list(data.aux_targets),
        aux_weighting=cfg.model.aux_weighting,
        aux_weight=cfg.model.aux_weight,
    )
    if "text" in inputs.modalities:
        if cfg.text.finetune:
            spec.text_backbone = cfg.text.model
            spec.text_dim = int(data.text_dim or 0)
        else:
            spec.text_dim = a["text"].shape[1]
    if "video" in a:
        spec.video_frames, spec.video_dim = a["video"].shape[1:]
    if "audio" in a:
        spec.audio_channels, spec.audio_length = a["audio"].shape[1:]
        if cfg.audio.frontend == "waveform":
            from reelcast.encoders.audio import frame_params

            win, hop, _ = frame_params(cfg.audio, cfg.media.sample_rate)
            spec.audio_filterbank = [cfg.audio.n_mels, win, hop]
    if "tabular" in a:
        spec.tabular_dim = a["tabular"].shape[1]
    if "external" in a:
        spec.external_dim = a["external"].shape[1]
    return spec


@register_component("fusion")
class FusionNetwork(Component):
    """Per-modality heads, fusion and an MLP to 8 logits; softmax at the validation-fitted temperature."""

    kind = "network"

    def __init__(self, modalities: list[str] | None = None):
        self.modalities = modalities  # None: every modality of the inputs it is fit on
        self.model: FusionModel | None = None
        self.spec: ModelSpec | None = None
        self.model_config: ModelConfig | None = None
        self.temperature = 1.0
        self.log_revenue_scale: tuple[float, float] = (0.0, 1.0)
        self.regression_sigma = 1.0
        self.thresholds: np.ndarray | None = None
        self.train_result: TrainResult | None = None
        self.device: Any = "cpu"
        self.aux_scale: dict[str, tuple[float, float]] = {}  # training films' mean and sd per aux target
        self.warm_start: dict | None = None  # what --init copied (see models.transfer)
        # > 0: predict in passes of exactly this many rows (a server: answers independent of the batch).
        self.pass_rows = 0

    @property
    def inputs(self) -> tuple[str, ...]:  # type: ignore[override]
        """The modalities the network reads."""
        return tuple(self.spec.modalities if self.spec else self.modalities or ())

    # ---- fit ----------------------------------------------------------------------------------------
    def fit(self, data: FitData) -> FusionNetwork:
        """Train on the split's training films, early-stopped on macro-F1 of its validation films."""
        cfg, split, y = data.config, data.split, data.y
        inputs = data.inputs.only(self.modalities) if self.modalities else data.inputs
        self.device, self.thresholds = data.device, np.asarray(data.thresholds, dtype=np.float64)
        seed_everything(cfg.train.seed)
        self.spec, self.model_config = model_spec(inputs, data), cfg.model
        self.model = FusionModel(self.spec, cfg.model)
        tr, va, rows = inputs.subset(split.train), inputs.subset(split.val), split.train
        if data.tabular is not None and "tabular" in tr.arrays:
            # Once, before training: optional inputs unknown for a share of the training films (replaced,
            # or masked copies appended), with the value a film lacking them gets at prediction time.
            rng = np.random.default_rng(data.seed + 1)
            X, own = training_rows(data.tabular, tr.arrays["tabular"], cfg.tabular, rng, fill=True)
            tr, rows = tr.subset(own), split.train[own]
            tr.arrays["tabular"] = X
        # Multitask: the network also regresses log revenue, standardised on the training films.
        log_rev = np.log1p(np.clip(data.revenue_musd, 0, None))
        self.log_revenue_scale = (
            float(log_rev[split.train].mean()),
            float(log_rev[split.train].std() or 1.0),
        )
        mu, sd = self.log_revenue_scale
        hold: list[str] = []
        if cfg.train.init:
            from reelcast.models.transfer import check_source, load_source, warm_start

            source = load_source(cfg.train.init)
            check_source(source, cfg)
            started = warm_start(self.model, source, data.feature_names)
            hold = started.frozen if cfg.train.freeze_epochs > 0 else []
            self.warm_start = started.to_dict()
        train = functools.partial(
            train_model,
            self.model,
            tr.tensors(),
            y[rows],
            va.tensors(),
            y[split.val],
            device=self.device,
            modality_drop=cfg.model.modality_dropout,
            progress=data.progress,
            desc=f"train {split.name}",
            regression_target=(log_rev[rows] - mu) / sd,
            regression_weight=cfg.model.regression_weight,
            aux_target=self._aux_matrix(data, rows) if self.spec.aux_targets else None,
        )
        if hold:  # the new layers first learn to read the transferred ones, then everything trains
            from reelcast.models.transfer import frozen

            n = cfg.train.freeze_epochs
            with frozen(self.model, hold):
                first = train(dataclasses.replace(cfg.train, epochs=n, patience=n))
            self.train_result = train(cfg.train)
            self.train_result.history = first.history + [
                {**r, "epoch": r["epoch"] + len(first.history)} for r in self.train_result.history
            ]
            self.train_result.best_epoch += len(first.history)
        else:
            self.train_result = train(cfg.train)
        self.regression_sigma = 1.0
        if self.spec.objective == "multitask" and len(split.val) > 1:
            self.regression_sigma = float(max(np.std(log_rev[split.val] - self.log_revenue(va)), 1e-3))
        # Temperature scaling on the validation films: calibrated probabilities at prediction time.
        self.temperature = 1.0
        if cfg.eval.temperature_scaling and len(split.val) >= NUM_CLASSES:
            from reelcast.evaluation.stats import fit_temperature

            self.temperature = float(fit_temperature(self.logits(va), y[split.val]))
        return self

    def _aux_matrix(self, data: FitData, rows: np.ndarray) -> np.ndarray:
        """(len(rows), k) aux targets standardised on the training films (NaN: unknown)."""
        cols = []
        for name in self.spec.aux_targets:
            v = np.asarray(data.aux_targets[name], dtype=np.float64)
            known = v[data.split.train][np.isfinite(v[data.split.train])]
            if known.size < 2:
                raise ValueError(
                    f"aux target {name!r}: {known.size} training film(s) of split {data.split.name} have a "
                    "value; drop it from --aux-targets"
                )
            self.aux_scale[name] = (float(known.mean()), float(known.std() or 1.0))
            mu, sd = self.aux_scale[name]
            cols.append((v[rows] - mu) / sd)
        return np.stack(cols, axis=1)

    # ---- predict ------------------------------------------------------------------------------------
    def _own(self, inputs: FilmInputs) -> FilmInputs:
        return inputs if inputs.modalities == self.spec.modalities else inputs.only(self.spec.modalities)

    def logits(self, inputs: FilmInputs) -> np.ndarray:
        """Raw class logits (N, 8)."""
        return predict_logits(
            self.model, self._own(inputs).tensors(), self.device, pass_rows=self.pass_rows
        ).numpy()

    def log_revenue(self, inputs: FilmInputs) -> np.ndarray:
        """The multitask output: predicted log(1 + revenue $M)."""
        raw = predict_logits(
            self.model, self._own(inputs).tensors(), self.device, raw=True, pass_rows=self.pass_rows
        ).numpy()
        mu, sd = self.log_revenue_scale
        return raw[:, -1] * sd + mu

    def aux_estimates(self, inputs: FilmInputs) -> dict[str, np.ndarray]:
        """The aux outputs on their source scale (a rating, a vote count), by target; {} without any."""
        if not self.spec.aux_targets:
            return {}
        import torch

        from reelcast.data.schema import aux_transform
        from reelcast.training.loop import row_passes, take

        tensors = self._own(inputs).tensors()
        self.model.eval()
        passes = row_passes(len(tensors["mask"]), self.pass_rows or 256, pad=self.pass_rows > 0)
        with torch.no_grad():
            raw = [
                self.model.forward_with_aux(take(tensors, idx, self.device))[1][:real].cpu()
                for idx, real in passes
            ]
        pred = torch.cat(raw).numpy() if raw else np.zeros((0, len(self.spec.aux_targets)))
        out = {}
        for j, name in enumerate(self.spec.aux_targets):
            mu, sd = self.aux_scale[name]
            v = pred[:, j] * sd + mu
            out[name] = np.expm1(v) if aux_transform(name) == "log1p" else v
        return out

    def labelled_estimates(self, inputs: FilmInputs) -> dict[str, Any]:
        """For one film's prediction: {"model_estimates": {target: value, ...}} with what they are; {}
        for a network without aux outputs."""
        est = self.aux_estimates(inputs)
        if not est:
            return {}
        return {
            "model_estimates": {k: float(v[0]) for k, v in est.items()},
            "model_estimates_note": (
                "the network's own estimates of these post-release figures from the same inputs, "
                "not known values"
            ),
        }

    def predict_proba(self, inputs: FilmInputs) -> np.ndarray:
        """Temperature-scaled class probabilities (N, 8)."""
        return softmax(self.logits(inputs), self.temperature)

    def head_names(self) -> list[str]:
        """`fusion`, and `fusion_regressor` for the multitask objective."""
        return ["fusion", "fusion_regressor"] if self.spec.objective == "multitask" else ["fusion"]

    def heads(self, inputs: FilmInputs) -> dict[str, np.ndarray]:
        """The class head, and the regression head as class probabilities (multitask)."""
        out = {"fusion": self.predict_proba(inputs)}
        if self.spec.objective == "multitask":
            out["fusion_regressor"] = gaussian_class_probs(
                self.log_revenue(inputs), self.regression_sigma, self.thresholds
            )
        return out

    def to(self, device: Any) -> FusionNetwork:
        """Move the network's weights to a device, in evaluation mode."""
        self.device = device
        self.model.to(device).eval()
        return self

    # ---- state --------------------------------------------------------------------------------------
    def state(self) -> dict:
        """The spec, the layer settings, the weights and the calibration."""
        return {
            "spec": self.spec.to_dict(),
            "model_config": dataclasses.asdict(self.model_config),
            "state_dict": self.model.state_dict(),
            "temperature": self.temperature,
            "log_revenue_scale": list(self.log_revenue_scale),
            "regression_sigma": self.regression_sigma,
            "thresholds": [float(t) for t in self.thresholds],
            "aux_scale": {k: list(v) for k, v in self.aux_scale.items()},
            "warm_start": self.warm_start,
        }

    @classmethod
    def from_state(cls, state: dict) -> FusionNetwork:
        """Rebuild the network (on the CPU) from `state()`."""
        self = cls()
        self.spec = ModelSpec(**state["spec"])
        self.model_config = ModelConfig(**state["model_config"])
        self.model = FusionModel(self.spec, self.model_config)
        self.model.load_state_dict(state["state_dict"])
        self.model.eval()
        self.modalities = list(self.spec.modalities)
        self.temperature = float(state["temperature"])
        self.log_revenue_scale = tuple(state.get("log_revenue_scale") or (0.0, 1.0))
        self.regression_sigma = float(state.get("regression_sigma", 1.0))
        self.thresholds = np.asarray(state["thresholds"], dtype=np.float64)
        self.aux_scale = {k: (float(v[0]), float(v[1])) for k, v in (state.get("aux_scale") or {}).items()}
        self.warm_start = state.get("warm_start")
        return self

    def describe(self) -> dict[str, Any]:
        """Modalities, fusion, layers, objective, temperature and the number of weights."""
        mc = self.model_config
        return {
            "name": self.name,
            "kind": self.kind,
            "inputs": list(self.spec.modalities),
            "params": {
                "fusion": mc.fusion,
                "hidden": list(mc.hidden),
                "objective": self.spec.objective,
                "temporal": self.spec.temporal if "video" in self.spec.modalities else None,
                "fine_tuned_text": bool(self.spec.text_backbone),
                "temperature": self.temperature,
                "weights": int(sum(p.numel() for p in self.model.parameters())),
                "aux_targets": list(self.spec.aux_targets),
                "aux_weighting": self.spec.aux_weighting if self.spec.aux_targets else None,
                "warm_start": self.warm_start["source"] if self.warm_start else None,
            },
        }

"""Turn films into model inputs: frozen-encoder features from the store, plus per-modality masks.

This is the expensive side of the encoder/fusion boundary. Each film's text vector and trailer
features are computed once and kept in the feature store; a second run, another split or another
epoch only reads them back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from reelcast.config import Config
from reelcast.encoders.common import use_bf16
from reelcast.features.external import ExternalFeatures
from reelcast.features.tabular import TabularEncoder, check_leakage, default_columns
from reelcast.files import sha256_text
from reelcast.store import open_store

log = logging.getLogger(__name__)

# Simulated per-frame features have ResNet50's width, the default video encoder's.
SIMULATED_VIDEO_DIM = 2048


@dataclass
class FilmInputs:
    """Arrays for N films (first axis), a mask per modality, and each film's media status."""

    film_ids: list[str]
    modalities: list[str]
    arrays: dict[str, np.ndarray]
    mask: np.ndarray  # (N, M) bool in `modalities` order
    status: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.film_ids)

    def subset(self, idx: np.ndarray) -> FilmInputs:
        """The films at positions idx."""
        idx = np.asarray(idx)
        return FilmInputs(
            film_ids=[self.film_ids[i] for i in idx],
            modalities=list(self.modalities),
            arrays={k: v[idx] for k, v in self.arrays.items()},
            mask=self.mask[idx],
            status=[self.status[i] for i in idx] if self.status else [],
        )

    @staticmethod
    def stack(parts: list[FilmInputs]) -> FilmInputs:
        """The films of several inputs with the same modalities, one after another."""
        first = parts[0]
        return FilmInputs(
            [f for part in parts for f in part.film_ids],
            list(first.modalities),
            {k: np.concatenate([part.arrays[k] for part in parts]) for k in first.arrays},
            np.concatenate([part.mask for part in parts]),
            [s for part in parts for s in part.status] if all(part.status for part in parts) else [],
        )

    def with_tabular(self, feats: np.ndarray, present: np.ndarray) -> FilmInputs:
        """A copy with the tabular modality added (fit per split, so added late)."""
        return self.with_modality("tabular", feats, present)

    def with_modality(self, name: str, feats: np.ndarray, present: np.ndarray) -> FilmInputs:
        """A copy with one more (N, D) modality and its presence mask (tabular, external)."""
        mods = [*self.modalities, name]
        arrays = {**self.arrays, name: feats}
        return FilmInputs(
            self.film_ids, mods, arrays, np.concatenate([self.mask, present[:, None]], 1), self.status
        )

    def only(self, modalities: list[str]) -> FilmInputs:
        """A copy restricted to some modalities (for single-modality baselines)."""
        keep = [self.modalities.index(m) for m in modalities]
        arrays = {k: v for k, v in self.arrays.items() if k.split("_")[0] in modalities}
        return FilmInputs(self.film_ids, list(modalities), arrays, self.mask[:, keep], self.status)

    def tensors(self) -> dict[str, torch.Tensor]:
        """Torch views of the arrays (shared memory) plus the mask."""
        out = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.arrays.items()}
        out["mask"] = torch.from_numpy(self.mask.copy())
        return out


def media_modalities(cfg: Config) -> list[str]:
    """Which media modalities a config asks for."""
    if cfg.media.mode == "none":
        return []
    if cfg.media.mode in ("simulated", "trailers"):
        return ["video", "audio"]
    raise ValueError(f"--media must be none, simulated or trailers, got {cfg.media.mode!r}")


class Featurizer:
    """Computes (or reads back) every film's frozen features for the modalities a config asks for."""

    def __init__(self, cfg: Config, device: str = "auto", progress: bool = True, frame_dim: int = 0):
        from reelcast.encoders.common import resolve_device

        self.cfg = cfg
        # Width of the frame vectors when known (a saved model's): films without trailers then never load
        # the frame encoder just to learn it.
        self.frame_dim = frame_dim
        self.device = str(resolve_device(device))
        self.progress = progress
        self.store = open_store(cfg.cache_dir)
        self._text_encoder = None
        self._frame_encoder = None
        self.stats: dict[str, int] = {"text_encoded": 0, "text_cached": 0}

    # ---- encoders are loaded on first use: a fully cached run never loads them
    @property
    def text_encoder(self):
        """The frozen text encoder."""
        if self._text_encoder is None:
            from reelcast.encoders.text import TextEncoder

            self._text_encoder = TextEncoder(self.cfg.text, self.device)
        return self._text_encoder

    @property
    def frame_encoder(self):
        """The frozen per-frame image encoder."""
        if self._frame_encoder is None:
            from reelcast.encoders.frames import create_frame_encoder

            v = self.cfg.video
            self._frame_encoder = create_frame_encoder(
                v.model,
                device=self.device,
                batch_size=v.batch_size,
                precision=v.precision,
                threads=v.threads,
                torch_compile=v.compile,
            )
        return self._frame_encoder

    def text_encoder_id(self) -> str:
        """The id the text features are stored under (without loading the model)."""
        from reelcast.encoders.text import text_encoder_id

        return text_encoder_id(self.cfg.text, self.device)

    def encoder_ids(self, modalities: list[str], external: ExternalFeatures | None) -> dict[str, str]:
        """The id of the encoder behind each modality a model reads (saved with it, checked on load)."""
        cfg, ids = self.cfg, {}
        if "text" in modalities:
            ids["text"] = self.text_encoder_id()
        if "video" in modalities:
            # The precision is part of the id, as it is of the store's: frames encoded in bf16 are not
            # the fp32 ones.
            bf16 = "+bf16" if use_bf16(torch.device(self.device), cfg.video.precision) else ""
            ids["video"] = "simulated" if cfg.media.mode == "simulated" else cfg.video.model + bf16
        if "external" in modalities and external is not None:
            ids["external"] = f"file:{Path(external.source).name}"
        if "audio" in modalities:
            simulated = cfg.media.mode == "simulated"
            ids["audio"] = "simulated" if simulated else f"{cfg.audio.frontend}:{cfg.media.sample_rate}"
        return ids

    def build(self, films: pd.DataFrame, text_id: str | None = None) -> FilmInputs:
        """Inputs for every film of a canonical film frame (`text_id`: `text_encoder_id()`, if known)."""
        ids = films["film_id"].astype(str).tolist()
        texts = films["text"].fillna("").astype(str).tolist()
        arrays: dict[str, np.ndarray] = {}
        masks = []
        modalities = ["text"]
        if self.cfg.text.finetune:
            enc = self.text_encoder.tokenize([t or " " for t in texts])
            arrays["text_ids"] = enc["input_ids"].numpy()
            arrays["text_attn"] = enc["attention_mask"].numpy()
        else:
            arrays["text"] = self.text_features(texts, text_id)
        masks.append(np.array([bool(t.strip()) for t in texts]))
        status: list[dict] = [{} for _ in ids]
        media = media_modalities(self.cfg)
        if media:
            video, audio, vmask, amask, status = self.media_features(films)
            arrays["video"], arrays["audio"] = video, audio
            modalities += media
            masks += [vmask, amask]
        return FilmInputs(ids, modalities, arrays, np.stack(masks, axis=1), status)

    def text_features(self, texts: list[str], enc_id: str | None = None) -> np.ndarray:
        """(N, Dt) float32 text vectors; only texts missing from the store are encoded.

        `enc_id`: the store id when the caller already has it (computing it hashes the model's files).
        """
        enc_id = enc_id or self.text_encoder_id()
        keys = [sha256_text(t) for t in texts]
        found = {}
        for k in set(keys):
            v = self.store.get("text", enc_id, k)
            if v is not None:
                found[k] = v
        todo = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in found and t.strip()}.items()
        )
        if todo:
            vecs = self.text_encoder.encode([t for _, t in todo], progress=self.progress)
            for (k, _), v in zip(todo, vecs, strict=True):
                self.store.put("text", enc_id, k, v)
                found[k] = v
        self.stats["text_encoded"] += len(todo)
        self.stats["text_cached"] += len(found) - len(todo)  # found = store hits + the texts just encoded
        dim = next(iter(found.values())).shape[0] if found else self.text_encoder.dim
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for i, k in enumerate(keys):
            if k in found:
                out[i] = found[k]
        return out

    def media_features(self, films: pd.DataFrame):
        """Video (N, T, Dv) and audio (N, C, L) float16 arrays, masks, and a status per film."""
        if self.cfg.media.mode == "simulated":
            return self.simulated_media(films["film_id"].astype(str).tolist())
        from reelcast.media.extract import extract_media

        return extract_media(
            films,
            self.cfg,
            self.store,
            lambda: self.frame_encoder,
            progress=self.progress,
            frame_dim=self.frame_dim,
        )

    def simulated_media(self, ids: list[str]):
        """Deterministic noise per film id: shapes of real trailer inputs, no information about labels."""
        from reelcast.encoders.audio import audio_input_shape

        m = self.cfg.media
        a_shape = audio_input_shape(self.cfg.audio, m.sample_rate, m.audio_seconds)
        video = np.empty((len(ids), m.num_frames, SIMULATED_VIDEO_DIM), dtype=np.float16)
        audio = np.empty((len(ids), *a_shape), dtype=np.float16)
        for i, fid in enumerate(ids):
            # Seeded by the id alone, so the same film gets the same "trailer" in every run and split.
            rng = np.random.default_rng(int(sha256_text(f"simulated:{fid}")[:16], 16))
            video[i] = rng.standard_normal(video.shape[1:], dtype=np.float32)
            audio[i] = rng.standard_normal(a_shape, dtype=np.float32)
        ok = np.ones(len(ids), dtype=bool)
        return video, audio, ok, ok.copy(), [{"media": "simulated"} for _ in ids]


@dataclass
class SplitFeatures:
    """The inputs fit on one split's training films: standardised metadata and external vectors."""

    tabular: TabularEncoder | None = None
    external: ExternalFeatures | None = None
    leaky_columns: list[str] = field(default_factory=list)  # post-release columns used (allowed by config)
    features_file: str | None = None  # data.features of the run: where external vectors are read

    @classmethod
    def fit(
        cls,
        films: pd.DataFrame,
        post_release: list[str],
        film_ids: list[str],
        train: np.ndarray,
        cfg: Config,
        tabular: bool,
        external: bool,
    ) -> SplitFeatures:
        """Fit the metadata encoder (leak-checked) and/or the external features on the training films."""
        self = cls(features_file=cfg.data.features or None)
        if tabular:
            cols = cfg.tabular.columns or default_columns(films)
            self.leaky_columns = check_leakage(cols, post_release, cfg.tabular.allow_post_release)
            self.tabular = TabularEncoder(cols, settings=cfg.tabular).fit(films.iloc[train])
        if external and cfg.data.features:
            # Bring-your-own features, standardised with the training films' statistics
            train_ids = [film_ids[i] for i in train]
            self.external = ExternalFeatures.fit(cfg.data.features, train_ids, cfg.data.features_id_col)
        return self

    def add(self, inputs: FilmInputs, films: pd.DataFrame | None, modalities: set[str]) -> FilmInputs:
        """Inputs with the asked-for fitted modalities (tabular, external) added where missing."""
        if "tabular" in modalities and self.tabular is not None and "tabular" not in inputs.modalities:
            if films is None:
                raise ValueError("this model reads tabular metadata; pass the films' table with the inputs")
            inputs = inputs.with_tabular(*self.tabular.transform(films))
        if "external" in modalities and self.external is not None and "external" not in inputs.modalities:
            feats, present = self.external.transform(inputs.film_ids, self.features_file)
            inputs = inputs.with_modality("external", feats, present)
        return inputs

    def state(self) -> dict:
        """Plain data for the checkpoint."""
        return {
            "tabular": self.tabular.to_dict() if self.tabular else None,
            "external": self.external.to_dict() if self.external else None,
            "leaky_columns": list(self.leaky_columns),
        }

    @classmethod
    def from_state(cls, state: dict, cfg: Config) -> SplitFeatures:
        """Rebuild from `state()`; external vectors are read from cfg.data.features (as configured)."""
        return cls(
            TabularEncoder.from_dict(state["tabular"]) if state.get("tabular") else None,
            ExternalFeatures.from_dict(state["external"]) if state.get("external") else None,
            list(state.get("leaky_columns") or []),
            cfg.data.features or None,
        )


def base_dir_of(films: pd.DataFrame) -> Path | None:
    """The folder a table was read from (relative trailer paths resolve against it)."""
    d = films.attrs.get("base_dir")
    return Path(d) if d else None

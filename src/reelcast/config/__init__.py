"""Typed configuration: every default of reelcast lives in this module (reading and writing TOML in `toml`).

A `Config` is built from defaults, then a TOML file (`--config run.toml`, tables named like the
sections below), then `section.field=value` overrides from the command line. The resolved config is
saved beside every run (`config.toml`) and inside every model checkpoint.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from reelcast.config.toml import apply, toml_line


@dataclass
class DataConfig:
    """How a film table is read and which columns mean what."""

    schema: str = "auto"  # auto | imdb1000 | tmdb5000 | generic
    id_col: str | None = None
    title_col: str | None = None
    text_col: str | None = None
    revenue_col: str | None = None
    trailer_col: str | None = None
    # Revenue in the table is multiplied by this to get millions; None = the schema's own unit.
    revenue_scale: float | None = None
    # TMDB writes 0 for "unknown"; a zero revenue is only a real revenue when the user says so.
    # None = the schema's own rule (IMDB-1000 rounds to 0.01 M, so its 0.00 is real; TMDB's 0 is not).
    zero_revenue_valid: bool | None = None
    # A CSV row with the wrong number of fields stops the load, unless the user asks to skip such rows.
    skip_bad_rows: bool = False
    # Joins a table without a trailer column to YouTube ids (MovieLens ml-youtube.csv + links.csv).
    trailer_map: str | None = None
    trailer_links: str | None = None
    # Decimal mark of revenue cells: auto refuses cells that only read with a decimal comma ("1,5").
    decimal: str = "auto"  # auto | . | ,
    # Longest cell (characters) a table may hold; a longer one is an error naming its line and column.
    max_cell_chars: int = 100_000
    # Revenue above this (millions; 30x the top-grossing film) is no film's: in a column of undeclared
    # unit it means the column holds dollars.
    max_revenue_musd: float = 100_000.0
    # Budget in the table is multiplied by this to get millions; None = the schema's own unit (a generic
    # table's budget is read as millions, and a bare 237000000 there is refused as implausible).
    budget_scale: float | None = None
    # A budget above this (millions; 20x the costliest film) is no film's, as for revenue.
    max_budget_musd: float = 10_000.0
    # Order of `01/02/2010` dates: True day first, False month first, None refuses one read both ways.
    dayfirst: bool | None = None
    # Director and top cast per film (by id, or title + year), for the people track-record features.
    people: str | None = None
    # Bring-your-own per-film feature vectors (Parquet, CSV, NPZ or NPY + ids) keyed by film id.
    features: str | None = None
    features_id_col: str | None = None  # None = the first of id, film_id, tmdb_id, ... present


@dataclass
class LabelConfig:
    """Revenue -> one of the eight ordered classes."""

    strategy: str = "quantile"  # quantile (fit on training films only) | thresholds
    # Seven ascending edges in millions, used with strategy = "thresholds".
    thresholds: list[float] = field(default_factory=lambda: [1.0, 5.0, 20.0, 40.0, 65.0, 100.0, 150.0])
    # Deflate revenue to the CPI base year (data/cpi_us.csv) before binning, so a class means the same
    # buying power in 1980 and 2015; edges are still fit on the training films only.
    constant_dollars: bool = False


@dataclass
class SplitConfig:
    """Which train/val/test splits a run trains and compares."""

    splits: str = "all"  # all | 70-20-10 | 75-15-10 | 80-10-10 (comma-separated list allowed)
    cv: int = 0  # > 1: stratified K-fold cross-validation instead of the fixed splits
    seed: int = 42
    # random (stratified) | date: train on the oldest films, validate on the next, test on the newest.
    by: str = "random"


@dataclass
class TextConfig:
    """The frozen (or fine-tuned) text encoder over the description."""

    model: str = "bert-base-uncased"  # hub id or local Hugging Face directory
    max_length: int = 256
    pooling: str = "cls"  # cls | mean
    finetune: bool = False
    batch_size: int = 32
    # Read a plain BERT folder with torch and `tokenizers` alone (the same vectors, seconds less start-up);
    # false: always through transformers.
    lean: bool = True
    # fp32 | bf16 | auto (bf16 where the CPU/GPU has native bf16 units). On a 2-core AMX Xeon bf16
    # weights encode one plot 1.9x faster (8 plots on both cores: 1.8x), the vectors within 1.1 % (L2)
    # of fp32's (benchmarks/text.py); over 18 paired TMDB splits test QWK moved -0.003 (-0.007 .. +0.001).
    # Opt-in, so that the default trains the same model on every machine; a model is served with the
    # precision it was trained with, and the store keeps their vectors apart.
    precision: str = "fp32"


@dataclass
class MediaConfig:
    """Trailer acquisition and decoding."""

    mode: str = "none"  # none | simulated | trailers
    num_frames: int = 30
    trim_start: float = 0.0  # seconds skipped at the start (studio logos)
    trim_end: float = 0.0  # seconds skipped at the end (credits)
    resize: int = 256  # shorter side before the centre crop
    crop: int = 224
    audio_seconds: float = 30.0
    audio_offset: float = 0.0
    sample_rate: int = 16000
    download_dir: str | None = None  # default: <cache_dir>/trailers
    max_height: int = 480
    offline: bool = False
    download_workers: int = 3
    decode_workers: int = 2
    timeout: float = 120.0
    retries: int = 3
    # Limits of one download (media/safe_fetch.py): bytes, seconds overall (redirects included), and
    # whether an http(s) trailer URL may point at a loopback/private/link-local address (an intranet).
    max_download_mb: float = 2048.0
    download_deadline: float = 600.0
    allow_private_hosts: bool = False
    # A table's local trailer paths must lie in the table's folder unless this is set.
    allow_outside_paths: bool = False
    # Largest local trailer file read (checked before hashing or decoding).
    max_file_mb: float = 4096.0
    # yt-dlp cookies file (Netscape format) of a signed-in browser session: YouTube's bot check
    # refuses many anonymous downloads from data-centre addresses.
    cookies: str | None = None
    # Seconds between the starts of two downloads on one machine (all its workers together), to stay
    # under a per-address rate limit (about 300 an hour without an account: 12 s).
    download_pause: float = 0.0
    # First wait after an HTTP 429 (doubles per retry, capped at 15 min) unless Retry-After says more.
    rate_limit_wait: float = 60.0


@dataclass
class VideoConfig:
    """Per-frame image encoder (frozen) and the trainable temporal module."""

    model: str = "microsoft/resnet-50"
    temporal: str = "conv"  # conv | gru | lstm
    batch_size: int = 32
    # fp32 | bf16 | auto (bf16 autocast where the CPU/GPU has native bf16 units, else fp32). bf16 runs
    # the CNN 2-5x faster on AMX CPUs, but is opt-in: on real trailer frames MobileNetV2's features were
    # cosine 0.985 to fp32 on the worst (low-contrast) frames (encoders/frames.py). The cache keeps the
    # precisions apart.
    precision: str = "fp32"
    compile: bool = False  # torch.compile: ~2x faster encoding after ~10 s of compiling; for long jobs
    # torch threads of each frame encoder. 0: one per extraction encoder process/actor (see
    # scale.encode_actors), torch's default for the in-process encoder (one trailer, predictions).
    threads: int = 0


@dataclass
class AudioConfig:
    """Cached audio input and the trainable 1-D CNN that encodes it."""

    frontend: str = "logmel"  # logmel | waveform
    n_mels: int = 64
    hop_ms: float = 10.0
    win_ms: float = 25.0
    dim: int = 1024


@dataclass
class TabularConfig:
    """Pre-release metadata as a fourth modality and for the tabular baseline."""

    columns: list[str] | None = None  # None = every pre-release column group the table has
    # Vocabulary sizes of the multi-hot / one-hot groups: the most frequent values in the training films.
    keywords_top_k: int = 100
    # How keywords become features: multi_hot (one column per top-k keyword), track (the keywords' track
    # record: how far above the market the earlier training films sharing a keyword did, as for
    # studios; only films released before the film count) or both (keywords_top_k sizes the
    # multi-hot). Chosen on validation films (dropout 0.15, 3 seeds): track 0.767 vs multi_hot 0.756 QWK
    # on TMDB-5000's temporal split, 0.733 vs 0.726 on 80-10-10; the 100-keyword multi-hot learns tags
    # whose meaning drifts with time (docs/results.md, robustness).
    keywords_encoding: str = "track"  # multi_hot | track | both
    companies_top_k: int = 30
    countries_top_k: int = 15
    languages_top_k: int = 10
    # A value must appear in at least this many training films to get its own column.
    min_count: int = 5
    # Track records (studios, people): mean earlier log revenue shrunk toward the training mean with
    # this many pseudo-films, so one earlier hit does not make a studio a hit-maker.
    track_smoothing: float = 3.0
    # An explicit empty list (no keywords, no companies, no genres) or empty collection counts as unknown,
    # not as "none": in TMDB-5000 such records are blanks nobody filled in (their films have 9-50x fewer
    # votes and lack a tagline 4-6x as often; docs/keyword_audit.md).
    none_means_unknown: bool = True
    # Group dropout, so the network and the trees learn what a film without an optional input (keywords,
    # companies, ...) looks like (0 = off). augment: every training film stays as it is and enters once
    # more with each optional input unknown with this probability, at least one (0.5: every non-empty set
    # equally likely); replace: each input unknown for this share of the training films, in place (it was
    # chosen at 0.15). On TMDB-5000's validation films (3 training seeds, benchmarks/robustness.py)
    # augment 0.5 vs replace 0.15, every input / mean over films lacking inputs: 0.736 / 0.726 vs 0.730 /
    # 0.725 (80-10-10), 0.772 / 0.759 vs 0.767 / 0.753 (temporal); no dropout 0.745 / 0.713, 0.757 / 0.692.
    group_dropout: float = 0.5
    group_dropout_mode: str = "augment"  # augment | replace
    # Films lacking every optional input take their own blend, which may weigh trees fit on the basic
    # columns alone (models.basics), with weights fit on validation films with those inputs masked. On
    # TMDB-5000's temporal split it lifts basics-only test QWK from 0.700 to 0.718 (a model trained on the
    # basics alone: 0.733); on 80-10-10 it gives 0.718 (0.729 without it, 0.720 basics-trained).
    basics_route: bool = True
    # None = auto: fused as a modality whenever the table has pre-release metadata.
    use_in_fusion: bool | None = None
    # Post-release columns (votes, ratings, popularity) leak the outcome; off unless asked for.
    allow_post_release: bool = False


@dataclass
class EnsembleConfig:
    """Gradient-boosted trees beside the fusion network, blended with weights fit on validation films."""

    # auto = on when the table has pre-release metadata; off = the fusion network alone.
    enabled: str = "auto"  # auto | on | off
    components: list[str] = field(default_factory=lambda: ["fusion", "gbm_classifier", "gbm_regressor"])
    seeds: int = 3  # tree models per component, averaged (bagging differs per seed)
    learning_rate: float = 0.03
    num_leaves: int = 15
    min_child_samples: int = 20
    subsample: float = 0.8
    colsample: float = 0.7
    reg_lambda: float = 1.0
    max_rounds: int = 3000
    early_stopping_rounds: int = 100
    # Rounds sized to the data: see models.gbm.round_budget.
    rounds_per_film: float = 2.0
    min_rounds: int = 200
    early_stopping_min_delta: float = 1e-4  # a gain below this is no gain: stopping stops
    max_bin: int = 63  # histogram bins per feature
    fixed_rounds: int = 300  # when a split has no validation films to stop on
    threads: int = 0  # LightGBM threads; 0 = one below parallel_films training films, else all cores
    parallel_films: int = 10000  # below it threads only wait on each other (worst on a busy machine)
    # The plot text enters the trees as one out-of-fold ridge prediction of log revenue.
    text_stack: bool = True
    text_stack_alpha: float = 10.0
    weight_step: float = 0.05  # grid step of the blend weights
    decision: str = "auto"  # argmax | median | expected | auto (chosen on validation films)
    # The revenue range: conformal (on the log-revenue regressor's validation residuals) | cqr | off
    revenue_intervals: str = "conformal"


@dataclass
class ModelConfig:
    """The fusion network."""

    fusion: str = "concat"  # concat | attention
    hidden: list[int] = field(default_factory=lambda: [512, 256])
    dropout: float = 0.3
    attention_dim: int = 256
    attention_heads: int = 4
    # Probability of hiding a present modality during training, so missing trailers are expected.
    modality_dropout: float = 0.1
    # classify: 8-way softmax | multitask: + a log-revenue regression head (a blend component of its own)
    # | corn: ordinal CORN head (7 conditional binary tasks)
    objective: str = "classify"
    regression_weight: float = 1.0  # weight of the regression loss beside the class loss (multitask)
    # Post-release columns learned as extra outputs (never inputs); ["auto"] = every recognised one.
    aux_targets: list[str] = field(default_factory=list)
    aux_weighting: str = "fixed"  # fixed: aux_weight each | uncertainty: learned (Kendall et al. 2018)
    aux_weight: float = 0.3


@dataclass
class TrainConfig:
    """The optimisation loop."""

    lr: float = 1e-4
    weight_decay: float = 0.01
    epochs: int = 50
    patience: int = 10
    batch_size: int = 16
    scheduler: str = "plateau"  # plateau | cosine | none
    plateau_factor: float = 0.5
    plateau_patience: int = 3
    grad_clip: float = 1.0
    class_balanced: bool = True
    text_lr: float = 2e-5  # encoder learning rate when the text model is fine-tuned
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 42
    threads: int = 0  # torch intra-op threads; 0 = torch's default
    # Below this many films, single-film scoring runs one torch thread and the ablation's baselines fit
    # in one single-threaded process per core (training.loop.torch_threads_for, evaluation.ablation).
    parallel_films: int = 2000
    init: str | None = None  # a saved model (split folder) or base whose network layers start training
    freeze_epochs: int = 0  # epochs the warm-started layers stay frozen before all train
    # Film tables (paths) whose films join every split's training films only: never validation, test or
    # the class edges (--add-films; for a studio with few films of its own, docs/results.md, transfer).
    add_films: list[str] = field(default_factory=list)
    # Data-sized batch and lr beyond scale_films training films (0 = off): see training.loop.scaled_for.
    scale_films: int = 2000
    max_batch_size: int = 256
    max_steps: int = 20000  # optimiser steps over the whole run (deterministic); 0 = no limit
    max_seconds: float = 0.0  # wall-clock limit of one network's training (not deterministic); 0 = none


@dataclass
class EvalConfig:
    """Baselines, ablation and statistics written into every report."""

    ablation: bool = True
    bootstrap: int = 1000
    confidence: float = 0.95
    calibration_bins: int = 10
    temperature_scaling: bool = True
    permutation_repeats: int = 5
    permutation_max_films: int = 2000  # permutation importance on a seeded sample of this many test films


@dataclass
class ScaleConfig:
    """Which engine runs `extract`, and the Ray cluster's shape when it is Ray."""

    engine: str = "local"  # local (worker processes on this machine) | ray (Ray Data, pip reelcast[ray])
    # None: start a private Ray instance on this machine; "auto" or HOST:PORT: join a running cluster.
    address: str | None = None
    # CPUs extraction uses on this machine: the local engine's frame encoders, or a private Ray
    # instance; 0 = every CPU this process may run on (its affinity mask).
    num_cpus: int = 0
    # Frame encoders (local processes, Ray actors; text actors too). 0 = sized to the cores: one per GPU
    # where the cluster has GPUs, else one per `video.threads` CPUs (one single-threaded encoder per
    # core by default: no OpenMP stalls beside busy decode workers, features independent of the count).
    encode_actors: int = 0
    encode_batch: int = 4  # films per encoder batch; the CNN's forward batches span them
    decode_cpus: float = 1.0  # CPUs reserved by one decode task
    # CPUs reserved by one encoder actor (its torch threads: this, at least 1). 0: it shares the cores
    # the decode tasks take, like the local engine's CNN beside its workers (benchmarks/extract.py,
    # table 4); on big CPU-only nodes give it whole cores.
    encode_cpus: float = 0.0
    # Per-node cap on concurrent downloads: each node offers this many `reelcast_download` resources
    # (`ray start --resources='{"reelcast_download": 3}'`); a private instance gets media.download_workers.
    download_resource: str = "reelcast_download"


@dataclass
class ABConfig:
    """`reelcast ab-report`: intervals, drift periods and the thresholds that flag a shift."""

    bootstrap: int = 1000
    confidence: float = 0.95
    alpha: float = 0.05  # significance level of the arm comparison
    seed: int = 0
    # Drift periods of the log, by prediction time: day | week | month, or a count N of equal-size slices.
    periods: str = "month"
    # Population stability index: >= moderate is reported as a moderate shift, >= major as a major one.
    psi_moderate: float = 0.1
    psi_major: float = 0.25
    # A shift is flagged only when its test (chi-square or Kolmogorov-Smirnov) also has p below this.
    drift_alpha: float = 0.01
    calibration_bins: int = 10
    # Periods with fewer predictions than this are shown but not tested.
    min_period_films: int = 20


@dataclass
class Config:
    """Everything a run needs; `Config()` is the documented default."""

    data: DataConfig = field(default_factory=DataConfig)
    labels: LabelConfig = field(default_factory=LabelConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    text: TextConfig = field(default_factory=TextConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    tabular: TabularConfig = field(default_factory=TabularConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    ab: ABConfig = field(default_factory=ABConfig)
    scale: ScaleConfig = field(default_factory=ScaleConfig)
    # A local folder, or an fsspec URL (s3://bucket/prefix, ...) every node of a cluster can reach.
    cache_dir: str = ".reelcast_cache"

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        """Build a config from nested dicts; unknown keys are an error naming the key."""
        cfg = cls()
        cfg.update(d)
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> Config:
        """Read a TOML file into a config."""
        path = Path(path)
        try:
            with path.open("rb") as f:
                d = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: not valid TOML: {e}") from e
        try:
            return cls.from_dict(d)
        except (KeyError, ValueError, TypeError) as e:
            raise ValueError(f"{path}: {e}") from e

    def update(self, d: dict[str, Any], prefix: str = "") -> None:
        """Apply nested overrides in place, converting values to the field types."""
        apply(self, d, prefix)

    def with_absolute_paths(self) -> Config:
        """A copy whose local paths (models, caches, maps) are absolute, so a saved run works from any
        working directory. Hub ids and names that are not existing paths are left as they are."""
        out = Config.from_dict(self.to_dict())
        out.cache_dir = str(Path(out.cache_dir).expanduser().resolve())
        if out.media.download_dir:
            out.media.download_dir = str(Path(out.media.download_dir).expanduser().resolve())
        for section, key in (
            ("text", "model"),
            ("video", "model"),
            ("data", "trailer_map"),
            ("data", "trailer_links"),
            ("train", "init"),
        ):
            node = getattr(out, section)
            value = getattr(node, key)
            if value and not Path(value).is_absolute() and Path(value).expanduser().exists():
                setattr(node, key, str(Path(value).expanduser().resolve()))
        out.train.add_films = [str(Path(p).expanduser().resolve()) for p in out.train.add_films]
        return out

    def override(self, assignments: list[str]) -> None:
        """Apply `section.field=value` strings (values parsed as TOML, else as plain strings)."""
        for a in assignments:
            if "=" not in a:
                raise ValueError(f"override {a!r}: expected section.field=value")
            key, raw = a.split("=", 1)
            try:
                value = tomllib.loads(f"v = {raw}")["v"]
            except tomllib.TOMLDecodeError:
                value = raw
            node: dict[str, Any] = {}
            cur = node
            parts = key.strip().split(".")
            for p in parts[:-1]:
                cur = cur.setdefault(p, {})
            cur[parts[-1]] = value
            self.update(node)

    # ---- output ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (None values kept)."""
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        """Serialise to TOML; None values are written as comments since TOML has no null."""
        lines: list[str] = []
        top = {k: v for k, v in self.to_dict().items() if not isinstance(v, dict)}
        for k, v in top.items():
            lines.append(toml_line(k, v))
        for section, values in self.to_dict().items():
            if not isinstance(values, dict):
                continue
            lines.append(f"\n[{section}]")
            for k, v in values.items():
                lines.append(toml_line(k, v))
        return "\n".join(lines) + "\n"

    def save(self, path: str | Path) -> None:
        """Write the resolved config as TOML (atomically)."""
        from reelcast.files import atomic_write_text

        atomic_write_text(Path(path), self.to_toml())


SPLITS: dict[str, tuple[float, float, float]] = {
    "70-20-10": (0.70, 0.20, 0.10),
    "75-15-10": (0.75, 0.15, 0.10),
    "80-10-10": (0.80, 0.10, 0.10),
}


def split_names(spec: str) -> list[str]:
    """Expand `all` or a comma list into known split names, in a stable order."""
    if spec == "all":
        return list(SPLITS)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    for n in names:
        if n not in SPLITS:
            raise ValueError(f"unknown split {n!r}; known: all, {', '.join(SPLITS)}")
    return names

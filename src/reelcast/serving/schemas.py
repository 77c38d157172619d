"""Request and response models of the HTTP API (what /docs shows); the film metadata lives in metadata.py."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from reelcast.models.intervals import parse_breakeven
from reelcast.serving.limits import has_lone_surrogate
from reelcast.serving.metadata import FilmMetadata, check_json_numbers
from reelcast.serving.settings import ServeSettings

# Limits baked into the request schema (and so into /docs); ServeSettings can only lower them.
DESCRIPTION_MAX = ServeSettings.max_description_chars
TITLE_MAX = ServeSettings.max_title_chars
URL_MAX = ServeSettings.max_trailer_url_chars


class PredictRequest(BaseModel):
    """One film to predict."""

    model_config = ConfigDict(extra="forbid")

    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=DESCRIPTION_MAX)
    ]
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=TITLE_MAX)] = ""
    trailer_url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=URL_MAX)] | None = Field(
        default=None, description="YouTube URL or id, or an http(s) link to a video file."
    )
    film_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=TITLE_MAX)] = Field(
        default="", description="Your id of the film: it picks the A/B arm and joins later revenues."
    )
    metadata: FilmMetadata | None = Field(
        default=None, description="Budget, release date, genres, people, ...: what the trees read."
    )
    breakeven: str | float | None = Field(
        default=None,
        description="Revenue to reach: '2.5x' (times metadata.budget_musd) or $M; the response's "
        "revenue.p_at_least is P(revenue >= it)",
    )
    explain: bool = Field(default=False, description="Add `reasons`: what moved this film's prediction")

    @field_validator("description", "title", "trailer_url")
    @classmethod
    def _valid_unicode(cls, value: str | None) -> str | None:
        # json.loads turns a "\ud800" escape into a lone surrogate, which no encoder or tokenizer can take.
        if value is not None and has_lone_surrogate(value):
            raise ValueError("contains a lone surrogate (\\ud800-\\udfff): not valid Unicode text")
        return value

    @field_validator("breakeven", mode="before")
    @classmethod
    def _breakeven_kind(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | float | None):
            raise ValueError("breakeven must be '2.5x' (times the budget) or a number of $M")
        return value

    @model_validator(mode="after")
    def _breakeven(self) -> PredictRequest:
        parse_breakeven(self.breakeven, self.metadata.budget_musd if self.metadata else None)
        return self

    @field_validator("metadata", mode="before")
    @classmethod
    def _json_numbers(cls, value: Any) -> Any:
        # JSON has numbers: `true` or "150" for a budget is a client bug, not a number to guess from.
        return check_json_numbers(value)


class ClassProbability(BaseModel):
    """One class and its predicted probability."""

    index: int
    name: str
    probability: float


class Breakeven(BaseModel):
    """The chance the film's revenue reaches a threshold."""

    threshold_musd: float
    p: float = Field(description="P(revenue >= threshold_musd), from the calibrated range")


class RevenueEstimate(BaseModel):
    """The film's revenue: median and calibrated intervals, millions of dollars."""

    median_musd: float
    dollars: str = Field(description="nominal, or constant YEAR US dollars when the model uses them")
    intervals: dict[str, list[float]] = Field(
        description="Level ('50', '80', '95') -> [low, high] $M: the share of films whose revenue falls "
        "inside, calibrated on the validation films"
    )
    p_at_least: Breakeven | None = None


class Reason(BaseModel):
    """One input and how far it moved the expected class."""

    input: str = Field(description="budget, release, runtime, genres, companies, ..., plot, trailer")
    value: str = Field(description="What the film has")
    effect_classes: float = Field(description="Signed shift of the expected class (0-7)")
    text: str


class ModelEstimate(BaseModel):
    """A post-release figure the model estimates from the same inputs (an aux output): not a known value."""

    target: str = Field(description="The table column the model learned it from, e.g. vote_average")
    label: str = Field(description="What it is, e.g. 'IMDb rating'")
    value: float
    text: str = Field(description="e.g. 'expected IMDb rating 7.4 (model estimate)'")


class PredictionResponse(BaseModel):
    """A prediction for one film."""

    title: str
    predicted_class: int = Field(description="0 (Disaster) .. 7 (Blockbuster)")
    class_name: str
    confidence: float = Field(description="Probability of the predicted class")
    probabilities: list[ClassProbability] = Field(description="All eight classes, in class order")
    contributions: dict[str, float] = Field(
        description="Per modality: the drop in the predicted class's probability when it is masked"
    )
    modalities_used: dict[str, bool]
    uses_trailers: bool = Field(description="Whether this model reads trailer pictures and sound at all")
    warnings: list[str]
    trailer_status: dict[str, Any]
    unknown_inputs: list[str] = Field(
        default_factory=list, description="The metadata inputs the model reads that this request lacked"
    )
    expected_accuracy_without_them: dict[str, Any] | None = Field(
        default=None,
        description="The model's validation accuracy (exact, one_away, qwk) on films lacking those inputs; "
        "pattern 'exact' when that set was measured, else the basic-columns-only row",
    )
    arm: str = Field(default="", description="The model (A/B arm) that answered")
    model_id: str = Field(default="", description="sha256 prefix of the answering model's checkpoint")
    revenue: RevenueEstimate | None = Field(
        default=None, description="Revenue in $M with calibrated intervals (null: the model has no range)"
    )
    reasons: list[Reason] | None = Field(
        default=None, description='With "explain": true: the inputs that moved the prediction, largest first'
    )
    model_estimates: list[ModelEstimate] | None = Field(
        default=None, description="With aux outputs: estimates of post-release figures (null: none)"
    )


class ThresholdRange(BaseModel):
    """The revenue range (millions of dollars) of one class."""

    index: int
    name: str
    min_musd: float
    max_musd: float | None


class Interval(BaseModel):
    """A test metric and its bootstrap interval."""

    point: float
    low: float
    high: float


class YearSpan(BaseModel):
    """The release years of one portion's films."""

    first: int
    last: int
    films: int = Field(description="How many of the portion's films have a known year")


class LevelCoverage(BaseModel):
    """How one level of the revenue range held on the run's test films."""

    nominal: float = Field(description="The level promised, e.g. 0.8")
    coverage: Interval = Field(description="Share of test films whose revenue fell inside, with its interval")
    median_width_musd: Interval = Field(description="Median interval width, $M, with its interval")


class RevenueRangeInfo(BaseModel):
    """How the model's revenue range (`revenue` of every answer) is calibrated."""

    method: str = Field(description="conformal (signed residuals of a log-revenue regressor) or cqr")
    centred_on: str = Field(description="The regressor a conformal range is centred on")
    dollars: str = Field(description="nominal, or constant dollars of a base year")
    levels: list[str] = Field(description="The interval levels in percent, e.g. ['50', '80', '95']")
    calibration_films: int = Field(description="The validation films it was calibrated on")
    validation_coverage: dict[str, float] = Field(
        default_factory=dict, description="Per level, the share of those validation films the range holds"
    )


class RunEvaluation(BaseModel):
    """What the model's training run measured on films it never saw (its evaluation_results.json)."""

    split: str
    films: dict[str, int] = Field(description="Films per portion: train, val, test")
    years: dict[str, YearSpan | None] = Field(
        default_factory=dict, description="Release years per portion (empty when the run did not record them)"
    )
    train_class_counts: list[int] = Field(default_factory=list, description="Training films per class")
    dollars: str = Field(description="Whether the class edges are nominal or constant dollars")
    confidence: float = Field(description="Level of the bootstrap intervals, e.g. 0.95")
    test: dict[str, Interval] = Field(description="Test metrics with intervals: accuracy, qwk, ...")
    revenue_coverage: dict[str, LevelCoverage] = Field(
        default_factory=dict, description="Per level, how the revenue range held on the test films"
    )


class ModelInfo(BaseModel):
    """What the loaded model is and what the server accepts."""

    reelcast_version: str
    class_names: list[str]
    thresholds_musd: list[float]
    classes: list[ThresholdRange]
    metrics: dict[str, Any]
    encoder_ids: dict[str, str]
    modalities: list[str]
    uses_trailers: bool
    uses_metadata: bool = Field(description="Whether budget, dates, genres, ... reach the model")
    components: dict[str, float] = Field(description="Blend weight of each component (fusion, trees)")
    decision: str = Field(description="How the class is chosen from the probabilities")
    media_mode: str
    temperature: float
    max_text_tokens: int
    max_description_chars: int
    max_upload_mb: float
    allowed_extensions: list[str]
    batch_window_ms: float = Field(description="How long concurrent requests are collected into one batch")
    batch_max_size: int = Field(description="The most requests scored in one batch")
    answer_cache_entries: int = Field(
        description="Answers to trailer-less requests kept, by the whole request, and reused (0 = off)"
    )
    arms: list[dict[str, Any]] = Field(default_factory=list, description="Every model behind the server")
    metadata_fields: list[str] = Field(
        default_factory=list,
        description="The request's metadata fields the model reads (release_date also gives the year)",
    )
    feature_groups: list[str] = Field(
        default_factory=list, description="The metadata columns and feature groups the model was trained with"
    )
    evaluation: RunEvaluation | None = Field(
        default=None, description="Test accuracy with intervals from the training run, when its results exist"
    )
    evaluation_note: str = Field(default="", description="Why `evaluation` is absent, in a sentence")
    revenue_intervals: RevenueRangeInfo | None = Field(
        default=None, description="How the revenue range is calibrated (None: the model gives none)"
    )


class Health(BaseModel):
    """Liveness."""

    status: str
    model_loaded: bool
    uptime_seconds: float
    prediction_log: dict[str, Any] | None = Field(
        default=None, description="Log counters: written, dropped (queue full), failed, queued"
    )
    shadow: dict[str, Any] | None = None


class VarySpec(BaseModel):
    """One input of a what-if sweep and the values to try."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)

    field: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] = Field(
        description="budget_musd, runtime, year, release_date, trailer, director, cast, companies, ..."
    )
    from_: float | str | None = Field(
        default=None,
        alias="from",
        description="First value of a numeric field; for release_date a month YYYY-MM (default: January)",
    )
    to: float | str | None = Field(
        default=None, description="Last value of a numeric field; for release_date a month YYYY-MM"
    )
    steps: int | None = Field(
        default=None, ge=2, le=60, description="Points from `from` to `to` (default 15)"
    )
    values: (
        Annotated[
            list[
                Annotated[str, StringConstraints(max_length=200)] | Annotated[list[str], Field(max_length=50)]
            ],
            Field(min_length=1, max_length=60),
        ]
        | None
    ) = Field(
        default=None,
        description="The alternatives of a categorical field (trailer: with, without; cast: name lists)",
    )


class WhatIfRequest(PredictRequest):
    """A film (as for /predict) and the one or two inputs to vary."""

    vary: Annotated[list[VarySpec], Field(min_length=1, max_length=2)]


class WhatIfPoint(BaseModel):
    """The film predicted at one combination of the varied values."""

    value: Any = Field(description="The first varied field's value at this point")
    values: dict[str, Any] = Field(description="Every varied field's value at this point")
    label: str = Field(
        description="The values as a person reads them, e.g. '$60 M' or '2026-07-03 (Jul · summer)'"
    )
    season: str | None = Field(
        default=None, description="For release dates: month, season and holiday window"
    )
    probabilities: list[float] = Field(description="All eight class probabilities, in class order")
    predicted_class: int
    class_name: str
    expected_class: float = Field(description="The probability-weighted class, 0 .. 7")
    revenue: dict[str, Any] | None = Field(
        default=None, description="Median revenue and its intervals, when the model gives them"
    )


class WhatIfResponse(BaseModel):
    """A what-if curve: the film predicted at every value of the varied inputs."""

    title: str
    field: str = Field(description="The (first) varied field")
    fields: list[str] = Field(description="Every varied field, in the order of the request")
    class_names: list[str]
    points: list[WhatIfPoint]
    warnings: list[str] = Field(default_factory=list)

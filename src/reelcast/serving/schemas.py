"""Request and response models of the HTTP API (what /docs shows); the film metadata lives in metadata.py."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

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

    @field_validator("description", "title", "trailer_url")
    @classmethod
    def _valid_unicode(cls, value: str | None) -> str | None:
        # json.loads turns a "\ud800" escape into a lone surrogate, which no encoder or tokenizer can take.
        if value is not None and has_lone_surrogate(value):
            raise ValueError("contains a lone surrogate (\\ud800-\\udfff): not valid Unicode text")
        return value

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


class Health(BaseModel):
    """Liveness."""

    status: str
    model_loaded: bool
    uptime_seconds: float
    prediction_log: dict[str, Any] | None = Field(
        default=None, description="Log counters: written, dropped (queue full), failed, queued"
    )
    shadow: dict[str, Any] | None = None

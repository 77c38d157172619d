"""The one interface every model component implements, and what it is fit on.

A component turns films into (N, 8) class probabilities. The predictor fits the components a run
asks for on one split, the blend weighs them, the checkpoint stores each one's `state()`, and the
ablation, `/model` and the report read `describe()`: none of them knows a component by its class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from reelcast.config import Config
    from reelcast.data.splits import Split
    from reelcast.features.featurize import FilmInputs
    from reelcast.features.tabular import TabularEncoder


@dataclass
class FitData:
    """Everything a component may learn from on one split: every film's inputs and labels."""

    inputs: FilmInputs  # every film of the table, every modality (tabular and external included)
    y: np.ndarray  # class of every film
    revenue_musd: np.ndarray  # the revenue the classes were cut on, every film
    split: Split  # train / val / test positions
    thresholds: np.ndarray  # the 7 class edges, $M
    config: Config
    feature_names: list[str] = field(default_factory=list)  # names of the tabular features
    device: Any = "cpu"
    progress: bool = False
    text_dim: int | None = None  # width of the text model when it is fine-tuned (no vectors then)
    tabular: TabularEncoder | None = None  # the split's metadata encoder (group dropout, unknown inputs)
    # What the components of one split compute once and share (the tree features, for one).
    shared: dict[str, Any] = field(default_factory=dict)
    # Post-release targets learned as extra outputs, every film, on their learning scale (NaN: unknown).
    aux_targets: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        """The run's seed."""
        return int(self.config.train.seed)


class Component(ABC):
    """A model component: fit on a split, (N, 8) probabilities for any films, plain-data state."""

    name: ClassVar[str] = ""  # registry name, also its name in the blend, checkpoint and reports
    kind: ClassVar[str] = ""  # "network", "trees", "prior", ...: what sort of model it is
    inputs: ClassVar[tuple[str, ...]] = ()  # modalities it reads ("tabular", "text", ...)

    @abstractmethod
    def fit(self, data: FitData) -> Component:
        """Learn from the training films (and, for early stopping, the validation films) of data.split."""

    @abstractmethod
    def predict_proba(self, inputs: FilmInputs) -> np.ndarray:
        """(N, 8) class probabilities for these films, honouring their modality masks."""

    @abstractmethod
    def state(self) -> dict:
        """Plain strings, numbers, lists and tensors: loadable with torch.load(weights_only=True)."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: dict) -> Component:
        """Rebuild a fitted component from `state()`."""

    def describe(self) -> dict[str, Any]:
        """What a person reads about it: name, kind, inputs and its main parameters."""
        return {"name": self.name, "kind": self.kind, "inputs": list(self.inputs), "params": {}}

    def heads(self, inputs: FilmInputs) -> dict[str, np.ndarray]:
        """Every probability output by name (one for most components; the blend weighs each)."""
        return {self.name: self.predict_proba(inputs)}

    def head_names(self) -> list[str]:
        """The names `heads` returns."""
        return [self.name]

    def to(self, device: Any) -> Component:
        """Move to a device (components on the CPU ignore it)."""
        return self

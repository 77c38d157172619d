"""`basics_trees`: the tree classifier and regressor fit on the basic columns alone, for films that have
nothing more.

Group dropout teaches the main components what a film without keywords or companies looks like, but on
TMDB-5000's temporal split a model trained on every column still scored QWK 0.700 on films with only the
basic columns, against 0.733 for a model trained on the basics alone (benchmarks/robustness.py). These
trees are fit with every optional input unknown for every training film, so they are that basics model's
trees. The ensemble weighs them only on its route for films lacking every optional input (route_only),
with weights fit on validation films whose optional inputs are masked; films with more keep the blend.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from reelcast.models.base import Component, FitData
from reelcast.models.registry import component_class, create_component, register_component

if TYPE_CHECKING:
    from reelcast.features.featurize import FilmInputs

PARTS = ("gbm_classifier", "gbm_regressor")


@register_component("basics_trees")
class BasicsTrees(Component):
    """Trees that read only the basic columns: the optional inputs are unknown for every film they see."""

    kind = "trees"
    inputs = ("tabular", "text", "external")
    route_only: ClassVar[bool] = True  # weighed only for films lacking every optional input

    def __init__(self, known_cols: list[int] | None = None, parts: list[Component] | None = None):
        self.known_cols, self.parts = list(known_cols or []), list(parts or [])

    def fit(self, data: FitData) -> BasicsTrees:
        """The tree components on the training films with every optional input made unknown."""
        from reelcast.models.missing import masked

        enc = data.tabular
        if enc is None or not enc.optional_inputs:
            raise ValueError("basics_trees needs metadata with optional inputs (keywords, companies, ...)")
        self.known_cols = [enc.known_columns()[i] for i in enc.optional_inputs]
        cfg = copy.deepcopy(data.config)
        cfg.tabular.group_dropout = 0.0  # every film already lacks them
        basic = dataclasses.replace(
            data, inputs=masked(data.inputs, enc, list(enc.optional_inputs)), config=cfg, shared={}
        )
        self.parts = [create_component(n).fit(basic) for n in PARTS]
        return self

    def _basic(self, inputs: FilmInputs) -> FilmInputs:
        """The films as the parts were fit on them: optional inputs unknown (the trees blank their cells)."""
        X = np.array(inputs.arrays["tabular"], copy=True)
        X[:, self.known_cols] = 0.0
        return dataclasses.replace(inputs, arrays={**inputs.arrays, "tabular": X})

    def heads(self, inputs: FilmInputs) -> dict[str, np.ndarray]:
        """One head per part: `basics_trees:gbm_classifier`, `basics_trees:gbm_regressor`."""
        x = self._basic(inputs)
        return {f"{self.name}:{p.name}": p.predict_proba(x) for p in self.parts}

    def head_names(self) -> list[str]:
        """The names `heads` returns."""
        return [f"{self.name}:{n}" for n in PARTS]

    def predict_proba(self, inputs: FilmInputs) -> np.ndarray:
        """(N, 8): the parts' mean (the ensemble weighs the heads themselves)."""
        heads = list(self.heads(inputs).values())
        return sum(heads) / len(heads)

    def state(self) -> dict:
        """The masked known columns and each part's state."""
        return {
            "known_cols": self.known_cols,
            "parts": [{"name": p.name, "state": p.state()} for p in self.parts],
        }

    @classmethod
    def from_state(cls, state: dict) -> BasicsTrees:
        """Rebuild from `state()`."""
        parts = [component_class(p["name"]).from_state(p["state"]) for p in state["parts"]]
        return cls([int(j) for j in state["known_cols"]], parts)

    def describe(self) -> dict[str, Any]:
        """Its parts' descriptions."""
        out = super().describe()
        out["params"] = {"parts": [p.describe()["params"] for p in self.parts], "route_only": True}
        return out

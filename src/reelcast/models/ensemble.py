"""Blend component probabilities with weights chosen on the validation films only.

Every component (the fusion network, the tree classifier, the tree regressor) gives (N, 8) class
probabilities. The blend is a weighted mean whose weights, on a simplex grid, minimise the validation
films' log-loss (a proper score: it rewards calibrated probabilities rather than lucky argmaxes). The
decision rule that turns probabilities into one class is chosen on the same films: `argmax` (the most
probable class, best for exact accuracy), `median` (the class where the cumulative probability passes
one half: it minimises the expected absolute class error) or `expected` (the probability-weighted mean
class, rounded: it minimises the expected squared class error), by exact accuracy plus quadratic
weighted kappa.

`Ensemble` is one saved model's components (whatever the run names, from the registry) and that blend.
A film lacking every optional input (keywords, companies, ...) takes a *route*: a blend that may also
weigh route-only components (models.basics), fit on the validation films with those inputs masked.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from reelcast.data.classes import NUM_CLASSES
from reelcast.evaluation.metrics import accuracy, qwk
from reelcast.models.base import Component, FitData
from reelcast.models.registry import component_class, create_component

if TYPE_CHECKING:
    from reelcast.features.featurize import FilmInputs

log = logging.getLogger(__name__)

DECISIONS = ("argmax", "median", "expected")


def decide(probs: np.ndarray, rule: str) -> np.ndarray:
    """One class per row from (N, 8) probabilities under a decision rule."""
    if rule == "argmax":
        return probs.argmax(1)
    if rule == "median":
        return np.minimum((np.cumsum(probs, 1) < 0.5).sum(1), probs.shape[1] - 1)
    if rule == "expected":
        k = probs.shape[1]
        return np.clip(np.floor(expected_class(probs) + 0.5), 0, k - 1).astype(np.int64)
    raise ValueError(f"ensemble decision must be one of {', '.join(DECISIONS)} or auto, got {rule!r}")


def expected_class(probs: np.ndarray) -> np.ndarray:
    """The probability-weighted mean class of each row (a float: 0 .. 7)."""
    return probs @ np.arange(probs.shape[1], dtype=np.float64)


def ensemble_wanted(mode: str, has_meta: bool) -> bool:
    """Whether a run blends the trees beside the network (ensemble.enabled: auto, on or off)."""
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"ensemble.enabled must be auto, on or off, got {mode!r}")
    if mode == "on" and not has_meta:
        raise ValueError(
            "ensemble.enabled=on needs pre-release metadata (budget, genres, dates, ...) and this "
            "table has none; use --set ensemble.enabled=off or a table with metadata"
        )
    return mode == "on" or (mode == "auto" and has_meta)


def _log_loss(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None))))


def simplex_grid(k: int, step: float) -> np.ndarray:
    """All weight vectors of k non-negative multiples of `step` summing to 1."""
    n = round(1 / step)
    rows = [c for c in itertools.product(range(n + 1), repeat=k) if sum(c) == n]
    return np.asarray(rows, dtype=np.float64) / n


@dataclass
class Blend:
    """Fixed weights per component and a decision rule."""

    components: list[str]
    weights: list[float]
    decision: str = "argmax"
    val_scores: dict = field(default_factory=dict)

    def combine(self, probs: dict[str, np.ndarray]) -> np.ndarray:
        """Weighted mean of the components' probabilities."""
        out = sum(w * probs[c] for c, w in zip(self.components, self.weights, strict=True) if w > 0)
        return out / out.sum(1, keepdims=True)

    def predict(self, probs: dict[str, np.ndarray]) -> np.ndarray:
        """Blended probabilities -> classes."""
        return decide(self.combine(probs), self.decision)

    def to_dict(self) -> dict:
        """For the checkpoint."""
        return {
            "components": self.components,
            "weights": self.weights,
            "decision": self.decision,
            "val_scores": self.val_scores,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Blend:
        """Rebuild from a checkpoint."""
        return cls(
            list(d["components"]), [float(w) for w in d["weights"]], d["decision"], d.get("val_scores", {})
        )


def fit_blend(val_probs: dict[str, np.ndarray], y_val: np.ndarray, step: float, decision: str) -> Blend:
    """Weights minimising validation log-loss, then the decision rule (or the one asked for)."""
    names = list(val_probs)
    stack = np.stack([val_probs[n] for n in names])  # (K, N, 8)
    best_w, best_loss = None, np.inf
    for w in simplex_grid(len(names), step):
        loss = _log_loss(np.tensordot(w, stack, axes=1), y_val)
        if loss < best_loss - 1e-12:
            best_w, best_loss = w, loss
    blend = Blend(names, [float(x) for x in best_w])
    p = blend.combine(val_probs)
    scores = {}
    for rule in DECISIONS:
        pred = decide(p, rule)
        scores[rule] = {"accuracy": accuracy(y_val, pred), "qwk": qwk(y_val, pred)}
    if decision == "auto":
        blend.decision = max(DECISIONS, key=lambda r: scores[r]["accuracy"] + scores[r]["qwk"])
    else:
        decide(p[:1], decision)  # validates the name
        blend.decision = decision
    single = {n: _log_loss(val_probs[n], y_val) for n in names}
    blend.val_scores = {"log_loss": best_loss, "component_log_loss": single, "decision": scores}
    log.info(
        "ensemble weights on %d validation films: %s; decision %s",
        len(y_val),
        ", ".join(f"{n} {w:.2f}" for n, w in zip(names, blend.weights, strict=True)),
        blend.decision,
    )
    return blend


@dataclass
class Route:
    """The blend for films whose known columns `known_cols` are all 0 (they lack `unknown`)."""

    unknown: list[str]
    known_cols: list[int]
    blend: Blend

    def takes(self, inputs: FilmInputs) -> np.ndarray:
        """Which films lack every one of the route's inputs."""
        X = inputs.arrays.get("tabular")
        if X is None or not self.known_cols:
            return np.zeros(len(inputs), dtype=bool)
        return (X[:, self.known_cols] == 0).all(1)

    def to_dict(self) -> dict:
        """For the checkpoint."""
        return {"unknown": self.unknown, "known_cols": self.known_cols, "blend": self.blend.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> Route:
        """Rebuild from a checkpoint."""
        return cls(list(d["unknown"]), [int(j) for j in d["known_cols"]], Blend.from_dict(d["blend"]))


def _route_only(c: Component) -> bool:
    return bool(getattr(c, "route_only", False))


class Ensemble:
    """The components of one model, in order, the blend over their heads (None: the first alone), and
    the routes for films lacking inputs."""

    def __init__(
        self, components: list[Component], blend: Blend | None = None, routes: list[Route] | None = None
    ):
        self.components = {c.name: c for c in components}
        self.blend = blend
        self.routes = list(routes or [])

    @classmethod
    def fit(cls, data: FitData, components: list[Component], blended: list[str] | None) -> Ensemble:
        """Fit every component on data's split; with `blended`, weigh those components' heads on its
        validation films (their decision rule too). The first component alone decides without a blend.
        With tabular.basics_route, trees on the basic columns alone join for the films lacking every
        optional input (`Route`)."""
        enc = data.tabular
        if (
            blended is not None
            and data.config.tabular.basics_route
            and enc is not None
            and enc.optional_inputs
        ):
            extra = create_component("basics_trees")
            components, blended = [*components, extra], [*blended, extra.name]
        for c in components:
            c.fit(data)
        self = cls(components)
        if blended is None:
            return self
        val = data.split.val
        heads = {}
        for name in blended:
            if not _route_only(self.components[name]):
                heads.update(self.components[name].heads(data.inputs.subset(val)))
        cfg = data.config.ensemble
        if len(val):
            self.blend = fit_blend(heads, data.y[val], cfg.weight_step, cfg.decision)
        else:  # nothing to choose on: equal weights, most probable class
            names = list(heads)
            rule = "argmax" if cfg.decision == "auto" else cfg.decision
            self.blend = Blend(names, [1.0 / len(names)] * len(names), rule)
        if len(val) and any(_route_only(self.components[n]) for n in blended):
            self.routes.append(self._fit_route(data, blended, list(enc.optional_inputs)))
        return self

    def _fit_route(self, data: FitData, blended: list[str], unknown: list[str]) -> Route:
        """Weights for films lacking `unknown`, fit on the validation films with them masked; the decision
        rule stays the blend's (one rule per model)."""
        val = data.inputs.subset(data.split.val)
        X = data.tabular.mask_inputs(val.arrays["tabular"], np.arange(len(val)), unknown, fill=True)
        films = dataclasses.replace(val, arrays={**val.arrays, "tabular": X})
        heads: dict[str, np.ndarray] = {}
        for name in blended:
            heads.update(self.components[name].heads(films))
        cfg = data.config.ensemble
        blend = fit_blend(heads, data.y[data.split.val], cfg.weight_step, self.blend.decision)
        known = data.tabular.known_columns()
        return Route(unknown, [known[i] for i in unknown], blend)

    @property
    def first(self) -> Component:
        """The base component (the fusion network): the model when there is no blend."""
        return next(iter(self.components.values()))

    def heads(self, inputs: FilmInputs) -> dict[str, np.ndarray]:
        """(N, 8) probabilities of every head of every component, by name."""
        out: dict[str, np.ndarray] = {}
        for c in self.components.values():
            out.update(c.heads(inputs))
        return out

    def proba(self, inputs: FilmInputs) -> np.ndarray:
        """Final (N, 8) probabilities: the blend, or the first component's."""
        if self.blend is None:
            return self.first.predict_proba(inputs)
        # Each film runs through one blend only: its route's, else the model's (a later route wins).
        rest = np.ones(len(inputs), dtype=bool)
        routed: list[tuple[np.ndarray, np.ndarray]] = []
        for route in reversed(self.routes):
            rows = np.flatnonzero(route.takes(inputs) & rest)
            if len(rows):
                routed.append((rows, self._combine(route.blend, inputs.subset(rows))))
                rest[rows] = False
        if not routed:
            return self._combine(self.blend, inputs)
        out = np.empty((len(inputs), NUM_CLASSES))
        if rest.any():
            rows = np.flatnonzero(rest)
            out[rows] = self._combine(self.blend, inputs.subset(rows))
        for rows, probs in routed:
            out[rows] = probs
        return out

    def _combine(self, blend: Blend, inputs: FilmInputs) -> np.ndarray:
        # Only components with a weighted head run: a zero weight leaves the blend as it is.
        weighted = {c for c, w in zip(blend.components, blend.weights, strict=True) if w > 0}
        heads: dict[str, np.ndarray] = {}
        for c in self.components.values():
            if set(c.head_names()) & weighted:
                heads.update(c.heads(inputs))
        return blend.combine(heads)

    @property
    def decision(self) -> str:
        """The rule that picks one class from the final probabilities."""
        return self.blend.decision if self.blend is not None else "argmax"

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Predicted classes under the decision rule."""
        return decide(probs, self.decision)

    def weights(self) -> dict[str, float]:
        """Blend weight of each head (the first component's head weighs 1 without a blend)."""
        if self.blend is None:
            return {self.first.head_names()[0]: 1.0}
        return dict(zip(self.blend.components, self.blend.weights, strict=True))

    def describe(self) -> list[dict[str, Any]]:
        """Each component's description with the blend weight of each of its heads."""
        w = self.weights()
        return [
            {**c.describe(), "weights": {h: w.get(h, 0.0) for h in c.head_names()}}
            for c in self.components.values()
        ]

    def state(self) -> dict:
        """Each component's own state by name, in order, and the blend."""
        return {
            "components": [{"name": n, "state": c.state()} for n, c in self.components.items()],
            "blend": self.blend.to_dict() if self.blend is not None else None,
            "routes": [r.to_dict() for r in self.routes],
        }

    @classmethod
    def from_state(cls, state: dict) -> Ensemble:
        """Rebuild every component through the registry."""
        comps = [component_class(c["name"]).from_state(c["state"]) for c in state["components"]]
        blend = Blend.from_dict(state["blend"]) if state.get("blend") else None
        return cls(comps, blend, [Route.from_dict(r) for r in state.get("routes") or []])

    def to_dict(self) -> dict:
        """The plain-data part (blend, tree boosters, ...): what identifies the model beside its tensors."""
        plain = {n: s["state"] for n, s in zip(self.components, self.state()["components"], strict=True)}
        return {
            "blend": self.blend.to_dict() if self.blend is not None else None,
            "routes": [r.to_dict() for r in self.routes],
            "components": {n: s for n, s in plain.items() if _plain(s)},
        }


def _plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_plain(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, str | int | float | bool)

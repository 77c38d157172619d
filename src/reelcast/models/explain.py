"""Why a model predicts what it does for one film: effects of the inputs a person recognises.

Every effect is a signed shift of the expected class (the probability-weighted mean class, 0 .. 7),
the one unit the components share:

- tree components: exact TreeSHAP (LightGBM `pred_contrib`) over their features, summed per input
  (every feature of the budget, of the release date, ...). SHAP values add up on the boosters' raw
  scale (log revenue, or the classifier's per-class scores); they are carried to the expected class
  along the straight path from the trees' base value to the film's score, with the gradient averaged
  over that path, so the effects of one component still add up to its shift of the expected class.
- the fusion network: masking, as `modality_contributions` does for the final probability: the plot
  and the trailer are masked as modalities, each metadata input by giving the network the encoding of
  a film without it (zeros and its missing flag).

Each head's effects are weighed by its blend weight, as its probabilities are.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from reelcast.models.gbm import gaussian_class_probs

if TYPE_CHECKING:
    from reelcast.features.featurize import FilmInputs
    from reelcast.features.tabular import TabularEncoder
    from reelcast.models.ensemble import Ensemble

# The metadata columns and groups of features.tabular, by the input a person gave.
INPUT_OF_COLUMN = {
    "budget_musd": "budget",
    "budget_real": "budget",
    "budget_flags": "budget",
    "year": "release",
    "release_month": "release",
    "calendar": "release",
    "runtime": "runtime",
    "genres": "genres",
    "keywords": "keywords",
    "companies": "companies",
    "countries": "countries",
    "language": "language",
    "franchise": "franchise",
    "people": "people",
}
INPUT_OF_MODALITY = {"text": "plot", "video": "trailer", "audio": "trailer", "external": "external"}
PATH_STEPS = 64  # midpoints on the path from the base value to the film's score


CONTRIBUTION_CHUNK = 256  # films per masked pass of `modality_contributions`


def modality_contributions(ensemble: Ensemble, inputs: FilmInputs, probs: np.ndarray) -> np.ndarray:
    """Per film and modality: the drop in the predicted class's probability when it is masked."""
    pred = ensemble.decide(probs)
    out = np.zeros((len(inputs), len(inputs.modalities)), dtype=np.float64)
    # One pass of the blend over every (film, modality it has) pair with that modality masked, in chunks
    # of films (the copies hold trailer arrays): rows are scored independently, and one call per booster
    # costs far less than one per modality when a request is one film.
    for start in range(0, len(inputs), CONTRIBUTION_CHUNK):
        rows = np.arange(start, min(start + CONTRIBUTION_CHUNK, len(inputs)))
        film, modality = np.nonzero(inputs.mask[rows])  # e.g. no trailer: nothing to take away there
        if film.size == 0:
            continue
        film = rows[film]
        masked = inputs.subset(film)
        masked.mask[np.arange(film.size), modality] = False  # subset's mask is a copy
        p = ensemble.proba(masked)
        out[film, modality] = probs[film, pred[film]] - p[np.arange(film.size), pred[film]]
    return out


def _masked(inputs: FilmInputs, columns: list[int]) -> FilmInputs:
    out = copy.copy(inputs)
    out.mask = inputs.mask.copy()
    out.mask[:, columns] = False
    return out


def expected_class(probs: np.ndarray) -> np.ndarray:
    """Probability-weighted mean class per row."""
    return probs @ np.arange(probs.shape[-1], dtype=np.float64)


def input_of_feature(names: list[str], tabular: TabularEncoder | None) -> list[str]:
    """The input each tree feature comes from: metadata by its column's block, the text stack, external."""
    out = ["" for _ in names]
    if tabular is not None:
        for column, idx in tabular.blocks().items():
            for i in idx:
                out[i] = INPUT_OF_COLUMN.get(column, column.removeprefix("src:"))
    for i, n in enumerate(names):
        if n.startswith("text:"):
            out[i] = "plot"
        elif n.startswith("external:"):
            out[i] = "external"
        elif not out[i]:
            out[i] = n
    return out


# ---- tree components: TreeSHAP on the raw scale, carried to the expected class -----------------------
def _path_gradient_softmax(z0: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Mean over the path z0 -> z of d E[class] / d z for softmax scores: (N, K)."""
    t = (np.arange(PATH_STEPS) + 0.5) / PATH_STEPS
    zt = z0[None] + t[:, None, None] * (z - z0)[None]  # (T, N, K)
    p = np.exp(zt - zt.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    k = np.arange(z.shape[-1], dtype=np.float64)
    e = (p * k).sum(-1, keepdims=True)
    return (p * (k - e)).mean(0)


def classifier_effects(component: Any, X: np.ndarray) -> np.ndarray:
    """(N, F) shift of the expected class per feature for `gbm_classifier`; the rows sum to the shift of
    its expected class from the trees' base value to the film's probabilities."""
    contrib = component.model.contributions(X)  # (S, N, K, F + 1)
    effects = []
    for c in contrib:
        phi, bias = c[..., :-1], c[..., -1]
        grad = _path_gradient_softmax(bias, phi.sum(-1) + bias)  # (N, K)
        effects.append(np.einsum("nkf,nk->nf", phi, grad))
    return np.mean(effects, axis=0)


def regressor_effects(component: Any, X: np.ndarray) -> np.ndarray:
    """(N, F) shift of the expected class per feature for `gbm_regressor` (the secant of E over the
    log-revenue path from the base value to the prediction)."""
    contrib = component.model.contributions(X)  # (N, F + 1)
    phi, base = contrib[:, :-1], contrib[:, -1]
    mu = phi.sum(1) + base

    def e(m):
        return expected_class(gaussian_class_probs(m, component.model.sigma, component.thresholds))

    step = mu - base
    tiny = np.abs(step) < 1e-9
    h = 1e-4
    slope = np.where(tiny, (e(mu + h) - e(mu - h)) / (2 * h), (e(mu) - e(base)) / np.where(tiny, 1, step))
    return phi * slope[:, None]


def tree_effects(component: Any, inputs: FilmInputs, tabular: TabularEncoder | None) -> dict[str, np.ndarray]:
    """Per input, (N,) shift of the component's expected class."""
    X = component.features.transform(inputs)
    fn = classifier_effects if component.name == "gbm_classifier" else regressor_effects
    per_feature = fn(component, X)
    groups = input_of_feature(component.features.feature_names, tabular)
    out: dict[str, np.ndarray] = {}
    for j, g in enumerate(groups):
        out[g] = out.get(g, 0.0) + per_feature[:, j]
    return out


# ---- the network: masking --------------------------------------------------------------------------
def _without_column(inputs: FilmInputs, idx: np.ndarray, genres: bool) -> FilmInputs:
    out = copy.copy(inputs)
    tab = inputs.arrays["tabular"].copy()
    tab[:, idx] = 0.0
    if not genres:  # every other group ends with its missing flag
        tab[:, idx[-1]] = 1.0
    out.arrays = {**inputs.arrays, "tabular": tab}
    return out


def network_effects(
    component: Any, inputs: FilmInputs, tabular: TabularEncoder | None
) -> dict[str, dict[str, np.ndarray]]:
    """Per head of the network and input: (N,) drop of the head's expected class when the input is
    taken away (the plot, the trailer, each metadata input)."""
    variants: dict[str, FilmInputs] = {}
    mods = inputs.modalities
    for m in component.inputs:
        if m in INPUT_OF_MODALITY and m in mods:
            name = INPUT_OF_MODALITY[m]
            cols = [mods.index(x) for x in mods if INPUT_OF_MODALITY.get(x) == name]
            variants[name] = _masked(inputs, cols)
    if "tabular" in component.inputs and "tabular" in mods and tabular is not None:
        by_input: dict[str, list[tuple[np.ndarray, bool]]] = {}
        for column, idx in tabular.blocks().items():
            by_input.setdefault(INPUT_OF_COLUMN.get(column, column), []).append((idx, column == "genres"))
        for name, blocks in by_input.items():
            v = inputs
            for idx, genres in blocks:
                v = _without_column(v, idx, genres)
            variants[name] = v
    # The films and every variant in one pass of the network (TMDB's 13 inputs: 14 passes took 7 ms of a
    # 23 ms film with reasons).
    n = len(inputs)
    heads = component.heads(type(inputs).stack([inputs, *variants.values()]))
    out: dict[str, dict[str, np.ndarray]] = {h: {} for h in heads}
    for h, p in heads.items():
        e = expected_class(p)
        for i, name in enumerate(variants, start=1):
            out[h][name] = e[:n] - e[i * n : (i + 1) * n]
    return out


# ---- one film --------------------------------------------------------------------------------------
def input_effects(
    ensemble: Ensemble, inputs: FilmInputs, tabular: TabularEncoder | None
) -> dict[str, np.ndarray]:
    """Per input, (N,) blended shift of the expected class: each head's effects times its blend weight."""
    weights = ensemble.weights()
    total: dict[str, np.ndarray] = {}
    for c in ensemble.components.values():
        if not any(weights.get(h, 0.0) > 0 for h in c.head_names()):
            continue
        if c.kind == "trees":
            per_head = {c.name: tree_effects(c, inputs, tabular)}
        elif c.kind == "network":
            per_head = network_effects(c, inputs, tabular)
        else:
            continue  # a component without a way to explain it adds no reasons
        for h, effects in per_head.items():
            for name, e in effects.items():
                total[name] = total.get(name, 0.0) + weights.get(h, 0.0) * e
    return total


def _value(name: str, film: pd.Series, inputs: FilmInputs) -> str:
    def get(col):
        v = film.get(col) if col in film else None
        if isinstance(v, list | tuple | np.ndarray):
            return list(v) or None
        if v is None or pd.isna(v) or (isinstance(v, float) and not np.isfinite(v)):  # NaN, NaT, None
            return None
        if isinstance(v, pd.Timestamp):
            return v.date().isoformat()
        return str(v).strip() or None

    def listed(values, k=3):
        return ", ".join(values[:k]) + (f" +{len(values) - k}" if len(values) > k else "")

    if name == "budget":
        b = get("budget_musd")
        return f"${float(b):,.0f} M" if b is not None else "not given"
    if name == "release":
        return get("release_date") or get("year") or "not given"
    if name == "runtime":
        r = get("runtime")
        return f"{float(r):.0f} min" if r is not None else "not given"
    if name in ("genres", "keywords", "companies", "countries", "cast"):
        v = get(name)
        return listed(v) if v else "none given"
    if name == "people":
        d, cast = get("director"), get("cast") or []
        parts = ([f"director {d}"] if d else []) + ([f"cast {listed(cast, 2)}"] if cast else [])
        return "; ".join(parts) or "not given"
    if name == "franchise":
        return get("collection") or ("keywords/title" if get("keywords") else "none")
    if name == "language":
        return get("language") or "not given"
    if name in ("plot", "trailer", "external"):
        mods = [m for m, x in INPUT_OF_MODALITY.items() if x == name and m in inputs.modalities]
        on = any(inputs.mask[0, inputs.modalities.index(m)] for m in mods)
        return "given" if on else "missing"
    v = get(name)
    return v if v is not None else "not given"


def film_reasons(
    ensemble: Ensemble, inputs: FilmInputs, tabular: TabularEncoder | None, film: pd.Series, top: int = 0
) -> list[dict[str, Any]]:
    """The first film's reasons, largest |effect| first: input, value, effect_classes, text."""
    effects = input_effects(ensemble, inputs.subset(np.array([0])), tabular)
    rows = []
    for name, e in effects.items():
        value = _value(name, film, inputs)
        effect = float(np.asarray(e)[0])
        if effect == 0.0:  # an input no component reads (or that none of its trees split on)
            continue
        rows.append(
            {
                "input": name,
                "value": value,
                "effect_classes": effect,
                "text": f"{name} {value}: {effect:+.2f} classes",
            }
        )
    rows.sort(key=lambda r: -abs(r["effect_classes"]))
    return rows[:top] if top else rows
